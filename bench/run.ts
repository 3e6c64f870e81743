/**
 * `npm run bench`: celeriac against its ceiling (raw JetStream + Redis) and its peer (BullMQ),
 * measured side by side in one run on this machine, reported as absolute figures and ratios.
 *
 *   node --import tsx bench/run.ts [--runs 3] [--n 100000] [--rt 1000] [--only raw,bullmq,celeriac] [--json]
 *
 * Per run, the systems go one after the other, in the opposite order on every other run (raw,
 * bullmq, celeriac, then celeriac, bullmq, raw), so noise and drift on this shared 2-core machine
 * fall on all of them alike; the report gives the median over runs with the min–max beside it.
 * N is large enough that every measured phase lasts seconds.
 * For each system and run: enqueue rate with no worker; then a fresh worker process, a warm-up,
 * end-to-end throughput (N tasks, every result awaited), round-trip latency (tasks one at a
 * time), and the worker's own peak RSS.
 */
import { parseArgs } from "node:util";
import { type Driver, openDriver, type SystemName, SYSTEMS } from "./drivers.ts";
import { CONCURRENCY, cpuMs, deadline, median, percentile, pidOf, progress, WINDOW, type WorkerChild, workerV8Flags } from "./lib.ts";

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    n: { type: "string", default: "100000" },
    rt: { type: "string", default: "1000" },
    only: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const count = (name: string, v: string): number => {
  const x = Number(v);
  if (!Number.isInteger(x) || x < 1) throw new Error(`--${name} must be an integer ≥ 1, got ${JSON.stringify(v)}`);
  return x;
};
const RUNS = count("runs", flags.runs!);
const N = count("n", flags.n!);
const RT = count("rt", flags.rt!);
const only = flags.only?.split(",").map((s) => s.trim()).filter(Boolean) ?? [...SYSTEMS];
for (const s of only) {
  if (!(SYSTEMS as readonly string[]).includes(s)) throw new Error(`--only: unknown system "${s}"; use ${SYSTEMS.join(", ")}`);
}
const systems = SYSTEMS.filter((s) => only.includes(s));
/** Unmeasured tasks before timing, so JIT warm-up and lazy setup fall on no system's figures. */
const WARMUP = Math.min(1000, N);

