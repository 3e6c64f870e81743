import { describe, it } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import { compileWorkerOptions } from "../../src/worker/options.ts";
import { ConfigError } from "../../src/mod.ts";
import { decodeFrame, encodeFrame, fromWire, toWire } from "../../src/worker/pool/protocol.ts";
import { ErrorCode, hasCode, TimeLimitExceeded } from "../../src/errors.ts";

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return (err as ConfigError).field;
  }
  assert.fail("expected a ConfigError");
}

const mod = "file:///app/tasks.ts";

describe("pool options", () => {
  it("process and threads need the app module; paths become file URLs", () => {
    assert.equal(fieldOf(() => compileWorkerOptions({ pool: "process" }, "celery")), "appModule");
    assert.equal(fieldOf(() => compileWorkerOptions({ pool: "threads" }, "celery")), "appModule");
    assert.equal(compileWorkerOptions({ pool: "process", appModule: "/srv/app/tasks.ts" }, "celery").appModule, "file:///srv/app/tasks.ts");
    assert.equal(compileWorkerOptions({ pool: "threads", appModule: new URL(mod) }, "celery").appModule, mod);
  });

  it("a child pool defaults to one slot per core, the async pool to 16", () => {
    const cores = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
    assert.equal(compileWorkerOptions({ pool: "process", appModule: mod }, "celery").concurrency, cores);
    assert.equal(compileWorkerOptions({}, "celery").concurrency, 16);
  });

  it("limits, per-child limits and autoscale are validated and named", () => {
    assert.equal(fieldOf(() => compileWorkerOptions({ timeLimit: 0 }, "celery")), "timeLimit");
    assert.equal(fieldOf(() => compileWorkerOptions({ softTimeLimit: -1 }, "celery")), "softTimeLimit");
    assert.equal(fieldOf(() => compileWorkerOptions({ maxTasksPerChild: 3 }, "celery")), "maxTasksPerChild");
    assert.equal(
      fieldOf(() => compileWorkerOptions({ pool: "process", appModule: mod, maxMemoryPerChild: 0 }, "celery")),
      "maxMemoryPerChild",
    );
    assert.equal(fieldOf(() => compileWorkerOptions({ autoscale: [2, 3] }, "celery")), "autoscale");
    assert.equal(fieldOf(() => compileWorkerOptions({ autoscale: [4, 1], queues: ["a", "b"] }, "celery")), "autoscale");
    assert.equal(fieldOf(() => compileWorkerOptions({ autoscale: [4, 2], concurrency: 8 }, "celery")), "concurrency");
    const o = compileWorkerOptions({ autoscale: [8, 2], timeLimit: 30, pool: "threads", appModule: mod, maxTasksPerChild: 100 }, "celery");
    assert.deepEqual([o.concurrency, o.autoscale, o.timeLimitMs, o.maxTasksPerChild], [2, { max: 8, min: 2 }, 30_000, 100]);
  });
});

describe("pool frames", () => {
  it("values cross as on the wire; an error keeps its name, message, stack and code", () => {
    const value = { d: new Date(3), big: 5n, m: new Map([[1, new Set(["x"])]]), bytes: new Uint8Array([9]) };
    const f = decodeFrame(
      encodeFrame({ t: "done", call: 1, result: { kind: "success", value, runtimeMs: 1 }, children: null, memoryKiB: 0 }),
    );
    assert.deepEqual(f, { t: "done", call: 1, result: { kind: "success", value, runtimeMs: 1 }, children: null, memoryKiB: 0 });
    const e = fromWire(toWire(new TimeLimitExceeded(3)));
    assert.equal(e.name, "TimeLimitExceeded");
    assert.ok(hasCode(e, ErrorCode.TIME_LIMIT));
    class MyError extends Error {
      override name = "MyError";
    }
    const mine = fromWire(toWire(new MyError("boom")));
    assert.equal(mine.name, "MyError");
    assert.equal(mine.message, "boom");
    assert.match(mine.stack ?? "", /boom/);
  });
});
