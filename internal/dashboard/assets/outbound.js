// Third-party APIs our services call (GET /api/v1/outbound): the list and
// one API with its operations and its API10:2023 links.

import { get } from './api.js';
import { h, clear, num, time, sev, tag, table, facts } from './dom.js';
import {
  listView, title, errorBlock, hashWith, opt, alertTable, findingTable, announce, showError,
} from './views.js';

function api10Cell(a) {
  const r = a.api10 || {};
  return r.relevant ? sev(r.severity || 'info') : h('span', { class: 'muted' }, 'not relevant');
}

function tlsCell(t) {
  const tls = t || {};
  const schemes = (tls.schemes || []).join(', ') || '—';
  return tls.plaintext ? [tag('clear text', 'bad'), ' ', schemes] : schemes;
}

function list(xs) {
  return xs && xs.length ? xs.join(', ') : h('span', { class: 'muted' }, 'none');
}

export function outboundListView(main, params, ctx) {
  return listView(main, params, ctx, {
    title: 'Third-party APIs', route: 'outbound', path: '/outbound', noun: 'third-party APIs',
    filters: [
      { name: 'q', label: 'Search host', placeholder: 'e.g. payments' },
      { name: 'api10', label: 'API10 relevance', options: [opt('', 'any'), opt('relevant', 'relevant only')] },
      { name: 'destination', label: 'Destination', options: [opt('', 'any'), opt('external'), opt('internal')] },
      {
        name: 'sort', label: 'Sort by', default: 'api10',
        options: [opt('api10', 'API10 relevance (highest first)'), opt('requests', 'calls (most first)'), opt('last_seen', 'last call (newest first)')],
      },
    ],
    render: (items, st) => table(null, [
      { label: 'Host', rowHeader: true, cls: 'path' }, { label: 'API10' }, { label: 'Calls', num: true }, { label: 'Operations', num: true },
      { label: 'TLS' }, { label: 'Auth sent' }, { label: 'Data sent' }, { label: 'Data received' }, { label: 'Destination' }, { label: 'Last call' },
    ], items.map((a) => [
      h('a', { href: '#/outbound/' + encodeURIComponent(a.id) }, a.host), api10Cell(a), num(a.requests), num((a.operations || []).length),
      tlsCell(a.tls), list(a.auth_sent), list(a.data_sent), list(a.data_received),
      a.destination === 'internal' ? tag('internal') : tag('external'), time(a.last_seen),
    ]), {
      sortCol: { api10: 'API10', requests: 'Calls', last_seen: 'Last call' }[st.sort || 'api10'],
      empty: 'No third-party API matches these filters. Third-party APIs are hosts seen only in outbound records (direction "outbound").',
    }),
  });
}

// dataOf lists the data classes of an operation sent (request side) or
// received (response side).
function dataOf(op, received) {
  const types = new Set();
  for (const d of op.sensitive_data || []) {
    if (d.masked || d.type === 'ip_address') continue;
    if (d.location.startsWith('response.') === received) types.add(d.type);
  }
  return list([...types].sort());
}

