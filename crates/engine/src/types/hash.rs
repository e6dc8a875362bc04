//! Records of the hash type, with Redis 7.4's per-field expiry.
//!
//! A hash is its key's meta record (kind Hash) plus one `data` record per field (see
//! `crate::coll`); a field record carries the field's value and its TTL, and the meta
//! record's `inline` the hash's TTL floor (byte layouts in `keys::hash`). This module
//! opens hashes (for reading, or for writing with the expired fields purged first),
//! reads, writes and removes fields, walks them, and runs the field-expiry hooks the
//! keyspace core calls ([`all_fields_expired`], [`ttl_floor`], [`expire_fields`]).
//!
//! Field expiry, deterministically:
//! - A field whose `expire_at_ms <= t.now_ms` is invisible to every command.
//! - Expired fields are deleted by the next *hash write command* on the key (HSET,
//!   HDEL, HINCRBY, HEXPIRE, HPERSIST, ...) run at an entry time past their expiry: it
//!   first purges them (see [`open_write`]). That write is a log entry with the
//!   leader's `now_ms`, so every replica deletes the same fields. Reads never write.
//! - `meta.len` counts the field *records* stored, expired-but-not-yet-purged ones
//!   included. The TTL floor is a lower bound of every field TTL in the hash (setting
//!   a TTL lowers it, a purge recomputes it exactly, removing a TTL leaves it, which is
//!   still a lower bound). So while `floor > now` no field can have expired and HLEN
//!   is `meta.len` (O(1)); otherwise HLEN counts the live fields with a scan until a
//!   write purges them.
//! - The floor also has an entry in the expiry index, so the leader's expiry sweep
//!   proposes a purge once it is due, like a key TTL ([`expire_fields`]); the floor
//!   then moves to the next field TTL.
//! - A hash whose fields have all expired does not exist, for every command (EXISTS,
//!   TYPE, SCAN, DEL's count, the hash commands), as a key past its TTL
//!   ([`all_fields_expired`], checked by `Txn::get_meta`); the sweep or the next write
//!   deletes it. DBSIZE counts it until then, as Redis counts keys not yet expired.

use crate::coll::{self, Entries};
use crate::error::CmdError;
use crate::txn::Txn;
use ::keys::hash::{decode_field, decode_ttl_floor, encode_field, encode_ttl_floor};
use ::keys::{Cf, Kind, Meta};

/// A field record that does not decode.
pub(crate) fn corrupt() -> CmdError {
    CmdError::storage("corrupt hash field record")
}

#[inline]
fn live(expire_at_ms: u64, now_ms: u64) -> bool {
    expire_at_ms == 0 || expire_at_ms > now_ms
}

/// Lower bound of the hash's field TTLs, None when no field has one (for the expiry
/// sweep too).
#[inline]
pub(crate) fn ttl_floor(meta: &Meta) -> Option<u64> {
    decode_ttl_floor(&meta.inline)
}

/// Sets the TTL floor and keeps its entry in the expiry index (the same index key TTLs
/// use), so the leader's expiry sweep proposes a purge of the hash once the floor is
/// due (see [`expire_fields`]).
pub(crate) fn update_floor(t: &mut Txn, key: &[u8], meta: &mut Meta, floor: Option<u64>) {
    let old = ttl_floor(meta);
    if old != floor {
        if let Some(o) = old.filter(|&o| o != meta.expire_at_ms) {
            t.raw_delete(Cf::Expire, ::keys::expire_key(o, t.db, key));
        }
        if let Some(n) = floor.filter(|&n| n != meta.expire_at_ms) {
            t.raw_put(Cf::Expire, ::keys::expire_key(n, t.db, key), Vec::new());
        }
    }
    meta.inline = encode_ttl_floor(floor);
}

/// True when the hash `meta` (a live key) has no live field left at `t.now_ms`: every
/// field carried a TTL and all have passed. Such a hash does not exist for any command
/// (EXISTS, TYPE, SCAN, ...), exactly as a key past its own TTL; its records are
/// deleted by the leader's expiry sweep or the next write. O(1) unless some field may
/// have expired; then it walks the fields until the first live one.
pub(crate) fn all_fields_expired(t: &Txn, key: &[u8], meta: &Meta) -> Result<bool, CmdError> {
    if !may_have_expired(meta, t.now_ms) {
        return Ok(false);
    }
    let now = t.now_ms;
    let mut any_live = false;
    scan_fields(t, key, meta, &mut |_, at, _| {
        any_live = live(at, now);
        !any_live
    })?;
    Ok(!any_live)
}

