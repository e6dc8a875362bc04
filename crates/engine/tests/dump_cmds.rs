//! DUMP and RESTORE in the engine: round trips of every type (small and large shapes),
//! Redis's errors and TTL rules, and hostile payloads (random bytes and mutations of
//! valid payloads, with a correct checksum so they reach the decoder) that must never
//! panic and must leave a key every command can read.

mod common;

use common::{err, show, Db};
use engine::Frame;
use proptest::prelude::*;

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn dump(db: &mut Db, key: &str) -> Vec<u8> {
    match db.run(&["DUMP", key]) {
        Frame::Bulk(p) => p,
        other => panic!("DUMP {key}: {other:?}"),
    }
}

fn restore(db: &mut Db, key: &str, ttl: &str, payload: &[u8], opts: &[&str]) -> Frame {
    let mut argv = vec![b("RESTORE"), b(key), b(ttl), payload.to_vec()];
    argv.extend(opts.iter().map(|o| b(o)));
    db.runb(argv)
}

/// Every read that shows a key's whole value, per type.
fn reads(db: &mut Db, key: &str) -> Vec<String> {
    let ty = show(&db.run(&["TYPE", key]));
    let mut out = vec![ty.clone()];
    let cmds: Vec<Vec<&str>> = match ty.as_str() {
        "string" => vec![vec!["GET", key], vec!["STRLEN", key]],
        "list" => vec![vec!["LRANGE", key, "0", "-1"], vec!["LLEN", key]],
        "set" => vec![vec!["SMEMBERS", key], vec!["SCARD", key]],
        "hash" => vec![vec!["HGETALL", key], vec!["HLEN", key]],
        "zset" => vec![
            vec!["ZRANGE", key, "0", "-1", "WITHSCORES"],
            vec!["ZCARD", key],
        ],
        "stream" => vec![
            vec!["XRANGE", key, "-", "+"],
            vec!["XINFO", "STREAM", key, "FULL"],
            vec!["XINFO", "GROUPS", key],
        ],
        "ReJSON-RL" => vec![vec!["JSON.GET", key]],
        _ => vec![],
    };
    for c in cmds {
        out.push(show(&db.run(&c)));
    }
    out
}

fn fill(db: &mut Db) {
    db.run(&["SET", "str", "hello world"]);
    db.run(&["SET", "int", "-12345"]);
    db.run(&["SET", "big", &"x".repeat(5000)]);
    db.run(&["RPUSH", "list", "a", "1", "-7", "", "bb"]);
    for i in 0..300 {
        db.run(&["RPUSH", "biglist", &format!("{i}-{}", "v".repeat(i % 90))]);
    }
    db.run(&["SADD", "iset", "1", "-5", "70000", "9"]);
    db.run(&["SADD", "sset", "a", "b", "1"]);
    for i in 0..600 {
        db.run(&["SADD", "bigiset", &i.to_string()]);
    }
    db.run(&["HSET", "hash", "f", "1", "g", "value"]);
    db.run(&["HSET", "bighash", "long", &"y".repeat(100)]);
    for i in 0..200 {
        db.run(&["HSET", "bighash", &format!("f{i}"), &i.to_string()]);
    }
    db.run(&[
        "ZADD", "zset", "1.5", "a", "-2", "b", "0.1", "c", "inf", "d",
    ]);
    for i in 0..200 {
        db.run(&[
            "ZADD",
            "bigzset",
            &format!("{}", i as f64 / 7.0 - 3.0),
            &format!("m{i}"),
        ]);
    }
    for i in 1..=250 {
        let f = if i % 3 == 0 { "other" } else { "f" };
        db.run(&[
            "XADD",
            "stream",
            &format!("{i}-1"),
            f,
            &i.to_string(),
            "g",
            "x",
        ]);
    }
    db.run(&["XDEL", "stream", "5-1", "120-1"]);
    db.run(&["XGROUP", "CREATE", "stream", "g1", "0"]);
    db.run(&["XGROUP", "CREATE", "stream", "g2", "$"]);
    db.run(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "3",
        "STREAMS",
        "stream",
        ">",
    ]);
    db.run(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "2",
        "STREAMS",
        "stream",
        ">",
    ]);
    db.run(&["XACK", "stream", "g1", "2-1"]);
    db.run(&["XGROUP", "CREATECONSUMER", "stream", "g2", "carol"]);
    db.run(&["XADD", "empty", "1-1", "a", "b"]);
    db.run(&["XDEL", "empty", "1-1"]);
    db.run(&[
        "JSON.SET",
        "doc",
        "$",
        r#"{"a":[1,2.5,"x",null,true],"b":{"c":-3}}"#,
    ]);
}

