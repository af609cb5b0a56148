// The alert catalogue (GET /api/v1/catalog), loaded once per session: OWASP
// category names, kill-chain phases and the words that explain each alert
// type's measures and each evidence detail.

import { get } from './api.js';
import { h } from './dom.js';

let cached = null;

export function catalog() {
  if (!cached) {
    cached = get('/catalog').catch((err) => {
      cached = null;
      throw err;
    });
  }
  return cached;
}

// Names of the OWASP API Security Top 10 (2023), also in the catalogue;
// kept here so that labels render before it loads.
export const OWASP = {
  'API1:2023': 'Broken Object Level Authorization',
  'API2:2023': 'Broken Authentication',
  'API3:2023': 'Broken Object Property Level Authorization',
  'API4:2023': 'Unrestricted Resource Consumption',
  'API5:2023': 'Broken Function Level Authorization',
  'API6:2023': 'Unrestricted Access to Sensitive Business Flows',
  'API7:2023': 'Server Side Request Forgery',
  'API8:2023': 'Security Misconfiguration',
  'API9:2023': 'Improper Inventory Management',
  'API10:2023': 'Unsafe Consumption of APIs',
};

export function owaspName(id) {
  return OWASP[id] || '';
}

// owaspList renders OWASP ids with their names: "API1:2023 Broken Object
// Level Authorization", one per line.
export function owaspList(ids) {
  if (!ids || !ids.length) return h('span', { class: 'muted' }, '—');
  return h('ul', { class: 'plain' }, ids.map((id) => h('li', {},
    h('abbr', { title: owaspName(id) || id, class: 'nowrap' }, id), owaspName(id) ? ' ' + owaspName(id) : '')));
}

export function typeInfo(cat, type) {
  return (cat && (cat.alert_types || []).find((t) => t.type === type)) || null;
}

export const PHASES = ['reconnaissance', 'exploitation', 'exfiltration', 'impact'];
