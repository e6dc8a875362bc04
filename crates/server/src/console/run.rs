//! POST /console/api/run: commands as the logged-in user, replies with their types.
//!
//! `{"cmds": [["HSET", "h", "f", {"b64": "AAE="}], ...], "resp3": true, "db": 0}`: each argument
//! is a string (its UTF-8 bytes), a number, or `{"b64": ...}` for exact bytes. The
//! commands run in order like a REST `/pipeline` (not atomic; consecutive writes share a
//! proposal), through the same admission (`rest::auth::admit`: the read-only token's
//! rules, what HTTP cannot carry) and the same dispatcher as every client, as the
//! session's user. The REST protocol's JSON flattens RESP3 maps and replaces bytes that
//! are not UTF-8, so the replies here keep their types instead:
//!
//! `{"t": "bulk", "v": "text"}` or `{"t": "bulk", "b64": "..."}` (not UTF-8), `simple`,
//! `error`, `int` (a string past 2^53), `double` (Redis's text), `bool`, `null`, `verbatim`,
//! `array`/`set`/`push` with `v: [..]`, `map`/`pairs` with `v: [[k, v], ..]`.

use super::session::{self, Sess};
use super::{json_error, json_reply};
use crate::rest::auth::{self, Access};
use crate::session::Session;
use crate::shared::Shared;
use base64::Engine as _;
use engine::Frame;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// Commands per call.
const MAX_CMDS: usize = 10_000;
/// Arguments per command.
const MAX_ARGS: usize = 1 << 20;

fn arg(v: &Value) -> Result<Vec<u8>, String> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Number(n) => Ok(n.to_string().into_bytes()),
        Value::Object(o) => match o.get("b64").and_then(Value::as_str) {
            Some(b) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|_| "ERR an argument's \"b64\" is not valid base64".to_string()),
            None => Err("ERR an argument object needs a \"b64\" string".into()),
        },
        _ => Err("ERR each argument must be a string, a number or {\"b64\": ...}".into()),
    }
}

fn parse(v: &Value) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let cmds = v
        .get("cmds")
        .and_then(Value::as_array)
        .ok_or("ERR the body needs \"cmds\": an array of commands")?;
    if cmds.is_empty() || cmds.len() > MAX_CMDS {
        return Err(format!("ERR send 1 to {MAX_CMDS} commands"));
    }
    let mut out = Vec::with_capacity(cmds.len());
    for c in cmds {
        let args = c
            .as_array()
            .ok_or("ERR each command must be an array of arguments")?;
        if args.is_empty() || args.len() > MAX_ARGS {
            return Err("ERR empty command".into());
        }
        let argv = args.iter().map(arg).collect::<Result<Vec<_>, _>>()?;
        if argv[0].is_empty() {
            return Err("ERR empty command".into());
        }
        out.push(argv);
    }
    Ok(out)
}

/// A reply as typed JSON.
pub fn typed(f: &Frame) -> Value {
    fn s(b: &[u8]) -> Value {
        match std::str::from_utf8(b) {
            Ok(t) => json!({ "t": "bulk", "v": t }),
            Err(_) => json!({
                "t": "bulk",
                "b64": base64::engine::general_purpose::STANDARD.encode(b)
            }),
        }
    }
    fn pairs(t: &str, p: &[(Frame, Frame)]) -> Value {
        json!({ "t": t, "v": p.iter().map(|(k, v)| json!([typed(k), typed(v)])).collect::<Vec<_>>() })
    }
    fn list(t: &str, items: &[Frame]) -> Value {
        json!({ "t": t, "v": items.iter().map(typed).collect::<Vec<_>>() })
    }
    match f {
        Frame::Simple(x) => json!({ "t": "simple", "v": x }),
        Frame::Error(x) => json!({ "t": "error", "v": x }),
        Frame::Integer(n) if n.unsigned_abs() <= (1u64 << 53) => json!({ "t": "int", "v": n }),
        Frame::Integer(n) => json!({ "t": "int", "v": n.to_string() }),
        Frame::Bulk(b) => s(b),
        Frame::Verbatim(_, b) => {
            let mut v = s(b);
            v["t"] = json!("verbatim");
            v
        }
        Frame::Null | Frame::NullArray => json!({ "t": "null" }),
        Frame::Array(items) => list("array", items),
        Frame::Push(items) => list("push", items),
        Frame::Set(items) => list("set", items),
        Frame::Map(p) | Frame::KeyedArrays(p) => pairs("map", p),
        Frame::Pairs(p) => pairs("pairs", p),
        Frame::Double(d) => json!({ "t": "double", "v": resp::format_reply_double(*d) }),
        Frame::DoubleText(t) => json!({ "t": "double", "v": t }),
        Frame::Boolean(b) => json!({ "t": "bool", "v": b }),
    }
}

