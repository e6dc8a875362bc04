//! Set commands (t_set.c).
//!
//! The records (meta plus one empty `data` record per member, members in byte order)
//! are `types::set`'s. Random picks (SPOP, SRANDMEMBER) draw positions from `t.rng` only, so every replica
//! picks the same members; reaching a position costs a scan up to it.

use super::spec;
use crate::args;
use crate::coll;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec, KeySpec};
use crate::txn::Txn;
use crate::types::set::{self as records, is_member, members, open as read_set};
use crate::Frame;
use ::keys::{Kind, Meta};
use std::collections::BTreeSet;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let s: &'static [&'static str] = &["set"];
    let g = "set";
    let k = keys(1, 1, 1);
    let all = keys(1, -1, 1);
    let sintercard_keys = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        find: Some(sintercard_key_positions),
    };
    vec![
        spec("sadd", -3, WRITE | DENYOOM | FAST, k, s, g, "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", E(sadd)),
        spec("scard", 2, READONLY | FAST, k, s, g, "1.0.0", "Returns the number of members in a set.", E(scard)),
        spec("sdiff", -2, READONLY, all, s, g, "1.0.0", "Returns the difference of multiple sets.", E(sdiff)),
        spec("sdiffstore", -3, WRITE | DENYOOM, all, s, g, "1.0.0", "Stores the difference of multiple sets in a key.", E(sdiffstore)),
        spec("sinter", -2, READONLY, all, s, g, "1.0.0", "Returns the intersect of multiple sets.", E(sinter)),
        spec("sintercard", -3, READONLY | MOVABLE_KEYS, sintercard_keys, s, g, "7.0.0", "Returns the number of members of the intersect of multiple sets.", E(sintercard)),
        spec("sinterstore", -3, WRITE | DENYOOM, all, s, g, "1.0.0", "Stores the intersect of multiple sets in a key.", E(sinterstore)),
        spec("sismember", 3, READONLY | FAST, k, s, g, "1.0.0", "Determines whether a member belongs to a set.", E(sismember)),
        spec("smembers", 2, READONLY, k, s, g, "1.0.0", "Returns all members of a set.", E(smembers)),
        spec("smismember", -3, READONLY | FAST, k, s, g, "6.2.0", "Determines whether multiple members belong to a set.", E(smismember)),
        spec("smove", 4, WRITE | FAST, keys(1, 2, 1), s, g, "1.0.0", "Moves a member from one set to another.", E(smove)),
        spec("spop", -2, WRITE | FAST, k, s, g, "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", E(spop)),
        spec("srandmember", -2, READONLY, k, s, g, "1.0.0", "Get one or multiple random members from a set", E(srandmember)),
        spec("srem", -3, WRITE | FAST, k, s, g, "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", E(srem)),
        spec("sscan", -3, READONLY, k, s, g, "2.8.0", "Iterates over members of a set.", E(sscan)),
        spec("sunion", -2, READONLY, all, s, g, "1.0.0", "Returns the union of multiple sets.", E(sunion)),
        spec("sunionstore", -3, WRITE | DENYOOM, all, s, g, "1.0.0", "Stores the union of multiple sets in a key.", E(sunionstore)),
    ]
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]: the keys follow numkeys.
fn sintercard_key_positions(argv: &[Vec<u8>]) -> Vec<usize> {
    let n = argv
        .get(1)
        .and_then(|a| args::parse_i64_opt(a))
        .filter(|&n| n >= 1)
        .unwrap_or(0) as usize;
    (2..argv.len().min(2usize.saturating_add(n))).collect()
}

// ---- helpers ------------------------------------------------------------------------

fn bulks(items: impl IntoIterator<Item = Vec<u8>>) -> Vec<Frame> {
    items.into_iter().map(Frame::Bulk).collect()
}

fn int(n: i64) -> CmdResult {
    Ok(Frame::Integer(n))
}

// ---- single-set commands ------------------------------------------------------------

fn sadd(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let mut meta = records::open_or_create(t, key)?;
    let mut added = 0;
    for m in &argv[2..] {
        if !is_member(t, key, &meta, m)? {
            records::add(t, key, &mut meta, m);
            added += 1;
        }
    }
    if added > 0 {
        records::save(t, key, meta)?;
    }
    int(added)
}

fn srem(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let Some(mut meta) = read_set(t, key)? else {
        return int(0);
    };
    let mut removed = 0;
    for m in &argv[2..] {
        if is_member(t, key, &meta, m)? {
            records::remove(t, key, &mut meta, m);
            removed += 1;
        }
    }
    if removed > 0 {
        records::save(t, key, meta)?;
    }
    int(removed)
}

