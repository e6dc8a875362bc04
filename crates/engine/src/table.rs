//! The command table: the single source of a command's arity, flags, key positions
//! and ACL categories. Read/write classification everywhere comes from here.

use crate::error::{CmdError, CmdResult};
use crate::txn::Txn;
use std::collections::HashMap;
use std::sync::OnceLock;

pub mod redis70;

pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const FAST: u32 = 1 << 10;
    pub const NO_AUTH: u32 = 1 << 11;
    pub const MAY_REPLICATE: u32 = 1 << 12;
    pub const ALLOW_BUSY: u32 = 1 << 13;
    pub const MOVABLE_KEYS: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;

    // Meridian's own flags, below: not in `NAMES`, so COMMAND INFO never shows them.

    /// Not a write, but goes through the log all the same (PUBLISH: every node
    /// delivers it).
    pub const LOGGED: u32 = 1 << 16;
    /// Refused over REST: connection state and MULTI & co mean nothing to stateless
    /// HTTP requests (/multi-exec is the transaction API).
    pub const NOT_OVER_REST: u32 = 1 << 17;
    /// Served over REST only as server-sent events (/subscribe, /psubscribe, /monitor).
    pub const REST_EVENTS: u32 = 1 << 18;
    /// Allowed while a RESP2 connection is in subscribed mode.
    pub const SUBSCRIBED_OK: u32 = 1 << 19;
    /// In RESP2 subscribed mode it answers `["pong", arg]` (PING, as Redis).
    pub const SUBSCRIBED_PONG: u32 = 1 << 20;
    /// The read-only REST token may run it although it is no read (PING, ECHO, and the
    /// /subscribe and /psubscribe event streams).
    pub const READ_TOKEN_OK: u32 = 1 << 21;
    /// A read the read-only REST token may still not run: it walks or reveals the whole
    /// keyspace.
    pub const READ_TOKEN_DENY: u32 = 1 << 22;
    /// Inside MULTI it runs at once instead of being queued.
    pub const NOT_QUEUED: u32 = 1 << 23;
    /// Runs a script: the leader tries it on its own state before proposing it, so one
    /// that runs away or is killed never reaches the log.
    pub const RUNS_SCRIPT: u32 = 1 << 24;
    /// Its KILL subcommand stops the running EVAL script at once, outside the log.
    pub const KILLS_SCRIPT: u32 = 1 << 25;
    /// Its KILL subcommand stops the running function at once, outside the log; its
    /// STATS subcommand is allowed while a script is busy (Redis flags it allow_busy).
    pub const KILLS_FUNCTION: u32 = 1 << 26;
    /// Never shown to MONITOR (its arguments carry a password).
    pub const MONITOR_HIDDEN: u32 = 1 << 27;

    /// Flag names as COMMAND INFO prints them.
    pub const NAMES: [(u32, &str); 16] = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (ALLOW_BUSY, "allow_busy"),
        (MOVABLE_KEYS, "movablekeys"),
        (NO_MULTI, "no_multi"),
    ];
}

/// Where a command's keys are: argv positions first..=last (negative = from the end),
/// every `step`. `first == 0` means no keys. Commands whose keys move with their
/// arguments provide `find` as well.
#[derive(Clone, Copy)]
pub struct KeySpec {
    pub first: i32,
    pub last: i32,
    pub step: i32,
    pub find: Option<fn(&[Vec<u8>]) -> Vec<usize>>,
}

pub enum Exec {
    /// Executed by the engine, deterministically.
    Engine(fn(&mut Txn, &[Vec<u8>]) -> CmdResult),
    /// Handled by the server's connection/session layer (AUTH, SELECT, CLIENT, MULTI,
    /// SUBSCRIBE, ...); the engine only answers an error.
    Session(SessionCmd),
    /// Handled by the session layer, which proposes the subcommands that change the
    /// replicated state; the engine applies those with the function (ACL: SETUSER and
    /// DELUSER go through the log, passwords hashed first).
    SessionProposes(SessionCmd, fn(&mut Txn, &[Vec<u8>]) -> CmdResult),
}

