//! Hash commands (t_hash.c), including Redis 7.4's per-field expiry.
//!
//! The records (one `data` record per field, field TTLs, the hash's TTL floor) and
//! the rules of field expiry are `types::hash`'s: a field past its TTL is invisible
//! to every command, the next hash write command (or the expiry sweep) purges it, and
//! a hash whose fields have all expired does not exist.

use super::spec;
use crate::args::{self, parse_i64};
use crate::coll;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec};
use crate::txn::Txn;
use crate::types::hash::{
    self as records, get_field, live_fields, live_len, open as read_hash, open_or_create,
    open_write, put_field, stored,
};
use crate::Frame;

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
        spec("hgetdel", -5, WRITE | FAST, k, h, g, "8.0.0", "Returns the value of a field and deletes it from the hash.", E(hgetdel)),
        spec("hgetex", -5, WRITE | FAST, k, h, g, "8.0.0", "Get the value of one or more fields of a given hash key, and optionally set their expiration.", E(hgetex)),
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
        spec("hsetex", -6, WRITE | DENYOOM | FAST, k, h, g, "8.0.0", "Set the value of one or more fields of a given hash key, and optionally set their expiration.", E(hsetex)),
        spec("hsetnx", 4, WRITE | DENYOOM | FAST, k, h, g, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", E(hsetnx)),
        spec("hstrlen", 3, READONLY | FAST, k, h, g, "3.2.0", "Returns the length of the value of a field.", E(hstrlen)),
        spec("httl", -5, READONLY | FAST, k, h, g, "7.4.0", "Returns the TTL in seconds of a hash field.", E(httl)),
        spec("hvals", 2, READONLY, k, h, g, "2.0.0", "Returns all values in a hash.", E(hvals)),
    ]
}

/// Largest absolute field expiry Redis accepts (HFE_MAX_ABS_TIME_MSEC = 2^46 - 1).
const MAX_FIELD_EXPIRE_MS: i64 = (0x0000_FFFF_FFFF_FFFF_i64) >> 2;

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
        let is_new = !records::contains(t, key, &meta, &pair[0])?;
        put_field(t, key, &mut meta, &pair[0], 0, &pair[1], is_new);
        created += is_new as i64;
    }
    records::save(t, key, meta)?;
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
    if records::contains(t, key, &meta, &argv[2])? {
        return int(0);
    }
    put_field(t, key, &mut meta, &argv[2], 0, &argv[3], true);
    records::save(t, key, meta)?;
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
    records::save(t, key, meta)?;
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
    records::save(t, key, meta)?;
    Ok(Frame::Bulk(s))
}

fn hdel(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let Some(mut meta) = open_write(t, key)? else {
        return int(0);
    };
    let mut deleted = 0;
    for field in &argv[2..] {
        if records::contains(t, key, &meta, field)? {
            records::remove_field(t, key, &mut meta, field);
            deleted += 1;
        }
    }
    if deleted > 0 {
        records::save(t, key, meta)?;
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
    if argv.len() == 2 {
        let Some(meta) = read_hash(t, key)? else {
            return Ok(Frame::Null);
        };
        let n = live_len(t, key, &meta)?;
        if n == 0 {
            return Ok(Frame::Null);
        }
        let pos = t.rng.below(n);
        let picked = records::nth_fields(t, key, &meta, &[pos])?;
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
        records::drawn_fields(t, key, &meta, &draws)?
    } else if l as u64 >= n {
        let all: Vec<u64> = (0..n).collect();
        records::nth_fields(t, key, &meta, &all)?
    } else {
        let positions = coll::sample_unique(&mut t.rng, n, l as u64);
        records::nth_fields(t, key, &meta, &positions)?
    };
    if withvalues {
        // Flat in RESP2, [field, value] pairs in RESP3 (as Redis 7).
        return Ok(Frame::Pairs(
            picked
                .into_iter()
                .map(|(f, v)| (Frame::Bulk(f), Frame::Bulk(v)))
                .collect(),
        ));
    }
    Ok(Frame::Array(
        picked.into_iter().map(|(f, _)| Frame::Bulk(f)).collect(),
    ))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]. The cursor is a position
/// in hash order (see `coll::scan_page` for the guarantees); expired fields count
/// toward COUNT but are not returned.
fn hscan(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let cursor = coll::parse_cursor(&argv[2])?;
    let Some(meta) = read_hash(t, key)? else {
        return Ok(coll::scan_reply(0, Vec::new()));
    };
    let o = coll::parse_scan_opts(argv, 3, true)?;
    let mut out = Vec::new();
    let next = records::scan_page(t, key, &meta, cursor, o.count, &mut |f, v| {
        if o.pattern.is_some_and(|p| !crate::glob_match(p, f, false)) {
            return;
        }
        out.push(Frame::Bulk(f.to_vec()));
        if !o.novalues {
            out.push(Frame::Bulk(v.to_vec()));
        }
    })?;
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
    read_hash(t, key)?;
    let at = expire_time(t, &argv[2], name, relative, seconds)?;
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
    let mut floor = records::ttl_floor(&meta);
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
            records::remove_field(t, key, &mut meta, field);
            out.push(Frame::Integer(2));
        } else {
            put_field(t, key, &mut meta, field, at, &value, false);
            floor = Some(floor.map_or(at, |f| f.min(at)));
            out.push(Frame::Integer(1));
        }
    }
    if changed {
        records::update_floor(t, key, &mut meta, floor);
        records::save(t, key, meta)?;
    }
    Ok(Frame::Array(out))
}

