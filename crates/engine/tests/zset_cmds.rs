//! Sorted set commands checked against Redis 7's documented behaviour (redis.io
//! examples, error texts), a BTreeMap model, score ordering and O(1) writes.

use engine::Frame;
use proptest::prelude::*;
use std::collections::BTreeMap;

mod common;
use common::*;

impl Db {
    /// ZADD of many (score, member) pairs, in chunks.
    fn fill(&mut self, key: &str, pairs: &[(f64, Vec<u8>)]) {
        for chunk in pairs.chunks(1000) {
            let mut argv = vec![b"ZADD".to_vec(), key.as_bytes().to_vec()];
            for (s, m) in chunk {
                argv.push(resp::format_double(*s).into_bytes());
                argv.push(m.clone());
            }
            let r = self.runb(argv);
            assert!(matches!(r, Frame::Integer(_)), "{r:?}");
        }
    }
}
fn dbl(f: f64) -> Frame {
    Frame::Double(f)
}
fn arr(v: Vec<Frame>) -> Frame {
    Frame::Array(v)
}
fn empty() -> Frame {
    Frame::Array(vec![])
}

/// One reply element as text: bulks as they are, doubles as Redis formats them.
fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Double(d) => resp::format_double(*d),
        Frame::Integer(i) => i.to_string(),
        Frame::Null => "(nil)".into(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// A flat array reply as texts.
fn texts(f: Frame) -> Vec<String> {
    match f {
        Frame::Array(v) => v.iter().map(text).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const SYNTAX: &str = "ERR syntax error";
const RANGE_FLOAT: &str = "ERR min or max is not a float";
const RANGE_LEX: &str = "ERR min or max not valid string range item";

fn three(db: &mut Db, key: &str) {
    db.run(&["ZADD", key, "1", "one", "2", "two", "3", "three"]);
}

// ---- redis.io examples ----------------------------------------------------------------

#[test]
fn zadd_example() {
    let mut db = Db::new();
    assert_eq!(db.run(&["ZADD", "myzset", "1", "one"]), int(1));
    assert_eq!(db.run(&["ZADD", "myzset", "1", "uno"]), int(1));
    assert_eq!(
        db.run(&["ZADD", "myzset", "2", "two", "3", "three"]),
        int(2)
    );
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "0", "-1", "WITHSCORES"]),
        arr(vec![
            bulk("one"),
            dbl(1.0),
            bulk("uno"),
            dbl(1.0),
            bulk("two"),
            dbl(2.0),
            bulk("three"),
            dbl(3.0)
        ])
    );
    assert_eq!(db.run(&["TYPE", "myzset"]), Frame::Simple("zset".into()));
}

#[test]
fn zadd_options() {
    let mut db = Db::new();
    // XX on a missing key creates nothing.
    assert_eq!(db.run(&["ZADD", "z", "XX", "1", "a"]), int(0));
    assert_eq!(db.run(&["EXISTS", "z"]), int(0));
    assert_eq!(db.run(&["ZADD", "z", "XX", "INCR", "1", "a"]), Frame::Null);
    assert_eq!(db.run(&["ZADD", "z", "1", "a", "2", "b"]), int(2));
    // NX adds only new members.
    assert_eq!(db.run(&["ZADD", "z", "NX", "10", "a", "3", "c"]), int(1));
    assert_eq!(db.run(&["ZSCORE", "z", "a"]), dbl(1.0));
    // XX updates only existing ones; CH counts changes.
    assert_eq!(
        db.run(&["ZADD", "z", "XX", "CH", "5", "a", "4", "d"]),
        int(1)
    );
    assert_eq!(db.run(&["ZSCORE", "z", "d"]), Frame::Null);
    assert_eq!(db.run(&["ZADD", "z", "CH", "5", "a", "6", "e"]), int(1));
    assert_eq!(db.run(&["ZADD", "z", "5", "a", "7", "e"]), int(0));
    assert_eq!(db.run(&["ZSCORE", "z", "e"]), dbl(7.0));
    // GT / LT only move existing scores in one direction; new members are added.
    assert_eq!(
        db.run(&["ZADD", "z", "GT", "CH", "1", "a", "8", "e", "9", "f"]),
        int(2)
    );
    assert_eq!(db.run(&["ZSCORE", "z", "a"]), dbl(5.0));
    assert_eq!(db.run(&["ZSCORE", "z", "e"]), dbl(8.0));
    assert_eq!(
        db.run(&["ZADD", "z", "LT", "CH", "1", "a", "100", "e"]),
        int(1)
    );
    assert_eq!(db.run(&["ZSCORE", "z", "a"]), dbl(1.0));
    assert_eq!(
        db.run(&["ZADD", "z", "XX", "GT", "CH", "2", "a", "1", "zz"]),
        int(1)
    );
    assert_eq!(db.run(&["ZCARD", "z"]), int(5));
    // INCR replies with the new score, or nil when an option blocked it.
    assert_eq!(db.run(&["ZADD", "z", "INCR", "1.5", "a"]), dbl(3.5));
    assert_eq!(db.run(&["ZADD", "z", "NX", "INCR", "1", "a"]), Frame::Null);
    assert_eq!(db.run(&["ZADD", "z", "GT", "INCR", "-1", "a"]), Frame::Null);
    assert_eq!(db.run(&["ZADD", "z", "LT", "INCR", "-1", "a"]), dbl(2.5));
    assert_eq!(
        db.run(&["ZADD", "z", "XX", "INCR", "1", "nope"]),
        Frame::Null
    );
    assert_eq!(db.run(&["ZADD", "z", "INCR", "4", "new"]), dbl(4.0));
    // Options are case-insensitive; the same member twice: added, then updated.
    assert_eq!(db.run(&["ZADD", "w", "ch", "1", "m", "2", "m"]), int(2));
    assert_eq!(db.run(&["ZSCORE", "w", "m"]), dbl(2.0));
    assert_eq!(db.run(&["ZCARD", "w"]), int(1));
    // Infinite scores are valid.
    assert_eq!(db.run(&["ZADD", "w", "-inf", "lo", "+inf", "hi"]), int(2));
    assert_eq!(
        texts(db.run(&["ZRANGE", "w", "0", "-1", "WITHSCORES"])),
        strs(&["lo", "-inf", "m", "2", "hi", "inf"])
    );
}

