/**
 * Bulk enqueue (`app.sendMany`, `task.delayMany`; BullMQ's `addBulk`): every message is built and
 * checked before the first is published, so a bad call sends nothing; then they are published
 * back to back, in order, with their acknowledgements awaited together (a window of them at a time)
 * rather than one round trip each.
 */
import type { ApplyOptions } from "./producer.ts";
import type { TaskMessage } from "./protocol/message.ts";
import { InvalidArgumentError } from "./errors.ts";
import type { ResultBackend } from "./backend/types.ts";

/** One call of `app.sendMany`. */
export interface BulkCall {
  /** The task's name, or the task itself. */
  task: string | { readonly name: string };
  /** Positional arguments. @default [] */
  args?: unknown[];
  /** Keyword arguments (the same as `options.kwargs`). */
  kwargs?: Record<string, unknown>;
  /** The options of `applyAsync`. */
  options?: ApplyOptions;
}

/**
 * Publishes awaiting their acknowledgement at once, at most. Measured on a busy 2-core machine:
 * 10,000 at once was slower than 1,000 (the burst queues up in the server and the acks come late).
 */
export const BULK_WINDOW = 1_000;

/**
 * Claims the deduplication ids of the calls that have one, in call order (so a repeat within the
 * same batch finds the first). Where another task holds the id, `ids[i]` becomes that task's id
 * and the call's message is not to be sent. Returns the claims made, to release if sending fails.
 */
export async function claimDeduplication(
  calls: readonly BulkCall[],
  messages: readonly TaskMessage[],
  backend: () => Promise<ResultBackend>,
  ids: string[],
): Promise<{ id: string; taskId: string }[]> {
  const claims: { id: string; taskId: string }[] = [];
  for (let i = 0; i < calls.length; i++) {
    const d = calls[i]!.options?.deduplication;
    if (!d) continue;
    const holder = await (await backend()).dedupClaim(d.id, messages[i]!.id, d.ttl * 1000);
    if (holder === null) claims.push({ id: d.id, taskId: messages[i]!.id });
    else ids[i] = holder;
  }
  return claims;
}

/** Builds every call's message, naming the call (`calls[3].priority`) when one is invalid. */
export function buildAll(
  calls: readonly BulkCall[],
  build: (name: string, args: unknown[], options: ApplyOptions) => TaskMessage,
): TaskMessage[] {
  if (!Array.isArray(calls)) throw new InvalidArgumentError("calls", "must be an array of { task, args, kwargs, options }");
  return calls.map((c, i) => {
    const at = `calls[${i}]`;
    if (typeof c !== "object" || c === null) throw new InvalidArgumentError(at, "must be { task, args, kwargs, options }");
    const name = typeof c.task === "string" ? c.task : c.task?.name;
    if (typeof name !== "string" || name === "") throw new InvalidArgumentError(`${at}.task`, "must be a task or a task name");
    const options = c.kwargs === undefined ? c.options ?? {} : { ...c.options, kwargs: c.kwargs };
    try {
      return build(name, c.args ?? [], options);
    } catch (err) {
      if (err instanceof InvalidArgumentError) {
        throw new InvalidArgumentError(`${at}.${err.argument}`, err.message.slice(err.argument.length + 2));
      }
      throw err;
    }
  });
}

/**
 * Publishes `messages` in order without waiting for each acknowledgement before the next publish:
 * at most `window` wait at once, and each one acknowledged lets the next go (a sliding window, so
 * one slow acknowledgement does not idle the others). Resolves when all are stored; on a failure,
 * stops sending, lets those in flight settle, then rejects with the first failure (messages before
 * it are stored; sending the same task ids again is safe, the broker drops duplicates).
 */
export function publishInOrder(
  messages: readonly TaskMessage[],
  publish: (m: TaskMessage) => Promise<void>,
  window = BULK_WINDOW,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let settled = 0;
    let failure: { err: unknown } | null = null;
    const finish = () => {
      if (failure) reject(failure.err);
      else resolve();
    };
    const launch = () => {
      while (!failure && next < messages.length && next - settled < window) {
        publish(messages[next++]!).then(() => {
          settled++;
          if (settled === next && (failure || next === messages.length)) finish();
          else launch();
        }, (err) => {
          settled++;
          failure ??= { err };
          if (settled === next) finish();
        });
      }
    };
    if (messages.length === 0) resolve();
    else launch();
  });
}
