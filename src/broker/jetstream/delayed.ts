/**
 * Delayed tasks (ETA, countdown, retry delays) wait in JetStream, never in a worker and never as
 * nak-delayed messages (those count against max_ack_pending, FACTS.md 5).
 *
 * Stream `<P>_DELAYED` (Limits, file storage) keeps each message on a subject naming its due time:
 * `<p>.delayed.<minute>.<bucket start ms>`, with 100 ms buckets. The mover asks the stream which
 * bucket subjects of a minute hold messages and how many (`subjects_filter`, one request per
 * minute), reads each bucket that has fully passed, publishes every message to its queue with its
 * own message id, and then purges the bucket up to the last message it read.
 *
 * A bucket of up to SMALL_BUCKET messages is read with one message-get request per message
 * (answered by the stream's leader); a larger one through a short-lived filtered consumer, which is
 * cheaper per message but is itself a clustered asset to create: during a leader election its
 * creation fails where the gets only wait for the new leader. Either way a failed read moves and
 * purges nothing that was not published, and the next pass starts the bucket again.
 *
 * - A crash between publishing and purging repeats the publishes: the queue stream drops them as
 *   duplicates (same message id) within its duplicate window, and workers check the result store
 *   for messages marked as moved, which covers a longer outage too.
 * - Two movers moving the same bucket publish the same ids: duplicates are dropped the same way.
 * - A message never moves early: a bucket moves only once its whole interval has passed.
 * - Every message's due time is after its publish time, so the oldest stored message bounds where
 *   a fresh mover must start looking: no cursor needs to be stored.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { MoveHooks, MoveReport } from "../types.ts";
import type { Names } from "../../names.ts";
import { Header, priorityLevel, type WireMessage } from "../../protocol/message.ts";
import { ensureStream } from "./provision.ts";

/** Width of a due-time bucket. */
export const BUCKET_MS = 100;
const MINUTE_MS = 60_000;
/** Minutes a fresh mover catches up per pass (so the current minute is never starved). */
const CATCH_UP_MINUTES = 240;
/** How far back every 10 s pass looks again, for messages a skewed producer clock filed late. */
const LOOK_BACK_MINUTES = 5;

/** Buckets up to this many messages are read with message gets instead of a consumer. */
const SMALL_BUCKET = 64;

/**
 * Publishes with JetStream acknowledgement and the same message id on every attempt, to the
 * delayed stream (`queue` null) or to `queue`'s stream.
 */
export type StoredPublish = (subject: string, message: WireMessage, msgId: string, queue: string | null) => Promise<unknown>;

/** One message read from a bucket. */
interface Stored {
  seq: number;
  data: Uint8Array;
  headers: Iterable<[string, string[]]> | undefined;
}

/** The delayed-task store and mover for one app. */
export class DelayedTasks {
  #nc: NatsConnection;
  #jsm: JetStreamManager;
  #names: Names;
  #publish: StoredPublish;
  #ensureStream: () => Promise<void>;
  /** The oldest minute that may still hold messages; null until the first pass. */
  #cursor: number | null = null;
  #lastLookBack = 0;

