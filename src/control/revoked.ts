/**
 * Revocations: ids a worker must not run. Persisted in KV `<p>_revoked` (one key per id, the
 * bucket's TTL forgets them after `revokeExpires`), so a worker started later still refuses the
 * task; each worker keeps them in memory, loaded at start (Celery's "mingle"), kept live by the
 * control broadcast, and reloaded after a reconnection (a broadcast sent while it was cut off is
 * lost, the KV entry is not).
 */
import type { KeyValueStore } from "../broker/types.ts";

const encoder = new TextEncoder();

/** KV keys allow `[-_=./a-zA-Z0-9]`; other ids (custom ones, beat's `beat:…`) are base64url-encoded. */
export function revokedKey(id: string): string {
  if (/^[-_=A-Za-z0-9]+$/.test(id) && !id.startsWith("b64_")) return id;
  const b64 = btoa(String.fromCharCode(...encoder.encode(id))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `b64_${b64}`;
}

/** The id a key stands for. */
export function idFromKey(key: string): string {
  if (!key.startsWith("b64_")) return key;
  const b64 = key.slice(4).replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/** The revoked ids a worker knows, each until it expires. */
export class RevokedIds {
  #ids = new Map<string, number>();
  #ttlMs: number;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /** True if `id` is revoked. Cheap when nothing is (the worker asks for every task). */
  has(id: string): boolean {
    if (this.#ids.size === 0) return false;
    const until = this.#ids.get(id);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#ids.delete(id);
    return false;
  }

  /** Remembers `id` as revoked from now on, for the TTL. */
  add(id: string, now = Date.now()): void {
    this.#ids.set(id, now + this.#ttlMs);
  }

  /** Forgets expired ids. */
  prune(now = Date.now()): void {
    for (const [id, until] of this.#ids) if (until <= now) this.#ids.delete(id);
  }

  /** Revoked ids, oldest first. */
  list(): string[] {
    this.prune();
    return [...this.#ids.keys()];
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Loads every id stored in the bucket (those the bucket still holds are within their TTL). */
  async load(kv: KeyValueStore): Promise<number> {
    const keys = await kv.keys();
    for (const k of keys) if (!this.#ids.has(idFromKey(k))) this.add(idFromKey(k));
    return keys.length;
  }
}

/** Writes revocations so workers started later still see them. */
export async function persistRevoked(kv: KeyValueStore, ids: string[], terminate: boolean): Promise<void> {
  const value = encoder.encode(JSON.stringify({ at: Date.now(), terminate }));
  await Promise.all(ids.map((id) => kv.put(revokedKey(id), value)));
}
