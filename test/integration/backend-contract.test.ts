/**
 * The result backend contract, run against Redis (real server) and memory.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { ResultBackend } from "../../src/backend/types.ts";
import { RedisBackend } from "../../src/backend/redis.ts";
import { memoryBackend } from "../../src/backend/memory.ts";
import { makeRecord } from "../../src/protocol/result.ts";
import { State } from "../../src/states.ts";
import { cleanup, REDIS_URL, uniqueName, waitFor } from "../helpers.ts";

const adapters: [string, (prefix: string, opts?: { serializer?: "json" | "msgpack"; ttlMs?: number | null }) => ResultBackend][] = [
  [
    "memory",
    (p, o = {}) =>
      memoryBackend("memory://", p, {
        keyPrefix: p,
        serializer: o.serializer ?? "msgpack",
        resultExpiresMs: o.ttlMs === undefined ? 60_000 : o.ttlMs,
      }),
  ],
  [
    "redis",
    (p, o = {}) =>
      new RedisBackend(REDIS_URL, {
        keyPrefix: p,
        serializer: o.serializer ?? "msgpack",
        resultExpiresMs: o.ttlMs === undefined ? 60_000 : o.ttlMs,
      }),
  ],
];

for (const [kind, make] of adapters) {
  describe(`backend contract: ${kind}`, () => {
    let prefix: string;
    let backend: ResultBackend;
    before(async () => {
      prefix = `${uniqueName("bk")}-`;
      backend = make(prefix);
      await backend.connect();
    });
    after(async () => {
      await backend.close();
      if (kind === "redis") await cleanup(uniqueName("none"), prefix);
    });

    it("cluster-wide rate: starts spaced by the interval; refused callers are told to come back in line", async () => {
      assert.equal(await backend.rateTake("r", "a", 400), 0, "the first start is free");
      const b = await backend.rateTake("r", "b", 400);
      const c = await backend.rateTake("r", "c", 400);
      assert.ok(b > 250 && b <= 400, `b waits for the next start (${b} ms)`);
      assert.ok(c - b >= 350, `c comes after b (${b} then ${c} ms)`);
      await waitFor(async () => (await backend.rateTake("r", "b", 400)) === 0, { what: "b's turn", intervalMs: 50 });
      assert.ok((await backend.rateTake("r", "d", 400)) > 0, "b's start is taken");
    });

    it("per-key permits: at most the limit at once; the holder again renews; release and lease expiry free one", async () => {
      assert.equal(await backend.permitAcquire("k", "t1", 2, 10_000), true);
      assert.equal(await backend.permitAcquire("k", "t2", 2, 300), true);
      assert.equal(await backend.permitAcquire("k", "t3", 2, 10_000), false, "both permits are taken");
      assert.equal(await backend.permitAcquire("k", "t1", 2, 10_000), true, "a holder asking again keeps its permit");
      assert.equal(await backend.permitAcquire("other", "t3", 2, 10_000), true, "keys are independent");
      await backend.permitRelease("k", "t1");
      assert.equal(await backend.permitAcquire("k", "t3", 2, 10_000), true, "a released permit is free");
      assert.equal(await backend.permitAcquire("k", "t4", 2, 10_000), false);
      // t2 neither renews nor releases (its worker died): its lease runs out.
      await waitFor(() => backend.permitAcquire("k", "t4", 2, 10_000), { what: "t2's lease to run out" });
      await backend.permitRenew("k", "t4", 200);
      await backend.permitRelease("k", "t3");
      await backend.permitRelease("other", "t3");
    });

    it("deduplication ids: the first claim holds for its ttl; release frees only the holder's", async () => {
      assert.equal(await backend.dedupClaim("d1", "task-a", 300), null, "claimed");
      assert.equal(await backend.dedupClaim("d1", "task-b", 300), "task-a", "held by the first");
      await backend.dedupRelease("d1", "task-b");
      assert.equal(await backend.dedupClaim("d1", "task-c", 300), "task-a", "another task's release frees nothing");
      await backend.dedupRelease("d1", "task-a");
      assert.equal(await backend.dedupClaim("d1", "task-d", 200), null, "free after the holder's release");
      await waitFor(async () => (await backend.dedupClaim("d1", "task-e", 10_000)) === null, { what: "the ttl to expire" });
      assert.equal(await backend.dedupClaim("d1", "task-f", 300), "task-e");
    });

    it("stores and reads records, several at once, PENDING as null", async () => {
      await backend.store(makeRecord("a", State.SUCCESS, { n: 1, when: new Date(5), big: 7n }));
      await backend.store(makeRecord("b", State.FAILURE, { exc_type: "E", exc_message: ["x"], exc_module: "m" }, { traceback: "tb" }));
      const a = await backend.get("a");
      assert.equal(a?.status, State.SUCCESS);
      assert.deepEqual(a?.result, { n: 1, when: new Date(5), big: 7n });
      const many = await backend.getMany(["b", "missing", "a"]);
      assert.deepEqual(many.map((r) => r?.status ?? null), [State.FAILURE, null, State.SUCCESS]);
      assert.equal(many[0]?.traceback, "tb");
      assert.equal(await backend.get("missing"), null);
    });

    it("never replaces a stored SUCCESS, but replaces everything else", async () => {
      assert.equal(await backend.store(makeRecord("s", State.STARTED, null)), "stored");
      assert.equal(await backend.store(makeRecord("s", State.SUCCESS, 42)), "stored");
      assert.equal(await backend.store(makeRecord("s", State.FAILURE, "late")), "kept-success");
      assert.equal(await backend.store(makeRecord("s", State.STARTED, null)), "kept-success");
      assert.equal(await backend.store(makeRecord("s", State.SUCCESS, 43)), "kept-success");
      assert.deepEqual([(await backend.get("s"))?.status, (await backend.get("s"))?.result], [State.SUCCESS, 42]);
      assert.equal(await backend.store(makeRecord("f", State.FAILURE, "x")), "stored");
      assert.equal(await backend.store(makeRecord("f", State.SUCCESS, 1)), "stored");
    });

    it("a result whose value merely contains the word SUCCESS is not protected", async () => {
      await backend.store(makeRecord("w", State.RETRY, { status: "SUCCESS", note: '{"status":"SUCCESS"' }));
      assert.equal(await backend.store(makeRecord("w", State.FAILURE, null)), "stored");
    });

    it("forget removes the record", async () => {
      await backend.store(makeRecord("g", State.SUCCESS, 1));
      await backend.forget("g");
      assert.equal(await backend.get("g"), null);
    });

    it("records expire after resultExpires", async () => {
      const short = make(`${prefix}ttl-`, { ttlMs: 300 });
      await short.connect();
      await short.store(makeRecord("e", State.SUCCESS, 1));
      assert.equal((await short.get("e"))?.status, State.SUCCESS);
      await waitFor(async () => (await short.get("e")) === null, { what: "expiry", timeoutMs: 5_000 });
      await short.close();
    });

    it("stored chain steps live on while read, and expire once no longer read", async () => {
      const short = make(`${prefix}chain-`, { ttlMs: 400 });
      await short.connect();
      const id = await short.chainSave([{ step: 0 }, { step: 1 }, { step: 2 }]);
      assert.deepEqual(await short.chainLoad(id, 1, 2), [{ step: 1 }, { step: 2 }]);
      // Keep reading for three TTLs: each read renews the TTL, as a long chain's steps are read.
      const until = Date.now() + 1_200;
      while (Date.now() < until) {
        assert.deepEqual(await short.chainLoad(id, 0, 1), [{ step: 0 }], "a chain being read expired");
        await new Promise((r) => setTimeout(r, 50));
      }
      // Reading the chain would renew it, so watch a record stored after the last read instead:
      // once that record has expired, the chain (same TTL, renewed earlier) must have too.
      await short.store(makeRecord("chain-witness", State.SUCCESS, 1));
      await waitFor(async () => (await short.get("chain-witness")) === null, { what: "the witness record's expiry", timeoutMs: 5_000 });
      assert.deepEqual(await short.chainLoad(id, 0, 3), [], "an unread chain outlived its TTL");
      await short.close();
    });

    it("with JSON the stored SUCCESS guard holds too", async () => {
      const j = make(`${prefix}json-`, { serializer: "json" });
      await j.connect();
      await j.store(makeRecord("j", State.SUCCESS, [1, 2]));
      assert.equal(await j.store(makeRecord("j", State.FAILURE, null)), "kept-success");
      assert.deepEqual((await j.get("j"))?.result, [1, 2]);
      await j.close();
    });
  });
}

describe("redis backend: Celery compatibility", () => {
  it("with the JSON serializer and the celery- prefix, the stored value is what Python Celery reads", async () => {
    const prefix = `${uniqueName("celery")}-celery-`;
    const b = new RedisBackend(REDIS_URL, { keyPrefix: prefix, serializer: "json", resultExpiresMs: 60_000 });
    const raw = new Redis(REDIS_URL);
    try {
      await b.store(makeRecord("id1", State.SUCCESS, 5, { date_done: "2026-11-23T00:00:00.000Z" }));
      const json = JSON.parse((await raw.get(`${prefix}task-meta-id1`))!);
      assert.deepEqual(
        {
          status: json.status,
          result: json.result,
          traceback: json.traceback,
          children: json.children,
          task_id: json.task_id,
          date_done: json.date_done,
        },
        { status: "SUCCESS", result: 5, traceback: null, children: [], task_id: "id1", date_done: "2026-11-23T00:00:00.000Z" },
      );
      // and a record written the way Python writes it (", " and ": " separators) is read back and guarded
      await raw.set(
        `${prefix}task-meta-py`,
        '{"status": "SUCCESS", "result": 7, "traceback": null, "children": [], "date_done": null, "task_id": "py"}',
      );
      assert.equal((await b.get("py"))?.result, 7);
      assert.equal(await b.store(makeRecord("py", State.FAILURE, null)), "kept-success");
      assert.ok((await raw.ttl(`${prefix}task-meta-id1`)) > 0);
    } finally {
      await b.close();
      await cleanup(uniqueName("none"), prefix);
      raw.disconnect();
    }
  });
});
