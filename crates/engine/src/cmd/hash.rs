//! Hash commands (t_hash.c), including Redis 7.4's per-field expiry.
//!
//! Layout: the key's meta record (kind Hash) plus one `data` record per field (see
//! `crate::coll`). A field record's value is a tag byte, then the field value:
//! `0, value` for a field without TTL, `1, expire_at_ms (u64 BE), value` for one with.
//!
//! Field expiry, deterministically:
//! - A field whose `expire_at_ms <= t.now_ms` is invisible to every command.
//! - Expired fields are deleted by the next *hash write command* on the key (HSET,
//!   HDEL, HINCRBY, HEXPIRE, HPERSIST, ...) run at an entry time past their expiry: it
//!   first purges them (see [`open_write`]). That write is a log entry with the
//!   leader's `now_ms`, so every replica deletes the same fields. Reads never write.
//! - `meta.len` counts the field *records* stored, expired-but-not-yet-purged ones
//!   included. `meta.inline` is empty when no field has a TTL, else 8 bytes: a lower
//!   bound of every field TTL in the hash ("floor"; setting a TTL lowers it, a purge
//!   recomputes it exactly, removing a TTL leaves it, which is still a lower bound).
//!   So while `floor > now` no field can have expired and HLEN is `meta.len` (O(1));
//!   otherwise HLEN counts the live fields with a scan until a write purges them.
//! - The floor also has an entry in the expiry index, so the leader's expiry sweep
//!   proposes a purge once it is due, like a key TTL ([`expire_fields`]); the floor
//!   then moves to the next field TTL.
//! - A hash whose fields have all expired does not exist, for every command (EXISTS,
//!   TYPE, SCAN, DEL's count, the hash commands), as a key past its TTL
//!   ([`all_fields_expired`], checked by `Txn::get_meta`); the sweep or the next write
//!   deletes it. DBSIZE counts it until then, as Redis counts keys not yet expired.

use super::spec;
use crate::args::{self, parse_i64};
use crate::coll;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec};
use crate::txn::Txn;
use crate::Frame;
use ::keys::{Cf, Kind, Meta};

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let h: &'static [&'static str] = &["hash"];
    let g = "hash";
    let k = keys(1, 1, 1);
    vec![
        spec("hdel", -3, WRITE | FAST, k, h, g, "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", E(hdel)),
        spec("hexists", 3, READONLY | FAST, k, h, g, "2.0.0", "Determines whether a field exists in a hash.", E(hexists)),
        spec("hexpire", -6, WRITE | DENYOOM | FAST, k, h, g, "7.4.0", "Set expiry for hash field using relative time to expire (seconds)", E(hexpire)),
        spec("hexpireat", -6, WRITE | DENYOOM | FAST, k, h, g, "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (seconds)", E(hexpireat)),
        spec("hexpiretime", -5, READONLY | FAST, k, h, g, "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", E(hexpiretime)),
        spec("hget", 3, READONLY | FAST, k, h, g, "2.0.0", "Returns the value of a field in a hash.", E(hget)),
        spec("hgetall", 2, READONLY, k, h, g, "2.0.0", "Returns all fields and values in a hash.", E(hgetall)),
        spec("hincrby", 4, WRITE | DENYOOM | FAST, k, h, g, "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", E(hincrby)),
        spec("hincrbyfloat", 4, WRITE | DENYOOM | FAST, k, h, g, "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", E(hincrbyfloat)),
        spec("hkeys", 2, READONLY, k, h, g, "2.0.0", "Returns all fields in a hash.", E(hkeys)),
        spec("hlen", 2, READONLY | FAST, k, h, g, "2.0.0", "Returns the number of fields in a hash.", E(hlen)),
        spec("hmget", -3, READONLY | FAST, k, h, g, "2.0.0", "Returns the values of all fields in a hash.", E(hmget)),
        spec("hmset", -4, WRITE | DENYOOM | FAST, k, h, g, "2.0.0", "Sets the values of multiple fields.", E(hmset)),
        spec("hpersist", -5, WRITE | FAST, k, h, g, "7.4.0", "Removes the expiration time for each specified field", E(hpersist)),
        spec("hpexpire", -6, WRITE | DENYOOM | FAST, k, h, g, "7.4.0", "Set expiry for hash field using relative time to expire (milliseconds)", E(hpexpire)),
        spec("hpexpireat", -6, WRITE | DENYOOM | FAST, k, h, g, "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (milliseconds)", E(hpexpireat)),
        spec("hpexpiretime", -5, READONLY | FAST, k, h, g, "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in msec.", E(hpexpiretime)),
        spec("hpttl", -5, READONLY | FAST, k, h, g, "7.4.0", "Returns the TTL in milliseconds of a hash field.", E(hpttl)),
        spec("hrandfield", -2, READONLY, k, h, g, "6.2.0", "Returns one or more random fields from a hash.", E(hrandfield)),
        spec("hscan", -3, READONLY, k, h, g, "2.8.0", "Iterates over fields and values of a hash.", E(hscan)),
        spec("hset", -4, WRITE | DENYOOM | FAST, k, h, g, "2.0.0", "Creates or modifies the value of a field in a hash.", E(hset)),
        spec("hsetnx", 4, WRITE | DENYOOM | FAST, k, h, g, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", E(hsetnx)),
        spec("hstrlen", 3, READONLY | FAST, k, h, g, "3.2.0", "Returns the length of the value of a field.", E(hstrlen)),
        spec("httl", -5, READONLY | FAST, k, h, g, "7.4.0", "Returns the TTL in seconds of a hash field.", E(httl)),
        spec("hvals", 2, READONLY, k, h, g, "2.0.0", "Returns all values in a hash.", E(hvals)),
    ]
}

