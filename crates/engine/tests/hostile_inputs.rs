//! Hostile command arguments (issue 18: no request can freeze or brick a node).
//!
//! Every case runs in its own thread with the default (2 MB) stack and must finish
//! within a generous bound: a panic, a stack overflow (which aborts the whole binary),
//! a catastrophic backtrack or an absurd allocation fails the test. Replies are the
//! exact Redis 7 / RedisJSON answers where those exist, Meridian's documented errors
//! where Redis itself would exhaust memory.

mod common;

use common::{show, Db};
use engine::Frame;
use std::time::{Duration, Instant};

/// Far above what any case needs in a release build; a blowup takes minutes or hours.
const BOUND: Duration = Duration::from_secs(30);

/// Runs `f` on a fresh thread and fails unless it returns within [`BOUND`].
fn bounded(what: &str, f: impl FnOnce() + Send + 'static) {
    let started = Instant::now();
    let h = std::thread::Builder::new()
        .name(what.to_string())
        .spawn(f)
        .expect("spawn");
    while !h.is_finished() {
        assert!(
            started.elapsed() < BOUND,
            "{what}: still running after {BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    if let Err(panic) = h.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `args` and shows the reply compactly ([`show`]).
fn sh(db: &mut Db, args: &[&str]) -> String {
    show(&db.run(args))
}

/// Asserts each `(command, reply)`; commands are split at spaces. Every case runs
/// (later ones may depend on earlier writes); all mismatches are reported together.
fn expect(db: &mut Db, cases: &[(&str, &str)]) {
    let mut wrong = Vec::new();
    for (cmd, want) in cases {
        let got = db.show(cmd);
        if got != *want {
            wrong.push(format!("{cmd}\n   got: {got}\n  want: {want}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

const MIN: &str = "-9223372036854775808";
const MAX: &str = "9223372036854775807";

/// Replaces the words `MIN`/`MAX` (also `#MAX`, and `I:MIN`/`I:MAX` in replies) by
/// i64::MIN/i64::MAX; `ZPOPMIN` or `MAXLEN` stay as they are.
fn with_extremes(s: &str) -> String {
    s.split(' ')
        .map(|w| match w {
            "MIN" => MIN.to_string(),
            "MAX" => MAX.to_string(),
            "#MAX" => format!("#{MAX}"),
            w => w
                .replace("I:MIN", &format!("I:{MIN}"))
                .replace("I:MAX", &format!("I:{MAX}")),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Like [`expect`], with `MIN`/`MAX` standing for i64::MIN/i64::MAX.
fn expect_x(db: &mut Db, cases: &[(&str, &str)]) {
    let cases: Vec<(String, String)> = cases
        .iter()
        .map(|(c, w)| (with_extremes(c), w.to_string()))
        .collect();
    let cases: Vec<(&str, &str)> = cases.iter().map(|(c, w)| (&c[..], &w[..])).collect();
    expect(db, &cases);
}

fn nested_arrays(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

fn nested_objects(levels: usize, key: &str) -> String {
    let mut s = String::new();
    for _ in 0..levels {
        s.push_str(&format!("{{\"{key}\":"));
    }
    s.push('1');
    s.push_str(&"}".repeat(levels));
    s
}

// ---- 1. JSONPath ---------------------------------------------------------------------

#[test]
fn json_regex_never_backtracks() {
    bounded("json_regex_never_backtracks", || {
        let mut db = Db::new();
        let evil = format!("{}b", "a".repeat(30));
        let long = format!("{}!", "a".repeat(20_000));
        let doc = serde_json::json!([evil, "aaaa", long]).to_string();
        assert_eq!(sh(&mut db, &["JSON.SET", "j", "$", &doc]), "S:OK");
        // Classic catastrophic patterns: a backtracking matcher takes 2^30 steps on the
        // first string and forever on the third.
        for pat in [
            "(a+)+$",
            "^(a+)+$",
            "(a|aa)+$",
            "^(a|a?)+$",
            "^((a*)*)+$",
            "(a*)*[^a!]$",
            "^(\\\\w+\\\\s?)*$",
        ] {
            let path = format!("$[?(@ =~ \"{pat}\")]");
            let got = sh(&mut db, &["JSON.GET", "j", &path]);
            let want = if pat.contains("[^a!]") || pat.contains("\\\\w") {
                // Neither matches `...b` (no `b` at the end is allowed / `b` is a word
                // character but `!` is not).
                if pat.contains("\\\\w") {
                    format!("B:[\"{evil}\",\"aaaa\"]")
                } else {
                    format!("B:[\"{evil}\"]")
                }
            } else {
                "B:[\"aaaa\"]".to_string()
            };
            assert_eq!(got, want, "{pat}");
        }
    });
}

#[test]
fn json_regex_repetition_counts_are_bounded() {
    bounded("json_regex_repetition_counts_are_bounded", || {
        let mut db = Db::new();
        assert_eq!(
            sh(&mut db, &["JSON.SET", "j", "$", r#"["aaa","b",""]"#]),
            "S:OK"
        );
        // Too large to compile (the regex crate's size limit): matches nothing.
        for pat in [
            "a{1000000}",
            "a{1,1000000}",
            "a{4294967296}",
            "(a{1000}){1000}",
            "a{1000}{1000}{1000}",
        ] {
            let path = format!("$[?(@ =~ \"{pat}\")]");
            assert_eq!(sh(&mut db, &["JSON.GET", "j", &path]), "B:[]", "{pat}");
        }
        // Repeating what only matches the empty string is that empty match, however
        // deeply the counts multiply.
        for pat in [
            "(?:){1000}{1000}{1000}{1000}",
            "(^){1000}{1000}{1000}{1000}",
            "((?:)(?:)){1000}{1000}{1000}",
            "(a{0}){1000}{1000}{1000}",
        ] {
            let path = format!("$[?(@ =~ \"{pat}\")]");
            assert_eq!(
                sh(&mut db, &["JSON.GET", "j", &path]),
                r#"B:["aaa","b",""]"#,
                "{pat}"
            );
        }
        // Thousands of stacked repetition operators exceed the nesting limit (an
        // invalid pattern, matching nothing) instead of recursing that deep.
        let stacked = format!("a{}", "*".repeat(100_000));
        let path = format!("$[?(@ =~ \"{stacked}\")]");
        assert_eq!(sh(&mut db, &["JSON.GET", "j", &path]), "B:[]");
        let stacked = format!("a{}", "{1,2}".repeat(50_000));
        let path = format!("$[?(@ =~ \"{stacked}\")]");
        assert_eq!(sh(&mut db, &["JSON.GET", "j", &path]), "B:[]");
        // A few stacked operators are fine.
        assert_eq!(
            sh(&mut db, &["JSON.GET", "j", "$[?(@ =~ \"^a**$\")]"]),
            r#"B:["aaa",""]"#
        );
        // Deeply nested groups are refused with an error.
        let groups = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        let path = format!("$[?(@ =~ \"{groups}\")]");
        assert_eq!(
            sh(&mut db, &["JSON.GET", "j", &path]),
            "E:ERR regular expression feature not supported: groups nested too deeply"
        );
    });
}

#[test]
fn json_regex_long_patterns_compile_in_linear_time() {
    bounded("json_regex_long_patterns_compile_in_linear_time", || {
        let mut db = Db::new();
        assert_eq!(sh(&mut db, &["JSON.SET", "j", "$", r#"["x"]"#]), "S:OK");
        // Every `[[:` used to copy the rest of the pattern: quadratic in its length.
        let classes = format!("[{}]", "[:alpha:]".repeat(200_000));
        let path = format!("$[?(@ =~ \"^{classes}$\")]");
        assert_eq!(sh(&mut db, &["JSON.GET", "j", &path]), r#"B:["x"]"#);
        let unclosed = format!("[{}]", "[:".repeat(300_000));
        let path = format!("$[?(@ =~ \"{unclosed}\")]");
        assert_eq!(
            sh(&mut db, &["JSON.GET", "j", &path]),
            "E:ERR regular expression feature not supported: nested character classes"
        );
    });
}

#[test]
fn json_recursive_descent_is_bounded() {
    bounded("json_recursive_descent_is_bounded", || {
        let mut db = Db::new();
        assert_eq!(
            sh(&mut db, &["JSON.SET", "j", "$", &nested_objects(120, "a")]),
            "S:OK"
        );
        // One descent: every `a` once.
        let Frame::Bulk(one) = db.run(&["JSON.GET", "j", "$..a"]) else {
            panic!("JSON.GET $..a")
        };
        assert!(one.starts_with(b"[{\"a\":"));
        // Six descents would produce about 120^6/720 (4 billion) nodes.
        for cmd in [
            vec!["JSON.GET", "j", "$..a..a..a..a..a..a"],
            vec!["JSON.DEL", "j", "$..a..a..a..a..a..a"],
            vec!["JSON.RESP", "j", "$..a..a..a..a..a..a"],
            vec!["JSON.TYPE", "j", "$..*..*..*..*..*..*"],
            vec!["JSON.GET", "j", "$..a[?(@..a..a..a..a..a)]"],
        ] {
            assert_eq!(
                sh(&mut db, &cmd),
                "E:ERR JSONPath evaluation exceeds the work limit",
                "{cmd:?}"
            );
        }
        assert_eq!(sh(&mut db, &["JSON.TYPE", "j", "$.a.a.a"]), "[B:object]");
    });
}

#[test]
fn json_reply_amplification_is_refused() {
    bounded("json_reply_amplification_is_refused", || {
        let mut db = Db::new();
        // A 120-deep chain over a 5 MB string: `$..*` repeats the string once per
        // ancestor (600 MB of text), INDENT repeats its text on every line.
        let big = "x".repeat(5 << 20);
        let mut doc = format!("\"{big}\"");
        for _ in 0..120 {
            doc = format!("[{doc}]");
        }
        assert_eq!(sh(&mut db, &["JSON.SET", "j", "$", &doc]), "S:OK");
        let too_large = "E:ERR JSON reply exceeds maximum allowed size (proto-max-bulk-len)";
        assert_eq!(sh(&mut db, &["JSON.GET", "j", "$..*"]), too_large);
        assert_eq!(
            sh(&mut db, &["JSON.MGET", "j", "j", "$..*"]),
            too_large.to_string()
        );
        let indent = "i".repeat(1 << 20);
        assert_eq!(
            sh(
                &mut db,
                &["JSON.GET", "j", "INDENT", &indent, "NEWLINE", "\n", "$"]
            ),
            too_large
        );
        // The document itself is still served.
        let Frame::Bulk(all) = db.run(&["JSON.GET", "j"]) else {
            panic!("JSON.GET j")
        };
        assert_eq!(all.len(), doc.len());
        assert_eq!(
            sh(&mut db, &["JSON.GET", "j", "$[0][0][0][0][0][0][0][0]"]).len() > 5 << 20,
            true
        );
    });
}

#[test]
fn json_filters_nest_without_stack_overflow() {
    bounded("json_filters_nest_without_stack_overflow", || {
        let mut db = Db::new();
        assert_eq!(sh(&mut db, &["JSON.SET", "j", "$", "[1,2,3]"]), "S:OK");
        let nesting = "E:ERR JSONPath nesting exceeds the maximum of 64 levels";
        let parens = format!("$[?{}@==1{}]", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(sh(&mut db, &["JSON.GET", "j", &parens]), nesting);
        let filters = format!("$[?({}@{})]", "@[?(".repeat(50_000), ")]".repeat(50_000));
        assert_eq!(sh(&mut db, &["JSON.GET", "j", &filters]), nesting);
        // A long flat chain of conditions is fine.
        let chain = format!("$[?({}@==1)]", "@>0 && ".repeat(20_000));
        assert_eq!(sh(&mut db, &["JSON.GET", "j", &chain]), "B:[1]");
        let chain = format!("$[?({}@==3)]", "@==0 || ".repeat(20_000));
        assert_eq!(sh(&mut db, &["JSON.GET", "j", &chain]), "B:[3]");
        // Array indexes and slices at the extremes.
        for (path, want) in [
            (format!("$[{MIN}]"), "B:[1]"),
            (format!("$[{MAX}]"), "B:[]"),
            (format!("$[{MIN}:{MAX}]"), "B:[1,2,3]"),
            (format!("$[{MAX}:{MIN}]"), "B:[]"),
            (format!("$[0:{MAX}:{MAX}]"), "B:[1]"),
            ("$[99999999999999999999999]".to_string(), "B:[]"),
        ] {
            assert_eq!(sh(&mut db, &["JSON.GET", "j", &path]), want, "{path}");
        }
    });
}

// ---- 2. Deep documents ---------------------------------------------------------------

#[test]
fn json_deep_documents_are_refused() {
    bounded("json_deep_documents_are_refused", || {
        let mut db = Db::new();
        // serde_json's (and so RedisJSON's) 128-level limit on one value, without
        // recursing 100000 levels deep.
        let deep = "[".repeat(100_000);
        assert_eq!(
            sh(&mut db, &["JSON.SET", "j", "$", &deep]),
            "E:recursion limit exceeded at line 1 column 128"
        );
        let deep = nested_arrays(100_000);
        assert_eq!(
            sh(&mut db, &["JSON.SET", "j", "$", &deep]),
            "E:recursion limit exceeded at line 1 column 128"
        );
        let deep = nested_objects(100_000, "a");
        assert!(sh(&mut db, &["JSON.SET", "j", "$", &deep])
            .starts_with("E:recursion limit exceeded at line 1 column"));
        assert_eq!(sh(&mut db, &["EXISTS", "j"]), "I:0");
        // Every value-taking command parses the same way.
        assert_eq!(sh(&mut db, &["JSON.SET", "j", "$", "[[]]"]), "S:OK");
        let deep = nested_arrays(100_000);
        for cmd in [
            vec!["JSON.ARRAPPEND", "j", "$", &deep],
            vec!["JSON.ARRINSERT", "j", "$", "0", &deep],
            vec!["JSON.ARRINDEX", "j", "$", &deep],
            vec!["JSON.MERGE", "j", "$", &deep],
            vec!["JSON.MSET", "j", "$", &deep],
            vec!["JSON.SET", "j", "$[0]", &deep],
        ] {
            assert_eq!(
                sh(&mut db, &cmd),
                "E:recursion limit exceeded at line 1 column 128",
                "{:?}",
                &cmd[..3]
            );
        }
        assert_eq!(sh(&mut db, &["JSON.GET", "j"]), "B:[[]]");
        // Values that are legal alone but would make the document deeper than its
        // limit (1024 levels) are refused too, and the document is left as it was.
        let mut path = "$".to_string();
        for _ in 0..9 {
            let r = sh(
                &mut db,
                &["JSON.ARRAPPEND", "j", &path, &nested_arrays(127)],
            );
            if r.starts_with('E') {
                assert_eq!(
                    r,
                    "E:ERR document nesting exceeds the maximum depth of 1024"
                );
                break;
            }
            assert_eq!(r, if path == "$" { "[I:2]" } else { "[I:1]" });
            // The first value went in next to `[]`, later ones into an empty array.
            path.push_str(if path == "$" { "[1]" } else { "[0]" });
            path.push_str(&"[0]".repeat(126));
        }
        assert_eq!(
            sh(&mut db, &["JSON.SET", "j", &path, &nested_arrays(127)]),
            "E:ERR document nesting exceeds the maximum depth of 1024"
        );
        assert_eq!(
            sh(
                &mut db,
                &["JSON.ARRINSERT", "j", &path, "0", &nested_arrays(127)]
            ),
            "E:ERR document nesting exceeds the maximum depth of 1024"
        );
        // The deep document still works with every command.
        assert!(sh(&mut db, &["JSON.GET", "j", "$..*"]).starts_with("B:[[],[[["));
        assert_eq!(sh(&mut db, &["JSON.DEL", "j", "$[1]"]), "I:1");
        assert_eq!(sh(&mut db, &["JSON.GET", "j"]), "B:[[]]");
    });
}

// ---- 3. Bit and string offsets -------------------------------------------------------

#[test]
fn bit_offsets_are_capped_at_512mb() {
    bounded("bit_offsets_are_capped_at_512mb", || {
        let mut db = Db::new();
        let bad = "E:ERR bit offset is not an integer or out of range";
        let cases = [
            ("SETBIT b 4294967296 1", bad),
            ("SETBIT b MAX 1", bad),
            ("SETBIT b -1 1", bad),
            ("SETBIT b MIN 1", bad),
            ("SETBIT b 18446744073709551616 1", bad),
            ("GETBIT b 4294967296", bad),
            ("GETBIT b MIN", bad),
            // Past the end of a missing key: a read, nothing allocated.
            ("GETBIT b 4294967295", "I:0"),
            ("BITFIELD b SET u8 4294967296 1", bad),
            ("BITFIELD b GET u8 4294967296", bad),
            ("BITFIELD b GET i64 #67108864", bad),
            ("BITFIELD b SET u8 #536870912 1", bad),
            ("BITFIELD b INCRBY i64 #MAX 1", bad),
            ("BITFIELD b INCRBY u8 #-1 1", bad),
            ("BITFIELD b SET i64 MIN 1", bad),
            ("BITFIELD_RO b GET u8 4294967296", bad),
            ("BITFIELD_RO b GET u8 #MAX", bad),
            (
                "BITFIELD b GET u64 0",
                "E:ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
            ),
            (
                "BITFIELD b GET i4294967304 0",
                "E:ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
            ),
            // Reads past the end of a missing key are zeros.
            ("BITFIELD b GET i64 4294967295", "[I:0]"),
            ("BITFIELD_RO b GET u63 #68174084", "[I:0]"),
            ("EXISTS b", "I:0"),
            // A moderate offset works (128 KB).
            ("SETBIT b 1048575 1", "I:0"),
            ("STRLEN b", "I:131072"),
            ("BITCOUNT b", "I:1"),
            ("BITFIELD b INCRBY u8 #131071 MAX", "[I:0]"),
            ("BITFIELD b OVERFLOW WRAP INCRBY i64 0 MAX INCRBY i64 0 MAX", "[I:MAX,I:-2]"),
            ("BITFIELD b OVERFLOW SAT INCRBY i64 0 MIN INCRBY i64 0 MIN", "[I:MIN,I:MIN]"),
            ("BITFIELD b OVERFLOW FAIL INCRBY i64 0 MIN", "[N]"),
            ("STRLEN b", "I:131072"),
        ];
        let cases: Vec<(&str, String)> =
            cases.iter().map(|(c, w)| (*c, with_extremes(w))).collect();
        let cases: Vec<(&str, &str)> = cases.iter().map(|(c, w)| (*c, &w[..])).collect();
        expect_x(&mut db, &cases);
    });
}

#[test]
fn bit_ranges_take_any_index() {
    bounded("bit_ranges_take_any_index", || {
        let mut db = Db::new();
        expect(&mut db, &[("SET s foobar", "S:OK")]);
        expect_x(
            &mut db,
            &[
                ("BITCOUNT s MIN MAX", "I:26"),
                ("BITCOUNT s MIN MAX BYTE", "I:26"),
                ("BITCOUNT s MIN MAX BIT", "I:26"),
                ("BITCOUNT s MAX MIN", "I:0"),
                ("BITCOUNT s MAX MAX BIT", "I:0"),
                ("BITCOUNT s MIN MIN BIT", "I:0"),
                ("BITCOUNT s -1 MAX BIT", "I:0"),
                ("BITCOUNT missing MIN MAX", "I:0"),
                ("BITPOS s 1 MIN MAX", "I:1"),
                ("BITPOS s 1 MIN MAX BIT", "I:1"),
                ("BITPOS s 0 MAX", "I:-1"),
                ("BITPOS s 0 MAX MAX BIT", "I:-1"),
                ("BITPOS s 0 MIN MIN", "I:0"),
                ("BITPOS s 1 -1 MIN", "I:-1"),
                ("BITPOS s 0 0 MAX BIT", "I:0"),
                (
                    "BITCOUNT s 0 18446744073709551616",
                    "E:ERR value is not an integer or out of range",
                ),
            ],
        );
        // BITOP over keys never allocates beyond the longest input.
        expect(
            &mut db,
            &[
                ("BITOP NOT d s", "I:6"),
                ("BITOP AND d s missing", "I:6"),
                ("STRLEN d", "I:6"),
            ],
        );
    });
}

#[test]
fn string_offsets_and_ranges() {
    bounded("string_offsets_and_ranges", || {
        let mut db = Db::new();
        let too_big = "E:ERR string exceeds maximum allowed size (proto-max-bulk-len)";
        expect_x(
            &mut db,
            &[
                ("SETRANGE s 536870912 x", too_big),
                ("SETRANGE s MAX x", too_big),
                ("SETRANGE s 536870911 xx", too_big),
                ("SETRANGE s -1 x", "E:ERR offset is out of range"),
                ("SETRANGE s MIN x", "E:ERR offset is out of range"),
                (
                    "SETRANGE s 18446744073709551616 x",
                    "E:ERR value is not an integer or out of range",
                ),
                // Setting nothing on a missing key is 0, at any offset (Redis).
                ("SETRANGE s MAX ", "I:0"),
                ("EXISTS s", "I:0"),
                ("SET s hello", "S:OK"),
                ("SETRANGE s 536870912 x", too_big),
                ("SETRANGE s MAX x", too_big),
                ("SETRANGE s MAX ", "I:5"),
                ("SETRANGE s 5 !", "I:6"),
                ("GETRANGE s MIN MAX", "B:hello!"),
                ("GETRANGE s 0 MAX", "B:hello!"),
                ("GETRANGE s MIN -1", "B:hello!"),
                ("GETRANGE s MIN MIN", "B:h"),
                ("GETRANGE s MAX MAX", "B:"),
                ("GETRANGE s MAX MIN", "B:"),
                ("GETRANGE s -1 MIN", "B:"),
                ("GETRANGE s -3 MAX", "B:lo!"),
                ("SUBSTR s MIN MAX", "B:hello!"),
                ("SUBSTR s MAX 0", "B:"),
                ("GETRANGE missing MIN MAX", "B:"),
                ("LCS s s LEN", "I:6"),
                ("LCS s s MINMATCHLEN MAX", "B:hello!"),
                ("LCS s s MINMATCHLEN MIN", "B:hello!"),
                // Counters refuse to overflow.
                ("SET n MAX", "S:OK"),
                ("INCR n", "E:ERR increment or decrement would overflow"),
                ("INCRBY n 1", "E:ERR increment or decrement would overflow"),
                ("DECRBY n MIN", "E:ERR decrement would overflow"),
                ("SET n MIN", "S:OK"),
                ("DECR n", "E:ERR increment or decrement would overflow"),
                ("INCRBY n -1", "E:ERR increment or decrement would overflow"),
                ("INCRBY n MAX", "I:-1"),
                ("SET n 1.7e308", "S:OK"),
                (
                    "INCRBYFLOAT n 1e308",
                    "E:ERR increment would produce NaN or Infinity",
                ),
                // Expiry arithmetic never wraps.
                (
                    "SET e v EX MAX",
                    "E:ERR invalid expire time in 'set' command",
                ),
                (
                    "SET e v PX MAX",
                    "E:ERR invalid expire time in 'set' command",
                ),
                (
                    "SET e v EXAT MAX",
                    "E:ERR invalid expire time in 'set' command",
                ),
                (
                    "SET e v EX MIN",
                    "E:ERR invalid expire time in 'set' command",
                ),
                (
                    "SETEX e MAX v",
                    "E:ERR invalid expire time in 'setex' command",
                ),
                (
                    "PSETEX e MAX v",
                    "E:ERR invalid expire time in 'psetex' command",
                ),
                ("SET e v", "S:OK"),
                (
                    "GETEX e EX MAX",
                    "E:ERR invalid expire time in 'getex' command",
                ),
                (
                    "EXPIRE e MAX",
                    "E:ERR invalid expire time in 'expire' command",
                ),
                (
                    "EXPIRE e 9223372036854775",
                    "E:ERR invalid expire time in 'expire' command",
                ),
                (
                    "PEXPIRE e MAX",
                    "E:ERR invalid expire time in 'pexpire' command",
                ),
                (
                    "EXPIREAT e MAX",
                    "E:ERR invalid expire time in 'expireat' command",
                ),
                ("PEXPIREAT e MAX", "I:1"),
                ("TTL e", "I:9223370336854776"),
                (
                    "EXPIRE e MIN",
                    "E:ERR invalid expire time in 'expire' command",
                ),
                (
                    "PEXPIRE e MIN",
                    // Redis: a negative PEXPIRE that does not overflow deletes the key.
                    "I:1",
                ),
                ("EXISTS e", "I:0"),
            ],
        );
    });
}

// ---- 4. Collection ranges and counts -------------------------------------------------

#[test]
fn list_indexes_at_the_extremes() {
    bounded("list_indexes_at_the_extremes", || {
        let mut db = Db::new();
        expect(&mut db, &[("RPUSH l a b c a", "I:4")]);
        expect_x(
            &mut db,
            &[
                ("LRANGE l MIN MAX", "[B:a,B:b,B:c,B:a]"),
                ("LRANGE l 0 MAX", "[B:a,B:b,B:c,B:a]"),
                ("LRANGE l MAX MIN", "[]"),
                ("LRANGE l MIN MIN", "[]"),
                ("LRANGE l MAX MAX", "[]"),
                ("LRANGE l -2 MAX", "[B:c,B:a]"),
                ("LINDEX l MIN", "N"),
                ("LINDEX l MAX", "N"),
                ("LSET l MAX x", "E:ERR index out of range"),
                ("LSET l MIN x", "E:ERR index out of range"),
                ("LPOS l a COUNT MAX", "[I:0,I:3]"),
                ("LPOS l a COUNT 0 MAXLEN MAX", "[I:0,I:3]"),
                ("LPOS l a RANK MAX", "N"),
                ("LPOS l a RANK -9223372036854775807", "N"),
                ("LPOS l a RANK -9223372036854775807 COUNT MAX", "[]"),
                ("LPOS l a RANK -1 COUNT MAX MAXLEN MAX", "[I:3,I:0]"),
                (
                    "LPOS l a RANK MIN",
                    "E:ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ),
                ("LPOS l a COUNT -1", "E:ERR COUNT can't be negative"),
                ("LPOS l a COUNT MIN", "E:ERR COUNT can't be negative"),
                ("LPOS l a MAXLEN MIN", "E:ERR MAXLEN can't be negative"),
                ("LPOS l a RANK 0", "E:ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"),
                ("LINSERT l BEFORE c x", "I:5"),
                ("LINSERT l AFTER nope x", "I:-1"),
                ("LMPOP 1 l LEFT COUNT MAX", "[B:l,[B:a,B:b,B:x,B:c,B:a]]"),
                ("RPUSH l a b c", "I:3"),
                ("LMPOP 1 l LEFT COUNT 0", "E:ERR count should be greater than 0"),
                ("LMPOP 1 l LEFT COUNT MIN", "E:ERR count should be greater than 0"),
                ("LMPOP MAX l LEFT", "E:ERR syntax error"),
                ("LPOP l MAX", "[B:a,B:b,B:c]"),
                ("RPUSH l a b c", "I:3"),
                ("LPOP l MIN", "E:ERR value is out of range, must be positive"),
                ("LTRIM l MIN MAX", "S:OK"),
                ("LRANGE l 0 -1", "[B:a,B:b,B:c]"),
                ("LTRIM l MAX MIN", "S:OK"),
                ("EXISTS l", "I:0"),
            ],
        );
    });
}

#[test]
fn sorted_set_ranges_at_the_extremes() {
    bounded("sorted_set_ranges_at_the_extremes", || {
        let mut db = Db::new();
        expect(&mut db, &[("ZADD z 1 a 2 b 3 c 4 d", "I:4")]);
        expect_x(
            &mut db,
            &[
                ("ZRANGE z MIN MAX", "[B:a,B:b,B:c,B:d]"),
                ("ZRANGE z MAX MIN", "[]"),
                ("ZRANGE z MIN MAX REV", "[B:d,B:c,B:b,B:a]"),
                ("ZRANGE z MAX MAX REV", "[]"),
                ("ZRANGE z -inf +inf BYSCORE LIMIT MAX MAX", "[]"),
                ("ZRANGE z -inf +inf BYSCORE LIMIT MIN 2", "[]"),
                ("ZRANGE z -inf +inf BYSCORE LIMIT 1 MIN", "[B:b,B:c,B:d]"),
                ("ZRANGE z -inf +inf BYSCORE LIMIT 1 MAX", "[B:b,B:c,B:d]"),
                (
                    "ZRANGE z +inf -inf BYSCORE REV LIMIT 1 MAX",
                    "[B:c,B:b,B:a]",
                ),
                ("ZRANGE z +inf -inf BYSCORE REV LIMIT MAX 1", "[]"),
                ("ZRANGE z - + BYLEX LIMIT MAX MAX", "[]"),
                ("ZRANGE z - + BYLEX LIMIT 3 MAX", "[B:d]"),
                ("ZRANGE z + - BYLEX REV LIMIT 3 MIN", "[B:a]"),
                ("ZRANGE z - + BYLEX LIMIT MIN MIN", "[]"),
                ("ZRANGEBYSCORE z -inf +inf LIMIT MAX MAX", "[]"),
                (
                    "ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 3 MAX",
                    "[B:d,D:4]",
                ),
                ("ZREVRANGEBYSCORE z +inf -inf LIMIT 3 MAX", "[B:a]"),
                ("ZRANGEBYLEX z - + LIMIT 2 MAX", "[B:c,B:d]"),
                ("ZREVRANGEBYLEX z + - LIMIT MAX 1", "[]"),
                ("ZREVRANGE z MIN MAX", "[B:d,B:c,B:b,B:a]"),
                ("ZRANGESTORE dst z MIN MAX", "I:4"),
                ("ZRANGESTORE dst z MAX MIN", "I:0"),
                ("EXISTS dst", "I:0"),
                ("ZRANGESTORE dst z -inf +inf BYSCORE LIMIT 2 MAX", "I:2"),
                ("ZRANGE dst 0 -1", "[B:c,B:d]"),
                ("ZRANGESTORE dst z - + BYLEX REV LIMIT MAX MAX", "I:0"),
                ("ZCOUNT z -inf +inf", "I:4"),
                (
                    "ZMPOP 1 z min COUNT 0",
                    "E:ERR count should be greater than 0",
                ),
                (
                    "ZMPOP 1 z min COUNT MIN",
                    "E:ERR count should be greater than 0",
                ),
                (
                    "ZPOPMIN z MIN",
                    "E:ERR value is out of range, must be positive",
                ),
                ("ZADD z2 1 a 2 b", "I:2"),
                ("ZPOPMIN z2 MAX", "[B:a,D:1,B:b,D:2]"),
                ("ZADD z2 1 a 2 b", "I:2"),
                ("ZMPOP 1 z2 max COUNT MAX", "[B:z2,[[B:b,D:2],[B:a,D:1]]]"),
                ("ZREMRANGEBYRANK z MAX MIN", "I:0"),
                ("ZREMRANGEBYRANK z MAX MAX", "I:0"),
                ("ZREMRANGEBYRANK z MIN -4", "I:1"),
                ("ZREMRANGEBYRANK z MIN MAX", "I:3"),
                ("EXISTS z", "I:0"),
                ("ZADD z MAX a", "I:1"),
                ("ZINCRBY z MAX a", "D:18446744073709552000"),
                ("ZADD z +inf i", "I:1"),
                (
                    "ZINCRBY z -inf i",
                    "E:ERR resulting score is not a number (NaN)",
                ),
            ],
        );
    });
}

#[test]
fn random_draw_counts() {
    bounded("random_draw_counts", || {
        let mut db = Db::new();
        expect(
            &mut db,
            &[
                ("SADD s a b c", "I:3"),
                ("HSET h a 1 b 2 c 3", "I:3"),
                ("ZADD z 1 a 2 b 3 c", "I:3"),
            ],
        );
        let range = "E:ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
        let repeats =
            "E:ERR value is out of range, count with repetitions must be at most 16777216";
        expect_x(
            &mut db,
            &[
                ("SRANDMEMBER s MIN", range),
                ("HRANDFIELD h MIN", range),
                ("HRANDFIELD h MIN WITHVALUES", range),
                ("ZRANDMEMBER z MIN", range),
                ("ZRANDMEMBER z MIN WITHSCORES", range),
                ("SRANDMEMBER missing MIN", range),
                // Redis 7: counts whose doubled reply length would overflow.
                (
                    "HRANDFIELD h -9223372036854775807 WITHVALUES",
                    "E:ERR value is out of range",
                ),
                (
                    "ZRANDMEMBER z -9223372036854775807 WITHSCORES",
                    "E:ERR value is out of range",
                ),
                ("HRANDFIELD h MAX WITHVALUES", "E:ERR value is out of range"),
                (
                    "ZRANDMEMBER z MAX WITHSCORES",
                    "E:ERR value is out of range",
                ),
                // Redis would stream 2^63 - 1 elements; Meridian builds replies in memory.
                ("SRANDMEMBER s -9223372036854775807", repeats),
                ("HRANDFIELD h -9223372036854775807", repeats),
                ("ZRANDMEMBER z -9223372036854775807", repeats),
                ("HRANDFIELD h -4611686018427387903 WITHVALUES", repeats),
                ("SRANDMEMBER s -16777217", repeats),
                // Positive counts are capped by the collection.
                ("SCARD s", "I:3"),
                (
                    "SPOP s MIN",
                    "E:ERR value is out of range, must be positive",
                ),
                ("ZRANDMEMBER z 3", "[B:a,B:b,B:c]"),
                ("ZRANDMEMBER z MAX", "[B:a,B:b,B:c]"),
                ("SRANDMEMBER missing -9223372036854775807", "[]"),
            ],
        );
        for (cmd, n) in [
            ("SRANDMEMBER s MAX", 3),
            ("HRANDFIELD h MAX", 3),
            ("HRANDFIELD h 4611686018427387903 WITHVALUES", 6),
            ("SRANDMEMBER s -5", 5),
            ("HRANDFIELD h -5 WITHVALUES", 10),
            ("ZRANDMEMBER z -5 WITHSCORES", 10),
            ("SPOP s MAX", 3),
        ] {
            match db.run(&with_extremes(cmd).split(' ').collect::<Vec<_>>()) {
                Frame::Array(v) | Frame::Set(v) => assert_eq!(v.len(), n, "{cmd}"),
                other => panic!("{cmd}: {other:?}"),
            }
        }
        assert_eq!(db.show("EXISTS s"), "I:0");
    });
}

#[test]
fn stream_counts_at_the_extremes() {
    bounded("stream_counts_at_the_extremes", || {
        let mut db = Db::new();
        expect(
            &mut db,
            &[
                ("XADD x 1-1 f v", "B:1-1"),
                ("XADD x 2-1 f v", "B:2-1"),
                ("XADD x 3-1 f v", "B:3-1"),
            ],
        );
        let ids = |s: &str| -> Vec<String> {
            match s {
                "" => Vec::new(),
                s => s.split(',').map(|i| format!("[B:{i},[B:f,B:v]]")).collect(),
            }
        };
        let all = format!("[{}]", ids("1-1,2-1,3-1").join(","));
        let rev = format!("[{}]", ids("3-1,2-1,1-1").join(","));
        let cases = [
            ("XRANGE x - + COUNT MAX", all.clone()),
            // Redis: a negative COUNT is 0, and COUNT 0 replies a nil array.
            ("XRANGE x - + COUNT MIN", "NA".to_string()),
            ("XRANGE x - + COUNT 0", "NA".to_string()),
            ("XREVRANGE x + - COUNT MAX", rev.clone()),
            ("XREVRANGE x + - COUNT MIN", "NA".to_string()),
            (
                "XRANGE x 18446744073709551615-18446744073709551615 + COUNT MAX",
                "[]".to_string(),
            ),
            (
                "XRANGE x - 18446744073709551615-18446744073709551615",
                all.clone(),
            ),
            (
                "XRANGE x (18446744073709551615-18446744073709551615 +",
                "E:ERR invalid start ID for the interval".to_string(),
            ),
            (
                "XREVRANGE x (0-0 -",
                "E:ERR invalid end ID for the interval".to_string(),
            ),
            ("XREAD COUNT MAX STREAMS x 0", format!("[[B:x,{all}]]")),
            ("XREAD COUNT MIN STREAMS x 0", format!("[[B:x,{all}]]")),
            ("XGROUP CREATE x g 0", "S:OK".to_string()),
            (
                "XREADGROUP GROUP g c COUNT MAX STREAMS x >",
                format!("[[B:x,{all}]]"),
            ),
            (
                "XPENDING x g - + MAX",
                "[[B:1-1,B:c,I:0,I:1],[B:2-1,B:c,I:0,I:1],[B:3-1,B:c,I:0,I:1]]".to_string(),
            ),
            ("XPENDING x g - + MIN", "[]".to_string()),
            ("XPENDING x g IDLE MAX - + 10", "[]".to_string()),
            (
                "XAUTOCLAIM x g c2 0 0 COUNT MAX",
                "E:ERR COUNT must be > 0".to_string(),
            ),
            (
                "XAUTOCLAIM x g c2 0 0 COUNT MIN",
                "E:ERR COUNT must be > 0".to_string(),
            ),
            (
                "XAUTOCLAIM x g c2 MAX 0 COUNT 1",
                "[B:0-0,[],[]]".to_string(),
            ),
            (
                "XTRIM x MAXLEN MIN",
                "E:ERR The MAXLEN argument must be >= 0.".to_string(),
            ),
            ("XTRIM x MAXLEN MAX", "I:0".to_string()),
            // The only node (3 entries) goes whole, as in redis-server 7.0.
            ("XTRIM x MAXLEN ~ 0 LIMIT MAX", "I:3".to_string()),
            (
                "XTRIM x MAXLEN = 0 LIMIT MIN",
                "E:ERR The LIMIT argument must be >= 0.".to_string(),
            ),
            ("XADD x MAXLEN MAX * f v", "?".to_string()),
            ("XLEN x", "I:1".to_string()),
        ];
        let mut wrong = Vec::new();
        for (cmd, want) in cases {
            let cmd = with_extremes(cmd);
            let got = db.show(&cmd);
            let ok = if want == "?" {
                got.starts_with("B:")
            } else {
                got == want
            };
            if !ok {
                wrong.push(format!("{cmd}\n   got: {got}\n  want: {want}"));
            }
        }
        assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    });
}

#[test]
fn scan_counts_and_cursors() {
    bounded("scan_counts_and_cursors", || {
        let mut db = Db::new();
        expect(
            &mut db,
            &[
                ("SADD s a", "I:1"),
                ("HSET h a 1", "I:1"),
                ("ZADD z 1 a", "I:1"),
            ],
        );
        expect_x(
            &mut db,
            &[
                ("SSCAN s 0 COUNT MAX", "[B:0,[B:a]]"),
                ("HSCAN h 0 COUNT MAX", "[B:0,[B:a,B:1]]"),
                ("ZSCAN z 0 COUNT MAX", "[B:0,[B:a,B:1]]"),
                ("SSCAN s 18446744073709551615 COUNT MAX", "[B:0,[]]"),
                ("SSCAN s 0 COUNT 0", "E:ERR syntax error"),
                ("SSCAN s 0 COUNT MIN", "E:ERR syntax error"),
                ("SSCAN s 18446744073709551616", "E:ERR invalid cursor"),
            ],
        );
        let Frame::Array(reply) = db.run(&["SCAN", "0", "COUNT", MAX]) else {
            panic!("SCAN")
        };
        assert_eq!(show(&reply[0]), "B:0");
    });
}

const WORK_ERR: &str = "E:ERR SORT exceeds the work limit (pattern lookups and reply size)";

// ---- 5. SORT -------------------------------------------------------------------------

#[test]
fn sort_limits_and_patterns() {
    bounded("sort_limits_and_patterns", || {
        let mut db = Db::new();
        expect(&mut db, &[("RPUSH l 3 1 2", "I:3")]);
        expect_x(
            &mut db,
            &[
                ("SORT l LIMIT MAX MAX", "[]"),
                ("SORT l LIMIT MIN MIN", "[B:1,B:2,B:3]"),
                ("SORT l LIMIT MIN 1", "[B:1]"),
                ("SORT l LIMIT 1 MAX", "[B:2,B:3]"),
                ("SORT l LIMIT 2 MIN", "[B:3]"),
                ("SORT l DESC LIMIT 0 MAX", "[B:3,B:2,B:1]"),
                ("SORT l BY nosort LIMIT 1 MAX", "[B:1,B:2]"),
                ("SORT l BY nosort LIMIT MAX 1", "[]"),
                ("SORT_RO l LIMIT MAX MAX", "[]"),
                ("SORT l LIMIT MAX MAX STORE d", "I:0"),
                ("EXISTS d", "I:0"),
                ("SORT l LIMIT 1 MAX STORE d", "I:2"),
                ("LRANGE d 0 -1", "[B:2,B:3]"),
                (
                    "SORT l LIMIT 18446744073709551616 1",
                    "E:ERR value is not an integer or out of range",
                ),
                ("ZADD z 1 a 2 b 3 c", "I:3"),
                ("SORT z BY nosort LIMIT 1 MAX", "[B:b,B:c]"),
                ("SORT z BY nosort DESC LIMIT 1 MAX", "[B:b,B:a]"),
                ("SORT z BY nosort LIMIT MAX MAX", "[]"),
                ("SORT z BY nosort DESC LIMIT MAX 1", "[]"),
            ],
        );
        // BY and GET patterns over a large list: one lookup per element, no blowup.
        let n = 20_000;
        let mut push = vec!["RPUSH".to_string(), "big".to_string()];
        push.extend((0..n).map(|i| i.to_string()));
        let push: Vec<&str> = push.iter().map(String::as_str).collect();
        assert_eq!(sh(&mut db, &push), format!("I:{n}"));
        for i in (0..n).step_by(1000) {
            let w = format!("w_{i}");
            let v = (n - i).to_string();
            assert_eq!(sh(&mut db, &["SET", &w, &v]), "S:OK");
        }
        let long_pattern = format!("{}*", "x".repeat(1 << 20));
        let mut many_gets = vec!["SORT".to_string(), "big".to_string()];
        for _ in 0..2000 {
            many_gets.push("GET".to_string());
            many_gets.push("#".to_string());
        }
        for (cmd, want) in [
            (
                vec![
                    "SORT", "big", "BY", "w_*", "LIMIT", "0", "2", "GET", "#", "GET", "w_*",
                ],
                None,
            ),
            (
                vec![
                    "SORT", "big", "BY", "w_*", "DESC", "LIMIT", "0", "1", "GET", "w_*",
                ],
                Some(format!("[B:{n}]")),
            ),
            (
                vec!["SORT", "big", "BY", "nosort", "LIMIT", MAX, "1", "GET", "#"],
                Some("[]".to_string()),
            ),
            (
                vec!["SORT", "big", "LIMIT", "19999", MAX, "GET", "#", "GET", "#"],
                Some("[B:19999,B:19999]".to_string()),
            ),
            // 20000 keys of 1 MB each (and every GET #, 2000 times per element: 40
            // million reply elements) are refused instead of being built.
            (
                vec!["SORT", "big", "BY", &long_pattern, "LIMIT", "0", "1"],
                Some(WORK_ERR.to_string()),
            ),
            (
                many_gets.iter().map(String::as_str).collect(),
                Some(WORK_ERR.to_string()),
            ),
            (
                vec!["SORT", "big", "LIMIT", "0", "1", "GET", &long_pattern],
                Some("[N]".to_string()),
            ),
        ] {
            let got = sh(&mut db, &cmd);
            match want {
                Some(w) => assert_eq!(got, w, "{:?}", &cmd[..4]),
                None => assert!(got.starts_with('['), "{:?}: {got}", &cmd[..4]),
            }
        }
    });
}

// ---- hashes, geo and generic extremes -------------------------------------------------

#[test]
fn hash_geo_and_generic_extremes() {
    bounded("hash_geo_and_generic_extremes", || {
        let mut db = Db::new();
        expect_x(
            &mut db,
            &[
                ("HSET h n MAX", "I:1"),
                (
                    "HINCRBY h n 1",
                    "E:ERR increment or decrement would overflow",
                ),
                ("HINCRBY h n MIN", "I:-1"),
                (
                    "HINCRBY h n MIN",
                    "E:ERR increment or decrement would overflow",
                ),
                ("HSET h f 1.7e308", "I:1"),
                (
                    "HINCRBYFLOAT h f 1e308",
                    "E:ERR increment would produce NaN or Infinity",
                ),
                (
                    "HEXPIRE h MAX FIELDS 1 n",
                    "E:ERR invalid expire time in 'hexpire' command",
                ),
                (
                    "HPEXPIRE h MIN FIELDS 1 n",
                    "E:ERR invalid expire time, must be >= 0",
                ),
                (
                    "HEXPIRE h 10 FIELDS MAX n",
                    "E:ERR The `numfields` parameter must match the number of arguments",
                ),
                (
                    "HEXPIRE h 10 FIELDS MIN n",
                    "E:ERR Parameter `numFields` should be greater than 0",
                ),
                (
                    "GEOADD g 13.361389 38.115556 a 15.087269 37.502669 b",
                    "I:2",
                ),
                (
                    "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1e300 km ASC COUNT MAX",
                    "[B:b,B:a]",
                ),
                (
                    "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km ASC COUNT MIN",
                    "E:ERR COUNT must be > 0",
                ),
                (
                    "GEOSEARCH g FROMLONLAT 15 37 BYBOX 1e300 1e300 km ASC COUNT 1",
                    "[B:b]",
                ),
                ("GEORADIUS g 15 37 1e300 km COUNT MAX ASC", "[B:b,B:a]"),
                (
                    "GEORADIUS g 15 37 200 km COUNT 0",
                    "E:ERR COUNT must be > 0",
                ),
                (
                    "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS -1 km",
                    "E:ERR radius cannot be negative",
                ),
                ("SET k v", "S:OK"),
                // Redis reads the index with getIntFromObjectOrReply.
                (
                    "COPY k k2 DB MAX",
                    "E:ERR value is not an integer or out of range",
                ),
                ("EXISTS k", "I:1"),
            ],
        );
    });
}
