/**
 * Type tests of the calling surface: checked by `tsc -p .` (`npm run check`), never run. Each
 * `@ts-expect-error` line must fail to compile — if it ever compiles, tsc reports the unused
 * directive and the check fails.
 */
import { type AsyncResult, chain, chord, group, type GroupResult } from "celeriac";
import { add, app, describe, double, greet, ping, sum, total } from "./tasks.ts";

/** True when X and Y are the same type. */
type Equals<X, Y> = (<T>() => T extends X ? 1 : 2) extends (<T>() => T extends Y ? 1 : 2) ? true : false;
/** Compiles only when `T` is `true`. */
function expect<T extends true>(): void {}
void expect;

export async function calling(): Promise<void> {
  const r = await add.delay(2, 3);
  expect<Equals<typeof r, AsyncResult<number>>>();
  const five = await r.get({ timeout: 1 });
  expect<Equals<typeof five, number>>();
  // @ts-expect-error a two-argument task needs its arguments
  await add.applyAsync();
  // @ts-expect-error wrong argument type
  await add.delay(2, "3");
  // @ts-expect-error too few arguments
  await add.delay(2);
  await add.applyAsync([2, 3], { countdown: 1 });
  // @ts-expect-error wrong argument list
  await add.applyAsync(["2", 3]);
  await ping.applyAsync();
  const p = await ping.delay();
  expect<Equals<typeof p, AsyncResult<"pong">>>();
  const g = await greet.delay("ann");
  expect<Equals<typeof g, AsyncResult<string>>>();
  const t = await total.delay({ id: "i1", total: 9.5, issued: new Date() });
  const cents = await t.get();
  expect<Equals<typeof cents, { id: string; cents: number }>>();
  // the untyped escape hatch stays untyped
  const u = await app.sendTask("anything", [1, 2]);
  expect<Equals<typeof u, AsyncResult<unknown>>>();
}

export function registering(): void {
  // @ts-expect-error a function cannot be sent as an argument
  app.task("cb", (fn: () => void) => fn());
  // @ts-expect-error a symbol cannot be sent as an argument
  app.task("sym", (s: symbol) => String(s));
  // @ts-expect-error a function nested in an argument cannot be sent either
  app.task("nested", (o: { id: string; onDone: () => void }) => o.id);
  // @ts-expect-error nor can a result that is a function
  app.task("makeFn", () => () => 1);
  // @ts-expect-error …or a bound task's argument
  app.task({ name: "boundCb", bind: true }, (_ctx, fn: () => void) => fn());
  // Dates, byte arrays, bigints, maps, sets, interfaces and unions travel.
  app.task("fine", (d: Date, b: Uint8Array, o: { a?: number | null; tags: string[] }) => ({ d, b, o }));
  app.task("collections", (m: Map<string, bigint>, s: Set<number>) => new Map([...m].filter(([k]) => s.has(k.length))));
  // @ts-expect-error a map of functions cannot be sent
  app.task("fnMap", (m: Map<string, () => void>) => m.size);
  // @ts-expect-error a class instance with methods would arrive as a plain object
  app.task("instance", (u: URL) => u.href);
}

export function mapping(): void {
  const m = double.map([1, 2, 3]);
  expect<Equals<typeof m.__types, { readonly result: number[]; readonly takes: unknown[] } | undefined>>();
  // @ts-expect-error map's items are the task's one argument
  double.map(["x"]);
  // @ts-expect-error map needs a one-argument task
  add.map([1, 2]);
  add.starmap([[1, 2], [3, 4]]);
  // @ts-expect-error starmap's items are argument lists
  add.starmap([[1, "2"]]);
  add.chunks([[1, 2], [3, 4]], 1);
  // @ts-expect-error chunks' items are argument lists
  add.chunks([[1]], 1);
  describe.map([[1, "a"]]);
}

export async function canvas(): Promise<void> {
  const one = await add.s(1, 2).applyAsync();
  expect<Equals<typeof one, AsyncResult<number>>>();
  const partial = await add.s(1).delay(2);
  expect<Equals<typeof partial, AsyncResult<number>>>();
  const mapped = await double.map([1, 2]).applyAsync();
  expect<Equals<typeof mapped, AsyncResult<number[]>>>();
  const chunked = await add.chunks([[1, 2]], 1).applyAsync();
  expect<Equals<Awaited<ReturnType<typeof chunked.join>>, number[][]>>();
  add.s(1, 2).link(group(double.s(), double.s())).linkError(ping.si());

  const c = await chain(add.s(1, 2), double.s(), add.s(10)).applyAsync();
  expect<Equals<typeof c, AsyncResult<number>>>();
  const c2 = await chain(ping.s(), greet.s()).applyAsync();
  expect<Equals<typeof c2, AsyncResult<string>>>();
  const ci = await chain(add.s(1, 2), ping.si()).applyAsync();
  expect<Equals<typeof ci, AsyncResult<"pong">>>();
  // @ts-expect-error a chain needs a step
  chain();
  const steps = [double.s(1), double.s()];
  const spread = await chain(...steps).applyAsync();
  expect<Equals<typeof spread, AsyncResult<number>>>();
  // @ts-expect-error a step that takes no more arguments cannot take the previous result
  chain(add.s(1, 2), add.s(3, 4));
  // @ts-expect-error the previous result (a number) is not a name
  chain(add.s(1, 2), greet.s("x"), double.s());
  // @ts-expect-error sum takes a list, add returns a number
  chain(add.s(1, 2), sum.s());

  const gt = await group(add.s(1, 2), greet.s("ann")).applyAsync();
  expect<Equals<typeof gt, GroupResult<number | string, [number, string]>>>();
  const both = await gt.get();
  expect<Equals<typeof both, [number, string]>>();
  const ga = await group([1, 2, 3].map((n) => double.s(n))).applyAsync();
  const gaValues = await ga.get();
  expect<Equals<typeof gaValues, number[]>>();

  const ch = await chord([add.s(1, 1), add.s(2, 2)], sum.s()).applyAsync();
  expect<Equals<typeof ch, AsyncResult<number>>>();
  await chord(group(add.s(1, 1), add.s(2, 2)), sum.s()).applyAsync();
  // @ts-expect-error the body must take the header's results (a list), not a number
  chord([add.s(1, 1), add.s(2, 2)], double.s());
  // @ts-expect-error the header's results are numbers, greet takes a name
  chord([add.s(1, 1)], greet.s());
}

export function hooksAndSignals(): void {
  const log: unknown[] = [];
  // Handlers may return anything (an expression arrow); a promise is awaited.
  app.on("beforePublish", ({ headers }) => (headers["x-tenant-id"] = "acme"));
  // deno-lint-ignore require-await -- an async handler on purpose: it may return a promise
  app.on("taskFailure", async ({ ctx, error }) => log.push(ctx.id, error));
  app.task({ name: "hooked", onSuccess: (ctx, result) => log.push(ctx.id, result), afterReturn: async () => {} }, () => 1);
  // @ts-expect-error an unknown signal
  app.on("taskExploded", () => {});
  // @ts-expect-error a signal's payload is typed: taskSuccess has no error
  app.on("taskSuccess", ({ error }) => log.push(error));
}
