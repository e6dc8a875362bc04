//! Bitmap commands checked against Redis 7's documented behaviour.

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

    fn runb(&mut self, argv: &[&[u8]]) -> Frame {
        self.index += 1;
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        let mut t = Txn::new(&self.store, self.index, self.now, 9);
        let f = t.run(0, &argv);
        let effects = t.into_effects();
        self.store.apply(&effects);
        f
    }

    fn run(&mut self, args: &[&str]) -> Frame {
        let argv: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.runb(&argv)
    }

    fn expire_at(&self, key: &str) -> Option<u64> {
        let t = Txn::read_only(&self.store, self.now, 0);
        t.get_meta(key.as_bytes()).unwrap().map(|m| m.expire_at_ms)
    }

    fn make_hash(&mut self, key: &str) {
        self.index += 1;
        let mut t = Txn::new(&self.store, self.index, self.now, 9);
        let m = t.new_meta(keys::Kind::Hash, Vec::new());
        t.put_meta(key.as_bytes(), m).unwrap();
        let effects = t.into_effects();
        self.store.apply(&effects);
    }
}

fn bulk(s: &[u8]) -> Frame {
    Frame::Bulk(s.to_vec())
}
fn int(i: i64) -> Frame {
    Frame::Integer(i)
}
fn ints(v: &[i64]) -> Frame {
    Frame::Array(v.iter().map(|&i| Frame::Integer(i)).collect())
}
fn err(s: &str) -> Frame {
    Frame::Error(s.to_string())
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[test]
fn setbit_getbit() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SETBIT", "mykey", "7", "1"]), int(0));
    assert_eq!(db.run(&["SETBIT", "mykey", "7", "0"]), int(1));
    assert_eq!(db.run(&["GET", "mykey"]), bulk(b"\x00"));

    let mut db = Db::new();
    assert_eq!(db.run(&["SETBIT", "mykey", "7", "1"]), int(0));
    assert_eq!(db.run(&["GETBIT", "mykey", "0"]), int(0));
    assert_eq!(db.run(&["GETBIT", "mykey", "7"]), int(1));
    assert_eq!(db.run(&["GETBIT", "mykey", "100"]), int(0));
    assert_eq!(db.run(&["GETBIT", "nokey", "3"]), int(0));

    // "Bitmaps are strings": bits 2 3 5 10 11 14 spell "42".
    for bit in ["2", "3", "5", "10", "11", "14"] {
        assert_eq!(db.run(&["SETBIT", "bitmapsarestrings", bit, "1"]), int(0));
    }
    assert_eq!(db.run(&["GET", "bitmapsarestrings"]), bulk(b"42"));

    // Growing pads with zeros; the TTL stays.
    assert_eq!(db.run(&["SET", "t", "a", "EX", "100"]), Frame::ok());
    assert_eq!(db.run(&["SETBIT", "t", "100", "1"]), int(0));
    assert_eq!(db.run(&["STRLEN", "t"]), int(13));
    assert_eq!(db.run(&["GETBIT", "t", "100"]), int(1));
    assert_eq!(db.run(&["GETBIT", "t", "1"]), int(1));
    assert_eq!(db.expire_at("t"), Some(T0 + 100_000));

    let bad_bit = "ERR bit is not an integer or out of range";
    for b in ["2", "-1", "x", ""] {
        assert_eq!(db.run(&["SETBIT", "k", "0", b]), err(bad_bit), "{b:?}");
    }
    for off in ["-1", "x", "4294967296", "#1", "1.0"] {
        assert_eq!(
            db.run(&["SETBIT", "k", off, "1"]),
            err(BAD_OFFSET),
            "{off:?}"
        );
        assert_eq!(db.run(&["GETBIT", "k", off]), err(BAD_OFFSET), "{off:?}");
    }
    assert_eq!(db.run(&["GET", "k"]), Frame::Null);
    // The last valid offset reads fine (no allocation for a read).
    assert_eq!(db.run(&["GETBIT", "t", "4294967295"]), int(0));
    db.make_hash("h");
    assert_eq!(db.run(&["SETBIT", "h", "0", "1"]), err(WRONGTYPE));
    assert_eq!(db.run(&["GETBIT", "h", "0"]), err(WRONGTYPE));
}

