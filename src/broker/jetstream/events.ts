/**
 * Reading recent events back from the events stream, with an ordered (ephemeral) consumer that
 * starts at a time and stops once it has caught up.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { StoredEvent } from "../types.ts";

/** Events stored in `stream` since `sinceMs`, oldest first, at most `limit`. */
export async function readEvents(nc: NatsConnection, stream: string, sinceMs: number, limit: number): Promise<StoredEvent[]> {
  const js = jetstream(nc);
  let consumer;
  try {
    consumer = await js.consumers.get(stream, {
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(sinceMs).toISOString(),
    });
  } catch (err) {
    // No stream yet: nothing was ever sent.
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return [];
    throw err;
  }
  const out: StoredEvent[] = [];
  try {
    while (out.length < limit) {
      const batch = Math.min(1_000, limit - out.length);
      const msgs = await consumer.fetch({ max_messages: batch, expires: 1_000 });
      let got = 0;
      let caughtUp = false;
      for await (const m of msgs) {
        got++;
        out.push({ subject: m.subject, data: m.data, time: new Date(Math.floor(m.info.timestampNanos / 1_000_000)) });
        if (m.info.pending === 0) {
          // Caught up: stop here rather than wait for the fetch to expire.
          caughtUp = true;
          break;
        }
      }
      if (got === 0 || caughtUp) break;
    }
  } finally {
    await consumer.delete().catch(() => false);
  }
  return out;
}
