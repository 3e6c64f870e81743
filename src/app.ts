/**
 * The app: task registry, configuration, connections, and the calling surface.
 */
import type { Broker } from "./broker/types.ts";
import type { ResultBackend } from "./backend/types.ts";
import { type CeleriacOptions, compileAppOptions, type CompiledAppOptions } from "./options.ts";
import { compileTaskOptions, type TaskOptions } from "./task-options.ts";
import { type BoundHandler, type PlainHandler, Task, type TaskSender } from "./task.ts";
import type { TaskContext } from "./context.ts";
import type { SendableHandler } from "./typing.ts";
import { Client, type TasksOf } from "./client.ts";
import { type Signal, type SignalHandler, Signals } from "./signals.ts";
import { AsyncResult, type ResultSource } from "./result.ts";
import { ResultHub } from "./result-hub.ts";
import { type ApplyOptions, Producer } from "./producer.ts";
import { buildAll, type BulkCall, claimDeduplication, publishInOrder } from "./bulk.ts";
import { createBackend, createBroker } from "./adapters.ts";
import { createLogger, type Logger } from "./log.ts";
import { Worker, type WorkerHost } from "./worker/worker.ts";
import type { WorkerOptions } from "./worker/options.ts";
import { ClosedError, ConfigError, InvalidArgumentError } from "./errors.ts";
import type { CompiledTaskOptions } from "./task-options.ts";
import { env, hostname, pid } from "./runtime/mod.ts";
import { Beat, type BeatHost } from "./schedule/beat.ts";
import type { BeatOptions } from "./schedule/entry.ts";
import { serializerFor } from "./protocol/codec.ts";
import type { SignatureData } from "./protocol/message.ts";
import { applySignature } from "./canvas/apply.ts";
import { traceApply } from "./tracing.ts";
import { ensureIds, nodeOf, setHandleId } from "./canvas/nodes.ts";
import { handleOf } from "./canvas/group-result.ts";
import { registerBuiltins } from "./canvas/builtins.ts";
import { asRecord } from "./protocol/result.ts";
import { Control, type ControlHost } from "./control/client.ts";
import { EventDispatcher } from "./events/dispatcher.ts";
import { TaskEventType } from "./events/event.ts";
import { callFields } from "./events/task-events.ts";
import type { TaskMessage } from "./protocol/message.ts";
import { loadSigning, type MessageSigning } from "./security/load.ts";

const APP_BRAND = Symbol.for("celeriac.app");

/** A celeriac app: define tasks, call them, run workers. */
export class Celeriac implements TaskSender, ResultSource, WorkerHost, BeatHost, ControlHost {
  /** True if `x` is a Celeriac app, also one from another copy of this module. */
  static isApp(x: unknown): x is Celeriac {
    return typeof x === "object" && x !== null && (x as Record<symbol, unknown>)[APP_BRAND] === true;
  }
  readonly [APP_BRAND] = true;
  #options: CeleriacOptions;
  #config: CompiledAppOptions | null = null;
  #tasks = new Map<string, Task>();
  #broker: Broker | null = null;
  #brokerReady: Promise<Broker> | null = null;
  #backend: ResultBackend | null = null;
  #backendReady: Promise<ResultBackend> | null = null;
  #hub: ResultHub | null = null;
  #producer: Producer;
  #clientId = crypto.randomUUID().replace(/-/g, "");
  #closed = false;
  #signing: MessageSigning | null | undefined;
  #role = "client";
  #control: Control | null = null;
  #sentEvents: EventDispatcher | null = null;
  #signals = new Signals(() => this.log);
  #delegated = false;
  /** The app's logger (the CLI sets its level with `-l`). */
  log: Logger = createLogger("warning");

