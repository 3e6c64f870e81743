/**
 * Dead letters on JetStream: reading the `<P>_DLQ` stream, and noticing messages JetStream stopped
 * delivering after `max_deliver` attempts (from the advisories kept in `<P>_EXHAUSTED`) so the
 * worker can dead-letter them.
 */
import type { MsgHdrs } from "@nats-io/transport-node";
import {
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { ConsumeHandlers, DeadLetter, ExhaustedMessage } from "../types.ts";
import type { Names } from "../../names.ts";
import type { ConsumerSpec, StreamSpec } from "./provision.ts";
import { Header, type WireMessage } from "../../protocol/message.ts";
import { BrokerError, ErrorCode } from "../../errors.ts";

/** NATS headers as a plain record (first value of each). */
export function headerRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (h) { for (const [k, v] of h) out[k] = v[0] ?? ""; }
  return out;
}

/** Dead letters, oldest first, at most `limit`, of one queue or all. */
export async function readDeadLetters(
  jsm: JetStreamManager,
  names: Names,
  opts: { queue?: string; limit?: number },
): Promise<DeadLetter[]> {
  const limit = opts.limit ?? 100;
  const info = await jsm.streams.info(names.dlqStream);
  const out: DeadLetter[] = [];
  const want = opts.queue ? names.dlqSubject(opts.queue) : null;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && out.length < limit; seq++) {
    const m = await jsm.streams.getMessage(names.dlqStream, { seq }).catch(() => null);
    if (!m || (want && m.subject !== want)) continue;
    const headers = headerRecord(m.header);
    out.push({
      seq,
      queue: m.subject.slice(names.dlqSubject("").length),
      reason: headers[Header.DLQ_REASON] ?? "",
      headers,
      body: m.data,
      time: m.time,
    });
  }
  return out;
}

/** How long an advisory waits for a worker of its queue (one never consumed again, say). */
const EXHAUSTED_MAX_AGE_MS = 7 * 24 * 3_600_000;

/** The stream `<P>_EXHAUSTED`, capturing the max-deliveries advisories of the task stream. */
export function exhaustedStreamSpec(names: Names, replicas: number): StreamSpec {
  return {
    name: names.exhaustedStream,
    subjects: [names.exhaustedSubjects],
    // An advisory is acked once handled and nothing else reads them: acked ones need not stay.
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    replicas,
    maxAgeMs: EXHAUSTED_MAX_AGE_MS,
    description: `celeriac ${names.prefix}: max-deliveries advisories awaiting a worker`,
  };
}

/** The durable `x_<queue>` reading one queue's advisories, shared by all workers of the app. */
export function exhaustedConsumerSpec(names: Names, queue: string, level = 0): ConsumerSpec {
  return {
    stream: names.exhaustedStream,
    durable: names.exhaustedDurable(queue, level),
    filterSubject: names.exhaustedSubject(queue, level),
    // Handling one takes a dead-letter publish, a result write and a delete; one whose handling
    // failed comes back after ack_wait, for as long as it takes.
    ackWaitMs: 30_000,
    maxDeliver: -1,
    maxAckPending: 1000,
    description: `celeriac ${names.prefix}: max-deliveries advisories of queue ${queue}` + (level > 0 ? ` level ${level}` : ""),
  };
}

/** What the exhausted-message watcher of one queue needs to know. */
export interface ExhaustedTarget {
  queue: string;
  /** The task stream holding the queue's messages. */
  stream: string;
  /** The stream and durable holding the queue's max-deliveries advisories. */
  advisoryStream: string;
  advisoryDurable: string;
  maxDeliver: number;
}

/** A running watcher; `stop()` ends it (advisories in hand come back to another worker). */
export interface ExhaustedWatch {
  stop(): Promise<void>;
}

/**
 * A message that reached max_deliver stays in the stream, undelivered (FACTS.md 7); the server
 * announces it once, on a core subject, when a pull finds it due again. A stream
 * (`<P>_EXHAUSTED`) captures those advisories, so one published while no worker listens (all
 * crashed, or restarting) waits there; each queue's advisories are read by one durable shared by
 * all workers. An advisory is acked only once its message is handled (dead-lettered and removed,
 * or found gone): if handling fails it comes back after the durable's ack_wait.
 */
export async function watchExhausted(
  js: JetStreamClient,
  jsm: JetStreamManager,
  target: ExhaustedTarget,
  handlers: ConsumeHandlers,
): Promise<ExhaustedWatch> {
  const consumer = await js.consumers.get(target.advisoryStream, target.advisoryDurable);
  // Low volume: a few advisories at a time; the default heartbeats notice a lost consumer.
  const messages = await consumer.consume({ max_messages: 16 });
  void (async () => {
    for await (const s of messages.status()) {
      if (s.type === "consumer_deleted" || s.type === "consumer_not_found" || s.type === "stream_not_found") {
        // The queue actor restarts on this code, which provisions the stream and durable again.
        handlers.onError(new BrokerError(ErrorCode.PROVISIONING, `exhausted-message watcher of queue ${target.queue}: ${s.type}`));
      }
    }
  })().catch(() => {});
  const loop = (async () => {
    for await (const m of messages) {
      handleAdvisory(jsm, target, m, handlers).catch((err) => handlers.onError(err as Error));
    }
  })();
  return {
    stop: async () => {
      messages.stop();
      await loop.catch(() => {});
    },
  };
}

async function handleAdvisory(jsm: JetStreamManager, target: ExhaustedTarget, m: JsMsg, handlers: ConsumeHandlers) {
  const { queue, stream } = target;
  let adv: { stream_seq?: number; deliveries?: number };
  try {
    adv = m.json();
  } catch {
    adv = {};
  }
  const seq = Number(adv.stream_seq);
  if (!Number.isFinite(seq)) {
    handlers.onError(new BrokerError(ErrorCode.DECODE, `unreadable max-deliveries advisory on ${m.subject}: dropped`));
    m.term(); // no reason: 2.9 ignores term("reason") (FACTS.md 6)
    return;
  }
  const read = await readBack(jsm, stream, seq);
  if (read === "gone") {
    m.ack(); // removed meanwhile (acked at last, by an operator, or by an earlier try of this advisory)
    return;
  }
  // An unreadable message is reported with no content; it is not removed, and its advisory is not
  // acked, so the read is tried again when the advisory comes back.
  if (read instanceof Error) handlers.onError(read);
  const exhausted: ExhaustedMessage = {
    queue,
    seq,
    deliveries: Number(adv.deliveries) || target.maxDeliver,
    message: read instanceof Error ? null : read,
    remove: async () => {
      await jsm.streams.deleteMessage(stream, seq).catch((err: unknown) => {
        if (!(err instanceof JetStreamApiError)) throw err; // already gone is fine
      });
      m.ack();
    },
  };
  handlers.onExhausted(exhausted);
}

/**
 * Reads an exhausted message back, trying a few times: a failed read must not pass for a missing
 * message, or the message would be removed without its dead letter.
 */
async function readBack(jsm: JetStreamManager, stream: string, seq: number): Promise<WireMessage | "gone" | Error> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 250 * attempt));
    try {
      // getMessage resolves null when the server says there is no such message.
      const stored = await jsm.streams.getMessage(stream, { seq });
      return stored ? { headers: headerRecord(stored.header), body: stored.data } : "gone";
    } catch (err) {
      last = err;
    }
  }
  return new Error(`could not read exhausted message ${seq} of stream ${stream}: ${(last as Error)?.message ?? last}`, { cause: last });
}
