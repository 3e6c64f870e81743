/**
 * What a worker's execution pool does: run one task's handler to its outcome. The parent keeps
 * everything else (decoding, admission, settling, acks, heartbeats), so each pool only decides
 * where the handler's code runs: in the event loop (`async`), in a worker thread (`threads`) or
 * in a child process (`process`).
 */
import type { Job, KnownJob, Outcome } from "../job.ts";

/** One handler call: the job's task, run on its message. */
export interface TaskCall {
  readonly job: KnownJob;
  /** Hard limit: the task is stopped (or, in the async pool, abandoned) and fails with TimeLimitExceeded. */
  readonly hardMs: number | null;
  /** Soft limit: `ctx.signal` aborts with SoftTimeLimitExceeded. */
  readonly softMs: number | null;
}

/** One child of a process or threads pool, for `inspect stats`. */
export interface ChildInfo {
  /** pid (process) or thread id (threads). */
  id: number;
  /** Tasks it has run. */
  tasks: number;
  /** Its memory after its last task, KiB: RSS for a process, heap and buffers for a thread. */
  memoryKiB: number;
  /** Whether it is running a task now. */
  busy: boolean;
}

/** An execution pool. */
export interface TaskPool {
  readonly kind: "async" | "threads" | "process";
  /** Starts the pool's children (none for async); rejects if the app cannot load in a child. */
  start(): Promise<void>;
  /** Runs the handler. Never throws: every end is an outcome. */
  run(call: TaskCall): Promise<Outcome>;
  /**
   * Stops a running task now where the pool can (process, threads: the child is killed and
   * replaced). Returns false where it cannot (async: the handler is only told, through its signal).
   */
  kill(job: Job): boolean;
  /** The number of tasks run at once changed (pool-grow, pool-shrink, autoscale). */
  resize(size: number): void;
  /** Children, for `inspect stats` (empty for async). */
  children(): ChildInfo[];
  /** Stops every child (running tasks were handed back already). */
  stop(): Promise<void>;
}
