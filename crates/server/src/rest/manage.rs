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
//! ```
//!
//! A backup's `backup_id` is its name. Errors are `{"error": "..."}` with status 400
//! (404 for an unknown backup).

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
