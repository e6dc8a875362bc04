//! Blocking list and sorted-set pops, as the engine runs them: without blocking.
//!
//! BLPOP and friends validate their timeout, then pop from the first non-empty key by
//! running the non-blocking command (LPOP, LMOVE, ZPOPMIN, ...) on it, so replies,
//! errors and keyspace events are those commands'. When every key is empty they answer
//! nil, which is also what they do inside MULTI and scripts (as Redis). Waiting is the
//! server's job: it re-runs the command when a write touches one of its keys, until
//! the timeout (see the session layer). On a replica the pop is a write like any other.

use super::spec;
use crate::args;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, Block, CommandSpec, Exec, KeySpec};
use crate::txn::Txn;
use crate::Frame;
use std::time::Duration;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let l: &'static [&'static str] = &["list"];
    let z: &'static [&'static str] = &["sortedset"];
    let f = WRITE | BLOCKING;
    // Redis 7.0 refuses these in scripts; BLMPOP and BZMPOP run there without blocking.
    let ns = NOSCRIPT;
    let mpop = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        find: Some(mpop_keys),
    };
    vec![
        spec("blpop", -3, f | ns, keys(1, -2, 1), l, "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", E(blpop)).blocks(Block::LastArg),
        spec("brpop", -3, f | ns, keys(1, -2, 1), l, "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", E(brpop)).blocks(Block::LastArg),
        spec("brpoplpush", 4, f | ns | DENYOOM, keys(1, 2, 1), l, "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", E(brpoplpush)).blocks(Block::LastArg),
        spec("blmove", 6, f | ns | DENYOOM, keys(1, 2, 1), l, "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", E(blmove)).blocks(Block::LastArg),
        spec("blmpop", -5, f | MOVABLE_KEYS, mpop, l, "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", E(blmpop)).blocks(Block::FirstArg),
        spec("bzpopmin", -3, f | ns | FAST, keys(1, -2, 1), z, "sorted_set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", E(bzpopmin)).blocks(Block::LastArg),
        spec("bzpopmax", -3, f | ns | FAST, keys(1, -2, 1), z, "sorted_set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", E(bzpopmax)).blocks(Block::LastArg),
        spec("bzmpop", -5, f | MOVABLE_KEYS, mpop, z, "sorted_set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", E(bzmpop)).blocks(Block::FirstArg),
    ]
}

/// BLMPOP/BZMPOP timeout numkeys key ...: the keys follow numkeys.
fn mpop_keys(argv: &[Vec<u8>]) -> Vec<usize> {
    let n = argv
        .get(2)
        .and_then(|a| args::parse_i64_opt(a))
        .filter(|&n| n >= 1)
        .unwrap_or(0) as usize;
    (3..argv.len().min(3usize.saturating_add(n))).collect()
}

/// A blocking timeout in seconds (fractions allowed, 0 = forever), validated as Redis.
pub fn parse_timeout(arg: &[u8]) -> Result<f64, CmdError> {
    let v = args::parse_f64_opt(arg)
        .filter(|v| v.is_finite())
        .ok_or_else(|| CmdError::new("ERR timeout is not a float or out of range"))?;
    if v < 0.0 {
        return Err(CmdError::new("ERR timeout is negative"));
    }
    if v * 1000.0 > i64::MAX as f64 / 2.0 {
        return Err(CmdError::new("ERR timeout is out of range"));
    }
    Ok(v)
}

/// How long a command blocking as `block` may wait (`CommandSpec::block_timeout`).
pub(crate) fn wait_time(block: Block, argv: &[Vec<u8>]) -> Option<Option<Duration>> {
    let secs_at = |i: usize| {
        let secs = parse_timeout(argv.get(i)?).ok()?;
        Some((secs > 0.0).then(|| Duration::from_secs_f64(secs)))
    };
    match block {
        Block::Never => None,
        Block::LastArg => secs_at(argv.len().checked_sub(1)?),
        Block::FirstArg => secs_at(1),
        Block::BlockOption { options_from } => {
            // Options come before STREAMS; a key or a group named "block" is not one.
            let streams = argv
                .iter()
                .skip(options_from)
                .position(|a| args::is(a, "streams"))?
                + options_from;
            let i = (options_from..streams).find(|&i| args::is(&argv[i], "block"))?;
            let ms = args::parse_i64_opt(argv.get(i + 1)?)?;
            if ms < 0 {
                return None;
            }
            Some((ms > 0).then(|| Duration::from_millis(ms as u64)))
        }
    }
}

