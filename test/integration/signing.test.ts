/**
 * Signed task messages end to end, on a private nats-server (with a password) and a private Redis:
 * what producers sign, workers run — through the delayed-task mover, retries and canvas follow-ups
 * the workers re-sign — and what nobody trusted vouched for goes to the dead-letter stream with
 * its reason: unsigned, tampered, untrusted, copied to another queue, oversized. Replays within
 * the duplicate window are dropped by JetStream.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Celeriac, type CeleriacOptions, chain, Reject, silentLogger, State, type Worker } from "celeriac";
import { replay } from "../../src/dead-letters.ts";
import { pack } from "../../src/protocol/codec.ts";
import { encodeTaskMessage, Header, type WireMessage } from "../../src/protocol/message.ts";
import { ed25519Signer, hmacSigner } from "../../src/security/signing.ts";
import { privateNats, privateRedis, type PrivateServer, uniqueName, waitFor } from "../helpers.ts";
import { userNkey } from "../security-helpers.ts";

const KEY = "signing-key-for-tests-0123456789abcdef";
const enc = new TextEncoder();

let nats: PrivateServer;
let redis: PrivateServer;
let nc: NatsConnection;

before(async () => {
  nats = await privateNats({ config: `authorization { users = [ { user: app, password: "pw" } ] }\n` });
  redis = await privateRedis(["--requirepass", "rpw"]);
  nc = await connect({ servers: `127.0.0.1:${nats.port}`, user: "app", pass: "pw" });
});

after(async () => {
  await nc.close();
  await nats.dispose();
  await redis.dispose();
});

/** Producer and worker apps of one test namespace, each with its own signing options. */
function apps(name: string, producer: CeleriacOptions["signing"], worker: CeleriacOptions["signing"]) {
  const common = {
    name,
    brokerUrl: nats.url,
    resultBackend: `redis://:rpw@127.0.0.1:${redis.port}/0`,
    broker: { auth: { user: "app", pass: "pw" } },
  } satisfies CeleriacOptions;
  const p = new Celeriac({ ...common, signing: producer });
  const w = new Celeriac({ ...common, signing: worker });
  p.log = w.log = silentLogger;
  const runs = new Map<string, number>();
  for (const a of [p, w]) {
    a.task("add", (x: number, y: number) => x + y);
    a.task("mul", (x: number, y: number) => x * y);
    a.task("count", (key: string) => runs.set(key, (runs.get(key) ?? 0) + 1).get(key));
    // Rejected (dead-lettered) on its first run for a key, runs on the next (a replay).
    a.task("rejectOnce", (key: string) => {
      const n = (runs.get(key) ?? 0) + 1;
      runs.set(key, n);
      if (n === 1) throw new Reject("not yet");
      return n;
    });
    a.task({ name: "flaky", bind: true }, (ctx) => {
      if (ctx.retries === 0) throw ctx.retry({ countdown: 0.2 });
      return ctx.retries;
    });
  }
  return { p, w, runs };
}

/** Publishes bytes as a hostile (or replaying) client with publish rights would. */
async function raw(subject: string, m: WireMessage): Promise<{ duplicate: boolean }> {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
  return await jetstream(nc).publish(subject, m.body, { headers: h });
}

function wire(id: string, task: string, args: unknown[], queue = "celery"): WireMessage {
  return encodeTaskMessage({ id, task, args, kwargs: {}, embed: null, retries: 0, queue });
}

