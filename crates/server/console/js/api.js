// Calls to the node. The session lives in an HttpOnly cookie the page cannot read; the
// CSRF token is kept in memory only (never in localStorage or a URL) and sent with
// every POST.

export const session = { csrf: null, info: null, db: 0 };
let onLoggedOut = () => {};
export function setLoggedOutHandler(f) { onLoggedOut = f; }

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = {};
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    if (session.csrf) headers['X-CSRF-Token'] = session.csrf;
  }
  const res = await fetch('/console/api/' + path, {
    method, headers, signal, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (res.status === 401 && path !== 'login') {
    session.csrf = null;
    session.info = null;
    onLoggedOut();
  }
  if (!res.ok) throw new ApiError(res.status, (data && data.error) || res.statusText);
  return data;
}

export async function login(creds) {
  const info = await api('login', { method: 'POST', body: creds });
  session.csrf = info.csrf;
  session.info = info;
  return info;
}

export async function restore() {
  const info = await api('session');
  session.csrf = info.csrf;
  session.info = info;
  return info;
}

export async function logout() {
  try { await api('logout', { method: 'POST', body: {} }); } catch (_) { /* gone already */ }
  session.csrf = null;
  session.info = null;
}

// An argument: a string, or bytes (sent as base64 so they arrive exactly).
export function arg(a) {
  if (a instanceof Uint8Array) return { b64: b64encode(a) };
  return typeof a === 'number' ? String(a) : a;
}

// Runs commands in order (like a REST pipeline) as the logged-in user; typed replies.
export async function run(cmds, { resp3 = false } = {}) {
  const r = await api('run', { method: 'POST', body: { cmds: cmds.map((c) => c.map(arg)), resp3, db: session.db } });
  return r.replies;
}

export class ReplyError extends Error {}

// One command; an error reply throws.
export async function cmd(...args) {
  const [r] = await run([args]);
  if (r.t === 'error') throw new ReplyError(r.v);
  return r;
}

// Several commands; any error reply throws.
export async function all(cmds) {
  const rs = await run(cmds);
  for (const r of rs) if (r.t === 'error') throw new ReplyError(r.v);
  return rs;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function b64encode(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function b64decode(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// A typed reply's exact bytes (bulk, simple, verbatim, double, int).
export function bytes(r) {
  if (!r || r.t === 'null') return null;
  if (r.b64 !== undefined) return b64decode(r.b64);
  return enc.encode(String(r.v));
}

export function text(r) {
  if (!r || r.t === 'null') return null;
  if (r.b64 !== undefined) return dec.decode(b64decode(r.b64));
  return String(r.v);
}

export function num(r) {
  if (!r || r.t === 'null') return null;
  return Number(r.v);
}

export function items(r) {
  return r && Array.isArray(r.v) ? r.v : [];
}

// A server-sent-events route (monitor, subscribe/ch, psubscribe/p) read with fetch so
// the CSRF header goes with it; onEvent gets each event's data. Returns an abort().
export function stream(path, onEvent, onEnd) {
  const ctl = new AbortController();
  (async () => {
    let res;
    try {
      res = await fetch('/console/api/' + path, {
        method: 'POST', credentials: 'same-origin', signal: ctl.signal,
        headers: { 'X-CSRF-Token': session.csrf || '', 'Content-Type': 'application/json' },
        body: '{}',
      });
    } catch (e) { onEnd && onEnd(e.name === 'AbortError' ? null : e.message); return; }
    if (!res.ok) {
      let msg = res.statusText;
      try { msg = (await res.json()).error || msg; } catch (_) { /* keep */ }
      if (res.status === 401) onLoggedOut();
      onEnd && onEnd(msg);
      return;
    }
    const reader = res.body.getReader();
    const td = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += td.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (block.startsWith(':')) continue;
          onEvent(data);
        }
      }
      onEnd && onEnd('the stream ended');
    } catch (e) {
      onEnd && onEnd(e.name === 'AbortError' ? null : e.message);
    }
  })();
  return () => ctl.abort();
}
