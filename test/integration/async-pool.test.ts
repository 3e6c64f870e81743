/**
 * The async pool's hard time limit, honestly: it cannot stop a promise, so the task fails with
 * TimeLimitExceeded and its signal aborts, but its slot stays taken until the handler returns
 * (never more than `concurrency` handlers at once); synchronous code that ran past the limit
 * fails too instead of returning SUCCESS.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type TestApp, testApp } from "../helpers.ts";
import { TaskError } from "celeriac";

describe("async pool: hard time limit", () => {
  let t: TestApp;
  const events: string[] = [];
  before(() => {
    t = testApp({ prefix: "apool" });
    t.app.task({ name: "stubborn", bind: true, timeLimit: 0.3 }, async (ctx) => {
      events.push("stubborn-start");
      // Ignores its signal for a while, as code that cannot be interrupted would.
      await new Promise((r) => setTimeout(r, 1_200));
      events.push(`stubborn-end aborted=${ctx.signal.aborted} by ${(ctx.signal.reason as Error)?.name}`);
      return "late";
    });
    t.app.task("quick", () => {
      events.push("quick-start");
      return "quick";
    });
    t.app.task({ name: "sync-past-limit", timeLimit: 0.2 }, () => {
      const end = Date.now() + 600;
      while (Date.now() < end) {
        // holds the event loop past the limit
      }
      return "should not be SUCCESS";
    });
  });
  after(async () => {
    await t.dispose();
  });

  it("fails the task at the limit, aborts its signal, and keeps its slot until the handler returns", async () => {
    const w = t.app.worker({ concurrency: 1, hostname: `a1@${t.name}` });
    await w.start();
    try {
      const slow = await t.app.sendTask("stubborn", []);
      const err = await slow.get({ timeout: 10 }).then(() => null, (e) => e);
      assert.ok(err instanceof TaskError && err.remoteType === "TimeLimitExceeded", `got ${err}`);
      assert.equal(w.active, 1, "the handler still runs, so its slot is still taken");
      const quick = await t.app.sendTask("quick", []);
      assert.equal(await quick.get({ timeout: 10 }), "quick");
      assert.deepEqual(events, ["stubborn-start", "stubborn-end aborted=true by TimeLimitExceeded", "quick-start"]);
    } finally {
      await w.stop();
    }
  });

  it("synchronous code that ran past the limit fails with TimeLimitExceeded", async () => {
    const w = t.app.worker({ concurrency: 1, hostname: `a2@${t.name}` });
    await w.start();
    try {
      const r = await t.app.sendTask("sync-past-limit", []);
      const err = await r.get({ timeout: 10 }).then(() => null, (e) => e);
      assert.ok(err instanceof TaskError && err.remoteType === "TimeLimitExceeded", `got ${err}`);
    } finally {
      await w.stop();
    }
  });

  it("per-child limits belong to the child pools: refused on async, naming the option", () => {
    assert.throws(() => t.app.worker({ maxTasksPerChild: 5 }), /maxTasksPerChild/);
    assert.throws(() => t.app.worker({ pool: "process" }), /appModule/);
    assert.throws(() => t.app.worker({ autoscale: [1, 2] }), /autoscale/);
  });
});
