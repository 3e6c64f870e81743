/**
 * A worker's consume path, assembled: the pool (where handlers run), the executor (one delivery
 * to its outcome) and the settler (the outcome to its consequences).
 */
import type { Broker } from "../broker/types.ts";
import type { ResultBackend } from "../backend/types.ts";
import type { Emitter } from "../emitter.ts";
import type { MessageSigning } from "../security/load.ts";
import { withContext } from "../tracing.ts";
import type { Logger } from "../log.ts";
import type { ContextDeps } from "./context.ts";
import { Executor } from "./executor.ts";
import type { Job, KnownJob, Outcome } from "./job.ts";
import type { TaskObservers } from "./observe.ts";
import type { CompiledWorkerOptions } from "./options.ts";
import { createPool, type TaskPool } from "./pool/mod.ts";
import { taskEvent } from "./report.ts";
import { Settler } from "./settle.ts";
import { TracedBackend } from "./traced.ts";
import type { WorkerEvents, WorkerHost } from "./types.ts";

/** What the pipeline reads from its worker. */
export interface PipelineHost {
  host: WorkerHost;
  options: CompiledWorkerOptions;
  broker: Broker;
  backend: ResultBackend;
  signing: MessageSigning | null;
  /** The worker's logger (its `logger` option, or the app's). */
  log: Logger;
  /** Sends a task's progress notice to its caller. */
  notify: ContextDeps["notify"];
  obs: TaskObservers;
  emitter: Emitter<WorkerEvents>;
  /** Whether the task may start now, or the outcome that replaces it (rate limits, permits). */
  admit(job: KnownJob): Promise<Outcome | null> | null;
  /** Called as a task starts (the `taskPrerun` signal). */
  started(job: KnownJob): void;
  isRevoked(id: string): boolean;
  onSettled(job: Job, outcome: Outcome, state: string | null): void;
}

/** The pool, executor and settler of a worker. */
export function pipeline(h: PipelineHost): { pool: TaskPool; executor: Executor; settler: Settler } {
  const { host, options: o, backend, obs, emitter } = h;
  const cfg = host.config;
  const log = h.log;
  const producer = host.producer;
  const pool = createPool(o, {
    backend,
    hostname: o.hostname,
    log,
    resultExtended: cfg.resultExtended,
    notify: h.notify,
    config: { brokerUrl: cfg.brokerUrl, resultBackend: cfg.resultBackend, name: cfg.name },
    // What a task in a child sends goes out here, in the task's trace.
    publish: (job, m, msgId) => {
      const send = () => producer.publish(m, msgId === null ? {} : { msgId });
      return job?.trace ? withContext(job.trace.context, send) : send();
    },
  });
  const executor = new Executor({
    tasks: host.tasks,
    backend,
    hostname: o.hostname,
    log,
    resultExtended: cfg.resultExtended,
    notify: h.notify,
    onReceived: (job) => {
      if (!job.task.options.acksLate) job.delivery.ack();
      if (obs.observed) obs.received(job);
      if (emitter.has("task-received")) emitter.emit("task-received", taskEvent(job));
    },
    onStarted: (job) => {
      h.started(job);
      if (obs.observed) obs.started(job);
      if (emitter.has("task-started")) emitter.emit("task-started", taskEvent(job));
    },
    isRevoked: h.isRevoked,
    admit: h.admit,
    signing: h.signing,
    maxMessageBytes: o.maxMessageBytes,
    pool,
    timeLimitMs: o.timeLimitMs,
    softTimeLimitMs: o.softTimeLimitMs,
  });
  const settler = new Settler({
    broker: h.broker,
    // Result writes become child spans of the task's span when traced.
    backend: cfg.tracing.enabled ? new TracedBackend(backend) : backend,
    producer,
    hostname: o.hostname,
    log,
    resultExtended: cfg.resultExtended,
    onSettled: h.onSettled,
  });
  return { pool, executor, settler };
}
