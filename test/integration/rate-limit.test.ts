/**
 * Rate limits on real NATS: starts are spaced by the limit; a task whose token is far off goes
 * back to the delayed store instead of holding its slot (no delivery attempt spent), one whose
 * token is near waits in the worker and shows in `inspect reserved`; every task runs once.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Worker } from "celeriac";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

describe("rate limits", () => {
  let t: TestApp;
  let worker: Worker;
  const starts: { id: string; at: number; delivery: number }[] = [];

  before(async () => {
    t = testApp({ prefix: "rl" });
    t.app.task({ name: "limited", bind: true, rateLimit: "4/s" }, (ctx) => {
      starts.push({ id: ctx.id, at: Date.now(), delivery: ctx.deliveryCount });
      return ctx.id;
    });
    t.app.task("free", () => "free");
    worker = t.app.worker({ concurrency: 8, hostname: "rl@test" });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
  });

  it("8 tasks at 4/s: starts ≥ 250 ms apart, far tokens deferred to the broker, each runs once on its first delivery", async () => {
    const rs = await Promise.all(Array.from({ length: 8 }, () => t.app.sendTask("limited")));
    // While the burst is being limited, some wait in the worker (reserved) and the slots stay
    // available for other work: an unlimited task goes through at once.
    const reserved = await waitFor(async () => {
      const r = await t.app.control.reserved({ destination: ["rl@test"] });
      const list = r["rl@test"] as { name: string }[] | undefined;
      return list && list.length > 0 ? list : null;
    }, { what: "a task held in the worker for its token" });
    assert.ok(reserved.length <= 2, `at most a quarter of the slots wait, got ${reserved.length}`);
    assert.equal(await (await t.app.sendTask("free")).get({ timeout: 5 }), "free");
    const delayed = await (await t.app.broker()).delayedStats();
    assert.ok(delayed.messages > 0, "tasks whose token was over a second away went back to the delayed store");
    await Promise.all(rs.map((r) => r.get({ timeout: 30 })));
    const sorted = [...starts].sort((a, b) => a.at - b.at);
    for (let i = 1; i < sorted.length; i++) {
      const gap = sorted[i]!.at - sorted[i - 1]!.at;
      assert.ok(gap >= 230, `start ${i} came ${gap} ms after the previous one`);
    }
    assert.equal(new Set(starts.map((s) => s.id)).size, 8, "each ran once");
    assert.ok(starts.every((s) => s.delivery === 1), "deferral spends no delivery attempt");
  });
});