fn scard(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    int(read_set(t, &argv[1])?.map_or(0, |m| m.len as i64))
}

fn sismember(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(meta) = read_set(t, &argv[1])? else {
        return int(0);
    };
    int(is_member(t, &argv[1], &meta, &argv[2])? as i64)
}

fn smismember(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let meta = read_set(t, &argv[1])?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for m in &argv[2..] {
        let yes = match &meta {
            Some(meta) => is_member(t, &argv[1], meta, m)?,
            None => false,
        };
        out.push(Frame::Integer(yes as i64));
    }
    Ok(Frame::Array(out))
}

fn smembers(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(meta) = read_set(t, &argv[1])? else {
        return Ok(Frame::Set(Vec::new()));
    };
    Ok(Frame::Set(bulks(members(t, &argv[1], &meta)?)))
}

/// SMOVE source destination member (Redis's smoveCommand, checks in its order).
fn smove(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    let Some(mut src_meta) = t.get_meta(src)? else {
        return int(0);
    };
    if src_meta.kind != Kind::Set {
        return Err(CmdError::wrong_type());
    }
    read_set(t, dst)?;
    if src == dst {
        return int(is_member(t, src, &src_meta, member)? as i64);
    }
    if !is_member(t, src, &src_meta, member)? {
        return int(0);
    }
    records::remove(t, src, &mut src_meta, member);
    records::save(t, src, src_meta)?;
    let mut dst_meta = records::open_or_create(t, dst)?;
    if !is_member(t, dst, &dst_meta, member)? {
        records::add(t, dst, &mut dst_meta, member);
        records::save(t, dst, dst_meta)?;
    }
    int(1)
}

/// SPOP key [count].
fn spop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    match argv.len() {
        2 => {}
        3 => return spop_count(t, argv),
        _ => return Err(CmdError::syntax()),
    }
    let key = &argv[1];
    let Some(mut meta) = read_set(t, key)? else {
        return Ok(Frame::Null);
    };
    let pos = t.rng.below(meta.len);
    let picked = records::nth_members(t, key, &meta, &[pos])?;
    let Some(member) = picked.into_iter().next() else {
        return Err(CmdError::storage("set is shorter than its length"));
    };
    records::remove(t, key, &mut meta, &member);
    records::save(t, key, meta)?;
    Ok(Frame::Bulk(member))
}

fn spop_count(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let positive = || CmdError::new("ERR value is out of range, must be positive");
    let count = args::parse_i64_opt(&argv[2])
        .filter(|&c| c >= 0)
        .ok_or_else(positive)? as u64;
    let Some(mut meta) = read_set(t, key)? else {
        return Ok(Frame::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Frame::Set(Vec::new()));
    }
    if count >= meta.len {
        // The whole set: one meta delete, however large it is.
        let all = members(t, key, &meta)?;
        t.delete_key(key)?;
        return Ok(Frame::Set(bulks(all)));
    }
    let positions = coll::sample_unique(&mut t.rng, meta.len, count);
    let picked = records::nth_members(t, key, &meta, &positions)?;
    for m in &picked {
        records::remove(t, key, &mut meta, m);
    }
    records::save(t, key, meta)?;
    Ok(Frame::Set(bulks(picked)))
}

/// SRANDMEMBER key [count]: positive count = distinct members, negative = |count|
/// draws with repeats.
fn srandmember(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    if argv.len() > 3 {
        return Err(CmdError::syntax());
    }
    if argv.len() == 2 {
        let Some(meta) = read_set(t, key)? else {
            return Ok(Frame::Null);
        };
        let pos = t.rng.below(meta.len);
        let picked = records::nth_members(t, key, &meta, &[pos])?;
        return Ok(picked.into_iter().next().map_or(Frame::Null, Frame::Bulk));
    }
    let l = coll::parse_count(&argv[2])?;
    let Some(meta) = read_set(t, key)? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let n = meta.len;
    let picked = if l == 0 {
        Vec::new()
    } else if l < 0 {
        let count = l.unsigned_abs();
        coll::check_repeats(count)?;
        let draws = coll::sample_repeat(&mut t.rng, n, count);
        records::drawn_members(t, key, &meta, &draws)?
    } else if l as u64 >= n {
        return Ok(Frame::Array(bulks(members(t, key, &meta)?)));
    } else {
        let positions = coll::sample_unique(&mut t.rng, n, l as u64);
        records::nth_members(t, key, &meta, &positions)?
    };
    Ok(Frame::Array(bulks(picked)))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]. The cursor is a position in hash
