// The data browser: SCAN with a pattern and a type filter, page by page; a key's value
// by type, paginated for large collections (ranks, cursors and ranges, never whole
// reads), with edits, TTL, rename and delete.
import { h, replace, clear, bytesView, isText, hex, fmtBytes, fmtNum, fmtTtl, confirmDialog, promptDialog, toast } from './dom.js';
import * as api from './api.js';

const TYPES = ['', 'string', 'list', 'hash', 'set', 'zset', 'stream', 'ReJSON-RL'];
const PAGE = 50;
const STRING_LIMIT = 256 * 1024;
const enc = new TextEncoder();
const dec = new TextDecoder();

function lengthCmd(type, key) {
  switch (type) {
    case 'string': return ['STRLEN', key];
    case 'list': return ['LLEN', key];
    case 'hash': return ['HLEN', key];
    case 'set': return ['SCARD', key];
    case 'zset': return ['ZCARD', key];
    case 'stream': return ['XLEN', key];
    default: return ['EXISTS', key];
  }
}

function typeLabel(t) { return t === 'ReJSON-RL' ? 'json' : t; }

function errText(e) { return e && e.message ? e.message : String(e); }

// Parses hex ("00 ff 10" or "00ff10") into bytes; null if it is not hex.
function parseHex(s) {
  const t = s.replace(/\s+/g, '');
  if (t.length % 2 || /[^0-9a-fA-F]/.test(t)) return null;
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.substr(i * 2, 2), 16);
  return out;
}

// An editable value: text when it is UTF-8, else hex; returns the bytes or null.
function valueOf(textValue, asHex) {
  if (!asHex) return enc.encode(textValue);
  const b = parseHex(textValue);
  if (!b) throw new Error('not valid hex: use pairs of hex digits, e.g. "00 ff 41"');
  return b;
}

async function editValue(title, current) {
  const binary = current && !isText(current);
  const r = await promptDialog(title + (binary ? ' (hex)' : ''), [
    { name: 'value', label: binary ? 'Value in hex' : 'Value', value: current ? (binary ? hex(current) : dec.decode(current)) : '', multiline: true },
  ], 'Save');
  if (!r) return null;
  return valueOf(r.value, binary);
}

