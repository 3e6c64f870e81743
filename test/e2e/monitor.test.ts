/**
 * The web dashboard: a worker with events on, a monitor process, tasks run; the API shows the
 * worker online, the queue, and each task with its state; the page is served.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { freePort, runCli, runtimeCommand, spawnProc, spawnWorker, stopProc, waitFor } from "../helpers.ts";
import { cluster, TASKS } from "./e2e-helpers.ts";

describe("monitor", () => {
  it("shows workers, queues and tasks from events", async () => {
    const c = cluster();
    const port = await freePort();
    const w = await spawnWorker(["-A", TASKS, "-c", "4", "-E", "-n", "mon@%h"], { env: c.env });
    const [cmd, args] = runtimeCommand("node", "actors/cli.ts", ["monitor", "-A", TASKS, "--port", String(port)]);
    const m = spawnProc(cmd, args, c.env);
    try {
      await waitFor(() => /ready\.\s*$/m.test(m.output()), { what: `monitor ready (${m.output().slice(-300)})`, timeoutMs: 30_000 });
      const api = async (path: string) => {
        const r = await fetch(`http://127.0.0.1:${port}${path}`);
        return { status: r.status, body: r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text() };
      };
      const ok = await c.app.sendTask("add", [2, 3]);
      const bad = await c.app.sendTask("fails");
      await ok.get({ timeout: 20 });
      await bad.get({ timeout: 20, propagate: false });
      const workers = await waitFor(async () => {
        const r = await api("/api/workers");
        return (r.body as { hostname: string; status: string }[]).find((x) => x.hostname.startsWith("mon@") && x.status === "online");
      }, { what: "the worker online in the monitor" });
      assert.ok(workers);
      const tasks = await waitFor(async () => {
        const list = (await api("/api/tasks")).body as { uuid: string; state: string; result: string | null; exception: string | null }[];
        const a = list.find((t) => t.uuid === ok.id);
        const b = list.find((t) => t.uuid === bad.id);
        return a?.state === "SUCCESS" && b?.state === "FAILURE" ? { a, b } : null;
      }, { what: "both tasks settled in the monitor" });
      assert.equal(tasks.a.result, "5");
      assert.match(tasks.b.exception ?? "", /TypeError/);
      const one = await api(`/api/task/${ok.id}`);
      assert.equal(one.status, 200);
      assert.equal((one.body as { record: { status: string } }).record.status, "SUCCESS");
      const queues = (await api("/api/queues")).body as { queue: string; workers: number }[];
      assert.deepEqual(queues.find((q) => q.queue === "celery")?.workers, 1);
      const page = await api("/");
      assert.match(String(page.body), /<title>celeriac monitor<\/title>/);
      assert.equal((await api("/api/task/nope")).status, 404);
    } finally {
      await stopProc(m);
      await stopProc(w);
      await c.dispose();
    }
  });

  it("with basic auth, refuses requests without the right credentials and leaves /livez open", async () => {
    const c = cluster();
    const port = await freePort();
    const [cmd, args] = runtimeCommand("node", "actors/cli.ts", ["monitor", "-A", TASKS, "--port", String(port)]);
    const m = spawnProc(cmd, args, { ...c.env, CELERIAC_MONITOR_BASIC_AUTH: "ops:s3cr:et,viewer:pw" });
    try {
      await waitFor(() => /ready\.\s*$/m.test(m.output()), { what: `monitor ready (${m.output().slice(-300)})`, timeoutMs: 30_000 });
      assert.match(m.output(), /\(basic auth\) ready/);
      const status = async (path: string, user?: string) => {
        const headers: Record<string, string> = user ? { authorization: `Basic ${btoa(user)}` } : {};
        const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
        await r.body?.cancel();
        return { code: r.status, challenge: r.headers.get("www-authenticate") };
      };
      const none = await status("/api/summary");
      assert.equal(none.code, 401);
      assert.match(none.challenge ?? "", /^Basic realm=/);
      assert.equal((await status("/", "ops:wrong")).code, 401);
      assert.equal((await status("/api/workers", "nobody:pw")).code, 401);
      assert.equal((await status("/api/summary", "ops:s3cr:et")).code, 200, "a password may hold ':'");
      assert.equal((await status("/", "viewer:pw")).code, 200);
      assert.equal((await status("/livez")).code, 200, "probes need no credentials");
    } finally {
      await stopProc(m);
      await c.dispose();
    }
  });

  it("a malformed --basic-auth is a usage error that names the flag", async () => {
    const r = await runCli(["monitor", "-A", TASKS, "--basic-auth", "justauser"]);
    assert.equal(r.code, 64, r.output);
    assert.match(r.output, /--basic-auth: "justauser" is not user:password/);
  });
});
