//! The management API on the REST port, shaped after the Upstash Developer API's backup
//! endpoints (`devops/developer-api/redis/backup/`). Only the standard token (full
//! access) may call it. `{id}` is the database id in Upstash's API; a Meridian cluster
//! is one database, so any id names it.
//!
//! ```text
//! POST   /v2/redis/create-backup/{id}        {"name": "..."}        -> the backup
//! GET    /v2/redis/list-backup/{id}                                 -> [backup, ...]
//! POST   /v2/redis/restore-backup/{id}       {"backup_id": "..."}   -> the restore's report
//!        (point in time, with --log-archive: add "until_index": n or "until_time_ms": t)
//! DELETE /v2/redis/delete-backup/{id}/{backup_id}                   -> "OK"
//! PATCH  /v2/redis/enable-dailybackup/{id}   [{"retention": n}]     -> "OK"
//! PATCH  /v2/redis/disable-dailybackup/{id}                         -> "OK"
//! POST   /v2/redis/reset-password/{id}                              -> new credentials
//! ```
//!
//! A backup's `backup_id` is its name. Errors are `{"error": "..."}` with status 400
//! (404 for an unknown backup).
//!
//! reset-password (Upstash's "Reset Credentials") gives the default user a new generated
//! password through the log (`ACL SETUSER default resetpass #hash`): every node logs out
//! the connections that used the old one and every standard, read-only and user REST
//! token stops working (the token used for this call too). It answers
//! `{"password", "rest_token", "read_only_rest_token"}`, the only time the password is
//! shown (only its hash is kept).

use super::{respond, Resp};
use crate::shared::Shared;
use engine::Frame;
use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

/// Whether a path is a management route (`/v2/...`).
pub fn is_manage(path: &str) -> bool {
    path.starts_with("/v2/")
}

fn reply(status: StatusCode, v: Value) -> Resp {
    respond(status, "application/json", v.to_string().into_bytes())
}

fn error(msg: &str) -> Resp {
    let status = if msg.contains("no backup named") {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    };
    reply(status, json!({ "error": msg }))
}

/// A flat field/value array (BACKUP's replies) as a JSON object.
fn object(f: &Frame) -> Value {
    let mut m = Map::new();
    if let Frame::Array(items) = f {
        for pair in items.chunks(2) {
            if let [Frame::Bulk(k), v] = pair {
                let v = match v {
                    Frame::Integer(n) => json!(n),
                    Frame::Bulk(b) => json!(String::from_utf8_lossy(b)),
                    Frame::Simple(s) => json!(s),
                    _ => Value::Null,
                };
                m.insert(String::from_utf8_lossy(k).into_owned(), v);
            }
        }
    }
    Value::Object(m)
}

/// A backup as the API shows it: Upstash's fields first, then Meridian's.
fn backup_json(f: &Frame) -> Value {
    let mut o = object(f);
    if let Value::Object(m) = &mut o {
        if let Some(n) = m.get("name").cloned() {
            m.insert("backup_id".into(), n);
            m.insert("backup_name".into(), m["name"].clone());
        }
        if let Some(t) = m.get("created_unix_ms").and_then(Value::as_u64) {
            m.insert("creation_time".into(), json!(t / 1000));
        }
        m.insert("state".into(), json!("completed"));
    }
    o
}

async fn run(shared: &Shared, argv: &[&[u8]]) -> Result<Frame, String> {
    let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
    match crate::backup::command(shared, &argv).await {
        Frame::Error(e) => Err(e),
        f => Ok(f),
    }
}

fn field<'a>(body: &'a [u8], name: &str) -> Result<Option<Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("ERR the request body is not JSON: {e}"))?;
    Ok(v.get(name).cloned())
}

fn text_field(body: &[u8], name: &str) -> Result<String, String> {
    match field(body, name)? {
        Some(Value::String(s)) => Ok(s),
        _ => Err(format!(
            "ERR the request body needs a string field \"{name}\""
        )),
    }
}

