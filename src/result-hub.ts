/**
 * Waits for results on behalf of every `AsyncResult.get()` of one app, with one subscription.
 *
 * Workers publish a notice (the encoded result record) to the reply subject carried by each task
 * message. A `get()` is answered from that notice; it never polls in a loop. Notices travel on
 * core NATS and can be lost (a disconnect), so:
 * - `get()` reads the backend once when it starts waiting, unless this client published the task
 *   and has been connected since (then the notice cannot have been missed);
 * - after a reconnect every waiter is checked against the backend at once;
 * - a slow fallback tick checks long waiters in batches (MGET), with growing intervals.
 *
 * Progress (`ctx.progress`, custom states) arrives the same way, as notices of a state that is not
 * ready, and goes to whoever listens for that task. For a task this client published, events that
 * arrive before anyone listens are kept (bounded) and replayed to the first listener, so
 * `(await t.delay()).get({ onProgress })` misses no step of a fast task.
 */
import type { Broker } from "./broker/types.ts";
import type { ResultBackend } from "./backend/types.ts";
import { NOTICE_IN_BACKEND, type ResultRecord } from "./protocol/result.ts";
import { isProgressState, isReady } from "./states.ts";
import { ClosedError, TimeoutError } from "./errors.ts";
import { RecentMap } from "./recent-map.ts";

/** Receives a task's progress: the value (`ctx.progress`'s, or a custom state's meta) and the state. */
export type ProgressListener = (value: unknown, state: string) => void;

interface Waiter {
  resolve(r: ResultRecord): void;
  reject(e: Error): void;
  nextCheck: number;
  interval: number;
  /** When a long timeout ends (epoch ms), checked by the tick; Infinity when a timer or nothing ends it. */
  deadline: number;
  /** The timer of a short timeout. */
  timer: ReturnType<typeof setTimeout> | undefined;
  timeoutMs: number | null;
}

/** At most this many arrived-but-not-yet-awaited notices are kept, at least half as many (older ones are read from the backend). */
const NOTICE_CACHE = 10_000;
const FIRST_CHECK_MS = 1_000;
const MAX_CHECK_MS = 30_000;
const TICK_MS = 500;
/**
 * Timeouts from this long on end at the tick, up to TICK_MS late (5% at most), rather than with a
 * timer each: a timer per get() was a Timeout object and two closures per task on the caller.
 */
const TICK_TIMEOUT_MS = 10_000;
/** Progress events kept for tasks nobody listens to yet, across all tasks (oldest task dropped first). */
const UNCLAIMED_EVENTS = 10_000;

