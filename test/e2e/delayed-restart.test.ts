/**
 * Delayed tasks live in JetStream file storage: they survive a restart of the NATS server, and
 * each runs once when due.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { privateNats, type PrivateServer, spawnWorker, stopProc } from "../helpers.ts";
import { cluster } from "./e2e-helpers.ts";

describe("delayed tasks across a NATS restart", () => {
  let nats: PrivateServer;
  before(async () => {
    nats = await privateNats();
  });
  after(async () => {
    await nats.dispose();
  });

  it("tasks due after the server came back run once each", async () => {
    const c = cluster({ nats: nats.url });
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => c.app.sendTask("counted", [i], { countdown: 4 })));
    await nats.stop();
    await nats.start();
    const w = await spawnWorker(["-A", "./test/fixtures/tasks.ts", "-c", "8"], { env: c.env });
    try {
      const values = await Promise.all(rs.map((r) => r.get({ timeout: 60 })));
      assert.deepEqual(values, rs.map((_, i) => i));
      const counts = await c.redis.hgetall(`${c.prefix}runs`);
      assert.deepEqual(rs.map((r) => counts[r.id]), Array(20).fill("1"));
    } finally {
      await stopProc(w);
      await c.dispose();
    }
  });
});