#[test]
fn zadd_errors() {
    let mut db = Db::new();
    db.run(&["SET", "str", "x"]);
    assert_eq!(db.run(&["ZADD", "str", "1", "a"]), err(WRONGTYPE));
    assert_eq!(
        db.run(&["ZADD", "z", "NX", "XX", "1", "a"]),
        err("ERR XX and NX options at the same time are not compatible")
    );
    for opts in [["GT", "LT"], ["GT", "NX"], ["NX", "LT"]] {
        assert_eq!(
            db.run(&["ZADD", "z", opts[0], opts[1], "1", "a"]),
            err("ERR GT, LT, and/or NX options at the same time are not compatible")
        );
    }
    assert_eq!(
        db.run(&["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        err("ERR INCR option supports a single increment-element pair")
    );
    assert_eq!(db.run(&["ZADD", "z", "1", "a", "2"]), err(SYNTAX));
    assert_eq!(db.run(&["ZADD", "z", "NX", "1"]), err(SYNTAX));
    for bad in ["nan", "", "abc", "1e400", " 1", "1 "] {
        assert_eq!(db.run(&["ZADD", "z", bad, "a"]), err(NOT_FLOAT), "{bad:?}");
    }
    // A bad score later in the list writes nothing at all.
    assert_eq!(db.run(&["ZADD", "z", "1", "a", "x", "b"]), err(NOT_FLOAT));
    assert_eq!(db.run(&["EXISTS", "z"]), int(0));
    // Scores are parsed before the type check, as in Redis.
    assert_eq!(db.run(&["ZADD", "str", "x", "a"]), err(NOT_FLOAT));
    assert_eq!(
        db.run(&["ZADD", "z"]),
        err("ERR wrong number of arguments for 'zadd' command")
    );
    // INCR to NaN is refused and changes nothing.
    db.run(&["ZADD", "z", "+inf", "a"]);
    assert_eq!(
        db.run(&["ZADD", "z", "INCR", "-inf", "a"]),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(
        db.run(&["ZINCRBY", "z", "-inf", "a"]),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(db.run(&["ZSCORE", "z", "a"]), dbl(f64::INFINITY));
}

#[test]
fn zcard_zscore_zmscore() {
    let mut db = Db::new();
    assert_eq!(db.run(&["ZADD", "myzset", "1", "one"]), int(1));
    assert_eq!(db.run(&["ZADD", "myzset", "2", "two"]), int(1));
    assert_eq!(db.run(&["ZCARD", "myzset"]), int(2));
    assert_eq!(db.run(&["ZCARD", "nokey"]), int(0));
    assert_eq!(db.run(&["ZSCORE", "myzset", "one"]), dbl(1.0));
    assert_eq!(db.run(&["ZSCORE", "myzset", "nofield"]), Frame::Null);
    assert_eq!(db.run(&["ZSCORE", "nokey", "one"]), Frame::Null);
    assert_eq!(
        db.run(&["ZMSCORE", "myzset", "one", "two", "nofield"]),
        arr(vec![dbl(1.0), dbl(2.0), Frame::Null])
    );
    assert_eq!(db.run(&["ZMSCORE", "nokey", "one"]), arr(vec![Frame::Null]));
    assert_eq!(
        db.run(&["ZMSCORE", "myzset"]),
        err("ERR wrong number of arguments for 'zmscore' command")
    );
    // Redis's double formatting of scores.
    db.run(&[
        "ZADD",
        "f",
        "0.1",
        "a",
        "1e20",
        "b",
        "-1.5e-7",
        "c",
        "123456.789",
        "d",
    ]);
    assert_eq!(text(&db.run(&["ZSCORE", "f", "a"])), "0.1");
    assert_eq!(text(&db.run(&["ZSCORE", "f", "b"])), "1e+20");
    assert_eq!(text(&db.run(&["ZSCORE", "f", "c"])), "-1.5e-7");
    assert_eq!(text(&db.run(&["ZSCORE", "f", "d"])), "123456.789");
}

#[test]
fn zcount_example() {
    let mut db = Db::new();
    three(&mut db, "myzset");
    assert_eq!(db.run(&["ZCOUNT", "myzset", "-inf", "+inf"]), int(3));
    assert_eq!(db.run(&["ZCOUNT", "myzset", "(1", "3"]), int(2));
    assert_eq!(db.run(&["ZCOUNT", "myzset", "(1", "(3"]), int(1));
    assert_eq!(db.run(&["ZCOUNT", "myzset", "3", "1"]), int(0));
    assert_eq!(db.run(&["ZCOUNT", "nokey", "0", "1"]), int(0));
    assert_eq!(db.run(&["ZCOUNT", "myzset", "a", "1"]), err(RANGE_FLOAT));
    assert_eq!(db.run(&["ZCOUNT", "nokey", "1", "nan"]), err(RANGE_FLOAT));
}

#[test]
fn zdiff_and_zdiffstore_examples() {
    let mut db = Db::new();
    three(&mut db, "zset1");
    db.run(&["ZADD", "zset2", "1", "one", "2", "two"]);
    assert_eq!(
        db.run(&["ZDIFF", "2", "zset1", "zset2"]),
        arr(vec![bulk("three")])
    );
    assert_eq!(
        db.run(&["ZDIFF", "2", "zset1", "zset2", "WITHSCORES"]),
        arr(vec![bulk("three"), dbl(3.0)])
    );
    assert_eq!(
        db.run(&["ZDIFFSTORE", "out", "2", "zset1", "zset2"]),
        int(1)
    );
    assert_eq!(
        db.run(&["ZRANGE", "out", "0", "-1", "WITHSCORES"]),
        arr(vec![bulk("three"), dbl(3.0)])
    );
    assert_eq!(db.run(&["ZDIFF", "1", "nokey"]), empty());
    assert_eq!(
        db.run(&["ZDIFFSTORE", "out", "2", "zset2", "zset1"]),
        int(0)
    );
    assert_eq!(db.run(&["EXISTS", "out"]), int(0));
    // WEIGHTS / AGGREGATE are not options of ZDIFF.
    assert_eq!(
        db.run(&["ZDIFF", "2", "zset1", "zset2", "WEIGHTS", "1", "2"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["ZDIFFSTORE", "out", "2", "zset1", "zset2", "WITHSCORES"]),
        err(SYNTAX)
    );
}

#[test]
fn zincrby_example() {
    let mut db = Db::new();
    db.run(&["ZADD", "myzset", "1", "one"]);
    db.run(&["ZADD", "myzset", "2", "two"]);
    assert_eq!(db.run(&["ZINCRBY", "myzset", "2", "one"]), dbl(3.0));
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "0", "-1", "WITHSCORES"])),
        strs(&["two", "2", "one", "3"])
    );
    assert_eq!(db.run(&["ZINCRBY", "new", "-1.25", "m"]), dbl(-1.25));
    assert_eq!(db.run(&["ZINCRBY", "myzset", "x", "one"]), err(NOT_FLOAT));
    db.run(&["SET", "str", "x"]);
    assert_eq!(db.run(&["ZINCRBY", "str", "1", "one"]), err(WRONGTYPE));
}

#[test]
fn zinter_zintercard_zinterstore_examples() {
    let mut db = Db::new();
    db.run(&["ZADD", "zset1", "1", "one", "2", "two"]);
    three(&mut db, "zset2");
    assert_eq!(
        db.run(&["ZINTER", "2", "zset1", "zset2"]),
        arr(vec![bulk("one"), bulk("two")])
    );
    assert_eq!(
        texts(db.run(&["ZINTER", "2", "zset1", "zset2", "WITHSCORES"])),
        strs(&["one", "2", "two", "4"])
    );
    assert_eq!(db.run(&["ZINTERCARD", "2", "zset1", "zset2"]), int(2));
    assert_eq!(
        db.run(&["ZINTERCARD", "2", "zset1", "zset2", "LIMIT", "1"]),
        int(1)
    );
    assert_eq!(
        db.run(&["ZINTERCARD", "2", "zset1", "zset2", "LIMIT", "0"]),
        int(2)
    );
    assert_eq!(db.run(&["ZINTERCARD", "2", "zset1", "nokey"]), int(0));
    assert_eq!(
        db.run(&[
            "ZINTERSTORE",
            "out",
            "2",
            "zset1",
            "zset2",
            "WEIGHTS",
            "2",
            "3"
        ]),
        int(2)
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "out", "0", "-1", "WITHSCORES"])),
        strs(&["one", "5", "two", "10"])
    );
    assert_eq!(
        texts(db.run(&[
            "ZINTER",
            "2",
            "zset1",
            "zset2",
            "AGGREGATE",
            "MAX",
            "WITHSCORES"
        ])),
        strs(&["one", "1", "two", "2"])
    );
    // ZINTERCARD errors.
    assert_eq!(
        db.run(&["ZINTERCARD", "1", "zset1", "LIMIT", "-1"]),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(
        db.run(&["ZINTERCARD", "1", "zset1", "LIMIT", "a"]),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(db.run(&["ZINTERCARD", "1", "zset1", "zset1"]), err(SYNTAX));
    assert_eq!(db.run(&["ZINTERCARD", "1", "zset1", "LIMIT"]), err(SYNTAX));
    assert_eq!(
        db.run(&["ZINTERCARD", "1", "zset1", "WITHSCORES"]),
        err(SYNTAX)
    );
}

#[test]
fn zunion_zunionstore_examples() {
    let mut db = Db::new();
    db.run(&["ZADD", "zset1", "1", "one", "2", "two"]);
    three(&mut db, "zset2");
    assert_eq!(
        db.run(&["ZUNION", "2", "zset1", "zset2"]),
        arr(vec![bulk("one"), bulk("three"), bulk("two")])
    );
    assert_eq!(
        texts(db.run(&["ZUNION", "2", "zset1", "zset2", "WITHSCORES"])),
        strs(&["one", "2", "three", "3", "two", "4"])
    );
    assert_eq!(
        db.run(&[
            "ZUNIONSTORE",
            "out",
            "2",
            "zset1",
            "zset2",
            "WEIGHTS",
            "2",
            "3"
        ]),
        int(3)
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "out", "0", "-1", "WITHSCORES"])),
        strs(&["one", "5", "three", "9", "two", "10"])
    );
    assert_eq!(
        texts(db.run(&[
            "ZUNION",
            "2",
            "zset1",
            "zset2",
            "AGGREGATE",
            "min",
            "WITHSCORES"
        ])),
        strs(&["one", "1", "two", "2", "three", "3"])
    );
    // The destination is replaced whatever it held, and loses its TTL.
    db.run(&["SET", "dst", "x", "EX", "100"]);
    assert_eq!(db.run(&["ZUNIONSTORE", "dst", "1", "zset1"]), int(2));
    assert_eq!(db.run(&["TTL", "dst"]), int(-1));
    assert_eq!(db.run(&["TYPE", "dst"]), Frame::Simple("zset".into()));
    // Storing onto a source works.
    assert_eq!(
        db.run(&["ZUNIONSTORE", "zset1", "2", "zset1", "zset2"]),
        int(3)
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "zset1", "0", "-1", "WITHSCORES"])),
        strs(&["one", "2", "three", "3", "two", "4"])
    );
}

