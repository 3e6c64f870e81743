/**
 * Logic of the observability pieces, without a network: trace context on the wire, rate parsing
 * and the token bucket, revocation keys, the registry's offline rule, metrics text, event lines,
 * and the health paths the deployment contract fixes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TraceFlags } from "@opentelemetry/api";
import { formatTraceparent, judge, parseTraceparent, type WorkerRecord } from "celeriac";
import { parseRate, TokenBucket } from "../../src/rate.ts";
import { idFromKey, RevokedIds, revokedKey } from "../../src/control/revoked.ts";
import { WorkerMetrics } from "../../src/worker/metrics.ts";
import { HEALTH_ROUTES } from "../../src/worker/health.ts";
import { HEALTH_PATHS } from "../../actors/contract.ts";
import { eventLine } from "../../actors/commands/events.ts";
import { repr } from "../../src/events/event.ts";

describe("observability units", () => {
  it("traceparent: formats and parses W3C trace context, refuses malformed values", () => {
    const sc = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED };
    const tp = formatTraceparent(sc);
    assert.equal(tp, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    const back = parseTraceparent(tp, "vendor=x")!;
    assert.equal(back.traceId, sc.traceId);
    assert.equal(back.spanId, sc.spanId);
    assert.equal(back.traceFlags, 1);
    assert.equal(back.isRemote, true);
    assert.equal(back.traceState?.get("vendor"), "x");
    assert.equal(parseTraceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01"), null, "all-zero trace id");
    assert.equal(parseTraceparent("garbage"), null);
    assert.equal(parseTraceparent(undefined), null);
    assert.equal(parseTraceparent("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), null, "version ff is invalid");
  });

  it("rates: Celery's syntax; 0 or empty means none; nonsense names the field", () => {
    assert.equal(parseRate("10/s", "f")!.perMs, 0.01);
    assert.equal(parseRate("120/m", "f")!.perMs, 0.002);
    assert.equal(parseRate("36/h", "f")!.perMs, 0.00001);
    assert.equal(parseRate(4, "f")!.text, "4/s");
    assert.equal(parseRate("0", "f"), null);
    assert.equal(parseRate(undefined, "f"), null);
    assert.throws(() => parseRate("fast", "task x: rateLimit"), /task x: rateLimit: must be a rate/);
  });

  it("token bucket: one start per interval, waits reserve future tokens, unreserve gives one back", () => {
    const b = new TokenBucket(parseRate("10/s", "f")!);
    assert.equal(b.reserve(1000), 0);
    assert.equal(b.reserve(1000), 100);
    assert.equal(b.reserve(1000), 200);
    b.unreserve();
    assert.equal(b.reserve(1050), 150);
    assert.equal(b.reserve(5000), 0, "idle time does not bank a burst beyond one token");
    assert.equal(b.reserve(5000), 100);
  });

  it("revocation keys: safe ids as they are, others base64url, and back", () => {
    assert.equal(revokedKey("3f2a-9c"), "3f2a-9c");
    for (const id of ["beat:tick:1700000000000", "a b/c.d@e", "b64_x", "ünï"]) {
      const k = revokedKey(id);
      assert.match(k, /^[-_=A-Za-z0-9]+$/);
      assert.equal(idFromKey(k), id);
    }
    const r = new RevokedIds(1000);
    assert.equal(r.has("x"), false);
    r.add("x", Date.now());
    assert.equal(r.has("x"), true);
    r.add("old", Date.now() - 2000);
    assert.deepEqual(r.list(), ["x"], "expired ids are forgotten");
  });

  it("registry: offline after two missed heartbeats, or when it said so", () => {
    const rec = { hostname: "w", state: "online", freq: 2, last_heartbeat: 100 } as WorkerRecord;
    assert.equal(judge(rec, 103_000).status, "online");
    assert.equal(judge(rec, 104_100).status, "online");
    const late = judge(rec, 104_500);
    assert.equal(late.status, "offline");
    assert.equal(late.reason, "missed heartbeats");
    assert.equal(judge({ ...rec, state: "offline" }, 100_500).reason, "stopped");
  });

  it("metrics: counters by task, a cumulative histogram, escaped labels", () => {
    const m = new WorkerMetrics();
    m.received('say "hi"');
    m.settled('say "hi"', "SUCCESS", 3);
    m.settled('say "hi"', "FAILURE", 700);
    const text = m.render({ active: 1, concurrency: 4, queues: [{ queue: "q", consumer: "q_q", pending: 7, unacked: 2 }], up: true });
    assert.match(text, /^celeriac_tasks_received_total\{task="say \\"hi\\""\} 1$/m);
    assert.match(text, /^celeriac_task_runtime_seconds_bucket\{task="say \\"hi\\"",le="0.005"\} 1$/m);
    assert.match(text, /^celeriac_task_runtime_seconds_bucket\{task="say \\"hi\\"",le="0.5"\} 1$/m);
    assert.match(text, /^celeriac_task_runtime_seconds_bucket\{task="say \\"hi\\"",le="1"\} 2$/m);
    assert.match(text, /^celeriac_task_runtime_seconds_count\{task="say \\"hi\\""\} 2$/m);
    assert.match(text, /^celeriac_queue_lag_messages\{queue="q",consumer="q_q"\} 7$/m);
    assert.match(text, /^celeriac_tasks_active 1$/m);
  });

  it("the health paths served are the ones the deployment contract fixes", () => {
    assert.deepEqual({ ...HEALTH_ROUTES }, { ...HEALTH_PATHS });
  });

  it("event lines and reprs are short and readable", () => {
    assert.equal(repr([1, 2n, new Map([["a", 1]])]), '[1,"2n",{"a":1}]');
    assert.equal(repr("x".repeat(2000)).length, 1024);
    const line = eventLine({
      type: "task-succeeded",
      hostname: "w1@h",
      timestamp: 0,
      clock: 3,
      pid: 1,
      utcoffset: 0,
      uuid: "id1",
      name: "add",
      runtime: 0.0123,
      result: "5",
    });
    assert.match(line, /w1@h\s+task-succeeded\s+add\[id1\] 0\.0123s result=5$/);
  });
});
