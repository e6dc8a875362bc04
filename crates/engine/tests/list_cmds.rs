//! List commands checked against Redis 7's documented behaviour (redis.io examples,
//! error texts), a VecDeque model, and the storage contract (O(1) writes at both
//! ends, O(1) DEL, no element records left behind by changes in the middle).

use engine::{Frame, MemStore, Txn, Write};
use proptest::prelude::*;
use std::collections::VecDeque;

mod common;
use common::*;

impl Db {
    /// RPUSH of many elements, in chunks.
    fn fill(&mut self, key: &str, n: usize) {
        let all: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
        for chunk in all.chunks(1000) {
            let mut argv = vec!["RPUSH".to_string(), key.to_string()];
            argv.extend(chunk.iter().cloned());
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            self.run(&argv);
        }
    }

    fn writes(&self) -> usize {
        self.last.writes.len()
    }

    /// Element records stored under the live version of `key` (0 if no key).
    fn live_records(&self, key: &str) -> usize {
        live_records(&self.store, key)
    }
}

fn ints(v: &[i64]) -> Frame {
    Frame::Array(v.iter().map(|&i| int(i)).collect())
}
fn arr(v: &[&str]) -> Frame {
    Frame::Array(v.iter().map(|s| bulk(s)).collect())
}
fn popped(key: &str, v: &[&str]) -> Frame {
    Frame::Array(vec![bulk(key), arr(v)])
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";

// ---- redis.io examples ----------------------------------------------------------------

#[test]
fn lpush_rpush_and_x_variants() {
    let mut db = Db::new();
    assert_eq!(db.run(&["LPUSH", "mylist", "world"]), int(1));
    assert_eq!(db.run(&["LPUSH", "mylist", "hello"]), int(2));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["hello", "world"])
    );
    // Several elements are pushed one after the other.
    assert_eq!(db.run(&["LPUSH", "l2", "a", "b", "c"]), int(3));
    assert_eq!(db.run(&["LRANGE", "l2", "0", "-1"]), arr(&["c", "b", "a"]));
    assert_eq!(db.run(&["RPUSH", "l2", "x", "y"]), int(5));
    assert_eq!(
        db.run(&["LRANGE", "l2", "0", "-1"]),
        arr(&["c", "b", "a", "x", "y"])
    );

    let mut db = Db::new();
    assert_eq!(db.run(&["RPUSH", "mylist", "hello"]), int(1));
    assert_eq!(db.run(&["RPUSH", "mylist", "world"]), int(2));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["hello", "world"])
    );

    let mut db = Db::new();
    assert_eq!(db.run(&["LPUSH", "mylist", "World"]), int(1));
    assert_eq!(db.run(&["LPUSHX", "mylist", "Hello"]), int(2));
    assert_eq!(db.run(&["LPUSHX", "myotherlist", "Hello"]), int(0));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["Hello", "World"])
    );
    assert_eq!(db.run(&["LRANGE", "myotherlist", "0", "-1"]), arr(&[]));
    assert_eq!(db.run(&["EXISTS", "myotherlist"]), int(0));

    let mut db = Db::new();
    assert_eq!(db.run(&["RPUSH", "mylist", "Hello"]), int(1));
    assert_eq!(db.run(&["RPUSHX", "mylist", "World"]), int(2));
    assert_eq!(db.run(&["RPUSHX", "myotherlist", "World"]), int(0));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["Hello", "World"])
    );
    assert_eq!(db.run(&["LRANGE", "myotherlist", "0", "-1"]), arr(&[]));
    assert_eq!(db.run(&["RPUSHX", "mylist", "a", "b"]), int(4));
    assert_eq!(db.run(&["TYPE", "mylist"]), Frame::Simple("list".into()));
}

#[test]
fn lindex_llen_lrange() {
    let mut db = Db::new();
    assert_eq!(db.run(&["LPUSH", "mylist", "World"]), int(1));
    assert_eq!(db.run(&["LPUSH", "mylist", "Hello"]), int(2));
    assert_eq!(db.run(&["LINDEX", "mylist", "0"]), bulk("Hello"));
    assert_eq!(db.run(&["LINDEX", "mylist", "-1"]), bulk("World"));
    assert_eq!(db.run(&["LINDEX", "mylist", "3"]), Frame::Null);
    assert_eq!(db.run(&["LINDEX", "mylist", "-3"]), Frame::Null);
    assert_eq!(db.run(&["LINDEX", "nokey", "0"]), Frame::Null);
    assert_eq!(db.run(&["LLEN", "mylist"]), int(2));
    assert_eq!(db.run(&["LLEN", "nokey"]), int(0));

    let mut db = Db::new();
    db.run(&["RPUSH", "mylist", "one"]);
    db.run(&["RPUSH", "mylist", "two"]);
    db.run(&["RPUSH", "mylist", "three"]);
    assert_eq!(db.run(&["LRANGE", "mylist", "0", "0"]), arr(&["one"]));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "-3", "2"]),
        arr(&["one", "two", "three"])
    );
    assert_eq!(
        db.run(&["LRANGE", "mylist", "-100", "100"]),
        arr(&["one", "two", "three"])
    );
    assert_eq!(db.run(&["LRANGE", "mylist", "5", "10"]), arr(&[]));
    assert_eq!(db.run(&["LRANGE", "mylist", "2", "1"]), arr(&[]));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "1", "-1"]),
        arr(&["two", "three"])
    );
    assert_eq!(db.run(&["LRANGE", "mylist", "-1", "-2"]), arr(&[]));
    assert_eq!(
        db.run(&[
            "LRANGE",
            "mylist",
            "-9223372036854775808",
            "9223372036854775807"
        ]),
        arr(&["one", "two", "three"])
    );
    assert_eq!(db.run(&["LRANGE", "nokey", "0", "-1"]), arr(&[]));
}

