//! SLOWLOG: the commands this node ran that took `slowlog-log-slower-than`
//! microseconds or more, newest first, at most `slowlog-max-len` of them (Redis 7.0's
//! entries: id, unix time, microseconds, arguments, client address, client name).
//!
//! The log is per node, as in Redis (each replica has its own). What a command's time
//! is: for reads and connection commands, their run on this node; for writes, the time
//! from the proposal to the reply (the log commit included), shared evenly among the
//! writes of one proposal. Nothing is allocated for a command under the threshold: a
//! read or connection command still has its arguments when its time is known. A write
//! hands its arguments to the log, so they are copied beforehand, and only while the
//! threshold is within reach of recent writes ([`SlowLog::capture_writes`]): a write
//! that is slow right after a run of fast ones can be missed.

use crate::clients::ClientInfo;
use engine::{CmdError, Frame};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Arguments kept per entry (the last one says how many more there were).
const MAX_ARGC: usize = 32;
/// Bytes kept per argument.
const MAX_STRING: usize = 128;

struct Entry {
    id: u64,
    time: u64,
    usec: u64,
    argv: Vec<Vec<u8>>,
    addr: String,
    name: Vec<u8>,
}

pub struct SlowLog {
    entries: Mutex<VecDeque<Entry>>,
    next_id: AtomicU64,
    /// `slowlog-log-slower-than` in microseconds; negative disables the log.
    slower_than: AtomicI64,
    /// `slowlog-max-len`.
    max_len: AtomicU64,
    /// A decaying maximum of recent write times (µs), see [`SlowLog::capture_writes`].
    write_peak: AtomicU64,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog {
            entries: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            slower_than: AtomicI64::new(10_000),
            max_len: AtomicU64::new(128),
            write_peak: AtomicU64::new(0),
        }
    }
}

/// A write's arguments copied before it went to the log (see `capture_writes`).
pub type Captured = Vec<Vec<u8>>;

impl SlowLog {
    pub fn set_slower_than(&self, usec: i64) {
        self.slower_than.store(usec, Ordering::Relaxed);
    }

    /// As in Redis, a lower limit trims the log at its next entry.
    pub fn set_max_len(&self, n: u64) {
        self.max_len.store(n, Ordering::Relaxed);
    }

    /// True when a command that took `usec` goes into the log.
    #[inline]
    pub fn wants(&self, usec: u64) -> bool {
        let t = self.slower_than.load(Ordering::Relaxed);
        t >= 0 && usec >= t as u64
    }

    /// Whether the writes about to be proposed should have their arguments copied:
    /// the log is on and recent writes came within reach of the threshold (always when
    /// the threshold is 0).
    #[inline]
    pub fn capture_writes(&self) -> bool {
        let t = self.slower_than.load(Ordering::Relaxed);
        t >= 0 && self.write_peak.load(Ordering::Relaxed) >= t as u64
    }

    /// Records how long a proposal of writes took (each write's share of it): the peak
    /// follows slow writes at once and decays by an eighth per proposal.
    #[inline]
    pub fn note_write(&self, usec: u64) {
        let old = self.write_peak.load(Ordering::Relaxed);
        let decayed = old - old / 8;
        self.write_peak.store(usec.max(decayed), Ordering::Relaxed);
    }

    /// Logs a command that took `usec` (the caller checked [`SlowLog::wants`]), with its
    /// arguments trimmed and secrets redacted as Redis does.
    pub fn push(&self, argv: &[Vec<u8>], usec: u64, client: Option<&Arc<Mutex<ClientInfo>>>) {
        self.push_captured(capture(argv), usec, client);
    }

    /// [`SlowLog::push`] of arguments [`capture`] already prepared.
    pub fn push_captured(
        &self,
        argv: Captured,
        usec: u64,
        client: Option<&Arc<Mutex<ClientInfo>>>,
    ) {
        let max = self.max_len.load(Ordering::Relaxed);
        let (addr, name) = client
            .and_then(|c| c.lock().ok().map(|i| (i.addr.to_string(), i.name.clone())))
            .unwrap_or_default();
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.entries.lock() {
            e.push_front(Entry {
                id,
                time,
                usec,
                argv,
                addr,
                name,
            });
            e.truncate(max.min(usize::MAX as u64) as usize);
        }
    }

    fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    fn reset(&self) {
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
    }

    fn get(&self, count: usize) -> Frame {
        let entries = match self.entries.lock() {
            Ok(e) => e,
            Err(_) => return Frame::Array(Vec::new()),
        };
        Frame::Array(
            entries
                .iter()
                .take(count)
                .map(|e| {
                    Frame::Array(vec![
                        Frame::Integer(e.id as i64),
                        Frame::Integer(e.time as i64),
                        Frame::Integer(e.usec.min(i64::MAX as u64) as i64),
                        Frame::Array(e.argv.iter().map(|a| Frame::Bulk(a.clone())).collect()),
                        Frame::Bulk(e.addr.clone().into_bytes()),
                        Frame::Bulk(e.name.clone()),
                    ])
                })
                .collect(),
        )
    }
}

