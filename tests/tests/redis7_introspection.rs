//! OBJECT ENCODING, keyspace events of stream and hash-field commands, and SLOWLOG,
//! compared with a stock redis-server 7.0 where it has the command (Redis 8's documented
//! events for HGETDEL / HGETEX / HSETEX).

use meridian_tests::{connect, RedisServer, Server};
use redis::{cmd, Value};
use std::time::Duration;

fn text(r: redis::RedisResult<Value>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!(
            "error: {} {}",
            e.code().unwrap_or_default(),
            e.detail().unwrap_or_default()
        ),
    }
}

fn run(c: &mut redis::Connection, argv: &[&str]) -> redis::RedisResult<Value> {
    let mut q = cmd(argv[0]);
    for a in &argv[1..] {
        q.arg(*a);
    }
    q.query(c)
}

/// Runs every command on both servers; the commands whose replies differ.
fn differences(
    script: &[Vec<String>],
    theirs: &mut redis::Connection,
    ours: &mut redis::Connection,
) -> Vec<String> {
    let mut diffs = Vec::new();
    for argv in script {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let want = text(run(theirs, &argv));
        let got = text(run(ours, &argv));
        if want != got {
            diffs.push(format!("{argv:?}\n  redis:    {want}\n  meridian: {got}"));
        }
    }
    diffs
}