/// The type (as TYPE names it) a blocked command waits for, and the argv positions of
/// the keys it takes from: all its keys, but only the source of BLMOVE/BRPOPLPUSH.
pub(crate) fn sources(spec: &CommandSpec, argv: &[Vec<u8>]) -> (&'static str, Vec<usize>) {
    let kind = if spec.acl.contains(&"list") {
        "list"
    } else if spec.acl.contains(&"sortedset") {
        "zset"
    } else {
        "stream"
    };
    let mut at = spec.key_positions(argv);
    if matches!(spec.name, "blmove" | "brpoplpush") {
        at.truncate(1);
    }
    (kind, at)
}

/// A blocked command woken up, narrowed to the keys at `chosen` (positions from
/// [`sources`] that hold its type now), so it takes from those as Redis serves a
/// client from the key that became ready: `BLPOP k1 k2 0` → `BLPOP k2 0`,
/// `BLMPOP 0 2 k1 k2 LEFT` → `BLMPOP 0 1 k2 LEFT`, `XREAD ... STREAMS s1 s2 i1 i2`
/// → `XREAD ... STREAMS s2 i2`.
pub(crate) fn narrow(spec: &CommandSpec, argv: &[Vec<u8>], chosen: &[usize]) -> Vec<Vec<u8>> {
    let all = spec.key_positions(argv);
    let (Some(&first), Some(&last)) = (all.first(), all.last()) else {
        return argv.to_vec();
    };
    let keys = chosen.iter().map(|&i| argv[i].clone());
    let mut out = argv[..first].to_vec();
    match spec.block {
        Block::LastArg if matches!(spec.name, "blmove" | "brpoplpush") => return argv.to_vec(),
        Block::LastArg => {
            out.extend(keys);
            out.extend_from_slice(&argv[last + 1..]);
        }
        Block::FirstArg => {
            out.truncate(2);
            out.push(chosen.len().to_string().into_bytes());
            out.extend(keys);
            out.extend_from_slice(&argv[last + 1..]);
        }
        Block::BlockOption { .. } => {
            let n = all.len();
            out.extend(keys);
            out.extend(chosen.iter().filter_map(|&i| argv.get(i + n).cloned()));
        }
        Block::Never => return argv.to_vec(),
    }
    out
}

/// Runs `argv` as a nested command; errors become this command's error.
fn nested(t: &mut Txn, argv: Vec<Vec<u8>>) -> CmdResult {
    let db = t.db;
    match t.run(db, &argv) {
        Frame::Error(e) => Err(CmdError(e)),
        f => Ok(f),
    }
}

fn is_nil(f: &Frame) -> bool {
    matches!(f, Frame::Null | Frame::NullArray)
}

/// Pops from the first of `keys` that exists with `cmd`; [key, popped...] or nil.
fn pop_first(t: &mut Txn, argv: &[Vec<u8>], cmd: &str) -> CmdResult {
    parse_timeout(&argv[argv.len() - 1])?;
    for key in &argv[1..argv.len() - 1] {
        if t.get_meta(key)?.is_none() {
            continue;
        }
        let r = nested(t, vec![cmd.as_bytes().to_vec(), key.clone()])?;
        if is_nil(&r) {
            continue;
        }
        let mut out = vec![Frame::Bulk(key.clone())];
        match r {
            Frame::Array(items) | Frame::Push(items) if items.is_empty() => continue,
            Frame::Array(items) => out.extend(items),
            Frame::Pairs(pairs) if pairs.is_empty() => continue,
            Frame::Pairs(pairs) => {
                for (m, s) in pairs {
                    out.push(m);
                    out.push(s);
                }
            }
            other => out.push(other),
        }
        return Ok(Frame::Array(out));
    }
    Ok(Frame::NullArray)
}

fn blpop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    pop_first(t, argv, "lpop")
}

fn brpop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    pop_first(t, argv, "rpop")
}

fn bzpopmin(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    pop_first(t, argv, "zpopmin")
}

fn bzpopmax(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    pop_first(t, argv, "zpopmax")
}

fn brpoplpush(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    parse_timeout(&argv[3])?;
    nested(
        t,
        vec![b"rpoplpush".to_vec(), argv[1].clone(), argv[2].clone()],
    )
}

fn blmove(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    parse_timeout(&argv[5])?;
    let mut inner = vec![b"lmove".to_vec()];
    inner.extend_from_slice(&argv[1..5]);
    nested(t, inner)
}

/// BLMPOP/BZMPOP timeout numkeys key ... → LMPOP/ZMPOP numkeys key ...
fn mpop(t: &mut Txn, argv: &[Vec<u8>], cmd: &str) -> CmdResult {
    parse_timeout(&argv[1])?;
    let mut inner = vec![cmd.as_bytes().to_vec()];
    inner.extend_from_slice(&argv[2..]);
    nested(t, inner)
}

fn blmpop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    mpop(t, argv, "lmpop")
}

fn bzmpop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    mpop(t, argv, "zmpop")
}
