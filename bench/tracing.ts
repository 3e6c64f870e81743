/**
 * `BENCH_TRACE=1 npm run bench -- --only celeriac`: registers a real SDK tracer provider (batching,
 * sampling everything) whose exporter drops the spans, in the caller and in the worker, to
 * measure what tracing costs when it is on. Without the variable nothing is registered, which is
 * the no-tracer case every other run measures.
 */
import process from "node:process";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";

/** Spans exported (dropped) so far. */
export let exportedSpans = 0;

const discard: SpanExporter = {
  export(spans: ReadableSpan[], done: (r: { code: number }) => void) {
    exportedSpans += spans.length;
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
};

if (process.env.BENCH_TRACE === "1") {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new TracerProvider({
      spanProcessors: [
        new BatchSpanProcessor({ exporter: discard, maxQueueSize: 65_536, maxExportBatchSize: 4096, scheduledDelayMillis: 200 }),
      ],
    }),
  );
}
