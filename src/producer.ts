/**
 * Builds task messages and publishes them: routing, ids, lineage, expiry, dedup ids.
 * Both callers (`delay`, `applyAsync`, `sendTask`) and the worker (retries) publish through here.
 */
import type { Broker } from "./broker/types.ts";
import type { CompiledAppOptions } from "./options.ts";
import type { CompiledTaskOptions } from "./task-options.ts";
import {
  encodeTaskMessage,
  type Embed,
  Header,
  invalidUserHeader,
  msgIdFor,
  type SignatureData,
  type TaskMessage,
} from "./protocol/message.ts";
import { currentTask } from "./context.ts";
import { activeTracer, tracePublish } from "./tracing.ts";
import { checkQueueName } from "./options.ts";
import { InvalidArgumentError } from "./errors.ts";
import type { Signer } from "./security/signing.ts";

/** Options of `applyAsync` and `sendTask`. Durations in seconds. */
export interface ApplyOptions {
  /** Run no earlier than this many seconds from now. */
  countdown?: number;
  /** Run no earlier than this time (Date or epoch ms). */
  eta?: Date | number;
  /** Do not run after this: seconds from now, or a Date / epoch ms. */
  expires?: number | Date;
  /** Queue to send to; overrides the task's queue and the routes. */
  queue?: string;
  /** Accepted for Celery compatibility and carried in the message; JetStream delivers in order. */
  priority?: number;
  /** Use this id instead of a new UUID (a second send with the same id is dropped as a duplicate). */
  taskId?: string;
  /** Extra headers, readable by the task as `ctx.headers`. */
  headers?: Record<string, string>;
  /** Keyword arguments, readable by the task as `ctx.kwargs`. */
  kwargs?: Record<string, unknown>;
  /** Store no result and send no notice. */
  ignoreResult?: boolean;
  /** Signature(s) to call with the result on success (`task.s()`, or its data). */
  link?: Linkable | Linkable[];
  /** Signature(s) to call with the failed task's id and error on failure. */
  linkError?: Linkable | Linkable[];
  /** Hard and soft time limits (seconds), overriding the task's. */
  timeLimit?: number;
  softTimeLimit?: number;
  /** Explicit lineage (set by canvas and by the worker; normally taken from the running task). */
  parentId?: string;
  rootId?: string;
  groupId?: string;
  groupIndex?: number;
  /** Canvas: what runs after this task. */
  chain?: SignatureData[];
  chord?: SignatureData;
  /** Canvas: the size of the chord header this task belongs to. */
  chordSize?: number;
  /** Canvas: where result notices go, when not to this app (a follow-up sent by a worker). */
  replyTo?: string;
  /** Canvas: a worker's follow-up; workers run it only if no result exists yet (see docs/canvas.md). */
  once?: boolean;
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
}

function epochMs(v: Date | number, field: string): number {
  const ms = v instanceof Date ? v.getTime() : v;
  if (typeof ms !== "number" || !Number.isFinite(ms)) throw new InvalidArgumentError(field, "must be a Date or epoch ms");
  return ms;
}

/** A callback as `link` / `linkError` take it: a signature (`task.s()`), or its wire form. */
export type Linkable = SignatureData | { toJSON(): SignatureData };

function list(v: Linkable | Linkable[] | undefined, field: string): SignatureData[] | null {
  if (v === undefined) return null;
  return (Array.isArray(v) ? v : [v]).map((s) => {
    const d = typeof (s as { toJSON?: unknown })?.toJSON === "function" ? (s as { toJSON(): SignatureData }).toJSON() : s as SignatureData;
    if (typeof d?.task !== "string" || !Array.isArray(d.args)) throw new InvalidArgumentError(field, "must be signatures (task.s(...) or task.si(...))");
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
  build(taskName: string, args: unknown[], o: ApplyOptions, task: CompiledTaskOptions | undefined = this.#deps.taskOptions(taskName)): TaskMessage {
    if (!Array.isArray(args)) throw new InvalidArgumentError("args", "must be an array");
    if (o.kwargs !== undefined && (typeof o.kwargs !== "object" || o.kwargs === null || Array.isArray(o.kwargs))) {
      throw new InvalidArgumentError("kwargs", "must be an object");
    }
    if (o.headers !== undefined) {
      const bad = invalidUserHeader(o.headers);
      if (bad) throw new InvalidArgumentError("headers", bad);
    }
    const id = o.taskId ?? crypto.randomUUID();
    if (typeof id !== "string" || id === "" || /[\s]/.test(id)) throw new InvalidArgumentError("taskId", "must be a non-empty string without spaces");
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
    if (o.timeLimit !== undefined || o.softTimeLimit !== undefined) m.timelimit = [o.timeLimit ?? null, o.softTimeLimit ?? null];
    // Sent from inside a task (and not as that task's own follow-up): it is the task's child.
    if (parent && o.parentId === undefined) parent.addChild?.(id);
    return m;
  }

  /**
   * Publishes a message to its queue — or, when it has an ETA in the future, to the broker's
   * delayed store until then. Resolves once the broker stored it. `msgId` overrides the dedup id.
   */
  /**
   * Hands every publish to `send` instead of the broker: a pool child's tasks send through their
   * worker, which holds the connection.
   */
  delegate(send: (m: TaskMessage, msgId: string | null) => Promise<void>): void {
    this.#delegate = send;
  }

  async publish(m: TaskMessage, opts: { msgId?: string } = {}): Promise<void> {
    if (this.#delegate) return this.#delegate(m, opts.msgId ?? null);
    const broker = this.#broker ?? (this.#broker = await this.#deps.broker());
    const queue = m.queue ?? this.#deps.config().defaultQueue;
    // Noted before publishing: a fast worker's notice may arrive before the publish ack does.
    if (m.replyTo === this.#deps.replySubject()) this.#deps.published(m.id);
    const msgId = opts.msgId ?? msgIdFor(m.id, m.retries);
    // Traced: a PRODUCER span around the publish, its context injected before encoding (and so
    // before signing: the signature covers the trace headers as they travel).
    if (activeTracer()) await tracePublish(m, queue, () => this.#send(broker, queue, m, msgId));
    else await this.#send(broker, queue, m, msgId);
    this.#deps.sent?.(m, queue);
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
