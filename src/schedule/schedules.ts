/**
 * When periodic tasks fire: `every(seconds)` and `crontab(expr, { tz })`.
 *
 * Fire times are deterministic — every process computes the same ones — so that two beat
 * replicas firing the same occurrence publish the same message id and JetStream keeps one.
 * `every` fires at multiples of its interval since the epoch (plus an optional offset); crontab
 * follows wall-clock time in its IANA time zone (croner), across daylight-saving changes: a time
 * skipped by the spring change fires when the gap ends, a time repeated in autumn fires once.
 */
import { Cron } from "croner";
import { ConfigError } from "../errors.ts";

/** A schedule: its fire times (epoch ms). */
export interface Schedule {
  /** The first fire time strictly after `afterMs`, or null if it never fires again. */
  next(afterMs: number): number | null;
  /** The last fire time at or before `atMs`, or null if none. */
  previous(atMs: number): number | null;
  /** For banners and logs: `every 10s`, `crontab 0 3 * * * (Europe/Berlin)`. */
  toString(): string;
}

/** Fires every `seconds` (fractions allowed, ≥ 0.05), at multiples of the interval since the epoch. */
export function every(seconds: number, opts: { offset?: number } = {}): Schedule {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0.05) {
    throw new ConfigError("every(seconds)", `must be a number of seconds ≥ 0.05, got ${JSON.stringify(seconds)}`);
  }
  const interval = Math.round(seconds * 1000);
  const offset = Math.round((opts.offset ?? 0) * 1000) % interval;
  const previous = (at: number) => Math.floor((at - offset) / interval) * interval + offset;
  return {
    next: (after) => previous(after) + interval,
    previous,
    toString: () => `every ${seconds}s`,
  };
}

/**
 * Fires on a cron expression (5 fields, or 6 with seconds first) in time zone `tz` (IANA name,
 * default UTC). Throws ConfigError at once for a bad expression or zone.
 */
export function crontab(expr: string, opts: { tz?: string } = {}): Schedule {
  const tz = opts.tz ?? "UTC";
  let cron: Cron;
  try {
    cron = new Cron(expr, { timezone: tz, paused: true });
    cron.nextRun(new Date()); // croner checks the zone only when computing
  } catch (err) {
    throw new ConfigError(`crontab("${expr}", { tz: "${tz}" })`, (err as Error).message, { cause: err });
  }
  return {
    next: (after) => cron.nextRun(new Date(after))?.getTime() ?? null,
    // previousRuns is strictly before its reference: ask just after `at` to include it.
    previous: (at) => cron.previousRuns(1, new Date(at + 1))[0]?.getTime() ?? null,
    toString: () => `crontab ${expr} (${tz})`,
  };
}
