/**
 * Dead letters on JetStream: reading the `<P>_DLQ` stream, and noticing messages JetStream stopped
 * delivering after `max_deliver` attempts so the worker can dead-letter them.
 */
import type { MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";
import { JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import type { ConsumeHandlers, DeadLetter, ExhaustedMessage } from "../types.ts";
import type { Names } from "../../names.ts";
import { Header, type WireMessage } from "../../protocol/message.ts";

/** NATS headers as a plain record (first value of each). */
export function headerRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (h) for (const [k, v] of h) out[k] = v[0] ?? "";
  return out;
}

/** Dead letters, oldest first, at most `limit`, of one queue or all. */
export async function readDeadLetters(jsm: JetStreamManager, names: Names, opts: { queue?: string; limit?: number }): Promise<DeadLetter[]> {
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

/**
 * A message that reached max_deliver stays in the stream, undelivered (FACTS.md 7); the server
 * announces it once on an advisory subject. A queue group makes exactly one worker handle it.
 * (If no worker listens at that moment, the message stays in the stream: see docs/operations.md.)
 */
export function watchExhausted(
  nc: NatsConnection,
  jsm: JetStreamManager,
  target: { queue: string; stream: string; durable: string; prefix: string; maxDeliver: number },
  handlers: ConsumeHandlers,
): Subscription {
  const { queue, stream, durable } = target;
  return nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${durable}`, {
    queue: `${target.prefix}_exhausted`,
    callback: (_err, msg) => {
      void (async () => {
        let adv: { stream_seq?: number; deliveries?: number };
        try {
          adv = msg.json();
        } catch {
          return;
        }
        const seq = Number(adv.stream_seq);
        if (!Number.isFinite(seq)) return;
        const read = await readBack(jsm, stream, seq);
        if (read === "gone") return; // removed meanwhile (acked at last, or by an operator): nothing to do
        if (read instanceof Error) handlers.onError(read);
        const message = read instanceof Error ? null : read;
        const exhausted: ExhaustedMessage = {
          queue,
          seq,
          deliveries: Number(adv.deliveries) || target.maxDeliver,
          message,
          remove: async () => {
            await jsm.streams.deleteMessage(stream, seq).catch((err: unknown) => {
              if (!(err instanceof JetStreamApiError)) throw err; // already gone is fine
            });
          },
        };
        handlers.onExhausted(exhausted);
      })().catch((err) => handlers.onError(err as Error));
    },
  });
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

