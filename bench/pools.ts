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
 * Each figure is the median over runs (min–max beside the CPU time and p50); the pools go in the
 * opposite order on every other run, so drift on this shared machine falls on all of them alike.
 *
 * `npm run bench:pools` or `node --import tsx bench/pools.ts [--runs 2] [--noops 2000] [--sequential 300]`
 */
import { parseArgs } from "node:util";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Celeriac } from "celeriac";
import { removeBenchApp } from "./celeriac-app.ts";
import { deadline, median, NATS_URL, percentile, pipelined, progress, REDIS_URL, ROOT } from "./lib.ts";

const { values } = parseArgs({ options: { noops: { type: "string" }, sequential: { type: "string" }, runs: { type: "string" } } });
const NOOPS = Number(values.noops ?? 2000);
const SEQUENTIAL = Number(values.sequential ?? 300);
const RUNS = Number(values.runs ?? 2);
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
  const child = spawn(process.execPath, [
    "--import",
    "tsx",
    "actors/cli.ts",
    "worker",
    "-A",
    "bench/pool-tasks.ts",
    "-P",
    pool,
    "-c",
    String(concurrency),
    "-n",
    `${pool}@${name}`,
  ], {
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
  const runs = new Map<PoolName, Row[]>(POOLS.map((p) => [p, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const pool of run % 2 === 0 ? POOLS : [...POOLS].reverse()) {
      progress(`run ${run + 1}/${RUNS}, ${pool}: measuring…`);
      runs.get(pool)!.push(await measure(pool));
    }
  }
  const med = (pool: PoolName, k: keyof Row) => median(runs.get(pool)!.map((r) => r[k]));
  const range = (pool: PoolName, k: keyof Row, f: (x: number) => string) => {
    const xs = runs.get(pool)!.map((r) => r[k]);
    return RUNS > 1 ? ` [${f(Math.min(...xs))}–${f(Math.max(...xs))}]` : "";
  };
  const mib = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
  const s2 = (x: number) => x.toFixed(2);
  console.log(`\npools — median of ${RUNS} run(s); ${NOOPS} noops with 500 in flight, ${SEQUENTIAL} sequential; 4×1 s CPU tasks on -c 2\n`);
  for (const pool of POOLS) {
    console.log(
      `${pool.padEnd(8)} 4×1s CPU ${s2(med(pool, "cpuS"))} s${range(pool, "cpuS", s2)} · noop p50 ${s2(med(pool, "p50"))} ms${
        range(pool, "p50", s2)
      } ` +
        `(${s2(med(pool, "p50") / med("async", "p50"))}× async), p99 ${s2(med(pool, "p99"))} ms · ` +
        `${med(pool, "perS").toFixed(0)} noops/s (${s2(med(pool, "perS") / med("async", "perS"))}× async) · ` +
        `RSS ${mib(med(pool, "rss2"))} (-c 2), ${mib(med(pool, "rss4"))} (-c 4)`,
    );
  }
} finally {
  await app.close();
  await removeBenchApp(name);
}