  constructor(nc: NatsConnection, jsm: JetStreamManager, names: Names, publish: StoredPublish, opts: {
    replicas: number;
    duplicateWindowMs: number;
    ensureOnce: (name: string, make: () => Promise<void>) => Promise<void>;
  }) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#names = names;
    this.#publish = publish;
    const name = names.delayedStream;
    this.#ensureStream = () =>
      opts.ensureOnce(name, () =>
        ensureStream(jsm, {
          name,
          subjects: [`${names.prefix}.delayed.>`],
          retention: RetentionPolicy.Limits,
          storage: StorageType.File,
          replicas: opts.replicas,
          duplicateWindowMs: opts.duplicateWindowMs,
          description: `celeriac ${names.prefix}: delayed tasks (ETA, countdown, retry delays)`,
        }));
  }

  /** Provisions the delayed stream (once; again after it was found gone). */
  ensure(): Promise<void> {
    return this.#ensureStream();
  }

  /** The subject a message due at `dueMs` waits on. */
  subjectFor(dueMs: number): string {
    const bucket = Math.floor(dueMs / BUCKET_MS) * BUCKET_MS;
    return `${this.#names.prefix}.delayed.${Math.floor(dueMs / MINUTE_MS)}.${bucket}`;
  }

  /** Stores a message until `dueMs`, remembering its queue. */
  async publish(queue: string, message: WireMessage, msgId: string, dueMs: number): Promise<{ seq: number; duplicate: boolean }> {
    await this.ensure();
    const headers = { ...message.headers, [Header.DELAYED_QUEUE]: queue, [Header.DELAYED_DUE]: String(Math.ceil(dueMs)) };
    return await this.#publish(this.subjectFor(dueMs), { headers, body: message.body }, msgId, null) as { seq: number; duplicate: boolean };
  }

  /** One mover pass: moves every bucket that has fully passed at `nowMs`. */
  async moveDue(nowMs: number, hooks: MoveHooks = {}): Promise<MoveReport> {
    await this.ensure();
    const nowMinute = Math.floor(nowMs / MINUTE_MS);
    if (this.#cursor === null) this.#cursor = await this.#oldestMinute(nowMinute);
    const minutes = new Set<number>();
    for (let m = this.#cursor; m <= nowMinute && minutes.size < CATCH_UP_MINUTES; m++) minutes.add(m);
    minutes.add(nowMinute);
    if (nowMs - this.#lastLookBack > 10_000) {
      this.#lastLookBack = nowMs;
      for (let m = nowMinute - LOOK_BACK_MINUTES; m < nowMinute; m++) minutes.add(m);
    }
    const report: MoveReport = { moved: 0, buckets: 0 };
    for (const minute of [...minutes].sort((a, b) => a - b)) {
      const buckets = await this.#bucketsOf(minute);
      let waiting = false;
      for (const [subject, bucket, count] of buckets) {
        if (bucket + BUCKET_MS > nowMs) {
          waiting = true;
          continue;
        }
        report.moved += await this.#moveBucket(subject, count, hooks);
        report.buckets++;
      }
      // A minute that is over and empty is done for good (skewed late arrivals aside).
      if (minute === this.#cursor && minute < nowMinute && !waiting) this.#cursor = minute + 1;
    }
    return report;
  }

  /** Messages waiting and their bytes. */
  async stats(): Promise<{ messages: number; bytes: number }> {
    await this.ensure();
    const s = (await this.#jsm.streams.info(this.#names.delayedStream)).state;
    return { messages: s.messages, bytes: s.bytes };
  }

  async #oldestMinute(nowMinute: number): Promise<number> {
    const s = (await this.#jsm.streams.info(this.#names.delayedStream)).state;
    if (s.messages === 0) return nowMinute;
    return Math.min(nowMinute, Math.floor(new Date(s.first_ts).getTime() / MINUTE_MS));
  }

  /** The non-empty bucket subjects of one minute, oldest first, with their bucket start and count. */
  async #bucketsOf(minute: number): Promise<[string, number, number][]> {
    const info = await this.#jsm.streams.info(this.#names.delayedStream, {
      subjects_filter: `${this.#names.prefix}.delayed.${minute}.*`,
    });
    return Object.entries(info.state.subjects ?? {})
      .map(([s, n]): [string, number, number] => [s, Number(s.slice(s.lastIndexOf(".") + 1)), n])
      .filter(([, b]) => Number.isFinite(b))
      .sort((a, b) => a[1] - b[1]);
  }

  /** Moves one bucket; returns how many messages it moved. */
  async #moveBucket(subject: string, count: number, hooks: MoveHooks): Promise<number> {
    let lastSeq = 0;
    let moved = 0;
    const publishes: Promise<unknown>[] = [];
    const forward = async (m: Stored) => {
      lastSeq = Math.max(lastSeq, m.seq);
      const routed = this.#route(m);
      if (!routed) return; // not ours; it is purged with the bucket (cannot be routed)
      const subject = this.#names.taskSubject(routed.queue, priorityLevel(routed.message.headers[Header.PRIORITY]));
      publishes.push(this.#publish(subject, routed.message, routed.msgId || `moved:${m.seq}`, routed.queue));
      moved++;
      if (publishes.length >= 500) await Promise.all(publishes.splice(0));
    };
    if (count <= SMALL_BUCKET) await this.#readByGets(subject, forward);
    else await this.#readByConsumer(subject, forward);
    await Promise.all(publishes);
    hooks.beforePurge?.(subject);
    // Purge only what was read: a message filed into this bucket meanwhile stays for the next pass.
    if (lastSeq > 0) await this.#jsm.streams.purge(this.#names.delayedStream, { filter: subject, seq: lastSeq + 1 });
    return moved;
  }

  /** The queue, headers and message id a stored message moves with; null if it names no queue. */
  #route(m: Stored): { queue: string; message: WireMessage; msgId: string } | null {
    const h: Record<string, string> = {};
    let queue: string | undefined;
    let msgId = "";
    for (const [k, v] of m.headers ?? []) {
      if (k === Header.DELAYED_QUEUE) queue = v[0];
      else if (k === Header.MSG_ID) msgId = v[0] ?? "";
      else if (k !== Header.DELAYED_DUE) h[k] = v[0] ?? "";
    }
    if (!queue) return null;
    h[Header.MOVED] = "1";
    return { queue, message: { headers: h, body: m.data }, msgId };
  }

  /** Reads a bucket message by message (`next_by_subj`, in the server's message-get API since 2.9). */
  async #readByGets(subject: string, each: (m: Stored) => Promise<void>): Promise<void> {
    for (let seq = 0;;) {
      const query = { seq, next_by_subj: subject } as unknown as { seq: number };
      const m = await this.#jsm.streams.getMessage(this.#names.delayedStream, query);
      if (!m) return;
      await each({ seq: m.seq, data: m.data, headers: m.header });
      seq = m.seq + 1;
    }
  }

  /** Reads a bucket through a short-lived filtered consumer. */
  async #readByConsumer(subject: string, each: (m: Stored) => Promise<void>): Promise<void> {
    const stream = this.#names.delayedStream;
    const ci = await this.#jsm.consumers.add(stream, {
      filter_subject: subject,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: 30_000_000_000,
      mem_storage: true,
      num_replicas: 1,
    });
    try {
      const consumer = await jetstream(this.#nc).consumers.get(stream, ci.name);
      for (;;) {
        const info = await consumer.info();
        if (info.num_pending === 0) break;
        const batch = await consumer.fetch({ max_messages: Math.min(1000, info.num_pending), expires: 5_000 });
        let fetched = 0;
        for await (const m of batch) {
          fetched++;
          await each({ seq: m.seq, data: m.data, headers: m.headers });
        }
        if (fetched === 0) break; // the consumer said there were more, but none came: next pass
      }
    } finally {
      await this.#jsm.consumers.delete(stream, ci.name).catch(() => {});
    }
  }
}
