/**
 * AsyncResult: a handle on a task's outcome, as in Celery.
 */
import type { ResultBackend } from "./backend/types.ts";
import type { ProgressListener, ResultHub } from "./result-hub.ts";
import { remoteErrorOf, type ResultRecord } from "./protocol/result.ts";
import { isProgressState, isReady, State, type TaskState } from "./states.ts";
import { InvalidArgumentError, TaskError } from "./errors.ts";

/** What an AsyncResult needs from its app. */
export interface ResultSource {
  backend(): Promise<ResultBackend>;
  hub(): ResultHub;
  /** Revokes a task (remote control); present once the app supports it. */
  revoke?(taskId: string, opts: { terminate?: boolean; signal?: string }): Promise<void>;
}

/** Options of {@link AsyncResult.get}. */
export interface GetOptions {
  /** Seconds to wait (at most 2^31 − 1 ms); throws TimeoutError after. `Infinity` or omitted: wait forever. */
  timeout?: number;
  /** Rethrow a task failure as TaskError. @default true */
  propagate?: boolean;
  /**
   * Called with each progress event while waiting (`ctx.progress(value)`, or the meta of a custom
   * `ctx.updateState(state, meta)`, with the state as second argument; Celery's `on_message`).
   * Events come over the app's one result subscription, not by polling. @default none
   */
  onProgress?: ProgressListener;
}

/** Options of {@link AsyncResult.progress}. */
export interface ProgressOptions {
  /** Seconds to follow the task at most; then the iteration throws TimeoutError. @default forever */
  timeout?: number;
}

/** Equal as JSON (progress values are data); values JSON cannot show are never equal. */
function sameValue(a: unknown, b: unknown): boolean {
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}

/** Timers take at most 2^31 − 1 ms; a longer one fires at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function timeoutMs(timeout: number | undefined): number | null {
  if (timeout === undefined || timeout === Infinity) return null;
  if (typeof timeout !== "number" || !(timeout >= 0)) {
    throw new InvalidArgumentError("timeout", `must be a number of seconds ≥ 0, got ${JSON.stringify(timeout)}`);
  }
  const ms = timeout * 1000;
  if (ms > MAX_TIMEOUT_MS) {
    throw new InvalidArgumentError(
      "timeout",
      `must be at most ${MAX_TIMEOUT_MS / 1000} seconds (about 24.8 days), or omitted to wait forever; got ${timeout}`,
    );
  }
  return ms;
}

/** The outcome of a task, by id. */
export class AsyncResult<T = unknown> {
  /** The task id. */
  readonly id: string;
  /** The result of what ran before this task in a chain (or a chord's header), if any. */
  parent: AsyncResult<unknown> | { get(opts?: GetOptions): Promise<unknown>; id: string } | null = null;
  #source: ResultSource;

  constructor(id: string, source: ResultSource) {
    if (typeof id !== "string" || id === "") throw new InvalidArgumentError("id", "must be a non-empty task id");
    this.id = id;
    this.#source = source;
  }

