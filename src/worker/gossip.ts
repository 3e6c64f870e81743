/**
 * Gossip (Celery's): each worker listens to the others' heartbeats and online/offline events,
 * keeps the cluster's membership as it sees it (`inspect stats` shows it as `peers`), and advances
 * its Lamport clock past every clock it hears, so events from all workers order consistently.
 */
import type { Broker } from "../broker/types.ts";
import type { Names } from "../names.ts";
import type { EventDispatcher } from "../events/dispatcher.ts";
import { decodeEvent, WorkerEventType } from "../events/event.ts";
import { MISSED_HEARTBEATS_OFFLINE } from "../control/status.ts";

interface Peer {
  /** Epoch ms of the last word from it. */
  lastMs: number;
  freqMs: number;
  offline: boolean;
}

/** One worker's view of the others. */
export class Gossip {
  #self: string;
  #dispatcher: EventDispatcher;
  #peers = new Map<string, Peer>();

  constructor(self: string, dispatcher: EventDispatcher) {
    this.#self = self;
    this.#dispatcher = dispatcher;
  }

  /** Starts listening; returns the function that stops. */
  listen(broker: Broker, names: Names): () => void {
    const on = (data: Uint8Array) => {
      const e = decodeEvent(data);
      if (!e || e.hostname === this.#self || !e.type.startsWith("worker-")) return;
      this.#dispatcher.observe(e.clock);
      const freqMs = typeof e.freq === "number" ? e.freq * 1000 : 2_000;
      this.#peers.set(e.hostname, { lastMs: Date.now(), freqMs, offline: e.type === WorkerEventType.OFFLINE });
    };
    const offs = [broker.subscribe(names.heartbeatSubjects, on), broker.subscribe(names.eventSubject("worker", "*"), on)];
    return () => offs.forEach((off) => off());
  }

  /** The other workers heard from, and whether each is online (two missed heartbeats = offline). */
  peers(nowMs = Date.now()): Record<string, "online" | "offline"> {
    const out: Record<string, "online" | "offline"> = {};
    for (const [name, p] of [...this.#peers].sort(([a], [b]) => a.localeCompare(b))) {
      const late = nowMs - p.lastMs > p.freqMs * MISSED_HEARTBEATS_OFFLINE + 250;
      out[name] = p.offline || late ? "offline" : "online";
    }
    return out;
  }
}
