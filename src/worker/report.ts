/**
 * How a worker reports a task: the payloads of its `task-*` emitter events and the log lines of
 * settled tasks (Celery's wording).
 */
import { type Logger, taskLogger } from "../log.ts";
import type { Job, Outcome } from "./job.ts";

/** A task as the worker reports it. */
export interface TaskEvent {
  id: string;
  name: string;
  queue: string;
  retries: number;
  deliveryCount: number;
  /** Set when the task ran. */
  runtimeMs?: number;
  /** The resulting state, when settled. */
  state?: string;
  /** Why it was rejected / revoked / failed, when it was. */
  reason?: string;
}

/** The emitter payload of a job. */
export function taskEvent(job: Job, extra: Partial<TaskEvent> = {}): TaskEvent {
  const m = job.message;
  return {
    id: m?.id ?? job.delivery.header("id") ?? "",
    name: m?.task ?? job.delivery.header("task") ?? "",
    queue: job.queue,
    retries: m?.retries ?? 0,
    deliveryCount: job.delivery.deliveryCount,
    ...extra,
  };
}

/** The `task-settled` payload. */
export function settledTaskEvent(job: Job, outcome: Outcome, state: string | null): TaskEvent {
  const reason = outcome.kind === "reject" || outcome.kind === "revoked"
    ? outcome.reason
    : outcome.kind === "failure"
    ? String((outcome.error as Error)?.message ?? outcome.error)
    : undefined;
  const runtimeMs = "runtimeMs" in outcome ? outcome.runtimeMs : undefined;
  return taskEvent(job, { state: state ?? outcome.kind, runtimeMs, reason });
}

/** Logs a settled task as Celery does (success and revocations at info, failures at error). */
export function logSettled(worker: Logger, hostname: string, job: Job, outcome: Outcome, state: string | null): void {
  const m = job.message;
  // The per-task logger is made only for a logger that takes structured fields (it costs a call).
  const log = m && worker.bind ? taskLogger(worker, m.task, m.id, hostname) : worker;
  if (outcome.kind === "success") {
    if (log.enabledFor("info")) log.info(`Task ${m?.task}[${m?.id}] succeeded in ${(outcome.runtimeMs / 1000).toFixed(6)}s`);
  } else if (outcome.kind === "failure" && state === "FAILURE") {
    log.error(`Task ${m?.task}[${m?.id}] raised`, outcome.error);
  } else if (outcome.kind === "revoked" && log.enabledFor("info")) {
    log.info(`Task ${m?.task}[${m?.id}] revoked: ${outcome.reason}`);
  }
}
