//! The REST front end, compatible with the Upstash REST protocol
//! (`reference/upstash-docs/redis/features/restapi.md`): HTTP/1.1 keep-alive on its own
//! port, every request form (`/{cmd}/{arg}/...`, POST body as the last argument, query
//! parameters after it, a JSON command array posted to `/`, `/pipeline`, `/multi-exec`),
//! standard and read-only tokens, `Upstash-Encoding: base64`,
//! `Upstash-Response-Format: resp2`, `upstash-sync-token`, CORS.
//!
//! No command logic lives here: commands go through `dispatch::run_batch` exactly like
//! RESP commands, in a fresh per-request session (database 0, RESP2 shapes).
//!
//! Status codes: 200 when the command ran (or for a pipeline / transaction that ran, with
//! errors inline), 400 for a command error, a malformed request, an unknown response
//! format, a request over 10 MB or a discarded transaction, 401 for a missing or wrong
//! token, 405 for a method other than HEAD GET POST PUT (an OPTIONS CORS preflight is
//! answered 204).

pub(crate) mod auth;
mod exec;
mod manage;
mod reply;
mod request;
mod sse;
mod tcp;

pub use auth::{user_token, Tokens, NOPASS_MARK};

use crate::session::Session;
use crate::shared::Shared;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use reply::{Body, Format};
use request::{MAX_REQUEST_BYTES, TOO_LARGE};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// An oversized body is read and discarded up to this much (so the client reads our
/// error instead of a connection reset); beyond it the connection is closed.
const DRAIN_MAX: u64 = 64 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(10);
/// An idle keep-alive connection (or one sending its request head this slowly) is closed.
const HEADER_TIMEOUT: Duration = Duration::from_secs(120);

/// Upstash's answer when the connection limit (`maxclients`) is reached
/// (troubleshooting/max_concurrent_connections.md), sent with 429 Too Many Requests.
pub const MAX_CONNECTIONS: &str = "ERR max concurrent connections exceeded";

const SYNC_TOKEN: &str = "upstash-sync-token";
const CONSISTENCY: &str = "meridian-consistency";
const ALLOWED_METHODS: &str = "HEAD, GET, POST, PUT";

/// Serves the REST protocol on `listener`; with `tls` (`--tls-rest`) only HTTPS, each
/// connection's handshake done in its own task with the node's current certificate.
pub async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: bool,
) -> anyhow::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let http = Arc::new(http);
    // The console's metrics history starts with the REST listener.
    crate::console::start(&shared);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("REST accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !shared.admits(peer, "REST") {
            drop(stream);
            continue;
        }
        let local = stream.local_addr().unwrap_or(shared.local);
        let stream = tcp::QuickAck::new(stream);
        let acceptor = if tls {
            match consensus::tls::rest_acceptor() {
                Some(a) => Some(a),
                None => continue,
            }
        } else {
            None
        };
        // The handshake (if any) runs in the connection's task, not here.
        let io = async move {
            match consensus::tls::MaybeTls::accept(stream, acceptor).await {
                Ok(s) => Some(hyper_util::rt::TokioIo::new(s)),
                Err(e) => {
                    tracing::info!("HTTPS connection from {peer} refused: {e}");
                    None
                }
            }
        };
        let shared = shared.clone();
        let http = http.clone();
        let Some(slot) = shared.try_conn_slot() else {
            shared
                .stats
                .rejected_connections
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Over maxclients: every request on this connection is answered with the
            // error, then the connection closes; it gets a few seconds, no more.
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    let mut r = json_error(StatusCode::TOO_MANY_REQUESTS, MAX_CONNECTIONS);
                    r.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    Ok::<_, Infallible>(r)
                });
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    if let Some(io) = io.await {
                        let _ = http.serve_connection(io, svc).await;
                    }
                })
                .await;
            });
            continue;
        };
        tokio::spawn(async move {
            let _slot = slot;
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, peer, local, req).await) }
            });
            let Some(io) = io.await else { return };
            if let Err(e) = http.serve_connection(io, svc).await {
                tracing::debug!("REST connection {peer}: {e}");
            }
        });
    }
}

