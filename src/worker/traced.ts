/**
 * The worker's side of tracing: the CONSUMER span of a delivery, the settle verbs as span events,
 * and the span's status from the outcome. Used only when a tracer is registered; the untraced
 * path never touches this module's objects.
 */
import type { Span, Tracer } from "@opentelemetry/api";
import { SpanStatusCode } from "@opentelemetry/api";
import type { Delivery } from "../broker/types.ts";
import type { ChordJoin, ResultBackend, StoreOutcome } from "../backend/types.ts";
import type { ResultRecord } from "../protocol/result.ts";
import { Header, type TaskMessage } from "../protocol/message.ts";
import { State } from "../states.ts";
import { activeTracer, Attr, childSpan, type ProcessTrace, recordError, startProcessSpan } from "../tracing.ts";
import type { Outcome } from "./job.ts";

/** A delivery whose settle verbs become events of the CONSUMER span. */
export class TracedDelivery implements Delivery {
  readonly #d: Delivery;
  readonly #span: Span;

  constructor(d: Delivery, span: Span) {
    this.#d = d;
    this.#span = span;
  }
  get queue(): string {
    return this.#d.queue;
  }
  get body(): Uint8Array {
    return this.#d.body;
  }
  get deliveryCount(): number {
    return this.#d.deliveryCount;
  }
  get seq(): number {
    return this.#d.seq;
  }
  header(name: string): string | undefined {
    return this.#d.header(name);
  }
  headers(): Record<string, string> {
    return this.#d.headers();
  }
  headerCount(): number {
    return this.#d.headerCount();
  }
  ack(): void {
    this.#span.addEvent("ack");
    this.#d.ack();
  }
  nak(delayMs?: number): void {
    this.#span.addEvent("nak", delayMs ? { "celeriac.delay_ms": delayMs } : undefined);
    this.#d.nak(delayMs);
  }
  working(): void {
    this.#d.working();
  }
  term(): void {
    this.#span.addEvent("term");
    this.#d.term();
  }
}

/** Opens the span of a delivery and wraps the delivery so its verbs are recorded. */
export function traceDelivery(tracer: Tracer, d: Delivery, durable: string, links: boolean): { delivery: Delivery; trace: ProcessTrace } {
  const t = startProcessSpan(tracer, {
    task: d.header(Header.TASK),
    id: d.header(Header.ID),
    queue: d.queue,
    durable,
    deliveryCount: d.deliveryCount,
    traceparent: d.header(Header.TRACEPARENT),
    tracestate: d.header(Header.TRACESTATE),
    link: links,
  });
  return { delivery: new TracedDelivery(d, t.span), trace: t };
}

/**
 * Sets the span's status from the outcome: failures and rejections are ERROR with the exception
 * recorded; retries and revocations leave it UNSET (they are not the task's failure).
 */
export function settleSpan(trace: ProcessTrace, outcome: Outcome, state: string | null): void {
  const span = trace.span;
  span.setAttribute(Attr.TASK_STATE, state ?? outcome.kind);
  if (state === State.FAILURE) {
    recordError(span, outcome.kind === "failure" ? outcome.error : outcome.kind === "retry" ? outcome.retry.exc ?? outcome.retry : state);
  } else if (state === State.REJECTED && outcome.kind === "reject") {
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason });
  } else if (state === State.RETRY) {
    const exc = outcome.kind === "retry" ? outcome.retry.exc : outcome.kind === "failure" ? outcome.error : undefined;
    if (exc instanceof Error) span.recordException(exc);
  } else if (outcome.kind === "revoked") {
    span.addEvent("revoked", { "celeriac.reason": outcome.reason });
  }
}

/** Ends the span, with what was learnt from decoding the message. */
export function endSpan(trace: ProcessTrace, m: TaskMessage | null): void {
  const span = trace.span;
  if (m) {
    span.setAttribute(Attr.TASK_RETRIES, m.retries);
    if (m.rootId) span.setAttribute(Attr.ROOT_ID, m.rootId);
    if (m.parentId) span.setAttribute(Attr.PARENT_ID, m.parentId);
  }
  span.end();
}

/**
 * The result backend, with each write a child span (`store <STATUS>`) of the span active at the
 * time (the task's CONSUMER span while it settles). Without an active span it only delegates.
 */
export class TracedBackend implements ResultBackend {
  readonly #b: ResultBackend;

  constructor(b: ResultBackend) {
    this.#b = b;
  }
  get kind(): string {
    return this.#b.kind;
  }
  get description(): string {
    return this.#b.description;
  }
  connect(): Promise<void> {
    return this.#b.connect();
  }
  get(taskId: string): Promise<ResultRecord | null> {
    return this.#b.get(taskId);
  }
  getMany(taskIds: string[]): Promise<(ResultRecord | null)[]> {
    return this.#b.getMany(taskIds);
  }
  store(record: ResultRecord): Promise<StoreOutcome> {
    if (!activeTracer()) return this.#b.store(record);
    return childSpan(`store ${record.status}`, this.#attrs(record.task_id, record.status), () => this.#b.store(record));
  }
  storeEncoded(taskId: string, status: string, bytes: Uint8Array): Promise<StoreOutcome> {
    // Checked first so the untraced path makes no closures.
    if (!activeTracer()) return this.#b.storeEncoded(taskId, status, bytes);
    return childSpan(`store ${status}`, this.#attrs(taskId, status), () => this.#b.storeEncoded(taskId, status, bytes));
  }
  encode(record: ResultRecord): Uint8Array {
    return this.#b.encode(record);
  }
  decode(bytes: Uint8Array): ResultRecord | null {
    return this.#b.decode(bytes);
  }
  forget(taskId: string): Promise<void> {
    return this.#b.forget(taskId);
  }
  dedupClaim(id: string, taskId: string, ttlMs: number): Promise<string | null> {
    return this.#b.dedupClaim(id, taskId, ttlMs);
  }
  dedupRelease(id: string, taskId: string): Promise<void> {
    return this.#b.dedupRelease(id, taskId);
  }
  permitAcquire(key: string, holder: string, limit: number, leaseMs: number): Promise<boolean> {
    return this.#b.permitAcquire(key, holder, limit, leaseMs);
  }
  permitRenew(key: string, holder: string, leaseMs: number): Promise<void> {
    return this.#b.permitRenew(key, holder, leaseMs);
  }
  permitRelease(key: string, holder: string): Promise<void> {
    return this.#b.permitRelease(key, holder);
  }
  rateTake(key: string, holder: string, intervalMs: number): Promise<number> {
    return this.#b.rateTake(key, holder, intervalMs);
  }
  chordJoin(groupId: string, index: number, size: number, result: unknown): Promise<ChordJoin> {
    return this.#b.chordJoin(groupId, index, size, result);
  }
  chordFail(groupId: string, memberId: string): Promise<boolean> {
    return this.#b.chordFail(groupId, memberId);
  }
  chainSave(steps: unknown[]): Promise<string> {
    return this.#b.chainSave(steps);
  }
  chainLoad(id: string, from: number, count: number): Promise<unknown[]> {
    return this.#b.chainLoad(id, from, count);
  }
  close(): Promise<void> {
    return this.#b.close();
  }
  #attrs(id: string, status: string) {
    return { "db.system.name": this.#b.kind, "db.operation.name": "SET", [Attr.MESSAGE_ID]: id, [Attr.TASK_STATE]: status };
  }
}
