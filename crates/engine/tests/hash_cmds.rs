//! Hash commands checked against Redis 7.4's documented behaviour (redis.io examples,
//! error texts), a model, and the storage contract (O(1) writes, field expiry).

use engine::{Frame, Write};
use keys::Cf;
use proptest::prelude::*;
use std::collections::BTreeMap;

mod common;
use common::*;

impl Db {
    /// Number of `data` records stored under any version of anything.
    /// What the leader's expiry sweep proposes: one entry expiring everything the
    /// expiry index says is due. Returns how many keys it deleted.
    fn sweep(&mut self) -> u64 {
        let due: Vec<(u64, Vec<u8>)> = self
            .store
            .map
            .keys()
            .filter(|(cf, _)| *cf == Cf::Expire)
            .filter_map(|(_, k)| keys::decode_expire_key(k))
            .filter(|(at, _, _)| *at <= self.now)
            .map(|(at, _, key)| (at, key.to_vec()))
            .collect();
        self.index += 1;
        let mut t = engine::Txn::new(&self.store, self.index, self.now, self.seed);
        let n = t.expire_if_due(0, &due).unwrap();
        let e = t.into_effects();
        self.store.apply(&e);
        self.last = e;
        n
    }

    fn expiry_entries(&self) -> usize {
        self.store
            .map
            .keys()
            .filter(|(cf, _)| *cf == Cf::Expire)
            .count()
    }

    fn data_records(&self) -> usize {
        self.store
            .map
            .keys()
            .filter(|(cf, _)| *cf == Cf::Data)
            .count()
    }
}
fn ints(v: &[i64]) -> Frame {
    Frame::Array(v.iter().map(|&i| int(i)).collect())
}
fn arr(v: &[&str]) -> Frame {
    Frame::Array(v.iter().map(|s| bulk(s)).collect())
}
fn map(v: &[(&str, &str)]) -> Frame {
    Frame::Map(v.iter().map(|(f, x)| (bulk(f), bulk(x))).collect())
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

// ---- redis.io examples ----------------------------------------------------------------

#[test]
fn hset_hget_hdel_hexists() {
    let mut db = Db::new();
    assert_eq!(db.run(&["HSET", "myhash", "field1", "Hello"]), int(1));
    assert_eq!(db.run(&["HGET", "myhash", "field1"]), bulk("Hello"));
    assert_eq!(
        db.run(&["HSET", "myhash", "field2", "Hi", "field3", "World"]),
        int(2)
    );
    assert_eq!(db.run(&["HGET", "myhash", "field2"]), bulk("Hi"));
    assert_eq!(db.run(&["HGET", "myhash", "field3"]), bulk("World"));
    assert_eq!(
        db.run(&["HGETALL", "myhash"]),
        map(&[("field1", "Hello"), ("field2", "Hi"), ("field3", "World")])
    );
    // Overwriting is not a creation; a repeated field counts once.
    assert_eq!(
        db.run(&["HSET", "myhash", "field1", "x", "new", "1", "new", "2"]),
        int(1)
    );
    assert_eq!(db.run(&["HGET", "myhash", "field1"]), bulk("x"));
    assert_eq!(db.run(&["HGET", "myhash", "new"]), bulk("2"));
    assert_eq!(db.run(&["HLEN", "myhash"]), int(4));
    assert_eq!(db.run(&["HGET", "myhash", "nofield"]), Frame::Null);
    assert_eq!(db.run(&["HGET", "nokey", "f"]), Frame::Null);

    let mut db = Db::new();
    assert_eq!(db.run(&["HSET", "myhash", "field1", "foo"]), int(1));
    assert_eq!(db.run(&["HEXISTS", "myhash", "field1"]), int(1));
    assert_eq!(db.run(&["HEXISTS", "myhash", "field2"]), int(0));
    assert_eq!(db.run(&["HEXISTS", "nokey", "field2"]), int(0));
    assert_eq!(db.run(&["HDEL", "myhash", "field1"]), int(1));
    // The last field gone: the key is gone.
    assert_eq!(db.run(&["EXISTS", "myhash"]), int(0));
    assert_eq!(db.run(&["HDEL", "myhash", "field2"]), int(0));
    assert_eq!(db.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]), int(3));
    assert_eq!(db.run(&["HDEL", "h", "a", "a", "zz", "b"]), int(2));
    assert_eq!(db.run(&["HLEN", "h"]), int(1));
    assert_eq!(db.run(&["TYPE", "h"]), Frame::Simple("hash".into()));
}

