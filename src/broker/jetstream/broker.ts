/**
 * The JetStream broker adapter: the only part of celeriac that talks to NATS.
 *
 * Queued tasks: stream `<P>_TASKS` (WorkQueue, file) with one durable pull consumer per queue.
 * Dead letters: stream `<P>_DLQ` (Limits). Max-deliveries advisories: stream `<P>_EXHAUSTED`
 * (WorkQueue) with one durable `x_<queue>` per queue. Core subjects carry notices, events and control.
 */
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { type JetStreamManager, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
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
} from "../types.ts";
import { Header, MAX_PRIORITY, priorityLevel, type WireMessage } from "../../protocol/message.ts";
import { checkQueueName, type Names } from "../../names.ts";
import { BrokerError, ClosedError, ErrorCode } from "../../errors.ts";
import { connectNats, type NatsUrl, parseNatsUrl } from "./connect.ts";
import { ensureConsumer, ensureStream } from "./provision.ts";
import { Puller, PULLER_DEFAULTS, type PullerOptions } from "./puller.ts";
import { PRIORITY_DEFAULTS, PriorityConsumer, type PriorityOptions, sumLevelStats } from "./priority.ts";
import { AckedPublisher, type PublishFailure } from "./publisher.ts";
import { DelayedTasks } from "./delayed.ts";
import { StreamChecks, throughElections } from "./elections.ts";
import { openKv } from "./kv.ts";
import { exhaustedConsumerSpec, exhaustedStreamSpec, readDeadLetters, watchExhausted } from "./dead-letters.ts";
import { readEvents } from "./events.ts";
import type { BrokerSecurity } from "../../security/options.ts";

/** Options of the JetStream adapter beyond the broker settings. */
export interface JetStreamBrokerOptions {
  url: string;
  names: Names;
  settings: BrokerSettings;
  /** Connection name shown by the server. */
  connectionName: string;
  puller?: Partial<PullerOptions>;
  /** Tuning of priority levels (tests shorten the rescan). */
  priority?: Partial<PriorityOptions>;
  /** Credentials and TLS files (src/security/options.ts). */
  security?: BrokerSecurity;
}

/** Priority levels, 0 (the bare queue) to MAX_PRIORITY. */
const LEVELS = Array.from({ length: MAX_PRIORITY + 1 }, (_, n) => n);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The broker on NATS JetStream. */
export class JetStreamBroker implements Broker {
  readonly kind = "jetstream";
  readonly description: string;
  #url: NatsUrl;
  #names: Names;
  #settings: BrokerSettings;
  #connectionName: string;
  #security: BrokerSecurity | undefined;
  #pullerOptions: PullerOptions;
  #priorityOptions: PriorityOptions;
  #nc: NatsConnection | null = null;
  #publisher: AckedPublisher | null = null;
  #delayed: DelayedTasks | null = null;
  #kvOpen = new Map<string, Promise<KeyValueStore>>();
  #jsm: JetStreamManager | null = null;
  #connecting: Promise<void> | null = null;
  #streams = new Map<string, Promise<void>>();
  /** Streams known to exist: publishes to them skip the provisioning await. */
  #ready = new Set<string>();
  #consumers = new Map<string, Promise<void>>();
  #checks = new StreamChecks(() => this.#conn.jsm);
  #statusListeners = new Set<(s: BrokerStatus) => void>();
  #closed = false;

