/**
 * Tracing on real NATS and Redis, with an in-memory exporter: the span tree of a task that sends a
 * task that sends a task (what a chain does), W3C context on the wire, statuses of failures,
 * retries and revocations, and the link option.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import type { Worker } from "celeriac";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;
const attr = (s: ReadableSpan, k: string) => s.attributes[k];

/** Spans of one task id (its process span and the publish span that sent it). */
function spansOf(id: string) {
  const all = exporter.getFinishedSpans();
  const publish = all.find((s) => s.kind === SpanKind.PRODUCER && attr(s, "messaging.message.id") === id);
  const process = all.find((s) => s.kind === SpanKind.CONSUMER && attr(s, "messaging.message.id") === id);
  return { publish, process, all };
}

describe("tracing", () => {
  let t: TestApp;
  let worker: Worker;

  before(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    t = testApp({ prefix: "trc" });
    const { app } = t;
    app.task("leaf", (n: number) => n * 2);
    app.task({ name: "middle", bind: true }, async (_ctx, n: number) => (await app.sendTask("leaf", [n + 1])).id);
    app.task({ name: "top", bind: true }, async (_ctx, n: number) => (await app.sendTask("middle", [n + 1])).id);
    app.task("boom", () => {
      throw new RangeError("out of range");
    });
    app.task({ name: "again", bind: true, maxRetries: 1 }, (ctx) => {
      if (ctx.retries === 0) throw ctx.retry({ countdown: 0 });
      return "second time";
    });
    worker = app.worker({ concurrency: 4 });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
    trace.disable();
    context.disable();
  });

  it("a task sent from a task sent from a task: one trace, each step a child of the step that sent it", async () => {
    const r = await t.app.sendTask<string>("top", [1]);
    const middleId = await r.get({ timeout: 10 });
    const leafId = await t.app.AsyncResult<string>(middleId).get({ timeout: 10 });
    assert.equal(await t.app.AsyncResult(leafId).get({ timeout: 10 }), 6);
    await waitFor(() => spansOf(leafId).process?.ended && spansOf(leafId).process, { what: "leaf's process span" });

    const top = spansOf(r.id);
    const middle = spansOf(middleId);
    const leaf = spansOf(leafId);
    for (const s of [top, middle, leaf]) {
      assert.ok(s.publish && s.process, "each step has a publish and a process span");
    }
    const traceId = top.publish!.spanContext().traceId;
    for (const s of [top.process, middle.publish, middle.process, leaf.publish, leaf.process]) {
      assert.equal(s!.spanContext().traceId, traceId, `${s!.name} is in the same trace`);
    }
    // publish top → process top → publish middle → process middle → publish leaf → process leaf
    assert.equal(parentOf(top.publish!), undefined, "the first publish is the root");
    assert.equal(parentOf(top.process!), idOf(top.publish!));
    assert.equal(parentOf(middle.publish!), idOf(top.process!));
    assert.equal(parentOf(middle.process!), idOf(middle.publish!));
    assert.equal(parentOf(leaf.publish!), idOf(middle.process!));
    assert.equal(parentOf(leaf.process!), idOf(leaf.publish!));

    const p = leaf.process!;
    assert.equal(p.name, "process leaf");
    assert.equal(leaf.publish!.name, "publish celery");
    assert.equal(attr(p, "messaging.system"), "nats");
    assert.equal(attr(p, "messaging.operation.name"), "process");
    assert.equal(attr(p, "messaging.destination.name"), "celery");
    assert.equal(attr(p, "messaging.consumer.group.name"), "q_celery");
    assert.equal(attr(p, "celeriac.task.name"), "leaf");
    assert.equal(attr(p, "celeriac.task.state"), "SUCCESS");
    assert.equal(attr(p, "celeriac.task.retries"), 0);
    assert.equal(attr(p, "celeriac.task.root_id"), r.id);
    assert.equal(attr(leaf.publish!, "messaging.operation.name"), "publish");
    assert.equal(p.status.code, SpanStatusCode.UNSET);
    assert.ok(p.events.some((e) => e.name === "ack"), "the ack is a span event");
    const store = leaf.all.find((s) => s.name === "store SUCCESS" && parentOf(s) === idOf(p));
    assert.ok(store, "the result write is a child span of the process span");
  });

  it("a failure sets ERROR with the exception recorded", async () => {
    const r = await t.app.sendTask("boom");
    await assert.rejects(r.get({ timeout: 10 }));
    const p = await waitFor(() => spansOf(r.id).process, { what: "process span of boom" });
    assert.equal(p.status.code, SpanStatusCode.ERROR);
    assert.match(p.status.message ?? "", /RangeError: out of range/);
    const ex = p.events.find((e) => e.name === "exception");
    assert.equal(ex?.attributes?.["exception.type"], "RangeError");
    assert.equal(attr(p, "celeriac.task.state"), "FAILURE");
  });

  it("a retry leaves the status UNSET and its next attempt continues the trace", async () => {
    const r = await t.app.sendTask("again");
    assert.equal(await r.get({ timeout: 10 }), "second time");
    await waitFor(
      () => exporter.getFinishedSpans().filter((s) => s.name === "process again" && attr(s, "messaging.message.id") === r.id).length === 2,
      {
        what: "two attempts traced",
      },
    );
    const [first, second] = byName(exporter.getFinishedSpans(), "process again").filter((s) => attr(s, "messaging.message.id") === r.id)
      .sort((a, b) => Number(attr(a, "celeriac.task.retries")) - Number(attr(b, "celeriac.task.retries")));
    assert.equal(first!.status.code, SpanStatusCode.UNSET);
    assert.equal(attr(first!, "celeriac.task.state"), "RETRY");
    assert.equal(second!.spanContext().traceId, first!.spanContext().traceId);
    const retryPublish = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.PRODUCER && parentOf(s) === idOf(first!));
    assert.ok(retryPublish, "the retry's publish is a child of the first attempt");
    assert.equal(parentOf(second!), idOf(retryPublish!));
  });

  it("a revoked task's span is UNSET and says revoked", async () => {
    const id = `rv-${Date.now()}`;
    await t.app.control.revoke(id, { timeout: 0.2 });
    await t.app.sendTask("leaf", [1], { taskId: id });
    const p = await waitFor(() => spansOf(id).process, { what: "process span of a revoked task" });
    assert.equal(p.status.code, SpanStatusCode.UNSET);
    assert.equal(attr(p, "celeriac.task.state"), "REVOKED");
  });

  it("with tracing.links the process span starts a new trace linked to the producer", async () => {
    const l = testApp({ prefix: "trl", tracing: { links: true } });
    l.app.task("leaf", (n: number) => n);
    const w = l.app.worker({ concurrency: 2 });
    await w.start();
    try {
      const r = await l.app.sendTask("leaf", [3]);
      assert.equal(await r.get({ timeout: 10 }), 3);
      const s = await waitFor(() => {
        const x = spansOf(r.id);
        return x.process && x.publish ? x : null;
      }, { what: "linked spans" });
      assert.notEqual(s.process!.spanContext().traceId, s.publish!.spanContext().traceId);
      assert.equal(parentOf(s.process!), undefined);
      assert.equal(s.process!.links[0]?.context.spanId, idOf(s.publish!));
    } finally {
      await w.stop();
      await l.dispose();
    }
  });
});
