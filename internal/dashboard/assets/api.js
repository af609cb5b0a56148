// REST client of the dashboard. Authentication is the HttpOnly session cookie
// set by POST /api/v1/session; the CSRF token it returns is kept in
// sessionStorage (this tab only) and sent as X-CSRF-Token on unsafe methods.

const API = '/api/v1';
const KEY = 'palisade.session';

let session = null;

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function loadSession() {
  try {
    session = JSON.parse(sessionStorage.getItem(KEY) || 'null');
  } catch {
    session = null;
  }
  if (session && (typeof session.csrf !== 'string' || typeof session.role !== 'string')) session = null;
  if (session && session.expires_at && Date.parse(session.expires_at) < Date.now()) forget();
  return session;
}

export function currentSession() {
  return session;
}

export function forget() {
  session = null;
  sessionStorage.removeItem(KEY);
}

export function can(what) {
  const r = session ? session.role : '';
  switch (what) {
    case 'triage': return r === 'analyst' || r === 'admin';
    case 'admin': return r === 'admin';
    default: return r !== '';
  }
}

async function readBody(resp) {
  const type = resp.headers.get('Content-Type') || '';
  if (resp.status === 204) return null;
  if (type.startsWith('application/json')) {
    try {
      return await resp.json();
    } catch {
      return null;
    }
  }
  return await resp.text();
}

function failure(resp, body) {
  const msg = body && typeof body === 'object' && typeof body.error === 'string'
    ? body.error : `HTTP ${resp.status} ${resp.statusText}`;
  return new APIError(resp.status, msg);
}

// query builds "?a=b&…" from an object, skipping empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// request calls the API. path starts with "/" (relative to /api/v1).
export async function request(path, { method = 'GET', body, params, signal, raw = false } = {}) {
  const headers = { Accept: raw ? 'text/plain' : 'application/json' };
  const unsafe = method !== 'GET' && method !== 'HEAD';
  if (unsafe && session) headers['X-CSRF-Token'] = session.csrf;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const url = (path.startsWith('/metrics') ? '' : API) + path + query(params);
  const resp = await fetch(url, { method, headers, body: payload, signal, credentials: 'same-origin', cache: 'no-store' });
  const data = await readBody(resp);
  if (resp.status === 401) {
    forget();
    window.dispatchEvent(new CustomEvent('palisade:unauthenticated', { detail: failure(resp, data).message }));
  }
  if (!resp.ok) throw failure(resp, data);
  return data;
}

export const get = (path, params, signal) => request(path, { params, signal });

export async function login(token) {
  const resp = await fetch(API + '/session', {
    method: 'POST', headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
    credentials: 'same-origin', cache: 'no-store',
  });
  const data = await readBody(resp);
  if (!resp.ok) throw failure(resp, data);
  session = { csrf: data.csrf_token, role: data.role, expires_at: data.expires_at };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export async function logout() {
  try {
    if (session) await request('/session', { method: 'DELETE' });
  } finally {
    forget();
  }
}
