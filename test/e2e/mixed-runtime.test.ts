/**
 * One cluster, several runtimes: a Deno worker serves a Node producer, a Node worker a Deno
 * producer, and the same both ways with Bun. Each side reports its runtime.
 * `MIXED_RUNTIMES=bun` keeps only the pairs with Bun (`npm run test:bun`).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { type Runtime, runtimeCommand, spawnProc, spawnWorker, stopProc } from "../helpers.ts";
import { cluster, TASKS } from "./e2e-helpers.ts";

async function produce(runtime: Runtime, env: Record<string, string>, n: number) {
  const [cmd, args] = runtimeCommand(runtime, "test/fixtures/produce.ts", [String(n)]);
  const p = spawnProc(cmd, args, env);
  const code = await p.exited;
  assert.equal(code, 0, p.output());
  const line = p.output().split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, p.output());
  return JSON.parse(line) as { producer: string; results: string[] };
}

describe("mixed runtimes", () => {
  const pairs: [Runtime, Runtime][] = [["deno", "node"], ["node", "deno"], ["bun", "node"], ["node", "bun"]];
  const only = process.env.MIXED_RUNTIMES;
  for (const [workerRt, producerRt] of pairs.filter((p) => !only || p.includes(only as Runtime))) {
    it(`a ${workerRt} worker serves a ${producerRt} producer`, async () => {
      const c = cluster();
      const w = await spawnWorker(["-A", TASKS, "-c", "4"], { env: c.env, runtime: workerRt });
      try {
        const out = await produce(producerRt, c.env, 5);
        assert.equal(out.producer, producerRt);
        assert.deepEqual(out.results, Array(5).fill(workerRt));
      } finally {
        await stopProc(w);
        await c.dispose();
      }
    });
  }
});
