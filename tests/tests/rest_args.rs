//! REST argument types (booleans, raw number text, null, nested values) and sync tokens
//! under group commit (distinct, increasing, and a read-your-writes target on a replica),
//! against the real binary.

use meridian_tests::cluster::Cluster;
use meridian_tests::Server;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const MARK: u64 = 1 << 62;

fn index_of(token: u64) -> u64 {
    if token & MARK != 0 {
        (token & !MARK) >> 16
    } else {
        token
    }
}

struct Rest {
    base: String,
    agent: ureq::Agent,
}

struct Reply {
    status: u16,
    sync: Option<u64>,
    body: Value,
}

impl Rest {
    fn new(port: u16) -> Rest {
        Rest {
            base: format!("http://127.0.0.1:{port}"),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(),
        }
    }

    fn post(&self, path: &str, body: &str, sync: Option<u64>) -> Reply {
        let mut r = self.agent.post(&format!("{}{path}", self.base));
        if let Some(t) = sync {
            r = r.set("upstash-sync-token", &t.to_string());
        }
        let resp = match r.send_string(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("POST {path} {body}: {e}"),
        };
        let status = resp.status();
        let sync = resp
            .header("upstash-sync-token")
            .map(|v| v.parse().expect("numeric sync token"));
        let text = resp.into_string().expect("body");
        let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        Reply { status, sync, body }
    }

    fn cmd(&self, body: &str) -> Reply {
        self.post("/", body, None)
    }
}

fn ok(v: Value) -> Value {
    json!({ "result": v })
}

