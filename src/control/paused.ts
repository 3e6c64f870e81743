/**
 * Paused queues: one key per queue in KV `<p>_paused` (no TTL: a pause holds until resumed), so a
 * worker started later holds off too. Workers read it at start, on every reconnection and every
 * few seconds; the control broadcast that accompanies a change only makes it take effect at once.
 */
import type { KeyValueStore } from "../broker/types.ts";

const encoder = new TextEncoder();

/** Records `queue` as paused (with when, for `status`) or removes the record. */
export async function setPaused(kv: KeyValueStore, queue: string, paused: boolean): Promise<void> {
  if (paused) await kv.put(queue, encoder.encode(JSON.stringify({ since: new Date().toISOString() })));
  else await kv.delete(queue);
}

/** True if `queue` is paused. */
export async function isPaused(kv: KeyValueStore, queue: string): Promise<boolean> {
  return (await kv.get(queue)) !== null;
}

/** Every paused queue, sorted. */
export async function listPaused(kv: KeyValueStore): Promise<string[]> {
  return (await kv.keys()).sort();
}