pub async fn handle(
    shared: &Arc<Shared>,
    peer: SocketAddr,
    local: SocketAddr,
    sid: &str,
    console: &Sess,
    access: &Access,
    body: &Value,
) -> crate::rest::Resp {
    let cmds = match parse(body) {
        Ok(c) => c,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e),
    };
    // The database the commands run in (the page's database selector; REST has no SELECT).
    let db = match body.get("db") {
        None | Some(Value::Null) => 0,
        Some(v) => match v.as_u64().filter(|d| *d < keys::DATABASES as u64) {
            Some(d) => d as u8,
            None => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "ERR \"db\" must be a database number from 0 to {}",
                        keys::DATABASES - 1
                    ),
                )
            }
        },
    };
    // Read your writes: this session's earlier writes are applied here first.
    if console.last_index > 0 {
        if let Err(e) = crate::dispatch::wait_applied(shared, console.last_index).await {
            return json_error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
        }
    }
    let mut sess = Session::for_rest(shared.clone(), peer, local);
    sess.resp3 = body.get("resp3").and_then(Value::as_bool).unwrap_or(false);
    sess.db = db;
    if let Access::User(u) = access {
        sess.user = Some(u.clone());
        if let Ok(mut i) = sess.info.lock() {
            i.user = u.name_lossy();
        }
    }
    let mut replies: Vec<Value> = Vec::with_capacity(cmds.len());
    let mut batch: Vec<Vec<Vec<u8>>> = Vec::new();
    for argv in cmds {
        let admitted = match engine::lookup(&argv[0]) {
            Some(spec) => auth::admit(spec, access),
            None => Ok(()),
        };
        match admitted {
            Ok(()) => batch.push(argv),
            Err(e) => {
                dispatch(shared, &mut sess, std::mem::take(&mut batch), &mut replies).await;
                shared.stats.count_error(&e.0);
                replies.push(typed(&Frame::Error(e.0)));
            }
        }
    }
    dispatch(shared, &mut sess, batch, &mut replies).await;
    if sess.last_index > 0 {
        session::note_index(sid, sess.last_index);
    }
    json_reply(StatusCode::OK, &json!({ "replies": replies }))
}

async fn dispatch(
    shared: &Arc<Shared>,
    sess: &mut Session,
    reqs: Vec<Vec<Vec<u8>>>,
    out: &mut Vec<Value>,
) {
    if reqs.is_empty() {
        return;
    }
    crate::dispatch::run_batch(shared, sess, reqs, None, &mut |f: &Frame, _resp3: bool| {
        if let Frame::Error(e) = f {
            shared.stats.count_error(e);
        }
        out.push(typed(f))
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_and_limits() {
        let v = json!({"cmds": [["SET", "k", {"b64": "AP8="}], ["INCRBY", "n", 5]]});
        let c = parse(&v).unwrap();
        assert_eq!(c[0][2], vec![0u8, 255]);
        assert_eq!(c[1][2], b"5");
        for bad in [
            json!({}),
            json!({"cmds": []}),
            json!({"cmds": [[]]}),
            json!({"cmds": [[""]]}),
            json!({"cmds": [["GET", null]]}),
            json!({"cmds": [["GET", {"b64": "!!"}]]}),
            json!({"cmds": ["GET"]}),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replies_keep_their_types() {
        let m = Frame::Map(vec![(Frame::Bulk(b"a".to_vec()), Frame::Integer(1))]);
        assert_eq!(
            typed(&m),
            json!({"t": "map", "v": [[{"t": "bulk", "v": "a"}, {"t": "int", "v": 1}]]})
        );
        assert_eq!(
            typed(&Frame::Bulk(vec![0xff])),
            json!({"t": "bulk", "b64": "/w=="})
        );
        assert_eq!(
            typed(&Frame::Integer(i64::MAX))["v"],
            json!(i64::MAX.to_string())
        );
        assert_eq!(typed(&Frame::Set(vec![]))["t"], "set");
    }
}
