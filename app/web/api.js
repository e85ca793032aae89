// The REST client: the session's tokens (memory + sessionStorage, never a URL), a refresh
// before the access token expires, JSON errors as ApiError, uploads with progress, and
// the Last-Event-ID header of reads (a resume position for the socket).

const STORE = 'ventroom.session';

export class ApiError extends Error {
  constructor(status, body) {
    super(errorText(status, body));
    this.status = status;
    this.body = body || {};
  }
}

/** One readable sentence for an error body ({detail} or {field: [messages]}). */
function errorText(status, body) {
  if (status === 0) return 'Could not reach the server. Check your connection and try again.';
  if (body && typeof body.detail === 'string') return body.detail;
  if (body && typeof body === 'object') {
    for (const [name, messages] of Object.entries(body)) {
      const text = [].concat(messages).join(' ');
      if (text) return name === 'non_field_errors' ? text : `${name.replace(/_/g, ' ')}: ${text}`;
    }
  }
  return `Something went wrong (${status}). Please try again.`;
}

/** A JWT's payload, or {} when it cannot be read. */
function claims(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return {};
  }
}

/** When to refresh: a minute before expiry, or a quarter of the lifetime for short ones. */
function refreshAt(token) {
  const {exp = 0, iat = exp} = claims(token);
  return (exp - Math.min(60, (exp - iat) / 4)) * 1000;
}

let session = null; // {access, refresh, user}
let refreshTimer = null;
let refreshing = null;
const endListeners = new Set();

try { session = JSON.parse(sessionStorage.getItem(STORE)); } catch { session = null; }

function save() {
  if (session) sessionStorage.setItem(STORE, JSON.stringify(session));
  else sessionStorage.removeItem(STORE);
  scheduleRefresh();
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const wait = refreshAt(session.access) - Date.now();
  refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.max(1000, wait));
}

export const currentUser = () => session && session.user;
export const onSessionEnd = (fn) => endListeners.add(fn);

export function startSession(body) {
  session = {access: body.access_token, refresh: body.refresh_token, user: body.user};
  save();
}

export function endSession(reason) {
  if (!session) return;
  session = null;
  save();
  for (const fn of endListeners) fn(reason);
}

/** A new access token from the refresh token; one request at a time. A refused refresh
 *  ends the session; a network failure keeps it (the next call tries again). */
export function refresh() {
  if (!session) return Promise.reject(new ApiError(401, {detail: 'Not logged in.'}));
  if (!refreshing) {
    const refreshToken = session.refresh;
    refreshing = fetch('/auth/refresh', {method: 'POST', headers: {Authorization: `Bearer ${refreshToken}`}})
      .then(async (response) => {
        const body = await response.json().catch(() => ({}));
        if (response.ok && session && session.refresh === refreshToken) {
          session.access = body.access_token;
          save();
          return session.access;
        }
        if (response.status === 401) endSession('Your session has ended. Please log in again.');
        throw new ApiError(response.status, body);
      }, () => { throw new ApiError(0); })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** The access token, refreshed first when it is about to expire (for the socket too). */
export async function accessToken() {
  if (!session) return null;
  if (Date.now() >= refreshAt(session.access)) await refresh();
  return session && session.access;
}

// A tab woken from sleep may have missed its refresh timer.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && session) accessToken().catch(() => {});
});

async function call(method, path, {json, query} = {}, retried = false) {
  const token = await accessToken().catch(() => session && session.access);
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  const headers = {Accept: 'application/json'};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, {method, headers, body: json === undefined ? undefined : JSON.stringify(json)});
  } catch {
    throw new ApiError(0);
  }
  if (response.status === 401 && session && !retried && !path.startsWith('/auth/')) {
    await refresh();
    return call(method, path, {json, query}, true);
  }
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return {data: body, eventId: response.headers.get('Last-Event-ID')};
}

/** GET: {data, eventId} (eventId: the Last-Event-ID header, or null). */
export const read = (path, query) => call('GET', path, {query});
/** Any write: the response body (null for 204). */
export const send = (method, path, json, query) => call(method, path, {json, query}).then((r) => r.data);

/** POST multipart with upload progress (fetch has none): onProgress(fraction). */
export function upload(path, form, onProgress, retried = false) {
  return accessToken().catch(() => session && session.access).then((token) => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
    xhr.onerror = () => reject(new ApiError(0));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* empty or not JSON */ }
      if (xhr.status === 401 && session && !retried) {
        refresh().then(() => upload(path, form, onProgress, true)).then(resolve, reject);
      } else if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body);
      } else {
        reject(new ApiError(xhr.status, body));
      }
    };
    xhr.send(form);
  }));
}

scheduleRefresh();
