/**
 * Message signing: a producer signs the headers AND the body of each task message; a worker
 * checks the signature before it decodes the body. Opt-in on both sides (see docs/security.md).
 *
 * Algorithms:
 * - `hs256`: HMAC-SHA256 with a key every producer and worker shares. Key id: the first 8
 *   characters of base64url(SHA-256("celeriac-kid:" + key)), so a worker can hold an old and a new
 *   key during a rotation and pick the right one without trying both.
 * - `ed25519`: Ed25519 with an nkey seed per producer (`SU…`); workers trust public nkeys (`U…`).
 *   Key id: the public nkey itself.
 *
 * The signature travels in ONE header, `celeriac-sig: <alg>;<key id>;<base64url signature>`:
 * every header costs publish throughput (FACTS.md 9), so alg and key id share it.
 *
 * What is signed (the canonical form, version 1), as UTF-8:
 *
 *     celeriac-sig/1 \n <alg> \n <key id> \n <n> \n <name>:<value> \n … (n lines, names sorted)
 *
 * followed by the raw body. Header names cannot hold ':' or line breaks and values cannot hold
 * line breaks (NATS headers), so the form is unambiguous. Every header is covered — the protocol's
 * (`task`, `id`, `Nats-Msg-Id`, `celeriac-once`), trace context and user headers — except those that
 * change in transit by design: the signature itself, the delayed store's routing headers
 * (`celeriac-queue`, `celeriac-due`) and the mover's `celeriac-moved`, the dead-letter headers
 * (`celeriac-dlq-*`), and server-set `Nats-*` headers other than `Nats-Msg-Id`. Nothing in it
 * depends on the subject, so the mover can move a signed message and its signature still holds.
 * A header the worker reads twice is read by its first value, in the check and in the task alike.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, type KeyObject, sign, timingSafeEqual, verify } from "node:crypto";
import { DLQ_HEADERS, Header, type WireMessage } from "../protocol/message.ts";
import { decodePublicKey, decodeSeed, encodePublicKey, encodeSeed } from "./nkey.ts";

/** Signature algorithms. */
export const SigAlg = { HS256: "hs256", ED25519: "ed25519" } as const;
/** One of {@link SigAlg}. */
export type SigAlg = typeof SigAlg[keyof typeof SigAlg];

const PREFIX = "celeriac-sig/1\n";
const encoder = new TextEncoder();

/** Headers left out of the signature: they change in transit by design. */
const UNSIGNED = new Set<string>([
  Header.SIG,
  Header.DELAYED_QUEUE,
  Header.DELAYED_DUE,
  Header.MOVED,
  ...DLQ_HEADERS,
]);

function covered(name: string): boolean {
  if (UNSIGNED.has(name)) return false;
  return !name.startsWith("Nats-") || name === Header.MSG_ID;
}

/** The canonical header part of what is signed (the body follows it). */
export function canonicalHeaders(alg: string, kid: string, headers: Record<string, string>): Uint8Array {
  const names = Object.keys(headers).filter(covered).sort();
  let text = `${PREFIX}${alg}\n${kid}\n${names.length}\n`;
  for (const n of names) text += `${n}:${headers[n]}\n`;
  return encoder.encode(text);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function b64url(bytes: Uint8Array): string {
  // btoa over a binary string: available on Node and Deno without Buffer.
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromB64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The key id of an HMAC key (not secret: a hash prefix of it, for picking among keys). */
export function hmacKeyId(key: Uint8Array): string {
  const h = createHash("sha256").update(encoder.encode("celeriac-kid:")).update(key).digest();
  return b64url(new Uint8Array(h)).slice(0, 8);
}

function hmac(key: Uint8Array, head: Uint8Array, body: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(head).update(body).digest());
}

const PKCS8_ED25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const SPKI_ED25519 = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** An Ed25519 private key from a raw 32-byte seed, and its public nkey. */
function ed25519FromSeed(seedText: string): { key: KeyObject; publicKey: string; publicRaw: Uint8Array } {
  const { role, seed } = decodeSeed(seedText);
  const key = createPrivateKey({ key: concat(PKCS8_ED25519, seed) as never, format: "der", type: "pkcs8" });
  const spki = new Uint8Array(createPublicKey(key).export({ format: "der", type: "spki" }));
  const publicRaw = spki.slice(spki.length - 32);
  return { key, publicKey: encodePublicKey(role, publicRaw), publicRaw };
}

function ed25519Public(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: concat(SPKI_ED25519, raw) as never, format: "der", type: "spki" });
}

