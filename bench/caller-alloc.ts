/**
 * What a caller allocates per task, by function: `delay()` + `get()` against a real worker
 * process, as `npm run bench`'s burst does, under V8's sampling heap profiler with the objects
 * young-generation GC collects included (they are what GC time goes to). Bytes per task, the
 * top allocating functions, and GC's share of the caller's time.
 *   node --import tsx bench/caller-alloc.ts [--n 60000] [--top 30]
 */
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import { PerformanceObserver } from "node:perf_hooks";
import { openDriver } from "./drivers.ts";
import { type AllocNode, allocSummary } from "./lib.ts";

const { values: flags } = parseArgs({ options: { n: { type: "string", default: "60000" }, top: { type: "string", default: "30" } } });
const N = Number(flags.n);
const TOP = Number(flags.top);

const driver = await openDriver("celeriac", `alloc${Date.now().toString(36)}`);
const worker = driver.spawn();
await worker.ready;
await driver.burst(Math.min(5000, N)); // warm-up: JIT, lazy setup
let gcMs = 0;
const gc = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
gc.observe({ entryTypes: ["gc"] });
const session = new Session();
session.connect();
await session.post("HeapProfiler.startSampling", {
  samplingInterval: 1024,
  includeObjectsCollectedByMinorGC: true,
  includeObjectsCollectedByMajorGC: true,
});
const cpu0 = process.cpuUsage();
const ms = await driver.burst(N);
const cpu = process.cpuUsage(cpu0);
const { profile } = await session.post("HeapProfiler.stopSampling") as { profile: { head: AllocNode } };
gc.disconnect();
session.disconnect();
await worker.stop();
await driver.close();

const cpuUs = (cpu.user + cpu.system) / N;
console.log(
  `${N} tasks in ${(ms / 1000).toFixed(1)} s; caller CPU ${cpuUs.toFixed(1)} µs/task, of it GC ${(gcMs * 1000 / N).toFixed(1)} µs`,
);
for (const line of allocSummary(profile.head, N, TOP)) console.log(line);
