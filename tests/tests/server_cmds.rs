//! Server commands against the real binary: MOVE, SWAPDB (through the log: replicas and
//! restart agree), ROLE, WAIT, WAITAOF, SAVE/BGSAVE/LASTSAVE, MEMORY, DEBUG, LOLWUT,
//! REPLICAOF, and the INFO fields behind them.

use meridian_tests::cluster::Cluster;
use meridian_tests::{err_text, Server};
use redis::{cmd, Value};
use std::time::{Duration, Instant};

fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = cmd("INFO").arg(section).query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
        .trim()
        .to_string()
}

fn select(con: &mut redis::Connection, db: u8) {
    let _: () = cmd("SELECT").arg(db).query(con).unwrap();
}

fn err(con: &mut redis::Connection, c: &mut redis::Cmd) -> String {
    err_text(c.query::<Value>(con).unwrap_err())
}

/// Writes a string, a list, a hash and a sorted set (some with a TTL) into `db`.
fn fill(con: &mut redis::Connection, db: u8, tag: &str) {
    select(con, db);
    let _: () = cmd("SET").arg("s").arg(tag).query(con).unwrap();
    let _: () = cmd("RPUSH")
        .arg("l")
        .arg(tag)
        .arg("2")
        .arg("3")
        .query(con)
        .unwrap();
    let _: () = cmd("HSET").arg("h").arg("f").arg(tag).query(con).unwrap();
    let _: () = cmd("EXPIRE").arg("h").arg(1000).query(con).unwrap();
    let _: () = cmd("ZADD")
        .arg(format!("z{tag}"))
        .arg(1)
        .arg(tag)
        .query(con)
        .unwrap();
}

/// What `fill(db, tag)` left, read from `db`.
fn holds(con: &mut redis::Connection, db: u8, tag: &str) -> bool {
    select(con, db);
    let s: Option<String> = cmd("GET").arg("s").query(con).unwrap();
    let l: Vec<String> = cmd("LRANGE").arg("l").arg(0).arg(-1).query(con).unwrap();
    let h: Option<String> = cmd("HGET").arg("h").arg("f").query(con).unwrap();
    let ttl: i64 = cmd("TTL").arg("h").query(con).unwrap();
    let z: Vec<String> = cmd("ZRANGE")
        .arg(format!("z{tag}"))
        .arg(0)
        .arg(-1)
        .query(con)
        .unwrap();
    s.as_deref() == Some(tag)
        && l == [tag, "2", "3"]
        && h.as_deref() == Some(tag)
        && ttl > 900
        && z == [tag]
}

#[test]
fn move_moves_a_key_with_its_value_and_ttl_and_refuses_as_redis() {
    let mut s = Server::start();
    let mut con = s.client();
    fill(&mut con, 0, "a");
    select(&mut con, 0);
    for k in ["s", "l", "h", "za"] {
        let n: i64 = cmd("MOVE").arg(k).arg(3).query(&mut con).unwrap();
        assert_eq!(n, 1, "MOVE {k}");
    }
    let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 0);
    assert!(holds(&mut con, 3, "a"));
    let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 4);
    // The key exists in the target: 0, nothing moves.
    select(&mut con, 0);
    let _: () = cmd("SET").arg("s").arg("other").query(&mut con).unwrap();
    select(&mut con, 3);
    let n: i64 = cmd("MOVE").arg("s").arg(0).query(&mut con).unwrap();
    assert_eq!(n, 0);
    let n: i64 = cmd("MOVE").arg("missing").arg(0).query(&mut con).unwrap();
    assert_eq!(n, 0);
    assert_eq!(
        err(&mut con, cmd("MOVE").arg("s").arg(3)),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        err(&mut con, cmd("MOVE").arg("s").arg(16)),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(&mut con, cmd("MOVE").arg("s").arg("x")),
        "ERR value is not an integer or out of range"
    );
    // Survives a crash and restart (it went through the log).
    s.crash_and_restart();
    let mut con = s.client();
    assert!(holds(&mut con, 3, "a"));
    select(&mut con, 0);
    let v: String = cmd("GET").arg("s").query(&mut con).unwrap();
    assert_eq!(v, "other");
}

