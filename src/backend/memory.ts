/**
 * In-process result backend for unit tests and the one-process demo. Keeps the same promises as
 * Redis: expiry, and a stored SUCCESS is never replaced. Values are copied through the serializer
 * so callers see what they would see from Redis (no shared object references). Chord and stored
 * chain state expires like records (a chain's TTL renews on each read), swept at most once a second.
 */
import type { BackendSettings, ChordJoin, ResultBackend, StoreOutcome } from "./types.ts";
import { asRecord, type ResultRecord } from "../protocol/result.ts";
import { pack, type Serializer, serializerFor, unpack } from "../protocol/codec.ts";
import { State } from "../states.ts";
import { sharedHandle } from "../shared-handle.ts";

interface Entry {
  bytes: Uint8Array;
  status: string;
  expiresAt: number | null;
}

interface ChordState {
  results: Map<number, Uint8Array>;
  failed: string | null;
  expiresAt: number | null;
}

/** Results in this process's memory. */
export class MemoryBackend implements ResultBackend {
  readonly kind = "memory";
  readonly description = "memory://";
  #entries = new Map<string, Entry>();
  #chords = new Map<string, ChordState>();
  #chains = new Map<string, { steps: Uint8Array[]; expiresAt: number | null }>();
  #dedup = new Map<string, { taskId: string; until: number }>();
  #permits = new Map<string, Map<string, number>>();
  #rates = new Map<string, { next: number; line: Map<string, number> }>();
  #sweptAt = 0;
  #serializer: Serializer;
  #settings: BackendSettings;

  constructor(settings: BackendSettings) {
    this.#settings = settings;
    this.#serializer = serializerFor(settings.serializer);
  }

  connect(): Promise<void> {
    return Promise.resolve();
  }

