//! REST tokens and what each may run.
//!
//! Two tokens per node, both derived from the default user's password, so resetting the
//! password revokes them (as Upstash documents) and nothing extra has to be stored:
//!
//! ```text
//! standard  = base64url_nopad(HMAC-SHA256(key, msg = "meridian rest token v1: standard"))
//! read-only = base64url_nopad(HMAC-SHA256(key, msg = "meridian rest token v1: read-only"))
//! ```
//!
//! `key` is the configured password while the default user has it, and a key derived
//! from the configured password (the cluster secret) and the current password hashes once
//! the password was changed through the log (`ACL SETUSER default`, reset-password): see
//! `acl_cmds::creds`. A token reveals nothing about the password (HMAC is one-way) and the
//! two tokens say nothing about each other. They are 43 URL-safe characters, so
//! `?_token=` needs no escaping.
//!
//! `ACL RESTTOKEN user pass` gives a third kind, carrying an ACL user's permissions. It
//! names its user and is bound to the password it was made with, again with nothing
//! stored:
//!
//! ```text
//! mac   = HMAC-SHA256(key (as above; "" with --no-auth),
//!                     msg = "meridian rest token v1: user\0" · u32 BE len(name) · name · sha256hex(user password))
//! token = base64url_nopad("U" · name · mac)
//! ```
//!
//! (`nopass` users use the word `nopass` in place of the hash.) A request with such a
//! token runs as the user, with its rules re-read from the node's state; the token stops
//! working when that password is removed or reset, when the user is deleted or disabled,
//! or when the default user's password changes. Every comparison is constant-time.

use crate::acl_cmds::AclUser;
use crate::password;
use crate::shared::Shared;
use base64::Engine as _;
use engine::{flags, Block, CmdError, CommandSpec, Exec};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const STANDARD_LABEL: &[u8] = b"meridian rest token v1: standard";
const READONLY_LABEL: &[u8] = b"meridian rest token v1: read-only";
const USER_LABEL: &[u8] = b"meridian rest token v1: user\0";
/// First byte of a user token (before base64).
const USER_TAG: u8 = b'U';
const MAC_LEN: usize = 32;
/// Stands in for the password hash in the token of a `nopass` user.
pub const NOPASS_MARK: &str = "nopass";

/// The error body of a 401, as Upstash words it.
pub const UNAUTHORIZED: &str = "WRONGPASS invalid or missing auth token";

/// What a request's token allows.
#[derive(Debug, Clone)]
pub enum Access {
    /// Every command (the standard token, or authentication off).
    Full,
    /// Read commands only, minus the ones that walk the whole keyspace.
    ReadOnly,
    /// What an ACL user may run (a token from `ACL RESTTOKEN`).
    User(AclUser),
}

/// The node's two REST tokens for `password`.
pub struct Tokens {
    pub standard: String,
    pub read_only: String,
}

impl Tokens {
    /// The tokens of a configured `password` (what a client holding it can compute).
    pub fn derive(password: &str) -> Tokens {
        Tokens::from_key(password.as_bytes())
    }

    /// The tokens made with `key` (see `acl_cmds::creds`).
    pub fn from_key(key: &[u8]) -> Tokens {
        Tokens {
            standard: derive(key, STANDARD_LABEL),
            read_only: derive(key, READONLY_LABEL),
        }
    }
}

