//! ACL users with Redis 7's rules (acl.c): parsing and applying `ACL SETUSER` rules,
//! describing a user the way `ACL LIST` does, and checking a command against a user's
//! permissions (commands and categories, key patterns, channel patterns, selectors).
//!
//! Users are part of the replicated state: each is one record in the `sm` column family,
//! `acl:user:<name>` → the user's description (the `ACL LIST` line without `user <name>`),
//! written by the `ACL SETUSER` / `ACL DELUSER` engine command inside a log entry, so every
//! replica, a restart and a failover see the same users. A stored description is parsed
//! back with the same rules it was made of, so the record format *is* the rule language.
//! Only password hashes are ever stored (`#<sha256 hex>`); the server turns `>password`
//! into `#hash` before anything is proposed (see [`prepare_setuser`]).
//!
//! The `default` user always has every permission. Its passwords start as the node's
//! configured password (owned by the server); once `ACL SETUSER default` changed them, the
//! record `acl:user:default` holds them (and only password rules and `on` are accepted
//! for it, see [`default_rules_check`]), and it then overrides the configuration on every
//! node.

use crate::args;
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::table::{self, flags, CommandSpec};
use crate::txn::Txn;
use crate::Frame;
use ::keys::Cf;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The `sm` key of a user's record (`keys::sm::ACL_USERS`).
pub fn user_key(name: &[u8]) -> Vec<u8> {
    ::keys::sm::ACL_USERS.key(name)
}

/// Redis's categories, in `ACL CAT`'s order, plus `json` (JSON.* commands).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
    "json",
];

/// Commands with subcommands: `+config|get` / `-config|set` address a subcommand of
/// these; on any other command `+cmd|arg` allows one first argument (`+select|0`).
const CONTAINERS: &[&str] = &[
    "acl", "client", "command", "config", "function", "memory", "object", "pubsub", "script",
    "latency", "slowlog", "xgroup", "xinfo",
];

/// Redis's categories of the CLIENT subcommands that manage other connections.
const CLIENT_ADMIN: &[&str] = &["admin", "slow", "dangerous", "connection"];

/// Subcommands whose ACL categories differ from their container's (the table has one
/// row per container): Redis's categories for them, without '@'. A category rule
/// reaches these through their own categories, so `-@dangerous` blocks CLIENT KILL but
/// not CLIENT ID, and `+@all -@admin` still allows ACL WHOAMI.
const SUB_CATEGORIES: &[(&str, &str, &[&str])] = &[
    ("acl", "cat", &["slow"]),
    ("acl", "genpass", &["slow"]),
    ("acl", "help", &["slow"]),
    ("acl", "whoami", &["slow"]),
    ("client", "kill", CLIENT_ADMIN),
    ("client", "list", CLIENT_ADMIN),
    ("client", "no-evict", CLIENT_ADMIN),
    ("client", "pause", CLIENT_ADMIN),
    ("client", "unblock", CLIENT_ADMIN),
    ("client", "unpause", CLIENT_ADMIN),
    ("config", "help", &["slow"]),
    ("function", "dump", &["slow", "scripting"]),
    ("function", "help", &["slow", "scripting"]),
    ("function", "kill", &["slow", "scripting"]),
    ("function", "list", &["slow", "scripting"]),
    ("function", "stats", &["slow", "scripting"]),
    ("latency", "help", &["slow"]),
    ("memory", "usage", &["read", "slow"]),
    ("object", "help", &["keyspace", "slow"]),
    ("pubsub", "help", &["slow"]),
    ("script", "debug", &["slow", "scripting"]),
    ("slowlog", "help", &["slow"]),
    ("script", "exists", &["slow", "scripting"]),
    ("script", "flush", &["slow", "scripting"]),
    ("script", "help", &["slow", "scripting"]),
    ("script", "kill", &["slow", "scripting"]),
    ("script", "load", &["slow", "scripting"]),
    ("xgroup", "help", &["stream", "slow"]),
    ("xinfo", "help", &["stream", "slow"]),
];

/// Lower-case hex SHA-256 of a password: the only form a password is ever kept in.
pub fn hash_password(pass: &[u8]) -> String {
    let d = Sha256::digest(pass);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Constant-time equality of two byte strings (the length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    diff == 0
}

fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&b| b == 0 || b.is_ascii_whitespace())
}

/// Why a rule was refused (ACLSetUserStringError's texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    Unknown,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    SubOfSub,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::SubOfSub => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

const READ: u8 = 1;
const WRITE: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyPattern {
    pattern: Vec<u8>,
    perm: u8,
}

/// One set of command, key and channel permissions: the user's root selector, or one
/// of its `(...)` selectors.
#[derive(Debug, Clone)]
pub struct Selector {
    /// Started from `+@all` (else `-@all`).
    all_base: bool,
    /// Command rules after the base, in order, lower-case, with their sign (`+@string`,
    /// `-get`, `+config|get`).
    rules: Vec<String>,
    allkeys: bool,
    keys: Vec<KeyPattern>,
    allchannels: bool,
    channels: Vec<Vec<u8>>,
    /// Whole-command permission, indexed like `COMMANDS()`.
    allowed: Vec<bool>,
    /// Per command: subcommand / first-argument overrides (lower-case), latest last.
    subs: HashMap<usize, Vec<(Vec<u8>, bool)>>,
}

impl Selector {
    fn empty() -> Selector {
        Selector {
            all_base: false,
            rules: Vec::new(),
            allkeys: false,
            keys: Vec::new(),
            allchannels: false,
            channels: Vec::new(),
            allowed: vec![false; table::COMMANDS().len()],
            subs: HashMap::new(),
        }
    }

    /// Keeps the retained rules minimal: a new rule replaces an earlier one on the same
    /// command (or category), and a whole-command rule replaces its subcommand rules.
    fn update_rules(&mut self, body: &str, allow: bool) {
        let body = body.to_ascii_lowercase();
        self.rules.retain(|r| {
            let old = &r[1..];
            !(old == body
                || (old.len() > body.len()
                    && old.starts_with(&body)
                    && old.as_bytes()[body.len()] == b'|'))
        });
        self.rules
            .push(format!("{}{}", if allow { '+' } else { '-' }, body));
    }

    fn set_command(&mut self, idx: usize, allow: bool) {
        if let Some(a) = self.allowed.get_mut(idx) {
            *a = allow;
        }
        self.subs.remove(&idx);
    }

    /// Whether subcommand (or first argument) `sub` of command `idx` is allowed.
    fn effective(&self, idx: usize, sub: &[u8]) -> bool {
        self.subs
            .get(&idx)
            .and_then(|l| l.iter().rev().find(|(s, _)| s == sub))
            .map_or_else(|| self.allowed.get(idx).copied().unwrap_or(false), |e| e.1)
    }

    /// Sets one subcommand's state, keeping an override only where it differs.
    fn set_sub(&mut self, idx: usize, sub: &[u8], allow: bool) {
        let whole = self.allowed.get(idx).copied().unwrap_or(false);
        let list = self.subs.entry(idx).or_default();
        list.retain(|(s, _)| s != sub);
        if allow != whole {
            list.push((sub.to_vec(), allow));
        }
        if list.is_empty() {
            self.subs.remove(&idx);
        }
    }

