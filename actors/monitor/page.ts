/**
 * The dashboard: one page, no build step, no dependencies. It polls the monitor's API every two
 * seconds and shows workers, queues and recent tasks; a task id opens its details.
 */
export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>celeriac monitor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
 header{background:#2f4f2f;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline}
 header h1{font-size:18px;margin:0} header span{opacity:.85}
 main{padding:12px 18px;display:grid;gap:18px}
 section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 12px}
 h2{font-size:15px;margin:0 0 8px} table{border-collapse:collapse;width:100%}
 th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee;vertical-align:top;font-variant-numeric:tabular-nums}
 th{font-weight:600;color:#555} td.mono{font-family:ui-monospace,monospace;font-size:12px}
 .SUCCESS{color:#1a7f37}.FAILURE,.REJECTED{color:#b42318}.RETRY{color:#b54708}.REVOKED{color:#6941c6}
 .STARTED,.RECEIVED{color:#175cd3}.online{color:#1a7f37}.offline{color:#b42318}
 input,select{font:inherit;padding:3px 6px} pre{white-space:pre-wrap;background:#f5f5f5;padding:8px;border-radius:4px}
 .muted{color:#888}
</style></head><body>
<header><h1>celeriac</h1><span id="app"></span><span id="counts"></span></header>
<main>
<section><h2>Workers</h2><table id="workers"><thead><tr><th>worker</th><th>status</th><th>active</th><th>processed</th>
<th>concurrency</th><th>queues</th><th>load</th><th>last heartbeat</th></tr></thead><tbody></tbody></table></section>
<section><h2>Queues</h2><table id="queues"><thead><tr><th>queue</th><th>waiting</th><th>in flight</th><th>workers</th></tr></thead>
<tbody></tbody></table><div class="muted" id="delayed"></div></section>
<section><h2>Tasks</h2>
<div style="margin-bottom:8px"><select id="state"><option value="">all states</option><option>PENDING</option><option>RECEIVED</option>
<option>STARTED</option><option>SUCCESS</option><option>FAILURE</option><option>RETRY</option><option>REVOKED</option><option>REJECTED</option></select>
<input id="name" placeholder="task name"> <input id="lookup" placeholder="task id" size="38"></div>
<div class="muted" id="hint"></div>
<table id="tasks"><thead><tr><th>task</th><th>id</th><th>state</th><th>args</th><th>result</th><th>worker</th><th>runtime</th><th>when</th></tr></thead>
<tbody></tbody></table><div id="detail"></div></section>
</main>
<script>
const $ = (s) => document.querySelector(s);
const esc = (v) => String(v ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const ago = (sec) => sec == null ? "" : (Date.now() / 1000 - sec < 60 ? Math.round(Date.now() / 1000 - sec) + " s ago" : new Date(sec * 1000).toLocaleTimeString());
async function get(path) { const r = await fetch(path); return r.ok ? r.json() : null; }
function rows(sel, list, cells) { $(sel + " tbody").innerHTML = list.map((x) => "<tr>" + cells(x).map((c) => "<td" + (c.cls ? ' class="' + c.cls + '"' : "") + ">" + (c.html ?? esc(c)) + "</td>").join("") + "</tr>").join(""); }
async function refresh() {
  const [workers, queues, summary, tasks] = await Promise.all([get("/api/workers"), get("/api/queues"), get("/api/summary"),
    get("/api/tasks?limit=100&state=" + encodeURIComponent($("#state").value) + "&name=" + encodeURIComponent($("#name").value))]);
  if (summary) {
    $("#app").textContent = "app " + summary.app;
    $("#counts").textContent = Object.entries(summary.states).map(([k, v]) => k + " " + v).join(" · ");
    $("#delayed").textContent = summary.delayed ? summary.delayed.messages + " delayed task(s) waiting for their time" : "";
    $("#hint").textContent = summary.tasks === 0 ? "No task events yet: start workers with -E (events) to see tasks here." : "";
  }
  rows("#workers", workers ?? [], (w) => [w.hostname, { html: '<span class="' + w.status + '">' + w.status + (w.reason ? " (" + esc(w.reason) + ")" : "") + "</span>" },
    w.active, w.processed, w.concurrency, (w.queues ?? []).join(", "), (w.loadavg ?? []).map((x) => x.toFixed(2)).join(" "), ago(w.last_heartbeat)]);
  rows("#queues", queues ?? [], (q) => [q.queue, q.pending ?? "?", q.inFlight ?? "?", q.workers]);
  rows("#tasks", tasks ?? [], (t) => [t.name ?? "?", { cls: "mono", html: '<a href="#" data-id="' + esc(t.uuid) + '">' + esc(t.uuid) + "</a>" },
    { cls: t.state, html: esc(t.state) }, { cls: "mono", html: esc(t.args) }, { cls: "mono", html: esc(t.result ?? t.exception ?? "") },
    t.worker ?? "", t.runtime == null ? "" : t.runtime.toFixed(4) + " s", ago(t.timestamp)]);
}
async function show(id) {
  const d = await get("/api/task/" + encodeURIComponent(id));
  $("#detail").innerHTML = d ? "<h2>Task " + esc(id) + "</h2><pre>" + esc(JSON.stringify(d, null, 2)) + "</pre>" : "<p>No task " + esc(id) + "</p>";
}
document.addEventListener("click", (e) => { const id = e.target.dataset && e.target.dataset.id; if (id) { e.preventDefault(); show(id); } });
$("#lookup").addEventListener("change", (e) => show(e.target.value.trim()));
refresh(); setInterval(refresh, 2000);
</script></body></html>
`;
