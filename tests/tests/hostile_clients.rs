//! Hostile clients (issue 18): huge protocol headers, clients that never read their
//! replies, floods of subscriptions and WATCHed keys, connection floods. Each must get a
//! clear error (or be disconnected) while the node keeps serving everyone else.

use meridian_tests::{is_closed, raw_roundtrip, Server};
use redis::cmd;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A plain client still gets answers.
fn serving(s: &Server) {
    let mut c = s.client();
    assert_eq!(cmd("PING").query::<String>(&mut c).unwrap(), "PONG");
}

/// Reads from `s` until `done(bytes so far)` or `within` passes.
fn read_until(s: &mut TcpStream, within: Duration, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    while !done(&out) && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    out
}

/// Polls `f` until it is true or `within` passes.
fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

fn resp_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The node's resident memory, from /proc (Linux), in bytes.
fn rss(c: &mut redis::Connection) -> Option<u64> {
    let info: String = cmd("INFO").arg("server").query(c).ok()?;
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))?
        .trim()
        .to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn connected_clients(c: &mut redis::Connection) -> i64 {
    let info: String = cmd("INFO").arg("clients").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("connected_clients")
}

#[test]
fn huge_headers_are_refused_before_any_allocation() {
    let s = Server::start();
    for (send, want) in [
        (
            &b"*2147483647\r\n"[..],
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1048577\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$2147483647\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$536870913\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        // Within proto-max-bulk-len but over the max request size: refused from the
        // header, before a byte of payload is buffered.
        (
            b"*1\r\n$536870912\r\n",
            "-ERR max request size exceeded\r\n",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$10485761\r\n",
            "-ERR max request size exceeded\r\n",
        ),
    ] {
        let mut c = s.raw();
        let reply = raw_roundtrip(&mut c, send, want.len());
        assert_eq!(String::from_utf8_lossy(&reply), want, "{send:?}");
        assert!(is_closed(&mut c), "{send:?}: connection left open");
    }
    // A million-argument count is accepted (it is within the limit) and costs nothing
    // until arguments arrive; the client can go away half-way.
    let mut c = s.raw();
    c.write_all(b"*1048576\r\n$1\r\na\r\n$1\r\nb\r\n").unwrap();
    serving(&s);
    drop(c);
    serving(&s);
}

#[test]
fn a_slow_big_request_is_bounded_and_others_are_served() {
    let s = Server::start();
    let mut c = s.client();
    // 9 MB declared (under the 10 MB max request size), sent in small pieces while
    // other clients keep working; then it completes and runs.
    let mut slow = s.raw();
    let value_len = 9 * 1024 * 1024;
    slow.write_all(format!("*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n${value_len}\r\n").as_bytes())
        .unwrap();
    let piece = vec![b'v'; 64 * 1024];
    let t0 = Instant::now();
    for i in 0..value_len / piece.len() {
        slow.write_all(&piece).unwrap();
        if i % 16 == 0 {
            assert_eq!(cmd("PING").query::<String>(&mut c).unwrap(), "PONG");
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "too slow");
    }
    let reply = raw_roundtrip(&mut slow, b"\r\n", 5);
    assert_eq!(String::from_utf8_lossy(&reply), "+OK\r\n");
    assert_eq!(
        cmd("STRLEN").arg("slow").query::<i64>(&mut c).unwrap(),
        value_len as i64
    );
    // A million tiny arguments, trickled: accepted as one request (no quadratic rescans
    // that would stall the node), answered with the command's own error.
    let mut many = s.raw();
    let n = 1024 * 1024;
    let mut req = format!("*{n}\r\n$4\r\nECHO\r\n").into_bytes();
    for _ in 1..n {
        req.extend_from_slice(b"$1\r\nx\r\n");
    }
    for part in req.chunks(1500) {
        many.write_all(part).unwrap();
    }
    let reply = read_until(&mut many, Duration::from_secs(60), |b| b.ends_with(b"\r\n"));
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    serving(&s);
}

#[test]
fn unauthenticated_clients_get_redis_7_limits() {
    let s = Server::start_with(Some("pw"), &[]);
    let mut c = s.raw();
    let reply = raw_roundtrip(&mut c, b"*11\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert!(is_closed(&mut c));
    let mut c = s.raw();
    let reply = raw_roundtrip(&mut c, b"*2\r\n$4\r\nAUTH\r\n$16385\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    assert!(is_closed(&mut c));
    // AUTH pipelined with a bigger request: the limits end with AUTH.
    let mut c = s.raw();
    let mut req = resp_command(&[b"AUTH", b"pw"]);
    let big = vec![b'x'; 100_000];
    req.extend(resp_command(&[
        b"MSET", b"a", b"1", b"b", b"2", b"c", b"3", b"d", b"4", b"e", &big,
    ]));
    let reply = raw_roundtrip(&mut c, &req, 10);
    assert_eq!(String::from_utf8_lossy(&reply), "+OK\r\n+OK\r\n");
}

#[test]
fn rest_limits_on_bodies_arguments_and_pipelines() {
    let s = Server::start();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    let base = format!("http://127.0.0.1:{}", s.rest_port);
    let post = |path: &str, body: &[u8]| -> (u16, String) {
        let r = match agent.post(&format!("{base}{path}")).send_bytes(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{path}: {e}"),
        };
        let status = r.status();
        let mut text = String::new();
        r.into_reader()
            .take(64 << 20)
            .read_to_string(&mut text)
            .unwrap();
        (status, text)
    };
    // A body over the max request size.
    let (st, body) = post("/set/k", &vec![b'x'; 10 * 1024 * 1024 + 1]);
    assert_eq!(
        (st, body.as_str()),
        (400, r#"{"error":"ERR max request size exceeded"}"#)
    );
    // A JSON command of more than a million arguments.
    let mut cmd_json = String::from(r#"["DEL""#);
    for _ in 0..1024 * 1024 {
        cmd_json.push_str(r#","a""#);
    }
    cmd_json.push(']');
    let (st, body) = post("/", cmd_json.as_bytes());
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("too many arguments"), "{body}");
    // A pipeline of more than a million commands.
    let mut pipe = String::from("[");
    for i in 0..1024 * 1024 + 1 {
        if i > 0 {
            pipe.push(',');
        }
        pipe.push_str(r#"["PING"]"#);
    }
    pipe.push(']');
    let (st, body) = post("/pipeline", pipe.as_bytes());
    assert_eq!(st, 400, "{}", &body[..body.len().min(300)]);
    assert!(body.contains("too many commands"), "{body}");
    // A pipeline whose replies would be huge: bounded by the max request size, the
    // rest answered with the error.
    let (st, _) = post("/set/big", &vec![b'v'; 3 * 1024 * 1024]);
    assert_eq!(st, 200);
    let (st, body) = post("/pipeline", r#"[["GET","big"],["GET","big"],["GET","big"],["GET","big"],["GET","big"],["GET","big"],["GET","big"],["PING"]]"#.as_bytes());
    assert_eq!(st, 200);
    assert!(body.len() < 16 * 1024 * 1024, "{} bytes", body.len());
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 8);
    assert_eq!(items[0]["result"].as_str().unwrap().len(), 3 * 1024 * 1024);
    assert_eq!(items[7]["error"], "ERR max request size exceeded");
    serving(&s);
}

#[test]
fn client_output_buffer_limit_config() {
    let s = Server::start();
    let mut c = s.client();
    let get = |c: &mut redis::Connection| -> Vec<String> {
        cmd("CONFIG")
            .arg("GET")
            .arg("client-output-buffer-limit")
            .query(c)
            .unwrap()
    };
    assert_eq!(
        get(&mut c),
        vec![
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        ]
    );
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 1mb 512kb 5 normal 100mb 0 0")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        get(&mut c)[1],
        "normal 104857600 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 5"
    );
    for (value, why) in [
        (
            "normal 1 2",
            "Wrong number of arguments in buffer limit configuration.",
        ),
        (
            "master 1 2 3",
            "Invalid client class specified in buffer limit configuration.",
        ),
        (
            "normal -1 0 0",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
    ] {
        let e = cmd("CONFIG")
            .arg("SET")
            .arg("client-output-buffer-limit")
            .arg(value)
            .query::<()>(&mut c)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("An error was signalled by the server - ResponseError: CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - {why}")
        );
    }
    assert_eq!(get(&mut c)[1].split(' ').nth(1), Some("104857600"));
}

#[test]
fn a_client_that_never_reads_big_replies_is_bounded() {
    let s = Server::start();
    let mut c = s.client();
    let big = vec![b'b'; 4 * 1024 * 1024];
    let _: () = cmd("SET").arg("bigkey").arg(&big).query(&mut c).unwrap();
    let before = rss(&mut c);
    // 3000 GETs of a 4 MB value: 12 GB of replies if they were all buffered.
    let mut hog = s.raw();
    let one = resp_command(&[b"GET", b"bigkey"]);
    let mut req = Vec::new();
    for _ in 0..3000 {
        req.extend_from_slice(&one);
    }
    hog.write_all(&req).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    for _ in 0..5 {
        assert_eq!(cmd("PING").query::<String>(&mut c).unwrap(), "PONG");
        if let (Some(b), Some(now)) = (before, rss(&mut c)) {
            assert!(
                now < b + 1024 * 1024 * 1024,
                "node grew from {b} to {now} bytes for a client that does not read"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // With a normal-class hard limit, such a client is disconnected.
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("normal 16mb 0 0")
        .query(&mut c)
        .unwrap();
    let clients_before = connected_clients(&mut c);
    let mut hog2 = s.raw();
    assert!(eventually(Duration::from_secs(10), || connected_clients(
        &mut c
    ) == clients_before
        + 1));
    hog2.write_all(&req).unwrap();
    assert!(
        eventually(Duration::from_secs(30), || connected_clients(&mut c)
            == clients_before),
        "the non-reading client was not disconnected"
    );
    // The first hog (connected under the unlimited default) is still served when it
    // finally reads: its replies arrive intact.
    let first = read_until(&mut hog, Duration::from_secs(30), |b| b.len() >= 8);
    assert!(
        first.starts_with(b"$4194304\r\nbbbb"),
        "{:?}",
        &first[..first.len().min(20)]
    );
    serving(&s);
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected() {
    let s = Server::start();
    let mut c = s.client();
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 4mb 2mb 5")
        .query(&mut c)
        .unwrap();
    let mut sub = s.raw();
    let ack = raw_roundtrip(&mut sub, &resp_command(&[b"SUBSCRIBE", b"feed"]), 30);
    assert!(String::from_utf8_lossy(&ack).ends_with(":1\r\n"));
    // A reading subscriber on the same channel is not affected.
    let mut good = s.raw();
    raw_roundtrip(&mut good, &resp_command(&[b"SUBSCRIBE", b"feed"]), 30);
    let reader = std::thread::spawn(move || {
        let got = read_until(&mut good, Duration::from_secs(120), |b| {
            b.windows(4).any(|w| w == b"last")
        });
        got.windows(4).any(|w| w == b"last")
    });
    let payload = vec![b'p'; 100 * 1024];
    let mut gone = false;
    for i in 0..2000 {
        let n: i64 = cmd("PUBLISH")
            .arg("feed")
            .arg(&payload)
            .query(&mut c)
            .unwrap();
        if n < 2 {
            gone = true;
            break;
        }
        assert!(
            i < 1999,
            "the non-reading subscriber was never disconnected"
        );
    }
    assert!(gone);
    assert!(eventually(Duration::from_secs(10), || {
        let v: Vec<(String, i64)> = cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("feed")
            .query(&mut c)
            .unwrap();
        v[0].1 == 1
    }));
    let n: i64 = cmd("PUBLISH")
        .arg("feed")
        .arg("last")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    assert!(
        reader.join().unwrap(),
        "the reading subscriber missed messages"
    );
    serving(&s);
}

#[test]
fn many_subscriptions_and_watched_keys_on_one_connection() {
    let s = Server::start();
    let mut c = s.client();
    let mut sub = s.raw();
    let chans: Vec<Vec<u8>> = (0..100_000)
        .map(|i| format!("ch{i}").into_bytes())
        .collect();
    let mut args: Vec<&[u8]> = vec![b"SUBSCRIBE"];
    args.extend(chans.iter().map(|c| c.as_slice()));
    sub.write_all(&resp_command(&args)).unwrap();
    let acks = read_until(&mut sub, Duration::from_secs(60), |b| {
        b.ends_with(b"ch99999\r\n:100000\r\n")
    });
    assert!(acks.ends_with(b":100000\r\n"), "SUBSCRIBE of 100k channels");
    assert_eq!(
        cmd("PUBLISH")
            .arg("ch777")
            .arg("m")
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    serving(&s);
    // 10k patterns: every PUBLISH walks them, and the node still answers promptly.
    let pats: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("p{i}:*").into_bytes())
        .collect();
    let mut args: Vec<&[u8]> = vec![b"PSUBSCRIBE"];
    args.extend(pats.iter().map(|c| c.as_slice()));
    sub.write_all(&resp_command(&args)).unwrap();
    let acks = read_until(&mut sub, Duration::from_secs(60), |b| {
        b.ends_with(b":110000\r\n")
    });
    assert!(acks.ends_with(b":110000\r\n"));
    for i in 0..50 {
        let n: i64 = cmd("PUBLISH")
            .arg(format!("p{i}:x"))
            .arg("m")
            .query(&mut c)
            .unwrap();
        assert_eq!(n, 1);
    }
    let _ = read_until(&mut sub, Duration::from_secs(1), |_| false);
    // UNSUBSCRIBE from everything.
    sub.write_all(&resp_command(&[b"UNSUBSCRIBE"])).unwrap();
    let acks = read_until(&mut sub, Duration::from_secs(60), |b| {
        b.ends_with(b":10000\r\n")
    });
    assert!(acks.ends_with(b":10000\r\n"));
    let n: Vec<(String, i64)> = cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("ch5")
        .query(&mut c)
        .unwrap();
    assert_eq!(n[0].1, 0);
    // Hanging up drops the patterns.
    drop(sub);
    assert!(eventually(Duration::from_secs(10), || cmd("PUBSUB")
        .arg("NUMPAT")
        .query::<i64>(&mut c)
        .unwrap()
        == 0));

    // WATCH of 100k keys, then a write to one of them aborts the transaction.
    let mut w = s.client();
    let mut watch = cmd("WATCH");
    for i in 0..100_000 {
        watch.arg(format!("wk{i}"));
    }
    let _: () = watch.query(&mut w).unwrap();
    let _: () = cmd("SET").arg("wk99999").arg("x").query(&mut c).unwrap();
    let _: () = cmd("MULTI").query(&mut w).unwrap();
    let _: () = cmd("SET").arg("other").arg("1").query(&mut w).unwrap();
    let r: Option<Vec<String>> = cmd("EXEC").query(&mut w).unwrap();
    assert_eq!(r, None, "EXEC must abort: a watched key was written");
    // Many clients watching and hanging up stay cheap for everyone else.
    let _: () = cmd("WATCH").arg("wk1").query(&mut w).unwrap();
    drop(w);
    for _ in 0..20 {
        let mut t = s.client();
        let _: () = cmd("WATCH").arg("x").query(&mut t).unwrap();
        let _: () = cmd("UNWATCH").query(&mut t).unwrap();
    }
    serving(&s);
}

#[test]
fn connection_floods_stop_at_maxclients_over_resp_and_rest() {
    let s = Server::start_with(None, &["--maxclients", "20"]);
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut c = s.raw();
        let r = raw_roundtrip(&mut c, b"PING\r\n", 7);
        assert_eq!(String::from_utf8_lossy(&r), "+PONG\r\n");
        held.push(c);
    }
    // The 21st RESP client, and a burst of more, are refused with Redis's text.
    for _ in 0..30 {
        let mut c = s.raw();
        let r = read_until(&mut c, Duration::from_secs(10), |b| b.ends_with(b"\r\n"));
        assert_eq!(
            String::from_utf8_lossy(&r),
            "-ERR max number of clients reached\r\n"
        );
        assert!(is_closed(&mut c));
    }
    // REST: Upstash's text, 429.
    let url = format!("http://127.0.0.1:{}/ping", s.rest_port);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    match agent.get(&url).call() {
        Err(ureq::Error::Status(code, r)) => {
            assert_eq!(code, 429);
            assert_eq!(
                r.into_string().unwrap(),
                r#"{"error":"ERR max concurrent connections exceeded"}"#
            );
        }
        other => panic!("expected 429, got {other:?}"),
    }
    // Connections given back are usable again, on both front ends.
    held.truncate(15);
    assert!(eventually(Duration::from_secs(10), || {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build();
        matches!(agent.get(&url).call(), Ok(r) if r.status() == 200)
    }));
    let mut c = s.raw();
    let r = raw_roundtrip(&mut c, b"PING\r\n", 7);
    assert_eq!(String::from_utf8_lossy(&r), "+PONG\r\n");
    for c in &mut held {
        let r = raw_roundtrip(c, b"PING\r\n", 7);
        assert_eq!(String::from_utf8_lossy(&r), "+PONG\r\n");
    }
}
