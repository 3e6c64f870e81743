/**
 * Heartbeats, gossip and the worker registry. A worker announces itself (`worker-online`), sends
 * `worker-heartbeat` every `freq` seconds on `<p>.worker.heartbeat.<worker>` (kept in the events
 * stream too), writes the same record to KV `<p>_workers`, and says `worker-offline` when it stops.
 * Whoever reads the registry (`celeriac status`) counts a worker that missed two heartbeats as
 * offline; a worker that was killed never said goodbye, and its record ages out of the bucket.
 */
import type { Broker, KeyValueStore } from "../broker/types.ts";
import type { Names } from "../names.ts";
import { type ActorBody, sleep } from "../actor.ts";
import type { EventDispatcher } from "../events/dispatcher.ts";
import { WorkerEventType } from "../events/event.ts";
import { revokedKey } from "../control/revoked.ts";
import { runtimeName } from "../runtime/mod.ts";

/** How long a worker's registry entry outlives its last write. */
export const REGISTRY_TTL_MS = 3_600_000;

/** Celery's software identification fields. */
export const SOFTWARE = { sw_ident: "celeriac", sw_ver: "0.1.0" } as const;

/** What a heartbeat reports, read from the worker each beat. */
export interface WorkerSnapshot {
  active: number;
  processed: number;
  queues: string[];
  concurrency: number;
  loadavg: [number, number, number];
}

/** A worker's entry in the registry (also the heartbeat's payload, less the event fields). */
export interface WorkerRecord extends WorkerSnapshot {
  hostname: string;
  pid: number;
  state: "online" | "offline";
  /** Heartbeat interval, seconds. */
  freq: number;
  /** Epoch seconds. */
  last_heartbeat: number;
  online_at: number;
  sw_ident: string;
  sw_ver: string;
  sw_sys: string;
}

/** What the heartbeat actor needs. */
export interface HeartbeatDeps {
  broker: Broker;
  names: Names;
  hostname: string;
  pid: number;
  dispatcher: EventDispatcher;
  freqMs: number;
  snapshot(): WorkerSnapshot;
  /** Called once the first registry write is done. */
  online?(): void;
  /** Background trouble (a registry write failed); the next beat tries again. */
  report(err: Error): void;
}

const encoder = new TextEncoder();

/** The registry key of a worker (names like `w1@host` hold characters KV keys may not). */
export function registryKey(hostname: string): string {
  return revokedKey(hostname);
}

/** Builds the heartbeat actor's body. */
export function heartbeatActor(deps: HeartbeatDeps): ActorBody {
  const onlineAt = Date.now() / 1000;
  const record = (state: WorkerRecord["state"]): WorkerRecord => ({
    hostname: deps.hostname,
    pid: deps.pid,
    state,
    freq: deps.freqMs / 1000,
    last_heartbeat: Date.now() / 1000,
    online_at: onlineAt,
    ...SOFTWARE,
    sw_sys: runtimeName(),
    ...deps.snapshot(),
  });
  return async (signal) => {
    const kv: KeyValueStore = await deps.broker.kv(deps.names.workersBucket, { ttlMs: REGISTRY_TTL_MS });
    const write = (r: WorkerRecord) =>
      kv.put(registryKey(deps.hostname), encoder.encode(JSON.stringify(r))).catch((err) => deps.report(err as Error));
    const first = record("online");
    deps.dispatcher.send(WorkerEventType.ONLINE, { ...first });
    await write(first);
    deps.online?.();
    while (!signal.aborted) {
      await sleep(deps.freqMs, signal);
      if (signal.aborted) break;
      const r = record("online");
      deps.dispatcher.send(WorkerEventType.HEARTBEAT, { ...r }, deps.names.heartbeatSubject(deps.hostname));
      await write(r);
    }
    const last = record("offline");
    deps.dispatcher.send(WorkerEventType.OFFLINE, { ...last });
    await write(last);
  };
}
