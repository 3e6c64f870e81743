/**
 * A chord survives a worker death: the header task the dead worker was running is redelivered to
 * another worker, and the body runs exactly once. A header task that kills every worker it runs on
 * fails the chord once maxDeliver is reached, as any other failure of a member does.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chord } from "celeriac";
import { spawnWorker, stopProc, waitFor } from "../helpers.ts";
import { cluster, supervise, TASKS } from "./e2e-helpers.ts";

describe("canvas faults", () => {
  it("a header task whose worker is SIGKILLed mid-run: the body still runs exactly once", async () => {
    const c = cluster({ ackWait: 2 });
    const sleepy = c.app.task({ name: "sleepy" }, (_ms: number) => null); // the producer's view of the fixture tasks
    const gather = c.app.task({ name: "gather" }, (_xs: unknown[]): unknown => null);
    const a = await spawnWorker(["-A", TASKS, "-c", "4", "-n", "a@%h"], { env: c.env });
    let b: Awaited<ReturnType<typeof spawnWorker>> | null = null;
    try {
      const r = await chord([sleepy.s(1500), sleepy.s(1500), sleepy.s(1500)], gather.s()).applyAsync();
      await waitFor(async () => (await c.redis.llen(`${c.prefix}started`)) >= 3, { what: "the header running on a" });
      a.kill("SIGKILL");
      await a.exited;
      b = await spawnWorker(["-A", TASKS, "-c", "4", "-n", "b@%h"], { env: c.env });
      const results = (await r.get({ timeout: 60 })) as { pid: number }[];
      assert.equal(results.length, 3);
      assert.ok(results.every((x) => x.pid === b!.pid), "the header was finished by the surviving worker");
      assert.equal(await c.redis.hget(`${c.prefix}runs`, r.id), "1", "the body ran once");
    } finally {
      if (b) await stopProc(b);
      await c.dispose();
    }
  });

  it("a header task that kills its worker every time: dead-lettered after maxDeliver, and the chord fails", async () => {
    const c = cluster({ ackWait: 1 });
    const env = { ...c.env, T_MAX_DELIVER: "2" };
    const add = c.app.task({ name: "add" }, (_a: number, _b: number): number => 0);
    const crash = c.app.task({ name: "crash" }, (): null => null);
    const gather = c.app.task({ name: "gather" }, (_xs: unknown[]): unknown => null);
    const workers = supervise(env);
    try {
      await waitFor(() => workers.current !== null, { what: "a worker" });
      const r = await chord([add.s(1, 1), crash.s()], gather.s()).applyAsync();
      const err = await r.get({ timeout: 60, propagate: false });
      assert.ok(err instanceof Error, `the chord failed (got ${JSON.stringify(err)})`);
      assert.match(err.message, /Dependency .* raised DeliveryLimitExceeded/);
      assert.equal(await c.redis.hget(`${c.prefix}runs`, r.id), null, "the body never ran");
    } finally {
      await workers.stop();
      await c.dispose();
    }
  });
});
