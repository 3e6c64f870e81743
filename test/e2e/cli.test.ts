/**
 * The command line: banner, call, result, purge, help, and exit codes scripts rely on.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { freePort, type Proc, runCli, spawnWorker, stopProc } from "../helpers.ts";
import { type Cluster, cluster, TASKS } from "./e2e-helpers.ts";

describe("cli", () => {
  let c: Cluster;
  let worker: Proc;
  before(async () => {
    c = cluster();
    worker = await spawnWorker(["-A", TASKS, "-c", "8", "-Q", "celery", "-l", "info"], { env: c.env });
  });
  after(async () => {
    await stopProc(worker);
    await c.dispose();
  });

  it("the worker prints a banner: app, transport, results, concurrency, queues, tasks", () => {
    const out = worker.output();
    assert.match(out, new RegExp(`\\.> app:\\s+${c.name}`));
    assert.match(out, /\.> transport:\s+nats:\/\/127\.0\.0\.1:\d+/);
    assert.match(out, /\.> results:\s+redis:\/\/127\.0\.0\.1:\d+\/0/);
    assert.match(out, /\.> concurrency: 8 \(async\)/);
    assert.match(out, /\.> celery\s+stream=/);
    assert.match(out, /\[tasks\]\n(\s+\. \w+\n)+/);
    assert.match(out, /\. add\n/);
  });

  it("call --wait prints the result and exits 0", async () => {
    const r = await runCli(["call", "add", "--args", "[2,3]", "--wait"], { env: c.env });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /^5$/m);
  });

  it("call --wait prints each progress event on stderr, then the result", async () => {
    const r = await runCli(["call", "steps", "--args", "[3]", "--wait"], { env: c.env });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /PROGRESS \{"done":1,"total":3\}\nPROGRESS \{"done":2,"total":3\}\nPROGRESS \{"done":3,"total":3\}\n/);
    assert.match(r.output, /^3$/m);
  });

  it("call without --wait prints the id; result <id> --wait prints the result", async () => {
    // -A: the fixture app sets its own result key prefix, which `result` must know to read
    const sent = await runCli(["call", "-A", TASKS, "add", "--args", "[20,22]"], { env: c.env });
    assert.equal(sent.code, 0, sent.output);
    const id = sent.output.trim().split("\n").at(-1)!;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const res = await runCli(["result", "-A", TASKS, id, "--wait", "--timeout", "20"], { env: c.env });
    assert.equal(res.code, 0, res.output);
    assert.match(res.output, /^42$/m);
  });

  it("a failing task exits 1 and prints the error; result exits 1 too", async () => {
    const r = await runCli(["call", "fails", "--wait", "--json"], { env: c.env });
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /"state":"FAILURE"/);
    assert.match(r.output, /TypeError: this task always fails/);
    const id = JSON.parse(r.output.split("\n").find((l) => l.startsWith("{"))!).id;
    const res = await runCli(["result", "-A", TASKS, id, "--traceback"], { env: c.env });
    assert.equal(res.code, 1);
    assert.match(res.output, /^FAILURE /m);
  });

  it("waiting past --timeout exits 75 and says how to check later", async () => {
    const r = await runCli(["call", "sleepy", "--args", "[3000]", "--wait", "--timeout", "0.3"], { env: c.env });
    assert.equal(r.code, 75, r.output);
    assert.match(r.output, /celeriac result [0-9a-f-]{36}/);
  });

  it("purge -f removes waiting tasks of a queue", async () => {
    for (let i = 0; i < 3; i++) await c.app.sendTask("add", [1, 1], { queue: "nobody_consumes" });
    const r = await runCli(["purge", "-Q", "nobody_consumes", "-f"], { env: c.env });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /purged 3 messages from nobody_consumes/);
    // A wildcard would be a subject filter over every queue: refused before anything is purged.
    await c.app.sendTask("add", [1, 1], { queue: "nobody_consumes" });
    for (const args of [["purge", "-Q", ">", "-f"], ["dlq", "purge", "-Q", "*", "-f"]]) {
      const bad = await runCli(args, { env: c.env });
      assert.equal(bad.code, 64, bad.output);
      assert.match(bad.output, /invalid queue name/);
    }
    const rest = await runCli(["purge", "-Q", "nobody_consumes", "-f"], { env: c.env });
    assert.match(rest.output, /purged 1 message from nobody_consumes/, "the wildcard purged nothing");
  });

  it("every command has --help; usage errors exit 64 naming the problem", async () => {
    for (const cmd of ["worker", "call", "result", "purge", "inspect", "control", "status", "events"]) {
      const h = await runCli([cmd, "--help"]);
      assert.equal(h.code, 0, `${cmd} --help: ${h.output}`);
      assert.match(h.output, new RegExp(`Usage: celeriac ${cmd}`));
    }
    const unknown = await runCli(["frobnicate"]);
    assert.equal(unknown.code, 64);
    assert.match(unknown.output, /unknown command "frobnicate"/);
    const badOpt = await runCli(["call", "add", "--nope"]);
    assert.equal(badOpt.code, 64);
    assert.match(badOpt.output, /--nope/);
    const badJson = await runCli(["call", "add", "--args", "[2,"], { env: c.env });
    assert.equal(badJson.code, 64);
    assert.match(badJson.output, /--args: not valid JSON/);
    const noApp = await runCli(["worker"], { env: c.env });
    assert.equal(noApp.code, 64);
    assert.match(noApp.output, /-A \.\/tasks\.ts/);
  });

  it("misconfiguration exits 78; an unreachable broker exits 69 and says how to start one", async () => {
    const bad = await runCli(["worker", "-A", TASKS, "-c", "0"], { env: c.env });
    assert.equal(bad.code, 78, bad.output);
    assert.match(bad.output, /concurrency: must be an integer ≥ 1/);
    const badUrl = await runCli(["call", "add", "--broker", "amqp://x"], { env: c.env });
    assert.equal(badUrl.code, 78, badUrl.output);
    assert.match(badUrl.output, /brokerUrl: unsupported scheme/);
    const port = await freePort();
    const down = await runCli(["call", "add", "--broker", `nats://127.0.0.1:${port}`], { env: c.env });
    assert.equal(down.code, 69, down.output);
    assert.match(down.output, /cannot connect to the broker at nats:\/\/127\.0\.0\.1:\d+.*nats-server -js/);
  });
});
