/**
 * Rate limits (`rateLimit: "10/s"`, Celery's syntax) and the token bucket that enforces them.
 */
import { ConfigError } from "./errors.ts";

/** A compiled rate: tokens per millisecond, and the text it came from. */
export interface Rate {
  readonly perMs: number;
  readonly text: string;
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses Celery's rate syntax: `"10/s"`, `"100/m"`, `"5/h"`, or a number (per second).
 * `0`, `""` and null mean no limit (null). Throws ConfigError naming `field`.
 */
export function parseRate(v: unknown, field: string): Rate | null {
  if (v === undefined || v === null || v === "" || v === 0 || v === "0") return null;
  if (typeof v === "number") {
    if (!Number.isFinite(v) || v < 0) throw new ConfigError(field, `must be a rate like "10/s", got ${v}`);
    return { perMs: v / 1_000, text: `${v}/s` };
  }
  const m = typeof v === "string" ? /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([smh]))?\s*$/.exec(v) : null;
  if (!m) throw new ConfigError(field, `must be a rate like "10/s", "100/m" or "5/h", got ${JSON.stringify(v)}`);
  const n = Number(m[1]);
  if (n === 0) return null;
  return { perMs: n / UNIT_MS[m[2] ?? "s"]!, text: `${n}/${m[2] ?? "s"}` };
}

/**
 * A token bucket of capacity one (as Celery's): at most one task starts per 1/rate, with no
 * bursts. `reserve()` takes the next token even if it lies in the future, and says how long to
 * wait for it; `unreserve()` gives back a token a caller decided not to wait for.
 */
export class TokenBucket {
  #intervalMs: number;
  /** When the next token is free. */
  #nextAt = 0;

  constructor(rate: Rate) {
    this.#intervalMs = 1 / rate.perMs;
  }

  /** Takes a token; returns the milliseconds until it may be used (0 = now). */
  reserve(now: number = Date.now()): number {
    const at = Math.max(now, this.#nextAt);
    this.#nextAt = at + this.#intervalMs;
    return at - now;
  }

  /** Returns the last reserved token (its holder will not use it). */
  unreserve(): void {
    this.#nextAt -= this.#intervalMs;
  }
}
