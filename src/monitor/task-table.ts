/**
 * The monitor's picture of recent tasks, built from task events as Flower builds its own: one
 * entry per task id holding its latest state and what each event told about it. Bounded: the
 * oldest entries go first.
 */
import type { CeleriacEvent } from "../events/event.ts";

/** What the monitor knows of one task. */
export interface TaskView {
  uuid: string;
  name: string | null;
  state: string;
  args: string | null;
  kwargs: string | null;
  result: string | null;
  exception: string | null;
  traceback: string | null;
  worker: string | null;
  queue: string | null;
  retries: number;
  /** Epoch seconds of each step, when seen. */
  sent: number | null;
  received: number | null;
  started: number | null;
  /** When it reached its current state. */
  timestamp: number;
  runtime: number | null;
}

/** Task event type → the state it means (Celery's). */
const STATE_OF: Record<string, string> = {
  "task-sent": "PENDING",
  "task-received": "RECEIVED",
  "task-started": "STARTED",
  "task-succeeded": "SUCCESS",
  "task-failed": "FAILURE",
  "task-retried": "RETRY",
  "task-revoked": "REVOKED",
  "task-rejected": "REJECTED",
};

/** States after which a later "earlier" event (arriving out of order) must not move a task back. */
const FINAL = new Set(["SUCCESS", "FAILURE", "REVOKED", "REJECTED"]);

const str = (v: unknown): string | null => (v === undefined || v === null ? null : String(v));

/** Recent tasks, newest last. */
export class TaskTable {
  #tasks = new Map<string, TaskView>();
  #max: number;
  #counts = new Map<string, number>();

  constructor(max = 10_000) {
    this.#max = max;
  }

  /** Takes in one event; worker events are ignored here. */
  add(e: CeleriacEvent): void {
    const state = STATE_OF[e.type];
    if (!state || typeof e.uuid !== "string") return;
    this.#counts.set(e.type, (this.#counts.get(e.type) ?? 0) + 1);
    let t = this.#tasks.get(e.uuid);
    if (!t) {
      t = {
        uuid: e.uuid, name: null, state, args: null, kwargs: null, result: null, exception: null, traceback: null,
        worker: null, queue: null, retries: 0, sent: null, received: null, started: null, timestamp: e.timestamp, runtime: null,
      };
      this.#tasks.set(e.uuid, t);
      if (this.#tasks.size > this.#max) this.#tasks.delete(this.#tasks.keys().next().value!);
    } else {
      // keep insertion order = recency
      this.#tasks.delete(e.uuid);
      this.#tasks.set(e.uuid, t);
    }
    if (!(FINAL.has(t.state) && !FINAL.has(state) && e.timestamp <= t.timestamp)) {
      t.state = state;
      t.timestamp = e.timestamp;
    }
    t.name = str(e.name) ?? t.name;
    t.args = str(e.args) ?? t.args;
    t.kwargs = str(e.kwargs) ?? t.kwargs;
    t.queue = str(e.queue) ?? str(e.routing_key) ?? t.queue;
    if (e.type !== "task-sent") t.worker = e.hostname ?? t.worker;
    if (typeof e.retries === "number") t.retries = e.retries;
    if (e.type === "task-sent") t.sent = e.timestamp;
    if (e.type === "task-received") t.received = e.timestamp;
    if (e.type === "task-started") t.started = e.timestamp;
    if (e.type === "task-succeeded") {
      t.result = str(e.result);
      if (typeof e.runtime === "number") t.runtime = e.runtime;
    }
    if (e.type === "task-failed" || e.type === "task-retried" || e.type === "task-rejected" || e.type === "task-revoked") {
      t.exception = str(e.exception) ?? str(e.reason) ?? t.exception;
      t.traceback = str(e.traceback) ?? t.traceback;
    }
  }

  /** One task, if seen. */
  get(uuid: string): TaskView | undefined {
    return this.#tasks.get(uuid);
  }

  /** Tasks, newest first, optionally filtered by state and name (substring). */
  list(opts: { state?: string; name?: string; limit?: number } = {}): TaskView[] {
    const out: TaskView[] = [];
    const all = [...this.#tasks.values()];
    for (let i = all.length - 1; i >= 0 && out.length < (opts.limit ?? 100); i--) {
      const t = all[i]!;
      if (opts.state && t.state !== opts.state) continue;
      if (opts.name && !(t.name ?? "").includes(opts.name)) continue;
      out.push(t);
    }
    return out;
  }

  /** How many tasks are in each state, and how many events of each type were seen. */
  summary(): { states: Record<string, number>; events: Record<string, number>; tasks: number } {
    const states: Record<string, number> = {};
    for (const t of this.#tasks.values()) states[t.state] = (states[t.state] ?? 0) + 1;
    return { states, events: Object.fromEntries(this.#counts), tasks: this.#tasks.size };
  }
}
