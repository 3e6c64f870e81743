/**
 * Time series for the monitor's charts, kept in memory for the last hour: task outcomes per
 * second and runtime percentiles per minute (per task name and for all tasks), and queue depth
 * samples. Fixed-size rings, so memory does not grow with traffic: 3,600 one-second slots of
 * counts, and per minute a bounded sample of runtimes (a reservoir) for the percentiles.
 */

/** The outcomes counted per second. */
export const OUTCOMES = ["succeeded", "failed", "retried"] as const;
/** One of {@link OUTCOMES}. */
export type Outcome = typeof OUTCOMES[number];

const WINDOW_S = 3_600;
const MINUTES = 60;
const SAMPLE_PER_MINUTE = 256;
const ALL = "*";

interface Slot {
  /** Epoch second this slot holds (a slot is reused an hour later). */
  second: number;
  counts: Map<string, [number, number, number]>;
}

interface MinuteSample {
  minute: number;
  /** Per task name: the runtimes kept, and how many were offered (for the reservoir). */
  runtimes: Map<string, { kept: number[]; seen: number }>;
}

/** Per-second outcome counts and per-minute runtime samples over the last hour. */
export class TaskRates {
  #slots: Slot[] = Array.from({ length: WINDOW_S }, () => ({ second: -1, counts: new Map() }));
  #minutes: MinuteSample[] = Array.from({ length: MINUTES }, () => ({ minute: -1, runtimes: new Map() }));
  #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** Counts one outcome of task `name` at `atS` (epoch seconds), with its runtime in seconds when known. */
  record(name: string, outcome: Outcome, atS: number, runtimeS?: number | null): void {
    const second = Math.floor(atS);
    const slot = this.#slots[second % WINDOW_S]!;
    if (slot.second !== second) {
      slot.second = second;
      slot.counts.clear();
    }
    const i = OUTCOMES.indexOf(outcome);
    for (const key of [name, ALL]) {
      let c = slot.counts.get(key);
      if (!c) slot.counts.set(key, c = [0, 0, 0]);
      c[i]!++;
    }
    if (typeof runtimeS === "number" && Number.isFinite(runtimeS)) this.#sample(name, Math.floor(second / 60), runtimeS);
  }

  #sample(name: string, minute: number, runtimeS: number): void {
    const m = this.#minutes[minute % MINUTES]!;
    if (m.minute !== minute) {
      m.minute = minute;
      m.runtimes.clear();
    }
    for (const key of [name, ALL]) {
      let r = m.runtimes.get(key);
      if (!r) m.runtimes.set(key, r = { kept: [], seen: 0 });
      r.seen++;
      if (r.kept.length < SAMPLE_PER_MINUTE) r.kept.push(runtimeS);
      else {
        // Reservoir sampling: each runtime of the minute has the same chance to be kept.
        const j = Math.floor(this.#random() * r.seen);
        if (j < SAMPLE_PER_MINUTE) r.kept[j] = runtimeS;
      }
    }
  }

  /**
   * Outcomes per second for the last `windowS` seconds before `nowS`, summed into `stepS`-second
   * points (rates per second), for one task name or all.
   */
  rates(nowS: number, opts: { name?: string; windowS?: number; stepS?: number } = {}): {
    t: number[];
    succeeded: number[];
    failed: number[];
    retried: number[];
  } {
    const windowS = Math.min(WINDOW_S, opts.windowS ?? WINDOW_S);
    const stepS = Math.max(1, opts.stepS ?? 60);
    const key = opts.name || ALL;
    const end = Math.floor(nowS);
    const out = { t: [] as number[], succeeded: [] as number[], failed: [] as number[], retried: [] as number[] };
    for (let start = end - windowS + 1; start <= end; start += stepS) {
      const sums = [0, 0, 0];
      for (let s = start; s < start + stepS && s <= end; s++) {
        const slot = this.#slots[s % WINDOW_S]!;
        const c = slot.second === s ? slot.counts.get(key) : undefined;
        if (c) { for (let i = 0; i < 3; i++) sums[i]! += c[i]!; }
      }
      out.t.push(start);
      out.succeeded.push(sums[0]! / stepS);
      out.failed.push(sums[1]! / stepS);
      out.retried.push(sums[2]! / stepS);
    }
    return out;
  }

  /** Runtime p50 and p95 (seconds) per minute for the last hour, null where nothing ran. */
  runtimes(nowS: number, name?: string): { t: number[]; p50: (number | null)[]; p95: (number | null)[] } {
    const key = name || ALL;
    const current = Math.floor(nowS / 60);
    const out = { t: [] as number[], p50: [] as (number | null)[], p95: [] as (number | null)[] };
    for (let minute = current - MINUTES + 1; minute <= current; minute++) {
      const m = this.#minutes[((minute % MINUTES) + MINUTES) % MINUTES]!;
      const r = m.minute === minute ? m.runtimes.get(key) : undefined;
      const sorted = r ? [...r.kept].sort((a, b) => a - b) : [];
      out.t.push(minute * 60);
      out.p50.push(percentile(sorted, 0.5));
      out.p95.push(percentile(sorted, 0.95));
    }
    return out;
  }
}

/** The p-quantile of ascending values (nearest rank); null when empty. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** Queue depth samples (waiting messages per queue) over the last hour, one every `everyS`. */
export class DepthHistory {
  #samples = new Map<string, { t: number; depth: number }[]>();
  #max: number;

  constructor(everyS = 10) {
    this.#max = Math.ceil(WINDOW_S / everyS);
  }

  /** Adds a sample for `queue` at `atS` (epoch seconds). */
  add(queue: string, atS: number, depth: number): void {
    let s = this.#samples.get(queue);
    if (!s) this.#samples.set(queue, s = []);
    s.push({ t: Math.floor(atS), depth });
    if (s.length > this.#max) s.shift();
  }

  /** Every queue's samples, oldest first. */
  all(): Record<string, { t: number; depth: number }[]> {
    return Object.fromEntries(this.#samples);
  }
}