    fn set_all(&mut self, allow: bool) {
        self.all_base = allow;
        self.rules.clear();
        self.subs.clear();
        for a in &mut self.allowed {
            *a = allow;
        }
    }

    fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match &lower[..] {
            b"allkeys" | b"~*" => {
                self.allkeys = true;
                self.keys.clear();
                return Ok(());
            }
            b"resetkeys" => {
                self.allkeys = false;
                self.keys.clear();
                return Ok(());
            }
            b"allchannels" | b"&*" => {
                self.allchannels = true;
                self.channels.clear();
                return Ok(());
            }
            b"resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
                return Ok(());
            }
            b"allcommands" | b"+@all" => {
                self.set_all(true);
                return Ok(());
            }
            b"nocommands" | b"-@all" => {
                self.set_all(false);
                return Ok(());
            }
            _ => {}
        }
        match op.first() {
            Some(b'~') | Some(b'%') => self.add_key_pattern(op),
            Some(b'&') => {
                if self.allchannels {
                    return Err(RuleError::ChannelAfterAll);
                }
                let pat = &op[1..];
                if has_spaces(pat) {
                    return Err(RuleError::Syntax);
                }
                if !self.channels.iter().any(|c| c == pat) {
                    self.channels.push(pat.to_vec());
                }
                Ok(())
            }
            Some(&sign @ (b'+' | b'-')) => {
                let allow = sign == b'+';
                let body = std::str::from_utf8(&op[1..]).map_err(|_| RuleError::Unknown)?;
                if let Some(cat) = body.strip_prefix('@') {
                    let cat = cat.to_ascii_lowercase();
                    if !CATEGORIES.contains(&cat.as_str()) {
                        return Err(RuleError::Unknown);
                    }
                    // Subcommands with categories of their own keep their state
                    // unless the category names them.
                    let special: Vec<(usize, &[u8], bool, bool)> = SUB_CATEGORIES
                        .iter()
                        .filter_map(|(cmd, sub, cats)| {
                            let idx = table::index_of(table::lookup(cmd.as_bytes())?);
                            let sub = sub.as_bytes();
                            Some((
                                idx,
                                sub,
                                self.effective(idx, sub),
                                cats.contains(&cat.as_str()),
                            ))
                        })
                        .collect();
                    for (i, spec) in table::COMMANDS().iter().enumerate() {
                        if in_category(spec, &cat) {
                            self.set_command(i, allow);
                        }
                    }
                    for (idx, sub, before, named) in special {
                        self.set_sub(idx, sub, if named { allow } else { before });
                    }
                    self.update_rules(body, allow);
                    return Ok(());
                }
                if let Some(r) = self.redis_only_rule(body, allow) {
                    return r;
                }
                match body.rsplit_once('|') {
                    None => {
                        let spec = table::lookup(body.as_bytes()).ok_or(RuleError::Unknown)?;
                        self.set_command(table::index_of(spec), allow);
                        self.update_rules(spec.name, allow);
                        Ok(())
                    }
                    Some((cmd, sub)) => {
                        let base = cmd.split('|').next().unwrap_or(cmd);
                        let spec = table::lookup(base.as_bytes()).ok_or(RuleError::Unknown)?;
                        let container = CONTAINERS.contains(&spec.name);
                        if cmd.contains('|') {
                            // `+config|get|x`: a first argument of a subcommand.
                            return Err(if container {
                                RuleError::SubOfSub
                            } else {
                                RuleError::Unknown
                            });
                        }
                        if sub.is_empty() {
                            return Err(if allow {
                                RuleError::Syntax
                            } else {
                                RuleError::Unknown
                            });
                        }
                        // Redis blocks subcommands, but never a first argument.
                        if !allow && !container {
                            return Err(RuleError::Unknown);
                        }
                        let sub = sub.to_ascii_lowercase();
                        let list = self.subs.entry(table::index_of(spec)).or_default();
                        list.retain(|(s, _)| s != sub.as_bytes());
                        list.push((sub.as_bytes().to_vec(), allow));
                        self.update_rules(&format!("{}|{}", spec.name, sub), allow);
                        Ok(())
                    }
                }
            }
            _ => Err(RuleError::Syntax),
        }
    }

    /// A rule on a Redis 7.0 command Meridian does not have (`+cluster`,
    /// `-cluster|info`, `+bgsave`): accepted and kept in the user's rules as Redis keeps
    /// it, so set-up code written for Redis works; it allows nothing here. `None` when
    /// the command is Meridian's (the caller handles it).
    fn redis_only_rule(&mut self, body: &str, allow: bool) -> Option<Result<(), RuleError>> {
        let lower = body.to_ascii_lowercase();
        let base = lower.split('|').next().unwrap_or(&lower);
        if table::lookup(base.as_bytes()).is_some() {
            return None;
        }
        let meta = table::redis70::meta(base)?;
        let Some((cmd, sub)) = lower.split_once('|') else {
            self.update_rules(&lower, allow);
            return Some(Ok(()));
        };
        let container = !meta.subcommands.is_empty();
        Some(if sub.contains('|') {
            Err(if container {
                RuleError::SubOfSub
            } else {
                RuleError::Unknown
            })
        } else if sub.is_empty() {
            Err(if allow {
                RuleError::Syntax
            } else {
                RuleError::Unknown
            })
        } else if container && !table::redis70::is_redis_command(&lower) {
            Err(RuleError::Unknown)
        } else if !container && !allow {
            Err(RuleError::Unknown)
        } else {
            self.update_rules(&format!("{cmd}|{sub}"), allow);
            Ok(())
        })
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.allkeys {
            return Err(RuleError::KeyAfterAll);
        }
        let (perm, offset) = if op[0] == b'%' {
            let mut perm = 0u8;
            let mut i = 1;
            let mut ok = false;
            while i < op.len() {
                match op[i].to_ascii_uppercase() {
                    b'R' if perm & READ == 0 => perm |= READ,
                    b'W' if perm & WRITE == 0 => perm |= WRITE,
                    b'~' => {
                        ok = true;
                        i += 1;
                        break;
                    }
                    _ => break,
                }
                i += 1;
            }
            if perm == 0 || !ok {
                return Err(RuleError::Syntax);
            }
            (perm, i)
        } else {
            (READ | WRITE, 1)
        };
        let pat = &op[offset..];
        if has_spaces(pat) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pat) {
            Some(k) => k.perm |= perm,
            None => self.keys.push(KeyPattern {
                pattern: pat.to_vec(),
                perm,
            }),
        }
        Ok(())
    }

    fn describe_keys(&self) -> Vec<u8> {
        if self.allkeys {
            return b"~*".to_vec();
        }
        let mut out = Vec::new();
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(match k.perm {
                READ => b"%R~",
                WRITE => b"%W~",
                _ => b"~",
            });
            out.extend_from_slice(&k.pattern);
        }
        out
    }

    fn describe_channels(&self) -> Vec<u8> {
        if self.allchannels {
            return b"&*".to_vec();
        }
        let mut out = Vec::new();
        for (i, c) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'&');
            out.extend_from_slice(c);
        }
        out
    }

    fn describe_commands(&self) -> String {
        let mut s = String::from(if self.all_base { "+@all" } else { "-@all" });
        for r in &self.rules {
            s.push(' ');
            s.push_str(r);
        }
        s
    }

    /// ACLDescribeSelector: keys, channels, commands.
    fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            out.extend_from_slice(&keys);
            out.push(b' ');
        }
        if self.allchannels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            let ch = self.describe_channels();
            if !ch.is_empty() {
                out.extend_from_slice(&ch);
                out.push(b' ');
            }
        }
        out.extend_from_slice(self.describe_commands().as_bytes());
        out
    }

    fn command_allowed(&self, spec: &CommandSpec, argv: &[Vec<u8>]) -> bool {
        if spec.flags & flags::NO_AUTH != 0 {
            return true;
        }
        let idx = table::index_of(spec);
        if let (Some(list), Some(first)) = (self.subs.get(&idx), argv.get(1)) {
            if let Some((_, allow)) = list
                .iter()
                .rev()
                .find(|(s, _)| s.eq_ignore_ascii_case(first))
            {
                return *allow;
            }
        }
        self.allowed.get(idx).copied().unwrap_or(false)
    }

    fn key_allowed(&self, key: &[u8], need: u8) -> bool {
        self.allkeys
            || self
                .keys
                .iter()
                .any(|k| k.perm & need == need && glob_match(&k.pattern, key, false))
    }

    fn channel_allowed(&self, channel: &[u8], literal: bool) -> bool {
        self.allchannels
            || self.channels.iter().any(|p| {
                if literal {
                    p == channel
                } else {
                    glob_match(p, channel, false)
                }
            })
    }

    fn check(&self, spec: &CommandSpec, argv: &[Vec<u8>]) -> Result<(), Denied> {
        if !self.command_allowed(spec, argv) {
            return Err(Denied::Command);
        }
        if !self.allkeys {
            // Key permissions from the command's flags: reads need read access, writes
            // need read and write access (stricter than Redis's per-key-spec flags).
            let need = if spec.flags & flags::WRITE != 0 {
                READ | WRITE
            } else {
                READ
            };
            for i in spec.key_positions(argv) {
                if let Some(k) = argv.get(i) {
                    if !self.key_allowed(k, need) {
                        return Err(Denied::Key(i));
                    }
                }
            }
        }
        if !self.allchannels {
            for (i, literal) in channel_positions(spec.name, argv) {
                if !self.channel_allowed(&argv[i], literal) {
                    return Err(Denied::Channel(i));
                }
            }
        }
        Ok(())
    }
}

