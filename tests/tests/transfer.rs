//! `meridian import` / `meridian export` against a stock redis-server 7.0, everything on
//! 127.0.0.1 and bounded in time:
//!
//! - a redis-server filled with every type (small and big encodings: listpack, quicklist
//!   with plain nodes, intset, hashtable, skiplist, streams with groups, TTLs, binary and
//!   LZF-compressible keys, values over the 8 MB a RESTORE may carry, a second database,
//!   a function library) → `import --from` → every key read back equal (GET, LRANGE,
//!   SMEMBERS, ZRANGE WITHSCORES, HGETALL, XRANGE and the stream's groups), TTLs within
//!   bounds;
//! - an import killed midway continues with `--resume` (without flushing), and a resume
//!   file's cursor is where the scan continues;
//! - `export --to FILE` from Meridian → redis-server started on that file → same keys;
//! - redis-server `SAVE` (LZF on, LFU hints) → `import --from-rdb` → same keys, databases
//!   kept;
//! - a corrupt, a truncated, a newer-version and a module-data RDB file are refused,
//!   naming the file and an offset, with the destination unchanged.

use meridian_tests::{binary, connect, free_port, Server};
use redis::{Connection, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---- processes ---------------------------------------------------------------------------

/// A redis-server whose RDB file is `dir/dbfilename` (loaded at start if present).
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(dir: &Path, dbfilename: &str, extra: &[&str]) -> Redis {
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.join(format!("redis-{port}.log"))).expect("log");
            let mut child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    dir.to_str().expect("utf-8 dir"),
                    "--dbfilename",
                    dbfilename,
                ])
                .args(extra)
                .stdout(Stdio::from(log))
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is needed for this test (scripts/dev.sh test installs it)");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: another one
                }
                if let Ok(c) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) {
                    if let Ok(mut con) = c.get_connection_with_timeout(Duration::from_secs(1)) {
                        // PING answers LOADING while the file loads (and NOAUTH
                        // when a password is set: up, then).
                        match redis::cmd("PING").query::<String>(&mut con) {
                            Ok(_) => return Redis { child, port },
                            Err(e) if e.code() == Some("NOAUTH") => return Redis { child, port },
                            Err(_) => {}
                        }
                    }
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("redis-server did not start");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server did not start on a free port");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn client(&self, db: u32) -> Connection {
        connect(&format!("{}/{db}", self.url()))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn meridian_url(s: &Server) -> String {
    format!("redis://127.0.0.1:{}", s.port)
}

fn meridian_client(s: &Server, db: u32) -> Connection {
    connect(&format!("{}/{db}", meridian_url(s)))
}

/// Starts `meridian ARGS` with stderr collected.
fn spawn_tool(args: &[&str]) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn meridian");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    (child, reader)
}

/// Runs `meridian ARGS` to its end (at most 180 s): exit code and stderr.
fn tool(args: &[&str]) -> (i32, String) {
    let (mut child, reader) = spawn_tool(args);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            let err = reader.join().unwrap_or_default();
            return (st.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "meridian {args:?} did not finish within 180 s; stderr:\n{}",
                reader.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("meridian-transfer")
        .tempdir()
        .expect("tempdir")
}

// ---- data ---------------------------------------------------------------------------------

fn q(c: &mut Connection, args: &[&[u8]]) -> Value {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).expect("command name"));
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&args.concat())))
}

/// Incompressible bytes, deterministic.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

const LIB: &str =
    "#!lua name=tlib\nredis.register_function('techo', function(keys, args) return args[1] end)";

