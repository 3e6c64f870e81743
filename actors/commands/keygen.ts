/**
 * `celeriac keygen`: makes signing keys (see docs/security.md). Prints them; stores nothing.
 */
import type { Command } from "../command.ts";
import { out } from "../command.ts";
import { generateEd25519Key, generateHmacKey } from "../../src/internal.ts";
import { Exit } from "../exit-codes.ts";

/** `celeriac keygen`. */
export const keygenCommand: Command = {
  name: "keygen",
  summary: "make a signing key (Ed25519 nkey or HMAC)",
  help: `Usage: celeriac keygen [--hmac] [--json]

Makes a key for message signing and prints it. Nothing is stored: put the secret part in a
Kubernetes Secret (or a file only its process can read) and the public part in the workers'
signing.trustedKeys / CELERIAC_SIGNING_TRUSTED_KEYS.

Options:
  --hmac                    a shared HMAC-SHA256 key (32 random bytes, base64) instead of an
                            Ed25519 nkey pair
  --json                    print {"seed","publicKey"} or {"hmacKey"} as JSON

Example:
  celeriac keygen            # seed for CELERIAC_SIGNING_SEED, public key for CELERIAC_SIGNING_TRUSTED_KEYS`,
  options: {
    hmac: { type: "boolean" },
    json: { type: "boolean" },
  },
  run({ values }) {
    if (values.hmac) {
      const hmacKey = generateHmacKey();
      out(
        values.json
          ? JSON.stringify({ hmacKey })
          : `HMAC key (secret: signing.hmacKey / CELERIAC_SIGNING_KEY, same on producers and workers):\n${hmacKey}`,
      );
      return Promise.resolve(Exit.OK);
    }
    const { seed, publicKey } = generateEd25519Key();
    out(
      values.json ? JSON.stringify({ seed, publicKey }) : [
        `seed (secret: signing.ed25519Seed / CELERIAC_SIGNING_SEED of the process that signs):`,
        seed,
        `public key (signing.trustedKeys / CELERIAC_SIGNING_TRUSTED_KEYS of the workers):`,
        publicKey,
      ].join("\n"),
    );
    return Promise.resolve(Exit.OK);
  },
};
