//! Set commands checked against Redis 7's documented behaviour (redis.io examples,
//! error texts), a model, determinism of random picks and O(1) writes.

use engine::Frame;
use proptest::prelude::*;
use std::collections::BTreeSet;

mod common;
use common::*;

impl Db {
    /// SADD of many members, in chunks.
    fn fill(&mut self, key: &str, members: impl IntoIterator<Item = String>) {
        let members: Vec<String> = members.into_iter().collect();
        for chunk in members.chunks(1000) {
            let mut argv = vec!["SADD".to_string(), key.to_string()];
            argv.extend(chunk.iter().cloned());
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            self.run(&argv);
        }
    }
}
fn err(s: &str) -> Frame {
    Frame::Error(s.to_string())
}
fn set(v: &[&str]) -> Frame {
    Frame::Set(v.iter().map(|s| bulk(s)).collect())
}

/// The members of a reply (Set or Array of bulks), as strings.
fn strings(f: Frame) -> Vec<String> {
    match f {
        Frame::Set(v) | Frame::Array(v) => v
            .into_iter()
            .map(|x| match x {
                Frame::Bulk(b) => String::from_utf8(b).unwrap(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not a collection: {other:?}"),
    }
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

// ---- redis.io examples ----------------------------------------------------------------

#[test]
fn sadd_smembers_scard_srem() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SADD", "myset", "Hello"]), int(1));
    assert_eq!(db.run(&["SADD", "myset", "World"]), int(1));
    assert_eq!(db.run(&["SADD", "myset", "World"]), int(0));
    assert_eq!(db.run(&["SMEMBERS", "myset"]), set(&["Hello", "World"]));
    assert_eq!(db.run(&["SCARD", "myset"]), int(2));
    assert_eq!(db.run(&["SADD", "myset", "a", "a", "b", "Hello"]), int(2));
    assert_eq!(db.run(&["SCARD", "myset"]), int(4));
    assert_eq!(db.run(&["SCARD", "nokey"]), int(0));
    assert_eq!(db.run(&["SMEMBERS", "nokey"]), set(&[]));

    let mut db = Db::new();
    db.run(&["SADD", "myset", "one", "two", "three"]);
    assert_eq!(db.run(&["SREM", "myset", "one"]), int(1));
    assert_eq!(db.run(&["SREM", "myset", "four"]), int(0));
    assert_eq!(db.run(&["SMEMBERS", "myset"]), set(&["three", "two"]));
    assert_eq!(db.run(&["SREM", "myset", "two", "three", "two"]), int(2));
    assert_eq!(db.run(&["EXISTS", "myset"]), int(0));
    assert_eq!(db.run(&["SREM", "myset", "x"]), int(0));
}

#[test]
fn sismember_smismember() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SADD", "myset", "one"]), int(1));
    assert_eq!(db.run(&["SISMEMBER", "myset", "one"]), int(1));
    assert_eq!(db.run(&["SISMEMBER", "myset", "two"]), int(0));
    assert_eq!(db.run(&["SISMEMBER", "nokey", "two"]), int(0));
    assert_eq!(
        db.run(&["SMISMEMBER", "myset", "one", "notamember"]),
        Frame::Array(vec![int(1), int(0)])
    );
    assert_eq!(
        db.run(&["SMISMEMBER", "nokey", "one", "two"]),
        Frame::Array(vec![int(0), int(0)])
    );
}

#[test]
fn sdiff_sinter_sunion_and_store() {
    let mut db = Db::new();
    db.run(&["SADD", "key1", "a", "b", "c"]);
    db.run(&["SADD", "key2", "c", "d", "e"]);
    assert_eq!(db.run(&["SDIFF", "key1", "key2"]), set(&["a", "b"]));
    assert_eq!(db.run(&["SINTER", "key1", "key2"]), set(&["c"]));
    assert_eq!(
        db.run(&["SUNION", "key1", "key2"]),
        set(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(db.run(&["SDIFFSTORE", "key", "key1", "key2"]), int(2));
    assert_eq!(db.run(&["SMEMBERS", "key"]), set(&["a", "b"]));
    assert_eq!(db.run(&["SINTERSTORE", "key", "key1", "key2"]), int(1));
    assert_eq!(db.run(&["SMEMBERS", "key"]), set(&["c"]));
    assert_eq!(db.run(&["SUNIONSTORE", "key", "key1", "key2"]), int(5));
    assert_eq!(
        db.run(&["SMEMBERS", "key"]),
        set(&["a", "b", "c", "d", "e"])
    );
    // Missing keys are empty sets.
    assert_eq!(db.run(&["SDIFF", "key1", "nokey"]), set(&["a", "b", "c"]));
    assert_eq!(db.run(&["SDIFF", "nokey", "key1"]), set(&[]));
    assert_eq!(db.run(&["SINTER", "key1", "nokey"]), set(&[]));
    assert_eq!(db.run(&["SUNION", "nokey", "key2"]), set(&["c", "d", "e"]));
    assert_eq!(db.run(&["SINTER", "key1"]), set(&["a", "b", "c"]));
    assert_eq!(db.run(&["SINTER", "key1", "key1"]), set(&["a", "b", "c"]));
    assert_eq!(db.run(&["SDIFF", "key1", "key1"]), set(&[]));
    // Storing onto a source works.
    assert_eq!(db.run(&["SUNIONSTORE", "key1", "key1", "key2"]), int(5));
    assert_eq!(db.run(&["SCARD", "key1"]), int(5));
    // An empty result deletes the destination.
    assert_eq!(db.run(&["SINTERSTORE", "key", "key2", "nokey"]), int(0));
    assert_eq!(db.run(&["EXISTS", "key"]), int(0));
    assert_eq!(db.run(&["SDIFFSTORE", "key1", "key2", "key1"]), int(0));
    assert_eq!(db.run(&["EXISTS", "key1"]), int(0));
    // The destination is overwritten whatever its type, and loses its TTL.
    assert_eq!(db.run(&["SET", "dst", "x", "EX", "100"]), Frame::ok());
    assert_eq!(db.run(&["SUNIONSTORE", "dst", "key2"]), int(3));
    assert_eq!(db.run(&["SMEMBERS", "dst"]), set(&["c", "d", "e"]));
    assert_eq!(db.run(&["TTL", "dst"]), int(-1));
    assert_eq!(db.run(&["TYPE", "dst"]), Frame::Simple("set".into()));
}

#[test]
fn sintercard() {
    let mut db = Db::new();
    db.run(&["SADD", "key1", "a", "b", "c", "d"]);
    db.run(&["SADD", "key2", "c", "d", "e"]);
    assert_eq!(db.run(&["SINTER", "key1", "key2"]), set(&["c", "d"]));
    assert_eq!(db.run(&["SINTERCARD", "2", "key1", "key2"]), int(2));
    assert_eq!(
        db.run(&["SINTERCARD", "2", "key1", "key2", "LIMIT", "1"]),
        int(1)
    );
    assert_eq!(
        db.run(&["SINTERCARD", "2", "key1", "key2", "LIMIT", "0"]),
        int(2)
    );
    assert_eq!(db.run(&["SINTERCARD", "1", "key1"]), int(4));
    assert_eq!(db.run(&["SINTERCARD", "2", "key1", "nokey"]), int(0));
    assert_eq!(
        db.run(&["SINTERCARD", "0", "key1"]),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        db.run(&["SINTERCARD", "x", "key1"]),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        db.run(&["SINTERCARD", "3", "key1", "key2"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        db.run(&["SINTERCARD", "2", "key1", "key2", "LIMIT", "-1"]),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(
        db.run(&["SINTERCARD", "2", "key1", "key2", "LIMIT"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["SINTERCARD", "1", "key1", "key2"]), err(SYNTAX));
    let spec = engine::lookup(b"sintercard").unwrap();
    let argv: Vec<Vec<u8>> = ["sintercard", "2", "a", "b", "LIMIT", "1"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    assert_eq!(spec.key_positions(&argv), vec![2, 3]);
    assert!(spec.flag_names().contains(&"movablekeys"));
}

#[test]
fn smove() {
    let mut db = Db::new();
    db.run(&["SADD", "myset", "one", "two"]);
    db.run(&["SADD", "myotherset", "three"]);
    assert_eq!(db.run(&["SMOVE", "myset", "myotherset", "two"]), int(1));
    assert_eq!(db.run(&["SMEMBERS", "myset"]), set(&["one"]));
    assert_eq!(db.run(&["SMEMBERS", "myotherset"]), set(&["three", "two"]));
    assert_eq!(db.run(&["SMOVE", "myset", "myotherset", "zzz"]), int(0));
    assert_eq!(db.run(&["SMOVE", "nokey", "myotherset", "one"]), int(0));
    // Moving the last member deletes the source and creates the destination.
    assert_eq!(db.run(&["SMOVE", "myset", "fresh", "one"]), int(1));
    assert_eq!(db.run(&["EXISTS", "myset"]), int(0));
    assert_eq!(db.run(&["SMEMBERS", "fresh"]), set(&["one"]));
    // Already in the destination: still 1, the source loses it.
    db.run(&["SADD", "src", "x", "y"]);
    db.run(&["SADD", "dst", "x"]);
    assert_eq!(db.run(&["SMOVE", "src", "dst", "x"]), int(1));
    assert_eq!(db.run(&["SMEMBERS", "src"]), set(&["y"]));
    assert_eq!(db.run(&["SMEMBERS", "dst"]), set(&["x"]));
    // Same key: membership answer, no change.
    assert_eq!(db.run(&["SMOVE", "src", "src", "y"]), int(1));
    assert_eq!(db.run(&["SMOVE", "src", "src", "q"]), int(0));
    assert_eq!(db.run(&["SMEMBERS", "src"]), set(&["y"]));
    // Types: a missing source wins over a wrong destination.
    db.run(&["SET", "str", "v"]);
    assert_eq!(db.run(&["SMOVE", "nokey", "str", "y"]), int(0));
    assert_eq!(db.run(&["SMOVE", "src", "str", "y"]), err(WRONGTYPE));
    assert_eq!(db.run(&["SMOVE", "str", "src", "y"]), err(WRONGTYPE));
    assert_eq!(db.run(&["SMEMBERS", "src"]), set(&["y"]));
}

#[test]
fn spop() {
    let mut db = Db::new();
    db.run(&["SADD", "myset", "one", "two", "three"]);
    let popped = strings(Frame::Array(vec![db.run(&["SPOP", "myset"])]));
    assert!(["one", "two", "three"].contains(&popped[0].as_str()));
    assert_eq!(db.run(&["SISMEMBER", "myset", &popped[0]]), int(0));
    assert_eq!(db.run(&["SCARD", "myset"]), int(2));
    db.run(&["SADD", "myset", "four", "five"]);
    let Frame::Set(three) = db.run(&["SPOP", "myset", "3"]) else {
        panic!()
    };
    assert_eq!(three.len(), 3);
    let rest = strings(db.run(&["SMEMBERS", "myset"]));
    assert_eq!(rest.len(), 1);
    let popped: BTreeSet<String> = strings(Frame::Set(three)).into_iter().collect();
    assert!(!popped.contains(&rest[0]));
    assert_eq!(db.run(&["SPOP", "myset", "0"]), set(&[]));
    assert_eq!(db.run(&["SPOP", "myset", "10"]), set(&[rest[0].as_str()]));
    assert_eq!(db.run(&["EXISTS", "myset"]), int(0));
    assert_eq!(db.run(&["SPOP", "myset"]), Frame::Null);
    assert_eq!(db.run(&["SPOP", "myset", "2"]), set(&[]));
    db.run(&["SADD", "s", "a"]);
    assert_eq!(db.run(&["SPOP", "s"]), bulk("a"));
    assert_eq!(db.run(&["EXISTS", "s"]), int(0));
    let positive = "ERR value is out of range, must be positive";
    assert_eq!(db.run(&["SPOP", "s", "-1"]), err(positive));
    assert_eq!(db.run(&["SPOP", "s", "x"]), err(positive));
    assert_eq!(db.run(&["SPOP", "s", "1", "2"]), err(SYNTAX));
}

#[test]
fn srandmember() {
    let mut db = Db::new();
    db.run(&["SADD", "myset", "one", "two", "three"]);
    let all = ["one", "three", "two"];
    let one = strings(Frame::Array(vec![db.run(&["SRANDMEMBER", "myset"])]));
    assert!(all.contains(&one[0].as_str()));
    let two = strings(db.run(&["SRANDMEMBER", "myset", "2"]));
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    let five = strings(db.run(&["SRANDMEMBER", "myset", "-5"]));
    assert_eq!(five.len(), 5);
    assert!(five.iter().all(|m| all.contains(&m.as_str())));
    assert_eq!(db.run(&["SRANDMEMBER", "myset", "3"]), arr(&all));
    assert_eq!(db.run(&["SRANDMEMBER", "myset", "30"]), arr(&all));
    assert_eq!(db.run(&["SRANDMEMBER", "myset", "0"]), arr(&[]));
    assert_eq!(db.run(&["SCARD", "myset"]), int(3));
    assert_eq!(db.run(&["SRANDMEMBER", "nokey"]), Frame::Null);
    assert_eq!(db.run(&["SRANDMEMBER", "nokey", "-3"]), arr(&[]));
    assert_eq!(db.run(&["SRANDMEMBER", "myset", "x"]), err(NOT_INT));
    assert_eq!(db.run(&["SRANDMEMBER", "myset", "1", "2"]), err(SYNTAX));
    // Repeats do show up when drawing many from few.
    let many = strings(db.run(&["SRANDMEMBER", "myset", "-300"]));
    let distinct: BTreeSet<&String> = many.iter().collect();
    assert_eq!(many.len(), 300);
    assert_eq!(distinct.len(), 3);
}

#[test]
fn sscan_pages_with_an_integer_cursor() {
    let mut db = Db::new();
    db.run(&["SADD", "s", "a", "b", "c"]);
    assert_eq!(
        db.run(&["SSCAN", "s", "0"]),
        Frame::Array(vec![bulk("0"), arr(&["a", "b", "c"])])
    );
    // The cursor is a position in hash order (b, c, a): coll::scan_hash.
    assert_eq!(
        db.run(&["SSCAN", "s", "0", "COUNT", "2"]),
        Frame::Array(vec![bulk("9413272369427828315"), arr(&["b", "c"])])
    );
    assert_eq!(
        db.run(&["SSCAN", "s", "9413272369427828315", "COUNT", "2"]),
        Frame::Array(vec![bulk("0"), arr(&["a"])])
    );
    assert_eq!(
        db.run(&["SSCAN", "s", "0", "MATCH", "[ab]"]),
        Frame::Array(vec![bulk("0"), arr(&["a", "b"])])
    );
    assert_eq!(
        db.run(&["SSCAN", "s", "18446744073709551615"]),
        Frame::Array(vec![bulk("0"), arr(&[])])
    );
    assert_eq!(
        db.run(&["SSCAN", "nokey", "0"]),
        Frame::Array(vec![bulk("0"), arr(&[])])
    );
    assert_eq!(
        db.run(&["SSCAN", "s", "0", "NOVALUES"]),
        err("ERR NOVALUES option can only be used in HSCAN")
    );
    assert_eq!(db.run(&["SSCAN", "s", "abc"]), err("ERR invalid cursor"));
    assert_eq!(db.run(&["SSCAN", "s", "0", "COUNT", "0"]), err(SYNTAX));

    let mut db = Db::new();
    db.fill("big", (0..1000).map(|i| format!("m{i}")));
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    loop {
        let Frame::Array(reply) = db.run(&["SSCAN", "big", &cursor, "COUNT", "33"]) else {
            panic!()
        };
        let Frame::Bulk(next) = &reply[0] else {
            panic!()
        };
        for m in strings(reply[1].clone()) {
            assert!(seen.insert(m));
        }
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
}

#[test]
fn wrongtype_and_arity() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "s", "v"]), Frame::ok());
    db.run(&["SADD", "set", "a"]);
    for cmd in [
        &["SADD", "s", "m"][..],
        &["SCARD", "s"],
        &["SDIFF", "s"],
        &["SDIFF", "set", "s"],
        &["SDIFF", "nokey", "s"],
        &["SDIFFSTORE", "d", "set", "s"],
        &["SINTER", "set", "s"],
        &["SINTER", "nokey", "s"],
        &["SINTERCARD", "2", "set", "s"],
        &["SINTERSTORE", "d", "s"],
        &["SISMEMBER", "s", "m"],
        &["SMEMBERS", "s"],
        &["SMISMEMBER", "s", "m"],
        &["SPOP", "s"],
        &["SPOP", "s", "2"],
        &["SRANDMEMBER", "s"],
        &["SRANDMEMBER", "s", "-2"],
        &["SREM", "s", "m"],
        &["SSCAN", "s", "0"],
        &["SUNION", "set", "s"],
        &["SUNIONSTORE", "d", "set", "s"],
    ] {
        assert_eq!(db.run(cmd), err(WRONGTYPE), "{cmd:?}");
    }
    assert_eq!(db.run(&["GET", "s"]), bulk("v"));
    assert_eq!(db.run(&["EXISTS", "d"]), int(0));
    assert_eq!(
        db.run(&["SADD", "x"]),
        err("ERR wrong number of arguments for 'sadd' command")
    );
    assert_eq!(
        db.run(&["SMOVE", "a", "b"]),
        err("ERR wrong number of arguments for 'smove' command")
    );
    let sadd = engine::lookup(b"sadd").unwrap();
    assert_eq!(sadd.acl_categories(), vec!["@write", "@set", "@fast"]);
    assert_eq!((sadd.arity, sadd.group, sadd.since), (-3, "set", "1.0.0"));
    let sunionstore = engine::lookup(b"sunionstore").unwrap();
    let argv: Vec<Vec<u8>> = ["sunionstore", "d", "a", "b"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    assert_eq!(sunionstore.key_positions(&argv), vec![1, 2, 3]);
}

// ---- storage contract and determinism -------------------------------------------------

#[test]
fn one_member_write_is_o1_and_del_is_o1() {
    let mut db = Db::new();
    db.fill("big", (0..10_000).map(|i| format!("member:{i}")));
    assert_eq!(db.run(&["SCARD", "big"]), int(10_000));
    assert_eq!(db.run(&["SADD", "big", "one-more"]), int(1));
    assert!(
        db.last.writes.len() <= 4,
        "SADD wrote {}",
        db.last.writes.len()
    );
    assert_eq!(db.run(&["SREM", "big", "member:5"]), int(1));
    assert!(
        db.last.writes.len() <= 4,
        "SREM wrote {}",
        db.last.writes.len()
    );
    assert_eq!(db.run(&["SCARD", "big"]), int(10_000));
    assert_eq!(db.run(&["DEL", "big"]), int(1));
    // Plus the key's tombstone and its time-index record (2 writes).
    assert!(
        db.last.writes.len() <= 6,
        "DEL wrote {}",
        db.last.writes.len()
    );
    assert_eq!(db.run(&["SCARD", "big"]), int(0));
    // Overwriting with a string is O(1) too, and a new set starts empty.
    db.fill("big2", (0..10_000).map(|i| format!("m{i}")));
    assert_eq!(db.run(&["SET", "big2", "v"]), Frame::ok());
    assert!(
        db.last.writes.len() <= 4,
        "SET wrote {}",
        db.last.writes.len()
    );
    assert_eq!(db.run(&["DEL", "big2"]), int(1));
    assert_eq!(db.run(&["SADD", "big2", "x"]), int(1));
    assert_eq!(db.run(&["SMEMBERS", "big2"]), set(&["x"]));
    // Popping the whole set is a meta delete as well.
    db.fill("big3", (0..10_000).map(|i| format!("m{i}")));
    let Frame::Set(all) = db.run(&["SPOP", "big3", "20000"]) else {
        panic!()
    };
    assert_eq!(all.len(), 10_000);
    // Plus the key's tombstone and its time-index record (2 writes).
    assert!(db.last.writes.len() <= 6);
}

fn spop_result(seed: u64, argv: &[&str]) -> (Frame, Frame) {
    let mut db = Db::new();
    db.fill("s", (0..500).map(|i| format!("m{i}")));
    db.seed = seed;
    let popped = db.run(argv);
    (popped, db.run(&["SMEMBERS", "s"]))
}

#[test]
fn random_picks_depend_only_on_the_seed() {
    for argv in [
        &["SPOP", "s"][..],
        &["SPOP", "s", "7"],
        &["SRANDMEMBER", "s", "-9"],
        &["SRANDMEMBER", "s", "9"],
    ] {
        assert_eq!(spop_result(11, argv), spop_result(11, argv), "{argv:?}");
        // Different seeds do pick differently.
        assert!(
            (0..10).any(|s| spop_result(s, argv).0 != spop_result(11, argv).0),
            "{argv:?}"
        );
    }
}

// ---- model ----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Add(Vec<u8>),
    Rem(Vec<u8>),
    Pop(Option<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    let members = proptest::collection::vec(0u8..12, 1..5);
    prop_oneof![
        3 => members.clone().prop_map(Op::Add),
        2 => members.prop_map(Op::Rem),
        1 => proptest::option::of(0u8..5).prop_map(Op::Pop),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn set_matches_a_btreeset(ops in proptest::collection::vec(op(), 1..60), seed in any::<u64>()) {
        let mut db = Db::new();
        db.seed = seed;
        let mut model: BTreeSet<String> = BTreeSet::new();
        let name = |m: &u8| format!("m{m}");
        for op in ops {
            match op {
                Op::Add(ms) => {
                    let names: Vec<String> = ms.iter().map(name).collect();
                    let n = names.iter().filter(|m| model.insert((*m).clone())).count();
                    let mut argv = vec!["SADD", "s"];
                    argv.extend(names.iter().map(String::as_str));
                    prop_assert_eq!(db.run(&argv), int(n as i64));
                }
                Op::Rem(ms) => {
                    let names: Vec<String> = ms.iter().map(name).collect();
                    let n = names.iter().filter(|m| model.remove(*m)).count();
                    let mut argv = vec!["SREM", "s"];
                    argv.extend(names.iter().map(String::as_str));
                    prop_assert_eq!(db.run(&argv), int(n as i64));
                }
                Op::Pop(None) => match db.run(&["SPOP", "s"]) {
                    Frame::Null => prop_assert!(model.is_empty()),
                    Frame::Bulk(m) => {
                        prop_assert!(model.remove(&String::from_utf8(m).unwrap()));
                    }
                    other => prop_assert!(false, "SPOP replied {:?}", other),
                },
                Op::Pop(Some(count)) => {
                    let popped = strings(db.run(&["SPOP", "s", &count.to_string()]));
                    prop_assert_eq!(popped.len(), (count as usize).min(model.len()));
                    let distinct: BTreeSet<&String> = popped.iter().collect();
                    prop_assert_eq!(distinct.len(), popped.len());
                    for m in &popped {
                        prop_assert!(model.remove(m));
                    }
                }
            }
            let expected = Frame::Set(model.iter().map(|m| bulk(m)).collect());
            prop_assert_eq!(db.run(&["SMEMBERS", "s"]), expected);
            prop_assert_eq!(db.run(&["SCARD", "s"]), int(model.len() as i64));
            prop_assert_eq!(db.run(&["EXISTS", "s"]), int(!model.is_empty() as i64));
        }
    }
}
