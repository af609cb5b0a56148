// The views. Each renders into <main> and loads only the page it shows:
// lists are paginated and filtered by the server (keyset cursors).

import { get, request, login, can, currentSession, APIError } from './api.js';
import {
  h, clear, num, time, sev, tag, table, facts, value, debounce, endpointKey, pathText, SEVERITIES,
} from './dom.js';
import { timeSeries, bars, chartSrc } from './charts.js';
import { catalog, owaspList, owaspName, typeInfo } from './catalog.js';

export const PAGE = 50;

export function announce(msg) {
  const el = document.getElementById('status');
  el.textContent = '';
  // A fresh text node makes screen readers announce repeated messages too.
  setTimeout(() => { el.textContent = msg; }, 30);
}

export function showError(err) {
  const el = document.getElementById('alert-region');
  el.textContent = err instanceof Error ? err.message : String(err);
  setTimeout(() => { if (el.textContent) el.textContent = ''; }, 8000);
}

export function title(main, text, crumbs) {
  const nodes = [];
  if (crumbs) {
    nodes.push(h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('ol', {}, crumbs.map(([label, href]) => h('li', {}, href ? h('a', { href }, label) : h('span', { 'aria-current': 'page' }, label))))));
  }
  const h1 = h('h1', { tabindex: '-1' }, text);
  nodes.push(h1);
  main.append(...nodes);
  return h1;
}

export function errorBlock(err) {
  return h('p', { class: 'error', role: 'alert' }, err instanceof APIError ? `Error ${err.status}: ${err.message}` : String(err.message || err));
}

export function hashWith(route, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) q.set(k, v);
  const qs = q.toString();
  return '#/' + route + (qs ? '?' + qs : '');
}

// ---- login ----

export function loginView(main, _params, ctx) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
    'aria-describedby': 'token-hint', placeholder: 'pal_…',
  });
  const msg = h('p', { id: 'login-msg', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', id: 'login-submit' }, 'Log in');
  const form = h('form', {
    class: 'login stack', 'aria-labelledby': 'login-title',
    onsubmit: async (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) {
        msg.className = 'error';
        msg.textContent = 'Paste an API token first.';
        input.focus();
        return;
      }
      button.disabled = true;
      msg.className = '';
      msg.textContent = 'Logging in…';
      try {
        await login(token);
        input.value = '';
        ctx.onLogin();
      } catch (err) {
        msg.className = 'error';
        msg.textContent = err.status === 401 ? 'This token is not valid (or was revoked).'
          : err.status === 403 ? err.message : `Login failed: ${err.message}`;
        // Selected, so that pasting the right token replaces the wrong one.
        input.focus();
        input.select();
      } finally {
        button.disabled = false;
      }
    },
  },
  h('h1', { id: 'login-title', tabindex: '-1' }, 'Log in to Palisade'),
  h('div', {}, h('label', { for: 'token' }, 'API token'), input),
  h('p', { class: 'hint', id: 'token-hint' },
    'Paste a viewer, analyst or admin token (palisade token create). It is exchanged for a session cookie and not stored by the browser.'),
  button, msg);
  main.append(form);
  return form.querySelector('h1');
}

// ---- overview ----

export async function overviewView(main, _params, ctx) {
  const h1 = title(main, 'Overview');
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  main.append(body);
  let o;
  try {
    o = await get('/overview', null, ctx.signal);
  } catch (err) {
    clear(body).append(errorBlock(err));
    body.removeAttribute('aria-busy');
    return h1;
  }
  const card = (label, n, href) => h('div', { class: 'card' }, h('dt', {}, label), h('dd', {}, href ? h('a', { href }, num(n)) : num(n)));
  const sevItems = SEVERITIES.filter((s) => s !== 'info' || (o.open_alerts_by_severity || {}).info)
    .map((s) => ({ label: s, value: (o.open_alerts_by_severity || {})[s] || 0, cls: 'bar-' + s, href: hashWith('alerts', { status: 'open', severity: s }) }));
  const owasp = Object.entries(o.open_alerts_by_owasp || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => ({ label: k, value: v }));
  clear(body).append(
    h('section', { 'aria-labelledby': 'ov-inv' }, h('h2', { id: 'ov-inv' }, 'Inventory'),
      h('dl', { class: 'cards' },
        card('APIs (hosts)', o.apis),
        card('Endpoints', o.endpoints, '#/endpoints'),
        card('Unauthenticated', o.unauthenticated, hashWith('endpoints', { authentication: 'none' })),
        card('External', o.external, hashWith('endpoints', { exposure: 'external' })),
        card('With sensitive data', o.sensitive),
        card('Shadow', o.shadow, hashWith('endpoints', { state: 'shadow' })),
        card('Zombie', o.zombie, hashWith('endpoints', { state: 'zombie' })),
        card('Undocumented (host without a spec)', o.undocumented, hashWith('endpoints', { state: 'undocumented' })),
        card('Third-party APIs called', o.outbound_apis, '#/outbound'),
        card('… relevant to API10', o.outbound_api10, hashWith('outbound', { api10: 'relevant' })),
        card('Open alerts', o.open_alerts, hashWith('alerts', { status: 'open' })),
        card('Findings', o.findings, '#/findings'))),
    h('div', { class: 'grid2' },
      h('section', { class: 'panel', 'aria-labelledby': 'ov-sev' }, h('h2', { id: 'ov-sev' }, 'Open alerts by severity'),
        bars(sevItems, { title: 'Open alerts by severity', src: chartSrc('alerts-by-severity.svg') })),
      h('section', { class: 'panel', 'aria-labelledby': 'ov-owasp' }, h('h2', { id: 'ov-owasp' }, 'Open alerts by OWASP API Top 10 category'),
        bars(owasp, { title: 'Open alerts by OWASP category', src: chartSrc('alerts-by-owasp.svg') }), owasp.length ? owaspList(owasp.map((o) => o.label)) : null)),
    h('section', { class: 'panel', 'aria-labelledby': 'ov-traffic' }, h('h2', { id: 'ov-traffic' }, 'Traffic over time'),
      timeSeries(o.traffic || [], { title: 'Requests per hour (event time)', src: chartSrc('traffic.svg') })),
    readinessPanel(ctx),
    h('section', { 'aria-labelledby': 'ov-pipe' }, h('h2', { id: 'ov-pipe' }, 'Pipeline'),
      facts([
        ['Event clock (newest record)', time(o.event_clock)],
        ['Records processed', num(o.records_processed)],
        ['Queue depth', num(o.queue_depth)],
        ['Warm-up finished', o.warm ? 'yes' : 'no (replaying the log; figures are the last stored state)'],
        ['Last snapshot', time(o.last_snapshot)],
      ])));
  body.removeAttribute('aria-busy');
  announce(`Overview loaded: ${num(o.endpoints)} endpoints, ${num(o.open_alerts)} open alerts.`);
  return h1;
}

