// Palisade dashboard: hash router, session handling, keyboard shortcuts.

import { loadSession, currentSession, logout, forget } from './api.js';
import { clear } from './dom.js';
import {
  loginView, overviewView, inventoryView, endpointView, alertsView, alertView, findingsView, settingsView,
  announce, showError,
} from './views.js';
import { outboundListView, outboundView } from './outbound.js';
import {
  searchView, subjectView, incidentsView, incidentView, findingView, findingGroupsView, probesView,
} from './investigate.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const sessionBox = document.getElementById('session');
const roleLabel = document.getElementById('role-label');
let current = null; // AbortController of the rendered view
let flash = '';

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?', 2);
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, params: new URLSearchParams(qs || '') };
}

function setChrome(loggedIn, section) {
  nav.hidden = !loggedIn;
  sessionBox.hidden = !loggedIn;
  document.getElementById('global-search').hidden = !loggedIn;
  const s = currentSession();
  roleLabel.textContent = s ? `Role: ${s.role}` : '';
  for (const a of nav.querySelectorAll('a[data-route]')) {
    if (a.dataset.route === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

const TITLES = {
  overview: 'Overview', endpoints: 'Inventory', outbound: 'Third-party APIs', alerts: 'Alerts', incidents: 'Incidents', findings: 'Findings',
  changes: 'Probes and API changes', subjects: 'Attacker view', search: 'Search', settings: 'Settings', login: 'Log in',
};

async function render({ keepFocus = false } = {}) {
  if (current) current.abort();
  current = new AbortController();
  const ctx = {
    signal: current.signal,
    flash,
    onLogin: () => render(),
    rerender: (msg) => { flash = msg; render({ keepFocus: true }); },
  };
  flash = '';
  let { parts, params } = parseHash();
  if (!currentSession()) {
    if (parts[0] !== 'login') {
      sessionStorage.setItem('palisade.after', location.hash || '#/overview');
      history.replaceState(null, '', '#/login');
    }
    parts = ['login'];
  } else if (parts[0] === 'login' || !parts.length) {
    const after = sessionStorage.getItem('palisade.after');
    sessionStorage.removeItem('palisade.after');
    history.replaceState(null, '', after && !after.startsWith('#/login') ? after : '#/overview');
    ({ parts, params } = parseHash());
    if (!parts.length) parts = ['overview'];
  }
  const section = parts[0];
  setChrome(section !== 'login', section);
  clear(main);
  document.title = `${TITLES[section] || 'Not found'} · Palisade`;
  let heading;
  try {
    switch (section) {
      case 'login': heading = loginView(main, params, ctx); break;
      case 'overview': heading = await overviewView(main, params, ctx); break;
      case 'endpoints':
        heading = parts[1] ? await endpointView(main, parts[1], ctx) : inventoryView(main, params, ctx);
        break;
      case 'outbound':
        heading = parts[1] ? await outboundView(main, parts[1], ctx) : outboundListView(main, params, ctx);
        break;
      case 'alerts':
        heading = parts[1] ? await alertView(main, parts[1], ctx) : alertsView(main, params, ctx);
        break;
      case 'findings':
        if (parts[1] === 'groups') heading = await findingGroupsView(main, params, ctx);
        else heading = parts[1] ? await findingView(main, parts[1], ctx) : findingsView(main, params, ctx);
        break;
      case 'incidents':
        heading = parts[1] ? await incidentView(main, parts[1], ctx) : incidentsView(main, params, ctx);
        break;
      case 'subjects':
        heading = parts[1] && parts[2] ? await subjectView(main, parts[1], parts.slice(2).join('/'), ctx) : await searchView(main, params, ctx);
        break;
      case 'search': heading = await searchView(main, params, ctx); break;
      case 'changes': heading = probesView(main, params, ctx); break;
      case 'settings': heading = await settingsView(main, params, ctx); break;
      default: {
        const h1 = document.createElement('h1');
        h1.tabIndex = -1;
        h1.textContent = 'Page not found';
        main.append(h1);
        heading = h1;
      }
    }
  } catch (err) {
    if (err.name !== 'AbortError') showError(err);
  }
  if (ctx.signal.aborted) return;
  if (heading && heading.textContent && section !== 'login') document.title = `${heading.textContent} · Palisade`;
  if (keepFocus) {
    document.getElementById('triage-done')?.setAttribute('tabindex', '-1');
    (document.getElementById('triage-done') || heading)?.focus();
  } else if (section === 'login') {
    document.getElementById('token')?.focus();
  } else if (heading) {
    heading.focus();
  }
}

window.addEventListener('hashchange', () => render());
window.addEventListener('palisade:unauthenticated', (e) => {
  forget();
  announce('Your session ended: log in again.');
  if (!location.hash.startsWith('#/login')) {
    sessionStorage.setItem('palisade.after', location.hash);
    location.hash = '#/login';
  }
  showError(e.detail || 'Session expired');
});

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await logout();
  } catch (err) {
    showError(err);
  }
  announce('Logged out.');
  location.hash = '#/login';
});

// Keyboard shortcuts (not while typing in a field).
let pendingG = 0;
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
  const help = document.getElementById('help');
  if (e.key === '?') {
    e.preventDefault();
    if (!help.open) help.showModal();
    return;
  }
  if (help.open || !currentSession()) return;
  const now = Date.now();
  if (pendingG && now - pendingG < 1500) {
    pendingG = 0;
    const dest = { o: 'overview', i: 'endpoints', t: 'outbound', a: 'alerts', n: 'incidents', f: 'findings', c: 'changes', s: 'settings' }[e.key];
    if (dest) {
      e.preventDefault();
      location.hash = '#/' + dest;
    }
    return;
  }
  if (e.key === 'g') {
    pendingG = now;
    return;
  }
  if (e.key === '/') {
    const f = main.querySelector('.filters input, .filters select') || document.getElementById('global-q');
    if (f) {
      e.preventDefault();
      f.focus();
    }
    return;
  }
  if (e.key === 'n' || e.key === 'p') {
    const b = document.querySelector(`[data-pager="${e.key === 'n' ? 'next' : 'prev'}"]`);
    if (b && !b.disabled) {
      e.preventDefault();
      b.click();
    }
  }
});

// The search box of the top bar: an address, an identity or a path.
document.getElementById('global-search').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = document.getElementById('global-q').value.trim();
  if (q) location.hash = '#/search?' + new URLSearchParams({ q }).toString();
});

loadSession();
render();
