/**
 * `npm run bench:memory`: where a celeriac worker's memory goes, measured rather than guessed.
 *
 *   node --import tsx bench/memory.ts [--runs 3] [--n 100000] [--semi 0,2,4,8,16] [--v8="FLAGS;FLAGS"] [--snapshot DIR] [--json]
 *
 * 1. What each library costs once loaded: fresh processes that import the runtime's pieces one after
 *    another (nats.js, ioredis, msgpackr, @opentelemetry/api, croner, the tsx loader, celeriac itself
 *    from source and, when built, from dist/), then start a worker at -c 100; RSS and V8 heap after a
 *    full GC at each step.
 * 2. The worker at its peak under the end-to-end burst (N noop tasks, 1,000 in flight, -c 100), with
 *    V8's young generation sized by `--max-semi-space-size` (0 = V8's own default, which grows the
 *    semi-space up to 16 MiB on 64-bit Node 20): peak RSS, what V8's heap spaces held at that peak,
 *    throughput and worker CPU per task. `--v8` adds variants with other V8 flags, by default the
 *    settings k8s/base/worker.yaml deploys (bench/lib.ts WORKER_V8_FLAGS), which also cap the old
 *    space: with V8's own limit on a 24 GiB machine (~4 GiB) the old space grows to ~60 MiB, mostly
 *    garbage, before a full GC. Variants alternate order between runs; medians with min–max.
 * 3. With --snapshot DIR: a heap snapshot of the worker 3 s into a burst (at its working peak), summed
 *    by constructor, so the old generation's content is named.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openDriver } from "./drivers.ts";
import { cpuMs, deadline, median, progress, ROOT, WORKER_V8_FLAGS, type WorkerChild, type WorkerRss } from "./lib.ts";

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    n: { type: "string", default: "100000" },
    semi: { type: "string", default: "0,2,4,8,16" },
    v8: { type: "string", default: WORKER_V8_FLAGS },
    snapshot: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const RUNS = Number(flags.runs);
const N = Number(flags.n);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be an integer ≥ 1, got ${flags.runs}`);
if (!Number.isInteger(N) || N < 1000) throw new Error(`--n must be an integer ≥ 1000, got ${flags.n}`);
/** The worker's V8 flags per variant ("" is V8's defaults). */
const VARIANTS = [
  ...flags.semi!.split(",").filter(Boolean).map((s) => {
    const x = Number(s);
    if (!Number.isInteger(x) || x < 0) throw new Error(`--semi: each size is an integer number of MiB ≥ 0, got "${s}"`);
    return x === 0 ? "" : `--max-semi-space-size=${x}`;
  }),
  ...(flags.v8?.split(";").map((f) => f.trim()).filter(Boolean) ?? []),
];
const MiB = 2 ** 20;
const mib = (b: number) => (b / MiB).toFixed(1);

// ---------------------------------------------------------------------------------------------
// 1. Libraries, one after another, in a fresh process (plain node; tsx registered as a step)

const PROBE = `
import { getHeapStatistics } from "node:v8";
const steps = JSON.parse(process.argv[1]);
const out = [];
const measure = (what) => {
  globalThis.gc(); globalThis.gc();
  const m = process.memoryUsage();
  out.push({ what, rss: m.rss, heapUsed: m.heapUsed, external: m.external });
};
measure("node itself");
let mod = null;
for (const s of steps) {
  if (s.register) (await import("tsx/esm/api")).register();
  for (const spec of s.imports) mod = await import(spec);
  if (s.worker) {
    const app = new mod.Celeriac({ name: "memprobe" + process.pid, brokerUrl: "nats://127.0.0.1:4222", resultBackend: "redis://127.0.0.1:6379/0", resultKeyPrefix: "memprobe" + process.pid + "-" });
    app.task("noop", () => null);
    const w = app.worker({ queues: ["celery"], concurrency: 100 });
    await w.start();
    measure(s.what);
    await w.stop();
    await app.close();
    // Remove what the worker made (its streams and KV buckets), by this probe's own name only.
    const { connect } = await import("@nats-io/transport-node");
    const { jetstreamManager } = await import("@nats-io/jetstream");
    const nc = await connect({ servers: "nats://127.0.0.1:4222" });
    const jsm = await jetstreamManager(nc);
    for await (const n of jsm.streams.names()) {
      if (n.startsWith("MEMPROBE" + process.pid + "_") || n.startsWith("KV_memprobe" + process.pid + "_")) await jsm.streams.delete(n);
    }
    await nc.close();
    continue;
  }
  measure(s.what);
}
process.stdout.write(JSON.stringify(out));
`;

interface Step {
  what: string;
  imports: string[];
  register?: boolean;
  worker?: boolean;
}

