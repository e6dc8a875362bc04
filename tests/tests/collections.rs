//! Collections far larger than a command: element-per-record storage over the real
//! binary. A hash, a sorted set and a list of 1M members each: one more HSET/ZADD/LPUSH
//! writes O(1) state records, DEL of the whole collection writes O(1), and everything
//! is there after a kill -9 and restart. The sorted set's ranks are then served from
//! the memory tier.

use meridian_tests::Server;
use redis::cmd;
use std::time::Instant;

const N: usize = 1_000_000;
const CHUNK: usize = 2_000;

fn records_written(c: &mut redis::Connection) -> u64 {
    let info: String = cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("state_records_written:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("state_records_written in INFO persistence")
}

/// Runs `f` and returns how many state records it wrote.
fn records_of(c: &mut redis::Connection, f: impl FnOnce(&mut redis::Connection)) -> u64 {
    let before = records_written(c);
    f(c);
    records_written(c) - before
}

fn fill(c: &mut redis::Connection, name: &str, key: &str) {
    let t0 = Instant::now();
    for start in (0..N).step_by(CHUNK) {
        let mut cm = cmd(name);
        cm.arg(key);
        for i in start..start + CHUNK {
            match name {
                "HSET" => cm.arg(format!("f{i}")).arg(i),
                "ZADD" => cm.arg(i).arg(format!("m{i}")),
                _ => cm.arg(format!("e{i}")),
            };
        }
        let _: i64 = cm.query(c).unwrap();
    }
    eprintln!("{name} {N} members in {:?}", t0.elapsed());
}

#[test]
fn a_million_members_cost_o1_records_per_write_and_survive_restart() {
    let mut s = Server::start();
    let mut c = s.client();
    fill(&mut c, "HSET", "h");
    fill(&mut c, "ZADD", "z");
    fill(&mut c, "RPUSH", "l");

    // One more member: a handful of records (element, meta, index), not a rewrite.
    let n = records_of(&mut c, |c| {
        let _: i64 = cmd("HSET").arg("h").arg("new").arg("v").query(c).unwrap();
    });
    assert!(n <= 8, "HSET into a 1M-field hash wrote {n} records");
    let n = records_of(&mut c, |c| {
        let _: i64 = cmd("ZADD").arg("z").arg(-1).arg("new").query(c).unwrap();
    });
    assert!(n <= 8, "ZADD into a 1M-member zset wrote {n} records");
    let n = records_of(&mut c, |c| {
        let _: i64 = cmd("LPUSH").arg("l").arg("new").query(c).unwrap();
    });
    assert!(n <= 8, "LPUSH onto a 1M-element list wrote {n} records");

    // Everything is back after kill -9.
    s.crash_and_restart();
    let mut c = s.client();
    let hl: i64 = cmd("HLEN").arg("h").query(&mut c).unwrap();
    assert_eq!(hl, N as i64 + 1);
    let v: String = cmd("HGET").arg("h").arg("f777777").query(&mut c).unwrap();
    assert_eq!(v, "777777");
    let zc: i64 = cmd("ZCARD").arg("z").query(&mut c).unwrap();
    assert_eq!(zc, N as i64 + 1);
    let first: Vec<String> = cmd("ZRANGE").arg("z").arg(0).arg(1).query(&mut c).unwrap();
    assert_eq!(first, vec!["new", "m0"]);
    let sc: Option<f64> = cmd("ZSCORE").arg("z").arg("m999999").query(&mut c).unwrap();
    assert_eq!(sc, Some(999_999.0));
    let ll: i64 = cmd("LLEN").arg("l").query(&mut c).unwrap();
    assert_eq!(ll, N as i64 + 1);
    let ends: (String, String) = (
        cmd("LINDEX").arg("l").arg(0).query(&mut c).unwrap(),
        cmd("LINDEX").arg("l").arg(-1).query(&mut c).unwrap(),
    );
    assert_eq!(ends, ("new".to_string(), format!("e{}", N - 1)));
    let all: Vec<String> = cmd("HKEYS").arg("h").query(&mut c).unwrap();
    assert_eq!(all.len(), N + 1);

    // Ranks come from the memory tier: built once on first use, then kept in step with
    // writes (no rebuild), so ranks deep inside the set cost O(log n).
    let rank: i64 = cmd("ZRANK").arg("z").arg("m500000").query(&mut c).unwrap();
    assert_eq!(rank, 500_001);
    let t0 = Instant::now();
    for i in (0..N).step_by(N / 1000) {
        let r: i64 = cmd("ZREVRANK")
            .arg("z")
            .arg(format!("m{i}"))
            .query(&mut c)
            .unwrap();
        assert_eq!(r, (N - 1 - i) as i64);
    }
    eprintln!("1000 ZREVRANKs in a 1M-member zset: {:?}", t0.elapsed());
    let _: i64 = cmd("ZADD")
        .arg("z")
        .arg(-2)
        .arg("newer")
        .query(&mut c)
        .unwrap();
    let rank: i64 = cmd("ZRANK").arg("z").arg("m500000").query(&mut c).unwrap();
    assert_eq!(rank, 500_002);
    let count: i64 = cmd("ZCOUNT")
        .arg("z")
        .arg(100_000)
        .arg("(200000")
        .query(&mut c)
        .unwrap();
    assert_eq!(count, 100_000);
    let mid: Vec<String> = cmd("ZRANGE")
        .arg("z")
        .arg(700_002)
        .arg(700_003)
        .query(&mut c)
        .unwrap();
    assert_eq!(mid, vec!["m700000", "m700001"]);
    let page: Vec<String> = cmd("ZRANGEBYSCORE")
        .arg("z")
        .arg("-inf")
        .arg("+inf")
        .arg("LIMIT")
        .arg(900_002)
        .arg(2)
        .query(&mut c)
        .unwrap();
    assert_eq!(page, vec!["m900000", "m900001"]);
    let info: String = cmd("INFO").arg("memory").query(&mut c).unwrap();
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in INFO memory: {info}"))
    };
    assert_eq!(field("memory_tier_builds:"), 1, "{info}");
    assert_eq!(field("memory_tier_sets:"), 1, "{info}");
    assert!(field("memory_tier_hits:") >= 1004, "{info}");

    // DEL of each whole collection: O(1) records.
    for k in ["h", "z", "l"] {
        let n = records_of(&mut c, |c| {
            let d: i64 = cmd("DEL").arg(k).query(c).unwrap();
            assert_eq!(d, 1);
        });
        // Plus the tombstone, its time index and the entry's HLC record (3).
        assert!(n <= 9, "DEL of a 1M-member collection wrote {n} records");
    }
    let size: i64 = cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 0);
}