  constructor(opts: JetStreamBrokerOptions) {
    this.#url = parseNatsUrl(opts.url);
    this.description = this.#url.redacted;
    this.#names = opts.names;
    this.#settings = opts.settings;
    this.#connectionName = opts.connectionName;
    this.#security = opts.security;
    this.#pullerOptions = { ...PULLER_DEFAULTS, ...opts.puller };
    this.#priorityOptions = { ...PRIORITY_DEFAULTS, ...opts.priority };
  }

  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("broker"));
    this.#connecting ??= (async () => {
      const nc = await connectNats(this.#url, { name: this.#connectionName, timeoutMs: 5_000, security: this.#security });
      this.#nc = nc;
      this.#publisher = new AckedPublisher(nc);
      this.#kvOpen.clear();
      // jetstreamManager asks for the account's JetStream info. A server that says it runs
      // JetStream (its INFO) but does not answer is in a meta-leader election: wait for it.
      const manager = () => jetstreamManager(nc, { timeout: 5_000 });
      const enabled = nc.info?.jetstream === true;
      const ask = enabled ? throughElections(manager, this.#settings.publishTimeoutMs, () => this.#closed) : manager();
      this.#jsm = await ask.catch((err: Error) => {
        nc.close().catch(() => {});
        throw enabled
          ? new BrokerError(
            ErrorCode.UNAVAILABLE,
            `the broker at ${this.description} runs JetStream but did not answer within broker.publishTimeout ` +
              `(${err.message}); is a cluster without a quorum?`,
            { cause: err, retryable: true },
          )
          : new BrokerError(
            ErrorCode.CONFIG,
            `the broker at ${this.description} answers but JetStream is not enabled (${err.message}); ` +
              `start nats-server with -js`,
            { cause: err },
          );
      });
      const delayed: DelayedTasks = new DelayedTasks(
        nc,
        this.#jsm,
        this.#names,
        (subject, message, msgId, queue) =>
          queue === null
            ? this.#publishStored(subject, message, msgId, this.#names.delayedStream, () => delayed.ensure())
            : this.#publishStored(subject, message, msgId, this.#names.streamFor(queue), () => this.ensurePublishable(queue)).then((r) => {
              // A due task moved to a level above 0 rings its queue's doorbell (priority.ts).
              this.#ring(queue, priorityLevel(message.headers[Header.PRIORITY]));
              return r;
            }),
        {
          replicas: this.#settings.replicas,
          duplicateWindowMs: this.#settings.duplicateWindowMs,
          ensureOnce: (name, make) => this.#ensureStreamOnce(name, make),
        },
      );
      this.#delayed = delayed;
      void this.#watchStatus(nc);
    })().catch((err) => {
      this.#connecting = null;
      throw err;
    });
    return this.#connecting;
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      const status: BrokerStatus | null = s.type === "disconnect" ? "disconnected" : s.type === "reconnect" ? "reconnected" : null;
      if (!status) continue;
      for (const l of this.#statusListeners) {
        try {
          l(status);
        } catch {
          // listeners must not break the watcher
        }
      }
    }
  }

  get #conn(): { nc: NatsConnection; jsm: JetStreamManager } {
    if (!this.#nc || !this.#jsm) throw new ClosedError("broker (not connected)");
    return { nc: this.#nc, jsm: this.#jsm };
  }

  /**
   * Provisions stream `name` once per process. Through a leader election (first connect to a
   * cluster that is electing one) it retries for up to the publish timeout.
   */
  #ensureStreamOnce(name: string, make: () => Promise<void>): Promise<void> {
    let p = this.#streams.get(name);
    if (!p) {
      p = throughElections(make, this.#settings.publishTimeoutMs, () => this.#closed).then(() => {
        this.#ready.add(name);
      }, (err) => {
        this.#streams.delete(name);
        throw err;
      });
      this.#streams.set(name, p);
    }
    return p;
  }

  /** Forgets that a stream exists (it was removed under us): the next use provisions it again. */
  #forgetStream(name: string): void {
    this.#streams.delete(name);
    this.#ready.delete(name);
  }

  async ensurePublishable(queue: string): Promise<void> {
    const name = this.#names.streamFor(queue);
    if (this.#ready.has(name)) return;
    await this.connect();
    await this.#ensureStreamOnce(name, () =>
      ensureStream(this.#conn.jsm, {
        name,
        subjects: [this.#names.taskSubjects],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        replicas: this.#settings.replicas,
        duplicateWindowMs: this.#settings.duplicateWindowMs,
        description: `celeriac ${this.#names.prefix}: queued tasks`,
      }));
  }

  async ensureQueue(queue: string): Promise<void> {
    await this.ensurePublishable(queue);
    let p = this.#consumers.get(queue);
    if (!p) {
      // The advisory stream comes before the durables: from a durable's first delivery, an
      // advisory about it has somewhere to wait for a worker. One durable per priority level.
      // Like streams, durables are provisioned through a leader election (a worker starting while
      // the cluster recovers from a lost server).
      const durably = (make: () => Promise<void>) => throughElections(make, this.#settings.publishTimeoutMs, () => this.#closed);
      const level = (n: number) =>
        durably(() =>
          ensureConsumer(this.#conn.jsm, {
            stream: this.#names.streamFor(queue),
            durable: this.#names.durable(queue, n),
            filterSubject: this.#names.taskSubject(queue, n),
            ackWaitMs: this.#settings.ackWaitMs,
            maxDeliver: this.#settings.maxDeliver,
            maxAckPending: this.#settings.maxAckPending,
            description: `celeriac ${this.#names.prefix}: queue ${queue}` + (n > 0 ? ` priority ${n}` : ""),
          })
        ).then(() => durably(() => ensureConsumer(this.#conn.jsm, exhaustedConsumerSpec(this.#names, queue, n))));
      p = this.#ensureExhaustedStream().then(() => Promise.all(LEVELS.map(level))).then(() => {}).catch((err) => {
        this.#consumers.delete(queue);
        throw err;
      });
      this.#consumers.set(queue, p);
    }
    await p;
  }

  #ensureExhaustedStream(): Promise<void> {
    const spec = exhaustedStreamSpec(this.#names, this.#settings.replicas);
    return this.#ensureStreamOnce(spec.name, () => ensureStream(this.#conn.jsm, spec));
  }

  async #ensureDlq(): Promise<void> {
    await this.connect();
    const name = this.#names.dlqStream;
    await this.#ensureStreamOnce(name, () =>
      ensureStream(this.#conn.jsm, {
        name,
        subjects: [this.#names.dlqSubjects],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        replicas: this.#settings.replicas,
        maxAgeMs: this.#settings.dlqMaxAgeMs,
        description: `celeriac ${this.#names.prefix}: dead letters`,
      }));
  }

  /**
   * Publishes with JetStream's ack, retrying through an outage or a leader election with the same
   * message id (so a retry that follows a lost ack is dropped as a duplicate) until
   * `publishTimeoutMs` has passed. A 503 does not mean `stream` is gone — during an election
   * nothing answers for it — so it only starts a background check, which provisions the stream
   * again (`recreate`) if the server says it does not exist; the retries carry on meanwhile.
   */
  #publishStored(
    subject: string,
    message: WireMessage,
    msgId: string,
    stream: string,
    recreate: () => Promise<void>,
  ): Promise<PublishReceipt> {
    const deadline = Date.now() + this.#settings.publishTimeoutMs;
    const h = natsHeaders();
    // append, not set: the object is new and the keys are distinct, and set() first searches
    // the headers for the key to delete (bench/caller-alloc.ts).
    for (const k in message.headers) if (k !== Header.MSG_ID) h.append(k, message.headers[k]!);
    h.append(Header.MSG_ID, msgId);
    // The first attempt outside an async function: nearly every publish ends with it, and every
    // task sent pays for an async frame (bench/delay-cpu.ts).
    return this.#attempt(subject, message.body, h, deadline).catch((err) =>
      this.#republish(subject, message.body, h, stream, recreate, deadline, err)
    );
  }

  /** One publish, waiting for its ack 1–5 s, within what is left until `deadline`. */
  #attempt(subject: string, body: Uint8Array, h: MsgHdrs, deadline: number): Promise<PublishReceipt> {
    return this.#publisher!.publish(subject, body, h, Math.max(1_000, Math.min(5_000, deadline - Date.now())));
  }

  /** The attempts after a failed first one, until `deadline` (see #publishStored). */
  async #republish(
    subject: string,
    body: Uint8Array,
    h: MsgHdrs,
    stream: string,
    recreate: () => Promise<void>,
    deadline: number,
    failure: unknown,
  ): Promise<PublishReceipt> {
    for (let attempt = 0;; attempt++) {
      const f = failure as PublishFailure;
      if (f.kind === "closed" || this.#closed) throw new ClosedError("broker");
      const transient = f.kind === "timeout" || f.kind === "no-responders";
      if (!transient || Date.now() >= deadline) {
        throw new BrokerError(
          ErrorCode.PUBLISH,
          `publish to ${subject} failed after ${attempt + 1} attempt(s): ${f.message}` +
            (transient ? " (the broker did not confirm in time; it is safe to retry: the message id dedups)" : ""),
          { cause: failure, retryable: transient },
        );
      }
      if (f.kind === "no-responders") {
        this.#checks.suspect(stream, async () => {
          this.#forgetStream(stream);
          await recreate();
        });
      }
      await sleep(Math.min(100 * 2 ** attempt, 1_000, Math.max(0, deadline - Date.now())));
      try {
        return await this.#attempt(subject, body, h, deadline);
      } catch (err) {
        failure = err;
      }
    }
  }

  publish(queue: string, message: WireMessage, msgId: string): Promise<PublishReceipt> {
    const stream = this.#names.streamFor(queue);
    if (!this.#ready.has(stream)) return this.ensurePublishable(queue).then(() => this.#publishTo(queue, stream, message, msgId));
    return this.#publishTo(queue, stream, message, msgId);
  }

  #publishTo(queue: string, stream: string, message: WireMessage, msgId: string): Promise<PublishReceipt> {
    const level = priorityLevel(message.headers[Header.PRIORITY]);
    const stored = this.#publishStored(this.#names.taskSubject(queue, level), message, msgId, stream, () => this.ensurePublishable(queue));
    if (level === 0) return stored;
    return stored.then((receipt) => {
      this.#ring(queue, level);
      return receipt;
    });
  }

  /** Rings a queue's doorbell after a publish above level 0 was stored (priority.ts). */
  #ring(queue: string, level: number): void {
    if (level > 0 && this.#nc && !this.#nc.isClosed()) this.#nc.publish(this.#names.bellSubject(queue), String(level));
  }

  async publishDelayed(queue: string, message: WireMessage, msgId: string, dueMs: number): Promise<PublishReceipt> {
    await this.connect();
    return await this.#delayed!.publish(queue, message, msgId, dueMs);
  }

  async moveDue(nowMs: number, hooks?: MoveHooks): Promise<MoveReport> {
    await this.connect();
    return await this.#delayed!.moveDue(nowMs, hooks);
  }

  async delayedStats(): Promise<{ messages: number; bytes: number }> {
    await this.connect();
    return await this.#delayed!.stats();
  }

  async ensureEventStream(maxAgeMs: number): Promise<void> {
    await this.connect();
    const name = this.#names.eventsStream;
    await this.#ensureStreamOnce(name, () =>
      ensureStream(this.#conn.jsm, {
        name,
        subjects: [this.#names.eventSubjects, this.#names.heartbeatSubjects],
        retention: RetentionPolicy.Limits,
        // Events may be lost (DESIGN.md): memory storage keeps them cheap for the server.
        storage: StorageType.Memory,
        replicas: this.#settings.replicas,
        maxAgeMs,
        description: `celeriac ${this.#names.prefix}: recent events and heartbeats`,
      }));
  }

  async readEvents(sinceMs: number, limit = 10_000): Promise<StoredEvent[]> {
    await this.connect();
    return await readEvents(this.#conn.nc, this.#names.eventsStream, sinceMs, limit);
  }

  async kv(bucket: string, opts: KvOptions = {}): Promise<KeyValueStore> {
    await this.connect();
    // Keyed with the TTL too: opening a bucket with another TTL applies it (see openKv).
    const key = `${bucket}:${opts.ttlMs ?? ""}`;
    let p = this.#kvOpen.get(key);
    if (!p) {
      p = openKv(this.#conn.nc, this.#conn.jsm, bucket, opts, this.#settings.replicas).catch((err) => {
        this.#kvOpen.delete(key);
        throw new BrokerError(ErrorCode.PROVISIONING, `opening key-value bucket ${bucket} failed: ${(err as Error).message}`, {
          cause: err,
        });
      });
      this.#kvOpen.set(key, p);
    }
    return await p;
  }

  async consume(queue: string, handlers: ConsumeHandlers): Promise<QueueConsumer> {
    // Check the durables afresh: consume() also runs when a queue actor restarts after its
    // consumer (or the advisory stream) was deleted under it.
    this.#consumers.delete(queue);
    this.#forgetStream(this.#names.exhaustedStream);
    await this.ensureQueue(queue);
    const { nc } = this.#conn;
    const stream = this.#names.streamFor(queue);
    const advisories = await Promise.all(LEVELS.map((n) =>
      watchExhausted(this.#conn.jsm.jetstream(), this.#conn.jsm, {
        queue,
        stream,
        advisoryStream: this.#names.exhaustedStream,
        advisoryDurable: this.#names.exhaustedDurable(queue, n),
        maxDeliver: this.#settings.maxDeliver,
      }, handlers)
    ));
    const consumer = new PriorityConsumer(
      (n, levelHandlers) =>
        new Puller(nc, { queue, stream, durable: this.#names.durable(queue, n) }, levelHandlers, {
          ...this.#pullerOptions,
          noWait: n > 0,
        }),
      handlers,
      this.#priorityOptions,
      () => this.#busyLevels(queue),
    );
    const bell = nc.subscribe(this.#names.bellSubject(queue), {
      callback: (err, msg) => {
        if (!err) consumer.ring(Number(msg.string()));
      },
    });
    // After the doorbell's SUB went out: a message the scan misses rings it.
    await consumer.start();
    return {
      grant: (n) => consumer.grant(n),
      stop: async () => {
        bell.unsubscribe();
        await Promise.all([...advisories.map((a) => a.stop()), consumer.stop()]);
      },
    };
  }

  /** The levels above 0 of `queue` that hold messages: one stream-info call. */
  async #busyLevels(queue: string): Promise<number[]> {
    const base = this.#names.taskSubject(queue);
    const info = await this.#conn.jsm.streams.info(this.#names.streamFor(queue), { subjects_filter: `${base}.*` });
    return Object.entries(info.state.subjects ?? {}).filter(([, n]) => n > 0).map(([subject]) => Number(subject.slice(base.length + 1)));
  }

  async deadLetter(queue: string, message: WireMessage, reason: string, dedupKey: string): Promise<void> {
    await this.#ensureDlq();
    const headers = { ...message.headers, [Header.DLQ_REASON]: reason.replace(/[\r\n]+/g, " ").slice(0, 1024) };
    await this.#publishStored(
      this.#names.dlqSubject(queue),
      { headers, body: message.body },
      `dlq:${dedupKey}`,
      this.#names.dlqStream,
      () => this.#ensureDlq(),
    );
  }

  async listDeadLetters(opts: { queue?: string; limit?: number } = {}): Promise<DeadLetter[]> {
    if (opts.queue !== undefined) checkQueueName(opts.queue, "queue");
    await this.#ensureDlq();
    return await readDeadLetters(this.#conn.jsm, this.#names, opts);
  }

  async purgeDeadLetters(queue?: string): Promise<number> {
    // A name is a subject filter here: "*" or ">" would purge every queue's dead letters.
    if (queue !== undefined) checkQueueName(queue, "queue");
    await this.#ensureDlq();
    const r = await this.#conn.jsm.streams.purge(
      this.#names.dlqStream,
      queue ? { filter: this.#names.dlqSubject(queue) } : undefined,
    );
    return r.purged;
  }

  async deadLetterCounts(): Promise<Record<string, number>> {
    await this.#ensureDlq();
    const info = await this.#conn.jsm.streams.info(this.#names.dlqStream, { subjects_filter: this.#names.dlqSubjects });
    const prefix = this.#names.dlqSubject("");
    const out: Record<string, number> = {};
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) out[subject.slice(prefix.length)] = n;
    return out;
  }

  async deleteDeadLetter(seq: number): Promise<void> {
    await this.#ensureDlq();
    await this.#conn.jsm.streams.deleteMessage(this.#names.dlqStream, seq);
  }

  async purge(queue: string): Promise<number> {
    checkQueueName(queue, "queue"); // a subject filter: "*" or ">" would purge every queue
    await this.ensurePublishable(queue);
    // Level 0 is the bare subject; levels 1–9 are one token below it.
    const stream = this.#names.streamFor(queue);
    const bare = this.#names.taskSubject(queue);
    const [r0, rn] = await Promise.all([
      this.#conn.jsm.streams.purge(stream, { filter: bare }),
      this.#conn.jsm.streams.purge(stream, { filter: `${bare}.*` }),
    ]);
    return r0.purged + rn.purged;
  }

  async queueStats(queue: string): Promise<QueueStats> {
    await this.ensureQueue(queue);
    const stream = this.#names.streamFor(queue);
    const { jsm } = this.#conn;
    // Every priority level's durable; the oldest message is the oldest of any level.
    const levels = await Promise.all(LEVELS.map(async (n) => {
      const ci = await jsm.consumers.info(stream, this.#names.durable(queue, n));
      let oldestMs: number | undefined;
      if (ci.num_pending + ci.num_ack_pending > 0) {
        // The oldest message still in the (WorkQueue) stream for this level: acked ones are gone.
        // `next_by_subj` is in the server's message-get API since 2.9 but not in nats.js's type.
        const query = { seq: ci.ack_floor.stream_seq + 1, next_by_subj: this.#names.taskSubject(queue, n) };
        const oldest = await jsm.streams.getMessage(stream, query as unknown as { seq: number }).catch(() => null);
        if (oldest) oldestMs = oldest.time.getTime();
      }
      return { pending: ci.num_pending, inFlight: ci.num_ack_pending, waiting: ci.num_waiting, oldestMs };
    }));
    return sumLevelStats(queue, levels, Date.now());
  }

  maxNotifyBytes(): number {
    return this.#nc?.info?.max_payload ?? 1024 * 1024;
  }

  notify(subject: string, data: Uint8Array): void {
    if (!this.#nc || this.#nc.isClosed()) return;
    this.#nc.publish(subject, data);
  }

  subscribe(subject: string, handler: (data: Uint8Array, subject: string) => void, opts: { queue?: string } = {}) {
    const sub = this.#conn.nc.subscribe(subject, {
      ...(opts.queue ? { queue: opts.queue } : {}),
      callback: (err, msg) => {
        if (!err) handler(msg.data, msg.subject);
      },
    });
    return () => sub.unsubscribe();
  }

  onStatus(listener: (status: BrokerStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const nc = this.#nc;
    if (!nc || nc.isClosed()) return;
    this.#publisher?.close();
    // drain flushes pending acks and publishes; bound it so a dead server cannot hang shutdown.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([nc.drain().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, 5_000)))]);
    clearTimeout(timer);
    if (!nc.isClosed()) await nc.close().catch(() => {});
  }
}
