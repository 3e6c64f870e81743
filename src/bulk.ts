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
 * Publishes awaiting their acknowledgement at once, at most. The messages are built already, so
 * this bounds only the publisher's bookkeeping; a small window would cap throughput at window ÷ ack
 * latency when the server is busy.
 */
export const BULK_WINDOW = 10_000;

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
 * Publishes `messages` in order without waiting for each acknowledgement before the next publish;
 * at most `window` wait at once. Resolves when all are stored; rejects with the first failure
 * (messages before it are stored; those after may be: sending the same task ids again is safe,
 * the broker drops duplicates).
 */
export async function publishInOrder(
  messages: readonly TaskMessage[],
  publish: (m: TaskMessage) => Promise<void>,
  window = BULK_WINDOW,
): Promise<void> {
  const pending: Promise<void>[] = [];
  let failed: unknown = null;
  const note = (p: Promise<void>) => p.catch((err) => (failed ??= err));
  for (const m of messages) {
    if (failed !== null) break;
    if (pending.length >= window) await pending.shift();
    pending.push(note(publish(m)) as Promise<void>);
  }
  await Promise.all(pending);
  if (failed !== null) throw failed;
}
