//! Commands a script calls are checked against its caller's ACL, as Redis 7.0 checks
//! them: `redis.call` raises, `redis.pcall` returns the error, for commands, keys and
//! channels, in EVAL, EVAL_RO, FCALL, FCALL_RO and inside MULTI/EXEC, and each refusal is
//! in ACL LOG with context `lua`. Compared step by step with a stock redis-server.

use meridian_tests::{RedisServer, Server};
use redis::{cmd, Connection, Value};
use std::collections::BTreeMap;

fn connect(port: u16) -> Connection {
    meridian_tests::connect(&format!("redis://127.0.0.1:{port}/"))
}

/// A reply as text: the value, or `-` and the error.
fn q(c: &mut Connection, args: &[&str]) -> String {
    let mut k = cmd(args[0]);
    for a in &args[1..] {
        k.arg(*a);
    }
    match k.query::<Value>(c) {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("-{}", meridian_tests::err_text(e)),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// ACL LOG's entries, with only the fields both servers fill the same way.
fn acl_log(c: &mut Connection) -> Vec<String> {
    let v: Value = cmd("ACL").arg("LOG").query(c).unwrap();
    let Value::Array(entries) = v else {
        panic!("ACL LOG: {v:?}")
    };
    entries
        .iter()
        .map(|e| {
            let fields: BTreeMap<String, String> = match e {
                Value::Array(kv) => kv.chunks(2).map(|p| (text(&p[0]), text(&p[1]))).collect(),
                Value::Map(kv) => kv.iter().map(|(k, v)| (text(k), text(v))).collect(),
                other => panic!("ACL LOG entry: {other:?}"),
            };
            let cmd = fields
                .get("client-info")
                .and_then(|ci| ci.split(' ').find(|f| f.starts_with("cmd=")))
                .unwrap_or("")
                .to_string();
            ["count", "reason", "context", "object", "username"]
                .iter()
                .map(|f| format!("{f}={}", fields.get(*f).cloned().unwrap_or_default()))
                .chain([cmd])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn scenario(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut admin = connect(port);
    out.push(q(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "bob",
            "on",
            ">pw",
            "+@scripting",
            "+get",
            "+set",
            "+multi",
            "+exec",
            "+function",
            "~x*",
            "&chan",
        ],
    ));
    out.push(q(
        &mut admin,
        &[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "#!lua name=acllib\n\
             redis.register_function('f_set_yy', function() return redis.call('set','yy','1') end)\n\
             redis.register_function{function_name='f_ro_get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}",
        ],
    ));
    out.push(q(&mut admin, &["SET", "yy", "secret"]));
    out.push(q(&mut admin, &["ACL", "LOG", "RESET"]));
    let mut b = connect(port);
    out.push(q(&mut b, &["AUTH", "bob", "pw"]));
    for script in [
        // A command bob may not run, a key he may not touch, a channel he may not publish
        // to: redis.call raises.
        "return redis.call('del','x1')",
        "return redis.call('get','yy')",
        "return redis.call('publish','other','m')",
        "return redis.call('publish','chan','m')",
        // redis.pcall hands the error back to the script.
        "local r = redis.pcall('get','zz'); return r['err']",
        "local r = redis.pcall('hset','x1','f','v'); return {type(r), r['err']}",
        // What he may do still works, and the same refusal again is counted.
        "return redis.call('set','x1','v')",
        "return redis.call('get','yy')",
    ] {
        out.push(q(&mut b, &["EVAL", script, "0"]));
    }
    out.push(q(
        &mut b,
        &["EVAL_RO", "return redis.call('get','yy')", "0"],
    ));
    out.push(q(&mut b, &["FCALL", "f_set_yy", "0"]));
    out.push(q(&mut b, &["FCALL_RO", "f_ro_get", "1", "x1"]));
    out.push(q(&mut admin, &["GET", "yy"]));
    out.extend(acl_log(&mut admin));
    // Inside MULTI/EXEC, the queued script is checked too.
    out.push(q(&mut b, &["MULTI"]));
    out.push(q(
        &mut b,
        &["EVAL", "return redis.call('set','yy','2')", "0"],
    ));
    out.push(q(
        &mut b,
        &[
            "EVAL",
            "local r = redis.pcall('get','yy'); return r['err']",
            "0",
        ],
    ));
    out.push(q(&mut b, &["SET", "x2", "ok"]));
    out.push(q(&mut b, &["EXEC"]));
    out.push(q(&mut admin, &["GET", "yy"]));
    out.push(q(&mut admin, &["GET", "x2"]));
    out
}

#[test]
fn scripts_check_their_callers_acl_as_redis_does() {
    let redis = RedisServer::start();
    let want = scenario(redis.port);
    let srv = Server::start();
    let got = scenario(srv.port);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g, w,
            "step {i} differs (meridian / redis)\nmeridian: {got:#?}\nredis: {want:#?}"
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "meridian: {got:#?}\nredis: {want:#?}"
    );
    // The refusals are really there (the comparison alone would pass if both had none).
    assert!(
        got.iter()
            .any(|l| l.contains("reason=key context=lua object=yy username=bob")),
        "{got:#?}"
    );
}