pub(crate) type Resp = Response<http_body_util::combinators::BoxBody<Bytes, Infallible>>;

fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    cors(h);
    r
}

fn json_error(status: StatusCode, msg: &str) -> Resp {
    respond(status, "application/json", reply::error_body(msg))
}

/// Any origin may call the API (the token is the access control), and may read the
/// sync token.
pub(crate) fn cors(h: &mut HeaderMap) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(SYNC_TOKEN),
    );
}

fn preflight(req_headers: &HeaderMap) -> Resp {
    let mut r = respond(StatusCode::NO_CONTENT, "text/plain", Vec::new());
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    let allow = req_headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_static(
                "Authorization, Content-Type, Upstash-Encoding, Upstash-Response-Format, Upstash-Sync-Token, Meridian-Consistency",
            )
        });
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

enum BodyError {
    /// Over the limit; `drained` says whether the rest was read so the connection can
    /// stay open.
    TooLarge { drained: bool },
    /// The client went away or sent a malformed body.
    Broken,
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

async fn read_body(mut body: Incoming, declared: Option<u64>) -> Result<Bytes, BodyError> {
    if declared.is_some_and(|n| n > MAX_REQUEST_BYTES as u64) {
        return Err(BodyError::TooLarge {
            drained: drain(body, declared).await,
        });
    }
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(BodyError::Broken);
        };
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total > MAX_REQUEST_BYTES {
                return Err(BodyError::TooLarge {
                    drained: drain(body, None).await,
                });
            }
            chunks.push(data);
        }
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        // The usual case: the whole body in one piece, no copy.
        1 => chunks.pop().unwrap_or_default(),
        _ => {
            let mut buf = BytesMut::with_capacity(total);
            for c in chunks {
                buf.extend_from_slice(&c);
            }
            buf.freeze()
        }
    })
}

/// Reads and discards the rest of a body we will not use, within bounds. True if it was
/// read to the end (the connection can then be kept).
async fn drain(mut body: Incoming, declared: Option<u64>) -> bool {
    if declared.is_some_and(|n| n > DRAIN_MAX) {
        return false;
    }
    let read = async {
        let mut seen = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if let Some(d) = f.data_ref() {
                        seen += d.len() as u64;
                        if seen > DRAIN_MAX {
                            return false;
                        }
                    }
                }
                Err(_) => return false,
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, read)
        .await
        .unwrap_or(false)
}

