//! Stream commands checked against Redis 7.2's documented behaviour (redis.io examples,
//! error texts), consumer-group flows, Upstash's PEL limit, BTreeMap models of a
//! stream and of a consumer group, and the storage contract (a handful of records per
//! XADD/XACK/XREADGROUP, whatever the stream's size).

use engine::{Frame, Write};
use proptest::prelude::*;
use std::collections::BTreeMap;

mod common;
use common::*;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const BAD_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const SMALLER: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

impl Db {
    fn writes(&self) -> usize {
        self.last.writes.len()
    }

    /// XADD of `n` entries with explicit IDs `ms-0 .. ms-(n-1)`, in chunks of one entry
    /// per command (so each is its own entry, like clients do).
    fn fill(&mut self, key: &str, ms: u64, n: u64) {
        for i in 0..n {
            let id = format!("{ms}-{i}");
            let r = self.run(&["XADD", key, &id, "i", &i.to_string()]);
            assert_eq!(r, bulk(&id));
        }
    }

    fn xlen(&mut self, key: &str) -> i64 {
        match self.run(&["XLEN", key]) {
            Frame::Integer(n) => n,
            other => panic!("{other:?}"),
        }
    }
}

fn entry(id: &str, fields: &[&str]) -> Frame {
    Frame::Array(vec![bulk(id), arr(fields)])
}

fn entries(v: &[(&str, &[&str])]) -> Frame {
    Frame::Array(v.iter().map(|(id, f)| entry(id, f)).collect())
}

fn list(v: Vec<Frame>) -> Frame {
    Frame::Array(v)
}

fn map(v: Vec<(&str, Frame)>) -> Frame {
    Frame::Map(v.into_iter().map(|(k, x)| (bulk(k), x)).collect())
}

/// One stream of an XREAD/XREADGROUP reply.
fn stream_reply(key: &str, items: Frame) -> Frame {
    Frame::Array(vec![bulk(key), items])
}

fn id_of(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) => String::from_utf8(b.clone()).unwrap(),
        other => panic!("not an id: {other:?}"),
    }
}

/// The value of `field` in a Map reply.
fn field<'a>(f: &'a Frame, name: &str) -> &'a Frame {
    match f {
        Frame::Map(m) => &m.iter().find(|(k, _)| *k == bulk(name)).unwrap().1,
        other => panic!("not a map: {other:?}"),
    }
}

// ---- redis.io examples ----------------------------------------------------------------

#[test]
fn xadd_example() {
    let mut db = Db::new();
    let t = T0.to_string();
    assert_eq!(
        db.run(&["XADD", "mystream", "*", "name", "Sara", "surname", "OConnor"]),
        bulk(&format!("{t}-0"))
    );
    assert_eq!(
        db.run(&[
            "XADD", "mystream", "*", "field1", "value1", "field2", "value2", "field3", "value3"
        ]),
        bulk(&format!("{t}-1"))
    );
    assert_eq!(db.run(&["XLEN", "mystream"]), int(2));
    assert_eq!(
        db.run(&["XRANGE", "mystream", "-", "+"]),
        entries(&[
            (&format!("{t}-0"), &["name", "Sara", "surname", "OConnor"]),
            (
                &format!("{t}-1"),
                &["field1", "value1", "field2", "value2", "field3", "value3"]
            ),
        ])
    );
    assert_eq!(
        db.run(&["TYPE", "mystream"]),
        Frame::Simple("stream".into())
    );
}

#[test]
fn xrange_and_xrevrange_examples() {
    let mut db = Db::new();
    let writers = [
        ("Virginia", "Woolf"),
        ("Jane", "Austen"),
        ("Toni", "Morrison"),
        ("Agatha", "Christie"),
        ("Ngozi", "Adichie"),
    ];
    let mut ids = Vec::new();
    for (n, s) in writers {
        db.now += 1;
        ids.push(id_of(
            &db.run(&["XADD", "writers", "*", "name", n, "surname", s]),
        ));
    }
    assert_eq!(db.run(&["XLEN", "writers"]), int(5));
    assert_eq!(
        db.run(&["XRANGE", "writers", "-", "+", "COUNT", "2"]),
        entries(&[
            (&ids[0], &["name", "Virginia", "surname", "Woolf"]),
            (&ids[1], &["name", "Jane", "surname", "Austen"]),
        ])
    );
    assert_eq!(
        db.run(&["XREVRANGE", "writers", "+", "-", "COUNT", "1"]),
        entries(&[(&ids[4], &["name", "Ngozi", "surname", "Adichie"])])
    );
    // Iterating with an exclusive start.
    let next = format!("({}", ids[1]);
    assert_eq!(
        db.run(&["XRANGE", "writers", &next, "+", "COUNT", "2"]),
        entries(&[
            (&ids[2], &["name", "Toni", "surname", "Morrison"]),
            (&ids[3], &["name", "Agatha", "surname", "Christie"]),
        ])
    );
    // Reverse iteration with an exclusive end.
    let before = format!("({}", ids[2]);
    assert_eq!(
        db.run(&["XREVRANGE", "writers", &before, "-"]),
        entries(&[
            (&ids[1], &["name", "Jane", "surname", "Austen"]),
            (&ids[0], &["name", "Virginia", "surname", "Woolf"]),
        ])
    );
}

#[test]
fn xdel_example() {
    let mut db = Db::new();
    db.run(&["XADD", "mystream", "1538561698944-0", "a", "1"]);
    db.run(&["XADD", "mystream", "1538561700640-0", "b", "2"]);
    db.run(&["XADD", "mystream", "1538561700641-0", "c", "3"]);
    assert_eq!(db.run(&["XDEL", "mystream", "1538561700640-0"]), int(1));
    assert_eq!(
        db.run(&["XRANGE", "mystream", "-", "+"]),
        entries(&[
            ("1538561698944-0", &["a", "1"]),
            ("1538561700641-0", &["c", "3"]),
        ])
    );
    assert_eq!(
        db.run(&["XDEL", "mystream", "1538561700640-0", "1-1"]),
        int(0)
    );
    assert_eq!(db.run(&["XDEL", "nokey", "1-1"]), int(0));
}

#[test]
fn xtrim_example() {
    let mut db = Db::new();
    db.run(&[
        "XADD", "mystream", "*", "field1", "A", "field2", "B", "field3", "C", "field4", "D",
    ]);
    assert_eq!(db.run(&["XTRIM", "mystream", "MAXLEN", "2"]), int(0));
    let all = db.run(&["XRANGE", "mystream", "-", "+"]);
    assert_eq!(
        all,
        entries(&[(
            &format!("{T0}-0"),
            &["field1", "A", "field2", "B", "field3", "C", "field4", "D"]
        )])
    );
    assert_eq!(db.run(&["XTRIM", "nokey", "MAXLEN", "2"]), int(0));
}

#[test]
fn xread_example() {
    let mut db = Db::new();
    db.run(&[
        "XADD",
        "mystream",
        "1526984818136-0",
        "duration",
        "1532",
        "event-id",
        "5",
        "user-id",
        "7782813",
    ]);
    db.run(&[
        "XADD",
        "mystream",
        "1526999352406-0",
        "duration",
        "812",
        "event-id",
        "9",
        "user-id",
        "388234",
    ]);
    db.run(&[
        "XADD",
        "writers",
        "1526985676425-0",
        "name",
        "Virginia",
        "surname",
        "Woolf",
    ]);
    db.run(&[
        "XADD",
        "writers",
        "1526985685298-0",
        "name",
        "Jane",
        "surname",
        "Austen",
    ]);
    assert_eq!(
        db.run(&["XREAD", "COUNT", "2", "STREAMS", "mystream", "writers", "0-0", "0-0"]),
        list(vec![
            stream_reply(
                "mystream",
                entries(&[
                    (
                        "1526984818136-0",
                        &["duration", "1532", "event-id", "5", "user-id", "7782813"]
                    ),
                    (
                        "1526999352406-0",
                        &["duration", "812", "event-id", "9", "user-id", "388234"]
                    ),
                ])
            ),
            stream_reply(
                "writers",
                entries(&[
                    ("1526985676425-0", &["name", "Virginia", "surname", "Woolf"]),
                    ("1526985685298-0", &["name", "Jane", "surname", "Austen"]),
                ])
            ),
        ])
    );
    // Incomplete IDs: the sequence defaults to 0, and only greater IDs are returned.
    assert_eq!(
        db.run(&["XREAD", "STREAMS", "mystream", "1526984818136"]),
        list(vec![stream_reply(
            "mystream",
            entries(&[(
                "1526999352406-0",
                &["duration", "812", "event-id", "9", "user-id", "388234"]
            )])
        )])
    );
    // Nothing newer: a null array, with or without BLOCK (the server does the waiting).
    assert_eq!(
        db.run(&["XREAD", "STREAMS", "mystream", "writers", "$", "$"]),
        Frame::NullArray
    );
    assert_eq!(
        db.run(&["XREAD", "BLOCK", "100", "STREAMS", "mystream", "$"]),
        Frame::NullArray
    );
    assert_eq!(
        db.run(&["XREAD", "BLOCK", "0", "STREAMS", "nokey", "0"]),
        Frame::NullArray
    );
    // `+` (Redis 7.4): the last entry.
    assert_eq!(
        db.run(&["XREAD", "STREAMS", "mystream", "writers", "+", "+"]),
        list(vec![
            stream_reply(
                "mystream",
                entries(&[(
                    "1526999352406-0",
                    &["duration", "812", "event-id", "9", "user-id", "388234"]
                )])
            ),
            stream_reply(
                "writers",
                entries(&[("1526985685298-0", &["name", "Jane", "surname", "Austen"])])
            ),
        ])
    );
}