const fmt = {
  rate: (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0)),
  ms: (x: number) => x.toFixed(2),
  mib: (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`,
  ratio: (x: number | null) => (x === null ? "n/a" : `${x.toFixed(2)}×`),
};

const METRICS: { key: Metric; label: string; show: (x: number) => string }[] = [
  { key: "enqueuePerSec", label: "enqueue (msgs/s)", show: fmt.rate },
  { key: "e2ePerSec", label: "end-to-end (tasks/s)", show: fmt.rate },
  { key: "p50Ms", label: "round trip p50 (ms)", show: fmt.ms },
  { key: "p99Ms", label: "round trip p99 (ms)", show: fmt.ms },
  { key: "rssBytes", label: "worker peak RSS", show: fmt.mib },
  { key: "rssReadyBytes", label: "worker RSS at READY", show: fmt.mib },
  { key: "cpuCaller", label: "CPU/task: caller (µs)", show: (x) => (Number.isNaN(x) ? "n/a" : x.toFixed(0)) },
  { key: "cpuWorker", label: "CPU/task: worker (µs)", show: (x) => (Number.isNaN(x) ? "n/a" : x.toFixed(0)) },
  { key: "cpuNats", label: "CPU/task: nats-server (µs)", show: (x) => (Number.isNaN(x) ? "n/a" : x.toFixed(0)) },
  { key: "cpuRedis", label: "CPU/task: redis-server (µs)", show: (x) => (Number.isNaN(x) ? "n/a" : x.toFixed(0)) },
];

/** One run of one system. */
interface Sample {
  enqueuePerSec: number;
  e2ePerSec: number;
  p50Ms: number;
  p99Ms: number;
  rssBytes: number;
  rssReadyBytes: number;
  /** CPU µs per task during the end-to-end burst, per process (NaN where /proc is unavailable). */
  cpuCaller: number;
  cpuWorker: number;
  cpuNats: number;
  cpuRedis: number;
}
type Metric = keyof Sample;

async function measure(system: SystemName, run: number): Promise<Sample> {
  const tag = `${process.pid.toString(36)}r${run}`;
  const step = (what: string) => progress(`run ${run}/${RUNS}: ${system} ${what}…`);
  const d: Driver = await openDriver(system, tag);
  let worker: WorkerChild | null = null;
  try {
    step("enqueue");
    const enqMs = await d.enqueueOnly(N, WARMUP);

    step("worker start");
    const w = worker = d.spawn();
    await w.ready;
    // Every wait on the worker also ends if it dies, and has a deadline, so nothing hangs.
    const guarded = <T>(p: Promise<T>, ms: number, what: string) => deadline(Promise.race([p, w.died]), ms, `${system} ${what}`);

    step("warm-up");
    await guarded(d.burst(WARMUP), 120_000, "warm-up");

    step("end-to-end");
    const procs = { caller: process.pid, worker: w.pid, nats: pidOf("nats-server"), redis: pidOf("redis-server") };
    const cpu0 = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, p === null ? null : cpuMs(p)]));
    const e2eMs = await guarded(d.burst(N), Math.max(120_000, N * 5), "end-to-end");
    const cpuPerTask = (k: keyof typeof procs) => {
      const p = procs[k];
      const a = cpu0[k];
      const b = p === null ? null : cpuMs(p);
      return a === null || a === undefined || b === null ? NaN : ((b - a) * 1000) / N;
    };
    // Read now: the worker is gone (and its /proc entry with it) once stopped below.
    const cpu = { caller: cpuPerTask("caller"), worker: cpuPerTask("worker"), nats: cpuPerTask("nats"), redis: cpuPerTask("redis") };

    step("round trip");
    const lat: number[] = [];
    for (let i = 0; i < RT; i++) {
      const t0 = performance.now();
      await guarded(d.roundTrip(), 30_000, `round trip ${i + 1}`);
      lat.push(performance.now() - t0);
    }

    step("worker stop");
    const rss = await worker.stop();
    worker = null;
    const s: Sample = {
      enqueuePerSec: N / (enqMs / 1000),
      e2ePerSec: N / (e2eMs / 1000),
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      rssBytes: rss.peak,
      rssReadyBytes: rss.atReady,
      cpuCaller: cpu.caller,
      cpuWorker: cpu.worker,
      cpuNats: cpu.nats,
      cpuRedis: cpu.redis,
    };
    progress(
      `run ${run}/${RUNS}: ${system} done: enqueue ${fmt.rate(s.enqueuePerSec)}/s, end-to-end ${fmt.rate(s.e2ePerSec)}/s, ` +
        `p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms, worker RSS ${fmt.mib(s.rssBytes)} (${
          fmt.mib(s.rssReadyBytes)
        } at READY)`,
    );
    return s;
  } finally {
    worker?.kill();
    step("cleanup");
    // A failed cleanup is reported, and must not hide the error that brought us here.
    await d.close().catch((err) => {
      progress(`run ${run}/${RUNS}: ${system} cleanup FAILED (streams or keys may be left): ${(err as Error).stack ?? err}`);
      process.exitCode = 1;
    });
  }
}

// ---------------------------------------------------------------------------------------------

const samples = new Map<SystemName, Sample[]>(systems.map((s) => [s, []]));
const failures = new Map<SystemName, string>();

for (let run = 1; run <= RUNS; run++) {
  for (const system of run % 2 ? systems : [...systems].reverse()) {
    if (failures.has(system)) continue; // a failed system is not run again: its error is its result
    try {
      samples.get(system)!.push(await measure(system, run));
    } catch (err) {
      const msg = (err as Error).stack ?? String(err);
      progress(`run ${run}/${RUNS}: ${system} FAILED: ${msg}`);
      failures.set(system, `run ${run}: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  }
}

/** Medians per system and metric, or null where the system failed or was not run. */
const med = (s: SystemName, k: Metric): number | null => {
  const xs = samples.get(s);
  return xs && xs.length > 0 && !failures.has(s) ? median(xs.map((x) => x[k])) : null;
};
/** The smallest and largest value over runs. */
const range = (s: SystemName, k: Metric): [number, number] | null => {
  const xs = samples.get(s)?.map((x) => x[k]).filter((x) => !Number.isNaN(x));
  return xs && xs.length > 1 && !failures.has(s) ? [Math.min(...xs), Math.max(...xs)] : null;
};
const ratio = (k: Metric, base: SystemName): number | null => {
  const c = med("celeriac", k);
  const b = med(base, k);
  return c === null || b === null ? null : c / b;
};

