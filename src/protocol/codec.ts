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
 */
import { addExtension, Packr } from "msgpackr";
import { DecodeError } from "../errors.ts";

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

/**
 * Replaces every Map inside `value` by a TaggedMap so it keeps its type on the wire.
 * Returns `value` itself (no copy) when it holds no Map, which is the common case.
 */
function tagMaps(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Map) {
    const out = new TaggedMap<unknown, unknown>();
    for (const [k, v] of value) out.set(tagMaps(k), tagMaps(v));
    return out;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const t = tagMaps(value[i]);
      if (t !== value[i]) (copy ??= value.slice())[i] = t;
    }
    return copy ?? value;
  }
  if (value instanceof Set) {
    let changed = false;
    const items = Array.from(value, (v) => {
      const t = tagMaps(v);
      if (t !== v) changed = true;
      return t;
    });
    return changed ? new Set(items) : value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // Date, Uint8Array, class instances
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    const t = tagMaps(v);
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

/** Encodes any supported value to msgpack. */
export function pack(value: unknown): Uint8Array {
  return packr.pack(tagMaps(value));
}

/** Decodes msgpack; throws {@link DecodeError} with the reason on malformed input. */
export function unpack(bytes: Uint8Array): unknown {
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
  encode: (value) =>
    encoder.encode(JSON.stringify(value, (_k, v) => {
      if (typeof v === "bigint") return v.toString();
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return Array.from(v);
      if (v instanceof Uint8Array) return Array.from(v);
      return v;
    })),
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
