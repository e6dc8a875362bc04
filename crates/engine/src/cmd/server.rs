//! Connection and server commands. Most are handled by the server's session layer
//! (`Exec::Session`); the table still owns their arity, flags and docs.

use super::spec;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, CommandSpec, Exec, SessionCmd, NO_KEYS};
use crate::txn::Txn;
use crate::{args, Frame};

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
            &[],
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
