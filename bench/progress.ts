/**
 * What progress events cost: a task that reports N progress steps (`await ctx.progress(i)`,
 * default 1,000), followed by its caller with `get({ onProgress })`, against the same task doing
 * the same loop without reporting, in the same run. Each step stores the PROGRESS state in Redis
 * and publishes one notice on NATS; the figure to read is the added time per step.
 *
 * Worker and caller share this process (one event loop does both ends, as a small deployment
 * would); NATS and Redis at loopback.
 *
 * `npm run bench:progress` or `node --import tsx bench/progress.ts [--steps 1000] [--tasks 5] [--runs 3]`
 */
import { parseArgs } from "node:util";
import { Celeriac } from "celeriac";
import { removeBenchApp } from "./celeriac-app.ts";
import { median, NATS_URL, progress, REDIS_URL } from "./lib.ts";

const { values } = parseArgs({ options: { steps: { type: "string" }, tasks: { type: "string" }, runs: { type: "string" } } });
const STEPS = Number(values.steps ?? 1_000);
const TASKS = Number(values.tasks ?? 5);
const RUNS = Number(values.runs ?? 3);

interface Sample {
  /** ms per task, without progress. */
  quiet: number;
  /** ms per task, reporting every step. */
  loud: number;
}

async function run(r: number): Promise<Sample> {
  const name = `bench_progress_${process.pid.toString(36)}r${r}`;
  const app = new Celeriac({ name, brokerUrl: NATS_URL, resultBackend: REDIS_URL, resultKeyPrefix: `${name}-` });
  const quiet = app.task({ name: "quiet", bind: true }, async (_ctx, n: number) => {
    for (let i = 1; i <= n; i++) await Promise.resolve(i);
    return n;
  });
  const loud = app.task({ name: "loud", bind: true }, async (ctx, n: number) => {
    for (let i = 1; i <= n; i++) await ctx.progress(i);
    return n;
  });
  const worker = app.worker({ concurrency: 1 });
  try {
    await worker.start();
    await (await loud.delay(100)).get({ timeout: 60 }); // warm-up
    const sample: Sample = { quiet: 0, loud: 0 };
    for (const [key, task] of [["quiet", quiet], ["loud", loud]] as const) {
      progress(`run ${r}: ${TASKS} ${key} tasks of ${STEPS} steps…`);
      const t0 = performance.now();
      for (let i = 0; i < TASKS; i++) {
        let events = 0;
        const got = await (await task.delay(STEPS)).get({ timeout: 300, onProgress: () => events++ });
        if (got !== STEPS) throw new Error(`${key} returned ${got}`);
        // Events travel on core NATS: none is lost at loopback, but say so if one ever is.
        if (key === "loud" && events !== STEPS) progress(`  ${key}: ${events} of ${STEPS} events arrived`);
      }
      sample[key] = (performance.now() - t0) / TASKS;
    }
    return sample;
  } finally {
    await worker.stop();
    await app.close();
    await removeBenchApp(name);
  }
}

const samples: Sample[] = [];
for (let r = 1; r <= RUNS; r++) samples.push(await run(r));
const quiet = median(samples.map((s) => s.quiet));
const loud = median(samples.map((s) => s.loud));
console.log(`celeriac progress bench: median of ${RUNS} runs, ${TASKS} tasks each, one at a time

| task | time per task | ratio |
|:--|--:|--:|
| ${STEPS} loop steps, no progress | ${quiet.toFixed(1)} ms | 1.00× |
| ${STEPS} steps, each \`await ctx.progress(i)\`, caller with \`onProgress\` | ${loud.toFixed(1)} ms | ${(loud / quiet).toFixed(1)}× |

Added cost per progress step: ${((loud - quiet) * 1000 / STEPS).toFixed(0)} µs (a Redis SET and a NATS publish, awaited in turn).`);
