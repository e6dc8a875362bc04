//! kill -9 never loses an acknowledged write; restart is fast whatever the data size.

use meridian_tests::Server;
use redis::cmd;
use std::time::{Duration, Instant};

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut s = Server::start();
    // Four concurrent writers; every reply received is an acknowledgement.
    let url = s.url();
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut acked = Vec::new();
                for i in 0..500 {
                    let k = format!("w{w}:{i}");
                    let _: () = cmd("SET").arg(&k).arg(i).query(&mut c).unwrap();
                    let _: i64 = cmd("INCR").arg(format!("count:{w}")).query(&mut c).unwrap();
                    acked.push(k);
                }
                acked
            })
        })
        .collect();
    let acked: Vec<Vec<String>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    s.crash_and_restart();
    let mut c = s.client();
    for (w, keys) in acked.iter().enumerate() {
        for (i, k) in keys.iter().enumerate() {
            let v: Option<i64> = cmd("GET").arg(k).query(&mut c).unwrap();
            assert_eq!(v, Some(i as i64), "lost {k}");
        }
        let n: i64 = cmd("GET").arg(format!("count:{w}")).query(&mut c).unwrap();
        assert_eq!(n, 500);
    }
    assert_eq!(cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 2004);
}

#[test]
fn kill_9_during_a_write_load_loses_nothing_acknowledged() {
    let mut s = Server::start();
    let url = s.url();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut acked = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match cmd("SET")
                    .arg(format!("load:{acked}"))
                    .arg(acked)
                    .query::<()>(&mut c)
                {
                    Ok(()) => acked += 1,
                    Err(_) => break,
                }
            }
            acked
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    s.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = writer.join().unwrap();
    assert!(acked > 0);
    s.crash_and_restart();
    let mut c = s.client();
    for i in 0..acked {
        let v: Option<u64> = cmd("GET").arg(format!("load:{i}")).query(&mut c).unwrap();
        assert_eq!(v, Some(i), "acknowledged write load:{i} lost (of {acked})");
    }
}

fn info_u64(c: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = cmd("INFO").arg(section).query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
        .trim()
        .parse()
        .unwrap()
}

/// The state skips RocksDB's WAL (the Raft log is its write-ahead log): a kill -9 after
/// the apply and before a memtable flush loses the applied state, and the node applies
/// those entries again from the log at start. INCR and RPUSH are not idempotent, so a
/// lost, doubled or reordered apply shows in the counter and the list.
#[test]
fn kill_9_before_the_state_is_flushed_applies_the_log_again_exactly_once() {
    let mut s = Server::start();
    let per_round = 400u64;
    for round in 1..=3u64 {
        let mut c = s.client();
        for i in 0..per_round {
            let n: u64 = cmd("INCR").arg("counter").query(&mut c).unwrap();
            assert_eq!(n, (round - 1) * per_round + i + 1);
            let _: u64 = cmd("RPUSH").arg("list").arg(n).query(&mut c).unwrap();
        }
        let applied = info_u64(&mut c, "replication", "raft_applied_index");
        s.crash_and_restart();
        let mut c = s.client();
        let at_start = info_u64(&mut c, "persistence", "state_applied_at_start");
        // The crash came before a flush: the state found at open was behind, so the
        // entries after it were applied from the log (else this test shows nothing).
        assert!(
            at_start < applied,
            "round {round}: state at open {at_start}, applied before the crash {applied}"
        );
        let total = round * per_round;
        let n: u64 = cmd("GET").arg("counter").query(&mut c).unwrap();
        assert_eq!(n, total, "round {round}");
        let list: Vec<u64> = cmd("LRANGE")
            .arg("list")
            .arg(0)
            .arg(-1)
            .query(&mut c)
            .unwrap();
        assert_eq!(list, (1..=total).collect::<Vec<_>>(), "round {round}");
        assert!(info_u64(&mut c, "replication", "raft_applied_index") >= applied);
    }
}

