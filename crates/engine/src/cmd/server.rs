//! Connection and server commands. Most are handled by the server's session layer
//! (`Exec::Session`); the table still owns their arity, flags and docs.

use super::spec;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec, Exec, SessionCmd, NO_KEYS};
use crate::txn::Txn;
use crate::{args, Frame};
use keys::{Cf, Kind, Meta};

pub fn commands() -> Vec<CommandSpec> {
    use Exec::{Engine as E, Session as S};
    let conn: &'static [&'static str] = &["connection"];
    vec![
        spec(
            "auth",
            -2,
            NOSCRIPT
                | LOADING
                | STALE
                | FAST
                | NO_AUTH
                | ALLOW_BUSY
                | NOT_OVER_REST
                | MONITOR_HIDDEN,
            NO_KEYS,
            conn,
            "connection",
            "1.0.0",
            "Authenticates the connection.",
            S(SessionCmd::Auth),
        ),
        spec(
            "hello",
            -1,
            NOSCRIPT
                | LOADING
                | STALE
                | FAST
                | NO_AUTH
                | ALLOW_BUSY
                | NOT_OVER_REST
                | MONITOR_HIDDEN,
            NO_KEYS,
            conn,
            "connection",
            "6.0.0",
            "Handshakes with the Redis server.",
            S(SessionCmd::Hello),
        ),
        spec(
            "select",
            2,
            LOADING | STALE | FAST | NOT_OVER_REST,
            NO_KEYS,
            conn,
            "connection",
            "1.0.0",
            "Changes the selected database.",
            S(SessionCmd::Select),
        ),
        spec(
            "client",
            -2,
            NOSCRIPT | LOADING | STALE | NOT_OVER_REST,
            NO_KEYS,
            conn,
            "connection",
            "2.4.0",
            "A container for client connection commands.",
            S(SessionCmd::Client),
        ),
        spec(
            "quit",
            -1,
            NOSCRIPT
                | LOADING
                | STALE
                | FAST
                | NO_AUTH
                | ALLOW_BUSY
                | NOT_OVER_REST
                | SUBSCRIBED_OK
                | NOT_QUEUED,
            NO_KEYS,
            conn,
            "connection",
            "1.0.0",
            "Closes the connection.",
            S(SessionCmd::Quit),
        ),
        spec(
            "reset",
            1,
            NOSCRIPT
                | LOADING
                | STALE
                | FAST
                | NO_AUTH
                | ALLOW_BUSY
                | NOT_OVER_REST
                | SUBSCRIBED_OK
                | NOT_QUEUED,
            NO_KEYS,
            conn,
            "connection",
            "6.2.0",
            "Resets the connection.",
            S(SessionCmd::Reset),
        ),
        spec(
            "ping",
            -1,
            FAST | SUBSCRIBED_OK | SUBSCRIBED_PONG | READ_TOKEN_OK,
            NO_KEYS,
            conn,
            "connection",
            "1.0.0",
            "Returns the server's liveliness response.",
            E(ping),
        ),
        spec(
            "echo",
            2,
            FAST | READ_TOKEN_OK,
            NO_KEYS,
            conn,
            "connection",
            "1.0.0",
            "Returns the given string.",
            E(echo),
        ),
        spec(
            "command",
            -1,
            LOADING | STALE,
            NO_KEYS,
            conn,
            "server",
            "2.8.13",
            "Returns detailed information about all commands.",
            S(SessionCmd::Command),
        ),
        spec(
            "info",
            -1,
            LOADING | STALE,
            NO_KEYS,
            &["dangerous"],
            "server",
            "1.0.0",
            "Returns information and statistics about the server.",
            S(SessionCmd::Info),
        ),
        spec(
            "shutdown",
            -1,
            ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY | NOT_OVER_REST,
            NO_KEYS,
            &[],
            "server",
            "1.0.0",
            "Synchronously saves the database(s) to disk and shuts down the Redis server.",
            S(SessionCmd::Shutdown),
        ),
        spec(
            "config",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            NO_KEYS,
            &[],
            "server",
            "2.0.0",
            "A container for server configuration commands.",
            S(SessionCmd::Config),
        ),
        // ACL SETUSER / DELUSER change the replicated users inside a log entry; the server
        // answers every other subcommand and rewrites passwords into hashes first.
        spec(
            "acl",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            NO_KEYS,
            &[],
            "server",
            "6.0.0",
            "A container for Access List Control commands.",
            Exec::SessionProposes(SessionCmd::Acl, crate::acl::acl_command),
        ),
        spec(
            "time",
            1,
            LOADING | STALE | FAST,
            NO_KEYS,
            &[],
            "server",
            "2.6.0",
            "Returns the server time.",
            S(SessionCmd::Time),
        ),
        spec(
            "dbsize",
            1,
            READONLY | FAST,
            NO_KEYS,
            &["keyspace"],
            "server",
            "1.0.0",
            "Returns the number of keys in the database.",
            E(dbsize),
        ),
        spec(
            "flushdb",
            -1,
            WRITE,
            NO_KEYS,
            &["keyspace", "dangerous"],
            "server",
            "1.0.0",
            "Removes all keys from the current database.",
            E(flushdb),
        ),
        spec(
            "flushall",
            -1,
            WRITE,
            NO_KEYS,
            &["keyspace", "dangerous"],
            "server",
            "1.0.0",
            "Removes all keys from all databases.",
            E(flushall),
        ),
        // Server commands answered by the session (server/src/server_cmds.rs): they need
        // the node (Raft status, snapshots, memory) or the connection (its last write).
        spec(
            "role",
            1,
            NOSCRIPT | LOADING | STALE | FAST,
            NO_KEYS,
            &["admin", "dangerous"],
            "server",
            "2.8.12",
            "Returns the replication role.",
            S(SessionCmd::Server),
        ),
        spec(
            "wait",
            3,
            NOSCRIPT | NOT_OVER_REST,
            NO_KEYS,
            conn,
            "generic",
            "3.0.0",
            "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
            S(SessionCmd::Server),
        ),
        spec(
            "waitaof",
            4,
            NOSCRIPT | NOT_OVER_REST,
            NO_KEYS,
            conn,
            "generic",
            "7.2.0",
            "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.",
            S(SessionCmd::Server),
        ),
        spec(
            "lastsave",
            1,
            LOADING | STALE | FAST,
            NO_KEYS,
            &["admin", "dangerous"],
            "server",
            "1.0.0",
            "Returns the Unix timestamp of the last successful save to disk.",
            S(SessionCmd::Server),
        ),
        spec(
            "save",
            1,
            ADMIN | NOSCRIPT | NO_MULTI,
            NO_KEYS,
            &[],
            "server",
            "1.0.0",
            "Synchronously saves the database(s) to disk.",
            S(SessionCmd::Server),
        ),
        spec(
            "bgsave",
            -1,
            ADMIN | NOSCRIPT,
            NO_KEYS,
            &[],
            "server",
            "1.0.0",
            "Asynchronously saves the database(s) to disk.",
            S(SessionCmd::Server),
        ),
        // MEMORY USAGE reads the key through the engine (`memory` below) on the read
        // path; the other subcommands are the node's figures.
        spec(
            "memory",
            -2,
            0,
            crate::table::keys(2, 2, 1),
            &[],
            "server",
            "4.0.0",
            "A container for memory diagnostics commands.",
            Exec::SessionProposes(SessionCmd::Server, memory),
        ),
        // DEBUG OBJECT reads the key through the engine (`debug` below).
        spec(
            "debug",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE | NOT_OVER_REST,
            NO_KEYS,
            &[],
            "server",
            "1.0.0",
            "A container for debugging commands.",
            Exec::SessionProposes(SessionCmd::Server, debug),
        ),
        spec(
            "lolwut",
            -1,
            READONLY | FAST,
            NO_KEYS,
            &[],
            "server",
            "5.0.0",
            "Displays computer art and the Redis version",
            E(lolwut),
        ),
        spec(
            "replicaof",
            3,
            ADMIN | NOSCRIPT | STALE,
            NO_KEYS,
            &[],
            "server",
            "5.0.0",
            "Configures a server as replica of another, or promotes it to a master.",
            E(replicaof),
        ),
        spec(
            "slaveof",
            3,
            ADMIN | NOSCRIPT | STALE,
            NO_KEYS,
            &[],
            "server",
            "1.0.0",
            "Sets a Redis server as a replica of another, or promotes it to being a master.",
            E(replicaof),
        ),
        spec(
            "swapdb",
            3,
            WRITE | FAST,
            NO_KEYS,
            &["keyspace", "dangerous"],
            "server",
            "4.0.0",
            "Swaps two Redis databases.",
            E(swapdb),
        ),
    ]
}

