/**
 * `npm run bench:scale`: how celeriac's cost grows with the work, each figure beside the worker's
 * RSS (and, where there is one, the raw JetStream + Redis ceiling measured in the same run).
 *
 *   node --import tsx bench/scale.ts [--only depth,payload,callers,workers,replicas] [--runs 3]
 *                                    [--depths 10000,100000,1000000] [--json]
 *
 * - depth: D tasks queued before a worker starts; the drain rate over the first and the second
 *   half of the queue (flat means depth costs nothing per task) and the worker's memory.
 * - payload: 100 B, 10 KiB and 512 KiB arguments returned as results: throughput and round trip,
 *   raw beside celeriac.
 * - callers: 10,000 concurrent get() on one client: its RSS and CPU while they wait and resolve.
 * - workers: 1, 2 and 4 worker processes on one queue.
 * - replicas: a 3-node loopback cluster, streams with 1 and with 3 replicas.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { benchApp, removeBenchApp } from "./celeriac-app.ts";
import { type DriverOptions, openDriver, type SystemName } from "./drivers.ts";
import { startCluster } from "./cluster.ts";
import { deadline, median, NATS_URL, percentile, pipelined, progress, spawnWorker, WINDOW, type WorkerChild } from "./lib.ts";

const SECTIONS = ["depth", "payload", "callers", "workers", "replicas"] as const;
const { values: flags } = parseArgs({
  options: {
    only: { type: "string" },
    runs: { type: "string", default: "3" },
    depths: { type: "string", default: "10000,100000,1000000" },
    json: { type: "boolean", default: false },
  },
});
const RUNS = Number(flags.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be an integer ≥ 1, got ${flags.runs}`);
const DEPTHS = flags.depths!.split(",").map(Number);
if (DEPTHS.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`--depths: whole numbers ≥ 1, got ${flags.depths}`);
const only = flags.only?.split(",").map((s) => s.trim()) ?? [...SECTIONS];
for (const s of only) {
  if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section "${s}"; use ${SECTIONS.join(", ")}`);
}

const MiB = 2 ** 20;
const tag = process.pid.toString(36);
const report: Record<string, unknown> = {};
const lines: string[] = [];
const fmtRange = (xs: number[], show: (x: number) => string) =>
  xs.length === 1 ? show(xs[0]!) : `${show(median(xs))} (${show(Math.min(...xs))}–${show(Math.max(...xs))})`;
const rate = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
const mib = (x: number) => (x / MiB).toFixed(1);
const ms = (x: number) => x.toFixed(2);

function table(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  lines.push(
    "",
    `### ${title}`,
    "",
    line(header),
    `|${widths.map((w, i) => (i === 0 ? ":" : "") + "-".repeat(w + 1) + (i === 0 ? "" : ":")).join("|")}|`,
    ...rows.map(line),
  );
}

/** Process CPU (user + system) in ms. */
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// ---------------------------------------------------------------------------------------------

