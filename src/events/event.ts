/**
 * Events, as Celery's: a flat JSON object with `type` (`task-received`, `worker-heartbeat`, ...),
 * `hostname`, `timestamp` (epoch seconds), `clock` (the sender's Lamport clock), `pid`,
 * `utcoffset`, and the fields of its type. JSON, not msgpack: events are read by dashboards and
 * by people (`celeriac events --json`), and they are off the hot path unless `-E` is given.
 */

/** Event types, by group. */
export const TaskEventType = {
  SENT: "task-sent",
  RECEIVED: "task-received",
  STARTED: "task-started",
  SUCCEEDED: "task-succeeded",
  FAILED: "task-failed",
  RETRIED: "task-retried",
  REVOKED: "task-revoked",
  REJECTED: "task-rejected",
} as const;
/** A task event type. */
export type TaskEventType = typeof TaskEventType[keyof typeof TaskEventType];

/** Worker event types. */
export const WorkerEventType = {
  ONLINE: "worker-online",
  HEARTBEAT: "worker-heartbeat",
  OFFLINE: "worker-offline",
} as const;
/** A worker event type. */
export type WorkerEventType = typeof WorkerEventType[keyof typeof WorkerEventType];

/** An event as sent and received. */
export interface CeleriacEvent {
  // deno-lint-ignore ban-types -- `string & {}` keeps the known names in editors' completions
  type: TaskEventType | WorkerEventType | (string & {});
  hostname: string;
  /** Epoch seconds (float), as Celery. */
  timestamp: number;
  /** The sender's Lamport clock. */
  clock: number;
  pid: number;
  /** Hours west of UTC, as Celery. */
  utcoffset: number;
  /** Task events: the task id. */
  uuid?: string;
  /** Set by the receiver: when it got the event (epoch seconds). */
  local_received?: number;
  [field: string]: unknown;
}

/** The longest `args`, `kwargs` or `result` repr an event carries (Celery's default is 1024 too). */
export const REPR_MAX = 1024;

/** A short, readable rendering of a value for an event (Celery's `argsrepr` / `result` repr). */
export function repr(value: unknown, max = REPR_MAX): string {
  let s: string;
  try {
    s = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value, (_k, v) => {
      if (typeof v === "bigint") return `${v}n`;
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      if (v instanceof Uint8Array) return `<${v.length} bytes>`;
      return v;
    }) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes an event for the wire. */
export function encodeEvent(e: CeleriacEvent): Uint8Array {
  return encoder.encode(JSON.stringify(e));
}

/** Decodes an event; null if the bytes are not one. */
export function decodeEvent(bytes: Uint8Array): CeleriacEvent | null {
  try {
    const v = JSON.parse(decoder.decode(bytes));
    if (typeof v !== "object" || v === null || typeof v.type !== "string" || typeof v.hostname !== "string") return null;
    return v as CeleriacEvent;
  } catch {
    return null;
  }
}
