//! Rotating the default user's password at runtime (Upstash's reset-password): the new
//! password goes through the Raft log, so every voter, a read replica and a restarted
//! node see it; every old REST token (standard, read-only, user) is revoked; connections
//! that logged in with the old password are logged out (NOAUTH) and the old password is
//! refused, while cluster links (keyed by the start-up password) keep working.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use meridian_tests::cluster::Cluster;
use meridian_tests::Server;
use redis::{cmd, Connection, RedisResult};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

const PW: &str = "start-pw";

fn err<T: std::fmt::Debug>(r: RedisResult<T>) -> String {
    meridian_tests::err_text(r.expect_err("expected an error"))
}

fn sha256hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The read-only token a client holding the configured password computes (documented in
/// `rest/auth.rs`).
fn configured_token(pw: &str, label: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(pw.as_bytes()).unwrap();
    mac.update(format!("meridian rest token v1: {label}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn conn(port: u16, pw: &str) -> Connection {
    meridian_tests::connect(&format!("redis://:{pw}@127.0.0.1:{port}/"))
}

fn anonymous(port: u16) -> Connection {
    meridian_tests::connect(&format!("redis://127.0.0.1:{port}/"))
}

fn auth(c: &mut Connection, pw: &str) -> RedisResult<String> {
    cmd("AUTH").arg(pw).query(c)
}

fn http(port: u16, method: &str, path: &str, token: Option<&str>) -> (u16, Json) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let mut r = agent.request(method, &format!("http://127.0.0.1:{port}{path}"));
    if let Some(t) = token {
        r = r.set("Authorization", &format!("Bearer {t}"));
    }
    let resp = match r.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, json)
}

fn status(port: u16, method: &str, path: &str, token: &str) -> u16 {
    http(port, method, path, Some(token)).0
}

/// Waits until `f` holds (each node applies the rotation on its own time).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn leader_of(cl: &Cluster, pw: &str) -> usize {
    let mut found = None;
    eventually("a leader", || {
        for (i, n) in cl.nodes.iter().enumerate().take(3) {
            let mut c = conn(n.port, pw);
            let info: String = cmd("INFO").arg("replication").query(&mut c).unwrap();
            if info.contains("raft_role:leader") {
                found = Some(i);
                return true;
            }
        }
        false
    });
    found.unwrap()
}

