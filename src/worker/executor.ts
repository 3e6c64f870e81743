/**
 * Runs one delivery up to its outcome: decode, look the task up, refuse what must not run,
 * hand the handler to the pool under its time limits. It never acks; `settle` does.
 */
import type { ResultBackend } from "../backend/types.ts";
import type { Task } from "../task.ts";
import type { Logger } from "../log.ts";
import { BASE_HEADER_COUNT, decodeTaskMessage, Header, type TaskMessage } from "../protocol/message.ts";
import { makeRecord, type ResultRecord } from "../protocol/result.ts";
import { isReady, State, type TaskState } from "../states.ts";
import type { DecodeError } from "../errors.ts";
import type { TaskPool } from "./pool/types.ts";
import { type Job, type KnownJob, type Outcome, recordExtras } from "./job.ts";
import type { MessageSigning } from "../security/load.ts";

/** What the executor needs from its worker. */
export interface ExecutorDeps {
  tasks: ReadonlyMap<string, Task>;
  backend: ResultBackend;
  hostname: string;
  log: Logger;
  resultExtended: boolean;
  /** Sends a result notice (progress events from `ctx.progress` / `ctx.updateState`). */
  notify(replyTo: string, id: string, state: TaskState, bytes: Uint8Array): void;
  /** Called once the message is decoded and the task known, before it runs. */
  onReceived(job: KnownJob): void;
  /** Called when the handler begins. */
  onStarted(job: KnownJob): void;
  /** True if the task was revoked (remote control): it is recorded REVOKED and never runs. */
  isRevoked(id: string): boolean;
  /**
   * Admission (rate limits): null to run now, or a promise of null (run, after waiting) or of the
   * outcome that replaces running (deferred, revoked while waiting).
   */
  admit(job: KnownJob): Promise<Outcome | null> | null;
  /** Signature checks; null when signing is off. */
  signing: MessageSigning | null;
  /** Bodies larger than this are dead-lettered undecoded. */
  maxMessageBytes: number;
  /** Where handlers run. */
  pool: TaskPool;
  /** The worker's limits, for tasks that set none. */
  timeLimitMs: number | null;
  softTimeLimitMs: number | null;
}

/** Executes deliveries. */
export class Executor {
  #deps: ExecutorDeps;
  #checkEveryUntil = 0;

  constructor(deps: ExecutorDeps) {
    this.#deps = deps;
  }

  /**
   * For the next `ms`, checks every delivery for an earlier result, not only redeliveries. After
   * the broker restarts, a copy can come back looking new: a consumer's delivery counts not yet
   * written when the server died, or a producer's retried publish whose first copy already ran and
   * was removed from the stream (the duplicate window remembers only stored messages).
   */
  checkEveryDeliveryFor(ms: number): void {
    this.#checkEveryUntil = Math.max(this.#checkEveryUntil, Date.now() + ms);
  }

