//! String, generic and server command semantics over a real connection.

use meridian_tests::Server;
use redis::{cmd, Value};
use std::time::{Duration, Instant};

#[test]
fn strings_and_counters() {
    let s = Server::start();
    let mut c = s.client();
    let ok: String = cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    let v: String = cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");
    let n: i64 = cmd("APPEND").arg("k").arg("alue").query(&mut c).unwrap();
    assert_eq!(n, 5);
    let r: String = cmd("GETRANGE")
        .arg("k")
        .arg(1)
        .arg(-2)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, "alu");
    let n: i64 = cmd("INCRBY").arg("n").arg(41).query(&mut c).unwrap();
    assert_eq!(n, 41);
    let n: i64 = cmd("INCR").arg("n").query(&mut c).unwrap();
    assert_eq!(n, 42);
    let e = cmd("INCR").arg("k").query::<i64>(&mut c).unwrap_err();
    assert_eq!(e.detail(), Some("value is not an integer or out of range"));
    let f: String = cmd("INCRBYFLOAT")
        .arg("f")
        .arg("10.5")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "10.5");
    let f: String = cmd("INCRBYFLOAT")
        .arg("f")
        .arg("0.1")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "10.6");
    let _: () = cmd("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut c)
        .unwrap();
    let v: Vec<Option<String>> = cmd("MGET")
        .arg("a")
        .arg("nope")
        .arg("b")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, vec![Some("1".into()), None, Some("2".into())]);
    let n: i64 = cmd("MSETNX")
        .arg("a")
        .arg("x")
        .arg("c")
        .arg("3")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    let old: Option<String> = cmd("SET")
        .arg("a")
        .arg("9")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(old.as_deref(), Some("1"));
    let nx: Option<String> = cmd("SET")
        .arg("a")
        .arg("0")
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(nx, None);
    let e = cmd("GET").query::<String>(&mut c).unwrap_err();
    assert_eq!(
        e.detail(),
        Some("wrong number of arguments for 'get' command")
    );
    let e = cmd("NOSUCH").arg("x").query::<String>(&mut c).unwrap_err();
    assert!(
        e.to_string()
            .contains("unknown command 'NOSUCH', with args beginning with: 'x'"),
        "{e}"
    );
    let n: i64 = cmd("SETBIT")
        .arg("bits")
        .arg(7)
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    let n: i64 = cmd("BITCOUNT").arg("bits").query(&mut c).unwrap();
    assert_eq!(n, 1);
    let n: i64 = cmd("STRLEN").arg("bits").query(&mut c).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn generic_commands_and_dbsize() {
    let s = Server::start();
    let mut c = s.client();
    for i in 0..50 {
        let _: () = cmd("SET")
            .arg(format!("key:{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let n: i64 = cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 50);
    let n: i64 = cmd("EXISTS")
        .arg("key:1")
        .arg("key:1")
        .arg("nope")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let t: String = cmd("TYPE").arg("key:1").query(&mut c).unwrap();
    assert_eq!(t, "string");
    let _: () = cmd("RENAME")
        .arg("key:1")
        .arg("renamed")
        .query(&mut c)
        .unwrap();
    let v: Option<String> = cmd("GET").arg("key:1").query(&mut c).unwrap();
    assert_eq!(v, None);
    let mut keys: Vec<String> = cmd("KEYS").arg("key:1*").query(&mut c).unwrap();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "key:10", "key:11", "key:12", "key:13", "key:14", "key:15", "key:16", "key:17",
            "key:18", "key:19"
        ]
    );
    // A full SCAN returns every key exactly once.
    let mut cursor = 0u64;
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let (next, batch): (u64, Vec<String>) = cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(7)
            .query(&mut c)
            .unwrap();
        for k in batch {
            assert!(seen.insert(k));
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 50);
    let n: i64 = cmd("DEL")
        .arg("renamed")
        .arg("key:2")
        .arg("nope")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let n: i64 = cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 48);
    let _: () = cmd("FLUSHDB").query(&mut c).unwrap();
    let n: i64 = cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 0);
    let r: Option<String> = cmd("RANDOMKEY").query(&mut c).unwrap();
    assert_eq!(r, None);
}

#[test]
fn ttl_expiry_hides_then_deletes() {
    let s = Server::start();
    let mut c = s.client();
    let _: () = cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(300)
        .query(&mut c)
        .unwrap();
    let _: () = cmd("SET")
        .arg("long")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let ttl: i64 = cmd("TTL").arg("long").query(&mut c).unwrap();
    assert!((99..=100).contains(&ttl), "{ttl}");
    let pttl: i64 = cmd("PTTL").arg("short").query(&mut c).unwrap();
    assert!(pttl > 0 && pttl <= 300, "{pttl}");
    let n: i64 = cmd("PERSIST").arg("long").query(&mut c).unwrap();
    assert_eq!(n, 1);
    assert_eq!(cmd("TTL").arg("long").query::<i64>(&mut c).unwrap(), -1);
    std::thread::sleep(Duration::from_millis(400));
    let v: Option<String> = cmd("GET").arg("short").query(&mut c).unwrap();
    assert_eq!(v, None);
    assert_eq!(cmd("TTL").arg("short").query::<i64>(&mut c).unwrap(), -2);
    // The leader's expirer deletes it through the log: DBSIZE drops to 1.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = cmd("DBSIZE").query(&mut c).unwrap();
        if n == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expired key never deleted (dbsize {n})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let info: String = cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("aof_fsync:always"), "{info}");
}