#[test]
fn consumer_group_examples() {
    let mut db = Db::new();
    // XGROUP CREATE
    assert_eq!(
        db.run(&["XGROUP", "CREATE", "mystream", "mygroup", "$"]),
        err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
    );
    assert_eq!(
        db.run(&["XGROUP", "CREATE", "mystream", "mygroup", "$", "MKSTREAM"]),
        Frame::ok()
    );
    assert_eq!(db.run(&["EXISTS", "mystream"]), int(1));
    assert_eq!(db.run(&["XLEN", "mystream"]), int(0));
    assert_eq!(
        db.run(&["XGROUP", "CREATE", "mystream", "mygroup", "0"]),
        err("BUSYGROUP Consumer Group name already exists")
    );
    db.run(&["XADD", "mystream", "1526569495631-0", "message", "apple"]);
    db.run(&["XADD", "mystream", "1526569498055-0", "message", "orange"]);
    db.run(&[
        "XADD",
        "mystream",
        "1526569506935-0",
        "message",
        "strawberry",
    ]);
    db.run(&[
        "XADD",
        "mystream",
        "1526569544280-0",
        "message",
        "appletree",
    ]);
    // XREADGROUP: the group was created at `$` (empty stream), so it sees all four.
    assert_eq!(
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "mygroup",
            "Alice",
            "COUNT",
            "1",
            "STREAMS",
            "mystream",
            ">"
        ]),
        list(vec![stream_reply(
            "mystream",
            entries(&[("1526569495631-0", &["message", "apple"])])
        )])
    );
    // Alice's history.
    assert_eq!(
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "mygroup",
            "Alice",
            "STREAMS",
            "mystream",
            "0"
        ]),
        list(vec![stream_reply(
            "mystream",
            entries(&[("1526569495631-0", &["message", "apple"])])
        )])
    );
    // XACK, then the history is empty (but the stream is still listed).
    assert_eq!(
        db.run(&["XACK", "mystream", "mygroup", "1526569495631-0"]),
        int(1)
    );
    assert_eq!(
        db.run(&["XACK", "mystream", "mygroup", "1526569495631-0"]),
        int(0)
    );
    assert_eq!(
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "mygroup",
            "Alice",
            "STREAMS",
            "mystream",
            "0"
        ]),
        list(vec![stream_reply("mystream", list(vec![]))])
    );
    // Bob reads two.
    assert_eq!(
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "mygroup",
            "Bob",
            "COUNT",
            "2",
            "STREAMS",
            "mystream",
            ">"
        ]),
        list(vec![stream_reply(
            "mystream",
            entries(&[
                ("1526569498055-0", &["message", "orange"]),
                ("1526569506935-0", &["message", "strawberry"]),
            ])
        )])
    );
    // XPENDING summary and extended form.
    assert_eq!(
        db.run(&["XPENDING", "mystream", "mygroup"]),
        list(vec![
            int(2),
            bulk("1526569498055-0"),
            bulk("1526569506935-0"),
            list(vec![arr(&["Bob", "2"])]),
        ])
    );
    db.now += 1000;
    assert_eq!(
        db.run(&["XPENDING", "mystream", "mygroup", "-", "+", "10", "Bob"]),
        list(vec![
            list(vec![
                bulk("1526569498055-0"),
                bulk("Bob"),
                int(1000),
                int(1)
            ]),
            list(vec![
                bulk("1526569506935-0"),
                bulk("Bob"),
                int(1000),
                int(1)
            ]),
        ])
    );
    assert_eq!(
        db.run(&["XPENDING", "mystream", "mygroup", "-", "+", "10", "Alice"]),
        list(vec![])
    );
    assert_eq!(
        db.run(&["XPENDING", "mystream", "mygroup", "-", "+", "10", "nobody"]),
        list(vec![])
    );
    // XCLAIM: Alice takes the orange once it has been idle an hour.
    assert_eq!(
        db.run(&[
            "XCLAIM",
            "mystream",
            "mygroup",
            "Alice",
            "3600000",
            "1526569498055-0"
        ]),
        list(vec![])
    );
    db.now += 3_600_000;
    assert_eq!(
        db.run(&[
            "XCLAIM",
            "mystream",
            "mygroup",
            "Alice",
            "3600000",
            "1526569498055-0"
        ]),
        entries(&[("1526569498055-0", &["message", "orange"])])
    );
    assert_eq!(
        db.run(&["XPENDING", "mystream", "mygroup", "-", "+", "10"]),
        list(vec![
            list(vec![bulk("1526569498055-0"), bulk("Alice"), int(0), int(2)]),
            list(vec![
                bulk("1526569506935-0"),
                bulk("Bob"),
                int(3_601_000),
                int(1)
            ]),
        ])
    );
    // XAUTOCLAIM: Lora takes everything idle for an hour (the strawberry).
    assert_eq!(
        db.run(&[
            "XAUTOCLAIM",
            "mystream",
            "mygroup",
            "Lora",
            "3600000",
            "0-0",
            "COUNT",
            "25"
        ]),
        list(vec![
            bulk("0-0"),
            entries(&[("1526569506935-0", &["message", "strawberry"])]),
            list(vec![]),
        ])
    );
    // XINFO GROUPS and CONSUMERS.
    assert_eq!(
        db.run(&["XINFO", "GROUPS", "mystream"]),
        list(vec![map(vec![
            ("name", bulk("mygroup")),
            ("consumers", int(3)),
            ("pending", int(2)),
            ("last-delivered-id", bulk("1526569506935-0")),
            ("entries-read", int(3)),
            ("lag", int(1)),
        ])])
    );
    let consumers = db.run(&["XINFO", "CONSUMERS", "mystream", "mygroup"]);
    let Frame::Array(cs) = &consumers else {
        panic!("{consumers:?}")
    };
    let names: Vec<&Frame> = cs.iter().map(|c| field(c, "name")).collect();
    assert_eq!(names, vec![&bulk("Alice"), &bulk("Bob"), &bulk("Lora")]);
    let pending: Vec<&Frame> = cs.iter().map(|c| field(c, "pending")).collect();
    assert_eq!(pending, vec![&int(1), &int(0), &int(1)]);
    db.now += 5;
    let cs = db.run(&["XINFO", "CONSUMERS", "mystream", "mygroup"]);
    let Frame::Array(cs) = &cs else { panic!() };
    // Bob was last seen (and active) when he read, an hour ago.
    assert_eq!(field(&cs[1], "idle"), &int(3_601_005));
    assert_eq!(field(&cs[1], "inactive"), &int(3_601_005));
    assert_eq!(field(&cs[2], "idle"), &int(5));
    // XGROUP DELCONSUMER returns the pending count; DESTROY returns 1 then 0.
    assert_eq!(
        db.run(&["XGROUP", "DELCONSUMER", "mystream", "mygroup", "Alice"]),
        int(1)
    );
    assert_eq!(
        db.run(&["XGROUP", "DELCONSUMER", "mystream", "mygroup", "Alice"]),
        int(0)
    );
    assert_eq!(
        db.run(&["XPENDING", "mystream", "mygroup"]),
        list(vec![
            int(1),
            bulk("1526569506935-0"),
            bulk("1526569506935-0"),
            list(vec![arr(&["Lora", "1"])]),
        ])
    );
    assert_eq!(
        db.run(&["XGROUP", "CREATECONSUMER", "mystream", "mygroup", "Zed"]),
        int(1)
    );
    assert_eq!(
        db.run(&["XGROUP", "CREATECONSUMER", "mystream", "mygroup", "Zed"]),
        int(0)
    );
    assert_eq!(
        db.run(&["XGROUP", "DESTROY", "mystream", "mygroup"]),
        int(1)
    );
    assert_eq!(
        db.run(&["XGROUP", "DESTROY", "mystream", "mygroup"]),
        int(0)
    );
    assert_eq!(db.run(&["XINFO", "GROUPS", "mystream"]), list(vec![]));
    assert_eq!(
        db.run(&["XPENDING", "mystream", "mygroup"]),
        err("NOGROUP No such key 'mystream' or consumer group 'mygroup'")
    );
    // A group re-created with the same name starts empty.
    assert_eq!(
        db.run(&["XGROUP", "CREATE", "mystream", "mygroup", "0"]),
        Frame::ok()
    );
    assert_eq!(
        db.run(&["XPENDING", "mystream", "mygroup"]),
        list(vec![int(0), Frame::Null, Frame::Null, Frame::NullArray])
    );
    assert_eq!(
        db.run(&["XINFO", "CONSUMERS", "mystream", "mygroup"]),
        list(vec![])
    );
}

