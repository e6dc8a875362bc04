//! The memory tier with data larger than memory: a node whose key tier holds 3 MiB and
//! whose block cache holds 2 MiB is loaded with about 4x the tier's budget of mixed
//! types; every key reads back exactly (single-key reads, MGET snapshots, after
//! overwrites), INFO shows the tier within its budget and evicting, CONFIG SET
//! meridian-memory-mb changes the budget live, and after a crash and restart everything
//! reads back again.

use meridian_tests::Server;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
enum Data {
    Str(Vec<u8>),
    Hash(BTreeMap<String, String>),
    List(Vec<String>),
    Set(Vec<String>),
    ZSet(Vec<(String, i64)>),
}

fn info_field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("INFO has no {name}:\n{info}"))
        .trim()
        .parse()
        .unwrap()
}

fn load(con: &mut redis::Connection, model: &BTreeMap<String, Data>) {
    let mut pipe = redis::pipe();
    let mut n = 0;
    for (k, d) in model {
        match d {
            Data::Str(v) => {
                pipe.cmd("SET").arg(k).arg(v).ignore();
            }
            Data::Hash(h) => {
                let mut c = redis::cmd("HSET");
                c.arg(k);
                for (f, v) in h {
                    c.arg(f).arg(v);
                }
                pipe.add_command(c).ignore();
            }
            Data::List(l) => {
                pipe.cmd("RPUSH").arg(k).arg(l).ignore();
            }
            Data::Set(s) => {
                pipe.cmd("SADD").arg(k).arg(s).ignore();
            }
            Data::ZSet(z) => {
                let mut c = redis::cmd("ZADD");
                c.arg(k);
                for (m, s) in z {
                    c.arg(*s).arg(m);
                }
                pipe.add_command(c).ignore();
            }
        }
        n += 1;
        if n % 500 == 0 {
            pipe.query::<()>(con).unwrap();
            pipe = redis::pipe();
        }
    }
    pipe.query::<()>(con).unwrap();
}

fn check_all(con: &mut redis::Connection, model: &BTreeMap<String, Data>, round: &str) {
    // Strings by MGET (a snapshot read of many keys) and by GET (the one-record path).
    let strings: Vec<(&String, &Vec<u8>)> = model
        .iter()
        .filter_map(|(k, d)| match d {
            Data::Str(v) => Some((k, v)),
            _ => None,
        })
        .collect();
    for chunk in strings.chunks(200) {
        let keys: Vec<&String> = chunk.iter().map(|(k, _)| *k).collect();
        let got: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&keys).query(con).unwrap();
        for ((k, want), got) in chunk.iter().zip(got) {
            assert_eq!(got.as_ref(), Some(*want), "{round}: MGET {k}");
        }
    }
    let mut pipe = redis::pipe();
    for (k, _) in &strings {
        pipe.cmd("GET").arg(*k);
    }
    let got: Vec<Option<Vec<u8>>> = pipe.query(con).unwrap();
    for ((k, want), got) in strings.iter().zip(got) {
        assert_eq!(got.as_ref(), Some(*want), "{round}: GET {k}");
    }
    for (k, d) in model {
        match d {
            Data::Str(_) => {}
            Data::Hash(h) => {
                let got: BTreeMap<String, String> =
                    redis::cmd("HGETALL").arg(k).query(con).unwrap();
                assert_eq!(&got, h, "{round}: HGETALL {k}");
            }
            Data::List(l) => {
                let got: Vec<String> = redis::cmd("LRANGE")
                    .arg(k)
                    .arg(0)
                    .arg(-1)
                    .query(con)
                    .unwrap();
                assert_eq!(&got, l, "{round}: LRANGE {k}");
            }
            Data::Set(s) => {
                let mut got: Vec<String> = redis::cmd("SMEMBERS").arg(k).query(con).unwrap();
                got.sort();
                assert_eq!(&got, s, "{round}: SMEMBERS {k}");
            }
            Data::ZSet(z) => {
                let got: Vec<(String, i64)> = redis::cmd("ZRANGE")
                    .arg(k)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(con)
                    .unwrap();
                let mut want = z.clone();
                want.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
                assert_eq!(got, want, "{round}: ZRANGE {k}");
                let rank: Option<i64> = redis::cmd("ZRANK")
                    .arg(k)
                    .arg(&want[want.len() / 2].0)
                    .query(con)
                    .unwrap();
                assert_eq!(rank, Some(want.len() as i64 / 2), "{round}: ZRANK {k}");
            }
        }
    }
    let missing: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
        .arg("absent:1")
        .arg("absent:2")
        .query(con)
        .unwrap();
    assert_eq!(missing, vec![None, None]);
    let n: u64 = redis::cmd("DBSIZE").query(con).unwrap();
    assert_eq!(n, model.len() as u64, "{round}: DBSIZE");
}

