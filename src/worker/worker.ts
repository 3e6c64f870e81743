/**
 * The worker: hosts one queue actor per queue, the executor pool (slots), the in-progress ticker,
 * and a named lifecycle: created → starting → running → draining → stopped (or failed).
 *
 * Consume path: queue actor (pull what you can run) → executor (one task to its outcome) →
 * settle (outcome → result, notice, follow-up, ack). See docs/architecture.md.
 */
import type { Broker, Delivery } from "../broker/types.ts";
import { Emitter, type Events } from "../emitter.ts";
import { supervise, type Supervised } from "../actor.ts";
import { type CompiledWorkerOptions, compileWorkerOptions, type WorkerOptions } from "./options.ts";
import { SlotPool } from "./slots.ts";
import type { Executor } from "./executor.ts";
import type { Settler } from "./settle.ts";
import { GlobalRates } from "./global-rate.ts";
import { KeyPermits } from "./permits.ts";
import { PauseWatch } from "./paused.ts";
import { QueueActors } from "./queues.ts";
import { Job, type Outcome } from "./job.ts";
import { logSettled, settledTaskEvent } from "./report.ts";
import { ClosedError, ConfigError } from "../errors.ts";
import { moverActor } from "../schedule/mover.ts";
import { pid } from "../runtime/mod.ts";
import { activeTracer, withContext } from "../tracing.ts";
import { endSpan, settleSpan, traceDelivery } from "./traced.ts";
import { Admission, admitInTurn } from "./admission.ts";
import { TaskObservers } from "./observe.ts";
import type { RemoteWorker } from "./remote.ts";
import { type Services, type ServicesHost, startServices } from "./services.ts";
import { Revocations } from "./revocations.ts";
import { sendNotice } from "./notice.ts";
import { hasHooks, type HookDeps, taskRevoked, taskSettled, taskStarting } from "./hooks.ts";
import { type ContextDeps, RunningTask } from "./context.ts";
import { Signal } from "../signals.ts";
import { State } from "../states.ts";
import { checkQueueName } from "../options.ts";
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "../log.ts";
import { type StopOptions, type WorkerEvents, type WorkerHost, WorkerState } from "./types.ts";
import type { TaskPool } from "./pool/mod.ts";
import { pipeline } from "./pipeline.ts";
import { isPoolChild } from "../runtime/children.ts";
import { Autoscaler } from "./autoscale.ts";

/** Time to live of the delayed-task mover's lease: a dead mover is replaced within it. */
const MOVER_LEASE_MS = 5_000;

