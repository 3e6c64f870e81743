/**
 * Builds task messages and publishes them: routing, ids, lineage, expiry, dedup ids.
 * Both callers (`delay`, `applyAsync`, `sendTask`) and the worker (retries) publish through here.
 */
import type { Broker } from "./broker/types.ts";
import type { CompiledAppOptions } from "./options.ts";
import type { CompiledTaskOptions } from "./task-options.ts";
import {
  type Embed,
  encodeTaskMessage,
  Header,
  invalidPriority,
  invalidUserHeader,
  msgIdFor,
  type SignatureData,
  type TaskMessage,
} from "./protocol/message.ts";
import { currentTask } from "./context.ts";
import { activeTracer, tracePublish } from "./tracing.ts";
import { checkQueueName } from "./names.ts";
import type { ApplyOptions, Deduplication, Linkable } from "./apply-options.ts";
import { InvalidArgumentError } from "./errors.ts";
import type { Signer } from "./security/signing.ts";
import { type PublishSignal, Signal, type Signals } from "./signals.ts";

export type { ApplyOptions, Deduplication, Linkable };

/** Checks the `deduplication` option, naming the bad field. */
export function checkDeduplication(d: unknown): Deduplication | undefined {
  if (d === undefined) return undefined;
  if (typeof d !== "object" || d === null) throw new InvalidArgumentError("deduplication", "must be { id, ttl }");
  const { id, ttl } = d as Record<string, unknown>;
  if (typeof id !== "string" || id === "") {
    throw new InvalidArgumentError("deduplication.id", `must be a non-empty string, got ${JSON.stringify(id)}`);
  }
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0) {
    throw new InvalidArgumentError("deduplication.ttl", `must be a positive number of seconds, got ${JSON.stringify(ttl)}`);
  }
  return { id, ttl };
}

/** What the producer needs from its app. */
export interface ProducerDeps {
  config(): CompiledAppOptions;
  broker(): Promise<Broker>;
  /** Reply subject for result notices, and a hook to note what this client published. */
  replySubject(): string;
  published(taskId: string): void;
  origin: string;
  /** The options of a task registered in this app, for routing by name. */
  taskOptions(name: string): CompiledTaskOptions | undefined;
  /** Called after each message the broker stored (the `task-sent` event); absent when not wanted. */
  sent?(m: TaskMessage, queue: string): void;
  /** The key to sign messages with, or null when this app does not sign (reads key files once). */
  signer(): Signer | null;
  /** The app's signals (`beforePublish`, `afterPublish`); absent for a producer without an app. */
  signals?: Signals;
}

function epochMs(v: Date | number, field: string): number {
  const ms = v instanceof Date ? v.getTime() : v;
  if (typeof ms !== "number" || !Number.isFinite(ms)) throw new InvalidArgumentError(field, "must be a Date or epoch ms");
  return ms;
}

function list(v: Linkable | Linkable[] | undefined, field: string): SignatureData[] | null {
  if (v === undefined) return null;
  return (Array.isArray(v) ? v : [v]).map((s) => {
    const d = typeof (s as { toJSON?: unknown })?.toJSON === "function" ? (s as { toJSON(): SignatureData }).toJSON() : s as SignatureData;
    if (typeof d?.task !== "string" || !Array.isArray(d.args)) {
      throw new InvalidArgumentError(field, "must be signatures (task.s(...) or task.si(...))");
    }
    return d;
  });
}

/** Publishes task messages for one app. */
export class Producer {
  #deps: ProducerDeps;
  #broker: Broker | null = null;
  #delegate: ((m: TaskMessage, msgId: string | null) => Promise<void>) | null = null;

  constructor(deps: ProducerDeps) {
    this.#deps = deps;
  }

  /** Picks the queue: explicit option > the task's queue > routes > default (Celery's order). */
  route(taskName: string, explicit: string | undefined, task: CompiledTaskOptions | undefined): string {
    const cfg = this.#deps.config();
    if (explicit !== undefined) return checkQueueName(explicit, "queue");
    return task?.queue ?? cfg.route(taskName) ?? cfg.defaultQueue;
  }

