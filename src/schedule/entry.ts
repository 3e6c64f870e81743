/**
 * The beat schedule as an app declares it (`beatSchedule`), and its validation. Apart from the
 * beat itself so that the app's options can name and check it without importing the beat.
 */
import type { ApplyOptions } from "../apply-options.ts";
import type { Schedule } from "./schedules.ts";
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
