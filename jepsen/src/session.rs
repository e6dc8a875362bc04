//! Read-your-writes sessions: a session is one logical client that hops between nodes
//! (voters and read replicas) and connections, carrying its sync token from each reply
//! into the next request:
//!
//! - RESP sessions keep at most one connection per node, drop one now and then (so the
//!   next op opens a new connection), hand the token to a connection with
//!   `CLIENT SYNC-TOKEN t` before each op, and after an INCR take the connection's new
//!   token with `CLIENT SYNC-TOKEN`;
//! - REST sessions send each request on a new connection with the `upstash-sync-token`
//!   header and keep the token of the reply.
//!
//! Operations: `INCR k` (a counter, so every applied increment raises the value) and
//! `GET k`, on a few keys shared by every session. `checker::ryw` checks them.

use crate::history::{Op, Outcome, Sess, F};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The nodes a session may use: node id → (RESP address, REST address). The run keeps
/// it up to date as replicas join and leave.
pub type Targets = Arc<Mutex<BTreeMap<u32, (SocketAddr, SocketAddr)>>>;

pub struct SessionShared {
    pub t0: Instant,
    pub next_id: Arc<AtomicU64>,
    pub next_conn: AtomicU64,
    pub keys: usize,
    pub op_timeout: Duration,
    pub targets: Targets,
}

pub struct SessionSpec {
    pub session: u64,
    pub rest: bool,
    pub seed: u64,
    pub until: Instant,
}

/// The outcome of one HTTP request to the REST port.
#[derive(Debug)]
pub struct RestReply {
    pub status: u16,
    pub token: Option<u64>,
    pub body: serde_json::Value,
}

/// One REST request (`GET path`, `Connection: close`) with an optional sync token.
pub async fn rest_call(
    addr: SocketAddr,
    path: &str,
    token: Option<u64>,
) -> std::io::Result<RestReply> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let _ = s.set_nodelay(true);
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token.filter(|t| *t > 0) {
        req.push_str(&format!("upstash-sync-token: {t}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    parse_http(&buf)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad HTTP reply"))
}

fn parse_http(buf: &[u8]) -> Option<RestReply> {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..split]).ok()?;
    let mut body = &buf[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut token = None;
    let mut chunked = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "upstash-sync-token" {
                token = v.parse().ok();
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k == "content-length" {
                let n: usize = v.parse().ok()?;
                body = &body[..n.min(body.len())];
            }
        }
    }
    let owned;
    if chunked {
        let mut out = Vec::new();
        let mut rest = body;
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n")?;
            let n =
                usize::from_str_radix(std::str::from_utf8(&rest[..nl]).ok()?.trim(), 16).ok()?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(rest.get(nl + 2..nl + 2 + n)?);
            rest = rest.get(nl + 4 + n..)?;
        }
        owned = out;
        body = &owned;
    }
    let body = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    Some(RestReply {
        status,
        token,
        body,
    })
}

enum Done {
    /// The op's result value and the token its reply carried.
    Ok(Option<i64>, Option<u64>),
    Err(String),
}

