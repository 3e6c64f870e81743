/**
 * Who is out there: the worker registry (KV `<p>_workers`) read and judged. A worker that said
 * `worker-offline` is offline; one whose last heartbeat is older than two intervals is offline
 * too (killed, cut off); otherwise it is online.
 */
import type { Broker } from "../broker/types.ts";
import type { Names } from "../names.ts";
import { REGISTRY_TTL_MS, type WorkerRecord } from "../worker/heartbeat.ts";

/** A worker as `celeriac status` shows it. */
export interface WorkerStatus extends WorkerRecord {
  /** `online`, or `offline` with why. */
  status: "online" | "offline";
  /** Why it counts as offline: it said so, or it missed heartbeats. */
  reason: "stopped" | "missed heartbeats" | null;
  /** Seconds since its last heartbeat. */
  age: number;
}

/** Heartbeats a worker may miss before it is shown offline. */
export const MISSED_HEARTBEATS_OFFLINE = 2;

/** Judges one record at `nowMs`. */
export function judge(r: WorkerRecord, nowMs: number = Date.now()): WorkerStatus {
  const age = Math.max(0, nowMs / 1000 - r.last_heartbeat);
  // A little slack: a heartbeat sent on time may arrive a few ms late.
  const late = age > r.freq * MISSED_HEARTBEATS_OFFLINE + 0.25;
  const status = r.state === "offline" || late ? "offline" : "online";
  return { ...r, status, reason: r.state === "offline" ? "stopped" : late ? "missed heartbeats" : null, age };
}

const decoder = new TextDecoder();

/** Every worker in the registry, judged, sorted by name. */
export async function workerStatus(broker: Broker, names: Names, nowMs: number = Date.now()): Promise<WorkerStatus[]> {
  const kv = await broker.kv(names.workersBucket, { ttlMs: REGISTRY_TTL_MS });
  const out: WorkerStatus[] = [];
  for (const key of await kv.keys()) {
    const v = await kv.get(key);
    if (!v) continue;
    try {
      const r = JSON.parse(decoder.decode(v.value)) as WorkerRecord;
      if (typeof r.hostname === "string" && typeof r.last_heartbeat === "number") out.push(judge(r, nowMs));
    } catch {
      // not a record of ours
    }
  }
  return out.sort((a, b) => a.hostname.localeCompare(b.hostname));
}
