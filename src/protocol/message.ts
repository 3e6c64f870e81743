/**
 * The task message: Celery's protocol v2 carried by NATS. See docs/protocol.md.
 *
 * Headers hold only what a worker, the DLQ or the dashboard must read without decoding the body:
 * `task`, `id`, `Nats-Msg-Id` (JetStream's dedup key) and, when tracing, `traceparent`/`tracestate`.
 * Every other field rides in the msgpack body `[args, kwargs, embed, meta]`, where `meta` holds only
 * the fields that differ from their defaults (a fresh `delay()` carries just the version and reply
 * subject). Header count was chosen by measurement: see docs/protocol.md.
 */
import { pack, unpack } from "./codec.ts";
import { DecodeError } from "../errors.ts";

/** The body layout's version; a worker dead-letters versions it does not know. */
export const PROTOCOL_VERSION = 1;

/** Header names on the wire. */
export const Header = {
  TASK: "task",
  ID: "id",
  MSG_ID: "Nats-Msg-Id",
  TRACEPARENT: "traceparent",
  TRACESTATE: "tracestate",
  /** Optional; absent means msgpack. Anything else is dead-lettered as an unknown content type. */
  CONTENT_TYPE: "content-type",
  /** Added to dead letters: why the message was dead-lettered. */
  DLQ_REASON: "celeriac-dlq-reason",
  /** Added to dead letters: the queue it came from. */
  DLQ_QUEUE: "celeriac-dlq-queue",
  /** Added to dead letters: how many times it had been delivered. */
  DLQ_DELIVERIES: "celeriac-dlq-deliveries",
  /** Added to dead letters: the worker that dead-lettered it. */
  DLQ_WORKER: "celeriac-dlq-worker",
  /** Added to dead letters: when, as an ISO date. */
  DLQ_TIME: "celeriac-dlq-time",
} as const;

/** The only content type this version reads. */
export const CONTENT_TYPE_MSGPACK = "application/x-msgpack";

/** Header names a user may not set through `applyAsync({ headers })`. */
const RESERVED_HEADERS = new Set(Object.values(Header).map((h) => h.toLowerCase()));

/** A signature as it travels inside `embed` (Celery's dict form). */
export interface SignatureData {
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: Record<string, unknown>;
  subtask_type?: string | null;
  immutable: boolean;
  /** Members of a group / chain / chord, when subtask_type says so. */
  [extra: string]: unknown;
}

/** Celery's embed: what runs after this task. */
export interface Embed {
  callbacks: SignatureData[] | null;
  errbacks: SignatureData[] | null;
  chain: SignatureData[] | null;
  chord: SignatureData | null;
}

/** A task message, decoded. Field names follow Celery's protocol v2, in camelCase. */
export interface TaskMessage {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed: Embed | null;
  /** How many times this task has been retried. */
  retries: number;
  /** Not before this time, epoch ms. */
  eta?: number;
  /** Not after this time, epoch ms. */
  expires?: number;
  rootId?: string;
  parentId?: string;
  group?: string;
  groupIndex?: number;
  /** [hard, soft] time limits in seconds, overriding the task's. */
  timelimit?: [number | null, number | null];
  /** Host name of the producer. */
  origin?: string;
  ignoreResult?: boolean;
  /** Core NATS subject where the producer waits for the result notice. */
  replyTo?: string;
  /** The queue the producer routed it to (kept so a retry goes back to the same queue). */
  queue?: string;
  /** Headers the user set with `applyAsync({ headers })`. */
  headers?: Record<string, string>;
  traceparent?: string;
  tracestate?: string;
}

/** Bytes and headers, as a broker moves them. */
export interface WireMessage {
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Wire names of the meta fields (Celery's, snake_case). */
const META = {
  retries: "retries",
  eta: "eta",
  expires: "expires",
  rootId: "root_id",
  parentId: "parent_id",
  group: "group",
  groupIndex: "group_index",
  timelimit: "timelimit",
  origin: "origin",
  ignoreResult: "ignore_result",
  replyTo: "reply_to",
  queue: "queue",
} as const satisfies Partial<Record<keyof TaskMessage, string>>;

/** The JetStream dedup id: the task id, or `<id>:<retries>` for a retry. */
export function msgIdFor(id: string, retries: number): string {
  return retries > 0 ? `${id}:${retries}` : id;
}

/** Checks user headers: names may not collide with the protocol's. Returns the error or null. */
export function invalidUserHeader(headers: Record<string, string>): string | null {
  for (const [k, v] of Object.entries(headers)) {
    if (RESERVED_HEADERS.has(k.toLowerCase()) || k.toLowerCase().startsWith("nats-")) {
      return `header "${k}" is reserved by the protocol`;
    }
    if (typeof v !== "string") return `header "${k}" must be a string`;
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v) || k.includes(":") || k.trim() !== k || k === "") {
      return `header "${k}" has characters a NATS header cannot carry`;
    }
  }
  return null;
}