#[test]
fn bitcount() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "mykey", "foobar"]), Frame::ok());
    assert_eq!(db.run(&["BITCOUNT", "mykey"]), int(26));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "0", "0"]), int(4));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "1", "1"]), int(6));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "1", "1", "BYTE"]), int(6));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "5", "30", "BIT"]), int(17));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "-1", "-1"]), int(4));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "-2", "-1"]), int(7));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "0", "-1", "bit"]), int(26));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "0", "100"]), int(26));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "-100", "0"]), int(4));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "3", "1"]), int(0));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "-1", "-3"]), int(0));
    // f = 0110 0110: bits 1..2 are set, bit 3 is not.
    assert_eq!(db.run(&["BITCOUNT", "mykey", "1", "3", "BIT"]), int(2));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "-8", "-1", "BIT"]), int(4));
    assert_eq!(db.run(&["BITCOUNT", "mykey", "7", "8", "BIT"]), int(0));
    assert_eq!(db.run(&["BITCOUNT", "nokey"]), int(0));
    assert_eq!(db.run(&["BITCOUNT", "nokey", "0", "-1"]), int(0));
    assert_eq!(db.run(&["SET", "empty", ""]), Frame::ok());
    assert_eq!(db.run(&["BITCOUNT", "empty"]), int(0));

    assert_eq!(db.run(&["BITCOUNT", "mykey", "0"]), err(SYNTAX));
    assert_eq!(
        db.run(&["BITCOUNT", "mykey", "0", "1", "WORD"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["BITCOUNT", "mykey", "0", "1", "BIT", "x"]),
        err(SYNTAX)
    );
    assert_eq!(db.run(&["BITCOUNT", "mykey", "a", "1"]), err(NOT_INT));
    assert_eq!(
        db.run(&["BITCOUNT", "nokey", "0", "1", "WORD"]),
        err(SYNTAX)
    );
    db.make_hash("h");
    assert_eq!(db.run(&["BITCOUNT", "h"]), err(WRONGTYPE));
    assert_eq!(db.run(&["BITCOUNT", "h", "0", "1"]), err(WRONGTYPE));
}

