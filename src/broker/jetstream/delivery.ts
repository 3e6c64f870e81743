/**
 * A delivered JetStream message and its acknowledgement verbs, built straight on the core
 * message (our puller owns the subscription, so nats.js's JsMsg wrapper is not in the path).
 */
import type { Msg } from "@nats-io/transport-node";
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
  const t = reply.split(".");
  if (t[0] !== "$JS" || t[1] !== "ACK") return null;
  const base = t.length === 9 ? 4 : t.length >= 11 ? 6 : -1;
  if (base < 0) return null;
  const deliveryCount = Number(t[base]);
  const seq = Number(t[base + 1]);
  return Number.isFinite(deliveryCount) && Number.isFinite(seq) ? { deliveryCount, seq } : null;
}

/** A JetStream delivery. */
export class JetStreamDelivery implements Delivery {
  readonly queue: string;
  readonly deliveryCount: number;
  readonly seq: number;
  #msg: Msg;
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

  header(name: string): string | undefined {
    const h = this.#msg.headers;
    if (!h) return undefined;
    const v = h.get(name);
    return v === "" && !h.has(name) ? undefined : v;
  }

  headers(): Record<string, string> {
    const out: Record<string, string> = {};
    const h = this.#msg.headers;
    if (h) for (const [k, v] of h) out[k] = v[0] ?? "";
    return out;
  }

  headerCount(): number {
    const h = this.#msg.headers as (Msg["headers"] & { size?: () => number }) | undefined;
    if (!h) return 0;
    return typeof h.size === "function" ? h.size() : h.keys().length;
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
