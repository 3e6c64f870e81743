/**
 * Message signatures without a network: the nkey codec against @nats-io/nkeys, what each algorithm
 * covers, what may change in transit, and what a check reports.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { nkeys } from "@nats-io/transport-node";
import { decodePublicKey, decodeSeed, encodePublicKey, encodeSeed, NkeyFormatError } from "../../src/security/nkey.ts";
import {
  canonicalHeaders,
  ed25519Signer,
  generateEd25519Key,
  generateHmacKey,
  hmacKeyId,
  hmacSigner,
  Verifier,
} from "../../src/security/signing.ts";
import { encodeTaskMessage, Header, type WireMessage } from "../../src/protocol/message.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const KEY = enc.encode("k".repeat(44));

function message(extra: Record<string, string> = {}): WireMessage {
  const m = encodeTaskMessage({
    id: "id-1",
    task: "add",
    args: [1, 2],
    kwargs: {},
    embed: null,
    retries: 0,
    queue: "celery",
    headers: { "x-tenant": "acme" },
  });
  Object.assign(m.headers, extra);
  return m;
}

function copy(m: WireMessage): WireMessage {
  return { headers: { ...m.headers }, body: m.body.slice() };
}

describe("nkey codec", () => {
  it("reads seeds and public keys as @nats-io/nkeys writes them, and writes the same text", () => {
    for (const kp of [nkeys.createUser(), nkeys.createAccount(), nkeys.createOperator(), nkeys.createServer()]) {
      const seed = dec.decode(kp.getSeed());
      const { role, seed: raw } = decodeSeed(seed);
      assert.equal(encodeSeed(role, raw), seed);
      const signer = ed25519Signer(seed);
      assert.equal(signer.keyId, kp.getPublicKey(), "the public key derived natively matches nkeys'");
      assert.deepEqual(decodePublicKey(kp.getPublicKey()), signer.publicRaw);
      assert.equal(encodePublicKey(role, signer.publicRaw), kp.getPublicKey());
    }
  });

  it("a signature made natively verifies with @nats-io/nkeys (same Ed25519)", () => {
    const kp = nkeys.createUser();
    const s = ed25519Signer(dec.decode(kp.getSeed()));
    const m = message();
    s.sign(m);
    const [, kid, sig] = m.headers[Header.SIG]!.split(";");
    const data = new Uint8Array([...canonicalHeaders("ed25519", kid!, m.headers), ...m.body]);
    const raw = Uint8Array.from(atob(sig!.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    assert.ok(nkeys.fromPublic(kp.getPublicKey()).verify(data, raw));
  });

  it("generated keys are ordinary nkeys; generated HMAC keys are 32 random bytes", () => {
    const k = generateEd25519Key();
    assert.equal(nkeys.fromSeed(enc.encode(k.seed)).getPublicKey(), k.publicKey);
    assert.match(k.publicKey, /^U[A-Z2-7]{55}$/);
    const h = generateHmacKey();
    assert.equal(atob(h).length, 32);
    assert.notEqual(h, generateHmacKey());
  });

  it("refuses broken keys with a reason", () => {
    const seed = dec.decode(nkeys.createUser().getSeed());
    const pub = nkeys.createUser().getPublicKey();
    // one character changed in the middle (the last one also carries 2 padding bits)
    assert.throws(() => decodeSeed(seed.slice(0, 20) + (seed[20] === "A" ? "B" : "A") + seed.slice(21)), /checksum/);
    assert.throws(() => decodeSeed(pub), (e: unknown) => e instanceof NkeyFormatError && /not a seed|32 key bytes/.test(e.message));
    assert.throws(() => decodePublicKey(seed), /seed|32 key bytes/);
    assert.throws(() => decodePublicKey("U" + "1".repeat(55)), /base32/);
    assert.throws(() => decodeSeed(dec.decode(nkeys.createCurve().getSeed())), /curve/);
  });
});

describe("signatures", () => {
  const ed = ed25519Signer(dec.decode(nkeys.createUser().getSeed()));
  const signers = [["hs256", hmacSigner(KEY)], ["ed25519", ed]] as const;
  const verifier = new Verifier([KEY], [ed.keyId]);

  for (const [alg, signer] of signers) {
    it(`${alg}: verifies what was signed; one header holds alg, key id and signature`, () => {
      const m = message();
      const before = Object.keys(m.headers).length;
      signer.sign(m);
      assert.equal(Object.keys(m.headers).length, before + 1);
      assert.match(m.headers[Header.SIG]!, new RegExp(`^${alg};${signer.keyId};[A-Za-z0-9_-]+$`));
      assert.deepEqual(verifier.check(m.headers, m.body), { kind: "verified", alg, keyId: signer.keyId });
    });

    it(`${alg}: any change to the body or a covered header is caught`, () => {
      const m = message();
      signer.sign(m);
      const tampered: [string, (x: WireMessage) => void][] = [
        ["body byte", (x) => (x.body[x.body.length - 2]! ^= 1)],
        ["task name", (x) => (x.headers[Header.TASK] = "rm_rf")],
        ["task id", (x) => (x.headers[Header.ID] = "id-2")],
        ["dedup id", (x) => (x.headers[Header.MSG_ID] = "other")],
        ["user header value", (x) => (x.headers["x-tenant"] = "evil")],
        ["user header added", (x) => (x.headers["x-admin"] = "1")],
        ["user header removed", (x) => delete x.headers["x-tenant"]],
        ["traceparent added", (x) => (x.headers[Header.TRACEPARENT] = "00-" + "1".repeat(32) + "-" + "2".repeat(16) + "-01")],
        ["once added", (x) => (x.headers[Header.ONCE] = "1")],
        ["key id swapped", (x) => (x.headers[Header.SIG] = x.headers[Header.SIG]!.replace(`;${signer.keyId};`, ";AAAAAAAA;"))],
        ["signature truncated", (x) => (x.headers[Header.SIG] = x.headers[Header.SIG]!.slice(0, -4))],
      ];
      for (const [what, change] of tampered) {
        const x = copy(m);
        change(x);
        const v = verifier.check(x.headers, x.body);
        assert.notEqual(v.kind, "verified", what);
        assert.notEqual(v.kind, "unsigned", what);
      }
    });

    it(`${alg}: headers changed in transit by design do not break it`, () => {
      const m = message();
      signer.sign(m);
      const moved = copy(m);
      moved.headers[Header.DELAYED_QUEUE] = "celery";
      moved.headers[Header.DELAYED_DUE] = "123";
      moved.headers[Header.MOVED] = "1";
      moved.headers[Header.DLQ_REASON] = "x";
      moved.headers["Nats-Expected-Stream"] = "S";
      assert.equal(verifier.check(moved.headers, moved.body).kind, "verified");
      // header order on the wire does not matter
      const reordered = { headers: Object.fromEntries(Object.entries(m.headers).reverse()), body: m.body };
      assert.equal(verifier.check(reordered.headers, reordered.body).kind, "verified");
    });
  }

  it("unsigned, unknown keys, malformed headers and unknown algorithms are told apart", () => {
    assert.deepEqual(verifier.check(message().headers, message().body), { kind: "unsigned" });
    const stranger = ed25519Signer(dec.decode(nkeys.createUser().getSeed()));
    const m = message();
    stranger.sign(m);
    const v = verifier.check(m.headers, m.body);
    assert.equal(v.kind, "unknown-key");
    assert.match((v as { reason: string }).reason, new RegExp(stranger.keyId));
    const h = message();
    hmacSigner(enc.encode("z".repeat(40))).sign(h);
    assert.equal(verifier.check(h.headers, h.body).kind, "unknown-key");
    for (const bad of ["", "hs256", "hs256;x", "hs256;a;b;c", "hs256;" + hmacKeyId(KEY) + ";not base64!", "rsa;k;AAAA"]) {
      const x = message({ [Header.SIG]: bad });
      assert.equal(verifier.check(x.headers, x.body).kind, "bad", JSON.stringify(bad));
    }
  });

  it("an Ed25519 signature cannot pass as HMAC and the other way round", () => {
    const m = message();
    ed.sign(m);
    const [, , sig] = m.headers[Header.SIG]!.split(";");
    const asHmac = copy(m);
    asHmac.headers[Header.SIG] = `hs256;${hmacKeyId(KEY)};${sig}`;
    assert.equal(verifier.check(asHmac.headers, asHmac.body).kind, "bad");
  });

  it("a rotation: old HMAC keys still verify, and the key id picks the key", () => {
    const old = enc.encode("o".repeat(40));
    const m = message();
    hmacSigner(old).sign(m);
    assert.equal(new Verifier([KEY, old], []).check(m.headers, m.body).kind, "verified");
    assert.equal(new Verifier([KEY], []).check(m.headers, m.body).kind, "unknown-key");
  });
});
