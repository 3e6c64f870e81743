/**
 * The benchmark's celeriac app, defined once for both sides (the caller in bench/run.ts and the
 * worker in bench/celeriac-worker.ts), the way a user shares a tasks module with `-A`.
 */
import { Celeriac } from "celeriac";
import "./tracing.ts"; // BENCH_TRACE=1 registers a tracer provider (caller and worker alike)
import { NATS_URL, REDIS_URL } from "./lib.ts";

/** The app named `name` (unique per run) and its tasks: `noop`, and `stamp` (returns when it ran). */
export function benchApp(name: string) {
  // Result keys under the run's own prefix, so cleanup can never touch anyone else's.
  const app = new Celeriac({ name, brokerUrl: NATS_URL, resultBackend: REDIS_URL, resultKeyPrefix: `${name}-` });
  const noop = app.task("noop", () => null);
  const stamp = app.task("stamp", () => Date.now());
  /** A chord body: how many results it received. */
  const count = app.task("count", (xs: unknown[]) => xs.length);
  /** A chain step: adds one to its input. */
  const inc = app.task("inc", (n: number) => n + 1);
  return { app, noop, stamp, count, inc };
}
