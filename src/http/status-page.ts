/**
 * The status page served at `GET /`: one self-contained HTML document (inline CSS and
 * JS, no framework, nothing fetched but `/v1/status`). It holds no data itself; it polls
 * `/v1/status` every 1.5 s. When that answers 401 (API_TOKENS is set) it asks for a token,
 * keeps it in sessionStorage (this tab only, gone when the tab closes) and sends it as
 * `Authorization: Bearer …`. Values are written with textContent, never as HTML.
 *
 * It is sent with {@link STATUS_PAGE_HEADERS}: a Content-Security-Policy that allows its
 * own inline style and script by their SHA-256 hashes and nothing else (no other script,
 * no frame around it, requests to this origin only), `nosniff` and `X-Frame-Options`.
 */
import { createHash } from 'node:crypto';
import { ROUTES } from './routes.js';

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>idalloc status</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #6e7781; --line: #d0d7de; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  .sub { color: var(--muted); margin-bottom: 1rem; }
  .cards { display: flex; flex-wrap: wrap; gap: .8rem; margin-bottom: 1.2rem; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .9rem; min-width: 13rem; }
  .card h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 .3rem; }
  .big { font-size: 1.15rem; font-weight: 600; }
  .ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { font-size: .8rem; color: var(--muted); font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  code { font: 13px ui-monospace, monospace; }
  #auth { display: none; border: 1px solid var(--warn); border-radius: 6px; padding: .8rem; margin-bottom: 1rem; }
  #auth input { font: inherit; width: 22rem; max-width: 100%; }
  #error { color: var(--bad); min-height: 1.2em; }
</style>
</head>
<body>
<h1>idalloc</h1>
<div class="sub">This node's live status, refreshed every 1.5 s · <span id="updated">loading…</span></div>
<form id="auth">
  <label>This node needs a bearer token (API_TOKENS). It is kept in this tab only.<br>
  <input id="token" type="password" autocomplete="off" placeholder="token"></label>
  <button type="submit">Show status</button>
</form>
<div id="error" role="alert"></div>
<div class="cards">
  <div class="card"><h2>Node</h2><div class="big" id="ready">–</div><div id="ready-reason" class="sub"></div></div>
  <div class="card"><h2>Store</h2><div class="big" id="store">–</div><div id="store-detail"></div></div>
  <div class="card"><h2>Snowflake worker</h2><div class="big" id="worker">–</div><div id="fence"></div></div>
</div>
<table>
  <thead><tr>
    <th>Tag</th><th>Mode</th><th>Step</th><th>Current segment</th><th>Next segment</th>
    <th>Remaining</th><th>IDs/s</th><th>Issued</th><th>Last fetch</th>
  </tr></thead>
  <tbody id="tags"><tr><td colspan="9" class="sub">loading…</td></tr></tbody>
</table>
<div class="sub" id="more"></div>
<script>
(() => {
  'use strict';
  const KEY = 'idalloc.token';
  const $ = (id) => document.getElementById(id);
  const text = (el, value, cls) => { el.textContent = value; el.className = cls || el.className.replace(/\\b(ok|bad|warn)\\b/g, '').trim(); };
  const ago = (iso) => {
    if (!iso) return 'never';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : new Date(iso).toLocaleString();
  };
  const segment = (v) => v ? v.start + ' – ' + v.end + ' (next ' + v.next + ')' : '–';
  const rate = (n) => n >= 100 ? Math.round(n).toLocaleString() : n.toFixed(1);
  const SERVING = { store: 'the store', buffers: 'its buffers (the store does not answer)', snowflake: 'its snowflake worker ID (the store does not answer)' };

  function cell(tr, field, value, num) {
    const td = document.createElement('td');
    td.dataset.field = field;
    if (num) td.className = 'num';
    td.textContent = value;
    tr.appendChild(td);
  }

  // The table's one row when there is nothing to list: why there is nothing.
  function note(message) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = 9; td.className = 'sub'; td.textContent = message;
    tr.appendChild(td);
    return tr;
  }

  function render(s) {
    text($('updated'), 'updated ' + new Date(s.time).toLocaleTimeString() + ' · started ' + ago(s.startedAt));
    text($('ready'), s.ready.ready ? 'ready' : 'not ready', s.ready.ready ? 'big ok' : 'big bad');
    text($('ready-reason'), s.ready.reason || (s.ready.serving ? 'serving from ' + (SERVING[s.ready.serving] || s.ready.serving) : ''), 'sub');
    text($('store'), s.store.kind + (s.store.up ? ' · up' : ' · down'), s.store.up ? 'big ok' : 'big bad');
    text($('store-detail'), s.store.durable ? 'durable' : 'not durable: can lose acknowledged writes', s.store.durable ? 'ok' : 'warn');
    const f = s.snowflake;
    if (!f) { text($('worker'), 'off', 'big'); text($('fence'), 'this node serves no snowflake tags', 'sub'); }
    else if (f.workerId === null) { text($('worker'), 'none held', 'big bad'); text($('fence'), f.reason || '', 'sub'); }
    else {
      text($('worker'), 'ID ' + f.workerId + (f.pinned ? ' (pinned)' : '') + (f.ready ? '' : ' · not minting'), f.ready ? 'big ok' : 'big bad');
      text($('fence'), f.pinned ? 'no lease, no fence' : 'fence: from ' + f.floor + ' to ' + f.horizon + (f.ready ? '' : ' · ' + (f.reason || '')), 'sub');
    }
    const body = $('tags');
    const rows = [];
    for (const t of s.tags) {
      const tr = document.createElement('tr');
      tr.dataset.tag = t.name;
      cell(tr, 'name', t.name);
      cell(tr, 'mode', t.mode);
      cell(tr, 'step', t.step === null ? '–' : t.step === t.configuredStep ? String(t.step) : t.step + ' (configured ' + t.configuredStep + ')', true);
      cell(tr, 'current', segment(t.current));
      cell(tr, 'next', t.next ? segment(t.next) : t.fetching ? 'fetching…' : '–');
      cell(tr, 'remaining', t.remaining === null ? '–' : t.remaining, true);
      cell(tr, 'rate', rate(t.idsPerSecond), true);
      cell(tr, 'issued', String(t.issued), true);
      cell(tr, 'lastFetch', t.mode === 'segment' ? ago(t.lastFetchAt) : '–');
      rows.push(tr);
    }
    if (rows.length === 0) rows.push(note('no tag served yet'));
    body.replaceChildren(...rows);
    text($('more'), s.tagsServed > s.tags.length ? 'showing the ' + s.tags.length + ' busiest of ' + s.tagsServed + ' tags' : '', 'sub');
  }

  let timer;
  async function poll() {
    clearTimeout(timer);
    const token = sessionStorage.getItem(KEY);
    try {
      const res = await fetch('${ROUTES.status.pattern}', { headers: token ? { Authorization: 'Bearer ' + token } : {}, cache: 'no-store' });
      if (res.status === 401) {
        $('auth').style.display = 'block';
        text($('error'), token ? 'that token was refused' : '');
        // Not "no tag served yet": nothing is known until a token is accepted.
        text($('updated'), 'needs a token');
        $('tags').replaceChildren(note('this node needs an API token: enter one above to see its status'));
        if (token) sessionStorage.removeItem(KEY);
        return; // polling resumes when a token is given
      }
      const body = await res.json();
      if (!res.ok) throw new Error((body.error && body.error.message) || 'HTTP ' + res.status);
      $('auth').style.display = 'none';
      text($('error'), '');
      render(body);
    } catch (err) {
      text($('error'), 'cannot reach this node: ' + err.message);
    }
    timer = setTimeout(poll, 1500);
  }

  $('auth').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token').value.trim();
    if (t) sessionStorage.setItem(KEY, t);
    $('token').value = '';
    poll();
  });
  poll();
})();
</script>
</body>
</html>
`;

/** The CSP source of the inline `<tag>` element's text, by its SHA-256 hash. */
function inlineHash(tag: 'script' | 'style'): string {
  const text = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(STATUS_PAGE)?.[1];
  if (text === undefined) throw new Error(`the status page has no <${tag}> element`);
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The security headers of the status page's answer. */
export const STATUS_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': [
    "default-src 'none'",
    `script-src ${inlineHash('script')}`,
    `style-src ${inlineHash('style')}`,
    "connect-src 'self'",
    // The empty favicon (`data:,`), so that the browser does not ask for /favicon.ico.
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
});