  /** Validates `options` at once: a bad field throws ConfigError naming it. */
  constructor(options: CeleriacOptions = {}) {
    this.#options = { ...options };
    compileAppOptions(this.#options); // fail fast on what the code says; env is applied on first use
    this.#producer = new Producer({
      config: () => this.config,
      broker: () => this.broker(),
      replySubject: () => this.hub().replySubject,
      published: (id) => this.hub().published(id),
      origin: hostname(),
      taskOptions: (name) => this.#tasks.get(name)?.options,
      sent: (m, queue) => this.#sent(m, queue),
      signer: () => this.signing()?.signer ?? null,
      signals: this.#signals,
    });
    registerBuiltins(this);
  }

  /** The `task-sent` event (`taskSendSentEvent`), sent once the broker stored the task. */
  #sent(m: TaskMessage, queue: string): void {
    const cfg = this.config;
    if (!cfg.taskSendSentEvent || !this.#broker) return;
    if (!this.#sentEvents) {
      this.#sentEvents = new EventDispatcher(this.#broker, cfg.names, `${this.#role}@${hostname()}`);
      this.#broker.ensureEventStream(cfg.eventsMaxAgeMs).catch((err) => this.log.warn(`events stream: ${(err as Error).message}`));
    }
    this.#sentEvents.send(TaskEventType.SENT, callFields(m, queue));
  }

  /**
   * Adds a signal handler (Celery's signals): `beforePublish` (may add headers), `afterPublish`,
   * `taskPrerun`, `taskPostrun`, `taskSuccess`, `taskFailure`, `taskRetry`, `taskRevoked`,
   * `workerReady`, `workerShutdown`. Returns the function that removes it. See src/signals.ts.
   */
  on<S extends Signal>(signal: S, handler: SignalHandler<S>): () => void {
    return this.#signals.on(signal, handler);
  }

  /** @internal The app's signal hub (workers fire the task and worker signals through it). */
  get signals(): Signals {
    return this.#signals;
  }

  /** Remote control and inspection of workers (Celery's `app.control`). */
  get control(): Control {
    this.#control ??= new Control(this);
    return this.#control;
  }

  /** @internal Where this client's control replies arrive. */
  controlReplyPrefix(): string {
    return `${this.config.names.replySubject(this.#clientId)}.control`;
  }

  /** Revokes a task (what `AsyncResult.revoke()` calls). */
  async revoke(taskId: string, opts: { terminate?: boolean; signal?: string } = {}): Promise<void> {
    await this.control.revoke(taskId, { ...opts, timeout: 0 });
  }

  /** The compiled configuration (code + environment + overrides). Fixed once the app connects. */
  get config(): CompiledAppOptions {
    this.#config ??= compileAppOptions(this.#options, env);
    return this.#config;
  }

  /** The app name (namespace on the wire). */
  get name(): string {
    return this.config.name;
  }

  /** The publisher used by tasks and workers. */
  get producer(): Producer {
    return this.#producer;
  }

  /** Overrides options (the CLI's --broker, --result-backend, --name). Only before first use. */
  configure(overrides: Partial<CeleriacOptions>, opts: { role?: string } = {}): void {
    if (this.#brokerReady || this.#backendReady) {
      throw new ConfigError("configure", "the app is already connected; configure it before first use");
    }
    const merged = { ...this.#options, ...overrides };
    const compiled = compileAppOptions(merged, (name) => {
      // flags beat the environment: an overridden field ignores its variable
      if (name === "CELERIAC_BROKER_URL" && overrides.brokerUrl) return undefined;
      if (name === "CELERIAC_RESULT_BACKEND" && overrides.resultBackend) return undefined;
      if (name === "CELERIAC_NAME" && overrides.name) return undefined;
      return env(name);
    });
    this.#options = merged;
    this.#config = compiled;
    this.#signing = undefined;
    if (opts.role) this.#role = opts.role;
  }

  /** Registered tasks by name. */
  get tasks(): ReadonlyMap<string, Task> {
    return this.#tasks;
  }

  /** Defines a bound task that also takes the message's keyword arguments, as a last object. */
  task<const N extends string, A extends unknown[], K extends Record<string, unknown>, R>(
    options: TaskOptions & { name: N; bind: true; kwargs: true },
    fn: ((ctx: TaskContext, ...args: [...A, K]) => R | Promise<R>) & SendableHandler<A, R>,
  ): Task<A, Awaited<R>, N>;
  /** Defines a task that takes the message's keyword arguments as a last object (`kwargs: true`). */
  task<const N extends string, A extends unknown[], K extends Record<string, unknown>, R>(
    options: TaskOptions & { name: N; bind?: false; kwargs: true },
    fn: ((...args: [...A, K]) => R | Promise<R>) & SendableHandler<A, R>,
  ): Task<A, Awaited<R>, N>;
  /** Defines a bound task: the handler gets the context first. */
  task<const N extends string, A extends unknown[], R>(
    options: TaskOptions & { name: N; bind: true },
    fn: BoundHandler<A, R> & SendableHandler<A, R>,
  ): Task<A, Awaited<R>, N>;
  /**
   * Defines a task: `app.task("add", (a, b) => a + b)`, or with options. Its arguments and result
   * must be serialisable (a function or a symbol among them is a compile error). Last of the
   * overloads, so that the compiler's error for the common case is this one's.
   */
  task<const N extends string, A extends unknown[], R>(
    nameOrOptions: N | (TaskOptions & { name: N; bind?: false }),
    fn: PlainHandler<A, R> & SendableHandler<A, R>,
  ): Task<A, Awaited<R>, N>;
  task(nameOrOptions: string | TaskOptions, fn: (...args: never[]) => unknown): Task {
    const opts: TaskOptions = typeof nameOrOptions === "string" ? { name: nameOrOptions } : nameOrOptions;
    if (typeof fn !== "function") throw new InvalidArgumentError("fn", `task ${opts.name} needs a handler function`);
    const compiled = compileTaskOptions(opts, {
      acksLate: this.#options.acksLate ?? true,
      trackStarted: this.#options.trackStarted ?? false,
    });
    if (this.#tasks.has(compiled.name)) {
      throw new ConfigError("name", `task "${compiled.name}" is already registered in this app`);
    }
    const t = new Task(compiled, fn as PlainHandler<unknown[], unknown>, this);
    this.#tasks.set(compiled.name, t as Task);
    return t as Task;
  }

  /**
   * A typed producer for the tasks of module `M`, which is never loaded: pass its type,
   * `app.client<typeof import("./tasks.ts")>()`. Unknown names and wrong arguments do not compile.
   */
  client<M>(): Client<TasksOf<M>> {
    return new Client<TasksOf<M>>({
      tasks: this.#tasks,
      acksLate: this.#options.acksLate ?? true,
      sendTaskMessage: (name, args, options, task) => this.sendTaskMessage(name, args, options, task),
      applySignature: (data, extra) => this.applySignature(data, extra),
      sendMany: (calls) => this.sendMany(calls),
    });
  }

  /** Sends a task by name, without importing it: untyped (see {@link client} for the typed way). */
  sendTask<R = unknown>(name: string, args: unknown[] = [], options: ApplyOptions = {}): Promise<AsyncResult<R>> {
    if (typeof name !== "string" || name === "") throw new InvalidArgumentError("name", "must be a task name");
    return this.sendTaskMessage<R>(name, args, options, this.#tasks.get(name)?.options);
  }

  /**
   * Sends many tasks at once (BullMQ's `addBulk`): all are checked before any is sent, then
   * published back to back with their acknowledgements awaited together. Resolves with their
   * handles in the order of `calls`; equal-priority calls to one queue run in that order.
   */
  async sendMany<R = unknown>(calls: readonly BulkCall[]): Promise<AsyncResult<R>[]> {
    if (this.#closed) throw new ClosedError("app");
    const built = buildAll(calls, (name, args, options) => this.#producer.build(name, args, options, this.#tasks.get(name)?.options));
    const ids = built.map((m) => m.id);
    const claims = await claimDeduplication(calls, built, this.backend.bind(this), ids);
    const messages = built.filter((m, i) => ids[i] === m.id);
    const hub = this.hub();
    if (!hub.started && messages.some((m) => !m.ignoreResult)) await hub.start();
    const sent = new Set<string>();
    try {
      await publishInOrder(messages, (m) => this.#producer.publish(m).then(() => void sent.add(m.id)));
    } catch (err) {
      await Promise.all(claims.filter((c) => !sent.has(c.taskId)).map((c) => this.#backend?.dedupRelease(c.id, c.taskId).catch(() => {})));
      throw err;
    }
    return ids.map((id) => new AsyncResult<R>(id, this));
  }

  /** @internal Used by Task: builds, publishes, returns the handle. */
  sendTaskMessage<R>(
    name: string,
    args: unknown[],
    options: ApplyOptions,
    task?: CompiledTaskOptions,
  ): Promise<AsyncResult<R>> {
    try {
      if (this.#closed) throw new ClosedError("app");
      const message = this.#producer.build(name, args, options, task);
      if (options.deduplication || (!message.ignoreResult && !this.hub().started && !this.#delegated)) {
        return this.#sendFirstOrOnce<R>(message, options.deduplication);
      }
      // The common case without an async frame of its own: every task sent pays for one
      // (bench/delay-cpu.ts).
      return this.#producer.publish(message).then(() => new AsyncResult<R>(message.id, this));
    } catch (err) {
      return Promise.reject(err); // a bad option, say: rejected, as from an async function
    }
  }

  /** sendTaskMessage() when the result hub has yet to start, or with a deduplication id. */
  async #sendFirstOrOnce<R>(message: TaskMessage, dedup: ApplyOptions["deduplication"]): Promise<AsyncResult<R>> {
    if (dedup) {
      const holder = await (await this.backend()).dedupClaim(dedup.id, message.id, dedup.ttl * 1000);
      if (holder !== null) return new AsyncResult<R>(holder, this);
    }
    const hub = this.hub();
    if (!message.ignoreResult && !hub.started && !this.#delegated) await hub.start();
    try {
      await this.#producer.publish(message);
    } catch (err) {
      // Not sent: the id must not keep a later send from running.
      if (dedup) await this.#backend?.dedupRelease(dedup.id, message.id).catch(() => {});
      throw err;
    }
    return new AsyncResult<R>(message.id, this);
  }

  /**
   * @internal Applies a signature (plain or compound) and returns its handle: an AsyncResult, or a
   * GroupResult for a group. Used by `sig.applyAsync()`.
   */
  async applySignature(data: SignatureData, extra: { args?: unknown[]; options?: Record<string, unknown> } = {}): Promise<unknown> {
    if (this.#closed) throw new ClosedError("app");
    const { task_id, group_id, ...shared } = extra.options ?? {};
    if (data.subtask_type === null || data.subtask_type === undefined) {
      if (task_id !== undefined) data.options.task_id = task_id;
    } else {
      // `taskId` on a chain or chord (given here or with set()) names its handle's task.
      const own = task_id ?? data.options.task_id;
      delete data.options.task_id;
      if (own !== undefined) setHandleId(data, own as string);
      if (group_id !== undefined && data.subtask_type === "group") data.options.group_id = group_id;
    }
    ensureIds(data);
    const node = nodeOf(data);
    const hub = this.hub();
    if (!hub.started && !this.#delegated) await hub.start();
    const backend = await this.backend();
    const apply = () =>
      applySignature(data, {
        producer: this.#producer,
        chains: backend,
        args: extra.args,
        options: Object.keys(shared).length ? shared : undefined,
        replyTo: hub.replySubject,
      });
    // A compound one publishes several messages: under one span, so they are one trace.
    await (data.subtask_type ? traceApply(data.task, apply) : apply());
    return handleOf(node, this);
  }

  /** A handle on a task's result by id. */
  AsyncResult<R = unknown>(id: string): AsyncResult<R> {
    return new AsyncResult<R>(id, this);
  }

  /** Creates the periodic-task scheduler for this app's `beatSchedule` (start it with `beat.start()`). */
  beat(opts: Omit<BeatOptions, "holder"> & { holder?: string } = {}): Beat {
    const cfg = this.config;
    return new Beat(this, cfg.beatSchedule, { ...cfg.beat, ...opts, holder: opts.holder ?? `${hostname()}:${pid()}` });
  }

  /** Creates a worker (start it with `await worker.start()`). */
  /**
   * Internal (pool children): every message this app sends goes to `send` instead of the broker,
   * and no result listener is started. A `threads` or `process` pool child calls it, so tasks it
   * runs send through their worker's connection.
   */
  delegateSends(send: (m: TaskMessage, msgId: string | null) => Promise<void>): void {
    this.#delegated = true;
    this.#producer.delegate(send);
  }

  worker(options: WorkerOptions = {}): Worker {
    if (this.#role === "client") this.#role = "worker";
    return new Worker(this, options);
  }

  /**
   * @internal The keys this app signs and checks task messages with; null when signing is off.
   * Reads key files on the first call (a missing or bad file throws ConfigError naming its option).
   */
  signing(): MessageSigning | null {
    if (this.#signing === undefined) {
      const c = this.config.security.signing;
      this.#signing = c ? loadSigning(c) : null;
    }
    return this.#signing;
  }

  /** The connected broker. */
  broker(): Promise<Broker> {
    if (this.#closed) return Promise.reject(new ClosedError("app"));
    this.#brokerReady ??= (async () => {
      this.#broker = createBroker(this.config, `celeriac ${this.#role} ${hostname()}`);
      await this.#broker.connect();
      return this.#broker;
    })().catch((err) => {
      this.#brokerReady = null;
      throw err;
    });
    return this.#brokerReady;
  }

  /** The connected result backend. */
  backend(): Promise<ResultBackend> {
    if (this.#closed) return Promise.reject(new ClosedError("app"));
    this.#backendReady ??= (async () => {
      this.#backend = createBackend(this.config);
      await this.#backend.connect();
      return this.#backend;
    })().catch((err) => {
      this.#backendReady = null;
      throw err;
    });
    return this.#backendReady;
  }

  /** @internal The result waiter shared by every AsyncResult of this app. */
  hub(): ResultHub {
    const serializer = serializerFor(this.config.backend.serializer);
    this.#hub ??= new ResultHub(
      () => this.broker(),
      () => this.backend(),
      this.config.names.replySubject(this.#clientId),
      (bytes) => asRecord(serializer.decode(bytes)),
    );
    return this.#hub;
  }

  /** Loads signing keys and connects broker and backend now (otherwise on first use). */
  async connect(): Promise<void> {
    this.signing();
    await Promise.all([this.broker(), this.backend()]);
  }

  /** Closes connections. Workers should be stopped first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#hub?.close();
    const b = this.#brokerReady?.catch(() => null);
    const r = this.#backendReady?.catch(() => null);
    await Promise.all([(await b)?.close(), (await r)?.close()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
