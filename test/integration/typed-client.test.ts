/**
 * The typed client at run time: a producer that knows the tasks only by type sends them by name
 * to a worker that has them (real NATS and Redis). The typing itself is tested in test/types/.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chain, NotRegisteredError, type Worker } from "celeriac";
import { type TestApp, testApp } from "../helpers.ts";

/** The worker's tasks; the producer below sees only `typeof` this. */
function defineTasks(t: TestApp) {
  return {
    add: t.app.task("add", (a: number, b: number) => a + b),
    double: t.app.task({ name: "math.double", queue: "math" }, (n: number) => n * 2),
  };
}

describe("typed client", () => {
  let worker: TestApp;
  let producer: TestApp;
  let w: Worker;

  before(async () => {
    worker = testApp({ prefix: "tc", taskRoutes: { "math.*": { queue: "math" } } });
    defineTasks(worker);
    w = worker.app.worker({ queues: ["celery", "math"], concurrency: 4 });
    await w.start();
    // Same namespace, no tasks registered: it routes by name and the app's routes.
    producer = testApp({ name: worker.name, taskRoutes: { "math.*": { queue: "math" } } });
  });

  after(async () => {
    await w.stop();
    await producer.app.close();
    await worker.dispose();
  });

  it("sendTask by name returns the worker's result", async () => {
    const client = producer.app.client<ReturnType<typeof defineTasks>>();
    assert.equal(producer.app.tasks.has("add"), false);
    const r = await client.sendTask("add", [2, 3]);
    assert.equal(await r.get({ timeout: 10 }), 5);
  });

  it("a task stand-in routes like app.sendTask and builds signatures", async () => {
    const client = producer.app.client<ReturnType<typeof defineTasks>>();
    const r = await chain(client.task("add").s(1, 2), client.task("math.double").s()).applyAsync();
    assert.equal(await r.get({ timeout: 10 }), 6);
    assert.equal(await (await client.task("math.double").delay(21)).get({ timeout: 10 }), 42);
  });

  it("a stand-in cannot run in the producer", () => {
    const client = producer.app.client<ReturnType<typeof defineTasks>>();
    const stub = client.task("add") as unknown as { call(ctx: unknown, args: unknown[], kwargs: object): unknown };
    assert.throws(() => stub.call({}, [1, 2], {}), NotRegisteredError);
  });
});
