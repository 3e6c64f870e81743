/**
 * Autoscaling (Celery's `--autoscale max,min`): the pool grows while tasks wait in the worker's
 * queues and every slot is busy, and shrinks back towards `min` once slots have stayed idle for
 * the keepalive. It works through the same resize as pool-grow / pool-shrink, so the pull credit
 * follows: the worker never pulls more than it can run.
 */
import type { Logger } from "../log.ts";

/** How often the autoscaler looks. */
const TICK_MS = 1_000;

/** What the autoscaler reads and changes on its worker. */
export interface AutoscaleHost {
  log: Logger;
  /** Slots now. */
  concurrency(): number;
  /** Tasks running now. */
  running(): number;
  /** Messages waiting in the worker's queues (not yet delivered to anyone). */
  waiting(): Promise<number>;
  /** The fewest slots the worker may have (one per consumed queue). */
  floor(): number;
  resize(n: number): void;
}

/** Grows and shrinks a worker's pool between bounds. */
export class Autoscaler {
  #host: AutoscaleHost;
  #max: number;
  #min: number;
  #keepaliveMs: number;
  #timer: ReturnType<typeof setInterval> | null = null;
  #idleSince: number | null = null;
  #busy = false;

  constructor(host: AutoscaleHost, bounds: { max: number; min: number }, keepaliveMs: number) {
    this.#host = host;
    this.#max = bounds.max;
    this.#min = bounds.min;
    this.#keepaliveMs = keepaliveMs;
  }

  /** The bounds now. */
  get bounds(): { max: number; min: number } {
    return { max: this.#max, min: this.#min };
  }

  /** Changes the bounds (the `autoscale` control command); the size is brought within them now. */
  update(max: number, min: number): void {
    this.#max = max;
    this.#min = Math.max(min, this.#host.floor());
    const n = this.#host.concurrency();
    if (n > this.#max) this.#resize(this.#max, "above the new maximum");
    else if (n < this.#min) this.#resize(this.#min, "below the new minimum");
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.#tick(), TICK_MS);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const n = this.#host.concurrency();
      const running = this.#host.running();
      if (running >= n && n < this.#max) {
        this.#idleSince = null;
        const waiting = await this.#host.waiting();
        if (waiting > 0) this.#resize(Math.min(this.#max, n + waiting), `${waiting} task(s) waiting`);
        return;
      }
      if (running >= n || n <= this.#min) {
        this.#idleSince = null;
        return;
      }
      this.#idleSince ??= Date.now();
      if (Date.now() - this.#idleSince >= this.#keepaliveMs) {
        this.#idleSince = null;
        this.#resize(Math.max(this.#min, running), `idle for ${this.#keepaliveMs / 1000}s`);
      }
    } catch (err) {
      // The queue depth could not be read (an outage): try again next tick.
      this.#host.log.debug(`autoscale: ${(err as Error).message}`);
    } finally {
      this.#busy = false;
    }
  }

  #resize(n: number, why: string): void {
    const from = this.#host.concurrency();
    if (n === from) return;
    this.#host.log.info(`autoscale: ${n > from ? "growing" : "shrinking"} the pool ${from} → ${n} (${why})`);
    this.#host.resize(n);
  }
}