// readinessPanel shows which detectors still learn (GET /detectors, the
// last checkpoint): one row per detector, what the first learning
// baseline still needs and what the detector does meanwhile.
function readinessPanel(ctx) {
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const panel = h('section', { class: 'panel', id: 'readiness', 'aria-labelledby': 'ov-ready' },
    h('h2', { id: 'ov-ready' }, 'Detector readiness'), body);
  const stateTag = (st) => tag(st, st === 'ready' ? 'ok' : st === 'partial' ? 'warn' : 'bad');
  const needs = (n) => {
    if (!n) return '';
    const parts = [];
    for (const [k, unit] of [['requests', 'requests'], ['windows', 'windows'], ['clients', 'clients'], ['principals', 'principals']]) {
      if (n[k]) parts.push(`${num(n[k])} ${unit}`);
    }
    if (n.hours) parts.push(`${n.hours} h`);
    return parts.join(', ');
  };
  get('/detectors', null, ctx.signal).then((r) => {
    const rows = (r.detectors || []).map((d) => {
      const bs = d.baselines || [];
      const ready = bs.filter((b) => b.state === 'ready').length;
      const first = bs.find((b) => b.state !== 'ready');
      const ttr = bs.map((b) => b.hours_to_ready).filter((x) => typeof x === 'number');
      let still = '—';
      if (first) {
        const miss = first.missing || (first.learning && first.learning[0] && first.learning[0].missing);
        still = `${first.baseline}: ${needs(miss) || 'no scope yet'}. Meanwhile: ${first.while_learning}`;
      }
      return [h('span', { class: 'mono' }, d.detector), stateTag(d.state), `${ready} of ${bs.length}`,
        ttr.length ? `${Math.min(...ttr)} h` : '—', still];
    });
    const summary = r.as_of
      ? h('p', { class: 'muted' }, `As of ${r.as_of.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')} (event time): ${num(r.ready)} ready, ${num(r.partial)} partly ready, ${num(r.learning)} learning.`)
      : h('p', { class: 'muted' }, 'No checkpoint yet: the detectors have seen no traffic.');
    clear(body).append(summary, table('Learning state of each detector', [
      { label: 'Detector', rowHeader: true }, { label: 'State' }, { label: 'Baselines ready' },
      { label: 'First ready after', num: true }, { label: 'Still learning' },
    ], rows, { empty: 'No detector has reported yet.' }));
    body.removeAttribute('aria-busy');
  }).catch((err) => {
    if (err.name === 'AbortError') return;
    clear(body).append(errorBlock(err));
    body.removeAttribute('aria-busy');
  });
  return panel;
}

// ---- paginated list with filters ----

