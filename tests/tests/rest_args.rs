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

/// The Redis 7.4/8 commands @upstash/redis sends (HGETDEL, HGETEX, HSETEX, BITOP
/// DIFF/DIFF1/ANDOR/ONE, SCAN WITHTYPE / TYPE), through REST as the SDK sends them;
/// replies and error texts as Redis 8's t_hash.c / bitops.c give them.
#[test]
fn rest_redis8_commands() {
    let s = Server::start();
    let r = Rest::new(s.rest_port);
    let is = |body: &str, want: Value| {
        let rep = r.cmd(body);
        assert_eq!(rep.body, ok(want), "{body}");
    };
    let err = |body: &str, want: &str| {
        let rep = r.cmd(body);
        assert_eq!(rep.status, 400, "{body}");
        assert_eq!(rep.body["error"].as_str().unwrap(), want, "{body}");
    };
    // HGETDEL (the redis.io example).
    is(
        r#"["hset","mykey","field1","Hello","field2","World","field3","!"]"#,
        json!(3),
    );
    is(
        r#"["hgetdel","mykey","FIELDS",2,"field3","field4"]"#,
        json!(["!", null]),
    );
    is(
        r#"["hgetall","mykey"]"#,
        json!(["field1", "Hello", "field2", "World"]),
    );
    is(
        r#"["hgetdel","mykey","FIELDS",3,"field1","field2","field1"]"#,
        json!(["Hello", "World", null]),
    );
    is(r#"["exists","mykey"]"#, json!(0));
    is(r#"["hgetdel","nokey","FIELDS",1,"a"]"#, json!([null]));
    err(
        r#"["hgetdel","mykey","FIELD",1,"a"]"#,
        "ERR Mandatory argument FIELDS is missing or not at the right position",
    );
    err(
        r#"["hgetdel","mykey","FIELDS",0,"a"]"#,
        "ERR Number of fields must be a positive integer",
    );
    err(
        r#"["hgetdel","mykey","FIELDS",2,"a"]"#,
        "ERR The `numfields` parameter must match the number of arguments",
    );
    is(r#"["set","str","v"]"#, json!("OK"));
    err(
        r#"["hgetdel","str","FIELDS",1,"a"]"#,
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );

    // HGETEX.
    is(r#"["hset","h","a","1","b","2"]"#, json!(2));
    is(r#"["hgetex","h","FIELDS",2,"a","c"]"#, json!(["1", null]));
    is(r#"["httl","h","FIELDS",2,"a","b"]"#, json!([-1, -1]));
    is(
        r#"["hgetex","h","EX",100,"FIELDS",2,"a","c"]"#,
        json!(["1", null]),
    );
    is(r#"["httl","h","FIELDS",2,"a","b"]"#, json!([100, -1]));
    is(r#"["hgetex","h","PERSIST","FIELDS",1,"a"]"#, json!(["1"]));
    is(r#"["httl","h","FIELDS",1,"a"]"#, json!([-1]));
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 500_000;
    is(
        &format!(r#"["hgetex","h","PXAT",{at},"FIELDS",1,"b"]"#),
        json!(["2"]),
    );
    is(r#"["hpexpiretime","h","FIELDS",1,"b"]"#, json!([at]));
    is(r#"["hgetex","h","PX",0,"FIELDS",1,"a"]"#, json!(["1"]));
    is(r#"["hexists","h","a"]"#, json!(0));
    is(r#"["hgetex","h","EXAT",1,"FIELDS",1,"b"]"#, json!(["2"]));
    is(r#"["exists","h"]"#, json!(0));
    is(r#"["hgetex","h","EX",10,"FIELDS",1,"b"]"#, json!([null]));
    err(
        r#"["hgetex","h","EX",-1,"FIELDS",1,"a"]"#,
        "ERR invalid expire time, must be >= 0",
    );
    err(
        r#"["hgetex","h","EX",10,"FIELDS",0,"a"]"#,
        "ERR Number of fields must be a positive integer",
    );
    err(
        r#"["hgetex","h","FIELDS",2,"a"]"#,
        "ERR The `numfields` parameter must match the number of arguments",
    );
    err(
        r#"["hgetex","h","XX","FIELDS",1,"a"]"#,
        "ERR Mandatory argument FIELDS is missing or not at the right position",
    );
    err(
        r#"["hgetex","h","EX","x","FIELDS",1,"a"]"#,
        "ERR value is not an integer or out of range",
    );
    err(
        r#"["hgetex","h","EX",99999999999999,"FIELDS",1,"a"]"#,
        "ERR invalid expire time in 'hgetex' command",
    );
    err(
        r#"["hgetex","str","FIELDS",1,"a"]"#,
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );

    // HSETEX.
    is(r#"["hsetex","s","FXX","FIELDS",1,"a","1"]"#, json!(0));
    is(r#"["exists","s"]"#, json!(0));
    is(
        r#"["hsetex","s","FNX","EX",100,"FIELDS",2,"a","1","b","2"]"#,
        json!(1),
    );
    is(r#"["httl","s","FIELDS",2,"a","b"]"#, json!([100, 100]));
    is(
        r#"["hsetex","s","FNX","FIELDS",2,"a","3","c","3"]"#,
        json!(0),
    );
    is(
        r#"["hsetex","s","FXX","FIELDS",2,"a","3","c","3"]"#,
        json!(0),
    );
    is(
        r#"["hsetex","s","FXX","KEEPTTL","FIELDS",1,"a","5"]"#,
        json!(1),
    );
    is(r#"["hmget","s","a","b","c"]"#, json!(["5", "2", null]));
    is(r#"["httl","s","FIELDS",1,"a"]"#, json!([100]));
    is(r#"["hsetex","s","FIELDS",1,"a","6"]"#, json!(1));
    is(r#"["httl","s","FIELDS",1,"a"]"#, json!([-1]));
    is(
        r#"["hsetex","s","PX",0,"FIELDS",2,"b","9","new","9"]"#,
        json!(1),
    );
    is(r#"["hgetall","s"]"#, json!(["a", "6"]));
    is(r#"["hsetex","s","EXAT",1,"FIELDS",1,"a","7"]"#, json!(1));
    is(r#"["exists","s"]"#, json!(0));
    is(r#"["hsetex","s","EXAT",1,"FIELDS",1,"a","7"]"#, json!(1));
    is(r#"["exists","s"]"#, json!(0));
    err(
        r#"["hsetex","s","EX",10,"PX",10,"FIELDS",1,"a","1"]"#,
        "ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified",
    );
    err(
        r#"["hsetex","s","KEEPTTL","EX",10,"FIELDS",1,"a","1"]"#,
        "ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified",
    );
    err(
        r#"["hsetex","s","FXX","FNX","FIELDS",1,"a","1"]"#,
        "ERR Only one of FXX or FNX arguments can be specified",
    );
    err(
        r#"["hsetex","s","FIELDS",2,"a","1"]"#,
        "ERR wrong number of arguments for 'hsetex' command",
    );
    err(
        r#"["hsetex","s","FIELDS",1,"a","1","b"]"#,
        "ERR wrong number of arguments for 'hsetex' command",
    );
    err(
        r#"["hsetex","s","FIELDS",0,"a","1"]"#,
        "ERR invalid number of fields",
    );
    err(
        r#"["hsetex","s","BOGUS","FIELDS",1,"a","1"]"#,
        "ERR unknown argument: BOGUS",
    );
    err(
        r#"["hsetex","s","EX","FIELDS",1,"a","1"]"#,
        "ERR value is not an integer or out of range",
    );
    err(
        r#"["hsetex","str","FIELDS",1,"a","1"]"#,
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    );

    // BITOP's Redis 8.2 operations: 0xF0, 0xCC, 0xAA.
    for (k, v) in [("k1", 0xF0), ("k2", 0xCC), ("k3", 0xAA)] {
        is(
            &format!(r#"["bitfield","{k}","SET","u8",0,{v}]"#),
            json!([0]),
        );
    }
    for (op, want) in [
        ("DIFF", 0x10),
        ("DIFF1", 0x0E),
        ("ANDOR", 0xE0),
        ("ONE", 0x16),
        ("diff", 0x10),
        ("AND", 0x80),
        ("OR", 0xFE),
        ("XOR", 0x96),
    ] {
        is(&format!(r#"["bitop","{op}","d","k1","k2","k3"]"#), json!(1));
        is(r#"["bitfield","d","GET","u8",0]"#, json!([want]));
    }
    // Sources of different lengths read as zero-padded.
    is(r#"["bitfield","long","SET","u8",8,255]"#, json!([0]));
    is(r#"["bitop","DIFF1","d","k1","long"]"#, json!(2));
    is(r#"["bitfield","d","GET","u16",0]"#, json!([0x00FF]));
    is(r#"["bitop","ONE","d","k1"]"#, json!(1));
    is(r#"["bitfield","d","GET","u8",0]"#, json!([0xF0]));
    err(
        r#"["bitop","diff","d","k1"]"#,
        "ERR BITOP DIFF must be called with at least two source keys.",
    );
    err(
        r#"["bitop","Diff1","d","k1"]"#,
        "ERR BITOP DIFF1 must be called with at least two source keys.",
    );
    err(
        r#"["bitop","andor","d","k1"]"#,
        "ERR BITOP ANDOR must be called with at least two source keys.",
    );
    err(r#"["bitop","nand","d","k1","k2"]"#, "ERR syntax error");
    is(r#"["bitop","ANDOR","d","none1","none2"]"#, json!(0));
    is(r#"["exists","d"]"#, json!(0));

    // SCAN TYPE, and Upstash's WITHTYPE.
    is(r#"["flushdb"]"#, json!("OK"));
    is(r#"["set","st","v"]"#, json!("OK"));
    is(r#"["hset","hs","f","v"]"#, json!(1));
    is(r#"["sadd","se","m"]"#, json!(1));
    let rep = r.cmd(r#"["scan",0,"count",1000,"withtype"]"#);
    let mut pairs: Vec<(String, String)> = rep.body["result"][1]
        .as_array()
        .unwrap()
        .chunks(2)
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect();
    pairs.sort();
    let want: Vec<(String, String)> = [("hs", "hash"), ("se", "set"), ("st", "string")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(pairs, want);
    is(
        r#"["scan",0,"count",1000,"type","hash"]"#,
        json!(["0", ["hs"]]),
    );
    is(
        r#"["scan",0,"match","s*","count",1000,"type","set","withtype"]"#,
        json!(["0", ["se", "set"]]),
    );
    err(r#"["scan",0,"type"]"#, "ERR syntax error");
}
