#!/usr/bin/env python3
"""Writes the committed seed inputs (corpus/<target>/seed-*). Rerun after changing the
input format in src/lib.rs (Decoder); libFuzzer grows the rest of the corpus itself."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

def resp(*argv):
    out = b"*%d\r\n" % len(argv)
    for a in argv:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

# ---- request_bytes: an options byte, then what a client sends ----------------------
RAW = {
    "strings": b"\x00" + resp("SET", "k", "10", "EX", "100") + resp("INCRBY", "k", "5") + resp("GET", "k"),
    "inline": b"\x01" + b"SET k v\r\nAPPEND k \"a\\x00b\"\r\nGETRANGE k 0 -1\r\n",
    "lists": b"\x00" + resp("RPUSH", "l", "a", "b", "c") + resp("LRANGE", "l", "0", "-1") + resp("LPOS", "l", "b", "RANK", "-1"),
    "zset": b"\x01" + resp("ZADD", "z", "1", "a", "inf", "b") + resp("ZRANGE", "z", "0", "-1", "WITHSCORES"),
    "acl": b"\x02" + resp("GET", "k1") + resp("SET", "x1", "v") + resp("GET", "secret"),
    "huge-header": b"\x00*1048576\r\n$536870912\r\n",
    "stream": b"\x00" + resp("XADD", "x", "*", "f", "v") + resp("XRANGE", "x", "-", "+"),
}

# ---- command_seq: see Decoder in src/lib.rs ------------------------------------------
KEYS = ["k", "k1", "k2", "{k}a", "{k}b", "s", "l", "h", "z", "x", "j", "g", "r1", "w1", "", "x1"]

def name(n):
    return bytes([0xFF, len(n)]) + n.encode()

def key(k):
    return bytes([0x00, KEYS.index(k)])

def small(i):  # 0..15
    return bytes([0x09 | (i << 4)])

def raw(b):
    b = b.encode() if isinstance(b, str) else b
    return bytes([0x05, len(b)]) + b

def cmd(n, *args):
    return name(n) + bytes([len(args) << 2]) + b"".join(args)

def bulk(n, many, *args):
    """A command in bulk mode: `args` (what the arity asks for), then 17 + many pairs."""
    return name(n) + bytes([12 << 2, many]) + b"".join(args)

SEQ = {
    "bulk": b"\x01" + bulk("zadd", 40, key("z"), small(1), raw("a")) + bulk("sadd", 60, key("s"), raw("a")) + bulk("rpush", 30, key("l"), raw("a")) + bulk("hset", 50, key("h"), raw("f"), raw("v")) + cmd("zrangestore", key("k2"), key("z"), small(0), bytes([0x0A | (1 << 4)])) + cmd("del", key("z"), key("s")) + cmd("ltrim", key("l"), small(1), small(3)) + cmd("hgetall", key("h")),
    "set-get": b"\x00" + cmd("set", key("k"), raw("v")) + cmd("append", key("k"), raw("xyz")) + cmd("getrange", key("k"), small(0), bytes([0x0A | (1 << 4)])),
    "list": b"\x00" + cmd("rpush", key("l"), raw("a"), raw("b"), raw("c")) + cmd("lrange", key("l"), small(0), bytes([0x0A | (1 << 4)])) + cmd("lmove", key("l"), key("l"), raw("LEFT"), raw("RIGHT")),
    "hash": b"\x01" + cmd("hset", key("h"), raw("f"), small(1), raw("g"), small(2)) + cmd("hincrby", key("h"), raw("f"), raw("9223372036854775807")) + cmd("hgetall", key("h")),
    "zset": b"\x00" + cmd("zadd", key("z"), small(1), raw("a"), raw("inf"), raw("b")) + cmd("zrangebyscore", key("z"), raw("-inf"), raw("+inf"), raw("WITHSCORES"), raw("LIMIT"), small(0), small(5)),
    "set": b"\x01" + cmd("sadd", key("s"), raw("a"), raw("b")) + cmd("srandmember", key("s"), bytes([0x0A | (5 << 4)])) + cmd("sintercard", small(1), key("s"), raw("LIMIT"), small(1)),
    "stream": b"\x00" + cmd("xadd", key("x"), raw("*"), raw("f"), raw("v")) + cmd("xgroup", raw("CREATE"), key("x"), raw("g"), raw("0")) + cmd("xreadgroup", raw("GROUP"), raw("g"), raw("c"), raw("COUNT"), small(1), raw("STREAMS"), key("x"), raw(">")) + cmd("xautoclaim", key("x"), raw("g"), raw("c2"), small(0), raw("0"), raw("COUNT"), small(2)),
    "json": b"\x00" + cmd("json.set", key("j"), raw("$"), raw('{"a":1,"b":[1,2,3]}')) + cmd("json.arrinsert", key("j"), raw("$.b"), small(1), raw("9")) + cmd("json.get", key("j"), raw("$..*")),
    "geo": b"\x00" + cmd("geoadd", key("g"), raw("13.361389"), raw("38.115556"), raw("p")) + cmd("geosearch", key("g"), raw("FROMLONLAT"), raw("15"), raw("37"), raw("BYRADIUS"), raw("200"), raw("KM"), raw("ASC")),
    "bitmap": b"\x00" + cmd("setbit", key("k"), small(7), small(1)) + cmd("bitfield", key("k"), raw("INCRBY"), raw("u8"), raw("#1"), small(9)) + cmd("bitpos", key("k"), small(1)),
    "expire": b"\x00" + cmd("set", key("k"), raw("v"), raw("PX"), small(5)) + b"\xFE\x10\x00" + cmd("ttl", key("k")) + cmd("scan", small(0), raw("MATCH"), raw("k*")),
    "sort": b"\x00" + cmd("rpush", key("l"), small(3), small(1), small(2)) + cmd("sort", key("l"), raw("LIMIT"), small(0), small(2), raw("DESC"), raw("STORE"), key("k2")),
    "acl": b"\x02" + cmd("acl", raw("SETUSER"), raw("u"), raw("on"), raw(">p"), raw("~k*"), raw("+@read"), raw("(~x* +set)")) + cmd("set", key("x1"), raw("v")) + cmd("get", key("k1")),
    # LUA[1] is "return redis.call('set', KEYS[1], ARGV[1])", LUA[18] "while true do end".
    "script": b"\x00" + cmd("eval", bytes([0x0D, 1]), small(1), key("k"), raw("v")) + cmd("eval", bytes([0x0D, 18]), small(0)) + cmd("get", key("k")),
    "hll": b"\x00" + cmd("pfadd", key("k"), raw("a"), raw("b")) + cmd("pfcount", key("k")),
}

def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for n, data in seeds.items():
        with open(os.path.join(d, "seed-" + n), "wb") as f:
            f.write(data)

write("request_bytes", RAW)
write("command_seq", SEQ)
