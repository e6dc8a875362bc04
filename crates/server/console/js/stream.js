// MONITOR and pub/sub over the REST protocol's server-sent-event routes, with pause
// (events keep arriving and are held, up to a limit) and a filter.
import { h, replace, toast } from './dom.js';
import * as api from './api.js';

const KEEP = 2000;

function streamView({ title, testid, help, start, controls, format }) {
  const lines = [];
  let held = [];
  let paused = false;
  let stop = null;
  const box = h('div', { class: 'stream-out', 'data-testid': testid + '-out' });
  const filter = h('input', { type: 'text', placeholder: 'filter (text, or /regex/)', 'data-testid': testid + '-filter' });
  const count = h('span', { class: 'muted small', 'data-testid': testid + '-count' }, '0 events');
  const state = h('span', { class: 'badge', 'data-testid': testid + '-state' }, 'stopped');
  const pauseBtn = h('button', { 'data-testid': testid + '-pause', disabled: true, onclick: () => {
    paused = !paused;
    pauseBtn.textContent = paused ? 'Resume' : 'Pause';
    state.textContent = paused ? 'paused' : 'live';
    if (!paused) { for (const l of held) add(l); held = []; showCount(); }
  } }, 'Pause');
  let total = 0;

  const matcher = () => {
    const f = filter.value;
    if (!f) return () => true;
    const m = f.match(/^\/(.*)\/([a-z]*)$/);
    if (m) { try { const re = new RegExp(m[1], m[2]); return (s) => re.test(s); } catch (_) { return () => true; } }
    const low = f.toLowerCase();
    return (s) => s.toLowerCase().includes(low);
  };
  let match = matcher();
  const redraw = () => {
    match = matcher();
    replace(box, lines.filter((l) => match(l)).map((l) => h('div', { class: 'line' }, l)));
  };
  filter.addEventListener('input', redraw);

  function add(text) {
    lines.push(text);
    if (lines.length > KEEP) { lines.shift(); if (box.firstChild && lines.length % 50 === 0) redraw(); }
    if (match(text)) {
      const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
      box.appendChild(h('div', { class: 'line' }, text));
      while (box.childNodes.length > KEEP) box.removeChild(box.firstChild);
      if (atEnd) box.scrollTop = box.scrollHeight;
    }
  }
  const showCount = () => { count.textContent = total + ' events' + (held.length ? ', ' + held.length + ' held' : ''); };
  function onEvent(data) {
    total++;
    const text = format ? format(data) : data;
    if (text !== null) {
      if (paused) { held.push(text); if (held.length > KEEP) held.shift(); } else add(text);
    }
    showCount();
  }
  const startBtn = h('button', { class: 'primary', 'data-testid': testid + '-start', onclick: () => {
    if (stop) { stop(); stop = null; startBtn.textContent = 'Start'; state.textContent = 'stopped'; pauseBtn.disabled = true; return; }
    const path = start();
    if (!path) return;
    stop = api.stream(path, onEvent, (err) => {
      stop = null;
      startBtn.textContent = 'Start';
      state.textContent = 'stopped';
      pauseBtn.disabled = true;
      if (err) toast(err, 'error');
    });
    startBtn.textContent = 'Stop';
    state.textContent = 'live';
    pauseBtn.disabled = false;
    paused = false;
    pauseBtn.textContent = 'Pause';
  } }, 'Start');
  const clearBtn = h('button', { class: 'ghost', onclick: () => { lines.length = 0; held = []; replace(box); } }, 'Clear');
  const el = h('div', null, h('h1', null, title), h('p', { class: 'muted' }, help),
    h('div', { class: 'row toolbar' }, controls || null, startBtn, pauseBtn, clearBtn, filter, state, count), box);
  return { el, unmount: () => { if (stop) stop(); } };
}

export function mountMonitor(main) {
  const v = streamView({
    title: 'Monitor',
    testid: 'monitor',
    help: 'Every command this node receives, as MONITOR shows it (the REST /monitor stream). Other nodes\u2019 clients are not shown.',
    start: () => 'monitor',
    format: (d) => (d === '"OK"' ? null : d),
  });
  replace(main, v.el);
  return v.unmount;
}

export function mountPubSub(main, info) {
  const chan = h('input', { type: 'text', placeholder: 'channel or pattern', value: 'news', 'data-testid': 'pubsub-channel' });
  const pat = h('input', { type: 'checkbox', 'data-testid': 'pubsub-pattern' });
  const v = streamView({
    title: 'Pub/Sub',
    testid: 'pubsub',
    help: 'SUBSCRIBE or PSUBSCRIBE over the REST event stream; messages published on any node arrive here.',
    controls: [chan, h('label', { class: 'row' }, pat, 'pattern')],
    start: () => {
      if (!chan.value) { toast('give a channel', 'error'); return null; }
      return (pat.checked ? 'psubscribe/' : 'subscribe/') + encodeURIComponent(chan.value);
    },
    format: (d) => {
      // message,<channel>,<payload> / pmessage,<pattern>,<channel>,<payload>
      if (d.startsWith('message,')) { const r = d.slice(8); const i = r.indexOf(','); return '[' + r.slice(0, i) + '] ' + r.slice(i + 1); }
      if (d.startsWith('pmessage,')) { const r = d.slice(9).split(','); return '[' + r[1] + ' ~ ' + r[0] + '] ' + r.slice(2).join(','); }
      return '· ' + d;
    },
  });
  const pubChan = h('input', { type: 'text', placeholder: 'channel', value: 'news', 'data-testid': 'publish-channel' });
  const pubMsg = h('input', { type: 'text', placeholder: 'message', 'data-testid': 'publish-message' });
  const pub = info.can_write ? h('form', { class: 'row toolbar', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await api.cmd('PUBLISH', pubChan.value, pubMsg.value);
      toast('Published to ' + r.v + ' subscriber(s) on the leader');
      pubMsg.value = '';
    } catch (x) { toast(x.message, 'error'); }
  } }, h('b', null, 'Publish'), pubChan, pubMsg, h('button', { type: 'submit', 'data-testid': 'publish' }, 'Send')) : null;
  replace(main, v.el, pub);
  return v.unmount;
}
