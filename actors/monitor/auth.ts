/**
 * HTTP basic authentication for the monitor, as Flower's `--basic-auth user:password[,...]`.
 * `/livez` stays open for probes. Credentials are compared by their SHA-256 digests with a
 * constant-time comparison, so the time taken says nothing about how much of a guess was right.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { HttpGuard } from "../../src/internal.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Parses `user:password[,user2:password2]`; throws naming `field` when a pair has no user or no
 * password (a password may itself hold ":").
 */
export function parseBasicAuth(spec: string, field: string): string[] {
  const pairs = spec.split(",").map((p) => p.trim()).filter(Boolean);
  if (pairs.length === 0) throw new Error(`${field}: expected user:password[,user2:password2]`);
  for (const p of pairs) {
    const i = p.indexOf(":");
    if (i <= 0 || i === p.length - 1) throw new Error(`${field}: "${p.replace(/:.*/, ":***")}" is not user:password`);
  }
  return pairs;
}

/** A guard that lets through requests carrying one of `pairs` (`user:password`). */
export function basicAuthGuard(pairs: string[], realm = "celeriac monitor"): HttpGuard {
  const allowed = pairs.map(digest);
  return (path, authorization) => {
    if (path === "/livez") return null;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? "");
    if (m) {
      const given = digest(Buffer.from(m[1]!, "base64").toString("utf8"));
      // Compare with every pair, whatever matched, so timing does not tell which user exists.
      let ok = false;
      for (const a of allowed) ok = timingSafeEqual(a, given) || ok;
      if (ok) return null;
    }
    return {
      status: 401,
      body: "authentication required\n",
      headers: { "www-authenticate": `Basic realm="${realm}", charset="UTF-8"` },
    };
  };
}