#[test]
fn xinfo_stream_shapes() {
    let mut db = Db::new();
    db.run(&["XADD", "mystream", "1638125133432-0", "message", "apple"]);
    db.run(&["XADD", "mystream", "1638125141232-0", "message", "banana"]);
    assert_eq!(
        db.run(&["XINFO", "STREAM", "mystream"]),
        map(vec![
            ("length", int(2)),
            ("radix-tree-keys", int(1)),
            ("radix-tree-nodes", int(2)),
            ("last-generated-id", bulk("1638125141232-0")),
            ("max-deleted-entry-id", bulk("0-0")),
            ("entries-added", int(2)),
            ("recorded-first-entry-id", bulk("1638125133432-0")),
            ("groups", int(0)),
            (
                "first-entry",
                entry("1638125133432-0", &["message", "apple"])
            ),
            (
                "last-entry",
                entry("1638125141232-0", &["message", "banana"])
            ),
        ])
    );
    db.run(&["XGROUP", "CREATE", "mystream", "mygroup", "0-0"]);
    db.run(&[
        "XREADGROUP",
        "GROUP",
        "mygroup",
        "Alice",
        "COUNT",
        "1",
        "STREAMS",
        "mystream",
        ">",
    ]);
    let t = db.now as i64;
    assert_eq!(
        db.run(&["XINFO", "STREAM", "mystream", "FULL"]),
        map(vec![
            ("length", int(2)),
            ("radix-tree-keys", int(1)),
            ("radix-tree-nodes", int(2)),
            ("last-generated-id", bulk("1638125141232-0")),
            ("max-deleted-entry-id", bulk("0-0")),
            ("entries-added", int(2)),
            ("recorded-first-entry-id", bulk("1638125133432-0")),
            (
                "entries",
                entries(&[
                    ("1638125133432-0", &["message", "apple"]),
                    ("1638125141232-0", &["message", "banana"]),
                ])
            ),
            (
                "groups",
                list(vec![map(vec![
                    ("name", bulk("mygroup")),
                    ("last-delivered-id", bulk("1638125133432-0")),
                    ("entries-read", int(1)),
                    ("lag", int(1)),
                    ("pel-count", int(1)),
                    (
                        "pending",
                        list(vec![list(vec![
                            bulk("1638125133432-0"),
                            bulk("Alice"),
                            int(t),
                            int(1)
                        ])])
                    ),
                    (
                        "consumers",
                        list(vec![map(vec![
                            ("name", bulk("Alice")),
                            ("seen-time", int(t)),
                            ("active-time", int(t)),
                            ("pel-count", int(1)),
                            (
                                "pending",
                                list(vec![list(vec![bulk("1638125133432-0"), int(t), int(1)])])
                            ),
                        ])])
                    ),
                ])])
            ),
        ])
    );
    // FULL COUNT limits the entries and the PEL listings; COUNT 0 is everything.
    let f = db.run(&["XINFO", "STREAM", "mystream", "FULL", "COUNT", "1"]);
    assert_eq!(
        field(&f, "entries"),
        &entries(&[("1638125133432-0", &["message", "apple"])])
    );
    let f = db.run(&["XINFO", "STREAM", "mystream", "FULL", "COUNT", "0"]);
    let Frame::Array(e) = field(&f, "entries") else {
        panic!()
    };
    assert_eq!(e.len(), 2);
    assert_eq!(
        db.run(&["XINFO", "STREAM", "mystream", "FULL", "COUNT"]),
        err("ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
    );
    assert_eq!(
        db.run(&["XINFO", "STREAM", "mystream", "PARTIAL"]),
        err("ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
    );
    assert_eq!(
        db.run(&["XINFO", "STREAM", "nokey"]),
        err("ERR no such key")
    );
    // An empty stream: no first/last entry.
    db.run(&["XDEL", "mystream", "1638125133432-0", "1638125141232-0"]);
    let f = db.run(&["XINFO", "STREAM", "mystream"]);
    assert_eq!(field(&f, "length"), &int(0));
    assert_eq!(field(&f, "first-entry"), &Frame::Null);
    assert_eq!(field(&f, "last-entry"), &Frame::Null);
    assert_eq!(field(&f, "max-deleted-entry-id"), &bulk("1638125141232-0"));
    assert_eq!(field(&f, "recorded-first-entry-id"), &bulk("0-0"));
    assert_eq!(field(&f, "groups"), &int(1));
    // HELP
    let Frame::Array(help) = db.run(&["XINFO", "HELP"]) else {
        panic!()
    };
    assert_eq!(
        help[0],
        Frame::Simple("XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into())
    );
    assert_eq!(
        help.last(),
        Some(&Frame::Simple("    Print this help.".into()))
    );
    let Frame::Array(help) = db.run(&["XGROUP", "HELP"]) else {
        panic!()
    };
    assert_eq!(help.len(), 17);
}

// ---- IDs -------------------------------------------------------------------------------

#[test]
fn star_ids_follow_the_entry_time_and_the_last_id() {
    let mut db = Db::new();
    db.now = 5000;
    assert_eq!(db.run(&["XADD", "s", "*", "a", "1"]), bulk("5000-0"));
    assert_eq!(db.run(&["XADD", "s", "*", "a", "1"]), bulk("5000-1"));
    db.now = 5001;
    assert_eq!(db.run(&["XADD", "s", "*", "a", "1"]), bulk("5001-0"));
    // A clock behind the last ID never goes backwards.
    db.now = 4000;
    assert_eq!(db.run(&["XADD", "s", "*", "a", "1"]), bulk("5001-1"));
    // An explicit ID in the future, then `*` keeps increasing from it.
    assert_eq!(db.run(&["XADD", "s", "9000-5", "a", "1"]), bulk("9000-5"));
    assert_eq!(db.run(&["XADD", "s", "*", "a", "1"]), bulk("9000-6"));
    // ms-* : the sequence is generated.
    assert_eq!(db.run(&["XADD", "s", "9000-*", "a", "1"]), bulk("9000-7"));
    assert_eq!(db.run(&["XADD", "s", "9500-*", "a", "1"]), bulk("9500-0"));
    assert_eq!(db.run(&["XADD", "s", "9400-*", "a", "1"]), err(SMALLER));
    assert_eq!(db.run(&["XADD", "s", "9500-0", "a", "1"]), err(SMALLER));
    assert_eq!(db.run(&["XADD", "s", "9500", "a", "1"]), err(SMALLER));
    assert_eq!(db.run(&["XADD", "s", "9501", "a", "1"]), bulk("9501-0"));
    // 0-0 is refused even for a new key; 0-* makes 0-1.
    assert_eq!(
        db.run(&["XADD", "new", "0-0", "a", "1"]),
        err("ERR The ID specified in XADD must be greater than 0-0")
    );
    assert_eq!(db.run(&["EXISTS", "new"]), int(0));
    assert_eq!(db.run(&["XADD", "new", "0-*", "a", "1"]), bulk("0-1"));
    // The end of the ID space.
    let max = "18446744073709551615-18446744073709551615";
    assert_eq!(
        db.run(&["XADD", "top", "18446744073709551615-*", "a", "1"]),
        bulk("18446744073709551615-0")
    );
    assert_eq!(db.run(&["XADD", "top", max, "a", "1"]), bulk(max));
    assert_eq!(
        db.run(&["XADD", "top", "*", "a", "1"]),
        err("ERR The stream has exhausted the last possible ID, unable to add more items")
    );
    let mut db = Db::new();
    db.run(&["XADD", "s2", "7-18446744073709551615", "a", "1"]);
    assert_eq!(db.run(&["XADD", "s2", "7-*", "a", "1"]), err(SMALLER));
    assert_eq!(
        db.run(&["XADD", "s2", "*", "a", "1"]),
        bulk(&format!("{T0}-0"))
    );
}

#[test]
fn ids_parse_like_redis() {
    let mut db = Db::new();
    for bad in [
        "abc",
        "1-x",
        "-1",
        "1-2-3",
        "18446744073709551616",
        "-",
        "+",
        "1-",
    ] {
        assert_eq!(db.run(&["XADD", "s", bad, "a", "1"]), err(BAD_ID), "{bad}");
    }
    // strtoull leniency.
    assert_eq!(db.run(&["XADD", "s", "007-01", "a", "1"]), bulk("7-1"));
    assert_eq!(db.run(&["XADD", "s", "+8", "a", "1"]), bulk("8-0"));
    // Ranges: `(` bounds, incomplete IDs, `-`/`+`.
    db.run(&["XADD", "s", "8-1", "a", "1"]);
    db.run(&["XADD", "s", "9-0", "a", "1"]);
    let ids = |f: Frame| -> Vec<String> {
        let Frame::Array(v) = f else { panic!("{f:?}") };
        v.iter()
            .map(|e| match e {
                Frame::Array(p) => id_of(&p[0]),
                _ => panic!(),
            })
            .collect()
    };
    assert_eq!(ids(db.run(&["XRANGE", "s", "8", "8"])), vec!["8-0", "8-1"]);
    assert_eq!(
        ids(db.run(&["XRANGE", "s", "(8-0", "+"])),
        vec!["8-1", "9-0"]
    );
    assert_eq!(
        ids(db.run(&["XRANGE", "s", "-", "(9-0"])),
        vec!["7-1", "8-0", "8-1"]
    );
    // An incomplete end ID means seq = max before the exclusive step: (9 keeps 9-0.
    assert_eq!(
        ids(db.run(&["XRANGE", "s", "(8", "(9"])),
        vec!["8-1", "9-0"]
    );
    assert_eq!(ids(db.run(&["XRANGE", "s", "(8", "(9-0"])), vec!["8-1"]);
    assert_eq!(
        ids(db.run(&["XREVRANGE", "s", "(9-0", "(7-1"])),
        vec!["8-1", "8-0"]
    );
    assert_eq!(
        ids(db.run(&["XRANGE", "s", "9", "8"])),
        Vec::<String>::new()
    );
    assert_eq!(db.run(&["XRANGE", "s", "(-", "+"]), err(BAD_ID));
    assert_eq!(db.run(&["XRANGE", "s", "-", "(+"]), err(BAD_ID));
    assert_eq!(
        db.run(&[
            "XRANGE",
            "s",
            "(18446744073709551615-18446744073709551615",
            "+"
        ]),
        err("ERR invalid start ID for the interval")
    );
    assert_eq!(
        db.run(&["XRANGE", "s", "-", "(0-0"]),
        err("ERR invalid end ID for the interval")
    );
    // COUNT: 0 or negative gives a null array on an existing key, empty on a missing one.
    assert_eq!(
        db.run(&["XRANGE", "s", "-", "+", "COUNT", "0"]),
        Frame::NullArray
    );
    assert_eq!(
        db.run(&["XRANGE", "s", "-", "+", "COUNT", "-5"]),
        Frame::NullArray
    );
    assert_eq!(
        db.run(&["XRANGE", "nokey", "-", "+", "COUNT", "0"]),
        list(vec![])
    );
    assert_eq!(db.run(&["XRANGE", "s", "-", "+", "COUNT"]), err(SYNTAX));
    assert_eq!(
        db.run(&["XRANGE", "s", "-", "+", "LIMIT", "1"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["XRANGE", "s", "-", "+", "COUNT", "x"]),
        err(NOT_INT)
    );
    assert_eq!(
        ids(db.run(&["XREVRANGE", "s", "+", "-", "COUNT", "2"])),
        vec!["9-0", "8-1"]
    );
}

// ---- errors ------------------------------------------------------------------------------

#[test]
fn xadd_and_xtrim_errors() {
    let mut db = Db::new();
    db.run(&["SET", "str", "x"]);
    assert_eq!(db.run(&["XADD", "str", "*", "a", "1"]), err(WRONGTYPE));
    assert_eq!(
        db.run(&["XADD", "s", "*", "a"]),
        err("ERR wrong number of arguments for 'xadd' command")
    );
    assert_eq!(
        db.run(&["XADD", "s", "*", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'xadd' command")
    );
    assert_eq!(
        db.run(&["XADD", "s", "MAXLEN", "5", "NOMKSTREAM", "a"]),
        err(BAD_ID)
    );
    assert_eq!(
        db.run(&["XADD", "s", "MAXLEN", "-1", "*", "a", "1"]),
        err("ERR The MAXLEN argument must be >= 0.")
    );
    assert_eq!(
        db.run(&["XADD", "s", "MAXLEN", "x", "*", "a", "1"]),
        err(NOT_INT)
    );
    assert_eq!(
        db.run(&["XADD", "s", "MAXLEN", "1", "MINID", "5", "*", "a", "1"]),
        err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
    );
    assert_eq!(
        db.run(&["XADD", "s", "LIMIT", "5", "*", "a", "1"]),
        err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    );
    assert_eq!(
        db.run(&["XADD", "s", "MAXLEN", "5", "LIMIT", "5", "*", "a", "1"]),
        err("ERR syntax error, LIMIT cannot be used without the special ~ option")
    );
    assert_eq!(
        db.run(&["XADD", "s", "MAXLEN", "~", "5", "LIMIT", "-1", "*", "a", "1"]),
        err("ERR The LIMIT argument must be >= 0.")
    );
    assert_eq!(
        db.run(&["XADD", "s", "MINID", "-", "*", "a", "1"]),
        err(BAD_ID)
    );
    // Nothing was created by the failed commands.
    assert_eq!(db.run(&["EXISTS", "s"]), int(0));
    // NOMKSTREAM on a missing key: nil, nothing created.
    assert_eq!(
        db.run(&["XADD", "s", "NOMKSTREAM", "*", "a", "1"]),
        Frame::Null
    );
    assert_eq!(db.run(&["EXISTS", "s"]), int(0));
    assert_eq!(
        db.run(&["XTRIM", "s", "LIMIT", "5"]),
        err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    );
    assert_eq!(
        db.run(&["XTRIM", "s", "LIMIT", "0"]),
        err("ERR syntax error, XTRIM must be called with a trimming strategy")
    );
    assert_eq!(
        db.run(&["XTRIM", "s", "MAXLEN", "1", "NOMKSTREAM"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["XTRIM", "str", "MAXLEN", "1"]), err(WRONGTYPE));
    assert_eq!(db.run(&["XLEN", "str"]), err(WRONGTYPE));
    assert_eq!(db.run(&["XRANGE", "str", "-", "+"]), err(WRONGTYPE));
    assert_eq!(db.run(&["XDEL", "str", "1-1"]), err(WRONGTYPE));
    assert_eq!(db.run(&["XLEN", "nokey"]), int(0));
    // XDEL parses its IDs only once the stream exists.
    assert_eq!(db.run(&["XDEL", "nokey", "bad"]), int(0));
    db.run(&["XADD", "s", "1-1", "a", "1"]);
    assert_eq!(db.run(&["XDEL", "s", "1-1", "bad"]), err(BAD_ID));
    assert_eq!(db.xlen("s"), 1);
}

#[test]
fn xread_errors() {
    let mut db = Db::new();
    db.run(&["SET", "str", "x"]);
    db.run(&["XADD", "s", "1-1", "a", "1"]);
    assert_eq!(
        db.run(&["XREAD", "STREAMS", "s", "t", "0"]),
        err("ERR Unbalanced 'xread' list of streams: for each stream key an ID, '+', or '$' must be specified.")
    );
    assert_eq!(
        db.run(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "t", ">"]),
        err("ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.")
    );
    assert_eq!(db.run(&["XREAD", "COUNT", "1", "s", "0"]), err(SYNTAX));
    assert_eq!(
        db.run(&["XREAD", "COUNT", "x", "STREAMS", "s", "0"]),
        err(NOT_INT)
    );
    assert_eq!(
        db.run(&["XREAD", "BLOCK", "x", "STREAMS", "s", "0"]),
        err("ERR timeout is not an integer or out of range")
    );
    assert_eq!(
        db.run(&["XREAD", "BLOCK", "-1", "STREAMS", "s", "0"]),
        err("ERR timeout is negative")
    );
    assert_eq!(
        db.run(&["XREAD", "BLOCK", "9223372036854775807", "STREAMS", "s", "0"]),
        err("ERR timeout is out of range")
    );
    assert_eq!(
        db.run(&["XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"]),
        err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
    );
    assert_eq!(
        db.run(&["XREAD", "NOACK", "STREAMS", "s", "0"]),
        err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
    );
    assert_eq!(
        db.run(&["XREAD", "STREAMS", "s", ">"]),
        err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
    );
    assert_eq!(
        db.run(&["XREAD", "STREAMS", "s", "str", "0", "0"]),
        err(WRONGTYPE)
    );
    assert_eq!(db.run(&["XREAD", "STREAMS", "s", "x"]), err(BAD_ID));
    assert_eq!(
        db.run(&["XREADGROUP", "COUNT", "1", "NOACK", "STREAMS", "s", ">"]),
        err("ERR Missing GROUP option for XREADGROUP")
    );
    assert_eq!(
        db.run(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]),
        err("NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option")
    );
    assert_eq!(
        db.run(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">"]),
        err("NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option")
    );
    assert_eq!(
        db.run(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"]),
        err(WRONGTYPE)
    );
    db.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    assert_eq!(
        db.run(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"]),
        err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
    );
    assert_eq!(
        db.run(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "+"]),
        err("ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID would just return an empty result set.")
    );
    // None of the failed XREADGROUPs created the consumer.
    assert_eq!(db.run(&["XINFO", "CONSUMERS", "s", "g"]), list(vec![]));
    // XREADGROUP with nothing new: a null array, but the consumer now exists.
    db.run(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    assert_eq!(
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "10",
            "STREAMS",
            "s",
            ">"
        ]),
        Frame::NullArray
    );
    let Frame::Array(cs) = db.run(&["XINFO", "CONSUMERS", "s", "g"]) else {
        panic!()
    };
    assert_eq!(cs.len(), 1);
}

#[test]
fn group_command_errors() {
    let mut db = Db::new();
    db.run(&["SET", "str", "x"]);
    db.run(&["XADD", "s", "1-1", "a", "1"]);
    assert_eq!(
        db.run(&["XGROUP", "FOO", "s", "g"]),
        err("ERR unknown subcommand 'FOO'. Try XGROUP HELP.")
    );
    assert_eq!(
        db.run(&["XGROUP", "CREATE", "s", "g"]),
        err("ERR wrong number of arguments for 'xgroup|create' command")
    );
    assert_eq!(
        db.run(&["XGROUP", "DESTROY", "s"]),
        err("ERR wrong number of arguments for 'xgroup|destroy' command")
    );
    assert_eq!(
        db.run(&["XGROUP", "CREATE", "s", "g", "$", "FOO"]),
        err("ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.")
    );
    assert_eq!(
        db.run(&["XGROUP", "SETID", "s", "g", "$", "MKSTREAM"]),
        err("ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.")
    );
    assert_eq!(
        db.run(&["XGROUP", "CREATE", "s", "g", "$", "ENTRIESREAD", "-2"]),
        err("ERR value for ENTRIESREAD must be positive or -1")
    );
    assert_eq!(
        db.run(&["XGROUP", "CREATE", "str", "g", "$"]),
        err(WRONGTYPE)
    );
    assert_eq!(db.run(&["XGROUP", "CREATE", "s", "g", "bad"]), err(BAD_ID));
    assert_eq!(db.run(&["XGROUP", "CREATE", "s", "g", "+"]), err(BAD_ID));
    for sub in ["SETID", "CREATECONSUMER", "DELCONSUMER"] {
        assert_eq!(
            db.run(&["XGROUP", sub, "s", "g", "x"]),
            err("NOGROUP No such consumer group 'g' for key name 's'"),
            "{sub}"
        );
    }
    assert_eq!(db.run(&["XGROUP", "DESTROY", "s", "g"]), int(0));
    assert_eq!(
        db.run(&["XGROUP", "DESTROY", "nokey", "g"]),
        err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
    );
    assert_eq!(
        db.run(&["XINFO", "FOO", "s"]),
        err("ERR unknown subcommand 'FOO'. Try XINFO HELP.")
    );
    assert_eq!(
        db.run(&["XINFO", "GROUPS"]),
        err("ERR wrong number of arguments for 'xinfo|groups' command")
    );
    assert_eq!(db.run(&["XINFO", "GROUPS", "str"]), err(WRONGTYPE));
    assert_eq!(
        db.run(&["XINFO", "CONSUMERS", "s", "g"]),
        err("NOGROUP No such consumer group 'g' for key name 's'")
    );
    // XACK: missing key or group acks nothing (before parsing IDs).
    assert_eq!(db.run(&["XACK", "nokey", "g", "bad"]), int(0));
    assert_eq!(db.run(&["XACK", "s", "g", "bad"]), int(0));
    assert_eq!(db.run(&["XACK", "str", "g", "1-1"]), err(WRONGTYPE));
    db.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    assert_eq!(db.run(&["XACK", "s", "g", "1-1", "bad"]), err(BAD_ID));
    // XPENDING
    assert_eq!(db.run(&["XPENDING", "s", "g", "-"]), err(SYNTAX));
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "IDLE", "10", "-", "+"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["XPENDING", "s", "g", "-", "+", "x"]), err(NOT_INT));
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "IDLE", "x", "-", "+", "1"]),
        err(NOT_INT)
    );
    assert_eq!(
        db.run(&["XPENDING", "s", "nogroup"]),
        err("NOGROUP No such key 's' or consumer group 'nogroup'")
    );
    assert_eq!(db.run(&["XPENDING", "str", "g"]), err(WRONGTYPE));
    // XCLAIM
    assert_eq!(
        db.run(&["XCLAIM", "s", "nogroup", "c", "0", "1-1"]),
        err("NOGROUP No such key 's' or consumer group 'nogroup'")
    );
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "c", "x", "1-1"]),
        err("ERR Invalid min-idle-time argument for XCLAIM")
    );
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "c", "0", "1-1", "IDLE", "x"]),
        err("ERR Invalid IDLE option argument for XCLAIM")
    );
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "c", "0", "1-1", "TIME", "x"]),
        err("ERR Invalid TIME option argument for XCLAIM")
    );
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "c", "0", "1-1", "RETRYCOUNT", "x"]),
        err("ERR Invalid RETRYCOUNT option argument for XCLAIM")
    );
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "c", "0", "1-1", "FOO"]),
        err("ERR Unrecognized XCLAIM option 'FOO'")
    );
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "c", "0", "1-1", "JUSTID", "2-2"]),
        err("ERR Unrecognized XCLAIM option '2-2'")
    );
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "c", "0", "1-1", "LASTID", "x"]),
        err(BAD_ID)
    );
    // XAUTOCLAIM
    assert_eq!(
        db.run(&["XAUTOCLAIM", "s", "g", "c", "x", "0"]),
        err("ERR Invalid min-idle-time argument for XAUTOCLAIM")
    );
    assert_eq!(
        db.run(&["XAUTOCLAIM", "s", "g", "c", "0", "x"]),
        err(BAD_ID)
    );
    for bad in ["0", "-1", "x", "576460752303423488"] {
        assert_eq!(
            db.run(&["XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", bad]),
            err("ERR COUNT must be > 0"),
            "{bad}"
        );
    }
    assert_eq!(
        db.run(&["XAUTOCLAIM", "s", "g", "c", "0", "0", "FOO"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["XAUTOCLAIM", "s", "nogroup", "c", "0", "0"]),
        err("NOGROUP No such key 's' or consumer group 'nogroup'")
    );
    assert_eq!(
        db.run(&["XAUTOCLAIM", "str", "g", "c", "0", "0"]),
        err(WRONGTYPE)
    );
    // XSETID
    assert_eq!(db.run(&["XSETID", "nokey", "5-5"]), err("ERR no such key"));
    assert_eq!(db.run(&["XSETID", "str", "5-5"]), err(WRONGTYPE));
    assert_eq!(db.run(&["XSETID", "s", "+"]), err(BAD_ID));
    assert_eq!(
        db.run(&["XSETID", "s", "0-5"]),
        err("ERR The ID specified in XSETID is smaller than the target stream top item")
    );
    assert_eq!(
        db.run(&["XSETID", "s", "5-5", "ENTRIESADDED", "-1"]),
        err("ERR entries_added must be positive")
    );
    assert_eq!(
        db.run(&["XSETID", "s", "5-5", "ENTRIESADDED", "0"]),
        err("ERR The entries_added specified in XSETID is smaller than the target stream length")
    );
    assert_eq!(
        db.run(&["XSETID", "s", "5-5", "MAXDELETEDID", "6-0"]),
        err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
    );
    assert_eq!(db.run(&["XSETID", "s", "5-5", "FOO", "1"]), err(SYNTAX));
}

