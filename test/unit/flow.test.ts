/**
 * Flow control without a network: priority validation and routing, the priority consumer's
 * credit moves (with fake level consumers), bulk enqueue on the memory broker, and the options
 * not built yet, refused by name.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Celeriac, ConfigError, InvalidArgumentError, silentLogger } from "celeriac";
import { PriorityConsumer, type PriorityOptions, sumLevelStats } from "../../src/broker/jetstream/priority.ts";
import type { ConsumeHandlers, Delivery, QueueConsumer } from "../../src/broker/types.ts";
import { decodeTaskMessage, encodeTaskMessage, Header, priorityLevel } from "../../src/protocol/message.ts";
import { namesFor } from "../../src/names.ts";
import { publishInOrder } from "../../src/bulk.ts";
import type { TaskMessage } from "../../src/protocol/message.ts";
import { waitFor } from "../helpers.ts";

function memoryApp() {
  const app = new Celeriac({ name: "flow", brokerUrl: "memory://", resultBackend: "memory://" });
  app.log = silentLogger;
  return app;
}

describe("priority: options and wire", () => {
  it("refuses a priority that is not an integer 0–9, naming the argument", async () => {
    const app = memoryApp();
    try {
      for (const bad of [10, -1, 1.5, "9", Number.NaN]) {
        await assert.rejects(
          app.sendTask("t", [], { priority: bad as number }),
          (e: unknown) => e instanceof InvalidArgumentError && e.argument === "priority",
          `priority ${JSON.stringify(bad)}`,
        );
      }
      assert.throws(
        () => app.task({ name: "bad", priority: 12 }, () => 1),
        (e: unknown) => e instanceof ConfigError && e.field === "task bad: priority",
      );
    } finally {
      await app.close();
    }
  });

  it("a level above 0 travels as a header and a subject one token below the queue's", () => {
    const wire = encodeTaskMessage({ id: "x", task: "t", args: [], kwargs: {}, embed: null, retries: 0, priority: 7 });
    assert.equal(wire.headers[Header.PRIORITY], "7");
    assert.equal(decodeTaskMessage((h) => wire.headers[h], wire.body).priority, 7);
    const plain = encodeTaskMessage({ id: "y", task: "t", args: [], kwargs: {}, embed: null, retries: 0, priority: 0 });
    assert.equal(plain.headers[Header.PRIORITY], undefined, "level 0 costs no header");
    assert.equal(priorityLevel("x"), 0, "an odd header from a foreign producer counts as 0");
    const names = namesFor("app");
    assert.equal(names.taskSubject("q"), "app.tasks.q");
    assert.equal(names.taskSubject("q", 0), "app.tasks.q");
    assert.equal(names.taskSubject("q", 4), "app.tasks.q.4");
    assert.deepEqual([names.durable("q"), names.durable("q", 4), names.exhaustedDurable("q", 4)], ["q_q", "p4_q", "x4_q"]);
  });

  it("queue stats add up every level; the oldest age is the oldest of any level", () => {
    const s = sumLevelStats("q", [
      { pending: 2, inFlight: 1, waiting: 1, oldestMs: 5_000 },
      { pending: 0, inFlight: 0, waiting: 0 },
      { pending: 3, inFlight: 0, waiting: 0, oldestMs: 2_000 },
    ], 10_000);
    assert.deepEqual(s, { queue: "q", pending: 5, inFlight: 1, waiting: 1, oldestAgeMs: 8_000 });
    assert.equal(sumLevelStats("q", [{ pending: 0, inFlight: 0, waiting: 0 }], 1).oldestAgeMs, undefined);
  });
});

/** A fake level consumer: records grants; the test delivers and returns credit through `h`. */
interface FakeLevel extends QueueConsumer {
  grants: number[];
  h: ConsumeHandlers;
}

function fakeDelivery(id: string, naks: string[]): Delivery {
  return {
    queue: "q",
    body: new Uint8Array(),
    header: (n) => (n === "id" ? id : undefined),
    headers: () => ({ id }),
    headerCount: () => 1,
    deliveryCount: 1,
    seq: 1,
    ack() {},
    nak: () => naks.push(id),
    working() {},
    term() {},
  };
}

