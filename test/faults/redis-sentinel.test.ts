/**
 * Results on Redis Sentinel, master SIGKILLed under load (1 master, 2 replicas, 3 sentinels, all
 * started here on loopback). Replication is cut just before the kill, as a network partition
 * would, so the master dies holding results its replicas never got:
 * - with `backend.waitReplicas: 1` a task is acked only once a replica has its result: 0 SUCCESS
 *   results lost, and a chord whose members finish across the failover completes;
 * - without it, the results written during the cut are acked and lost (counted and printed).
 * Results keep being stored after the failover in both cases. Figures are printed for the record.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AsyncResult, Celeriac, chord, silentLogger, State } from "celeriac";
import { cleanup, NATS_URL, REDIS_URL, uniqueName, waitFor } from "../helpers.ts";
import { type SentinelSetup, sentinelSetup } from "../sentinel-helpers.ts";

const TASKS = 1500;
const CHORD_SIZE = 100;

interface Figures {
  lost: number;
  chordCompleted: boolean;
  failoverMs: number;
  drainMs: number;
  storedAfterFailover: number;
}

async function failover(setup: SentinelSetup, waitReplicas: number): Promise<Figures> {
  const name = uniqueName("sen");
  const prefix = `${name}-`;
  const app = new Celeriac({
    name,
    brokerUrl: NATS_URL,
    resultBackend: setup.url,
    resultKeyPrefix: prefix,
    backend: { waitReplicas, waitTimeout: 0.5 },
  });
  app.log = silentLogger;
  let done = 0;
  const work = app.task("work", async (i: number) => {
    await new Promise((r) => setTimeout(r, 1));
    done++;
    return i;
  });
  const sum = app.task("sum", (xs: number[]) => xs.reduce((a, b) => a + b, 0));
  const worker = app.worker({ concurrency: 32 });
  await worker.start();
  const sent: AsyncResult<number>[] = [];
  let failed = false;
  // A steady stream: at most 200 tasks ahead of the worker, until all are sent (or the test failed).
  const producing = (async () => {
    while (sent.length < TASKS && !failed) {
      await waitFor(() => failed || sent.length - done < 200, { timeoutMs: 120_000, what: "the worker to keep up" });
      if (!failed) sent.push(...await Promise.all(Array.from({ length: 25 }, () => work.delay(sent.length))));
    }
  })();
  try {
    await waitFor(() => done >= 300, { timeoutMs: 60_000, what: "300 tasks done" });
    setup.partition();
    const chordResult = await chord(Array.from({ length: CHORD_SIZE }, (_, i) => work.s(i)), sum.s()).applyAsync();
    // Results are written while the replicas miss every write; then the master dies holding them.
    // With waitReplicas the writers then block in WAIT, holding their slots, so few new results
    // reach the master: one is enough there, and under load there may be none at all, when every
    // slot wrote before the cut and waits for an acknowledgement the cut holds back. The worker
    // standing still is that case.
    const behind = waitReplicas > 0 ? 1 : 10;
    const seen = { master: 0, replica: 0, done: -1, still: Date.now() };
    await waitFor(async () => {
      [seen.master, seen.replica] = await Promise.all([setup.masterKeys(), setup.replicaKeys()]);
      if (done !== seen.done) [seen.done, seen.still] = [done, Date.now()];
      return seen.master - seen.replica >= behind || (waitReplicas > 0 && Date.now() - seen.still > 3_000);
    }, { timeoutMs: 60_000, what: `${behind} result(s) the replicas never got` }).catch((err) => {
      throw new Error(`${(err as Error).message} (master ${seen.master} keys, replica ${seen.replica}; ${done} tasks done)`);
    });
    const oldMaster = `127.0.0.1:${setup.master.port}`;
    await setup.master.stop({ hard: true });
    const killedAt = Date.now();
    await waitFor(async () => (await setup.masterAddress()) !== oldMaster, {
      timeoutMs: 60_000,
      what: "the sentinels to promote a replica",
    });
    const failoverMs = Date.now() - killedAt;
    await producing;
    const broker = await app.broker();
    await waitFor(async () => {
      const q = await broker.queueStats("celery");
      return done >= TASKS + CHORD_SIZE && q.pending === 0 && q.inFlight === 0;
    }, { timeoutMs: 180_000, intervalMs: 200, what: "every task run and acked" });
    const drainMs = Date.now() - killedAt;
    const expected = CHORD_SIZE * (CHORD_SIZE - 1) / 2;
    const chordCompleted = await chordResult.get({ timeout: waitReplicas > 0 ? 60 : 5 }).then((v) => v === expected, () => false);
    // Read through the sentinels: what the new master holds now, after the failover.
    const stored = await (await app.backend()).getMany(sent.map((r) => r.id));
    const lost = stored.filter((s) => s?.status !== State.SUCCESS).length;
    const storedAfterFailover = stored.filter((s) => s?.date_done && Date.parse(s.date_done) > killedAt + failoverMs).length;
    return { lost, chordCompleted, failoverMs, drainMs, storedAfterFailover };
  } catch (err) {
    failed = true;
    await producing.catch(() => {});
    throw err;
  } finally {
    await worker.stop();
    await app.close();
    await cleanup(name, prefix, { nats: NATS_URL, redis: REDIS_URL });
  }
}

/** Runs `test` on a Sentinel setup of its own, stopped however the test ends: its servers left running would keep this file's process alive. */
async function onSentinel<T>(test: (setup: SentinelSetup) => Promise<T>): Promise<T> {
  const setup = await sentinelSetup();
  try {
    return await test(setup);
  } finally {
    await setup.dispose();
  }
}

describe("faults: Redis Sentinel failover under load", () => {
  it("with waitReplicas 1: 0 SUCCESS results lost across the failover, the chord completes, results keep being stored", async () => {
    const f = await onSentinel((setup) => failover(setup, 1));
    console.log(
      `[faults] Sentinel failover, waitReplicas 1: ${TASKS} tasks + a chord of ${CHORD_SIZE}; lost ${f.lost}; ` +
        `chord completed ${f.chordCompleted}; failover ${f.failoverMs} ms; drained ${f.drainMs} ms after the kill; ` +
        `${f.storedAfterFailover} results stored after the failover`,
    );
    assert.equal(f.lost, 0, "no SUCCESS result lost");
    assert.ok(f.chordCompleted, "the chord completed with every member's result");
    assert.ok(f.storedAfterFailover > 0, "results are stored after the failover");
  });

  it("without waitReplicas: the results written during the cut are acked and lost (counted)", async () => {
    const f = await onSentinel((setup) => failover(setup, 0));
    console.log(
      `[faults] Sentinel failover, waitReplicas 0: ${TASKS} tasks + a chord of ${CHORD_SIZE}; lost ${f.lost}; ` +
        `chord completed ${f.chordCompleted}; failover ${f.failoverMs} ms; drained ${f.drainMs} ms after the kill; ` +
        `${f.storedAfterFailover} results stored after the failover`,
    );
    // The cut makes the loss certain: the master acknowledged results no replica ever saw.
    assert.ok(f.lost > 0, "the cut loses acknowledged results when nothing waits for a replica");
    assert.ok(f.storedAfterFailover > 0, "results are stored after the failover");
  });
});
