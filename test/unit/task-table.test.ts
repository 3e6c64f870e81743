import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TaskTable } from "../../src/monitor/task-table.ts";

const ev = (type: string, uuid: string, t: number, extra: Record<string, unknown> = {}) => ({
  type,
  uuid,
  timestamp: t,
  hostname: "w1@h",
  clock: 1,
  pid: 1,
  utcoffset: 0,
  ...extra,
});

describe("monitor task table", () => {
  it("follows a task through its events", () => {
    const table = new TaskTable();
    table.add(ev("task-sent", "a", 1, { name: "add", args: "[2, 3]", queue: "celery" }));
    table.add(ev("task-received", "a", 2, { name: "add", args: "[2, 3]", retries: 0 }));
    table.add(ev("task-started", "a", 3));
    table.add(ev("task-succeeded", "a", 4, { result: "5", runtime: 0.001 }));
    const t = table.get("a")!;
    assert.deepEqual([t.name, t.state, t.args, t.result, t.runtime, t.worker, t.queue], [
      "add",
      "SUCCESS",
      "[2, 3]",
      "5",
      0.001,
      "w1@h",
      "celery",
    ]);
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

describe("monitor task table: search, timeline, workflows", () => {
  it("searches by id prefix, worker and argument text, pages, and counts every match", () => {
    const table = new TaskTable();
    for (let i = 0; i < 30; i++) {
      table.add(
        ev("task-received", `id-${String(i).padStart(2, "0")}`, i, { name: "add", args: `[${i}, 7]`, hostname: i % 2 ? "w1@h" : "w2@h" }),
      );
    }
    assert.deepEqual(table.search({ id: "ID-0" }).tasks.map((t) => t.uuid).slice(0, 2), ["id-09", "id-08"], "case-insensitive id prefix");
    assert.equal(table.search({ worker: "w2@" }).total, 15);
    assert.deepEqual(table.search({ args: "[13," }).tasks.map((t) => t.uuid), ["id-13"]);
    const page2 = table.search({ offset: 10, limit: 10 });
    assert.equal(page2.total, 30);
    assert.deepEqual([page2.tasks[0]!.uuid, page2.tasks.length], ["id-19", 10]);
  });

  it("keeps each state change, in time order, bounded", () => {
    const table = new TaskTable();
    table.add(ev("task-started", "a", 2));
    table.add(ev("task-received", "a", 1));
    for (let i = 0; i < 40; i++) table.add(ev("task-retried", "b", 10 + i));
    assert.deepEqual(table.get("a")!.steps.map((s) => s.state), ["RECEIVED", "STARTED"]);
    assert.equal(table.get("b")!.steps.length, 32);
  });

  it("finds a chord's whole workflow from any member: root, parent and group links", () => {
    const table = new TaskTable();
    for (const h of ["h1", "h2", "h3"]) table.add(ev("task-received", h, 1, { root_id: h, group: "g1" }));
    table.add(ev("task-received", "body", 2, { root_id: "h3", parent_id: "h3" }));
    table.add(ev("task-received", "next", 3, { root_id: "h3", parent_id: "body" }));
    table.add(ev("task-received", "other", 3, { root_id: "other" }));
    for (const from of ["h1", "body", "next"]) {
      assert.deepEqual(table.workflow(from).map((t) => t.uuid).sort(), ["body", "h1", "h2", "h3", "next"], `from ${from}`);
    }
    assert.deepEqual(table.children("body").map((t) => t.uuid), ["next"]);
  });
});
