/**
 * Turns an outcome into its consequences, in an order that loses nothing:
 * result stored → follow-ups published (retry, chain step, callbacks, chord body) → notice sent →
 * message acked.
 * A crash between any two steps leaves the message unacked, so it is redelivered, and the
 * redelivery is recognised (executor's "already done" check, dedup ids) instead of run twice.
 */
import type { Broker, ExhaustedMessage } from "../broker/types.ts";
import type { ResultBackend, StoreOutcome } from "../backend/types.ts";
import type { Producer } from "../producer.ts";
import { type Logger, taskLogger } from "../log.ts";
import { decodeTaskMessage, Header, type TaskMessage } from "../protocol/message.ts";
import { exceptionInfo, isoNow, makeRecord, remoteErrorOf, type ResultRecord } from "../protocol/result.ts";
import { isReady, State } from "../states.ts";
import { type CeleriacError, ClosedError, describeError, ErrorCode, hasCode, type RemoteError, type Retry } from "../errors.ts";
import { afterFailure, afterSuccess, successChildren } from "./followups.ts";
import { autoRetryFor, decideRetry } from "./retry-policy.ts";
import { type Job, type KnownJob, type Outcome, recordExtras } from "./job.ts";
import { sendNotice } from "./notice.ts";
import { type Burial, deadLetterHeaders } from "./burial.ts";

/** What settling needs from its worker. */
export interface SettleDeps {
  broker: Broker;
  backend: ResultBackend;
  producer: Producer;
  hostname: string;
  log: Logger;
  resultExtended: boolean;
  /** Reports each settled outcome (events, stats). */
  onSettled(job: Job, outcome: Outcome, state: string | null): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Whether doing the same thing again may succeed. Not for a value that cannot be encoded or
 * decoded, an invalid argument, nor a publish the broker (or the client) refused outright — over
 * max_payload, rejected by the stream. Outages (timeouts, a missing stream, a lost connection,
 * anything unclassified) are worth retrying.
 */
function retryHelps(err: unknown): boolean {
  if ([ErrorCode.ENCODE, ErrorCode.DECODE, ErrorCode.INVALID_ARGUMENT, ErrorCode.CONFIG].some((c) => hasCode(err, c))) return false;
  if (hasCode(err, ErrorCode.PUBLISH)) return (err as CeleriacError).retryable;
  return true;
}

/** Settles jobs. */
export class Settler {
  #deps: SettleDeps;

  constructor(deps: SettleDeps) {
    this.#deps = deps;
  }

  /**
   * Applies `outcome` to `job`. Never throws; failures to settle leave the message to be
   * redelivered. Resolves with the state recorded (null if none), or undefined if not settled.
   */
  settle(job: Job, outcome: Outcome): Promise<string | null | undefined> {
    // A terminated job is settled as REVOKED (settleTerminated): its own outcome is dropped.
    if (outcome.kind === "abandoned" || !job.beginSettling()) return Promise.resolve(undefined);
    return this.#settle(job, outcome);
  }

  /** Settles a job `terminate()` claimed, as REVOKED: whatever its handler does later is dropped. */
  settleTerminated(job: KnownJob): Promise<string | null | undefined> {
    if (job.abandoned) return Promise.resolve(undefined);
    return this.#settle(job, { kind: "revoked", message: job.message, reason: "terminated" });
  }

