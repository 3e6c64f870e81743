/**
 * The lease's leadership notifications with a scripted key-value store (no network): a lease that
 * runs out by time — its renewal hangs or fails slowly — tells its holder it lost leadership.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Lease } from "../../src/lease.ts";
import type { KeyValueStore } from "../../src/broker/types.ts";
import { silentLogger } from "../../src/log.ts";
import { waitFor } from "../helpers.ts";

/** A store whose first create succeeds and whose updates do what `update` says. */
function store(update: () => Promise<number>): KeyValueStore {
  return {
    create: () => Promise.resolve(1),
    update,
    get: () => Promise.resolve(null),
    put: () => Promise.resolve(1),
    delete: () => Promise.resolve(),
    keys: () => Promise.resolve([]),
  } as unknown as KeyValueStore;
}

/** Runs a lease until it was won and lost; `unblock` lets a hung renewal end so run() can return. */
async function leadership(kv: KeyValueStore, unblock = () => {}): Promise<boolean[]> {
  const changes: boolean[] = [];
  const lease = new Lease(kv, "leader", { ttlMs: 600, holder: "me", log: silentLogger, onChange: (h) => changes.push(h) });
  const ctrl = new AbortController();
  const running = lease.run(ctrl.signal);
  try {
    await waitFor(() => changes.length >= 2, { what: "leadership won, then lost", timeoutMs: 5_000 });
  } finally {
    ctrl.abort();
    unblock();
  }
  await running.catch(() => {});
  return changes;
}

describe("lease", () => {
  it("a renewal that hangs: onChange(false) fires when the lease runs out", async () => {
    const hung: (() => void)[] = [];
    const changes = await leadership(
      store(() => new Promise<number>((_r, reject) => hung.push(() => reject(new Error("gone"))))),
      () => hung.forEach((h) => h()),
    );
    assert.deepEqual(changes, [true, false]);
  });

  it("a renewal that fails after the lease ran out: onChange(false) fires", async () => {
    const changes = await leadership(store(() => new Promise<number>((_r, reject) => setTimeout(() => reject(new Error("timeout")), 800))));
    assert.deepEqual(changes, [true, false]);
  });
});