  /** The stored record, or null while PENDING. */
  async record(): Promise<ResultRecord | null> {
    return await (await this.#source.backend()).get(this.id);
  }

  /**
   * Waits for the task to finish and returns its result. With `propagate` (the default) a
   * FAILURE, REVOKED or REJECTED task throws {@link TaskError}; without, the TaskError is returned.
   */
  get(opts?: GetOptions & { propagate?: true }): Promise<T>;
  get(opts: GetOptions & { propagate: false }): Promise<T | TaskError>;
  async get(opts: GetOptions = {}): Promise<T | TaskError> {
    const ms = timeoutMs(opts.timeout);
    const hub = this.#source.hub();
    if (opts.onProgress === undefined) return this.#outcome(await hub.wait(this.id, ms), opts.propagate ?? true);
    if (typeof opts.onProgress !== "function") throw new InvalidArgumentError("onProgress", "must be a function");
    const off = hub.onProgress(this.id, opts.onProgress);
    try {
      return this.#outcome(await hub.wait(this.id, ms), opts.propagate ?? true);
    } finally {
      off();
    }
  }

  /**
   * The task's progress events as they come (`for await (const value of r.progress())`), starting
   * with the last one stored if the task had reported any before; ends once the task is ready,
   * whatever its outcome (then `get()` it).
   */
  async *progress(opts: ProgressOptions = {}): AsyncGenerator<unknown, void, undefined> {
    const hub = this.#source.hub();
    const queue: unknown[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    let failure: unknown = null;
    const off = hub.onProgress(this.id, (value) => {
      queue.push(value);
      wake?.();
    });
    // Aborted when the iteration ends early (a `break`), so its waiter does not outlive it.
    const stop = new AbortController();
    hub.wait(this.id, timeoutMs(opts.timeout), stop.signal).then(
      () => (done = true),
      (err) => {
        failure = err;
        done = true;
      },
    ).finally(() => wake?.());
    try {
      // Events kept for a task this client sent were replayed above: they are the whole story.
      const before = queue.length > 0 ? null : await this.record();
      // The step read from the backend may also arrive as the next event (it is stored, then
      // sent): that first event is dropped if it is the same value, so each step comes once.
      let echo: { value: unknown } | null = null;
      if (before && isProgressState(before.status) && (queue.length === 0 || !sameValue(queue[0], before.result))) {
        echo = { value: before.result };
        yield before.result;
      }
      for (;;) {
        while (queue.length > 0) {
          const value = queue.shift();
          const repeat = echo !== null && sameValue(value, echo.value);
          echo = null;
          if (!repeat) yield value;
        }
        if (done) break;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
      if (failure) throw failure;
    } finally {
      off();
      stop.abort();
    }
  }

  #outcome(record: ResultRecord, propagate: boolean): T | TaskError {
    if (record.status === State.SUCCESS) return record.result as T;
    const err = new TaskError(this.id, record.status, remoteErrorOf(record));
    if (propagate) throw err;
    return err;
  }

  /** The current state (PENDING if nothing is stored). */
  async state(): Promise<TaskState> {
    return (await this.record())?.status ?? State.PENDING;
  }

  /** Celery's `status`, the same as {@link state}. */
  status(): Promise<TaskState> {
    return this.state();
  }

  /** The result on SUCCESS, the error info on failure, the metadata of a custom state; null if PENDING. */
  async info(): Promise<unknown> {
    return (await this.record())?.result ?? null;
  }

  /** The worker's stack trace of a failure, if any. */
  async traceback(): Promise<string | null> {
    return (await this.record())?.traceback ?? null;
  }

  /** True once the task reached SUCCESS, FAILURE, REVOKED or REJECTED. */
  async ready(): Promise<boolean> {
    return isReady(await this.state());
  }

  /** True if the task succeeded. */
  async successful(): Promise<boolean> {
    return (await this.state()) === State.SUCCESS;
  }

  /** True if the task failed (FAILURE). */
  async failed(): Promise<boolean> {
    return (await this.state()) === State.FAILURE;
  }

  /** Removes the stored result. */
  async forget(): Promise<void> {
    await (await this.#source.backend()).forget(this.id);
  }

  /** Handles on the tasks this one sent (stored with its result, as Celery's `children`). */
  async children(): Promise<AsyncResult<unknown>[]> {
    const rec = await this.record();
    return (rec?.children ?? []).flatMap((c) => {
      const id = Array.isArray(c) && Array.isArray(c[0]) ? c[0][0] : undefined;
      return typeof id === "string" ? [new AsyncResult(id, this.#source)] : [];
    });
  }

  /** Asks every worker not to run (or, with `terminate`, to abort) this task. */
  async revoke(opts: { terminate?: boolean; signal?: string } = {}): Promise<void> {
    if (!this.#source.revoke) throw new InvalidArgumentError("revoke", "this app has no remote control");
    await this.#source.revoke(this.id, opts);
  }

  /** Serialises to the id. */
  toJSON(): string {
    return this.id;
  }

  /** `<AsyncResult: id>` */
  toString(): string {
    return `<AsyncResult: ${this.id}>`;
  }
}