// ---- XSETID / XDEL bookkeeping ------------------------------------------------------------

#[test]
fn xsetid_and_deletion_bookkeeping() {
    let mut db = Db::new();
    db.run(&["XADD", "s", "1-1", "a", "1"]);
    db.run(&["XADD", "s", "2-1", "a", "2"]);
    db.run(&["XADD", "s", "3-1", "a", "3"]);
    assert_eq!(db.run(&["XDEL", "s", "1-1"]), int(1));
    let f = db.run(&["XINFO", "STREAM", "s"]);
    assert_eq!(field(&f, "recorded-first-entry-id"), &bulk("2-1"));
    assert_eq!(field(&f, "max-deleted-entry-id"), &bulk("1-1"));
    // Deleting the top entry leaves last-generated-id alone; XSETID can't go below
    // the top live entry, but can go below the deleted one.
    assert_eq!(db.run(&["XDEL", "s", "3-1"]), int(1));
    assert_eq!(
        db.run(&["XSETID", "s", "3-0"]),
        err("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")
    );
    assert_eq!(
        db.run(&["XSETID", "s", "2-0"]),
        err("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")
    );
    assert_eq!(db.run(&["XSETID", "s", "3-1"]), Frame::ok());
    assert_eq!(
        db.run(&[
            "XSETID",
            "s",
            "10-0",
            "ENTRIESADDED",
            "100",
            "MAXDELETEDID",
            "9-0"
        ]),
        Frame::ok()
    );
    let f = db.run(&["XINFO", "STREAM", "s"]);
    assert_eq!(field(&f, "last-generated-id"), &bulk("10-0"));
    assert_eq!(field(&f, "entries-added"), &int(100));
    assert_eq!(field(&f, "max-deleted-entry-id"), &bulk("9-0"));
    assert_eq!(field(&f, "last-entry"), &entry("2-1", &["a", "2"]));
    assert_eq!(db.run(&["XADD", "s", "10-0", "a", "1"]), err(SMALLER));
    assert_eq!(db.run(&["XADD", "s", "10-*", "a", "1"]), bulk("10-1"));
    // An emptied stream stays (with its groups, counters and last ID).
    assert_eq!(db.run(&["XDEL", "s", "2-1", "10-1"]), int(2));
    assert_eq!(db.run(&["EXISTS", "s"]), int(1));
    assert_eq!(db.xlen("s"), 0);
    assert_eq!(db.run(&["XRANGE", "s", "-", "+"]), list(vec![]));
    assert_eq!(
        db.run(&["XREVRANGE", "s", "+", "-", "COUNT", "3"]),
        list(vec![])
    );
    assert_eq!(
        db.run(&["XADD", "s", "*", "a", "1"]),
        bulk(&format!("{T0}-0"))
    );
    // DEL drops it, and a new stream starts from scratch.
    assert_eq!(db.run(&["DEL", "s"]), int(1));
    assert_eq!(db.run(&["XADD", "s", "1-1", "a", "1"]), bulk("1-1"));
    assert_eq!(db.xlen("s"), 1);
}