export async function outboundView(main, id, ctx) {
  const h1 = title(main, 'Third-party API', [['Third-party APIs', '#/outbound'], ['Third-party API']]);
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  main.append(body);
  let a;
  try {
    a = await get('/outbound/' + encodeURIComponent(id), null, ctx.signal);
  } catch (err) {
    clear(body).append(errorBlock(err));
    body.removeAttribute('aria-busy');
    return h1;
  }
  h1.textContent = a.host;
  const r = a.api10 || {};
  const codes = Object.entries(a.status_codes || {}).sort();
  const alertsBox = h('div', {}, h('p', {}, (r.alerts || []).length ? 'Loading linked alerts…' : 'No alert on its operations.'));
  const findingsBox = h('div', {}, h('p', {}, (r.findings || []).length ? 'Loading linked findings…' : 'No posture finding on our calls.'));
  const ops = a.operations || [];
  clear(body).append(
    h('div', { class: 'grid2' },
      h('section', { 'aria-labelledby': 'ob-sum' }, h('h2', { id: 'ob-sum' }, 'Summary'), facts([
        ['Destination', a.destination === 'internal' ? 'internal (internal address or name)' : 'external'],
        ['Calls', num(a.requests)],
        ['Operations', num(ops.length)],
        ['First call', time(a.first_seen)],
        ['Last call', time(a.last_seen)],
        ['TLS', [tlsCell(a.tls), (a.tls && a.tls.ports && a.tls.ports.length) ? ` · port ${a.tls.ports.join(', ')}` : '']],
        ['Clear-text operations', a.tls && a.tls.plaintext_operations ? a.tls.plaintext_operations.join(', ') : null],
        ['Auth sent (scheme, never the secret)', list(a.auth_sent)],
        ['Data sent', list(a.data_sent)],
        ['Data received', list(a.data_received)],
        ['Status codes', codes.length ? codes.map(([c, n]) => `${c}: ${num(n)}`).join(', ') : null],
      ])),
      h('section', { class: 'panel', 'aria-labelledby': 'ob-api10' }, h('h2', { id: 'ob-api10' }, 'OWASP API10:2023 — unsafe consumption'),
        h('p', {}, r.relevant ? ['Relevant: ', sev(r.severity || 'info')] : 'Not relevant: no consumption alert, no finding on our calls, no clear-text call to it, no sensitive data sent.'),
        (r.reasons || []).length ? h('ul', { id: 'ob-reasons' }, r.reasons.map((x) => h('li', {}, x))) : null)),
    h('section', { 'aria-labelledby': 'ob-ops' }, h('h2', { id: 'ob-ops' }, 'Operations our services call'),
      table(null, [{ label: 'Operation', rowHeader: true, cls: 'path' }, { label: 'Calls', num: true }, { label: 'Auth sent' },
        { label: 'Schemes' }, { label: 'Data sent' }, { label: 'Data received' }, { label: 'Latency p50 / p99' }, { label: 'Callers (est.)', num: true },
        { label: 'Status codes' }, { label: 'Last call' }],
      ops.map((op) => [`${op.method} ${op.path}`, num(op.requests), list(op.auth_sent), (op.schemes || []).join(', ') || '—',
        dataOf(op, false), dataOf(op, true), op.latency_ms ? `${op.latency_ms.p50} / ${op.latency_ms.p99} ms` : '—',
        op.callers ? num(op.callers) : '—', Object.entries(op.status_codes || {}).sort().map(([c, n]) => `${c}: ${num(n)}`).join(', '),
        time(op.last_seen)]), { empty: 'No operation.' })),
    h('section', { 'aria-labelledby': 'ob-params' }, h('h2', { id: 'ob-params' }, 'Parameters sent'),
      table(null, [{ label: 'Operation', cls: 'path' }, { label: 'Name', rowHeader: true, cls: 'mono' }, { label: 'In' }, { label: 'Type' },
        { label: 'Examples (redacted)' }],
      ops.flatMap((op) => (op.parameters || []).map((p) => [`${op.method} ${op.path}`, p.name, p.in, p.type + (p.format ? ` (${p.format})` : ''),
        h('span', { class: 'mono' }, (p.examples_redacted || []).join(', '))])), { empty: 'No parameter observed.' })),
    h('section', { 'aria-labelledby': 'ob-alerts' }, h('h2', { id: 'ob-alerts' }, 'Alerts on its operations'), alertsBox),
    h('section', { 'aria-labelledby': 'ob-findings' }, h('h2', { id: 'ob-findings' }, 'Posture findings on our calls'), findingsBox),
  );
  body.removeAttribute('aria-busy');
  announce(`Third-party API ${a.host} loaded: ${r.relevant ? 'relevant to API10, ' + r.severity : 'not relevant to API10'}.`);
  const alertIDs = (r.alerts || []).slice(0, 50);
  const findingIDs = new Set(r.findings || []);
  Promise.all([
    alertIDs.length ? Promise.all(alertIDs.map((aid) => get('/alerts/' + encodeURIComponent(aid), null, ctx.signal).catch((err) => {
      if (err.name === 'AbortError') throw err;
      return null; // erased or expired since the snapshot
    }))).then((list) => clear(alertsBox).append(alertTable(list.filter(Boolean)))) : null,
    findingIDs.size ? Promise.all(ops.slice(0, 50).map((op) => get('/findings', { endpoint: `${op.method} ${a.host}${op.path}`, limit: 50 }, ctx.signal)))
      .then((pages) => clear(findingsBox).append(findingTable(pages.flatMap((p) => (p.items || []).filter((f) => findingIDs.has(f.id)))))) : null,
  ]).catch((err) => { if (err.name !== 'AbortError') showError(err); });
  return h1;
}
