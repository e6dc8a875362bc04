//! Console sessions: a server-side table of logged-in browsers.
//!
//! The cookie `meridian_console` holds only a random 256-bit session id (HttpOnly,
//! SameSite=Strict, Path=/console, Secure on HTTPS). The session keeps the REST token the
//! login resolved to (the standard token for the default password, the user's
//! `ACL RESTTOKEN` token, or the token given) and a CSRF token. Every request resolves the
//! token again (`rest::auth::check`), so rotating the password, deleting or disabling the
//! user logs the console out at its next call, exactly as it stops REST clients. The
//! token never reaches the browser after login; logging out deletes the session.

use super::{json_error, json_reply};
use crate::rest::auth::{self, Access};
use crate::shared::Shared;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const COOKIE: &str = "meridian_console";
/// A session unused this long is forgotten.
const IDLE: Duration = Duration::from_secs(8 * 3600);
/// And any session after this long.
const LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Sessions kept per node; the least recently used goes first past it.
const MAX_SESSIONS: usize = 10_000;
/// A failed login waits this long before answering (slows password guessing).
const FAIL_DELAY: Duration = Duration::from_millis(400);

#[derive(Clone)]
pub struct Sess {
    /// The REST token requests run with; None when authentication is off.
    pub token: Option<String>,
    /// Who logged in, for the page ("default", a user name, "token", "read-only token").
    pub who: String,
    pub csrf: String,
    created: Instant,
    last: Instant,
    /// The highest log index this session's writes reached: its later reads wait for it
    /// (read your writes, like a REST client's upstash-sync-token).
    pub last_index: u64,
}

fn table() -> &'static Mutex<HashMap<String, Sess>> {
    static T: OnceLock<Mutex<HashMap<String, Sess>>> = OnceLock::new();
    T.get_or_init(|| Mutex::new(HashMap::new()))
}

