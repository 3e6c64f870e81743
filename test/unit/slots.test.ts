import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SlotPool } from "../../src/worker/slots.ts";

function sink() {
  const s = {
    granted: 0,
    grant(n: number) {
      s.granted += n;
    },
  };
  return s;
}

describe("slot pool", () => {
  it("a single queue gets every slot, and each finished task gives one back", () => {
    const pool = new SlotPool(8, ["a"]);
    const a = sink();
    pool.attach("a", a);
    assert.equal(a.granted, 8);
    for (let i = 0; i < 8; i++) pool.delivered("a");
    assert.equal(pool.running, 8);
    pool.finished("a");
    assert.equal(a.granted, 9);
  });

  it("never grants more than the pool size in credit plus running", () => {
    const pool = new SlotPool(4, ["a", "b"]);
    const a = sink(), b = sink();
    pool.attach("a", a);
    pool.attach("b", b);
    assert.equal(a.granted + b.granted, 4);
    assert.ok(a.granted >= 1 && b.granted >= 1);
  });

  it("credit returned by an idle queue flows to the busy one; each queue keeps one", () => {
    const pool = new SlotPool(6, ["busy", "idle"]);
    const busy = sink(), idle = sink();
    pool.attach("busy", busy);
    pool.attach("idle", idle);
    assert.deepEqual([busy.granted, idle.granted], [3, 3]);
    pool.delivered("busy"); // busy: 1 running, 2 credit
    pool.returned("idle", 3); // its pull expired empty: 3 slots come back
    assert.equal(idle.granted, 3 + 1, "the idle queue keeps one unit of credit");
    assert.equal(busy.granted, 3 + 2, "the rest goes to the busy queue");
  });

  it("stops granting after close", () => {
    const pool = new SlotPool(2, ["a"]);
    const a = sink();
    pool.attach("a", a);
    pool.delivered("a");
    pool.close();
    pool.finished("a");
    assert.equal(a.granted, 2);
  });
});
