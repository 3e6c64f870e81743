/**
 * Delayed tasks (ETA, countdown, retry delays) wait in JetStream, never in a worker and never as
 * nak-delayed messages (those count against max_ack_pending, FACTS.md 5).
 *
 * Stream `<P>_DELAYED` (Limits, file storage) keeps each message on a subject naming its due time:
 * `<p>.delayed.<minute>.<bucket start ms>`, with 100 ms buckets. The mover asks the stream which
 * bucket subjects of a minute hold messages (`subjects_filter`, one request per minute), reads each
 * bucket that has fully passed through a short-lived filtered consumer, publishes every message to
 * its queue with its own message id, and then purges the bucket up to the last message it read.
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

/**
 * Publishes with JetStream acknowledgement and the same message id on every attempt; `queue` is
 * given when the subject is a task queue's (a due message moved there).
 */
export type StoredPublish = (subject: string, message: WireMessage, msgId: string, queue?: string) => Promise<unknown>;

/** The delayed-task store and mover for one app. */
export class DelayedTasks {
  #nc: NatsConnection;
  #jsm: JetStreamManager;
  #names: Names;
  #publish: StoredPublish;
  #ensure: () => Promise<void>;
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
    this.#ensure = () =>
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

  /** The subject a message due at `dueMs` waits on. */
  subjectFor(dueMs: number): string {
    const bucket = Math.floor(dueMs / BUCKET_MS) * BUCKET_MS;
    return `${this.#names.prefix}.delayed.${Math.floor(dueMs / MINUTE_MS)}.${bucket}`;
  }

  /** Stores a message until `dueMs`, remembering its queue. */
  async publish(queue: string, message: WireMessage, msgId: string, dueMs: number): Promise<{ seq: number; duplicate: boolean }> {
    await this.#ensure();
    const headers = { ...message.headers, [Header.DELAYED_QUEUE]: queue, [Header.DELAYED_DUE]: String(Math.ceil(dueMs)) };
    return await this.#publish(this.subjectFor(dueMs), { headers, body: message.body }, msgId) as { seq: number; duplicate: boolean };
  }

  /** One mover pass: moves every bucket that has fully passed at `nowMs`. */
  async moveDue(nowMs: number, hooks: MoveHooks = {}): Promise<MoveReport> {
    await this.#ensure();
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
      for (const [subject, bucket] of buckets) {
        if (bucket + BUCKET_MS > nowMs) {
          waiting = true;
          continue;
        }
        report.moved += await this.#moveBucket(subject, hooks);
        report.buckets++;
      }
      // A minute that is over and empty is done for good (skewed late arrivals aside).
      if (minute === this.#cursor && minute < nowMinute && !waiting) this.#cursor = minute + 1;
    }
    return report;
  }

  /** Messages waiting and their bytes. */
  async stats(): Promise<{ messages: number; bytes: number }> {
    await this.#ensure();
    const s = (await this.#jsm.streams.info(this.#names.delayedStream)).state;
    return { messages: s.messages, bytes: s.bytes };
  }

  async #oldestMinute(nowMinute: number): Promise<number> {
    const s = (await this.#jsm.streams.info(this.#names.delayedStream)).state;
    if (s.messages === 0) return nowMinute;
    return Math.min(nowMinute, Math.floor(new Date(s.first_ts).getTime() / MINUTE_MS));
  }

  /** The non-empty bucket subjects of one minute, oldest first, with their bucket start. */
  async #bucketsOf(minute: number): Promise<[string, number][]> {
    const info = await this.#jsm.streams.info(this.#names.delayedStream, {
      subjects_filter: `${this.#names.prefix}.delayed.${minute}.*`,
    });
    const subjects = Object.keys(info.state.subjects ?? {});
    return subjects
      .map((s): [string, number] => [s, Number(s.slice(s.lastIndexOf(".") + 1))])
      .filter(([, b]) => Number.isFinite(b))
      .sort((a, b) => a[1] - b[1]);
  }

  /** Moves one bucket; returns how many messages it moved. */
  async #moveBucket(subject: string, hooks: MoveHooks): Promise<number> {
    const stream = this.#names.delayedStream;
    const ci = await this.#jsm.consumers.add(stream, {
      filter_subject: subject,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: 30_000_000_000,
      mem_storage: true,
      num_replicas: 1,
    });
    let lastSeq = 0;
    let moved = 0;
    try {
      const consumer = await jetstream(this.#nc).consumers.get(stream, ci.name);
      for (;;) {
        const info = await consumer.info();
        if (info.num_pending === 0) break;
        const batch = await consumer.fetch({ max_messages: Math.min(1000, info.num_pending), expires: 5_000 });
        const publishes: Promise<unknown>[] = [];
        let fetched = 0;
        for await (const m of batch) {
          fetched++;
          lastSeq = Math.max(lastSeq, m.seq);
          const h: Record<string, string> = {};
          let queue: string | undefined;
          let msgId = "";
          if (m.headers) {
            for (const [k, v] of m.headers) {
              if (k === Header.DELAYED_QUEUE) queue = v[0];
              else if (k === Header.MSG_ID) msgId = v[0] ?? "";
              else if (k !== Header.DELAYED_DUE) h[k] = v[0] ?? "";
            }
          }
          if (!queue) continue; // not ours; it is purged with the bucket (cannot be routed)
          h[Header.MOVED] = "1";
          const subject = this.#names.taskSubject(queue, priorityLevel(h[Header.PRIORITY]));
          publishes.push(this.#publish(subject, { headers: h, body: m.data }, msgId || `moved:${m.seq}`, queue));
          moved++;
          if (publishes.length >= 500) await Promise.all(publishes.splice(0));
        }
        await Promise.all(publishes);
        if (fetched === 0) break; // the consumer said there were more, but none came: next pass
      }
      hooks.beforePurge?.(subject);
      // Purge only what was read: a message filed into this bucket meanwhile stays for the next pass.
      if (lastSeq > 0) await this.#jsm.streams.purge(stream, { filter: subject, seq: lastSeq + 1 });
    } finally {
      await this.#jsm.consumers.delete(stream, ci.name).catch(() => {});
    }
    return moved;
  }
}
