/**
 * The in-process broker, for unit tests and the one-process demo. It keeps JetStream's promises
 * that celeriac relies on: at-least-once delivery with ack/nak/working/term, redelivery after
 * `ackWaitMs`, `maxDeliver` then "exhausted", dedup by message id within the window, and delivery
 * only against granted credit. It passes the same contract tests as the JetStream adapter.
 *
 * Brokers are shared per URL and app name within a process (see shared-handle.ts), so an app and a
 * worker built from another Celeriac instance with the same name see the same queues, as two
 * processes on one server would.
 */
import type {
  Broker,
  BrokerSettings,
  BrokerStatus,
  ConsumeHandlers,
  DeadLetter,
  KeyValueStore,
  KvOptions,
  MoveHooks,
  MoveReport,
  PublishReceipt,
  QueueConsumer,
  QueueStats,
  StoredEvent,
} from "./types.ts";
import { Header, priorityLevel, type WireMessage } from "../protocol/message.ts";
import { checkQueueName, type Names } from "../names.ts";
import { ClosedError } from "../errors.ts";
import { sharedHandle } from "../shared-handle.ts";
import { MemoryKv } from "./memory-kv.ts";
import { MemoryConsumer, MemoryQueue, type Stored } from "./memory-queue.ts";

interface Subscriber {
  pattern: string[];
  handler: (data: Uint8Array, subject: string) => void;
  queue?: string;
}

function subjectMatches(pattern: string[], subject: string): boolean {
  const tokens = subject.split(".");
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === ">") return tokens.length > i;
    if (i >= tokens.length) return false;
    if (p !== "*" && p !== tokens[i]) return false;
  }
  return tokens.length === pattern.length;
}

/** Returns a handle on the process-wide memory broker for this URL and app name. */
export function memoryBroker(url: string, names: Names, settings: BrokerSettings): Broker {
  return sharedHandle(`broker|${url}|${names.prefix}`, () => new MemoryBroker(settings, names));
}

/** The in-process broker. Obtain it through {@link memoryBroker}. */
export class MemoryBroker implements Broker {
  readonly kind = "memory";
  readonly description = "memory://";
  readonly settings: BrokerSettings;
  #queues = new Map<string, MemoryQueue>();
  #dedup = new Map<string, number>();
  #seq = 0;
  #dlq: DeadLetter[] = [];
  #dlqKeys = new Set<string>();
  #subs = new Set<Subscriber>();
  #closed = false;
  /** Delayed messages, kept sorted by due time. */
  #delayed: { dueMs: number; queue: string; message: WireMessage; msgId: string }[] = [];
  #delayedIds = new Map<string, number>();
  #kvs = new Map<string, MemoryKv>();
  /** The events stream: subjects it keeps and for how long (null until ensured). */
  #events: { patterns: string[][]; maxAgeMs: number; log: StoredEvent[] } | null = null;
  #names: Names | null;

  constructor(settings: BrokerSettings, names: Names | null = null) {
    this.settings = settings;
    this.#names = names;
  }

