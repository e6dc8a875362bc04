//! Backups and restore (BACKUP ...) on real nodes:
//! - a backup taken during a write load restores to exactly the state after some prefix
//!   of the acknowledged writes (checked against an independent model of the writes),
//!   and that prefix lies between what was acknowledged before and after the backup;
//! - a restore through a follower reaches every voter and the read replica;
//! - a backup restores into another node, whose own ACL users stay, and survives a
//!   restart;
//! - damaged backups (truncated file, flipped byte, wrong layout version, missing
//!   manifest, unknown file) are refused, naming the problem, and change nothing;
//! - during a restore clients see the old state, LOADING, or the new state: never a mix.

use meridian_tests::cluster::Cluster;
use meridian_tests::Server;
use redis::{Connection, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn backup_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("backups")
}

fn server_backups(s: &Server) -> PathBuf {
    backup_dir(&s.dir.path().join("data"))
}

/// BACKUP's field/value array as a map.
fn fields(v: Value) -> BTreeMap<String, Value> {
    let Value::Array(items) = v else {
        panic!("not an array: {v:?}")
    };
    let mut out = BTreeMap::new();
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        let Value::BulkString(k) = k else {
            panic!("field name {k:?}")
        };
        out.insert(String::from_utf8(k).unwrap(), v);
    }
    out
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn backup(c: &mut Connection, args: &[&str]) -> redis::RedisResult<Value> {
    redis::cmd("BACKUP").arg(args).query(c)
}

/// Every key of db 0 with its type and full contents, sorted: a digest that does not
/// depend on encodings. TTLs are reported as present/absent.
fn digest(c: &mut Connection) -> Vec<String> {
    try_digest(c).unwrap()
}

/// [`digest`], or the first error (LOADING while a node applies a restore).
fn try_digest(c: &mut Connection) -> redis::RedisResult<Vec<String>> {
    let mut keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c)?;
    keys.sort();
    let mut out = Vec::new();
    for k in keys {
        let name = String::from_utf8_lossy(&k).into_owned();
        let t: String = redis::cmd("TYPE").arg(&k).query(c)?;
        let body: Value = match t.as_str() {
            "string" => redis::cmd("GET").arg(&k).query(c)?,
            "list" => redis::cmd("LRANGE").arg(&k).arg(0).arg(-1).query(c)?,
            "hash" => {
                let mut m: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL").arg(&k).query(c)?;
                m.sort();
                Value::Array(
                    m.into_iter()
                        .flat_map(|(a, b)| [Value::BulkString(a), Value::BulkString(b)])
                        .collect(),
                )
            }
            "set" => {
                let mut m: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(&k).query(c)?;
                m.sort();
                Value::Array(m.into_iter().map(Value::BulkString).collect())
            }
            "zset" => redis::cmd("ZRANGE")
                .arg(&k)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(c)?,
            "stream" => redis::cmd("XRANGE").arg(&k).arg("-").arg("+").query(c)?,
            other => panic!("type {other}"),
        };
        let ttl: i64 = redis::cmd("PTTL").arg(&k).query(c)?;
        out.push(format!("{name} {t} ttl={} {body:?}", ttl > 0));
    }
    Ok(out)
}

/// The state after the first `n` writes of [`write_op`], as a digest.
fn model_digest(n: u64) -> Vec<String> {
    let mut strings = Vec::new();
    let mut list = Vec::new();
    let mut hash = Vec::new();
    let mut zset = Vec::new();
    for i in 0..n {
        match i % 4 {
            0 => strings.push(i),
            1 => list.push(i),
            2 => hash.push(i),
            _ => zset.push(i),
        }
    }
    let b = |s: String| Value::BulkString(s.into_bytes());
    let mut out = Vec::new();
    for i in &strings {
        out.push((
            format!("s{i}"),
            format!("s{i} string ttl=false {:?}", b(i.to_string())),
        ));
    }
    if !list.is_empty() {
        let v = Value::Array(list.iter().map(|i| b(i.to_string())).collect());
        out.push(("list".into(), format!("list list ttl=false {v:?}")));
    }
    if !hash.is_empty() {
        let mut pairs: Vec<(String, String)> = hash
            .iter()
            .map(|i| (format!("f{i}"), i.to_string()))
            .collect();
        pairs.sort();
        let v = Value::Array(pairs.into_iter().flat_map(|(a, c)| [b(a), b(c)]).collect());
        out.push(("hash".into(), format!("hash hash ttl=false {v:?}")));
    }
    if !zset.is_empty() {
        let v = Value::Array(
            zset.iter()
                .flat_map(|i| [b(format!("m{i}")), b(i.to_string())])
                .collect(),
        );
        out.push(("zset".into(), format!("zset zset ttl=false {v:?}")));
    }
    out.sort();
    out.into_iter().map(|(_, d)| d).collect()
}

