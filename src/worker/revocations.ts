/**
 * Revocations on a worker: the ids it refuses (synced from KV `<p>_revoked` at start and after a
 * reconnection, added by the control broadcast), and terminate — abort a running task's
 * `ctx.signal` (and kill its child, in the process and threads pools), record REVOKED, free its slot.
 */
import type { Broker } from "../broker/types.ts";
import type { CompiledAppOptions } from "../options.ts";
import type { Logger } from "../log.ts";
import { RevokedIds } from "../control/revoked.ts";
import { TaskRevokedError } from "../errors.ts";
import { withContext } from "../tracing.ts";
import { endSpan } from "./traced.ts";
import type { Job, KnownJob } from "./job.ts";

/** What revocations need from their worker. */
export interface RevocationsDeps {
  config: CompiledAppOptions;
  log: Logger;
  /** Settles a terminated job as REVOKED (the worker's Settler). */
  settleTerminated(job: KnownJob): Promise<void>;
  /** Frees a job's slot (idempotent). */
  release(job: Job): void;
  /** Stops the job's handler where the pool can (a child is killed); false where it cannot. */
  kill(job: Job): boolean;
}

/** A worker's revocations. */
export class Revocations {
  /** Ids this worker refuses. */
  readonly ids: RevokedIds;
  #deps: RevocationsDeps;

  constructor(deps: RevocationsDeps) {
    this.#deps = deps;
    this.ids = new RevokedIds(deps.config.revokeExpiresMs);
  }

  /** Loads what KV holds (Celery's mingle, and again after a reconnection). */
  async sync(broker: Broker): Promise<void> {
    const cfg = this.#deps.config;
    const kv = await broker.kv(cfg.names.revokedBucket, { ttlMs: cfg.revokeExpiresMs });
    const n = await this.ids.load(kv);
    if (n > 0) this.#deps.log.info(`synced ${n} revoked task id(s)`);
  }

  /** Revokes `ids` here; with `terminate`, aborts their running copies. Returns those ids. */
  revoke(ids: string[], terminate: boolean, inFlight: Iterable<Job>): string[] {
    for (const id of ids) this.ids.add(id);
    if (!terminate) return [];
    const hit: string[] = [];
    for (const job of inFlight) {
      if (!job.isKnown() || !ids.includes(job.message.id)) continue;
      // False for a job in settle (it has finished: terminating it now would settle it twice), or
      // one terminated already.
      if (!job.terminate(new TaskRevokedError(job.message.id, "terminated"))) continue;
      hit.push(job.message.id);
      void this.#terminate(job);
    }
    return hit;
  }

  /**
   * In the process and threads pools the child running it is killed (and replaced). In the async
   * pool the handler may still be running JavaScript: the job is terminated, so whatever it
   * returns is dropped, and its slot is freed now.
   */
  async #terminate(job: KnownJob): Promise<void> {
    this.#deps.kill(job);
    const settle = () => this.#deps.settleTerminated(job);
    try {
      await (job.trace ? withContext(job.trace.context, settle) : settle());
    } finally {
      this.#deps.release(job);
      const trace = job.takeTrace();
      if (trace) endSpan(trace, job.message);
    }
  }
}