fn in_category(spec: &CommandSpec, cat: &str) -> bool {
    spec.acl_categories().iter().any(|c| &c[1..] == cat)
}

/// Channel arguments of the pub/sub commands ACLs restrict: (position, literal). A
/// PSUBSCRIBE pattern must equal one of the user's channel patterns literally.
fn channel_positions(name: &str, argv: &[Vec<u8>]) -> Vec<(usize, bool)> {
    match name {
        "publish" | "spublish" if argv.len() > 1 => vec![(1, false)],
        "subscribe" | "ssubscribe" => (1..argv.len()).map(|i| (i, false)).collect(),
        "psubscribe" => (1..argv.len()).map(|i| (i, true)).collect(),
        _ => Vec::new(),
    }
}

/// Why a user may not run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    /// The argv position of the key no selector allows.
    Key(usize),
    /// The argv position of the channel no selector allows.
    Channel(usize),
}

/// An ACL user (every user but `default`, which the server owns).
#[derive(Debug, Clone)]
pub struct User {
    pub name: Vec<u8>,
    pub enabled: bool,
    pub nopass: bool,
    pub skip_sanitize: bool,
    /// SHA-256 hex of each password, in the order added.
    pub passwords: Vec<String>,
    root: Selector,
    selectors: Vec<Selector>,
}

