// End-to-end tests of the web console in Debian's headless chromium, driven by
// playwright-core (no browser download: CHROMIUM names the system binary). Run by
// tests/tests/console.rs, which starts the nodes, seeds the data and checks afterwards
// what the page changed:
//
//   node e2e.mjs single    BASE PASSWORD STANDARD_TOKEN READONLY_TOKEN
//   node e2e.mjs cluster   BASE REPLICA_ID LEADER_ID
//
// Screenshots of each page go to $SHOTS. Prints one JSON line {"ok": true, ...} last.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const scenario = process.argv[2];
const BASE = env('BASE');
const SHOTS = env('SHOTS');
fs.mkdirSync(SHOTS, { recursive: true });

const tid = (id) => `[data-testid="${id}"]`;
const problems = [];
const steps = [];
const t0 = Date.now();
function step(name) {
  steps.push(name);
  console.error(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${name}`);
}

async function until(f, what, timeout = 8000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) { last = e.message; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

async function text(page, sel) {
  return (await page.locator(sel).first().textContent()) || '';
}

async function count(page, sel) {
  return page.locator(sel).count();
}

async function shot(page, name) {
  await page.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(SHOTS, name + '.png') });
}

// Fills the open prompt dialog's fields and presses OK.
async function prompt(page, values) {
  for (const [k, v] of Object.entries(values)) await page.fill(tid('prompt-' + k), v);
  await page.click(tid('prompt-ok'));
  await page.waitForSelector(tid('prompt-ok'), { state: 'detached' });
}

async function confirm(page, yes = true) {
  await page.click(tid(yes ? 'confirm-ok' : 'confirm-cancel'));
  await page.waitForSelector(tid('confirm-ok'), { state: 'detached' });
}

async function openKey(page, name) {
  await page.fill(tid('open-key'), name);
  await page.click(tid('open-key-go'));
  await until(async () => (await text(page, tid('detail-key'))) === name, 'key ' + name + ' opened');
}

async function rest(token, ...args) {
  const r = await fetch(BASE + '/', { method: 'POST', headers: { Authorization: 'Bearer ' + token }, body: JSON.stringify(args) });
  return r.json();
}

async function launch() {
  const ctx = await chromium.launchPersistentContext(env('PROFILE_DIR'), {
    executablePath: env('CHROMIUM'),
    headless: true,
    viewport: { width: 1280, height: 760 },
    deviceScaleFactor: 1,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions'],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(10000);
  // Any alert() means markup ran; any page error or CSP violation is a failure.
  page.on('dialog', (d) => { problems.push('a dialog opened: ' + d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) problems.push('console: ' + m.text());
  });
  return { ctx, page };
}

async function loginWith(page, mode, fields) {
  await page.goto(BASE + '/console/');
  await page.waitForSelector(tid('login-form'));
  await page.click(tid('login-tab-' + mode));
  for (const [k, v] of Object.entries(fields)) await page.fill(tid('login-' + k), v);
  await page.click(tid('login-submit'));
  await page.waitForSelector(tid('nav-browser'));
}

async function single() {
  const { ctx, page } = await launch();
  const STD = env('STANDARD_TOKEN');

  step('login page, wrong password refused');
  await page.goto(BASE + '/console/');
  await page.waitForSelector(tid('login-form'));
  await shot(page, 'login');
  await page.fill(tid('login-password'), 'wrong');
  await page.click(tid('login-submit'));
  await until(async () => (await text(page, tid('login-error'))).includes('WRONGPASS'), 'the login error');

  step('log in with the password');
  await page.fill(tid('login-password'), env('PASSWORD'));
  await page.click(tid('login-submit'));
  await page.waitForSelector(tid('nav-browser'));
  check(await page.evaluate(() => !document.cookie.includes('meridian_console')), 'the session cookie is HttpOnly');
  check(await page.evaluate(() => localStorage.length === 0 && sessionStorage.length === 0), 'nothing in web storage');

  step('data browser lists every key, markup as text');
  await until(async () => (await count(page, tid('key-row'))) >= 9, '9 keys listed');
  const evil = '<script>alert(1)</script>';
  const evilRow = page.locator(tid('key-row')).filter({ hasText: evil });
  check(await evilRow.count() === 1, 'the <script> key is listed as text');
  check((await evilRow.locator('.keyname').textContent()) === evil, 'its name is shown literally');
  check(await page.evaluate(() => document.querySelectorAll('script').length) === 1, 'no script element was injected');
  await evilRow.click();
  await until(async () => (await text(page, tid('string-value'))) === '<img src=x onerror=alert(2)>', 'the markup value shown as text');
  check(await page.evaluate(() => document.querySelectorAll('img[src="x"]').length) === 0, 'no img element was injected');

  step('scan with a pattern and a type filter');
  await page.fill(tid('scan-pattern'), 'user:*');
  await page.click(tid('scan'));
  await until(async () => (await count(page, tid('key-row'))) === 1 && (await text(page, tid('key-row'))).includes('user:1'), 'only user:1');
  await page.fill(tid('scan-pattern'), '*');
  await page.selectOption(tid('scan-type'), 'zset');
  await page.click(tid('scan'));
  await until(async () => (await count(page, tid('key-row'))) === 1 && (await text(page, tid('key-row'))).includes('board'), 'only the zset');
  await page.selectOption(tid('scan-type'), '');
  await page.click(tid('scan'));
  await until(async () => (await count(page, tid('key-row'))) >= 9, 'all keys again');

  step('string: view and edit');
  await openKey(page, 'greeting');
  check((await text(page, tid('string-value'))) === 'hello world', 'string value');
  await page.click(tid('edit-string'));
  await prompt(page, { value: 'edited in the browser' });
  await until(async () => (await text(page, tid('string-value'))) === 'edited in the browser', 'the edited string');

  step('binary string: hex view and hex edit');
  await openKey(page, 'binary');
  await until(async () => (await text(page, tid('string-value'))).includes('00 ff 10 80'), 'hex bytes');
  check((await text(page, tid('string-value'))).includes('hex'), 'marked as hex');
  await page.click(tid('edit-string'));
  check((await page.inputValue(tid('prompt-value'))) === '00 ff 10 80', 'the editor shows hex');
  await prompt(page, { value: 'de ad be ef' });
  await until(async () => (await text(page, tid('string-value'))).includes('de ad be ef'), 'the new bytes');

  step('list: page and push');
  await openKey(page, 'queue');
  await until(async () => (await count(page, tid('list-row'))) === 3, '3 elements');
  await page.click(tid('list-rpush'));
  await prompt(page, { value: 'pushed' });
  await until(async () => (await count(page, tid('list-row'))) === 4, '4 elements');

  step('hash: add a field');
  await openKey(page, 'user:1');
  await until(async () => (await count(page, tid('hash-row'))) === 2, '2 fields');
  await shot(page, 'browser');
  await page.click(tid('hash-add'));
  await prompt(page, { f: 'city', v: 'London' });
  await until(async () => (await count(page, tid('hash-row'))) === 3, '3 fields');

  step('set: add a member');
  await openKey(page, 'tags');
  await until(async () => (await count(page, tid('set-row'))) === 2, '2 members');
  await page.click(tid('set-add'));
  await prompt(page, { f: 'blue' });
  await until(async () => (await count(page, tid('set-row'))) === 3, '3 members');

  step('sorted set: pages by rank, edit a score');
  await openKey(page, 'board');
  await until(async () => (await count(page, tid('zset-row'))) === 50, 'a page of 50');
  check((await text(page, tid('val-range'))).includes('1–50 of 200'), 'range 1-50 of 200');
  await page.click(tid('val-next'));
  await until(async () => (await text(page, tid('val-range'))).includes('51–100 of 200'), 'the second page');
  check((await text(page, tid('zset-row'))).includes('player050'), 'rank 50 first');
  await page.click(tid('val-prev'));
  await until(async () => (await text(page, tid('val-range'))).includes('1–50'), 'the first page again');
  const row7 = page.locator(tid('zset-row')).filter({ hasText: 'player007' });
  await row7.locator(tid('zset-edit')).click();
  await prompt(page, { s: '1000' });
  await until(async () => (await text(page, tid('zset-row'))).includes('player000') && !(await page.locator(tid('zset-row')).filter({ hasText: 'player007' }).count()), 'player007 moved off the first page');
  await shot(page, 'browser-zset');

  step('stream: add an entry');
  await openKey(page, 'events');
  await until(async () => (await count(page, tid('stream-row'))) === 1, '1 entry');
  await page.click(tid('stream-add'));
  await prompt(page, { fv: 'kind login' });
  await until(async () => (await count(page, tid('stream-row'))) === 2, '2 entries');

  step('JSON: pretty-printed, edited');
  await openKey(page, 'doc');
  await until(async () => (await text(page, tid('json-value'))).includes('"name": "meridian"'), 'pretty JSON');
  check((await text(page, tid('json-value'))).includes('\n'), 'on several lines');
  await shot(page, 'browser-json');
  await page.click(tid('edit-json'));
  await prompt(page, { v: '{"name":"console","tags":["a","b"],"n":1}' });
  await until(async () => (await text(page, tid('json-value'))).includes('"name": "console"'), 'the edited document');

  step('new key, TTL set and cleared, rename');
  await page.click(tid('new-key'));
  await prompt(page, { type: 'string', key: 'to-rename', value: 'x' });
  await until(async () => (await text(page, tid('detail-key'))) === 'to-rename', 'the new key opened');
  await page.click(tid('set-ttl'));
  await prompt(page, { secs: '100' });
  await until(async () => /TTL: 1m 40s|TTL: 1m 39s|TTL: 1m 38s/.test(await text(page, tid('detail-ttl'))), 'the TTL shown');
  await page.click(tid('rename'));
  await prompt(page, { name: 'renamed' });
  await until(async () => (await text(page, tid('detail-key'))) === 'renamed', 'the renamed key');
  check(!(await text(page, tid('detail-ttl'))).includes('no TTL'), 'the TTL moved with it');
  await page.click(tid('clear-ttl'));
  await until(async () => (await text(page, tid('detail-ttl'))) === 'TTL: no TTL', 'no TTL');

  step('delete asks first; cancel keeps the key');
  await page.click(tid('new-key'));
  await prompt(page, { type: 'list', key: 'doomed', value: 'x' });
  await until(async () => (await text(page, tid('detail-key'))) === 'doomed', 'doomed opened');
  await page.click(tid('delete-key'));
  await confirm(page, false);
  check((await text(page, tid('detail-key'))) === 'doomed', 'still there after cancel');
  await page.click(tid('delete-key'));
  await confirm(page, true);
  await until(async () => (await text(page, tid('key-detail'))).includes('Deleted'), 'deleted');
  await page.fill(tid('open-key'), 'doomed');
  await page.click(tid('open-key-go'));
  await until(async () => (await count(page, tid('key-missing'))) === 1, 'the key is gone');

  step('command line: typed replies, history, completion');
  await page.click(tid('nav-cli'));
  await page.waitForSelector(tid('cli-input'));
  await page.fill(tid('cli-input'), 'HGETALL user:1');
  await page.press(tid('cli-input'), 'Enter');
  await until(async () => (await count(page, tid('cli-reply') + ' ' + tid('reply-map'))) === 1, 'a map table');
  check((await text(page, tid('reply-map'))).includes('London'), 'the map holds the new field');
  await page.fill(tid('cli-input'), 'SMEMBERS tags');
  await page.press(tid('cli-input'), 'Enter');
  await until(async () => (await count(page, tid('reply-set'))) === 1, 'a set');
  await page.fill(tid('cli-input'), 'SET "cli key" "two words"');
  await page.press(tid('cli-input'), 'Enter');
  await until(async () => (await count(page, tid('cli-entry'))) === 3, 'three entries');
  await page.press(tid('cli-input'), 'ArrowUp');
  await page.press(tid('cli-input'), 'ArrowUp');
  check((await page.inputValue(tid('cli-input'))) === 'SMEMBERS tags', 'up arrow recalls history');
  await page.fill(tid('cli-input'), 'HGETA');
  await page.press(tid('cli-input'), 'Tab');
  await until(async () => (await page.inputValue(tid('cli-input'))) === 'HGETALL ', 'Tab completes HGETALL');
  await until(async () => (await text(page, tid('cli-hint'))).includes('key'), 'the syntax hint from COMMAND DOCS');
  await page.fill(tid('cli-input'), 'ZRANGE board 0 2 WITHSCORES');
  await page.press(tid('cli-input'), 'Enter');
  await until(async () => (await count(page, tid('cli-entry'))) === 4, 'four entries');
  await shot(page, 'cli');
  await page.selectOption(tid('db-select'), '1');
  await page.fill(tid('cli-input'), 'SET indb1 yes');
  await page.press(tid('cli-input'), 'Enter');
  await until(async () => (await count(page, tid('cli-entry'))) === 1, 'the command in database 1');
  await page.selectOption(tid('db-select'), '0');
  check((await rest(STD, 'GET', 'cli key')).result === 'two words', 'quoted arguments');

  step('monitor: live, filter, pause');
  await page.click(tid('nav-monitor'));
  await page.click(tid('monitor-start'));
  await until(async () => (await text(page, tid('monitor-state'))) === 'live', 'monitor live');
  await page.waitForTimeout(300);
  await rest(STD, 'SET', 'monitored', '1');
  await until(async () => (await text(page, tid('monitor-out'))).includes('"monitored"'), 'the SET in the monitor');
  await page.fill(tid('monitor-filter'), 'zzz-nothing');
  check((await count(page, tid('monitor-out') + ' .line')) === 0, 'the filter hides lines');
  await page.fill(tid('monitor-filter'), 'monitored');
  check((await count(page, tid('monitor-out') + ' .line')) >= 1, 'the filter keeps matching lines');
  await page.click(tid('monitor-pause'));
  await rest(STD, 'SET', 'monitored-while-paused', '1');
  await until(async () => (await text(page, tid('monitor-count'))).includes('held'), 'an event held while paused');
  check(!(await text(page, tid('monitor-out'))).includes('while-paused'), 'not shown while paused');
  await page.click(tid('monitor-pause'));
  await until(async () => (await text(page, tid('monitor-out'))).includes('while-paused'), 'shown after resume');
  await page.fill(tid('monitor-filter'), '');
  await shot(page, 'monitor');

  step('pub/sub: subscribe and publish');
  await page.click(tid('nav-pubsub'));
  await page.click(tid('pubsub-start'));
  await until(async () => (await text(page, tid('pubsub-state'))) === 'live', 'subscribed');
  await until(async () => (await text(page, tid('pubsub-out'))).includes('subscribe,news'), 'the confirmation');
  await page.fill(tid('publish-message'), 'hello <b>subscribers</b>');
  await page.click(tid('publish'));
  await until(async () => (await text(page, tid('pubsub-out'))).includes('[news] hello <b>subscribers</b>'), 'the message, as text');
  await shot(page, 'pubsub');

  step('metrics: history at once, then live after traffic');
  await page.click(tid('nav-metrics'));
  await until(async () => (await page.getAttribute(tid('chart-ops'), 'data-last')) !== null, 'charts drawn');
  const before = JSON.parse(await page.getAttribute(tid('chart-keys'), 'data-last'))[0];
  for (let i = 0; i < 20; i++) {
    await fetch(BASE + '/pipeline', {
      method: 'POST', headers: { Authorization: 'Bearer ' + STD },
      body: JSON.stringify(Array.from({ length: 50 }, (_, j) => ['SET', `traffic:${i}:${j}`, 'v'])),
    });
  }
  await until(async () => JSON.parse(await page.getAttribute(tid('chart-keys'), 'data-last'))[0] >= before + 1000, 'the keys chart to grow by 1000', 10000);
  await until(async () => (await page.locator(tid('chart-ops') + ' .lg').count()) >= 2, 'per-command series in the throughput chart');
  await page.click(tid('range-60'));
  await page.waitForTimeout(1200);
  await shot(page, 'metrics');

  step('slowlog and latency');
  await page.click(tid('nav-slowlog'));
  await until(async () => (await count(page, tid('slowlog-row'))) > 0, 'slowlog rows');
  await until(async () => (await text(page, tid('latency-histogram'))).includes('set'), 'a histogram for set');
  await shot(page, 'slowlog');

  step('backups: create, listed');
  await page.click(tid('nav-backups'));
  await page.waitForSelector(tid('backup-list'));
  await page.click(tid('backup-create'));
  await prompt(page, { name: 'e2e-backup' });
  await until(async () => (await text(page, tid('backup-list'))).includes('e2e-backup'), 'the backup listed');
  await shot(page, 'backups');

  step('cluster page of a single node');
  await page.click(tid('nav-cluster'));
  await until(async () => (await count(page, tid('member-row'))) === 1, 'one member');

  step('log out');
  await page.click(tid('logout'));
  await page.waitForSelector(tid('login-form'));
  const after = await page.evaluate(async () => (await fetch('/console/api/session')).status);
  check(after === 401, 'the session is gone after logout');

  step('read-only token: a read-only console');
  await page.click(tid('login-tab-token'));
  await page.fill(tid('login-token'), env('READONLY_TOKEN'));
  await page.click(tid('login-submit'));
  await page.waitForSelector(tid('readonly-badge'));
  await page.click(tid('nav-browser'));
  await until(async () => (await text(page, tid('scan-error'))).includes('NOPERM'), 'SCAN refused to the read-only token');
  check((await count(page, tid('new-key'))) === 0, 'no New key button');
  await openKey(page, 'greeting');
  check((await text(page, tid('string-value'))) === 'edited in the browser', 'reads work');
  for (const b of ['edit-string', 'delete-key', 'rename', 'set-ttl']) check((await count(page, tid(b))) === 0, b + ' hidden');
  await shot(page, 'readonly');
  // The server refuses an edit even when the page is bypassed.
  const refused = await page.evaluate(async () => {
    const s = await (await fetch('/console/api/session')).json();
    const r = await fetch('/console/api/run', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
      body: JSON.stringify({ cmds: [['SET', 'ro-attempt', 'x']] }),
    });
    return (await r.json()).replies[0];
  });
  check(refused.t === 'error' && refused.v.startsWith('NOPERM'), 'SET refused: ' + JSON.stringify(refused));
  await page.click(tid('nav-cli'));
  await page.fill(tid('cli-input'), 'SET ro-attempt x');
  await page.press(tid('cli-input'), 'Enter');
  await until(async () => (await text(page, tid('cli-reply'))).includes('NOPERM'), 'NOPERM in the command line');

  await ctx.close();
}

async function cluster() {
  const { ctx, page } = await launch();
  const replica = env('REPLICA_ID');
  const leader = env('LEADER_ID');
  step('log in (authentication off)');
  await page.goto(BASE + '/console/');
  await until(async () => (await text(page, tid('login-noauth'))).includes('Authentication is off'), 'the no-auth hint');
  await loginWith(page, 'password', {});
  step('cluster view: 3 voters and a replica with its lag');
  await page.click(tid('nav-cluster'));
  await until(async () => (await count(page, tid('member-row'))) === 4, '4 members');
  const row = page.locator(`${tid('member-row')}[data-id="${replica}"]`);
  check((await row.textContent()).includes('read replica'), 'the replica is marked');
  await until(async () => /^\d+$/.test(((await row.locator(tid('member-lag')).textContent()) || '').replace(/[,.k]/g, '')), 'the replica\'s lag');
  const lrow = page.locator(`${tid('member-row')}[data-id="${leader}"]`);
  check((await lrow.textContent()).includes('leader'), 'the leader is marked');
  await until(async () => (await row.locator(tid('member-region')).textContent()) === 'eu-west-1', 'the replica\'s region');
  check((await lrow.locator(tid('member-region')).textContent()) === 'us-east-1', 'the leader\'s region');
  await until(async () => /^\d+ ms$/.test(await row.locator(tid('member-lag-ms')).textContent()), 'the replica\'s lag in time');
  const eu = page.locator(`${tid('region-row')}[data-region="eu-west-1"]`);
  await until(async () => (await eu.count()) === 1 && /ms$/.test(await eu.locator(tid('region-lag-ms')).textContent()), 'the eu-west-1 region and its lag');
  check((await text(page, `${tid('region-row')}[data-region="us-east-1"]`)).includes('primary'), 'the primary region');
  step('add and remove a region, each confirmed');
  await page.click(tid('add-region'));
  await prompt(page, { name: 'ap-south-1' });
  await confirm(page, true);
  const ap = page.locator(`${tid('region-row')}[data-region="ap-south-1"]`);
  await until(async () => (await ap.count()) === 1 && (await ap.textContent()).includes('none yet'), 'the declared region', 10000);
  await shot(page, 'cluster');
  await page.click(tid('remove-region-ap-south-1'));
  await confirm(page, true);
  await until(async () => (await ap.count()) === 0, 'the region removed', 10000);
  step('lag chart on a follower (asks the leader)');
  await page.click(tid('nav-metrics'));
  await until(async () => (await text(page, tid('lag-note'))).includes('known on the leader'), 'the lag note');
  await until(async () => (await page.locator(tid('chart-lag') + ' .lg').count()) >= 3, 'a lag series per member', 10000);
  await until(async () => (await text(page, tid('chart-lag'))).includes('eu-west-1, replica'), 'members named with region and role');
  await until(async () => (await text(page, tid('chart-region-lag'))).includes('eu-west-1'), 'a lag series per region');
  await page.locator(tid('chart-lag-ms')).scrollIntoViewIfNeeded();
  await shot(page, 'metrics-cluster');
  step('transfer leadership to this node, with a confirmation');
  await page.click(tid('nav-cluster'));
  const me = await page.evaluate(async () => (await (await fetch('/console/api/cluster')).json()).node);
  await page.click(tid('transfer-' + me));
  await confirm(page, true);
  await until(async () => (await page.evaluate(async () => (await (await fetch('/console/api/cluster')).json()).local.leader)) === me, 'this node leads', 15000);
  await ctx.close();
}

try {
  if (scenario === 'single') await single();
  else if (scenario === 'cluster') await cluster();
  else throw new Error('unknown scenario ' + scenario);
  if (problems.length) throw new Error('problems in the page:\n' + problems.join('\n'));
  console.log(JSON.stringify({ ok: true, steps }));
} catch (e) {
  console.error('FAILED at step: ' + steps[steps.length - 1]);
  console.error(e.stack || e.message);
  if (problems.length) console.error('page problems:\n' + problems.join('\n'));
  console.log(JSON.stringify({ ok: false, error: String(e.message), steps }));
  process.exit(1);
}
