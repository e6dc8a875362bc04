//! DUMP / RESTORE against a stock redis-server 7.0: the same values built on both
//! (every type, small and large shapes: >128 elements, >64-byte values, integers,
//! negative and float scores, a stream with deleted entries, groups, PEL and
//! consumers), then
//! - DUMP on redis-server (LZF compression on, its default) → RESTORE on Meridian,
//! - DUMP on Meridian → RESTORE on redis-server,
//!
//! each followed by every read of the value, compared with the original; with
//! `rdbcompression no` the payloads of values whose order both keep are compared byte
//! for byte. Then Redis's errors and options (corrupt checksum, BUSYKEY, REPLACE,
//! ABSTTL, IDLETIME/FREQ, TTLs) compared reply for reply.

use meridian_tests::{connect, RedisServer, Server};
use redis::{Connection, Value};

/// Time fields (and Redis 7.2 additions Meridian shows) left out of comparisons.
const DROPPED: &[&str] = &["idle", "inactive", "seen-time", "active-time"];

fn normalize(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let named = items.len() % 2 == 0
                && items
                    .iter()
                    .step_by(2)
                    .all(|k| matches!(k, Value::BulkString(_)));
            let mut out = Vec::new();
            let mut it = items.into_iter();
            while let Some(x) = it.next() {
                if named {
                    let y = it.next().expect("even");
                    if let Value::BulkString(k) = &x {
                        if DROPPED.iter().any(|d| d.as_bytes() == k.as_slice()) {
                            continue;
                        }
                    }
                    out.push(normalize(x));
                    out.push(normalize(y));
                } else {
                    out.push(normalize(x));
                }
            }
            Value::Array(out)
        }
        Value::Int(n) if n > 1_000_000_000_000 => Value::Int(0),
        other => other,
    }
}