/// No reply leaves before the fsync that covers its entry: while the WAL fsync is held
/// (the failpoint `wal-sync` paused), a SET gets no reply and is not applied; once the
/// fsync runs, the reply comes.
#[test]
fn no_reply_leaves_before_the_fsync_that_covers_its_entry() {
    use std::io::{Read, Write};
    std::env::set_var("MERIDIAN_DEBUG_FAILPOINTS", "1");
    let s = Server::start();
    let mut ctl = s.client();
    let _: () = cmd("SET").arg("before").arg(1).query(&mut ctl).unwrap();
    let syncs_before = info_u64(&mut ctl, "persistence", "raft_log_fsyncs");
    let _: () = cmd("DEBUG")
        .arg("FAILPOINT")
        .arg("wal-sync")
        .arg("pause")
        .query(&mut ctl)
        .unwrap();
    let mut raw = s.raw();
    raw.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
        .unwrap();
    raw.set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    let mut buf = [0u8; 64];
    match raw.read(&mut buf) {
        Ok(n) => panic!(
            "a reply left before the fsync of its entry: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
    }
    // Not applied either: a read elsewhere does not see it.
    let v: Option<String> = cmd("GET").arg("k").query(&mut ctl).unwrap();
    assert_eq!(v, None);
    let _: () = cmd("DEBUG")
        .arg("FAILPOINT")
        .arg("wal-sync")
        .arg("off")
        .query(&mut ctl)
        .unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = raw.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"+OK\r\n");
    assert!(info_u64(&mut ctl, "persistence", "raft_log_fsyncs") > syncs_before);
    let v: Option<String> = cmd("GET").arg("k").query(&mut ctl).unwrap();
    assert_eq!(v.as_deref(), Some("v"));
}

/// Without MERIDIAN_DEBUG_FAILPOINTS=1 a client cannot touch failpoints.
#[test]
fn debug_failpoint_is_refused_unless_enabled_at_start() {
    std::env::remove_var("MERIDIAN_DEBUG_FAILPOINTS");
    let s = Server::start();
    let mut c = s.client();
    let e = cmd("DEBUG")
        .arg("FAILPOINT")
        .arg("wal-sync")
        .arg("pause")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("MERIDIAN_DEBUG_FAILPOINTS"), "{e}");
    let _: () = cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
}

#[test]
fn restart_of_a_large_database_answers_quickly() {
    let n: usize = std::env::var("MERIDIAN_TEST_RESTART_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut s = Server::start();
    let mut c = s.client();
    let t0 = Instant::now();
    let per_cmd = 100;
    let mut i = 0;
    while i < n {
        let mut p = redis::pipe();
        for _ in 0..100 {
            if i >= n {
                break;
            }
            let mut m = cmd("MSET");
            for j in i..(i + per_cmd).min(n) {
                m.arg(format!("key:{j}")).arg(j);
            }
            i = (i + per_cmd).min(n);
            p.add_command(m).ignore();
        }
        let _: () = p.query(&mut c).unwrap();
    }
    eprintln!("loaded {n} keys in {:?}", t0.elapsed());
    assert_eq!(cmd("DBSIZE").query::<i64>(&mut c).unwrap(), n as i64);
    s.crash_and_restart();
    let t1 = Instant::now();
    let mut c = s.client();
    let v: i64 = cmd("GET")
        .arg(format!("key:{}", n - 1))
        .query(&mut c)
        .unwrap();
    let first = t1.elapsed();
    eprintln!(
        "restart of {n} keys: process start to ready {:?}, then first command answered in {:?}",
        s.last_start, first
    );
    for line in s.log().lines().filter(|l| l.contains(" ms")) {
        eprintln!("server: {line}");
    }
    assert_eq!(v, (n - 1) as i64);
    assert_eq!(cmd("DBSIZE").query::<i64>(&mut c).unwrap(), n as i64);
}
