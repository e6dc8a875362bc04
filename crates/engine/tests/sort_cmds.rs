//! SORT / SORT_RO checked against Redis 7: the redis.io examples and replies observed
//! from a real redis-server 7.0.15 for the same commands (embedded here), plus
//! properties against a sorting model.

use engine::{Frame, Txn};
use proptest::prelude::*;

mod common;
use common::*;

impl Db {
    /// Runs `(command, expected reply)` pairs in order.
    fn check(&mut self, cases: &[(&str, &str)]) {
        for (cmd, want) in cases {
            assert_eq!(self.show(cmd), *want, "{cmd}");
        }
    }
}

const NOT_DOUBLE: &str = "E:ERR One or more scores can't be converted into double";
const SYNTAX: &str = "E:ERR syntax error";
const WRONGTYPE: &str = "E:WRONGTYPE Operation against a key holding the wrong kind of value";

// ---- redis.io examples ------------------------------------------------------------------

#[test]
fn documented_forms() {
    let mut db = Db::new();
    db.check(&[
        ("RPUSH mylist 3 1 2", "I:3"),
        ("SORT mylist", "[B:1,B:2,B:3]"),
        ("SORT mylist DESC", "[B:3,B:2,B:1]"),
        ("RPUSH words banana apple cherry", "I:3"),
        ("SORT words ALPHA", "[B:apple,B:banana,B:cherry]"),
        ("SORT words", NOT_DOUBLE),
        ("SORT mylist LIMIT 0 2", "[B:1,B:2]"),
        (
            "SORT words LIMIT 0 5 ALPHA DESC",
            "[B:cherry,B:banana,B:apple]",
        ),
        ("MSET weight_1 30 weight_2 10 weight_3 20", "S:OK"),
        ("SORT mylist BY weight_*", "[B:2,B:3,B:1]"),
        ("SORT mylist BY nosort", "[B:3,B:1,B:2]"),
        ("MSET object_1 one object_2 two object_3 three", "S:OK"),
        (
            "SORT mylist BY weight_* GET object_*",
            "[B:two,B:three,B:one]",
        ),
        (
            "SORT mylist BY weight_* GET object_* GET #",
            "[B:two,B:2,B:three,B:3,B:one,B:1]",
        ),
        ("HSET weight_h_1 f 3", "I:1"),
        ("HSET weight_h_2 f 1", "I:1"),
        ("HSET weight_h_3 f 2", "I:1"),
        ("SORT mylist BY weight_h_*->f", "[B:2,B:3,B:1]"),
        ("SORT mylist BY weight_* STORE resultkey", "I:3"),
        ("LRANGE resultkey 0 -1", "[B:2,B:3,B:1]"),
        ("TYPE resultkey", "S:list"),
    ]);
}

// ---- as observed from Redis -------------------------------------------------------------

#[test]
fn lists_numeric_alpha_limit() {
    let mut db = Db::new();
    db.check(&[
        ("RPUSH l 3 1 2 10 -5 2.5", "I:6"),
        ("SORT l", "[B:-5,B:1,B:2,B:2.5,B:3,B:10]"),
        ("SORT l DESC", "[B:10,B:3,B:2.5,B:2,B:1,B:-5]"),
        ("SORT l ALPHA", "[B:-5,B:1,B:10,B:2,B:2.5,B:3]"),
        ("SORT l ALPHA DESC", "[B:3,B:2.5,B:2,B:10,B:1,B:-5]"),
        ("SORT l LIMIT 1 2", "[B:1,B:2]"),
        ("SORT l LIMIT 1 -1", "[B:1,B:2,B:2.5,B:3,B:10]"),
        ("SORT l LIMIT -5 2", "[B:-5,B:1]"),
        ("SORT l LIMIT 10 2", "[]"),
        ("SORT l LIMIT 0 0", "[]"),
        (
            "SORT l LIMIT a 2",
            "E:ERR value is not an integer or out of range",
        ),
        ("SORT l LIMIT 1", SYNTAX),
        ("SORT l FOO", SYNTAX),
        ("SORT l ASC DESC", "[B:10,B:3,B:2.5,B:2,B:1,B:-5]"),
        ("SORT l DESC ASC", "[B:-5,B:1,B:2,B:2.5,B:3,B:10]"),
        ("RPUSH bad 1 x 3", "I:3"),
        ("SORT bad", NOT_DOUBLE),
        ("SORT bad ALPHA", "[B:1,B:3,B:x]"),
        ("SORT bad BY nosort", "[B:1,B:x,B:3]"),
    ]);
}

