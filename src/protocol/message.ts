/**
 * The task message: Celery's protocol v2 carried by NATS. See docs/protocol.md.
 *
 * Headers hold only what a worker, the DLQ or the dashboard must read without decoding the body:
 * `task`, `id`, `Nats-Msg-Id` (JetStream's dedup key) and, when tracing, `traceparent`/`tracestate`.
 * Every other field rides in the body `[args, kwargs, embed, meta]` (msgpack; JSON from producers in
 * other languages, with `content-type: application/json`), where `meta` holds only
 * the fields that differ from their defaults (a fresh `delay()` carries just the version and reply
 * subject). Header count was chosen by measurement: see docs/protocol.md.
 */
import { pack, unpack } from "./codec.ts";
import { CONTENT_TYPE_JSON, parseJsonBody } from "./json-body.ts";
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
  /** Optional; absent means msgpack. `application/json` is read too; anything else is dead-lettered. */
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
  /**
   * Added to dead letters: the original's `Nats-Msg-Id` (the DLQ publish has its own). A replay
   * needs it to check a signature, which covers that header, before it re-signs the message.
   */
  DLQ_MSG_ID: "celeriac-dlq-msg-id",
  /** On a delayed message: the queue it moves to when due. */
  DELAYED_QUEUE: "celeriac-queue",
  /** On a delayed message: when it is due (epoch ms). */
  DELAYED_DUE: "celeriac-due",
  /** Set by the mover on a message it moved from the delayed stream. */
  MOVED: "celeriac-moved",
  /** Set on canvas follow-ups a worker publishes: run only if no result exists yet. */
  ONCE: "celeriac-once",
  /** The signature, when signing is on: `<alg>;<key id>;<signature>` (src/security/signing.ts). */
  SIG: "celeriac-sig",
  /**
   * The priority level 1–9 (absent means 0). The broker routes by it (a subject per level, see
   * docs/protocol.md); kept as a header so the delayed-task mover and the dashboard read it unopened.
   */
  PRIORITY: "priority",
} as const;

/** The headers a dead letter gains on top of the original's (left out on replay and unsigned). */
export const DLQ_HEADERS: readonly string[] = [
  Header.DLQ_REASON,
  Header.DLQ_QUEUE,
  Header.DLQ_DELIVERIES,
  Header.DLQ_WORKER,
  Header.DLQ_TIME,
  Header.DLQ_MSG_ID,
];

/** The content type of msgpack bodies (what celeriac sends; also what no content-type means). */
export const CONTENT_TYPE_MSGPACK = "application/x-msgpack";

/**
 * The body decoder for a `content-type` header: msgpack when absent. Parameters are ignored
 * (`application/json; charset=utf-8`: JSON is UTF-8 anyway, and the decoder insists on it).
 */
function bodyDecoder(contentType: string | undefined): (body: Uint8Array) => unknown {
  if (contentType === undefined) return unpack;
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (type === CONTENT_TYPE_MSGPACK) return unpack;
  if (type === CONTENT_TYPE_JSON) return parseJsonBody;
  throw new DecodeError(
    `unsupported content type "${contentType}" (this worker reads ${CONTENT_TYPE_MSGPACK} and ${CONTENT_TYPE_JSON})`,
  );
}

/** How many headers a message carries when the user set none and tracing is off. */
export const BASE_HEADER_COUNT = 3;

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
  /** The size of the chord header this task belongs to. */
  chordSize?: number;
  /** Headers the user set with `applyAsync({ headers })`. */
  headers?: Record<string, string>;
  /** Priority level 0–9, higher runs first (RabbitMQ / Celery-on-AMQP order); absent means 0. */
  priority?: number;
  /** Tasks of one name sharing this key run at most the task's `keyConcurrency` at once. */
  concurrencyKey?: string;
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
  chordSize: "chord_size",
  concurrencyKey: "concurrency_key",
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

