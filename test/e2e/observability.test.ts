/**
 * Observability end to end, with worker processes: `celeriac inspect`, `control`, `events` and
 * `status` against two workers; a killed worker shows offline; and spans exported over OTLP/HTTP
 * by the `call` and `worker` processes arrive at a receiver in this test with the right parents.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { workerStatus } from "celeriac";
import { type Proc, runCli, spawnWorker, stopProc, uniqueName, waitFor } from "../helpers.ts";
import { type Cluster, cluster, TASKS } from "./e2e-helpers.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

/** A tiny OTLP/HTTP (JSON) receiver: collects the spans posted to /v1/traces. */
function otlpReceiver(): Promise<{ url: string; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      if (req.url === "/v1/traces" && /json/.test(String(req.headers["content-type"]))) {
        const doc = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        spans,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    })
  );
}

const attr = (s: OtlpSpan, k: string) => {
  const v = s.attributes.find((a) => a.key === k)?.value;
  return v?.stringValue ?? v?.intValue;
};

describe("observability (processes)", () => {
  let c: Cluster;
  let otlp: Awaited<ReturnType<typeof otlpReceiver>>;
  let otel: Record<string, string>;
  let w1: Proc;
  let w2: Proc;
  const n1 = `w1-${uniqueName("o")}@test`;
  const n2 = `w2-${uniqueName("o")}@test`;

  before(async () => {
    c = cluster();
    otlp = await otlpReceiver();
    otel = {
      ...c.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_SERVICE_NAME: "celeriac-e2e",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    };
    [w1, w2] = await Promise.all([
      spawnWorker(["-A", TASKS, "-n", n1, "-Q", "celery,traced", "-E", "-c", "4"], { env: otel }),
      spawnWorker(["-A", TASKS, "-n", n2, "-c", "4"], { env: c.env }),
    ]);
  });

  after(async () => {
    await Promise.all([stopProc(w1), stopProc(w2)]);
    await otlp.close();
    await c.dispose();
  });

  it("inspect ping: both workers answer; -d asks one; --json keys replies by worker", async () => {
    const r = await runCli(["inspect", "ping"], { env: c.env });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, new RegExp(`-> ${n1}: OK\\n    pong`));
    assert.match(r.output, new RegExp(`-> ${n2}: OK\\n    pong`));
    assert.match(r.output, /2 nodes online\./);
    const one = await runCli(["inspect", "ping", "-d", n2, "--json"], { env: c.env });
    assert.equal(one.code, 0, one.output);
    assert.deepEqual(JSON.parse(one.output.split("\n").find((l) => l.startsWith("{"))!), { [n2]: { ok: "pong" } });
    const help = await runCli(["inspect", "--help"]);
    assert.match(help.output, /Usage: celeriac inspect/);
    const bad = await runCli(["inspect", "frob"], { env: c.env });
    assert.equal(bad.code, 64);
  });

  it("control revoke before the task is sent: the call ends REVOKED (exit 1) and it never runs", async () => {
    const id = uniqueName("rv");
    const rv = await runCli(["control", "revoke", id], { env: c.env });
    assert.equal(rv.code, 0, rv.output);
    assert.match(rv.output, /flagged as revoked/);
    const call = await runCli(["call", "counted", "--args", "[1]", "--task-id", id, "--wait", "--timeout", "20"], { env: c.env });
    assert.equal(call.code, 1, call.output);
    assert.match(call.output, /REVOKED/);
    assert.equal(await c.redis.hget(`${c.prefix}runs`, id), null);
  });

  it("celeriac events shows the history of a task on the -E worker, readable", async () => {
    const r = await c.app.sendTask("add", [20, 22], { queue: "traced" });
    assert.equal(await r.get({ timeout: 20 }), 42);
    const ev = await waitFor(async () => {
      const x = await runCli(["events", "--no-follow", "--since", "120"], { env: c.env });
      return x.output.includes(`task-succeeded  add[${r.id}]`) ? x : null;
    }, { what: "task-succeeded in celeriac events", timeoutMs: 20_000 });
    assert.equal(ev.code, 0);
    assert.match(ev.output, new RegExp(`${n1}\\s+worker-online`));
    assert.match(ev.output, new RegExp(`${n1}\\s+task-received\\s+add\\[${r.id}\\] args=\\[20,22\\]`));
    assert.match(ev.output, new RegExp(`task-succeeded\\s+add\\[${r.id}\\] \\d+\\.\\d{4}s result=42`));
  });

  it("spans exported over OTLP/HTTP by two processes form one trace with the right parents", async () => {
    const call = await runCli(["call", "relay", "--args", "[5]", "--queue", "traced", "--wait", "--timeout", "20"], { env: otel });
    assert.equal(call.code, 0, call.output);
    const childId = call.output.trim().split("\n").at(-1)!;
    const find = (kind: number, id: string) => otlp.spans.find((s) => s.kind === kind && attr(s, "messaging.message.id") === id);
    const PRODUCER = 4, CONSUMER = 5; // OTLP's SpanKind numbering (SPAN_KIND_PRODUCER = 4)
    const spans = await waitFor(() => {
      const sent = otlp.spans.find((s) =>
        s.kind === PRODUCER && s.name === "publish traced" && attr(s, "celeriac.task.name") === "relay" && !s.parentSpanId
      );
      if (!sent) return null;
      const relayId = String(attr(sent, "messaging.message.id"));
      const x = { sent, relay: find(CONSUMER, relayId), childSent: find(PRODUCER, childId), child: find(CONSUMER, childId) };
      return x.relay && x.childSent && x.child ? x : null;
    }, { what: "the four spans at the receiver", timeoutMs: 20_000 });
    const trace = spans.sent.traceId;
    for (const s of [spans.relay!, spans.childSent!, spans.child!]) assert.equal(s.traceId, trace, `${s.name} in the caller's trace`);
    assert.equal(spans.relay!.parentSpanId, spans.sent.spanId, "process relay ← publish (call process)");
    assert.equal(spans.childSent!.parentSpanId, spans.relay!.spanId, "publish add ← process relay");
    assert.equal(spans.child!.parentSpanId, spans.childSent!.spanId, "process add ← publish add");
    assert.equal(spans.child!.name, "process add");
  });

  it("a Deno worker with its built-in OpenTelemetry (OTEL_DENO=true) continues the caller's trace", async () => {
    const wd = await spawnWorker(["-A", TASKS, "-n", `wd-${n1}`, "-Q", "traced_deno", "-c", "2"], {
      runtime: "deno",
      env: { ...otel, OTEL_DENO: "true", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_SERVICE_NAME: "celeriac-e2e-deno" },
    });
    try {
      const call = await runCli(["call", "relay", "--args", "[7]", "--queue", "traced_deno", "--wait", "--timeout", "30"], { env: otel });
      assert.equal(call.code, 0, call.output);
      const childId = call.output.trim().split("\n").at(-1)!;
      const child = await waitFor(() => otlp.spans.find((s) => s.kind === 5 && attr(s, "messaging.message.id") === childId), {
        what: "the Deno worker's process span of the child",
        timeoutMs: 30_000,
      });
      const childSent = await waitFor(() => otlp.spans.find((s) => s.spanId === child.parentSpanId), { what: "its publish span" });
      const relay = await waitFor(() => otlp.spans.find((s) => s.spanId === childSent.parentSpanId), { what: "process relay" });
      const sent = await waitFor(() => otlp.spans.find((s) => s.spanId === relay.parentSpanId), { what: "the caller's publish" });
      assert.equal(relay.name, "process relay");
      assert.equal(sent.name, "publish traced_deno");
      assert.equal(sent.parentSpanId || undefined, undefined, "the caller's publish is the root");
      for (const x of [child, childSent, relay]) assert.equal(x.traceId, sent.traceId);
    } finally {
      await stopProc(wd);
    }
  });

  it("a killed worker shows offline in celeriac status; the other stays online", async () => {
    w2.kill("SIGKILL");
    await w2.exited;
    const broker = await c.app.broker();
    await waitFor(async () => (await workerStatus(broker, c.app.config.names)).find((w) => w.hostname === n2)?.status === "offline", {
      what: "w2 offline",
      timeoutMs: 15_000,
    });
    const st = await runCli(["status"], { env: c.env });
    assert.equal(st.code, 0, st.output);
    assert.match(st.output, new RegExp(`${n1}: online`));
    assert.match(st.output, new RegExp(`${n2}: OFFLINE \\(missed 2\\+ heartbeats`));
    assert.match(st.output, /1 node online\./);
  });
});