export function mountBrowser(main, info) {
  const canWrite = info.can_write;
  const state = { cursors: ['0'], page: 0, next: null, selected: null };
  const pattern = h('input', { type: 'text', value: '*', placeholder: 'pattern, e.g. user:*', 'data-testid': 'scan-pattern' });
  const type = h('select', { 'data-testid': 'scan-type' }, TYPES.map((t) => h('option', { value: t }, t ? typeLabel(t) : 'any type')));
  const openName = h('input', { type: 'text', placeholder: 'open a key by name', 'data-testid': 'open-key' });
  const list = h('div', { class: 'keylist' });
  const detail = h('section', { class: 'detail', 'data-testid': 'key-detail' }, h('p', { class: 'muted' }, 'Select a key.'));
  const pager = h('div', { class: 'row pager' });
  const status = h('span', { class: 'muted small', 'data-testid': 'scan-status' });

  async function scanPage() {
    const start = state.cursors[state.page];
    let cursor = start;
    const keys = [];
    let calls = 0;
    replace(status, 'scanning…');
    try {
      do {
        const args = ['SCAN', cursor, 'MATCH', pattern.value || '*', 'COUNT', String(Math.max(PAGE, 200))];
        if (type.value) args.push('TYPE', type.value);
        const r = await api.cmd(...args);
        cursor = api.text(r.v[0]);
        for (const k of api.items(r.v[1])) keys.push(api.bytes(k));
        calls++;
      } while (cursor !== '0' && keys.length < PAGE && calls < 40);
    } catch (e) {
      replace(list, h('p', { class: 'error', 'data-testid': 'scan-error' }, errText(e)),
        h('p', { class: 'muted small' }, 'You can still open a key by its name (above).'));
      replace(status);
      return;
    }
    state.next = cursor === '0' ? null : cursor;
    await renderKeys(keys);
    replace(status, keys.length + ' keys on this page', state.next ? '' : ' (end of scan)');
    renderPager();
  }

  function renderPager() {
    replace(pager,
      h('button', { disabled: state.page === 0, 'data-testid': 'page-prev', onclick: () => { state.page--; scanPage(); } }, '‹ Previous'),
      h('span', { class: 'muted' }, 'page ' + (state.page + 1)),
      h('button', { disabled: !state.next, 'data-testid': 'page-next', onclick: () => { state.cursors[state.page + 1] = state.next; state.page++; scanPage(); } }, 'Next ›'));
  }

  async function renderKeys(keys) {
    if (!keys.length) { replace(list, h('p', { class: 'muted' }, 'No keys match.')); return; }
    const meta = await api.run(keys.flatMap((k) => [['TYPE', k], ['PTTL', k], ['MEMORY', 'USAGE', k]]));
    const types = keys.map((_, i) => api.text(meta[i * 3]));
    const lens = await api.run(keys.map((k, i) => lengthCmd(types[i], k)));
    const rows = keys.map((k, i) => {
      const ttl = meta[i * 3 + 1];
      const mem = meta[i * 3 + 2];
      const len = lens[i];
      const row = h('tr', { class: 'key-row', 'data-testid': 'key-row', tabindex: 0, onclick: () => openKey(k), onkeydown: (e) => { if (e.key === 'Enter') openKey(k); } },
        h('td', { class: 'key' }, bytesView(k, 'keyname')),
        h('td', null, h('span', { class: 'type t-' + typeLabel(types[i]) }, typeLabel(types[i]))),
        h('td', { class: 'num' }, ttl.t === 'int' ? fmtTtl(Number(ttl.v)) : '–'),
        h('td', { class: 'num', title: 'MEMORY USAGE (bytes) / elements' },
          mem.t === 'int' ? fmtBytes(mem.v) : '–',
          len.t === 'int' && types[i] !== 'ReJSON-RL' ? ' · ' + fmtNum(len.v) + (types[i] === 'string' ? ' B' : '') : ''));
      row.dataset.key = isText(k) ? dec.decode(k) : hex(k);
      return row;
    });
    replace(list, h('table', { class: 'grid' },
      h('thead', null, h('tr', null, h('th', null, 'Key'), h('th', null, 'Type'), h('th', null, 'TTL'), h('th', null, 'Size'))),
      h('tbody', null, rows)));
  }

  function rescan() { state.cursors = ['0']; state.page = 0; scanPage(); }

  async function openKey(key) {
    state.selected = key;
    replace(detail, h('p', { class: 'muted' }, 'Loading…'));
    try {
      await renderDetail(key);
    } catch (e) {
      replace(detail, h('p', { class: 'error' }, errText(e)));
    }
  }

  async function renderDetail(key) {
    const [t, ttl] = await api.all([['TYPE', key], ['PTTL', key]]);
    const ty = api.text(t);
    if (ty === 'none') { replace(detail, h('p', { class: 'muted', 'data-testid': 'key-missing' }, 'This key does not exist (any more).')); return; }
    const ttlMs = Number(ttl.v);
    const act = (label, testid, f, cls) => canWrite
      ? h('button', { class: cls || '', 'data-testid': testid, onclick: async () => { try { await f(); } catch (e) { toast(errText(e), 'error'); } } }, label)
      : null;
    const body = h('div', { class: 'value' });
    replace(detail,
      h('div', { class: 'detail-head' },
        h('h2', { 'data-testid': 'detail-key' }, bytesView(key, 'keyname')),
        h('div', { class: 'row' },
          h('span', { class: 'type t-' + typeLabel(ty), 'data-testid': 'detail-type' }, typeLabel(ty)),
          h('span', { class: 'muted', 'data-testid': 'detail-ttl' }, 'TTL: ' + fmtTtl(ttlMs)),
          h('div', { class: 'grow' }),
          act('Set TTL', 'set-ttl', async () => {
            const r = await promptDialog('Set TTL', [{ name: 'secs', label: 'Seconds from now', value: ttlMs > 0 ? String(Math.ceil(ttlMs / 1000)) : '3600' }], 'Set');
            if (!r) return;
            if (!/^\d+$/.test(r.secs.trim()) || Number(r.secs) <= 0) throw new Error('a TTL is a positive number of seconds');
            await api.cmd('EXPIRE', key, r.secs.trim());
            toast('TTL set');
            openKey(key);
          }),
          ttlMs >= 0 ? act('Remove TTL', 'clear-ttl', async () => { await api.cmd('PERSIST', key); toast('TTL removed'); openKey(key); }) : null,
          act('Rename', 'rename', async () => {
            const r = await promptDialog('Rename key', [{ name: 'name', label: 'New name', value: isText(key) ? dec.decode(key) : '' }], 'Rename');
            if (!r || !r.name) return;
            const to = enc.encode(r.name);
            const done = await api.cmd('RENAMENX', key, to);
            if (Number(done.v) === 0) throw new Error('a key with that name exists already');
            toast('Renamed');
            rescan();
            openKey(to);
          }),
          act('Delete', 'delete-key', async () => {
            const name = isText(key) ? dec.decode(key) : hex(key);
            if (!await confirmDialog('Delete key', 'Delete "' + name + '" and its whole value? This cannot be undone.', 'Delete')) return;
            await api.cmd('DEL', key);
            toast('Deleted');
            replace(detail, h('p', { class: 'muted' }, 'Deleted.'));
            rescan();
          }, 'danger'),
          h('button', { class: 'ghost', 'data-testid': 'refresh-key', onclick: () => openKey(key) }, 'Refresh'))),
      body);
    const ctx = { key, body, canWrite, reopen: () => openKey(key) };
    switch (ty) {
      case 'string': return showString(ctx);
      case 'list': return showList(ctx);
      case 'hash': return showCursor(ctx, 'hash');
      case 'set': return showCursor(ctx, 'set');
      case 'zset': return showZset(ctx);
      case 'stream': return showStream(ctx);
      case 'ReJSON-RL': return showJson(ctx);
      default: replace(body, h('p', { class: 'muted' }, 'The console does not show values of type ' + ty + '.'));
    }
  }

  const newKey = canWrite ? h('button', { class: 'primary', 'data-testid': 'new-key', onclick: () => createKey().catch((e) => toast(errText(e), 'error')) }, '+ New key') : null;

  async function createKey() {
    const r = await promptDialog('New key', [
      { name: 'type', label: 'Type (string, list, hash, set, zset, stream, json)', value: 'string' },
      { name: 'key', label: 'Key', value: '' },
      { name: 'value', label: 'Value (hash and stream: field value; zset: score member)', value: '', multiline: true },
    ], 'Create');
    if (!r || !r.key) return;
    const k = r.key;
    const ty = r.type.trim().toLowerCase();
    const exists = await api.cmd('EXISTS', k);
    if (Number(exists.v)) throw new Error('that key exists already');
    const two = () => { const m = r.value.match(/^\s*(\S+)\s+([\s\S]*)$/); if (!m) throw new Error('give two values separated by a space'); return [m[1], m[2]]; };
    const cmds = {
      string: () => ['SET', k, r.value],
      list: () => ['RPUSH', k, r.value],
      set: () => ['SADD', k, r.value],
      hash: () => ['HSET', k, ...two()],
      zset: () => { const [s, m] = two(); return ['ZADD', k, s, m]; },
      stream: () => ['XADD', k, '*', ...two()],
      json: () => { JSON.parse(r.value); return ['JSON.SET', k, '$', r.value]; },
    };
    if (!cmds[ty]) throw new Error('unknown type ' + ty);
    await api.cmd(...cmds[ty]());
    toast('Created');
    rescan();
    openKey(enc.encode(k));
  }

  const form = h('form', { class: 'row toolbar', onsubmit: (e) => { e.preventDefault(); rescan(); } },
    pattern, type, h('button', { type: 'submit', class: 'primary', 'data-testid': 'scan' }, 'Scan'), status,
    h('div', { class: 'grow' }), newKey);
  const openForm = h('form', { class: 'row toolbar', onsubmit: (e) => { e.preventDefault(); if (openName.value) openKey(enc.encode(openName.value)); } },
    openName, h('button', { type: 'submit', 'data-testid': 'open-key-go' }, 'Open'));
  replace(main, h('h1', null, 'Data browser'), form, openForm,
    h('div', { class: 'split' }, h('section', { class: 'keys' }, list, pager), detail));
  rescan();
}

