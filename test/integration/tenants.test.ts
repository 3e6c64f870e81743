/**
 * examples/tenants.ts on NATS and Redis: a tenant id goes from the producer's context to the task
 * and on to its child through headers, and a failure reaches the error tracker tagged with it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { silentLogger, type Worker } from "celeriac";
import { cleanup, NATS_URL, REDIS_URL, uniqueName, waitFor } from "../helpers.ts";
import { createApp, type ErrorTracker, instrument, withTenant } from "../../examples/tenants.ts";

describe("examples/tenants.ts", () => {
  const name = uniqueName("tn");
  const keyPrefix = `${name}-`;
  const { app, tasks } = createApp({ name, brokerUrl: NATS_URL, resultBackend: REDIS_URL, resultKeyPrefix: keyPrefix });
  app.log = silentLogger;
  const captured: { error: unknown; tags: Record<string, string>; extra: Record<string, unknown> }[] = [];
  const tracker: ErrorTracker = { captureException: (error, c) => void captured.push({ error, ...c }) };
  let worker: Worker;

  before(async () => {
    instrument(app, tracker);
    worker = app.worker({ hostname: "tenants@test" });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await app.close();
    await cleanup(name, keyPrefix);
  });

  it("the tenant id travels from the producer to the task and to the task's child", async () => {
    const r = await withTenant("acme", () => tasks.invoice.delay(42));
    const { tenant, notice } = await r.get({ timeout: 10 });
    assert.equal(tenant, "acme");
    assert.equal(await app.AsyncResult<string>(notice).get({ timeout: 10 }), "acme: invoice of 42");
    // Another tenant's call at the same time is its own.
    const [a, b] = await Promise.all([
      withTenant("globex", () => tasks.notify.delay("x")),
      withTenant("initech", () => tasks.notify.delay("y")),
    ]);
    assert.deepEqual(await Promise.all([a.get({ timeout: 10 }), b.get({ timeout: 10 })]), ["globex: x", "initech: y"]);
    const none = await tasks.notify.delay("z");
    assert.equal(await none.get({ timeout: 10 }), "null: z");
  });

  it("a failure is reported to the tracker with its task, tenant and worker", async () => {
    const r = await withTenant("acme", () => tasks.charge.delay(500));
    await assert.rejects(r.get({ timeout: 10 }));
    const report = await waitFor(() => captured.find((c) => c.extra.id === r.id), { what: "the tracker's report" });
    assert.ok(report.error instanceof RangeError);
    assert.deepEqual(report.tags, { task: "charge", tenant: "acme", worker: "tenants@test" });
    assert.deepEqual(report.extra.args, [500]);
  });
});
