/**
 * What a worker allocates per task, by function, beside raw JetStream + Redis's worker: a burst
 * of noop tasks (1,000 in flight, every result awaited, as `npm run bench`) under V8's sampling
 * heap profiler in the worker process, the garbage young-generation GC collects included (what a
 * worker's GC time goes to). Bytes per task in all and the top allocating functions of each.
 *   node --import tsx bench/worker-alloc.ts [--n 40000] [--top 25] [--only raw,celeriac]
 */
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { openDriver, type SystemName } from "./drivers.ts";
import { type AllocNode, allocSummary } from "./lib.ts";

const { values: flags } = parseArgs({
  options: {
    n: { type: "string", default: "40000" },
    top: { type: "string", default: "25" },
    only: { type: "string", default: "raw,celeriac" },
  },
});
const N = Number(flags.n);
const TOP = Number(flags.top);

for (const system of flags.only!.split(",") as SystemName[]) {
  const driver = await openDriver(system, `walloc${Date.now().toString(36)}`);
  const worker = driver.spawn();
  await worker.ready;
  await driver.burst(Math.min(5000, N)); // warm-up: JIT, lazy setup
  const file = path.join(tmpdir(), `worker-alloc-${process.pid}-${system}.heapprofile`);
  await worker.allocStart();
  await driver.burst(N);
  await worker.allocStop(file);
  await worker.stop();
  await driver.close();
  const profile = JSON.parse(readFileSync(file, "utf8")) as { head: AllocNode };
  rmSync(file);
  console.log(`== ${system} worker, ${N} tasks`);
  for (const line of allocSummary(profile.head, N, TOP)) console.log(line);
}
