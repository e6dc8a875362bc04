//! String commands checked against Redis 7's documented behaviour.

use engine::{Frame, MemStore, Txn};

const T0: u64 = 1_700_000_000_000;

struct Db {
    store: MemStore,
    index: u64,
    now: u64,
}

impl Db {
    fn new() -> Db {
        Db {
            store: MemStore::default(),
            index: 0,
            now: T0,
        }
    }

    fn runb(&mut self, argv: Vec<Vec<u8>>) -> Frame {
        self.index += 1;
        let mut t = Txn::new(&self.store, self.index, self.now, 42);
        let f = t.run(0, &argv);
        let effects = t.into_effects();
        self.store.apply(&effects);
        f
    }

    fn run(&mut self, args: &[&str]) -> Frame {
        self.runb(args.iter().map(|s| s.as_bytes().to_vec()).collect())
    }

    /// Absolute expiry of a live key (0 = none); None if the key does not exist.
    fn expire_at(&self, key: &str) -> Option<u64> {
        let t = Txn::read_only(&self.store, self.now, 0);
        t.get_meta(key.as_bytes()).unwrap().map(|m| m.expire_at_ms)
    }

    /// Makes `key` a hash (for WRONGTYPE checks) without needing hash commands.
    fn make_hash(&mut self, key: &str) {
        self.index += 1;
        let mut t = Txn::new(&self.store, self.index, self.now, 42);
        let m = t.new_meta(keys::Kind::Hash, Vec::new());
        t.put_meta(key.as_bytes(), m).unwrap();
        let effects = t.into_effects();
        self.store.apply(&effects);
    }
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec())
}
fn int(i: i64) -> Frame {
    Frame::Integer(i)
}
fn err(s: &str) -> Frame {
    Frame::Error(s.to_string())
}
fn ok() -> Frame {
    Frame::ok()
}
fn arr(v: Vec<Frame>) -> Frame {
    Frame::Array(v)
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

#[test]
fn get_set_basics() {
    let mut db = Db::new();
    assert_eq!(db.run(&["GET", "nonexisting"]), Frame::Null);
    assert_eq!(db.run(&["SET", "mykey", "Hello"]), ok());
    assert_eq!(db.run(&["GET", "mykey"]), bulk("Hello"));
    assert_eq!(
        db.run(&["SET", "anotherkey", "will expire in a minute", "EX", "60"]),
        ok()
    );
    assert_eq!(db.expire_at("anotherkey"), Some(T0 + 60_000));
    db.make_hash("h");
    assert_eq!(db.run(&["GET", "h"]), err(WRONGTYPE));
    // SET overwrites any type.
    assert_eq!(db.run(&["SET", "h", "v"]), ok());
    assert_eq!(db.run(&["GET", "h"]), bulk("v"));
    assert_eq!(
        db.run(&["GET"]),
        err("ERR wrong number of arguments for 'get' command")
    );
}

#[test]
fn set_nx_xx_get() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "k", "v", "XX"]), Frame::Null);
    assert_eq!(db.run(&["GET", "k"]), Frame::Null);
    assert_eq!(db.run(&["SET", "k", "v1", "NX"]), ok());
    assert_eq!(db.run(&["SET", "k", "v2", "NX"]), Frame::Null);
    assert_eq!(db.run(&["GET", "k"]), bulk("v1"));
    assert_eq!(db.run(&["SET", "k", "v3", "XX"]), ok());
    assert_eq!(db.run(&["GET", "k"]), bulk("v3"));
    // GET returns the old value, set or not.
    assert_eq!(db.run(&["SET", "k", "v4", "GET"]), bulk("v3"));
    assert_eq!(db.run(&["SET", "k", "v5", "NX", "GET"]), bulk("v4"));
    assert_eq!(db.run(&["GET", "k"]), bulk("v4"));
    assert_eq!(db.run(&["SET", "new", "x", "GET"]), Frame::Null);
    assert_eq!(db.run(&["GET", "new"]), bulk("x"));
    assert_eq!(db.run(&["SET", "new2", "x", "XX", "GET"]), Frame::Null);
    assert_eq!(db.run(&["GET", "new2"]), Frame::Null);
    // Lower case and repeated options are accepted.
    assert_eq!(db.run(&["set", "k", "v6", "xx", "xx", "get"]), bulk("v4"));
    // SET GET against a non-string: WRONGTYPE and nothing changes.
    db.make_hash("h");
    assert_eq!(db.run(&["SET", "h", "v", "GET"]), err(WRONGTYPE));
    assert_eq!(db.run(&["GET", "h"]), err(WRONGTYPE));
}

