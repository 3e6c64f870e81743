/**
 * Where results live: one Redis, a Sentinel-watched master, or a Redis Cluster. Pure parsing and
 * validation (no ioredis here), so options can be checked at start-up and in unit tests.
 *
 * URLs:
 * - `redis://[user:pass@]host:port/db`, `rediss://…` (TLS): one server.
 * - `redis+sentinel://[user:pass@]h1:26379,h2:26379/<master name>[/<db>]` (`rediss+sentinel://`
 *   for TLS to the sentinels and the data nodes). Credentials in the URL are the master's, as
 *   for plain Redis; the sentinels' own are `backend.sentinel.username` / `.password`.
 * - `redis+cluster://[user:pass@]h1:7000,h2:7001` (`rediss+cluster://`): a Redis Cluster, seeded
 *   from those nodes. A cluster has only database 0.
 */
import { ConfigError } from "../errors.ts";

/** A server address. */
export interface RedisNode {
  host: string;
  port: number;
}

/** A parsed result backend URL. */
export type RedisTarget =
  | { kind: "standalone"; url: URL }
  | {
    kind: "sentinel";
    sentinels: RedisNode[];
    masterName: string;
    db: number;
    tls: boolean;
    username?: string;
    password?: string;
  }
  | { kind: "cluster"; nodes: RedisNode[]; tls: boolean; username?: string; password?: string };

/** Sentinel fields given as options instead of (or to complete) a `redis+sentinel://` URL. */
export interface SentinelOptions {
  /** Sentinel addresses, `host:port` each (the URL's host list). @default none */
  sentinels?: string[];
  /** The master group name the sentinels watch (the URL's first path segment). @default none */
  masterName?: string;
  /** Database number. @default 0 */
  db?: number;
  /** ACL user the sentinels require (their own, not the master's). Env `CELERIAC_REDIS_SENTINEL_USER`. @default none */
  username?: string;
  /** Password the sentinels require (`requirepass` in sentinel.conf). Env `CELERIAC_REDIS_SENTINEL_PASSWORD`. @default none */
  password?: string;
  /** Use TLS to the sentinels and data nodes (what `rediss+sentinel://` says). @default false */
  tls?: boolean;
}

/** Compiled Sentinel credentials (the sentinels' own). */
export interface SentinelAuth {
  username?: string;
  password?: string;
}

const HA_URL = /^(rediss?)\+(sentinel|cluster):\/\/(?:([^@/]*)@)?([^/]*)(\/.*)?$/;

/** Parses a result backend URL; throws ConfigError naming `field` with what to fix. */
export function parseRedisTarget(url: string, field: string): RedisTarget {
  const ha = HA_URL.exec(url);
  if (!ha) return { kind: "standalone", url: standaloneUrl(url, field) };
  const [, scheme, kind, userinfo, hostList, path = ""] = ha;
  const tls = scheme === "rediss";
  const creds = credentials(userinfo, url, field);
  const defaultPort = kind === "sentinel" ? 26379 : 6379;
  const nodes = hostList.split(",").map((h) => node(h.trim(), defaultPort, url, field));
  if (kind === "cluster") {
    if (path !== "" && path !== "/" && path !== "/0") {
      throw new ConfigError(field, `a Redis Cluster has only database 0; remove "${path}" from "${redact(url)}"`);
    }
    return { kind: "cluster", nodes, tls, ...creds };
  }
  const segments = path.split("/").slice(1);
  const masterName = decodeURIComponent(segments[0] ?? "");
  if (masterName === "" || segments.length > 2) {
    throw new ConfigError(field, `"${redact(url)}" must name the master: redis+sentinel://host:26379,host:26379/<master name>/<db>`);
  }
  return { kind: "sentinel", sentinels: nodes, masterName, db: dbNumber(segments[1] ?? "", url, field), tls, ...creds };
}