function librarySteps(fromDist: boolean): Step[] {
  const libs: Step[] = [
    { what: "+ nats.js (transport, jetstream, kv)", imports: ["@nats-io/transport-node", "@nats-io/jetstream", "@nats-io/kv"] },
    { what: "+ ioredis", imports: ["ioredis"] },
    { what: "+ msgpackr", imports: ["msgpackr"] },
    { what: "+ @opentelemetry/api", imports: ["@opentelemetry/api"] },
    { what: "+ croner", imports: ["croner"] },
  ];
  if (fromDist) {
    return [...libs, { what: "+ celeriac (dist/)", imports: [join(ROOT, "dist/src/mod.js")] }, {
      what: "+ a started worker, -c 100",
      imports: [],
      worker: true,
    }];
  }
  return [
    ...libs,
    { what: "+ tsx loader", imports: [], register: true },
    { what: "+ celeriac (src/, through tsx)", imports: [join(ROOT, "src/mod.ts")] },
    { what: "+ a started worker, -c 100", imports: [], worker: true },
  ];
}

type Probe = { what: string; rss: number; heapUsed: number; external: number }[];

function probe(steps: Step[]): Probe {
  const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", PROBE, JSON.stringify(steps)], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`memory probe failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Probe;
}

function libraries(fromDist: boolean) {
  const runs: Probe[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(probe(librarySteps(fromDist)));
  return runs[0]!.map((s, i) => {
    const at = (k: "rss" | "heapUsed" | "external") => median(runs.map((r) => r[i]![k]));
    const before = (k: "rss" | "heapUsed" | "external") => (i === 0 ? 0 : median(runs.map((r) => r[i - 1]![k])));
    return {
      what: s.what,
      rss: at("rss"),
      rssDelta: at("rss") - before("rss"),
      heapUsed: at("heapUsed"),
      heapDelta: at("heapUsed") - before("heapUsed"),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// 2. The worker at its peak, per young-generation size

interface PeakSample {
  rss: number;
  rate: number;
  cpuWorker: number;
  newSpace: number;
  oldSpace: number;
  codeSpace: number;
  largeObjects: number;
  external: number;
}

async function burstAt(v8Flags: string, run: number, snapshotDir?: string): Promise<PeakSample> {
  process.env.BENCH_V8_FLAGS = v8Flags;
  const tag = `${process.pid.toString(36)}m${run}v${VARIANTS.indexOf(v8Flags)}`;
  const d = await openDriver("celeriac", tag);
  let w: WorkerChild | null = null;
  try {
    w = d.spawn();
    await w.ready;
    const worker = w;
    const guarded = <T>(p: Promise<T>, what: string) => deadline(Promise.race([p, worker.died]), Math.max(120_000, N * 5), what);
    await guarded(d.burst(1000), "warm-up");
    const cpu0 = cpuMs(w.pid);
    const burst = d.burst(N);
    if (snapshotDir) {
      // 3 s in, the prefetch buffer is full and 100 tasks are running: the working peak.
      await new Promise((r) => setTimeout(r, 3000));
      const path = join(snapshotDir, `worker-${tag}.heapsnapshot`);
      progress(`heap snapshot → ${path}`);
      await w.snapshot(path);
      snapshots.push(path);
    }
    const ms = await guarded(burst, "burst");
    const cpu1 = cpuMs(w.pid);
    const rss: WorkerRss = await w.stop();
    w = null;
    const sp = rss.atPeak?.spaces ?? {};
    const used = (k: string) => sp[k]?.size ?? NaN;
    return {
      rss: rss.peak,
      rate: N / (ms / 1000),
      cpuWorker: cpu0 === null || cpu1 === null ? NaN : ((cpu1 - cpu0) * 1000) / N,
      newSpace: used("new_space"),
      oldSpace: used("old_space"),
      codeSpace: used("code_space"),
      largeObjects: used("large_object_space") + used("new_large_object_space"),
      external: rss.atPeak?.external ?? NaN,
    };
  } finally {
    w?.kill();
    await d.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. A heap snapshot, summed by constructor

const snapshots: string[] = [];

function summarize(path: string, top = 15) {
  const snap = JSON.parse(readFileSync(path, "utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const f = snap.snapshot.meta.node_fields;
  const width = f.length;
  const [iType, iName, iSize] = [f.indexOf("type"), f.indexOf("name"), f.indexOf("self_size")];
  const types = snap.snapshot.meta.node_types[0];
  const by = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    const size = snap.nodes[i + iSize]!;
    total += size;
    // Objects by constructor; everything else (strings, code, arrays, closures…) by V8's node type.
    const key = type === "object" ? snap.strings[snap.nodes[i + iName]!]! : `(${type})`;
    const e = by.get(key) ?? { bytes: 0, count: 0 };
    e.bytes += size;
    e.count++;
    by.set(key, e);
  }
  const rows = [...by].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top);
  return { total, rows: rows.map(([what, e]) => ({ what, bytes: e.bytes, count: e.count })) };
}

// ---------------------------------------------------------------------------------------------

const fromDist = (() => {
  try {
    readFileSync(join(ROOT, "dist/src/mod.js"));
    return true;
  } catch {
    return false;
  }
})();
progress(`libraries, ${RUNS} fresh process(es) each${fromDist ? " (source and dist/)" : ""}…`);
const libs = { source: libraries(false), dist: fromDist ? libraries(true) : null };

const peaks = new Map<string, PeakSample[]>(VARIANTS.map((v) => [v, []]));
for (let run = 1; run <= RUNS; run++) {
  for (const v of run % 2 ? VARIANTS : [...VARIANTS].reverse()) {
    progress(`run ${run}/${RUNS}: worker with ${v || "V8's default flags"}, ${N} tasks…`);
    const s = await burstAt(v, run);
    progress(
      `  peak RSS ${mib(s.rss)} MiB, new space ${mib(s.newSpace)} MiB, ${(s.rate / 1000).toFixed(1)}k tasks/s, ${
        s.cpuWorker.toFixed(0)
      } µs CPU/task`,
    );
    peaks.get(v)!.push(s);
  }
}
let heap: ReturnType<typeof summarize> | null = null;
if (flags.snapshot) {
  mkdirSync(flags.snapshot, { recursive: true });
  progress("heap snapshot run (default young generation)…");
  await burstAt("", 0, flags.snapshot);
  heap = summarize(snapshots[0]!);
}

const med = (xs: PeakSample[], k: keyof PeakSample) => median(xs.map((x) => x[k]));
const span = (xs: PeakSample[], k: keyof PeakSample) => [Math.min(...xs.map((x) => x[k])), Math.max(...xs.map((x) => x[k]))];

if (flags.json) {
  process.stdout.write(
    `${JSON.stringify({ config: { runs: RUNS, n: N, variants: VARIANTS }, libs, peaks: Object.fromEntries(peaks), heap }, null, 2)}\n`,
  );
} else {
  const out: string[] = [];
  const table = (head: string[], rows: string[][]) => {
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (c: string[]) => `| ${c.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join(" | ")} |`;
    out.push(
      line(head),
      `|${w.map((x, i) => (i === 0 ? ":" : "") + "-".repeat(x + 1) + (i === 0 ? "" : ":")).join("|")}|`,
      ...rows.map(line),
      "",
    );
  };
  for (const [name, steps] of Object.entries(libs)) {
    if (!steps) continue;
    out.push(`what a worker process loads (${name}), median of ${RUNS} fresh process(es), after a full GC:`, "");
    table(
      ["step", "RSS MiB", "Δ RSS", "heap used MiB", "Δ heap"],
      steps.map((s) => [s.what, mib(s.rss), mib(s.rssDelta), mib(s.heapUsed), mib(s.heapDelta)]),
    );
  }
  out.push(`the worker at its peak, ${N} noop tasks end to end at -c 100 (median of ${RUNS}, min–max):`, "");
  table(
    ["worker V8 flags", "peak RSS MiB", "new space", "old space", "code", "large obj.", "external", "tasks/s", "worker µs/task"],
    [...peaks].map(([v, xs]) => {
      const r = span(xs, "rss");
      const rate = span(xs, "rate");
      return [
        v || "V8 defaults",
        `${mib(med(xs, "rss"))} (${mib(r[0]!)}–${mib(r[1]!)})`,
        mib(med(xs, "newSpace")),
        mib(med(xs, "oldSpace")),
        mib(med(xs, "codeSpace")),
        mib(med(xs, "largeObjects")),
        mib(med(xs, "external")),
        `${(med(xs, "rate") / 1000).toFixed(1)}k (${(rate[0]! / 1000).toFixed(1)}–${(rate[1]! / 1000).toFixed(1)}k)`,
        med(xs, "cpuWorker").toFixed(0),
      ];
    }),
  );
  out.push("heap spaces are V8's reserved sizes at the sample (every 100 ms) that set the peak RSS");
  if (heap) {
    out.push("", `heap snapshot 3 s into a burst: ${mib(heap.total)} MiB of live objects, largest by constructor or node type:`, "");
    table(["what", "MiB", "count"], heap.rows.map((r) => [r.what, mib(r.bytes), String(r.count)]));
  }
  process.stdout.write(`${out.join("\n")}\n`);
}