fn q(c: &mut Connection, argv: &[&[u8]]) -> String {
    let mut cmd = redis::cmd(std::str::from_utf8(argv[0]).unwrap());
    for a in &argv[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<Value>(c) {
        Ok(v) => format!("{:?}", normalize(v)),
        Err(e) => format!(
            "error: {} {}",
            e.code().unwrap_or_default(),
            e.detail().unwrap_or_default()
        ),
    }
}

fn qs(c: &mut Connection, argv: &[&str]) -> String {
    let v: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    q(c, &v)
}

/// Sorted elements of an array reply (sets; hash pairs as "field=value").
fn sorted(c: &mut Connection, argv: &[&str], pairs: bool) -> String {
    let mut cmd = redis::cmd(argv[0]);
    for a in &argv[1..] {
        cmd.arg(*a);
    }
    let items: Vec<Vec<u8>> = cmd.query(c).expect("array reply");
    let mut out: Vec<String> = if pairs {
        items
            .chunks(2)
            .map(|p| format!("{:?}={:?}", p[0], p.get(1)))
            .collect()
    } else {
        items.iter().map(|m| format!("{m:?}")).collect()
    };
    out.sort();
    out.join(",")
}

/// Every read of `key`'s value that does not depend on insertion order or time.
fn reads(c: &mut Connection, key: &str) -> Vec<String> {
    let ty: String = redis::cmd("TYPE").arg(key).query(c).expect("TYPE");
    let mut out = vec![
        ty.clone(),
        qs(c, &["PTTL", key]).replace(char::is_numeric, ""),
    ];
    match ty.as_str() {
        "string" => {
            out.push(qs(c, &["GET", key]));
            out.push(qs(c, &["STRLEN", key]));
        }
        "list" => {
            out.push(qs(c, &["LRANGE", key, "0", "-1"]));
            out.push(qs(c, &["LLEN", key]));
            out.push(qs(c, &["LINDEX", key, "-1"]));
        }
        "set" => {
            out.push(sorted(c, &["SMEMBERS", key], false));
            out.push(qs(c, &["SCARD", key]));
        }
        "hash" => {
            out.push(sorted(c, &["HGETALL", key], true));
            out.push(qs(c, &["HLEN", key]));
        }
        "zset" => {
            out.push(qs(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"]));
            out.push(qs(c, &["ZCARD", key]));
        }
        "stream" => {
            out.push(qs(c, &["XRANGE", key, "-", "+"]));
            out.push(qs(c, &["XLEN", key]));
            out.push(qs(c, &["XINFO", "STREAM", key, "FULL"]));
            out.push(qs(c, &["XINFO", "GROUPS", key]));
            out.push(qs(c, &["XPENDING", key, "g1"]));
            out.push(qs(c, &["XINFO", "CONSUMERS", key, "g1"]));
        }
        _ => {}
    }
    // Error texts name the key; copies have other names.
    out.iter()
        .map(|r| r.replace(&format!("'{key}'"), "'KEY'"))
        .collect()
}

/// The same values on both servers, built by commands.
fn build(c: &mut Connection) {
    let mut run = |argv: Vec<String>| {
        let mut cmd = redis::cmd(&argv[0]);
        for a in &argv[1..] {
            cmd.arg(a.as_str());
        }
        cmd.query::<Value>(c).expect("setup command");
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    run(s(&["SET", "str", "hello"]));
    run(s(&["SET", "int8", "-100"]));
    run(s(&["SET", "int32", "2147483647"]));
    run(s(&["SET", "int64", "-9223372036854775808"]));
    run(s(&["SET", "long", &"abc".repeat(400)]));
    run(s(&["SET", "bin", "\u{0}\u{1}\u{ff}x"]));
    run(s(&["PFADD", "hll", "a", "b", "c"]));
    run(s(&["SET", "ttl", "v", "PX", "500000"]));
    run(s(&["RPUSH", "list", "a", "1", "-7", "", "3.5", "40000"]));
    for i in 0..400 {
        run(vec![
            "RPUSH".into(),
            "biglist".into(),
            format!("{i}:{}", "v".repeat(i % 120)),
        ]);
    }
    run(s(&["SADD", "iset", "1", "-5", "70000", "9"]));
    run(s(&["SADD", "i64set", "1", "9000000000"]));
    run(s(&["SADD", "sset", "a", "b", "1"]));
    for i in 0..600 {
        run(vec!["SADD".into(), "bigiset".into(), (i * 7).to_string()]);
    }
    for i in 0..200 {
        run(vec!["SADD".into(), "bigsset".into(), format!("member-{i}")]);
    }
    run(s(&["HSET", "hash", "a", "1", "b", "value", "c", "-3"]));
    run(s(&["HSET", "widehash", "f", &"w".repeat(65)]));
    for i in 0..200 {
        run(vec![
            "HSET".into(),
            "bighash".into(),
            format!("f{i}"),
            i.to_string(),
        ]);
    }
    run(s(&[
        "ZADD", "zset", "1.5", "a", "-2", "b", "0.1", "c", "3", "d", "1e20", "e", "-inf", "f",
    ]));
    run(s(&["ZADD", "widezset", "1", &"m".repeat(70)]));
    for i in 0..200 {
        run(vec![
            "ZADD".into(),
            "bigzset".into(),
            format!("{}", (i as f64) / 8.0 - 7.0),
            format!("m{i:03}"),
        ]);
    }
    for i in 1..=300 {
        let f = if i % 4 == 0 { "other" } else { "f" };
        run(vec![
            "XADD".into(),
            "stream".into(),
            format!("{i}-1"),
            f.into(),
            i.to_string(),
            "g".into(),
            "x".repeat(i % 50),
        ]);
    }
    run(s(&["XDEL", "stream", "5-1", "150-1", "1-1"]));
    run(s(&["XGROUP", "CREATE", "stream", "g1", "0"]));
    run(s(&["XGROUP", "CREATE", "stream", "g2", "$"]));
    run(s(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "3",
        "STREAMS",
        "stream",
        ">",
    ]));
    run(s(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "2",
        "STREAMS",
        "stream",
        ">",
    ]));
    run(s(&["XACK", "stream", "g1", "2-1"]));
    run(s(&["XGROUP", "CREATECONSUMER", "stream", "g2", "carol"]));
    for i in 1..=5 {
        run(vec![
            "XADD".into(),
            "cleanstream".into(),
            format!("{i}-0"),
            "a".into(),
            i.to_string(),
        ]);
    }
}

const KEYS: &[&str] = &[
    "str",
    "int8",
    "int32",
    "int64",
    "long",
    "bin",
    "hll",
    "ttl",
    "list",
    "biglist",
    "iset",
    "i64set",
    "sset",
    "bigiset",
    "bigsset",
    "hash",
    "widehash",
    "bighash",
    "zset",
    "widezset",
    "bigzset",
    "stream",
    "cleanstream",
];

/// Keys whose DUMP both servers write identically (rdbcompression no): the order of
/// their elements is the same on both sides.
const SAME_BYTES: &[&str] = &[
    "str",
    "int8",
    "int32",
    "int64",
    "long",
    "bin",
    "hll",
    "list",
    "biglist",
    "iset",
    "i64set",
    "hash",
    "zset",
    "widezset",
    "bigzset",
    "cleanstream",
];

fn dump(c: &mut Connection, key: &str) -> Vec<u8> {
    redis::cmd("DUMP").arg(key).query(c).expect("DUMP")
}

fn restore(c: &mut Connection, key: &str, ttl: &str, payload: &[u8], opts: &[&str]) -> String {
    let mut argv: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload];
    argv.extend(opts.iter().map(|o| o.as_bytes()));
    q(c, &argv)
}

#[test]
fn values_move_both_ways_with_redis() {
    let redis_server = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis_server.port));
    let server = Server::start();
    let mut ours = server.client();
    build(&mut theirs);
    build(&mut ours);
    let mut diffs = Vec::new();
    for k in KEYS {
        let original = reads(&mut theirs, k);
        if original != reads(&mut ours, k) {
            diffs.push(format!(
                "{k}: built differently\n  redis:    {original:?}\n  meridian: {:?}",
                reads(&mut ours, k)
            ));
            continue;
        }
        let ttl = if *k == "ttl" { "400000" } else { "0" };
        // redis-server → Meridian (payloads LZF-compressed where Redis compresses).
        let p = dump(&mut theirs, k);
        let copy = format!("from-redis:{k}");
        let r = restore(&mut ours, &copy, ttl, &p, &[]);
        let got = reads(&mut ours, &copy);
        if r != "ok" || got != original {
            diffs.push(format!(
                "{k}: redis → meridian: {r}\n  want: {original:?}\n  got:  {got:?}"
            ));
        }
        // Meridian → redis-server.
        let p = dump(&mut ours, k);
        let copy = format!("from-meridian:{k}");
        let r = restore(&mut theirs, &copy, ttl, &p, &[]);
        let got = reads(&mut theirs, &copy);
        if r != "ok" || got != original {
            diffs.push(format!(
                "{k}: meridian → redis: {r}\n  want: {original:?}\n  got:  {got:?}"
            ));
        }
    }
    // Byte for byte, without Redis's LZF compression.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("rdbcompression")
        .arg("no")
        .query(&mut theirs)
        .unwrap();
    for k in SAME_BYTES {
        let want = dump(&mut theirs, k);
        let got = dump(&mut ours, k);
        if want != got {
            diffs.push(format!(
                "{k}: payloads differ\n  redis:    {want:02x?}\n  meridian: {got:02x?}"
            ));
        }
    }
    // A stream restored from Redis keeps trimming as Redis does (node records).
    for c in [&mut theirs, &mut ours] {
        let _ = qs(c, &["DEL", "from-redis:stream"]);
    }
    let p = dump(&mut theirs, "stream");
    assert_eq!(restore(&mut theirs, "t", "0", &p, &[]), "ok");
    assert_eq!(restore(&mut ours, "t", "0", &p, &[]), "ok");
    for cmd in [
        &["XTRIM", "t", "MAXLEN", "~", "150"][..],
        &["XADD", "t", "MAXLEN", "~", "120", "500-0", "f", "1"],
        &["XTRIM", "t", "MINID", "~", "250"],
        &["XINFO", "STREAM", "t"],
    ] {
        let (want, got) = (qs(&mut theirs, cmd), qs(&mut ours, cmd));
        if want != got {
            diffs.push(format!("{cmd:?}\n  redis:    {want}\n  meridian: {got}"));
        }
    }
    assert!(diffs.is_empty(), "\n{}", diffs.join("\n"));
}