// listView renders a filter form and a table that reloads (debounced) when a
// filter changes, with cursor pagination. Filters and the cursor live in the
// URL fragment (replaceState) so back/forward and reload restore the page.
export function listView(main, params, ctx, spec) {
  const h1 = title(main, spec.title);
  const state = {};
  for (const f of spec.filters) state[f.name] = params.get(f.name) || f.default || '';
  let cursor = params.get('cursor') || '';
  let pageNo = Number(params.get('page') || '1') || 1;
  const results = h('div', { id: 'results', 'aria-busy': 'false' });
  const prev = h('button', { type: 'button', class: 'secondary', id: 'prev-page', 'data-pager': 'prev' }, '← Previous page');
  const next = h('button', { type: 'button', class: 'secondary', id: 'next-page', 'data-pager': 'next' }, 'Next page →');
  const pageLabel = h('span', { class: 'muted' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pagination' }, prev, pageLabel, next);
  // Cursors of the pages already visited under the current filters.
  let cursors = { 1: '' };
  if (pageNo > 1) cursors[pageNo] = cursor;
  let nextCursor = '';
  let seq = 0;
  let inflight = null;
  ctx.signal.addEventListener('abort', () => inflight && inflight.abort(), { once: true });

  const controls = spec.filters.map((f) => {
    const id = 'f-' + f.name;
    let input;
    if (f.options) {
      input = h('select', { id, name: f.name },
        f.options.map((o) => h('option', { value: o[0], selected: state[f.name] === o[0] }, o[1])));
    } else {
      input = h('input', {
        id, name: f.name, type: f.type || 'search', value: state[f.name], placeholder: f.placeholder || '',
        autocomplete: 'off', spellcheck: 'false',
      });
    }
    input.addEventListener(f.options ? 'change' : 'input', f.options ? () => changed(f.name, input) : debounced(f.name, input));
    return h('div', { class: 'field' }, h('label', { for: id }, f.label), input);
  });
  const form = h('form', { class: 'filters', role: 'search', id: 'filters', 'aria-label': spec.title + ' filters', onsubmit: (e) => e.preventDefault() },
    controls, h('button', {
      type: 'button', class: 'secondary', onclick: () => {
        for (const f of spec.filters) {
          state[f.name] = f.default || '';
          form.elements[f.name].value = state[f.name];
        }
        reset();
      },
    }, 'Clear filters'));
  const selected = new Set();
  const before = spec.before ? spec.before(selected) : null;
  main.append(...[form, before, results, pager].filter(Boolean));

  function changed(name, input) {
    const v = input.value.trim();
    if (state[name] === v) return;
    state[name] = v;
    reset();
  }
  function debounced(name, input) {
    return debounce(() => changed(name, input), 300);
  }
  function reset() {
    cursors = { 1: '' };
    cursor = '';
    pageNo = 1;
    load();
  }
  prev.addEventListener('click', () => {
    if (pageNo <= 1) return;
    pageNo--;
    cursor = cursors[pageNo] || '';
    if (cursor === '' && pageNo > 1) pageNo = 1;
    load(true);
  });
  next.addEventListener('click', () => {
    if (!nextCursor) return;
    pageNo++;
    cursor = nextCursor;
    cursors[pageNo] = cursor;
    load(true);
  });

  async function load(focusTable) {
    const my = ++seq;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const signal = inflight.signal;
    const apiParams = { limit: PAGE };
    for (const f of spec.filters) if (state[f.name]) apiParams[f.api || f.name] = f.toAPI ? f.toAPI(state[f.name]) : state[f.name];
    if (cursor) apiParams.cursor = cursor;
    const frag = hashWith(spec.route, { ...Object.fromEntries(spec.filters.map((f) => [f.name, state[f.name] === (f.default || '') ? '' : state[f.name]])), cursor, page: pageNo > 1 ? pageNo : '' });
    if (location.hash !== frag) history.replaceState(null, '', frag);
    results.setAttribute('aria-busy', 'true');
    announce(`Loading ${spec.noun}…`);
    let page;
    try {
      page = await get(spec.path, apiParams, signal);
    } catch (err) {
      if (err.name === 'AbortError' || my !== seq) return;
      clear(results).append(errorBlock(err));
      results.setAttribute('aria-busy', 'false');
      announce(`Could not load ${spec.noun}: ${err.message}`);
      return;
    }
    if (my !== seq) return;
    const items = page.items || [];
    nextCursor = page.next_cursor || '';
    selected.clear();
    const out = spec.render(items, state, selected);
    clear(results).append(...[out].flat().filter(Boolean));
    document.dispatchEvent(new CustomEvent('selection'));
    results.setAttribute('aria-busy', 'false');
    prev.disabled = pageNo <= 1;
    next.disabled = !nextCursor;
    pageLabel.textContent = `Page ${pageNo} · ${items.length} ${spec.noun}${nextCursor ? ' (more on the next page)' : ''}`;
    announce(`Page ${pageNo}: ${items.length} ${spec.noun} shown${nextCursor ? ', more available' : ''}.`);
    if (focusTable) results.querySelector('table, p')?.setAttribute('tabindex', '-1');
    if (focusTable) results.querySelector('table, p')?.focus();
  }
  load();
  return h1;
}

export const opt = (v, label) => [v, label || v];

export function inventoryView(main, params, ctx) {
  return listView(main, params, ctx, {
    title: 'API inventory', route: 'endpoints', path: '/endpoints', noun: 'endpoints',
    filters: [
      { name: 'q', label: 'Search host or path', placeholder: 'e.g. /users' },
      { name: 'host', label: 'Host', placeholder: 'api.example.com' },
      { name: 'state', label: 'State', options: [opt('', 'any'), opt('active'), opt('unused'), opt('shadow'), opt('zombie'), opt('undocumented', 'undocumented (host without a spec)')] },
      { name: 'exposure', label: 'Exposure', options: [opt('', 'any'), opt('external'), opt('internal')] },
      { name: 'authentication', label: 'Authentication', options: [opt('', 'any'), opt('required'), opt('none'), opt('unknown')] },
      { name: 'sensitive', label: 'Sensitive data type', placeholder: 'e.g. email' },
      { name: 'sort', label: 'Sort by', default: 'risk', options: [opt('risk', 'risk (highest first)'), opt('requests', 'requests (most first)'), opt('last_seen', 'last seen (newest first)')] },
    ],
    render: (items, st) => table(null, [
      { label: 'Endpoint', rowHeader: true, cls: 'path' }, { label: 'Host' }, { label: 'Risk', num: true },
      { label: 'Requests', num: true }, { label: 'Authentication' }, { label: 'Exposure' }, { label: 'State' },
      { label: 'Sensitive data' }, { label: 'Last seen' },
    ], items.map((e) => [
      h('a', { href: '#/endpoints/' + encodeURIComponent(e.id) }, `${e.method} ${e.path}`),
      e.host, num(e.risk ? e.risk.score : 0), num(e.requests),
      authTag(e.authentication), e.exposure === 'external' ? tag('external', 'warn') : tag(e.exposure || 'unknown'),
      stateTag(e.state), sensitiveList(e.sensitive_data), time(e.last_seen),
    ]), { sortCol: { risk: 'Risk', requests: 'Requests', last_seen: 'Last seen' }[st.sort || 'risk'], empty: 'No endpoint matches these filters.' }),
  });
}

export function authTag(a) {
  if (a === 'none') return tag('none (unauthenticated)', 'bad');
  if (a === 'required') return tag('required', 'ok');
  return tag(a || 'unknown');
}

export function stateTag(st) {
  return st === 'shadow' || st === 'zombie' || st === 'undocumented' ? tag(st, 'warn') : tag(st || 'unknown');
}

function sensitiveList(sd) {
  if (!sd || !sd.length) return h('span', { class: 'muted' }, 'none');
  const types = [...new Set(sd.map((d) => d.type))];
  return types.slice(0, 4).join(', ') + (types.length > 4 ? ` +${types.length - 4}` : '');
}

// ---- endpoint detail ----

// graphqlSection lists the GraphQL operations an endpoint served (root
// fields by operation type) and the largest requests it answered.
function graphqlSection(g) {
  const ops = g.operations || [];
  const pairs = [
    ['Deepest successful request', g.max_depth ? `${num(g.max_depth)} levels` : null],
    ['Most aliases in one request', g.max_aliases ? num(g.max_aliases) : null],
    ['Largest batch', g.max_batch ? `${num(g.max_batch)} documents` : null],
    ['Most fields in one request', g.max_fields ? num(g.max_fields) : null],
    ['Not listed (table full)', g.dropped ? `${num(g.dropped)} requests for further operations` : null],
  ].filter((p) => p[1] !== null);
  return h('section', { 'aria-labelledby': 'ep-gql' }, h('h2', { id: 'ep-gql' }, 'GraphQL operations'),
    pairs.length ? facts(pairs) : null,
    table(null, [{ label: 'Type' }, { label: 'Root field', rowHeader: true, cls: 'mono' }, { label: 'Requests', num: true },
      { label: 'Errors', num: true }, { label: 'Last seen' }],
    ops.map((o) => [o.type, o.field, num(o.requests), num(o.errors), time(o.last_seen)]), { empty: 'No operation recorded.' }));
}

export async function endpointView(main, id, ctx) {
  const h1 = title(main, 'Endpoint', [['Inventory', '#/endpoints'], ['Endpoint']]);
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  main.append(body);
  let e;
  try {
    e = await get('/endpoints/' + encodeURIComponent(id), null, ctx.signal);
  } catch (err) {
    clear(body).append(errorBlock(err));
    return h1;
  }
  h1.textContent = `${e.method} ${e.host}${e.path}`;
  const key = endpointKey(e);
  const alertsBox = h('div', {}, h('p', {}, 'Loading related alerts…'));
  const findingsBox = h('div', {}, h('p', {}, 'Loading related findings…'));
  const callersBox = h('div', {}, h('p', {}, 'Loading callers…'));
  const codes = Object.entries(e.status_codes || {}).sort();
  clear(body).append(
    h('div', { class: 'grid2' },
      h('section', { 'aria-labelledby': 'ep-sum' }, h('h2', { id: 'ep-sum' }, 'Summary'), facts([
        ['Risk score', h('strong', {}, num(e.risk ? e.risk.score : 0))],
        ['State', stateTag(e.state)],
        ['Authentication', [authTag(e.authentication), (e.auth_schemes || []).length ? ' ' + e.auth_schemes.join(', ') : '']],
        ['Exposure', e.exposure || 'unknown'],
        ['Documented', e.documented === null || e.documented === undefined ? 'no spec loaded'
          : e.documented ? 'yes' : e.state === 'undocumented' ? 'no: no loaded spec covers this host' : 'no: not in the spec of this host'],
        ['Deprecated', e.deprecated ? 'yes' : null],
        ['Requests', num(e.requests)],
        ['Distinct clients (est.)', e.clients ? num(e.clients) : null],
        ['Distinct identities (est.)', e.identities ? num(e.identities) : null],
        ['First seen', time(e.first_seen)],
        ['Last seen', time(e.last_seen)],
        ['Latency p50 / p90 / p99', e.latency_ms ? `${e.latency_ms.p50} / ${e.latency_ms.p90} / ${e.latency_ms.p99} ms` : null],
        ['Status codes', codes.length ? codes.map(([c, n]) => `${c}: ${num(n)}`).join(', ') : null],
        ['Schemes', (e.schemes || []).join(', ')],
      ])),
      h('section', { 'aria-labelledby': 'ep-risk' }, h('h2', { id: 'ep-risk' }, 'Risk factors'),
        table(null, [{ label: 'Factor', rowHeader: true }, { label: 'Points', num: true }, { label: 'Detail' }],
          ((e.risk && e.risk.factors) || []).map((f) => [f.factor, num(f.points), f.detail || '']), { empty: 'No risk factor.' }))),
    h('section', { class: 'panel', 'aria-labelledby': 'ep-traffic' }, h('h2', { id: 'ep-traffic' }, 'Traffic (last 7 days, hourly)'),
      timeSeries(e.traffic || [], { title: 'Requests per hour to this endpoint', src: chartSrc('endpoint.svg', { id: e.id }) })),
    h('section', { 'aria-labelledby': 'ep-params' }, h('h2', { id: 'ep-params' }, 'Parameters'),
      table(null, [{ label: 'Name', rowHeader: true, cls: 'mono' }, { label: 'In' }, { label: 'Type' }, { label: 'Required' },
        { label: 'Seen', num: true }, { label: 'Examples (redacted)' }],
      (e.parameters || []).map((p) => [p.name, p.in, p.type + (p.format ? ` (${p.format})` : ''), p.required ? 'yes' : 'no',
        p.seen ? num(p.seen) : '—', h('span', { class: 'mono' }, (p.examples_redacted || []).join(', '))]), { empty: 'No parameter observed.' })),
    e.graphql ? graphqlSection(e.graphql) : null,
    h('section', { 'aria-labelledby': 'ep-data' }, h('h2', { id: 'ep-data' }, 'Sensitive data'),
      table(null, [{ label: 'Data class', rowHeader: true }, { label: 'Location' }, { label: 'Field', cls: 'mono' },
        { label: 'Confidence', num: true }, { label: 'Masked' }, { label: 'Count', num: true }],
      (e.sensitive_data || []).map((d) => [d.type, d.location, d.field, `${Math.round((d.confidence || 0) * 100)} %`,
        d.masked ? 'yes' : 'no', d.count ? num(d.count) : '—']), { empty: 'No sensitive data classified.' })),
    h('section', { 'aria-labelledby': 'ep-alerts' }, h('h2', { id: 'ep-alerts' }, 'Related alerts'), alertsBox,
      h('p', {}, h('a', { href: hashWith('alerts', { endpoint: key, status: 'any' }) }, 'All alerts on this endpoint'))),
    h('section', { 'aria-labelledby': 'ep-findings' }, h('h2', { id: 'ep-findings' }, 'Related findings'), findingsBox),
    h('section', { 'aria-labelledby': 'ep-callers' }, h('h2', { id: 'ep-callers' }, 'Who called it'),
      h('p', { class: 'muted' }, 'Client addresses and identities with a stored activity summary, most requests to this endpoint first.'), callersBox),
  );
  body.removeAttribute('aria-busy');
  announce(`Endpoint ${key} loaded.`);
  Promise.all([
    get('/alerts', { endpoint: key, limit: 20 }, ctx.signal).then((p) => clear(alertsBox).append(alertTable(p.items || []))),
    get('/findings', { endpoint: key, limit: 50 }, ctx.signal).then((p) => clear(findingsBox).append(findingTable(p.items || []))),
    get('/endpoints/' + encodeURIComponent(id) + '/subjects', { limit: 20 }, ctx.signal).then((p) => clear(callersBox).append(table(null,
      [{ label: 'Subject', rowHeader: true }, { label: 'Kind' }, { label: 'Requests to it', num: true }, { label: 'Errors', num: true }, { label: 'Last seen' }],
      (p.items || []).map((c) => [h('a', { href: subjectHref(c.kind, c.id) }, c.name ? `${c.name} (${c.id})` : c.id), c.kind, num(c.requests), num(c.errors), time(c.last_seen)]),
      { empty: 'No caller with a stored summary.' }))),
  ]).catch((err) => { if (err.name !== 'AbortError') showError(err); });
  return h1;
}

// ---- alerts ----

// alertTable lists alerts; with opts.selected (a Set of ids) each row gets
// a checkbox for bulk triage.
export function alertTable(items, opts = {}) {
  const cols = [
    { label: 'Severity' }, { label: 'Alert', rowHeader: true }, { label: 'Type', cls: 'mono' }, { label: 'Endpoint', cls: 'path' },
    { label: 'Subject' }, { label: 'Count', num: true }, { label: 'Status' }, { label: 'Last seen' },
  ];
  const rows = items.map((a) => [
    sev(a.severity), h('a', { href: '#/alerts/' + encodeURIComponent(a.id) }, a.title || a.type), a.type,
    a.endpoint ? pathText(endpointKey(a.endpoint)) : '—', subject(a), num(a.count), statusTag(a.status), time(a.last_seen),
  ]);
  if (opts.selected) {
    cols.unshift({ label: 'Select' });
    rows.forEach((r, i) => r.unshift(selectBox(opts.selected, items[i].id, `Select alert ${items[i].title || items[i].type} (${items[i].id})`)));
  }
  return table(null, cols, rows, { empty: opts.empty || 'No alert matches these filters.' });
}

function selectBox(selected, id, label) {
  return h('input', {
    type: 'checkbox', class: 'select-row', value: id, 'aria-label': label, checked: selected.has(id),
    onchange: (e) => { if (e.target.checked) selected.add(id); else selected.delete(id); e.target.dispatchEvent(new CustomEvent('selection', { bubbles: true })); },
  });
}

// bulkBar triages the selected rows of a list with one action.
// spec: {noun, path, actions: [[value, label]], reasonRequired(action), expiry(action)}
export function bulkBar(selected, spec, ctx) {
  const count = h('span', { class: 'muted', id: 'bulk-count' }, '0 selected');
  const all = h('input', { type: 'checkbox', id: 'bulk-all' });
  const action = h('select', { id: 'bulk-action', name: 'bulk-action' }, spec.actions.map(([v, l]) => h('option', { value: v }, l)));
  const reason = h('input', { id: 'bulk-reason', name: 'bulk-reason', type: 'text', maxlength: '2000', autocomplete: 'off' });
  const expiry = spec.expiry ? h('input', { id: 'bulk-expiry', name: 'bulk-expiry', type: 'date' }) : null;
  const expiryField = expiry ? h('div', { class: 'field', hidden: true }, h('label', { for: 'bulk-expiry' }, 'Risk accepted until (UTC)'), expiry) : null;
  const msg = h('p', { id: 'bulk-msg', 'aria-live': 'polite' });
  const apply = h('button', { type: 'submit', id: 'bulk-apply' }, `Apply to selected ${spec.noun}`);
  const form = h('form', {
    class: 'bulk', 'aria-label': `Triage selected ${spec.noun}`,
    onsubmit: async (e) => {
      e.preventDefault();
      const ids = [...selected];
      msg.className = 'error';
      if (!ids.length) { msg.textContent = `Select ${spec.noun} first.`; return; }
      const why = reason.value.trim();
      if (spec.reasonRequired && spec.reasonRequired(action.value) && !why) { msg.textContent = 'A reason is required for this action.'; reason.focus(); return; }
      const body = { ids, action: action.value, reason: why };
      if (expiry && spec.expiry(action.value)) {
        if (!expiry.value) { msg.textContent = 'Give the date the acceptance ends.'; expiry.focus(); return; }
        body.expires_at = new Date(expiry.value + 'T23:59:59Z').toISOString().replace('.000Z', 'Z');
      }
      apply.disabled = true;
      msg.className = '';
      msg.textContent = 'Saving…';
      try {
        const res = await request(spec.path, { method: 'POST', body });
        const text = `${res.triaged} ${spec.noun} triaged` + (res.not_found && res.not_found.length ? `, ${res.not_found.length} no longer exist` : '') + '.';
        announce(text);
        ctx.rerender(text);
      } catch (err) {
        msg.className = 'error';
        msg.textContent = `Triage failed: ${err.message}`;
        apply.disabled = false;
      }
    },
  },
  h('div', { class: 'field inline' }, all, h('label', { for: 'bulk-all' }, 'Select all on this page')), count,
  h('div', { class: 'field' }, h('label', { for: 'bulk-action' }, 'Action'), action),
  h('div', { class: 'field grow' }, h('label', { for: 'bulk-reason' }, 'Reason'), reason),
  expiryField, apply, msg);
  if (ctx.flash) form.append(h('p', { class: 'ok', id: 'triage-done' }, ctx.flash));
  const sync = () => {
    count.textContent = `${selected.size} selected`;
    if (expiryField) expiryField.hidden = !spec.expiry(action.value);
  };
  action.addEventListener('change', sync);
  all.addEventListener('change', () => {
    for (const cb of document.querySelectorAll('#results input.select-row')) {
      cb.checked = all.checked;
      if (all.checked) selected.add(cb.value); else selected.delete(cb.value);
    }
    sync();
  });
  document.addEventListener('selection', sync);
  ctx.signal.addEventListener('abort', () => document.removeEventListener('selection', sync), { once: true });
  return form;
}


// subject names who the alert is about: the client address and, when the
// alert carries one, the identity behind the requests (and the reverse for
// identity subjects), each linking to its attacker view.
export function subject(a) {
  const ip = a.client && a.client.ip;
  const idn = a.identity && (a.identity.id || a.identity.name);
  const ipLink = ip ? h('a', { href: subjectHref('client', ip), class: 'nowrap' }, ip) : null;
  const idLink = idn ? h('a', { href: subjectHref('identity', a.identity.id || a.identity.name) }, identityLabel(a.identity)) : null;
  if (a.subject === 'identity' && idLink) return h('span', { class: 'subject' }, 'identity ', idLink, ipLink ? [` from `, ipLink] : null);
  if (ipLink) return h('span', { class: 'subject' }, 'client ', ipLink, idLink ? [' as ', idLink] : null);
  if (idLink) return h('span', { class: 'subject' }, 'identity ', idLink);
  if (a.subject === 'endpoint') return 'endpoint';
  return a.subject || '—';
}

function identityLabel(idn) {
  if (!idn) return '';
  return idn.name && idn.name !== idn.id ? `${idn.name} (${idn.id})` : idn.id;
}

export function subjectHref(kind, id) {
  return '#/subjects/' + encodeURIComponent(kind) + '/' + encodeURIComponent(id);
}

export function statusTag(st) {
  const label = (st || 'open').replace('_', ' ');
  return st === 'open' || !st ? tag(label, 'warn') : tag(label);
}

function toRFC3339(v) {
  // datetime-local has no zone: the dashboard works in UTC.
  return v ? new Date(v + (v.length === 16 ? ':00' : '') + 'Z').toISOString().replace('.000Z', 'Z') : '';
}

export function alertsView(main, params, ctx) {
  return listView(main, params, ctx, {
    title: 'Alerts', route: 'alerts', path: '/alerts', noun: 'alerts',
    filters: [
      {
        name: 'status', label: 'Status', default: 'open', toAPI: (v) => (v === 'any' ? '' : v),
        options: [opt('open'), opt('acknowledged'), opt('resolved'), opt('false_positive', 'false positive'), opt('open,acknowledged', 'open or acknowledged'), opt('any')],
      },
      { name: 'severity', label: 'Severity', options: [opt('', 'any'), opt('critical'), opt('high'), opt('critical,high', 'high or critical'), opt('medium'), opt('low'), opt('info')] },
      { name: 'type', label: 'Type', placeholder: 'e.g. injection.sqli' },
      { name: 'endpoint', label: 'Endpoint (METHOD host/path)', placeholder: 'GET api.example.com/users/{id}' },
      { name: 'client_ip', label: 'Client IP' },
      { name: 'identity', label: 'Identity id', placeholder: 'id_…' },
      { name: 'from', label: 'Last seen from (UTC)', type: 'datetime-local', toAPI: toRFC3339 },
      { name: 'to', label: 'Last seen to (UTC)', type: 'datetime-local', toAPI: toRFC3339 },
      { name: 'sort', label: 'Sort by', default: 'last_seen', options: [opt('last_seen', 'last seen (newest first)'), opt('severity', 'severity (highest first)')] },
    ],
    before: can('triage') ? (sel) => bulkBar(sel, {
      noun: 'alerts', path: '/alerts/triage', actions: ACTIONS.map(([v, l]) => [v, l]),
      reasonRequired: (a) => a === 'false_positive',
    }, ctx) : null,
    render: (items, _st, sel) => alertTable(items, { selected: can('triage') ? sel : null }),
  });
}

const ACTIONS = [
  ['acknowledge', 'Acknowledge', 'You are looking into it; stays acknowledged when it fires again.'],
  ['resolve', 'Resolve', 'Fixed; new activity reopens it.'],
  ['false_positive', 'Mark false positive', 'Suppresses this type + subject + endpoint; a reason is required.'],
  ['reopen', 'Reopen', 'Back to open; removes a suppression.'],
];

export async function alertView(main, id, ctx) {
  const h1 = title(main, 'Alert', [['Alerts', '#/alerts'], ['Alert']]);
  const body = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  main.append(body);
  let a;
  try {
    a = await get('/alerts/' + encodeURIComponent(id), null, ctx.signal);
  } catch (err) {
    clear(body).append(errorBlock(err));
    return h1;
  }
  const cat = await catalog().catch(() => null);
  const info = typeInfo(cat, a.type);
  const words = (cat && cat.details) || {};
  const measures = (info && info.measures) || {};
  h1.textContent = a.title || a.type;
  const ev = a.evidence || {};
  const details = Object.entries(ev.details || {}).sort(([x], [y]) => x.localeCompare(y));
  const incidentBox = h('span', { id: 'alert-incident' }, h('span', { class: 'muted' }, 'looking…'));
  clear(body).append(
    h('p', {}, sev(a.severity), ' ', statusTag(a.status), ' ', h('span', { class: 'mono' }, a.type), ' · ', h('span', { class: 'muted' }, a.id)),
    h('div', { class: 'grid2' },
      h('section', { 'aria-labelledby': 'al-sum' }, h('h2', { id: 'al-sum' }, 'Summary'), facts([
        ['Status', h('span', { id: 'alert-status' }, (a.status || 'open').replace('_', ' '))],
        ['Severity', a.severity],
        ['Confidence', a.confidence !== undefined ? `${Math.round(a.confidence * 100)} %` : null],
        ['Subject', subject(a)],
        ['Endpoint', a.endpoint ? h('a', {
          // consumption alerts are about calls to a third-party API, which
          // is listed with the third-party APIs, not in our inventory
          href: a.type === 'consumption.unsafe_upstream' ? hashWith('outbound', { q: a.endpoint.host })
            : hashWith('endpoints', { q: a.endpoint.path, host: a.endpoint.host }),
        }, pathText(endpointKey(a.endpoint))) : null],
        ['Addresses (events)', (a.clients || []).length ? h('ul', { class: 'plain' }, a.clients.map((c) => h('li', {},
          h('a', { href: subjectHref('client', c.ip) }, c.ip), ` (${num(c.count)})`,
          // new: an address the principal had not used before this alert's evidence
          c.new ? h('span', { class: 'muted' }, ' · new to this principal') : null)),
        a.clients_other ? h('li', { class: 'muted' }, `other addresses: ${num(a.clients_other)} events` +
          (a.clients_other_new ? ` (${num(a.clients_other_new)} from addresses new to the principal)` : '')) : null) : null],
        ['Count', num(a.count)],
        ['First seen', time(a.first_seen)],
        ['Last seen', time(a.last_seen)],
        ['OWASP API Top 10', owaspList(a.owasp)],
        ['Kill-chain phase', info ? info.phase : null],
        ['Incident', incidentBox],
        ['Updated', time(a.updated_at)],
      ])),
      triagePanel(a, ctx)),
    h('section', { 'aria-labelledby': 'al-ev' }, h('h2', { id: 'al-ev' }, 'Evidence'),
      ev.reason ? h('p', {}, ev.reason) : null,
      table(null, [{ label: 'Measure', rowHeader: true }, { label: 'Value' }, { label: 'What it means' }], [
        ['Observed', ev.observed, measures.observed], ['Baseline', ev.baseline, measures.baseline],
        ['Threshold', ev.threshold, measures.threshold], ['Window', ev.window, measures.window],
      ].filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v, m]) => [k, value(v), m || h('span', { class: 'muted' }, '—')]),
      { empty: 'No measured value: this alert is raised by a rule match (see the reason, details and samples).' }),
      ev.details && ev.details.ids_sample ? enumerated(ev.details) : null,
      details.length ? [h('h3', {}, 'Details'), table(null, [{ label: 'Key', rowHeader: true, cls: 'mono' }, { label: 'Value' }, { label: 'What it means' }],
        details.map(([k, v]) => [k, detailValue(v), words[k] || h('span', { class: 'muted' }, 'not documented')]))] : null,
      h('h3', {}, 'Samples (redacted)'),
      table(null, [{ label: 'Time' }, { label: 'Method' }, { label: 'URL', cls: 'path' }, { label: 'Status', num: true },
        { label: 'Client' }, { label: 'Note' }],
      (ev.samples || []).map((s) => [time(s.time), s.method, pathText(s.url), String(s.status || '—'),
        s.client ? h('a', { href: subjectHref('client', s.client) }, s.client) : '—', s.note || '']),
      { empty: 'No sample kept.' })),
    h('section', { 'aria-labelledby': 'al-mitre' }, h('h2', { id: 'al-mitre' }, 'MITRE ATT&CK'),
      table(null, [{ label: 'Tactic' }, { label: 'Technique', rowHeader: true }, { label: 'ID', cls: 'mono' }],
        (a.mitre || []).map((m) => [m.tactic, m.technique, m.technique_id]), { empty: 'No mapping.' })),
    h('section', { 'aria-labelledby': 'al-rem' }, h('h2', { id: 'al-rem' }, 'Remediation'), h('p', {}, a.remediation || '—')),
    h('section', { 'aria-labelledby': 'al-hist' }, h('h2', { id: 'al-hist' }, 'Triage history'),
      table(null, [{ label: 'Time' }, { label: 'Actor', cls: 'mono' }, { label: 'Action' }, { label: 'From → to' }, { label: 'Reason' }],
        (a.history || []).map((t) => [time(t.at), t.actor, t.action, `${t.from} → ${t.to}`, t.reason || '']), { empty: 'Not triaged yet.' })),
  );
  body.removeAttribute('aria-busy');
  announce(`Alert ${a.id} loaded: ${a.severity}, ${a.status || 'open'}.`);
  findIncident(a, ctx.signal).then((inc) => {
    clear(incidentBox).append(inc ? h('a', { href: '#/incidents/' + encodeURIComponent(inc.id), id: 'alert-incident-link' }, inc.title)
      : h('span', { class: 'muted' }, 'none (no related alert of the same subject)'));
  }).catch(() => clear(incidentBox).append(h('span', { class: 'muted' }, 'not available')));
  return h1;
}