#[test]
fn set_operations_take_plain_sets_and_weights_edge_cases() {
    let mut db = Db::new();
    db.run(&["SADD", "s", "a", "b"]);
    db.run(&["ZADD", "z", "5", "b", "7", "c"]);
    assert_eq!(
        texts(db.run(&["ZUNION", "2", "s", "z", "WITHSCORES"])),
        strs(&["a", "1", "b", "6", "c", "7"])
    );
    assert_eq!(
        texts(db.run(&["ZINTER", "2", "s", "z", "WITHSCORES"])),
        strs(&["b", "6"])
    );
    assert_eq!(
        texts(db.run(&["ZDIFF", "2", "s", "z", "WITHSCORES"])),
        strs(&["a", "1"])
    );
    // inf * 0 is NaN: Redis makes it 0. inf + -inf in SUM too.
    db.run(&["ZADD", "inf1", "+inf", "m"]);
    db.run(&["ZADD", "inf2", "-inf", "m"]);
    assert_eq!(
        texts(db.run(&["ZUNION", "1", "inf1", "WEIGHTS", "0", "WITHSCORES"])),
        strs(&["m", "0"])
    );
    assert_eq!(
        texts(db.run(&["ZUNION", "2", "inf1", "inf2", "WITHSCORES"])),
        strs(&["m", "0"])
    );
    assert_eq!(
        texts(db.run(&["ZINTER", "2", "inf1", "inf2", "WITHSCORES"])),
        strs(&["m", "0"])
    );
    assert_eq!(
        texts(db.run(&[
            "ZINTER",
            "2",
            "inf1",
            "inf2",
            "AGGREGATE",
            "MAX",
            "WITHSCORES"
        ])),
        strs(&["m", "inf"])
    );
    assert_eq!(
        db.run(&["ZUNION", "2", "inf1", "inf2", "WEIGHTS", "nan", "1"]),
        err("ERR weight value is not a float")
    );
    assert_eq!(
        db.run(&["ZUNION", "2", "inf1", "inf2", "AGGREGATE", "avg"]),
        err(SYNTAX)
    );
    // WEIGHTS needs one weight per key.
    assert_eq!(
        db.run(&["ZUNION", "2", "inf1", "inf2", "WEIGHTS", "1"]),
        err(SYNTAX)
    );
    // numkeys errors, with the command's name.
    for (cmd, args) in [
        ("zunion", vec!["ZUNION", "0", "k"]),
        ("zunionstore", vec!["ZUNIONSTORE", "d", "0", "k"]),
        ("zinter", vec!["ZINTER", "0", "k"]),
        ("zinterstore", vec!["ZINTERSTORE", "d", "0", "k"]),
        ("zdiff", vec!["ZDIFF", "0", "k"]),
        ("zdiffstore", vec!["ZDIFFSTORE", "d", "0", "k"]),
        ("zintercard", vec!["ZINTERCARD", "0", "k"]),
    ] {
        assert_eq!(
            db.run(&args),
            err(&format!(
                "ERR at least 1 input key is needed for '{cmd}' command"
            ))
        );
    }
    assert_eq!(db.run(&["ZUNION", "x", "k"]), err(NOT_INT));
    assert_eq!(db.run(&["ZUNION", "3", "k", "j"]), err(SYNTAX));
    // Type errors come before option errors.
    db.run(&["SET", "str", "x"]);
    assert_eq!(db.run(&["ZUNION", "2", "z", "str", "BAD"]), err(WRONGTYPE));
    assert_eq!(db.run(&["ZINTERSTORE", "d", "1", "str"]), err(WRONGTYPE));
    // The destination's type does not matter.
    assert_eq!(db.run(&["ZINTERSTORE", "str", "1", "z"]), int(2));
}

#[test]
fn zlexcount_example() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["ZADD", "myzset", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"]),
        int(5)
    );
    assert_eq!(db.run(&["ZADD", "myzset", "0", "f", "0", "g"]), int(2));
    assert_eq!(db.run(&["ZLEXCOUNT", "myzset", "-", "+"]), int(7));
    assert_eq!(db.run(&["ZLEXCOUNT", "myzset", "[b", "[f"]), int(5));
    assert_eq!(db.run(&["ZLEXCOUNT", "myzset", "(b", "(f"]), int(3));
    assert_eq!(db.run(&["ZLEXCOUNT", "myzset", "+", "-"]), int(0));
    assert_eq!(db.run(&["ZLEXCOUNT", "nokey", "-", "+"]), int(0));
    for (a, b) in [("a", "+"), ("[a", "b"), ("-x", "+"), ("-", "+x"), ("", "+")] {
        assert_eq!(db.run(&["ZLEXCOUNT", "myzset", a, b]), err(RANGE_LEX));
    }
}

#[test]
fn zmpop_example() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["ZMPOP", "1", "notsuchkey", "MIN"]),
        Frame::NullArray
    );
    assert_eq!(
        db.run(&["ZADD", "myzset", "1", "one", "2", "two", "3", "three"]),
        int(3)
    );
    let pair = |m: &str, s: f64| arr(vec![bulk(m), dbl(s)]);
    assert_eq!(
        db.run(&["ZMPOP", "1", "myzset", "MIN"]),
        arr(vec![bulk("myzset"), arr(vec![pair("one", 1.0)])])
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "0", "-1", "WITHSCORES"])),
        strs(&["two", "2", "three", "3"])
    );
    assert_eq!(
        db.run(&["ZMPOP", "1", "myzset", "MAX", "COUNT", "10"]),
        arr(vec![
            bulk("myzset"),
            arr(vec![pair("three", 3.0), pair("two", 2.0)])
        ])
    );
    assert_eq!(
        db.run(&["ZADD", "myzset2", "4", "four", "5", "five", "6", "six"]),
        int(3)
    );
    assert_eq!(
        db.run(&["ZMPOP", "2", "myzset", "myzset2", "MIN", "COUNT", "10"]),
        arr(vec![
            bulk("myzset2"),
            arr(vec![pair("four", 4.0), pair("five", 5.0), pair("six", 6.0)])
        ])
    );
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "0", "-1", "WITHSCORES"]),
        empty()
    );
    assert_eq!(
        db.run(&["ZMPOP", "2", "myzset", "myzset2", "MAX", "COUNT", "10"]),
        Frame::NullArray
    );
    assert_eq!(
        db.run(&["ZRANGE", "myzset2", "0", "-1", "WITHSCORES"]),
        empty()
    );
    assert_eq!(db.run(&["EXISTS", "myzset", "myzset2"]), int(0));
}

#[test]
fn zmpop_errors() {
    let mut db = Db::new();
    db.run(&["SET", "foo", "x"]);
    assert_eq!(db.run(&["ZMPOP", "1", "foo", "MIN"]), err(WRONGTYPE));
    db.run(&["ZADD", "z", "1", "a"]);
    assert_eq!(
        db.run(&["ZMPOP", "2", "nokey", "foo", "MAX", "COUNT", "1"]),
        err(WRONGTYPE)
    );
    // The first non-empty key wins, even before a wrong type.
    assert_eq!(
        db.run(&["ZMPOP", "2", "z", "foo", "MIN"]),
        arr(vec![bulk("z"), arr(vec![arr(vec![bulk("a"), dbl(1.0)])])])
    );
    assert_eq!(
        db.run(&["ZMPOP", "1"]),
        err("ERR wrong number of arguments for 'zmpop' command")
    );
    for n in ["0", "a", "-1"] {
        assert_eq!(
            db.run(&["ZMPOP", n, "z", "MIN"]),
            err("ERR numkeys should be greater than 0")
        );
    }
    for args in [
        vec!["ZMPOP", "1", "z", "bad_where"],
        vec!["ZMPOP", "1", "z", "MIN", "bar_arg"],
        vec!["ZMPOP", "1", "z", "MAX", "MIN"],
        vec!["ZMPOP", "1", "z", "COUNT"],
        vec!["ZMPOP", "1", "z", "MAX", "COUNT", "1", "COUNT", "2"],
        vec!["ZMPOP", "2", "z", "z2", "bad_arg"],
        vec!["ZMPOP", "5", "z", "MIN", "COUNT"],
    ] {
        assert_eq!(db.run(&args), err(SYNTAX), "{args:?}");
    }
    for c in ["0", "a", "-1"] {
        assert_eq!(
            db.run(&["ZMPOP", "1", "z", "MIN", "COUNT", c]),
            err("ERR count should be greater than 0")
        );
    }
}

#[test]
fn zpopmin_zpopmax_examples() {
    let mut db = Db::new();
    three(&mut db, "myzset");
    assert_eq!(
        db.run(&["ZPOPMAX", "myzset"]),
        arr(vec![bulk("three"), dbl(3.0)])
    );
    assert_eq!(
        db.run(&["ZPOPMIN", "myzset"]),
        arr(vec![bulk("one"), dbl(1.0)])
    );
    assert_eq!(db.run(&["ZPOPMIN", "myzset", "0"]), empty());
    assert_eq!(db.run(&["ZCARD", "myzset"]), int(1));
    assert_eq!(
        db.run(&["ZPOPMIN", "myzset", "5"]),
        arr(vec![bulk("two"), dbl(2.0)])
    );
    assert_eq!(db.run(&["EXISTS", "myzset"]), int(0));
    assert_eq!(db.run(&["ZPOPMIN", "myzset"]), empty());
    three(&mut db, "myzset");
    assert_eq!(
        texts(db.run(&["ZPOPMAX", "myzset", "2"])),
        strs(&["three", "3", "two", "2"])
    );
    assert_eq!(
        texts(db.run(&["ZPOPMIN", "myzset", "2"])),
        strs(&["one", "1"])
    );
    // Errors: count first, then type.
    db.run(&["SET", "str", "x"]);
    for c in ["-1", "a"] {
        assert_eq!(
            db.run(&["ZPOPMIN", "str", c]),
            err("ERR value is out of range, must be positive")
        );
    }
    assert_eq!(db.run(&["ZPOPMIN", "str"]), err(WRONGTYPE));
    assert_eq!(db.run(&["ZPOPMAX", "str", "0"]), err(WRONGTYPE));
    assert_eq!(db.run(&["ZPOPMIN", "z", "1", "2"]), err(SYNTAX));
}