/// The commands the server's session layer runs, one variant each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionCmd {
    Auth,
    Hello,
    Select,
    Client,
    Quit,
    Reset,
    Command,
    Info,
    Shutdown,
    Config,
    Acl,
    Time,
    Subscribe,
    PSubscribe,
    SSubscribe,
    Unsubscribe,
    PUnsubscribe,
    SUnsubscribe,
    /// PUBSUB CHANNELS, NUMSUB, ...
    PubSub,
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    Monitor,
    /// ROLE, WAIT, WAITAOF, SAVE, BGSAVE, LASTSAVE, MEMORY, DEBUG (server/src/server_cmds.rs).
    Server,
}

/// Where a blocking command's timeout is (COMMAND INFO shows only the `blocking` flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// Never blocks.
    Never,
    /// The last argument, in seconds (BLPOP key [key ...] timeout).
    LastArg,
    /// The first argument, in seconds (BLMPOP timeout numkeys key ...).
    FirstArg,
    /// The `BLOCK milliseconds` option, looked for from argument `options_from` up to
    /// STREAMS; without it the command does not block (XREAD, XREADGROUP). Its `$` ids
    /// are resolved before it waits, and over REST it runs once without waiting.
    BlockOption { options_from: usize },
}

pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: positive = exact argc, negative = at least -arity.
    pub arity: i32,
    pub flags: u32,
    pub keys: KeySpec,
    /// ACL categories besides the ones implied by the flags, without '@'.
    pub acl: &'static [&'static str],
    /// Group name as COMMAND DOCS reports it (string, generic, connection, ...).
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub exec: Exec,
    /// The command reads nothing but the meta record of each of its keys (a string's
    /// value, a key's type and TTL), so a read of at most one key is atomic on its own:
    /// see [`CommandSpec::read_path`]. Set where the table is built, from the group
    /// (string, bitmap, generic, connection, server): keyspace walks such as KEYS, SCAN
    /// and RANDOMKEY name no key and are read directly as well.
    pub single_record: bool,
    /// Where its timeout is, if it blocks (rows set it with [`CommandSpec::blocks`]).
    pub block: Block,
}

/// How the read path runs a read-only command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPath {
    /// Directly on the live state: the command reads one record, which is atomic alone.
    OneRecord,
    /// On a point-in-time snapshot, so it never sees half of an applied entry.
    Snapshot,
}

impl CommandSpec {
    /// This row, blocking as `block` says.
    pub fn blocks(mut self, block: Block) -> CommandSpec {
        self.block = block;
        self
    }

    /// This row reads many records even with no key (KEYS, SCAN, RANDOMKEY walk the
    /// keyspace): its reads get a point-in-time snapshot, never a direct read.
    pub fn reads_many_records(mut self) -> CommandSpec {
        self.single_record = false;
        self
    }

    pub fn is_write(&self) -> bool {
        self.flags & (flags::WRITE | flags::LOGGED) != 0
    }

    /// The session-layer command this is, if the session layer runs it.
    pub fn session_cmd(&self) -> Option<SessionCmd> {
        match self.exec {
            Exec::Engine(_) => None,
            Exec::Session(c) | Exec::SessionProposes(c, _) => Some(c),
        }
    }

    /// How long `argv` may wait when it blocks: `None` if it does not block (XREAD
    /// without BLOCK, a negative BLOCK), `Some(None)` forever (a zero timeout). An
    /// unparsable timeout does not block, so the engine runs it once and reports the
    /// error.
    pub fn block_timeout(&self, argv: &[Vec<u8>]) -> Option<Option<std::time::Duration>> {
        crate::cmd::blocking::wait_time(self.block, argv)
    }

    /// A blocked command woken up: the type it waits for (as TYPE names it) and the
    /// positions of the keys it takes from.
    pub fn block_sources(&self, argv: &[Vec<u8>]) -> (&'static str, Vec<usize>) {
        crate::cmd::blocking::sources(self, argv)
    }

    /// `argv` narrowed to the source keys at `chosen` (see `block_sources`).
    pub fn block_narrow(&self, argv: &[Vec<u8>], chosen: &[usize]) -> Vec<Vec<u8>> {
        crate::cmd::blocking::narrow(self, argv, chosen)
    }

