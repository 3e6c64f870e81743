/**
 * Worker options: user object → defaults → compiled (validated, ms).
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError } from "../errors.ts";
import { checkQueueName } from "../options.ts";
import { cpuCount, hostname as machineName } from "../runtime/mod.ts";
import { isLogger, type Logger } from "../log.ts";

/**
 * Execution pools: `async` runs handlers in the worker's event loop (I/O-bound tasks); `threads`
 * in worker threads and `process` in child processes (CPU-bound or untrusted code: a hard time
 * limit or revoke-terminate stops them for real). See docs/architecture.md.
 */
export const Pool = { ASYNC: "async", THREADS: "threads", PROCESS: "process" } as const;
/** A pool name. */
export type Pool = typeof Pool[keyof typeof Pool];

/** Options of `app.worker(...)`. Durations in seconds. */
export interface WorkerOptions {
  /** Queues to consume. @default [app's defaultQueue] */
  queues?: string[];
  /** Tasks run at once (slots). @default 16 for the async pool; the number of CPU cores for threads and process */
  concurrency?: number;
  /** Execution pool. @default "async" */
  pool?: Pool;
  /**
   * The module children load to find the app and its tasks (`threads` and `process` pools): a
   * file URL or path, usually `import.meta.url` of the module that defines the app. It must export
   * the app as `app` or as its default export. A module that also starts the worker must not start
   * it again in a child: guard with `isPoolChild()`. The CLI sets it from `-A`.
   * @default none (required by the threads and process pools)
   */
  appModule?: string | URL;
  /** Hard time limit for tasks that set none, seconds (Celery's task_time_limit). @default none */
  timeLimit?: number;
  /** Soft time limit for tasks that set none, seconds. @default none */
  softTimeLimit?: number;
  /** A child is replaced after running this many tasks (threads, process). @default no limit */
  maxTasksPerChild?: number;
  /**
   * A child is replaced after a task that leaves it above this much memory, KiB (threads: the
   * thread's heap and buffers; process: the child's RSS). @default no limit
   */
  maxMemoryPerChild?: number;
  /**
   * `[max, min]`: the pool grows up to `max` while tasks wait in its queues and shrinks back to
   * `min` when slots stay idle. `concurrency` is then the starting size (default `min`).
   * @default off
   */
  autoscale?: [number, number];
  /** Seconds slots stay idle before autoscale shrinks the pool (Celery's keepalive). @default 30 */
  autoscaleKeepalive?: number;
  /** Worker name, `name@host`. @default "celeriac@<hostname>" */
  hostname?: string;
  /** Seconds a warm shutdown lets running tasks finish before handing them back. @default 30 */
  gracePeriod?: number;
  /**
   * Where the worker logs: every record of the worker and of its tasks (`ctx.log`). With a `bind`
   * method, each task's records carry the fields `task`, `id` and `worker`. @default the app's logger
   */
  logger?: Logger;
  /** Take part in moving due delayed tasks (ETA, countdown, retry delays) to their queues. @default true */
  mover?: boolean;
  /** Send task events (the CLI's `-E`). @default the app's workerSendTaskEvents */
  events?: boolean;
  /** Seconds between heartbeats. @default 2 */
  heartbeatInterval?: number;
  /** Serve /livez, /readyz and /metrics on this port (0 = any free port). @default off */
  healthPort?: number;
  /** Address the health server binds. @default "0.0.0.0" */
  healthHost?: string;
  /**
   * Largest message body this worker decodes, in bytes; a larger one is dead-lettered ("oversized")
   * without being decoded. NATS's own `max_payload` (1 MB by default) bounds publishes too.
   * @default 1048576 (1 MiB)
   */
  maxMessageBytes?: number;
}

/** What the worker reads. */
export interface CompiledWorkerOptions {
  queues: string[];
  concurrency: number;
  pool: Pool;
  /** The app module's URL (threads, process). */
  appModule: string | null;
  timeLimitMs: number | null;
  softTimeLimitMs: number | null;
  maxTasksPerChild: number | null;
  maxMemoryPerChildKiB: number | null;
  autoscale: { max: number; min: number } | null;
  autoscaleKeepaliveMs: number;
  hostname: string;
  gracePeriodMs: number;
  mover: boolean;
  /** null = the app's setting. */
  events: boolean | null;
  heartbeatMs: number;
  healthPort: number | null;
  healthHost: string;
  maxMessageBytes: number;
  /** null = the app's logger. */
  logger: Logger | null;
}

/** Defaults, defined once. */
export const WORKER_DEFAULTS = {
  concurrency: 16,
  pool: "async",
  gracePeriod: 30,
  heartbeatInterval: 2,
  healthHost: "0.0.0.0",
  maxMessageBytes: 1_048_576,
} as const;

