// Investigation views: search, the attacker view of a client address or
// identity, incidents, finding triage and groups, probes and API changes.

import { get, request, can, currentSession } from './api.js';
import { h, clear, num, time, sev, tag, table, facts, endpointKey, pathText } from './dom.js';
import { timeSeries, chartSrc } from './charts.js';
import {
  announce, title, errorBlock, hashWith, listView, opt, alertTable, statusTag, subjectHref, findingStatus,
  FINDING_ACTIONS, findingTable, triageForm,
} from './views.js';
import { owaspList, PHASES } from './catalog.js';

function loading(main) {
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  main.append(body);
  return body;
}

// fill replaces an element's content with nodes (null and false skipped).
function fill(el, ...nodes) {
  clear(el).append(...nodes.flat(Infinity).filter((x) => x !== null && x !== undefined && x !== false));
}

function done(body) {
  body.removeAttribute('aria-busy');
}

// ---- search ----

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export async function searchView(main, params, ctx) {
  const q = (params.get('q') || '').trim();
  const h1 = title(main, q ? `Search: ${q}` : 'Search');
  const body = loading(main);
  if (!q) {
    fill(body, h('p', {}, 'Type a client address, an identity (name or id) or a path in the search box.'));
    done(body);
    return h1;
  }
  let subjects, endpoints;
  try {
    [subjects, endpoints] = await Promise.all([
      get('/subjects', { q, limit: 50 }, ctx.signal), get('/endpoints', { q, limit: 50 }, ctx.signal)]);
  } catch (err) {
    fill(body, errorBlock(err));
    done(body);
    return h1;
  }
  const direct = IPV4.test(q) || q.includes(':') ? h('p', {}, h('a', { href: subjectHref('client', q), id: 'search-direct' }, `Open the attacker view of client ${q}`))
    : q.startsWith('id_') ? h('p', {}, h('a', { href: subjectHref('identity', q), id: 'search-direct' }, `Open the attacker view of identity ${q}`)) : null;
  fill(body, 
    direct,
    h('section', { 'aria-labelledby': 'se-sub' }, h('h2', { id: 'se-sub' }, 'Client addresses and identities'),
      table(null, [{ label: 'Subject', rowHeader: true }, { label: 'Kind' }, { label: 'Requests', num: true }, { label: 'First seen' }, { label: 'Last seen' }],
        (subjects.items || []).map((s) => [h('a', { href: subjectHref(s.kind, s.id) }, s.name ? `${s.name} (${s.id})` : s.id), s.kind,
          num(s.requests), time(s.first_seen), time(s.last_seen)]),
        { empty: 'No stored activity matches (only the most active subjects and those alerts name are kept).' })),
    h('section', { 'aria-labelledby': 'se-ep' }, h('h2', { id: 'se-ep' }, 'Endpoints'),
      table(null, [{ label: 'Endpoint', rowHeader: true, cls: 'path' }, { label: 'Requests', num: true }, { label: 'Last seen' }],
        (endpoints.items || []).map((e) => [h('a', { href: '#/endpoints/' + encodeURIComponent(e.id) }, pathText(`${e.method} ${e.host}${e.path}`)),
          num(e.requests), time(e.last_seen)]), { empty: 'No endpoint matches.' })));
  done(body);
  announce(`Search loaded: ${(subjects.items || []).length} subjects, ${(endpoints.items || []).length} endpoints.`);
  return h1;
}

// ---- attacker view ----

function peerTable(kind, peers, other) {
  const rows = (peers || []).map((p) => [h('a', { href: subjectHref(kind, p.id) }, p.name ? `${p.name} (${p.id})` : p.id), num(p.requests), time(p.last_seen)]);
  if (other) rows.push([h('span', { class: 'muted' }, 'others (not kept)'), num(other), '—']);
  return table(null, [{ label: kind === 'client' ? 'Address' : 'Identity', rowHeader: true }, { label: 'Requests', num: true }, { label: 'Last seen' }],
    rows, { empty: kind === 'client' ? 'No address recorded.' : 'No identity seen from this address (anonymous requests).' });
}

