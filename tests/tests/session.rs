//! Session-level features over real connections: MULTI/EXEC/WATCH, pub/sub, keyspace
//! notifications, blocking pops, CLIENT UNBLOCK, MONITOR.

use meridian_tests::{raw_roundtrip, Server};
use redis::{cmd, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

fn s(v: &str) -> Value {
    Value::BulkString(v.as_bytes().to_vec())
}

#[test]
fn multi_exec_runs_queued_commands_atomically_with_redis_errors() {
    let srv = Server::start();
    let mut c = srv.client();
    let mut raw = srv.raw();
    let want = "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*4\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\n2\r\n";
    let out = raw_roundtrip(
        &mut raw,
        b"MULTI\r\nSET a 1\r\nINCR a\r\nLPUSH a x\r\nGET a\r\nEXEC\r\n",
        want.len(),
    );
    // A run-time error is one reply; the commands after it still ran.
    assert_eq!(String::from_utf8_lossy(&out), want);

    // A queue-time error discards the whole transaction.
    let want = "+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n-EXECABORT Transaction discarded because of previous errors.\r\n";
    let out = raw_roundtrip(
        &mut raw,
        b"MULTI\r\nSET b 1\r\nNOSUCHCMD\r\nEXEC\r\n",
        want.len(),
    );
    assert_eq!(String::from_utf8_lossy(&out), want);
    let b: Option<String> = cmd("GET").arg("b").query(&mut c).unwrap();
    assert_eq!(b, None, "EXECABORT must not apply anything");

    // Errors without MULTI.
    let e = cmd("EXEC").query::<Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("EXEC without MULTI"), "{e}");
    let e = cmd("DISCARD").query::<Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("DISCARD without MULTI"), "{e}");
    // DISCARD drops the queue.
    let _: () = cmd("MULTI").query(&mut c).unwrap();
    let q: String = cmd("SET").arg("c").arg("1").query(&mut c).unwrap();
    assert_eq!(q, "QUEUED");
    let _: () = cmd("DISCARD").query(&mut c).unwrap();
    let v: Option<String> = cmd("GET").arg("c").query(&mut c).unwrap();
    assert_eq!(v, None);
}

#[test]
fn execabort_after_a_queue_time_error() {
    let srv = Server::start();
    let mut raw = srv.raw();
    let out = raw_roundtrip(&mut raw, b"MULTI\r\nSET k v\r\nGET\r\nEXEC\r\nGET k\r\n", 1);
    let mut all = out;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&all).contains("$-1") && Instant::now() < deadline {
        let mut b = [0u8; 4096];
        raw.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        if let Ok(n) = raw.read(&mut b) {
            all.extend_from_slice(&b[..n]);
        }
    }
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("+QUEUED"), "{text}");
    assert!(
        text.contains("-EXECABORT Transaction discarded because of previous errors."),
        "{text}"
    );
    assert!(text.ends_with("$-1\r\n"), "{text}");
}