#[test]
fn errors_and_options_match_redis() {
    let redis_server = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis_server.port));
    let server = Server::start();
    let mut ours = server.client();
    for c in [&mut theirs, &mut ours] {
        let _: () = redis::cmd("SET").arg("k").arg("v").query(c).unwrap();
    }
    let p = dump(&mut theirs, "k");
    let mut bad = p.clone();
    let n = bad.len();
    bad[n - 3] ^= 0x10;
    let mut newer = p.clone();
    newer[n - 10] = 11; // RDB version 11
    let mut body_bad = vec![0xc3, 0x05, 0x01];
    body_bad.extend_from_slice(&p[n - 10..]); // right footer, wrong body: checksum error
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let future = (now_ms + 3_600_000).to_string();
    let past = (now_ms - 1000).to_string();
    let mut diffs = Vec::new();
    let cases: Vec<(&str, &str, &[u8], Vec<&str>)> = vec![
        ("k", "0", &p, vec![]), // BUSYKEY
        ("k", "0", &p, vec!["REPLACE"]),
        ("k2", "0", &bad, vec![]),   // checksum
        ("k2", "0", &newer, vec![]), // version
        ("k2", "0", &body_bad, vec![]),
        ("k2", "0", b"", vec![]),
        ("k2", "-1", &p, vec![]),
        ("k2", "abc", &p, vec![]),
        ("k2", "0", &p, vec!["NOPE"]),
        ("k2", "0", &p, vec!["IDLETIME"]),
        ("k2", "0", &p, vec!["IDLETIME", "-1"]),
        ("k2", "0", &p, vec!["IDLETIME", "x"]),
        ("k2", "0", &p, vec!["FREQ", "256"]),
        ("k2", "0", &p, vec!["FREQ", "-1"]),
        ("k2", "0", &p, vec!["FREQ", "1", "IDLETIME", "2"]),
        ("k2", "0", &p, vec!["IDLETIME", "2", "FREQ", "1"]),
        ("k3", "0", &p, vec!["IDLETIME", "100", "REPLACE"]),
        ("k4", "0", &p, vec!["FREQ", "100", "ABSTTL"]),
        ("k5", &future, &p, vec!["ABSTTL"]),
        ("k6", &past, &p, vec!["ABSTTL"]), // already expired: not created
        ("k5", &past, &p, vec!["ABSTTL", "REPLACE"]), // deletes k5
        ("k7", "2569591501", &p, vec![]),  // overflows 32 bits
    ];
    for (key, ttl, payload, opts) in &cases {
        let want = restore(&mut theirs, key, ttl, payload, opts);
        let got = restore(&mut ours, key, ttl, payload, opts);
        if want != got {
            diffs.push(format!(
                "RESTORE {key} {ttl} {opts:?}\n  redis:    {want}\n  meridian: {got}"
            ));
        }
        for c in ["EXISTS", "TTL"] {
            let (w, g) = (qs(&mut theirs, &[c, key]), qs(&mut ours, &[c, key]));
            // TTLs in seconds may differ by the second the calls straddle.
            let close = c == "TTL"
                && w.trim_start_matches("int(")
                    .trim_end_matches(')')
                    .parse::<i64>()
                    .ok()
                    .zip(
                        g.trim_start_matches("int(")
                            .trim_end_matches(')')
                            .parse::<i64>()
                            .ok(),
                    )
                    .is_some_and(|(a, b)| (a - b).abs() <= 1);
            if w != g && !close {
                diffs.push(format!(
                    "{c} {key} after RESTORE\n  redis:    {w}\n  meridian: {g}"
                ));
            }
        }
    }
    for (a, b) in [(&mut theirs, "DUMP"), (&mut ours, "DUMP")] {
        assert_eq!(qs(a, &[b, "nokey"]), "nil");
    }
    assert!(diffs.is_empty(), "\n{}", diffs.join("\n"));
}