#[test]
fn bitpos() {
    let mut db = Db::new();
    assert_eq!(db.runb(&[b"SET", b"mykey", b"\xff\xf0\x00"]), Frame::ok());
    assert_eq!(db.run(&["BITPOS", "mykey", "0"]), int(12));
    assert_eq!(db.runb(&[b"SET", b"mykey", b"\x00\xff\xf0"]), Frame::ok());
    assert_eq!(db.run(&["BITPOS", "mykey", "1", "0"]), int(8));
    assert_eq!(db.run(&["BITPOS", "mykey", "1", "2"]), int(16));
    assert_eq!(
        db.run(&["BITPOS", "mykey", "1", "2", "-1", "BYTE"]),
        int(16)
    );
    assert_eq!(db.run(&["BITPOS", "mykey", "1", "7", "15", "BIT"]), int(8));
    // More BIT ranges on 00000000 11111111 11110000.
    assert_eq!(db.run(&["BITPOS", "mykey", "0", "8", "-1", "BIT"]), int(20));
    assert_eq!(db.run(&["BITPOS", "mykey", "1", "0", "7", "BIT"]), int(-1));
    assert_eq!(
        db.run(&["BITPOS", "mykey", "0", "12", "19", "BIT"]),
        int(-1)
    );
    assert_eq!(
        db.run(&["BITPOS", "mykey", "0", "12", "20", "BIT"]),
        int(20)
    );
    assert_eq!(
        db.run(&["BITPOS", "mykey", "1", "17", "17", "BIT"]),
        int(17)
    );
    assert_eq!(db.run(&["BITPOS", "mykey", "0", "3", "5", "BIT"]), int(3));
    assert_eq!(db.run(&["BITPOS", "mykey", "1", "4", "22", "BIT"]), int(8));
    assert_eq!(
        db.run(&["BITPOS", "mykey", "0", "-4", "-1", "BIT"]),
        int(20)
    );
    assert_eq!(
        db.run(&["BITPOS", "mykey", "1", "-4", "-1", "BIT"]),
        int(-1)
    );
    assert_eq!(db.run(&["BITPOS", "mykey", "1", "2", "1"]), int(-1));

    assert_eq!(db.runb(&[b"SET", b"mykey", b"\x00\x00\x00"]), Frame::ok());
    assert_eq!(db.run(&["BITPOS", "mykey", "1"]), int(-1));
    assert_eq!(db.run(&["BITPOS", "mykey", "1", "7", "-3", "BIT"]), int(-1));

    // All ones: without an end the string is padded with zeros on the right.
    assert_eq!(db.runb(&[b"SET", b"ones", b"\xff\xff\xff"]), Frame::ok());
    assert_eq!(db.run(&["BITPOS", "ones", "0"]), int(24));
    assert_eq!(db.run(&["BITPOS", "ones", "0", "1"]), int(24));
    assert_eq!(db.run(&["BITPOS", "ones", "0", "0", "-1"]), int(-1));
    assert_eq!(db.run(&["BITPOS", "ones", "0", "0", "-1", "BIT"]), int(-1));
    assert_eq!(db.run(&["BITPOS", "ones", "1", "-1"]), int(16));

    assert_eq!(db.run(&["BITPOS", "nokey", "0"]), int(0));
    assert_eq!(db.run(&["BITPOS", "nokey", "1"]), int(-1));
    assert_eq!(db.run(&["BITPOS", "nokey", "0", "5", "10"]), int(0));

    assert_eq!(
        db.run(&["BITPOS", "ones", "2"]),
        err("ERR The bit argument must be 1 or 0.")
    );
    assert_eq!(db.run(&["BITPOS", "ones", "x"]), err(NOT_INT));
    assert_eq!(db.run(&["BITPOS", "ones", "1", "x"]), err(NOT_INT));
    assert_eq!(db.run(&["BITPOS", "ones", "1", "0", "y"]), err(NOT_INT));
    assert_eq!(
        db.run(&["BITPOS", "ones", "1", "0", "1", "WORD"]),
        err(SYNTAX)
    );
    assert_eq!(
        db.run(&["BITPOS", "ones", "1", "0", "1", "BIT", "x"]),
        err(SYNTAX)
    );
    db.make_hash("h");
    assert_eq!(db.run(&["BITPOS", "h", "1"]), err(WRONGTYPE));
}

