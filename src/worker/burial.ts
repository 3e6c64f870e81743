/**
 * What settle needs to dead-letter a message, whether a worker holds its delivery or JetStream gave
 * up delivering it (maxDeliver), and the headers its dead letter carries.
 */
import { Header, type TaskMessage } from "../protocol/message.ts";

/**
 * A message on its way to the DLQ: a live delivery (rejected, or unsettleable) or one JetStream
 * stopped delivering (exhausted). What differs between them is how a step is retried and how the
 * message leaves its queue.
 */
export interface Burial {
  queue: string;
  seq: number;
  deliveries: number;
  headers: Record<string, string>;
  body: Uint8Array;
  /** The decoded message, when it could be decoded. */
  message: TaskMessage | null;
  /** Recorded under its id: REJECTED, or FAILURE. */
  status: string;
  /** The error type the record (and the follow-ups) carry. */
  type: string;
  /** Whether what depends on it (errbacks, its chain, its chord) is failed too. */
  followUps: boolean;
  /** Runs one step (the dead letter, the follow-ups), retrying it as its kind of burial can. */
  durably<T>(what: string, op: () => Promise<T>): Promise<T>;
  /** Takes it off its queue, once it is dead-lettered. */
  remove(): void | Promise<void>;
}

/** The dead letter's headers: the original's, minus its publish's, plus where and why it died. */
export function deadLetterHeaders(
  original: Record<string, string>,
  queue: string,
  deliveries: number,
  hostname: string,
): Record<string, string> {
  const headers: Record<string, string> = {};
  // Nats-* headers belong to the original publish (its dedup id would collide with the DLQ's).
  for (const [k, v] of Object.entries(original)) if (!k.startsWith("Nats-")) headers[k] = v;
  // …but a signature covers it: kept aside so a replay can check the signature before re-signing.
  if (original[Header.MSG_ID] !== undefined) headers[Header.DLQ_MSG_ID] = original[Header.MSG_ID];
  headers[Header.DLQ_QUEUE] = queue;
  headers[Header.DLQ_DELIVERIES] = String(deliveries);
  headers[Header.DLQ_WORKER] = hostname;
  headers[Header.DLQ_TIME] = new Date().toISOString();
  return headers;
}
