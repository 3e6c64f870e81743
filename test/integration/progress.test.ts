/**
 * Progress to the caller: `ctx.progress` and custom states reach `get({ onProgress })` and
 * `r.progress()` as events over the result subscription (real NATS and Redis).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { State, TaskError, type Worker } from "celeriac";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

/** Tasks wait at their gate (opened by the test once it listens), so no event precedes the listener. */
const gates = new Map<string, Promise<void>>();
function gate(): { id: string; open: () => void } {
  const id = crypto.randomUUID();
  let open = () => {};
  gates.set(id, new Promise<void>((r) => (open = r)));
  return { id, open };
}

describe("progress", () => {
  let t: TestApp;
  let worker: Worker;
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));

  before(async () => {
    t = testApp({ prefix: "pg" });
    const { app } = t;
    app.task({ name: "steps", bind: true }, async (ctx, n: number) => {
      await gates.get(ctx.id);
      for (let i = 1; i <= n; i++) await ctx.progress({ done: i, total: n });
      return n;
    });
    app.task({ name: "hold", bind: true }, async (ctx) => {
      await ctx.progress("half way");
      await held;
      return "done";
    });
    app.task({ name: "custom", bind: true }, async (ctx) => {
      await gates.get(ctx.id);
      await ctx.updateState("DOWNLOADING", { bytes: 10 });
      await ctx.updateState(State.STARTED, { ignored: true }); // a built-in state is not progress
      throw new Error("broken download");
    });
    worker = app.worker({ concurrency: 4 });
    await worker.start();
  });

  after(async () => {
    release();
    await worker.stop();
    await t.dispose();
  });

  it("get({ onProgress }) receives every step in order, then the result", async () => {
    const steps = t.app.tasks.get("steps")!;
    const seen: unknown[] = [];
    const g = gate();
    const r = await steps.applyAsync([5], { taskId: g.id });
    const got = r.get({ timeout: 10, onProgress: (v, state) => seen.push([state, v]) });
    g.open();
    const value = await got;
    assert.equal(value, 5);
    assert.deepEqual(seen, [1, 2, 3, 4, 5].map((i) => ["PROGRESS", { done: i, total: 5 }]));
  });

  it("a caller that listens late still gets every step of a task it sent, even once it finished", async () => {
    const r = await t.app.tasks.get("steps")!.applyAsync([4]); // no gate: it may well finish first
    await waitFor(async () => (await r.state()) === State.SUCCESS, { what: "the task to finish" });
    const seen: unknown[] = [];
    assert.equal(await r.get({ timeout: 10, onProgress: (v) => seen.push(v) }), 4);
    assert.deepEqual(seen, [1, 2, 3, 4].map((i) => ({ done: i, total: 4 })));
  });

  it("r.progress() yields the events and ends when the task is ready", async () => {
    const g = gate();
    const r = await t.app.tasks.get("steps")!.applyAsync([3], { taskId: g.id });
    const seen: unknown[] = [];
    const iterating = (async () => {
      for await (const v of r.progress({ timeout: 10 })) seen.push(v);
    })();
    g.open(); // the iteration listens from its first next(), called above

    await iterating;
    assert.deepEqual(seen, [1, 2, 3].map((i) => ({ done: i, total: 3 })));
    assert.equal(await r.get({ timeout: 10 }), 3);
  });

  it("the last progress is readable after the fact with r.info(), and progress() starts from it", async () => {
    const r = await t.app.tasks.get("hold")!.applyAsync();
    await waitFor(async () => (await r.state()) === "PROGRESS", { what: "the PROGRESS state" });
    assert.equal(await r.info(), "half way");
    const it = r.progress({ timeout: 10 });
    assert.deepEqual(await it.next(), { value: "half way", done: false });
    release();
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.equal(await r.get({ timeout: 10 }), "done");
  });

  it("leaving r.progress() early leaves no waiter behind", async () => {
    const g = gate();
    const r = await t.app.tasks.get("steps")!.applyAsync([3], { taskId: g.id });
    g.open();
    for await (const v of r.progress({ timeout: 10 })) {
      assert.deepEqual(v, { done: 1, total: 3 });
      break;
    }
    assert.equal(t.app.hub().waiting, 0);
    assert.equal(await r.get({ timeout: 10 }), 3);
  });

  it("a custom updateState reaches onProgress with its state (Celery's on_message); built-in states do not", async () => {
    const seen: unknown[] = [];
    const g = gate();
    const r = await t.app.sendTask("custom", [], { taskId: g.id });
    const got = r.get({ timeout: 10, onProgress: (v, state) => seen.push([state, v]) });
    g.open();
    await assert.rejects(got, TaskError);
    assert.deepEqual(seen, [["DOWNLOADING", { bytes: 10 }]]);
  });

  it("a listener that throws changes nothing", async () => {
    const g = gate();
    const r = await t.app.tasks.get("steps")!.applyAsync([2], { taskId: g.id });
    let calls = 0;
    const got = r.get({
      timeout: 10,
      onProgress: () => {
        calls++;
        throw new Error("listener bug");
      },
    });
    g.open();
    assert.equal(await got, 2);
    assert.equal(calls, 2);
  });

  it("refuses an onProgress that is not a function, naming it", async () => {
    const r = t.app.AsyncResult("x");
    await assert.rejects(r.get({ onProgress: 5 as never }), /onProgress/);
  });
});