// ---- trimming -------------------------------------------------------------------------------

#[test]
fn exact_trimming() {
    let mut db = Db::new();
    db.fill("s", 1, 10);
    assert_eq!(db.run(&["XTRIM", "s", "MAXLEN", "7"]), int(3));
    assert_eq!(db.xlen("s"), 7);
    assert_eq!(db.run(&["XTRIM", "s", "MAXLEN", "=", "7"]), int(0));
    assert_eq!(db.run(&["XTRIM", "s", "MINID", "1-5"]), int(2));
    assert_eq!(
        field(
            &db.run(&["XINFO", "STREAM", "s"]),
            "recorded-first-entry-id"
        ),
        &bulk("1-5")
    );
    assert_eq!(db.run(&["XTRIM", "s", "MINID", "=", "1-5"]), int(0));
    assert_eq!(db.run(&["XTRIM", "s", "MINID", "0"]), int(0));
    // XADD with MAXLEN keeps the newest entries (the new one included).
    for i in 0..5 {
        db.run(&["XADD", "s", "MAXLEN", "3", "*", "n", &i.to_string()]);
    }
    assert_eq!(db.xlen("s"), 3);
    let Frame::Array(v) = db.run(&["XRANGE", "s", "-", "+"]) else {
        panic!()
    };
    assert_eq!(v[2], entry(&format!("{T0}-4"), &["n", "4"]));
    // MAXLEN 0 empties the stream, which still exists.
    db.run(&["XADD", "s", "MAXLEN", "0", "*", "n", "x"]);
    assert_eq!(db.xlen("s"), 0);
    assert_eq!(db.run(&["EXISTS", "s"]), int(1));
    let f = db.run(&["XINFO", "STREAM", "s"]);
    assert_eq!(field(&f, "recorded-first-entry-id"), &bulk("0-0"));
    assert_eq!(field(&f, "entries-added"), &int(16));
    // MINID on XADD.
    db.run(&["XADD", "m", "5-0", "a", "1"]);
    db.run(&["XADD", "m", "6-0", "a", "1"]);
    db.run(&["XADD", "m", "MINID", "6", "7-0", "a", "1"]);
    assert_eq!(db.xlen("m"), 2);
}

#[test]
fn approximate_trimming_removes_whole_nodes() {
    let mut db = Db::new();
    db.fill("s", 1, 1000);
    // Within a node of the threshold: nothing.
    assert_eq!(db.run(&["XTRIM", "s", "MAXLEN", "~", "950"]), int(0));
    assert_eq!(db.run(&["XTRIM", "s", "MAXLEN", "~", "555"]), int(400));
    assert_eq!(db.xlen("s"), 600);
    assert_eq!(
        db.run(&["XRANGE", "s", "-", "+", "COUNT", "1"]),
        entries(&[("1-400", &["i", "400"])])
    );
    // LIMIT caps the work, in whole nodes.
    assert_eq!(
        db.run(&["XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "250"]),
        int(200)
    );
    assert_eq!(
        db.run(&["XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "99"]),
        int(0)
    );
    assert_eq!(db.xlen("s"), 400);
    // MINID ~: whole nodes below the ID.
    assert_eq!(db.run(&["XTRIM", "s", "MINID", "~", "1-750"]), int(100));
    assert_eq!(db.run(&["XTRIM", "s", "MINID", "1-750"]), int(50));
    assert_eq!(db.xlen("s"), 250);
    // LIMIT 0 with ~ means no cap; the default cap is 10000 entries. The node that the
    // exact trim left half used goes whole (as in redis-server 7.0).
    assert_eq!(
        db.run(&["XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "0"]),
        int(250)
    );
    assert_eq!(db.xlen("s"), 0);
    // XADD with ~.
    let mut db = Db::new();
    db.fill("a", 1, 250);
    db.run(&["XADD", "a", "MAXLEN", "~", "10", "*", "x", "y"]);
    assert_eq!(db.xlen("a"), 51);
    let f = db.run(&["XINFO", "STREAM", "a"]);
    assert_eq!(field(&f, "recorded-first-entry-id"), &bulk("1-200"));
    assert_eq!(field(&f, "radix-tree-keys"), &int(1));
}

// ---- consumer groups ------------------------------------------------------------------------

#[test]
fn pending_entries_follow_deliveries_and_deletions() {
    let mut db = Db::new();
    db.fill("s", 1, 5);
    db.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    let r = db.run(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "3",
        "STREAMS",
        "s",
        ">",
    ]);
    assert_eq!(
        r,
        list(vec![stream_reply(
            "s",
            entries(&[
                ("1-0", &["i", "0"]),
                ("1-1", &["i", "1"]),
                ("1-2", &["i", "2"])
            ])
        )])
    );
    // A deleted entry shows up as [id, nil] in the consumer's history, and its
    // delivery count only grows for entries that still exist.
    db.run(&["XDEL", "s", "1-1"]);
    db.now += 10;
    assert_eq!(
        db.run(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"]),
        list(vec![stream_reply(
            "s",
            list(vec![
                entry("1-0", &["i", "0"]),
                list(vec![bulk("1-1"), Frame::NullArray]),
                entry("1-2", &["i", "2"]),
            ])
        )])
    );
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "-", "+", "10"]),
        list(vec![
            list(vec![bulk("1-0"), bulk("alice"), int(0), int(2)]),
            list(vec![bulk("1-1"), bulk("alice"), int(10), int(1)]),
            list(vec![bulk("1-2"), bulk("alice"), int(0), int(2)]),
        ])
    );
    // History with COUNT and an exclusive-style start.
    assert_eq!(
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            "1-0"
        ]),
        list(vec![stream_reply(
            "s",
            list(vec![list(vec![bulk("1-1"), Frame::NullArray])])
        )])
    );
    // XPENDING with IDLE and a consumer filter.
    db.now += 100;
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "IDLE", "105", "-", "+", "10", "alice"]),
        list(vec![list(vec![
            bulk("1-1"),
            bulk("alice"),
            int(110),
            int(1)
        ])])
    );
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "(1-0", "+", "1"]),
        list(vec![list(vec![
            bulk("1-1"),
            bulk("alice"),
            int(110),
            int(1)
        ])])
    );
    assert_eq!(db.run(&["XPENDING", "s", "g", "-", "+", "0"]), list(vec![]));
    // XAUTOCLAIM cleans deleted entries out of the PEL and reports them.
    assert_eq!(
        db.run(&["XAUTOCLAIM", "s", "g", "bob", "0", "0-0", "COUNT", "2"]),
        list(vec![
            bulk("1-2"),
            entries(&[("1-0", &["i", "0"])]),
            arr(&["1-1"]),
        ])
    );
    assert_eq!(
        db.run(&["XAUTOCLAIM", "s", "g", "bob", "0", "1-2", "JUSTID"]),
        list(vec![bulk("0-0"), arr(&["1-2"]), list(vec![])])
    );
    assert_eq!(
        db.run(&["XPENDING", "s", "g"]),
        list(vec![
            int(2),
            bulk("1-0"),
            bulk("1-2"),
            list(vec![arr(&["bob", "2"])])
        ])
    );
    // JUSTID does not count a delivery.
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "-", "+", "10"]),
        list(vec![
            list(vec![bulk("1-0"), bulk("bob"), int(0), int(3)]),
            list(vec![bulk("1-2"), bulk("bob"), int(0), int(2)]),
        ])
    );
    // XCLAIM of a deleted entry drops its pending entry too.
    db.run(&["XDEL", "s", "1-2"]);
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "alice", "0", "1-2"]),
        list(vec![])
    );
    assert_eq!(
        db.run(&["XPENDING", "s", "g"]),
        list(vec![
            int(1),
            bulk("1-0"),
            bulk("1-0"),
            list(vec![arr(&["bob", "1"])])
        ])
    );
    // The rest of the stream for alice.
    assert_eq!(
        db.run(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"]),
        list(vec![stream_reply(
            "s",
            entries(&[("1-3", &["i", "3"]), ("1-4", &["i", "4"])])
        )])
    );
    assert_eq!(
        db.run(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"]),
        Frame::NullArray
    );
    assert_eq!(
        db.run(&["XACK", "s", "g", "1-0", "1-3", "1-4", "9-9"]),
        int(3)
    );
    assert_eq!(
        db.run(&["XPENDING", "s", "g"]),
        list(vec![int(0), Frame::Null, Frame::Null, Frame::NullArray])
    );
}

#[test]
fn xclaim_options() {
    let mut db = Db::new();
    db.fill("s", 1, 3);
    db.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    db.run(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    db.now += 1000;
    // IDLE sets the idle time, RETRYCOUNT the delivery count; JUSTID returns IDs.
    assert_eq!(
        db.run(&[
            "XCLAIM",
            "s",
            "g",
            "bob",
            "0",
            "1-0",
            "IDLE",
            "500",
            "RETRYCOUNT",
            "7",
            "JUSTID"
        ]),
        arr(&["1-0"])
    );
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "-", "+", "10"]),
        list(vec![list(vec![bulk("1-0"), bulk("bob"), int(500), int(7)])])
    );
    // TIME sets the delivery time; a time in the future becomes now.
    let at = (db.now - 42).to_string();
    db.run(&["XCLAIM", "s", "g", "bob", "0", "1-0", "TIME", &at, "JUSTID"]);
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "-", "+", "10"]),
        list(vec![list(vec![bulk("1-0"), bulk("bob"), int(42), int(7)])])
    );
    let future = (db.now + 100_000).to_string();
    db.run(&[
        "XCLAIM", "s", "g", "bob", "0", "1-0", "TIME", &future, "JUSTID",
    ]);
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "-", "+", "10"]),
        list(vec![list(vec![bulk("1-0"), bulk("bob"), int(0), int(7)])])
    );
    // Not pending and no FORCE: nothing. FORCE creates the pending entry (count 2:
    // created with one delivery, then claimed).
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "carol", "0", "1-2"]),
        list(vec![])
    );
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "carol", "0", "1-2", "FORCE"]),
        entries(&[("1-2", &["i", "2"])])
    );
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "-", "+", "10", "carol"]),
        list(vec![list(vec![bulk("1-2"), bulk("carol"), int(0), int(2)])])
    );
    // FORCE ignores IDs that are not in the stream.
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "carol", "0", "9-9", "FORCE"]),
        list(vec![])
    );
    // LASTID moves the group's last-delivered-id forward only.
    db.run(&[
        "XCLAIM", "s", "g", "carol", "0", "1-2", "LASTID", "1-1", "JUSTID",
    ]);
    let g = db.run(&["XINFO", "GROUPS", "s"]);
    let Frame::Array(gs) = &g else { panic!() };
    assert_eq!(field(&gs[0], "last-delivered-id"), &bulk("1-1"));
    db.run(&[
        "XCLAIM", "s", "g", "carol", "0", "1-2", "LASTID", "1-0", "JUSTID",
    ]);
    let g = db.run(&["XINFO", "GROUPS", "s"]);
    let Frame::Array(gs) = &g else { panic!() };
    assert_eq!(field(&gs[0], "last-delivered-id"), &bulk("1-1"));
    // The group's next read starts after LASTID... and re-delivers 1-2 to dave (it was
    // carol's pending entry: ownership moves, count resets to 1).
    assert_eq!(
        db.run(&["XREADGROUP", "GROUP", "g", "dave", "STREAMS", "s", ">"]),
        list(vec![stream_reply("s", entries(&[("1-2", &["i", "2"])]))])
    );
    assert_eq!(
        db.run(&["XPENDING", "s", "g"]),
        list(vec![
            int(2),
            bulk("1-0"),
            bulk("1-2"),
            list(vec![arr(&["bob", "1"]), arr(&["dave", "1"])]),
        ])
    );
    // min-idle-time filters.
    db.now += 10;
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "erin", "11", "1-2"]),
        list(vec![])
    );
    assert_eq!(
        db.run(&["XCLAIM", "s", "g", "erin", "10", "1-2", "JUSTID"]),
        arr(&["1-2"])
    );
    // Claiming creates the consumer even when nothing is claimed.
    let Frame::Array(cs) = db.run(&["XINFO", "CONSUMERS", "s", "g"]) else {
        panic!()
    };
    let names: Vec<&Frame> = cs.iter().map(|c| field(c, "name")).collect();
    assert_eq!(
        names,
        vec![
            &bulk("alice"),
            &bulk("bob"),
            &bulk("carol"),
            &bulk("dave"),
            &bulk("erin")
        ]
    );
    // alice never claimed, active since her read; erin's claim made her active.
    assert_eq!(field(&cs[0], "pending"), &int(0));
    assert_eq!(field(&cs[4], "inactive"), &int(0));
}

