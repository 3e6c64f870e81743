/**
 * Canvas costs, in one run beside their plain equivalents:
 * - a chord of N noop header tasks (default 10,000): time from apply to the body's result, against
 *   N plain celeriac tasks sent and awaited, and against the raw JetStream + Redis ceiling doing the
 *   same N round trips — the ratios show what the join costs;
 * - a chain of M steps (default 1,000), driven by the workers, against M sequential round trips
 *   driven by the client.
 *
 * `npm run bench:canvas` or `node --import tsx bench/canvas.ts [--n 10000] [--m 1000] [--runs 3]`
 */
import { parseArgs } from "node:util";
import { chain, chord } from "celeriac";
import { benchApp, removeBenchApp } from "./celeriac-app.ts";
import { openDriver } from "./drivers.ts";
import { median, progress, spawnWorker } from "./lib.ts";

const { values } = parseArgs({ options: { n: { type: "string" }, m: { type: "string" }, runs: { type: "string" } } });
const N = Number(values.n ?? 10_000);
const M = Number(values.m ?? 1_000);
const RUNS = Number(values.runs ?? 3);

interface Sample {
  raw: number;
  plain: number;
  chord: number;
  chain: number;
  sequential: number;
}

async function celeriacRun(run: number): Promise<Omit<Sample, "raw">> {
  const name = `bench_canvas_${process.pid.toString(36)}r${run}`;
  const { app, noop, count, inc } = benchApp(name);
  const worker = spawnWorker("celeriac-worker.ts", ["--name", name]);
  try {
    await worker.ready;
    // warm-up: the JIT and the streams
    await Promise.all((await Promise.all(Array.from({ length: 500 }, () => noop.delay()))).map((r) => r.get({ timeout: 60 })));

    progress(`run ${run}: ${N} plain tasks…`);
    let t0 = performance.now();
    const rs = [];
    for (let i = 0; i < N; i += 1000) rs.push(...await Promise.all(Array.from({ length: Math.min(1000, N - i) }, () => noop.delay())));
    await Promise.all(rs.map((r) => r.get({ timeout: 300 })));
    const plain = performance.now() - t0;

    progress(`run ${run}: chord of ${N}…`);
    t0 = performance.now();
    const c = await chord(Array.from({ length: N }, () => noop.si()), count.s()).applyAsync();
    const got = await c.get({ timeout: 300 });
    const chordMs = performance.now() - t0;
    if (got !== N) throw new Error(`chord body saw ${got} results, not ${N}`);

    progress(`run ${run}: chain of ${M}…`);
    t0 = performance.now();
    const ch = await chain(inc.s(0), ...Array.from({ length: M - 1 }, () => inc.s())).applyAsync();
    const last = await ch.get({ timeout: 300 });
    const chainMs = performance.now() - t0;
    if (last !== M) throw new Error(`chain ended at ${last}, not ${M}`);

    progress(`run ${run}: ${M} sequential round trips…`);
    t0 = performance.now();
    let n = 0;
    for (let i = 0; i < M; i++) n = await (await inc.delay(n)).get({ timeout: 30 });
    const sequential = performance.now() - t0;
    return { plain, chord: chordMs, chain: chainMs, sequential };
  } finally {
    await worker.stop().catch(() => worker.kill());
    await app.close();
    await removeBenchApp(name);
  }
}

async function rawRun(run: number): Promise<number> {
  progress(`run ${run}: raw ceiling, ${N} round trips…`);
  const d = await openDriver("raw", `${process.pid.toString(36)}c${run}`);
  const w = d.spawn();
  try {
    await w.ready;
    await d.burst(500);
    return await d.burst(N);
  } finally {
    await w.stop().catch(() => w.kill());
    await d.close();
  }
}

const samples: Sample[] = [];
for (let run = 1; run <= RUNS; run++) samples.push({ raw: await rawRun(run), ...(await celeriacRun(run)) });
const med = (k: keyof Sample) => median(samples.map((s) => s[k]));
const ms = (x: number) => `${x.toFixed(0)} ms`;
console.log(`celeriac canvas bench: median of ${RUNS}; worker concurrency 100

| measure | time | per task | ratio |
|:--|--:|--:|--:|
| raw JetStream + Redis: ${N} tasks, all awaited | ${ms(med("raw"))} | ${(med("raw") * 1000 / N).toFixed(0)} µs | 1.00× |
| celeriac: ${N} plain tasks, all awaited | ${ms(med("plain"))} | ${(med("plain") * 1000 / N).toFixed(0)} µs | ${
  (med("plain") / med("raw")).toFixed(2)
}× raw |
| celeriac: chord of ${N}, apply → body result | ${ms(med("chord"))} | ${(med("chord") * 1000 / N).toFixed(0)} µs | ${
  (med("chord") / med("plain")).toFixed(2)
}× plain, ${(med("chord") / med("raw")).toFixed(2)}× raw |
| celeriac: ${M} client-driven sequential round trips | ${ms(med("sequential"))} | ${(med("sequential") * 1000 / M).toFixed(0)} µs | 1.00× |
| celeriac: chain of ${M} steps (worker-driven) | ${ms(med("chain"))} | ${(med("chain") * 1000 / M).toFixed(0)} µs | ${
  (med("chain") / med("sequential")).toFixed(2)
}× sequential |`);
