/**
 * A registered task: its handler, its compiled options, and the calling verbs.
 */
import type { AsyncResult } from "./result.ts";
import type { ApplyOptions } from "./producer.ts";
import type { TaskContext } from "./context.ts";
import type { CompiledTaskOptions } from "./task-options.ts";

/** A task handler without context. */
export type PlainHandler<A extends unknown[], R> = (...args: A) => R | Promise<R>;
/** A bound handler: receives the task context first. */
export type BoundHandler<A extends unknown[], R> = (ctx: TaskContext, ...args: A) => R | Promise<R>;

/** What a task needs from its app to send itself. */
export interface TaskSender {
  sendTaskMessage<R>(name: string, args: unknown[], options: ApplyOptions, task?: CompiledTaskOptions): Promise<AsyncResult<R>>;
}

/** A task: call it with `delay` / `applyAsync`; a worker runs its handler. */
export class Task<A extends unknown[] = unknown[], R = unknown> {
  /** The task's name on the wire. */
  readonly name: string;
  /** Compiled options. */
  readonly options: CompiledTaskOptions;
  /** The handler; bound handlers take the context first. */
  readonly handler: PlainHandler<A, R> | BoundHandler<A, R>;
  #sender: TaskSender;

  constructor(options: CompiledTaskOptions, handler: PlainHandler<A, R> | BoundHandler<A, R>, sender: TaskSender) {
    this.name = options.name;
    this.options = options;
    this.handler = handler;
    this.#sender = sender;
  }

  /** Sends the task with these arguments; resolves once the broker stored it. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.#sender.sendTaskMessage<R>(this.name, args, {}, this.options);
  }

  /** Sends the task with options (countdown, eta, expires, queue, taskId, headers, ...). */
  applyAsync(args?: A, options: ApplyOptions = {}): Promise<AsyncResult<R>> {
    return this.#sender.sendTaskMessage<R>(this.name, args ?? [], options, this.options);
  }

  /** Runs the handler here, now, without a worker (Celery's `task(...)` call). */
  call(ctx: TaskContext, args: A): R | Promise<R> {
    return this.options.bind
      ? (this.handler as BoundHandler<A, R>)(ctx, ...args)
      : (this.handler as PlainHandler<A, R>)(...args);
  }
}