#[test]
fn by_and_get_patterns() {
    let mut db = Db::new();
    db.check(&[
        ("RPUSH l 3 1 2 10 -5 2.5", "I:6"),
        ("MSET w_3 30 w_1 10 w_2 20 w_10 -1 w_-5 5", "S:OK"),
        ("SORT l BY w_*", "[B:10,B:2.5,B:-5,B:1,B:2,B:3]"),
        ("SORT l BY w_* DESC", "[B:3,B:2,B:1,B:-5,B:2.5,B:10]"),
        (
            "SORT l BY w_* GET # GET w_*",
            "[B:10,B:-1,B:2.5,N,B:-5,B:5,B:1,B:10,B:2,B:20,B:3,B:30]",
        ),
        (
            "SORT l BY w_* GET w_* GET # GET nokey_*",
            "[B:-1,B:10,N,N,B:2.5,N,B:5,B:-5,N,B:10,B:1,N,B:20,B:2,N,B:30,B:3,N]",
        ),
        ("SORT l BY w_* GET w_* LIMIT 1 2", "[N,B:5]"),
        ("SORT l BY nosort", "[B:3,B:1,B:2,B:10,B:-5,B:2.5]"),
        ("SORT l BY nosort DESC", "[B:2.5,B:-5,B:10,B:2,B:1,B:3]"),
        ("SORT l BY nosort LIMIT 1 3", "[B:1,B:2,B:10]"),
        ("SORT l BY nosort DESC LIMIT 1 3", "[B:-5,B:10,B:2]"),
        ("SORT l BY nosort GET w_*", "[B:30,B:10,B:20,B:-1,B:5,N]"),
        ("SORT l BY w_* ALPHA", "[B:2.5,B:10,B:1,B:2,B:3,B:-5]"),
        (
            "SORT l BY w_* ALPHA DESC GET #",
            "[B:-5,B:3,B:2,B:1,B:10,B:2.5]",
        ),
        ("SORT l GET fixed", "[N,N,N,N,N,N]"),
        ("SORT l BY nosort BY w_*", "[B:3,B:1,B:2,B:10,B:-5,B:2.5]"),
        ("SORT l BY w_* BY nosort", "[B:3,B:1,B:2,B:10,B:-5,B:2.5]"),
        ("HSET h_3 f 3 g c", "I:2"),
        ("HSET h_1 f 1 g a", "I:2"),
        ("HSET h_2 f 2 g b", "I:2"),
        ("RPUSH l2 1 2 3", "I:3"),
        (
            "SORT l2 BY h_*->f DESC GET h_*->g GET #",
            "[B:c,B:3,B:b,B:2,B:a,B:1]",
        ),
        ("SORT l2 BY h_*->g ALPHA GET h_*->f", "[B:1,B:2,B:3]"),
        ("SORT l2 BY h_*-> GET h_*->", "[N,N,N]"),
        ("SORT l2 BY h_*->nofield GET h_*->nofield", "[N,N,N]"),
        // A string key read as a hash, and a hash read as a string: missing.
        ("SORT l2 BY w_*->f", "[B:1,B:2,B:3]"),
        ("SORT l2 GET h_*", "[N,N,N]"),
    ]);
}

