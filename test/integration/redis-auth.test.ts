/**
 * Redis password, ACL user and TLS against private redis-servers configured for each: results
 * stored and read with the right credentials; with the wrong ones a fast, clear error (not
 * ioredis reconnecting forever) naming the server and what to check.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Celeriac, type CeleriacError, type CeleriacOptions, ConfigError, ErrorCode, silentLogger } from "celeriac";
import { isDeno, privateNats, privateRedis, type PrivateServer, uniqueName } from "../helpers.ts";
import { type Certs, failsWith, hasOpenssl, makeCerts, roundTrip as checkRoundTrip } from "../security-helpers.ts";

let nats: PrivateServer;
const apps: Celeriac[] = [];

function app(resultBackend: string, opts: CeleriacOptions = {}): Celeriac {
  const a = new Celeriac({ name: uniqueName("rauth"), brokerUrl: nats.url, resultBackend, ...opts });
  a.log = silentLogger;
  apps.push(a);
  return a;
}

async function roundTrip(resultBackend: string, opts: CeleriacOptions = {}): Promise<void> {
  await checkRoundTrip(app(resultBackend, opts));
}

/** Connecting fails fast with `code`; returns the error. */
function refused(resultBackend: string, opts: CeleriacOptions, code: string | string[]): Promise<CeleriacError> {
  const a = app(resultBackend, opts);
  return failsWith(() => a.backend(), code, "backend()");
}

before(async () => {
  nats = await privateNats();
});

after(async () => {
  await Promise.all(apps.map((a) => a.close().catch(() => {})));
  await nats.dispose();
});

describe("Redis password and ACL user", () => {
  let redis: PrivateServer;
  before(async () => {
    redis = await privateRedis({ args: ["--requirepass", "pw-default", "--user", "app", "on", ">pw-app", "~*", "&*", "+@all"] });
  });
  after(() => redis.dispose());

  it("the password in the URL or in backend.password; an ACL user in the URL or in backend.username", async () => {
    const host = `127.0.0.1:${redis.port}`;
    await roundTrip(`redis://:pw-default@${host}/0`);
    await roundTrip(`redis://app:pw-app@${host}/0`);
    await app(`redis://${host}/0`, { backend: { password: "pw-default" } }).backend();
    await app(`redis://${host}/0`, { backend: { username: "app", password: "pw-app" } }).backend();
  });

  it("a wrong password or user: WRONGPASS, named server, what to check, no password echoed", async () => {
    const host = `127.0.0.1:${redis.port}`;
    const err = await refused(`redis://app:bad-pw@${host}/0`, {}, ErrorCode.AUTH);
    assert.match(err.message, new RegExp(`authentication failed at the result backend at redis://${host.replace(/\./g, "\\.")}/0`));
    assert.match(err.message, /WRONGPASS/);
    assert.match(err.message, /backend\.username \/ backend\.password/);
    assert.doesNotMatch(err.message, /bad-pw/);
    await refused(`redis://${host}/0`, { backend: { password: "nope" } }, ErrorCode.AUTH);
  });

  it("no password where one is required: NOAUTH and where to put one", async () => {
    const err = await refused(`redis://127.0.0.1:${redis.port}/0`, {}, ErrorCode.AUTH);
    assert.match(err.message, /NOAUTH/);
    assert.match(err.message, /requires a password: put it in the URL/);
  });
});

describe("Redis TLS (rediss://) with client certificates", { skip: hasOpenssl ? false : "openssl is not installed" }, () => {
  let redis: PrivateServer;
  let certs: Certs;
  before(async () => {
    certs = makeCerts();
    redis = await privateRedis({ tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, verify: true } });
  });
  after(async () => {
    await redis.dispose();
    certs.dispose();
  });

  it("the CA and a client certificate: a round trip", async () => {
    assert.ok(redis.url.startsWith("rediss://"));
    await roundTrip(redis.url, { backend: { tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } } });
  });

  it("an untrusted server certificate: a TLS error naming the option", async () => {
    const err = await refused(
      redis.url,
      { backend: { tls: { ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey } } },
      ErrorCode.TLS,
    );
    assert.match(err.message, /TLS with the result backend at rediss:\/\/127\.0\.0\.1:\d+\/0 failed/);
    assert.match(err.message, /backend\.tls\.ca/);
  });

  // See nats-auth.test.ts: Deno 2.9.6's node:tls turns the server's alert into an uncaught error.
  it(
    "no client certificate where the server requires one: says so",
    { skip: isDeno ? "Deno's node:tls crashes on the alert" : false },
    async () => {
      // The server's alert (ERR_TLS) or, when the reset wins the race to the client, the reset
      // (ERR_UNAVAILABLE): TLS 1.3 decides which the client sees. Both must name the fix.
      const err = await refused(redis.url, { backend: { tls: { ca: certs.ca } } }, [ErrorCode.TLS, ErrorCode.UNAVAILABLE]);
      assert.match(err.message, /backend\.tls\.cert/);
    },
  );

  it("TLS files with a redis:// URL, or a missing file, fail naming the option", async () => {
    assert.throws(
      () => new Celeriac({ resultBackend: `redis://127.0.0.1:${redis.port}/0`, backend: { tls: { ca: certs.ca } } }),
      (e: unknown) => e instanceof ConfigError && e.field === "backend.tls" && /use rediss:\/\//.test(e.message),
    );
    await assert.rejects(
      app(redis.url, { backend: { tls: { ca: `${certs.dir}/absent.pem` } } }).backend(),
      (e: unknown) => e instanceof ConfigError && e.field === "backend.tls.ca",
    );
  });
});
