/**
 * Turns a broker URL into nats.js connection options and connects, with errors that say what to fix.
 *
 * Accepted: `nats://host:port`, several servers separated by commas, `tls://` for TLS,
 * `nats://user:pass@host` and `nats://token@host` for credentials.
 */
import { connect, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import { CeleriacError, ConfigError, ErrorCode } from "../../errors.ts";

/** What was read from the broker URL. */
export interface NatsUrl {
  servers: string[];
  tls: boolean;
  user?: string;
  pass?: string;
  token?: string;
  /** The URL without credentials, for banners and logs. */
  redacted: string;
}

/** Parses and checks a broker URL; throws ConfigError naming `field`. */
export function parseNatsUrl(url: string, field = "brokerUrl"): NatsUrl {
  const parts = url.split(",").map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new ConfigError(field, "is empty; expected nats://host:port");
  const out: NatsUrl = { servers: [], tls: false, redacted: "" };
  const redacted: string[] = [];
  for (const part of parts) {
    let u: URL;
    try {
      u = new URL(part);
    } catch {
      throw new ConfigError(field, `"${part}" is not a URL; expected nats://host:port`);
    }
    if (u.protocol !== "nats:" && u.protocol !== "tls:") {
      throw new ConfigError(field, `unsupported scheme "${u.protocol}" in "${part}"; use nats://, tls:// or memory://`);
    }
    if (!u.hostname) throw new ConfigError(field, `"${part}" has no host`);
    if (u.port && !(Number(u.port) > 0 && Number(u.port) < 65536)) {
      throw new ConfigError(field, `port "${u.port}" in "${part}" is not a TCP port`);
    }
    if (u.protocol === "tls:") out.tls = true;
    if (u.username && u.password) {
      out.user = decodeURIComponent(u.username);
      out.pass = decodeURIComponent(u.password);
    } else if (u.username) {
      out.token = decodeURIComponent(u.username);
    }
    const hostPort = `${u.hostname}:${u.port || "4222"}`;
    out.servers.push(hostPort);
    redacted.push(`${u.protocol}//${hostPort}`);
  }
  out.redacted = redacted.join(",");
  return out;
}

/** Options the app adds to the URL's. */
export interface NatsConnectOptions {
  /** Connection name shown by the server (`celeriac worker w1@host`). */
  name: string;
  /** Initial connect timeout. */
  timeoutMs: number;
}

/** Connects; on failure throws an error that names the server and how to start one. */
export async function connectNats(url: NatsUrl, opts: NatsConnectOptions): Promise<NatsConnection> {
  const options: NodeConnectionOptions = {
    servers: url.servers,
    name: opts.name,
    timeout: opts.timeoutMs,
    // Keep trying forever once connected: an outage must never end a worker.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    maxPingOut: 3,
    // nats.js otherwise builds an Error with a stack trace up front for every request, to have
    // it ready should the request fail: ~40% of a producer's CPU on js.publish (measured).
    noAsyncTraces: true,
  };
  if (url.user !== undefined) {
    options.user = url.user;
    options.pass = url.pass;
  }
  if (url.token !== undefined) options.token = url.token;
  if (url.tls) options.tls = {};
  try {
    return await connect(options);
  } catch (err) {
    const e = err as Error;
    const hint = /auth/i.test(e.message)
      ? "check the credentials in the broker URL"
      : "is nats-server running with JetStream? (start one with: nats-server -js)";
    throw new CeleriacError(
      ErrorCode.CONFIG,
      `cannot connect to the broker at ${url.redacted}: ${e.message}; ${hint}`,
      { cause: err },
    );
  }
}
