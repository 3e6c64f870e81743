/**
 * Large tasks and the worker's credit: a -c 100 worker used to ask JetStream for its whole credit
 * in one pull, so 100 tasks of 512 KiB (50 MiB) came at once. nats-server keeps at most
 * `max_pending` bytes queued for a client (64 MiB by default; 32 MiB here, so that 100 × 512 KiB
 * overruns it for certain) and cuts off a client that lags further as a slow consumer: the worker
 * reconnected and the tasks it had been sent waited out ack_wait (30 s) before anyone ran them.
 * Pull requests now carry `max_bytes`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Celeriac, silentLogger } from "celeriac";
import { cleanup, privateNats, type PrivateServer, REDIS_URL, uniqueName } from "../helpers.ts";

describe("large messages", () => {
  let nats: PrivateServer;
  before(async () => {
    nats = await privateNats({ config: "max_pending: 32MB\n" });
  });
  after(async () => {
    await nats.dispose();
  });

  it("100 tasks of 512 KiB on a -c 100 worker: no slow consumer, all done well within ack_wait", async () => {
    const name = uniqueName("big");
    const prefix = `${name}-`;
    const opts = { name, brokerUrl: nats.url, resultBackend: REDIS_URL, resultKeyPrefix: prefix };
    const workerApp = new Celeriac(opts);
    const callerApp = new Celeriac(opts);
    workerApp.log = silentLogger;
    const size = (x: Uint8Array) => x.length;
    workerApp.task("size", size);
    const task = callerApp.task("size", size);
    const worker = workerApp.worker({ concurrency: 100 });
    const errors: string[] = [];
    worker.events.on("error", (err) => errors.push((err as Error).message));
    await worker.start();
    try {
      const payload = new Uint8Array(512 * 1024).map((_, i) => (i * 2654435761) >>> 24);
      // Sent before the worker asks for them: its first pull then meets 50 MiB of tasks at once.
      await worker.stop();
      const sent = await Promise.all(Array.from({ length: 100 }, () => task.delay(payload)));
      const again = workerApp.worker({ concurrency: 100 });
      again.events.on("error", (err) => errors.push((err as Error).message));
      await again.start();
      try {
        const began = Date.now();
        const sizes = await Promise.all(sent.map((r) => r.get({ timeout: 60 })));
        const tookMs = Date.now() - began;
        assert.deepEqual(sizes, sent.map(() => payload.length));
        const varz = await (await fetch(`http://127.0.0.1:${nats.monitorPort}/varz`)).json() as { slow_consumers: number };
        assert.equal(varz.slow_consumers, 0, "nats-server cut off no client as a slow consumer");
        assert.ok(tookMs < 20_000, `all done in ${tookMs} ms: none waited out ack_wait (30 s)`);
        assert.deepEqual(errors, [], "the worker reported no trouble");
      } finally {
        await again.stop();
      }
    } finally {
      await callerApp.close();
      await workerApp.close();
      await cleanup(name, prefix, { nats: nats.url, redis: REDIS_URL });
    }
  });
});