/// The expiry sweep reached `at`, the TTL floor of the hash at `key`: deletes its
/// expired fields (and the key when none is left). Runs inside a log entry with the
/// leader's time, so every replica deletes the same fields. True if the key is gone.
pub(crate) fn expire_fields(t: &mut Txn, key: &[u8], meta: Meta) -> Result<bool, CmdError> {
    let mut meta = meta;
    purge(t, key, &mut meta)?;
    if meta.len == 0 {
        t.delete_key(key)?;
        return Ok(true);
    }
    t.put_meta(key, meta)?;
    Ok(false)
}

/// True when some field may have expired at `now_ms`.
#[inline]
fn may_have_expired(meta: &Meta, now_ms: u64) -> bool {
    ttl_floor(meta).is_some_and(|f| f <= now_ms)
}

/// True if a record of `field` is stored, live or not (after [`open_write`] every
/// stored field is live).
#[inline]
pub(crate) fn contains(t: &Txn, key: &[u8], meta: &Meta, field: &[u8]) -> Result<bool, CmdError> {
    Ok(coll::get(t, key, meta, field)?.is_some())
}

/// The stored record of `field` (live or not) as (expire_at_ms, value).
pub(crate) fn stored(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    field: &[u8],
) -> Result<Option<(u64, Vec<u8>)>, CmdError> {
    match coll::get(t, key, meta, field)? {
        None => Ok(None),
        Some(raw) => {
            let (at, v) = decode_field(&raw).ok_or_else(corrupt)?;
            Ok(Some((at, v.to_vec())))
        }
    }
}

/// A live field as (expire_at_ms, value).
pub(crate) fn get_field(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    field: &[u8],
) -> Result<Option<(u64, Vec<u8>)>, CmdError> {
    Ok(stored(t, key, meta, field)?.filter(|(at, _)| live(*at, t.now_ms)))
}

/// Writes `field` with TTL `expire_at_ms` (0 = none); `is_new` says it was absent.
/// The TTL floor is the caller's ([`update_floor`]).
#[inline]
pub(crate) fn put_field(
    t: &mut Txn,
    key: &[u8],
    meta: &mut Meta,
    field: &[u8],
    expire_at_ms: u64,
    value: &[u8],
    is_new: bool,
) {
    coll::put(
        t,
        key,
        meta,
        field,
        encode_field(expire_at_ms, value),
        is_new,
    );
}

/// Removes `field`, which the caller knows to be stored.
#[inline]
pub(crate) fn remove_field(t: &mut Txn, key: &[u8], meta: &mut Meta, field: &[u8]) {
    coll::remove(t, key, meta, field);
}

/// `f(field, expire_at_ms, value)`; false stops the walk.
type FieldVisitor<'a> = dyn FnMut(&[u8], u64, &[u8]) -> bool + 'a;

/// Visits every stored field (expired ones too) as `f(field, expire_at_ms, value)`.
fn scan_fields(t: &Txn, key: &[u8], meta: &Meta, f: &mut FieldVisitor) -> Result<(), CmdError> {
    let mut bad = false;
    coll::scan(t, key, meta, &mut |s, raw| match decode_field(raw) {
        Some((at, v)) => f(s, at, v),
        None => {
            bad = true;
            false
        }
    })?;
    if bad {
        Err(corrupt())
    } else {
        Ok(())
    }
}

/// Every live field as (field, value), in field order.
pub(crate) fn live_fields(t: &Txn, key: &[u8], meta: &Meta) -> Result<Entries, CmdError> {
    let now = t.now_ms;
    let mut out = Vec::with_capacity(meta.len.min(1 << 16) as usize);
    scan_fields(t, key, meta, &mut |f, at, v| {
        if live(at, now) {
            out.push((f.to_vec(), v.to_vec()));
        }
        true
    })?;
    Ok(out)
}

/// Number of live fields: `meta.len` unless some field may have expired.
pub(crate) fn live_len(t: &Txn, key: &[u8], meta: &Meta) -> Result<u64, CmdError> {
    if !may_have_expired(meta, t.now_ms) {
        return Ok(meta.len);
    }
    let now = t.now_ms;
    let mut n = 0;
    scan_fields(t, key, meta, &mut |_, at, _| {
        n += live(at, now) as u64;
        true
    })?;
    Ok(n)
}