// findIncident finds the incident an alert belongs to (incidents of its
// subject, any size).
async function findIncident(a, signal) {
  const q = (a.identity && a.identity.id) || (a.client && a.client.ip);
  if (!q) return null;
  let cursor = '';
  for (let i = 0; i < 5; i++) {
    const page = await get('/incidents', { q, min_alerts: 2, limit: 100, cursor }, signal);
    const inc = (page.items || []).find((x) => (x.alert_ids || []).includes(a.id));
    if (inc) return inc;
    if (!page.next_cursor) return null;
    cursor = page.next_cursor;
  }
  return null;
}

// enumerated shows the identifiers an enumeration requested.
function enumerated(d) {
  return h('div', { class: 'enumerated' }, h('h3', {}, 'Enumerated identifiers'),
    h('p', {}, `Parameter `, h('code', {}, String(d.parameter || '?')), d.in ? ` (in ${d.in})` : '',
      d.id_range ? [', numeric range ', h('code', {}, String(d.id_range))] : '', ':'),
    h('ul', { class: 'chips', 'aria-label': 'Identifiers requested' }, (d.ids_sample || []).map((v) => h('li', {}, h('code', {}, String(v))))));
}

function detailValue(v) {
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object')) return h('span', { class: 'list' }, v.map(String).join(', '));
  return value(v);
}

