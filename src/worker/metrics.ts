/**
 * The worker's Prometheus metrics (text exposition format 0.0.4). Counters are kept per task name
 * in plain objects made once per name, so counting a task allocates nothing.
 */
import { State } from "../states.ts";

/** Upper bounds of the runtime histogram, seconds. */
export const RUNTIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const;

interface TaskCounters {
  received: number;
  succeeded: number;
  failed: number;
  retried: number;
  revoked: number;
  rejected: number;
  /** Histogram: counts per bucket (not cumulative), then +Inf. */
  buckets: number[];
  runtimeSum: number;
  runtimeCount: number;
}

/** Queue figures read at scrape time. */
export interface QueueLag {
  queue: string;
  consumer: string;
  /** Messages waiting to be delivered. */
  pending: number;
  /** Delivered, not yet acked (all workers). */
  unacked: number;
}

/** Gauges read at scrape time. */
export interface WorkerGauges {
  active: number;
  concurrency: number;
  queues: QueueLag[];
  up: boolean;
}

/** Counters of one worker. */
export class WorkerMetrics {
  #tasks = new Map<string, TaskCounters>();
  /** Broker reconnections since start. */
  reconnects = 0;

  #of(name: string): TaskCounters {
    let c = this.#tasks.get(name);
    if (!c) {
      c = {
        received: 0,
        succeeded: 0,
        failed: 0,
        retried: 0,
        revoked: 0,
        rejected: 0,
        buckets: new Array(RUNTIME_BUCKETS.length + 1).fill(0),
        runtimeSum: 0,
        runtimeCount: 0,
      };
      this.#tasks.set(name, c);
    }
    return c;
  }

  /** A task was received. */
  received(name: string): void {
    this.#of(name).received++;
  }

  /** A task settled in `state` after running `runtimeMs` (when it ran). */
  settled(name: string, state: string | null, runtimeMs: number | undefined): void {
    const c = this.#of(name);
    if (state === State.SUCCESS) c.succeeded++;
    else if (state === State.FAILURE) c.failed++;
    else if (state === State.RETRY) c.retried++;
    else if (state === State.REVOKED) c.revoked++;
    else if (state === State.REJECTED) c.rejected++;
    if (runtimeMs !== undefined) {
      const s = runtimeMs / 1000;
      let i = 0;
      while (i < RUNTIME_BUCKETS.length && s > RUNTIME_BUCKETS[i]!) i++;
      c.buckets[i]!++;
      c.runtimeSum += s;
      c.runtimeCount++;
    }
  }

  /** Renders every metric in Prometheus text format. */
  render(g: WorkerGauges): string {
    const out: string[] = [];
    const counter = (name: string, help: string, pick: (c: TaskCounters) => number) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [task, c] of this.#tasks) out.push(`${name}{task="${label(task)}"} ${pick(c)}`);
    };
    counter("celeriac_tasks_received_total", "Tasks received by this worker.", (c) => c.received);
    counter("celeriac_tasks_succeeded_total", "Tasks that succeeded.", (c) => c.succeeded);
    counter("celeriac_tasks_failed_total", "Tasks that failed (FAILURE).", (c) => c.failed);
    counter("celeriac_tasks_retried_total", "Tasks that asked to be retried.", (c) => c.retried);
    counter("celeriac_tasks_revoked_total", "Tasks revoked, expired or terminated.", (c) => c.revoked);
    counter("celeriac_tasks_rejected_total", "Messages rejected (dead-lettered).", (c) => c.rejected);
    out.push("# HELP celeriac_task_runtime_seconds Time tasks ran.", "# TYPE celeriac_task_runtime_seconds histogram");
    for (const [task, c] of this.#tasks) {
      const t = label(task);
      let cum = 0;
      RUNTIME_BUCKETS.forEach((le, i) => {
        cum += c.buckets[i]!;
        out.push(`celeriac_task_runtime_seconds_bucket{task="${t}",le="${le}"} ${cum}`);
      });
      out.push(`celeriac_task_runtime_seconds_bucket{task="${t}",le="+Inf"} ${c.runtimeCount}`);
      out.push(`celeriac_task_runtime_seconds_sum{task="${t}"} ${c.runtimeSum}`);
      out.push(`celeriac_task_runtime_seconds_count{task="${t}"} ${c.runtimeCount}`);
    }
    out.push("# HELP celeriac_tasks_active Tasks running now.", "# TYPE celeriac_tasks_active gauge", `celeriac_tasks_active ${g.active}`);
    out.push(
      "# HELP celeriac_worker_concurrency Slots of this worker.",
      "# TYPE celeriac_worker_concurrency gauge",
      `celeriac_worker_concurrency ${g.concurrency}`,
    );
    out.push(
      "# HELP celeriac_queue_lag_messages Messages waiting in the queue for its consumer.",
      "# TYPE celeriac_queue_lag_messages gauge",
    );
    for (const q of g.queues) {
      out.push(`celeriac_queue_lag_messages{queue="${label(q.queue)}",consumer="${label(q.consumer)}"} ${q.pending}`);
    }
    out.push(
      "# HELP celeriac_queue_unacked_messages Messages delivered and not yet acknowledged, across workers.",
      "# TYPE celeriac_queue_unacked_messages gauge",
    );
    for (const q of g.queues) {
      out.push(`celeriac_queue_unacked_messages{queue="${label(q.queue)}",consumer="${label(q.consumer)}"} ${q.unacked}`);
    }
    out.push(
      "# HELP celeriac_broker_reconnects_total Reconnections to the broker.",
      "# TYPE celeriac_broker_reconnects_total counter",
      `celeriac_broker_reconnects_total ${this.reconnects}`,
    );
    out.push(
      "# HELP celeriac_broker_connected 1 while connected to the broker.",
      "# TYPE celeriac_broker_connected gauge",
      `celeriac_broker_connected ${g.up ? 1 : 0}`,
    );
    return out.join("\n") + "\n";
  }
}

/** Escapes a label value (backslash, quote, newline). */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
