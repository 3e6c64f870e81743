/**
 * The monitor's read API (JSON under /api) and its cluster-wide Prometheus metrics. Everything is
 * read from where it lives: workers from the registry, queues and dead letters from JetStream,
 * records from the result backend, tasks and charts from the events the monitor follows.
 */
import { type Celeriac, type WorkerStatus, workerStatus } from "../../src/mod.ts";
import {
  type Broker,
  type DepthHistory,
  type HttpReply,
  type TaskQuery,
  type TaskRates,
  type TaskTable,
  type TaskView,
  viewOf,
} from "../../src/internal.ts";

/** What the API reads. */
export interface MonitorState {
  app: Celeriac;
  broker: Broker;
  tasks: TaskTable;
  rates: TaskRates;
  depth: DepthHistory;
  /** Queues to show besides those workers consume. */
  queues: string[];
  readOnly: boolean;
  /** A link template with `{traceId}`, or null. */
  traceUrl: string | null;
}

/** A JSON reply. */
export const json = (body: unknown, status = 200): HttpReply => ({ status, body: JSON.stringify(body), contentType: "application/json" });

const notFound = (what: string) => json({ error: `no ${what}` }, 404);

/** One row of the queues table. */
export interface QueueRow {
  queue: string;
  pending: number | null;
  inFlight: number | null;
  /** Online workers consuming it. */
  consumers: number;
  oldestAgeMs: number | null;
  deadLetters: number;
  /** Held off by `control pause-queue`. */
  paused: boolean;
}

/** Every queue anyone consumes or the monitor was told about, with its counts. */
export async function queueRows(s: MonitorState, workers?: WorkerStatus[]): Promise<QueueRow[]> {
  workers ??= await workerStatus(s.broker, s.app.config.names);
  const all = new Set(s.queues);
  for (const w of workers) for (const q of w.queues ?? []) all.add(q);
  const dead = await s.broker.deadLetterCounts().catch(() => ({} as Record<string, number>));
  const paused = new Set(await s.app.control.pausedQueues().catch(() => [] as string[]));
  for (const q of paused) all.add(q);
  for (const q of Object.keys(dead)) all.add(q);
  const rows: QueueRow[] = [];
  for (const q of [...all].sort()) {
    const st = await s.broker.queueStats(q).catch(() => null);
    rows.push({
      queue: q,
      pending: st?.pending ?? null,
      inFlight: st?.inFlight ?? null,
      consumers: workers.filter((w) => w.status === "online" && (w.queues ?? []).includes(q)).length,
      oldestAgeMs: st?.oldestAgeMs ?? null,
      deadLetters: dead[q] ?? 0,
      paused: paused.has(q),
    });
  }
  return rows;
}

function taskQuery(q: URLSearchParams): TaskQuery {
  const str = (k: string) => q.get(k) || undefined;
  const num = (k: string, d: number, max: number) => Math.min(max, Math.max(0, Number(q.get(k) ?? d) || 0)) || d;
  return {
    state: str("state"),
    name: str("name"),
    worker: str("worker"),
    id: str("id"),
    args: str("args"),
    offset: Number(q.get("offset") ?? 0) || 0,
    limit: num("limit", 50, 1000),
  };
}

async function taskDetail(s: MonitorState, id: string): Promise<HttpReply> {
  const seen = s.tasks.get(id) ?? null;
  const record = await s.app.AsyncResult(id).record().catch(() => null);
  if (!seen && !record) return notFound(`task ${id}`);
  const childIds = new Set<string>(s.tasks.children(id).map((t) => t.uuid));
  for (const c of (record as { children?: unknown[] } | null)?.children ?? []) {
    // Celery's children are [[id, parent], ...] tuples or ids.
    const cid = Array.isArray(c) ? (Array.isArray(c[0]) ? c[0][0] : c[0]) : c;
    if (typeof cid === "string") childIds.add(cid);
  }
  const children = [...childIds].map((cid) => s.tasks.get(cid) ?? { uuid: cid, name: null, state: "PENDING" });
  return json({ task: seen, record, children, traceUrl: traceLink(s, seen) });
}

function traceLink(s: MonitorState, t: TaskView | null): string | null {
  return s.traceUrl && t?.traceId ? s.traceUrl.replaceAll("{traceId}", t.traceId) : null;
}

async function workerDetail(s: MonitorState, name: string): Promise<HttpReply> {
  const record = (await workerStatus(s.broker, s.app.config.names)).find((w) => w.hostname === name);
  if (!record) return notFound(`worker ${name}`);
  const ask = { destination: [name], timeout: 1.5 };
  const control = s.app.control;
  const none: Record<string, unknown>[] = [{}, {}, {}, {}, {}];
  const [stats, active, reserved, registered, queues]: Record<string, unknown>[] = record.status === "online"
    ? await Promise.all([
      control.stats(ask),
      control.active(ask),
      control.reserved(ask),
      control.registered({ ...ask, taskinfoitems: ["rate_limit", "queue"] }),
      control.activeQueues(ask),
    ]).catch(() => none)
    : none;
  return json({
    record,
    stats: stats[name] ?? null,
    active: active[name] ?? [],
    reserved: reserved[name] ?? [],
    registered: registered[name] ?? [],
    queues: queues[name] ?? [],
  });
}