export async function subjectView(main, kind, id, ctx) {
  const label = kind === 'identity' ? 'Identity' : 'Client';
  const h1 = title(main, `${label} ${id}`, [['Search', hashWith('search', { q: id })], [`${label} ${id}`]]);
  const body = loading(main);
  let s;
  try {
    s = await get(`/subjects/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`, null, ctx.signal);
  } catch (err) {
    fill(body, errorBlock(err));
    done(body);
    return h1;
  }
  const a = s.activity;
  if (a && a.name) h1.textContent = `${label} ${a.name} (${id})`;
  const incBox = h('div', {}, h('p', {}, 'Loading incidents…'));
  const hours = a ? (a.hours || []).map((x) => ({ time: new Date(x.hour * 1000).toISOString(), requests: x.requests })) : [];
  const status = a && a.status ? Object.entries(a.status).sort().map(([k, v]) => `${k}: ${num(v)}`).join(', ') : null;
  const dataRows = [];
  if (a) {
    for (const c of a.data_classes || []) dataRows.push([c, 'seen in the answers to this subject', '—']);
    for (const c of a.endpoint_data_classes || []) {
      dataRows.push([c.type, 'returned by endpoints it called successfully', h('ul', { class: 'plain' }, c.endpoints.map((e) => h('li', {}, pathText(e))))]);
    }
  }
  fill(body, 
    a ? null : h('p', { class: 'note' }, 'No traffic summary is stored for this subject (only the most active subjects and those alerts name are kept, for the client-address retention period); its alerts follow.'),
    a ? h('div', { class: 'grid2' },
      h('section', { 'aria-labelledby': 'sj-sum' }, h('h2', { id: 'sj-sum' }, 'Summary'), facts([
        ['Kind', kind === 'identity' ? 'identity (principal)' : 'client address'],
        ['Name', a.name],
        ['First seen', time(a.first_seen)],
        ['Last seen', time(a.last_seen)],
        ['Requests (kept hours)', num(s.activity.requests)],
        ['Answers by status class', status],
        ['Endpoints touched', num((a.endpoints || []).length) + (a.endpoints_other ? ` (+ ${num(a.endpoints_other)} requests to others)` : '')],
        ['Alerts', num(s.alerts.length) + (s.more_alerts ? '+' : '')],
      ])),
      h('section', { 'aria-labelledby': 'sj-peers' }, h('h2', { id: 'sj-peers' }, kind === 'identity' ? 'Addresses it used' : 'Identities seen from this address'),
        kind === 'identity' ? peerTable('client', a.addresses, a.addresses_other) : peerTable('identity', a.identities, a.identities_other))) : null,
    a ? h('section', { class: 'panel', 'aria-labelledby': 'sj-traffic' }, h('h2', { id: 'sj-traffic' }, 'Requests over time'),
      timeSeries(hours, { title: 'Requests per hour from this subject', src: chartSrc('subject.svg', { kind, id }) })) : null,
    h('section', { 'aria-labelledby': 'sj-inc' }, h('h2', { id: 'sj-inc' }, 'Incidents'), incBox),
    h('section', { 'aria-labelledby': 'sj-alerts' }, h('h2', { id: 'sj-alerts' }, 'Alerts'), alertTable(s.alerts, { empty: 'No alert names this subject.' }),
      s.more_alerts ? h('p', {}, h('a', { href: hashWith('alerts', { status: 'any', [kind === 'client' ? 'client_ip' : 'identity']: id }) }, 'More alerts')) : null),
    a ? h('section', { 'aria-labelledby': 'sj-eps' }, h('h2', { id: 'sj-eps' }, 'Endpoints touched'),
      table(null, [{ label: 'Endpoint', rowHeader: true, cls: 'path' }, { label: 'Requests', num: true }, { label: 'Errors (4xx/5xx)', num: true },
        { label: 'First seen' }, { label: 'Last seen' }],
      (a.endpoints || []).map((e) => [h('a', { href: hashWith('endpoints', { q: e.path, host: e.host }) }, pathText(endpointKey(e))),
        num(e.requests), num(e.errors), time(e.first_seen), time(e.last_seen)]), { empty: 'None recorded.' })) : null,
    a ? h('section', { 'aria-labelledby': 'sj-data' }, h('h2', { id: 'sj-data' }, 'Data classes returned'),
      table(null, [{ label: 'Data class', rowHeader: true }, { label: 'How it is known' }, { label: 'Endpoints' }], dataRows,
        { empty: 'No sensitive data class found in what this subject received.' })) : null,
  );
  done(body);
  announce(`${label} ${id} loaded.`);
  get('/incidents', { q: id, min_alerts: 1, limit: 50 }, ctx.signal).then((p) => clear(incBox).append(incidentTable(p.items || [])))
    .catch((err) => { if (err.name !== 'AbortError') clear(incBox).append(errorBlock(err)); });
  return h1;
}

