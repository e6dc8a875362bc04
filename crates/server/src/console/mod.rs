//! The web console (`/console` on the REST port): a single-page app embedded in the
//! binary, and the small JSON API it calls under `/console/api/`.
//!
//! - Assets (`assets.rs`) are compiled in with `include_str!`; nothing is fetched at build
//!   or run time.
//! - Log in (`session.rs`) with the default password, an ACL user and password, or a REST
//!   token. The server keeps the session (the REST token it resolved, a CSRF token) and
//!   the browser holds only a random session id in an HttpOnly, SameSite=Strict cookie.
//!   Every state-changing call (any POST but the login) must carry the session's CSRF
//!   token in `X-CSRF-Token`; a cross-origin `Origin` is refused.
//! - Commands (`run.rs`) go through the REST front end's admission (`rest::auth::admit`:
//!   the read-only token's rules, what HTTP cannot carry) and the shared dispatcher as the
//!   logged-in user, so the console obeys the same ACL as any client. MONITOR and
//!   (P)SUBSCRIBE are the REST protocol's own server-sent-event routes, reached through
//!   `/console/api/monitor` etc. with the session's token put in place of the cookie.
//! - Charts read a ring of one sample per second for the last hour (`ring.rs`), taken by
//!   a task from the same sources as `/metrics`.
//! - The cluster view and its actions (`cluster.rs`) call `Node::status` and
//!   `Node::admin`, as `meridian cluster` does; backups call the BACKUP command's code.
//!
//! Every response carries a Content-Security-Policy (`default-src 'self'`, no inline
//! script), `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff` and no CORS
//! headers.

mod assets;
mod cluster;
pub mod ring;
mod run;
mod session;

use crate::shared::Shared;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

pub use ring::start;

/// What the console made of a request.
pub enum Routed {
    /// Answered here.
    Done(crate::rest::Resp),
    /// A REST route (the event streams), rewritten with the session's token: the REST
    /// front end answers it; pass the answer through [`harden`].
    Rest(Request<Incoming>),
}

/// The largest request body the console API reads (commands may carry values).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Whether `path` belongs to the console.
pub fn owns(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's security headers, on everything it answers; CORS headers removed
/// (the console is same-origin only).
pub fn harden(mut r: crate::rest::Resp) -> crate::rest::Resp {
    let h = r.headers_mut();
    h.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    h.remove(header::ACCESS_CONTROL_EXPOSE_HEADERS);
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

pub(crate) fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> crate::rest::Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    harden(r)
}

pub(crate) fn json_reply(status: StatusCode, v: &Value) -> crate::rest::Resp {
    respond(status, "application/json", v.to_string().into_bytes())
}

pub(crate) fn json_error(status: StatusCode, msg: &str) -> crate::rest::Resp {
    json_reply(status, &json!({ "error": msg }))
}

/// Reads a request body of at most `MAX_BODY` bytes.
async fn read_body(body: Incoming) -> Result<Bytes, crate::rest::Resp> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            let mut r = json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "ERR max request size exceeded",
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(r)
        }
        Err(_) => Err(json_error(
            StatusCode::BAD_REQUEST,
            "ERR could not read the request body",
        )),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, crate::rest::Resp> {
    serde_json::from_slice(body).map_err(|e| {
        json_error(
            StatusCode::BAD_REQUEST,
            &format!("ERR the request body is not JSON: {e}"),
        )
    })
}

