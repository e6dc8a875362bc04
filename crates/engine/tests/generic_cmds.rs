//! Generic (keyspace) commands, run through the command table like a replica would:
//! one `Txn` per entry, effects applied to a `MemStore`.
//!
//! Keys are created with `Txn::put_string`/`put_meta` directly so these tests only
//! depend on the generic commands (and DBSIZE/FLUSHDB from the server group).

use engine::{lookup, MemStore, Txn};
use keys::{Kind, Meta};
use resp::Frame;
use std::collections::{BTreeSet, HashMap};

const T0: u64 = 1_700_000_000_000;

struct Node {
    store: MemStore,
    index: u64,
    now: u64,
    seed: u64,
}

fn argv(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn int(n: i64) -> Frame {
    Frame::Integer(n)
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec())
}

fn ok() -> Frame {
    Frame::Simple("OK".into())
}

fn err(s: &str) -> Frame {
    Frame::Error(s.into())
}

fn simple(s: &str) -> Frame {
    Frame::Simple(s.into())
}

impl Node {
    fn new() -> Node {
        Node {
            store: MemStore::default(),
            index: 0,
            now: T0,
            seed: 0xfeed,
        }
    }

    /// One log entry: a write-path command in `db`.
    fn run(&mut self, db: u8, args: &[&str]) -> Frame {
        self.index += 1;
        let mut t = Txn::new(&self.store, self.index, self.now, self.seed);
        let reply = t.run(db, &argv(args));
        let effects = t.into_effects();
        self.store.apply(&effects);
        reply
    }

    /// The read path.
    fn read(&self, db: u8, args: &[&str]) -> Frame {
        Txn::read_only(&self.store, self.now, 0).run(db, &argv(args))
    }

    /// Creates/overwrites a string key (`expire_at_ms` 0 = no TTL) as one entry.
    fn set(&mut self, db: u8, key: &str, value: &str, expire_at_ms: u64) {
        self.index += 1;
        let mut t = Txn::new(&self.store, self.index, self.now, self.seed);
        t.db = db;
        t.put_string(key.as_bytes(), value.as_bytes().to_vec(), expire_at_ms)
            .unwrap();
        let effects = t.into_effects();
        self.store.apply(&effects);
    }

    /// Creates a key of another type (a bare meta record, as collections will have).
    fn set_kind(&mut self, db: u8, key: &str, kind: Kind, len: u64) {
        self.index += 1;
        let mut t = Txn::new(&self.store, self.index, self.now, self.seed);
        t.db = db;
        let mut m: Meta = t.new_meta(kind, Vec::new());
        m.len = len;
        t.put_meta(key.as_bytes(), m).unwrap();
        let effects = t.into_effects();
        self.store.apply(&effects);
    }

    fn get(&self, db: u8, key: &str) -> Option<String> {
        let mut t = Txn::read_only(&self.store, self.now, 0);
        t.db = db;
        t.get_string(key.as_bytes())
            .unwrap()
            .map(|v| String::from_utf8(v).unwrap())
    }

    fn dbsize(&self, db: u8) -> i64 {
        match self.read(db, &["dbsize"]) {
            Frame::Integer(n) => n,
            other => panic!("dbsize: {other:?}"),
        }
    }

    /// Runs a full SCAN iteration, checking every call's invariants. Returns the keys
    /// (in reply order) and the number of calls.
    fn scan_all(&self, db: u8, extra: &[&str], count: Option<u64>) -> (Vec<String>, usize) {
        let mut cursor = "0".to_string();
        let mut out = Vec::new();
        let mut calls = 0;
        loop {
            let mut args = vec!["scan", cursor.as_str()];
            let count_s = count.map(|c| c.to_string());
            if let Some(c) = &count_s {
                args.push("COUNT");
                args.push(c);
            }
            args.extend_from_slice(extra);
            let reply = self.read(db, &args);
            calls += 1;
            assert!(calls <= 20_000, "SCAN does not terminate");
            let Frame::Array(parts) = reply else {
                panic!("scan reply {reply:?}")
            };
            let [Frame::Bulk(next), Frame::Array(keys)] = &parts[..] else {
                panic!("scan reply {parts:?}")
            };
            let start: u16 = cursor.parse().unwrap();
            for k in keys {
                let Frame::Bulk(k) = k else {
                    panic!("key {k:?}")
                };
                // Keys come from the cursor's slot on.
                assert!(keys::key_slot(k) >= start);
                out.push(String::from_utf8(k.clone()).unwrap());
            }
            cursor = String::from_utf8(next.clone()).unwrap();
            let next: u64 = cursor.parse().unwrap();
            assert!(next < keys::SLOTS as u64);
            if next == 0 {
                break;
            }
            assert!(
                next > start as u64,
                "cursor must advance: {start} -> {next}"
            );
        }
        (out, calls)
    }
}

