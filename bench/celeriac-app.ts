/**
 * The benchmark's celeriac app, defined once for both sides (the caller in bench/run.ts and the
 * worker in bench/celeriac-worker.ts), the way a user shares a tasks module with `-A`.
 */
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Redis } from "ioredis";
import { Celeriac } from "celeriac";
import "./tracing.ts"; // BENCH_TRACE=1 registers a tracer provider (caller and worker alike)
import { NATS_URL, REDIS_URL } from "./lib.ts";

/** Where a bench app connects and how its streams are replicated (bench/scale.ts varies them). */
export interface BenchAppOptions {
  /** @default NATS_URL */
  natsUrl?: string;
  /** Stream replicas. @default 1 */
  replicas?: number;
}

/**
 * The app named `name` (unique per run) and its tasks: `noop`, `echo` (returns its argument: the
 * payload bench), and `stamp` (returns when it ran).
 */
export function benchApp(name: string, opts: BenchAppOptions = {}) {
  // Result keys under the run's own prefix, so cleanup can never touch anyone else's.
  const app = new Celeriac({
    name,
    brokerUrl: opts.natsUrl ?? NATS_URL,
    resultBackend: REDIS_URL,
    resultKeyPrefix: `${name}-`,
    broker: { replicas: opts.replicas ?? 1 },
  });
  const noop = app.task("noop", () => null);
  const echo = app.task("echo", (x: Uint8Array) => x);
  const stamp = app.task("stamp", () => Date.now());
  /** A chord body: how many results it received. */
  const count = app.task("count", (xs: unknown[]) => xs.length);
  /** A chain step: adds one to its input. */
  const inc = app.task("inc", (n: number) => n + 1);
  return { app, noop, echo, stamp, count, inc };
}

/** Deletes what a run of the app named `name` left: its streams, KV buckets and result keys. */
export async function removeBenchApp(name: string, natsUrl = NATS_URL): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  for await (const s of jsm.streams.names()) {
    if (s.startsWith(name.toUpperCase()) || s.startsWith(`KV_${name}`)) await jsm.streams.delete(s);
  }
  await nc.close();
  const redis = new Redis(REDIS_URL);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${name}-*`, "COUNT", 5000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== "0");
  redis.disconnect();
}
