//! JSON commands checked against RedisJSON 2.x: the examples of every command's
//! documentation page and of the path syntax page, behaviours and error texts from
//! RedisJSON's own test suite, the storage contract, and two models: one evaluating
//! random paths over random documents, one replaying random write sequences.

use engine::{Frame, Txn, Write};
use keys::Cf;
use proptest::prelude::*;
use serde_json::{json, Value};

mod common;
use common::*;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NO_KEY: &str = "ERR could not perform this operation on a key that doesn't exist";

fn nil() -> Frame {
    Frame::Null
}

fn list(v: Vec<Frame>) -> Frame {
    Frame::Array(v)
}

fn nils(n: usize) -> Vec<Frame> {
    vec![Frame::Null; n]
}

fn simple(s: &str) -> Frame {
    Frame::Simple(s.to_string())
}

/// The JSON text of a bulk reply, parsed.
fn parsed(f: &Frame) -> Value {
    match f {
        Frame::Bulk(b) => serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {f:?}")),
        other => panic!("not a bulk reply: {other:?}"),
    }
}

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) => String::from_utf8(b.clone()).unwrap(),
        other => panic!("not a bulk reply: {other:?}"),
    }
}

/// A float as RedisJSON prints it (serde_json with `ryu`): plain decimal for
/// 1e-5 <= |f| < 1e16 (`.0` when integral), scientific otherwise (`1e300`, `1.5e-7`).
fn rj_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    if (1e-5..1e16).contains(&f.abs()) {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        format!("{f:e}")
    }
}

/// RedisJSON's compact JSON text of a value.
fn rj_text(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_f64() => rj_float(n.as_f64().unwrap()),
        Value::Array(a) => format!("[{}]", a.iter().map(rj_text).collect::<Vec<_>>().join(",")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), rj_text(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => serde_json::to_string(other).unwrap(),
    }
}

fn is_err(f: &Frame, part: &str) -> bool {
    matches!(f, Frame::Error(e) if e.contains(part))
}

impl Db {
    fn ok(&mut self, args: &[&str]) {
        assert_eq!(self.run(args), Frame::ok(), "{args:?}");
    }

    fn expire_at(&self, key: &str) -> Option<u64> {
        let t = Txn::read_only(&self.store, self.now, 0);
        t.get_meta(key.as_bytes()).unwrap().map(|m| m.expire_at_ms)
    }

    fn data_records(&self) -> usize {
        self.store
            .map
            .keys()
            .filter(|(cf, _)| *cf == Cf::Data)
            .count()
    }
}

// ---- the examples of each command's documentation page ----------------------------------

