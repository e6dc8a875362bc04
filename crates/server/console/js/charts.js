// Live charts, drawn on canvas (no chart library): the node keeps one sample a second
// for the last hour (GET /console/api/metrics), so a freshly opened page shows history;
// the page then asks for the samples after its newest once a second.
import { h, replace, fmtBytes, fmtNum } from './dom.js';
import * as api from './api.js';

const COLORS = ['#1f6feb', '#e5534b', '#2da44e', '#bf8700', '#8250df', '#1b7c83', '#cf222e', '#57606a'];
const RANGES = [['1 min', 60], ['5 min', 300], ['15 min', 900], ['1 hour', 3600]];

export class Chart {
  constructor(title, fmt, testid) {
    this.fmt = fmt;
    this.canvas = h('canvas', { height: 170, 'data-testid': testid ? testid + '-canvas' : null });
    this.legend = h('div', { class: 'legend' });
    this.el = h('div', { class: 'card chart', 'data-testid': testid || null }, h('h3', null, title), this.legend, this.canvas);
    this.points = 0;
  }

  // series: [{name, values: [number|null]}], t: [ms], window: seconds shown.
  draw(t, series, windowSecs) {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(200, c.clientWidth || 400);
    const hgt = 170;
    c.width = w * dpr;
    c.height = hgt * dpr;
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const end = t.length ? t[t.length - 1] : Date.now();
    const start = end - windowSecs * 1000;
    let first = t.findIndex((x) => x >= start);
    if (first < 0) first = t.length;
    let max = 0;
    for (const s of series) for (let i = first; i < t.length; i++) { const v = s.values[i]; if (v !== null && v !== undefined && v > max) max = v; }
    max = max > 0 ? niceMax(max * 1.1) : 1;
    const L = 64; const R = 8; const T = 8; const B = 20;
    const pw = w - L - R; const ph = hgt - T - B;
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#6e7781';
    g.strokeStyle = '#d0d7de';
    g.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {
      const y = T + ph - (ph * k) / 4;
      g.beginPath(); g.moveTo(L, y); g.lineTo(L + pw, y); g.stroke();
      g.textAlign = 'right'; g.textBaseline = 'middle';
      g.fillText(this.fmt((max * k) / 4), L - 6, y);
    }
    g.textAlign = 'center'; g.textBaseline = 'top';
    for (let k = 0; k <= 4; k++) {
      const ms = start + ((end - start) * k) / 4;
      const d = new Date(ms);
      g.fillText(d.toTimeString().slice(0, 8), L + (pw * k) / 4, T + ph + 4);
    }
    const x = (ms) => L + ((ms - start) / (end - start)) * pw;
    const y = (v) => T + ph - (v / max) * ph;
    this.points = 0;
    series.forEach((s, si) => {
      g.strokeStyle = COLORS[si % COLORS.length];
      g.lineWidth = 1.6;
      g.beginPath();
      let pen = false;
      for (let i = first; i < t.length; i++) {
        const v = s.values[i];
        if (v === null || v === undefined) { pen = false; continue; }
        if (!pen) { g.moveTo(x(t[i]), y(v)); pen = true; } else g.lineTo(x(t[i]), y(v));
        this.points++;
      }
      g.stroke();
    });
    replace(this.legend, series.map((s, si) => {
      let last = null;
      for (let i = s.values.length - 1; i >= 0; i--) if (s.values[i] !== null && s.values[i] !== undefined) { last = s.values[i]; break; }
      return h('span', { class: 'lg' }, h('i', { style: null, class: 'sw c' + (si % COLORS.length) }), s.name, ': ', h('b', null, last === null ? '–' : this.fmt(last)));
    }));
    this.el.dataset.last = JSON.stringify(series.map((s) => s.values[s.values.length - 1] ?? null));
  }
}

function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const ms = (us) => (us === null || us === undefined ? null : us / 1000);
const fmtMs = (v) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2)) + ' ms';