function triagePanel(a, ctx) {
  const sec = h('section', { class: 'panel', 'aria-labelledby': 'al-triage' }, h('h2', { id: 'al-triage' }, 'Triage'));
  if (!can('triage')) {
    sec.append(h('p', {}, `Your role (${currentSession()?.role || 'none'}) may read alerts but not triage them. Analysts and admins can.`));
    return sec;
  }
  sec.append(triageForm({
    idp: 'triage', actions: ACTIONS, reasonRequired: (x) => x === 'false_positive', disabled: (x) => x === 'reopen' && a.status === 'open',
    hint: 'Required for a false positive; kept in the history and the audit log.',
    onSubmit: async (body) => {
      const res = await request('/alerts/' + encodeURIComponent(a.id) + '/triage', { method: 'POST', body });
      announce(`Alert is now ${res.status.replace('_', ' ')}.`);
      ctx.rerender(`Alert is now ${res.status.replace('_', ' ')}.`);
    },
  }));
  if (ctx.flash) sec.append(h('p', { class: 'ok', id: 'triage-done' }, ctx.flash));
  return sec;
}

// triageForm is the triage form of an alert, an incident or a finding:
// radio buttons for the actions, a reason (required for some actions), an
// end date (for actions that expire), Apply; onSubmit gets the body.
export function triageForm({ idp, actions, onSubmit, reasonRequired, expiry, disabled = () => false, hint = 'Kept in the history and the audit log.' }) {
  const reason = h('textarea', { id: idp + '-reason', name: 'reason', maxlength: '2000', 'aria-describedby': idp + '-reason-hint' });
  const msg = h('p', { id: idp + '-msg', 'aria-live': 'polite' });
  const exp = expiry ? h('input', { id: idp + '-expiry', name: 'expiry', type: 'date' }) : null;
  const expField = exp ? h('div', { hidden: true }, h('label', { for: idp + '-expiry' }, 'Risk accepted until (UTC, end of day)'), exp) : null;
  const submit = h('button', { type: 'submit', id: idp + '-submit' }, 'Apply');
  const radios = actions.map(([v, label, hint]) => h('label', {},
    h('input', { type: 'radio', name: 'action', value: v, required: true, 'aria-describedby': `${idp}-hint-${v}`, disabled: disabled(v) }),
    label, h('span', { class: 'visually-hidden', id: `${idp}-hint-${v}` }, hint)));
  const form = h('form', {
    id: idp + '-form', class: 'stack', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      const action = form.elements.action.value;
      const why = reason.value.trim();
      msg.className = 'error';
      if (!action) { msg.textContent = 'Choose an action.'; form.querySelector('input[name=action]').focus(); return; }
      if (reasonRequired(action) && !why) {
        msg.textContent = 'A reason is required for this action.';
        reason.setAttribute('aria-invalid', 'true');
        reason.focus();
        return;
      }
      reason.removeAttribute('aria-invalid');
      const body = { action, reason: why };
      if (exp && expiry(action)) {
        if (!exp.value) { msg.textContent = 'Give the date the acceptance ends.'; exp.focus(); return; }
        body.expires_at = new Date(exp.value + 'T23:59:59Z').toISOString().replace('.000Z', 'Z');
      }
      submit.disabled = true;
      msg.className = '';
      msg.textContent = 'Saving…';
      try {
        await onSubmit(body);
      } catch (err) {
        msg.className = 'error';
        msg.textContent = `Triage failed: ${err.message}`;
        submit.disabled = false;
      }
    },
  },
  h('fieldset', {}, h('legend', {}, 'Action'), h('div', { class: 'radios' }, radios)),
  expField,
  h('div', {}, h('label', { for: idp + '-reason' }, 'Reason'), reason,
    h('p', { id: idp + '-reason-hint', class: 'muted' }, hint)),
  submit, msg);
  form.addEventListener('change', () => {
    reason.required = reasonRequired(form.elements.action.value);
    if (expField) expField.hidden = !expiry(form.elements.action.value);
  });
  return form;
}


