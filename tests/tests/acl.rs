//! ACL users against the real binary: ACL SETUSER / AUTH / NOPERM for commands,
//! categories, keys and channels, changes taking effect on the next command, users
//! surviving a restart, no plaintext password on disk, and Upstash's ACL RESTTOKEN over
//! the REST front end (user permissions, wrong password, revocation by password reset).

use meridian_tests::{connect, Server};
use redis::{cmd, Connection, RedisResult, Value};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use std::time::Duration;

const ADMIN_PW: &str = "admin-pw-for-acl-tests";

/// The full error text of a failed command ("CODE detail").
fn err<T: std::fmt::Debug>(r: RedisResult<T>) -> String {
    let e = r.expect_err("expected an error reply");
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

fn sha256hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn setuser(c: &mut Connection, name: &str, rules: &[&str]) -> RedisResult<String> {
    cmd("ACL").arg("SETUSER").arg(name).arg(rules).query(c)
}

fn as_user(s: &Server, user: &str, pass: &str) -> Connection {
    connect(&format!("redis://{user}:{pass}@127.0.0.1:{}/", s.port))
}

/// A connection that has not authenticated.
fn anonymous(s: &Server) -> Connection {
    connect(&format!("redis://127.0.0.1:{}/", s.port))
}

fn whoami(c: &mut Connection) -> String {
    cmd("ACL").arg("WHOAMI").query(c).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// GETUSER's flat RESP2 reply as field → value.
fn getuser(c: &mut Connection, name: &str) -> std::collections::HashMap<String, Value> {
    let v: Value = cmd("ACL").arg("GETUSER").arg(name).query(c).unwrap();
    let Value::Array(items) = v else {
        panic!("GETUSER {name}: {v:?}")
    };
    items
        .chunks(2)
        .map(|kv| match &kv[0] {
            Value::BulkString(k) => (String::from_utf8_lossy(k).into_owned(), kv[1].clone()),
            other => panic!("field name {other:?}"),
        })
        .collect()
}

fn bulk(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a bulk string: {other:?}"),
    }
}

#[test]
fn setuser_auth_and_noperm_for_commands_categories_and_keys() {
    let s = Server::start_with(Some(ADMIN_PW), &[]);
    let mut admin = s.client();
    assert_eq!(whoami(&mut admin), "default");
    assert_eq!(
        setuser(
            &mut admin,
            "alice",
            &["on", ">alice-pw", "+get", "+@list", "+acl|whoami", "~app:*"]
        )
        .unwrap(),
        "OK"
    );

    let mut a = as_user(&s, "alice", "alice-pw");
    assert_eq!(whoami(&mut a), "alice");
    // An allowed command, a command outside the rules, a category.
    assert_eq!(
        cmd("GET")
            .arg("app:1")
            .query::<Option<String>>(&mut a)
            .unwrap(),
        None
    );
    assert_eq!(
        err(cmd("SET").arg("app:1").arg("v").query::<String>(&mut a)),
        "NOPERM User alice has no permissions to run the 'set' command"
    );
    assert_eq!(
        cmd("LPUSH")
            .arg("app:l")
            .arg("x")
            .query::<i64>(&mut a)
            .unwrap(),
        1
    );
    assert_eq!(
        err(cmd("SADD").arg("app:s").arg("x").query::<i64>(&mut a)),
        "NOPERM User alice has no permissions to run the 'sadd' command"
    );
    // Key patterns: every key position is checked.
    assert_eq!(
        err(cmd("GET").arg("other").query::<Option<String>>(&mut a)),
        "NOPERM No permissions to access a key"
    );
    assert_eq!(
        err(cmd("LMOVE")
            .arg("app:l")
            .arg("other")
            .arg("LEFT")
            .arg("RIGHT")
            .query::<Option<String>>(&mut a)),
        "NOPERM No permissions to access a key"
    );
    // Subcommands: only ACL WHOAMI was granted.
    assert_eq!(
        err(cmd("ACL").arg("USERS").query::<Value>(&mut a)),
        "NOPERM User alice has no permissions to run the 'acl|users' command"
    );
    // A denied command queued in MULTI aborts the transaction (MULTI and EXEC need
    // permissions of their own).
    assert!(err(cmd("MULTI").query::<String>(&mut a)).contains("'multi' command"));
    setuser(&mut admin, "alice", &["+multi", "+exec"]).unwrap();
    let _: String = cmd("MULTI").query(&mut a).unwrap();
    assert!(err(cmd("SET").arg("app:1").arg("v").query::<Value>(&mut a)).starts_with("NOPERM"));
    assert!(err(cmd("EXEC").query::<Value>(&mut a)).starts_with("EXECABORT"));

    // Wrong password, unknown user, HELLO AUTH.
    let mut anon = anonymous(&s);
    assert_eq!(
        err(cmd("AUTH")
            .arg("alice")
            .arg("nope")
            .query::<String>(&mut anon)),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(
        err(cmd("AUTH")
            .arg("nobody")
            .arg("x")
            .query::<String>(&mut anon)),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert!(err(cmd("GET").arg("app:1").query::<Value>(&mut anon)).starts_with("NOAUTH"));
    let _: Value = cmd("HELLO")
        .arg(2)
        .arg("AUTH")
        .arg("alice")
        .arg("alice-pw")
        .query(&mut anon)
        .unwrap();
    assert_eq!(whoami(&mut anon), "alice");

    // What the admin sees: hashes only, Redis's formats.
    let u = getuser(&mut admin, "alice");
    assert_eq!(strings(&u["flags"]), vec!["on", "sanitize-payload"]);
    assert_eq!(strings(&u["passwords"]), vec![sha256hex("alice-pw")]);
    assert_eq!(
        bulk(&u["commands"]),
        "-@all +get +@list +acl|whoami +multi +exec"
    );
    assert_eq!(bulk(&u["keys"]), "~app:*");
    assert_eq!(bulk(&u["channels"]), "");
    assert_eq!(
        cmd("ACL")
            .arg("GETUSER")
            .arg("nobody")
            .query::<Value>(&mut admin)
            .unwrap(),
        Value::Nil
    );
    let users: Vec<String> = cmd("ACL").arg("USERS").query(&mut admin).unwrap();
    assert_eq!(users, vec!["alice", "default"]);
    let list: Vec<String> = cmd("ACL").arg("LIST").query(&mut admin).unwrap();
    assert_eq!(
        list,
        vec![
            format!(
                "user alice on sanitize-payload #{} ~app:* resetchannels -@all +get +@list +acl|whoami +multi +exec",
                sha256hex("alice-pw")
            ),
            format!(
                "user default on sanitize-payload #{} ~* &* +@all",
                sha256hex(ADMIN_PW)
            ),
        ]
    );

    // Errors as Redis words them; the default user is the configured password.
    assert_eq!(
        err(setuser(&mut admin, "alice", &["+get", "heeyyyy"])),
        "ERR Error in ACL SETUSER modifier 'heeyyyy': Syntax error"
    );
    assert_eq!(
        err(setuser(&mut admin, "alice", &["+nosuchcommand"])),
        "ERR Error in ACL SETUSER modifier '+nosuchcommand': Unknown command or category name in ACL"
    );
    assert_eq!(
        err(setuser(&mut admin, "bad name", &["on"])),
        "ERR Usernames can't contain spaces or null characters"
    );
    // default keeps every permission: only its passwords change (tests/tests/rotation.rs).
    assert!(err(setuser(&mut admin, "default", &["off"])).starts_with(
        "ERR Error in ACL SETUSER modifier 'off': Meridian's 'default' user keeps every permission"
    ));
    assert_eq!(
        err(cmd("ACL")
            .arg("DELUSER")
            .arg("default")
            .query::<i64>(&mut admin)),
        "ERR The 'default' user cannot be removed"
    );
    // The failed SETUSER changed nothing.
    assert_eq!(
        bulk(&getuser(&mut admin, "alice")["commands"]),
        "-@all +get +@list +acl|whoami +multi +exec"
    );

    // DRYRUN, CAT, GENPASS.
    let dry: String = cmd("ACL")
        .arg("DRYRUN")
        .arg("alice")
        .arg("set")
        .arg("app:1")
        .arg("v")
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        dry,
        "User alice has no permissions to run the 'set' command"
    );
    let dry: String = cmd("ACL")
        .arg("DRYRUN")
        .arg("alice")
        .arg("get")
        .arg("secret")
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        dry,
        "User alice has no permissions to access the 'secret' key"
    );
    let dry: String = cmd("ACL")
        .arg("DRYRUN")
        .arg("alice")
        .arg("get")
        .arg("app:1")
        .query(&mut admin)
        .unwrap();
    assert_eq!(dry, "OK");
    let cats: Vec<String> = cmd("ACL").arg("CAT").query(&mut admin).unwrap();
    assert!(cats.contains(&"string".to_string()) && cats.contains(&"dangerous".to_string()));
    let strs: Vec<String> = cmd("ACL")
        .arg("CAT")
        .arg("string")
        .query(&mut admin)
        .unwrap();
    assert!(strs.contains(&"get".to_string()) && !strs.contains(&"lpush".to_string()));
    assert_eq!(
        err(cmd("ACL")
            .arg("CAT")
            .arg("nosuch")
            .query::<Value>(&mut admin)),
        "ERR Unknown category 'nosuch'"
    );
    let pass: String = cmd("ACL").arg("GENPASS").query(&mut admin).unwrap();
    assert_eq!(pass.len(), 64);
    assert!(pass.bytes().all(|b| b.is_ascii_hexdigit()));
    let pass: String = cmd("ACL").arg("GENPASS").arg(5).query(&mut admin).unwrap();
    assert_eq!(pass.len(), 2);

    // Channels.
    setuser(
        &mut admin,
        "carol",
        &["on", "nopass", "+@all", "~*", "resetchannels", "&news.*"],
    )
    .unwrap();
    let mut c = as_user(&s, "carol", "anything");
    let _: i64 = cmd("PUBLISH")
        .arg("news.today")
        .arg("hi")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        err(cmd("PUBLISH").arg("gossip").arg("hi").query::<i64>(&mut c)),
        "NOPERM No permissions to access a channel"
    );
}