async function priorityRig(scan?: () => Promise<number[]>, opts: Partial<PriorityOptions> = {}) {
  const levels: FakeLevel[] = [];
  const got: string[] = [];
  const returned: number[] = [];
  const naks: string[] = [];
  const consumer = new PriorityConsumer(
    (_level, h) => {
      const l: FakeLevel = { grants: [], h, grant: (n) => l.grants.push(n), stop: () => Promise.resolve() };
      levels.push(l);
      return l;
    },
    {
      onDelivery: (d) => got.push(d.header("id")!),
      onReturned: (n) => returned.push(n),
      onExhausted() {},
      onError(e) {
        throw e;
      },
    },
    { rescanMs: 3_600_000, overflowNakMs: 1_000, overflowHoldMs: 60_000, ...opts },
    scan,
  );
  await consumer.start();
  const deliver = (level: number, id: string) => levels[level]!.h.onDelivery(fakeDelivery(id, naks));
  return { consumer, levels, got, returned, naks, deliver };
}

describe("priority consumer: credit goes to the highest level with work", () => {
  it("probes hot levels from 9 down, one at a time; what they leave goes to level 0", async () => {
    const r = await priorityRig();
    r.consumer.grant(3);
    assert.deepEqual(r.levels[9]!.grants, [3], "level 9 is probed first with all the credit");
    assert.deepEqual(r.levels[8]!.grants, [], "one probe at a time");
    r.deliver(9, "n1");
    r.levels[9]!.h.onReturned(2); // empty after one: cold
    assert.deepEqual(r.levels[8]!.grants, [2]);
    for (let level = 8; level >= 1; level--) r.levels[level]!.h.onReturned(2);
    assert.deepEqual(r.levels[0]!.grants, [2], "the rest waits in level 0's pull");
    assert.deepEqual(r.got, ["n1"]);
    // Cold levels are not probed again: a new unit goes straight to level 0.
    r.deliver(0, "z1");
    r.consumer.grant(1);
    assert.deepEqual(r.levels[0]!.grants, [2, 1]);
    assert.deepEqual(r.levels[5]!.grants, [2]);
    await r.consumer.stop();
  });

  it("with a scan, only the levels holding messages are probed", async () => {
    let answer = (_: number[]) => {};
    const r = priorityRig(() => new Promise((resolve) => (answer = resolve)));
    await Promise.resolve();
    answer([4]);
    const rig = await r;
    rig.consumer.grant(2);
    assert.deepEqual(rig.levels[9]!.grants, [], "an empty level is not probed");
    assert.deepEqual(rig.levels[4]!.grants, [2]);
    rig.levels[4]!.h.onReturned(2);
    assert.deepEqual(rig.levels[0]!.grants, [2]);
    await rig.consumer.stop();
  });

  it("a doorbell lends the credit parked in level 0 to the rung level; a delivery over the credit is handed back", async () => {
    const r = await priorityRig();
    r.consumer.grant(1);
    for (let level = 9; level >= 1; level--) r.levels[level]!.h.onReturned(1);
    assert.deepEqual(r.levels[0]!.grants, [1]);
    r.consumer.ring(6);
    assert.deepEqual(r.levels[6]!.grants, [1, 1], "the parked unit is borrowed for level 6");
    r.deliver(6, "six");
    // Level 0's pull, still live at the server, delivers too in the same instant: over the credit.
    r.deliver(0, "zero");
    assert.deepEqual(r.got, ["six"]);
    assert.deepEqual(r.naks, ["zero"], "handed back, not run beyond the worker's credit");
    // Level 0's request expires with nothing left: none of it is ours to return.
    r.levels[0]!.h.onReturned(0);
    assert.deepEqual(r.returned, []);
    await r.consumer.stop();
  });

  it("a doorbell's delivery that loses the race to level 0's parked pull runs on the next slot, not after the backlog", async () => {
    // The worker (-c 1) just lent its freed slot to level 0's pull (a level-0 backlog waits there)
    // when the doorbell rings: the probe borrows the same unit, and level 0 delivers first.
    const r = await priorityRig(() => Promise.resolve([]));
    r.consumer.grant(1);
    assert.deepEqual(r.levels[0]!.grants, [1]);
    r.consumer.ring(9);
    assert.deepEqual(r.levels[9]!.grants, [1], "the parked unit is borrowed for level 9");
    r.deliver(0, "zero");
    r.deliver(9, "nine"); // over the credit
    assert.deepEqual(r.got, ["zero"], "nothing runs beyond the worker's credit");
    assert.deepEqual(r.naks, [], "not handed back: a delayed nak would hide it from the next probe");
    r.consumer.grant(1); // "zero" finished
    assert.deepEqual(r.got, ["zero", "nine"], "the level-9 task is the next to start");
    assert.deepEqual(r.levels[9]!.grants, [1], "no probe needed for it");
    assert.deepEqual(r.consumer.credit, { granted: 0, lent0: 0 });
    r.consumer.grant(1); // "nine" finished: level 9 is still hot and is probed before level 0
    assert.deepEqual(r.levels[9]!.grants, [1, 1]);
    await r.consumer.stop();
  });

  it("a delivery held over the credit goes back to the stream when no slot frees in time; its level stays hot", async () => {
    const r = await priorityRig(() => Promise.resolve([]), { overflowHoldMs: 20 });
    r.consumer.grant(1);
    r.consumer.ring(5);
    r.deliver(0, "zero");
    r.deliver(5, "five");
    await waitFor(() => r.naks.includes("five"), { what: "the held delivery handed back" });
    r.consumer.grant(1);
    assert.deepEqual(r.levels[5]!.grants, [1, 1], "the next slot probes level 5 again");
    assert.deepEqual(r.got, ["zero"]);
    await r.consumer.stop();
  });

  it("a doorbell rung while its level's probe is on its way keeps the level hot when that probe comes back empty", async () => {
    const r = await priorityRig(() => Promise.resolve([]));
    r.consumer.grant(1);
    r.consumer.ring(7);
    assert.deepEqual(r.levels[7]!.grants, [1]);
    r.consumer.ring(7); // a second message, stored after the server looked for the first probe
    r.levels[7]!.h.onReturned(1); // that probe found the level empty
    assert.deepEqual(r.levels[7]!.grants, [1, 1], "probed again at once, not left for the rescan");
    r.deliver(7, "seven");
    assert.deepEqual(r.got, ["seven"]);
    r.levels[7]!.h.onReturned(0);
    await r.consumer.stop();
  });

  it("stop hands back what is held", async () => {
    const r = await priorityRig(() => Promise.resolve([]));
    r.consumer.grant(1);
    r.consumer.ring(3);
    r.deliver(0, "zero");
    r.deliver(3, "three");
    await r.consumer.stop();
    assert.deepEqual(r.naks, ["three"]);
  });

  it("credit level 0 returns unused goes back to the worker, minus what a probe borrowed and spent", async () => {
    const r = await priorityRig();
    r.consumer.grant(4);
    for (let level = 9; level >= 1; level--) r.levels[level]!.h.onReturned(4);
    r.consumer.ring(2);
    r.deliver(2, "two");
    r.levels[2]!.h.onReturned(3);
    r.levels[0]!.h.onReturned(4); // expired empty
    assert.deepEqual(r.returned, [3]);
    assert.deepEqual(r.consumer.credit, { granted: 0, lent0: 0 });
    await r.consumer.stop();
  });
});