fn derive(key: &[u8], label: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(label);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn user_mac(secret: Option<&[u8]>, name: &[u8], hash: &str) -> Hmac<Sha256> {
    let key = secret.unwrap_or(b"");
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(USER_LABEL);
    mac.update(&(name.len() as u32).to_be_bytes());
    mac.update(name);
    mac.update(hash.as_bytes());
    mac
}

/// The REST token of ACL user `name` for the password whose hash is `hash` (or
/// [`NOPASS_MARK`]); `secret` is the key of the default user's current credentials
/// (`acl_cmds::creds::Creds::key`), None with --no-auth.
pub fn user_token(secret: Option<&[u8]>, name: &[u8], hash: &str) -> String {
    let mut raw = Vec::with_capacity(1 + name.len() + MAC_LEN);
    raw.push(USER_TAG);
    raw.extend_from_slice(name);
    raw.extend_from_slice(&user_mac(secret, name, hash).finalize().into_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The user a user token belongs to, if it is valid now: the user exists, is enabled,
/// and the token was made with one of its current passwords.
fn check_user_token(shared: &Shared, secret: Option<&[u8]>, token: &[u8]) -> Option<AclUser> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    if raw.len() < 1 + 1 + MAC_LEN || raw[0] != USER_TAG {
        return None;
    }
    let (name, mac) = raw[1..].split_at(raw.len() - 1 - MAC_LEN);
    let user = crate::acl_cmds::load(shared, name).ok().flatten()?;
    if !user.user.enabled {
        return None;
    }
    let nopass = [NOPASS_MARK.to_string()];
    let hashes: &[String] = if user.user.nopass {
        &nopass
    } else {
        &user.user.passwords
    };
    // Every hash is tried, each comparison constant-time (`verify_slice`).
    let mut ok = false;
    for h in hashes {
        ok |= user_mac(secret, name, h).verify_slice(mac).is_ok();
    }
    ok.then_some(user)
}

/// Checks the request's token (`Authorization: Bearer` first, else `?_token=`) against the
/// tokens of the default user's current password, then as an ACL user's token. `None`
/// means 401.
pub fn check(shared: &Shared, token: Option<&[u8]>) -> Option<Access> {
    let Some(creds) = crate::acl_cmds::creds::current(shared) else {
        // Authentication off (--no-auth): any request, with or without a token; a valid
        // user token still runs as its user.
        return Some(
            token
                .and_then(|t| check_user_token(shared, None, t))
                .map_or(Access::Full, Access::User),
        );
    };
    let token = token?;
    // Both comparisons always run, each in constant time. Without a password (`ACL
    // SETUSER default resetpass`) there is no standard or read-only token.
    let (full, ro) = match &creds.tokens {
        Some(t) => (
            password::matches(&t.standard, token),
            password::matches(&t.read_only, token),
        ),
        None => (false, false),
    };
    if full {
        Some(Access::Full)
    } else if ro {
        Some(Access::ReadOnly)
    } else {
        check_user_token(shared, Some(&creds.key), token).map(Access::User)
    }
}

/// Extracts the token of an `Authorization` header value (`Bearer <token>`).
pub fn bearer(value: &[u8]) -> Option<&[u8]> {
    let v = value.trim_ascii();
    if v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") {
        Some(v[7..].trim_ascii())
    } else {
        None
    }
}

pub const PUBSUB_UNSUPPORTED: &str =
    "ERR subscribe over REST is served as server-sent events: use /subscribe/{channel}, /psubscribe/{pattern} or /monitor";

/// The REST front end's own admission rules for a command the table knows: what the
/// token allows and what HTTP cannot carry (the table's Meridian-only flags
/// `REST_EVENTS`, `NOT_OVER_REST`, `READ_TOKEN_OK`, `READ_TOKEN_DENY`). The command's
/// behaviour is not decided here.
pub fn admit(spec: &CommandSpec, access: &Access) -> Result<(), CmdError> {
    if spec.flags & flags::REST_EVENTS != 0 {
        return Err(CmdError::new(PUBSUB_UNSUPPORTED));
    }
    // XREAD/XREADGROUP run without waiting over REST (BLOCK is ignored, as Upstash).
    if spec.flags & flags::BLOCKING != 0 && !matches!(spec.block, Block::BlockOption { .. }) {
        return Err(CmdError::new(format!(
            "ERR blocking command '{}' is not supported over REST",
            spec.name
        )));
    }
    if spec.flags & flags::NOT_OVER_REST != 0 {
        return Err(CmdError::new(format!(
            "ERR '{}' is not supported over REST",
            spec.name
        )));
    }
    token_allows(spec, access)
}

/// Whether the token may run `spec` at all (also checked for the server-sent-events
/// routes): a read-only token runs reads, minus the ones that walk the keyspace, plus
/// PING, ECHO and the subscriptions.
pub fn token_allows(spec: &CommandSpec, access: &Access) -> Result<(), CmdError> {
    if matches!(access, Access::ReadOnly) && !read_only_allows(spec) {
        return Err(CmdError::new(format!(
            "NOPERM this token is read-only and has no permissions to run the '{}' command",
            spec.name
        )));
    }
    Ok(())
}

fn read_only_allows(spec: &CommandSpec) -> bool {
    if spec.flags & flags::READ_TOKEN_OK != 0 {
        return true;
    }
    spec.flags & flags::READONLY != 0
        && spec.flags & (flags::WRITE | flags::ADMIN | flags::LOGGED | flags::READ_TOKEN_DENY) == 0
        && matches!(spec.exec, Exec::Engine(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_distinct_and_url_safe() {
        let a = Tokens::derive("pw");
        assert_eq!(a.standard, Tokens::derive("pw").standard);
        assert_ne!(a.standard, a.read_only);
        assert_ne!(a.standard, Tokens::derive("pw2").standard);
        assert_eq!(a.standard.len(), 43);
        assert!(a
            .standard
            .bytes()
            .chain(a.read_only.bytes())
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn user_tokens_name_their_user_and_bind_secret_name_and_password() {
        let t = user_token(Some(&b"pw"[..]), b"alice", "h1");
        assert_eq!(t, user_token(Some(&b"pw"[..]), b"alice", "h1"));
        assert_ne!(t, user_token(Some(&b"pw"[..]), b"alice", "h2"));
        assert_ne!(t, user_token(Some(&b"pw2"[..]), b"alice", "h1"));
        assert_ne!(t, user_token(None, b"alice", "h1"));
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&t)
            .unwrap();
        assert_eq!(raw[0], USER_TAG);
        assert_eq!(&raw[1..raw.len() - MAC_LEN], b"alice");
        // The name is length-prefixed inside the MAC: ("ab", "c") is not ("a", "bc").
        let mac = |name: &[u8], hash: &str| {
            user_mac(Some(&b"pw"[..]), name, hash)
                .finalize()
                .into_bytes()
        };
        assert_ne!(mac(b"ab", "c"), mac(b"a", "bc"));
        // A standard token never parses as a user token.
        let std_raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(Tokens::derive("pw").standard)
            .unwrap();
        assert!(std_raw.len() < 2 + MAC_LEN);
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
    }

    #[test]
    fn read_only_policy_follows_the_table() {
        let get = engine::lookup(b"get").unwrap();
        let set = engine::lookup(b"set").unwrap();
        let keys = engine::lookup(b"keys").unwrap();
        let ping = engine::lookup(b"ping").unwrap();
        assert!(admit(get, &Access::ReadOnly).is_ok());
        assert!(admit(ping, &Access::ReadOnly).is_ok());
        assert!(admit(set, &Access::ReadOnly).is_err());
        assert!(admit(keys, &Access::ReadOnly).is_err());
        assert!(admit(set, &Access::Full).is_ok());
        assert!(admit(keys, &Access::Full).is_ok());
        assert!(admit(engine::lookup(b"select").unwrap(), &Access::Full).is_err());
        let spec = |n: &str| engine::lookup(n.as_bytes()).unwrap();
        for ok in ["echo", "get", "xread"] {
            assert!(admit(spec(ok), &Access::ReadOnly).is_ok(), "{ok}");
        }
        for denied in ["scan", "randomkey", "publish", "info", "xreadgroup"] {
            assert!(admit(spec(denied), &Access::ReadOnly).is_err(), "{denied}");
        }
        // Blocking commands only run over REST when blocking is an option (XREAD's BLOCK).
        assert!(admit(spec("xreadgroup"), &Access::Full).is_ok());
        assert!(admit(spec("blpop"), &Access::Full).is_err());
        // Subscriptions and MONITOR are event streams: never a command; the read-only
        // token may subscribe but not monitor.
        for events in ["subscribe", "ssubscribe", "punsubscribe", "monitor"] {
            assert_eq!(
                admit(spec(events), &Access::Full).unwrap_err().0,
                PUBSUB_UNSUPPORTED
            );
        }
        assert!(token_allows(spec("subscribe"), &Access::ReadOnly).is_ok());
        assert!(token_allows(spec("psubscribe"), &Access::ReadOnly).is_ok());
        assert!(token_allows(spec("monitor"), &Access::ReadOnly).is_err());
        for conn in [
            "auth", "hello", "client", "multi", "exec", "unwatch", "shutdown",
        ] {
            assert!(admit(spec(conn), &Access::Full).is_err(), "{conn}");
        }
        assert!(admit(spec("pubsub"), &Access::Full).is_ok());
    }
}