#[test]
fn no_plaintext_password_reaches_the_disk() {
    let s = Server::start_with(Some(ADMIN_PW), &[]);
    let mut admin = s.client();
    let secret = "Plaintext-Secret-9317-Zq";
    // MONITOR shows ACL SETUSER redacted, as Redis does.
    let mut m = s.raw();
    let hello = meridian_tests::raw_roundtrip(
        &mut m,
        format!("AUTH {ADMIN_PW}\r\nMONITOR\r\n").as_bytes(),
        10,
    );
    assert_eq!(String::from_utf8_lossy(&hello), "+OK\r\n+OK\r\n");
    setuser(
        &mut admin,
        "dora",
        &["on", &format!(">{secret}"), "+@all", "~*"],
    )
    .unwrap();
    let mut r = std::io::BufReader::new(m);
    let mut line = String::new();
    while !line.contains("SETUSER") {
        line.clear();
        std::io::BufRead::read_line(&mut r, &mut line).unwrap();
    }
    assert!(
        line.trim_end().ends_with(
            r#""ACL" "SETUSER" "(redacted)" "(redacted)" "(redacted)" "(redacted)" "(redacted)""#
        ),
        "{line}"
    );
    // Also queued in a transaction, where it is proposed after the entry.
    let _: String = cmd("MULTI").query(&mut admin).unwrap();
    let _: String = setuser(&mut admin, "dora", &[&format!(">{secret}2")]).unwrap();
    let _: Value = cmd("EXEC").query(&mut admin).unwrap();
    let mut d = as_user(&s, "dora", &format!("{secret}2"));
    assert_eq!(whoami(&mut d), "dora");
    // A control: an ordinary value written the same way is found by the same scan.
    let control = "Control-Value-5521-Xy";
    let _: String = cmd("SET").arg("c").arg(control).query(&mut admin).unwrap();
    // The log and the state are RocksDB files: the WAL holds every entry's bytes.
    let scan = |needle: &str| {
        let mut found = Vec::new();
        let mut stack = vec![s.dir.path().join("data")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(bytes) = std::fs::read(&p) {
                    if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                        found.push(p);
                    }
                }
            }
        }
        found
    };
    assert!(!scan(control).is_empty(), "the scan does not see the log");
    let found = scan(secret);
    assert!(found.is_empty(), "plaintext password in {found:?}");
}