fn line(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// OBJECT ENCODING as redis-server 7.0 reports it: quicklist lists, intset/hashtable
/// sets, listpack/hashtable hashes and listpack/skiplist sorted sets by the entry and
/// value limits, CONFIG SET of those limits (and their ziplist aliases) included.
#[test]
fn object_encoding_matches_redis_7() {
    let x = |n: usize| "x".repeat(n);
    let mut script: Vec<Vec<String>> = [
        "RPUSH l a",
        "OBJECT ENCODING l",
        "SADD s1 1 2 3",
        "OBJECT ENCODING s1",
        "SADD s2 a",
        "OBJECT ENCODING s2",
        "SADD s3 1 -5 9223372036854775807",
        "OBJECT ENCODING s3",
        "SADD s4 01",
        "OBJECT ENCODING s4",
        "SADD s5 9223372036854775808",
        "OBJECT ENCODING s5",
        "HSET h1 a 1",
        "OBJECT ENCODING h1",
        "ZADD z1 1 a",
        "OBJECT ENCODING z1",
        "SET str 123",
        "OBJECT ENCODING str",
        "SET str abc",
        "OBJECT ENCODING str",
        "XADD x 1-1 a 1",
        "OBJECT ENCODING x",
        "OBJECT ENCODING nokey",
        // CONFIG SET takes effect, under either name.
        "CONFIG SET zset-max-ziplist-entries 1",
        "ZADD z4 1 a 2 b",
        "OBJECT ENCODING z4",
        "ZADD z5 1 a",
        "OBJECT ENCODING z5",
        "CONFIG SET zset-max-listpack-entries 128",
        "CONFIG SET set-max-intset-entries 2",
        "SADD s6 1 2 3",
        "OBJECT ENCODING s6",
        "SADD s7 1 2",
        "OBJECT ENCODING s7",
        "CONFIG SET set-max-intset-entries 512",
        "CONFIG SET hash-max-listpack-value 3",
        "HSET h5 a 1234",
        "OBJECT ENCODING h5",
        "HSET h6 abcd 1",
        "OBJECT ENCODING h6",
        "HSET h7 abc 123",
        "OBJECT ENCODING h7",
        "CONFIG SET hash-max-ziplist-value 64",
        "CONFIG SET hash-max-ziplist-entries 1",
        "HSET h8 a 1 b 2",
        "OBJECT ENCODING h8",
        "CONFIG SET hash-max-listpack-entries 512",
        "CONFIG SET zset-max-ziplist-value 2",
        "ZADD z6 1 abc",
        "OBJECT ENCODING z6",
        "ZADD z7 1 ab",
        "OBJECT ENCODING z7",
        "CONFIG SET zset-max-listpack-value 64",
        "SINTERSTORE s8 s1 s3",
        "OBJECT ENCODING s8",
        "SUNIONSTORE s9 s1 s2",
        "OBJECT ENCODING s9",
        "ZRANGESTORE z8 z4 0 0",
        "OBJECT ENCODING z8",
    ]
    .iter()
    .map(|l| line(l))
    .collect();
    // Value and entry limits at their edges.
    for (cmd_line, key) in [
        (format!("HSET h2 a {}", x(64)), "h2"),
        (format!("HSET h3 a {}", x(65)), "h3"),
        (format!("HSET h4 {} 1", x(65)), "h4"),
        (format!("ZADD z2 1 {}", x(64)), "z2"),
        (format!("ZADD z3 1 {}", x(65)), "z3"),
        (format!("SET str {}", x(44)), "str"),
        (format!("SET str {}", x(45)), "str"),
    ] {
        script.push(line(&cmd_line));
        script.push(line(&format!("OBJECT ENCODING {key}")));
    }
    let mut zbig = line("ZADD zbig");
    let mut sbig = line("SADD sbig");
    let mut hbig = line("HSET hbig");
    for i in 0..128 {
        zbig.extend([i.to_string(), format!("m{i}")]);
    }
    for i in 0..512 {
        sbig.push(i.to_string());
        hbig.extend([format!("f{i}"), i.to_string()]);
    }
    for (big, key, more) in [
        (zbig, "zbig", "ZADD zbig 1 one-more"),
        (sbig, "sbig", "SADD sbig 512"),
        (hbig, "hbig", "HSET hbig one more"),
    ] {
        script.push(big);
        script.push(line(&format!("OBJECT ENCODING {key}")));
        script.push(line(more));
        script.push(line(&format!("OBJECT ENCODING {key}")));
    }

    let redis = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis.port));
    let s = Server::start();
    let mut ours = s.client();
    let diffs = differences(&script, &mut theirs, &mut ours);
    assert!(
        diffs.is_empty(),
        "{} replies differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// The keyevent notifications `commands` raise on a server, up to a closing marker.
fn events(
    conn: &mut redis::Connection,
    sub: &mut redis::Connection,
    commands: &[Vec<String>],
) -> Vec<String> {
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("EAn")
        .query(conn)
        .unwrap();
    let mut p = sub.as_pubsub();
    p.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    p.psubscribe("__keyevent@0__:*").unwrap();
    for argv in commands {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let _ = run(conn, &argv);
    }
    let _ = run(conn, &["SET", "end-of-events", "1"]);
    let mut got = Vec::new();
    loop {
        let m = p.get_message().expect("keyspace event");
        let ch = m.get_channel_name().to_string();
        let key: String = m.get_payload().unwrap();
        if key == "end-of-events" {
            if ch.ends_with(":set") {
                break;
            }
            continue;
        }
        got.push(format!(
            "{} {key}",
            ch.trim_start_matches("__keyevent@0__:")
        ));
    }
    got
}

/// Stream commands raise Redis 7.0's events: XREADGROUP, XACK, XCLAIM and XAUTOCLAIM
/// none of their own, a consumer they create `xgroup-createconsumer`, an XADD that
/// trims `xadd` then `xtrim`, an XTRIM that removes nothing none.
#[test]
fn stream_keyspace_events_match_redis_7() {
    let script: Vec<Vec<String>> = [
        "XADD s 1-1 a 1",
        "XADD s MAXLEN 1 1-2 a 2",
        "XGROUP CREATE s g 0",
        "XREADGROUP GROUP g c1 COUNT 1 STREAMS s >",
        "XREADGROUP GROUP g c1 COUNT 1 STREAMS s >",
        "XACK s g 1-2",
        "XADD s 1-3 a 3",
        "XREADGROUP GROUP g c1 STREAMS s >",
        "XCLAIM s g c2 0 1-3",
        "XAUTOCLAIM s g c3 0 0",
        "XCLAIM s g c2 0 1-3",
        "XACK s g 1-3",
        "XACK s g 1-3",
        "XGROUP CREATECONSUMER s g c9",
        "XGROUP DELCONSUMER s g c9",
        "XTRIM s MAXLEN 0",
        "XTRIM s MAXLEN 0",
        "XDEL s 1-1",
        "XSETID s 99-0",
        "XADD s MAXLEN 5 * a 3",
        "XADD fresh MAXLEN 0 * a 1",
        "XADD s NOMKSTREAM * a 1",
        "XADD none NOMKSTREAM * a 1",
        "XGROUP DESTROY s g",
    ]
    .iter()
    .map(|l| line(l))
    .collect();
    let redis = RedisServer::start();
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    let want = events(&mut connect(&url), &mut connect(&url), &script);
    let s = Server::start();
    let got = events(&mut s.client(), &mut s.client(), &script);
    assert_eq!(got, want);
    assert!(want.contains(&"xtrim fresh".to_string()), "{want:?}");
}

/// HGETDEL / HGETEX / HSETEX (Redis 8.0, absent from 7.0) raise the events Redis 8
/// documents: hdel / hexpire / hpersist / hset, `del` when the hash is emptied.
#[test]
fn hash_field_commands_raise_redis_8_events() {
    let script: Vec<Vec<String>> = [
        "HSET h a 1 b 2 c 3",
        "HGETDEL h FIELDS 1 a",
        "HGETDEL h FIELDS 1 nosuch",
        "HGETEX h PX 100000 FIELDS 1 b",
        "HGETEX h PERSIST FIELDS 1 b",
        "HGETEX h PERSIST FIELDS 1 b",
        "HGETEX h FIELDS 1 b",
        "HGETEX h EXAT 1 FIELDS 1 b",
        "HGETDEL h FIELDS 2 c zz",
        "HSETEX n FIELDS 1 f v",
        "HSETEX n EX 100 FIELDS 1 f v",
        "HSETEX n KEEPTTL FIELDS 1 f w",
        "HSETEX n FNX FIELDS 1 f w",
        "HSETEX n PXAT 1 FIELDS 1 f v",
        "HSETEX m PXAT 1 FIELDS 1 f v",
    ]
    .iter()
    .map(|l| line(l))
    .collect();
    let s = Server::start();
    let got = events(&mut s.client(), &mut s.client(), &script);
    let want = [
        "new h",
        "hset h",
        "hdel h",
        "hexpire h",
        "hpersist h",
        "hdel h",
        "hdel h",
        "del h",
        "new n",
        "hset n",
        "hset n",
        "hexpire n",
        "hset n",
        "hset n",
        "hdel n",
        "del n",
        "new m",
        "hset m",
        "hdel m",
        "del m",
    ];
    assert_eq!(got, want);
}

/// The arguments of each SLOWLOG GET entry (element 3), newest first.
fn slowlog_args(c: &mut redis::Connection) -> Vec<Vec<String>> {
    let entries: Vec<Value> = cmd("SLOWLOG").arg("GET").arg(-1).query(c).unwrap();
    entries
        .into_iter()
        .map(|e| {
            let Value::Array(fields) = e else {
                panic!("entry {e:?}")
            };
            assert_eq!(fields.len(), 6, "{fields:?}");
            redis::from_redis_value::<Vec<String>>(&fields[3]).unwrap()
        })
        .collect()
}

/// SLOWLOG GET/LEN/RESET/HELP with slowlog-log-slower-than and slowlog-max-len, entries
/// trimmed as Redis trims them (32 arguments, 128 bytes), secrets redacted, reads,
/// writes and connection commands alike.
#[test]
fn slowlog_matches_redis_7() {
    let mut sadd = line("SADD set");
    sadd.extend((3..=33).map(|i| i.to_string()));
    let script: Vec<Vec<String>> = vec![
        line("SLOWLOG LEN"),
        line("CONFIG SET slowlog-log-slower-than 0"),
        line("SLOWLOG RESET"),
        line("SET key test"),
        sadd,
        line(&format!("SADD set foo {}", "A".repeat(129))),
        line("GET key"),
        line("CLIENT SETNAME slowclient"),
        line("AUTH somebody wrongpassword"),
        line("HELLO 2 AUTH somebody wrongpassword"),
        line("CONFIG SET slowlog-log-slower-than -1"),
        line("PING"),
        line("SLOWLOG LEN"),
        line("SLOWLOG GET 2"),
        line("SLOWLOG GET 0"),
        line("SLOWLOG GET -2"),
        line("SLOWLOG GET x"),
        line("SLOWLOG GET 1 2"),
        line("SLOWLOG LEN x"),
        line("SLOWLOG NOSUCH"),
        line("SLOWLOG HELP"),
        line("SLOWLOG"),
    ];
    let redis = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis.port));
    let s = Server::start();
    let mut ours = s.client();
    // Replies that carry ids, times or durations are compared by their arguments.
    let plain: Vec<Vec<String>> = script
        .iter()
        .filter(|a| !(a[0] == "SLOWLOG" && a.get(1).is_some_and(|s| s == "GET")))
        .cloned()
        .collect();
    let diffs = differences(&plain, &mut theirs, &mut ours);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    let want = slowlog_args(&mut theirs);
    let got = slowlog_args(&mut ours);
    assert_eq!(got, want);
    assert!(
        want.iter()
            .any(|a| a.last().is_some_and(|l| l == "... (2 more arguments)")),
        "{want:?}"
    );
    for c in [&mut theirs, &mut ours] {
        let e: Vec<Value> = cmd("SLOWLOG").arg("GET").arg(1).query(c).unwrap();
        let Value::Array(f) = &e[0] else { panic!() };
        // The newest entry (HELLO: CONFIG SET ... -1 is not logged), by this client.
        assert_eq!(f[5], Value::BulkString(b"slowclient".to_vec()));
        let n: i64 = cmd("SLOWLOG").arg("LEN").query(c).unwrap();
        assert_eq!(text(cmd("SLOWLOG").arg("GET").arg(0).query(c)), "array([])");
        // slowlog-max-len trims the log at its next entry, newest kept.
        let _: () = cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-max-len")
            .arg(3)
            .query(c)
            .unwrap();
        let m: i64 = cmd("SLOWLOG").arg("LEN").query(c).unwrap();
        assert_eq!(m, n);
        let _: () = cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-log-slower-than")
            .arg(0)
            .query(c)
            .unwrap();
        let m: i64 = cmd("SLOWLOG").arg("LEN").query(c).unwrap();
        assert_eq!(m, 3);
        let args = slowlog_args(c);
        assert_eq!(args[0], ["SLOWLOG", "LEN"]);
        assert_eq!(args[1], ["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        let _: () = cmd("SLOWLOG").arg("RESET").query(c).unwrap();
        let _: () = cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-log-slower-than")
            .arg(10_000_000)
            .query(c)
            .unwrap();
        let _: () = cmd("SET").arg("k").arg("v").query(c).unwrap();
        let _: String = cmd("PING").query(c).unwrap();
        // Only the RESET (logged after it ran, under the old threshold).
        assert_eq!(slowlog_args(c), [["SLOWLOG", "RESET"]]);
    }
}

fn info_text(c: &mut redis::Connection, args: &[&str]) -> String {
    let mut q = cmd("INFO");
    for a in args {
        q.arg(*a);
    }
    q.query(c).unwrap()
}

/// The `# Section` headers of an INFO reply, Meridian's own `# Raft` left out.
fn headers(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("# ") && *l != "# Raft")
        .map(str::to_string)
        .collect()
}