/// Write number `i` of the load: one command each, so every state is a prefix.
fn write_op(c: &mut Connection, i: u64) {
    let r: redis::RedisResult<Value> = match i % 4 {
        0 => redis::cmd("SET").arg(format!("s{i}")).arg(i).query(c),
        1 => redis::cmd("RPUSH").arg("list").arg(i).query(c),
        2 => redis::cmd("HSET")
            .arg("hash")
            .arg(format!("f{i}"))
            .arg(i)
            .query(c),
        _ => redis::cmd("ZADD")
            .arg("zset")
            .arg(i)
            .arg(format!("m{i}"))
            .query(c),
    };
    r.unwrap();
}

/// How many writes of [`write_op`] the state holds.
fn writes_in_state(c: &mut Connection) -> u64 {
    let strings: Vec<String> = redis::cmd("KEYS").arg("s*").query(c).unwrap();
    let l: u64 = redis::cmd("LLEN").arg("list").query(c).unwrap();
    let h: u64 = redis::cmd("HLEN").arg("hash").query(c).unwrap();
    let z: u64 = redis::cmd("ZCARD").arg("zset").query(c).unwrap();
    strings.len() as u64 + l + h + z
}

#[test]
fn a_backup_taken_during_writes_restores_an_exact_prefix_of_them() {
    let s = Server::start();
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, url) = (acked.clone(), stop.clone(), s.url());
        std::thread::spawn(move || {
            let mut c = meridian_tests::connect(&url);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 200_000 {
                write_op(&mut c, i);
                i += 1;
                acked.store(i, Ordering::SeqCst);
            }
        })
    };
    let mut c = s.client();
    while acked.load(Ordering::SeqCst) < 500 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = acked.load(Ordering::SeqCst);
    let info = fields(backup(&mut c, &["CREATE", "during-load"]).unwrap());
    let after = acked.load(Ordering::SeqCst);
    // Writes go on after the backup, and are to be undone by the restore.
    let target = after + 300;
    while acked.load(Ordering::SeqCst) < target {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let total = acked.load(Ordering::SeqCst);
    assert!(int(&info["log_index"]) > 0, "{info:?}");

    let rep = fields(backup(&mut c, &["RESTORE", "during-load"]).unwrap());
    let n = writes_in_state(&mut c);
    assert!(
        before <= n && n <= after,
        "the backup holds {n} writes; {before} were acknowledged before it began, {after} when it ended"
    );
    assert!(n < total);
    assert_eq!(digest(&mut c), model_digest(n), "state after {n} writes");
    let keys = model_digest(n).len() as i64;
    assert_eq!(int(&info["keys"]), keys, "manifest key count");
    assert_eq!(int(&rep["keys"]), keys, "restore report");
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(dbsize, keys, "DBSIZE counts the restored keys");
    // The restored database takes writes again, and the backup is listed and deletable.
    write_op(&mut c, n);
    assert_eq!(writes_in_state(&mut c), n + 1);
    let listed = match backup(&mut c, &["LIST"]).unwrap() {
        Value::Array(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(listed.len(), 1);
    let err = backup(&mut c, &["CREATE", "during-load"]).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(
        backup(&mut c, &["DELETE", "during-load"]).unwrap(),
        Value::Okay
    );
    let err = backup(&mut c, &["RESTORE", "during-load"]).unwrap_err();
    assert!(err.to_string().contains("no backup named"), "{err}");
    let err = backup(&mut c, &["CREATE", "../escape"]).unwrap_err();
    assert!(err.to_string().contains("invalid backup name"), "{err}");
}

fn fill_mixed(c: &mut Connection, prefix: &str, n: usize) {
    for i in 0..n {
        let _: () = redis::cmd("SET")
            .arg(format!("{prefix}:s{i}"))
            .arg(format!("v{i}"))
            .query(c)
            .unwrap();
    }
    let _: () = redis::cmd("RPUSH")
        .arg(format!("{prefix}:list"))
        .arg((0..300).collect::<Vec<_>>())
        .query(c)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}:hash"))
        .arg(
            (0..200)
                .flat_map(|i| [format!("f{i}"), format!("{i}")])
                .collect::<Vec<_>>(),
        )
        .query(c)
        .unwrap();
    let _: () = redis::cmd("SADD")
        .arg(format!("{prefix}:set"))
        .arg((0..150).collect::<Vec<_>>())
        .query(c)
        .unwrap();
    let _: () = redis::cmd("ZADD")
        .arg(format!("{prefix}:zset"))
        .arg(
            (0..150)
                .flat_map(|i| [format!("{i}.5"), format!("m{i}")])
                .collect::<Vec<_>>(),
        )
        .query(c)
        .unwrap();
    let _: Value = redis::cmd("XADD")
        .arg(format!("{prefix}:stream"))
        .arg("*")
        .arg("a")
        .arg("1")
        .query(c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}:ttl"))
        .arg("x")
        .arg("EX")
        .arg(10_000)
        .query(c)
        .unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

fn wait_digest(c: &mut Connection, want: &[String], who: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = try_digest(c);
        if got.as_deref() == Ok(want) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{who}: digest differs after 20 s: {:?} vs {} keys",
                got.map(|g| g.len()),
                want.len()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_restore_through_a_follower_reaches_every_voter_and_the_replica() {
    let mut cl = Cluster::start(3);
    cl.add_replica("eu-west-1");
    let leader = cl.leader().expect("leader");
    let mut lc = cl.nodes[leader].client();
    fill_mixed(&mut lc, "a", 200);
    let want = digest(&mut lc);
    let info = fields(backup(&mut lc, &["CREATE", "snap"]).unwrap());
    assert_eq!(int(&info["keys"]), 206);
    // Changes after the backup, undone by the restore.
    fill_mixed(&mut lc, "b", 50);
    let _: () = redis::cmd("DEL").arg("a:list").query(&mut lc).unwrap();
    // The backup is copied to a follower, which drives the restore (its steps are
    // forwarded to the leader).
    let follower = (0..3).find(|i| *i != leader).unwrap();
    let src = backup_dir(&cl.nodes[leader].dir.join("data")).join("snap");
    let dst_root = backup_dir(&cl.nodes[follower].dir.join("data"));
    std::fs::create_dir_all(&dst_root).unwrap();
    copy_dir(&src, &dst_root.join("snap"));
    let mut fc = cl.nodes[follower].client();
    let rep = fields(backup(&mut fc, &["RESTORE", "snap"]).unwrap());
    assert_eq!(int(&rep["keys"]), 206);
    for (i, n) in cl.nodes.iter().enumerate() {
        let mut c = n.client();
        wait_digest(&mut c, &want, &format!("node {i}"));
        // The digest matched, so the restore has ended on this node (LOADING before).
        let dbsize: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(dbsize, 206, "node {i} DBSIZE");
    }
    // The cluster still writes and replicates.
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut lc)
        .unwrap();
    let mut rc = cl.nodes[3].client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: Option<String> = redis::cmd("GET").arg("after").query(&mut rc).unwrap();
        if v.as_deref() == Some("1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replica never saw the write after the restore"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_backup_restores_into_another_node_keeps_its_users_and_survives_a_restart() {
    let a = Server::start();
    let mut ac = a.client();
    fill_mixed(&mut ac, "x", 100);
    let _: Value = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=blib\nredis.register_function('bf', function() return 7 end)")
        .query(&mut ac)
        .unwrap();
    let want = digest(&mut ac);
    backup(&mut ac, &["CREATE", "from-a"]).unwrap();

    let mut b = Server::start();
    let mut bc = b.client();
    fill_mixed(&mut bc, "y", 30);
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "bob", "on", ">pw", "~*", "+@all"][..])
        .query(&mut bc)
        .unwrap();
    std::fs::create_dir_all(server_backups(&b)).unwrap();
    copy_dir(
        &server_backups(&a).join("from-a"),
        &server_backups(&b).join("from-a"),
    );
    backup(&mut bc, &["RESTORE", "from-a"]).unwrap();
    assert_eq!(digest(&mut bc), want);
    let f: i64 = redis::cmd("FCALL").arg("bf").arg(0).query(&mut bc).unwrap();
    assert_eq!(f, 7, "functions travel with the backup");
    let users: Vec<String> = redis::cmd("ACL").arg("USERS").query(&mut bc).unwrap();
    assert!(
        users.contains(&"bob".to_string()),
        "the target's users stay: {users:?}"
    );
    b.crash_and_restart();
    let mut bc = b.client();
    assert_eq!(digest(&mut bc), want, "after a restart");
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut bc).unwrap();
    assert_eq!(dbsize, want.len() as i64);
}

#[test]
fn damaged_backups_are_refused_and_change_nothing() {
    let s = Server::start();
    let mut c = s.client();
    fill_mixed(&mut c, "k", 2000);
    backup(&mut c, &["CREATE", "good"]).unwrap();
    let root = server_backups(&s);
    let man: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("good/manifest.json")).unwrap()).unwrap();
    let files = man["files"].as_array().unwrap();
    let biggest = files
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with(".sst"))
        .max_by_key(|f| f["size"].as_u64().unwrap())
        .expect("an sst file")["path"]
        .as_str()
        .unwrap()
        .to_string();
    // The state the failed restores must leave alone.
    let _: () = redis::cmd("SET")
        .arg("marker")
        .arg("live")
        .query(&mut c)
        .unwrap();
    let want = digest(&mut c);

    let damaged = |name: &str, f: &dyn Fn(&Path)| {
        copy_dir(&root.join("good"), &root.join(name));
        f(&root.join(name));
    };
    damaged("truncated", &|d| {
        let p = d.join(&biggest);
        let len = std::fs::metadata(&p).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(len / 2).unwrap();
    });
    damaged("flipped", &|d| {
        let p = d.join(&biggest);
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&p, bytes).unwrap();
    });
    damaged("layout", &|d| {
        let p = d.join("manifest.json");
        let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        m["layout_version"] = 999.into();
        std::fs::write(&p, serde_json::to_vec(&m).unwrap()).unwrap();
    });
    damaged("no-manifest", &|d| {
        std::fs::remove_file(d.join("manifest.json")).unwrap()
    });
    damaged("extra-file", &|d| {
        std::fs::write(d.join("db/stray.sst"), b"x").unwrap()
    });
    let cases = [
        ("truncated", vec![biggest.as_str(), "truncated"]),
        ("flipped", vec![biggest.as_str(), "checksum"]),
        ("layout", vec!["layout version 999"]),
        ("no-manifest", vec!["manifest.json"]),
        ("extra-file", vec!["stray.sst", "not in the manifest"]),
    ];
    for (name, needles) in cases {
        let verify = backup(&mut c, &["VERIFY", name]).unwrap_err().to_string();
        let err = backup(&mut c, &["RESTORE", name]).unwrap_err().to_string();
        for n in &needles {
            assert!(err.contains(n), "{name}: {err:?} lacks {n:?}");
            assert!(verify.contains(n), "{name}: VERIFY {verify:?} lacks {n:?}");
        }
        assert_eq!(digest(&mut c), want, "{name}: the database changed");
    }
    assert_eq!(backup(&mut c, &["VERIFY", "good"]).unwrap(), Value::Okay);
}

