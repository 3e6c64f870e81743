/**
 * The benchmark's celeriac app, defined once for both sides (the caller in bench/run.ts and the
 * worker in bench/celeriac-worker.ts), the way a user shares a tasks module with `-A`.
 */
import { Celeriac } from "celeriac";
import { NATS_URL, REDIS_URL } from "./lib.ts";

/** The app named `name` (unique per run) and its one task, `noop`. */
export function benchApp(name: string) {
  const app = new Celeriac({ name, brokerUrl: NATS_URL, resultBackend: REDIS_URL });
  const noop = app.task("noop", () => null);
  return { app, noop };
}
