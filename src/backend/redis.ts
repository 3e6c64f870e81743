/**
 * Redis result backend: the only module that imports ioredis.
 *
 * Records live at `<keyPrefix>task-meta-<id>` (SET with PX), like Celery's Redis backend.
 * Every write goes through one Lua script that refuses to replace a stored SUCCESS, so a
 * redelivered task or a late progress update can never clobber a finished result.
 *
 * One server, a Sentinel-watched master or a Redis Cluster (redis-target.ts, docs/redis-ha.md).
 * Every script and transaction touches one key, except the global rate limit's, whose two keys
 * share a hash tag (`rate-{name}`, `rate-{name}-line`) so both live in one slot of a cluster; the
 * chord and chain keys carry their id as a hash tag too (`chord-{id}`), so state added beside
 * them later shares their slot.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { BackendSettings, ChordJoin, ResultBackend, StoreOutcome } from "./types.ts";
import { asRecord, type ResultRecord } from "../protocol/result.ts";
import { pack, type Serializer, serializerFor, type SerializerName, unpack } from "../protocol/codec.ts";
import { CeleriacError, ErrorCode } from "../errors.ts";
import { nodeBuffer } from "../runtime/mod.ts";
import type { BackendSecurity } from "../security/options.ts";
import { checkTlsFiles, isTlsFailure } from "../security/load.ts";
import { describeTarget, parseRedisTarget, type RedisTarget } from "./redis-target.ts";
import { NO_HA, type RedisHa } from "./redis-options.ts";
import { ReplicaWait } from "./replicas.ts";
import { isReady } from "../states.ts";

/**
 * The write guard: ARGV[1] value, ARGV[2] ttl in ms (0 = none), ARGV[3] '1' to also PUBLISH the
 * value on the channel named by the key (what Python Celery's AsyncResult.get() waits for). A record always starts with its
 * `status`, so a stored SUCCESS shows in the first bytes of the value: at 1 for JSON, after the
 * 1- or 3-byte map header for msgpack. The markers are written into the script per serializer.
 */
function storeUnlessSuccess(serializer: SerializerName): string {
  const markers = serializer === "json" ? ['{"status":"SUCCESS"', '{"status": "SUCCESS"'] : ["\\166status\\167SUCCESS"]; // msgpack: fixstr(6) "status", fixstr(7) "SUCCESS", as Lua escapes
  const checks = markers.map((m) => `string.find(head, "${m.replace(/"/g, '\\"')}", 1, true)`).join(" or ");
  return `
local cur = redis.call('GET', KEYS[1])
if cur then
  local head = string.sub(cur, 1, 24)
  if ${checks} then return 0 end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
if ARGV[3] == '1' then redis.call('PUBLISH', KEYS[1], ARGV[1]) end
return 1
`;
}

/**
 * A chord member joins: KEYS[1] the chord's hash, ARGV index, encoded result, size, ttl ms.
 * Fields `r<i>` hold results (HSET: a repeated member overwrites its own field, counting once);
 * `failed` marks a failed chord. Returns {-1} failed, {0} waiting, {1, r0, r1, ...} complete.
 */
const CHORD_JOIN = `
if redis.call('HEXISTS', KEYS[1], 'failed') == 1 then return {-1} end
redis.call('HSET', KEYS[1], 'r' .. ARGV[1], ARGV[2])
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
local size = tonumber(ARGV[3])
if redis.call('HLEN', KEYS[1]) < size then return {0} end
local out = {1}
for i = 0, size - 1 do out[#out + 1] = redis.call('HGET', KEYS[1], 'r' .. i) end
return out
`;

/**
 * Marks a chord failed, once: KEYS[1] the chord's hash, ARGV member id, ttl ms. 1 for the first
 * member to fail, and again for that member (its settle step retrying after a failed WAIT).
 */
const CHORD_FAIL = `
if redis.call('HGET', KEYS[1], 'failed') == ARGV[1] then return 1 end
if redis.call('HSETNX', KEYS[1], 'failed', ARGV[1]) == 1 then
  if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  return 1
end
return 0
`;

