/**
 * The dashboard's script: a small router that renders each page from the JSON API and keeps it
 * live through server-sent events (/api/stream) — changed tasks arrive as they happen, and the
 * page refetches what it shows at most once a second; nothing reloads. Written as plain browser
 * JavaScript in a string (no build step), so it avoids template literals.
 */
export const CLIENT_JS = String.raw`
"use strict";
const $ = (s, el) => (el || document).querySelector(s);
const view = $("#view");
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const READ_ONLY = document.querySelector('meta[name="read-only"]').content === "true";
const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const enc = encodeURIComponent;
const STATES = ["PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED", "REJECTED"];
const COLORS = { SUCCESS: "#1a7f37", FAILURE: "#b42318", REJECTED: "#b42318", RETRY: "#a15c07", REVOKED: "#6941c6", STARTED: "#175cd3", RECEIVED: "#175cd3", PENDING: "#667085" };
const badge = (s) => '<span class="state ' + esc(s) + '">' + esc(s) + "</span>";
const time = (sec) => sec == null ? "" : new Date(sec * 1000).toLocaleTimeString();
const ago = (sec) => { if (sec == null) return ""; const d = Date.now() / 1000 - sec; return d < 90 ? Math.max(0, Math.round(d)) + " s ago" : time(sec); };
const dur = (ms) => ms == null ? "" : ms < 1000 ? Math.round(ms) + " ms" : ms < 120000 ? (ms / 1000).toFixed(1) + " s" : Math.round(ms / 60000) + " min";
const taskLink = (id, label) => '<a class="mono" href="/task/' + enc(id) + '">' + esc(label || id) + "</a>";
const workerLink = (w) => w ? '<a href="/worker/' + enc(w) + '">' + esc(w) + "</a>" : "";
const table = (head, rows, empty) => '<div class="scroll"><table><thead><tr>' + head.map((h) => '<th scope="col">' + h + "</th>").join("") +
  "</tr></thead><tbody>" + (rows.length ? rows.join("") : '<tr><td colspan="' + head.length + '" class="muted">' + (empty || "nothing yet") + "</td></tr>") + "</tbody></table></div>";
const tr = (cells) => "<tr>" + cells.map((c) => "<td>" + c + "</td>").join("") + "</tr>";

async function api(path) {
  const r = await fetch(path, { headers: { accept: "application/json" } });
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function toast(text, isError) {
  const d = document.createElement("div");
  d.textContent = text;
  if (isError) d.className = "err";
  $("#toast").appendChild(d);
  setTimeout(() => d.remove(), isError ? 9000 : 6000);
}

async function act(name, body, confirmText) {
  if (READ_ONLY) return toast("The monitor is read-only.", true);
  if (confirmText && !confirm(confirmText)) return;
  const r = await fetch("/api/action/" + name, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": CSRF }, body: JSON.stringify(body) });
  const out = await r.json().catch(() => ({ error: "HTTP " + r.status }));
  toast(out.error ? name + " failed: " + out.error : name + ": " + out.summary, Boolean(out.error));
  const status = $("#action-result");
  if (status) status.textContent = out.error ? name + " failed: " + out.error : name + ": " + out.summary;
  refresh(true);
  return out;
}

const actionButton = (label, action, body, opts) => READ_ONLY ? "" :
  '<button type="button" class="' + (opts && opts.danger ? "danger" : "") + '" data-action="' + esc(action) + '" data-body="' + esc(JSON.stringify(body)) + '"' +
  (opts && opts.confirm ? ' data-confirm="' + esc(opts.confirm) + '"' : "") + ">" + esc(label) + "</button>";

document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-action]");
  if (b) { e.preventDefault(); act(b.dataset.action, JSON.parse(b.dataset.body), b.dataset.confirm); return; }
  const a = e.target.closest("a[href^='/']");
  if (a && !e.ctrlKey && !e.metaKey && !e.shiftKey && a.target !== "_blank") { e.preventDefault(); go(a.getAttribute("href")); }
});
document.addEventListener("submit", (e) => {
  const f = e.target;
  if (!f.dataset.action) return;
  e.preventDefault();
  const body = Object.assign({}, JSON.parse(f.dataset.body || "{}"));
  for (const [k, v] of new FormData(f)) body[k] = v;
  act(f.dataset.action, body, f.dataset.confirm);
});

// ---- charts: SVG drawn here, no library ----
function lineChart(t, series, opts) {
  const W = 640, H = 170, L = 44, B = 22, T = 8, R = 8;
  const vals = series.flatMap((s) => s.values.filter((v) => v != null));
  const max = Math.max(opts.min || 0, ...vals, 0) || 1;
  const x = (i) => L + (t.length < 2 ? 0 : (i * (W - L - R)) / (t.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  let svg = '<svg viewBox="0 0 ' + W + " " + H + '" width="100%" role="img" aria-label="' + esc(opts.label) + '">';
  for (const f of [0, 0.5, 1]) {
    svg += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + y(max * f) + '" y2="' + y(max * f) + '" stroke="#e6ebe7"/>';
    svg += '<text x="' + (L - 4) + '" y="' + (y(max * f) + 4) + '" text-anchor="end">' + fmt(max * f) + "</text>";
  }
  if (t.length) {
    svg += '<text x="' + L + '" y="' + (H - 6) + '">' + time(t[0]) + "</text>";
    svg += '<text x="' + (W - R) + '" y="' + (H - 6) + '" text-anchor="end">' + time(t[t.length - 1]) + "</text>";
  }
  for (const s of series) {
    let d = "", pen = false;
    s.values.forEach((v, i) => { if (v == null) { pen = false; return; } d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1); pen = true; });
    svg += '<path d="' + d + '" fill="none" stroke="' + s.color + '" stroke-width="1.8"/>';
  }
  svg += "</svg>";
  const legend = '<div class="legend">' + series.map((s) => "<span><i style=\"background:" + s.color + "\"></i>" + esc(s.name) + "</span>").join("") + "</div>";
  return legend + svg;
}
function fmt(v) { return v >= 100 ? Math.round(v) : v >= 1 ? v.toFixed(1) : v === 0 ? "0" : v < 0.01 ? v.toExponential(0) : v.toFixed(2); }

// ---- pages ----
const pages = [];
const page = (re, title, mount) => pages.push({ re, title, mount });
let current = null, lastRefresh = 0, pending = null;

page(/^\/$/, "Dashboard", async (el) => {
  const names = (await api("/api/task-names")) || [];
  const chosen = new URLSearchParams(location.search).get("name") || "";
  el.innerHTML = '<section><h1>Dashboard</h1><div class="cards" id="counts"></div></section>' +
    '<section><h2>Tasks over the last hour</h2><label>Task <select id="chart-name"><option value="">all tasks</option>' +
    names.map((n) => "<option" + (n === chosen ? " selected" : "") + ">" + esc(n) + "</option>").join("") + "</select></label>" +
    '<div class="grid"><div><h2>Outcomes per second (last 2 min)</h2><div id="c-recent"></div></div><div><h2>Outcomes per second (1-min average)</h2><div id="c-rates"></div></div>' +
    '<div><h2>Runtime p50 / p95 (s)</h2><div id="c-runtime"></div></div><div><h2>Queue depth</h2><div id="c-depth"></div></div></div></section>' +
    '<div class="grid"><section><h2>Workers</h2><div id="d-workers"></div></section><section><h2>Queues</h2><p id="action-result" class="muted" role="status"></p><div id="d-queues"></div></section></div>';
  $("#chart-name").addEventListener("change", (e) => { history.replaceState(null, "", e.target.value ? "/?name=" + enc(e.target.value) : "/"); refresh(true); });
  return async () => {
    const name = $("#chart-name").value;
    const [sum, charts, workers, queues] = await Promise.all([api("/api/summary"), api("/api/charts?name=" + enc(name)), api("/api/workers"), api("/api/queues")]);
    $("#counts").innerHTML = STATES.map((s) => '<div class="card"><b class="' + s + '">' + (sum.states[s] || 0) + "</b><span>" + s + "</span></div>").join("") +
      '<div class="card"><b>' + (sum.delayed ? sum.delayed.messages : "?") + '</b><span>delayed</span></div><div class="card"><b>' + sum.deadLetters + "</b><span>dead letters</span></div>";
    const rs = (r) => [{ name: "succeeded", color: "#1a7f37", values: r.succeeded }, { name: "failed", color: "#b42318", values: r.failed }, { name: "retried", color: "#a15c07", values: r.retried }];
    $("#c-recent").innerHTML = lineChart(charts.recent.t, rs(charts.recent), { label: "outcomes per second, last 2 minutes" });
    $("#c-rates").innerHTML = lineChart(charts.rates.t, rs(charts.rates), { label: "outcomes per second, last hour" });
    $("#c-runtime").innerHTML = lineChart(charts.runtimes.t, [{ name: "p50", color: "#175cd3", values: charts.runtimes.p50 }, { name: "p95", color: "#6941c6", values: charts.runtimes.p95 }], { label: "runtime percentiles" });
    const qs = Object.keys(charts.depth);
    const palette = ["#1f6f43", "#175cd3", "#a15c07", "#6941c6", "#b42318", "#0e7490"];
    const t0 = qs.length ? charts.depth[qs[0]].map((p) => p.t) : [];
    $("#c-depth").innerHTML = qs.length ? lineChart(t0, qs.map((q, i) => ({ name: q, color: palette[i % palette.length], values: charts.depth[q].map((p) => p.depth) })), { label: "queue depth" }) : '<p class="muted">no samples yet</p>';
    $("#d-workers").innerHTML = workersTable(workers);
    $("#d-queues").innerHTML = queuesTable(queues, sum);
  };
});

function workersTable(workers) {
  return table(["worker", "status", "active", "processed", "concurrency", "queues", "load", "heartbeat"], workers.map((w) => tr([
    workerLink(w.hostname), '<span class="' + w.status + '">' + w.status + (w.reason ? " (" + esc(w.reason) + ")" : "") + "</span>",
    w.active, w.processed, w.concurrency, esc((w.queues || []).join(", ")), (w.loadavg || []).map((x) => x.toFixed(2)).join(" "), ago(w.last_heartbeat)])), "no worker has registered");
}
function queuesTable(queues, sum) {
  return table(["queue", "waiting", "in flight", "consumers", "oldest", "dead letters", ""], queues.map((q) => tr([
    esc(q.queue) + (q.paused ? ' <span class="muted">(paused)</span>' : ""), q.pending == null ? "?" : q.pending, q.inFlight == null ? "?" : q.inFlight, q.consumers, dur(q.oldestAgeMs),
    q.deadLetters ? '<a href="/dead-letters?queue=' + enc(q.queue) + '">' + q.deadLetters + "</a>" : "0",
    q.paused ? actionButton("Resume", "resume-queue", { queue: q.queue })
      : actionButton("Pause", "pause-queue", { queue: q.queue }, { confirm: "Pause queue " + q.queue + " for every worker? Running tasks finish; waiting ones stay queued." })])), "no queues") +
    (sum && sum.delayed ? '<p class="muted">' + sum.delayed.messages + " delayed task(s) waiting for their time</p>" : "");
}

page(/^\/workers$/, "Workers", async (el) => {
  el.innerHTML = '<section><h1>Workers</h1><div id="w-list"></div></section>';
  return async () => { $("#w-list").innerHTML = workersTable(await api("/api/workers")); };
});

page(/^\/worker\/(.+)$/, "Worker", async (el, m) => {
  const name = decodeURIComponent(m[1]);
  el.innerHTML = "<section><h1>Worker " + esc(name) + '</h1><div id="w-head"></div><p id="action-result" class="muted" role="status"></p></section>' +
    '<div class="grid"><section><h2>Pool</h2><div id="w-pool"></div></section><section><h2>Queues</h2><div id="w-queues"></div></section></div>' +
    '<section><h2>Active tasks</h2><div id="w-active"></div></section><section><h2>Reserved tasks</h2><div id="w-reserved"></div></section>' +
    '<section><h2>Registered tasks</h2><div id="w-registered"></div></section><section><h2>Stats</h2><div id="w-stats"></div></section>';
  return async () => {
    const d = await api("/api/worker/" + enc(name));
    if (!d) { $("#w-head").innerHTML = '<p class="muted">No worker ' + esc(name) + " in the registry.</p>"; return; }
    const w = d.record, st = d.stats || {}, pool = st.pool || {};
    $("#w-head").innerHTML = '<dl class="kv"><dt>status</dt><dd class="' + w.status + '">' + w.status + (w.reason ? " (" + esc(w.reason) + ")" : "") +
      "</dd><dt>pid</dt><dd>" + w.pid + "</dd><dt>runtime</dt><dd>" + esc(w.sw_sys) + "</dd><dt>version</dt><dd>" + esc(w.sw_ident + " " + w.sw_ver) +
      "</dd><dt>last heartbeat</dt><dd>" + ago(w.last_heartbeat) + "</dd><dt>RSS</dt><dd>" + (st.rusage ? Math.round(st.rusage.maxrss / 1024) + " MiB" : "?") +
      "</dd><dt>uptime</dt><dd>" + (st.uptime == null ? "?" : st.uptime + " s") + "</dd></dl>";
    const one = { worker: name };
    $("#w-pool").innerHTML = '<dl class="kv"><dt>pool</dt><dd>' + esc(pool.implementation || "?") + "</dd><dt>concurrency</dt><dd>" + (pool["max-concurrency"] != null ? pool["max-concurrency"] : w.concurrency) +
      "</dd><dt>processes</dt><dd class=\"mono\">" + esc(JSON.stringify(pool.processes || [])) + "</dd></dl>" +
      (READ_ONLY ? "" : '<form class="inline" data-action="pool-grow" data-body="' + esc(JSON.stringify(one)) + '"><label>by <input name="n" type="number" min="1" value="1" style="width:5em"></label><button>Grow pool</button></form> ' +
        '<form class="inline" data-action="pool-shrink" data-body="' + esc(JSON.stringify(one)) + '"><label>by <input name="n" type="number" min="1" value="1" style="width:5em"></label><button>Shrink pool</button></form>');
    $("#w-queues").innerHTML = table(["queue", "consumer", ""], (d.queues || []).map((q) => tr([esc(q.name), esc(q.consumer || ""),
      actionButton("Cancel consumer", "cancel-consumer", { worker: name, queue: q.name }, { confirm: "Stop " + name + " consuming " + q.name + "?" })])), "no queues") +
      (READ_ONLY ? "" : '<form class="inline" data-action="add-consumer" data-body="' + esc(JSON.stringify(one)) + '"><label>Queue <input name="queue" required pattern="[A-Za-z0-9_-]+" size="14"></label><button>Add consumer</button></form>');
    const taskRow = (t) => tr([esc(t.name), taskLink(t.id), '<span class="mono">' + esc(JSON.stringify(t.args)) + "</span>", t.time_start ? ago(t.time_start) : "",
      actionButton("Terminate", "revoke", { id: t.id, terminate: true }, { danger: true, confirm: "Terminate task " + t.id + "?" })]);
    $("#w-active").innerHTML = table(["task", "id", "args", "started", ""], (d.active || []).map(taskRow), "none running");
    $("#w-reserved").innerHTML = table(["task", "id", "args", "", ""], (d.reserved || []).map(taskRow), "none reserved");
    $("#w-registered").innerHTML = table(["task", "rate limit", ""], (d.registered || []).map((r) => {
      const mm = /^(\S+)(?: \[(.*)\])?$/.exec(r) || [r, r, ""];
      const rate = ((mm[2] || "").match(/rate_limit=(\S+)/) || [])[1] || "";
      return tr([esc(mm[1]), esc(rate || "none"), READ_ONLY ? "" : '<form class="inline" data-action="rate-limit" data-body="' + esc(JSON.stringify({ worker: name, task: mm[1] })) +
        '"><label><span class="hide-sm">new rate </span><input name="rate" placeholder="10/s, empty = none" aria-label="rate limit for ' + esc(mm[1]) + '" size="12"></label>' +
        '<label><input type="checkbox" name="global" value="true"> cluster-wide</label><button>Set</button></form>']);
    }), "no tasks");
    $("#w-stats").innerHTML = "<pre>" + esc(JSON.stringify(st, null, 2)) + "</pre>";
  };
});

page(/^\/tasks$/, "Tasks", async (el) => {
  const q = new URLSearchParams(location.search);
  const input = (n, label, size) => '<label>' + label + ' <input name="' + n + '" value="' + esc(q.get(n) || "") + '" size="' + size + '"></label>';
  el.innerHTML = '<section><h1>Tasks</h1><form class="filters" id="filters" role="search">' + input("id", "Id", 14) + input("name", "Name", 12) +
    '<label>State <select name="state"><option value="">any</option>' + STATES.map((s) => "<option" + (q.get("state") === s ? " selected" : "") + ">" + s + "</option>").join("") + "</select></label>" +
    input("worker", "Worker", 12) + input("args", "Args", 12) + '<button>Search</button></form><div id="t-list"></div>' +
    '<div class="pager"><button type="button" id="prev">Newer</button><span id="t-page" class="muted"></span><button type="button" id="next">Older</button></div></section>';
  const form = $("#filters");
  const apply = (offset) => {
    const p = new URLSearchParams(new FormData(form));
    for (const [k, v] of [...p]) if (!v) p.delete(k);
    if (offset) p.set("offset", offset);
    history.replaceState(null, "", "/tasks" + (p.toString() ? "?" + p : ""));
    refresh(true);
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); apply(0); });
  form.addEventListener("change", () => apply(0));
  $("#prev").addEventListener("click", () => apply(Math.max(0, Number(new URLSearchParams(location.search).get("offset") || 0) - 50)));
  $("#next").addEventListener("click", () => apply(Number(new URLSearchParams(location.search).get("offset") || 0) + 50));
  return async () => {
    const p = new URLSearchParams(location.search);
    p.set("limit", "50");
    const r = await api("/api/tasks?" + p);
    const offset = Number(p.get("offset") || 0);
    $("#t-list").innerHTML = table(["task", "id", "state", "args", "result", "worker", "runtime", "when"], r.tasks.map((t) => tr([
      esc(t.name || "?"), taskLink(t.uuid), badge(t.state), '<span class="mono">' + esc(t.args) + "</span>",
      '<span class="mono">' + esc(t.result != null ? t.result : t.exception || "") + "</span>", workerLink(t.worker),
      t.runtime == null ? "" : t.runtime.toFixed(3) + " s", ago(t.timestamp)])), "no task matches (tasks appear when workers send events: -E)");
    $("#t-page").textContent = r.total ? (offset + 1) + "–" + Math.min(r.total, offset + 50) + " of " + r.total : "";
    $("#prev").disabled = offset === 0;
    $("#next").disabled = offset + 50 >= r.total;
  };
});

page(/^\/task\/(.+)$/, "Task", async (el, m) => {
  const id = decodeURIComponent(m[1]);
  el.innerHTML = '<section><h1>Task <span class="mono">' + esc(id) + '</span></h1><div id="k-head"></div><p id="action-result" class="muted" role="status"></p></section>' +
    '<div class="grid"><section><h2>Arguments</h2><div id="k-args"></div></section><section><h2>Result</h2><div id="k-result"></div></section></div>' +
    '<section><h2>Timeline</h2><div id="k-steps"></div></section><section><h2>Workflow</h2><div id="k-links"></div></section>';
  return async () => {
    const d = await api("/api/task/" + enc(id));
    if (!d) { $("#k-head").innerHTML = '<p class="muted">No task ' + esc(id) + " seen in events or stored in the result backend.</p>"; return; }
    const t = d.task || {}, rec = d.record || {};
    const state = rec.status && (["SUCCESS", "FAILURE", "REVOKED", "REJECTED"].includes(rec.status) || !t.state) ? rec.status : t.state;
    const running = state === "STARTED" || state === "RECEIVED" || state === "PENDING" || state === "RETRY";
    $("#k-head").innerHTML = '<dl class="kv"><dt>name</dt><dd>' + esc(t.name || rec.name || "?") + "</dd><dt>state</dt><dd>" + badge(state || "PENDING") +
      "</dd><dt>worker</dt><dd>" + workerLink(t.worker || rec.worker) + "</dd><dt>queue</dt><dd>" + esc(t.queue || rec.queue || "") +
      "</dd><dt>retries</dt><dd>" + (t.retries || 0) + "</dd><dt>ETA</dt><dd>" + esc(t.eta || "") + "</dd><dt>expires</dt><dd>" + esc(t.expires || "") +
      "</dd><dt>priority</dt><dd>" + (t.priority == null ? "" : t.priority) + "</dd><dt>runtime</dt><dd>" + (t.runtime == null ? "" : t.runtime.toFixed(4) + " s") +
      "</dd><dt>trace</dt><dd>" + (t.traceId ? (d.traceUrl ? '<a href="' + esc(d.traceUrl) + '" target="_blank" rel="noopener">' + esc(t.traceId) + "</a>" : '<span class="mono">' + esc(t.traceId) + "</span>") : "") + "</dd></dl>" +
      '<p style="margin-top:10px">' + (running ? actionButton("Revoke", "revoke", { id }) + " " + actionButton("Terminate", "revoke", { id, terminate: true }, { danger: true, confirm: "Terminate task " + id + "?" }) : "") +
      (state === "FAILURE" || state === "REVOKED" || state === "REJECTED" ? " " + actionButton("Retry as a new task", "retry", { id }) : "") + "</p>";
    $("#k-args").innerHTML = '<dl class="kv"><dt>args</dt><dd><pre>' + esc(rec.args ? JSON.stringify(rec.args) : t.args) + "</pre></dd><dt>kwargs</dt><dd><pre>" + esc(rec.kwargs ? JSON.stringify(rec.kwargs) : t.kwargs) + "</pre></dd></dl>";
    const failed = rec.status === "FAILURE" || t.state === "FAILURE" || t.state === "RETRY";
    const exc = rec.result && rec.result.exc_type ? rec.result.exc_type + ": " + rec.result.exc_message : t.exception;
    $("#k-result").innerHTML = failed ? "<p class=\"FAILURE\">" + esc(exc) + "</p><pre>" + esc(rec.traceback || t.traceback || "") + "</pre>" :
      rec.status === "SUCCESS" ? "<pre>" + esc(JSON.stringify(rec.result)) + "</pre><p class=\"muted\">done " + esc(rec.date_done || "") + "</p>" :
      t.result != null ? "<pre>" + esc(t.result) + "</pre>" : '<p class="muted">not finished</p>';
    $("#k-steps").innerHTML = table(["state", "when", "worker", "event"], (t.steps || []).map((s) => tr([badge(s.state), new Date(s.timestamp * 1000).toLocaleString(), workerLink(s.hostname), esc(s.type)])), "no events seen");
    const root = t.rootId || rec.root_id;
    const parent = t.parentId || rec.parent_id;
    $("#k-links").innerHTML = '<dl class="kv"><dt>root</dt><dd>' + (root ? taskLink(root) + (root !== id ? "" : " (this task)") : "") + "</dd><dt>parent</dt><dd>" + (parent ? taskLink(parent) : "") +
      "</dd><dt>children</dt><dd>" + ((d.children || []).map((c) => taskLink(c.uuid, (c.name || "?") + " " + c.uuid) + " " + badge(c.state)).join("<br>") || "none") + "</dd></dl>" +
      (root ? '<p><a href="/workflow/' + enc(root) + '">Show the workflow graph</a></p>' : "");
  };
});

page(/^\/workflow\/(.+)$/, "Workflow", async (el, m) => {
  const root = decodeURIComponent(m[1]);
  el.innerHTML = '<section><h1>Workflow <span class="mono">' + esc(root) + '</span></h1><p class="muted" id="wf-sum"></p><div class="scroll wf" id="wf"></div>' +
    '<div class="legend">' + STATES.map((s) => "<span><i style=\"background:" + COLORS[s] + "\"></i>" + s + "</span>").join("") + "</div></section>";
  return async () => {
    const d = await api("/api/workflow/" + enc(root));
    if (!d) { $("#wf").innerHTML = '<p class="muted">No task of workflow ' + esc(root) + " seen yet.</p>"; return; }
    $("#wf").innerHTML = workflowSvg(d.tasks);
    const counts = {};
    for (const t of d.tasks) counts[t.state] = (counts[t.state] || 0) + 1;
    $("#wf-sum").textContent = d.tasks.length + " task(s): " + Object.entries(counts).map((e) => e[1] + " " + e[0]).join(", ");
  };
});

function workflowSvg(tasks) {
  const byId = new Map(tasks.map((t) => [t.uuid, t]));
  // A task's predecessors: its parent or, when the parent is a group member (a chord header),
  // every member of that group.
  const preds = (t) => {
    const p = t.parentId && t.parentId !== t.uuid ? byId.get(t.parentId) : null;
    if (!p) return [];
    return p.groupId && p.groupId !== t.groupId ? tasks.filter((x) => x.groupId === p.groupId) : [p];
  };
  const depth = new Map();
  const depthOf = (t, seen) => {
    if (depth.has(t.uuid)) return depth.get(t.uuid);
    const ps = preds(t).filter((p) => !seen.has(p.uuid));
    const d = ps.length ? 1 + Math.max(...ps.map((p) => depthOf(p, new Set(seen).add(t.uuid)))) : 0;
    depth.set(t.uuid, d);
    return d;
  };
  const cols = [];
  const order = (t) => t.sent || t.received || t.started || t.timestamp || 0;
  for (const t of [...tasks].sort((a, b) => order(a) - order(b))) { const d = depthOf(t, new Set()); (cols[d] = cols[d] || []).push(t); }
  const NW = 190, NH = 46, GX = 60, GY = 14;
  const pos = new Map();
  cols.forEach((col, c) => (col || []).forEach((t, r) => pos.set(t.uuid, { x: 10 + c * (NW + GX), y: 10 + r * (NH + GY) })));
  const W = 20 + cols.length * (NW + GX), H = 20 + Math.max(...cols.map((c) => (c || []).length)) * (NH + GY);
  let svg = '<svg viewBox="0 0 ' + W + " " + H + '" width="' + W + '" height="' + H + '" role="img" aria-label="workflow graph">';
  for (const t of tasks) for (const p of preds(t)) {
    const a = pos.get(p.uuid), b = pos.get(t.uuid);
    if (a && b) svg += '<path d="M' + (a.x + NW) + " " + (a.y + NH / 2) + " C" + (a.x + NW + GX / 2) + " " + (a.y + NH / 2) + " " + (b.x - GX / 2) + " " + (b.y + NH / 2) + " " + b.x + " " + (b.y + NH / 2) + '" fill="none" stroke="#9aa59e"/>';
  }
  for (const t of tasks) {
    const p = pos.get(t.uuid), color = COLORS[t.state] || "#667085";
    svg += '<a href="/task/' + enc(t.uuid) + '" data-node="' + esc(t.uuid) + '" data-state="' + esc(t.state) + '"><title>' + esc((t.name || "?") + " " + t.uuid + " " + t.state) + "</title>" +
      '<rect x="' + p.x + '" y="' + p.y + '" width="' + NW + '" height="' + NH + '" rx="7" fill="#fff" stroke="' + color + '" stroke-width="2"/>' +
      '<rect x="' + p.x + '" y="' + p.y + '" width="7" height="' + NH + '" rx="3" fill="' + color + '"/>' +
      '<text x="' + (p.x + 14) + '" y="' + (p.y + 19) + '" style="fill:#1d2420;font-weight:600">' + esc((t.name || "?").slice(0, 24)) + "</text>" +
      '<text x="' + (p.x + 14) + '" y="' + (p.y + 36) + '">' + esc(t.state) + " · " + esc(t.uuid.slice(0, 8)) + "</text></a>";
  }
  return svg + "</svg>";
}

page(/^\/broker$/, "Broker", async (el) => {
  el.innerHTML = '<section><h1>Broker</h1><p class="muted">Queues in NATS JetStream: messages waiting, delivered and not yet acked, online consumers, the oldest message, dead letters.</p><p id="action-result" class="muted" role="status"></p><div id="b-queues"></div></section>';
  return async () => {
    const [queues, sum] = await Promise.all([api("/api/queues"), api("/api/summary")]);
    $("#b-queues").innerHTML = queuesTable(queues, sum);
  };
});

page(/^\/dead-letters$/, "Dead letters", async (el) => {
  const queue = new URLSearchParams(location.search).get("queue") || "";
  el.innerHTML = '<section><h1>Dead letters' + (queue ? " of " + esc(queue) : "") + '</h1><p class="muted">Messages a worker could not run: undecodable, unknown task, bad signature, too many deliveries. Replay puts one back on its queue.</p>' +
    '<p id="action-result" class="muted" role="status"></p><p>' + actionButton(queue ? "Purge " + queue : "Purge all", "dlq-purge", queue ? { queue } : {}, { danger: true, confirm: "Remove these dead letters for good?" }) +
    '</p><div id="dl-list"></div></section>';
  return async () => {
    const list = await api("/api/dead-letters" + (queue ? "?queue=" + enc(queue) : ""));
    $("#dl-list").innerHTML = table(["seq", "when", "queue", "task", "reason", "deliveries", "worker", "headers", ""], list.map((d) => tr([
      d.seq, new Date(d.time).toLocaleString(), esc(d.queue), esc(d.task || "?") + (d.taskId ? "<br>" + taskLink(d.taskId) : ""), esc(d.reason),
      d.deliveries == null ? "" : d.deliveries, esc(d.worker || ""),
      "<details><summary>" + Object.keys(d.headers).length + " headers</summary><pre>" + esc(JSON.stringify(d.headers, null, 1)) + "</pre></details>",
      actionButton("Replay", "dlq-replay", { seq: d.seq })])), "no dead letters");
  };
});

// ---- router and live updates ----
async function go(href, replace) {
  if (href !== location.pathname + location.search) history[replace ? "replaceState" : "pushState"](null, "", href);
  await render();
}
async function render() {
  const path = location.pathname;
  for (const a of document.querySelectorAll("header nav a")) {
    const h = a.getAttribute("href");
    if ((h === "/" ? path === "/" : path === h || path.startsWith(h.replace(/s$/, "") + "/"))) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  for (const p of pages) {
    const m = p.re.exec(path);
    if (!m) continue;
    document.title = p.title + " · celeriac monitor";
    view.innerHTML = '<section class="muted">loading…</section>';
    const me = { update: null };
    current = me;
    const fresh = document.createElement("div");
    fresh.style.display = "contents";
    view.replaceChildren(fresh);
    const update = await p.mount(fresh, m);
    if (current !== me) return;
    me.update = update;
    await refresh(true);
    return;
  }
  view.innerHTML = '<section><h1>Not found</h1><p><a href="/">Back to the dashboard</a></p></section>';
}
async function refresh(now) {
  const me = current;
  if (!me || !me.update) return;
  const wait = now ? 0 : Math.max(0, 1000 - (Date.now() - lastRefresh));
  if (pending) return;
  pending = setTimeout(async () => {
    pending = null;
    lastRefresh = Date.now();
    try { if (current === me) await me.update(); } catch (err) { toast(String(err.message || err), true); }
  }, wait);
}
window.addEventListener("popstate", render);
function connect() {
  const es = new EventSource("/api/stream");
  const live = $("#live");
  es.onopen = () => { live.className = "on"; live.textContent = "live"; };
  es.onerror = () => { live.className = "off"; live.textContent = "reconnecting…"; };
  es.addEventListener("tasks", () => refresh(false));
  es.addEventListener("tick", () => refresh(false));
}
connect();
render();
`;
