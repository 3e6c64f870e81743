/**
 * Cluster-wide rate limits on real NATS and Redis: `globalRateLimit: "5/s"` with 2 workers × 8
 * slots and 40 tasks → no 1-second window holds more than 6 starts, all 40 finish, none waited in
 * a slot; `rate-limit --global` changes it at run time.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { testApp } from "../helpers.ts";

/** The most starts in any window of `ms` beginning at a start. */
function busiestWindow(starts: number[], ms: number): number {
  const s = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (j < s.length && s[j]! < s[i]! + ms) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

describe("global rate limits", () => {
  const t = testApp({ prefix: "grl" });
  const starts: { at: number; host: string; delivery: number }[] = [];
  t.app.task({ name: "limited", bind: true, globalRateLimit: "5/s" }, (ctx) => {
    starts.push({ at: Date.now(), host: ctx.hostname, delivery: ctx.deliveryCount });
    return ctx.hostname;
  });
  const workers = [1, 2].map((i) => t.app.worker({ concurrency: 8, hostname: `w${i}_${t.name}@test` }));

  after(async () => {
    for (const w of workers) await w.stop();
    await t.dispose();
  });

  it("40 tasks at 5/s on 2 workers × 8: at most 6 starts in any second, all finish, on both workers", async () => {
    for (const w of workers) await w.start();
    const rs = await t.app.sendMany(Array.from({ length: 40 }, () => ({ task: "limited" })));
    const hosts = await Promise.all(rs.map((r) => r.get({ timeout: 60 })));
    assert.equal(starts.length, 40, "each ran once");
    const most = busiestWindow(starts.map((s) => s.at), 1_000);
    assert.ok(most <= 6, `${most} starts in one second`);
    assert.equal(new Set(hosts).size, 2, "the limit is shared: both workers ran tasks");
    assert.ok(starts.every((s) => s.delivery === 1), "waiting spent no delivery attempt (it waited in the broker)");
    for (const w of workers) assert.equal(w.active, 0);
  });

  it("rate-limit --global changes it at run time", async () => {
    starts.length = 0;
    const replies = await t.app.control.rateLimit("limited", "50/s", { global: true });
    assert.equal(Object.keys(replies).length, 2);
    const rs = await t.app.sendMany(Array.from({ length: 30 }, () => ({ task: "limited" })));
    await Promise.all(rs.map((r) => r.get({ timeout: 60 })));
    const most = busiestWindow(starts.map((s) => s.at), 1_000);
    assert.ok(most > 6 && most <= 51, `${most} starts in the busiest second at 50/s`);
  });
});