impl User {
    /// A user as ACL SETUSER creates it: off, no passwords, no commands, keys or channels.
    pub fn new(name: &[u8]) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            skip_sanitize: false,
            passwords: Vec::new(),
            root: Selector::empty(),
            selectors: Vec::new(),
        }
    }

    /// The `default` user as Redis shows it: everything allowed, with the node's
    /// password (`None`: authentication off, so `nopass`).
    pub fn default_user(password: Option<&[u8]>) -> User {
        let mut u = User::new(b"default");
        u.enabled = true;
        match password {
            Some(p) => u.passwords.push(hash_password(p)),
            None => u.nopass = true,
        }
        u.root.set_all(true);
        u.root.allkeys = true;
        u.root.allchannels = true;
        u
    }

    /// Parses a stored record (the user's description).
    pub fn decode(name: &[u8], raw: &[u8]) -> Result<User, CmdError> {
        let ops: Vec<Vec<u8>> = raw
            .split(|&b| b == b' ')
            .filter(|s| !s.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let mut u = User::new(name);
        u.apply(&ops).map_err(|e| {
            CmdError::new(format!(
                "ERR corrupt ACL record for user '{}': {}",
                String::from_utf8_lossy(name),
                e.0
            ))
        })?;
        Ok(u)
    }

    /// Applies ACL SETUSER rules in order, all or nothing: on error the user is unchanged
    /// and the error names the offending rule as Redis does.
    pub fn apply(&mut self, ops: &[Vec<u8>]) -> Result<(), CmdError> {
        let merged = merge_selectors(ops)?;
        let mut u = self.clone();
        for op in &merged {
            u.apply_one(op).map_err(|e| {
                CmdError::new(format!(
                    "ERR Error in ACL SETUSER modifier '{}': {}",
                    String::from_utf8_lossy(op),
                    e.text()
                ))
            })?;
        }
        *self = u;
        Ok(())
    }

    fn apply_one(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let lower = op.to_ascii_lowercase();
        match &lower[..] {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.skip_sanitize = true,
            b"sanitize-payload" => self.skip_sanitize = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"clearselectors" => self.selectors.clear(),
            b"reset" => {
                self.nopass = false;
                self.passwords.clear();
                self.root.allkeys = false;
                self.root.keys.clear();
                self.root.allchannels = false;
                self.root.channels.clear();
                self.enabled = false;
                self.skip_sanitize = false;
                self.selectors.clear();
                self.root.set_all(false);
            }
            _ => match op[0] {
                b'>' | b'#' => {
                    let hash = if op[0] == b'>' {
                        hash_password(&op[1..])
                    } else {
                        valid_hash(&op[1..])?
                    };
                    if !self.passwords.contains(&hash) {
                        self.passwords.push(hash);
                    }
                    self.nopass = false;
                }
                b'<' | b'!' => {
                    let hash = if op[0] == b'<' {
                        hash_password(&op[1..])
                    } else {
                        valid_hash(&op[1..])?
                    };
                    let before = self.passwords.len();
                    self.passwords.retain(|h| *h != hash);
                    if self.passwords.len() == before {
                        return Err(RuleError::NoSuchPassword);
                    }
                }
                b'(' if op.len() >= 2 && op[op.len() - 1] == b')' => {
                    let mut s = Selector::empty();
                    for part in op[1..op.len() - 1]
                        .split(|&b| b == b' ')
                        .filter(|p| !p.is_empty())
                    {
                        // A parenthesis inside a selector would not survive being
                        // stored and read back (it ends or opens a selector there).
                        if part.iter().any(|&b| b == b'(' || b == b')') {
                            return Err(RuleError::Syntax);
                        }
                        s.apply(part)?;
                    }
                    self.selectors.push(s);
                }
                _ => self.root.apply(op)?,
            },
        }
        Ok(())
    }

    /// ACLDescribeUser: what ACL LIST shows after `user <name> `, and what is stored.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(if self.enabled { b"on " } else { b"off " });
        if self.nopass {
            out.extend_from_slice(b"nopass ");
        }
        out.extend_from_slice(if self.skip_sanitize {
            &b"skip-sanitize-payload "[..]
        } else {
            &b"sanitize-payload "[..]
        });
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&self.root.describe());
        for s in &self.selectors {
            out.extend_from_slice(b" (");
            out.extend_from_slice(&s.describe());
            out.push(b')');
        }
        out
    }

    /// `user <name> <description>`, one ACL LIST line.
    pub fn list_line(&self) -> Vec<u8> {
        let mut out = b"user ".to_vec();
        out.extend_from_slice(&self.name);
        out.push(b' ');
        out.extend_from_slice(&self.describe());
        out
    }

    /// ACL GETUSER's reply.
    pub fn getuser_reply(&self) -> Frame {
        let bulk = |s: &[u8]| Frame::Bulk(s.to_vec());
        let mut flags = vec![bulk(if self.enabled { b"on" } else { b"off" })];
        if self.nopass {
            flags.push(bulk(b"nopass"));
        }
        flags.push(bulk(if self.skip_sanitize {
            b"skip-sanitize-payload"
        } else {
            b"sanitize-payload"
        }));
        let describe = |s: &Selector| {
            vec![
                (bulk(b"commands"), bulk(s.describe_commands().as_bytes())),
                (bulk(b"keys"), bulk(&s.describe_keys())),
                (bulk(b"channels"), bulk(&s.describe_channels())),
            ]
        };
        let mut fields = vec![
            (bulk(b"flags"), Frame::Set(flags)),
            (
                bulk(b"passwords"),
                Frame::Array(self.passwords.iter().map(|p| bulk(p.as_bytes())).collect()),
            ),
        ];
        fields.extend(describe(&self.root));
        fields.push((
            bulk(b"selectors"),
            Frame::Array(
                self.selectors
                    .iter()
                    .map(|s| Frame::Map(describe(s)))
                    .collect(),
            ),
        ));
        Frame::Map(fields)
    }

    /// Whether `pass` is one of the user's passwords (any, for `nopass`). Every stored
    /// hash is compared, each in constant time.
    pub fn password_matches(&self, pass: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let given = hash_password(pass);
        let mut ok = false;
        for h in &self.passwords {
            ok |= ct_eq(h.as_bytes(), given.as_bytes());
        }
        ok
    }

    /// Whether this user may run `argv` (looked up as `spec`): allowed if the root
    /// selector or any other selector allows it. The reported denial is Redis's pick:
    /// a key or channel beats the command, the furthest argument wins.
    pub fn check(&self, spec: &CommandSpec, argv: &[Vec<u8>]) -> Result<(), Denied> {
        let mut worst = Denied::Command;
        let rank = |d: Denied| match d {
            Denied::Command => (0, 0),
            Denied::Key(i) => (1, i),
            Denied::Channel(i) => (2, i),
        };
        for s in std::iter::once(&self.root).chain(&self.selectors) {
            match s.check(spec, argv) {
                Ok(()) => return Ok(()),
                Err(d) if rank(d) > rank(worst) => worst = d,
                Err(_) => {}
            }
        }
        Err(worst)
    }
}

/// The text of a NOPERM error (getAclErrorMessage). `verbose` names the key or channel
/// (ACL DRYRUN); command replies use the short form as Redis does.
pub fn denied_message(
    user: &[u8],
    spec: &CommandSpec,
    argv: &[Vec<u8>],
    d: Denied,
    verbose: bool,
) -> String {
    let user = String::from_utf8_lossy(user);
    match d {
        Denied::Command => format!(
            "User {user} has no permissions to run the '{}' command",
            full_name(spec, argv)
        ),
        Denied::Key(i) if verbose => format!(
            "User {user} has no permissions to access the '{}' key",
            String::from_utf8_lossy(argv.get(i).map_or(&[][..], |a| a))
        ),
        Denied::Key(_) => "No permissions to access a key".into(),
        Denied::Channel(i) if verbose => format!(
            "User {user} has no permissions to access the '{}' channel",
            String::from_utf8_lossy(argv.get(i).map_or(&[][..], |a| a))
        ),
        Denied::Channel(_) => "No permissions to access a channel".into(),
    }
}

/// What ACL LOG names as a denied command's object: `config|get` for a container's
/// subcommand, else the command's name.
pub fn command_full_name(spec: &CommandSpec, argv: &[Vec<u8>]) -> String {
    full_name(spec, argv)
}

/// `config|get` for a container command's subcommand, else the command's name.
fn full_name(spec: &CommandSpec, argv: &[Vec<u8>]) -> String {
    match argv.get(1) {
        Some(sub) if CONTAINERS.contains(&spec.name) => format!(
            "{}|{}",
            spec.name,
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        ),
        _ => spec.name.to_string(),
    }
}

fn valid_hash(h: &[u8]) -> Result<String, RuleError> {
    if h.len() != 64
        || !h
            .iter()
            .all(|&b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(h).into_owned())
}

/// ACLMergeSelectorArguments: a selector may be spread over several arguments
/// (`(~key*` `+get)`); joins them with spaces.
fn merge_selectors(ops: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut out = Vec::with_capacity(ops.len());
    let mut open: Option<Vec<u8>> = None;
    for op in ops {
        if let Some(mut sel) = open.take() {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(sel);
            } else {
                open = Some(sel);
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some(op.clone());
            continue;
        }
        out.push(op.clone());
    }
    if let Some(sel) = open {
        let first = sel.split(|&b| b == b' ').next().unwrap_or(&[]);
        return Err(CmdError::new(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(first)
        )));
    }
    Ok(out)
}

