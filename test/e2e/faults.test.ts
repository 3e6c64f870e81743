/**
 * Worker faults: a killed worker's task completes elsewhere and its result is written once; a long
 * task on a live worker is never redelivered; a warm shutdown loses nothing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { privateRedis, type PrivateServer, spawnWorker, stopProc, waitFor } from "../helpers.ts";
import { cluster, TASKS } from "./e2e-helpers.ts";

interface Started {
  id: string;
  pid: number;
  delivery: number;
}

async function started(redis: Redis, prefix: string): Promise<Started[]> {
  return (await redis.lrange(`${prefix}started`, 0, -1)).map((s) => JSON.parse(s));
}

describe("faults", () => {
  let redisServer: PrivateServer;
  before(async () => {
    // A private Redis: this file watches writes with keyspace notifications.
    redisServer = await privateRedis(["--notify-keyspace-events", "K$"]);
  });
  after(async () => {
    await redisServer.dispose();
  });

  it("a worker SIGKILLed mid-task: the task completes on another worker, its result written once", async () => {
    const c = cluster({ redis: redisServer.url, ackWait: 2 });
    const a = await spawnWorker(["-A", TASKS, "-c", "2", "-n", "a@%h"], { env: c.env });
    let b: Awaited<ReturnType<typeof spawnWorker>> | null = null;
    const watcher = new Redis(redisServer.url);
    try {
      const r = await c.app.sendTask("sleepy", [1500]);
      const key = `${c.prefix}task-meta-${r.id}`;
      const writes: string[] = [];
      await watcher.subscribe(`__keyspace@0__:${key}`);
      watcher.on("message", (_ch, event) => writes.push(event));
      await waitFor(async () => (await started(c.redis, c.prefix)).some((s) => s.id === r.id), { what: "task started on a" });
      a.kill("SIGKILL");
      await a.exited;
      b = await spawnWorker(["-A", TASKS, "-c", "2", "-n", "b@%h"], { env: c.env });
      const value = (await r.get({ timeout: 30 })) as { pid: number };
      assert.equal(value.pid, b.pid, "completed by the surviving worker");
      const starts = (await started(c.redis, c.prefix)).filter((s) => s.id === r.id);
      assert.deepEqual(starts.map((s) => [s.pid, s.delivery]), [[a.pid, 1], [b.pid, 2]]);
      assert.equal(await c.redis.hget(`${c.prefix}finished`, r.id), "1");
      await waitFor(() => writes.length >= 1, { what: "keyspace event" });
      assert.deepEqual(writes, ["set"], "the result key was written exactly once");
    } finally {
      watcher.disconnect();
      if (b) await stopProc(b);
      await c.dispose();
    }
  });

  it("a task running 5× ack_wait on a live worker is not redelivered", async () => {
    const c = cluster({ ackWait: 1 });
    const w = await spawnWorker(["-A", TASKS, "-c", "2"], { env: c.env });
    try {
      const r = await c.app.sendTask("sleepy", [5000]);
      await r.get({ timeout: 30 });
      const starts = (await started(c.redis, c.prefix)).filter((s) => s.id === r.id);
      assert.equal(starts.length, 1, `started ${starts.length} times`);
      assert.equal(starts[0]!.delivery, 1);
      assert.equal(await c.redis.hget(`${c.prefix}finished`, r.id), "1");
    } finally {
      await stopProc(w);
      await c.dispose();
    }
  });

  it("warm shutdown lets running tasks finish and loses none of the queued ones", async () => {
    const c = cluster();
    const w1 = await spawnWorker(["-A", TASKS, "-c", "4", "--grace", "20"], { env: c.env });
    let w2: Awaited<ReturnType<typeof spawnWorker>> | null = null;
    try {
      const rs = await Promise.all(Array.from({ length: 12 }, () => c.app.sendTask("sleepy", [800])));
      await waitFor(async () => (await started(c.redis, c.prefix)).length >= 4, { what: "4 tasks running" });
      assert.equal(await stopProc(w1, 30_000), 0, "warm shutdown exits 0");
      const afterStop = await started(c.redis, c.prefix);
      const finished = await c.redis.hgetall(`${c.prefix}finished`);
      // everything w1 started, it finished before exiting
      assert.ok(afterStop.every((s) => finished[s.id] === "1"), "in-flight tasks finished");
      w2 = await spawnWorker(["-A", TASKS, "-c", "8"], { env: c.env });
      await Promise.all(rs.map((r) => r.get({ timeout: 60 })));
      const all = await c.redis.hgetall(`${c.prefix}finished`);
      assert.equal(Object.keys(all).length, 12);
      assert.ok(Object.values(all).every((n) => n === "1"), "each ran once");
    } finally {
      if (w2) await stopProc(w2);
      await c.dispose();
    }
  });

  it("when the grace period runs out, running tasks are handed back at once, not after ack_wait", async () => {
    const c = cluster({ ackWait: 60 });
    const w1 = await spawnWorker(["-A", TASKS, "-c", "2", "--grace", "0.2"], { env: c.env });
    let w2: Awaited<ReturnType<typeof spawnWorker>> | null = null;
    try {
      const r = await c.app.sendTask("sleepy", [3000]);
      await waitFor(async () => (await started(c.redis, c.prefix)).length === 1, { what: "task running" });
      assert.equal(await stopProc(w1, 30_000), 0);
      w2 = await spawnWorker(["-A", TASKS, "-c", "2"], { env: c.env });
      // handed back with a nak: redelivered well before the 60 s ack wait
      const value = (await r.get({ timeout: 20 })) as { pid: number };
      assert.equal(value.pid, w2.pid);
    } finally {
      if (w2) await stopProc(w2);
      await c.dispose();
    }
  });
});