#[test]
fn bitop() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "key1", "foobar"]), Frame::ok());
    assert_eq!(db.run(&["SET", "key2", "abcdef"]), Frame::ok());
    assert_eq!(db.run(&["SET", "dest", "old", "EX", "100"]), Frame::ok());
    assert_eq!(db.run(&["BITOP", "AND", "dest", "key1", "key2"]), int(6));
    assert_eq!(db.run(&["GET", "dest"]), bulk(b"`bc`ab"));
    assert_eq!(
        db.expire_at("dest"),
        Some(0),
        "BITOP replaces the destination"
    );
    assert_eq!(db.run(&["BITOP", "or", "dest", "key1", "key2"]), int(6));
    assert_eq!(db.run(&["GET", "dest"]), bulk(b"goofev"));
    assert_eq!(db.run(&["BITOP", "XOR", "dest", "key1", "key2"]), int(6));
    assert_eq!(db.run(&["GET", "dest"]), bulk(b"\x07\x0d\x0c\x06\x04\x14"));
    assert_eq!(db.run(&["BITOP", "NOT", "dest", "key1"]), int(6));
    assert_eq!(db.run(&["GET", "dest"]), bulk(b"\x99\x90\x90\x9d\x9e\x8d"));

    // Shorter and missing sources are zero-padded.
    assert_eq!(db.run(&["SET", "short", "a"]), Frame::ok());
    assert_eq!(db.run(&["BITOP", "AND", "d2", "key1", "short"]), int(6));
    assert_eq!(db.run(&["GET", "d2"]), bulk(b"\x60\0\0\0\0\0"));
    assert_eq!(db.run(&["BITOP", "OR", "d2", "short", "nokey"]), int(1));
    assert_eq!(db.run(&["GET", "d2"]), bulk(b"a"));
    assert_eq!(db.run(&["BITOP", "NOT", "d2", "nokey"]), int(0));
    assert_eq!(
        db.run(&["GET", "d2"]),
        Frame::Null,
        "an empty result deletes the destination"
    );
    // The destination may be one of the sources.
    assert_eq!(db.run(&["BITOP", "XOR", "key1", "key1", "key1"]), int(6));
    assert_eq!(db.run(&["GET", "key1"]), bulk(b"\0\0\0\0\0\0"));

    assert_eq!(
        db.run(&["BITOP", "NOT", "d", "key1", "key2"]),
        err("ERR BITOP NOT must be called with a single source key.")
    );
    assert_eq!(db.run(&["BITOP", "NAND", "d", "key1"]), err(SYNTAX));
    db.make_hash("h");
    assert_eq!(db.run(&["BITOP", "AND", "d", "key2", "h"]), err(WRONGTYPE));
    assert_eq!(db.run(&["GET", "d"]), Frame::Null);
    // A non-string destination is simply replaced.
    assert_eq!(db.run(&["BITOP", "AND", "h", "key2"]), int(6));
    assert_eq!(db.run(&["GET", "h"]), bulk(b"abcdef"));
}

#[test]
fn bitfield_examples() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["BITFIELD", "mykey", "INCRBY", "i5", "100", "1", "GET", "u4", "0"]),
        ints(&[1, 0])
    );

    let mut db = Db::new();
    let cmd = [
        "BITFIELD", "mykey", "incrby", "u2", "100", "1", "OVERFLOW", "SAT", "incrby", "u2", "102",
        "1",
    ];
    assert_eq!(db.run(&cmd), ints(&[1, 1]));
    assert_eq!(db.run(&cmd), ints(&[2, 2]));
    assert_eq!(db.run(&cmd), ints(&[3, 3]));
    assert_eq!(db.run(&cmd), ints(&[0, 3]));
    assert_eq!(
        db.run(&["BITFIELD", "mykey", "OVERFLOW", "FAIL", "incrby", "u2", "102", "1"]),
        Frame::Array(vec![Frame::Null])
    );
    assert_eq!(
        db.run(&["BITFIELD", "mykey", "GET", "u2", "102"]),
        ints(&[3])
    );

    let mut db = Db::new();
    assert_eq!(
        db.run(&["BITFIELD", "mykey", "SET", "i8", "#0", "100", "SET", "i8", "#1", "200"]),
        ints(&[0, 0])
    );
    assert_eq!(
        db.run(&["BITFIELD", "mykey", "GET", "i8", "#0", "GET", "i8", "#1", "GET", "u8", "8"]),
        ints(&[100, -56, 200])
    );
    assert_eq!(db.run(&["GET", "mykey"]), bulk(b"\x64\xc8"));
    assert_eq!(
        db.run(&["BITFIELD_RO", "mykey", "GET", "u8", "#1"]),
        ints(&[200])
    );
    assert_eq!(
        db.run(&["BITFIELD_RO", "hello", "GET", "i8", "16"]),
        ints(&[0])
    );
    assert_eq!(db.run(&["BITFIELD", "mykey"]), Frame::Array(vec![]));
}

