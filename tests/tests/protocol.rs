//! Wire-level behaviour: malformed input, limits, inline commands, other connections unaffected.

use meridian_tests::{is_closed, raw_roundtrip, Server};
use redis::cmd;
use std::io::Write;

#[test]
fn malformed_input_gets_protocol_error_and_others_keep_working() {
    let s = Server::start();
    let mut good = s.client();
    let _: () = cmd("SET").arg("k").arg("v").query(&mut good).unwrap();
    for garbage in [
        &b"*abc\r\n"[..],
        b"*1\r\n$-5\r\n",
        b"*1\r\n:12\r\n",
        b"\"unbalanced\r\n",
    ] {
        let mut bad = s.raw();
        let reply = raw_roundtrip(&mut bad, garbage, 5);
        let text = String::from_utf8_lossy(&reply);
        assert!(
            text.starts_with("-ERR Protocol error"),
            "{garbage:?} -> {text:?}"
        );
        assert!(is_closed(&mut bad));
    }
    assert_eq!(cmd("GET").arg("k").query::<String>(&mut good).unwrap(), "v");
}

#[test]
fn inline_commands_and_split_frames() {
    let s = Server::start();
    let mut c = s.raw();
    let r = raw_roundtrip(&mut c, b"SET inl \"a b\"\r\nGET inl\r\n", 14);
    assert_eq!(String::from_utf8_lossy(&r), "+OK\r\n$3\r\na b\r\n");
    // A request split across writes is assembled before it runs.
    c.write_all(b"*2\r\n$3\r\nGE").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let r = raw_roundtrip(&mut c, b"T\r\n$3\r\ninl\r\n", 9);
    assert_eq!(String::from_utf8_lossy(&r), "$3\r\na b\r\n");
}

#[test]
fn request_and_key_size_limits() {
    let s = Server::start();
    let mut c = s.client();
    let big_key = "k".repeat(32 * 1024 + 1);
    let e = cmd("SET")
        .arg(&big_key)
        .arg("v")
        .query::<()>(&mut c)
        .unwrap_err();
    assert_eq!(e.to_string(), "An error was signalled by the server - ResponseError: max key size exceeded. Limit: 32768 bytes, Actual: 32769 bytes");
    let ok_key = "k".repeat(32 * 1024);
    let _: () = cmd("SET").arg(&ok_key).arg("v").query(&mut c).unwrap();
    // More than 10 MB in one request: refused from the header, connection closed.
    let mut raw = s.raw();
    let reply = raw_roundtrip(
        &mut raw,
        format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", 11 * 1024 * 1024).as_bytes(),
        10,
    );
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR max request size exceeded\r\n"
    );
    assert!(is_closed(&mut raw));
    assert_eq!(cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 1);
    // 9 MB is fine.
    let nine = vec![b'x'; 9 * 1024 * 1024];
    let _: () = cmd("SET").arg("nine").arg(&nine).query(&mut c).unwrap();
    assert_eq!(
        cmd("STRLEN").arg("nine").query::<i64>(&mut c).unwrap(),
        nine.len() as i64
    );
}

#[test]
fn auth_required_when_password_set() {
    let s = Server::start_with(Some("s3cret"), &[]);
    let mut raw = s.raw();
    let r = raw_roundtrip(&mut raw, b"GET k\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-NOAUTH Authentication required.\r\n"
    );
    let r = raw_roundtrip(&mut raw, b"AUTH wrong\r\n", 10);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let r = raw_roundtrip(&mut raw, b"AUTH default s3cret\r\nSET k v\r\n", 10);
    assert_eq!(String::from_utf8_lossy(&r), "+OK\r\n+OK\r\n");
    let mut c = s.client();
    assert_eq!(cmd("GET").arg("k").query::<String>(&mut c).unwrap(), "v");
    let mut fresh = s.raw();
    let r = raw_roundtrip(&mut fresh, b"HELLO 3 AUTH default s3cret\r\n", 20);
    assert!(r.starts_with(b"%7\r\n"), "{}", String::from_utf8_lossy(&r));
}

#[test]
fn no_auth_refused_on_public_bind() {
    let out = std::process::Command::new(meridian_tests::binary())
        .args([
            "server",
            "--no-auth",
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
            "--data-dir",
        ])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-auth is refused"));
}

