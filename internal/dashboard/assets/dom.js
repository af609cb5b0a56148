// DOM helpers. Data only ever becomes text nodes or attribute values: no
// string is ever parsed as HTML anywhere in the dashboard.

const SVGNS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'selected') {
      el[k] = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// h creates an HTML element: h('a', {href: '#/x'}, 'text', child…).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

// s creates an SVG element.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const nf = new Intl.NumberFormat('en');
export const num = (n) => (typeof n === 'number' ? nf.format(n) : '—');

// time renders an RFC 3339 time as "2026-11-16 05:59 UTC" in a <time>.
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', {}, String(iso));
  const txt = d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  return h('time', { datetime: d.toISOString() }, txt);
}

export function shortTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().slice(5, 16).replace('T', ' ');
}

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];
export { SEVERITIES };

// sev is a severity badge: the word is always written; colour and shape
// only repeat it.
export function sev(level) {
  const l = SEVERITIES.includes(level) ? level : 'info';
  return h('span', { class: ['sev', 'sev-' + l] }, level || 'unknown');
}

export function tag(text, kind) {
  return h('span', { class: ['tag', kind ? 'tag-' + kind : ''] }, text);
}

// table builds a data table. cols: [{label, num?, sort?}], rows: arrays of
// cell contents. sortCol: label of the column the rows are sorted by.
export function table(caption, cols, rows, { sortCol, empty = 'Nothing to show.' } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', {
        scope: 'col', class: c.num ? 'num' : null,
        'aria-sort': sortCol && sortCol === c.label ? 'descending' : null,
      }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((cell, i) => {
        const c = cols[i] || {};
        const cls = [c.num ? 'num' : '', c.cls || ''].filter(Boolean).join(' ');
        return c.rowHeader
          ? h('th', { scope: 'row', class: cls || null }, cell)
          : h('td', { class: cls || null }, cell);
      }))))));
}

// facts is a definition list of [term, value] pairs (empty values skipped).
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter((p) => p && p[1] !== undefined && p[1] !== null && p[1] !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// value renders an evidence value: primitives as text, objects as JSON.
export function value(v) {
  if (v === undefined || v === null) return h('span', { class: 'muted' }, '—');
  if (typeof v === 'object') return h('pre', {}, JSON.stringify(v, null, 2));
  if (typeof v === 'number') return num(v);
  return String(v);
}

export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

export function endpointKey(ep) {
  return ep ? `${ep.method} ${ep.host}${ep.path}` : '';
}

// pathText renders a path, URL or endpoint key so that a narrow column
// breaks it only after "/", "?", "&" or "=" (a <wbr> there), never inside
// a word.
export function pathText(text) {
  const s = String(text);
  const out = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if ((c === '/' || c === '?' || c === '&' || c === '=') && i + 1 < s.length) {
      out.push(s.slice(start, i + 1), document.createElement('wbr'));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return h('span', { class: 'path' }, out);
}
