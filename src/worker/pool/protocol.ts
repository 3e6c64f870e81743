/**
 * The frames a pool's parent and its children exchange. Every frame is encoded with the project's
 * codec, so arguments, results and errors cross a child's boundary exactly as they cross the wire
 * (Dates, BigInt, Map, Set and Uint8Array survive; what the wire refuses, this refuses too).
 */
import { pack, unpack } from "../../protocol/codec.ts";
import type { TaskMessage } from "../../protocol/message.ts";
import type { LogLevelName } from "../../log.ts";
import { CeleriacError, describeError, ErrorCode, hasCode, type RemoteError } from "../../errors.ts";

/** An error as it crosses: its description, plus its code when it is one of ours. */
export interface WireError extends RemoteError {
  code?: string;
}

/** The app overrides a child applies, so it names subjects and routes tasks as its parent does. */
export interface ChildConfig {
  brokerUrl: string;
  resultBackend: string;
  name: string;
}

/** Parent → child. */
export type ToChild =
  | { t: "init"; appModule: string; config: ChildConfig; level: LogLevelName; processName: string; hostname: string }
  | { t: "run"; call: number; queue: string; deliveryCount: number; message: TaskMessage }
  | { t: "abort"; call: number; reason: WireError }
  | { t: "reply"; req: number; error: WireError | null }
  | { t: "exit" };

/** How a handler ended, in a child. */
export type ChildResult =
  | { kind: "success"; value: unknown; runtimeMs: number }
  | { kind: "failure"; error: WireError; runtimeMs: number }
  | {
    kind: "retry";
    countdown: number | null;
    eta: number | null;
    maxRetries: number | null | undefined;
    exc: WireError | null;
    runtimeMs: number;
  }
  | { kind: "reject"; reason: string; requeue: boolean };

/** Child → parent. */
export type FromChild =
  | { t: "ready"; tasks: string[] }
  | { t: "fatal"; error: WireError }
  | { t: "done"; call: number; result: ChildResult; children: string[] | null; memoryKiB: number }
  | { t: "publish"; req: number; call: number; message: TaskMessage; msgId: string | null }
  | { t: "state"; req: number; call: number; state: string; meta: unknown };

/** Encodes a frame. */
export function encodeFrame(frame: ToChild | FromChild): Uint8Array {
  return pack(frame);
}

/** Decodes a frame (from our own child or parent: its shape is trusted). */
export function decodeFrame<F extends ToChild | FromChild>(bytes: Uint8Array): F {
  return unpack(bytes) as F;
}

/** Describes an error for the other side. */
export function toWire(err: unknown): WireError {
  const d: WireError = describeError(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") d.code = code;
  return d;
}

/** Rebuilds an error from its description: same name, message, stack and code (matched by name, never instanceof). */
export function fromWire(w: WireError): Error {
  const err = w.code !== undefined && Object.values(ErrorCode).includes(w.code as ErrorCode)
    ? new CeleriacError(w.code as ErrorCode, w.message)
    : new Error(w.message);
  err.name = w.type;
  err.stack = w.traceback ?? `${w.type}: ${w.message}`;
  if (w.code !== undefined && !hasCode(err, w.code as ErrorCode)) (err as { code?: string }).code = w.code;
  return err;
}
