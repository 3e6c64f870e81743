/**
 * Events on real NATS: a worker with task events sends Celery's task and worker events with their
 * fields; a client with taskSendSentEvent sends task-sent; a monitor that starts late reads the
 * recent history from the events stream.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CeleriacEvent, recentEvents, watchEvents, type Worker } from "celeriac";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

describe("events", () => {
  let t: TestApp;
  let worker: Worker;
  const live: CeleriacEvent[] = [];
  let off: () => void;
  const startedAt = Date.now();

  before(async () => {
    t = testApp({ prefix: "evt", taskSendSentEvent: true });
    t.app.task("add", (a: number, b: number) => a + b);
    t.app.task("fails", () => {
      throw new TypeError("nope");
    });
    off = watchEvents(await t.app.broker(), t.app.config.names, (e) => live.push(e));
    worker = t.app.worker({ hostname: "ev@test", events: true, heartbeatInterval: 0.2 });
    await worker.start();
  });

  after(async () => {
    off();
    await worker.stop();
    await t.dispose();
  });

  it("a task's life as events: sent, received, started, succeeded, with Celery's fields", async () => {
    const r = await t.app.sendTask("add", [2, 3]);
    assert.equal(await r.get({ timeout: 10 }), 5);
    const mine = () => live.filter((e) => e.uuid === r.id);
    await waitFor(() => mine().some((e) => e.type === "task-succeeded"), { what: "task-succeeded" });
    await waitFor(() => mine().some((e) => e.type === "task-sent"), { what: "task-sent" });
    const types = mine().map((e) => e.type);
    for (const t of ["task-sent", "task-received", "task-started", "task-succeeded"]) assert.ok(types.includes(t), `${t} in ${types}`);
    const received = mine().find((e) => e.type === "task-received")!;
    assert.equal(received.name, "add");
    assert.equal(received.args, "[2,3]");
    assert.equal(received.hostname, "ev@test");
    assert.equal(typeof received.timestamp, "number");
    assert.equal(typeof received.clock, "number");
    assert.equal(typeof received.pid, "number");
    const ok = mine().find((e) => e.type === "task-succeeded")!;
    assert.equal(ok.result, "5");
    assert.equal(typeof ok.runtime, "number");
    const clocks = mine().filter((e) => e.hostname === "ev@test").map((e) => e.clock);
    assert.deepEqual(clocks, [...clocks].sort((a, b) => a - b), "the worker's clock only moves forward");
  });

  it("task-failed carries the exception and traceback", async () => {
    const r = await t.app.sendTask("fails");
    await assert.rejects(r.get({ timeout: 10 }));
    const failed = await waitFor(() => live.find((e) => e.uuid === r.id && e.type === "task-failed"), { what: "task-failed" });
    assert.equal(failed.exception, 'TypeError("nope")');
    assert.match(String(failed.traceback), /TypeError: nope/);
  });

  it("worker-online and heartbeats with active, processed, loadavg, freq", async () => {
    const hb = await waitFor(
      () => live.find((e) => e.type === "worker-heartbeat" && e.hostname === "ev@test" && (e.processed as number) >= 1),
      {
        what: "a heartbeat after a task",
      },
    );
    assert.equal(hb.freq, 0.2);
    assert.equal(typeof hb.active, "number");
    assert.equal((hb.loadavg as number[]).length, 3);
    assert.equal(hb.sw_ident, "celeriac");
  });

  it("a monitor that starts late sees the recent history from the stream", async () => {
    const r = await t.app.sendTask("add", [1, 1]);
    await r.get({ timeout: 10 });
    const history = await waitFor(async () => {
      const h = await recentEvents(await t.app.broker(), startedAt);
      return h.some((e) => e.uuid === r.id && e.type === "task-succeeded") ? h : null;
    }, { what: "history in the events stream" });
    assert.ok(history.some((e) => e.type === "worker-online" && e.hostname === "ev@test"));
    assert.ok(history.some((e) => e.type === "worker-heartbeat"));
    assert.ok(history.some((e) => e.type === "task-received" && e.uuid === r.id));
  });
});
