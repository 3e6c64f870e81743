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

/** Well-formed input that celeriac will not decode. */
function refuse(why: string): never {
  throw new DecodeError(`refused msgpack: ${why}`);
}

/**
 * Throws {@link DecodeError} unless `b` is exactly one well-formed msgpack value within the limits.
 * Linear in the length of `b`; allocates one small stack.
 */
export function checkMsgpack(b: Uint8Array, maxDepth: number = MAX_DEPTH): void {
  const n = b.length;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 0;
  // Values still expected at each open level; the top level expects one.
  const open: number[] = [1];
  const need = (k: number) => {
    if (pos + k > n) malformed(`truncated: a value at byte ${pos} needs ${k} more bytes, ${n - pos} remain`);
  };
  while (open.length > 0) {
    const top = open.length - 1;
    if (open[top] === 0) {
      open.pop();
      continue;
    }
    open[top]!--;
    need(1);
    const t = b[pos++]!;
    let items = 0;
    let skip = 0;
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) {
      // fixint, nil, booleans
    } else if (t <= 0x8f) items = (t & 0x0f) * 2;
    else if (t <= 0x9f) items = t & 0x0f;
    else if (t <= 0xbf) skip = t & 0x1f;
    else {
      switch (t) {
        case 0xc4: case 0xd9: need(1); skip = b[pos]!; pos += 1; break;
        case 0xc5: case 0xda: need(2); skip = view.getUint16(pos); pos += 2; break;
        case 0xc6: case 0xdb: need(4); skip = view.getUint32(pos); pos += 4; break;
        case 0xca: skip = 4; break;
        case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xce: case 0xd2: skip = 4; break;
        case 0xdc: need(2); items = view.getUint16(pos); pos += 2; break;
        case 0xdd: need(4); items = view.getUint32(pos); pos += 4; break;
        case 0xde: need(2); items = view.getUint16(pos) * 2; pos += 2; break;
        case 0xdf: need(4); items = view.getUint32(pos) * 2; pos += 4; break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        case 0xc7: case 0xc8: case 0xc9: {
          let len: number;
          if (t >= 0xd4) len = 1 << (t - 0xd4);
          else if (t === 0xc7) (need(1), len = b[pos]!, pos += 1);
          else if (t === 0xc8) (need(2), len = view.getUint16(pos), pos += 2);
          else (need(4), len = view.getUint32(pos), pos += 4);
          need(1);
          const type = b[pos++]!;
          const refused = REFUSED_EXT.get(type);
          if (refused) refuse(`${refused} are not accepted`);
          if (TAG_EXT.has(type)) {
            if (t !== 0xd4) refuse(`extension 0x${type.toString(16)} must be a one-byte tag`);
            items = 1;
          } else if (!LEAF_EXT.has(type)) {
            refuse(`unknown extension type 0x${type.toString(16)}`);
          }
          skip = len;
          break;
        }
        default:
          malformed(`byte 0x${t.toString(16)} at ${pos - 1} is not msgpack`);
      }
    }
    if (skip > 0) {
      need(skip);
      pos += skip;
    }
    if (items > 0) {
      // Every item takes at least one byte: a count larger than what remains is a lie.
      if (items > n - pos) malformed(`a container at byte ${pos} declares ${items} items but only ${n - pos} bytes remain`);
      if (open.length > maxDepth) refuse(`nested deeper than ${maxDepth} levels`);
      open.push(items);
    }
  }
  if (pos !== n) malformed(`${n - pos} bytes after the end of the value`);
}
