/**
 * Wires an OpenTelemetry SDK for the CLI when the standard variables ask for one
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_TRACES_EXPORTER`). The library itself only uses
 * `@opentelemetry/api`; this is the one place that loads an SDK.
 *
 * - Node and Bun: `@opentelemetry/sdk-node` with the OTLP/HTTP trace exporter (or whatever
 *   `OTEL_TRACES_EXPORTER` names), traces only; flushed on shutdown. Both are optional peer
 *   dependencies, installed by the user who wants traces: asked for and missing, the command
 *   stops with the one line that says what to install (an accepted setting is never ignored).
 * - Deno: its built-in OpenTelemetry (`OTEL_DENO=true`) registers itself behind the same API, so
 *   there is nothing to load; without that variable we say how to turn it on.
 */
import { ENV } from "./contract.ts";
import { CliError, Exit } from "./exit-codes.ts";
import { env, isDeno, writeStderr } from "../src/internal.ts";

/** Flushes and stops what {@link startTracing} started. */
export type StopTracing = () => Promise<void>;

const nothing: StopTracing = () => Promise.resolve();

/** How long shutdown waits for the last spans to be exported. */
const FLUSH_TIMEOUT_MS = 5_000;

/** The optional peer dependencies that export traces on Node and Bun. */
export const SDK_PACKAGES = ["@opentelemetry/sdk-node", "@opentelemetry/exporter-trace-otlp-http"] as const;

async function loadSdk(askedBy: string) {
  try {
    const [{ NodeSDK }, { OTLPTraceExporter }] = await Promise.all([
      import("@opentelemetry/sdk-node"),
      import("@opentelemetry/exporter-trace-otlp-http"),
    ]);
    return { NodeSDK, OTLPTraceExporter };
  } catch (err) {
    if ((err as { code?: unknown }).code !== "ERR_MODULE_NOT_FOUND") throw err;
    throw new CliError(
      Exit.CONFIG,
      `tracing: ${askedBy} asks for traces, and the OpenTelemetry SDK is not installed: npm install ${SDK_PACKAGES.join(" ")}`,
    );
  }
}

/** Starts tracing for a CLI role (`worker`, `beat`, `call`) if the environment asks for it. */
export async function startTracing(role: string): Promise<StopTracing> {
  const endpoint = env(ENV.OTEL_ENDPOINT) ?? env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const exporter = env(ENV.OTEL_TRACES_EXPORTER);
  if ((!endpoint && !exporter) || exporter === "none") return nothing;
  if (isDeno) {
    if (env("OTEL_DENO") !== "true") {
      writeStderr("tracing: on Deno, traces come from Deno's built-in OpenTelemetry; set OTEL_DENO=true to export them\n");
    }
    return nothing;
  }
  const { NodeSDK, OTLPTraceExporter } = await loadSdk(
    env(ENV.OTEL_ENDPOINT) ? ENV.OTEL_ENDPOINT : endpoint ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : ENV.OTEL_TRACES_EXPORTER,
  );
  const sdk = new NodeSDK({
    serviceName: env(ENV.OTEL_SERVICE_NAME) ?? `celeriac-${role}`,
    // Traces only: the worker serves its metrics on /metrics, and logs go to stderr.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
    // An exporter named in OTEL_TRACES_EXPORTER is the SDK's to build; otherwise OTLP over HTTP.
    ...(exporter ? {} : { traceExporter: new OTLPTraceExporter() }),
  });
  sdk.start();
  return async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      sdk.shutdown().catch((err: Error) => writeStderr(`tracing: export on shutdown failed: ${err.message}\n`)),
      new Promise<void>((r) => (timer = setTimeout(r, FLUSH_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
  };
}