const KEYS: &[&str] = &[
    "str", "int", "big", "list", "biglist", "iset", "sset", "bigiset", "hash", "bighash", "zset",
    "bigzset", "stream", "empty", "doc",
];

#[test]
fn every_type_round_trips() {
    let mut db = Db::new();
    fill(&mut db);
    for k in KEYS {
        let p = dump(&mut db, k);
        let copy = format!("{k}:copy");
        assert_eq!(restore(&mut db, &copy, "0", &p, &[]), Frame::ok(), "{k}");
        assert_eq!(reads(&mut db, k), reads(&mut db, &copy), "{k}");
        // The copy dumps to the same payload.
        assert_eq!(dump(&mut db, &copy), p, "{k}");
    }
    // A restored stream keeps working: XADD after it, trims, group reads.
    db.run(&["XADD", "stream:copy", "*", "f", "new"]);
    db.run(&["XADD", "stream", "*", "f", "new"]);
    assert_eq!(
        db.run(&["XLEN", "stream:copy"]),
        db.run(&["XLEN", "stream"])
    );
    assert_eq!(
        db.run(&["XTRIM", "stream:copy", "MAXLEN", "~", "100"]),
        db.run(&["XTRIM", "stream", "MAXLEN", "~", "100"])
    );
    assert_eq!(
        show(&db.run(&["XPENDING", "stream:copy", "g1"])),
        show(&db.run(&["XPENDING", "stream", "g1"]))
    );
}

