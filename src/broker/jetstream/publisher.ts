/**
 * JetStream publishes with their acknowledgement, on one reply subscription.
 *
 * Why not `js.publish`: each call goes through a nats.js request, which allocates a timer and a
 * deferred and, when it completes, builds a "cancelled" RequestError with a stack trace it then
 * throws away — 8% of a producer's CPU and much of its garbage, measured on this path. Here a
 * publish is one core PUB with a reply token; the PubAck (or the server's 503 "no responders")
 * comes back on our wildcard inbox, and one sweep timer fails what did not answer in time.
 */
import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";

/** JetStream's answer to a publish. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

/** Why a publish failed; `kind` says whether retrying may help. */
export class PublishFailure extends Error {
  override name = "PublishFailure";
  constructor(
    readonly kind: "timeout" | "no-responders" | "api" | "closed",
    message: string,
    readonly apiCode?: number,
  ) {
    super(message);
  }
}

interface Pending {
  subject: string;
  resolve(ack: PubAck): void;
  reject(err: PublishFailure): void;
  deadline: number;
}

const SWEEP_MS = 250;
const decoder = new TextDecoder();

/** Publishes to JetStream and waits for its acks. One per connection. */
export class AckedPublisher {
  #nc: NatsConnection;
  #inbox: string;
  #sub: Subscription;
  #seq = 0;
  #pending = new Map<string, Pending>();
  #sweeper: ReturnType<typeof setInterval> | null = null;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#inbox = createInbox();
    this.#sub = nc.subscribe(`${this.#inbox}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const token = msg.subject.slice(this.#inbox.length + 1);
        const p = this.#pending.get(token);
        if (!p) return; // timed out already; a retry with the same message id takes its place
        this.#pending.delete(token);
        const code = msg.headers?.code ?? 0;
        if (code === 503) {
          // No stream takes the subject, or the one that does has no leader right now: only the
          // server's stream info can tell (elections.ts).
          p.reject(new PublishFailure("no-responders", `no stream answered on ${p.subject} (none exists, or its leader is being elected)`));
          return;
        }
        let r: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; err_code?: number; description?: string } };
        try {
          r = JSON.parse(decoder.decode(msg.data));
        } catch {
          p.reject(new PublishFailure("api", `unreadable publish acknowledgement (status ${code})`));
          return;
        }
        if (r.error) {
          p.reject(new PublishFailure("api", r.error.description ?? "publish refused", r.error.err_code ?? r.error.code));
        } else if (typeof r.stream !== "string" || typeof r.seq !== "number") {
          p.reject(new PublishFailure("api", "invalid publish acknowledgement"));
        } else {
          p.resolve({ stream: r.stream, seq: r.seq, duplicate: r.duplicate === true });
        }
      },
    });
  }

  /** Publishes `body` to `subject` and resolves with JetStream's ack, or rejects with a PublishFailure. */
  publish(subject: string, body: Uint8Array, headers: MsgHdrs, timeoutMs: number): Promise<PubAck> {
    if (this.#nc.isClosed()) return Promise.reject(new PublishFailure("closed", "connection closed"));
    const token = (++this.#seq).toString(36);
    const p = new Promise<PubAck>((resolve, reject) => {
      this.#pending.set(token, { subject, resolve, reject, deadline: Date.now() + timeoutMs });
    });
    try {
      this.#nc.publish(subject, body, { reply: `${this.#inbox}.${token}`, headers });
    } catch (err) {
      // nats.js refuses some publishes synchronously (over max_payload, closed or draining
      // connection, bad subject): nothing was sent, so nothing may stay pending — a leftover entry
      // would be failed later by the sweep with nobody listening (an unhandled rejection).
      this.#pending.delete(token);
      return Promise.reject(this.#refused(err));
    }
    this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS);
    return p;
  }

  /** Publishes awaiting their acknowledgement. */
  get pending(): number {
    return this.#pending.size;
  }

  #refused(err: unknown): PublishFailure {
    const why = (err as Error)?.message ?? String(err);
    const gone = this.#nc.isClosed() || this.#nc.isDraining();
    const f = new PublishFailure(gone ? "closed" : "api", gone ? `connection closed (${why})` : `publish refused by the client: ${why}`);
    f.cause = err;
    return f;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [token, p] of this.#pending) {
      if (p.deadline > now) continue;
      this.#pending.delete(token);
      p.reject(new PublishFailure("timeout", "the broker did not acknowledge the publish in time"));
    }
    if (this.#pending.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
  }

  /** Fails every pending publish and stops listening. */
  close(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
    for (const p of this.#pending.values()) p.reject(new PublishFailure("closed", "connection closed"));
    this.#pending.clear();
    this.#sub.unsubscribe();
  }
}
