/**
 * The worker's side services: heartbeats and the registry, remote control, task events, and the
 * health/metrics server. They live beside the queue actors and stop after them, so a draining
 * worker still answers `inspect` and still heartbeats until it says `worker-offline`.
 */
import type { Broker } from "../broker/types.ts";
import type { CompiledAppOptions } from "../options.ts";
import type { Logger } from "../log.ts";
import type { CompiledWorkerOptions } from "./options.ts";
import type { TaskObservers } from "./observe.ts";
import { supervise } from "../actor.ts";
import { EventDispatcher } from "../events/dispatcher.ts";
import { controlActor } from "../control/server.ts";
import { handleControl, type RemoteWorker } from "./remote.ts";
import { heartbeatActor } from "./heartbeat.ts";
import { Gossip } from "./gossip.ts";
import { type QueueLag, WorkerMetrics } from "./metrics.ts";
import { healthRoutes } from "./health.ts";
import type { HttpServerHandle } from "../runtime/http.ts";
import { loadAverage, pid } from "../runtime/mod.ts";
import { ConfigError } from "../errors.ts";

/** What the services read from their worker. */
export interface ServicesHost {
  broker: Broker;
  config: CompiledAppOptions;
  options: CompiledWorkerOptions;
  log: Logger;
  remote: RemoteWorker;
  observers: TaskObservers;
  /** Task events on at start. */
  events: boolean;
  report(err: Error): void;
  live(): boolean;
  ready(): { connected: boolean; running: boolean; unbound: string[] };
}

/** The running services. */
export interface Services {
  readonly healthPort: number | null;
  readonly metrics: WorkerMetrics | null;
  /** The event dispatcher's Lamport clock. */
  readonly clock: number;
  /** The other workers this one hears, online or offline. */
  peers(): Record<string, "online" | "offline">;
  stop(): Promise<void>;
}

/** How long start() waits for the first registry write (after it the worker is listed). */
const ONLINE_WAIT_MS = 5_000;

/** Starts heartbeats, control and (with a health port) the health server. */
export async function startServices(h: ServicesHost): Promise<Services> {
  const { broker, config: cfg, options: o, remote: w } = h;
  const snapshot = () => ({ active: w.active(), processed: w.processed(), queues: w.queues(), concurrency: w.concurrency() });
  await broker.ensureEventStream(cfg.eventsMaxAgeMs).catch((err) => h.report(err as Error));
  const dispatcher = new EventDispatcher(broker, cfg.names, o.hostname);
  const metrics = o.healthPort !== null ? new WorkerMetrics() : null;
  h.observers.configure(dispatcher, h.events, metrics);
  const gossip = new Gossip(o.hostname, dispatcher);
  const stopGossip = gossip.listen(broker, cfg.names);
  const crash = (what: string) => (err: unknown, delay: number) => {
    h.report(err as Error);
    h.log.warn(`${what} stopped (${(err as Error).message}); restarting in ${delay}ms`);
  };
  let online!: () => void;
  const wentOnline = new Promise<void>((r) => (online = r));
  const control = supervise(
    "control",
    controlActor({
      broker,
      names: cfg.names,
      hostname: o.hostname,
      handle: (command, args) => handleControl(h.remote, command, args),
      report: h.report,
    }),
    { onCrash: crash("control") },
  );
  const heartbeat = supervise(
    "heartbeat",
    heartbeatActor({
      broker,
      names: cfg.names,
      hostname: o.hostname,
      pid: pid(),
      dispatcher,
      freqMs: o.heartbeatMs,
      snapshot: () => ({ ...snapshot(), loadavg: loadAverage() }),
      online,
      report: h.report,
    }),
    { onCrash: crash("heartbeat") },
  );
  const stopStarted = async () => {
    stopGossip();
    await control.stop();
    await heartbeat.stop();
  };
  let server: HttpServerHandle | null = null;
  try {
    // The first registry write is a round trip on the connection that subscribed to control
    // subjects: once it is back, those subscriptions are in place, and `status` lists the worker.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([wentOnline, new Promise<void>((r) => (timer = setTimeout(r, ONLINE_WAIT_MS)))]);
    clearTimeout(timer);
    if (o.healthPort !== null) server = await startHealth(h, metrics, snapshot);
  } catch (err) {
    // What started already must not outlive the failed start (the worker has no handle on it).
    await stopStarted();
    throw err;
  }
  return {
    healthPort: server?.port ?? null,
    metrics,
    get clock() {
      return dispatcher.clock;
    },
    peers: () => gossip.peers(),
    stop: async () => {
      await stopStarted();
      await server?.close();
    },
  };
}

/** The health and metrics server; a port it cannot listen on is a configuration error naming it. */
async function startHealth(
  h: ServicesHost,
  metrics: WorkerMetrics | null,
  snapshot: () => { active: number; concurrency: number },
): Promise<HttpServerHandle> {
  const { broker, options: o } = h;
  // Loaded only when asked for: node:http costs a worker a few MiB it otherwise never uses.
  const { serveHttp } = await import("../runtime/http.ts");
  try {
    return await serveHttp(
      o.healthPort!,
      o.healthHost,
      healthRoutes({
        live: () => ({ ok: h.live(), detail: h.live() ? "supervisor running" : "worker stopped" }),
        ready: () => {
          const r = h.ready();
          const ok = r.connected && r.running && r.unbound.length === 0;
          const why = !r.running
            ? "not running"
            : !r.connected
            ? "broker disconnected"
            : r.unbound.length
            ? `queues not bound: ${r.unbound.join(", ")}`
            : "connected, consumers bound";
          return { ok, detail: why };
        },
        metrics: async () => {
          const snap = snapshot();
          return metrics!.render({
            active: snap.active,
            concurrency: snap.concurrency,
            queues: await lags(broker, h),
            up: h.ready().connected,
          });
        },
      }),
    );
  } catch (err) {
    throw new ConfigError("healthPort", `the health server cannot listen on ${o.healthHost}:${o.healthPort} (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/** Queue lag per consumer, read now; queues the broker cannot answer for (an outage) are left out. */
async function lags(broker: Broker, h: ServicesHost): Promise<QueueLag[]> {
  const out: QueueLag[] = [];
  await Promise.all(
    h.remote.queues().map(async (queue) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const s = await Promise.race([
          broker.queueStats(queue),
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("timeout")), 2_000))),
        ]);
        out.push({ queue, consumer: h.config.names.durable(queue), pending: s.pending, unacked: s.inFlight });
      } catch {
        // not now
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return out.sort((a, b) => a.queue.localeCompare(b.queue));
}
