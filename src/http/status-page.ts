/**
 * The status page served at `GET /`: one self-contained HTML document (inline CSS and
 * JS, no framework, nothing fetched but `/v1/status`). It holds no data itself; it polls
 * `/v1/status` every 1.5 s. When that answers 401 (API_TOKENS is set) it asks for a token,
 * keeps it in sessionStorage (this tab only, gone when the tab closes) and sends it as
 * `Authorization: Bearer …`. Values are written with textContent, never as HTML.
 *
 * It names the node (id, host, version, start) and shows one section per worker process
 * (`WORKERS`), headed by its worker id and pid, in the order of the worker ids: whichever
 * worker answers a poll, the page shows the same workers in the same places.
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
  section.worker { margin-bottom: 1.6rem; }
  section.worker > h2 { font-size: 1rem; margin: 0 0 .5rem; }
</style>
</head>
<body>
<h1>idalloc</h1>
<div class="sub" id="node">This node's live status, refreshed every 1.5 s</div>
<div class="sub"><span id="updated">loading…</span></div>
<form id="auth">
  <label>This node needs a bearer token (API_TOKENS). It is kept in this tab only.<br>
  <input id="token" type="password" autocomplete="off" placeholder="token"></label>
  <button type="submit">Show status</button>
</form>
<div id="error" role="alert"></div>
<div class="warn" id="missing"></div>
<div id="workers"><div class="sub">loading…</div></div>
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
  // A tag's shape: kind, width, prefix, and the region count when several share it.
  const shapeText = (t) => !t.shape ? '–' : t.shape.kind + (t.shape.width ? '/' + t.shape.width : '') +
    (t.shape.prefix ? ' · ' + t.shape.prefix + '_' : '') + (t.regions > 1 ? ' · ' + t.regions + ' regions' : '');
  const rate = (n) => n >= 100 ? Math.round(n).toLocaleString() : n.toFixed(1);
  const SERVING = { store: 'the store', buffers: 'its buffers (the store does not answer)', snowflake: 'its snowflake worker ID (the store does not answer)' };

  function cell(tr, field, value, num) {
    const td = document.createElement('td');
    td.dataset.field = field;
    if (num) td.className = 'num';
    td.textContent = value;
    tr.appendChild(td);
  }

  const el = (tag, attrs, value) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) k === 'class' ? (e.className = v) : e.setAttribute(k, v);
    if (value !== undefined) e.textContent = value;
    return e;
  };

  /** A card: its title, its big value and a detail line, each a [data-field] to find. */
  function card(title, field, value, cls, detailField, detail, detailCls) {
    const c = el('div', { class: 'card' });
    c.append(el('h2', {}, title), el('div', { class: cls, 'data-field': field }, value),
      el('div', { class: detailCls, 'data-field': detailField }, detail));
    return c;
  }

  function tagRows(w) {
    const rows = [];
    for (const t of w.tags) {
      const tr = document.createElement('tr');
      tr.dataset.tag = t.name;
      cell(tr, 'name', t.name);
      cell(tr, 'mode', t.mode);
      cell(tr, 'shape', shapeText(t));
      cell(tr, 'step', t.step === null ? '–' : t.step === t.configuredStep ? String(t.step) : t.step + ' (configured ' + t.configuredStep + ')', true);
      cell(tr, 'current', segment(t.current));
      cell(tr, 'next', t.next ? segment(t.next) : t.fetching ? 'fetching…' : '–');
      cell(tr, 'remaining', t.remaining === null ? '–' : t.remaining, true);
      cell(tr, 'rate', rate(t.idsPerSecond), true);
      cell(tr, 'issued', String(t.issued), true);
      cell(tr, 'lastFetch', t.mode === 'segment' ? ago(t.lastFetchAt) : '–');
      rows.push(tr);
    }
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const td = el('td', { class: 'sub' }, 'no tag served yet');
      td.colSpan = 10;
      tr.appendChild(td); rows.push(tr);
    }
    return rows;
  }

  /** One worker process: labelled by its worker id and pid, so polls never mix them up. */
  function workerSection(w) {
    const sec = el('section', { class: 'worker', 'data-worker': w.worker === null ? 'process' : String(w.worker), 'data-pid': String(w.pid) });
    sec.append(el('h2', {}, (w.worker === null ? 'process' : 'worker ' + w.worker) + ' · pid ' + w.pid + ' · started ' + ago(w.startedAt)));
    const cards = el('div', { class: 'cards' });
    const serving = w.ready.serving ? 'serving from ' + (SERVING[w.ready.serving] || w.ready.serving) : '';
    cards.append(card('Readiness', 'ready', w.ready.ready ? 'ready' : 'not ready', w.ready.ready ? 'big ok' : 'big bad', 'ready-reason', w.ready.reason || serving, 'sub'));
    cards.append(card('Store', 'store', w.store.kind + (w.store.up ? ' · up' : ' · down'), w.store.up ? 'big ok' : 'big bad',
      'store-detail', w.store.durable ? 'durable' : 'not durable: can lose acknowledged writes', w.store.durable ? 'ok' : 'warn'));
    const f = w.snowflake;
    if (!f) cards.append(card('Snowflake worker', 'worker', 'off', 'big', 'fence', 'this node serves no snowflake tags', 'sub'));
    else if (f.workerId === null) cards.append(card('Snowflake worker', 'worker', 'none held', 'big bad', 'fence', f.reason || '', 'sub'));
    else cards.append(card('Snowflake worker', 'worker', 'ID ' + f.workerId + (f.pinned ? ' (pinned)' : '') + (f.ready ? '' : ' · not minting'), f.ready ? 'big ok' : 'big bad',
      'fence', f.pinned ? 'no lease, no fence' : 'fence: from ' + f.floor + ' to ' + f.horizon + (f.ready ? '' : ' · ' + (f.reason || '')), 'sub'));
    const table = el('table');
    const head = el('tr');
    for (const h of ['Tag', 'Mode', 'Shape', 'Step', 'Current segment', 'Next segment', 'Remaining', 'IDs/s', 'Issued', 'Last fetch']) head.append(el('th', {}, h));
    table.append(el('thead'), el('tbody'));
    table.tHead.append(head);
    table.tBodies[0].replaceChildren(...tagRows(w));
    sec.append(cards, table,
      el('div', { class: 'sub', 'data-field': 'more' }, w.tagsServed > w.tags.length ? 'showing the ' + w.tags.length + ' busiest of ' + w.tagsServed + ' tags' : ''));
    return sec;
  }

  function render(s) {
    const n = s.node;
    text($('node'), 'node ' + n.id + ' · host ' + n.host + ' · region ' + n.region + ' · idalloc ' + n.version + ' · started ' + ago(n.startedAt) + ' · ' + n.workers + (n.workers === 1 ? ' worker' : ' workers'), 'sub');
    text($('updated'), 'refreshed every 1.5 s · updated ' + new Date(s.time).toLocaleTimeString(), 'sub');
    text($('missing'), s.workers.length < n.workers ? (n.workers - s.workers.length) + ' of ' + n.workers + ' workers did not answer in time (starting or being replaced)' : '', 'warn');
    $('workers').replaceChildren(...s.workers.map(workerSection));
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
        $('workers').replaceChildren(el('div', { class: 'sub' }, 'this node needs an API token: enter one above to see its status'));
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