#[test]
fn set_option_conflicts_are_syntax_errors() {
    let mut db = Db::new();
    for bad in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "XX", "NX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "PX", "100", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "EXAT", "100"],
        &["SET", "k", "v", "PXAT", "10", "EXAT", "100"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "PX", "10"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
        &["SET", "k", "v", "NXX"],
    ] {
        assert_eq!(db.run(bad), err(SYNTAX), "{bad:?}");
    }
    assert_eq!(db.run(&["GET", "k"]), Frame::Null);
    // The same expire option twice: the last one wins.
    assert_eq!(db.run(&["SET", "k", "v", "EX", "10", "EX", "20"]), ok());
    assert_eq!(db.expire_at("k"), Some(T0 + 20_000));
}

#[test]
fn set_expire_times() {
    let mut db = Db::new();
    let inv = "ERR invalid expire time in 'set' command";
    for bad in ["0", "-1", "9223372036854775807", "9223372036854776"] {
        assert_eq!(db.run(&["SET", "k", "v", "EX", bad]), err(inv), "EX {bad}");
    }
    assert_eq!(db.run(&["SET", "k", "v", "PX", "0"]), err(inv));
    assert_eq!(db.run(&["SET", "k", "v", "EXAT", "0"]), err(inv));
    assert_eq!(db.run(&["SET", "k", "v", "PXAT", "-5"]), err(inv));
    // now + PX overflows i64.
    assert_eq!(
        db.run(&["SET", "k", "v", "PX", "9223372036854775807"]),
        err(inv)
    );
    assert_eq!(db.run(&["SET", "k", "v", "EX", "ten"]), err(NOT_INT));
    assert_eq!(db.run(&["GET", "k"]), Frame::Null);
    // Largest EX that does not overflow * 1000 (but then + now does).
    assert_eq!(
        db.run(&["SET", "k", "v", "EX", "9223372036854775"]),
        err(inv)
    );

    assert_eq!(db.run(&["SET", "k", "v", "PX", "1500"]), ok());
    assert_eq!(db.expire_at("k"), Some(T0 + 1500));
    let exat = (T0 / 1000 + 100).to_string();
    assert_eq!(db.run(&["SET", "k", "v", "EXAT", &exat]), ok());
    assert_eq!(db.expire_at("k"), Some((T0 / 1000 + 100) * 1000));
    let pxat = (T0 + 12345).to_string();
    assert_eq!(db.run(&["SET", "k", "v", "PXAT", &pxat]), ok());
    assert_eq!(db.expire_at("k"), Some(T0 + 12345));
    // KEEPTTL keeps it, a plain SET drops it.
    assert_eq!(db.run(&["SET", "k", "v2", "KEEPTTL"]), ok());
    assert_eq!(db.expire_at("k"), Some(T0 + 12345));
    assert_eq!(db.run(&["GET", "k"]), bulk("v2"));
    assert_eq!(db.run(&["SET", "k", "v3"]), ok());
    assert_eq!(db.expire_at("k"), Some(0));
    // An absolute time in the past: the key is gone.
    assert_eq!(db.run(&["SET", "k", "v", "PXAT", "1000"]), ok());
    assert_eq!(db.run(&["GET", "k"]), Frame::Null);
    assert_eq!(db.expire_at("k"), None);
}