#[test]
fn errors_and_options() {
    let mut db = Db::new();
    db.run(&["SET", "k", "v"]);
    let p = dump(&mut db, "k");
    assert_eq!(db.run(&["DUMP", "nokey"]), Frame::Null);
    assert_eq!(
        restore(&mut db, "k", "0", &p, &[]),
        err("BUSYKEY Target key name already exists.")
    );
    assert_eq!(
        restore(&mut db, "k2", "-1", &p, &[]),
        err("ERR Invalid TTL value, must be >= 0")
    );
    assert_eq!(
        restore(&mut db, "k2", "x", &p, &[]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        restore(&mut db, "k2", "0", &p, &["invalid-option"]),
        err("ERR syntax error")
    );
    assert_eq!(
        restore(&mut db, "k2", "0", &p, &["IDLETIME"]),
        err("ERR syntax error")
    );
    assert_eq!(
        restore(&mut db, "k2", "0", &p, &["IDLETIME", "-1"]),
        err("ERR Invalid IDLETIME value, must be >= 0")
    );
    assert_eq!(
        restore(&mut db, "k2", "0", &p, &["FREQ", "256"]),
        err("ERR Invalid FREQ value, must be >= 0 and <= 255")
    );
    assert_eq!(
        restore(&mut db, "k2", "0", &p, &["FREQ", "1", "IDLETIME", "1"]),
        err("ERR syntax error")
    );
    let mut bad = p.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert_eq!(
        restore(&mut db, "k2", "0", &bad, &[]),
        err("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(
        restore(&mut db, "k2", "0", b"short", &[]),
        err("ERR DUMP payload version or checksum are wrong")
    );
    // A valid footer on a body that is not a value.
    let junk = keys::rdb::finish(vec![200, 1, 2, 3]);
    assert_eq!(
        restore(&mut db, "k2", "0", &junk, &[]),
        err("ERR Bad data format")
    );
    // Options are checked before the key; BUSYKEY before the TTL and payload.
    assert_eq!(
        restore(&mut db, "k", "-1", &bad, &[]),
        err("BUSYKEY Target key name already exists.")
    );

    // REPLACE over another type; relative TTL; ABSTTL; IDLETIME/FREQ accepted.
    db.run(&["RPUSH", "l", "x"]);
    assert_eq!(
        restore(&mut db, "l", "5000", &p, &["REPLACE", "IDLETIME", "10"]),
        Frame::ok()
    );
    assert_eq!(db.run(&["GET", "l"]), Frame::Bulk(b("v")));
    assert_eq!(db.run(&["PTTL", "l"]), Frame::Integer(5000));
    let at = (db.now + 100_000).to_string();
    assert_eq!(
        restore(&mut db, "a", &at, &p, &["ABSTTL", "FREQ", "5"]),
        Frame::ok()
    );
    assert_eq!(db.run(&["PTTL", "a"]), Frame::Integer(100_000));
    // An absolute TTL in the past: not created, and REPLACE deletes the old key.
    let past = (db.now - 1).to_string();
    assert_eq!(
        restore(&mut db, "gone", &past, &p, &["ABSTTL"]),
        Frame::ok()
    );
    assert_eq!(db.run(&["EXISTS", "gone"]), Frame::Integer(0));
    assert_eq!(
        restore(&mut db, "a", &past, &p, &["ABSTTL", "REPLACE"]),
        Frame::ok()
    );
    assert_eq!(db.run(&["EXISTS", "a"]), Frame::Integer(0));
    // An expired key does not make BUSYKEY.
    db.run(&["SET", "e", "1", "PX", "10"]);
    db.now += 20;
    assert_eq!(restore(&mut db, "e", "0", &p, &[]), Frame::ok());
}

/// Every key holds a valid value after a RESTORE said OK: all its reads work and its
/// DUMP restores again to the same reads.
fn check_restored(db: &mut Db, key: &str) {
    let before = reads(db, key);
    for r in &before {
        assert!(
            !r.contains("storage") && !r.contains("corrupt"),
            "{key}: {r}"
        );
    }
    let p = dump(db, key);
    let copy = format!("{key}:again");
    db.run(&["DEL", &copy]);
    assert_eq!(restore(db, &copy, "0", &p, &[]), Frame::ok());
    assert_eq!(reads(db, &copy), before);
}

fn payloads() -> Vec<Vec<u8>> {
    let mut db = Db::new();
    fill(&mut db);
    KEYS.iter().map(|k| dump(&mut db, k)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn hostile_payloads_never_panic(
        which in 0usize..15,
        edits in proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..4), 1..6),
        random in proptest::collection::vec(any::<u8>(), 0..64),
        use_random in any::<bool>(),
    ) {
        thread_local! {
            static VALID: Vec<Vec<u8>> = payloads();
        }
        let body = if use_random {
            let mut body = random.clone();
            // A plausible type byte most of the time.
            if let Some(first) = body.first_mut() {
                *first %= 24;
            }
            body
        } else {
            let p = VALID.with(|v| v[which % v.len()].clone());
            let mut body = p[..p.len() - 10].to_vec();
            for (pos, byte, op) in &edits {
                if body.is_empty() {
                    break;
                }
                let i = *pos as usize % body.len();
                match op {
                    0 => body[i] = *byte,
                    1 => body[i] ^= 1 << (byte % 8),
                    2 => { body.remove(i); }
                    _ => body.insert(i, *byte),
                }
            }
            body
        };
        let payload = keys::rdb::finish(body);
        let mut db = Db::new();
        let reply = restore(&mut db, "k", "0", &payload, &[]);
        match reply {
            Frame::Simple(ref s) if s == "OK" => check_restored(&mut db, "k"),
            Frame::Error(ref e) => prop_assert!(
                e == "ERR Bad data format" || e.starts_with("ERR document"),
                "unexpected error {e}"
            ),
            other => prop_assert!(false, "unexpected reply {other:?}"),
        }
    }
}
