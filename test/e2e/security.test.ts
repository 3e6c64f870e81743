/**
 * Security as a deployment sees it: a worker configured only by environment variables (as from
 * Kubernetes Secrets), on private servers that require credentials. Wrong credentials end the
 * command with exit code 78 and a message naming the server; a Deno worker checks what a Node
 * producer signed.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Celeriac, type CeleriacOptions, ErrorCode, silentLogger, TaskError } from "celeriac";
import { privateNats, privateRedis, type PrivateServer, runCli, spawnWorker, stopProc, uniqueName } from "../helpers.ts";
import { userNkey } from "../security-helpers.ts";
import { TASKS } from "./e2e-helpers.ts";

describe("security, deployed", () => {
  let nats: PrivateServer;
  let redis: PrivateServer;
  let dir: string;
  const redisUrl = () => `redis://:rpw@127.0.0.1:${redis.port}/0`;

  before(async () => {
    nats = await privateNats({ config: `authorization { users = [ { user: worker, password: "wpw" } ] }\n` });
    redis = await privateRedis(["--requirepass", "rpw"]);
    dir = mkdtempSync(path.join(tmpdir(), "celeriac-e2e-sec-"));
  });
  after(async () => {
    await nats.dispose();
    await redis.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      CELERIAC_NAME: uniqueName("e2esec"),
      CELERIAC_BROKER_URL: nats.url,
      CELERIAC_RESULT_BACKEND: redisUrl(),
      CELERIAC_NATS_USER: "worker",
      CELERIAC_NATS_PASSWORD: "wpw",
      ...extra,
    };
  }

  it("wrong NATS or Redis credentials: exit 78 at once, naming the server and what to check", async () => {
    const natsBad = await runCli(["worker", "-A", TASKS], { env: env({ CELERIAC_NATS_PASSWORD: "nope" }), timeoutMs: 30_000 });
    assert.equal(natsBad.code, 78, natsBad.output);
    assert.match(natsBad.output, new RegExp(`authentication failed at the broker at nats://127\\.0\\.0\\.1:${nats.port}`));
    assert.match(natsBad.output, /CELERIAC_NATS_USER\/CELERIAC_NATS_PASSWORD/);
    const redisBad = await runCli(["worker", "-A", TASKS], {
      env: env({ CELERIAC_RESULT_BACKEND: `redis://127.0.0.1:${redis.port}/0` }),
      timeoutMs: 30_000,
    });
    assert.equal(redisBad.code, 78, redisBad.output);
    assert.match(redisBad.output, /authentication failed at the result backend at redis:\/\/127\.0\.0\.1:\d+\/0 .*NOAUTH/);
  });

  it("a missing key file or a bad seed in the environment: exit 78 naming the variable", async () => {
    const missing = await runCli(["worker", "-A", TASKS], {
      env: env({ CELERIAC_SIGNING_KEY_FILE: path.join(dir, "absent") }),
      timeoutMs: 30_000,
    });
    assert.equal(missing.code, 78, missing.output);
    assert.match(missing.output, /CELERIAC_SIGNING_KEY_FILE: cannot read the HMAC signing key at .*absent \(no such file\)/);
    const badSeed = await runCli(["worker", "-A", TASKS], { env: env({ CELERIAC_SIGNING_SEED: "SUnope" }), timeoutMs: 30_000 });
    assert.equal(badSeed.code, 78, badSeed.output);
    assert.match(badSeed.output, /CELERIAC_SIGNING_SEED: is not a usable nkey seed/);
    const keygen = await runCli(["keygen", "--json"]);
    assert.equal(keygen.code, 0, keygen.output);
    const made = JSON.parse(keygen.output.trim().split("\n").pop()!) as { seed: string; publicKey: string };
    assert.match(made.seed, /^SU[A-Z2-7]{56}$/);
    assert.match(made.publicKey, /^U[A-Z2-7]{55}$/);
  });

  it("a Deno worker configured by environment runs what a Node producer signed, and rejects what nobody signed", async () => {
    const producerKey = userNkey();
    const workerKey = userNkey();
    const seedFile = path.join(dir, "worker.nk");
    writeFileSync(seedFile, `${workerKey.seed}\n`);
    const e = env({
      T_KEY_PREFIX: `${uniqueName("p")}-`,
      CELERIAC_SIGNING_SEED_FILE: seedFile,
      CELERIAC_SIGNING_TRUSTED_KEYS: producerKey.publicKey,
      CELERIAC_SIGNING_REQUIRE: "true",
    });
    const w = await spawnWorker(["-A", TASKS, "-c", "2"], { env: e, runtime: "deno" });
    assert.match(
      w.output(),
      /\[security\]\n\.> broker: +auth userpass\n\.> signing: +signs ed25519 U[A-Z2-7]{55}; checks against 2 key\(s\); REQUIRED/,
    );
    const common: CeleriacOptions = {
      name: e.CELERIAC_NAME,
      brokerUrl: nats.url,
      resultBackend: redisUrl(),
      resultKeyPrefix: e.T_KEY_PREFIX,
      broker: { auth: { user: "worker", pass: "wpw" } },
    };
    const signed = new Celeriac({ ...common, signing: { ed25519Seed: producerKey.seed } });
    const unsigned = new Celeriac(common);
    signed.log = unsigned.log = silentLogger;
    try {
      assert.equal(await (await signed.sendTask("whoami")).get({ timeout: 30 }), "deno");
      const r = await unsigned.sendTask("add", [1, 2]);
      await assert.rejects(
        r.get({ timeout: 30 }),
        (err: unknown) => err instanceof TaskError && err.code === ErrorCode.TASK_REJECTED && /unsigned message/.test(err.message),
      );
    } finally {
      await stopProc(w);
      await Promise.all([signed.close(), unsigned.close()]);
    }
  });
});
