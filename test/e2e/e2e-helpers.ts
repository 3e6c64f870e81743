/**
 * Helpers for tests that run workers as processes of the fixture app (test/fixtures/tasks.ts).
 */
import { Redis } from "ioredis";
import { Celeriac } from "celeriac";
import { cleanup, NATS_URL, type Proc, REDIS_URL, spawnWorker, stopProc, uniqueName } from "../helpers.ts";

/** One test's names and connections: env for worker processes, an app for the test itself. */
export interface Cluster {
  name: string;
  prefix: string;
  env: Record<string, string>;
  app: Celeriac;
  redis: Redis;
  dispose(): Promise<void>;
}

/** Sets up names for a test whose workers run the fixture tasks. */
export function cluster(opts: { nats?: string; redis?: string; ackWait?: number } = {}): Cluster {
  const name = uniqueName("e2e");
  const prefix = `${name}-`;
  const nats = opts.nats ?? NATS_URL;
  const redisUrl = opts.redis ?? REDIS_URL;
  const env: Record<string, string> = {
    CELERIAC_NAME: name,
    CELERIAC_BROKER_URL: nats,
    CELERIAC_RESULT_BACKEND: redisUrl,
    T_KEY_PREFIX: prefix,
    T_ACK_WAIT: String(opts.ackWait ?? 30),
  };
  const app = new Celeriac({
    name,
    brokerUrl: nats,
    resultBackend: redisUrl,
    resultKeyPrefix: prefix,
    broker: { ackWait: opts.ackWait ?? 30 },
  });
  const redis = new Redis(redisUrl);
  return {
    name,
    prefix,
    env,
    app,
    redis,
    dispose: async () => {
      await app.close();
      redis.disconnect();
      await cleanup(name, prefix, { nats, redis: redisUrl });
    },
  };
}

/** The fixture module, as `-A` takes it. */
export const TASKS = "./test/fixtures/tasks.ts";

/** A worker kept running by {@link supervise}. */
export interface Supervised {
  /** The worker running now (null until the first has started). */
  readonly current: Proc | null;
  /** How many times a worker died and was replaced. */
  readonly restarts: number;
  /** Stops the worker and the supervision. */
  stop(): Promise<void>;
}

/**
 * A supervisor, as Kubernetes would be: runs one `-A TASKS -c 1` worker at a time with `env`, and
 * starts another whenever a poison task kills it. One slot: tasks in flight on a worker the poison
 * kills are redelivered too, and would use up their own deliveries (at-least-once with
 * maxDeliver); with -c 1 only the poison is hit.
 */
export function supervise(env: Record<string, string>): Supervised {
  let current: Proc | null = null;
  let restarts = 0;
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      try {
        const w = current = await spawnWorker(["-A", TASKS, "-c", "1"], { env });
        // Stopped while this one started: stop() stopped its predecessor.
        if (stopping) await stopProc(w);
        await w.exited;
      } catch (err) {
        // The poison may kill a restarted worker before it prints "ready": that is a death too.
        if (!/exited .* before it was ready/.test(String(err))) throw err;
      }
      if (!stopping) restarts++;
    }
  })();
  return {
    get current() {
      return current;
    },
    get restarts() {
      return restarts;
    },
    async stop() {
      stopping = true;
      if (current) await stopProc(current);
      await loop;
    },
  };
}