#[test]
fn zrandmember_example() {
    let mut db = Db::new();
    db.run(&[
        "ZADD", "dadi", "1", "uno", "2", "due", "3", "tre", "4", "quattro", "5", "cinque", "6",
        "sei",
    ]);
    let all = ["uno", "due", "tre", "quattro", "cinque", "sei"];
    match db.run(&["ZRANDMEMBER", "dadi"]) {
        Frame::Bulk(m) => assert!(all.contains(&std::str::from_utf8(&m).unwrap())),
        other => panic!("{other:?}"),
    }
    let r = texts(db.run(&["ZRANDMEMBER", "dadi", "-5", "WITHSCORES"]));
    assert_eq!(r.len(), 10);
    for p in r.chunks(2) {
        let i = all.iter().position(|m| *m == p[0]).unwrap();
        assert_eq!(p[1], (i + 1).to_string());
    }
    let r = texts(db.run(&["ZRANDMEMBER", "dadi", "4"]));
    let mut u = r.clone();
    u.sort();
    u.dedup();
    assert_eq!(u.len(), 4);
    // More than there are: all of them, in score order.
    assert_eq!(texts(db.run(&["ZRANDMEMBER", "dadi", "10"])), strs(&all));
    assert_eq!(db.run(&["ZRANDMEMBER", "dadi", "0"]), empty());
    assert_eq!(db.run(&["ZRANDMEMBER", "nokey"]), Frame::Null);
    assert_eq!(db.run(&["ZRANDMEMBER", "nokey", "3"]), empty());
    assert_eq!(db.run(&["ZRANDMEMBER", "dadi", "1", "bad"]), err(SYNTAX));
    assert_eq!(db.run(&["ZRANDMEMBER", "dadi", "x"]), err(NOT_INT));
    assert_eq!(
        db.run(&["ZRANDMEMBER", "dadi", "-9223372036854775807", "WITHSCORES"]),
        err("ERR value is out of range")
    );
    // Same seed, same picks.
    let a = db.run(&["ZRANDMEMBER", "dadi", "-20"]);
    let mut other = Db::new();
    other.index = db.index - 1;
    other.store = db.store.clone();
    assert_eq!(other.run(&["ZRANDMEMBER", "dadi", "-20"]), a);
}

#[test]
fn zrange_examples() {
    let mut db = Db::new();
    three(&mut db, "myzset");
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "0", "-1"])),
        strs(&["one", "two", "three"])
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "2", "3"])),
        strs(&["three"])
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "-2", "-1"])),
        strs(&["two", "three"])
    );
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "0", "1", "WITHSCORES"]),
        arr(vec![bulk("one"), dbl(1.0), bulk("two"), dbl(2.0)])
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "(1", "+inf", "BYSCORE", "LIMIT", "1", "1"])),
        strs(&["three"])
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "+inf", "(1", "BYSCORE", "REV"])),
        strs(&["three", "two"])
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "0", "0", "REV", "WITHSCORES"])),
        strs(&["three", "3"])
    );
    assert_eq!(db.run(&["ZRANGE", "myzset", "5", "-1"]), empty());
    assert_eq!(db.run(&["ZRANGE", "myzset", "1", "-5"]), empty());
    assert_eq!(db.run(&["ZRANGE", "nokey", "0", "-1"]), empty());
    // Option errors.
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "0", "1", "LIMIT", "0", "1"]),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "-", "+", "BYLEX", "WITHSCORES"]),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "0", "1", "BYSCORE", "BYLEX"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "0", "1", "REV", "REV"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "0", "1", "LIMIT", "1"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["ZRANGE", "myzset", "a", "1"]), err(NOT_INT));
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "a", "1", "BYSCORE"]),
        err(RANGE_FLOAT)
    );
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "a", "1", "BYLEX"]),
        err(RANGE_LEX)
    );
    assert_eq!(
        db.run(&["ZRANGE", "myzset", "0", "1", "BYSCORE", "LIMIT", "x", "1"]),
        err(NOT_INT)
    );
    db.run(&["SET", "str", "x"]);
    assert_eq!(db.run(&["ZRANGE", "str", "0", "-1"]), err(WRONGTYPE));
}

#[test]
fn zrangebyscore_examples() {
    let mut db = Db::new();
    three(&mut db, "myzset");
    let q = |db: &mut Db, a: &[&str]| texts(db.run(a));
    assert_eq!(
        q(&mut db, &["ZRANGEBYSCORE", "myzset", "-inf", "+inf"]),
        strs(&["one", "two", "three"])
    );
    assert_eq!(
        q(&mut db, &["ZRANGEBYSCORE", "myzset", "1", "2"]),
        strs(&["one", "two"])
    );
    assert_eq!(
        q(&mut db, &["ZRANGEBYSCORE", "myzset", "(1", "2"]),
        strs(&["two"])
    );
    assert_eq!(
        q(&mut db, &["ZRANGEBYSCORE", "myzset", "(1", "(2"]),
        strs(&[])
    );
    assert_eq!(
        q(&mut db, &["ZRANGEBYSCORE", "myzset", "2", "(2"]),
        strs(&[])
    );
    assert_eq!(
        q(
            &mut db,
            &["ZRANGEBYSCORE", "myzset", "1.5", "2.5", "WITHSCORES"]
        ),
        strs(&["two", "2"])
    );
    assert_eq!(
        q(
            &mut db,
            &[
                "ZRANGEBYSCORE",
                "myzset",
                "-inf",
                "+inf",
                "LIMIT",
                "1",
                "-1"
            ]
        ),
        strs(&["two", "three"])
    );
    assert_eq!(
        q(
            &mut db,
            &[
                "ZRANGEBYSCORE",
                "myzset",
                "-inf",
                "+inf",
                "LIMIT",
                "-1",
                "2"
            ]
        ),
        strs(&[])
    );
    assert_eq!(
        q(
            &mut db,
            &["ZRANGEBYSCORE", "myzset", "-inf", "+inf", "LIMIT", "5", "2"]
        ),
        strs(&[])
    );
    assert_eq!(
        q(
            &mut db,
            &["ZRANGEBYSCORE", "myzset", "-inf", "+inf", "LIMIT", "0", "0"]
        ),
        strs(&[])
    );
    // The deprecated forms fix their range type and direction.
    assert_eq!(
        db.run(&["ZRANGEBYSCORE", "myzset", "1", "2", "REV"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["ZRANGEBYSCORE", "myzset", "1", "2", "BYLEX"]),
        err(SYNTAX)
    );
    for (a, b) in [("str", "1"), ("1", "str"), ("1", "NaN")] {
        assert_eq!(db.run(&["ZRANGEBYSCORE", "myzset", a, b]), err(RANGE_FLOAT));
    }
}

#[test]
fn zrevrangebyscore_examples() {
    let mut db = Db::new();
    three(&mut db, "myzset");
    let q = |db: &mut Db, a: &[&str]| texts(db.run(a));
    assert_eq!(
        q(&mut db, &["ZREVRANGEBYSCORE", "myzset", "+inf", "-inf"]),
        strs(&["three", "two", "one"])
    );
    assert_eq!(
        q(&mut db, &["ZREVRANGEBYSCORE", "myzset", "2", "1"]),
        strs(&["two", "one"])
    );
    assert_eq!(
        q(&mut db, &["ZREVRANGEBYSCORE", "myzset", "2", "(1"]),
        strs(&["two"])
    );
    assert_eq!(
        q(&mut db, &["ZREVRANGEBYSCORE", "myzset", "(2", "(1"]),
        strs(&[])
    );
    assert_eq!(
        q(
            &mut db,
            &[
                "ZREVRANGEBYSCORE",
                "myzset",
                "+inf",
                "-inf",
                "WITHSCORES",
                "LIMIT",
                "1",
                "1"
            ]
        ),
        strs(&["two", "2"])
    );
    assert_eq!(
        q(
            &mut db,
            &[
                "ZREVRANGEBYSCORE",
                "myzset",
                "+inf",
                "-inf",
                "LIMIT",
                "1",
                "-1"
            ]
        ),
        strs(&["two", "one"])
    );
}

#[test]
fn zrangebylex_and_zrevrangebylex_examples() {
    let mut db = Db::new();
    db.run(&[
        "ZADD", "myzset", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f", "0", "g",
    ]);
    let q = |db: &mut Db, a: &[&str]| texts(db.run(a));
    assert_eq!(
        q(&mut db, &["ZRANGEBYLEX", "myzset", "-", "[c"]),
        strs(&["a", "b", "c"])
    );
    assert_eq!(
        q(&mut db, &["ZRANGEBYLEX", "myzset", "-", "(c"]),
        strs(&["a", "b"])
    );
    assert_eq!(
        q(&mut db, &["ZRANGEBYLEX", "myzset", "[aaa", "(g"]),
        strs(&["b", "c", "d", "e", "f"])
    );
    assert_eq!(
        q(&mut db, &["ZRANGEBYLEX", "myzset", "(az", "(b"]),
        strs(&[])
    );
    assert_eq!(q(&mut db, &["ZRANGEBYLEX", "myzset", "+", "-"]), strs(&[]));
    assert_eq!(
        q(
            &mut db,
            &["ZRANGEBYLEX", "myzset", "[b", "[d", "LIMIT", "1", "5"]
        ),
        strs(&["c", "d"])
    );
    assert_eq!(
        q(&mut db, &["ZREVRANGEBYLEX", "myzset", "[c", "-"]),
        strs(&["c", "b", "a"])
    );
    assert_eq!(
        q(&mut db, &["ZREVRANGEBYLEX", "myzset", "(c", "-"]),
        strs(&["b", "a"])
    );
    assert_eq!(
        q(&mut db, &["ZREVRANGEBYLEX", "myzset", "(g", "[aaa"]),
        strs(&["f", "e", "d", "c", "b"])
    );
    assert_eq!(
        q(
            &mut db,
            &["ZREVRANGEBYLEX", "myzset", "+", "-", "LIMIT", "2", "2"]
        ),
        strs(&["e", "d"])
    );
    assert_eq!(
        q(&mut db, &["ZRANGE", "myzset", "[f", "-", "BYLEX", "REV"]),
        strs(&["f", "e", "d", "c", "b", "a"])
    );
    assert_eq!(
        db.run(&["ZRANGEBYLEX", "myzset", "-", "+", "WITHSCORES"]),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    for (a, b) in [
        ("foo", "bar"),
        ("[foo", "bar"),
        ("foo", "[bar"),
        ("+x", "[bar"),
        ("-x", "[bar"),
    ] {
        assert_eq!(db.run(&["ZRANGEBYLEX", "myzset", a, b]), err(RANGE_LEX));
    }
}

#[test]
fn zrangestore_example() {
    let mut db = Db::new();
    db.run(&[
        "ZADD", "srczset", "1", "one", "2", "two", "3", "three", "4", "four",
    ]);
    assert_eq!(
        db.run(&["ZRANGESTORE", "dstzset", "srczset", "2", "-1"]),
        int(2)
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "dstzset", "0", "-1"])),
        strs(&["three", "four"])
    );
    assert_eq!(
        db.run(&[
            "ZRANGESTORE",
            "dstzset",
            "srczset",
            "5",
            "0",
            "BYSCORE",
            "REV",
            "LIMIT",
            "0",
            "2"
        ]),
        int(2)
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "dstzset", "0", "-1", "WITHSCORES"])),
        strs(&["three", "3", "four", "4"])
    );
    assert_eq!(
        db.run(&["ZRANGESTORE", "dstzset", "missing", "0", "-1"]),
        int(0)
    );
    assert_eq!(db.run(&["EXISTS", "dstzset"]), int(0));
    assert_eq!(
        db.run(&["ZRANGESTORE", "dstzset", "srczset", "0", "-1", "WITHSCORES"]),
        err(SYNTAX)
    );
    db.run(&["SET", "str", "x"]);
    assert_eq!(
        db.run(&["ZRANGESTORE", "dstzset", "str", "0", "-1"]),
        err(WRONGTYPE)
    );
}

