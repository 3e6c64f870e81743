/**
 * The context a bound task receives. A class (not an object of closures): one is made per task,
 * and its methods and lazy parts cost nothing until a task uses them.
 */
import type { Context } from "@opentelemetry/api";
import type { ResultBackend } from "../backend/types.ts";
import { type Logger, taskLogger } from "../log.ts";
import type { TaskMessage } from "../protocol/message.ts";
import { makeRecord } from "../protocol/result.ts";
import { PROGRESS_STATE } from "../states.ts";
import type { RetryOptions, TaskContext } from "../context.ts";
import type { TaskState } from "../states.ts";
import { Retry } from "../errors.ts";
import { type KnownJob, recordExtras } from "./job.ts";

/** What every context of one worker shares. */
export interface ContextDeps {
  backend: ResultBackend;
  hostname: string;
  log: Logger;
  resultExtended: boolean;
  /** Sends a result notice (the stored record's bytes) to a caller's reply subject. */
  notify(replyTo: string, id: string, state: TaskState, bytes: Uint8Array): void;
}

/**
 * What a task's context reads from its message: shared by the worker's context (below) and a
 * pool child's (src/worker/pool/child.ts).
 */
export abstract class MessageView {
  readonly #m: TaskMessage;

  constructor(message: TaskMessage) {
    this.#m = message;
  }

  /** The task's message, for subclasses. */
  protected get message(): TaskMessage {
    return this.#m;
  }

  get id(): string {
    return this.#m.id;
  }
  get name(): string {
    return this.#m.task;
  }
  get args(): readonly unknown[] {
    return this.#m.args;
  }
  get kwargs(): Readonly<Record<string, unknown>> {
    return this.#m.kwargs;
  }
  get retries(): number {
    return this.#m.retries;
  }
  get rootId(): string {
    return this.#m.rootId ?? this.#m.id;
  }
  get parentId(): string | undefined {
    return this.#m.parentId;
  }
  get groupId(): string | undefined {
    return this.#m.group;
  }
  get groupIndex(): number | undefined {
    return this.#m.groupIndex;
  }
  get headers(): Readonly<Record<string, string>> {
    return this.#m.headers ?? {};
  }
}

/** The context of one running task. */
export class RunningTask extends MessageView implements TaskContext {
  readonly #job: KnownJob;
  readonly #deps: ContextDeps;
  #log: Logger | null = null;

  constructor(job: KnownJob, deps: ContextDeps) {
    super(job.message);
    this.#job = job;
    this.#deps = deps;
  }

  get hostname(): string {
    return this.#deps.hostname;
  }
  get queue(): string {
    return this.#job.queue;
  }
  get deliveryCount(): number {
    return this.#job.delivery.deliveryCount;
  }
  get signal(): AbortSignal {
    return this.#job.abort.signal;
  }
  /** The task's CONSUMER span context when traced (tasks it sends hang from it). */
  get traceContext(): Context | undefined {
    return this.#job.trace?.context;
  }
  get log(): Logger {
    this.#log ??= taskLogger(this.#deps.log, this.name, this.id, this.#deps.hostname);
    return this.#log;
  }

  async updateState(state: TaskState, meta?: unknown): Promise<void> {
    // Terminated: REVOKED is (being) stored, and a handler that ignores its signal must not replace it.
    if (this.#job.terminated) throw this.#job.abort.signal.reason;
    const m = this.message;
    if (this.#job.settling) {
      // From a hook, or a call the handler did not await: the outcome is being stored, and a
      // state written now would replace it.
      this.log.warn(`updateState(${state}) ignored: task ${m.id} has finished`);
      return;
    }
    const extras = recordExtras(m, this.#job.queue, this.#deps.hostname, this.#deps.resultExtended);
    const backend = this.#deps.backend;
    // Encoded once: the stored bytes are the caller's progress event (as for results, see settle).
    const bytes = backend.encode(makeRecord(m.id, state, meta ?? null, extras));
    const stored = await backend.storeEncoded(m.id, state, bytes);
    // Stored first, so a caller that reads the backend on the event sees at least this state.
    if (stored === "stored" && m.replyTo && !m.ignoreResult) this.#deps.notify(m.replyTo, m.id, state, bytes);
  }

  progress(value: unknown): Promise<void> {
    return this.updateState(PROGRESS_STATE, value);
  }

  /** Lineage hook: the producer records tasks sent from inside this one. */
  addChild(id: string): void {
    this.#job.addChildren([id]);
  }

  retry(opts: RetryOptions = {}): Retry {
    return new Retry({
      countdown: opts.countdown,
      eta: opts.eta instanceof Date ? opts.eta.getTime() : opts.eta,
      exc: opts.exc,
      maxRetries: opts.maxRetries,
    });
  }
}