/// Every type in small and big encodings, TTLs, odd keys; `many` small strings.
fn fill(c: &mut Connection, many: usize) {
    let mut p = redis::pipe();
    p.cmd("SET").arg("s:small").arg("hello").ignore();
    p.cmd("SET").arg("s:int").arg("12345").ignore();
    p.cmd("SET").arg("s:neg").arg("-2147483648").ignore();
    p.cmd("SET").arg("s:empty").arg("").ignore();
    p.cmd("SET")
        .arg(&b"bin:\x00\xff\r\n"[..])
        .arg(&b"\x00\x01\xfe"[..])
        .ignore();
    p.cmd("SET")
        .arg("x".repeat(300))
        .arg("a long key name, LZF-compressed in an RDB")
        .ignore();
    p.cmd("SET")
        .arg("s:compressible")
        .arg("abc".repeat(3000))
        .ignore();
    p.cmd("SET").arg("s:noise").arg(noise(1, 100_000)).ignore();
    p.cmd("RPUSH")
        .arg("l:small")
        .arg(&["a", "1", "-7", "", "3.5"])
        .ignore();
    for chunk in (0..3000).collect::<Vec<_>>().chunks(500) {
        let items: Vec<String> = chunk.iter().map(|i| format!("element-{i}")).collect();
        p.cmd("RPUSH").arg("l:big").arg(items).ignore();
    }
    // An element over 8 KB: a plain quicklist node.
    p.cmd("RPUSH")
        .arg("l:plain")
        .arg("a")
        .arg(noise(2, 9000))
        .arg("b")
        .ignore();
    p.cmd("SADD")
        .arg("set:ints")
        .arg(&["1", "-5", "70000", "9000000000"])
        .ignore();
    p.cmd("SADD").arg("set:strs").arg(&["a", "b", "1"]).ignore();
    let ints: Vec<String> = (0..600).map(|i| (i * 7).to_string()).collect();
    p.cmd("SADD").arg("set:bigints").arg(ints).ignore();
    let strs: Vec<String> = (0..1000).map(|i| format!("member-{i}")).collect();
    p.cmd("SADD").arg("set:big").arg(strs).ignore();
    p.cmd("ZADD")
        .arg("z:small")
        .arg(&[
            "1.5", "a", "-2", "b", "0.1", "c", "1e20", "d", "-inf", "e", "inf", "f",
        ])
        .ignore();
    let mut zbig = Vec::new();
    for i in 0..300 {
        zbig.push(format!("{}", i as f64 / 3.0 - 50.0));
        zbig.push(format!("m{i:03}"));
    }
    p.cmd("ZADD").arg("z:big").arg(zbig).ignore();
    p.cmd("ZADD")
        .arg("z:wide")
        .arg("1")
        .arg("w".repeat(70))
        .ignore();
    p.cmd("HSET")
        .arg("h:small")
        .arg(&["a", "1", "b", "value", "c", "-3"])
        .ignore();
    p.cmd("HSET")
        .arg("h:wide")
        .arg("f")
        .arg("v".repeat(100))
        .ignore();
    let mut hbig = Vec::new();
    for i in 0..300 {
        hbig.push(format!("field-{i}"));
        hbig.push(format!("{i}"));
    }
    p.cmd("HSET").arg("h:big").arg(hbig).ignore();
    // Streams: one small with a deleted entry, a group, a PEL and two consumers; one
    // over several listpack nodes.
    for (id, fv) in [
        ("1-1", ["a", "1", "b", "2"]),
        ("2-0", ["a", "3", "b", "x"]),
        ("3-0", ["c", "4", "d", "5"]),
    ] {
        p.cmd("XADD").arg("st:small").arg(id).arg(&fv).ignore();
    }
    p.cmd("XDEL").arg("st:small").arg("2-0").ignore();
    p.cmd("XGROUP")
        .arg(&["CREATE", "st:small", "g", "0"])
        .ignore();
    p.cmd("XREADGROUP")
        .arg(&[
            "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "st:small", ">",
        ])
        .ignore();
    p.cmd("XGROUP")
        .arg(&["CREATECONSUMER", "st:small", "g", "bob"])
        .ignore();
    for i in 1..=350 {
        p.cmd("XADD")
            .arg("st:big")
            .arg(format!("{i}-0"))
            .arg("f")
            .arg(i)
            .arg("g")
            .arg("y".repeat(i % 40))
            .ignore();
    }
    p.cmd("XGROUP")
        .arg(&["CREATE", "st:big", "g2", "100-0"])
        .ignore();
    // TTLs.
    p.cmd("SET")
        .arg("ttl:s")
        .arg("v")
        .arg("PX")
        .arg(600_000)
        .ignore();
    p.cmd("HSET").arg("ttl:h").arg("f").arg("v").ignore();
    p.cmd("PEXPIRE").arg("ttl:h").arg(700_000).ignore();
    p.cmd("RPUSH").arg("ttl:l").arg(&["a", "b"]).ignore();
    p.cmd("EXPIRE").arg("ttl:l").arg(800).ignore();
    p.query::<()>(c).expect("fill");
    for start in (0..many).step_by(1000) {
        let mut p = redis::pipe();
        for i in start..(start + 1000).min(many) {
            p.cmd("SET")
                .arg(format!("k:{i}"))
                .arg(format!("v{i}"))
                .ignore();
        }
        p.query::<()>(c).expect("fill many");
    }
    let _: Value = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(LIB)
        .query(c)
        .expect("FUNCTION LOAD");
}