// ---- field records ------------------------------------------------------------------

const TAG_PLAIN: u8 = 0;
const TAG_TTL: u8 = 1;

/// Largest absolute field expiry Redis accepts (HFE_MAX_ABS_TIME_MSEC = 2^46 - 1).
const MAX_FIELD_EXPIRE_MS: i64 = (0x0000_FFFF_FFFF_FFFF_i64) >> 2;

fn encode_field(expire_at_ms: u64, value: &[u8]) -> Vec<u8> {
    if expire_at_ms == 0 {
        let mut out = Vec::with_capacity(1 + value.len());
        out.push(TAG_PLAIN);
        out.extend_from_slice(value);
        out
    } else {
        let mut out = Vec::with_capacity(9 + value.len());
        out.push(TAG_TTL);
        out.extend_from_slice(&expire_at_ms.to_be_bytes());
        out.extend_from_slice(value);
        out
    }
}

/// (expire_at_ms or 0, value) of a field record.
fn split(raw: &[u8]) -> Option<(u64, &[u8])> {
    match *raw.first()? {
        TAG_PLAIN => Some((0, &raw[1..])),
        TAG_TTL if raw.len() >= 9 => {
            let at = u64::from_be_bytes(raw[1..9].try_into().ok()?);
            Some((at, &raw[9..]))
        }
        _ => None,
    }
}

fn corrupt() -> CmdError {
    CmdError::storage("corrupt hash field record")
}

fn live(expire_at_ms: u64, now_ms: u64) -> bool {
    expire_at_ms == 0 || expire_at_ms > now_ms
}

