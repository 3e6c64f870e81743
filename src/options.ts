/**
 * App options in three steps: the user's object ({@link CeleriacOptions}, every field documented
 * with its default) → {@link APP_DEFAULTS} → {@link compileAppOptions}, a pure function that
 * validates (naming the bad field), applies the environment, and converts seconds to ms.
 *
 * Precedence, as in Celery: command-line flags > environment (`CELERIAC_*`) > code > defaults.
 */
import { ConfigError } from "./errors.ts";
import { checkQueueName, NAME_PATTERN, type Names, namesFor } from "./names.ts";

export { checkQueueName };
import type { BrokerSettings } from "./broker/types.ts";
import type { BackendSettings } from "./backend/types.ts";
import { compileRedisHa, type RedisHa } from "./backend/redis-options.ts";
import { securityUrl } from "./backend/redis-target.ts";
import { SerializerName } from "./protocol/codec.ts";
import { type BeatEntry, type BeatOptions, checkBeatSchedule } from "./schedule/entry.ts";
import {
  type BackendOptions,
  type BackendSecurity,
  type BrokerSecurity,
  compileBackendSecurity,
  compileBrokerSecurity,
  type CompiledSigning,
  compileSigning,
  type NatsAuth,
  type SigningOptions,
  type TlsFiles,
} from "./security/options.ts";

/** Where a task goes: by exact name or glob (`emails.*`), or a function. */
export type TaskRoutes =
  | Record<string, { queue: string }>
  | ((taskName: string) => { queue: string } | undefined);

/** Broker tuning (JetStream stream and consumer settings). Durations in seconds. */
export interface BrokerOptions {
  /** Seconds before an unacked message is redelivered (JetStream `ack_wait`). @default 30 */
  ackWait?: number;
  /** Deliveries before a message is dead-lettered; -1 = unlimited. @default 5 */
  maxDeliver?: number;
  /** Unacked messages per queue across all workers (`max_ack_pending`). @default 1000 */
  maxAckPending?: number;
  /** Seconds in which a republished task id is dropped as a duplicate. @default 120 */
  duplicateWindow?: number;
  /** Seconds dead letters are kept. @default 2592000 (30 days) */
  dlqMaxAge?: number;
  /** Stream replicas: 1 on one server, 3 on a cluster. @default 1 */
  replicas?: number;
  /** Seconds a publish keeps retrying through a broker outage before it fails. @default 30 */
  publishTimeout?: number;
  /** Seconds events are kept in `<P>_EVENTS`, so a monitor started late sees recent history. @default 600 */
  eventsMaxAge?: number;
  /** Credentials (one kind); env `CELERIAC_NATS_*` replaces them. See docs/security.md. @default none */
  auth?: NatsAuth;
  /** TLS files (CA, client certificate and key); env `CELERIAC_NATS_TLS_CA`, `_CERT`, `_KEY`. Setting any turns TLS on. @default none */
  tls?: TlsFiles;
}

/** Tracing (OpenTelemetry, through the globally registered tracer provider). */
export interface TracingOptions {
  /** Open spans when a tracer provider is registered; false never does. @default true */
  enabled?: boolean;
  /**
   * The worker's `process` span starts a new trace that links to the producer's span, instead of
   * being its child (for very long workflows or fan-outs a backend struggles to show as one trace).
   * @default false
   */
  links?: boolean;
}