#[test]
fn zrank_zrevrank_examples() {
    let mut db = Db::new();
    three(&mut db, "myzset");
    assert_eq!(db.run(&["ZRANK", "myzset", "three"]), int(2));
    assert_eq!(db.run(&["ZRANK", "myzset", "four"]), Frame::Null);
    assert_eq!(
        db.run(&["ZRANK", "myzset", "three", "WITHSCORE"]),
        arr(vec![int(2), dbl(3.0)])
    );
    assert_eq!(
        db.run(&["ZRANK", "myzset", "four", "WITHSCORE"]),
        Frame::NullArray
    );
    assert_eq!(db.run(&["ZREVRANK", "myzset", "one"]), int(2));
    assert_eq!(db.run(&["ZREVRANK", "myzset", "four"]), Frame::Null);
    assert_eq!(
        db.run(&["ZREVRANK", "myzset", "three", "WITHSCORE"]),
        arr(vec![int(0), dbl(3.0)])
    );
    assert_eq!(
        db.run(&["ZREVRANK", "myzset", "four", "WITHSCORE"]),
        Frame::NullArray
    );
    assert_eq!(db.run(&["ZRANK", "nokey", "a"]), Frame::Null);
    assert_eq!(db.run(&["ZRANK", "myzset", "one", "bad"]), err(SYNTAX));
    assert_eq!(
        db.run(&["ZRANK", "myzset", "one", "WITHSCORE", "x"]),
        err("ERR wrong number of arguments for 'zrank' command")
    );
}

#[test]
fn zrem_and_zremrange_examples() {
    let mut db = Db::new();
    three(&mut db, "myzset");
    assert_eq!(db.run(&["ZREM", "myzset", "two"]), int(1));
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "0", "-1", "WITHSCORES"])),
        strs(&["one", "1", "three", "3"])
    );
    assert_eq!(
        db.run(&["ZREM", "myzset", "one", "one", "x", "three"]),
        int(2)
    );
    assert_eq!(db.run(&["EXISTS", "myzset"]), int(0));
    assert_eq!(db.run(&["ZREM", "myzset", "x"]), int(0));

    three(&mut db, "myzset");
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "myzset", "0", "1"]), int(2));
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "0", "-1", "WITHSCORES"])),
        strs(&["three", "3"])
    );
    assert_eq!(db.run(&["ZREMRANGEBYRANK", "myzset", "5", "10"]), int(0));
    assert_eq!(
        db.run(&["ZREMRANGEBYRANK", "myzset", "a", "10"]),
        err(NOT_INT)
    );

    db.run(&["DEL", "myzset"]);
    three(&mut db, "myzset");
    assert_eq!(
        db.run(&["ZREMRANGEBYSCORE", "myzset", "-inf", "(2"]),
        int(1)
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "0", "-1", "WITHSCORES"])),
        strs(&["two", "2", "three", "3"])
    );
    assert_eq!(
        db.run(&["ZREMRANGEBYSCORE", "myzset", "1", "nan"]),
        err(RANGE_FLOAT)
    );
    assert_eq!(
        db.run(&["ZREMRANGEBYSCORE", "myzset", "-inf", "+inf"]),
        int(2)
    );
    assert_eq!(db.run(&["EXISTS", "myzset"]), int(0));

    db.run(&[
        "ZADD", "myzset", "0", "aaaa", "0", "b", "0", "c", "0", "d", "0", "e",
    ]);
    db.run(&[
        "ZADD", "myzset", "0", "foo", "0", "zap", "0", "zip", "0", "ALPHA", "0", "alpha",
    ]);
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "0", "-1"])),
        strs(&["ALPHA", "aaaa", "alpha", "b", "c", "d", "e", "foo", "zap", "zip"])
    );
    assert_eq!(
        db.run(&["ZREMRANGEBYLEX", "myzset", "[alpha", "[omega"]),
        int(6)
    );
    assert_eq!(
        texts(db.run(&["ZRANGE", "myzset", "0", "-1"])),
        strs(&["ALPHA", "aaaa", "zap", "zip"])
    );
    assert_eq!(
        db.run(&["ZREMRANGEBYLEX", "myzset", "alpha", "[omega"]),
        err(RANGE_LEX)
    );
    assert_eq!(db.run(&["ZCARD", "myzset"]), int(4));
    db.run(&["SET", "str", "x"]);
    assert_eq!(db.run(&["ZREM", "str", "x"]), err(WRONGTYPE));
    assert_eq!(
        db.run(&["ZREMRANGEBYRANK", "str", "0", "1"]),
        err(WRONGTYPE)
    );
}