#[test]
fn hgetall_hkeys_hvals_hlen_hmget() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["HSET", "myhash", "field1", "Hello", "field2", "World"]),
        int(2)
    );
    assert_eq!(
        db.run(&["HGETALL", "myhash"]),
        map(&[("field1", "Hello"), ("field2", "World")])
    );
    assert_eq!(db.run(&["HKEYS", "myhash"]), arr(&["field1", "field2"]));
    assert_eq!(db.run(&["HVALS", "myhash"]), arr(&["Hello", "World"]));
    assert_eq!(db.run(&["HLEN", "myhash"]), int(2));
    assert_eq!(
        db.run(&["HMGET", "myhash", "field1", "field2", "nofield"]),
        Frame::Array(vec![bulk("Hello"), bulk("World"), Frame::Null])
    );
    assert_eq!(
        db.run(&["HMGET", "nokey", "a", "b"]),
        Frame::Array(vec![Frame::Null, Frame::Null])
    );
    assert_eq!(db.run(&["HGETALL", "nokey"]), Frame::Map(vec![]));
    assert_eq!(db.run(&["HKEYS", "nokey"]), arr(&[]));
    assert_eq!(db.run(&["HVALS", "nokey"]), arr(&[]));
    assert_eq!(db.run(&["HLEN", "nokey"]), int(0));
}

#[test]
fn hmset_hsetnx_hstrlen() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["HMSET", "myhash", "field1", "Hello", "field2", "World"]),
        Frame::ok()
    );
    assert_eq!(db.run(&["HGET", "myhash", "field1"]), bulk("Hello"));
    assert_eq!(db.run(&["HGET", "myhash", "field2"]), bulk("World"));

    assert_eq!(db.run(&["HSETNX", "h2", "field", "Hello"]), int(1));
    assert_eq!(db.run(&["HSETNX", "h2", "field", "World"]), int(0));
    assert_eq!(db.run(&["HGET", "h2", "field"]), bulk("Hello"));

    assert_eq!(
        db.run(&["HSET", "h3", "f1", "HelloWorld", "f2", "99", "f3", "-256"]),
        int(3)
    );
    assert_eq!(db.run(&["HSTRLEN", "h3", "f1"]), int(10));
    assert_eq!(db.run(&["HSTRLEN", "h3", "f2"]), int(2));
    assert_eq!(db.run(&["HSTRLEN", "h3", "f3"]), int(4));
    assert_eq!(db.run(&["HSTRLEN", "h3", "nofield"]), int(0));
    assert_eq!(db.run(&["HSTRLEN", "nokey", "f"]), int(0));
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let mut db = Db::new();
    assert_eq!(db.run(&["HSET", "myhash", "field", "5"]), int(1));
    assert_eq!(db.run(&["HINCRBY", "myhash", "field", "1"]), int(6));
    assert_eq!(db.run(&["HINCRBY", "myhash", "field", "-1"]), int(5));
    assert_eq!(db.run(&["HINCRBY", "myhash", "field", "-10"]), int(-5));
    assert_eq!(db.run(&["HGET", "myhash", "field"]), bulk("-5"));
    // A missing field (and key) starts at 0.
    assert_eq!(db.run(&["HINCRBY", "new", "f", "7"]), int(7));
    assert_eq!(db.run(&["HLEN", "new"]), int(1));
    assert_eq!(db.run(&["HINCRBY", "myhash", "field", "x"]), err(NOT_INT));
    assert_eq!(db.run(&["HINCRBY", "myhash", "field", "1.5"]), err(NOT_INT));
    assert_eq!(db.run(&["HSET", "myhash", "s", "abc"]), int(1));
    assert_eq!(
        db.run(&["HINCRBY", "myhash", "s", "1"]),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        db.run(&["HSET", "myhash", "big", "9223372036854775807"]),
        int(1)
    );
    assert_eq!(
        db.run(&["HINCRBY", "myhash", "big", "1"]),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(
        db.run(&["HGET", "myhash", "big"]),
        bulk("9223372036854775807")
    );

    let mut db = Db::new();
    assert_eq!(db.run(&["HSET", "mykey", "field", "10.50"]), int(1));
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "mykey", "field", "0.1"]),
        bulk("10.6")
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "mykey", "field", "-5"]),
        bulk("5.6")
    );
    assert_eq!(db.run(&["HSET", "mykey", "field", "5.0e3"]), int(0));
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "mykey", "field", "2.0e2"]),
        bulk("5200")
    );
    assert_eq!(db.run(&["HGET", "mykey", "field"]), bulk("5200"));
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "mykey", "f2", "3"]),
        bulk(&engine::format_float(3.0))
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "mykey", "f3", "0.1"]),
        bulk(&engine::format_float(0.1))
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "mykey", "f3", "0.2"]),
        bulk(&engine::format_float(0.1 + 0.2))
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "mykey", "field", "abc"]),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "mykey", "field", "inf"]),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(db.run(&["HSET", "mykey", "s", "x1"]), int(1));
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "mykey", "s", "1"]),
        err("ERR hash value is not a float")
    );
    assert_eq!(
        db.run(&["HSET", "mykey", "m", "1.7976931348623157e308"]),
        int(1)
    );
    assert_eq!(
        db.run(&["HINCRBYFLOAT", "mykey", "m", "1.7976931348623157e308"]),
        err("ERR increment would produce NaN or Infinity")
    );
}

