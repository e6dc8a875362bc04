//! Differential stream tests: the same XADD/XDEL/XTRIM/XINFO/consumer-group commands
//! against a stock redis-server (7.0) and Meridian, replies compared exactly. Times
//! (idle, seen/active/delivery times) are left out; Meridian's Redis 7.2 fields
//! (`active-time`, `inactive`) are dropped before comparing.

use meridian_tests::{connect, RedisServer, Server};
use rand::{rngs::StdRng, Rng, SeedableRng};
use redis::Value;

/// Fields whose values are times (or 7.2 additions): dropped from key/value replies.
const DROPPED: &[&str] = &["idle", "inactive", "seen-time", "active-time"];

/// Drops time fields from flat key/value arrays and blanks timestamps.
fn normalize(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let named = items.len() % 2 == 0
                && items
                    .iter()
                    .step_by(2)
                    .all(|k| matches!(k, Value::BulkString(_)));
            let mut out = Vec::new();
            let mut it = items.into_iter();
            while let Some(x) = it.next() {
                if named {
                    let y = it.next().expect("even");
                    if let Value::BulkString(k) = &x {
                        if DROPPED.iter().any(|d| d.as_bytes() == k.as_slice()) {
                            continue;
                        }
                    }
                    out.push(normalize(x));
                    out.push(normalize(y));
                } else {
                    out.push(normalize(x));
                }
            }
            Value::Array(out)
        }
        Value::Int(n) if n > 1_000_000_000_000 => Value::Int(0),
        other => other,
    }
}

fn text(r: redis::RedisResult<Value>) -> String {
    match r {
        Ok(v) => format!("{:?}", normalize(v)),
        Err(e) => format!(
            "error: {} {}",
            e.code().unwrap_or_default(),
            e.detail().unwrap_or_default()
        ),
    }
}

fn replay(commands: &[Vec<String>]) -> Vec<String> {
    let redis = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis.port));
    let s = Server::start();
    let mut ours = s.client();
    let mut diffs = Vec::new();
    for argv in commands {
        let mut c = redis::cmd(&argv[0]);
        for a in &argv[1..] {
            c.arg(a.as_str());
        }
        let want = text(c.query(&mut theirs));
        let got = text(c.query(&mut ours));
        if want != got {
            diffs.push(format!("{argv:?}\n  redis:    {want}\n  meridian: {got}"));
        }
    }
    diffs
}