/// A field expiry argument as an absolute time in ms (Redis's parseExpireTime):
/// `relative` adds it to now, `seconds` is its unit; Redis's bounds and error texts.
fn expire_time(
    t: &Txn,
    arg: &[u8],
    name: &str,
    relative: bool,
    seconds: bool,
) -> Result<u64, CmdError> {
    let invalid = || CmdError::new(format!("ERR invalid expire time in '{name}' command"));
    let mut when = parse_i64(arg)?;
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
    Ok((when + base) as u64)
}

/// EX / PX / EXAT / PXAT as (relative, seconds).
fn expire_unit(arg: &[u8]) -> Option<(bool, bool)> {
    [
        ("ex", (true, true)),
        ("px", (true, false)),
        ("exat", (false, true)),
        ("pxat", (false, false)),
    ]
    .iter()
    .find(|(w, _)| args::is(arg, w))
    .map(|(_, u)| *u)
}

/// `numfields` of HGETDEL/HGETEX at `at`, which must match the fields after it.
fn count_fields(argv: &[Vec<u8>], at: usize) -> Result<&[Vec<u8>], CmdError> {
    let n = argv
        .get(at)
        .and_then(|a| args::parse_i64_opt(a))
        .filter(|&n| n >= 1)
        .ok_or_else(|| CmdError::new("ERR Number of fields must be a positive integer"))?;
    if n as u64 != (argv.len() - at - 1) as u64 {
        return Err(CmdError::new(
            "ERR The `numfields` parameter must match the number of arguments",
        ));
    }
    Ok(&argv[at + 1..])
}

/// Raises the keyspace `events` (class, name) on `key` in this order, instead of the
/// ones derived from the command's name (Redis 8's HGETDEL/HGETEX/HSETEX name theirs).
fn notify_instead(t: &mut Txn, key: &[u8], events: &[(u32, &str)]) {
    for (class, name) in events {
        t.notify(t.db, *class, name, key);
    }
    t.events_reported();
}

