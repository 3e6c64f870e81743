/**
 * The async pool: handlers run in the worker's own event loop. The cheapest pool for I/O-bound
 * tasks, and the only one that cannot stop a task: a promise cannot be killed, and synchronous
 * code holds the loop (heartbeats, `working()` and control wait for it). So at a hard time limit
 * the task fails with TimeLimitExceeded and its `ctx.signal` aborts, but its slot stays taken
 * until the handler really returns: the worker never runs more than its concurrency. CPU-bound
 * or untrusted code belongs in the `process` or `threads` pool.
 */
import type { Task } from "../../task.ts";
import type { TaskMessage } from "../../protocol/message.ts";
import type { Logger } from "../../log.ts";
import { currentTask } from "../../context.ts";
import { ErrorCode, hasCode, type Retry, SoftTimeLimitExceeded, TimeLimitExceeded } from "../../errors.ts";
import { type ContextDeps, RunningTask } from "../context.ts";
import type { Outcome } from "../job.ts";
import type { ChildInfo, TaskCall, TaskPool } from "./types.ts";

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Calls a task's handler (a named function, so no closure is made per task). */
function callTask(task: Task, ctx: RunningTask, args: unknown[]): unknown {
  return task.call(ctx, args as never);
}

function invoke(task: Task, ctx: RunningTask, args: unknown[]): Promise<Settled> {
  try {
    // The context doubles as the lineage (id, rootId) that tasks sent from the handler inherit.
    const v = currentTask.run(ctx, callTask, task, ctx, args);
    return Promise.resolve(v).then((value) => ({ ok: true, value }), (error) => ({ ok: false, error }));
  } catch (error) {
    return Promise.resolve({ ok: false, error });
  }
}

/** The outcome of a handler, run on `message`, that threw `error`. */
export function errorOutcome(message: TaskMessage, error: unknown, runtimeMs: number): Outcome {
  if (hasCode(error, ErrorCode.RETRY)) return { kind: "retry", message, retry: error as Retry, runtimeMs };
  if (hasCode(error, ErrorCode.REJECT)) {
    const e = error as Error & { requeue?: boolean };
    return { kind: "reject", message, reason: `rejected by the task: ${e.message}`, requeue: Boolean(e.requeue) };
  }
  return { kind: "failure", message, error, runtimeMs };
}

/** Runs handlers in the event loop. */
export class AsyncPool implements TaskPool {
  readonly kind = "async";
  #deps: ContextDeps & { log: Logger };

  constructor(deps: ContextDeps) {
    this.#deps = deps;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  async run(call: TaskCall): Promise<Outcome> {
    const { job, hardMs, softMs } = call;
    const { task, message: m } = job;
    const ctx = new RunningTask(job, this.#deps);
    const soft = softMs ? setTimeout(() => job.abort.abort(new SoftTimeLimitExceeded(softMs / 1000)), softMs) : undefined;
    let hard: ReturnType<typeof setTimeout> | undefined;
    const limit = hardMs ? new Promise<"limit">((r) => (hard = setTimeout(() => r("limit"), hardMs))) : null;
    const started = performance.now();
    const settled = invoke(task, ctx, m.args);
    try {
      const first = limit ? await Promise.race([settled, limit]) : await settled;
      const runtimeMs = performance.now() - started;
      if (job.abandoned) return { kind: "abandoned" };
      // Past the limit: whether the timer fired, or synchronous code held the loop beyond it.
      if (hardMs && (first === "limit" || runtimeMs > hardMs)) {
        const error = new TimeLimitExceeded(hardMs / 1000);
        job.abort.abort(error);
        if (first !== "limit") return { kind: "failure", message: m, error, runtimeMs };
        this.#deps.log.error(
          `Task ${m.task}[${m.id}] passed its hard time limit (${hardMs / 1000}s): failed, its signal aborted; ` +
            `the async pool cannot stop it, so its slot stays taken until it returns (run CPU-bound or untrusted code with -P process or -P threads)`,
        );
        return { kind: "failure", message: m, error, runtimeMs, lingering: settled.then(() => {}) };
      }
      const s = first as Settled;
      return s.ok ? { kind: "success", message: m, value: s.value, runtimeMs } : errorOutcome(m, s.error, runtimeMs);
    } finally {
      if (soft) clearTimeout(soft);
      clearTimeout(hard);
    }
  }

  kill(): boolean {
    return false;
  }

  resize(): void {}

  children(): ChildInfo[] {
    return [];
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}
