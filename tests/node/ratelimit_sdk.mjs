// The official @upstash/ratelimit 2.x and @upstash/redis SDKs, unchanged, against real
// Meridian nodes over REST. Driven by tests/tests/ratelimit_sdk.rs, which starts the nodes
// and passes MERIDIAN_REST_URL/_TOKEN (and _2 for the second node of the multi-region
// cases). Each case asserts what the server decided: the (n+1)-th request in a window is
// refused, `remaining` counts down, resets lie in the future, and the keys the scripts
// wrote are there. Prints one "ok <case>" / "FAIL <case>: ..." line per case, then
// "<n> passed, <m> failed"; exits non-zero on any failure.

import { Ratelimit, MultiRegionRatelimit, IpDenyList } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import assert from "node:assert/strict";

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v;
};

const client = (url, token) =>
  new Redis({ url, token, retry: { retries: 1, backoff: () => 100 } });

const redis = client(env("MERIDIAN_REST_URL"), env("MERIDIAN_REST_TOKEN"));
const redis2 = client(env("MERIDIAN_REST_URL_2"), env("MERIDIAN_REST_TOKEN_2"));

// A fresh namespace per run, so a rerun against the same nodes starts clean.
const run = `rl-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Windows are aligned to the epoch: start a case well inside one, so a window boundary
// cannot fall between its requests and reset the counts.
async function insideWindow(windowMs, needMs) {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await sleep(left + 50);
}

// A reply the server decided: not the SDK's timeout fallback (which answers success
// after `timeout` ms without the server) and not its local cache.
function fromServer(res, what) {
  assert.notEqual(res.reason, "timeout", `${what}: the SDK timed out waiting for the server`);
  assert.notEqual(res.reason, "cacheBlock", `${what}: answered from the SDK's cache`);
  return res;
}

function futureReset(reset, windowMs, what) {
  const now = Date.now();
  assert.ok(reset > now, `${what}: reset ${reset} is not in the future (now ${now})`);
  assert.ok(reset <= now + windowMs + 1000, `${what}: reset ${reset} is more than a window away`);
}

const cases = [];
const test = (name, fn) => cases.push([name, fn]);

// ---- single region -------------------------------------------------------------------

test("fixedWindow", async () => {
  const prefix = `${run}:fw`;
  const window = 20_000;
  const rl = new Ratelimit({
    redis,
    prefix,
    limiter: Ratelimit.fixedWindow(3, "20 s"),
    ephemeralCache: false,
  });
  await insideWindow(window, 8_000);
  for (const want of [2, 1, 0]) {
    const r = fromServer(await rl.limit("alice"), "limit");
    assert.equal(r.success, true, `request ${3 - want} refused`);
    assert.equal(r.remaining, want);
    assert.equal(r.limit, 3);
    futureReset(r.reset, window, "limit");
    await r.pending;
  }
  const refused = fromServer(await rl.limit("alice"), "4th");
  assert.equal(refused.success, false, "the 4th request in the window passed");
  assert.equal(refused.remaining, 0);

  // The counter lives on the server, with the window as its TTL.
  const bucket = Math.floor(Date.now() / window);
  const key = `${prefix}:alice:${bucket}`;
  assert.equal(Number(await redis.get(key)), 4);
  const pttl = await redis.pttl(key);
  assert.ok(pttl > 0 && pttl <= window, `PTTL ${pttl}`);
  // Later calls use EVALSHA with the SDK's hard-coded SHA1 of the script (shebang
  // included): the node must have cached the script under that very name.
  assert.deepEqual(await redis.scriptExists("b2efc02798c8e9b471a10f9b1d5745db89923ff3"), [1]);

  const rem = await rl.getRemaining("alice");
  assert.equal(rem.remaining, 0);
  assert.equal(rem.limit, 3);
  futureReset(rem.reset, window, "getRemaining");

  // Identifiers are independent; `rate` consumes several tokens at once.
  const bob = fromServer(await rl.limit("bob", { rate: 2 }), "bob");
  assert.equal(bob.success, true);
  assert.equal(bob.remaining, 1);
  assert.equal(fromServer(await rl.limit("bob", { rate: 2 }), "bob").success, false);

  // resetUsedTokens runs the SDK's SCAN+DEL script (its argument is `null`).
  await rl.resetUsedTokens("alice");
  assert.equal(await redis.exists(key), 0, "resetUsedTokens left the counter");
  const again = fromServer(await rl.limit("alice"), "after reset");
  assert.equal(again.success, true);
  assert.equal(again.remaining, 2);
});