/// Answers a management request (`path` is known to start with `/v2/`).
pub async fn handle(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Resp {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let res: Result<Value, String> = match (method, &parts[..]) {
        (&Method::POST, ["v2", "redis", "create-backup", _id]) => match text_field(body, "name") {
            Ok(name) => run(shared, &[b"BACKUP", b"CREATE", name.as_bytes()])
                .await
                .map(|f| backup_json(&f)),
            Err(e) => Err(e),
        },
        (&Method::GET, ["v2", "redis", "list-backup", _id]) => {
            run(shared, &[b"BACKUP", b"LIST"]).await.map(|f| match f {
                Frame::Array(list) => Value::Array(list.iter().map(backup_json).collect()),
                _ => Value::Array(Vec::new()),
            })
        }
        (&Method::POST, ["v2", "redis", "restore-backup", _id]) => {
            match (
                text_field(body, "backup_id"),
                field(body, "until_index"),
                field(body, "until_time_ms"),
            ) {
                (Ok(name), Ok(None), Ok(None)) => {
                    run(shared, &[b"BACKUP", b"RESTORE", name.as_bytes()])
                        .await
                        .map(|f| object(&f))
                }
                (Ok(name), Ok(Some(Value::Number(n))), Ok(None)) => {
                    let n = n.to_string();
                    run(
                        shared,
                        &[
                            b"BACKUP",
                            b"RESTORE",
                            name.as_bytes(),
                            b"INDEX",
                            n.as_bytes(),
                        ],
                    )
                    .await
                    .map(|f| object(&f))
                }
                (Ok(name), Ok(None), Ok(Some(Value::Number(n)))) => {
                    let n = n.to_string();
                    run(
                        shared,
                        &[
                            b"BACKUP",
                            b"RESTORE",
                            name.as_bytes(),
                            b"TIME",
                            n.as_bytes(),
                        ],
                    )
                    .await
                    .map(|f| object(&f))
                }
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
                _ => Err(
                    "ERR give at most one of \"until_index\" and \"until_time_ms\", as numbers"
                        .into(),
                ),
            }
        }
        (&Method::DELETE, ["v2", "redis", "delete-backup", _id, name]) => {
            run(shared, &[b"BACKUP", b"DELETE", name.as_bytes()])
                .await
                .map(|_| json!("OK"))
        }
        (&Method::PATCH, ["v2", "redis", "enable-dailybackup", _id]) => {
            match field(body, "retention") {
                Ok(None) => run(shared, &[b"BACKUP", b"DAILY", b"ON"]).await,
                Ok(Some(Value::Number(n))) => {
                    let n = n.to_string();
                    run(shared, &[b"BACKUP", b"DAILY", b"ON", n.as_bytes()]).await
                }
                Ok(Some(_)) => Err("ERR \"retention\" must be a number".into()),
                Err(e) => Err(e),
            }
            .map(|_| json!("OK"))
        }
        (&Method::PATCH, ["v2", "redis", "disable-dailybackup", _id]) => {
            run(shared, &[b"BACKUP", b"DAILY", b"OFF"])
                .await
                .map(|_| json!("OK"))
        }
        (&Method::POST, ["v2", "redis", "reset-password", _id]) => reset_password(shared).await,
        _ => {
            return reply(
                StatusCode::NOT_FOUND,
                json!({ "error": format!("ERR no management route {method} {path}") }),
            )
        }
    };
    match res {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => error(&e),
    }
}

/// A new generated password for `default`, proposed as its only password; once this node
/// applied it, the new password and tokens.
async fn reset_password(shared: &Shared) -> Result<Value, String> {
    use rand::Rng;
    if crate::acl_cmds::creds::current(shared).is_none() {
        return Err(
            "ERR authentication is off on this node (--no-auth): there is no password to reset"
                .into(),
        );
    }
    let password: String = rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let hash = engine::acl::hash_password(password.as_bytes());
    let argv = vec![
        b"acl".to_vec(),
        b"setuser".to_vec(),
        b"default".to_vec(),
        b"resetpass".to_vec(),
        format!("#{hash}").into_bytes(),
    ];
    let (index, mut replies) = shared
        .node
        .write(vec![consensus::Op::Cmd { db: 0, argv }])
        .await
        .map_err(|e| match e.to_frame() {
            Frame::Error(e) => e,
            _ => "ERR the new password was not applied".to_string(),
        })?;
    match replies.pop() {
        Some(Frame::Error(e)) => return Err(e),
        Some(_) => {}
        None => return Err("ERR the new password got no reply".into()),
    }
    crate::dispatch::wait_applied(shared, index)
        .await
        .map_err(|e| e.to_string())?;
    let creds = crate::acl_cmds::creds::current(shared)
        .filter(|c| c.matching(password.as_bytes()).is_some())
        .ok_or("ERR the password was changed again meanwhile")?;
    let tokens = creds
        .tokens
        .as_ref()
        .ok_or("ERR the new password has no tokens")?;
    tracing::warn!("the default user's password was reset (management API)");
    Ok(json!({
        "password": password,
        "rest_token": tokens.standard,
        "read_only_rest_token": tokens.read_only,
    }))
}