#[test]
fn rest_json_argument_types() {
    let s = Server::start();
    let r = Rest::new(s.rest_port);
    let is = |body: &str, status: u16, want: Value| {
        let rep = r.cmd(body);
        assert_eq!((rep.status, &rep.body), (status, &want), "{body}");
    };
    // Booleans, as @upstash/redis sends them: "true" / "false".
    is(r#"["hset","h","f",false,"g",true]"#, 200, ok(json!(2)));
    is(
        r#"["hmget","h","f","g"]"#,
        200,
        ok(json!(["false", "true"])),
    );
    // Numbers keep the text they were written with.
    is(r#"["set","n",1.50]"#, 200, ok(json!("OK")));
    is(r#"["get","n"]"#, 200, ok(json!("1.50")));
    is(r#"["set","e",1e3]"#, 200, ok(json!("OK")));
    is(r#"["get","e"]"#, 200, ok(json!("1e3")));
    is(
        r#"["set","big",123456789012345678901234567890]"#,
        200,
        ok(json!("OK")),
    );
    is(
        r#"["get","big"]"#,
        200,
        ok(json!("123456789012345678901234567890")),
    );
    is(r#"["incrbyfloat","n",-0.25]"#, 200, ok(json!("1.25")));
    is(r#"["set","k","v","ex",100]"#, 200, ok(json!("OK")));
    // null and nested values: a clear 400, nothing run.
    for (body, needle) in [
        (
            r#"["set","k",null]"#,
            "null is not a valid command argument",
        ),
        (r#"["set","k",[1]]"#, "nested array or object"),
        (r#"["set","k",{"a":1}]"#, "nested array or object"),
        (r#"["set","k",01]"#, "invalid number"),
    ] {
        let rep = r.cmd(body);
        assert_eq!(rep.status, 400, "{body}");
        let e = rep.body["error"].as_str().unwrap();
        assert!(e.starts_with("ERR ") && e.contains(needle), "{body}: {e}");
    }
    is(r#"["get","k"]"#, 200, ok(json!("v")));
    // /pipeline and /multi-exec read arguments the same way.
    let rep = r.post(
        "/pipeline",
        r#"[["hset","p","a",true],["set","q",2.0],["hget","p","a"],["get","q"]]"#,
        None,
    );
    assert_eq!(rep.status, 200);
    assert_eq!(
        rep.body,
        json!([{"result":1},{"result":"OK"},{"result":"true"},{"result":"2.0"}])
    );
    let rep = r.post(
        "/multi-exec",
        r#"[["hset","m","a",false],["hget","m","a"]]"#,
        None,
    );
    assert_eq!(rep.body, json!([{"result":1},{"result":"false"}]));
    let rep = r.post(
        "/multi-exec",
        r#"[["set","m2","x"],["set","m2",null]]"#,
        None,
    );
    assert_eq!(rep.status, 400);
    assert!(rep.body["error"].as_str().unwrap().contains("null"));
    is(r#"["exists","m2"]"#, 200, ok(json!(0)));
    let rep = r.post("/pipeline", r#"[["set","m3","x"],["get",[]]]"#, None);
    assert_eq!(rep.status, 400);
    is(r#"["exists","m3"]"#, 200, ok(json!(0)));
}

/// Several clients write at once through the leader (their writes share log entries:
/// group commit). Every acknowledged write gets its own token, each client's tokens
/// increase, and a read on a read replica carrying any of the tokens sees that write,
/// over REST's header and over RESP's CLIENT SYNC-TOKEN.
#[test]
fn rest_sync_tokens_distinct_under_group_commit() {
    let mut c = Cluster::start(1);
    let replica = c.add_replica("eu-west-1");
    let leader = Rest::new(c.nodes[0].rest_port);
    const CLIENTS: usize = 8;
    const WRITES: usize = 40;
    let base = leader.base.clone();
    let per_client: Vec<Vec<(String, u64)>> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|cl| {
                let base = base.clone();
                sc.spawn(move || {
                    let r = Rest {
                        base,
                        agent: ureq::AgentBuilder::new()
                            .timeout(Duration::from_secs(30))
                            .build(),
                    };
                    (0..WRITES)
                        .map(|i| {
                            let key = format!("c{cl}:{i}");
                            let rep = r.cmd(&format!(r#"["set","{key}","{i}"]"#));
                            assert_eq!(rep.body, ok(json!("OK")));
                            (key, rep.sync.expect("a sync token on every reply"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all = HashSet::new();
    let mut indexes = HashSet::new();
    for writes in &per_client {
        for w in writes.windows(2) {
            assert!(w[1].1 > w[0].1, "tokens of one client must increase: {w:?}");
        }
        for (_, t) in writes {
            assert!(all.insert(*t), "token {t} was returned twice");
            indexes.insert(index_of(*t));
        }
    }
    // The test means something only if writes did share entries.
    assert!(
        indexes.len() < CLIENTS * WRITES,
        "no two writes shared a log entry ({} entries)",
        indexes.len()
    );

    // Read your writes on the replica, with each token.
    let rr = Rest::new(c.nodes[replica].rest_port);
    for (cl, writes) in per_client.iter().enumerate() {
        for (i, (key, t)) in writes.iter().enumerate() {
            let rep = rr.post("/", &format!(r#"["get","{key}"]"#), Some(*t));
            assert_eq!(rep.body, ok(json!(i.to_string())), "client {cl} token {t}");
            assert!(
                rep.sync.unwrap() >= *t,
                "a reply's token is not below the request's"
            );
        }
    }
    // The same token through RESP's CLIENT SYNC-TOKEN on the replica.
    let (key, t) = per_client[0].last().unwrap().clone();
    let rep = leader.cmd(&format!(r#"["set","{key}","again"]"#));
    let t2 = rep.sync.unwrap();
    assert!(t2 > t);
    let mut con = c.nodes[replica].client();
    let _: () = redis::cmd("CLIENT")
        .arg("SYNC-TOKEN")
        .arg(t2)
        .query(&mut con)
        .unwrap();
    let v: String = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
    assert_eq!(v, "again");
    // A plain log index (what CLIENT SYNC-TOKEN reports) still works as a REST token.
    let mut con0 = c.nodes[0].client();
    let _: () = redis::cmd("SET")
        .arg("resp")
        .arg("w")
        .query(&mut con0)
        .unwrap();
    let plain: u64 = redis::cmd("CLIENT")
        .arg("SYNC-TOKEN")
        .query(&mut con0)
        .unwrap();
    assert!(plain > index_of(t2) && plain & MARK == 0, "{plain}");
    let rep = rr.post("/", r#"["get","resp"]"#, Some(plain));
    assert_eq!(rep.body, ok(json!("w")));
    assert!(index_of(rep.sync.unwrap()) >= plain);
    // A token for an entry that does not exist yet: a bounded wait, then TRYAGAIN
    // naming its index.
    let far = MARK | ((index_of(t2) + 1_000_000) << 16) | 3;
    let rep = rr.post("/", r#"["get","c1:0"]"#, Some(far));
    assert_eq!(rep.status, 400);
    let e = rep.body["error"].as_str().unwrap();
    assert!(e.starts_with("TRYAGAIN") && e.contains("log index"), "{e}");
}