test("fixedWindow blockUntilReady", async () => {
  const rl = new Ratelimit({
    redis,
    prefix: `${run}:block`,
    limiter: Ratelimit.fixedWindow(1, "2 s"),
    ephemeralCache: false,
  });
  await insideWindow(2_000, 1_000);
  assert.equal(fromServer(await rl.limit("u"), "first").success, true);
  assert.equal(fromServer(await rl.limit("u"), "second").success, false);
  const t0 = Date.now();
  const r = fromServer(await rl.blockUntilReady("u", 6_000), "blockUntilReady");
  assert.equal(r.success, true, "blockUntilReady gave up");
  assert.ok(Date.now() - t0 >= 50, "blockUntilReady passed without waiting for the window");
});

test("slidingWindow", async () => {
  const prefix = `${run}:sw`;
  const window = 20_000;
  const rl = new Ratelimit({
    redis,
    prefix,
    limiter: Ratelimit.slidingWindow(3, "20 s"),
    ephemeralCache: false,
  });
  await insideWindow(window, 8_000);
  for (const want of [2, 1, 0]) {
    const r = fromServer(await rl.limit("carol"), "limit");
    assert.equal(r.success, true);
    assert.equal(r.remaining, want);
    assert.equal(r.limit, 3);
    futureReset(r.reset, window, "limit");
  }
  const refused = fromServer(await rl.limit("carol"), "4th");
  assert.equal(refused.success, false, "the 4th request in the window passed");
  assert.equal(refused.remaining, 0);
  // A refused request is not counted.
  const current = Math.floor(Date.now() / window);
  assert.equal(Number(await redis.get(`${prefix}:carol:${current}`)), 3);
  const rem = await rl.getRemaining("carol");
  assert.equal(rem.remaining, 0);
  futureReset(rem.reset, window, "getRemaining");

  // A negative rate gives tokens back.
  const refund = fromServer(await rl.limit("carol", { rate: -1 }), "refund");
  assert.equal(refund.success, true);
  assert.equal(refund.remaining, 1);
  assert.equal(fromServer(await rl.limit("carol"), "after refund").success, true);
  assert.equal(fromServer(await rl.limit("carol"), "after refund").success, false);
});

test("tokenBucket", async () => {
  const prefix = `${run}:tb`;
  const interval = 10_000;
  const rl = new Ratelimit({
    redis,
    prefix,
    limiter: Ratelimit.tokenBucket(1, "10 s", 3),
    ephemeralCache: false,
  });
  for (const want of [2, 1, 0]) {
    const r = fromServer(await rl.limit("dave"), "limit");
    assert.equal(r.success, true);
    assert.equal(r.remaining, want);
    assert.equal(r.limit, 3);
    // The reset comes from the script: refilledAt + interval.
    futureReset(r.reset, interval, "limit");
  }
  const refused = fromServer(await rl.limit("dave"), "4th");
  assert.equal(refused.success, false, "an empty bucket let a request through");
  futureReset(refused.reset, interval, "refused");
  const bucket = await redis.hgetall(`${prefix}:dave`);
  assert.equal(Number(bucket.tokens), 0);
  assert.ok(Number(bucket.refilledAt) <= Date.now());
  const rem = await rl.getRemaining("dave");
  assert.equal(rem.remaining, 0);
  assert.equal(rem.reset, refused.reset);
  // A request larger than what is left is refused and consumes nothing.
  const big = fromServer(await rl.limit("erin", { rate: 5 }), "rate 5");
  assert.equal(big.success, false);
  assert.equal((await rl.getRemaining("erin")).remaining, 3);
});

test("cachedFixedWindow", async () => {
  const prefix = `${run}:cfw`;
  const window = 20_000;
  const limiter = Ratelimit.cachedFixedWindow(2, "20 s");
  const rl = new Ratelimit({ redis, prefix, limiter, ephemeralCache: new Map() });
  await insideWindow(window, 8_000);
  const first = await rl.limit("frank");
  assert.equal(first.success, true);
  assert.equal(first.remaining, 1);
  // The second is decided from the local cache; the server is updated in `pending`.
  const second = await rl.limit("frank");
  assert.equal(second.success, true);
  assert.equal(second.remaining, 0);
  await second.pending;
  const key = `${prefix}:frank:${Math.floor(Date.now() / window)}`;
  assert.equal(Number(await redis.get(key)), 2, "the server counter missed a request");
  assert.equal((await rl.limit("frank")).success, false);
  // Another instance (empty cache) asks the server, which has counted both.
  const other = new Ratelimit({ redis, prefix, limiter, ephemeralCache: new Map() });
  const third = await other.limit("frank");
  assert.equal(third.success, false, "the server-side count was not shared");
  const fresh = new Ratelimit({ redis, prefix, limiter, ephemeralCache: new Map() });
  const rem = await fresh.getRemaining("frank");
  assert.equal(rem.remaining, 0);
  futureReset(rem.reset, window, "getRemaining");
});