describe("bulk enqueue", () => {
  it("delayMany and sendMany return handles in order; each runs once, in order, on the memory broker", async () => {
    const app = memoryApp();
    const ran: number[] = [];
    const add = app.task("add", (a: number, b: number) => {
      ran.push(a);
      return a + b;
    });
    const worker = app.worker({ concurrency: 1, hostname: "flow@test" });
    try {
      const rs = await add.delayMany(Array.from({ length: 20 }, (_, i) => [i, 1] as [number, number]));
      assert.equal(rs.length, 20);
      const more = await app.sendMany([{ task: "add", args: [100, 1] }, { task: add, args: [200, 2], options: { priority: 0 } }]);
      await worker.start();
      assert.deepEqual(await Promise.all(rs.map((r) => r.get({ timeout: 10 }))), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(await Promise.all(more.map((r) => r.get({ timeout: 10 }))), [101, 202]);
      await waitFor(() => ran.length === 22, { what: "all ran" });
      assert.deepEqual(ran, [...Array.from({ length: 20 }, (_, i) => i), 100, 200]);
    } finally {
      await worker.stop();
      await app.close();
    }
  });

  it("publishes in order within a window; a failure stops sending and waits for those in flight", async () => {
    const ms = Array.from({ length: 10 }, (_, i) => ({ id: String(i) }) as TaskMessage);
    const started: string[] = [];
    const settled: string[] = [];
    let inFlight = 0;
    let most = 0;
    await assert.rejects(
      publishInOrder(ms, async (m) => {
        started.push(m.id);
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, m.id === "4" ? 1 : 5));
        inFlight--;
        settled.push(m.id);
        if (m.id === "4") throw new Error("refused");
      }, 3),
      /refused/,
    );
    assert.deepEqual(started, started.slice().sort(), "sent in order");
    assert.ok(most <= 3, `at most the window in flight (${most})`);
    assert.ok(!started.includes("9"), "stopped sending after the failure");
    assert.equal(settled.length, started.length, "every publish in flight settled before the rejection");
  });

  it("checks every call before sending any, naming the bad one", async () => {
    const app = memoryApp();
    app.task("t", () => 1);
    try {
      await assert.rejects(
        app.sendMany([{ task: "t" }, { task: "t", options: { priority: 11 } }]),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === "calls[1].priority",
      );
      await assert.rejects(
        app.sendMany([{ task: "" }]),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === "calls[0].task",
      );
      await assert.rejects(
        app.task("u", () => 1).delayMany([[]], { taskId: "same" }),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === "taskId",
      );
      const stats = await (await app.broker()).queueStats(app.config.defaultQueue);
      assert.equal(stats.pending, 0, "nothing was sent");
    } finally {
      await app.close();
    }
  });
});

