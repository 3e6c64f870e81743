/**
 * Per-key concurrency (task option `keyConcurrency`, call option `concurrencyKey`; BullMQ Pro's
 * groups, Hatchet's concurrency keys): at most `keyConcurrency` tasks of one name with the same key
 * run at once across the cluster.
 *
 * The permits live in the result backend (src/backend), leased for `ack_wait` and renewed by the
 * worker's in-progress ticker, so a worker that dies holding one frees it within `ack_wait`. A task
 * that finds every permit of its key taken does not wait in the worker: like a task over its rate
 * limit (admission.ts) it goes back to the broker's delayed store for a short, jittered while (the
 * `defer` outcome: no delivery attempt spent) and its slot pulls other work — so tasks of other
 * keys behind a long backlog of one key are not stuck behind it.
 */
import type { ResultBackend } from "../backend/types.ts";
import type { Task } from "../task.ts";
import type { Job, Outcome } from "./job.ts";

/** A task denied a permit tries again after this long, plus up to as much again of jitter. */
export const PERMIT_RETRY_MS = 200;

/** The permit keeper of one worker. */
export class KeyPermits {
  #backend: ResultBackend;
  #leaseMs: number;
  #report: (err: Error) => void;

  constructor(deps: { backend: ResultBackend; leaseMs: number; report(err: Error): void }) {
    this.#backend = deps.backend;
    this.#leaseMs = deps.leaseMs;
    this.#report = deps.report;
  }

  /** Takes the job's permit: null when it may run (or has no key), else the outcome that defers it. */
  async admit(job: Job, task: Task): Promise<Outcome | null> {
    const limit = task.options.keyConcurrency;
    const m = job.message;
    if (limit === null || !m || m.concurrencyKey === undefined) return null;
    const key = `${task.name}:${m.concurrencyKey}`;
    let taken = false;
    try {
      taken = await this.#backend.permitAcquire(key, m.id, limit, this.#leaseMs);
    } catch (err) {
      this.#report(err as Error); // cannot tell: try again later rather than run over the limit
    }
    if (taken) {
      job.permit = key;
      return null;
    }
    const etaMs = Date.now() + PERMIT_RETRY_MS + Math.floor(Math.random() * PERMIT_RETRY_MS);
    m.eta = etaMs;
    return { kind: "defer", etaMs };
  }

  /** Extends the leases of the permits these jobs hold (the in-progress ticker). */
  renew(jobs: Iterable<Job>): void {
    for (const job of jobs) {
      if (job.permit && job.message) this.#backend.permitRenew(job.permit, job.message.id, this.#leaseMs).catch((err) => this.#report(err));
    }
  }

  /** Gives a settled job's permit back. */
  release(job: Job): void {
    if (!job.permit || !job.message) return;
    this.#backend.permitRelease(job.permit, job.message.id).catch((err) => this.#report(err));
    job.permit = null;
  }
}