#[test]
fn expired_keys_are_invisible() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "k", "v", "PX", "100"]), ok());
    assert_eq!(db.run(&["GET", "k"]), bulk("v"));
    db.now += 99;
    assert_eq!(db.run(&["STRLEN", "k"]), int(1));
    db.now += 1;
    assert_eq!(db.run(&["GET", "k"]), Frame::Null);
    assert_eq!(db.run(&["STRLEN", "k"]), int(0));
    assert_eq!(db.run(&["SET", "k", "w", "NX"]), ok());
    assert_eq!(db.expire_at("k"), Some(0));
    assert_eq!(db.run(&["SET", "c", "5", "EX", "1"]), ok());
    db.now += 1000;
    assert_eq!(db.run(&["INCR", "c"]), int(1));
    assert_eq!(db.run(&["APPEND", "c", "x"]), int(2));
    assert_eq!(db.expire_at("c"), Some(0));
}

#[test]
fn setnx_setex_psetex() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SETNX", "mykey", "Hello"]), int(1));
    assert_eq!(db.run(&["SETNX", "mykey", "World"]), int(0));
    assert_eq!(db.run(&["GET", "mykey"]), bulk("Hello"));

    assert_eq!(db.run(&["SETEX", "mykey", "10", "Hello"]), ok());
    assert_eq!(db.expire_at("mykey"), Some(T0 + 10_000));
    assert_eq!(db.run(&["GET", "mykey"]), bulk("Hello"));
    assert_eq!(
        db.run(&["SETEX", "mykey", "0", "x"]),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(db.run(&["SETEX", "mykey", "x", "x"]), err(NOT_INT));

    assert_eq!(db.run(&["PSETEX", "mykey", "1000", "Hello"]), ok());
    assert_eq!(db.expire_at("mykey"), Some(T0 + 1000));
    assert_eq!(
        db.run(&["PSETEX", "mykey", "-1", "x"]),
        err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(db.run(&["GET", "mykey"]), bulk("Hello"));
    db.now += 1000;
    assert_eq!(db.run(&["GET", "mykey"]), Frame::Null);
}

#[test]
fn getset_getdel() {
    let mut db = Db::new();
    assert_eq!(db.run(&["INCR", "mycounter"]), int(1));
    assert_eq!(db.run(&["SET", "mycounter", "1", "EX", "100"]), ok());
    assert_eq!(db.run(&["GETSET", "mycounter", "0"]), bulk("1"));
    assert_eq!(db.run(&["GET", "mycounter"]), bulk("0"));
    assert_eq!(db.expire_at("mycounter"), Some(0), "GETSET drops the TTL");
    assert_eq!(db.run(&["GETSET", "fresh", "x"]), Frame::Null);
    assert_eq!(db.run(&["GET", "fresh"]), bulk("x"));

    assert_eq!(db.run(&["SET", "mykey", "Hello"]), ok());
    assert_eq!(db.run(&["GETDEL", "mykey"]), bulk("Hello"));
    assert_eq!(db.run(&["GET", "mykey"]), Frame::Null);
    assert_eq!(db.run(&["GETDEL", "mykey"]), Frame::Null);
    db.make_hash("h");
    assert_eq!(db.run(&["GETDEL", "h"]), err(WRONGTYPE));
    assert_eq!(db.run(&["GETSET", "h", "x"]), err(WRONGTYPE));
    assert_eq!(db.expire_at("h"), Some(0));
}

#[test]
fn getex_options() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "mykey", "Hello"]), ok());
    assert_eq!(db.run(&["GETEX", "mykey"]), bulk("Hello"));
    assert_eq!(db.expire_at("mykey"), Some(0));
    assert_eq!(db.run(&["GETEX", "mykey", "EX", "60"]), bulk("Hello"));
    assert_eq!(db.expire_at("mykey"), Some(T0 + 60_000));
    assert_eq!(db.run(&["GETEX", "mykey", "PX", "500"]), bulk("Hello"));
    assert_eq!(db.expire_at("mykey"), Some(T0 + 500));
    let exat = (T0 / 1000 + 7).to_string();
    assert_eq!(db.run(&["GETEX", "mykey", "EXAT", &exat]), bulk("Hello"));
    assert_eq!(db.expire_at("mykey"), Some(T0 + 7000));
    assert_eq!(db.run(&["GETEX", "mykey", "PERSIST"]), bulk("Hello"));
    assert_eq!(db.expire_at("mykey"), Some(0));

    let inv = "ERR invalid expire time in 'getex' command";
    assert_eq!(db.run(&["GETEX", "mykey", "EX", "0"]), err(inv));
    assert_eq!(db.run(&["GETEX", "mykey", "PX", "-10"]), err(inv));
    assert_eq!(
        db.run(&["GETEX", "mykey", "EX", "9223372036854775807"]),
        err(inv)
    );
    assert_eq!(db.run(&["GETEX", "mykey", "EX", "abc"]), err(NOT_INT));
    for bad in [
        &["GETEX", "mykey", "EX", "10", "PERSIST"][..],
        &["GETEX", "mykey", "PERSIST", "EX", "10"],
        &["GETEX", "mykey", "EX", "10", "PX", "10"],
        &["GETEX", "mykey", "KEEPTTL"],
        &["GETEX", "mykey", "NX"],
        &["GETEX", "mykey", "GET"],
        &["GETEX", "mykey", "EX"],
    ] {
        assert_eq!(db.run(bad), err(SYNTAX), "{bad:?}");
    }
    // A missing key answers nil before the expire time is validated.
    assert_eq!(db.run(&["GETEX", "nokey", "EX", "-1"]), Frame::Null);
    assert_eq!(db.run(&["GETEX", "nokey", "EX", "10"]), Frame::Null);
    assert_eq!(db.expire_at("nokey"), None);
    db.make_hash("h");
    assert_eq!(db.run(&["GETEX", "h", "EX", "10"]), err(WRONGTYPE));
    // PXAT in the past deletes the key, after replying with the value.
    assert_eq!(db.run(&["GETEX", "mykey", "PXAT", "1"]), bulk("Hello"));
    assert_eq!(db.run(&["GET", "mykey"]), Frame::Null);
    assert_eq!(db.expire_at("mykey"), None);
}