#[test]
fn linsert() {
    let mut db = Db::new();
    assert_eq!(db.run(&["RPUSH", "mylist", "Hello"]), int(1));
    assert_eq!(db.run(&["RPUSH", "mylist", "World"]), int(2));
    assert_eq!(
        db.run(&["LINSERT", "mylist", "BEFORE", "World", "There"]),
        int(3)
    );
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["Hello", "There", "World"])
    );
    assert_eq!(
        db.run(&["LINSERT", "mylist", "after", "World", "!"]),
        int(4)
    );
    assert_eq!(
        db.run(&["LINSERT", "mylist", "before", "Hello", ">"]),
        int(5)
    );
    assert_eq!(
        db.run(&["LINSERT", "mylist", "AFTER", "nope", "x"]),
        int(-1)
    );
    assert_eq!(db.run(&["LINSERT", "nokey", "AFTER", "World", "x"]), int(0));
    assert_eq!(db.run(&["EXISTS", "nokey"]), int(0));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&[">", "Hello", "There", "World", "!"])
    );
    // The first match from the head is the pivot.
    let mut db = Db::new();
    db.run(&["RPUSH", "l", "a", "p", "b", "p", "c"]);
    assert_eq!(db.run(&["LINSERT", "l", "AFTER", "p", "x"]), int(6));
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        arr(&["a", "p", "x", "b", "p", "c"])
    );
    assert_eq!(db.run(&["LINSERT", "l", "BEFORE", "c", "y"]), int(7));
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        arr(&["a", "p", "x", "b", "p", "y", "c"])
    );
}

#[test]
fn lmove_and_rpoplpush() {
    let mut db = Db::new();
    db.run(&["RPUSH", "mylist", "one"]);
    db.run(&["RPUSH", "mylist", "two"]);
    db.run(&["RPUSH", "mylist", "three"]);
    assert_eq!(
        db.run(&["LMOVE", "mylist", "myotherlist", "RIGHT", "LEFT"]),
        bulk("three")
    );
    assert_eq!(
        db.run(&["LMOVE", "mylist", "myotherlist", "LEFT", "RIGHT"]),
        bulk("one")
    );
    assert_eq!(db.run(&["LRANGE", "mylist", "0", "-1"]), arr(&["two"]));
    assert_eq!(
        db.run(&["LRANGE", "myotherlist", "0", "-1"]),
        arr(&["three", "one"])
    );
    // Moving the last element deletes the source.
    assert_eq!(
        db.run(&["LMOVE", "mylist", "myotherlist", "left", "left"]),
        bulk("two")
    );
    assert_eq!(db.run(&["EXISTS", "mylist"]), int(0));
    assert_eq!(
        db.run(&["LMOVE", "mylist", "myotherlist", "LEFT", "LEFT"]),
        Frame::Null
    );
    assert_eq!(
        db.run(&["LRANGE", "myotherlist", "0", "-1"]),
        arr(&["two", "three", "one"])
    );
    // Same list: a rotation, also with a single element.
    assert_eq!(
        db.run(&["LMOVE", "myotherlist", "myotherlist", "LEFT", "RIGHT"]),
        bulk("two")
    );
    assert_eq!(
        db.run(&["LRANGE", "myotherlist", "0", "-1"]),
        arr(&["three", "one", "two"])
    );
    db.run(&["RPUSH", "single", "x"]);
    assert_eq!(
        db.run(&["LMOVE", "single", "single", "RIGHT", "LEFT"]),
        bulk("x")
    );
    assert_eq!(
        db.run(&["LMOVE", "single", "single", "LEFT", "RIGHT"]),
        bulk("x")
    );
    assert_eq!(db.run(&["LRANGE", "single", "0", "-1"]), arr(&["x"]));

    let mut db = Db::new();
    db.run(&["RPUSH", "mylist", "one"]);
    db.run(&["RPUSH", "mylist", "two"]);
    db.run(&["RPUSH", "mylist", "three"]);
    assert_eq!(
        db.run(&["RPOPLPUSH", "mylist", "myotherlist"]),
        bulk("three")
    );
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["one", "two"])
    );
    assert_eq!(
        db.run(&["LRANGE", "myotherlist", "0", "-1"]),
        arr(&["three"])
    );
    assert_eq!(db.run(&["RPOPLPUSH", "mylist", "mylist"]), bulk("two"));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["two", "one"])
    );
    assert_eq!(db.run(&["RPOPLPUSH", "nokey", "mylist"]), Frame::Null);
}

#[test]
fn lmpop() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["LMPOP", "2", "non1", "non2", "LEFT", "COUNT", "10"]),
        Frame::NullArray
    );
    assert_eq!(
        db.run(&["LPUSH", "mylist", "one", "two", "three", "four", "five"]),
        int(5)
    );
    assert_eq!(
        db.run(&["LMPOP", "1", "mylist", "LEFT"]),
        popped("mylist", &["five"])
    );
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["four", "three", "two", "one"])
    );
    assert_eq!(
        db.run(&["LMPOP", "1", "mylist", "RIGHT", "COUNT", "10"]),
        popped("mylist", &["one", "two", "three", "four"])
    );
    assert_eq!(
        db.run(&["LPUSH", "mylist", "one", "two", "three", "four", "five"]),
        int(5)
    );
    assert_eq!(
        db.run(&["LPUSH", "mylist2", "a", "b", "c", "d", "e"]),
        int(5)
    );
    assert_eq!(
        db.run(&["LMPOP", "2", "mylist", "mylist2", "right", "count", "3"]),
        popped("mylist", &["one", "two", "three"])
    );
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["five", "four"])
    );
    assert_eq!(
        db.run(&["LMPOP", "2", "mylist", "mylist2", "right", "count", "5"]),
        popped("mylist", &["four", "five"])
    );
    assert_eq!(
        db.run(&["LMPOP", "2", "mylist", "mylist2", "right", "count", "10"]),
        popped("mylist2", &["a", "b", "c", "d", "e"])
    );
    assert_eq!(db.run(&["EXISTS", "mylist", "mylist2"]), int(0));
    // Keys are tried in order; a wrongly typed key after the first non-empty list is
    // never looked at, one before it is an error.
    db.run(&["SET", "s", "v"]);
    db.run(&["RPUSH", "l", "x", "y"]);
    assert_eq!(
        db.run(&["LMPOP", "3", "nokey", "l", "s", "LEFT"]),
        popped("l", &["x"])
    );
    assert_eq!(db.run(&["LMPOP", "2", "s", "l", "LEFT"]), err(WRONGTYPE));
    assert_eq!(db.run(&["LRANGE", "l", "0", "-1"]), arr(&["y"]));
}

