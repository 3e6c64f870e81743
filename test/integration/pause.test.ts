/**
 * Pausing a queue on real NATS: running tasks finish, waiting ones stay queued, a worker started
 * later holds off too (the pause lives in KV), resume runs them; `pausedQueues` lists it.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { testApp, waitFor } from "../helpers.ts";

describe("pause and resume a queue", () => {
  const t = testApp({ prefix: "pause" });
  const ran: string[] = [];
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  t.app.task({ name: "slow", queue: "a" }, async (label: string) => {
    ran.push(label);
    await gate;
    return label;
  });
  t.app.task({ name: "quick", bind: true, queue: "b" }, (ctx) => ctx.hostname);
  const w1 = t.app.worker({ queues: ["a", "b"], concurrency: 2, hostname: `w1_${t.name}@test` });
  const w2 = t.app.worker({ queues: ["a", "b"], concurrency: 2, hostname: `w2_${t.name}@test` });

  after(async () => {
    release();
    await w1.stop();
    await w2.stop();
    await t.dispose();
  });

  it("holds off every worker, now and started later; running tasks finish; resume runs what waited", async () => {
    await w1.start();
    const running = await t.app.sendTask("slow", ["running"]);
    await waitFor(() => ran.includes("running"), { what: "the first task to start" });

    const replies = await t.app.control.pauseQueue("a");
    assert.match(JSON.stringify(replies[`w1_${t.name}@test`]), /paused a/);
    assert.deepEqual(await t.app.control.pausedQueues(), ["a"]);
    const waiting = await t.app.sendTask("slow", ["waiting"]);
    release();
    assert.equal(await running.get({ timeout: 10 }), "running", "the running task finished");

    // A worker started after the pause holds off too.
    await w2.start();
    const queues = await t.app.control.activeQueues({ destination: [`w2_${t.name}@test`] });
    const a = (queues[`w2_${t.name}@test`] as { name: string; paused: boolean }[]).find((q) => q.name === "a");
    assert.equal(a?.paused, true);
    // Both workers take work from queue b meanwhile: each had the chance to take the waiting task.
    const seen = new Set<string>();
    await waitFor(async () => {
      seen.add(await (await t.app.sendTask("quick")).get({ timeout: 10 }) as string);
      return seen.size === 2;
    }, { what: "both workers to run a task of queue b", timeoutMs: 20_000 });
    assert.deepEqual(ran, ["running"], "nothing of the paused queue started");
    assert.equal((await (await t.app.broker()).queueStats("a")).pending, 1);

    await t.app.control.resumeQueue("a");
    assert.equal(await waiting.get({ timeout: 10 }), "waiting");
    assert.deepEqual(await t.app.control.pausedQueues(), []);
  });
});