// ---- analytics, deny lists, dynamic limits --------------------------------------------

test("analytics", async () => {
  const prefix = `${run}:an`;
  const rl = new Ratelimit({
    redis,
    prefix,
    limiter: Ratelimit.fixedWindow(1, "20 s"),
    analytics: true,
    ephemeralCache: false,
  });
  await insideWindow(20_000, 5_000);
  const ok = fromServer(await rl.limit("gina", { geo: { country: "DE" } }), "1st");
  await ok.pending;
  const no = fromServer(await rl.limit("gina"), "2nd");
  await no.pending;
  assert.equal(ok.success, true);
  assert.equal(no.success, false);
  const usage = await rl.analytics.getUsage();
  assert.deepEqual(usage.gina, { success: 1, blocked: 1 });
  const top = await rl.analytics.getMostAllowedBlocked(2);
  assert.deepEqual(top.allowed, [{ identifier: "gina", count: 1 }]);
  assert.deepEqual(top.ratelimited, [{ identifier: "gina", count: 1 }]);
  // Grouped per bucket by a field of the recorded events (cjson in the script; Lua's
  // true/false come back as 1/null).
  const byId = await rl.analytics.getUsageOverTime(1, "identifier");
  assert.equal(byId.length, 1);
  assert.deepEqual(byId[0].identifier, { gina: 2 });
  const bySuccess = await rl.analytics.getUsageOverTime(1, "success");
  assert.deepEqual(bySuccess[0].success, { true: 1, false: 1 });
  // The geo fields passed to limit() are recorded with the event.
  const bucket = rl.analytics.analytics.getBucket(Date.now());
  const events = await redis.zrange(`${prefix}:events:${bucket}`, 0, -1);
  assert.ok(
    events.some((e) => e.identifier === "gina" && e.country === "DE" && e.success === true),
    JSON.stringify(events)
  );
});

test("deny list (IP list fetch disabled)", async () => {
  const prefix = `${run}:deny`;
  // Marks the IP list as disabled, so the SDK never fetches it from the network.
  await IpDenyList.disableIpDenyList(redis, prefix);
  assert.equal(await redis.get(`${prefix}:ipDenyListStatus`), "disabled");
  await redis.sadd(`${prefix}:denyList:all`, "203.0.113.9", "mallory");
  const rl = new Ratelimit({
    redis,
    prefix,
    limiter: Ratelimit.fixedWindow(10, "20 s"),
    enableProtection: true,
    ephemeralCache: false,
  });
  const byIp = await rl.limit("henry", { ip: "203.0.113.9" });
  assert.equal(byIp.success, false, "a denied IP passed");
  assert.equal(byIp.reason, "denyList");
  assert.equal(byIp.deniedValue, "203.0.113.9");
  const byId = await rl.limit("mallory");
  assert.equal(byId.success, false, "a denied identifier passed");
  assert.equal(byId.deniedValue, "mallory");
  const fine = fromServer(await rl.limit("henry", { ip: "198.51.100.1" }), "allowed");
  assert.equal(fine.success, true);
  assert.equal(fine.reason, undefined);
  await Promise.all([byIp.pending, byId.pending, fine.pending]);
  // Still disabled, with no TTL: nothing tried to refresh the list.
  assert.equal(await redis.get(`${prefix}:ipDenyListStatus`), "disabled");
  assert.equal(await redis.ttl(`${prefix}:ipDenyListStatus`), -1);
});

