//! SORT and SORT_RO (sort.c of Redis 7) over lists, sets and sorted sets.
//!
//! SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]]
//!      [ASC|DESC] [ALPHA] [STORE destination]
//!
//! Nothing is stored of its own: the elements are read through the list, set and
//! sorted-set modules, sorted in memory, and STORE writes a plain list (through
//! `list::store_list`, replacing the destination and its TTL; an empty result deletes
//! it). SORT is a write command (it may STORE); SORT_RO is the read-only form and
//! refuses STORE with a syntax error, as Redis.
//!
//! Semantics, as Redis's sortCommandGeneric:
//! - Patterns: the first `*` is replaced with the element; `key->field` reads a hash
//!   field; `#` (GET only) is the element itself. A pattern without `*` reads nothing
//!   (GET gives nil), keys of another type read as missing. BY with a pattern without
//!   `*` (e.g. `nosort`) skips sorting: lists and sorted sets keep their order (DESC
//!   reverses it, LIMIT cuts it).
//! - Numeric sorting parses each weight with strtod's rules (leading spaces, hex,
//!   `inf` accepted; the whole string must be used; NaN and out-of-range values fail
//!   with `ERR One or more scores can't be converted into double`); a missing weight
//!   counts as 0; equal weights are ordered by the elements' bytes. ALPHA compares
//!   bytes; with BY, missing weights sort first.
//!
//! Determinism (where Redis's order is undefined, Meridian's is fixed):
//! - Elements are loaded in list order, set member byte order, or sorted-set score
//!   order, and sorted with a stable sort, so ties Redis leaves to its hash table
//!   (ALPHA with BY, equal or missing weights) keep that load order.
//! - A set with BY nosort is always sorted ALPHA by member bytes (Redis does that only
//!   with STORE or inside scripts; otherwise it returns hash-table order).
//! - ALPHA compares raw bytes: Redis uses strcoll() without STORE, which is the same
//!   under the C/POSIX locale Redis usually runs with.
//!
//! Cost: O(n) reads of the source (O(LIMIT) for BY nosort on lists and sorted sets),
//! plus one key read per element per BY/GET pattern, O(n log n) to sort, O(output)
//! records written by STORE.

use super::spec;
use crate::args;
use crate::error::{CmdError, CmdResult};
use crate::table::{self, flags::*, keys, CommandSpec, Exec, KeySpec};
use crate::txn::Txn;
use crate::types::zset;
use crate::types::{list, set};
use crate::Frame;
use ::keys::Kind;
use std::cmp::Ordering;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let a: &'static [&'static str] = &["set", "sortedset", "list", "dangerous"];
    let g = "generic";
    let sort_keys = KeySpec {
        first: 1,
        last: 1,
        step: 1,
        find: Some(sort_key_positions),
    };
    vec![
        spec(
            "sort",
            -2,
            WRITE | DENYOOM | MOVABLE_KEYS,
            sort_keys,
            a,
            g,
            "1.0.0",
            "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
            E(sort),
        ),
        spec(
            "sort_ro",
            -2,
            READONLY,
            keys(1, 1, 1),
            a,
            g,
            "7.0.0",
            "Returns the sorted elements of a list, a set, or a sorted set.",
            E(sort_ro),
        ),
    ]
}