// ---- incidents ----

function stagesText(inc) {
  const names = (inc.stages || []).map((s) => s.phase);
  return h('span', { class: 'stages' }, names.map((n, i) => [i ? h('span', { 'aria-hidden': 'true' }, ' → ') : null,
    i ? h('span', { class: 'visually-hidden' }, ' then ') : null, h('span', { class: 'phase phase-' + n }, n)]),
  inc.kill_chain ? [' ', tag('kill chain', 'bad')] : null);
}

function subjectLink(sub) {
  if (!sub || !sub.id) return '—';
  return [sub.kind + ' ', h('a', { href: subjectHref(sub.kind, sub.id) }, sub.name ? `${sub.name} (${sub.id})` : sub.id)];
}

export function incidentTable(items) {
  return table(null, [
    { label: 'Severity' }, { label: 'Incident', rowHeader: true }, { label: 'Subject' }, { label: 'Phases' },
    { label: 'Alerts', num: true }, { label: 'Status' }, { label: 'Last seen' },
  ], items.map((i) => [
    sev(i.severity), h('a', { href: '#/incidents/' + encodeURIComponent(i.id) }, i.title), subjectLink(i.subject), stagesText(i),
    num((i.alert_ids || []).length), statusTag(i.status), time(i.last_seen),
  ]), { empty: 'No incident matches these filters.' });
}

export function incidentsView(main, params, ctx) {
  return listView(main, params, ctx, {
    title: 'Incidents', route: 'incidents', path: '/incidents', noun: 'incidents',
    filters: [
      {
        name: 'status', label: 'Status', default: 'open', toAPI: (v) => (v === 'any' ? '' : v),
        options: [opt('open'), opt('acknowledged'), opt('resolved'), opt('false_positive', 'false positive'), opt('open,acknowledged', 'open or acknowledged'), opt('any')],
      },
      { name: 'min_alerts', label: 'Alerts at least', default: '2', options: [opt('1', '1 (single alerts too)'), opt('2'), opt('3'), opt('5')] },
      { name: 'q', label: 'Subject (address or identity)', placeholder: 'e.g. 203.0.113.9' },
    ],
    render: (items) => [h('p', { class: 'muted' }, 'Related alerts of one client address or identity, overlapping or less than an hour apart, in kill-chain order (rules in the dashboard documentation).'),
      incidentTable(items)],
  });
}