#[test]
fn move_raises_new_move_from_and_move_to_and_swapdb_raises_nothing() {
    let s = Server::start();
    let mut con = s.client();
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEAn")
        .query(&mut con)
        .unwrap();
    let mut sub = s.client();
    let _: Value = cmd("PSUBSCRIBE").arg("__key*").query(&mut sub).unwrap();
    sub.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let _: () = cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let n: i64 = cmd("MOVE").arg("k").arg(1).query(&mut con).unwrap();
    assert_eq!(n, 1);
    let _: () = cmd("SWAPDB").arg(0).arg(1).query(&mut con).unwrap();
    let mut got = Vec::new();
    while let Ok(m) = sub.recv_response() {
        if let Value::Array(items) = m {
            let text: Vec<String> = items
                .iter()
                .filter_map(|v| match v {
                    Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                    _ => None,
                })
                .collect();
            got.push(format!("{} {}", text[2], text[3]));
        }
    }
    assert_eq!(
        got,
        [
            "__keyspace@0__:k new",
            "__keyevent@0__:new k",
            "__keyspace@0__:k set",
            "__keyevent@0__:set k",
            "__keyspace@1__:k new",
            "__keyevent@1__:new k",
            "__keyspace@0__:k move_from",
            "__keyevent@0__:move_from k",
            "__keyspace@1__:k move_to",
            "__keyevent@1__:move_to k",
        ]
    );
}

#[test]
fn swapdb_swaps_contents_counts_and_ttls_and_survives_restart() {
    let mut s = Server::start();
    let mut con = s.client();
    fill(&mut con, 0, "a");
    fill(&mut con, 1, "b");
    let _: () = cmd("SET").arg("only1").arg("x").query(&mut con).unwrap();
    let _: () = cmd("SWAPDB").arg(0).arg(1).query(&mut con).unwrap();
    assert!(holds(&mut con, 0, "b"));
    assert!(holds(&mut con, 1, "a"));
    select(&mut con, 0);
    let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 5);
    let v: String = cmd("GET").arg("only1").query(&mut con).unwrap();
    assert_eq!(v, "x");
    select(&mut con, 1);
    let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 4);
    let info: String = cmd("INFO").arg("keyspace").query(&mut con).unwrap();
    assert!(info.contains("db0:keys=5,expires=1,"), "{info}");
    assert!(info.contains("db1:keys=4,expires=1,"), "{info}");
    // A swap with an empty database, and errors as Redis.
    let _: () = cmd("SWAPDB").arg(1).arg(7).query(&mut con).unwrap();
    assert!(holds(&mut con, 7, "a"));
    select(&mut con, 1);
    let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 0);
    assert_eq!(
        err(&mut con, cmd("SWAPDB").arg("x").arg(1)),
        "ERR invalid first DB index"
    );
    assert_eq!(
        err(&mut con, cmd("SWAPDB").arg(0).arg("y")),
        "ERR invalid second DB index"
    );
    assert_eq!(
        err(&mut con, cmd("SWAPDB").arg(0).arg(16)),
        "ERR DB index is out of range"
    );
    // A short TTL swapped in still expires (its expiry index moved with it).
    select(&mut con, 5);
    let _: () = cmd("SET")
        .arg("soon")
        .arg("1")
        .arg("PX")
        .arg(300)
        .query(&mut con)
        .unwrap();
    let _: () = cmd("SWAPDB").arg(5).arg(6).query(&mut con).unwrap();
    select(&mut con, 6);
    eventually(Duration::from_secs(5), || {
        let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
        (n == 0).then_some(())
    });
    s.crash_and_restart();
    let mut con = s.client();
    assert!(holds(&mut con, 0, "b"));
    assert!(holds(&mut con, 7, "a"));
    select(&mut con, 0);
    let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 5);
}

