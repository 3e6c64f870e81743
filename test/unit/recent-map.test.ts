/**
 * RecentMap, the result hub's bounded caches (ids it published, notices nobody awaited yet): keeps
 * the latest entries within its limit, drops whole generations, and never evicts by walking a Map
 * from its front (which got slower with every eviction: see src/recent-map.ts).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RecentMap } from "../../src/recent-map.ts";

describe("RecentMap", () => {
  it("keeps at least the latest limit/2 entries and at most limit, through many generations", () => {
    const m = new RecentMap<string, number>(1000);
    for (let i = 0; i < 25_000; i++) {
      m.set(`k${i}`, i);
      assert.ok(m.size <= 1000, `size ${m.size} after ${i + 1} writes`);
      const keep = Math.min(i + 1, 500);
      assert.equal(m.get(`k${i - keep + 1}`), i - keep + 1, `the latest ${keep} are kept after ${i + 1} writes`);
    }
    assert.equal(m.has("k0"), false);
    assert.equal(m.get("k0"), undefined);
  });

  it("hands each dropped generation to onDrop, oldest first, each entry exactly once", () => {
    const dropped: string[] = [];
    const m = new RecentMap<string, number>(10, (gen) => dropped.push(...gen.keys()));
    for (let i = 0; i < 100; i++) m.set(`k${i}`, i);
    const kept = Array.from({ length: 100 }, (_, i) => `k${i}`).filter((k) => m.has(k));
    assert.deepEqual([...dropped, ...kept], Array.from({ length: 100 }, (_, i) => `k${i}`));
  });

  it("reads falsy values, moves a rewritten key to the young generation, deletes from either", () => {
    const m = new RecentMap<string, number>(4);
    m.set("zero", 0);
    m.set("a", 1); // "zero" and "a" now old
    assert.equal(m.get("zero"), 0);
    m.set("zero", 0); // young again: survives the next rotation
    m.set("b", 2); // rotation: "a" dropped
    assert.equal(m.has("a"), false);
    assert.equal(m.get("zero"), 0);
    assert.equal(m.delete("zero"), true);
    assert.equal(m.delete("zero"), false);
    assert.equal(m.has("b"), true);
    m.clear();
    assert.equal(m.size, 0);
  });

  it("refuses a limit below 2 or not an integer, naming it", () => {
    assert.throws(() => new RecentMap(1), /limit must be an integer ≥ 2, got 1/);
    assert.throws(() => new RecentMap(2.5), /limit/);
  });
});