// ---- a model across crashes ---------------------------------------------------------

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Default)]
struct Model {
    hash: BTreeMap<String, String>,
    list: VecDeque<String>,
    set: BTreeSet<String>,
    zset: BTreeMap<String, i64>,
}

fn sorted_zset(m: &BTreeMap<String, i64>) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Every collection read back whole and compared with the model.
fn check(c: &mut redis::Connection, m: &Model, when: &str) {
    let h: BTreeMap<String, String> = cmd("HGETALL").arg("h").query(c).unwrap();
    assert_eq!(h, m.hash, "hash {when}");
    let l: Vec<String> = cmd("LRANGE").arg("l").arg(0).arg(-1).query(c).unwrap();
    assert_eq!(l, m.list.iter().cloned().collect::<Vec<_>>(), "list {when}");
    let s: BTreeSet<String> = cmd("SMEMBERS").arg("s").query(c).unwrap();
    assert_eq!(s, m.set, "set {when}");
    let z: Vec<(String, i64)> = cmd("ZRANGE")
        .arg("z")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(c)
        .unwrap();
    assert_eq!(z, sorted_zset(&m.zset), "zset {when}");
    // Ranks (the memory tier, once the set is large enough) agree with the model too.
    for (i, (member, _)) in sorted_zset(&m.zset).iter().enumerate().step_by(37) {
        let r: i64 = cmd("ZRANK").arg("z").arg(member).query(c).unwrap();
        assert_eq!(r, i as i64, "ZRANK {member} {when}");
    }
}

/// Random writes to a hash, a list, a set and a sorted set over the real binary, with a
/// kill -9 and restart every 700 commands; after each restart every collection must
/// equal the in-test model, element for element.
#[test]
fn random_collection_writes_match_a_model_across_crashes() {
    let mut s = Server::start();
    let mut c = s.client();
    let mut m = Model::default();
    let mut rng = StdRng::seed_from_u64(0x5eed_c011);
    for step in 0..3_500 {
        let f = format!("f{}", rng.gen_range(0..300));
        let v = format!("v{}", rng.gen_range(0..1000));
        match rng.gen_range(0..12) {
            0 | 1 => {
                let n: i64 = cmd("HSET").arg("h").arg(&f).arg(&v).query(&mut c).unwrap();
                assert_eq!(n, m.hash.insert(f, v).is_none() as i64);
            }
            2 => {
                let n: i64 = cmd("HDEL").arg("h").arg(&f).query(&mut c).unwrap();
                assert_eq!(n, m.hash.remove(&f).is_some() as i64);
            }
            3 => {
                let n: i64 = cmd("LPUSH").arg("l").arg(&v).query(&mut c).unwrap();
                m.list.push_front(v);
                assert_eq!(n, m.list.len() as i64);
            }
            4 => {
                let n: i64 = cmd("RPUSH").arg("l").arg(&v).query(&mut c).unwrap();
                m.list.push_back(v);
                assert_eq!(n, m.list.len() as i64);
            }
            5 => {
                let got: Option<String> = cmd("RPOP").arg("l").query(&mut c).unwrap();
                assert_eq!(got, m.list.pop_back());
            }
            6 => {
                // LREM of one value somewhere in the middle (shifts the elements on one side).
                let n: i64 = cmd("LREM").arg("l").arg(1).arg(&v).query(&mut c).unwrap();
                let at = m.list.iter().position(|x| *x == v);
                assert_eq!(n, at.is_some() as i64);
                if let Some(i) = at {
                    m.list.remove(i);
                }
            }
            7 => {
                let n: i64 = cmd("SADD").arg("s").arg(&f).query(&mut c).unwrap();
                assert_eq!(n, m.set.insert(f) as i64);
            }
            8 => {
                let n: i64 = cmd("SREM").arg("s").arg(&f).query(&mut c).unwrap();
                assert_eq!(n, m.set.remove(&f) as i64);
            }
            9 | 10 => {
                let score = rng.gen_range(-50..50);
                let n: i64 = cmd("ZADD")
                    .arg("z")
                    .arg(score)
                    .arg(&f)
                    .query(&mut c)
                    .unwrap();
                assert_eq!(n, m.zset.insert(f, score).is_none() as i64);
            }
            _ => {
                let n: i64 = cmd("ZREM").arg("z").arg(&f).query(&mut c).unwrap();
                assert_eq!(n, m.zset.remove(&f).is_some() as i64);
            }
        }
        if step % 700 == 699 {
            check(&mut c, &m, &format!("before crash at step {step}"));
            s.crash_and_restart();
            c = s.client();
            check(&mut c, &m, &format!("after restart at step {step}"));
        }
    }
    // The sorted set grew past the tier's threshold, so ranks above came from it.
    assert!(m.zset.len() >= 128, "{}", m.zset.len());
}