#[test]
fn during_a_restore_clients_see_old_state_loading_or_new_state_never_a_mix() {
    let s = Server::start();
    let mut c = s.client();
    // ~10 MB of records: the restore spans several log entries.
    let blob = "v".repeat(100);
    for chunk in 0..100 {
        let mut p = redis::pipe();
        for i in 0..1000 {
            p.cmd("SET")
                .arg(format!("bulk:{chunk}:{i}"))
                .arg(&blob)
                .ignore();
        }
        p.query::<()>(&mut c).unwrap();
    }
    let _: () = redis::cmd("MSET")
        .arg(&["first", "backup", "last", "backup"][..])
        .query(&mut c)
        .unwrap();
    backup(&mut c, &["CREATE", "big"]).unwrap();
    let _: () = redis::cmd("MSET")
        .arg(&["first", "new", "last", "new"][..])
        .query(&mut c)
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, url) = (stop.clone(), s.url());
        std::thread::spawn(move || {
            let mut c = meridian_tests::connect(&url);
            let (mut loading, mut old, mut new) = (0, 0, 0);
            while !stop.load(Ordering::Relaxed) {
                let r: redis::RedisResult<Vec<Option<String>>> =
                    redis::cmd("MGET").arg("first").arg("last").query(&mut c);
                match r {
                    Err(e) => {
                        assert_eq!(e.kind(), redis::ErrorKind::BusyLoadingError, "{e}");
                        loading += 1;
                    }
                    Ok(v) if v == [Some("new".into()), Some("new".into())] => {
                        assert_eq!(loading + new, 0, "old state seen after the restore began");
                        old += 1;
                    }
                    Ok(v) if v == [Some("backup".into()), Some("backup".into())] => new += 1,
                    Ok(v) => panic!("a mix of states: {v:?}"),
                }
            }
            (loading, old, new)
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    backup(&mut c, &["RESTORE", "big"]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let (loading, old, new) = reader.join().unwrap();
    assert!(
        old > 0 && new > 0,
        "old {old}, loading {loading}, new {new}"
    );
    assert!(
        loading > 0,
        "no read saw the restore in progress (old {old}, new {new})"
    );
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(dbsize, 100_002);
}

fn daily_names(c: &mut Connection) -> Vec<String> {
    let Value::Array(list) = backup(c, &["LIST"]).unwrap() else {
        panic!("LIST")
    };
    list.into_iter()
        .map(|b| match &fields(b)["name"] {
            Value::BulkString(n) => String::from_utf8(n.clone()).unwrap(),
            other => panic!("{other:?}"),
        })
        .filter(|n| n.starts_with("daily-"))
        .collect()
}

#[test]
fn daily_backups_are_taken_pruned_to_their_retention_and_stopped() {
    // A "day" of one second (each test runs in its own process under nextest).
    std::env::set_var("MERIDIAN_DAILY_BACKUP_SECS", "1");
    let s = Server::start();
    let mut c = s.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let st = fields(backup(&mut c, &["DAILY"]).unwrap());
    assert_eq!(st["enabled"], Value::BulkString(b"no".to_vec()));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(daily_names(&mut c).is_empty(), "taken while disabled");
    assert_eq!(backup(&mut c, &["DAILY", "ON", "2"]).unwrap(), Value::Okay);
    let cfg: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("meridian-daily-backup*")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        cfg,
        [
            "meridian-daily-backup",
            "yes",
            "meridian-daily-backup-retention",
            "2"
        ]
    );
    // Names carry the second they were taken: at least three distinct ones over time,
    // never more than the retention (plus the one just taken) at once.
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 3 {
        let now = daily_names(&mut c);
        assert!(now.len() <= 3, "{now:?}");
        seen.extend(now);
        assert!(Instant::now() < deadline, "daily backups taken: {seen:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(backup(&mut c, &["DAILY", "OFF"]).unwrap(), Value::Okay);
    std::thread::sleep(Duration::from_millis(600));
    let after_off = daily_names(&mut c);
    assert!(after_off.len() <= 2, "retention 2: {after_off:?}");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(daily_names(&mut c), after_off, "taken after DAILY OFF");
    // A daily backup is a backup like any other.
    let last = after_off.last().expect("a daily backup").clone();
    assert_eq!(backup(&mut c, &["VERIFY", &last]).unwrap(), Value::Okay);
    let err = backup(&mut c, &["DAILY", "ON", "0"]).unwrap_err();
    assert!(err.to_string().contains("retention"), "{err}");
}

/// One management API call: (status, JSON body).
fn api(s: &Server, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let url = format!("http://127.0.0.1:{}{path}", s.rest_port);
    let req = ureq::request(method, &url).timeout(Duration::from_secs(30));
    let res = match body {
        Some(b) => req.send_string(b),
        None => req.call(),
    };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}")),
    )
}

#[test]
fn the_management_api_creates_lists_restores_and_deletes_backups() {
    let s = Server::start();
    let mut c = s.client();
    fill_mixed(&mut c, "m", 50);
    let want = digest(&mut c);
    let (st, b) = api(
        &s,
        "POST",
        "/v2/redis/create-backup/db1",
        Some(r#"{"name":"nightly"}"#),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["backup_id"], "nightly");
    assert_eq!(b["state"], "completed");
    assert_eq!(b["keys"], 56);
    let (st, b) = api(
        &s,
        "POST",
        "/v2/redis/create-backup/db1",
        Some(r#"{"name":"nightly"}"#),
    );
    assert_eq!(st, 400);
    assert!(
        b["error"].as_str().unwrap().contains("already exists"),
        "{b}"
    );
    let (st, b) = api(&s, "POST", "/v2/redis/create-backup/db1", Some("{}"));
    assert_eq!(st, 400, "{b}");
    let (st, list) = api(&s, "GET", "/v2/redis/list-backup/db1", None);
    assert_eq!(st, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert!(list[0]["creation_time"].as_u64().unwrap() > 1_700_000_000);

    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    let (st, r) = api(
        &s,
        "POST",
        "/v2/redis/restore-backup/db1",
        Some(r#"{"backup_id":"nightly"}"#),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["keys"], 56);
    assert_eq!(digest(&mut c), want);
    let (st, _) = api(
        &s,
        "POST",
        "/v2/redis/restore-backup/db1",
        Some(r#"{"backup_id":"nope"}"#),
    );
    assert_eq!(st, 404);

    assert_eq!(
        api(&s, "PATCH", "/v2/redis/enable-dailybackup/db1", None).0,
        200
    );
    let on: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("meridian-daily-backup")
        .query(&mut c)
        .unwrap();
    assert_eq!(on[1], "yes");
    assert_eq!(
        api(&s, "PATCH", "/v2/redis/disable-dailybackup/db1", None).0,
        200
    );
    let off: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("meridian-daily-backup")
        .query(&mut c)
        .unwrap();
    assert_eq!(off[1], "no");

    let (st, b) = api(&s, "DELETE", "/v2/redis/delete-backup/db1/nightly", None);
    assert_eq!((st, b), (200, serde_json::json!("OK")));
    let (_, list) = api(&s, "GET", "/v2/redis/list-backup/db1", None);
    assert_eq!(list, serde_json::json!([]));
    assert_eq!(api(&s, "GET", "/v2/redis/unknown/db1", None).0, 404);
}

#[test]
fn the_management_api_needs_a_token_when_auth_is_on() {
    let s = Server::start_with(Some("pw"), &[]);
    let (st, _) = api(&s, "GET", "/v2/redis/list-backup/db1", None);
    assert_eq!(st, 401);
}

#[test]
fn the_cli_drives_backups_through_the_management_api() {
    let s = Server::start_with(Some("pw"), &[]);
    let mut c = s.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("before")
        .query(&mut c)
        .unwrap();
    let url = format!("http://127.0.0.1:{}", s.rest_port);
    let cli = |args: &[&str], password: Option<&str>| {
        let mut cmd = std::process::Command::new(meridian_tests::binary());
        cmd.arg("backup").arg("--url").arg(&url).args(args);
        cmd.env_remove("MERIDIAN_PASSWORD")
            .env_remove("MERIDIAN_TOKEN");
        if let Some(p) = password {
            cmd.env("MERIDIAN_PASSWORD", p);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = cli(&["create", "cli-1"], Some("pw"));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("\"backup_id\": \"cli-1\""), "{out}");
    let (code, _, err) = cli(&["create", "cli-1"], Some("pw"));
    assert_eq!(code, Some(1));
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = cli(&["list"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("401"), "{err}");
    let (code, _, err) = cli(&["list"], Some("wrong"));
    assert_eq!(code, Some(1), "{err}");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("after")
        .query(&mut c)
        .unwrap();
    let (code, out, err) = cli(&["restore", "cli-1"], Some("pw"));
    assert_eq!(code, Some(0), "{out}{err}");
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "before");
    assert_eq!(
        cli(&["enable-daily", "--retention", "3"], Some("pw")).0,
        Some(0)
    );
    let r: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("meridian-daily-backup-retention")
        .query(&mut c)
        .unwrap();
    assert_eq!(r[1], "3");
    assert_eq!(cli(&["disable-daily"], Some("pw")).0, Some(0));
    assert_eq!(cli(&["delete", "cli-1"], Some("pw")).0, Some(0));
    let (code, out, _) = cli(&["list"], Some("pw"));
    assert_eq!((code, out.trim()), (Some(0), "[]"));
}

fn applied_index(c: &mut Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("replication").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("raft_applied_index:"))
        .expect("raft_applied_index")
        .trim()
        .parse()
        .unwrap()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn point_in_time_restores_stop_exactly_at_the_chosen_index_or_time() {
    std::env::set_var("MERIDIAN_LOG_ARCHIVE_MS", "100");
    let s = Server::start_with(None, &["--log-archive"]);
    let mut c = s.client();
    for i in 0..50 {
        write_op(&mut c, i);
    }
    let base = fields(backup(&mut c, &["CREATE", "base"]).unwrap());
    let base_index = int(&base["log_index"]) as u64;
    // Each write is one log entry (one client, nothing else writing): its index is
    // the applied index when it returns.
    let mut index = vec![0u64; 300];
    let mut mid_time = 0;
    for i in 50..300u64 {
        if i == 200 {
            std::thread::sleep(Duration::from_millis(30));
            mid_time = now_ms();
            std::thread::sleep(Duration::from_millis(30));
        }
        write_op(&mut c, i);
        index[i as usize] = applied_index(&mut c);
    }
    std::thread::sleep(Duration::from_millis(600));
    for k in [99usize, 150, 299] {
        let rep =
            fields(backup(&mut c, &["RESTORE", "base", "INDEX", &index[k].to_string()]).unwrap());
        assert_eq!(int(&rep["log_index"]) as u64, index[k]);
        assert_eq!(
            digest(&mut c),
            model_digest(k as u64 + 1),
            "restored to write {k}"
        );
    }
    backup(&mut c, &["RESTORE", "base", "TIME", &mid_time.to_string()]).unwrap();
    assert_eq!(
        digest(&mut c),
        model_digest(200),
        "restored to the time before write 200"
    );
    // The same through the management API.
    let body = format!(r#"{{"backup_id":"base","until_index":{}}}"#, index[120]);
    let (st, rep) = api(&s, "POST", "/v2/redis/restore-backup/db", Some(&body));
    assert_eq!(st, 200, "{rep}");
    assert_eq!(digest(&mut c), model_digest(121));
    // The backup alone, still.
    let rep = fields(backup(&mut c, &["RESTORE", "base"]).unwrap());
    assert_eq!(int(&rep["log_index"]) as u64, base_index);
    assert_eq!(digest(&mut c), model_digest(50));
    // Points the archive cannot reach are refused and change nothing.
    let future = (now_ms() + 3_600_000).to_string();
    let e = backup(&mut c, &["RESTORE", "base", "TIME", &future]).unwrap_err();
    assert!(e.to_string().contains("no entry after time"), "{e}");
    let e = backup(
        &mut c,
        &["RESTORE", "base", "INDEX", &(base_index - 1).to_string()],
    )
    .unwrap_err();
    assert!(e.to_string().contains("before the backup"), "{e}");
    let e = backup(&mut c, &["RESTORE", "base", "INDEX", "99999999"]).unwrap_err();
    assert!(e.to_string().contains("ends at index"), "{e}");
    assert_eq!(digest(&mut c), model_digest(50));
    // A point inside an earlier restore (between its Begin and End entries) would be a
    // partial state: refused. The last restore's entries end at the applied index.
    let end = applied_index(&mut c);
    let begin = end + 1 - int(&rep["log_entries"]) as u64;
    std::thread::sleep(Duration::from_millis(600));
    let e = backup(&mut c, &["RESTORE", "base", "INDEX", &begin.to_string()]).unwrap_err();
    assert!(e.to_string().contains("inside a restore"), "{e}");
    assert_eq!(digest(&mut c), model_digest(50));
}

#[test]
fn point_in_time_restore_needs_the_log_archive() {
    let s = Server::start();
    let mut c = s.client();
    write_op(&mut c, 0);
    backup(&mut c, &["CREATE", "b"]).unwrap();
    write_op(&mut c, 1);
    let e = backup(&mut c, &["RESTORE", "b", "INDEX", "100"]).unwrap_err();
    assert!(e.to_string().contains("--log-archive"), "{e}");
    assert_eq!(digest(&mut c), model_digest(2));
}

/// moto's S3-compatible server (installed by `scripts/dev.sh test` into a venv).
fn moto_venv() -> PathBuf {
    let venv = std::env::var_os("MERIDIAN_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/meridian/venv")
        });
    assert!(
        venv.join("bin/moto_server").exists(),
        "moto is not installed ({}/bin/moto_server missing): run `scripts/dev.sh test` (it creates the venv and runs `pip install 'moto[server]'`), or by hand: python3 -m venv {0} && {0}/bin/pip install 'moto[server]'",
        venv.display()
    );
    venv
}

struct Moto {
    child: std::process::Child,
    port: u16,
    venv: PathBuf,
}

impl Moto {
    fn start() -> Moto {
        let venv = moto_venv();
        let port = meridian_tests::free_port();
        let child = std::process::Command::new(venv.join("bin/moto_server"))
            .arg("-p")
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, port, venv }
    }

    /// Runs boto3 against this server (`s3` is the client).
    fn boto(&self, code: &str) {
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='http://127.0.0.1:{}', aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n{code}\n",
            self.port
        );
        let out = std::process::Command::new(self.venv.join("bin/python"))
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn backups_in_an_s3_compatible_store_restore_into_another_node_and_damage_is_refused() {
    let moto = Moto::start();
    moto.boto("s3.create_bucket(Bucket='meridian-backups')");
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        (
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", moto.port),
        ),
        ("AWS_ALLOW_HTTP", "true".to_string()),
    ] {
        std::env::set_var(k, v);
    }
    let url = ["--backup-url", "s3://meridian-backups/prod/db1"];
    let a = Server::start_with(None, &url);
    let mut ac = a.client();
    fill_mixed(&mut ac, "s3", 300);
    let want = digest(&mut ac);
    let info = fields(backup(&mut ac, &["CREATE", "remote-1"]).unwrap());
    assert_eq!(int(&info["keys"]), 306);
    let e = backup(&mut ac, &["CREATE", "remote-1"]).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(
        backup(&mut ac, &["VERIFY", "remote-1"]).unwrap(),
        Value::Okay
    );
    // Nothing stays behind locally: the store holds the backup.
    let staged = server_backups(&a).join(".staging");
    assert!(
        std::fs::read_dir(&staged).map_or(true, |mut d| d.next().is_none()),
        "left in {}",
        staged.display()
    );

    // Another node with the same destination sees it and restores it.
    let b = Server::start_with(None, &url);
    let mut bc = b.client();
    fill_mixed(&mut bc, "other", 10);
    let Value::Array(list) = backup(&mut bc, &["LIST"]).unwrap() else {
        panic!("LIST")
    };
    assert_eq!(list.len(), 1);
    backup(&mut bc, &["RESTORE", "remote-1"]).unwrap();
    assert_eq!(digest(&mut bc), want);

    // A damaged object is found by the manifest check; nothing changes.
    let _: () = redis::cmd("SET")
        .arg("marker")
        .arg("b")
        .query(&mut bc)
        .unwrap();
    let before = digest(&mut bc);
    moto.boto(
        "objs = s3.list_objects_v2(Bucket='meridian-backups', Prefix='prod/db1/remote-1/db/')['Contents']\n\
         big = max((o for o in objs if o['Key'].endswith('.sst')), key=lambda o: o['Size'])\n\
         body = bytearray(s3.get_object(Bucket='meridian-backups', Key=big['Key'])['Body'].read())\n\
         body[len(body) // 2] ^= 0x40\n\
         s3.put_object(Bucket='meridian-backups', Key=big['Key'], Body=bytes(body))",
    );
    let e = backup(&mut bc, &["RESTORE", "remote-1"]).unwrap_err();
    assert!(e.to_string().contains("checksum"), "{e}");
    assert_eq!(digest(&mut bc), before);
    assert_eq!(
        backup(&mut bc, &["DELETE", "remote-1"]).unwrap(),
        Value::Okay
    );
    assert_eq!(backup(&mut ac, &["LIST"]).unwrap(), Value::Array(vec![]));
    let e = backup(&mut ac, &["RESTORE", "remote-1"]).unwrap_err();
    assert!(e.to_string().contains("no backup named"), "{e}");
}

#[test]
fn the_log_archive_is_shipped_to_the_store_for_point_in_time_restores_elsewhere() {
    let moto = Moto::start();
    moto.boto("s3.create_bucket(Bucket='meridian-pitr')");
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        (
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", moto.port),
        ),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        ("MERIDIAN_LOG_ARCHIVE_MS", "100".to_string()),
    ] {
        std::env::set_var(k, v);
    }
    let a = Server::start_with(
        None,
        &["--backup-url", "s3://meridian-pitr/x", "--log-archive"],
    );
    let mut ac = a.client();
    for i in 0..20 {
        write_op(&mut ac, i);
    }
    backup(&mut ac, &["CREATE", "base"]).unwrap();
    let mut index = vec![0u64; 120];
    for i in 20..120u64 {
        write_op(&mut ac, i);
        index[i as usize] = applied_index(&mut ac);
    }
    // A node that never saw this log, without an archive of its own, restores to a point
    // past the backup from the shipped segments.
    let b = Server::start_with(None, &["--backup-url", "s3://meridian-pitr/x"]);
    let mut bc = b.client();
    let target = index[77].to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match backup(&mut bc, &["RESTORE", "base", "INDEX", &target]) {
            Ok(_) => break,
            // Shipping runs every 2 s.
            Err(e) if e.to_string().contains("log archive") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(300))
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(digest(&mut bc), model_digest(78));
}
