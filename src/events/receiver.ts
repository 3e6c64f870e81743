/**
 * Reading events: recent history from the `<P>_EVENTS` stream, then live ones from core NATS
 * (Celery's event receiver). `celeriac events` and monitors use this.
 */
import type { Broker } from "../broker/types.ts";
import type { Names } from "../names.ts";
import { type CeleriacEvent, decodeEvent } from "./event.ts";

/** Events the stream kept since `sinceMs` (epoch ms), oldest first. */
export async function recentEvents(broker: Broker, sinceMs: number, limit?: number): Promise<CeleriacEvent[]> {
  const stored = await broker.readEvents(sinceMs, limit);
  const out: CeleriacEvent[] = [];
  for (const s of stored) {
    const e = decodeEvent(s.data);
    if (e) out.push(e);
  }
  return out;
}

/** Calls `handler` for each live event and heartbeat; returns the unsubscribe function. */
export function watchEvents(broker: Broker, names: Names, handler: (e: CeleriacEvent) => void): () => void {
  const on = (data: Uint8Array) => {
    const e = decodeEvent(data);
    if (!e) return;
    e.local_received = Date.now() / 1000;
    handler(e);
  };
  const offs = [broker.subscribe(names.eventSubjects, on), broker.subscribe(names.heartbeatSubjects, on)];
  return () => offs.forEach((off) => off());
}