/** Validates worker options; `defaultQueue` comes from the app. */
export function compileWorkerOptions(o: WorkerOptions, defaultQueue: string): CompiledWorkerOptions {
  const queues = o.queues ?? [defaultQueue];
  if (!Array.isArray(queues) || queues.length === 0) throw new ConfigError("queues", "must list at least one queue");
  queues.forEach((q, i) => checkQueueName(q, `queues[${i}]`));
  if (new Set(queues).size !== queues.length) throw new ConfigError("queues", "lists a queue twice");
  const autoscale = compileAutoscale(o.autoscale);
  if (autoscale && autoscale.min < queues.length) {
    throw new ConfigError("autoscale", `min ${autoscale.min} is less than the ${queues.length} queues to consume; each queue needs a slot`);
  }
  // A child per slot costs a runtime each, and CPU-bound work gains nothing beyond the cores (Celery's default).
  const childPool = o.pool === Pool.THREADS || o.pool === Pool.PROCESS;
  const concurrency = o.concurrency ?? autoscale?.min ?? (childPool ? Math.max(cpuCount(), queues.length) : WORKER_DEFAULTS.concurrency);
  if (typeof concurrency !== "number" || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new ConfigError("concurrency", `must be an integer ≥ 1, got ${JSON.stringify(concurrency)}`);
  }
  if (concurrency < queues.length) {
    throw new ConfigError("concurrency", `${concurrency} is less than the ${queues.length} queues to consume; each queue needs a slot`);
  }
  const pool = o.pool ?? WORKER_DEFAULTS.pool;
  if (!Object.values(Pool).includes(pool)) {
    throw new ConfigError("pool", `unknown pool ${JSON.stringify(pool)}; use "async", "threads" or "process"`);
  }
  if (autoscale && (concurrency < autoscale.min || concurrency > autoscale.max)) {
    throw new ConfigError("concurrency", `${concurrency} is outside autoscale's range ${autoscale.min}-${autoscale.max}`);
  }
  const appModule = o.appModule === undefined ? null : moduleUrl(o.appModule);
  if (pool !== Pool.ASYNC && appModule === null) {
    throw new ConfigError(
      "appModule",
      `the "${pool}" pool needs the module that defines the app, for its children to load: appModule: import.meta.url (the CLI sets it from -A)`,
    );
  }
  const perChild = (v: number | undefined, field: string) => {
    if (v === undefined) return null;
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(field, `must be an integer ≥ 1, got ${JSON.stringify(v)}`);
    if (pool === Pool.ASYNC) throw new ConfigError(field, `applies to the threads and process pools (children), not to "async"`);
    return v;
  };
  const maxTasksPerChild = perChild(o.maxTasksPerChild, "maxTasksPerChild");
  const maxMemoryPerChildKiB = perChild(o.maxMemoryPerChild, "maxMemoryPerChild");
  const limit = (v: number | undefined, field: string) => {
    if (v === undefined) return null;
    if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
      throw new ConfigError(field, `must be seconds > 0, got ${JSON.stringify(v)}`);
    }
    return v * 1000;
  };
  const grace = o.gracePeriod ?? WORKER_DEFAULTS.gracePeriod;
  if (typeof grace !== "number" || !(grace >= 0)) throw new ConfigError("gracePeriod", "must be seconds ≥ 0");
  const hostname = o.hostname ?? `celeriac@${machineName()}`;
  if (typeof hostname !== "string" || hostname.trim() === "" || /\s/.test(hostname)) {
    throw new ConfigError("hostname", `must be a name without spaces, got ${JSON.stringify(hostname)}`);
  }
  const maxMessageBytes = o.maxMessageBytes ?? WORKER_DEFAULTS.maxMessageBytes;
  if (typeof maxMessageBytes !== "number" || !Number.isInteger(maxMessageBytes) || maxMessageBytes < 1024) {
    throw new ConfigError("maxMessageBytes", `must be an integer ≥ 1024 (bytes), got ${JSON.stringify(maxMessageBytes)}`);
  }
  const beat = o.heartbeatInterval ?? WORKER_DEFAULTS.heartbeatInterval;
  if (typeof beat !== "number" || !(beat >= 0.05)) throw new ConfigError("heartbeatInterval", "must be seconds ≥ 0.05");
  const port = o.healthPort ?? null;
  if (port !== null && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new ConfigError("healthPort", `must be a port number 0-65535, got ${JSON.stringify(port)}`);
  }
  if (o.logger !== undefined && !isLogger(o.logger)) {
    throw new ConfigError(
      "logger",
      "must be a Logger: an object with debug, info, warn, error, child and enabledFor methods (and optionally bind)",
    );
  }
  return {
    logger: o.logger ?? null,
    queues,
    concurrency,
    pool,
    appModule,
    timeLimitMs: limit(o.timeLimit, "timeLimit"),
    softTimeLimitMs: limit(o.softTimeLimit, "softTimeLimit"),
    maxTasksPerChild,
    maxMemoryPerChildKiB,
    autoscale,
    autoscaleKeepaliveMs: limit(o.autoscaleKeepalive, "autoscaleKeepalive") ?? 30_000,
    hostname,
    gracePeriodMs: grace * 1000,
    mover: o.mover ?? true,
    events: o.events ?? null,
    heartbeatMs: beat * 1000,
    healthPort: port,
    healthHost: o.healthHost ?? WORKER_DEFAULTS.healthHost,
    maxMessageBytes,
  };
}

function compileAutoscale(v: [number, number] | undefined): { max: number; min: number } | null {
  if (v === undefined) return null;
  const ok = Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n) && n >= 1) && v[0] >= v[1];
  if (!ok) throw new ConfigError("autoscale", `must be [max, min] with integers max ≥ min ≥ 1, got ${JSON.stringify(v)}`);
  return { max: v[0], min: v[1] };
}

/** A module's URL from a URL or a path (absolute, or relative to the working directory). */
function moduleUrl(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (typeof m !== "string" || m === "") throw new ConfigError("appModule", `must be a module URL or path, got ${JSON.stringify(m)}`);
  if (/^[a-z][a-z0-9+.-]*:/i.test(m) && !/^[a-z]:[\\/]/i.test(m)) return m;
  return pathToFileURL(path.resolve(m)).href;
}
