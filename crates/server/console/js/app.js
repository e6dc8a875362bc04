// The console's shell: log in, the navigation, and one page at a time.
import { h, replace, toast } from './dom.js';
import * as api from './api.js';
import * as browser from './browser.js';
import * as cli from './cli.js';
import * as streams from './stream.js';
import * as charts from './charts.js';
import * as cluster from './cluster.js';
import * as ops from './ops.js';

const PAGES = [
  ['browser', 'Data browser', browser.mountBrowser],
  ['cli', 'Command line', cli.mountCli],
  ['monitor', 'Monitor', streams.mountMonitor],
  ['pubsub', 'Pub/Sub', streams.mountPubSub],
  ['metrics', 'Metrics', charts.mountMetrics],
  ['cluster', 'Cluster', cluster.mountCluster],
  ['slowlog', 'Slowlog & latency', ops.mountSlowlog],
  ['backups', 'Backups', ops.mountBackups],
];

const root = document.getElementById('app');
let unmount = null;

function loginView(message) {
  if (unmount) { unmount(); unmount = null; }
  let mode = 'password';
  const err = h('p', { class: 'error', 'data-testid': 'login-error' }, message || '');
  const user = h('input', { type: 'text', name: 'username', autocomplete: 'username', placeholder: 'username', 'data-testid': 'login-user' });
  const pass = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', placeholder: 'password', 'data-testid': 'login-password' });
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', placeholder: 'REST token', 'data-testid': 'login-token' });
  const userRow = h('label', { class: 'field' }, h('span', null, 'User'), user);
  const passRow = h('label', { class: 'field' }, h('span', null, 'Password'), pass);
  const tokenRow = h('label', { class: 'field' }, h('span', null, 'Token (standard, read-only or ACL RESTTOKEN)'), token);
  const tabs = {};
  const show = (m) => {
    mode = m;
    for (const [k, b] of Object.entries(tabs)) b.classList.toggle('active', k === m);
    userRow.hidden = m !== 'user';
    passRow.hidden = m === 'token';
    tokenRow.hidden = m !== 'token';
  };
  for (const [k, label] of [['password', 'Password'], ['user', 'ACL user'], ['token', 'REST token']]) {
    tabs[k] = h('button', { type: 'button', class: 'tab', 'data-testid': 'login-tab-' + k, onclick: () => show(k) }, label);
  }
  const submit = async (e) => {
    e.preventDefault();
    err.textContent = '';
    const creds = mode === 'token' ? { token: token.value }
      : mode === 'user' ? { username: user.value, password: pass.value }
        : { password: pass.value };
    try {
      await api.login(creds);
      pass.value = '';
      token.value = '';
      shell();
    } catch (ex) {
      err.textContent = ex.message;
    }
  };
  const noAuth = h('p', { class: 'muted small', 'data-testid': 'login-noauth' });
  api.api('hello').then((r) => { if (r && r.auth === false) noAuth.textContent = 'Authentication is off on this node (--no-auth): log in with an empty password.'; }).catch(() => {});
  replace(root, h('div', { class: 'login' },
    h('form', { class: 'card login-card', onsubmit: submit, 'data-testid': 'login-form' },
      h('h1', null, h('img', { src: 'favicon.svg', alt: '', width: 28, height: 28 }), ' Meridian'),
      h('div', { class: 'tabs' }, Object.values(tabs)),
      noAuth, userRow, passRow, tokenRow, err,
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Log in'),
      h('p', { class: 'muted small' }, 'The session is kept by the node (an HttpOnly cookie); nothing is stored in this browser.'))));
  show('password');
  pass.focus();
}

function current() {
  const name = (location.hash || '').replace(/^#\/?/, '');
  return PAGES.find((p) => p[0] === name) ? name : 'browser';
}

function shell() {
  const info = api.session.info;
  const main = h('main', { class: 'page', id: 'page' });
  const nav = h('nav', { class: 'side' },
    PAGES.map(([id, label]) => h('a', { href: '#/' + id, 'data-page': id, 'data-testid': 'nav-' + id }, label)));
  const badge = info.access === 'read-only'
    ? h('span', { class: 'badge warn', 'data-testid': 'readonly-badge' }, 'read-only')
    : info.access === 'user' ? h('span', { class: 'badge' }, 'ACL user') : null;
  const dbSel = h('select', { 'data-testid': 'db-select', title: 'The database commands run in', onchange: (e) => { api.session.db = Number(e.target.value); route(); } },
    Array.from({ length: 16 }, (_, i) => h('option', { value: String(i) }, String(i))));
  dbSel.value = String(api.session.db);
  const top = h('header', { class: 'top' },
    h('div', { class: 'brand' }, h('img', { src: 'favicon.svg', alt: '', width: 22, height: 22 }), ' Meridian'),
    h('div', { class: 'node' }, 'node ', String(info.node), info.region ? ' · ' + info.region : '', ' · v', info.version),
    h('div', { class: 'grow' }),
    h('label', { class: 'db' }, 'database ', dbSel),
    h('div', { class: 'who', 'data-testid': 'whoami' }, info.who, ' ', badge),
    h('button', { class: 'ghost', 'data-testid': 'logout', onclick: async () => { await api.logout(); loginView('Logged out.'); } }, 'Log out'));
  replace(root, h('div', { class: 'shell' }, top, h('div', { class: 'body' }, nav, main)));
  const route = () => {
    const id = current();
    for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.page === id);
    if (unmount) { try { unmount(); } catch (_) { /* ignore */ } unmount = null; }
    replace(main);
    const page = PAGES.find((p) => p[0] === id);
    try {
      unmount = page[2](main, info) || null;
    } catch (e) {
      toast(String(e.message || e), 'error');
    }
  };
  window.onhashchange = route;
  route();
}

api.setLoggedOutHandler(() => loginView('Your session ended: log in again.'));

window.addEventListener('unhandledrejection', (e) => {
  const m = e.reason && e.reason.message ? e.reason.message : String(e.reason);
  if (e.reason && e.reason.status === 401) return;
  toast(m, 'error');
});

(async () => {
  try {
    await api.restore();
    shell();
  } catch (_) {
    loginView('');
  }
})();
