// The command line: any command as the logged-in user, history (up/down arrows, kept in
// memory for this page only), completion (Tab) from COMMAND LIST and the command's
// syntax from COMMAND DOCS; replies rendered by type (RESP3 maps and sets as tables).
import { h, replace, bytesView } from './dom.js';
import * as api from './api.js';

const history = [];
let names = null;
const docs = new Map();

// Splits a command line like redis-cli: spaces separate, "double" quotes with \n \t \"
// \\ \xHH escapes, 'single' quotes literal.
export function splitArgs(line) {
  const out = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && /\s/.test(line[i])) i++;
    if (i >= n) break;
    let cur = [];
    let quoted = false;
    while (i < n && !/\s/.test(line[i])) {
      const c = line[i];
      if (c === '"') {
        quoted = true;
        i++;
        while (i < n && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < n) {
            const e = line[i + 1];
            if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(line.substr(i + 2, 2))) { cur.push(parseInt(line.substr(i + 2, 2), 16)); i += 4; continue; }
            const map = { n: 10, r: 13, t: 9, b: 8, a: 7 };
            if (map[e] !== undefined) cur.push(map[e]); else cur.push(...new TextEncoder().encode(e));
            i += 2;
          } else { cur.push(...new TextEncoder().encode(line[i])); i++; }
        }
        if (i >= n) throw new Error('unbalanced quotes');
        i++;
      } else if (c === "'") {
        quoted = true;
        i++;
        const j = line.indexOf("'", i);
        if (j < 0) throw new Error('unbalanced quotes');
        cur.push(...new TextEncoder().encode(line.slice(i, j)));
        i = j + 1;
      } else { cur.push(...new TextEncoder().encode(c)); i++; }
    }
    if (cur.length || quoted) out.push(new Uint8Array(cur));
  }
  return out;
}

function scalar(cls, text) { return h('span', { class: 'r-' + cls }, text); }

// A typed reply as DOM.
export function render(r) {
  switch (r.t) {
    case 'error': return scalar('error', '(error) ' + r.v);
    case 'simple': return scalar('simple', r.v);
    case 'int': return scalar('int', '(integer) ' + r.v);
    case 'double': return scalar('int', '(double) ' + r.v);
    case 'bool': return scalar('int', '(boolean) ' + r.v);
    case 'null': return scalar('null', '(nil)');
    case 'bulk': case 'verbatim': {
      const b = api.bytes(r);
      return h('span', { class: 'r-bulk' }, '"', bytesView(b), '"');
    }
    case 'map': case 'pairs':
      if (!r.v.length) return scalar('null', r.t === 'map' ? '(empty map)' : '(empty array)');
      return h('table', { class: 'grid reply-map', 'data-testid': 'reply-map' },
        h('tbody', null, r.v.map(([k, v]) => h('tr', null, h('th', null, render(k)), h('td', null, render(v))))));
    case 'set':
      if (!r.v.length) return scalar('null', '(empty set)');
      return h('div', { class: 'reply-set', 'data-testid': 'reply-set' }, h('span', { class: 'badge' }, 'set · ' + r.v.length),
        h('ul', { class: 'chips' }, r.v.map((x) => h('li', null, render(x)))));
    case 'array': case 'push':
      if (!r.v.length) return scalar('null', '(empty array)');
      return h('ol', { class: 'reply-array', start: 1 }, r.v.map((x) => h('li', null, render(x))));
    default: return scalar('simple', JSON.stringify(r));
  }
}

async function loadNames() {
  if (names) return names;
  try {
    const r = await api.cmd('COMMAND', 'LIST');
    names = api.items(r).map((x) => api.text(x).toUpperCase()).sort();
  } catch (_) { names = []; }
  return names;
}

async function docFor(name) {
  const key = name.toLowerCase();
  if (docs.has(key)) return docs.get(key);
  let d = null;
  try {
    const r = await api.run([['COMMAND', 'DOCS', key]], { resp3: true });
    const m = r[0];
    if (m.t === 'map' && m.v.length) {
      const body = m.v[0][1];
      const field = (n) => { const p = (body.v || []).find(([k]) => api.text(k) === n); return p ? p[1] : null; };
      const summary = field('summary');
      const args = field('arguments');
      const argName = (a) => {
        const f = (n) => { const p = (a.v || []).find(([k]) => api.text(k) === n); return p ? p[1] : null; };
        const nm = f('display_text') || f('name');
        const flags = f('flags');
        const opt = flags && api.items(flags).some((x) => api.text(x) === 'optional');
        const multi = flags && api.items(flags).some((x) => api.text(x) === 'multiple');
        const tok = f('token');
        let s = (tok ? api.text(tok) + ' ' : '') + (nm ? api.text(nm) : '');
        if (f('type') && ['block', 'oneof'].includes(api.text(f('type'))) && f('arguments')) {
          s = (tok ? api.text(tok) + ' ' : '') + api.items(f('arguments')).map(argName).join(api.text(f('type')) === 'oneof' ? ' | ' : ' ');
        }
        if (multi) s += ' ...';
        return opt ? '[' + s + ']' : s;
      };
      d = { summary: summary ? api.text(summary) : '', syntax: args ? api.items(args).map(argName).join(' ') : '' };
    }
  } catch (_) { d = null; }
  docs.set(key, d);
  return d;
}