#[test]
fn changes_to_a_user_apply_on_its_next_command() {
    let s = Server::start_with(Some(ADMIN_PW), &[]);
    let mut admin = s.client();
    setuser(&mut admin, "alice", &["on", ">pw", "+@all", "~*"]).unwrap();
    let mut a = as_user(&s, "alice", "pw");
    let _: String = cmd("SET").arg("k").arg("1").query(&mut a).unwrap();

    setuser(&mut admin, "alice", &["-set"]).unwrap();
    assert_eq!(
        err(cmd("SET").arg("k").arg("2").query::<String>(&mut a)),
        "NOPERM User alice has no permissions to run the 'set' command"
    );
    setuser(&mut admin, "alice", &["+set", "resetkeys", "~other"]).unwrap();
    assert_eq!(
        err(cmd("SET").arg("k").arg("2").query::<String>(&mut a)),
        "NOPERM No permissions to access a key"
    );
    setuser(&mut admin, "alice", &["allkeys"]).unwrap();
    let _: String = cmd("SET").arg("k").arg("2").query(&mut a).unwrap();

    // Permissions are checked again at EXEC.
    let _: String = cmd("MULTI").query(&mut a).unwrap();
    let _: String = cmd("GET").arg("k").query(&mut a).unwrap();
    let _: String = cmd("INCR").arg("k").query(&mut a).unwrap();
    setuser(&mut admin, "alice", &["-get"]).unwrap();
    let exec = match cmd("EXEC").query::<Value>(&mut a) {
        Ok(v) => format!("{v:?}"),
        Err(e) => e.to_string(),
    };
    assert!(
        exec.contains("no permissions to run the 'get' command"),
        "{exec}"
    );
    assert_eq!(
        cmd("GET").arg("k").query::<String>(&mut admin).unwrap(),
        "3"
    );

    // Disabled: logged out at once (stricter than Redis, which lets open connections be).
    setuser(&mut admin, "alice", &["off"]).unwrap();
    assert_eq!(
        err(cmd("INCR").arg("k").query::<i64>(&mut a)),
        "NOAUTH Authentication required."
    );
    assert!(
        err(cmd("AUTH").arg("alice").arg("pw").query::<String>(&mut a)).starts_with("WRONGPASS")
    );
    setuser(&mut admin, "alice", &["on"]).unwrap();
    let _: String = cmd("AUTH").arg("alice").arg("pw").query(&mut a).unwrap();
    assert_eq!(whoami(&mut a), "alice");

    // Deleted: the next command is refused, the password no longer works.
    let n: i64 = cmd("ACL")
        .arg("DELUSER")
        .arg("alice")
        .arg("ghost")
        .query(&mut admin)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        err(cmd("INCR").arg("k").query::<i64>(&mut a)),
        "NOAUTH Authentication required."
    );
    assert!(
        err(cmd("AUTH").arg("alice").arg("pw").query::<String>(&mut a)).starts_with("WRONGPASS")
    );
    // The default user still works on the same connection.
    let _: String = cmd("AUTH").arg(ADMIN_PW).query(&mut a).unwrap();
    assert_eq!(whoami(&mut a), "default");
}

