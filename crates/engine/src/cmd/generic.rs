//! Generic (keyspace) commands: DEL, EXISTS, the EXPIRE family, TTL, KEYS, SCAN,
//! RENAME, COPY, TYPE, OBJECT, ...
//!
//! Everything here is deterministic: time is `t.now_ms` (the entry's leader time),
//! randomness comes from `t.rng` only, and SCAN's cursor is a hash slot, so the same
//! call gives the same reply on every replica.

use super::spec;
use crate::args::{self, parse_i64};
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec, NO_KEYS};
use crate::txn::Txn;
use crate::Frame;
use keys::{Cf, Kind, Meta, SLOTS};
use std::sync::atomic::{AtomicU64, Ordering};

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let ks: &'static [&'static str] = &["keyspace"];
    let g = "generic";
    vec![
        spec("copy", -3, WRITE | DENYOOM, keys(1, 2, 1), ks, g, "6.2.0", "Copies the value of a key to a new key.", E(copy)),
        spec("del", -2, WRITE, keys(1, -1, 1), ks, g, "1.0.0", "Deletes one or more keys.", E(del)),
        spec("exists", -2, READONLY | FAST, keys(1, -1, 1), ks, g, "1.0.0", "Determines whether one or more keys exist.", E(exists)),
        spec("expire", -3, WRITE | FAST, keys(1, 1, 1), ks, g, "1.0.0", "Sets the expiration time of a key in seconds.", E(expire)),
        spec("expireat", -3, WRITE | FAST, keys(1, 1, 1), ks, g, "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", E(expireat)),
        spec("expiretime", 2, READONLY | FAST, keys(1, 1, 1), ks, g, "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", E(expiretime)),
        // KEYS is @dangerous in Redis (it walks the whole keyspace).
        spec("keys", 2, READONLY | READ_TOKEN_DENY, NO_KEYS, &["keyspace", "dangerous"], g, "1.0.0", "Returns all key names that match a pattern.", E(keys_cmd)).reads_many_records(),
        // A container in Redis; every subcommand is read-only and takes its key at argv[2].
        spec("move", 3, WRITE | FAST, keys(1, 1, 1), ks, g, "1.0.0", "Moves a key to another database.", E(move_cmd)),
        spec("object", -2, READONLY, keys(2, 2, 1), ks, g, "2.2.3", "A container for object introspection commands.", E(object)),
        spec("persist", 2, WRITE | FAST, keys(1, 1, 1), ks, g, "2.2.0", "Removes the expiration time of a key.", E(persist)),
        spec("pexpire", -3, WRITE | FAST, keys(1, 1, 1), ks, g, "2.6.0", "Sets the expiration time of a key in milliseconds.", E(pexpire)),
        spec("pexpireat", -3, WRITE | FAST, keys(1, 1, 1), ks, g, "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", E(pexpireat)),
        spec("pexpiretime", 2, READONLY | FAST, keys(1, 1, 1), ks, g, "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", E(pexpiretime)),
        spec("pttl", 2, READONLY | FAST, keys(1, 1, 1), ks, g, "2.6.0", "Returns the expiration time in milliseconds of a key.", E(pttl)),
        spec("randomkey", 1, READONLY | READ_TOKEN_DENY, NO_KEYS, ks, g, "1.0.0", "Returns a random key name from the database.", E(randomkey)).reads_many_records(),
        spec("rename", 3, WRITE, keys(1, 2, 1), ks, g, "1.0.0", "Renames a key and overwrites the destination.", E(rename)),
        spec("renamenx", 3, WRITE | FAST, keys(1, 2, 1), ks, g, "1.0.0", "Renames a key only when the target key name doesn't exist.", E(renamenx)),
        spec("scan", -2, READONLY | READ_TOKEN_DENY, NO_KEYS, ks, g, "2.8.0", "Iterates over the key names in the database.", E(scan)).reads_many_records(),
        spec("touch", -2, READONLY | FAST, keys(1, -1, 1), ks, g, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", E(touch)),
        spec("ttl", 2, READONLY | FAST, keys(1, 1, 1), ks, g, "1.0.0", "Returns the expiration time in seconds of a key.", E(ttl)),
        spec("type", 2, READONLY | FAST, keys(1, 1, 1), ks, g, "1.0.0", "Determines the type of value stored at a key.", E(type_cmd)),
        spec("unlink", -2, WRITE | FAST, keys(1, -1, 1), ks, g, "4.0.0", "Asynchronously deletes one or more keys.", E(unlink)),
        // The node's own logs, answered by the session (server/src/slowlog.rs, latency.rs).
        spec("latency", -2, NOT_OVER_REST, NO_KEYS, &["admin", "dangerous"], "server", "2.8.13", "A container for latency diagnostics commands.", Exec::Session(crate::table::SessionCmd::Server)),
        // Meridian's backups (server/src/backup.rs over consensus::backup).
        spec("backup", -2, NOT_OVER_REST, NO_KEYS, &["admin", "dangerous"], "server", "0.1.0", "Creates, lists, checks, deletes and restores backups of the database.", Exec::Session(crate::table::SessionCmd::Server)),
        spec("slowlog", -2, NOT_OVER_REST, NO_KEYS, &["admin", "dangerous"], "server", "2.2.12", "A container for slow log commands.", Exec::Session(crate::table::SessionCmd::Server)),
    ]
}

