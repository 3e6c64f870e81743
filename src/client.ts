/**
 * The typed producer: calls tasks by name, typed from the tasks module without importing its code.
 *
 * ```ts
 * const client = app.client<typeof import("./tasks.ts")>();
 * const r = await client.sendTask("add", [1, 2]);      // AsyncResult<number>
 * await client.task("add").s(1).delay(2);               // the calling verbs and signatures, typed
 * ```
 *
 * `typeof import(...)` is a type query: nothing of the tasks module is loaded at run time, so a
 * web server can call a worker's tasks without bundling their code or dependencies.
 */
import type { ApplyOptions } from "./producer.ts";
import type { AsyncResult } from "./result.ts";
import { type ApplyArgs, Task, type TaskSender } from "./task.ts";
import { compileTaskOptions } from "./task-options.ts";
import { InvalidArgumentError, NotRegisteredError } from "./errors.ts";

/** The tasks a module exports, by their names on the wire (other exports are left out). */
export type TasksOf<M> = {
  [K in keyof M as M[K] extends Task<infer _A, infer _R, infer N> ? N : never]: M[K];
};

/** A task's arguments. */
export type ArgsOf<T> = T extends Task<infer A, infer _R, infer _N> ? A : never;
/** A task's result. */
export type ResultOfTask<T> = T extends Task<infer _A, infer R, infer _N> ? R : never;

/** What a client can do with a task it knows only by type: call it and build signatures. */
export type RemoteTask<A extends unknown[], R, N extends string> = Pick<
  Task<A, R, N>,
  "name" | "delay" | "applyAsync" | "s" | "si" | "map" | "starmap" | "chunks"
>;

/** What a client needs from its app. */
export interface ClientHost extends TaskSender {
  readonly tasks: ReadonlyMap<string, Task>;
  readonly acksLate: boolean;
}

/** A typed producer over an app: see the module comment. Create it with `app.client<M>()`. */
export class Client<T> {
  #host: ClientHost;
  #stubs = new Map<string, Task>();

  constructor(host: ClientHost) {
    this.#host = host;
  }

  /** Sends task `name`; the arguments and the result are typed from the tasks module. */
  sendTask<N extends keyof T & string>(
    name: N,
    ...[args, options = {}]: ApplyArgs<ArgsOf<T[N]>>
  ): Promise<AsyncResult<ResultOfTask<T[N]>>> {
    const task = this.#task(name);
    return this.#host.sendTaskMessage<ResultOfTask<T[N]>>(task.name, (args ?? []) as unknown[], options as ApplyOptions, task.options);
  }

  /** The task `name`, to call (`delay`, `applyAsync`) or to build signatures from (`s`, `si`, `map`…). */
  task<N extends keyof T & string>(name: N): RemoteTask<ArgsOf<T[N]>, ResultOfTask<T[N]>, N> {
    return this.#task(name) as unknown as RemoteTask<ArgsOf<T[N]>, ResultOfTask<T[N]>, N>;
  }

  /**
   * The registered task when this process has it (its options route it), otherwise a stand-in
   * that routes by name like `app.sendTask` and cannot run here.
   */
  #task(name: string): Task {
    if (typeof name !== "string" || name === "") throw new InvalidArgumentError("name", "must be a task name");
    const own = this.#host.tasks.get(name);
    if (own) return own;
    let stub = this.#stubs.get(name);
    if (!stub) {
      const options = compileTaskOptions({ name }, { acksLate: this.#host.acksLate, trackStarted: false });
      stub = new Task(options, () => {
        throw new NotRegisteredError(name);
      }, this.#host);
      this.#stubs.set(name, stub);
    }
    return stub;
  }
}