#[test]
fn mget_mset_msetnx() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "key1", "Hello"]), ok());
    assert_eq!(db.run(&["SET", "key2", "World"]), ok());
    db.make_hash("h");
    assert_eq!(
        db.run(&["MGET", "key1", "key2", "nonexisting", "h"]),
        arr(vec![bulk("Hello"), bulk("World"), Frame::Null, Frame::Null])
    );
    assert_eq!(db.run(&["SET", "key1", "x", "EX", "10"]), ok());
    assert_eq!(
        db.run(&["MSET", "key1", "Hello", "key2", "World", "h", "s"]),
        ok()
    );
    assert_eq!(db.expire_at("key1"), Some(0));
    assert_eq!(db.run(&["GET", "h"]), bulk("s"));
    assert_eq!(
        db.run(&["MSET", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(db.run(&["MSET", "a", "1", "a", "2"]), ok());
    assert_eq!(db.run(&["GET", "a"]), bulk("2"));

    let mut db = Db::new();
    assert_eq!(
        db.run(&["MSETNX", "key1", "Hello", "key2", "there"]),
        int(1)
    );
    assert_eq!(db.run(&["MSETNX", "key2", "new", "key3", "world"]), int(0));
    assert_eq!(
        db.run(&["MGET", "key1", "key2", "key3"]),
        arr(vec![bulk("Hello"), bulk("there"), Frame::Null])
    );
    assert_eq!(
        db.run(&["MSETNX", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'msetnx' command")
    );
}

#[test]
fn append_keeps_ttl() {
    let mut db = Db::new();
    assert_eq!(db.run(&["APPEND", "mykey", "Hello"]), int(5));
    assert_eq!(db.run(&["APPEND", "mykey", " World"]), int(11));
    assert_eq!(db.run(&["GET", "mykey"]), bulk("Hello World"));
    assert_eq!(db.run(&["SET", "ts", "0043", "EX", "100"]), ok());
    assert_eq!(db.run(&["APPEND", "ts", "0035"]), int(8));
    assert_eq!(db.run(&["GETRANGE", "ts", "0", "3"]), bulk("0043"));
    assert_eq!(db.run(&["GETRANGE", "ts", "4", "7"]), bulk("0035"));
    assert_eq!(db.expire_at("ts"), Some(T0 + 100_000));
    db.make_hash("h");
    assert_eq!(db.run(&["APPEND", "h", "x"]), err(WRONGTYPE));
}

#[test]
fn getrange_substr_strlen() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "mykey", "This is a string"]), ok());
    assert_eq!(db.run(&["GETRANGE", "mykey", "0", "3"]), bulk("This"));
    assert_eq!(db.run(&["GETRANGE", "mykey", "-3", "-1"]), bulk("ing"));
    assert_eq!(
        db.run(&["GETRANGE", "mykey", "0", "-1"]),
        bulk("This is a string")
    );
    assert_eq!(db.run(&["GETRANGE", "mykey", "10", "100"]), bulk("string"));
    assert_eq!(db.run(&["GETRANGE", "mykey", "-1", "-3"]), bulk(""));
    assert_eq!(db.run(&["GETRANGE", "mykey", "5", "3"]), bulk(""));
    assert_eq!(db.run(&["GETRANGE", "mykey", "-100", "2"]), bulk("Thi"));
    assert_eq!(db.run(&["GETRANGE", "mykey", "100", "200"]), bulk(""));
    assert_eq!(
        db.run(&[
            "GETRANGE",
            "mykey",
            "-9223372036854775808",
            "9223372036854775807"
        ]),
        bulk("This is a string")
    );
    assert_eq!(db.run(&["GETRANGE", "nokey", "0", "-1"]), bulk(""));
    assert_eq!(db.run(&["GETRANGE", "mykey", "a", "1"]), err(NOT_INT));
    assert_eq!(db.run(&["SUBSTR", "mykey", "0", "3"]), bulk("This"));
    assert_eq!(db.run(&["SUBSTR", "mykey", "-3", "-1"]), bulk("ing"));
    assert_eq!(db.run(&["SET", "mykey", "Hello world"]), ok());
    assert_eq!(db.run(&["STRLEN", "mykey"]), int(11));
    assert_eq!(db.run(&["STRLEN", "nonexisting"]), int(0));
    db.make_hash("h");
    assert_eq!(db.run(&["STRLEN", "h"]), err(WRONGTYPE));
    assert_eq!(db.run(&["GETRANGE", "h", "0", "1"]), err(WRONGTYPE));
}