/// `events`, then `del` if the hash was emptied.
fn emptied_too(mut events: Vec<(u32, &'static str)>, emptied: bool) -> Vec<(u32, &'static str)> {
    if emptied {
        events.push((EV_GENERIC, "del"));
    }
    events
}

use crate::events::class::{GENERIC as EV_GENERIC, HASH as EV_HASH, NEW as EV_NEW};

const FIELDS_MISSING: &str =
    "ERR Mandatory argument FIELDS is missing or not at the right position";

/// HGETDEL key FIELDS numfields field... (Redis 8.0): each field's value (nil if
/// absent), and the fields deleted; the key goes when its last field does.
fn hgetdel(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    read_hash(t, key)?;
    if !args::is(&argv[2], "fields") {
        return Err(CmdError::new(FIELDS_MISSING));
    }
    let fields = count_fields(argv, 3)?;
    let Some(mut meta) = open_write(t, key)? else {
        return Ok(Frame::Array(vec![Frame::Null; fields.len()]));
    };
    let mut out = Vec::with_capacity(fields.len());
    let mut deleted = false;
    for field in fields {
        match stored(t, key, &meta, field)? {
            Some((_, v)) => {
                records::remove_field(t, key, &mut meta, field);
                deleted = true;
                out.push(Frame::Bulk(v));
            }
            None => out.push(Frame::Null),
        }
    }
    if deleted {
        let emptied = meta.len == 0;
        records::save(t, key, meta)?;
        notify_instead(
            t,
            key,
            emptied_too(vec![(EV_HASH, "hdel")], emptied).as_slice(),
        );
    }
    Ok(Frame::Array(out))
}

/// HGETEX key [EX s | PX ms | EXAT ts | PXAT ts-ms | PERSIST] FIELDS numfields
/// field... (Redis 8.0): the values (nil if absent), and the TTL of every present
/// field set (a time not in the future deletes it) or removed.
fn hgetex(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    read_hash(t, key)?;
    enum Ttl {
        Keep,
        At(u64),
        Persist,
    }
    let (ttl, fields_at) = if let Some((relative, seconds)) = expire_unit(&argv[2]) {
        let at = expire_time(t, &argv[3], "hgetex", relative, seconds)?;
        (Ttl::At(at), 5)
    } else if args::is(&argv[2], "persist") {
        (Ttl::Persist, 4)
    } else {
        (Ttl::Keep, 3)
    };
    if argv.len() <= fields_at {
        return Err(CmdError::wrong_arity("hgetex"));
    }
    if !args::is(&argv[fields_at - 1], "fields") {
        return Err(CmdError::new(FIELDS_MISSING));
    }
    let fields = count_fields(argv, fields_at)?;
    let Some(mut meta) = open_write(t, key)? else {
        return Ok(Frame::Array(vec![Frame::Null; fields.len()]));
    };
    let now = t.now_ms;
    let mut floor = records::ttl_floor(&meta);
    let (mut updated, mut deleted) = (false, false);
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let Some((prev, value)) = stored(t, key, &meta, field)? else {
            out.push(Frame::Null);
            continue;
        };
        match ttl {
            Ttl::Keep => {}
            Ttl::At(at) if at <= now => {
                records::remove_field(t, key, &mut meta, field);
                deleted = true;
            }
            Ttl::At(at) => {
                put_field(t, key, &mut meta, field, at, &value, false);
                floor = Some(floor.map_or(at, |f| f.min(at)));
                updated = true;
            }
            Ttl::Persist if prev != 0 => {
                put_field(t, key, &mut meta, field, 0, &value, false);
                updated = true;
            }
            Ttl::Persist => {}
        }
        out.push(Frame::Bulk(value));
    }
    if updated || deleted {
        let emptied = meta.len == 0;
        records::update_floor(t, key, &mut meta, floor);
        records::save(t, key, meta)?;
        // Redis 8: hpersist / hexpire for fields changed, else hdel for fields a
        // past time deleted; del when the hash is left empty.
        let what = match (updated, &ttl) {
            (true, Ttl::Persist) => "hpersist",
            (true, _) => "hexpire",
            (false, _) => "hdel",
        };
        notify_instead(
            t,
            key,
            emptied_too(vec![(EV_HASH, what)], emptied).as_slice(),
        );
    }
    Ok(Frame::Array(out))
}

