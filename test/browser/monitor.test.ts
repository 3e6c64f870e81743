/**
 * The dashboard in a real browser: headless Chromium (Debian's `chromium`) driven by
 * puppeteer-core against a real monitor and a real worker on the shared NATS and Redis. Each page
 * opens from its address and through links; a task moves from STARTED to SUCCESS without a
 * reload; terminate on a running task ends REVOKED; a chord's workflow shows every node; a dead
 * letter is replayed. With CELERIAC_SCREENSHOTS=<dir> each page is also saved as a PNG
 * (`npm run docs:screenshots` regenerates docs/monitor/).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { chord } from "celeriac";
import { freePort, type Proc, runtimeCommand, spawnProc, spawnWorker, stopProc, waitFor } from "../helpers.ts";
import { cluster, TASKS } from "../e2e/e2e-helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const SHOTS = process.env.CELERIAC_SCREENSHOTS;

describe("monitor in a browser", () => {
  const c = cluster();
  const add = c.app.task({ name: "add" }, (_a: number, _b: number) => 0);
  const sleepy = c.app.task({ name: "sleepy" }, (_ms: number) => null);
  const gather = c.app.task({ name: "gather" }, (_xs: unknown[]) => null);
  let worker: Proc;
  let monitor: Proc;
  let browser: Browser;
  let base = "";
  const errors: string[] = [];

  before(async () => {
    assert.ok(CHROMIUM, "chromium is not installed (apt-get install chromium; .ci/run installs it)");
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    worker = await spawnWorker(["-A", TASKS, "-c", "4", "-E", "-n", "browser@%h"], { env: c.env });
    const [cmd, args] = runtimeCommand("node", "actors/cli.ts", ["monitor", "-A", TASKS, "--port", String(port)]);
    monitor = spawnProc(cmd, args, { ...c.env, CELERIAC_MONITOR_TRACE_URL: "https://traces.example/trace/{traceId}" });
    await waitFor(() => /ready\.\s*$/m.test(monitor.output()), {
      what: `monitor ready (${monitor.output().slice(-300)})`,
      timeoutMs: 30_000,
    });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless=new", "--disable-gpu"] });
  });

  after(async () => {
    await browser?.close();
    if (monitor) await stopProc(monitor);
    if (worker) await stopProc(worker);
    await c.dispose();
  });

  async function open(address: string, width = 1280): Promise<Page> {
    const page = await browser.newPage();
    await page.setViewport({ width, height: 900 });
    page.on("pageerror", (err) => errors.push(`${address}: ${(err as Error).message}`));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${address}: ${m.text()}`);
    });
    page.on("dialog", (d) => void d.accept());
    // Only the monitor itself may be asked for anything: the page works offline.
    page.on("request", (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith("data:")) errors.push(`external request ${r.url()}`);
    });
    await page.goto(base + address, { waitUntil: "domcontentloaded" });
    return page;
  }

  const text = (page: Page, selector: string) => page.$eval(selector, (e) => (e as HTMLElement).innerText);
  async function waitText(page: Page, selector: string, re: RegExp, what: string, timeoutMs = 30_000) {
    return await waitFor(async () => {
      const t = await text(page, selector).catch(() => "");
      return re.test(t) ? t : null;
    }, { what, timeoutMs });
  }
  async function shot(page: Page, name: string) {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  }

  it("opens every page from its address and through the links", async () => {
    const ok = await add.delay(2, 3);
    await ok.get({ timeout: 30 });
    const page = await open("/");
    await waitText(page, "#d-workers", /browser@/, "the worker on the dashboard");
    await waitText(page, "#counts", /SUCCESS/, "state counts");
    await shot(page, "dashboard");
    await page.click("header nav a[href='/workers']");
    await waitText(page, "#w-list", /browser@.*online/s, "the workers page");
    await shot(page, "workers");
    await page.click("#w-list a[href^='/worker/']");
    await waitText(page, "#w-pool", /concurrency/, "the worker page: pool");
    await waitText(page, "#w-registered", /\badd\b/, "registered tasks");
    await waitText(page, "#w-queues", /celery/, "its queues");
    await shot(page, "worker");
    await page.click("header nav a[href='/tasks']");
    await waitText(page, "#t-list", new RegExp(ok.id), "the task in the list");
    await shot(page, "tasks");
    await page.click(`#t-list a[href='/task/${ok.id}']`);
    await waitText(page, "#k-head", /SUCCESS/, "the task page");
    assert.match(await text(page, "#k-result"), /5/);
    await shot(page, "task");
    await page.click("header nav a[href='/broker']");
    await waitText(page, "#b-queues", /celery/, "the broker page");
    await shot(page, "broker");
    await page.click("header nav a[href='/dead-letters']");
    await waitText(page, "#dl-list", /.+/, "the dead-letters page");
    assert.equal(page.url(), `${base}/dead-letters`);
    await page.close();
  });

  it("shows a task move from STARTED to SUCCESS without a reload", async () => {
    const r = await sleepy.delay(2_500);
    const page = await open(`/task/${r.id}`);
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await waitText(page, "#k-head", /STARTED|RECEIVED/, "STARTED on the page");
    await waitText(page, "#k-head", /SUCCESS/, "SUCCESS on the same page");
    assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 42, "the page was not reloaded");
    assert.match(await text(page, "#k-steps"), /STARTED[\s\S]*SUCCESS/, "the timeline has both steps");
    await page.close();
  });

  it("terminates a running task with a click and shows it REVOKED", async () => {
    const r = await sleepy.delay(60_000);
    const page = await open(`/task/${r.id}`);
    await waitText(page, "#k-head", /STARTED|RECEIVED/, "the task running");
    await waitFor(() => page.$("button[data-action='revoke'].danger"), { what: "the terminate button" });
    await page.click("button[data-action='revoke'].danger");
    await waitText(page, "#action-result", /revoke: .*terminated/, "the action's result shown");
    await waitText(page, "#k-head", /REVOKED/, "REVOKED on the page");
    assert.equal(await r.state(), "REVOKED");
    await page.close();
  });

  it("draws a chord's workflow with every node, live", async () => {
    const r = await chord([add.s(1, 1), add.s(2, 2), add.s(3, 3)], gather.s()).applyAsync();
    await r.get({ timeout: 30 });
    // Any member's id opens the whole workflow; the chord's result is its body.
    const root = r.id;
    const page = await open(`/workflow/${root}`);
    const nodes = await waitFor(async () => {
      const states = await page.$$eval("#wf a[data-node]", (els) => els.map((e) => e.getAttribute("data-state")));
      return states.length >= 4 && states.every((s) => s === "SUCCESS") ? states : null;
    }, { what: "4 nodes (3 header tasks and the body), all SUCCESS" });
    assert.equal(nodes.length, 4);
    await shot(page, "workflow");
    await page.click("#wf a[data-node]");
    await waitText(page, "#k-head", /SUCCESS/, "a node opens its task page");
    await page.close();
  });

  it("replays a dead letter with a click", async () => {
    const r = await c.app.sendTask("no-such-task", [1]);
    const page = await open("/dead-letters");
    await waitText(page, "#dl-list", new RegExp(r.id), "the dead letter listed", 40_000);
    assert.match(await text(page, "#dl-list"), /unknown task|not registered/i);
    const seq = await page.$eval("#dl-list tbody tr td", (td) => (td as HTMLElement).innerText.trim());
    await shot(page, "dead-letters");
    await page.click("#dl-list button[data-action='dlq-replay']");
    await waitText(page, "#action-result", new RegExp(`replayed ${seq}`), "the replay's result");
    // Replayed to its queue, the unknown task is dead-lettered again: a new letter, a new sequence.
    await waitFor(async () => {
      const seqs = await page.$$eval("#dl-list tbody tr td:first-child", (tds) => tds.map((td) => (td as HTMLElement).innerText.trim()));
      return seqs.length > 0 && !seqs.includes(seq) ? seqs : null;
    }, { what: "the old letter gone and the replayed copy back", timeoutMs: 40_000 });
    await page.close();
  });

  it("pauses and resumes a queue with a click, and sets a cluster-wide rate limit", async () => {
    const page = await open("/broker");
    await waitText(page, "#b-queues", /celery/, "the queue listed");
    await page.click("#b-queues button[data-action='pause-queue']");
    await waitText(page, "#action-result", /pause-queue: /, "the pause's result");
    await waitText(page, "#b-queues", /celery \(paused\)/, "the queue shown paused");
    assert.deepEqual(await c.app.control.pausedQueues(), ["celery"]);
    await waitFor(() => page.$("#b-queues button[data-action='resume-queue']"), { what: "the resume button" });
    await page.click("#b-queues button[data-action='resume-queue']");
    await waitText(page, "#action-result", /resume-queue: /, "the resume's result");
    assert.deepEqual(await c.app.control.pausedQueues(), []);
    // Resumed, the worker runs tasks again.
    assert.equal(await (await add.delay(1, 2)).get({ timeout: 30 }), 3);

    await page.goto(`${base}/workers`, { waitUntil: "domcontentloaded" });
    await waitText(page, "#w-list", /browser@/, "the workers page");
    await page.click("#w-list a[href^='/worker/']");
    await waitText(page, "#w-registered", /\badd\b/, "registered tasks");
    const form = "#w-registered form[data-action='rate-limit'][data-body*='\"add\"']";
    await page.type(`${form} input[name='rate']`, "50/s");
    await page.click(`${form} input[name='global']`);
    await page.click(`${form} button`);
    await waitText(page, "#action-result", /rate-limit: .*new cluster-wide rate limit set/, "the cluster-wide limit set");
    await page.close();
  });

  it("is readable on a phone and reachable by keyboard", async () => {
    const page = await open("/tasks", 390);
    await waitText(page, "#t-list", /.+/, "the tasks page");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `the page fits a 390 px screen (overflow ${overflow}px)`);
    await shot(page, "tasks-phone");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
    await page.close();
  });

  it("made no external request and logged no error", () => {
    assert.deepEqual(errors, []);
  });
});
