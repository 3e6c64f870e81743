/**
 * The only module that imports msgpackr. Everything that crosses the wire as bytes is encoded
 * here: task bodies, result records, notices, control and event payloads.
 *
 * Choices, and why:
 * - `useRecords: false`: msgpackr's record extension keeps decoder state across messages; a
 *   hostile message could define structures. Plain maps are self-describing.
 * - `mapsAsObjects: true`: msgpack maps decode to plain objects (what a JS object encodes to).
 *   A JS `Map` would decode to an object too, so Maps are tagged with their own extension (below).
 * - `int64AsType: "bigint"`: 64-bit integers only appear on the wire from BigInt values (msgpackr
 *   writes JS numbers as 32-bit ints or floats), so this round-trips BigInt without changing numbers.
 * - Dates use the msgpack timestamp extension; Set and Uint8Array are built in.
 * - Hostile input: every decode goes through `checkMsgpack` first (guard.ts: depth, sizes, and
 *   only the extension types we write), and the extension readers we do not want are replaced
 *   below as a second line of defence. Encoding refuses what decoding would refuse (too deep, a
 *   cycle, a RegExp) with an {@link EncodeError}, so a producer learns at once, not from a dead letter.
 *
 * msgpackr's extension table is global to the process: the replacements below apply to any other
 * user of msgpackr in the same process too (none in celeriac; only this module imports it).
 */
import { addExtension, Packr } from "msgpackr";
import { DecodeError, EncodeError } from "../errors.ts";
import { checkMsgpack, MAX_DEPTH } from "./guard.ts";

/** Marks a Map on its way out; msgpackr writes real Maps as plain maps before looking at extensions. */
class TaggedMap<K, V> extends Map<K, V> {}

/** Extension type for a JS Map: 'm'. Built-in types in use: 0, B, b, e, i, p, s, t, x, -1. */
const MAP_EXT = 0x6d;

addExtension({
  Class: TaggedMap,
  type: MAP_EXT,
  write: (m: Map<unknown, unknown>) => Array.from(m.entries()),
  read: (entries: [unknown, unknown][]) => {
    if (!Array.isArray(entries)) throw new Error("Map extension does not hold an entry list");
    return new Map(entries);
  },
});

/** Error types rebuilt as themselves; any other name becomes a plain Error carrying that name. */
const SAFE_ERRORS: Record<string, ErrorConstructor> = Object.assign(Object.create(null), {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
});

// msgpackr's own Error reader looks the name up on a plain object (so "constructor" finds Object)
// and hands AggregateError a string as its error list. Rebuild errors from strings only.
addExtension({
  type: 0x65,
  read: (data: unknown) => {
    const [name, message, cause] = Array.isArray(data) ? data : [];
    const n = typeof name === "string" ? name.slice(0, 200) : "Error";
    const Ctor = SAFE_ERRORS[n] ?? Error;
    const e = new Ctor(typeof message === "string" ? message : String(message ?? ""), cause === undefined ? undefined : { cause });
    if (e.name !== n) e.name = n;
    return e;
  },
});
// Refused by the guard already; replaced so that no path builds them even if it were bypassed.
addExtension({
  type: 0x78,
  read: () => {
    throw new Error("RegExp values are not accepted");
  },
});
addExtension({
  type: 0x62,
  unpack: () => {
    throw new Error("bundled strings are not accepted");
  },
});

/**
 * Replaces every Map inside `value` by a TaggedMap so it keeps its type on the wire, and refuses
 * what a receiver would refuse: nesting deeper than MAX_DEPTH (a cycle shows up as that too) and
 * RegExp values. Returns `value` itself (no copy) when it holds no Map, which is the common case.
 */
function tagMaps(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (depth > MAX_DEPTH) throw new EncodeError(`nested deeper than ${MAX_DEPTH} levels (or holds a cycle)`);
  if (value instanceof Map) {
    const out = new TaggedMap<unknown, unknown>();
    for (const [k, v] of value) out.set(tagMaps(k, depth + 1), tagMaps(v, depth + 1));
    return out;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const t = tagMaps(value[i], depth + 1);
      if (t !== value[i]) (copy ??= value.slice())[i] = t;
    }
    return copy ?? value;
  }
  if (value instanceof Set) {
    let changed = false;
    const items = Array.from(value, (v) => {
      const t = tagMaps(v, depth + 1);
      if (t !== v) changed = true;
      return t;
    });
    return changed ? new Set(items) : value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    if (value instanceof RegExp) {
      throw new EncodeError("a RegExp cannot be sent (receivers refuse them); send its source and flags as strings");
    }
    return value; // Date, Uint8Array, class instances
  }
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    const t = tagMaps(v, depth + 1);
    if (t !== v) (copy ??= { ...(value as Record<string, unknown>) })[key] = t;
  }
  return copy ?? value;
}

const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: "bigint",
  moreTypes: true,
  structuredClone: false,
  bundleStrings: false,
});

/** Encodes any supported value to msgpack; throws {@link EncodeError} for what receivers refuse. */
export function pack(value: unknown): Uint8Array {
  const tagged = tagMaps(value, 1);
  try {
    return packr.pack(tagged);
  } catch (err) {
    // A cycle through a class instance overflows msgpackr's recursion: say so instead.
    throw new EncodeError(`cannot encode: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Decodes msgpack; throws {@link DecodeError} with the reason on malformed or refused input
 * (too deep, lying sizes, extension types celeriac does not write: see guard.ts).
 */
export function unpack(bytes: Uint8Array): unknown {
  checkMsgpack(bytes);
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw new DecodeError(`undecodable msgpack: ${(err as Error).message}`, { cause: err });
  }
}

/** How a result record is turned into bytes for the backend. */
export interface Serializer {
  /** `msgpack` or `json`. */
  readonly name: SerializerName;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** Names of the available serializers. */
export const SerializerName = { MSGPACK: "msgpack", JSON: "json" } as const;
/** One of {@link SerializerName}. */
export type SerializerName = typeof SerializerName[keyof typeof SerializerName];

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** msgpack: keeps Date, BigInt, Map, Set and bytes. The default. */
export const msgpackSerializer: Serializer = { name: "msgpack", encode: pack, decode: unpack };

/**
 * JSON, for results a Python Celery client must read (with the `celery-` key prefix).
 * Loses what JSON cannot say: Dates become strings, BigInt becomes a string, Maps become objects.
 */
export const jsonSerializer: Serializer = {
  name: "json",
  encode: (value) => {
    let text: string;
    try {
      text = JSON.stringify(value, (_k, v) => {
        if (typeof v === "bigint") return v.toString();
        if (v instanceof Map) return Object.fromEntries(v);
        if (v instanceof Set) return Array.from(v);
        if (v instanceof Uint8Array) return Array.from(v);
        return v;
      });
    } catch (err) {
      throw new EncodeError(`cannot encode as JSON: ${(err as Error).message}`, { cause: err });
    }
    return encoder.encode(text);
  },
  decode: (bytes) => {
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch (err) {
      throw new DecodeError(`undecodable JSON: ${(err as Error).message}`, { cause: err });
    }
  },
};

/** Looks a serializer up by name. */
export function serializerFor(name: SerializerName): Serializer {
  return name === "json" ? jsonSerializer : msgpackSerializer;
}