#[test]
fn setrange() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "key1", "Hello World", "EX", "50"]), ok());
    assert_eq!(db.run(&["SETRANGE", "key1", "6", "Redis"]), int(11));
    assert_eq!(db.run(&["GET", "key1"]), bulk("Hello Redis"));
    assert_eq!(db.expire_at("key1"), Some(T0 + 50_000));
    assert_eq!(db.run(&["SETRANGE", "key2", "6", "Redis"]), int(11));
    assert_eq!(
        db.run(&["GET", "key2"]),
        Frame::Bulk(b"\0\0\0\0\0\0Redis".to_vec())
    );
    // Empty value: no key created, existing length reported.
    assert_eq!(db.run(&["SETRANGE", "key3", "5", ""]), int(0));
    assert_eq!(db.run(&["GET", "key3"]), Frame::Null);
    assert_eq!(db.run(&["SETRANGE", "key1", "100", ""]), int(11));
    assert_eq!(
        db.run(&["SETRANGE", "key1", "-1", "x"]),
        err("ERR offset is out of range")
    );
    assert_eq!(db.run(&["SETRANGE", "key1", "x", "x"]), err(NOT_INT));
    let too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(
        db.run(&["SETRANGE", "key1", "536870912", "x"]),
        err(too_big)
    );
    assert_eq!(
        db.run(&["SETRANGE", "key1", "536870911", "xy"]),
        err(too_big)
    );
    assert_eq!(
        db.run(&["SETRANGE", "new", "9223372036854775807", "x"]),
        err(too_big)
    );
    assert_eq!(db.run(&["GET", "new"]), Frame::Null);
    db.make_hash("h");
    assert_eq!(db.run(&["SETRANGE", "h", "0", "x"]), err(WRONGTYPE));
}

