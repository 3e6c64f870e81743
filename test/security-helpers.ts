/**
 * Material for the security tests, made fresh in each test run: a throwaway CA with server and
 * client certificates (openssl), and a NATS operator / account / user with its JWTs and `.creds`
 * file (nkeys plus a small JWT encoder), so `.creds` support is tested against a server in
 * operator mode without `nsc`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { nkeys } from "@nats-io/transport-node";
import { type Celeriac, CeleriacError } from "celeriac";

/** A worker of `app` runs one task and its result comes back: the connections work end to end. */
export async function roundTrip(app: Celeriac): Promise<void> {
  const mul = app.task("mul", (x: number, y: number) => x * y);
  const w = app.worker({ concurrency: 2 });
  await w.start();
  try {
    assert.equal(await (await mul.delay(4, 5)).get({ timeout: 10 }), 20);
  } finally {
    await w.stop();
  }
}

/**
 * `attempt` (connecting with the wrong settings) fails within a generous deadline, not a hang, with
 * a CeleriacError of `code`; returns the error.
 */
export async function failsWith(attempt: () => Promise<unknown>, code: string | string[], what: string): Promise<CeleriacError> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} hung for 15 s`)), 15_000)));
  try {
    await Promise.race([attempt(), hang]);
  } catch (err) {
    assert.ok(err instanceof CeleriacError, `expected a CeleriacError, got ${err}`);
    if (Array.isArray(code)) assert.ok(code.includes(err.code), `${err.code} is not one of ${code.join(", ")}: ${err.message}`);
    else assert.equal(err.code, code, err.message);
    return err;
  } finally {
    clearTimeout(timer);
  }
  assert.fail(`${what} succeeded with the wrong settings`);
}

/** True if the openssl command line tool is installed (the TLS tests need it). */
export const hasOpenssl: boolean = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Paths of the generated PEM files. */
export interface Certs {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing here: trusting it instead of `ca` must fail. */
  otherCa: string;
  dispose(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** Generates a CA (P-256, one day), a server certificate for 127.0.0.1/localhost and a client certificate. */
export function makeCerts(): Certs {
  const dir = mkdtempSync(path.join(tmpdir(), "celeriac-certs-"));
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = (name: string) =>
    openssl([
      "req",
      "-x509",
      ...key,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ], dir);
  ca("ca");
  ca("other-ca");
  const leaf = (name: string, ext: string) => {
    openssl(["req", ...key, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`], dir);
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    ], dir);
  };
  leaf("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  leaf("client", "extendedKeyUsage=clientAuth\n");
  const p = (f: string) => path.join(dir, f);
  return {
    dir,
    ca: p("ca.crt"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    clientCert: p("client.crt"),
    clientKey: p("client.key"),
    otherCa: p("other-ca.crt"),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function b64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A NATS JWT (v2): header and claims, signed with the issuer's nkey. */
function jwt(claims: Record<string, unknown>, issuer: nkeys.KeyPair): string {
  const full = {
    jti: b64url(crypto.getRandomValues(new Uint8Array(16))),
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    ...claims,
  };
  const head = `${b64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }))}.${b64url(JSON.stringify(full))}`;
  return `${head}.${b64url(issuer.sign(enc.encode(head)))}`;
}

function credsFile(userJwt: string, seed: string): string {
  return `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n` +
    `************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n` +
    `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
}

/** An operator-mode server configuration with JetStream, and `.creds` for a user of its account. */
export interface OperatorSetup {
  /** nats-server configuration text (memory resolver, preloaded accounts). */
  config: string;
  /** A valid `.creds` file's text. */
  creds: string;
  /** A `.creds` file whose seed does not match its JWT (the server must refuse it). */
  wrongCreds: string;
}

/** Builds an operator, a system account, an account with JetStream, and a user. */
export function operatorSetup(): OperatorSetup {
  const op = nkeys.createOperator();
  const sys = nkeys.createAccount();
  const acc = nkeys.createAccount();
  const user = nkeys.createUser();
  const base = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const opJwt = jwt({
    sub: op.getPublicKey(),
    name: "test-operator",
    nats: { type: "operator", version: 2, system_account: sys.getPublicKey() },
  }, op);
  const sysJwt = jwt({ sub: sys.getPublicKey(), name: "SYS", nats: { type: "account", version: 2, limits: base } }, op);
  const accJwt = jwt({
    sub: acc.getPublicKey(),
    name: "app",
    nats: { type: "account", version: 2, limits: { ...base, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } },
  }, op);
  const userJwt = jwt({
    sub: user.getPublicKey(),
    name: "worker",
    nats: { type: "user", version: 2, pub: {}, sub: {}, subs: -1, data: -1, payload: -1 },
  }, acc);
  const config = `operator: "${opJwt}"\nsystem_account: ${sys.getPublicKey()}\nresolver: MEMORY\nresolver_preload: {\n` +
    `  ${sys.getPublicKey()}: "${sysJwt}"\n  ${acc.getPublicKey()}: "${accJwt}"\n}\n`;
  return {
    config,
    creds: credsFile(userJwt, dec.decode(user.getSeed())),
    wrongCreds: credsFile(userJwt, dec.decode(nkeys.createUser().getSeed())),
  };
}

/** A fresh user nkey pair, as text. */
export function userNkey(): { seed: string; publicKey: string } {
  const kp = nkeys.createUser();
  return { seed: dec.decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}
