/**
 * The monitor's state and HTTP API: workers from the registry, queues from JetStream, tasks from
 * events (the stream's recent history, then live). The page (page.ts) polls the API.
 */
import type { Celeriac } from "../../src/mod.ts";
import { recentEvents, watchEvents } from "../../src/events/receiver.ts";
import { TaskTable } from "../../src/monitor/task-table.ts";
import { workerStatus } from "../../src/control/status.ts";
import { type HttpReply, type HttpServerHandle, serveHttp } from "../../src/runtime/http.ts";
import { PAGE } from "./page.ts";
import { basicAuthGuard } from "./auth.ts";

/** Options of the monitor. */
export interface MonitorOptions {
  port: number;
  address: string;
  /** Queues to show besides those workers report consuming. */
  queues: string[];
  /** Tasks kept in memory. */
  maxTasks: number;
  /** How far back the event history goes on start, ms. */
  historyMs: number;
  /** `user:password` pairs; when given, everything but /livez needs one (HTTP basic auth). */
  basicAuth?: string[];
}

/** A running monitor. */
export interface Monitor {
  readonly port: number;
  readonly tasks: TaskTable;
  close(): Promise<void>;
}

const json = (body: unknown): HttpReply => ({ status: 200, body: JSON.stringify(body), contentType: "application/json" });

/** Starts the monitor: loads recent events, follows live ones, serves the API and the page. */
export async function startMonitor(app: Celeriac, opts: MonitorOptions): Promise<Monitor> {
  const broker = await app.broker();
  const names = app.config.names;
  const tasks = new TaskTable(opts.maxTasks);
  const stopWatching = watchEvents(broker, names, (e) => tasks.add(e));
  for (const e of await recentEvents(broker, Date.now() - opts.historyMs)) tasks.add(e);

  async function queues() {
    const workers = await workerStatus(broker, names);
    const all = new Set(opts.queues);
    for (const w of workers) for (const q of w.queues ?? []) all.add(q);
    const out = [];
    for (const q of [...all].sort()) {
      const s = await broker.queueStats(q).catch(() => null);
      const consumers = workers.filter((w) => w.status === "online" && (w.queues ?? []).includes(q)).length;
      out.push({ queue: q, pending: s?.pending ?? null, inFlight: s?.inFlight ?? null, workers: consumers });
    }
    return out;
  }

  async function route(path: string, query: URLSearchParams): Promise<HttpReply> {
    if (path === "/" || path === "/index.html") return { status: 200, body: PAGE, contentType: "text/html; charset=utf-8" };
    if (path === "/livez") return { status: 200, body: "ok\n" };
    if (path === "/api/workers") return json(await workerStatus(broker, names));
    if (path === "/api/queues") return json(await queues());
    if (path === "/api/summary") return json({ app: app.name, ...tasks.summary(), delayed: await broker.delayedStats().catch(() => null) });
    if (path === "/api/tasks") {
      const limit = Math.min(1000, Number(query.get("limit") ?? 100) || 100);
      return json(tasks.list({ state: query.get("state") || undefined, name: query.get("name") || undefined, limit }));
    }
    if (path.startsWith("/api/task/")) {
      const id = decodeURIComponent(path.slice("/api/task/".length));
      const record = await app.AsyncResult(id).record().catch(() => null);
      const seen = tasks.get(id) ?? null;
      if (!seen && !record) return { status: 404, body: JSON.stringify({ error: `no task ${id}` }), contentType: "application/json" };
      return json({ events: seen, record });
    }
    return { status: 404, body: "not found\n" };
  }

  const guard = opts.basicAuth?.length ? basicAuthGuard(opts.basicAuth) : undefined;
  const server: HttpServerHandle = await serveHttp(opts.port, opts.address, route, guard);
  return {
    port: server.port,
    tasks,
    close: async () => {
      stopWatching();
      await server.close();
    },
  };
}
