/**
 * The process and threads pools in a worker started in code, on real NATS and Redis: values and
 * the bound context cross a child's boundary, limits stop tasks for real, dead children are
 * replaced, children are recycled (maxTasksPerChild, maxMemoryPerChild), `inspect stats` lists
 * them, and autoscale moves the pool between its bounds.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Redis } from "ioredis";
import { SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { cleanup, NATS_URL, REDIS_URL, uniqueName, waitFor } from "../helpers.ts";
import { type Celeriac, createLogger, silentLogger, TaskError, type Worker } from "celeriac";

const name = uniqueName("pools");
const prefix = `${name}-`;
const MODULE = new URL("../fixtures/pool-tasks.ts", import.meta.url);
let app: Celeriac;
const redis = new Redis(REDIS_URL);

/** The error a failed result raises. */
async function failure(id: string, timeout = 20): Promise<TaskError> {
  const err = await app.AsyncResult(id).get({ timeout }).then(() => null, (e) => e);
  assert.ok(err instanceof TaskError, `expected a task failure, got ${err}`);
  return err;
}

async function call(task: string, args: unknown[] = [], timeout = 20): Promise<unknown> {
  return await (await app.sendTask(task, args)).get({ timeout });
}

/** The pool's children as `inspect stats` reports them. */
async function children(w: Worker): Promise<{ tasks: number; pid?: number; thread?: number }[]> {
  const replies = await app.control.stats({ timeout: 2, destination: [w.hostname] });
  const pool = (replies[w.hostname] as { pool: { children: { tasks: number }[] } }).pool;
  return pool.children;
}

before(async () => {
  // The fixture reads its key prefix from the environment, in this process and in its children.
  process.env.T_KEY_PREFIX = prefix;
  ({ app } = await import(MODULE.href) as { app: Celeriac });
  app.configure({ name, brokerUrl: NATS_URL, resultBackend: REDIS_URL });
  app.log = process.env.TEST_LOG ? createLogger(process.env.TEST_LOG as "info") : silentLogger;
});

after(async () => {
  await app.close();
  redis.disconnect();
  await cleanup(name, prefix);
});

for (const pool of ["process", "threads"] as const) {
  describe(`${pool} pool`, () => {
    let w: Worker;
    before(async () => {
      w = app.worker({ pool, appModule: MODULE, concurrency: 2, hostname: `${pool}@${name}`, heartbeatInterval: 0.5 });
      await w.start();
    });
    after(async () => {
      await w.stop();
    });

    it("arguments and results cross with the codec; errors keep their class name for autoretryFor", async () => {
      const v = { when: new Date(1234), big: 2n ** 64n, map: new Map([["k", new Set([1, 2])]]), bytes: new Uint8Array([1, 2, 3]) };
      assert.deepEqual(await call("echo", [v]), v);
      assert.equal(await call("flaky"), 1, "RangeError matched autoretryFor after crossing; the retry ran");
      const w1 = await call("where") as { pid: number; thread: number };
      if (pool === "process") assert.notEqual(w1.pid, process.pid);
      else assert.ok(w1.pid === process.pid && w1.thread > 0);
    });

    it("the bound context works in a child: retry, updateState, a task sent from the task (through the parent)", async () => {
      const r = await app.sendTask("bound", [41]);
      const v = await r.get({ timeout: 20 }) as { id: string; retries: number; child: string; aborted: boolean };
      assert.equal(v.id, r.id);
      assert.equal(v.retries, 1);
      assert.equal(v.aborted, false);
      assert.equal(await app.AsyncResult(v.child).get({ timeout: 20 }), 42);
      const rec = await (await app.backend()).get(r.id);
      assert.ok(rec?.children?.some((c) => JSON.stringify(c).includes(v.child)), "the result lists the child it sent");
    });

    it("the soft limit aborts ctx.signal; the hard limit kills the child and the pool replaces it", async () => {
      const soft = await app.sendTask("patient", [], { softTimeLimit: 0.3 });
      assert.equal(await soft.get({ timeout: 20 }), "SoftTimeLimitExceeded");
      const before = (await children(w)).map((c) => c.pid ?? c.thread);
      const r = await app.sendTask("forever", [], { timeLimit: 0.5 });
      assert.equal((await failure(r.id)).remoteType, "TimeLimitExceeded");
      const now = await waitFor(async () => {
        const ids = (await children(w)).map((c) => c.pid ?? c.thread);
        return ids.length === 2 ? ids : null;
      }, { what: "two children again" });
      assert.equal(now.filter((id) => !before.includes(id)).length, 1, "one child was replaced");
      assert.equal(await call("add", [1, 2]), 3);
    });

    it("revoke with terminate stops synchronous code; a dying child costs WorkerLostError or, with rejectOnWorkerLost, a redelivery", async () => {
      const r = await app.sendTask("spin", [60_000]);
      await waitFor(() => redis.hget(`${prefix}spin-starts`, r.id), { what: "spin running" });
      await app.revoke(r.id, { terminate: true });
      assert.equal((await failure(r.id)).state, "REVOKED");
      const died = await app.sendTask("die", []);
      assert.equal((await failure(died.id)).remoteType, "WorkerLostError");
      const again = await app.sendTask("die-requeued", []);
      assert.equal(await again.get({ timeout: 30 }), "second time lucky");
      assert.equal(await redis.hget(`${prefix}die-requeued`, again.id), "2", "it ran twice: the second delivery succeeded");
    });
  });
}

