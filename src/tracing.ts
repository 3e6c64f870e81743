/**
 * OpenTelemetry tracing, through `@opentelemetry/api` only (the SDK and exporter are wired by the
 * CLI in actors/otel.ts, or by the user's own code).
 *
 * - A PRODUCER span `publish <queue>` wraps each publish; its context travels in the message as the
 *   W3C `traceparent` / `tracestate` headers.
 * - The worker opens a CONSUMER span `process <task>` per delivery, a child of the producer's
 *   context (or, with `tracing.links`, a new trace that links to it). The handler and the settle
 *   step run inside it, so tasks sent from a task (a chain step, a callback) are its children and
 *   a whole workflow is one trace.
 *
 * The headers are written and read here, not through the global propagator: the protocol fixes
 * them (docs/protocol.md), and a process that registered a tracer but no propagator must still
 * continue the trace.
 *
 * Cost when nothing is registered: {@link activeTracer} is a few property reads and returns null,
 * and callers then take their untraced path unchanged (no span, no context, no closure).
 */
import {
  type Attributes,
  type Context,
  context,
  createTraceState,
  type Link,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { AsyncLocalStorage } from "node:async_hooks";
import { currentTask } from "./context.ts";
import { describeError } from "./errors.ts";

/** The instrumentation scope name of every celeriac span. */
export const TRACER_NAME = "celeriac";

/** Attribute names (OpenTelemetry messaging conventions, plus celeriac's own). */
export const Attr = {
  SYSTEM: "messaging.system",
  OPERATION_NAME: "messaging.operation.name",
  OPERATION_TYPE: "messaging.operation.type",
  DESTINATION: "messaging.destination.name",
  MESSAGE_ID: "messaging.message.id",
  CONSUMER_GROUP: "messaging.consumer.group.name",
  SUBSCRIPTION: "messaging.destination.subscription.name",
  TASK_NAME: "celeriac.task.name",
  TASK_RETRIES: "celeriac.task.retries",
  TASK_STATE: "celeriac.task.state",
  DELIVERY_COUNT: "celeriac.delivery_count",
  ROOT_ID: "celeriac.task.root_id",
  PARENT_ID: "celeriac.task.parent_id",
} as const;

/** `messaging.system`: the transport. */
export const MESSAGING_SYSTEM = "nats";

// The no-op provider of this copy of the API: what the proxy delegates to until one is registered.
const NOOP_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();

let cachedProvider: TracerProvider | null = null;
let cachedTracer: Tracer | null = null;

/**
 * The tracer of the globally registered provider, or null if none is registered. Cheap enough to
 * call per task: no allocation unless the provider changed since the last call.
 */
export function activeTracer(): Tracer | null {
  let p = trace.getTracerProvider() as TracerProvider & { getDelegate?: () => TracerProvider };
  // The API hands out a proxy; what matters is what it delegates to.
  if (typeof p.getDelegate === "function") p = p.getDelegate();
  if (p === cachedProvider) return cachedTracer;
  cachedProvider = p;
  const noop = p === NOOP_PROVIDER || p.constructor?.name === "NoopTracerProvider";
  cachedTracer = noop ? null : p.getTracer(TRACER_NAME);
  return cachedTracer;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Formats a span context as a W3C `traceparent` header value. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & TraceFlags.SAMPLED) ? "01" : "00"}`;
}

/** Parses W3C `traceparent` (and `tracestate`); null if absent or malformed. */
export function parseTraceparent(traceparent: string | undefined, tracestate?: string): SpanContext | null {
  if (!traceparent) return null;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (!m || m[1] === "ff" || (m[1] === "00" && m[5])) return null;
  const sc: SpanContext = { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) & 1, isRemote: true };
  if (!trace.isSpanContextValid(sc)) return null;
  if (tracestate) sc.traceState = createTraceState(tracestate);
  return sc;
}

/** Something that carries trace context on the wire (a task message). */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** Writes `sc` into the carrier's headers. */
export function injectInto(carrier: TraceCarrier, sc: SpanContext): void {
  carrier.traceparent = formatTraceparent(sc);
  const ts = sc.traceState?.serialize();
  if (ts) carrier.tracestate = ts;
  else delete carrier.tracestate;
}

/**
 * The context {@link withContext} set, kept by celeriac itself: without a registered context
 * manager (`trace.setGlobalTracerProvider(p)` alone), the API's `context.with()` keeps nothing, and
 * what a worker publishes after a task ended (the next step of a chain, a chord's body, callbacks)
 * would start a new trace.
 */
const ownContext = new AsyncLocalStorage<Context>();

/** The API's active context if it holds a span, else the one celeriac set, else the API's. */
function currentContext(): Context {
  const active = context.active();
  if (trace.getSpan(active)) return active;
  return ownContext.getStore() ?? active;
}

/**
 * The context a new PRODUCER span hangs from: the active one if it holds a span, else the one
 * celeriac set (around a task's processing, or a canvas application: the innermost), else the span
 * of the task whose code is running — so a chain stays one trace even where no context manager
 * carries context.
 */
export function parentContext(): Context {
  const active = context.active();
  if (trace.getSpan(active)) return active;
  return ownContext.getStore() ?? (currentTask.getStore()?.traceContext as Context | undefined) ?? active;
}

/**
 * Runs `apply` — a canvas application, which publishes several messages — inside an INTERNAL span
 * `apply <celery.chain|group|chord>`, so that all it publishes is one trace even when no span is
 * active. Without a registered tracer, just runs it.
 */
export async function traceApply<T>(name: string, apply: () => Promise<T>): Promise<T> {
  const tracer = activeTracer();
  if (!tracer) return await apply();
  const parent = parentContext();
  const span = tracer.startSpan(`apply ${name}`, {
    kind: SpanKind.INTERNAL,
    attributes: { [Attr.SYSTEM]: MESSAGING_SYSTEM, [Attr.TASK_NAME]: name },
  }, parent);
  try {
    return await withContext(trace.setSpan(parent, span), apply);
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Publishes inside a PRODUCER span `publish <queue>` and injects its context into `carrier`.
 * Without a registered tracer, just runs `publish`.
 */
export async function tracePublish<T>(
  carrier: TraceCarrier & { id: string; task: string; retries: number },
  queue: string,
  publish: () => Promise<T>,
): Promise<T> {
  const tracer = activeTracer();
  if (!tracer) return await publish();
  const span = tracer.startSpan(`publish ${queue}`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      [Attr.SYSTEM]: MESSAGING_SYSTEM,
      [Attr.OPERATION_NAME]: "publish",
      [Attr.OPERATION_TYPE]: "send",
      [Attr.DESTINATION]: queue,
      [Attr.MESSAGE_ID]: carrier.id,
      [Attr.TASK_NAME]: carrier.task,
      [Attr.TASK_RETRIES]: carrier.retries,
    },
  }, parentContext());
  // A span that is not sampled still carries its trace id, so the consumer continues the same trace.
  injectInto(carrier, span.spanContext());
  try {
    return await publish();
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Marks a span failed with the exception recorded. */
export function recordError(span: Span, err: unknown): void {
  const d = describeError(err);
  span.recordException(err instanceof Error ? err : { name: d.type, message: d.message });
  span.setStatus({ code: SpanStatusCode.ERROR, message: `${d.type}: ${d.message}` });
}

/** What the worker knows of a delivery before decoding it. */
export interface ProcessSpanInput {
  task: string | undefined;
  id: string | undefined;
  queue: string;
  durable: string;
  deliveryCount: number;
  traceparent: string | undefined;
  tracestate: string | undefined;
  /** Start a new trace that links to the producer instead of continuing its trace. */
  link: boolean;
}

/** A CONSUMER span and the context to run the task in. */
export interface ProcessTrace {
  readonly span: Span;
  readonly context: Context;
}

/** Opens the CONSUMER span `process <task>` for a delivery. */
export function startProcessSpan(tracer: Tracer, d: ProcessSpanInput): ProcessTrace {
  const remote = parseTraceparent(d.traceparent, d.tracestate);
  const attributes: Attributes = {
    [Attr.SYSTEM]: MESSAGING_SYSTEM,
    [Attr.OPERATION_NAME]: "process",
    [Attr.OPERATION_TYPE]: "process",
    [Attr.DESTINATION]: d.queue,
    [Attr.CONSUMER_GROUP]: d.durable,
    [Attr.SUBSCRIPTION]: d.durable,
    [Attr.DELIVERY_COUNT]: d.deliveryCount,
  };
  if (d.id) attributes[Attr.MESSAGE_ID] = d.id;
  if (d.task) attributes[Attr.TASK_NAME] = d.task;
  let parent = ROOT_CONTEXT;
  let links: Link[] | undefined;
  if (remote && d.link) links = [{ context: remote }];
  else if (remote) parent = trace.setSpanContext(ROOT_CONTEXT, remote);
  const span = tracer.startSpan(
    `process ${d.task ?? "?"}`,
    { kind: SpanKind.CONSUMER, attributes, links, root: !remote || d.link },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** Runs `fn` with `ctx` as the active context: the API's (if a context manager keeps it) and celeriac's. */
export function withContext<T>(ctx: Context, fn: () => T): T {
  return ownContext.run(ctx, () => context.with(ctx, fn));
}

/** Adds an event to the span active in this context, if any (settle verbs, result writes). */
export function activeSpan(): Span | undefined {
  return trace.getSpan(currentContext());
}

/**
 * Runs `op` inside a child span of the active span (a result write), or just runs it when no span
 * is active. `attributes` are set on the child.
 */
export function childSpan<T>(name: string, attributes: Attributes, op: () => Promise<T>): Promise<T> {
  const parent = currentContext();
  const tracer = trace.getSpan(parent) ? activeTracer() : null;
  if (!tracer) return op();
  return spanned(tracer, parent, name, attributes, op);
}

async function spanned<T>(tracer: Tracer, parent: Context, name: string, attributes: Attributes, op: () => Promise<T>): Promise<T> {
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  try {
    return await op();
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    span.end();
  }
}
