/**
 * A registered task: its handler, its compiled options, and the calling verbs.
 */
import type { AsyncResult } from "./result.ts";
import type { ApplyOptions } from "./producer.ts";
import type { TaskContext } from "./context.ts";
import type { CompiledTaskOptions } from "./task-options.ts";
import type { BulkCall } from "./bulk.ts";
import { InvalidArgumentError } from "./errors.ts";
import { Signature, type SignatureApplier, taskSignatureData } from "./canvas/signature.ts";
import { chunksGroup, type Group, mapSignature, starmapSignature } from "./canvas/compose.ts";
import type { Drop, MapItem } from "./typing.ts";

/** A task handler without context. */
export type PlainHandler<A extends unknown[], R> = (...args: A) => R | Promise<R>;
/** A bound handler: receives the task context first. */
export type BoundHandler<A extends unknown[], R> = (ctx: TaskContext, ...args: A) => R | Promise<R>;

/** What a task needs from its app to send itself. */
export interface TaskSender extends SignatureApplier {
  sendTaskMessage<R>(name: string, args: unknown[], options: ApplyOptions, task?: CompiledTaskOptions): Promise<AsyncResult<R>>;
  sendMany<R>(calls: readonly BulkCall[]): Promise<AsyncResult<R>[]>;
}

/**
 * `applyAsync`'s parameters: the argument list may be left out only when the task takes no
 * required argument.
 */
export type ApplyArgs<A extends unknown[]> = [] extends A ? [args?: A, options?: ApplyOptions] : [args: A, options?: ApplyOptions];

/**
 * A task: call it with `delay` / `applyAsync`; a worker runs its handler. `A` are its arguments,
 * `R` its result, `N` its name (a literal type when registered with one, for typed clients).
 */
export class Task<A extends unknown[] = unknown[], R = unknown, N extends string = string> {
  /** The task's name on the wire. */
  readonly name: N;
  /** Compiled options. */
  readonly options: CompiledTaskOptions;
  /** The handler; bound handlers take the context first. */
  readonly handler: PlainHandler<A, R> | BoundHandler<A, R>;
  #sender: TaskSender;

  constructor(options: CompiledTaskOptions, handler: PlainHandler<A, R> | BoundHandler<A, R>, sender: TaskSender) {
    this.name = options.name as N;
    this.options = options;
    this.handler = handler;
    this.#sender = sender;
  }

  /** Sends the task with these arguments; resolves once the broker stored it. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.#sender.sendTaskMessage<R>(this.name, args, {}, this.options);
  }

  /** Sends the task with options (countdown, eta, expires, queue, taskId, headers, ...). */
  applyAsync(...[args, options = {}]: ApplyArgs<A>): Promise<AsyncResult<R>> {
    return this.#sender.sendTaskMessage<R>(this.name, args ?? [], options, this.options);
  }

  /**
   * Sends the task once per argument list, all with the same options, in one bulk publish
   * (see `app.sendMany`); resolves with the handles in order.
   */
  delayMany(argsList: A[], options: ApplyOptions = {}): Promise<AsyncResult<R>[]> {
    if (!Array.isArray(argsList)) return Promise.reject(new InvalidArgumentError("argsList", "must be an array of argument lists"));
    if (options.taskId !== undefined) {
      return Promise.reject(new InvalidArgumentError("taskId", "one id cannot name many tasks; use app.sendMany with an id per call"));
    }
    return this.#sender.sendMany<R>(argsList.map((args) => ({ task: this.name, args, options })));
  }

  /**
   * A signature with these (leading) arguments; a parent's result is appended when it runs in a
   * canvas. Its type remembers the arguments still missing, so `chain` and `chord` can check them.
   */
  s<P extends Partial<A>>(...args: P): Signature<R, Drop<A, Extract<P["length"], number>>> {
    return new Signature(taskSignatureData(this.name, args as unknown[]), this.#sender);
  }

  /** An immutable signature: the parent's result is not appended. */
  si(...args: A): Signature<R> {
    return new Signature(taskSignatureData(this.name, args as unknown[], { immutable: true }), this.#sender);
  }

  /**
   * One message that runs this task once per item (Celery's `map`); the result is the list of
   * results. Only for a task of one argument: each item is that argument.
   */
  map(items: readonly MapItem<A>[]): Signature<R[]> {
    return mapSignature(taskSignatureData(this.name, []), items as unknown[], this.#sender) as Signature<R[]>;
  }

  /** One message that runs this task once per argument list (Celery's `starmap`). */
  starmap(items: readonly A[]): Signature<R[]> {
    return starmapSignature(taskSignatureData(this.name, []), items as readonly unknown[] as unknown[][], this.#sender) as Signature<R[]>;
  }

  /** A group of tasks, each running `n` of the argument lists (Celery's `chunks`). */
  chunks(items: readonly A[], n: number): Group<R[]> {
    return chunksGroup(taskSignatureData(this.name, []), items as readonly unknown[] as unknown[][], n, this.#sender) as unknown as Group<
      R[]
    >;
  }

  /**
   * Runs the handler here, now, without a worker (Celery's `task(...)` call). `kwargs` are the
   * keyword arguments of this call (the message's, unless a caller such as `celery.map` runs the
   * task for another message): with the `kwargs` option they follow the positional arguments as
   * one object; a plain task without it refuses them, as Python refuses an unexpected keyword.
   */
  call(ctx: TaskContext, args: A, kwargs: Readonly<Record<string, unknown>> = ctx.kwargs): R | Promise<R> {
    let all: unknown[] = args;
    if (this.options.kwargs) all = [...args, { ...kwargs }];
    else if (!this.options.bind) refuseKwargs(this.name, kwargs);
    return this.options.bind
      ? (this.handler as BoundHandler<unknown[], R>)(ctx, ...all)
      : (this.handler as PlainHandler<unknown[], R>)(...all);
  }
}

/** Throws Python's TypeError for keyword arguments a task cannot receive (the message would lose them). */
function refuseKwargs(task: string, kwargs: Readonly<Record<string, unknown>>): void {
  for (const _ in kwargs) {
    throw new TypeError(
      `task ${task} got keyword arguments (${Object.keys(kwargs).join(", ")}) but takes none: ` +
        "register it with { kwargs: true } to receive them as a final object argument, or { bind: true } to read ctx.kwargs",
    );
  }
}