  async #settle(job: Job, outcome: Exclude<Outcome, { kind: "abandoned" }>): Promise<string | null | undefined> {
    try {
      let state: string | null;
      if (outcome.kind === "success") {
        // The common case, without the extra async layer of #apply.
        try {
          const m = outcome.message;
          await this.#final(job, m, State.SUCCESS, outcome.value, null, this.#onSuccess(m, outcome.value));
          job.delivery.ack();
          state = State.SUCCESS;
        } catch (err) {
          if (!hasCode(err, ErrorCode.ENCODE)) throw err;
          // The value cannot be stored or sent on (too deep, a cycle, a RegExp): the task fails and
          // says why, rather than its message coming back until maxDeliver.
          state = await this.#apply(job, { kind: "failure", message: outcome.message, error: err, runtimeMs: outcome.runtimeMs });
        }
      } else {
        state = await this.#apply(job, outcome);
      }
      this.#deps.onSettled(job, outcome, state);
      return state;
    } catch (err) {
      if (!job.abandoned && !retryHelps(err)) {
        await this.#cannotSettle(job, outcome.message, err);
        return undefined;
      }
      // Not acked: JetStream redelivers it after ack_wait, and the redelivery check sees what got done.
      this.#deps.log.error(`could not settle ${outcome.message?.id ?? `message ${job.delivery.seq}`}: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * A step failed in a way no retry can cure (the broker refused a publish, a value cannot be
   * encoded). A redelivery would run the task again into the same wall until maxDeliver, so the
   * message goes to the DLQ now with the reason, and FAILURE is recorded (a stored SUCCESS is
   * kept). If even the dead letter cannot be written, the message stays unacked and is redelivered.
   */
  async #cannotSettle(job: Job, message: TaskMessage | null, err: unknown): Promise<void> {
    const what = message?.id ?? `message ${job.delivery.seq}`;
    this.#deps.log.error(`could not settle ${what}: ${(err as Error).message}; retrying cannot help, dead-lettering it`);
    try {
      const burial = this.#burial(job, message, { status: State.FAILURE, type: "SettleError", followUps: false });
      await this.#bury(burial, `could not settle: ${(err as Error).message} (retrying cannot help)`);
    } catch (dlqErr) {
      this.#deps.log.error(`could not dead-letter ${what} either (${(dlqErr as Error).message}); it will be redelivered`);
    }
  }

