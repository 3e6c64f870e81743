/**
 * Poison and hostile input: a task that kills its worker every time ends in the dead-letter stream
 * after maxDeliver attempts while the queue keeps flowing; malformed messages and 10,000 random
 * messages are each dead-lettered with a reason, and the worker stays up throughout.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { pack } from "../../src/protocol/codec.ts";
import { runCli, spawnWorker, stopProc, waitFor } from "../helpers.ts";
import { cluster, supervise, TASKS } from "../e2e/e2e-helpers.ts";

async function dlqCount(nc: NatsConnection, name: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(`${name.toUpperCase()}_DLQ`)).state.messages;
}

describe("faults: hostile input", () => {
  let nc: NatsConnection;
  before(async () => {
    nc = await connect({ servers: "127.0.0.1:4222" });
  });
  after(async () => {
    await nc.close();
  });

  it("a poison task that kills its worker every time: dead-lettered after maxDeliver, the queue keeps flowing; dlq list/replay/purge", async () => {
    const c = cluster({ ackWait: 1 });
    const env = { ...c.env, T_MAX_DELIVER: "3" };
    const workers = supervise(env);
    try {
      await waitFor(() => workers.current !== null, { what: "a worker" });
      const poison = await c.app.sendTask("crash");
      const good = await Promise.all(Array.from({ length: 50 }, (_, i) => c.app.sendTask<number>("counted", [i])));
      assert.deepEqual(await Promise.all(good.map((r) => r.get({ timeout: 60 }))), good.map((_, i) => i), "the queue kept flowing");
      const err = await poison.get({ timeout: 60, propagate: false });
      assert.match(String((err as Error).message), /delivered 3 times without being acknowledged/);
      const list = await runCli(["dlq", "list", "-A", TASKS, "--json"], { env });
      assert.equal(list.code, 0, list.output);
      const letters = JSON.parse(list.output.split("\n").find((l) => l.startsWith("["))!) as {
        seq: number;
        taskId: string;
        reason: string;
        deliveries: number;
      }[];
      const mine = letters.find((l) => l.taskId === poison.id)!;
      assert.ok(mine, list.output);
      assert.equal(mine.deliveries, 3);
      assert.match(mine.reason, /maxDeliver reached/);
      assert.ok(workers.restarts >= 3, `the worker died ${workers.restarts} times`);
      // replay puts it back (it will kill a worker again, and be dead-lettered again); purge empties the DLQ
      const replay = await runCli(["dlq", "replay", "-A", TASKS, poison.id], { env });
      assert.equal(replay.code, 0, replay.output);
      assert.match(replay.output, /replayed \d+ to celery/);
      await waitFor(async () => (await dlqCount(nc, c.name)) >= 1 && workers.restarts >= 6, {
        what: "the replayed poison dead-lettered again",
        timeoutMs: 60_000,
      });
      const purge = await runCli(["dlq", "purge", "-A", TASKS, "-f"], { env });
      assert.equal(purge.code, 0, purge.output);
      assert.equal(await dlqCount(nc, c.name), 0);
    } finally {
      await workers.stop();
      await c.dispose();
    }
  });

  it("malformed messages and 10,000 random ones are each dead-lettered with a reason; the worker stays up", async () => {
    const c = cluster();
    const w = await spawnWorker(["-A", TASKS, "-c", "32"], { env: c.env });
    try {
      const js = jetstream(nc);
      const subject = `${c.name}.tasks.celery`;
      await (await c.app.broker()).ensureQueue("celery");
      const send = (h: Record<string, string>, body: Uint8Array) => {
        const hdrs = natsHeaders();
        for (const [k, v] of Object.entries(h)) hdrs.set(k, v);
        return js.publish(subject, body, { headers: hdrs });
      };
      const valid = pack([[1, 2], null, null, { v: 1 }]);
      const malformed: [Record<string, string>, Uint8Array][] = [
        [{ task: "add", id: "m1" }, new Uint8Array([0x93, 0x01])], // truncated msgpack
        [{ task: "add", id: "m2" }, valid.subarray(0, valid.length - 2)], // truncated message
        [{ task: "add", id: "m3", "content-type": "application/json" }, new TextEncoder().encode("[[1,2],{},{}]")],
        [{ id: "m4" }, valid], // missing task header
        [{ task: "add" }, valid], // missing id header
        [{ task: "nope", id: "m6" }, valid], // unknown task
      ];
      for (const [h, b] of malformed) await send(h, b);
      const N = 10_000;
      const fuzz: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        // random bodies, half of them under plausible headers so they reach the decoder
        const h: Record<string, string> = i % 2 ? { task: "add", id: `f${i}` } : { id: `f${i}` };
        fuzz.push(send(h, randomBytes(1 + (i % 200))));
        if (fuzz.length >= 500) await Promise.all(fuzz.splice(0));
      }
      await Promise.all(fuzz);
      const total = malformed.length + N;
      await waitFor(async () => (await dlqCount(nc, c.name)) >= total, { what: `${total} dead letters`, timeoutMs: 120_000 });
      assert.equal(await dlqCount(nc, c.name), total);
      const broker = await c.app.broker();
      const sample = await broker.listDeadLetters({ limit: 20 });
      assert.ok(sample.every((d) => d.reason.length > 0), "every dead letter has a reason");
      assert.equal(await (await c.app.sendTask("add", [2, 3])).get({ timeout: 20 }), 5, "the worker still serves");
      assert.ok(w.running(), "the worker process is alive");
      assert.doesNotMatch(w.output(), /unhandled|uncaught/i);
      console.log(`[faults] hostile input: ${malformed.length} malformed + ${N} random messages, all dead-lettered with a reason`);
    } finally {
      await stopProc(w);
      await c.dispose();
    }
  });
});
