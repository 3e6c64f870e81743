/**
 * Results on a Redis Cluster (`redis+cluster://`): three masters of our own on loopback, slots
 * spread by `redis-cli --cluster create`. Results of many tasks (keys on every shard, read back
 * together), a chord (its join state in one hash-tagged key), a stored long chain, a group, and a
 * global rate limit (one script over two keys that share a hash tag).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Cluster, Redis } from "ioredis";
import { chain, chord, group, type Task, type Worker } from "celeriac";
import { privateRedis, type PrivateServer, type TestApp, testApp, waitFor } from "../helpers.ts";

async function keysOn(n: PrivateServer, pattern: string): Promise<string[]> {
  const c = new Redis(n.url);
  try {
    return await c.keys(pattern);
  } finally {
    c.disconnect();
  }
}

describe("results on a Redis Cluster", () => {
  let nodes: PrivateServer[] = [];
  let t: TestApp;
  let worker: Worker;
  let url: string;
  let tasks: { add: Task<[number, number], number>; sum: Task<[number[]], number>; inc: Task<[number], number> };

  before(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => privateRedis(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])));
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    const made = spawnSync("redis-cli", ["--cluster", "create", ...addrs, "--cluster-replicas", "0", "--cluster-yes"], {
      encoding: "utf8",
    });
    assert.equal(made.status, 0, `redis-cli --cluster create: ${made.stdout}${made.stderr}`);
    url = `redis+cluster://${addrs.join(",")}`;
    const probe = new Cluster(nodes.map((n) => ({ host: "127.0.0.1", port: n.port })));
    try {
      await waitFor(async () => /cluster_state:ok/.test(String(await probe.cluster("INFO"))), {
        timeoutMs: 30_000,
        what: "the cluster ok",
      });
    } finally {
      probe.disconnect();
    }
    // The app cleans up NATS; the cluster's keys go with its servers.
    t = testApp({ prefix: "rcl", resultBackend: url });
    tasks = {
      add: t.app.task("add", (a: number, b: number) => a + b),
      sum: t.app.task("sum", (xs: number[]) => xs.reduce((a, b) => a + b, 0)),
      inc: t.app.task("inc", (x: number) => x + 1),
    };
    t.app.task({ name: "limited", globalRateLimit: "50/s" }, () => "ok");
    worker = t.app.worker({ concurrency: 16 });
    await worker.start();
  });

  after(async () => {
    await worker?.stop();
    await t?.app.close();
    await Promise.all(nodes.map((n) => n.dispose()));
  });

  it("stores results on every shard and reads them back together", async () => {
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => t.app.sendTask<number>("add", [i, 1])));
    assert.deepEqual(await Promise.all(rs.map((r) => r.get({ timeout: 30 }))), rs.map((_, i) => i + 1));
    const stored = await (await t.app.backend()).getMany(rs.map((r) => r.id));
    assert.deepEqual(stored.map((s) => s?.result), rs.map((_, i) => i + 1));
    const counts = await Promise.all(nodes.map(async (n) => (await keysOn(n, `${t.keyPrefix}task-meta-*`)).length));
    assert.ok(counts.every((c) => c > 0), `results on every shard (${counts.join(", ")})`);
  });

  it("a chord joins in one hash-tagged key and completes", async () => {
    const r = await chord(Array.from({ length: 50 }, (_, i) => tasks.add.s(i, 0)), tasks.sum.s()).applyAsync();
    assert.equal(await r.get({ timeout: 30 }), 1225);
  });

  it("a long chain keeps its steps in the backend and runs to the end", async () => {
    const steps = Array.from({ length: 12 }, (_, i) => (i === 0 ? tasks.inc.s(0) : tasks.inc.s()));
    const r = await chain(...steps).applyAsync();
    assert.equal(await r.get({ timeout: 30 }), 12);
    const stored = await Promise.all(nodes.map((n) => keysOn(n, `${t.keyPrefix}chain-{*}`)));
    assert.equal(stored.flat().length, 1, "the steps were kept in one hash-tagged key");
  });

  it("a group's results are read across shards", async () => {
    const g = await group(Array.from({ length: 20 }, (_, i) => tasks.add.s(i, i))).applyAsync();
    assert.deepEqual(await g.get({ timeout: 30 }), Array.from({ length: 20 }, (_, i) => 2 * i));
  });

  it("a global rate limit works: its two keys share a slot", async () => {
    const rs = await Promise.all(Array.from({ length: 10 }, () => t.app.sendTask("limited", [])));
    assert.deepEqual(await Promise.all(rs.map((r) => r.get({ timeout: 30 }))), Array(10).fill("ok"));
  });
});
