/**
 * ReplicaWait: writes answered together share one WAIT; too few replicas, or a WAIT answered on
 * another connection than the write's (ioredis resends a command cut off by a reconnect), fail
 * with a retryable UNAVAILABLE error.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CeleriacError } from "celeriac";
import { ReplicaWait } from "../../src/backend/replicas.ts";

function unavailable(e: unknown): boolean {
  return e instanceof CeleriacError && e.code === "ERR_UNAVAILABLE";
}

describe("ReplicaWait", () => {
  it("callers of one tick share one WAIT; a later caller sends its own", async () => {
    const calls: [number, number][] = [];
    const w = new ReplicaWait((n, ms) => (calls.push([n, ms]), Promise.resolve(2)), 1, 500, () => 1);
    await Promise.all([w.replicated("a"), w.replicated("b"), w.replicated("c")]);
    assert.deepEqual(calls, [[1, 500]]);
    await w.replicated("d");
    assert.equal(calls.length, 2);
  });

  it("fewer replicas than asked for: UNAVAILABLE, naming what was written", async () => {
    const w = new ReplicaWait(() => Promise.resolve(0), 1, 200, () => 1);
    await assert.rejects(
      w.replicated("the result of t1"),
      (e: unknown) => unavailable(e) && /the result of t1 reached 0 of 1/.test((e as Error).message),
    );
  });

  it("a WAIT answered after a reconnect does not vouch for the write", async () => {
    let connection = 1;
    // The WAIT is answered on the new connection, where it has nothing to wait for: all replicas.
    const w = new ReplicaWait(
      () => {
        connection = 2;
        return Promise.resolve(2);
      },
      1,
      200,
      () => connection,
    );
    await assert.rejects(w.replicated("the result of t2"), unavailable);
    await w.replicated("the result of t3"); // written on connection 2, answered there
  });
});