fn ping(_t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    match argv.len() {
        1 => Ok(Frame::Simple("PONG".into())),
        2 => Ok(Frame::Bulk(argv[1].clone())),
        _ => Err(CmdError::wrong_arity("ping")),
    }
}

fn echo(_t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    Ok(Frame::Bulk(argv[1].clone()))
}

fn dbsize(t: &mut Txn, _argv: &[Vec<u8>]) -> CmdResult {
    Ok(Frame::Integer(t.key_count(t.db)? as i64))
}

/// FLUSHDB/FLUSHALL take ASYNC or SYNC; both are O(1) here (range deletes).
fn flush_mode(argv: &[Vec<u8>]) -> Result<(), CmdError> {
    match argv.len() {
        1 => Ok(()),
        2 if args::is(&argv[1], "async") || args::is(&argv[1], "sync") => Ok(()),
        _ => Err(CmdError::syntax()),
    }
}

fn flushdb(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    flush_mode(argv)?;
    t.flush_db(t.db);
    Ok(Frame::ok())
}

fn flushall(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    flush_mode(argv)?;
    for db in 0..keys::DATABASES as u8 {
        t.flush_db(db);
    }
    Ok(Frame::ok())
}

/// SWAPDB index1 index2 (see [`Txn::swap_dbs`]).
fn swapdb(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let index = |arg: &[u8], which: &str| -> Result<i64, CmdError> {
        args::parse_i64(arg)
            .ok()
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| CmdError::new(format!("ERR invalid {which} DB index")))
    };
    let (a, b) = (index(&argv[1], "first")?, index(&argv[2], "second")?);
    let range = 0..keys::DATABASES as i64;
    if !range.contains(&a) || !range.contains(&b) {
        return Err(CmdError::new("ERR DB index is out of range"));
    }
    t.swap_dbs(a as u8, b as u8)?;
    Ok(Frame::ok())
}