    /// Every ACL category, '@'-prefixed, as COMMAND INFO lists them.
    pub fn acl_categories(&self) -> Vec<String> {
        let mut out = Vec::new();
        let f = self.flags;
        if f & flags::WRITE != 0 {
            out.push("@write".to_string());
        }
        if f & flags::READONLY != 0 {
            out.push("@read".to_string());
        }
        for c in self.acl {
            out.push(format!("@{c}"));
        }
        if f & flags::ADMIN != 0 {
            out.push("@admin".to_string());
            out.push("@dangerous".to_string());
        }
        if f & flags::FAST != 0 {
            out.push("@fast".to_string());
        } else {
            out.push("@slow".to_string());
        }
        if f & flags::BLOCKING != 0 {
            out.push("@blocking".to_string());
        }
        if f & flags::PUBSUB != 0 && !self.acl.contains(&"pubsub") {
            out.push("@pubsub".to_string());
        }
        // Redis's order (its category bits): keyspace, read, write, ..., scripting.
        let rank = |c: &String| {
            crate::acl::CATEGORIES
                .iter()
                .position(|k| *k == &c[1..])
                .unwrap_or(usize::MAX)
        };
        out.sort_by_key(rank);
        out.dedup();
        out
    }

    pub fn flag_names(&self) -> Vec<&'static str> {
        flags::NAMES
            .iter()
            .filter(|(bit, _)| self.flags & bit != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    /// Whether a read of `argv` needs a snapshot: one that reads several records
    /// (several keys, or a collection's meta plus its elements) does; one that reads a
    /// single key's meta record does not.
    pub fn read_path(&self, argv: &[Vec<u8>]) -> ReadPath {
        if self.single_record && self.key_positions(argv).len() <= 1 {
            ReadPath::OneRecord
        } else {
            ReadPath::Snapshot
        }
    }

    /// Argument positions holding keys.
    pub fn key_positions(&self, argv: &[Vec<u8>]) -> Vec<usize> {
        if let Some(find) = self.keys.find {
            return find(argv);
        }
        let ks = self.keys;
        if ks.first <= 0 || ks.step <= 0 {
            return Vec::new();
        }
        let argc = argv.len() as i32;
        let last = if ks.last < 0 { argc + ks.last } else { ks.last };
        let mut out = Vec::new();
        let mut i = ks.first;
        while i <= last && i < argc {
            out.push(i as usize);
            i += ks.step;
        }
        out
    }
}

/// Keys at fixed positions.
pub const fn keys(first: i32, last: i32, step: i32) -> KeySpec {
    KeySpec {
        first,
        last,
        step,
        find: None,
    }
}

pub const NO_KEYS: KeySpec = keys(0, 0, 0);

fn index() -> &'static HashMap<&'static str, &'static CommandSpec> {
    static INDEX: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    INDEX.get_or_init(|| COMMANDS().iter().map(|c| (c.name, c)).collect())
}

/// Every command Meridian knows, in table order.
#[allow(non_snake_case)]
pub fn COMMANDS() -> &'static [CommandSpec] {
    static ALL: OnceLock<Vec<CommandSpec>> = OnceLock::new();
    ALL.get_or_init(crate::cmd::all_commands)
}

/// A command's position in `COMMANDS()` (per-command arrays are indexed by it).
pub fn index_of(spec: &CommandSpec) -> usize {
    let base = COMMANDS().as_ptr() as usize;
    (spec as *const CommandSpec as usize).wrapping_sub(base) / std::mem::size_of::<CommandSpec>()
}

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (i, b) in name.iter().enumerate() {
        buf[i] = b.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
    index().get(lower).copied()
}

pub fn check_arity(spec: &CommandSpec, argv: &[Vec<u8>]) -> Result<(), CmdError> {
    let n = argv.len() as i32;
    let ok = if spec.arity >= 0 {
        n == spec.arity
    } else {
        n >= -spec.arity
    };
    if ok {
        Ok(())
    } else {
        Err(CmdError::wrong_arity(spec.name))
    }
}