  async #apply(job: Job, outcome: Exclude<Outcome, { kind: "abandoned" }>): Promise<string | null> {
    switch (outcome.kind) {
      case "skip": {
        const m = outcome.message;
        this.#deps.log.info(`skipping redelivered ${m.task}[${m.id}]: ${outcome.why}`);
        // Replay the follow-ups: the earlier run may have died between storing and sending them.
        const rec = outcome.record;
        const follow = !isReady(rec.status)
          ? undefined
          : rec.status === State.SUCCESS
          ? this.#onSuccess(m, rec.result)
          : this.#onFailure(m, remoteErrorOf(rec));
        if (follow) await this.#durably(`follow-ups of ${m.id}`, job, follow);
        job.delivery.ack();
        return null;
      }
      case "reject":
        if (outcome.requeue) {
          job.delivery.nak();
          return null;
        }
        await this.#bury(this.#burial(job, outcome.message, { status: State.REJECTED, type: "Rejected", followUps: true }), outcome.reason);
        return State.REJECTED;
      case "defer": {
        // Back to the delayed store under a fresh dedup id (the original's may still be in the window).
        const m = outcome.message;
        const later = { ...m, eta: outcome.etaMs };
        await this.#durably(
          `defer ${m.id}`,
          job,
          () => this.#deps.producer.publish(later, { msgId: `${m.id}:${m.retries}:defer:${job.delivery.seq}` }),
        );
        job.delivery.ack();
        return null;
      }
      case "revoked": {
        const why = { type: "TaskRevokedError", message: outcome.reason, traceback: null };
        const m = outcome.message;
        await this.#final(job, m, State.REVOKED, exceptionInfo(why), null, this.#onFailure(m, why));
        job.delivery.ack();
        return State.REVOKED;
      }
      case "success": {
        const m = outcome.message;
        await this.#final(job, m, State.SUCCESS, outcome.value, null, this.#onSuccess(m, outcome.value));
        job.delivery.ack();
        return State.SUCCESS;
      }
      case "failure": {
        const m = outcome.message;
        const retry = job.task ? autoRetryFor(outcome.error, job.task.options, m.retries) : null;
        if (retry) return await this.#retry(job, m, retry);
        await this.#fail(job, m, outcome.error);
        return State.FAILURE;
      }
      case "retry":
        return await this.#retry(job, outcome.message, outcome.retry);
    }
  }

  async #fail(job: Job, m: TaskMessage, error: unknown): Promise<void> {
    const d = describeError(error);
    await this.#final(job, m, State.FAILURE, exceptionInfo(d), d.traceback, this.#onFailure(m, d));
    job.delivery.ack();
  }

  async #retry(job: Job, m: TaskMessage, retry: Retry): Promise<string> {
    const decision = decideRetry(retry, job.task!.options, m.id, m.retries);
    if (!decision.again) {
      await this.#fail(job, m, decision.error);
      return State.FAILURE;
    }
    const next = { ...m, retries: m.retries + 1, eta: decision.etaMs > Date.now() ? decision.etaMs : undefined };
    const inS = Math.max(0, (decision.etaMs - Date.now()) / 1000);
    const log = this.#deps.log.bind ? taskLogger(this.#deps.log, m.task, m.id, this.#deps.hostname) : this.#deps.log;
    log.info(`Task ${m.task}[${m.id}] retry ${next.retries} in ${inS.toFixed(inS < 10 ? 1 : 0)}s: ${retry.message}`);
    // Publish the next attempt first: its dedup id (`<id>:<retries>`) makes a repeat harmless.
    await this.#durably(`publish retry ${next.retries} of ${m.id}`, job, () => this.#deps.producer.publish(next));
    const d = retry.exc === undefined ? { type: "Retry", message: retry.message, traceback: null } : describeError(retry.exc);
    const rec = makeRecord(m.id, State.RETRY, exceptionInfo(d), { ...this.#extra(job, m), retries: next.retries, traceback: d.traceback });
    await this.#durably(`store RETRY of ${m.id}`, job, () => this.#deps.backend.store(rec));
    job.delivery.ack();
    return State.RETRY;
  }

  /**
   * Stores a ready state (unless the task ignores results), runs its follow-ups (canvas: chain,
   * callbacks, chord), then sends the notice. Follow-ups come before the notice so that a waiter on
   * a chain's last task never races the publish of the step that produces it.
   */
  async #final(
    job: Job,
    m: TaskMessage,
    status: string,
    result: unknown,
    traceback: string | null,
    follow?: () => Promise<void>,
  ): Promise<void> {
    const backend = this.#deps.backend;
    let bytes: Uint8Array | null = null;
    let stored: StoreOutcome = "stored";
    if (!(m.ignoreResult && status === State.SUCCESS)) {
      const rec: ResultRecord = makeRecord(m.id, status, result, this.#extra(job, m));
      rec.traceback = traceback;
      rec.date_done = isoNow();
      if (status === State.SUCCESS && (job.children || m.embed)) {
        rec.children = [...(job.children ?? []).map((id) => [[id, null], null]), ...successChildren(m)];
      }
      // Encoded once: the same bytes go to the backend and, as the notice, to the caller.
      bytes = backend.encode(rec);
      const b = bytes;
      try {
        stored = await backend.storeEncoded(m.id, status, b);
      } catch {
        stored = await this.#durably(`store ${status} of ${m.id}`, job, () => backend.storeEncoded(m.id, status, b));
      }
    }
    if (follow) await this.#durably(`follow-ups of ${m.id}`, job, follow);
    if (!m.replyTo || !bytes) return;
    if (stored === "stored") {
      sendNotice(this.#deps, m.replyTo, m.id, status, bytes);
      return;
    }
    // A SUCCESS was stored before (a redelivery raced us): the notice carries what is stored.
    const kept = await backend.get(m.id).catch(() => null);
    if (kept) sendNotice(this.#deps, m.replyTo, m.id, kept.status, backend.encode(kept));
  }

  /** The follow-ups of a success, if the message has any. */
  #onSuccess(m: TaskMessage, value: unknown): (() => Promise<void>) | undefined {
    return m.embed ? () => afterSuccess(m, value, this.#deps) : undefined;
  }

  /** The follow-ups of a failure (errbacks, the rest of a chain, a chord), if the message has any. */
  #onFailure(m: TaskMessage, error: RemoteError): (() => Promise<void>) | undefined {
    return m.embed ? () => afterFailure(m, error, this.#deps) : undefined;
  }

  #extra(job: Job, m: TaskMessage) {
    return recordExtras(m, job.queue, this.#deps.hostname, this.#deps.resultExtended);
  }

  /**
   * The one way a message goes to the DLQ: kept raw with the reason, `status` recorded if the id is
   * known, removed from its queue. With `followUps`, what depends on it (errbacks, its chain, its
   * chord) fails like after any failure; a message that could not be settled sends nothing more
   * (sending is what failed).
   */
  async #bury(b: Burial, reason: string): Promise<void> {
    const headers = deadLetterHeaders(b.headers, b.queue, b.deliveries, this.#deps.hostname);
    await b.durably(
      `dead-letter message ${b.seq}`,
      () => this.#deps.broker.deadLetter(b.queue, { headers, body: b.body }, reason, `${b.queue}:${b.seq}`),
    );
    this.#deps.log.warn(`dead-lettered message ${b.seq} from queue ${b.queue}: ${reason}`);
    const id = b.message?.id ?? b.headers[Header.ID];
    if (id) await this.#recordDeadLetter(id, b.status, b.type, reason, b.message?.replyTo);
    const follow = b.followUps && b.message ? this.#onFailure(b.message, { type: b.type, message: reason, traceback: null }) : undefined;
    if (follow) await b.durably(`follow-ups of ${id}`, follow);
    await b.remove();
  }

  /** The burial of a live delivery: its steps retried while the worker runs, then termed. */
  #burial(job: Job, message: TaskMessage | null, as: { status: string; type: string; followUps: boolean }): Burial {
    const d = job.delivery;
    return {
      queue: job.queue,
      seq: d.seq,
      deliveries: d.deliveryCount,
      headers: d.headers(),
      body: d.body,
      message,
      ...as,
      durably: (what, op) => this.#durably(what, job, op),
      remove: () => d.term(),
    };
  }

  /**
   * A message JetStream stopped delivering after `maxDeliver` attempts (its worker kept dying,
   * or it kept outliving ack_wait): dead-letter it, record FAILURE, fail what depends on it (a
   * chord waits for every member), remove it from the queue.
   */
  async exhausted(ex: ExhaustedMessage): Promise<void> {
    const reason = `delivered ${ex.deliveries} times without being acknowledged (maxDeliver reached: ` +
      `its worker died or it outlived ack_wait each time)`;
    if (!ex.message) {
      // Removing it now would lose it: nothing was dead-lettered. It stays in the stream, undelivered.
      this.#deps.log.error(
        `exhausted message ${ex.seq} of ${ex.queue} could not be read back (maxDeliver reached); ` +
          `it stays in the stream, not dead-lettered and not removed: inspect the stream and move or delete it by hand`,
      );
      return;
    }
    const { headers, body } = ex.message;
    let message: TaskMessage | null;
    try {
      message = decodeTaskMessage((n) => headers[n], body, () => headers);
    } catch {
      message = null; // dead-lettered all the same, under the id its header names (if any)
    }
    try {
      await this.#bury({
        queue: ex.queue,
        seq: ex.seq,
        deliveries: ex.deliveries,
        headers,
        body,
        message,
        status: State.FAILURE,
        type: "DeliveryLimitExceeded",
        followUps: true,
        // No delivery to keep in progress: a failed step leaves the broker's report of it unacked,
        // and the whole burial is tried again when the report comes back (each step is idempotent).
        durably: (_what, op) => op(),
        remove: () => ex.remove(),
      }, reason);
    } catch (err) {
      this.#deps.log.error(`could not dead-letter exhausted message ${ex.seq} of ${ex.queue}: ${(err as Error).message}`);
    }
  }

  async #recordDeadLetter(id: string, status: string, type: string, reason: string, replyTo: string | undefined) {
    const rec = makeRecord(id, status, exceptionInfo({ type, message: reason, traceback: null }), {
      date_done: isoNow(),
    });
    try {
      const bytes = this.#deps.backend.encode(rec);
      const stored = await this.#deps.backend.storeEncoded(id, status, bytes);
      if (stored === "stored" && replyTo) sendNotice(this.#deps, replyTo, id, status, bytes);
    } catch (err) {
      this.#deps.log.warn(`could not record ${status} for ${id}: ${(err as Error).message}`);
    }
  }

  /**
   * Retries `op` until it succeeds: the message stays unacked (and in progress) meanwhile, so an
   * outage of Redis or NATS delays a result but never loses it. Gives up if the job is abandoned
   * (cold shutdown), leaving the message to be redelivered, or at once on an error retrying cannot
   * cure (see {@link retryHelps}), which `settle` dead-letters.
   */
  async #durably<T>(what: string, job: Job, op: () => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      if (job.abandoned) throw new ClosedError(`worker (${what} abandoned)`);
      try {
        return await op();
      } catch (err) {
        if (job.abandoned || !retryHelps(err)) throw err;
        const wait = Math.min(100 * 2 ** attempt, 5_000);
        if (attempt === 1 || attempt % 10 === 0) {
          this.#deps.log.warn(`${what} failed (${(err as Error).message}); retrying every ≤${wait / 1000}s`);
        }
        await sleep(wait);
      }
    }
  }
}