#[test]
fn watch_aborts_exec_when_another_client_wrote_the_key() {
    let srv = Server::start();
    let mut a = srv.client();
    let mut b = srv.client();
    let _: () = cmd("SET").arg("w").arg("1").query(&mut a).unwrap();
    let _: () = cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("1")
        .query(&mut a)
        .unwrap();

    // Untouched: EXEC runs.
    let _: () = cmd("WATCH").arg("w").query(&mut a).unwrap();
    let r: Value = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("w")
        .query(&mut a)
        .unwrap();
    assert_eq!(r, Value::Array(vec![Value::Int(2)]));

    // Written by another client between WATCH and EXEC: EXEC returns nil.
    let _: () = cmd("WATCH").arg("w").query(&mut a).unwrap();
    let _: () = cmd("SET").arg("w").arg("100").query(&mut b).unwrap();
    let _: () = cmd("MULTI").query(&mut a).unwrap();
    let _: String = cmd("INCR").arg("w").query(&mut a).unwrap();
    let r: Value = cmd("EXEC").query(&mut a).unwrap();
    assert_eq!(r, Value::Nil);
    let v: String = cmd("GET").arg("w").query(&mut a).unwrap();
    assert_eq!(v, "100");

    // An element-level write to a watched hash counts too.
    let _: () = cmd("WATCH").arg("h").query(&mut a).unwrap();
    let _: () = cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("2")
        .query(&mut b)
        .unwrap();
    let _: () = cmd("MULTI").query(&mut a).unwrap();
    let _: String = cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("3")
        .query(&mut a)
        .unwrap();
    let r: Value = cmd("EXEC").query(&mut a).unwrap();
    assert_eq!(r, Value::Nil);

    // A watched key that was absent, then created and deleted again by another client:
    // it reads the same, but was written, so EXEC aborts (as Redis).
    let _: () = cmd("WATCH").arg("ghost").query(&mut a).unwrap();
    let _: () = cmd("SET").arg("ghost").arg("x").query(&mut b).unwrap();
    let _: i64 = cmd("DEL").arg("ghost").query(&mut b).unwrap();
    let _: () = cmd("MULTI").query(&mut a).unwrap();
    let _: String = cmd("SET").arg("ghost").arg("mine").query(&mut a).unwrap();
    let r: Value = cmd("EXEC").query(&mut a).unwrap();
    assert_eq!(r, Value::Nil);
    let v: Option<String> = cmd("GET").arg("ghost").query(&mut a).unwrap();
    assert_eq!(v, None);
    // ...and the next transaction, with nothing watched, runs.
    let r: Value = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("ghost")
        .arg("mine")
        .query(&mut a)
        .unwrap();
    assert_eq!(r, Value::Array(vec![Value::Okay]));
    // A write to another key does not abort; DISCARD forgets the watch.
    let _: () = cmd("WATCH").arg("ghost2").query(&mut a).unwrap();
    let _: () = cmd("SET").arg("unrelated").arg("x").query(&mut b).unwrap();
    let r: Value = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("ghost2")
        .arg("1")
        .query(&mut a)
        .unwrap();
    assert_eq!(r, Value::Array(vec![Value::Okay]));
    let _: () = cmd("WATCH").arg("ghost2").query(&mut a).unwrap();
    let _: () = cmd("MULTI").query(&mut a).unwrap();
    let _: () = cmd("DISCARD").query(&mut a).unwrap();
    let _: () = cmd("SET").arg("ghost2").arg("2").query(&mut b).unwrap();
    let r: Value = redis::pipe()
        .atomic()
        .cmd("GET")
        .arg("ghost2")
        .query(&mut a)
        .unwrap();
    assert_eq!(r, Value::Array(vec![Value::BulkString(b"2".to_vec())]));

    // UNWATCH forgets.
    let _: () = cmd("WATCH").arg("w").query(&mut a).unwrap();
    let _: () = cmd("SET").arg("w").arg("5").query(&mut b).unwrap();
    let _: () = cmd("UNWATCH").query(&mut a).unwrap();
    let r: Value = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("w")
        .query(&mut a)
        .unwrap();
    assert_eq!(r, Value::Array(vec![Value::Int(6)]));

    // Concurrent optimistic increments: no update is lost.
    let mut handles = Vec::new();
    for _ in 0..4 {
        let url = srv.url();
        handles.push(std::thread::spawn(move || {
            let mut c = meridian_tests::connect(&url);
            let mut done = 0;
            while done < 25 {
                let _: () = cmd("WATCH").arg("ctr").query(&mut c).unwrap();
                let v: Option<i64> = cmd("GET").arg("ctr").query(&mut c).unwrap();
                let r: Value = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg("ctr")
                    .arg(v.unwrap_or(0) + 1)
                    .query(&mut c)
                    .unwrap();
                if r != Value::Nil {
                    done += 1;
                }
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let v: i64 = cmd("GET").arg("ctr").query(&mut a).unwrap();
    assert_eq!(v, 100);
}

fn read_msg(p: &mut redis::PubSub) -> (String, String) {
    let m = p.get_message().unwrap();
    (
        m.get_channel_name().to_string(),
        m.get_payload::<String>().unwrap(),
    )
}

#[test]
fn pubsub_channels_patterns_and_counts() {
    let srv = Server::start();
    let mut sub_conn = srv.client();
    let mut publisher = srv.client();
    let mut p = sub_conn.as_pubsub();
    p.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    p.subscribe("news").unwrap();
    p.psubscribe("ne*").unwrap();
    let n: i64 = cmd("PUBLISH")
        .arg("news")
        .arg("hello")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(n, 2, "one channel and one pattern subscription");
    let mut got = vec![read_msg(&mut p), read_msg(&mut p)];
    got.sort();
    assert_eq!(
        got,
        vec![
            ("news".to_string(), "hello".to_string()),
            ("news".to_string(), "hello".to_string())
        ]
    );
    let n: i64 = cmd("PUBLISH")
        .arg("nobody")
        .arg("x")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(n, 0);
    let chans: Vec<String> = cmd("PUBSUB").arg("CHANNELS").query(&mut publisher).unwrap();
    assert_eq!(chans, vec!["news"]);
    let numsub: Vec<Value> = cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .arg("other")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(
        numsub,
        vec![s("news"), Value::Int(1), s("other"), Value::Int(0)]
    );
    let np: i64 = cmd("PUBSUB").arg("NUMPAT").query(&mut publisher).unwrap();
    assert_eq!(np, 1);
    p.unsubscribe("news").unwrap();
    p.punsubscribe("ne*").unwrap();
    drop(p);
    let n: i64 = cmd("PUBLISH")
        .arg("news")
        .arg("again")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn subscribed_resp2_connection_takes_only_pubsub_commands() {
    let srv = Server::start();
    let mut raw = srv.raw();
    let out = raw_roundtrip(&mut raw, b"SUBSCRIBE a b\r\n", 40);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"),
        "{text}"
    );
    let out = raw_roundtrip(&mut raw, b"GET x\r\n", 10);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"),
        "{text}"
    );
    let out = raw_roundtrip(&mut raw, b"PING\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );
    let out = raw_roundtrip(&mut raw, b"RESET\r\n", 6);
    assert_eq!(String::from_utf8_lossy(&out), "+RESET\r\n");
    let out = raw_roundtrip(&mut raw, b"GET x\r\n", 5);
    assert_eq!(String::from_utf8_lossy(&out), "$-1\r\n");
}

#[test]
fn resp3_messages_are_push_frames() {
    let srv = Server::start();
    let mut raw = srv.raw();
    let _ = raw_roundtrip(&mut raw, b"HELLO 3\r\n", 10);
    // Drain the HELLO map.
    std::thread::sleep(Duration::from_millis(100));
    raw.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut junk = [0u8; 4096];
    let _ = raw.read(&mut junk);
    let out = raw_roundtrip(&mut raw, b"SUBSCRIBE ch\r\n", 10);
    assert!(String::from_utf8_lossy(&out).starts_with(">3\r\n$9\r\nsubscribe"));
    let mut p = srv.client();
    let _: i64 = cmd("PUBLISH").arg("ch").arg("m1").query(&mut p).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 256];
    let n = raw.read(&mut buf).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]),
        ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nm1\r\n"
    );
    // In RESP3 a subscribed connection may run other commands.
    let out = raw_roundtrip(&mut raw, b"SET k v\r\n", 5);
    assert_eq!(String::from_utf8_lossy(&out), "+OK\r\n");
}

#[test]
fn keyspace_notifications_follow_the_configured_classes() {
    let srv = Server::start();
    let mut c = srv.client();
    let flags: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut c)
        .unwrap();
    assert_eq!(flags, vec!["notify-keyspace-events", ""]);
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query(&mut c)
        .unwrap();
    let flags: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut c)
        .unwrap();
    assert_eq!(flags[1], "AKE");
    let e = cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KQ")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("Invalid event class"), "{e}");

    let mut sub = srv.client();
    let mut p = sub.as_pubsub();
    p.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    p.psubscribe("__key*__:*").unwrap();
    let _: () = cmd("SET").arg("k1").arg("v").query(&mut c).unwrap();
    let _: () = cmd("LPUSH").arg("l1").arg("a").query(&mut c).unwrap();
    let _: Option<String> = cmd("LPOP").arg("l1").query(&mut c).unwrap();
    let _: () = cmd("HSET")
        .arg("h1")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let _: () = cmd("DEL").arg("k1").query(&mut c).unwrap();
    let _: () = cmd("SET")
        .arg("t1")
        .arg("v")
        .arg("PX")
        .arg(50)
        .query(&mut c)
        .unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let (ch, payload) = read_msg(&mut p);
        got.push((ch.clone(), payload.clone()));
        if ch == "__keyevent@0__:expired" {
            break;
        }
    }
    let want = [
        ("__keyspace@0__:k1", "set"),
        ("__keyevent@0__:set", "k1"),
        ("__keyspace@0__:l1", "lpush"),
        ("__keyevent@0__:lpush", "l1"),
        ("__keyspace@0__:l1", "lpop"),
        ("__keyspace@0__:l1", "del"),
        ("__keyevent@0__:del", "l1"),
        ("__keyspace@0__:h1", "hset"),
        ("__keyevent@0__:hset", "h1"),
        ("__keyspace@0__:k1", "del"),
        ("__keyspace@0__:t1", "expire"),
        ("__keyspace@0__:t1", "expired"),
        ("__keyevent@0__:expired", "t1"),
    ];
    for (ch, payload) in want {
        assert!(
            got.iter().any(|(c, p)| c == ch && p == payload),
            "missing {ch} {payload} in {got:?}"
        );
    }
    // Order of one key's events follows Redis: lpop before del.
    let pos = |ch: &str, p: &str| got.iter().position(|(c, q)| c == ch && q == p).unwrap();
    assert!(pos("__keyspace@0__:l1", "lpop") < pos("__keyspace@0__:l1", "del"));

    // Only hash events with "Kh".
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Kh")
        .query(&mut c)
        .unwrap();
    let _: () = cmd("SET").arg("k2").arg("v").query(&mut c).unwrap();
    let _: () = cmd("HSET")
        .arg("h2")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let (ch, payload) = read_msg(&mut p);
    assert_eq!(
        (ch.as_str(), payload.as_str()),
        ("__keyspace@0__:h2", "hset")
    );
}

