/**
 * celeriac's worker for the benchmark: `app.worker({ queues: ["celery"], concurrency: 100 })`
 * on the same app name and the same `noop` task as the caller.
 *
 * Usage (started by bench/run.ts and bench/scale.ts): celeriac-worker.ts --name APP [--nats URL] [--replicas N]
 */
import { parseArgs } from "node:util";
import { benchApp } from "./celeriac-app.ts";
import { CONCURRENCY, runWorker } from "./lib.ts";

const { values: opt } = parseArgs({
  options: { name: { type: "string" }, nats: { type: "string" }, replicas: { type: "string" } },
});
if (!opt.name) throw new Error("celeriac-worker needs --name");
const name = opt.name;

await runWorker("celeriac", async () => {
  const { app } = benchApp(name, { natsUrl: opt.nats, replicas: opt.replicas ? Number(opt.replicas) : undefined });
  const worker = app.worker({ queues: ["celery"], concurrency: CONCURRENCY });
  let failures = 0;
  // Background trouble is reported as events, not thrown: count it so a bad run is not silent.
  worker.events.on("error", (err) => {
    if (failures++ < 3) process.stderr.write(`celeriac worker: ${(err as Error).stack ?? err.message}\n`);
  });
  await worker.start();
  return async () => {
    await worker.stop();
    await app.close();
    if (failures > 0) throw new Error(`${failures} worker error(s)`);
  };
});
