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

# ---- json_path: options byte (bits 0-2 document: 0-5 fixed, 6-7 own; bits 3-7 command),
# the path, "\n", then the document's JSON text (used with document 6 or 7) ----------
def jp(doc, command, path, text=""):
    return bytes([doc | (command << 3)]) + path.encode() + b"\n" + text.encode()

JSON_PATH = {
    "root": jp(0, 0, "$"),
    "descend-all": jp(0, 0, "$..*"),
    "filter": jp(2, 0, "$.store.book[?(@.price < 10 && @.category == 'reference')].title"),
    "filter-regex": jp(2, 1, '$..book[?(@.author =~ "(?i)^ev.*")]'),
    "filter-root": jp(2, 15, "$..*[?(@ > $.expensive || @.price)]"),
    "slice": jp(1, 9, "$[1:-1:2]"),
    "union": jp(0, 3, "$['a','b',\"k k\"][0,-1]"),
    "legacy": jp(0, 8, ".b[3].d"),
    "legacy-bare": jp(0, 12, "e.f.h"),
    "deep": jp(4, 2, "$..a..b"),
    "wide-budget": jp(5, 0, "$..*..*..*"),
    "nested-filter": jp(0, 0, "$..[?((@.c == 'x') && (!@.d || @.d[0] == true))]"),
    "own-doc": jp(6, 10, "$..n", '{"n":1,"m":{"n":2.5,"a":[{"n":-1}]}}'),
    "own-doc-arr": jp(7, 7, "$[*][0]", '[[1],[true],[],{"0":1}]'),
    "bad": jp(0, 0, "$.a[?(@.b ==)]"),
}

# ---- json_doc: a stored document (types/json/codec.rs) -------------------------------
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n == 0:
            return out + bytes([b])
        out += bytes([b | 0x80])

def jstr(s):
    s = s.encode()
    return b"\x06" + varint(len(s)) + s

def jarr(*vs):
    return b"\x07" + varint(len(vs)) + b"".join(vs)

def jobj(*kvs):
    out = b"\x08" + varint(len(kvs))
    for k, v in kvs:
        k = k.encode()
        out += varint(len(k)) + k + v
    return out

import struct as _st
I = lambda i: b"\x03" + _st.pack("<q", i)
U = lambda u: b"\x04" + _st.pack("<Q", u)
F = lambda f: b"\x05" + _st.pack("<d", f)

deep = I(1)
for _ in range(200):
    deep = jarr(deep)

JSON_DOC = {
    "scalars": b"\x01" + jarr(b"\x00", b"\x01", b"\x02", I(-5), U(2**64 - 1), F(1.5), F(-0.0), jstr("é\u0000\"\\")),
    "object": b"\x01" + jobj(("a", I(1)), ("b", jarr(jstr("x"), jobj())), ("", F(1e300)), ("a", I(2))),
    "deep-200": b"\x01" + deep,
    "small-u64": b"\x01" + U(5),
    "string": b"\x01" + jstr("plain"),
}

# ---- lua_decoders: selector (0 cjson, 1 cmsgpack, 2 struct, 3 bit), parameter, data --
def lua(sel, param, data):
    return bytes([sel, param]) + (data.encode() if isinstance(data, str) else data)

LUA = {
    "cjson": lua(0, 0, '{"a":[1,2.5,-3e-7,null,true,"\\u00e9\\ud83d\\ude00"],"b":{"c":{}},"d":[]}'),
    "cjson-invalid-numbers": lua(0, 0, "[0x1F, inf, -nan, 1e999, 12345678901234567890]"),
    "cjson-depth": lua(0, 5, "[[[[1]]]]"),
    "cjson-strict": lua(0, 2, "[NaN, Infinity]"),
    "cmsgpack": lua(1, 0, bytes([0x93, 0x01, 0xA1, 0x61, 0x82, 0xA1, 0x6B, 0xC3, 0x01, 0xCB]) + _st.pack(">d", 2.5)),
    "cmsgpack-many": lua(1, 2, bytes([0x01, 0xC0, 0xCF]) + _st.pack(">Q", 2**64 - 1) + bytes([0xDC, 0x00, 0x02, 0xCA]) + _st.pack(">f", 1.5) + bytes([0xD9, 0x03]) + b"abc"),
    "cmsgpack-nested": lua(1, 1, bytes([0x91] * 20 + [0x80])),
    "struct": lua(2, 1, b"<bBhHi3I5lLfd\n" + bytes(range(1, 64))),
    "struct-strings": lua(2, 1, b">!4 xBc0 s i\n\x00\x05helloworld\x00\x00\x00\x00\x01\x02\x03\x04"),
    "struct-offset": lua(2, 3, b"I2 c2\n\x00\x00\xff\xfeab"),
    "bit": lua(3, 0, bytes([0x00, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0]) + bytes([0x02] + [0xFF] * 7) + bytes([0x03, 0x05, 0x21, 0, 0, 0, 0, 0]) + bytes([0x00, 0xF7, 0xFF, 0xFF, 0xFF, 0, 0, 0])),
}

def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for n, data in seeds.items():
        with open(os.path.join(d, "seed-" + n), "wb") as f:
            f.write(data)

write("request_bytes", RAW)
write("command_seq", SEQ)
write("json_path", JSON_PATH)
write("json_doc", JSON_DOC)
write("lua_decoders", LUA)
