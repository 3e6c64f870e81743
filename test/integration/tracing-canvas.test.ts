/**
 * A canvas is one trace, with or without a context manager: the steps of a chain, the members and
 * body of a chord, and link callbacks are published by workers after a task ended (or by the
 * client, several at once) and must still continue the trace they belong to.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { type AsyncResult, chain, chord, type GroupResult, type Worker } from "celeriac";
import { type TestApp, testApp, uniqueName, waitFor } from "../helpers.ts";

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

const ID = "messaging.message.id";

/** The publish and process spans of each task id, once all have ended. */
async function spansOf(ids: string[]): Promise<Map<string, { publish: ReadableSpan; process: ReadableSpan }>> {
  const find = (kind: SpanKind, id: string) => exporter.getFinishedSpans().find((s) => s.kind === kind && s.attributes[ID] === id);
  const out = new Map<string, { publish: ReadableSpan; process: ReadableSpan }>();
  for (const id of ids) {
    const publish = await waitFor(() => find(SpanKind.PRODUCER, id), { what: `publish span of ${id}` });
    const process = await waitFor(() => find(SpanKind.CONSUMER, id), { what: `process span of ${id}` });
    out.set(id, { publish, process });
  }
  return out;
}

/** Asserts every span of these tasks is in one trace; returns the trace id. */
async function oneTrace(ids: string[]): Promise<string> {
  const spans = await spansOf(ids);
  const traces = new Set([...spans.values()].flatMap((s) => [s.publish.spanContext().traceId, s.process.spanContext().traceId]));
  assert.equal(traces.size, 1, `${ids.length} tasks in ${traces.size} traces`);
  return [...traces][0]!;
}

/** The tasks of a chain's handle, first to last. */
function chainIds(r: AsyncResult<unknown>): string[] {
  const ids: string[] = [];
  for (let n: { id: string; parent: unknown } | null = r; n; n = n.parent as typeof n) ids.unshift(n.id);
  return ids;
}

describe("a canvas is one trace", () => {
  let t: TestApp;
  let worker: Worker;

  before(async () => {
    trace.setGlobalTracerProvider(provider);
    t = testApp({ prefix: "trcv" });
    t.app.task("add", (a: number, b: number) => a + b);
    t.app.task("tsum", async (xs: number[]) => {
      await new Promise((r) => setTimeout(r, 2)); // past an await: no context manager carries context here
      return xs.reduce((a, b) => a + b, 0);
    });
    t.app.task("note", (..._args: unknown[]) => "noted");
    t.app.task("fanout", async () => {
      await new Promise((r) => setTimeout(r, 2));
      const add = t.app.tasks.get("add")!;
      const r = await chord([add.s(1, 1), add.s(2, 2)], t.app.tasks.get("tsum")!.s()).applyAsync();
      return [r.id, ...(r.parent as unknown as GroupResult).results.map((h) => h.id)];
    });
    t.app.task("boom", () => {
      throw new Error("boom");
    });
    worker = t.app.worker({ concurrency: 4 });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
    trace.disable();
    context.disable();
  });

  for (const cm of [false, true]) {
    describe(cm ? "with a context manager" : "without a context manager", () => {
      before(() => {
        if (cm) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      });
      after(() => {
        if (cm) context.disable();
      });

      it("a 3-step chain: each step's publish hangs from the previous step's process span", async () => {
        const add = t.app.tasks.get("add")!;
        const r = await chain(add.s(1, 1), add.s(2), add.s(3)).applyAsync();
        assert.equal(await r.get({ timeout: 10 }), 7);
        const ids = chainIds(r);
        assert.equal(ids.length, 3);
        await oneTrace(ids);
        const spans = await spansOf(ids);
        for (let i = 1; i < ids.length; i++) {
          const prev = spans.get(ids[i - 1]!)!.process;
          assert.equal(spans.get(ids[i]!)!.publish.parentSpanContext?.spanId, prev.spanContext().spanId, `step ${i + 1}`);
        }
        // The result writes are child spans of the step's process span too.
        const first = spans.get(ids[0]!)!.process;
        const store = await waitFor(
          () => exporter.getFinishedSpans().find((s) => s.name === "store SUCCESS" && s.attributes[ID] === ids[0]),
          { what: "store span" },
        );
        assert.equal(store.parentSpanContext?.spanId, first.spanContext().spanId);
      });

      it("a chord: header members and body in one trace, the body published under the last member", async () => {
        const add = t.app.tasks.get("add")!;
        const r = await chord([add.s(1, 1), add.s(2, 2), add.s(3, 3)], t.app.tasks.get("tsum")!.s()).applyAsync();
        assert.equal(await r.get({ timeout: 10 }), 12);
        const header = (r.parent as unknown as GroupResult).results.map((h) => h.id);
        await oneTrace([...header, r.id]);
        const spans = await spansOf([...header, r.id]);
        const members = new Set(header.map((id) => spans.get(id)!.process.spanContext().spanId));
        assert.ok(members.has(spans.get(r.id)!.publish.parentSpanContext?.spanId ?? ""), "the body's publish is a member's child");
        // The client published the header under one span.
        const parents = new Set(header.map((id) => spans.get(id)!.publish.parentSpanContext?.spanId));
        assert.equal(parents.size, 1);
        const apply = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === [...parents][0]);
        assert.equal(apply?.name, "apply celery.chord");
      });

      it("a chord applied by a task: under an apply span that is a child of the task's process span", async () => {
        const r = await t.app.sendTask<string[]>("fanout");
        const [bodyId, ...header] = await r.get({ timeout: 10 });
        assert.equal(await t.app.AsyncResult(bodyId!).get({ timeout: 10 }), 6);
        await oneTrace([r.id, bodyId!, ...header]);
        const spans = await spansOf([r.id, ...header]);
        const apply = exporter.getFinishedSpans().find((s) =>
          s.spanContext().spanId === spans.get(header[0]!)!.publish.parentSpanContext?.spanId
        );
        assert.equal(apply?.name, "apply celery.chord");
        assert.equal(apply.parentSpanContext?.spanId, spans.get(r.id)!.process.spanContext().spanId);
      });

      it("link callbacks and errbacks continue the trace of the task they follow", async () => {
        const key = uniqueName("k");
        const note = t.app.tasks.get("note")!;
        const ok = await t.app.tasks.get("add")!.s(2, 2).link(note.s(key)).applyAsync() as AsyncResult<number>;
        assert.equal(await ok.get({ timeout: 10 }), 4);
        assert.equal(await t.app.AsyncResult(`${ok.id}:link:0`).get({ timeout: 10 }), "noted");
        await oneTrace([ok.id, `${ok.id}:link:0`]);

        const bad = await t.app.tasks.get("boom")!.s().linkError(note.s(key)).applyAsync() as AsyncResult<never>;
        await assert.rejects(bad.get({ timeout: 10 }));
        assert.equal(await t.app.AsyncResult(`${bad.id}:errback:0`).get({ timeout: 10 }), "noted");
        await oneTrace([bad.id, `${bad.id}:errback:0`]);
      });
    });
  }
});
