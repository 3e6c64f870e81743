/**
 * Beat's decisions, on the in-process broker: leadership, catch-up after a takeover, the
 * missed-fire policies, and deduplicated fire ids.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type BeatFire, Celeriac, every, silentLogger } from "../../src/mod.ts";
import { fireId } from "../../src/schedule/beat.ts";
import { uniqueName, waitFor } from "../helpers.ts";

const enc = new TextEncoder();

function app(name: string, missed?: "run-once" | "skip") {
  const a = new Celeriac({
    name,
    brokerUrl: "memory://",
    resultBackend: "memory://",
    beatSchedule: { tick: { task: "tick", schedule: every(0.2), ...(missed ? { missed } : {}) } },
    beat: { leaseTtl: 1, catchUp: 2 },
  });
  a.log = silentLogger;
  return a;
}

/** Stores a last-fire time for `entry`, as a previous leader would have left it. */
async function setLast(a: Celeriac, entry: string, ms: number) {
  const store = await (await a.broker()).kv(a.config.names.beatBucket);
  const key = `last.${btoa(entry).replace(/=+$/, "")}`;
  await store.put(key, enc.encode(String(ms)));
}

describe("beat", () => {
  it("one of two replicas leads; every occurrence is fired once, in order, with its id", async () => {
    const name = uniqueName("beat");
    const [a, b] = [app(name), app(name)];
    const fires: BeatFire[] = [];
    const beats = [a.beat({ holder: "a" }), b.beat({ holder: "b" })];
    for (const bt of beats) bt.events.on("fired", (f) => fires.push(f));
    try {
      beats.forEach((bt) => bt.start());
      await waitFor(() => fires.length >= 8, { what: "8 fires", timeoutMs: 10_000 });
      assert.equal(beats.filter((bt) => bt.isLeader).length, 1);
      const times = fires.map((f) => f.fireMs);
      assert.deepEqual(times, [...new Set(times)].sort((x, y) => x - y), "unique and in order");
      for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, 200, "no gap");
      assert.ok(fires.every((f) => f.taskId === fireId("tick", f.fireMs)));
      assert.ok(fires.every((f) => f.fireMs % 200 === 0), "aligned occurrences");
    } finally {
      await Promise.all(beats.map((bt) => bt.stop()));
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("when the leader stops, the other takes over: no gap, no repeat (a killed leader: test/e2e/beat.test.ts)", async () => {
    const name = uniqueName("beat");
    const [a, b] = [app(name), app(name)];
    const fires: BeatFire[] = [];
    const first = a.beat({ holder: "a" });
    const second = b.beat({ holder: "b" });
    for (const bt of [first, second]) bt.events.on("fired", (f) => fires.push(f));
    try {
      first.start();
      await waitFor(() => first.isLeader && fires.length >= 3, { what: "a leads and fires" });
      second.start();
      await first.stop(); // hands the lease over
      const atHandover = fires.length;
      await waitFor(() => second.isLeader && fires.length >= atHandover + 8, { what: "b leads and fires", timeoutMs: 10_000 });
      const times = fires.map((f) => f.fireMs);
      for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, 200, `gap or repeat at ${i}: ${times}`);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("after a long outage, run-once fires the latest missed occurrence once; skip fires none", async () => {
    for (const policy of ["run-once", "skip"] as const) {
      const name = uniqueName("beat");
      const a = app(name, policy);
      const fires: BeatFire[] = [];
      const lastBefore = Math.floor((Date.now() - 60_000) / 200) * 200; // a minute ago: beyond catch-up
      await setLast(a, "tick", lastBefore);
      const bt = a.beat({ holder: "a" });
      bt.events.on("fired", (f) => fires.push(f));
      try {
        const started = Date.now();
        bt.start();
        await waitFor(() => fires.some((f) => f.fireMs > started), { what: "a fresh occurrence" });
        const missed = fires.filter((f) => f.fireMs <= started);
        if (policy === "run-once") assert.equal(missed.length, 1, `one catch-up fire, got ${missed.length}`);
        else assert.equal(missed.length, 0);
      } finally {
        await bt.stop();
        await a.close();
      }
    }
  });

  it("an entry that never fired starts with its next occurrence", async () => {
    const a = app(uniqueName("beat"));
    const fires: BeatFire[] = [];
    const bt = a.beat({ holder: "a" });
    bt.events.on("fired", (f) => fires.push(f));
    const started = Date.now();
    try {
      bt.start();
      await waitFor(() => fires.length >= 2, { what: "fires" });
      assert.ok(fires[0]!.fireMs > started - 200, "no occurrence from before the start");
    } finally {
      await bt.stop();
      await a.close();
    }
  });

  it("rejects a bad schedule naming the entry", () => {
    assert.throws(
      () =>
        new Celeriac({
          brokerUrl: "memory://",
          resultBackend: "memory://",
          beatSchedule: { x: { task: "t", schedule: "* * * * *" as never } },
        }),
      /beatSchedule\["x"\]\.schedule/,
    );
  });
});
