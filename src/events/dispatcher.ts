/**
 * Sends events on core NATS (`<p>.events.task.<type>`, `<p>.events.worker.<type>`, and heartbeats
 * on `<p>.worker.heartbeat.<worker>`); the `<P>_EVENTS` stream keeps them a short while. Sending
 * never throws and never waits: events may be lost (DESIGN.md, principle 1).
 */
import type { Broker } from "../broker/types.ts";
import type { Names } from "../names.ts";
import { pid } from "../runtime/mod.ts";
import { type CeleriacEvent, encodeEvent } from "./event.ts";

/** Sends the events of one process (a worker, or a client's `task-sent`). */
export class EventDispatcher {
  #broker: Broker;
  #names: Names;
  #hostname: string;
  #pid = pid();
  #clock = 0;

  constructor(broker: Broker, names: Names, hostname: string) {
    this.#broker = broker;
    this.#names = names;
    this.#hostname = hostname;
  }

  /** The Lamport clock's current value. */
  get clock(): number {
    return this.#clock;
  }

  /** Advances the clock past one seen in a message from another process (Lamport's rule). */
  observe(clock: number): void {
    if (Number.isFinite(clock) && clock > this.#clock) this.#clock = clock;
  }

  /** Builds an event of `type` (`task-…` or `worker-…`) with the common fields. */
  build(type: string, fields: Record<string, unknown>): CeleriacEvent {
    return {
      type,
      hostname: this.#hostname,
      timestamp: Date.now() / 1000,
      clock: ++this.#clock,
      pid: this.#pid,
      utcoffset: new Date().getTimezoneOffset() / 60,
      ...fields,
    };
  }

  /** Sends an event. `subject` defaults to `<p>.events.<group>.<rest of type>`. */
  send(type: string, fields: Record<string, unknown>, subject?: string): CeleriacEvent {
    const e = this.build(type, fields);
    const dash = type.indexOf("-");
    const to = subject ?? this.#names.eventSubject(type.slice(0, dash) as "task" | "worker", type.slice(dash + 1));
    try {
      this.#broker.notify(to, encodeEvent(e));
    } catch {
      // events may be lost; sending must not break the caller
    }
    return e;
  }
}