/// Redis's sortGetKeys: the sorted key, plus the key after the last STORE. LIMIT skips
/// two arguments and GET/BY one; anything else is taken as a flag.
fn sort_key_positions(argv: &[Vec<u8>]) -> Vec<usize> {
    let mut out = Vec::new();
    if argv.len() > 1 {
        out.push(1);
    }
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if args::is(a, "limit") {
            i += 2;
        } else if args::is(a, "get") || args::is(a, "by") {
            i += 1;
        } else if args::is(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    out.extend(store);
    out
}

// ---- patterns -------------------------------------------------------------------------

/// A C string view: the bytes before the first NUL (Redis's strchr/strstr stop there).
fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

/// The value of a string key, None if it is missing or holds another type.
fn string_value(t: &Txn, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    match t.get_meta(key)? {
        Some(m) if m.kind == Kind::String => Ok(Some(m.inline)),
        _ => Ok(None),
    }
}

/// A field of a hash key, None if the key is missing, holds another type or lacks
/// the field. Goes through HGET itself, so hash semantics (field expiry included)
/// stay the hash module's.
fn hash_field(t: &mut Txn, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    match t.get_meta(key)? {
        Some(m) if m.kind == Kind::Hash => {}
        _ => return Ok(None),
    }
    let Some(spec) = table::lookup(b"hget") else {
        return Err(CmdError::new("ERR HGET is not available for SORT's '->'"));
    };
    let Exec::Engine(hget) = spec.exec else {
        return Err(CmdError::new("ERR HGET is not available for SORT's '->'"));
    };
    match hget(t, &[b"hget".to_vec(), key.to_vec(), field.to_vec()])? {
        Frame::Bulk(v) => Ok(Some(v)),
        _ => Ok(None),
    }
}

/// The bytes one SORT may copy into pattern keys and its reply (proto-max-bulk-len),
/// each key or reply element also counting [`ITEM_COST`]. Redis has no such bound,
/// but the cost is a product of user inputs (a 1 MB BY pattern times a million
/// elements, or ten thousand GETs times a million elements), which would stall every
/// replica applying the command or exhaust its memory.
const WORK_LIMIT: u64 = 1 << 29;
/// What one lookup or reply element costs beyond its bytes (about its in-memory size).
const ITEM_COST: u64 = 32;

/// Charges `n` bytes (and one item) of work against `work`.
fn spend(work: &mut u64, n: usize) -> Result<(), CmdError> {
    let n = n as u64 + ITEM_COST;
    if *work < n {
        return Err(CmdError::new(
            "ERR SORT exceeds the work limit (pattern lookups and reply size)",
        ));
    }
    *work -= n;
    Ok(())
}

/// lookupKeyByPattern: what `pattern` designates for element `subst`.
fn lookup_by_pattern(
    t: &mut Txn,
    pattern: &[u8],
    subst: &[u8],
    work: &mut u64,
) -> Result<Option<Vec<u8>>, CmdError> {
    let cpat = c_str(pattern);
    if cpat == b"#" {
        spend(work, subst.len())?;
        return Ok(Some(subst.to_vec()));
    }
    let Some(star) = cpat.iter().position(|&c| c == b'*') else {
        return Ok(None);
    };
    // "->" after the '*' followed by at least one character: a hash field.
    let after = &cpat[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&f| f + 2 < cpat.len());
    let (key_end, field) = match arrow {
        Some(f) => (f, Some(&pattern[f + 2..])),
        None => (pattern.len(), None),
    };
    spend(work, key_end + subst.len())?;
    let mut key = Vec::with_capacity(key_end + subst.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let found = match field {
        Some(f) => hash_field(t, &key, f)?,
        None => string_value(t, &key)?,
    };
    if let Some(v) = &found {
        spend(work, v.len())?;
    }
    Ok(found)
}

// ---- strtod ---------------------------------------------------------------------------

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A weight as SORT reads it: C's strtod over the whole string (up to a NUL), no
/// NaN, no overflow or underflow. None = "can't be converted into double".
pub(crate) fn parse_weight(raw: &[u8]) -> Option<f64> {
    let s = c_str(raw);
    if s.is_empty() {
        return Some(0.0); // nothing converted, and nothing left over
    }
    let start = s.iter().position(|&b| !is_c_space(b))?;
    let body = &s[start..];
    let (neg, rest) = match body.first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    let v = parse_unsigned(rest)?;
    if v.is_nan() {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// The unsigned part of a strtod number that must span all of `s`.
fn parse_unsigned(s: &[u8]) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some(f64::INFINITY);
    }
    if lower.starts_with(b"nan") {
        return None;
    }
    if lower.len() > 2 && lower.starts_with(b"0x") {
        if let Some(v) = parse_hex(&lower[2..]) {
            return Some(v);
        }
        // "0x" without hex digits: strtod reads the "0" and stops at 'x'.
        return None;
    }
    // digits [. digits] [e [+-] digits], at least one mantissa digit.
    let mut i = 0;
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - from
    };
    let mut mant = digits(&mut i);
    if i < s.len() && s[i] == b'.' {
        i += 1;
        mant += digits(&mut i);
    }
    if mant == 0 {
        return None;
    }
    if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
        let mut j = i + 1;
        if j < s.len() && (s[j] == b'+' || s[j] == b'-') {
            j += 1;
        }
        if digits(&mut j) > 0 {
            i = j;
        }
    }
    if i != s.len() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_infinite() {
        return None; // overflow: ERANGE
    }
    let mantissa_digits = text.split(['e', 'E']).next().unwrap_or("");
    if (v == 0.0 && mantissa_digits.bytes().any(|b| (b'1'..=b'9').contains(&b)))
        || (v != 0.0 && v.abs() < f64::MIN_POSITIVE)
    {
        return None; // underflow: ERANGE
    }
    Some(v)
}

