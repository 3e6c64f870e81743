/**
 * What a worker answers to remote control (src/control/): inspect queries read its state, control
 * commands change it. Reply shapes follow Celery's.
 */
import type { Task } from "../task.ts";
import type { Job } from "./job.ts";
import type { RevokedIds } from "../control/revoked.ts";
import type { Admission } from "./admission.ts";
import { ControlCommand, type TaskInfo } from "../control/protocol.ts";
import { parseRate, type Rate } from "../rate.ts";
import { InvalidArgumentError } from "../errors.ts";
import { loadAverage, rssBytes, runtimeName } from "../runtime/mod.ts";
import type { ChildInfo } from "./pool/types.ts";

/** The worker as remote control sees it. */
export interface RemoteWorker {
  readonly hostname: string;
  readonly pid: number;
  readonly tasks: ReadonlyMap<string, Task>;
  /** Tasks settled, by name (Celery's `stats.total`). */
  readonly totals: ReadonlyMap<string, number>;
  readonly revoked: RevokedIds;
  readonly admission: Admission;
  readonly transport: string;
  /** Slots now. */
  concurrency(): number;
  /** Tasks running (or waiting for a token) now. */
  active(): number;
  /** Tasks settled since start. */
  processed(): number;
  /** Seconds since start. */
  uptime(): number;
  /** The event clock. */
  clock(): number;
  /** Other workers heard through gossip. */
  peers(): Record<string, "online" | "offline">;
  jobs(): Iterable<Job>;
  queues(): string[];
  durable(queue: string): string;
  /** Revokes ids here; returns the ids of running tasks it terminated. */
  revoke(ids: string[], terminate: boolean): string[];
  shutdown(): void;
  resize(concurrency: number): void;
  /** Autoscales between `min` and `max` slots from now on; returns the bounds in force. */
  autoscale(max: number, min: number): { max: number; min: number };
  /** The execution pool and its children (pids or thread ids, tasks run, memory). */
  pool(): { kind: string; children: ChildInfo[] };
  addConsumer(queue: string): Promise<void>;
  cancelConsumer(queue: string): Promise<void>;
  pauseQueue(queue: string): Promise<void>;
  /** Cluster-wide limits (`rate-limit --global`). */
  globalRates: { setRate(taskName: string, rate: Rate | null): void };
  resumeQueue(queue: string): Promise<void>;
  /** Queues consumed but held off by pause-queue. */
  paused(): string[];
  setEvents(on: boolean): void;
}

/** Celery's request info of a job. */
export function taskInfo(w: RemoteWorker, job: Job): TaskInfo {
  const m = job.message!;
  return {
    id: m.id,
    name: m.task,
    args: m.args,
    kwargs: m.kwargs,
    type: m.task,
    hostname: w.hostname,
    time_start: job.startedAt === null ? null : job.startedAt / 1000,
    acknowledged: Boolean(job.task && !job.task.options.acksLate),
    delivery_info: { exchange: "", routing_key: job.queue, priority: m.priority ?? 0, redelivered: job.delivery.deliveryCount > 1 },
    worker_pid: w.pid,
  };
}

function count(v: unknown, field: string): number {
  const n = v === undefined ? 1 : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(field, `must be an integer ≥ 1, got ${JSON.stringify(v)}`);
  return n;
}

function queueArg(v: unknown): string {
  if (typeof v !== "string" || !/^[A-Za-z0-9_-]+$/.test(v)) {
    throw new InvalidArgumentError("queue", `not a queue name: ${JSON.stringify(v)}`);
  }
  return v;
}

