/**
 * Beat: fires periodic tasks. Several replicas may run; one leads through a lease (`<p>_beat_lock`,
 * key `beat`), the others wait to take over. Each fire is published with the task id — and so the
 * message id — `beat:<entry>:<fire time>`, so even two leaders at once fire each occurrence once.
 *
 * The last fire time of each entry is kept in KV `<p>_beat`. A new leader (a restart, a takeover)
 * reads it and fires what was missed: every missed occurrence if the oldest is at most `catchUp`
 * old (a takeover leaves no gap), otherwise the missed-fire policy decides — `run-once` fires the
 * latest occurrence once, `skip` fires nothing and waits for the next. An entry never fired before
 * starts with its next occurrence. A fire is recorded after it is published: a crash in between
 * repeats the publish, which JetStream drops as a duplicate.
 */
import type { Broker, KeyValueStore } from "../broker/types.ts";
import type { CompiledAppOptions } from "../options.ts";
import type { ApplyOptions } from "../apply-options.ts";
import { type BeatEntry, type BeatOptions, checkBeatSchedule, type MissedPolicy } from "./entry.ts";
import type { AsyncResult } from "../result.ts";
import type { Logger } from "../log.ts";
import { Emitter, type Events } from "../emitter.ts";
import { sleep, supervise, type Supervised } from "../actor.ts";
import { Lease } from "../lease.ts";
import { ConfigError } from "../errors.ts";

/** What beat needs from its app. */
export interface BeatHost {
  readonly config: CompiledAppOptions;
  readonly log: Logger;
  broker(): Promise<Broker>;
  sendTask(name: string, args?: unknown[], options?: ApplyOptions): Promise<AsyncResult<unknown>>;
}

/** A fire, as reported to listeners. */
export interface BeatFire {
  entry: string;
  task: string;
  fireMs: number;
  taskId: string;
}