#[test]
fn lpop_rpop() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["RPUSH", "mylist", "one", "two", "three", "four", "five"]),
        int(5)
    );
    assert_eq!(db.run(&["LPOP", "mylist"]), bulk("one"));
    assert_eq!(db.run(&["LPOP", "mylist", "2"]), arr(&["two", "three"]));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["four", "five"])
    );

    let mut db = Db::new();
    assert_eq!(
        db.run(&["RPUSH", "mylist", "one", "two", "three", "four", "five"]),
        int(5)
    );
    assert_eq!(db.run(&["RPOP", "mylist"]), bulk("five"));
    assert_eq!(db.run(&["RPOP", "mylist", "2"]), arr(&["four", "three"]));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["one", "two"])
    );
    // RESP2 nil vs empty array rules (Redis 7).
    assert_eq!(db.run(&["RPOP", "mylist", "0"]), arr(&[]));
    assert_eq!(db.run(&["LPOP", "mylist", "0"]), arr(&[]));
    assert_eq!(db.run(&["LPOP", "nokey"]), Frame::Null);
    assert_eq!(db.run(&["RPOP", "nokey"]), Frame::Null);
    assert_eq!(db.run(&["LPOP", "nokey", "1"]), Frame::NullArray);
    assert_eq!(db.run(&["RPOP", "nokey", "0"]), Frame::NullArray);
    assert_eq!(db.run(&["RPOP", "mylist", "10"]), arr(&["two", "one"]));
    assert_eq!(db.run(&["EXISTS", "mylist"]), int(0));
    db.run(&["RPUSH", "l", "a"]);
    assert_eq!(db.run(&["LPOP", "l"]), bulk("a"));
    assert_eq!(db.run(&["EXISTS", "l"]), int(0));
}

#[test]
fn lpos() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["RPUSH", "mylist", "a", "b", "c", "d", "1", "2", "3", "4", "3", "3", "3"]),
        int(11)
    );
    assert_eq!(db.run(&["LPOS", "mylist", "3"]), int(6));
    assert_eq!(
        db.run(&["LPOS", "mylist", "3", "COUNT", "0", "RANK", "2"]),
        ints(&[8, 9, 10])
    );

    let mut db = Db::new();
    db.run(&["RPUSH", "mylist", "a", "b", "c", "1", "2", "3", "c", "c"]);
    assert_eq!(db.run(&["LPOS", "mylist", "c"]), int(2));
    assert_eq!(db.run(&["LPOS", "mylist", "c", "RANK", "2"]), int(6));
    assert_eq!(db.run(&["LPOS", "mylist", "c", "RANK", "-1"]), int(7));
    assert_eq!(
        db.run(&["LPOS", "mylist", "c", "COUNT", "2"]),
        ints(&[2, 6])
    );
    assert_eq!(
        db.run(&["LPOS", "mylist", "c", "RANK", "-1", "COUNT", "2"]),
        ints(&[7, 6])
    );
    assert_eq!(
        db.run(&["LPOS", "mylist", "c", "COUNT", "0"]),
        ints(&[2, 6, 7])
    );
    assert_eq!(
        db.run(&["LPOS", "mylist", "c", "COUNT", "0", "MAXLEN", "3"]),
        ints(&[2])
    );
    assert_eq!(
        db.run(&["LPOS", "mylist", "c", "RANK", "-1", "MAXLEN", "2"]),
        int(7)
    );
    assert_eq!(
        db.run(&["LPOS", "mylist", "c", "RANK", "-3", "MAXLEN", "2"]),
        Frame::Null
    );
    assert_eq!(db.run(&["LPOS", "mylist", "c", "RANK", "-3"]), int(2));
    assert_eq!(db.run(&["LPOS", "mylist", "c", "RANK", "4"]), Frame::Null);
    assert_eq!(
        db.run(&["LPOS", "mylist", "c", "RANK", "4", "COUNT", "1"]),
        ints(&[])
    );
    assert_eq!(db.run(&["LPOS", "mylist", "z"]), Frame::Null);
    assert_eq!(db.run(&["LPOS", "nokey", "z"]), Frame::Null);
    assert_eq!(db.run(&["LPOS", "nokey", "z", "COUNT", "1"]), ints(&[]));
    // The last option given wins.
    assert_eq!(
        db.run(&["LPOS", "mylist", "c", "RANK", "1", "RANK", "3"]),
        int(7)
    );
}

#[test]
fn lpos_scans_backwards_across_chunks() {
    let mut db = Db::new();
    db.fill("l", 5000);
    db.run(&["RPUSH", "l", "needle"]);
    db.run(&["LPUSH", "l", "needle"]);
    db.run(&["LINSERT", "l", "AFTER", "e2500", "needle"]);
    assert_eq!(
        db.run(&["LPOS", "l", "needle", "RANK", "-1", "COUNT", "0"]),
        ints(&[5002, 2502, 0])
    );
    assert_eq!(
        db.run(&["LPOS", "l", "needle", "COUNT", "0"]),
        ints(&[0, 2502, 5002])
    );
    assert_eq!(db.run(&["LPOS", "l", "needle", "RANK", "-2"]), int(2502));
    assert_eq!(db.run(&["LPOS", "l", "e0", "RANK", "-1"]), int(1));
    assert_eq!(
        db.run(&["LPOS", "l", "e0", "RANK", "-1", "MAXLEN", "5001"]),
        Frame::Null
    );
    assert_eq!(
        db.run(&["LPOS", "l", "e0", "RANK", "-1", "MAXLEN", "5002"]),
        int(1)
    );
    assert_eq!(db.run(&["LPOS", "l", "e0", "MAXLEN", "1"]), Frame::Null);
    assert_eq!(db.run(&["LPOS", "l", "e0", "MAXLEN", "2"]), int(1));
}

