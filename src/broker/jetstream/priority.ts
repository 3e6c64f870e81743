/**
 * Priorities on JetStream 2.9, which has none: one subject and one durable per level, and a
 * consumer that spends the worker's pull credit on the highest level that has work.
 *
 * Level 0 is the queue's bare subject and durable (`<p>.tasks.<q>`, `q_<q>`), so producers that
 * know nothing of priorities (other languages, older apps) keep working; level n is
 * `<p>.tasks.<q>.<n>`, durable `p<n>_<q>`. Each level is FIFO; a higher level runs first
 * (RabbitMQ's order, Celery's on AMQP).
 *
 * How credit moves. Level 0 is pulled as before, with long-lived pull requests: they keep an idle
 * worker reachable. Levels 1–9 are only probed, with `no_wait` pulls that end at once when the
 * level is empty. Every unit of credit the worker grants first probes the levels that may hold
 * work ("hot"), highest first; what a probe leaves unused goes to the next hot level, the rest
 * to level 0. A level turns cold when a probe finds it empty, and hot again when a producer rings
 * its doorbell (`<p>.bell.<q>`, core NATS, after the publish was stored), or when a scan (one
 * stream-info call listing the levels' subjects that hold messages) finds messages there: once
 * before the first pull, after the doorbell is subscribed (so nothing falls between the two), and
 * then periodically, which covers a lost doorbell.
 *
 * The hazard: credit already parked in a level-0 pull request cannot be taken back (2.9 cannot
 * cancel a pull). When a doorbell rings for an idle worker, the probe borrows that parked credit;
 * if level 0 then delivers too (a level-0 message arriving in the same instant), one of the two is
 * over the worker's credit, and nothing runs beyond the worker's concurrency:
 * - a level-0 message over it is handed back with a short delayed nak (redelivered, its delivery
 *   count one higher);
 * - a message of a higher level over it is held here and runs first on the next unit of credit
 *   (the worker's next free slot), ahead of any probe or level-0 pull. A delayed nak would hide it
 *   from the very probes that should fetch it: the next probe finds the level empty and turns it
 *   cold, and the message waits for the periodic rescan behind the whole level-0 backlog. A message
 *   still held after `overflowHoldMs` (every slot stayed busy) is handed back with a plain nak,
 *   so another worker may take it, and its level stays hot.
 * With a busy level 0 the race is common, not rare: a worker that finishes a task lends its slot
 * to level 0's pull, and a doorbell rung during that round trip borrows the same unit.
 *
 * A doorbell rung for the level being probed, while the probe is on its way, keeps the level hot
 * even if that probe comes back empty: the message may have been stored after the server looked.
 */
import type { ConsumeHandlers, Delivery, QueueConsumer, QueueStats } from "../types.ts";
import { MAX_PRIORITY } from "../../protocol/message.ts";

/** Tuning of the priority consumer. */
export interface PriorityOptions {
  /** How often every level is probed again even without a doorbell (a doorbell may be lost). */
  rescanMs: number;
  /** Delay of the nak that hands back a level-0 delivery over the worker's credit (see the module note). */
  overflowNakMs: number;
  /** How long higher levels' deliveries over the worker's credit wait here for a slot (from the first held) before they are handed back. */
  overflowHoldMs: number;
}

/** Defaults for {@link PriorityOptions}. */
export const PRIORITY_DEFAULTS: PriorityOptions = { rescanMs: 5_000, overflowNakMs: 1_000, overflowHoldMs: 1_000 };

/** Opens the consumer of one level, reporting to `handlers`. Level 0 pulls and waits; others probe. */
export type LevelOpener = (level: number, handlers: ConsumeHandlers) => QueueConsumer;

/** Lists the levels above 0 that hold messages now (delivered or not). */
export type LevelScan = () => Promise<number[]>;

/** The consumer of one queue across its priority levels. */
export class PriorityConsumer implements QueueConsumer {
  #handlers: ConsumeHandlers;
  #opts: PriorityOptions;
  #levels: QueueConsumer[] = [];
  /** Granted by the worker and not yet delivered. */
  #credit = 0;
  /** Credit given to level 0's pull requests and not yet delivered or returned. */
  #lent0 = 0;
  /** Levels 1..9 that may hold messages (index = level; 0 unused). */
  #hot: boolean[] = new Array(MAX_PRIORITY + 1).fill(false);
  #scan: LevelScan | null;
  /** No credit moves before the first scan said which levels hold work. */
  #started = false;
  /** The level being probed and how many deliveries its probe may still bring; 0 = none. */
  #probing = 0;
  #probeLeft = 0;
  /** A doorbell rang for the level being probed while its probe was on its way. */
  #rungWhileProbing = false;
  /** Deliveries of levels above 0 that came over the credit, highest level first; they run next. */
  #held: { level: number; d: Delivery }[] = [];
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #timer: ReturnType<typeof setInterval>;

  /** Without `scan`, every level counts as possibly busy at first and on each rescan. */
  constructor(open: LevelOpener, handlers: ConsumeHandlers, opts: PriorityOptions = PRIORITY_DEFAULTS, scan?: LevelScan) {
    this.#handlers = handlers;
    this.#opts = opts;
    this.#scan = scan ?? null;
    for (let level = 0; level <= MAX_PRIORITY; level++) this.#levels.push(open(level, this.#levelHandlers(level)));
    this.#timer = setInterval(() => this.rescan(), opts.rescanMs);
  }

  /** Runs the first scan; credit granted before it waits for it. */
  async start(): Promise<void> {
    await this.#rescanNow();
    this.#started = true;
    this.#pump();
  }