/// Lower bound of the hash's field TTLs, None when no field has one.
fn ttl_floor(meta: &Meta) -> Option<u64> {
    let b = meta.inline.get(..8)?;
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

fn set_ttl_floor(meta: &mut Meta, floor: Option<u64>) {
    meta.inline = floor.map_or_else(Vec::new, |f| f.to_be_bytes().to_vec());
}

/// Sets the TTL floor and keeps its entry in the expiry index (the same index key TTLs
/// use), so the leader's expiry sweep proposes a purge of the hash once the floor is
/// due (see [`expire_fields`]).
fn update_floor(t: &mut Txn, key: &[u8], meta: &mut Meta, floor: Option<u64>) {
    let old = ttl_floor(meta);
    if old != floor {
        if let Some(o) = old.filter(|&o| o != meta.expire_at_ms) {
            t.raw_delete(Cf::Expire, ::keys::expire_key(o, t.db, key));
        }
        if let Some(n) = floor.filter(|&n| n != meta.expire_at_ms) {
            t.raw_put(Cf::Expire, ::keys::expire_key(n, t.db, key), Vec::new());
        }
    }
    set_ttl_floor(meta, floor);
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

/// The TTL floor of a hash's meta record (for the expiry sweep).
pub(crate) fn field_ttl_floor(meta: &Meta) -> Option<u64> {
    ttl_floor(meta)
}

/// True when some field may have expired at `now_ms`.
fn may_have_expired(meta: &Meta, now_ms: u64) -> bool {
    ttl_floor(meta).is_some_and(|f| f <= now_ms)
}

/// The stored record of `field` (live or not) as (expire_at_ms, value).
fn stored(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    field: &[u8],
) -> Result<Option<(u64, Vec<u8>)>, CmdError> {
    match coll::get(t, key, meta, field)? {
        None => Ok(None),
        Some(raw) => {
            let (at, v) = split(&raw).ok_or_else(corrupt)?;
            Ok(Some((at, v.to_vec())))
        }
    }
}

/// A live field as (expire_at_ms, value).
fn get_field(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    field: &[u8],
) -> Result<Option<(u64, Vec<u8>)>, CmdError> {
    Ok(stored(t, key, meta, field)?.filter(|(at, _)| live(*at, t.now_ms)))
}

fn put_field(
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

/// `f(field, expire_at_ms, value)`; false stops the walk.
type FieldVisitor<'a> = dyn FnMut(&[u8], u64, &[u8]) -> bool + 'a;

/// Visits every stored field (expired ones too) as `f(field, expire_at_ms, value)`.
fn scan_fields(t: &Txn, key: &[u8], meta: &Meta, f: &mut FieldVisitor) -> Result<(), CmdError> {
    let mut bad = false;
    coll::scan(t, key, meta, &mut |s, raw| match split(raw) {
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
fn live_fields(t: &Txn, key: &[u8], meta: &Meta) -> Result<coll::Entries, CmdError> {
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
fn live_len(t: &Txn, key: &[u8], meta: &Meta) -> Result<u64, CmdError> {
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

/// The live hash at `key` for reading (WRONGTYPE if another type).
fn read_hash(t: &Txn, key: &[u8]) -> Result<Option<Meta>, CmdError> {
    t.get_kind(key, Kind::Hash)
}

/// The hash at `key` for a write command: fields expired at `t.now_ms` are deleted
/// first, and the purge is saved at once (so `len` stays exact even if the command
/// then fails). None if the key is missing or held only expired fields (then it is
/// deleted).
fn open_write(t: &mut Txn, key: &[u8]) -> Result<Option<Meta>, CmdError> {
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
fn open_or_create(t: &mut Txn, key: &[u8]) -> Result<Meta, CmdError> {
    match open_write(t, key)? {
        Some(m) => Ok(m),
        None => Ok(t.new_meta(Kind::Hash, Vec::new())),
    }
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

fn bulk_or_null(v: Option<Vec<u8>>) -> Frame {
    v.map_or(Frame::Null, Frame::Bulk)
}

fn int(n: i64) -> CmdResult {
    Ok(Frame::Integer(n))
}

// ---- HSET family --------------------------------------------------------------------

/// HSET/HMSET: a field written by them loses its TTL (as in Redis 7.4).
fn hset_generic(t: &mut Txn, argv: &[Vec<u8>], name: &str) -> Result<i64, CmdError> {
    if argv.len() % 2 == 1 {
        return Err(CmdError::wrong_arity(name));
    }
    let key = &argv[1];
    let mut meta = open_or_create(t, key)?;
    let mut created = 0;
    for pair in argv[2..].chunks(2) {
        // After open_write no expired field is stored: present means live.
        let is_new = coll::get(t, key, &meta, &pair[0])?.is_none();
        put_field(t, key, &mut meta, &pair[0], 0, &pair[1], is_new);
        created += is_new as i64;
    }
    coll::save(t, key, meta)?;
    Ok(created)
}

fn hset(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    int(hset_generic(t, argv, "hset")?)
}

fn hmset(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    hset_generic(t, argv, "hmset")?;
    Ok(Frame::ok())
}

fn hsetnx(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let mut meta = open_or_create(t, key)?;
    if coll::get(t, key, &meta, &argv[2])?.is_some() {
        return int(0);
    }
    put_field(t, key, &mut meta, &argv[2], 0, &argv[3], true);
    coll::save(t, key, meta)?;
    int(1)
}

/// HINCRBY and HINCRBYFLOAT keep the field's TTL (HASH_SET_KEEP_TTL in Redis).
fn hincrby(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let (key, field) = (&argv[1], &argv[2]);
    let incr = parse_i64(&argv[3])?;
    let mut meta = open_or_create(t, key)?;
    let (ttl, old, is_new) = match stored(t, key, &meta, field)? {
        Some((at, v)) => {
            let n = args::parse_i64_opt(&v)
                .ok_or_else(|| CmdError::new("ERR hash value is not an integer"))?;
            (at, n, false)
        }
        None => (0, 0, true),
    };
    let new = old.checked_add(incr).ok_or_else(CmdError::overflow)?;
    put_field(
        t,
        key,
        &mut meta,
        field,
        ttl,
        new.to_string().as_bytes(),
        is_new,
    );
    coll::save(t, key, meta)?;
    int(new)
}

fn hincrbyfloat(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let (key, field) = (&argv[1], &argv[2]);
    let incr = args::parse_f64(&argv[3])?;
    if !incr.is_finite() {
        return Err(CmdError::new("ERR value is NaN or Infinity"));
    }
    let mut meta = open_or_create(t, key)?;
    let (ttl, old, is_new) = match stored(t, key, &meta, field)? {
        Some((at, v)) => {
            let n = args::parse_f64_opt(&v)
                .ok_or_else(|| CmdError::new("ERR hash value is not a float"))?;
            (at, n, false)
        }
        None => (0, 0.0, true),
    };
    let new = old + incr;
    if !new.is_finite() {
        return Err(CmdError::new("ERR increment would produce NaN or Infinity"));
    }
    let s = args::format_float(new).into_bytes();
    put_field(t, key, &mut meta, field, ttl, &s, is_new);
    coll::save(t, key, meta)?;
    Ok(Frame::Bulk(s))
}

fn hdel(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let Some(mut meta) = open_write(t, key)? else {
        return int(0);
    };
    let mut deleted = 0;
    for field in &argv[2..] {
        if coll::get(t, key, &meta, field)?.is_some() {
            coll::remove(t, key, &mut meta, field);
            deleted += 1;
        }
    }
    if deleted > 0 {
        coll::save(t, key, meta)?;
    }
    int(deleted)
}

// ---- reads --------------------------------------------------------------------------

fn hget(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(meta) = read_hash(t, &argv[1])? else {
        return Ok(Frame::Null);
    };
    Ok(bulk_or_null(
        get_field(t, &argv[1], &meta, &argv[2])?.map(|(_, v)| v),
    ))
}

fn hmget(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let meta = read_hash(t, &argv[1])?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for field in &argv[2..] {
        out.push(match &meta {
            Some(m) => bulk_or_null(get_field(t, &argv[1], m, field)?.map(|(_, v)| v)),
            None => Frame::Null,
        });
    }
    Ok(Frame::Array(out))
}

fn hexists(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(meta) = read_hash(t, &argv[1])? else {
        return int(0);
    };
    int(get_field(t, &argv[1], &meta, &argv[2])?.is_some() as i64)
}

fn hstrlen(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(meta) = read_hash(t, &argv[1])? else {
        return int(0);
    };
    int(get_field(t, &argv[1], &meta, &argv[2])?.map_or(0, |(_, v)| v.len() as i64))
}

fn hlen(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(meta) = read_hash(t, &argv[1])? else {
        return int(0);
    };
    int(live_len(t, &argv[1], &meta)? as i64)
}

fn hgetall(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(meta) = read_hash(t, &argv[1])? else {
        return Ok(Frame::Map(Vec::new()));
    };
    let pairs = live_fields(t, &argv[1], &meta)?;
    Ok(Frame::Map(
        pairs
            .into_iter()
            .map(|(f, v)| (Frame::Bulk(f), Frame::Bulk(v)))
            .collect(),
    ))
}

fn hkeys(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(meta) = read_hash(t, &argv[1])? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let pairs = live_fields(t, &argv[1], &meta)?;
    Ok(Frame::Array(
        pairs.into_iter().map(|(f, _)| Frame::Bulk(f)).collect(),
    ))
}

fn hvals(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(meta) = read_hash(t, &argv[1])? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let pairs = live_fields(t, &argv[1], &meta)?;
    Ok(Frame::Array(
        pairs.into_iter().map(|(_, v)| Frame::Bulk(v)).collect(),
    ))
}

/// HRANDFIELD key [count [WITHVALUES]]. Picks come from `t.rng`; a pick costs a scan
/// up to the chosen position (there is no positional index).
fn hrandfield(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let now = t.now_ms;
    let keep = move |raw: &[u8]| split(raw).is_some_and(|(at, _)| live(at, now));
    let value_of = |raw: &[u8]| split(raw).map_or_else(Vec::new, |(_, v)| v.to_vec());
    if argv.len() == 2 {
        let Some(meta) = read_hash(t, key)? else {
            return Ok(Frame::Null);
        };
        let n = live_len(t, key, &meta)?;
        if n == 0 {
            return Ok(Frame::Null);
        }
        let pos = t.rng.below(n);
        let picked = coll::nth_entries(t, key, &meta, &[pos], &keep)?;
        return Ok(bulk_or_null(picked.into_iter().next().map(|(f, _)| f)));
    }
    let l = coll::parse_count(&argv[2])?;
    let withvalues = match argv.len() {
        3 => false,
        4 if args::is(&argv[3], "withvalues") => true,
        _ => return Err(CmdError::syntax()),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::new("ERR value is out of range"));
    }
    let Some(meta) = read_hash(t, key)? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let n = live_len(t, key, &meta)?;
    if n == 0 || l == 0 {
        return Ok(Frame::Array(Vec::new()));
    }
    let picked = if l < 0 {
        let count = l.unsigned_abs();
        coll::check_repeats(count)?;
        let draws = coll::sample_repeat(&mut t.rng, n, count);
        coll::drawn_entries(t, key, &meta, &draws, &keep)?
    } else if l as u64 >= n {
        let all: Vec<u64> = (0..n).collect();
        coll::nth_entries(t, key, &meta, &all, &keep)?
    } else {
        let positions = coll::sample_unique(&mut t.rng, n, l as u64);
        coll::nth_entries(t, key, &meta, &positions, &keep)?
    };
    if withvalues {
        // Flat in RESP2, [field, value] pairs in RESP3 (as Redis 7).
        return Ok(Frame::Pairs(
            picked
                .into_iter()
                .map(|(f, raw)| (Frame::Bulk(f), Frame::Bulk(value_of(&raw))))
                .collect(),
        ));
    }
    Ok(Frame::Array(
        picked.into_iter().map(|(f, _)| Frame::Bulk(f)).collect(),
    ))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]. The cursor is an offset
/// in field order (see `coll::scan_page` for the guarantees); expired fields count
/// toward COUNT but are not returned.
fn hscan(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let cursor = coll::parse_cursor(&argv[2])?;
    let Some(meta) = read_hash(t, key)? else {
        return Ok(coll::scan_reply(0, Vec::new()));
    };
    let o = coll::parse_scan_opts(argv, 3, true)?;
    let now = t.now_ms;
    let mut out = Vec::new();
    let mut bad = false;
    let next = coll::scan_page(t, key, &meta, cursor, o.count, &mut |f, raw| {
        let Some((at, v)) = split(raw) else {
            bad = true;
            return;
        };
        if !live(at, now) || o.pattern.is_some_and(|p| !crate::glob_match(p, f, false)) {
            return;
        }
        out.push(Frame::Bulk(f.to_vec()));
        if !o.novalues {
            out.push(Frame::Bulk(v.to_vec()));
        }
    })?;
    if bad {
        return Err(corrupt());
    }
    Ok(coll::scan_reply(next, out))
}

// ---- field expiry -------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cond {
    None,
    Nx,
    Xx,
    Gt,
    Lt,
}

/// `FIELDS numfields field...` starting at `at`; the fields, checked against argc.
fn parse_fields<'a>(
    argv: &'a [Vec<u8>],
    at: usize,
    numfields_msg: &str,
) -> Result<&'a [Vec<u8>], CmdError> {
    if !argv.get(at).is_some_and(|a| args::is(a, "fields")) {
        return Err(CmdError::new(
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ));
    }
    let n = argv
        .get(at + 1)
        .and_then(|a| args::parse_i64_opt(a))
        .filter(|&n| n >= 1)
        .ok_or_else(|| CmdError::new(numfields_msg))?;
    if n as u64 != (argv.len() - at - 2) as u64 {
        return Err(CmdError::new(
            "ERR The `numfields` parameter must match the number of arguments",
        ));
    }
    Ok(&argv[at + 2..])
}

fn all_ints(n: usize, v: i64) -> Frame {
    Frame::Array(vec![Frame::Integer(v); n])
}

/// Redis's hexpireGenericCommand. `relative`: the time is added to now; `seconds`:
/// the unit. Per field: -2 no such field, 0 condition not met, 1 set, 2 deleted
/// (the time is not in the future).
fn hexpire_generic(
    t: &mut Txn,
    argv: &[Vec<u8>],
    name: &str,
    relative: bool,
    seconds: bool,
) -> CmdResult {
    let key = &argv[1];
    t.get_kind(key, Kind::Hash)?;
    let invalid = || CmdError::new(format!("ERR invalid expire time in '{name}' command"));
    let mut when = parse_i64(&argv[2])?;
    if when < 0 {
        return Err(CmdError::new("ERR invalid expire time, must be >= 0"));
    }
    if seconds {
        if when > MAX_FIELD_EXPIRE_MS / 1000 {
            return Err(invalid());
        }
        when *= 1000;
    }
    let base = if relative {
        i64::try_from(t.now_ms).unwrap_or(i64::MAX)
    } else {
        0
    };
    if when > MAX_FIELD_EXPIRE_MS.saturating_sub(base) {
        return Err(invalid());
    }
    let at = (when + base) as u64;
    let cond = [
        ("nx", Cond::Nx),
        ("xx", Cond::Xx),
        ("gt", Cond::Gt),
        ("lt", Cond::Lt),
    ]
    .iter()
    .find(|(w, _)| args::is(&argv[3], w))
    .map_or(Cond::None, |(_, c)| *c);
    let fields_at = if cond == Cond::None { 3 } else { 4 };
    let fields = parse_fields(
        argv,
        fields_at,
        "ERR Parameter `numFields` should be greater than 0",
    )?;

    let Some(mut meta) = open_write(t, key)? else {
        return Ok(all_ints(fields.len(), -2));
    };
    let now = t.now_ms;
    let mut floor = ttl_floor(&meta);
    let mut changed = false;
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let Some((prev, value)) = stored(t, key, &meta, field)? else {
            out.push(Frame::Integer(-2));
            continue;
        };
        let unmet = if prev == 0 {
            // No TTL is an infinite one: NX and LT hold, XX and GT do not.
            matches!(cond, Cond::Xx | Cond::Gt)
        } else {
            match cond {
                Cond::Nx => true,
                Cond::Gt => prev >= at,
                Cond::Lt => prev <= at,
                Cond::Xx | Cond::None => false,
            }
        };
        if unmet {
            out.push(Frame::Integer(0));
            continue;
        }
        changed = true;
        if at <= now {
            coll::remove(t, key, &mut meta, field);
            out.push(Frame::Integer(2));
        } else {
            put_field(t, key, &mut meta, field, at, &value, false);
            floor = Some(floor.map_or(at, |f| f.min(at)));
            out.push(Frame::Integer(1));
        }
    }
    if changed {
        update_floor(t, key, &mut meta, floor);
        coll::save(t, key, meta)?;
    }
    Ok(Frame::Array(out))
}

fn hexpire(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    hexpire_generic(t, argv, "hexpire", true, true)
}

fn hpexpire(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    hexpire_generic(t, argv, "hpexpire", true, false)
}

fn hexpireat(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    hexpire_generic(t, argv, "hexpireat", false, true)
}

fn hpexpireat(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    hexpire_generic(t, argv, "hpexpireat", false, false)
}

#[derive(Clone, Copy)]
enum TtlReply {
    Secs,
    Millis,
    AtSecs,
    AtMillis,
}

/// HTTL/HPTTL/HEXPIRETIME/HPEXPIRETIME: per field -2 no such field, -1 no TTL, else
/// the time. Seconds round up, as Redis's httlGenericCommand does.
fn httl_generic(t: &mut Txn, argv: &[Vec<u8>], what: TtlReply) -> CmdResult {
    let key = &argv[1];
    let meta = read_hash(t, key)?;
    let fields = parse_fields(argv, 2, "ERR Number of fields must be a positive integer")?;
    let Some(meta) = meta else {
        return Ok(all_ints(fields.len(), -2));
    };
    let now = t.now_ms;
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let r = match stored(t, key, &meta, field)? {
            None => -2,
            Some((0, _)) => -1,
            Some((at, _)) if at <= now => -2,
            Some((at, _)) => {
                let v = match what {
                    TtlReply::Secs => (at - now).div_ceil(1000),
                    TtlReply::Millis => at - now,
                    TtlReply::AtSecs => at.div_ceil(1000),
                    TtlReply::AtMillis => at,
                };
                v.min(i64::MAX as u64) as i64
            }
        };
        out.push(Frame::Integer(r));
    }
    Ok(Frame::Array(out))
}

fn httl(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    httl_generic(t, argv, TtlReply::Secs)
}

fn hpttl(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    httl_generic(t, argv, TtlReply::Millis)
}

fn hexpiretime(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    httl_generic(t, argv, TtlReply::AtSecs)
}

fn hpexpiretime(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    httl_generic(t, argv, TtlReply::AtMillis)
}

/// HPERSIST: per field -2 no such field, -1 no TTL, 1 TTL removed.
fn hpersist(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    t.get_kind(key, Kind::Hash)?;
    let fields = parse_fields(argv, 2, "ERR Number of fields must be a positive integer")?;
    let Some(mut meta) = open_write(t, key)? else {
        return Ok(all_ints(fields.len(), -2));
    };
    let mut changed = false;
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let r = match stored(t, key, &meta, field)? {
            None => -2,
            Some((0, _)) => -1,
            Some((_, value)) => {
                // The floor stays a valid lower bound; the next purge tightens it.
                put_field(t, key, &mut meta, field, 0, &value, false);
                changed = true;
                1
            }
        };
        out.push(Frame::Integer(r));
    }
    if changed {
        coll::save(t, key, meta)?;
    }
    Ok(Frame::Array(out))
}
