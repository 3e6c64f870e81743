/**
 * The delayed-task mover actor. Every worker runs one, and they elect a single active mover
 * through a lease (`<p>_locks`, key `mover`): the mover costs nothing to deploy (no extra process
 * to run or forget), and moves keep happening as long as any worker lives. A second mover active
 * during a lease handover is harmless — moved messages keep their ids and are deduplicated — the
 * lease only avoids doing the work twice.
 */
import type { Broker } from "../broker/types.ts";
import type { Names } from "../names.ts";
import type { Logger } from "../log.ts";
import { type ActorBody, sleep } from "../actor.ts";
import { Lease } from "../lease.ts";

/** Passes run on these boundaries (the broker's due-time buckets are as wide). */
const TICK_MS = 100;

/** What the mover needs. */
export interface MoverDeps {
  broker: Broker;
  names: Names;
  log: Logger;
  holder: string;
  leaseMs: number;
  /** Reports a failed pass; the mover tries again next tick. */
  report(err: Error): void;
}

/** Builds the mover actor's body. */
export function moverActor(deps: MoverDeps): ActorBody {
  return async (signal) => {
    const kv = await deps.broker.kv(deps.names.locksBucket, { ttlMs: deps.leaseMs });
    const lease = new Lease(kv, "mover", {
      ttlMs: deps.leaseMs,
      holder: deps.holder,
      log: deps.log,
      onChange: (held) => deps.log.info(held ? "moving due delayed tasks (mover lease won)" : "no longer the delayed-task mover"),
    });
    const election = lease.run(signal);
    try {
      while (!signal.aborted) {
        if (lease.held) {
          try {
            const r = await deps.broker.moveDue(Date.now());
            if (r.moved > 0) deps.log.debug(`moved ${r.moved} due task(s) from ${r.buckets} bucket(s)`);
          } catch (err) {
            deps.report(err as Error);
          }
        }
        // Wake just after the next bucket boundary, when another bucket has fully passed.
        await sleep((Math.floor(Date.now() / TICK_MS) + 1) * TICK_MS + 5 - Date.now(), signal);
      }
    } finally {
      await election;
      await lease.release();
    }
  };
}