// ---- findings ----

export function findingTable(items, opts = {}) {
  const cols = [
    { label: 'Severity' }, { label: 'Finding', rowHeader: true }, { label: 'Rule', cls: 'mono' }, { label: 'Endpoint or location', cls: 'path' },
    { label: 'Source' }, { label: 'OWASP' }, { label: 'Status' }, { label: 'Message and remediation' },
  ];
  const rows = items.map((f) => [
    sev(f.severity), h('a', { href: '#/findings/' + encodeURIComponent(f.id) }, f.title), f.rule,
    [findingWhere(f), f.direction === 'outbound' ? [' ', tag('our call to a third party')] : null],
    f.source, owaspList(f.owasp), findingStatus(f),
    h('details', {}, h('summary', {}, f.message || 'details'), h('p', {}, f.remediation || '')),
  ]);
  if (opts.selected) {
    cols.unshift({ label: 'Select' });
    rows.forEach((r, i) => r.unshift(selectBox(opts.selected, items[i].id, `Select finding ${items[i].title} (${items[i].id})`)));
  }
  return table(null, cols, rows, { empty: opts.empty || 'No finding matches these filters.' });
}

// findingWhere names the endpoint and/or the file position of a finding.
export function findingWhere(f) {
  const loc = f.location ? pathText(`${f.location.file}:${f.location.line || ''}${f.location.column ? ':' + f.location.column : ''}`) : null;
  const ep = f.endpoint ? pathText(endpointKey(f.endpoint)) : null;
  if (ep && loc) return [ep, ' — ', loc];
  return ep || loc || '—';
}

