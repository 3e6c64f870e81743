/**
 * The monitor's picture of recent tasks, built from task events as Flower builds its own: one
 * entry per task id holding its latest state, what each event told about it, and its timeline.
 * Bounded: the oldest entries go first, and each task keeps its last few state changes.
 */
import type { CeleriacEvent } from "../events/event.ts";

/** One state change of a task, as an event reported it. */
export interface TaskStep {
  type: string;
  state: string;
  /** Epoch seconds. */
  timestamp: number;
  hostname: string;
}

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
  /** The workflow it belongs to (itself for a lone task) and the task that sent it. */
  rootId: string | null;
  parentId: string | null;
  /** The group (or chord header) it is a member of. */
  groupId: string | null;
  /** W3C trace id, when the task was traced. */
  traceId: string | null;
  /** 0–9 when the message carried one. */
  priority: number | null;
  eta: string | null;
  expires: string | null;
  /** Epoch seconds of each step, when seen. */
  sent: number | null;
  received: number | null;
  started: number | null;
  /** When it reached its current state. */
  timestamp: number;
  runtime: number | null;
  /** State changes, oldest first (the last {@link MAX_STEPS}). */
  steps: TaskStep[];
}

/** How many state changes a task keeps (a task retried many times keeps its latest). */
export const MAX_STEPS = 32;