/// HSETEX key [FNX | FXX] [EX s | PX ms | EXAT ts | PXAT ts-ms | KEEPTTL] FIELDS
/// numfields field value... (Redis 8.0): 1 when the fields were set, 0 when FNX/FXX
/// did not hold. Without an expiry option the fields lose their TTL (as HSET); with
/// KEEPTTL they keep it; a time not in the future deletes them.
fn hsetex(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    enum Ttl {
        Clear,
        Keep,
        At(u64),
    }
    let mut ttl = Ttl::Clear;
    let mut has_expiry = false;
    let (mut fxx, mut fnx) = (false, false);
    let mut pairs: Option<&[Vec<u8>]> = None;
    let only_one_expiry = || {
        CmdError::new("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified")
    };
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if args::is(a, "fields") {
            if i + 3 >= argv.len() {
                return Err(CmdError::wrong_arity("hsetex"));
            }
            let n = args::parse_i64_opt(&argv[i + 1])
                .filter(|n| (1..=i32::MAX as i64).contains(n))
                .ok_or_else(|| CmdError::new("ERR invalid number of fields"))?;
            let remaining = argv.len() - i - 2;
            if remaining % 2 != 0 || n as u64 != (remaining / 2) as u64 {
                return Err(CmdError::wrong_arity("hsetex"));
            }
            pairs = Some(&argv[i + 2..]);
            break;
        } else if let Some((relative, seconds)) = expire_unit(a) {
            if has_expiry {
                return Err(only_one_expiry());
            }
            if i + 1 >= argv.len() {
                return Err(CmdError::new("ERR missing expire time"));
            }
            has_expiry = true;
            i += 1;
            ttl = Ttl::At(expire_time(t, &argv[i], "hsetex", relative, seconds)?);
        } else if args::is(a, "keepttl") {
            if has_expiry {
                return Err(only_one_expiry());
            }
            has_expiry = true;
            ttl = Ttl::Keep;
        } else if args::is(a, "fxx") || args::is(a, "fnx") {
            if fxx || fnx {
                return Err(CmdError::new(
                    "ERR Only one of FXX or FNX arguments can be specified",
                ));
            }
            fxx = args::is(a, "fxx");
            fnx = !fxx;
        } else {
            return Err(CmdError::new(format!(
                "ERR unknown argument: {}",
                String::from_utf8_lossy(a)
            )));
        }
        i += 1;
    }
    // The arity leaves no way to end the options without FIELDS; answered anyway.
    let Some(pairs) = pairs else {
        return Err(CmdError::syntax());
    };
    let (mut meta, existed) = match open_write(t, key)? {
        Some(m) => (m, true),
        None if fxx => return int(0),
        None => (t.new_meta(::keys::Kind::Hash, Vec::new()), false),
    };
    if fxx || fnx {
        let mut found = 0;
        for pair in pairs.chunks(2) {
            let exists = records::contains(t, key, &meta, &pair[0])?;
            found += exists as usize;
            if exists != fxx {
                break;
            }
        }
        let all = found == pairs.len() / 2;
        if (fnx && found != 0) || (fxx && !all) {
            return int(0);
        }
    }
    let now = t.now_ms;
    let mut floor = records::ttl_floor(&meta);
    for pair in pairs.chunks(2) {
        let (field, value) = (&pair[0], &pair[1]);
        let prev = stored(t, key, &meta, field)?.map(|(at, _)| at);
        let at = match ttl {
            Ttl::Clear => 0,
            Ttl::Keep => prev.unwrap_or(0),
            Ttl::At(at) => at,
        };
        if matches!(ttl, Ttl::At(_)) && at <= now {
            if prev.is_some() {
                records::remove_field(t, key, &mut meta, field);
            }
            continue;
        }
        put_field(t, key, &mut meta, field, at, value, prev.is_none());
        if at != 0 {
            floor = Some(floor.map_or(at, |f| f.min(at)));
        }
    }
    records::update_floor(t, key, &mut meta, floor);
    let emptied = meta.len == 0;
    if existed || meta.len > 0 {
        records::save(t, key, meta)?;
    }
    // Redis 8: (new,) hset, then hdel when a past time deleted the fields or hexpire
    // when a time was set, then del when the hash is left empty (Redis creates the
    // key first, so a new key set with a past time raises new ... del).
    let mut events: Vec<(u32, &str)> = Vec::with_capacity(4);
    if !existed {
        events.push((EV_NEW, "new"));
    }
    events.push((EV_HASH, "hset"));
    match ttl {
        Ttl::At(at) if at <= now => events.push((EV_HASH, "hdel")),
        Ttl::At(_) => events.push((EV_HASH, "hexpire")),
        _ => {}
    }
    if emptied {
        events.push((EV_GENERIC, "del"));
    }
    notify_instead(t, key, &events);
    int(1)
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
    read_hash(t, key)?;
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
        records::save(t, key, meta)?;
    }
    Ok(Frame::Array(out))
}