  /** Allows `n` more deliveries, from the highest level that has work. */
  grant(n: number): void {
    if (this.#stopped || n <= 0) return;
    this.#credit += n;
    this.#pump();
  }

  /** A producer stored a message at `level` (the doorbell). */
  ring(level: number): void {
    if (!Number.isInteger(level) || level < 1 || level > MAX_PRIORITY || this.#stopped) return;
    this.#hot[level] = true;
    if (level === this.#probing) this.#rungWhileProbing = true;
    this.#pump();
  }

  /** Marks the levels that hold work (all, without a scan) as hot and probes them. */
  rescan(): void {
    this.#rescanNow().then(() => this.#pump(), (err) => this.#handlers.onError(err as Error));
  }

  async #rescanNow(): Promise<void> {
    if (this.#stopped) return;
    let levels: number[] | null = null;
    if (this.#scan) {
      try {
        levels = await this.#scan();
      } catch (err) {
        this.#handlers.onError(err as Error); // and probe every level instead
      }
    }
    // Only ever marks hot: a doorbell rung while the scan was under way must not be undone.
    for (let level = 1; level <= MAX_PRIORITY; level++) {
      if (levels === null || levels.includes(level)) this.#hot[level] = true;
    }
  }

  /** Credit held now (for tests): [granted and undelivered, lent to level 0]. */
  get credit(): { granted: number; lent0: number } {
    return { granted: this.#credit, lent0: this.#lent0 };
  }

  #pump(): void {
    if (this.#stopped || !this.#started) return;
    while (this.#credit > 0 && this.#held.length > 0) {
      this.#credit--;
      this.#handlers.onDelivery(this.#held.shift()!.d);
    }
    if (this.#held.length === 0 && this.#holdTimer) {
      clearTimeout(this.#holdTimer);
      this.#holdTimer = undefined;
    }
    if (this.#probing !== 0) return;
    if (this.#credit > 0) {
      for (let level = MAX_PRIORITY; level >= 1; level--) {
        if (!this.#hot[level]) continue;
        // All of the worker's credit, even what waits in level 0's pull: a higher level goes first.
        this.#probing = level;
        this.#probeLeft = this.#credit;
        this.#rungWhileProbing = false;
        this.#levels[level]!.grant(this.#credit);
        return;
      }
    }
    const free = this.#credit - this.#lent0;
    if (free > 0) {
      this.#lent0 += free;
      this.#levels[0]!.grant(free);
    }
  }

  #levelHandlers(level: number): ConsumeHandlers {
    return {
      onDelivery: (d) => this.#onDelivery(level, d),
      onReturned: (n) => this.#onReturned(level, n),
      onExhausted: (ex) => this.#handlers.onExhausted(ex),
      onError: (err) => this.#handlers.onError(err),
    };
  }

  #onDelivery(level: number, d: Delivery): void {
    if (level === 0) this.#lent0 = Math.max(0, this.#lent0 - 1);
    if (this.#stopped) {
      d.nak();
    } else if (this.#credit <= 0 && level !== 0) {
      this.#hold(level, d);
    } else if (this.#credit <= 0) {
      d.nak(this.#opts.overflowNakMs);
    } else {
      this.#credit--;
      this.#handlers.onDelivery(d);
    }
    if (level !== 0 && level === this.#probing && --this.#probeLeft <= 0) {
      // The probe was filled: the level may hold more, so it stays hot.
      this.#probing = 0;
      this.#pump();
    }
  }

  /** Keeps a higher level's delivery over the credit for the next unit of credit (module note). */
  #hold(level: number, d: Delivery): void {
    const at = this.#held.findIndex((h) => h.level < level);
    this.#held.splice(at < 0 ? this.#held.length : at, 0, { level, d });
    this.#holdTimer ??= setTimeout(() => this.#handBack(), this.#opts.overflowHoldMs);
  }

  /** Every slot stayed busy: what is held goes back to the stream, for any worker; its level stays hot. */
  #handBack(): void {
    this.#holdTimer = undefined;
    for (const { level, d } of this.#held.splice(0)) {
      this.#hot[level] = true;
      d.nak();
    }
  }

  #onReturned(level: number, n: number): void {
    if (level === 0) {
      this.#lent0 = Math.max(0, this.#lent0 - n);
      // What level 0 hands back beyond our credit was borrowed by a probe and already spent.
      const back = Math.min(n, this.#credit);
      if (back > 0) {
        this.#credit -= back;
        this.#handlers.onReturned(back);
      }
      return;
    }
    // Empty: cold, unless its doorbell rang while the probe was on its way (module note).
    if (level !== this.#probing || !this.#rungWhileProbing) this.#hot[level] = false;
    if (level === this.#probing) {
      this.#probing = 0;
      this.#pump();
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    if (this.#holdTimer) clearTimeout(this.#holdTimer);
    for (const { d } of this.#held.splice(0)) d.nak();
    this.#credit = 0;
    await Promise.all(this.#levels.map((l) => l.stop()));
  }
}

/** One level's counts, as read from its durable. */
export interface LevelStats {
  pending: number;
  inFlight: number;
  waiting: number;
  /** When the level's oldest unacked message was stored (epoch ms); absent when none. */
  oldestMs?: number;
}

/** A queue's counts across its levels: sums, and the age of the oldest message of any level. */
export function sumLevelStats(queue: string, levels: LevelStats[], nowMs: number): QueueStats {
  const stats: QueueStats = { queue, pending: 0, inFlight: 0, waiting: 0 };
  let oldest = Infinity;
  for (const l of levels) {
    stats.pending += l.pending;
    stats.inFlight += l.inFlight;
    stats.waiting += l.waiting;
    if (l.oldestMs !== undefined && l.oldestMs < oldest) oldest = l.oldestMs;
  }
  if (oldest !== Infinity) stats.oldestAgeMs = Math.max(0, nowMs - oldest);
  return stats;
}