export async function incidentView(main, id, ctx) {
  const h1 = title(main, 'Incident', [['Incidents', '#/incidents'], ['Incident']]);
  const body = loading(main);
  let inc;
  try {
    inc = await get('/incidents/' + encodeURIComponent(id), null, ctx.signal);
  } catch (err) {
    fill(body, errorBlock(err));
    done(body);
    return h1;
  }
  h1.textContent = inc.title;
  const ordered = [...(inc.stages || [])].sort((a, b) => PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase));
  fill(body, 
    h('p', {}, sev(inc.severity), ' ', statusTag(inc.status), ' ', h('span', { class: 'muted' }, inc.id)),
    h('div', { class: 'grid2' },
      h('section', { 'aria-labelledby': 'in-sum' }, h('h2', { id: 'in-sum' }, 'Summary'), facts([
        ['Status', h('span', { id: 'incident-status' }, (inc.status || 'open').replace('_', ' '))],
        ['Subject', subjectLink(inc.subject)],
        ['Addresses', (inc.clients || []).length ? h('ul', { class: 'plain' }, inc.clients.map((c) => h('li', {}, h('a', { href: subjectHref('client', c) }, c)))) : null],
        ['Identities', (inc.identities || []).length ? h('ul', { class: 'plain' }, inc.identities.map((i) => h('li', {},
          h('a', { href: subjectHref('identity', i.id) }, i.name ? `${i.name} (${i.id})` : i.id)))) : null],
        ['First seen', time(inc.first_seen)],
        ['Last seen', time(inc.last_seen)],
        ['Events', num(inc.events)],
        ['Alerts by status', Object.entries(inc.statuses || {}).map(([k, v]) => `${k.replace('_', ' ')}: ${v}`).join(', ')],
        ['OWASP API Top 10', owaspList(inc.owasp)],
      ])),
      incidentTriage(inc, ctx)),
    h('section', { 'aria-labelledby': 'in-chain' }, h('h2', { id: 'in-chain' }, 'Kill chain'),
      h('p', {}, inc.kill_chain ? 'The phases follow the kill-chain order: each started no earlier than the one before.'
        : ordered.length > 1 ? 'Several phases, not in kill-chain order.' : 'One phase.'),
      h('ol', { class: 'chain' }, ordered.map((s) => h('li', { class: 'phase-' + s.phase },
        h('strong', {}, s.phase), ` — ${s.alerts} alert${s.alerts === 1 ? '' : 's'}: `, h('span', { class: 'mono' }, s.types.join(', ')),
        h('br'), time(s.first_seen), ' to ', time(s.last_seen))))),
    h('section', { 'aria-labelledby': 'in-alerts' }, h('h2', { id: 'in-alerts' }, 'Alerts'), alertTable(inc.alerts || [])),
    (inc.endpoints || []).length ? h('section', { 'aria-labelledby': 'in-eps' }, h('h2', { id: 'in-eps' }, 'Endpoints'),
      h('ul', { class: 'plain' }, inc.endpoints.map((e) => h('li', {}, h('a', { href: hashWith('alerts', { endpoint: endpointKey(e), status: 'any' }) }, pathText(endpointKey(e))))))) : null,
  );
  done(body);
  announce(`Incident loaded: ${(inc.alert_ids || []).length} alerts, ${inc.status}.`);
  return h1;
}

const INCIDENT_ACTIONS = [
  ['acknowledge', 'Acknowledge all', 'You are looking into it.'],
  ['resolve', 'Resolve all', 'Fixed; new activity reopens each alert.'],
  ['false_positive', 'Mark all false positive', 'Suppresses each alert\'s type + subject + endpoint; a reason is required.'],
  ['reopen', 'Reopen all', 'Back to open; removes their suppressions.'],
];

function incidentTriage(inc, ctx) {
  const sec = h('section', { class: 'panel', 'aria-labelledby': 'in-triage' }, h('h2', { id: 'in-triage' }, 'Triage the whole incident'));
  if (!can('triage')) {
    sec.append(h('p', {}, `Your role (${currentSession()?.role || 'none'}) may read incidents but not triage them. Analysts and admins can.`));
    return sec;
  }
  sec.append(h('p', { class: 'muted' }, `One action for its ${(inc.alert_ids || []).length} alerts; each alert keeps its own history.`),
    triageForm({
      idp: 'incident-triage', actions: INCIDENT_ACTIONS, reasonRequired: (a) => a === 'false_positive',
      onSubmit: async (body) => {
        const res = await request('/incidents/' + encodeURIComponent(inc.id) + '/triage', { method: 'POST', body });
        const label = INCIDENT_ACTIONS.find(([v]) => v === body.action)[1].toLowerCase();
        const text = `${res.triaged} alerts triaged (${label}); the incident is now ${res.incident.status.replace('_', ' ')}.`;
        announce(text);
        ctx.rerender(text);
      },
    }));
  if (ctx.flash) sec.append(h('p', { class: 'ok', id: 'triage-done' }, ctx.flash));
  return sec;
}

// ---- findings: detail and groups ----