/// A hexadecimal strtod body after "0x": hex digits [. hex digits] [p [+-] digits].
fn parse_hex(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut any = false;
    let mut add = |d: u64, frac: bool, exp: &mut i64| {
        if mant >> 56 == 0 {
            mant = (mant << 4) | d;
            if frac {
                *exp -= 4;
            }
        } else if !frac {
            *exp += 4; // digits beyond the precision kept
        }
    };
    while i < s.len() && s[i].is_ascii_hexdigit() {
        add((s[i] as char).to_digit(16)? as u64, false, &mut exp);
        any = true;
        i += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && s[i].is_ascii_hexdigit() {
            add((s[i] as char).to_digit(16)? as u64, true, &mut exp);
            any = true;
            i += 1;
        }
    }
    if !any {
        return None;
    }
    if i < s.len() && s[i] == b'p' {
        let mut j = i + 1;
        let neg = match s.get(j) {
            Some(b'-') => {
                j += 1;
                true
            }
            Some(b'+') => {
                j += 1;
                false
            }
            _ => false,
        };
        let from = j;
        let mut e: i64 = 0;
        while j < s.len() && s[j].is_ascii_digit() {
            e = (e * 10 + (s[j] - b'0') as i64).min(1 << 20);
            j += 1;
        }
        if j > from {
            exp += if neg { -e } else { e };
            i = j;
        }
    }
    if i != s.len() {
        return None;
    }
    let v = (mant as f64) * 2f64.powi(exp.clamp(-2000, 2000) as i32);
    if v.is_infinite() || (v == 0.0 && mant != 0) || (v != 0.0 && v < f64::MIN_POSITIVE) {
        return None;
    }
    Some(v)
}

// ---- SORT -----------------------------------------------------------------------------