#[test]
fn users_survive_a_restart() {
    let mut s = Server::start_with(Some(ADMIN_PW), &[]);
    {
        let mut admin = s.client();
        setuser(
            &mut admin,
            "bob",
            &["on", ">bob-pw", "+@read", "+acl", "~b:*"],
        )
        .unwrap();
        let _: String = cmd("SET").arg("b:1").arg("x").query(&mut admin).unwrap();
    }
    s.crash_and_restart();
    let mut b = as_user(&s, "bob", "bob-pw");
    assert_eq!(whoami(&mut b), "bob");
    assert_eq!(cmd("GET").arg("b:1").query::<String>(&mut b).unwrap(), "x");
    assert_eq!(
        err(cmd("SET").arg("b:1").arg("y").query::<String>(&mut b)),
        "NOPERM User bob has no permissions to run the 'set' command"
    );
    let users: Vec<String> = cmd("ACL").arg("USERS").query(&mut b).unwrap();
    assert_eq!(users, vec!["bob", "default"]);
}

// ---- REST ---------------------------------------------------------------------------

/// One REST call: (status, JSON body).
fn http(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Json) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let mut r = agent.request(method, &format!("http://127.0.0.1:{}{path}", s.rest_port));
    if let Some(t) = token {
        r = r.set("Authorization", &format!("Bearer {t}"));
    }
    let res = match body {
        Some(b) => r.send_string(b),
        None => r.call(),
    };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, json)
}

fn resttoken(c: &mut Connection, user: &str, pass: &str) -> RedisResult<String> {
    cmd("ACL").arg("RESTTOKEN").arg(user).arg(pass).query(c)
}