#[test]
fn setid_entries_read_and_lag() {
    let mut db = Db::new();
    db.fill("s", 1, 5);
    db.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    let group = |db: &mut Db| {
        let Frame::Array(gs) = db.run(&["XINFO", "GROUPS", "s"]) else {
            panic!()
        };
        gs[0].clone()
    };
    // Created at 0 without ENTRIESREAD: unknown entries-read, lag still computable.
    let g = group(&mut db);
    assert_eq!(field(&g, "entries-read"), &Frame::Null);
    assert_eq!(field(&g, "lag"), &int(5));
    db.run(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    let g = group(&mut db);
    assert_eq!(field(&g, "entries-read"), &int(2));
    assert_eq!(field(&g, "lag"), &int(3));
    // A deletion after the group's position makes the lag unknown.
    db.run(&["XDEL", "s", "1-3"]);
    let g = group(&mut db);
    assert_eq!(field(&g, "lag"), &Frame::Null);
    // Reading past the tombstone: entries-read is estimated again.
    db.run(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    let g = group(&mut db);
    assert_eq!(field(&g, "last-delivered-id"), &bulk("1-4"));
    assert_eq!(field(&g, "entries-read"), &int(5));
    assert_eq!(field(&g, "lag"), &int(0));
    // SETID with ENTRIESREAD; SETID accepts `-`/`+` and `$`.
    assert_eq!(
        db.run(&["XGROUP", "SETID", "s", "g", "1-1", "ENTRIESREAD", "2"]),
        Frame::ok()
    );
    let g = group(&mut db);
    assert_eq!(field(&g, "entries-read"), &int(2));
    assert_eq!(field(&g, "last-delivered-id"), &bulk("1-1"));
    assert_eq!(db.run(&["XGROUP", "SETID", "s", "g", "$"]), Frame::ok());
    let g = group(&mut db);
    assert_eq!(field(&g, "last-delivered-id"), &bulk("1-4"));
    assert_eq!(field(&g, "entries-read"), &Frame::Null);
    assert_eq!(field(&g, "lag"), &int(0));
    assert_eq!(db.run(&["XGROUP", "SETID", "s", "g", "-"]), Frame::ok());
    // Re-reading from the start re-delivers pending entries to the new reader.
    let r = db.run(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "d",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    assert_eq!(
        r,
        list(vec![stream_reply("s", entries(&[("1-0", &["i", "0"])]))])
    );
    assert_eq!(
        db.run(&["XPENDING", "s", "g", "-", "+", "1"]),
        list(vec![list(vec![bulk("1-0"), bulk("d"), int(0), int(1)])])
    );
    // CREATE with ENTRIESREAD and `$`.
    db.run(&["XGROUP", "CREATE", "s", "h", "$", "ENTRIESREAD", "5"]);
    let Frame::Array(gs) = db.run(&["XINFO", "GROUPS", "s"]) else {
        panic!()
    };
    assert_eq!(field(&gs[1], "name"), &bulk("h"));
    assert_eq!(field(&gs[1], "last-delivered-id"), &bulk("1-4"));
    assert_eq!(field(&gs[1], "entries-read"), &int(5));
    assert_eq!(field(&gs[1], "lag"), &int(0));
    // Redis 7.2: a tombstone before the first entry is not "ahead" of the group, so a
    // valid entries-read keeps giving entries-added - entries-read (5 here, where Redis
    // 8 would say 4).
    db.fill("t", 1, 5);
    db.run(&["XGROUP", "CREATE", "t", "g", "0", "ENTRIESREAD", "0"]);
    db.run(&["XDEL", "t", "1-0"]);
    let Frame::Array(gs) = db.run(&["XINFO", "GROUPS", "t"]) else {
        panic!()
    };
    assert_eq!(field(&gs[0], "lag"), &int(5));
    db.run(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "1",
        "STREAMS",
        "t",
        ">",
    ]);
    let Frame::Array(gs) = db.run(&["XINFO", "GROUPS", "t"]) else {
        panic!()
    };
    assert_eq!(field(&gs[0], "entries-read"), &int(1));
    assert_eq!(field(&gs[0], "lag"), &int(4));
    // A fresh stream: lag 0 without entries.
    db.run(&["XGROUP", "CREATE", "e", "g", "$", "MKSTREAM"]);
    let Frame::Array(gs) = db.run(&["XINFO", "GROUPS", "e"]) else {
        panic!()
    };
    assert_eq!(field(&gs[0], "lag"), &int(0));
}

#[test]
fn noack_and_multiple_streams() {
    let mut db = Db::new();
    db.fill("a", 1, 3);
    db.fill("b", 2, 2);
    db.run(&["XGROUP", "CREATE", "a", "g", "0"]);
    db.run(&["XGROUP", "CREATE", "b", "g", "$"]);
    // b's group starts at its end: only a is served.
    assert_eq!(
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "NOACK",
            "COUNT",
            "2",
            "STREAMS",
            "a",
            "b",
            ">",
            ">"
        ]),
        list(vec![stream_reply(
            "a",
            entries(&[("1-0", &["i", "0"]), ("1-1", &["i", "1"])])
        )])
    );
    // NOACK: nothing pending, consumer created in both groups.
    assert_eq!(
        db.run(&["XPENDING", "a", "g"]),
        list(vec![int(0), Frame::Null, Frame::Null, Frame::NullArray])
    );
    let Frame::Array(cs) = db.run(&["XINFO", "CONSUMERS", "b", "g"]) else {
        panic!()
    };
    assert_eq!(cs.len(), 1);
    // With NOACK the consumer is seen but not active.
    assert_eq!(field(&cs[0], "inactive"), &int(-1));
    db.run(&["XADD", "b", "3-0", "x", "y"]);
    // The same key twice: the second read sees the first one's progress.
    assert_eq!(
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "STREAMS",
            "a",
            "a",
            "b",
            ">",
            ">",
            ">"
        ]),
        list(vec![
            stream_reply("a", entries(&[("1-2", &["i", "2"])])),
            stream_reply("b", entries(&[("3-0", &["x", "y"])])),
        ])
    );
    // History and new in one call.
    db.run(&["XADD", "a", "4-0", "z", "z"]);
    assert_eq!(
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "STREAMS",
            "a",
            "b",
            "0",
            ">"
        ]),
        list(vec![stream_reply("a", entries(&[("1-2", &["i", "2"])])),])
    );
    // XREAD of several streams with `$` and COUNT.
    assert_eq!(
        db.run(&["XREAD", "COUNT", "1", "STREAMS", "a", "b", "1-0", "$"]),
        list(vec![stream_reply("a", entries(&[("1-1", &["i", "1"])]))])
    );
}

// ---- Upstash's PEL limit ------------------------------------------------------------------

fn pel_error(current: u64, requested: u64) -> Frame {
    err(&format!(
        "ERR XReadGroup is cancelled. Pending Entries List limit per consumer is about to be reached. Limit: 1000, Current PEL size: {current}, Requested Read: {requested}, Key: mstream, Group: group1, Consumer: consumer1."
    ))
}