/// Redis's redactions: AUTH's arguments, HELLO's AUTH credentials, ACL SETUSER's
/// arguments after the subcommand, CONFIG SET's values of requirepass / masterauth,
/// MIGRATE's AUTH password and AUTH2 user and password.
fn redacted(argv: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = argv.to_vec();
    let hide = |out: &mut Vec<Vec<u8>>, i: usize| {
        if let Some(a) = out.get_mut(i) {
            *a = b"(redacted)".to_vec();
        }
    };
    let is = |i: usize, s: &str| {
        argv.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(s.as_bytes()))
    };
    if is(0, "auth") {
        for i in 1..argv.len() {
            hide(&mut out, i);
        }
    } else if is(0, "hello") {
        for i in 2..argv.len() {
            if is(i, "auth") {
                hide(&mut out, i + 1);
                hide(&mut out, i + 2);
            }
        }
    } else if is(0, "acl") && is(1, "setuser") {
        for i in 2..argv.len() {
            hide(&mut out, i);
        }
    } else if is(0, "config") && is(1, "set") {
        let mut i = 2;
        while i + 1 < argv.len() {
            if is(i, "requirepass") || is(i, "masterauth") {
                hide(&mut out, i + 1);
            }
            i += 2;
        }
    } else if is(0, "migrate") {
        for i in 6..argv.len() {
            if is(i, "auth") {
                hide(&mut out, i + 1);
            } else if is(i, "auth2") {
                hide(&mut out, i + 1);
                hide(&mut out, i + 2);
            }
        }
    }
    out
}

/// At most [`MAX_ARGC`] arguments (the last then reads `... (N more arguments)`), each
/// cut to [`MAX_STRING`] bytes plus `... (N more bytes)`.
fn trimmed(argv: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let kept = argv.len().min(MAX_ARGC);
    let mut out = Vec::with_capacity(kept);
    for (j, a) in argv.iter().take(kept).enumerate() {
        if kept != argv.len() && j == kept - 1 {
            out.push(format!("... ({} more arguments)", argv.len() - kept + 1).into_bytes());
        } else if a.len() > MAX_STRING {
            let mut s = a[..MAX_STRING].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            out.push(s);
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Arguments as an entry keeps them (secrets redacted, trimmed): a write's are copied
/// so before the write goes to the log.
pub fn capture(argv: &[Vec<u8>]) -> Captured {
    trimmed(&redacted(argv))
}

const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// SLOWLOG GET [count] | LEN | RESET | HELP.
pub fn command(log: &SlowLog, argv: &[Vec<u8>]) -> Result<Frame, CmdError> {
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    match sub.as_str() {
        "get" if argv.len() > 3 => {
            return Err(CmdError::new(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
                String::from_utf8_lossy(&argv[1])
            )))
        }
        "get" => {}
        "len" | "reset" | "help" if argv.len() != 2 => {
            return Err(CmdError::wrong_arity(&format!("slowlog|{sub}")))
        }
        "len" | "reset" | "help" => {}
        _ => return Err(CmdError::unknown_subcommand(&argv[1], "SLOWLOG")),
    }
    match sub.as_str() {
        "get" => {
            let count = match argv.get(2) {
                None => 10,
                Some(a) => match engine::args::parse_i64_opt(a) {
                    Some(-1) => usize::MAX,
                    Some(n) if n >= 0 => n as usize,
                    _ => {
                        return Err(CmdError::new(
                            "ERR count should be greater than or equal to -1",
                        ))
                    }
                },
            };
            Ok(log.get(count))
        }
        "len" => Ok(Frame::Integer(log.len() as i64)),
        "reset" => {
            log.reset();
            Ok(Frame::ok())
        }
        _ => Ok(Frame::Array(
            HELP.iter().map(|l| Frame::Simple((*l).into())).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn trims_as_redis() {
        let mut many = vec!["sadd".to_string(), "set".to_string()];
        many.extend((3..=33).map(|i| i.to_string()));
        let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
        let t = trimmed(&v(&many));
        assert_eq!(t.len(), 32);
        assert_eq!(t[30], b"31".to_vec());
        assert_eq!(t[31], b"... (2 more arguments)".to_vec());
        let long = "A".repeat(129);
        let t = trimmed(&v(&["sadd", "set", "foo", &long]));
        assert_eq!(
            t[3],
            format!("{}... (1 more bytes)", "A".repeat(128)).into_bytes()
        );
    }

    #[test]
    fn redacts_as_redis() {
        assert_eq!(
            redacted(&v(&["acl", "setuser", "u", "+get", "+set"])),
            v(&["acl", "setuser", "(redacted)", "(redacted)", "(redacted)"])
        );
        assert_eq!(
            redacted(&v(&["config", "set", "masterauth", "x", "maxclients", "5"])),
            v(&[
                "config",
                "set",
                "masterauth",
                "(redacted)",
                "maxclients",
                "5"
            ])
        );
        assert_eq!(
            redacted(&v(&["hello", "3", "AUTH", "u", "p", "SETNAME", "n"])),
            v(&[
                "hello",
                "3",
                "AUTH",
                "(redacted)",
                "(redacted)",
                "SETNAME",
                "n"
            ])
        );
        assert_eq!(redacted(&v(&["auth", "pw"])), v(&["auth", "(redacted)"]));
    }

    #[test]
    fn keeps_max_len_newest_first() {
        let log = SlowLog::default();
        log.set_max_len(3);
        for i in 0..5 {
            log.push(&v(&["ping", &i.to_string()]), 1, None);
        }
        assert_eq!(log.len(), 3);
        let Frame::Array(es) = log.get(usize::MAX) else {
            panic!()
        };
        let Frame::Array(first) = &es[0] else {
            panic!()
        };
        assert_eq!(first[0], Frame::Integer(4));
        assert!(command(&log, &v(&["slowlog", "get", "-2"])).is_err());
        assert_eq!(
            command(&log, &v(&["slowlog", "get", "0"])).unwrap(),
            Frame::Array(vec![])
        );
        log.set_max_len(1);
        assert_eq!(log.len(), 3);
        log.push(&v(&["ping"]), 1, None);
        assert_eq!(log.len(), 1);
    }
}
