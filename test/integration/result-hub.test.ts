/**
 * Many waiting get() calls cost one subscription, and a get() still returns when its notice was
 * lost (the broker was down when the worker announced the result).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { privateNats, type PrivateServer, testApp, waitFor } from "../helpers.ts";

/** The subjects a client connection subscribes to, from the server's monitoring endpoint. */
async function subscriptions(server: PrivateServer, connectionName: string): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${server.monitorPort}/connz?subs=1`);
  const body = await res.json() as { connections: { name?: string; subscriptions_list?: string[] }[] };
  const c = body.connections.find((x) => x.name?.startsWith(connectionName));
  if (!c) throw new Error(`no connection named ${connectionName}: ${JSON.stringify(body.connections.map((x) => x.name))}`);
  return c.subscriptions_list ?? [];
}

describe("result hub", () => {
  let nats: PrivateServer;
  before(async () => {
    nats = await privateNats();
  });
  after(async () => {
    await nats.dispose();
  });

  it("5,000 concurrent get() calls use one subscription", async () => {
    const producer = testApp({ prefix: "hub", brokerUrl: nats.url });
    const workerApp = testApp({ name: producer.name, resultKeyPrefix: producer.keyPrefix, brokerUrl: nats.url });
    workerApp.app.task("echo", async (v: number, gate: string) => {
      await waitFor(async () => (await workerApp.app.AsyncResult(gate).state()) === "SUCCESS", { timeoutMs: 30_000, intervalMs: 50 });
      return v;
    });
    const worker = workerApp.app.worker({ concurrency: 100 });
    try {
      await worker.start();
      const gate = `gate-${producer.name}`;
      await producer.app.hub().start();
      const before = await subscriptions(nats, "celeriac client");
      const rs = await Promise.all(Array.from({ length: 5000 }, (_, i) => producer.app.sendTask<number>("echo", [i, gate])));
      const gets = Promise.all(rs.map((r) => r.get({ timeout: 60 })));
      gets.catch(() => {}); // awaited below; keep an early failure from going unhandled
      try {
        // all 5000 are waiting now: one subscription for result notices (plus nats.js's request inbox)
        const subs = await subscriptions(nats, "celeriac client");
        assert.equal(subs.filter((s) => s.startsWith(`${producer.name}.reply.`)).length, 1, subs.join(", "));
        // the rest (request inboxes) is fixed: waiting gets add nothing
        assert.equal(subs.length, before.length, `before: ${before.join(", ")}; with 5000 gets: ${subs.join(", ")}`);
      } finally {
        await (await producer.app.backend()).store({
          status: "SUCCESS",
          result: null,
          traceback: null,
          children: [],
          date_done: null,
          task_id: gate,
        });
      }
      assert.deepEqual(await gets, rs.map((_, i) => i));
    } finally {
      await worker.stop();
      await workerApp.app.close();
      await producer.dispose();
    }
  });

  it("get() returns when the notice was lost: the result is read from the backend", async () => {
    const t = testApp({ prefix: "hub", brokerUrl: nats.url });
    t.app.task("add", (a: number, b: number) => a + b);
    try {
      const r = await t.app.sendTask("add", [40, 2]);
      // No worker has run it; store the result as a worker would, without any notice.
      await (await t.app.backend()).store({ status: "SUCCESS", result: 42, traceback: null, children: [], date_done: null, task_id: r.id });
      assert.equal(await r.get({ timeout: 10 }), 42);
    } finally {
      await t.dispose();
    }
  });
});
