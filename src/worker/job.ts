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
  | { kind: "success"; message: TaskMessage; value: unknown; runtimeMs: number }
  | {
    kind: "failure";
    message: TaskMessage;
    error: unknown;
    runtimeMs: number;
    /**
     * A handler the pool could not stop (async pool, hard time limit) and that is still running:
     * its slot is freed only once this settles.
     */
    lingering?: Promise<void>;
  }
  | { kind: "retry"; message: TaskMessage; retry: Retry; runtimeMs: number }
  /** Null message: refused before it could be decoded. */
  | { kind: "reject"; message: TaskMessage | null; reason: string; requeue: boolean }
  | { kind: "revoked"; message: TaskMessage; reason: string }
  /** Back to the delayed store until `etaMs` (its ETA, or when its rate limit or permit may let it run). */
  | { kind: "defer"; message: TaskMessage; etaMs: number }
  | { kind: "skip"; message: TaskMessage; why: string; record: ResultRecord }
  | { kind: "abandoned" };

/**
 * Where a job is: `received` (decoding, checks, admission), `held` (waiting in the worker for its
 * rate limit's token, Celery's "reserved"), `active` (its handler was called), `settling` (its
 * outcome is being applied), `terminated` (revoked with terminate while running: settled as REVOKED
 * by revocations.ts, its own outcome dropped) or `abandoned` (handed back during shutdown: nothing
 * of it is settled).
 */
export type JobPhase = "received" | "held" | "active" | "settling" | "terminated" | "abandoned";

/**
 * A delivery in progress. Its phase moves only through the methods below, each owned by one step
 * of the worker; everything else reads it.
 */
export class Job {
  readonly delivery: Delivery;
  readonly queue: string;
  readonly receivedAt: number = Date.now();
  /** Aborts the task's `ctx.signal`. */
  readonly abort: LazyAbort = new LazyAbort();
  #phase: JobPhase = "received";
  #message: TaskMessage | null = null;
  #task: Task | null = null;
  #startedAt: number | null = null;
  #children: string[] | null = null;
  #trace: ProcessTrace | null;
  #terminated = false;

  constructor(delivery: Delivery, trace: ProcessTrace | null = null) {
    this.delivery = delivery;
    this.queue = delivery.queue;
    this.#trace = trace;
  }

  /** Where it is (see {@link JobPhase}). */
  get phase(): JobPhase {
    return this.#phase;
  }
  /** Set once decoded. */
  get message(): TaskMessage | null {
    return this.#message;
  }
  /** Set once its task is known to this worker. */
  get task(): Task | null {
    return this.#task;
  }
  /** When its handler was called (null before). */
  get startedAt(): number | null {
    return this.#startedAt;
  }
  /** Ids of tasks the handler sent (null until it sends one). */
  get children(): readonly string[] | null {
    return this.#children;
  }
  /** The CONSUMER span, when traced, until it is taken to be ended. */
  get trace(): ProcessTrace | null {
    return this.#trace;
  }
  /** Waiting for its rate limit's token. */
  get held(): boolean {
    return this.#phase === "held";
  }
  /** Its outcome is being settled (a terminate now is ignored, a state written now is dropped). */
  get settling(): boolean {
    return this.#phase === "settling";
  }
  /** Revoked with terminate: REVOKED is (being) stored, and its own outcome is dropped. */
  get terminated(): boolean {
    return this.#terminated;
  }
  /** Handed back during shutdown: its outcome must not be settled. */
  get abandoned(): boolean {
    return this.#phase === "abandoned";
  }

  /** The executor decoded its message. */
  decoded(message: TaskMessage): void {
    this.#message = message;
  }

  /** The executor found its task: from here on the job is known. */
  known(task: Task): KnownJob {
    if (!this.#message) throw new Error("a job's task is known only after its message is decoded");
    this.#task = task;
    return this as KnownJob;
  }

  /** True once its message is decoded and its task known. */
  isKnown(): this is KnownJob {
    return this.#message !== null && this.#task !== null;
  }

  /** Admission keeps it in the worker until its token is due. */
  hold(): void {
    if (this.#phase === "received") this.#phase = "held";
  }

  /** Its token is due (or it was terminated or handed back meanwhile, and stays so). */
  unhold(): void {
    if (this.#phase === "held") this.#phase = "received";
  }

  /** Its handler is called now. */
  start(): void {
    this.#startedAt = Date.now();
    if (this.#phase === "received") this.#phase = "active";
  }

  /**
   * Claims the job for settling its outcome. False if it is settling already, was terminated (it
   * is settled as REVOKED instead) or abandoned: then the outcome is dropped. From here on a
   * terminate is a no-op — the task has finished, and a second settle would race the first.
   */
  beginSettling(): boolean {
    if (this.#phase === "settling" || this.#phase === "terminated" || this.#phase === "abandoned") return false;
    this.#phase = "settling";
    return true;
  }

  /**
   * Revocation with terminate: aborts its signal with `reason`. False (and nothing done) if it is
   * settling, terminated or abandoned already. The caller settles it as REVOKED.
   */
  terminate(reason: unknown): boolean {
    if (this.#phase === "settling" || this.#phase === "terminated" || this.#phase === "abandoned") return false;
    this.#phase = "terminated";
    this.#terminated = true;
    this.abort.abort(reason);
    return true;
  }

  /** Handed back during shutdown, whatever it was doing: aborts its signal with `reason`. */
  abandon(reason: unknown): void {
    this.#phase = "abandoned";
    this.abort.abort(reason);
  }

  /** Tasks its handler sent (the lineage of its result). */
  addChildren(ids: readonly string[]): void {
    (this.#children ??= []).push(...ids);
  }

  /** The span to end, once: later calls (and `trace`) give null, so it is never ended twice. */
  takeTrace(): ProcessTrace | null {
    const t = this.#trace;
    this.#trace = null;
    return t;
  }
}

/** A job whose message is decoded and whose task this worker knows: what admission, pools and contexts get. */
export type KnownJob = Job & { readonly message: TaskMessage; readonly task: Task };

/** The bookkeeping fields every record of a task carries (plus Celery's extended fields if asked). */
export function recordExtras(m: TaskMessage, queue: string, hostname: string, extended: boolean) {
  const base = { retries: m.retries, parent_id: m.parentId, root_id: m.rootId ?? m.id, group_id: m.group };
  if (!extended) return base;
  return { ...base, name: m.task, args: m.args, kwargs: m.kwargs, worker: hostname, queue };
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
