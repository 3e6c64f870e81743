/**
 * Creates streams and durable consumers on first use, idempotently. When one exists with a
 * different configuration, what JetStream lets us change is updated; anything else fails with
 * a message that names the difference and how to fix it.
 *
 * What nats-server 2.9 can update in place: a stream's subjects, duplicate window, limits and
 * replicas; a consumer's ack wait, max deliver, max ack pending and max waiting. It cannot change
 * a stream's retention or storage, nor a consumer's filter, ack policy, deliver policy or kind
 * (push/pull).
 */
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  ReplayPolicy,
  type RetentionPolicy,
  type StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { ProvisioningError } from "../../errors.ts";

const nanos = (ms: number) => ms * 1_000_000;

/** The streams and consumers celeriac needs, described once. */
export interface StreamSpec {
  name: string;
  subjects: string[];
  retention: RetentionPolicy;
  storage: StorageType;
  replicas: number;
  duplicateWindowMs?: number;
  maxAgeMs?: number;
  description: string;
}

/** A durable pull consumer. */
export interface ConsumerSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  ackWaitMs: number;
  maxDeliver: number;
  maxAckPending: number;
  description: string;
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

function streamConfig(spec: StreamSpec): Partial<StreamConfig> & { name: string } {
  const cfg: Partial<StreamConfig> & { name: string } = {
    name: spec.name,
    subjects: spec.subjects,
    retention: spec.retention,
    storage: spec.storage,
    num_replicas: spec.replicas,
    description: spec.description,
  };
  if (spec.duplicateWindowMs !== undefined) cfg.duplicate_window = nanos(spec.duplicateWindowMs);
  if (spec.maxAgeMs !== undefined) cfg.max_age = nanos(spec.maxAgeMs);
  return cfg;
}

/** Creates the stream or brings it in line with `spec`. */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(spec.name)).config;
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw wrap(`reading stream ${spec.name}`, err);
    try {
      await jsm.streams.add(streamConfig(spec));
      return;
    } catch (addErr) {
      // Another process may have created it between our info and add: check what it made.
      try {
        existing = (await jsm.streams.info(spec.name)).config;
      } catch {
        throw wrap(`creating stream ${spec.name}`, addErr);
      }
    }
  }
  const fixed: string[] = [];
  if (existing.retention !== spec.retention) fixed.push(`retention is ${existing.retention}, celeriac needs ${spec.retention}`);
  if (existing.storage !== spec.storage) fixed.push(`storage is ${existing.storage}, celeriac needs ${spec.storage}`);
  if (fixed.length > 0) {
    throw new ProvisioningError(
      `stream ${spec.name} exists with a configuration JetStream cannot change in place: ${fixed.join("; ")}. ` +
        `Remove it (this discards its messages) with \`nats stream rm ${spec.name}\`, or use another app name.`,
    );
  }
  const update: Partial<StreamConfig> = {};
  const subjects = new Set(existing.subjects ?? []);
  const missing = spec.subjects.filter((s) => !subjects.has(s));
  if (missing.length > 0) update.subjects = [...subjects, ...missing];
  if (spec.duplicateWindowMs !== undefined && existing.duplicate_window !== nanos(spec.duplicateWindowMs)) {
    update.duplicate_window = nanos(spec.duplicateWindowMs);
  }
  if (spec.maxAgeMs !== undefined && existing.max_age !== nanos(spec.maxAgeMs)) update.max_age = nanos(spec.maxAgeMs);
  if (existing.num_replicas !== spec.replicas) update.num_replicas = spec.replicas;
  if (Object.keys(update).length === 0) return;
  try {
    await jsm.streams.update(spec.name, { ...existing, ...update });
  } catch (err) {
    throw wrap(
      `updating stream ${spec.name} (${Object.keys(update).join(", ")} differ from what celeriac needs)`,
      err,
    );
  }
}

/** Creates the durable consumer or brings it in line with `spec`. */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const wanted: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: spec.maxDeliver,
    max_ack_pending: spec.maxAckPending,
    max_waiting: 512,
    description: spec.description,
  };
  let existing: ConsumerConfig;
  try {
    existing = (await jsm.consumers.info(spec.stream, spec.durable)).config;
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) {
      throw wrap(`reading consumer ${spec.durable} on ${spec.stream}`, err);
    }
    try {
      await jsm.consumers.add(spec.stream, wanted);
      return;
    } catch (addErr) {
      try {
        existing = (await jsm.consumers.info(spec.stream, spec.durable)).config;
      } catch {
        throw wrap(`creating consumer ${spec.durable} on ${spec.stream}`, addErr);
      }
    }
  }
  const fixed: string[] = [];
  if (existing.deliver_subject) fixed.push(`it is a push consumer (deliver_subject ${existing.deliver_subject}), celeriac pulls`);
  if ((existing.filter_subject ?? "") !== spec.filterSubject) {
    fixed.push(`filter_subject is "${existing.filter_subject ?? ""}", celeriac needs "${spec.filterSubject}"`);
  }
  if (existing.ack_policy !== AckPolicy.Explicit) fixed.push(`ack_policy is ${existing.ack_policy}, celeriac needs explicit`);
  if (existing.deliver_policy !== DeliverPolicy.All) fixed.push(`deliver_policy is ${existing.deliver_policy}, celeriac needs all`);
  if (fixed.length > 0) {
    throw new ProvisioningError(
      `consumer ${spec.durable} on stream ${spec.stream} exists with a configuration JetStream cannot change in ` +
        `place: ${fixed.join("; ")}. Remove it with \`nats consumer rm ${spec.stream} ${spec.durable}\` ` +
        `(messages stay in the stream) and start the worker again.`,
    );
  }
  const differs = (["ack_wait", "max_deliver", "max_ack_pending", "max_waiting"] as const)
    .filter((k) => existing[k] !== wanted[k]);
  if (differs.length === 0) return;
  try {
    await jsm.consumers.update(spec.stream, spec.durable, {
      ack_wait: wanted.ack_wait,
      max_deliver: wanted.max_deliver,
      max_ack_pending: wanted.max_ack_pending,
      max_waiting: wanted.max_waiting,
      description: wanted.description,
    });
  } catch (err) {
    throw wrap(`updating consumer ${spec.durable} on ${spec.stream} (${differs.join(", ")} differ)`, err);
  }
}

function wrap(what: string, err: unknown): ProvisioningError {
  return new ProvisioningError(`${what} failed: ${(err as Error).message}`, { cause: err });
}