/** Task event type → the state it means (Celery's). */
export const STATE_OF: Record<string, string> = {
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

/** What {@link TaskTable.search} matches; every given field must match. */
export interface TaskQuery {
  state?: string;
  /** Substring of the task name. */
  name?: string;
  /** Substring of the worker's hostname. */
  worker?: string;
  /** Prefix of the task id. */
  id?: string;
  /** Substring of the arguments' or kwargs' text. */
  args?: string;
  rootId?: string;
  offset?: number;
  limit?: number;
}

/** Recent tasks, newest last. */
export class TaskTable {
  #tasks = new Map<string, TaskView>();
  #max: number;
  #counts = new Map<string, number>();
  #listeners = new Set<(t: TaskView, e: CeleriacEvent) => void>();

  constructor(max = 10_000) {
    this.#max = max;
  }

  /** Calls `fn` after each task event taken in; returns the remover. */
  onChange(fn: (t: TaskView, e: CeleriacEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Takes in one event; worker events are ignored here. */
  add(e: CeleriacEvent): void {
    const state = STATE_OF[e.type];
    if (!state || typeof e.uuid !== "string") return;
    this.#counts.set(e.type, (this.#counts.get(e.type) ?? 0) + 1);
    const t = this.#entry(e.uuid, state, e.timestamp);
    if (!(FINAL.has(t.state) && !FINAL.has(state) && e.timestamp <= t.timestamp)) {
      t.state = state;
      t.timestamp = e.timestamp;
    }
    t.steps.push({ type: e.type, state, timestamp: e.timestamp, hostname: e.hostname });
    if (t.steps.length > 1 && t.steps.at(-2)!.timestamp > e.timestamp) t.steps.sort((a, b) => a.timestamp - b.timestamp);
    if (t.steps.length > MAX_STEPS) t.steps.shift();
    this.#fields(t, e);
    for (const fn of this.#listeners) fn(t, e);
  }

  #entry(uuid: string, state: string, timestamp: number): TaskView {
    let t = this.#tasks.get(uuid);
    if (t) {
      // keep insertion order = recency
      this.#tasks.delete(uuid);
      this.#tasks.set(uuid, t);
      return t;
    }
    t = {
      uuid,
      name: null,
      state,
      args: null,
      kwargs: null,
      result: null,
      exception: null,
      traceback: null,
      worker: null,
      queue: null,
      retries: 0,
      rootId: null,
      parentId: null,
      groupId: null,
      traceId: null,
      priority: null,
      eta: null,
      expires: null,
      sent: null,
      received: null,
      started: null,
      timestamp,
      runtime: null,
      steps: [],
    };
    this.#tasks.set(uuid, t);
    if (this.#tasks.size > this.#max) this.#tasks.delete(this.#tasks.keys().next().value!);
    return t;
  }

  #fields(t: TaskView, e: CeleriacEvent): void {
    t.name = str(e.name) ?? t.name;
    t.args = str(e.args) ?? t.args;
    t.kwargs = str(e.kwargs) ?? t.kwargs;
    t.queue = str(e.queue) ?? str(e.routing_key) ?? t.queue;
    t.rootId = str(e.root_id) ?? t.rootId;
    t.parentId = str(e.parent_id) ?? t.parentId;
    t.groupId = str(e.group) ?? t.groupId;
    t.traceId = str(e.trace_id) ?? t.traceId;
    t.eta = str(e.eta) ?? t.eta;
    t.expires = str(e.expires) ?? t.expires;
    if (typeof e.priority === "number") t.priority = e.priority;
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
      if (e.type === "task-failed" && typeof e.runtime === "number") t.runtime = e.runtime;
    }
  }

  /** One task, if seen. */
  get(uuid: string): TaskView | undefined {
    return this.#tasks.get(uuid);
  }

  /** Tasks, newest first, optionally filtered by state and name (substring). */
  list(opts: { state?: string; name?: string; limit?: number } = {}): TaskView[] {
    return this.search(opts).tasks;
  }

  /** A page of tasks matching `q`, newest first, with how many match in all. */
  search(q: TaskQuery = {}): { total: number; tasks: TaskView[] } {
    const offset = Math.max(0, q.offset ?? 0);
    const limit = Math.max(0, q.limit ?? 100);
    const id = q.id?.toLowerCase();
    const tasks: TaskView[] = [];
    let total = 0;
    const all = [...this.#tasks.values()];
    for (let i = all.length - 1; i >= 0; i--) {
      const t = all[i]!;
      if (q.state && t.state !== q.state) continue;
      if (q.name && !(t.name ?? "").includes(q.name)) continue;
      if (q.worker && !(t.worker ?? "").includes(q.worker)) continue;
      if (id && !t.uuid.toLowerCase().startsWith(id)) continue;
      if (q.rootId && (t.rootId ?? t.uuid) !== q.rootId) continue;
      if (q.args && !`${t.args ?? ""} ${t.kwargs ?? ""}`.includes(q.args)) continue;
      if (total >= offset && tasks.length < limit) tasks.push(t);
      total++;
    }
    return { total, tasks };
  }

  /** The tasks a task sent (its children in the canvas), oldest first. */
  children(uuid: string): TaskView[] {
    return [...this.#tasks.values()].filter((t) => t.parentId === uuid && t.uuid !== uuid);
  }

  /**
   * Every task of the workflow `id` belongs to, oldest first: the tasks connected to it by root,
   * parent or group links (a chord's header members share a group, its body names one of them as
   * parent), whichever member's id is given.
   */
  workflow(id: string): TaskView[] {
    const all = [...this.#tasks.values()];
    const links = new Map<string, Set<string>>();
    const link = (a: string | null, b: string) => {
      if (!a || a === b) return;
      for (const [x, y] of [[a, b], [b, a]] as const) {
        let s = links.get(x);
        if (!s) links.set(x, s = new Set());
        s.add(y);
      }
    };
    for (const t of all) {
      link(t.rootId, t.uuid);
      link(t.parentId, t.uuid);
      link(t.groupId && `group:${t.groupId}`, t.uuid);
    }
    const seen = new Set<string>([id]);
    const todo = [id];
    while (todo.length) {
      for (const next of links.get(todo.pop()!) ?? []) {
        if (seen.has(next)) continue;
        seen.add(next);
        todo.push(next);
      }
    }
    return all.filter((t) => seen.has(t.uuid));
  }

  /** Distinct task names seen, sorted. */
  names(): string[] {
    return [...new Set([...this.#tasks.values()].map((t) => t.name).filter((n): n is string => n !== null))].sort();
  }

  /** How many tasks are in each state, and how many events of each type were seen. */
  summary(): { states: Record<string, number>; events: Record<string, number>; tasks: number } {
    const states: Record<string, number> = {};
    for (const t of this.#tasks.values()) states[t.state] = (states[t.state] ?? 0) + 1;
    return { states, events: Object.fromEntries(this.#counts), tasks: this.#tasks.size };
  }
}
