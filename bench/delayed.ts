/**
 * Delayed tasks at scale: N tasks (default 100,000) with countdowns spread evenly over a window
 * (default 60 s) while one worker process (concurrency 100) runs them. Reports:
 * - lateness: actual start − due time, p50 / p99 / max (the task returns when it ran);
 * - the worker's RSS while idle, its peak while all N wait (none due yet), and its peak while they run;
 * - what the waiting tasks take in NATS storage.
 *
 * `npm run bench:delayed` or `node --import tsx bench/delayed.ts [--n 100000] [--window 60] [--lead 15]`
 */
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import type { AsyncResult } from "celeriac";
import { benchApp, removeBenchApp } from "./celeriac-app.ts";
import { percentile, progress, spawnWorker } from "./lib.ts";

const { values } = parseArgs({ options: { n: { type: "string" }, window: { type: "string" }, lead: { type: "string" } } });
const N = Number(values.n ?? 100_000);
const WINDOW_MS = Number(values.window ?? 60) * 1000;
/** Seconds from the start of enqueueing to the first due time: enqueueing must finish first. */
const LEAD_MS = Number(values.lead ?? 15) * 1000;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

const name = `bench_delayed_${process.pid.toString(36)}`;
const { app, stamp } = benchApp(name);
const worker = spawnWorker("celeriac-worker.ts", ["--name", name]);
const samples: { t: number; rss: number }[] = [];
let sampler: ReturnType<typeof setInterval> | null = null;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

try {
  await worker.ready;
  sampler = setInterval(() => samples.push({ t: Date.now(), rss: rssOf(worker.pid) }), 100);
  progress("worker ready; measuring idle RSS for 3 s…");
  await new Promise((r) => setTimeout(r, 3000));
  const idleUntil = Date.now();

  const start = Date.now() + LEAD_MS;
  const dues: number[] = [];
  const results: Promise<number>[] = [];
  progress(`enqueueing ${N} tasks due between +${LEAD_MS / 1000}s and +${(LEAD_MS + WINDOW_MS) / 1000}s…`);
  const enqStart = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const batch: Promise<AsyncResult<number>>[] = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) {
      const due = start + Math.floor((j / N) * WINDOW_MS);
      dues.push(due);
      batch.push(stamp.applyAsync([], { eta: due }));
    }
    for (const r of await Promise.all(batch)) {
      const p = r.get({ timeout: (LEAD_MS + WINDOW_MS) / 1000 + 120 });
      p.catch(() => {});
      results.push(p);
    }
  }
  const enqSecs = (performance.now() - enqStart) / 1000;
  progress(`enqueued in ${enqSecs.toFixed(1)} s (${(N / enqSecs).toFixed(0)}/s)`);
  if (Date.now() > start) progress("WARNING: enqueueing outlasted the lead time; raise --lead");
  const stats = await (await app.broker()).delayedStats();
  progress(`delayed store: ${stats.messages} messages, ${mib(stats.bytes)}; waiting for all of them to run…`);

  const ran = await Promise.all(results);
  const late = ran.map((t, i) => t - dues[i]!);
  const early = late.filter((l) => l < 0).length;
  const idle = samples.filter((s) => s.t <= idleUntil).map((s) => s.rss);
  const pending = samples.filter((s) => s.t > idleUntil && s.t < start).map((s) => s.rss);
  const running = samples.filter((s) => s.t >= start).map((s) => s.rss);
  const idleRss = percentile(idle, 50);
  const pendingPeak = Math.max(...pending);
  console.log(`celeriac delayed-task bench: ${N} tasks due over ${WINDOW_MS / 1000} s, one worker (concurrency 100)

| measure | value |
|:--|--:|
| enqueue rate | ${(N / enqSecs).toFixed(0)} tasks/s |
| lateness p50 | ${percentile(late, 50)} ms |
| lateness p99 | ${percentile(late, 99)} ms |
| lateness max | ${Math.max(...late)} ms |
| tasks run before their due time | ${early} |
| worker RSS idle (median) | ${mib(idleRss)} |
| worker RSS peak while all ${N} wait | ${mib(pendingPeak)} (${((pendingPeak / idleRss - 1) * 100).toFixed(1)}% over idle; target ≤ 10%) |
| worker RSS peak while they run | ${mib(Math.max(...running))} |
| NATS storage of the waiting tasks | ${mib(stats.bytes)} (${(stats.bytes / stats.messages).toFixed(0)} B per task) |`);
  if (early > 0) process.exitCode = 1;
} finally {
  if (sampler) clearInterval(sampler);
  await worker.stop().catch(() => worker.kill());
  await app.close();
  await removeBenchApp(name);
}