#[test]
fn resttoken_carries_the_users_permissions_and_dies_with_its_password() {
    let s = Server::start_with(Some(ADMIN_PW), &[]);
    let mut admin = s.client();
    setuser(
        &mut admin,
        "rita",
        &["on", ">rita-pw", "+get", "+incr", "~k*"],
    )
    .unwrap();
    let token = resttoken(&mut admin, "rita", "rita-pw").unwrap();
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    // The documented error for a wrong user or password.
    assert_eq!(
        err(resttoken(&mut admin, "upstash", "fakepass")),
        "ERR Wrong password or user \"upstash\" does not exist"
    );
    assert_eq!(
        err(resttoken(&mut admin, "rita", "fakepass")),
        "ERR Wrong password or user \"rita\" does not exist"
    );
    // For default, RESTTOKEN gives the standard token (any valid token works for it).
    let standard = resttoken(&mut admin, "default", ADMIN_PW).unwrap();
    assert_eq!(
        http(&s, "GET", "/set/k1/5", Some(&standard), None),
        (200, json!({"result": "OK"}))
    );

    // Allowed commands run as rita; others get NOPERM as a 400, like any error.
    assert_eq!(
        http(&s, "GET", "/get/k1", Some(&token), None),
        (200, json!({"result": "5"}))
    );
    assert_eq!(
        http(&s, "POST", "/incr/k1", Some(&token), None),
        (200, json!({"result": 6}))
    );
    assert_eq!(
        http(&s, "GET", &format!("/get/k1?_token={token}"), None, None),
        (200, json!({"result": "6"}))
    );
    assert_eq!(
        http(&s, "POST", "/set/k1/v", Some(&token), None),
        (
            400,
            json!({"error": "NOPERM User rita has no permissions to run the 'set' command"})
        )
    );
    assert_eq!(
        http(&s, "GET", "/get/other", Some(&token), None),
        (
            400,
            json!({"error": "NOPERM No permissions to access a key"})
        )
    );
    // Server-sent-event routes check the user too.
    assert_eq!(
        http(&s, "POST", "/subscribe/news", Some(&token), None),
        (
            400,
            json!({"error": "NOPERM User rita has no permissions to run the 'subscribe' command"})
        )
    );
    // Pipelines and transactions are checked per command too.
    let (status, body) = http(
        &s,
        "POST",
        "/pipeline",
        Some(&token),
        Some(r#"[["GET","k1"],["DEL","k1"]]"#),
    );
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([{"result": "6"}, {"error": "NOPERM User rita has no permissions to run the 'del' command"}])
    );
    let (status, body) = http(
        &s,
        "POST",
        "/multi-exec",
        Some(&token),
        Some(r#"[["INCR","k1"],["SET","k1","x"]]"#),
    );
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "NOPERM User rita has no permissions to run the 'set' command"})
        )
    );
    assert_eq!(
        http(&s, "GET", "/get/k1", Some(&token), None),
        (200, json!({"result": "6"}))
    );
    // RESTTOKEN itself works over REST (standard token).
    let (status, body) = http(
        &s,
        "POST",
        "/",
        Some(&standard),
        Some(r#"["ACL","RESTTOKEN","rita","rita-pw"]"#),
    );
    assert_eq!((status, body), (200, json!({"result": token})));

    // Resetting the password revokes tokens made from the old one.
    setuser(&mut admin, "rita", &["resetpass", ">new-pw"]).unwrap();
    let unauthorized = (
        401,
        json!({"error": "WRONGPASS invalid or missing auth token"}),
    );
    assert_eq!(http(&s, "GET", "/get/k1", Some(&token), None), unauthorized);
    let token2 = resttoken(&mut admin, "rita", "new-pw").unwrap();
    assert_ne!(token2, token);
    assert_eq!(
        http(&s, "GET", "/get/k1", Some(&token2), None),
        (200, json!({"result": "6"}))
    );
    // Rule changes apply to existing tokens; disabling or deleting the user revokes them.
    setuser(&mut admin, "rita", &["-get"]).unwrap();
    assert_eq!(
        http(&s, "GET", "/get/k1", Some(&token2), None),
        (
            400,
            json!({"error": "NOPERM User rita has no permissions to run the 'get' command"})
        )
    );
    setuser(&mut admin, "rita", &["off"]).unwrap();
    assert_eq!(
        http(&s, "POST", "/incr/k1", Some(&token2), None),
        unauthorized
    );
    setuser(&mut admin, "rita", &["on"]).unwrap();
    assert_eq!(
        http(&s, "POST", "/incr/k1", Some(&token2), None),
        (200, json!({"result": 7}))
    );
    let _: i64 = cmd("ACL")
        .arg("DELUSER")
        .arg("rita")
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        http(&s, "POST", "/incr/k1", Some(&token2), None),
        unauthorized
    );
    // Forged tokens: a user token's shape with a wrong MAC, and garbage.
    let mut forged = token2.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    setuser(&mut admin, "rita", &["on", ">new-pw", "+@all", "~*"]).unwrap();
    assert_eq!(
        http(&s, "GET", "/get/k1", Some(&forged), None),
        unauthorized
    );
    assert_eq!(
        http(&s, "GET", "/get/k1", Some("U!!notbase64"), None),
        unauthorized
    );
}

