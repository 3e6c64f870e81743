/**
 * A small leveled logger with Celery's line format:
 * `[2026-11-23 22:40:00,123: INFO/MainProcess] message`.
 * Output goes through a sink so tests and the CLI can redirect it.
 */
import { writeStderr } from "./runtime/mod.ts";

/** Log levels, lowest first. */
export const LogLevel = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 } as const;
/** A level name. */
export type LogLevelName = keyof typeof LogLevel;

/** Where formatted lines go. */
export type LogSink = (line: string) => void;

/** Structured fields a worker attaches to a task's records (see {@link Logger.bind}). */
export interface LogFields {
  /** The task name. */
  task?: string;
  /** The task id. */
  id?: string;
  /** The worker's name (`celeriac@host`). */
  worker?: string;
  [field: string]: unknown;
}

/**
 * The logging surface tasks and internals use. To plug in pino, winston or a JSON sink, pass an
 * object of this shape as the app's `log` or as `WorkerOptions.logger`; give it `bind` to receive
 * the structured fields of each task's records.
 */
export interface Logger {
  debug(msg: string, ...extra: unknown[]): void;
  info(msg: string, ...extra: unknown[]): void;
  warn(msg: string, ...extra: unknown[]): void;
  error(msg: string, ...extra: unknown[]): void;
  /** A logger whose lines carry `prefix` (e.g. the task name and id). */
  child(prefix: string): Logger;
  /** True if lines at `level` are printed (lets callers skip building them). */
  enabledFor(level: LogLevelName): boolean;
  /**
   * A logger whose records carry these structured fields (`task`, `id`, `worker`); optional. The
   * worker uses it for everything about one task (its `ctx.log` too) when present, and
   * `child("<task>[<id>]")` otherwise.
   */
  bind?(fields: LogFields): Logger;
}

/** The logger for one task's records: with structured fields if `log` takes them, else a prefix. */
export function taskLogger(log: Logger, task: string, id: string, worker: string): Logger {
  return log.bind ? log.bind({ task, id, worker }) : log.child(`${task}[${id}]`);
}

/** True if `x` has a logger's methods (checked where a user's logger is accepted). */
export function isLogger(x: unknown): x is Logger {
  const l = x as Record<string, unknown> | null;
  return typeof l === "object" && l !== null &&
    ["debug", "info", "warn", "error", "child", "enabledFor"].every((k) => typeof l[k] === "function") &&
    (l.bind === undefined || typeof l.bind === "function");
}

/** Parses a level name (case-insensitive, `warn` accepted); null if unknown. */
export function parseLogLevel(s: string): LogLevelName | null {
  const l = s.toLowerCase();
  if (l === "warn") return "warning";
  if (l === "fatal") return "critical";
  return l in LogLevel ? (l as LogLevelName) : null;
}

function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${
    p(d.getMilliseconds(), 3)
  }`;
}

function render(extra: unknown[]): string {
  return extra.map((e) => e instanceof Error ? ` ${e.stack ?? e.message}` : ` ${typeof e === "string" ? e : JSON.stringify(e)}`)
    .join("");
}

/** Creates a logger that prints at `level` and above. */
export function createLogger(
  level: LogLevelName = "warning",
  opts: { sink?: LogSink; process?: string; prefix?: string } = {},
): Logger {
  const sink = opts.sink ?? ((line: string) => writeStderr(line + "\n"));
  const min = LogLevel[level];
  const proc = opts.process ?? "MainProcess";
  const prefix = opts.prefix ? `${opts.prefix} ` : "";
  const emit = (lvl: LogLevelName, msg: string, extra: unknown[]) => {
    if (LogLevel[lvl] < min) return;
    try {
      sink(`[${stamp(new Date())}: ${lvl.toUpperCase()}/${proc}] ${prefix}${msg}${render(extra)}`);
    } catch {
      // logging must never break the caller
    }
  };
  return {
    debug: (m, ...e) => emit("debug", m, e),
    info: (m, ...e) => emit("info", m, e),
    warn: (m, ...e) => emit("warning", m, e),
    error: (m, ...e) => emit("error", m, e),
    child: (p) => createLogger(level, { sink, process: proc, prefix: `${prefix}${p}` }),
    enabledFor: (lvl) => LogLevel[lvl] >= min,
  };
}

/** A logger that prints nothing. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
  enabledFor() {
    return false;
  },
};