/// INFO's sections as redis-server 7.0 prints them (default: no commandstats or
/// latencystats; `all` / `everything`: both, in Redis's order), the build fields of
/// # Server, and latencystats lines with the configured percentiles.
#[test]
fn info_sections_and_latencystats_match_redis_7() {
    let redis = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis.port));
    let s = Server::start();
    let mut ours = s.client();
    for args in [
        &[][..],
        &["default"],
        &["all"],
        &["everything"],
        &["cpu", "all"],
        &["cpu", "default"],
        &["latencystats", "server"],
        &["modules"],
    ] {
        assert_eq!(
            headers(&info_text(&mut ours, args)),
            headers(&info_text(&mut theirs, args)),
            "INFO {args:?}"
        );
    }
    let server = info_text(&mut ours, &["server"]);
    let field = |name: &str| {
        server
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {server}"))
            .to_string()
    };
    let sha = field("redis_git_sha1");
    assert!(
        sha.len() == 8 && sha.chars().all(|c| c.is_ascii_hexdigit()),
        "{sha}"
    );
    assert!(field("redis_git_dirty").parse::<u64>().is_ok());
    assert!(u64::from_str_radix(&field("redis_build_id"), 16).is_ok());
    let memory = info_text(&mut ours, &["memory"]);
    assert!(
        memory.contains("lazyfree_pending_objects:0\r\n"),
        "{memory}"
    );

    // latencystats: one line per command called, with the configured percentiles.
    for c in [&mut theirs, &mut ours] {
        let _: () = cmd("CONFIG")
            .arg("SET")
            .arg("latency-tracking-info-percentiles")
            .arg("50 99.9 100")
            .query(c)
            .unwrap();
        for i in 0..20 {
            let _: () = cmd("SET").arg("k").arg(i).query(c).unwrap();
        }
    }
    let shape = |text: String| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("latency_percentiles_usec_set:"))
            .map(|l| {
                l.split([':', ','])
                    .map(|kv| kv.split('=').next().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    };
    let want = shape(info_text(&mut theirs, &["latencystats"]));
    assert_eq!(want, ["latency_percentiles_usec_set,p50,p99.9,p100"]);
    assert_eq!(shape(info_text(&mut ours, &["latencystats"])), want);
    let line = info_text(&mut ours, &["latencystats"]);
    let values: Vec<f64> = line
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .unwrap()
        .split(',')
        .map(|kv| kv.split('=').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(
        values[0] > 0.0 && values[0] <= values[1] && values[1] <= values[2],
        "{values:?}"
    );
    // CONFIG RESETSTAT clears the histograms.
    let _: () = cmd("CONFIG").arg("RESETSTAT").query(&mut ours).unwrap();
    assert!(shape(info_text(&mut ours, &["latencystats"])).is_empty());
}

/// LATENCY: HELP and errors as Redis 7.0; HISTOGRAM's calls and cumulative buckets;
/// the monitor records a command over latency-monitor-threshold (LATEST, HISTORY,
/// GRAPH, DOCTOR, RESET).
#[test]
fn latency_command_matches_redis_7() {
    let redis = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis.port));
    let s = Server::start();
    let mut ours = s.client();
    let script: Vec<Vec<String>> = [
        "LATENCY HELP",
        "LATENCY LATEST",
        "LATENCY HISTORY command",
        "LATENCY RESET",
        "LATENCY RESET command",
        "LATENCY DOCTOR",
        "LATENCY GRAPH command",
        "LATENCY HISTORY",
        "LATENCY LATEST x",
        "LATENCY NOSUCH",
        "LATENCY",
        "LATENCY HISTOGRAM nosuchcommand",
    ]
    .iter()
    .map(|l| line(l))
    .collect();
    let diffs = differences(&script, &mut theirs, &mut ours);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));

    for (is_ours, c) in [(false, &mut theirs), (true, &mut ours)] {
        for i in 0..5 {
            let _: () = cmd("SET").arg("k").arg(i).query(c).unwrap();
        }
        let h: Value = cmd("LATENCY")
            .arg("HISTOGRAM")
            .arg("set")
            .arg("nosuch")
            .query(c)
            .unwrap();
        // RESP2: [name, [calls, n, histogram_usec, [bound, cumulative, ...]]].
        let Value::Array(top) = h else {
            panic!("{h:?}")
        };
        assert_eq!(top[0], Value::BulkString(b"set".to_vec()));
        let Value::Array(entry) = &top[1] else {
            panic!()
        };
        assert_eq!(entry[0], Value::BulkString(b"calls".to_vec()));
        assert_eq!(entry[1], Value::Int(5));
        let Value::Array(buckets) = &entry[3] else {
            panic!()
        };
        let nums: Vec<i64> = buckets
            .iter()
            .map(|v| redis::from_redis_value(v).unwrap())
            .collect();
        // Increasing bounds, cumulative counts ending at the calls. Meridian's bounds are
        // powers of two; redis-server's are its hdr buckets' limits in whole us (1024 ns
        // doublings divided down: 1, 2, 4, ..., 32, 65, 131, ...), so a SET slower than
        // 32 us on a loaded machine gives it a bound like 65 (a CI run saw 33).
        assert!(nums.chunks(2).all(|p| p[0] > 0), "{nums:?}");
        assert!(
            nums.chunks(2)
                .zip(nums.chunks(2).skip(1))
                .all(|(a, b)| a[0] < b[0] && a[1] <= b[1]),
            "{nums:?}"
        );
        if is_ours {
            assert!(nums.chunks(2).all(|p| p[0].count_ones() == 1), "{nums:?}");
        }
        assert_eq!(*nums.last().unwrap(), 5);

        // A 30+ ms command with the monitor at 1 ms.
        let _: () = cmd("CONFIG")
            .arg("SET")
            .arg("latency-monitor-threshold")
            .arg(1)
            .query(c)
            .unwrap();
        let _: i64 = cmd("EVAL")
            .arg("local i = 0 while i < 5000000 do i = i + 1 end return i")
            .arg(0)
            .query(c)
            .unwrap();
        let latest: Vec<Value> = cmd("LATENCY").arg("LATEST").query(c).unwrap();
        let Value::Array(ev) = &latest[0] else {
            panic!()
        };
        assert_eq!(ev.len(), 4);
        assert_eq!(ev[0], Value::BulkString(b"command".to_vec()));
        let history: Vec<Vec<i64>> = cmd("LATENCY")
            .arg("HISTORY")
            .arg("command")
            .query(c)
            .unwrap();
        assert!(!history.is_empty() && history[0][1] >= 1, "{history:?}");
        let doctor: String = cmd("LATENCY").arg("DOCTOR").query(c).unwrap();
        assert!(
            doctor.starts_with("Dave, I have observed latency spikes"),
            "{doctor}"
        );
        assert!(doctor.contains("1. command:"), "{doctor}");
        let graph: String = cmd("LATENCY").arg("GRAPH").arg("command").query(c).unwrap();
        assert!(graph.starts_with("command - high "), "{graph}");
        let n: i64 = cmd("LATENCY").arg("RESET").query(c).unwrap();
        assert!(n >= 1);
        let latest: Vec<Value> = cmd("LATENCY").arg("LATEST").query(c).unwrap();
        assert!(latest.is_empty());
    }
}

/// SLOWLOG (and LATENCY, BACKUP) queue in MULTI like any command and run at EXEC, as
/// Redis's slowlog.tcl "Rewritten commands are logged as their original command" does.
#[test]
fn slowlog_runs_inside_exec() {
    let s = meridian_tests::Server::start();
    let mut c = s.client();
    let replies: Vec<Value> = redis::pipe()
        .atomic()
        .cmd("LPUSH")
        .arg("l")
        .arg("foo")
        .cmd("SLOWLOG")
        .arg("RESET")
        .cmd("LATENCY")
        .arg("RESET")
        .query(&mut c)
        .unwrap();
    assert_eq!(replies[0], Value::Int(1));
    assert_eq!(replies[1], Value::Okay);
    assert!(matches!(replies[2], Value::Int(_)), "{:?}", replies[2]);
}