// ---- helpers ------------------------------------------------------------------------

/// Runs `f` with `t.db` switched to `db`, restoring the caller's db afterwards (also
/// on error).
fn in_db<R>(t: &mut Txn, db: u8, f: impl FnOnce(&mut Txn) -> R) -> R {
    let saved = t.db;
    t.db = db;
    let r = f(t);
    t.db = saved;
    r
}

/// COPY and RENAME: strings move whole in their meta record; a collection's elements are
/// sub-records keyed by the key name and version, so they are copied record by record
/// under the destination's new version (O(elements), like Redis's COPY; RENAME of a
/// collection is O(elements) here where Redis's is O(1)). Every type keeps all of its
/// records (elements, indexes, stream groups) under that one data prefix.
fn copy_elements(
    t: &mut Txn,
    (src_db, src): (u8, &[u8]),
    meta: &Meta,
    (dst_db, dst): (u8, &[u8]),
    version: u64,
) -> Result<(), CmdError> {
    if meta.kind == Kind::String {
        return Ok(());
    }
    let from = keys::data_prefix(src_db, src, meta.version);
    let end = crate::coll::prefix_end(&from);
    let to = keys::data_prefix(dst_db, dst, version);
    let mut records = Vec::new();
    t.raw_scan(Cf::Data, &from, &end, &mut |k, v| {
        let mut nk = to.clone();
        nk.extend_from_slice(&k[from.len()..]);
        records.push((nk, v.to_vec()));
        true
    })?;
    for (k, v) in records {
        t.raw_put(Cf::Data, k, v);
    }
    Ok(())
}

fn int(n: i64) -> CmdResult {
    Ok(Frame::Integer(n))
}

// ---- DEL / UNLINK / EXISTS / TOUCH / TYPE -------------------------------------------

fn del(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let mut n = 0;
    for key in &argv[1..] {
        // delete_key also drops an expired-but-present record (as Redis does when it
        // looks the key up) but only counts live keys.
        if t.delete_key(key)? {
            n += 1;
        }
    }
    int(n)
}

/// UNLINK is DEL: deleting a collection only rewrites its meta record here, so there
/// is nothing to reclaim asynchronously.
fn unlink(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    del(t, argv)
}

/// Counts live keys; a key named twice counts twice.
fn exists(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let mut n = 0;
    for key in &argv[1..] {
        if t.exists(key)? {
            n += 1;
        }
    }
    int(n)
}

/// Redis updates the keys' LRU clock; Meridian tracks no access time (see OBJECT
/// IDLETIME), so TOUCH only counts the live keys.
fn touch(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    exists(t, argv)
}

fn type_cmd(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let name = match t.get_meta(&argv[1])? {
        Some(m) => m.kind.type_name(),
        None => "none",
    };
    Ok(Frame::Simple(name.into()))
}

// ---- EXPIRE family ------------------------------------------------------------------

const EXPIRE_NX: u8 = 1;
const EXPIRE_XX: u8 = 2;
const EXPIRE_GT: u8 = 4;
const EXPIRE_LT: u8 = 8;