#[test]
fn bitfield_overflow_and_widths() {
    let mut db = Db::new();
    // Signed 8 bits around 127.
    assert_eq!(
        db.run(&["BITFIELD", "s", "SET", "i8", "0", "127"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["BITFIELD", "s", "INCRBY", "i8", "0", "10"]),
        ints(&[-119])
    );
    assert_eq!(
        db.run(&["BITFIELD", "s", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-100"]),
        ints(&[-128])
    );
    assert_eq!(
        db.run(&["BITFIELD", "s", "OVERFLOW", "SAT", "SET", "i8", "0", "200"]),
        ints(&[-128])
    );
    assert_eq!(db.run(&["BITFIELD", "s", "GET", "i8", "0"]), ints(&[127]));
    assert_eq!(
        db.run(&["BITFIELD", "s", "OVERFLOW", "WRAP", "SET", "i8", "0", "200"]),
        ints(&[127])
    );
    assert_eq!(db.run(&["BITFIELD", "s", "GET", "i8", "0"]), ints(&[-56]));
    assert_eq!(
        db.run(&[
            "BITFIELD", "s", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "-100", "INCRBY", "i8", "0",
            "-72"
        ]),
        Frame::Array(vec![Frame::Null, int(-128)])
    );
    // OVERFLOW applies to the following ops only.
    assert_eq!(
        db.run(&[
            "BITFIELD", "s", "INCRBY", "i8", "0", "-1", "OVERFLOW", "SAT", "INCRBY", "i8", "0",
            "-1000"
        ]),
        ints(&[127, -128])
    );

    // Unsigned.
    assert_eq!(
        db.run(&["BITFIELD", "u", "SET", "u8", "0", "5"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["BITFIELD", "u", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "-10"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["BITFIELD", "u", "SET", "u8", "0", "5", "INCRBY", "u8", "0", "-10"]),
        ints(&[0, 251])
    );
    assert_eq!(
        db.run(&["BITFIELD", "u", "OVERFLOW", "SAT", "SET", "u8", "0", "-1"]),
        ints(&[251])
    );
    assert_eq!(db.run(&["BITFIELD", "u", "GET", "u8", "0"]), ints(&[255]));
    assert_eq!(
        db.run(&["BITFIELD", "u", "SET", "u8", "0", "-300", "GET", "u8", "0"]),
        ints(&[255, 212])
    );
    assert_eq!(
        db.run(&[
            "BITFIELD", "u", "OVERFLOW", "FAIL", "SET", "u8", "0", "256", "SET", "u8", "0", "255"
        ]),
        Frame::Array(vec![Frame::Null, int(212)])
    );
    assert_eq!(
        db.run(&["BITFIELD", "u", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "1"]),
        ints(&[255])
    );

    // 64-bit signed and 63-bit unsigned, unaligned offsets.
    let mut db = Db::new();
    assert_eq!(
        db.run(&["BITFIELD", "w", "SET", "i64", "3", "-1"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["BITFIELD", "w", "GET", "i64", "3", "GET", "u63", "3", "GET", "u3", "0"]),
        ints(&[-1, i64::MAX, 0])
    );
    assert_eq!(db.run(&["STRLEN", "w"]), int(9));
    assert_eq!(
        db.run(&["BITFIELD", "w", "INCRBY", "i64", "3", "1"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["BITFIELD", "w", "SET", "i64", "3", "9223372036854775807"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["BITFIELD", "w", "INCRBY", "i64", "3", "1"]),
        ints(&[i64::MIN])
    );
    assert_eq!(
        db.run(&["BITFIELD", "w", "OVERFLOW", "SAT", "INCRBY", "i64", "3", "-1"]),
        ints(&[i64::MIN])
    );
    assert_eq!(
        db.run(&["BITFIELD", "w", "SET", "i64", "3", "9223372036854775807"]),
        ints(&[i64::MIN])
    );
    assert_eq!(
        db.run(&["BITFIELD", "w", "OVERFLOW", "SAT", "INCRBY", "i64", "3", "1"]),
        ints(&[i64::MAX])
    );
    assert_eq!(
        db.run(&["BITFIELD", "w", "OVERFLOW", "FAIL", "INCRBY", "i64", "3", "1"]),
        Frame::Array(vec![Frame::Null])
    );
    // Bits 0..2 are clear and bit 3 is i64::MAX's sign bit: u63 at 0 holds 2^59 - 1.
    assert_eq!(
        db.run(&["BITFIELD", "w", "SET", "u63", "0", "9223372036854775807"]),
        ints(&[(1 << 59) - 1])
    );
    assert_eq!(
        db.run(&["BITFIELD", "w", "OVERFLOW", "SAT", "INCRBY", "u63", "0", "5"]),
        ints(&[i64::MAX])
    );
    assert_eq!(
        db.run(&["BITFIELD", "w", "INCRBY", "u63", "0", "1"]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["BITFIELD", "w", "SET", "u1", "#5", "1", "GET", "u1", "5", "GET", "i1", "5"]),
        ints(&[0, 1, -1])
    );

    // Nibbles with # offsets.
    let mut db = Db::new();
    assert_eq!(
        db.run(&[
            "BITFIELD", "n", "SET", "u4", "#0", "15", "SET", "u4", "#1", "1", "SET", "u4", "#3",
            "10"
        ]),
        ints(&[0, 0, 0])
    );
    assert_eq!(db.run(&["GET", "n"]), bulk(b"\xf1\x0a"));
    // GET past the end reads zeros.
    assert_eq!(
        db.run(&["BITFIELD", "n", "GET", "u16", "8", "GET", "i64", "1000"]),
        ints(&[0x0a00, 0])
    );
}

#[test]
fn bitfield_writes_keep_ttl_and_create_keys() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "k", "\x01", "PX", "5000"]), Frame::ok());
    assert_eq!(
        db.run(&["BITFIELD", "k", "INCRBY", "u8", "0", "1"]),
        ints(&[2])
    );
    assert_eq!(db.expire_at("k"), Some(T0 + 5000));
    // Even a failed op makes room for its field, like Redis.
    assert_eq!(
        db.run(&["BITFIELD", "z", "OVERFLOW", "FAIL", "SET", "i8", "8", "200"]),
        Frame::Array(vec![Frame::Null])
    );
    assert_eq!(db.run(&["GET", "z"]), bulk(b"\0\0"));
    // GET-only never creates the key.
    assert_eq!(db.run(&["BITFIELD", "g", "GET", "u8", "0"]), ints(&[0]));
    assert_eq!(db.run(&["GET", "g"]), Frame::Null);
    db.now += 5000;
    assert_eq!(db.run(&["BITFIELD", "k", "GET", "u8", "0"]), ints(&[0]));
}

#[test]
fn bitfield_errors() {
    let mut db = Db::new();
    for ty in ["i65", "u64", "x8", "i0", "u", "i-1", "i08", ""] {
        assert_eq!(
            db.run(&["BITFIELD", "k", "GET", ty, "0"]),
            err(BAD_TYPE),
            "{ty:?}"
        );
    }
    for off in [
        "-1",
        "#",
        "x",
        "4294967296",
        "#536870912",
        "#-1",
        "#9223372036854775807",
    ] {
        assert_eq!(
            db.run(&["BITFIELD", "k", "GET", "u8", off]),
            err(BAD_OFFSET),
            "{off:?}"
        );
    }
    assert_eq!(
        db.run(&["BITFIELD", "k", "OVERFLOW", "FOO", "GET", "u8", "0"]),
        err("ERR Invalid OVERFLOW type specified")
    );
    assert_eq!(db.run(&["BITFIELD", "k", "FOO"]), err(SYNTAX));
    assert_eq!(db.run(&["BITFIELD", "k", "GET", "u8"]), err(SYNTAX));
    assert_eq!(db.run(&["BITFIELD", "k", "SET", "u8", "0"]), err(SYNTAX));
    assert_eq!(db.run(&["BITFIELD", "k", "OVERFLOW"]), err(SYNTAX));
    assert_eq!(
        db.run(&["BITFIELD", "k", "SET", "u8", "0", "x"]),
        err(NOT_INT)
    );
    assert_eq!(
        db.run(&["BITFIELD", "k", "INCRBY", "u8", "0", "1.5"]),
        err(NOT_INT)
    );
    // Parsing fails before anything is written.
    assert_eq!(
        db.run(&["BITFIELD", "k", "SET", "u8", "0", "1", "GET", "u99", "0"]),
        err(BAD_TYPE)
    );
    assert_eq!(db.run(&["GET", "k"]), Frame::Null);

    let ro = "ERR BITFIELD_RO only supports the GET subcommand";
    assert_eq!(
        db.run(&["BITFIELD_RO", "k", "SET", "u8", "0", "1"]),
        err(ro)
    );
    assert_eq!(
        db.run(&[
            "BITFIELD_RO",
            "k",
            "GET",
            "u8",
            "0",
            "INCRBY",
            "u8",
            "0",
            "1"
        ]),
        err(ro)
    );
    assert_eq!(db.run(&["GET", "k"]), Frame::Null);
    assert_eq!(
        db.run(&["BITFIELD_RO", "k", "OVERFLOW", "SAT", "GET", "u8", "0"]),
        ints(&[0])
    );

    db.make_hash("h");
    assert_eq!(db.run(&["BITFIELD", "h", "GET", "u8", "0"]), err(WRONGTYPE));
    assert_eq!(
        db.run(&["BITFIELD", "h", "SET", "u8", "0", "1"]),
        err(WRONGTYPE)
    );
    assert_eq!(db.run(&["BITFIELD", "h"]), err(WRONGTYPE));
    assert_eq!(
        db.run(&["BITFIELD_RO", "h", "GET", "u8", "0"]),
        err(WRONGTYPE)
    );
}

#[test]
fn bitfield_ro_runs_on_the_read_path() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SET", "k", "A"]), Frame::ok());
    let mut t = Txn::read_only(&db.store, db.now, 0);
    let argv: Vec<Vec<u8>> = ["BITFIELD_RO", "k", "GET", "u8", "0"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    assert_eq!(t.run(0, &argv), ints(&[65]));
    let argv: Vec<Vec<u8>> = ["BITCOUNT", "k"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    assert_eq!(t.run(0, &argv), int(2));
}

#[test]
fn table_metadata() {
    let c = engine::lookup(b"bitfield_ro").unwrap();
    assert_eq!(c.flag_names(), vec!["readonly", "fast"]);
    assert_eq!(c.acl_categories(), vec!["@read", "@bitmap", "@fast"]);
    let c = engine::lookup(b"setbit").unwrap();
    assert_eq!((c.arity, c.flag_names()), (4, vec!["write", "denyoom"]));
    assert_eq!(c.acl_categories(), vec!["@write", "@bitmap", "@slow"]);
    let c = engine::lookup(b"bitop").unwrap();
    assert_eq!(c.arity, -4);
    let argv: Vec<Vec<u8>> = ["bitop", "and", "d", "a", "b"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    assert_eq!(c.key_positions(&argv), vec![2, 3, 4]);
    assert_eq!(engine::lookup(b"bitpos").unwrap().since, "2.8.7");
    for name in [
        "bitcount",
        "bitfield",
        "bitfield_ro",
        "bitop",
        "bitpos",
        "getbit",
        "setbit",
    ] {
        assert_eq!(engine::lookup(name.as_bytes()).unwrap().group, "bitmap");
    }
}