#[test]
fn swapdb_touches_watched_keys_of_both_databases_as_redis() {
    let s = Server::start();
    let mut con = s.client();
    let mut other = s.client();
    select(&mut other, 1);
    let _: () = cmd("SET").arg("k").arg("in1").query(&mut other).unwrap();
    // A watched key that exists in the other database: EXEC fails.
    let _: () = cmd("WATCH").arg("k").query(&mut con).unwrap();
    let _: () = cmd("SWAPDB").arg(0).arg(1).query(&mut other).unwrap();
    let _: () = cmd("MULTI").query(&mut con).unwrap();
    let _: () = cmd("SET").arg("x").arg("1").query(&mut con).unwrap();
    let r: Value = cmd("EXEC").query(&mut con).unwrap();
    assert_eq!(r, Value::Nil);
    // A watched key in neither database: EXEC runs.
    let _: () = cmd("WATCH").arg("absent").query(&mut con).unwrap();
    let _: () = cmd("SWAPDB").arg(2).arg(0).query(&mut other).unwrap();
    let _: () = cmd("MULTI").query(&mut con).unwrap();
    let _: () = cmd("SET").arg("y").arg("1").query(&mut con).unwrap();
    let r: Value = cmd("EXEC").query(&mut con).unwrap();
    assert_eq!(r, Value::Array(vec![Value::Okay]));
}

#[test]
fn blocked_client_is_served_when_swapdb_brings_its_key() {
    let s = Server::start();
    let mut con = s.client();
    select(&mut con, 1);
    let _: () = cmd("RPUSH").arg("q").arg("job").query(&mut con).unwrap();
    let url = s.url();
    let waiter = std::thread::spawn(move || {
        let mut c = meridian_tests::connect(&url);
        let r: Option<(String, String)> = cmd("BLPOP").arg("q").arg(5).query(&mut c).unwrap();
        r
    });
    std::thread::sleep(Duration::from_millis(300));
    let _: () = cmd("SWAPDB").arg(0).arg(1).query(&mut con).unwrap();
    assert_eq!(
        waiter.join().unwrap(),
        Some(("q".to_string(), "job".to_string()))
    );
}

#[test]
fn save_bgsave_lastsave_and_rdb_fields_follow_snapshots() {
    let s = Server::start();
    let mut con = s.client();
    let start: i64 = cmd("LASTSAVE").query(&mut con).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - 120..=now).contains(&start), "{start} vs {now}");
    for i in 0..3 {
        let _: () = cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let changes: u64 = info_field(&mut con, "persistence", "rdb_changes_since_last_save")
        .parse()
        .unwrap();
    assert!(changes >= 3, "{changes}");
    std::thread::sleep(Duration::from_millis(1100));
    let _: () = cmd("SAVE").query(&mut con).unwrap();
    let after: i64 = cmd("LASTSAVE").query(&mut con).unwrap();
    assert!(after > start, "LASTSAVE {after} not after {start}");
    assert_eq!(
        info_field(&mut con, "persistence", "rdb_last_save_time"),
        after.to_string()
    );
    let changes: u64 = info_field(&mut con, "persistence", "rdb_changes_since_last_save")
        .parse()
        .unwrap();
    assert_eq!(changes, 0);
    let _: () = cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let changes: u64 = info_field(&mut con, "persistence", "rdb_changes_since_last_save")
        .parse()
        .unwrap();
    assert_eq!(changes, 1);
    let r: String = cmd("BGSAVE").query(&mut con).unwrap();
    assert_eq!(r, "Background saving started");
    eventually(Duration::from_secs(10), || {
        let c: u64 = info_field(&mut con, "persistence", "rdb_changes_since_last_save")
            .parse()
            .unwrap();
        (c == 0).then_some(())
    });
    assert_eq!(err(&mut con, cmd("BGSAVE").arg("now")), "ERR syntax error");
}

#[test]
fn role_wait_and_waitaof_on_a_single_node() {
    let s = Server::start();
    let mut con = s.client();
    let role: Value = cmd("ROLE").query(&mut con).unwrap();
    match role {
        Value::Array(items) => {
            assert_eq!(items[0], Value::BulkString(b"master".to_vec()));
            assert!(matches!(items[1], Value::Int(n) if n > 0));
            assert_eq!(items[2], Value::Array(vec![]));
        }
        other => panic!("{other:?}"),
    }
    let _: () = cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let n: i64 = cmd("WAIT").arg(0).arg(0).query(&mut con).unwrap();
    assert_eq!(n, 0);
    let t0 = Instant::now();
    let n: i64 = cmd("WAIT").arg(1).arg(200).query(&mut con).unwrap();
    assert_eq!(n, 0);
    assert!(t0.elapsed() >= Duration::from_millis(190));
    let r: Vec<i64> = cmd("WAITAOF").arg(1).arg(0).arg(0).query(&mut con).unwrap();
    assert_eq!(r, [1, 0]);
    assert_eq!(
        err(&mut con, cmd("WAIT").arg("x").arg(0)),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut con, cmd("WAIT").arg(1).arg(-1)),
        "ERR timeout is negative"
    );
}

