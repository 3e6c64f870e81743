/**
 * A lease on a key-value bucket with a time to live: at most one holder at a time, the revision
 * as fencing token. Acquire with `create` (fails if someone holds it), renew with
 * `update(revision)` (fails if someone else took over), and let the bucket's TTL free it when a
 * holder dies (FACTS.md 10).
 *
 * `held` is conservative: it turns false `margin` before the server would expire the key, counted
 * from when the last renewal was *sent*, so a holder stops acting before anyone else can start.
 */
import type { KeyValueStore } from "./broker/types.ts";
import { ErrorCode, hasCode } from "./errors.ts";
import type { Logger } from "./log.ts";
import { sleep } from "./actor.ts";

/** Options of a lease. */
export interface LeaseOptions {
  /** The bucket's time to live, ms. */
  ttlMs: number;
  /** Who holds it (stored as the value, for operators). */
  holder: string;
  log: Logger;
  /** Called when leadership is won or lost. Must not throw. */
  onChange?(held: boolean): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One lease key. Run `run(signal)` to take part in the election. */
export class Lease {
  #kv: KeyValueStore;
  #key: string;
  #opts: LeaseOptions;
  #revision: number | null = null;
  #sentAt = 0;
  /** What onChange last said: `held` itself turns false with time, without a call to compare. */
  #announced = false;
  #expiry: ReturnType<typeof setTimeout> | null = null;

  constructor(kv: KeyValueStore, key: string, opts: LeaseOptions) {
    this.#kv = kv;
    this.#key = key;
    this.#opts = opts;
  }

  /** True while this process holds the lease (with a safety margin). */
  get held(): boolean {
    return this.#revision !== null && Date.now() < this.#sentAt + this.#opts.ttlMs - this.#margin;
  }

  /** The fencing token: the revision of our last write, or null. */
  get revision(): number | null {
    return this.held ? this.#revision : null;
  }

  get #margin(): number {
    return Math.max(200, Math.floor(this.#opts.ttlMs / 5));
  }

  /** Current holder's name, if any (for status output). */
  async holder(): Promise<string | null> {
    const v = await this.#kv.get(this.#key);
    return v ? decoder.decode(v.value) : null;
  }

  #set(rev: number | null): void {
    this.#revision = rev;
    this.#announce();
  }

  /**
   * Tells onChange when `held` differs from what it last said. While held, a timer fires at the
   * moment it stops being held by time alone — a renewal that hangs or keeps failing — so the
   * holder stops acting as leader then, not whenever the renewal finally returns.
   */
  #announce(): void {
    if (this.#expiry) clearTimeout(this.#expiry);
    this.#expiry = null;
    const held = this.held;
    if (held) {
      const left = this.#sentAt + this.#opts.ttlMs - this.#margin - Date.now();
      this.#expiry = setTimeout(() => this.#announce(), left + 1);
    }
    if (held === this.#announced) return;
    this.#announced = held;
    this.#opts.onChange?.(held);
  }

  /** Takes part until `signal` aborts: acquires when free, renews while held. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    const renewEvery = Math.max(100, Math.floor(this.#opts.ttlMs / 3));
    const retryEvery = Math.max(100, Math.floor(this.#opts.ttlMs / 5));
    while (!signal.aborted) {
      const sent = Date.now();
      try {
        const value = encoder.encode(this.#opts.holder);
        const rev = this.#revision === null
          ? await this.#kv.create(this.#key, value)
          : await this.#kv.update(this.#key, value, this.#revision);
        this.#sentAt = sent;
        if (this.#revision === null) this.#opts.log.info(`acquired the ${this.#key} lease (revision ${rev})`);
        this.#set(rev);
      } catch (err) {
        if (hasCode(err, ErrorCode.KV_CONFLICT)) {
          if (this.#revision !== null) this.#opts.log.warn(`lost the ${this.#key} lease to another holder`);
          this.#set(null);
        } else if (!this.held && this.#revision !== null) {
          this.#opts.log.warn(`could not renew the ${this.#key} lease (${(err as Error).message}); stepping down`);
          this.#set(null);
        }
      }
      if (this.#revision !== null && !this.held) this.#set(null);
      await sleep(this.#revision !== null ? renewEvery : retryEvery, signal);
    }
    if (this.#expiry) clearTimeout(this.#expiry);
    this.#expiry = null;
  }

  /** Gives the lease up at once (on shutdown), so a follower takes over without waiting for the TTL. */
  async release(): Promise<void> {
    if (this.#revision === null) return;
    this.#set(null);
    await this.#kv.delete(this.#key).catch(() => {});
  }
}