#[test]
fn pel_limit_per_consumer() {
    let mut db = Db::new();
    db.fill("mstream", 1, 1030);
    db.run(&["XGROUP", "CREATE", "mstream", "group1", "0"]);
    let read = |db: &mut Db, count: &str| {
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "COUNT",
            count,
            "STREAMS",
            "mstream",
            ">",
        ])
    };
    let delivered = |f: &Frame| -> usize {
        match f {
            Frame::Array(s) => match &s[0] {
                Frame::Array(p) => match &p[1] {
                    Frame::Array(e) => e.len(),
                    _ => panic!(),
                },
                _ => panic!(),
            },
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(delivered(&read(&mut db, "990")), 990);
    // 990 + 20 > 1000: refused, and nothing changed.
    let before = db.run(&["XINFO", "STREAM", "mstream", "FULL", "COUNT", "1"]);
    assert_eq!(read(&mut db, "20"), pel_error(990, 20));
    assert!(db.last.writes.is_empty());
    assert_eq!(
        db.run(&["XINFO", "STREAM", "mstream", "FULL", "COUNT", "1"]),
        before
    );
    // Without COUNT the whole rest would be read: 40 entries.
    assert_eq!(
        db.run(&[
            "XREADGROUP",
            "GROUP",
            "group1",
            "consumer1",
            "STREAMS",
            "mstream",
            ">"
        ]),
        pel_error(990, 40)
    );
    // Up to the limit is fine.
    assert_eq!(delivered(&read(&mut db, "10")), 10);
    assert_eq!(read(&mut db, "1"), pel_error(1000, 1));
    // NOACK reads and history reads add nothing to the PEL: allowed.
    let r = db.run(&[
        "XREADGROUP",
        "GROUP",
        "group1",
        "consumer1",
        "NOACK",
        "COUNT",
        "5",
        "STREAMS",
        "mstream",
        ">",
    ]);
    assert_eq!(delivered(&r), 5);
    let r = db.run(&[
        "XREADGROUP",
        "GROUP",
        "group1",
        "consumer1",
        "COUNT",
        "3",
        "STREAMS",
        "mstream",
        "0",
    ]);
    assert_eq!(delivered(&r), 3);
    // Another consumer has its own list.
    let r = db.run(&[
        "XREADGROUP",
        "GROUP",
        "group1",
        "consumer2",
        "COUNT",
        "5",
        "STREAMS",
        "mstream",
        ">",
    ]);
    assert_eq!(delivered(&r), 5);
    // Acknowledging makes room.
    assert_eq!(db.run(&["XACK", "mstream", "group1", "1-0", "1-1"]), int(2));
    assert_eq!(read(&mut db, "3"), pel_error(998, 3));
    assert_eq!(delivered(&read(&mut db, "2")), 2);
    // 18 entries are left and the PEL holds 982 after these acks: COUNT 50 is judged
    // on the entries it would actually deliver, which fit exactly.
    db.run(&[
        "XACK", "mstream", "group1", "1-2", "1-3", "1-4", "1-5", "1-6", "1-7", "1-8", "1-9",
        "1-10", "1-11", "1-12", "1-13", "1-14", "1-15", "1-16", "1-17", "1-18", "1-19",
    ]);
    let r = read(&mut db, "50");
    assert_eq!(delivered(&r), 18);
    assert_eq!(
        db.run(&["XPENDING", "mstream", "group1"]),
        list(vec![
            int(1005),
            bulk("1-20"),
            bulk("1-1029"),
            list(vec![arr(&["consumer1", "1000"]), arr(&["consumer2", "5"])]),
        ])
    );
    // Entries the consumer already owns do not grow its list: after XGROUP SETID back,
    // re-reading its own pending entries is allowed even at the limit.
    assert_eq!(
        db.run(&["XGROUP", "SETID", "mstream", "group1", "1-1019"]),
        Frame::ok()
    );
    let r = read(&mut db, "10");
    assert_eq!(delivered(&r), 10);
    // ...but taking consumer2's entries would.
    assert_eq!(
        db.run(&["XGROUP", "SETID", "mstream", "group1", "1-1004"]),
        Frame::ok()
    );
    assert_eq!(read(&mut db, "10"), pel_error(1000, 10));
}

// ---- the storage contract --------------------------------------------------------------------

#[test]
fn writes_are_per_entry_not_per_stream() {
    let mut db = Db::new();
    db.fill("s", 1, 10_000);
    db.run(&["XADD", "s", "*", "f", "v"]);
    // The entry, its node record and the meta record.
    assert_eq!(db.writes(), 3);
    db.run(&["XGROUP", "CREATE", "s", "g", "0"]);
    assert!(db.writes() <= 2, "{}", db.writes());
    db.run(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "COUNT",
        "5",
        "STREAMS",
        "s",
        ">",
    ]);
    // Per entry: its pending record and the consumer's index; then consumer, group, meta.
    assert_eq!(db.writes(), 5 * 2 + 3);
    db.run(&["XACK", "s", "g", "1-0", "1-1", "1-2"]);
    assert_eq!(db.writes(), 3 * 2 + 3);
    db.run(&["XCLAIM", "s", "g", "d", "0", "1-3"]);
    // The pending record, the index move (remove + add), two consumers, group, meta.
    assert_eq!(db.writes(), 1 + 2 + 2 + 2);
    db.run(&["XDEL", "s", "1-5000"]);
    // The entry, its node, the meta.
    assert_eq!(db.writes(), 3);
    db.run(&["XADD", "s", "MAXLEN", "9000", "*", "f", "v"]);
    // 1001 entries go in one range delete; with them 10 whole nodes of 100 (point
    // deletes) and one entry of the next node; the new entry starts a node.
    assert_eq!(db.writes(), 1 + 10 + 1 + 1 + 1 + 1);
    assert!(matches!(db.last.writes[0], Write::DeleteRange(..)));
    assert_eq!(db.xlen("s"), 9000);
    db.run(&["XADD", "s", "MAXLEN", "8995", "*", "f", "v"]);
    // 6 point deletes, their node, the entry, its node, the meta.
    assert_eq!(db.writes(), 6 + 4);
    // Entries, group + PEL + index + consumers, and 90 + 1 node records.
    assert_eq!(live_records(&db.store, "s"), 8995 + 1 + 2 + 2 + 2 + 91);
    // DEL and XGROUP DESTROY are O(1).
    db.run(&["XGROUP", "DESTROY", "s", "g"]);
    assert_eq!(db.writes(), 3);
    assert_eq!(live_records(&db.store, "s"), 8995 + 91);
    db.run(&["DEL", "s"]);
    // Plus the key's tombstone and its time-index record (2 writes).
    assert!(db.writes() <= 5);
    assert_eq!(live_records(&db.store, "s"), 0);
    // XREVRANGE of the tail of a big stream reads a bounded number of records: just
    // check it is right.
    db.fill("big", 7, 5000);
    assert_eq!(
        db.run(&["XREVRANGE", "big", "+", "-", "COUNT", "2"]),
        entries(&[("7-4999", &["i", "4999"]), ("7-4998", &["i", "4998"])])
    );
    assert_eq!(
        db.run(&["XREVRANGE", "big", "7-2500", "7-1000", "COUNT", "2"]),
        entries(&[("7-2500", &["i", "2500"]), ("7-2499", &["i", "2499"])])
    );
}

// ---- models ------------------------------------------------------------------------------

type Id = (u64, u64);

fn fmt_id(id: Id) -> String {
    format!("{}-{}", id.0, id.1)
}

#[derive(Debug, Clone)]
enum Op {
    /// XADD with `*` after advancing the clock by the given ms, or an explicit ID.
    Add(Option<Id>, u64, u8),
    Del(Vec<Id>),
    TrimMaxLen(u64),
    TrimMinId(Id),
    Range(Id, Id, bool, bool, Option<u64>, bool),
}

fn small_id() -> impl Strategy<Value = Id> {
    (995u64..1010, 0u64..4)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (proptest::option::of(small_id()), 0u64..3, 1u8..3).prop_map(|(i, a, n)| Op::Add(i, a, n)),
        1 => proptest::collection::vec(small_id(), 1..4).prop_map(Op::Del),
        1 => (0u64..8).prop_map(Op::TrimMaxLen),
        1 => small_id().prop_map(Op::TrimMinId),
        2 => (small_id(), small_id(), any::<bool>(), any::<bool>(), proptest::option::of(0u64..5), any::<bool>())
            .prop_map(|(a, b, ea, eb, c, r)| Op::Range(a, b, ea, eb, c, r)),
    ]
}

fn expected_entries(items: &[(Id, Vec<String>)]) -> Frame {
    Frame::Array(
        items
            .iter()
            .map(|(id, f)| {
                Frame::Array(vec![
                    bulk(&fmt_id(*id)),
                    Frame::Array(f.iter().map(|s| bulk(s)).collect()),
                ])
            })
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn stream_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..50)) {
        let mut db = Db::new();
        db.now = 1000;
        let mut model: BTreeMap<Id, Vec<String>> = BTreeMap::new();
        let mut last: Id = (0, 0);
        let mut added = 0u64;
        let mut max_deleted: Id = (0, 0);
        let mut exists = false;
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Add(explicit, advance, nf) => {
                    db.now += advance;
                    let fields: Vec<String> = (0..nf).flat_map(|i| [format!("f{i}"), format!("v{n}")]).collect();
                    let id_arg = explicit.map_or("*".to_string(), fmt_id);
                    let mut argv = vec!["XADD".to_string(), "s".into(), id_arg];
                    argv.extend(fields.iter().cloned());
                    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                    let want = match explicit {
                        Some(id) if id == (0, 0) => None,
                        Some(id) if id <= last => None,
                        Some(id) => Some(id),
                        None if db.now > last.0 => Some((db.now, 0)),
                        None => Some((last.0, last.1 + 1)),
                    };
                    let reply = db.run(&argv);
                    match want {
                        Some(id) => {
                            prop_assert_eq!(reply, bulk(&fmt_id(id)));
                            model.insert(id, fields);
                            last = id;
                            added += 1;
                            exists = true;
                        }
                        None => prop_assert!(reply.is_error(), "{:?}", reply),
                    }
                }
                Op::Del(ids) => {
                    let mut argv = vec!["XDEL".to_string(), "s".into()];
                    argv.extend(ids.iter().map(|i| fmt_id(*i)));
                    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                    let mut n = 0;
                    for id in &ids {
                        if model.remove(id).is_some() {
                            n += 1;
                            max_deleted = max_deleted.max(*id);
                        }
                    }
                    prop_assert_eq!(db.run(&argv), int(n));
                }
                Op::TrimMaxLen(max) => {
                    let mut n = 0;
                    while model.len() as u64 > max {
                        let first = *model.keys().next().unwrap();
                        model.remove(&first);
                        n += 1;
                    }
                    prop_assert_eq!(db.run(&["XTRIM", "s", "MAXLEN", &max.to_string()]), int(n));
                }
                Op::TrimMinId(min) => {
                    let doomed: Vec<Id> = model.range(..min).map(|(k, _)| *k).collect();
                    for k in &doomed {
                        model.remove(k);
                    }
                    prop_assert_eq!(db.run(&["XTRIM", "s", "MINID", &fmt_id(min)]), int(doomed.len() as i64));
                }
                Op::Range(a, b, ea, eb, count, rev) => {
                    let sa = if ea { format!("({}", fmt_id(a)) } else { fmt_id(a) };
                    let sb = if eb { format!("({}", fmt_id(b)) } else { fmt_id(b) };
                    let mut argv = if rev {
                        vec!["XREVRANGE".to_string(), "s".into(), sb.clone(), sa.clone()]
                    } else {
                        vec!["XRANGE".to_string(), "s".into(), sa.clone(), sb.clone()]
                    };
                    if let Some(c) = count {
                        argv.push("COUNT".into());
                        argv.push(c.to_string());
                    }
                    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                    let reply = db.run(&argv);
                    // Exclusive bounds of 0-0 going down are an error; ours never are.
                    let mut items: Vec<(Id, Vec<String>)> = model
                        .iter()
                        .filter(|(k, _)| (if ea { **k > a } else { **k >= a }) && (if eb { **k < b } else { **k <= b }))
                        .map(|(k, v)| (*k, v.clone()))
                        .collect();
                    if rev {
                        items.reverse();
                    }
                    if !exists {
                        prop_assert_eq!(reply, Frame::Array(vec![]));
                    } else if count == Some(0) {
                        prop_assert_eq!(reply, Frame::NullArray);
                    } else {
                        if let Some(c) = count {
                            items.truncate(c as usize);
                        }
                        prop_assert_eq!(reply, expected_entries(&items));
                    }
                }
            }
            prop_assert_eq!(db.run(&["XLEN", "s"]), int(model.len() as i64));
        }
        if exists {
            let info = db.run(&["XINFO", "STREAM", "s"]);
            prop_assert_eq!(field(&info, "last-generated-id"), &bulk(&fmt_id(last)));
            prop_assert_eq!(field(&info, "entries-added"), &int(added as i64));
            prop_assert_eq!(field(&info, "max-deleted-entry-id"), &bulk(&fmt_id(max_deleted)));
            let first = model.keys().next().copied().unwrap_or((0, 0));
            prop_assert_eq!(field(&info, "recorded-first-entry-id"), &bulk(&fmt_id(first)));
            let last_entry = match model.iter().next_back() {
                Some((k, v)) => expected_entries(&[(*k, v.clone())]),
                None => Frame::Array(vec![]),
            };
            let got = match field(&info, "last-entry") {
                Frame::Null => Frame::Array(vec![]),
                e => Frame::Array(vec![e.clone()]),
            };
            prop_assert_eq!(got, last_entry);
            prop_assert_eq!(db.run(&["XRANGE", "s", "-", "+"]), expected_entries(&model.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()));
        }
    }
}

