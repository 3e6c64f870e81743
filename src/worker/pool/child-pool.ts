/**
 * The `process` and `threads` pools: one child per slot, each running one task at a time (as
 * Celery's prefork). The worker keeps every connection; a child gets a task as a frame, runs its
 * handler, and sends back its end, plus what the task sends or records on the way (published and
 * stored by the worker, in the task's trace).
 *
 * Because a child can be killed, limits are real here: at the hard time limit, on revoke with
 * terminate, the child is killed and replaced; a child that dies by itself costs its task
 * (WorkerLostError, or a redelivery with `rejectOnWorkerLost`), never the worker. A child is also
 * replaced after `maxTasksPerChild` tasks, or after a task that leaves it above `maxMemoryPerChild`.
 */
import type { Logger, LogLevelName } from "../../log.ts";
import type { TaskMessage } from "../../protocol/message.ts";
import { ConfigError, Retry, SoftTimeLimitExceeded, TimeLimitExceeded, WorkerLostError } from "../../errors.ts";
import { type ChildChannel, siblingModule, spawnProcess, spawnThread } from "../../runtime/children.ts";
import type { TaskState } from "../../states.ts";
import { type ContextDeps, RunningTask } from "../context.ts";
import type { Job, Outcome } from "../job.ts";
import {
  type ChildConfig,
  type ChildResult,
  decodeFrame,
  encodeFrame,
  type FromChild,
  fromWire,
  type ToChild,
  toWire,
} from "./protocol.ts";
import type { ChildInfo, TaskCall, TaskPool } from "./types.ts";

/** How long a new child may take to load the app before the pool gives up on it. */
const READY_TIMEOUT_MS = 30_000;
/** How long stop() lets children exit on request before killing them. */
const EXIT_WAIT_MS = 2_000;

/** What a child pool needs from its worker. */
export interface ChildPoolDeps extends ContextDeps {
  kind: "process" | "threads";
  appModule: string;
  config: ChildConfig;
  level: LogLevelName;
  size: number;
  maxTasksPerChild: number | null;
  maxMemoryPerChildKiB: number | null;
  log: Logger;
  /** Publishes what a task in a child sent (in the task's trace, when `job` is known). */
  publish(job: Job | null, message: TaskMessage, msgId: string | null): Promise<void>;
}

interface Pending {
  readonly id: number;
  readonly call: TaskCall;
  readonly ctx: RunningTask;
  readonly started: number;
  timers: ReturnType<typeof setTimeout>[];
  resolve(o: Outcome): void;
}

class Child {
  readonly index: number;
  channel!: ChildChannel;
  tasks = 0;
  memoryKiB = 0;
  running: Pending | null = null;
  ready = false;
  onReady: ((err: Error | null) => void) | null = null;
  /** Resolves once the child is gone. */
  readonly exited: Promise<void>;
  gone!: () => void;
  constructor(index: number) {
    this.index = index;
    this.exited = new Promise<void>((r) => (this.gone = r));
  }
}

/** A pool of child processes or threads. */
export class ChildPool implements TaskPool {
  readonly kind: "process" | "threads";
  #deps: ChildPoolDeps;
  #size: number;
  #children = new Set<Child>();
  #idle: Child[] = [];
  #waiters: { go(c: Child): void; abandon(): void }[] = [];
  #calls = 0;
  #spawned = 0;
  #stopping = false;
  #failing: ReturnType<typeof setTimeout> | null = null;
  #entry = siblingModule("./child.ts", import.meta.url);

  constructor(deps: ChildPoolDeps) {
    this.kind = deps.kind;
    this.#deps = deps;
    this.#size = deps.size;
  }

