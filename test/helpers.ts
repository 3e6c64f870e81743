/**
 * Shared test helpers: unique names, waiting with a deadline, cleanup of streams and keys,
 * private nats-server / redis-server instances, and worker processes (Node or Deno).
 *
 * Tests never sleep a fixed time: they wait for a condition with a deadline (`waitFor`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import process from "node:process";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Redis } from "ioredis";
import { Celeriac, type CeleriacOptions, createLogger, silentLogger } from "celeriac";

export const NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";
export const ROOT = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "..");
export const isDeno = "Deno" in globalThis;

/** A name no other test uses: letters, digits and `_` (valid for apps, queues and key prefixes). */
export function uniqueName(prefix = "t"): string {
  return `${prefix}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** Waits until `cond` returns a truthy value, polling; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${opts.timeoutMs ?? 10_000}ms waiting for ${opts.what ?? "a condition"}` +
          (last ? ` (last error: ${(last as Error).message})` : ""),
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

/** Deletes every stream of app `name` and every Redis key under `keyPrefix`. */
export async function cleanup(name: string, keyPrefix: string, urls = { nats: NATS_URL, redis: REDIS_URL }): Promise<void> {
  const nc = await connect({ servers: urls.nats.replace(/^nats:\/\//, "") });
  try {
    const jsm = await jetstreamManager(nc);
    const P = name.toUpperCase().replace(/-/g, "_");
    for await (const s of jsm.streams.names()) if (s.startsWith(`${P}_`)) await jsm.streams.delete(s).catch(() => {});
    for await (const s of jsm.streams.names()) {
      if (s.startsWith(`KV_${name}_`)) await jsm.streams.delete(s).catch(() => {});
    }
  } finally {
    await nc.close();
  }
  const redis = new Redis(urls.redis, { lazyConnect: true });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** A test app with its own name and key prefix; `dispose()` closes it and cleans up. */
export interface TestApp {
  app: Celeriac;
  name: string;
  keyPrefix: string;
  dispose(): Promise<void>;
}

/** Creates an app on the shared (or given) NATS and Redis with unique names. */
export function testApp(all: CeleriacOptions & { prefix?: string } = {}): TestApp {
  const { prefix, ...opts } = all;
  const name = opts.name ?? uniqueName(prefix ?? "t");
  const keyPrefix = opts.resultKeyPrefix ?? `${name}-`;
  const app = new Celeriac({ brokerUrl: NATS_URL, resultBackend: REDIS_URL, ...opts, name, resultKeyPrefix: keyPrefix });
  // Quiet by default; TEST_LOG=info (or debug) shows what the worker says.
  app.log = process.env.TEST_LOG ? createLogger(process.env.TEST_LOG as "info") : silentLogger;
  return {
    app,
    name,
    keyPrefix,
    dispose: async () => {
      await app.close();
      if (!(opts.brokerUrl ?? "").startsWith("memory://")) {
        await cleanup(name, keyPrefix, {
          nats: opts.brokerUrl ?? NATS_URL,
          redis: opts.resultBackend?.startsWith("redis") ? opts.resultBackend : REDIS_URL,
        });
      }
    },
  };
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function portAnswers(port: number): Promise<boolean> {
  const { connect: tcp } = await import("node:net");
  return await new Promise((resolve) => {
    const s = tcp({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** A server process of our own on a free port, which a test may kill and restart. */
export interface PrivateServer {
  port: number;
  url: string;
  /** Monitoring port (nats-server only). */
  monitorPort?: number;
  /** Stops it (SIGTERM, or SIGKILL with `hard`) and waits for the exit. */
  stop(opts?: { hard?: boolean }): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

/** Runs `cmd` as a server on `port` (data in `dir`), restartable with the same arguments. */
export async function managed(
  cmd: string,
  args: () => string[],
  port: number,
  dir: string,
  url: string,
  extra: { monitorPort?: number } = {},
) {
  let child: ChildProcess | null = null;
  const start = async () => {
    const c = spawn(cmd, args(), { stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    let out = "";
    c.stdout?.on("data", (d) => (out += d));
    c.stderr?.on("data", (d) => (out += d));
    // A loaded machine can be slow to start a server; a server that exits says why at once.
    const deadline = Date.now() + 30_000;
    while (!(await portAnswers(port))) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`${cmd} exited (${c.exitCode ?? c.signalCode}) before listening on ${port}: ${out.slice(-800)}`);
      }
      if (Date.now() > deadline) throw new Error(`${cmd} did not listen on ${port} within 30 s: ${out.slice(-800)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const stop = async (opts: { hard?: boolean } = {}) => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill(opts.hard ? "SIGKILL" : "SIGTERM");
    await exited;
    child = null;
  };
  await start();
  const server: PrivateServer = {
    port,
    url,
    ...extra,
    stop,
    start,
    dispose: async () => {
      await stop({ hard: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Options of a private server: extra command-line arguments, and (nats-server) a config file's text. */
export interface PrivateServerOptions {
  args?: string[];
  /** nats-server configuration (authorization, operator, …), written to a file and passed with -c. */
  config?: string;
  /** TLS files: nats-server gets --tls/--tlscert/--tlskey (+ --tlscacert --tlsverify with `verify`); redis-server serves TLS only. */
  tls?: { cert: string; key: string; ca: string; verify?: boolean };
}

function serverOptions(o: string[] | PrivateServerOptions): PrivateServerOptions {
  return Array.isArray(o) ? { args: o } : o;
}

/** Starts a private nats-server with JetStream (and monitoring) on free ports. */
export async function privateNats(opts: string[] | PrivateServerOptions = []): Promise<PrivateServer> {
  const o = serverOptions(opts);
  const port = await freePort();
  const monitorPort = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "celeriac-nats-"));
  const extra = [...(o.args ?? [])];
  if (o.config !== undefined) {
    writeFileSync(path.join(dir, "server.conf"), o.config);
    extra.unshift("-c", path.join(dir, "server.conf"));
  }
  if (o.tls) {
    extra.push("--tls", "--tlscert", o.tls.cert, "--tlskey", o.tls.key);
    if (o.tls.verify) extra.push("--tlscacert", o.tls.ca, "--tlsverify");
  }
  return await managed(
    "nats-server",
    () => ["-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort), "-js", "-sd", dir, ...extra],
    port,
    dir,
    `nats://127.0.0.1:${port}`,
    { monitorPort },
  );
}

/** Starts a private redis-server on a free port (no persistence); with `tls`, TLS only (rediss://). */
export async function privateRedis(opts: string[] | PrivateServerOptions = []): Promise<PrivateServer> {
  const o = serverOptions(opts);
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "celeriac-redis-"));
  const ports = o.tls
    ? [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--tls-cert-file",
      o.tls.cert,
      "--tls-key-file",
      o.tls.key,
      "--tls-ca-cert-file",
      o.tls.ca,
      "--tls-auth-clients",
      o.tls.verify === false ? "no" : "yes",
    ]
    : ["--port", String(port)];
  return await managed(
    "redis-server",
    () => ["--bind", "127.0.0.1", ...ports, "--save", "", "--appendonly", "no", "--dir", dir, ...(o.args ?? [])],
    port,
    dir,
    `${o.tls ? "rediss" : "redis"}://127.0.0.1:${port}/0`,
  );
}

/** The runtimes a test can start a process on. */
export type Runtime = "node" | "deno" | "bun";

/** How to run a TypeScript entry point on a runtime. */
export function runtimeCommand(runtime: Runtime, script: string, args: string[]): [string, string[]] {
  if (runtime === "deno") return [path.join(ROOT, "node_modules/.bin/deno"), ["run", "-A", script, ...args]];
  if (runtime === "bun") return [path.join(ROOT, "node_modules/.bin/bun"), ["run", script, ...args]];
  return [process.execPath.endsWith("node") ? process.execPath : "node", ["--import", "tsx", script, ...args]];
}

/** A child process with its output captured. */
export interface Proc {
  pid: number;
  output(): string;
  /** Resolves with the exit code (or the signal name if a signal ended it). */
  exited: Promise<number | string>;
  /** True until it exits. */
  running(): boolean;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Spawns a process in the project root, capturing stdout and stderr.
 *
 * Under Deno this uses Deno.Command: Deno's node:child_process reports a child that handled our
 * SIGTERM and exited 0 as killed by SIGTERM (seen with Deno 2.9.6), which would hide exit codes.
 */
export function spawnProc(cmd: string, args: string[], env: Record<string, string> = {}): Proc {
  const fullEnv = { ...process.env, DENO_DIR: process.env.DENO_DIR ?? path.join(ROOT, ".deno"), ...env } as Record<string, string>;
  let out = "";
  let done = false;
  if (isDeno) {
    // deno-lint-ignore no-explicit-any
    const D = (globalThis as any).Deno;
    const child = new D.Command(cmd, { args, cwd: ROOT, env: fullEnv, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const chunk of stream) out += dec.decode(chunk, { stream: true });
    };
    const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
    const exited = (async () => {
      const status = await child.status;
      await pumps;
      done = true;
      return status.signal ?? status.code;
    })();
    return {
      pid: child.pid,
      output: () => out,
      exited,
      running: () => !done,
      kill: (signal = "SIGTERM") => {
        if (!done) {
          try {
            child.kill(signal);
          } catch {
            // already gone
          }
        }
      },
    };
  }
  const child: ChildProcess = spawn(cmd, args, { cwd: ROOT, env: fullEnv, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | string>((resolve) =>
    child.once("close", (code, signal) => {
      done = true;
      resolve(code ?? signal ?? -1);
    })
  );
  return {
    pid: child.pid!,
    output: () => out,
    exited,
    running: () => !done,
    kill: (signal = "SIGTERM") => {
      if (!done) child.kill(signal);
    },
  };
}

/** Runs the CLI on a runtime and resolves with its exit code and output. */
export async function runCli(
  args: string[],
  opts: { runtime?: Runtime; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number | string; output: string }> {
  const [cmd, a] = runtimeCommand(opts.runtime ?? "node", "actors/cli.ts", args);
  const p = spawnProc(cmd, a, opts.env);
  const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, output: p.output() };
}

/** Starts `celeriac worker` in a process and waits until it says it is ready. */
export async function spawnWorker(
  args: string[],
  opts: { runtime?: Runtime; env?: Record<string, string>; readyTimeoutMs?: number } = {},
): Promise<Proc> {
  const [cmd, a] = runtimeCommand(opts.runtime ?? "node", "actors/cli.ts", ["worker", ...args]);
  const p = spawnProc(cmd, a, opts.env);
  const ready = () => /ready\.\s*$/m.test(p.output());
  const gone = () => !p.running();
  await waitFor(() => ready() || gone(), {
    timeoutMs: opts.readyTimeoutMs ?? 60_000,
    what: `worker ready (output so far: ${p.output().slice(-500)})`,
  }).catch((err) => {
    p.kill("SIGKILL");
    throw err;
  });
  if (!ready()) throw new Error(`worker exited (${await p.exited}) before it was ready:\n${p.output()}`);
  return p;
}

/** Stops a process: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopProc(p: Proc, graceMs = 15_000): Promise<number | string> {
  p.kill("SIGTERM");
  const timer = setTimeout(() => p.kill("SIGKILL"), graceMs);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}
