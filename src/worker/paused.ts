/**
 * Keeps a worker's queue consumers in line with the paused queues in KV (src/control/paused.ts):
 * a paused queue's consumer is stopped (what was on its way is handed back; running tasks finish)
 * and started again on resume. Synced at start, after a reconnection, every few seconds (a pause
 * broadcast while this worker was cut off is lost; its KV record is not) and at once on the
 * control broadcast.
 */
import type { Broker, KeyValueStore } from "../broker/types.ts";
import type { QueueActors } from "./queues.ts";
import { isPaused } from "../control/paused.ts";

/** How often the paused set is read again. */
export const PAUSE_SYNC_MS = 5_000;

/** The pause watcher of one worker. */
export class PauseWatch {
  #broker: Broker;
  #bucket: string;
  #queues: QueueActors;
  #report: (err: Error) => void;
  #kv: KeyValueStore | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #syncing: Promise<void> | null = null;

  constructor(deps: { broker: Broker; bucket: string; queues: QueueActors; report(err: Error): void }) {
    this.#broker = deps.broker;
    this.#bucket = deps.bucket;
    this.#queues = deps.queues;
    this.#report = deps.report;
  }

  /** Reads the paused set and pauses or resumes consumers to match (one sync at a time). */
  sync(): Promise<void> {
    this.#syncing ??= this.#sync().finally(() => (this.#syncing = null));
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    this.#kv ??= await this.#broker.kv(this.#bucket);
    for (const queue of [...this.#queues.queues]) {
      const paused = await isPaused(this.#kv, queue);
      if (paused) await this.#queues.pause(queue);
      else await this.#queues.resume(this.#broker, queue);
    }
  }

  /** Syncs every {@link PAUSE_SYNC_MS}. */
  start(everyMs = PAUSE_SYNC_MS): void {
    this.#timer ??= setInterval(() => this.sync().catch((err) => this.#report(err as Error)), everyMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
