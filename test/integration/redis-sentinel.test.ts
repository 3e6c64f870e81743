/**
 * Results through Redis Sentinel with passwords, as for plain Redis: the master's password in the
 * URL or in `backend.password`, the sentinels' own in `backend.sentinel.password`; the URL form
 * and the `backend.sentinel` form; wrong passwords fail at connect with a clear error.
 * 1 master, 2 replicas, 3 sentinels of our own on loopback.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Celeriac, CeleriacError, type CeleriacOptions, silentLogger } from "celeriac";
import { cleanup, NATS_URL, REDIS_URL, uniqueName } from "../helpers.ts";
import { MASTER, type SentinelSetup, sentinelSetup } from "../sentinel-helpers.ts";

describe("results through Redis Sentinel", () => {
  let setup: SentinelSetup;
  const apps: { app: Celeriac; name: string }[] = [];

  before(async () => {
    setup = await sentinelSetup({ password: "master-pw", sentinelPassword: "sentinel-pw" });
  });

  after(async () => {
    for (const { app, name } of apps) {
      await app.close();
      await cleanup(name, `${name}-`, { nats: NATS_URL, redis: REDIS_URL });
    }
    await setup?.dispose();
  });

  function app(opts: CeleriacOptions): Celeriac {
    const name = uniqueName("rsen");
    const a = new Celeriac({ name, brokerUrl: NATS_URL, resultKeyPrefix: `${name}-`, ...opts });
    a.log = silentLogger;
    a.task("add", (x: number, y: number) => x + y);
    apps.push({ app: a, name });
    return a;
  }

  async function roundTrip(a: Celeriac): Promise<void> {
    const worker = a.worker({ concurrency: 2 });
    await worker.start();
    try {
      const r = await a.sendTask<number>("add", [2, 3]);
      assert.equal(await r.get({ timeout: 20 }), 5);
    } finally {
      await worker.stop();
    }
  }

  const hosts = () => setup.sentinelPorts.map((p) => `127.0.0.1:${p}`);

  it("URL form: the master's password in the URL, the sentinels' in backend.sentinel; with waitReplicas 1", async () => {
    await roundTrip(app({
      resultBackend: `redis+sentinel://:master-pw@${hosts().join(",")}/${MASTER}/0`,
      backend: { sentinel: { password: "sentinel-pw" }, waitReplicas: 1 },
    }));
  });

  it("options form: backend.sentinel names the sentinels and the master, backend.password the master's password", async () => {
    await roundTrip(
      app({ backend: { password: "master-pw", sentinel: { sentinels: hosts(), masterName: MASTER, password: "sentinel-pw" } } }),
    );
  });

  it("a wrong master password fails at connect with ERR_AUTH", async () => {
    const a = app({
      resultBackend: `redis+sentinel://:wrong@${hosts().join(",")}/${MASTER}/0`,
      backend: { sentinel: { password: "sentinel-pw" } },
    });
    await assert.rejects(a.backend().then((b) => b.connect()), (e: unknown) => e instanceof CeleriacError && e.code === "ERR_AUTH");
  });

  it("no sentinel answering fails at connect with ERR_UNAVAILABLE", async () => {
    const a = app({ resultBackend: `redis+sentinel://127.0.0.1:1,127.0.0.1:2/${MASTER}/0` });
    await assert.rejects(a.backend().then((b) => b.connect()), (e: unknown) => e instanceof CeleriacError && e.code === "ERR_UNAVAILABLE");
  });

  it("a wrong sentinel password fails at connect with ERR_AUTH, naming backend.sentinel.password", async () => {
    const a = app({
      resultBackend: `redis+sentinel://:master-pw@${hosts().join(",")}/${MASTER}/0`,
      backend: { sentinel: { password: "wrong" } },
    });
    await assert.rejects(a.backend().then((b) => b.connect()), (e: unknown) => {
      assert.ok(e instanceof CeleriacError && e.code === "ERR_AUTH", String(e));
      assert.match(e.message, /backend\.sentinel\.password/);
      return true;
    });
  });
});