/** Options of `new Celeriac(...)`. */
export interface CeleriacOptions {
  /** Namespace of streams, subjects and keys. Env `CELERIAC_NAME`. @default "celeriac" */
  name?: string;
  /** `nats://host:port` (comma-separated for several), `tls://…`, or `memory://`. Env `CELERIAC_BROKER_URL`. @default "nats://127.0.0.1:4222" */
  brokerUrl?: string;
  /**
   * `redis://host:port/db`, `rediss://…`, `redis+sentinel://h1:26379,h2:26379/<master>/<db>`,
   * `redis+cluster://h1:7000,h2:7001`, or `memory://` (docs/redis-ha.md). Env `CELERIAC_RESULT_BACKEND`.
   * @default "redis://127.0.0.1:6379/0"
   */
  resultBackend?: string;
  /** Queue of tasks that name none and match no route. @default "celery" */
  defaultQueue?: string;
  /** Seconds results are kept; null = forever. @default 86400 */
  resultExpires?: number | null;
  /** Prefix of result keys; `celery-` lets Python Celery read them (with `resultSerializer: "json"`). @default "celeriac-" */
  resultKeyPrefix?: string;
  /** How results are stored. @default "msgpack" */
  resultSerializer?: SerializerName;
  /** Also store name, args, kwargs, worker, retries and queue in the result. @default false */
  resultExtended?: boolean;
  /** Routes by task name (exact or glob) or function. @default {} */
  taskRoutes?: TaskRoutes;
  /** Default for every task: write STARTED when a task begins. @default false */
  trackStarted?: boolean;
  /** Default for every task: ack after the task finishes (at-least-once). @default true */
  acksLate?: boolean;
  /** Broker tuning. */
  broker?: BrokerOptions;
  /** Periodic tasks, run by `celeriac beat` (or a worker with -B). @default {} */
  beatSchedule?: Record<string, BeatEntry>;
  /** Beat tuning (lease, catch-up window, missed-fire policy). */
  beat?: Omit<BeatOptions, "holder">;
  /** Workers send task events (Celery's `worker_send_task_events`; the CLI's `-E`). @default false */
  workerSendTaskEvents?: boolean;
  /** Callers send a `task-sent` event for each task they publish (Celery's `task_send_sent_event`). @default false */
  taskSendSentEvent?: boolean;
  /** Seconds a revocation is remembered (KV `<p>_revoked`), so a worker started later still refuses the task. @default 259200 (3 days) */
  revokeExpires?: number;
  /** OpenTelemetry tracing. */
  tracing?: TracingOptions;
  /** Result backend credentials and TLS files (docs/security.md); Sentinel and `WAIT` for replicas (docs/redis-ha.md). @default {} */
  backend?: BackendOptions;
  /** Message signing (opt-in, producers and workers). See docs/security.md. @default off */
  signing?: SigningOptions;
}

/** Defaults, defined once. */
export const APP_DEFAULTS = {
  name: "celeriac",
  brokerUrl: "nats://127.0.0.1:4222",
  resultBackend: "redis://127.0.0.1:6379/0",
  defaultQueue: "celery",
  resultExpires: 86_400,
  resultKeyPrefix: "celeriac-",
  resultSerializer: "msgpack",
  resultExtended: false,
  trackStarted: false,
  acksLate: true,
  broker: {
    ackWait: 30,
    maxDeliver: 5,
    maxAckPending: 1000,
    duplicateWindow: 120,
    dlqMaxAge: 30 * 86_400,
    replicas: 1,
    publishTimeout: 30,
    eventsMaxAge: 600,
  },
  workerSendTaskEvents: false,
  taskSendSentEvent: false,
  revokeExpires: 3 * 86_400,
  tracing: { enabled: true, links: false },
} as const;

/** Everything the internals read, validated and in milliseconds. */
export interface CompiledAppOptions {
  name: string;
  names: Names;
  brokerUrl: string;
  resultBackend: string;
  defaultQueue: string;
  resultExtended: boolean;
  trackStarted: boolean;
  acksLate: boolean;
  route: (taskName: string) => string | undefined;
  broker: BrokerSettings;
  backend: BackendSettings;
  /** Sentinel credentials and `WAIT` for replicas (Redis backends). */
  redis: RedisHa;
  beatSchedule: Record<string, BeatEntry>;
  beat: Omit<BeatOptions, "holder">;
  workerSendTaskEvents: boolean;
  taskSendSentEvent: boolean;
  revokeExpiresMs: number;
  /** How long events stay in the events stream. */
  eventsMaxAgeMs: number;
  tracing: Required<TracingOptions>;
  /** Credentials, TLS and signing, checked for shape (files are read at connect / first use). */
  security: { broker: BrokerSecurity; backend: BackendSecurity; signing: CompiledSigning | null };
}