export async function findingView(main, id, ctx) {
  const h1 = title(main, 'Finding', [['Findings', '#/findings'], ['Finding']]);
  const body = loading(main);
  let f;
  try {
    f = await get('/findings/' + encodeURIComponent(id), null, ctx.signal);
  } catch (err) {
    fill(body, errorBlock(err));
    done(body);
    return h1;
  }
  h1.textContent = f.title;
  const t = f.triage || {};
  const key = f.endpoint ? endpointKey(f.endpoint) : '';
  fill(body, 
    h('p', {}, sev(f.severity), ' ', findingStatus(f), ' ', h('span', { class: 'mono' }, f.rule), ' · ', h('span', { class: 'muted' }, f.id)),
    h('div', { class: 'grid2' },
      h('section', { 'aria-labelledby': 'fd-sum' }, h('h2', { id: 'fd-sum' }, 'Summary'), facts([
        ['Status', h('span', { id: 'finding-status' }, f.status || 'open')],
        ['Risk accepted until', t.expires_at && f.status === 'accepted' ? time(t.expires_at) : null],
        ['Marked fixed at event time', t.fixed_event_clock && (f.status === 'fixed' || f.status === 'verified') ? time(t.fixed_event_clock) : null],
        ['Rule', h('a', { href: hashWith('findings', { rule: f.rule }) }, f.rule)],
        ['Endpoint', key ? h('a', { href: hashWith('endpoints', { q: f.endpoint.path, host: f.endpoint.host }) }, pathText(key)) : null],
        ['Location', f.location ? pathText(`${f.location.file}:${f.location.line || ''}${f.location.column ? ':' + f.location.column : ''}`) : null],
        ['Source', f.source],
        ['OWASP API Top 10', owaspList(f.owasp)],
      ]), h('h3', {}, 'Message'), h('p', {}, f.message || '—'), h('h3', {}, 'Remediation'), h('p', {}, f.remediation || '—')),
      findingTriage(f, ctx)),
    f.evidence ? h('section', { 'aria-labelledby': 'fd-ev' }, h('h2', { id: 'fd-ev' }, 'Evidence'),
      table(null, [{ label: 'Key', rowHeader: true, cls: 'mono' }, { label: 'Value' }],
        Object.entries(f.evidence).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, typeof v === 'object' ? h('pre', {}, JSON.stringify(v, null, 2)) : String(v)]))) : null,
    h('section', { 'aria-labelledby': 'fd-hist' }, h('h2', { id: 'fd-hist' }, 'Triage history'),
      table(null, [{ label: 'Time' }, { label: 'Actor', cls: 'mono' }, { label: 'Action' }, { label: 'From → to' }, { label: 'Reason' }],
        (f.history || []).map((e) => [time(e.at), e.actor, e.action, `${e.from} → ${e.to}`, e.reason || '']), { empty: 'Not triaged yet.' })),
  );
  done(body);
  announce(`Finding loaded: ${f.status}.`);
  return h1;
}

function findingTriage(f, ctx) {
  const sec = h('section', { class: 'panel', 'aria-labelledby': 'fd-triage' }, h('h2', { id: 'fd-triage' }, 'Triage'));
  if (!can('triage')) {
    sec.append(h('p', {}, `Your role (${currentSession()?.role || 'none'}) may read findings but not triage them. Analysts and admins can.`));
    return sec;
  }
  sec.append(triageForm({
    idp: 'finding-triage', actions: FINDING_ACTIONS, reasonRequired: (a) => a === 'accept_risk', expiry: (a) => a === 'accept_risk',
    onSubmit: async (body) => {
      const res = await request('/findings/' + encodeURIComponent(f.id) + '/triage', { method: 'POST', body });
      const text = `Finding is now ${res.status === 'accepted' ? 'risk accepted' : res.status}.`;
      announce(text);
      ctx.rerender(text);
    },
  }));
  if (ctx.flash) sec.append(h('p', { class: 'ok', id: 'triage-done' }, ctx.flash));
  return sec;
}

