/**
 * Flow control, side by side in one run:
 * - enqueue rate: celeriac `delayMany` (one bulk call) against BullMQ's `addBulk` (100 jobs a
 *   call, 10 calls in flight: its best setting on this machine, as in bench/drivers.ts) and against
 *   celeriac's own `applyAsync` pipelined 1,000 deep (the single-send baseline);
 * - drain rate of a preloaded queue by one in-process worker (concurrency 100, results ignored):
 *   all tasks at level 0 (the bare subject: what a queue without priorities costs), all at
 *   level 5, and spread over levels 0–9 — the cost of priorities as a ratio to level 0.
 *
 * `npm run bench:flow` or `node --import tsx bench/flow.ts [--n 20000] [--drain 10000] [--rounds 3]`
 */
import { parseArgs } from "node:util";
import { Queue } from "bullmq";
import { benchApp, removeBenchApp } from "./celeriac-app.ts";
import { median, pipelined, progress, REDIS_CONN } from "./lib.ts";

const { values } = parseArgs({ options: { n: { type: "string" }, drain: { type: "string" }, rounds: { type: "string" } } });
const N = Number(values.n ?? 20_000);
const DRAIN = Number(values.drain ?? 10_000);
const ROUNDS = Number(values.rounds ?? 3);
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));

const name = `bench_flow_${process.pid.toString(36)}`;
const { app, noop } = benchApp(name);
const bull = new Queue(`${name}_bull`, { connection: REDIS_CONN });

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function purge(): Promise<void> {
  await (await app.broker()).purge(app.config.defaultQueue);
}

/** Preloads `n` tasks with the given level per index, then times one worker draining them. */
async function drain(n: number, level: (i: number) => number): Promise<number> {
  const broker = await app.broker();
  await app.sendMany(Array.from({ length: n }, (_, i) => ({ task: noop, options: { priority: level(i), ignoreResult: true } })));
  await (async () => {
    for (;;) {
      if ((await broker.queueStats(app.config.defaultQueue)).pending >= n) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  let settled = 0;
  let done = () => {};
  const all = new Promise<void>((r) => (done = r));
  const worker = app.worker({ concurrency: 100, hostname: `${name}@bench` });
  worker.events.on("task-settled", () => {
    if (++settled === n) done();
  });
  const t0 = performance.now();
  await worker.start();
  await all;
  const ms = performance.now() - t0;
  await worker.stop();
  return ms;
}

try {
  await app.broker().then((b) => b.ensureQueue(app.config.defaultQueue));
  await bull.waitUntilReady();
  progress("warming up (JIT, connections, result listener, the worker's first probes)");
  await noop.delayMany(Array.from({ length: 2_000 }, () => []));
  await pipelined(2_000, 1_000, () => noop.applyAsync([]));
  await purge();
  await pipelined(20, 10, () => bull.addBulk(Array.from({ length: 100 }, () => ({ name: "noop", data: {} }))));
  await bull.obliterate({ force: true });
  await drain(2_000, (i) => i % 10);
  const enq: Record<string, number[]> = { delayMany: [], applyAsync: [], addBulk: [] };
  for (let round = 0; round < ROUNDS; round++) {
    progress(`enqueue round ${round + 1}/${ROUNDS}: ${N} tasks each`);
    enq.delayMany!.push(rate(N, await timed(() => noop.delayMany(Array.from({ length: N }, () => [])))));
    await purge();
    enq.applyAsync!.push(rate(N, await timed(() => pipelined(N, 1_000, () => noop.applyAsync([])))));
    await purge();
    enq.addBulk!.push(
      rate(
        N,
        await timed(() =>
          pipelined(
            Math.ceil(N / 100),
            10,
            (c) => bull.addBulk(Array.from({ length: Math.min(100, N - c * 100) }, () => ({ name: "noop", data: {} }))),
          )
        ),
      ),
    );
    await bull.obliterate({ force: true });
  }
  const drains: Record<string, number[]> = { "all at level 0": [], "all at level 5": [], "mixed levels 0–9": [] };
  for (let round = 0; round < ROUNDS; round++) {
    progress(`drain round ${round + 1}/${ROUNDS}: ${DRAIN} tasks each`);
    drains["all at level 0"]!.push(rate(DRAIN, await drain(DRAIN, () => 0)));
    drains["all at level 5"]!.push(rate(DRAIN, await drain(DRAIN, () => 5)));
    drains["mixed levels 0–9"]!.push(rate(DRAIN, await drain(DRAIN, (i) => i % 10)));
  }
  const m = (xs: number[]) => median(xs);
  const enqBase = m(enq.addBulk!);
  const drainBase = m(drains["all at level 0"]!);
  console.log(`
celeriac flow-control bench (medians of ${ROUNDS} rounds; ${N} tasks per enqueue, ${DRAIN} per drain)

| enqueue | tasks/s | vs BullMQ addBulk |
|:--|--:|--:|
| celeriac delayMany (one call) | ${m(enq.delayMany!)} | ${(m(enq.delayMany!) / enqBase).toFixed(2)} |
| celeriac applyAsync, 1,000 in flight | ${m(enq.applyAsync!)} | ${(m(enq.applyAsync!) / enqBase).toFixed(2)} |
| BullMQ addBulk (100 a call, 10 in flight) | ${enqBase} | 1.00 |

| drain, one worker -c 100 | tasks/s | vs level 0 |
|:--|--:|--:|
${Object.entries(drains).map(([k, xs]) => `| ${k} | ${m(xs)} | ${(m(xs) / drainBase).toFixed(2)} |`).join("\n")}
`);
} finally {
  await app.close();
  await bull.obliterate({ force: true }).catch(() => {});
  await bull.close();
  await removeBenchApp(name);
}
