//! The data size accounting (`engine::quota`), the capacity quota and the record limit:
//! after every entry the accounted sizes equal a full recount of the records.

use engine::quota::{self, recount, QUOTA_ERROR, RECORD_ERROR};
use engine::{Frame, MemStore, Rng, Txn};
use keys::{Cf, Kind, Meta};

struct Db {
    store: MemStore,
    index: u64,
    now: u64,
}

fn argv(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

impl Db {
    fn new() -> Db {
        Db {
            store: MemStore::default(),
            index: 0,
            now: 1_700_000_000_000,
        }
    }

    /// One entry running `cmds` (db, argv), each op guarded as the state machine does.
    fn entry(&mut self, cmds: &[(u8, Vec<Vec<u8>>)]) -> Vec<Frame> {
        self.index += 1;
        let mut t = Txn::new(&self.store, self.index, self.now, self.index * 7);
        let replies = cmds
            .iter()
            .map(|(db, a)| t.guarded(|t| t.run(*db, a)))
            .collect();
        assert!(t.storage_failure().is_none());
        let e = finish(t);
        self.store.apply(&e);
        replies
    }

    fn run(&mut self, parts: &[&str]) -> Frame {
        self.entry(&[(0, argv(parts))]).remove(0)
    }

    fn accounted(&self) -> [u64; keys::DATABASES] {
        quota::stored_sizes(&self.store)
            .unwrap()
            .unwrap_or([0; keys::DATABASES])
    }

    fn used(&self) -> u64 {
        self.accounted().iter().sum()
    }

    /// The accounted sizes equal a recount, and every meta record's data size its
    /// element records.
    fn check(&self, what: &str) {
        let r = recount(&self.store).unwrap();
        assert_eq!(self.accounted(), r.sizes, "after {what}");
        assert!(r.wrong_keys.is_empty(), "after {what}: {:?}", r.wrong_keys);
    }

    fn set_config(&mut self, name: &str, value: &str) {
        self.index += 1;
        let mut t = Txn::new(&self.store, self.index, self.now, 1);
        engine::settings::apply_config_set(&mut t, &[(name.into(), value.as_bytes().to_vec())])
            .unwrap();
        let e = finish(t);
        self.store.apply(&e);
    }
}

/// Writes a transaction's effects and its data size record, as the state machine does.
fn finish(t: Txn) -> engine::Effects {
    let sizes = t.data_size_record();
    let mut e = t.into_effects();
    if let Some(raw) = sizes {
        e.writes.push(engine::Write::Put(
            Cf::Sm,
            quota::DATASIZE_KEY.to_vec(),
            raw,
        ));
    }
    e
}

const SCRIPTED: &[&[&str]] = &[
    &["SET", "s", "hello"],
    &["SET", "s", "a much longer value than before"],
    &["APPEND", "s", "++"],
    &["SETRANGE", "s", "40", "x"],
    &["INCR", "n"],
    &["INCRBY", "n", "123456789"],
    &["HSET", "h", "a", "1", "b", "2", "c", "3"],
    &["HSET", "h", "a", "a longer value"],
    &["HDEL", "h", "b"],
    &["HINCRBY", "h", "n", "5"],
    &["SADD", "st", "x", "y", "z", "w"],
    &["SREM", "st", "y"],
    &["SPOP", "st"],
    &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    &["ZADD", "z", "10", "a"],
    &["ZINCRBY", "z", "2", "b"],
    &["ZREM", "z", "c"],
    &["RPUSH", "l", "1", "2", "3", "4", "5", "6", "7", "8"],
    &["LPUSH", "l", "0"],
    &["LSET", "l", "2", "a longer element"],
    &["LINSERT", "l", "BEFORE", "5", "ins"],
    &["LREM", "l", "1", "3"],
    &["LPOP", "l"],
    &["RPOP", "l", "2"],
    &["LTRIM", "l", "1", "-2"],
    &["RPOPLPUSH", "l", "l2"],
    &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
    &["XADD", "x", "1-1", "f", "v"],
    &["XADD", "x", "2-1", "f", "v2", "g", "w"],
    &["XGROUP", "CREATE", "x", "g", "0"],
    &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "x", ">"],
    &["XACK", "x", "g", "1-1"],
    &["XDEL", "x", "2-1"],
    &["XTRIM", "x", "MAXLEN", "0"],
    &["PFADD", "hll", "a", "b", "c"],
    &["JSON.SET", "j", "$", r#"{"a":[1,2,3],"b":"x"}"#],
    &["JSON.ARRAPPEND", "j", "$.a", "4"],
    &["COPY", "h", "h2"],
    &["RENAME", "h2", "h3"],
    &["SUNIONSTORE", "su", "st", "st"],
    &["ZUNIONSTORE", "zu", "1", "z"],
    &["SORT", "l2", "ALPHA", "STORE", "sorted"],
    &["SET", "h3", "overwrites a hash"],
    &["EXPIRE", "z", "100"],
    &["PERSIST", "z"],
    &["DEL", "st", "l", "x"],
    &["MOVE", "su", "3"],
    &["SWAPDB", "0", "3"],
    &["SWAPDB", "0", "3"],
    &["FLUSHDB"],
];

#[test]
fn the_accounted_size_equals_a_recount_after_every_command() {
    let mut db = Db::new();
    for cmd in SCRIPTED {
        let reply = db.run(cmd);
        assert!(!matches!(reply, Frame::Error(_)), "{cmd:?}: {reply:?}");
        db.check(&cmd.join(" "));
    }
    assert_eq!(db.accounted()[0], 0, "FLUSHDB empties db 0");
    assert!(db.accounted()[3] > 0, "MOVE put a key in db 3");
    db.run(&["FLUSHALL"]);
    db.check("FLUSHALL");
    assert_eq!(db.used(), 0);
}

#[test]
fn a_seeded_random_run_stays_exact_across_multi_command_entries() {
    let mut db = Db::new();
    let mut rng = Rng::new(99);
    let keys = ["a", "b", "c", "d", "e"];
    for step in 0..1500 {
        let mut cmds = Vec::new();
        for _ in 0..1 + rng.next_u64() % 4 {
            let k = keys[(rng.next_u64() % keys.len() as u64) as usize];
            let v = "v".repeat((rng.next_u64() % 40) as usize + 1);
            let f = format!("f{}", rng.next_u64() % 6);
            let n = (rng.next_u64() % 5).to_string();
            let parts: Vec<String> = match rng.next_u64() % 16 {
                0 => vec!["SET".into(), k.into(), v],
                1 => vec!["APPEND".into(), k.into(), v],
                2 => vec!["HSET".into(), k.into(), f, v],
                3 => vec!["HDEL".into(), k.into(), f],
                4 => vec!["SADD".into(), k.into(), v],
                5 => vec!["SREM".into(), k.into(), v],
                6 => vec!["ZADD".into(), k.into(), n, f],
                7 => vec!["RPUSH".into(), k.into(), v.clone(), v],
                8 => vec!["LPOP".into(), k.into()],
                9 => vec!["LTRIM".into(), k.into(), "0".into(), n],
                10 => vec!["DEL".into(), k.into()],
                11 => vec!["XADD".into(), k.into(), "*".into(), f, v],
                12 => vec!["PEXPIRE".into(), k.into(), n],
                13 => vec!["RENAME".into(), k.into(), keys[0].into()],
                14 => vec![
                    "SUNIONSTORE".into(),
                    k.into(),
                    keys[1].into(),
                    keys[2].into(),
                ],
                _ => vec!["LSET".into(), k.into(), "0".into(), v],
            };
            cmds.push((0u8, parts.into_iter().map(String::into_bytes).collect()));
        }
        db.now += 1 + rng.next_u64() % 3;
        db.entry(&cmds);
        // The expirer's op deletes what came due.
        if step % 10 == 0 {
            let due: Vec<(u64, Vec<u8>)> = {
                let mut v = Vec::new();
                for (cf, k) in db.store.map.keys() {
                    if *cf == Cf::Expire {
                        if let Some((at, 0, key)) = keys::decode_expire_key(k) {
                            v.push((at, key.to_vec()));
                        }
                    }
                }
                v
            };
            db.index += 1;
            let mut t = Txn::new(&db.store, db.index, db.now, 1);
            t.expire_if_due(0, &due).unwrap();
            let e = finish(t);
            db.store.apply(&e);
        }
        db.check(&format!("step {step}: {cmds:?}"));
    }
}

#[test]
fn old_format_records_are_recounted_and_sized_when_they_change() {
    let mut db = Db::new();
    // A hash and a string written before the accounting (format 1, no datasize record).
    let old = |m: &Meta| {
        // Format 1: the format 3 record without its data size and stamp words (42..66).
        let mut raw = m.encode();
        raw.drain(42..66);
        raw[0] = 1;
        raw
    };
    let hash = Meta {
        kind: Kind::Hash,
        expire_at_ms: 0,
        version: 5 << 16,
        write_index: 5,
        mtime_ms: 1,
        stamp: keys::hlc::Stamp::ZERO,
        len: 2,
        inline: vec![],
    };
    assert_eq!(old(&hash).len(), 42);
    db.store
        .map
        .insert((Cf::Meta, keys::meta_key(0, b"h")), old(&hash));
    for (f, v) in [("a", "1"), ("b", "22")] {
        db.store.map.insert(
            (Cf::Data, keys::data_key(0, b"h", 5 << 16, f.as_bytes())),
            v.as_bytes().to_vec(),
        );
    }
    let string = Meta {
        kind: Kind::String,
        expire_at_ms: 0,
        version: 6 << 16,
        write_index: 6,
        mtime_ms: 1,
        stamp: keys::hlc::Stamp::ZERO,
        len: 0,
        inline: b"value".to_vec(),
    };
    db.store
        .map
        .insert((Cf::Meta, keys::meta_key(0, b"s")), old(&string));
    db.index = 10;
    let e = quota::missing_sizes(&db.store).unwrap().expect("a recount");
    db.store.apply(&e);
    let r = recount(&db.store).unwrap();
    assert_eq!(db.accounted(), r.sizes);
    assert_eq!(r.wrong_keys.len(), 2, "format 1 records carry no data size");
    assert_eq!(quota::missing_sizes(&db.store).unwrap(), None);
    db.run(&["HSET", "h", "c", "333"]);
    db.run(&["APPEND", "s", "more"]);
    db.check("rewriting both");
}

#[test]
fn writes_past_the_quota_fail_whole_and_shrinking_writes_pass() {
    let mut db = Db::new();
    db.run(&["SET", "a", &"x".repeat(1000)]);
    db.run(&["RPUSH", "l", "1", "2", "3"]);
    let used = db.used();
    db.set_config("maxmemory", &(used + 300).to_string());
    // Growing within the quota works.
    assert_eq!(db.run(&["SET", "b", "small"]), Frame::ok());
    let before = db.store.map.clone();
    let big = "y".repeat(400);
    assert_eq!(
        db.run(&["SET", "c", &big]),
        Frame::Error(QUOTA_ERROR.into())
    );
    assert_eq!(
        db.run(&["APPEND", "a", &big]),
        Frame::Error(QUOTA_ERROR.into())
    );
    assert_eq!(
        db.run(&["RPUSH", "l", &big]),
        Frame::Error(QUOTA_ERROR.into())
    );
    // A script and a multi-command op: nothing half applied.
    let script = "redis.call('SET', 'p', 'q') redis.call('SET', KEYS[1], ARGV[1]) return 1";
    assert_eq!(
        db.run(&["EVAL", script, "1", "c", &big]),
        Frame::Error(QUOTA_ERROR.into())
    );
    assert_eq!(db.store.map, before, "refused writes changed nothing");
    // In one entry, the refused op is undone and the others apply.
    let replies = db.entry(&[
        (0, argv(&["SET", "c", &big])),
        (0, argv(&["SET", "d", "1"])),
    ]);
    assert_eq!(replies[0], Frame::Error(QUOTA_ERROR.into()));
    assert_eq!(replies[1], Frame::ok());
    db.check("refusals");
    // Reads, deletes and shrinking writes keep working past the quota.
    db.set_config("maxmemory", "1");
    assert_eq!(db.run(&["GET", "b"]), Frame::Bulk(b"small".to_vec()));
    assert_eq!(db.run(&["SET", "a", "short"]), Frame::ok());
    assert_eq!(db.run(&["LPOP", "l"]), Frame::Bulk(b"1".to_vec()));
    assert_eq!(db.run(&["DEL", "b"]), Frame::Integer(1));
    assert_eq!(db.run(&["SET", "e", "1"]), Frame::Error(QUOTA_ERROR.into()));
    // With eviction on, writes are never refused (the leader's evictor trims).
    db.set_config("maxmemory-policy", "allkeys-random");
    assert_eq!(db.run(&["SET", "e", "1"]), Frame::ok());
    db.set_config("maxmemory", "0");
    db.set_config("maxmemory-policy", "noeviction");
    assert_eq!(db.run(&["SET", "c", &big]), Frame::ok());
    db.check("the end");
}

#[test]
fn a_key_may_not_grow_past_the_record_limit() {
    let mut db = Db::new();
    let chunk = "z".repeat((10 << 20) - 1000);
    let mut refused = 0;
    for _ in 0..11 {
        match db.run(&["APPEND", "big", &chunk]) {
            Frame::Integer(_) => {}
            Frame::Error(e) => {
                assert_eq!(e, RECORD_ERROR);
                refused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 1, "the 11th 10 MB append crosses 100 MB");
    assert_eq!(
        db.run(&["STRLEN", "big"]),
        Frame::Integer(10 * ((10 << 20) - 1000)),
        "the refused append left the value as it was"
    );
    // Writes that do not grow it are allowed.
    assert_eq!(
        db.run(&["SETRANGE", "big", "0", "a"]),
        Frame::Integer(10 * ((10 << 20) - 1000))
    );
    db.check("record limit");
}

#[test]
fn an_evict_op_deletes_the_keys_that_still_exist() {
    let mut db = Db::new();
    db.run(&["SET", "a", "1"]);
    db.run(&["HSET", "h", "f", "v"]);
    db.index += 1;
    let mut t = Txn::new(&db.store, db.index, db.now, 1);
    let n = t
        .evict(0, &[b"a".to_vec(), b"gone".to_vec(), b"h".to_vec()])
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(t.evicted(), 2);
    let e = finish(t);
    db.store.apply(&e);
    assert_eq!(db.run(&["DBSIZE"]), Frame::Integer(0));
    db.check("eviction");
    assert_eq!(db.used(), 0);
}