/// One element being sorted: itself, its numeric weight, its ALPHA BY weight.
struct Item {
    obj: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

fn sort(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    sort_generic(t, argv, false)
}

fn sort_ro(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    sort_generic(t, argv, true)
}

fn sort_generic(t: &mut Txn, argv: &[Vec<u8>], readonly: bool) -> CmdResult {
    let mut desc = false;
    let mut alpha = false;
    let (mut limit_start, mut limit_count) = (0i64, -1i64);
    let mut dontsort = false;
    let mut sortby: Option<&[u8]> = None;
    let mut storekey: Option<&[u8]> = None;
    let mut gets: Vec<&[u8]> = Vec::new();

    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if args::is(a, "asc") {
            desc = false;
        } else if args::is(a, "desc") {
            desc = true;
        } else if args::is(a, "alpha") {
            alpha = true;
        } else if args::is(a, "limit") && left >= 2 {
            limit_start = args::parse_i64(&argv[j + 1])?;
            limit_count = args::parse_i64(&argv[j + 2])?;
            j += 2;
        } else if !readonly && args::is(a, "store") && left >= 1 {
            storekey = Some(&argv[j + 1]);
            j += 1;
        } else if args::is(a, "by") && left >= 1 {
            sortby = Some(&argv[j + 1]);
            if !c_str(&argv[j + 1]).contains(&b'*') {
                dontsort = true;
            }
            j += 1;
        } else if args::is(a, "get") && left >= 1 {
            gets.push(&argv[j + 1]);
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }

    let src = &argv[1];
    let meta = match t.get_meta(src)? {
        Some(m) if matches!(m.kind, Kind::List | Kind::Set | Kind::ZSet) => Some(m),
        Some(_) => return Err(CmdError::wrong_type()),
        None => None,
    };
    // A missing key sorts like an empty list.
    let kind = meta.as_ref().map_or(Kind::List, |m| m.kind);
    let len = meta.as_ref().map_or(0, |m| m.len) as i64;

    if dontsort && kind == Kind::Set {
        // Sets have no order of their own: sort them by their bytes instead.
        dontsort = false;
        alpha = true;
        sortby = None;
    }

    // Redis's LIMIT sanitising.
    let mut vectorlen = len;
    let mut start = limit_start.max(0).min(vectorlen);
    let limit_count = limit_count.max(-1).min(vectorlen);
    let mut end = if limit_count < 0 {
        vectorlen - 1
    } else {
        start + limit_count - 1
    };
    if start >= vectorlen {
        start = vectorlen - 1;
        end = vectorlen - 2;
    }
    if end >= vectorlen {
        end = vectorlen - 1;
    }
    let ranged = matches!(kind, Kind::List | Kind::ZSet) && dontsort;
    if ranged && (start != 0 || end != vectorlen - 1) {
        vectorlen = end - start + 1;
    }

    let elements: Vec<Vec<u8>> = match (kind, &meta) {
        (_, None) => Vec::new(),
        (Kind::List, Some(_)) if dontsort => {
            let mut v = Vec::new();
            if end >= start {
                let n = vectorlen as u64;
                if desc {
                    let hi = (len - start) as u64; // exclusive
                    v = list::list_read(t, src, hi.saturating_sub(n), hi)?;
                    v.reverse();
                } else {
                    v = list::list_read(t, src, start as u64, start as u64 + n)?;
                }
            }
            end -= start;
            start = 0;
            v
        }
        (Kind::List, Some(_)) => list::list_read(t, src, 0, len as u64)?,
        (Kind::Set, Some(m)) => set::members(t, src, m)?,
        (Kind::ZSet, Some(m)) if dontsort => {
            let v = if end >= start && vectorlen > 0 {
                zset::rank_entries(t, src, m, start, start + vectorlen - 1, desc)?
            } else {
                Vec::new()
            };
            end -= start;
            start = 0;
            v.into_iter().map(|(m, _)| m).collect()
        }
        (Kind::ZSet, Some(m)) => zset::rank_entries(t, src, m, 0, -1, false)?
            .into_iter()
            .map(|(m, _)| m)
            .collect(),
        _ => Vec::new(),
    };
    let mut vector: Vec<Item> = elements
        .into_iter()
        .map(|obj| Item {
            obj,
            score: 0.0,
            cmp: None,
        })
        .collect();

    let mut work = WORK_LIMIT;
    let mut conversion_error = false;
    if !dontsort {
        for item in vector.iter_mut() {
            let byval = match sortby {
                Some(p) => match lookup_by_pattern(t, p, &item.obj, &mut work)? {
                    Some(v) => v,
                    None => continue,
                },
                None => item.obj.clone(),
            };
            if alpha {
                if sortby.is_some() {
                    item.cmp = Some(byval);
                }
            } else {
                match parse_weight(&byval) {
                    Some(v) => item.score = v,
                    None => conversion_error = true,
                }
            }
        }
        if !conversion_error {
            let by_pattern = sortby.is_some();
            vector.sort_by(|a, b| {
                let c = compare(a, b, alpha, by_pattern);
                if desc {
                    c.reverse()
                } else {
                    c
                }
            });
        }
    }
    if conversion_error {
        return Err(CmdError::new(
            "ERR One or more scores can't be converted into double",
        ));
    }

    let end = end.min(vector.len() as i64 - 1);
    let picked: &[Item] = if end >= start && start >= 0 {
        &vector[start as usize..=end as usize]
    } else {
        &[]
    };
    match storekey {
        None => {
            // No capacity from picked * gets: both are user-sized.
            let mut out = Vec::new();
            for item in picked {
                if gets.is_empty() {
                    spend(&mut work, item.obj.len())?;
                    out.push(Frame::Bulk(item.obj.clone()));
                }
                for g in &gets {
                    out.push(match lookup_by_pattern(t, g, &item.obj, &mut work)? {
                        Some(v) => Frame::Bulk(v),
                        None => Frame::Null,
                    });
                }
            }
            Ok(Frame::Array(out))
        }
        Some(dst) => {
            let mut out = Vec::new();
            for item in picked {
                if gets.is_empty() {
                    spend(&mut work, item.obj.len())?;
                    out.push(item.obj.clone());
                }
                for g in &gets {
                    out.push(lookup_by_pattern(t, g, &item.obj, &mut work)?.unwrap_or_default());
                }
            }
            let n = out.len() as i64;
            list::store_list(t, dst, out)?;
            Ok(Frame::Integer(n))
        }
    }
}

/// sortCompare without the DESC inversion.
fn compare(a: &Item, b: &Item, alpha: bool, by_pattern: bool) -> Ordering {
    if !alpha {
        return match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => a.obj.cmp(&b.obj),
            Some(o) => o,
        };
    }
    if by_pattern {
        return match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        };
    }
    a.obj.cmp(&b.obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_strtod() {
        assert_eq!(parse_weight(b"1.5"), Some(1.5));
        assert_eq!(parse_weight(b"  -3"), Some(-3.0));
        assert_eq!(parse_weight(b""), Some(0.0));
        assert_eq!(parse_weight(b"1e3"), Some(1000.0));
        assert_eq!(parse_weight(b"1e"), None);
        assert_eq!(parse_weight(b".5"), Some(0.5));
        assert_eq!(parse_weight(b"5."), Some(5.0));
        assert_eq!(parse_weight(b"0x10"), Some(16.0));
        assert_eq!(parse_weight(b"0x1p-2"), Some(0.25));
        assert_eq!(parse_weight(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_weight(b"12\0junk"), Some(12.0));
        for bad in [
            &b"nan"[..],
            b"abc",
            b"1 ",
            b" ",
            b"1e400",
            b"1e-400",
            b"0x",
            b"--1",
            b".",
        ] {
            assert_eq!(
                parse_weight(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn store_key_is_found_like_redis() {
        let argv = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(sort_key_positions(&argv(&["sort", "k"])), vec![1]);
        assert_eq!(
            sort_key_positions(&argv(&["sort", "k", "store", "d", "store", "e"])),
            vec![1, 5]
        );
        assert_eq!(
            sort_key_positions(&argv(&["sort", "k", "get", "store", "alpha"])),
            vec![1]
        );
        assert_eq!(
            sort_key_positions(&argv(&["sort", "k", "limit", "0", "1", "store", "d"])),
            vec![1, 6]
        );
    }
}