/** Answers GET /api/…; null when the path is not an API path. */
export async function apiRoute(s: MonitorState, path: string, q: URLSearchParams): Promise<HttpReply | null> {
  const names = s.app.config.names;
  const tail = (prefix: string) => decodeURIComponent(path.slice(prefix.length));
  if (path === "/api/summary") {
    return json({
      app: s.app.name,
      readOnly: s.readOnly,
      ...s.tasks.summary(),
      delayed: await s.broker.delayedStats().catch(() => null),
      deadLetters: Object.values(await s.broker.deadLetterCounts().catch(() => ({}))).reduce((a, b) => a + b, 0),
    });
  }
  if (path === "/api/workers") return json(await workerStatus(s.broker, names));
  if (path.startsWith("/api/worker/")) return await workerDetail(s, tail("/api/worker/"));
  if (path === "/api/queues") return json(await queueRows(s));
  if (path === "/api/tasks") return json(s.tasks.search(taskQuery(q)));
  if (path === "/api/task-names") return json(s.tasks.names());
  if (path.startsWith("/api/task/")) return await taskDetail(s, tail("/api/task/"));
  if (path.startsWith("/api/workflow/")) {
    const root = tail("/api/workflow/");
    const tasks = s.tasks.workflow(root);
    return tasks.length ? json({ rootId: root, tasks }) : notFound(`workflow ${root}`);
  }
  if (path === "/api/charts") {
    const now = Date.now() / 1000;
    const name = q.get("name") || undefined;
    return json({
      name: name ?? null,
      rates: s.rates.rates(now, { name, windowS: 3_600, stepS: 60 }),
      recent: s.rates.rates(now, { name, windowS: 120, stepS: 2 }),
      runtimes: s.rates.runtimes(now, name),
      depth: s.depth.all(),
    });
  }
  if (path === "/api/dead-letters") {
    const queue = q.get("queue") || undefined;
    const limit = Math.min(1000, Number(q.get("limit") ?? 200) || 200);
    const letters = await s.broker.listDeadLetters({ queue, limit });
    return json(letters.map((d) => ({ ...viewOf(d), headers: d.headers })));
  }
  return null;
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/**
 * Cluster-wide metrics in Prometheus's text format: queue depth and oldest message age per queue,
 * dead letters, delayed tasks, workers online, and task outcomes seen in events (counters since
 * the monitor started). One scrape of the monitor covers the cluster.
 */
export async function metrics(s: MonitorState): Promise<HttpReply> {
  const workers = await workerStatus(s.broker, s.app.config.names);
  const rows = await queueRows(s, workers);
  const delayed = await s.broker.delayedStats().catch(() => null);
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, samples: [Record<string, string>, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(",");
      lines.push(`${name}${l ? `{${l}}` : ""} ${v}`);
    }
  };
  const app = s.app.name;
  family("celeriac_queue_messages", "gauge", "Messages waiting in a queue.", rows.map((r) => [{ app, queue: r.queue }, r.pending ?? 0]));
  family(
    "celeriac_queue_in_flight",
    "gauge",
    "Messages delivered to a worker, not yet acked.",
    rows.map((r) => [{ app, queue: r.queue }, r.inFlight ?? 0]),
  );
  family(
    "celeriac_queue_oldest_age_seconds",
    "gauge",
    "Age of the oldest message not yet acked (0 when empty).",
    rows.map((r) => [{ app, queue: r.queue }, (r.oldestAgeMs ?? 0) / 1000]),
  );
  family("celeriac_queue_consumers", "gauge", "Online workers consuming a queue.", rows.map((r) => [{ app, queue: r.queue }, r.consumers]));
  family("celeriac_dead_letters", "gauge", "Dead letters kept for a queue.", rows.map((r) => [{ app, queue: r.queue }, r.deadLetters]));
  family("celeriac_delayed_messages", "gauge", "Delayed tasks (ETA, countdown, retry) waiting for their time.", [[
    { app },
    delayed?.messages ?? 0,
  ]]);
  family("celeriac_workers_online", "gauge", "Workers online (heartbeating).", [[
    { app },
    workers.filter((w) => w.status === "online").length,
  ]]);
  family(
    "celeriac_worker_active_tasks",
    "gauge",
    "Tasks running on a worker.",
    workers.filter((w) => w.status === "online").map((w) => [{ app, worker: w.hostname }, w.active]),
  );
  const events = s.tasks.summary().events;
  family(
    "celeriac_task_events_total",
    "counter",
    "Task events seen by the monitor since it started, by type.",
    Object.entries(events).map(([type, n]) => [{ app, type }, n]),
  );
  return { status: 200, body: lines.join("\n") + "\n", contentType: "text/plain; version=0.0.4; charset=utf-8" };
}
