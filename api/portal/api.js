// api.js: the portal's one way to the public API. The session token
// arrives once in the URL fragment (#token=<sid>.<secret>), is taken out
// of the address bar at once, and kept for this tab only (sessionStorage:
// a reload keeps working, another tab or site never sees it). Each call
// sends it as "Authorization: Bearer": no cookie exists, so no request
// another site makes from this browser can act as the session (CSRF).

const STORE = 'wh-portal-token';
const READ_ONLY = 'wh-portal-read-only';

// Take the token from the fragment (then drop it from the address bar and
// the history entry), else the one this tab already holds.
export function takeToken() {
  const m = /(?:^#|&)token=([A-Za-z0-9_.-]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(STORE, m[1]);
    sessionStorage.removeItem(READ_ONLY);
    history.replaceState(null, '', `${location.pathname}#/endpoints`);
  }
  return sessionStorage.getItem(STORE);
}

export function forgetToken() {
  sessionStorage.removeItem(STORE);
  sessionStorage.removeItem(READ_ONLY);
}

// No route tells a session its mode: the first change the api refuses
// as read-only says so, and this tab remembers it for that token (a
// reload keeps hiding the buttons such a session cannot use).
export function markReadOnly() {
  sessionStorage.setItem(READ_ONLY, '1');
}

export function isReadOnly() {
  return sessionStorage.getItem(READ_ONLY) === '1';
}

// A failed call: the problem document's detail, status and type.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.type = problem?.type || '';
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

// One call: JSON in, JSON (or null for 204) out; ApiError otherwise.
export async function call(method, path, body) {
  const token = sessionStorage.getItem(STORE);
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const init = { method, headers, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (res.status === 401) onUnauthorized();
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

export const enc = encodeURIComponent;
