/**
 * `WAIT` for replicas after a write, shared by the writes of one tick.
 *
 * Redis `WAIT n timeout` blocks the connection until every write this connection made before it
 * reached `n` replicas (or the timeout passed) and answers how many did. A caller asks after its
 * write has been answered, so any `WAIT` sent from then on covers it: callers whose writes were
 * answered together share one `WAIT`, sent a microtask later (ioredis then pipelines it with the
 * tick's other commands). A second `WAIT` queued behind a blocked one returns at once if its
 * writes are already acknowledged, so sharing saves commands, never correctness.
 *
 * A `WAIT` only speaks for its own connection: ioredis resends a command cut off by a reconnect,
 * and on the new connection (after a failover, to the new master) `WAIT` has no writes to wait
 * for and answers at once with the count of replicas. So the connection is checked too: a write
 * answered on an earlier connection than the `WAIT`'s answer counts as not replicated.
 */
import { CeleriacError, ErrorCode } from "../errors.ts";

/** Sends `WAIT numreplicas timeout` on the connection that made the writes; resolves with the count. */
export type WaitCommand = (replicas: number, timeoutMs: number) => Promise<number>;

/** Waits until earlier writes reached the replicas, coalescing callers. */
export class ReplicaWait {
  readonly #wait: WaitCommand;
  readonly #replicas: number;
  readonly #timeoutMs: number;
  readonly #connection: () => number;
  /** The `WAIT` not sent yet, which callers of this tick join. */
  #open: Promise<number> | null = null;

  /** `connection()` numbers the client's connections: it changes on every (re)connect. */
  constructor(wait: WaitCommand, replicas: number, timeoutMs: number, connection: () => number) {
    this.#wait = wait;
    this.#connection = connection;
    this.#replicas = replicas;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Resolves once writes answered before this call reached the replicas; throws a retryable
   * `UNAVAILABLE` error naming `what` if fewer acknowledged in time (the write itself stays on the
   * master, and rewriting it is harmless: results and joins are idempotent).
   */
  async replicated(what: string): Promise<void> {
    const wroteOn = this.#connection();
    this.#open ??= Promise.resolve().then(() => {
      this.#open = null;
      return this.#wait(this.#replicas, this.#timeoutMs);
    });
    const acked = await this.#open;
    if (this.#connection() !== wroteOn) {
      throw new CeleriacError(
        ErrorCode.UNAVAILABLE,
        `${what} was written before a reconnect to the result backend; whether a replica has it is unknown, so it will be written again`,
      );
    }
    if (acked < this.#replicas) {
      throw new CeleriacError(
        ErrorCode.UNAVAILABLE,
        `${what} reached ${acked} of ${this.#replicas} replica(s) within ${this.#timeoutMs} ms (backend.waitReplicas); ` +
          `it stays on the master and will be written again`,
      );
    }
  }
}
