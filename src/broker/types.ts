/**
 * The broker port. The JetStream adapter and the memory adapter implement it; the worker, the
 * app and the CLI see only this. Names (streams, subjects) come from `names.ts`.
 */
import type { WireMessage } from "../protocol/message.ts";

/** What a publish to a queue returns once the broker has stored the message. */
export interface PublishReceipt {
  /** Stream sequence (memory: a counter). */
  seq: number;
  /** True when the broker dropped it as a duplicate of an earlier message with the same id. */
  duplicate: boolean;
}

/** One delivered message, with the broker's acknowledgement verbs. */
export interface Delivery {
  /** The queue it was consumed from. */
  readonly queue: string;
  readonly body: Uint8Array;
  /** Reads one header (case-sensitive, as published). */
  header(name: string): string | undefined;
  /** All headers, for copying into a dead letter. */
  headers(): Record<string, string>;
  /** How many headers it carries (cheap; lets readers skip {@link headers}). */
  headerCount(): number;
  /** 1 on first delivery, then 2, 3... */
  readonly deliveryCount: number;
  /** Position in the stream; the same on every redelivery of this message. */
  readonly seq: number;
  /** Done: remove it from the queue. Later calls are ignored. */
  ack(): void;
  /** Give it back for redelivery (after `delayMs`, default at once). */
  nak(delayMs?: number): void;
  /** Still working: restart the redelivery timer. */
  working(): void;
  /** Never deliver again and remove it. */
  term(): void;
}

/** A message the broker gave up on after its maximum number of deliveries. */
export interface ExhaustedMessage {
  queue: string;
  seq: number;
  deliveries: number;
  /** The stored message, or null if it could not be read back. */
  message: WireMessage | null;
  /** Removes it from the queue (after it was dead-lettered). */
  remove(): Promise<void>;
}

/** Callbacks a queue consumer reports to. They must not throw. */
export interface ConsumeHandlers {
  /** A message arrived; it used one unit of granted credit. */
  onDelivery(delivery: Delivery): void;
  /**
   * A pull ended (expired) with `n` units of credit unused: they are no longer granted. The queue
   * was idle; the worker may grant them to another queue or again to this one.
   */
  onReturned(n: number): void;
  /** A message exceeded `maxDeliver` and will not be delivered again by itself. */
  onExhausted(message: ExhaustedMessage): void;
  /** Background trouble (lost pulls, reconnects); the consumer keeps going. */
  onError(err: Error): void;
}

/**
 * Consumes one queue. It delivers at most as many messages as were granted: the worker grants
 * one unit per free slot, so nothing waits inside a worker that another worker could run.
 */
export interface QueueConsumer {
  /** Allows `n` more deliveries. */
  grant(n: number): void;
  /**
   * Stops delivering. Messages that arrive while stopping are handed back at once (nak), so none
   * waits for its ack timeout. Resolves when nothing more can arrive.
   */
  stop(): Promise<void>;
}

/** Broker-level settings shared by every queue (compiled from the app options). */
export interface BrokerSettings {
  /** Redelivery timeout of an unacked message. */
  ackWaitMs: number;
  /** Deliveries before a message is given up on and dead-lettered; -1 = unlimited. */
  maxDeliver: number;
  /** Unacked messages per queue across all workers. */
  maxAckPending: number;
  /** Window in which a second publish with the same message id is dropped. */
  duplicateWindowMs: number;
  /** How long dead letters are kept. */
  dlqMaxAgeMs: number;
  /** Stream replicas (1 on a single server, 3 on a cluster). */
  replicas: number;
  /** Longest a publish may keep retrying through an outage before it fails. */
  publishTimeoutMs: number;
}

/** Counts for one queue. */
export interface QueueStats {
  queue: string;
  /** Messages waiting to be delivered. */
  pending: number;
  /** Delivered, not yet acked. */
  inFlight: number;
  /** Consumers (workers) currently pulling — JetStream: waiting pull requests. */
  waiting: number;
  /** How long the oldest message not yet acked has been in the queue, ms (absent when empty). */
  oldestAgeMs?: number;
}

/** A dead letter as stored. */
export interface DeadLetter {
  seq: number;
  queue: string;
  reason: string;
  headers: Record<string, string>;
  body: Uint8Array;
  time: Date;
}

/** A stored key's value and its revision (the fencing token of leases). */
export interface KvValue {
  value: Uint8Array;
  revision: number;
}

/** Options of a key-value bucket. */
export interface KvOptions {
  /** Every key disappears this long after its last write (a lease's time to live). */
  ttlMs?: number;
}

/**
 * A key-value bucket (NATS KV on JetStream). `create` and `update` are compare-and-set: they fail
 * with {@link KvConflictError} when the key exists / has moved on, which is what leases rely on.
 */