/** Encodes a task message for the broker. Only fields that differ from their defaults are written. */
export function encodeTaskMessage(m: TaskMessage): WireMessage {
  // Written out field by field: this runs for every task sent.
  const meta: Record<string, unknown> = { v: PROTOCOL_VERSION };
  if (m.retries > 0) meta[META.retries] = m.retries;
  if (m.eta !== undefined) meta[META.eta] = m.eta;
  if (m.expires !== undefined) meta[META.expires] = m.expires;
  if (m.rootId !== undefined) meta[META.rootId] = m.rootId;
  if (m.parentId !== undefined) meta[META.parentId] = m.parentId;
  if (m.group !== undefined) meta[META.group] = m.group;
  if (m.groupIndex !== undefined) meta[META.groupIndex] = m.groupIndex;
  if (m.timelimit !== undefined) meta[META.timelimit] = m.timelimit;
  if (m.origin !== undefined) meta[META.origin] = m.origin;
  if (m.ignoreResult) meta[META.ignoreResult] = true;
  if (m.replyTo !== undefined) meta[META.replyTo] = m.replyTo;
  if (m.queue !== undefined) meta[META.queue] = m.queue;
  if (m.chordSize !== undefined) meta[META.chordSize] = m.chordSize;
  if (m.concurrencyKey !== undefined) meta[META.concurrencyKey] = m.concurrencyKey;
  const headers: Record<string, string> = m.headers ? { ...m.headers } : {};
  headers[Header.TASK] = m.task;
  headers[Header.ID] = m.id;
  headers[Header.MSG_ID] = msgIdFor(m.id, m.retries);
  if (m.traceparent) headers[Header.TRACEPARENT] = m.traceparent;
  if (m.tracestate) headers[Header.TRACESTATE] = m.tracestate;
  if (m.priority) headers[Header.PRIORITY] = String(m.priority);
  let kwargs: Record<string, unknown> | null = null;
  for (const _ in m.kwargs) {
    kwargs = m.kwargs;
    break;
  }
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
 * `allHeaders`, when given, supplies the user's headers (callers skip it when a message carries
 * only the protocol's own).
 */
export function decodeTaskMessage(
  header: HeaderReader,
  body: Uint8Array,
  allHeaders?: () => Record<string, string>,
): TaskMessage {
  const { id, task } = readEnvelope(header);
  if (!id) throw new DecodeError(`missing required header "${Header.ID}"`);
  if (!task) throw new DecodeError(`missing required header "${Header.TASK}"`);
  const decoded = bodyDecoder(header(Header.CONTENT_TYPE))(body);
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
  const retries = meta[META.retries];
  if (retries !== undefined && retries !== null) {
    if (!Number.isInteger(retries) || (retries as number) < 0) throw new DecodeError("meta retries is not a count");
    m.retries = retries as number;
  }
  const eta = metaTime(meta, META.eta);
  if (eta !== undefined) m.eta = eta;
  const expires = metaTime(meta, META.expires);
  if (expires !== undefined) m.expires = expires;
  m.rootId = metaString(meta, META.rootId);
  m.parentId = metaString(meta, META.parentId);
  m.group = metaString(meta, META.group);
  m.origin = metaString(meta, META.origin);
  m.replyTo = metaString(meta, META.replyTo);
  m.queue = metaString(meta, META.queue);
  const key = metaString(meta, META.concurrencyKey);
  if (key !== undefined) m.concurrencyKey = key;
  const gi = meta[META.groupIndex];
  if (typeof gi === "number") m.groupIndex = gi;
  const cs = meta[META.chordSize];
  if (typeof cs === "number") m.chordSize = cs;
  const tl = meta[META.timelimit];
  if (Array.isArray(tl)) m.timelimit = tl as [number | null, number | null];
  if (meta[META.ignoreResult] === true) m.ignoreResult = true;
  const traceparent = header(Header.TRACEPARENT);
  if (traceparent) m.traceparent = traceparent;
  const tracestate = header(Header.TRACESTATE);
  if (tracestate) m.tracestate = tracestate;
  const priority = priorityLevel(header(Header.PRIORITY));
  if (priority > 0) m.priority = priority;
  const user = allHeaders ? userHeaders(allHeaders()) : undefined;
  if (user) m.headers = user;
  return m;
}

/** The highest priority level; levels are 0 (the default, lowest) to this. */
export const MAX_PRIORITY = 9;

/**
 * Why `v` is not a priority level (an integer 0–9, higher runs first), or null when it is.
 * Celery on Redis and BullMQ count the other way (lower first); celeriac follows RabbitMQ.
 */
export function invalidPriority(v: unknown): string | null {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_PRIORITY
    ? null
    : `must be an integer from 0 to ${MAX_PRIORITY} (higher runs first), got ${JSON.stringify(v)}`;
}

/**
 * The level a `priority` header asks for: 0 when absent. A value that is not a level 0–9 counts
 * as 0 (a foreign producer's odd header must not lose the message; the subject it came on is the truth).
 */
export function priorityLevel(value: string | undefined): number {
  if (value === undefined || value.length !== 1) return 0;
  const n = value.charCodeAt(0) - 48;
  return n >= 0 && n <= MAX_PRIORITY ? n : 0;
}

/**
 * A time in `meta`: epoch ms as celeriac writes it, or — for producers in other languages — an
 * ISO 8601 text (what Celery writes, and what JSON has for a date) or a msgpack timestamp.
 */
function metaTime(meta: Record<string, unknown>, k: string): number | undefined {
  const v = meta[k];
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : v instanceof Date ? v.getTime() : NaN;
  if (!Number.isFinite(ms)) throw new DecodeError(`meta ${k} is not epoch ms or an ISO 8601 time`);
  return ms;
}

function metaString(meta: Record<string, unknown>, k: string): string | undefined {
  const v = meta[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new DecodeError(`meta ${k} is not a string`);
  return v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) &&
    !(v instanceof Map) && !(v instanceof Set) && !(v instanceof Date);
}