/// REPLICAOF / SLAVEOF: replication is Raft membership here, managed with the CLI.
fn replicaof(_t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    Err(CmdError::new(format!(
        "ERR {} is not supported: replicas are managed with 'meridian cluster add-replica' \
         (and 'meridian cluster promote', 'remove-node', 'transfer-leader'); \
         see 'meridian cluster --help'",
        String::from_utf8_lossy(&argv[0]).to_ascii_uppercase()
    )))
}

/// The bytes a key occupies in storage: its meta record (with the key) and its element
/// records, keys and values. `samples` > 0 reads at most that many elements' records and
/// extrapolates from their average size over the key's element count (Redis samples
/// nested values the same way); 0 reads every record.
pub(crate) fn key_bytes(t: &Txn, key: &[u8], meta: &Meta, samples: u64) -> Result<u64, CmdError> {
    let own = (keys::meta_key(t.db, key).len() + meta.encode().len()) as u64;
    if matches!(meta.kind, Kind::String | Kind::Json) {
        return Ok(own);
    }
    // Records per element: a sorted set keeps a member record and a score-index record.
    let per_element: u64 = if meta.kind == Kind::ZSet { 2 } else { 1 };
    let limit = samples.saturating_mul(per_element);
    let prefix = keys::data_prefix(t.db, key, meta.version);
    let end = crate::coll::prefix_end(&prefix);
    let (mut n, mut bytes, mut complete) = (0u64, 0u64, true);
    t.raw_scan(Cf::Data, &prefix, &end, &mut |k, v| {
        if limit > 0 && n >= limit {
            complete = false;
            return false;
        }
        n += 1;
        bytes += (k.len() + v.len()) as u64;
        true
    })?;
    if complete || n == 0 {
        return Ok(own + bytes);
    }
    let total = meta.len.saturating_mul(per_element).max(n);
    Ok(own + (bytes as f64 / n as f64 * total as f64) as u64)
}