#[test]
fn sets_and_sorted_sets() {
    let mut db = Db::new();
    db.check(&[
        ("SADD s 5 3 9 1 x", "I:5"),
        ("SORT s", NOT_DOUBLE),
        ("SADD s2 5 3 9 1 17 11", "I:6"),
        ("SORT s2", "[B:1,B:3,B:5,B:9,B:11,B:17]"),
        ("SORT s2 DESC LIMIT 0 3", "[B:17,B:11,B:9]"),
        ("SORT s2 ALPHA", "[B:1,B:11,B:17,B:3,B:5,B:9]"),
        ("SORT s2 STORE dst", "I:6"),
        ("LRANGE dst 0 -1", "[B:1,B:3,B:5,B:9,B:11,B:17]"),
        ("TYPE dst", "S:list"),
        // A set has no order: BY nosort sorts it ALPHA (Redis does so with STORE).
        ("SORT s2 BY nosort STORE dst", "I:6"),
        ("LRANGE dst 0 -1", "[B:1,B:11,B:17,B:3,B:5,B:9]"),
        ("SORT s2 BY nosort DESC STORE dst", "I:6"),
        ("LRANGE dst 0 -1", "[B:9,B:5,B:3,B:17,B:11,B:1]"),
        ("SORT s2 BY nosort", "[B:1,B:11,B:17,B:3,B:5,B:9]"),
        ("ZADD z 1 c 2 b 3 a 4 d", "I:4"),
        ("SORT z", NOT_DOUBLE),
        ("SORT z ALPHA", "[B:a,B:b,B:c,B:d]"),
        ("SORT z BY nosort", "[B:c,B:b,B:a,B:d]"),
        ("SORT z BY nosort DESC", "[B:d,B:a,B:b,B:c]"),
        ("SORT z BY nosort LIMIT 1 2", "[B:b,B:a]"),
        ("SORT z BY nosort DESC LIMIT 1 2", "[B:a,B:b]"),
        ("SORT z BY nosort DESC LIMIT 5 2", "[]"),
        ("SORT z ALPHA DESC LIMIT 1 10", "[B:c,B:b,B:a]"),
        ("SORT z ALPHA STORE dz", "I:4"),
        ("LRANGE dz 0 -1", "[B:a,B:b,B:c,B:d]"),
    ]);
}

#[test]
fn store_replaces_and_deletes() {
    let mut db = Db::new();
    db.check(&[
        ("RPUSH l 3 1 2 10 -5 2.5", "I:6"),
        ("MSET w_3 30 w_1 10 w_2 20 w_10 -1 w_-5 5", "S:OK"),
        ("SORT l STORE dl GET w_* GET nokey_*", "I:12"),
        (
            "LRANGE dl 0 -1",
            "[B:5,B:,B:10,B:,B:20,B:,B:,B:,B:30,B:,B:-1,B:]",
        ),
        ("RPUSH l2 1 2 3", "I:3"),
        ("EXPIRE l2 1000", "I:1"),
        ("SORT l STORE l2", "I:6"),
        ("TTL l2", "I:-1"),
        ("LRANGE l2 0 -1", "[B:-5,B:1,B:2,B:2.5,B:3,B:10]"),
        // Sorting a list into itself.
        ("SORT l DESC STORE l", "I:6"),
        ("LRANGE l 0 -1", "[B:10,B:3,B:2.5,B:2,B:1,B:-5]"),
        ("SET str x", "S:OK"),
        ("SORT l LIMIT 0 2 STORE str", "I:2"),
        ("LRANGE str 0 -1", "[B:-5,B:1]"),
        ("SORT nokey", "[]"),
        ("SORT nokey STORE str", "I:0"),
        ("EXISTS str", "I:0"),
        ("SORT l LIMIT 9 9 STORE l2", "I:0"),
        ("EXISTS l2", "I:0"),
    ]);
}

