/**
 * Task states, as in Celery. A task is PENDING until a worker has said anything about it.
 * Custom states (progress) are any other upper-case string written by `ctx.updateState`.
 */
export const State = {
  PENDING: "PENDING",
  RECEIVED: "RECEIVED",
  STARTED: "STARTED",
  SUCCESS: "SUCCESS",
  FAILURE: "FAILURE",
  RETRY: "RETRY",
  REVOKED: "REVOKED",
  REJECTED: "REJECTED",
} as const;

/** One of the built-in states. */
export type BuiltinState = typeof State[keyof typeof State];

/** A built-in state or a custom one (progress states written by a task). */
// deno-lint-ignore ban-types -- `string & {}` keeps the known names in editors' completions
export type TaskState = BuiltinState | (string & {});

/** States after which a task will not change again (Celery's READY_STATES). */
export const READY_STATES: ReadonlySet<string> = new Set([
  State.SUCCESS,
  State.FAILURE,
  State.REVOKED,
  State.REJECTED,
]);

/** Ready states that mean the task did not succeed (Celery's EXCEPTION_STATES, plus REJECTED). */
export const EXCEPTION_STATES: ReadonlySet<string> = new Set([
  State.FAILURE,
  State.REVOKED,
  State.REJECTED,
  State.RETRY,
]);

/** True when `state` is final. */
export function isReady(state: string): boolean {
  return READY_STATES.has(state);
}

/** The custom state `ctx.progress(value)` records (Celery's convention for progress). */
export const PROGRESS_STATE = "PROGRESS";

/**
 * True for a state a task reports while it runs (`ctx.progress`, `ctx.updateState` with a custom
 * state): these reach a caller's `onProgress`. The worker's own states (RECEIVED, STARTED, RETRY)
 * and the ready ones do not.
 */
export function isProgressState(state: string): boolean {
  return !(state in State);
}
