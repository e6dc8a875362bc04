//! The `default` user's current credentials: its password hashes and the REST tokens
//! that go with them.
//!
//! Until `ACL SETUSER default` (or the reset-password route) changes them, they are the
//! node's configured password (`--password`, or the generated `DATA_DIR/password`). Once
//! changed, the replicated record `acl:user:default` holds them (hashes only, like any
//! ACL user) and overrides the configuration on every node: the configured password then
//! only seeds the cluster secret (see `consensus::network::cluster_token`) and the very
//! first password.
//!
//! REST tokens are derived from a key that changes with the password list, so a rotation
//! revokes every standard, read-only and user token at once:
//!
//! ```text
//! configured password only: key = the password itself (the tokens a node always had)
//! any other password list:   key = HMAC-SHA256(key = configured password,
//!                                    msg = "meridian rest key v1\0" · (hash · "\0")*)
//! ```
//!
//! The configured password is the cluster's shared secret (every member must have it),
//! so every node derives the same tokens, and the password hashes kept in the state are
//! not enough to forge one. The view is cached per node and re-read (one point read)
//! only when the node has applied something since.

use crate::rest::Tokens;
use crate::shared::Shared;
use engine::acl::{self, User};
use engine::Store;
use hmac::{Hmac, Mac};
use keys::Cf;
use sha2::Sha256;
use std::sync::{Arc, RwLock};

const KEY_LABEL: &[u8] = b"meridian rest key v1\0";

/// The default user's credentials as this node sees them.
pub struct Creds {
    /// SHA-256 hex of each password. Empty: nobody can log in as `default`.
    pub hashes: Vec<String>,
    /// The key REST tokens (standard, read-only and user tokens) are made with.
    pub key: Vec<u8>,
    /// The standard and read-only tokens; `None` while `default` has no password.
    pub tokens: Option<Tokens>,
    raw: Option<Vec<u8>>,
}

impl Creds {
    fn configured(password: &str) -> Creds {
        Creds {
            hashes: vec![acl::hash_password(password.as_bytes())],
            key: password.as_bytes().to_vec(),
            tokens: Some(Tokens::from_key(password.as_bytes())),
            raw: None,
        }
    }

    fn replicated(secret: &str, raw: Vec<u8>) -> Creds {
        let hashes = match User::decode(b"default", &raw) {
            Ok(u) => u.passwords,
            // A record no rule parser accepts logs nobody in (never the old password).
            Err(_) => Vec::new(),
        };
        if hashes.len() == 1 && hashes[0] == acl::hash_password(secret.as_bytes()) {
            // Exactly the configured password again: the tokens it always had.
            let mut c = Creds::configured(secret);
            c.raw = Some(raw);
            return c;
        }
        let key = rest_key(secret, &hashes);
        Creds {
            tokens: (!hashes.is_empty()).then(|| Tokens::from_key(&key)),
            hashes,
            key,
            raw: Some(raw),
        }
    }

    /// The hash of `pass` if it is one of the passwords (each compared in constant time).
    pub fn matching(&self, pass: &[u8]) -> Option<String> {
        let given = acl::hash_password(pass);
        let mut ok = false;
        for h in &self.hashes {
            ok |= acl::ct_eq(h.as_bytes(), given.as_bytes());
        }
        ok.then_some(given)
    }

    /// Whether `hash` is still one of the passwords.
    pub fn has_hash(&self, hash: &str) -> bool {
        self.hashes.iter().any(|h| h == hash)
    }

    /// `default` as ACL GETUSER / LIST show it.
    pub fn user(&self) -> User {
        let mut u = User::default_template();
        u.passwords = self.hashes.clone();
        u
    }
}

/// The token key of a replicated password list.
fn rest_key(secret: &str, hashes: &[String]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(KEY_LABEL);
    for h in hashes {
        mac.update(h.as_bytes());
        mac.update(b"\0");
    }
    mac.finalize().into_bytes().to_vec()
}

/// The per-node cache of [`Creds`], keyed by the applied index it was read at.
#[derive(Default)]
pub struct Cache {
    cur: RwLock<Option<(u64, Arc<Creds>)>>,
}

/// The default user's credentials now; `None` when authentication is off (`--no-auth`).
pub fn current(shared: &Shared) -> Option<Arc<Creds>> {
    let secret = shared.password.read().ok()?.clone()?;
    // The ACL epoch, read before the record: unchanged means the record is unchanged.
    let now = shared.reads.storage().acl_epoch();
    if let Ok(c) = shared.creds.cur.read() {
        if let Some((seen, creds)) = c.as_ref() {
            if *seen == now {
                return Some(creds.clone());
            }
        }
    }
    // The index was read first: the record read now is at least that new.
    let raw = match shared
        .reads
        .storage()
        .get(Cf::Sm, &acl::user_key(b"default"))
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("cannot read the default user's record: {e}");
            // Keep the last view rather than fall back to the configured password.
            return shared
                .creds
                .cur
                .read()
                .ok()
                .and_then(|c| c.as_ref().map(|(_, c)| c.clone()))
                .or_else(|| Some(Arc::new(Creds::configured(&secret))));
        }
    };
    let mut c = shared.creds.cur.write().ok()?;
    if let Some((seen, creds)) = c.as_mut() {
        if creds.raw == raw {
            *seen = (*seen).max(now);
            return Some(creds.clone());
        }
        if *seen > now {
            // Someone stored a newer view meanwhile.
            return Some(creds.clone());
        }
    }
    let creds = Arc::new(match raw {
        Some(raw) => Creds::replicated(&secret, raw),
        None => Creds::configured(&secret),
    });
    *c = Some((now, creds.clone()));
    Some(creds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_tokens_are_the_ones_a_node_always_had() {
        let c = Creds::configured("pw");
        let t = c.tokens.as_ref().unwrap();
        assert_eq!(t.standard, Tokens::derive("pw").standard);
        assert!(c.matching(b"pw").is_some());
        assert!(c.matching(b"pw2").is_none());
    }

    #[test]
    fn replicated_tokens_change_with_the_passwords_and_the_secret() {
        let h = acl::hash_password(b"new");
        let rec = |hs: &[&str]| {
            let mut u = User::default_template();
            u.passwords = hs.iter().map(|s| s.to_string()).collect();
            u.describe()
        };
        let a = Creds::replicated("secret", rec(&[&h]));
        assert_eq!(a.hashes, vec![h.clone()]);
        assert!(a.matching(b"new").is_some());
        let ta = a.tokens.as_ref().unwrap();
        assert_ne!(ta.standard, Tokens::derive("secret").standard);
        assert_ne!(ta.standard, Tokens::derive("new").standard);
        let b = Creds::replicated("secret", rec(&[&acl::hash_password(b"newer")]));
        assert_ne!(b.tokens.as_ref().unwrap().standard, ta.standard);
        let c = Creds::replicated("other secret", rec(&[&h]));
        assert_ne!(c.tokens.as_ref().unwrap().standard, ta.standard);
        let d = Creds::replicated("secret", rec(&[&h]));
        assert_eq!(d.tokens.as_ref().unwrap().standard, ta.standard);
        // Back to the configured password alone: its usual tokens.
        let e = Creds::replicated("secret", rec(&[&acl::hash_password(b"secret")]));
        assert_eq!(
            e.tokens.as_ref().unwrap().standard,
            Tokens::derive("secret").standard
        );
        // No password: nobody logs in and no standard or read-only token exists.
        let none = Creds::replicated("secret", rec(&[]));
        assert!(none.tokens.is_none() && none.matching(b"").is_none());
    }
}