#[test]
fn data_four_times_the_tier_reads_back_exactly_before_and_after_restart() {
    let t0 = Instant::now();
    let mut srv = Server::start_with(
        None,
        &["--memory-mb", "4", "--tier-mb", "1", "--cache-mb", "2"],
    );
    let mut con = srv.client();
    let info: String = redis::cmd("INFO").arg("memory").query(&mut con).unwrap();
    let budget = info_field(&info, "memory_tier_keys_budget");
    assert_eq!(budget, 3 << 20, "{info}");
    assert_eq!(info_field(&info, "memory_tier_budget"), 4 << 20);

    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let mut model = BTreeMap::new();
    let mut bytes = 0usize;
    let mut i = 0;
    while bytes < 4 * budget as usize + (2 << 20) {
        let k = format!("k:{i:06}");
        let d = match i % 20 {
            0 => Data::Hash(
                (0..rng.gen_range(1..20))
                    .map(|f| (format!("f{f}"), format!("v{}", rng.gen::<u32>())))
                    .collect(),
            ),
            1 => Data::List(
                (0..rng.gen_range(1..30))
                    .map(|e| format!("e{e}:{}", rng.gen::<u16>()))
                    .collect(),
            ),
            2 => {
                let mut s: Vec<String> =
                    (0..rng.gen_range(1..30)).map(|e| format!("m{e}")).collect();
                s.sort();
                Data::Set(s)
            }
            3 if i % 400 == 3 => Data::ZSet(
                (0..300)
                    .map(|m| (format!("z{m}"), rng.gen_range(-50..50)))
                    .collect(),
            ),
            3 => Data::ZSet(
                (0..rng.gen_range(1..20))
                    .map(|m| (format!("z{m}"), rng.gen_range(-50..50)))
                    .collect(),
            ),
            _ => {
                let len = rng.gen_range(1..900);
                Data::Str((0..len).map(|_| rng.gen::<u8>()).collect())
            }
        };
        bytes += k.len()
            + match &d {
                Data::Str(v) => v.len(),
                Data::Hash(h) => h.iter().map(|(f, v)| f.len() + v.len()).sum(),
                Data::List(l) => l.iter().map(String::len).sum(),
                Data::Set(s) => s.iter().map(String::len).sum(),
                Data::ZSet(z) => z.iter().map(|(m, _)| m.len() + 8).sum(),
            };
        model.insert(k, d);
        i += 1;
    }
    load(&mut con, &model);
    check_all(&mut con, &model, "loaded");
    // A hot set read again is served from memory.
    for _ in 0..3 {
        let mut pipe = redis::pipe();
        for k in model.keys().take(300) {
            pipe.cmd("TYPE").arg(k);
        }
        let _: Vec<String> = pipe.query(&mut con).unwrap();
    }
    let info: String = redis::cmd("INFO").arg("memory").query(&mut con).unwrap();
    let (tier_bytes, hits, misses, evictions) = (
        info_field(&info, "memory_tier_keys_bytes"),
        info_field(&info, "memory_tier_keys_hits"),
        info_field(&info, "memory_tier_keys_misses"),
        info_field(&info, "memory_tier_keys_evictions"),
    );
    assert!(tier_bytes <= budget && tier_bytes > budget / 2, "{info}");
    assert!(hits > 0 && misses > 0 && evictions > 0, "{info}");
    assert!(info_field(&info, "memory_tier_keys") > 1000, "{info}");
    // The absent keys MGET asked for are remembered as absent.
    assert!(
        info_field(&info, "memory_tier_keys_negative") >= 1,
        "{info}"
    );

    // Writes through the tier: overwrite, grow, delete, expire some keys.
    let keys: Vec<String> = model.keys().cloned().collect();
    let mut pipe = redis::pipe();
    for (j, k) in keys.iter().enumerate().filter(|(j, _)| j % 7 == 4) {
        match j % 3 {
            0 => {
                pipe.cmd("SET").arg(k).arg(format!("new{j}")).ignore();
                model.insert(k.clone(), Data::Str(format!("new{j}").into_bytes()));
            }
            1 => {
                pipe.cmd("DEL").arg(k).ignore();
                model.remove(k);
            }
            _ => {
                pipe.cmd("SET").arg(k).arg("gone").arg("PX").arg(1).ignore();
                model.remove(k);
            }
        }
    }
    pipe.query::<()>(&mut con).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Expired keys are hidden at once and deleted by the expirer soon after.
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis::cmd("DBSIZE").query::<u64>(&mut con).unwrap() != model.len() as u64 {
        assert!(Instant::now() < deadline, "expired keys never went");
        std::thread::sleep(Duration::from_millis(50));
    }
    check_all(&mut con, &model, "after writes");

    // The budget changes live.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("meridian-memory-mb")
        .arg(2)
        .query(&mut con)
        .unwrap();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("meridian-memory-mb")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, vec!["meridian-memory-mb".to_string(), "2".to_string()]);
    let info: String = redis::cmd("INFO").arg("memory").query(&mut con).unwrap();
    assert_eq!(
        info_field(&info, "memory_tier_keys_budget"),
        1 << 20,
        "{info}"
    );
    assert!(
        info_field(&info, "memory_tier_keys_bytes") <= 1 << 20,
        "{info}"
    );
    check_all(&mut con, &model, "smaller budget");

    srv.crash_and_restart();
    let mut con = srv.client();
    let info: String = redis::cmd("INFO").arg("memory").query(&mut con).unwrap();
    assert!(
        info_field(&info, "memory_tier_keys_hits") < hits,
        "a fresh tier: {info}"
    );
    check_all(&mut con, &model, "after restart");
    let took = t0.elapsed();
    eprintln!("{} keys, {} bytes of data, {:?}", model.len(), bytes, took);
    assert!(took < Duration::from_secs(90), "took {took:?}");
}