pub fn check_key_sizes(spec: &CommandSpec, argv: &[Vec<u8>]) -> Result<(), CmdError> {
    for i in spec.key_positions(argv) {
        if let Some(k) = argv.get(i) {
            if k.len() > crate::MAX_KEY_BYTES {
                return Err(CmdError::key_too_large(k.len()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_that_walk_or_touch_several_records_get_a_snapshot() {
        let av = |v: &[&str]| v.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>();
        let path = |v: &[&str]| lookup(v[0].as_bytes()).expect("known").read_path(&av(v));
        assert_eq!(path(&["get", "k"]), ReadPath::OneRecord);
        assert_eq!(path(&["ttl", "k"]), ReadPath::OneRecord);
        assert_eq!(path(&["mget", "a", "b"]), ReadPath::Snapshot);
        assert_eq!(path(&["hgetall", "h"]), ReadPath::Snapshot);
        for walk in [&["keys", "*"][..], &["scan", "0"], &["randomkey"]] {
            assert_eq!(path(walk), ReadPath::Snapshot, "{walk:?}");
        }
    }

    #[test]
    fn every_command_is_unique_lowercase_and_classified() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS() {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(
                !(c.flags & flags::WRITE != 0 && c.flags & flags::READONLY != 0),
                "{} is both write and readonly",
                c.name
            );
            assert!(c.arity != 0, "{} has arity 0", c.name);
            assert!(
                !c.group.is_empty() && !c.summary.is_empty(),
                "{} lacks docs",
                c.name
            );
        }
    }

    #[test]
    fn blocking_commands_say_where_their_timeout_is() {
        for c in COMMANDS() {
            assert_eq!(
                c.flags & flags::BLOCKING != 0,
                c.block != Block::Never,
                "{}",
                c.name
            );
        }
        let argv =
            |a: &[&str]| -> Vec<Vec<u8>> { a.iter().map(|s| s.as_bytes().to_vec()).collect() };
        let wait = |a: &[&str]| lookup(a[0].as_bytes()).unwrap().block_timeout(&argv(a));
        use std::time::Duration;
        assert_eq!(
            wait(&["blpop", "a", "b", "1.5"]),
            Some(Some(Duration::from_millis(1500)))
        );
        assert_eq!(wait(&["blpop", "a", "0"]), Some(None));
        assert_eq!(wait(&["blpop", "a", "x"]), None);
        assert_eq!(
            wait(&["blmpop", "2", "1", "a", "left"]),
            Some(Some(Duration::from_secs(2)))
        );
        assert_eq!(wait(&["get", "a"]), None);
        let ms = Duration::from_millis;
        assert_eq!(
            wait(&["xread", "BLOCK", "100", "STREAMS", "s", "0"]),
            Some(Some(ms(100)))
        );
        assert_eq!(
            wait(&["xread", "count", "1", "streams", "block", "0"]),
            None
        );
        assert_eq!(wait(&["xread", "block", "-1", "streams", "s", "0"]), None);
        let group = [
            "xreadgroup",
            "group",
            "block",
            "c",
            "block",
            "0",
            "streams",
            "s",
            ">",
        ];
        assert_eq!(wait(&group), Some(None));
        assert_eq!(
            wait(&["xreadgroup", "group", "block", "5", "streams", "s", ">"]),
            None
        );
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'x'; 100]).is_none());
    }

    #[test]
    fn key_positions_follow_the_spec() {
        let argv: Vec<Vec<u8>> = ["mset", "a", "1", "b", "2"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert_eq!(lookup(b"mset").unwrap().key_positions(&argv), vec![1, 3]);
        let argv: Vec<Vec<u8>> = ["bitop", "and", "d", "s1", "s2"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert_eq!(
            lookup(b"bitop").unwrap().key_positions(&argv),
            vec![2, 3, 4]
        );
        assert_eq!(
            lookup(b"ping").unwrap().key_positions(&argv),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn read_path_is_direct_only_for_one_meta_record() {
        let argv =
            |a: &[&str]| -> Vec<Vec<u8>> { a.iter().map(|s| s.as_bytes().to_vec()).collect() };
        let path = |a: &[&str]| lookup(a[0].as_bytes()).unwrap().read_path(&argv(a));
        assert_eq!(path(&["get", "k"]), ReadPath::OneRecord);
        assert_eq!(path(&["getbit", "k", "1"]), ReadPath::OneRecord);
        assert_eq!(path(&["ttl", "k"]), ReadPath::OneRecord);
        assert_eq!(path(&["ping"]), ReadPath::OneRecord);
        assert_eq!(path(&["mget", "a"]), ReadPath::OneRecord);
        assert_eq!(path(&["mget", "a", "b"]), ReadPath::Snapshot);
        assert_eq!(path(&["exists", "a", "b"]), ReadPath::Snapshot);
        assert_eq!(path(&["hget", "h", "f"]), ReadPath::Snapshot);
        assert_eq!(path(&["zscore", "z", "m"]), ReadPath::Snapshot);
        assert_eq!(path(&["lrange", "l", "0", "-1"]), ReadPath::Snapshot);
    }
}