/** Reads the `CELERIAC_*` variables that override code. */
export type EnvReader = (name: string) => string | undefined;

function seconds(v: unknown, field: string, opts: { min?: number; allowNull?: boolean } = {}): number | null {
  if (v === null && opts.allowNull) return null;
  if (typeof v !== "number" || !Number.isFinite(v) || v < (opts.min ?? 0)) {
    throw new ConfigError(field, `must be a number of seconds ≥ ${opts.min ?? 0}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function integer(v: unknown, field: string, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new ConfigError(field, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkUrl(url: unknown, field: string, schemes: string[]): string {
  if (typeof url !== "string" || url.trim() === "") throw new ConfigError(field, "must be a non-empty URL");
  if (url === "memory://" || url.startsWith("memory://")) return url;
  for (const part of url.split(",")) {
    let u: URL;
    try {
      u = new URL(part.trim());
    } catch {
      throw new ConfigError(field, `"${part}" is not a URL (expected ${schemes[0]}//host:port)`);
    }
    if (!schemes.includes(u.protocol)) {
      throw new ConfigError(
        field,
        `unsupported scheme "${u.protocol}" in "${part}"; use ${[...schemes, "memory:"].map((s) => s + "//").join(", ")}`,
      );
    }
    if (!u.hostname) throw new ConfigError(field, `"${part}" has no host`);
  }
  return url;
}

/** Glob to RegExp: `*` matches any run of characters (Celery's glob routes). */
function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

function compileRoutes(routes: TaskRoutes | undefined): (taskName: string) => string | undefined {
  if (routes === undefined) return () => undefined;
  if (typeof routes === "function") {
    return (name) => {
      const r = routes(name);
      return r ? checkQueueName(r.queue, `taskRoutes(${name}).queue`) : undefined;
    };
  }
  if (typeof routes !== "object" || routes === null) throw new ConfigError("taskRoutes", "must be an object or a function");
  const exact = new Map<string, string>();
  const globs: [RegExp, string][] = [];
  for (const [pattern, route] of Object.entries(routes)) {
    const queue = checkQueueName(route?.queue, `taskRoutes["${pattern}"].queue`);
    if (pattern.includes("*")) globs.push([globToRegExp(pattern), queue]);
    else exact.set(pattern, queue);
  }
  return (name) => exact.get(name) ?? globs.find(([re]) => re.test(name))?.[1];
}

/** Validates options and applies the environment. Pure: `env` is passed in. */
export function compileAppOptions(o: CeleriacOptions, env: EnvReader = () => undefined): CompiledAppOptions {
  if (typeof o !== "object" || o === null) throw new ConfigError("options", "must be an object");
  const name = env("CELERIAC_NAME") ?? o.name ?? APP_DEFAULTS.name;
  if (!NAME_PATTERN.test(name)) {
    throw new ConfigError("name", `invalid app name ${JSON.stringify(name)}: use letters, digits, "_" and "-"`);
  }
  const brokerUrl = checkUrl(env("CELERIAC_BROKER_URL") ?? o.brokerUrl ?? APP_DEFAULTS.brokerUrl, "brokerUrl", ["nats:", "tls:"]);
  const given = env("CELERIAC_RESULT_BACKEND") ?? o.resultBackend;
  if (given !== undefined && (typeof given !== "string" || given.trim() === "")) {
    throw new ConfigError("resultBackend", "must be a non-empty URL");
  }
  if (o.backend !== undefined && (typeof o.backend !== "object" || o.backend === null)) {
    throw new ConfigError("backend", "must be an object { username, password, tls, sentinel, waitReplicas, waitTimeout }");
  }
  const { resultBackend, target, ha } = compileRedisHa(given, APP_DEFAULTS.resultBackend, o.backend, env);
  const serializer = o.resultSerializer ?? APP_DEFAULTS.resultSerializer;
  if (!Object.values(SerializerName).includes(serializer)) {
    throw new ConfigError("resultSerializer", `must be "msgpack" or "json", got ${JSON.stringify(serializer)}`);
  }
  const expires = seconds(o.resultExpires === undefined ? APP_DEFAULTS.resultExpires : o.resultExpires, "resultExpires", {
    allowNull: true,
  });
  // Redis refuses an expiry of 0 ms; "never expire" is null.
  if (expires !== null && expires * 1000 < 1) {
    throw new ConfigError("resultExpires", `must be null (keep forever) or at least 0.001 seconds, got ${expires}`);
  }
  const keyPrefix = o.resultKeyPrefix ?? APP_DEFAULTS.resultKeyPrefix;
  if (typeof keyPrefix !== "string") throw new ConfigError("resultKeyPrefix", "must be a string");
  const b = { ...APP_DEFAULTS.broker, ...o.broker };
  const maxDeliver = integer(b.maxDeliver, "broker.maxDeliver", -1);
  if (maxDeliver === 0) throw new ConfigError("broker.maxDeliver", "must be -1 (unlimited) or ≥ 1");
  const memoryBroker = brokerUrl.startsWith("memory://");
  const urlHasCredentials = !memoryBroker && brokerUrl.split(",").some((p) => new URL(p.trim()).username !== "");
  const security = {
    broker: compileBrokerSecurity(o.broker, env, urlHasCredentials),
    backend: compileBackendSecurity(o.backend, env, target ? securityUrl(target) : null),
    signing: compileSigning(o.signing, env),
  };
  return {
    name,
    names: namesFor(name),
    brokerUrl,
    resultBackend,
    defaultQueue: checkQueueName(o.defaultQueue ?? APP_DEFAULTS.defaultQueue, "defaultQueue"),
    resultExtended: Boolean(o.resultExtended ?? APP_DEFAULTS.resultExtended),
    trackStarted: Boolean(o.trackStarted ?? APP_DEFAULTS.trackStarted),
    acksLate: Boolean(o.acksLate ?? APP_DEFAULTS.acksLate),
    route: compileRoutes(o.taskRoutes),
    broker: {
      ackWaitMs: seconds(b.ackWait, "broker.ackWait", { min: 1 })! * 1000,
      maxDeliver,
      maxAckPending: integer(b.maxAckPending, "broker.maxAckPending", 1),
      duplicateWindowMs: seconds(b.duplicateWindow, "broker.duplicateWindow", { min: 1 })! * 1000,
      dlqMaxAgeMs: seconds(b.dlqMaxAge, "broker.dlqMaxAge", { min: 1 })! * 1000,
      replicas: integer(b.replicas, "broker.replicas", 1),
      publishTimeoutMs: seconds(b.publishTimeout, "broker.publishTimeout", { min: 1 })! * 1000,
    },
    backend: {
      keyPrefix,
      serializer,
      resultExpiresMs: expires === null ? null : Math.ceil(expires * 1000),
    },
    redis: ha,
    beatSchedule: checkBeatSchedule(o.beatSchedule),
    beat: { ...o.beat },
    workerSendTaskEvents: Boolean(o.workerSendTaskEvents ?? APP_DEFAULTS.workerSendTaskEvents),
    taskSendSentEvent: Boolean(o.taskSendSentEvent ?? APP_DEFAULTS.taskSendSentEvent),
    revokeExpiresMs: seconds(o.revokeExpires ?? APP_DEFAULTS.revokeExpires, "revokeExpires", { min: 1 })! * 1000,
    eventsMaxAgeMs: seconds(b.eventsMaxAge, "broker.eventsMaxAge", { min: 1 })! * 1000,
    tracing: {
      enabled: Boolean(o.tracing?.enabled ?? APP_DEFAULTS.tracing.enabled),
      links: Boolean(o.tracing?.links ?? APP_DEFAULTS.tracing.links),
    },
    security,
  };
}
