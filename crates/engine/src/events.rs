//! What applying a command tells the world besides its reply: keys it touched (for
//! blocked clients), pub/sub messages (PUBLISH) and keyspace notifications.
//!
//! Commands never deliver anything themselves. A [`Txn`](crate::Txn) records touched keys
//! at its write chokepoints (`put_meta`, `delete_key`, expiry) and messages from PUBLISH;
//! after each command it derives Redis's keyspace events from the command and the keys
//! it touched ([`derive`]), when the node's [`Bus`] says notifications are on. The caller
//! (the state machine) delivers the events once the entry's effects are written.

/// The node-local side of pub/sub, as seen from inside a command.
pub trait Bus: Send + Sync {
    /// How many local subscribers a message on `channel` reaches (PUBLISH's reply).
    fn receivers(&self, channel: &[u8], sharded: bool) -> i64;
    /// The `notify-keyspace-events` classes enabled on this node (see [`class`]).
    fn keyspace_flags(&self) -> u32;
}

/// How a command changed a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Written; `created` when the key did not exist (or had expired) before.
    Written {
        created: bool,
    },
    Deleted,
    /// Deleted because its time to live ran out.
    Expired,
    /// FLUSHDB / FLUSHALL emptied database `db` (the key is empty): client-side
    /// caching tells every tracking client. Raises no keyspace event.
    Flushed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touched {
    pub db: u8,
    pub key: Vec<u8>,
    pub touch: Touch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// PUBLISH / SPUBLISH.
    Message {
        channel: Vec<u8>,
        payload: Vec<u8>,
        sharded: bool,
    },
    /// A keyspace notification: `event` happened to `key` (class bits in `class`).
    Keyspace {
        db: u8,
        class: u32,
        event: String,
        key: Vec<u8>,
    },
}

/// notify-keyspace-events classes, with Redis's letters.
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n
    /// A = g$lshzxetd (not m, not n).
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses a notify-keyspace-events value; None for an unknown letter.
pub fn parse_flags(s: &[u8]) -> Option<u32> {
    use class::*;
    let mut f = 0;
    for &c in s {
        f |= match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => return None,
        };
    }
    // Like Redis: without K or E nothing is delivered, so the value is empty.
    if f & (KEYSPACE | KEYEVENT) == 0 {
        f = 0;
    }
    Some(f)
}

