/**
 * A credit-based pull consumer: it asks JetStream for exactly as many messages as the worker
 * granted (one per free slot), never more, so no message waits in one worker while another is idle
 * (Celery's prefetch starvation).
 *
 * Why not nats.js's `consume()`/`fetch()`: `consume()` keeps pulling whatever the worker is doing
 * (FACTS.md 2), and a `fetch()` cannot be stopped without losing the messages already on their way
 * to its inbox (they would wait out `ack_wait`). Here one subscription serves every pull request;
 * stopping drains it (UNSUB, then everything the server sent before is handed back with a nak).
 *
 * Credit bookkeeping: `granted` is what the worker allowed and has not received yet; `requested`
 * is the part of it sitting in live pull requests at the server. Each request has its own reply
 * token so its end (408 timeout / 409 with `Nats-Pending-Messages`) tells how much went unused;
 * credit of an expired request goes back to the worker (`onReturned`), credit of a request the
 * server lost (reconnect, leader change, missed heartbeats) is pulled again.
 * Data messages name no request; the server fills a consumer's waiting requests in arrival order,
 * so a delivery is counted against our oldest live request.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { JetStreamDelivery, parseAckSubject } from "./delivery.ts";
import type { ConsumeHandlers, QueueConsumer } from "../types.ts";
import { BrokerError, ErrorCode } from "../../errors.ts";

/** Tuning of the puller. Defaults suit a worker; tests may shorten them. */
export interface PullerOptions {
  /** How long a pull request waits at the server for messages. */
  expiresMs: number;
  /** Server heartbeat interval while a request waits; two missed ones mean the request is gone. */
  idleHeartbeatMs: number;
  /** At most this many requests live at once. */
  maxRequests: number;
  /**
   * Probe instead of waiting: each request ends at once when the consumer has no more messages
   * (`no_wait`), returning its unused credit. Used for priority levels above 0 (priority.ts).
   */
  noWait?: boolean;
  /**
   * At most this many bytes per pull request (JetStream's `max_bytes`); raised to twice the
   * server's max_payload if that is more, so one message always fits. Without it a worker's full
   * credit of large messages arrives at once: 100 × 512 KiB overran nats-server's 64 MiB
   * per-client buffer, the server cut the worker off as a slow consumer, and its tasks waited out
   * ack_wait. With `maxRequests` live requests at most, this bounds what the server queues for us.
   */
  maxBytes?: number;
}

/** Defaults for {@link PullerOptions}. */
export const PULLER_DEFAULTS: PullerOptions = { expiresMs: 30_000, idleHeartbeatMs: 5_000, maxRequests: 4, maxBytes: 4 * 2 ** 20 };

interface LiveRequest {
  token: string;
  batch: number;
  remaining: number;
}

/** Pulls one durable consumer with explicit credit. */
export class Puller implements QueueConsumer {
  #nc: NatsConnection;
  #queue: string;
  #nextSubject: string;
  #handlers: ConsumeHandlers;
  #opts: PullerOptions;
  #inbox: string;
  #sub: Subscription;
  #granted = 0;
  #requested = 0;
  /** Largest grant seen: pulls smaller than a quarter of it wait for more credit. */
  #peak = 0;
  #live: LiveRequest[] = [];
  /**
   * Deliveries beyond the credit — a request written off (after a reconnect or a leader change)
   * that the server still held and filled — kept for the next grant instead of nak'ed: a nak
   * counts as a delivery and is redelivered at once, so stale requests could bounce one message
   * to max_deliver (and the dead-letter stream) within a second. Nak'ed if no credit comes soon.
   */
  #overflow: { delivery: JetStreamDelivery; at: number }[] = [];
  #tokenSeq = 0;
  #pullQueued = false;
  #stopping = false;
  #backoffUntil = 0;
  #backoffTimer: ReturnType<typeof setTimeout> | undefined;
  #lastHeard = Date.now();
  #silentResets = 0;
  #monitor: ReturnType<typeof setInterval>;
  #statusTask: Promise<void>;
  #statusIter: { stop?: () => void } | undefined;

