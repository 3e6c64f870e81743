/**
 * A task's round trip through real NATS JetStream and Redis: calling verbs, results, states.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { State, TaskError, TimeoutError, type Worker } from "celeriac";
import { type TestApp, testApp, uniqueName, waitFor } from "../helpers.ts";

describe("round trip", () => {
  let t: TestApp;
  let worker: Worker;
  const seen: { id: string; headers: Record<string, string>; kwargs: unknown; rootId: string; parentId?: string }[] = [];
  let running = 0;
  let maxRunning = 0;

  before(async () => {
    t = testApp({ prefix: "rt", taskRoutes: { "routed.*": { queue: "other" } } });
    const { app } = t;
    app.task("add", (a: number, b: number) => a + b);
    app.task("echo", (v: unknown) => v);
    app.task("boom", () => {
      throw new RangeError("out of range");
    });
    app.task({ name: "ctx", bind: true }, (ctx) => {
      seen.push({ id: ctx.id, headers: { ...ctx.headers }, kwargs: ctx.kwargs, rootId: ctx.rootId, parentId: ctx.parentId });
      return { id: ctx.id, retries: ctx.retries, hostname: ctx.hostname, queue: ctx.queue };
    });
    app.task("routed.x", () => "routed");
    app.task({ name: "tracked", bind: true, trackStarted: true }, async (ctx, until: string) => {
      await waitFor(async () => (await app.AsyncResult(until).state()) === State.SUCCESS, { timeoutMs: 10_000 });
      return ctx.id;
    });
    app.task({ name: "progress", bind: true }, async (ctx, release: string) => {
      await ctx.updateState("PROGRESS", { done: 1, total: 2 });
      await waitFor(async () => (await app.AsyncResult(release).state()) === State.SUCCESS, { timeoutMs: 10_000 });
      return "done";
    });
    app.task("slow", async (ms: number) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return ms;
    });
    app.task({ name: "parent", bind: true }, async (_ctx) => {
      const child = await app.sendTask("ctx", [], { headers: { "x-from": "parent" } });
      return child.id;
    });
    app.task({ name: "early", acksLate: false }, () => "early");
    worker = app.worker({ queues: ["celery", "other"], concurrency: 4 });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
  });

  it("delay → get returns the result", async () => {
    const add = t.app.tasks.get("add")!;
    const r = await add.delay(2, 3);
    assert.equal(await r.get({ timeout: 10 }), 5);
    assert.equal(await r.state(), State.SUCCESS);
    assert.equal(await r.ready(), true);
    assert.equal(await r.successful(), true);
    assert.equal(await r.failed(), false);
    assert.equal(await r.info(), 5);
  });

  it("Dates, BigInt, Uint8Array, Map and Set survive as args and results", async () => {
    const value = { d: new Date(1_700_000_000_000), b: 2n ** 64n + 1n, u: new Uint8Array([9, 8]), m: new Map([["k", new Set([1n])]]) };
    const r = await t.app.sendTask("echo", [value]);
    const out = await r.get({ timeout: 10 });
    assert.deepEqual(out, value);
  });

  it("a failure comes back as TaskError with the remote type and traceback; propagate: false returns it", async () => {
    const r = await t.app.sendTask("boom");
    await assert.rejects(r.get({ timeout: 10 }), (e: unknown) => {
      assert.ok(e instanceof TaskError);
      assert.equal(e.remoteType, "RangeError");
      assert.equal(e.state, State.FAILURE);
      assert.match(e.message, /out of range/);
      assert.match(e.traceback ?? "", /RangeError: out of range/);
      return true;
    });
    const err = await r.get({ timeout: 10, propagate: false });
    assert.ok(err instanceof TaskError);
    assert.equal(await r.failed(), true);
    assert.match((await r.traceback()) ?? "", /out of range/);
  });

  it("applyAsync: taskId, headers, kwargs; the context carries them", async () => {
    const id = uniqueName("id");
    const r = await t.app.sendTask("ctx", [], { taskId: id, headers: { "x-tenant": "acme" }, kwargs: { k: 1 } });
    assert.equal(r.id, id);
    const out = (await r.get({ timeout: 10 })) as { id: string; retries: number; queue: string };
    assert.equal(out.id, id);
    assert.equal(out.retries, 0);
    assert.equal(out.queue, "celery");
    const s = seen.find((x) => x.id === id)!;
    assert.deepEqual(s.headers, { "x-tenant": "acme" });
    assert.deepEqual(s.kwargs, { k: 1 });
    assert.equal(s.rootId, id);
  });

  it("a second send with the same taskId is dropped as a duplicate and runs once", async () => {
    const id = uniqueName("dup");
    await t.app.sendTask("add", [1, 1], { taskId: id });
    await t.app.sendTask("add", [1, 1], { taskId: id });
    assert.equal(await t.app.AsyncResult(id).get({ timeout: 10 }), 2);
    const broker = await t.app.broker();
    await waitFor(async () => (await broker.queueStats("celery")).pending === 0, { what: "queue drained" });
  });

  it("routes by glob and by explicit queue", async () => {
    const r = await t.app.sendTask("routed.x");
    assert.equal(await r.get({ timeout: 10 }), "routed");
    const r2 = await t.app.sendTask("ctx", [], { queue: "other" });
    assert.equal(((await r2.get({ timeout: 10 })) as { queue: string }).queue, "other");
  });

  it("tasks sent from inside a task are its children (parent and root ids)", async () => {
    const r = await t.app.sendTask("parent");
    const childId = (await r.get({ timeout: 10 })) as string;
    await t.app.AsyncResult(childId).get({ timeout: 10 });
    const s = seen.find((x) => x.id === childId)!;
    assert.equal(s.parentId, r.id);
    assert.equal(s.rootId, r.id);
    assert.deepEqual(s.headers, { "x-from": "parent" });
  });

  it("trackStarted writes RECEIVED/STARTED while running", async () => {
    const gate = uniqueName("gate");
    const r = await t.app.sendTask("tracked", [gate]);
    await waitFor(async () => (await r.state()) === State.STARTED, { what: "STARTED" });
    await (await t.app.backend()).store({ status: "SUCCESS", result: null, traceback: null, children: [], date_done: null, task_id: gate });
    assert.equal(await r.get({ timeout: 10 }), r.id);
  });

  it("ctx.updateState records a custom state with metadata; get() keeps waiting", async () => {
    const gate = uniqueName("gate");
    const r = await t.app.sendTask("progress", [gate]);
    await waitFor(async () => (await r.state()) === "PROGRESS", { what: "PROGRESS" });
    assert.deepEqual(await r.info(), { done: 1, total: 2 });
    assert.equal(await r.ready(), false);
    await (await t.app.backend()).store({ status: "SUCCESS", result: null, traceback: null, children: [], date_done: null, task_id: gate });
    assert.equal(await r.get({ timeout: 10 }), "done");
  });

  it("ignoreResult stores nothing", async () => {
    const r = await t.app.sendTask("add", [1, 2], { ignoreResult: true });
    const control = await t.app.sendTask("add", [0, 0]);
    await control.get({ timeout: 10 });
    await waitFor(async () => (await (await t.app.broker()).queueStats("celery")).inFlight === 0, { what: "queue idle" });
    assert.equal(await r.state(), State.PENDING);
  });

  it("an expired task is not run: REVOKED with reason expired", async () => {
    const r = await t.app.sendTask("add", [1, 2], { expires: new Date(Date.now() - 1000) });
    const err = await r.get({ timeout: 10, propagate: false });
    assert.ok(err instanceof TaskError);
    assert.equal(err.state, State.REVOKED);
    assert.match(err.message, /expired/);
  });

  it("get() times out with TimeoutError, naming the task", async () => {
    const r = t.app.AsyncResult(uniqueName("never"));
    await assert.rejects(r.get({ timeout: 0.2 }), (e: unknown) => e instanceof TimeoutError && e.message.includes(r.id));
  });

  it("a get() timeout of 10 s or more (ended by the hub's tick, not a timer) rejects, and not early", async () => {
    const r = t.app.AsyncResult(uniqueName("never-long"));
    const t0 = Date.now();
    await assert.rejects(r.get({ timeout: 10 }), (e: unknown) => e instanceof TimeoutError && e.message.includes(r.id));
    const waited = Date.now() - t0;
    assert.ok(waited >= 10_000, `rejected after ${waited} ms of a 10 s timeout`);
  });

  it("get() answers from the backend when this client published nothing (notice not ours)", async () => {
    const r = await t.app.sendTask("add", [20, 22]);
    await r.get({ timeout: 10 });
    const other = testApp({ name: t.name, resultKeyPrefix: t.keyPrefix });
    try {
      assert.equal(await other.app.AsyncResult(r.id).get({ timeout: 5 }), 42);
    } finally {
      await other.app.close(); // not dispose: the streams belong to the first app
    }
  });

  it("forget() removes the result", async () => {
    const r = await t.app.sendTask("add", [1, 1]);
    await r.get({ timeout: 10 });
    await r.forget();
    assert.equal(await r.state(), State.PENDING);
  });

  it("never runs more tasks at once than its concurrency", async () => {
    const rs = await Promise.all(Array.from({ length: 12 }, () => t.app.sendTask("slow", [60])));
    await Promise.all(rs.map((r) => r.get({ timeout: 20 })));
    assert.ok(maxRunning <= 4, `ran ${maxRunning} at once with concurrency 4`);
    assert.ok(maxRunning >= 2, `expected parallelism, saw ${maxRunning}`);
  });

  it("acksLate: false acks on receipt and still stores the result", async () => {
    assert.equal(await (await t.app.sendTask("early")).get({ timeout: 10 }), "early");
  });

  it("invalid arguments name the argument", async () => {
    await assert.rejects(t.app.sendTask("add", [1], { queue: "bad queue" }), /queue/);
    await assert.rejects(t.app.sendTask("add", [1], { headers: { id: "x" } }), /headers: header "id" is reserved/);
    await assert.rejects(t.app.sendTask("add", "nope" as never), /args: must be an array/);
    await assert.rejects(t.app.AsyncResult("x").get({ timeout: -1 }), /timeout/);
    // A timer longer than 2^31 − 1 ms would fire at once: refused, while Infinity waits forever.
    await assert.rejects(t.app.AsyncResult("x").get({ timeout: 30 * 86_400 }), /timeout: must be at most/);
    assert.equal(await (await t.app.sendTask("early")).get({ timeout: Infinity }), "early");
  });
});
