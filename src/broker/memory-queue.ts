/**
 * One queue of the in-process broker: ready messages, messages in flight with their ack timers,
 * exhausted ones, and the consumers that take them against granted credit.
 */
import type { BrokerSettings, ConsumeHandlers, Delivery, QueueConsumer } from "./types.ts";
import type { WireMessage } from "../protocol/message.ts";

export interface Stored {
  seq: number;
  message: WireMessage;
  deliveries: number;
  /** When it was stored, epoch ms. */
  storedAt: number;
  /** Its priority level, 0–9: higher levels are delivered first, each level in order. */
  priority: number;
}

interface InFlight {
  stored: Stored;
  timer: ReturnType<typeof setTimeout>;
  consumer: MemoryConsumer;
}

export class MemoryConsumer implements QueueConsumer {
  credit = 0;
  stopped = false;
  constructor(readonly queue: MemoryQueue, readonly handlers: ConsumeHandlers) {}
  grant(n: number): void {
    if (this.stopped || n <= 0) return;
    this.credit += n;
    this.queue.dispatchSoon();
  }
  stop(): Promise<void> {
    this.stopped = true;
    this.credit = 0;
    this.queue.consumers.delete(this);
    return Promise.resolve();
  }
}

export class MemoryQueue {
  ready: Stored[] = [];
  inFlight = new Map<number, InFlight>();
  /** Exhausted messages stay stored (like JetStream) until removed. */
  exhausted = new Map<number, Stored>();
  /** Exhausted while no consumer was attached: reported to the next one. */
  #unreported = new Set<number>();
  consumers = new Set<MemoryConsumer>();
  #dispatchQueued = false;
  #rr = 0;

  constructor(readonly name: string, readonly broker: { readonly settings: BrokerSettings }) {}

  /** Stores a message behind every ready one of its level or higher (FIFO within a level). */
  enqueue(stored: Stored): void {
    let i = this.ready.length;
    while (i > 0 && this.ready[i - 1]!.priority < stored.priority) i--;
    this.ready.splice(i, 0, stored);
    this.dispatchSoon();
  }

  dispatchSoon(): void {
    if (this.#dispatchQueued) return;
    this.#dispatchQueued = true;
    queueMicrotask(() => {
      this.#dispatchQueued = false;
      this.dispatch();
    });
  }

  dispatch(): void {
    while (this.ready.length > 0 && this.inFlight.size < this.broker.settings.maxAckPending) {
      const consumers = [...this.consumers].filter((c) => c.credit > 0 && !c.stopped);
      if (consumers.length === 0) return;
      const consumer = consumers[this.#rr++ % consumers.length]!;
      const stored = this.ready.shift()!;
      consumer.credit--;
      stored.deliveries++;
      this.#deliver(stored, consumer);
    }
  }

  #deliver(stored: Stored, consumer: MemoryConsumer): void {
    const entry: InFlight = { stored, consumer, timer: this.#ackTimer(stored) };
    this.inFlight.set(stored.seq, entry);
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      const cur = this.inFlight.get(stored.seq);
      if (cur?.stored === stored) {
        clearTimeout(cur.timer);
        this.inFlight.delete(stored.seq);
      }
      return true;
    };
    const delivery: Delivery = {
      queue: this.name,
      body: stored.message.body,
      deliveryCount: stored.deliveries,
      seq: stored.seq,
      header: (name) => stored.message.headers[name],
      headers: () => ({ ...stored.message.headers }),
      headerCount: () => Object.keys(stored.message.headers).length,
      ack: () => {
        if (settle()) this.dispatchSoon();
      },
      term: () => {
        if (settle()) this.dispatchSoon();
      },
      nak: (delayMs) => {
        if (!settle()) return;
        if (delayMs && delayMs > 0) {
          // like JetStream, a nak-delayed message stays pending (counts against maxAckPending)
          const timer = setTimeout(() => {
            this.inFlight.delete(stored.seq);
            this.#requeue(stored);
          }, delayMs);
          this.inFlight.set(stored.seq, { stored, consumer, timer });
        } else {
          this.#requeue(stored);
        }
      },
      working: () => {
        const cur = this.inFlight.get(stored.seq);
        if (settled || cur?.stored !== stored) return;
        clearTimeout(cur.timer);
        cur.timer = this.#ackTimer(stored);
      },
    };
    try {
      consumer.handlers.onDelivery(delivery);
    } catch (err) {
      consumer.handlers.onError(err as Error);
    }
  }

  #ackTimer(stored: Stored): ReturnType<typeof setTimeout> {
    return setTimeout(() => {
      this.inFlight.delete(stored.seq);
      this.#requeue(stored);
    }, this.broker.settings.ackWaitMs);
  }

  #requeue(stored: Stored): void {
    const max = this.broker.settings.maxDeliver;
    if (max > 0 && stored.deliveries >= max) {
      this.exhausted.set(stored.seq, stored);
      const consumer = [...this.consumers][0];
      // Like JetStream's stream of advisories: with no consumer now, the next one is told.
      if (consumer) this.#reportExhausted(stored, consumer);
      else this.#unreported.add(stored.seq);
      return;
    }
    // Handed back: in front of its own level, as JetStream redelivers it before newer messages.
    let i = 0;
    while (i < this.ready.length && this.ready[i]!.priority > stored.priority) i++;
    this.ready.splice(i, 0, stored);
    this.dispatchSoon();
  }

  /** Reports to `consumer` the messages exhausted while no consumer was attached. */
  reportUnreported(consumer: MemoryConsumer): void {
    for (const seq of this.#unreported) {
      const stored = this.exhausted.get(seq);
      if (stored) this.#reportExhausted(stored, consumer);
    }
    this.#unreported.clear();
  }

  #reportExhausted(stored: Stored, consumer: MemoryConsumer): void {
    consumer.handlers.onExhausted({
      queue: this.name,
      seq: stored.seq,
      deliveries: stored.deliveries,
      message: stored.message,
      remove: () => {
        this.exhausted.delete(stored.seq);
        return Promise.resolve();
      },
    });
  }

  stopTimers(): void {
    for (const f of this.inFlight.values()) clearTimeout(f.timer);
    this.inFlight.clear();
  }
}