#[test]
fn generated_password_is_kept_and_printed() {
    let dir = tempfile::tempdir().unwrap();
    let port = meridian_tests::free_port();
    let mut child = std::process::Command::new(meridian_tests::binary())
        .args(["server", "--port", &port.to_string()])
        .args([
            "--rest-port",
            &meridian_tests::free_port().to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("MERIDIAN_PASSWORD")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !banner.contains("ready in") && std::time::Instant::now() < deadline {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut out, &mut line).unwrap() == 0 {
            break;
        }
        banner.push_str(&line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let pw = std::fs::read_to_string(dir.path().join("password")).unwrap();
    assert_eq!(pw.len(), 32);
    assert!(
        banner.contains(&format!("redis-cli -h 127.0.0.1 -p {port} -a {pw}")),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("REDIS_URL=redis://:{pw}@127.0.0.1:{port}")),
        "{banner}"
    );
}

#[test]
fn withscores_replies_are_flat_in_resp2_and_pairs_in_resp3() {
    let s = Server::start();
    let mut c = s.raw();
    let r = raw_roundtrip(
        &mut c,
        b"ZADD z 1.5 a 2 b\r\nZRANGE z 0 -1 WITHSCORES\r\n",
        40,
    );
    assert_eq!(
        String::from_utf8_lossy(&r),
        ":2\r\n*4\r\n$1\r\na\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    let hello = raw_roundtrip(&mut c, b"HELLO 3\r\n", 20);
    assert!(hello.starts_with(b"%7\r\n"));
    // Drain the rest of the HELLO map before the next command.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut rest = [0u8; 4096];
    c.set_nonblocking(true).unwrap();
    let _ = std::io::Read::read(&mut c, &mut rest);
    c.set_nonblocking(false).unwrap();
    let r = raw_roundtrip(&mut c, b"ZRANGE z 0 -1 WITHSCORES\r\n", 40);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n"
    );
}

#[test]
fn xread_is_an_array_of_pairs_in_resp2_and_a_map_in_resp3() {
    let s = Server::start();
    let mut c = s.raw();
    let entry = "*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
    let r = raw_roundtrip(&mut c, b"XADD s 1-1 f v\r\nXREAD STREAMS s 0\r\n", 50);
    assert_eq!(
        String::from_utf8_lossy(&r),
        format!("$3\r\n1-1\r\n*1\r\n*2\r\n$1\r\ns\r\n{entry}")
    );
    let r = raw_roundtrip(
        &mut c,
        b"XGROUP CREATE s g 0\r\nXREADGROUP GROUP g c STREAMS s >\r\n",
        50,
    );
    assert_eq!(
        String::from_utf8_lossy(&r),
        format!("+OK\r\n*1\r\n*2\r\n$1\r\ns\r\n{entry}")
    );
    let hello = raw_roundtrip(&mut c, b"HELLO 3\r\n", 20);
    assert!(hello.starts_with(b"%7\r\n"));
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut rest = [0u8; 4096];
    c.set_nonblocking(true).unwrap();
    let _ = std::io::Read::read(&mut c, &mut rest);
    c.set_nonblocking(false).unwrap();
    let r = raw_roundtrip(&mut c, b"XREAD STREAMS s 0\r\n", 40);
    assert_eq!(
        String::from_utf8_lossy(&r),
        format!("%1\r\n$1\r\ns\r\n{entry}")
    );
    let r = raw_roundtrip(&mut c, b"XREAD STREAMS s 1-1\r\n", 3);
    assert_eq!(String::from_utf8_lossy(&r), "_\r\n");
}

fn last_log_index(c: &mut redis::Connection) -> u64 {
    let info: String = cmd("INFO").arg("replication").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("raft_last_log_index:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no raft_last_log_index in {info}"))
}

/// A pipeline alternating writes with fast reads of what was just written (the shape of
/// Redis's PIPELINING stresser): every read sees the write before it, a slow read in
/// between too, and the fast reads ride in their writes' log entry instead of each
/// waiting for a commit of its own (one fsync per pair before: 10,000 pairs took 5 s).
#[test]
fn pipelined_reads_after_writes_see_them_and_share_their_log_entries() {
    use redis::Value;
    let s = Server::start();
    let mut c = s.client();
    let before = last_log_index(&mut c);
    let n = 5000;
    let mut p = redis::pipe();
    for i in 0..n {
        p.cmd("SET").arg(format!("key:{i}")).arg(format!("v{i}"));
        p.cmd("GET").arg(format!("key:{i}"));
        p.cmd("INCR").arg("ctr");
        p.cmd("GET").arg("ctr");
        if i % 1000 == 0 {
            // A slow read (not folded into the entry) still sees the writes before it.
            p.cmd("RPUSH").arg("l").arg(i);
            p.cmd("LRANGE").arg("l").arg(-1).arg(-1);
        }
    }
    let replies: Vec<Value> = p.query(&mut c).unwrap();
    let bulk = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a bulk string: {other:?}"),
    };
    let mut it = replies.iter();
    for i in 0..n {
        assert_eq!(it.next(), Some(&Value::Okay));
        assert_eq!(bulk(it.next().unwrap()), format!("v{i}"));
        assert_eq!(it.next(), Some(&Value::Int(i as i64 + 1)));
        assert_eq!(bulk(it.next().unwrap()), (i + 1).to_string());
        if i % 1000 == 0 {
            assert_eq!(it.next(), Some(&Value::Int(i as i64 / 1000 + 1)));
            match it.next() {
                Some(Value::Array(v)) => assert_eq!(bulk(&v[0]), i.to_string()),
                other => panic!("LRANGE -> {other:?}"),
            }
        }
    }
    assert!(it.next().is_none());
    let entries = last_log_index(&mut c) - before;
    assert!(
        entries < n as u64 / 5,
        "{n} write+read pairs in one pipeline took {entries} log entries"
    );
}
