"""The official `upstash-redis` Python SDK against a Meridian node's REST front end.

Run by tests/tests/rest.rs (which installs the package if missing and starts the node):

    UPSTASH_REDIS_REST_URL=http://127.0.0.1:PORT UPSTASH_REDIS_REST_TOKEN=... \
    UPSTASH_REDIS_REST_READONLY_TOKEN=... python3 tests/python/test_upstash_sdk.py

Works under pytest too. Covers strings, generic key commands, hashes, lists, sets,
sorted sets, EVAL/EVALSHA, PUBLISH, pipelines, transactions and read-your-writes sync
tokens.
"""

import json
import os
import sys
import traceback
import uuid

from upstash_redis import Redis
from upstash_redis.errors import UpstashError


def client(**kw) -> Redis:
    # from_env reads UPSTASH_REDIS_REST_URL / UPSTASH_REDIS_REST_TOKEN, as apps do.
    return Redis.from_env(allow_telemetry=False, rest_retries=0, **kw)


def key(name: str) -> str:
    return f"py:{uuid.uuid4().hex[:8]}:{name}"


def test_strings():
    r = client()
    k = key("s")
    assert r.set(k, "hello") is True
    assert r.get(k) == "hello"
    assert r.get(key("missing")) is None
    assert r.append(k, " world") == 11
    assert r.strlen(k) == 11
    assert r.getrange(k, 0, 4) == "hello"
    assert r.set(k, "v2", nx=True) is False
    assert r.set(k, "v3", xx=True, get=True) == "hello world"
    assert r.getdel(k) == "v3"
    assert r.exists(k) == 0
    # Unicode and JSON values survive the base64 round trip the SDK uses by default.
    u = key("u")
    assert r.set(u, "héllo ✓ 日本") is True
    assert r.get(u) == "héllo ✓ 日本"
    doc = {"a": [1, 2, {"b": None}], "s": "x/y?z=1&w"}
    j = key("j")
    r.set(j, json.dumps(doc))
    assert json.loads(r.get(j)) == doc


def test_counters_and_mget():
    r = client()
    c = key("c")
    assert r.incr(c) == 1
    assert r.incrby(c, 41) == 42
    assert r.decr(c) == 41
    assert r.decrby(c, 1) == 40
    assert float(r.incrbyfloat(c, 0.5)) == 40.5
    a, b = key("a"), key("b")
    assert r.mset({a: "1", b: "2"}) is True
    assert r.mget(a, b, key("none")) == ["1", "2", None]
    r.set(a, "not a number")
    try:
        r.incr(a)
    except UpstashError as e:
        assert "not an integer" in str(e), e
    else:
        raise AssertionError("INCR of a non-number must fail")


def test_expiry():
    r = client()
    k = key("e")
    r.set(k, "v")
    assert r.ttl(k) == -1
    assert r.expire(k, 100) is True
    assert 90 <= r.ttl(k) <= 100
    assert 90_000 <= r.pttl(k) <= 100_000
    assert r.persist(k) is True
    assert r.ttl(k) == -1
    r.set(k, "v", ex=50)
    assert 40 <= r.ttl(k) <= 50
    r.setex(k, 30, "w")
    assert r.get(k) == "w" and 20 <= r.ttl(k) <= 30
    assert r.ttl(key("none")) == -2
    assert r.delete(k) == 1
    assert r.exists(k) == 0


def test_hashes():
    r = client()
    h = key("h")
    assert r.hset(h, values={"name": "ada", "lang": "en", "n": "1"}) == 3
    assert r.hget(h, "name") == "ada"
    assert r.hgetall(h) == {"name": "ada", "lang": "en", "n": "1"}
    assert r.hmget(h, "name", "missing") == ["ada", None]
    assert r.hincrby(h, "n", 41) == 42
    assert sorted(r.hkeys(h)) == ["lang", "n", "name"]
    assert r.hlen(h) == 3
    assert r.hexists(h, "lang") is True
    assert r.hdel(h, "lang") == 1
    assert r.hsetnx(h, "name", "x") is False
    assert r.hstrlen(h, "name") == 3


def test_lists():
    r = client()
    lst = key("l")
    assert r.rpush(lst, "a", "b", "c") == 3
    assert r.lpush(lst, "z") == 4
    assert r.lrange(lst, 0, -1) == ["z", "a", "b", "c"]
    assert r.lindex(lst, 1) == "a"
    assert r.llen(lst) == 4
    assert r.lpop(lst) == "z"
    assert r.rpop(lst, 2) == ["c", "b"]
    assert r.lset(lst, 0, "A") is True
    assert r.lrange(lst, 0, -1) == ["A"]
    assert r.lpos(lst, "A") == 0


