/**
 * Per-task options: the user's object → defaults (some from the app) → compiled, validated form.
 */
import { ConfigError } from "./errors.ts";
import { checkQueueName, type CompiledAppOptions } from "./options.ts";
import { parseRate, type Rate } from "./rate.ts";
import { invalidPriority } from "./protocol/message.ts";
import type { TaskContext } from "./context.ts";

/**
 * Celery's Task methods as options: called in the worker, with the task's context, once its
 * outcome is settled (stored, acked). May be async; an error in one is logged and never changes
 * the task's result.
 */
export interface TaskHooks {
  /** After a success, with the result. */
  onSuccess?(ctx: TaskContext, result: unknown): unknown;
  /** After a failure (retries exhausted, or not retried), with the error. */
  onFailure?(ctx: TaskContext, error: unknown): unknown;
  /** When the task is to be retried, with the error that caused it. */
  onRetry?(ctx: TaskContext, error: unknown): unknown;
  /** After any of them: the state (SUCCESS, FAILURE, RETRY) and the result or the error. */
  afterReturn?(ctx: TaskContext, state: string, resultOrError: unknown): unknown;
}

const HOOKS = ["onSuccess", "onFailure", "onRetry", "afterReturn"] as const;

/** An error class or an error name, for `autoretryFor` / `dontAutoretryFor`. */
export type ErrorMatcher = string | (abstract new (...args: never[]) => Error);

/** Options of `app.task({...}, fn)`. Durations in seconds. */
export interface TaskOptions extends TaskHooks {
  /** The task's name on the wire. Required. */
  name: string;
  /** Pass the task context as the handler's first argument. @default false */
  bind?: boolean;
  /**
   * Pass the message's keyword arguments (what a Python or Go producer sends as kwargs) as one
   * object after the positional ones, `{}` when there are none. Without it, a task that is not
   * bound fails with a TypeError when a message carries keyword arguments (docs/clients.md).
   * @default false
   */
  kwargs?: boolean;
  /** Queue used when no route matches. @default the app's defaultQueue */
  queue?: string;
  /** Retries allowed; null = forever. @default 3 */
  maxRetries?: number | null;
  /** Seconds before a retry when `ctx.retry()` names no countdown. @default 180 */
  defaultRetryDelay?: number;
  /** Exponential backoff for automatic retries: true (factor 1) or a factor in seconds. @default false */
  retryBackoff?: boolean | number;
  /** Longest backoff, seconds. @default 600 */
  retryBackoffMax?: number;
  /** Randomise the backoff (full jitter). @default true */
  retryJitter?: boolean;
  /** Errors that retry the task automatically. @default [] */
  autoretryFor?: ErrorMatcher[];
  /** Errors that never retry automatically, even if listed in autoretryFor. @default [] */
  dontAutoretryFor?: ErrorMatcher[];
  /** Ack after the task finishes (at-least-once); false acks on receipt (at-most-once). @default app's acksLate */
  acksLate?: boolean;
  /** Write STARTED when the task begins. @default app's trackStarted */
  trackStarted?: boolean;
  /** Store no result and send no notice. @default false */
  ignoreResult?: boolean;
  /** Hard time limit, seconds: the task is abandoned and fails with TimeLimitExceeded. @default none */
  timeLimit?: number;
  /** Soft time limit, seconds: `ctx.signal` aborts with SoftTimeLimitExceeded. @default none */
  softTimeLimit?: number;
  /** Default expiry of calls, seconds after sending. @default none */
  expires?: number;
  /**
   * When the child process or thread running the task dies (`-P process|threads`): true hands the
   * message back to be redelivered, false (Celery's default) fails it with WorkerLostError.
   * @default false
   */
  rejectOnWorkerLost?: boolean;
  /** At most this many starts per worker: `"10/s"`, `"100/m"`, `"5/h"` or a number per second. @default none */
  rateLimit?: string | number;
  /**
   * At most this many starts for all workers together: `"100/s"`, `"10/m"`, `"5/h"` or a number per
   * second. Starts are spaced evenly (no bursts); a task over the limit waits in the broker, never
   * in a worker slot. @default none
   */
  globalRateLimit?: string | number;
  /**
   * Default priority of calls: 0–9, higher runs first (RabbitMQ's order, as Celery on AMQP; Celery
   * on Redis and BullMQ count the other way). A call's `priority` overrides it. @default 0
   */
  priority?: number;
  /**
   * At most this many tasks of this name with the same `concurrencyKey` (a call option) run at
   * once across all workers; the others wait in the broker, holding no slot. Calls without a key
   * are not limited. @default none
   */
  keyConcurrency?: number;
}

/** What the worker and the producer read. */
export interface CompiledTaskOptions {
  name: string;
  bind: boolean;
  kwargs: boolean;
  queue: string | undefined;
  maxRetries: number | null;
  defaultRetryDelayMs: number;
  retryBackoff: number;
  retryBackoffMaxMs: number;
  retryJitter: boolean;
  autoretryFor: ErrorMatcher[];
  dontAutoretryFor: ErrorMatcher[];
  acksLate: boolean;
  trackStarted: boolean;
  rejectOnWorkerLost: boolean;
  ignoreResult: boolean;
  timeLimitMs: number | undefined;
  softTimeLimitMs: number | undefined;
  expiresMs: number | undefined;
  rateLimit: Rate | null;
  /** The hooks the task has; null when none (the common case costs nothing). */
  hooks: TaskHooks | null;
  globalRateLimit: Rate | null;
  priority: number;
  keyConcurrency: number | null;
}