// --- values by type ---

function act(ctx, label, testid, f, cls) {
  if (!ctx.canWrite) return null;
  return h('button', { class: 'small ' + (cls || ''), 'data-testid': testid, onclick: async (e) => { e.stopPropagation(); try { await f(); } catch (x) { toast(errText(x), 'error'); } } }, label);
}

async function showString(ctx) {
  const { key, body } = ctx;
  const [len] = await api.all([['STRLEN', key]]);
  const n = Number(len.v);
  const [r] = await api.all([['GETRANGE', key, '0', String(STRING_LIMIT - 1)]]);
  const b = api.bytes(r) || new Uint8Array();
  const partial = n > STRING_LIMIT;
  let view;
  if (isText(b)) {
    const s = dec.decode(b);
    let pretty = null;
    try { const j = JSON.parse(s); if (j && typeof j === 'object') pretty = JSON.stringify(j, null, 2); } catch (_) { /* not JSON */ }
    view = h('pre', { class: 'code', 'data-testid': 'string-value' }, pretty || s);
  } else {
    view = h('pre', { class: 'code hex', 'data-testid': 'string-value' }, h('span', { class: 'badge' }, 'hex'), ' ', hex(b));
  }
  replace(body,
    h('p', { class: 'muted' }, fmtBytes(n), partial ? ' — showing the first ' + fmtBytes(STRING_LIMIT) : ''),
    view,
    partial ? null : act(ctx, 'Edit', 'edit-string', async () => {
      const v = await editValue('Edit value', b);
      if (!v) return;
      await api.cmd('SET', key, v, 'KEEPTTL');
      toast('Saved');
      ctx.reopen();
    }));
}

