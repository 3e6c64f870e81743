/**
 * Producers in other languages (docs/clients.md): the Go and Python examples printed in the docs
 * are taken from the page as they stand, built and run against a real worker on real NATS and
 * Redis. Go uses nats.go, vmihailenco/msgpack and redigo as Debian packages them, built offline
 * in GOPATH mode; it sends JSON and msgpack bodies and reads the result from the notice or Redis.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import type { Worker } from "celeriac";
import { NATS_URL, REDIS_URL, ROOT, runCli, spawnProc, type TestApp, testApp } from "../helpers.ts";

const DOC = readFileSync(path.join(ROOT, "docs/clients.md"), "utf8");

/** The fenced block of `lang` whose first line names `file`, as printed in docs/clients.md. */
function example(lang: string, file: string): string {
  const blocks = [...DOC.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)];
  const found = blocks.find(([, l, body]) => l === lang && body!.split("\n")[0]!.includes(file));
  assert.ok(found, `docs/clients.md has a ${lang} block starting with ${file}`);
  return found[2]!;
}

function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
}

const GO_ENV = { GO111MODULE: "off", GOPATH: "/usr/share/gocode", GOFLAGS: "", GOCACHE: path.join(tmpdir(), "celeriac-test-go-cache") };
const goMissing = has("go", ["version"]) ? false : "Go is not installed (apt-get install golang-go; .ci/run installs it)";

/** Runs a client program; resolves with its one line of JSON output. */
async function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ id: string; duplicate: boolean; status: string; result: unknown }> {
  const p = spawnProc(cmd, args, env);
  const timer = setTimeout(() => p.kill("SIGKILL"), 90_000);
  const code = await p.exited;
  clearTimeout(timer);
  assert.equal(code, 0, `${cmd} ${args.join(" ")} failed:\n${p.output()}`);
  const line = p.output().trim().split("\n").at(-1)!;
  return JSON.parse(line);
}

describe("producers in other languages", () => {
  let t: TestApp;
  let jsonResults: TestApp;
  const workers: Worker[] = [];
  const runs = new Map<string, number>();
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "celeriac-clients-"));
    t = testApp({ prefix: "lang" });
    t.app.task("add", (a: number, b: number) => a + b);
    t.app.task({ name: "greet", kwargs: true }, (who: string, kw: { punct?: string }) => `hi ${who}${kw.punct ?? "."}`);
    t.app.task({ name: "tally", bind: true }, (ctx) => runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1).get(ctx.id));
    jsonResults = testApp({ prefix: "langjson", resultSerializer: "json" });
    jsonResults.app.task("add", (a: number, b: number) => a + b);
    for (const a of [t, jsonResults]) {
      const w = a.app.worker({ concurrency: 4 });
      await w.start();
      workers.push(w);
    }
  });

  after(async () => {
    for (const w of workers) await w.stop();
    await t.dispose();
    await jsonResults.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const envOf = (a: TestApp, extra: Record<string, string> = {}) => ({
    NATS_URL,
    REDIS_URL,
    CELERIAC_NAME: a.name,
    RESULT_KEY_PREFIX: a.keyPrefix,
    ...extra,
  });

  describe("Go (nats.go, Debian's packages)", { skip: goMissing }, () => {
    let bin: string;
    before(async () => {
      writeFileSync(path.join(dir, "submit.go"), example("go", "submit.go"));
      bin = path.join(dir, "submit");
      const p = spawnProc("go", ["build", "-o", bin, path.join(dir, "submit.go")], GO_ENV);
      assert.equal(await p.exited, 0, `go build failed:\n${p.output()}`);
    });

    for (const body of ["json", "msgpack"]) {
      it(`a ${body} body: the task runs and the program reads its result`, async () => {
        const r = await run(bin, ["add", "[2,3]"], envOf(t, { BODY: body }));
        assert.equal(r.status, "SUCCESS");
        assert.equal(r.result, 5);
        assert.equal(await (await t.app.AsyncResult(r.id).get({ timeout: 10 })), 5, "the worker's own record agrees");
      });

      it(`a ${body} body: keyword arguments reach a handler with kwargs: true`, async () => {
        const r = await run(bin, ["greet", '["ann"]', '{"punct":"!"}'], envOf(t, { BODY: body }));
        assert.deepEqual([r.status, r.result], ["SUCCESS", "hi ann!"]);
        const none = await run(bin, ["greet", '["bob"]'], envOf(t, { BODY: body }));
        assert.deepEqual([none.status, none.result], ["SUCCESS", "hi bob."]);
      });
    }

    it("keyword arguments to a task that takes none: FAILURE with TypeError, not dropped", async () => {
      const r = await run(bin, ["add", "[2]", '{"b":3}'], envOf(t));
      assert.equal(r.status, "FAILURE");
      const exc = r.result as { exc_type: string; exc_message: string[] };
      assert.equal(exc.exc_type, "TypeError");
      assert.match(exc.exc_message[0]!, /got keyword arguments \(b\) but takes none/);
    });

    it("the same Nats-Msg-Id twice: JetStream drops the second, the task runs once", async () => {
      const id = `go-dedup-${t.name}`;
      const first = await run(bin, ["tally"], envOf(t, { TASK_ID: id }));
      const second = await run(bin, ["tally"], envOf(t, { TASK_ID: id, BODY: "msgpack" }));
      assert.deepEqual([first.duplicate, second.duplicate], [false, true]);
      assert.deepEqual([first.result, second.result], [1, 1]);
      assert.equal(runs.get(id), 1);
    });

    it("a worker with resultSerializer json: the program reads the JSON record", async () => {
      const r = await run(bin, ["add", "[20,22]"], envOf(jsonResults, { BODY: "msgpack" }));
      assert.deepEqual([r.status, r.result], ["SUCCESS", 42]);
    });
  });

  describe("Python (nats-py + redis-py)", () => {
    const py = "/usr/bin/python3";
    const ready = has(py, ["-c", "import redis, msgpack"]);
    const shim = has(py, ["-c", "import nats.js"]) ? null : path.join(ROOT, "test/fixtures/nats-py-shim");

    it(`the example submits with a JSON body and reads the record from Redis${shim ? " (nats-py absent: its stand-in)" : ""}`, {
      skip: ready ? false : "Debian's python3-redis and python3-msgpack are not installed (.ci/run installs them)",
    }, async () => {
      writeFileSync(path.join(dir, "submit.py"), example("python", "submit.py"));
      const env = envOf(t, shim ? { PYTHONPATH: shim } : {});
      const r = await run(py, [path.join(dir, "submit.py"), "greet", '["ann"]', '{"punct": "!"}'], env);
      assert.deepEqual([r.status, r.result], ["SUCCESS", "hi ann!"]);
      const sum = await run(py, [path.join(dir, "submit.py"), "add", "[2, 3]"], env);
      assert.deepEqual([sum.status, sum.result], ["SUCCESS", 5]);
    });
  });

  it("the command line: celeriac call passes --kwargs to a kwargs: true task", async () => {
    const args = ["call", "greet", "--args", '["ann"]', "--kwargs", '{"punct":"!"}', "--wait"];
    assert.ok(
      DOC.includes(`npx celeriac ${args.map((a) => a.startsWith("-") || /^\w+$/.test(a) ? a : `'${a}'`).join(" ")}`),
      "docs/clients.md shows this command",
    );
    const r = await runCli(args, {
      env: { CELERIAC_NAME: t.name, CELERIAC_BROKER_URL: NATS_URL, CELERIAC_RESULT_BACKEND: REDIS_URL },
    });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /^hi ann!$/m);
  });
});