#[test]
fn select_isolates_databases() {
    let s = Server::start();
    let mut c = s.client();
    let _: () = cmd("SET").arg("k").arg("zero").query(&mut c).unwrap();
    let _: () = cmd("SELECT").arg(5).query(&mut c).unwrap();
    assert_eq!(
        cmd("GET").arg("k").query::<Option<String>>(&mut c).unwrap(),
        None
    );
    let _: () = cmd("SET").arg("k").arg("five").query(&mut c).unwrap();
    assert_eq!(cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 1);
    let e = cmd("SELECT").arg(16).query::<()>(&mut c).unwrap_err();
    assert_eq!(e.detail(), Some("DB index is out of range"));
    let _: () = cmd("SELECT").arg(0).query(&mut c).unwrap();
    assert_eq!(cmd("GET").arg("k").query::<String>(&mut c).unwrap(), "zero");
    let _: () = cmd("FLUSHDB").query(&mut c).unwrap();
    let _: () = cmd("SELECT").arg(5).query(&mut c).unwrap();
    assert_eq!(cmd("GET").arg("k").query::<String>(&mut c).unwrap(), "five");
}

#[test]
fn ten_thousand_command_pipeline() {
    let s = Server::start();
    let mut c = s.client();
    let mut p = redis::pipe();
    for i in 0..5000 {
        p.cmd("SET").arg(format!("p{i}")).arg(i);
        p.cmd("INCR").arg("counter");
    }
    let replies: Vec<Value> = p.query(&mut c).unwrap();
    assert_eq!(replies.len(), 10_000);
    assert_eq!(replies[9_999], Value::Int(5000));
    let mut p = redis::pipe();
    for i in 0..10_000 {
        p.cmd("GET").arg(format!("p{}", i % 5000));
    }
    let got: Vec<String> = p.query(&mut c).unwrap();
    for (i, v) in got.iter().enumerate() {
        assert_eq!(v, &(i % 5000).to_string());
    }
}

#[test]
fn server_and_connection_commands() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(cmd("PING").query::<String>(&mut c).unwrap(), "PONG");
    assert_eq!(cmd("ECHO").arg("hi").query::<String>(&mut c).unwrap(), "hi");
    let id: i64 = cmd("CLIENT").arg("ID").query(&mut c).unwrap();
    assert!(id > 0);
    let _: () = cmd("CLIENT")
        .arg("SETNAME")
        .arg("tester")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        cmd("CLIENT")
            .arg("GETNAME")
            .query::<String>(&mut c)
            .unwrap(),
        "tester"
    );
    let list: String = cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(
        list.contains("name=tester") && list.contains(&format!("id={id} ")),
        "{list}"
    );
    let t: Vec<String> = cmd("TIME").query(&mut c).unwrap();
    assert!(t[0].parse::<u64>().unwrap() > 1_700_000_000);
    let n: i64 = cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    let names: Vec<String> = cmd("COMMAND").arg("LIST").query(&mut c).unwrap();
    // COUNT counts top-level commands; LIST adds subcommands (`config|get`), as Redis.
    assert_eq!(
        n as usize,
        names.iter().filter(|x| !x.contains('|')).count()
    );
    for must in ["get", "set", "bitfield", "scan", "client", "hello"] {
        assert!(
            names.iter().any(|x| x == must),
            "{must} missing from COMMAND LIST"
        );
    }
    let keys: Vec<String> = cmd("COMMAND")
        .arg("GETKEYS")
        .arg("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, vec!["a", "b"]);
    let info: Vec<Value> = cmd("COMMAND").arg("INFO").arg("get").query(&mut c).unwrap();
    match &info[0] {
        Value::Array(v) => {
            assert_eq!(v[0], Value::BulkString(b"get".to_vec()));
            assert_eq!(v[1], Value::Int(2));
        }
        other => panic!("{other:?}"),
    }
    let cfg: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("databases")
        .query(&mut c)
        .unwrap();
    assert_eq!(cfg, vec!["databases", "16"]);
    let e = cmd("CONFIG")
        .arg("SET")
        .arg("nope")
        .arg("1")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("Unknown option"), "{e}");
    let _: () = cmd("SET").arg("x").arg("1").query(&mut c).unwrap();
    let info: String = cmd("INFO").query(&mut c).unwrap();
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# Keyspace",
    ] {
        assert!(info.contains(section), "missing {section}");
    }
    assert!(info.contains("db0:keys=1"), "{info}");
    let stats: String = cmd("INFO").arg("commandstats").query(&mut c).unwrap();
    assert!(stats.contains("cmdstat_set:calls=1"), "{stats}");
    // HELLO 3 switches to RESP3 maps.
    let hello: Value = cmd("HELLO").arg(3).query(&mut c).unwrap();
    assert!(matches!(hello, Value::Map(_)), "{hello:?}");
    let e = cmd("HELLO").arg(4).query::<Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("NOPROTO"), "{e}");
}
