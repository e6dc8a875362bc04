//! Inputs the request-path fuzzer (crates/engine/fuzz, `scripts/fuzz.sh`) found or
//! checks, replayed as plain engine tests: each runs the exact command sequence against a
//! MemStore, one log entry per command, and asserts the clear reply (an error, not a
//! panic, hang or runaway allocation).

mod common;
use common::*;

/// Runs `cmds` in order and returns the last command's reply, compactly shown.
fn last(db: &mut Db, cmds: &[&[&str]]) -> String {
    let mut out = String::new();
    for c in cmds {
        out = show(&db.run(c));
    }
    out
}

/// Negative counts (draws with repetitions) are capped, so a single read cannot ask for
/// billions of elements: the fuzzer's extreme integers all get a clear error.
#[test]
fn random_draws_with_extreme_counts_are_refused() {
    let mut db = Db::new();
    db.run(&["sadd", "s", "a", "b"]);
    db.run(&["hset", "h", "a", "1"]);
    db.run(&["zadd", "z", "1", "a"]);
    for count in ["-4294967296", "-536870912", "-9223372036854775807"] {
        for cmd in [
            vec!["srandmember", "s", count],
            vec!["hrandfield", "h", count],
            vec!["hrandfield", "h", count, "withvalues"],
            vec!["zrandmember", "z", count],
            vec!["zrandmember", "z", count, "withscores"],
        ] {
            let r = show(&db.run(&cmd));
            assert!(r.starts_with("E:ERR value is out of range"), "{cmd:?}: {r}");
        }
    }
    assert_eq!(
        last(&mut db, &[&["srandmember", "s", "-9223372036854775808"]]),
        "E:ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
}

/// Finding (request_bytes target): the repetition cap counts elements, not bytes. Under
/// the cap, `HRANDFIELD h -16777216 WITHVALUES` on a one-field hash builds 16M
/// `(Frame, Frame)` pairs in one 1.6 GB `Vec` (hash.rs `hrandfield` collecting `picked`)
/// on top of an 800 MB `Vec` of cloned (field, value) pairs, about 3.5 GB in all for a
/// 43-byte request; libFuzzer stops it at -malloc_limit_mb=1024. With a large member the
/// same request asks for terabytes (`SADD s <1 MB>` then `SRANDMEMBER s -16777216` is
/// 16 TB). `coll::drawn_entries` now bounds the reply it would build (512 MB, element
/// bytes plus overhead) before building it; this test asserts the clear error for a reply
/// of 1 GB, and a 16M-repeat draw of a tiny field is refused too.
#[test]
fn random_draws_with_repetition_are_capped_by_reply_size() {
    let mut db = Db::new();
    let member = "m".repeat(1024);
    db.run(&["sadd", "s", &member]);
    db.run(&["hset", "h", "f", &member]);
    let r = last(&mut db, &[&["srandmember", "s", "-1048576"]]);
    assert!(
        r.starts_with("E:ERR"),
        "SRANDMEMBER of 1 GB answered {:.60}",
        r
    );
    let r = last(&mut db, &[&["hrandfield", "h", "-1048576", "withvalues"]]);
    assert!(
        r.starts_with("E:ERR"),
        "HRANDFIELD of 1 GB answered {:.60}",
        r
    );
    db.run(&["hset", "tiny", "a", "1"]);
    let r = last(
        &mut db,
        &[&["hrandfield", "tiny", "-16777216", "withvalues"]],
    );
    assert!(
        r.starts_with("E:ERR"),
        "HRANDFIELD -16777216 answered {:.60}",
        r
    );
    // An ordinary draw with repeats still works.
    let r = last(&mut db, &[&["hrandfield", "tiny", "-1000"]]);
    assert!(!r.starts_with("E:"), "{:.60}", r);
}