#[test]
fn weights_follow_strtod() {
    let mut db = Db::new();
    db.check(&[
        ("RPUSH nums2 0x10 1e2 inf -inf 0x1p3 .5 5.", "I:7"),
        (
            "SORT nums2",
            "[B:-inf,B:.5,B:5.,B:0x1p3,B:0x10,B:1e2,B:inf]",
        ),
        ("RPUSH nums3 1e-400", "I:1"),
        ("SORT nums3", NOT_DOUBLE),
        ("RPUSH nums4 nan", "I:1"),
        ("SORT nums4", NOT_DOUBLE),
        ("RPUSH nums5 1e400", "I:1"),
        ("SORT nums5", NOT_DOUBLE),
        // Equal weights order by the elements' bytes.
        ("RPUSH eq b a c", "I:3"),
        ("MSET k_a 1 k_b 1 k_c 0", "S:OK"),
        ("SORT eq BY k_*", "[B:c,B:a,B:b]"),
        ("SORT eq BY k_* DESC", "[B:b,B:a,B:c]"),
    ]);
    db.runb(vec![
        b"RPUSH".to_vec(),
        b"sp".to_vec(),
        b" 3".to_vec(),
        b"2".to_vec(),
    ]);
    assert_eq!(db.show("SORT sp"), "[B:2,B: 3]");
    db.runb(vec![b"RPUSH".to_vec(), b"sp2".to_vec(), b"3 ".to_vec()]);
    assert_eq!(db.show("SORT sp2"), NOT_DOUBLE);
}

#[test]
fn errors_and_read_only_form() {
    let mut db = Db::new();
    db.check(&[
        ("RPUSH l 3 1 2", "I:3"),
        ("SET str x", "S:OK"),
        ("HSET h f v", "I:1"),
        ("SORT str", WRONGTYPE),
        ("SORT h", WRONGTYPE),
        ("SORT str FOO", SYNTAX),
        ("SORT l BY", SYNTAX),
        ("SORT l GET", SYNTAX),
        ("SORT l STORE", SYNTAX),
        ("SORT_RO l", "[B:1,B:2,B:3]"),
        ("SORT_RO l STORE x", SYNTAX),
        ("SORT_RO l DESC GET #", "[B:3,B:2,B:1]"),
        ("SORT", "E:ERR wrong number of arguments for 'sort' command"),
    ]);
    let sort = engine::lookup(b"sort").unwrap();
    let sort_ro = engine::lookup(b"sort_ro").unwrap();
    assert!(sort.is_write());
    assert!(!sort_ro.is_write());
    // SORT_RO runs on the read path; SORT does not.
    let mut t = Txn::read_only(&db.store, T0, 1);
    let argv = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    assert_eq!(
        show(&t.run(0, &argv(&["SORT_RO", "l", "DESC"]))),
        "[B:3,B:2,B:1]"
    );
    assert!(matches!(t.run(0, &argv(&["SORT", "l"])), Frame::Error(_)));
    assert!(t.into_effects().is_empty());
}

