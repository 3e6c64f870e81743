/**
 * Priorities on real NATS and Redis: a level per subject, the highest level with work runs first,
 * each level in send order; a priority-9 task jumps a backlog of 500; the task option, `sig.set`
 * and `inspect` carry the level.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Worker } from "celeriac";
import { type CeleriacEvent, watchEvents } from "celeriac";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

describe("priorities", () => {
  const disposers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const d of disposers.reverse()) await d();
  });

  function setup(concurrency: number, runMs: number, events = false) {
    const t: TestApp = testApp({ prefix: "prio" });
    const starts: string[] = [];
    let release = () => {};
    let gate = Promise.resolve();
    const job = t.app.task({ name: "job", bind: true }, async (ctx, label: string) => {
      starts.push(label);
      await gate;
      await new Promise((r) => setTimeout(r, runMs));
      return ctx.id;
    });
    t.app.task({ name: "urgent", bind: true, priority: 8 }, (_ctx, label: string) => {
      starts.push(label);
      return label;
    });
    const worker: Worker = t.app.worker({ concurrency, hostname: `${t.name}@test`, events });
    disposers.push(async () => {
      release();
      await worker.stop();
      await t.dispose();
    });
    return {
      t,
      job,
      worker,
      starts,
      hold() {
        gate = new Promise<void>((r) => (release = r));
      },
      release: () => release(),
    };
  }

  it("a priority-9 task sent behind 500 queued priority-0 tasks starts within the next 2 starts (-c 1)", async () => {
    const s = setup(1, 5);
    await s.worker.start();
    await Promise.all(Array.from({ length: 500 }, (_, i) => s.t.app.sendTask("job", [`low${i}`], { ignoreResult: true })));
    await waitFor(() => s.starts.length >= 3, { what: "the backlog to start draining" });
    const startedBefore = s.starts.length;
    const r = await s.t.app.sendTask("job", ["high"], { priority: 9 });
    await r.get({ timeout: 30 });
    const at = s.starts.indexOf("high");
    assert.ok(at >= 0, "the priority-9 task ran");
    assert.ok(at - startedBefore <= 2, `it started ${at - startedBefore} starts after it was sent (starts before: ${startedBefore})`);
    assert.ok(s.starts.length < 400, "the backlog was still there when it ran");
  });

  it("higher levels first, equal levels in send order; the task option and sig.set({ priority }) set the level", async () => {
    const s = setup(1, 0);
    // Sent before any worker exists: the order of starts is the order of levels, then of sends.
    const sent = [
      s.t.app.sendTask("job", ["a0"]),
      s.t.app.sendTask("job", ["b3"], { priority: 3 }),
      s.t.app.sendTask("job", ["c0"]),
      s.t.app.sendTask("job", ["d3"], { priority: 3 }),
    ];
    const rs: { get(o: { timeout: number }): Promise<unknown> }[] = [];
    for (const p of sent) rs.push(await p);
    rs.push(await s.job.s("e9").set({ priority: 9 }).applyAsync() as typeof rs[number]);
    rs.push(await s.t.app.sendTask("urgent", ["f8"]));
    rs.push(await s.t.app.sendTask("job", ["g3"], { priority: 3 }));
    rs.push(await s.t.app.sendTask("urgent", ["h0"], { priority: 0 }));
    await s.worker.start();
    await Promise.all(rs.map((r) => r.get({ timeout: 30 })));
    assert.deepEqual(s.starts, ["e9", "f8", "b3", "d3", "g3", "a0", "c0", "h0"]);
  });

  it("inspect active and the task-received event show a task's priority", async () => {
    const s = setup(2, 0, true);
    const live: CeleriacEvent[] = [];
    const off = watchEvents(await s.t.app.broker(), s.t.app.config.names, (e) => live.push(e));
    disposers.push(() => Promise.resolve(off()));
    s.hold();
    await s.worker.start();
    const r = await s.t.app.sendTask("job", ["shown"], { priority: 6 });
    const host = `${s.t.name}@test`;
    const active = await waitFor(async () => {
      const replies = await s.t.app.control.active({ destination: [host] });
      const list = replies[host] as { id: string; delivery_info: { priority: number } }[] | undefined;
      return list?.find((x) => x.id === r.id);
    }, { what: "the task in inspect active" });
    assert.equal(active.delivery_info.priority, 6);
    s.release();
    await r.get({ timeout: 10 });
    const ev = await waitFor(() => live.find((e) => e.uuid === r.id && e.type === "task-received"), { what: "task-received" });
    assert.equal(ev.priority, 6);
  });
});