#[test]
fn zrevrange_example() {
    let mut db = Db::new();
    three(&mut db, "myzset");
    assert_eq!(
        texts(db.run(&["ZREVRANGE", "myzset", "0", "-1"])),
        strs(&["three", "two", "one"])
    );
    assert_eq!(
        texts(db.run(&["ZREVRANGE", "myzset", "2", "3"])),
        strs(&["one"])
    );
    assert_eq!(
        texts(db.run(&["ZREVRANGE", "myzset", "-2", "-1"])),
        strs(&["two", "one"])
    );
    assert_eq!(
        texts(db.run(&["ZREVRANGE", "myzset", "0", "0", "WITHSCORES"])),
        strs(&["three", "3"])
    );
    assert_eq!(
        db.run(&["ZREVRANGE", "myzset", "0", "-1", "REV"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["ZREVRANGE", "myzset", "0", "-1", "BYSCORE"]),
        err(SYNTAX)
    );
}

#[test]
fn zscan_pages() {
    let mut db = Db::new();
    db.run(&["ZADD", "z", "1", "a", "2.5", "b", "-inf", "c"]);
    assert_eq!(
        texts_scan(db.run(&["ZSCAN", "z", "0"])),
        ("0".to_string(), strs(&["a", "1", "b", "2.5", "c", "-inf"]))
    );
    assert_eq!(
        texts_scan(db.run(&["ZSCAN", "z", "0", "MATCH", "b*"])),
        ("0".to_string(), strs(&["b", "2.5"]))
    );
    // The cursor is a position in hash order (b, c, a): coll::scan_hash.
    assert_eq!(
        texts_scan(db.run(&["ZSCAN", "z", "0", "COUNT", "2"])),
        (
            "9413272369427828315".to_string(),
            strs(&["b", "2.5", "c", "-inf"])
        )
    );
    assert_eq!(
        texts_scan(db.run(&["ZSCAN", "z", "9413272369427828315", "COUNT", "2"])),
        ("0".to_string(), strs(&["a", "1"]))
    );
    assert_eq!(
        texts_scan(db.run(&["ZSCAN", "nokey", "0"])),
        ("0".to_string(), vec![])
    );
    assert_eq!(db.run(&["ZSCAN", "z", "x"]), err("ERR invalid cursor"));
    assert_eq!(db.run(&["ZSCAN", "z", "0", "COUNT", "0"]), err(SYNTAX));
    assert_eq!(
        db.run(&["ZSCAN", "z", "0", "NOVALUES"]),
        err("ERR NOVALUES option can only be used in HSCAN")
    );
    // Scores in ZSCAN are bulk strings even for RESP3 (as Redis).
    match db.run(&["ZSCAN", "z", "0"]) {
        Frame::Array(v) => match &v[1] {
            Frame::Array(items) => assert!(items.iter().all(|f| matches!(f, Frame::Bulk(_)))),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

fn texts_scan(f: Frame) -> (String, Vec<String>) {
    match f {
        Frame::Array(mut v) if v.len() == 2 => {
            let items = texts(v.pop().unwrap());
            (text(&v[0]), items)
        }
        other => panic!("not a scan reply: {other:?}"),
    }
}

#[test]
fn wrongtype_everywhere() {
    let mut db = Db::new();
    db.run(&["SET", "str", "x"]);
    for args in [
        vec!["ZCARD", "str"],
        vec!["ZSCORE", "str", "a"],
        vec!["ZMSCORE", "str", "a"],
        vec!["ZCOUNT", "str", "0", "1"],
        vec!["ZLEXCOUNT", "str", "-", "+"],
        vec!["ZRANGEBYSCORE", "str", "0", "1"],
        vec!["ZRANGEBYLEX", "str", "-", "+"],
        vec!["ZREVRANGE", "str", "0", "1"],
        vec!["ZRANK", "str", "a"],
        vec!["ZREVRANK", "str", "a"],
        vec!["ZSCAN", "str", "0"],
        vec!["ZRANDMEMBER", "str"],
        vec!["ZRANDMEMBER", "str", "2"],
        vec!["ZREMRANGEBYSCORE", "str", "0", "1"],
        vec!["ZREMRANGEBYLEX", "str", "-", "+"],
        vec!["ZDIFF", "1", "str"],
        vec!["ZINTERCARD", "1", "str"],
    ] {
        assert_eq!(db.run(&args), err(WRONGTYPE), "{args:?}");
    }
    // A zset is the wrong type for other commands.
    db.run(&["ZADD", "z", "1", "a"]);
    assert_eq!(db.run(&["GET", "z"]), err(WRONGTYPE));
    assert_eq!(db.run(&["SADD", "z", "a"]), err(WRONGTYPE));
}

#[test]
fn key_positions_follow_numkeys() {
    let argv = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    let pos = |name: &str, v: &[&str]| {
        engine::lookup(name.as_bytes())
            .unwrap()
            .key_positions(&argv(v))
    };
    assert_eq!(
        pos("zunion", &["zunion", "2", "a", "b", "WEIGHTS", "1", "2"]),
        vec![2, 3]
    );
    assert_eq!(
        pos("zunionstore", &["zunionstore", "d", "2", "a", "b"]),
        vec![1, 3, 4]
    );
    assert_eq!(pos("zintercard", &["zintercard", "5", "a"]), vec![2]);
    assert_eq!(pos("zmpop", &["zmpop", "1", "a", "MIN"]), vec![2]);
    assert_eq!(
        pos("zmpop", &["zmpop", "x", "a", "MIN"]),
        Vec::<usize>::new()
    );
    assert_eq!(
        pos("zrangestore", &["zrangestore", "d", "s", "0", "1"]),
        vec![1, 2]
    );
    assert_eq!(pos("zadd", &["zadd", "k", "1", "m"]), vec![1]);
    let zadd = engine::lookup(b"zadd").unwrap();
    assert!(zadd.is_write());
    assert!(zadd.acl_categories().contains(&"@sortedset".to_string()));
    assert_eq!(zadd.group, "sorted_set");
    assert!(!engine::lookup(b"zrange").unwrap().is_write());
    assert_eq!(
        pos("bzmpop", &["bzmpop", "0", "2", "a", "b", "MIN"]),
        vec![3, 4]
    );
}

// ---- ordering and big sets ------------------------------------------------------------

#[test]
fn scores_order_like_doubles_and_ties_by_member() {
    let mut db = Db::new();
    let scores = [
        f64::NEG_INFINITY,
        f64::MIN,
        -1e300,
        -2.5,
        -1.0,
        -f64::MIN_POSITIVE,
        -0.0,
        0.0,
        5e-324,
        f64::MIN_POSITIVE,
        1.0,
        1.0 + f64::EPSILON,
        3.5,
        1e300,
        f64::MAX,
        f64::INFINITY,
    ];
    let pairs: Vec<(f64, Vec<u8>)> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, format!("m{:02}", 15 - i).into_bytes()))
        .collect();
    db.fill("z", &pairs);
    let got = texts(db.run(&["ZRANGE", "z", "0", "-1"]));
    // -0 and 0 tie: ordered by member (m08 < m09).
    let want: Vec<String> = (0..16)
        .map(|i| match i {
            6 => "m08".to_string(),
            7 => "m09".to_string(),
            _ => format!("m{:02}", 15 - i),
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(text(&db.run(&["ZSCORE", "z", "m09"])), "0");
    assert_eq!(db.run(&["ZCOUNT", "z", "0", "0"]), int(2));
    assert_eq!(db.run(&["ZCOUNT", "z", "(0", "+inf"]), int(8));
    assert_eq!(db.run(&["ZCOUNT", "z", "(-inf", "(+inf"]), int(14));
}

/// Members `m0000..` with scores from a small set, so ties are common.
fn big_model(n: usize, distinct_scores: i64) -> Vec<(f64, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let s = ((i as i64 * 7919) % distinct_scores) as f64 - (distinct_scores / 2) as f64;
            (s, format!("m{i:05}").into_bytes())
        })
        .collect()
}

fn sorted(pairs: &[(f64, Vec<u8>)]) -> Vec<(f64, Vec<u8>)> {
    let mut v = pairs.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    v
}

fn names(v: &[(f64, Vec<u8>)]) -> Vec<String> {
    v.iter()
        .map(|(_, m)| String::from_utf8(m.clone()).unwrap())
        .collect()
}

#[test]
fn reading_from_the_high_end_of_big_sets() {
    for distinct in [1i64, 3, 1000, 100_000] {
        let mut db = Db::new();
        let pairs = big_model(5000, distinct);
        db.fill("z", &pairs);
        let all = sorted(&pairs);
        let n = all.len();
        let rev: Vec<_> = all.iter().rev().cloned().collect();
        assert_eq!(
            texts(db.run(&["ZREVRANGE", "z", "0", "9"])),
            names(&rev[..10]),
            "{distinct}"
        );
        assert_eq!(
            texts(db.run(&["ZREVRANGE", "z", "100", "149"])),
            names(&rev[100..150])
        );
        assert_eq!(
            texts(db.run(&["ZRANGE", "z", "-7", "-1"])),
            names(&all[n - 7..])
        );
        assert_eq!(
            texts(db.run(&["ZREVRANGE", "z", "-3", "-1"])),
            names(&rev[n - 3..])
        );
        assert_eq!(
            texts(db.run(&["ZRANGE", "z", "4990", "4999"])),
            names(&all[4990..])
        );
        let (lo, hi) = (all[1000].0, all[3000].0);
        let in_range: Vec<_> = all
            .iter()
            .filter(|(s, _)| *s >= lo && *s <= hi)
            .cloned()
            .collect();
        let rin: Vec<_> = in_range.iter().rev().cloned().collect();
        let (los, his) = (resp::format_double(lo), resp::format_double(hi));
        assert_eq!(
            texts(db.run(&["ZREVRANGEBYSCORE", "z", &his, &los, "LIMIT", "5", "20"])),
            names(&rin[5..25])
        );
        assert_eq!(
            db.run(&["ZCOUNT", "z", &los, &his]),
            int(in_range.len() as i64)
        );
        let top = &all[n - 1];
        assert_eq!(
            db.run(&["ZREVRANK", "z", std::str::from_utf8(&top.1).unwrap()]),
            int(0)
        );
        assert_eq!(
            db.run(&["ZRANK", "z", std::str::from_utf8(&all[1234].1).unwrap()]),
            int(1234)
        );
        assert_eq!(texts(db.run(&["ZPOPMAX", "z", "3"])).len(), 6);
        assert_eq!(texts(db.run(&["ZPOPMAX", "z"]))[0], names(&rev[3..4])[0]);
        assert_eq!(db.run(&["ZCARD", "z"]), int(n as i64 - 4));
    }
}

#[test]
fn members_differing_by_trailing_zero_bytes() {
    // Keys that only differ by trailing NULs defeat bisection; the walk fallback
    // must still be right.
    let mut db = Db::new();
    let mut pairs = Vec::new();
    for i in 0..100usize {
        let mut m = b"x".to_vec();
        m.extend(std::iter::repeat_n(0u8, i));
        pairs.push((0.0, m));
    }
    db.fill("z", &pairs);
    let all = sorted(&pairs);
    let got = db.run(&["ZREVRANGE", "z", "0", "2"]);
    let want: Vec<Frame> = all
        .iter()
        .rev()
        .take(3)
        .map(|(_, m)| Frame::Bulk(m.clone()))
        .collect();
    assert_eq!(got, Frame::Array(want));
    let got = db.run(&["ZREVRANGEBYLEX", "z", "+", "-", "LIMIT", "0", "1"]);
    assert_eq!(got, Frame::Array(vec![Frame::Bulk(all[99].1.clone())]));
}

// ---- O(1) writes ----------------------------------------------------------------------

#[test]
fn one_member_write_is_o1_and_del_is_o1() {
    let mut db = Db::new();
    let pairs: Vec<(f64, Vec<u8>)> = (0..10_000)
        .map(|i| ((i % 97) as f64, format!("member:{i}").into_bytes()))
        .collect();
    db.fill("big", &pairs);
    assert_eq!(db.run(&["ZCARD", "big"]), int(10_000));

    assert_eq!(db.run(&["ZADD", "big", "3.5", "newcomer"]), int(1));
    assert!(db.last.writes.len() <= 4, "{:?}", db.last.writes.len());
    assert_eq!(db.run(&["ZADD", "big", "4.5", "newcomer"]), int(0));
    assert!(db.last.writes.len() <= 4, "{:?}", db.last.writes.len());
    assert_eq!(db.run(&["ZINCRBY", "big", "1", "member:5"]), dbl(6.0));
    assert!(db.last.writes.len() <= 4);
    assert_eq!(db.run(&["ZREM", "big", "member:7"]), int(1));
    assert!(db.last.writes.len() <= 4);
    assert_eq!(
        db.run(&["ZPOPMIN", "big"]),
        arr(vec![bulk("member:0"), dbl(0.0)])
    );
    assert!(db.last.writes.len() <= 4);
    assert_eq!(db.run(&["ZPOPMIN", "big", "0"]), empty());
    assert!(db.last.writes.is_empty());

    assert_eq!(db.run(&["DEL", "big"]), int(1));
    // Plus the key's tombstone and its time-index record (2 writes).
    assert!(db.last.writes.len() <= 6, "{:?}", db.last.writes.len());
    // The dropped version's records go with it: one range delete, no garbage left.
    let data = |db: &Db| {
        db.store
            .map
            .keys()
            .filter(|(cf, _)| *cf == keys::Cf::Data)
            .count()
    };
    assert_eq!(data(&db), 0);
    assert_eq!(db.run(&["ZCARD", "big"]), int(0));
    assert_eq!(db.run(&["ZRANGE", "big", "0", "-1"]), empty());
    // Popping or removing everything only drops the meta.
    db.fill("big", &pairs[..5000]);
    assert_eq!(
        db.run(&["ZREMRANGEBYSCORE", "big", "-inf", "+inf"]),
        int(5000)
    );
    // Plus the key's tombstone and its time-index record (2 writes).
    assert!(db.last.writes.len() <= 6);
    assert_eq!(data(&db), 0);
    // A new incarnation does not see the old records.
    assert_eq!(db.run(&["ZADD", "big", "1", "x"]), int(1));
    assert_eq!(texts(db.run(&["ZRANGE", "big", "0", "-1"])), strs(&["x"]));
    // Overwriting with a string, and a small collection (point deletes), leave nothing.
    assert_eq!(db.run(&["SET", "big", "s"]), Frame::ok());
    assert_eq!(data(&db), 0);
    db.fill("big2", &pairs[..1000]);
    db.fill("small", &pairs[..10]);
    assert_eq!(db.run(&["RENAME", "big2", "small"]), Frame::ok());
    assert_eq!(data(&db), 2000);
    assert_eq!(db.run(&["EXPIRE", "small", "1"]), int(1));
    db.now += 1000;
    let due = vec![(db.now, b"small".to_vec())];
    db.index += 1;
    let mut t = engine::Txn::new(&db.store, db.index, db.now, db.seed);
    assert_eq!(t.expire_if_due(0, &due), Ok(1));
    db.store.apply(&t.into_effects());
    assert_eq!(data(&db), 0);
}

// ---- model ----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Add(Vec<(u8, f64)>, u8),
    Incr(u8, f64),
    Rem(Vec<u8>),
    PopMin(Option<u8>),
    PopMax(Option<u8>),
    RemByScore(f64, bool, f64, bool),
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => (-4i32..5).prop_map(|i| i as f64),
        2 => (-40i32..40).prop_map(|i| i as f64 / 8.0),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (proptest::collection::vec((0u8..40, score()), 1..6), 0u8..8).prop_map(|(p, f)| Op::Add(p, f)),
        2 => (0u8..40, score()).prop_map(|(m, s)| Op::Incr(m, s)),
        2 => proptest::collection::vec(0u8..40, 1..4).prop_map(Op::Rem),
        1 => proptest::option::of(0u8..6).prop_map(Op::PopMin),
        1 => proptest::option::of(0u8..6).prop_map(Op::PopMax),
        1 => (score(), any::<bool>(), score(), any::<bool>()).prop_map(|(a, ax, b, bx)| Op::RemByScore(a, ax, b, bx)),
    ]
}

