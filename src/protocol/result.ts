/**
 * The result record: the value stored under `<keyPrefix>task-meta-<id>`, with the fields of
 * Celery's, so that with the JSON serializer and the `celery-` prefix a Python client reads it.
 *
 * `status` is always the first key: the backend's write guard ("a SUCCESS is never overwritten")
 * recognises a stored SUCCESS from the first bytes of the value without decoding it.
 */
import { describeError, type RemoteError } from "../errors.ts";
import type { TaskState } from "../states.ts";

/** Celery's description of an exception, as stored in `result` on FAILURE. */
export interface ExceptionInfo {
  exc_type: string;
  exc_message: string[];
  exc_module: string;
}

/** A stored task state and its outcome. */
export interface ResultRecord {
  status: TaskState;
  /** The return value on SUCCESS, {@link ExceptionInfo} on FAILURE/REVOKED/REJECTED/RETRY, meta for custom states. */
  result: unknown;
  traceback: string | null;
  children: unknown[];
  /** ISO date when the task reached a ready state, else null. */
  date_done: string | null;
  task_id: string;
  /** Extended fields (`resultExtended`). */
  name?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  worker?: string;
  retries?: number;
  queue?: string;
  /** Parent/group bookkeeping. */
  parent_id?: string;
  root_id?: string;
  group_id?: string;
}

/**
 * Marks a notice that stands in for a record too large to travel on NATS: the client reads the
 * record from the backend instead (docs/protocol.md, "The result notice").
 */
export const NOTICE_IN_BACKEND = "celeriac_in_backend";

/** Builds a record; `status` first, as the write guard needs. Undefined extras are left out. */
export function makeRecord(
  taskId: string,
  status: TaskState,
  result: unknown,
  extra: Partial<Omit<ResultRecord, "status" | "result" | "task_id">> = {},
): ResultRecord {
  const r: ResultRecord = {
    status,
    result,
    traceback: extra.traceback ?? null,
    children: extra.children ?? [],
    date_done: extra.date_done ?? null,
    task_id: taskId,
  };
  // A plain loop (no spread, no closures): this runs for every task on the worker's hot path.
  for (const k in extra) {
    if (k === "traceback" || k === "children" || k === "date_done") continue;
    const v = (extra as Record<string, unknown>)[k];
    if (v !== undefined) (r as unknown as Record<string, unknown>)[k] = v;
  }
  return r;
}

let isoMs = 0;
let isoText = "";
/** Now as an ISO date (Celery's `date_done`); the text is reused within one millisecond. */
export function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** Celery's exception info for an error. */
export function exceptionInfo(err: RemoteError | unknown): ExceptionInfo {
  const d = isRemoteError(err) ? err : describeError(err);
  return { exc_type: d.type, exc_message: [d.message], exc_module: d.module ?? "celeriac" };
}

/** Reads a RemoteError back out of a stored record. */
export function remoteErrorOf(record: ResultRecord): RemoteError {
  const r = record.result as Partial<ExceptionInfo> | null | undefined;
  const message = Array.isArray(r?.exc_message) ? r.exc_message.map(String).join(", ") : String(r?.exc_message ?? "");
  return {
    type: typeof r?.exc_type === "string" ? r.exc_type : record.status,
    message,
    traceback: record.traceback,
    module: typeof r?.exc_module === "string" ? r.exc_module : undefined,
  };
}

function isRemoteError(v: unknown): v is RemoteError {
  return typeof v === "object" && v !== null && typeof (v as RemoteError).type === "string" &&
    typeof (v as RemoteError).message === "string" && !(v instanceof Error);
}

/** Validates a decoded value as a record; null if it is not one. */
export function asRecord(v: unknown): ResultRecord | null {
  if (typeof v !== "object" || v === null) return null;
  const r = v as ResultRecord;
  return typeof r.status === "string" && typeof r.task_id === "string" ? r : null;
}
