/**
 * `backend.waitReplicas` when no replica can acknowledge (a master alone, as after a failover
 * that promoted the only replica): the result is on the master and readable, but the task is not
 * acked; once a replica attaches, the retried write is acknowledged and the task acked.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { State, type Worker } from "celeriac";
import { privateRedis, type PrivateServer, type TestApp, testApp, waitFor } from "../helpers.ts";

describe("waitReplicas with no replica to acknowledge", () => {
  let master: PrivateServer;
  let replica: PrivateServer | null = null;
  let t: TestApp;
  let worker: Worker;

  before(async () => {
    master = await privateRedis();
    t = testApp({ prefix: "rwait", resultBackend: master.url, backend: { waitReplicas: 1, waitTimeout: 0.2 } });
    t.app.task("add", (a: number, b: number) => a + b);
    worker = t.app.worker({ concurrency: 2 });
    await worker.start();
  });

  after(async () => {
    await worker?.stop();
    await t?.dispose();
    await replica?.dispose();
    await master?.dispose();
  });

  it("holds the ack until a replica has the result, then acks", async () => {
    const r = await t.app.sendTask<number>("add", [2, 3]);
    const backend = await t.app.backend();
    const broker = await t.app.broker();
    await waitFor(async () => (await backend.get(r.id))?.status === State.SUCCESS, { what: "the result on the master" });
    // WAIT answered 0 of 1: the write counts as failed, so the task stays unacked (and is retried).
    await waitFor(async () => (await broker.queueStats("celery")).inFlight === 1, { what: "the task held in flight" });
    assert.equal((await broker.queueStats("celery")).inFlight, 1, "not acked while no replica has the result");
    replica = await privateRedis(["--replicaof", "127.0.0.1", String(master.port)]);
    await waitFor(async () => (await broker.queueStats("celery")).inFlight === 0, {
      timeoutMs: 30_000,
      what: "the ack once a replica has it",
    });
    assert.equal(await r.get({ timeout: 10 }), 5);
  });
});