#[test]
fn incr_decr() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "mykey", "10"]), ok());
    assert_eq!(db.run(&["INCR", "mykey"]), int(11));
    assert_eq!(db.run(&["GET", "mykey"]), bulk("11"));
    assert_eq!(db.run(&["SET", "mykey", "10"]), ok());
    assert_eq!(db.run(&["DECR", "mykey"]), int(9));
    assert_eq!(
        db.run(&["SET", "mykey", "234293482390480948029348230948"]),
        ok()
    );
    assert_eq!(db.run(&["DECR", "mykey"]), err(NOT_INT));
    assert_eq!(db.run(&["SET", "mykey", "10"]), ok());
    assert_eq!(db.run(&["DECRBY", "mykey", "3"]), int(7));
    assert_eq!(db.run(&["SET", "mykey", "10"]), ok());
    assert_eq!(db.run(&["INCRBY", "mykey", "5"]), int(15));
    assert_eq!(db.run(&["INCRBY", "mykey", "-20"]), int(-5));
    assert_eq!(db.run(&["DECRBY", "mykey", "-5"]), int(0));
    assert_eq!(db.run(&["INCR", "fresh"]), int(1));
    assert_eq!(db.run(&["DECR", "fresh2"]), int(-1));
    assert_eq!(db.run(&["DECRBY", "fresh3", "7"]), int(-7));

    for bad in [" 1", "1 ", "01", "+1", "1.0", "", "abc"] {
        assert_eq!(db.run(&["SET", "bad", bad]), ok());
        assert_eq!(db.run(&["INCR", "bad"]), err(NOT_INT), "{bad:?}");
    }
    assert_eq!(db.run(&["INCRBY", "mykey", "1.5"]), err(NOT_INT));
    assert_eq!(db.run(&["DECRBY", "mykey", "x"]), err(NOT_INT));

    assert_eq!(db.run(&["SET", "max", "9223372036854775807"]), ok());
    assert_eq!(
        db.run(&["INCR", "max"]),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(db.run(&["SET", "min", "-9223372036854775808"]), ok());
    assert_eq!(
        db.run(&["DECR", "min"]),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(
        db.run(&["INCRBY", "min", "-1"]),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(
        db.run(&["DECRBY", "min", "-9223372036854775808"]),
        err("ERR decrement would overflow")
    );
    assert_eq!(db.run(&["GET", "max"]), bulk("9223372036854775807"));

    // INCR keeps the TTL.
    assert_eq!(db.run(&["SET", "c", "1", "EX", "30"]), ok());
    assert_eq!(db.run(&["INCRBY", "c", "41"]), int(42));
    assert_eq!(db.expire_at("c"), Some(T0 + 30_000));
    db.make_hash("h");
    assert_eq!(db.run(&["INCR", "h"]), err(WRONGTYPE));
}

#[test]
fn incrbyfloat() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "mykey", "10.50"]), ok());
    assert_eq!(db.run(&["INCRBYFLOAT", "mykey", "0.1"]), bulk("10.6"));
    assert_eq!(db.run(&["INCRBYFLOAT", "mykey", "-5"]), bulk("5.6"));
    assert_eq!(db.run(&["SET", "mykey", "5.0e3"]), ok());
    assert_eq!(db.run(&["INCRBYFLOAT", "mykey", "2.0e2"]), bulk("5200"));
    assert_eq!(db.run(&["GET", "mykey"]), bulk("5200"));
    assert_eq!(db.run(&["INCRBYFLOAT", "fresh", "3"]), bulk("3"));
    assert_eq!(db.run(&["INCRBYFLOAT", "fresh", "-3"]), bulk("0"));

    let not_float = "ERR value is not a valid float";
    assert_eq!(db.run(&["INCRBYFLOAT", "mykey", "abc"]), err(not_float));
    assert_eq!(db.run(&["INCRBYFLOAT", "mykey", "nan"]), err(not_float));
    assert_eq!(db.run(&["SET", "s", "hello"]), ok());
    assert_eq!(db.run(&["INCRBYFLOAT", "s", "1"]), err(not_float));
    let nan_inf = "ERR increment would produce NaN or Infinity";
    assert_eq!(db.run(&["INCRBYFLOAT", "mykey", "inf"]), err(nan_inf));
    assert_eq!(db.run(&["SET", "big", "inf"]), ok());
    assert_eq!(db.run(&["INCRBYFLOAT", "big", "1"]), err(nan_inf));
    assert_eq!(db.run(&["INCRBYFLOAT", "mykey", "-inf"]), err(nan_inf));
    assert_eq!(db.run(&["GET", "mykey"]), bulk("5200"));

    assert_eq!(db.run(&["SET", "f", "1.5", "PX", "9000"]), ok());
    assert_eq!(db.run(&["INCRBYFLOAT", "f", "1"]), bulk("2.5"));
    assert_eq!(db.expire_at("f"), Some(T0 + 9000));
    db.make_hash("h");
    assert_eq!(db.run(&["INCRBYFLOAT", "h", "1"]), err(WRONGTYPE));
}

