/**
 * The result notice: the stored record's bytes, sent to the caller's reply subject. A record
 * larger than the broker takes in one message (a big result, over NATS's max_payload) is replaced
 * by a short notice that says "ready: read the backend", so `get()` still answers at once.
 */
import type { Broker } from "../broker/types.ts";
import type { ResultBackend } from "../backend/types.ts";
import { makeRecord, NOTICE_IN_BACKEND } from "../protocol/result.ts";
import type { TaskState } from "../states.ts";

/** Sends the notice that task `id` reached `status`, whose stored record is `bytes`. */
export function sendNotice(
  deps: { broker: Broker; backend: ResultBackend },
  replyTo: string,
  id: string,
  status: TaskState,
  bytes: Uint8Array,
): void {
  if (bytes.length <= deps.broker.maxNotifyBytes()) {
    deps.broker.notify(replyTo, bytes);
    return;
  }
  const stub = makeRecord(id, status, null);
  (stub as unknown as Record<string, unknown>)[NOTICE_IN_BACKEND] = true;
  deps.broker.notify(replyTo, deps.backend.encode(stub));
}