/// Checks a user name as ACL SETUSER does.
pub fn check_name(name: &[u8]) -> Result<(), CmdError> {
    if has_spaces(name) {
        return Err(CmdError::new(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    Ok(())
}

/// What the server proposes for `ACL SETUSER <name> <rules...>`: every `>password` and
/// `<password` rule replaced by `#hash` / `!hash`, so no plaintext password ever enters
/// the log. A password rule inside a selector is a syntax error in Redis; it is refused
/// here, before anything is proposed, for the same reason.
pub fn prepare_setuser(rules: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, CmdError> {
    let merged = merge_selectors(rules)?;
    let mut out = Vec::with_capacity(merged.len());
    for op in merged {
        match op.first() {
            Some(b'>') => out.push(format!("#{}", hash_password(&op[1..])).into_bytes()),
            Some(b'<') => out.push(format!("!{}", hash_password(&op[1..])).into_bytes()),
            Some(b'(') if selector_has_password(&op) => {
                return Err(CmdError::new(format!(
                    "ERR Error in ACL SETUSER modifier '{}': {}",
                    redact_selector(&op),
                    RuleError::Syntax.text()
                )));
            }
            _ => out.push(op),
        }
    }
    Ok(out)
}

/// Whether a `(...)` selector carries a `>password` / `<password` rule.
fn selector_has_password(op: &[u8]) -> bool {
    let inner = op.strip_prefix(b"(").unwrap_or(op);
    let inner = inner.strip_suffix(b")").unwrap_or(inner);
    inner
        .split(|&b| b == b' ')
        .any(|p| matches!(p.first(), Some(b'>' | b'<')))
}

/// A selector with its password-looking parts blanked, for an error message.
fn redact_selector(op: &[u8]) -> String {
    let parts: Vec<String> = op
        .split(|&b| b == b' ')
        .map(|p| {
            let (open, t) = match p.strip_prefix(b"(") {
                Some(t) => ("(", t),
                None => ("", p),
            };
            match t.first() {
                Some(b'>' | b'<') => format!("{open}***"),
                _ => String::from_utf8_lossy(p).into_owned(),
            }
        })
        .collect();
    parts.join(" ")
}

// ---- the replicated records ------------------------------------------------------------

/// The stored record of `name`, if the user exists.
pub fn load_raw(t: &Txn, name: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    Ok(t.raw_get(Cf::Sm, &user_key(name))?)
}

/// Every stored user (name, record), in name order.
pub fn load_all(t: &Txn) -> Result<Vec<(Vec<u8>, Vec<u8>)>, CmdError> {
    let mut out = Vec::new();
    let users = ::keys::sm::ACL_USERS;
    t.raw_scan(Cf::Sm, users.start(), users.end(), &mut |k, v| {
        if let Some(name) = users.name(k) {
            out.push((name.to_vec(), v.to_vec()));
        }
        true
    })?;
    Ok(out)
}

/// Every category name, or the commands of one (`ACL CAT [category]`).
pub fn category_commands(cat: &str) -> Option<Vec<String>> {
    let cat = cat.to_ascii_lowercase();
    if !CATEGORIES.contains(&cat.as_str()) {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for spec in table::COMMANDS() {
        let container = table::redis70::meta(spec.name)
            .filter(|m| CONTAINERS.contains(&spec.name) && !m.subcommands.is_empty());
        let subs = container.map_or(&[][..], |m| &m.subcommands[..]);
        if container.is_some_and(|m| m.categories.contains(&cat)) {
            // Redis lists the container itself by its own categories (`@slow`).
            out.push(spec.name.to_string());
        }
        if subs.is_empty() {
            if in_category(spec, &cat) {
                out.push(spec.name.to_string());
            }
            continue;
        }
        // A container is listed as its subcommands, as Redis lists them: each with its
        // own categories where they differ (SUB_CATEGORIES), else its container's.
        for full in subs {
            let sub = full.split_once('|').map_or("", |(_, s)| s);
            let named = match SUB_CATEGORIES
                .iter()
                .find(|(c, s, _)| *c == spec.name && *s == sub)
            {
                Some((_, _, cats)) => cats.contains(&cat.as_str()),
                None => in_category(spec, &cat),
            };
            if named {
                out.push(full.clone());
            }
        }
    }
    Some(out)
}

/// The engine side of ACL: SETUSER and DELUSER, applied inside a log entry. Every other
/// subcommand is answered by the server's session layer (it needs the connection or the
/// node's password); the server also rewrites passwords into hashes before proposing.
pub(crate) fn acl_command(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let sub = args::upper(&argv[1]);
    match sub.as_str() {
        "SETUSER" if argv.len() >= 3 => {
            if t.is_read_only() {
                return Err(CmdError::new(
                    "ERR 'acl|setuser' writes the replicated ACL and cannot run on the read path",
                ));
            }
            let name = &argv[2];
            check_name(name)?;
            if name == b"default" {
                // The server proposes the whole password list (`resetpass #h ...`), so the
                // result does not depend on what was stored before.
                default_rules_check(&argv[3..])?;
                let mut user = match load_raw(t, name)? {
                    Some(raw) => User::decode(name, &raw)?,
                    None => User::default_template(),
                };
                user.apply(&argv[3..])?;
                t.raw_put(Cf::Sm, user_key(name), user.describe());
                return Ok(Frame::ok());
            }
            let mut user = match load_raw(t, name)? {
                Some(raw) => User::decode(name, &raw)?,
                None => User::new(name),
            };
            user.apply(&argv[3..])?;
            t.raw_put(Cf::Sm, user_key(name), user.describe());
            Ok(Frame::ok())
        }
        "DELUSER" if argv.len() >= 3 => {
            if t.is_read_only() {
                return Err(CmdError::new(
                    "ERR 'acl|deluser' writes the replicated ACL and cannot run on the read path",
                ));
            }
            if argv[2..].iter().any(|n| n == b"default") {
                return Err(CmdError::new("ERR The 'default' user cannot be removed"));
            }
            let mut deleted = 0;
            for name in &argv[2..] {
                let key = user_key(name);
                if t.raw_get(Cf::Sm, &key)?.is_some() {
                    t.raw_delete(Cf::Sm, key);
                    deleted += 1;
                }
            }
            Ok(Frame::Integer(deleted))
        }
        "SETUSER" | "DELUSER" => Err(CmdError::new(format!(
            "ERR wrong number of arguments for 'acl|{}' command",
            sub.to_ascii_lowercase()
        ))),
        _ => Err(CmdError::new(format!(
            "ERR 'acl|{}' is answered by the server, not inside a log entry",
            sub.to_ascii_lowercase()
        ))),
    }
}

/// What `ACL SETUSER default` accepts: the password rules (`>pass` `<pass` `#hash`
/// `!hash` `resetpass`), `on`, and the rules that grant what `default` already has
/// (`~*` `allkeys` `&*` `allchannels` `+@all` `allcommands`). Anything that would restrict
/// `default` (or make it `nopass`) is refused, naming the rule, rather than ignored.
pub fn default_rules_check(rules: &[Vec<u8>]) -> Result<(), CmdError> {
    for r in rules {
        let lower = r.to_ascii_lowercase();
        let ok = matches!(
            &lower[..],
            b"on"
                | b"resetpass"
                | b"~*"
                | b"allkeys"
                | b"&*"
                | b"allchannels"
                | b"+@all"
                | b"allcommands"
        ) || matches!(r.first(), Some(b'>' | b'<' | b'#' | b'!'));
        if !ok {
            return Err(CmdError::new(format!(
                "ERR Error in ACL SETUSER modifier '{}': Meridian's 'default' user keeps every permission and needs a password; only 'on', 'resetpass', '>password', '<password', '#hash' and '!hash' can be set on it",
                String::from_utf8_lossy(r)
            )));
        }
    }
    Ok(())
}

impl User {
    /// `default` without passwords: on, every command, key and channel.
    pub fn default_template() -> User {
        let mut u = User::default_user(None);
        u.nopass = false;
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(rules: &[&str]) -> Vec<Vec<u8>> {
        rules.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn user(rules: &[&str]) -> User {
        let mut u = User::new(b"alice");
        u.apply(&v(rules)).expect("rules apply");
        u
    }

    fn argv(s: &str) -> Vec<Vec<u8>> {
        s.split(' ').map(|a| a.as_bytes().to_vec()).collect()
    }

    fn can(u: &User, cmd: &str) -> Result<(), Denied> {
        let a = argv(cmd);
        let spec = table::lookup(&a[0]).expect("known command");
        u.check(spec, &a)
    }

    fn describe(u: &User) -> String {
        String::from_utf8(u.describe()).unwrap()
    }

    #[test]
    fn a_new_user_is_off_and_can_do_nothing() {
        let u = User::new(b"bob");
        assert_eq!(describe(&u), "off sanitize-payload resetchannels -@all");
        assert_eq!(can(&u, "get k"), Err(Denied::Command));
        // AUTH and friends need no permission.
        assert_eq!(can(&u, "auth a b"), Ok(()));
    }

    #[test]
    fn commands_and_categories_apply_in_order() {
        let u = user(&["on", "+@string", "-set", "~*"]);
        assert_eq!(can(&u, "get k"), Ok(()));
        assert_eq!(can(&u, "append k v"), Ok(()));
        assert_eq!(can(&u, "set k v"), Err(Denied::Command));
        assert_eq!(can(&u, "lpush k v"), Err(Denied::Command));
        assert_eq!(
            describe(&u),
            "on sanitize-payload ~* resetchannels -@all +@string -set"
        );
        // +@all resets the rules; a later -@write removes the writes again.
        let u = user(&["+@all", "-@write", "allkeys"]);
        assert_eq!(can(&u, "get k"), Ok(()));
        assert_eq!(can(&u, "set k v"), Err(Denied::Command));
        assert!(describe(&u).ends_with("+@all -@write"));
        // A repeated rule moves to the end instead of piling up.
        let u = user(&["+get", "+set", "-get", "+get"]);
        assert!(
            describe(&u).ends_with("-@all +set +get"),
            "{}",
            describe(&u)
        );
    }

    #[test]
    fn subcommands_and_first_args() {
        let u = user(&["+config|get", "~*"]);
        assert_eq!(can(&u, "config get maxmemory"), Ok(()));
        assert_eq!(can(&u, "CONFIG GET x"), Ok(()));
        assert_eq!(can(&u, "config set a b"), Err(Denied::Command));
        let u = user(&["+config", "-config|set"]);
        assert_eq!(can(&u, "config get a"), Ok(()));
        assert_eq!(can(&u, "config set a b"), Err(Denied::Command));
        // +cmd afterwards clears the subcommand rule (and its retained text).
        let u = user(&["+config", "-config|set", "+config"]);
        assert_eq!(can(&u, "config set a b"), Ok(()));
        assert!(describe(&u).ends_with("-@all +config"), "{}", describe(&u));
        // A first argument of an ordinary command can be allowed, never blocked.
        let u = user(&["+select|0"]);
        assert_eq!(can(&u, "select 0"), Ok(()));
        assert_eq!(can(&u, "select 1"), Err(Denied::Command));
        let mut u = User::new(b"x");
        assert_eq!(
            u.apply(&v(&["-select|0"])).unwrap_err().0,
            "ERR Error in ACL SETUSER modifier '-select|0': Unknown command or category name in ACL"
        );
        assert_eq!(
            u.apply(&v(&["+config|"])).unwrap_err().0,
            "ERR Error in ACL SETUSER modifier '+config|': Syntax error"
        );
        assert_eq!(
            u.apply(&v(&["+config|get|x"])).unwrap_err().0,
            "ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported"
        );
    }

    #[test]
    fn subcommands_have_their_own_categories() {
        let u = user(&["+@all", "-@dangerous"]);
        assert_eq!(can(&u, "client id"), Ok(()));
        assert_eq!(can(&u, "client kill id 5"), Err(Denied::Command));
        assert_eq!(can(&u, "client list"), Err(Denied::Command));
        let u = user(&["+@all", "-@admin"]);
        assert_eq!(can(&u, "acl whoami"), Ok(()));
        assert_eq!(can(&u, "acl setuser x"), Err(Denied::Command));
        // Only the subcommands a category names change; others keep their state.
        let u = user(&["+@admin"]);
        assert_eq!(can(&u, "client kill id 5"), Ok(()));
        assert_eq!(can(&u, "client id"), Err(Denied::Command));
        assert_eq!(can(&u, "acl setuser x"), Ok(()));
        assert_eq!(can(&u, "acl whoami"), Err(Denied::Command));
        let u = user(&["-@all", "+acl|whoami", "+@admin"]);
        assert_eq!(can(&u, "acl whoami"), Ok(()));
        // SCRIPT's subcommands are @scripting but not @write (as in Redis).
        let u = user(&["+@all", "-@write"]);
        assert_eq!(can(&u, "script exists abc"), Ok(()));
        assert_eq!(can(&u, "set k v"), Err(Denied::Command));
        // +client allows every subcommand again.
        let u = user(&["+@all", "-@dangerous", "+client"]);
        assert_eq!(can(&u, "client kill id 5"), Ok(()));
    }

    #[test]
    fn key_patterns() {
        let u = user(&["+@all", "~app:*", "%R~ro:*", "%W~wo:*"]);
        assert_eq!(can(&u, "get app:1"), Ok(()));
        assert_eq!(can(&u, "set app:1 v"), Ok(()));
        assert_eq!(can(&u, "get other"), Err(Denied::Key(1)));
        assert_eq!(can(&u, "mset app:1 v other v"), Err(Denied::Key(3)));
        assert_eq!(can(&u, "get ro:1"), Ok(()));
        assert_eq!(can(&u, "set ro:1 v"), Err(Denied::Key(1)));
        assert_eq!(can(&u, "get wo:1"), Err(Denied::Key(1)));
        // Keyless commands are not affected.
        assert_eq!(can(&u, "ping"), Ok(()));
        assert_eq!(
            String::from_utf8(u.root.describe_keys()).unwrap(),
            "~app:* %R~ro:* %W~wo:*"
        );
        // Adding the same pattern again merges its permissions.
        let u = user(&["%R~k", "%W~k"]);
        assert_eq!(String::from_utf8(u.root.describe_keys()).unwrap(), "~k");
        let mut u = user(&["allkeys"]);
        assert_eq!(
            u.apply(&v(&["~x"])).unwrap_err().0,
            format!(
                "ERR Error in ACL SETUSER modifier '~x': {}",
                RuleError::KeyAfterAll.text()
            )
        );
        u.apply(&v(&["resetkeys", "~x"])).unwrap();
        assert_eq!(String::from_utf8(u.root.describe_keys()).unwrap(), "~x");
        for bad in ["%~x", "%X~x", "%RR~x", "%R"] {
            assert_eq!(
                User::new(b"x").apply(&v(&[bad])).unwrap_err().0,
                format!("ERR Error in ACL SETUSER modifier '{bad}': Syntax error")
            );
        }
    }

    #[test]
    fn channels() {
        let u = user(&["+@all", "&news.*"]);
        assert_eq!(can(&u, "publish news.a hi"), Ok(()));
        assert_eq!(can(&u, "publish other hi"), Err(Denied::Channel(1)));
        assert_eq!(can(&u, "subscribe news.a other"), Err(Denied::Channel(2)));
        // A PSUBSCRIBE pattern must be one of the user's patterns, literally.
        assert_eq!(can(&u, "psubscribe news.*"), Ok(()));
        assert_eq!(can(&u, "psubscribe news.a*"), Err(Denied::Channel(1)));
        let mut u = user(&["allchannels"]);
        assert!(u
            .apply(&v(&["&x"]))
            .unwrap_err()
            .0
            .contains("'allchannels'"));
        assert_eq!(can(&user(&["+@all", "allchannels"]), "publish x y"), Ok(()));
    }

    #[test]
    fn passwords_are_hashes() {
        let mut u = user(&["on", ">secret", ">other"]);
        assert_eq!(
            u.passwords,
            vec![hash_password(b"secret"), hash_password(b"other")]
        );
        assert!(u.password_matches(b"secret"));
        assert!(u.password_matches(b"other"));
        assert!(!u.password_matches(b"nope"));
        assert!(!describe(&u).contains("secret"));
        u.apply(&v(&["<secret"])).unwrap();
        assert!(!u.password_matches(b"secret"));
        assert_eq!(
            u.apply(&v(&["<secret"])).unwrap_err().0,
            format!(
                "ERR Error in ACL SETUSER modifier '<secret': {}",
                RuleError::NoSuchPassword.text()
            )
        );
        let h = hash_password(b"x");
        u.apply(&v(&[&format!("#{h}")])).unwrap();
        assert!(u.password_matches(b"x"));
        u.apply(&v(&[&format!("!{h}")])).unwrap();
        assert!(!u.password_matches(b"x"));
        assert!(u
            .apply(&v(&["#abc"]))
            .unwrap_err()
            .0
            .contains("exactly 64 characters"));
        assert!(u
            .apply(&v(&[&format!("#{}", h.to_uppercase())]))
            .unwrap_err()
            .0
            .contains("lowercase hexadecimal"));
        u.apply(&v(&["nopass"])).unwrap();
        assert!(u.nopass && u.passwords.is_empty() && u.password_matches(b"anything"));
        u.apply(&v(&["resetpass"])).unwrap();
        assert!(!u.password_matches(b"anything"));
    }

    #[test]
    fn errors_leave_the_user_unchanged() {
        let mut u = user(&["on", "+get"]);
        let before = describe(&u);
        let e = u.apply(&v(&["+set", "heeyyyy"])).unwrap_err();
        assert_eq!(
            e.0,
            "ERR Error in ACL SETUSER modifier 'heeyyyy': Syntax error"
        );
        assert_eq!(describe(&u), before);
        assert_eq!(
            u.apply(&v(&["+nosuchcmd"])).unwrap_err().0,
            "ERR Error in ACL SETUSER modifier '+nosuchcmd': Unknown command or category name in ACL"
        );
        assert!(u.apply(&v(&["+@nosuchcat"])).is_err());
        assert!(u.apply(&v(&["~a b"])).is_err());
    }

    #[test]
    fn reset_returns_to_a_new_user() {
        let mut u = user(&["on", ">p", "~*", "&*", "+@all", "(+get ~x)"]);
        u.apply(&v(&["reset"])).unwrap();
        assert_eq!(describe(&u), describe(&User::new(b"alice")));
    }

    #[test]
    fn selectors() {
        let u = user(&["on", "+get", "~a*", "(+set", "~b*)"]);
        assert_eq!(can(&u, "get a1"), Ok(()));
        assert_eq!(can(&u, "set b1 v"), Ok(()));
        assert_eq!(can(&u, "set a1 v"), Err(Denied::Key(1)));
        assert_eq!(can(&u, "get b1"), Err(Denied::Key(1)));
        assert!(
            describe(&u).ends_with(" (~b* resetchannels -@all +set)"),
            "{}",
            describe(&u)
        );
        let mut u = User::new(b"x");
        assert_eq!(
            u.apply(&v(&["(+get", "~x"])).unwrap_err().0,
            "ERR Unmatched parenthesis in acl selector starting at '(+get'."
        );
        let mut u = user(&["(+get)"]);
        u.apply(&v(&["clearselectors"])).unwrap();
        assert!(u.selectors.is_empty());
    }

    #[test]
    fn descriptions_round_trip() {
        for rules in [
            &[
                "on",
                ">p",
                "~a*",
                "%R~b",
                "&c*",
                "+@all",
                "-@dangerous",
                "+flushdb",
                "-config|set",
            ][..],
            &[
                "off",
                "nopass",
                "allkeys",
                "allchannels",
                "-@all",
                "+@read",
                "+select|1",
            ],
            &["on", "+get", "(~x %W~y +set &z)", "skip-sanitize-payload"],
        ] {
            let u = user(rules);
            let back = User::decode(b"alice", &u.describe()).expect("decodes");
            assert_eq!(describe(&back), describe(&u));
            for cmd in [
                "get a1",
                "get b",
                "set b v",
                "flushdb",
                "config set a b",
                "config get a",
                "select 1",
                "select 2",
                "publish c1 m",
                "set y v",
            ] {
                assert_eq!(can(&back, cmd), can(&u, cmd), "{cmd} for {rules:?}");
            }
        }
    }

    #[test]
    fn prepare_hashes_plaintext_passwords() {
        let out = prepare_setuser(&v(&["on", ">s3cret", "<old", "~*", "(+get", "~x)"])).unwrap();
        let text: Vec<String> = out
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert_eq!(text[1], format!("#{}", hash_password(b"s3cret")));
        assert_eq!(text[2], format!("!{}", hash_password(b"old")));
        assert_eq!(text[4], "(+get ~x)");
        assert!(!text
            .iter()
            .any(|t| t.contains("s3cret") || t.contains("old")));
        let e = prepare_setuser(&v(&["(+get", ">pw)"])).unwrap_err();
        assert!(
            e.0.contains("Syntax error") && !e.0.contains("pw)"),
            "{}",
            e.0
        );
    }

    #[test]
    fn denial_messages() {
        let set = table::lookup(b"set").unwrap();
        let a = argv("set k v");
        assert_eq!(
            denied_message(b"alice", set, &a, Denied::Command, false),
            "User alice has no permissions to run the 'set' command"
        );
        assert_eq!(
            denied_message(b"alice", set, &a, Denied::Key(1), false),
            "No permissions to access a key"
        );
        assert_eq!(
            denied_message(b"alice", set, &a, Denied::Key(1), true),
            "User alice has no permissions to access the 'k' key"
        );
        let config = table::lookup(b"config").unwrap();
        assert_eq!(
            denied_message(
                b"u",
                config,
                &argv("config SET a b"),
                Denied::Command,
                false
            ),
            "User u has no permissions to run the 'config|set' command"
        );
    }

    #[test]
    fn categories_list_commands() {
        let strings = category_commands("string").unwrap();
        assert!(strings.iter().any(|c| c == "get") && !strings.iter().any(|c| c == "lpush"));
        assert!(category_commands("nosuch").is_none());
        let dangerous = category_commands("DANGEROUS").unwrap();
        assert!(dangerous.iter().any(|c| c == "flushall"));
        assert!(dangerous.iter().any(|c| c == "client|kill"));
        assert!(!dangerous.iter().any(|c| c == "client"));
    }
}

#[cfg(test)]
mod roundtrip {
    use super::User;
    use proptest::prelude::*;

    const RULES: &[&str] = &[
        "on",
        "off",
        "nopass",
        "resetpass",
        ">p1",
        ">p2",
        "<p1",
        "!0000000000000000000000000000000000000000000000000000000000000000",
        "~a*",
        "%R~b",
        "%W~c",
        "%RW~d",
        "allkeys",
        "resetkeys",
        "&ch*",
        "allchannels",
        "resetchannels",
        "+get",
        "-get",
        "+@string",
        "-@write",
        "+@admin",
        "-@dangerous",
        "+@all",
        "-@all",
        "+config|get",
        "-config|set",
        "+client",
        "+select|0",
        "(+set ~x*)",
        "(~y &z -@all +@read)",
        "(~p) +get)",
        "~q)",
        "~(r",
        "&(s",
        "(",
        ")",
        "clearselectors",
        "reset",
        "skip-sanitize-payload",
        "sanitize-payload",
        "bogus",
    ];

    proptest! {
        /// Whatever SETUSER accepted is stored as a description that reads back as the
        /// same user: a record can never become unreadable.
        #[test]
        fn every_accepted_user_reads_back_identically(
            calls in proptest::collection::vec(
                proptest::collection::vec(0..RULES.len(), 0..5), 0..8)
        ) {
            let mut u = User::new(b"p");
            for call in calls {
                let ops: Vec<Vec<u8>> = call.iter().map(|&i| RULES[i].as_bytes().to_vec()).collect();
                let _ = u.apply(&ops);
            }
            let back = User::decode(b"p", &u.describe()).expect("stored user reads back");
            prop_assert_eq!(back.describe(), u.describe());
            for cmd in [&["get", "a1"][..], &["set", "x1", "v"], &["config", "set", "a", "b"], &["client", "kill", "id", "1"], &["select", "0"], &["publish", "ch1", "m"]] {
                let argv: Vec<Vec<u8>> = cmd.iter().map(|a| a.as_bytes().to_vec()).collect();
                let spec = crate::table::lookup(&argv[0]).unwrap();
                prop_assert_eq!(back.check(spec, &argv), u.check(spec, &argv));
            }
        }
    }
}

#[cfg(test)]
mod replicated {
    use crate::{MemStore, Txn};

    fn run(store: &mut MemStore, index: u64, argv: &[&str]) -> crate::Frame {
        let argv: Vec<Vec<u8>> = argv.iter().map(|s| s.as_bytes().to_vec()).collect();
        let mut t = Txn::new(store, index, 0, 0);
        let reply = t.run(0, &argv);
        let effects = t.into_effects();
        store.apply(&effects);
        reply
    }

    #[test]
    fn setuser_and_deluser_write_one_record_each() {
        let mut store = MemStore::default();
        let h = super::hash_password(b"pw");
        let set = format!("#{h}");
        assert_eq!(
            run(
                &mut store,
                1,
                &["acl", "setuser", "alice", "on", &set, "+get", "~k*"]
            ),
            crate::Frame::ok()
        );
        let raw = store
            .map
            .get(&(keys::Cf::Sm, super::user_key(b"alice")))
            .cloned()
            .expect("record written");
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            format!("on sanitize-payload #{h} ~k* resetchannels -@all +get")
        );
        // Rules add to the stored user; a bad rule changes nothing.
        run(&mut store, 2, &["acl", "setuser", "alice", "+set"]);
        let bad = run(&mut store, 3, &["acl", "setuser", "alice", "-get", "bogus"]);
        assert!(matches!(bad, crate::Frame::Error(ref e) if e.contains("'bogus': Syntax error")));
        let raw = store
            .map
            .get(&(keys::Cf::Sm, super::user_key(b"alice")))
            .unwrap();
        assert!(String::from_utf8_lossy(raw).ends_with("-@all +get +set"));
        // A plaintext password applied here (not through the server) is stored hashed.
        run(&mut store, 4, &["acl", "setuser", "alice", ">other"]);
        let raw = store
            .map
            .get(&(keys::Cf::Sm, super::user_key(b"alice")))
            .unwrap();
        assert!(!String::from_utf8_lossy(raw).contains("other"));
        assert!(matches!(
            run(&mut store, 5, &["acl", "setuser", "default", "off"]),
            crate::Frame::Error(ref e) if e.contains("'off': Meridian's 'default' user keeps every permission")
        ));
        assert!(matches!(
            run(&mut store, 5, &["acl", "setuser", "default", "nopass"]),
            crate::Frame::Error(_)
        ));
        assert!(!store
            .map
            .contains_key(&(keys::Cf::Sm, super::user_key(b"default"))));
        // The default user's passwords: only they change, every permission stays.
        let hd = super::hash_password(b"new");
        assert_eq!(
            run(
                &mut store,
                5,
                &[
                    "acl",
                    "setuser",
                    "default",
                    "resetpass",
                    &format!("#{hd}"),
                    "on"
                ]
            ),
            crate::Frame::ok()
        );
        let raw = store
            .map
            .get(&(keys::Cf::Sm, super::user_key(b"default")))
            .cloned()
            .expect("default record written");
        let d = super::User::decode(b"default", &raw).unwrap();
        assert_eq!(d.passwords, vec![hd]);
        assert!(d.enabled && !d.nopass);
        assert!(String::from_utf8_lossy(&raw).ends_with("~* &* +@all"));
        assert!(matches!(
            run(&mut store, 5, &["acl", "deluser", "default"]),
            crate::Frame::Error(ref e) if e == "ERR The 'default' user cannot be removed"
        ));
        assert_eq!(
            run(&mut store, 6, &["acl", "deluser", "alice", "nobody"]),
            crate::Frame::Integer(1)
        );
        assert!(!store
            .map
            .contains_key(&(keys::Cf::Sm, super::user_key(b"alice"))));
    }
}
