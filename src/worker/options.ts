/**
 * Worker options: user object → defaults → compiled (validated, ms).
 */
import { ConfigError } from "../errors.ts";
import { checkQueueName } from "../options.ts";
import { hostname as machineName } from "../runtime/mod.ts";
import { isLogger, type Logger } from "../log.ts";

/** Execution pools. Only `async` runs tasks today (see docs/architecture.md). */
export const Pool = { ASYNC: "async", THREADS: "threads", PROCESS: "process" } as const;
/** A pool name. */
export type Pool = typeof Pool[keyof typeof Pool];

/** Options of `app.worker(...)`. Durations in seconds. */
export interface WorkerOptions {
  /** Queues to consume. @default [app's defaultQueue] */
  queues?: string[];
  /** Tasks run at once (slots). @default 16 */
  concurrency?: number;
  /** Execution pool. @default "async" */
  pool?: Pool;
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
  const concurrency = o.concurrency ?? WORKER_DEFAULTS.concurrency;
  if (typeof concurrency !== "number" || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new ConfigError("concurrency", `must be an integer ≥ 1, got ${JSON.stringify(concurrency)}`);
  }
  if (concurrency < queues.length) {
    throw new ConfigError("concurrency", `${concurrency} is less than the ${queues.length} queues to consume; each queue needs a slot`);
  }
  const pool = o.pool ?? WORKER_DEFAULTS.pool;
  if (!Object.values(Pool).includes(pool)) {
    throw new ConfigError("pool", `unknown pool ${JSON.stringify(pool)}; use "async"`);
  }
  if (pool !== Pool.ASYNC) {
    throw new ConfigError("pool", `the "${pool}" pool is not available yet; use "async" (tasks run in the event loop)`);
  }
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
    throw new ConfigError("logger", "must be a Logger: an object with debug, info, warn, error, child and enabledFor methods (and optionally bind)");
  }
  return {
    logger: o.logger ?? null,
    queues,
    concurrency,
    pool,
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
