/**
 * Remote control and inspection on real NATS and Redis: two workers answer, revocations hold for
 * workers started later, terminate aborts a running task and the worker keeps serving, rate
 * limits, pool size, consumers, events on and off, shutdown, and the registry.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CeleriacEvent, State, TaskError, watchEvents, type Worker, workerStatus } from "celeriac";
import { type TestApp, testApp, uniqueName, waitFor } from "../helpers.ts";

describe("remote control", () => {
  let t: TestApp;
  let w1: Worker;
  let w2: Worker;
  const runs = new Map<string, number>();
  const aborted: string[] = [];
  const lateUpdates = new Map<string, string>();
  const starts: number[] = [];

  before(async () => {
    t = testApp({ prefix: "ctl" });
    const { app } = t;
    app.task({ name: "count", bind: true }, (ctx) => {
      runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
      return ctx.hostname;
    });
    // Runs until its signal aborts (terminate), then keeps running a little: the worker must not wait.
    app.task({ name: "forever", bind: true }, async (ctx) => {
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      aborted.push(ctx.id);
      // A handler that ignores the abort and still reports progress must not replace REVOKED.
      lateUpdates.set(ctx.id, await ctx.updateState("PROGRESS", { late: true }).then(() => "stored", (e: Error) => e.name));
      await new Promise((r) => setTimeout(r, 60_000).unref?.());
      return "never stored";
    });
    app.task({ name: "limited", rateLimit: "5/s" }, () => {
      starts.push(Date.now());
      return true;
    });
    w1 = app.worker({ hostname: "w1@ctl", concurrency: 4, heartbeatInterval: 0.2 });
    w2 = app.worker({ hostname: "w2@ctl", concurrency: 4, heartbeatInterval: 0.2 });
    await Promise.all([w1.start(), w2.start()]);
  });

  after(async () => {
    await Promise.all([w1.stop({ grace: 0 }), w2.stop({ grace: 0 })]);
    await t.dispose();
  });

  it("two workers answer inspect ping, keyed by name; -d targets one", async () => {
    assert.deepEqual(await t.app.control.ping({ timeout: 5, limit: 2 }), { "w1@ctl": { ok: "pong" }, "w2@ctl": { ok: "pong" } });
    assert.deepEqual(await t.app.control.ping({ destination: ["w2@ctl"], timeout: 5 }), { "w2@ctl": { ok: "pong" } });
  });

  it("registered, active-queues, stats, scheduled", async () => {
    const reg = await t.app.control.registered({ destination: ["w1@ctl"] });
    assert.deepEqual(reg["w1@ctl"], ["count", "forever", "limited"]);
    const q = (await t.app.control.activeQueues({ destination: ["w1@ctl"] }))["w1@ctl"] as { name: string; consumer: string }[];
    assert.deepEqual(q.map((x) => [x.name, x.consumer]), [["celery", "q_celery"]]);
    await (await t.app.sendTask("count", [], { queue: "celery" })).get({ timeout: 10 });
    const stats = await t.app.control.stats({ timeout: 5, limit: 2 });
    const s1 = stats["w1@ctl"] as { pool: Record<string, number>; pid: number; total: Record<string, number> };
    assert.equal(s1.pool["max-concurrency"], 4);
    assert.equal(typeof s1.pid, "number");
    const counted = Object.values(stats).reduce<number>((n, s) => n + ((s as { total: Record<string, number> }).total.count ?? 0), 0);
    assert.ok(counted >= 1, "stats.total counts settled tasks");
    assert.deepEqual(await t.app.control.scheduled({ destination: ["w1@ctl"] }), { "w1@ctl": [] });
    // Gossip: each hears the other's heartbeats.
    await waitFor(async () => {
      const s = (await t.app.control.stats({ destination: ["w1@ctl"] }))["w1@ctl"] as { peers: Record<string, string> };
      return s.peers["w2@ctl"] === "online";
    }, { what: "w1 hears w2" });
  });

  it("a task revoked before any worker runs it is recorded REVOKED and never runs", async () => {
    const id = uniqueName("revoked");
    await t.app.AsyncResult(id).revoke(); // Celery's AsyncResult.revoke(): the same control path
    await waitFor(async () => {
      const known = await t.app.control.revoked({ timeout: 0.3 });
      return (known["w1@ctl"] ?? []).includes(id) && (known["w2@ctl"] ?? []).includes(id);
    }, { what: "both workers know the revocation" });
    const r = await t.app.sendTask("count", [], { taskId: id });
    const err = await r.get({ timeout: 10, propagate: false });
    assert.ok(err instanceof TaskError);
    assert.equal(err.state, State.REVOKED);
    assert.equal(runs.get(id), undefined, "it never ran");
  });

  it("a worker started after the revoke still refuses the task (synced from KV at start)", async () => {
    const id = uniqueName("late");
    const other = testApp({ prefix: "ctl2" });
    const ran: string[] = [];
    other.app.task({ name: "count", bind: true }, (ctx) => void ran.push(ctx.id));
    try {
      await other.app.revoke(id); // what AsyncResult.revoke() does
      await other.app.sendTask("count", [], { taskId: id });
      const w = other.app.worker({ concurrency: 2 });
      await w.start();
      try {
        await other.app.AsyncResult(id).get({ timeout: 10, propagate: false });
        assert.equal(await other.app.AsyncResult(id).state(), State.REVOKED);
        assert.deepEqual(ran, []);
      } finally {
        await w.stop();
      }
    } finally {
      await other.dispose();
    }
  });

  it("terminate aborts a running task's signal, records REVOKED, frees the slot, and the worker keeps serving", async () => {
    const r = await t.app.sendTask("forever");
    const where = await waitFor(async () => {
      const active = await t.app.control.active({ timeout: 0.3 });
      return Object.entries(active).find(([, tasks]) => (tasks as { id: string }[]).some((x) => x.id === r.id));
    }, { what: "task active on a worker" });
    const q = await t.app.control.queryTask(r.id, { destination: [where[0]] });
    assert.equal((q[where[0]] as Record<string, [string]>)[r.id]![0], "active");
    const reply = await t.app.control.revoke(r.id, { terminate: true, timeout: 1 });
    assert.match(JSON.stringify(reply[where[0]]), /terminated/);
    const err = await r.get({ timeout: 10, propagate: false });
    assert.ok(err instanceof TaskError);
    assert.equal(err.state, State.REVOKED);
    assert.match(err.message, /terminated/);
    await waitFor(() => aborted.includes(r.id), { what: "ctx.signal aborted" });
    await waitFor(() => lateUpdates.has(r.id), { what: "the handler's late updateState" });
    assert.equal(lateUpdates.get(r.id), "TaskRevokedError", "updateState after terminate is refused");
    assert.equal(await r.state(), State.REVOKED, "a late progress update replaced REVOKED");
    const worker = where[0] === "w1@ctl" ? w1 : w2;
    await waitFor(() => worker.active === 0, { what: "slot freed although the handler still runs" });
    const next = await t.app.sendTask("count", [], { queue: "celery" });
    assert.match(String(await next.get({ timeout: 10 })), /@ctl$/);
  });

  it("rate limit: starts are spaced by the limit, and rate-limit changes it at runtime", async () => {
    starts.length = 0;
    const rs = await Promise.all(Array.from({ length: 4 }, () => t.app.sendTask("limited")));
    await Promise.all(rs.map((r) => r.get({ timeout: 20 })));
    // Two workers, each with its own 5/s bucket: per worker, starts are ≥ 200 ms apart, so four
    // starts need at least ~200 ms in all (generous lower bound; no upper bound).
    const sorted = [...starts].sort((a, b) => a - b);
    assert.ok(sorted.at(-1)! - sorted[0]! >= 150, `4 starts within ${sorted.at(-1)! - sorted[0]!} ms`);
    const reply = await t.app.control.rateLimit("limited", null, { timeout: 1 });
    assert.deepEqual(reply["w1@ctl"], { ok: "rate limit disabled successfully" });
    const bad = await t.app.control.rateLimit("nope", "1/s", { destination: ["w1@ctl"] });
    assert.match(JSON.stringify(bad), /unknown task nope/);
  });

  it("pool-grow and pool-shrink change the slots", async () => {
    await t.app.control.poolGrow(2, { destination: ["w1@ctl"] });
    assert.equal(w1.concurrency, 6);
    await t.app.control.poolShrink(3, { destination: ["w1@ctl"] });
    assert.equal(w1.concurrency, 3);
    const stats = await t.app.control.stats({ destination: ["w1@ctl"] });
    assert.equal((stats["w1@ctl"] as { pool: Record<string, number> }).pool["max-concurrency"], 3);
  });

  it("add-consumer starts consuming a queue, cancel-consumer stops", async () => {
    const r = await t.app.sendTask("count", [], { queue: "extra" });
    await t.app.control.addConsumer("extra", { destination: ["w2@ctl"] });
    assert.deepEqual([...w2.queues], ["celery", "extra"]);
    assert.equal(await r.get({ timeout: 10 }), "w2@ctl");
    await t.app.control.cancelConsumer("extra", { destination: ["w2@ctl"] });
    assert.deepEqual([...w2.queues], ["celery"]);
    await t.app.sendTask("count", [], { queue: "extra" });
    const broker = await t.app.broker();
    await waitFor(async () => (await broker.queueStats("extra")).pending === 1, { what: "the task waits: nobody consumes extra" });
  });

  it("enable-events / disable-events switch task events at runtime", async () => {
    const broker = await t.app.broker();
    const seen: CeleriacEvent[] = [];
    const off = watchEvents(broker, t.app.config.names, (e) => seen.push(e));
    try {
      await t.app.control.enableEvents({ timeout: 5, limit: 2 });
      assert.equal(w1.taskEvents && w2.taskEvents, true);
      const r = await t.app.sendTask("count");
      await r.get({ timeout: 10 });
      await waitFor(() => seen.some((e) => e.type === "task-succeeded" && e.uuid === r.id), { what: "task-succeeded event" });
      await t.app.control.disableEvents({ timeout: 5, limit: 2 });
      assert.equal(w1.taskEvents || w2.taskEvents, false);
    } finally {
      off();
    }
  });

  it("the registry lists both workers online; shutdown stops a worker, which then shows offline", async () => {
    const broker = await t.app.broker();
    const before = await workerStatus(broker, t.app.config.names);
    assert.deepEqual(before.filter((w) => w.hostname.endsWith("@ctl")).map((w) => [w.hostname, w.status]), [["w1@ctl", "online"], [
      "w2@ctl",
      "online",
    ]]);
    const reply = await t.app.control.shutdown({ destination: ["w2@ctl"] });
    assert.deepEqual(reply, { "w2@ctl": { ok: "shutdown signal sent" } });
    await waitFor(() => w2.state === "stopped", { what: "w2 stopped" });
    const after = await workerStatus(broker, t.app.config.names);
    const w = after.find((x) => x.hostname === "w2@ctl")!;
    assert.equal(w.status, "offline");
    assert.equal(w.reason, "stopped");
  });
});
