package dashboard_test

// auditJS checks the rendered page in the browser and returns a JSON list of
// problems: form controls without a label, table headers without scope,
// buttons without a name, duplicate ids, several navigation landmarks not
// all named, aria-labelledby/-describedby pointing nowhere, more or fewer
// than one h1 or main landmark,
// inline event handlers or styles, and text below the WCAG AA contrast
// ratio (4.5:1, or 3:1 for large text) against its effective background.
const auditJS = `(() => {
  const out = [];
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '');
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) out.push('no label: ' + name(el));
  }
  for (const th of document.querySelectorAll('th')) {
    if (!th.hasAttribute('scope')) out.push('th without scope: ' + th.textContent.slice(0, 40));
  }
  for (const b of document.querySelectorAll('button, a[href]')) {
    if (visible(b) && !b.textContent.trim() && !b.getAttribute('aria-label')) out.push('control without a name: ' + name(b));
  }
  const ids = {};
  for (const el of document.querySelectorAll('[id]')) ids[el.id] = (ids[el.id] || 0) + 1;
  for (const [id, n] of Object.entries(ids)) if (n > 1) out.push('duplicate id: ' + id + ' (' + n + ')');
  const navs = Array.from(document.querySelectorAll('nav')).filter(visible);
  if (navs.length > 1) {
    for (const n of navs) if (!n.getAttribute('aria-label') && !n.getAttribute('aria-labelledby')) out.push('nav without a name among several: ' + name(n));
  }
  for (const el of document.querySelectorAll('[aria-labelledby], [aria-describedby]')) {
    for (const a of ['aria-labelledby', 'aria-describedby']) {
      for (const ref of (el.getAttribute(a) || '').split(/\s+/).filter(Boolean)) {
        if (!document.getElementById(ref)) out.push(a + ' points to a missing id: ' + ref + ' on ' + name(el));
      }
    }
  }
  const h1s = Array.from(document.querySelectorAll('h1')).filter(visible).length;
  if (h1s !== 1) out.push(h1s + ' visible h1 elements');
  if (document.querySelectorAll('main').length !== 1) out.push('main landmark count ' + document.querySelectorAll('main').length);
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.getAttributeNames()) {
      if (a.startsWith('on') || a === 'style') out.push('inline ' + a + ' on ' + name(el));
    }
  }
  const parse = (c) => {
    const m = /rgba?\(([\d.]+)[, ]+([\d.]+)[, ]+([\d.]+)(?:[, /]+([\d.]+))?\)/.exec(c);
    return m ? [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]] : null;
  };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bgOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] >= 0.5) return c;
    }
    return [255, 255, 255, 1];
  };
  const seen = new Set();
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || el.closest('[hidden]') || !visible(el) || el.disabled || el.closest(':disabled')) continue;
    if (el.closest('details:not([open])') && !el.closest('summary')) continue;
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const cs = getComputedStyle(el);
    const fg = parse(cs.color);
    if (!fg) continue;
    const bg = bgOf(el);
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(cs.fontSize);
    const large = size >= 24 || (size >= 18.66 && +cs.fontWeight >= 700);
    const need = large ? 3 : 4.5;
    if (ratio < need) {
      const key = name(el) + cs.color + cs.backgroundColor;
      if (!seen.has(key)) {
        seen.add(key);
        out.push('contrast ' + ratio.toFixed(2) + ' < ' + need + ': ' + name(el) + ' "' + el.textContent.trim().slice(0, 30) + '" ' + cs.color + ' on rgb(' + bg.slice(0, 3).join(',') + ')');
      }
    }
  }
  return JSON.stringify(out);
})()`
