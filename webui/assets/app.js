// oauthproxy web UI. Plain JavaScript, no dependencies. Everything it shows
// comes from this server's API, already redacted; text is inserted with
// textContent only, never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const state = {
  login: null,        // selected login id (or "other")
  exchange: null,     // selected exchange id
  rowsOffset: 0,
  loginsOffset: 0,
  unfolded: new Set(),
  pageSize: 100,
  resend: false,
  seen: 0,
};
// Timings the browser tests log (ms since navigation start); marks are the
// phases of the first paint only (script start, each request sent and
// answered, the diagram drawn).
const perf = {firstPaint: null, lastFilter: null, marks: []};
function mark(n) { if (perf.firstPaint === null) perf.marks.push(n + '=' + Math.round(performance.now())); }
window.oauthproxyPerf = perf;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function badge(b) {
  if (!b) return null;
  return el('span', {class: 'badge ' + b.level, text: b.id, 'data-badge': b.id});
}

function filterParams() {
  const p = new URLSearchParams();
  const q = $('q').value.trim();
  if (q) p.set('q', q);
  if ($('f-failed').checked) p.set('failed', '1');
  if ($('f-oauth').checked) p.set('oauth', '1');
  if ($('f-hide-other').checked) p.set('hide_other', '1');
  return p;
}

async function getJSON(path, params) {
  mark('>' + path);
  const r = await fetch(path + (params && params.toString() ? '?' + params : ''));
  if (!r.ok) throw new Error(await r.text());
  const j = await r.json();
  mark('<' + path);
  return j;
}

async function loadState() {
  const s = await getJSON('api/state');
  state.pageSize = s.page_size;
  state.resend = s.resend;
  state.seen = s.stats.seen;
  $('title').textContent = s.mode === 'file' ? s.title : 'live · ' + s.title;
  $('stats').textContent = `${s.stats.exchanges} exchanges · ${s.stats.bytes < 1048576 ? (s.stats.bytes / 1024).toFixed(0) + ' KiB' : (s.stats.bytes / 1048576).toFixed(1) + ' MiB'} of ${(s.stats.max_bytes / 1048576).toFixed(0)} MiB` + (s.stats.evicted ? ` · ${s.stats.evicted} older ones dropped` : '');
  const empty = s.stats.seen === 0;
  $('empty').hidden = !empty;
  $('main').hidden = empty;
  if (s.proxy) $('empty-env').textContent = `eval "$(oauthproxy env --listen ${s.proxy})"`;
  if (s.mode === 'file') $('live').hidden = true;
}

async function loadLogins() {
  const p = filterParams();
  p.set('offset', state.loginsOffset);
  p.set('limit', 200);
  const data = await getJSON('api/logins', p);
  $('logins-total').textContent = `(${data.total})`;
  const ul = $('logins');
  ul.replaceChildren(...data.logins.map((l) => el('li', {
    class: l.id === state.login ? 'sel' : '', 'data-login': l.id,
    onclick: () => selectLogin(l.id),
  }, badge(l.badge), el('b', {text: l.title}), el('div', {class: 'steps', text: `${l.count} exchanges` + (l.failed ? `, ${l.failed} failed` : '') + (l.steps ? ' · ' + l.steps.join(' → ') : '')}))));
  pager($('logins-pager'), data.total, data.offset, data.limit, (o) => { state.loginsOffset = o; loadLogins(); });
  if (!state.login && data.logins.length) {
    await selectLogin(data.logins[0].id);
    return true;
  }
  return false;
}

function pager(box, total, offset, limit, go) {
  box.replaceChildren();
  if (total <= limit) return;
  box.append(
    el('button', {text: '◀ newer', disabled: offset === 0 ? '' : null, onclick: () => go(Math.max(0, offset - limit))}),
    el('span', {text: ` ${offset + 1}–${Math.min(total, offset + limit)} of ${total} `}),
    el('button', {text: 'older ▶', disabled: offset + limit >= total ? '' : null, onclick: () => go(offset + limit)}));
}

async function selectLogin(id) {
  state.login = id;
  state.rowsOffset = 0;
  for (const li of $('logins').children) li.classList.toggle('sel', li.dataset.login === id);
  await Promise.all([loadLogin(), loadRows()]);
}

