/**
 * A delivered JetStream message and its acknowledgement verbs, built straight on the core
 * message (our puller owns the subscription, so nats.js's JsMsg wrapper is not in the path).
 */
import type { Msg, MsgHdrs } from "@nats-io/transport-node";
import type { Delivery } from "../types.ts";

const ACK = new TextEncoder().encode("+ACK");
const NAK = new TextEncoder().encode("-NAK");
const WPI = new TextEncoder().encode("+WPI");
// Never with a reason: nats-server 2.9 silently ignores `+TERM <reason>` (FACTS.md).
const TERM = new TextEncoder().encode("+TERM");
const encoder = new TextEncoder();

/** Delivery count and stream sequence, read from the ack subject. */
export function parseAckSubject(reply: string): { deliveryCount: number; seq: number } | null {
  // v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
  // v2: $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>.<token>
  if (!reply.startsWith("$JS.ACK.")) return null;
  let dots = 0;
  for (let i = 0; i < reply.length; i++) if (reply.charCodeAt(i) === 46) dots++;
  const base = dots === 8 ? 4 : dots >= 10 ? 6 : -1;
  if (base < 0) return null;
  // Find the start of token `base` without allocating the other tokens.
  let at = 0;
  for (let seen = 0; seen < base; at++) if (reply.charCodeAt(at) === 46) seen++;
  const end1 = reply.indexOf(".", at);
  const end2 = reply.indexOf(".", end1 + 1);
  const deliveryCount = Number(reply.slice(at, end1));
  const seq = Number(reply.slice(end1 + 1, end2));
  return Number.isFinite(deliveryCount) && Number.isFinite(seq) ? { deliveryCount, seq } : null;
}

/** A JetStream delivery. */
export class JetStreamDelivery implements Delivery {
  readonly queue: string;
  readonly deliveryCount: number;
  readonly seq: number;
  #msg: Msg;
  #headers: Map<string, string[]> | undefined | null = null;
  #settled = false;

  constructor(queue: string, msg: Msg, info: { deliveryCount: number; seq: number }) {
    this.queue = queue;
    this.#msg = msg;
    this.deliveryCount = info.deliveryCount;
    this.seq = info.seq;
  }

  get body(): Uint8Array {
    return this.#msg.data;
  }

  /**
   * The decoded headers as nats.js keeps them: a Map of name → values. Its own `get`/`has` build
   * arrays and closures on every call (findKeys); reading the Map is free, and we call header()
   * several times per message.
   */
  #map(): Map<string, string[]> | undefined {
    if (this.#headers === null) {
      const h = this.#msg.headers as (MsgHdrs & { headers?: Map<string, string[]> }) | undefined;
      this.#headers = h?.headers instanceof Map ? h.headers : h ? new Map(h) : undefined;
    }
    return this.#headers;
  }

  header(name: string): string | undefined {
    return this.#map()?.get(name)?.[0];
  }

  headers(): Record<string, string> {
    const out: Record<string, string> = {};
    const h = this.#map();
    if (h) { for (const [k, v] of h) out[k] = v[0] ?? ""; }
    return out;
  }

  headerCount(): number {
    return this.#map()?.size ?? 0;
  }

  #reply(payload: Uint8Array, final: boolean): void {
    if (this.#settled) return;
    if (final) this.#settled = true;
    this.#msg.respond(payload);
  }

  ack(): void {
    this.#reply(ACK, true);
  }

  nak(delayMs?: number): void {
    this.#reply(
      delayMs && delayMs > 0 ? encoder.encode(`-NAK ${JSON.stringify({ delay: delayMs * 1_000_000 })}`) : NAK,
      true,
    );
  }

  working(): void {
    this.#reply(WPI, false);
  }

  term(): void {
    this.#reply(TERM, true);
  }
}
