/**
 * Redis result backend: the only module that imports ioredis.
 *
 * Records live at `<keyPrefix>task-meta-<id>` (SET with PX), like Celery's Redis backend.
 * Every write goes through one Lua script that refuses to replace a stored SUCCESS, so a
 * redelivered task or a late progress update can never clobber a finished result.
 */
import { Redis } from "ioredis";
import type { BackendSettings, ResultBackend, StoreOutcome } from "./types.ts";
import { asRecord, type ResultRecord } from "../protocol/result.ts";
import { serializerFor, type Serializer } from "../protocol/codec.ts";
import { CeleriacError, ConfigError, ErrorCode } from "../errors.ts";
import { nodeBuffer } from "../runtime/mod.ts";

/**
 * The write guard. ARGV[1] value, ARGV[2] ttl in ms (0 = none), ARGV[3..] byte strings that mark a
 * stored SUCCESS. A record always starts with its `status`, so the marker sits in the first bytes:
 * at 1 for JSON, after the 1- or 3-byte map header for msgpack.
 */
const STORE_UNLESS_SUCCESS = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local head = string.sub(cur, 1, 24)
  for i = 3, #ARGV do
    if string.find(head, ARGV[i], 1, true) then return 0 end
  end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
`;

/** Byte strings that identify a stored SUCCESS, per serializer. */
function successMarkers(serializer: Serializer): string[] {
  if (serializer.name === "json") return ['{"status":"SUCCESS"', '{"status": "SUCCESS"'];
  // msgpack: fixstr(6) "status", fixstr(7) "SUCCESS"
  return ["\xa6status\xa7SUCCESS"];
}

type GuardedRedis = Redis & {
  celeriacStore(key: string, value: Uint8Array, ttlMs: number, ...markers: Uint8Array[]): Promise<number>;
};

/** Parses and checks a `redis://` / `rediss://` URL; throws ConfigError naming `field`. */
export function checkRedisUrl(url: string, field: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(field, `"${url}" is not a URL; expected redis://host:port/db`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new ConfigError(field, `unsupported scheme "${u.protocol}" in "${url}"; use redis://, rediss:// or memory://`);
  }
  const db = u.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d+$/.test(db)) throw new ConfigError(field, `database "${db}" in "${url}" is not a number`);
  return u;
}

/** Results in Redis. */
export class RedisBackend implements ResultBackend {
  readonly kind = "redis";
  readonly description: string;
  #redis: GuardedRedis;
  #serializer: Serializer;
  #markers: Uint8Array[];
  #settings: BackendSettings;
  #connecting: Promise<void> | null = null;

  constructor(url: string, settings: BackendSettings) {
    const u = checkRedisUrl(url, "resultBackend");
    this.description = `${u.protocol}//${u.host}${u.pathname || "/0"}`;
    this.#settings = settings;
    this.#serializer = serializerFor(settings.serializer);
    this.#markers = successMarkers(this.#serializer).map((m) => nodeBuffer(Uint8Array.from(m, (c) => c.charCodeAt(0))));
    this.#redis = new Redis(url, {
      lazyConnect: true,
      // Many small writes from many tasks in the same tick become one round trip.
      enableAutoPipelining: true,
      // Fail a command after 2 reconnect attempts; callers that must not lose a write
      // (the worker's settle step) retry around it with their own backoff.
      maxRetriesPerRequest: 2,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
      connectionName: "celeriac",
    }) as GuardedRedis;
    this.#redis.on("error", () => {
      // ioredis reports every failed reconnect here; callers see command failures instead.
    });
    this.#redis.defineCommand("celeriacStore", { numberOfKeys: 1, lua: STORE_UNLESS_SUCCESS });
  }

  #key(taskId: string): string {
    return `${this.#settings.keyPrefix}task-meta-${taskId}`;
  }

  connect(): Promise<void> {
    this.#connecting ??= (async () => {
      if (this.#redis.status === "ready") return;
      try {
        await this.#redis.connect();
      } catch (err) {
        this.#connecting = null;
        this.#redis.disconnect();
        throw new CeleriacError(
          ErrorCode.CONFIG,
          `cannot reach the result backend at ${this.description}: ${(err as Error).message}. ` +
            `Is Redis running? (start one with: redis-server --port 6379)`,
          { cause: err },
        );
      }
    })();
    return this.#connecting;
  }

  #decode(bytes: Uint8Array | null): ResultRecord | null {
    if (bytes === null) return null;
    return asRecord(this.#serializer.decode(bytes));
  }

  async get(taskId: string): Promise<ResultRecord | null> {
    await this.connect();
    return this.#decode(await this.#redis.getBuffer(this.#key(taskId)));
  }

  async getMany(taskIds: string[]): Promise<(ResultRecord | null)[]> {
    if (taskIds.length === 0) return [];
    await this.connect();
    const values = await this.#redis.mgetBuffer(...taskIds.map((id) => this.#key(id)));
    return values.map((v) => this.#decode(v));
  }

  async store(record: ResultRecord): Promise<StoreOutcome> {
    await this.connect();
    const value = nodeBuffer(this.#serializer.encode(record));
    const ttl = this.#settings.resultExpiresMs ?? 0;
    const n = await this.#redis.celeriacStore(this.#key(record.task_id), value, ttl, ...this.#markers);
    return n === 1 ? "stored" : "kept-success";
  }

  async forget(taskId: string): Promise<void> {
    await this.connect();
    await this.#redis.del(this.#key(taskId));
  }

  async close(): Promise<void> {
    if (this.#redis.status === "end") return;
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }
}
