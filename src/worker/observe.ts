/**
 * Who watches tasks on a worker: task events (`-E`, switchable at runtime by remote control) and
 * Prometheus metrics (with `--health-port`). The worker asks `observed` before calling, so with
 * neither on a task costs one boolean read here.
 */
import type { EventDispatcher } from "../events/dispatcher.ts";
import { TaskEventType } from "../events/event.ts";
import { callFields, settledEvent } from "../events/task-events.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { Job, KnownJob, Outcome } from "./job.ts";

/** Task observers of one worker. */
export class TaskObservers {
  /** True when anything watches tasks (events or metrics). */
  observed = false;
  #dispatcher: EventDispatcher | null = null;
  #events = false;
  #metrics: WorkerMetrics | null = null;

  /** Sets where events go and whether task events are on. */
  configure(dispatcher: EventDispatcher, events: boolean, metrics: WorkerMetrics | null): void {
    this.#dispatcher = dispatcher;
    this.#metrics = metrics;
    this.setTaskEvents(events);
  }

  /** Turns task events on or off (`enable-events` / `disable-events`). */
  setTaskEvents(on: boolean): void {
    this.#events = on && this.#dispatcher !== null;
    this.observed = this.#events || this.#metrics !== null;
  }

  /** Whether task events are on. */
  get taskEvents(): boolean {
    return this.#events;
  }

  received(job: KnownJob): void {
    const m = job.message;
    this.#metrics?.received(m.task);
    if (this.#events) this.#dispatcher!.send(TaskEventType.RECEIVED, callFields(m, job.queue));
  }

  started(job: KnownJob): void {
    if (this.#events) this.#dispatcher!.send(TaskEventType.STARTED, { uuid: job.message.id, name: job.message.task });
  }

  settled(job: Job, outcome: Outcome, state: string | null): void {
    const name = job.message?.task ?? job.delivery.header("task") ?? "?";
    this.#metrics?.settled(name, state, "runtimeMs" in outcome ? outcome.runtimeMs : undefined);
    if (!this.#events) return;
    const ev = settledEvent(job, outcome, state);
    if (ev) this.#dispatcher!.send(ev[0], ev[1]);
  }
}
