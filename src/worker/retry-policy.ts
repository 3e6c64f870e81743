/**
 * When a failed task runs again: Celery's rules for `ctx.retry()` and `autoretryFor`.
 */
import type { CompiledTaskOptions } from "../task-options.ts";
import { matchesError } from "../task-options.ts";
import { MaxRetriesExceededError, Retry } from "../errors.ts";

/** Exponential backoff as in Celery: min(max, factor·2^retries), with full jitter in [0, that]. */
export function backoffMs(factor: number, retries: number, maxMs: number, jitter: boolean, random = Math.random): number {
  const ceiling = Math.min(maxMs, factor * 1000 * 2 ** retries);
  return jitter ? Math.floor(random() * (ceiling + 1)) : ceiling;
}

/** Turns an ordinary failure into a Retry when `autoretryFor` says so; otherwise null. */
export function autoRetryFor(err: unknown, task: CompiledTaskOptions, retries: number): Retry | null {
  if (task.autoretryFor.length === 0) return null;
  if (!matchesError(err, task.autoretryFor) || matchesError(err, task.dontAutoretryFor)) return null;
  const countdownMs = task.retryBackoff > 0
    ? backoffMs(task.retryBackoff, retries, task.retryBackoffMaxMs, task.retryJitter)
    : task.defaultRetryDelayMs;
  return new Retry({ countdown: countdownMs / 1000, exc: err });
}

/** The decision for a Retry: run again at `etaMs`, or fail with `error`. */
export type RetryDecision = { again: true; etaMs: number } | { again: false; error: unknown };

/** Decides a Retry against the task's limits. `retries` is the count before this retry. */
export function decideRetry(
  retry: Retry,
  task: CompiledTaskOptions,
  taskId: string,
  retries: number,
  now = Date.now(),
): RetryDecision {
  const max = retry.maxRetries !== undefined ? retry.maxRetries : task.maxRetries;
  if (max !== null && retries >= max) {
    // Celery: the original error if there was one, else MaxRetriesExceededError.
    return { again: false, error: retry.exc ?? new MaxRetriesExceededError(task.name, taskId, max) };
  }
  const etaMs = retry.eta ?? now + (retry.countdown !== undefined ? retry.countdown * 1000 : task.defaultRetryDelayMs);
  return { again: true, etaMs };
}
