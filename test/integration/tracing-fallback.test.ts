/**
 * A tracer provider registered without a context manager (as some setups do): the API's active
 * context never carries a span, yet a task sent from a task is still the child of the sending
 * task's span, because the producer falls back to the running task's own span context.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import type { Worker } from "celeriac";
import { type TestApp, testApp, waitFor } from "../helpers.ts";

describe("tracing without a context manager", () => {
  const exporter = new InMemorySpanExporter();
  let t: TestApp;
  let worker: Worker;

  before(async () => {
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
    t = testApp({ prefix: "trf" });
    t.app.task("leaf", () => "leaf");
    t.app.task({ name: "sender", bind: true }, async () => {
      await new Promise((r) => setTimeout(r, 5)); // past an await: no context manager carries context here
      return (await t.app.sendTask("leaf")).id;
    });
    worker = t.app.worker({ concurrency: 2 });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await t.dispose();
    trace.disable();
  });

  it("the child's publish span hangs from the sending task's process span", async () => {
    const r = await t.app.sendTask<string>("sender");
    const leafId = await r.get({ timeout: 10 });
    await t.app.AsyncResult(leafId).get({ timeout: 10 });
    const spans = () => exporter.getFinishedSpans();
    const find = (kind: SpanKind, id: string) => spans().find((s) => s.kind === kind && s.attributes["messaging.message.id"] === id);
    const sender = await waitFor(() => find(SpanKind.CONSUMER, r.id), { what: "sender's process span" });
    const leafPublish = await waitFor(() => find(SpanKind.PRODUCER, leafId), { what: "leaf's publish span" });
    const leafProcess = await waitFor(() => find(SpanKind.CONSUMER, leafId), { what: "leaf's process span" });
    assert.equal(leafPublish.parentSpanContext?.spanId, sender.spanContext().spanId);
    assert.equal(leafProcess.parentSpanContext?.spanId, leafPublish.spanContext().spanId);
    assert.equal(leafProcess.spanContext().traceId, sender.spanContext().traceId);
  });
});