/** Encodes a task message for the broker. */
export function encodeTaskMessage(m: TaskMessage): WireMessage {
  const meta: Record<string, unknown> = { v: PROTOCOL_VERSION };
  for (const [field, wire] of Object.entries(META) as [keyof typeof META, string][]) {
    const value = m[field];
    if (value === undefined || value === null || value === false || (field === "retries" && value === 0)) continue;
    meta[wire] = value;
  }
  const headers: Record<string, string> = { ...(m.headers ?? {}) };
  headers[Header.TASK] = m.task;
  headers[Header.ID] = m.id;
  headers[Header.MSG_ID] = msgIdFor(m.id, m.retries);
  if (m.traceparent) headers[Header.TRACEPARENT] = m.traceparent;
  if (m.tracestate) headers[Header.TRACESTATE] = m.tracestate;
  const kwargs = Object.keys(m.kwargs).length === 0 ? null : m.kwargs;
  return { headers, body: pack([m.args, kwargs, m.embed, meta]) };
}

/** Reads a header from whatever the broker hands us. */
export type HeaderReader = (name: string) => string | undefined;

/** The headers a user set (everything that is not the protocol's own). */
export function userHeaders(all: Record<string, string>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(all)) {
    const l = k.toLowerCase();
    if (RESERVED_HEADERS.has(l) || l.startsWith("nats-")) continue;
    (out ??= {})[k] = v;
  }
  return out;
}

/** What can be known of a message before (or without) decoding its body. */
export interface Envelope {
  id: string | undefined;
  task: string | undefined;
}

/** Reads the id and task name from the headers alone. */
export function readEnvelope(header: HeaderReader): Envelope {
  return { id: header(Header.ID) || undefined, task: header(Header.TASK) || undefined };
}

/**
 * Decodes a delivered message. Throws {@link DecodeError} whose message is the dead-letter reason.
 * `allHeaders`, when given, supplies the user's headers.
 */
export function decodeTaskMessage(
  header: HeaderReader,
  body: Uint8Array,
  allHeaders?: () => Record<string, string>,
): TaskMessage {
  const { id, task } = readEnvelope(header);
  if (!id) throw new DecodeError(`missing required header "${Header.ID}"`);
  if (!task) throw new DecodeError(`missing required header "${Header.TASK}"`);
  const contentType = header(Header.CONTENT_TYPE);
  if (contentType !== undefined && contentType !== CONTENT_TYPE_MSGPACK) {
    throw new DecodeError(`unsupported content type "${contentType}" (this worker reads ${CONTENT_TYPE_MSGPACK})`);
  }
  const decoded = unpack(body);
  if (!Array.isArray(decoded) || decoded.length < 4) {
    throw new DecodeError("body is not a [args, kwargs, embed, meta] array");
  }
  const [args, kwargs, embed, meta] = decoded as [unknown, unknown, unknown, unknown];
  if (!isPlainObject(meta)) throw new DecodeError("body meta is not a map");
  if (meta.v !== PROTOCOL_VERSION) {
    throw new DecodeError(`unsupported protocol version ${String(meta.v)} (this worker reads ${PROTOCOL_VERSION})`);
  }
  if (!Array.isArray(args)) throw new DecodeError("body args is not an array");
  if (kwargs !== null && !isPlainObject(kwargs)) throw new DecodeError("body kwargs is not a map");
  if (embed !== null && !isPlainObject(embed)) throw new DecodeError("body embed is not a map");
  const m: TaskMessage = {
    id,
    task,
    args,
    kwargs: (kwargs as Record<string, unknown> | null) ?? {},
    embed: embed as Embed | null,
    retries: 0,
  };
  for (const [field, wire] of Object.entries(META) as [keyof typeof META, string][]) {
    const value = meta[wire];
    if (value !== undefined && value !== null) (m as unknown as Record<string, unknown>)[field] = value;
  }
  if (!Number.isInteger(m.retries) || m.retries < 0) throw new DecodeError("meta retries is not a count");
  for (const f of ["eta", "expires"] as const) {
    if (m[f] !== undefined && typeof m[f] !== "number") throw new DecodeError(`meta ${META[f]} is not epoch ms`);
  }
  const traceparent = header(Header.TRACEPARENT);
  if (traceparent) m.traceparent = traceparent;
  const tracestate = header(Header.TRACESTATE);
  if (tracestate) m.tracestate = tracestate;
  const user = allHeaders ? userHeaders(allHeaders()) : undefined;
  if (user) m.headers = user;
  return m;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) &&
    !(v instanceof Map) && !(v instanceof Set) && !(v instanceof Date);
}
