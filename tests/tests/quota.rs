//! The capacity quota (`--max-data-size`, CONFIG SET maxmemory) and data eviction
//! (`--eviction`, CONFIG SET maxmemory-policy), against the real binary.

use meridian_tests::cluster::Cluster;
use meridian_tests::{err_text, Server};
use std::time::{Duration, Instant};

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .to_string()
}

fn used(con: &mut redis::Connection) -> u64 {
    info_field(con, "memory", "used_memory_dataset")
        .parse()
        .unwrap()
}

fn sorted_keys(con: &mut redis::Connection) -> Vec<String> {
    let mut k: Vec<String> = redis::cmd("KEYS").arg("*").query(con).unwrap();
    k.sort();
    k
}

#[test]
fn with_eviction_off_writes_past_the_quota_are_refused_and_nothing_else_changes() {
    let s = Server::start_with(None, &["--max-data-size", "20kb"]);
    let mut con = s.client();
    let max: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut con)
        .unwrap();
    assert_eq!(max, vec!["maxmemory".to_string(), (20 * 1024).to_string()]);
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory_policy"),
        "noeviction"
    );
    let value = "v".repeat(500);
    let mut refused = None;
    for i in 0..200 {
        let r: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(&value)
            .query(&mut con);
        if let Err(e) = r {
            refused = Some((i, err_text(e)));
            break;
        }
    }
    let (n, text) = refused.expect("writes past the quota are refused");
    assert_eq!(text, "ERR DB capacity quota exceeded");
    assert!(used(&mut con) <= 20 * 1024, "{}", used(&mut con));
    let before_keys = sorted_keys(&mut con);
    let before_used = used(&mut con);
    assert_eq!(before_keys.len(), n);
    // Every growing write is refused whole: a collection, a MULTI, a script.
    for cmd in [
        vec!["RPUSH", "l", &value],
        vec!["APPEND", "k0", &value],
        vec!["HSET", "h", "f", &value],
    ] {
        let r: redis::RedisResult<()> = redis::cmd(cmd[0]).arg(&cmd[1..]).query(&mut con);
        assert_eq!(
            err_text(r.unwrap_err()),
            "ERR DB capacity quota exceeded",
            "{cmd:?}"
        );
    }
    let r: redis::RedisResult<()> = redis::cmd("EVAL")
        .arg("redis.call('SET', 'tiny', '1') redis.call('SET', KEYS[1], ARGV[1]) return 1")
        .arg(1)
        .arg("big")
        .arg(&value)
        .query(&mut con);
    assert_eq!(err_text(r.unwrap_err()), "ERR DB capacity quota exceeded");
    let (ok, exec): (String, redis::RedisResult<redis::Value>) = {
        redis::cmd("MULTI").query::<()>(&mut con).unwrap();
        redis::cmd("SET")
            .arg("tiny")
            .arg("1")
            .query::<()>(&mut con)
            .unwrap();
        redis::cmd("SET")
            .arg("big")
            .arg(&value)
            .query::<()>(&mut con)
            .unwrap();
        ("queued".into(), redis::cmd("EXEC").query(&mut con))
    };
    let _ = ok;
    assert_eq!(
        err_text(exec.unwrap_err()),
        "ERR DB capacity quota exceeded"
    );
    assert_eq!(sorted_keys(&mut con), before_keys, "nothing half applied");
    assert_eq!(used(&mut con), before_used);
    let v: String = redis::cmd("GET").arg("k0").query(&mut con).unwrap();
    assert_eq!(v, value);
    // Reads, deletes, expiry, shrinking writes and FLUSHDB keep working.
    let _: () = redis::cmd("SET")
        .arg("k0")
        .arg("short")
        .query(&mut con)
        .unwrap();
    let _: i64 = redis::cmd("DEL").arg("k1").query(&mut con).unwrap();
    let _: i64 = redis::cmd("PEXPIRE")
        .arg("k2")
        .arg(1)
        .query(&mut con)
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let gone: i64 = redis::cmd("EXISTS").arg("k2").query(&mut con).unwrap();
    assert_eq!(gone, 0);
    assert!(used(&mut con) < before_used);
    let _: () = redis::cmd("FLUSHDB").query(&mut con).unwrap();
    assert_eq!(used(&mut con), 0);
    let _: () = redis::cmd("SET")
        .arg("again")
        .arg(&value)
        .query(&mut con)
        .unwrap();
}

