/**
 * The queue actor: one per consumed queue. It binds the queue's durable consumer to the worker's
 * slots (credit in, deliveries out) and lives under supervision: if the consumer breaks (deleted
 * under us, say) the actor crashes and is restarted, which provisions the consumer again.
 */
import type { Broker, Delivery, ExhaustedMessage } from "../broker/types.ts";
import type { ActorBody } from "../actor.ts";
import type { SlotPool } from "./slots.ts";
import { ErrorCode, hasCode } from "../errors.ts";

/** What a queue actor needs from its worker. */
export interface QueueActorDeps {
  broker: Broker;
  slots: SlotPool;
  /** A delivery arrived (its slot is already counted). */
  dispatch(delivery: Delivery): void;
  exhausted(ex: ExhaustedMessage): void;
  /** Background trouble worth reporting. */
  report(err: Error): void;
  /** Called each time the queue is bound and consuming. */
  ready(queue: string): void;
}

/** Builds the body of the actor that consumes `queue`. */
export function queueActor(queue: string, deps: QueueActorDeps): ActorBody {
  return async (signal) => {
    let crash: ((err: Error) => void) | null = null;
    const crashed = new Promise<never>((_, reject) => {
      crash = reject;
    });
    crashed.catch(() => {}); // observed below; avoid an unhandled rejection if we stop first
    const consumer = await deps.broker.consume(queue, {
      onDelivery: (d) => {
        deps.slots.delivered(queue);
        deps.dispatch(d);
      },
      onReturned: (n) => deps.slots.returned(queue, n),
      onExhausted: (ex) => deps.exhausted(ex),
      onError: (err) => {
        deps.report(err);
        // The consumer is gone (deleted, stream removed): restart to provision it again.
        if (hasCode(err, ErrorCode.PROVISIONING)) crash?.(err);
      },
    });
    deps.slots.attach(queue, consumer);
    deps.ready(queue);
    const stopped = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    try {
      await Promise.race([stopped, crashed]);
    } finally {
      deps.slots.detach(queue);
      await consumer.stop();
    }
  };
}