/** Beat events. */
export interface BeatEvents extends Record<string, unknown> {
  fired: BeatFire;
  leader: boolean;
  error: Error;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The task id (and message id) of one occurrence. */
export function fireId(entry: string, fireMs: number): string {
  return `beat:${encodeURIComponent(entry)}:${fireMs}`;
}

function lastKey(entry: string): string {
  // KV keys allow [-/_=.a-zA-Z0-9]: base64url keeps any entry name.
  let bin = "";
  for (const b of encoder.encode(entry)) bin += String.fromCharCode(b);
  return `last.${btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

/** The periodic-task scheduler. */
export class Beat {
  #host: BeatHost;
  #entries: [string, BeatEntry][];
  #leaseMs: number;
  #catchUpMs: number;
  #missed: MissedPolicy;
  #holder: string;
  #emitter = new Emitter<BeatEvents>();
  #actor: Supervised | null = null;
  #leader = false;

  constructor(host: BeatHost, schedule: Record<string, BeatEntry>, opts: BeatOptions & { holder: string }) {
    this.#host = host;
    this.#entries = Object.entries(checkBeatSchedule(schedule));
    const ttl = opts.leaseTtl ?? 5;
    if (!(ttl >= 1)) throw new ConfigError("beat.leaseTtl", "must be seconds ≥ 1");
    this.#leaseMs = ttl * 1000;
    this.#catchUpMs = (opts.catchUp ?? 60) * 1000;
    this.#missed = opts.missed ?? "run-once";
    this.#holder = opts.holder;
  }

  /** Events: `fired`, `leader` (won or lost), `error`. */
  get events(): Events<BeatEvents> {
    return this.#emitter;
  }

  /** True while this replica leads. */
  get isLeader(): boolean {
    return this.#leader;
  }

  /** The entries and their schedules (for banners). */
  get entries(): readonly [string, BeatEntry][] {
    return this.#entries;
  }

  /** Starts taking part in the election; resolves at once. */
  start(): void {
    if (this.#actor) return;
    this.#actor = supervise("beat", (signal) => this.#run(signal), {
      onCrash: (err, delay) => {
        this.#emitter.emit("error", err as Error);
        this.#host.log.warn(`beat stopped (${(err as Error).message}); restarting in ${delay}ms`);
      },
    });
  }

  /** Stops, giving up the lease so a follower takes over at once. */
  async stop(): Promise<void> {
    await this.#actor?.stop();
  }

  async #run(signal: AbortSignal): Promise<void> {
    const broker = await this.#host.broker();
    const names = this.#host.config.names;
    const locks = await broker.kv(names.beatLockBucket, { ttlMs: this.#leaseMs });
    const store = await broker.kv(names.beatBucket);
    const lease = new Lease(locks, "beat", {
      ttlMs: this.#leaseMs,
      holder: this.#holder,
      log: this.#host.log,
      onChange: (held) => {
        this.#leader = held;
        this.#emitter.emit("leader", held);
      },
    });
    // The election ends with this run, not only on stop: a failed KV read or publish (a leader
    // election in the cluster) ends the run, and a lease still renewed by a run that is over
    // would hold every replica back while nothing fires. The supervisor starts a new run.
    const term = new AbortController();
    const stop = () => term.abort();
    signal.addEventListener("abort", stop, { once: true });
    const election = lease.run(term.signal);
    let last: Map<string, number | null> | null = null;
    try {
      while (!signal.aborted) {
        if (!lease.held) {
          last = null; // a future term reads the store afresh: another leader may have fired meanwhile
          await sleep(100, signal);
          continue;
        }
        last ??= await this.#load(store);
        const wakeAt = await this.#tick(store, lease, last);
        await sleep(Math.min(wakeAt - Date.now(), 500), signal);
      }
    } finally {
      this.#leader = false;
      signal.removeEventListener("abort", stop);
      term.abort();
      await election;
      await lease.release();
    }
  }

  async #load(store: KeyValueStore): Promise<Map<string, number | null>> {
    const last = new Map<string, number | null>();
    for (const [name] of this.#entries) {
      const v = await store.get(lastKey(name));
      const ms = v ? Number(decoder.decode(v.value)) : NaN;
      last.set(name, Number.isFinite(ms) ? ms : null);
    }
    return last;
  }

  /** Fires what is due; returns when something is next due. */
  async #tick(store: KeyValueStore, lease: Lease, last: Map<string, number | null>): Promise<number> {
    const now = Date.now();
    let wakeAt = now + 1000;
    for (const [name, entry] of this.#entries) {
      let prev = last.get(name) ?? null;
      if (prev === null) {
        prev = now; // never fired: begin with its next occurrence
        last.set(name, prev);
      }
      const due = this.#due(name, entry, prev, now);
      for (const fire of due.fire) {
        if (!lease.held) return now;
        await this.#fire(name, entry, fire);
        await store.put(lastKey(name), encoder.encode(String(fire)));
        last.set(name, fire);
      }
      if (due.skippedTo !== null) {
        await store.put(lastKey(name), encoder.encode(String(due.skippedTo)));
        last.set(name, due.skippedTo);
      }
      const next = entry.schedule.next(Math.max(last.get(name) ?? now, now));
      if (next !== null) wakeAt = Math.min(wakeAt, next);
    }
    return wakeAt;
  }

  /**
   * The occurrences of `entry` to fire now, after `prev` (the last fired), and — when the policy
   * skips missed ones — the occurrence to record as done instead.
   */
  #due(name: string, entry: BeatEntry, prev: number, now: number): { fire: number[]; skippedTo: number | null } {
    const none = { fire: [], skippedTo: null };
    const first = entry.schedule.next(prev);
    if (first === null || first > now) return none;
    if (now - first <= this.#catchUpMs) {
      const fire: number[] = [];
      for (let t: number | null = first; t !== null && t <= now && fire.length < 10_000; t = entry.schedule.next(t)) fire.push(t);
      return { fire, skippedTo: null };
    }
    const latest = entry.schedule.previous(now);
    if (latest === null) return none;
    if ((entry.missed ?? this.#missed) === "skip") {
      this.#host.log.warn(`beat: skipping missed occurrences of ${name} since ${new Date(first).toISOString()} (policy skip)`);
      return { fire: [], skippedTo: latest };
    }
    this.#host.log.warn(`beat: ${name} missed occurrences since ${new Date(first).toISOString()}; firing the latest once`);
    return { fire: [latest], skippedTo: null };
  }

  async #fire(name: string, entry: BeatEntry, fireMs: number): Promise<void> {
    const taskId = fireId(name, fireMs);
    await this.#host.sendTask(entry.task, entry.args ?? [], {
      ...entry.options,
      ...(entry.kwargs ? { kwargs: entry.kwargs } : {}),
      taskId,
    });
    this.#host.log.info(`beat: sent ${entry.task} (${name}, due ${new Date(fireMs).toISOString()})`);
    this.#emitter.emit("fired", { entry: name, task: entry.task, fireMs, taskId });
  }
}