  /** Starts every child and waits until each has loaded the app. */
  async start(): Promise<void> {
    const first = Array.from({ length: this.#size }, () => this.#spawn());
    const results = await Promise.all(first.map((c) => new Promise<Error | null>((r) => (c.onReady = r))));
    const failed = results.find((e) => e !== null);
    if (failed) {
      await this.stop();
      throw new ConfigError("appModule", `a ${this.kind} pool child could not load ${this.#deps.appModule}: ${failed.message}`, {
        cause: failed,
      });
    }
  }

  run(call: TaskCall): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      const go = (child: Child) => this.#start(child, call, resolve);
      const idle = this.#idle.pop();
      if (idle) go(idle);
      else {
        this.#waiters.push({ go, abandon: () => resolve({ kind: "abandoned" }) });
        this.#fill();
      }
    });
  }

  #start(child: Child, call: TaskCall, resolve: (o: Outcome) => void): void {
    const { job, hardMs, softMs } = call;
    const m = job.message;
    if (job.terminated || job.abandoned) {
      // Revoked (or handed back) while it waited for a child: it must not start now.
      resolve(job.abandoned ? { kind: "abandoned" } : { kind: "revoked", message: m, reason: "terminated" });
      this.#offer(child);
      return;
    }
    const p: Pending = {
      id: ++this.#calls,
      call,
      ctx: new RunningTask(job, this.#deps),
      started: performance.now(),
      timers: [],
      resolve: (o) => {
        for (const t of p.timers) clearTimeout(t);
        resolve(job.abandoned ? { kind: "abandoned" } : o);
      },
    };
    child.running = p;
    if (softMs) {
      p.timers.push(setTimeout(() => {
        const reason = new SoftTimeLimitExceeded(softMs / 1000);
        job.abort.abort(reason);
        child.channel.send(encodeFrame({ t: "abort", call: p.id, reason: toWire(reason) }));
      }, softMs));
    }
    if (hardMs) {
      p.timers.push(setTimeout(() => {
        const error = new TimeLimitExceeded(hardMs / 1000);
        this.#deps.log.error(`Task ${m.task}[${m.id}] passed its hard time limit (${hardMs / 1000}s): killing ${this.#name(child)}`);
        job.abort.abort(error);
        this.#end(child, { kind: "failure", message: m, error, runtimeMs: performance.now() - p.started });
      }, hardMs));
    }
    this.#send(child, { t: "run", call: p.id, queue: job.queue, deliveryCount: job.delivery.deliveryCount, message: m });
  }

  /** Kills a child mid-task and settles its task with `outcome`; a new child takes its place. */
  #end(child: Child, outcome: Outcome): void {
    const p = child.running;
    child.running = null;
    this.#remove(child);
    child.channel.kill();
    p?.resolve(outcome);
    this.#fill();
  }

  kill(job: Job): boolean {
    for (const child of this.#children) {
      const running = child.running?.call.job;
      if (running !== job) continue;
      this.#end(child, { kind: "revoked", message: running.message, reason: "terminated" });
      return true;
    }
    return false;
  }

  resize(size: number): void {
    this.#size = size;
    while (this.#children.size > this.#size && this.#idle.length > 0) this.#retire(this.#idle.pop()!);
    this.#fill();
  }

  children(): ChildInfo[] {
    return [...this.#children].filter((c) => c.ready).map((c) => ({
      id: c.channel.id,
      tasks: c.tasks,
      memoryKiB: c.memoryKiB,
      busy: c.running !== null,
    }));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#failing) clearTimeout(this.#failing);
    for (const w of this.#waiters.splice(0)) w.abandon();
    const all = [...this.#children];
    for (const c of all) {
      if (c.running) c.running.resolve({ kind: "abandoned" });
      this.#send(c, { t: "exit" });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(all.map((c) => c.exited)), new Promise<void>((r) => (timer = setTimeout(r, EXIT_WAIT_MS)))]);
    clearTimeout(timer);
    for (const c of all) c.channel.kill();
    this.#children.clear();
    this.#idle = [];
  }

  #name(c: Child): string {
    return `${this.kind === "process" ? "child process" : "thread"} ${c.channel.id} (${this.#processName(c)})`;
  }

  #processName(c: Child): string {
    return `${this.kind === "process" ? "ForkPoolWorker" : "ThreadPoolWorker"}-${c.index}`;
  }

  #send(c: Child, frame: ToChild): void {
    c.channel.send(encodeFrame(frame));
  }

  /** Starts children until there are as many as slots (unless stopping, or children keep failing to start). */
  #fill(): void {
    while (!this.#stopping && !this.#failing && this.#children.size < this.#size) this.#spawn();
  }

  #spawn(): Child {
    const child = new Child(++this.#spawned);
    const spawn = this.kind === "process" ? spawnProcess : spawnThread;
    child.channel = spawn({ entry: this.#entry, loads: this.#deps.appModule }, {
      message: (bytes) => this.#onFrame(child, decodeFrame<FromChild>(bytes)),
      exit: (why) => this.#onExit(child, why),
    });
    this.#children.add(child);
    const timer = setTimeout(() => {
      if (!child.ready) this.#failed(child, new Error(`not ready after ${READY_TIMEOUT_MS / 1000}s`));
    }, READY_TIMEOUT_MS);
    const prev = child.onReady;
    child.onReady = (err) => {
      clearTimeout(timer);
      prev?.(err);
    };
    const d = this.#deps;
    this.#send(child, {
      t: "init",
      appModule: d.appModule,
      config: d.config,
      level: d.level,
      processName: this.#processName(child),
      hostname: d.hostname,
    });
    return child;
  }

  #failed(child: Child, err: Error): void {
    const cb = child.onReady;
    child.onReady = null;
    this.#remove(child);
    child.channel.kill();
    if (cb) cb(err);
    if (this.#stopping) return;
    // A child that cannot load the app now will not load it a moment later: retry slowly.
    this.#deps.log.error(`${this.#name(child)} could not start: ${err.message}; trying again in 5s`);
    this.#failing = setTimeout(() => {
      this.#failing = null;
      this.#fill();
    }, 5_000);
  }

  #onFrame(child: Child, f: FromChild): void {
    switch (f.t) {
      case "ready": {
        child.ready = true;
        const cb = child.onReady;
        child.onReady = null;
        cb?.(null);
        this.#offer(child);
        return;
      }
      case "fatal":
        this.#failed(child, fromWire(f.error));
        return;
      case "done":
        return this.#done(child, f);
      case "publish":
        return this.#reply(child, f.req, this.#deps.publish(this.#jobOf(child, f.call), f.message, f.msgId));
      case "state": {
        const p = child.running;
        if (!p || p.id !== f.call) return this.#reply(child, f.req, Promise.reject(new Error("the task has ended")));
        return this.#reply(child, f.req, p.ctx.updateState(f.state as TaskState, f.meta));
      }
    }
  }

  #jobOf(child: Child, call: number): Job | null {
    return child.running?.id === call ? child.running.call.job : null;
  }

  #reply(child: Child, req: number, done: Promise<void>): void {
    done.then(
      () => this.#send(child, { t: "reply", req, error: null }),
      (err) => this.#send(child, { t: "reply", req, error: toWire(err) }),
    );
  }

  #done(child: Child, f: Extract<FromChild, { t: "done" }>): void {
    const p = child.running;
    if (!p || p.id !== f.call) return;
    child.running = null;
    child.tasks++;
    child.memoryKiB = f.memoryKiB;
    if (f.children) p.call.job.addChildren(f.children);
    p.resolve(outcomeOf(f.result, p.call.job.message));
    const d = this.#deps;
    if (d.maxTasksPerChild !== null && child.tasks >= d.maxTasksPerChild) {
      d.log.info(`${this.#name(child)} ran ${child.tasks} tasks (maxTasksPerChild): replacing it`);
      this.#retire(child);
    } else if (d.maxMemoryPerChildKiB !== null && child.memoryKiB > d.maxMemoryPerChildKiB) {
      d.log.warn(`${this.#name(child)} uses ${child.memoryKiB} KiB, over maxMemoryPerChild (${d.maxMemoryPerChildKiB} KiB): replacing it`);
      this.#retire(child);
    } else if (this.#children.size > this.#size) {
      this.#retire(child); // the pool shrank while it was busy
    } else {
      this.#offer(child);
    }
    this.#fill();
  }

  /** An idle child: to whoever waits, or into the idle list. */
  #offer(child: Child): void {
    if (this.#stopping || !this.#children.has(child)) return;
    const waiter = this.#waiters.shift();
    if (waiter) waiter.go(child);
    else this.#idle.push(child);
  }

  /** Asks an idle child to exit; it no longer counts. */
  #retire(child: Child): void {
    this.#remove(child);
    this.#send(child, { t: "exit" });
  }

  #remove(child: Child): void {
    this.#children.delete(child);
    const i = this.#idle.indexOf(child);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  #onExit(child: Child, why: string): void {
    child.gone();
    const known = this.#children.has(child);
    this.#remove(child);
    if (!child.ready && child.onReady) {
      this.#failed(child, new Error(why));
      return;
    }
    const p = child.running;
    child.running = null;
    if (p) {
      const m = p.call.job.message;
      const lost = `${this.#name(child)} ${why} while running ${m.task}[${m.id}]`;
      this.#deps.log.error(lost);
      p.resolve(
        p.call.job.task.options.rejectOnWorkerLost
          ? { kind: "reject", message: m, reason: lost, requeue: true }
          : { kind: "failure", message: m, error: new WorkerLostError(lost), runtimeMs: performance.now() - p.started },
      );
    } else if (known && !this.#stopping) {
      this.#deps.log.warn(`${this.#name(child)} ${why}; replacing it`);
    }
    this.#fill();
  }
}

/** A child's result, of running `message`, as the outcome settle reads. */
function outcomeOf(r: ChildResult, message: TaskMessage): Outcome {
  switch (r.kind) {
    case "success":
      return { kind: "success", message, value: r.value, runtimeMs: r.runtimeMs };
    case "failure":
      return { kind: "failure", message, error: fromWire(r.error), runtimeMs: r.runtimeMs };
    case "retry": {
      const retry = new Retry({
        countdown: r.countdown ?? undefined,
        eta: r.eta ?? undefined,
        exc: r.exc ? fromWire(r.exc) : undefined,
        maxRetries: r.maxRetries,
      });
      return { kind: "retry", message, retry, runtimeMs: r.runtimeMs };
    }
    case "reject":
      return { kind: "reject", message, reason: r.reason, requeue: r.requeue };
  }
}