export interface KeyValueStore {
  /** The value, or null if the key is absent or deleted. */
  get(key: string): Promise<KvValue | null>;
  /** Writes only if the key does not exist (or was deleted); returns the revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes only if the key is still at `revision`; returns the new revision. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Writes unconditionally; returns the revision. */
  put(key: string, value: Uint8Array): Promise<number>;
  /** Deletes the key. */
  delete(key: string): Promise<void>;
  /** Keys currently present. */
  keys(): Promise<string[]>;
}

/** What one pass of the delayed-task mover did. */
export interface MoveReport {
  /** Messages moved to their queues. */
  moved: number;
  /** Time buckets emptied. */
  buckets: number;
}

/** Test hooks into the mover, to stop it at its most delicate point. */
export interface MoveHooks {
  /** Called after a bucket's messages were published to their queues, before the bucket is emptied. */
  beforePurge?(bucket: string): void;
}

/** An event read back from the events stream. */
export interface StoredEvent {
  subject: string;
  data: Uint8Array;
  /** When the broker stored it. */
  time: Date;
}

/** Connection state changes reported to listeners. */
export type BrokerStatus = "disconnected" | "reconnected";

/** The broker port. */
export interface Broker {
  /** `jetstream` or `memory`. */
  readonly kind: string;
  /** A short description for banners (`nats://127.0.0.1:4222`). */
  readonly description: string;
  /** Connects (idempotent). Fails with a clear error if the server does not answer. */
  connect(): Promise<void>;
  /** Creates or checks the queue's stream and durable consumer (idempotent). */
  ensureQueue(queue: string): Promise<void>;
  /** Creates or checks the stream a queue publishes to (idempotent, cached). */
  ensurePublishable(queue: string): Promise<void>;
  /** Stores a task message on a queue; resolves once stored (or dropped as a duplicate). */
  publish(queue: string, message: WireMessage, msgId: string): Promise<PublishReceipt>;
  /**
   * Stores a task message that must reach `queue` no earlier than `dueMs` (epoch ms). It waits in
   * the broker (never in a worker) until {@link moveDue} moves it.
   */
  publishDelayed(queue: string, message: WireMessage, msgId: string, dueMs: number): Promise<PublishReceipt>;
  /**
   * Moves every delayed message that is due at `nowMs` to its queue, keeping its message id so a
   * move repeated after a crash is dropped as a duplicate. Safe to run from several processes.
   */
  moveDue(nowMs: number, hooks?: MoveHooks): Promise<MoveReport>;
  /** How many delayed messages wait, and the bytes they take. */
  delayedStats(): Promise<{ messages: number; bytes: number }>;
  /**
   * Creates (or checks) the stream that keeps events and heartbeats for `maxAgeMs`, so a monitor
   * started late sees recent history. Events are still sent with {@link notify}.
   */
  ensureEventStream(maxAgeMs: number): Promise<void>;
  /** Events stored since `sinceMs` (epoch ms), oldest first, at most `limit`. */
  readEvents(sinceMs: number, limit?: number): Promise<StoredEvent[]>;
  /** Opens (creating if needed) a key-value bucket. */
  kv(bucket: string, opts?: KvOptions): Promise<KeyValueStore>;
  /** Starts consuming a queue (after {@link ensureQueue}). */
  consume(queue: string, handlers: ConsumeHandlers): Promise<QueueConsumer>;
  /** Stores a copy in the dead-letter stream; dedupKey keeps a redelivered copy from being stored twice. */
  deadLetter(queue: string, message: WireMessage, reason: string, dedupKey: string): Promise<void>;
  /** Lists dead letters, oldest first. */
  listDeadLetters(opts?: { queue?: string; limit?: number }): Promise<DeadLetter[]>;
  /** Removes dead letters (all, or of one queue); returns how many. */
  purgeDeadLetters(queue?: string): Promise<number>;
  /** Deletes one dead letter by sequence. */
  deleteDeadLetter(seq: number): Promise<void>;
  /** How many dead letters each queue has (queues with none are absent). */
  deadLetterCounts(): Promise<Record<string, number>>;
  /** Removes all waiting messages of a queue; returns how many. */
  purge(queue: string): Promise<number>;
  /** Counts for a queue. */
  queueStats(queue: string): Promise<QueueStats>;
  /** Fire-and-forget publish on a core subject (notices, events, heartbeats). */
  notify(subject: string, data: Uint8Array): void;
  /** The largest `notify` payload the connection takes (NATS's max_payload); Infinity in memory. */
  maxNotifyBytes(): number;
  /** Subscribes to a core subject; returns the unsubscribe function. */
  subscribe(subject: string, handler: (data: Uint8Array, subject: string) => void, opts?: { queue?: string }): () => void;
  /** Registers a listener for connection changes; returns the remover. */
  onStatus(listener: (status: BrokerStatus) => void): () => void;
  /** Closes the connection, letting pending publishes finish. */
  close(): Promise<void>;
}
