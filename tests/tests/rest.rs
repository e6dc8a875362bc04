//! The REST front end (Upstash protocol) against the real binary: the documented curl
//! examples, every request form, tokens, encodings, limits, sync tokens, keep-alive
//! latency, and the official `upstash-redis` Python SDK.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use meridian_tests::{binary, free_port, Server};
use serde_json::{json, Value};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The documented derivation (crates/server/src/rest/auth.rs):
/// base64url_nopad(HMAC-SHA256(key = password, msg = "meridian rest token v1: <kind>")).
fn derive_token(password: &str, kind: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(password.as_bytes()).unwrap();
    mac.update(format!("meridian rest token v1: {kind}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[derive(Debug)]
struct Reply {
    status: u16,
    ctype: String,
    sync: Option<u64>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {:?} (status {})",
                String::from_utf8_lossy(&self.body),
                self.status
            )
        })
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Asserts status and JSON body together, with a readable failure.
    fn is(&self, status: u16, body: Value) {
        assert_eq!(
            (self.status, self.json()),
            (status, body),
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
    }
}

struct Rest {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Rest {
    fn new(s: &Server, token: Option<&str>) -> Rest {
        Rest {
            base: format!("http://127.0.0.1:{}", s.rest_port),
            token: token.map(str::to_string),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(),
        }
    }

    fn with_token(&self, token: Option<&str>) -> Rest {
        Rest {
            base: self.base.clone(),
            token: token.map(str::to_string),
            agent: self.agent.clone(),
        }
    }

    fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let mut r = self.agent.request(method, &format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            r = r.set("Authorization", &format!("Bearer {t}"));
        }
        for (k, v) in headers {
            r = r.set(k, v);
        }
        let res = match body {
            Some(b) => r.send_bytes(b),
            None => r.call(),
        };
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let headers = resp
            .headers_names()
            .into_iter()
            .map(|n| {
                let v = resp.header(&n).unwrap_or("").to_string();
                (n, v)
            })
            .collect();
        let status = resp.status();
        let ctype = resp.header("content-type").unwrap_or("").to_string();
        let sync = resp
            .header("upstash-sync-token")
            .map(|v| v.parse().expect("numeric sync token"));
        let mut body = Vec::new();
        resp.into_reader()
            .take(64 << 20)
            .read_to_end(&mut body)
            .expect("body");
        Reply {
            status,
            ctype,
            sync,
            headers,
            body,
        }
    }

    fn get(&self, path: &str) -> Reply {
        self.req("GET", path, &[], None)
    }

    fn post(&self, path: &str, body: &str) -> Reply {
        self.req("POST", path, &[], Some(body.as_bytes()))
    }
}

fn ok(v: Value) -> Value {
    json!({ "result": v })
}

fn err(msg: &str) -> Value {
    json!({ "error": msg })
}

#[test]
fn rest_documented_curl_examples() {
    let s = Server::start_with(Some("pw"), &[]);
    let token = derive_token("pw", "standard");
    let r = Rest::new(&s, Some(&token));

    // curl REST_URL/set/foo/bar -H "Authorization: Bearer $TOKEN" → {"result":"OK"}
    let rep = r.get("/set/foo/bar");
    rep.is(200, ok(json!("OK")));
    assert!(rep.ctype.starts_with("application/json"), "{}", rep.ctype);
    // ... and with ?_token= instead of the header.
    r.with_token(None)
        .get(&format!("/set/foo/bar?_token={token}"))
        .is(200, ok(json!("OK")));
    r.get("/get/foo").is(200, ok(json!("bar")));

    // SET foo bar EX 100 -> REST_URL/set/foo/bar/EX/100
    r.get("/set/foo/bar/EX/100").is(200, ok(json!("OK")));
    let ttl = r.get("/ttl/foo").json()["result"].as_i64().unwrap();
    assert!((90..=100).contains(&ttl), "{ttl}");
    // MGET foo1 foo2 foo3 -> REST_URL/mget/foo1/foo2/foo3
    r.get("/set/foo1/value1");
    r.get("/set/foo3/value2");
    r.get("/mget/foo1/foo2/foo3")
        .is(200, ok(json!(["value1", null, "value2"])));

    // curl -X POST -d '$VALUE' REST_URL/set/foo
    let value = r#"{"name":"ünïcode","list":[1,2]}"#;
    r.post("/set/foo", value).is(200, ok(json!("OK")));
    r.get("/get/foo").is(200, ok(json!(value)));
    // curl -X POST -d '$VALUE' REST_URL/set/foo?EX=100
    r.post("/set/foo?EX=100", "$VALUE").is(200, ok(json!("OK")));
    r.get("/get/foo").is(200, ok(json!("$VALUE")));
    let ttl = r.get("/ttl/foo").json()["result"].as_i64().unwrap();
    assert!((90..=100).contains(&ttl), "{ttl}");

    // curl -X POST -d '["SET", "foo", "bar", "EX", 100]' REST_URL
    r.post("/", r#"["SET", "foo", "bar", "EX", 100]"#)
        .is(200, ok(json!("OK")));
    r.get("/get/foo").is(200, ok(json!("bar")));
    let ttl = r.get("/ttl/foo").json()["result"].as_i64().unwrap();
    assert!((90..=100).contains(&ttl), "{ttl}");

    // The documented result shapes: null, integer, string, array; and errors.
    r.get("/get/nothing").is(200, ok(Value::Null));
    r.get("/incrby/counter/137").is(200, ok(json!(137)));
    r.get("/get")
        .is(400, err("ERR wrong number of arguments for 'get' command"));
    // 400 for an unknown command.
    let rep = r.get("/nosuchcommand/x");
    assert_eq!(rep.status, 400);
    assert!(rep.json()["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR unknown command 'nosuchcommand'"));

    // curl -X POST REST_URL/info -H "Authorization: Bearer $TOKEN"
    let rep = r.post("/info", "");
    assert_eq!(rep.status, 200);
    assert!(rep.json()["result"]
        .as_str()
        .unwrap()
        .contains("redis_version"));

    // The pipeline example, verbatim.
    let rep = r.post(
        "/pipeline",
        r#"
        [
            ["SET", "key1", "valuex"],
            ["SETEX", "key2", 13, "valuez"],
            ["INCR", "key1"],
            ["ZADD", "myset", 11, "item1", 22, "item2"]
        ]"#,
    );
    assert_eq!(rep.status, 200);
    let v = rep.json();
    assert_eq!(v[0], ok(json!("OK")));
    assert_eq!(v[1], ok(json!("OK")));
    assert!(v[2]["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR value is not an int"));
    assert_eq!(v[3], ok(json!(2)));
    assert_eq!(v.as_array().unwrap().len(), 4);

    // The transaction example, same commands.
    r.get("/del/key1/key2");
    let rep = r.post(
        "/multi-exec",
        r#"[["SET", "key1", "valuex"], ["SETEX", "key2", 13, "valuez"], ["INCR", "key1"]]"#,
    );
    assert_eq!(rep.status, 200);
    let v = rep.json();
    assert_eq!(v[0], ok(json!("OK")));
    assert_eq!(v[1], ok(json!("OK")));
    assert!(v[2]["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR value is not an int"));
    r.get("/get/key2").is(200, ok(json!("valuez")));

    // Base64: SET → "OK" stays, GET → "YmFy".
    let b64 = [("Upstash-Encoding", "base64")];
    let rep = r.req("GET", "/SET/foo/bar", &b64, None);
    rep.is(200, ok(json!("OK")));
    r.req("GET", "/GET/foo", &b64, None)
        .is(200, ok(json!("YmFy")));

    // RESP2: +OK\r\n and $3\r\nbar\r\n as application/octet-stream (the doc's curl
    // example spells the header "Upstash-Reponse-Format"; both spellings work).
    for h in ["Upstash-Response-Format", "Upstash-Reponse-Format"] {
        let rep = r.req("GET", "/SET/foo/bar", &[(h, "resp2")], None);
        assert_eq!((rep.status, &rep.body[..]), (200, &b"+OK\r\n"[..]));
        assert_eq!(rep.ctype, "application/octet-stream");
        let rep = r.req("GET", "/GET/foo", &[(h, "resp2")], None);
        assert_eq!((rep.status, &rep.body[..]), (200, &b"$3\r\nbar\r\n"[..]));
    }

    // 401 without or with a wrong token, with the documented error.
    let anon = r.with_token(None);
    anon.get("/set/foo/bar")
        .is(401, err("WRONGPASS invalid or missing auth token"));
    r.with_token(Some("2553feg6a2d9842h2a0gcdb5f8efe9934"))
        .get("/get/foo")
        .is(401, err("WRONGPASS invalid or missing auth token"));
    anon.get("/get/foo?_token=wrong")
        .is(401, err("WRONGPASS invalid or missing auth token"));
    // The RESP password is not a REST token.
    r.with_token(Some("pw"))
        .get("/get/foo")
        .is(401, err("WRONGPASS invalid or missing auth token"));
    r.get("/get/foo").is(200, ok(json!("bar")));

    // 405 for methods other than HEAD GET POST PUT.
    for m in ["DELETE", "PATCH"] {
        let rep = r.req(m, "/get/foo", &[], None);
        assert_eq!(rep.status, 405, "{m}");
        assert_eq!(rep.header("allow"), Some("HEAD, GET, POST, PUT"));
    }
    assert_eq!(r.req("HEAD", "/get/foo", &[], None).status, 200);
    r.req("PUT", "/set/put", &[], Some(b"v"))
        .is(200, ok(json!("OK")));
    r.get("/get/put").is(200, ok(json!("v")));
}

#[test]
fn rest_request_forms() {
    let s = Server::start();
    let r = Rest::new(&s, None);

    // URL-encoded path segments: '/', space, '?', '#', '%', unicode, '+' kept literally.
    r.get("/set/a%2Fb%20c%3F%23%25/v%C3%A9+x")
        .is(200, ok(json!("OK")));
    r.post("/", r#"["GET", "a/b c?#%"]"#)
        .is(200, ok(json!("vé+x")));
    r.get("/exists/a%2Fb%20c%3F%23%25").is(200, ok(json!(1)));
    // Binary values: invalid UTF-8 becomes U+FFFD in JSON, exact in base64.
    r.get("/set/bin/%FF%00a").is(200, ok(json!("OK")));
    r.get("/get/bin").is(200, ok(json!("\u{fffd}\u{0}a")));
    r.req("GET", "/get/bin", &[("Upstash-Encoding", "base64")], None)
        .is(200, ok(json!("/wBh")));
    r.req("POST", "/set/bin2", &[], Some(&[0xfe, 0x01, 0xff]))
        .is(200, ok(json!("OK")));
    r.req("GET", "/strlen/bin2", &[], None)
        .is(200, ok(json!(3)));
    // Trailing slash adds nothing; command names are case-insensitive.
    r.get("/GeT/bin2/")
        .is(200, ok(json!("\u{fffd}\u{1}\u{fffd}")));

    // POST body as the last argument, query parameters after it.
    r.post("/set/q?EX=50&NX", "body value")
        .is(200, ok(json!("OK")));
    r.get("/get/q").is(200, ok(json!("body value")));
    let ttl = r.get("/ttl/q").json()["result"].as_i64().unwrap();
    assert!((40..=50).contains(&ttl), "{ttl}");
    r.post("/set/q?NX", "other").is(200, ok(Value::Null));
    // Query parameters work on GET too, form-decoded.
    r.get("/set/q2/v?PX=100000&GET").is(200, ok(Value::Null));
    let pttl = r.get("/pttl/q2").json()["result"].as_i64().unwrap();
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");

    // A JSON command array: strings and numbers (integers, negative, floats).
    r.post("/", r#"["SET", "n", 10]"#).is(200, ok(json!("OK")));
    r.post("/", r#"["INCRBY", "n", -3]"#).is(200, ok(json!(7)));
    r.post("/", r#"["INCRBYFLOAT", "n", 0.5]"#)
        .is(200, ok(json!("7.5")));
    r.post("/", r#"["MGET", "n", "q", "none"]"#)
        .is(200, ok(json!(["7.5", "body value", null])));

    // Malformed bodies: 400 with a clear error, nothing run.
    for (body, needle) in [
        ("", "empty command"),
        ("   ", "empty command"),
        ("[]", "empty command"),
        ("[\"SET\", \"k\"", "invalid request body"),
        ("{\"cmd\": \"GET\"}", "expected a JSON array"),
        ("\"GET\"", "invalid request body"),
        ("[\"SET\", \"k\", {\"a\": 1}]", "a string or a number"),
        ("[\"SET\", \"k\", null]", "a string or a number"),
        ("[\"SET\", \"k\", [1]]", "a string or a number"),
    ] {
        let rep = r.post("/", body);
        assert_eq!(rep.status, 400, "{body:?}");
        let e = rep.json()["error"].as_str().unwrap().to_string();
        assert!(e.starts_with("ERR ") && e.contains(needle), "{body:?}: {e}");
    }
    r.get("/exists/k").is(200, ok(json!(0)));
    let rep = r.get("/");
    assert_eq!(rep.status, 400);
    assert!(rep.json()["error"]
        .as_str()
        .unwrap()
        .contains("empty command"));

    // Connection commands other than PING/ECHO make no sense per request.
    r.get("/ping").is(200, ok(json!("PONG")));
    r.get("/echo/hi").is(200, ok(json!("hi")));
    let rep = r.get("/select/1");
    assert_eq!(rep.status, 400);
    assert!(rep.json()["error"]
        .as_str()
        .unwrap()
        .contains("not supported over REST"));
    assert_eq!(r.get("/quit").status, 400);
    r.get("/get/q").is(200, ok(json!("body value")));

    // SUBSCRIBE and MONITOR as commands: a clear 400 pointing at the SSE endpoints;
    // /subscribe without a channel is refused too.
    for p in ["/psubscribe", "/monitor/extra", "/subscribe"] {
        let rep = r.post(p, "");
        assert_eq!(rep.status, 400, "{p}");
        assert!(
            rep.json()["error"]
                .as_str()
                .unwrap()
                .contains("/subscribe/"),
            "{p}"
        );
    }
    for body in [r#"["SUBSCRIBE","chat"]"#, r#"["MONITOR"]"#] {
        let rep = r.post("/", body);
        assert_eq!(rep.status, 400, "{body}");
        assert!(
            rep.json()["error"]
                .as_str()
                .unwrap()
                .contains("/subscribe/"),
            "{body}"
        );
    }
    // Blocking commands do not block over REST (as Upstash): refused.
    let rep = r.get("/blpop/q/0");
    assert_eq!(rep.status, 400);
    assert!(rep.json()["error"]
        .as_str()
        .unwrap()
        .contains("not supported over REST"));
    // ACL RESTTOKEN needs ACL users: the generic unknown-command error for now.
    assert_eq!(r.get("/acl/resttoken/default/pw").status, 400);
}

#[test]
fn rest_pipeline_is_in_order_with_errors_inline() {
    let s = Server::start();
    let r = Rest::new(&s, None);
    let rep = r.post(
        "/pipeline",
        r#"[["SET","p","1"],["NOSUCH","x"],["INCR","p"],["GET"],["SET","s","str"],["INCR","s"],["GET","p"],["MGET","p","s"]]"#,
    );
    assert_eq!(rep.status, 200);
    let v = rep.json();
    assert_eq!(v[0], ok(json!("OK")));
    assert!(v[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR unknown command 'NOSUCH'"));
    assert_eq!(v[2], ok(json!(2)));
    assert_eq!(v[3], err("ERR wrong number of arguments for 'get' command"));
    assert_eq!(v[4], ok(json!("OK")));
    assert!(v[5]["error"].as_str().unwrap().contains("not an integer"));
    assert_eq!(v[6], ok(json!("2")));
    assert_eq!(v[7], ok(json!(["2", "str"])));
    assert_eq!(v.as_array().unwrap().len(), 8);

    // Formats apply per command.
    let rep = r.req(
        "POST",
        "/pipeline",
        &[("Upstash-Encoding", "base64")],
        Some(br#"[["SET","b","bar"],["GET","b"],["INCR","p"],["GET","none"]]"#),
    );
    rep.is(
        200,
        json!([
            ok(json!("OK")),
            ok(json!("YmFy")),
            ok(json!(3)),
            ok(Value::Null)
        ]),
    );
    let rep = r.req(
        "POST",
        "/pipeline",
        &[("Upstash-Response-Format", "resp2")],
        Some(br#"[["SET","b","bar"],["GET","b"],["INCR","b"]]"#),
    );
    assert_eq!(rep.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&rep.body),
        "+OK\r\n$3\r\nbar\r\n-ERR value is not an integer or out of range\r\n"
    );

    // Malformed pipelines are refused whole.
    for body in [
        "",
        "[]",
        "[[]]",
        r#"["GET","p"]"#,
        r#"[["GET","p"], 5]"#,
        "[[\"GET\"",
    ] {
        let rep = r.post("/pipeline", body);
        assert_eq!(rep.status, 400, "{body:?}");
        assert!(rep.json()["error"].as_str().unwrap().starts_with("ERR "));
    }
}

#[test]
fn rest_multi_exec_is_atomic_and_one_entry() {
    let s = Server::start();
    let r = Rest::new(&s, None);

    // A command the table refuses discards the whole transaction: nothing applied.
    for (body, needle) in [
        (
            r#"[["SET","x","1"],["NOSUCH","a"],["SET","y","2"]]"#,
            "ERR unknown command 'NOSUCH'",
        ),
        (
            r#"[["SET","x","1"],["GET"],["SET","y","2"]]"#,
            "ERR wrong number of arguments for 'get' command",
        ),
        (
            r#"[["SET","x","1"],["SELECT","1"]]"#,
            "not supported over REST",
        ),
        (
            r#"[["SET","x","1"],["INFO"]]"#,
            "cannot run inside /multi-exec",
        ),
    ] {
        let rep = r.post("/multi-exec", body);
        assert_eq!(rep.status, 400, "{body}");
        let e = rep.json()["error"].as_str().unwrap().to_string();
        assert!(e.contains(needle), "{body}: {e}");
        assert!(rep.json().get("result").is_none());
    }
    r.get("/mget/x/y").is(200, ok(json!([null, null])));
    // Malformed bodies too.
    assert_eq!(r.post("/multi-exec", "[[\"SET\",\"x\"").status, 400);
    assert_eq!(r.post("/multi-exec", "[]").status, 400);
    r.get("/exists/x").is(200, ok(json!(0)));

    // A command failing at run time does not stop the others (Redis semantics), and
    // reads inside the transaction see its earlier writes.
    let before = r.get("/ping").sync.unwrap();
    let rep = r.post(
        "/multi-exec",
        r#"[["SET","x","1"],["GET","x"],["INCR","x"],["SET","s","text"],["INCR","s"],["GET","x"],["MGET","x","s"]]"#,
    );
    rep.is(
        200,
        json!([
            ok(json!("OK")),
            ok(json!("1")),
            ok(json!(2)),
            ok(json!("OK")),
            err("ERR value is not an integer or out of range"),
            ok(json!("2")),
            ok(json!(["2", "text"])),
        ]),
    );
    // All seven commands, reads included, were one log entry.
    // A sync token is `1 << 62 | log index << 16 | n` (crates/server/src/rest/mod.rs).
    let index = |t: u64| (t & !(1 << 62)) >> 16;
    assert_eq!(
        index(rep.sync.unwrap()),
        index(before) + 1,
        "one entry per transaction"
    );
    // /multi-exec answers JSON whatever the response format asks; base64 applies.
    let rep = r.req(
        "POST",
        "/multi-exec",
        &[("Upstash-Response-Format", "resp2")],
        Some(br#"[["GET","s"]]"#),
    );
    rep.is(200, json!([ok(json!("text"))]));
    let rep = r.req(
        "POST",
        "/multi-exec",
        &[("Upstash-Encoding", "base64")],
        Some(br#"[["GET","s"],["SET","s","t"]]"#),
    );
    rep.is(200, json!([ok(json!("dGV4dA==")), ok(json!("OK"))]));

    // Concurrent readers never see half a transaction.
    let base = r.base.clone();
    let writer = std::thread::spawn(move || {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        for i in 0..150 {
            let body = format!(r#"[["SET","ta","{i}"],["SET","tb","{i}"]]"#);
            agent
                .post(&format!("{base}/multi-exec"))
                .send_string(&body)
                .expect("multi-exec");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !writer.is_finished() && Instant::now() < deadline {
        let v = r.get("/mget/ta/tb").json();
        assert_eq!(v["result"][0], v["result"][1], "torn transaction: {v}");
    }
    writer.join().unwrap();
    r.get("/mget/ta/tb").is(200, ok(json!(["149", "149"])));
}

#[test]
fn rest_tokens_and_read_only() {
    let s = Server::start_with(Some("s3cret"), &[]);
    let standard = derive_token("s3cret", "standard");
    let read_only = derive_token("s3cret", "read-only");
    let r = Rest::new(&s, Some(&standard));
    let ro = r.with_token(Some(&read_only));
    let anon = r.with_token(None);

    r.get("/set/k/v").is(200, ok(json!("OK")));
    // The Authorization scheme is case-insensitive; ?_token works for both tokens.
    anon.req(
        "GET",
        "/get/k",
        &[("Authorization", &format!("bearer {standard}"))],
        None,
    )
    .is(200, ok(json!("v")));
    anon.get(&format!("/get/k?_token={read_only}"))
        .is(200, ok(json!("v")));

    // Missing or wrong tokens: 401, whatever the request form; nothing runs.
    for (path, body) in [
        ("/set/k/x", None),
        ("/", Some(r#"["SET","k","x"]"#)),
        ("/pipeline", Some(r#"[["SET","k","x"]]"#)),
        ("/multi-exec", Some(r#"[["SET","k","x"]]"#)),
    ] {
        let rep = anon.req("POST", path, &[], body.map(str::as_bytes));
        rep.is(401, err("WRONGPASS invalid or missing auth token"));
        assert!(rep.sync.is_none());
        r.with_token(Some(&format!("{standard}x")))
            .req("POST", path, &[], body.map(str::as_bytes))
            .is(401, err("WRONGPASS invalid or missing auth token"));
    }
    r.get("/get/k").is(200, ok(json!("v")));

    // The read-only token: reads yes; writes and keyspace walks no.
    ro.get("/get/k").is(200, ok(json!("v")));
    ro.get("/mget/k/none").is(200, ok(json!(["v", null])));
    ro.get("/ttl/k").is(200, ok(json!(-1)));
    ro.get("/ping").is(200, ok(json!("PONG")));
    for path in [
        "/set/k/x",
        "/del/k",
        "/incr/n",
        "/keys/*",
        "/scan/0",
        "/flushall",
    ] {
        let rep = ro.get(path);
        assert_eq!(rep.status, 400, "{path}");
        let e = rep.json()["error"].as_str().unwrap().to_string();
        assert!(e.starts_with("NOPERM"), "{path}: {e}");
    }
    let rep = ro.post(
        "/pipeline",
        r#"[["GET","k"],["SET","k","x"],["KEYS","*"],["GET","k"]]"#,
    );
    assert_eq!(rep.status, 200);
    let v = rep.json();
    assert_eq!(v[0], ok(json!("v")));
    assert!(v[1]["error"].as_str().unwrap().starts_with("NOPERM"));
    assert!(v[2]["error"].as_str().unwrap().starts_with("NOPERM"));
    assert_eq!(v[3], ok(json!("v")));
    let rep = ro.post("/multi-exec", r#"[["GET","k"],["SET","k","x"]]"#);
    assert_eq!(rep.status, 400);
    assert!(rep.json()["error"].as_str().unwrap().starts_with("NOPERM"));
    ro.post("/multi-exec", r#"[["GET","k"],["STRLEN","k"]]"#)
        .is(200, json!([ok(json!("v")), ok(json!(1))]));
    r.get("/get/k").is(200, ok(json!("v")));
    // The standard token may walk the keyspace.
    r.get("/keys/*").is(200, ok(json!(["k"])));
}

/// Reads the banner of a node started by hand until "ready in".
fn banner(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary())
        .arg("server")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--bind", "127.0.0.1", "--port"])
        .arg(free_port().to_string())
        .args(args)
        .env_remove("MERIDIAN_PASSWORD")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn meridian");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
            if line.contains("ready in") {
                let _ = tx.send(text.clone());
            }
        }
    });
    let out = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    out.expect("banner within 60 s")
}

#[test]
fn rest_banner_prints_url_and_tokens() {
    let rest = free_port();
    // A configured password and its tokens are not printed (stdout often lands in
    // shared logs); the banner says how to get them.
    let b = banner(&["--password", "s3cret-pw", "--rest-port", &rest.to_string()]);
    assert!(
        b.contains(&format!("UPSTASH_REDIS_REST_URL=http://127.0.0.1:{rest}\n")),
        "{b}"
    );
    assert!(!b.contains("s3cret-pw"), "{b}");
    assert!(!b.contains(&derive_token("s3cret-pw", "standard")), "{b}");
    assert!(!b.contains(&derive_token("s3cret-pw", "read-only")), "{b}");
    assert!(b.contains("ACL RESTTOKEN default"), "{b}");

    // A password generated by this (first) start is printed once, with its tokens.
    let rest = free_port();
    let b = banner(&["--rest-port", &rest.to_string()]);
    let pw = b
        .lines()
        .find_map(|l| l.trim().strip_prefix("password  "))
        .and_then(|l| l.split_whitespace().next())
        .expect("generated password in the banner")
        .to_string();
    assert_eq!(pw.len(), 32, "{b}");
    assert!(b.contains("printed only this once"), "{b}");
    assert!(
        b.contains(&format!(
            "UPSTASH_REDIS_REST_TOKEN={}\n",
            derive_token(&pw, "standard")
        )),
        "{b}"
    );
    assert!(b.contains(&derive_token(&pw, "read-only")), "{b}");
    assert!(b.contains("read-only token"), "{b}");

    let rest = free_port();
    let b = banner(&["--no-auth", "--rest-port", &rest.to_string()]);
    assert!(
        b.contains(&format!("UPSTASH_REDIS_REST_URL=http://127.0.0.1:{rest}\n")),
        "{b}"
    );
    assert!(b.contains("auth is off"), "{b}");
}

#[test]
fn rest_response_formats() {
    let s = Server::start();
    let r = Rest::new(&s, None);
    r.get("/set/foo/bar").is(200, ok(json!("OK")));
    r.get("/set/n/5");
    let b64 = [("Upstash-Encoding", "base64")];
    r.req("GET", "/mget/foo/none/n", &b64, None)
        .is(200, ok(json!(["YmFy", null, "NQ=="])));
    r.req("GET", "/incr/n", &b64, None).is(200, ok(json!(6)));
    r.req("GET", "/ping", &b64, None)
        .is(200, ok(json!("UE9ORw==")));
    // Errors are not encoded.
    r.req("GET", "/incr/foo", &b64, None)
        .is(400, err("ERR value is not an integer or out of range"));
    // Lower-case header values work too.
    r.req("GET", "/get/foo", &[("upstash-encoding", "BASE64")], None)
        .is(200, ok(json!("YmFy")));

    let resp2 = [("Upstash-Response-Format", "resp2")];
    let rep = r.req("GET", "/mget/foo/none/n", &resp2, None);
    assert_eq!(rep.status, 200);
    assert_eq!(rep.body, b"*3\r\n$3\r\nbar\r\n$-1\r\n$1\r\n6\r\n");
    let rep = r.req("GET", "/incr/foo", &resp2, None);
    assert_eq!(rep.status, 400);
    assert_eq!(
        rep.body,
        b"-ERR value is not an integer or out of range\r\n"
    );
    let rep = r.req(
        "GET",
        "/get/foo",
        &[("Upstash-Response-Format", "json")],
        None,
    );
    rep.is(200, ok(json!("bar")));

    // Unknown format, or resp2 with base64: 400.
    let rep = r.req(
        "GET",
        "/get/foo",
        &[("Upstash-Response-Format", "xml")],
        None,
    );
    assert_eq!(rep.status, 400);
    assert!(rep.json()["error"]
        .as_str()
        .unwrap()
        .contains("json or resp2"));
    let rep = r.req(
        "GET",
        "/get/foo",
        &[
            ("Upstash-Response-Format", "resp2"),
            ("Upstash-Encoding", "base64"),
        ],
        None,
    );
    assert_eq!(rep.status, 400);
    assert!(rep.json()["error"].as_str().unwrap().starts_with("ERR "));

    // CORS: any origin, and a preflight that allows the Upstash headers.
    let rep = r.req("GET", "/get/foo", &[("Origin", "http://example.com")], None);
    assert_eq!(rep.header("access-control-allow-origin"), Some("*"));
    assert!(rep
        .header("access-control-expose-headers")
        .unwrap()
        .contains("upstash-sync-token"));
    let rep = r.req(
        "OPTIONS",
        "/set/foo/bar",
        &[
            ("Origin", "http://example.com"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization, upstash-encoding, upstash-sync-token",
            ),
        ],
        None,
    );
    assert_eq!(rep.status, 204);
    assert_eq!(rep.header("access-control-allow-origin"), Some("*"));
    assert!(rep
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert!(rep
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase()
        .contains("authorization"));
    // A preflight runs nothing.
    r.get("/get/foo").is(200, ok(json!("bar")));
    // OPTIONS that is not a preflight is just another method.
    assert_eq!(r.req("OPTIONS", "/get/foo", &[], None).status, 405);
}

#[test]
fn rest_sync_tokens() {
    let s = Server::start();
    let r = Rest::new(&s, None);
    let t0 = r.get("/ping").sync.expect("sync token on every reply");
    let t1 = r.get("/set/a/1").sync.unwrap();
    assert!(t1 > t0, "{t0} {t1}");
    let t2 = r.get("/get/a").sync.unwrap();
    assert!(t2 >= t1, "{t1} {t2}");
    let t3 = r
        .post("/pipeline", r#"[["SET","a","2"],["SET","b","3"]]"#)
        .sync
        .unwrap();
    assert!(t3 > t2, "{t2} {t3}");
    let t4 = r.post("/multi-exec", r#"[["INCR","a"]]"#).sync.unwrap();
    assert!(t4 > t3, "{t3} {t4}");
    // Sending it back: reads wait for it (here it is already applied).
    r.req(
        "GET",
        "/get/a",
        &[("upstash-sync-token", &t4.to_string())],
        None,
    )
    .is(200, ok(json!("3")));
    // The SDKs send an empty token before their first reply.
    r.req("GET", "/get/a", &[("Upstash-Sync-Token", "")], None)
        .is(200, ok(json!("3")));
    let rep = r.req("GET", "/get/a", &[("upstash-sync-token", "abc")], None);
    assert_eq!(rep.status, 400);
    // A token this node never reaches: a bounded wait, then an error.
    let t = Instant::now();
    let rep = r.req(
        "GET",
        "/get/a",
        &[("upstash-sync-token", &(t4 + 1_000_000).to_string())],
        None,
    );
    assert_eq!(rep.status, 400);
    assert!(rep.json()["error"].as_str().unwrap().contains("sync token"));
    assert!(t.elapsed() < Duration::from_secs(20));
}

#[test]
fn rest_size_limits() {
    let s = Server::start();
    let r = Rest::new(&s, None);
    const MB10: usize = 10 * 1024 * 1024;
    // A body over 10 MB: the documented error, nothing applied, connection still usable.
    let big = vec![b'x'; MB10 + 1];
    r.req("POST", "/set/big", &[], Some(&big))
        .is(400, err("ERR max request size exceeded"));
    r.get("/exists/big").is(200, ok(json!(0)));
    // A command over 10 MB in total (path + body) too.
    let almost = vec![b'x'; MB10 - 2];
    r.req("POST", "/set/big", &[], Some(&almost))
        .is(400, err("ERR max request size exceeded"));
    let mut json_big = b"[\"SET\",\"big\",\"".to_vec();
    json_big.extend(std::iter::repeat_n(b'y', MB10));
    json_big.extend_from_slice(b"\"]");
    r.req("POST", "/", &[], Some(&json_big))
        .is(400, err("ERR max request size exceeded"));
    r.get("/exists/big").is(200, ok(json!(0)));
    // Just under the limit works.
    let ok_value = vec![b'z'; MB10 - 16];
    r.req("POST", "/set/big", &[], Some(&ok_value))
        .is(200, ok(json!("OK")));
    r.get("/strlen/big").is(200, ok(json!(MB10 - 16)));
    let rep = r.get("/get/big");
    assert_eq!(rep.status, 200);
    assert_eq!(rep.json()["result"].as_str().unwrap().len(), MB10 - 16);

    // Key size, checked by the dispatcher as for RESP.
    let key = "k".repeat(32 * 1024 + 1);
    r.get(&format!("/set/{key}/v")).is(
        400,
        err("ERR max key size exceeded. Limit: 32768 bytes, Actual: 32769 bytes"),
    );
    let key = "k".repeat(32 * 1024);
    r.get(&format!("/set/{key}/v")).is(200, ok(json!("OK")));
    let rep = r.post(
        "/pipeline",
        &format!(r#"[["SET","{key}k","v"],["GET","{key}"]]"#),
    );
    assert_eq!(rep.status, 200);
    let v = rep.json();
    assert!(v[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR max key size exceeded"));
    assert_eq!(v[1], ok(json!("v")));
}

/// Reads one HTTP/1.1 response (Content-Length framed) from a raw stream.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> (String, Vec<u8>) {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("content-length");
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).expect("read");
                assert!(n > 0, "closed");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return (head, body);
        }
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Keep-alive with the request head and body in two writes (Nagle on, as many clients
/// do): without TCP_QUICKACK on the server each request stalls ~40 ms on a delayed ACK.
#[test]
fn rest_keepalive_split_writes_do_not_stall() {
    let s = Server::start();
    let mut c = TcpStream::connect(("127.0.0.1", s.rest_port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.set_nodelay(false).unwrap();
    let mut buf = Vec::new();
    let n = 50;
    let t = Instant::now();
    for i in 0..n {
        let body = format!(r#"["ECHO","m{i}"]"#);
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(body.as_bytes()).unwrap();
        let (head, body) = read_response(&mut c, &mut buf);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, format!(r#"{{"result":"m{i}"}}"#).into_bytes());
    }
    let took = t.elapsed();
    // 50 requests would take ~2 s with delayed ACKs; quick ACKs make it milliseconds.
    assert!(
        took < Duration::from_millis(1000),
        "{n} requests took {took:?}"
    );
}

/// Runs `cmd` to completion within `limit`, killing it otherwise.
fn run_bounded(cmd: &mut Command, limit: Duration) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = cmd
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, std::fs::read_to_string(&out_path).unwrap_or_default())
}

#[test]
fn rest_upstash_python_sdk() {
    let importable = || {
        Command::new("python3")
            .args(["-c", "import upstash_redis"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !importable() {
        let (code, out) = run_bounded(
            Command::new("python3").args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "upstash-redis",
            ]),
            Duration::from_secs(300),
        );
        assert!(
            code == Some(0) && importable(),
            "pip install upstash-redis failed ({code:?}):\n{out}"
        );
    }
    let s = Server::start_with(Some("py-pw"), &[]);
    let script = meridian_tests::manifest_dir()
        .join("python")
        .join("test_upstash_sdk.py");
    let (code, out) = run_bounded(
        Command::new("python3")
            .arg(&script)
            .env(
                "UPSTASH_REDIS_REST_URL",
                format!("http://127.0.0.1:{}", s.rest_port),
            )
            .env(
                "UPSTASH_REDIS_REST_TOKEN",
                derive_token("py-pw", "standard"),
            )
            .env(
                "UPSTASH_REDIS_REST_READONLY_TOKEN",
                derive_token("py-pw", "read-only"),
            ),
        Duration::from_secs(180),
    );
    assert_eq!(code, Some(0), "python SDK tests failed:\n{out}");
    assert!(out.contains(" ok, 0 failing"), "{out}");
}

/// Reads SSE `data:` lines from a streaming response until `n` arrived.
fn sse_lines(reader: &mut impl BufRead, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    while out.len() < n {
        line.clear();
        if reader.read_line(&mut line).expect("sse read") == 0 {
            break;
        }
        if let Some(d) = line.trim_end().strip_prefix("data: ") {
            out.push(d.to_string());
        }
    }
    out
}

#[test]
fn rest_server_sent_events_subscribe_publish_monitor() {
    let s = Server::start_with(Some("sse-pw"), &[]);
    let token = derive_token("sse-pw", "standard");
    let r = Rest::new(&s, Some(&token));
    let agent = ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(10))
        .build();
    // curl -X POST $URL/subscribe/chat -H "Accept:text/event-stream"
    let resp = agent
        .post(&format!("http://127.0.0.1:{}/subscribe/chat", s.rest_port))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Accept", "text/event-stream")
        .call()
        .expect("subscribe");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let mut sub = BufReader::new(resp.into_reader());
    assert_eq!(sse_lines(&mut sub, 1), vec!["subscribe,chat,1"]);

    // curl -X POST $URL/publish/chat/hello, and a RESP PUBLISH: both arrive.
    r.post("/publish/chat/hello", "").is(200, ok(json!(1)));
    let mut c = meridian_tests::connect(&s.url());
    let n: i64 = redis::cmd("PUBLISH")
        .arg("chat")
        .arg("how are you today?")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        sse_lines(&mut sub, 2),
        vec!["message,chat,hello", "message,chat,how are you today?"]
    );

    // A RESP subscriber receives a REST publish.
    let mut rc = meridian_tests::connect(&s.url());
    let mut ps = rc.as_pubsub();
    ps.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    ps.subscribe("room").unwrap();
    r.post("/publish/room", "from rest").is(200, ok(json!(1)));
    let m = ps.get_message().unwrap();
    assert_eq!(m.get_payload::<String>().unwrap(), "from rest");

    // The read-only token may not publish or monitor; a wrong token is 401.
    let ro = r.with_token(Some(&derive_token("sse-pw", "read-only")));
    let rep = ro.post("/publish/chat/x", "");
    assert_eq!(rep.status, 400);
    assert!(rep.json()["error"].as_str().unwrap().starts_with("NOPERM"));
    assert_eq!(ro.post("/monitor", "").status, 400);
    let bad = r.with_token(Some("wrong"));
    assert_eq!(bad.post("/subscribe/chat", "").status, 401);

    // /monitor: "OK" first, then one line per command in Redis's format.
    let resp = agent
        .post(&format!("http://127.0.0.1:{}/monitor", s.rest_port))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("monitor");
    let mut mon = BufReader::new(resp.into_reader());
    assert_eq!(sse_lines(&mut mon, 1), vec!["\"OK\""]);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let line = sse_lines(&mut mon, 1).pop().unwrap();
    assert!(line.ends_with(r#""SET" "k" "v""#), "{line}");
    assert!(line.contains(" [0 127.0.0.1:"), "{line}");
    // Dropping the stream unsubscribes.
    drop(sub);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n: i64 = redis::cmd("PUBLISH")
            .arg("chat")
            .arg("x")
            .query(&mut c)
            .unwrap();
        if n == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "SSE subscriber not removed");
        std::thread::sleep(Duration::from_millis(100));
    }
}
