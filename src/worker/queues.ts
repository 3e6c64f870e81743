/**
 * The worker's queue actors: one supervised consumer per queue, started together at start-up and
 * one at a time by `add-consumer`, stopped by `cancel-consumer` or shutdown. It also knows which
 * queues are bound right now (readiness).
 */
import type { Broker, Delivery, ExhaustedMessage } from "../broker/types.ts";
import type { Logger } from "../log.ts";
import type { SlotPool } from "./slots.ts";
import { supervise, type Supervised } from "../actor.ts";
import { queueActor } from "./consumer.ts";

/** What the queue actors need from their worker. */
export interface QueueActorsDeps {
  slots: SlotPool;
  log: Logger;
  dispatch(d: Delivery): void;
  exhausted(ex: ExhaustedMessage): void;
  report(err: Error): void;
}

/** The queue actors of one worker. */
export class QueueActors {
  #deps: QueueActorsDeps;
  #queues: string[];
  #actors = new Map<string, Supervised>();
  #bound = new Set<string>();
  #paused = new Set<string>();

  constructor(queues: string[], deps: QueueActorsDeps) {
    this.#queues = [...queues];
    this.#deps = deps;
  }

  /** Queues consumed now, in the order they were added. */
  get queues(): readonly string[] {
    return this.#queues;
  }

  /** Queues whose consumer is not bound right now (paused ones are not expected to be). */
  unbound(): string[] {
    return this.#queues.filter((q) => !this.#bound.has(q) && !this.#paused.has(q));
  }

  /** Queues held off by `pause-queue`. */
  get paused(): ReadonlySet<string> {
    return this.#paused;
  }

  /**
   * Holds off `queue`: its consumer stops (what was on its way is handed back), running tasks
   * finish. Before {@link start}, it only marks the queue so start skips it.
   */
  async pause(queue: string): Promise<void> {
    if (!this.#queues.includes(queue) || this.#paused.has(queue)) return;
    this.#paused.add(queue);
    const actor = this.#actors.get(queue);
    this.#actors.delete(queue);
    this.#bound.delete(queue);
    await actor?.stop();
  }

  /** Consumes a paused queue again. */
  async resume(broker: Broker, queue: string): Promise<void> {
    if (!this.#paused.delete(queue) || !this.#queues.includes(queue)) return;
    await this.start(broker, [queue]);
  }

  /**
   * Starts the actors of `queues` (all of the worker's, or one being added) and resolves once
   * each is consuming; rejects if one crashes before that (a bad stream, say).
   */
  async start(broker: Broker, all: readonly string[] = this.#queues): Promise<void> {
    const queues = all.filter((q) => !this.#paused.has(q));
    const ready = new Map<string, () => void>();
    const firstBound = queues.map((q) => new Promise<void>((r) => ready.set(q, r)));
    let firstCrash: ((err: unknown) => void) | null = null;
    const crashedEarly = new Promise<never>((_, reject) => (firstCrash = reject));
    crashedEarly.catch(() => {});
    for (const queue of queues) {
      const actor = supervise(
        `queue ${queue}`,
        queueActor(queue, {
          broker,
          slots: this.#deps.slots,
          dispatch: this.#deps.dispatch,
          exhausted: this.#deps.exhausted,
          report: this.#deps.report,
          ready: (q) => {
            this.#bound.add(q);
            ready.get(q)?.();
          },
        }),
        {
          onCrash: (err, delay) => {
            this.#bound.delete(queue);
            if (ready.has(queue)) firstCrash?.(err);
            this.#deps.report(err as Error);
            this.#deps.log.warn(`queue ${queue} consumer stopped (${(err as Error).message}); restarting in ${delay}ms`);
          },
        },
      );
      this.#actors.set(queue, actor);
    }
    try {
      await Promise.race([Promise.all(firstBound), crashedEarly]);
    } finally {
      for (const q of queues) ready.delete(q);
    }
  }

  /** `add-consumer`: provisions and consumes one more queue. */
  async add(broker: Broker, queue: string): Promise<void> {
    await broker.ensureQueue(queue);
    this.#deps.slots.addQueue(queue);
    this.#queues.push(queue);
    await this.start(broker, [queue]);
  }

  /** `cancel-consumer`: stops consuming `queue`; its running tasks finish. */
  async cancel(queue: string): Promise<void> {
    const actor = this.#actors.get(queue);
    this.#actors.delete(queue);
    this.#queues = this.#queues.filter((q) => q !== queue);
    this.#bound.delete(queue);
    this.#paused.delete(queue);
    await actor?.stop(); // hands back what was on its way
  }

  /** Stops every queue actor (shutdown). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#actors.values()].map((a) => a.stop()));
    this.#bound.clear();
  }
}