fn random_hex() -> String {
    let b: [u8; 32] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn cookie_value(h: &HeaderMap) -> Option<String> {
    for v in h.get_all(header::COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(';') {
            if let Some((k, v)) = part.trim().split_once('=') {
                if k == COOKIE && v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

fn secure(shared: &Shared) -> &'static str {
    if shared.cfg.tls_rest {
        "; Secure"
    } else {
        ""
    }
}

fn set_cookie(shared: &Shared, sid: &str) -> HeaderValue {
    let v = format!(
        "{COOKIE}={sid}; Path=/console; HttpOnly; SameSite=Strict{}",
        secure(shared)
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn clear_cookie(shared: &Shared) -> HeaderValue {
    let v = format!(
        "{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure(shared)
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The request's session, if its cookie names a live one whose credentials still work;
/// (session id, session, what its token allows now).
pub fn current(shared: &Shared, h: &HeaderMap) -> Option<(String, Sess, Access)> {
    let sid = cookie_value(h)?;
    let sess = {
        let mut t = table().lock().ok()?;
        let now = Instant::now();
        let s = t.get_mut(&sid)?;
        if now.duration_since(s.last) > IDLE || now.duration_since(s.created) > LIFETIME {
            t.remove(&sid);
            return None;
        }
        s.last = now;
        s.clone()
    };
    match auth::check(shared, sess.token.as_ref().map(|t| t.as_bytes())) {
        Some(access) => Some((sid, sess, access)),
        None => {
            // Revoked (password rotated, user deleted or disabled): the session ends.
            if let Ok(mut t) = table().lock() {
                t.remove(&sid);
            }
            None
        }
    }
}

/// Notes the log index a session's write reached.
pub fn note_index(sid: &str, index: u64) {
    if let Ok(mut t) = table().lock() {
        if let Some(s) = t.get_mut(sid) {
            s.last_index = s.last_index.max(index);
        }
    }
}

pub fn csrf_ok(sess: &Sess, h: &HeaderMap) -> bool {
    h.get("x-csrf-token")
        .is_some_and(|v| engine::acl::ct_eq(v.as_bytes(), sess.csrf.as_bytes()))
}

fn str_field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// What a session may do, for the page: `access` is "full", "read-only" or "user";
/// `can_write` false hides the edit actions (the server refuses them anyway);
/// `can_admin` shows the cluster actions and backups.
pub fn describe(shared: &Shared, sess: &Sess, access: &Access) -> Value {
    let (kind, can_write) = match access {
        Access::Full => ("full", true),
        Access::ReadOnly => ("read-only", false),
        Access::User(_) => ("user", true),
    };
    json!({
        "who": sess.who,
        "access": kind,
        "can_write": can_write,
        "can_admin": super::cluster::may_admin(access),
        "csrf": sess.csrf,
        "auth": shared.auth_required(),
        "node": shared.node.id(),
        "region": shared.node.region(),
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// POST /console/api/login `{"password": p}`, `{"username": u, "password": p}` or
/// `{"token": t}` (with authentication off, `{}`).
pub async fn login(shared: &Shared, h: &HeaderMap, body: &[u8]) -> crate::rest::Resp {
    // A JSON content type: a cross-site form cannot send one without a CORS preflight,
    // which the console never grants.
    let json_ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with("application/json"));
    if !json_ct {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "ERR log in with a JSON body (Content-Type: application/json)",
        );
    }
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return json_error(StatusCode::BAD_REQUEST, "ERR the request body is not JSON"),
    };
    let resolved = resolve(shared, &v);
    let Some((token, who)) = resolved else {
        tokio::time::sleep(FAIL_DELAY).await;
        tracing::info!("console login refused");
        return json_error(
            StatusCode::UNAUTHORIZED,
            "WRONGPASS invalid username-password pair or token",
        );
    };
    let Some(access) = auth::check(shared, token.as_ref().map(|t| t.as_bytes())) else {
        tokio::time::sleep(FAIL_DELAY).await;
        return json_error(StatusCode::UNAUTHORIZED, "WRONGPASS invalid token");
    };
    let now = Instant::now();
    let sess = Sess {
        token,
        who,
        csrf: random_hex(),
        created: now,
        last: now,
        last_index: 0,
    };
    let sid = random_hex();
    if let Ok(mut t) = table().lock() {
        t.retain(|_, s| {
            now.duration_since(s.last) <= IDLE && now.duration_since(s.created) <= LIFETIME
        });
        while t.len() >= MAX_SESSIONS {
            let Some(oldest) = t.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| k.clone()) else {
                break;
            };
            t.remove(&oldest);
        }
        t.insert(sid.clone(), sess.clone());
    }
    let mut r = json_reply(StatusCode::OK, &describe(shared, &sess, &access));
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(shared, &sid));
    r
}

/// The REST token a login's credentials stand for, and who that is; None if they are
/// wrong. `Some((None, _))`: authentication is off.
fn resolve(shared: &Shared, v: &Value) -> Option<(Option<String>, String)> {
    let creds = crate::acl_cmds::creds::current(shared);
    if let Some(token) = str_field(v, "token") {
        let who = match auth::check(shared, Some(token.as_bytes()))? {
            Access::Full => "token".to_string(),
            Access::ReadOnly => "read-only token".to_string(),
            Access::User(u) => u.name_lossy(),
        };
        return Some((Some(token.to_string()), who));
    }
    let user = str_field(v, "username").unwrap_or("default");
    let pass = v.get("password").and_then(Value::as_str);
    let Some(creds) = creds else {
        // Authentication off: anyone reaching the port runs as default, or as a named
        // user if the name and password match.
        if user == "default" {
            return Some((None, "default".into()));
        }
        let u = crate::acl_cmds::authenticate(shared, user.as_bytes(), pass?.as_bytes())?;
        let hash = user_hash(&u, pass?);
        return Some((
            Some(crate::rest::user_token(None, user.as_bytes(), &hash)),
            user.to_string(),
        ));
    };
    let pass = pass?;
    if user == "default" {
        creds.matching(pass.as_bytes())?;
        let t = creds.tokens.as_ref()?;
        return Some((Some(t.standard.clone()), "default".into()));
    }
    let u = crate::acl_cmds::authenticate(shared, user.as_bytes(), pass.as_bytes())?;
    let hash = user_hash(&u, pass);
    Some((
        Some(crate::rest::user_token(
            Some(&creds.key),
            user.as_bytes(),
            &hash,
        )),
        user.to_string(),
    ))
}

fn user_hash(u: &crate::acl_cmds::AclUser, pass: &str) -> String {
    if u.user.nopass {
        crate::rest::NOPASS_MARK.to_string()
    } else {
        engine::acl::hash_password(pass.as_bytes())
    }
}

/// POST /console/api/logout: the session is deleted here, the cookie cleared.
pub fn logout(shared: &Shared, sid: &str) -> crate::rest::Resp {
    if let Ok(mut t) = table().lock() {
        t.remove(sid);
    }
    let mut r = json_reply(StatusCode::OK, &json!({ "ok": true }));
    r.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(shared));
    r
}

/// Rewrites `/console/api/{monitor|subscribe/..|psubscribe/..}` into the REST route,
/// authorized by the session's token instead of the cookie.
pub fn to_rest(
    req: Request<Incoming>,
    sess: &Sess,
    api: &str,
) -> Result<Request<Incoming>, crate::rest::Resp> {
    let (mut parts, body) = req.into_parts();
    let uri = format!("/{api}");
    parts.uri = match uri.parse() {
        Ok(u) => u,
        Err(_) => {
            return Err(json_error(
                StatusCode::BAD_REQUEST,
                "ERR the channel or pattern is not a valid path segment",
            ))
        }
    };
    let h = &mut parts.headers;
    h.remove(header::AUTHORIZATION);
    h.remove(header::COOKIE);
    h.remove("x-csrf-token");
    if let Some(t) = &sess.token {
        let v = HeaderValue::from_str(&format!("Bearer {t}"))
            .map_err(|_| json_error(StatusCode::INTERNAL_SERVER_ERROR, "ERR bad session token"))?;
        h.insert(header::AUTHORIZATION, v);
    }
    Ok(Request::from_parts(parts, body))
}
