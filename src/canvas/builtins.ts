/**
 * Built-in tasks every app registers, as Celery does: `celery.map` and `celery.starmap` run a task
 * once per item inside one message (the worker looks the task up by name and calls it in order);
 * `celery.accumulate` is the body the canvas gives a group that must report as one result (a chain
 * step, a member of a chord's header). Names under `celery.` are left out of worker listings.
 */
import type { SignatureData } from "../protocol/message.ts";
import type { TaskContext } from "../context.ts";
import type { Task } from "../task.ts";
import { NotRegisteredError } from "../errors.ts";

/** What the built-ins need from their app: its tasks by name, and registering a bound task. */
export interface BuiltinHost {
  readonly tasks: ReadonlyMap<string, Task>;
  task(options: { name: string; bind: true }, handler: (ctx: TaskContext, ...args: unknown[]) => unknown): unknown;
}

function target(app: BuiltinHost, ctx: TaskContext): { call(args: unknown[]): unknown; base: unknown[]; items: unknown[] } {
  const { task, it } = ctx.kwargs as { task: SignatureData; it: unknown[] };
  const t = app.tasks.get(task?.task);
  if (!t) throw new NotRegisteredError(String(task?.task));
  // The mapped task's own keyword arguments are the signature's, not this message's ({ task, it }).
  return { call: (args) => t.call(ctx, args as never, task.kwargs ?? {}), base: task.args ?? [], items: it ?? [] };
}

/** Registers the built-in tasks on `app`. */
export function registerBuiltins(app: BuiltinHost): void {
  app.task({ name: "celery.map", bind: true }, async (ctx) => {
    const { call, base, items } = target(app, ctx);
    const out: unknown[] = [];
    for (const item of items) out.push(await call([...base, item]));
    return out;
  });
  app.task({ name: "celery.starmap", bind: true }, async (ctx) => {
    const { call, base, items } = target(app, ctx);
    const out: unknown[] = [];
    for (const args of items as unknown[][]) out.push(await call([...base, ...args]));
    return out;
  });
  // Celery's accumulate: `args[index]`, or all its args without an index.
  app.task({ name: "celery.accumulate", bind: true }, (ctx, ...args: unknown[]) => {
    const index = (ctx.kwargs as { index?: unknown }).index;
    return typeof index === "number" ? args[index] : args;
  });
}
