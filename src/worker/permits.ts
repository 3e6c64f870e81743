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
import type { Job, KnownJob, Outcome } from "./job.ts";

/** A task denied a permit tries again after this long, plus up to as much again of jitter. */
export const PERMIT_RETRY_MS = 200;

/** The permit keeper of one worker. */
export class KeyPermits {
  #backend: ResultBackend;
  #leaseMs: number;
  #report: (err: Error) => void;
  /** The permits running jobs hold: the key, and the task id it was taken for. */
  #held = new Map<Job, { key: string; id: string }>();

  constructor(deps: { backend: ResultBackend; leaseMs: number; report(err: Error): void }) {
    this.#backend = deps.backend;
    this.#leaseMs = deps.leaseMs;
    this.#report = deps.report;
  }

  /** Takes the job's permit: null when it may run (or has no key), else the outcome that defers it. */
  async admit(job: KnownJob): Promise<Outcome | null> {
    const { task, message: m } = job;
    const limit = task.options.keyConcurrency;
    if (limit === null || m.concurrencyKey === undefined) return null;
    const key = `${task.name}:${m.concurrencyKey}`;
    let taken = false;
    try {
      taken = await this.#backend.permitAcquire(key, m.id, limit, this.#leaseMs);
    } catch (err) {
      this.#report(err as Error); // cannot tell: try again later rather than run over the limit
    }
    if (taken) {
      this.#held.set(job, { key, id: m.id });
      return null;
    }
    const etaMs = Date.now() + PERMIT_RETRY_MS + Math.floor(Math.random() * PERMIT_RETRY_MS);
    return { kind: "defer", message: m, etaMs };
  }

  /** Extends the leases of the permits held (the in-progress ticker). */
  renew(): void {
    for (const { key, id } of this.#held.values()) {
      this.#backend.permitRenew(key, id, this.#leaseMs).catch((err) => this.#report(err));
    }
  }

  /** Gives a settled job's permit back. */
  release(job: Job): void {
    const p = this.#held.get(job);
    if (!p) return;
    this.#held.delete(job);
    this.#backend.permitRelease(p.key, p.id).catch((err) => this.#report(err));
  }

  /**
   * Stops renewing the permit of a job that leaves the worker unsettled (it could not be settled,
   * or was handed back): its lease runs out by itself, as if its worker had died.
   */
  forget(job: Job): void {
    this.#held.delete(job);
  }
}
