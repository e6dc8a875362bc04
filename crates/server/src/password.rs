//! The default user's password: configured, or generated once and kept in the data dir.

use crate::config::Config;
use rand::Rng;
use std::io::Write;

const FILE: &str = "password";

pub fn resolve(cfg: &Config) -> anyhow::Result<String> {
    if let Some(p) = &cfg.password {
        return Ok(p.clone());
    }
    let path = cfg.data_dir.join(FILE);
    if let Ok(p) = std::fs::read_to_string(&path) {
        let p = p.trim().to_string();
        if !p.is_empty() {
            return Ok(p);
        }
    }
    let pw: String = rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path)?;
    f.write_all(pw.as_bytes())?;
    f.sync_all()?;
    Ok(pw)
}

/// Constant-time comparison, so response timing says nothing about the password.
pub fn matches(expected: &str, given: &[u8]) -> bool {
    let e = expected.as_bytes();
    let mut diff = (e.len() != given.len()) as u8;
    for i in 0..e.len().max(given.len()) {
        diff |= e.get(i).copied().unwrap_or(0) ^ given.get(i).copied().unwrap_or(0xff);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn compare() {
        assert!(super::matches("abc", b"abc"));
        assert!(!super::matches("abc", b"abd"));
        assert!(!super::matches("abc", b"ab"));
        assert!(!super::matches("abc", b"abcd"));
        assert!(!super::matches("", b"x"));
    }
}