#[test]
fn blocking_pops_wait_for_a_push_in_fifo_order_and_time_out() {
    let srv = Server::start();
    let mut c = srv.client();
    // Immediate when data is there.
    let _: () = cmd("RPUSH").arg("q").arg("a").query(&mut c).unwrap();
    let r: Vec<String> = cmd("BLPOP").arg("q").arg(0).query(&mut c).unwrap();
    assert_eq!(r, vec!["q", "a"]);
    // Timeout: a nil array after ~the timeout.
    let t0 = Instant::now();
    let r: Value = cmd("BLPOP").arg("empty").arg("0.3").query(&mut c).unwrap();
    assert_eq!(r, Value::Nil);
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(280), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // Bad timeouts.
    let e = cmd("BLPOP")
        .arg("q")
        .arg("x")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("timeout is not a float or out of range"),
        "{e}"
    );
    let e = cmd("BLPOP")
        .arg("q")
        .arg("-1")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("timeout is negative"), "{e}");

    // Three waiters, blocked in order; three pushes serve them in that order.
    let mut waiters = Vec::new();
    for i in 0..3 {
        let url = srv.url();
        waiters.push(std::thread::spawn(move || {
            let mut w = meridian_tests::connect(&url);
            let r: Vec<String> = cmd("BRPOP")
                .arg("jobs")
                .arg("other")
                .arg(10)
                .query(&mut w)
                .unwrap();
            (i, r)
        }));
        std::thread::sleep(Duration::from_millis(150));
    }
    for job in ["j1", "j2", "j3"] {
        let _: () = cmd("LPUSH").arg("jobs").arg(job).query(&mut c).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    let mut results: Vec<(i32, Vec<String>)> =
        waiters.into_iter().map(|h| h.join().unwrap()).collect();
    results.sort();
    assert_eq!(results[0].1, vec!["jobs", "j1"]);
    assert_eq!(results[1].1, vec!["jobs", "j2"]);
    assert_eq!(results[2].1, vec!["jobs", "j3"]);
    let len: i64 = cmd("LLEN").arg("jobs").query(&mut c).unwrap();
    assert_eq!(len, 0);

    // BLMOVE and BZPOPMIN wake on a push from a MULTI.
    let url = srv.url();
    let h = std::thread::spawn(move || {
        let mut w = meridian_tests::connect(&url);
        let r: String = cmd("BLMOVE")
            .arg("src")
            .arg("dst")
            .arg("LEFT")
            .arg("RIGHT")
            .arg(10)
            .query(&mut w)
            .unwrap();
        let z: Vec<String> = cmd("BZPOPMIN").arg("z").arg(10).query(&mut w).unwrap();
        (r, z)
    });
    std::thread::sleep(Duration::from_millis(200));
    let _: Value = redis::pipe()
        .atomic()
        .cmd("RPUSH")
        .arg("src")
        .arg("moved")
        .cmd("ZADD")
        .arg("z")
        .arg(1.5)
        .arg("m")
        .query(&mut c)
        .unwrap();
    let (r, z) = h.join().unwrap();
    assert_eq!(r, "moved");
    assert_eq!(z, vec!["z", "m", "1.5"]);
    let d: Vec<String> = cmd("LRANGE")
        .arg("dst")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(d, vec!["moved"]);

    // Inside MULTI a blocking pop does not block.
    let r: Value = redis::pipe()
        .atomic()
        .cmd("BLPOP")
        .arg("nothing")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, Value::Array(vec![Value::Nil]));
}

