/**
 * Operating on dead letters: list them, replay them to their queue, purge them.
 * A replay publishes the original message (without the dead-letter headers) under a new message
 * id — the original's may still be in the duplicate window — and then removes the dead letter.
 *
 * A signature covers `Nats-Msg-Id` (security/signing.ts), so a signed message replayed under a new
 * id no longer verifies as it stands: the replay checks the original signature (with the original
 * id the dead letter kept) and, only if it holds, signs the replayed message with the app's key.
 * A dead letter whose signature does not verify is never re-signed: that would vouch for a forgery.
 */
import type { Broker, DeadLetter } from "./broker/types.ts";
import { DLQ_HEADERS, Header } from "./protocol/message.ts";
import type { MessageSigning } from "./security/load.ts";
import { ConfigError, InvalidArgumentError } from "./errors.ts";

const ADDED_BY_DLQ = new Set<string>(DLQ_HEADERS);

/** Options of {@link replay}. */
export interface ReplayOptions {
  /** Drops the task's stored outcome before the replay (a worker skips a task whose result is ready). */
  forget?: (taskId: string) => Promise<void>;
  /** The app's signing keys (`app.signing()`): needed to replay a signed dead letter. @default null */
  signing?: MessageSigning | null;
}

/** A dead letter as operators see it. */
export interface DeadLetterView {
  seq: number;
  queue: string;
  taskId: string | null;
  task: string | null;
  reason: string;
  deliveries: number | null;
  worker: string | null;
  time: Date;
  bytes: number;
}

/** Describes a stored dead letter. */
export function viewOf(d: DeadLetter): DeadLetterView {
  const n = Number(d.headers[Header.DLQ_DELIVERIES]);
  return {
    seq: d.seq,
    queue: d.headers[Header.DLQ_QUEUE] ?? d.queue,
    taskId: d.headers[Header.ID] ?? null,
    task: d.headers[Header.TASK] ?? null,
    reason: d.reason,
    deliveries: Number.isFinite(n) ? n : null,
    worker: d.headers[Header.DLQ_WORKER] ?? null,
    time: d.time,
    bytes: d.body.length,
  };
}

/** Finds dead letters by stream sequence or task id. */
export function matches(d: DeadLetter, ref: string): boolean {
  return String(d.seq) === ref || d.headers[Header.ID] === ref;
}

/**
 * Puts a dead letter back on its queue and removes it from the dead-letter stream. `forget` drops
 * the task's stored outcome first (REJECTED, FAILURE): a replayed task is meant to run again, and a
 * worker skips a redelivered task whose result is ready. A signed dead letter is re-signed (see
 * above); without a signer, or if its signature does not verify, the replay is refused and the
 * dead letter stays.
 */
export async function replay(
  broker: Broker,
  d: DeadLetter,
  opts: ReplayOptions = {},
): Promise<{ queue: string; msgId: string }> {
  const queue = d.headers[Header.DLQ_QUEUE] ?? d.queue;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.headers)) if (!ADDED_BY_DLQ.has(k) && !k.startsWith("Nats-")) headers[k] = v;
  const msgId = `${d.headers[Header.ID] ?? "dlq"}:replay:${d.seq}`;
  if (headers[Header.SIG] !== undefined) resign(d, headers, msgId, opts.signing ?? null);
  const id = d.headers[Header.ID];
  if (id && opts.forget) await opts.forget(id);
  await broker.publish(queue, { headers, body: d.body }, msgId);
  await broker.deleteDeadLetter(d.seq);
  return { queue, msgId };
}

/** Checks a signed dead letter as it was first published, then signs `headers` for the new id. */
function resign(d: DeadLetter, headers: Record<string, string>, msgId: string, signing: MessageSigning | null): void {
  if (!signing?.signer) {
    throw new ConfigError(
      "signing",
      `dead letter ${d.seq} is signed; replaying it under a new message id needs this app's signing key to re-sign it`,
    );
  }
  const original = { ...headers };
  const originalId = d.headers[Header.DLQ_MSG_ID];
  if (originalId !== undefined) original[Header.MSG_ID] = originalId;
  const verdict = signing.verifier.check(original, d.body);
  if (verdict.kind !== "verified") {
    const why = verdict.kind === "unsigned" ? "no signature" : verdict.reason;
    throw new InvalidArgumentError(
      "deadLetter",
      `dead letter ${d.seq}: its signature does not verify with this app's keys (${why}` +
        `${originalId === undefined ? "; its original message id was not kept" : ""}); not re-signing it`,
    );
  }
  delete headers[Header.SIG];
  // The broker sends `msgId` as Nats-Msg-Id; the signature covers the header as it will travel.
  headers[Header.MSG_ID] = msgId;
  signing.signer.sign({ headers, body: d.body });
}
