/**
 * Callbacks and errbacks (`link`, `linkError`) on signatures, chains and chords, on real NATS and
 * Redis, porting the link / link_error cases of Celery's t/integration/test_canvas.py: every
 * signature that runs has its own id, a callback gets its parent's result appended, an errback the
 * failed task's id and error, and no callback's record replaces another task's.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AsyncResult, chain, chord, group, type GroupResult, State, TaskError, type Worker } from "celeriac";
import { type TestApp, testApp, uniqueName, waitFor } from "../helpers.ts";

class ExpectedError extends Error {
  override name = "ExpectedError";
}

/** A call a recording task saw: its own id, its lineage and its arguments. */
interface Call {
  id: string;
  rootId: string;
  parentId: string | undefined;
  args: unknown[];
}

const isExpected = (e: unknown) => e instanceof TaskError && e.remoteType === "ExpectedError";

describe("canvas callbacks and errbacks", () => {
  let t: TestApp;
  let worker: Worker;
  /** Calls recorded per key (the first argument of `record`). */
  const calls = new Map<string, Call[]>();
  /** Ids of every task that ran, per task name. */
  const ran = new Map<string, string[]>();
  let tasks: ReturnType<typeof define>;

  function define(app: TestApp["app"]) {
    const note = (name: string, id: string) => ran.set(name, [...(ran.get(name) ?? []), id]);
    return {
      add: app.task({ name: "add", bind: true }, (ctx, a: number, b: number) => {
        note("add", ctx.id);
        return a + b;
      }),
      identity: app.task({ name: "identity", bind: true }, (ctx, x: unknown) => {
        note("identity", ctx.id);
        return x;
      }),
      fail: app.task({ name: "fail", bind: true }, (ctx, ..._args: unknown[]) => {
        note("fail", ctx.id);
        throw new ExpectedError("expected failure");
      }),
      /** Returns its `tag` header (null without), after the args it got. */
      tagged: app.task({ name: "tagged", bind: true }, (ctx, ...args: unknown[]) => {
        const tag = ctx.headers.tag ?? null;
        return args.length ? [...args, tag] : tag;
      }),
      sum: app.task("tsum", (xs: number[]) => xs.reduce((a, b) => a + b, 0)),
      /** Records its id and the arguments after the key; returns "recorded". */
      record: app.task({ name: "record", bind: true }, (ctx, key: string, ...args: unknown[]) => {
        calls.set(key, [...(calls.get(key) ?? []), { id: ctx.id, rootId: ctx.rootId, parentId: ctx.parentId, args }]);
        return "recorded";
      }),
    };
  }

  before(async () => {
    t = testApp({ prefix: "cbk" });
    tasks = define(t.app);
    worker = t.app.worker({ concurrency: 8 });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
  });

  const recorded = (key: string) => calls.get(key) ?? [];
  /** Waits until `key` has `n` calls and returns them. */
  const waitCalls = async (key: string, n: number, what: string) => {
    await waitFor(() => recorded(key).length === n, { what });
    return recorded(key);
  };
  const ids = (name: string) => ran.get(name) ?? [];

  it("sig.link(cb).applyAsync() sends the task: the callback gets its result, has its own id, keeps its own record", async () => {
    const { add, record } = tasks;
    const key = uniqueName("k");
    // A plain signature's applyAsync() is typed Promise<unknown>: it sends a task, so its handle is an AsyncResult.
    const r = await add.s(2, 2).link(record.s(key)).applyAsync() as AsyncResult<number>;
    assert.equal(await r.get({ timeout: 10 }), 4);
    const [call] = await waitCalls(key, 1, "the callback");
    assert.deepEqual(call!.args, [4], "the parent's result appended");
    assert.notEqual(call!.id, r.id);
    assert.equal(call!.id, `${r.id}:link:0`);
    assert.deepEqual(ids("add").filter((id) => id === r.id), [r.id], "add ran, once, under its own id");
    assert.equal(await t.app.AsyncResult(call!.id).get({ timeout: 10 }), "recorded");
    assert.equal(await t.app.AsyncResult(r.id).get({ timeout: 5 }), 4, "add's record is still add's");
    assert.deepEqual((await r.children()).map((c) => c.id), [call!.id], "the callback is add's child");
  });

  it("applyAsync({ link, linkError }) takes signatures, as Celery's apply_async(link=…, link_error=…)", async () => {
    const { add, fail, record } = tasks;
    const okKey = uniqueName("ok");
    const ok = await add.applyAsync([1, 2], { link: record.s(okKey) });
    assert.equal(await ok.get({ timeout: 10 }), 3);
    await waitFor(() => recorded(okKey).length === 1, { what: "the callback" });
    assert.deepEqual(recorded(okKey)[0]!.args, [3]);

    const errKey = uniqueName("err");
    const bad = await fail.applyAsync([], { linkError: [record.s(errKey)] });
    const err = await bad.get({ timeout: 10, propagate: false });
    assert.ok(isExpected(err), "the task's own failure, not the errback's result");
    await waitFor(() => recorded(errKey).length === 1, { what: "the errback" });
  });

  it("an errback gets the failed task's id and its error ({ type, message, traceback }) appended", async () => {
    const { fail, record } = tasks;
    const key = uniqueName("k");
    const r = await fail.s().linkError(record.s(key)).applyAsync() as AsyncResult<never>;
    await assert.rejects(r.get({ timeout: 10 }), isExpected);
    const [call] = await waitCalls(key, 1, "the errback");
    assert.equal(call!.id, `${r.id}:errback:0`);
    const [failedId, error] = call!.args as [string, { type: string; message: string; traceback: string | null }];
    assert.equal(failedId, r.id);
    assert.equal(error.type, "ExpectedError");
    assert.equal(error.message, "expected failure");
    assert.match(error.traceback ?? "", /ExpectedError: expected failure/);
    assert.equal(await t.app.AsyncResult(call!.id).get({ timeout: 10 }), "recorded");
    assert.equal(await r.state(), State.FAILURE, "the failed task's record is still its failure");
  });

  it("chain(…).linkError(eb).applyAsync(): get() raises the step's failure; the errback runs once, under its own id", async () => {
    const { identity, fail, record } = tasks;
    const key = uniqueName("k");
    const r = await chain(identity.si(1), fail.si(), identity.si(3)).linkError(record.si(key)).applyAsync();
    await assert.rejects(r.get({ timeout: 10 }), isExpected);
    const failedId = r.parent!.id;
    await assert.rejects((r.parent as typeof r).get({ timeout: 10 }), isExpected);
    const [call] = await waitCalls(key, 1, "the errback");
    assert.equal(call!.id, `${failedId}:errback:0`);
    assert.deepEqual(call!.args, [], "immutable: nothing appended");
    assert.equal(await t.app.AsyncResult(call!.id).get({ timeout: 10 }), "recorded");
    await assert.rejects(t.app.AsyncResult(r.id).get({ timeout: 5 }), isExpected, "the chain still raises after the errback ran");
    assert.ok(!ids("identity").includes(r.id), "the step after the failure did not run");
  });

  it("chord(header, body.s().linkError(eb)): a failing header raises ChordError and the body's errback runs once", async () => {
    const { identity, fail, record } = tasks;
    const key = uniqueName("k");
    const r = await chord([identity.si(1), fail.si()], identity.s().linkError(record.si(key))).applyAsync();
    await assert.rejects(r.get({ timeout: 10 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ChordError");
    const [call] = await waitCalls(key, 1, "the errback");
    assert.equal(call!.id, `${r.id}:errback:0`);
    const failedMember = (r.parent as unknown as GroupResult).results[1]!.id;
    assert.equal(call!.parentId, r.id, "sent on behalf of the body");
    assert.equal(call!.rootId, failedMember, "in the workflow of the member whose failure sent it");
    await (r.parent as unknown as { get(o: object): Promise<unknown> }).get({ timeout: 10, propagate: false });
    assert.equal(await t.app.AsyncResult(call!.id).get({ timeout: 10 }), "recorded");
    assert.equal(recorded(key).length, 1, "once");
    assert.ok(!ids("identity").includes(r.id), "the body did not run");
  });

  it("chord(…).linkError(eb): called when the header fails and when the body fails, with the body's id", async () => {
    const { identity, fail, record } = tasks;
    const headerKey = uniqueName("h");
    const r1 = await chord([fail.s()], identity.s()).linkError(record.s(headerKey)).applyAsync();
    await assert.rejects(r1.get({ timeout: 10 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ChordError");
    const [c1] = await waitCalls(headerKey, 1, "errback (header failed)");
    assert.equal(c1!.args[0], r1.id, "called with the body's id");
    assert.equal((c1!.args[1] as { type: string }).type, "ChordError");

    const bodyKey = uniqueName("b");
    const r2 = await chord([identity.si(42)], fail.s()).linkError(record.s(bodyKey)).applyAsync();
    await assert.rejects(r2.get({ timeout: 10 }), isExpected);
    const [c2] = await waitCalls(bodyKey, 1, "errback (body failed)");
    assert.equal(c2!.args[0], r2.id);
    assert.equal((c2!.args[1] as { type: string }).type, "ExpectedError");
  });

  it("chord(…).link(cb) and chain(…).link(cb): called once, with the last result", async () => {
    const { add, identity, record } = tasks;
    const chordKey = uniqueName("c");
    const r1 = await chord([add.s(1, 1), add.s(2, 2)], identity.s()).link(record.s(chordKey)).applyAsync();
    assert.deepEqual(await r1.get({ timeout: 10 }), [2, 4]);
    const [c1] = await waitCalls(chordKey, 1, "chord callback");
    assert.deepEqual(c1!.args, [[2, 4]]);
    assert.equal(c1!.id, `${r1.id}:link:0`);

    const chainKey = uniqueName("ch");
    const r2 = await chain(add.s(1, 1), add.s(10)).link(record.s(chainKey)).applyAsync();
    assert.equal(await r2.get({ timeout: 10 }), 12);
    const [c2] = await waitCalls(chainKey, 1, "chain callback");
    assert.deepEqual(c2!.args, [12]);
  });

  it("chord(…).linkError(eb) with a chain in the header or as the body: called once, with the body's or the failed step's id", async () => {
    const { identity, fail, record } = tasks;
    const headerKey = uniqueName("h");
    const r1 = await chord([chain(identity.si(42), fail.s(), identity.si(42))], identity.s()).linkError(record.s(headerKey)).applyAsync();
    await assert.rejects(r1.get({ timeout: 10 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ChordError");
    assert.equal(await t.app.AsyncResult(`${r1.id}:errback:0`).get({ timeout: 10 }), "recorded");
    assert.deepEqual(recorded(headerKey).map((c) => c.args[0]), [r1.id]);

    const bodyKey = uniqueName("b");
    const r2 = await chord([identity.si(42)], chain(identity.si(42), fail.s(), identity.si(42))).linkError(record.s(bodyKey)).applyAsync();
    await assert.rejects(r2.get({ timeout: 10 }), isExpected);
    const failedId = r2.parent!.id;
    assert.equal(await t.app.AsyncResult(`${failedId}:errback:0`).get({ timeout: 10 }), "recorded");
    assert.deepEqual(recorded(bodyKey).map((c) => c.args[0]), [failedId]);
  });

  it("a chord in a chord's header fails: the outer body does not run and the outer chord's errback runs once", async () => {
    const { identity, fail, record } = tasks;
    const bodyKey = uniqueName("body");
    const errKey = uniqueName("err");
    const inner = chord([identity.si("t1"), fail.si()], identity.si("t2 (body)"));
    const r = await chord([identity.si("t3"), inner], record.si(bodyKey)).linkError(record.si(errKey)).applyAsync();
    await assert.rejects(r.get({ timeout: 10 }), (e: unknown) => e instanceof TaskError && e.remoteType === "ChordError");
    assert.equal(await t.app.AsyncResult(`${r.id}:errback:0`).get({ timeout: 10 }), "recorded");
    assert.equal(recorded(errKey).length, 1);
    assert.equal(recorded(bodyKey).length, 0, "the outer body did not run");
  });

  it("chain(group, tsum).linkError(eb).applyAsync([], { countdown }): the delayed chord still sums (errback unused)", async () => {
    const { add, sum, record } = tasks;
    const key = uniqueName("k");
    const r = await chain(group([add.s(1, 2), add.s(3, 4)]), sum.s()).linkError(record.s(key)).applyAsync([], { countdown: 1 });
    assert.equal(await r.get({ timeout: 15 }), 10);
    assert.equal(recorded(key).length, 0);
  });

  it("chain children with callbacks: each step's callback runs, once per step, each under its own id", async () => {
    const { identity, record } = tasks;
    const key = uniqueName("k");
    const n = 12;
    const child = identity.si(1337).link(record.si(key));
    const r = await chain(Array.from({ length: n }, () => child)).applyAsync();
    assert.equal(await r.get({ timeout: 20 }), 1337);
    await waitFor(() => recorded(key).length === n, { what: `${n} callbacks`, timeoutMs: 20_000 });
    assert.equal(new Set(recorded(key).map((c) => c.id)).size, n, "distinct ids");
  });

  it("chain children with errbacks: only the first step runs and fails, so one errback runs", async () => {
    const { fail, record } = tasks;
    const key = uniqueName("k");
    const child = fail.si().linkError(record.si(key));
    const r = await chain(Array.from({ length: 12 }, () => child)).applyAsync();
    await assert.rejects(r.get({ timeout: 10 }), isExpected);
    let first = r as { id: string; parent: unknown };
    while (first.parent) first = first.parent as typeof first;
    assert.equal(await t.app.AsyncResult(`${first.id}:errback:0`).get({ timeout: 10 }), "recorded");
    assert.deepEqual(recorded(key).map((c) => c.id), [`${first.id}:errback:0`]);
  });

  it("group children with callbacks and with errbacks: each member calls its own, under its own id", async () => {
    const { identity, fail, record } = tasks;
    const n = 12;
    const okKey = uniqueName("ok");
    const ok = await group(Array.from({ length: n }, () => identity.si(1337).link(record.si(okKey)))).applyAsync();
    assert.deepEqual(await ok.get({ timeout: 20 }), Array.from({ length: n }, () => 1337));
    await waitCalls(okKey, n, `${n} callbacks`);
    assert.deepEqual(new Set(recorded(okKey).map((c) => c.id)), new Set(ok.results.map((r) => `${r.id}:link:0`)));

    const errKey = uniqueName("err");
    const bad = await group(Array.from({ length: n }, () => fail.si().linkError(record.si(errKey)))).applyAsync();
    await assert.rejects(bad.get({ timeout: 20 }), isExpected);
    await waitCalls(errKey, n, `${n} errbacks`);
    assert.deepEqual(new Set(recorded(errKey).map((c) => c.id)), new Set(bad.results.map((r) => `${r.id}:errback:0`)));
  });

  it("group(…).linkError(eb) with several failing members: called once per failure, with that member's id", async () => {
    const { identity, fail, record } = tasks;
    const key = uniqueName("k");
    const g = await group([...Array.from({ length: 6 }, () => identity.si(42)), ...Array.from({ length: 10 }, () => fail.s())])
      .linkError(record.s(key)).applyAsync();
    await assert.rejects(g.get({ timeout: 20 }), isExpected);
    await waitCalls(key, 10, "10 errbacks");
    const failed = g.results.slice(6).map((r) => r.id);
    assert.deepEqual(new Set(recorded(key).map((c) => c.args[0])), new Set(failed));
    assert.deepEqual(new Set(recorded(key).map((c) => c.id)), new Set(failed.map((id) => `${id}:errback:0`)));
  });

  it("taskId on a chain or a chord names its handle (the last task, the body); on a group it is refused", async () => {
    const { add, identity } = tasks;
    const chainId = uniqueName("chain");
    const r1 = await chain(add.s(1, 1), add.s(2)).applyAsync([], { taskId: chainId });
    assert.equal(r1.id, chainId);
    assert.equal(await t.app.AsyncResult(chainId).get({ timeout: 10 }), 4);
    const chordId = uniqueName("chord");
    const r2 = await chord([add.s(1, 1), add.s(2, 2)], identity.s()).set({ taskId: chordId }).applyAsync();
    assert.equal(r2.id, chordId);
    assert.deepEqual(await t.app.AsyncResult(chordId).get({ timeout: 10 }), [2, 4]);
    await assert.rejects(group([add.s(1, 1)]).applyAsync([], { taskId: uniqueName("g") }), /taskId/);
  });

  it("options set() on a chain, a group or a chord are used (first step; every member; header members), not dropped", async () => {
    const { tagged } = tasks;
    const tag = { tag: "set-on-compound" };
    const c = await chain(tagged.s(), tagged.s()).set({ headers: tag }).applyAsync() as AsyncResult<unknown[]>;
    const outs = (await c.get({ timeout: 10 })) as unknown[];
    assert.deepEqual(outs, ["set-on-compound", null], "the first step only, as in Celery");
    const g = await group([tagged.s(), tagged.s()]).set({ headers: tag }).applyAsync();
    assert.deepEqual(await g.get({ timeout: 10 }), ["set-on-compound", "set-on-compound"]);
    const ch = await chord([tagged.s(), tagged.s()], tagged.s()).set({ headers: tag }).applyAsync();
    assert.deepEqual(await ch.get({ timeout: 10 }), [["set-on-compound", "set-on-compound"], null]);
  });

  it("a callback that is a chain runs with the result appended to its first step; its handle is a child", async () => {
    const { add } = tasks;
    const r = await add.s(1, 1).link(chain(add.s(10), add.s(100))).applyAsync() as AsyncResult<number>;
    assert.equal(await r.get({ timeout: 10 }), 2);
    const children = await r.children();
    assert.equal(children.length, 1);
    assert.equal(await children[0]!.get({ timeout: 10 }), 112);
  });
});
