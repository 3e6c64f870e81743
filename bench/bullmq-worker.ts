/**
 * The BullMQ peer's worker: a `Worker` with concurrency 100 and a noop processor, BullMQ's
 * defaults otherwise (results kept in the job hash, like a result backend).
 *
 * Usage (started by bench/run.ts): bullmq-worker.ts --queue NAME
 */
import { parseArgs } from "node:util";
import { Worker } from "bullmq";
import { CONCURRENCY, REDIS_CONN, runWorker } from "./lib.ts";

const { values: opt } = parseArgs({ options: { queue: { type: "string" } } });
if (!opt.queue) throw new Error("bullmq-worker needs --queue");
const queue = opt.queue;

await runWorker("bullmq", async () => {
  // BullMQ requires maxRetriesPerRequest: null on a Worker's connection (blocking commands).
  // Returns the job's payload, if any, as its result (bench/scale.ts's payload section).
  // deno-lint-ignore require-await -- BullMQ's processor returns a promise
  const worker = new Worker(queue, async (job) => (job.data as { p?: string }).p ?? null, {
    connection: { ...REDIS_CONN, maxRetriesPerRequest: null },
    concurrency: CONCURRENCY,
  });
  let failures = 0;
  worker.on("error", (err) => {
    if (failures++ === 0) process.stderr.write(`bullmq worker: ${err.message}\n`);
  });
  await worker.waitUntilReady();
  return async () => {
    await worker.close();
    if (failures > 0) throw new Error(`${failures} worker error(s)`);
  };
});
