/**
 * A worker's lifecycle at its edges, on real NATS and Redis: stop() while start() is still under
 * way, and a start that fails part-way through its side services, leave nothing running — no
 * consumer, no control responder, no heartbeat.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

describe("worker lifecycle", () => {
  let t: TestApp;

  before(() => {
    t = testApp({ prefix: "life" });
    t.app.task("add", (x: number, y: number) => x + y);
  });

  after(async () => {
    await t.dispose();
  });

  /** Whether `hostname` answers a ping (replies are collected for a bounded time). */
  async function answers(hostname: string): Promise<boolean> {
    const replies = await t.app.control.ping({ timeout: 1, destination: [hostname] });
    return hostname in replies;
  }

  it("stop() called while start() is in progress leaves no consumer or service running", async () => {
    const w = t.app.worker({ hostname: "early-stop@life", concurrency: 2, heartbeatInterval: 0.2 });
    const starting = w.start();
    const stopping = w.stop();
    await Promise.allSettled([starting, stopping]);
    assert.equal(w.state, "stopped");
    assert.equal(await answers("early-stop@life"), false, "its control responder is gone");
    // A task sent now waits for a worker: nothing of the stopped one consumes it.
    const r = await t.app.sendTask("add", [1, 2]);
    const other = t.app.worker({ hostname: "later@life", concurrency: 2 });
    await other.start();
    try {
      assert.equal(await r.get({ timeout: 10 }), 3);
      const rec = await t.app.AsyncResult(r.id).record();
      assert.equal(rec?.worker ?? "later@life", "later@life");
    } finally {
      await other.stop();
    }
  });

  it("a side service that fails to start stops the ones already started; start rejects saying why", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const w = t.app.worker({
        hostname: "busy-port@life",
        concurrency: 2,
        heartbeatInterval: 0.2,
        healthPort: port,
        healthHost: "127.0.0.1",
      });
      const err = await w.start().then(() => null, (e: Error) => e);
      assert.equal(w.state, "failed");
      await waitFor(async () => !(await answers("busy-port@life")), { what: "its control responder stopped", timeoutMs: 10_000 });
      assert.match(String(err?.message), new RegExp(`^healthPort: the health server cannot listen on 127\\.0\\.0\\.1:${port} `));
      await w.stop();
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