/// Values whose DUMP payloads are over 8 MB: rebuilt with commands by the importer.
fn fill_huge(c: &mut Connection) {
    let _: () = redis::cmd("SET")
        .arg("huge:str")
        .arg(noise(3, 9 << 20))
        .query(c)
        .expect("SET huge");
    for part in 0..11 {
        let mut cmd = redis::cmd("RPUSH");
        cmd.arg("huge:list");
        for i in 0..100 {
            cmd.arg(noise(100 * part + i, 10_000));
        }
        let _: () = cmd.query(c).expect("RPUSH huge");
    }
    let _: () = redis::cmd("PEXPIRE")
        .arg("huge:list")
        .arg(900_000)
        .query(c)
        .expect("PEXPIRE");
}

/// Fills database 2 (small).
fn fill_db2(c: &mut Connection) {
    let mut p = redis::pipe();
    p.cmd("SET").arg("db2:s").arg("in db 2").ignore();
    p.cmd("HSET").arg("db2:h").arg(&["f", "v"]).ignore();
    p.cmd("SET")
        .arg("db2:ttl")
        .arg("x")
        .arg("PX")
        .arg(500_000)
        .ignore();
    p.query::<()>(c).expect("fill db2");
}

/// Long readings are kept as their length and a hash.
fn short(s: String) -> String {
    if s.len() <= 400 {
        return s;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    format!("<{} chars, hash {:016x}>", s.len(), h.finish())
}

fn sorted_items(v: Value, pairs: bool) -> String {
    let Value::Array(items) = v else {
        return format!("{v:?}");
    };
    let items: Vec<String> = items.iter().map(|x| format!("{x:?}")).collect();
    let mut out: Vec<String> = if pairs {
        items.chunks(2).map(|p| p.join("=")).collect()
    } else {
        items
    };
    out.sort();
    out.join(",")
}

/// Fields that are times, dropped from XINFO replies.
const TIMES: &[&str] = &["seen-time", "active-time", "idle", "inactive"];

fn without_times(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut out = Vec::new();
            let mut it = items.into_iter().peekable();
            while let Some(x) = it.next() {
                if let Value::BulkString(k) = &x {
                    if TIMES.iter().any(|t| t.as_bytes() == k.as_slice()) {
                        it.next();
                        continue;
                    }
                }
                out.push(without_times(x));
            }
            Value::Array(out)
        }
        other => other,
    }
}

