/**
 * Remote control on the wire: a request goes to `<p>.control.broadcast` (every worker) or to
 * `<p>.control.<worker>` (one); each worker that handles it answers on the request's `reply_to`
 * with `{ hostname, ticket, reply }`. Requests and replies are JSON, and the replies have the
 * shapes of Celery's (`{ ok: "pong" }`, lists of task infos, ...).
 */

/** Command names (Celery's). */
export const ControlCommand = {
  PING: "ping",
  ACTIVE: "active",
  RESERVED: "reserved",
  SCHEDULED: "scheduled",
  REGISTERED: "registered",
  STATS: "stats",
  REVOKED: "revoked",
  QUERY_TASK: "query_task",
  ACTIVE_QUEUES: "active_queues",
  REVOKE: "revoke",
  RATE_LIMIT: "rate_limit",
  SHUTDOWN: "shutdown",
  POOL_GROW: "pool_grow",
  POOL_SHRINK: "pool_shrink",
  AUTOSCALE: "autoscale",
  ADD_CONSUMER: "add_consumer",
  CANCEL_CONSUMER: "cancel_consumer",
  ENABLE_EVENTS: "enable_events",
  DISABLE_EVENTS: "disable_events",
  /** celeriac's own (Celery has none): persisted in KV before it is broadcast. */
  PAUSE_QUEUE: "pause_queue",
  RESUME_QUEUE: "resume_queue",
} as const;
/** A command name. */
export type ControlCommand = typeof ControlCommand[keyof typeof ControlCommand];

/** A control request. */
export interface ControlRequest {
  command: string;
  arguments: Record<string, unknown>;
  /** Where replies go; null when the sender wants none. */
  reply_to: string | null;
  /** Identifies this request's replies. */
  ticket: string;
  /** Workers that should act; null = all that receive it. */
  destination: string[] | null;
}

/** One worker's reply. */
export interface ControlReply {
  hostname: string;
  ticket: string;
  reply: unknown;
}

/** A task as `inspect active|reserved` and `query-task` show it (Celery's request info). */
export interface TaskInfo {
  id: string;
  name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  type: string;
  hostname: string;
  /** Epoch seconds it started, or null while waiting. */
  time_start: number | null;
  acknowledged: boolean;
  delivery_info: { exchange: string; routing_key: string; priority: number | null; redelivered: boolean };
  worker_pid: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a request or reply (JSON; BigInt as strings, so a task's odd argument cannot break it). */
export function encodeControl(v: ControlRequest | ControlReply): Uint8Array {
  return encoder.encode(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)));
}

/** Decodes a request or reply; null if unreadable. */
export function decodeControl<T extends ControlRequest | ControlReply>(bytes: Uint8Array): T | null {
  try {
    const v = JSON.parse(decoder.decode(bytes));
    return typeof v === "object" && v !== null ? (v as T) : null;
  } catch {
    return null;
  }
}