describe("deduplication (memory backend)", () => {
  it("a second send with the same id within ttl returns the first task's result and runs nothing; after ttl it runs again", async () => {
    const app = memoryApp();
    let runs = 0;
    const t = app.task("once", () => ++runs);
    const worker = app.worker({ concurrency: 2, hostname: "dedup@test" });
    try {
      await worker.start();
      const dedup = { id: "order-7", ttl: 0.3 };
      const a = await t.applyAsync([], { deduplication: dedup });
      const b = await t.applyAsync([], { deduplication: dedup });
      const [c] = await app.sendMany([{ task: "once", options: { deduplication: dedup } }]);
      assert.equal(b.id, a.id);
      assert.equal(c!.id, a.id);
      assert.equal(await a.get({ timeout: 5 }), 1);
      const later = await waitFor(async () => {
        const r = await t.applyAsync([], { deduplication: dedup });
        return r.id !== a.id ? r : null;
      }, { what: "the ttl to pass", timeoutMs: 5_000, intervalMs: 100 });
      assert.equal(await later.get({ timeout: 5 }), 2);
      assert.equal(runs, 2);
    } finally {
      await worker.stop();
      await app.close();
    }
  });

  it("refuses a bad deduplication option, naming the field", async () => {
    const app = memoryApp();
    try {
      for (
        const [d, field] of [[{ ttl: 5 }, "deduplication.id"], [{ id: "x", ttl: 0 }, "deduplication.ttl"], ["x", "deduplication"]] as const
      ) {
        await assert.rejects(
          app.sendTask("t", [], { deduplication: d as never }),
          (e: unknown) => e instanceof InvalidArgumentError && e.argument === field,
          JSON.stringify(d),
        );
      }
    } finally {
      await app.close();
    }
  });
});

describe("pause a queue (memory broker)", () => {
  it("a queue paused before the worker starts is not consumed until resumed", async () => {
    const app = memoryApp();
    const t = app.task("t", () => "ran");
    const worker = app.worker({ concurrency: 1, hostname: "pause@test" });
    try {
      await app.control.pauseQueue(app.config.defaultQueue, { timeout: 0.05 });
      const r = await t.delay();
      await worker.start();
      const queues = await app.control.activeQueues({ destination: ["pause@test"] });
      assert.deepEqual((queues["pause@test"] as { paused: boolean }[]).map((q) => q.paused), [true]);
      assert.equal(await r.state(), "PENDING");
      assert.equal((await (await app.broker()).queueStats(app.config.defaultQueue)).pending, 1);
      await app.control.resumeQueue(app.config.defaultQueue);
      assert.equal(await r.get({ timeout: 5 }), "ran");
      await assert.rejects(app.control.pauseQueue("a.b"), (e: unknown) => e instanceof ConfigError && e.field === "queue");
    } finally {
      await worker.stop();
      await app.close();
    }
  });
});

describe("flow-control options are checked, naming the bad one", () => {
  it("globalRateLimit, keyConcurrency and concurrencyKey", async () => {
    const app = memoryApp();
    try {
      assert.throws(
        () => app.task({ name: "g", globalRateLimit: "lots" }, () => 1),
        (e: unknown) => e instanceof ConfigError && e.field === "task g: globalRateLimit",
      );
      assert.throws(
        () => app.task({ name: "k", keyConcurrency: 0 }, () => 1),
        (e: unknown) => e instanceof ConfigError && e.field === "task k: keyConcurrency",
      );
      app.task({ name: "keyed", keyConcurrency: 2 }, () => 1);
      app.task("plain", () => 1);
      await assert.rejects(
        app.sendTask("plain", [], { concurrencyKey: "t-1" }),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === "concurrencyKey",
      );
      await assert.rejects(
        app.sendTask("keyed", [], { concurrencyKey: "" }),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === "concurrencyKey",
      );
      const wire = encodeTaskMessage({ id: "x", task: "keyed", args: [], kwargs: {}, embed: null, retries: 0, concurrencyKey: "t-1" });
      assert.equal(decodeTaskMessage((h) => wire.headers[h], wire.body).concurrencyKey, "t-1");
    } finally {
      await app.close();
    }
  });
});
