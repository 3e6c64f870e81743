/**
 * Security options: shapes checked at construction naming the field (or environment variable),
 * files read at start naming the option, environment groups replacing the code's, and every
 * variable read listed in the deployment contract.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { compileAppOptions, type EnvReader } from "../../src/options.ts";
import { loadSigning } from "../../src/security/load.ts";
import { Celeriac, type CeleriacOptions, ConfigError } from "../../src/mod.ts";
import { ENV } from "../../actors/contract.ts";
import { userNkey } from "../security-helpers.ts";

const KEY = "0123456789abcdef0123456789abcdef0123";

function fieldOf(o: CeleriacOptions, env: Record<string, string> = {}): string {
  try {
    compileAppOptions(o, (n) => env[n]);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return (err as ConfigError).field;
  }
  assert.fail("expected a ConfigError");
}

describe("security options", () => {
  it("bad broker credentials and TLS options fail at once, naming the field", () => {
    assert.equal(fieldOf({ broker: { auth: { user: "a" } as never } }), "broker.auth.pass");
    assert.equal(fieldOf({ broker: { auth: { user: "a", pass: "b", token: "c" } as never } }), "broker.auth");
    assert.equal(fieldOf({ broker: { auth: { password: "x" } as never } }), "broker.auth.password");
    assert.equal(fieldOf({ broker: { auth: { nkeySeed: "SUnotaseed" } } }), "broker.auth.nkeySeed");
    assert.equal(fieldOf({ broker: { auth: { nkeySeed: userNkey().publicKey } } }), "broker.auth.nkeySeed");
    assert.equal(fieldOf({ broker: { auth: { credsFile: "" } } }), "broker.auth.credsFile");
    assert.equal(fieldOf({ brokerUrl: "nats://u:p@127.0.0.1:4222", broker: { auth: { token: "t" } } }), "broker.auth");
    assert.equal(fieldOf({ broker: { tls: { cert: "/c.pem" } } }), "broker.tls.key");
    assert.equal(fieldOf({ broker: { tls: { key: "/k.pem" } } }), "broker.tls.cert");
  });

  it("bad backend security options name the field", () => {
    assert.equal(fieldOf({ backend: { tls: { ca: "/ca.pem" } } }), "backend.tls");
    assert.equal(fieldOf({ resultBackend: "redis://:pw@127.0.0.1:6379/0", backend: { password: "x" } }), "backend.password");
    assert.equal(fieldOf({ backend: { password: "" } }), "backend.password");
    const ok = compileAppOptions({
      resultBackend: "rediss://127.0.0.1:6380/0",
      backend: { username: "app", password: "pw", tls: { ca: "/ca.pem" } },
    });
    assert.deepEqual(ok.security.backend, { username: "app", password: "pw", tls: { field: "backend.tls", ca: "/ca.pem" } });
  });

  it("bad signing options name the field and say how to fix it", () => {
    const seed = userNkey().seed;
    assert.equal(fieldOf({ signing: { hmacKey: KEY, ed25519Seed: seed } }), "signing");
    assert.equal(fieldOf({ signing: { hmacKey: "short" } }), "signing.hmacKey");
    assert.equal(fieldOf({ signing: { hmacKey: KEY, hmacKeyFile: "/k" } }), "signing.hmacKey");
    assert.equal(fieldOf({ signing: { ed25519Seed: "SUAAAA" } }), "signing.ed25519Seed");
    assert.equal(fieldOf({ signing: { trustedKeys: [userNkey().publicKey, seed] } }), "signing.trustedKeys[1]");
    assert.equal(fieldOf({ signing: { require: true } }), "signing.require");
    assert.equal(fieldOf({ signing: { hmacPreviousKeys: [KEY] } }), "signing.hmacPreviousKeys");
    assert.equal(fieldOf({}, { CELERIAC_SIGNING_REQUIRE: "maybe", CELERIAC_SIGNING_KEY: KEY }), "CELERIAC_SIGNING_REQUIRE");
    assert.equal(
      fieldOf({}, { CELERIAC_SIGNING_KEY: KEY, CELERIAC_SIGNING_KEY_FILE: "/k" }),
      "CELERIAC_SIGNING_KEY, CELERIAC_SIGNING_KEY_FILE",
    );
    assert.equal(fieldOf({ signing: { ed25519Seed: seed } }, { CELERIAC_SIGNING_KEY: KEY }), "signing");
    assert.throws(() => new Celeriac({ signing: { hmacKey: "short" } }), /at least 32 characters; make one with: openssl rand -base64 32/);
    assert.equal(compileAppOptions({}).security.signing, null, "off unless asked for");
  });

  it("an environment group replaces the code's; single settings override fields", () => {
    const env: Record<string, string> = { CELERIAC_NATS_TOKEN: "from-env", CELERIAC_NATS_TLS_CA: "/env/ca.pem" };
    const c = compileAppOptions({ broker: { auth: { user: "code", pass: "code" }, tls: { ca: "/code/ca.pem" } } }, (n) => env[n]);
    assert.deepEqual(c.security.broker.auth, { kind: "token", token: "from-env", field: "CELERIAC_NATS_TOKEN" });
    assert.equal(c.security.broker.tls?.ca, "/env/ca.pem");
    assert.equal(
      fieldOf({}, { CELERIAC_NATS_TOKEN: "t", CELERIAC_NATS_USER: "u", CELERIAC_NATS_PASSWORD: "p" }).includes("CELERIAC_NATS_TOKEN"),
      true,
    );
    assert.equal(fieldOf({}, { CELERIAC_NATS_USER: "u" }), "CELERIAC_NATS_PASSWORD");
    const { publicKey } = userNkey();
    const s = compileAppOptions(
      { signing: { hmacKey: KEY } },
      (n) => ({ CELERIAC_SIGNING_TRUSTED_KEYS: ` ${publicKey}, `, CELERIAC_SIGNING_REQUIRE: "true" } as Record<string, string>)[n],
    );
    assert.deepEqual(s.security.signing?.trustedKeys, [publicKey]);
    assert.equal(s.security.signing?.require, true);
  });

  it("every environment variable the options read is in the deployment contract (actors/contract.ts ENV)", () => {
    const read = new Set<string>();
    const recorder: EnvReader = (n) => {
      read.add(n);
      return undefined;
    };
    compileAppOptions({}, recorder);
    const known = new Set<string>(Object.values(ENV));
    const missing = [...read].filter((n) => !known.has(n));
    assert.deepEqual(missing, []);
    assert.ok(read.has("CELERIAC_NATS_CREDS") && read.has("CELERIAC_SIGNING_SEED_FILE") && read.has("CELERIAC_REDIS_TLS_KEY"));
  });

  it("key files are read at start: missing or bad content names the option; whitespace is trimmed", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "celeriac-keys-"));
    try {
      const seed = userNkey();
      writeFileSync(path.join(dir, "seed"), `${seed.seed}\n`);
      writeFileSync(path.join(dir, "key"), `${KEY}\n`);
      writeFileSync(path.join(dir, "short"), "abc\n");
      const compile = (o: CeleriacOptions) => compileAppOptions(o).security.signing!;
      const signing = loadSigning(compile({ signing: { ed25519SeedFile: path.join(dir, "seed") } }));
      assert.equal(signing.signer?.keyId, seed.publicKey);
      assert.equal(signing.verifier.size, 1, "a process trusts its own key");
      assert.equal(loadSigning(compile({ signing: { hmacKeyFile: path.join(dir, "key") } })).signer?.alg, "hs256");
      assert.throws(
        () => loadSigning(compile({ signing: { hmacKeyFile: path.join(dir, "nope") } })),
        (e: unknown) => e instanceof ConfigError && e.field === "signing.hmacKeyFile" && /no such file/.test(e.message),
      );
      assert.throws(
        () => loadSigning(compile({ signing: { hmacKeyFile: path.join(dir, "short") } })),
        (e: unknown) => e instanceof ConfigError && e.field === "signing.hmacKeyFile",
      );
      assert.throws(
        () => loadSigning(compile({ signing: { ed25519SeedFile: path.join(dir, "key") } })),
        (e: unknown) => e instanceof ConfigError && e.field === "signing.ed25519SeedFile" && /nkey seed/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a worker that requires signatures but cannot sign what it publishes fails at start", async () => {
    const app = new Celeriac({
      brokerUrl: "memory://",
      resultBackend: "memory://",
      signing: { trustedKeys: [userNkey().publicKey], require: true },
    });
    const worker = app.worker();
    await assert.rejects(
      worker.start(),
      (e: unknown) => e instanceof ConfigError && e.field === "signing.require" && /retries/.test(e.message),
    );
    await app.close();
  });

  it("worker maxMessageBytes is checked", () => {
    const app = new Celeriac({ brokerUrl: "memory://", resultBackend: "memory://" });
    assert.throws(() => app.worker({ maxMessageBytes: 10 }), (e: unknown) => e instanceof ConfigError && e.field === "maxMessageBytes");
    assert.equal(app.worker().options.maxMessageBytes, 1_048_576);
  });
});