/** Claims a dedup key: returns the holder's task id, or false after setting it (with its TTL). */
const DEDUP_CLAIM = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`;

/** Deletes a dedup key only if the given task still holds it. */
const DEDUP_RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Per-key permits: a sorted set of holders scored by lease end, on the server's clock. */
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;
const PERMIT_ACQUIRE = NOW_MS + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[3]))
  return 1
end
return 0
`;
const PERMIT_RENEW = NOW_MS + `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
end
return 0
`;

/**
 * A cluster-wide rate limit (GCRA with a burst of one and a tolerance of a quarter interval, so a
 * task that comes back a little early to its turn still takes it: n starts in any window W need
 * W ≥ (n − 1) × interval − interval / 4). KEYS[1] holds the next free start time on the server's clock; KEYS[2] is the line of refused tasks, each scored with the time it was told
 * to come back: a refused task goes to the end of the line, one interval after the last, so a
 * backlog comes back spread out at the rate rather than all at once. Nothing is reserved: a task
 * that comes back to a taken start goes to the end again.
 */
const RATE_TAKE = NOW_MS + `
local interval = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 10 * interval - 5000)
local next = tonumber(redis.call('GET', KEYS[1]) or '0')
if next - now <= interval / 4 then
  redis.call('SET', KEYS[1], math.max(next, now) + interval, 'PX', math.max(1000, math.floor(2 * interval)))
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 0
end
local at = next
local last = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if last[2] and tonumber(last[2]) + interval > at then at = tonumber(last[2]) + interval end
redis.call('ZADD', KEYS[2], at, ARGV[2])
redis.call('PEXPIRE', KEYS[2], math.floor(at - now + 10 * interval) + 5000)
return math.floor(at - now)
`;

type GuardedRedis = (Redis | Cluster) & {
  celeriacRateTake(key: string, lineKey: string, intervalMs: number, holder: string): Promise<number>;
  celeriacPermitAcquire(key: string, holder: string, limit: number, leaseMs: number): Promise<number>;
  celeriacPermitRenew(key: string, holder: string, leaseMs: number): Promise<number>;
  celeriacDedupClaim(key: string, taskId: string, ttlMs: number): Promise<string | null>;
  celeriacDedupRelease(key: string, taskId: string): Promise<number>;
  celeriacStore(key: string, value: Uint8Array, ttlMs: number, publish: 0 | 1): Promise<number>;
  celeriacChordJoinBuffer(key: string, index: number, value: Uint8Array, size: number, ttlMs: number): Promise<(number | Uint8Array)[]>;
  celeriacChordFail(key: string, memberId: string, ttlMs: number): Promise<number>;
};

/** Parses and checks a result backend URL; throws ConfigError naming `field`. */
export function checkRedisUrl(url: string, field: string): RedisTarget {
  return parseRedisTarget(url, field);
}

/** Settings every connection shares. */
const COMMON: RedisOptions = {
  lazyConnect: true,
  // Many small writes from many tasks in the same tick become one round trip.
  enableAutoPipelining: true,
  // Fail a command after 2 reconnect attempts; callers that must not lose a write
  // (the worker's settle step) retry around it with their own backoff.
  maxRetriesPerRequest: 2,
  retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  connectionName: "celeriac",
};

/** Rounds over all sentinels before a first connect gives up. */
const SENTINEL_ROUNDS_AT_START = 3;