fn too_large(drained: bool) -> Resp {
    let mut r = json_error(StatusCode::BAD_REQUEST, TOO_LARGE);
    if !drained {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// Whether the token may run `cmd` with `args` (a server-sent-events route): what the
/// read-only token allows, what a user token's user may run, as the NOPERM text Redis
/// would answer.
fn may_stream(access: &auth::Access, cmd: &str, args: &[Vec<u8>]) -> Result<(), String> {
    let Some(spec) = engine::lookup(cmd.as_bytes()) else {
        return Ok(());
    };
    auth::token_allows(spec, access).map_err(|e| e.0)?;
    let auth::Access::User(u) = access else {
        return Ok(());
    };
    let mut argv = vec![cmd.as_bytes().to_vec()];
    argv.extend_from_slice(args);
    u.check(spec, &argv).map_err(|e| e.0)
}

/// What the request asks for, once its path is read.
enum Route {
    Command(request::Argv),
    Pipeline,
    MultiExec,
    PubSub,
}

async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    local: SocketAddr,
    req: Request<Incoming>,
) -> Resp {
    // The web console (`console/`): its pages and API, or one of the event-stream routes
    // below reached with the console session's token.
    if crate::console::owns(req.uri().path()) {
        return match crate::console::handle(&shared, peer, local, req).await {
            crate::console::Routed::Done(r) => r,
            crate::console::Routed::Rest(req) => {
                crate::console::harden(serve(shared, peer, local, req).await)
            }
        };
    }
    serve(shared, peer, local, req).await
}

async fn serve(
    shared: Arc<Shared>,
    peer: SocketAddr,
    local: SocketAddr,
    req: Request<Incoming>,
) -> Resp {
    let (parts, body) = req.into_parts();
    let method = parts.method;
    if method == Method::OPTIONS
        && parts
            .headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(&parts.headers);
    }
    let manage = manage::is_manage(parts.uri.path());
    if !matches!(
        method,
        Method::HEAD | Method::GET | Method::POST | Method::PUT
    ) && !(manage && matches!(method, Method::DELETE | Method::PATCH))
    {
        let mut r = json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("ERR method {method} is not allowed: use {ALLOWED_METHODS}"),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
        return r;
    }
    let declared = content_length(&parts.headers);
    let query = request::parse_query(parts.uri.query());

    // The token: the Authorization header first, else ?_token=.
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| auth::bearer(v.as_bytes()))
        .map(<[u8]>::to_vec)
        .or(query.token);
    let Some(access) = auth::check(&shared, token.as_deref()) else {
        let drained = drain(body, declared).await;
        let mut r = json_error(StatusCode::UNAUTHORIZED, auth::UNAUTHORIZED);
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        if !drained {
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        return r;
    };

    let body = match read_body(body, declared).await {
        Ok(b) => b,
        Err(BodyError::TooLarge { drained }) => return too_large(drained),
        Err(BodyError::Broken) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "ERR could not read the request body",
            )
        }
    };
    if method == Method::GET && parts.uri.path() == "/metrics" {
        // Any valid token (the read-only one too) may scrape.
        return respond(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            crate::metrics::render(&shared).into_bytes(),
        );
    }
    if manage {
        if !matches!(access, auth::Access::Full) {
            return json_error(
                StatusCode::FORBIDDEN,
                "ERR the management API needs the standard (full access) token",
            );
        }
        return manage::handle(&shared, &method, parts.uri.path(), &body).await;
    }
    let fmt = match Format::from_headers(&parts.headers) {
        Ok(f) => f,
        Err(msg) => return json_error(StatusCode::BAD_REQUEST, &msg),
    };

    let mut path = request::path_args(parts.uri.path());
    let route = match path.first().map(|s| s.to_ascii_lowercase()) {
        Some(first) if path.len() == 1 && first == b"pipeline" => Route::Pipeline,
        Some(first) if path.len() == 1 && first == b"multi-exec" => Route::MultiExec,
        Some(first) if first == b"subscribe" && path.len() > 1 => {
            if let Err(e) = may_stream(&access, "subscribe", &path[1..]) {
                return json_error(StatusCode::BAD_REQUEST, &e);
            }
            return sse::start(&shared, sse::What::Subscribe(path[1..].to_vec()));
        }
        Some(first) if first == b"psubscribe" && path.len() > 1 => {
            if let Err(e) = may_stream(&access, "psubscribe", &path[1..]) {
                return json_error(StatusCode::BAD_REQUEST, &e);
            }
            return sse::start(&shared, sse::What::PSubscribe(path[1..].to_vec()));
        }
        Some(first) if first == b"monitor" && path.len() == 1 => {
            if let Err(e) = may_stream(&access, "monitor", &[]) {
                return json_error(StatusCode::BAD_REQUEST, &e);
            }
            return sse::start(&shared, sse::What::Monitor);
        }
        Some(first) if matches!(&first[..], b"subscribe" | b"psubscribe" | b"monitor") => {
            Route::PubSub
        }
        Some(_) => {
            if !body.is_empty() {
                path.push(body.to_vec());
            }
            path.extend(query.args);
            Route::Command(path)
        }
        None => match request::json_command(&body) {
            Ok(argv) => Route::Command(argv),
            Err(msg) => return json_error(StatusCode::BAD_REQUEST, &msg),
        },
    };
    let cmds = match route {
        Route::PubSub => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "ERR wrong number of arguments: use /subscribe/{channel}, /psubscribe/{pattern} or /monitor",
            )
        }
        Route::Command(ref argv) if argv[0].is_empty() => {
            return json_error(StatusCode::BAD_REQUEST, "ERR empty command")
        }
        Route::Command(_) => Vec::new(),
        Route::Pipeline | Route::MultiExec => match request::json_commands(&body) {
            Ok(c) => c,
            Err(msg) => return json_error(StatusCode::BAD_REQUEST, &msg),
        },
    };

    // Read your writes: nothing runs before this node has applied the client's token.
    let mut their_token = 0u64;
    if let Some(v) = parts.headers.get(SYNC_TOKEN) {
        let v = v.as_bytes().trim_ascii();
        if !v.is_empty() {
            let Some(token) = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            else {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "ERR invalid {SYNC_TOKEN} '{}': expected the value a previous response carried",
                        String::from_utf8_lossy(v)
                    ),
                );
            };
            // The same wait as a RESP read's (`dispatch::await_consistency`).
            if let Err(e) = crate::dispatch::wait_applied(&shared, token).await {
                return json_error(StatusCode::BAD_REQUEST, &e.to_string());
            }
            their_token = token;
        }
    }

    let mut sess = Session::for_rest(shared.clone(), peer, local);
    if let auth::Access::User(u) = &access {
        let name = u.name_lossy();
        sess.user = Some(u.clone());
        if let Ok(mut i) = sess.info.lock() {
            i.user = name;
        }
    }
    // `Meridian-Consistency: strong`: reads wait for the leader's read index
    // (linearizable), like CLIENT CONSISTENCY strong on RESP.
    if let Some(v) = parts.headers.get(CONSISTENCY) {
        if v.as_bytes().eq_ignore_ascii_case(b"strong") {
            sess.strong = true;
        } else if !v.as_bytes().eq_ignore_ascii_case(b"eventual") {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("ERR {CONSISTENCY} must be strong or eventual"),
            );
        }
    }
    // Whether the request may have written (its token must then be a new one).
    let writes = match &route {
        Route::Command(argv) => is_write(argv),
        _ => cmds.iter().any(|c| is_write(c)),
    };
    let (status, fmt, out) = match route {
        Route::Command(argv) => {
            let mut b = Body::single(fmt);
            exec::run(&shared, &mut sess, &access, vec![argv], &mut b).await;
            let status = if b.errors > 0 {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (status, fmt, b.finish())
        }
        Route::Pipeline => {
            let mut b = Body::list(fmt, cmds.len());
            exec::run(&shared, &mut sess, &access, cmds, &mut b).await;
            (StatusCode::OK, fmt, b.finish())
        }
        Route::MultiExec => {
            // Always JSON, as Upstash documents for /multi-exec.
            let fmt = Format {
                resp2: false,
                ..fmt
            };
            match exec::multi_exec(&shared, &mut sess, &access, cmds).await {
                Ok(replies) => {
                    let mut b = Body::list(fmt, replies.len());
                    for r in &replies {
                        b.push(r);
                    }
                    (StatusCode::OK, fmt, b.finish())
                }
                Err(msg) => (StatusCode::BAD_REQUEST, fmt, reply::error_body(&msg)),
            }
        }
        // Answered before a session exists; kept total so no request can panic here.
        Route::PubSub => (
            StatusCode::BAD_REQUEST,
            fmt,
            reply::error_body("ERR use /subscribe/{channel}, /psubscribe/{pattern} or /monitor"),
        ),
    };
    let mut r = respond(status, fmt.content_type(), out);
    let index = sess
        .last_index
        .max(shared.node.applied_index())
        .max(crate::dispatch::sync_token_index(their_token));
    let wrote = writes && sess.last_index > 0;
    let token = issue_sync_token(&LAST_SYNC_TOKEN, index, their_token, wrote);
    r.headers_mut().insert(SYNC_TOKEN, HeaderValue::from(token));
    r
}

