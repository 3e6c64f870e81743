/**
 * The fields of each task event, from a job and its outcome (Celery's field names).
 */
import type { Job, Outcome } from "../worker/job.ts";
import { describeError } from "../errors.ts";
import { State } from "../states.ts";
import type { TaskMessage } from "../protocol/message.ts";
import { repr, TaskEventType } from "./event.ts";

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** `task-sent` (by the caller) or `task-received` (by the worker): what was asked. */
export function callFields(m: TaskMessage, queue: string): Record<string, unknown> {
  return {
    uuid: m.id,
    name: m.task,
    args: repr(m.args),
    kwargs: repr(m.kwargs),
    retries: m.retries,
    eta: iso(m.eta),
    expires: iso(m.expires),
    root_id: m.rootId ?? m.id,
    parent_id: m.parentId ?? null,
    group: m.group ?? null,
    queue,
    routing_key: queue,
    priority: m.priority ?? 0,
    trace_id: m.traceparent?.split("-")[1] ?? null,
  };
}

function exception(err: unknown): { exception: string; traceback: string | null } {
  const d = describeError(err);
  return { exception: `${d.type}(${JSON.stringify(d.message)})`, traceback: d.traceback };
}

/** The event that reports a settled outcome, or null when there is none to report. */
export function settledEvent(job: Job, outcome: Outcome, state: string | null): [string, Record<string, unknown>] | null {
  const m = job.message;
  const base = { uuid: m?.id ?? job.delivery.header("id") ?? "", name: m?.task ?? job.delivery.header("task") ?? "" };
  switch (state) {
    case State.SUCCESS: {
      const o = outcome as Extract<Outcome, { kind: "success" }>;
      return [TaskEventType.SUCCEEDED, { ...base, result: repr(o.value), runtime: o.runtimeMs / 1000 }];
    }
    case State.FAILURE: {
      const err = outcome.kind === "failure" ? outcome.error : outcome.kind === "retry" ? outcome.retry.exc ?? outcome.retry : outcome;
      const runtime = "runtimeMs" in outcome ? outcome.runtimeMs / 1000 : null;
      return [TaskEventType.FAILED, { ...base, ...exception(err), runtime }];
    }
    case State.RETRY: {
      const err = outcome.kind === "retry" ? outcome.retry.exc ?? outcome.retry : outcome.kind === "failure" ? outcome.error : null;
      return [TaskEventType.RETRIED, { ...base, ...exception(err) }];
    }
    case State.REVOKED: {
      const reason = outcome.kind === "revoked" ? outcome.reason : "revoked";
      return [TaskEventType.REVOKED, { ...base, terminated: reason === "terminated", expired: reason === "expired", signum: null, reason }];
    }
    case State.REJECTED:
      return [TaskEventType.REJECTED, { ...base, requeue: false, reason: outcome.kind === "reject" ? outcome.reason : null }];
  }
  if (outcome.kind === "reject" && outcome.requeue) {
    return [TaskEventType.REJECTED, { ...base, requeue: true, reason: outcome.reason }];
  }
  return null;
}
