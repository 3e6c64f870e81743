/**
 * A check of msgpack bytes BEFORE msgpackr decodes them, so that a hostile message can neither
 * reach the parts of msgpackr we do not want nor exhaust the worker:
 *
 * - **Depth**: msgpackr decodes recursively; ~10,000 nested one-element arrays (10 KB) overflow
 *   the stack. Anything deeper than {@link MAX_DEPTH} levels is refused here, iteratively, so
 *   neither the decoder nor later recursive code (copies, encoders, a task's own walk) sees it.
 * - **Sizes**: every array, map, string, binary and extension length is checked against the bytes
 *   that remain, so a 5-byte header claiming 4 billion items is refused before anything is allocated.
 * - **Extensions**: only the types celeriac writes are accepted — timestamp (-1), BigInt (0x42),
 *   typed arrays (0x74), undefined (0), and the tag types Set (0x73), Error (0x65) and Map (0x6d,
 *   ours). Refused: RegExp (0x78: `new RegExp` from attacker text, a ReDoS in any task that uses
 *   it), record definitions (0x72: msgpackr would build and compile readers for attacker-chosen
 *   structures, even with `useRecords: false`), bundled strings (0x62), structured-clone references
 *   (0x69, 0x70), and unknown types.
 *
 * It walks the bytes exactly as msgpackr reads them (a tag extension is `fixext1 <type> 0` followed
 * by the one value it wraps), so what passes here decodes to the value the check saw.
 */
import { DecodeError } from "../errors.ts";

/** Deepest nesting of arrays, maps and tag extensions accepted (and written: see codec.ts). */
export const MAX_DEPTH = 128;

/** Extension types that wrap the next value (written as fixext1 with a 0 filler byte). */
const TAG_EXT: ReadonlySet<number> = new Set([0x73, 0x65, 0x6d]);
/** Extension types whose payload is the value. */
const LEAF_EXT: ReadonlySet<number> = new Set([0xff, 0x42, 0x74, 0x00]);
/** Refused types, named for the dead-letter reason. */
const REFUSED_EXT: ReadonlyMap<number, string> = new Map([
  [0x78, "RegExp values (msgpack extension 0x78)"],
  [0x72, "msgpackr record definitions (extension 0x72)"],
  [0x62, "msgpackr bundled strings (extension 0x62)"],
  [0x69, "structured-clone references (extension 0x69)"],
  [0x70, "structured-clone references (extension 0x70)"],
]);

/** Input that is not msgpack at all (the same words msgpackr's own failures get, in codec.ts). */
function malformed(why: string): never {
  throw new DecodeError(`undecodable msgpack: ${why}`);
}

function truncated(pos: number, k: number, n: number): never {
  malformed(`truncated: a value at byte ${pos} needs ${k} more bytes, ${n - pos} remain`);
}

/** Well-formed input that celeriac will not decode. */
function refuse(why: string): never {
  throw new DecodeError(`refused msgpack: ${why}`);
}

/** Values still expected per open level; reused (the walk calls nothing that could re-enter it). */
const OPEN = new Float64Array(MAX_DEPTH + 2);

/**
 * Throws {@link DecodeError} unless `b` is exactly one well-formed msgpack value within the limits.
 * Linear in the length of `b`, allocation-free: it runs before every decode (≈0.1 µs for a task body, ≈7 ms for 1 MiB, measured).
 */
export function checkMsgpack(b: Uint8Array, maxDepth: number = MAX_DEPTH): void {
  const n = b.length;
  const open = maxDepth <= MAX_DEPTH ? OPEN : new Float64Array(maxDepth + 2);
  let pos = 0;
  let depth = 0;
  open[0] = 1; // the top level expects one value
  for (;;) {
    while (open[depth] === 0) {
      if (depth === 0) {
        if (pos !== n) malformed(`${n - pos} bytes after the end of the value`);
        return;
      }
      depth--;
    }
    open[depth]!--;
    if (pos >= n) truncated(pos, 1, n);
    const t = b[pos++]!;
    let items = 0;
    let skip = 0;
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) {
      // fixint, nil, booleans
    } else if (t <= 0x8f) items = (t & 0x0f) * 2;
    else if (t <= 0x9f) items = t & 0x0f;
    else if (t <= 0xbf) skip = t & 0x1f;
    else {
      // Lengths first: how many bytes say how long the rest is.
      const lenBytes = t === 0xc4 || t === 0xd9 || t === 0xc7
        ? 1
        : t === 0xc5 || t === 0xda || t === 0xc8 || t === 0xdc || t === 0xde
        ? 2
        : t === 0xc6 || t === 0xdb || t === 0xc9 || t === 0xdd || t === 0xdf
        ? 4
        : 0;
      if (pos + lenBytes > n) truncated(pos, lenBytes, n);
      const len = lenBytes === 1
        ? b[pos]!
        : lenBytes === 2
        ? (b[pos]! << 8) | b[pos + 1]!
        : lenBytes === 4
        ? b[pos]! * 0x1000000 + ((b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!)
        : 0;
      pos += lenBytes;
      switch (t) {
        case 0xc4:
        case 0xc5:
        case 0xc6:
        case 0xd9:
        case 0xda:
        case 0xdb:
          skip = len;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xdc:
        case 0xdd:
          items = len;
          break;
        case 0xde:
        case 0xdf:
          items = len * 2;
          break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
        case 0xc7:
        case 0xc8:
        case 0xc9: {
          if (pos >= n) truncated(pos, 1, n);
          const type = b[pos++]!;
          const refused = REFUSED_EXT.get(type);
          if (refused) refuse(`${refused} are not accepted`);
          if (TAG_EXT.has(type)) {
            if (t !== 0xd4) refuse(`extension 0x${type.toString(16)} must be a one-byte tag`);
            items = 1;
          } else if (!LEAF_EXT.has(type)) {
            refuse(`unknown extension type 0x${type.toString(16)}`);
          }
          skip = t >= 0xd4 ? 1 << (t - 0xd4) : len;
          break;
        }
        default:
          malformed(`byte 0x${t.toString(16)} at ${pos - 1} is not msgpack`);
      }
    }
    if (skip > 0) {
      if (pos + skip > n) truncated(pos, skip, n);
      pos += skip;
    }
    if (items > 0) {
      // Every item takes at least one byte: a count larger than what remains is a lie.
      if (items > n - pos) malformed(`a container at byte ${pos} declares ${items} items but only ${n - pos} bytes remain`);
      if (depth >= maxDepth) refuse(`nested deeper than ${maxDepth} levels`);
      open[++depth] = items;
    }
  }
}