export function findingStatus(f) {
  const st = f.status || 'open';
  const t = f.triage || {};
  if (st === 'accepted') return [tag('risk accepted', 'ok'), t.expires_at ? h('span', { class: 'muted nowrap' }, ' until ', time(t.expires_at)) : null];
  if (st === 'fixed') return tag('fixed (awaiting traffic)');
  if (st === 'verified') return tag('verified fixed', 'ok');
  return tag('open', 'warn');
}

export const FINDING_ACTIONS = [
  ['accept_risk', 'Accept the risk', 'Needs a reason and the date the acceptance ends; it reopens then.'],
  ['mark_fixed', 'Mark fixed', 'The next analysis of traffic after the fix verifies it, or reopens it if the finding is still produced.'],
  ['reopen', 'Reopen', 'Back to open.'],
];

export function findingsView(main, params, ctx) {
  const h1 = listView(main, params, ctx, {
    title: 'Posture findings', route: 'findings', path: '/findings', noun: 'findings',
    filters: [
      { name: 'status', label: 'Status', options: [opt('', 'any current'), opt('open'), opt('accepted', 'risk accepted'), opt('fixed', 'fixed (awaiting traffic)'), opt('verified', 'verified fixed')] },
      { name: 'severity', label: 'Severity', options: [opt('', 'any'), opt('critical'), opt('high'), opt('critical,high', 'high or critical'), opt('medium'), opt('low'), opt('info')] },
      { name: 'rule', label: 'Rule', placeholder: 'rule id' },
      { name: 'endpoint', label: 'Endpoint (METHOD host/path)' },
    ],
    before: can('triage') ? (sel) => bulkBar(sel, {
      noun: 'findings', path: '/findings/triage', actions: FINDING_ACTIONS.map(([v, l]) => [v, l]),
      reasonRequired: (a) => a === 'accept_risk', expiry: (a) => a === 'accept_risk',
    }, ctx) : null,
    render: (items, _st, sel) => findingTable(items, { selected: can('triage') ? sel : null }),
  });
  h1.after(h('nav', { class: 'tabs', 'aria-label': 'Finding views' }, h('ul', {},
    h('li', {}, h('a', { href: '#/findings', 'aria-current': 'page' }, 'List')),
    h('li', {}, h('a', { href: '#/findings/groups?by=rule' }, 'By rule')),
    h('li', {}, h('a', { href: '#/findings/groups?by=endpoint' }, 'By endpoint')))));
  return h1;
}

