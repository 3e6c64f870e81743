/**
 * The process and threads pools as users start them (`celeriac worker -P process`): a CPU-bound
 * task longer than ack_wait runs once while its worker keeps answering; a task that never
 * returns is stopped at its hard time limit; revoke --terminate stops synchronous code; a child
 * that dies is replaced.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Proc, runCli, spawnWorker, stopProc, waitFor } from "../helpers.ts";
import { type Cluster, cluster } from "./e2e-helpers.ts";
import { TaskError } from "celeriac";

const POOL_TASKS = "./test/fixtures/pool-tasks.ts";

/** The error a failed result raises, for its remote type. */
async function failureOf(c: Cluster, id: string, timeout: number): Promise<TaskError> {
  const err = await c.app.AsyncResult(id).get({ timeout }).then(() => null, (e) => e);
  assert.ok(err instanceof TaskError, `expected a task failure, got ${err}`);
  return err;
}

describe("process pool, two CLI workers, ack_wait 6 s", () => {
  let c: Cluster;
  let workers: Proc[] = [];
  before(async () => {
    c = cluster({ ackWait: 6 });
    workers = await Promise.all(
      ["a", "b"].map((n) =>
        spawnWorker(["-A", POOL_TASKS, "-P", "process", "-c", "2", "-n", `${n}@${c.name}`, "-l", "info"], { env: c.env })
      ),
    );
  });
  after(async () => {
    await Promise.all(workers.map((w) => stopProc(w)));
    await c.dispose();
  });

  it("the banner names the pool and says what it is for", () => {
    assert.match(workers[0]!.output(), /\.> concurrency: 2 \(process\)/);
    assert.match(workers[0]!.output(), /\.> pool:\s+process: tasks run in child processes/);
  });

  it("an 18 s synchronous task runs once, and its worker answers ping and heartbeats while it runs", async () => {
    const r = await c.app.sendTask("spin", [18_000]);
    await waitFor(() => c.redis.hget(`${c.prefix}spin-starts`, r.id), { timeoutMs: 20_000, what: "spin started" });
    const started = Date.now();
    let pings = 0;
    // Three ack_waits: a silent worker would have lost the task to the other one by now.
    while (Date.now() - started < 15_000) {
      const p = await runCli(["inspect", "ping", "--json", "--timeout", "2"], { env: c.env });
      assert.equal(p.code, 0, p.output);
      for (const n of ["a", "b"]) assert.match(p.output, new RegExp(`${n}@${c.name}`), `worker ${n} did not answer ping:\n${p.output}`);
      pings++;
      // Heartbeats every 2 s: a worker whose loop were held would fall behind at once.
      const s = await runCli(["status"], { env: c.env });
      for (const n of ["a", "b"]) {
        const m = s.output.match(new RegExp(`${n}@${c.name}: online  \\(heartbeat ([\\d.]+)s ago`));
        assert.ok(m && Number(m[1]) < 5, `worker ${n}'s heartbeat is late or missing:\n${s.output}`);
      }
    }
    assert.ok(pings >= 2, `pinged ${pings} times`);
    const value = await r.get({ timeout: 30 }) as { pid: number };
    assert.ok(!workers.some((w) => w.pid === value.pid), "it ran in a child, not in a worker process");
    assert.equal(await c.redis.hget(`${c.prefix}spin-starts`, r.id), "1", "it ran once");
  });

  it("a task looping forever with timeLimit 3 fails with TimeLimitExceeded; the worker keeps serving", async () => {
    const r = await c.app.sendTask("forever", []);
    const err = await failureOf(c, r.id, 30);
    assert.equal(err.remoteType, "TimeLimitExceeded");
    const again = await Promise.all([1, 2, 3, 4].map((i) => c.app.sendTask("add", [i, 1])));
    assert.deepEqual(await Promise.all(again.map((a) => a.get({ timeout: 20 }))), [2, 3, 4, 5]);
  });

  it("revoke --terminate stops a synchronous task; a child that exits costs its task WorkerLostError only", async () => {
    const r = await c.app.sendTask("spin", [120_000]);
    await waitFor(() => c.redis.hget(`${c.prefix}spin-starts`, r.id), { timeoutMs: 20_000, what: "spin started" });
    const rev = await runCli(["control", "revoke", r.id, "--terminate"], { env: c.env });
    assert.equal(rev.code, 0, rev.output);
    assert.equal((await failureOf(c, r.id, 20)).state, "REVOKED");
    const died = await c.app.sendTask("die", []);
    assert.equal((await failureOf(c, died.id, 20)).remoteType, "WorkerLostError");
    assert.equal(await (await c.app.sendTask("add", [2, 3])).get({ timeout: 20 }), 5);
    const stats = await runCli(["inspect", "stats", "--json"], { env: c.env });
    assert.match(stats.output, /"implementation":\s*"process"/);
  });
});

describe("-P threads and -P process on Node and Deno: hard time limit, values", () => {
  let c: Cluster;
  before(() => {
    c = cluster();
  });
  after(async () => {
    await c.dispose();
  });
  for (const [runtime, pool] of [["node", "threads"], ["deno", "threads"], ["deno", "process"]] as const) {
    it(`${runtime}: -P ${pool} stops a looping task at its hard time limit and keeps serving`, async () => {
      const w = await spawnWorker(["-A", POOL_TASKS, "-P", pool, "-c", "2", "-n", `${runtime}-${pool}@${c.name}`], { env: c.env, runtime });
      try {
        assert.match(w.output(), new RegExp(`\\.> concurrency: 2 \\(${pool}\\)`));
        const r = await c.app.sendTask("forever", []);
        assert.equal((await failureOf(c, r.id, 30)).remoteType, "TimeLimitExceeded");
        const v = new Map<string, unknown>([["when", new Date(7)], ["big", 2n ** 70n]]);
        assert.deepEqual(await (await c.app.sendTask("echo", [v])).get({ timeout: 20 }), v);
      } finally {
        await stopProc(w);
      }
    });
  }
});

describe("worker pool flags", () => {
  let c: Cluster;
  before(() => {
    c = cluster();
  });
  after(async () => {
    await c.dispose();
  });

  it("a bad flag exits 64 or 78 and names it; the banner shows autoscale's bounds", async () => {
    const bad = await runCli(["worker", "-A", POOL_TASKS, "--autoscale", "3"], { env: c.env });
    assert.equal(bad.code, 64, bad.output);
    assert.match(bad.output, /--autoscale: expected max,min/);
    const perChild = await runCli(["worker", "-A", POOL_TASKS, "--max-tasks-per-child", "5"], { env: c.env });
    assert.equal(perChild.code, 78, perChild.output);
    assert.match(perChild.output, /maxTasksPerChild/);
    const pool = await runCli(["worker", "-A", POOL_TASKS, "-P", "gevent"], { env: c.env });
    assert.equal(pool.code, 78, pool.output);
    assert.match(pool.output, /pool.*"gevent"/);
    const w = await spawnWorker([
      "-A",
      POOL_TASKS,
      "-P",
      "threads",
      "--autoscale",
      "3,1",
      "--max-tasks-per-child",
      "5",
      "-n",
      `flags@${c.name}`,
    ], { env: c.env });
    try {
      assert.match(w.output(), /\.> concurrency: \{min=1, max=3\} 1 \(threads\)/);
    } finally {
      await stopProc(w);
    }
  });
});
