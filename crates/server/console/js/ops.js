// Slowlog and latency views (SLOWLOG GET, LATENCY LATEST, LATENCY HISTOGRAM) and the
// backups (list, create, restore, delete).
import { h, replace, fmtBytes, fmtNum, confirmDialog, promptDialog, toast } from './dom.js';
import * as api from './api.js';

function when(secs) { return new Date(Number(secs) * 1000).toLocaleString(); }

export function mountSlowlog(main, info) {
  const slow = h('div', { 'data-testid': 'slowlog' });
  const latest = h('div', { 'data-testid': 'latency-latest' });
  const hist = h('div', { 'data-testid': 'latency-histogram' });

  async function refresh() {
    let s; let l; let hg;
    try {
      [s, l, hg] = (await api.api('slowlog')).replies;
    } catch (e) {
      replace(slow, h('p', { class: 'error', 'data-testid': 'slowlog-error' }, e.message));
      replace(latest);
      replace(hist);
      return;
    }
    if (s.t === 'error') replace(slow, h('p', { class: 'error' }, s.v));
    else {
      const rows = api.items(s).map((e) => {
        const f = api.items(e);
        const args = api.items(f[3]).map((a) => api.text(a)).join(' ');
        return h('tr', { 'data-testid': 'slowlog-row' },
          h('td', { class: 'num' }, String(f[0].v)), h('td', null, when(f[1].v)),
          h('td', { class: 'num' }, fmtNum(f[2].v) + ' µs'), h('td', { class: 'mono' }, args),
          h('td', { class: 'mono' }, f[4] ? api.text(f[4]) : ''), h('td', null, f[5] ? api.text(f[5]) : ''));
      });
      replace(slow, rows.length ? h('table', { class: 'grid' },
        h('thead', null, h('tr', null, h('th', null, 'ID'), h('th', null, 'When'), h('th', null, 'Duration'), h('th', null, 'Command'), h('th', null, 'Client'), h('th', null, 'Name'))),
        h('tbody', null, rows)) : h('p', { class: 'muted' }, 'The slowlog is empty (slowlog-log-slower-than sets the threshold).'));
    }
    if (l.t === 'error') replace(latest, h('p', { class: 'error' }, l.v));
    else {
      const rows = api.items(l).map((e) => { const f = api.items(e); return h('tr', null, h('td', null, api.text(f[0])), h('td', null, when(f[1].v)), h('td', { class: 'num' }, f[2].v + ' ms'), h('td', { class: 'num' }, f[3].v + ' ms')); });
      replace(latest, rows.length ? h('table', { class: 'grid' }, h('thead', null, h('tr', null, h('th', null, 'Event'), h('th', null, 'Latest'), h('th', null, 'Latest (ms)'), h('th', null, 'Max (ms)'))), h('tbody', null, rows))
        : h('p', { class: 'muted' }, 'No latency events (CONFIG SET latency-monitor-threshold <ms> turns the monitor on).'));
    }
    if (hg.t === 'error') replace(hist, h('p', { class: 'error' }, hg.v));
    else {
      const rows = (hg.v || []).map(([name, body]) => {
        const field = (n) => { const p = (body.v || []).find(([k]) => api.text(k) === n); return p ? p[1] : null; };
        const calls = Number((field('calls') || {}).v || 0);
        const buckets = (field('histogram_usec') || { v: [] }).v.map(([k, v]) => [Number(k.v), Number(v.v)]);
        let prev = 0;
        const bars = buckets.map(([le, cum]) => {
          const n = cum - prev; prev = cum;
          const bar = h('span', { class: 'bar' });
          bar.style.width = Math.max(1, Math.round((n / Math.max(1, calls)) * 120)) + 'px';
          return h('div', { class: 'hrow' }, h('span', { class: 'hl' }, '≤ ' + fmtNum(le) + ' µs'), bar, h('span', { class: 'muted small' }, fmtNum(n)));
        });
        return h('tr', null, h('td', { class: 'mono' }, api.text(name)), h('td', { class: 'num' }, fmtNum(calls)), h('td', null, bars));
      });
      replace(hist, rows.length ? h('table', { class: 'grid' }, h('thead', null, h('tr', null, h('th', null, 'Command'), h('th', null, 'Calls'), h('th', null, 'Service time'))), h('tbody', null, rows))
        : h('p', { class: 'muted' }, 'No commands recorded yet.'));
    }
  }
  const reset = info.can_admin ? h('button', { class: 'danger', onclick: async () => {
    if (!await confirmDialog('Reset the slowlog', 'Clear this node\u2019s slowlog?', 'Reset')) return;
    try { await api.api('slowlog/reset', { method: 'POST', body: {} }); refresh(); } catch (e) { toast(e.message, 'error'); }
  } }, 'Reset slowlog') : null;
  replace(main, h('h1', null, 'Slowlog & latency'), h('p', { class: 'muted' }, 'Per node, as in Redis: this node\u2019s own clients.'),
    h('div', { class: 'row toolbar' }, h('button', { class: 'ghost', 'data-testid': 'slowlog-refresh', onclick: refresh }, 'Refresh'), reset),
    h('h2', null, 'Slowlog'), slow, h('h2', null, 'Latency monitor'), latest, h('h2', null, 'Service time by command'), hist);
  refresh().catch((e) => toast(e.message, 'error'));
}