async function loadRows() {
  if (!state.login) return;
  const p = filterParams();
  p.set('login', state.login);
  p.set('offset', state.rowsOffset);
  p.set('limit', state.pageSize);
  const data = await getJSON('api/exchanges', p);
  $('rows-total').textContent = `(${data.total})`;
  const tb = $('rows').tBodies[0];
  tb.replaceChildren(...data.rows.map((r) => el('tr', {
    class: (r.failed ? 'failed ' : '') + (r.id === state.exchange ? 'sel' : ''), 'data-id': r.id,
    onclick: () => selectExchange(r.id),
  }, el('td', {text: '#' + r.seq}), el('td', {text: new Date(r.time).toLocaleTimeString()}), el('td', {text: r.method}),
  el('td', {class: 'path', text: r.host + r.path, title: r.url}), el('td', {class: 'status', text: r.status || 'ERR'}),
  el('td', {text: r.oauth || ''}), el('td', {}, badge(r.badge)))));
  pager($('rows-pager'), data.total, data.offset, data.limit, (o) => { state.rowsOffset = o; loadRows(); });
}

async function loadLogin() {
  const p = filterParams();
  p.delete('hide_other');
  p.set('id', state.login);
  const v = await getJSON('api/login', p);
  $('login-title').replaceChildren((state.login === 'other' ? 'Other traffic (no login)' : 'Login ' + state.login) +
    (v.total > v.rows.length ? ` — diagram of the last ${v.rows.length} of ${v.total} exchanges` : '') + ' ',
  el('a', {class: 'small', id: 'dl-login', href: 'api/har?login=' + encodeURIComponent(state.login), download: '', text: 'download as HAR'}));
  drawDiagram(v.rows);
  mark('diagram');
  drawComparison(v.comparison);
}

// --- sequence diagram ---
const LANES = [['browser', 'browser'], ['app', 'app'], ['as', 'authorization server'], ['rs', 'resource server']];
const LANE_X = {browser: 90, app: 270, as: 470, rs: 670};
const APP_TO_AS = new Set(['token', 'userinfo', 'introspect', 'revoke', 'par', 'device', 'jwks', 'discovery']);

function lanesOf(r, ctx) {
  if (r.oauth === 'authorize' || r.oauth === 'hop') return ['browser', 'as'];
  if (r.oauth === 'callback') return ['browser', 'app'];
  if (APP_TO_AS.has(r.oauth)) return ['app', 'as'];
  if (ctx.as.has(r.host)) return ['browser', 'as'];
  if (ctx.app.has(r.host)) return ['browser', 'app'];
  return ['app', 'rs'];
}

// steps folds runs of unlabelled browser→AS exchanges (login pages,
// redirects) into one hop step, unless unfolded.
function steps(rows) {
  const ctx = {as: new Set(), app: new Set()};
  for (const r of rows) {
    if (r.oauth === 'authorize' || APP_TO_AS.has(r.oauth)) ctx.as.add(r.host);
    if (r.oauth === 'callback') ctx.app.add(r.host);
  }
  const out = [];
  for (const r of rows) {
    const [from, to] = lanesOf(r, ctx);
    // Login tracing labels the OP's login pages and redirects "hop";
    // without it they are unlabelled browser requests to the OP.
    const hop = (!r.oauth || r.oauth === 'hop') && from === 'browser' && to === 'as';
    const last = out[out.length - 1];
    if (hop && last && last.hop && !state.unfolded.has(last.key)) {
      last.rows.push(r);
      continue;
    }
    out.push({from, to, hop, rows: [r], key: r.id});
  }
  const flat = [];
  for (const s of out) {
    if (s.hop && s.rows.length > 1 && state.unfolded.has(s.key)) {
      for (const r of s.rows) flat.push({from: s.from, to: s.to, rows: [r], key: s.key, unfoldedHop: true});
    } else flat.push(s);
  }
  return flat;
}

function failing(r) { return r.failed || (r.badge && r.badge.level === 'error'); }

