/**
 * The worker's health endpoints on a private NATS server that the test stops and starts:
 * /livez stays 200 through a broker outage, /readyz turns 503 while NATS is down and 200 after,
 * /metrics counts tasks in Prometheus format.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Worker } from "celeriac";
import { privateNats, type PrivateServer, type TestApp, testApp, waitFor } from "../helpers.ts";

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

describe("health and metrics", () => {
  let nats: PrivateServer;
  let t: TestApp;
  let worker: Worker;
  let port: number;

  before(async () => {
    nats = await privateNats();
    t = testApp({ prefix: "hl", brokerUrl: nats.url });
    t.app.task("add", (a: number, b: number) => a + b);
    t.app.task("fails", () => {
      throw new Error("no");
    });
    worker = t.app.worker({ healthPort: 0, healthHost: "127.0.0.1", concurrency: 3 });
    await worker.start();
    port = worker.healthPort!;
  });

  after(async () => {
    await worker.stop({ grace: 0 });
    await t.app.close();
    await nats.dispose();
  });

  it("/livez and /readyz answer 200 while connected; unknown paths 404", async () => {
    assert.equal((await get(port, "/livez")).status, 200);
    const ready = await get(port, "/readyz");
    assert.equal(ready.status, 200, ready.body);
    assert.match(ready.body, /consumers bound/);
    assert.equal((await get(port, "/nope")).status, 404);
  });

  it("/metrics counts tasks by name, with a runtime histogram, active tasks and queue lag", async () => {
    await (await t.app.sendTask("add", [1, 2])).get({ timeout: 10 });
    await (await t.app.sendTask("add", [1, 2])).get({ timeout: 10 });
    await assert.rejects((await t.app.sendTask("fails")).get({ timeout: 10 }));
    const m = await get(port, "/metrics");
    assert.equal(m.status, 200);
    assert.match(m.body, /^celeriac_tasks_received_total\{task="add"\} 2$/m);
    assert.match(m.body, /^celeriac_tasks_succeeded_total\{task="add"\} 2$/m);
    assert.match(m.body, /^celeriac_tasks_failed_total\{task="fails"\} 1$/m);
    assert.match(m.body, /^celeriac_task_runtime_seconds_count\{task="add"\} 2$/m);
    assert.match(m.body, /^celeriac_task_runtime_seconds_bucket\{task="add",le="\+Inf"\} 2$/m);
    assert.match(m.body, /^# TYPE celeriac_task_runtime_seconds histogram$/m);
    assert.match(m.body, /^celeriac_tasks_active 0$/m);
    assert.match(m.body, /^celeriac_queue_lag_messages\{queue="celery",consumer="q_celery"\} 0$/m);
    assert.match(m.body, /^celeriac_broker_reconnects_total 0$/m);
  });

  it("/readyz is 503 while NATS is down and 200 after; /livez stays 200; reconnects are counted", async () => {
    await nats.stop();
    const down = await waitFor(async () => {
      const r = await get(port, "/readyz");
      return r.status === 503 ? r : null;
    }, { what: "readyz 503", timeoutMs: 15_000 });
    assert.match(down.body, /broker disconnected/);
    assert.equal((await get(port, "/livez")).status, 200, "a broker outage is not a reason to restart the worker");
    await nats.start();
    await waitFor(async () => (await get(port, "/readyz")).status === 200, { what: "readyz 200 again", timeoutMs: 20_000 });
    assert.match((await get(port, "/metrics")).body, /^celeriac_broker_reconnects_total 1$/m);
    assert.equal(await (await t.app.sendTask("add", [2, 2])).get({ timeout: 20 }), 4, "and it serves again");
  });
});
