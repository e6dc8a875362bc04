//! `redis://[[user]:password@]host[:port][/db]` addresses.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisUrl {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The database number given in the path, if any.
    pub db: Option<u32>,
}

impl RedisUrl {
    pub fn parse(s: &str) -> Result<RedisUrl, String> {
        let bad = |why: &str| {
            format!("bad address {s:?}: {why} (want redis://[[user]:password@]host[:port][/db])")
        };
        let rest = if let Some(r) = s.strip_prefix("redis://") {
            r
        } else if s.starts_with("rediss://") {
            return Err(format!(
                "{s:?}: TLS (rediss://) is not supported by this tool; use a plain redis:// address (an SSH tunnel or stunnel can carry it)"
            ));
        } else {
            return Err(bad("it must start with redis://"));
        };
        if rest.contains(['?', '#']) {
            return Err(bad("query parameters are not supported"));
        }
        // Credentials end at the last '@' (a password may contain '@' if percent-encoded,
        // or even raw).
        let (auth, hostpart) = match rest.rfind('@') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        let (user, password) = match auth {
            None => (None, None),
            Some(a) => {
                let (u, p) = match a.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (a, None),
                };
                let dec = |x: &str| -> Result<String, String> {
                    percent_encoding::percent_decode_str(x)
                        .decode_utf8()
                        .map(|c| c.into_owned())
                        .map_err(|_| bad("credentials are not UTF-8 once percent-decoded"))
                };
                let user = if u.is_empty() { None } else { Some(dec(u)?) };
                let password = match p {
                    Some(p) => Some(dec(p)?),
                    // redis://secret@host: a lone word is the password, as redis-cli reads it.
                    None => user.clone(),
                };
                let user = if p.is_none() { None } else { user };
                (user, password)
            }
        };
        let (hostport, db) = match hostpart.split_once('/') {
            Some((hp, "")) => (hp, None),
            Some((hp, d)) => {
                let db: u32 = d
                    .parse()
                    .map_err(|_| bad("the path must be a database number"))?;
                (hp, Some(db))
            }
            None => (hostpart, None),
        };
        let (host, port) = if let Some(r) = hostport.strip_prefix('[') {
            // [ipv6]:port
            let (h, after) = r.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("junk after ']'")),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None => 6379,
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
        };
        Ok(RedisUrl {
            host,
            port,
            user,
            password,
            db,
        })
    }

    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Without the password: safe to print and to keep in a resume file.
impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redis://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        write!(f, "{}", self.addr())?;
        if let Some(db) = self.db {
            write!(f, "/{db}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let u = RedisUrl::parse("redis://127.0.0.1:6380/3").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.db),
            ("127.0.0.1", 6380, Some(3))
        );
        assert_eq!(u.password, None);
        let u = RedisUrl::parse("redis://:p%40ss@h").unwrap();
        assert_eq!(
            (u.port, u.password.as_deref(), u.user),
            (6379, Some("p@ss"), None)
        );
        let u = RedisUrl::parse("redis://alice:pw@h:1/").unwrap();
        assert_eq!(
            (u.user.as_deref(), u.password.as_deref(), u.db),
            (Some("alice"), Some("pw"), None)
        );
        let u = RedisUrl::parse("redis://secret@h").unwrap();
        assert_eq!((u.user, u.password.as_deref()), (None, Some("secret")));
        let u = RedisUrl::parse("redis://[::1]:7000/2").unwrap();
        assert_eq!((u.addr(), u.db), ("[::1]:7000".to_string(), Some(2)));
        assert_eq!(u.to_string(), "redis://[::1]:7000/2");
        assert_eq!(
            RedisUrl::parse("redis://alice:pw@h:1/4")
                .unwrap()
                .to_string(),
            "redis://alice@h:1/4"
        );
        for bad in [
            "http://h",
            "rediss://h",
            "redis://",
            "redis://h:x",
            "redis://h:70000",
            "redis://h/x",
            "redis://h?db=1",
            "redis://[::1",
        ] {
            assert!(RedisUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
