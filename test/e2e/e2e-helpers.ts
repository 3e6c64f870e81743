/**
 * Helpers for tests that run workers as processes of the fixture app (test/fixtures/tasks.ts).
 */
import { Redis } from "ioredis";
import { Celeriac } from "celeriac";
import { cleanup, NATS_URL, REDIS_URL, uniqueName } from "../helpers.ts";

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
