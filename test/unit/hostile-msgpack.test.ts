/**
 * Hostile bytes against the codec: each refusal in src/protocol/guard.ts and codec.ts, proven on
 * the bytes an attacker with publish rights could send.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { pack, unpack } from "../../src/protocol/codec.ts";
import { checkMsgpack, MAX_DEPTH } from "../../src/protocol/guard.ts";
import { DecodeError, EncodeError, ErrorCode } from "../../src/errors.ts";

function refused(bytes: Uint8Array, reason: RegExp): void {
  assert.throws(() => unpack(bytes), (e: unknown) => {
    assert.ok(e instanceof DecodeError, `expected DecodeError, got ${e}`);
    assert.match((e as Error).message, reason);
    return true;
  });
}

/** `depth` nested one-element arrays around nil. */
function nested(depth: number): Uint8Array {
  const b = new Uint8Array(depth + 1).fill(0x91);
  b[depth] = 0xc0;
  return b;
}

const bytes = (...b: number[]) => Uint8Array.from(b);

describe("hostile msgpack", () => {
  it("deep nesting is refused before decoding, without exhausting the stack", () => {
    // 1 MiB of [[[[...]]]]: msgpackr alone overflows the stack around 10,000 levels.
    refused(nested(1 << 20), new RegExp(`nested deeper than ${MAX_DEPTH} levels`));
    assert.deepEqual(unpack(nested(MAX_DEPTH)), JSON.parse("[".repeat(MAX_DEPTH) + "null" + "]".repeat(MAX_DEPTH)));
    refused(nested(MAX_DEPTH + 1), /nested deeper/);
    // maps and tag extensions count as levels too
    const deepMaps: number[] = [];
    for (let i = 0; i < MAX_DEPTH + 1; i++) deepMaps.push(0x81, 0xa1, 0x6b);
    refused(Uint8Array.from([...deepMaps, 0xc0]), /nested deeper/);
    const deepSets: number[] = [];
    for (let i = 0; i < MAX_DEPTH + 1; i++) deepSets.push(0xd4, 0x73, 0x00, 0x91);
    refused(Uint8Array.from([...deepSets, 0xc0]), /nested deeper/);
  });

  it("a decoder left by a refused or overflowing message still decodes the next one", () => {
    assert.throws(() => unpack(nested(1 << 16)));
    assert.deepEqual(unpack(pack({ a: [1, 2] })), { a: [1, 2] });
  });

  it("lengths larger than the message are refused before anything is allocated", () => {
    refused(bytes(0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0), /declares 4294967295 items but only 1 bytes remain/); // array32
    refused(bytes(0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0), /declares/); // map32
    refused(bytes(0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61), /truncated/); // str32
    refused(bytes(0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00), /truncated/); // bin32
    refused(bytes(0xc9, 0x7f, 0xff, 0xff, 0xff, 0x42, 0x01), /truncated/); // ext32 BigInt
    refused(bytes(0x92, 0x01), /declares 2 items but only 1 bytes remain/);
    refused(bytes(0x92, 0x01, 0xcd, 0x01), /truncated/);
    refused(bytes(0x01, 0x02), /1 bytes after the end/);
    refused(bytes(0xc1), /not msgpack/);
  });

  it("RegExp (0x78) is refused: no new RegExp from attacker text", () => {
    const evil = bytes(0xd4, 0x78, 0x00, 0x92, 0xa8, ...new TextEncoder().encode("(a+)+$!!"), 0xa0);
    refused(evil, /RegExp values/);
  });

  it("msgpackr record definitions (0x72) are refused, though useRecords is off", () => {
    // fixext1 'r' defining structure 0 with keys ["a"], then a record using it
    refused(bytes(0xd4, 0x72, 0x40, 0x91, 0xa1, 0x61, 0x01), /record definitions/);
    refused(bytes(0xd5, 0x72, 0x40, 0x00, 0x91, 0xa1, 0x61, 0x01), /record definitions/);
  });

  it("bundled strings, structured-clone references and unknown extensions are refused", () => {
    refused(bytes(0xd6, 0x62, 0, 0, 0, 8, 0xc0), /bundled strings/);
    refused(bytes(0xd6, 0x69, 0, 0, 0, 1, 0x90), /structured-clone/);
    refused(bytes(0xd6, 0x70, 0, 0, 0, 1), /structured-clone/);
    refused(bytes(0xd4, 0x01, 0x00), /unknown extension type 0x1/);
    // a tag type in a longer ext would make msgpackr read past its payload: refused
    refused(bytes(0xd5, 0x73, 0x00, 0x00, 0x90), /must be a one-byte tag/);
  });

  it("the Error extension builds only plain built-in errors, whatever name it carries", () => {
    for (const name of ["constructor", "__proto__", "toString", "AggregateError", "Function"]) {
      const e = unpack(pack(Object.assign(new Error("boom"), { name }))) as Error;
      assert.ok(e instanceof Error, name);
      assert.equal(Object.getPrototypeOf(e), Error.prototype, name);
      assert.equal(e.name, name);
      assert.equal(e.message, "boom");
    }
    const t = unpack(pack(new TypeError("bad"))) as Error;
    assert.ok(t instanceof TypeError);
    // hand-made: a non-string message is turned into a string, never called
    const odd = unpack(bytes(0xd4, 0x65, 0x00, 0x92, 0xa5, ...new TextEncoder().encode("Error"), 0x81, 0xa1, 0x61, 0x01)) as Error;
    assert.equal(odd.message, "[object Object]");
  });

  it("__proto__ keys do not reach prototypes", () => {
    const b = bytes(0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 0x81, 0xa8, ...new TextEncoder().encode("polluted"), 0xc3);
    const v = unpack(b) as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.equal((v as { polluted?: unknown }).polluted, undefined);
  });

  it("what celeriac writes passes the guard unchanged (Date, BigInt, Map, Set, typed arrays, undefined)", () => {
    const value = [new Date(5), 2n ** 80n, -1n, new Map([[1, new Set([2])]]), new Float64Array([1.5]), undefined, new Uint8Array([1])];
    const b = pack(value);
    checkMsgpack(b);
    const out = unpack(b) as unknown[];
    assert.deepEqual(out.slice(0, 4), value.slice(0, 4));
    assert.ok(out[4] instanceof Float64Array);
  });

  it("encoding refuses what receivers refuse, with EncodeError", () => {
    assert.throws(
      () => pack({ re: /x+/ }),
      (e: unknown) => e instanceof EncodeError && e.code === ErrorCode.ENCODE && /RegExp/.test(e.message),
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => pack(cyclic), (e: unknown) => e instanceof EncodeError && /deeper than|cycle/.test((e as Error).message));
    const deep = JSON.parse("[".repeat(MAX_DEPTH + 1) + "]".repeat(MAX_DEPTH + 1));
    assert.throws(() => pack(deep), EncodeError);
    assert.doesNotThrow(() => pack(JSON.parse("[".repeat(MAX_DEPTH) + "]".repeat(MAX_DEPTH))));
    class Node {
      next: unknown = this;
    }
    assert.throws(() => pack(new Node()), EncodeError);
  });
});
