/**
 * The monitor: follows task events (the stream's recent history, then live), keeps the charts'
 * series, samples queue depths, and serves the pages, the JSON API, live updates (server-sent
 * events), the actions and the cluster's /metrics.
 */
import { randomBytes } from "node:crypto";
import { type Celeriac, type CeleriacEvent, recentEvents, watchEvents } from "../../src/mod.ts";
import {
  DepthHistory,
  type HttpReply,
  type HttpRequest,
  type HttpServerHandle,
  type HttpStreamReply,
  type Outcome,
  serveHttp,
  TaskRates,
  TaskTable,
  type TaskView,
} from "../../src/internal.ts";
import { apiRoute, json, metrics, type MonitorState, queueRows } from "./api.ts";
import { runAction } from "./actions.ts";
import { PAGE_ROUTES, pageHtml } from "./page.ts";
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
  /** Refuse every action (revoke, rate limit, replay, …). @default false */
  readOnly?: boolean;
  /** A link to a trace viewer with `{traceId}`, e.g. `https://jaeger/trace/{traceId}`. */
  traceUrl?: string | null;
  /** How often queue depths are sampled for the chart, ms. @default 10000 */
  depthEveryMs?: number;
}

/** A running monitor. */
export interface Monitor {
  readonly port: number;
  readonly tasks: TaskTable;
  close(): Promise<void>;
}

const OUTCOME_OF: Record<string, Outcome> = { "task-succeeded": "succeeded", "task-failed": "failed", "task-retried": "retried" };

/** Sends changed tasks to every open page at most every `everyMs`, and a tick for the rest. */
class LiveUpdates {
  #clients = new Set<(chunk: string) => void>();
  #changed = new Map<string, TaskView>();
  #timer: ReturnType<typeof setInterval>;
  #ticks = 0;

  constructor(everyMs = 500) {
    this.#timer = setInterval(() => this.#flush(), everyMs);
  }

  changed(t: TaskView): void {
    if (this.#clients.size > 0) this.#changed.set(t.uuid, t);
  }

  #flush(): void {
    this.#ticks++;
    if (this.#changed.size > 0) {
      // A bounded batch: a page refetches what it shows, it needs to know what moved.
      const tasks = [...this.#changed.values()].slice(-200);
      this.#changed.clear();
      this.#send(`event: tasks\ndata: ${JSON.stringify(tasks)}\n\n`);
    }
    if (this.#ticks % 10 === 0) this.#send(`event: tick\ndata: ${Date.now()}\n\n`);
  }

  #send(chunk: string): void {
    for (const c of this.#clients) c(chunk);
  }

  stream(): HttpStreamReply {
    return {
      status: 200,
      contentType: "text/event-stream",
      stream: true,
      open: (write, closed) => {
        write("retry: 2000\n\n");
        this.#clients.add(write);
        closed.addEventListener("abort", () => this.#clients.delete(write), { once: true });
      },
    };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#clients.clear();
  }
}

/** Starts the monitor: loads recent events, follows live ones, serves the pages and the API. */
export async function startMonitor(app: Celeriac, opts: MonitorOptions): Promise<Monitor> {
  const broker = await app.broker();
  const tasks = new TaskTable(opts.maxTasks);
  const rates = new TaskRates();
  const depth = new DepthHistory(Math.round((opts.depthEveryMs ?? 10_000) / 1000));
  const live = new LiveUpdates();
  const state: MonitorState = {
    app,
    broker,
    tasks,
    rates,
    depth,
    queues: opts.queues,
    readOnly: opts.readOnly ?? false,
    traceUrl: opts.traceUrl ?? null,
  };
  const take = (e: CeleriacEvent) => {
    tasks.add(e);
    const outcome = OUTCOME_OF[e.type];
    if (outcome && typeof e.uuid === "string") {
      rates.record(
        tasks.get(e.uuid)?.name ?? String(e.name ?? "?"),
        outcome,
        e.timestamp,
        typeof e.runtime === "number" ? e.runtime : null,
      );
    }
  };
  tasks.onChange((t) => live.changed(t));
  const stopWatching = watchEvents(broker, app.config.names, take);
  for (const e of await recentEvents(broker, Date.now() - opts.historyMs)) take(e);

  const sampleDepth = async () => {
    const now = Date.now() / 1000;
    for (const r of await queueRows(state).catch(() => [])) if (r.pending !== null) depth.add(r.queue, now, r.pending);
  };
  void sampleDepth();
  const sampler = setInterval(() => void sampleDepth(), opts.depthEveryMs ?? 10_000);

  const csrfToken = randomBytes(24).toString("hex");
  async function route(path: string, query: URLSearchParams, req: HttpRequest): Promise<HttpReply | HttpStreamReply> {
    if (path === "/livez") return { status: 200, body: "ok\n" };
    if (path === "/metrics") return await metrics(state);
    if (path === "/api/stream") return live.stream();
    if (path.startsWith("/api/action/")) return await runAction(state, path.slice("/api/action/".length), req, csrfToken);
    if (req.method !== "GET" && req.method !== "HEAD") return { status: 405, body: "GET only\n", headers: { allow: "GET" } };
    if (path.startsWith("/api/")) return (await apiRoute(state, path, query)) ?? json({ error: `no API ${path}` }, 404);
    if (PAGE_ROUTES.some((r) => r.test(path))) {
      return {
        status: 200,
        body: pageHtml({ app: app.name, csrfToken, readOnly: state.readOnly }),
        contentType: "text/html; charset=utf-8",
      };
    }
    return { status: 404, body: "not found\n" };
  }

  const guard = opts.basicAuth?.length ? basicAuthGuard(opts.basicAuth) : undefined;
  const server: HttpServerHandle = await serveHttp(opts.port, opts.address, route, guard);
  return {
    port: server.port,
    tasks,
    close: async () => {
      clearInterval(sampler);
      stopWatching();
      live.close();
      await server.close();
    },
  };
}