fn range(a: i64, b: i64) -> Frame {
    arr(vec![int(a), int(b)])
}

#[test]
fn lcs_examples() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["MSET", "key1", "ohmytext", "key2", "mynewtext"]),
        ok()
    );
    assert_eq!(db.run(&["LCS", "key1", "key2"]), bulk("mytext"));
    assert_eq!(db.run(&["LCS", "key1", "key2", "LEN"]), int(6));
    assert_eq!(
        db.run(&["LCS", "key1", "key2", "IDX"]),
        Frame::Map(vec![
            (
                bulk("matches"),
                arr(vec![
                    arr(vec![range(4, 7), range(5, 8)]),
                    arr(vec![range(2, 3), range(0, 1)]),
                ])
            ),
            (bulk("len"), int(6)),
        ])
    );
    assert_eq!(
        db.run(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"]),
        Frame::Map(vec![
            (
                bulk("matches"),
                arr(vec![arr(vec![range(4, 7), range(5, 8)])])
            ),
            (bulk("len"), int(6)),
        ])
    );
    assert_eq!(
        db.run(&[
            "LCS",
            "key1",
            "key2",
            "IDX",
            "MINMATCHLEN",
            "4",
            "WITHMATCHLEN"
        ]),
        Frame::Map(vec![
            (
                bulk("matches"),
                arr(vec![arr(vec![range(4, 7), range(5, 8), int(4)])])
            ),
            (bulk("len"), int(6)),
        ])
    );
    assert_eq!(
        db.run(&[
            "LCS",
            "key1",
            "key2",
            "IDX",
            "WITHMATCHLEN",
            "MINMATCHLEN",
            "-3"
        ]),
        Frame::Map(vec![
            (
                bulk("matches"),
                arr(vec![
                    arr(vec![range(4, 7), range(5, 8), int(4)]),
                    arr(vec![range(2, 3), range(0, 1), int(2)]),
                ])
            ),
            (bulk("len"), int(6)),
        ])
    );
    // Missing keys are empty strings.
    assert_eq!(db.run(&["LCS", "key1", "nokey"]), bulk(""));
    assert_eq!(db.run(&["LCS", "nokey", "key2", "LEN"]), int(0));
    assert_eq!(
        db.run(&["LCS", "nokey", "key2", "IDX"]),
        Frame::Map(vec![(bulk("matches"), arr(vec![])), (bulk("len"), int(0))])
    );
    assert_eq!(db.run(&["MSET", "a", "ABCBDAB", "b", "BDCABA"]), ok());
    assert_eq!(db.run(&["LCS", "a", "b", "LEN"]), int(4));
    // Ties walk towards the start of the second string first (Redis's `else j--`).
    assert_eq!(db.run(&["MSET", "x", "ab", "y", "ba"]), ok());
    assert_eq!(db.run(&["LCS", "x", "y"]), bulk("b"));
    assert_eq!(
        db.run(&["LCS", "x", "y", "IDX", "WITHMATCHLEN"]),
        Frame::Map(vec![
            (
                bulk("matches"),
                arr(vec![arr(vec![range(1, 1), range(0, 0), int(1)])])
            ),
            (bulk("len"), int(1)),
        ])
    );

    assert_eq!(
        db.run(&["LCS", "key1", "key2", "IDX", "LEN"]),
        err("ERR If you want both the length and indexes, please just use IDX.")
    );
    assert_eq!(db.run(&["LCS", "key1", "key2", "FOO"]), err(SYNTAX));
    assert_eq!(db.run(&["LCS", "key1", "key2", "MINMATCHLEN"]), err(SYNTAX));
    assert_eq!(
        db.run(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "x"]),
        err(NOT_INT)
    );
    db.make_hash("h");
    assert_eq!(
        db.run(&["LCS", "key1", "h"]),
        err("ERR The specified keys must contain string values")
    );
    assert_eq!(
        db.run(&["LCS", "key1"]),
        err("ERR wrong number of arguments for 'lcs' command")
    );
}

