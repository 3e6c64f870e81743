/**
 * What a caller's `get()` costs in the result hub alone: per task, note the publish, wait with a
 * timeout, receive the notice, resolve. No network: the hub's broker here only hands the notice
 * handler over (the hub's cost is what is measured, not the transport's). 1,000 tasks in flight
 * like `npm run bench`; phases of ~1 s, median of 7, A/B in one process when given a second
 * result-hub.ts to compare with.
 *   node --import tsx bench/result-wait.ts [path/to/other/result-hub.ts]
 */
import type { Broker } from "../src/broker/types.ts";
import type { ResultBackend } from "../src/backend/types.ts";
import type { ResultRecord } from "../src/protocol/result.ts";
import { ResultHub } from "../src/result-hub.ts";

type HubClass = typeof ResultHub;
const N = 200_000;
const WINDOW = 1000;
const TIMEOUT_MS = 300_000; // npm run bench's get({ timeout: 300 })

async function nsPerTask(Hub: HubClass, timeoutMs: number | null): Promise<number> {
  let deliver: (data: Uint8Array) => void = () => {};
  const broker = { subscribe: (_s: string, h: (d: Uint8Array) => void) => ((deliver = h), () => {}), onStatus: () => () => {} };
  let next = 0;
  const ids: string[] = [];
  // The notice's decode: a fresh record per notice, as unpack would give.
  const decode = (): ResultRecord => ({
    task_id: ids[next++]!,
    status: "SUCCESS",
    result: null,
    traceback: null,
    children: [],
    date_done: null,
  });
  const hub = new Hub(() => Promise.resolve(broker as unknown as Broker), () => Promise.resolve({} as ResultBackend), "reply", decode);
  await hub.start();
  const notice = new Uint8Array(1);
  const t = performance.now();
  for (let done = 0; done < N; done += WINDOW) {
    const waits: Promise<ResultRecord>[] = [];
    for (let i = 0; i < WINDOW; i++) {
      const id = `task-${done + i}`;
      ids.push(id);
      hub.published(id);
      waits.push(hub.wait(id, timeoutMs));
    }
    for (let i = 0; i < WINDOW; i++) deliver(notice);
    await Promise.all(waits);
  }
  const ns = ((performance.now() - t) * 1e6) / N;
  hub.close();
  return ns;
}

const other = process.argv[2];
const hubs: [string, HubClass][] = [["this tree", ResultHub]];
if (other) hubs.push([other, (await import(other)).ResultHub as HubClass]);
for (const timeoutMs of [TIMEOUT_MS, null]) {
  const runs = hubs.map(() => [] as number[]);
  for (let r = 0; r < 7; r++) for (let h = 0; h < hubs.length; h++) runs[h]!.push(await nsPerTask(hubs[h]![1], timeoutMs));
  for (let h = 0; h < hubs.length; h++) {
    const xs = runs[h]!.sort((a, b) => a - b);
    console.log(
      `timeout ${timeoutMs === null ? "none" : `${timeoutMs / 1000}s`}, ${hubs[h]![0]}: ${xs[3]!.toFixed(0)} ns/task (${
        xs[0]!.toFixed(0)
      }–${xs[6]!.toFixed(0)})`,
    );
  }
}
