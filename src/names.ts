/**
 * Every name celeriac puts on the wire, derived from the app name (DESIGN.md, "Names on the wire").
 * Nothing else builds subjects, stream names or keys.
 */

import { ConfigError } from "./errors.ts";

/** App names and queue names: they become subject tokens, stream and durable names. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/** The names of one app. */
export interface Names {
  /** The app name as given (subject prefix). */
  readonly prefix: string;
  /** Upper-cased prefix for stream names. */
  readonly streamPrefix: string;
  /** The stream holding a queue's tasks. One stream for all queues; change here to split. */
  streamFor(queue: string): string;
  /**
   * Subject of a queue's tasks at a priority level: level 0 (the default) is the bare
   * `<p>.tasks.<queue>`, so producers that know nothing of priorities keep working; level n > 0
   * is `<p>.tasks.<queue>.<n>`.
   */
  taskSubject(queue: string, level?: number): string;
  /** Subjects the tasks stream listens on. */
  readonly taskSubjects: string;
  /** The durable consumer of a queue's level 0 (`q_<queue>`), or of level n > 0 (`p<n>_<queue>`). */
  durable(queue: string, level?: number): string;
  /** Rung (core NATS) after a publish at a level > 0, so an idle worker pulls that level at once. */
  bellSubject(queue: string): string;
  /** Dead letters. */
  readonly dlqStream: string;
  dlqSubject(queue: string): string;
  readonly dlqSubjects: string;
  /**
   * Max-deliveries advisories, kept in a stream so that one published while no worker listens is
   * still handled: the stream's subjects, one queue's subject and the durable that reads it.
   */
  readonly exhaustedStream: string;
  readonly exhaustedSubjects: string;
  exhaustedSubject(queue: string, level?: number): string;
  exhaustedDurable(queue: string, level?: number): string;
  /** Delayed tasks (ETA, countdown, retry delay). */
  readonly delayedStream: string;
  /** Events. */
  readonly eventsStream: string;
  eventSubject(kind: "task" | "worker", type: string): string;
  readonly eventSubjects: string;
  /** Heartbeats and gossip. */
  heartbeatSubject(worker: string): string;
  readonly heartbeatSubjects: string;
  /** Remote control. */
  readonly controlBroadcast: string;
  controlSubject(worker: string): string;
  /** Where a client receives result notices. */
  replySubject(clientId: string): string;
  /** KV buckets. */
  readonly revokedBucket: string;
  readonly beatBucket: string;
  readonly workersBucket: string;
  /** Paused queues (`control pause-queue`), one key per queue. */
  readonly pausedBucket: string;
  /**
   * Leases; the bucket's TTL frees a dead holder's lease, so each lease with its own TTL has its
   * own bucket: the delayed-task mover's (`mover`, TTL 5 s) and beat's leader lease (`leaseTtl`).
   */
  readonly locksBucket: string;
  readonly beatLockBucket: string;
}

/** Where JetStream announces a message that reached a consumer's max_deliver (`.<stream>.<durable>`). */
const MAX_DELIVERIES = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES";

/** Builds the names of app `prefix` (already validated against {@link NAME_PATTERN}). */
export function namesFor(prefix: string): Names {
  const P = prefix.toUpperCase().replace(/-/g, "_");
  const tasksStream = `${P}_TASKS`;
  const durable = (queue: string, level = 0) => level > 0 ? `p${level}_${queue}` : `q_${queue}`;
  return {
    prefix,
    streamPrefix: P,
    streamFor: () => tasksStream,
    taskSubject: (queue, level = 0) => level > 0 ? `${prefix}.tasks.${queue}.${level}` : `${prefix}.tasks.${queue}`,
    taskSubjects: `${prefix}.tasks.>`,
    durable,
    bellSubject: (queue) => `${prefix}.bell.${queue}`,
    dlqStream: `${P}_DLQ`,
    dlqSubject: (queue) => `${prefix}.dlq.${queue}`,
    dlqSubjects: `${prefix}.dlq.>`,
    exhaustedStream: `${P}_EXHAUSTED`,
    exhaustedSubjects: `${MAX_DELIVERIES}.${tasksStream}.*`,
    exhaustedSubject: (queue, level = 0) => `${MAX_DELIVERIES}.${tasksStream}.${durable(queue, level)}`,
    exhaustedDurable: (queue, level = 0) => level > 0 ? `x${level}_${queue}` : `x_${queue}`,
    delayedStream: `${P}_DELAYED`,
    eventsStream: `${P}_EVENTS`,
    eventSubject: (kind, type) => `${prefix}.events.${kind}.${type}`,
    eventSubjects: `${prefix}.events.>`,
    heartbeatSubject: (worker) => `${prefix}.worker.heartbeat.${subjectToken(worker)}`,
    heartbeatSubjects: `${prefix}.worker.heartbeat.*`,
    controlBroadcast: `${prefix}.control.broadcast`,
    controlSubject: (worker) => `${prefix}.control.${subjectToken(worker)}`,
    replySubject: (clientId) => `${prefix}.reply.${clientId}`,
    revokedBucket: `${prefix}_revoked`,
    beatBucket: `${prefix}_beat`,
    workersBucket: `${prefix}_workers`,
    pausedBucket: `${prefix}_paused`,
    locksBucket: `${prefix}_locks`,
    beatLockBucket: `${prefix}_beat_lock`,
  };
}

/** Makes a worker name (`w1@host.example`) safe as one subject token. */
export function subjectToken(s: string): string {
  return s.replace(/[.*>\s]/g, "_");
}

/** Checks a queue name; throws ConfigError naming `field`. */
export function checkQueueName(queue: unknown, field: string): string {
  if (typeof queue !== "string" || !NAME_PATTERN.test(queue)) {
    throw new ConfigError(field, `invalid queue name ${JSON.stringify(queue)}: use letters, digits, "_" and "-"`);
  }
  return queue;
}