export async function findingGroupsView(main, params, ctx) {
  const by = params.get('by') === 'endpoint' ? 'endpoint' : 'rule';
  const h1 = title(main, by === 'rule' ? 'Findings by rule' : 'Findings by endpoint', [['Findings', '#/findings'], [by === 'rule' ? 'By rule' : 'By endpoint']]);
  main.append(h('nav', { class: 'tabs', 'aria-label': 'Finding views' }, h('ul', {},
    h('li', {}, h('a', { href: '#/findings' }, 'List')),
    h('li', {}, h('a', { href: '#/findings/groups?by=rule', 'aria-current': by === 'rule' ? 'page' : null }, 'By rule')),
    h('li', {}, h('a', { href: '#/findings/groups?by=endpoint', 'aria-current': by === 'endpoint' ? 'page' : null }, 'By endpoint')))));
  const body = loading(main);
  let g;
  try {
    g = await get('/findings/groups', { by }, ctx.signal);
  } catch (err) {
    fill(body, errorBlock(err));
    done(body);
    return h1;
  }
  const st = (m, k) => (m[k] ? num(m[k]) : '0');
  fill(body, table(null, [
    { label: 'Severity' }, { label: by === 'rule' ? 'Rule' : 'Endpoint', rowHeader: true, cls: by === 'rule' ? '' : 'path' },
    { label: 'Findings', num: true }, { label: 'Open', num: true }, { label: 'Risk accepted', num: true }, { label: 'Fixed, awaiting traffic', num: true },
  ], (g.items || []).map((x) => {
    const href = hashWith('findings', by === 'rule' ? { rule: x.key } : { endpoint: x.key });
    const label = by === 'rule' ? [h('span', { class: 'mono' }, x.key), ' ', x.title] : (x.key ? pathText(x.key) : 'no endpoint (spec or gateway)');
    return [sev(x.severity), h('a', { href }, label), num(x.count), st(x.statuses, 'open'), st(x.statuses, 'accepted'), st(x.statuses, 'fixed')];
  }), { empty: 'No finding.' }));
  done(body);
  announce(`${(g.items || []).length} groups.`);
  return h1;
}

// ---- probes and API changes ----

const PROBE_REASONS = {
  not_found: 'only ever answered 404',
  denied: 'only denied (401/403/404/405)',
  reconnaissance: 'only reconnaissance sources called it',
  metadata: 'instance-metadata host',
};

export function probesView(main, params, ctx) {
  const h1 = listView(main, params, ctx, {
    title: 'Probes and API changes', route: 'changes', path: '/probes', noun: 'probes',
    filters: [
      { name: 'reason', label: 'Why it is a probe', options: [opt('', 'any'), ...Object.entries(PROBE_REASONS).map(([k, v]) => opt(k, v))] },
      { name: 'q', label: 'Search host or path', placeholder: 'e.g. /admin' },
    ],
    render: (items) => [h('h2', { id: 'pr-list' }, 'Probes'),
      h('p', { class: 'muted' }, 'Operations that were called but are not endpoints of the inventory (kept out of the inventory and the OpenAPI export until legitimate traffic uses them).'),
      table(null, [{ label: 'Operation', rowHeader: true, cls: 'path' }, { label: 'Requests', num: true }, { label: 'Why' }],
        items.map((p) => [pathText(`${p.method} ${p.host}${p.path}`), num(p.requests), PROBE_REASONS[p.reason] || p.reason || '—']),
        { empty: 'No probe matches these filters.' })],
  });
  const changes = h('section', { 'aria-labelledby': 'ch-list' }, h('h2', { id: 'ch-list' }, 'API changes'), h('p', {}, 'Loading…'));
  h1.after(changes);
  get('/api-changes', { limit: 100 }, ctx.signal).then((p) => {
    clear(changes).append(h('h2', { id: 'ch-list' }, 'API changes'),
      h('p', { class: 'muted' }, 'Population-wide changes of an endpoint\'s contract (newest first, 100 shown).'),
      table(null, [{ label: 'Time' }, { label: 'Endpoint', rowHeader: true, cls: 'path' }, { label: 'Change' }, { label: 'Detail' }],
        (p.items || []).map((c) => [time(c.time), pathText(endpointKey(c.endpoint)), (c.kind || '').replaceAll('_', ' '), c.detail || '']),
        { empty: 'No API change recorded.' }));
  }).catch((err) => { if (err.name !== 'AbortError') clear(changes).append(errorBlock(err)); });
  return h1;
}

export { findingTable };