  /** Builds the message for a call. */
  build(
    taskName: string,
    args: unknown[],
    o: ApplyOptions,
    task: CompiledTaskOptions | undefined = this.#deps.taskOptions(taskName),
  ): TaskMessage {
    if (!Array.isArray(args)) throw new InvalidArgumentError("args", "must be an array");
    if (o.kwargs !== undefined && (typeof o.kwargs !== "object" || o.kwargs === null || Array.isArray(o.kwargs))) {
      throw new InvalidArgumentError("kwargs", "must be an object");
    }
    if (o.headers !== undefined) {
      const bad = invalidUserHeader(o.headers);
      if (bad) throw new InvalidArgumentError("headers", bad);
    }
    checkDeduplication(o.deduplication);
    const priority = o.priority ?? task?.priority ?? 0;
    const badPriority = invalidPriority(priority);
    if (badPriority) throw new InvalidArgumentError("priority", badPriority);
    const id = o.taskId ?? crypto.randomUUID();
    if (typeof id !== "string" || id === "" || /[\s]/.test(id)) {
      throw new InvalidArgumentError("taskId", "must be a non-empty string without spaces");
    }
    const now = Date.now();
    let eta: number | undefined;
    if (o.countdown !== undefined) {
      if (typeof o.countdown !== "number" || !Number.isFinite(o.countdown)) throw new InvalidArgumentError("countdown", "must be seconds");
      eta = now + o.countdown * 1000;
    }
    if (o.eta !== undefined) eta = epochMs(o.eta, "eta");
    let expires: number | undefined;
    if (o.expires !== undefined) {
      expires = typeof o.expires === "number" && o.expires < 1e11 ? now + o.expires * 1000 : epochMs(o.expires, "expires");
    } else if (task?.expiresMs !== undefined) {
      expires = now + task.expiresMs;
    }
    const parent = currentTask.getStore();
    const queue = this.route(taskName, o.queue, task);
    const ignoreResult = o.ignoreResult ?? task?.ignoreResult ?? false;
    const embed: Embed | null = o.link || o.linkError || o.chain || o.chord
      ? { callbacks: list(o.link, "link"), errbacks: list(o.linkError, "linkError"), chain: o.chain ?? null, chord: o.chord ?? null }
      : null;
    const m: TaskMessage = {
      id,
      task: taskName,
      args,
      kwargs: o.kwargs ?? {},
      embed,
      retries: 0,
      eta,
      expires,
      rootId: o.rootId ?? parent?.rootId,
      parentId: o.parentId ?? parent?.id,
      group: o.groupId,
      groupIndex: o.groupIndex,
      origin: this.#deps.origin,
      ignoreResult,
      replyTo: ignoreResult ? undefined : o.replyTo ?? this.#deps.replySubject(),
      queue,
      headers: o.once ? { ...o.headers, [Header.ONCE]: "1" } : o.headers,
      chordSize: o.chordSize,
    };
    if (priority > 0) m.priority = priority;
    if (o.concurrencyKey !== undefined) {
      if (typeof o.concurrencyKey !== "string" || o.concurrencyKey === "") {
        throw new InvalidArgumentError("concurrencyKey", `must be a non-empty string, got ${JSON.stringify(o.concurrencyKey)}`);
      }
      if (task && task.keyConcurrency === null) {
        throw new InvalidArgumentError("concurrencyKey", `task ${taskName} has no keyConcurrency: the key would limit nothing`);
      }
      m.concurrencyKey = o.concurrencyKey;
    }
    if (o.timeLimit !== undefined || o.softTimeLimit !== undefined) m.timelimit = [o.timeLimit ?? null, o.softTimeLimit ?? null];
    // Sent from inside a task (and not as that task's own follow-up): it is the task's child.
    if (parent && o.parentId === undefined) parent.addChild?.(id);
    return m;
  }

  /**
   * Hands every publish to `send` instead of the broker: a pool child's tasks send through their
   * worker, which holds the connection.
   */
  delegate(send: (m: TaskMessage, msgId: string | null) => Promise<void>): void {
    this.#delegate = send;
  }