export function mountCli(main, info) {
  const out = h('div', { class: 'cli-out', 'data-testid': 'cli-output', 'aria-live': 'polite' });
  const input = h('input', { type: 'text', class: 'cli-in', placeholder: 'type a command, e.g. HGETALL user:1 — Tab completes, ↑ recalls', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'cli-input' });
  const hint = h('div', { class: 'cli-hint muted', 'data-testid': 'cli-hint' });
  const resp3 = h('input', { type: 'checkbox', checked: true });
  let pos = history.length;

  async function showHint() {
    const first = input.value.trim().split(/\s+/)[0];
    if (!first) { replace(hint); return; }
    const all = await loadNames();
    const up = first.toUpperCase();
    if (all.includes(up)) {
      const two = input.value.trim().split(/\s+/).slice(0, 2).join('|').toLowerCase();
      const d = (two.includes('|') && await docFor(two)) || await docFor(up);
      replace(hint, d ? [h('b', null, up), ' ', d.syntax, ' — ', d.summary] : up);
    } else {
      const m = all.filter((n) => n.startsWith(up)).slice(0, 12);
      replace(hint, m.length ? m.join('  ') : '');
    }
  }

  async function exec(line) {
    history.push(line);
    if (history.length > 500) history.shift();
    pos = history.length;
    let args;
    try { args = splitArgs(line); } catch (e) { out.appendChild(h('div', { class: 'r-error' }, e.message)); return; }
    if (!args.length) return;
    const entry = h('div', { class: 'cli-entry', 'data-testid': 'cli-entry' }, h('div', { class: 'cli-cmd' }, '> ', line));
    out.appendChild(entry);
    const t0 = performance.now();
    try {
      const [r] = await api.run([args], { resp3: resp3.checked });
      entry.appendChild(h('div', { class: 'cli-reply', 'data-testid': 'cli-reply' }, render(r)));
    } catch (e) {
      entry.appendChild(h('div', { class: 'cli-reply r-error', 'data-testid': 'cli-reply' }, '(error) ' + e.message));
    }
    entry.appendChild(h('div', { class: 'muted small' }, (performance.now() - t0).toFixed(1) + ' ms'));
    out.scrollTop = out.scrollHeight;
  }

  input.addEventListener('keydown', async (e) => {
    if (e.key === 'Enter') {
      const line = input.value;
      input.value = '';
      replace(hint);
      if (line.trim().toLowerCase() === 'clear') { replace(out); return; }
      if (line.trim()) await exec(line);
    } else if (e.key === 'ArrowUp') {
      if (pos > 0) { pos--; input.value = history[pos]; }
      e.preventDefault();
    } else if (e.key === 'ArrowDown') {
      if (pos < history.length - 1) { pos++; input.value = history[pos]; } else { pos = history.length; input.value = ''; }
      e.preventDefault();
    } else if (e.key === 'Tab') {
      e.preventDefault();
      const all = await loadNames();
      const parts = input.value.split(' ');
      if (parts.length === 1) {
        const m = all.filter((n) => n.startsWith(parts[0].toUpperCase()));
        if (m.length === 1) input.value = m[0] + ' ';
        else if (m.length > 1) {
          let p = m[0];
          for (const x of m) while (!x.startsWith(p)) p = p.slice(0, -1);
          if (p.length > parts[0].length) input.value = p;
        }
      }
      showHint();
    }
  });
  input.addEventListener('input', () => { showHint(); });
  replace(main, h('h1', null, 'Command line'),
    h('p', { class: 'muted' }, 'Runs as ', info.who, '; the same ACL as any client applies. ', h('label', null, resp3, ' RESP3 replies (maps and sets as tables)'), ' · type "clear" to clear.'),
    out, input, hint);
  input.focus();
  loadNames();
}
