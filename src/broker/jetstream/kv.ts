/**
 * Key-value buckets on NATS KV. Compare-and-set failures (a key that exists, a revision that moved
 * on) surface as KvConflictError; JetStream reports them as API error 10071 (FACTS.md 10).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { JetStreamApiError, type JetStreamManager, StorageType } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { KeyValueStore, KvOptions, KvValue } from "../types.ts";
import { BrokerError, ErrorCode, KvConflictError } from "../../errors.ts";
import { isElectionFailure } from "./elections.ts";

const WRONG_LAST_SEQUENCE = 10071;

function conflict(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE;
}

/**
 * A compare-and-set conflict as KvConflictError; no answer (nats.js says "jetstream is not
 * enabled" for a 503) as a retryable BrokerError that says what it likely is; anything else as is.
 */
function translate(err: unknown, bucket: string, key: string): unknown {
  if (conflict(err)) return new KvConflictError(key, { cause: err });
  if (isElectionFailure(err)) {
    return new BrokerError(ErrorCode.UNAVAILABLE, `no answer for key ${key} of bucket ${bucket} (a leader election?)`, {
      cause: err,
      retryable: true,
    });
  }
  return err;
}

/**
 * Opens or creates bucket `name` (file storage, one value per key). An existing bucket keeps its
 * config when opened, so one whose TTL differs from `opts.ttlMs` (the setting changed since it was
 * created) gets the new TTL here: a lease or revocation must not outlive what was configured.
 */
export async function openKv(
  nc: NatsConnection,
  jsm: JetStreamManager,
  name: string,
  opts: KvOptions,
  replicas: number,
): Promise<KeyValueStore> {
  const kv: KV = await new Kvm(nc).create(name, {
    history: 1,
    storage: StorageType.File,
    replicas,
    ...(opts.ttlMs ? { ttl: opts.ttlMs } : {}),
  });
  if (opts.ttlMs) {
    const status = await kv.status();
    if (status.ttl !== opts.ttlMs) {
      await jsm.streams.update(status.streamInfo.config.name, {
        max_age: opts.ttlMs * 1_000_000,
        // JetStream refuses a duplicate window longer than max_age (KV's default window is 2 min).
        duplicate_window: Math.min(opts.ttlMs, 120_000) * 1_000_000,
      });
    }
  }
  const stream = `KV_${name}`;
  return {
    async get(key: string): Promise<KvValue | null> {
      // Asked of the stream's leader, not as nats.js's direct get: any replica answers a direct
      // get, and one catching up after a restart answers with an older value — a lease holder or
      // beat's last fire time from before the failover.
      const m = await jsm.streams.getMessage(stream, { last_by_subj: `$KV.${name}.${key}` }).catch((err) => {
        throw translate(err, name, key);
      });
      if (!m) return null;
      const op = m.header?.get("KV-Operation");
      if (op === "DEL" || op === "PURGE") return null;
      return { value: m.data, revision: m.seq };
    },
    create: (key, value) => kv.create(key, value).catch((err) => Promise.reject(translate(err, name, key))),
    update: (key, value, revision) => kv.update(key, value, revision).catch((err) => Promise.reject(translate(err, name, key))),
    put: (key, value) => kv.put(key, value).catch((err) => Promise.reject(translate(err, name, key))),
    delete: (key) => kv.delete(key).catch((err) => Promise.reject(translate(err, name, key))),
    async keys(): Promise<string[]> {
      // nats.js lists keys through a consumer that also delivers puts made while it reads: a key
      // written meanwhile (a heartbeat's registry record) would come twice.
      const out = new Set<string>();
      for await (const k of await kv.keys()) out.add(k);
      return [...out];
    },
  };
}
