//! String commands (t_string.c): GET/SET and friends, counters, ranges and LCS.
//!
//! A string lives entirely in its key's meta record (see `types::string`). Commands that
//! modify a string in place in Redis (APPEND, SETRANGE, INCR*, ...) keep the key's TTL;
//! commands that replace the value (SET without KEEPTTL, GETSET, MSET) drop it.

use super::spec;
use crate::args::{self, parse_i64};
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec};
use crate::txn::Txn;
use crate::types::string;
use crate::Frame;
use ::keys::Kind;

/// Redis's default proto-max-bulk-len: the largest string a command may build.
pub(crate) const MAX_STRING_LEN: u64 = resp::MAX_BULK_LEN as u64;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let s: &'static [&'static str] = &["string"];
    let g = "string";
    vec![
        spec("append", 3, WRITE | DENYOOM | FAST, keys(1, 1, 1), s, g, "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", E(append)),
        spec("decr", 2, WRITE | DENYOOM | FAST, keys(1, 1, 1), s, g, "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", E(decr)),
        spec("decrby", 3, WRITE | DENYOOM | FAST, keys(1, 1, 1), s, g, "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", E(decrby)),
        spec("get", 2, READONLY | FAST, keys(1, 1, 1), s, g, "1.0.0", "Returns the string value of a key.", E(get)),
        spec("getdel", 2, WRITE | FAST, keys(1, 1, 1), s, g, "6.2.0", "Returns the string value of a key after deleting the key.", E(getdel)),
        spec("getex", -2, WRITE | FAST, keys(1, 1, 1), s, g, "6.2.0", "Returns the string value of a key after setting its expiration time.", E(getex)),
        spec("getrange", 4, READONLY, keys(1, 1, 1), s, g, "2.4.0", "Returns a substring of the string stored at a key.", E(getrange)),
        spec("getset", 3, WRITE | DENYOOM | FAST, keys(1, 1, 1), s, g, "1.0.0", "Returns the previous string value of a key after setting it to a new value.", E(getset)),
        spec("incr", 2, WRITE | DENYOOM | FAST, keys(1, 1, 1), s, g, "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", E(incr)),
        spec("incrby", 3, WRITE | DENYOOM | FAST, keys(1, 1, 1), s, g, "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", E(incrby)),
        spec("incrbyfloat", 3, WRITE | DENYOOM | FAST, keys(1, 1, 1), s, g, "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", E(incrbyfloat)),
        spec("lcs", -3, READONLY, keys(1, 2, 1), s, g, "7.0.0", "Finds the longest common substring.", E(lcs)),
        spec("mget", -2, READONLY | FAST, keys(1, -1, 1), s, g, "1.0.0", "Atomically returns the string values of one or more keys.", E(mget)),
        spec("mset", -3, WRITE | DENYOOM, keys(1, -1, 2), s, g, "1.0.1", "Atomically creates or modifies the string values of one or more keys.", E(mset)),
        spec("msetnx", -3, WRITE | DENYOOM, keys(1, -1, 2), s, g, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", E(msetnx)),
        spec("psetex", 4, WRITE | DENYOOM, keys(1, 1, 1), s, g, "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", E(psetex)),
        spec("set", -3, WRITE | DENYOOM, keys(1, 1, 1), s, g, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", E(set)),
        spec("setex", 4, WRITE | DENYOOM, keys(1, 1, 1), s, g, "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", E(setex)),
        spec("setnx", 3, WRITE | DENYOOM | FAST, keys(1, 1, 1), s, g, "1.0.0", "Set the string value of a key only when the key doesn't exist.", E(setnx)),
        spec("setrange", 4, WRITE | DENYOOM, keys(1, 1, 1), s, g, "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", E(setrange)),
        spec("strlen", 2, READONLY | FAST, keys(1, 1, 1), s, g, "2.2.0", "Returns the length of a string value.", E(strlen)),
        spec("substr", 4, READONLY, keys(1, 1, 1), s, g, "1.0.0", "Returns a substring from a string value.", E(getrange)),
    ]
}

// ---- shared helpers -----------------------------------------------------------------

/// Redis's checkStringLength: `size + append` must not exceed proto-max-bulk-len.
pub(crate) fn check_string_length(size: u64, append: u64) -> Result<(), CmdError> {
    match size.checked_add(append) {
        Some(total) if total <= MAX_STRING_LEN => Ok(()),
        _ => Err(CmdError::new(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

fn invalid_expire(cmd: &str) -> CmdError {
    CmdError::new(format!("ERR invalid expire time in '{cmd}' command"))
}

fn bulk_or_null(v: Option<Vec<u8>>) -> Frame {
    match v {
        Some(v) => Frame::Bulk(v),
        None => Frame::Null,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Options of SET (and the subset GETEX accepts), parsed with Redis's
/// parseExtendedStringArgumentsOrReply rules.
#[derive(Default)]
struct ExtArgs<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, &'a [u8])>,
}

fn parse_ext_args<'a>(
    argv: &'a [Vec<u8>],
    from: usize,
    is_set: bool,
) -> Result<ExtArgs<'a>, CmdError> {
    let mut o = ExtArgs::default();
    let mut j = from;
    while j < argv.len() {
        let opt = argv[j].as_slice();
        let next = argv.get(j + 1).map(|v| v.as_slice());
        let has_expire = o.expire.is_some();
        let exp_is = |k: ExpireKind| matches!(o.expire, Some((e, _)) if e == k);
        if is_set && args::is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && args::is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && args::is(opt, "get") {
            o.get = true;
        } else if is_set && args::is(opt, "keepttl") && !o.persist && !has_expire {
            o.keepttl = true;
        } else if !is_set && args::is(opt, "persist") && !has_expire && !o.keepttl {
            o.persist = true;
        } else if let Some(kind) = [
            ("ex", ExpireKind::Ex),
            ("px", ExpireKind::Px),
            ("exat", ExpireKind::ExAt),
            ("pxat", ExpireKind::PxAt),
        ]
        .iter()
        .find(|(w, _)| args::is(opt, w))
        .map(|(_, k)| *k)
        .filter(|&k| !o.keepttl && !o.persist && (!has_expire || exp_is(k)) && next.is_some())
        {
            o.expire = Some((kind, next.expect("checked")));
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    Ok(o)
}

/// Redis's getExpireMillisecondsOrReply: the absolute expiry in unix ms.
fn expire_at(t: &Txn, kind: ExpireKind, arg: &[u8], cmd: &str) -> Result<u64, CmdError> {
    let v = parse_i64(arg)?;
    let secs = matches!(kind, ExpireKind::Ex | ExpireKind::ExAt);
    if v <= 0 || (secs && v > i64::MAX / 1000) {
        return Err(invalid_expire(cmd));
    }
    let mut ms = if secs { v * 1000 } else { v };
    if matches!(kind, ExpireKind::Ex | ExpireKind::Px) {
        let now = i64::try_from(t.now_ms).map_err(|_| invalid_expire(cmd))?;
        ms = ms.checked_add(now).ok_or_else(|| invalid_expire(cmd))?;
    }
    if ms <= 0 {
        return Err(invalid_expire(cmd));
    }
    Ok(ms as u64)
}

/// Stores `value` with absolute expiry `at` (0 = none); an expiry already in the past
/// leaves the key deleted, as Redis would on its next access.
fn store_with_expiry(t: &mut Txn, key: &[u8], value: Vec<u8>, at: u64) -> Result<(), CmdError> {
    if at != 0 && at <= t.now_ms {
        t.delete_key(key)?;
        Ok(())
    } else {
        string::put(t, key, value, at)
    }
}

// ---- GET / SET family -----------------------------------------------------------------

fn get(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    Ok(bulk_or_null(string::get(t, &argv[1])?))
}

fn getdel(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let v = string::get(t, &argv[1])?;
    if v.is_some() {
        t.delete_key(&argv[1])?;
    }
    Ok(bulk_or_null(v))
}

fn getex(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let o = parse_ext_args(argv, 2, false)?;
    let key = &argv[1];
    let Some(meta) = string::open(t, key)? else {
        return Ok(Frame::Null);
    };
    let at = match o.expire {
        Some((kind, arg)) => Some(expire_at(t, kind, arg, "getex")?),
        None => None,
    };
    let reply = Frame::Bulk(meta.inline.clone());
    if let Some(at) = at {
        if at <= t.now_ms {
            t.delete_key(key)?;
        } else {
            t.set_expire(key, at)?;
        }
    } else if o.persist && meta.expire_at_ms != 0 {
        t.set_expire(key, 0)?;
    }
    Ok(reply)
}

fn getset(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let old = string::get(t, &argv[1])?;
    string::put(t, &argv[1], argv[2].clone(), 0)?;
    Ok(bulk_or_null(old))
}

/// Redis's setGenericCommand. `ok`/`abort` replace the OK/nil replies (SETNX).
#[allow(clippy::too_many_arguments)]
fn set_generic(
    t: &mut Txn,
    cmd: &str,
    key: &[u8],
    value: &[u8],
    o: &ExtArgs,
    ok: Frame,
    abort: Frame,
) -> CmdResult {
    let at = match o.expire {
        Some((kind, arg)) => Some(expire_at(t, kind, arg, cmd)?),
        None => None,
    };
    let old = if o.get {
        Some(string::get(t, key)?)
    } else {
        None
    };
    let existing = t.get_meta(key)?;
    let found = existing.is_some();
    if (o.nx && found) || (o.xx && !found) {
        return Ok(match old {
            Some(v) => bulk_or_null(v),
            None => abort,
        });
    }
    let expire = match at {
        Some(at) => at,
        None if o.keepttl => existing.map_or(0, |m| m.expire_at_ms),
        None => 0,
    };
    store_with_expiry(t, key, value.to_vec(), expire)?;
    Ok(match old {
        Some(v) => bulk_or_null(v),
        None => ok,
    })
}

fn set(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let o = parse_ext_args(argv, 3, true)?;
    set_generic(t, "set", &argv[1], &argv[2], &o, Frame::ok(), Frame::Null)
}

fn setnx(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let o = ExtArgs {
        nx: true,
        ..Default::default()
    };
    set_generic(
        t,
        "setnx",
        &argv[1],
        &argv[2],
        &o,
        Frame::Integer(1),
        Frame::Integer(0),
    )
}

fn setex(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let o = ExtArgs {
        expire: Some((ExpireKind::Ex, &argv[2])),
        ..Default::default()
    };
    set_generic(t, "setex", &argv[1], &argv[3], &o, Frame::ok(), Frame::Null)
}

fn psetex(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let o = ExtArgs {
        expire: Some((ExpireKind::Px, &argv[2])),
        ..Default::default()
    };
    set_generic(
        t,
        "psetex",
        &argv[1],
        &argv[3],
        &o,
        Frame::ok(),
        Frame::Null,
    )
}

fn mget(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let mut out = Vec::with_capacity(argv.len() - 1);
    for key in &argv[1..] {
        out.push(match t.get_meta(key)? {
            Some(m) if m.kind == Kind::String => Frame::Bulk(m.inline),
            _ => Frame::Null,
        });
    }
    Ok(Frame::Array(out))
}

fn mset_generic(t: &mut Txn, argv: &[Vec<u8>], nx: bool) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::wrong_arity(&String::from_utf8_lossy(&argv[0])));
    }
    if nx {
        for pair in argv[1..].chunks(2) {
            if t.exists(&pair[0])? {
                return Ok(Frame::Integer(0));
            }
        }
    }
    for pair in argv[1..].chunks(2) {
        string::put(t, &pair[0], pair[1].clone(), 0)?;
    }
    Ok(if nx { Frame::Integer(1) } else { Frame::ok() })
}

fn mset(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    mset_generic(t, argv, false)
}

fn msetnx(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    mset_generic(t, argv, true)
}

// ---- in-place edits ---------------------------------------------------------------------

fn append(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    match string::open(t, key)? {
        None => {
            string::put(t, key, argv[2].clone(), 0)?;
            Ok(Frame::Integer(argv[2].len() as i64))
        }
        Some(m) => {
            check_string_length(m.inline.len() as u64, argv[2].len() as u64)?;
            let mut v = m.inline;
            v.extend_from_slice(&argv[2]);
            let len = v.len();
            string::put(t, key, v, m.expire_at_ms)?;
            Ok(Frame::Integer(len as i64))
        }
    }
}

fn setrange(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let offset = parse_i64(&argv[2])?;
    if offset < 0 {
        return Err(CmdError::new("ERR offset is out of range"));
    }
    let offset = offset as u64;
    let value = &argv[3];
    let (mut cur, ttl) = match string::open(t, key)? {
        None => {
            if value.is_empty() {
                return Ok(Frame::Integer(0));
            }
            (Vec::new(), 0)
        }
        Some(m) => {
            if value.is_empty() {
                return Ok(Frame::Integer(m.inline.len() as i64));
            }
            (m.inline, m.expire_at_ms)
        }
    };
    check_string_length(offset, value.len() as u64)?;
    let off = offset as usize;
    let end = off + value.len();
    if cur.len() < end {
        cur.resize(end, 0);
    }
    cur[off..end].copy_from_slice(value);
    let len = cur.len();
    string::put(t, key, cur, ttl)?;
    Ok(Frame::Integer(len as i64))
}

fn getrange(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let Some(v) = string::get(t, &argv[1])? else {
        return Ok(Frame::Bulk(Vec::new()));
    };
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(Frame::Bulk(Vec::new()));
    }
    let mut start = if start < 0 {
        len.saturating_add(start)
    } else {
        start
    };
    let mut end = if end < 0 {
        len.saturating_add(end)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if end < 0 {
        end = 0;
    }
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Ok(Frame::Bulk(Vec::new()));
    }
    Ok(Frame::Bulk(v[start as usize..=end as usize].to_vec()))
}

fn strlen(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    Ok(Frame::Integer(
        string::get(t, &argv[1])?.map_or(0, |v| v.len() as i64),
    ))
}

// ---- counters ---------------------------------------------------------------------------

fn incr_decr(t: &mut Txn, key: &[u8], incr: i64) -> CmdResult {
    let meta = string::open(t, key)?;
    let old = match &meta {
        Some(m) => parse_i64(&m.inline)?,
        None => 0,
    };
    let new = old.checked_add(incr).ok_or_else(CmdError::overflow)?;
    let ttl = meta.map_or(0, |m| m.expire_at_ms);
    string::put(t, key, new.to_string().into_bytes(), ttl)?;
    Ok(Frame::Integer(new))
}

fn incr(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    incr_decr(t, &argv[1], 1)
}

fn decr(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    incr_decr(t, &argv[1], -1)
}

fn incrby(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let by = parse_i64(&argv[2])?;
    incr_decr(t, &argv[1], by)
}

fn decrby(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let by = parse_i64(&argv[2])?;
    if by == i64::MIN {
        return Err(CmdError::new("ERR decrement would overflow"));
    }
    incr_decr(t, &argv[1], -by)
}

fn incrbyfloat(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let meta = string::open(t, key)?;
    let old = match &meta {
        Some(m) => args::parse_f64(&m.inline)?,
        None => 0.0,
    };
    let by = args::parse_f64(&argv[2])?;
    let new = old + by;
    if new.is_nan() || new.is_infinite() {
        return Err(CmdError::new("ERR increment would produce NaN or Infinity"));
    }
    let s = args::format_float(new).into_bytes();
    let ttl = meta.map_or(0, |m| m.expire_at_ms);
    string::put(t, key, s.clone(), ttl)?;
    Ok(Frame::Bulk(s))
}

// ---- LCS --------------------------------------------------------------------------------

fn lcs(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let not_string = || CmdError::new("ERR The specified keys must contain string values");
    let a = match t.get_meta(&argv[1])? {
        Some(m) if m.kind != Kind::String => return Err(not_string()),
        Some(m) => m.inline,
        None => Vec::new(),
    };
    let b = match t.get_meta(&argv[2])? {
        Some(m) if m.kind != Kind::String => return Err(not_string()),
        Some(m) => m.inline,
        None => Vec::new(),
    };
    let (mut getidx, mut getlen, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = &argv[j];
        let more = argv.len() - 1 - j;
        if args::is(opt, "idx") {
            getidx = true;
        } else if args::is(opt, "len") {
            getlen = true;
        } else if args::is(opt, "withmatchlen") {
            withmatchlen = true;
        } else if args::is(opt, "minmatchlen") && more > 0 {
            minmatchlen = parse_i64(&argv[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(CmdError::new(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
        return Err(CmdError::new("ERR String too long for LCS"));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > MAX_STRING_LEN {
        return Err(CmdError::new(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let w = blen + 1;
    let mut dp = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen];
    let mut idx = total as usize;
    let computelcs = getidx || !getlen;
    let mut result = vec![0u8; if computelcs { idx } else { 0 }];
    let mut matches = Vec::new();
    // `alen` as range start means "no range open", as in Redis.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0usize, 0usize, 0usize);
    let (mut i, mut j) = (alen, blen);
    while computelcs && i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == alen {
                a_start = i - 1;
                a_end = i - 1;
                b_start = j - 1;
                b_end = j - 1;
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = (a_end - a_start + 1) as i64;
            if getidx && (minmatchlen == 0 || match_len >= minmatchlen) {
                let mut m = vec![
                    Frame::Array(vec![
                        Frame::Integer(a_start as i64),
                        Frame::Integer(a_end as i64),
                    ]),
                    Frame::Array(vec![
                        Frame::Integer(b_start as i64),
                        Frame::Integer(b_end as i64),
                    ]),
                ];
                if withmatchlen {
                    m.push(Frame::Integer(match_len));
                }
                matches.push(Frame::Array(m));
            }
            a_start = alen;
        }
    }
    Ok(if getidx {
        Frame::Map(vec![
            (Frame::bulk("matches"), Frame::Array(matches)),
            (Frame::bulk("len"), Frame::Integer(total as i64)),
        ])
    } else if getlen {
        Frame::Integer(total as i64)
    } else {
        Frame::Bulk(result)
    })
}