#[test]
fn table_metadata() {
    let get = engine::lookup(b"get").unwrap();
    assert_eq!(get.arity, 2);
    assert_eq!(get.flag_names(), vec!["readonly", "fast"]);
    assert_eq!(get.acl_categories(), vec!["@read", "@string", "@fast"]);
    let set = engine::lookup(b"set").unwrap();
    assert_eq!(set.arity, -3);
    assert_eq!(set.flag_names(), vec!["write", "denyoom"]);
    assert_eq!(set.acl_categories(), vec!["@write", "@string", "@slow"]);
    let mset = engine::lookup(b"msetnx").unwrap();
    let argv: Vec<Vec<u8>> = ["msetnx", "a", "1", "b", "2"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    assert_eq!(mset.key_positions(&argv), vec![1, 3]);
    let lcs = engine::lookup(b"lcs").unwrap();
    let argv: Vec<Vec<u8>> = ["lcs", "a", "b", "LEN"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    assert_eq!(lcs.key_positions(&argv), vec![1, 2]);
    assert_eq!(lcs.since, "7.0.0");
    assert_eq!(
        engine::lookup(b"getex").unwrap().flag_names(),
        vec!["write", "fast"]
    );
    assert_eq!(
        engine::lookup(b"getrange").unwrap().acl_categories(),
        vec!["@read", "@string", "@slow"]
    );
    for name in [
        "append",
        "decr",
        "decrby",
        "get",
        "getdel",
        "getex",
        "getrange",
        "getset",
        "incr",
        "incrby",
        "incrbyfloat",
        "lcs",
        "mget",
        "mset",
        "msetnx",
        "psetex",
        "set",
        "setex",
        "setnx",
        "setrange",
        "strlen",
        "substr",
    ] {
        let c = engine::lookup(name.as_bytes()).unwrap();
        assert_eq!(c.group, "string");
        assert!(c.acl.contains(&"string"));
    }
}

#[test]
fn read_path_refuses_writes() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "k", "v"]), ok());
    let mut t = Txn::read_only(&db.store, db.now, 0);
    assert_eq!(t.run(0, &[b"GET".to_vec(), b"k".to_vec()]), bulk("v"));
    assert!(t
        .run(0, &[b"SET".to_vec(), b"k".to_vec(), b"w".to_vec()])
        .is_error());
}
