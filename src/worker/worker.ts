/**
 * The worker: hosts one queue actor per queue, the executor pool (slots), the in-progress ticker,
 * and a named lifecycle: created → starting → running → draining → stopped (or failed).
 *
 * Consume path: queue actor (pull what you can run) → executor (one task to its outcome) →
 * settle (outcome → result, notice, follow-up, ack). See docs/architecture.md.
 */
import type { Broker, Delivery } from "../broker/types.ts";
import type { ResultBackend } from "../backend/types.ts";
import type { CompiledAppOptions } from "../options.ts";
import type { Producer } from "../producer.ts";
import type { Task } from "../task.ts";
import type { Logger } from "../log.ts";
import { Emitter, type Events } from "../emitter.ts";
import { supervise, type Supervised } from "../actor.ts";
import { compileWorkerOptions, type CompiledWorkerOptions, type WorkerOptions } from "./options.ts";
import { SlotPool } from "./slots.ts";
import { Executor } from "./executor.ts";
import { Settler } from "./settle.ts";
import { queueActor } from "./consumer.ts";
import { type Job, newJob, type Outcome } from "./job.ts";
import { ClosedError, ConfigError } from "../errors.ts";
import type { MessageSigning } from "../security/load.ts";
import { moverActor } from "../schedule/mover.ts";
import { pid } from "../runtime/mod.ts";

/** Time to live of the delayed-task mover's lease: a dead mover is replaced within it. */
const MOVER_LEASE_MS = 5_000;

/** What a worker needs from its app. */
export interface WorkerHost {
  readonly config: CompiledAppOptions;
  broker(): Promise<Broker>;
  backend(): Promise<ResultBackend>;
  readonly producer: Producer;
  readonly tasks: ReadonlyMap<string, Task>;
  readonly log: Logger;
  /** Signing keys (read on first call); null when signing is off. */
  signing(): MessageSigning | null;
}

/** Lifecycle states. */
export const WorkerState = {
  CREATED: "created",
  STARTING: "starting",
  RUNNING: "running",
  DRAINING: "draining",
  STOPPED: "stopped",
  FAILED: "failed",
} as const;
/** A lifecycle state. */
export type WorkerState = typeof WorkerState[keyof typeof WorkerState];

/** A task as the worker reports it. */
export interface TaskEvent {
  id: string;
  name: string;
  queue: string;
  retries: number;
  deliveryCount: number;
  /** Set when the task ran. */
  runtimeMs?: number;
  /** The resulting state, when settled. */
  state?: string;
  /** Why it was rejected / revoked / failed, when it was. */
  reason?: string;
}

/** Events a worker emits. Listeners cannot break the worker. */
export interface WorkerEvents extends Record<string, unknown> {
  state: WorkerState;
  /** Background trouble (broker hiccups, failed writes that will be retried). */
  error: Error;
  "task-received": TaskEvent;
  "task-started": TaskEvent;
  "task-settled": TaskEvent;
}

/** Options of {@link Worker.stop}. */
export interface StopOptions {
  /** Seconds running tasks get to finish; default the worker's grace period, 0 = cold. */
  grace?: number;
}

/** A worker. Create it with `app.worker(...)`. */
export class Worker {
  readonly options: CompiledWorkerOptions;
  readonly hostname: string;
  #host: WorkerHost;
  #state: WorkerState = WorkerState.CREATED;
  #emitter: Emitter<WorkerEvents>;
  #slots: SlotPool;
  #inFlight = new Set<Job>();
  #actors: Supervised[] = [];
  #ticker: ReturnType<typeof setInterval> | null = null;
  #executor: Executor | null = null;
  #settler: Settler | null = null;
  #stopping: Promise<void> | null = null;
  #idle: (() => void) | null = null;
  #cutGrace: (() => void) | null = null;
  #processed = 0;
  #startedAt = 0;

  constructor(host: WorkerHost, options: WorkerOptions = {}) {
    this.#host = host;
    this.options = compileWorkerOptions(options, host.config.defaultQueue);
    this.hostname = this.options.hostname;
    this.#emitter = new Emitter((err) => host.log.error("a worker event listener failed", err));
    this.#slots = new SlotPool(this.options.concurrency, this.options.queues);
  }

  /** The current lifecycle state. */
  get state(): WorkerState {
    return this.#state;
  }

