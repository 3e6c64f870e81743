/**
 * Streams and consumers are created on first use, idempotently; a differing configuration is
 * updated where JetStream allows, and otherwise start fails saying what differs and how to fix it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, type JetStreamManager, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { ProvisioningError } from "celeriac";
import { NATS_URL, testApp, uniqueName, waitFor } from "../helpers.ts";

describe("provisioning", () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  before(async () => {
    nc = await connect({ servers: NATS_URL.replace("nats://", "") });
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    await nc.close();
  });

  it("creates stream and durable on first use; two workers starting at once agree", async () => {
    const t = testApp({ prefix: "prov" });
    t.app.task("add", (a: number, b: number) => a + b);
    const w1 = t.app.worker({ hostname: "w1@test" });
    const other = testApp({ name: t.name, resultKeyPrefix: t.keyPrefix });
    other.app.task("add", (a: number, b: number) => a + b);
    const w2 = other.app.worker({ hostname: "w2@test" });
    try {
      await Promise.all([w1.start(), w2.start()]);
      const info = await jsm.streams.info(`${t.name.toUpperCase()}_TASKS`);
      assert.equal(info.config.retention, RetentionPolicy.Workqueue);
      const ci = await jsm.consumers.info(`${t.name.toUpperCase()}_TASKS`, "q_celery");
      assert.equal(ci.config.ack_policy, AckPolicy.Explicit);
      assert.equal(ci.config.filter_subject, `${t.name}.tasks.celery`);
      assert.equal(await (await t.app.tasks.get("add")!.delay(1, 2)).get({ timeout: 10 }), 3);
    } finally {
      await Promise.all([w1.stop(), w2.stop()]);
      await other.app.close();
      await t.dispose();
    }
  });

  it("a stream with another retention stops start with what differs and how to fix it", async () => {
    const name = uniqueName("prov");
    const stream = `${name.toUpperCase()}_TASKS`;
    await jsm.streams.add({ name: stream, subjects: [`${name}.tasks.>`], retention: RetentionPolicy.Limits });
    const t = testApp({ name });
    try {
      await assert.rejects(t.app.worker().start(), (e: unknown) => {
        assert.ok(e instanceof ProvisioningError);
        assert.match(e.message, new RegExp(`stream ${stream} exists`));
        assert.match(e.message, /retention is limits, celeriac needs workqueue/);
        assert.match(e.message, /nats stream rm/);
        return true;
      });
    } finally {
      await t.dispose();
    }
  });

  it("a consumer with another ack wait is updated in place", async () => {
    const t = testApp({ prefix: "prov", broker: { ackWait: 7 } });
    const stream = `${t.name.toUpperCase()}_TASKS`;
    try {
      await (await t.app.broker()).ensurePublishable("celery");
      await jsm.consumers.add(stream, {
        durable_name: "q_celery",
        filter_subject: `${t.name}.tasks.celery`,
        ack_policy: AckPolicy.Explicit,
        ack_wait: 60_000_000_000,
      });
      const w = t.app.worker();
      await w.start();
      assert.equal((await jsm.consumers.info(stream, "q_celery")).config.ack_wait, 7_000_000_000);
      await w.stop();
    } finally {
      await t.dispose();
    }
  });

  it("a consumer with another filter cannot be changed: start fails naming it", async () => {
    const t = testApp({ prefix: "prov" });
    const stream = `${t.name.toUpperCase()}_TASKS`;
    try {
      await (await t.app.broker()).ensurePublishable("celery");
      await jsm.consumers.add(stream, {
        durable_name: "q_celery",
        filter_subject: `${t.name}.tasks.elsewhere`,
        ack_policy: AckPolicy.Explicit,
      });
      await assert.rejects(t.app.worker().start(), /filter_subject is ".*elsewhere", celeriac needs ".*celery".*nats consumer rm/s);
    } finally {
      await t.dispose();
    }
  });

  it("a durable deleted under a running worker is created again and work continues", async () => {
    const t = testApp({ prefix: "prov" });
    t.app.task("add", (a: number, b: number) => a + b);
    const w = t.app.worker();
    try {
      await w.start();
      await jsm.consumers.delete(`${t.name.toUpperCase()}_TASKS`, "q_celery");
      await waitFor(() => jsm.consumers.info(`${t.name.toUpperCase()}_TASKS`, "q_celery").then(() => true, () => false), {
        what: "the durable to be recreated",
        timeoutMs: 20_000,
      });
      assert.equal(await (await t.app.tasks.get("add")!.delay(2, 2)).get({ timeout: 20 }), 4);
    } finally {
      await w.stop();
      await t.dispose();
    }
  });

  it("streams removed under a producer are created again by its next publish (a 503 that means: no stream)", async () => {
    const t = testApp({ prefix: "prov" });
    const P = t.name.toUpperCase();
    try {
      await t.app.sendTask("add", [1, 1]);
      await t.app.sendTask("add", [1, 1], { countdown: 60 });
      await jsm.streams.delete(`${P}_TASKS`);
      await jsm.streams.delete(`${P}_DELAYED`);
      // The producer still believes both exist: its publishes get 503, the background check finds
      // them gone, provisions them again, and the retried publishes land.
      const now = await t.app.sendTask("add", [2, 2]);
      const later = await t.app.sendTask("add", [3, 3], { countdown: 60 });
      assert.equal((await jsm.streams.info(`${P}_TASKS`)).state.messages, 1, `${now.id} stored`);
      assert.equal((await jsm.streams.info(`${P}_DELAYED`)).state.messages, 1, `${later.id} stored`);
    } finally {
      await t.dispose();
    }
  });
});