export { WorkerState };
export type { StopOptions, TaskEvent, WorkerEvents, WorkerHost } from "./types.ts";

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
  #pauses: PauseWatch | null = null;
  #permits: KeyPermits | null = null;
  #globalRates = new GlobalRates((e) => this.#report(e));
  #executor: Executor | null = null;
  #settler: Settler | null = null;
  #hooks: HookDeps | null = null;
  /** The worker's logger (its `logger` option, or the app's). */
  readonly #log: Logger;
  #pool: TaskPool | null = null;
  #autoscaler: Autoscaler | null = null;
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #idle: (() => void) | null = null;
  #cutGrace: (() => void) | null = null;
  #processed = 0;
  #startedAt = 0;
  #queues: QueueActors;
  #connected = true;
  #concurrency: number;
  #revocations: Revocations;
  #admission: Admission;
  #obs = new TaskObservers();
  #totals = new Map<string, number>();
  #tracing: boolean;
  #links: boolean;
  #broker: Broker | null = null;
  #services: Services | null = null;
  #offStatus: (() => void) | null = null;

  constructor(host: WorkerHost, options: WorkerOptions = {}) {
    this.#host = host;
    this.options = compileWorkerOptions(options, host.config.defaultQueue);
    this.hostname = this.options.hostname;
    this.#log = this.options.logger ?? host.log;
    this.#emitter = new Emitter((err) => this.#log.error("a worker event listener failed", err));
    this.#slots = new SlotPool(this.options.concurrency, this.options.queues);
    this.#queues = new QueueActors(this.options.queues, {
      slots: this.#slots,
      log: this.#log,
      dispatch: (d) => this.#dispatch(d),
      exhausted: (ex) => void this.#settler!.exhausted(ex),
      report: (err) => this.#report(err),
    });
    this.#concurrency = this.options.concurrency;
    this.#revocations = new Revocations({
      config: host.config,
      log: this.#log,
      settleTerminated: async (job) => {
        await this.#settler!.settleTerminated(job);
      },
      release: (job) => this.#release(job),
      kill: (job) => this.#pool?.kill(job) ?? false,
    });
    const revoked = this.#revocations.ids;
    this.#admission = new Admission({
      maxHeld: () => Math.max(1, Math.floor(this.#concurrency / 4)),
      isRevoked: (job) => job.terminated || revoked.has(job.message.id),
    });
    this.#tracing = host.config.tracing.enabled;
    this.#links = host.config.tracing.links;
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

  /** Queues consumed now. */
  get queues(): readonly string[] {
    return this.#queues.queues;
  }

  /** Slots now (pool-grow / pool-shrink change it). */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** Whether task events are being sent. */
  get taskEvents(): boolean {
    return this.#obs.taskEvents;
  }

  /** The health server's port, once started with `healthPort`. */
  get healthPort(): number | null {
    return this.#services?.healthPort ?? null;
  }

  #setState(s: WorkerState): void {
    this.#state = s;
    this.#emitter.emit("state", s);
  }

  /**
   * Connects, provisions every queue, and resolves once all queues are consuming. A stop() called
   * meanwhile waits for this to finish (or fail), then shuts down what it started.
   */
  start(): Promise<void> {
    if (this.#state !== WorkerState.CREATED) return Promise.reject(new ClosedError(`worker ${this.hostname} (${this.#state})`));
    if (isPoolChild()) {
      // The app module is loaded by each child of a process or threads pool: starting a worker
      // there would start children of its own, without end.
      return Promise.reject(
        new ConfigError(
          "appModule",
          "a worker cannot start inside a pool child: this module starts a worker when imported; guard the start with isPoolChild() or keep the tasks in a module of their own",
        ),
      );
    }
    this.#setState(WorkerState.STARTING);
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const log = this.#log;
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
      this.#broker = broker;
      for (const q of this.#queues.queues) await broker.ensureQueue(q);
      const cfg = this.#host.config;
      // Mingle: revocations made while this worker was not running still hold.
      await this.#revocations.sync(broker);
      // Likewise a queue paused before this worker started stays held off.
      this.#pauses = new PauseWatch({ broker, bucket: cfg.names.pausedBucket, queues: this.#queues, report: (e) => this.#report(e) });
      await this.#pauses.syncAtStart(cfg.broker.publishTimeoutMs);
      this.#offStatus = broker.onStatus((s) => this.#onBrokerStatus(s));
      const contextDeps: ContextDeps = {
        backend,
        hostname: this.hostname,
        log: this.#log,
        resultExtended: cfg.resultExtended,
        notify: (replyTo, id, state, bytes) => sendNotice({ broker, backend }, replyTo, id, state, bytes),
      };
      const hooks: HookDeps = this.#hooks = {
        signals: this.#host.signals,
        log: this.#log,
        hostname: this.hostname,
        context: (job) => new RunningTask(job, contextDeps),
      };
      this.#globalRates.use(backend);
      const permits = this.#permits = new KeyPermits({ backend, leaseMs: cfg.broker.ackWaitMs, report: (e) => this.#report(e) });
      const p = pipeline({
        host: this.#host,
        options: this.options,
        broker,
        backend,
        signing,
        log: this.#log,
        notify: contextDeps.notify,
        obs: this.#obs,
        emitter: this.#emitter,
        isRevoked: (id) => this.#revocations.ids.has(id),
        // Per worker, then cluster-wide, then the key's permit: each only when the task has it.
        admit: (job) =>
          admitInTurn(job, this.#admission.admit(job), this.#globalRates.rateOf(job.task) ? this.#globalRates : null, permits),
        started: (job) => taskStarting(hooks, job),
        onSettled: (job, outcome, state) => this.#onSettled(job, outcome, state),
      });
      [this.#pool, this.#executor, this.#settler] = [p.pool, p.executor, p.settler];
      await p.pool.start();
      await this.#queues.start(broker);
      this.#services = await startServices(this.#servicesHost(broker));
      if (this.options.mover) {
        this.#actors.push(supervise(
          "mover",
          moverActor({
            broker,
            names: cfg.names,
            log,
            holder: `${this.hostname}:${pid()}`,
            leaseMs: MOVER_LEASE_MS,
            report: (err) => this.#report(err),
          }),
          { onCrash: (err) => this.#report(err as Error) },
        ));
      }
      this.#startTicker(cfg.broker.ackWaitMs);
      this.#pauses.start();
      if (this.options.autoscale) this.#autoscale(this.options.autoscale.max, this.options.autoscale.min);
      this.#startedAt = Date.now();
      this.#setState(WorkerState.RUNNING);
      this.#host.signals.fire(Signal.WORKER_READY, { hostname: this.hostname });
    } catch (err) {
      this.#setState(WorkerState.FAILED);
      this.#offStatus?.();
      await Promise.all([...this.#actors.map((a) => a.stop()), this.#queues.stopAll()]);
      await Promise.all([this.#services?.stop(), this.#pool?.stop()]);
      throw err;
    }
  }

  /** Sends in-progress signals for tasks running longer than a third of ack_wait. */
  #startTicker(ackWaitMs: number): void {
    const every = Math.max(200, Math.floor(ackWaitMs / 3));
    this.#ticker = setInterval(() => {
      const before = Date.now() - every;
      for (const job of this.#inFlight) if (job.receivedAt < before && !job.abandoned) job.delivery.working();
      this.#permits?.renew();
    }, every);
  }

  #report(err: Error): void {
    this.#emitter.emit("error", err);
  }

  #dispatch(delivery: Delivery): void {
    const tracer = this.#tracing ? activeTracer() : null;
    if (tracer !== null) {
      this.#dispatchTraced(tracer, delivery);
      return;
    }
    const job = new Job(delivery);
    this.#inFlight.add(job);
    void this.#process(job);
  }

  /** Runs the job inside its CONSUMER span, so what the task (and settle) sends is its child. */
  #dispatchTraced(tracer: Tracer, delivery: Delivery): void {
    const t = traceDelivery(tracer, delivery, this.#host.config.names.durable(delivery.queue), this.#links);
    const job = new Job(t.delivery, t.trace);
    this.#inFlight.add(job);
    void withContext(t.trace.context, () => this.#process(job));
  }

  async #process(job: Job): Promise<void> {
    try {
      const outcome = await this.#executor!.execute(job);
      // Undefined for a terminated task (settled as REVOKED already: what it did after is dropped).
      const state = await this.#settler!.settle(job, outcome);
      // Hooks run once the outcome is settled, within the task's slot (checked first: most
      // tasks have none, and an await per task is measurable).
      if (state !== undefined && hasHooks(this.#hooks!, job)) await taskSettled(this.#hooks!, job, outcome, state);
      // A handler the pool could not stop keeps its slot until it returns (never more than -c at once).
      if (outcome.kind === "failure" && outcome.lingering) await outcome.lingering;
    } catch (err) {
      // execute and settle do not throw; if they ever do, the message is redelivered.
      this.#log.error("unexpected error while processing a message", err);
    } finally {
      this.#release(job);
      const trace = job.takeTrace();
      if (trace) endSpan(trace, job.message);
    }
  }

  /** Frees a job's slot, once (a terminated job is released before its handler returns). */
  #release(job: Job): void {
    if (!this.#inFlight.delete(job)) return;
    this.#permits?.forget(job); // settled or not, its permit (if any) is no longer renewed here
    this.#slots.finished(job.queue);
    if (this.#inFlight.size === 0) this.#idle?.();
  }

  #onSettled(job: Job, outcome: Outcome, state: string | null): void {
    this.#permits?.release(job);
    this.#processed++;
    const name = job.message?.task;
    if (name !== undefined) this.#totals.set(name, (this.#totals.get(name) ?? 0) + 1);
    if (job.trace) settleSpan(job.trace, outcome, state);
    if (state === State.REVOKED) taskRevoked(this.#hooks!, job, outcome);
    if (this.#obs.observed) this.#obs.settled(job, outcome, state);
    logSettled(this.#log, this.hostname, job, outcome, state);
    if (this.#emitter.has("task-settled")) this.#emitter.emit("task-settled", settledTaskEvent(job, outcome, state));
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
    // Stopping half-way through a start would miss what the start is still creating (consumers,
    // services, the mover): let it finish, or fail and clean up after itself, first.
    if (this.#state === WorkerState.STARTING) await this.#starting?.catch(() => {});
    if (this.#state === WorkerState.CREATED || this.#state === WorkerState.FAILED) {
      this.#setState(WorkerState.STOPPED);
      return;
    }
    this.#setState(WorkerState.DRAINING);
    this.#autoscaler?.stop();
    this.#slots.close();
    await Promise.all([...this.#actors.map((a) => a.stop()), this.#queues.stopAll()]);
    if (this.#inFlight.size > 0) {
      this.#log.info(`waiting up to ${graceMs / 1000}s for ${this.#inFlight.size} running task(s)`);
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
      job.abandon(new ClosedError(`worker ${this.hostname}`));
      job.delivery.nak();
      this.#log.warn(`handed back ${job.message?.task ?? "?"}[${job.message?.id ?? job.delivery.seq}]`);
    }
    this.#inFlight.clear();
    await this.#pool?.stop();
    if (this.#ticker) clearInterval(this.#ticker);
    this.#pauses?.stop();
    this.#offStatus?.();
    // Heartbeats and control last through the grace period; worker-offline is the last word.
    await this.#services?.stop();
    this.#setState(WorkerState.STOPPED);
    await this.#host.signals.emit(Signal.WORKER_SHUTDOWN, { hostname: this.hostname });
  }

  #onBrokerStatus(s: "disconnected" | "reconnected"): void {
    this.#connected = s === "reconnected";
    if (s !== "reconnected" || !this.#broker) return;
    const metrics = this.#services?.metrics;
    if (metrics) metrics.reconnects++;
    // A revoke broadcast while we were cut off was lost; its KV entry was not.
    this.#revocations.sync(this.#broker).catch((err) => this.#report(err as Error));
    this.#pauses?.sync().catch((err) => this.#report(err as Error));
    // Copies of finished tasks may come back looking new (see checkEveryDeliveryFor): for as long
    // as a producer's retry is deduplicated, or a redelivery takes, look before running.
    const b = this.#host.config.broker;
    this.#executor?.checkEveryDeliveryFor(Math.max(b.duplicateWindowMs, 2 * b.ackWaitMs));
  }

  async #addConsumer(queue: string): Promise<void> {
    checkQueueName(queue, "queue");
    if (this.#state !== WorkerState.RUNNING) throw new ClosedError(`worker ${this.hostname} (${this.#state})`);
    const n = this.#queues.queues.length + 1;
    if (this.#concurrency < n) throw new ConfigError("queue", `${this.#concurrency} slots cannot serve ${n} queues; pool-grow first`);
    await this.#queues.add(this.#broker!, queue);
  }

  /** Changes the number of slots, and of children in a process or threads pool. */
  #resize(n: number): void {
    this.#slots.resize(n);
    this.#pool?.resize(n);
    this.#concurrency = n;
  }

  /** Starts autoscaling between `min` and `max` slots, or changes the bounds (the `autoscale` command). */
  #autoscale(max: number, min: number): { max: number; min: number } {
    if (!this.#autoscaler) {
      this.#autoscaler = new Autoscaler(
        {
          log: this.#host.log,
          concurrency: () => this.#concurrency,
          running: () => this.#inFlight.size,
          floor: () => this.#queues.queues.length,
          resize: (n) => this.#resize(n),
          waiting: async () => {
            const all = await Promise.all(this.#queues.queues.map((q) => this.#broker!.queueStats(q)));
            return all.reduce((n, s) => n + s.pending, 0);
          },
        },
        { max, min },
        this.options.autoscaleKeepaliveMs,
      );
      if (this.#state === WorkerState.RUNNING || this.#state === WorkerState.STARTING) this.#autoscaler.start();
    }
    this.#autoscaler.update(max, min);
    return this.#autoscaler.bounds;
  }

  #remote(): RemoteWorker {
    const names = this.#host.config.names;
    return {
      hostname: this.hostname,
      pid: pid(),
      tasks: this.#host.tasks,
      totals: this.#totals,
      revoked: this.#revocations.ids,
      admission: this.#admission,
      globalRates: this.#globalRates,
      transport: this.#broker?.description ?? "",
      concurrency: () => this.#concurrency,
      active: () => this.#inFlight.size,
      processed: () => this.#processed,
      uptime: () => this.uptime,
      clock: () => this.#services?.clock ?? 0,
      peers: () => this.#services?.peers() ?? {},
      jobs: () => this.#inFlight,
      queues: () => [...this.#queues.queues],
      durable: (q) => names.durable(q),
      revoke: (ids, terminate) => this.#revocations.revoke(ids, terminate, this.#inFlight),
      shutdown: () => void this.stop(),
      resize: (n) => this.#resize(n),
      autoscale: (max, min) => this.#autoscale(max, min),
      pool: () => ({ kind: this.options.pool, children: this.#pool?.children() ?? [] }),
      addConsumer: (q) => this.#addConsumer(q),
      cancelConsumer: (q) => this.#queues.cancel(q),
      pauseQueue: (q) => this.#queues.pause(q),
      resumeQueue: (q) => this.#queues.resume(this.#broker!, q),
      paused: () => [...this.#queues.paused],
      setEvents: (on) => this.#obs.setTaskEvents(on),
    };
  }

  #servicesHost(broker: Broker): ServicesHost {
    const cfg = this.#host.config;
    return {
      broker,
      config: cfg,
      options: this.options,
      log: this.#log,
      remote: this.#remote(),
      observers: this.#obs,
      events: this.options.events ?? cfg.workerSendTaskEvents,
      report: (err: Error) => this.#report(err),
      live: () => this.#state !== WorkerState.FAILED && this.#state !== WorkerState.STOPPED,
      ready: () => ({ connected: this.#connected, running: this.#state === WorkerState.RUNNING, unbound: this.#queues.unbound() }),
    };
  }

  /** Seconds since start. */
  get uptime(): number {
    return this.#startedAt ? (Date.now() - this.#startedAt) / 1000 : 0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