describe("HMAC signing, required by the worker", () => {
  const name = uniqueName("sig");
  let p: Celeriac, w: Celeriac, runs: Map<string, number>;
  let worker: Worker;

  before(async () => {
    ({ p, w, runs } = apps(name, { hmacKey: KEY }, { hmacKey: KEY, require: true }));
    worker = w.worker({ queues: ["celery", "other"], concurrency: 4, maxMessageBytes: 2048 });
    await worker.start();
  });
  after(async () => {
    await worker.stop();
    await Promise.all([p.close(), w.close()]);
  });

  async function deadLetter(id: string, queue = "celery") {
    const broker = await w.broker();
    return await waitFor(async () => (await broker.listDeadLetters({ queue, limit: 1000 })).find((d) => d.headers[Header.ID] === id), {
      what: `dead letter ${id}`,
    });
  }

  it("signed tasks run: now, after a countdown (moved), retried by the worker, and as chain steps", async () => {
    assert.equal(await (await p.sendTask("add", [2, 3])).get({ timeout: 10 }), 5);
    assert.equal(await (await p.sendTask("add", [1, 1], { countdown: 0.3 })).get({ timeout: 10 }), 2);
    assert.equal(await (await p.sendTask("flaky")).get({ timeout: 10 }), 1, "the retry the worker re-signed ran");
    const r = await chain(p.tasks.get("add")!.s(1, 2), p.tasks.get("mul")!.s(10)).applyAsync();
    assert.equal(await r.get({ timeout: 10 }), 30, "the follow-up the worker signed ran");
    assert.deepEqual(await (await w.broker()).listDeadLetters({ limit: 10 }), []);
  });

  const sign = (m: WireMessage) => (hmacSigner(enc.encode(KEY)).sign(m), m);
  const cases: [string, (id: string) => { m: WireMessage; queue?: string }, RegExp][] = [
    ["unsigned", (id) => ({ m: wire(id, "add", [1, 2]) }), /^unsigned message: this worker requires signed messages/],
    ["body changed after signing", (id) => {
      const m = sign(wire(id, "add", [1, 2]));
      m.body = pack([[1000, 2], null, null, { v: 1, queue: "celery" }]);
      return { m };
    }, /^bad signature: .*headers or body changed after signing/],
    ["task header changed after signing", (id) => {
      const m = sign(wire(id, "add", [1, 2]));
      m.headers[Header.TASK] = "mul";
      return { m };
    }, /^bad signature/],
    ["signed by an untrusted Ed25519 key", (id) => {
      const m = wire(id, "add", [1, 2]);
      ed25519Signer(userNkey().seed).sign(m);
      return { m };
    }, /^untrusted signature: signed by U[A-Z2-7]{55}, which is not in this worker's trustedKeys/],
    ["signed with an HMAC key the worker does not hold", (id) => {
      const m = wire(id, "add", [1, 2]);
      hmacSigner(enc.encode("x".repeat(40))).sign(m);
      return { m };
    }, /^untrusted signature: signed with an HMAC key this worker does not hold/],
    [
      "signed for one queue, copied to another",
      (id) => ({ m: sign(wire(id, "add", [1, 2], "celery")), queue: "other" }),
      /^signed for queue "celery" but delivered on queue "other"/,
    ],
    [
      "oversized",
      (id) => ({ m: sign(wire(id, "add", ["x".repeat(3000), ""])) }),
      /^oversized message: \d+ bytes, over this worker's maxMessageBytes \(2048\)/,
    ],
  ];

  for (const [what, make, reason] of cases) {
    it(`${what} → dead letter with the reason, REJECTED, the worker keeps running`, async () => {
      const id = uniqueName("bad");
      const { m, queue = "celery" } = make(id);
      await raw(`${name}.tasks.${queue}`, m);
      const dl = await deadLetter(id, queue);
      assert.match(dl.reason, reason);
      assert.equal((await w.AsyncResult(id).record())?.status, State.REJECTED);
      assert.equal(worker.state, "running");
    });
  }

  it("a signed dead letter replayed (new message id) is re-signed and runs on a worker that requires signatures", async () => {
    const key = uniqueName("dlq");
    const r = await p.sendTask("rejectOnce", [key]);
    const dl = await deadLetter(r.id);
    assert.match(dl.reason, /rejected by the task: not yet/);
    const backend = await p.backend();
    const done = await replay(await p.broker(), dl, { forget: (id) => backend.forget(id), signing: p.signing() });
    assert.ok(done.msgId.includes(":replay:"), "published under a new message id");
    // Polled, not get(): this client already holds the first run's REJECTED notice.
    const rec = await waitFor(async () => {
      const x = await w.AsyncResult(r.id).record();
      return x?.status === State.SUCCESS ? x : null;
    }, { what: "the replayed task's SUCCESS" });
    assert.equal(rec.result, 2, "the replayed message passed the signature check and ran");
  });

  it("a dead letter whose signature does not verify is not re-signed by a replay", async () => {
    const id = uniqueName("forged");
    const m = sign(wire(id, "add", [1, 2]));
    m.headers[Header.TASK] = "mul";
    await raw(`${name}.tasks.celery`, m);
    const dl = await deadLetter(id);
    await assert.rejects(replay(await p.broker(), dl, { signing: p.signing() }), /does not verify/);
    assert.ok(await deadLetter(id), "still in the dead-letter stream");
  });

  it("a replay within the duplicate window is dropped by JetStream; the task ran once", async () => {
    const key = uniqueName("replay");
    const id = uniqueName("r");
    const m = sign(wire(id, "count", [key]));
    assert.equal((await raw(`${name}.tasks.celery`, m)).duplicate, false);
    assert.equal(await w.AsyncResult(id).get({ timeout: 10 }), 1);
    assert.equal((await raw(`${name}.tasks.celery`, m)).duplicate, true, "same signed message, same Nats-Msg-Id");
    assert.equal(runs.get(key), 1);
  });
});

describe("Ed25519 signing: producers' public keys trusted by workers", () => {
  const producer = userNkey();
  const workerKey = userNkey();
  const name = uniqueName("ed");
  let p: Celeriac, w: Celeriac;
  let worker: Worker;
  before(async () => {
    ({ p, w } = apps(name, { ed25519Seed: producer.seed }, {
      ed25519Seed: workerKey.seed,
      trustedKeys: [producer.publicKey],
      require: true,
    }));
    worker = w.worker({ concurrency: 4 });
    await worker.start();
  });
  after(async () => {
    await worker.stop();
    await Promise.all([p.close(), w.close()]);
  });

  it("the producer's tasks run; the worker signs its retries and follow-ups with its own key and trusts it", async () => {
    assert.equal(await (await p.sendTask("add", [20, 22])).get({ timeout: 10 }), 42);
    assert.equal(await (await p.sendTask("flaky")).get({ timeout: 10 }), 1);
    const r = await chain(p.tasks.get("add")!.s(2, 2).set({ countdown: 0.2 }), p.tasks.get("mul")!.s(3)).applyAsync();
    assert.equal(await r.get({ timeout: 10 }), 12);
    assert.deepEqual(await (await w.broker()).listDeadLetters({ limit: 10 }), []);
  });
});

describe("signing without require (a rollout)", () => {
  const name = uniqueName("roll");
  let p: Celeriac, w: Celeriac;
  let worker: Worker;
  before(async () => {
    ({ p, w } = apps(name, undefined, { hmacKey: KEY }));
    worker = w.worker({ concurrency: 2 });
    await worker.start();
  });
  after(async () => {
    await worker.stop();
    await Promise.all([p.close(), w.close()]);
  });

  it("unsigned messages still run; a signature that fails is still refused", async () => {
    assert.equal(await (await p.sendTask("add", [1, 2])).get({ timeout: 10 }), 3);
    const id = uniqueName("t");
    const m = wire(id, "add", [1, 2]);
    hmacSigner(enc.encode(KEY)).sign(m);
    m.headers["x-added"] = "later";
    await raw(`${name}.tasks.celery`, m);
    const broker = await w.broker();
    const dl = await waitFor(async () => (await broker.listDeadLetters({ limit: 100 })).find((d) => d.headers[Header.ID] === id), {
      what: "dead letter",
    });
    assert.match(dl.reason, /^bad signature/);
  });
});
