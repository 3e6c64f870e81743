/**
 * Picks a worker's execution pool from its options.
 */
import type { Logger, LogLevelName } from "../../log.ts";
import type { TaskMessage } from "../../protocol/message.ts";
import type { CompiledWorkerOptions } from "../options.ts";
import type { ContextDeps } from "../context.ts";
import type { Job } from "../job.ts";
import { AsyncPool } from "./async-pool.ts";
import { ChildPool } from "./child-pool.ts";
import type { ChildConfig } from "./protocol.ts";
import type { TaskPool } from "./types.ts";

export type { ChildInfo, TaskCall, TaskPool } from "./types.ts";

/** What any pool may need from its worker. */
export interface PoolDeps extends ContextDeps {
  log: Logger;
  /** The app settings children apply (subject names, routes). */
  config: ChildConfig;
  /** Publishes a message a task in a child sent. */
  publish(job: Job | null, message: TaskMessage, msgId: string | null): Promise<void>;
}

/** The lowest level `log` prints, for children to log as their worker does. */
function levelOf(log: Logger): LogLevelName {
  const levels: LogLevelName[] = ["debug", "info", "warning", "error", "critical"];
  return levels.find((l) => log.enabledFor(l)) ?? "critical";
}

/** Creates the pool the options name. */
export function createPool(o: CompiledWorkerOptions, deps: PoolDeps): TaskPool {
  if (o.pool === "async") return new AsyncPool(deps);
  return new ChildPool({
    ...deps,
    kind: o.pool,
    appModule: o.appModule!,
    level: levelOf(deps.log),
    size: o.concurrency,
    maxTasksPerChild: o.maxTasksPerChild,
    maxMemoryPerChildKiB: o.maxMemoryPerChildKiB,
  });
}
