/**
 * The broker contract, run against the JetStream adapter (real nats-server) and the memory
 * adapter: what the worker relies on, stated once.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Broker, Delivery, ExhaustedMessage } from "../../src/broker/types.ts";
import { JetStreamBroker } from "../../src/broker/jetstream/broker.ts";
import { memoryBroker } from "../../src/broker/memory.ts";
import { namesFor } from "../../src/names.ts";
import { encodeTaskMessage, Header } from "../../src/protocol/message.ts";
import { cleanup, NATS_URL, uniqueName, waitFor } from "../helpers.ts";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";

const settings = {
  ackWaitMs: 1_000,
  maxDeliver: 3,
  maxAckPending: 1000,
  duplicateWindowMs: 60_000,
  dlqMaxAgeMs: 3_600_000,
  replicas: 1,
  publishTimeoutMs: 5_000,
};

const adapters: [string, (name: string) => Broker][] = [
  ["memory", (name) => memoryBroker("memory://", namesFor(name), settings)],
  // No periodic rescan of priority levels within a test: only the doorbell may wake an idle consumer.
  [
    "jetstream",
    (name) =>
      new JetStreamBroker({ url: NATS_URL, names: namesFor(name), settings, connectionName: "contract", priority: { rescanMs: 600_000 } }),
  ],
];

function message(id: string, task = "t", priority?: number) {
  return encodeTaskMessage({ id, task, args: [id], kwargs: {}, embed: null, retries: 0, priority });
}

/** Collects deliveries of a queue. */
function collector() {
  const got: Delivery[] = [];
  const exhausted: ExhaustedMessage[] = [];
  const returned: number[] = [];
  const errors: Error[] = [];
  return {
    got,
    exhausted,
    returned,
    errors,
    handlers: {
      onDelivery: (d: Delivery) => got.push(d),
      onExhausted: (e: ExhaustedMessage) => exhausted.push(e),
      onReturned: (n: number) => returned.push(n),
      onError: (e: Error) => errors.push(e),
    },
  };
}