#[test]
fn key_positions_include_the_store_key() {
    let argv = |s: &str| {
        s.split(' ')
            .map(|a| a.as_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    let sort = engine::lookup(b"sort").unwrap();
    assert_eq!(sort.key_positions(&argv("SORT k")), vec![1]);
    assert_eq!(sort.key_positions(&argv("SORT k STORE d")), vec![1, 3]);
    assert_eq!(
        sort.key_positions(&argv("SORT k STORE d LIMIT 0 1 STORE e")),
        vec![1, 8]
    );
    // GET/BY take one argument, LIMIT two: a pattern named "store" is no STORE.
    assert_eq!(sort.key_positions(&argv("SORT k GET store ALPHA")), vec![1]);
    assert_eq!(
        sort.key_positions(&argv("SORT k LIMIT store store")),
        vec![1]
    );
    // An over-long destination is refused like any key.
    let long = "x".repeat(engine::MAX_KEY_BYTES + 1);
    let mut db = Db::new();
    assert!(matches!(
        db.run(&["SORT", "k", "STORE", &long]),
        Frame::Error(e) if e.starts_with("ERR max key size exceeded")
    ));
}

// ---- properties ---------------------------------------------------------------------------

fn texts(f: Frame) -> Vec<Vec<u8>> {
    match f {
        Frame::Array(v) => v
            .into_iter()
            .map(|x| match x {
                Frame::Bulk(b) => b,
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

/// Redis's LIMIT rules applied to a sorted vector.
fn limit<T: Clone>(v: &[T], offset: i64, count: i64) -> Vec<T> {
    let n = v.len() as i64;
    let start = offset.max(0).min(n);
    let count = count.max(-1).min(n);
    let end = if count < 0 { n - 1 } else { start + count - 1 };
    let (start, end) = if start >= n {
        (n - 1, n - 2)
    } else {
        (start, end.min(n - 1))
    };
    if end < start {
        return Vec::new();
    }
    v[start as usize..=end as usize].to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Numeric and ALPHA sorts of a list, with LIMIT and DESC, agree with a model;
    /// STORE stores exactly the reply.
    #[test]
    fn list_sorts_match_model(
        nums in proptest::collection::vec(-1000i64..1000, 0..40),
        offset in -3i64..45,
        count in -2i64..45,
        desc in any::<bool>(),
    ) {
        let mut db = Db::new();
        if !nums.is_empty() {
            let mut argv = vec![b"RPUSH".to_vec(), b"l".to_vec()];
            argv.extend(nums.iter().map(|n| n.to_string().into_bytes()));
            db.runb(argv);
        }
        let dir = if desc { "DESC" } else { "ASC" };
        let (o, c) = (offset.to_string(), count.to_string());

        let mut numeric: Vec<(i64, Vec<u8>)> =
            nums.iter().map(|n| (*n, n.to_string().into_bytes())).collect();
        numeric.sort();
        if desc {
            numeric.reverse();
        }
        let want: Vec<Vec<u8>> = limit(&numeric, offset, count).into_iter().map(|(_, b)| b).collect();
        prop_assert_eq!(texts(db.run(&["SORT", "l", "LIMIT", &o, &c, dir])), want.clone());
        prop_assert_eq!(db.run(&["SORT", "l", "LIMIT", &o, &c, dir, "STORE", "dst"]), int(want.len() as i64));
        prop_assert_eq!(texts(db.run(&["LRANGE", "dst", "0", "-1"])), want);

        let mut alpha: Vec<Vec<u8>> = nums.iter().map(|n| n.to_string().into_bytes()).collect();
        alpha.sort();
        if desc {
            alpha.reverse();
        }
        prop_assert_eq!(texts(db.run(&["SORT", "l", "ALPHA", "LIMIT", &o, &c, dir])), limit(&alpha, offset, count));

        let mut plain: Vec<Vec<u8>> = nums.iter().map(|n| n.to_string().into_bytes()).collect();
        if desc {
            plain.reverse();
        }
        prop_assert_eq!(texts(db.run(&["SORT", "l", "BY", "nosort", "LIMIT", &o, &c, dir])), limit(&plain, offset, count));
    }

    /// BY weights from string keys and hash fields sort like the weights themselves
    /// (ties by element bytes), and GET fetches the right values.
    #[test]
    fn by_weights_match_model(weights in proptest::collection::vec(-50i64..50, 1..25)) {
        let mut db = Db::new();
        let mut argv = vec![b"SADD".to_vec(), b"s".to_vec()];
        for i in 0..weights.len() {
            argv.push(format!("e{i}").into_bytes());
        }
        db.runb(argv);
        for (i, w) in weights.iter().enumerate() {
            db.run(&["SET", &format!("w_e{i}"), &w.to_string()]);
            db.run(&["HSET", &format!("h_e{i}"), "w", &w.to_string(), "name", &format!("N{i}")]);
        }
        let mut model: Vec<(i64, Vec<u8>, usize)> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| (*w, format!("e{i}").into_bytes(), i))
            .collect();
        model.sort();
        let want: Vec<Vec<u8>> = model.iter().map(|(_, e, _)| e.clone()).collect();
        prop_assert_eq!(texts(db.run(&["SORT", "s", "BY", "w_*"])), want.clone());
        prop_assert_eq!(texts(db.run(&["SORT", "s", "BY", "h_*->w"])), want);
        let names: Vec<Vec<u8>> = model.iter().map(|(_, _, i)| format!("N{i}").into_bytes()).collect();
        prop_assert_eq!(texts(db.run(&["SORT", "s", "BY", "h_*->w", "GET", "h_*->name"])), names);
    }
}