describe("children are recycled", () => {
  for (const pool of ["process", "threads"] as const) {
    it(`${pool}: maxTasksPerChild 2 replaces a child after its second task`, async () => {
      const w = app.worker({ pool, appModule: MODULE, concurrency: 1, maxTasksPerChild: 2, hostname: `mtpc-${pool}@${name}` });
      await w.start();
      try {
        const ids: number[] = [];
        for (let i = 0; i < 4; i++) {
          const v = await call("where") as { pid: number; thread: number };
          ids.push(pool === "process" ? v.pid : v.thread);
        }
        assert.equal(ids[0], ids[1]);
        assert.equal(ids[2], ids[3]);
        assert.notEqual(ids[1], ids[2]);
      } finally {
        await w.stop();
      }
    });

    it(`${pool}: maxMemoryPerChild replaces a child after the task that crossed it`, async () => {
      const w = app.worker({ pool, appModule: MODULE, concurrency: 1, maxMemoryPerChild: 400_000, hostname: `mmpc-${pool}@${name}` });
      await w.start();
      try {
        const key = pool === "process" ? "pid" : "thread";
        const first = (await call("where") as Record<string, number>)[key];
        assert.equal((await call("where") as Record<string, number>)[key], first, "under the limit: the same child");
        assert.equal((await call("hog", [500_000]) as Record<string, number>)[key], first, "the task that crosses it finishes");
        assert.notEqual((await call("where") as Record<string, number>)[key], first, "then the child is replaced");
      } finally {
        await w.stop();
      }
    });
  }
});

describe("autoscale", () => {
  it("grows while tasks wait, shrinks when idle, and follows the autoscale command (process pool)", async () => {
    const w = app.worker({ pool: "process", appModule: MODULE, autoscale: [3, 1], autoscaleKeepalive: 1, hostname: `auto@${name}` });
    await w.start();
    try {
      assert.equal(w.concurrency, 1);
      const rs = await Promise.all(Array.from({ length: 6 }, () => app.sendTask("spin", [3_000])));
      await waitFor(() => w.concurrency === 3, { timeoutMs: 15_000, what: "grown to 3" });
      // Children start while the tasks run (slowly on a loaded machine): the most seen at once.
      let most = 0;
      const all = Promise.all(rs.map((r) => r.get({ timeout: 60 })));
      let done = false;
      void all.finally(() => (done = true));
      while (!done) {
        most = Math.max(most, (await children(w)).length);
        assert.ok(w.active <= 3, `${w.active} running on 3 slots`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await all;
      assert.equal(most, 3, "three children ran at once");
      await waitFor(() => w.concurrency === 1, { timeoutMs: 15_000, what: "shrunk to 1" });
      await waitFor(async () => (await children(w)).length === 1, { timeoutMs: 15_000, what: "1 child" });
      const replies = await app.control.autoscale(4, 2, { timeout: 2, destination: [w.hostname] });
      assert.deepEqual(replies[w.hostname], { ok: "autoscale now max=4 min=2" });
      assert.equal(w.concurrency, 2);
    } finally {
      await w.stop();
    }
  });
});

describe("a module that starts its own worker when imported", () => {
  it("is refused inside the pool's children, so the worker's start fails and says how to fix it", async () => {
    process.env.CELERIAC_NAME = name; // the fixture's app: this test's names, cleaned up with them
    try {
      const err = await import(new URL("../fixtures/pool-self-start.ts", import.meta.url).href).then(() => null, (e) => e);
      assert.match(String(err?.message), /appModule.*pool child.*isPoolChild/s);
    } finally {
      delete process.env.CELERIAC_NAME;
    }
  });
});

describe("tracing through a child", () => {
  it("a task sent from a task in a process-pool child is published in that task's trace, under its span", async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
    const w = app.worker({ pool: "process", appModule: MODULE, concurrency: 1, hostname: `trace@${name}` });
    await w.start();
    try {
      const r = await app.sendTask("sends", [1]);
      const childId = await r.get({ timeout: 20 }) as string;
      assert.equal(await app.AsyncResult(childId).get({ timeout: 20 }), 2);
      const span = (kind: SpanKind, id: string) =>
        waitFor(() => exporter.getFinishedSpans().find((s) => s.kind === kind && s.attributes["messaging.message.id"] === id), {
          what: `span of ${id}`,
        });
      const processSpan = await span(SpanKind.CONSUMER, r.id);
      const publishChild = await span(SpanKind.PRODUCER, childId);
      assert.equal(publishChild.spanContext().traceId, processSpan.spanContext().traceId);
      assert.equal(publishChild.parentSpanContext?.spanId, processSpan.spanContext().spanId);
    } finally {
      await w.stop();
      trace.disable();
    }
  });
});