// ---- settings ----

// parseMetrics reads Prometheus text lines "name{labels} value".
export function parseMetrics(text) {
  const out = [];
  for (const line of String(text).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    // name{labels} value [timestamp]; anything else is skipped.
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)(\s+-?\d+)?\s*$/.exec(line);
    if (!m) continue;
    const v = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    if (Number.isNaN(v) && m[4] !== 'NaN') continue;
    const labels = {};
    for (const lm of (m[3] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2];
    out.push({ name: m[1], labels, value: v });
  }
  return out;
}

export async function settingsView(main, _params, ctx) {
  const h1 = title(main, 'Settings');
  const sess = currentSession() || {};
  const sections = h('div', {});
  main.append(
    h('section', { 'aria-labelledby': 'st-session' }, h('h2', { id: 'st-session' }, 'Your session'),
      facts([['Role', sess.role], ['Session expires', time(sess.expires_at)]])),
    h('section', { 'aria-labelledby': 'st-tokens' }, h('h2', { id: 'st-tokens' }, 'API tokens'),
      h('p', {}, 'The REST API does not list tokens (secrets are shown once, at creation). Manage them on the server host:'),
      h('pre', {}, 'palisade token list   --data DIR\npalisade token create --data DIR --role viewer|analyst|admin|ingest --name NAME\npalisade token revoke --data DIR tk_…')),
    sections);
  const box = (id, label) => {
    const b = h('div', {}, h('p', {}, 'Loading…'));
    sections.append(h('section', { 'aria-labelledby': id }, h('h2', { id }, label), b));
    return b;
  };
  const sinksBox = box('st-sinks', 'Sinks');
  const retBox = box('st-ret', 'Retention');
  const intelBox = box('st-intel', 'Threat-intel feeds');
  const specsBox = box('st-specs', 'Uploaded specs');
  const gwBox = box('st-gateways', 'Gateway configurations');
  const auditBox = can('admin') ? box('st-audit', 'Audit log (newest first)') : null;

  const metrics = request('/metrics', { raw: true, signal: ctx.signal }).then(parseMetrics).catch(() => null);
  const cfg = can('admin') ? get('/config', null, ctx.signal).catch((e) => e) : Promise.resolve(null);
  const [m, c] = await Promise.all([metrics, cfg]);
  const failures = {};
  for (const x of m || []) if (x.name === 'palisade_sink_failures') failures[x.labels.sink || '?'] = x.value;
  if (c instanceof Error) {
    for (const b of [sinksBox, retBox, intelBox]) clear(b).append(errorBlock(c));
  } else if (!c) {
    const note = 'The configuration is visible to admins only.';
    clear(retBox).append(h('p', {}, note + ' Defaults: raw records 48 h, client IPs 30 days, alerts 90 days, audit log 365 days.'));
    clear(intelBox).append(h('p', {}, note));
    clear(sinksBox).append(Object.keys(failures).length
      ? table(null, [{ label: 'Sink', rowHeader: true }, { label: 'Alerts not delivered', num: true }], Object.entries(failures).map(([k, v]) => [k, num(v)]))
      : h('p', {}, note));
  } else {
    const sinks = c.sinks || [];
    clear(sinksBox).append(table(null, [{ label: 'Sink', rowHeader: true }, { label: 'Type' }, { label: 'Destination', cls: 'mono' },
      { label: 'Alerts not delivered (since start)', num: true }],
    sinks.map((sk, i) => {
      const name = sk.name || sk.type;
      const failed = failures[name] ?? failures[sk.type] ?? failures[`${sk.type}-${i}`];
      return [name, sk.type, sk.url || sk.address || sk.host || '—', failed === undefined ? '—' : failed > 0 ? h('span', { class: 'error' }, num(failed)) : '0'];
    }), { empty: 'No sink configured: alerts stay in Palisade.' }));
    const r = c.retention || {};
    clear(retBox).append(table(null, [{ label: 'Data', rowHeader: true }, { label: 'Kept' }, { label: 'Then' }], [
      ['Raw records incl. bodies', r.bodies || '48h', 'log segments deleted'],
      ['Client IPs in alerts and samples', r.client_ips || '30d', 'replaced by a keyed pseudonym'],
      ['Alerts and triage history', r.alerts || '90d', 'deleted'],
      ['Audit log', r.audit || '365d', 'deleted'],
      ['Retention job interval', r.interval || '1h', ''],
    ]));
    const feeds = (c.engine && c.engine.intel) || [];
    clear(intelBox).append(feeds.length
      ? [table(null, [{ label: 'Feed (KIND=SOURCE)', rowHeader: true, cls: 'mono' }], feeds.map((f) => [String(f)])),
        h('p', { class: 'muted' }, 'Feeds are loaded when the server starts; the API does not report their age or entry counts.')]
      : h('p', {}, 'No threat-intel feed configured.'));
  }
  get('/specs', null, ctx.signal).then((p) => clear(specsBox).append(table(null, [{ label: 'Name', rowHeader: true }, { label: 'Size', num: true },
    { label: 'SHA-256', cls: 'mono' }, { label: 'Uploaded' }, { label: 'By', cls: 'mono' }],
  (p.items || []).map((sp) => [sp.name, num(sp.size), (sp.sha256 || '').slice(0, 16) + '…', time(sp.uploaded_at), sp.uploaded_by]), { empty: 'No spec uploaded.' })))
    .catch((err) => clear(specsBox).append(errorBlock(err)));
  get('/gateway-configs', null, ctx.signal).then((p) => clear(gwBox).append(table(null, [{ label: 'Name', rowHeader: true }, { label: 'Kind' },
    { label: 'Status' }, { label: 'Routes', num: true }, { label: 'Static findings', num: true }, { label: 'Uploaded' }, { label: 'By', cls: 'mono' }],
  (p.items || []).map((g) => [g.name, g.kind, g.status === 'ok' ? 'ok' : `error: ${g.error || ''}`, num(g.routes), num(g.findings), time(g.uploaded_at), g.uploaded_by]),
  { empty: 'No gateway configuration uploaded (POST /api/v1/gateway-configs). Its findings, and those joined with traffic, are listed under Findings.' })))
    .catch((err) => clear(gwBox).append(errorBlock(err)));
  if (auditBox) {
    get('/audit-log', { limit: 20 }, ctx.signal).then((p) => clear(auditBox).append(table(null, [{ label: 'Time' }, { label: 'Actor', cls: 'mono' },
      { label: 'Action', rowHeader: true }, { label: 'Target', cls: 'mono' }, { label: 'Detail', cls: 'mono' }],
    (p.items || []).map((e) => [time(e.at), e.actor, e.action, e.target || '', e.detail ? JSON.stringify(e.detail) : '']), { empty: 'Empty.' })))
      .catch((err) => clear(auditBox).append(errorBlock(err)));
  }
  announce('Settings loaded.');
  return h1;
}