function pagerRow(start, total, go) {
  return h('div', { class: 'row pager' },
    h('button', { class: 'small', disabled: start === 0, 'data-testid': 'val-prev', onclick: () => go(Math.max(0, start - PAGE)) }, '‹'),
    h('span', { class: 'muted', 'data-testid': 'val-range' }, total ? `${fmtNum(start + 1)}–${fmtNum(Math.min(start + PAGE, total))} of ${fmtNum(total)}` : 'empty'),
    h('button', { class: 'small', disabled: start + PAGE >= total, 'data-testid': 'val-next', onclick: () => go(start + PAGE) }, '›'));
}

async function showList(ctx) {
  const { key, body } = ctx;
  const go = async (start) => {
    const [len, range] = await api.all([['LLEN', key], ['LRANGE', key, String(start), String(start + PAGE - 1)]]);
    const total = Number(len.v);
    const rows = api.items(range).map((it, i) => {
      const idx = start + i;
      const v = api.bytes(it);
      return h('tr', { 'data-testid': 'list-row' },
        h('td', { class: 'num' }, String(idx)),
        h('td', null, bytesView(v)),
        h('td', { class: 'actions' },
          act(ctx, 'Edit', 'list-edit', async () => {
            const nv = await editValue('Element ' + idx, v);
            if (!nv) return;
            await api.cmd('LSET', key, String(idx), nv);
            go(start);
          }),
          act(ctx, 'Remove', 'list-remove', async () => {
            if (!await confirmDialog('Remove element', 'Remove element ' + idx + '?', 'Remove')) return;
            // LSET a unique marker at the index, then LREM it: removes exactly that element.
            const mark = '__meridian_console_removed_' + Math.random().toString(36).slice(2);
            await api.all([['LSET', key, String(idx), mark], ['LREM', key, '1', mark]]);
            go(start);
          }, 'danger')));
    });
    replace(body, pagerRow(start, total, go),
      h('table', { class: 'grid' }, h('thead', null, h('tr', null, h('th', null, 'Index'), h('th', null, 'Element'), h('th', null, ''))), h('tbody', null, rows)),
      h('div', { class: 'row' },
        act(ctx, 'Push head', 'list-lpush', async () => { const v = await editValue('New first element', null); if (v) { await api.cmd('LPUSH', key, v); go(0); } }),
        act(ctx, 'Push tail', 'list-rpush', async () => { const v = await editValue('New last element', null); if (v) { await api.cmd('RPUSH', key, v); go(start); } })));
  };
  await go(0);
}