test("dynamic limits", async () => {
  const prefix = `${run}:dyn`;
  const window = 20_000;
  const opts = { redis, prefix, dynamicLimits: true, ephemeralCache: false };
  const fw = new Ratelimit({ ...opts, limiter: Ratelimit.fixedWindow(5, "20 s") });
  await insideWindow(window, 8_000);
  assert.deepEqual(await fw.getDynamicLimit(), { dynamicLimit: null });
  await fw.setDynamicLimit({ limit: 2 });
  assert.deepEqual(await fw.getDynamicLimit(), { dynamicLimit: 2 });
  for (const want of [1, 0]) {
    const r = fromServer(await fw.limit("ivan"), "limit");
    assert.equal(r.success, true);
    assert.equal(r.limit, 2, "the dynamic limit was not applied");
    assert.equal(r.remaining, want);
  }
  assert.equal(fromServer(await fw.limit("ivan"), "3rd").success, false);
  assert.equal((await fw.getRemaining("ivan")).limit, 2);

  const sw = new Ratelimit({ ...opts, limiter: Ratelimit.slidingWindow(5, "20 s") });
  assert.equal(fromServer(await sw.limit("judy"), "sw").limit, 2);
  assert.equal(fromServer(await sw.limit("judy"), "sw").success, true);
  assert.equal(fromServer(await sw.limit("judy"), "sw").success, false);
  const tb = new Ratelimit({ ...opts, limiter: Ratelimit.tokenBucket(1, "10 s", 5) });
  const t = fromServer(await tb.limit("kim"), "tb");
  assert.equal(t.limit, 2);
  assert.equal(t.remaining, 1);

  // Removing it falls back to the constructor's limit.
  await fw.setDynamicLimit({ limit: false });
  assert.deepEqual(await fw.getDynamicLimit(), { dynamicLimit: null });
  const back = fromServer(await fw.limit("ivan"), "after removal");
  assert.equal(back.limit, 5);
  assert.equal(back.success, true);
  assert.equal(back.remaining, 1);
});

// ---- multi region (two nodes) ---------------------------------------------------------

test("MultiRegionRatelimit fixedWindow", async () => {
  const prefix = `${run}:mr`;
  const window = 20_000;
  const limiter = MultiRegionRatelimit.fixedWindow(3, "20 s");
  const rl = new MultiRegionRatelimit({ redis: [redis, redis2], prefix, limiter });
  await insideWindow(window, 8_000);
  for (const want of [2, 1, 0]) {
    const r = fromServer(await rl.limit("leo"), "limit");
    assert.equal(r.success, true);
    assert.equal(r.remaining, want);
    futureReset(r.reset, window, "limit");
    await r.pending;
  }
  const refused = fromServer(await rl.limit("leo"), "4th");
  assert.equal(refused.success, false, "the 4th request in the window passed");
  await refused.pending;
  const key = `${prefix}:leo:${Math.floor(Date.now() / window)}`;
  assert.equal(await redis.hlen(key), 4);
  assert.equal(await redis2.hlen(key), 4);
  const rem = await rl.getRemaining("leo");
  assert.equal(rem.remaining, 0);

  // Requests seen by one region only are copied to the other by the next request's sync.
  const only1 = new MultiRegionRatelimit({ redis: [redis], prefix, limiter });
  for (let i = 0; i < 2; i++) await (await only1.limit("mia")).pending;
  const mKey = `${prefix}:mia:${Math.floor(Date.now() / window)}`;
  assert.equal(await redis.hlen(mKey), 2);
  assert.equal(await redis2.hlen(mKey), 0);
  const both = new MultiRegionRatelimit({ redis: [redis, redis2], prefix, limiter });
  await (await both.limit("mia")).pending;
  assert.equal(await redis.hlen(mKey), 3);
  assert.equal(await redis2.hlen(mKey), 3, "sync did not copy the other region's requests");
  const last = fromServer(await both.limit("mia"), "4th");
  assert.equal(last.success, false);
});

test("MultiRegionRatelimit slidingWindow", async () => {
  const prefix = `${run}:mrs`;
  const window = 20_000;
  const rl = new MultiRegionRatelimit({
    redis: [redis, redis2],
    prefix,
    limiter: MultiRegionRatelimit.slidingWindow(2, "20 s"),
  });
  await insideWindow(window, 8_000);
  for (const want of [1, 0]) {
    const r = fromServer(await rl.limit("nina"), "limit");
    assert.equal(r.success, true);
    assert.equal(r.remaining, want);
    futureReset(r.reset, window, "limit");
    await r.pending;
  }
  const refused = fromServer(await rl.limit("nina"), "3rd");
  assert.equal(refused.success, false, "the 3rd request in the window passed");
  await refused.pending;
  const rem = await rl.getRemaining("nina");
  assert.equal(rem.remaining, 0);
  const key = `${prefix}:nina:${Math.floor(Date.now() / window)}`;
  assert.equal(await redis.hlen(key), 2);
  assert.equal(await redis2.hlen(key), 2);
});

// ---- runner ------------------------------------------------------------------------------

const only = process.env.RATELIMIT_CASES?.split(",");
let passed = 0;
let failed = 0;
for (const [name, fn] of cases) {
  if (only && !only.includes(name)) continue;
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
