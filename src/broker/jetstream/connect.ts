/**
 * Turns a broker URL and the security options into nats.js connection options and connects, with
 * errors that say what to fix: which server, whether it refused our credentials or our TLS, and
 * which option to check.
 *
 * Accepted: `nats://host:port`, several servers separated by commas, `tls://` for TLS,
 * `nats://user:pass@host` and `nats://token@host` for credentials; or credentials and TLS files in
 * `broker.auth` / `broker.tls` (src/security/options.ts).
 */
import {
  connect,
  credsAuthenticator,
  errors,
  type NatsConnection,
  nkeyAuthenticator,
  type NodeConnectionOptions,
} from "@nats-io/transport-node";
import { CeleriacError, ConfigError, ErrorCode } from "../../errors.ts";
import type { BrokerSecurity } from "../../security/options.ts";
import { checkTlsFiles, isTlsFailure, readFor, readSecret } from "../../security/load.ts";

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
  /** Credentials and TLS files from the options (checked for shape). */
  security?: BrokerSecurity;
}

const encoder = new TextEncoder();

/** Reads a `.creds` file and checks it holds a user JWT and a seed. */
function readCreds(file: string, field: string): Uint8Array {
  const text = readFor(file, field, "the NATS .creds file");
  if (!/BEGIN NATS USER JWT/.test(text) || !/BEGIN USER NKEY SEED/.test(text)) {
    throw new ConfigError(
      field,
      `${file} is not a NATS .creds file (it needs a user JWT and an nkey seed block, as \`nsc generate creds\` writes)`,
    );
  }
  return encoder.encode(text);
}

/**
 * Builds nats.js options. Reads each secret file once now, so a missing or malformed file fails at
 * start naming its option; seed and .creds files are read again at every (re)connect, so a rotated
 * Kubernetes secret (files updated in place) is picked up without a restart. nats.js reads TLS files
 * at every connect for the same reason.
 */
export function natsOptions(url: NatsUrl, opts: NatsConnectOptions): NodeConnectionOptions {
  const options: NodeConnectionOptions = {
    servers: url.servers,
    name: opts.name,
    timeout: opts.timeoutMs,
    // Keep trying forever once connected: an outage must never end a worker.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    maxPingOut: 3,
    // The FIRST connect fails at once on an authorization error whatever this says (measured with
    // nats.js 3.4); afterwards nats.js would give up for good after two auth failures in a row —
    // a worker whose credentials are being rotated would then stay disconnected. Keep retrying.
    ignoreAuthErrorAbort: true,
    // nats.js otherwise builds an Error with a stack trace up front for every request, to have
    // it ready should the request fail: ~40% of a producer's CPU on js.publish (measured).
    noAsyncTraces: true,
  };
  if (url.user !== undefined) {
    options.user = url.user;
    options.pass = url.pass;
  }
  if (url.token !== undefined) options.token = url.token;
  const auth = opts.security?.auth ?? { kind: "none" };
  switch (auth.kind) {
    case "userpass":
      options.user = auth.user;
      options.pass = auth.pass;
      break;
    case "token":
      options.token = auth.token;
      break;
    case "nkey": {
      const first = readSecret(auth.seed, "the NATS nkey seed");
      options.authenticator = nkeyAuthenticator(
        auth.seed.file === undefined ? encoder.encode(first) : () => encoder.encode(readSecret(auth.seed, "the NATS nkey seed")),
      );
      break;
    }
    case "creds":
      readCreds(auth.file, auth.field);
      options.authenticator = credsAuthenticator(() => readCreds(auth.file, auth.field));
      break;
  }
  const tls = opts.security?.tls;
  if (tls) {
    checkTlsFiles(tls);
    options.tls = {
      ...(tls.ca ? { caFile: tls.ca } : {}),
      ...(tls.cert ? { certFile: tls.cert } : {}),
      ...(tls.key ? { keyFile: tls.key } : {}),
    };
  } else if (url.tls) {
    options.tls = {};
  }
  return options;
}

/** What was configured, for the hint of an authentication failure. */
function credentialHint(url: NatsUrl, security: BrokerSecurity | undefined): string {
  const a = security?.auth;
  if (a && a.kind !== "none") {
    const what = a.kind === "userpass"
      ? "user and password"
      : a.kind === "token"
      ? "token"
      : a.kind === "nkey"
      ? "nkey seed"
      : ".creds file";
    const field = a.kind === "nkey" ? a.seed.field : a.field;
    return `check the ${what} in ${field}, and that the server knows this user (its authorization block or account JWTs)`;
  }
  if (url.user !== undefined || url.token !== undefined) return "check the credentials in the broker URL";
  return "the server requires credentials: set broker.auth (or CELERIAC_NATS_USER/PASSWORD, _TOKEN, _NKEY_SEED, _CREDS) or put them in the URL";
}

/** Connects; on failure throws an error that names the server and what to check. */
export async function connectNats(url: NatsUrl, opts: NatsConnectOptions): Promise<NatsConnection> {
  const options = natsOptions(url, opts);
  try {
    return await connect(options);
  } catch (err) {
    const e = err as Error;
    const where = `the broker at ${url.redacted}`;
    if (err instanceof errors.AuthorizationError || err instanceof errors.UserAuthenticationExpiredError) {
      throw new CeleriacError(
        ErrorCode.AUTH,
        `authentication failed at ${where} (the server said: ${e.message}); ${credentialHint(url, opts.security)}`,
        { cause: err },
      );
    }
    const tls = opts.security?.tls;
    if (isTlsFailure(err)) {
      throw new CeleriacError(
        ErrorCode.TLS,
        `TLS with ${where} failed: ${e.message}; ` +
          (tls?.ca
            ? `check that ${tls.field}.ca (${tls.ca}) is the CA that signed the server's certificate and that the certificate names this host`
            : `if the server's certificate comes from a private CA, set broker.tls.ca (or CELERIAC_NATS_TLS_CA)`),
        { cause: err },
      );
    }
    // nats.js gives this refusal no code of its own; its message is the only mark.
    if (err instanceof errors.ConnectionError && /does not support 'tls'/.test(e.message)) {
      throw new CeleriacError(
        ErrorCode.TLS,
        `${where} does not offer TLS, but TLS was asked for (tls:// or broker.tls); enable TLS on the server or drop the TLS options`,
        { cause: err },
      );
    }
    if (options.tls && err instanceof errors.TimeoutError) {
      throw new CeleriacError(
        ErrorCode.UNAVAILABLE,
        `cannot connect to ${where}: no answer after the TLS handshake began (${e.message}); if the server verifies clients ` +
          `(tls verify), give a client certificate it trusts in broker.tls.cert / broker.tls.key (CELERIAC_NATS_TLS_CERT / _KEY)`,
        { cause: err },
      );
    }
    throw new CeleriacError(
      ErrorCode.UNAVAILABLE,
      `cannot connect to ${where}: ${e.message}; is nats-server running with JetStream? (start one with: nats-server -js)`,
      { cause: err },
    );
  }
}