const MiB = 2 ** 20;
const TARGETS = [
  { what: "end-to-end ≥ 1.5× BullMQ", value: ratio("e2ePerSec", "bullmq"), ok: (r: number) => r >= 1.5, show: fmt.ratio },
  { what: "end-to-end ≥ 0.85× raw", value: ratio("e2ePerSec", "raw"), ok: (r: number) => r >= 0.85, show: fmt.ratio },
  { what: "round trip p50 ≤ 0.8× BullMQ's", value: ratio("p50Ms", "bullmq"), ok: (r: number) => r <= 0.8, show: fmt.ratio },
  { what: "worker peak RSS ≤ 120 MiB", value: med("celeriac", "rssBytes"), ok: (b: number) => b <= 120 * MiB, show: fmt.mib },
  {
    what: "worker CPU/task ≤ 35 µs",
    value: med("celeriac", "cpuWorker"),
    ok: (x: number) => x <= 35,
    show: (x: number) => `${x.toFixed(0)} µs`,
  },
  {
    what: "caller CPU/task ≤ 35 µs",
    value: med("celeriac", "cpuCaller"),
    ok: (x: number) => x <= 35,
    show: (x: number) => `${x.toFixed(0)} µs`,
  },
];
const targets = TARGETS.map((t) => ({ target: t.what, value: t.value, met: t.value === null ? null : t.ok(t.value) }));

if (flags.json) {
  const out = {
    config: { runs: RUNS, n: N, rt: RT, warmup: WARMUP, systems },
    systems: Object.fromEntries(systems.map((s) => [s, {
      runs: samples.get(s),
      median: Object.fromEntries(METRICS.map((m) => [m.key, med(s, m.key)])),
      range: Object.fromEntries(METRICS.map((m) => [m.key, range(s, m.key)])),
      error: failures.get(s) ?? null,
    }])),
    ratios: Object.fromEntries(METRICS.map((m) => [m.key, { vsBullmq: ratio(m.key, "bullmq"), vsRaw: ratio(m.key, "raw") }])),
    targets,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} else {
  const names: Record<SystemName, string> = { raw: "raw JS+Redis", bullmq: "BullMQ", celeriac: "celeriac" };
  const header = ["metric", ...systems.map((s) => names[s]), "celeriac/BullMQ", "celeriac/raw"];
  const rows = METRICS.map((m) => [
    m.label,
    ...systems.map((s) => {
      const v = med(s, m.key);
      const r = range(s, m.key);
      return v === null ? "failed" : r ? `${m.show(v)} (${m.show(r[0])}–${m.show(r[1])})` : m.show(v);
    }),
    fmt.ratio(ratio(m.key, "bullmq")),
    fmt.ratio(ratio(m.key, "raw")),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const out = [
    `celeriac bench: median of ${RUNS} run(s) (min–max in brackets); N=${N} tasks with ${WINDOW} publishes in flight, ${RT} round trips, ` +
    `worker concurrency ${CONCURRENCY}, warm-up ${WARMUP}`,
    "",
    line(header),
    `|${widths.map((w, i) => (i === 0 ? ":" : "") + "-".repeat(w + 1) + (i === 0 ? "" : ":")).join("|")}|`,
    ...rows.map(line),
    "",
    "ratios are celeriac ÷ other: above 1 is better for rates, below 1 is better for latency, RSS and CPU",
    "CPU/task: CPU time each process used during the end-to-end burst, divided by N (from /proc)",
    "raw JS+Redis uses nats.js with noAsyncTraces (see bench/drivers.ts); celeriac sets it on its own connection; BullMQ has no such option",
    `every worker runs with ${
      workerV8Flags().join(" ") || "V8's default heap limits"
    } (k8s/base/worker.yaml's; BENCH_V8_FLAGS replaces them)`,
    "worker RSS includes the tsx loader every worker runs under (~20 MiB over plain node: npm run bench:memory)",
    "",
    "targets:",
    ...TARGETS.map((t) => {
      const v = t.value === null ? "n/a" : t.show(t.value);
      const met = t.value === null ? "not measured" : t.ok(t.value) ? "MET" : "NOT MET";
      return `  ${t.what.padEnd(28)} ${v.padStart(10)}  ${met}`;
    }),
    ...[...failures].map(([s, e]) => `\n${s} FAILED (${e})`),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}