/** Task defaults that do not depend on the app. */
export const TASK_DEFAULTS = {
  bind: false,
  kwargs: false,
  maxRetries: 3,
  defaultRetryDelay: 180,
  retryBackoff: false,
  retryBackoffMax: 600,
  retryJitter: true,
  ignoreResult: false,
} as const;

function optSeconds(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new ConfigError(field, `must be a positive number of seconds, got ${JSON.stringify(v)}`);
  }
  return v * 1000;
}

function matchers(v: unknown, field: string): ErrorMatcher[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((m) => typeof m === "string" || typeof m === "function")) {
    throw new ConfigError(field, "must be a list of error classes or error names");
  }
  return v as ErrorMatcher[];
}

/** Validates a task's options. `app` supplies the app-wide defaults. */
export function compileTaskOptions(
  o: TaskOptions,
  app: Pick<CompiledAppOptions, "acksLate" | "trackStarted">,
): CompiledTaskOptions {
  if (typeof o.name !== "string" || o.name.trim() === "" || /[\r\n]/.test(o.name)) {
    throw new ConfigError("name", `a task needs a non-empty name on one line, got ${JSON.stringify(o.name)}`);
  }
  const f = (k: string) => `task ${o.name}: ${k}`;
  const maxRetries = o.maxRetries === undefined ? TASK_DEFAULTS.maxRetries : o.maxRetries;
  if (maxRetries !== null && (!Number.isInteger(maxRetries) || maxRetries < 0)) {
    throw new ConfigError(f("maxRetries"), `must be an integer ≥ 0 or null, got ${JSON.stringify(maxRetries)}`);
  }
  const backoff = o.retryBackoff ?? TASK_DEFAULTS.retryBackoff;
  if (typeof backoff !== "boolean" && !(typeof backoff === "number" && backoff >= 0)) {
    throw new ConfigError(f("retryBackoff"), "must be true, false or a factor in seconds");
  }
  if (o.kwargs !== undefined && typeof o.kwargs !== "boolean") {
    throw new ConfigError(f("kwargs"), `must be true or false, got ${JSON.stringify(o.kwargs)}`);
  }
  const priority = o.priority ?? 0;
  const badPriority = invalidPriority(priority);
  if (badPriority) throw new ConfigError(f("priority"), badPriority);
  const keyConcurrency = o.keyConcurrency ?? null;
  if (keyConcurrency !== null && (!Number.isInteger(keyConcurrency) || keyConcurrency < 1)) {
    throw new ConfigError(f("keyConcurrency"), `must be an integer ≥ 1, got ${JSON.stringify(keyConcurrency)}`);
  }
  const delay = o.defaultRetryDelay ?? TASK_DEFAULTS.defaultRetryDelay;
  if (typeof delay !== "number" || !(delay >= 0)) throw new ConfigError(f("defaultRetryDelay"), "must be seconds ≥ 0");
  return {
    name: o.name,
    bind: Boolean(o.bind ?? TASK_DEFAULTS.bind),
    kwargs: o.kwargs ?? TASK_DEFAULTS.kwargs,
    queue: o.queue === undefined ? undefined : checkQueueName(o.queue, f("queue")),
    maxRetries,
    defaultRetryDelayMs: delay * 1000,
    retryBackoff: backoff === true ? 1 : backoff === false ? 0 : backoff,
    retryBackoffMaxMs: optSeconds(o.retryBackoffMax, f("retryBackoffMax")) ?? TASK_DEFAULTS.retryBackoffMax * 1000,
    retryJitter: o.retryJitter ?? TASK_DEFAULTS.retryJitter,
    autoretryFor: matchers(o.autoretryFor, f("autoretryFor")),
    dontAutoretryFor: matchers(o.dontAutoretryFor, f("dontAutoretryFor")),
    acksLate: o.acksLate ?? app.acksLate,
    trackStarted: o.trackStarted ?? app.trackStarted,
    rejectOnWorkerLost: o.rejectOnWorkerLost ?? false,
    ignoreResult: o.ignoreResult ?? TASK_DEFAULTS.ignoreResult,
    timeLimitMs: optSeconds(o.timeLimit, f("timeLimit")),
    softTimeLimitMs: optSeconds(o.softTimeLimit, f("softTimeLimit")),
    expiresMs: optSeconds(o.expires, f("expires")),
    rateLimit: parseRate(o.rateLimit, f("rateLimit")),
    hooks: compileHooks(o, f),
    globalRateLimit: parseRate(o.globalRateLimit, f("globalRateLimit")),
    priority,
    keyConcurrency,
  };
}

function compileHooks(o: TaskHooks, f: (k: string) => string): TaskHooks | null {
  let hooks: TaskHooks | null = null;
  for (const k of HOOKS) {
    const h = o[k];
    if (h === undefined) continue;
    if (typeof h !== "function") throw new ConfigError(f(k), `must be a function, got ${JSON.stringify(h)}`);
    (hooks ??= {})[k] = h as never;
  }
  return hooks;
}

/** True if `err` matches one of `list` (by class or by name, so it works across module copies). */
export function matchesError(err: unknown, list: ErrorMatcher[]): boolean {
  if (!(err instanceof Error)) return false;
  const name = err.name;
  return list.some((m) => typeof m === "string" ? name === m : err instanceof m || name === m.name);
}