  #queue(name: string): MemoryQueue {
    let q = this.#queues.get(name);
    if (!q) {
      q = new MemoryQueue(name, this);
      this.#queues.set(name, q);
    }
    return q;
  }

  #check(): void {
    if (this.#closed) throw new ClosedError("broker");
  }

  connect(): Promise<void> {
    return this.#closed ? Promise.reject(new ClosedError("broker")) : Promise.resolve();
  }

  ensureQueue(queue: string): Promise<void> {
    this.#check();
    this.#queue(queue);
    return Promise.resolve();
  }

  ensurePublishable(queue: string): Promise<void> {
    return this.ensureQueue(queue);
  }

  publish(queue: string, message: WireMessage, msgId: string): Promise<PublishReceipt> {
    this.#check();
    const now = Date.now();
    for (const [id, until] of this.#dedup) {
      if (until > now) break; // insertion order = expiry order
      this.#dedup.delete(id);
    }
    if (this.#dedup.has(msgId)) return Promise.resolve({ seq: 0, duplicate: true });
    this.#dedup.set(msgId, now + this.settings.duplicateWindowMs);
    const stored: Stored = {
      seq: ++this.#seq,
      message: { headers: { ...message.headers, [Header.MSG_ID]: msgId }, body: message.body.slice() },
      deliveries: 0,
      storedAt: now,
      priority: priorityLevel(message.headers[Header.PRIORITY]),
    };
    this.#queue(queue).enqueue(stored);
    return Promise.resolve({ seq: stored.seq, duplicate: false });
  }

  publishDelayed(queue: string, message: WireMessage, msgId: string, dueMs: number): Promise<PublishReceipt> {
    this.#check();
    const now = Date.now();
    const seen = this.#delayedIds.get(msgId);
    if (seen !== undefined && seen > now) return Promise.resolve({ seq: 0, duplicate: true });
    this.#delayedIds.set(msgId, now + this.settings.duplicateWindowMs);
    const item = { dueMs, queue, msgId, message: { headers: { ...message.headers }, body: message.body.slice() } };
    const at = this.#delayed.findIndex((d) => d.dueMs > dueMs);
    this.#delayed.splice(at < 0 ? this.#delayed.length : at, 0, item);
    return Promise.resolve({ seq: ++this.#seq, duplicate: false });
  }

  async moveDue(nowMs: number, hooks: MoveHooks = {}): Promise<MoveReport> {
    this.#check();
    let n = 0;
    while (n < this.#delayed.length && this.#delayed[n]!.dueMs <= nowMs) n++;
    const due = this.#delayed.slice(0, n);
    for (const d of due) {
      await this.publish(d.queue, { headers: { ...d.message.headers, [Header.MOVED]: "1" }, body: d.message.body }, d.msgId);
    }
    if (n > 0) hooks.beforePurge?.("memory");
    this.#delayed.splice(0, n);
    return { moved: n, buckets: n > 0 ? 1 : 0 };
  }

  delayedStats(): Promise<{ messages: number; bytes: number }> {
    const bytes = this.#delayed.reduce((b, d) => b + d.message.body.length, 0);
    return Promise.resolve({ messages: this.#delayed.length, bytes });
  }

  ensureEventStream(maxAgeMs: number): Promise<void> {
    this.#check();
    if (this.#names && !this.#events) {
      const patterns = [this.#names.eventSubjects, this.#names.heartbeatSubjects].map((p) => p.split("."));
      this.#events = { patterns, maxAgeMs, log: [] };
    }
    return Promise.resolve();
  }

  readEvents(sinceMs: number, limit = 10_000): Promise<StoredEvent[]> {
    const log = this.#events?.log ?? [];
    return Promise.resolve(log.filter((e) => e.time.getTime() >= sinceMs).slice(0, limit));
  }

  #keepEvent(subject: string, data: Uint8Array): void {
    const ev = this.#events;
    if (!ev || !ev.patterns.some((p) => subjectMatches(p, subject))) return;
    const now = Date.now();
    ev.log.push({ subject, data: data.slice(), time: new Date(now) });
    while (ev.log.length > 0 && ev.log[0]!.time.getTime() < now - ev.maxAgeMs) ev.log.shift();
  }

  kv(bucket: string, opts: KvOptions = {}): Promise<KeyValueStore> {
    this.#check();
    let kv = this.#kvs.get(bucket);
    if (!kv) this.#kvs.set(bucket, kv = new MemoryKv(opts));
    else kv.reopen(opts);
    return Promise.resolve(kv);
  }

  consume(queue: string, handlers: ConsumeHandlers): Promise<QueueConsumer> {
    this.#check();
    const q = this.#queue(queue);
    const c = new MemoryConsumer(q, handlers);
    q.consumers.add(c);
    q.reportUnreported(c);
    return Promise.resolve(c);
  }

  deadLetter(queue: string, message: WireMessage, reason: string, dedupKey: string): Promise<void> {
    this.#check();
    if (this.#dlqKeys.has(dedupKey)) return Promise.resolve();
    this.#dlqKeys.add(dedupKey);
    const headers = { ...message.headers, [Header.DLQ_REASON]: reason };
    this.#dlq.push({ seq: ++this.#seq, queue, reason, headers, body: message.body.slice(), time: new Date() });
    return Promise.resolve();
  }

  // deno-lint-ignore require-await -- async so that a bad queue name rejects, as in the JetStream adapter
  async listDeadLetters(opts: { queue?: string; limit?: number } = {}): Promise<DeadLetter[]> {
    if (opts.queue !== undefined) checkQueueName(opts.queue, "queue");
    const all = this.#dlq.filter((d) => !opts.queue || d.queue === opts.queue);
    return all.slice(0, opts.limit ?? 100);
  }

  // deno-lint-ignore require-await -- async so that a bad queue name rejects, as in the JetStream adapter
  async purgeDeadLetters(queue?: string): Promise<number> {
    if (queue !== undefined) checkQueueName(queue, "queue");
    const before = this.#dlq.length;
    this.#dlq = this.#dlq.filter((d) => queue !== undefined && d.queue !== queue);
    return before - this.#dlq.length;
  }

  deadLetterCounts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const d of this.#dlq) out[d.queue] = (out[d.queue] ?? 0) + 1;
    return Promise.resolve(out);
  }

  deleteDeadLetter(seq: number): Promise<void> {
    this.#dlq = this.#dlq.filter((d) => d.seq !== seq);
    return Promise.resolve();
  }

  // deno-lint-ignore require-await -- async so that a bad queue name rejects, as in the JetStream adapter
  async purge(queue: string): Promise<number> {
    checkQueueName(queue, "queue");
    const q = this.#queue(queue);
    const n = q.ready.length;
    q.ready = [];
    return n;
  }

  queueStats(queue: string): Promise<QueueStats> {
    const q = this.#queue(queue);
    const waiting = [...q.consumers].filter((c) => c.credit > 0).length;
    const stats: QueueStats = { queue, pending: q.ready.length, inFlight: q.inFlight.size, waiting };
    let oldest = Infinity;
    for (const s of q.ready) oldest = Math.min(oldest, s.storedAt);
    for (const f of q.inFlight.values()) oldest = Math.min(oldest, f.stored.storedAt);
    if (oldest !== Infinity) stats.oldestAgeMs = Math.max(0, Date.now() - oldest);
    return Promise.resolve(stats);
  }

  maxNotifyBytes(): number {
    return Infinity;
  }

  notify(subject: string, data: Uint8Array): void {
    if (this.#closed) return;
    if (this.#events) this.#keepEvent(subject, data);
    const groups = new Map<string, Subscriber[]>();
    for (const s of this.#subs) {
      if (!subjectMatches(s.pattern, subject)) continue;
      if (s.queue) {
        const g = groups.get(s.queue) ?? [];
        g.push(s);
        groups.set(s.queue, g);
      } else {
        queueMicrotask(() => s.handler(data, subject));
      }
    }
    for (const g of groups.values()) {
      const s = g[Math.floor(Math.random() * g.length)]!;
      queueMicrotask(() => s.handler(data, subject));
    }
  }

  subscribe(subject: string, handler: (data: Uint8Array, subject: string) => void, opts: { queue?: string } = {}) {
    const s: Subscriber = { pattern: subject.split("."), handler, ...(opts.queue ? { queue: opts.queue } : {}) };
    this.#subs.add(s);
    return () => {
      this.#subs.delete(s);
    };
  }

  onStatus(_listener: (status: BrokerStatus) => void): () => void {
    return () => {}; // never disconnects
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const q of this.#queues.values()) q.stopTimers();
    this.#subs.clear();
    return Promise.resolve();
  }
}
