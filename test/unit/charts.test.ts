import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DepthHistory, percentile, TaskRates } from "../../src/monitor/charts.ts";

describe("monitor charts", () => {
  it("counts outcomes per second, per task name and for all, into points of any step", () => {
    const r = new TaskRates();
    const now = 1_000_000;
    for (let i = 0; i < 10; i++) r.record("add", "succeeded", now - 5 + i * 0.1);
    r.record("add", "failed", now - 1);
    r.record("mul", "retried", now);
    const all = r.rates(now, { windowS: 10, stepS: 5 });
    assert.deepEqual(all.t, [now - 9, now - 4]);
    assert.deepEqual(all.succeeded, [2, 0], "10 successes in second now-5: 2/s over the first 5-s point");
    assert.deepEqual(all.failed, [0, 0.2]);
    assert.deepEqual(all.retried, [0, 0.2]);
    assert.deepEqual(r.rates(now, { name: "mul", windowS: 10, stepS: 10 }).retried, [0.1]);
    assert.deepEqual(r.rates(now, { name: "mul", windowS: 10, stepS: 10 }).succeeded, [0]);
  });

  it("forgets what is older than an hour: a slot is reused", () => {
    const r = new TaskRates();
    r.record("add", "succeeded", 5_000);
    r.record("add", "succeeded", 5_000 + 3_600);
    assert.deepEqual(r.rates(5_000 + 3_600, { windowS: 1, stepS: 1 }).succeeded, [1]);
  });

  it("gives runtime p50 and p95 per minute from a bounded sample", () => {
    let seed = 1;
    const r = new TaskRates(() => ((seed = (seed * 16807) % 2147483647) / 2147483647));
    const minute = 600 * 60;
    for (let i = 1; i <= 1000; i++) r.record("add", "succeeded", minute + 1, i / 1000);
    const s = r.runtimes(minute + 30, "add");
    assert.equal(s.t.length, 60);
    const p50 = s.p50.at(-1)!, p95 = s.p95.at(-1)!;
    assert.ok(p50 > 0.4 && p50 < 0.6, `p50 ≈ 0.5 (${p50})`);
    assert.ok(p95 > 0.88 && p95 <= 1, `p95 ≈ 0.95 (${p95})`);
    assert.equal(s.p50.at(-2), null, "nothing ran the minute before");
    assert.equal(percentile([], 0.5), null);
    assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
  });

  it("keeps an hour of queue depth samples", () => {
    const d = new DepthHistory(60);
    for (let i = 0; i < 100; i++) d.add("celery", i * 60, i);
    assert.equal(d.all().celery!.length, 60);
    assert.equal(d.all().celery![0]!.depth, 40);
  });
});
