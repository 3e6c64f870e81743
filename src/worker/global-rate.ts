/**
 * Cluster-wide rate limits (task option `globalRateLimit`; `rateLimit` stays Celery's per-worker
 * limit, admission.ts). The limiter lives in the result backend: starts of a task name are spaced
 * at least 1/rate apart on the backend's clock, for all workers together, with no burst.
 *
 * A task over the limit never waits in a worker slot: it goes back to the broker's delayed store
 * until about when the next start may be free (the `defer` outcome: no delivery attempt spent),
 * and asks again when it comes back; nothing is reserved for it meanwhile, so however late the
 * delayed store hands tasks back, starts never bunch. A refused task is told to come back after
 * those already waiting (the backend keeps them in line), so a backlog returns spread at the rate;
 * one that comes back to a taken start goes to the end of the line. The cost: a backend call and a
 * republish per refusal.
 */
import type { ResultBackend } from "../backend/types.ts";
import type { Rate } from "../rate.ts";
import type { Task } from "../task.ts";
import type { KnownJob, Outcome } from "./job.ts";

/** The cluster-wide limiter as one worker sees it. */
export class GlobalRates {
  #backend: ResultBackend | null = null;
  /** Set by remote control (`rate-limit --global`), by task name (null = no limit). */
  #overrides = new Map<string, Rate | null>();
  #report: (err: Error) => void;

  constructor(report: (err: Error) => void) {
    this.#report = report;
  }

  /** Where the limiter state lives (set once the worker has its backend). */
  use(backend: ResultBackend): void {
    this.#backend = backend;
  }

  /** The cluster-wide limit in force for `task`. */
  rateOf(task: Task): Rate | null {
    return this.#overrides.has(task.name) ? this.#overrides.get(task.name)! : task.options.globalRateLimit;
  }

  /** Sets (or, with null, removes) a task's cluster-wide limit on this worker. */
  setRate(taskName: string, rate: Rate | null): void {
    this.#overrides.set(taskName, rate);
  }

  /** Null when the task may start now; else the outcome that defers it. Only called when limited. */
  async admit(job: KnownJob): Promise<Outcome | null> {
    const { task, message } = job;
    const rate = this.rateOf(task);
    if (!rate || !this.#backend) return null;
    const intervalMs = 1 / rate.perMs;
    let waitMs: number;
    try {
      waitMs = await this.#backend.rateTake(task.name, message.id, intervalMs);
    } catch (err) {
      this.#report(err as Error); // cannot tell: ask again later rather than run over the limit
      waitMs = intervalMs;
    }
    if (waitMs <= 0) return null;
    return { kind: "defer", message, etaMs: Date.now() + waitMs };
  }
}