#[test]
fn lrem() {
    let mut db = Db::new();
    db.run(&["RPUSH", "mylist", "hello"]);
    db.run(&["RPUSH", "mylist", "hello"]);
    db.run(&["RPUSH", "mylist", "foo"]);
    db.run(&["RPUSH", "mylist", "hello"]);
    assert_eq!(db.run(&["LREM", "mylist", "-2", "hello"]), int(2));
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["hello", "foo"])
    );
    assert_eq!(db.run(&["LREM", "mylist", "0", "nope"]), int(0));
    assert_eq!(db.run(&["LREM", "nokey", "0", "x"]), int(0));

    let mut db = Db::new();
    db.run(&["RPUSH", "l", "a", "x", "b", "x", "c", "x", "d"]);
    assert_eq!(db.run(&["LREM", "l", "2", "x"]), int(2));
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        arr(&["a", "b", "c", "x", "d"])
    );
    assert_eq!(db.run(&["LREM", "l", "0", "x"]), int(1));
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        arr(&["a", "b", "c", "d"])
    );
    assert_eq!(db.live_records("l"), 4);
    db.run(&["RPUSH", "l2", "x", "x", "x"]);
    assert_eq!(db.run(&["LREM", "l2", "0", "x"]), int(3));
    assert_eq!(db.run(&["EXISTS", "l2"]), int(0));
}

#[test]
fn lset_ltrim() {
    let mut db = Db::new();
    db.run(&["RPUSH", "mylist", "one"]);
    db.run(&["RPUSH", "mylist", "two"]);
    db.run(&["RPUSH", "mylist", "three"]);
    assert_eq!(db.run(&["LSET", "mylist", "0", "four"]), Frame::ok());
    assert_eq!(db.run(&["LSET", "mylist", "-2", "five"]), Frame::ok());
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["four", "five", "three"])
    );
    assert_eq!(
        db.run(&["LSET", "mylist", "3", "x"]),
        err("ERR index out of range")
    );
    assert_eq!(
        db.run(&["LSET", "mylist", "-4", "x"]),
        err("ERR index out of range")
    );
    assert_eq!(db.run(&["LSET", "nokey", "0", "x"]), err("ERR no such key"));
    assert_eq!(db.run(&["LSET", "mylist", "x", "x"]), err(NOT_INT));
    assert_eq!(db.run(&["LSET", "nokey", "x", "x"]), err("ERR no such key"));

    let mut db = Db::new();
    db.run(&["RPUSH", "mylist", "one"]);
    db.run(&["RPUSH", "mylist", "two"]);
    db.run(&["RPUSH", "mylist", "three"]);
    assert_eq!(db.run(&["LTRIM", "mylist", "1", "-1"]), Frame::ok());
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["two", "three"])
    );
    assert_eq!(db.run(&["LTRIM", "mylist", "0", "100"]), Frame::ok());
    assert_eq!(
        db.run(&["LRANGE", "mylist", "0", "-1"]),
        arr(&["two", "three"])
    );
    assert_eq!(db.run(&["LTRIM", "mylist", "0", "0"]), Frame::ok());
    assert_eq!(db.run(&["LRANGE", "mylist", "0", "-1"]), arr(&["two"]));
    assert_eq!(db.run(&["LTRIM", "mylist", "1", "0"]), Frame::ok());
    assert_eq!(db.run(&["EXISTS", "mylist"]), int(0));
    assert_eq!(db.run(&["LTRIM", "nokey", "0", "1"]), Frame::ok());
    assert_eq!(db.run(&["EXISTS", "nokey"]), int(0));
}

// ---- errors and the command table -----------------------------------------------------