#[test]
fn role_and_wait_in_a_three_node_cluster_and_swapdb_replicates() {
    let mut c = Cluster::start(3);
    let li = c.leader().expect("a leader");
    let mut leader = c.nodes[li].client();
    fill(&mut leader, 0, "a");
    fill(&mut leader, 2, "b");
    // Both followers apply the connection's last write: WAIT 2 answers 2.
    let n: i64 = cmd("WAIT").arg(2).arg(10_000).query(&mut leader).unwrap();
    assert_eq!(n, 2);
    let r: Vec<i64> = cmd("WAITAOF")
        .arg(1)
        .arg(2)
        .arg(10_000)
        .query(&mut leader)
        .unwrap();
    assert_eq!(r, [1, 2]);
    // ROLE on the leader: master with both followers and their applied indexes.
    let role: Value = cmd("ROLE").query(&mut leader).unwrap();
    let Value::Array(items) = role else {
        panic!("{role:?}")
    };
    assert_eq!(items[0], Value::BulkString(b"master".to_vec()));
    let Value::Array(replicas) = &items[2] else {
        panic!("{items:?}")
    };
    assert_eq!(replicas.len(), 2, "{replicas:?}");
    let mut ports: Vec<String> = Vec::new();
    for r in replicas {
        let Value::Array(f) = r else { panic!("{r:?}") };
        assert_eq!(f[0], Value::BulkString(b"127.0.0.1".to_vec()));
        let text = |v: &Value| match v {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("{other:?}"),
        };
        ports.push(text(&f[1]));
        assert!(text(&f[2]).parse::<u64>().unwrap() > 0);
    }
    ports.sort();
    let mut want: Vec<String> = (0..3)
        .filter(|i| *i != li)
        .map(|i| c.nodes[i].cluster_port.to_string())
        .collect();
    want.sort();
    assert_eq!(ports, want);
    // ROLE on a follower: slave of the leader's cluster address, connected.
    let fi = (0..3).find(|i| *i != li).unwrap();
    let mut follower = c.nodes[fi].client();
    let role: Value = cmd("ROLE").query(&mut follower).unwrap();
    assert_eq!(
        &role,
        &match &role {
            Value::Array(f) => Value::Array(vec![
                Value::BulkString(b"slave".to_vec()),
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(c.nodes[li].cluster_port as i64),
                Value::BulkString(b"connected".to_vec()),
                f[4].clone(),
            ]),
            other => panic!("{other:?}"),
        }
    );
    // A write through the follower, then WAIT there counts the replicas that applied it
    // (itself included).
    let _: () = cmd("SET")
        .arg("via")
        .arg("follower")
        .query(&mut follower)
        .unwrap();
    let n: i64 = cmd("WAIT").arg(2).arg(10_000).query(&mut follower).unwrap();
    assert_eq!(n, 2);
    // SWAPDB on the leader: every node agrees, before and after a restart.
    let _: () = cmd("SWAPDB").arg(0).arg(2).query(&mut leader).unwrap();
    let n: i64 = cmd("WAIT").arg(2).arg(10_000).query(&mut leader).unwrap();
    assert_eq!(n, 2);
    for i in 0..3 {
        let mut con = c.nodes[i].client();
        assert!(holds(&mut con, 0, "b"), "node {i}");
        assert!(holds(&mut con, 2, "a"), "node {i}");
    }
    c.nodes[fi].restart();
    let mut con = c.nodes[fi].client();
    eventually(Duration::from_secs(10), || {
        (holds(&mut con, 0, "b") && holds(&mut con, 2, "a")).then_some(())
    });
}

