/**
 * Riding out JetStream leader elections.
 *
 * When a clustered server that leads a stream (or the meta group) dies, nothing answers for that
 * stream until a new leader is elected: on nats-server 2.9 requests first time out, then get 503
 * "no responders", for about 4 s (FACTS.md, NATS cluster 1). A 503 therefore says nothing about
 * whether a stream exists. Only the server's own answer "stream not found" (10059) does.
 */
import { errors, RequestError } from "@nats-io/transport-node";
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import { ClosedError } from "../../errors.ts";

/** JetStream's "cluster not available" (no meta leader yet). */
const CLUSTER_NOT_AVAILABLE = 10008;

/**
 * True for a failure a leader election explains: a timeout, no responders, or "cluster not
 * available". Follows `cause` through wrappers (ProvisioningError, nats.js's own).
 */
export function isElectionFailure(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof errors.TimeoutError) return true;
    // nats.js reports no responders on the JetStream API as "jetstream is not enabled", caused by this.
    if (e instanceof RequestError && e.isNoResponders()) return true;
    if (e instanceof JetStreamApiError && (e.status === 503 || e.code === CLUSTER_NOT_AVAILABLE)) return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn`, again after an election failure, with backoff (100 ms doubling to 1 s), until
 * `withinMs` has passed; then, or on any other failure, rethrows the last error. Bounded by
 * `withinMs` (the broker's publish timeout) so a cluster that stays down still fails the caller.
 */
export async function throughElections<T>(fn: () => Promise<T>, withinMs: number, closed: () => boolean): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let attempt = 0;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (closed()) throw new ClosedError("broker");
      if (!isElectionFailure(err) || Date.now() >= deadline) throw err;
    }
    await sleep(Math.min(100 * 2 ** attempt, 1_000, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Tells "no stream" from "stream exists, no leader right now" after a publish got 503, without
 * holding the publish up: it asks the server about the stream in the background, and only if
 * the answer is "stream not found" has it provisioned again. Meanwhile publishes keep retrying
 * (same message id) within the publish timeout. One check per stream at a time.
 */
export class StreamChecks {
  #jsm: () => JetStreamManager;
  #running = new Set<string>();

  constructor(jsm: () => JetStreamManager) {
    this.#jsm = jsm;
  }

  /** Checks `stream` unless a check is under way; `recreate` runs only if it is gone. */
  suspect(stream: string, recreate: () => Promise<void>): void {
    if (this.#running.has(stream)) return;
    this.#running.add(stream);
    (async () => {
      try {
        await this.#jsm().streams.info(stream);
      } catch (err) {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) await recreate();
        // Anything else (a timeout, no responders): an election; the publish retries see it through.
      }
    })().catch(() => {
      // a failed re-provisioning is retried by the next publish that still gets 503
    }).finally(() => this.#running.delete(stream));
  }
}
