/**
 * Task hooks (the `onSuccess`, `onFailure`, `onRetry`, `afterReturn` task options) and the task
 * signals, dispatched by the worker that settles the task — whatever pool ran the handler, the
 * outcome comes back here — in Celery's order: the Task method, then its signal, then
 * `afterReturn`, then `taskPostrun`. Each is awaited, so hooks finish within the task's slot (and
 * within a warm shutdown); an error in one is logged and changes nothing else.
 */
import type { TaskContext } from "../context.ts";
import type { Logger } from "../log.ts";
import { Signal, type Signals } from "../signals.ts";
import { State } from "../states.ts";
import type { TaskHooks } from "../task-options.ts";
import type { Job, KnownJob, Outcome } from "./job.ts";

/** What hook dispatch needs from its worker. */
export interface HookDeps {
  signals: Signals;
  log: Logger;
  /** The worker's name (a field of its records). */
  hostname: string;
  /** A context for the job's task (as its handler had). */
  context(job: KnownJob): TaskContext;
}

/** Fires `taskPrerun` as the handler is about to be called. */
export function taskStarting(deps: HookDeps, job: KnownJob): void {
  if (deps.signals.has(Signal.TASK_PRERUN)) deps.signals.fire(Signal.TASK_PRERUN, { ctx: deps.context(job) });
}

/** Fires `taskRevoked` for a task settled as REVOKED. */
export function taskRevoked(deps: HookDeps, job: Job, outcome: Outcome): void {
  if (!deps.signals.has(Signal.TASK_REVOKED)) return;
  deps.signals.fire(Signal.TASK_REVOKED, {
    id: job.message?.id ?? "",
    name: job.message?.task ?? "",
    reason: outcome.kind === "revoked" ? outcome.reason : "revoked",
    terminated: job.terminated,
  });
}

const TASK_SIGNALS = [Signal.TASK_SUCCESS, Signal.TASK_FAILURE, Signal.TASK_RETRY, Signal.TASK_POSTRUN] as const;

/** True if the job's task has hooks or the app has task signal handlers (most have neither). */
export function hasHooks(deps: HookDeps, job: Job): boolean {
  return job.task?.options.hooks != null || TASK_SIGNALS.some((s) => deps.signals.has(s));
}

/**
 * Runs the hooks and signals of a task whose handler ran and whose outcome (`state`: SUCCESS,
 * FAILURE or RETRY) is settled. Never throws.
 */
export async function taskSettled(deps: HookDeps, job: Job, outcome: Outcome, state: string | null): Promise<void> {
  if (outcome.kind !== "success" && outcome.kind !== "failure" && outcome.kind !== "retry") return;
  if (state !== State.SUCCESS && state !== State.FAILURE && state !== State.RETRY) return;
  // Known, as any job whose handler ran.
  if (!job.isKnown() || !hasHooks(deps, job)) return;
  const hooks = job.task.options.hooks ?? null;
  const ctx = deps.context(job);
  const { signals } = deps;
  const value = outcome.kind === "success" && state === State.SUCCESS ? outcome.value : undefined;
  const error = state === State.SUCCESS ? undefined : errorOf(outcome);
  switch (state) {
    case State.SUCCESS:
      await call(deps, job, hooks, "onSuccess", ctx, value);
      await signals.emit(Signal.TASK_SUCCESS, { ctx, result: value });
      break;
    case State.FAILURE:
      await call(deps, job, hooks, "onFailure", ctx, error);
      await signals.emit(Signal.TASK_FAILURE, { ctx, error });
      break;
    case State.RETRY:
      await call(deps, job, hooks, "onRetry", ctx, error);
      await signals.emit(Signal.TASK_RETRY, { ctx, error });
      break;
  }
  if (hooks?.afterReturn) {
    try {
      await hooks.afterReturn(ctx, state, state === State.SUCCESS ? value : error);
    } catch (err) {
      hookFailed(deps, job, "afterReturn", err);
    }
  }
  await signals.emit(Signal.TASK_POSTRUN, state === State.SUCCESS ? { ctx, state, result: value } : { ctx, state, error });
}

/** The error a failed or retried outcome carries (a retry's cause when it names one). */
function errorOf(outcome: Outcome): unknown {
  if (outcome.kind === "failure") return outcome.error;
  if (outcome.kind === "retry") return outcome.retry.exc ?? outcome.retry;
  // A success whose value could not be stored became a FAILURE in settle.
  return new TypeError("the task's result could not be encoded (see its stored traceback)");
}

async function call(
  deps: HookDeps,
  job: Job,
  hooks: TaskHooks | null,
  name: "onSuccess" | "onFailure" | "onRetry",
  ctx: TaskContext,
  arg: unknown,
): Promise<void> {
  const h = hooks?.[name];
  if (!h) return;
  try {
    await h(ctx, arg);
  } catch (err) {
    hookFailed(deps, job, name, err);
  }
}

function hookFailed(deps: HookDeps, job: Job, hook: string, err: unknown): void {
  const m = job.message;
  const log = m && deps.log.bind ? deps.log.bind({ task: m.task, id: m.id, worker: deps.hostname }) : deps.log;
  log.error(`the ${hook} hook of task ${job.message?.task}[${job.message?.id}] failed (the task's result is unchanged)`, err);
}