#[test]
fn with_eviction_on_the_data_stays_within_the_quota_and_replicas_evict_the_same_keys() {
    let quota = 32 * 1024u64;
    let c = Cluster::start_with(3, &["--max-data-size", "32kb", "--eviction"]);
    let leader = c.leader().expect("a leader");
    let mut con = c.nodes[leader].client();
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory_policy"),
        "optimistic-volatile"
    );
    let value = "e".repeat(200);
    let mut max_seen = 0;
    for i in 0..1000 {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("key:{i}")).arg(&value);
        if i % 3 == 0 {
            cmd.arg("EX").arg(3600);
        }
        let _: () = cmd.query(&mut con).unwrap();
        if i % 50 == 0 {
            max_seen = max_seen.max(used(&mut con));
        }
    }
    // The evictor catches up within moments of the last write.
    let deadline = Instant::now() + Duration::from_secs(5);
    while used(&mut con) > quota && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let now = used(&mut con);
    assert!(now <= quota, "used {now} > quota {quota}");
    eprintln!("largest used_memory_dataset seen during the load: {max_seen} (quota {quota})");
    assert!(max_seen <= quota * 2, "used {max_seen} during the load");
    let evicted: u64 = info_field(&mut con, "stats", "evicted_keys")
        .parse()
        .unwrap();
    assert!(evicted > 800, "{evicted}");
    let keys = sorted_keys(&mut con);
    assert!(!keys.is_empty());
    // Every replica holds the same keys and the same accounted size.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sets: Vec<(Vec<String>, u64)> = c
            .nodes
            .iter()
            .map(|n| {
                let mut con = n.client();
                (sorted_keys(&mut con), used(&mut con))
            })
            .collect();
        if sets.iter().all(|s| *s == sets[0]) {
            assert_eq!(sets[0].0, keys);
            break;
        }
        assert!(Instant::now() < deadline, "replicas differ: {sets:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_restart_keeps_the_accounting_exact() {
    let mut s = Server::start();
    let mut con = s.client();
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("x".repeat(100))
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("22")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg("l")
        .arg(&["1", "2", "3", "4"])
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("ZADD")
        .arg("z")
        .arg(1)
        .arg("m")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SADD")
        .arg("st")
        .arg(&["a", "b"])
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("XADD")
        .arg("x")
        .arg("*")
        .arg("f")
        .arg("v")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("LPOP").arg("l").query(&mut con).unwrap();
    let _: i64 = redis::cmd("DEL").arg("st").query(&mut con).unwrap();
    let before = used(&mut con);
    assert!(before > 0);
    // The figure follows the rule: the string's records alone.
    let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    assert_eq!(used(&mut con), 0);
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("x".repeat(100))
        .query(&mut con)
        .unwrap();
    // meta key (db, slot, "s") + format 3 header (66) + value + 16 bytes of overhead.
    assert_eq!(used(&mut con), 3 + 1 + 66 + 100 + 16);
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("22")
        .query(&mut con)
        .unwrap();
    let at = used(&mut con);
    s.crash_and_restart();
    let mut con = s.client();
    assert_eq!(used(&mut con), at, "the accounted size survives a restart");
    let _: i64 = redis::cmd("DEL").arg("h").arg("s").query(&mut con).unwrap();
    assert_eq!(used(&mut con), 0, "deleting everything leaves exactly 0");
}