// ---- replication ----------------------------------------------------------------------

fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rest_at(port: u16, path: &str, token: &str) -> (u16, Json) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let res = agent
        .get(&format!("http://127.0.0.1:{port}{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .call();
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    let status = resp.status();
    (
        status,
        serde_json::from_str(&resp.into_string().unwrap()).unwrap(),
    )
}

#[test]
fn users_are_replicated_to_every_node_and_survive_a_failover() {
    use meridian_tests::cluster::Cluster;
    let mut c = Cluster::start(3);
    let r = c.add_replica("eu-west-1");
    // Created through a follower or the leader alike (forwarded like any write).
    let mut con = c.nodes[1].client();
    setuser(
        &mut con,
        "eve",
        &["on", ">eve-pw", "+@read", "+acl", "~e:*"],
    )
    .unwrap();
    let _: String = cmd("SET").arg("e:1").arg("v").query(&mut con).unwrap();
    let token = resttoken(&mut con, "eve", "eve-pw").unwrap();
    for n in &c.nodes {
        let url = format!("redis://127.0.0.1:{}/", n.port);
        let mut e = eventually(Duration::from_secs(10), || {
            let mut e = connect(&url);
            let ok = cmd("AUTH")
                .arg("eve")
                .arg("eve-pw")
                .query::<String>(&mut e)
                .is_ok()
                && cmd("GET")
                    .arg("e:1")
                    .query::<Option<String>>(&mut e)
                    .ok()?
                    .is_some();
            ok.then_some(e)
        });
        assert_eq!(whoami(&mut e), "eve");
        assert_eq!(
            err(cmd("SET").arg("e:1").arg("w").query::<String>(&mut e)),
            "NOPERM User eve has no permissions to run the 'set' command"
        );
        // The token made on node 2 works on every node, with eve's permissions.
        assert_eq!(
            rest_at(n.rest_port, "/get/e:1", &token),
            (200, json!({"result": "v"}))
        );
        assert_eq!(
            rest_at(n.rest_port, "/set/e:1/w", &token),
            (
                400,
                json!({"error": "NOPERM User eve has no permissions to run the 'set' command"})
            )
        );
    }
    // Kill the leader: the survivors (and the replica) still know eve.
    let leader = c.leader().expect("a leader");
    c.nodes[leader].kill9();
    let survivor = (0..3).find(|&i| i != leader).unwrap();
    let mut e = as_user_at(c.nodes[survivor].port, "eve", "eve-pw");
    assert_eq!(whoami(&mut e), "eve");
    // A change made after the failover reaches the replica too.
    let mut admin = eventually(Duration::from_secs(20), || {
        let mut a = connect(&format!("redis://127.0.0.1:{}/", c.nodes[survivor].port));
        setuser(&mut a, "eve", &["-get"]).ok().map(|_| a)
    });
    let _: i64 = cmd("DBSIZE").query(&mut admin).unwrap();
    let mut on_replica = as_user_at(c.nodes[r].port, "eve", "eve-pw");
    eventually(Duration::from_secs(10), || {
        match cmd("GET")
            .arg("e:1")
            .query::<Option<String>>(&mut on_replica)
        {
            Err(e) if e.to_string().contains("'get' command") => Some(()),
            _ => None,
        }
    });
}

fn as_user_at(port: u16, user: &str, pass: &str) -> Connection {
    connect(&format!("redis://{user}:{pass}@127.0.0.1:{port}/"))
}