async function depthSection(): Promise<void> {
  const rows: string[][] = [];
  const out: unknown[] = [];
  for (const depth of DEPTHS) {
    const name = `bench_depth_${tag}_${depth}`;
    const { app, noop } = benchApp(name);
    let worker: WorkerChild | null = null;
    try {
      // No result: this section measures what a deep queue costs the broker and the worker.
      progress(`depth ${depth}: enqueueing (ignoreResult)…`);
      const t0 = performance.now();
      let sent = 0;
      await pipelined(depth, WINDOW, async () => {
        await noop.applyAsync([], { ignoreResult: true });
        if (++sent % 100_000 === 0) progress(`depth ${depth}: ${sent} enqueued`);
      });
      const enqueuePerSec = depth / ((performance.now() - t0) / 1000);
      const broker = await app.broker();
      const remaining = async () => {
        const s = await broker.queueStats("celery");
        return s.pending + s.inFlight;
      };
      progress(`depth ${depth}: starting a worker, draining…`);
      worker = spawnWorker("celeriac-worker.ts", ["--name", name]);
      await worker.ready;
      const start = performance.now();
      let half: number | null = null;
      for (;;) {
        const left = await deadline(Promise.race([remaining(), worker.died]), 30_000, "queue stats");
        if (half === null && left <= depth / 2) half = performance.now();
        if (left === 0) break;
        if (performance.now() - start > 30 * 60_000) throw new Error(`depth ${depth}: not drained in 30 min (${left} left)`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const end = performance.now();
      const rss = await worker.stop();
      worker = null;
      const r = {
        depth,
        enqueuePerSec,
        drainPerSec: depth / ((end - start) / 1000),
        // Halves only where the drain spans many 200 ms polls: a shorter one may see half and end in one poll.
        firstHalfPerSec: end - start < 2_000 ? NaN : (depth / 2) / (((half ?? end) - start) / 1000),
        secondHalfPerSec: end - start < 2_000 ? NaN : (depth / 2) / ((end - (half ?? start)) / 1000),
        rssReady: rss.atReady,
        rssPeak: rss.peak,
      };
      out.push(r);
      progress(`depth ${depth}: drained at ${rate(r.drainPerSec)}/s, worker peak RSS ${mib(r.rssPeak)} MiB`);
      rows.push([
        String(depth),
        rate(r.enqueuePerSec),
        rate(r.drainPerSec),
        Number.isNaN(r.firstHalfPerSec) ? "n/a" : rate(r.firstHalfPerSec),
        Number.isNaN(r.secondHalfPerSec) ? "n/a" : rate(r.secondHalfPerSec),
        mib(r.rssReady),
        mib(r.rssPeak),
      ]);
    } finally {
      worker?.kill();
      await app.close();
      await removeBenchApp(name);
    }
  }
  report.depth = out;
  table("Queue depth (celeriac, noop with ignoreResult, -c 100, one run each)", [
    "queued",
    "enqueue/s",
    "drain/s",
    "1st half/s",
    "2nd half/s",
    "RSS READY MiB",
    "RSS peak MiB",
  ], rows);
}

/** One burst and round trips on a fresh driver and worker(s); medians are taken by the caller. */
async function burstOnce(system: SystemName, opts: DriverOptions & { n: number; rt: number; workers?: number }, label: string) {
  const d = await openDriver(system, `${tag}${Math.random().toString(36).slice(2, 6)}`, opts);
  const workers: WorkerChild[] = [];
  try {
    for (let i = 0; i < (opts.workers ?? 1); i++) workers.push(d.spawn());
    await Promise.all(workers.map((w) => w.ready));
    const guard = <T>(p: Promise<T>, what: string) =>
      deadline(Promise.race([p, ...workers.map((w) => w.died)]), 600_000, `${label} ${what}`);
    await guard(d.burst(Math.min(200, opts.n)), "warm-up");
    const ms = await guard(d.burst(opts.n), "burst");
    const lat: number[] = [];
    for (let i = 0; i < opts.rt; i++) {
      const t0 = performance.now();
      await guard(d.roundTrip(), "round trip");
      lat.push(performance.now() - t0);
    }
    const rss = await Promise.all(workers.splice(0).map((w) => w.stop()));
    return { perSec: opts.n / (ms / 1000), p50Ms: percentile(lat, 50), rssPeak: Math.max(...rss.map((r) => r.peak)) };
  } finally {
    for (const w of workers) w.kill();
    await d.close();
  }
}

async function runs<T>(what: string, fn: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let r = 1; r <= RUNS; r++) {
    progress(`${what}: run ${r}/${RUNS}…`);
    out.push(await fn());
  }
  return out;
}

async function payloadSection(): Promise<void> {
  const sizes: [string, number, number][] = [["100 B", 100, 20_000], ["10 KiB", 10_240, 10_000], ["512 KiB", 524_288, 400]];
  const rows: string[][] = [];
  const out: Record<string, unknown> = {};
  for (const [label, bytes, n] of sizes) {
    const got: Record<string, { perSec: number; p50Ms: number; rssPeak: number }[]> = { raw: [], celeriac: [] };
    for (let r = 1; r <= RUNS; r++) {
      for (const system of ["raw", "celeriac"] as const) {
        progress(`payload ${label}: ${system} run ${r}/${RUNS} (${n} tasks)…`);
        // At most 16 MiB of payload in flight (see DriverOptions.window).
        const window = Math.max(1, Math.min(WINDOW, Math.floor(16 * 2 ** 20 / bytes)));
        got[system]!.push(await burstOnce(system, { payloadBytes: bytes, n, rt: 100, window }, `${system} ${label}`));
      }
    }
    out[label] = got;
    const raw = got.raw!, cel = got.celeriac!;
    rows.push([
      label,
      String(n),
      fmtRange(raw.map((x) => x.perSec), rate),
      fmtRange(cel.map((x) => x.perSec), rate),
      (median(cel.map((x) => x.perSec)) / median(raw.map((x) => x.perSec))).toFixed(2) + "×",
      fmtRange(raw.map((x) => x.p50Ms), ms),
      fmtRange(cel.map((x) => x.p50Ms), ms),
      fmtRange(cel.map((x) => x.rssPeak), mib),
    ]);
  }
  report.payload = out;
  table(`Payload size (argument returned as the result; median of ${RUNS}, min–max)`, [
    "payload",
    "N",
    "raw tasks/s",
    "celeriac tasks/s",
    "÷raw",
    "raw p50 ms",
    "celeriac p50 ms",
    "celeriac RSS peak MiB",
  ], rows);
}

async function callersSection(): Promise<void> {
  const WAITERS = 10_000;
  const out: unknown[] = [];
  const rows: string[][] = [];
  for (let r = 1; r <= RUNS; r++) {
    const name = `bench_callers_${tag}_${r}`;
    const { app, noop } = benchApp(name);
    let worker: WorkerChild | null = null;
    try {
      progress(`callers: run ${r}/${RUNS}: ${WAITERS} tasks queued, then ${WAITERS} get() before any worker runs…`);
      const results = [];
      for (let i = 0; i < WAITERS; i += WINDOW) {
        results.push(...await Promise.all(Array.from({ length: Math.min(WINDOW, WAITERS - i) }, () => noop.delay())));
      }
      globalThis.gc?.();
      const rssBefore = process.memoryUsage().rss;
      const cpu0 = cpuNow();
      const waiting = results.map((x) => x.get({ timeout: 600 }));
      await new Promise((res) => setTimeout(res, 1_000)); // let every get() do its first check
      const rssWaiting = process.memoryUsage().rss;
      const cpuWaitingMs = cpuNow() - cpu0;
      worker = spawnWorker("celeriac-worker.ts", ["--name", name]);
      await worker.ready;
      const t0 = performance.now();
      await deadline(Promise.race([Promise.all(waiting), worker.died]), 600_000, "10,000 results");
      const resolveMs = performance.now() - t0;
      const cpuTotalMs = cpuNow() - cpu0;
      await worker.stop();
      worker = null;
      const x = {
        rssBefore,
        rssWaiting,
        perWaiterBytes: (rssWaiting - rssBefore) / WAITERS,
        cpuWaitingMs,
        cpuPerResultUs: (cpuTotalMs * 1000) / WAITERS,
        resolveMs,
      };
      out.push(x);
      rows.push([
        String(r),
        mib(rssBefore),
        mib(rssWaiting),
        (x.perWaiterBytes / 1024).toFixed(2),
        cpuWaitingMs.toFixed(0),
        x.cpuPerResultUs.toFixed(0),
        (resolveMs / 1000).toFixed(2),
      ]);
    } finally {
      worker?.kill();
      await app.close();
      await removeBenchApp(name);
    }
  }
  report.callers = out;
  table(`${WAITERS.toLocaleString("en")} concurrent get() on one client (one result subscription)`, [
    "run",
    "client RSS before MiB",
    "while waiting MiB",
    "KiB per waiter",
    "CPU first 1 s ms",
    "CPU µs per result",
    "all resolved in s",
  ], rows);
}

async function workersSection(): Promise<void> {
  const N = 20_000;
  const rows: string[][] = [];
  const out: Record<string, unknown> = {};
  let one = 0;
  for (const k of [1, 2, 4]) {
    const got = await runs(`workers ×${k}`, () => burstOnce("celeriac", { n: N, rt: 50, workers: k }, `${k} workers`));
    out[k] = got;
    const m = median(got.map((x) => x.perSec));
    if (k === 1) one = m;
    rows.push([
      String(k),
      fmtRange(got.map((x) => x.perSec), rate),
      (m / one).toFixed(2) + "×",
      fmtRange(got.map((x) => x.p50Ms), ms),
      fmtRange(got.map((x) => x.rssPeak), mib),
    ]);
  }
  report.workers = out;
  table(`Worker processes on one queue (celeriac, N=${N}, -c 100 each; median of ${RUNS}, min–max)`, [
    "workers",
    "tasks/s",
    "vs 1",
    "p50 ms",
    "peak RSS per worker MiB",
  ], rows);
}

async function replicasSection(): Promise<void> {
  const N = 10_000;
  const cluster = await startCluster(async (url) => {
    const nc = await connect({ servers: url.split(","), timeout: 2_000 });
    try {
      await (await jetstreamManager(nc, { timeout: 2_000 })).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  });
  const rows: string[][] = [];
  const out: Record<string, unknown> = {};
  try {
    for (const replicas of [1, 3]) {
      for (const system of ["raw", "celeriac"] as const) {
        const got = await runs(
          `${system} R${replicas}`,
          () => burstOnce(system, { natsUrl: cluster.url, replicas, n: N, rt: 100 }, `${system} R${replicas}`),
        );
        out[`${system}-R${replicas}`] = got;
        rows.push([`${system} R${replicas}`, fmtRange(got.map((x) => x.perSec), rate), fmtRange(got.map((x) => x.p50Ms), ms)]);
      }
    }
  } finally {
    await cluster.stop();
  }
  report.replicas = out;
  table(`3-node loopback cluster, stream replicas 1 vs 3 (N=${N}; median of ${RUNS}, min–max)`, ["system", "tasks/s", "p50 ms"], rows);
}

const run: Record<string, () => Promise<void>> = {
  depth: depthSection,
  payload: payloadSection,
  callers: callersSection,
  workers: workersSection,
  replicas: replicasSection,
};
for (const s of SECTIONS) {
  if (!only.includes(s)) continue;
  try {
    await run[s]!();
  } catch (err) {
    progress(`${s} FAILED: ${(err as Error).stack ?? err}`);
    lines.push("", `### ${s}: FAILED (${(err as Error).message})`);
    process.exitCode = 1;
  }
}
if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else {
  process.stdout.write(
    `celeriac bench:scale (${new Date().toISOString()}, nats ${NATS_URL})\n${lines.join("\n")}\n\n` +
      "This machine has 2 cores shared by the caller, the workers, nats-server and redis-server: more worker processes\n" +
      "cannot add CPU here, so the workers section shows the cost of coordination, not the gain of more machines.\n",
  );
}