#[test]
fn reset_password_on_a_cluster_with_a_read_replica() {
    let mut cl = Cluster::start_with(3, &["--password", PW]);
    cl.add_replica_with("eu-west-1", &["--password", PW]);
    let n = cl.nodes.len();
    let ports: Vec<u16> = cl.nodes.iter().map(|n| n.port).collect();
    let rest: Vec<u16> = cl.nodes.iter().map(|n| n.rest_port).collect();
    let leader = leader_of(&cl, PW);
    let follower = (0..3).find(|&i| i != leader).unwrap();

    // Before: the configured password's tokens, as every client computes them.
    let old_std = configured_token(PW, "standard");
    let old_ro = configured_token(PW, "read-only");
    let mut admin = conn(ports[follower], PW);
    let t: String = cmd("ACL")
        .arg("RESTTOKEN")
        .arg("default")
        .arg(PW)
        .query(&mut admin)
        .unwrap();
    assert_eq!(t, old_std);
    let _: String = cmd("ACL")
        .arg("SETUSER")
        .arg("rita")
        .arg("on")
        .arg(">rita-pw")
        .arg("+get")
        .arg("~*")
        .query(&mut admin)
        .unwrap();
    let rita_tok: String = cmd("ACL")
        .arg("RESTTOKEN")
        .arg("rita")
        .arg("rita-pw")
        .query(&mut admin)
        .unwrap();
    let _: () = cmd("SET").arg("k").arg("v0").query(&mut admin).unwrap();
    for &rp in &rest {
        eventually("the write and rita reach every node", || {
            http(rp, "GET", "/get/k", Some(&old_std)) == (200, serde_json::json!({"result": "v0"}))
                && status(rp, "GET", "/get/k", &rita_tok) == 200
        });
        assert_eq!(status(rp, "GET", "/get/k", &old_ro), 200);
    }
    // Connections logged in with the old password, one per node.
    let mut old_sessions: Vec<Connection> = ports.iter().map(|&p| conn(p, PW)).collect();
    for c in &mut old_sessions {
        let _: Option<String> = cmd("GET").arg("k").query(c).unwrap();
    }

    // Rotate through the management API of a follower, with the old standard token.
    let (st, body) = http(
        rest[follower],
        "POST",
        "/v2/redis/reset-password/db",
        Some(&old_std),
    );
    assert_eq!(st, 200, "{body}");
    let new_pw = body["password"].as_str().expect("password").to_string();
    let new_std = body["rest_token"].as_str().expect("rest_token").to_string();
    let new_ro = body["read_only_rest_token"]
        .as_str()
        .expect("read_only_rest_token")
        .to_string();
    assert!(new_pw.len() >= 32 && new_pw != PW);
    assert_ne!(new_std, old_std);
    assert_ne!(new_ro, old_ro);
    assert_ne!(new_std, new_ro);

    for i in 0..n {
        let rp = rest[i];
        // Every old token is revoked on every node (each once it applied the entry).
        eventually("the old standard token is refused", || {
            status(rp, "GET", "/get/k", &old_std) == 401
        });
        assert_eq!(status(rp, "GET", "/get/k", &old_ro), 401, "node {i}");
        assert_eq!(status(rp, "GET", "/get/k", &rita_tok), 401, "node {i}");
        assert_eq!(
            status(rp, "POST", "/v2/redis/reset-password/db", &old_std),
            401
        );
        // The new ones work on every node, with their own permissions.
        assert_eq!(
            http(rp, "GET", "/get/k", Some(&new_std)),
            (200, serde_json::json!({"result": "v0"})),
            "node {i}"
        );
        assert_eq!(status(rp, "GET", "/get/k", &new_ro), 200, "node {i}");
        let (st, body) = http(rp, "GET", "/set/k2/x", Some(&new_ro));
        assert_eq!(st, 400, "{body}");
        assert!(body["error"].as_str().unwrap().starts_with("NOPERM"));
        // The old password's connection is logged out.
        let e = err(cmd("GET")
            .arg("k")
            .query::<Option<String>>(&mut old_sessions[i]));
        assert!(e.starts_with("NOAUTH"), "node {i}: {e}");
        // AUTH: the old password is refused, the new one accepted.
        let mut a = anonymous(ports[i]);
        assert!(err(auth(&mut a, PW)).starts_with("WRONGPASS"), "node {i}");
        assert_eq!(auth(&mut a, &new_pw).unwrap(), "OK", "node {i}");
        let t: String = cmd("ACL")
            .arg("RESTTOKEN")
            .arg("default")
            .arg(&new_pw)
            .query(&mut a)
            .unwrap();
        assert_eq!(t, new_std, "node {i}");
        assert!(err(cmd("ACL")
            .arg("RESTTOKEN")
            .arg("default")
            .arg(PW)
            .query::<String>(&mut a))
        .contains("Wrong password"));
        // A user token made now works (it is keyed by the new credentials).
        let rt: String = cmd("ACL")
            .arg("RESTTOKEN")
            .arg("rita")
            .arg("rita-pw")
            .query(&mut a)
            .unwrap();
        assert_eq!(status(rp, "GET", "/get/k", &rt), 200, "node {i}");
        // The session that logged in with the old password can log in again.
        assert_eq!(auth(&mut old_sessions[i], &new_pw).unwrap(), "OK");
    }

    // Writes keep working, from any node (the cluster links use the start-up password).
    for i in 0..n {
        let mut c = conn(ports[i], &new_pw);
        let _: () = cmd("SET")
            .arg(format!("after{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let (st, body) = http(rest[n - 1], "POST", "/set/viarest/1", Some(&new_std));
    assert_eq!(st, 200, "{body}");

    // A follower restarted: it rejoins, and still has the new password, not --password.
    cl.nodes[follower].restart();
    let fp = cl.nodes[follower].port;
    let mut a = anonymous(fp);
    assert!(err(auth(&mut a, PW)).starts_with("WRONGPASS"));
    assert_eq!(auth(&mut a, &new_pw).unwrap(), "OK");
    let mut c = conn(ports[leader], &new_pw);
    let _: () = cmd("SET").arg("late").arg("1").query(&mut c).unwrap();
    eventually("the restarted follower gets new writes", || {
        let v: Option<String> = cmd("GET").arg("late").query(&mut a).unwrap();
        v.as_deref() == Some("1")
    });
    let v: Option<String> = cmd("GET").arg("after3").query(&mut a).unwrap();
    assert_eq!(v.as_deref(), Some("3"));
    assert_eq!(status(rest[follower], "GET", "/get/k", &old_std), 401);
    assert_eq!(status(rest[follower], "GET", "/get/k", &new_std), 200);

    // The replica restarted too.
    cl.nodes[n - 1].restart();
    let mut r = anonymous(cl.nodes[n - 1].port);
    assert!(err(auth(&mut r, PW)).starts_with("WRONGPASS"));
    assert_eq!(auth(&mut r, &new_pw).unwrap(), "OK");
    assert_eq!(
        status(cl.nodes[n - 1].rest_port, "GET", "/get/k", &new_std),
        200
    );

    // A second rotation with ACL SETUSER on the read replica (forwarded like a write).
    let _: String = cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("resetpass")
        .arg(">third-pw")
        .query(&mut r)
        .unwrap();
    // The replica's own connection used the password just removed: logged out once the
    // replica applied the change.
    eventually("the replica's connection is logged out", || {
        cmd("PING")
            .query::<String>(&mut r)
            .is_err_and(|e| meridian_tests::err_text(e).starts_with("NOAUTH"))
    });
    for i in 0..n {
        let rp = cl.nodes[i].rest_port;
        eventually("the second rotation everywhere", || {
            status(rp, "GET", "/get/k", &new_std) == 401
        });
        let mut a = anonymous(cl.nodes[i].port);
        assert!(err(auth(&mut a, &new_pw)).starts_with("WRONGPASS"));
        assert_eq!(auth(&mut a, "third-pw").unwrap(), "OK");
        let _: () = cmd("SET").arg("third").arg(i).query(&mut a).unwrap();
    }
}

#[test]
fn acl_setuser_default_changes_only_passwords_and_survives_a_restart() {
    let mut s = Server::start_with(Some(PW), &[]);
    let mut c = s.client();
    // Rules that would restrict default (or drop its password) are refused, not ignored.
    for rule in [
        "off",
        "~app:*",
        "-@all",
        "nopass",
        "reset",
        "resetkeys",
        "&news",
    ] {
        let e = err(cmd("ACL")
            .arg("SETUSER")
            .arg("default")
            .arg(rule)
            .query::<String>(&mut c));
        assert!(
            e.contains(&format!("'{rule}'")) && e.contains("'default' user keeps every permission"),
            "{rule}: {e}"
        );
    }
    assert!(err(cmd("ACL")
        .arg("DELUSER")
        .arg("default")
        .query::<i64>(&mut c))
    .contains("cannot be removed"));
    // Rules that grant what default has, and `on`, are accepted.
    let ok: String = cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("on")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");

    // `>pass` adds a password, as in Redis: both work, no session is logged out.
    let old_std = configured_token(PW, "standard");
    assert_eq!(status(s.rest_port, "GET", "/get/k", &old_std), 200);
    let _: String = cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg(">second")
        .query(&mut c)
        .unwrap();
    let mut keeps = s.client();
    let _: String = cmd("PING").query(&mut keeps).unwrap();
    let mut second = conn(s.port, "second");
    let _: String = cmd("PING").query(&mut c).unwrap();
    let list: Vec<String> = cmd("ACL").arg("LIST").query(&mut c).unwrap();
    let defaults: Vec<&String> = list
        .iter()
        .filter(|l| l.starts_with("user default "))
        .collect();
    assert_eq!(defaults.len(), 1, "{list:?}");
    assert!(
        defaults[0].contains(&sha256hex(PW))
            && defaults[0].contains(&sha256hex("second"))
            && defaults[0].ends_with("~* &* +@all"),
        "{}",
        defaults[0]
    );
    // The token key changed with the password list.
    assert_eq!(status(s.rest_port, "GET", "/get/k", &old_std), 401);
    let tok: String = cmd("ACL")
        .arg("RESTTOKEN")
        .arg("default")
        .arg("second")
        .query(&mut c)
        .unwrap();
    let tok_pw: String = cmd("ACL")
        .arg("RESTTOKEN")
        .arg("default")
        .arg(PW)
        .query(&mut c)
        .unwrap();
    assert_eq!(tok, tok_pw);
    assert_eq!(status(s.rest_port, "GET", "/get/k", &tok), 200);

    // `<pass` removes the configured password: its sessions are logged out.
    let _: String = cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg(format!("<{PW}"))
        .query(&mut second)
        .unwrap();
    assert!(err(cmd("PING").query::<String>(&mut keeps)).starts_with("NOAUTH"));
    assert!(err(cmd("PING").query::<String>(&mut c)).starts_with("NOAUTH"));
    let _: String = cmd("PING").query(&mut second).unwrap();
    // Removing a password default does not have is an error, as in Redis.
    let e = err(cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("<nosuch")
        .query::<String>(&mut second));
    assert!(
        e.contains("no such password") || e.contains("password"),
        "{e}"
    );
    let who: String = cmd("ACL").arg("WHOAMI").query(&mut second).unwrap();
    assert_eq!(who, "default");

    // A restart keeps the replicated password, not --password.
    s.crash_and_restart();
    let mut a = anonymous(s.port);
    assert!(err(auth(&mut a, PW)).starts_with("WRONGPASS"));
    assert_eq!(auth(&mut a, "second").unwrap(), "OK");
    let after: String = cmd("ACL")
        .arg("RESTTOKEN")
        .arg("default")
        .arg("second")
        .query(&mut a)
        .unwrap();
    assert_ne!(after, tok, "removing a password also changes the tokens");
    assert_eq!(status(s.rest_port, "GET", "/get/k", &after), 200);

    // `#hash`: the plaintext never reaches the node.
    let _: String = cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("resetpass")
        .arg(format!("#{}", sha256hex("third")))
        .query(&mut a)
        .unwrap();
    assert!(err(cmd("PING").query::<String>(&mut a)).starts_with("NOAUTH"));
    assert_eq!(auth(&mut a, "third").unwrap(), "OK");
    assert_eq!(status(s.rest_port, "GET", "/get/k", &after), 401);
    // The management API needs the standard token and answers new credentials.
    let std3: String = cmd("ACL")
        .arg("RESTTOKEN")
        .arg("default")
        .arg("third")
        .query(&mut a)
        .unwrap();
    let ro = http(
        s.rest_port,
        "POST",
        "/v2/redis/reset-password/db",
        Some(&configured_token("third", "read-only")),
    );
    assert_eq!(ro.0, 401);
    let (st, body) = http(
        s.rest_port,
        "POST",
        "/v2/redis/reset-password/db",
        Some(&std3),
    );
    assert_eq!(st, 200, "{body}");
    let pw4 = body["password"].as_str().unwrap();
    let mut b = anonymous(s.port);
    assert!(err(auth(&mut b, "third")).starts_with("WRONGPASS"));
    assert_eq!(auth(&mut b, pw4).unwrap(), "OK");
    assert!(
        err(cmd("PING").query::<String>(&mut a)).starts_with("NOAUTH"),
        "the 'third' session is logged out"
    );
    // The CLI: `meridian reset-password` with the current standard token.
    let std4: String = cmd("ACL")
        .arg("RESTTOKEN")
        .arg("default")
        .arg(pw4)
        .query(&mut b)
        .unwrap();
    let out = std::process::Command::new(meridian_tests::binary())
        .args(["reset-password", "--url"])
        .arg(format!("http://127.0.0.1:{}", s.rest_port))
        .args(["--token", &std4])
        .env_remove("MERIDIAN_PASSWORD")
        .env_remove("MERIDIAN_TOKEN")
        .output()
        .expect("run meridian reset-password");
    assert!(out.status.success(), "{out:?}");
    let v: Json = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let pw5 = v["password"].as_str().unwrap();
    assert_eq!(
        status(
            s.rest_port,
            "GET",
            "/get/k",
            v["rest_token"].as_str().unwrap()
        ),
        200
    );
    assert_eq!(status(s.rest_port, "GET", "/get/k", &std4), 401);
    let mut d = anonymous(s.port);
    assert_eq!(auth(&mut d, pw5).unwrap(), "OK");
    // A revoked token: exit code 1.
    let out = std::process::Command::new(meridian_tests::binary())
        .args(["reset-password", "--url"])
        .arg(format!("http://127.0.0.1:{}", s.rest_port))
        .args(["--token", &std4])
        .env_remove("MERIDIAN_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
