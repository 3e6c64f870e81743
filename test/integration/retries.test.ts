/**
 * Retries (immediate here; delays arrive with the scheduling engine): ctx.retry, autoretryFor,
 * maxRetries, same id across attempts, RETRY between attempts, FAILURE when retries run out.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { State, TaskError, type Worker } from "celeriac";
import { type TestApp, testApp, uniqueName, waitFor } from "../helpers.ts";

describe("retries", () => {
  let t: TestApp;
  let worker: Worker;
  const attempts = new Map<string, number[]>();
  const note = (id: string, retries: number) => attempts.set(id, [...(attempts.get(id) ?? []), retries]);

  before(async () => {
    t = testApp({ prefix: "retry" });
    const { app } = t;
    app.task({ name: "flaky", bind: true, maxRetries: 5 }, (ctx, failures: number) => {
      note(ctx.id, ctx.retries);
      if (ctx.retries < failures) throw ctx.retry({ countdown: 0, exc: new Error(`attempt ${ctx.retries}`) });
      return ctx.retries;
    });
    app.task({ name: "always", bind: true, maxRetries: 2 }, (ctx) => {
      note(ctx.id, ctx.retries);
      throw ctx.retry({ countdown: 0, exc: new TypeError(`still failing at ${ctx.retries}`) });
    });
    app.task({ name: "noexc", bind: true, maxRetries: 1 }, (ctx) => {
      throw ctx.retry({ countdown: 0 });
    });
    app.task({ name: "auto", bind: true, autoretryFor: [TypeError], maxRetries: 3, defaultRetryDelay: 0 }, (ctx, failures: number) => {
      note(ctx.id, ctx.retries);
      if (ctx.retries < failures) throw new TypeError("transient");
      return "ok";
    });
    app.task({ name: "notauto", bind: true, autoretryFor: [TypeError], defaultRetryDelay: 0 }, (ctx) => {
      note(ctx.id, ctx.retries);
      throw new RangeError("permanent");
    });
    app.task({ name: "gated", bind: true, maxRetries: 3 }, async (ctx, gate: string) => {
      note(ctx.id, ctx.retries);
      if (ctx.retries === 0) throw ctx.retry({ countdown: 0, exc: new Error("first") });
      await waitFor(async () => (await app.AsyncResult(gate).state()) === State.SUCCESS, { timeoutMs: 10_000 });
      return "second";
    });
    worker = app.worker({ concurrency: 4 });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
  });

  it("ctx.retry runs the task again with the same id and a growing ctx.retries", async () => {
    const r = await t.app.sendTask("flaky", [3]);
    assert.equal(await r.get({ timeout: 10 }), 3);
    assert.deepEqual(attempts.get(r.id), [0, 1, 2, 3]);
  });

  it("when retries run out the task fails with the last error", async () => {
    const r = await t.app.sendTask("always");
    const err = await r.get({ timeout: 10, propagate: false });
    assert.ok(err instanceof TaskError);
    assert.equal(err.remoteType, "TypeError");
    assert.match(err.message, /still failing at 2/);
    assert.deepEqual(attempts.get(r.id), [0, 1, 2]);
  });

  it("without an error, running out of retries is MaxRetriesExceededError", async () => {
    const err = await (await t.app.sendTask("noexc")).get({ timeout: 10, propagate: false });
    assert.ok(err instanceof TaskError);
    assert.equal(err.remoteType, "MaxRetriesExceededError");
  });

  it("autoretryFor retries matching errors only", async () => {
    const r = await t.app.sendTask("auto", [2]);
    assert.equal(await r.get({ timeout: 10 }), "ok");
    assert.deepEqual(attempts.get(r.id), [0, 1, 2]);
    const r2 = await t.app.sendTask("notauto");
    const err = await r2.get({ timeout: 10, propagate: false });
    assert.ok(err instanceof TaskError && err.remoteType === "RangeError");
    assert.deepEqual(attempts.get(r2.id), [0]);
  });

  it("the state is RETRY between attempts, with the error that caused it", async () => {
    const gate = uniqueName("gate");
    const r = await t.app.sendTask("gated", [gate]);
    await waitFor(() => (attempts.get(r.id)?.length ?? 0) >= 2, { what: "second attempt" });
    const rec = await r.record();
    assert.equal(rec?.status, State.RETRY);
    assert.equal(rec?.retries, 1);
    assert.deepEqual((rec?.result as { exc_message: string[] }).exc_message, ["first"]);
    await (await t.app.backend()).store({ status: "SUCCESS", result: null, traceback: null, children: [], date_done: null, task_id: gate });
    assert.equal(await r.get({ timeout: 10 }), "second");
  });
});
