/**
 * Operating on dead letters: list them, replay them to their queue, purge them.
 * A replay publishes the original message (without the dead-letter headers) under a new message
 * id — the original's may still be in the duplicate window — and then removes the dead letter.
 */
import type { Broker, DeadLetter } from "./broker/types.ts";
import { Header } from "./protocol/message.ts";

const DLQ_HEADERS = new Set<string>([
  Header.DLQ_REASON,
  Header.DLQ_QUEUE,
  Header.DLQ_DELIVERIES,
  Header.DLQ_WORKER,
  Header.DLQ_TIME,
]);

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
 * worker skips a redelivered task whose result is ready.
 */
export async function replay(
  broker: Broker,
  d: DeadLetter,
  forget?: (taskId: string) => Promise<void>,
): Promise<{ queue: string; msgId: string }> {
  const queue = d.headers[Header.DLQ_QUEUE] ?? d.queue;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.headers)) if (!DLQ_HEADERS.has(k) && !k.startsWith("Nats-")) headers[k] = v;
  const msgId = `${d.headers[Header.ID] ?? "dlq"}:replay:${d.seq}`;
  const id = d.headers[Header.ID];
  if (id && forget) await forget(id);
  await broker.publish(queue, { headers, body: d.body }, msgId);
  await broker.deleteDeadLetter(d.seq);
  return { queue, msgId };
}