function svg(tag, attrs, text) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function drawDiagram(rows) {
  const st = steps(rows);
  const H = 50 + st.length * 38 + 20;
  const s = svg('svg', {width: 760, height: H, viewBox: `0 0 760 ${H}`, id: 'seq', role: 'img'});
  const defs = svg('defs');
  for (const [id, color] of [['head', '#455a64'], ['headfail', '#c62828']]) {
    const m = svg('marker', {id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse'});
    m.append(svg('path', {d: 'M0,0 L10,5 L0,10 z', fill: color}));
    defs.append(m);
  }
  s.append(defs);
  for (const [k, name] of LANES) {
    s.append(svg('text', {x: LANE_X[k], y: 20, class: 'lane-name'}, name));
    s.append(svg('line', {x1: LANE_X[k], y1: 28, x2: LANE_X[k], y2: H - 5, class: 'lane'}));
  }
  st.forEach((step, i) => {
    const y = 55 + i * 38;
    const rs = step.rows;
    const bad = rs.find(failing);
    const r = bad || rs[rs.length - 1];
    const g = svg('g', {class: 'step' + (bad ? ' fail' : ''), 'data-id': r.id, 'data-seq': r.seq});
    const x1 = LANE_X[step.from], x2 = LANE_X[step.to];
    const folded = step.hop && rs.length > 1;
    const line = svg('line', {x1, y1: y, x2: x2 + (x2 > x1 ? -3 : 3), y2: y, class: 'arrow' + (bad ? ' fail' : '') + (folded ? ' fold' : ''), 'marker-end': bad ? 'url(#headfail)' : 'url(#head)'});
    let label;
    if (folded) label = `${rs.length} hops: ${rs[0].method} ${rs[0].path.slice(0, 30)} … → ${rs[rs.length - 1].status || 'ERR'} (click to unfold)`;
    else label = `${r.method} ${r.path.length > 48 ? r.path.slice(0, 47) + '…' : r.path} → ${r.status || 'ERR'}`;
    if (bad) label += '  ✗ ' + (bad.badge ? bad.badge.id : (bad.error ? errorKind(bad.error) : 'HTTP ' + bad.status));
    const tx = Math.min(x1, x2) + 6;
    const t = svg('text', {x: tx, y: y - 6, class: 'label' + (bad ? ' fail' : '')}, label);
    g.append(line, t);
    if (bad && bad.badge) g.setAttribute('data-finding', bad.badge.id);
    g.addEventListener('click', () => {
      if (folded) { state.unfolded.add(step.key); drawDiagram(rows); return; }
      if (step.unfoldedHop && !bad) { /* keep unfolded */ }
      selectExchange(r.id);
    });
    s.append(g);
  });
  if (!st.length) s.append(svg('text', {x: 20, y: 60}, 'no exchanges match'));
  $('diagram').replaceChildren(s);
}

// --- authorize vs token ---
function highlighted(a, b) {
  // Mark the part of a that differs from b (after the common prefix and suffix).
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let q = 0;
  while (q < a.length - p && q < b.length - p && a[a.length - 1 - q] === b[b.length - 1 - q]) q++;
  const span = el('span');
  span.append(a.slice(0, p));
  if (a.length - q > p) span.append(el('mark', {text: a.slice(p, a.length - q)}));
  span.append(a.slice(a.length - q));
  return span;
}

function drawComparison(c) {
  const box = $('compare');
  box.replaceChildren();
  if (!c || !c.rows || !c.rows.length) return;
  const t = el('table', {id: 'cmp'}, el('tr', {}, el('th', {text: ''}), el('th', {text: 'authorize request'}), el('th', {text: 'token side'})));
  for (const r of c.rows) {
    t.append(el('tr', {class: r.equal ? '' : 'diff', 'data-name': r.name},
      el('td', {class: 'name', text: r.name + (r.equal ? '' : ' ≠')}),
      el('td', {}, r.equal ? r.authorize : highlighted(r.authorize, r.token)),
      el('td', {}, r.equal ? r.token : highlighted(r.token, r.authorize), el('div', {class: 'muted', text: r.token_from}))));
  }
  box.append(el('h3', {text: 'Authorize vs token'}), t);
}

// --- detail panel ---
function kvTable(list) {
  if (!list || !list.length) return el('p', {class: 'muted', text: '(none)'});
  return el('table', {}, ...list.map((h) => el('tr', {}, el('td', {text: h.name}), el('td', {text: h.value}))));
}

function bodyView(text, encoding, mime) {
  if (encoding) return el('p', {class: 'muted', text: `(${encoding}-encoded body, ${text.length} characters)`});
  if (!text) return el('p', {class: 'muted', text: '(empty)'});
  let shown = text;
  if ((mime || '').includes('json')) {
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* keep as is */ }
  }
  if (shown.length > 20000) shown = shown.slice(0, 20000) + '\n… (cut for display; download the HAR for all of it)';
  return el('pre', {text: shown});
}

async function selectExchange(id) {
  state.exchange = id;
  for (const tr of $('rows').tBodies[0].rows) tr.classList.toggle('sel', tr.dataset.id === id);
  let d;
  try { d = await getJSON('api/exchange', new URLSearchParams({id})); } catch (e) {
    $('detail').replaceChildren(el('p', {class: 'problem', text: String(e.message || e)}));
    return;
  }
  const r = d.row, e = d.entry;
  const box = el('div', {'data-id': r.id});
  box.append(el('h2', {text: `#${r.seq} ${r.method} ${r.status || 'ERR'}`}, ' ', badge(r.badge)), el('pre', {text: r.url}));
  if (r.error) box.append(el('p', {class: 'problem', text: errorText(r.error)}));
  if (r.login) box.append(el('p', {class: 'muted', text: 'login ' + r.login}));
  const acts = el('div', {class: 'actions'});
  acts.append(el('button', {text: 'copy as curl', id: 'btn-curl', onclick: () => copyCurl(r.id)}));
  if (d.resend.available) acts.append(el('button', {text: 're-send', id: 'btn-resend', title: d.resend.refused || d.resend.confirm || 're-send this request', onclick: () => resend(r.id, d.resend)}));
  if (r.login) acts.append(el('a', {href: 'api/har?login=' + encodeURIComponent(r.login), download: '', text: 'download this login (HAR)'}));
  box.append(acts, el('div', {id: 'action-out'}));
  if (d.diagnosis) {
    const g = d.diagnosis;
    box.append(el('h3', {text: 'Diagnosis'}), el('div', {class: 'diagnosis', id: 'diagnosis'},
      el('b', {text: `${g.category}/${g.cause}`}), el('span', {class: 'muted', text: ` (${g.confidence} confidence) `}), el('a', {href: g.doc, target: '_blank', rel: 'noreferrer', text: 'docs'}),
      el('p', {class: 'summary', text: g.summary}),
      g.evidence && g.evidence.length ? el('div', {}, el('i', {text: 'evidence'}), el('ul', {}, ...g.evidence.map((x) => el('li', {text: x})))) : null,
      g.fix && g.fix.length ? el('div', {}, el('i', {text: 'fix'}), el('ol', {}, ...g.fix.map((x) => el('li', {text: x})))) : null));
  }
  if (d.findings && d.findings.length) {
    box.append(el('h3', {text: 'Findings'}));
    for (const f of d.findings) {
      box.append(el('div', {class: 'finding ' + f.severity, 'data-finding': f.id},
        el('b', {text: `${f.severity.toUpperCase()} ${f.id}`}), el('span', {class: 'muted', text: ` [${f.category}] `}), el('a', {href: f.doc, target: '_blank', rel: 'noreferrer', text: 'docs'}),
        el('p', {text: f.message}), f.fix ? el('p', {}, el('i', {text: 'fix: '}), f.fix) : null));
    }
  }
  if (d.jwts && d.jwts.length) {
    box.append(el('h3', {text: 'JWTs'}));
    for (const j of d.jwts) {
      box.append(el('div', {class: 'jwt'}, el('b', {text: j.where}), el('span', {class: 'muted', text: ' ' + j.fingerprint}),
        el('ul', {}, ...(j.times || []).map((t) => el('li', {class: t.problem ? 'problem' : ''}, `${t.claim} ${t.time} (${t.relative})` + (t.problem ? ' — ' + t.problem : ''))),
          ...(j.checks || []).map((c) => el('li', {class: c.ok ? 'ok' : 'problem', text: (c.ok ? '✓ ' : '✗ ') + c.text}))),
        el('pre', {text: 'header ' + JSON.stringify(j.header, null, 2)}), el('pre', {text: 'claims ' + JSON.stringify(j.claims, null, 2)})));
    }
  }
  box.append(el('h3', {text: 'Request'}), kvTable(e.request.headers));
  if (e.request.queryString && e.request.queryString.length) box.append(el('h4', {text: 'query'}), kvTable(e.request.queryString));
  if (e.request.postData) {
    const pd = e.request.postData;
    if (pd.params && pd.params.length) box.append(el('h4', {text: 'form'}), kvTable(pd.params));
    else box.append(el('h4', {text: 'body'}), bodyView(pd.text, pd.encoding, pd.mimeType));
  }
  box.append(el('h3', {text: 'Response'}), kvTable(e.response.headers), el('h4', {text: 'body'}), bodyView(e.response.content.text || '', e.response.content.encoding, e.response.content.mimeType));
  $('detail').replaceChildren(box);
}

async function copyCurl(id) {
  const r = await fetch('api/curl?id=' + encodeURIComponent(id));
  const text = await r.text();
  const out = el('pre', {id: 'curl-out', text});
  $('action-out').replaceChildren(el('p', {class: 'muted', text: 'secrets are ${PLACEHOLDERS}: set them before running'}), out);
  try { await navigator.clipboard.writeText(text); } catch (e) { /* shown above; select and copy */ }
}

async function resend(id, info) {
  if (info.refused) { $('action-out').replaceChildren(el('p', {class: 'problem', text: info.refused})); return; }
  let confirmed = false;
  if (info.confirm) {
    confirmed = window.confirm('This request carries a single-use credential:\n\n' + info.confirm + '\n\nSend it anyway?');
    if (!confirmed) return;
  }
  const r = await fetch('api/resend?id=' + encodeURIComponent(id) + (confirmed ? '&confirm=1' : ''), {method: 'POST', headers: {'X-Oauthproxy': '1'}});
  if (!r.ok) { $('action-out').replaceChildren(el('p', {class: 'problem', text: await r.text()})); return; }
  const res = await r.json();
  $('action-out').replaceChildren(el('p', {text: `re-sent: status ${res.status || 'ERR'} ${res.error || ''}`}),
    el('ul', {}, ...(res.changes || []).map((c) => el('li', {text: JSON.stringify(c)}))));
}

// --- live updates ---
let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    await refresh();
  }, 400);
}

