/**
 * The result backend port: Redis and memory implement it.
 * Invariant every adapter keeps: a stored SUCCESS is never replaced (only `forget` removes it).
 */
import type { ResultRecord } from "../protocol/result.ts";
import type { SerializerName } from "../protocol/codec.ts";

/** Settings compiled from the app options. */
export interface BackendSettings {
  /** Prefix of every key (`celeriac-`; `celery-` to share results with Python Celery). */
  keyPrefix: string;
  /** How results are encoded. */
  serializer: SerializerName;
  /** Time to live of a stored result; null = forever. */
  resultExpiresMs: number | null;
}

/** Where a chord stands after a member joined. */
export type ChordJoin =
  | { state: "waiting" }
  | { state: "complete"; results: unknown[] }
  | { state: "failed" };

/** Outcome of a store. */
export type StoreOutcome = "stored" | "kept-success";

/** The result backend port. */
export interface ResultBackend {
  /** `redis` or `memory`. */
  readonly kind: string;
  /** For banners (`redis://127.0.0.1:6379/0`). */
  readonly description: string;
  /** Connects (idempotent); fails with a clear error if the server does not answer. */
  connect(): Promise<void>;
  /** The stored record of a task, or null (PENDING). */
  get(taskId: string): Promise<ResultRecord | null>;
  /** Several records at once, in order. */
  getMany(taskIds: string[]): Promise<(ResultRecord | null)[]>;
  /** Stores a record with the configured expiry, unless a SUCCESS is stored already. */
  store(record: ResultRecord): Promise<StoreOutcome>;
  /**
   * Stores a record already encoded with {@link encode} (the worker encodes once and sends the
   * same bytes as the result notice). `status` is the record's status.
   */
  storeEncoded(taskId: string, status: string, bytes: Uint8Array): Promise<StoreOutcome>;
  /** Encodes a record with the backend's serializer. */
  encode(record: ResultRecord): Uint8Array;
  /** Decodes bytes written by {@link encode}; null if they are not a record. */
  decode(bytes: Uint8Array): ResultRecord | null;
  /** Removes a task's record. */
  forget(taskId: string): Promise<void>;
  /**
   * Records member `index` of chord `groupId` (of `size` members) as done with `result`, atomically.
   * Joining twice with the same index counts once (a redelivered member). Returns "complete" with
   * the results in index order to every caller that finds all members in, "failed" once the chord
   * was failed. The state expires with results.
   */
  chordJoin(groupId: string, index: number, size: number, result: unknown): Promise<ChordJoin>;
  /** Marks chord `groupId` failed by `memberId`; true only for the first member to fail (again if that member asks again). */
  chordFail(groupId: string, memberId: string): Promise<boolean>;
  /**
   * Stores the steps of a long chain (they would otherwise travel in every message); returns its
   * id. Expires with results.
   */
  chainSave(steps: unknown[]): Promise<string>;
  /** Reads up to `count` stored steps from index `from`. */
  chainLoad(id: string, from: number, count: number): Promise<unknown[]>;
  /**
   * Claims the deduplication id `id` for task `taskId` during `ttlMs` (the call option
   * `deduplication`): resolves null when this call claimed it, or the id of the task that holds it.
   */
  dedupClaim(id: string, taskId: string, ttlMs: number): Promise<string | null>;
  /** Releases `id` if `taskId` still holds it (its send failed: a later send may run). */
  dedupRelease(id: string, taskId: string): Promise<void>;
  /**
   * Takes one of `limit` permits of `key` for `holder` (per-key concurrency), leased for `leaseMs`:
   * true when taken (or already held by `holder`, whose lease is then renewed). A lease that ran
   * out (its worker died) frees its permit.
   */
  permitAcquire(key: string, holder: string, limit: number, leaseMs: number): Promise<boolean>;
  /** Extends `holder`'s lease on a permit of `key`, if it still holds one. */
  permitRenew(key: string, holder: string, leaseMs: number): Promise<void>;
  /** Gives `holder`'s permit of `key` back. */
  permitRelease(key: string, holder: string): Promise<void>;
  /**
   * Takes the next start of a cluster-wide rate limit (`globalRateLimit`): starts under `key` are
   * spaced at least `intervalMs` apart on the backend's clock. Resolves 0 when this one may start
   * now, else how many ms to wait: `holder` joins the end of the line of refused callers, one
   * interval after the last, so a backlog comes back spread out (nothing is reserved).
   */
  rateTake(key: string, holder: string, intervalMs: number): Promise<number>;
  /** Closes connections. */
  close(): Promise<void>;
}
