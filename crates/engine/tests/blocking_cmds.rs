//! Blocking pops as the engine runs them: without waiting (the server waits and
//! re-runs them). Same replies as Redis when an element is there, nil otherwise.

mod common;
use common::*;
use engine::Frame;

fn arr(v: &[&str]) -> Frame {
    Frame::Array(v.iter().map(|s| bulk(s)).collect())
}

#[test]
fn pops_from_the_first_non_empty_key_or_answers_nil() {
    let mut db = Db::new();
    assert_eq!(db.run(&["blpop", "a", "b", "0"]), Frame::NullArray);
    db.run(&["rpush", "b", "1", "2"]);
    assert_eq!(db.run(&["blpop", "a", "b", "0"]), arr(&["b", "1"]));
    assert_eq!(db.run(&["brpop", "a", "b", "1.5"]), arr(&["b", "2"]));
    assert_eq!(db.run(&["exists", "b"]), Frame::Integer(0));
    db.run(&["set", "s", "x"]);
    assert_eq!(
        db.run(&["blpop", "s", "0"]),
        Frame::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    );
    // Timeouts are validated as Redis does.
    for (t, e) in [
        ("x", "ERR timeout is not a float or out of range"),
        ("-1", "ERR timeout is negative"),
        ("inf", "ERR timeout is not a float or out of range"),
    ] {
        assert_eq!(db.run(&["blpop", "a", t]), Frame::Error(e.into()), "{t}");
    }
}

#[test]
fn moves_and_multi_pops() {
    let mut db = Db::new();
    assert_eq!(
        db.run(&["blmove", "src", "dst", "LEFT", "RIGHT", "0"]),
        Frame::Null
    );
    assert_eq!(db.run(&["brpoplpush", "src", "dst", "0"]), Frame::Null);
    db.run(&["rpush", "src", "a", "b", "c"]);
    assert_eq!(
        db.run(&["blmove", "src", "dst", "LEFT", "RIGHT", "0"]),
        bulk("a")
    );
    assert_eq!(db.run(&["brpoplpush", "src", "dst", "0"]), bulk("c"));
    assert_eq!(db.run(&["lrange", "dst", "0", "-1"]), arr(&["c", "a"]));
    assert_eq!(
        db.run(&["blmpop", "0", "2", "none", "src", "LEFT", "COUNT", "5"]),
        Frame::Array(vec![bulk("src"), arr(&["b"])])
    );
    assert_eq!(
        db.run(&["blmpop", "0", "1", "src", "LEFT"]),
        Frame::NullArray
    );
    assert_eq!(
        db.run(&["blmpop", "0", "0", "src", "LEFT"]),
        Frame::Error("ERR numkeys should be greater than 0".into())
    );
}

#[test]
fn sorted_set_pops() {
    let mut db = Db::new();
    assert_eq!(db.run(&["bzpopmin", "z", "0"]), Frame::NullArray);
    db.run(&["zadd", "z", "1", "a", "2", "b", "3", "c"]);
    // The score is a double: a bulk string in RESP2, a double in RESP3 (as Redis 7).
    assert_eq!(
        db.run(&["bzpopmin", "none", "z", "0"]),
        Frame::Array(vec![bulk("z"), bulk("a"), Frame::Double(1.0)])
    );
    assert_eq!(
        db.run(&["bzpopmax", "z", "0"]),
        Frame::Array(vec![bulk("z"), bulk("c"), Frame::Double(3.0)])
    );
    let r = db.run(&["bzmpop", "0", "1", "z", "MIN"]);
    let Frame::Array(items) = r else {
        panic!("{r:?}")
    };
    assert_eq!(items[0], bulk("z"));
    assert_eq!(db.run(&["exists", "z"]), Frame::Integer(0));
    assert_eq!(db.run(&["bzmpop", "0", "1", "z", "MIN"]), Frame::NullArray);
}