/** The ioredis client for a target: Redis (one server or through Sentinel) or Cluster. */
function client(target: RedisTarget, security: BackendSecurity, ha: RedisHa, everReady: () => boolean): Redis | Cluster {
  const files = security.tls ? checkTlsFiles(security.tls) : undefined;
  const auth: RedisOptions = {
    ...(security.username !== undefined ? { username: security.username } : {}),
    ...(security.password !== undefined ? { password: security.password } : {}),
  };
  if (target.kind === "standalone") {
    // rediss:// alone turns TLS on with the system's CAs; the files add a private CA / client cert.
    return new Redis(target.url.href, { ...auth, ...(files ? { tls: files } : {}), ...COMMON });
  }
  const tls = target.tls ? { tls: files ?? {} } : {};
  const creds: RedisOptions = {
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...auth,
  };
  if (target.kind === "cluster") {
    return new Cluster(target.nodes, {
      lazyConnect: true,
      enableAutoPipelining: true,
      clusterRetryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
      redisOptions: { ...creds, ...tls, maxRetriesPerRequest: 2, connectionName: "celeriac" },
    });
  }
  return new Redis({
    ...COMMON,
    ...creds,
    ...tls,
    sentinels: target.sentinels,
    name: target.masterName,
    db: target.db,
    ...(ha.sentinelAuth.username !== undefined ? { sentinelUsername: ha.sentinelAuth.username } : {}),
    ...(ha.sentinelAuth.password !== undefined ? { sentinelPassword: ha.sentinelAuth.password } : {}),
    ...(target.tls ? { enableTLSForSentinelMode: true, sentinelTLS: files ?? {} } : {}),
    // A master that was demoted but still runs answers writes with READONLY: reconnect (asking
    // the sentinels for the master again) and resend. (ioredis's failoverDetector would ask on
    // +switch-master, but its sentinel subscriptions outlive quit() and report errors unhandled.)
    reconnectOnError: (err) => (/^READONLY\b/.test(err.message) ? 2 : false),
    // Once connected, keep asking through a long outage of every sentinel; before that, a few
    // rounds, so that a wrong address or sentinel password fails the start instead of hanging it.
    sentinelRetryStrategy: (times) => (everReady() || times < SENTINEL_ROUNDS_AT_START ? Math.min(50 * 2 ** times, 2000) : null),
  });
}

/** Results in Redis. */
export class RedisBackend implements ResultBackend {
  readonly kind = "redis";
  readonly description: string;
  #redis: GuardedRedis;
  #serializer: Serializer;
  #settings: BackendSettings;
  #connecting: Promise<void> | null = null;
  #security: BackendSecurity;
  /** The last error ioredis reported: connect() itself only says "Connection is closed." */
  #lastError: Error | null = null;

  /** Set with `backend.waitReplicas`: every write waits until that many replicas have it. */
  #replicas: ReplicaWait | null;
  /** Celery's mode (`celery-` keys, JSON): each stored record is also published on its key. */
  #publish: 0 | 1;
  #cluster: boolean;
  #everReady = false;
  /** Connections made so far: `WAIT` answers only for writes made on its own connection. */
  #connections = 0;

  /** Reads the TLS files now (the backend is built when first used): a bad path fails at start. */
  constructor(url: string, settings: BackendSettings, security: BackendSecurity = { tls: null }, ha: RedisHa = NO_HA) {
    const target = checkRedisUrl(url, "resultBackend");
    this.description = describeTarget(target);
    this.#settings = settings;
    this.#security = security;
    this.#serializer = serializerFor(settings.serializer);
    this.#cluster = target.kind === "cluster";
    this.#publish = settings.keyPrefix === "celery-" && settings.serializer === "json" ? 1 : 0;
    this.#redis = client(target, security, ha, () => this.#everReady) as GuardedRedis;
    this.#redis.once("ready", () => (this.#everReady = true));
    this.#replicas = ha.waitReplicas > 0
      ? new ReplicaWait((n, ms) => (this.#redis as Redis).wait(n, ms), ha.waitReplicas, ha.waitTimeoutMs, () => this.#connections)
      : null;
    this.#redis.on("ready", () => this.#connections++);
    this.#redis.on("error", (err: Error) => {
      // ioredis reports every failed reconnect here; callers see command failures instead. The
      // last one explains a failed connect (WRONGPASS, a certificate) better than connect() does.
      this.#lastError = err;
    });
    this.#redis.defineCommand("celeriacStore", { numberOfKeys: 1, lua: storeUnlessSuccess(settings.serializer) });
    this.#redis.defineCommand("celeriacChordJoin", { numberOfKeys: 1, lua: CHORD_JOIN });
    this.#redis.defineCommand("celeriacChordFail", { numberOfKeys: 1, lua: CHORD_FAIL });
    this.#redis.defineCommand("celeriacDedupClaim", { numberOfKeys: 1, lua: DEDUP_CLAIM });
    this.#redis.defineCommand("celeriacDedupRelease", { numberOfKeys: 1, lua: DEDUP_RELEASE });
    this.#redis.defineCommand("celeriacPermitAcquire", { numberOfKeys: 1, lua: PERMIT_ACQUIRE });
    this.#redis.defineCommand("celeriacPermitRenew", { numberOfKeys: 1, lua: PERMIT_RENEW });
    this.#redis.defineCommand("celeriacRateTake", { numberOfKeys: 2, lua: RATE_TAKE });
  }