/// (field, value) from an (field, record) entry whose record decodes.
fn decoded(entries: Entries) -> Entries {
    entries
        .into_iter()
        .map(|(f, mut raw)| {
            let header = decode_field(&raw).map(|(_, v)| raw.len() - v.len());
            match header {
                Some(h) => {
                    raw.drain(..h);
                    (f, raw)
                }
                None => (f, Vec::new()),
            }
        })
        .collect()
}

/// The live fields at `positions` (ascending, unique positions among the live
/// fields) as (field, value): one pass (HRANDFIELD).
pub(crate) fn nth_fields(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    positions: &[u64],
) -> Result<Entries, CmdError> {
    let now = t.now_ms;
    let keep = move |raw: &[u8]| decode_field(raw).is_some_and(|(at, _)| live(at, now));
    Ok(decoded(coll::nth_entries(t, key, meta, positions, &keep)?))
}

/// The live fields at `draws` (positions among the live fields, any order, repeats
/// allowed) as (field, value), in draw order (HRANDFIELD with a negative count).
pub(crate) fn drawn_fields(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    draws: &[u64],
) -> Result<Entries, CmdError> {
    let now = t.now_ms;
    let keep = move |raw: &[u8]| decode_field(raw).is_some_and(|(at, _)| live(at, now));
    Ok(decoded(coll::drawn_entries(t, key, meta, draws, &keep)?))
}

/// One HSCAN page from offset `cursor` over up to `count` field records (expired ones
/// count but are not handed over); each live field goes to `f(field, value)`. The next
/// cursor, 0 at the end (see `coll::scan_page`).
pub(crate) fn scan_page(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    cursor: u64,
    count: u64,
    f: &mut dyn FnMut(&[u8], &[u8]),
) -> Result<u64, CmdError> {
    let now = t.now_ms;
    let mut bad = false;
    let next = coll::scan_page(
        t,
        key,
        meta,
        cursor,
        count,
        &mut |field, raw| match decode_field(raw) {
            Some((at, v)) if live(at, now) => f(field, v),
            Some(_) => {}
            None => bad = true,
        },
    )?;
    if bad {
        return Err(corrupt());
    }
    Ok(next)
}

/// The live hash at `key` for reading (WRONGTYPE if another type).
#[inline]
pub(crate) fn open(t: &Txn, key: &[u8]) -> Result<Option<Meta>, CmdError> {
    t.get_kind(key, Kind::Hash)
}

/// The hash at `key` for a write command: fields expired at `t.now_ms` are deleted
/// first, and the purge is saved at once (so `len` stays exact even if the command
/// then fails). None if the key is missing or held only expired fields (then it is
/// deleted).
pub(crate) fn open_write(t: &mut Txn, key: &[u8]) -> Result<Option<Meta>, CmdError> {
    let Some(mut meta) = t.get_kind(key, Kind::Hash)? else {
        return Ok(None);
    };
    if may_have_expired(&meta, t.now_ms) {
        purge(t, key, &mut meta)?;
        if meta.len == 0 {
            coll::save(t, key, meta)?;
            return Ok(None);
        }
        t.put_meta(key, meta.clone())?;
    }
    Ok(Some(meta))
}

/// [`open_write`], or a new empty hash (saved by the caller once it has a field).
pub(crate) fn open_or_create(t: &mut Txn, key: &[u8]) -> Result<Meta, CmdError> {
    match open_write(t, key)? {
        Some(m) => Ok(m),
        None => Ok(t.new_meta(Kind::Hash, Vec::new())),
    }
}

/// Persists `meta` after its fields changed; a hash left empty is deleted.
#[inline]
pub(crate) fn save(t: &mut Txn, key: &[u8], meta: Meta) -> Result<(), CmdError> {
    coll::save(t, key, meta)
}

/// Deletes the expired fields and recomputes the TTL floor exactly.
fn purge(t: &mut Txn, key: &[u8], meta: &mut Meta) -> Result<(), CmdError> {
    let now = t.now_ms;
    let mut doomed = Vec::new();
    let mut floor: Option<u64> = None;
    scan_fields(t, key, meta, &mut |f, at, _| {
        if at != 0 {
            if at <= now {
                doomed.push(f.to_vec());
            } else {
                floor = Some(floor.map_or(at, |m| m.min(at)));
            }
        }
        true
    })?;
    for f in doomed {
        coll::remove(t, key, meta, &f);
    }
    update_floor(t, key, meta, floor);
    Ok(())
}