export function mountMetrics(main) {
  let data = null;
  let windowSecs = 300;
  let timer = null;
  let clusterTimer = null;
  let members = new Map();
  let leaderId = null;
  let me = null;
  const clientLag = { t: [], series: new Map(), ms: new Map(), regions: new Map() };
  const charts = {
    ops: new Chart('Throughput (commands/s)', fmtNum, 'chart-ops'),
    lat: new Chart('Latency (service time)', fmtMs, 'chart-latency'),
    mem: new Chart('Memory', fmtBytes, 'chart-memory'),
    keys: new Chart('Keys', fmtNum, 'chart-keys'),
    hit: new Chart('Key tier hit ratio', (v) => (v * 100).toFixed(0) + ' %', 'chart-hits'),
    evict: new Chart('Evicted and expired keys/s', fmtNum, 'chart-evictions'),
    conn: new Chart('Connections', fmtNum, 'chart-clients'),
    lag: new Chart('Replication lag per member (log entries behind the leader)', fmtNum, 'chart-lag'),
    lagms: new Chart('Replication lag per member (time)', fmtMs, 'chart-lag-ms'),
    region: new Chart('Replication lag per region (largest of its members)', fmtMs, 'chart-region-lag'),
  };
  const lagNote = h('p', { class: 'muted small', 'data-testid': 'lag-note' });
  const tiles = h('div', { class: 'tiles', 'data-testid': 'metric-tiles' });
  const sel = h('div', { class: 'tabs' }, RANGES.map(([label, secs]) => h('button', {
    class: 'tab' + (secs === windowSecs ? ' active' : ''), 'data-testid': 'range-' + secs,
    onclick: (e) => { windowSecs = secs; for (const b of sel.children) b.classList.remove('active'); e.target.classList.add('active'); redraw(); },
  }, label)));

  function merge(d) {
    if (!data) { data = d; return; }
    const n = data.t.length;
    const m = d.t.length;
    for (const k of Object.keys(d)) {
      if (Array.isArray(d[k]) && Array.isArray(data[k])) data[k].push(...d[k]);
    }
    data.member_regions = d.member_regions;
    for (const key of ['cmds', 'lag', 'lag_ms', 'region_lag_ms']) {
      if (!data[key]) data[key] = {};
      for (const [name, vals] of Object.entries(d[key] || {})) {
        if (!data[key][name]) data[key][name] = new Array(n).fill(key === 'cmds' ? 0 : null);
        data[key][name].push(...vals);
      }
      for (const [name, vals] of Object.entries(data[key])) if (!(d[key] || {})[name]) vals.push(...new Array(m).fill(key === 'cmds' ? 0 : null));
    }
    const over = data.t.length - 3600;
    if (over > 0) {
      for (const k of Object.keys(data)) if (Array.isArray(data[k])) data[k].splice(0, over);
      for (const key of ['cmds', 'lag', 'lag_ms', 'region_lag_ms']) for (const v of Object.values(data[key] || {})) v.splice(0, over);
    }
  }

  function memberName(id) {
    const m = members.get(String(id));
    if (!m) return 'node ' + id;
    return 'node ' + id + ' (' + (m.region ? m.region + ', ' : '') + m.role + ')';
  }

  function redraw() {
    if (!data) return;
    const t = data.t;
    const start = (t.length ? t[t.length - 1] : 0) - windowSecs * 1000;
    const from = Math.max(0, t.findIndex((x) => x >= start));
    const top = Object.entries(data.cmds)
      .map(([name, v]) => [name, v.slice(from).reduce((a, b) => a + b, 0)])
      .sort((a, b) => b[1] - a[1]).slice(0, 6).filter((x) => x[1] > 0)
      .map(([name]) => ({ name: name.toUpperCase(), values: data.cmds[name] }));
    charts.ops.draw(t, [{ name: 'all', values: data.ops }, ...top], windowSecs);
    charts.lat.draw(t, [
      { name: 'p50', values: data.p50_us.map(ms) },
      { name: 'p99', values: data.p99_us.map(ms) },
      { name: 'p99.9', values: data.p999_us.map(ms) },
    ], windowSecs);
    const mem = [
      { name: 'data (quota measure)', values: data.data_bytes },
      { name: 'memory tier', values: data.tier_bytes },
      { name: 'process RSS', values: data.rss_bytes },
    ];
    if (data.quota_bytes.some((v) => v > 0)) mem.push({ name: 'quota', values: data.quota_bytes.map((v) => (v > 0 ? v : null)) });
    charts.mem.draw(t, mem, windowSecs);
    charts.keys.draw(t, [{ name: 'keys', values: data.keys }], windowSecs);
    charts.hit.draw(t, [{ name: 'hits / lookups', values: data.hit_ratio }], windowSecs);
    charts.evict.draw(t, [{ name: 'evicted', values: data.evicted }, { name: 'expired', values: data.expired }], windowSecs);
    charts.conn.draw(t, [{ name: 'clients', values: data.clients }], windowSecs);
    if (leaderId === me && Object.keys(data.lag).length) {
      charts.lag.draw(t, Object.entries(data.lag).map(([id, v]) => ({ name: memberName(id), values: v })), windowSecs);
      charts.lagms.draw(t, Object.entries(data.lag_ms || {}).map(([id, v]) => ({ name: memberName(id), values: v })), windowSecs);
      charts.region.draw(t, Object.entries(data.region_lag_ms || {}).map(([r, v]) => ({ name: r || '(no region)', values: v })), windowSecs);
      lagNote.textContent = 'This node leads: lag of every member, one sample a second, from its history.';
    } else if (clientLag.t.length) {
      const ct = clientLag.t;
      charts.lag.draw(ct, [...clientLag.series.entries()].map(([id, v]) => ({ name: memberName(id), values: v })), windowSecs);
      charts.lagms.draw(ct, [...clientLag.ms.entries()].map(([id, v]) => ({ name: memberName(id), values: v })), windowSecs);
      charts.region.draw(ct, [...clientLag.regions.entries()].map(([r, v]) => ({ name: r || '(no region)', values: v })), windowSecs);
      lagNote.textContent = 'Lag is known on the leader (node ' + leaderId + '); these charts ask it every 2 s while the page is open.';
    } else {
      for (const c of [charts.lag, charts.lagms, charts.region]) c.draw(t, [], windowSecs);
      lagNote.textContent = leaderId === me ? 'No other members.' : 'Waiting for the leader\u2019s view…';
    }
    const last = (a) => (a.length ? a[a.length - 1] : null);
    replace(tiles,
      tile('ops/s (last 5 s)', fmtNum(data.ops.slice(-5).reduce((a, b) => a + b, 0) / Math.max(1, Math.min(5, data.ops.length)))),
      tile('p99', last(data.p99_us) === null ? '–' : fmtMs(last(data.p99_us) / 1000)),
      tile('keys', fmtNum(last(data.keys))),
      tile('data', fmtBytes(last(data.data_bytes))),
      tile('clients', fmtNum(last(data.clients))),
      tile('applied index', fmtNum(last(data.applied))));
  }

  function tile(label, value) {
    return h('div', { class: 'tile' }, h('div', { class: 'muted small' }, label), h('div', { class: 'big' }, value));
  }

  async function poll() {
    try {
      const since = data && data.t.length ? data.t[data.t.length - 1] : 0;
      const d = await api.api('metrics' + (since ? '?since=' + since : ''));
      merge(d);
      redraw();
    } catch (_) { /* shown on the next success */ }
  }

  async function pollCluster() {
    try {
      const c = await api.api('cluster');
      me = c.node;
      leaderId = c.local.leader;
      const view = c.leader_view && c.leader_view.members ? c.leader_view : c.local;
      members = new Map(view.members.map((m) => [String(m.id), m]));
      if (leaderId !== me && c.leader_view && c.leader_view.members) {
        const now = Date.now();
        clientLag.t.push(now);
        const n = clientLag.t.length;
        const put = (map, key, v) => {
          if (!map.has(key)) map.set(key, new Array(n - 1).fill(null));
          map.get(key).push(v ?? null);
        };
        for (const m of c.leader_view.members) {
          if (m.id === leaderId) continue;
          put(clientLag.series, m.id, m.lag_entries);
          put(clientLag.ms, m.id, m.lag_ms);
        }
        for (const r of c.leader_view.regions || []) if (!r.primary) put(clientLag.regions, r.name, r.lag_ms);
        for (const map of [clientLag.series, clientLag.ms, clientLag.regions]) for (const v of map.values()) while (v.length < n) v.push(null);
        if (n > 1800) { clientLag.t.shift(); for (const map of [clientLag.series, clientLag.ms, clientLag.regions]) for (const v of map.values()) v.shift(); }
      }
    } catch (_) { /* keep the last view */ }
  }

  replace(main, h('h1', null, 'Metrics'),
    h('div', { class: 'row toolbar' }, h('span', { class: 'muted' }, 'Time range'), sel),
    tiles,
    h('div', { class: 'charts' }, Object.values(charts).map((c) => c.el)), lagNote);
  pollCluster().then(poll);
  timer = setInterval(poll, 1000);
  clusterTimer = setInterval(pollCluster, 2000);
  const onResize = () => redraw();
  window.addEventListener('resize', onResize);
  return () => { clearInterval(timer); clearInterval(clusterTimer); window.removeEventListener('resize', onResize); };
}