#[test]
fn client_unblock_and_a_vanished_client_pops_nothing() {
    let srv = Server::start();
    let mut c = srv.client();
    let url = srv.url();
    let h = std::thread::spawn(move || {
        let mut w = meridian_tests::connect(&url);
        let id: i64 = cmd("CLIENT").arg("ID").query(&mut w).unwrap();
        let r = cmd("BLPOP").arg("never").arg(0).query::<Value>(&mut w);
        (id, r)
    });
    // Find the blocked client and release it with an error.
    std::thread::sleep(Duration::from_millis(300));
    let list: String = cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    let blocked_id: i64 = list
        .lines()
        .find(|l| l.contains("cmd=blpop"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|f| f.strip_prefix("id="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no blocked client in {list}"));
    let n: i64 = cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(blocked_id)
        .arg("ERROR")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    let (id, r) = h.join().unwrap();
    assert_eq!(id, blocked_id);
    let e = r.unwrap_err();
    assert!(e.to_string().contains("UNBLOCKED"), "{e}");
    let n: i64 = cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(blocked_id)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);

    // A client that blocks and then hangs up must not take the next element.
    let mut gone = srv.raw();
    gone.write_all(b"BLPOP precious 0\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(gone);
    std::thread::sleep(Duration::from_millis(300));
    let _: () = cmd("RPUSH").arg("precious").arg("x").query(&mut c).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let v: Vec<String> = cmd("LRANGE")
        .arg("precious")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, vec!["x"]);
}

#[test]
fn monitor_streams_every_command_in_redis_format() {
    let srv = Server::start();
    let mut m = srv.raw();
    let out = raw_roundtrip(&mut m, b"MONITOR\r\n", 5);
    assert_eq!(String::from_utf8_lossy(&out), "+OK\r\n");
    let mut c = srv.client();
    let _: () = cmd("SET").arg("mk").arg("a \"b\"\n").query(&mut c).unwrap();
    m.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(m);
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.contains("\"set\"") || line.contains("\"SET\"") {
            break;
        }
    }
    // +1700000000.123456 [0 127.0.0.1:5555] "SET" "mk" "a \"b\"\n"
    assert!(line.starts_with('+'), "{line}");
    let (ts, rest) = line[1..].split_once(' ').unwrap();
    let (secs, usecs) = ts.split_once('.').unwrap();
    assert!(secs.parse::<u64>().unwrap() > 1_600_000_000);
    assert_eq!(usecs.len(), 6);
    assert!(rest.starts_with("[0 127.0.0.1:"), "{rest}");
    assert!(
        rest.trim_end().ends_with(r#"] "SET" "mk" "a \"b\"\n""#),
        "{rest}"
    );
}
