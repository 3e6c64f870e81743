/**
 * The high-availability part of the backend options: Sentinel, Cluster and `WAIT` for replicas.
 * Compiled once at start-up, naming the field at fault.
 */
import { ConfigError } from "../errors.ts";
import { parseRedisTarget, type RedisTarget, type SentinelAuth, type SentinelOptions, sentinelUrl } from "./redis-target.ts";

/** Backend durability and topology options (under `backend` in the app options). */
export interface RedisHaOptions {
  /** Sentinel fields, instead of (or, for the sentinels' own credentials, besides) a `redis+sentinel://` URL. @default none */
  sentinel?: SentinelOptions;
  /**
   * Replicas that must hold a result before its task is acked: each write of a final result, chord
   * join and stored chain is followed by Redis `WAIT`. 0 acks as soon as the master has it (a failover can then lose it). If fewer
   * replicas acknowledge within `waitTimeout`, the write counts as failed: the worker keeps
   * retrying it and does not ack the task meanwhile (docs/redis-ha.md). Not on `redis+cluster://`.
   * @default 0
   */
  waitReplicas?: number;
  /** Seconds one `WAIT` may block before the write counts as failed and is retried. @default 1 */
  waitTimeout?: number;
}

/** Compiled HA settings the Redis adapter reads. */
export interface RedisHa {
  /** The sentinels' own credentials. */
  sentinelAuth: SentinelAuth;
  /** Replicas `WAIT` asks for; 0 = no `WAIT`. */
  waitReplicas: number;
  waitTimeoutMs: number;
}

/** Defaults, defined once. */
export const REDIS_HA_DEFAULTS = { waitReplicas: 0, waitTimeout: 1 } as const;

/** No Sentinel credentials, no `WAIT`: what a backend built without options uses. */
export const NO_HA: RedisHa = { sentinelAuth: {}, waitReplicas: 0, waitTimeoutMs: 1000 };

type EnvReader = (name: string) => string | undefined;

/**
 * Settles the result backend URL and the HA settings. `given` is the URL from the environment or
 * the options (undefined if neither set one); `fallback` the default URL.
 */
export function compileRedisHa(
  given: string | undefined,
  fallback: string,
  o: RedisHaOptions | undefined,
  env: EnvReader,
): { resultBackend: string; target: RedisTarget | null; ha: RedisHa } {
  const s = o?.sentinel;
  if (s !== undefined && (typeof s !== "object" || s === null)) {
    throw new ConfigError("backend.sentinel", "must be an object { sentinels, masterName, db, username, password, tls }");
  }
  const placed = s?.sentinels !== undefined || s?.masterName !== undefined;
  let resultBackend = given ?? fallback;
  if (placed) {
    if (given !== undefined) {
      throw new ConfigError(
        "backend.sentinel",
        "resultBackend (or CELERIAC_RESULT_BACKEND) is set and so are backend.sentinel.sentinels / .masterName; keep one",
      );
    }
    resultBackend = sentinelUrl(s!);
  } else if (s?.db !== undefined || s?.tls !== undefined) {
    throw new ConfigError(
      "backend.sentinel",
      "db and tls go with backend.sentinel.sentinels and .masterName (or in a redis+sentinel:// URL)",
    );
  }
  const memory = resultBackend.startsWith("memory://");
  const target = memory ? null : parseRedisTarget(resultBackend, "resultBackend");
  const username = env("CELERIAC_REDIS_SENTINEL_USER") ?? s?.username;
  const password = env("CELERIAC_REDIS_SENTINEL_PASSWORD") ?? s?.password;
  for (const [v, f] of [[username, "username"], [password, "password"]] as const) {
    if (v !== undefined && typeof v !== "string") throw new ConfigError(`backend.sentinel.${f}`, "must be a string");
  }
  if ((username !== undefined || password !== undefined) && target?.kind !== "sentinel") {
    throw new ConfigError("backend.sentinel.password", `sentinel credentials are set but resultBackend is not a redis+sentinel:// URL`);
  }
  const waitReplicas = o?.waitReplicas ?? REDIS_HA_DEFAULTS.waitReplicas;
  if (!Number.isInteger(waitReplicas) || waitReplicas < 0) {
    throw new ConfigError("backend.waitReplicas", `must be an integer ≥ 0, got ${JSON.stringify(waitReplicas)}`);
  }
  const waitTimeout = o?.waitTimeout ?? REDIS_HA_DEFAULTS.waitTimeout;
  if (typeof waitTimeout !== "number" || !Number.isFinite(waitTimeout) || waitTimeout * 1000 < 1) {
    // WAIT with 0 blocks forever: a lost replica would stall every worker without a word.
    throw new ConfigError("backend.waitTimeout", `must be a number of seconds ≥ 0.001, got ${JSON.stringify(waitTimeout)}`);
  }
  if (waitReplicas > 0 && memory) throw new ConfigError("backend.waitReplicas", "memory:// has no replicas to wait for");
  if (waitReplicas > 0 && target?.kind === "cluster") {
    throw new ConfigError(
      "backend.waitReplicas",
      "is not supported on redis+cluster:// (WAIT counts the replicas of one node; each key lives on its own shard)",
    );
  }
  return {
    resultBackend,
    target,
    ha: {
      sentinelAuth: { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) },
      waitReplicas,
      waitTimeoutMs: Math.ceil(waitTimeout * 1000),
    },
  };
}
