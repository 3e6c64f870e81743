/**
 * The pool benchmark's tasks module, loaded by the worker (`-A`) and by each of its children.
 * The app's name comes from CELERIAC_NAME (set per run by bench/pools.ts).
 */
import { Celeriac } from "celeriac";

export const app = new Celeriac({ resultKeyPrefix: `${process.env.CELERIAC_NAME ?? "bench_pools"}-` });

export const noop = app.task("noop", () => null);

/** Computes for `ms` without yielding. */
export const burn = app.task("burn", (ms: number) => {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x++;
  return x > 0;
});