  /** With `waitReplicas`, waits until the writes answered so far reached the replicas. */
  #replicated(what: string): Promise<void> | undefined {
    return this.#replicas?.replicated(what);
  }

  #key(taskId: string): string {
    return `${this.#settings.keyPrefix}task-meta-${taskId}`;
  }

  connect(): Promise<void> {
    this.#connecting ??= (async () => {
      if (this.#redis.status === "ready") return;
      this.#lastError = null;
      try {
        await this.#redis.connect();
      } catch (err) {
        this.#connecting = null;
        // Stops ioredis reconnecting in the background: wrong credentials would loop forever.
        this.#redis.disconnect();
        throw this.#connectError(this.#lastError ?? (err as Error));
      }
    })();
    return this.#connecting;
  }

  #connectError(err: Error): CeleriacError {
    const where = `the result backend at ${this.description}`;
    // Redis error replies begin with an error code word (WRONGPASS, NOAUTH, NOPERM): the protocol's
    // own codes, which ioredis keeps at the start of the message.
    const sentinels = /^All sentinels are unreachable.*?(?:Last error: (.*))?$/.exec(err.message);
    if (sentinels) {
      const said = sentinels[1] ?? "no answer";
      if (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(said)) {
        return new CeleriacError(
          ErrorCode.AUTH,
          `the sentinels of ${where} refused our credentials (the last said: ${said}); set the sentinels' own password in ` +
            `backend.sentinel.password / .username (CELERIAC_REDIS_SENTINEL_PASSWORD / _USER): the URL's are the master's`,
          { cause: err },
        );
      }
      return new CeleriacError(
        ErrorCode.UNAVAILABLE,
        `cannot reach any sentinel of ${where} (the last: ${said}); check the addresses in resultBackend`,
        { cause: err },
      );
    }
    const reply = /^(WRONGPASS|NOAUTH|NOPERM)\b/.exec(err.message)?.[1];
    if (reply) {
      const hint = reply === "NOAUTH"
        ? "the server requires a password: put it in the URL (redis://:pass@host or redis://user:pass@host) or set backend.password (CELERIAC_REDIS_PASSWORD)"
        : reply === "NOPERM"
        ? "the ACL user lacks a permission celeriac needs (simplest: +@all on ~<resultKeyPrefix>*)"
        : "check the user and password in resultBackend (redis://user:pass@host) or backend.username / backend.password (CELERIAC_REDIS_USER / _PASSWORD)";
      return new CeleriacError(ErrorCode.AUTH, `authentication failed at ${where} (the server said: ${err.message}); ${hint}`, {
        cause: err,
      });
    }
    const tls = this.#security.tls;
    // TLS 1.3 sends the server's "certificate required" alert after the handshake: whether the
    // client reads it or only sees the connection reset is a race, so both paths name the fix.
    if (/certificate required|alert number 116\b/.test(err.message)) {
      return new CeleriacError(
        ErrorCode.TLS,
        `TLS with ${where} failed: ${err.message}; the server requires a client certificate (tls-auth-clients): ` +
          `set backend.tls.cert / backend.tls.key`,
        { cause: err },
      );
    }
    if (isTlsFailure(err)) {
      return new CeleriacError(
        ErrorCode.TLS,
        `TLS with ${where} failed: ${err.message}; ` +
          (tls?.ca
            ? `check that ${tls.field}.ca (${tls.ca}) is the CA that signed the server's certificate`
            : "if the server's certificate comes from a private CA, set backend.tls.ca (or CELERIAC_REDIS_TLS_CA)"),
        { cause: err },
      );
    }
    const handshake = this.description.startsWith("rediss:") && (err as { code?: string }).code === "ECONNRESET"
      ? " The server closed the connection during the TLS handshake: if it verifies clients (tls-auth-clients), set backend.tls.cert / backend.tls.key."
      : " Is Redis running? (start one with: redis-server --port 6379)";
    return new CeleriacError(ErrorCode.UNAVAILABLE, `cannot reach ${where}: ${err.message}.${handshake}`, { cause: err });
  }

  #decode(bytes: Uint8Array | null): ResultRecord | null {
    return bytes === null ? null : this.decode(bytes);
  }

  async get(taskId: string): Promise<ResultRecord | null> {
    await this.connect();
    return this.#decode(await this.#redis.getBuffer(this.#key(taskId)));
  }

  async getMany(taskIds: string[]): Promise<(ResultRecord | null)[]> {
    if (taskIds.length === 0) return [];
    await this.connect();
    const keys = taskIds.map((id) => this.#key(id));
    // MGET spans slots, which a cluster refuses (CROSSSLOT): there, one GET per key, pipelined.
    const values = this.#cluster ? await Promise.all(keys.map((k) => this.#redis.getBuffer(k))) : await this.#redis.mgetBuffer(...keys);
    return values.map((v) => this.#decode(v));
  }

  store(record: ResultRecord): Promise<StoreOutcome> {
    return this.storeEncoded(record.task_id, record.status, this.encode(record));
  }

  storeEncoded(taskId: string, status: string, bytes: Uint8Array): Promise<StoreOutcome> {
    if (this.#redis.status !== "ready" || this.#replicas) return this.#storeEncodedWaiting(taskId, status, bytes);
    // Connected and waiting for no replica: without an async frame of its own, as every task's
    // result is written (bench/worker-alloc.ts).
    const ttl = this.#settings.resultExpiresMs ?? 0;
    return this.#redis.celeriacStore(this.#key(taskId), nodeBuffer(bytes), ttl, this.#publish).then(storeOutcome);
  }

  /** storeEncoded() when it must connect first, or wait for replicas after the write. */
  async #storeEncodedWaiting(taskId: string, status: string, bytes: Uint8Array): Promise<StoreOutcome> {
    if (this.#redis.status !== "ready") await this.connect();
    const ttl = this.#settings.resultExpiresMs ?? 0;
    const n = await this.#redis.celeriacStore(this.#key(taskId), nodeBuffer(bytes), ttl, this.#publish);
    // Ready states only: a lost STARTED or progress record is overwritten later anyway, and a task
    // must not fail because a progress update could not reach a replica. Also when a SUCCESS
    // was kept: it may be the unreplicated write of an earlier attempt.
    if (isReady(status)) await this.#replicated(`the ${status} result of ${taskId}`);
    return storeOutcome(n);
  }

  encode(record: ResultRecord): Uint8Array {
    return this.#serializer.encode(record);
  }

  decode(bytes: Uint8Array): ResultRecord | null {
    return asRecord(this.#serializer.decode(bytes));
  }

  async chordJoin(groupId: string, index: number, size: number, result: unknown): Promise<ChordJoin> {
    if (this.#redis.status !== "ready") await this.connect();
    const value = nodeBuffer(this.#serializer.encode(result));
    const r = await this.#redis.celeriacChordJoinBuffer(this.#chordKey(groupId), index, value, size, this.#settings.resultExpiresMs ?? 0);
    await this.#replicated(`chord ${groupId}'s join of member ${index}`);
    const head = Number(r[0]);
    if (head === -1) return { state: "failed" };
    if (head === 0) return { state: "waiting" };
    return { state: "complete", results: r.slice(1).map((b) => this.#serializer.decode(b as Uint8Array)) };
  }

  async chordFail(groupId: string, memberId: string): Promise<boolean> {
    if (this.#redis.status !== "ready") await this.connect();
    const first = await this.#redis.celeriacChordFail(this.#chordKey(groupId), memberId, this.#settings.resultExpiresMs ?? 0);
    await this.#replicated(`chord ${groupId}'s failure`);
    return first === 1;
  }

  async chainSave(steps: unknown[]): Promise<string> {
    if (this.#redis.status !== "ready") await this.connect();
    const id = crypto.randomUUID();
    const key = this.#chainKey(id);
    const fields: (string | ReturnType<typeof nodeBuffer>)[] = [];
    steps.forEach((s, i) => fields.push(String(i), nodeBuffer(pack(s))));
    const ttl = this.#settings.resultExpiresMs;
    const tx = this.#redis.multi().hset(key, ...fields);
    if (ttl) tx.pexpire(key, ttl);
    await tx.exec();
    await this.#replicated(`chain ${id}`);
    return id;
  }

  async chainLoad(id: string, from: number, count: number): Promise<unknown[]> {
    if (this.#redis.status !== "ready") await this.connect();
    const fields = Array.from({ length: count }, (_, i) => String(from + i));
    const key = this.#chainKey(id);
    const ttl = this.#settings.resultExpiresMs;
    let values: (Buffer | null)[];
    if (ttl) {
      // Each read renews the TTL: a chain may run longer than resultExpires, one step at a time.
      const replies = await this.#redis.multi().hmgetBuffer(key, ...fields).pexpire(key, ttl).exec();
      const [err, got] = replies?.[0] ?? [new Error("the transaction was discarded"), null];
      if (err) throw err;
      values = got as (Buffer | null)[];
    } else {
      values = await this.#redis.hmgetBuffer(key, ...fields);
    }
    return values.filter((v): v is Buffer => v !== null).map((v) => unpack(v));
  }

  #chainKey(id: string): string {
    return `${this.#settings.keyPrefix}chain-{${id}}`;
  }

  #chordKey(groupId: string): string {
    return `${this.#settings.keyPrefix}chord-{${groupId}}`;
  }

  async dedupClaim(id: string, taskId: string, ttlMs: number): Promise<string | null> {
    if (this.#redis.status !== "ready") await this.connect();
    return await this.#redis.celeriacDedupClaim(this.#dedupKey(id), taskId, Math.max(1, Math.round(ttlMs))) ?? null;
  }

  async dedupRelease(id: string, taskId: string): Promise<void> {
    if (this.#redis.status !== "ready") await this.connect();
    await this.#redis.celeriacDedupRelease(this.#dedupKey(id), taskId);
  }

  async permitAcquire(key: string, holder: string, limit: number, leaseMs: number): Promise<boolean> {
    if (this.#redis.status !== "ready") await this.connect();
    return (await this.#redis.celeriacPermitAcquire(this.#permitKey(key), holder, limit, Math.max(1, Math.round(leaseMs)))) === 1;
  }

  async permitRenew(key: string, holder: string, leaseMs: number): Promise<void> {
    if (this.#redis.status !== "ready") await this.connect();
    await this.#redis.celeriacPermitRenew(this.#permitKey(key), holder, Math.max(1, Math.round(leaseMs)));
  }

  async permitRelease(key: string, holder: string): Promise<void> {
    if (this.#redis.status !== "ready") await this.connect();
    await this.#redis.zrem(this.#permitKey(key), holder);
  }

  async rateTake(key: string, holder: string, intervalMs: number): Promise<number> {
    if (this.#redis.status !== "ready") await this.connect();
    // One script, two keys: the hash tag keeps them in one slot on a Redis Cluster.
    const k = `${this.#settings.keyPrefix}rate-{${key}}`;
    return await this.#redis.celeriacRateTake(k, `${k}-line`, Math.max(1, intervalMs), holder);
  }

  #permitKey(key: string): string {
    return `${this.#settings.keyPrefix}permits-${key}`;
  }

  #dedupKey(id: string): string {
    return `${this.#settings.keyPrefix}dedup-${id}`;
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

/** What the store script's answer means: 1 written, 0 a stored SUCCESS kept. */
function storeOutcome(n: number): StoreOutcome {
  return n === 1 ? "stored" : "kept-success";
}
