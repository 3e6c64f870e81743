/**
 * The impure half of the security options: reading key files, certificates and `.creds` files when
 * an adapter connects or the app first signs. Every failure names the option (or environment
 * variable) the path came from and says what to do.
 */
import { ConfigError } from "../errors.ts";
import { readTextFile } from "../runtime/mod.ts";
import type { CompiledSigning, CompiledTls, SecretSource } from "./options.ts";
import { checkHmacKey, checkSeed } from "./options.ts";
import { ed25519Signer, hmacSigner, type Signer, Verifier } from "./signing.ts";

/** Reads a file; throws ConfigError naming `field`. */
export type FileReader = (path: string) => string;

/** Reads a file for `field`, with an error that says which file and why. */
export function readFor(path: string, field: string, what: string, read: FileReader = readTextFile): string {
  try {
    return read(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (err as Error).message;
    throw new ConfigError(field, `cannot read ${what} at ${path} (${why}); mount it there or fix the path`, { cause: err });
  }
}

/** A secret's value: inline, or the trimmed content of its file (Kubernetes secrets often end in a newline). */
export function readSecret(s: SecretSource, what: string, read?: FileReader): string {
  if (s.value !== undefined) return s.value.trim();
  return readFor(s.file!, s.field, what, read).trim();
}

/** Checks that each TLS file exists and holds PEM; the adapters then read them at each (re)connect. */
export function checkTlsFiles(tls: CompiledTls, read?: FileReader): { ca?: string; cert?: string; key?: string } {
  const out: { ca?: string; cert?: string; key?: string } = {};
  for (const part of ["ca", "cert", "key"] as const) {
    const path = tls[part];
    if (path === undefined) continue;
    const text = readFor(
      path,
      `${tls.field}.${part}`,
      part === "ca" ? "the CA certificate" : part === "cert" ? "the client certificate" : "the client key",
      read,
    );
    if (!text.includes("-----BEGIN ")) {
      throw new ConfigError(`${tls.field}.${part}`, `${path} is not a PEM file (no "-----BEGIN" line)`);
    }
    out[part] = text;
  }
  return out;
}

/** Error codes Node (and Deno's node:tls) give certificate and handshake failures. */
const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
]);

/** True if `err` (or its cause) is a TLS certificate or handshake failure, judged by its `code`. */
export function isTlsFailure(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 3; e = e.cause as typeof e, i++) {
    const code = typeof e.code === "string" ? e.code : "";
    if (TLS_CODES.has(code) || code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_")) return true;
  }
  return false;
}

/** The keys a process signs and checks task messages with. */
export interface MessageSigning {
  /** Signs what this process publishes; null if it has no key of its own. */
  signer: Signer | null;
  /** Checks what a worker receives. */
  verifier: Verifier;
  /** Dead-letter unsigned messages and those signed by unknown keys. */
  require: boolean;
}

/** Reads key files and builds the signer and verifier. */
export function loadSigning(c: CompiledSigning, read?: FileReader): MessageSigning {
  let signer: Signer | null = null;
  const hmacKeys: Uint8Array[] = [];
  const trusted = [...c.trustedKeys];
  const enc = new TextEncoder();
  if (c.hmac) {
    const key = readSecret(c.hmac, "the HMAC signing key", read);
    checkHmacKey(key, c.hmac.field);
    hmacKeys.push(enc.encode(key));
    for (const k of c.hmacPrevious) hmacKeys.push(enc.encode(k.trim()));
    signer = hmacSigner(hmacKeys[0]!);
  }
  if (c.ed25519) {
    const seed = readSecret(c.ed25519, "the Ed25519 signing seed", read);
    checkSeed(seed, c.ed25519.field);
    const ed = ed25519Signer(seed);
    signer = ed;
    // A process trusts its own key: a worker checks the retries it signed itself.
    if (!trusted.includes(ed.keyId)) trusted.push(ed.keyId);
  }
  return { signer, verifier: new Verifier(hmacKeys, trusted), require: c.require };
}