// Hashes and sets: HSCAN/SSCAN pages (cursor based, so any size opens at once).
async function showCursor(ctx, kind) {
  const { key, body } = ctx;
  const isHash = kind === 'hash';
  const cursors = ['0'];
  let page = 0;
  const match = h('input', { type: 'text', value: '*', placeholder: isHash ? 'field pattern' : 'member pattern', 'data-testid': 'member-pattern' });
  const go = async () => {
    const [len, r] = await api.all([[isHash ? 'HLEN' : 'SCARD', key], [isHash ? 'HSCAN' : 'SSCAN', key, cursors[page], 'MATCH', match.value || '*', 'COUNT', String(PAGE)]]);
    const next = api.text(r.v[0]);
    const flat = api.items(r.v[1]).map(api.bytes);
    const rows = [];
    const step = isHash ? 2 : 1;
    for (let i = 0; i < flat.length; i += step) {
      const f = flat[i];
      const v = isHash ? flat[i + 1] : null;
      rows.push(h('tr', { 'data-testid': kind + '-row' },
        h('td', null, bytesView(f)),
        isHash ? h('td', null, bytesView(v)) : null,
        h('td', { class: 'actions' },
          isHash ? act(ctx, 'Edit', 'hash-edit', async () => { const nv = await editValue('Field value', v); if (nv) { await api.cmd('HSET', key, f, nv); go(); } }) : null,
          act(ctx, 'Remove', kind + '-remove', async () => {
            if (!await confirmDialog('Remove', 'Remove ' + (isHash ? 'field' : 'member') + ' "' + (isText(f) ? dec.decode(f) : hex(f)) + '"?', 'Remove')) return;
            await api.cmd(isHash ? 'HDEL' : 'SREM', key, f);
            go();
          }, 'danger'))));
    }
    replace(body,
      h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); cursors.length = 1; page = 0; go(); } }, match, h('button', { type: 'submit', class: 'small' }, 'Filter'),
        h('span', { class: 'muted' }, fmtNum(len.v) + (isHash ? ' fields' : ' members'))),
      h('div', { class: 'row pager' },
        h('button', { class: 'small', disabled: page === 0, 'data-testid': 'val-prev', onclick: () => { page--; go(); } }, '‹'),
        h('span', { class: 'muted', 'data-testid': 'val-range' }, 'page ' + (page + 1)),
        h('button', { class: 'small', disabled: next === '0', 'data-testid': 'val-next', onclick: () => { cursors[page + 1] = next; page++; go(); } }, '›')),
      h('table', { class: 'grid' }, h('thead', null, h('tr', null, h('th', null, isHash ? 'Field' : 'Member'), isHash ? h('th', null, 'Value') : null, h('th', null, ''))), h('tbody', null, rows)),
      act(ctx, isHash ? 'Add field' : 'Add member', kind + '-add', async () => {
        const fields = isHash ? [{ name: 'f', label: 'Field' }, { name: 'v', label: 'Value', multiline: true }] : [{ name: 'f', label: 'Member' }];
        const r2 = await promptDialog(isHash ? 'Add field' : 'Add member', fields, 'Add');
        if (!r2) return;
        await (isHash ? api.cmd('HSET', key, r2.f, r2.v) : api.cmd('SADD', key, r2.f));
        go();
      }));
  };
  await go();
}

// Sorted sets by rank: ZRANGE with ranks is O(log n) per page here (the score index's
// memory tier), so a set of millions of members opens at once.
async function showZset(ctx) {
  const { key, body } = ctx;
  let rev = false;
  const go = async (start) => {
    const args = ['ZRANGE', key, String(start), String(start + PAGE - 1)];
    if (rev) args.push('REV');
    args.push('WITHSCORES');
    const [len, r] = await api.all([['ZCARD', key], args]);
    const total = Number(len.v);
    let pairs;
    if (r.t === 'pairs' || r.t === 'map') pairs = r.v.map(([m, s]) => [api.bytes(m), api.text(s)]);
    else {
      const flat = api.items(r);
      pairs = [];
      for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([api.bytes(flat[i]), api.text(flat[i + 1])]);
    }
    const rank = h('input', { type: 'number', min: 0, placeholder: 'go to rank', class: 'short', 'data-testid': 'zset-rank' });
    replace(body,
      h('div', { class: 'row' },
        pagerRow(start, total, go),
        h('label', { class: 'row' }, h('input', { type: 'checkbox', checked: rev, onchange: (e) => { rev = e.target.checked; go(0); } }), 'highest first'),
        h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); const n = Number(rank.value); if (Number.isFinite(n) && n >= 0) go(Math.floor(n)); } }, rank, h('button', { class: 'small', type: 'submit' }, 'Go'))),
      h('table', { class: 'grid' },
        h('thead', null, h('tr', null, h('th', null, 'Rank'), h('th', null, 'Member'), h('th', null, 'Score'), h('th', null, ''))),
        h('tbody', null, pairs.map(([m, s], i) => h('tr', { 'data-testid': 'zset-row' },
          h('td', { class: 'num' }, String(start + i)),
          h('td', null, bytesView(m)),
          h('td', { class: 'num' }, s),
          h('td', { class: 'actions' },
            act(ctx, 'Score', 'zset-edit', async () => {
              const r2 = await promptDialog('Score', [{ name: 's', label: 'New score', value: s }], 'Save');
              if (!r2) return;
              await api.cmd('ZADD', key, r2.s.trim(), m);
              go(start);
            }),
            act(ctx, 'Remove', 'zset-remove', async () => {
              if (!await confirmDialog('Remove member', 'Remove this member?', 'Remove')) return;
              await api.cmd('ZREM', key, m);
              go(start);
            }, 'danger')))))),
      act(ctx, 'Add member', 'zset-add', async () => {
        const r2 = await promptDialog('Add member', [{ name: 'm', label: 'Member' }, { name: 's', label: 'Score', value: '0' }], 'Add');
        if (!r2) return;
        await api.cmd('ZADD', key, r2.s.trim(), r2.m);
        go(start);
      }));
  };
  await go(0);
}

