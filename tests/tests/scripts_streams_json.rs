//! Lua scripting, streams and JSON over real connections: a script using cjson and
//! redis.call on several types, the script cache surviving a restart, XREAD/XREADGROUP
//! BLOCK woken by XADD from another client, JSON documents.

use meridian_tests::Server;
use redis::{cmd, Value};
use std::time::{Duration, Instant};

#[test]
fn a_script_uses_cjson_and_several_types_and_evalsha_survives_restart() {
    let mut s = Server::start();
    let mut c = s.client();
    let script = r#"
        redis.call('HSET', KEYS[1], 'name', ARGV[1], 'visits', 1)
        redis.call('RPUSH', KEYS[2], 'a', 'b')
        redis.call('ZADD', KEYS[3], 2, 'two', 1, 'one')
        redis.call('SADD', KEYS[4], 'm')
        local doc = cjson.decode(ARGV[2])
        doc.visits = redis.call('HINCRBY', KEYS[1], 'visits', 1)
        doc.list = redis.call('LRANGE', KEYS[2], 0, -1)
        doc.first = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
        doc.member = redis.call('SISMEMBER', KEYS[4], 'm')
        return cjson.encode(doc)
    "#;
    let out: String = cmd("EVAL")
        .arg(script)
        .arg(4)
        .arg("h")
        .arg("l")
        .arg("z")
        .arg("s")
        .arg("ada")
        .arg(r#"{"user":"ada"}"#)
        .query(&mut c)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["user"], "ada");
    assert_eq!(v["visits"], 2);
    assert_eq!(v["list"], serde_json::json!(["a", "b"]));
    assert_eq!(v["first"], "one");
    assert_eq!(v["member"], 1);

    // Error replies surface as Redis errors; the server keeps serving.
    let e = cmd("EVAL")
        .arg("return redis.call('INCR', KEYS[1])")
        .arg(1)
        .arg("h")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");

    let sha: String = cmd("SCRIPT")
        .arg("LOAD")
        .arg("return redis.call('GET', KEYS[1]) .. ARGV[1]")
        .query(&mut c)
        .unwrap();
    let _: () = cmd("SET").arg("g").arg("x").query(&mut c).unwrap();
    s.crash_and_restart();
    let mut c = s.client();
    let v: String = cmd("EVALSHA")
        .arg(&sha)
        .arg(1)
        .arg("g")
        .arg("!")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "x!");
    let e = cmd("EVALSHA")
        .arg("0000000000000000000000000000000000000000")
        .arg(0)
        .query::<Value>(&mut c)
        .unwrap_err();
    assert_eq!(e.kind(), redis::ErrorKind::NoScriptError, "{e}");
    // A read-only script runs on the read path and may not write.
    let v: String = cmd("EVAL_RO")
        .arg("return redis.call('GET', KEYS[1])")
        .arg(1)
        .arg("g")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "x");
    let e = cmd("EVAL_RO")
        .arg("return redis.call('SET', KEYS[1], 'y')")
        .arg(1)
        .arg("g")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(e.to_string().to_lowercase().contains("read-only"), "{e}");
}

#[test]
fn xread_block_wakes_on_xadd_and_times_out() {
    let s = Server::start();
    let mut c = s.client();
    let _: String = cmd("XADD")
        .arg("st")
        .arg("*")
        .arg("f")
        .arg("old")
        .query(&mut c)
        .unwrap();
    // `$`: only entries added after the call.
    let url = s.url();
    let h = std::thread::spawn(move || {
        let mut w = meridian_tests::connect(&url);
        let t0 = Instant::now();
        let r: Value = cmd("XREAD")
            .arg("BLOCK")
            .arg(5000)
            .arg("STREAMS")
            .arg("st")
            .arg("$")
            .query(&mut w)
            .unwrap();
        (r, t0.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    let id: String = cmd("XADD")
        .arg("st")
        .arg("*")
        .arg("f")
        .arg("new")
        .query(&mut c)
        .unwrap();
    let (r, waited) = h.join().unwrap();
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    let text = format!("{r:?}");
    assert!(
        text.contains(&id) && text.contains("new") && !text.contains("old"),
        "{text}"
    );

    // Nothing arrives: a nil after the timeout.
    let t0 = Instant::now();
    let r: Value = cmd("XREAD")
        .arg("BLOCK")
        .arg(200)
        .arg("STREAMS")
        .arg("st")
        .arg("$")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, Value::Nil);
    assert!(t0.elapsed() >= Duration::from_millis(190));

    // XREADGROUP BLOCK with `>`.
    let _: () = cmd("XGROUP")
        .arg("CREATE")
        .arg("st")
        .arg("g")
        .arg("$")
        .query(&mut c)
        .unwrap();
    let url = s.url();
    let h = std::thread::spawn(move || {
        let mut w = meridian_tests::connect(&url);
        let r: Value = cmd("XREADGROUP")
            .arg("GROUP")
            .arg("g")
            .arg("c1")
            .arg("BLOCK")
            .arg(5000)
            .arg("STREAMS")
            .arg("st")
            .arg(">")
            .query(&mut w)
            .unwrap();
        r
    });
    std::thread::sleep(Duration::from_millis(300));
    let id: String = cmd("XADD")
        .arg("st")
        .arg("*")
        .arg("job")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let r = h.join().unwrap();
    assert!(format!("{r:?}").contains(&id), "{r:?}");
    let pending: Value = cmd("XPENDING").arg("st").arg("g").query(&mut c).unwrap();
    let Value::Array(summary) = pending else {
        panic!("{pending:?}")
    };
    assert_eq!(summary[0], Value::Int(1));
}

#[test]
fn json_documents_round_trip() {
    let s = Server::start();
    let mut c = s.client();
    let _: () = cmd("JSON.SET")
        .arg("doc")
        .arg("$")
        .arg(r#"{"name":"ada","tags":["x"],"n":1}"#)
        .query(&mut c)
        .unwrap();
    let n: Value = cmd("JSON.ARRAPPEND")
        .arg("doc")
        .arg("$.tags")
        .arg(r#""y""#)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, Value::Array(vec![Value::Int(2)]));
    let v: String = cmd("JSON.NUMINCRBY")
        .arg("doc")
        .arg("$.n")
        .arg(2)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "[3]");
    let v: String = cmd("JSON.GET").arg("doc").query(&mut c).unwrap();
    assert_eq!(v, r#"{"name":"ada","tags":["x","y"],"n":3}"#);
    let t: String = cmd("TYPE").arg("doc").query(&mut c).unwrap();
    assert_eq!(t, "ReJSON-RL");
    let e = cmd("JSON.SET")
        .arg("doc")
        .arg("$")
        .arg("{not json")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("line 1 column 2"), "{e}");
    // The document is unchanged and the server keeps serving.
    let v: String = cmd("JSON.GET")
        .arg("doc")
        .arg("$.name")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, r#"["ada"]"#);
}
