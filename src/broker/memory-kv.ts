/**
 * In-process key-value buckets for the memory broker, with NATS KV's semantics: revisions,
 * compare-and-set create/update, and a bucket-wide time to live counted from each key's last write.
 */
import type { KeyValueStore, KvOptions, KvValue } from "./types.ts";
import { KvConflictError } from "../errors.ts";

interface Entry {
  value: Uint8Array;
  revision: number;
  writtenAt: number;
}

/** One bucket. */
export class MemoryKv implements KeyValueStore {
  #entries = new Map<string, Entry>();
  #revision = 0;
  #ttlMs: number | undefined;

  constructor(opts: KvOptions = {}) {
    this.#ttlMs = opts.ttlMs;
  }

  /** As JetStream's bucket: opened again with another TTL, the bucket takes the new one. */
  reopen(opts: KvOptions): void {
    if (opts.ttlMs !== undefined) this.#ttlMs = opts.ttlMs;
  }

  #live(key: string): Entry | undefined {
    const e = this.#entries.get(key);
    if (e && this.#ttlMs !== undefined && e.writtenAt + this.#ttlMs <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  #write(key: string, value: Uint8Array): number {
    const revision = ++this.#revision;
    this.#entries.set(key, { value: value.slice(), revision, writtenAt: Date.now() });
    return revision;
  }

  get(key: string): Promise<KvValue | null> {
    const e = this.#live(key);
    return Promise.resolve(e ? { value: e.value.slice(), revision: e.revision } : null);
  }

  create(key: string, value: Uint8Array): Promise<number> {
    if (this.#live(key)) return Promise.reject(new KvConflictError(key));
    return Promise.resolve(this.#write(key, value));
  }

  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    const e = this.#live(key);
    if (!e || e.revision !== revision) return Promise.reject(new KvConflictError(key));
    return Promise.resolve(this.#write(key, value));
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return Promise.resolve(this.#write(key, value));
  }

  delete(key: string): Promise<void> {
    this.#entries.delete(key);
    return Promise.resolve();
  }

  keys(): Promise<string[]> {
    return Promise.resolve([...this.#entries.keys()].filter((k) => this.#live(k)));
  }
}
