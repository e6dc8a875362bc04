//! The web console (`/console` on the REST port) against the real binary: its files and
//! security headers, login (password, ACL user, tokens), the session cookie and CSRF
//! token, the read-only console, the metrics history, large collections, and the whole
//! UI in Debian's headless chromium (tests/console/e2e.mjs, driven by playwright-core
//! from tests/console/package-lock.json).
//!
//! The browser tests need `chromium` and `npm ci --prefix tests/console`
//! (`scripts/dev.sh test` installs both). Without chromium they are skipped with a loud
//! message, except under CI (`CI` set), where they fail.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use meridian_tests::cluster::Cluster;
use meridian_tests::Server;
use serde_json::{json, Value};
use sha2::Sha256;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PW: &str = "console-test-pw";

fn derive_token(password: &str, kind: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(password.as_bytes()).unwrap();
    mac.update(format!("meridian rest token v1: {kind}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} (status {})", self.body, self.status))
    }
}

/// A browser-like client of one node's console: keeps the session cookie and the CSRF
/// token as the page does.
struct Console {
    base: String,
    cookie: Option<String>,
    csrf: Option<String>,
    agent: ureq::Agent,
}

impl Console {
    fn new(rest_port: u16) -> Console {
        Console {
            base: format!("http://127.0.0.1:{rest_port}"),
            cookie: None,
            csrf: None,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .redirects(0)
                .build(),
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut req = self.agent.request(method, &format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.set("Cookie", c);
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let res = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        };
        let r = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = r.status();
        let headers = r
            .headers_names()
            .into_iter()
            .flat_map(|n| {
                r.all(&n)
                    .into_iter()
                    .map(|v| (n.clone(), v.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let body = r.into_string().unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], None)
    }

    /// A POST as the page sends it (with the CSRF token once logged in).
    fn post(&self, path: &str, body: Value) -> Reply {
        let csrf = self.csrf.clone().unwrap_or_default();
        self.send(
            "POST",
            path,
            &[("X-CSRF-Token", &csrf)],
            Some(&body.to_string()),
        )
    }

    fn login(&mut self, creds: Value) -> Reply {
        let r = self.send("POST", "/console/api/login", &[], Some(&creds.to_string()));
        if r.status == 200 {
            let set = r
                .header("set-cookie")
                .expect("login sets a cookie")
                .to_string();
            self.cookie = Some(set.split(';').next().unwrap().to_string());
            self.csrf = Some(r.json()["csrf"].as_str().unwrap().to_string());
        }
        r
    }

    /// Runs commands through /console/api/run; the typed replies.
    fn run(&self, cmds: Value) -> Vec<Value> {
        let r = self.post("/console/api/run", json!({ "cmds": cmds }));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["replies"].as_array().unwrap().clone()
    }
}

#[test]
fn pages_are_embedded_with_their_types_and_security_headers() {
    let s = Server::start_with(Some(PW), &[]);
    let c = Console::new(s.rest_port);
    let r = c.get("/console");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/console/"));
    for (path, ctype, needle) in [
        (
            "/console/",
            "text/html",
            "<script type=\"module\" src=\"js/app.js\">",
        ),
        ("/console/app.css", "text/css", ".shell"),
        ("/console/js/app.js", "text/javascript", "import"),
        ("/console/js/browser.js", "text/javascript", "SCAN"),
        ("/console/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let r = c.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type").unwrap().starts_with(ctype),
            "{path}: {:?}",
            r.header("content-type")
        );
        assert!(r.body.contains(needle), "{path}");
        let csp = r.header("content-security-policy").expect("CSP");
        assert!(
            csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "no CORS on the console"
        );
    }
    // No inline script anywhere in the page (the CSP would block it).
    let html = c.get("/console/").body;
    assert!(
        !html.contains("<script>") && !html.contains("onclick="),
        "{html}"
    );
    assert_eq!(c.get("/console/nope.js").status, 404);
    assert_eq!(c.get("/console/js/").status, 404);
    assert_eq!(c.send("DELETE", "/console/", &[], None).status, 405);
    // The REST protocol is unchanged beside it.
    let r = c.send(
        "GET",
        "/ping",
        &[(
            "Authorization",
            &format!("Bearer {}", derive_token(PW, "standard")),
        )],
        None,
    );
    assert_eq!((r.status, r.body.as_str()), (200, "{\"result\":\"PONG\"}"));
}

#[test]
fn login_cookie_csrf_and_logout() {
    let s = Server::start_with(Some(PW), &[]);
    let mut c = Console::new(s.rest_port);
    // Nothing without a session.
    assert_eq!(c.get("/console/api/session").status, 401);
    assert_eq!(
        c.post("/console/api/run", json!({"cmds": [["PING"]]}))
            .status,
        401
    );
    assert_eq!(c.get("/console/api/metrics").status, 401);
    assert_eq!(c.get("/console/api/cluster").status, 401);
    assert_eq!(
        c.send("POST", "/console/api/monitor", &[], Some("{}"))
            .status,
        401
    );
    // A REST token is not a console session.
    let bearer = format!("Bearer {}", derive_token(PW, "standard"));
    assert_eq!(
        c.send(
            "GET",
            "/console/api/session",
            &[("Authorization", &bearer)],
            None
        )
        .status,
        401
    );
    // Wrong credentials.
    let t0 = Instant::now();
    let r = c.login(json!({"password": "wrong"}));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.header("set-cookie").is_none());
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "a failed login is slowed down"
    );
    assert_eq!(c.login(json!({"token": "nope"})).status, 401);
    assert_eq!(
        c.login(json!({"username": "ghost", "password": PW})).status,
        401
    );
    // A form post (not JSON) is refused: a cross-site form cannot log a browser in.
    let r = c.send(
        "POST",
        "/console/api/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        None,
    );
    assert_eq!(r.status, 415);
    // The right password.
    let r = c.login(json!({"password": PW}));
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(
        !cookie.contains(PW) && !cookie.contains(&derive_token(PW, "standard")),
        "only a session id in the cookie: {cookie}"
    );
    let info = r.json();
    assert_eq!(
        (info["who"].as_str(), info["access"].as_str()),
        (Some("default"), Some("full"))
    );
    assert_eq!(
        (info["can_write"].as_bool(), info["can_admin"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(
        !r.body.contains(&derive_token(PW, "standard")),
        "the token never reaches the page"
    );
    // The session answers, and gives the CSRF token back (a page reload).
    let again = c.get("/console/api/session");
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["csrf"], info["csrf"]);
    // A state-changing call without the CSRF token, or with a wrong one, is refused.
    let body = json!({"cmds": [["SET", "csrf", "x"]]}).to_string();
    let r = c.send("POST", "/console/api/run", &[], Some(&body));
    assert_eq!(r.status, 403, "{}", r.body);
    let r = c.send(
        "POST",
        "/console/api/run",
        &[("X-CSRF-Token", "0000")],
        Some(&body),
    );
    assert_eq!(r.status, 403);
    for path in [
        "/console/api/monitor",
        "/console/api/cluster/transfer-leader",
        "/console/api/backups/create",
        "/console/api/logout",
    ] {
        assert_eq!(c.send("POST", path, &[], Some("{}")).status, 403, "{path}");
    }
    let mut redis = s.client();
    let v: Option<String> = redis::cmd("GET").arg("csrf").query(&mut redis).unwrap();
    assert_eq!(v, None, "nothing ran");
    // Another origin is refused even with the token.
    let csrf = c.csrf.clone().unwrap();
    let r = c.send(
        "POST",
        "/console/api/run",
        &[("X-CSRF-Token", &csrf), ("Origin", "http://evil.example")],
        Some(&body),
    );
    assert_eq!(r.status, 403);
    // With it, commands run, replies typed, bytes exact.
    let replies = c.run(json!([
        ["SET", "csrf", "x"],
        ["HSET", "h", "a", "1", "b", "2"],
        ["HGETALL", "h"],
        ["SET", "bin", {"b64": "AP8Q"}],
        ["GET", "bin"],
        ["SMEMBERS", "nothing"],
        ["NOSUCHCOMMAND"],
    ]));
    assert_eq!(replies[0], json!({"t": "simple", "v": "OK"}));
    assert_eq!(
        replies[2]["t"], "map",
        "HGETALL keeps its map type: {}",
        replies[2]
    );
    assert_eq!(replies[2]["v"].as_array().unwrap().len(), 2);
    assert_eq!(replies[4], json!({"t": "bulk", "b64": "AP8Q"}));
    assert_eq!(replies[5]["t"], "set");
    assert_eq!(replies[6]["t"], "error");
    let v: Option<String> = redis::cmd("GET").arg("csrf").query(&mut redis).unwrap();
    assert_eq!(v.as_deref(), Some("x"));
    // Bad bodies get clear errors.
    for (bad, want) in [
        (json!({}), "cmds"),
        (json!({"cmds": [[]]}), "empty command"),
        (json!({"cmds": [["GET", {"b64": "%%"}]]}), "base64"),
        (json!({"cmds": [["PING"]], "db": 16}), "database number"),
    ] {
        let r = c.post("/console/api/run", bad);
        assert_eq!(r.status, 400);
        assert!(r.body.contains(want), "{}", r.body);
    }
    let r = c.send(
        "POST",
        "/console/api/run",
        &[("X-CSRF-Token", &csrf)],
        Some("{not json"),
    );
    assert_eq!(r.status, 400);
    // Log out: the session is gone on the server, whatever the browser keeps.
    assert_eq!(c.post("/console/api/logout", json!({})).status, 200);
    assert_eq!(c.get("/console/api/session").status, 401);
    assert_eq!(
        c.post("/console/api/run", json!({"cmds": [["PING"]]}))
            .status,
        401
    );
}

#[test]
fn read_only_token_gives_a_read_only_console_and_acl_users_keep_their_rules() {
    let s = Server::start_with(Some(PW), &[]);
    let mut redis = s.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut redis)
        .unwrap();
    let mut ro = Console::new(s.rest_port);
    let r = ro.login(json!({"token": derive_token(PW, "read-only")}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["access"], "read-only");
    assert_eq!(r.json()["can_write"], false);
    assert_eq!(r.json()["can_admin"], false);
    let replies = ro.run(json!([
        ["GET", "k"],
        ["SET", "k", "changed"],
        ["DEL", "k"],
        ["HSET", "h", "f", "v"]
    ]));
    assert_eq!(replies[0], json!({"t": "bulk", "v": "v"}));
    for r in &replies[1..] {
        assert_eq!(r["t"], "error", "{r}");
        assert!(
            r["v"]
                .as_str()
                .unwrap()
                .starts_with("NOPERM this token is read-only"),
            "{r}"
        );
    }
    let v: String = redis::cmd("GET").arg("k").query(&mut redis).unwrap();
    assert_eq!(v, "v", "the read-only console changed nothing");
    assert_eq!(
        ro.post("/console/api/cluster/remove-node", json!({"id": 1}))
            .status,
        403
    );
    assert_eq!(
        ro.post("/console/api/backups/create", json!({"name": "ro"}))
            .status,
        403
    );
    assert_eq!(ro.get("/console/api/backups").status, 403);
    // Monitoring is refused to the read-only token over REST, and so here.
    assert_eq!(ro.post("/console/api/monitor", json!({})).status, 400);
    // Reads of the console's own views stay open to it.
    assert_eq!(ro.get("/console/api/metrics").status, 200);
    assert_eq!(ro.get("/console/api/cluster").status, 200);

    // An ACL user: the console runs as it, so its key patterns hold.
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "alice", "on", ">alice-pw", "~app:*", "+@all"])
        .query(&mut redis)
        .unwrap();
    let mut alice = Console::new(s.rest_port);
    let r = alice.login(json!({"username": "alice", "password": "alice-pw"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.json()["who"].as_str(), r.json()["access"].as_str()),
        (Some("alice"), Some("user"))
    );
    let replies = alice.run(json!([
        ["SET", "app:1", "ok"],
        ["SET", "other", "no"],
        ["ACL", "WHOAMI"]
    ]));
    assert_eq!(replies[0]["v"], "OK");
    assert!(
        replies[1]["v"].as_str().unwrap().starts_with("NOPERM"),
        "{}",
        replies[1]
    );
    assert_eq!(replies[2]["v"], "alice");
    // CONFIG SET is within +@all: alice may administer the cluster; a narrower user not.
    assert_eq!(r.json()["can_admin"], true);
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "bob", "on", ">bob-pw", "~*", "+@read"])
        .query(&mut redis)
        .unwrap();
    let mut bob = Console::new(s.rest_port);
    let r = bob.login(json!({"username": "bob", "password": "bob-pw"}));
    assert_eq!(r.json()["can_admin"], false);
    assert_eq!(
        bob.post("/console/api/cluster/transfer-leader", json!({"id": 1}))
            .status,
        403
    );
    // Changing alice's password ends her console session at its next call.
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "alice", "resetpass", ">new-pw"])
        .query(&mut redis)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alice.get("/console/api/session").status != 401 {
        assert!(
            Instant::now() < deadline,
            "alice's session survived her password change"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn metrics_history_moves_with_traffic_and_big_collections_open_at_once() {
    let s = Server::start_with(Some(PW), &[]);
    let mut c = Console::new(s.rest_port);
    assert_eq!(c.login(json!({"password": PW})).status, 200);
    // The sampler takes one sample a second from the start.
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let m = c.get("/console/api/metrics").json();
        if m["t"].as_array().unwrap().len() >= 2 {
            break m;
        }
        assert!(Instant::now() < deadline, "no samples: {m}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(first["interval_ms"], 1000);
    for col in [
        "ops",
        "p50_us",
        "p99_us",
        "p999_us",
        "data_bytes",
        "quota_bytes",
        "tier_bytes",
        "keys",
        "hit_ratio",
        "evicted",
        "clients",
    ] {
        assert_eq!(
            first[col].as_array().map(Vec::len),
            first["t"].as_array().map(Vec::len),
            "{col}"
        );
    }
    let since = first["t"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_u64()
        .unwrap();
    // Traffic: 3000 SETs over a second or so, then the samples after `since` show them.
    let mut redis = s.client();
    for chunk in 0..30 {
        let mut p = redis::pipe();
        for i in 0..100 {
            p.cmd("SET").arg(format!("m:{chunk}:{i}")).arg("v").ignore();
        }
        let _: () = p.query(&mut redis).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let later = loop {
        std::thread::sleep(Duration::from_millis(500));
        let m = c.get(&format!("/console/api/metrics?since={since}")).json();
        let keys = m["keys"].as_array().unwrap();
        if keys.last().and_then(Value::as_u64) == Some(3000) {
            break m;
        }
        assert!(Instant::now() < deadline, "keys did not reach 3000: {m}");
    };
    assert!(
        later["t"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.as_u64().unwrap() > since),
        "only samples after since"
    );
    let set_rate: f64 = later["cmds"]["set"]
        .as_array()
        .expect("per-command rates")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!(
        set_rate >= 2500.0,
        "SET rates add up to the calls: {set_rate}"
    );
    assert!(later["ops"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v.as_f64().unwrap() > 0.0));
    assert!(
        later["p99_us"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v.as_u64().is_some_and(|x| x > 0)),
        "{}",
        later["p99_us"]
    );
    assert!(
        later["data_bytes"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_u64()
            .unwrap()
            > 0
    );

    // A sorted set of 1M members opens at once: its size and a page by rank. (Short
    // members: a key, all members included, is limited to 100 MB.)
    let b36 = |mut n: u32| {
        let mut s = Vec::new();
        loop {
            s.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
            n /= 36;
            if n == 0 {
                break;
            }
        }
        s.reverse();
        String::from_utf8(s).unwrap()
    };
    let mut p = redis::pipe();
    for chunk in 0..100 {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg("z");
        for i in 0..10_000u32 {
            let n = chunk * 10_000 + i;
            cmd.arg(n).arg(b36(n));
        }
        p.add_command(cmd).ignore();
    }
    let t0 = Instant::now();
    let _: () = p.query(&mut redis).unwrap();
    eprintln!("1M-member zset loaded in {:?}", t0.elapsed());
    let page = json!([
        ["ZCARD", "z"],
        ["ZRANGE", "z", "500000", "500049", "WITHSCORES"],
        ["ZRANGE", "z", "0", "49", "REV", "WITHSCORES"]
    ]);
    c.run(page.clone()); // builds the rank index once, as the first open does
    let t0 = Instant::now();
    let replies = c.run(page);
    let took = t0.elapsed();
    assert_eq!(replies[0], json!({"t": "int", "v": 1_000_000}));
    let rows = replies[1]["v"].as_array().unwrap();
    assert_eq!(rows.len(), 50, "{}", replies[1]);
    assert_eq!(rows[0][0]["v"], b36(500_000).as_str());
    assert_eq!(replies[2]["v"][0][0]["v"], b36(999_999).as_str());
    assert!(
        took < Duration::from_secs(1),
        "a page of a 1M-member zset took {took:?}"
    );
}

// ---------------------------------------------------------------------------------
// The browser: tests/console/e2e.mjs in Debian's headless chromium.

const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether the browser tests can run; panics (naming the install step) when they must
/// but cannot.
fn browser_ready() -> bool {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    if !std::path::Path::new(CHROMIUM).exists() {
        if ci {
            panic!("{CHROMIUM} is missing: the console's browser tests must run in CI (scripts/dev.sh test installs chromium)");
        }
        eprintln!("\n==================================================================\n  SKIPPED: the console's browser tests need {CHROMIUM}\n  (apt-get install chromium, or scripts/dev.sh test)\n==================================================================\n");
        return false;
    }
    let pw =
        meridian_tests::manifest_dir().join("console/node_modules/playwright-core/package.json");
    assert!(
        pw.exists(),
        "{} is missing: run `npm ci --prefix tests/console` (scripts/dev.sh test does)",
        pw.display()
    );
    true
}

/// Runs the e2e script for `scenario` with `env`; panics with its output on failure.
fn run_e2e(scenario: &str, env: &[(&str, String)]) -> Value {
    let dir = meridian_tests::manifest_dir().join("console");
    let shots = match std::env::var("CONSOLE_SCREENSHOTS") {
        Ok(d) if !d.is_empty() => std::path::PathBuf::from(d),
        _ => std::env::temp_dir().join(format!("meridian-console-shots-{}", std::process::id())),
    };
    let profile = tempfile::Builder::new()
        .prefix("meridian-chromium")
        .tempdir()
        .unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("e2e.mjs"))
        .arg(scenario)
        .current_dir(&dir)
        .env("CHROMIUM", CHROMIUM)
        .env("PROFILE_DIR", profile.path())
        .env("SHOTS", &shots)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let t0 = Instant::now();
    let child = cmd
        .spawn()
        .expect("node is needed for the console's browser tests (apt-get install nodejs)");
    let out = wait_bounded(child, Duration::from_secs(150));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("e2e {scenario}: {:?}\n{stderr}", t0.elapsed());
    assert!(
        out.status.success(),
        "e2e {scenario} failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("{}");
    serde_json::from_str(last).unwrap_or(Value::Null)
}

fn wait_bounded(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().ok().flatten().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the browser test ran past {limit:?}:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn browser_single_node() {
    if !browser_ready() {
        return;
    }
    let s = Server::start_with(Some(PW), &[]);
    let mut redis = s.client();
    // One key of every type, a key named like markup, a binary value, and slow commands.
    let _: () = redis::cmd("SET")
        .arg("greeting")
        .arg("hello world")
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("<script>alert(1)</script>")
        .arg("<img src=x onerror=alert(2)>")
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("binary")
        .arg(&[0u8, 0xff, 0x10, 0x80][..])
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg("queue")
        .arg(&["a", "b", "c"])
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("user:1")
        .arg(&["name", "Ada", "lang", "en"])
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("SADD")
        .arg("tags")
        .arg(&["red", "green"])
        .query(&mut redis)
        .unwrap();
    let mut z = redis::cmd("ZADD");
    z.arg("board");
    for i in 0..200 {
        z.arg(i).arg(format!("player{i:03}"));
    }
    let _: () = z.query(&mut redis).unwrap();
    let _: String = redis::cmd("XADD")
        .arg("events")
        .arg("*")
        .arg(&["kind", "signup"])
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("JSON.SET")
        .arg("doc")
        .arg("$")
        .arg(r#"{"name":"meridian","tags":["a","b"],"n":1}"#)
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "slowlog-log-slower-than", "0"])
        .query(&mut redis)
        .unwrap();
    let out = run_e2e(
        "single",
        &[
            ("BASE", format!("http://127.0.0.1:{}", s.rest_port)),
            ("PASSWORD", PW.to_string()),
            ("STANDARD_TOKEN", derive_token(PW, "standard")),
            ("READONLY_TOKEN", derive_token(PW, "read-only")),
        ],
    );
    assert_eq!(out["ok"], true, "{out}");
    // What the page changed is really in the database.
    let get = |redis: &mut redis::Connection, k: &str| -> Option<String> {
        redis::cmd("GET").arg(k).query(redis).unwrap()
    };
    assert_eq!(
        get(&mut redis, "greeting").as_deref(),
        Some("edited in the browser")
    );
    let q: Vec<String> = redis::cmd("LRANGE")
        .arg(&["queue", "0", "-1"])
        .query(&mut redis)
        .unwrap();
    assert_eq!(q, ["a", "b", "c", "pushed"]);
    let h: Option<String> = redis::cmd("HGET")
        .arg(&["user:1", "city"])
        .query(&mut redis)
        .unwrap();
    assert_eq!(h.as_deref(), Some("London"));
    let m: bool = redis::cmd("SISMEMBER")
        .arg(&["tags", "blue"])
        .query(&mut redis)
        .unwrap();
    assert!(m);
    let sc: Option<String> = redis::cmd("ZSCORE")
        .arg(&["board", "player007"])
        .query(&mut redis)
        .unwrap();
    assert_eq!(sc.as_deref(), Some("1000"));
    let n: u64 = redis::cmd("XLEN").arg("events").query(&mut redis).unwrap();
    assert_eq!(n, 2);
    let d: String = redis::cmd("JSON.GET")
        .arg(&["doc", "$.name"])
        .query(&mut redis)
        .unwrap();
    assert_eq!(d, r#"["console"]"#);
    let b: Vec<u8> = redis::cmd("GET").arg("binary").query(&mut redis).unwrap();
    assert_eq!(
        b,
        [0xde, 0xad, 0xbe, 0xef],
        "the hex edit wrote exact bytes"
    );
    let ttl: i64 = redis::cmd("TTL").arg("renamed").query(&mut redis).unwrap();
    assert_eq!(ttl, -1, "TTL set then cleared on the renamed key");
    let e: u64 = redis::cmd("EXISTS")
        .arg(&["tags", "doomed"])
        .query(&mut redis)
        .unwrap();
    assert_eq!(e, 1, "only 'doomed' was deleted");
    let _: () = redis::cmd("SELECT").arg(1).query(&mut redis).unwrap();
    let in1: Option<String> = redis::cmd("GET").arg("indb1").query(&mut redis).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut redis).unwrap();
    let in0: Option<String> = redis::cmd("GET").arg("indb1").query(&mut redis).unwrap();
    assert_eq!(
        (in1.as_deref(), in0),
        (Some("yes"), None),
        "the database selector"
    );
    let ro: Option<String> = redis::cmd("GET")
        .arg("ro-attempt")
        .query(&mut redis)
        .unwrap();
    assert_eq!(ro, None, "the read-only console wrote nothing");
}

#[test]
fn browser_cluster_view_shows_a_replica_and_its_lag() {
    if !browser_ready() {
        return;
    }
    let mut c = Cluster::start(3);
    let r = c.add_replica("eu-west-1");
    let leader = c.leader().expect("a leader");
    // Traffic, so the replica has something to follow.
    let mut con = c.nodes[leader].client();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    // The console of a follower (it asks the leader for lag).
    let follower = (0..3).find(|i| *i != leader).unwrap();
    let out = run_e2e(
        "cluster",
        &[
            (
                "BASE",
                format!("http://127.0.0.1:{}", c.nodes[follower].rest_port),
            ),
            ("REPLICA_ID", c.nodes[r].id.to_string()),
            ("LEADER_ID", c.nodes[leader].id.to_string()),
        ],
    );
    assert_eq!(out["ok"], true, "{out}");
}
