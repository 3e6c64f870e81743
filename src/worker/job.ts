/**
 * One delivered message on its way through the worker, and the outcomes it can reach.
 */
import type { Delivery } from "../broker/types.ts";
import type { TaskMessage } from "../protocol/message.ts";
import type { Task } from "../task.ts";
import type { Retry } from "../errors.ts";
import type { ResultRecord } from "../protocol/result.ts";
import type { ProcessTrace } from "../tracing.ts";

/** How a delivery ended. The settle step turns it into acks, results and follow-up messages. */
export type Outcome =
  | { kind: "success"; value: unknown; runtimeMs: number }
  | {
    kind: "failure";
    error: unknown;
    runtimeMs: number;
    /**
     * A handler the pool could not stop (async pool, hard time limit) and that is still running:
     * its slot is freed only once this settles.
     */
    lingering?: Promise<void>;
  }
  | { kind: "retry"; retry: Retry; runtimeMs: number }
  | { kind: "reject"; reason: string; requeue: boolean }
  | { kind: "revoked"; reason: string }
  | { kind: "defer"; etaMs: number }
  | { kind: "skip"; why: string; record: ResultRecord }
  | { kind: "abandoned" };

/** A delivery in progress. */
export interface Job {
  readonly delivery: Delivery;
  readonly queue: string;
  readonly receivedAt: number;
  /** Set once decoded. */
  message: TaskMessage | null;
  task: Task | null;
  startedAt: number | null;
  /** Aborts the task's `ctx.signal`. */
  readonly abort: LazyAbort;
  /** Handed back during shutdown: its outcome must not be settled. */
  abandoned: boolean;
  /** Ids of tasks the handler sent (null until it sends one). */
  children: string[] | null;
  /** Revoked with terminate while running: already settled as REVOKED, its own outcome is dropped. */
  terminated: boolean;
  /**
   * Its outcome is being settled: a terminate arriving now is ignored — the task has finished, and
   * a second settle (REVOKED, the failure follow-ups) would race the first and break its chain.
   */
  settling: boolean;
  /** Waiting for its rate limit's token (Celery's "reserved"). */
  held: boolean;
  /** The per-key concurrency permit it holds (permits.ts), released when it settles. */
  permit?: string | null;
  /** The CONSUMER span, when traced. */
  trace: ProcessTrace | null;
}

/** Creates the job for a delivery. */
export function newJob(delivery: Delivery): Job {
  return {
    delivery,
    queue: delivery.queue,
    receivedAt: Date.now(),
    message: null,
    task: null,
    startedAt: null,
    abort: new LazyAbort(),
    abandoned: false,
    children: null,
    terminated: false,
    settling: false,
    held: false,
    trace: null,
  };
}

/** The bookkeeping fields every record of this job carries (plus Celery's extended fields if asked). */
export function recordExtras(job: Job, hostname: string, extended: boolean) {
  const m = job.message!;
  const base = { retries: m.retries, parent_id: m.parentId, root_id: m.rootId ?? m.id, group_id: m.group };
  if (!extended) return base;
  return { ...base, name: m.task, args: m.args, kwargs: m.kwargs, worker: hostname, queue: job.queue };
}

/**
 * An AbortController made only when a task reads `ctx.signal` (most never do, and one per task
 * is measurable on the hot path). Aborting before that is remembered.
 */
export class LazyAbort {
  #ctrl: AbortController | null = null;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (!this.#ctrl) {
      this.#ctrl = new AbortController();
      if (this.#aborted) this.#ctrl.abort(this.#reason);
    }
    return this.#ctrl.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#ctrl?.abort(reason);
  }
}