#[test]
fn hrandfield() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["HSET", "coin", "heads", "obverse", "tails", "reverse", "edge", "null"]),
        int(3)
    );
    let fields = ["edge", "heads", "tails"];
    let value = |f: &[u8]| match f {
        b"heads" => "obverse",
        b"tails" => "reverse",
        b"edge" => "null",
        _ => panic!("unknown field"),
    };
    match db.run(&["HRANDFIELD", "coin"]) {
        Frame::Bulk(f) => assert!(fields.contains(&std::str::from_utf8(&f).unwrap())),
        other => panic!("{other:?}"),
    }
    // -5 WITHVALUES: five pairs, repeats allowed, values match their fields.
    let Frame::Array(items) = db.run(&["HRANDFIELD", "coin", "-5", "WITHVALUES"]) else {
        panic!()
    };
    assert_eq!(items.len(), 10);
    for pair in items.chunks(2) {
        let (Frame::Bulk(f), Frame::Bulk(v)) = (&pair[0], &pair[1]) else {
            panic!()
        };
        assert_eq!(v.as_slice(), value(f).as_bytes());
    }
    // Positive count: distinct fields, at most the hash's size.
    for n in 1..=5 {
        let Frame::Array(items) = db.run(&["HRANDFIELD", "coin", &n.to_string()]) else {
            panic!()
        };
        assert_eq!(items.len(), n.min(3));
        let set: std::collections::BTreeSet<String> =
            items.iter().map(|f| format!("{f:?}")).collect();
        assert_eq!(set.len(), items.len());
    }
    assert_eq!(
        db.run(&["HRANDFIELD", "coin", "3"]),
        arr(&["edge", "heads", "tails"])
    );
    let Frame::Array(items) = db.run(&["HRANDFIELD", "coin", "-100"]) else {
        panic!()
    };
    assert_eq!(items.len(), 100);
    assert_eq!(db.run(&["HRANDFIELD", "coin", "0"]), arr(&[]));
    assert_eq!(db.run(&["HRANDFIELD", "nokey"]), Frame::Null);
    assert_eq!(db.run(&["HRANDFIELD", "nokey", "5"]), arr(&[]));
    assert_eq!(db.run(&["HRANDFIELD", "coin", "1", "FOO"]), err(SYNTAX));
    assert_eq!(
        db.run(&["HRANDFIELD", "coin", "1", "WITHVALUES", "x"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["HRANDFIELD", "coin", "x"]), err(NOT_INT));
    assert_eq!(
        db.run(&["HRANDFIELD", "coin", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        db.run(&["HRANDFIELD", "coin", "-9223372036854775807", "WITHVALUES"]),
        err("ERR value is out of range")
    );

    // Same seed, same state: the same picks on every replica.
    let picks = |seed: u64| {
        let mut d = Db::new();
        for i in 0..200 {
            d.run(&["HSET", "h", &format!("f{i}"), &i.to_string()]);
        }
        d.seed = seed;
        (
            d.run(&["HRANDFIELD", "h", "5"]),
            d.run(&["HRANDFIELD", "h", "-5", "WITHVALUES"]),
        )
    };
    assert_eq!(picks(7), picks(7));
    assert!((1..10).any(|s| picks(s) != picks(7)));
}

#[test]
fn hscan_pages_with_an_integer_cursor() {
    let mut db = Db::new();
    assert_eq!(db.run(&["HSET", "myhash", "a", "1", "b", "2"]), int(2));
    assert_eq!(
        db.run(&["HSCAN", "myhash", "0"]),
        Frame::Array(vec![bulk("0"), arr(&["a", "1", "b", "2"])])
    );
    assert_eq!(
        db.run(&["HSCAN", "myhash", "0", "NOVALUES"]),
        Frame::Array(vec![bulk("0"), arr(&["a", "b"])])
    );
    assert_eq!(
        db.run(&["HSCAN", "myhash", "0", "MATCH", "b*"]),
        Frame::Array(vec![bulk("0"), arr(&["b", "2"])])
    );
    // The cursor is a position in hash order (b, then a): coll::scan_hash.
    assert_eq!(
        db.run(&["HSCAN", "myhash", "0", "COUNT", "1"]),
        Frame::Array(vec![bulk("9413272369427828315"), arr(&["b", "2"])])
    );
    assert_eq!(
        db.run(&["HSCAN", "myhash", "9413272369427828315", "COUNT", "1"]),
        Frame::Array(vec![bulk("0"), arr(&["a", "1"])])
    );
    assert_eq!(
        db.run(&["HSCAN", "nokey", "0"]),
        Frame::Array(vec![bulk("0"), arr(&[])])
    );
    assert_eq!(db.run(&["HSCAN", "myhash", "x"]), err("ERR invalid cursor"));
    assert_eq!(
        db.run(&["HSCAN", "myhash", "-1"]),
        err("ERR invalid cursor")
    );
    assert_eq!(db.run(&["HSCAN", "myhash", "0", "COUNT", "0"]), err(SYNTAX));
    assert_eq!(db.run(&["HSCAN", "myhash", "0", "COUNT"]), err(SYNTAX));
    assert_eq!(db.run(&["HSCAN", "myhash", "0", "FOO"]), err(SYNTAX));
    assert_eq!(
        db.run(&["HSCAN", "myhash", "0", "COUNT", "x"]),
        err(NOT_INT)
    );

    // A full iteration returns every field once and ends at cursor 0.
    let mut db = Db::new();
    for i in 0..300 {
        db.run(&["HSET", "big", &format!("f{i:03}"), &format!("v{i}")]);
    }
    let mut cursor = "0".to_string();
    let mut seen = BTreeMap::new();
    let mut calls = 0;
    loop {
        let Frame::Array(reply) = db.run(&["HSCAN", "big", &cursor, "COUNT", "7"]) else {
            panic!()
        };
        let (Frame::Bulk(next), Frame::Array(items)) = (&reply[0], &reply[1]) else {
            panic!()
        };
        assert!(items.len() <= 14);
        for pair in items.chunks(2) {
            assert!(seen
                .insert(format!("{:?}", pair[0]), pair[1].clone())
                .is_none());
        }
        calls += 1;
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 300);
    assert_eq!(calls, 300usize.div_ceil(7));
    assert_eq!(seen[&format!("{:?}", bulk("f123"))], bulk("v123"));
}

// ---- per-field expiry -----------------------------------------------------------------

#[test]
fn hexpire_and_httl_examples() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["HEXPIRE", "no-key", "20", "NX", "FIELDS", "2", "field1", "field2"]),
        ints(&[-2, -2])
    );
    assert_eq!(
        db.run(&["HSET", "mykey", "field1", "hello", "field2", "world"]),
        int(2)
    );
    assert_eq!(
        db.run(&["HEXPIRE", "mykey", "10", "FIELDS", "3", "field1", "field2", "field3"]),
        ints(&[1, 1, -2])
    );
    assert_eq!(
        db.run(&["HGETALL", "mykey"]),
        map(&[("field1", "hello"), ("field2", "world")])
    );

    let mut db = Db::new();
    assert_eq!(
        db.run(&["HTTL", "no-key", "FIELDS", "3", "field1", "field2", "field3"]),
        ints(&[-2, -2, -2])
    );
    assert_eq!(
        db.run(&["HSET", "mykey", "field1", "hello", "field2", "world"]),
        int(2)
    );
    assert_eq!(
        db.run(&["HEXPIRE", "mykey", "300", "FIELDS", "2", "field1", "field3"]),
        ints(&[1, -2])
    );
    assert_eq!(
        db.run(&["HTTL", "mykey", "FIELDS", "3", "field1", "field2", "field3"]),
        ints(&[300, -1, -2])
    );
    assert_eq!(
        db.run(&["HPTTL", "mykey", "FIELDS", "2", "field1", "field2"]),
        ints(&[300_000, -1])
    );
    db.now += 1;
    // Seconds round up, as in Redis.
    assert_eq!(
        db.run(&["HTTL", "mykey", "FIELDS", "1", "field1"]),
        ints(&[300])
    );
    assert_eq!(
        db.run(&["HPTTL", "mykey", "FIELDS", "1", "field1"]),
        ints(&[299_999])
    );
    let at = (T0 + 300_000) as i64;
    assert_eq!(
        db.run(&["HPEXPIRETIME", "mykey", "FIELDS", "2", "field1", "field2"]),
        ints(&[at, -1])
    );
    assert_eq!(
        db.run(&["HEXPIRETIME", "mykey", "FIELDS", "2", "field1", "nofield"]),
        ints(&[at / 1000, -2])
    );

    // HPERSIST.
    let mut db = Db::new();
    assert_eq!(
        db.run(&["HSET", "mykey", "field1", "hello", "field2", "world"]),
        int(2)
    );
    assert_eq!(
        db.run(&["HEXPIRE", "mykey", "300", "FIELDS", "2", "field1", "field2"]),
        ints(&[1, 1])
    );
    assert_eq!(
        db.run(&["HTTL", "mykey", "FIELDS", "2", "field1", "field2"]),
        ints(&[300, 300])
    );
    assert_eq!(
        db.run(&["HPERSIST", "mykey", "FIELDS", "2", "field2", "nofield"]),
        ints(&[1, -2])
    );
    assert_eq!(
        db.run(&["HPERSIST", "mykey", "FIELDS", "1", "field2"]),
        ints(&[-1])
    );
    assert_eq!(
        db.run(&["HTTL", "mykey", "FIELDS", "2", "field1", "field2"]),
        ints(&[300, -1])
    );
    assert_eq!(
        db.run(&["HPERSIST", "no-key", "FIELDS", "1", "f"]),
        ints(&[-2])
    );
    // Field TTLs are not the key's TTL.
    assert_eq!(db.run(&["TTL", "mykey"]), int(-1));
}