fn cmd(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// Node-based trimming, LIMIT, exact trims followed by `~`, MAXLEN ~ 0, entries-read
/// and lag, deleted entries in XREADGROUP/XAUTOCLAIM/XCLAIM.
const SCRIPT: &str = "
XADD x 1-1 f v
XADD x 2-1 f v
XADD x 3-1 f v
XTRIM x MAXLEN ~ 0 LIMIT 9223372036854775807
XLEN x
XADD x 4-1 f v
XTRIM x MAXLEN ~ 0 LIMIT 0
XADD x 5-1 f v
XADD x 6-1 f v
XTRIM x MAXLEN ~ 0 LIMIT 1
XTRIM x MAXLEN ~ 0 LIMIT 2
XTRIM x MAXLEN = 0 LIMIT 2
XTRIM x LIMIT 2
XADD x LIMIT 0 * f v
XADD x NOMKSTREAM MAXLEN ~ 0 LIMIT 5 7-1 f v
XINFO STREAM x
XADD s 1-1 f v
XADD s 1-2 f v
XDEL s 1-2
XGROUP CREATE s g 0 ENTRIESREAD 1
XINFO GROUPS s
XGROUP SETID s g 0 ENTRIESREAD 5
XINFO GROUPS s
XGROUP SETID s g 0 ENTRIESREAD -2
XGROUP CREATE s g2 $ ENTRIESREAD -1
XINFO GROUPS s
XADD s 2-1 a b
XADD s 3-1 a b c d
XREADGROUP GROUP g c1 STREAMS s >
XINFO GROUPS s
XDEL s 2-1
XINFO GROUPS s
XREADGROUP GROUP g c1 STREAMS s 0
XINFO STREAM s
XINFO STREAM s FULL
XAUTOCLAIM s g c2 0 0
XCLAIM s g c3 0 3-1 2-1
XPENDING s g
XINFO CONSUMERS s g
XINFO GROUPS s
XADD s 4-1 a b
XINFO GROUPS s
XGROUP SETID s g2 0
XINFO GROUPS s
";

#[test]
fn stream_scripts_match_redis_7() {
    let mut commands: Vec<Vec<String>> = Vec::new();
    // 1000 entries in nodes of 100, then the trims of the node rule.
    for i in 0..1000 {
        commands.push(cmd(&format!("XADD n 1-{i} i {i}")));
    }
    for l in [
        "XTRIM n MAXLEN ~ 950",
        "XTRIM n MAXLEN ~ 555",
        "XLEN n",
        "XTRIM n MAXLEN ~ 0 LIMIT 250",
        "XTRIM n MAXLEN ~ 0 LIMIT 99",
        "XTRIM n MINID ~ 1-750",
        "XTRIM n MINID 1-750",
        "XTRIM n MAXLEN ~ 0 LIMIT 0",
        "XLEN n",
        "XINFO STREAM n",
    ] {
        commands.push(cmd(l));
    }
    // Entries of 50 bytes: nodes close at 4096 bytes, not at 100 entries.
    let big = "x".repeat(50);
    for i in 1..=200 {
        commands.push(cmd(&format!("XADD big {i}-1 f {big}")));
    }
    commands.push(cmd("XINFO STREAM big"));
    commands.push(cmd("XTRIM big MAXLEN ~ 100"));
    commands.push(cmd("XTRIM big MAXLEN ~ 1"));
    commands.extend(
        SCRIPT
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(cmd),
    );
    let diffs = replay(&commands);
    assert!(
        diffs.is_empty(),
        "{} replies differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// A seeded random run of XADD (varied IDs, field sets and value sizes, some with
/// trimming), XDEL and XTRIM (`~`, `=`, MINID, LIMIT), with XLEN and XINFO STREAM.
#[test]
fn random_stream_trimming_matches_redis_7() {
    let mut rng = StdRng::seed_from_u64(20);
    let mut commands: Vec<Vec<String>> = Vec::new();
    let (mut ms, mut seq) = (1u64, 0u64);
    let mut ids: Vec<(u64, u64)> = Vec::new();
    let sizes = [0usize, 1, 5, 10, 30, 63, 64, 100, 200, 500, 1000];
    let field_sets: [&[&str]; 5] = [&["f"], &["f"], &["a", "b"], &["x", "y", "z"], &["123", "f"]];
    for _ in 0..2500 {
        let r: f64 = rng.gen();
        if r < 0.7 {
            let k: f64 = rng.gen();
            if k < 0.5 {
                seq += 1;
            } else if k < 0.8 {
                ms += rng.gen_range(1..=200);
                seq = 0;
            } else if k < 0.9 {
                ms += rng.gen_range(1000..=100_000);
                seq = rng.gen_range(0..=5);
            } else {
                ms += rng.gen_range(1..=3);
                seq = rng.gen_range(0..=70_000);
            }
            let fields = field_sets[rng.gen_range(0..field_sets.len())];
            let mut argv = vec!["XADD".to_string(), "s".to_string()];
            if rng.gen_bool(0.15) {
                let t = match rng.gen_range(0..4) {
                    0 => format!("MAXLEN ~ {}", rng.gen_range(0..=300)),
                    1 => format!("MAXLEN {}", rng.gen_range(50..=400)),
                    2 => format!("MINID ~ {}-0", ms.saturating_sub(rng.gen_range(0..=3000))),
                    _ => format!(
                        "MAXLEN ~ {} LIMIT {}",
                        rng.gen_range(0..=200),
                        rng.gen_range(0..=300)
                    ),
                };
                argv.extend(cmd(&t));
            }
            argv.push(format!("{ms}-{seq}"));
            for f in fields {
                let size = sizes[rng.gen_range(0..sizes.len())];
                let v = match rng.gen_range(0..3) {
                    0 => "v".repeat(size),
                    1 => rng.gen_range(-100_000i64..=100_000).to_string(),
                    _ => "x".repeat(size),
                };
                argv.push(f.to_string());
                argv.push(v);
            }
            commands.push(argv);
            ids.push((ms, seq));
        } else if r < 0.85 {
            if !ids.is_empty() {
                let mut argv = cmd("XDEL s");
                for _ in 0..rng.gen_range(1..=4) {
                    let (a, b) = ids[rng.gen_range(0..ids.len())];
                    argv.push(format!("{a}-{b}"));
                }
                commands.push(argv);
            }
        } else if r < 0.95 {
            let line = match rng.gen_range(0..5) {
                0 | 1 => format!("XTRIM s MAXLEN ~ {}", rng.gen_range(0..=500)),
                2 => format!("XTRIM s MAXLEN {}", rng.gen_range(0..=500)),
                3 if !ids.is_empty() => {
                    let (a, b) = ids[rng.gen_range(0..ids.len())];
                    let how = ["~ ", "", "= "][rng.gen_range(0..3)];
                    format!("XTRIM s MINID {how}{a}-{b}")
                }
                _ => format!(
                    "XTRIM s MAXLEN ~ {} LIMIT {}",
                    rng.gen_range(0..=300),
                    rng.gen_range(0..=400)
                ),
            };
            commands.push(cmd(&line));
        } else {
            commands.push(cmd("XLEN s"));
            commands.push(cmd("XINFO STREAM s"));
        }
    }
    commands.push(cmd("XINFO STREAM s"));
    let diffs = replay(&commands);
    assert!(
        diffs.is_empty(),
        "{} of {} replies differ:\n{}",
        diffs.len(),
        commands.len(),
        diffs
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
