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

/** The logging surface tasks and internals use. */
export interface Logger {
  debug(msg: string, ...extra: unknown[]): void;
  info(msg: string, ...extra: unknown[]): void;
  warn(msg: string, ...extra: unknown[]): void;
  error(msg: string, ...extra: unknown[]): void;
  /** A logger whose lines carry `prefix` (e.g. the task name and id). */
  child(prefix: string): Logger;
  /** True if lines at `level` are printed (lets callers skip building them). */
  enabledFor(level: LogLevelName): boolean;
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
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${
    p(d.getSeconds())
  },${p(d.getMilliseconds(), 3)}`;
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
