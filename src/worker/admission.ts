/**
 * Rate limits, per worker and per task name (Celery's `rate_limit`, a token bucket of capacity
 * one), and how they meet the credit-based pull.
 *
 * A pulled message holds a slot: `running + credit ≤ concurrency`. A task that must wait for its
 * token may keep that slot only briefly, so the slot keeps pulling other work:
 * - if its token is due within {@link HOLD_MAX_MS} and fewer than a quarter of the slots are
 *   already waiting, it waits in the worker (it shows in `inspect reserved`; RECEIVED is written
 *   if the task tracks it);
 * - otherwise it goes back to the broker's delayed store with an ETA at its token's time (the
 *   `defer` outcome: republished with a fresh dedup id, then acked — no delivery attempt is spent,
 *   unlike a delayed nak, which would also keep counting against max_ack_pending), and its slot
 *   is free at once.
 */
import type { Task } from "../task.ts";
import type { Rate } from "../rate.ts";
import { TokenBucket } from "../rate.ts";
import type { KnownJob, Outcome } from "./job.ts";

/** An admission step after the per-worker limit: the cluster-wide limit, the key's permit. */
export interface AdmissionStep {
  admit(job: KnownJob): Promise<Outcome | null>;
}

/**
 * Runs the later steps after the per-worker limit's answer (`first`), each only once the one before
 * let the task through. Null (run now, nothing allocated) when the task has none of them.
 */
export function admitInTurn(
  job: KnownJob,
  first: Promise<Outcome | null> | null,
  global: AdmissionStep | null,
  permits: AdmissionStep | null,
): Promise<Outcome | null> | null {
  const keyed = permits !== null && job.task.options.keyConcurrency !== null ? permits : null;
  if (!global && !keyed) return first;
  let admitted = first;
  for (const step of [global, keyed]) {
    if (!step) continue;
    admitted = admitted === null ? step.admit(job) : admitted.then((o) => o ?? step.admit(job));
  }
  return admitted;
}

/** Longest a rate-limited task waits inside the worker, holding its slot. */
export const HOLD_MAX_MS = 1_000;

/** The worker's rate limiter. */
export class Admission {
  #buckets = new Map<string, TokenBucket>();
  /** Limits set by remote control, by task name (null = no limit), overriding the task's own. */
  #overrides = new Map<string, Rate | null>();
  #held = 0;
  #maxHeld: () => number;
  #isRevoked: (job: KnownJob) => boolean;

  constructor(opts: { maxHeld: () => number; isRevoked: (job: KnownJob) => boolean }) {
    this.#maxHeld = opts.maxHeld;
    this.#isRevoked = opts.isRevoked;
  }

  /** The limit in force for `task`. */
  rateOf(task: Task): Rate | null {
    return this.#overrides.size > 0 && this.#overrides.has(task.name) ? this.#overrides.get(task.name)! : task.options.rateLimit;
  }

  /** Sets (or, with null, removes) the limit of a task on this worker. */
  setRate(taskName: string, rate: Rate | null): void {
    this.#overrides.set(taskName, rate);
    this.#buckets.delete(taskName);
  }

  /** Tasks waiting for a token now. */
  get held(): number {
    return this.#held;
  }

  /** The executor's admission hook: null = run now (the common case, no allocation). */
  admit(job: KnownJob): Promise<Outcome | null> | null {
    const task = job.task;
    const rate = this.rateOf(task);
    if (!rate) return null;
    let bucket = this.#buckets.get(task.name);
    if (!bucket) this.#buckets.set(task.name, bucket = new TokenBucket(rate));
    const now = Date.now();
    const wait = bucket.reserve(now);
    if (wait <= 0) return null;
    if (wait > HOLD_MAX_MS || this.#held >= this.#maxHeld()) {
      bucket.unreserve();
      // Back to the delayed store until its token would be due; the slot pulls other work.
      return Promise.resolve({ kind: "defer", message: job.message, etaMs: now + wait });
    }
    return this.#hold(job, wait);
  }

  async #hold(job: KnownJob, ms: number): Promise<Outcome | null> {
    this.#held++;
    job.hold();
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      this.#held--;
      job.unhold();
    }
    return this.#isRevoked(job) ? { kind: "revoked", message: job.message, reason: "revoked" } : null;
  }
}
