// Inline SVG charts. Every chart is an image with a text summary
// (aria-label) followed by a collapsible data table with the same numbers,
// so nothing is conveyed by the drawing alone.

import { h, s, num, shortTime, table } from './dom.js';

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// timeSeries draws requests per hour. points: [{time, requests}].
export function timeSeries(points, { title = 'Requests per hour', width = 760, height = 220 } = {}) {
  const fig = h('figure', { class: 'chart-figure' });
  if (!points || !points.length) {
    fig.append(h('figcaption', {}, title), h('p', { class: 'empty' }, 'No traffic recorded yet.'));
    return fig;
  }
  const pts = [...points].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  const m = { l: 56, r: 12, t: 10, b: 34 };
  const iw = width - m.l - m.r;
  const ih = height - m.t - m.b;
  const t0 = Date.parse(pts[0].time);
  const t1 = Math.max(Date.parse(pts[pts.length - 1].time), t0 + 3600e3);
  const total = pts.reduce((a, p) => a + p.requests, 0);
  const peak = pts.reduce((a, p) => (p.requests > a.requests ? p : a), pts[0]);
  const ymax = niceMax(peak.requests);
  const x = (t) => m.l + ((Date.parse(t) - t0) / (t1 - t0)) * iw;
  const y = (v) => m.t + ih - (v / ymax) * ih;
  const summary = `${title}: ${pts.length} hours from ${shortTime(pts[0].time)} to ${shortTime(pts[pts.length - 1].time)} UTC, ` +
    `${num(total)} requests in total, peak ${num(peak.requests)} at ${shortTime(peak.time)} UTC.`;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': summary });
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    svg.append(s('line', { class: 'grid', x1: m.l, x2: width - m.r, y1: y(v), y2: y(v) }),
      s('text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, num(Math.round(v))));
  }
  // Time ticks at even steps of whole hours, at most one per 110 units.
  const hours = Math.round((t1 - t0) / 3600e3);
  const maxTicks = Math.max(2, Math.floor(iw / 110) + 1);
  const stepH = Math.max(1, Math.ceil(hours / (maxTicks - 1)));
  for (let hh = 0; hh <= hours; hh += stepH) {
    const t = new Date(t0 + hh * 3600e3).toISOString();
    const anchor = hh === 0 ? 'start' : hh + stepH > hours && x(t) > width - m.r - 40 ? 'end' : 'middle';
    svg.append(s('line', { class: 'axis', x1: x(t), x2: x(t), y1: y(0), y2: y(0) + 4 }),
      s('text', { x: x(t), y: height - m.b + 16, 'text-anchor': anchor }, shortTime(t)));
  }
  svg.append(s('line', { class: 'axis', x1: m.l, x2: width - m.r, y1: y(0), y2: y(0) }),
    s('line', { class: 'axis', x1: m.l, x2: m.l, y1: m.t, y2: y(0) }));
  const line = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.time).toFixed(1)},${y(p.requests).toFixed(1)}`).join('');
  const area = `${line}L${x(pts[pts.length - 1].time).toFixed(1)},${y(0)}L${x(pts[0].time).toFixed(1)},${y(0)}Z`;
  svg.append(s('path', { class: 'area', d: area }), s('path', { class: 'line', d: line }));
  if (pts.length <= 48) {
    for (const p of pts) svg.append(s('circle', { class: 'dot', cx: x(p.time), cy: y(p.requests), r: 2.5 }));
  }
  fig.append(h('figcaption', {}, title), svg, h('p', { class: 'visually-hidden' }, summary),
    h('details', { class: 'data-table' }, h('summary', {}, 'Show the data as a table'),
      table(null, [{ label: 'Hour (UTC)' }, { label: 'Requests', num: true }],
        pts.map((p) => [shortTime(p.time), num(p.requests)]))));
  return fig;
}

// bars draws a horizontal bar chart. items: [{label, value, cls?, href?}].
export function bars(items, { title, width = 460, unit = '' } = {}) {
  const fig = h('figure', { class: 'chart-figure' });
  if (!items.length) {
    fig.append(h('figcaption', {}, title), h('p', { class: 'empty' }, 'None.'));
    return fig;
  }
  const rowH = 26;
  const labelW = 110;
  const valueW = 56;
  const height = items.length * rowH + 8;
  const max = Math.max(1, ...items.map((i) => i.value));
  const bw = width - labelW - valueW;
  const summary = `${title}: ` + items.map((i) => `${i.label} ${num(i.value)}`).join(', ') + '.';
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': summary });
  items.forEach((it, k) => {
    const yy = 4 + k * rowH;
    const w = Math.max(it.value > 0 ? 2 : 0, (it.value / max) * bw);
    svg.append(
      s('text', { x: labelW - 8, y: yy + rowH / 2 + 4, 'text-anchor': 'end' }, it.label),
      s('rect', { class: ['bar', it.cls || ''], x: labelW, y: yy + 3, width: w.toFixed(1), height: rowH - 8, rx: 2 }),
      s('text', { x: labelW + w + 6, y: yy + rowH / 2 + 4 }, num(it.value) + unit));
  });
  fig.append(h('figcaption', {}, title), svg,
    h('details', { class: 'data-table' }, h('summary', {}, 'Show the data as a table'),
      table(null, [{ label: 'Category', rowHeader: true }, { label: 'Count', num: true }],
        items.map((i) => [i.href ? h('a', { href: i.href }, i.label) : i.label, num(i.value)]))));
  return fig;
}