for (const [kind, make] of adapters) {
  describe(`broker contract: ${kind}`, () => {
    let name: string;
    let broker: Broker;
    before(async () => {
      name = uniqueName("bc");
      broker = make(name);
      await broker.connect();
    });
    after(async () => {
      await broker.close();
      if (kind === "jetstream") await cleanup(name, `${name}-`);
    });

    it("delivers a published message with its headers and body, once acked it is gone", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      const r = await broker.publish(q, message("m1"), "m1");
      assert.equal(r.duplicate, false);
      const c = collector();
      const consumer = await broker.consume(q, c.handlers);
      consumer.grant(1);
      const d = await waitFor(() => c.got[0], { what: "delivery" });
      assert.equal(d.header(Header.TASK), "t");
      assert.equal(d.header(Header.ID), "m1");
      assert.equal(d.deliveryCount, 1);
      assert.deepEqual([...d.body], [...message("m1").body]);
      d.ack();
      await waitFor(async () => (await broker.queueStats(q)).inFlight === 0, { what: "ack to land" });
      assert.equal((await broker.queueStats(q)).pending, 0);
      await consumer.stop();
    });

    it("delivers no more than the credit granted", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      for (let i = 0; i < 5; i++) await broker.publish(q, message(`c${i}`), `c${i}`);
      const c = collector();
      const consumer = await broker.consume(q, c.handlers);
      consumer.grant(2);
      await waitFor(() => c.got.length === 2, { what: "2 deliveries" });
      // the other three stay at the broker while no credit is granted
      await waitFor(async () => (await broker.queueStats(q)).pending === 3, { what: "3 pending" });
      const age = (await broker.queueStats(q)).oldestAgeMs;
      assert.ok(typeof age === "number" && age >= 0 && age < 60_000, `the oldest message's age (${age})`);
      assert.equal(c.got.length, 2);
      c.got.forEach((d) => d.ack());
      consumer.grant(3);
      await waitFor(() => c.got.length === 5, { what: "the rest" });
      c.got.forEach((d) => d.ack());
      await consumer.stop();
    });

    it("delivers higher priority levels first, each level in send order", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      const sent: [string, number][] = [["a0", 0], ["b0", 0], ["c5", 5], ["d9", 9], ["e0", 0], ["f5", 5], ["g1", 1]];
      for (const [id, p] of sent) await broker.publish(q, message(id, "t", p), id);
      const c = collector();
      const consumer = await broker.consume(q, c.handlers);
      consumer.grant(sent.length);
      await waitFor(() => c.got.length === sent.length, { what: "all deliveries" });
      assert.deepEqual(c.got.map((d) => d.header(Header.ID)), ["d9", "c5", "f5", "g1", "a0", "b0", "e0"]);
      assert.equal(c.got[0]!.header(Header.PRIORITY), "9");
      for (const d of c.got) d.ack();
      await consumer.stop();
    });

    it("an idle consumer takes a higher-level message at once, within its credit", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      const c = collector();
      const consumer = await broker.consume(q, c.handlers);
      consumer.grant(2); // idle: the credit waits in level 0's pull
      await waitFor(async () => (await broker.queueStats(q)).waiting > 0 || kind === "memory", { what: "a waiting pull" });
      await broker.publish(q, message("hi", "t", 7), "hi");
      const d = await waitFor(() => c.got[0], { what: "the priority-7 message (the doorbell woke the consumer)" });
      assert.equal(d.header(Header.ID), "hi");
      d.ack();
      // One unit left: a level-0 and a level-3 message sent now bring one delivery, the higher one
      // first once more credit comes.
      await broker.publish(q, message("lo", "t", 0), "lo");
      await broker.publish(q, message("mid", "t", 3), "mid");
      await waitFor(() => c.got.length >= 2, { what: "a second delivery" });
      consumer.grant(1);
      await waitFor(() => c.got.length >= 3, { what: "a third delivery" });
      assert.equal(c.got.length, 3, "never more than the credit granted");
      assert.deepEqual(new Set(c.got.slice(1).map((d) => d.header(Header.ID))), new Set(["lo", "mid"]));
      for (const d of c.got) d.ack();
      await consumer.stop();
    });

    it("counts and purges every priority level of a queue", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      await broker.publish(q, message("p0", "t", 0), "p0");
      await broker.publish(q, message("p4", "t", 4), "p4");
      await broker.publish(q, message("p9", "t", 9), "p9");
      const stats = await waitFor(async () => {
        const s = await broker.queueStats(q);
        return s.pending === 3 ? s : null;
      }, { what: "3 pending across levels" });
      assert.ok(stats.oldestAgeMs !== undefined && stats.oldestAgeMs >= 0, "the oldest age covers the levels");
      assert.equal(await broker.purge(q), 3);
      assert.equal((await broker.queueStats(q)).pending, 0);
    });

    it("drops a second publish with the same message id", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      assert.equal((await broker.publish(q, message("dup"), "dup")).duplicate, false);
      assert.equal((await broker.publish(q, message("dup"), "dup")).duplicate, true);
      assert.equal((await broker.queueStats(q)).pending, 1);
      assert.equal(await broker.purge(q), 1);
    });

    it("redelivers on nak at once, and after ack wait when neither acked nor in progress", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      await broker.publish(q, message("r1"), "r1");
      const c = collector();
      const consumer = await broker.consume(q, c.handlers);
      consumer.grant(3);
      const first = await waitFor(() => c.got[0], { what: "first delivery" });
      first.nak();
      const second = await waitFor(() => c.got[1], { what: "redelivery after nak" });
      assert.equal(second.deliveryCount, 2);
      assert.equal(second.seq, first.seq);
      // no ack: comes back after ack wait (1 s)
      const third = await waitFor(() => c.got[2], { what: "redelivery after ack wait", timeoutMs: 5_000 });
      assert.equal(third.deliveryCount, 3);
      third.ack();
      await consumer.stop();
    });

    it("working() keeps a message from being redelivered", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      await broker.publish(q, message("kept"), "kept");
      await broker.publish(q, message("control"), "control");
      const c = collector();
      const consumer = await broker.consume(q, c.handlers);
      consumer.grant(10);
      const kept = await waitFor(() => c.got.find((d) => d.header(Header.ID) === "kept"), { what: "delivery" });
      // In-progress signals every 300 ms (ack wait is 1 s) for the kept message only.
      const beat = setInterval(() => kept.working(), 300);
      try {
        // The control message, never acked, comes back after each ack wait: once it has been
        // delivered three times, two ack waits have passed.
        await waitFor(() => c.got.some((d) => d.header(Header.ID) === "control" && d.deliveryCount >= 3), {
          what: "control message redelivered twice",
          timeoutMs: 10_000,
        });
      } finally {
        clearInterval(beat);
      }
      assert.equal(c.got.filter((d) => d.header(Header.ID) === "kept").length, 1, "not redelivered while in progress");
      kept.ack();
      c.got.filter((d) => d.header(Header.ID) === "control").at(-1)!.ack();
      await consumer.stop();
    });

    it("reports a message that reached max deliveries, with its content, and can remove it", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      await broker.publish(q, message("poison"), "poison");
      const c = collector();
      const consumer = await broker.consume(q, c.handlers);
      consumer.grant(10);
      for (let i = 0; i < 3; i++) {
        const d = await waitFor(() => c.got[i], { what: `delivery ${i + 1}` });
        d.nak();
      }
      const ex = await waitFor(() => c.exhausted[0], { what: "exhausted report", timeoutMs: 5_000 });
      assert.equal(ex.deliveries, 3);
      assert.equal(ex.message?.headers[Header.ID], "poison");
      await ex.remove();
      await consumer.stop();
    });

    // JetStream's case (an advisory stored while no watcher runs) is its own suite below.
    if (kind === "memory") {
      it("a message exhausted while no consumer is attached is reported to the next one", async () => {
        const q = uniqueName("q");
        await broker.ensureQueue(q);
        await broker.publish(q, message("orphan"), "orphan");
        const c = collector();
        const consumer = await broker.consume(q, c.handlers);
        consumer.grant(10);
        for (let i = 0; i < 2; i++) (await waitFor(() => c.got[i], { what: `delivery ${i + 1}` })).nak();
        const last = await waitFor(() => c.got[2], { what: "delivery 3" });
        await consumer.stop();
        last.nak(); // the last delivery comes back with nobody attached to hear of it
        assert.equal(c.exhausted.length, 0);
        const c2 = collector();
        const next = await broker.consume(q, c2.handlers);
        const ex = await waitFor(() => c2.exhausted[0], { what: "the report to the next consumer" });
        assert.equal(ex.message?.headers[Header.ID], "orphan");
        await ex.remove();
        await next.stop();
      });
    }

    it("after stop() the stopped consumer takes nothing more; another consumer gets it", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      const c = collector();
      const consumer = await broker.consume(q, c.handlers);
      consumer.grant(5);
      await consumer.stop();
      await broker.publish(q, message("late"), "late");
      const c2 = collector();
      const consumer2 = await broker.consume(q, c2.handlers);
      consumer2.grant(1);
      const d = await waitFor(() => c2.got[0], { what: "delivery to the new consumer", timeoutMs: 3_000 });
      assert.equal(d.header(Header.ID), "late");
      assert.equal(c.got.length, 0);
      d.ack();
      await consumer2.stop();
    });

    it("keeps dead letters with their reason; lists, deletes and purges them", async () => {
      const q = uniqueName("q");
      await broker.deadLetter(q, message("d1"), "unknown task", `${q}:1`);
      await broker.deadLetter(q, message("d1"), "unknown task", `${q}:1`); // same key: kept once
      await broker.deadLetter(q, message("d2"), "undecodable", `${q}:2`);
      const list = await broker.listDeadLetters({ queue: q });
      assert.deepEqual(list.map((d) => [d.queue, d.reason, d.headers[Header.ID]]), [[q, "unknown task", "d1"], [q, "undecodable", "d2"]]);
      assert.equal((await broker.deadLetterCounts())[q], 2, "counted per queue");
      await broker.deleteDeadLetter(list[0]!.seq);
      assert.equal((await broker.deadLetterCounts())[q], 1);
      assert.equal((await broker.listDeadLetters({ queue: q })).length, 1);
      assert.equal(await broker.purgeDeadLetters(q), 1);
      assert.equal((await broker.listDeadLetters({ queue: q })).length, 0);
    });

    it("a delayed message reaches its queue only once due, with its id, exactly once", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      const due = Date.now() + 400;
      await broker.publishDelayed(q, message("late1"), "late1", due);
      assert.equal((await broker.publishDelayed(q, message("late1"), "late1", due)).duplicate, true, "dedup in the delayed store");
      assert.equal((await broker.delayedStats()).messages >= 1, true);
      await broker.moveDue(due - 200);
      assert.equal((await broker.queueStats(q)).pending, 0, "not moved before it is due");
      await waitFor(async () => (await broker.moveDue(Date.now())).moved >= 0 && (await broker.queueStats(q)).pending === 1, {
        what: "moved once due",
      });
      const c = collector();
      const consumer = await broker.consume(q, c.handlers);
      consumer.grant(2);
      const d = await waitFor(() => c.got[0], { what: "delivery" });
      assert.equal(d.header(Header.ID), "late1");
      assert.equal(d.header(Header.MOVED), "1");
      assert.equal(d.header(Header.DELAYED_QUEUE), undefined);
      d.ack();
      await consumer.stop();
    });

    it("a move interrupted before the bucket is emptied is repeated without duplicates", async () => {
      const q = uniqueName("q");
      await broker.ensureQueue(q);
      const due = Date.now() + 100;
      for (let i = 0; i < 5; i++) await broker.publishDelayed(q, message(`${q}-${i}`), `${q}-${i}`, due);
      await waitFor(() => Date.now() > due + 150, { what: "the bucket to pass" });
      await assert.rejects(
        broker.moveDue(Date.now(), {
          beforePurge: () => {
            throw new Error("crash");
          },
        }),
        /crash/,
      );
      assert.equal((await broker.queueStats(q)).pending, 5);
      const again = await broker.moveDue(Date.now());
      assert.ok(again.moved === 5 || kind === "memory", `repeated move: ${JSON.stringify(again)}`);
      assert.equal((await broker.queueStats(q)).pending, 5, "still five: the repeat was dropped as duplicates");
      assert.equal((await broker.delayedStats()).messages, 0);
      assert.equal(await broker.purge(q), 5);
    });

    it("key-value: create and update are compare-and-set; TTL frees a key", async () => {
      const kv = await broker.kv(`${name}_kvtest`, { ttlMs: 1_000 });
      const enc = (s: string) => new TextEncoder().encode(s);
      const r1 = await kv.create("lease", enc("a"));
      await assert.rejects(kv.create("lease", enc("b")), (e: unknown) => (e as { code?: string }).code === "ERR_KV_CONFLICT");
      const r2 = await kv.update("lease", enc("a2"), r1);
      await assert.rejects(kv.update("lease", enc("x"), r1), (e: unknown) => (e as { code?: string }).code === "ERR_KV_CONFLICT");
      assert.equal(new TextDecoder().decode((await kv.get("lease"))!.value), "a2");
      assert.equal((await kv.get("lease"))!.revision, r2);
      await waitFor(async () => (await kv.get("lease")) === null, { what: "TTL expiry", timeoutMs: 5_000 });
      await kv.create("lease", enc("c"));
      await kv.delete("lease");
      assert.equal(await kv.get("lease"), null);
      await kv.create("lease", enc("d")); // a deleted key can be created again
    });

    it("purging refuses a queue name that would be a wildcard subject filter", async () => {
      for (const bad of [">", "*", "a.b"]) {
        await assert.rejects(broker.purge(bad), /queue/, `purge(${bad})`);
        await assert.rejects(broker.purgeDeadLetters(bad), /queue/, `purgeDeadLetters(${bad})`);
        await assert.rejects(broker.listDeadLetters({ queue: bad }), /queue/, `listDeadLetters(${bad})`);
      }
    });

    it("key-value: a bucket opened again with another TTL takes the new TTL", async () => {
      const bucket = `${name}_kvttl`;
      const long = await broker.kv(bucket, { ttlMs: 600_000 });
      await long.create("k", new TextEncoder().encode("v"));
      const short = await broker.kv(bucket, { ttlMs: 300 });
      assert.ok(await short.get("k"), "reopening kept the key");
      await waitFor(async () => (await short.get("k")) === null && (await long.get("k")) === null, {
        what: "the key to expire under the new TTL",
        timeoutMs: 5_000,
      });
    });

    it("core notify reaches subscribers, wildcards match, a queue group gets one copy", async () => {
      const subj = `${name}.reply.${uniqueName("x")}`;
      const got: string[] = [];
      const offs = [
        broker.subscribe(subj, (d) => got.push(`exact:${new TextDecoder().decode(d)}`)),
        broker.subscribe(`${name}.reply.>`, (d) => got.push(`wild:${new TextDecoder().decode(d)}`)),
        broker.subscribe(subj, (d) => got.push(`g:${new TextDecoder().decode(d)}`), { queue: "g" }),
        broker.subscribe(subj, (d) => got.push(`g:${new TextDecoder().decode(d)}`), { queue: "g" }),
      ];
      broker.notify(subj, new TextEncoder().encode("hi"));
      await waitFor(() => got.length === 3, { what: "3 copies" });
      assert.deepEqual(got.sort(), ["exact:hi", "g:hi", "wild:hi"]);
      offs.forEach((off) => off());
    });
  });
}

