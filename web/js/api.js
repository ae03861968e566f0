// api.js - the gateway's JSON API. Paths are never written here: every
// call names a method of common/api.def and its route comes from GET
// /api/methods, with {field} segments filled from the call's fields, the
// rest sent as the query (GET, DELETE) or the JSON body (POST, PUT).
// A refusal is an ApiError with the API's code, field and message (in the
// user's language, from common/errors.def).

let methods = new Map();
let csrf = '';
let onLoggedOut = () => {};

export class ApiError extends Error {
  constructor(status, error) {
    super((error && error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (error && error.code) || '';
    this.field = (error && error.field) || '';
  }
}

export function setCsrf(token) { csrf = token || ''; }
export function whenLoggedOut(fn) { onLoggedOut = fn; }

async function request(httpMethod, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method: httpMethod, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (httpMethod !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    const err = new ApiError(res.status, data && data.error);
    if (res.status === 401 && err.code.startsWith('session.')) onLoggedOut(err);
    throw err;
  }
  return data;
}

export async function loadMethods() {
  const list = await request('GET', '/api/methods');
  methods = new Map(list.map((m) => [m.name, m]));
}

export function method(name) {
  return methods.get(name);
}

// The URL of a GET method with fields (also for links: CSV downloads).
export function url(name, fields = {}, extra = {}) {
  const m = methods.get(name);
  if (!m) throw new ApiError(404, { code: 'http.not_found', message: name });
  const rest = { ...fields };
  const path = m.path.replace(/\{(\w+)\}/g, (_, f) => {
    const v = rest[f];
    delete rest[f];
    return encodeURIComponent(v === undefined || v === null ? '' : v);
  });
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...rest, ...extra })) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) continue;
    q.append(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const qs = q.toString();
  return { method: m.http, path, query: qs ? `${path}?${qs}` : path, rest };
}

// call('task.done', {task: id}) -> the reply (a LIST method: its items).
export async function call(name, fields = {}) {
  const u = url(name, fields);
  if (u.method === 'GET' || u.method === 'DELETE') return request(u.method, u.query);
  const body = {};
  for (const [k, v] of Object.entries(u.rest)) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) continue;
    body[k] = v;
  }
  return request(u.method, u.path, body);
}

export function may(name) {
  return methods.has(name);
}