/// A request from another origin (a page elsewhere posting to the console) is refused
/// whatever it carries: `Origin`, when the browser sends one, must name this host.
fn same_origin(h: &HeaderMap) -> bool {
    let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = h.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    rest.is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// Answers a `/console...` request.
pub async fn handle(
    shared: &Arc<Shared>,
    peer: SocketAddr,
    local: SocketAddr,
    req: Request<Incoming>,
) -> Routed {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let Some(api) = path.strip_prefix("/console/api/") else {
        // The app's files: GET and HEAD only.
        if !matches!(method, Method::GET | Method::HEAD) {
            return Routed::Done(json_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "ERR the console's pages are read with GET",
            ));
        }
        if path == "/console" {
            let mut r = respond(StatusCode::MOVED_PERMANENTLY, "text/plain", Vec::new());
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/console/"));
            return Routed::Done(r);
        }
        return Routed::Done(assets::serve(&path));
    };
    let api = api.to_string();
    let headers = req.headers().clone();
    if method != Method::GET && method != Method::POST {
        return refuse(
            req,
            json_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "ERR the console API takes GET and POST",
            ),
        )
        .await;
    }
    if !same_origin(&headers) {
        return refuse(
            req,
            json_error(
                StatusCode::FORBIDDEN,
                "ERR cross-origin requests to the console are refused",
            ),
        )
        .await;
    }
    if api == "hello" {
        // Before logging in: whether a password is needed (the login page says so).
        return Routed::Done(json_reply(
            StatusCode::OK,
            &json!({ "auth": shared.auth_required() }),
        ));
    }
    if api == "login" {
        if method != Method::POST {
            return refuse(
                req,
                json_error(StatusCode::METHOD_NOT_ALLOWED, "ERR log in with POST"),
            )
            .await;
        }
        let body = match read_body(req.into_body()).await {
            Ok(b) => b,
            Err(r) => return Routed::Done(r),
        };
        return Routed::Done(session::login(shared, &headers, &body).await);
    }
    // Everything else needs a session.
    let Some((sid, sess, access)) = session::current(shared, &headers) else {
        let mut r = json_error(
            StatusCode::UNAUTHORIZED,
            "ERR not logged in (or the session expired, or its credentials were revoked)",
        );
        r.headers_mut()
            .insert(header::SET_COOKIE, session::clear_cookie(shared));
        return refuse(req, r).await;
    };
    if method == Method::POST && !session::csrf_ok(&sess, &headers) {
        return refuse(
            req,
            json_error(
                StatusCode::FORBIDDEN,
                "ERR missing or wrong X-CSRF-Token: reload the console",
            ),
        )
        .await;
    }
    let segs: Vec<&str> = api.split('/').collect();
    let r = match (&method, &segs[..]) {
        (&Method::GET, ["session"]) => {
            json_reply(StatusCode::OK, &session::describe(shared, &sess, &access))
        }
        (&Method::POST, ["logout"]) => session::logout(shared, &sid),
        (&Method::POST, ["run"]) => {
            let body = match read_body(req.into_body()).await {
                Ok(b) => b,
                Err(r) => return Routed::Done(r),
            };
            match parse_json(&body) {
                Ok(v) => run::handle(shared, peer, local, &sid, &sess, &access, &v).await,
                Err(r) => r,
            }
        }
        (&Method::POST, ["monitor"])
        | (&Method::POST, ["subscribe", _])
        | (&Method::POST, ["psubscribe", _]) => {
            return match session::to_rest(req, &sess, &api) {
                Ok(req) => Routed::Rest(req),
                Err(r) => Routed::Done(r),
            };
        }
        (&Method::GET, ["metrics"]) => ring::api(shared, req.uri().query()),
        (&Method::GET, ["cluster"]) => cluster::status(shared).await,
        (&Method::GET, ["slowlog"]) => cluster::slowlog(shared, &access, false),
        (&Method::POST, ["slowlog", "reset"]) => cluster::slowlog(shared, &access, true),
        (&Method::POST, ["cluster", action]) => {
            let action = action.to_string();
            let body = match read_body(req.into_body()).await {
                Ok(b) => b,
                Err(r) => return Routed::Done(r),
            };
            match parse_json(&body) {
                Ok(v) => cluster::action(shared, &access, &action, &v).await,
                Err(r) => r,
            }
        }
        (&Method::GET, ["backups"]) => {
            cluster::backups(shared, &access, "list", &Value::Null).await
        }
        (&Method::POST, ["backups", action]) => {
            let action = action.to_string();
            let body = match read_body(req.into_body()).await {
                Ok(b) => b,
                Err(r) => return Routed::Done(r),
            };
            match parse_json(&body) {
                Ok(v) => cluster::backups(shared, &access, &action, &v).await,
                Err(r) => r,
            }
        }
        _ => {
            let r = json_error(
                StatusCode::NOT_FOUND,
                &format!("ERR no console API {method} /console/api/{api}"),
            );
            return refuse(req, r).await;
        }
    };
    Routed::Done(r)
}

/// Reads and drops a refused request's body (bounded in size and time) before the
/// answer, so the keep-alive connection stays usable: hyper closes a connection whose
/// request body was left unread, and a client reusing it from its pool read EOF (seen
/// as a flaky "Unexpected EOF" in CI).
async fn refuse(req: Request<Incoming>, r: crate::rest::Resp) -> Routed {
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        read_body(req.into_body()),
    )
    .await;
    Routed::Done(r)
}
