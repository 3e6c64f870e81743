/**
 * Settling against real NATS and Redis, where it can go wrong: a follow-up the broker refuses
 * outright (retrying cannot help) dead-letters the message instead of retrying forever; a
 * `revoke --terminate` that arrives while a finished task is settling leaves it alone.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chain, State, type TaskEvent, type Worker } from "celeriac";
import { unpack } from "msgpackr";
import { Header } from "../../src/protocol/message.ts";
import { NOTICE_IN_BACKEND } from "../../src/protocol/result.ts";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

describe("settle", () => {
  let t: TestApp;
  let worker: Worker;
  const settled: TaskEvent[] = [];
  /** Set by a test: the next SUCCESS store waits for it to be resolved (the task is "in settle"). */
  let gate: { entered: (id: string) => void; open: Promise<void> } | null = null;

  before(async () => {
    t = testApp({ prefix: "settle" });
    // Its value is fine in Redis, but the next chain step carrying it is over NATS' max_payload (1 MiB).
    t.app.task("huge", () => "x".repeat(1_200_000));
    t.app.task("size", (s: string) => s.length);
    t.app.task("add", (x: number, y: number) => x + y);
    const backend = await t.app.backend();
    const store = backend.storeEncoded.bind(backend);
    backend.storeEncoded = async (id, status, bytes) => {
      const g = gate;
      if (g && status === State.SUCCESS) {
        gate = null;
        g.entered(id);
        await g.open;
      }
      return await store(id, status, bytes);
    };
    worker = t.app.worker({ concurrency: 2 });
    worker.events.on("task-settled", (e) => settled.push(e));
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
    assert.equal(await t.app.AsyncResult(firstId).state(), State.SUCCESS, "its stored SUCCESS is kept");
    assert.equal(worker.active, 0, "the job is no longer in progress");
  });

  it("a result over NATS' max_payload is announced by a short notice, and get() reads it from the backend", async () => {
    const broker = await t.app.broker();
    const notices: Record<string, unknown>[] = [];
    const off = broker.subscribe(t.app.hub().replySubject, (data) => notices.push({ ...unpack(data), bytes: data.length }));
    try {
      const r = await t.app.sendTask<string>("huge");
      const value = await r.get({ timeout: 20 });
      assert.equal(value.length, 1_200_000);
      const notice = await waitFor(() => notices.find((n) => n.task_id === r.id), { what: "the notice" });
      assert.equal(notice[NOTICE_IN_BACKEND], true);
      assert.equal(notice.status, State.SUCCESS);
      assert.ok((notice.bytes as number) < 1024, `a short notice, not ${notice.bytes} bytes`);
    } finally {
      off();
    }
  });

  it("revoke --terminate of a task already settling is a no-op: one settle, its chain goes on", async () => {
    let open!: () => void;
    let entered!: (id: string) => void;
    const inSettle = new Promise<string>((r) => (entered = r));
    gate = { entered, open: new Promise<void>((r) => (open = r)) };
    const add = t.app.tasks.get("add")!;
    const r = await chain(add.s(1, 2), add.s(10)).applyAsync();
    const firstId = await inSettle;
    assert.equal(firstId, r.parent!.id);
    const replies = await t.app.control.revoke(firstId, { terminate: true, timeout: 5, limit: 1 });
    const terminated = /terminated/.test(JSON.stringify(replies));
    // If the terminate went ahead (the defect), let its settle finish before the real one resumes.
    if (terminated) await waitFor(() => settled.some((e) => e.id === firstId), { what: "the terminate's settle" });
    open();
    assert.equal(await r.get({ timeout: 10 }), 13, "the chain's next step ran and succeeded");
    assert.equal(await t.app.AsyncResult(firstId).state(), State.SUCCESS);
    await waitFor(() => settled.some((e) => e.id === r.id), { what: "the last step settled" });
    assert.deepEqual(settled.filter((e) => e.id === firstId).map((e) => e.state), [State.SUCCESS], "settled once, as SUCCESS");
    assert.equal(terminated, false, "nothing was terminated");
  });
});
