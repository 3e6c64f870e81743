/**
 * Chooses the adapter for a URL. `memory://` is only ever used when asked for by name;
 * it is never a fallback for a URL that does not answer.
 */
import type { Broker } from "./broker/types.ts";
import type { ResultBackend } from "./backend/types.ts";
import type { CompiledAppOptions } from "./options.ts";
import { JetStreamBroker } from "./broker/jetstream/broker.ts";
import { memoryBroker } from "./broker/memory.ts";
import { RedisBackend } from "./backend/redis.ts";
import { memoryBackend } from "./backend/memory.ts";

/** True for `memory://` URLs. */
export function isMemoryUrl(url: string): boolean {
  return url.startsWith("memory://");
}

/** Builds the broker adapter for the app's broker URL. */
export function createBroker(cfg: CompiledAppOptions, connectionName: string): Broker {
  if (isMemoryUrl(cfg.brokerUrl)) return memoryBroker(cfg.brokerUrl, cfg.names, cfg.broker);
  return new JetStreamBroker({
    url: cfg.brokerUrl,
    names: cfg.names,
    settings: cfg.broker,
    connectionName,
    security: cfg.security.broker,
  });
}

/** Builds the result backend adapter for the app's backend URL. */
export function createBackend(cfg: CompiledAppOptions): ResultBackend {
  if (isMemoryUrl(cfg.resultBackend)) return memoryBackend(cfg.resultBackend, cfg.names.prefix, cfg.backend);
  return new RedisBackend(cfg.resultBackend, cfg.backend, cfg.security.backend, cfg.redis);
}