/** Runs one command against the worker; the value is the reply. */
export async function handleControl(w: RemoteWorker, command: string, args: Record<string, unknown>): Promise<unknown> {
  const jobs = () => [...w.jobs()].filter((j) => j.message && !j.terminated);
  switch (command) {
    case ControlCommand.PING:
      return { ok: "pong" };
    case ControlCommand.ACTIVE:
      return jobs().filter((j) => j.startedAt !== null).map((j) => taskInfo(w, j));
    case ControlCommand.RESERVED:
      return jobs().filter((j) => j.held).map((j) => taskInfo(w, j));
    case ControlCommand.SCHEDULED:
      return []; // ETA tasks wait in the broker's delayed store, never in a worker
    case ControlCommand.REGISTERED:
      return registered(w, args.taskinfoitems);
    case ControlCommand.REVOKED:
      return w.revoked.list();
    case ControlCommand.ACTIVE_QUEUES:
      return w.queues().map((q) => ({
        name: q,
        exchange: { name: "", type: "direct" },
        routing_key: q,
        durable: true,
        consumer: w.durable(q),
        paused: w.paused().includes(q),
      }));
    case ControlCommand.QUERY_TASK: {
      const ids = new Set([args.ids ?? args.id].flat().map(String));
      const out: Record<string, [string, TaskInfo]> = {};
      for (const j of jobs()) {
        if (ids.has(j.message!.id)) out[j.message!.id] = [j.startedAt === null ? "reserved" : "active", taskInfo(w, j)];
      }
      return out;
    }
    case ControlCommand.STATS:
      return stats(w);
    case ControlCommand.REVOKE: {
      const ids = [args.task_id ?? args.ids].flat().filter((x): x is string => typeof x === "string");
      const terminated = w.revoke(ids, Boolean(args.terminate));
      return { ok: `tasks ${ids.join(", ")} flagged as revoked${terminated.length ? `; terminated ${terminated.join(", ")}` : ""}` };
    }
    case ControlCommand.RATE_LIMIT: {
      const name = String(args.task_name ?? "");
      if (!w.tasks.has(name)) return { error: `unknown task ${name}` };
      const rate = parseRate(args.rate_limit ?? null, "rate_limit");
      if (args.global === true) {
        w.globalRates.setRate(name, rate);
        return { ok: rate ? "new cluster-wide rate limit set successfully" : "cluster-wide rate limit disabled successfully" };
      }
      w.admission.setRate(name, rate);
      return { ok: rate ? "new rate limit set successfully" : "rate limit disabled successfully" };
    }
    case ControlCommand.SHUTDOWN:
      w.shutdown();
      return { ok: "shutdown signal sent" };
    case ControlCommand.POOL_GROW: {
      w.resize(w.concurrency() + count(args.n, "n"));
      return { ok: `pool will grow to ${w.concurrency()}` };
    }
    case ControlCommand.POOL_SHRINK: {
      const n = count(args.n, "n");
      const min = w.queues().length;
      if (w.concurrency() - n < min) return { error: `cannot shrink below ${min} (one slot per consumed queue)` };
      w.resize(w.concurrency() - n);
      return { ok: `pool will shrink to ${w.concurrency()}` };
    }
    case ControlCommand.AUTOSCALE: {
      const max = count(args.max, "max");
      const min = count(args.min, "min");
      if (min > max) throw new InvalidArgumentError("min", `must not exceed max (${max}), got ${min}`);
      if (min < w.queues().length) return { error: `min cannot be below ${w.queues().length} (one slot per consumed queue)` };
      const b = w.autoscale(max, min);
      return { ok: `autoscale now max=${b.max} min=${b.min}` };
    }
    case ControlCommand.ADD_CONSUMER: {
      const q = queueArg(args.queue);
      if (w.queues().includes(q)) return { ok: `already consuming from ${q}` };
      await w.addConsumer(q);
      return { ok: `add consumer ${q}` };
    }
    case ControlCommand.CANCEL_CONSUMER: {
      const q = queueArg(args.queue);
      if (!w.queues().includes(q)) return { error: `not consuming from ${q}` };
      await w.cancelConsumer(q);
      return { ok: `no longer consuming from ${q}` };
    }
    case ControlCommand.PAUSE_QUEUE: {
      const q = queueArg(args.queue);
      if (!w.queues().includes(q)) return { ok: `not consuming from ${q}` };
      await w.pauseQueue(q);
      return { ok: `paused ${q}; running tasks finish` };
    }
    case ControlCommand.RESUME_QUEUE: {
      const q = queueArg(args.queue);
      if (!w.queues().includes(q)) return { ok: `not consuming from ${q}` };
      await w.resumeQueue(q);
      return { ok: `resumed ${q}` };
    }
    case ControlCommand.ENABLE_EVENTS:
      w.setEvents(true);
      return { ok: "task events enabled" };
    case ControlCommand.DISABLE_EVENTS:
      w.setEvents(false);
      return { ok: "task events disabled" };
    default:
      return { error: `unknown command ${JSON.stringify(command)}` };
  }
}

/**
 * Registered task names, as Celery's `registered`: with `taskinfoitems: ["rate_limit"]` each name
 * is followed by the items it has (`add [rate_limit=10/s]`). Celery's built-ins (celery.map,
 * celery.starmap) are left out, as Celery does.
 */
function registered(w: RemoteWorker, items: unknown): string[] {
  const wanted = new Set(Array.isArray(items) ? items.map(String) : []);
  const out: string[] = [];
  for (const [name, task] of w.tasks) {
    if (name.startsWith("celery.")) continue;
    const info: string[] = [];
    if (wanted.has("rate_limit")) {
      const rate = w.admission.rateOf(task);
      if (rate) info.push(`rate_limit=${rate.text}`);
    }
    if (wanted.has("queue") && task.options.queue) info.push(`queue=${task.options.queue}`);
    out.push(info.length ? `${name} [${info.join(" ")}]` : name);
  }
  return out.sort();
}

function stats(w: RemoteWorker): Record<string, unknown> {
  return {
    total: Object.fromEntries(w.totals),
    pid: w.pid,
    clock: w.clock(),
    uptime: Math.round(w.uptime()),
    pool: poolStats(w),
    prefetch_count: w.concurrency(),
    broker: { transport: w.transport },
    rusage: { maxrss: Math.round(rssBytes() / 1024) },
    loadavg: loadAverage(),
    sw_sys: runtimeName(),
    revoked: w.revoked.size,
    peers: w.peers(),
  };
}

/** Celery's `stats.pool`, plus each child's tasks and memory. */
function poolStats(w: RemoteWorker): Record<string, unknown> {
  const { kind, children } = w.pool();
  if (kind === "async") return { "max-concurrency": w.concurrency(), implementation: "async", processes: [w.pid], "running-threads": 1 };
  return {
    "max-concurrency": w.concurrency(),
    implementation: kind,
    processes: children.map((c) => c.id),
    writes: { total: children.reduce((n, c) => n + c.tasks, 0) },
    children: children.map((c) => ({
      [kind === "process" ? "pid" : "thread"]: c.id,
      tasks: c.tasks,
      memory_kib: c.memoryKiB,
      busy: c.busy,
    })),
  };
}
