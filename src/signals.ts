/**
 * Signals: Celery's `before_task_publish`, `task_prerun`, `task_failure`… in TypeScript's idiom,
 * `app.on("taskFailure", ({ ctx, error }) => …)`. They are where error trackers, audit logs and
 * tenant context hang without touching each task.
 *
 * A handler may be async. Its error is logged and never changes what it observes: a publish still
 * happens, a task's result stays as it was. The exception is `beforePublish`, which runs before
 * the message exists on the wire: its handlers are awaited, may add headers, and a handler that
 * throws fails the publish (a producer that must attach auth context should not send without it).
 */
import type { TaskContext } from "./context.ts";
import type { Logger } from "./log.ts";
import { InvalidArgumentError } from "./errors.ts";

/** Signal names. */
export const Signal = {
  BEFORE_PUBLISH: "beforePublish",
  AFTER_PUBLISH: "afterPublish",
  TASK_PRERUN: "taskPrerun",
  TASK_POSTRUN: "taskPostrun",
  TASK_SUCCESS: "taskSuccess",
  TASK_FAILURE: "taskFailure",
  TASK_RETRY: "taskRetry",
  TASK_REVOKED: "taskRevoked",
  WORKER_READY: "workerReady",
  WORKER_SHUTDOWN: "workerShutdown",
} as const;
/** A signal name. */
export type Signal = typeof Signal[keyof typeof Signal];

/** A message about to be published (Celery's `before_task_publish`). */
export interface PublishSignal {
  /** The task name. */
  readonly task: string;
  /** The task id. */
  readonly id: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** The queue it goes to. */
  readonly queue: string;
  /** How many times it was retried before (a retry is published again). */
  readonly retries: number;
  /**
   * The message's headers, which the task reads as `ctx.headers`. In `beforePublish` a handler may
   * add to them (a tenant id, auth context); in `afterPublish` they are as sent.
   */
  readonly headers: Record<string, string>;
  /**
   * The task this one is sent from, when sent from inside a running task (its children): to pass
   * context such as a tenant id on from its headers. Null otherwise (also for the retries and
   * canvas steps a worker publishes, which keep the headers they were sent with).
   */
  readonly parent: { readonly id: string; readonly name: string; readonly headers: Readonly<Record<string, string>> } | null;
}

/** The payloads, by signal. */
export interface SignalPayloads {
  beforePublish: PublishSignal;
  afterPublish: Readonly<PublishSignal>;
  /** The task is about to run (its handler is called right after the handlers are called). */
  taskPrerun: { readonly ctx: TaskContext };
  /** The task ran and its outcome is settled: `state` is SUCCESS, FAILURE or RETRY. */
  taskPostrun: { readonly ctx: TaskContext; readonly state: string; readonly result?: unknown; readonly error?: unknown };
  taskSuccess: { readonly ctx: TaskContext; readonly result: unknown };
  taskFailure: { readonly ctx: TaskContext; readonly error: unknown };
  taskRetry: { readonly ctx: TaskContext; readonly error: unknown };
  /** Revoked before or while running (remote control, expiry); `terminated` when it was running. */
  taskRevoked: { readonly id: string; readonly name: string; readonly reason: string; readonly terminated: boolean };
  /** A worker is consuming. */
  workerReady: { readonly hostname: string };
  /** A worker has stopped (after its warm shutdown). */
  workerShutdown: { readonly hostname: string };
}

/** A handler of signal `S`; what it returns is ignored, except that a promise is awaited (not by `taskPrerun`). */
export type SignalHandler<S extends Signal> = (payload: SignalPayloads[S]) => unknown;

/** The signal hub of one app. */
export class Signals {
  #handlers = new Map<Signal, Set<SignalHandler<never>>>();
  #log: () => Logger;

  /** `log` receives handler errors. */
  constructor(log: () => Logger) {
    this.#log = log;
  }

  /** Adds a handler; returns the function that removes it. */
  on<S extends Signal>(signal: S, handler: SignalHandler<S>): () => void {
    if (!Object.values(Signal).includes(signal)) {
      throw new InvalidArgumentError("signal", `unknown signal ${JSON.stringify(signal)}; one of ${Object.values(Signal).join(", ")}`);
    }
    if (typeof handler !== "function") throw new InvalidArgumentError("handler", "must be a function");
    let set = this.#handlers.get(signal);
    if (!set) this.#handlers.set(signal, set = new Set());
    set.add(handler as SignalHandler<never>);
    return () => set.delete(handler as SignalHandler<never>);
  }

  /** True if `signal` has handlers (lets the hot path skip building payloads). */
  has(signal: Signal): boolean {
    return (this.#handlers.get(signal)?.size ?? 0) > 0;
  }

  /**
   * Calls the handlers one after the other, awaiting each; an error is logged and the next still
   * runs. Never throws.
   */
  async emit<S extends Signal>(signal: S, payload: SignalPayloads[S]): Promise<void> {
    const set = this.#handlers.get(signal);
    if (!set) return;
    for (const h of [...set]) {
      try {
        await (h as SignalHandler<S>)(payload);
      } catch (err) {
        this.#report(signal, err);
      }
    }
  }

  /**
   * Calls the handlers one after the other, awaiting each, and throws the first error (for
   * `beforePublish`, whose handlers must succeed for the publish to go ahead).
   */
  async emitStrict<S extends Signal>(signal: S, payload: SignalPayloads[S]): Promise<void> {
    const set = this.#handlers.get(signal);
    if (!set) return;
    for (const h of [...set]) await (h as SignalHandler<S>)(payload);
  }

  /**
   * Calls every handler now, synchronously, without waiting for the promises async ones return
   * (their errors are logged). Never throws.
   */
  fire<S extends Signal>(signal: S, payload: SignalPayloads[S]): void {
    const set = this.#handlers.get(signal);
    if (!set) return;
    for (const h of [...set]) {
      try {
        const p = (h as SignalHandler<S>)(payload) as PromiseLike<unknown> | undefined;
        if (p && typeof p.then === "function") p.then(undefined, (err) => this.#report(signal, err));
      } catch (err) {
        this.#report(signal, err);
      }
    }
  }

  #report(signal: Signal, err: unknown): void {
    try {
      this.#log().error(`a ${signal} signal handler failed`, err);
    } catch {
      // logging must never break the caller
    }
  }
}
