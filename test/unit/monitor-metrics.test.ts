/**
 * The cluster metrics the monitor serves, on the memory broker and backend, and the Grafana
 * dashboard shipped in docs/ uses only those names.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Celeriac } from "../../src/mod.ts";
import { TaskTable } from "../../src/monitor/task-table.ts";
import { DepthHistory, TaskRates } from "../../src/monitor/charts.ts";
import { metrics, type MonitorState } from "../../actors/monitor/api.ts";

describe("monitor /metrics", () => {
  it("serves queue, dead-letter, delayed, worker and task-event families; the Grafana dashboard uses only them", async () => {
    const app = new Celeriac({ name: "metrics-unit", brokerUrl: "memory://", resultBackend: "memory://" });
    try {
      const broker = await app.broker();
      await broker.ensureQueue("celery");
      await app.sendTask("add", [1, 2]);
      await broker.deadLetter("celery", { headers: { id: "x", task: "t" }, body: new Uint8Array([1]) }, "unknown task", "x:1");
      const tasks = new TaskTable();
      tasks.add({ type: "task-succeeded", uuid: "a", hostname: "w", timestamp: 1, clock: 1, pid: 1, utcoffset: 0 });
      const state: MonitorState = {
        app,
        broker,
        tasks,
        rates: new TaskRates(),
        depth: new DepthHistory(),
        queues: ["celery"],
        readOnly: false,
        traceUrl: null,
      };
      const text = String((await metrics(state)).body);
      assert.match(text, /^celeriac_queue_messages\{app="metrics-unit",queue="celery"\} 1$/m);
      assert.match(text, /^celeriac_dead_letters\{app="metrics-unit",queue="celery"\} 1$/m);
      assert.match(text, /^celeriac_queue_oldest_age_seconds\{app="metrics-unit",queue="celery"\} \d/m);
      assert.match(text, /^celeriac_task_events_total\{app="metrics-unit",type="task-succeeded"\} 1$/m);
      const served = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
      const dashboard = readFileSync(new URL("../../docs/grafana/celeriac-cluster.json", import.meta.url), "utf8");
      const used = new Set([...dashboard.matchAll(/celeriac_[a-z_]+/g)].map((m) => m[0]).filter((n) => n !== "celeriac_cluster"));
      assert.ok(used.size >= 5);
      for (const name of used) assert.ok(served.has(name), `the dashboard's ${name} is served`);
    } finally {
      await app.close();
    }
  });
});
