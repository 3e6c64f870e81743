/**
 * What a running task sees (`ctx` of bound tasks), and the ambient "current task" that makes
 * tasks sent from inside a task its children.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Logger } from "./log.ts";
import type { Retry } from "./errors.ts";
import type { TaskState } from "./states.ts";

/** Options of `ctx.retry()`. Durations in seconds. */
export interface RetryOptions {
  /** Seconds until the next attempt. @default the task's defaultRetryDelay */
  countdown?: number;
  /** Absolute time of the next attempt. */
  eta?: Date | number;
  /** The error that caused the retry (reported if retries run out). */
  exc?: unknown;
  /** Overrides the task's maxRetries for this retry. */
  maxRetries?: number | null;
}

/** The context of one task execution. */
export interface TaskContext {
  /** The task id (the same across retries). */
  readonly id: string;
  /** The task name. */
  readonly name: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** How many times this task has been retried so far. */
  readonly retries: number;
  /** Id of the first task in this workflow (itself if none). */
  readonly rootId: string;
  /** Id of the task that sent this one, if any. */
  readonly parentId: string | undefined;
  /** Id of the group this task belongs to, if any. */
  readonly groupId: string | undefined;
  /** Position in its group. */
  readonly groupIndex: number | undefined;
  /** The worker's name (`celeriac@host`). */
  readonly hostname: string;
  /** The queue it was consumed from. */
  readonly queue: string;
  /** How many times the broker has delivered this message (1 = first time). */
  readonly deliveryCount: number;
  /** Headers the caller set with `applyAsync({ headers })`. */
  readonly headers: Readonly<Record<string, string>>;
  /** Aborts on warm shutdown, revoke-terminate and the soft time limit. */
  readonly signal: AbortSignal;
  /** A logger whose lines name this task. */
  readonly log: Logger;
  /**
   * Records a custom state (progress) with metadata; `get()` keeps waiting. A custom state also
   * reaches the caller's `onProgress` (Celery's `get(on_message=…)`).
   */
  updateState(state: TaskState, meta?: unknown): Promise<void>;
  /**
   * Reports progress: records the PROGRESS state with `value` (readable with `r.info()`) and sends
   * it to the caller as an event (`r.get({ onProgress })`, `r.progress()`). Await it: it resolves
   * once the value is stored.
   */
  progress(value: unknown): Promise<void>;
  /** Builds a retry request: `throw ctx.retry({ countdown: 5, exc: err })`. */
  retry(opts?: RetryOptions): Retry;
}

/** Parent/root bookkeeping of the task running in the current async context. */
export interface Lineage {
  id: string;
  rootId: string;
  /** Records a task sent from inside this one (its result lists its children). */
  addChild?(id: string): void;
  /** Its span's context when traced (an OpenTelemetry Context), so sends from it stay in its trace. */
  readonly traceContext?: unknown;
  /** Its task name and headers (for `beforePublish` handlers that pass context on to children). */
  readonly name?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The task whose code is running right now, if any (tasks sent here become its children). */
export const currentTask: AsyncLocalStorage<Lineage> = new AsyncLocalStorage<Lineage>();