/// Redis's parseExtendedExpireArgumentsOrReply.
fn expire_flags(argv: &[Vec<u8>]) -> Result<u8, CmdError> {
    let mut flags = 0;
    for opt in &argv[3..] {
        flags |= if args::is(opt, "nx") {
            EXPIRE_NX
        } else if args::is(opt, "xx") {
            EXPIRE_XX
        } else if args::is(opt, "gt") {
            EXPIRE_GT
        } else if args::is(opt, "lt") {
            EXPIRE_LT
        } else {
            return Err(CmdError::new(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        };
    }
    if flags & EXPIRE_NX != 0 && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err(CmdError::new(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if flags & EXPIRE_GT != 0 && flags & EXPIRE_LT != 0 {
        return Err(CmdError::new(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(flags)
}

/// Redis's expireGenericCommand. `relative`: the time is added to now (EXPIRE,
/// PEXPIRE) rather than absolute (EXPIREAT, PEXPIREAT); `seconds`: the unit.
fn expire_generic(t: &mut Txn, argv: &[Vec<u8>], relative: bool, seconds: bool) -> CmdResult {
    let invalid = || {
        CmdError::new(format!(
            "ERR invalid expire time in '{}' command",
            String::from_utf8_lossy(&argv[0]).to_ascii_lowercase()
        ))
    };
    let flags = expire_flags(argv)?;
    let mut when = parse_i64(&argv[2])?;
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    // now_ms is a unix time in ms: far below i64::MAX.
    let now = i64::try_from(t.now_ms).unwrap_or(i64::MAX);
    if relative {
        when = when.checked_add(now).ok_or_else(invalid)?;
    }

    // An expired key is a missing key.
    let Some(meta) = t.get_meta(&argv[1])? else {
        return int(0);
    };
    if flags != 0 {
        // None = no expiry, i.e. an infinite TTL.
        let current = (meta.expire_at_ms != 0).then_some(meta.expire_at_ms as i64);
        if flags & EXPIRE_NX != 0 && current.is_some() {
            return int(0);
        }
        if flags & EXPIRE_XX != 0 && current.is_none() {
            return int(0);
        }
        if flags & EXPIRE_GT != 0 && current.is_none_or(|c| when <= c) {
            return int(0);
        }
        if flags & EXPIRE_LT != 0 && current.is_some_and(|c| when >= c) {
            return int(0);
        }
    }

    if when <= now {
        // A time in the past deletes the key (Redis replicates it as a DEL).
        t.delete_key(&argv[1])?;
    } else {
        t.set_expire(&argv[1], when as u64)?;
    }
    int(1)
}

fn expire(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    expire_generic(t, argv, true, true)
}

fn pexpire(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    expire_generic(t, argv, true, false)
}

fn expireat(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    expire_generic(t, argv, false, true)
}

fn pexpireat(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    expire_generic(t, argv, false, false)
}

/// -2 missing, -1 no expiry, else the remaining time (never negative).
fn ttl_generic(t: &mut Txn, key: &[u8], ms: bool) -> CmdResult {
    let Some(meta) = t.get_meta(key)? else {
        return int(-2);
    };
    if meta.expire_at_ms == 0 {
        return int(-1);
    }
    let left = meta
        .expire_at_ms
        .saturating_sub(t.now_ms)
        .min(i64::MAX as u64) as i64;
    int(if ms { left } else { (left + 500) / 1000 })
}

fn ttl(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    ttl_generic(t, &argv[1], false)
}

fn pttl(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    ttl_generic(t, &argv[1], true)
}

/// -2 missing, -1 no expiry, else the absolute expiry (seconds truncated).
fn expiretime_generic(t: &mut Txn, key: &[u8], ms: bool) -> CmdResult {
    let Some(meta) = t.get_meta(key)? else {
        return int(-2);
    };
    if meta.expire_at_ms == 0 {
        return int(-1);
    }
    let at = meta.expire_at_ms.min(i64::MAX as u64) as i64;
    int(if ms { at } else { at / 1000 })
}

fn expiretime(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    expiretime_generic(t, &argv[1], false)
}

fn pexpiretime(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    expiretime_generic(t, &argv[1], true)
}

fn persist(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    match t.get_meta(&argv[1])? {
        Some(m) if m.expire_at_ms != 0 => {
            t.set_expire(&argv[1], 0)?;
            int(1)
        }
        _ => int(0),
    }
}

// ---- RENAME / RENAMENX / COPY -------------------------------------------------------

/// Redis's renameGenericCommand.
fn rename_generic(t: &mut Txn, argv: &[Vec<u8>], nx: bool) -> CmdResult {
    let (src, dst) = (&argv[1], &argv[2]);
    let Some(meta) = t.get_meta(src)? else {
        return Err(CmdError::no_such_key());
    };
    if src == dst {
        return if nx { int(0) } else { Ok(Frame::ok()) };
    }
    if nx && t.exists(dst)? {
        return int(0);
    }
    // The destination is a new incarnation; the expiry travels with the value.
    let version = t.new_version();
    let db = t.db;
    copy_elements(t, (db, src), &meta, (db, dst), version)?;
    let moved = Meta { version, ..meta };
    // put_meta replaces whatever `dst` held (live or expired) and keeps the key
    // count and expiry index in step.
    t.put_meta(dst, moved)?;
    t.delete_key(src)?;
    if nx {
        int(1)
    } else {
        Ok(Frame::ok())
    }
}

fn rename(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    rename_generic(t, argv, false)
}

fn renamenx(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    rename_generic(t, argv, true)
}

/// COPY source destination [DB destination-db] [REPLACE] (Redis's copyCommand).
fn copy(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let (src, dst) = (&argv[1], &argv[2]);
    let src_db = t.db;
    let mut dst_db = t.db;
    let mut replace = false;
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if args::is(&argv[j], "replace") {
            replace = true;
        } else if args::is(&argv[j], "db") && more {
            let id = parse_i64(&argv[j + 1])?;
            if i32::try_from(id).is_err() {
                return Err(CmdError::not_integer());
            }
            if id < 0 || id >= keys::DATABASES as i64 {
                return Err(CmdError::new("ERR DB index is out of range"));
            }
            dst_db = id as u8;
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    if src_db == dst_db && src == dst {
        return Err(CmdError::new(
            "ERR source and destination objects are the same",
        ));
    }
    let Some(meta) = t.get_meta(src)? else {
        return int(0);
    };
    in_db(t, dst_db, |t| {
        if t.exists(dst)? && !replace {
            return int(0);
        }
        // A new, independent incarnation with the source's value and expiry.
        let version = t.new_version();
        copy_elements(t, (src_db, src), &meta, (dst_db, dst), version)?;
        let copied = Meta { version, ..meta };
        t.put_meta(dst, copied)?;
        int(1)
    })
}

/// MOVE key db: the key's records move to database `db` under the same version (its
/// value, expiry and element records), in this one entry. 0 when the key is missing
/// or `db` already holds it, as Redis; events new (dst), move_from (src), move_to (dst).
fn move_cmd(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let id = parse_i64(&argv[2])?;
    if i32::try_from(id).is_err() {
        return Err(CmdError::new(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    if id < 0 || id >= keys::DATABASES as i64 {
        return Err(CmdError::new("ERR DB index is out of range"));
    }
    let (src_db, dst_db) = (t.db, id as u8);
    if src_db == dst_db {
        return Err(CmdError::new(
            "ERR source and destination objects are the same",
        ));
    }
    let Some(meta) = t.get_meta(key)? else {
        return int(0);
    };
    if in_db(t, dst_db, |t| t.exists(key))? {
        return int(0);
    }
    copy_elements(t, (src_db, key), &meta, (dst_db, key), meta.version)?;
    let floor = if meta.kind == Kind::Hash {
        crate::types::hash::ttl_floor(&meta).filter(|&f| f != meta.expire_at_ms)
    } else {
        None
    };
    in_db(t, dst_db, |t| t.put_meta(key, meta))?;
    if let Some(f) = floor {
        // A hash's field-TTL floor has its own expiry index entry.
        t.raw_put(Cf::Expire, keys::expire_key(f, dst_db, key), Vec::new());
    }
    t.delete_key(key)?;
    t.events_reported();
    use crate::events::class::{GENERIC, NEW};
    t.notify(dst_db, NEW, "new", key);
    t.notify(src_db, GENERIC, "move_from", key);
    t.notify(dst_db, GENERIC, "move_to", key);
    int(1)
}

// ---- KEYS / SCAN / RANDOMKEY --------------------------------------------------------

/// Every live key matching the glob, in (slot, key) order.
fn keys_cmd(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let pattern = &argv[1];
    let all = pattern.as_slice() == b"*";
    let mut out = Vec::new();
    t.scan_keys(0, &mut |_, key, _| {
        if all || crate::glob_match(pattern, key, false) {
            out.push(Frame::Bulk(key.to_vec()));
        }
        true
    })?;
    Ok(Frame::Array(out))
}

/// The cursor is a hash slot, 0..16383 (Redis parses it with string2ull).
fn parse_cursor(arg: &[u8]) -> Result<u16, CmdError> {
    let invalid = || CmdError::new("ERR invalid cursor");
    if arg.is_empty() || arg.len() > 20 || !arg.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let v: u64 = std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(invalid)?;
    if v >= SLOTS as u64 {
        return Err(invalid());
    }
    Ok(v as u16)
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
///
/// Stateless and identical on every replica: the cursor is the hash slot to resume
/// at. One call walks whole slots from the cursor on until it has visited at least
/// COUNT live keys (before MATCH/TYPE filtering, as in Redis) or reaches the end of
/// the database; it replies with the next non-empty slot, or 0 when done. Every key
/// present for the whole iteration is returned exactly once (a key lives in exactly
/// one slot and slots are never split across calls).
fn scan(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let cursor = parse_cursor(&argv[1])?;
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut with_type = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - i >= 2;
        if args::is(&argv[i], "withtype") {
            // Upstash's extension (@upstash/redis `scan(c, { withType: true })`): each
            // key followed by its type.
            with_type = true;
            i += 1;
            continue;
        }
        if args::is(&argv[i], "count") && more {
            count = parse_i64(&argv[i + 1])?;
            if count < 1 {
                return Err(CmdError::syntax());
            }
        } else if args::is(&argv[i], "match") && more {
            let p = argv[i + 1].as_slice();
            pattern = (p != b"*").then_some(p);
        } else if args::is(&argv[i], "type") && more {
            // An unknown type name simply matches nothing (Redis 7).
            type_name = Some(argv[i + 1].as_slice());
        } else {
            return Err(CmdError::syntax());
        }
        i += 2;
    }

    let count = count as u64;
    let mut visited: u64 = 0;
    let mut current: Option<u16> = None;
    let mut next: u16 = 0;
    let mut out = Vec::new();
    t.scan_keys(cursor, &mut |slot, key, meta| {
        if current != Some(slot) {
            if visited >= count {
                next = slot;
                return false;
            }
            current = Some(slot);
        }
        visited += 1;
        if let Some(p) = pattern {
            if !crate::glob_match(p, key, false) {
                return true;
            }
        }
        if let Some(ty) = type_name {
            if !ty.eq_ignore_ascii_case(meta.kind.type_name().as_bytes()) {
                return true;
            }
        }
        out.push(Frame::Bulk(key.to_vec()));
        if with_type {
            out.push(Frame::Bulk(meta.kind.type_name().as_bytes().to_vec()));
        }
        true
    })?;
    Ok(Frame::Array(vec![
        Frame::Bulk(next.to_string().into_bytes()),
        Frame::Array(out),
    ]))
}

/// Up to this many keys (by DBSIZE) RANDOMKEY picks uniformly from a full walk.
const RANDOMKEY_FULL_WALK: u64 = 4096;

/// A random live key drawn from `t.rng` (so every replica picks the same one), nil
/// when the database has none.
///
/// Small databases: uniform over all live keys. Larger ones: a random slot, then a
/// uniform key of the first non-empty slot from there on (wrapping) — O(one slot)
/// and close to uniform since CRC16 spreads keys evenly over slots (hash tags skew it).
fn randomkey(t: &mut Txn, _argv: &[Vec<u8>]) -> CmdResult {
    let n = t.key_count(t.db)?;
    if n == 0 {
        return Ok(Frame::Null);
    }
    let mut found: Vec<Vec<u8>> = Vec::new();
    if n <= RANDOMKEY_FULL_WALK {
        t.scan_keys(0, &mut |_, key, _| {
            found.push(key.to_vec());
            true
        })?;
    } else {
        let start = t.rng.below(SLOTS as u64) as u16;
        // From the random slot to the end, then wrap around to it.
        for (from, stop_at) in [(start, SLOTS as u16), (0, start)] {
            let mut slot_of_found: Option<u16> = None;
            t.scan_keys(from, &mut |slot, key, _| {
                if slot >= stop_at || slot_of_found.is_some_and(|s| s != slot) {
                    return false;
                }
                slot_of_found = Some(slot);
                found.push(key.to_vec());
                true
            })?;
            if !found.is_empty() {
                break;
            }
        }
    }
    if found.is_empty() {
        // Every counted key has expired.
        return Ok(Frame::Null);
    }
    let i = t.rng.below(found.len() as u64) as usize;
    Ok(Frame::Bulk(found.swap_remove(i)))
}

// ---- OBJECT -------------------------------------------------------------------------

const OBJECT_HELP: [&str; 11] = [
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access logarithmic access frequency counter of a <key>.",
    "IDLETIME <key>",
    "    Return the idle time of a <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
];

/// The per-node limits that decide a collection's encoding (Redis 7.0's
/// `hash-max-listpack-*`, `zset-max-listpack-*`, `set-max-intset-entries`, and their
/// `ziplist` aliases), set by CONFIG SET on the node (`server::admin_cmds`). Only OBJECT
/// ENCODING and DEBUG OBJECT read them: nothing on the write path looks at them.
pub struct EncodingLimits {
    pub hash_entries: AtomicU64,
    pub hash_value: AtomicU64,
    pub zset_entries: AtomicU64,
    pub zset_value: AtomicU64,
    pub set_intset_entries: AtomicU64,
}

/// This process's (so this node's) encoding limits; Redis 7.0's defaults until set.
pub static ENCODING_LIMITS: EncodingLimits = EncodingLimits {
    hash_entries: AtomicU64::new(512),
    hash_value: AtomicU64::new(64),
    zset_entries: AtomicU64::new(128),
    zset_value: AtomicU64::new(64),
    set_intset_entries: AtomicU64::new(512),
};

impl EncodingLimits {
    /// Sets the limit a (canonical) CONFIG parameter names; false if it names none.
    pub fn set(&self, param: &str, value: u64) -> bool {
        let slot = match param {
            "hash-max-listpack-entries" => &self.hash_entries,
            "hash-max-listpack-value" => &self.hash_value,
            "zset-max-listpack-entries" => &self.zset_entries,
            "zset-max-listpack-value" => &self.zset_value,
            "set-max-intset-entries" => &self.set_intset_entries,
            _ => return false,
        };
        slot.store(value, Ordering::Relaxed);
        true
    }
}

/// True when every element handed to `fits` (at most `limit` of them: the caller has
/// checked `meta.len <= limit`) passes. A bounded scan of the collection's records.
fn all_fit(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    fits: &mut dyn FnMut(&[u8], &[u8]) -> Option<bool>,
) -> Result<bool, CmdError> {
    let mut ok = true;
    crate::coll::scan(t, key, meta, &mut |sub, raw| match fits(sub, raw) {
        Some(true) => true,
        Some(false) => {
            ok = false;
            false
        }
        // Past the records that matter (a zset's score index): stop.
        None => false,
    })?;
    Ok(ok)
}

/// The encoding redis-server 7.0 reports for the value `meta` describes, computed from
/// the value as it is now (OBJECT ENCODING, DEBUG OBJECT):
/// - strings: `int` (an integer of at most 20 characters, as Redis's string2l reads
///   it), `embstr` (up to 44 bytes), else `raw`;
/// - lists: always `quicklist` (7.0 has no listpack lists);
/// - sets: `intset` while every member is an integer and there are at most
///   `set-max-intset-entries`, else `hashtable` (7.0 has no listpack sets);
/// - hashes / sorted sets: `listpack` while there are at most `*-max-listpack-entries`
///   entries and no field, value or member is longer than `*-max-listpack-value`, else
///   `hashtable` / `skiplist`. A hash with field TTLs is `listpackex` (Redis 8).
///
/// Redis keeps a converted collection converted when it shrinks again, and keeps a
/// string changed by APPEND/SETRANGE/SETBIT `raw`; neither history is recorded here.
/// Cost: O(1) for strings, lists, streams and collections longer than their entry
/// limit; otherwise a scan of at most that many elements.
pub(crate) fn encoding(t: &Txn, key: &[u8], meta: &Meta) -> Result<&'static str, CmdError> {
    let lim = &ENCODING_LIMITS;
    Ok(match meta.kind {
        Kind::String => {
            let v = &meta.inline;
            if v.len() <= 20 && args::parse_i64_opt(v).is_some() {
                "int"
            } else if v.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        Kind::List => "quicklist",
        Kind::Set => {
            let small = meta.len <= lim.set_intset_entries.load(Ordering::Relaxed);
            if small
                && all_fit(t, key, meta, &mut |m, _| {
                    Some(m.len() <= 20 && args::parse_i64_opt(m).is_some())
                })?
            {
                "intset"
            } else {
                "hashtable"
            }
        }
        Kind::Hash => {
            let max = lim.hash_value.load(Ordering::Relaxed);
            let small = meta.len <= lim.hash_entries.load(Ordering::Relaxed);
            let fits = |f: &[u8], raw: &[u8]| -> Option<bool> {
                let v = ::keys::hash::decode_field(raw).map_or(raw, |(_, v)| v);
                Some(f.len() as u64 <= max && v.len() as u64 <= max)
            };
            if !(small && all_fit(t, key, meta, &mut { fits })?) {
                "hashtable"
            } else if crate::types::hash::ttl_floor(meta).is_some() {
                "listpackex"
            } else {
                "listpack"
            }
        }
        Kind::ZSet => {
            let max = lim.zset_value.load(Ordering::Relaxed);
            let small = meta.len <= lim.zset_entries.load(Ordering::Relaxed);
            // Member records (`'m' · member`) sort before the score index (`'s' ...`).
            let fits = |sub: &[u8], _: &[u8]| -> Option<bool> {
                match sub.split_first() {
                    Some((&::keys::zset::TAG_MEMBER, m)) => Some(m.len() as u64 <= max),
                    _ => None,
                }
            };
            if small && all_fit(t, key, meta, &mut { fits })? {
                "listpack"
            } else {
                "skiplist"
            }
        }
        Kind::Stream => "stream",
        Kind::Json => "raw",
    })
}

fn object(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    let arity = match sub.as_str() {
        "help" => 2,
        "encoding" | "freq" | "idletime" | "refcount" => 3,
        _ => return Err(CmdError::unknown_subcommand(&argv[1], "object")),
    };
    if argv.len() != arity {
        return Err(CmdError::wrong_arity(&format!("object|{sub}")));
    }
    if sub == "help" {
        let mut lines = vec![Frame::Simple(
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into(),
        )];
        lines.extend(OBJECT_HELP.iter().map(|l| Frame::Simple((*l).into())));
        lines.push(Frame::Simple("HELP".into()));
        lines.push(Frame::Simple("    Print this help.".into()));
        return Ok(Frame::Array(lines));
    }
    let Some(meta) = t.get_meta(&argv[2])? else {
        return Ok(Frame::Null);
    };
    match sub.as_str() {
        "encoding" => Ok(Frame::Bulk(
            encoding(t, &argv[2], &meta)?.as_bytes().to_vec(),
        )),
        // Seconds since the key's last access on this node (reads and writes, the node's
        // access table: crate::access), or since its last write when the table does not
        // know it. Under an LFU policy Redis answers an error, as here.
        "idletime" => {
            if t.policy().is_lfu() {
                return Err(CmdError::new(
                    "ERR An LRU maxmemory policy is not selected, access time not tracked. \
                     Please note that when switching between policies at runtime LRU and LFU data \
                     will take some time to adjust.",
                ));
            }
            let idle = crate::access::idle_secs(t.db, &argv[2], t.now_ms, meta.mtime_ms);
            int(idle.min(i64::MAX as u64) as i64)
        }
        // The key's LFU counter (logarithmic, decayed per minute) under an LFU policy;
        // otherwise Redis's own error for that case.
        "freq" => {
            if !t.policy().is_lfu() {
                return Err(CmdError::new(
                    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
                     Please note that when switching between policies at runtime LRU and LFU data \
                     will take some time to adjust.",
                ));
            }
            int(crate::access::freq(t.db, &argv[2], t.now_ms) as i64)
        }
        // Values are never shared between keys here.
        "refcount" => int(1),
        _ => unreachable!("subcommand checked above"),
    }
}