/// The canonical string CONFIG GET shows (Redis's order).
pub fn flags_to_string(f: u32) -> String {
    use class::*;
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [
        (KEYSPACE, 'K'),
        (KEYEVENT, 'E'),
        (KEY_MISS, 'm'),
        (NEW, 'n'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

fn group_class(group: &str) -> u32 {
    match group {
        "string" | "bitmap" | "hyperloglog" => class::STRING,
        "list" => class::LIST,
        "set" => class::SET,
        "hash" => class::HASH,
        "sorted-set" | "sorted_set" | "zset" | "geo" => class::ZSET,
        "stream" => class::STREAM,
        "json" => class::MODULE,
        _ => class::GENERIC,
    }
}

fn upper(a: Option<&Vec<u8>>) -> Vec<u8> {
    a.map(|a| a.to_ascii_uppercase()).unwrap_or_default()
}

fn has_opt(argv: &[Vec<u8>], from: usize, opts: &[&[u8]]) -> bool {
    argv.iter()
        .skip(from)
        .any(|a| opts.iter().any(|o| a.eq_ignore_ascii_case(o)))
}

/// Redis's event name for `key` (at argv position `pos`, if it is one) changed by
/// command `name`, with its class. None for a touch that has no event of its own.
fn event_name(name: &str, group: &str, argv: &[Vec<u8>], pos: Option<usize>) -> (u32, String) {
    use class::*;
    let g = group_class(group);
    let side = |p: usize| if p == 1 { 0 } else { 1 };
    let e: &str = match name {
        "del" | "unlink" | "getdel" => return (GENERIC, "del".into()),
        "expire" | "pexpire" | "expireat" | "pexpireat" => return (GENERIC, "expire".into()),
        "persist" => return (GENERIC, "persist".into()),
        "rename" | "renamenx" => {
            let e = if pos == Some(1) {
                "rename_from"
            } else {
                "rename_to"
            };
            return (GENERIC, e.into());
        }
        "copy" => return (GENERIC, "copy_to".into()),
        "move" => return (GENERIC, "move_from".into()),
        "restore" => return (GENERIC, "restore".into()),
        "sort" => return (LIST, "sortstore".into()),
        "set" | "setnx" | "setex" | "psetex" | "mset" | "msetnx" | "getset" | "bitop" => "set",
        "incr" | "decr" | "incrby" | "decrby" => "incrby",
        "bitfield" => "setbit",
        "getex" => {
            return (
                GENERIC,
                if has_opt(argv, 2, &[b"PERSIST"]) {
                    "persist".into()
                } else {
                    "expire".into()
                },
            )
        }
        "lpushx" => "lpush",
        "rpushx" => "rpush",
        "blpop" => "lpop",
        "brpop" => "rpop",
        "lmpop" | "blmpop" => {
            if has_opt(argv, 2, &[b"RIGHT"]) {
                "rpop"
            } else {
                "lpop"
            }
        }
        "rpoplpush" | "brpoplpush" => {
            if pos == Some(1) {
                "rpop"
            } else {
                "lpush"
            }
        }
        "lmove" | "blmove" => {
            let (from, to) = if name == "lmove" { (3, 4) } else { (3, 4) };
            let which = if pos.map(side) == Some(0) { from } else { to };
            let left = upper(argv.get(which)) == b"LEFT";
            match (pos.map(side) == Some(0), left) {
                (true, true) => "lpop",
                (true, false) => "rpop",
                (false, true) => "lpush",
                (false, false) => "rpush",
            }
        }
        "hmset" | "hsetnx" => "hset",
        "hpexpire" | "hexpireat" | "hpexpireat" => "hexpire",
        "smove" => {
            if pos == Some(1) {
                "srem"
            } else {
                "sadd"
            }
        }
        "zadd" if has_opt(argv, 2, &[b"INCR"]) => "zincr",
        "zincrby" => "zincr",
        "bzpopmin" => "zpopmin",
        "bzpopmax" => "zpopmax",
        "zmpop" | "bzmpop" => {
            if has_opt(argv, 2, &[b"MAX"]) {
                "zpopmax"
            } else {
                "zpopmin"
            }
        }
        "geoadd" => "zadd",
        "pfmerge" => "pfadd",
        "xgroup" => {
            let sub = argv
                .get(1)
                .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
                .unwrap_or_default();
            return (STREAM, format!("xgroup-{sub}"));
        }
        other => other,
    };
    (g, e.to_string())
}

/// The keyspace events of one command that touched `touched` (in order), filtered by the
/// enabled `flags`. Follows Redis: one event per changed key named after the command
/// (with Redis's renames), `new` when a key is created, `del` when a command empties
/// a collection, `expire` when SET/GETEX/SETEX set a TTL, `expired` for TTL deletions.
pub fn derive(
    flags: u32,
    name: &str,
    group: &str,
    argv: &[Vec<u8>],
    touched: &[Touched],
    out: &mut Vec<Event>,
) {
    use class::*;
    if flags & (KEYSPACE | KEYEVENT) == 0 {
        return;
    }
    let mut push = |db: u8, class: u32, event: String, key: &[u8]| {
        if flags & class != 0 {
            out.push(Event::Keyspace {
                db,
                class,
                event,
                key: key.to_vec(),
            });
        }
    };
    // Each key once, in the order first touched, judged by its first and last touch.
    let mut done: Vec<usize> = Vec::new();
    for (i, t) in touched.iter().enumerate() {
        if done
            .iter()
            .any(|&j| touched[j].key == t.key && touched[j].db == t.db)
        {
            continue;
        }
        done.push(i);
        let last = touched[i..]
            .iter()
            .rev()
            .find(|u| u.key == t.key && u.db == t.db)
            .map_or(t.touch, |u| u.touch);
        if t.touch == Touch::Flushed {
            continue;
        }
        if t.touch == Touch::Expired {
            push(t.db, EXPIRED, "expired".into(), &t.key);
            continue;
        }
        let pos = argv.iter().skip(1).position(|a| *a == t.key).map(|p| p + 1);
        let (c, e) = event_name(name, group, argv, pos);
        match last {
            Touch::Expired => push(t.db, EXPIRED, "expired".into(), &t.key),
            Touch::Flushed => {}
            Touch::Written { .. } => {
                if t.touch == (Touch::Written { created: true }) {
                    push(t.db, NEW, "new".into(), &t.key);
                }
                push(t.db, c, e, &t.key);
                if matches!(name, "set" | "getex")
                    && has_opt(argv, 3, &[b"EX", b"PX", b"EXAT", b"PXAT"])
                    || matches!(name, "setex" | "psetex")
                {
                    push(t.db, GENERIC, "expire".into(), &t.key);
                }
            }
            Touch::Deleted => {
                let own = matches!(
                    name,
                    "del" | "unlink" | "getdel" | "rename" | "renamenx" | "move"
                );
                let just_del = name.ends_with("store")
                    || matches!(
                        name,
                        "expire" | "pexpire" | "expireat" | "pexpireat" | "getex" | "bitop"
                    );
                if own {
                    push(t.db, c, e, &t.key);
                } else {
                    // An emptied collection (LPOP of the last element, SREM): the
                    // command's event, then del; a TTL in the past or an empty STORE
                    // result: del alone.
                    if !just_del {
                        push(t.db, c, e, &t.key);
                    }
                    push(t.db, GENERIC, "del".into(), &t.key);
                }
            }
        }
    }
}
