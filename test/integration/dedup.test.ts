/**
 * Deduplication beyond the broker's window, on real NATS and Redis: two producers of one app send
 * the same deduplication id; it runs once and both get the first task's handle; after the ttl a
 * send runs again.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Celeriac, silentLogger } from "celeriac";
import { NATS_URL, REDIS_URL, testApp, waitFor } from "../helpers.ts";

describe("deduplication", () => {
  const t = testApp({ prefix: "dedup" });
  let runs = 0;
  t.app.task("charge", () => ++runs);
  const worker = t.app.worker({ concurrency: 4, hostname: `${t.name}@test` });
  // A second producer of the same app (another process, in effect).
  const other = new Celeriac({ name: t.name, brokerUrl: NATS_URL, resultBackend: REDIS_URL, resultKeyPrefix: t.keyPrefix });
  other.log = silentLogger;

  after(async () => {
    await worker.stop();
    await other.close();
    await t.dispose();
  });

  it("a repeat within ttl from another producer returns the first task and runs nothing; after ttl it runs again", async () => {
    await worker.start();
    const dedup = { id: `invoice-${t.name}`, ttl: 1 };
    const first = await t.app.sendTask("charge", [], { deduplication: dedup });
    const [again, bulk] = await Promise.all([
      other.sendTask("charge", [], { deduplication: dedup }),
      other.sendMany([{ task: "charge", options: { deduplication: dedup } }]),
    ]);
    assert.equal(again.id, first.id);
    assert.equal(bulk[0]!.id, first.id);
    assert.equal(await again.get({ timeout: 10 }), 1, "the repeat's handle reads the first task's result");
    const later = await waitFor(async () => {
      const r = await other.sendTask("charge", [], { deduplication: dedup });
      return r.id !== first.id ? r : null;
    }, { what: "the ttl to pass", timeoutMs: 10_000, intervalMs: 200 });
    assert.equal(await later.get({ timeout: 10 }), 2);
    assert.equal(runs, 2, "ran once per ttl");
  });
});
