/**
 * The execution pools side by side (async, threads, process), each a `celeriac worker` process
 * started as users start it:
 * - CPU: 4 tasks of 1 s of computation on `-c 2` — wall time from sending to the last result
 *   (this machine has 2 cores: ≈2 s where tasks really run in parallel, ≈4 s where they share a loop);
 * - overhead: a noop task's round trip (send → result), p50 and p99 over sequential calls, and
 *   noop throughput with 500 in flight; each pool's figure is also given as a ratio to async's;
 * - memory: RSS of the worker and its children after one task, with `-c 2` and `-c 4` (a thread
 *   pool's children are inside the worker's RSS).
 *
 * `npm run bench:pools` or `node --import tsx bench/pools.ts [--noops 2000] [--sequential 300]`
 */
import { parseArgs } from "node:util";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { Celeriac } from "celeriac";
import { removeBenchApp } from "./celeriac-app.ts";
import { deadline, NATS_URL, percentile, pipelined, progress, REDIS_URL, ROOT } from "./lib.ts";

const { values } = parseArgs({ options: { noops: { type: "string" }, sequential: { type: "string" } } });
const NOOPS = Number(values.noops ?? 2000);
const SEQUENTIAL = Number(values.sequential ?? 300);
const POOLS = ["async", "threads", "process"] as const;
type PoolName = typeof POOLS[number];

const name = `bench_pools_${process.pid.toString(36)}`;
const app = new Celeriac({ name, brokerUrl: NATS_URL, resultBackend: REDIS_URL, resultKeyPrefix: `${name}-` });
const env = { ...process.env, CELERIAC_NAME: name, CELERIAC_BROKER_URL: NATS_URL, CELERIAC_RESULT_BACKEND: REDIS_URL };

function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The worker's pid and its children's (from /proc: the process pool's children are its own). */
function family(pid: number): number[] {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...kids.flatMap((k) => family(k))];
  } catch {
    return [pid];
  }
}

async function startWorker(pool: PoolName, concurrency: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "actors/cli.ts", "worker", "-A", "bench/pool-tasks.ts", "-P", pool, "-c", String(concurrency), "-n", `${pool}@${name}`], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (d) => {
      err += d;
      if (/ready\.\s*$/m.test(err)) resolve();
    });
    child.once("exit", (c) => reject(new Error(`worker exited (${c}): ${err}`)));
  });
  await deadline(ready, 60_000, `${pool} worker start`);
  return child;
}

async function stopWorker(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await deadline(exited, 30_000, "worker stop").catch(() => child.kill("SIGKILL"));
}

interface Row {
  cpuS: number;
  p50: number;
  p99: number;
  perS: number;
  rss2: number;
  rss4: number;
}

async function measure(pool: PoolName): Promise<Row> {
  const w = await startWorker(pool, 2);
  let row: Row;
  try {
    await (await app.sendTask("noop", [])).get({ timeout: 30 }); // warm
    const rss2 = family(w.pid!).reduce((n, p) => n + rssKiB(p), 0);
    const t0 = performance.now();
    const burns = await Promise.all([1, 2, 3, 4].map(() => app.sendTask("burn", [1000])));
    for (const r of burns) await r.get({ timeout: 60 });
    const cpuS = (performance.now() - t0) / 1000;
    const lat: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const s = performance.now();
      await (await app.sendTask("noop", [])).get({ timeout: 30 });
      lat.push(performance.now() - s);
    }
    const t1 = performance.now();
    await pipelined(NOOPS, 500, async () => (await app.sendTask("noop", [])).get({ timeout: 60 }));
    const perS = NOOPS / ((performance.now() - t1) / 1000);
    row = { cpuS, p50: percentile(lat, 50), p99: percentile(lat, 99), perS, rss2, rss4: 0 };
  } finally {
    await stopWorker(w);
  }
  const w4 = await startWorker(pool, 4);
  try {
    await (await app.sendTask("noop", [])).get({ timeout: 30 });
    row.rss4 = family(w4.pid!).reduce((n, p) => n + rssKiB(p), 0);
  } finally {
    await stopWorker(w4);
  }
  return row;
}

try {
  const rows = new Map<PoolName, Row>();
  for (const pool of POOLS) {
    progress(`${pool}: measuring…`);
    rows.set(pool, await measure(pool));
  }
  const base = rows.get("async")!;
  const mib = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
  console.log(`\npools — ${NOOPS} noops with 500 in flight, ${SEQUENTIAL} sequential; 4×1 s CPU tasks on -c 2\n`);
  console.log("pool      4×1s CPU   noop p50 (×async)   noop p99   noops/s (×async)   RSS -c 2   RSS -c 4");
  for (const [pool, r] of rows) {
    console.log(
      `${pool.padEnd(9)} ${`${r.cpuS.toFixed(2)} s`.padStart(8)}   ${`${r.p50.toFixed(2)} ms (${(r.p50 / base.p50).toFixed(2)})`.padEnd(18)}  ` +
        `${`${r.p99.toFixed(2)} ms`.padStart(8)}   ${`${r.perS.toFixed(0)} (${(r.perS / base.perS).toFixed(2)})`.padEnd(16)}   ` +
        `${mib(r.rss2).padStart(8)}   ${mib(r.rss4).padStart(8)}`,
    );
  }
} finally {
  await app.close();
  await removeBenchApp(name);
}
