/**
 * Task bodies sent as JSON (`content-type: application/json`), for producers in other languages
 * that have a JSON encoder at hand and no msgpack (docs/protocol.md, docs/clients.md).
 *
 * JSON.parse itself is safe against deep nesting in V8, but everything after it (copies, the
 * result encoders, a task's own walk) recurses, so the same depth limit as for msgpack applies.
 * And a JSON number is a double here: an integer beyond ±(2^53−1) would silently arrive rounded
 * (a 64-bit id from Go or Python becomes another id). Both are refused before parsing, by one
 * linear scan of the bytes, so the dead letter says why instead of a task running on a wrong value.
 */
import { DecodeError } from "../errors.ts";
import { MAX_DEPTH } from "./guard.ts";

/** The content type of JSON task bodies. */
export const CONTENT_TYPE_JSON = "application/json";

const decoder = new TextDecoder("utf-8", { fatal: true });

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** True if `c` may continue a JSON number token. */
function inNumber(c: number): boolean {
  return isDigit(c) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === MINUS;
}

/**
 * Throws a {@link DecodeError} if the JSON text in `b` nests deeper than MAX_DEPTH or holds an
 * integer literal a double cannot hold exactly. Malformed text passes; JSON.parse reports it.
 */
function checkJson(b: Uint8Array): void {
  let depth = 0;
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c === QUOTE) {
      // Skip the string: structural characters and digits inside it mean nothing.
      for (i++; i < n && b[i] !== QUOTE; i++) if (b[i] === BACKSLASH) i++;
      i++;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > MAX_DEPTH) throw new DecodeError(`refused JSON: nested deeper than ${MAX_DEPTH} levels`);
      i++;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
      i++;
    } else if (isDigit(c) || c === MINUS) {
      const start = i;
      let integer = true;
      for (; i < n && inNumber(b[i]!); i++) if (!isDigit(b[i]!) && b[i] !== MINUS) integer = false;
      // 2^53 has 16 digits: shorter integers are always exact.
      if (integer && i - start >= 16) {
        const text = decoder.decode(b.subarray(start, i));
        if (!Number.isSafeInteger(Number(text))) {
          throw new DecodeError(
            `refused JSON: integer ${text} is beyond ±(2^53−1) and would arrive rounded; send it as a string, or send the body as msgpack (which carries 64-bit integers)`,
          );
        }
      }
    } else {
      i++;
    }
  }
}

/** Decodes a JSON task body; throws {@link DecodeError} with the dead-letter reason. */
export function parseJsonBody(bytes: Uint8Array): unknown {
  checkJson(bytes);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new DecodeError("undecodable JSON: the body is not UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DecodeError(`undecodable JSON: ${(err as Error).message}`, { cause: err });
  }
}