/// MEMORY: the engine answers USAGE (it reads the key); the session answers the rest.
fn memory(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    if !args::is(&argv[1], "usage") {
        return Err(CmdError::new(
            "ERR MEMORY is answered by the session except MEMORY USAGE",
        ));
    }
    if argv.len() < 3 {
        return Err(CmdError::wrong_arity("memory|usage"));
    }
    let samples = match &argv[3..] {
        [] => 5,
        [opt, n] if args::is(opt, "samples") => {
            let n = args::parse_i64(n)?;
            if n < 0 {
                return Err(CmdError::syntax());
            }
            n as u64
        }
        _ => return Err(CmdError::syntax()),
    };
    let Some(meta) = t.get_meta(&argv[2])? else {
        return Ok(Frame::Null);
    };
    Ok(Frame::Integer(
        key_bytes(t, &argv[2], &meta, samples)?.min(i64::MAX as u64) as i64,
    ))
}

/// DEBUG: the engine answers OBJECT (it reads the key); the session answers the rest.
fn debug(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    if !(args::is(&argv[1], "object") && argv.len() == 3) {
        return Err(CmdError::new(
            "ERR DEBUG is answered by the session except DEBUG OBJECT",
        ));
    }
    let key = &argv[2];
    let Some(meta) = t.get_meta(key)? else {
        return Err(CmdError::no_such_key());
    };
    // Redis's line with Meridian's values: the "address" is the value's version (its
    // identity in storage), the length is its bytes in storage, the LRU clock is the
    // time of its last write (reads do not record access times here, see OBJECT
    // IDLETIME).
    let lru = (meta.mtime_ms / 1000) & ((1 << 24) - 1);
    let idle = t.now_ms.saturating_sub(meta.mtime_ms) / 1000;
    let mut line = format!(
        "Value at:0x{:x} refcount:1 encoding:{} serializedlength:{} lru:{lru} lru_seconds_idle:{idle}",
        meta.version,
        super::generic::encoding(t, key, &meta)?,
        key_bytes(t, key, &meta, 0)?,
    );
    if meta.kind == Kind::List {
        line.push_str(&format!(" ql_nodes:1 ql_avg_node:{}.00", meta.len));
    }
    Ok(Frame::Simple(line))
}

/// LOLWUT [VERSION v]: a globe with its meridians, then the version line. Other
/// arguments are ignored, as Redis does.
fn lolwut(_t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let mut version = 1i64;
    let mut i = 1;
    while i < argv.len() {
        if args::is(&argv[i], "version") && i + 1 < argv.len() {
            version = args::parse_i64(&argv[i + 1])?;
            i += 1;
        }
        i += 1;
    }
    // Radius grows a little with the version asked, within bounds.
    let r = (6 + version.clamp(0, 6)) as f64;
    let mut out = String::new();
    let rows = r as i64;
    for y in -rows..=rows {
        let yf = y as f64;
        let half = (r * r - yf * yf).max(0.0).sqrt();
        let mut line = String::new();
        for x in -(2 * rows)..=(2 * rows) {
            let xf = x as f64 / 2.0;
            let c = if xf.abs() > half + 0.25 {
                ' '
            } else if (xf.abs() - half).abs() <= 0.5 {
                'o'
            } else if y == 0 {
                '='
            } else if [-2.0, -1.0, 0.0, 1.0, 2.0]
                .iter()
                .any(|k| (xf - k / 3.0 * half).abs() < 0.26)
            {
                '|'
            } else {
                '.'
            };
            line.push(c);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\nMeridian - meridians, ASCII on terminal, 2026. Meridian ver. {}\n",
        env!("CARGO_PKG_VERSION")
    ));
    Ok(Frame::Verbatim("txt".into(), out.into_bytes()))
}
