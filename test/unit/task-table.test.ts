import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TaskTable } from "../../src/monitor/task-table.ts";

const ev = (type: string, uuid: string, t: number, extra: Record<string, unknown> = {}) =>
  ({ type, uuid, timestamp: t, hostname: "w1@h", clock: 1, pid: 1, utcoffset: 0, ...extra });

describe("monitor task table", () => {
  it("follows a task through its events", () => {
    const table = new TaskTable();
    table.add(ev("task-sent", "a", 1, { name: "add", args: "[2, 3]", queue: "celery" }));
    table.add(ev("task-received", "a", 2, { name: "add", args: "[2, 3]", retries: 0 }));
    table.add(ev("task-started", "a", 3));
    table.add(ev("task-succeeded", "a", 4, { result: "5", runtime: 0.001 }));
    const t = table.get("a")!;
    assert.deepEqual([t.name, t.state, t.args, t.result, t.runtime, t.worker, t.queue], ["add", "SUCCESS", "[2, 3]", "5", 0.001, "w1@h", "celery"]);
    assert.deepEqual([t.sent, t.received, t.started], [1, 2, 3]);
  });

  it("an earlier event arriving late does not move a finished task back", () => {
    const table = new TaskTable();
    table.add(ev("task-failed", "b", 5, { exception: "TypeError('x')", traceback: "tb" }));
    table.add(ev("task-started", "b", 4));
    assert.equal(table.get("b")!.state, "FAILURE");
    assert.equal(table.get("b")!.exception, "TypeError('x')");
  });

  it("lists newest first, filters by state and name, and stays bounded", () => {
    const table = new TaskTable(3);
    for (let i = 0; i < 5; i++) table.add(ev(i % 2 ? "task-failed" : "task-succeeded", `t${i}`, i, { name: i % 2 ? "bad" : "good" }));
    assert.deepEqual(table.list().map((t) => t.uuid), ["t4", "t3", "t2"]);
    assert.deepEqual(table.list({ state: "FAILURE" }).map((t) => t.uuid), ["t3"]);
    assert.deepEqual(table.list({ name: "goo" }).map((t) => t.uuid), ["t4", "t2"]);
    assert.deepEqual(table.summary().states, { SUCCESS: 2, FAILURE: 1 });
  });
});