/** Signs outgoing task messages. */
export interface Signer {
  readonly alg: SigAlg;
  /** The key id written into the signature header (the public nkey for Ed25519). */
  readonly keyId: string;
  /** Adds the signature header to `message` (its headers must be final, `Nats-Msg-Id` included). */
  sign(message: WireMessage): void;
}

/** An HMAC-SHA256 signer. */
export function hmacSigner(key: Uint8Array): Signer {
  const kid = hmacKeyId(key);
  return {
    alg: SigAlg.HS256,
    keyId: kid,
    sign(m) {
      const sig = hmac(key, canonicalHeaders(SigAlg.HS256, kid, m.headers), m.body);
      m.headers[Header.SIG] = `${SigAlg.HS256};${kid};${b64url(sig)}`;
    },
  };
}

/** An Ed25519 signer from an nkey seed (`SU…`); throws NkeyFormatError on a bad seed. */
export function ed25519Signer(seed: string): Signer & { publicRaw: Uint8Array } {
  const { key, publicKey, publicRaw } = ed25519FromSeed(seed);
  return {
    alg: SigAlg.ED25519,
    keyId: publicKey,
    publicRaw,
    sign(m) {
      const data = concat(canonicalHeaders(SigAlg.ED25519, publicKey, m.headers), m.body);
      m.headers[Header.SIG] = `${SigAlg.ED25519};${publicKey};${b64url(new Uint8Array(sign(null, data, key)))}`;
    },
  };
}

/** What a check found. */
export type Verdict =
  | { kind: "verified"; alg: SigAlg; keyId: string }
  | { kind: "unsigned" }
  | { kind: "unknown-key"; reason: string }
  | { kind: "bad"; reason: string };

/** Checks incoming task messages against the keys a worker trusts. */
export class Verifier {
  #hmac = new Map<string, Uint8Array>();
  #ed = new Map<string, KeyObject>();

  /** `hmacKeys`: shared keys (current first); `trustedKeys`: public nkeys (`U…`) of producers. */
  constructor(hmacKeys: Uint8Array[], trustedKeys: string[]) {
    for (const k of hmacKeys) this.#hmac.set(hmacKeyId(k), k);
    for (const pk of trustedKeys) this.#ed.set(pk.trim(), ed25519Public(decodePublicKey(pk)));
  }

  /** How many keys it trusts. */
  get size(): number {
    return this.#hmac.size + this.#ed.size;
  }

  /** Checks a delivered message's signature. Never throws. */
  check(headers: Record<string, string>, body: Uint8Array): Verdict {
    const value = headers[Header.SIG];
    if (value === undefined) return { kind: "unsigned" };
    const [alg, kid, sigText, extra] = value.split(";");
    if (!alg || !kid || !sigText || extra !== undefined) return { kind: "bad", reason: "malformed signature header" };
    const sig = fromB64url(sigText);
    if (!sig) return { kind: "bad", reason: "malformed signature header" };
    if (alg === SigAlg.HS256) {
      const key = this.#hmac.get(kid);
      if (!key) return { kind: "unknown-key", reason: `signed with an HMAC key this worker does not hold (key id ${kid})` };
      const want = hmac(key, canonicalHeaders(alg, kid, headers), body);
      const ok = sig.length === want.length && timingSafeEqual(sig, want);
      return ok
        ? { kind: "verified", alg, keyId: kid }
        : { kind: "bad", reason: `bad signature (key id ${kid}): headers or body changed after signing` };
    }
    if (alg === SigAlg.ED25519) {
      const key = this.#ed.get(kid);
      if (!key) return { kind: "unknown-key", reason: `signed by ${kid}, which is not in this worker's trustedKeys` };
      let ok = false;
      try {
        ok = sig.length === 64 && verify(null, concat(canonicalHeaders(alg, kid, headers), body), key, sig);
      } catch {
        ok = false;
      }
      return ok
        ? { kind: "verified", alg, keyId: kid }
        : { kind: "bad", reason: `bad signature (signer ${kid}): headers or body changed after signing` };
    }
    return { kind: "bad", reason: `unknown signature algorithm "${alg.slice(0, 20)}"` };
  }
}

/** A new Ed25519 user nkey: the seed (secret) and its public key. */
export function generateEd25519Key(): { seed: string; publicKey: string } {
  const seed = encodeSeed("U", crypto.getRandomValues(new Uint8Array(32)));
  return { seed, publicKey: ed25519Signer(seed).keyId };
}

/** A new HMAC key: 32 random bytes, base64 (44 characters). */
export function generateHmacKey(): string {
  let s = "";
  for (const b of crypto.getRandomValues(new Uint8Array(32))) s += String.fromCharCode(b);
  return btoa(s);
}
