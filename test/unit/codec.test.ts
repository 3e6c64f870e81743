import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { jsonSerializer, pack, unpack } from "../../src/protocol/codec.ts";
import { DecodeError } from "../../src/errors.ts";

describe("codec", () => {
  it("round-trips Date, BigInt, Uint8Array, Map and Set, nested", () => {
    const value = {
      when: new Date(1_700_000_000_123),
      small: 5n,
      huge: 2n ** 70n,
      negative: -3n,
      bytes: new Uint8Array([0, 1, 255]),
      map: new Map<unknown, unknown>([["a", new Map([[1, new Date(0)]])], [2, "two"]]),
      set: new Set<unknown>([1, "x", new Map([["k", 1n]])]),
      list: [1, 2.5, null, "s", { deep: [new Set([new Date(5)])] }],
      plain: { n: 2 ** 40, neg: -7, f: 0.1 },
    };
    const out = unpack(pack(value)) as typeof value;
    assert.deepEqual(out, value);
    assert.ok(out.map instanceof Map && out.map.get("a") instanceof Map);
    assert.ok(out.set instanceof Set);
    assert.equal(typeof out.small, "bigint");
    assert.equal(typeof out.plain.n, "number");
    assert.ok(out.bytes instanceof Uint8Array);
  });

  it("keeps plain objects plain (not Maps) and does not copy values without Maps", () => {
    const arr = [1, { a: 1 }];
    const out = unpack(pack({ arr })) as { arr: unknown[] };
    assert.equal(Object.getPrototypeOf(out.arr[1]), Object.prototype);
  });

  it("throws DecodeError with a reason on truncated input", () => {
    const bytes = pack({ a: "hello world", b: [1, 2, 3] });
    assert.throws(
      () => unpack(bytes.subarray(0, bytes.length - 3)),
      (e: unknown) => e instanceof DecodeError && /undecodable msgpack/.test((e as Error).message),
    );
  });

  it("JSON serializer writes what Python Celery reads and degrades JS types readably", () => {
    const bytes = jsonSerializer.encode({ status: "SUCCESS", result: { big: 5n, m: new Map([["a", 1]]), s: new Set([1]) } });
    const text = new TextDecoder().decode(bytes);
    assert.ok(text.startsWith('{"status":"SUCCESS"'));
    assert.deepEqual(jsonSerializer.decode(bytes), { status: "SUCCESS", result: { big: "5", m: { a: 1 }, s: [1] } });
  });
});
