/**
 * Canvas on real NATS + Redis, porting the behaviours of Celery's t/integration/test_canvas.py:
 * chains, groups, chords, callbacks and errbacks, map/starmap/chunks, parent/child bookkeeping.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AsyncResult, chain, chord, group, type GroupResult, State, TaskError, type Worker } from "celeriac";
import { type TestApp, testApp, uniqueName, waitFor } from "../helpers.ts";

class ExpectedError extends Error {
  override name = "ExpectedError";
}

const isChordError = (e: unknown) => e instanceof TaskError && e.remoteType === "ChordError";

describe("canvas", () => {
  let t: TestApp;
  let worker: Worker;
  /** Messages recorded by `echo` tasks, per key (Celery's redis_echo). */
  const echoes = new Map<string, unknown[]>();
  const runs = new Map<string, number>();
  const seen = new Map<string, { parentId?: string; rootId: string; groupId?: string; groupIndex?: number }>();
  let tasks: ReturnType<typeof define>;

  function define(app: TestApp["app"]) {
    const count = (name: string) => runs.set(name, (runs.get(name) ?? 0) + 1);
    return {
      add: app.task({ name: "add", bind: true }, (ctx, a: number, b: number) => {
        seen.set(ctx.id, { parentId: ctx.parentId, rootId: ctx.rootId, groupId: ctx.groupId, groupIndex: ctx.groupIndex });
        return a + b;
      }),
      identity: app.task("identity", (x: unknown) => x),
      sum: app.task("tsum", (xs: number[]) => {
        count("tsum");
        return xs.reduce((a, b) => a + b, 0);
      }),
      collect: app.task({ name: "collect", bind: true }, (ctx, xs: unknown[]) => {
        count(`collect:${ctx.id}`);
        return xs;
      }),
      sleepThen: app.task("sleepThen", async (ms: number, v: unknown) => {
        await new Promise((r) => setTimeout(r, ms));
        return v;
      }),
      fail: app.task("fail", (..._args: unknown[]) => {
        throw new ExpectedError("expected failure");
      }),
      echo: app.task("echo", (msg: string, key: string) => {
        echoes.set(key, [...(echoes.get(key) ?? []), msg]);
        return msg;
      }),
      echoError: app.task("echoError", (key: string, failedId: string, err: { type: string }) => {
        echoes.set(key, [...(echoes.get(key) ?? []), `${failedId}:${err.type}`]);
      }),
      spawn: app.task({ name: "spawn", bind: true }, async (ctx) => {
        const child = await app.sendTask("identity", [ctx.id]);
        return child.id;
      }),
    };
  }

  before(async () => {
    t = testApp({ prefix: "canvas" });
    tasks = define(t.app);
    worker = t.app.worker({ concurrency: 16 });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
  });

  const echoed = (key: string) => echoes.get(key) ?? [];

  it("simple chain: each result appended to the next; .parent walks back", async () => {
    const { add } = tasks;
    const r = await chain(add.s(4, 4), add.s(8), add.s(16)).applyAsync();
    assert.equal(await r.get({ timeout: 10 }), 32);
    const parent = r.parent as typeof r;
    assert.equal(await parent.get({ timeout: 5 }), 16);
    assert.equal(await (parent.parent as typeof r).get({ timeout: 5 }), 8);
  });

  it("complex chain: chains in chains, and a group followed by a task becomes a chord", async () => {
    const { add, sum } = tasks;
    const r = await chain(add.s(2, 2), chain(add.s(4), add.s(8)), group([add.s(16), add.s(32)]), sum.s(), add.s(1)).applyAsync();
    // 2+2=4, +4=8, +8=16, group: 16+16=32, 16+32=48, sum=80, +1
    assert.equal(await r.get({ timeout: 15 }), 81);
  });

  it("chain with an immutable step ignores the parent's result", async () => {
    const { add } = tasks;
    const r = await chain(add.s(1, 1), add.si(10, 10), add.s(5)).applyAsync();
    assert.equal(await r.get({ timeout: 10 }), 25);
  });

  it("chain on error: later steps do not run, the last fails with the error, the errback runs once", async () => {
    const { add, fail, echoError } = tasks;
    const key = uniqueName("k");
    const c = chain(add.s(1, 1), fail.s(), add.s(5), add.s(6));
    c.linkError(echoError.s(key));
    const r = await c.applyAsync();
    await assert.rejects(r.get({ timeout: 10 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ExpectedError");
    assert.equal(await (r.parent as typeof r).state(), State.FAILURE);
    await waitFor(() => echoed(key).length === 1, { what: "errback" });
    assert.deepEqual(echoed(key), [`${(r.parent as typeof r).parent!.id}:ExpectedError`], "called with the failed task's id and error");
  });

  it("a long chain keeps its steps in the backend: right result; a failure in the middle fails the last", async () => {
    const { add, fail } = tasks;
    const r = await chain(add.s(0, 1), ...Array.from({ length: 199 }, () => add.s(1))).applyAsync();
    assert.equal(await r.get({ timeout: 60 }), 200);
    const steps = [add.s(0, 1), ...Array.from({ length: 20 }, () => add.s(1)), fail.s(), ...Array.from({ length: 20 }, () => add.s(1))];
    const broken = await chain(steps).applyAsync();
    await assert.rejects(broken.get({ timeout: 30 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ExpectedError");
  });

  it("nested group: results nest in order", async () => {
    const { add } = tasks;
    const r = await group([add.s(1, 1), group([add.s(2, 2), group([add.s(3, 3)])])]).applyAsync();
    assert.deepEqual(await r.get({ timeout: 10 }), [2, [4, [6]]]);
    assert.equal(await r.completedCount(), 2);
    assert.equal(await r.ready(), true);
    assert.equal(await r.successful(), true);
  });

  it("large group: 1,000 members", async () => {
    const { add } = tasks;
    const r = await group(Array.from({ length: 1000 }, (_, i) => add.s(i, 1))).applyAsync();
    const values = await r.get({ timeout: 60 });
    assert.deepEqual(values, Array.from({ length: 1000 }, (_, i) => i + 1));
  });

  it("empty group: ready at once, get() is []", async () => {
    const r = await group([]).applyAsync();
    assert.deepEqual(await r.get({ timeout: 1 }), []);
  });

  it("callback called by group: once, after the group completed", async () => {
    const { identity, echo } = tasks;
    const key = uniqueName("k");
    const g = group([identity.si(42), identity.si(1337)]);
    g.link(echo.si("done", key));
    const r = await g.applyAsync();
    assert.deepEqual(await r.get({ timeout: 10 }), [42, 1337]);
    await waitFor(() => echoed(key).length === 1, { what: "callback" });
  });

  for (const which of ["first", "last"] as const) {
    it(`errback called by group when the ${which} member fails: once`, async () => {
      const { identity, fail, echoError } = tasks;
      const key = uniqueName("k");
      const members = which === "first" ? [fail.s(), identity.si(42)] : [identity.si(42), fail.s()];
      const g = group(members);
      g.linkError(echoError.s(key));
      const r = await g.applyAsync();
      await assert.rejects(r.get({ timeout: 10 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ExpectedError");
      await waitFor(() => echoed(key).length >= 1, { what: "errback" });
      await r.get({ timeout: 10, propagate: false });
      assert.equal(echoed(key).length, 1);
    });
  }

  it("chord order: the body gets the header's results in order, whatever order they finish in", async () => {
    const { sleepThen, collect } = tasks;
    const r = await chord([sleepThen.s(300, "a"), sleepThen.s(150, "b"), sleepThen.s(0, "c")], collect.s()).applyAsync();
    assert.deepEqual(await r.get({ timeout: 10 }), ["a", "b", "c"]);
  });

  it("empty header chord: the body runs with []", async () => {
    const r = await chord([], tasks.collect.s()).applyAsync();
    assert.deepEqual(await r.get({ timeout: 10 }), []);
  });

  it("large header chord: sum(range(1000)) = 499500", async () => {
    const { add, sum } = tasks;
    const r = await chord(Array.from({ length: 1000 }, (_, i) => add.s(i, 0)), sum.s()).applyAsync();
    assert.equal(await r.get({ timeout: 60 }), 499500);
  });

  it("nested chord: a chord in a chord's header", async () => {
    const { add, sum } = tasks;
    const inner = chord([add.s(1, 1), add.s(2, 2)], sum.s()); // 6
    const r = await chord([inner, add.s(10, 10)], sum.s()).applyAsync(); // 6 + 20
    assert.equal(await r.get({ timeout: 15 }), 26);
  });

  it("chord on error: body not run, body FAILURE with ChordError naming the failed task, errback once", async () => {
    const { add, fail, collect, echoError } = tasks;
    const key = uniqueName("k");
    const body = collect.s();
    body.linkError(echoError.s(key));
    const r = await chord([add.s(1, 1), fail.s(), fail.s(), add.s(2, 2)], body).applyAsync();
    await assert.rejects(r.get({ timeout: 10 }), (e: unknown) => {
      assert.ok(e instanceof TaskError);
      assert.equal(e.remoteType, "ChordError");
      assert.match(e.remoteMessage, /^Dependency [0-9a-f-]{36} raised ExpectedError: expected failure$/);
      return true;
    });
    await waitFor(() => echoed(key).length >= 1, { what: "errback" });
    const header = r.parent as unknown as { get(o: object): Promise<unknown[]> };
    await header.get({ timeout: 10, propagate: false });
    assert.equal(echoed(key).length, 1, "errbacks once");
    assert.equal(runs.get(`collect:${r.id}`), undefined, "body not run");
  });

  it("an error propagates from a chord to the chain it is in", async () => {
    const { add, fail, sum } = tasks;
    const r = await chain(chord([add.s(1, 1), fail.s()], sum.s()), add.s(1)).applyAsync();
    await assert.rejects(r.get({ timeout: 10 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ChordError");
  });

  it("the last two header members finishing at the same instant run the body once", async () => {
    const { sleepThen, collect } = tasks;
    const bodies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => chord([sleepThen.s(50, i + 1), sleepThen.s(50, -(i + 1))], collect.s()).applyAsync()),
    );
    for (const [i, b] of bodies.entries()) assert.deepEqual(await b.get({ timeout: 20 }), [i + 1, -(i + 1)]);
    assert.deepEqual(bodies.map((b) => runs.get(`collect:${b.id}`)), Array(20).fill(1));
  });

  it("a header member delivered again after completing does not join twice or run the body twice", async () => {
    const { add, collect } = tasks;
    const c = chord([add.s(1, 1), add.s(2, 2)], collect.s());
    const r = await c.applyAsync();
    assert.deepEqual(await r.get({ timeout: 10 }), [2, 4]);
    // Replay the first member's message as a worker would after dying before its ack.
    const header = r.parent as unknown as { results: { id: string }[] };
    const memberId = header.results[0]!.id;
    const broker = await t.app.broker();
    const dead = await (await t.app.backend()).get(memberId);
    assert.equal(dead?.status, State.SUCCESS);
    const { encodeTaskMessage } = await import("../../src/protocol/message.ts");
    const wire = encodeTaskMessage({
      id: memberId,
      task: "add",
      args: [1, 1],
      kwargs: {},
      retries: 0,
      queue: "celery",
      embed: { callbacks: null, errbacks: null, chain: null, chord: c.toJSON().kwargs.body as never },
      group: (header as unknown as { id: string }).id,
      groupIndex: 0,
      chordSize: 2,
      headers: undefined,
    });
    wire.headers["celeriac-once"] = "1";
    await broker.publish("celery", wire, `${memberId}:replay`);
    await waitFor(async () => (await broker.queueStats("celery")).pending + (await broker.queueStats("celery")).inFlight === 0, {
      what: "the replay to be handled",
    });
    assert.equal(runs.get(`collect:${r.id}`), 1);
  });

  it("map and starmap run in one message; chunks splits into a group", async () => {
    const { add, identity } = tasks;
    const m = await identity.map([1, 2, 3]).applyAsync() as { get(o: object): Promise<unknown> };
    assert.deepEqual(await m.get({ timeout: 10 }), [1, 2, 3]);
    const s = await add.starmap([[1, 2], [3, 4]]).applyAsync() as { get(o: object): Promise<unknown> };
    assert.deepEqual(await s.get({ timeout: 10 }), [3, 7]);
    const pairs = Array.from({ length: 25 }, (_, i): [number, number] => [i, i]);
    const ch = await add.chunks(pairs, 10).applyAsync();
    assert.equal(ch.results.length, 3);
    assert.deepEqual((await ch.get({ timeout: 10 })).flat(), pairs.map(([a, b]) => a + b));
  });

  it("bookkeeping: root, parent, group and index on every task; children on the result", async () => {
    const { add, spawn } = tasks;
    const c = await chain(add.s(1, 1), add.s(2)).applyAsync();
    await c.get({ timeout: 10 });
    const first = (c.parent as typeof c).id;
    assert.deepEqual(seen.get(first), { parentId: undefined, rootId: first, groupId: undefined, groupIndex: undefined });
    assert.equal(seen.get(c.id)?.parentId, first);
    assert.equal(seen.get(c.id)?.rootId, first);
    const kids = await (c.parent as typeof c).children();
    assert.deepEqual(kids.map((k) => k.id), [c.id], "the next chain step is a child");
    const g = await group([add.s(5, 5), add.s(6, 6)]).applyAsync();
    await g.get({ timeout: 10 });
    g.results.forEach((m, i) => assert.deepEqual([seen.get(m.id)?.groupId, seen.get(m.id)?.groupIndex], [g.id, i]));
    const p = await spawn.delay();
    const childId = (await p.get({ timeout: 10 })) as string;
    assert.deepEqual((await p.children()).map((k) => k.id), [childId], "a task sent from a task is its child");
  });

  it("chord on error with a chain body: every body step FAILURE, the chain's errback once", async () => {
    const { identity, fail, collect, echoError } = tasks;
    const key = uniqueName("k");
    const body = chain(collect.s(), collect.s());
    body.linkError(echoError.s(key));
    const r = await chord([identity.si(1), fail.s()], body).applyAsync();
    await assert.rejects(r.get({ timeout: 10 }), isChordError);
    const first = r.parent as AsyncResult<unknown>;
    await assert.rejects(first.get({ timeout: 10 }), isChordError);
    await waitFor(() => echoed(key).length >= 1, { what: "errback" });
    await (first.parent as unknown as GroupResult).get({ timeout: 10, propagate: false });
    assert.deepEqual(echoed(key), [`${r.id}:ChordError`], "once, with the id of the chain's handle");
    assert.equal(runs.get(`collect:${first.id}`), undefined, "body not run");
  });

  it("chord on error with a group body: every member FAILURE, the group's errback once", async () => {
    const { fail, collect, echoError } = tasks;
    const key = uniqueName("k");
    const body = group([collect.s(), collect.s()]);
    body.linkError(echoError.s(key));
    const r = await chord([fail.s()], body).applyAsync() as unknown as GroupResult;
    await assert.rejects(r.get({ timeout: 10 }), isChordError);
    for (const m of r.results) assert.equal(await m.failed(), true);
    await waitFor(() => echoed(key).length >= 1, { what: "errback" });
    await (r.parent as GroupResult).get({ timeout: 10, propagate: false });
    assert.deepEqual(echoed(key), [`${r.id}:ChordError`]);
  });

  it("group.link: each callback has the fixed id <groupId>:link:<i> and runs once", async () => {
    const { sleepThen, echo, collect } = tasks;
    const key = uniqueName("k");
    const g = group([sleepThen.s(0, 1), sleepThen.s(0, 2)]);
    g.link(echo.si("a", key));
    g.link(echo.si("b", key));
    const r = await g.applyAsync();
    assert.equal(await t.app.AsyncResult(`${r.id}:link:0`).get({ timeout: 10 }), "a");
    assert.equal(await t.app.AsyncResult(`${r.id}:link:1`).get({ timeout: 10 }), "b");
    // Two members finishing together both see the join complete: the callback must still run once.
    const groups = await Promise.all(Array.from({ length: 10 }, (_, i) => {
      const h = group([sleepThen.s(50, i), sleepThen.s(50, -i)]);
      h.link(collect.s());
      return h.applyAsync();
    }));
    for (const h of groups) await t.app.AsyncResult(`${h.id}:link:0`).get({ timeout: 20 });
    assert.deepEqual(groups.map((h) => runs.get(`collect:${h.id}:link:0`)), Array(10).fill(1));
  });

  it("group with both link and linkError: the callback runs on success, the errback on failure", async () => {
    const { identity, fail, echo, echoError } = tasks;
    const okKey = uniqueName("k");
    const badKey = uniqueName("k");
    const ok = group([identity.si(1), identity.si(2)]);
    ok.link(echo.si("done", okKey));
    ok.linkError(echoError.s(okKey));
    const bad = group([identity.si(1), fail.s()]);
    bad.link(echo.si("done", badKey));
    bad.linkError(echoError.s(badKey));
    const [r1, r2] = await Promise.all([ok.applyAsync(), bad.applyAsync()]);
    assert.deepEqual(await r1.get({ timeout: 10 }), [1, 2]);
    await waitFor(() => echoed(okKey).length === 1, { what: "callback" });
    await assert.rejects(r2.get({ timeout: 10 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ExpectedError");
    await waitFor(() => echoed(badKey).length === 1, { what: "errback" });
    await assert.rejects(t.app.AsyncResult(`${r2.id}:link:0`).get({ timeout: 10 }), isChordError);
    assert.deepEqual(echoed(okKey), ["done"]);
    assert.deepEqual(echoed(badKey), [`${r2.results[1]!.id}:ExpectedError`]);
  });

  it("a group as a chain step after a chord: the next step gets the group's results", async () => {
    const { identity, collect } = tasks;
    const header = () => [identity.si(1), identity.si(2)];
    const direct = await chain(chord(header(), group([collect.s(), collect.s()])), collect.s()).applyAsync();
    assert.deepEqual(await direct.get({ timeout: 10 }), [[1, 2], [1, 2]]);
    const stepped = await chain(chord(header(), chain(collect.s(), group([collect.s(), collect.s()]))), collect.s()).applyAsync();
    assert.deepEqual(await stepped.get({ timeout: 10 }), [[1, 2], [1, 2]]);
    // With a callback too: the callback and the next step both get the group's results.
    const linked = group([collect.s(), collect.s()]);
    linked.link(collect.s());
    const withLink = await chain(chord(header(), linked), collect.s()).applyAsync();
    assert.deepEqual(await withLink.get({ timeout: 10 }), [[1, 2], [1, 2]]);
    const gid = (withLink.parent as unknown as GroupResult).id;
    assert.deepEqual(await t.app.AsyncResult(`${gid}:link:0`).get({ timeout: 10 }), [[1, 2], [1, 2]]);
  });

  it("a group reached inside a chord header reports to the chord as one member", async () => {
    const { add, identity, collect, fail } = tasks;
    const r = await chord([chain(add.s(1, 1), group([add.s(1), add.s(2)])), add.s(10, 10)], collect.s()).applyAsync();
    assert.deepEqual(await r.get({ timeout: 10 }), [[3, 4], 20]);
    const nested = await chord([chord([identity.si(1)], group([collect.s(), collect.s()])), identity.si(5)], collect.s()).applyAsync();
    assert.deepEqual(await nested.get({ timeout: 10 }), [[[1], [1]], 5]);
    const broken = await chord([chain(add.s(1, 1), group([fail.s(), add.s(1)])), add.s(10, 10)], collect.s()).applyAsync();
    await assert.rejects(broken.get({ timeout: 10 }), isChordError);
    // A nested group with a callback is not flattened into the header: its callback needs its results.
    const inner = group([identity.si(2), identity.si(3)]);
    inner.link(collect.s());
    const linked = await chord([identity.si(1), inner], collect.s()).applyAsync();
    assert.deepEqual(await linked.get({ timeout: 10 }), [1, [2, 3]]);
    const innerId = (linked.parent as unknown as GroupResult).results[1]!.id;
    assert.deepEqual(await t.app.AsyncResult(`${innerId}:link:0`).get({ timeout: 10 }), [2, 3]);
  });
});
