/**
 * A tasks module as users write one; the type tests import its types (and only its types, for
 * the typed client). Never run.
 */
import { Celeriac } from "celeriac";

export const app = new Celeriac({ name: "types", brokerUrl: "memory://", resultBackend: "memory://" });

export interface Invoice {
  id: string;
  total: number;
  issued: Date;
}

export const add = app.task("add", (a: number, b: number) => a + b);
export const double = app.task("double", (n: number) => n * 2);
export const greet = app.task({ name: "greet", bind: true }, (_ctx, name: string, punct = "!") => `hi ${name}${punct}`);
export const sum = app.task("sum", (xs: number[]) => xs.reduce((a, b) => a + b, 0));
// deno-lint-ignore require-await -- an async handler on purpose: its result type is unwrapped
export const total = app.task("invoice.total", async (inv: Invoice) => ({ id: inv.id, cents: Math.round(inv.total * 100) }));
export const ping = app.task("ping", () => "pong" as const);
export const describe = app.task("describe", (pair: [number, string]) => pair.join(":"));

/** Not a task: the typed client ignores other exports. */
export const notATask = 42;
