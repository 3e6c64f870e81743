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
import type { ApplyOptions } from "../producer.ts";
import type { AsyncResult } from "../result.ts";
import type { Logger } from "../log.ts";
import type { Schedule } from "./schedules.ts";
import { Emitter, type Events } from "../emitter.ts";
import { sleep, supervise, type Supervised } from "../actor.ts";
import { Lease } from "../lease.ts";
import { ConfigError } from "../errors.ts";

/** What to do with occurrences missed while no beat ran (beyond the catch-up window). */
export type MissedPolicy = "run-once" | "skip";

/** One periodic task. */
export interface BeatEntry {
  /** The task's name. */
  task: string;
  /** When it fires: `every(seconds)` or `crontab(expr, { tz })`. */
  schedule: Schedule;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  /** Options for each call (queue, expires, ...). */
  options?: ApplyOptions;
  /** Overrides the beat's missed-fire policy for this entry. */
  missed?: MissedPolicy;
}

/** Beat tuning. Durations in seconds. */
export interface BeatOptions {
  /** Time to live of the leader lease: a follower takes over this long after a leader dies. @default 5 */
  leaseTtl?: number;
  /** Missed occurrences up to this old are all fired on takeover. @default 60 */
  catchUp?: number;
  /** Policy for older missed occurrences. @default "run-once" */
  missed?: MissedPolicy;
  /** This replica's name in the lease. @default "<hostname>:<pid>" */
  holder?: string;
}

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

/** Checks the schedule of an app; throws ConfigError naming the entry and field. */
export function checkBeatSchedule(schedule: unknown): Record<string, BeatEntry> {
  if (schedule === undefined) return {};
  if (typeof schedule !== "object" || schedule === null) throw new ConfigError("beatSchedule", "must be an object of entries");
  for (const [name, e] of Object.entries(schedule as Record<string, BeatEntry>)) {
    const f = `beatSchedule["${name}"]`;
    if (!name.trim()) throw new ConfigError("beatSchedule", "an entry needs a name");
    if (typeof e?.task !== "string" || !e.task) throw new ConfigError(`${f}.task`, "must be a task name");
    if (typeof e.schedule?.next !== "function" || typeof e.schedule?.previous !== "function") {
      throw new ConfigError(`${f}.schedule`, "must be every(seconds) or crontab(expr, { tz })");
    }
    if (e.args !== undefined && !Array.isArray(e.args)) throw new ConfigError(`${f}.args`, "must be an array");
    if (e.missed !== undefined && e.missed !== "run-once" && e.missed !== "skip") {
      throw new ConfigError(`${f}.missed`, `must be "run-once" or "skip"`);
    }
  }
  return schedule as Record<string, BeatEntry>;
}

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