/// Each key of database `db` with what reading it shows (no DUMP involved) and its
/// PTTL: -1, or the milliseconds left.
fn snapshot(c: &mut Connection) -> (BTreeMap<Vec<u8>, String>, BTreeMap<Vec<u8>, i64>) {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c).expect("KEYS");
    let mut out = BTreeMap::new();
    let mut ttls = BTreeMap::new();
    for k in keys {
        let kb: &[u8] = &k;
        let ty: String = redis::cmd("TYPE").arg(kb).query(c).expect("TYPE");
        let reading = match ty.as_str() {
            "string" => format!("{:?}", q(c, &[b"GET", kb])),
            "list" => format!("{:?}", q(c, &[b"LRANGE", kb, b"0", b"-1"])),
            "set" => sorted_items(q(c, &[b"SMEMBERS", kb]), false),
            "zset" => format!("{:?}", q(c, &[b"ZRANGE", kb, b"0", b"-1", b"WITHSCORES"])),
            "hash" => sorted_items(q(c, &[b"HGETALL", kb]), true),
            "stream" => {
                let mut s = format!("{:?}", q(c, &[b"XRANGE", kb, b"-", b"+"]));
                let groups = without_times(q(c, &[b"XINFO", b"GROUPS", kb]));
                s.push_str(&format!(" groups {groups:?}"));
                // The stream's own counters, for XADD * after the copy.
                if let Value::Array(info) = q(c, &[b"XINFO", b"STREAM", kb]) {
                    for p in info.chunks(2) {
                        if let [Value::BulkString(name), v] = p {
                            if [
                                &b"last-generated-id"[..],
                                b"max-deleted-entry-id",
                                b"entries-added",
                                b"length",
                            ]
                            .contains(&name.as_slice())
                            {
                                s.push_str(&format!(" {}={v:?}", String::from_utf8_lossy(name)));
                            }
                        }
                    }
                }
                if let Value::Array(gs) = q(c, &[b"XINFO", b"GROUPS", kb]) {
                    for g in gs {
                        if let Value::Array(f) = g {
                            if let Some(Value::BulkString(name)) = f.get(1) {
                                let pending = q(c, &[b"XPENDING", kb, name]);
                                s.push_str(&format!(" pending {pending:?}"));
                                let cons = without_times(q(c, &[b"XINFO", b"CONSUMERS", kb, name]));
                                s.push_str(&format!(" consumers {cons:?}"));
                            }
                        }
                    }
                }
                s
            }
            other => panic!("unexpected type {other}"),
        };
        let pttl: i64 = redis::cmd("PTTL").arg(kb).query(c).expect("PTTL");
        out.insert(k.clone(), format!("{ty} {}", short(reading)));
        ttls.insert(k, pttl);
    }
    (out, ttls)
}

