/**
 * Two worker processes share a queue: every task runs once, every result is readable.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnWorker, stopProc } from "../helpers.ts";
import { cluster, TASKS } from "./e2e-helpers.ts";

describe("cluster", () => {
  it("1,000 tasks over 2 worker processes: each runs once, every result readable", async () => {
    const c = cluster();
    const workers = await Promise.all([
      spawnWorker(["-A", TASKS, "-c", "16", "-n", "w1@%h"], { env: c.env }),
      spawnWorker(["-A", TASKS, "-c", "16", "-n", "w2@%h"], { env: c.env }),
    ]);
    try {
      const rs = await Promise.all(Array.from({ length: 1000 }, (_, i) => c.app.sendTask<number>("counted", [i])));
      const values = await Promise.all(rs.map((r) => r.get({ timeout: 60 })));
      assert.deepEqual(values, rs.map((_, i) => i));
      const runs = await c.redis.hgetall(`${c.prefix}runs`);
      assert.equal(Object.keys(runs).length, 1000);
      assert.ok(Object.values(runs).every((n) => n === "1"), "every task ran exactly once");
      const byPid = await c.redis.hgetall(`${c.prefix}by-pid`);
      assert.equal(Object.keys(byPid).length, 2, `both workers took work: ${JSON.stringify(byPid)}`);
      // every result readable from the backend, not only through notices
      const backend = await c.app.backend();
      const records = await backend.getMany(rs.map((r) => r.id));
      assert.ok(records.every((rec, i) => rec?.status === "SUCCESS" && rec.result === i));
    } finally {
      await Promise.all(workers.map((w) => stopProc(w)));
      await c.dispose();
    }
  });
});
