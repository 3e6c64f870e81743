/**
 * A Redis Sentinel setup of our own on loopback: 1 master, 2 replicas, 3 sentinels, each a
 * process on a free port with its own directory, killed by PID.
 *
 * The replicas replicate through a TCP relay in this process, so a test can cut replication
 * (`partition()`) the way a network does: what the master writes meanwhile never reaches them.
 * (SIGSTOP on a replica would not: the kernel keeps receiving on its socket.)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort, privateRedis, type PrivateServer, waitFor } from "./helpers.ts";

/** The master group name the sentinels watch. */
export const MASTER = "celeriac-ha";

/** A running Sentinel setup. */
export interface SentinelSetup {
  master: PrivateServer;
  replicas: PrivateServer[];
  sentinelPorts: number[];
  /** `redis+sentinel://…/<MASTER>/0` */
  url: string;
  /** Stops relaying replication: the replicas fall behind the master until `heal()`. */
  partition(): void;
  heal(): void;
  /** Keys on the first master and on the first replica (DBSIZE). */
  masterKeys(): Promise<number>;
  replicaKeys(): Promise<number>;
  /** Asks a sentinel where the master is now (`host:port`). */
  masterAddress(): Promise<string>;
  dispose(): Promise<void>;
}

/** A relay from the replicas to the master; `cut` holds every byte both ways. */
async function relay(target: number): Promise<{ port: number; server: Server; cut(on: boolean): void; close(): void }> {
  const port = await freePort();
  const pairs = new Set<[Socket, Socket]>();
  let cut = false;
  const server = createServer((down) => {
    const up = createConnection({ host: "127.0.0.1", port: target });
    const pair: [Socket, Socket] = [down, up];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    for (const [from, to] of [[down, up], [up, down]]) {
      from.on("data", (d) => to.write(d));
      from.on("error", end);
      from.on("close", end);
    }
    if (cut) { for (const s of pair) s.pause(); }
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    port,
    server,
    cut(on) {
      cut = on;
      for (const pair of pairs) for (const s of pair) on ? s.pause() : s.resume();
    },
    close() {
      for (const [a, b] of pairs) a.destroy(), b.destroy();
      server.close();
    },
  };
}

/** Passwords: the data nodes' (`requirepass`, `masterauth`) and the sentinels' own. */
export interface SentinelSetupOptions {
  password?: string;
  sentinelPassword?: string;
}

/** A sentinel process with its own config file (Sentinel rewrites it). */
async function sentinel(masterPort: number, o: SentinelSetupOptions): Promise<{ port: number; proc: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "celeriac-sentinel-"));
  const conf = path.join(dir, "sentinel.conf");
  writeFileSync(
    conf,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `sentinel monitor ${MASTER} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${MASTER} 1000`,
      // Long: Sentinel "fixes" a replica that replicates from another address (our relay) only after it.
      `sentinel failover-timeout ${MASTER} 60000`,
      `sentinel parallel-syncs ${MASTER} 2`,
      ...(o.password ? [`sentinel auth-pass ${MASTER} ${o.password}`] : []),
      ...(o.sentinelPassword ? [`requirepass ${o.sentinelPassword}`, `sentinel sentinel-pass ${o.sentinelPassword}`] : []),
      "",
    ].join("\n"),
  );
  const proc = spawn("redis-server", [conf, "--sentinel"], { stdio: "ignore" });
  const probe = new Redis({ port, password: o.sentinelPassword, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on("error", () => {}); // refused until it listens
  try {
    await waitFor(() => probe.connect().then(() => true, () => false), { timeoutMs: 30_000, what: `sentinel on ${port}` });
  } finally {
    probe.disconnect();
  }
  return { port, proc, dir };
}

async function killed(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGKILL");
  await exited;
}

/** Starts the setup and waits until the sentinels know the replicas and each other. */
export async function sentinelSetup(o: SentinelSetupOptions = {}): Promise<SentinelSetup> {
  const auth = o.password ? ["--requirepass", o.password, "--masterauth", o.password] : [];
  const master = await privateRedis(auth);
  const link = await relay(master.port);
  const replicas = await Promise.all([0, 1].map(() => privateRedis(["--replicaof", "127.0.0.1", String(link.port), ...auth])));
  const sentinels = await Promise.all([0, 1, 2].map(() => sentinel(master.port, o)));
  const ask = new Redis({ port: sentinels[0].port, password: o.sentinelPassword });
  const onMaster = new Redis({ port: master.port, password: o.password });
  const onReplica = new Redis({ port: replicas[0].port, password: o.password });
  // The master is killed on purpose: its clients' reconnect errors are expected.
  for (const c of [ask, onMaster, onReplica]) c.on("error", () => {});
  const setup: SentinelSetup = {
    master,
    replicas,
    sentinelPorts: sentinels.map((s) => s.port),
    url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(",")}/${MASTER}/0`,
    partition: () => link.cut(true),
    heal: () => link.cut(false),
    masterKeys: () => onMaster.dbsize(),
    replicaKeys: () => onReplica.dbsize(),
    masterAddress: async () => ((await ask.call("SENTINEL", "get-master-addr-by-name", MASTER)) as string[]).join(":"),
    dispose: async () => {
      for (const c of [ask, onMaster, onReplica]) c.disconnect();
      link.close();
      await Promise.all(sentinels.map((s) => killed(s.proc)));
      for (const s of sentinels) rmSync(s.dir, { recursive: true, force: true });
      await Promise.all([master, ...replicas].map((r) => r.dispose()));
    },
  };
  try {
    const m = new Redis({ port: master.port, password: o.password });
    try {
      await waitFor(async () => ((await m.info("replication")).match(/state=online/g) ?? []).length === 2, {
        timeoutMs: 30_000,
        what: "both replicas in sync",
      });
    } finally {
      m.disconnect();
    }
    // Sentinels learn replicas from the master's INFO and each other from hello messages (every 2 s).
    for (const s of sentinels) {
      const c = new Redis({ port: s.port, password: o.sentinelPassword });
      try {
        await waitFor(async () => {
          const reps = (await c.call("SENTINEL", "replicas", MASTER)) as unknown[];
          const peers = (await c.call("SENTINEL", "sentinels", MASTER)) as unknown[];
          return reps.length === 2 && peers.length === 2;
        }, { timeoutMs: 30_000, what: `sentinel ${s.port} to know 2 replicas and 2 peers` });
      } finally {
        c.disconnect();
      }
    }
  } catch (err) {
    await setup.dispose();
    throw err;
  }
  return setup;
}
