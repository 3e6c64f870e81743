/**
 * The entry of a pool child (a thread or a process started by child-pool.ts). It loads the app
 * module, then runs the handlers its parent sends, one at a time. It holds no connection: what a
 * task sends (`sendTask`, `delay`, canvas) and the states it records go through the parent, which
 * publishes and stores them as its own; results go back as frames.
 */
import { Celeriac } from "../../app.ts";
import { currentTask, type TaskContext } from "../../context.ts";
import { createLogger, type Logger } from "../../log.ts";
import { PROGRESS_STATE, type TaskState } from "../../states.ts";
import { ErrorCode, hasCode, Retry } from "../../errors.ts";
import type { RetryOptions } from "../../context.ts";
import { type ParentChannel, parentChannel } from "../../runtime/children.ts";
import { MessageView } from "../context.ts";
import { type ChildResult, decodeFrame, encodeFrame, type FromChild, fromWire, type ToChild, toWire } from "./protocol.ts";

type Init = Extract<ToChild, { t: "init" }>;
type Run = Extract<ToChild, { t: "run" }>;

/** The child's end: requests to the parent and their replies. */
class Parent {
  #ch: ParentChannel;
  #req = 0;
  #waiting = new Map<number, { resolve(): void; reject(err: Error): void }>();

  constructor(ch: ParentChannel) {
    this.#ch = ch;
  }

  send(frame: FromChild): void {
    this.#ch.send(encodeFrame(frame));
  }

  /** Sends a request and waits for the parent's reply. */
  ask(make: (req: number) => FromChild): Promise<void> {
    const req = ++this.#req;
    return new Promise<void>((resolve, reject) => {
      this.#waiting.set(req, { resolve, reject });
      this.send(make(req));
    });
  }

  replied(req: number, error: Error | null): void {
    const w = this.#waiting.get(req);
    this.#waiting.delete(req);
    if (error) w?.reject(error);
    else w?.resolve();
  }
}

/** A bound task's context in a child: what the message says, plus requests to the parent. */
class ChildTask extends MessageView implements TaskContext {
  readonly #run: Run;
  readonly #parent: Parent;
  readonly #logger: Logger;
  readonly hostname: string;
  readonly abort = new AbortController();
  children: string[] | null = null;
  #log: Logger | null = null;

  constructor(run: Run, parent: Parent, logger: Logger, hostname: string) {
    super(run.message);
    this.#run = run;
    this.#parent = parent;
    this.#logger = logger;
    this.hostname = hostname;
  }

  get queue(): string {
    return this.#run.queue;
  }
  get deliveryCount(): number {
    return this.#run.deliveryCount;
  }
  get signal(): AbortSignal {
    return this.abort.signal;
  }
  get log(): Logger {
    this.#log ??= this.#logger.child(`${this.name}[${this.id}]`);
    return this.#log;
  }

  updateState(state: TaskState, meta?: unknown): Promise<void> {
    return this.#parent.ask((req) => ({ t: "state", req, call: this.#run.call, state, meta: meta ?? null }));
  }

  /** Celery's PROGRESS state, stored and sent to the caller by the parent (as updateState). */
  progress(value: unknown): Promise<void> {
    return this.updateState(PROGRESS_STATE, value);
  }

  /** Lineage hook: the producer records tasks sent from inside this one. */
  addChild(id: string): void {
    (this.children ??= []).push(id);
  }

  retry(o: RetryOptions = {}): Retry {
    return new Retry({
      countdown: o.countdown,
      eta: o.eta instanceof Date ? o.eta.getTime() : o.eta,
      exc: o.exc,
      maxRetries: o.maxRetries,
    });
  }
}

function resultOf(error: unknown, runtimeMs: number): ChildResult {
  if (hasCode(error, ErrorCode.RETRY)) {
    const r = error as Retry;
    return {
      kind: "retry",
      countdown: r.countdown ?? null,
      eta: r.eta ?? null,
      maxRetries: r.maxRetries,
      exc: r.exc === undefined ? null : toWire(r.exc),
      runtimeMs,
    };
  }
  if (hasCode(error, ErrorCode.REJECT)) {
    const e = error as Error & { requeue?: boolean };
    return { kind: "reject", reason: `rejected by the task: ${e.message}`, requeue: Boolean(e.requeue) };
  }
  return { kind: "failure", error: toWire(error), runtimeMs };
}

async function findApp(url: string): Promise<Celeriac> {
  const mod = await import(url) as Record<string, unknown>;
  const found = mod.app ?? mod.default;
  if (!Celeriac.isApp(found)) throw new Error(`${url} exports no Celeriac app: export it as \`app\` or as the default export`);
  return found;
}

/** Runs one task and reports its end. */
async function runTask(app: Celeriac, run: Run, parent: Parent, ch: ParentChannel, ctx: ChildTask): Promise<void> {
  const task = app.tasks.get(run.message.task);
  const started = performance.now();
  let result: ChildResult;
  try {
    if (!task) {
      throw new Error(`task "${run.message.task}" is not registered in this pool child (its parent has it: is the app module the same?)`);
    }
    const value = await currentTask.run(ctx, () => task.call(ctx, run.message.args as never));
    result = { kind: "success", value, runtimeMs: performance.now() - started };
  } catch (error) {
    result = resultOf(error, performance.now() - started);
  }
  const done = (r: ChildResult): FromChild => ({ t: "done", call: run.call, result: r, children: ctx.children, memoryKiB: ch.memoryKiB() });
  try {
    parent.send(done(result));
  } catch (err) {
    // The value cannot cross (a cycle, a RegExp…): the task fails and says why, as it would on the wire.
    parent.send(done({ kind: "failure", error: toWire(err), runtimeMs: performance.now() - started }));
  }
}

function main(ch: ParentChannel): void {
  const parent = new Parent(ch);
  let app: Celeriac | null = null;
  let logger: Logger = createLogger("warning");
  let hostname = "";
  const running = new Map<number, ChildTask>();
  ch.onParentGone(() => ch.exit(0));
  ch.onMessage((bytes) => {
    const frame = decodeFrame<ToChild>(bytes);
    switch (frame.t) {
      case "init":
        void init(frame).then((a) => {
          app = a;
          logger = createLogger(frame.level, { process: frame.processName });
          hostname = frame.hostname;
          parent.send({ t: "ready", tasks: [...a.tasks.keys()] });
        }, (err) => parent.send({ t: "fatal", error: toWire(err) }));
        return;
      case "run": {
        const ctx = new ChildTask(frame, parent, logger, hostname);
        running.set(frame.call, ctx);
        void runTask(app!, frame, parent, ch, ctx).finally(() => running.delete(frame.call));
        return;
      }
      case "abort":
        running.get(frame.call)?.abort.abort(fromWire(frame.reason));
        return;
      case "reply":
        parent.replied(frame.req, frame.error ? fromWire(frame.error) : null);
        return;
      case "exit":
        ch.exit(0);
    }
  });
  async function init(frame: Init): Promise<Celeriac> {
    const a = await findApp(frame.appModule);
    a.configure(frame.config, { role: "worker" });
    a.delegateSends((message, msgId) => parent.ask((req) => ({ t: "publish", req, call: currentCall(), message, msgId })));
    return a;
  }
  /** The call whose handler is sending (0 if none: sent outside any task). */
  function currentCall(): number {
    const here = currentTask.getStore();
    for (const [call, ctx] of running) if (ctx === here) return call;
    return 0;
  }
}

const ch = parentChannel();
if (ch) main(ch);
