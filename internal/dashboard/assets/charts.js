// Charts. The drawing is an SVG rendered by the server
// (GET /api/v1/charts/…, internal/dashboard/chart), shown as an image whose
// text alternative summarises the same numbers, followed by a collapsible
// data table: nothing is conveyed by the drawing alone.

import { h, num, shortTime, table } from './dom.js';

// chartSrc is the URL of a server-rendered chart in the current colour
// scheme.
export function chartSrc(name, params = {}) {
  const q = new URLSearchParams(params);
  if (window.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches) q.set('scheme', 'dark');
  const qs = q.toString();
  return '/api/v1/charts/' + name + (qs ? '?' + qs : '');
}

function image(src, summary, width, height) {
  return h('img', { class: 'chart', src, alt: summary, width, height, decoding: 'async' });
}

// timeSeries shows requests per hour. points: [{time, requests}] (the data
// the page has; the server draws the same series from the store).
export function timeSeries(points, { title = 'Requests per hour', src }) {
  const fig = h('figure', { class: 'chart-figure' });
  if (!points || !points.length) {
    fig.append(h('figcaption', {}, title), h('p', { class: 'empty' }, 'No traffic recorded yet.'));
    return fig;
  }
  const pts = [...points].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  const total = pts.reduce((a, p) => a + p.requests, 0);
  const peak = pts.reduce((a, p) => (p.requests > a.requests ? p : a), pts[0]);
  const summary = `${title}: ${pts.length} hours from ${shortTime(pts[0].time)} to ${shortTime(pts[pts.length - 1].time)} UTC, ` +
    `${num(total)} requests in total, peak ${num(peak.requests)} at ${shortTime(peak.time)} UTC.`;
  fig.append(h('figcaption', {}, title), image(src, summary, 760, 220),
    h('details', { class: 'data-table' }, h('summary', {}, 'Show the data as a table'),
      table(null, [{ label: 'Hour (UTC)' }, { label: 'Requests', num: true }],
        pts.map((p) => [shortTime(p.time), num(p.requests)]))));
  return fig;
}

// bars shows counts by category. items: [{label, value, href?}].
export function bars(items, { title, src }) {
  const fig = h('figure', { class: 'chart-figure' });
  if (!items.length) {
    fig.append(h('figcaption', {}, title), h('p', { class: 'empty' }, 'None.'));
    return fig;
  }
  const summary = `${title}: ` + items.map((i) => `${i.label} ${num(i.value)}`).join(', ') + '.';
  fig.append(h('figcaption', {}, title), image(src, summary, 460, items.length * 26 + 8),
    h('details', { class: 'data-table' }, h('summary', {}, 'Show the data as a table'),
      table(null, [{ label: 'Category', rowHeader: true }, { label: 'Count', num: true }],
        items.map((i) => [i.href ? h('a', { href: i.href }, i.label) : i.label, num(i.value)]))));
  return fig;
}