#[test]
fn hexpire_conditions_and_variants() {
    let mut db = Db::new();
    db.run(&["HSET", "h", "a", "1", "b", "2"]);
    let t = |s: u64| (T0 / 1000 + s).to_string();
    // No TTL: NX and LT apply, XX and GT do not.
    assert_eq!(
        db.run(&["HEXPIRE", "h", "100", "XX", "FIELDS", "1", "a"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "100", "GT", "FIELDS", "1", "a"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "100", "LT", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "100", "NX", "FIELDS", "2", "a", "b"]),
        ints(&[0, 1])
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "50", "GT", "FIELDS", "1", "a"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "200", "GT", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "300", "LT", "FIELDS", "1", "a"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "150", "lt", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "120", "xx", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        db.run(&["HTTL", "h", "FIELDS", "2", "a", "b"]),
        ints(&[120, 100])
    );
    assert_eq!(
        db.run(&["HPEXPIRE", "h", "5000", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(db.run(&["HPTTL", "h", "FIELDS", "1", "a"]), ints(&[5000]));
    assert_eq!(
        db.run(&["HEXPIREAT", "h", &t(77), "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(db.run(&["HTTL", "h", "FIELDS", "1", "a"]), ints(&[77]));
    let pat = (T0 + 1234).to_string();
    assert_eq!(
        db.run(&["HPEXPIREAT", "h", &pat, "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        db.run(&["HPEXPIRETIME", "h", "FIELDS", "1", "a"]),
        ints(&[(T0 + 1234) as i64])
    );
    // HINCRBY keeps the TTL, HSET drops it.
    assert_eq!(db.run(&["HINCRBY", "h", "a", "5"]), int(6));
    assert_eq!(db.run(&["HPTTL", "h", "FIELDS", "1", "a"]), ints(&[1234]));
    assert_eq!(db.run(&["HINCRBYFLOAT", "h", "a", "0.5"]), bulk("6.5"));
    assert_eq!(db.run(&["HPTTL", "h", "FIELDS", "1", "a"]), ints(&[1234]));
    assert_eq!(db.run(&["HSETNX", "h", "a", "x"]), int(0));
    assert_eq!(db.run(&["HPTTL", "h", "FIELDS", "1", "a"]), ints(&[1234]));
    assert_eq!(db.run(&["HSET", "h", "a", "7"]), int(0));
    assert_eq!(db.run(&["HPTTL", "h", "FIELDS", "1", "a"]), ints(&[-1]));
    // A time not in the future deletes the field (2); the last one takes the key.
    assert_eq!(
        db.run(&["HEXPIRE", "h", "0", "FIELDS", "2", "a", "a"]),
        ints(&[2, -2])
    );
    assert_eq!(db.run(&["HGETALL", "h"]), map(&[("b", "2")]));
    let now = T0.to_string();
    assert_eq!(
        db.run(&["HPEXPIREAT", "h", &now, "FIELDS", "1", "b"]),
        ints(&[2])
    );
    assert_eq!(db.run(&["EXISTS", "h"]), int(0));
}

#[test]
fn hexpire_errors() {
    let mut db = Db::new();
    db.run(&["HSET", "h", "a", "1"]);
    let fields_missing = "ERR Mandatory argument FIELDS is missing or not at the right position";
    let numfields = "ERR Parameter `numFields` should be greater than 0";
    let mismatch = "ERR The `numfields` parameter must match the number of arguments";
    assert_eq!(
        db.run(&["HEXPIRE", "h", "10", "FIELD", "1", "a"]),
        err(fields_missing)
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "10", "XY", "FIELDS", "1", "a"]),
        err(fields_missing)
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "10", "FIELDS", "0", "a"]),
        err(numfields)
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "10", "FIELDS", "x", "a"]),
        err(numfields)
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "10", "FIELDS", "2", "a"]),
        err(mismatch)
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "10", "NX", "FIELDS", "1"]),
        err(mismatch)
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "-1", "FIELDS", "1", "a"]),
        err("ERR invalid expire time, must be >= 0")
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "ten", "FIELDS", "1", "a"]),
        err(NOT_INT)
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "70368744177664", "FIELDS", "1", "a"]),
        err("ERR invalid expire time in 'hexpire' command")
    );
    assert_eq!(
        db.run(&["HPEXPIREAT", "h", "70368744177664", "FIELDS", "1", "a"]),
        err("ERR invalid expire time in 'hpexpireat' command")
    );
    assert_eq!(
        db.run(&["HPEXPIREAT", "h", "70368744177663", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        db.run(&["HEXPIRE", "h", "10", "FIELDS", "1"]),
        err("ERR wrong number of arguments for 'hexpire' command")
    );
    let positive = "ERR Number of fields must be a positive integer";
    assert_eq!(db.run(&["HTTL", "h", "FIELDS", "0", "a"]), err(positive));
    assert_eq!(
        db.run(&["HPERSIST", "h", "FIELDS", "-1", "a"]),
        err(positive)
    );
    assert_eq!(db.run(&["HPTTL", "h", "FIELDS", "3", "a"]), err(mismatch));
    assert_eq!(
        db.run(&["HEXPIRETIME", "h", "NOPE", "1", "a"]),
        err(fields_missing)
    );
}

#[test]
fn expired_fields_vanish_and_hlen_stays_exact() {
    let mut db = Db::new();
    assert_eq!(db.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]), int(3));
    assert_eq!(
        db.run(&["HPEXPIRE", "h", "100", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        db.run(&["HPEXPIRE", "h", "200", "FIELDS", "1", "b"]),
        ints(&[1])
    );

    db.now = T0 + 99;
    assert_eq!(db.run(&["HLEN", "h"]), int(3));
    assert_eq!(db.run(&["HGET", "h", "a"]), bulk("1"));

    db.now = T0 + 100;
    assert_eq!(db.run(&["HLEN", "h"]), int(2));
    assert_eq!(db.run(&["HGET", "h", "a"]), Frame::Null);
    assert_eq!(db.run(&["HEXISTS", "h", "a"]), int(0));
    assert_eq!(db.run(&["HSTRLEN", "h", "a"]), int(0));
    assert_eq!(
        db.run(&["HMGET", "h", "a", "b"]),
        Frame::Array(vec![Frame::Null, bulk("2")])
    );
    assert_eq!(db.run(&["HGETALL", "h"]), map(&[("b", "2"), ("c", "3")]));
    assert_eq!(db.run(&["HKEYS", "h"]), arr(&["b", "c"]));
    assert_eq!(db.run(&["HVALS", "h"]), arr(&["2", "3"]));
    assert_eq!(
        db.run(&["HTTL", "h", "FIELDS", "2", "a", "b"]),
        ints(&[-2, 1])
    );
    // Reads never write: the expired record is still stored...
    assert_eq!(db.data_records(), 3);
    // ...until a hash write runs past its expiry (even one that changes nothing).
    assert_eq!(db.run(&["HPERSIST", "h", "FIELDS", "1", "a"]), ints(&[-2]));
    assert_eq!(db.data_records(), 2);
    assert_eq!(
        db.run(&["HSCAN", "h", "0"]),
        Frame::Array(vec![bulk("0"), arr(&["b", "2", "c", "3"])])
    );
    assert_eq!(db.run(&["HRANDFIELD", "h", "10"]), arr(&["b", "c"]));

    db.now = T0 + 200;
    assert_eq!(db.run(&["HLEN", "h"]), int(1));
    assert_eq!(db.run(&["HGETALL", "h"]), map(&[("c", "3")]));
    // b has expired but is still stored until the next hash write deletes it.
    assert_eq!(db.data_records(), 2);
    assert_eq!(db.run(&["HSET", "h", "d", "4"]), int(1));
    let deletes = db
        .last
        .writes
        .iter()
        .filter(|w| matches!(w, Write::Delete(Cf::Data, _)))
        .count();
    assert_eq!(deletes, 1);
    assert_eq!(db.data_records(), 2);
    assert_eq!(db.run(&["HLEN", "h"]), int(2));
    assert_eq!(db.run(&["HGETALL", "h"]), map(&[("c", "3"), ("d", "4")]));

    // A field re-created after expiring starts fresh (no TTL).
    assert_eq!(
        db.run(&["HPEXPIRE", "h", "10", "FIELDS", "1", "c"]),
        ints(&[1])
    );
    db.now += 10;
    assert_eq!(db.run(&["HINCRBY", "h", "c", "5"]), int(5));
    assert_eq!(db.run(&["HTTL", "h", "FIELDS", "1", "c"]), ints(&[-1]));
    assert_eq!(db.run(&["HSETNX", "h", "c", "x"]), int(0));

    // Every field expired: hash commands see nothing; the next hash write deletes
    // the key.
    assert_eq!(
        db.run(&["HPEXPIRE", "h", "10", "FIELDS", "2", "c", "d"]),
        ints(&[1, 1])
    );
    db.now += 10;
    assert_eq!(db.run(&["HLEN", "h"]), int(0));
    assert_eq!(db.run(&["HGETALL", "h"]), Frame::Map(vec![]));
    assert_eq!(db.run(&["HRANDFIELD", "h"]), Frame::Null);
    assert_eq!(db.run(&["HRANDFIELD", "h", "-3"]), arr(&[]));
    assert_eq!(db.run(&["HDEL", "h", "nothing"]), int(0));
    // The key itself is gone for every command, as a key past its TTL...
    assert_eq!(db.run(&["EXISTS", "h"]), int(0));
    assert_eq!(db.run(&["TYPE", "h"]), Frame::Simple("none".into()));
    assert_eq!(db.run(&["TTL", "h"]), int(-2));
    assert_eq!(
        db.run(&["SCAN", "0"]),
        Frame::Array(vec![bulk("0"), arr(&[])])
    );
    assert_eq!(db.run(&["KEYS", "*"]), arr(&[]));
    // ...and the expiry sweep deletes its records.
    assert_eq!(db.data_records(), 2);
    assert_eq!(db.sweep(), 1);
    assert_eq!(db.data_records(), 0);
    assert_eq!(db.run(&["DBSIZE"]), int(0));
    assert_eq!(db.expiry_entries(), 0);

    // A write on an all-expired hash starts a new one.
    db.run(&["HSET", "g", "x", "1"]);
    db.run(&["HPEXPIRE", "g", "5", "FIELDS", "1", "x"]);
    db.now += 5;
    assert_eq!(db.run(&["HSET", "g", "y", "2"]), int(1));
    assert_eq!(db.run(&["HGETALL", "g"]), map(&[("y", "2")]));
    assert_eq!(db.run(&["HLEN", "g"]), int(1));
}

// ---- errors ---------------------------------------------------------------------------

#[test]
fn wrongtype_and_arity() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "s", "v"]), Frame::ok());
    for cmd in [
        &["HDEL", "s", "f"][..],
        &["HEXISTS", "s", "f"],
        &["HGET", "s", "f"],
        &["HGETALL", "s"],
        &["HINCRBY", "s", "f", "1"],
        &["HINCRBYFLOAT", "s", "f", "1"],
        &["HKEYS", "s"],
        &["HLEN", "s"],
        &["HMGET", "s", "f"],
        &["HMSET", "s", "f", "v"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "2"],
        &["HSCAN", "s", "0"],
        &["HSET", "s", "f", "v"],
        &["HSETNX", "s", "f", "v"],
        &["HSTRLEN", "s", "f"],
        &["HVALS", "s"],
        &["HEXPIRE", "s", "10", "FIELDS", "1", "f"],
        &["HPEXPIRE", "s", "10", "FIELDS", "1", "f"],
        &["HEXPIREAT", "s", "10", "FIELDS", "1", "f"],
        &["HPEXPIREAT", "s", "10", "FIELDS", "1", "f"],
        &["HTTL", "s", "FIELDS", "1", "f"],
        &["HPTTL", "s", "FIELDS", "1", "f"],
        &["HEXPIRETIME", "s", "FIELDS", "1", "f"],
        &["HPEXPIRETIME", "s", "FIELDS", "1", "f"],
        &["HPERSIST", "s", "FIELDS", "1", "f"],
        // Type errors come before argument errors, as in Redis.
        &["HEXPIRE", "s", "-1", "FIELDS", "1", "f"],
    ] {
        assert_eq!(db.run(cmd), err(WRONGTYPE), "{cmd:?}");
    }
    assert_eq!(db.run(&["GET", "s"]), bulk("v"));
    assert_eq!(
        db.run(&["HSET", "h", "f"]),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        db.run(&["HSET", "h", "f", "v", "g"]),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        db.run(&["HMSET", "h", "f", "v", "g"]),
        err("ERR wrong number of arguments for 'hmset' command")
    );
    assert_eq!(
        db.run(&["HGET", "h"]),
        err("ERR wrong number of arguments for 'hget' command")
    );
    assert_eq!(db.run(&["EXISTS", "h"]), int(0));
}