fn member(i: u8) -> String {
    format!("m{i:02}")
}

fn fmt(s: f64) -> String {
    resp::format_double(s)
}

fn bound(s: f64, ex: bool) -> String {
    format!("{}{}", if ex { "(" } else { "" }, fmt(s))
}

fn model_sorted(m: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    v
}

fn flat(v: &[(String, f64)]) -> Vec<String> {
    v.iter().flat_map(|(m, s)| [m.clone(), fmt(*s)]).collect()
}

fn in_range(s: f64, lo: f64, lox: bool, hi: f64, hix: bool) -> bool {
    (if lox { s > lo } else { s >= lo }) && (if hix { s < hi } else { s <= hi })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn zset_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..80),
                               probes in proptest::collection::vec((score(), any::<bool>(), score(), any::<bool>(), 0i64..5, -1i64..6), 4),
                               tiered in any::<bool>()) {
        // Half the runs keep a memory tier in step (caching sets of any size), so the
        // ranks, counts and ranges below come from its decoded copy.
        let mut db = if tiered { Db::tiered() } else { Db::new() };
        let mut model: BTreeMap<String, f64> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Add(pairs, flags) => {
                    // flags: bit0 NX, bit1 XX, bit2 CH (NX+XX avoided).
                    let (nx, xx, ch) = (flags & 1 != 0, flags & 2 != 0 && flags & 1 == 0, flags & 4 != 0);
                    let mut argv = vec!["ZADD".to_string(), "z".to_string()];
                    if nx { argv.push("NX".into()); }
                    if xx { argv.push("XX".into()); }
                    if ch { argv.push("CH".into()); }
                    let (mut added, mut changed) = (0, 0);
                    for (m, s) in &pairs {
                        argv.push(fmt(*s));
                        argv.push(member(*m));
                        let s = if *s == 0.0 { 0.0 } else { *s };
                        match model.get(&member(*m)).copied() {
                            Some(old) if !nx => {
                                if old != s { changed += 1; }
                                model.insert(member(*m), s);
                            }
                            Some(_) => {}
                            None if !xx => { added += 1; model.insert(member(*m), s); }
                            None => {}
                        }
                    }
                    let a: Vec<&str> = argv.iter().map(String::as_str).collect();
                    prop_assert_eq!(db.run(&a), int(if ch { added + changed } else { added }));
                }
                Op::Incr(m, by) => {
                    let old = model.get(&member(m)).copied().unwrap_or(0.0);
                    let new = old + by;
                    let r = db.run(&["ZINCRBY", "z", &fmt(by), &member(m)]);
                    if new.is_nan() {
                        prop_assert_eq!(r, err("ERR resulting score is not a number (NaN)"));
                    } else {
                        let new = if new == 0.0 { 0.0 } else { new };
                        prop_assert_eq!(r, dbl(new));
                        model.insert(member(m), new);
                    }
                }
                Op::Rem(ms) => {
                    let mut argv = vec!["ZREM".to_string(), "z".to_string()];
                    let mut n = 0;
                    for m in ms {
                        argv.push(member(m));
                        if model.remove(&member(m)).is_some() { n += 1; }
                    }
                    let a: Vec<&str> = argv.iter().map(String::as_str).collect();
                    prop_assert_eq!(db.run(&a), int(n));
                }
                Op::PopMin(c) | Op::PopMax(c) => {
                    let max = matches!(op, Op::PopMax(_));
                    let name = if max { "ZPOPMAX" } else { "ZPOPMIN" };
                    let r = match c {
                        None => db.run(&[name, "z"]),
                        Some(c) => db.run(&[name, "z", &c.to_string()]),
                    };
                    let mut s = model_sorted(&model);
                    if max { s.reverse(); }
                    s.truncate(c.map_or(1, |c| c as usize));
                    for (m, _) in &s { model.remove(m); }
                    prop_assert_eq!(texts(r), flat(&s));
                }
                Op::RemByScore(lo, lox, hi, hix) => {
                    let r = db.run(&["ZREMRANGEBYSCORE", "z", &bound(lo, lox), &bound(hi, hix)]);
                    let doomed: Vec<String> = model.iter().filter(|(_, s)| in_range(**s, lo, lox, hi, hix)).map(|(m, _)| m.clone()).collect();
                    for m in &doomed { model.remove(m); }
                    prop_assert_eq!(r, int(doomed.len() as i64));
                }
            }
            let sorted = model_sorted(&model);
            prop_assert_eq!(texts(db.run(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])), flat(&sorted));
            prop_assert_eq!(db.run(&["ZCARD", "z"]), int(model.len() as i64));
            prop_assert_eq!(db.run(&["EXISTS", "z"]), int(!model.is_empty() as i64));
        }
        // Ranges, ranks and the reverse readers against the model.
        let sorted = model_sorted(&model);
        let rev: Vec<_> = sorted.iter().rev().cloned().collect();
        for (lo, lox, hi, hix, off, cnt) in probes {
            let want: Vec<(String, f64)> = sorted.iter().filter(|(_, s)| in_range(*s, lo, lox, hi, hix)).cloned().collect();
            prop_assert_eq!(
                texts(db.run(&["ZRANGEBYSCORE", "z", &bound(lo, lox), &bound(hi, hix), "WITHSCORES"])),
                flat(&want)
            );
            prop_assert_eq!(db.run(&["ZCOUNT", "z", &bound(lo, lox), &bound(hi, hix)]), int(want.len() as i64));
            let limited: Vec<_> = want.iter().skip(off as usize).take(if cnt < 0 { usize::MAX } else { cnt as usize }).cloned().collect();
            prop_assert_eq!(
                texts(db.run(&["ZRANGEBYSCORE", "z", &bound(lo, lox), &bound(hi, hix), "WITHSCORES", "LIMIT", &off.to_string(), &cnt.to_string()])),
                flat(&limited)
            );
            let rwant: Vec<_> = want.iter().rev().skip(off as usize).take(if cnt < 0 { usize::MAX } else { cnt as usize }).cloned().collect();
            prop_assert_eq!(
                texts(db.run(&["ZREVRANGEBYSCORE", "z", &bound(hi, hix), &bound(lo, lox), "WITHSCORES", "LIMIT", &off.to_string(), &cnt.to_string()])),
                flat(&rwant)
            );
            let (a, b) = (off - 2, cnt - 3);
            let n = sorted.len() as i64;
            let norm = |i: i64| if i < 0 { i + n } else { i };
            let (s, e) = (norm(a).max(0), norm(b).min(n - 1));
            let pick = |v: &[(String, f64)]| -> Vec<(String, f64)> {
                if s > e || s >= n { vec![] } else { v[s as usize..=e as usize].to_vec() }
            };
            prop_assert_eq!(texts(db.run(&["ZRANGE", "z", &a.to_string(), &b.to_string(), "WITHSCORES"])), flat(&pick(&sorted)));
            prop_assert_eq!(texts(db.run(&["ZREVRANGE", "z", &a.to_string(), &b.to_string(), "WITHSCORES"])), flat(&pick(&rev)));
        }
        for (i, (m, s)) in sorted.iter().enumerate() {
            prop_assert_eq!(db.read_path(&["ZRANK", "z", m]), int(i as i64));
            prop_assert_eq!(db.run(&["ZRANK", "z", m, "WITHSCORE"]), arr(vec![int(i as i64), dbl(*s)]));
            prop_assert_eq!(db.run(&["ZREVRANK", "z", m]), int((sorted.len() - 1 - i) as i64));
            prop_assert_eq!(db.run(&["ZSCORE", "z", m]), dbl(*s));
        }
        if let Some(tier) = &db.tier {
            // The tier really answered (it is not silently bypassed).
            prop_assert!(sorted.is_empty() || tier.stats().hits > 0);
        }
    }

    #[test]
    fn zadd_and_zrange_order_any_doubles(scores in proptest::collection::vec(
        prop_oneof![
            any::<f64>().prop_filter("finite or inf, no NaN", |f| !f.is_nan()),
            Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(0.0), Just(-0.0)
        ], 1..40)) {
        let mut db = Db::new();
        let pairs: Vec<(f64, Vec<u8>)> = scores.iter().enumerate().map(|(i, s)| (*s, format!("m{i:02}").into_bytes())).collect();
        db.fill("z", &pairs);
        let want = sorted(&pairs.iter().map(|(s, m)| (if *s == 0.0 { 0.0 } else { *s }, m.clone())).collect::<Vec<_>>());
        let got = db.run(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
        let expect: Vec<Frame> = want.iter().flat_map(|(s, m)| [Frame::Bulk(m.clone()), Frame::Double(*s)]).collect();
        prop_assert_eq!(got, Frame::Array(expect));
    }
}