// Streams newest first, a page at a time (XREVRANGE with an exclusive start).
async function showStream(ctx) {
  const { key, body } = ctx;
  const starts = ['+'];
  let page = 0;
  const go = async () => {
    const [len, r] = await api.all([['XLEN', key], ['XREVRANGE', key, starts[page], '-', 'COUNT', String(PAGE)]]);
    const entries = api.items(r).map((e) => [api.text(e.v[0]), api.items(e.v[1]).map(api.bytes)]);
    const last = entries.length ? entries[entries.length - 1][0] : null;
    replace(body,
      h('div', { class: 'row pager' },
        h('button', { class: 'small', disabled: page === 0, 'data-testid': 'val-prev', onclick: () => { page--; go(); } }, '‹ newer'),
        h('span', { class: 'muted', 'data-testid': 'val-range' }, fmtNum(len.v) + ' entries, page ' + (page + 1)),
        h('button', { class: 'small', disabled: entries.length < PAGE, 'data-testid': 'val-next', onclick: () => { starts[page + 1] = '(' + last; page++; go(); } }, 'older ›')),
      h('table', { class: 'grid' },
        h('thead', null, h('tr', null, h('th', null, 'ID'), h('th', null, 'Fields'), h('th', null, ''))),
        h('tbody', null, entries.map(([id, fv]) => {
          const pairs = [];
          for (let i = 0; i + 1 < fv.length; i += 2) pairs.push(h('div', { class: 'fv' }, bytesView(fv[i], 'field'), ' ', bytesView(fv[i + 1])));
          return h('tr', { 'data-testid': 'stream-row' }, h('td', { class: 'mono' }, id), h('td', null, pairs),
            h('td', { class: 'actions' }, act(ctx, 'Delete', 'stream-remove', async () => {
              if (!await confirmDialog('Delete entry', 'Delete entry ' + id + '?', 'Delete')) return;
              await api.cmd('XDEL', key, id);
              go();
            }, 'danger')));
        }))),
      act(ctx, 'Add entry', 'stream-add', async () => {
        const r2 = await promptDialog('Add entry', [{ name: 'fv', label: 'One "field value" per line', multiline: true }], 'Add');
        if (!r2) return;
        const args = [];
        for (const line of r2.fv.split('\n')) {
          const m = line.match(/^\s*(\S+)\s+(.*)$/);
          if (m) args.push(m[1], m[2]);
        }
        if (!args.length) throw new Error('give at least one "field value" line');
        await api.cmd('XADD', key, '*', ...args);
        page = 0;
        go();
      }));
  };
  await go();
}

async function showJson(ctx) {
  const { key, body } = ctx;
  const r = await api.cmd('JSON.GET', key);
  const raw = api.text(r);
  let pretty = raw;
  try { pretty = JSON.stringify(JSON.parse(raw), null, 2); } catch (_) { /* shown raw */ }
  replace(body,
    h('pre', { class: 'code json', 'data-testid': 'json-value' }, pretty),
    act(ctx, 'Edit', 'edit-json', async () => {
      const r2 = await promptDialog('Edit JSON', [{ name: 'v', label: 'Document', value: pretty, multiline: true }], 'Save');
      if (!r2) return;
      try { JSON.parse(r2.v); } catch (e) { throw new Error('not valid JSON: ' + e.message); }
      await api.cmd('JSON.SET', key, '$', r2.v);
      toast('Saved');
      ctx.reopen();
    }));
}
