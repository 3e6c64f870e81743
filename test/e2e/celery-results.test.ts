/**
 * Python Celery 5 waiting on celeriac results: with `resultKeyPrefix: "celery-"` and JSON results,
 * `AsyncResult(id).get()` called before the task finishes returns when it does (Celery's Redis
 * backend waits for a PUBLISH on the key's channel), and a failure raises with the remote type
 * and message. The real Celery from Debian (python3-celery); a private Redis.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { Redis } from "ioredis";
import type { Worker } from "celeriac";
import { privateRedis, type PrivateServer, ROOT, spawnProc, type TestApp, testApp, waitFor } from "../helpers.ts";

const PY = "/usr/bin/python3";
const missing = spawnSync(PY, ["-c", "import celery, redis"], { stdio: "ignore" }).status === 0
  ? false
  : "Debian's python3-celery and python3-redis are not installed (.ci/run installs them)";

describe("Python Celery waits on celeriac results", { skip: missing }, () => {
  let redis: PrivateServer;
  let t: TestApp;
  let worker: Worker;
  let probe: Redis;
  const gates = new Map<string, () => void>();
  const gate = (id: string) => new Promise<void>((resolve) => gates.set(id, resolve));

  before(async () => {
    redis = await privateRedis();
    probe = new Redis(redis.url);
    t = testApp({ prefix: "pyc", resultBackend: redis.url, resultKeyPrefix: "celery-", resultSerializer: "json" });
    t.app.task({ name: "gated_add", bind: true }, async (ctx, a: number, b: number) => {
      await gate(ctx.id);
      return a + b;
    });
    t.app.task({ name: "gated_boom", bind: true }, async (ctx) => {
      await gate(ctx.id);
      throw new RangeError("out of range: 11");
    });
    worker = t.app.worker({ concurrency: 4 });
    await worker.start();
  });

  after(async () => {
    await worker?.stop();
    await t?.dispose();
    probe?.disconnect();
    await redis?.dispose();
  });

  /** Starts Python's get() on `id`, lets the task finish once Celery listens, returns what Python printed. */
  async function pythonWaits(id: string): Promise<Record<string, unknown>> {
    const py = spawnProc(PY, [path.join(ROOT, "test/fixtures/celery_wait.py"), redis.url, id, "30"]);
    try {
      // Celery subscribes to the key's channel when get() starts waiting: only then may the task end,
      // so the result can reach Python only through the PUBLISH (not by the read before it waits).
      const channel = `celery-task-meta-${id}`;
      await waitFor(async () => Number((await probe.pubsub("NUMSUB", channel))[1]) > 0, {
        timeoutMs: 30_000,
        what: `Celery subscribed to ${channel} (python said: ${py.output()})`,
      });
      assert.equal(await probe.exists(channel), 0, "no result stored before Python waits");
      await waitFor(() => gates.has(id), { what: "the task running" });
      gates.get(id)!();
      await py.exited;
      const lines = py.output().trim().split("\n");
      return JSON.parse(lines[lines.length - 1]);
    } finally {
      py.kill("SIGKILL");
    }
  }

  it("get() called before the task finishes returns its result", async () => {
    const r = await t.app.sendTask("gated_add", [20, 22]);
    assert.deepEqual(await pythonWaits(r.id), { value: 42 });
  });

  it("get() of a failing task raises with the remote type and message", async () => {
    const r = await t.app.sendTask("gated_boom", []);
    assert.deepEqual(await pythonWaits(r.id), { type: "RangeError", message: "out of range: 11" });
  });
});