// ---- the memory tier ----------------------------------------------------------------

/// Ranks and ranges of every member, read on the read path.
fn rank_view(db: &Db, n: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(db.read_path(&["ZRANK", "z", &format!("m{i:04}")]));
        out.push(db.read_path(&["ZREVRANK", "z", &format!("m{i:04}")]));
    }
    out.push(db.read_path(&["ZRANGE", "z", "17", "40", "WITHSCORES"]));
    out.push(db.read_path(&["ZREVRANGE", "z", "3", "9"]));
    out.push(db.read_path(&["ZCOUNT", "z", "(10", "100"]));
    out.push(db.read_path(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "50", "5"]));
    out.push(db.read_path(&["ZREVRANGEBYSCORE", "z", "+inf", "(20", "LIMIT", "3", "4"]));
    out
}

#[test]
fn large_sets_are_ranked_from_the_tier_and_stay_exact_through_writes() {
    let pairs: Vec<(f64, Vec<u8>)> = (0..300)
        .map(|i| (((i * 37) % 150) as f64, format!("m{i:04}").into_bytes()))
        .collect();
    let mut plain = Db::new();
    let mut tiered = Db::new();
    tiered.tier = Some(engine::Tier::default());
    plain.fill("z", &pairs);
    tiered.fill("z", &pairs);
    assert_eq!(rank_view(&tiered, 300), rank_view(&plain, 300));
    let stats = tiered.tier.as_ref().unwrap().stats();
    assert_eq!(stats.entries, 1);
    assert!(stats.hits > 500, "{stats:?}");
    assert_eq!(stats.builds, 1);
    // Writes keep the copy in step (no rebuild), whatever command makes them.
    for cmd in [
        &["ZADD", "z", "5.5", "m0007", "-3", "new1", "1000", "new2"][..],
        &["ZINCRBY", "z", "-100", "m0100"],
        &["ZREM", "z", "m0003", "m0004", "nope"],
        &["ZPOPMIN", "z", "2"],
        &["ZREMRANGEBYRANK", "z", "10", "12"],
        &["EXPIRE", "z", "1000"],
        &["ZREMRANGEBYSCORE", "z", "(20", "22"],
    ] {
        assert_eq!(tiered.run(cmd), plain.run(cmd), "{cmd:?}");
        assert_eq!(
            rank_view(&tiered, 300),
            rank_view(&plain, 300),
            "after {cmd:?}"
        );
    }
    let stats = tiered.tier.as_ref().unwrap().stats();
    assert_eq!((stats.entries, stats.builds), (1, 1), "{stats:?}");
    // A new incarnation drops the copy.
    assert_eq!(tiered.run(&["DEL", "z"]), int(1));
    assert_eq!(tiered.tier.as_ref().unwrap().stats().entries, 0);
    assert_eq!(tiered.read_path(&["ZRANK", "z", "m0001"]), Frame::Null);
}

#[test]
fn a_copy_built_one_entry_ahead_converges_and_a_stale_one_is_refused() {
    let pairs: Vec<(f64, Vec<u8>)> = (0..200)
        .map(|i| ((i % 20) as f64, format!("m{i:04}").into_bytes()))
        .collect();
    let mut plain = Db::new();
    let mut db = Db::new();
    db.tier = Some(engine::Tier::default());
    plain.fill("z", &pairs);
    db.fill("z", &pairs);
    let write = |db: &mut Db, argv: &[&str]| -> engine::Effects {
        db.index += 1;
        let mut t = engine::Txn::new(&db.store, db.index, db.now, db.seed);
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
        t.run(0, &argv);
        let e = t.into_effects();
        db.store.apply(&e);
        e
    };
    // A reader reads the generation, then the state machine writes an entry, then the
    // reader builds from a view that already has it, then the entry is observed.
    let generation = db.tier.as_ref().unwrap().generation();
    let e = write(&mut db, &["ZADD", "z", "-1", "first", "7.5", "m0001"]);
    plain.run(&["ZADD", "z", "-1", "first", "7.5", "m0001"]);
    {
        let tier = db.tier.as_ref().unwrap();
        let mut t = engine::Txn::read_only(&db.store, db.now, 0).with_tier(tier, generation);
        assert_eq!(
            t.run(0, &[b"ZRANK".to_vec(), b"z".to_vec(), b"first".to_vec()]),
            int(0)
        );
        assert_eq!(tier.stats().builds, 1);
        tier.observe(&e);
    }
    assert_eq!(rank_view(&db, 200), rank_view(&plain, 200));
    // A reader whose generation is older than an observed entry must not insert.
    db.run(&["DEL", "z"]);
    plain.run(&["DEL", "z"]);
    db.fill("z", &pairs);
    plain.fill("z", &pairs);
    let tier_builds = db.tier.as_ref().unwrap().stats().builds;
    let generation = db.tier.as_ref().unwrap().generation();
    let e = write(&mut db, &["ZREM", "z", "m0005"]);
    db.tier.as_ref().unwrap().observe(&e);
    plain.run(&["ZREM", "z", "m0005"]);
    {
        let tier = db.tier.as_ref().unwrap();
        let mut t = engine::Txn::read_only(&db.store, db.now, 0).with_tier(tier, generation);
        t.run(0, &[b"ZRANK".to_vec(), b"z".to_vec(), b"m0009".to_vec()]);
        assert_eq!(tier.stats().builds, tier_builds, "a stale build was cached");
    }
    assert_eq!(rank_view(&db, 200), rank_view(&plain, 200));
}