#[test]
fn command_table_rows() {
    let hset = engine::lookup(b"hset").unwrap();
    assert_eq!((hset.arity, hset.group, hset.since), (-4, "hash", "2.0.0"));
    assert!(hset.is_write());
    assert_eq!(hset.acl_categories(), vec!["@write", "@hash", "@fast"]);
    let hgetall = engine::lookup(b"HGETALL").unwrap();
    assert_eq!(hgetall.acl_categories(), vec!["@read", "@hash", "@slow"]);
    assert_eq!(engine::lookup(b"hexpire").unwrap().arity, -6);
    assert_eq!(engine::lookup(b"httl").unwrap().since, "7.4.0");
    assert!(!engine::lookup(b"hpttl").unwrap().is_write());
    assert!(engine::lookup(b"hpersist").unwrap().is_write());
}

// ---- storage contract -----------------------------------------------------------------

#[test]
fn one_field_write_is_o1_and_del_is_o1() {
    let mut db = Db::new();
    for chunk in 0..20 {
        let mut argv = vec!["HSET".to_string(), "big".to_string()];
        for i in 0..500 {
            argv.push(format!("f{}", chunk * 500 + i));
            argv.push("v".into());
        }
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        assert_eq!(db.run(&argv), int(500));
    }
    assert_eq!(db.run(&["HLEN", "big"]), int(10_000));
    assert_eq!(db.run(&["HSET", "big", "new", "v"]), int(1));
    assert!(db.last.writes.len() <= 4, "{:?}", db.last.writes.len());
    assert_eq!(db.run(&["HINCRBY", "big", "n", "1"]), int(1));
    assert!(db.last.writes.len() <= 4);
    assert_eq!(db.run(&["HDEL", "big", "f1"]), int(1));
    assert!(db.last.writes.len() <= 4);
    assert_eq!(db.run(&["DEL", "big"]), int(1));
    // Plus the key's tombstone and its time-index record (2 writes).
    assert!(db.last.writes.len() <= 6, "{:?}", db.last.writes.len());
    assert_eq!(db.run(&["HLEN", "big"]), int(0));
    // A new incarnation does not see the old records.
    assert_eq!(db.run(&["HSET", "big", "x", "1"]), int(1));
    assert_eq!(db.run(&["HGETALL", "big"]), map(&[("x", "1")]));
}

