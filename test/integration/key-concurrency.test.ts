/**
 * Per-key concurrency on real NATS and Redis: `keyConcurrency: 1` with 2 workers × 8 slots never
 * runs two tasks of one key at once, and a key sent behind another key's backlog is not stuck
 * behind it (the waiting tasks hold no slot).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { testApp } from "../helpers.ts";

describe("per-key concurrency", () => {
  const t = testApp({ prefix: "keyc" });
  const runs: { key: string; label: string; start: number; end: number }[] = [];
  t.app.task({ name: "tenantJob", bind: true, keyConcurrency: 1 }, async (ctx, label: string) => {
    const run = { key: label[0]!, label, start: Date.now(), end: Infinity };
    runs.push(run);
    await new Promise((r) => setTimeout(r, 300));
    run.end = Date.now();
    return ctx.hostname;
  });
  const workers = [1, 2].map((i) => t.app.worker({ concurrency: 8, hostname: `w${i}_${t.name}@test` }));

  after(async () => {
    for (const w of workers) await w.stop();
    await t.dispose();
  });

  it("20 A's and then 2 B's: never two A's at once, both B's done before the 5th A starts", async () => {
    for (const w of workers) await w.start();
    const as = await Promise.all(Array.from({ length: 20 }, (_, i) => t.app.sendTask("tenantJob", [`A${i}`], { concurrencyKey: "A" })));
    const bs = await Promise.all(["B0", "B1"].map((label) => t.app.sendTask("tenantJob", [label], { concurrencyKey: "B" })));
    await Promise.all(bs.map((r) => r.get({ timeout: 30 })));
    const bDone = Math.max(...runs.filter((r) => r.key === "B").map((r) => r.end));
    const hosts = new Set(await Promise.all(as.map((r) => r.get({ timeout: 60 }))));
    const aRuns = runs.filter((r) => r.key === "A").sort((x, y) => x.start - y.start);
    assert.equal(aRuns.length, 20, "each A ran once");
    for (let i = 1; i < aRuns.length; i++) {
      assert.ok(aRuns[i]!.start >= aRuns[i - 1]!.end, `${aRuns[i]!.label} started before ${aRuns[i - 1]!.label} ended`);
    }
    assert.ok(bDone < aRuns[4]!.start, `the B's finished ${bDone - aRuns[4]!.start} ms after the 5th A started`);
    assert.equal(hosts.size, 2, "both workers ran A's: the permit is cluster-wide");
  });

  it("a permit held by a worker that died (never renewed nor released) frees within ack_wait", async () => {
    const d = testApp({ prefix: "keyd", broker: { ackWait: 2 } });
    const started: number[] = [];
    d.app.task({ name: "job", keyConcurrency: 1 }, () => void started.push(Date.now()));
    const w = d.app.worker({ concurrency: 2, hostname: `${d.name}@test` });
    try {
      await w.start();
      // What a SIGKILLed worker leaves: a permit taken with the ack_wait lease, then silence.
      const backend = await d.app.backend();
      const takenAt = Date.now();
      assert.equal(await backend.permitAcquire("job:K", "dead-worker-task", 1, 2_000), true);
      const r = await d.app.sendTask("job", [], { concurrencyKey: "K" });
      await r.get({ timeout: 15 });
      assert.ok(started[0]! >= takenAt + 1_800, `it waited for the lease (started ${started[0]! - takenAt} ms after)`);
    } finally {
      await w.stop();
      await d.dispose();
    }
  });

  it("a key on a task without keyConcurrency is refused by name", async () => {
    t.app.task("plain", () => 1);
    await assert.rejects(t.app.sendTask("plain", [], { concurrencyKey: "x" }), /concurrencyKey/);
  });
});