/** Builds the `redis+sentinel://` URL that `backend.sentinel` describes. */
export function sentinelUrl(s: SentinelOptions): string {
  const field = "backend.sentinel";
  if (!Array.isArray(s.sentinels) || s.sentinels.length === 0 || !s.sentinels.every((a) => typeof a === "string")) {
    throw new ConfigError(`${field}.sentinels`, `must be a non-empty array of "host:port" strings, got ${JSON.stringify(s.sentinels)}`);
  }
  if (typeof s.masterName !== "string" || s.masterName === "") {
    throw new ConfigError(
      `${field}.masterName`,
      "must name the master group the sentinels watch (sentinel.conf: sentinel monitor <name> …)",
    );
  }
  const db = s.db ?? 0;
  if (!Number.isInteger(db) || db < 0) throw new ConfigError(`${field}.db`, `must be an integer ≥ 0, got ${JSON.stringify(db)}`);
  if (s.tls !== undefined && typeof s.tls !== "boolean") throw new ConfigError(`${field}.tls`, "must be true or false");
  for (const a of s.sentinels) node(a, 26379, a, `${field}.sentinels`);
  return `${s.tls ? "rediss" : "redis"}+sentinel://${s.sentinels.join(",")}/${encodeURIComponent(s.masterName)}/${db}`;
}

/**
 * A URL for the credential and TLS checks that apply to every kind (`user:pass@`, rediss:), with
 * the first node as its host.
 */
export function securityUrl(t: RedisTarget): URL {
  if (t.kind === "standalone") return t.url;
  const first = t.kind === "sentinel" ? t.sentinels[0] : t.nodes[0];
  const u = new URL(`${t.tls ? "rediss" : "redis"}://${hostPort(first)}/${t.kind === "sentinel" ? t.db : 0}`);
  if (t.username) u.username = encodeURIComponent(t.username);
  if (t.password) u.password = encodeURIComponent(t.password);
  return u;
}

/** `host:port`, with brackets for IPv6. */
export function hostPort(n: RedisNode): string {
  return `${n.host.includes(":") ? `[${n.host}]` : n.host}:${n.port}`;
}

/** For banners and errors: the URL without its password. */
export function describeTarget(t: RedisTarget): string {
  if (t.kind === "standalone") return `${t.url.protocol}//${t.url.host}${t.url.pathname || "/0"}`;
  const scheme = `${t.tls ? "rediss" : "redis"}+${t.kind}://`;
  if (t.kind === "cluster") return scheme + t.nodes.map(hostPort).join(",");
  return `${scheme}${t.sentinels.map(hostPort).join(",")}/${t.masterName}/${t.db}`;
}

function standaloneUrl(url: string, field: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(field, `"${redact(url)}" is not a URL; expected redis://host:port/db`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new ConfigError(
      field,
      `unsupported scheme "${u.protocol}" in "${redact(url)}"; use redis://, rediss://, redis+sentinel://, redis+cluster:// or memory://`,
    );
  }
  if (!u.hostname) throw new ConfigError(field, `"${redact(url)}" has no host`);
  const db = u.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d+$/.test(db)) throw new ConfigError(field, `database "${db}" in "${redact(url)}" is not a number`);
  return u;
}

function node(text: string, defaultPort: number, url: string, field: string): RedisNode {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d+))?$/.exec(text);
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  if (!m || port < 1 || port > 65535) {
    throw new ConfigError(field, `"${text}" in "${redact(url)}" is not a host:port address`);
  }
  return { host: m[1] ?? m[2], port };
}

function dbNumber(text: string, url: string, field: string): number {
  if (text === "") return 0;
  if (!/^\d+$/.test(text)) throw new ConfigError(field, `database "${text}" in "${redact(url)}" is not a number`);
  return Number(text);
}

function credentials(userinfo: string | undefined, url: string, field: string): { username?: string; password?: string } {
  if (userinfo === undefined) return {};
  const at = userinfo.indexOf(":");
  try {
    const username = decodeURIComponent(at < 0 ? userinfo : userinfo.slice(0, at));
    const password = at < 0 ? undefined : decodeURIComponent(userinfo.slice(at + 1));
    return { ...(username ? { username } : {}), ...(password ? { password } : {}) };
  } catch {
    throw new ConfigError(field, `the credentials in "${redact(url)}" are not valid percent-encoding`);
  }
}

/** Hides a password in a URL shown in an error. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
