/**
 * What `backend.waitReplicas: 1` costs: result writes (the worker's `storeEncoded`) to a master
 * with one replica, without and with Redis `WAIT`, side by side in the same run, alternating.
 * Reports one-at-a-time latency p50 / p99 and throughput with 100 writes in flight.
 * Starts its own master and replica on free loopback ports (no persistence) and stops them.
 *
 *   npm run bench:redis-wait    or    node --import tsx bench/redis-wait.ts [--n 20000] [--runs 3]
 */
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { RedisBackend } from "../src/backend/redis.ts";
import { makeRecord } from "../src/protocol/result.ts";
import { median, percentile, pipelined, progress } from "./lib.ts";

const { values } = parseArgs({ options: { n: { type: "string" }, runs: { type: "string" } } });
const N = Number(values.n ?? 20_000);
const RUNS = Number(values.runs ?? 3);
const SEQUENTIAL = Math.min(N, 2_000);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function server(args: string[]): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  // Its own directory: a replica writes the master's snapshot there when it syncs.
  const dir = mkdtempSync(path.join(tmpdir(), "celeriac-bench-redis-"));
  const p = spawn("redis-server", [
    "--bind",
    "127.0.0.1",
    "--port",
    String(port),
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    ...args,
  ], {
    stdio: "ignore",
  });
  const c = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
  c.on("error", () => {});
  for (;;) {
    if (await c.connect().then(() => true, () => false)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  c.disconnect();
  return {
    port,
    stop: () => {
      p.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const master = await server([]);
const replica = await server(["--replicaof", "127.0.0.1", String(master.port)]);
const probe = new Redis({ port: master.port });
while (!/state=online/.test(await probe.info("replication"))) await new Promise((r) => setTimeout(r, 20));

const url = `redis://127.0.0.1:${master.port}/0`;
const settings = { keyPrefix: "bench-wait-", serializer: "msgpack" as const, resultExpiresMs: 60_000 };
const variants = [
  ["no WAIT", new RedisBackend(url, settings)],
  ["waitReplicas 1", new RedisBackend(url, settings, { tls: null }, { sentinelAuth: {}, waitReplicas: 1, waitTimeoutMs: 1000 })],
] as const;
const bytes = variants[0][1].encode(makeRecord("x", "SUCCESS", { sum: 42 }));

const lat = new Map<string, number[]>();
const p99 = new Map<string, number[]>();
const rate = new Map<string, number[]>();
for (let r = 0; r < RUNS; r++) {
  for (const [label, b] of variants) {
    await b.connect();
    const ms: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const t0 = performance.now();
      await b.storeEncoded(crypto.randomUUID(), "SUCCESS", bytes);
      ms.push(performance.now() - t0);
    }
    lat.set(label, [...(lat.get(label) ?? []), percentile(ms, 50)]);
    p99.set(label, [...(p99.get(label) ?? []), percentile(ms, 99)]);
    const t0 = performance.now();
    await pipelined(N, 100, () => b.storeEncoded(crypto.randomUUID(), "SUCCESS", bytes));
    rate.set(label, [...(rate.get(label) ?? []), N / ((performance.now() - t0) / 1000)]);
    await probe.flushdb();
    progress(`run ${r + 1}/${RUNS} ${label} done`);
  }
}

console.log(`result writes to a master with 1 replica on loopback (median of ${RUNS} runs, alternating):`);
const base = median(rate.get("no WAIT")!);
for (const [label] of variants) {
  const x = median(rate.get(label)!);
  console.log(
    `  ${label.padEnd(15)} one at a time p50 ${median(lat.get(label)!).toFixed(3)} ms  p99 ${median(p99.get(label)!).toFixed(3)} ms` +
      `  | 100 in flight: ${Math.round(x).toLocaleString("en")} writes/s (${(x / base).toFixed(2)}×)`,
  );
}
for (const [, b] of variants) await b.close();
probe.disconnect();
replica.stop();
master.stop();
