/**
 * The caller's side of remote control (Celery's `app.control` and `app.control.inspect()`):
 * scatter a command, gather replies keyed by worker until the timeout (or until every named
 * destination answered).
 */
import type { Broker } from "../broker/types.ts";
import type { CompiledAppOptions } from "../options.ts";
import { InvalidArgumentError } from "../errors.ts";
import { ControlCommand, type ControlReply, type ControlRequest, decodeControl, encodeControl } from "./protocol.ts";
import { persistRevoked } from "./revoked.ts";
import { listPaused, setPaused } from "./paused.ts";
import { checkQueueName } from "../names.ts";

/** Options of every control call. */
export interface BroadcastOptions {
  /** Only these workers (by name) act and answer. @default every worker */
  destination?: string[];
  /** Seconds to wait for replies. @default 1 */
  timeout?: number;
  /** Stop waiting after this many replies. @default the number of destinations, else no limit */
  limit?: number;
  /** Called as each reply arrives (progress output). */
  onReply?(hostname: string, reply: unknown): void;
}

/** Replies keyed by worker name. */
export type Replies<T = unknown> = Record<string, T>;

/** What the control client needs from its app. */
export interface ControlHost {
  readonly config: CompiledAppOptions;
  broker(): Promise<Broker>;
  /** A unique subject prefix for this client's replies. */
  controlReplyPrefix(): string;
}

/** Sends control commands and inspect queries to workers. */
export class Control {
  #host: ControlHost;
  #ticket = 0;

  constructor(host: ControlHost) {
    this.#host = host;
  }

  /** Sends `command` and gathers the replies. */
  async broadcast<T = unknown>(command: string, args: Record<string, unknown> = {}, opts: BroadcastOptions = {}): Promise<Replies<T>> {
    const timeout = opts.timeout ?? 1;
    if (typeof timeout !== "number" || !(timeout >= 0)) throw new InvalidArgumentError("timeout", "must be seconds ≥ 0");
    const broker = await this.#host.broker();
    const names = this.#host.config.names;
    const ticket = `${Date.now().toString(36)}.${++this.#ticket}`;
    const replyTo = `${this.#host.controlReplyPrefix()}.${this.#ticket}`;
    const destination = opts.destination && opts.destination.length > 0 ? opts.destination : null;
    const limit = opts.limit ?? destination?.length ?? Infinity;
    const replies: Replies<T> = {};
    let count = 0;
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const off = broker.subscribe(replyTo, (data) => {
      const r = decodeControl<ControlReply>(data);
      if (!r || r.ticket !== ticket || typeof r.hostname !== "string" || r.hostname in replies) return;
      replies[r.hostname] = r.reply as T;
      opts.onReply?.(r.hostname, r.reply);
      if (++count >= limit) finish();
    });
    const timer = setTimeout(finish, timeout * 1000);
    try {
      const req: ControlRequest = { command, arguments: args, reply_to: replyTo, ticket, destination };
      const bytes = encodeControl(req);
      if (destination) { for (const w of destination) broker.notify(names.controlSubject(w), bytes); }
      else broker.notify(names.controlBroadcast, bytes);
      await done;
    } finally {
      clearTimeout(timer);
      off();
    }
    return replies;
  }

  /** `inspect ping`: `{ worker: { ok: "pong" } }`. */
  ping(opts?: BroadcastOptions): Promise<Replies<{ ok: string }>> {
    return this.broadcast(ControlCommand.PING, {}, opts);
  }