  #live(taskId: string): Entry | undefined {
    const e = this.#entries.get(taskId);
    if (e && e.expiresAt !== null && e.expiresAt <= Date.now()) {
      this.#entries.delete(taskId);
      return undefined;
    }
    return e;
  }

  get(taskId: string): Promise<ResultRecord | null> {
    const e = this.#live(taskId);
    return Promise.resolve(e ? this.decode(e.bytes) : null);
  }

  async getMany(taskIds: string[]): Promise<(ResultRecord | null)[]> {
    return await Promise.all(taskIds.map((id) => this.get(id)));
  }

  store(record: ResultRecord): Promise<StoreOutcome> {
    return this.storeEncoded(record.task_id, record.status, this.encode(record));
  }

  storeEncoded(taskId: string, status: string, bytes: Uint8Array): Promise<StoreOutcome> {
    const cur = this.#live(taskId);
    if (cur?.status === State.SUCCESS) return Promise.resolve("kept-success");
    this.#entries.set(taskId, { bytes: bytes.slice(), status, expiresAt: this.#expiry() });
    this.#sweep();
    return Promise.resolve("stored");
  }

  #expiry(): number | null {
    const ttl = this.#settings.resultExpiresMs;
    return ttl === null ? null : Date.now() + ttl;
  }

  /** Drops whatever has expired (Redis does this by itself). */
  #sweep(): void {
    const now = Date.now();
    if (now - this.#sweptAt < 1000) return;
    this.#sweptAt = now;
    for (const map of [this.#entries, this.#chords, this.#chains] as Map<string, { expiresAt: number | null }>[]) {
      for (const [k, v] of map) if (v.expiresAt !== null && v.expiresAt <= now) map.delete(k);
    }
  }

  encode(record: ResultRecord): Uint8Array {
    return this.#serializer.encode(record);
  }

  decode(bytes: Uint8Array): ResultRecord | null {
    return asRecord(this.#serializer.decode(bytes));
  }

  chordJoin(groupId: string, index: number, size: number, result: unknown): Promise<ChordJoin> {
    const c = this.#chord(groupId);
    if (c.failed !== null) return Promise.resolve({ state: "failed" });
    c.results.set(index, this.#serializer.encode(result));
    if (c.results.size < size) return Promise.resolve({ state: "waiting" });
    const results = Array.from({ length: size }, (_, i) => this.#serializer.decode(c.results.get(i)!));
    return Promise.resolve({ state: "complete", results });
  }

  chordFail(groupId: string, memberId: string): Promise<boolean> {
    const c = this.#chord(groupId);
    if (c.failed !== null) return Promise.resolve(c.failed === memberId);
    c.failed = memberId;
    return Promise.resolve(true);
  }

  chainSave(steps: unknown[]): Promise<string> {
    const id = crypto.randomUUID();
    this.#chains.set(id, { steps: steps.map((s) => pack(s)), expiresAt: this.#expiry() });
    this.#sweep();
    return Promise.resolve(id);
  }

  chainLoad(id: string, from: number, count: number): Promise<unknown[]> {
    const chain = this.#chains.get(id);
    if (!chain || (chain.expiresAt !== null && chain.expiresAt <= Date.now())) {
      this.#chains.delete(id);
      return Promise.resolve([]);
    }
    chain.expiresAt = this.#expiry();
    return Promise.resolve(chain.steps.slice(from, from + count).map((b) => unpack(b)));
  }

  #chord(groupId: string): ChordState {
    let c = this.#chords.get(groupId);
    if (c && c.expiresAt !== null && c.expiresAt <= Date.now()) c = undefined;
    if (!c) this.#chords.set(groupId, c = { results: new Map(), failed: null, expiresAt: null });
    c.expiresAt = this.#expiry();
    this.#sweep();
    return c;
  }

  dedupClaim(id: string, taskId: string, ttlMs: number): Promise<string | null> {
    const now = Date.now();
    if (this.#dedup.size >= 10_000) { for (const [k, v] of this.#dedup) if (v.until <= now) this.#dedup.delete(k); }
    const held = this.#dedup.get(id);
    if (held && held.until > now) return Promise.resolve(held.taskId);
    this.#dedup.set(id, { taskId, until: now + ttlMs });
    return Promise.resolve(null);
  }

  permitAcquire(key: string, holder: string, limit: number, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    let holders = this.#permits.get(key);
    if (!holders) this.#permits.set(key, holders = new Map());
    for (const [h, until] of holders) if (until <= now) holders.delete(h);
    if (!holders.has(holder) && holders.size >= limit) return Promise.resolve(false);
    holders.set(holder, now + leaseMs);
    return Promise.resolve(true);
  }

  rateTake(key: string, holder: string, intervalMs: number): Promise<number> {
    // As the Redis script: the next free start, and a line of refused callers by return time.
    const now = Date.now();
    const r = this.#rates.get(key) ?? { next: 0, line: new Map<string, number>() };
    this.#rates.set(key, r);
    for (const [h, at] of r.line) if (at < now - 10 * intervalMs - 5000) r.line.delete(h);
    if (r.next - now <= intervalMs / 4) {
      r.next = Math.max(r.next, now) + intervalMs;
      r.line.delete(holder);
      return Promise.resolve(0);
    }
    let at = r.next;
    for (const [h, t] of r.line) if (h !== holder && t + intervalMs > at) at = t + intervalMs;
    r.line.set(holder, at);
    return Promise.resolve(Math.floor(at - now));
  }

  permitRenew(key: string, holder: string, leaseMs: number): Promise<void> {
    const holders = this.#permits.get(key);
    if (holders?.has(holder)) holders.set(holder, Date.now() + leaseMs);
    return Promise.resolve();
  }

  permitRelease(key: string, holder: string): Promise<void> {
    const holders = this.#permits.get(key);
    holders?.delete(holder);
    if (holders?.size === 0) this.#permits.delete(key);
    return Promise.resolve();
  }

  dedupRelease(id: string, taskId: string): Promise<void> {
    if (this.#dedup.get(id)?.taskId === taskId) this.#dedup.delete(id);
    return Promise.resolve();
  }

  forget(taskId: string): Promise<void> {
    this.#entries.delete(taskId);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Returns a handle on the process-wide memory backend for this URL and app name, shared like the
 * memory broker so results written by a worker built from another app instance are visible.
 */
export function memoryBackend(url: string, prefix: string, settings: BackendSettings): ResultBackend {
  return sharedHandle(`backend|${url}|${prefix}`, () => new MemoryBackend(settings));
}
