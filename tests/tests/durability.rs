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