export function mountBackups(main, info) {
  const list = h('div', { 'data-testid': 'backup-list' });
  async function refresh() {
    let r;
    try { r = await api.api('backups'); } catch (e) { replace(list, h('p', { class: 'error', 'data-testid': 'backup-error' }, e.message)); return; }
    const rows = r.backups.map((b) => h('tr', { 'data-testid': 'backup-row' },
      h('td', { class: 'mono' }, b.name),
      h('td', null, b.created_unix_ms ? new Date(b.created_unix_ms).toLocaleString() : '–'),
      h('td', { class: 'num' }, fmtNum(b.index)), h('td', { class: 'num' }, fmtNum(b.keys)),
      h('td', { class: 'num' }, fmtBytes(b.size_bytes)), h('td', null, b.node !== undefined ? 'node ' + b.node : ''),
      h('td', { class: 'actions' },
        h('button', { class: 'small danger', 'data-testid': 'restore-' + b.name, onclick: async () => {
          if (!await confirmDialog('Restore ' + b.name, 'Replace the WHOLE database on every node with backup "' + b.name + '"? Every key written since it was taken is lost.', 'Restore')) return;
          try { await api.api('backups/restore', { method: 'POST', body: { name: b.name } }); toast('Restored ' + b.name); } catch (e) { toast(e.message, 'error'); }
        } }, 'Restore'),
        h('button', { class: 'small', onclick: async () => {
          if (!await confirmDialog('Delete ' + b.name, 'Delete backup "' + b.name + '"?', 'Delete')) return;
          try { await api.api('backups/delete', { method: 'POST', body: { name: b.name } }); refresh(); } catch (e) { toast(e.message, 'error'); }
        } }, 'Delete'))));
    replace(list, rows.length ? h('table', { class: 'grid' },
      h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Taken'), h('th', null, 'Log index'), h('th', null, 'Keys'), h('th', null, 'Size'), h('th', null, 'By'), h('th', null, ''))),
      h('tbody', null, rows)) : h('p', { class: 'muted' }, 'No backups yet.'));
  }
  const create = info.can_admin || info.access === 'user' ? h('button', { class: 'primary', 'data-testid': 'backup-create', onclick: async () => {
    const r = await promptDialog('Create a backup', [{ name: 'name', label: 'Name (letters, digits, . _ -)', value: 'console-' + new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-') }], 'Create');
    if (!r) return;
    try { await api.api('backups/create', { method: 'POST', body: { name: r.name } }); toast('Backup ' + r.name + ' taken'); refresh(); } catch (e) { toast(e.message, 'error'); }
  } }, '+ Create backup') : null;
  replace(main, h('h1', null, 'Backups'), h('p', { class: 'muted' }, 'Backups of this node\u2019s backup directory (or the object store with --backup-url).'),
    h('div', { class: 'row toolbar' }, h('button', { class: 'ghost', onclick: refresh }, 'Refresh'), create), list);
  refresh();
}
