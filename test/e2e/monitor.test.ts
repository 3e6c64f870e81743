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
        const list =
          ((await api("/api/tasks")).body as { tasks: { uuid: string; state: string; result: string | null; exception: string | null }[] })
            .tasks;
        const a = list.find((t) => t.uuid === ok.id);
        const b = list.find((t) => t.uuid === bad.id);
        return a?.state === "SUCCESS" && b?.state === "FAILURE" ? { a, b } : null;
      }, { what: "both tasks settled in the monitor" });
      assert.equal(tasks.a.result, "5");
      assert.match(tasks.b.exception ?? "", /TypeError/);
      const one = await api(`/api/task/${ok.id}`);
      assert.equal(one.status, 200);
      assert.equal((one.body as { record: { status: string } }).record.status, "SUCCESS");
      const queues = (await api("/api/queues")).body as { queue: string; consumers: number }[];
      assert.deepEqual(queues.find((q) => q.queue === "celery")?.consumers, 1);
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

  it("actions need the page's CSRF token and a same-origin JSON body; --read-only refuses them; /metrics covers the cluster", async () => {
    const c = cluster();
    const [port, roPort] = [await freePort(), await freePort()];
    const w = await spawnWorker(["-A", TASKS, "-c", "2", "-E", "-n", "act@%h"], { env: c.env });
    const start = (p: number, extra: string[]) => {
      const [cmd, args] = runtimeCommand("node", "actors/cli.ts", ["monitor", "-A", TASKS, "--port", String(p), ...extra]);
      return spawnProc(cmd, args, c.env);
    };
    const m = start(port, []);
    const ro = start(roPort, ["--read-only"]);
    try {
      for (const p of [m, ro]) {
        await waitFor(() => /ready\.\s*$/m.test(p.output()), { what: `monitor ready (${p.output().slice(-300)})`, timeoutMs: 30_000 });
      }
      assert.match(ro.output(), /\(read-only\) ready/);
      const base = `http://127.0.0.1:${port}`;
      const page = await (await fetch(`${base}/tasks`)).text();
      const token = /name="csrf-token" content="([0-9a-f]+)"/.exec(page)?.[1];
      assert.ok(token, "the page carries its CSRF token");
      const post = async (url: string, headers: Record<string, string>, body = '{"queue":"celery"}') => {
        const r = await fetch(url, { method: "POST", headers, body });
        return { status: r.status, body: await r.json() as { error?: string; summary?: string } };
      };
      const json = { "content-type": "application/json" };
      assert.equal((await post(`${base}/api/action/dlq-purge`, json)).status, 403, "no token");
      assert.equal((await post(`${base}/api/action/dlq-purge`, { ...json, "x-csrf-token": "0".repeat(48) })).status, 403, "wrong token");
      assert.equal(
        (await post(`${base}/api/action/dlq-purge`, { "content-type": "text/plain", "x-csrf-token": token })).status,
        415,
        "a form post",
      );
      const cross = await post(`${base}/api/action/dlq-purge`, { ...json, "x-csrf-token": token, origin: "http://evil.example" });
      assert.equal(cross.status, 403);
      assert.match(cross.body.error ?? "", /cross-origin/);
      const bad = await post(`${base}/api/action/pool-grow`, { ...json, "x-csrf-token": token }, '{"n": -1}');
      assert.equal(bad.status, 400);
      assert.match(bad.body.error ?? "", /^n: /, "a bad argument is named");
      const ok = await post(`${base}/api/action/dlq-purge`, { ...json, "x-csrf-token": token, origin: base });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.match(ok.body.summary ?? "", /purged 0 dead letters of celery/);
      const roPage = await (await fetch(`http://127.0.0.1:${roPort}/`)).text();
      const roToken = /name="csrf-token" content="([0-9a-f]+)"/.exec(roPage)![1]!;
      const refused = await post(`http://127.0.0.1:${roPort}/api/action/dlq-purge`, { ...json, "x-csrf-token": roToken });
      assert.equal(refused.status, 403);
      assert.match(refused.body.error ?? "", /read-only/);

      for (let i = 0; i < 3; i++) await (await c.app.sendTask("add", [i, i])).get({ timeout: 20 });
      const paged = await waitFor(async () => {
        const r = await (await fetch(`${base}/api/tasks?name=add&limit=2&offset=1`)).json() as { total: number; tasks: unknown[] };
        return r.total === 3 ? r : null;
      }, { what: "3 add tasks in the monitor" });
      assert.equal(paged.tasks.length, 2);
      const metrics = await waitFor(async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        return /celeriac_task_events_total\{app="[^"]+",type="task-succeeded"\} 3/.test(text) ? text : null;
      }, { what: "3 successes counted in /metrics" });
      assert.match(metrics, new RegExp(`celeriac_queue_messages\\{app="${c.name}",queue="celery"\\} 0`));
      assert.match(metrics, /celeriac_queue_oldest_age_seconds\{/);
      assert.match(metrics, /celeriac_workers_online\{app="[^"]+"\} 1/);
      assert.match(metrics, /celeriac_dead_letters\{/);
      assert.match(metrics, /celeriac_delayed_messages\{/);
    } finally {
      await stopProc(ro);
      await stopProc(m);
      await stopProc(w);
      await c.dispose();
    }
  });

  it("a malformed --basic-auth is a usage error that names the flag", async () => {
    const r = await runCli(["monitor", "-A", TASKS, "--basic-auth", "justauser"]);
    assert.equal(r.code, 64, r.output);
    assert.match(r.output, /--basic-auth: "justauser" is not user:password/);
  });
});
