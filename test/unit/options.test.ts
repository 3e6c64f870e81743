import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileAppOptions } from "../../src/options.ts";
import { compileWorkerOptions } from "../../src/worker/options.ts";
import { compileTaskOptions } from "../../src/task-options.ts";
import { Celeriac, ConfigError } from "../../src/mod.ts";

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return (err as ConfigError).field;
  }
  assert.fail("expected a ConfigError");
}

describe("options", () => {
  it("bad app options fail at once and name the field", () => {
    assert.equal(fieldOf(() => new Celeriac({ brokerUrl: "nats//nope" })), "brokerUrl");
    assert.equal(fieldOf(() => new Celeriac({ brokerUrl: "amqp://localhost" })), "brokerUrl");
    assert.equal(fieldOf(() => new Celeriac({ resultBackend: "postgres://x" })), "resultBackend");
    assert.equal(fieldOf(() => new Celeriac({ name: "has space" })), "name");
    assert.equal(fieldOf(() => new Celeriac({ defaultQueue: "a.b" })), "defaultQueue");
    assert.equal(fieldOf(() => new Celeriac({ resultExpires: -1 })), "resultExpires");
    assert.equal(fieldOf(() => new Celeriac({ resultExpires: 0 })), "resultExpires");
    assert.equal(fieldOf(() => new Celeriac({ broker: { ackWait: 0 } })), "broker.ackWait");
    assert.equal(fieldOf(() => new Celeriac({ broker: { maxDeliver: 0 } })), "broker.maxDeliver");
    assert.equal(fieldOf(() => new Celeriac({ taskRoutes: { "a.*": { queue: "bad queue" } } })), 'taskRoutes["a.*"].queue');
    assert.equal(fieldOf(() => new Celeriac({ resultSerializer: "pickle" as never })), "resultSerializer");
  });

  it("bad worker options fail at once and name the field", () => {
    assert.equal(fieldOf(() => compileWorkerOptions({ concurrency: 0 }, "celery")), "concurrency");
    assert.equal(fieldOf(() => compileWorkerOptions({ concurrency: 1.5 }, "celery")), "concurrency");
    assert.equal(fieldOf(() => compileWorkerOptions({ pool: "gevent" as never }, "celery")), "pool");
    assert.equal(fieldOf(() => compileWorkerOptions({ queues: ["ok", "not ok"] }, "celery")), "queues[1]");
    assert.equal(fieldOf(() => compileWorkerOptions({ queues: [] }, "celery")), "queues");
    assert.equal(fieldOf(() => compileWorkerOptions({ hostname: "a b" }, "celery")), "hostname");
    assert.equal(fieldOf(() => compileWorkerOptions({ queues: ["a", "b", "c"], concurrency: 2 }, "celery")), "concurrency");
    const app = new Celeriac({ brokerUrl: "memory://", resultBackend: "memory://" });
    assert.equal(fieldOf(() => app.worker({ concurrency: 0 })), "concurrency");
  });

  it("bad task options name the task and the field", () => {
    const app = { acksLate: true, trackStarted: false };
    assert.equal(fieldOf(() => compileTaskOptions({ name: "" }, app)), "name");
    assert.equal(fieldOf(() => compileTaskOptions({ name: "t", maxRetries: -1 }, app)), "task t: maxRetries");
    assert.equal(fieldOf(() => compileTaskOptions({ name: "t", timeLimit: 0 }, app)), "task t: timeLimit");
    assert.equal(fieldOf(() => compileTaskOptions({ name: "t", queue: "x y" }, app)), "task t: queue");
    assert.equal(fieldOf(() => compileTaskOptions({ name: "t", autoretryFor: [42 as never] }, app)), "task t: autoretryFor");
  });

  it("environment overrides code, as in Celery", () => {
    const env: Record<string, string> = { CELERIAC_BROKER_URL: "nats://10.0.0.1:4222", CELERIAC_NAME: "fromenv" };
    const c = compileAppOptions({ name: "code", brokerUrl: "nats://127.0.0.1:4222" }, (n) => env[n]);
    assert.equal(c.brokerUrl, "nats://10.0.0.1:4222");
    assert.equal(c.name, "fromenv");
    assert.equal(c.resultBackend, "redis://127.0.0.1:6379/0");
    assert.equal(c.names.streamFor("celery"), "FROMENV_TASKS");
  });

  it("converts seconds to milliseconds once", () => {
    const c = compileAppOptions({ resultExpires: 10, broker: { ackWait: 2 } });
    assert.equal(c.backend.resultExpiresMs, 10_000);
    assert.equal(c.broker.ackWaitMs, 2_000);
    assert.equal(compileAppOptions({ resultExpires: null }).backend.resultExpiresMs, null);
    assert.equal(compileAppOptions({ resultExpires: 0.0015 }).backend.resultExpiresMs, 2, "whole milliseconds, rounded up");
  });

  it("routes by exact name, then glob, then nothing", () => {
    const c = compileAppOptions({
      taskRoutes: { "emails.send": { queue: "mail" }, "emails.*": { queue: "bulk" }, "*.report": { queue: "reports" } },
    });
    assert.equal(c.route("emails.send"), "mail");
    assert.equal(c.route("emails.digest"), "bulk");
    assert.equal(c.route("daily.report"), "reports");
    assert.equal(c.route("add"), undefined);
    const f = compileAppOptions({ taskRoutes: (n) => (n.startsWith("x") ? { queue: "xq" } : undefined) });
    assert.equal(f.route("xray"), "xq");
    assert.equal(f.route("y"), undefined);
  });
});