#[test]
fn memory_commands_report_real_figures() {
    let s = Server::start();
    let mut con = s.client();
    let _: () = cmd("SET").arg("small").arg("x").query(&mut con).unwrap();
    let _: () = cmd("SET")
        .arg("big")
        .arg("x".repeat(10_000))
        .query(&mut con)
        .unwrap();
    let small: i64 = cmd("MEMORY")
        .arg("USAGE")
        .arg("small")
        .query(&mut con)
        .unwrap();
    let big: i64 = cmd("MEMORY")
        .arg("USAGE")
        .arg("big")
        .query(&mut con)
        .unwrap();
    assert!(small > 0 && big > 10_000 && big < 11_000, "{small} {big}");
    let none: Option<i64> = cmd("MEMORY")
        .arg("USAGE")
        .arg("nokey")
        .query(&mut con)
        .unwrap();
    assert_eq!(none, None);
    let mut l = cmd("RPUSH");
    l.arg("list");
    for i in 0..1000 {
        l.arg(format!("element-{i:05}"));
    }
    let _: () = l.query(&mut con).unwrap();
    let all: i64 = cmd("MEMORY")
        .arg("USAGE")
        .arg("list")
        .arg("SAMPLES")
        .arg(0)
        .query(&mut con)
        .unwrap();
    let sampled: i64 = cmd("MEMORY")
        .arg("USAGE")
        .arg("list")
        .query(&mut con)
        .unwrap();
    assert!(all > 13_000, "{all}");
    assert!((sampled - all).abs() < all / 10, "{sampled} vs {all}");
    assert_eq!(
        err(
            &mut con,
            cmd("MEMORY")
                .arg("USAGE")
                .arg("list")
                .arg("SAMPLES")
                .arg(-1)
        ),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut con, cmd("MEMORY").arg("USAGE")),
        "ERR wrong number of arguments for 'memory|usage' command"
    );
    assert_eq!(
        err(&mut con, cmd("MEMORY").arg("FOO")),
        "ERR unknown subcommand 'FOO'. Try MEMORY HELP."
    );
    let stats: Vec<Value> = cmd("MEMORY").arg("STATS").query(&mut con).unwrap();
    let pos = stats
        .iter()
        .position(|v| *v == Value::BulkString(b"keys.count".to_vec()))
        .expect("keys.count");
    assert_eq!(stats[pos + 1], Value::Int(3));
    let pos = stats
        .iter()
        .position(|v| *v == Value::BulkString(b"total.allocated".to_vec()))
        .expect("total.allocated");
    assert!(matches!(stats[pos + 1], Value::Int(n) if n > 1 << 20));
    let doctor: String = cmd("MEMORY").arg("DOCTOR").query(&mut con).unwrap();
    assert!(
        doctor.starts_with("Hi Sam") || doctor.starts_with("Sam"),
        "{doctor}"
    );
    let _: String = cmd("MEMORY").arg("MALLOC-STATS").query(&mut con).unwrap();
    let _: () = cmd("MEMORY").arg("PURGE").query(&mut con).unwrap();
    let help: Vec<String> = cmd("MEMORY").arg("HELP").query(&mut con).unwrap();
    assert!(help[0].starts_with("MEMORY <subcommand>"));
}

