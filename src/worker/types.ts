/**
 * The worker's public types: what it needs from its app, its lifecycle states, its events.
 */
import type { Broker } from "../broker/types.ts";
import type { ResultBackend } from "../backend/types.ts";
import type { CompiledAppOptions } from "../options.ts";
import type { Producer } from "../producer.ts";
import type { Task } from "../task.ts";
import type { Logger } from "../log.ts";
import type { MessageSigning } from "../security/load.ts";
import type { TaskEvent } from "./report.ts";
import type { Signals } from "../signals.ts";

export type { TaskEvent };

/** What a worker needs from its app. */
export interface WorkerHost {
  readonly config: CompiledAppOptions;
  broker(): Promise<Broker>;
  backend(): Promise<ResultBackend>;
  readonly producer: Producer;
  readonly tasks: ReadonlyMap<string, Task>;
  readonly log: Logger;
  /** Signing keys (read on first call); null when signing is off. */
  signing(): MessageSigning | null;
  /** The app's signals (task hooks and signals fire through them). */
  readonly signals: Signals;
}

/** Lifecycle states. */
export const WorkerState = {
  CREATED: "created",
  STARTING: "starting",
  RUNNING: "running",
  DRAINING: "draining",
  STOPPED: "stopped",
  FAILED: "failed",
} as const;
/** A lifecycle state. */
export type WorkerState = typeof WorkerState[keyof typeof WorkerState];

/** Events a worker emits. Listeners cannot break the worker. */
export interface WorkerEvents extends Record<string, unknown> {
  state: WorkerState;
  /** Background trouble (broker hiccups, failed writes that will be retried). */
  error: Error;
  "task-received": TaskEvent;
  "task-started": TaskEvent;
  "task-settled": TaskEvent;
}

/** Options of {@link Worker.stop}. */
export interface StopOptions {
  /** Seconds running tasks get to finish; default the worker's grace period, 0 = cold. */
  grace?: number;
}