  /** Runs a job to its outcome. Never throws. */
  async execute(job: Job): Promise<Outcome> {
    let message: TaskMessage;
    const d = job.delivery;
    // Size and signature come before decoding: a worker that requires signatures never parses
    // a body nobody it trusts has vouched for.
    if (d.body.length > this.#deps.maxMessageBytes) {
      return {
        kind: "reject",
        message: null,
        reason: `oversized message: ${d.body.length} bytes, over this worker's maxMessageBytes (${this.#deps.maxMessageBytes})`,
        requeue: false,
      };
    }
    const verdict = this.#deps.signing ? this.#checkSignature(job, this.#deps.signing) : null;
    if (typeof verdict === "string") return { kind: "reject", message: null, reason: verdict, requeue: false };
    try {
      const all = d.headerCount() > BASE_HEADER_COUNT ? () => d.headers() : undefined;
      message = decodeTaskMessage((n) => d.header(n), d.body, all);
    } catch (err) {
      return { kind: "reject", message: null, reason: (err as DecodeError).message, requeue: false };
    }
    // The signature covers the body's queue, not the subject: a signed message copied onto another
    // queue (by someone who may publish there) is refused rather than run by that queue's workers.
    if (verdict === true && message.queue !== undefined && message.queue !== job.queue) {
      return {
        kind: "reject",
        message: null, // nothing of it is trusted here: no follow-ups run from it
        reason: `signed for queue "${message.queue}" but delivered on queue "${job.queue}"`,
        requeue: false,
      };
    }
    job.decoded(message);
    const task = this.#deps.tasks.get(message.task);
    if (!task) {
      return {
        kind: "reject",
        message,
        reason: `unknown task "${message.task}": not registered on worker ${this.#deps.hostname}`,
        requeue: false,
      };
    }
    const known = job.known(task);
    // Never before its time: a task that arrives early (a producer's clock ahead of ours) goes
    // back to wait in the broker; nothing waits in a worker.
    if (message.eta !== undefined && message.eta > Date.now()) return { kind: "defer", message, etaMs: message.eta };
    // A redelivery, or a copy the delayed-task mover may have published twice: run it only if no
    // result or later attempt exists yet.
    if (
      d.deliveryCount > 1 || d.header(Header.MOVED) !== undefined || d.header(Header.ONCE) !== undefined ||
      (this.#checkEveryUntil !== 0 && Date.now() < this.#checkEveryUntil)
    ) {
      try {
        const done = await this.#alreadyDone(message);
        if (done) return { kind: "skip", message, why: done.why, record: done.record };
      } catch (err) {
        // The backend is down: run anyway (at-least-once); the result write will wait for it.
        this.#deps.log.warn(`could not check ${message.id} for an earlier result: ${(err as Error).message}`);
      }
    }
    if (message.expires !== undefined && message.expires <= Date.now()) {
      return { kind: "revoked", message, reason: "expired" };
    }
    if (this.#deps.isRevoked(message.id)) return { kind: "revoked", message, reason: "revoked" };
    this.#deps.onReceived(known);
    if (task.options.trackStarted) this.#track(known, State.RECEIVED);
    const admitted = this.#deps.admit(known);
    if (admitted) {
      const instead = await admitted;
      if (instead) return instead;
    }
    return this.#run(known);
  }

  /** True if verified, false if accepted unverified, or the dead-letter reason. */
  #checkSignature(job: Job, signing: MessageSigning): boolean | string {
    const v = signing.verifier.check(job.delivery.headers(), job.delivery.body);
    switch (v.kind) {
      case "verified":
        return true;
      case "bad":
        return `bad signature: ${v.reason}`;
      case "unknown-key":
        // Without `require` an unknown key proves nothing either way: accepted like an unsigned message.
        return signing.require ? `untrusted signature: ${v.reason}` : false;
      case "unsigned":
        return signing.require ? "unsigned message: this worker requires signed messages (signing.require)" : false;
    }
  }

  /** On a redelivery, a ready result or a later attempt means this copy must not run again. */
  async #alreadyDone(m: TaskMessage): Promise<{ why: string; record: ResultRecord } | null> {
    const record = await this.#deps.backend.get(m.id);
    if (!record) return null;
    if (isReady(record.status)) return { why: `already ${record.status}`, record };
    if ((record.retries ?? 0) > m.retries) return { why: `a later attempt (retry ${record.retries}) was already sent`, record };
    return null;
  }

  #track(job: KnownJob, state: TaskState, meta: unknown = null): void {
    const m = job.message;
    const extras = recordExtras(m, job.queue, this.#deps.hostname, this.#deps.resultExtended);
    this.#deps.backend.store(makeRecord(m.id, state, meta, extras)).catch((err) =>
      this.#deps.log.warn(`could not record ${state} for ${m.id}: ${(err as Error).message}`)
    );
  }

  /** Starts the handler in the pool, under the limits the message, the task or the worker set (in that order). */
  #run(job: KnownJob): Promise<Outcome> {
    const { task, message: m } = job;
    const [hardS, softS] = m.timelimit ?? [null, null];
    const hardMs = hardS ? hardS * 1000 : task.options.timeLimitMs ?? this.#deps.timeLimitMs;
    const softMs = softS ? softS * 1000 : task.options.softTimeLimitMs ?? this.#deps.softTimeLimitMs;
    job.start();
    this.#deps.onStarted(job);
    if (task.options.trackStarted) this.#track(job, State.STARTED);
    return this.#deps.pool.run({ job, hardMs: hardMs ?? null, softMs: softMs ?? null });
  }
}