// ---- model ----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Set(u8, String),
    Del(Vec<u8>),
    IncrBy(u8, i64),
}

fn op() -> impl Strategy<Value = Op> {
    let field = 0u8..8;
    let value = prop_oneof![
        (-100i64..100).prop_map(|n| n.to_string()),
        "[a-z]{0,3}".prop_map(|s| s),
    ];
    prop_oneof![
        (field.clone(), value).prop_map(|(f, v)| Op::Set(f, v)),
        proptest::collection::vec(field.clone(), 1..4).prop_map(Op::Del),
        (field, -50i64..50).prop_map(|(f, n)| Op::IncrBy(f, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hash_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..60)) {
        let mut db = Db::new();
        let mut model: BTreeMap<String, String> = BTreeMap::new();
        let name = |f: u8| format!("field{f}");
        for op in ops {
            match op {
                Op::Set(f, v) => {
                    let created = model.insert(name(f), v.clone()).is_none();
                    prop_assert_eq!(db.run(&["HSET", "h", &name(f), &v]), int(created as i64));
                }
                Op::Del(fs) => {
                    let names: Vec<String> = fs.iter().map(|&f| name(f)).collect();
                    let n = names.iter().filter(|f| model.remove(*f).is_some()).count();
                    let mut argv = vec!["HDEL", "h"];
                    argv.extend(names.iter().map(String::as_str));
                    prop_assert_eq!(db.run(&argv), int(n as i64));
                }
                Op::IncrBy(f, by) => {
                    let reply = db.run(&["HINCRBY", "h", &name(f), &by.to_string()]);
                    match model.get(&name(f)).map(|v| v.parse::<i64>()) {
                        Some(Err(_)) => prop_assert_eq!(reply, err("ERR hash value is not an integer")),
                        cur => {
                            let new = cur.map_or(0, |r| r.unwrap()) + by;
                            model.insert(name(f), new.to_string());
                            prop_assert_eq!(reply, int(new));
                        }
                    }
                }
            }
            let expected = Frame::Map(model.iter().map(|(f, v)| (bulk(f), bulk(v))).collect());
            prop_assert_eq!(db.run(&["HGETALL", "h"]), expected);
            prop_assert_eq!(db.run(&["HLEN", "h"]), int(model.len() as i64));
            prop_assert_eq!(db.run(&["EXISTS", "h"]), int(!model.is_empty() as i64));
        }
    }
}

#[test]
fn the_expiry_sweep_purges_due_fields_and_follows_the_next_field_ttl() {
    let mut db = Db::new();
    db.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    db.run(&["HPEXPIRE", "h", "100", "FIELDS", "1", "a"]);
    db.run(&["HPEXPIRE", "h", "300", "FIELDS", "1", "b"]);
    assert_eq!(db.expiry_entries(), 1);
    db.now = T0 + 99;
    assert_eq!(db.sweep(), 0);
    assert_eq!(db.data_records(), 3);
    db.now = T0 + 100;
    assert_eq!(db.sweep(), 0);
    assert_eq!(db.data_records(), 2);
    assert_eq!(db.expiry_entries(), 1);
    assert_eq!(db.run(&["HGETALL", "h"]), map(&[("b", "2"), ("c", "3")]));
    db.now = T0 + 300;
    assert_eq!(db.sweep(), 0);
    assert_eq!(db.data_records(), 1);
    assert_eq!(db.expiry_entries(), 0);
    assert_eq!(db.run(&["EXISTS", "h"]), int(1));
    // DEL of a hash whose only field expired counts nothing, like DEL of an expired key.
    db.run(&["HPEXPIRE", "h", "10", "FIELDS", "1", "c"]);
    db.now += 10;
    assert_eq!(db.run(&["DEL", "h"]), int(0));
    assert_eq!(db.run(&["DBSIZE"]), int(0));
    // The leftover index entry of a deleted hash is dropped by the sweep.
    assert_eq!(db.sweep(), 0);
    assert_eq!(db.expiry_entries(), 0);
}
