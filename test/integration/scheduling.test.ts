/**
 * Time on real NATS + Redis: countdown and ETA (never early, promptly after), expiry, retry delays,
 * delayed tasks that never occupy a worker, and the mover's exactly-once moves.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { State, TaskError, type Worker } from "celeriac";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

describe("scheduling", () => {
  let t: TestApp;
  let worker: Worker;
  const startedAt = new Map<string, number[]>();
  const runs = new Map<string, number>();
  const note = (id: string) => startedAt.set(id, [...(startedAt.get(id) ?? []), Date.now()]);

  before(async () => {
    t = testApp({ prefix: "sched" });
    const { app } = t;
    app.task({ name: "stamp", bind: true }, (ctx) => {
      note(ctx.id);
      runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
      return Date.now();
    });
    app.task({ name: "backoff", bind: true, maxRetries: 3, autoretryFor: [Error], retryBackoff: 0.2, retryJitter: false }, (ctx) => {
      note(ctx.id);
      if (ctx.retries < 3) throw new Error(`attempt ${ctx.retries}`);
      return ctx.retries;
    });
    app.task({ name: "defaultDelay", bind: true, defaultRetryDelay: 0.3 }, (ctx) => {
      note(ctx.id);
      if (ctx.retries === 0) throw ctx.retry();
      return "second";
    });
    app.task({ name: "retryPastExpiry", bind: true }, (ctx) => {
      note(ctx.id);
      throw ctx.retry({ countdown: 0.6 });
    });
    worker = app.worker({ concurrency: 8 });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
  });

  it("countdown: never before its time, promptly after", async () => {
    const sent = Date.now();
    const rs = await Promise.all([0.3, 0.8, 1.2].map((s) => t.app.sendTask<number>("stamp", [], { countdown: s })));
    const ran = await Promise.all(rs.map((r) => r.get({ timeout: 10 })));
    [0.3, 0.8, 1.2].forEach((s, i) => {
      const late = ran[i]! - (sent + s * 1000);
      assert.ok(late >= 0, `ran ${-late} ms early`);
      assert.ok(late < 3_000, `ran ${late} ms late`);
    });
  });

  it("eta as a Date", async () => {
    const eta = new Date(Date.now() + 700);
    const r = await t.app.sendTask<number>("stamp", [], { eta });
    const ran = await r.get({ timeout: 10 });
    assert.ok(ran >= eta.getTime(), "not before the ETA");
    assert.equal(await r.state(), State.SUCCESS);
  });

  it("a task that expires while it waits in the delayed store is not run: REVOKED (expired)", async () => {
    const r = await t.app.sendTask("stamp", [], { countdown: 0.6, expires: 0.3 });
    const err = await r.get({ timeout: 10, propagate: false });
    assert.ok(err instanceof TaskError && err.state === State.REVOKED, String(err));
    assert.match(err.message, /expired/);
    assert.equal(runs.get(r.id), undefined);
  });

  it("a task received and retried past its expiry is REVOKED (expired) on its next attempt", async () => {
    const r = await t.app.sendTask("retryPastExpiry", [], { expires: 0.4 });
    const err = await r.get({ timeout: 10, propagate: false });
    assert.ok(err instanceof TaskError && err.state === State.REVOKED, String(err));
    assert.equal(startedAt.get(r.id)?.length, 1, "ran once, then expired");
  });

  it("retry backoff: attempts wait 0.2, 0.4, 0.8 s (no jitter), same id, RETRY between", async () => {
    const r = await t.app.sendTask("backoff");
    await waitFor(async () => (await r.state()) === State.RETRY, { what: "RETRY state" });
    assert.equal(await r.get({ timeout: 15 }), 3);
    const ts = startedAt.get(r.id)!;
    assert.equal(ts.length, 4);
    [200, 400, 800].forEach((want, i) => {
      const gap = ts[i + 1]! - ts[i]!;
      assert.ok(gap >= want - 5, `retry ${i + 1} came after ${gap} ms, before its ${want} ms`);
    });
  });

  it("ctx.retry() without a countdown waits defaultRetryDelay", async () => {
    const r = await t.app.sendTask("defaultDelay");
    assert.equal(await r.get({ timeout: 10 }), "second");
    const ts = startedAt.get(r.id)!;
    assert.ok(ts[1]! - ts[0]! >= 295, `second attempt after ${ts[1]! - ts[0]!} ms`);
  });

  it("10,000 delayed tasks wait in the broker: the worker's queue stays free for immediate tasks", async () => {
    const far = Date.now() + 600_000;
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i += 500) {
      const batch = await Promise.all(Array.from({ length: 500 }, () => t.app.sendTask("stamp", [], { eta: far, ignoreResult: true })));
      ids.push(...batch.map((r) => r.id));
    }
    const broker = await t.app.broker();
    assert.ok((await broker.delayedStats()).messages >= 10_000);
    const q = await broker.queueStats("celery");
    assert.equal(q.pending + q.inFlight, 0, "none of them is in the queue or held by a worker");
    const rs = await Promise.all(Array.from({ length: 300 }, () => t.app.sendTask<number>("stamp")));
    const done = await Promise.all(rs.map((r) => r.get({ timeout: 30 })));
    assert.equal(done.length, 300);
    assert.ok(ids.every((id) => !runs.has(id)), "no delayed task ran early");
  });

  it("a move interrupted before its bucket is emptied, then repeated by another mover: each task runs once", async () => {
    const other = testApp({ name: t.name, resultKeyPrefix: t.keyPrefix });
    try {
      const due = Date.now() + 300;
      const rs = await Promise.all(Array.from({ length: 20 }, () => t.app.sendTask("stamp", [], { eta: due })));
      await waitFor(() => Date.now() > due + 150, { what: "the due time to pass" });
      const broker = await other.app.broker();
      // "other" plays a mover that dies after publishing, before emptying the bucket...
      await broker.moveDue(Date.now(), {
        beforePurge: () => {
          throw new Error("mover killed");
        },
      }).catch(() => {});
      // ...while the worker's own mover (and this second one) repeat the move.
      await Promise.all([broker.moveDue(Date.now()), (await t.app.broker()).moveDue(Date.now())]);
      await Promise.all(rs.map((r) => r.get({ timeout: 15 })));
      await waitFor(async () => (await (await t.app.broker()).queueStats("celery")).pending === 0, { what: "queue drained" });
      assert.deepEqual(rs.map((r) => runs.get(r.id)), Array(20).fill(1));
    } finally {
      await other.app.close();
    }
  });
});