/// order (see `coll::scan_page` for the guarantees).
fn sscan(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let cursor = coll::parse_cursor(&argv[2])?;
    let Some(meta) = read_set(t, key)? else {
        return Ok(coll::scan_reply(0, Vec::new()));
    };
    let o = coll::parse_scan_opts(argv, 3, false)?;
    let mut out = Vec::new();
    let next = records::scan_page(t, key, &meta, cursor, o.count, &mut |m| {
        if o.pattern.is_none_or(|p| crate::glob_match(p, m, false)) {
            out.push(Frame::Bulk(m.to_vec()));
        }
    })?;
    Ok(coll::scan_reply(next, out))
}

// ---- multi-set commands -------------------------------------------------------------

/// The sets at `keys` (None for missing keys). WRONGTYPE if any key holds another
/// type, checked for every key before any work (as Redis does).
fn open_sets(t: &Txn, keys: &[Vec<u8>]) -> Result<Vec<Option<Meta>>, CmdError> {
    keys.iter().map(|k| read_set(t, k)).collect()
}

/// Members of the intersection, in byte order, stopping after `limit` (0 = all).
/// Walks the smallest set and probes the others.
fn intersection(t: &Txn, keys: &[Vec<u8>], limit: u64) -> Result<Vec<Vec<u8>>, CmdError> {
    let sets = open_sets(t, keys)?;
    let mut present = Vec::with_capacity(sets.len());
    for (k, m) in keys.iter().zip(sets) {
        match m {
            Some(m) => present.push((k, m)),
            None => return Ok(Vec::new()),
        }
    }
    present.sort_by_key(|(_, m)| m.len);
    let Some(((first_key, first), rest)) = present.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    'members: for m in members(t, first_key, first)? {
        for (k, meta) in rest {
            if !is_member(t, k, meta, &m)? {
                continue 'members;
            }
        }
        out.push(m);
        if limit != 0 && out.len() as u64 >= limit {
            break;
        }
    }
    Ok(out)
}

fn union(t: &Txn, keys: &[Vec<u8>]) -> Result<BTreeSet<Vec<u8>>, CmdError> {
    let sets = open_sets(t, keys)?;
    let mut out = BTreeSet::new();
    for (k, m) in keys.iter().zip(sets) {
        if let Some(m) = m {
            out.extend(members(t, k, &m)?);
        }
    }
    Ok(out)
}

/// Members of the first set that are in none of the others, in byte order.
fn difference(t: &Txn, keys: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, CmdError> {
    let sets = open_sets(t, keys)?;
    let Some(Some(first)) = sets.first() else {
        return Ok(Vec::new());
    };
    let others: Vec<(&Vec<u8>, &Meta)> = keys[1..]
        .iter()
        .zip(&sets[1..])
        .filter_map(|(k, m)| m.as_ref().map(|m| (k, m)))
        .collect();
    let mut out = Vec::new();
    'members: for m in members(t, &keys[0], first)? {
        for (k, meta) in &others {
            if is_member(t, k, meta, &m)? {
                continue 'members;
            }
        }
        out.push(m);
    }
    Ok(out)
}

/// Stores `members` (unique) at `dst` as a new set, replacing whatever it held (and
/// its TTL); an empty result deletes `dst`. Replies with the new size.
fn store(t: &mut Txn, dst: &[u8], members: impl IntoIterator<Item = Vec<u8>>) -> CmdResult {
    int(records::store(t, dst, members)? as i64)
}

fn sinter(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    Ok(Frame::Set(bulks(intersection(t, &argv[1..], 0)?)))
}

fn sinterstore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let result = intersection(t, &argv[2..], 0)?;
    store(t, &argv[1], result)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit].
fn sintercard(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let numkeys = args::parse_i64_opt(&argv[1])
        .filter(|&n| n >= 1)
        .ok_or_else(|| CmdError::new("ERR numkeys should be greater than 0"))?
        as u64;
    if numkeys > (argv.len() - 2) as u64 {
        return Err(CmdError::new(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut j = keys_end;
    while j < argv.len() {
        if args::is(&argv[j], "limit") && j + 1 < argv.len() {
            limit = args::parse_i64_opt(&argv[j + 1])
                .filter(|&l| l >= 0)
                .ok_or_else(|| CmdError::new("ERR LIMIT can't be negative"))?
                as u64;
            j += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    int(intersection(t, &argv[2..keys_end], limit)?.len() as i64)
}

fn sunion(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    Ok(Frame::Set(bulks(union(t, &argv[1..])?)))
}

fn sunionstore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let result = union(t, &argv[2..])?;
    store(t, &argv[1], result)
}

fn sdiff(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    Ok(Frame::Set(bulks(difference(t, &argv[1..])?)))
}

fn sdiffstore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let result = difference(t, &argv[2..])?;
    store(t, &argv[1], result)
}
