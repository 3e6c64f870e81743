/**
 * Task hooks (onSuccess, onFailure, onRetry, afterReturn) and signals, through a real worker on
 * NATS and Redis: their order, their arguments, and that an error in one changes nothing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLogger, InvalidArgumentError, State, type TaskContext, type Worker } from "celeriac";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

describe("task hooks and signals", () => {
  let t: TestApp;
  let worker: Worker;
  /** What happened, by task id, in order. */
  const seen = new Map<string, unknown[]>();
  const note = (id: string, ...what: unknown[]) => {
    const list = seen.get(id) ?? [];
    list.push(what.length === 1 ? what[0] : what);
    seen.set(id, list);
  };
  const logged: string[] = [];
  let ready: string | null = null;

  const hooks = {
    onSuccess: (ctx: TaskContext, result: unknown) => note(ctx.id, "onSuccess", result),
    onFailure: (ctx: TaskContext, error: unknown) => note(ctx.id, "onFailure", (error as Error).message),
    onRetry: (ctx: TaskContext, error: unknown) => note(ctx.id, "onRetry", (error as Error).message, ctx.retries),
    afterReturn: (ctx: TaskContext, state: string, v: unknown) => note(ctx.id, "afterReturn", state, v instanceof Error ? v.message : v),
  };

  before(async () => {
    t = testApp({ prefix: "hk" });
    const { app } = t;
    app.log = createLogger("error", { sink: (line) => logged.push(line) });
    app.task({ name: "ok", ...hooks }, (n: number) => n + 1);
    app.task({ name: "bad", ...hooks }, () => {
      throw new RangeError("bad input");
    });
    app.task({ name: "flaky", bind: true, ...hooks }, (ctx) => {
      if (ctx.retries === 0) throw ctx.retry({ countdown: 0, exc: new Error("first try") });
      return "second";
    });
    app.task({
      name: "hookBug",
      // deno-lint-ignore require-await -- async on purpose: its rejection is what is tested
      onSuccess: async () => {
        throw new Error("hook bug");
      },
      afterReturn: () => {
        throw new Error("afterReturn bug");
      },
    }, () => "kept");
    app.task({ name: "prerun", bind: true }, (ctx) => seen.get(ctx.id)?.includes("taskPrerun") ?? false);
    app.task({ name: "tenant", bind: true }, (ctx) => ctx.headers["x-tenant"] ?? null);
    app.on("taskPrerun", ({ ctx }) => note(ctx.id, "taskPrerun"));
    app.on("taskSuccess", ({ ctx, result }) => note(ctx.id, "taskSuccess", result));
    app.on("taskFailure", ({ ctx, error }) => note(ctx.id, "taskFailure", (error as Error).name));
    app.on("taskRetry", ({ ctx }) => note(ctx.id, "taskRetry"));
    app.on("taskPostrun", ({ ctx, state }) => note(ctx.id, "taskPostrun", state));
    app.on("taskRevoked", ({ id, reason }) => note(id, "taskRevoked", reason));
    app.on("afterPublish", ({ id, task }) => note(id, "afterPublish", task));
    app.on("workerReady", ({ hostname }) => void (ready = hostname));
    worker = app.worker({ concurrency: 4, hostname: "hooks@test" });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
  });

  const events = async (id: string, n: number): Promise<unknown[]> => {
    await waitFor(() => (seen.get(id)?.length ?? 0) >= n, { what: `${n} events of ${id}` });
    return seen.get(id)!;
  };
  /** Without afterPublish: the worker may start the task before the publish ack is back. */
  const worked = (list: unknown[]) => list.filter((e) => !(Array.isArray(e) && e[0] === "afterPublish"));

  it("on success: onSuccess, taskSuccess, afterReturn, taskPostrun, in that order", async () => {
    const r = await t.app.sendTask("ok", [1]);
    assert.equal(await r.get({ timeout: 10 }), 2);
    const list = await events(r.id, 6);
    assert.ok(list.some((e) => Array.isArray(e) && e[0] === "afterPublish" && e[1] === "ok"));
    assert.deepEqual(worked(list), [
      "taskPrerun",
      ["onSuccess", 2],
      ["taskSuccess", 2],
      ["afterReturn", "SUCCESS", 2],
      ["taskPostrun", "SUCCESS"],
    ]);
    assert.equal(ready, "hooks@test");
  });

  it("on failure: onFailure gets the thrown error itself", async () => {
    const r = await t.app.sendTask("bad");
    await assert.rejects(r.get({ timeout: 10 }));
    const list = await events(r.id, 6);
    assert.deepEqual(worked(list).slice(1), [
      ["onFailure", "bad input"],
      ["taskFailure", "RangeError"],
      ["afterReturn", "FAILURE", "bad input"],
      ["taskPostrun", "FAILURE"],
    ]);
  });

  it("on retry: onRetry with the cause, then the next attempt's success", async () => {
    const r = await t.app.sendTask("flaky");
    assert.equal(await r.get({ timeout: 10 }), "second");
    const list = await events(r.id, 12);
    // The next attempt is published before onRetry runs (settled first), so it may finish first.
    const hooksOnly = list.filter((e) => Array.isArray(e) && String(e[0]).startsWith("on"));
    assert.equal(hooksOnly.length, 2);
    assert.deepEqual(
      new Set(hooksOnly.map((e) => JSON.stringify(e))),
      new Set([["onRetry", "first try", 0], ["onSuccess", "second"]].map((e) => JSON.stringify(e))),
    );
    assert.ok(list.some((e) => Array.isArray(e) && e[0] === "taskPostrun" && e[1] === "RETRY"));
    assert.ok(list.includes("taskRetry"));
  });

  it("an error in a hook is logged and never changes the task's result", async () => {
    const r = await t.app.sendTask("hookBug");
    assert.equal(await r.get({ timeout: 10 }), "kept");
    await waitFor(() => logged.filter((l) => l.includes(r.id)).length >= 2, { what: "the hook errors logged" });
    assert.ok(logged.some((l) => l.includes("onSuccess hook") && l.includes("hook bug")));
    assert.ok(logged.some((l) => l.includes("afterReturn hook") && l.includes("afterReturn bug")));
    assert.equal(await r.state(), State.SUCCESS);
  });

  it("taskPrerun runs before the handler", async () => {
    const r = await t.app.sendTask("prerun");
    assert.equal(await r.get({ timeout: 10 }), true);
  });

  it("taskRevoked for a task that expired before it ran", async () => {
    const r = await t.app.sendTask("ok", [1], { expires: new Date(Date.now() - 1000) });
    await assert.rejects(r.get({ timeout: 10 }));
    const list = await events(r.id, 2);
    assert.deepEqual(worked(list), [["taskRevoked", "expired"]]);
  });

  it("beforePublish adds headers the task reads; bad ones and handler errors fail the publish, naming it", async () => {
    const off = t.app.on("beforePublish", ({ headers, task }) => {
      if (task === "tenant") headers["x-tenant"] = "acme";
    });
    const shared = { "x-source": "web" };
    try {
      assert.equal(await (await t.app.sendTask("tenant")).get({ timeout: 10 }), "acme");
      assert.equal(await (await t.app.sendTask("tenant", [], { headers: shared })).get({ timeout: 10 }), "acme");
      assert.deepEqual(shared, { "x-source": "web" }, "the caller's headers object is not changed");
    } finally {
      off();
    }
    const offBad = t.app.on("beforePublish", ({ headers }) => void (headers["bad:name"] = "x"));
    await assert.rejects(t.app.sendTask("tenant"), (e) => e instanceof InvalidArgumentError && /headers/.test(e.message));
    offBad();
    const offThrow = t.app.on("beforePublish", () => {
      throw new Error("no auth context");
    });
    await assert.rejects(t.app.sendTask("tenant"), /no auth context/);
    offThrow();
    assert.equal(await (await t.app.sendTask("tenant")).get({ timeout: 10 }), null);
  });

  it("refuses an unknown signal or a hook that is not a function, naming it", () => {
    assert.throws(() => t.app.on("taskExploded" as never, () => {}), /signal/);
    assert.throws(() => t.app.task({ name: "x", onSuccess: 5 as never }, () => 1), /onSuccess/);
  });
});

describe("worker signals", () => {
  it("workerShutdown once the worker has stopped", async () => {
    const t = testApp({ prefix: "hkw" });
    const states: string[] = [];
    t.app.on("workerReady", ({ hostname }) => void states.push(`ready ${hostname}`));
    t.app.on("workerShutdown", ({ hostname }) => void states.push(`shutdown ${hostname}`));
    const w = t.app.worker({ hostname: "sig@test" });
    try {
      await w.start();
      await w.stop();
      assert.deepEqual(states, ["ready sig@test", "shutdown sig@test"]);
    } finally {
      await t.dispose();
    }
  });
});