def test_sets():
    r = client()
    a, b = key("sa"), key("sb")
    assert r.sadd(a, "x", "y", "z") == 3
    assert r.sadd(b, "y", "w") == 2
    assert r.sismember(a, "x") is True
    assert r.smembers(a) == {"x", "y", "z"} or sorted(r.smembers(a)) == ["x", "y", "z"]
    assert set(r.sinter(a, b)) == {"y"}
    assert set(r.sunion(a, b)) == {"w", "x", "y", "z"}
    assert set(r.sdiff(a, b)) == {"x", "z"}
    assert r.scard(a) == 3
    assert r.srem(a, "x") == 1


def test_sorted_sets():
    r = client()
    z = key("z")
    assert r.zadd(z, {"ann": 10, "bob": 20, "cid": 15}) == 3
    assert r.zrange(z, 0, -1) == ["ann", "cid", "bob"]
    assert r.zrange(z, 0, -1, withscores=True) == [("ann", 10.0), ("cid", 15.0), ("bob", 20.0)]
    assert r.zscore(z, "cid") == 15.0
    assert r.zincrby(z, 10, "ann") == 20.0
    assert r.zrank(z, "cid") == 0
    assert r.zcard(z) == 3
    assert r.zcount(z, 15, 20) == 3
    assert r.zrem(z, "bob") == 1
    assert r.zpopmin(z) == [("cid", 15.0)]


def test_eval_and_evalsha():
    r = client()
    k = key("ev")
    script = "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), 7}"
    assert r.eval(script, keys=[k], args=["val"]) == ["val", 7]
    sha = r.script_load("return ARGV[1] .. '!'")
    assert r.evalsha(sha, args=["hi"]) == "hi!"
    assert r.script_exists(sha, "0" * 40) == [True, False]


def test_publish():
    r = client()
    assert r.publish(key("chan"), "nobody listens") == 0


def test_pipeline():
    r = client()
    a, b = key("pa"), key("pb")
    p = r.pipeline()
    p.set(a, "10")
    p.incr(a)
    p.get(a)
    p.mget(a, b)
    assert p.exec() == [True, 11, "11", ["11", None]]
    # Errors in a pipeline are per command: the SDK raises, the other commands ran.
    p = r.pipeline()
    p.set(b, "text")
    p.incr(b)
    p.set(a, "after")
    try:
        p.exec()
        raise AssertionError("the failing INCR must surface")
    except UpstashError as e:
        assert "not an integer" in str(e), e
    assert r.get(b) == "text"
    assert r.get(a) == "after"


def test_transaction():
    r = client()
    a = key("ta")
    t = r.multi()
    t.set(a, "1")
    t.incrby(a, 5)
    t.get(a)
    t.expire(a, 100)
    t.ttl(a)
    res = t.exec()
    assert res[:4] == [True, 6, "6", True], res
    assert 90 <= res[4] <= 100
    assert r.get(a) == "6"


def test_sync_token():
    r = client()
    r.ping()
    before = int(r._sync_token)
    k = key("sync")
    r.set(k, "v1")
    after = int(r._sync_token)
    assert after > before, (before, after)
    # A second client handed the token reads the write (read your writes).
    other = client()
    other._sync_token = r._sync_token
    assert other.get(k) == "v1"
    r.set(k, "v2")
    assert int(r._sync_token) > after


def test_read_only_token():
    ro_token = os.environ.get("UPSTASH_REDIS_REST_READONLY_TOKEN")
    if not ro_token:
        return
    r = client()
    k = key("ro")
    r.set(k, "visible")
    ro = Redis(
        url=os.environ["UPSTASH_REDIS_REST_URL"],
        token=ro_token,
        allow_telemetry=False,
        rest_retries=0,
    )
    assert ro.get(k) == "visible"
    for attempt in (lambda: ro.set(k, "nope"), lambda: ro.keys("*")):
        try:
            attempt()
            raise AssertionError("the read-only token must not write or list keys")
        except UpstashError as e:
            assert "NOPERM" in str(e), e
    assert r.get(k) == "visible"
    bad = Redis(
        url=os.environ["UPSTASH_REDIS_REST_URL"],
        token="wrong",
        allow_telemetry=False,
        rest_retries=0,
    )
    try:
        bad.get(k)
        raise AssertionError("a wrong token must be refused")
    except UpstashError as e:
        assert "WRONGPASS" in str(e), e


def main() -> int:
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")]
    failed = 0
    for name, f in tests:
        try:
            f()
            print(f"PASS {name}")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    print(f"upstash-redis SDK tests: {len(tests) - failed} ok, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