async function refresh() {
  await loadState();
  if ($('main').hidden) return;
  // loadLogins selects the first login when none is, which loads it.
  if (!(await loadLogins()) && state.login) await Promise.all([loadLogin(), loadRows()]);
}

function connect() {
  if (typeof EventSource === 'undefined') return;
  const es = new EventSource('api/events');
  es.addEventListener('open', () => $('live').classList.remove('off'));
  es.addEventListener('error', () => $('live').classList.add('off'));
  es.addEventListener('x', () => scheduleRefresh());
  // Sent on every (re)connection: whatever happened while disconnected.
  es.addEventListener('hello', () => scheduleRefresh());
  es.addEventListener('missed', (ev) => {
    const m = $('missed');
    const n = (parseInt(m.dataset.n || '0', 10) + parseInt(ev.data, 10));
    m.dataset.n = n;
    m.textContent = `missed ${n} live updates (page too slow); the lists are reloaded from the server`;
    m.hidden = false;
    scheduleRefresh();
  });
}

async function onFilter() {
  const t0 = performance.now();
  state.loginsOffset = 0;
  state.rowsOffset = 0;
  if (!(await loadLogins()) && state.login) await Promise.all([loadLogin(), loadRows()]);
  perf.lastFilter = performance.now() - t0;
  document.body.dataset.filterDone = String(Date.now());
}

async function main() {
  mark('script');
  let timer = null;
  $('q').addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(onFilter, 150); });
  for (const id of ['f-failed', 'f-oauth', 'f-hide-other']) $(id).addEventListener('change', onFilter);
  await refresh();
  perf.firstPaint = performance.now();
  document.body.dataset.ready = '1';
  connect();
}

main();

// errorKind names who reported an exchange's error: a browser's capture
// (flow.BrowserReportedPrefix), the client leaving (flow.ClientAbortedPrefix)
// or the way upstream (the proxy's own error text).
function errorKind(e) {
  if (e.startsWith('the browser reported ')) return 'browser error';
  if (e.startsWith('oauthproxy: client aborted: ')) return 'client left';
  return 'upstream error';
}

// errorText is an exchange's error as the detail panel says it.
function errorText(e) {
  const k = errorKind(e);
  if (k === 'browser error') return e;
  if (k === 'client left') return 'the client left: ' + e.slice('oauthproxy: client aborted: '.length);
  return 'upstream error: ' + e;
}