#[derive(Debug, Clone)]
enum GOp {
    Add,
    Read(u8, u64),
    History(u8),
    Ack(Vec<u64>),
    Claim(u8, u64),
    AutoClaim(u8, u64),
    Del(u64),
    DelConsumer(u8),
}

fn gop() -> impl Strategy<Value = GOp> {
    prop_oneof![
        3 => Just(GOp::Add),
        3 => (0u8..3, 1u64..4).prop_map(|(c, n)| GOp::Read(c, n)),
        1 => (0u8..3).prop_map(GOp::History),
        2 => proptest::collection::vec(0u64..20, 1..4).prop_map(GOp::Ack),
        1 => (0u8..3, 0u64..20).prop_map(|(c, i)| GOp::Claim(c, i)),
        1 => (0u8..3, 1u64..4).prop_map(|(c, n)| GOp::AutoClaim(c, n)),
        1 => (0u64..20).prop_map(GOp::Del),
        1 => (0u8..3).prop_map(GOp::DelConsumer),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn consumer_group_matches_a_model(ops in proptest::collection::vec(gop(), 1..60)) {
        let mut db = Db::new();
        db.run(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        let name = |c: u8| format!("c{c}");
        // Entries are 1-0, 1-1, ...: the model keys them by sequence.
        let mut entries: BTreeMap<u64, String> = BTreeMap::new();
        let mut next = 0u64;
        let mut last_delivered: Option<u64> = None;
        // seq -> (consumer, delivery count)
        let mut pel: BTreeMap<u64, (u8, u64)> = BTreeMap::new();
        let mut consumers: std::collections::BTreeSet<u8> = Default::default();
        let entry_of = |seq: u64, v: &str| entry(&format!("1-{seq}"), &["v", v]);
        for op in ops {
            match op {
                GOp::Add => {
                    let v = format!("x{next}");
                    prop_assert_eq!(db.run(&["XADD", "s", &format!("1-{next}"), "v", &v]), bulk(&format!("1-{next}")));
                    entries.insert(next, v);
                    next += 1;
                }
                GOp::Read(c, n) => {
                    consumers.insert(c);
                    let reply = db.run(&["XREADGROUP", "GROUP", "g", &name(c), "COUNT", &n.to_string(), "STREAMS", "s", ">"]);
                    let fresh: Vec<u64> = entries
                        .range(last_delivered.map_or(0, |l| l + 1)..)
                        .take(n as usize)
                        .map(|(k, _)| *k)
                        .collect();
                    if fresh.is_empty() {
                        prop_assert_eq!(reply, Frame::NullArray);
                    } else {
                        let items = fresh.iter().map(|s| entry_of(*s, &entries[s])).collect();
                        prop_assert_eq!(reply, list(vec![stream_reply("s", list(items))]));
                        for s in &fresh {
                            pel.insert(*s, (c, 1));
                        }
                        last_delivered = fresh.last().copied();
                    }
                }
                GOp::History(c) => {
                    consumers.insert(c);
                    let reply = db.run(&["XREADGROUP", "GROUP", "g", &name(c), "STREAMS", "s", "0"]);
                    let mut items = Vec::new();
                    for (s, (owner, count)) in pel.iter_mut() {
                        if *owner != c {
                            continue;
                        }
                        match entries.get(s) {
                            Some(v) => {
                                items.push(entry_of(*s, v));
                                *count += 1;
                            }
                            None => items.push(list(vec![bulk(&format!("1-{s}")), Frame::NullArray])),
                        }
                    }
                    prop_assert_eq!(reply, list(vec![stream_reply("s", list(items))]));
                }
                GOp::Ack(ids) => {
                    let mut argv = vec!["XACK".to_string(), "s".into(), "g".into()];
                    argv.extend(ids.iter().map(|s| format!("1-{s}")));
                    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                    let n = ids.iter().filter(|s| pel.remove(s).is_some()).count();
                    prop_assert_eq!(db.run(&argv), int(n as i64));
                }
                GOp::Claim(c, s) => {
                    consumers.insert(c);
                    let reply = db.run(&["XCLAIM", "s", "g", &name(c), "0", &format!("1-{s}")]);
                    match (entries.get(&s), pel.get_mut(&s)) {
                        (Some(v), Some(p)) => {
                            *p = (c, p.1 + 1);
                            prop_assert_eq!(reply, list(vec![entry_of(s, v)]));
                        }
                        (None, Some(_)) => {
                            pel.remove(&s);
                            prop_assert_eq!(reply, list(vec![]));
                        }
                        _ => prop_assert_eq!(reply, list(vec![])),
                    }
                }
                GOp::AutoClaim(c, n) => {
                    consumers.insert(c);
                    let reply = db.run(&["XAUTOCLAIM", "s", "g", &name(c), "0", "0-0", "COUNT", &n.to_string()]);
                    let mut left = n;
                    let mut claimed = Vec::new();
                    let mut deleted = Vec::new();
                    let mut cursor = "0-0".to_string();
                    let ids: Vec<u64> = pel.keys().copied().collect();
                    for s in ids {
                        if left == 0 {
                            cursor = format!("1-{s}");
                            break;
                        }
                        left -= 1;
                        match entries.get(&s) {
                            Some(v) => {
                                let p = pel.get_mut(&s).unwrap();
                                *p = (c, p.1 + 1);
                                claimed.push(entry_of(s, v));
                            }
                            None => {
                                pel.remove(&s);
                                deleted.push(bulk(&format!("1-{s}")));
                            }
                        }
                    }
                    prop_assert_eq!(reply, list(vec![bulk(&cursor), list(claimed), list(deleted)]));
                }
                GOp::Del(s) => {
                    let n = entries.remove(&s).is_some() as i64;
                    prop_assert_eq!(db.run(&["XDEL", "s", &format!("1-{s}")]), int(n));
                }
                GOp::DelConsumer(c) => {
                    let before = pel.len();
                    pel.retain(|_, (o, _)| *o != c);
                    let n = if consumers.remove(&c) { (before - pel.len()) as i64 } else { 0 };
                    prop_assert_eq!(db.run(&["XGROUP", "DELCONSUMER", "s", "g", &name(c)]), int(n));
                }
            }
            // XPENDING summary and full listing match the model.
            let summary = db.run(&["XPENDING", "s", "g"]);
            if pel.is_empty() {
                prop_assert_eq!(summary, list(vec![int(0), Frame::Null, Frame::Null, Frame::NullArray]));
            } else {
                let mut per: BTreeMap<u8, u64> = BTreeMap::new();
                for (o, _) in pel.values() {
                    *per.entry(*o).or_default() += 1;
                }
                let owners = per.iter().map(|(c, n)| arr(&[&name(*c), &n.to_string()])).collect();
                prop_assert_eq!(summary, list(vec![
                    int(pel.len() as i64),
                    bulk(&format!("1-{}", pel.keys().next().unwrap())),
                    bulk(&format!("1-{}", pel.keys().next_back().unwrap())),
                    list(owners),
                ]));
            }
            let listing = db.run(&["XPENDING", "s", "g", "-", "+", "1000"]);
            let want = pel
                .iter()
                .map(|(s, (o, n))| list(vec![bulk(&format!("1-{s}")), bulk(&name(*o)), int(0), int(*n as i64)]))
                .collect();
            prop_assert_eq!(listing, list(want));
            for c in 0..3u8 {
                let mine = db.run(&["XPENDING", "s", "g", "-", "+", "1000", &name(c)]);
                let want = pel
                    .iter()
                    .filter(|(_, (o, _))| *o == c)
                    .map(|(s, (o, n))| list(vec![bulk(&format!("1-{s}")), bulk(&name(*o)), int(0), int(*n as i64)]))
                    .collect();
                prop_assert_eq!(mine, list(want));
            }
            let Frame::Array(gs) = db.run(&["XINFO", "GROUPS", "s"]) else { panic!() };
            prop_assert_eq!(field(&gs[0], "pending"), &int(pel.len() as i64));
            prop_assert_eq!(field(&gs[0], "consumers"), &int(consumers.len() as i64));
        }
    }
}

/// XREVRANGE with COUNT finds the tail with bisection probes over the 128-bit ID space:
/// check it against a model on sparse, widely spread IDs and large streams.
fn sparse_ids() -> impl Strategy<Value = Vec<Id>> {
    proptest::collection::btree_set(
        prop_oneof![
            (0u64..50, 0u64..3),
            (any::<u64>(), any::<u64>()),
            (1_000_000u64..1_000_100, 0u64..1000),
            (Just(u64::MAX), u64::MAX - 5..=u64::MAX),
        ],
        1..400,
    )
    .prop_map(|s| s.into_iter().filter(|id| *id != (0, 0)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn xrevrange_tail_matches_a_model(
        ids in sparse_ids(),
        bounds in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), 1u64..40), 1..6),
    ) {
        let mut db = Db::new();
        for id in &ids {
            let r = db.run(&["XADD", "s", &fmt_id(*id), "k", "v"]);
            prop_assert_eq!(r, bulk(&fmt_id(*id)));
        }
        for (a, b, count) in bounds {
            let lo = ids[a.index(ids.len())];
            let hi = ids[b.index(ids.len())];
            let (lo, hi) = (lo.min(hi), lo.max(hi));
            let want: Vec<Frame> = ids
                .iter()
                .rev()
                .filter(|id| **id >= lo && **id <= hi)
                .take(count as usize)
                .map(|id| entry(&fmt_id(*id), &["k", "v"]))
                .collect();
            let got = db.run(&["XREVRANGE", "s", &fmt_id(hi), &fmt_id(lo), "COUNT", &count.to_string()]);
            prop_assert_eq!(got, list(want));
            let all: Vec<Frame> = ids
                .iter()
                .rev()
                .take(count as usize)
                .map(|id| entry(&fmt_id(*id), &["k", "v"]))
                .collect();
            let got = db.run(&["XREVRANGE", "s", "+", "-", "COUNT", &count.to_string()]);
            prop_assert_eq!(got, list(all));
        }
        // The last live entry after deleting the top one (XINFO's last-entry probes).
        let top = *ids.last().unwrap();
        db.run(&["XDEL", "s", &fmt_id(top)]);
        let info = db.run(&["XINFO", "STREAM", "s"]);
        let want = match ids.len() {
            1 => Frame::Null,
            n => entry(&fmt_id(ids[n - 2]), &["k", "v"]),
        };
        prop_assert_eq!(field(&info, "last-entry"), &want);
    }
}