#[test]
fn wrongtype_against_a_string() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "s", "v"]), Frame::ok());
    db.run(&["RPUSH", "l", "a"]);
    for cmd in [
        &["LINDEX", "s", "0"][..],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LLEN", "s"],
        &["LMOVE", "s", "l", "LEFT", "LEFT"],
        &["LMOVE", "l", "s", "LEFT", "LEFT"],
        &["LMPOP", "1", "s", "LEFT"],
        &["LMPOP", "2", "nokey", "s", "RIGHT", "COUNT", "2"],
        &["LPOP", "s"],
        &["LPOP", "s", "0"],
        &["LPOS", "s", "a"],
        &["LPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["LRANGE", "s", "0", "-1"],
        &["LREM", "s", "0", "a"],
        &["LSET", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["RPOP", "s"],
        &["RPOP", "s", "2"],
        &["RPOPLPUSH", "s", "l"],
        &["RPOPLPUSH", "l", "s"],
        &["RPUSH", "s", "a"],
        &["RPUSHX", "s", "a"],
    ] {
        assert_eq!(db.run(cmd), err(WRONGTYPE), "{cmd:?}");
    }
    // Nothing moved, nothing changed.
    assert_eq!(db.run(&["GET", "s"]), bulk("v"));
    assert_eq!(db.run(&["LRANGE", "l", "0", "-1"]), arr(&["a"]));
    // A missing source wins over a wrongly typed destination (Redis's check order).
    assert_eq!(db.run(&["RPOPLPUSH", "nokey", "s"]), Frame::Null);
    assert_eq!(
        db.run(&["LMOVE", "nokey", "s", "LEFT", "RIGHT"]),
        Frame::Null
    );
    db.run(&["SADD", "set", "m"]);
    assert_eq!(db.run(&["LPUSH", "set", "a"]), err(WRONGTYPE));
    assert_eq!(db.run(&["SADD", "l", "a"]), err(WRONGTYPE));
}

#[test]
fn argument_errors() {
    let mut db = Db::new();
    db.run(&["RPUSH", "l", "a", "b", "c"]);
    // Integers.
    assert_eq!(db.run(&["LINDEX", "l", "x"]), err(NOT_INT));
    assert_eq!(db.run(&["LINDEX", "nokey", "x"]), Frame::Null);
    assert_eq!(db.run(&["LRANGE", "l", "0", "1.5"]), err(NOT_INT));
    assert_eq!(db.run(&["LRANGE", "nokey", "x", "1"]), err(NOT_INT));
    assert_eq!(db.run(&["LTRIM", "l", "x", "1"]), err(NOT_INT));
    assert_eq!(db.run(&["LREM", "l", "x", "a"]), err(NOT_INT));
    assert_eq!(db.run(&["LREM", "nokey", "x", "a"]), err(NOT_INT));
    // POP counts.
    let positive = "ERR value is out of range, must be positive";
    assert_eq!(db.run(&["LPOP", "l", "-1"]), err(positive));
    assert_eq!(db.run(&["RPOP", "l", "x"]), err(positive));
    assert_eq!(db.run(&["LPOP", "nokey", "-1"]), err(positive));
    assert_eq!(
        db.run(&["LPOP", "l", "1", "2"]),
        err("ERR wrong number of arguments for 'lpop' command")
    );
    assert_eq!(
        db.run(&["RPOP", "l", "1", "2"]),
        err("ERR wrong number of arguments for 'rpop' command")
    );
    // LPOS options.
    assert_eq!(db.run(&["LPOS", "l", "a", "RANK", "0"]), err(RANK_ZERO));
    assert_eq!(db.run(&["LPOS", "nokey", "a", "RANK", "0"]), err(RANK_ZERO));
    assert_eq!(db.run(&["LPOS", "l", "a", "RANK", "x"]), err(NOT_INT));
    assert_eq!(
        db.run(&["LPOS", "l", "a", "RANK", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        db.run(&["LPOS", "l", "a", "COUNT", "-1"]),
        err("ERR COUNT can't be negative")
    );
    assert_eq!(
        db.run(&["LPOS", "l", "a", "COUNT", "x"]),
        err("ERR COUNT can't be negative")
    );
    assert_eq!(
        db.run(&["LPOS", "l", "a", "MAXLEN", "-1"]),
        err("ERR MAXLEN can't be negative")
    );
    assert_eq!(db.run(&["LPOS", "l", "a", "RANK"]), err(SYNTAX));
    assert_eq!(db.run(&["LPOS", "l", "a", "FOO", "1"]), err(SYNTAX));
    // LINSERT / LMOVE directions.
    assert_eq!(db.run(&["LINSERT", "l", "MIDDLE", "a", "x"]), err(SYNTAX));
    assert_eq!(
        db.run(&["LINSERT", "nokey", "MIDDLE", "a", "x"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["LMOVE", "l", "d", "UP", "LEFT"]), err(SYNTAX));
    assert_eq!(db.run(&["LMOVE", "l", "d", "LEFT", "DOWN"]), err(SYNTAX));
    assert_eq!(
        db.run(&["LMOVE", "nokey", "d", "LEFT", "DOWN"]),
        err(SYNTAX)
    );
    // LMPOP.
    let numkeys = "ERR numkeys should be greater than 0";
    let count = "ERR count should be greater than 0";
    assert_eq!(db.run(&["LMPOP", "0", "l", "LEFT"]), err(numkeys));
    assert_eq!(db.run(&["LMPOP", "-1", "l", "LEFT"]), err(numkeys));
    assert_eq!(db.run(&["LMPOP", "x", "l", "LEFT"]), err(numkeys));
    assert_eq!(db.run(&["LMPOP", "3", "l", "LEFT"]), err(SYNTAX));
    assert_eq!(
        db.run(&["LMPOP", "9223372036854775807", "l", "LEFT"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["LMPOP", "1", "l", "MIDDLE"]), err(SYNTAX));
    assert_eq!(
        db.run(&["LMPOP", "1", "l", "LEFT", "COUNT", "0"]),
        err(count)
    );
    assert_eq!(
        db.run(&["LMPOP", "1", "l", "LEFT", "COUNT", "x"]),
        err(count)
    );
    assert_eq!(db.run(&["LMPOP", "1", "l", "LEFT", "COUNT"]), err(SYNTAX));
    assert_eq!(
        db.run(&["LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["LMPOP", "1", "l", "LEFT", "FOO"]), err(SYNTAX));
    // Nothing above changed the list.
    assert_eq!(db.run(&["LRANGE", "l", "0", "-1"]), arr(&["a", "b", "c"]));
    // Arity.
    for (cmd, name) in [
        (&["LPUSH", "l"][..], "lpush"),
        (&["RPUSHX", "l"], "rpushx"),
        (&["LINDEX", "l"], "lindex"),
        (&["LRANGE", "l", "0"], "lrange"),
        (&["LINSERT", "l", "BEFORE", "a"], "linsert"),
        (&["LMOVE", "a", "b", "LEFT"], "lmove"),
        (&["LMPOP", "1", "l"], "lmpop"),
        (&["RPOPLPUSH", "a"], "rpoplpush"),
        (&["LPOS", "l"], "lpos"),
        (&["LLEN"], "llen"),
    ] {
        assert_eq!(
            db.run(cmd),
            err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            )),
            "{cmd:?}"
        );
    }
}

#[test]
fn command_table_rows() {
    let row = |n: &str| engine::lookup(n.as_bytes()).unwrap();
    let argv = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    for (name, arity, write, fast, since) in [
        ("lindex", 3, false, false, "1.0.0"),
        ("linsert", 5, true, false, "2.2.0"),
        ("llen", 2, false, true, "1.0.0"),
        ("lmove", 5, true, false, "6.2.0"),
        ("lmpop", -4, true, false, "7.0.0"),
        ("lpop", -2, true, true, "1.0.0"),
        ("lpos", -3, false, false, "6.0.6"),
        ("lpush", -3, true, true, "1.0.0"),
        ("lpushx", -3, true, true, "2.2.0"),
        ("lrange", 4, false, false, "1.0.0"),
        ("lrem", 4, true, false, "1.0.0"),
        ("lset", 4, true, false, "1.0.0"),
        ("ltrim", 4, true, false, "1.0.0"),
        ("rpop", -2, true, true, "1.0.0"),
        ("rpoplpush", 3, true, false, "1.2.0"),
        ("rpush", -3, true, true, "1.0.0"),
        ("rpushx", -3, true, true, "2.2.0"),
    ] {
        let c = row(name);
        assert_eq!(
            (c.arity, c.is_write(), c.group, c.since),
            (arity, write, "list", since),
            "{name}"
        );
        let cats = c.acl_categories();
        assert_eq!(
            cats,
            vec![
                if write { "@write" } else { "@read" },
                "@list",
                if fast { "@fast" } else { "@slow" }
            ],
            "{name}"
        );
    }
    for blocking in ["blpop", "brpop", "blmove", "blmpop", "brpoplpush"] {
        let spec = engine::lookup(blocking.as_bytes()).unwrap();
        assert!(spec.flag_names().contains(&"blocking"), "{blocking}");
        assert!(spec.is_write(), "{blocking}");
    }
    assert_eq!(row("lpush").flag_names(), vec!["write", "denyoom", "fast"]);
    assert_eq!(row("lmpop").flag_names(), vec!["write", "movablekeys"]);
    assert_eq!(
        row("lmove").key_positions(&argv(&["lmove", "a", "b", "left", "right"])),
        vec![1, 2]
    );
    assert_eq!(
        row("rpoplpush").key_positions(&argv(&["rpoplpush", "a", "b"])),
        vec![1, 2]
    );
    assert_eq!(
        row("lmpop").key_positions(&argv(&["lmpop", "2", "a", "b", "left", "count", "3"])),
        vec![2, 3]
    );
    assert_eq!(
        row("lmpop").key_positions(&argv(&["lmpop", "9", "a", "left"])),
        Vec::<usize>::new()
    );
    // Key-size limits apply to LMPOP's movable keys.
    let mut db = Db::new();
    let big = "k".repeat(engine::MAX_KEY_BYTES + 1);
    assert!(matches!(
        db.run(&["LMPOP", "1", &big, "LEFT"]),
        Frame::Error(e) if e.starts_with("ERR max key size exceeded")
    ));
}

// ---- storage contract -----------------------------------------------------------------

#[test]
fn end_operations_are_o1_and_del_is_o1() {
    let mut db = Db::new();
    db.fill("big", 10_000);
    assert_eq!(db.run(&["LLEN", "big"]), int(10_000));
    assert_eq!(db.run(&["LPUSH", "big", "first"]), int(10_001));
    assert!(db.writes() <= 4, "LPUSH wrote {}", db.writes());
    assert_eq!(db.run(&["RPUSH", "big", "last"]), int(10_002));
    assert!(db.writes() <= 4, "RPUSH wrote {}", db.writes());
    assert_eq!(db.run(&["LPOP", "big"]), bulk("first"));
    assert!(db.writes() <= 4, "LPOP wrote {}", db.writes());
    assert_eq!(db.run(&["RPOP", "big"]), bulk("last"));
    assert!(db.writes() <= 4, "RPOP wrote {}", db.writes());
    assert_eq!(db.run(&["LPUSHX", "big", "x"]), int(10_001));
    assert!(db.writes() <= 4, "LPUSHX wrote {}", db.writes());
    assert_eq!(db.run(&["LPOP", "big"]), bulk("x"));
    // Positions are direct: LINDEX/LSET touch one record.
    assert_eq!(db.run(&["LINDEX", "big", "5000"]), bulk("e5000"));
    assert_eq!(db.run(&["LINDEX", "big", "-1"]), bulk("e9999"));
    assert_eq!(db.run(&["LSET", "big", "5000", "mid"]), Frame::ok());
    assert!(db.writes() <= 4, "LSET wrote {}", db.writes());
    assert_eq!(db.run(&["LINDEX", "big", "5000"]), bulk("mid"));
    // Moving between two lists and rotating one.
    assert_eq!(db.run(&["RPOPLPUSH", "big", "big"]), bulk("e9999"));
    assert!(db.writes() <= 4, "RPOPLPUSH wrote {}", db.writes());
    assert_eq!(
        db.run(&["LMOVE", "big", "other", "LEFT", "RIGHT"]),
        bulk("e9999")
    );
    assert!(db.writes() <= 6, "LMOVE wrote {}", db.writes());
    assert_eq!(
        db.run(&["LMOVE", "big", "other", "LEFT", "RIGHT"]),
        bulk("e0")
    );
    assert!(db.writes() <= 4, "LMOVE wrote {}", db.writes());
    // Changes near an end only move the few elements on that side.
    assert_eq!(
        db.run(&["LINSERT", "big", "BEFORE", "e3", "ins"]),
        int(9_999)
    );
    assert!(db.writes() <= 6, "LINSERT wrote {}", db.writes());
    assert_eq!(
        db.run(&["LRANGE", "big", "0", "3"]),
        arr(&["e1", "e2", "ins", "e3"])
    );
    assert_eq!(db.run(&["LREM", "big", "-1", "e9996"]), int(1));
    assert!(db.writes() <= 5, "LREM wrote {}", db.writes());
    assert_eq!(
        db.run(&["LRANGE", "big", "-3", "-1"]),
        arr(&["e9995", "e9997", "e9998"])
    );
    assert_eq!(db.live_records("big"), 9_998);
    assert_eq!(db.run(&["DEL", "big"]), int(1));
    // Plus the key's tombstone and its time-index record (2 writes).
    assert!(db.writes() <= 6, "DEL wrote {}", db.writes());
    assert_eq!(db.run(&["LLEN", "big"]), int(0));
    // A new incarnation does not see the old records.
    assert_eq!(db.run(&["RPUSH", "big", "new"]), int(1));
    assert_eq!(db.run(&["LRANGE", "big", "0", "-1"]), arr(&["new"]));
    // Overwriting with a string is O(1) too.
    db.fill("big2", 10_000);
    assert_eq!(db.run(&["SET", "big2", "v"]), Frame::ok());
    assert!(db.writes() <= 4, "SET wrote {}", db.writes());
}

#[test]
fn bulk_removal_at_the_ends_uses_range_deletes() {
    let mut db = Db::new();
    db.fill("l", 10_000);
    assert_eq!(db.run(&["LTRIM", "l", "1000", "-1001"]), Frame::ok());
    assert!(db.writes() <= 4, "LTRIM wrote {}", db.writes());
    assert!(db
        .last
        .writes
        .iter()
        .any(|w| matches!(w, Write::DeleteRange(..))));
    assert_eq!(db.run(&["LLEN", "l"]), int(8_000));
    assert_eq!(db.live_records("l"), 8_000);
    assert_eq!(db.run(&["LRANGE", "l", "0", "0"]), arr(&["e1000"]));
    assert_eq!(db.run(&["LRANGE", "l", "-1", "-1"]), arr(&["e8999"]));
    // Popping many: one range delete, the reply in pop order.
    let Frame::Array(items) = db.run(&["RPOP", "l", "3000"]) else {
        panic!()
    };
    assert_eq!(items.len(), 3_000);
    assert_eq!(items[0], bulk("e8999"));
    assert_eq!(items[2_999], bulk("e6000"));
    assert!(db.writes() <= 4, "RPOP wrote {}", db.writes());
    let Frame::Array(items) = db.run(&["LMPOP", "1", "l", "LEFT", "COUNT", "2000"]) else {
        panic!()
    };
    assert_eq!(
        items[1],
        Frame::Array((1000..3000).map(|i| bulk(&format!("e{i}"))).collect())
    );
    assert!(db.writes() <= 4, "LMPOP wrote {}", db.writes());
    assert_eq!(db.live_records("l"), 3_000);
    // The freed indices are reused by later pushes.
    assert_eq!(db.run(&["LPUSH", "l", "p"]), int(3_001));
    assert_eq!(db.run(&["RPUSH", "l", "q"]), int(3_002));
    assert_eq!(db.run(&["LINDEX", "l", "0"]), bulk("p"));
    assert_eq!(db.run(&["LINDEX", "l", "-1"]), bulk("q"));
    assert_eq!(db.run(&["LINDEX", "l", "1"]), bulk("e3000"));
    assert_eq!(db.live_records("l"), 3_002);
    // Removing everything is a meta delete.
    assert_eq!(db.run(&["LTRIM", "l", "5000", "6000"]), Frame::ok());
    // Plus the key's tombstone and its time-index record (2 writes).
    assert!(db.writes() <= 6, "LTRIM wrote {}", db.writes());
    assert_eq!(db.run(&["EXISTS", "l"]), int(0));
    db.fill("l", 10_000);
    let Frame::Array(items) = db.run(&["LPOP", "l", "20000"]) else {
        panic!()
    };
    assert_eq!(items.len(), 10_000);
    // Emptied: the key goes, with its tombstone (2 writes).
    assert!(db.writes() <= 6, "LPOP wrote {}", db.writes());
    assert_eq!(db.run(&["EXISTS", "l"]), int(0));
}

#[test]
fn changes_in_a_transaction_see_each_other() {
    // Several commands in one Txn (MULTI/EXEC, scripts): pending writes and range
    // deletes must merge correctly with what is stored.
    let mut db = Db::new();
    db.fill("l", 300);
    db.index += 1;
    let mut t = Txn::new(&db.store, db.index, db.now, 7);
    let run = |t: &mut Txn, v: &[&str]| {
        t.run(
            0,
            &v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(run(&mut t, &["LTRIM", "l", "100", "199"]), Frame::ok());
    assert_eq!(run(&mut t, &["RPUSH", "l", "a", "b"]), int(102));
    assert_eq!(run(&mut t, &["LPUSH", "l", "z"]), int(103));
    assert_eq!(run(&mut t, &["LRANGE", "l", "0", "1"]), arr(&["z", "e100"]));
    assert_eq!(
        run(&mut t, &["LRANGE", "l", "-3", "-1"]),
        arr(&["e199", "a", "b"])
    );
    assert_eq!(run(&mut t, &["LREM", "l", "1", "e150"]), int(1));
    assert_eq!(
        run(&mut t, &["LINSERT", "l", "AFTER", "e101", "i"]),
        int(103)
    );
    let mut first: Vec<String> = vec!["z".into(), "e100".into(), "e101".into(), "i".into()];
    first.extend((102..179).map(|i| format!("e{i}")).filter(|s| s != "e150"));
    assert_eq!(first.len(), 80);
    assert_eq!(
        run(&mut t, &["LPOP", "l", "80"]),
        Frame::Array(first.iter().map(|s| bulk(s)).collect())
    );
    let effects = t.into_effects();
    db.store.apply(&effects);
    let rest: Vec<String> = (179..200)
        .map(|i| format!("e{i}"))
        .chain(["a".to_string(), "b".to_string()])
        .collect();
    assert_eq!(
        db.run(&["LRANGE", "l", "0", "-1"]),
        Frame::Array(rest.iter().map(|s| bulk(s)).collect())
    );
    assert_eq!(db.live_records("l"), rest.len());
}

#[test]
fn lists_expire_like_any_key() {
    let mut db = Db::new();
    db.run(&["RPUSH", "l", "a", "b"]);
    assert_eq!(db.run(&["PEXPIRE", "l", "100"]), int(1));
    assert_eq!(db.run(&["RPUSH", "l", "c"]), int(3));
    assert_eq!(db.run(&["PTTL", "l"]), int(100));
    db.now += 100;
    assert_eq!(db.run(&["LLEN", "l"]), int(0));
    assert_eq!(db.run(&["LPOP", "l"]), Frame::Null);
    assert_eq!(db.run(&["RPUSH", "l", "x"]), int(1));
    assert_eq!(db.run(&["LRANGE", "l", "0", "-1"]), arr(&["x"]));
    assert_eq!(db.run(&["PTTL", "l"]), int(-1));
}

// ---- model ----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Push(bool, Vec<u8>),
    Pop(bool, Option<u8>),
    Set(i8, u8),
    Rem(i8, u8),
    Insert(bool, u8, u8),
    Trim(i8, i8),
    Index(i8),
    Rotate(bool, bool),
}

fn val(v: u8) -> String {
    format!("v{v}")
}

fn op() -> impl Strategy<Value = Op> {
    let v = 0u8..5;
    let i = -12i8..12;
    prop_oneof![
        4 => (any::<bool>(), proptest::collection::vec(v.clone(), 1..6)).prop_map(|(l, vs)| Op::Push(l, vs)),
        1 => (any::<bool>(), proptest::collection::vec(v.clone(), 60..90)).prop_map(|(l, vs)| Op::Push(l, vs)),
        3 => (any::<bool>(), proptest::option::of(prop_oneof![0u8..4, 60u8..100])).prop_map(|(l, c)| Op::Pop(l, c)),
        2 => (i.clone(), v.clone()).prop_map(|(i, v)| Op::Set(i, v)),
        2 => (-3i8..4, v.clone()).prop_map(|(c, v)| Op::Rem(c, v)),
        2 => (any::<bool>(), v.clone(), v.clone()).prop_map(|(b, p, v)| Op::Insert(b, p, v)),
        2 => (i.clone(), i.clone()).prop_map(|(s, e)| Op::Trim(s, e)),
        1 => i.prop_map(Op::Index),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(a, b)| Op::Rotate(a, b)),
    ]
}

/// A Redis index into a model of length n, if inside it.
fn pos(n: usize, i: i64) -> Option<usize> {
    let p = if i < 0 { n as i64 + i } else { i };
    (0..n as i64).contains(&p).then_some(p as usize)
}

/// Applies `op` to the model; returns the argv and the reply Redis would give.
fn step(model: &mut VecDeque<String>, op: &Op) -> (Vec<String>, Frame) {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let n = model.len();
    match op {
        Op::Push(left, vs) => {
            let mut argv = s(&[if *left { "LPUSH" } else { "RPUSH" }, "l"]);
            for v in vs {
                argv.push(val(*v));
                if *left {
                    model.push_front(val(*v));
                } else {
                    model.push_back(val(*v));
                }
            }
            (argv, int(model.len() as i64))
        }
        Op::Pop(left, count) => {
            let name = if *left { "LPOP" } else { "RPOP" };
            let take = |model: &mut VecDeque<String>| {
                if *left {
                    model.pop_front()
                } else {
                    model.pop_back()
                }
            };
            match count {
                None => {
                    let r = take(model).map_or(Frame::Null, |v| bulk(&v));
                    (s(&[name, "l"]), r)
                }
                Some(c) => {
                    let argv = s(&[name, "l", &c.to_string()]);
                    if n == 0 {
                        return (argv, Frame::NullArray);
                    }
                    let items: Vec<Frame> = (0..*c)
                        .map_while(|_| take(model))
                        .map(|v| bulk(&v))
                        .collect();
                    (argv, Frame::Array(items))
                }
            }
        }
        Op::Set(i, v) => {
            let argv = s(&["LSET", "l", &i.to_string(), &val(*v)]);
            if n == 0 {
                return (argv, err("ERR no such key"));
            }
            match pos(n, *i as i64) {
                Some(p) => {
                    model[p] = val(*v);
                    (argv, Frame::ok())
                }
                None => (argv, err("ERR index out of range")),
            }
        }
        Op::Rem(c, v) => {
            let target = val(*v);
            let limit = if *c == 0 {
                usize::MAX
            } else {
                c.unsigned_abs() as usize
            };
            let mut hits: Vec<usize> = model
                .iter()
                .enumerate()
                .filter(|(_, x)| **x == target)
                .map(|(i, _)| i)
                .collect();
            if *c < 0 {
                hits.reverse();
            }
            hits.truncate(limit);
            hits.sort_unstable();
            for &h in hits.iter().rev() {
                model.remove(h);
            }
            (
                s(&["LREM", "l", &c.to_string(), &target]),
                int(hits.len() as i64),
            )
        }
        Op::Insert(before, p, v) => {
            let argv = s(&[
                "LINSERT",
                "l",
                if *before { "BEFORE" } else { "AFTER" },
                &val(*p),
                &val(*v),
            ]);
            if n == 0 {
                return (argv, int(0));
            }
            match model.iter().position(|x| *x == val(*p)) {
                None => (argv, int(-1)),
                Some(at) => {
                    model.insert(if *before { at } else { at + 1 }, val(*v));
                    (argv, int(model.len() as i64))
                }
            }
        }
        Op::Trim(a, b) => {
            let argv = s(&["LTRIM", "l", &a.to_string(), &b.to_string()]);
            let n = n as i64;
            let mut start = if *a < 0 { n + *a as i64 } else { *a as i64 };
            let mut end = if *b < 0 { n + *b as i64 } else { *b as i64 };
            start = start.max(0);
            if start > end || start >= n {
                model.clear();
            } else {
                end = end.min(n - 1);
                let kept: VecDeque<String> = model
                    .range(start as usize..=end as usize)
                    .cloned()
                    .collect();
                *model = kept;
            }
            (argv, Frame::ok())
        }
        Op::Index(i) => {
            let r = pos(n, *i as i64).map_or(Frame::Null, |p| bulk(&model[p]));
            (s(&["LINDEX", "l", &i.to_string()]), r)
        }
        Op::Rotate(from_left, to_left) => {
            let argv = s(&[
                "LMOVE",
                "l",
                "l",
                if *from_left { "LEFT" } else { "RIGHT" },
                if *to_left { "LEFT" } else { "RIGHT" },
            ]);
            let v = if *from_left {
                model.pop_front()
            } else {
                model.pop_back()
            };
            match v {
                None => (argv, Frame::Null),
                Some(v) => {
                    if *to_left {
                        model.push_front(v.clone());
                    } else {
                        model.push_back(v.clone());
                    }
                    (argv, bulk(&v))
                }
            }
        }
    }
}

fn check_state(t: &mut Txn, model: &VecDeque<String>) -> Result<(), TestCaseError> {
    let run = |t: &mut Txn, v: &[&str]| {
        t.run(
            0,
            &v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>(),
        )
    };
    let expected = Frame::Array(model.iter().map(|s| bulk(s)).collect());
    prop_assert_eq!(run(t, &["LRANGE", "l", "0", "-1"]), expected);
    prop_assert_eq!(run(t, &["LLEN", "l"]), int(model.len() as i64));
    prop_assert_eq!(run(t, &["EXISTS", "l"]), int(!model.is_empty() as i64));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random command sequences against a VecDeque, several commands per transaction
    /// at times (so pending writes and range deletes are read back before they are
    /// stored), comparing every reply, LRANGE 0 -1 and LLEN after each step, and the
    /// stored element records once each transaction is applied.
    #[test]
    fn list_matches_a_vecdeque(groups in proptest::collection::vec(proptest::collection::vec(op(), 1..4), 1..40)) {
        let mut store = MemStore::default();
        let mut model: VecDeque<String> = VecDeque::new();
        for (g, ops) in groups.iter().enumerate() {
            let index = g as u64 + 1;
            let mut t = Txn::new(&store, index, T0, 7);
            for op in ops {
                let (argv, expected) = step(&mut model, op);
                let argv: Vec<Vec<u8>> = argv.iter().map(|s| s.as_bytes().to_vec()).collect();
                prop_assert_eq!(t.run(0, &argv), expected, "{:?}", op);
                check_state(&mut t, &model)?;
            }
            let effects = t.into_effects();
            store.apply(&effects);
            let mut t = Txn::read_only(&store, T0, 7);
            check_state(&mut t, &model)?;
            prop_assert_eq!(live_records(&store, "l"), model.len());
        }
    }
}
