/**
 * The result hub keeps progress events of tasks its client sent until someone listens — bounded,
 * the oldest task's events dropped first — on the memory broker and backend.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Celeriac, silentLogger } from "celeriac";
import { makeRecord } from "../../src/protocol/result.ts";

describe("progress kept for a late listener", () => {
  it("replays a sent task's events to the first listener, and drops the oldest task's past the bound", async () => {
    const app = new Celeriac({ name: "pbuf", brokerUrl: "memory://", resultBackend: "memory://" });
    app.log = silentLogger;
    try {
      const hub = app.hub();
      await hub.start();
      const [broker, backend] = await Promise.all([app.broker(), app.backend()]);
      const send = (id: string, n: number) => {
        for (let i = 1; i <= n; i++) broker.notify(hub.replySubject, backend.encode(makeRecord(id, "PROGRESS", i)));
      };
      hub.published("old");
      hub.published("new");
      send("old", 6_000);
      send("new", 5_000); // 11,000 kept in all: over the bound of 10,000, so "old" goes
      send("stranger", 10); // not sent by this client: never kept
      await new Promise((r) => setTimeout(r, 0));
      const got = (id: string) => {
        const values: unknown[] = [];
        hub.onProgress(id, (v) => values.push(v))();
        return values;
      };
      assert.deepEqual(got("old"), []);
      const kept = got("new");
      assert.equal(kept.length, 5_000);
      assert.deepEqual(kept.slice(0, 3), [1, 2, 3]);
      assert.deepEqual(got("new"), [], "replayed once, to the first listener");
      assert.deepEqual(got("stranger"), []);
    } finally {
      await app.close();
    }
  });
});