fn is_write(argv: &[Vec<u8>]) -> bool {
    argv.first()
        .and_then(|name| engine::lookup(name))
        .is_some_and(|spec| spec.is_write())
}

/// The highest sync token this node has handed out.
static LAST_SYNC_TOKEN: AtomicU64 = AtomicU64::new(0);

/// The `upstash-sync-token` of a response that covers log `index` (the request's own
/// writes, what this node had applied, and the token the client sent, `theirs`):
/// `MARK | index << SHIFT | n` (`dispatch::SYNC_TOKEN_MARK`), which readers on any node
/// wait for by its index. Every token this node issues is at least the previous one
/// and at least the client's; a response that wrote gets one greater than both, so the
/// writes one node acknowledges get distinct, increasing tokens even when they share a
/// log entry (group commit). `n` only grows within an index; past its 16 bits (65,535
/// writes answered for one index, more than an entry holds) tokens stop growing rather
/// than name an index that may not exist yet.
fn issue_sync_token(last: &AtomicU64, index: u64, theirs: u64, wrote: bool) -> u64 {
    use crate::dispatch::{sync_token_index, SYNC_TOKEN_MARK, SYNC_TOKEN_SHIFT};
    let base = SYNC_TOKEN_MARK | (index << SYNC_TOKEN_SHIFT);
    let theirs = if theirs & SYNC_TOKEN_MARK != 0 {
        theirs
    } else {
        0
    };
    let mut issued = 0;
    let _ = last.fetch_update(Ordering::AcqRel, Ordering::Acquire, |prev| {
        let floor = prev.max(theirs);
        let mut t = if wrote { floor + 1 } else { floor }.max(base);
        // The token's index must be one that was committed: never carry into the next.
        let ceiling = SYNC_TOKEN_MARK
            | ((index.max(sync_token_index(floor)) << SYNC_TOKEN_SHIFT)
                + ((1 << SYNC_TOKEN_SHIFT) - 1));
        t = t.min(ceiling);
        issued = t;
        Some(prev.max(t))
    });
    issued
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{sync_token_index, SYNC_TOKEN_MARK};

    #[test]
    fn sync_tokens() {
        let last = AtomicU64::new(0);
        // A read before any write: the applied index, no sequence.
        let r0 = issue_sync_token(&last, 5, 0, false);
        assert_eq!(r0, SYNC_TOKEN_MARK | 5 << 16);
        assert_eq!(sync_token_index(r0), 5);
        // Three writes answered for one log entry: distinct, increasing, all index 7.
        let w: Vec<u64> = (0..3)
            .map(|_| issue_sync_token(&last, 7, 0, true))
            .collect();
        assert!(w[0] < w[1] && w[1] < w[2], "{w:?}");
        assert!(w.iter().all(|t| sync_token_index(*t) == 7), "{w:?}");
        // A read after them is not below them.
        let r1 = issue_sync_token(&last, 7, 0, false);
        assert!(r1 >= w[2]);
        // A late write of an older entry still gets a new, greater token.
        let late = issue_sync_token(&last, 6, 0, true);
        assert!(late > r1 && sync_token_index(late) == 7);
        // The next entry starts its own range.
        let w8 = issue_sync_token(&last, 8, 0, true);
        assert_eq!(w8, SYNC_TOKEN_MARK | 8 << 16);
        // A token from another node (higher) is the floor; a plain index is an index.
        let other = SYNC_TOKEN_MARK | 9 << 16 | 40;
        let t = issue_sync_token(&last, 9, other, true);
        assert_eq!(t, other + 1);
        let t2 = issue_sync_token(&last, 12, 12, false);
        assert_eq!(t2, SYNC_TOKEN_MARK | 12 << 16);
        // Plain indexes decode as themselves.
        assert_eq!(sync_token_index(1016), 1016);
        // The sequence never carries into an index nobody asked for.
        let last = AtomicU64::new(SYNC_TOKEN_MARK | 20 << 16 | 0xFFFF);
        let t = issue_sync_token(&last, 20, 0, true);
        assert_eq!(sync_token_index(t), 20);
    }
}
