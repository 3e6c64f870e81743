/**
 * Settling against real NATS and Redis, where it can go wrong: a follow-up the broker refuses
 * outright (retrying cannot help) dead-letters the message instead of retrying forever.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chain, State, type Worker } from "celeriac";
import { Header } from "../../src/protocol/message.ts";
import { testApp, type TestApp, waitFor } from "../helpers.ts";

describe("settle", () => {
  let t: TestApp;
  let worker: Worker;

  before(async () => {
    t = testApp({ prefix: "settle" });
    // Its value is fine in Redis, but the next chain step carrying it is over NATS' max_payload (1 MiB).
    t.app.task("huge", () => "x".repeat(1_200_000));
    t.app.task("size", (s: string) => s.length);
    worker = t.app.worker({ concurrency: 2 });
    await worker.start();
  });

  after(async () => {
    await worker.stop({ grace: 1 });
    await t.dispose();
  });

  it("a follow-up the broker refuses is dead-lettered with the reason, not retried forever", async () => {
    const r = await chain(t.app.tasks.get("huge")!.s(), t.app.tasks.get("size")!.s()).applyAsync();
    const firstId = r.parent!.id;
    const broker = await t.app.broker();
    const dl = await waitFor(async () => (await broker.listDeadLetters({ limit: 10 })).find((d) => d.headers[Header.ID] === firstId), {
      what: "the dead letter of the step whose follow-up was refused",
      timeoutMs: 15_000,
    });
    assert.match(dl.reason, /^could not settle: .*max_payload.*retrying cannot help/);
    assert.equal((await t.app.AsyncResult(firstId).state()), State.SUCCESS, "its stored SUCCESS is kept");
    assert.equal(worker.active, 0, "the job is no longer in progress");
  });
});