#[test]
fn debug_subset_lolwut_and_replicaof() {
    let s = Server::start();
    let mut con = s.client();
    let t0 = Instant::now();
    let _: () = cmd("DEBUG")
        .arg("SLEEP")
        .arg("0.2")
        .query(&mut con)
        .unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(190));
    let _: () = cmd("SET").arg("k").arg("hello").query(&mut con).unwrap();
    let line: String = cmd("DEBUG").arg("OBJECT").arg("k").query(&mut con).unwrap();
    assert!(
        line.starts_with("Value at:0x")
            && line.contains(" refcount:1 encoding:embstr serializedlength:")
            && line.contains(" lru_seconds_idle:"),
        "{line}"
    );
    assert_eq!(
        err(&mut con, cmd("DEBUG").arg("OBJECT").arg("nokey")),
        "ERR no such key"
    );
    assert_eq!(
        err(&mut con, cmd("DEBUG").arg("JMAP")),
        "ERR unknown subcommand or wrong number of arguments for 'JMAP'. Try DEBUG HELP."
    );
    let cats: Value = cmd("COMMAND")
        .arg("INFO")
        .arg("debug")
        .query(&mut con)
        .unwrap();
    let text = format!("{cats:?}");
    assert!(
        text.contains("admin") && text.contains("dangerous"),
        "{text}"
    );
    // SET-ACTIVE-EXPIRE 0: a key past its TTL stays in storage (DBSIZE counts it, as
    // Redis's) until the cycle is back on; expired_keys counts it then.
    let _: () = cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query(&mut con)
        .unwrap();
    let before: u64 = info_field(&mut con, "stats", "expired_keys")
        .parse()
        .unwrap();
    let _: () = cmd("SET")
        .arg("t")
        .arg("1")
        .arg("PX")
        .arg(100)
        .query(&mut con)
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 2);
    let _: () = cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(1)
        .query(&mut con)
        .unwrap();
    eventually(Duration::from_secs(5), || {
        let n: i64 = cmd("DBSIZE").query(&mut con).unwrap();
        (n == 1).then_some(())
    });
    let after: u64 = info_field(&mut con, "stats", "expired_keys")
        .parse()
        .unwrap();
    assert_eq!(after, before + 1);
    let art: String = cmd("LOLWUT").query(&mut con).unwrap();
    let last = art.trim_end().lines().last().unwrap().to_string();
    assert!(last.contains(", 2026. Meridian ver. "), "{last}");
    let art5: String = cmd("LOLWUT").arg("VERSION").arg(5).query(&mut con).unwrap();
    assert!(art5.lines().count() > 5);
    assert_eq!(
        err(&mut con, cmd("LOLWUT").arg("VERSION").arg("x")),
        "ERR value is not an integer or out of range"
    );
    for c in ["REPLICAOF", "SLAVEOF"] {
        let e = err(&mut con, cmd(c).arg("127.0.0.1").arg(6379));
        assert!(
            e.starts_with(&format!("ERR {c} is not supported"))
                && e.contains("meridian cluster add-replica"),
            "{e}"
        );
    }
}

#[test]
fn info_reports_cached_scripts_expires_and_counters() {
    let s = Server::start();
    let mut con = s.client();
    assert_eq!(
        info_field(&mut con, "memory", "number_of_cached_scripts"),
        "0"
    );
    let _: String = cmd("SCRIPT")
        .arg("LOAD")
        .arg("return 1")
        .query(&mut con)
        .unwrap();
    let _: String = cmd("SCRIPT")
        .arg("LOAD")
        .arg("return 2")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        info_field(&mut con, "memory", "number_of_cached_scripts"),
        "2"
    );
    let _: () = cmd("SET")
        .arg("a")
        .arg("1")
        .arg("EX")
        .arg(100)
        .query(&mut con)
        .unwrap();
    let _: () = cmd("SET").arg("b").arg("1").query(&mut con).unwrap();
    let ks = info_field(&mut con, "keyspace", "db0");
    assert!(ks.starts_with("keys=2,expires=1,avg_ttl="), "{ks}");
    let avg: u64 = ks.rsplit('=').next().unwrap().parse().unwrap();
    assert!(avg > 90_000 && avg <= 100_000, "{avg}");
    assert_eq!(info_field(&mut con, "stats", "evicted_keys"), "0");
    let _: () = cmd("SET")
        .arg("gone")
        .arg("1")
        .arg("PX")
        .arg(50)
        .query(&mut con)
        .unwrap();
    eventually(Duration::from_secs(5), || {
        (info_field(&mut con, "stats", "expired_keys") == "1").then_some(())
    });
}

#[test]
fn wait_forever_ends_when_its_client_leaves() {
    use std::io::Write;
    let s = Server::start();
    let mut con = s.client();
    let mut raw = s.raw();
    raw.write_all(b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n0\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(info_field(&mut con, "clients", "connected_clients"), "2");
    drop(raw);
    eventually(Duration::from_secs(5), || {
        (info_field(&mut con, "clients", "connected_clients") == "1").then_some(())
    });
}