fn as_i64(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Runs one session until `spec.until`; returns its operations.
pub async fn session(shared: Arc<SessionShared>, spec: SessionSpec) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut ops = Vec::new();
    let mut token: u64 = 0;
    let mut conns: BTreeMap<u32, (u64, redis::aio::MultiplexedConnection)> = BTreeMap::new();
    while Instant::now() < spec.until {
        let targets: Vec<(u32, (SocketAddr, SocketAddr))> = shared
            .targets
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        if targets.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let (node, (resp, rest)) = targets[rng.gen_range(0..targets.len())];
        conns.retain(|n, _| targets.iter().any(|(t, _)| t == n));
        let key = format!("s{}", rng.gen_range(0..shared.keys));
        let f = if rng.gen_range(0..10) < 4 {
            F::Incr
        } else {
            F::ReadCounter
        };
        if !spec.rest && rng.gen_range(0..10) < 3 {
            // Across connections: the next op on this node opens a new one.
            conns.remove(&node);
        }
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let invoke_us = shared.t0.elapsed().as_micros() as u64;
        let token_in = token;
        let mut conn_id = 0;
        let r = if spec.rest {
            let path = match f {
                F::Incr => format!("/incr/{key}"),
                _ => format!("/get/{key}"),
            };
            match tokio::time::timeout(shared.op_timeout, rest_call(rest, &path, Some(token))).await
            {
                Err(_) => Done::Err("timeout".into()),
                Ok(Err(e)) => Done::Err(format!("io: {e}")),
                Ok(Ok(rep)) => match rep.body.get("error") {
                    Some(e) => Done::Err(e.as_str().unwrap_or("error").to_string()),
                    None if rep.status != 200 => Done::Err(format!("HTTP {}", rep.status)),
                    None => {
                        let v = rep.body.get("result").and_then(as_i64);
                        Done::Ok(v, rep.token)
                    }
                },
            }
        } else {
            let fut = async {
                if !conns.contains_key(&node) {
                    let c = redis::Client::open(format!("redis://{resp}/"))
                        .map_err(|e| e.to_string())?;
                    let con = c
                        .get_multiplexed_async_connection()
                        .await
                        .map_err(|e| format!("connect: {e}"))?;
                    let cid = 1 + shared.next_conn.fetch_add(1, Ordering::Relaxed);
                    conns.insert(node, (cid, con));
                }
                let (cid, con) = conns.get_mut(&node).expect("inserted");
                conn_id = *cid;
                if token > 0 {
                    redis::cmd("CLIENT")
                        .arg("SYNC-TOKEN")
                        .arg(token)
                        .query_async::<()>(con)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                match f {
                    F::Incr => {
                        let v: i64 = redis::cmd("INCR")
                            .arg(&key)
                            .query_async(con)
                            .await
                            .map_err(|e| e.to_string())?;
                        let t: u64 = redis::cmd("CLIENT")
                            .arg("SYNC-TOKEN")
                            .query_async(con)
                            .await
                            .map_err(|e| e.to_string())?;
                        Ok::<_, String>((Some(v), Some(t)))
                    }
                    _ => {
                        let v: Option<i64> = redis::cmd("GET")
                            .arg(&key)
                            .query_async(con)
                            .await
                            .map_err(|e| e.to_string())?;
                        Ok((v, None))
                    }
                }
            };
            match tokio::time::timeout(shared.op_timeout, fut).await {
                Err(_) => Done::Err("timeout".into()),
                Ok(Err(e)) => Done::Err(e),
                Ok(Ok((v, t))) => Done::Ok(v, t),
            }
        };
        let complete_us = shared.t0.elapsed().as_micros() as u64;
        let mut op = Op {
            id,
            process: spec.session,
            node,
            f,
            key,
            value: None,
            from: None,
            list: None,
            outcome: Outcome::Ok,
            error: None,
            invoke_us,
            complete_us,
            sess: Some(Sess {
                session: spec.session,
                conn: conn_id,
                rest: spec.rest,
                token_in,
                token_out: None,
            }),
        };
        match r {
            Done::Ok(v, t) => {
                op.value = v.or(Some(0));
                if let Some(t) = t {
                    token = token.max(t);
                }
                if let Some(s) = op.sess.as_mut() {
                    s.token_out = t;
                }
            }
            Done::Err(e) => {
                // A read has no effect; a write refused before it was appended is a
                // definite failure; anything else may or may not have happened.
                op.outcome = if f == F::ReadCounter || e.starts_with("CLUSTERDOWN") {
                    Outcome::Fail
                } else {
                    Outcome::Info
                };
                op.error = Some(e);
                conns.remove(&node);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        ops.push(op);
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_replies() {
        let r = parse_http(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nupstash-sync-token: 4611686018427715584\r\ncontent-length: 12\r\n\r\n{\"result\":5}",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.token, Some(4611686018427715584));
        assert_eq!(r.body["result"], 5);
        let r = parse_http(
            b"HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n7\r\n{\"error\r\n6\r\n\":\"x\"}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.status, 400);
        assert_eq!(r.body["error"], "x");
    }
}