  /** Tasks running now, per worker. */
  active(opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.ACTIVE, {}, opts);
  }

  /** Tasks received and waiting to run (held by a rate limit), per worker. */
  reserved(opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.RESERVED, {}, opts);
  }

  /** ETA tasks held by workers: always empty lists, since delayed tasks wait in the broker. */
  scheduled(opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.SCHEDULED, {}, opts);
  }

  /**
   * Registered task names, per worker; with `taskinfoitems` (Celery's: `"rate_limit"`, `"queue"`)
   * each name is followed by those items, `add [rate_limit=10/s]`.
   */
  registered(opts?: BroadcastOptions & { taskinfoitems?: string[] }): Promise<Replies<string[]>> {
    const { taskinfoitems, ...rest } = opts ?? {};
    return this.broadcast(ControlCommand.REGISTERED, taskinfoitems ? { taskinfoitems } : {}, rest);
  }

  /** Worker statistics (Celery's `stats` shape). */
  stats(opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.STATS, {}, opts);
  }

  /** Revoked ids each worker knows. */
  revoked(opts?: BroadcastOptions): Promise<Replies<string[]>> {
    return this.broadcast(ControlCommand.REVOKED, {}, opts);
  }

  /** Where these tasks are: `{ worker: { id: [state, info] } }`. */
  queryTask(ids: string | string[], opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.QUERY_TASK, { ids: [ids].flat() }, opts);
  }

  /** Queues each worker consumes. */
  activeQueues(opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.ACTIVE_QUEUES, {}, opts);
  }

  /**
   * Revokes tasks: persisted in KV `<p>_revoked` first (so a worker started later refuses them
   * too), then broadcast. With `terminate`, a running copy's `ctx.signal` aborts and it is
   * recorded REVOKED.
   */
  async revoke(ids: string | string[], opts: BroadcastOptions & { terminate?: boolean; signal?: string } = {}): Promise<Replies> {
    const list = [ids].flat();
    if (list.length === 0 || list.some((id) => typeof id !== "string" || id === "")) {
      throw new InvalidArgumentError("ids", "must be one or more task ids");
    }
    const broker = await this.#host.broker();
    const kv = await broker.kv(this.#host.config.names.revokedBucket, { ttlMs: this.#host.config.revokeExpiresMs });
    await persistRevoked(kv, list, Boolean(opts.terminate));
    return await this.broadcast(
      ControlCommand.REVOKE,
      { task_id: list, terminate: Boolean(opts.terminate), signal: opts.signal ?? null },
      opts,
    );
  }

  /**
   * Sets a task's rate limit on the workers (`"10/s"`; `null` or `0` removes it): each worker's own
   * (`rateLimit`), or with `global: true` the cluster-wide one (`globalRateLimit`). Like Celery's,
   * the change holds for the workers running now, until they restart.
   */
  rateLimit(task: string, rate: string | number | null, opts: BroadcastOptions & { global?: boolean } = {}): Promise<Replies> {
    const { global, ...rest } = opts;
    return this.broadcast(ControlCommand.RATE_LIMIT, { task_name: task, rate_limit: rate, ...(global ? { global: true } : {}) }, rest);
  }

  /** Asks workers to shut down warmly. */
  shutdown(opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.SHUTDOWN, {}, opts);
  }

  /** Adds `n` slots. */
  poolGrow(n = 1, opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.POOL_GROW, { n }, opts);
  }

  /** Removes `n` slots (as running tasks finish). */
  poolShrink(n = 1, opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.POOL_SHRINK, { n }, opts);
  }

  /** Autoscales workers' pools between `min` and `max` slots (Celery's `autoscale`). */
  autoscale(max: number, min: number, opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.AUTOSCALE, { max, min }, opts);
  }

  /** Starts consuming `queue`. */
  addConsumer(queue: string, opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.ADD_CONSUMER, { queue }, opts);
  }

  /** Stops consuming `queue` (running tasks finish). */
  cancelConsumer(queue: string, opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.CANCEL_CONSUMER, { queue }, opts);
  }

  /**
   * Pauses `queue` for every worker, persistently: recorded in KV `<p>_paused` first (so a worker
   * started later holds off too), then broadcast so running workers stop pulling at once. Running
   * tasks finish; waiting ones stay queued.
   */
  async pauseQueue(queue: string, opts?: BroadcastOptions): Promise<Replies> {
    checkQueueName(queue, "queue");
    await setPaused(await this.#pausedKv(), queue, true);
    return await this.broadcast(ControlCommand.PAUSE_QUEUE, { queue }, opts);
  }

  /** Resumes a paused queue (removes its KV record, then broadcasts). */
  async resumeQueue(queue: string, opts?: BroadcastOptions): Promise<Replies> {
    checkQueueName(queue, "queue");
    await setPaused(await this.#pausedKv(), queue, false);
    return await this.broadcast(ControlCommand.RESUME_QUEUE, { queue }, opts);
  }

  /** The queues paused now, sorted. */
  async pausedQueues(): Promise<string[]> {
    return await listPaused(await this.#pausedKv());
  }

  async #pausedKv() {
    return await (await this.#host.broker()).kv(this.#host.config.names.pausedBucket);
  }

  /** Turns task events on. */
  enableEvents(opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.ENABLE_EVENTS, {}, opts);
  }

  /** Turns task events off. */
  disableEvents(opts?: BroadcastOptions): Promise<Replies> {
    return this.broadcast(ControlCommand.DISABLE_EVENTS, {}, opts);
  }
}