  constructor(
    nc: NatsConnection,
    target: { queue: string; stream: string; durable: string; apiPrefix?: string },
    handlers: ConsumeHandlers,
    opts: PullerOptions = PULLER_DEFAULTS,
  ) {
    this.#nc = nc;
    this.#queue = target.queue;
    this.#nextSubject = `${target.apiPrefix ?? "$JS.API"}.CONSUMER.MSG.NEXT.${target.stream}.${target.durable}`;
    this.#handlers = handlers;
    this.#opts = opts;
    this.#inbox = createInbox();
    this.#sub = nc.subscribe(`${this.#inbox}.*`, { callback: (err, msg) => this.#onMessage(err, msg) });
    // A request whose heartbeats stop is gone (server restart, leader change): reclaim its credit.
    this.#monitor = setInterval(() => this.#checkHeartbeats(), opts.idleHeartbeatMs);
    this.#statusTask = this.#watchConnection();
  }

  grant(n: number): void {
    if (this.#stopping || n <= 0) return;
    this.#granted += n;
    this.#peak = Math.max(this.#peak, this.#granted);
    while (this.#granted > 0 && this.#overflow.length > 0) this.#hand(this.#overflow.shift()!.delivery);
    this.#schedulePull();
  }

  #hand(delivery: JetStreamDelivery): void {
    this.#granted--;
    try {
      this.#handlers.onDelivery(delivery);
    } catch (e) {
      this.#report(e as Error);
    }
  }

  /** Coalesces the grants of one burst of task completions into one pull request. */
  #schedulePull(): void {
    if (this.#pullQueued) return;
    this.#pullQueued = true;
    queueMicrotask(() => {
      this.#pullQueued = false;
      this.#pull();
    });
  }

  #pull(): void {
    if (this.#stopping || this.#nc.isClosed()) return;
    const now = Date.now();
    if (now < this.#backoffUntil) {
      this.#backoffTimer ??= setTimeout(() => {
        this.#backoffTimer = undefined;
        this.#pull();
      }, this.#backoffUntil - now);
      return;
    }
    const free = this.#granted - this.#requested;
    if (free <= 0) return;
    // Small top-ups wait while a request is still live: it keeps the worker reachable.
    if (this.#live.length > 0 && free < Math.max(1, Math.floor(this.#peak / 4))) return;
    if (this.#live.length >= this.#opts.maxRequests) return;
    const token = String(++this.#tokenSeq);
    this.#live.push({ token, batch: free, remaining: free });
    this.#requested += free;
    this.#lastHeard = now;
    const request = this.#opts.noWait ? { batch: free, no_wait: true, max_bytes: this.#maxBytes() } : {
      batch: free,
      max_bytes: this.#maxBytes(),
      expires: this.#opts.expiresMs * 1_000_000,
      idle_heartbeat: this.#opts.idleHeartbeatMs * 1_000_000,
    };
    this.#nc.publish(this.#nextSubject, JSON.stringify(request), { reply: `${this.#inbox}.${token}` });
  }

  #maxBytes(): number | undefined {
    if (this.#opts.maxBytes === undefined) return undefined;
    return Math.max(this.#opts.maxBytes, 2 * (this.#nc.info?.max_payload ?? 0));
  }

  #onMessage(err: Error | null, msg: Msg): void {
    if (err) {
      this.#report(new BrokerError(ErrorCode.PUBLISH, `pull subscription failed: ${err.message}`, { cause: err }));
      return;
    }
    this.#lastHeard = Date.now();
    this.#silentResets = 0;
    if (msg.subject.startsWith(this.#inbox)) {
      this.#onStatus(msg);
      return;
    }
    const info = msg.reply ? parseAckSubject(msg.reply) : null;
    if (!info) {
      this.#report(new BrokerError(ErrorCode.DECODE, `unexpected message on pull inbox (subject ${msg.subject})`));
      return;
    }
    const delivery = new JetStreamDelivery(this.#queue, msg, info);
    const oldest = this.#live[0];
    if (oldest) {
      this.#requested--;
      if (--oldest.remaining <= 0) this.#live.shift();
    }
    if (this.#stopping) {
      delivery.nak();
      return;
    }
    if (this.#granted <= 0) {
      this.#overflow.push({ delivery, at: Date.now() });
      return;
    }
    this.#hand(delivery);
  }

  #onStatus(msg: Msg): void {
    const token = msg.subject.slice(this.#inbox.length + 1);
    const code = msg.headers?.code ?? 0;
    if (code === 100) return; // idle heartbeat
    const idx = this.#live.findIndex((r) => r.token === token);
    const req = idx >= 0 ? this.#live[idx] : undefined;
    let left = 0;
    if (req) {
      left = req.remaining;
      if (msg.headers?.has("Nats-Pending-Messages")) {
        const told = Number(msg.headers.get("Nats-Pending-Messages"));
        if (Number.isInteger(told) && told >= 0 && told <= req.batch) {
          // The server's count is the truth; if our in-order attribution was off, the difference
          // belongs to the next request of ours.
          const next = this.#live[idx + 1] ?? (idx > 0 ? this.#live[0] : undefined);
          if (next) next.remaining = Math.min(next.batch, Math.max(0, next.remaining + left - told));
          left = told;
        }
      }
      this.#live.splice(idx, 1);
      this.#requested = this.#live.reduce((n, r) => n + r.remaining, 0);
    }
    const description = msg.headers?.description ?? "";
    if (code === 404 || code === 408) {
      // The request ended with credit unused: the queue is idle. Give the credit back to the
      // worker, which may grant it to a busier queue (or to this one again).
      if (left > 0 && !this.#stopping) {
        this.#granted = Math.max(0, this.#granted - left);
        try {
          this.#handlers.onReturned(left);
        } catch (e) {
          this.#report(e as Error);
        }
      }
    } else if (code === 409 && /size exceeds max ?bytes/i.test(description)) {
      // The request took its max_bytes' worth ("Message Size Exceeds MaxBytes"): its unused credit
      // is still ours, and the pull below asks for it again.
    } else if (code === 409 && /max ?waiting|exceeded/i.test(description)) {
      this.#backoff(500, `server refused a pull (${code} ${description}); retrying`);
    } else if (code === 409 && /leadership|shutdown/i.test(description)) {
      this.#resetRequests();
    } else if (code === 409 && /consumer (is )?deleted|not found/i.test(description)) {
      // The durable is gone: the queue actor restarts, which provisions it again.
      this.#report(new BrokerError(ErrorCode.PROVISIONING, `consumer of queue ${this.#queue}: ${description}`));
      this.#backoffUntil = Date.now() + 1000;
    } else {
      this.#backoff(1000, `pull on queue ${this.#queue} failed: ${code} ${description}`);
    }
    this.#schedulePull();
  }

  #backoff(ms: number, why: string): void {
    this.#backoffUntil = Date.now() + ms;
    this.#report(new BrokerError(ErrorCode.PUBLISH, why, { retryable: true }));
  }

  /** Forgets every live request (the server lost them) and pulls afresh. */
  #resetRequests(): void {
    this.#live = [];
    this.#requested = 0;
    this.#schedulePull();
  }

  #checkHeartbeats(): void {
    // Overflow no credit came for within a heartbeat interval goes back (well within ack_wait).
    const stale = Date.now() - this.#opts.idleHeartbeatMs;
    while (this.#overflow.length > 0 && this.#overflow[0]!.at <= stale) this.#overflow.shift()!.delivery.nak();
    if (this.#stopping || this.#live.length === 0 || this.#nc.isClosed()) return;
    if (Date.now() - this.#lastHeard > 2 * this.#opts.idleHeartbeatMs + 500) {
      // A pull to a consumer that does not exist gets no answer at all (not even a status), so
      // silence that outlasts a fresh pull means the durable is gone: have it provisioned again.
      this.#silentResets++;
      const gone = this.#silentResets >= 2;
      this.#report(
        new BrokerError(
          gone ? ErrorCode.PROVISIONING : ErrorCode.PUBLISH,
          `no heartbeat on queue ${this.#queue}'s pull${gone ? " twice: its consumer may be gone" : "; pulling again"}`,
          { retryable: true },
        ),
      );
      this.#resetRequests();
    }
  }

  async #watchConnection(): Promise<void> {
    const it = this.#nc.status();
    this.#statusIter = it as unknown as { stop?: () => void };
    for await (const s of it) {
      if (this.#stopping) break;
      if (s.type === "reconnect") this.#resetRequests();
    }
  }

  #report(err: Error): void {
    try {
      this.#handlers.onError(err);
    } catch {
      // a reporting failure must not break the pull loop
    }
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#monitor);
    if (this.#backoffTimer) clearTimeout(this.#backoffTimer);
    this.#statusIter?.stop?.();
    for (const o of this.#overflow.splice(0)) o.delivery.nak();
    // drain: UNSUB reaches the server first, then every message it sent before arrives and is nak'ed.
    if (!this.#nc.isClosed()) {
      try {
        await this.#sub.drain();
      } catch {
        this.#sub.unsubscribe();
      }
    }
    this.#granted = 0;
    this.#live = [];
    this.#requested = 0;
    await Promise.race([this.#statusTask, Promise.resolve()]);
  }
}