/// The copy has the same keys and values, and TTLs that did not grow and did not lose
/// more than the copy took.
fn assert_same(
    what: &str,
    want: &(BTreeMap<Vec<u8>, String>, BTreeMap<Vec<u8>, i64>),
    got: &(BTreeMap<Vec<u8>, String>, BTreeMap<Vec<u8>, i64>),
) {
    let mut diffs = Vec::new();
    for (k, v) in &want.0 {
        match got.0.get(k) {
            None => diffs.push(format!("{:?}: missing", String::from_utf8_lossy(k))),
            Some(g) if g != v => diffs.push(format!(
                "{:?}:\n  want {v}\n  got  {g}",
                String::from_utf8_lossy(k)
            )),
            _ => {}
        }
    }
    for k in got.0.keys() {
        if !want.0.contains_key(k) {
            diffs.push(format!(
                "{:?}: not in the source",
                String::from_utf8_lossy(k)
            ));
        }
    }
    for (k, &w) in &want.1 {
        let Some(&g) = got.1.get(k) else { continue };
        let ok = if w == -1 {
            g == -1
        } else {
            g > 0 && g <= w + 50 && g > w - 120_000
        };
        if !ok {
            diffs.push(format!(
                "{:?}: PTTL {w} in the source, {g} in the copy",
                String::from_utf8_lossy(k)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} differences (of {} keys):\n{}",
        diffs.len(),
        want.0.len(),
        diffs
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn functions_work(c: &mut Connection, what: &str) {
    let r: Result<String, _> = redis::cmd("FCALL").arg("techo").arg(0).arg("hi").query(c);
    assert_eq!(
        r.ok().as_deref(),
        Some("hi"),
        "{what}: the function library was not copied"
    );
}

// ---- tests ---------------------------------------------------------------------------------

#[test]
fn import_from_live_redis_copies_every_type() {
    let dir = tempdir();
    let redis = Redis::start(dir.path(), "unused.rdb", &[]);
    let mut src = redis.client(0);
    fill(&mut src, 2500);
    fill_huge(&mut src);
    fill_db2(&mut redis.client(2));
    let node = Server::start();
    let mut dst = meridian_client(&node, 0);
    let _: () = redis::cmd("SET")
        .arg("junk")
        .arg("flushed")
        .query(&mut dst)
        .unwrap();
    let mut dst2 = meridian_client(&node, 2);
    let _: () = redis::cmd("SET")
        .arg("db2:junk")
        .arg("x")
        .query(&mut dst2)
        .unwrap();

    let want = snapshot(&mut src);
    let (code, err) = tool(&[
        "import",
        "--from",
        &redis.url(),
        "--to",
        &meridian_url(&node),
        "--batch",
        "100",
    ]);
    assert_eq!(code, 0, "import failed:\n{err}");
    let n = want.0.len();
    assert!(
        err.contains(&format!("{n} keys copied, 0 skipped")) && err.contains("0 failed"),
        "summary:\n{err}"
    );
    assert!(
        err.contains("import: "),
        "no progress or summary on stderr:\n{err}"
    );
    assert_same("redis → meridian", &want, &snapshot(&mut dst));
    functions_work(&mut dst, "import --from");
    // Only database 0 was copied (and flushed).
    let kept: Option<String> = redis::cmd("GET").arg("db2:junk").query(&mut dst2).unwrap();
    assert_eq!(kept.as_deref(), Some("x"));

    // Database 2, into database 2 by default.
    let want2 = snapshot(&mut redis.client(2));
    let (code, err) = tool(&[
        "import",
        "--from",
        &format!("{}/2", redis.url()),
        "--to",
        &meridian_url(&node),
    ]);
    assert_eq!(code, 0, "import of db 2 failed:\n{err}");
    assert_same("redis db 2 → meridian db 2", &want2, &snapshot(&mut dst2));
    assert_eq!(snapshot(&mut dst).0.len(), n, "database 0 changed");

    // Bad addresses and sources fail clearly.
    let (code, err) = tool(&["import", "--from", "http://x", "--to", &meridian_url(&node)]);
    assert!(code != 0 && err.contains("redis://"), "{err}");
    let closed = free_port();
    let (code, err) = tool(&[
        "import",
        "--from",
        &format!("redis://127.0.0.1:{closed}"),
        "--to",
        &meridian_url(&node),
    ]);
    assert!(code != 0 && err.contains("cannot connect"), "{err}");
    assert_eq!(
        snapshot(&mut dst).0.len(),
        n,
        "a failed import changed the destination"
    );
}

#[test]
fn import_resumes_after_an_interruption() {
    let dir = tempdir();
    let redis = Redis::start(dir.path(), "unused.rdb", &[]);
    let mut src = redis.client(0);
    fill(&mut src, 0);
    // Values large enough that the import takes a while in batches of 5.
    for start in (0..20_000).step_by(1000) {
        let mut p = redis::pipe();
        for i in start..start + 1000 {
            p.cmd("SET")
                .arg(format!("r:{i}"))
                .arg(noise(i, 1000))
                .ignore();
        }
        p.query::<()>(&mut src).expect("fill");
    }
    let want = snapshot(&mut src);
    let node = Server::start();
    let mut dst = meridian_client(&node, 0);
    let state = dir.path().join("import.state");
    let state_s = state.to_str().unwrap();
    let args = [
        "import",
        "--from",
        &redis.url(),
        "--to",
        &meridian_url(&node),
        "--batch",
        "5",
        "--resume",
        state_s,
    ];
    let (mut child, reader) = spawn_tool(&args);
    // Kill it once a few thousand keys are acknowledged.
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        let t = std::fs::read_to_string(&state).unwrap_or_default();
        let copied: u64 = t
            .lines()
            .find_map(|l| l.strip_prefix("copied "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if copied >= 2000 {
            break t;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!(
                "the import ended ({st}) before it could be interrupted:\n{}",
                reader.join().unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "no progress in the resume file");
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().expect("kill");
    let _ = child.wait();
    let _ = reader.join();
    assert!(text.contains("done 0"), "{text}");
    let after_kill: u64 = redis::cmd("DBSIZE").query(&mut dst).unwrap();
    assert!(
        after_kill < want.0.len() as u64,
        "everything was copied before the kill"
    );
    // Resuming does not flush: a key written meanwhile stays.
    let _: () = redis::cmd("SET")
        .arg("marker")
        .arg("kept")
        .query(&mut dst)
        .unwrap();
    let (code, err) = tool(&args);
    assert_eq!(code, 0, "resume failed:\n{err}");
    assert!(err.contains("resuming"), "{err}");
    let marker: Option<String> = redis::cmd("GET").arg("marker").query(&mut dst).unwrap();
    assert_eq!(
        marker.as_deref(),
        Some("kept"),
        "the resumed import flushed the destination"
    );
    let _: () = redis::cmd("DEL").arg("marker").query(&mut dst).unwrap();
    assert_same("interrupted and resumed", &want, &snapshot(&mut dst));
    let done = std::fs::read_to_string(&state).unwrap();
    assert!(done.contains("done 1"), "{done}");
    // A finished import is not run again by the same command.
    let (code, err) = tool(&args);
    assert!(code == 0 && err.contains("finished"), "{err}");
}

#[test]
fn a_resume_file_continues_from_its_cursor() {
    let dir = tempdir();
    let redis = Redis::start(dir.path(), "unused.rdb", &[]);
    let mut src = redis.client(0);
    fill(&mut src, 3000);
    let node = Server::start();
    let mut dst = meridian_client(&node, 0);
    // The first SCAN's keys count as copied in this resume file: the import must not
    // copy them, and must copy everything after them.
    let (cursor, first): (String, Vec<Vec<u8>>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(100)
        .query(&mut src)
        .unwrap();
    assert_ne!(cursor, "0");
    let state = dir.path().join("state");
    std::fs::write(
        &state,
        format!(
            "# meridian import resume file (delete it to start over)\nfrom redis://127.0.0.1:{}/0\nto redis://127.0.0.1:{}/0\ncursor {cursor}\ncopied {}\nskipped 0\nfailed 0\ndone 0\n",
            redis.port,
            node.port,
            first.len()
        ),
    )
    .unwrap();
    let (code, err) = tool(&[
        "import",
        "--from",
        &redis.url(),
        "--to",
        &meridian_url(&node),
        "--resume",
        state.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let total: usize = redis::cmd("DBSIZE").query(&mut src).unwrap();
    let got: usize = redis::cmd("DBSIZE").query(&mut dst).unwrap();
    assert_eq!(got, total - first.len(), "{err}");
    for k in &first {
        let n: i64 = redis::cmd("EXISTS")
            .arg(k.as_slice())
            .query(&mut dst)
            .unwrap();
        assert_eq!(n, 0, "{:?} was copied again", String::from_utf8_lossy(k));
    }
    assert!(err.contains(&format!("{total} keys copied")), "{err}");
    // A resume file for another source is refused.
    let (code, err) = tool(&[
        "import",
        "--from",
        &format!("{}/3", redis.url()),
        "--to",
        &meridian_url(&node),
        "--resume",
        state.to_str().unwrap(),
    ]);
    assert!(code != 0 && err.contains("was written copying"), "{err}");
}

#[test]
fn export_from_meridian_loads_in_redis() {
    let dir = tempdir();
    let node = Server::start();
    let mut m = meridian_client(&node, 0);
    fill(&mut m, 2000);
    fill_huge(&mut m);
    let want = snapshot(&mut m);
    let file = dir.path().join("export.rdb");
    let (code, err) = tool(&[
        "export",
        "--from",
        &meridian_url(&node),
        "--to",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "export failed:\n{err}");
    assert!(
        err.contains(&format!("{} keys copied", want.0.len())),
        "{err}"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["export.rdb".to_string()],
        "temporary files left"
    );
    let head = std::fs::read(&file).unwrap();
    assert_eq!(&head[..9], b"REDIS0010");
    let redis = Redis::start(dir.path(), "export.rdb", &[]);
    let mut r = redis.client(0);
    assert_same("meridian → RDB → redis-server", &want, &snapshot(&mut r));
    functions_work(&mut r, "export");
    // The file also imports back (the RDB reader reads what the writer writes).
    let node2 = Server::start();
    let (code, err) = tool(&[
        "import",
        "--from-rdb",
        file.to_str().unwrap(),
        "--to",
        &meridian_url(&node2),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_same(
        "RDB → meridian",
        &want,
        &snapshot(&mut meridian_client(&node2, 0)),
    );
}

#[test]
fn rdb_saved_by_redis_imports() {
    let dir = tempdir();
    // LFU: the file carries FREQ hints; rdbcompression (default yes): LZF strings.
    let redis = Redis::start(
        dir.path(),
        "dump.rdb",
        &["--maxmemory-policy", "allkeys-lfu"],
    );
    let mut src = redis.client(0);
    fill(&mut src, 2000);
    fill_huge(&mut src);
    fill_db2(&mut redis.client(2));
    let _: () = redis::cmd("SAVE").query(&mut src).expect("SAVE");
    let want = snapshot(&mut src);
    let want2 = snapshot(&mut redis.client(2));
    let node = Server::start();
    let mut dst = meridian_client(&node, 0);
    let _: () = redis::cmd("SET")
        .arg("junk")
        .arg("flushed")
        .query(&mut dst)
        .unwrap();
    let file = dir.path().join("dump.rdb");
    let (code, err) = tool(&[
        "import",
        "--from-rdb",
        file.to_str().unwrap(),
        "--to",
        &meridian_url(&node),
        "--batch",
        "250",
    ]);
    assert_eq!(code, 0, "import failed:\n{err}");
    assert!(err.contains("checksum verified"), "{err}");
    assert_same("redis SAVE → meridian db 0", &want, &snapshot(&mut dst));
    assert_same(
        "redis SAVE → meridian db 2",
        &want2,
        &snapshot(&mut meridian_client(&node, 2)),
    );
    functions_work(&mut dst, "import --from-rdb");
    // --no-flush keeps what is there; REPLACE overwrites what the file has.
    let _: () = redis::cmd("SET")
        .arg("extra")
        .arg("1")
        .query(&mut dst)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("s:small")
        .arg("changed")
        .query(&mut dst)
        .unwrap();
    let (code, err) = tool(&[
        "import",
        "--from-rdb",
        file.to_str().unwrap(),
        "--to",
        &meridian_url(&node),
        "--no-flush",
    ]);
    assert_eq!(code, 0, "{err}");
    let extra: Option<String> = redis::cmd("GET").arg("extra").query(&mut dst).unwrap();
    let small: String = redis::cmd("GET").arg("s:small").query(&mut dst).unwrap();
    assert_eq!((extra.as_deref(), small.as_str()), (Some("1"), "hello"));
}

/// Redis's CRC-64 (Jones polynomial, reflected), for hand-made files.
fn crc64(data: &[u8]) -> u64 {
    let poly: u64 = 0xad93_d235_94c9_35a9u64.reverse_bits();
    let mut c = 0u64;
    for &b in data {
        c ^= b as u64;
        for _ in 0..8 {
            c = if c & 1 == 1 { (c >> 1) ^ poly } else { c >> 1 };
        }
    }
    c
}

fn with_crc(mut body: Vec<u8>) -> Vec<u8> {
    let c = crc64(&body);
    body.extend_from_slice(&c.to_le_bytes());
    body
}

#[test]
fn bad_rdb_files_are_refused_before_anything_is_sent() {
    let dir = tempdir();
    let redis = Redis::start(dir.path(), "dump.rdb", &[]);
    let mut src = redis.client(0);
    fill(&mut src, 500);
    let _: () = redis::cmd("SAVE").query(&mut src).expect("SAVE");
    let good = std::fs::read(dir.path().join("dump.rdb")).unwrap();
    let node = Server::start();
    let mut dst = meridian_client(&node, 0);
    let _: () = redis::cmd("SET")
        .arg("marker")
        .arg("untouched")
        .query(&mut dst)
        .unwrap();

    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut corrupt = good.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x5a;
    let truncated = &good[..good.len() * 2 / 3];
    let mut newer = good.clone();
    newer[5..9].copy_from_slice(b"0011");
    // MODULE_AUX (247) with some module id, in an otherwise valid file.
    let mut module = b"REDIS0010".to_vec();
    module.push(247);
    module.push(0x81);
    module.extend_from_slice(&0x1234_5678_9abc_def0u64.to_be_bytes());
    module.extend_from_slice(&[2, 2, 0]);
    module.push(255);
    let module = with_crc(module);
    // The EOF opcode damaged: the trailer is then read as records.
    let mut eof = good.clone();
    let n = eof.len();
    eof[n - 9] ^= 1;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("corrupt.rdb", corrupt, "offset"),
        ("truncated.rdb", truncated.to_vec(), "truncated"),
        ("newer.rdb", newer, "RDB version 11"),
        ("module.rdb", module, "module"),
        ("garbage.rdb", b"hello world".to_vec(), "not an RDB file"),
        ("empty.rdb", Vec::new(), "truncated"),
        ("eof.rdb", eof, "offset"),
    ];
    for (name, bytes, says) in cases {
        let p = write(name, &bytes);
        let (code, err) = tool(&[
            "import",
            "--from-rdb",
            p.to_str().unwrap(),
            "--to",
            &meridian_url(&node),
        ]);
        assert_ne!(code, 0, "{name} accepted:\n{err}");
        assert!(err.contains(name) && err.contains(says), "{name}: {err}");
        let n: u64 = redis::cmd("DBSIZE").query(&mut dst).unwrap();
        let m: Option<String> = redis::cmd("GET").arg("marker").query(&mut dst).unwrap();
        assert_eq!(
            (n, m.as_deref()),
            (1, Some("untouched")),
            "{name} changed the destination"
        );
    }
    // The good file goes through, so the refusals above were about the damage.
    let p = write("good.rdb", &good);
    let (code, err) = tool(&[
        "import",
        "--from-rdb",
        p.to_str().unwrap(),
        "--to",
        &meridian_url(&node),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_same("the good file", &snapshot(&mut src), &snapshot(&mut dst));
}

#[test]
fn passwords_in_urls_and_refused_logins() {
    let dir = tempdir();
    let redis = Redis::start(dir.path(), "unused.rdb", &["--requirepass", "s3cret@x"]);
    let mut src = connect(&format!("redis://:s3cret%40x@127.0.0.1:{}/", redis.port));
    fill(&mut src, 100);
    let want = snapshot(&mut src);
    let node = Server::start_with(Some("pw"), &[]);
    let from = format!("redis://:s3cret%40x@127.0.0.1:{}", redis.port);
    let to = format!("redis://default:pw@127.0.0.1:{}", node.port);
    let (code, err) = tool(&["import", "--from", &from, "--to", &to]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("s3cret") && !err.contains(":pw@"),
        "a password was printed:\n{err}"
    );
    assert_same("with passwords", &want, &snapshot(&mut node.client()));
    // A wrong or missing password is refused before anything is written.
    let (code, err) = tool(&[
        "import",
        "--from",
        &from,
        "--to",
        &format!("redis://:nope@127.0.0.1:{}", node.port),
    ]);
    assert!(code != 0 && err.contains("AUTH failed"), "{err}");
    let (code, err) = tool(&[
        "import",
        "--from",
        &format!("redis://127.0.0.1:{}", redis.port),
        "--to",
        &to,
        "--no-flush",
    ]);
    assert!(code != 0 && err.contains("NOAUTH"), "{err}");
    let (code, err) = tool(&[
        "export",
        "--from",
        &format!("redis://127.0.0.1:{}", node.port),
        "--to",
        dir.path().join("x.rdb").to_str().unwrap(),
    ]);
    assert!(code != 0 && err.contains("NOAUTH"), "{err}");
    assert!(!dir.path().join("x.rdb").exists());
    assert_same("after refused logins", &want, &snapshot(&mut node.client()));
}