/** One per app: the client side of result notices. */
export class ResultHub {
  readonly replySubject: string;
  #getBroker: () => Promise<Broker>;
  #getBackend: () => Promise<ResultBackend>;
  #started: Promise<void> | null = null;
  #unsubscribe: (() => void) | null = null;
  #offStatus: (() => void) | null = null;
  /** Ready records that arrived before anyone asked: the latest NOTICE_CACHE / 2 at least. */
  #arrived = new RecentMap<string, ResultRecord>(NOTICE_CACHE, (dropped) => {
    if (this.#unclaimed.size > 0) { for (const id of dropped.keys()) this.#dropUnclaimed(id); }
  });
  /**
   * Ids this client published while connected, with the connection epoch at the time. For the
   * ones dropped, get() falls back to one backend read.
   */
  #published = new RecentMap<string, number>(NOTICE_CACHE * 10);
  #epoch = 0;
  /** Who waits for each task: nearly always one waiter, so an array (a Set per task cost more). */
  #waiters = new Map<string, Waiter[]>();
  #progress = new Map<string, Set<ProgressListener>>();
  /** Progress of tasks this client published that nobody listened to yet, in arrival order. */
  #unclaimed = new Map<string, [value: unknown, state: string][]>();
  #unclaimedCount = 0;
  #tick: ReturnType<typeof setInterval> | null = null;
  #closed = false;

  #decode: (bytes: Uint8Array) => ResultRecord | null;

  /** `decode` reads a notice: workers send the record encoded with the result serializer. */
  constructor(
    broker: () => Promise<Broker>,
    backend: () => Promise<ResultBackend>,
    replySubject: string,
    decode: (bytes: Uint8Array) => ResultRecord | null,
  ) {
    this.#getBroker = broker;
    this.#getBackend = backend;
    this.#decode = decode;
    this.replySubject = replySubject;
  }

  /** @internal How many tasks are being waited for (diagnostics and tests). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** True once the reply subscription is in place. */
  started = false;

  /** Subscribes once; every later call returns the same promise. */
  start(): Promise<void> {
    this.#started ??= (async () => {
      const broker = await this.#getBroker();
      this.#unsubscribe = broker.subscribe(this.replySubject, (data) => this.#onNotice(data));
      this.#offStatus = broker.onStatus((s) => {
        this.#epoch++;
        if (s === "reconnected") void this.#checkBackend([...this.#waiters.keys()]);
      });
      this.started = true;
    })().catch((err) => {
      this.#started = null;
      throw err;
    });
    return this.#started;
  }

  /** Notes that this client just published `id` with its reply subject. */
  published(id: string): void {
    this.#published.set(id, this.#epoch);
  }

  #onNotice(data: Uint8Array): void {
    let record: ResultRecord | null;
    try {
      record = this.#decode(data);
    } catch {
      return; // a notice we cannot read; the backend read will answer instead
    }
    if (!record) return;
    if (!isReady(record.status)) {
      if (isProgressState(record.status)) this.#progressed(record);
      return;
    }
    // Too large to travel on NATS: the record is in the backend.
    if ((record as unknown as Record<string, unknown>)[NOTICE_IN_BACKEND] === true) {
      void this.#checkBackend([record.task_id]);
      return;
    }
    this.#settle(record);
  }

  #progressed(record: ResultRecord): void {
    const id = record.task_id;
    const ls = this.#progress.get(id);
    if (ls) {
      for (const l of ls) call(l, record.result, record.status);
      return;
    }
    if (!this.#published.has(id) && !this.#unclaimed.has(id)) return;
    let list = this.#unclaimed.get(id);
    if (!list) this.#unclaimed.set(id, list = []);
    list.push([record.result, record.status]);
    this.#unclaimedCount++;
    while (this.#unclaimedCount > UNCLAIMED_EVENTS) {
      const [oldest, events] = this.#unclaimed.entries().next().value!;
      this.#unclaimed.delete(oldest);
      this.#unclaimedCount -= events.length;
    }
  }

  /**
   * Calls `listener` with each progress event of task `id`: first, synchronously, those kept for
   * a task this client published (see the module comment), then each as it arrives. Returns the
   * function that stops it.
   */
  onProgress(id: string, listener: ProgressListener): () => void {
    let set = this.#progress.get(id);
    if (!set) this.#progress.set(id, set = new Set());
    set.add(listener);
    const kept = this.#unclaimed.get(id);
    if (kept) {
      this.#unclaimed.delete(id);
      this.#unclaimedCount -= kept.length;
      for (const [value, state] of kept) call(listener, value, state);
    }
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#progress.get(id) === set) this.#progress.delete(id);
    };
  }

  #settle(record: ResultRecord): void {
    const id = record.task_id;
    this.#published.delete(id);
    // Kept progress stays while the record waits in #arrived: a later get({ onProgress }) replays it.
    const ws = this.#waiters.get(id);
    if (ws) {
      this.#waiters.delete(id);
      this.#dropUnclaimed(id); // its waiters did not ask for progress: nobody will now
      for (const w of ws) {
        if (w.timer) clearTimeout(w.timer);
        w.resolve(record);
      }
      this.#maybeStopTick();
      return;
    }
    this.#arrived.set(id, record);
  }

  /**
   * Resolves with the task's ready record. Rejects with TimeoutError after `timeoutMs`
   * (null = wait forever), or with the signal's reason once `signal` aborts (the waiter is gone).
   */
  wait(id: string, timeoutMs: number | null, signal?: AbortSignal): Promise<ResultRecord> {
    if (this.#closed) return Promise.reject(new ClosedError("app"));
    if (!this.started) return this.start().then(() => this.wait(id, timeoutMs, signal));
    const early = this.#arrived.get(id);
    if (early) {
      this.#arrived.delete(id);
      this.#dropUnclaimed(id);
      return Promise.resolve(early);
    }
    const sure = this.#published.get(id) === this.#epoch;
    const p = new Promise<ResultRecord>((resolve, reject) => {
      const now = Date.now();
      const w: Waiter = {
        resolve,
        reject,
        nextCheck: now + FIRST_CHECK_MS,
        interval: FIRST_CHECK_MS,
        deadline: timeoutMs !== null && timeoutMs >= TICK_TIMEOUT_MS ? now + timeoutMs : Infinity,
        timer: undefined,
        timeoutMs,
      };
      const ws = this.#waiters.get(id);
      if (ws) ws.push(w);
      else this.#waiters.set(id, [w]);
      if (timeoutMs !== null && timeoutMs < TICK_TIMEOUT_MS) w.timer = setTimeout(() => this.#timeOut(id, w), timeoutMs);
      signal?.addEventListener("abort", () => {
        this.#drop(id, w);
        reject(signal.reason);
      }, { once: true });
      this.#ensureTick();
    });
    // Not awaited: `p` must have its handler before the timer can reject it.
    if (!sure) void this.#checkBackend([id]);
    return p;
  }

  #timeOut(id: string, w: Waiter): void {
    this.#drop(id, w);
    w.reject(new TimeoutError(`the result of task ${id} did not arrive within ${(w.timeoutMs ?? 0) / 1000}s`));
  }

  #drop(id: string, w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    const ws = this.#waiters.get(id);
    if (!ws) return;
    const i = ws.indexOf(w);
    if (i >= 0) ws.splice(i, 1);
    if (ws.length === 0) this.#waiters.delete(id);
    this.#maybeStopTick();
  }

  async #checkBackend(ids: string[]): Promise<void> {
    if (ids.length === 0 || this.#closed) return;
    let records: (ResultRecord | null)[];
    try {
      records = await (await this.#getBackend()).getMany(ids);
    } catch {
      return; // the backend is down; the tick will try again
    }
    for (const r of records) if (r && isReady(r.status)) this.#settle(r);
  }

  #ensureTick(): void {
    if (this.#tick || this.#closed) return;
    this.#tick = setInterval(() => {
      const now = Date.now();
      const due: string[] = [];
      const late: [string, Waiter][] = [];
      for (const [id, ws] of this.#waiters) {
        for (const w of ws) if (w.deadline <= now) late.push([id, w]);
        for (const w of ws) {
          if (w.nextCheck > now) continue;
          w.interval = Math.min(w.interval * 2, MAX_CHECK_MS);
          w.nextCheck = now + w.interval;
          due.push(id);
          break;
        }
      }
      for (const [id, w] of late) this.#timeOut(id, w);
      for (let i = 0; i < due.length; i += 1000) void this.#checkBackend(due.slice(i, i + 1000));
    }, TICK_MS);
  }

  #maybeStopTick(): void {
    if (this.#waiters.size === 0 && this.#tick) {
      clearInterval(this.#tick);
      this.#tick = null;
    }
  }

  /** Stops listening; pending waits reject. */
  close(): void {
    this.#closed = true;
    this.#unsubscribe?.();
    this.#offStatus?.();
    if (this.#tick) clearInterval(this.#tick);
    this.#tick = null;
    for (const ws of this.#waiters.values()) {
      for (const w of ws) {
        if (w.timer) clearTimeout(w.timer);
        w.reject(new ClosedError("app"));
      }
    }
    this.#waiters.clear();
    this.#progress.clear();
    this.#unclaimed.clear();
    this.#unclaimedCount = 0;
  }

  #dropUnclaimed(id: string): void {
    const kept = this.#unclaimed.get(id);
    if (!kept) return;
    this.#unclaimed.delete(id);
    this.#unclaimedCount -= kept.length;
  }
}

function call(l: ProgressListener, value: unknown, state: string): void {
  try {
    l(value, state);
  } catch {
    // a listener's error is its own; the others and the result still arrive
  }
}