fn sorted(v: Frame) -> Vec<String> {
    let Frame::Array(items) = v else {
        panic!("not an array: {v:?}")
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|f| match f {
            Frame::Bulk(b) => String::from_utf8(b).unwrap(),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

// ---- DEL / UNLINK / EXISTS / TOUCH / TYPE -------------------------------------------

#[test]
fn del_and_unlink_count_removed_keys() {
    let mut n = Node::new();
    n.set(0, "key1", "Hello", 0);
    n.set(0, "key2", "World", 0);
    assert_eq!(n.run(0, &["DEL", "key1", "key2", "key3"]), int(2));
    assert_eq!(n.read(0, &["exists", "key1", "key2"]), int(0));
    assert_eq!(n.dbsize(0), 0);

    n.set(0, "key1", "Hello", 0);
    n.set(0, "key2", "World", 0);
    assert_eq!(n.run(0, &["UNLINK", "key1", "key2", "key3"]), int(2));
    assert_eq!(n.dbsize(0), 0);

    // A key named twice is deleted once.
    n.set(0, "a", "1", 0);
    assert_eq!(n.run(0, &["del", "a", "a"]), int(1));
    assert_eq!(n.run(0, &["del", "a"]), int(0));
    assert_eq!(
        n.run(0, &["del"]),
        err("ERR wrong number of arguments for 'del' command")
    );
    // Write commands are refused on the read path.
    assert!(n.read(0, &["del", "a"]).is_error());
}

#[test]
fn exists_counts_duplicates() {
    let mut n = Node::new();
    n.set(0, "key1", "Hello", 0);
    assert_eq!(n.read(0, &["EXISTS", "key1"]), int(1));
    assert_eq!(n.read(0, &["EXISTS", "nosuchkey"]), int(0));
    n.set(0, "key2", "World", 0);
    assert_eq!(n.read(0, &["EXISTS", "key1", "key2", "nosuchkey"]), int(2));
    assert_eq!(n.read(0, &["EXISTS", "key1", "key1", "key1"]), int(3));
}

#[test]
fn touch_and_type() {
    let mut n = Node::new();
    n.set(0, "key1", "Hello", 0);
    n.set(0, "key2", "World", 0);
    assert_eq!(n.read(0, &["TOUCH", "key1", "key2", "nope"]), int(2));
    n.set_kind(0, "h", Kind::Hash, 3);
    assert_eq!(n.read(0, &["TYPE", "key1"]), simple("string"));
    assert_eq!(n.read(0, &["TYPE", "h"]), simple("hash"));
    assert_eq!(n.read(0, &["TYPE", "nope"]), simple("none"));
}

// ---- EXPIRE family ------------------------------------------------------------------

#[test]
fn expire_redis_io_example() {
    let mut n = Node::new();
    n.set(0, "mykey", "Hello", 0);
    assert_eq!(n.run(0, &["EXPIRE", "mykey", "10"]), int(1));
    assert_eq!(n.read(0, &["TTL", "mykey"]), int(10));
    // SET clears the TTL.
    n.set(0, "mykey", "Hello World", 0);
    assert_eq!(n.read(0, &["TTL", "mykey"]), int(-1));
    assert_eq!(n.run(0, &["EXPIRE", "mykey", "10", "XX"]), int(0));
    assert_eq!(n.read(0, &["TTL", "mykey"]), int(-1));
    assert_eq!(n.run(0, &["EXPIRE", "mykey", "10", "NX"]), int(1));
    assert_eq!(n.read(0, &["TTL", "mykey"]), int(10));
}

#[test]
fn expire_options_follow_redis7() {
    let mut n = Node::new();
    n.set(0, "k", "v", 0);
    // No TTL: GT never applies (infinite), LT always does.
    assert_eq!(n.run(0, &["expire", "k", "100", "gt"]), int(0));
    assert_eq!(n.read(0, &["ttl", "k"]), int(-1));
    assert_eq!(n.run(0, &["expire", "k", "100", "lt"]), int(1));
    assert_eq!(n.read(0, &["ttl", "k"]), int(100));
    assert_eq!(n.run(0, &["expire", "k", "50", "NX"]), int(0));
    assert_eq!(n.run(0, &["expire", "k", "200", "XX"]), int(1));
    assert_eq!(n.read(0, &["ttl", "k"]), int(200));
    assert_eq!(n.run(0, &["expire", "k", "100", "GT"]), int(0));
    assert_eq!(
        n.run(0, &["expire", "k", "200", "GT"]),
        int(0),
        "equal is not greater"
    );
    assert_eq!(n.run(0, &["expire", "k", "300", "GT"]), int(1));
    assert_eq!(
        n.run(0, &["expire", "k", "300", "LT"]),
        int(0),
        "equal is not less"
    );
    assert_eq!(n.run(0, &["expire", "k", "250", "xx", "lt"]), int(1));
    assert_eq!(n.read(0, &["pttl", "k"]), int(250_000));
    assert_eq!(n.run(0, &["pexpire", "k", "250001", "gt", "xx"]), int(1));
    assert_eq!(n.read(0, &["pttl", "k"]), int(250_001));

    // Incompatible options, checked before the key or the number.
    let nx_err = err("ERR NX and XX, GT or LT options at the same time are not compatible");
    assert_eq!(n.run(0, &["expire", "k", "10", "nx", "xx"]), nx_err);
    assert_eq!(n.run(0, &["expire", "k", "10", "nx", "gt"]), nx_err);
    assert_eq!(n.run(0, &["pexpire", "missing", "abc", "lt", "nx"]), nx_err);
    assert_eq!(
        n.run(0, &["expire", "k", "10", "gt", "lt"]),
        err("ERR GT and LT options at the same time are not compatible")
    );
    assert_eq!(
        n.run(0, &["expire", "k", "10", "foo"]),
        err("ERR Unsupported option foo")
    );
    assert_eq!(
        n.run(0, &["expire", "k", "ten"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        n.run(0, &["expire", "k"]),
        err("ERR wrong number of arguments for 'expire' command")
    );
    // Nothing above changed the TTL.
    assert_eq!(n.read(0, &["pttl", "k"]), int(250_001));

    // Missing keys.
    assert_eq!(n.run(0, &["expire", "missing", "10"]), int(0));
    assert_eq!(n.run(0, &["expire", "missing", "-10"]), int(0));
    assert_eq!(n.read(0, &["exists", "missing"]), int(0));
}

#[test]
fn expire_overflow_and_past_times() {
    let mut n = Node::new();
    n.set(0, "k", "v", 0);
    assert_eq!(
        n.run(0, &["expire", "k", "9223372036854775807"]),
        err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(
        n.run(0, &["EXPIRE", "k", "-9223372036854775808"]),
        err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(
        n.run(0, &["pexpire", "k", "9223372036854775807"]),
        err("ERR invalid expire time in 'pexpire' command")
    );
    assert_eq!(
        n.run(0, &["expireat", "k", "9223372036854776"]),
        err("ERR invalid expire time in 'expireat' command")
    );
    assert_eq!(n.read(0, &["ttl", "k"]), int(-1));
    // The largest absolute times are fine.
    assert_eq!(n.run(0, &["pexpireat", "k", "9223372036854775807"]), int(1));
    assert_eq!(n.read(0, &["pexpiretime", "k"]), int(i64::MAX));
    assert_eq!(n.run(0, &["expireat", "k", "9223372036854775"]), int(1));
    assert_eq!(n.read(0, &["expiretime", "k"]), int(9_223_372_036_854_775));

    // A time at or before now deletes the key and replies 1.
    assert_eq!(n.dbsize(0), 1);
    assert_eq!(n.run(0, &["expire", "k", "-1"]), int(1));
    assert_eq!(n.read(0, &["exists", "k"]), int(0));
    assert_eq!(n.dbsize(0), 0);
    n.set(0, "k", "v", 0);
    assert_eq!(n.run(0, &["pexpire", "k", "0"]), int(1));
    assert_eq!(n.dbsize(0), 0);
    n.set(0, "k", "v", 0);
    let now = n.now.to_string();
    assert_eq!(n.run(0, &["pexpireat", "k", &now]), int(1));
    assert_eq!(n.read(0, &["ttl", "k"]), int(-2));
    n.set(0, "k", "v", 0);
    assert_eq!(n.run(0, &["expireat", "k", "1"]), int(1));
    assert_eq!(n.dbsize(0), 0);
}

#[test]
fn expiry_takes_effect_only_when_time_advances() {
    let mut n = Node::new();
    n.set(0, "k", "v", 0);
    n.set(0, "other", "x", 0);
    assert_eq!(n.run(0, &["pexpire", "k", "1000"]), int(1));
    assert_eq!(n.read(0, &["pttl", "k"]), int(1000));

    n.now += 999;
    assert_eq!(n.read(0, &["exists", "k"]), int(1));
    assert_eq!(n.read(0, &["pttl", "k"]), int(1));
    assert_eq!(n.read(0, &["ttl", "k"]), int(0));
    assert_eq!(n.read(0, &["type", "k"]), simple("string"));

    n.now += 1;
    assert_eq!(n.read(0, &["exists", "k"]), int(0));
    assert_eq!(n.read(0, &["ttl", "k"]), int(-2));
    assert_eq!(n.read(0, &["pttl", "k"]), int(-2));
    assert_eq!(n.read(0, &["expiretime", "k"]), int(-2));
    assert_eq!(n.read(0, &["type", "k"]), simple("none"));
    assert_eq!(n.read(0, &["object", "encoding", "k"]), Frame::Null);
    assert_eq!(sorted(n.read(0, &["keys", "*"])), vec!["other"]);
    assert_eq!(n.scan_all(0, &[], None).0, vec!["other"]);
    // An expired key behaves as missing for writes too.
    assert_eq!(n.run(0, &["expire", "k", "100"]), int(0));
    assert_eq!(n.run(0, &["persist", "k"]), int(0));
    assert_eq!(n.run(0, &["rename", "k", "k2"]), err("ERR no such key"));
    assert_eq!(n.run(0, &["copy", "k", "k2"]), int(0));
    assert_eq!(n.read(0, &["exists", "k2"]), int(0));
}

#[test]
fn ttl_rounds_like_redis() {
    let mut n = Node::new();
    n.set(0, "k", "v", 0);
    for (ms, secs) in [
        (1, 0),
        (499, 0),
        (500, 1),
        (1499, 1),
        (1500, 2),
        (10_000, 10),
    ] {
        assert_eq!(n.run(0, &["pexpire", "k", &ms.to_string()]), int(1));
        assert_eq!(n.read(0, &["ttl", "k"]), int(secs), "{ms} ms");
        assert_eq!(n.read(0, &["pttl", "k"]), int(ms));
    }
    assert_eq!(n.read(0, &["ttl", "missing"]), int(-2));
    assert_eq!(n.read(0, &["pttl", "missing"]), int(-2));
    n.set(0, "p", "v", 0);
    assert_eq!(n.read(0, &["ttl", "p"]), int(-1));
    assert_eq!(n.read(0, &["pttl", "p"]), int(-1));
}

#[test]
fn pttl_and_expireat_examples() {
    let mut n = Node::new();
    n.set(0, "mykey", "Hello", 0);
    assert_eq!(n.run(0, &["EXPIRE", "mykey", "1"]), int(1));
    assert_eq!(n.read(0, &["PTTL", "mykey"]), int(1000));

    n.set(0, "mykey", "Hello", 0);
    assert_eq!(n.read(0, &["EXISTS", "mykey"]), int(1));
    assert_eq!(n.run(0, &["EXPIREAT", "mykey", "1293840000"]), int(1));
    assert_eq!(n.read(0, &["EXISTS", "mykey"]), int(0));

    n.set(0, "mykey", "Hello", 0);
    assert_eq!(n.run(0, &["PEXPIRE", "mykey", "1500"]), int(1));
    assert_eq!(n.read(0, &["TTL", "mykey"]), int(2));
    assert_eq!(n.read(0, &["PTTL", "mykey"]), int(1500));

    let at = (T0 + 5_000).to_string();
    assert_eq!(n.run(0, &["PEXPIREAT", "mykey", &at]), int(1));
    assert_eq!(n.read(0, &["PTTL", "mykey"]), int(5000));
    assert_eq!(
        n.read(0, &["PEXPIRETIME", "mykey"]),
        int((T0 + 5_000) as i64)
    );
}

#[test]
fn expiretime_example() {
    let mut n = Node::new();
    n.set(0, "mykey", "Hello", 0);
    assert_eq!(n.read(0, &["EXPIRETIME", "mykey"]), int(-1));
    assert_eq!(n.read(0, &["PEXPIRETIME", "mykey"]), int(-1));
    assert_eq!(n.run(0, &["EXPIREAT", "mykey", "33177117420"]), int(1));
    assert_eq!(n.read(0, &["EXPIRETIME", "mykey"]), int(33177117420));
    assert_eq!(n.read(0, &["PEXPIRETIME", "mykey"]), int(33177117420000));
    // Seconds are truncated.
    assert_eq!(n.run(0, &["PEXPIREAT", "mykey", "33177117420999"]), int(1));
    assert_eq!(n.read(0, &["EXPIRETIME", "mykey"]), int(33177117420));
    assert_eq!(n.read(0, &["EXPIRETIME", "nokey"]), int(-2));
    assert_eq!(n.read(0, &["PEXPIRETIME", "nokey"]), int(-2));
}

#[test]
fn persist_example() {
    let mut n = Node::new();
    n.set(0, "mykey", "Hello", 0);
    assert_eq!(n.run(0, &["PERSIST", "mykey"]), int(0));
    assert_eq!(n.run(0, &["EXPIRE", "mykey", "10"]), int(1));
    assert_eq!(n.read(0, &["TTL", "mykey"]), int(10));
    assert_eq!(n.run(0, &["PERSIST", "mykey"]), int(1));
    assert_eq!(n.read(0, &["TTL", "mykey"]), int(-1));
    assert_eq!(n.run(0, &["PERSIST", "nokey"]), int(0));
    // Persisted: survives any amount of time.
    n.now += 1_000_000;
    assert_eq!(n.get(0, "mykey").as_deref(), Some("Hello"));
}

// ---- KEYS / RANDOMKEY ---------------------------------------------------------------

#[test]
fn keys_example_and_patterns() {
    let mut n = Node::new();
    n.set(0, "firstname", "Jack", 0);
    n.set(0, "lastname", "Stuntman", 0);
    n.set(0, "age", "35", 0);
    assert_eq!(
        sorted(n.read(0, &["KEYS", "*name*"])),
        vec!["firstname", "lastname"]
    );
    assert_eq!(sorted(n.read(0, &["KEYS", "a??"])), vec!["age"]);
    assert_eq!(
        sorted(n.read(0, &["KEYS", "*"])),
        vec!["age", "firstname", "lastname"]
    );

    for k in ["hello", "hallo", "hillo", "hllo", "heeeello", "h*llo"] {
        n.set(0, k, "x", 0);
    }
    assert_eq!(
        sorted(n.read(0, &["keys", "h?llo"])),
        vec!["h*llo", "hallo", "hello", "hillo"]
    );
    assert_eq!(
        sorted(n.read(0, &["keys", "h*llo"])),
        vec!["h*llo", "hallo", "heeeello", "hello", "hillo", "hllo"]
    );
    assert_eq!(
        sorted(n.read(0, &["keys", "h[ae]llo"])),
        vec!["hallo", "hello"]
    );
    assert_eq!(
        sorted(n.read(0, &["keys", "h[^e]llo"])),
        vec!["h*llo", "hallo", "hillo"]
    );
    assert_eq!(sorted(n.read(0, &["keys", "h[a-b]llo"])), vec!["hallo"]);
    assert_eq!(sorted(n.read(0, &["keys", "h\\*llo"])), vec!["h*llo"]);
    assert_eq!(
        sorted(n.read(0, &["keys", "nomatch*"])),
        Vec::<String>::new()
    );
    assert_eq!(
        n.read(0, &["keys"]),
        err("ERR wrong number of arguments for 'keys' command")
    );
}

#[test]
fn randomkey_is_deterministic_and_covers_keys() {
    let mut n = Node::new();
    assert_eq!(n.read(0, &["RANDOMKEY"]), Frame::Null);
    let names = ["a", "b", "c", "d", "e"];
    for k in names {
        n.set(0, k, "v", 0);
    }
    // Same entry (index, time, seed) on two replicas: same key.
    let pick = |store: &MemStore, index: u64, seed: u64| {
        let mut t = Txn::new(store, index, T0, seed);
        t.run(0, &argv(&["randomkey"]))
    };
    let replica = n.store.clone();
    let mut seen = BTreeSet::new();
    for i in 1..200 {
        let a = pick(&n.store, i, 99);
        assert_eq!(a, pick(&replica, i, 99));
        let Frame::Bulk(k) = a else { panic!("{a:?}") };
        let k = String::from_utf8(k).unwrap();
        assert!(names.contains(&k.as_str()), "{k}");
        seen.insert(k);
    }
    assert_eq!(seen.len(), names.len(), "every key gets picked: {seen:?}");

    // Expired keys are never returned; all expired → nil.
    n.set(0, "a", "v", T0 + 10);
    n.now = T0 + 10;
    for i in 1..100 {
        let mut t = Txn::new(&n.store, i, n.now, 5);
        assert_ne!(t.run(0, &argv(&["randomkey"])), bulk("a"));
    }
    for k in names {
        n.set(0, k, "v", n.now + 1);
    }
    n.now += 1;
    assert_eq!(n.dbsize(0), 5, "expired keys still counted until deleted");
    assert_eq!(n.read(0, &["randomkey"]), Frame::Null);
}

#[test]
fn randomkey_on_a_large_db() {
    let mut n = Node::new();
    let mut t = Txn::new(&n.store, 1, n.now, 0);
    for i in 0..6000 {
        t.put_string(format!("key:{i}").as_bytes(), b"v".to_vec(), 0)
            .unwrap();
    }
    let effects = t.into_effects();
    n.store.apply(&effects);
    assert_eq!(n.dbsize(0), 6000);
    let mut seen = BTreeSet::new();
    for i in 1..300 {
        let mut t = Txn::new(&n.store, i, n.now, 3);
        let Frame::Bulk(k) = t.run(0, &argv(&["randomkey"])) else {
            panic!()
        };
        let k = String::from_utf8(k).unwrap();
        let idx: usize = k.strip_prefix("key:").unwrap().parse().unwrap();
        assert!(idx < 6000);
        seen.insert(idx);
    }
    assert!(seen.len() > 250, "picks should spread: {}", seen.len());
}

// ---- RENAME / RENAMENX / COPY -------------------------------------------------------

#[test]
fn rename_example_and_edge_cases() {
    let mut n = Node::new();
    n.set(0, "mykey", "Hello", 0);
    assert_eq!(n.run(0, &["RENAME", "mykey", "myotherkey"]), ok());
    assert_eq!(n.get(0, "myotherkey").as_deref(), Some("Hello"));
    assert_eq!(n.get(0, "mykey"), None);
    assert_eq!(n.dbsize(0), 1);

    assert_eq!(n.run(0, &["rename", "nokey", "x"]), err("ERR no such key"));
    assert_eq!(
        n.run(0, &["rename", "nokey", "nokey"]),
        err("ERR no such key")
    );
    // Onto itself: OK, nothing changes.
    assert_eq!(n.run(0, &["rename", "myotherkey", "myotherkey"]), ok());
    assert_eq!(n.get(0, "myotherkey").as_deref(), Some("Hello"));
    assert_eq!(n.dbsize(0), 1);

    // The TTL moves with the key.
    n.set(0, "src", "s", T0 + 7_000);
    assert_eq!(n.run(0, &["rename", "src", "dst"]), ok());
    assert_eq!(n.read(0, &["pttl", "dst"]), int(7_000));
    assert_eq!(n.read(0, &["exists", "src"]), int(0));
    // Overwriting a key with a TTL: the destination takes the source's (none).
    n.set(0, "plain", "p", 0);
    assert_eq!(n.dbsize(0), 3);
    assert_eq!(n.run(0, &["rename", "plain", "dst"]), ok());
    assert_eq!(n.read(0, &["ttl", "dst"]), int(-1));
    assert_eq!(n.get(0, "dst").as_deref(), Some("p"));
    assert_eq!(n.dbsize(0), 2);
    // ... and the old TTL of dst does not come back to kill it.
    n.now += 10_000;
    assert_eq!(n.get(0, "dst").as_deref(), Some("p"));
    // A renamed key with a TTL still expires.
    n.set(0, "t", "x", n.now + 100);
    assert_eq!(n.run(0, &["rename", "t", "t2"]), ok());
    n.now += 100;
    assert_eq!(n.read(0, &["exists", "t2", "t"]), int(0));
}

#[test]
fn renamenx_example_and_edge_cases() {
    let mut n = Node::new();
    n.set(0, "mykey", "Hello", 0);
    n.set(0, "myotherkey", "World", 0);
    assert_eq!(n.run(0, &["RENAMENX", "mykey", "myotherkey"]), int(0));
    assert_eq!(n.get(0, "myotherkey").as_deref(), Some("World"));
    assert_eq!(n.get(0, "mykey").as_deref(), Some("Hello"));
    assert_eq!(n.run(0, &["RENAMENX", "mykey", "mykey"]), int(0));
    assert_eq!(
        n.run(0, &["RENAMENX", "nokey", "x"]),
        err("ERR no such key")
    );
    assert_eq!(n.run(0, &["RENAMENX", "mykey", "fresh"]), int(1));
    assert_eq!(n.get(0, "fresh").as_deref(), Some("Hello"));
    assert_eq!(n.dbsize(0), 2);
    // An expired destination counts as missing.
    n.set(0, "old", "gone", n.now + 5);
    n.now += 5;
    assert_eq!(n.run(0, &["RENAMENX", "fresh", "old"]), int(1));
    assert_eq!(n.get(0, "old").as_deref(), Some("Hello"));
    assert_eq!(n.read(0, &["ttl", "old"]), int(-1));
    assert_eq!(n.dbsize(0), 2);
}

#[test]
fn copy_example_and_options() {
    let mut n = Node::new();
    n.set(0, "dolly", "sheep", 0);
    assert_eq!(n.run(0, &["COPY", "dolly", "clone"]), int(1));
    assert_eq!(n.get(0, "clone").as_deref(), Some("sheep"));
    assert_eq!(n.get(0, "dolly").as_deref(), Some("sheep"));
    assert_eq!(n.dbsize(0), 2);

    // Existing destination: 0 without REPLACE, overwritten with it.
    n.set(0, "dolly", "sheep2", 0);
    assert_eq!(n.run(0, &["COPY", "dolly", "clone"]), int(0));
    assert_eq!(n.get(0, "clone").as_deref(), Some("sheep"));
    assert_eq!(n.run(0, &["COPY", "dolly", "clone", "replace"]), int(1));
    assert_eq!(n.get(0, "clone").as_deref(), Some("sheep2"));
    assert_eq!(n.dbsize(0), 2);

    // Copies are independent.
    assert_eq!(n.run(0, &["del", "dolly"]), int(1));
    assert_eq!(n.get(0, "clone").as_deref(), Some("sheep2"));
    assert_eq!(n.run(0, &["copy", "dolly", "x"]), int(0));

    // Other databases.
    assert_eq!(n.run(0, &["copy", "clone", "clone", "DB", "3"]), int(1));
    assert_eq!(n.get(3, "clone").as_deref(), Some("sheep2"));
    assert_eq!(n.dbsize(3), 1);
    assert_eq!(n.dbsize(0), 1);
    assert_eq!(n.run(0, &["copy", "clone", "clone", "DB", "3"]), int(0));
    n.set(0, "clone", "v3", 0);
    assert_eq!(
        n.run(0, &["copy", "clone", "clone", "REPLACE", "db", "3"]),
        int(1)
    );
    assert_eq!(n.get(3, "clone").as_deref(), Some("v3"));
    assert_eq!(n.dbsize(3), 1);
    // From db 3 back to db 0 under a new name.
    assert_eq!(n.run(3, &["copy", "clone", "c2", "db", "0"]), int(1));
    assert_eq!(n.get(0, "c2").as_deref(), Some("v3"));
    assert_eq!(n.get(3, "c2"), None);

    // The TTL is copied.
    n.set(0, "t", "x", T0 + 4_000);
    assert_eq!(n.run(0, &["copy", "t", "t2"]), int(1));
    assert_eq!(n.read(0, &["pttl", "t2"]), int(4_000));
    assert_eq!(n.run(0, &["copy", "t", "t3", "db", "1"]), int(1));
    assert_eq!(n.read(1, &["pttl", "t3"]), int(4_000));

    // Errors.
    let same = err("ERR source and destination objects are the same");
    assert_eq!(n.run(0, &["copy", "clone", "clone"]), same);
    assert_eq!(n.run(0, &["copy", "nokey", "nokey"]), same);
    assert_eq!(n.run(2, &["copy", "clone", "clone", "db", "2"]), same);
    let range = err("ERR DB index is out of range");
    assert_eq!(n.run(0, &["copy", "clone", "x", "db", "16"]), range);
    assert_eq!(n.run(0, &["copy", "clone", "x", "db", "-1"]), range);
    assert_eq!(
        n.run(0, &["copy", "clone", "x", "db", "zero"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        n.run(0, &["copy", "clone", "x", "db", "99999999999"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        n.run(0, &["copy", "clone", "x", "db"]),
        err("ERR syntax error")
    );
    assert_eq!(
        n.run(0, &["copy", "clone", "x", "bogus"]),
        err("ERR syntax error")
    );
    assert_eq!(
        n.run(0, &["copy", "clone"]),
        err("ERR wrong number of arguments for 'copy' command")
    );
    assert_eq!(n.read(0, &["exists", "x"]), int(0));
}

#[test]
fn copy_and_rename_move_collections_element_by_element() {
    let mut n = Node::new();
    let arr = |v: &[&str]| Frame::Array(v.iter().map(|s| bulk(s)).collect());
    n.run(0, &["hset", "h", "a", "1", "b", "2"]);
    n.run(0, &["zadd", "z", "1", "x", "2.5", "y"]);
    n.run(0, &["rpush", "l", "p", "q", "r"]);
    n.run(0, &["sadd", "s", "m1", "m2"]);
    n.run(0, &["pexpire", "h", "100000"]);

    // COPY: an independent collection with the same elements and TTL.
    assert_eq!(n.run(0, &["copy", "h", "h2"]), int(1));
    assert_eq!(
        n.read(0, &["hgetall", "h2"]),
        Frame::Map(vec![(bulk("a"), bulk("1")), (bulk("b"), bulk("2"))])
    );
    assert_eq!(n.read(0, &["pttl", "h2"]), int(100000));
    n.run(0, &["hset", "h2", "a", "changed"]);
    assert_eq!(n.read(0, &["hget", "h", "a"]), bulk("1"));
    assert_eq!(n.read(0, &["hget", "h2", "a"]), bulk("changed"));
    // Into another database, over an existing key with REPLACE.
    n.run(0, &["set", "taken", "t"]);
    assert_eq!(n.run(0, &["copy", "z", "taken"]), int(0));
    assert_eq!(n.run(0, &["copy", "z", "taken", "replace"]), int(1));
    assert_eq!(n.read(0, &["zrange", "taken", "0", "-1"]), arr(&["x", "y"]));
    assert_eq!(n.read(0, &["zcount", "taken", "2.5", "2.5"]), int(1));
    assert_eq!(n.run(0, &["copy", "l", "l", "db", "3"]), int(1));
    assert_eq!(
        n.read(3, &["lrange", "l", "0", "-1"]),
        arr(&["p", "q", "r"])
    );

    // RENAME: the elements follow, the source is gone, indexes still work.
    assert_eq!(n.run(0, &["rename", "z", "z2"]), ok());
    assert_eq!(n.read(0, &["exists", "z"]), int(0));
    assert_eq!(n.read(0, &["zrank", "z2", "y"]), int(1));
    assert_eq!(n.read(0, &["zcount", "z2", "1", "1"]), int(1));
    assert_eq!(n.run(0, &["renamenx", "s", "l"]), int(0));
    assert_eq!(n.run(0, &["rename", "s", "l"]), ok());
    assert_eq!(n.read(0, &["type", "l"]), simple("set"));
    assert_eq!(
        n.read(0, &["smembers", "l"]),
        Frame::Set(vec![bulk("m1"), bulk("m2")])
    );
    assert_eq!(
        n.run(0, &["rpush", "l", "x"]),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    // Renaming onto itself touches nothing.
    assert_eq!(n.run(0, &["rename", "h", "h"]), ok());
    // Strings may overwrite collections.
    n.run(0, &["set", "str", "v"]);
    assert_eq!(n.run(0, &["rename", "str", "h"]), ok());
    assert_eq!(n.read(0, &["type", "h"]), simple("string"));
}

// ---- SCAN ---------------------------------------------------------------------------

fn populate(n: &mut Node, db: u8, user: usize, item: usize, hashes: usize) {
    n.index += 1;
    let mut t = Txn::new(&n.store, n.index, n.now, 0);
    t.db = db;
    for i in 0..user {
        t.put_string(format!("user:{i}").as_bytes(), b"u".to_vec(), 0)
            .unwrap();
    }
    for i in 0..item {
        t.put_string(format!("item:{i}").as_bytes(), b"i".to_vec(), 0)
            .unwrap();
    }
    for i in 0..hashes {
        let m = t.new_meta(Kind::Hash, Vec::new());
        t.put_meta(format!("hash:{i}").as_bytes(), m).unwrap();
    }
    let effects = t.into_effects();
    n.store.apply(&effects);
}

fn exactly_once(keys: &[String]) -> BTreeSet<String> {
    let mut seen = HashMap::new();
    for k in keys {
        *seen.entry(k.clone()).or_insert(0) += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, &c)| c > 1).collect();
    assert!(dups.is_empty(), "duplicates: {dups:?}");
    seen.into_keys().collect()
}

#[test]
fn scan_returns_every_key_exactly_once() {
    let mut n = Node::new();
    populate(&mut n, 0, 600, 400, 0);
    populate(&mut n, 1, 5, 0, 0); // another db must not leak in
    let all: BTreeSet<String> = (0..600)
        .map(|i| format!("user:{i}"))
        .chain((0..400).map(|i| format!("item:{i}")))
        .collect();
    assert_eq!(n.dbsize(0), 1000);

    let mut calls_by_count = Vec::new();
    for count in [
        None,
        Some(1),
        Some(7),
        Some(100),
        Some(999),
        Some(1000),
        Some(100_000),
    ] {
        let (keys, calls) = n.scan_all(0, &[], count);
        assert_eq!(keys.len(), 1000, "COUNT {count:?}");
        assert_eq!(exactly_once(&keys), all, "COUNT {count:?}");
        calls_by_count.push((count, calls));
    }
    let calls = |c: Option<u64>| calls_by_count.iter().find(|(k, _)| *k == c).unwrap().1;
    // Every call but the last visits at least COUNT keys, so at most ceil(1000/COUNT)
    // calls; with whole slots per call, at least 1000/(COUNT + largest slot) calls.
    assert!(
        calls(Some(1)) > 500 && calls(Some(1)) <= 1000,
        "{}",
        calls(Some(1))
    );
    assert!(calls(None) > 50 && calls(None) <= 100, "{}", calls(None));
    assert!(
        calls(Some(100)) > 5 && calls(Some(100)) <= 10,
        "{}",
        calls(Some(100))
    );
    assert_eq!(calls(Some(1000)), 1);
    assert_eq!(calls(Some(100_000)), 1);
    assert!(calls(Some(999)) <= 2);

    // A single call: whole slots, at least COUNT keys, cursor = next non-empty slot.
    let Frame::Array(parts) = n.read(0, &["scan", "0", "count", "10"]) else {
        panic!()
    };
    let Frame::Bulk(next) = &parts[0] else {
        panic!()
    };
    let next: u16 = std::str::from_utf8(next).unwrap().parse().unwrap();
    let Frame::Array(got) = &parts[1] else {
        panic!()
    };
    assert!(got.len() >= 10);
    let got: Vec<Vec<u8>> = got
        .iter()
        .map(|f| match f {
            Frame::Bulk(b) => b.clone(),
            _ => panic!(),
        })
        .collect();
    let last_slot = got.iter().map(|k| keys::key_slot(k)).max().unwrap();
    assert!(next > last_slot);
    let expected_before_next = all
        .iter()
        .filter(|k| keys::key_slot(k.as_bytes()) < next)
        .count();
    assert_eq!(got.len(), expected_before_next);
    assert!(
        all.iter().any(|k| keys::key_slot(k.as_bytes()) == next),
        "cursor is the next non-empty slot"
    );

    // Same reply on every replica / every time.
    let replica = Node {
        store: n.store.clone(),
        index: 0,
        now: n.now,
        seed: 1,
    };
    assert_eq!(
        replica.read(0, &["scan", "1234", "count", "50"]),
        n.read(0, &["scan", "1234", "count", "50"])
    );

    let (db1, _) = n.scan_all(1, &[], Some(3));
    assert_eq!(
        exactly_once(&db1),
        (0..5).map(|i| format!("user:{i}")).collect()
    );
}

#[test]
fn scan_match_and_type_filters() {
    let mut n = Node::new();
    populate(&mut n, 0, 300, 200, 50);
    let users: BTreeSet<String> = (0..300).map(|i| format!("user:{i}")).collect();
    let hashes: BTreeSet<String> = (0..50).map(|i| format!("hash:{i}")).collect();

    for count in [None, Some(5), Some(1000)] {
        let (keys, _) = n.scan_all(0, &["MATCH", "user:*"], count);
        assert_eq!(exactly_once(&keys), users);
        let (keys, _) = n.scan_all(0, &["type", "hash"], count);
        assert_eq!(exactly_once(&keys), hashes);
        let (keys, _) = n.scan_all(0, &["TYPE", "STRING", "match", "*:1?"], count);
        let want: BTreeSet<String> = (10..20)
            .flat_map(|i| [format!("user:{i}"), format!("item:{i}")])
            .collect();
        assert_eq!(exactly_once(&keys), want);
        let (keys, _) = n.scan_all(0, &["match", "hash:*", "type", "string"], count);
        assert!(keys.is_empty());
        // An unknown type matches nothing (Redis 7 does not reject it).
        let (keys, _) = n.scan_all(0, &["type", "nosuchtype"], count);
        assert!(keys.is_empty());
        let (keys, _) = n.scan_all(0, &["match", "*"], count);
        assert_eq!(keys.len(), 550);
    }
    // COUNT counts visited keys, not matches: a filter does not make one call walk
    // the whole database.
    let (_, calls) = n.scan_all(0, &["match", "nothing*"], Some(10));
    assert!(calls > 20, "{calls}");
}

#[test]
fn scan_errors_and_edge_cases() {
    let mut n = Node::new();
    assert_eq!(
        n.read(0, &["scan", "0"]),
        Frame::Array(vec![bulk("0"), Frame::Array(vec![])])
    );
    n.set(0, "k", "v", 0);
    assert_eq!(
        n.read(0, &["scan", "0"]),
        Frame::Array(vec![bulk("0"), Frame::Array(vec![bulk("k")])])
    );
    // A cursor past the key's slot finds nothing.
    let past = (keys::key_slot(b"k") + 1).to_string();
    assert_eq!(
        n.read(0, &["scan", &past]),
        Frame::Array(vec![bulk("0"), Frame::Array(vec![])])
    );
    assert!(!n.read(0, &["scan", "16383"]).is_error());

    let invalid = err("ERR invalid cursor");
    for c in [
        "abc",
        "-1",
        "16384",
        "99999999999999999999999",
        "",
        " 1",
        "+1",
        "1.5",
    ] {
        assert_eq!(n.read(0, &["scan", c]), invalid, "cursor {c:?}");
    }
    let syntax = err("ERR syntax error");
    assert_eq!(n.read(0, &["scan", "0", "count", "0"]), syntax);
    assert_eq!(n.read(0, &["scan", "0", "count", "-5"]), syntax);
    assert_eq!(n.read(0, &["scan", "0", "count"]), syntax);
    assert_eq!(n.read(0, &["scan", "0", "match"]), syntax);
    assert_eq!(n.read(0, &["scan", "0", "type"]), syntax);
    assert_eq!(n.read(0, &["scan", "0", "bogus", "1"]), syntax);
    assert_eq!(
        n.read(0, &["scan", "0", "count", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        n.read(0, &["scan"]),
        err("ERR wrong number of arguments for 'scan' command")
    );
}

// ---- OBJECT -------------------------------------------------------------------------

#[test]
fn object_encoding() {
    let mut n = Node::new();
    let long44 = "x".repeat(44);
    let long45 = "x".repeat(45);
    let cases = [
        ("12345", "int"),
        ("-1", "int"),
        ("0", "int"),
        ("9223372036854775807", "int"),
        ("-9223372036854775808", "int"),
        ("9223372036854775808", "embstr"),
        ("01", "embstr"),
        ("+1", "embstr"),
        ("1.5", "embstr"),
        ("", "embstr"),
        ("Hello World", "embstr"),
        (long44.as_str(), "embstr"),
        (long45.as_str(), "raw"),
    ];
    for (i, (v, enc)) in cases.iter().enumerate() {
        let key = format!("k{i}");
        n.set(0, &key, v, 0);
        assert_eq!(
            n.read(0, &["OBJECT", "ENCODING", &key]),
            bulk(enc),
            "value {v:?}"
        );
    }
    n.set_kind(0, "small", Kind::Hash, 10);
    n.set_kind(0, "big", Kind::ZSet, 1000);
    assert_eq!(
        n.read(0, &["object", "encoding", "small"]),
        bulk("listpack")
    );
    assert_eq!(n.read(0, &["object", "encoding", "big"]), bulk("skiplist"));
    assert_eq!(n.read(0, &["object", "encoding", "missing"]), Frame::Null);
}

#[test]
fn object_idletime_freq_refcount_help_and_errors() {
    let mut n = Node::new();
    n.set(0, "k", "v", 0);
    assert_eq!(n.read(0, &["object", "idletime", "k"]), int(0));
    n.now += 5_500;
    assert_eq!(n.read(0, &["object", "idletime", "k"]), int(5));
    // Reads do not refresh it.
    assert_eq!(n.read(0, &["exists", "k"]), int(1));
    assert_eq!(n.read(0, &["touch", "k"]), int(1));
    assert_eq!(n.read(0, &["object", "IDLETIME", "k"]), int(5));
    // A write does.
    assert_eq!(n.run(0, &["expire", "k", "100"]), int(1));
    assert_eq!(n.read(0, &["object", "idletime", "k"]), int(0));
    n.now += 2_000;
    assert_eq!(n.read(0, &["object", "idletime", "k"]), int(2));
    assert_eq!(n.read(0, &["object", "idletime", "nokey"]), Frame::Null);

    assert_eq!(
        n.read(0, &["object", "freq", "k"]),
        err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
    assert_eq!(n.read(0, &["object", "freq", "nokey"]), Frame::Null);
    assert_eq!(n.read(0, &["object", "refcount", "k"]), int(1));

    let Frame::Array(help) = n.read(0, &["OBJECT", "HELP"]) else {
        panic!()
    };
    assert_eq!(help.len(), 14);
    assert_eq!(
        help[0],
        simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
    assert_eq!(help[1], simple("ENCODING <key>"));
    assert_eq!(help[12], simple("HELP"));
    assert_eq!(help[13], simple("    Print this help."));

    assert_eq!(
        n.read(0, &["object", "foo", "k"]),
        err("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
    );
    assert_eq!(
        n.read(0, &["object", "Foo"]),
        err("ERR unknown subcommand 'Foo'. Try OBJECT HELP.")
    );
    assert_eq!(
        n.read(0, &["object", "encoding"]),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        n.read(0, &["object", "ENCODING", "k", "extra"]),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        n.read(0, &["object", "help", "x"]),
        err("ERR wrong number of arguments for 'object|help' command")
    );
    assert_eq!(
        n.read(0, &["object"]),
        err("ERR wrong number of arguments for 'object' command")
    );
}

// ---- DBSIZE and databases -----------------------------------------------------------

#[test]
fn dbsize_tracks_every_change() {
    let mut n = Node::new();
    assert_eq!(n.dbsize(0), 0);
    n.set(0, "a", "1", 0);
    n.set(0, "b", "2", 0);
    n.set(0, "c", "3", 0);
    assert_eq!(n.dbsize(0), 3);
    n.set(0, "a", "again", 0);
    assert_eq!(n.dbsize(0), 3, "overwrite");
    assert_eq!(n.run(0, &["del", "a", "zz"]), int(1));
    assert_eq!(n.dbsize(0), 2);
    assert_eq!(n.run(0, &["rename", "b", "b2"]), ok());
    assert_eq!(n.dbsize(0), 2);
    assert_eq!(n.run(0, &["rename", "b2", "c"]), ok());
    assert_eq!(n.dbsize(0), 1);
    assert_eq!(n.run(0, &["copy", "c", "d"]), int(1));
    assert_eq!(n.dbsize(0), 2);
    assert_eq!(n.run(0, &["unlink", "d"]), int(1));
    assert_eq!(n.dbsize(0), 1);

    // An expired key still counts (as in Redis) until it is deleted or overwritten;
    // overwriting it does not count it twice.
    n.set(0, "e", "x", n.now + 10);
    assert_eq!(n.dbsize(0), 2);
    n.now += 10;
    assert_eq!(n.dbsize(0), 2);
    n.set(0, "e", "new", 0);
    assert_eq!(n.dbsize(0), 2);
    n.set(0, "f", "x", n.now + 10);
    n.now += 10;
    assert_eq!(
        n.run(0, &["del", "f"]),
        int(0),
        "expired: not counted as deleted"
    );
    assert_eq!(n.dbsize(0), 2, "but its record is gone");
    n.set(0, "g", "x", n.now + 10);
    n.now += 10;
    assert_eq!(
        n.run(0, &["copy", "c", "g"]),
        int(1),
        "expired destination is free"
    );
    assert_eq!(n.dbsize(0), 3);
    n.set(0, "h", "x", n.now + 10);
    n.now += 10;
    assert_eq!(n.run(0, &["rename", "c", "h"]), ok());
    assert_eq!(n.dbsize(0), 3);
    assert_eq!(sorted(n.read(0, &["keys", "*"])), vec!["e", "g", "h"]);

    n.set(1, "other", "x", 0);
    assert_eq!(n.run(0, &["flushdb"]), ok());
    assert_eq!(n.dbsize(0), 0);
    assert_eq!(n.dbsize(1), 1);
    assert_eq!(sorted(n.read(0, &["keys", "*"])), Vec::<String>::new());
    n.set(0, "after", "x", 0);
    assert_eq!(n.dbsize(0), 1);
}

#[test]
fn databases_are_isolated() {
    let mut n = Node::new();
    n.set(0, "k", "zero", 0);
    n.set(5, "k", "five", T0 + 1_000);
    assert_eq!(n.read(1, &["exists", "k"]), int(0));
    assert_eq!(n.read(1, &["type", "k"]), simple("none"));
    assert_eq!(n.read(0, &["ttl", "k"]), int(-1));
    assert_eq!(n.read(5, &["ttl", "k"]), int(1));
    assert_eq!(n.run(1, &["del", "k"]), int(0));
    assert_eq!(n.run(1, &["rename", "k", "x"]), err("ERR no such key"));
    assert_eq!(n.run(5, &["rename", "k", "r"]), ok());
    assert_eq!(n.get(0, "k").as_deref(), Some("zero"));
    assert_eq!(n.get(5, "r").as_deref(), Some("five"));
    assert_eq!(sorted(n.read(5, &["keys", "*"])), vec!["r"]);
    assert_eq!(sorted(n.read(0, &["keys", "*"])), vec!["k"]);
    assert_eq!(n.read(2, &["randomkey"]), Frame::Null);
    assert_eq!(n.read(5, &["randomkey"]), bulk("r"));
    assert_eq!(n.run(0, &["persist", "k"]), int(0));
    assert_eq!(n.run(0, &["del", "k"]), int(1));
    assert_eq!(n.get(5, "r").as_deref(), Some("five"));
    assert_eq!((n.dbsize(0), n.dbsize(5)), (0, 1));
}

#[test]
fn command_table_entries() {
    let names = [
        "copy",
        "del",
        "exists",
        "expire",
        "expireat",
        "expiretime",
        "keys",
        "object",
        "persist",
        "pexpire",
        "pexpireat",
        "pexpiretime",
        "pttl",
        "randomkey",
        "rename",
        "renamenx",
        "scan",
        "touch",
        "ttl",
        "type",
        "unlink",
    ];
    for name in names {
        let c = lookup(name.as_bytes()).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(c.group, "generic");
        assert!(
            c.acl_categories().contains(&"@keyspace".to_string()),
            "{name}"
        );
    }
    let c = lookup(b"COPY").unwrap();
    assert_eq!((c.arity, c.is_write()), (-3, true));
    assert_eq!(c.acl_categories(), vec!["@keyspace", "@write", "@slow"]);
    assert_eq!(
        c.key_positions(&argv(&["copy", "a", "b", "db", "1"])),
        vec![1, 2]
    );
    let c = lookup(b"del").unwrap();
    assert_eq!(
        c.key_positions(&argv(&["del", "a", "b", "c"])),
        vec![1, 2, 3]
    );
    let c = lookup(b"ttl").unwrap();
    assert_eq!(c.acl_categories(), vec!["@keyspace", "@read", "@fast"]);
    let c = lookup(b"object").unwrap();
    assert_eq!(
        c.key_positions(&argv(&["object", "encoding", "k"])),
        vec![2]
    );
    assert!(c.key_positions(&argv(&["object", "help"])).is_empty());
    assert!(!c.is_write());
    let c = lookup(b"keys").unwrap();
    assert!(c.acl_categories().contains(&"@dangerous".to_string()));
    assert!(lookup(b"scan")
        .unwrap()
        .key_positions(&argv(&["scan", "0"]))
        .is_empty());
    assert_eq!(lookup(b"expiretime").unwrap().since, "7.0.0");
}
