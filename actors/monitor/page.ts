/**
 * The dashboard's one HTML document: every page route serves it and the script (client.ts)
 * renders the page for the address, so links are real addresses (Flower's routes) that work when
 * opened directly or bookmarked. No build step, no external request: it works inside a cluster
 * with no internet.
 */
import { CLIENT_JS } from "./client.ts";

/** Addresses that serve the page (the API lives under /api). */
export const PAGE_ROUTES: readonly RegExp[] = [
  /^\/$/,
  /^\/index\.html$/,
  /^\/workers$/,
  /^\/worker\/[^/]+$/,
  /^\/tasks$/,
  /^\/task\/[^/]+$/,
  /^\/broker$/,
  /^\/dead-letters$/,
  /^\/workflow\/[^/]+$/,
];

const CSS = `
:root{--bg:#f6f7f5;--fg:#1d2420;--muted:#5f6b64;--line:#dde3de;--card:#fff;--brand:#2f4f2f;--accent:#1f6f43;
--ok:#1a7f37;--bad:#b42318;--warn:#a15c07;--info:#175cd3;--rev:#6941c6;--pend:#667085}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);background:var(--bg)}
a{color:var(--accent)} a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid #f5a524;outline-offset:1px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:6px;z-index:9}
header{background:var(--brand);color:#fff;padding:8px 16px;display:flex;flex-wrap:wrap;gap:6px 18px;align-items:center}
header .brand{font-weight:700;font-size:17px;color:#fff;text-decoration:none}
header nav{display:flex;flex-wrap:wrap;gap:2px}
header nav a{color:#e8f1ea;text-decoration:none;padding:5px 10px;border-radius:5px}
header nav a[aria-current=page]{background:rgba(255,255,255,.18);color:#fff}
header nav a:hover{background:rgba(255,255,255,.12)}
#live{margin-left:auto;font-size:12px;opacity:.9}#live.on::before{content:"● ";color:#7ee2a0}#live.off::before{content:"● ";color:#f08c8c}
main{padding:14px 16px;display:grid;gap:14px;max-width:1400px;margin:0 auto}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;min-width:0}
h1{font-size:19px;margin:0 0 4px}h2{font-size:15px;margin:0 0 8px}
.grid{display:grid;gap:14px;grid-template-columns:repeat(auto-fit,minmax(320px,1fr))}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid var(--line);border-radius:8px;padding:8px 12px;min-width:110px;background:#fbfcfb}
.card b{display:block;font-size:20px}.card span{color:var(--muted);font-size:12px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #edf0ee;vertical-align:top;font-variant-numeric:tabular-nums}
th{font-weight:600;color:var(--muted);font-size:12.5px;white-space:nowrap}
td.mono,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
.state{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600;border:1px solid currentColor}
.SUCCESS{color:var(--ok)}.FAILURE,.REJECTED{color:var(--bad)}.RETRY{color:var(--warn)}.REVOKED{color:var(--rev)}
.STARTED,.RECEIVED{color:var(--info)}.PENDING{color:var(--pend)}.online{color:var(--ok)}.offline{color:var(--bad)}
input,select,button{font:inherit;padding:4px 8px;border:1px solid #b9c3bc;border-radius:5px;background:#fff;color:inherit}
button{cursor:pointer;background:#eef3ef}button.danger{border-color:#e4a39c;background:#fdf0ee;color:#8c1d13}
button:disabled{opacity:.5;cursor:not-allowed}
form.inline{display:inline-flex;flex-wrap:wrap;gap:6px;align-items:center;margin:4px 0}
.filters{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:10px}
.muted{color:var(--muted)} pre{white-space:pre-wrap;word-break:break-word;background:#f3f5f3;padding:8px;border-radius:6px;margin:4px 0;font-size:12px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0}dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;min-width:0}
.pager{display:flex;gap:8px;align-items:center;margin-top:8px}
#toast{position:fixed;right:12px;bottom:12px;max-width:min(520px,92vw);display:grid;gap:6px;z-index:5}
#toast div{background:#1d2420;color:#fff;padding:8px 12px;border-radius:6px;box-shadow:0 2px 8px rgba(0,0,0,.2)}#toast div.err{background:#8c1d13}
svg text{font:11px system-ui,sans-serif;fill:var(--muted)} .legend{display:flex;gap:12px;font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.wf a:focus rect{stroke:#f5a524;stroke-width:3}
@media (max-width:640px){main{padding:10px 8px}header{padding:8px 10px}th,td{padding:4px 5px}.hide-sm{display:none}}
`;

/** The page, with the values the script needs. */
export function pageHtml(o: { app: string; csrfToken: string; readOnly: boolean }): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>celeriac monitor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${esc(o.csrfToken)}"><meta name="read-only" content="${o.readOnly}">
<link rel="icon" href="data:,">
<style>${CSS}</style></head><body>
<a class="skip" href="#view">Skip to content</a>
<header><a class="brand" href="/">celeriac</a><span class="muted" style="color:#cfe0d3">app ${esc(o.app)}</span>
<nav aria-label="Pages"><a href="/">Dashboard</a><a href="/workers">Workers</a><a href="/tasks">Tasks</a><a href="/broker">Broker</a><a href="/dead-letters">Dead letters</a></nav>
<span id="live" class="off" role="status">connecting…</span></header>
<main id="view" tabindex="-1"></main>
<div id="toast" role="status" aria-live="polite"></div>
<script>${CLIENT_JS}</script></body></html>
`;
}