#[test]
fn set_examples() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "doc", "$", r#"{"a":2}"#]);
    db.ok(&["JSON.SET", "doc", "$.a", "3"]);
    assert_eq!(db.run(&["JSON.GET", "doc", "$"]), bulk(r#"[{"a":3}]"#));

    let mut db = Db::new();
    db.ok(&["JSON.SET", "doc", "$", r#"{"a":2}"#]);
    db.ok(&["JSON.SET", "doc", "$.b", "8"]);
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$"]),
        bulk(r#"[{"a":2,"b":8}]"#)
    );

    let mut db = Db::new();
    db.ok(&["JSON.SET", "doc", "$", r#"{"f1": {"a":1}, "f2":{"a":2}}"#]);
    db.ok(&["JSON.SET", "doc", "$..a", "3"]);
    assert_eq!(
        db.run(&["JSON.GET", "doc"]),
        bulk(r#"{"f1":{"a":3},"f2":{"a":3}}"#)
    );
    assert_eq!(db.run(&["TYPE", "doc"]), simple("ReJSON-RL"));
}

#[test]
fn get_examples() {
    let mut db = Db::new();
    db.ok(&[
        "JSON.SET",
        "doc",
        "$",
        r#"{"a":2, "b": 3, "nested": {"a": 4, "b": null}}"#,
    ]);
    assert_eq!(db.run(&["JSON.GET", "doc", "$..b"]), bulk("[3,null]"));
    // Multiple paths: an object keyed by path (in argument order here).
    assert_eq!(
        db.run(&["JSON.GET", "doc", "..a", "$..b"]),
        bulk(r#"{"..a":[2,4],"$..b":[3,null]}"#)
    );
    // All legacy: single values.
    assert_eq!(
        db.run(&["JSON.GET", "doc", ".a", "nested.a", ".a"]),
        bulk(r#"{".a":2,"nested.a":4}"#)
    );
    assert_eq!(db.run(&["JSON.GET", "doc", "..a"]), bulk("2"));
    assert_eq!(db.run(&["JSON.GET", "nokey", "$"]), nil());
    assert_eq!(db.run(&["JSON.GET", "doc", "$.nope"]), bulk("[]"));
    assert_eq!(
        db.run(&["JSON.GET", "doc", ".nope"]),
        err("ERR Path '$.nope' does not exist")
    );
    assert_eq!(
        db.run(&["JSON.GET", "doc", ".a", ".nope"]),
        err("ERR Path '.nope' does not exist")
    );
    // A path that does not compile is left out of a multi-path reply.
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$.a", "$[", "$.b"]),
        bulk(r#"{"$.a":[2],"$.b":[3]}"#)
    );
}

#[test]
fn get_formatting() {
    // RedisJSON's testGetFormatting, every combination.
    let mut db = Db::new();
    db.ok(&["JSON.SET", "obj", "$", r#"{"obj":{"f":"v"}}"#]);
    db.ok(&["JSON.SET", "arr", "$", r#"{"arr":[0,1]}"#]);
    for space in ["", " ", "\t", "  "] {
        for indent in ["", " ", "\t", "  "] {
            for newline in ["", "\n", "\r\n"] {
                let (n, i, s) = (newline, indent, space);
                let want_obj = format!("{{{n}{i}\"obj\":{s}{{{n}{i}{i}\"f\":{s}\"v\"{n}{i}}}{n}}}");
                let want_arr = format!("{{{n}{i}\"arr\":{s}[{n}{i}{i}0,{n}{i}{i}1{n}{i}]{n}}}");
                let args = ["INDENT", indent, "NEWLINE", newline, "SPACE", space];
                let mut a = vec!["JSON.GET", "obj"];
                a.extend(args);
                assert_eq!(db.run(&a), bulk(&want_obj));
                let mut a = vec!["JSON.GET", "arr"];
                a.extend(args);
                assert_eq!(db.run(&a), bulk(&want_arr));
            }
        }
    }
    // Options are case-insensitive, NOESCAPE is ignored, empty containers stay compact.
    db.ok(&["JSON.SET", "e", "$", r#"{"a":[],"b":{}}"#]);
    assert_eq!(
        db.run(&["JSON.GET", "e", "indent", "  ", "newline", "\n", "noescape", "$"]),
        bulk("[\n  {\n    \"a\":[],\n    \"b\":{}\n  }\n]")
    );
    assert_eq!(
        db.run(&["JSON.GET", "e", "INDENT"]),
        err("ERR wrong number of arguments for 'json.get' command")
    );
    assert_eq!(
        db.run(&["JSON.GET", "e", "FORMAT", "EXPAND"]),
        err("ERR FORMAT argument is not supported on RESP2")
    );
    assert_eq!(
        db.run(&["JSON.GET", "e", "$", "FORMAT", "STRINGS"]),
        err("ERR wrong reply format")
    );
    // After a path FORMAT is read and, on RESP2, has no effect.
    assert_eq!(
        db.run(&["JSON.GET", "e", "$", "FORMAT", "EXPAND"]),
        bulk(r#"[{"a":[],"b":{}}]"#)
    );
}

#[test]
fn del_examples() {
    let mut db = Db::new();
    db.ok(&[
        "JSON.SET",
        "doc",
        "$",
        r#"{"a": 1, "nested": {"a": 2, "b": 3}}"#,
    ]);
    assert_eq!(db.run(&["JSON.DEL", "doc", "$..a"]), int(2));
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$"]),
        bulk(r#"[{"nested":{"b":3}}]"#)
    );
    assert_eq!(db.run(&["JSON.DEL", "doc", "$..a"]), int(0));
    // The root deletes the key; FORGET is DEL.
    assert_eq!(db.run(&["JSON.FORGET", "doc"]), int(1));
    assert_eq!(db.run(&["EXISTS", "doc"]), int(0));
    assert_eq!(db.run(&["JSON.DEL", "doc"]), int(0));
    // Array elements: every index, highest first.
    db.ok(&["JSON.SET", "a", "$", "[1,2,3,4]"]);
    assert_eq!(db.run(&["JSON.DEL", "a", "$[0,2]"]), int(2));
    assert_eq!(db.run(&["JSON.GET", "a"]), bulk("[2,4]"));
    // Nested matches delete once, at the top.
    db.ok(&["JSON.SET", "n", "$", r#"{"a":{"a":{"a":1}},"b":2}"#]);
    assert_eq!(db.run(&["JSON.DEL", "n", "$..a"]), int(1));
    assert_eq!(db.run(&["JSON.GET", "n"]), bulk(r#"{"b":2}"#));
}

#[test]
fn deleting_a_key_moves_the_last_key_into_its_place() {
    // RedisJSON's object storage removes by swapping with the last entry.
    let mut db = Db::new();
    db.ok(&["JSON.SET", "o", "$", r#"{"a":1,"b":2,"c":3}"#]);
    assert_eq!(db.run(&["JSON.DEL", "o", "$.a"]), int(1));
    assert_eq!(db.run(&["JSON.GET", "o"]), bulk(r#"{"c":3,"b":2}"#));
    db.ok(&["JSON.SET", "o", "$.a", "4"]);
    assert_eq!(db.run(&["JSON.GET", "o"]), bulk(r#"{"c":3,"b":2,"a":4}"#));
}

#[test]
fn mget_examples() {
    let mut db = Db::new();
    db.ok(&[
        "JSON.SET",
        "doc1",
        "$",
        r#"{"a":1, "b": 2, "nested": {"a": 3}, "c": null}"#,
    ]);
    db.ok(&[
        "JSON.SET",
        "doc2",
        "$",
        r#"{"a":4, "b": 5, "nested": {"a": 6}, "c": null}"#,
    ]);
    assert_eq!(
        db.run(&["JSON.MGET", "doc1", "doc2", "$..a"]),
        arr(&["[1,3]", "[4,6]"])
    );
    // Missing keys, other types, missing legacy paths and bad paths are nils.
    db.run(&["SET", "str", "x"]);
    assert_eq!(
        db.run(&["JSON.MGET", "doc1", "nokey", "str", "doc2", ".nested"]),
        list(vec![bulk(r#"{"a":3}"#), nil(), nil(), bulk(r#"{"a":6}"#)])
    );
    assert_eq!(
        db.run(&["JSON.MGET", "doc1", "doc2", ".nope"]),
        list(vec![nil(), nil()])
    );
    assert_eq!(db.run(&["JSON.MGET", "doc1", "$["]), list(vec![nil()]));
    assert_eq!(
        db.run(&["JSON.MGET", "doc1"]),
        err("ERR wrong number of arguments for 'json.mget' command")
    );
}

#[test]
fn mset_examples() {
    let mut db = Db::new();
    db.ok(&[
        "JSON.MSET",
        "doc1",
        "$",
        r#"{"a":1}"#,
        "doc2",
        "$",
        r#"{"f":{"a":2}}"#,
        "doc3",
        "$",
        r#"{"f1":{"a":0},"f2":{"a":0}}"#,
    ]);
    db.ok(&[
        "JSON.MSET",
        "doc1",
        "$",
        r#"{"a":2}"#,
        "doc2",
        "$.f.a",
        "3",
        "doc3",
        "$",
        r#"{"f1":{"a":1},"f2":{"a":2}}"#,
    ]);
    assert_eq!(db.run(&["JSON.GET", "doc1", "$"]), bulk(r#"[{"a":2}]"#));
    assert_eq!(
        db.run(&["JSON.GET", "doc2", "$"]),
        bulk(r#"[{"f":{"a":3}}]"#)
    );
    assert_eq!(
        db.run(&["JSON.GET", "doc3"]),
        bulk(r#"{"f1":{"a":1},"f2":{"a":2}}"#)
    );
    // All or nothing: a bad triplet anywhere changes no key.
    assert_eq!(
        db.run(&["JSON.MSET", "doc1", "$", "5", "new", "$.a", "1"]),
        err("ERR new objects must be created at the root")
    );
    assert_eq!(
        db.run(&["JSON.MSET", "doc1", "$", "5", "doc2", "$", "{bad"]),
        err("key must be a string at line 1 column 2")
    );
    db.run(&["SET", "str", "x"]);
    assert_eq!(
        db.run(&["JSON.MSET", "doc1", "$", "5", "str", "$", "1"]),
        err(WRONGTYPE)
    );
    assert_eq!(db.run(&["JSON.GET", "doc1"]), bulk(r#"{"a":2}"#));
    assert_eq!(
        db.run(&["JSON.MSET", "doc1", "$", "5", "doc2"]),
        err("ERR wrong number of arguments for 'json.mset' command")
    );
    // The same key twice: applied in order.
    db.ok(&["JSON.MSET", "d", "$", "{}", "d", "$", r#"{"x":1}"#]);
    assert_eq!(db.run(&["JSON.GET", "d"]), bulk(r#"{"x":1}"#));
}

#[test]
fn merge_examples() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "doc", "$", r#"{"a":2}"#]);
    db.ok(&["JSON.MERGE", "doc", "$.b", "8"]);
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$"]),
        bulk(r#"[{"a":2,"b":8}]"#)
    );

    db.ok(&["JSON.SET", "doc", "$", r#"{"a":2}"#]);
    db.ok(&["JSON.MERGE", "doc", "$.a", "3"]);
    assert_eq!(db.run(&["JSON.GET", "doc", "$"]), bulk(r#"[{"a":3}]"#));

    db.ok(&["JSON.SET", "doc", "$", r#"{"a":2}"#]);
    db.ok(&["JSON.MERGE", "doc", "$", r#"{"a":null}"#]);
    assert_eq!(db.run(&["JSON.GET", "doc", "$"]), bulk("[{}]"));

    db.ok(&["JSON.SET", "doc", "$", r#"{"a":[2,4,6,8]}"#]);
    db.ok(&["JSON.MERGE", "doc", "$.a", "[10,12]"]);
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$"]),
        bulk(r#"[{"a":[10,12]}]"#)
    );

    db.ok(&["JSON.SET", "doc", "$", r#"{"f1": {"a":1}, "f2":{"a":2}}"#]);
    assert_eq!(
        db.run(&["JSON.GET", "doc"]),
        bulk(r#"{"f1":{"a":1},"f2":{"a":2}}"#)
    );
    db.ok(&[
        "JSON.MERGE",
        "doc",
        "$",
        r#"{"f1": null, "f2":{"a":3, "b":4}, "f3":[2,4,6]}"#,
    ]);
    assert_eq!(
        db.run(&["JSON.GET", "doc"]),
        bulk(r#"{"f2":{"a":3,"b":4},"f3":[2,4,6]}"#)
    );
    // RFC 7396: nested patches drop their nulls, a non-object patch replaces.
    db.ok(&[
        "JSON.MERGE",
        "doc",
        "$.f2",
        r#"{"c":{"d":null,"e":1},"a":null}"#,
    ]);
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$.f2"]),
        bulk(r#"[{"c":{"e":1},"b":4}]"#)
    );
    db.ok(&["JSON.MERGE", "doc", "$", "7"]);
    assert_eq!(db.run(&["JSON.GET", "doc"]), bulk("7"));
    // New keys only at the root; a missing parent is a nil.
    db.ok(&["JSON.MERGE", "new", "$", r#"{"x":{"y":1}}"#]);
    assert_eq!(db.run(&["JSON.MERGE", "new", "$.q.r", "1"]), nil());
    assert_eq!(
        db.run(&["JSON.MERGE", "none", "$.a", "1"]),
        err("ERR new objects must be created at the root")
    );
}

#[test]
fn type_examples() {
    let mut db = Db::new();
    db.ok(&[
        "JSON.SET",
        "doc",
        "$",
        r#"{"a":2, "nested": {"a": true}, "foo": "bar"}"#,
    ]);
    assert_eq!(db.run(&["JSON.TYPE", "doc", "$..foo"]), arr(&["string"]));
    assert_eq!(
        db.run(&["JSON.TYPE", "doc", "$..a"]),
        arr(&["integer", "boolean"])
    );
    assert_eq!(db.run(&["JSON.TYPE", "doc", "$..dummy"]), arr(&[]));
    // Legacy: one type, nil for missing paths and keys.
    assert_eq!(db.run(&["JSON.TYPE", "doc"]), bulk("object"));
    assert_eq!(db.run(&["JSON.TYPE", "doc", ".nested.a"]), bulk("boolean"));
    assert_eq!(db.run(&["JSON.TYPE", "doc", ".nope"]), nil());
    assert_eq!(db.run(&["JSON.TYPE", "nokey"]), nil());
    // RedisJSON's testTypeCommand.
    for (v, name) in [
        ("null", "null"),
        ("false", "boolean"),
        ("42", "integer"),
        ("1.2", "number"),
        ("\"str\"", "string"),
        ("{}", "object"),
        ("[]", "array"),
        ("18446744073709551615", "integer"),
        ("3.0", "number"),
    ] {
        db.ok(&["JSON.SET", "t", ".", v]);
        assert_eq!(db.run(&["JSON.TYPE", "t", "."]), bulk(name), "{v}");
    }
}

const HEADPHONES: &str = r#"{"name":"Noise-cancelling Bluetooth headphones","description":"Wireless Bluetooth headphones with noise-cancelling technology","connection":{"wireless":true,"type":"Bluetooth"},"price":99.98,"stock":25,"colors":["black","silver"]}"#;

#[test]
fn arrappend_arrindex_arrinsert_examples() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "item:1", "$", HEADPHONES]);
    assert_eq!(
        db.run(&["JSON.ARRAPPEND", "item:1", "$.colors", r#""blue""#]),
        ints(&[3])
    );
    assert_eq!(
        db.run(&["JSON.GET", "item:1"]),
        bulk(
            r#"{"name":"Noise-cancelling Bluetooth headphones","description":"Wireless Bluetooth headphones with noise-cancelling technology","connection":{"wireless":true,"type":"Bluetooth"},"price":99.98,"stock":25,"colors":["black","silver","blue"]}"#
        )
    );
    assert_eq!(
        db.run(&["JSON.GET", "item:1", "$.colors[*]"]),
        bulk(r#"["black","silver","blue"]"#)
    );
    assert_eq!(
        db.run(&[
            "JSON.ARRINSERT",
            "item:1",
            "$.colors",
            "2",
            r#""yellow""#,
            r#""gold""#
        ]),
        ints(&[5])
    );
    assert_eq!(
        db.run(&["JSON.GET", "item:1", "$.colors"]),
        bulk(r#"[["black","silver","yellow","gold","blue"]]"#)
    );
    assert_eq!(
        db.run(&["JSON.ARRINDEX", "item:1", "$..colors", r#""silver""#]),
        ints(&[1])
    );
    // Non-arrays are nils.
    assert_eq!(
        db.run(&["JSON.ARRAPPEND", "item:1", "$.*", "1"]),
        list(vec![nil(), nil(), nil(), nil(), nil(), int(6)])
    );
}

const EARBUDS: &str = r#"{"name":"Wireless earbuds","description":"Wireless Bluetooth in-ear headphones","connection":{"wireless":true,"type":"Bluetooth"},"price":64.99,"stock":17,"colors":["black","white"], "max_level":[80, 100, 120]}"#;

#[test]
fn arrlen_examples() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "item:2", "$", EARBUDS]);
    assert_eq!(
        db.run(&["JSON.ARRLEN", "item:2", "$.[*]"]),
        list(vec![nil(), nil(), nil(), nil(), nil(), int(2), int(3)])
    );
    assert_eq!(
        db.run(&["JSON.ARRLEN", "item:2", "$..max_level"]),
        ints(&[3])
    );
    assert_eq!(
        db.run(&["JSON.GET", "item:2", "$..max_level"]),
        bulk("[[80,100,120]]")
    );
    // Legacy.
    assert_eq!(db.run(&["JSON.ARRLEN", "item:2", ".colors"]), int(2));
    assert_eq!(
        db.run(&["JSON.ARRLEN", "item:2", ".price"]),
        err("ERR Path '.price' does not exist or not an array")
    );
    assert_eq!(
        db.run(&["JSON.ARRLEN", "item:2", ".nope"]),
        err("ERR Path '.nope' does not exist")
    );
    assert_eq!(db.run(&["JSON.ARRLEN", "nokey", ".bar"]), nil());
    assert_eq!(db.run(&["JSON.ARRLEN", "nokey", "$"]), err(NO_KEY));
}

const TWO_PRODUCTS: &str = r#"[{"name":"Healthy headphones","description":"Wireless Bluetooth headphones with noise-cancelling technology","connection":{"wireless":true,"type":"Bluetooth"},"price":99.98,"stock":25,"colors":["black","silver"],"max_level":[60,70,80]},{"name":"Noisy headphones","description":"Wireless Bluetooth headphones with noise-cancelling technology","connection":{"wireless":true,"type":"Bluetooth"},"price":99.98,"stock":25,"colors":["black","silver"],"max_level":[80,90,100,120]}]"#;

#[test]
fn arrpop_arrtrim_examples() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "key", "$", TWO_PRODUCTS]);
    assert_eq!(
        db.run(&["JSON.GET", "key", "$.[1].max_level"]),
        bulk("[[80,90,100,120]]")
    );
    assert_eq!(
        db.run(&["JSON.ARRPOP", "key", "$.[1].max_level", "0"]),
        arr(&["80"])
    );
    assert_eq!(
        db.run(&["JSON.GET", "key", "$.[1].max_level"]),
        bulk("[[90,100,120]]")
    );
    assert_eq!(
        db.run(&["JSON.ARRINSERT", "key", "$.[1].max_level", "0", "85"]),
        ints(&[4])
    );
    assert_eq!(
        db.run(&["JSON.GET", "key", "$.[1].max_level"]),
        bulk("[[85,90,100,120]]")
    );
    assert_eq!(
        db.run(&[
            "JSON.ARRAPPEND",
            "key",
            "$.[1].max_level",
            "140",
            "160",
            "180",
            "200",
            "220",
            "240",
            "260",
            "280"
        ]),
        ints(&[12])
    );
    assert_eq!(
        db.run(&["JSON.GET", "key", "$.[1].max_level"]),
        bulk("[[85,90,100,120,140,160,180,200,220,240,260,280]]")
    );
    assert_eq!(
        db.run(&["JSON.ARRTRIM", "key", "$.[1].max_level", "4", "8"]),
        ints(&[5])
    );
    assert_eq!(
        db.run(&["JSON.GET", "key", "$.[1].max_level"]),
        bulk("[[140,160,180,200,220]]")
    );
    // Popping values of any type returns their JSON.
    assert_eq!(
        db.run(&["JSON.ARRPOP", "key", "$[*].connection"]),
        list(vec![nil(), nil()])
    );
    assert_eq!(
        db.run(&["JSON.ARRPOP", "key", "$"]),
        list(vec![bulk(
            r#"{"name":"Noisy headphones","description":"Wireless Bluetooth headphones with noise-cancelling technology","connection":{"wireless":true,"type":"Bluetooth"},"price":99.98,"stock":25,"colors":["black","silver"],"max_level":[140,160,180,200,220]}"#
        )])
    );
}

#[test]
fn array_mutations_on_nested_matches() {
    // RedisJSON mutates the deepest, highest-index matches first so every path stays
    // valid; replies keep the match order.
    let mut db = Db::new();
    db.ok(&["JSON.SET", "k", "$", r#"{"a":[[1,2,3],[4,5,6]]}"#]);
    let mut want = vec![bulk("[4,5]"), bulk("3"), bulk("6")];
    want.extend(nils(6));
    assert_eq!(db.run(&["JSON.ARRPOP", "k", "$..*", "-1"]), list(want));
    assert_eq!(db.run(&["JSON.GET", "k"]), bulk(r#"{"a":[[1,2]]}"#));
    db.ok(&["JSON.SET", "k", "$", r#"{"a":[[1,2,3],[4,5,6]]}"#]);
    let mut want = vec![int(3), int(4), int(4)];
    want.extend(nils(6));
    assert_eq!(
        db.run(&["JSON.ARRINSERT", "k", "$..*", "0", "0"]),
        list(want)
    );
    assert_eq!(
        db.run(&["JSON.GET", "k"]),
        bulk(r#"{"a":[0,[0,1,2,3],[0,4,5,6]]}"#)
    );
    db.ok(&["JSON.SET", "k", "$", r#"{"a":[[1,2,3],[4,5,6]]}"#]);
    let mut want = vec![int(1), int(1), int(1)];
    want.extend(nils(6));
    assert_eq!(db.run(&["JSON.ARRTRIM", "k", "$..*", "0", "0"]), list(want));
    assert_eq!(db.run(&["JSON.GET", "k"]), bulk(r#"{"a":[[1]]}"#));
}

#[test]
fn clear_examples() {
    let mut db = Db::new();
    db.ok(&[
        "JSON.SET", "doc", "$",
        r#"{"obj":{"a":1, "b":2}, "arr":[1,2,3], "str": "foo", "bool": true, "int": 42, "float": 3.14}"#,
    ]);
    assert_eq!(db.run(&["JSON.CLEAR", "doc", "$.*"]), int(4));
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$"]),
        bulk(r#"[{"obj":{},"arr":[],"str":"foo","bool":true,"int":0,"float":0}]"#)
    );
    // Already cleared values do not count; only the first path is used.
    assert_eq!(db.run(&["JSON.CLEAR", "doc", "$.*"]), int(0));
    db.ok(&[
        "JSON.SET", "test", ".",
        r#"{"n":42,"s":"42","arr":[{"n":44},"s",{"n":{"a":1,"b":2}},{"n2":{"x":3.02,"n":["to","be","cleared",4],"y":4.91}}]}"#,
    ]);
    assert_eq!(db.run(&["JSON.CLEAR", "test", "$.arr.*"]), int(3));
    assert_eq!(
        db.run(&["JSON.GET", "test", "$"]),
        bulk(r#"[{"n":42,"s":"42","arr":[{},"s",{},{}]}]"#)
    );
    assert_eq!(db.run(&["JSON.CLEAR", "test", "$", "$.arr[2].n"]), int(1));
    assert_eq!(db.run(&["JSON.GET", "test", "$"]), bulk("[{}]"));
    db.ok(&["JSON.SET", "test", "$", r#"{"a":1,"b":2}"#]);
    assert_eq!(db.run(&["JSON.CLEAR", "test"]), int(1));
    assert_eq!(db.run(&["JSON.CLEAR", "test", "$.c"]), int(0));
    assert_eq!(db.run(&["JSON.CLEAR", "not_test_key", "$"]), err(NO_KEY));
    // Numbers clear to integer 0, null and strings are left alone.
    db.ok(&[
        "JSON.SET",
        "s",
        "$",
        r#"{"u":"string value","n":null,"b":true,"i":42,"f":-1.2}"#,
    ]);
    assert_eq!(db.run(&["JSON.CLEAR", "s", "$.*"]), int(2));
    assert_eq!(
        db.run(&["JSON.GET", "s", "$.*"]),
        bulk(r#"["string value",null,true,0,0]"#)
    );
}

#[test]
fn numincrby_nummultby_examples() {
    let mut db = Db::new();
    let doc = r#"{"a":"b","b":[{"a":2}, {"a":5}, {"a":"c"}]}"#;
    db.ok(&["JSON.SET", "doc", ".", doc]);
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "doc", "$.a", "2"]),
        bulk("[null]")
    );
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "doc", "$..a", "2"]),
        bulk("[null,4,7,null]")
    );
    db.ok(&["JSON.SET", "doc", ".", doc]);
    assert_eq!(
        db.run(&["JSON.NUMMULTBY", "doc", "$.a", "2"]),
        bulk("[null]")
    );
    assert_eq!(
        db.run(&["JSON.NUMMULTBY", "doc", "$..a", "2"]),
        bulk("[null,4,10,null]")
    );
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "doc", "$.nope", "x"]),
        bulk("[]")
    );

    // RedisJSON's testNumIncrCommand.
    db.ok(&["JSON.SET", "test", ".", r#"{ "foo": 0, "bar": "baz" }"#]);
    assert_eq!(db.run(&["JSON.NUMINCRBY", "test", ".foo", "1"]), bulk("1"));
    assert_eq!(db.run(&["JSON.GET", "test", ".foo"]), bulk("1"));
    assert_eq!(db.run(&["JSON.NUMINCRBY", "test", ".foo", "2"]), bulk("3"));
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "test", ".foo", "0.5"]),
        bulk("3.5")
    );
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "test", ".bar", "1"]),
        err("ERR Path '$.bar' does not exist or does not contains a number")
    );
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "test", ".fuzz", "1"]),
        err("ERR Path '$.fuzz' does not exist or does not contains a number")
    );
    db.ok(&["JSON.SET", "num", ".", "0"]);
    assert_eq!(db.run(&["JSON.NUMINCRBY", "num", ".", "1"]), bulk("1"));
    assert_eq!(db.run(&["JSON.NUMINCRBY", "num", ".", "1.5"]), bulk("2.5"));
    assert_eq!(db.run(&["JSON.NUMINCRBY", "num", ".", "0.5"]), bulk("3.0"));
    assert_eq!(db.run(&["JSON.TYPE", "num"]), bulk("number"));
    db.ok(&["JSON.SET", "foo", ".", r#"{"foo":0,"bar":42}"#]);
    assert_eq!(db.run(&["JSON.NUMINCRBY", "foo", "foo", "1"]), bulk("1"));
    assert_eq!(db.run(&["JSON.NUMMULTBY", "foo", "bar", "2"]), bulk("84"));
    assert_eq!(
        db.run(&["JSON.NUMMULTBY", "foo", "bar", "1.5"]),
        bulk("126.0")
    );
    assert_eq!(
        db.run(&["JSON.GET", "foo"]),
        bulk(r#"{"foo":1,"bar":126.0}"#)
    );
    // Bad operands are errors only when something matched.
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "foo", "$.foo", "x"]),
        err("expected value at line 1 column 1")
    );
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "foo", "$.foo", r#""1""#]),
        err("bad input number")
    );
    assert_eq!(db.run(&["JSON.NUMINCRBY", "nokey", "$", "1"]), err(NO_KEY));
}

#[test]
fn number_kinds_and_overflow() {
    let mut db = Db::new();
    // Overflow to infinity is an error and leaves the value (RedisJSON's
    // testNumCommandOverflow).
    db.ok(&["JSON.SET", "big", ".", "1.6350000000001313e+308"]);
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "big", ".", "1.6350000000001313e+308"]),
        err("result is not a number")
    );
    assert_eq!(
        db.run(&["JSON.NUMMULTBY", "big", ".", "2"]),
        err("result is not a number")
    );
    assert_eq!(
        db.run(&["JSON.GET", "big", "."]),
        bulk("1.6350000000001313e308")
    );
    db.ok(&[
        "JSON.SET",
        "n",
        "$",
        r#"{"l1":{"l2":[0,1.6350000000001313e+308]}}"#,
    ]);
    assert_eq!(
        db.run(&[
            "JSON.NUMINCRBY",
            "n",
            "$.l1.l2[*]",
            "1.6350000000001313e+308"
        ]),
        err("result is not a number")
    );
    // All or nothing: the first element was not incremented either.
    assert_eq!(
        db.run(&["JSON.GET", "n", "$"]),
        bulk(r#"[{"l1":{"l2":[0,1.6350000000001313e308]}}]"#)
    );
    // i64 arithmetic wraps; u64 operands or values promote to float (test_promote_u64_to_f64).
    let max = i64::MAX.to_string();
    db.ok(&["JSON.SET", "num", "$", "0"]);
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "num", "$", &max]),
        bulk(&format!("[{max}]"))
    );
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "num", "$", "1"]),
        bulk(&format!("[{}]", i64::MIN))
    );
    assert_eq!(db.run(&["JSON.TYPE", "num", "$"]), arr(&["integer"]));
    db.ok(&["JSON.SET", "num", "$", "0"]);
    assert_eq!(
        db.run(&["JSON.NUMINCRBY", "num", "$", "9223372036854775809"]),
        bulk("[9.223372036854776e18]")
    );
    assert_eq!(db.run(&["JSON.TYPE", "num", "$"]), arr(&["number"]));
    db.ok(&["JSON.SET", "num", "$", "9223372036854775808"]);
    assert_eq!(db.run(&["JSON.TYPE", "num", "$"]), arr(&["integer"]));
    assert_eq!(db.run(&["JSON.GET", "num"]), bulk("9223372036854775808"));
    assert_eq!(db.run(&["JSON.CLEAR", "num", "$"]), int(1));
    assert_eq!(db.run(&["JSON.GET", "num"]), bulk("0"));
    // Floats print the shortest round-trip form, always recognisably floats.
    for (given, shown) in [
        ("3.0", "3.0"),
        ("1E3", "1000.0"),
        ("-0.0", "-0.0"),
        ("0.1", "0.1"),
        ("1e300", "1e300"),
        ("12345678901234567890", "12345678901234567890"),
    ] {
        db.ok(&["JSON.SET", "f", "$", given]);
        assert_eq!(db.run(&["JSON.GET", "f"]), bulk(shown), "{given}");
    }
    assert_eq!(
        db.run(&["JSON.SET", "f", "$", "1e400"]),
        err("number out of range at line 1 column 5")
    );
}

#[test]
fn objkeys_objlen_examples() {
    let mut db = Db::new();
    db.ok(&[
        "JSON.SET",
        "doc",
        "$",
        r#"{"a":[3], "nested": {"a": {"b":2, "c": 1}}}"#,
    ]);
    assert_eq!(
        db.run(&["JSON.OBJKEYS", "doc", "$..a"]),
        list(vec![nil(), arr(&["b", "c"])])
    );
    assert_eq!(
        db.run(&["JSON.OBJLEN", "doc", "$..a"]),
        list(vec![nil(), int(2)])
    );
    // Legacy.
    assert_eq!(db.run(&["JSON.OBJKEYS", "doc"]), arr(&["a", "nested"]));
    assert_eq!(db.run(&["JSON.OBJLEN", "doc", ".nested.a"]), int(2));
    assert_eq!(db.run(&["JSON.OBJKEYS", "doc", ".nope"]), nil());
    assert_eq!(db.run(&["JSON.OBJLEN", "doc", ".nope"]), nil());
    assert_eq!(
        db.run(&["JSON.OBJKEYS", "doc", ".a"]),
        err("ERR Path '$.a' does not exist or not an object")
    );
    assert_eq!(
        db.run(&["JSON.OBJLEN", "doc", ".a"]),
        err("WRONGTYPE wrong type of path value - expected object but found array")
    );
    assert_eq!(db.run(&["JSON.OBJKEYS", "nokey"]), nil());
    assert_eq!(db.run(&["JSON.OBJLEN", "nokey"]), nil());
    assert_eq!(db.run(&["JSON.OBJKEYS", "nokey", "$"]), err(NO_KEY));
    assert_eq!(
        db.run(&["JSON.OBJLEN", "nokey", "$"]),
        err("ERR Path '$' does not exist or not an object")
    );
}

#[test]
fn strappend_strlen_examples() {
    let mut db = Db::new();
    let doc = r#"{"a":"foo", "nested": {"a": "hello"}, "nested2": {"a": 31}}"#;
    db.ok(&["JSON.SET", "doc", "$", doc]);
    assert_eq!(
        db.run(&["JSON.STRAPPEND", "doc", "$..a", r#""baz""#]),
        list(vec![int(6), int(8), nil()])
    );
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$"]),
        bulk(r#"[{"a":"foobaz","nested":{"a":"hellobaz"},"nested2":{"a":31}}]"#)
    );
    db.ok(&["JSON.SET", "doc", "$", doc]);
    assert_eq!(
        db.run(&["JSON.STRLEN", "doc", "$..a"]),
        list(vec![int(3), int(5), nil()])
    );
    // RedisJSON's testStrCommands: legacy root, path optional; lengths are bytes.
    db.ok(&["JSON.SET", "test", ".", r#""foo""#]);
    assert_eq!(db.run(&["JSON.TYPE", "test", "."]), bulk("string"));
    assert_eq!(db.run(&["JSON.STRLEN", "test", "."]), int(3));
    assert_eq!(db.run(&["JSON.STRAPPEND", "test", ".", r#""bar""#]), int(6));
    assert_eq!(db.run(&["JSON.STRAPPEND", "test", r#""é""#]), int(8));
    assert_eq!(db.run(&["JSON.GET", "test", "."]), bulk(r#""foobaré""#));
    assert_eq!(
        db.run(&["JSON.STRAPPEND", "test", ".", "5"]),
        err("WRONGTYPE wrong type of path value - expected string but found 5")
    );
    db.ok(&[
        "JSON.SET",
        "b",
        "$",
        r#"{"string":"string value","none":null,"num":4.2}"#,
    ]);
    assert_eq!(db.run(&["JSON.STRLEN", "b", ".string"]), int(12));
    assert_eq!(
        db.run(&["JSON.STRLEN", "b", ".none"]),
        err("WRONGTYPE wrong type of path value - expected string but found null")
    );
    assert_eq!(
        db.run(&["JSON.STRLEN", "b", ".num"]),
        err("WRONGTYPE wrong type of path value - expected string but found number")
    );
    assert_eq!(
        db.run(&["JSON.STRLEN", "b", ".nope"]),
        err("ERR Path '$.nope' does not exist")
    );
    assert_eq!(
        db.run(&["JSON.STRAPPEND", "b", ".num", r#""x""#]),
        err("ERR Path '$.num' does not exist or not a string")
    );
    assert_eq!(db.run(&["JSON.STRLEN", "nokey"]), nil());
    assert_eq!(db.run(&["JSON.STRLEN", "nokey", "$"]), err(NO_KEY));
    assert_eq!(db.run(&["JSON.STRAPPEND", "nokey", r#""x""#]), err(NO_KEY));
}

#[test]
fn toggle_examples() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "doc", "$", r#"{"bool": true}"#]);
    assert_eq!(db.run(&["JSON.TOGGLE", "doc", "$.bool"]), ints(&[0]));
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$"]),
        bulk(r#"[{"bool":false}]"#)
    );
    assert_eq!(db.run(&["JSON.TOGGLE", "doc", "$.bool"]), ints(&[1]));
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$"]),
        bulk(r#"[{"bool":true}]"#)
    );
    // RedisJSON's testToggleCommand.
    db.ok(&["JSON.SET", "test", ".", r#"{"foo":true}"#]);
    assert_eq!(db.run(&["JSON.TOGGLE", "test", ".foo"]), bulk("false"));
    assert_eq!(db.run(&["JSON.TOGGLE", "test", ".foo"]), bulk("true"));
    db.ok(&["JSON.SET", "test", ".", r#"{"foo":"bar"}"#]);
    assert_eq!(
        db.run(&["JSON.TOGGLE", "test", ".bar"]),
        err("ERR Path '$.bar' does not exist or not a bool")
    );
    assert_eq!(
        db.run(&["JSON.TOGGLE", "test", ".foo"]),
        err("ERR Path '$.foo' does not exist or not a bool")
    );
    assert_eq!(db.run(&["JSON.TOGGLE", "test", "$.*"]), list(vec![nil()]));
    assert_eq!(db.run(&["JSON.TOGGLE", "nokey", "$"]), err(NO_KEY));
}

#[test]
fn resp_example() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "item:2", "$", EARBUDS]);
    let want = list(vec![
        simple("{"),
        bulk("name"),
        bulk("Wireless earbuds"),
        bulk("description"),
        bulk("Wireless Bluetooth in-ear headphones"),
        bulk("connection"),
        list(vec![
            simple("{"),
            bulk("wireless"),
            simple("true"),
            bulk("type"),
            bulk("Bluetooth"),
        ]),
        bulk("price"),
        Frame::Double(64.99),
        bulk("stock"),
        int(17),
        bulk("colors"),
        list(vec![simple("["), bulk("black"), bulk("white")]),
        bulk("max_level"),
        list(vec![simple("["), int(80), int(100), int(120)]),
    ]);
    assert_eq!(db.run(&["JSON.RESP", "item:2"]), want);
    assert_eq!(
        db.run(&["JSON.RESP", "item:2", "$.colors"]),
        list(vec![list(vec![simple("["), bulk("black"), bulk("white")])])
    );
    assert_eq!(db.run(&["JSON.RESP", "item:2", "$.nope"]), list(vec![]));
    assert_eq!(
        db.run(&["JSON.RESP", "item:2", ".nope"]),
        err("ERR Path '$.nope' does not exist")
    );
    db.ok(&["JSON.SET", "n", "$", "null"]);
    assert_eq!(db.run(&["JSON.RESP", "n"]), nil());
    assert_eq!(db.run(&["JSON.RESP", "nokey"]), nil());
}

#[test]
fn debug_memory() {
    let mut db = Db::new();
    db.ok(&[
        "JSON.SET",
        "k",
        "$",
        r#"{"a":"abc","b":[1,2],"c":1.5,"d":1000,"e":10000000}"#,
    ]);
    // RedisJSON 2.8's estimate: 8 per value, plus the payload and container overhead.
    assert_eq!(db.run(&["JSON.DEBUG", "MEMORY", "k", "$.a"]), ints(&[11]));
    assert_eq!(db.run(&["JSON.DEBUG", "MEMORY", "k", "$.b"]), ints(&[56]));
    assert_eq!(
        db.run(&["JSON.DEBUG", "MEMORY", "k", "$.c", "$.d"]),
        ints(&[24])
    );
    assert_eq!(db.run(&["JSON.DEBUG", "memory", "k", ".d"]), int(12));
    assert_eq!(db.run(&["JSON.DEBUG", "MEMORY", "k", ".e"]), int(24));
    // 8 + 8*(3*5+2) + keys 5 + 11 + 56 + 24 + 12 + 24.
    assert_eq!(
        db.run(&["JSON.DEBUG", "MEMORY", "k"]),
        int(8 + 136 + 5 + 127)
    );
    assert_eq!(db.run(&["JSON.DEBUG", "MEMORY", "nokey"]), int(0));
    assert_eq!(
        db.run(&["JSON.DEBUG", "MEMORY", "nokey", "$"]),
        list(vec![])
    );
    assert_eq!(
        db.run(&["JSON.DEBUG", "MEMORY", "k", ".nope"]),
        err("ERR Path '$.nope' does not exist")
    );
    assert_eq!(
        db.run(&["JSON.DEBUG", "HELP"]),
        arr(&[
            "MEMORY <key> [path] - reports memory usage",
            "HELP                - this message"
        ])
    );
    assert_eq!(
        db.run(&["JSON.DEBUG", "nope"]),
        err("ERR unknown subcommand - try `JSON.DEBUG HELP`")
    );
    assert_eq!(
        db.run(&["JSON.DEBUG", "MEMORY"]),
        err("ERR wrong number of arguments for 'json.debug' command")
    );
}

// ---- the path syntax page ---------------------------------------------------------------

const STORE: &str = r#"{"inventory":{"headphones":[{"id":12345,"name":"Noise-cancelling Bluetooth headphones","description":"Wireless Bluetooth headphones with noise-cancelling technology","wireless":true,"connection":"Bluetooth","price":99.98,"stock":25,"free-shipping":false,"colors":["black","silver"]},{"id":12346,"name":"Wireless earbuds","description":"Wireless Bluetooth in-ear headphones","wireless":true,"connection":"Bluetooth","price":64.99,"stock":17,"free-shipping":false,"colors":["black","white"]},{"id":12347,"name":"Mic headset","description":"Headset with built-in microphone","wireless":false,"connection":"USB","price":35.01,"stock":28,"free-shipping":false}],"keyboards":[{"id":22345,"name":"Wireless keyboard","description":"Wireless Bluetooth keyboard","wireless":true,"connection":"Bluetooth","price":44.99,"stock":23,"free-shipping":false,"colors":["black","silver"]},{"id":22346,"name":"USB-C keyboard","description":"Wired USB-C keyboard","wireless":false,"connection":"USB-C","price":29.99,"stock":30,"free-shipping":false}]}}"#;

#[test]
fn path_page_examples() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "store", "$", STORE]);
    let store: Value = serde_json::from_str(STORE).unwrap();
    let inv = &store["inventory"];
    assert_eq!(
        parsed(&db.run(&["JSON.GET", "store", "$.inventory.*"])),
        json!([inv["headphones"], inv["keyboards"]])
    );
    let names = r#"["Noise-cancelling Bluetooth headphones","Wireless earbuds","Mic headset"]"#;
    for p in [
        "$.inventory.headphones[*].name",
        r#"$.inventory["headphones"][*].name"#,
        "$..headphones[*].name",
    ] {
        assert_eq!(db.run(&["JSON.GET", "store", p]), bulk(names), "{p}");
    }
    assert_eq!(
        db.run(&["JSON.GET", "store", "$..name"]),
        bulk(
            r#"["Noise-cancelling Bluetooth headphones","Wireless earbuds","Mic headset","Wireless keyboard","USB-C keyboard"]"#
        )
    );
    assert_eq!(
        db.run(&["JSON.GET", "store", "$..headphones[0:2].name"]),
        bulk(r#"["Noise-cancelling Bluetooth headphones","Wireless earbuds"]"#)
    );
    assert_eq!(
        parsed(&db.run(&[
            "JSON.GET",
            "store",
            "$..headphones[?(@.price<70&&@.wireless==true)]"
        ])),
        json!([inv["headphones"][1]])
    );
    assert_eq!(
        db.run(&[
            "JSON.GET",
            "store",
            r#"$.inventory.*[?(@.connection=="Bluetooth")].name"#
        ]),
        bulk(r#"["Noise-cancelling Bluetooth headphones","Wireless earbuds","Wireless keyboard"]"#)
    );
    assert_eq!(
        parsed(&db.run(&[
            "JSON.GET",
            "store",
            r#"$.inventory.keyboards[?(@.connection =~ "(?i)usb")]"#
        ])),
        json!([inv["keyboards"][1]])
    );
    db.ok(&[
        "JSON.SET",
        "store",
        "$.inventory.keyboards[0].regex_pat",
        r#""(?i)bluetooth""#,
    ]);
    db.ok(&[
        "JSON.SET",
        "store",
        "$.inventory.keyboards[1].regex_pat",
        r#""usb""#,
    ]);
    let mut kb0 = inv["keyboards"][0].clone();
    kb0["regex_pat"] = json!("(?i)bluetooth");
    assert_eq!(
        parsed(&db.run(&[
            "JSON.GET",
            "store",
            "$.inventory.keyboards[?(@.connection =~ @.regex_pat)]"
        ])),
        json!([kb0])
    );
    assert_eq!(
        db.run(&["JSON.GET", "store", "$..headphones[0].price"]),
        bulk("[99.98]")
    );
    db.ok(&["JSON.SET", "store", "$..headphones[0].price", "78.99"]);
    assert_eq!(
        db.run(&["JSON.GET", "store", "$..headphones[0].price"]),
        bulk("[78.99]")
    );
    db.ok(&[
        "JSON.SET",
        "store",
        "$.inventory.*[?(@.price>49)].free-shipping",
        "true",
    ]);
    assert_eq!(
        db.run(&[
            "JSON.GET",
            "store",
            "$.inventory.*[?(@.free-shipping==true)].name"
        ]),
        bulk(r#"["Noise-cancelling Bluetooth headphones","Wireless earbuds"]"#)
    );
    assert_eq!(
        db.run(&["JSON.GET", "store", "$..headphones[0].colors"]),
        bulk(r#"[["black","silver"]]"#)
    );
    assert_eq!(
        db.run(&[
            "JSON.ARRAPPEND",
            "store",
            "$..headphones[0].colors",
            r#""pink""#
        ]),
        ints(&[3])
    );
    assert_eq!(
        db.run(&["JSON.GET", "store", "$..headphones[0].colors"]),
        bulk(r#"[["black","silver","pink"]]"#)
    );
    // The legacy spellings of one location.
    let want = db.run(&["JSON.GET", "store", ".inventory.headphones"]);
    assert!(matches!(want, Frame::Bulk(_)));
    for p in [
        r#"inventory["headphones"]"#,
        r#"['inventory']["headphones"]"#,
    ] {
        assert_eq!(db.run(&["JSON.GET", "store", p]), want, "{p}");
    }
}

#[test]
fn filter_expressions() {
    let mut db = Db::new();
    db.ok(&[
        "JSON.SET", "d", "$",
        r#"{"a":[1,2.5,"3",true,null,{"x":1},[1]],"o":{"p":{"v":5},"q":{"v":15},"r":{"w":1}},"n":4,"m":{"x":{"a":1,"b":20},"y":{"a":2,"b":3}}}"#,
    ]);
    let get = |db: &mut Db, p: &str| text(&db.run(&["JSON.GET", "d", p]));
    assert_eq!(get(&mut db, "$.a[?(@>1)]"), "[2.5]");
    assert_eq!(get(&mut db, "$.a[?(@>=1)]"), "[1,2.5]");
    assert_eq!(get(&mut db, r#"$.a[?(@=="3")]"#), r#"["3"]"#);
    assert_eq!(get(&mut db, "$.a[?(@==true)]"), "[true]");
    assert_eq!(get(&mut db, "$.a[?(@==null)]"), "[null]");
    assert_eq!(get(&mut db, "$.a[?(@.x)]"), r#"[{"x":1}]"#);
    // != is "not ==": true for values of other kinds.
    assert_eq!(
        get(&mut db, "$.a[?(@!=1)]"),
        r#"[2.5,"3",true,null,{"x":1},[1]]"#
    );
    // A filter on an object iterates its values.
    assert_eq!(get(&mut db, "$.o[?(@.v>10)]"), r#"[{"v":15}]"#);
    assert_eq!(
        get(&mut db, "$.o[?(@.v<10 || @.w)]"),
        r#"[{"v":5},{"w":1}]"#
    );
    assert_eq!(
        get(&mut db, "$.o[?(@.v>1 && @.v<10 || @.w==1)]"),
        r#"[{"v":5},{"w":1}]"#
    );
    assert_eq!(
        get(&mut db, "$.o[?(@.v>1 && (@.v<10 || @.w==1))]"),
        r#"[{"v":5}]"#
    );
    // $ refers to the document; a multi-valued relative path matches if any value does.
    assert_eq!(get(&mut db, "$.o[?(@.v>$.n)]"), r#"[{"v":5},{"v":15}]"#);
    assert_eq!(get(&mut db, "$.m[?(@.*>10)]"), r#"[{"a":1,"b":20}]"#);
    assert_eq!(get(&mut db, "$.m[?(@.*==2)]"), r#"[{"a":2,"b":3}]"#);
    assert_eq!(get(&mut db, r#"$.o[?(@.v=~"^1")]"#), "[]");
    assert_eq!(get(&mut db, r#"$..[?(@=~"^3$")]"#), r#"["3"]"#);
    // An invalid regex matches nothing; an unsupported one is an error.
    assert_eq!(get(&mut db, r#"$..[?(@=~"(")]"#), "[]");
    assert!(is_err(
        &db.run(&["JSON.GET", "d", r#"$..[?(@=~"\\p{L}")]"#]),
        "regular expression feature not supported"
    ));
    // Filters on scalars select nothing.
    assert_eq!(get(&mut db, "$.n[?(@>1)]"), "[]");
}

#[test]
fn path_syntax() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "x", ".", "[1,2,3]"]);
    // RedisJSON's testGetWithBracketNotation.
    assert_eq!(db.run(&["JSON.GET", "x", ".[1]"]), bulk("2"));
    assert_eq!(db.run(&["JSON.GET", "x", "[1]"]), bulk("2"));
    assert_eq!(db.run(&["JSON.GET", "x", "$.[1]"]), bulk("[2]"));
    assert_eq!(db.run(&["JSON.GET", "x", "$[1]"]), bulk("[2]"));
    // Negative indexes count from the end; below -len they clamp to the first element.
    assert_eq!(db.run(&["JSON.GET", "x", "$[-1]"]), bulk("[3]"));
    assert_eq!(db.run(&["JSON.GET", "x", "$[-10]"]), bulk("[1]"));
    assert_eq!(db.run(&["JSON.GET", "x", "$[3]"]), bulk("[]"));
    assert_eq!(db.run(&["JSON.GET", "x", "$[0,2,0]"]), bulk("[1,3,1]"));
    assert_eq!(db.run(&["JSON.GET", "x", "$[1:]"]), bulk("[2,3]"));
    assert_eq!(db.run(&["JSON.GET", "x", "$[:-1]"]), bulk("[1,2]"));
    assert_eq!(db.run(&["JSON.GET", "x", "$[::2]"]), bulk("[1,3]"));
    assert_eq!(db.run(&["JSON.GET", "x", "$[ 0 : 3 : 2 ]"]), bulk("[1,3]"));
    assert_eq!(db.run(&["JSON.GET", "x", "$[*]"]), bulk("[1,2,3]"));
    // testSetGetWithSpecialKey.
    db.ok(&["JSON.SET", "x", "$", r#"{"$":"$"}"#]);
    db.ok(&["JSON.SET", "x", "a", r#""a""#]);
    db.ok(&["JSON.SET", "x", "$a", r#""$a""#]);
    db.ok(&["JSON.SET", "x", r#"$["$a["]"#, r#""$a[""#]);
    assert_eq!(
        db.run(&["JSON.GET", "x", "$"]),
        bulk(r#"[{"$":"$","a":"a","$a":"$a","$a[":"$a["}]"#)
    );
    assert_eq!(db.run(&["JSON.GET", "x", "$.$"]), bulk(r#"["$"]"#));
    assert_eq!(db.run(&["JSON.GET", "x", r#"$["$"]"#]), bulk(r#"["$"]"#));
    assert_eq!(db.run(&["JSON.GET", "x", "$a"]), bulk(r#""$a""#));
    assert_eq!(
        db.run(&["JSON.GET", "x", r#"$["$a["]"#]),
        bulk(r#"["$a["]"#)
    );
    // testSetWithBracketNotation.
    db.ok(&["JSON.SET", "x", ".", "{}"]);
    db.ok(&["JSON.SET", "x", r#".["f1"]"#, "{}"]);
    db.ok(&["JSON.SET", "x", r#".["f1"].f2"#, "[0,0,0]"]);
    db.ok(&["JSON.SET", "x", r#".["f1"].f2[1]"#, "{}"]);
    db.ok(&["JSON.SET", "x", r#".["f1"].f2[1]["f.]$.f"]"#, "{}"]);
    db.ok(&["JSON.SET", "x", r#".["f1"]["f2"][1]["f.]$.f"]"#, "1"]);
    assert_eq!(db.run(&["JSON.SET", "x", r#".["f3"].f2"#, "1"]), nil());
    assert_eq!(
        db.run(&["JSON.GET", "x"]),
        bulk(r#"{"f1":{"f2":[0,{"f.]$.f":1},0]}}"#)
    );
    // Quotes and escapes inside brackets.
    db.ok(&[
        "JSON.SET",
        "q",
        "$",
        r#"{"it's":1,"say \"hi\"":2,"a\\b":3}"#,
    ]);
    assert_eq!(db.run(&["JSON.GET", "q", r#"$["it's"]"#]), bulk("[1]"));
    assert_eq!(db.run(&["JSON.GET", "q", r#"$['it\'s']"#]), bulk("[1]"));
    assert_eq!(db.run(&["JSON.GET", "q", r#"$['say "hi"']"#]), bulk("[2]"));
    assert_eq!(
        db.run(&["JSON.GET", "q", r#"$["say \"hi\""]"#]),
        bulk("[2]")
    );
    assert_eq!(db.run(&["JSON.GET", "q", r#"$["a\\b"]"#]), bulk("[3]"));
    assert_eq!(
        db.run(&["JSON.GET", "q", r#"$["it's","a\\b"]"#]),
        bulk("[1,3]")
    );
}

#[test]
fn bad_paths() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "x", ".", r#"{"arr":[1]}"#]);
    assert_eq!(
        db.run(&["JSON.GET", "x", "$.a["]),
        err("Error occurred on position 4, \"$.a[ <<<<----\", expected one of the following: '<string>[,<string>,...]', '<number>', ['start:end:steps'], '*'.")
    );
    assert_eq!(
        db.run(&["JSON.GET", "x", "$.a]"]),
        err("Error occurred on position 3, \"$.a ---->>>> ]\", expected one of the following: EOI, '..'.")
    );
    // Legacy paths are reported in their JSONPath form.
    assert!(is_err(
        &db.run(&["JSON.ARRLEN", "x", ".arr[-inf]"]),
        "Error occurred on position 6, \"$.arr[ ---->>>> -inf]\""
    ));
    assert_eq!(
        db.run(&["JSON.ARRLEN", "x", ".arr[4294967295]"]),
        err("ERR Path '.arr[4294967295]' does not exist")
    );
    for p in [
        "",
        " ",
        "$..",
        "$.",
        "$[?(@.a ==)]",
        "$.a.",
        "$[1:2:0]",
        "$['a]",
    ] {
        assert!(
            is_err(&db.run(&["JSON.GET", "x", p]), "Error occurred on position"),
            "{p:?}"
        );
    }
    assert!(is_err(
        &db.run(&[
            "JSON.GET",
            "x",
            &format!("$[?{}@{}]", "(".repeat(100), ")".repeat(100))
        ]),
        "ERR JSONPath nesting exceeds"
    ));
    assert_eq!(
        db.runb(vec![
            b"JSON.SET".to_vec(),
            b"x".to_vec(),
            b"$.\xff".to_vec(),
            b"1".to_vec()
        ]),
        err("Couldn't parse as UTF-8 string")
    );
    // Where RedisJSON reads an optional path with `unwrap_or(".")`, a path that is not
    // UTF-8 is the root; JSON.GET stops reading arguments at one.
    assert_eq!(
        db.runb(vec![b"JSON.TYPE".to_vec(), b"x".to_vec(), b"\xff".to_vec()]),
        bulk("object")
    );
    assert_eq!(
        db.runb(vec![
            b"JSON.GET".to_vec(),
            b"x".to_vec(),
            b"\xff".to_vec(),
            b"$.arr".to_vec()
        ]),
        bulk(r#"{"arr":[1]}"#)
    );
    // Setting: non-static paths, out-of-range indexes, new keys away from the root.
    assert_eq!(
        db.run(&["JSON.SET", "x", "$..f", "1"]),
        err("Err wrong static path")
    );
    assert_eq!(
        db.run(&["JSON.SET", "x", "$[0]", "1"]),
        err("ERR array index out of range")
    );
    assert_eq!(
        db.run(&["JSON.SET", "x", "$.arr[5]", "1"]),
        err("ERR array index out of range")
    );
    assert_eq!(
        db.run(&["JSON.SET", "nokey", "$.a", "1"]),
        err("ERR new objects must be created at the root")
    );
    assert_eq!(db.run(&["JSON.SET", "x", "$.nope.deeper", "1"]), nil());
}

#[test]
fn set_nx_xx() {
    // RedisJSON's testSetBehaviorModifyingSubcommands.
    let mut db = Db::new();
    assert_eq!(db.run(&["JSON.SET", "test", ".", "{}", "XX"]), nil());
    db.ok(&["JSON.SET", "test", ".", "{}", "NX"]);
    assert_eq!(db.run(&["JSON.SET", "test", ".", "{}", "NX"]), nil());
    db.ok(&["JSON.SET", "test", ".", "{}", "XX"]);
    assert_eq!(db.run(&["JSON.SET", "test", ".foo", "[]", "XX"]), nil());
    db.ok(&["JSON.SET", "test", ".foo", "[]", "NX"]);
    assert_eq!(db.run(&["JSON.SET", "test", ".foo", "[]", "NX"]), nil());
    db.ok(&["JSON.SET", "test", ".foo", "[1]", "XX"]);
    assert_eq!(
        db.run(&["JSON.SET", "test", ".foo[1]", "null", "NX"]),
        err("ERR array index out of range")
    );
    assert_eq!(
        db.run(&["JSON.SET", "test", ".foo[0]", "null", "NX"]),
        nil()
    );
    for bad in [
        vec![""],
        vec!["NN"],
        vec!["XX", "XN"],
        vec!["XX", ""],
        vec!["NX", "XX"],
        vec!["NX", "NX"],
    ] {
        let mut a = vec!["JSON.SET", "test", ".foo", "[]"];
        a.extend(bad);
        assert_eq!(db.run(&a), err("ERR syntax error"), "{a:?}");
    }
    assert_eq!(
        db.run(&["JSON.SET", "test", ".foo", "[]", "FORMAT", "TT"]),
        err("ERR wrong format")
    );
    assert_eq!(
        db.run(&["JSON.SET", "test", ".foo", "[]", "XX", "FORMAT", ""]),
        err("ERR wrong format")
    );
    assert_eq!(
        db.run(&["JSON.SET", "test", ".foo", "[]", "FORMAT", "BSON"]),
        err("ERR FORMAT BSON is not supported")
    );
    db.ok(&["JSON.SET", "test", ".foo", "[2]", "FORMAT", "JSON", "XX"]);
    assert_eq!(db.run(&["JSON.GET", "test"]), bulk(r#"{"foo":[2]}"#));
    // testSetAddNewImmediateChild.
    db.ok(&["JSON.SET", "c", "$", r#"{"basic":{"dict":{}}}"#]);
    db.ok(&["JSON.SET", "c", "$.basic.dict.new_child_1", r#""v1""#]);
    db.ok(&["JSON.SET", "c", "$.basic.dict.new_child_2", r#""v2""#, "NX"]);
    assert_eq!(
        db.run(&["JSON.SET", "c", "$.basic.dict.new_child_3", "1", "XX"]),
        nil()
    );
    assert_eq!(
        db.run(&["JSON.SET", "c", "$.basic.dict.new_child_3.g", "1"]),
        nil()
    );
    assert_eq!(
        db.run(&["JSON.GET", "c", "$.basic.dict"]),
        bulk(r#"[{"new_child_1":"v1","new_child_2":"v2"}]"#)
    );
}

#[test]
fn array_commands_legacy() {
    let mut db = Db::new();
    // RedisJSON's testArrayCRUD.
    db.ok(&["JSON.SET", "test", ".", "[]"]);
    assert_eq!(db.run(&["JSON.ARRLEN", "test", "."]), int(0));
    for p in ["[0]", "[19]", "[-1]"] {
        assert_eq!(
            db.run(&["JSON.SET", "test", p, "0"]),
            err("ERR array index out of range")
        );
    }
    assert_eq!(db.run(&["JSON.ARRAPPEND", "test", ".", "1"]), int(1));
    assert_eq!(db.run(&["JSON.ARRINSERT", "test", ".", "0", "-1"]), int(2));
    assert_eq!(db.run(&["JSON.ARRINSERT", "test", ".", "-1", "0"]), int(3));
    assert_eq!(db.run(&["JSON.GET", "test", "."]), bulk("[-1,0,1]"));
    assert_eq!(
        db.run(&["JSON.ARRINSERT", "test", ".", "-3", "-3", "-2"]),
        int(5)
    );
    assert_eq!(db.run(&["JSON.ARRAPPEND", "test", ".", "2", "3"]), int(7));
    assert_eq!(
        db.run(&["JSON.GET", "test", "."]),
        bulk("[-3,-2,-1,0,1,2,3]")
    );
    db.ok(&["JSON.SET", "test", "[0]", r#""-inf""#]);
    db.ok(&["JSON.SET", "test", "[-1]", r#""+inf""#]);
    db.ok(&["JSON.SET", "test", "[3]", "null"]);
    assert_eq!(
        db.run(&["JSON.GET", "test", "."]),
        bulk(r#"["-inf",-2,-1,null,1,2,"+inf"]"#)
    );
    assert_eq!(db.run(&["JSON.DEL", "test", "[1]"]), int(1));
    assert_eq!(db.run(&["JSON.DEL", "test", "[-2]"]), int(1));
    assert_eq!(
        db.run(&["JSON.GET", "test", "."]),
        bulk(r#"["-inf",-1,null,1,"+inf"]"#)
    );
    assert_eq!(db.run(&["JSON.ARRTRIM", "test", ".", "1", "-1"]), int(4));
    assert_eq!(db.run(&["JSON.ARRTRIM", "test", ".", "0", "-2"]), int(3));
    assert_eq!(db.run(&["JSON.GET", "test", "."]), bulk("[-1,null,1]"));
    assert_eq!(db.run(&["JSON.ARRTRIM", "test", ".", "1", "1"]), int(1));
    assert_eq!(db.run(&["JSON.GET", "test", "."]), bulk("[null]"));

    // testArrIndexCommand.
    db.ok(&["JSON.SET", "t", ".", r#"{ "arr": [0, 1, 2, 3, 2, 1, 0] }"#]);
    for (args, want) in [
        (vec!["0"], 0),
        (vec!["3"], 3),
        (vec!["4"], -1),
        (vec!["0", "1"], 6),
        (vec!["0", "-1"], 6),
        (vec!["0", "6"], 6),
        (vec!["0", "4", "0"], 6),
        (vec!["0", "5", "-1"], -1),
        (vec!["0", "5", "0"], 6),
        (vec!["2", "-2", "6"], -1),
        (vec![r#""foo""#], -1),
    ] {
        let mut a = vec!["JSON.ARRINDEX", "t", ".arr"];
        a.extend(args.iter());
        assert_eq!(db.run(&a), int(want), "{a:?}");
    }
    assert_eq!(db.run(&["JSON.ARRINSERT", "t", ".arr", "4", "[4]"]), int(8));
    assert_eq!(db.run(&["JSON.ARRINDEX", "t", ".arr", "2", "3"]), int(5));
    assert_eq!(db.run(&["JSON.ARRINDEX", "t", ".arr", "[4]"]), int(4));
    assert_eq!(db.run(&["JSON.ARRINDEX", "t", "$.arr", "1"]), ints(&[1]));
    assert_eq!(
        db.run(&["JSON.ARRINDEX", "t", "$.arr", "2", "1", "4"]),
        ints(&[2])
    );
    assert_eq!(db.run(&["JSON.ARRINDEX", "t", "$.arr", "6"]), ints(&[-1]));
    assert_eq!(
        db.run(&["JSON.ARRINDEX", "t", "$.arr", "3", "0", "2"]),
        ints(&[-1])
    );
    assert_eq!(
        db.run(&["JSON.ARRINDEX", "t", "$..*", "1"]),
        list(vec![
            int(1),
            nil(),
            nil(),
            nil(),
            nil(),
            int(-1),
            nil(),
            nil(),
            nil(),
            nil()
        ])
    );
    // Kinds are strict: 1 is not 1.0.
    db.ok(&["JSON.SET", "m", ".", r#"[1.0, 1, {"val": 4}, [3,4,8]]"#]);
    assert_eq!(db.run(&["JSON.ARRINDEX", "m", ".", "1"]), int(1));
    assert_eq!(db.run(&["JSON.ARRINDEX", "m", ".", "1.0"]), int(0));
    assert_eq!(db.run(&["JSON.ARRINDEX", "m", ".", r#"{"val":4}"#]), int(2));
    assert_eq!(db.run(&["JSON.ARRINDEX", "m", ".", "[3, 4, 8]"]), int(3));
    assert_eq!(
        db.run(&["JSON.ARRINDEX", "m", "[2]", "1"]),
        err("WRONGTYPE wrong type of path value - expected array but found object")
    );
    assert_eq!(
        db.run(&["JSON.ARRINDEX", "m", ".", "1", "x"]),
        err("Couldn't parse as integer")
    );
    assert_eq!(
        db.run(&["JSON.ARRINDEX", "m", ".", "1", "0", "0", "0"]),
        err("ERR wrong number of arguments for 'json.arrindex' command")
    );
    assert_eq!(
        db.run(&["JSON.ARRINDEX", "nokey", ".a", "1"]),
        err("ERR Path '.a' does not exist")
    );

    // testArrInsertCommand.
    for (init, p) in [(r#"{ "arr": [] }"#, ".arr"), ("[]", ".")] {
        db.ok(&["JSON.SET", "i", ".", init]);
        assert_eq!(db.run(&["JSON.ARRINSERT", "i", p, "0", "1"]), int(1));
        assert_eq!(db.run(&["JSON.ARRINSERT", "i", p, "-1", "2"]), int(2));
        assert_eq!(db.run(&["JSON.ARRINSERT", "i", p, "-2", "3"]), int(3));
        assert_eq!(db.run(&["JSON.ARRINSERT", "i", p, "3", "4"]), int(4));
        assert_eq!(db.run(&["JSON.GET", "i", p]), bulk("[3,2,1,4]"));
        assert_eq!(db.run(&["JSON.ARRINSERT", "i", p, "1", "5"]), int(5));
        assert_eq!(db.run(&["JSON.ARRINSERT", "i", p, "-2", "6"]), int(6));
        assert_eq!(db.run(&["JSON.GET", "i", p]), bulk("[3,5,2,6,1,4]"));
        assert_eq!(
            db.run(&["JSON.ARRINSERT", "i", p, "-3", "7", r#"{"A":"Z"}"#, "9"]),
            int(9)
        );
        let want = r#"[3,5,2,7,{"A":"Z"},9,6,1,4]"#;
        assert_eq!(db.run(&["JSON.GET", "i", p]), bulk(want));
        for idx in ["-10", "10"] {
            assert_eq!(
                db.run(&["JSON.ARRINSERT", "i", p, idx, "10"]),
                err("ERR index out of bounds")
            );
            assert_eq!(db.run(&["JSON.GET", "i", p]), bulk(want));
        }
    }
    assert_eq!(
        db.run(&["JSON.ARRINSERT", "i", ".", "x", "1"]),
        err("Couldn't parse as integer")
    );

    // testArrTrimCommand.
    let arr7 = r#"{ "arr": [0, 1, 2, 3, 2, 1, 0] }"#;
    db.ok(&["JSON.SET", "t", ".", arr7]);
    for (start, stop, len, after) in [
        ("1", "-2", 5, "[1,2,3,2,1]"),
        ("0", "99", 5, "[1,2,3,2,1]"),
        ("0", "2", 3, "[1,2,3]"),
        ("99", "2", 0, "[]"),
        ("-1", "0", 0, "[]"),
    ] {
        assert_eq!(
            db.run(&["JSON.ARRTRIM", "t", ".arr", start, stop]),
            int(len)
        );
        assert_eq!(db.run(&["JSON.GET", "t", ".arr"]), bulk(after));
    }
    db.ok(&["JSON.SET", "t", ".", arr7]);
    assert_eq!(db.run(&["JSON.ARRTRIM", "t", ".arr", "-1", "0"]), int(0));
    db.ok(&["JSON.SET", "t", ".", arr7]);
    assert_eq!(db.run(&["JSON.ARRTRIM", "t", ".arr", "-4", "1"]), int(0));
    db.ok(&["JSON.SET", "one", ".", "1"]);
    assert_eq!(
        db.run(&["JSON.ARRTRIM", "one", ".", "0", "1"]),
        err("ERR Path '$' does not exist or not an array")
    );

    // testArrPopCommand.
    db.ok(&["JSON.SET", "p", ".", "[1,2,3,4,5,6,7,8,9]"]);
    for (args, want) in [
        (vec![], "9"),
        (vec!["."], "8"),
        (vec![".", "-1"], "7"),
        (vec![".", "-2"], "5"),
        (vec![".", "0"], "1"),
        (vec![".", "2"], "4"),
        (vec![".", "99"], "6"),
        (vec![".", "-99"], "2"),
        (vec![], "3"),
    ] {
        let mut a = vec!["JSON.ARRPOP", "p"];
        a.extend(args.iter());
        assert_eq!(db.run(&a), bulk(want), "{a:?}");
    }
    assert_eq!(db.run(&["JSON.ARRPOP", "p"]), nil());
    assert_eq!(db.run(&["JSON.ARRPOP", "p", ".", "2"]), nil());
    assert_eq!(
        db.run(&["JSON.ARRPOP", "one"]),
        err("ERR Path '$' does not exist or not an array")
    );
    assert_eq!(
        db.run(&["JSON.ARRPOP", "p", "FORMAT", "EXPAND"]),
        err("ERR FORMAT argument is not supported on RESP2")
    );
    assert_eq!(
        db.run(&["JSON.ARRPOP", "p", "FORMAT", "STRING"]),
        err("ERR wrong reply format")
    );
    // Appending needs an array; values must be UTF-8 JSON.
    assert_eq!(
        db.run(&["JSON.ARRAPPEND", "one", ".", "1"]),
        err("ERR Path '.' does not exist or not an array")
    );
    db.ok(&["JSON.SET", "w", ".", r#"{"arr":[1,2]}"#]);
    assert_eq!(
        db.runb(vec![
            b"JSON.ARRINSERT".to_vec(),
            b"w".to_vec(),
            b".arr".to_vec(),
            b"0".to_vec(),
            b"\x80abc".to_vec()
        ]),
        err("Couldn't parse as UTF-8 string")
    );
    assert_eq!(
        db.runb(vec![
            b"JSON.ARRAPPEND".to_vec(),
            b"w".to_vec(),
            b".arr".to_vec(),
            b"\x80abc".to_vec()
        ]),
        err("Couldn't parse as UTF-8 string")
    );
    assert_eq!(db.run(&["JSON.ARRAPPEND", "nokey", "$", "1"]), err(NO_KEY));
}

// ---- errors, limits, storage --------------------------------------------------------------

#[test]
fn wrongtype_on_other_types() {
    let mut db = Db::new();
    db.run(&["SET", "s", "x"]);
    for args in [
        vec!["JSON.SET", "s", "$", "1"],
        vec!["JSON.GET", "s"],
        vec!["JSON.DEL", "s"],
        vec!["JSON.FORGET", "s", "$.a"],
        vec!["JSON.MERGE", "s", "$", "{}"],
        vec!["JSON.TYPE", "s"],
        vec!["JSON.ARRAPPEND", "s", "$", "1"],
        vec!["JSON.ARRINSERT", "s", "$", "0", "1"],
        vec!["JSON.ARRLEN", "s"],
        vec!["JSON.ARRPOP", "s"],
        vec!["JSON.ARRTRIM", "s", "$", "0", "1"],
        vec!["JSON.CLEAR", "s"],
        vec!["JSON.NUMINCRBY", "s", "$", "1"],
        vec!["JSON.NUMMULTBY", "s", "$", "1"],
        vec!["JSON.OBJKEYS", "s"],
        vec!["JSON.OBJLEN", "s"],
        vec!["JSON.STRAPPEND", "s", r#""x""#],
        vec!["JSON.STRLEN", "s"],
        vec!["JSON.TOGGLE", "s", "$"],
        vec!["JSON.RESP", "s"],
        vec!["JSON.DEBUG", "MEMORY", "s"],
    ] {
        assert_eq!(db.run(&args), err(WRONGTYPE), "{args:?}");
    }
    assert_eq!(db.run(&["GET", "s"]), bulk("x"));
    // And JSON keys are not strings.
    db.ok(&["JSON.SET", "j", "$", "1"]);
    assert_eq!(db.run(&["GET", "j"]), err(WRONGTYPE));
}

#[test]
fn bad_json() {
    let mut db = Db::new();
    // RedisJSON's testSetRootWithInvalidJSONValuesShouldFail: serde_json's messages.
    for (bad, msg) in [
        ("{", "EOF while parsing an object at line 1 column 1"),
        ("}", "expected value at line 1 column 1"),
        ("[", "EOF while parsing a list at line 1 column 1"),
        ("]", "expected value at line 1 column 1"),
        ("{]", "key must be a string at line 1 column 2"),
        ("[}", "expected value at line 1 column 2"),
        ("\\", "expected value at line 1 column 1"),
        ("", "EOF while parsing a value at line 1 column 0"),
        (" ", "EOF while parsing a value at line 1 column 1"),
        ("'", "expected value at line 1 column 1"),
        ("\x00", "expected value at line 1 column 1"),
        ("1 2", "trailing characters at line 1 column 3"),
        ("[1,]", "trailing comma at line 1 column 4"),
        (
            "\"\\ud800\"",
            "unexpected end of hex escape at line 1 column 8",
        ),
    ] {
        assert_eq!(db.run(&["JSON.SET", "test", ".", bad]), err(msg), "{bad:?}");
    }
    assert_eq!(db.run(&["EXISTS", "test"]), int(0));
    assert_eq!(
        db.runb(vec![
            b"JSON.SET".to_vec(),
            b"test".to_vec(),
            b"$".to_vec(),
            b"\"\xff\"".to_vec()
        ]),
        err("Couldn't parse as UTF-8 string")
    );
    // testEscape.
    db.ok(&[
        "JSON.SET",
        "doc",
        "$",
        r#"{"val": "escaped control here:\b \f \n \r \t \/ \\"}"#,
    ]);
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$.val"]),
        bulk(r#"["escaped control here:\b \f \n \r \t / \\"]"#)
    );
    db.ok(&[
        "JSON.SET",
        "doc",
        "$",
        "{\"val\": \"escaped unicode here:\\u2B50\"}",
    ]);
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$.val"]),
        bulk("[\"escaped unicode here:⭐\"]")
    );
    db.ok(&[
        "JSON.SET",
        "doc",
        "$",
        "{\"\u{a0}\": { \"name\": \"\u{a0}\u{a0}\" } }",
    ]);
    assert_eq!(
        db.run(&["JSON.GET", "doc", "$"]),
        bulk("[{\"\u{a0}\":{\"name\":\"\u{a0}\u{a0}\"}}]")
    );
}

fn nested_arrays(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn nesting_limits() {
    let mut db = Db::new();
    // Each value: at most 127 nested containers (serde_json's limit, as in RedisJSON).
    db.ok(&["JSON.SET", "d", "$", &nested_arrays(127)]);
    assert_eq!(
        db.run(&["JSON.SET", "d", "$", &nested_arrays(128)]),
        err("recursion limit exceeded at line 1 column 128")
    );
    // testNesting: nested SETs may go deeper than one value can.
    let leaf = |depth: usize, key: &str, v: i64| {
        let mut s = format!("{{\"{key}\":{v}}}");
        for _ in 1..depth - 1 {
            s = format!("{{\"x\":{s}}}");
        }
        s
    };
    db.ok(&["JSON.SET", "t", "$", &leaf(128, "__leaf", 42)]);
    assert_eq!(db.run(&["JSON.GET", "t", "$..__leaf"]), bulk("[42]"));
    db.ok(&["JSON.SET", "t", "$..__leaf", &leaf(128, "__deep_leaf", 420)]);
    assert_eq!(db.run(&["JSON.GET", "t", "$..__deep_leaf"]), bulk("[420]"));
    db.ok(&[
        "JSON.SET",
        "t",
        "$..__deep_leaf",
        &leaf(128, "__helms_deep_leaf", 42000),
    ]);
    assert_eq!(
        db.run(&["JSON.GET", "t", "$..__helms_deep_leaf"]),
        bulk("[42000]")
    );
    assert!(matches!(
        db.run(&["JSON.SET", "t", "$", &leaf(129, "__leaf", 42)]),
        Frame::Error(e) if e.starts_with("recursion limit exceeded")
    ));
    // The whole document: at most 1024 (a Meridian limit), checked before writing.
    db.ok(&["JSON.SET", "deep", "$", "[]"]);
    let mut path = "$".to_string();
    for _ in 0..8 {
        assert_eq!(
            db.run(&["JSON.ARRAPPEND", "deep", &path, &nested_arrays(127)]),
            ints(&[1])
        );
        path.push_str(&"[0]".repeat(127));
    }
    // 1 + 8 * 127 = 1017 levels: every command still walks it.
    assert_eq!(db.run(&["JSON.ARRLEN", "deep", &path]), ints(&[0]));
    assert!(text(&db.run(&["JSON.GET", "deep", "$..[0]"])).len() > 1000);
    assert_eq!(
        db.run(&["JSON.ARRAPPEND", "deep", &path, &nested_arrays(7)]),
        ints(&[1])
    );
    assert_eq!(
        db.run(&["JSON.ARRAPPEND", "deep", &path, &nested_arrays(8)]),
        err("ERR document nesting exceeds the maximum depth of 1024")
    );
    assert_eq!(db.run(&["JSON.ARRLEN", "deep", &path]), ints(&[1]));
    db.ok(&["JSON.MERGE", "deep", "$", "{}"]);
    assert_eq!(db.run(&["JSON.GET", "deep"]), bulk("{}"));
}

#[test]
fn path_evaluation_is_bounded() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "chain", "$", &nested_arrays(100)]);
    // Three recursive descents over a 100-deep chain: about 100^3/6 nodes, fine.
    assert!(matches!(
        db.run(&["JSON.GET", "chain", "$..*..*..*"]),
        Frame::Bulk(_)
    ));
    // Five: about 100^5/120, refused instead of stalling the replicas.
    for cmd in [
        vec!["JSON.GET", "chain", "$..*..*..*..*..*"],
        vec!["JSON.DEL", "chain", "$..*..*..*..*..*"],
        vec!["JSON.GET", "chain", "$..[?(@..*..*..*..*)]"],
    ] {
        assert_eq!(
            db.run(&cmd),
            err("ERR JSONPath evaluation exceeds the work limit"),
            "{cmd:?}"
        );
    }
    assert_eq!(db.run(&["JSON.GET", "chain"]), bulk(&nested_arrays(100)));
}

#[test]
fn ttl_is_kept_and_storage_is_one_record() {
    let mut db = Db::new();
    db.ok(&["JSON.SET", "k", "$", r#"{"a":[1]}"#]);
    // Exactly one meta record (plus the key count), no data records.
    let metas = db
        .last
        .writes
        .iter()
        .filter(|w| matches!(w, Write::Put(Cf::Meta, ..)))
        .count();
    assert_eq!(metas, 1);
    assert_eq!(db.data_records(), 0);
    assert_eq!(db.run(&["PEXPIRE", "k", "100000"]), int(1));
    let at = db.expire_at("k").unwrap();
    assert!(at > 0);
    for cmd in [
        vec!["JSON.SET", "k", "$.b", "1"],
        vec!["JSON.SET", "k", "$", r#"{"a":[1]}"#],
        vec!["JSON.ARRAPPEND", "k", "$.a", "2"],
        vec!["JSON.MERGE", "k", "$", r#"{"c":1}"#],
        vec!["JSON.MSET", "k", "$.c", "2"],
        vec!["JSON.DEL", "k", "$.c"],
    ] {
        assert!(!is_err(&db.run(&cmd), ""), "{cmd:?}");
        assert_eq!(db.expire_at("k"), Some(at), "{cmd:?}");
    }
    assert_eq!(db.run(&["JSON.GET", "k"]), bulk(r#"{"a":[1,2]}"#));
    // A command that changes nothing writes nothing.
    db.run(&["JSON.DEL", "k", "$.nope"]);
    assert!(db.last.writes.is_empty());
    db.run(&["JSON.GET", "k"]);
    assert!(db.last.writes.is_empty());
    // Expired keys are gone for JSON commands too.
    db.now = at;
    assert_eq!(db.run(&["JSON.GET", "k"]), nil());
    assert_eq!(
        db.run(&["JSON.SET", "k", "$.a", "1"]),
        err("ERR new objects must be created at the root")
    );
    db.ok(&["JSON.SET", "k", "$", "1"]);
    assert_eq!(db.expire_at("k"), Some(0));
    assert_eq!(db.run(&["DBSIZE"]), int(1));
}

// ---- model: path evaluation ---------------------------------------------------------------

/// One step of a generated path.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(i64),
    All,
    Slice(i64, i64),
    Union(i64, i64),
    Descend(Box<Step>),
    /// `[?(@.k op n ...)]`: comparisons of a child with an integer, all of them (`&&`) or
    /// any (`||`).
    Filter(Vec<(String, &'static str, i64)>, bool),
}

fn simple_key(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn render_step(s: &Step, out: &mut String) {
    match s {
        Step::Key(k) if simple_key(k) => {
            out.push('.');
            out.push_str(k);
        }
        Step::Key(k) => out.push_str(&format!("['{k}']")),
        Step::Index(i) => out.push_str(&format!("[{i}]")),
        Step::All => out.push_str("[*]"),
        Step::Slice(a, b) => out.push_str(&format!("[{a}:{b}]")),
        Step::Union(a, b) => out.push_str(&format!("[{a},{b}]")),
        Step::Filter(conds, all) => {
            let conds: Vec<String> = conds
                .iter()
                .map(|(k, op, n)| {
                    let mut t = "@".to_string();
                    render_step(&Step::Key(k.clone()), &mut t);
                    format!("{t} {op} {n}")
                })
                .collect();
            let joined = conds.join(if *all { " && " } else { " || " });
            out.push_str(&format!("[?({joined})]"));
        }
        Step::Descend(inner) => {
            out.push('.');
            match &**inner {
                Step::Key(k) if simple_key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Step::All => out.push_str(".*"),
                other => {
                    out.push('.');
                    render_step(other, out);
                }
            }
        }
    }
}

fn jsonpath(steps: &[Step]) -> String {
    let mut s = "$".to_string();
    for st in steps {
        render_step(st, &mut s);
    }
    s
}

/// The legacy spelling: the same steps without the `$`.
fn legacy(steps: &[Step]) -> String {
    if steps.is_empty() {
        return ".".into();
    }
    let full = jsonpath(steps);
    full[1..].to_string()
}

/// RedisJSON's index clamping.
fn abs_index(i: i64, n: usize) -> usize {
    if i >= 0 {
        (i as usize).min(n)
    } else {
        (i + n as i64).max(0) as usize
    }
}

fn children(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o.values().collect(),
        _ => vec![],
    }
}

fn preorder<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    out.push(v);
    for c in children(v) {
        preorder(c, out);
    }
}

fn model_step<'v>(s: &Step, v: &'v Value) -> Vec<&'v Value> {
    match (s, v) {
        (Step::Key(k), Value::Object(o)) => o.get(k).into_iter().collect(),
        (Step::Index(i), Value::Array(a)) => a.get(abs_index(*i, a.len())).into_iter().collect(),
        (Step::Union(i, j), Value::Array(a)) => [*i, *j]
            .iter()
            .filter_map(|&i| a.get(abs_index(i, a.len())))
            .collect(),
        (Step::Slice(i, j), Value::Array(a)) => {
            let (s, e) = (abs_index(*i, a.len()), abs_index(*j, a.len()));
            if s < e {
                a[s..e].iter().collect()
            } else {
                vec![]
            }
        }
        (Step::All, v) => children(v),
        (Step::Filter(conds, all), v) => children(v)
            .into_iter()
            .filter(|c| {
                let mut hits = conds.iter().map(|(k, op, n)| model_cmp(c, k, op, *n));
                if *all {
                    hits.all(|h| h)
                } else {
                    hits.any(|h| h)
                }
            })
            .collect(),
        (Step::Descend(inner), v) => {
            let mut nodes = Vec::new();
            preorder(v, &mut nodes);
            nodes
                .into_iter()
                .flat_map(|n| model_step(inner, n))
                .collect()
        }
        _ => vec![],
    }
}

/// `@.k op n` on one candidate: numbers compare numerically; anything else (a missing
/// key, a string, ...) is not comparable, so only `!=` holds.
fn model_cmp(c: &Value, k: &str, op: &str, n: i64) -> bool {
    let ord = match c.as_object().and_then(|o| o.get(k)) {
        Some(Value::Number(x)) => match x.as_i64() {
            Some(i) => Some(i.cmp(&n)),
            None => x.as_f64().unwrap().partial_cmp(&(n as f64)),
        },
        _ => None,
    };
    match (op, ord) {
        ("!=", o) => o != Some(std::cmp::Ordering::Equal),
        (_, None) => false,
        ("==", Some(o)) => o.is_eq(),
        ("<", Some(o)) => o.is_lt(),
        ("<=", Some(o)) => o.is_le(),
        (">", Some(o)) => o.is_gt(),
        (">=", Some(o)) => o.is_ge(),
        _ => unreachable!(),
    }
}

fn model_eval<'v>(steps: &[Step], doc: &'v Value) -> Vec<&'v Value> {
    let mut cur = vec![doc];
    for s in steps {
        cur = cur.into_iter().flat_map(|v| model_step(s, v)).collect();
    }
    cur
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

const KEYS: [&str; 5] = ["a", "b", "c", "k_1", "x y"];

fn key_name() -> impl Strategy<Value = String> {
    prop::sample::select(&KEYS[..]).prop_map(String::from)
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-50i64..50).prop_map(|i| json!(i)),
        any::<i64>().prop_map(|i| json!(i)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        prop_oneof![
            Just(1e-7),
            Just(2.5e20),
            Just(-0.0),
            Just(0.00012),
            Just(1e16)
        ]
        .prop_map(|f| json!(f)),
        "[a-z \"\\\\é]{0,4}".prop_map(Value::String),
    ]
}

fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(depth, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key_name(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn plain_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => key_name().prop_map(Step::Key),
        2 => (-4i64..4).prop_map(Step::Index),
        1 => Just(Step::All),
        1 => (-4i64..4, -4i64..5).prop_map(|(a, b)| Step::Slice(a, b)),
        1 => (-4i64..4, -4i64..4).prop_map(|(a, b)| Step::Union(a, b)),
        1 => (
            prop::collection::vec(
                (
                    key_name(),
                    prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..]),
                    -20i64..20
                ),
                1..3
            ),
            any::<bool>()
        )
            .prop_map(|(c, all)| Step::Filter(c, all)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => plain_step(),
        1 => plain_step().prop_map(|s| Step::Descend(Box::new(s))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn paths_match_the_model(doc in json_value(4), steps in prop::collection::vec(step(), 0..4)) {
        let mut db = Db::new();
        let text_doc = serde_json::to_string(&doc).unwrap();
        prop_assert_eq!(db.run(&["JSON.SET", "k", "$", &text_doc]), Frame::ok());
        let want = model_eval(&steps, &doc);
        let jp = jsonpath(&steps);

        // JSONPath: every match, in document order, serialized like serde_json.
        let got = db.run(&["JSON.GET", "k", &jp]);
        let want_text = rj_text(&Value::Array(want.iter().map(|v| (*v).clone()).collect()));
        prop_assert_eq!(&got, &bulk(&want_text), "{}", jp);
        prop_assert_eq!(
            db.run(&["JSON.TYPE", "k", &jp]),
            arr(&want.iter().map(|v| type_of(v)).collect::<Vec<_>>())
        );
        prop_assert_eq!(
            db.run(&["JSON.ARRLEN", "k", &jp]),
            list(want.iter().map(|v| match v {
                Value::Array(a) => int(a.len() as i64),
                _ => nil(),
            }).collect())
        );
        prop_assert_eq!(
            db.run(&["JSON.STRLEN", "k", &jp]),
            list(want.iter().map(|v| match v {
                Value::String(s) => int(s.len() as i64),
                _ => nil(),
            }).collect())
        );

        // Legacy: the first match, or RedisJSON's error.
        let lp = legacy(&steps);
        let fixed = if lp == "." { "$".to_string() } else if lp.starts_with('.') { format!("${lp}") } else { format!("$.{lp}") };
        let got = db.run(&["JSON.GET", "k", &lp]);
        match want.first() {
            Some(v) => prop_assert_eq!(got, bulk(&rj_text(v)), "{}", lp),
            None => prop_assert_eq!(got, err(&format!("ERR Path '{fixed}' does not exist")), "{}", lp),
        }
        prop_assert_eq!(
            db.run(&["JSON.TYPE", "k", &lp]),
            want.first().map_or(nil(), |v| bulk(type_of(v)))
        );

        // Reading never writes.
        prop_assert!(db.last.writes.is_empty());
    }
}

// ---- model: write sequences ---------------------------------------------------------------

/// A static path step.
#[derive(Debug, Clone)]
enum S {
    K(String),
    I(i64),
}

#[derive(Debug, Clone)]
enum Op {
    Set(Vec<S>, Value, bool),
    Del(Vec<S>, bool),
    Append(Vec<S>, Value),
    Incr(Vec<S>, i64),
    Pop(Vec<S>, i64),
    Clear(Vec<S>),
    Toggle(Vec<S>),
    StrAppend(Vec<S>, String),
    Merge(Value),
}

fn s_path(p: &[S], legacy_form: bool) -> String {
    let steps: Vec<Step> = p
        .iter()
        .map(|s| match s {
            S::K(k) => Step::Key(k.clone()),
            S::I(i) => Step::Index(*i),
        })
        .collect();
    if legacy_form {
        legacy(&steps)
    } else {
        jsonpath(&steps)
    }
}

fn resolve_idx(i: i64, len: usize) -> Option<usize> {
    let at = abs_index(i, len);
    (at < len).then_some(at)
}

fn m_get<'v>(v: &'v mut Value, p: &[S]) -> Option<&'v mut Value> {
    let mut cur = v;
    for s in p {
        cur = match (s, cur) {
            (S::K(k), Value::Object(o)) => o.get_mut(k)?,
            (S::I(i), Value::Array(a)) => {
                let at = resolve_idx(*i, a.len())?;
                &mut a[at]
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// RFC 7396, deleting like RedisJSON (the last key moves into the hole).
fn m_merge(doc: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return;
    };
    if !doc.is_object() {
        *doc = json!({});
    }
    let o = doc.as_object_mut().unwrap();
    for (k, v) in p {
        if v.is_null() {
            o.swap_remove(k);
        } else {
            m_merge(o.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn static_path() -> impl Strategy<Value = Vec<S>> {
    prop::collection::vec(
        prop_oneof![
            2 => key_name().prop_map(S::K),
            1 => (-3i64..3).prop_map(S::I),
        ],
        0..3,
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (static_path(), json_value(2), any::<bool>()).prop_map(|(p, v, l)| Op::Set(p, v, l)),
        2 => (static_path(), any::<bool>()).prop_map(|(p, l)| Op::Del(p, l)),
        2 => (static_path(), json_leaf()).prop_map(|(p, v)| Op::Append(p, v)),
        1 => (static_path(), -5i64..5).prop_map(|(p, n)| Op::Incr(p, n)),
        1 => (static_path(), -3i64..3).prop_map(|(p, i)| Op::Pop(p, i)),
        1 => static_path().prop_map(Op::Clear),
        1 => static_path().prop_map(Op::Toggle),
        1 => (static_path(), "[a-z]{0,3}").prop_map(|(p, s)| Op::StrAppend(p, s)),
        1 => json_value(2).prop_map(Op::Merge),
    ]
}

/// Applies `op` to the model document; returns the expected reply.
fn model_apply(doc: &mut Option<Value>, op: &Op) -> Frame {
    let js = rj_text;
    match op {
        Op::Set(p, v, legacy_form) => {
            let Some(d) = doc else {
                return if p.is_empty() {
                    *doc = Some(v.clone());
                    Frame::ok()
                } else {
                    err("ERR new objects must be created at the root")
                };
            };
            if let Some(slot) = m_get(d, p) {
                *slot = v.clone();
                return Frame::ok();
            }
            let _ = legacy_form;
            match p.last() {
                Some(S::K(k)) => match m_get(d, &p[..p.len() - 1]) {
                    Some(Value::Object(o)) => {
                        o.insert(k.clone(), v.clone());
                        Frame::ok()
                    }
                    _ => nil(),
                },
                _ => err("ERR array index out of range"),
            }
        }
        Op::Del(p, _) => {
            let Some(d) = doc else { return int(0) };
            let Some((last, parent)) = p.split_last() else {
                *doc = None;
                return int(1);
            };
            let removed = match (m_get(d, parent), last) {
                (Some(Value::Object(o)), S::K(k)) => o.swap_remove(k).is_some(),
                (Some(Value::Array(a)), S::I(i)) => match resolve_idx(*i, a.len()) {
                    Some(at) => {
                        a.remove(at);
                        true
                    }
                    None => false,
                },
                _ => false,
            };
            int(removed as i64)
        }
        Op::Append(p, v) => {
            let Some(d) = doc else { return err(NO_KEY) };
            match m_get(d, p) {
                None => list(vec![]),
                Some(Value::Array(a)) => {
                    a.push(v.clone());
                    ints(&[a.len() as i64])
                }
                Some(_) => list(vec![nil()]),
            }
        }
        Op::Incr(p, n) => {
            let Some(d) = doc else { return err(NO_KEY) };
            match m_get(d, p) {
                None => bulk("[]"),
                Some(slot @ Value::Number(_)) => {
                    let cur = slot.as_number().unwrap().clone();
                    *slot = match cur.as_i64() {
                        Some(i) => json!(i.wrapping_add(*n)),
                        None => json!(cur.as_f64().unwrap() + *n as f64),
                    };
                    bulk(&format!("[{}]", js(slot)))
                }
                Some(_) => bulk("[null]"),
            }
        }
        Op::Pop(p, i) => {
            let Some(d) = doc else { return err(NO_KEY) };
            match m_get(d, p) {
                None => list(vec![]),
                Some(Value::Array(a)) if !a.is_empty() => {
                    let len = a.len() as i64;
                    let at = if *i < 0 {
                        (len + i).max(0)
                    } else {
                        (*i).min(len - 1)
                    };
                    let v = a.remove(at as usize);
                    list(vec![bulk(&js(&v))])
                }
                Some(_) => list(vec![nil()]),
            }
        }
        Op::Clear(p) => {
            let Some(d) = doc else { return err(NO_KEY) };
            let n = match m_get(d, p) {
                Some(Value::Array(a)) if !a.is_empty() => {
                    a.clear();
                    1
                }
                Some(Value::Object(o)) if !o.is_empty() => {
                    o.clear();
                    1
                }
                Some(v @ Value::Number(_)) if v.as_f64() != Some(0.0) => {
                    *v = json!(0);
                    1
                }
                _ => 0,
            };
            int(n)
        }
        Op::Toggle(p) => {
            let Some(d) = doc else { return err(NO_KEY) };
            match m_get(d, p) {
                None => list(vec![]),
                Some(Value::Bool(b)) => {
                    *b = !*b;
                    ints(&[*b as i64])
                }
                Some(_) => list(vec![nil()]),
            }
        }
        Op::StrAppend(p, s) => {
            let Some(d) = doc else { return err(NO_KEY) };
            match m_get(d, p) {
                None => list(vec![]),
                Some(Value::String(cur)) => {
                    cur.push_str(s);
                    ints(&[cur.len() as i64])
                }
                Some(_) => list(vec![nil()]),
            }
        }
        Op::Merge(patch) => {
            match doc {
                None => *doc = Some(patch.clone()),
                Some(d) => m_merge(d, patch),
            }
            Frame::ok()
        }
    }
}

fn run_op(db: &mut Db, op: &Op) -> Frame {
    let js = |v: &Value| serde_json::to_string(v).unwrap();
    match op {
        Op::Set(p, v, l) => db.run(&["JSON.SET", "k", &s_path(p, *l), &js(v)]),
        Op::Del(p, l) => db.run(&["JSON.DEL", "k", &s_path(p, *l)]),
        Op::Append(p, v) => db.run(&["JSON.ARRAPPEND", "k", &s_path(p, false), &js(v)]),
        Op::Incr(p, n) => db.run(&["JSON.NUMINCRBY", "k", &s_path(p, false), &n.to_string()]),
        Op::Pop(p, i) => db.run(&["JSON.ARRPOP", "k", &s_path(p, false), &i.to_string()]),
        Op::Clear(p) => db.run(&["JSON.CLEAR", "k", &s_path(p, false)]),
        Op::Toggle(p) => db.run(&["JSON.TOGGLE", "k", &s_path(p, false)]),
        Op::StrAppend(p, s) => db.run(&["JSON.STRAPPEND", "k", &s_path(p, false), &js(&json!(s))]),
        Op::Merge(patch) => db.run(&["JSON.MERGE", "k", "$", &js(patch)]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn writes_match_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut db = Db::new();
        let mut model: Option<Value> = None;
        for op in &ops {
            let want = model_apply(&mut model, op);
            prop_assert_eq!(run_op(&mut db, op), want, "{:?}", op);
            // The stored document, byte for byte (key order and number forms included).
            let doc = db.run(&["JSON.GET", "k", "$"]);
            match &model {
                None => prop_assert_eq!(doc, nil()),
                Some(v) => prop_assert_eq!(doc, bulk(&format!("[{}]", rj_text(v)))),
            }
        }
    }
}
