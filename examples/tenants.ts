/**
 * Multi-tenant context and error reporting with signals, no change to any task:
 *
 * - the producer runs each request in its tenant's context (`withTenant`); a `beforePublish`
 *   handler puts the tenant id in a header of every task sent from it — and of every task a task
 *   sends, from its parent's headers — so the id travels from producer to worker to child tasks;
 * - a `taskFailure` handler reports failures to an error tracker (Sentry's `captureException`
 *   shape), tagged with the task, the tenant and the worker.
 *
 * `test/integration/tenants.test.ts` runs it on NATS and Redis. With Sentry:
 * `instrument(app, { captureException: (e, c) => Sentry.captureException(e, c) })`.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Celeriac, type CeleriacOptions } from "celeriac";

/** The header that carries the tenant id. */
export const TENANT_HEADER = "x-tenant-id";

/** What an error tracker takes (Sentry's `captureException(error, { tags, extra })`). */
export interface ErrorTracker {
  captureException(error: unknown, context: { tags: Record<string, string>; extra: Record<string, unknown> }): void;
}

const tenant = new AsyncLocalStorage<string>();

/** Runs `fn` (a request handler, say) as tenant `id`: tasks it sends carry the id. */
export function withTenant<T>(id: string, fn: () => T): T {
  return tenant.run(id, fn);
}

/** Hangs tenant propagation and failure reporting on `app`; returns the function that removes them. */
export function instrument(app: Celeriac, tracker: ErrorTracker): () => void {
  const offs = [
    app.on("beforePublish", ({ headers, parent }) => {
      const id = tenant.getStore() ?? parent?.headers[TENANT_HEADER];
      if (id !== undefined && headers[TENANT_HEADER] === undefined) headers[TENANT_HEADER] = id;
    }),
    app.on("taskFailure", ({ ctx, error }) => {
      tracker.captureException(error, {
        tags: { task: ctx.name, tenant: ctx.headers[TENANT_HEADER] ?? "none", worker: ctx.hostname },
        extra: { id: ctx.id, args: ctx.args, retries: ctx.retries, rootId: ctx.rootId },
      });
    }),
  ];
  return () => offs.forEach((off) => off());
}

/** The tenant a running task works for (its header). */
export function tenantOf(ctx: { headers: Readonly<Record<string, string>> }): string | null {
  return ctx.headers[TENANT_HEADER] ?? null;
}

/** The example's app and tasks. */
export function createApp(options: CeleriacOptions = {}) {
  const app = new Celeriac({ name: "tenants", ...options });
  const notify = app.task({ name: "notify", bind: true }, (ctx, what: string) => `${tenantOf(ctx)}: ${what}`);
  const invoice = app.task({ name: "invoice", bind: true }, async (ctx, amount: number) => {
    // A child task: it gets the tenant from this task's headers, through beforePublish.
    const sent = await notify.delay(`invoice of ${amount}`);
    return { tenant: tenantOf(ctx), notice: sent.id };
  });
  const charge = app.task("charge", (amount: number) => {
    if (amount > 100) throw new RangeError(`amount ${amount} over the limit`);
    return amount;
  });
  return { app, tasks: { notify, invoice, charge } };
}