  /** Subscribe to worker events. */
  get events(): Events<WorkerEvents> {
    return this.#emitter;
  }

  /** Tasks running now. */
  get active(): number {
    return this.#inFlight.size;
  }

  /** Tasks settled since start. */
  get processed(): number {
    return this.#processed;
  }

  #setState(s: WorkerState): void {
    this.#state = s;
    this.#emitter.emit("state", s);
  }

  #event(job: Job, extra: Partial<TaskEvent> = {}): TaskEvent {
    const m = job.message;
    return {
      id: m?.id ?? job.delivery.header("id") ?? "",
      name: m?.task ?? job.delivery.header("task") ?? "",
      queue: job.queue,
      retries: m?.retries ?? 0,
      deliveryCount: job.delivery.deliveryCount,
      ...extra,
    };
  }

  /** Connects, provisions every queue, and resolves once all queues are consuming. */
  async start(): Promise<void> {
    if (this.#state !== WorkerState.CREATED) throw new ClosedError(`worker ${this.hostname} (${this.#state})`);
    this.#setState(WorkerState.STARTING);
    const log = this.#host.log;
    try {
      const signing = this.#host.signing();
      if (signing?.require && !signing.signer) {
        throw new ConfigError(
          "signing.require",
          "this worker checks signatures but has no key to sign the retries, deferred tasks and canvas follow-ups it publishes " +
            "(other workers would dead-letter them); set signing.hmacKey or signing.ed25519Seed (CELERIAC_SIGNING_KEY / CELERIAC_SIGNING_SEED)",
        );
      }
      const [broker, backend] = await Promise.all([this.#host.broker(), this.#host.backend()]);
      for (const q of this.options.queues) await broker.ensureQueue(q);
      const cfg = this.#host.config;
      this.#executor = new Executor({
        tasks: this.#host.tasks,
        backend,
        hostname: this.hostname,
        log,
        resultExtended: cfg.resultExtended,
        onReceived: (job) => {
          if (job.task && !job.task.options.acksLate) job.delivery.ack();
          if (this.#emitter.has("task-received")) this.#emitter.emit("task-received", this.#event(job));
        },
        onStarted: (job) => {
          if (this.#emitter.has("task-started")) this.#emitter.emit("task-started", this.#event(job));
        },
        signing,
        maxMessageBytes: this.options.maxMessageBytes,
      });
      this.#settler = new Settler({
        broker,
        backend,
        producer: this.#host.producer,
        hostname: this.hostname,
        log,
        resultExtended: cfg.resultExtended,
        onSettled: (job, outcome, state) => this.#onSettled(job, outcome, state),
      });
      await this.#startActors(broker);
      if (this.options.mover) {
        this.#actors.push(supervise("mover", moverActor({
          broker,
          names: cfg.names,
          log,
          holder: `${this.hostname}:${pid()}`,
          leaseMs: MOVER_LEASE_MS,
          report: (err) => this.#report(err),
        }), { onCrash: (err) => this.#report(err as Error) }));
      }
      this.#startTicker(cfg.broker.ackWaitMs);
      this.#startedAt = Date.now();
      this.#setState(WorkerState.RUNNING);
    } catch (err) {
      this.#setState(WorkerState.FAILED);
      await Promise.all(this.#actors.map((a) => a.stop()));
      throw err;
    }
  }

  async #startActors(broker: Broker): Promise<void> {
    const ready = new Map<string, () => void>();
    const firstBound = this.options.queues.map((q) => new Promise<void>((r) => ready.set(q, r)));
    let firstCrash: ((err: unknown) => void) | null = null;
    const crashedEarly = new Promise<never>((_, reject) => (firstCrash = reject));
    crashedEarly.catch(() => {});
    for (const queue of this.options.queues) {
      const actor = supervise(`queue ${queue}`, queueActor(queue, {
        broker,
        slots: this.#slots,
        dispatch: (d) => this.#dispatch(d),
        exhausted: (ex) => void this.#settler!.exhausted(ex),
        report: (err) => this.#report(err),
        ready: (q) => ready.get(q)?.(),
      }), {
        onCrash: (err, delay) => {
          if (this.#state === WorkerState.STARTING) firstCrash?.(err);
          this.#report(err as Error);
          this.#host.log.warn(`queue ${queue} consumer stopped (${(err as Error).message}); restarting in ${delay}ms`);
        },
      });
      this.#actors.push(actor);
    }
    await Promise.race([Promise.all(firstBound), crashedEarly]);
  }

  /** Sends in-progress signals for tasks running longer than a third of ack_wait. */
  #startTicker(ackWaitMs: number): void {
    const every = Math.max(200, Math.floor(ackWaitMs / 3));
    this.#ticker = setInterval(() => {
      const before = Date.now() - every;
      for (const job of this.#inFlight) if (job.receivedAt < before && !job.abandoned) job.delivery.working();
    }, every);
  }

  #report(err: Error): void {
    this.#emitter.emit("error", err);
  }

  #dispatch(delivery: Delivery): void {
    const job = newJob(delivery);
    this.#inFlight.add(job);
    void this.#process(job);
  }

  async #process(job: Job): Promise<void> {
    try {
      const outcome = await this.#executor!.execute(job);
      await this.#settler!.settle(job, outcome);
    } catch (err) {
      // execute and settle do not throw; if they ever do, the message is redelivered.
      this.#host.log.error("unexpected error while processing a message", err);
    } finally {
      this.#inFlight.delete(job);
      this.#slots.finished(job.queue);
      if (this.#inFlight.size === 0) this.#idle?.();
    }
  }

  #onSettled(job: Job, outcome: Outcome, state: string | null): void {
    this.#processed++;
    const log = this.#host.log;
    const runtime = "runtimeMs" in outcome ? outcome.runtimeMs : undefined;
    const m = job.message;
    if (outcome.kind === "success") {
      if (log.enabledFor("info")) log.info(`Task ${m?.task}[${m?.id}] succeeded in ${((runtime ?? 0) / 1000).toFixed(6)}s`);
    } else if (outcome.kind === "failure" && state === "FAILURE") {
      log.error(`Task ${m?.task}[${m?.id}] raised`, outcome.error);
    } else if (outcome.kind === "revoked" && log.enabledFor("info")) {
      log.info(`Task ${m?.task}[${m?.id}] revoked: ${outcome.reason}`);
    }
    if (this.#emitter.has("task-settled")) {
      const reason = outcome.kind === "reject" || outcome.kind === "revoked"
        ? outcome.reason
        : outcome.kind === "failure"
        ? String((outcome.error as Error)?.message ?? outcome.error)
        : undefined;
      this.#emitter.emit("task-settled", this.#event(job, { state: state ?? outcome.kind, runtimeMs: runtime, reason }));
    }
  }

  /**
   * Warm shutdown: stop pulling, let running tasks finish within the grace period, then hand the
   * rest back (nak, redelivered at once elsewhere). Idempotent.
   */
  stop(opts: StopOptions = {}): Promise<void> {
    const graceMs = opts.grace === undefined ? this.options.gracePeriodMs : opts.grace * 1000;
    if (this.#stopping) {
      if (graceMs === 0) this.#cutGrace?.(); // a second signal: cold shutdown now
      return this.#stopping;
    }
    this.#stopping = this.#drain(graceMs);
    return this.#stopping;
  }

  async #drain(graceMs: number): Promise<void> {
    if (this.#state === WorkerState.CREATED || this.#state === WorkerState.FAILED) {
      this.#setState(WorkerState.STOPPED);
      return;
    }
    this.#setState(WorkerState.DRAINING);
    this.#slots.close();
    await Promise.all(this.#actors.map((a) => a.stop()));
    if (this.#inFlight.size > 0) {
      this.#host.log.info(`waiting up to ${graceMs / 1000}s for ${this.#inFlight.size} running task(s)`);
      const idle = new Promise<void>((r) => (this.#idle = r));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const graceOver = new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
        this.#cutGrace = r;
      });
      await Promise.race([idle, graceOver]);
      clearTimeout(timer);
    }
    for (const job of this.#inFlight) {
      job.abandoned = true;
      job.abort.abort(new ClosedError(`worker ${this.hostname}`));
      job.delivery.nak();
      this.#host.log.warn(`handed back ${job.message?.task ?? "?"}[${job.message?.id ?? job.delivery.seq}]`);
    }
    this.#inFlight.clear();
    if (this.#ticker) clearInterval(this.#ticker);
    this.#setState(WorkerState.STOPPED);
  }

  /** Seconds since start. */
  get uptime(): number {
    return this.#startedAt ? (Date.now() - this.#startedAt) / 1000 : 0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