describe("JetStream: a max-deliveries advisory published while no worker listens", () => {
  let name: string;
  let broker: JetStreamBroker;
  let nc: NatsConnection;
  before(async () => {
    name = uniqueName("bx");
    broker = new JetStreamBroker({ url: NATS_URL, names: namesFor(name), settings, connectionName: "contract" });
    await broker.connect();
    nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, "") });
  });
  after(async () => {
    await broker.close();
    await nc.close();
    await cleanup(name, `${name}-`);
  });

  it("is still reported to a consumer started afterwards, and its message can be removed", async () => {
    const names = namesFor(name);
    const q = uniqueName("q");
    await broker.ensureQueue(q);
    await broker.publish(q, message("orphan"), "orphan");
    // A client that is not a celeriac worker takes every delivery and acks none: no watcher runs.
    const raw = await jetstream(nc).consumers.get(names.streamFor(q), names.durable(q));
    for (let i = 1; i <= settings.maxDeliver; i++) {
      const m = await raw.next({ expires: 5_000 });
      assert.equal(m?.info.deliveryCount, i);
    }
    // 2.9 announces the exhausted message only when a pull finds it due again after ack_wait.
    const seen: string[] = [];
    const sub = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${names.streamFor(q)}.${names.durable(q)}`, {
      callback: (_err, m) => {
        seen.push(m.subject);
      },
    });
    await waitFor(async () => {
      assert.equal(await raw.next({ expires: 1_000 }), null, "not delivered again");
      return seen.length > 0;
    }, { what: "the advisory to be published", timeoutMs: 10_000 });
    sub.unsubscribe();

    const c = collector();
    const consumer = await broker.consume(q, c.handlers);
    try {
      const ex = await waitFor(() => c.exhausted[0], { what: "exhausted report", timeoutMs: 5_000 });
      assert.equal(ex.deliveries, settings.maxDeliver);
      assert.equal(ex.message?.headers[Header.ID], "orphan");
      await ex.remove();
      const jsm = await jetstreamManager(nc);
      assert.equal(await jsm.streams.getMessage(names.streamFor(q), { seq: ex.seq }), null, "removed from the task stream");
      await waitFor(async () => (await jsm.streams.info(names.exhaustedStream)).state.messages === 0, {
        what: "the handled advisory to be acked",
      });
    } finally {
      await consumer.stop();
    }
  });
});