  /**
   * Publishes a message to its queue — or, when it has an ETA in the future, to the broker's
   * delayed store until then. Resolves once the broker stored it. `msgId` overrides the dedup id.
   */
  publish(m: TaskMessage, opts: { msgId?: string } = {}): Promise<void> {
    if (this.#delegate) return this.#delegate(m, opts.msgId ?? null);
    const broker = this.#broker;
    const signals = this.#deps.signals;
    if (!broker || activeTracer() || signals?.has(Signal.BEFORE_PUBLISH) || signals?.has(Signal.AFTER_PUBLISH)) {
      return this.#publishSlowly(m, opts.msgId);
    }
    // The common case without an async frame of its own: every task sent pays for one
    // (bench/delay-cpu.ts).
    try {
      const queue = m.queue ?? this.#deps.config().defaultQueue;
      if (m.replyTo === this.#deps.replySubject()) this.#deps.published(m.id);
      return this.#send(broker, queue, m, opts.msgId ?? msgIdFor(m.id, m.retries)).then(() => this.#deps.sent?.(m, queue));
    } catch (err) {
      return Promise.reject(err); // an unencodable argument, say: rejected, as from an async function
    }
  }

  /** publish() with everything: the first connect, publish signals, a PRODUCER span. */
  async #publishSlowly(m: TaskMessage, msgIdGiven: string | undefined): Promise<void> {
    const broker = this.#broker ?? (this.#broker = await this.#deps.broker());
    const queue = m.queue ?? this.#deps.config().defaultQueue;
    // Noted before publishing: a fast worker's notice may arrive before the publish ack does.
    if (m.replyTo === this.#deps.replySubject()) this.#deps.published(m.id);
    const msgId = msgIdGiven ?? msgIdFor(m.id, m.retries);
    const signals = this.#deps.signals;
    const signal = signals?.has(Signal.BEFORE_PUBLISH) || signals?.has(Signal.AFTER_PUBLISH) ? publishSignal(m, queue) : null;
    if (signal) await beforePublish(signals!, m, signal);
    // Traced: a PRODUCER span around the publish, its context injected before encoding (and so
    // before signing: the signature covers the trace headers as they travel).
    if (activeTracer()) await tracePublish(m, queue, () => this.#send(broker, queue, m, msgId));
    else await this.#send(broker, queue, m, msgId);
    this.#deps.sent?.(m, queue);
    if (signal) signals!.fire(Signal.AFTER_PUBLISH, signal);
  }

  #send(broker: Broker, queue: string, m: TaskMessage, msgId: string): Promise<unknown> {
    const wire = encodeTaskMessage(m);
    const signer = this.#deps.signer();
    if (signer) {
      // The broker sends `msgId` as Nats-Msg-Id; the signature covers the header as it will travel.
      wire.headers[Header.MSG_ID] = msgId;
      signer.sign(wire);
    }
    return m.eta !== undefined && m.eta > Date.now()
      ? broker.publishDelayed(queue, wire, msgId, m.eta)
      : broker.publish(queue, wire, msgId);
  }
}

/** The `beforePublish` / `afterPublish` payload; its `headers` are the message's own. */
function publishSignal(m: TaskMessage, queue: string): PublishSignal {
  const p = currentTask.getStore();
  const parent = p && p.id !== m.id ? { id: p.id, name: p.name ?? "", headers: p.headers ?? {} } : null;
  // A copy: the caller's headers object (a shared constant, say) must not collect what handlers add.
  const headers = m.headers = { ...m.headers };
  return { task: m.task, id: m.id, args: m.args, kwargs: m.kwargs, queue, retries: m.retries, headers, parent };
}

/**
 * Runs the `beforePublish` handlers (awaited; one that throws fails the publish) and checks the
 * headers they added, as `applyAsync({ headers })` would.
 */
async function beforePublish(signals: Signals, m: TaskMessage, signal: PublishSignal): Promise<void> {
  const before = new Map(Object.entries(signal.headers));
  await signals.emitStrict(Signal.BEFORE_PUBLISH, signal);
  const added: Record<string, string> = {};
  for (const [k, v] of Object.entries(signal.headers)) if (before.get(k) !== v) added[k] = v;
  for (const k of before.keys()) {
    if (!(k in signal.headers)) {
      throw new InvalidArgumentError("headers", `a beforePublish handler removed header "${k}" of task ${m.task}[${m.id}]`);
    }
  }
  const bad = invalidUserHeader(added);
  if (bad) throw new InvalidArgumentError("headers", `${bad} (set by a beforePublish handler)`);
}
