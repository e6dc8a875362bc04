//! Sorted set commands (t_zset.c), without the blocking ones (BZPOPMIN, BZPOPMAX,
//! BZMPOP need the server's session layer).
//!
//! A sorted set's records are `types::zset`'s (their bytes `keys::zset`'s): per member,
//! a member record holding its score (ZSCORE, ZADD's "is it there, with which score",
//! lex ranges in member byte order) and a score-index record in (score, member) order
//! exactly as Redis's skiplist (score ranges, ranks). Scores are stored normalised: -0
//! becomes 0 (Redis would echo back "-0"; everything else is identical), NaN never gets
//! in. This module parses arguments, runs the command logic on top of that record API
//! and shapes the replies.
//!
//! Rank operations ask the memory tier (`crate::tier`, through `types::zset`) for a
//! decoded copy of the score index of large sets (an order-statistics structure), so
//! they cost what they cost in Redis; without the tier (small sets, a set the same
//! transaction changed) the records are walked, reading from the high end with O(log)
//! bounded forward probes (`types::zset::Span::tail`). Complexities below count records read
//! (n = ZCARD, m = records returned):
//!
//! | command                         | with the tier      | walking records                        | Redis      |
//! |---------------------------------|--------------------|----------------------------------------|------------|
//! | ZADD, ZINCRBY, ZREM, ZSCORE     | O(1) records per member, O(log n) in memory | O(1) per member | O(log n)   |
//! | ZCARD                           | O(1)               | O(1)                                   | O(1)       |
//! | ZCOUNT                          | O(log n)           | O(m), m = members in range             | O(log n)   |
//! | ZLEXCOUNT                       | —                  | O(m)                                   | O(log n)   |
//! | ZRANK / ZREVRANK                | O(log n)           | O(rank) / O(revrank)                   | O(log n)   |
//! | ZRANGE by rank (either way)     | O(log n + m)       | O(min(start, n-start) + m), tail probes| O(log n+m) |
//! | ZRANGE BYSCORE (LIMIT)          | O(log n + m)       | O(offset + m); REV with O(log) probes  | O(log n+m) |
//! | ZRANGE BYLEX                    | —                  | O(offset + m)                          | O(log n+m) |
//! | ZREMRANGEBYRANK                 | O(log n + m) reads, O(m) writes | O(rank + m)               | O(log n+m) |
//! | ZPOPMIN / ZPOPMAX, ZMPOP        | —                  | O(m) / O(m) with O(log) probes         | O(m log n) |
//! | ZREMRANGEBYSCORE/LEX            | —                  | O(m) reads and O(m) writes (O(1) if m = n) | O(log n+m) |
//! | ZRANDMEMBER                     | —                  | O(highest position drawn)              | O(m)       |
//! | ZSCAN                           | —                  | O(cursor + count) per call             | O(1)/call  |
//! | ZUNION/ZINTER/ZDIFF(+STORE)     | —                  | O(total input) / O(smallest · keys)    | similar    |
//!
//! Replies are built for RESP2 (flat member/score arrays; scores as `Frame::Double`,
//! which RESP2 sends as Redis's bulk formatting and RESP3 as a double). The engine does
//! not know the connection's protocol, so RESP3's nested [member, score] pairs are not
//! produced (ZMPOP's nesting is the same in both and is produced).

use super::spec;
use crate::args;
use crate::coll;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec, KeySpec};
use crate::txn::Txn;
use crate::types::set;
use crate::types::zset::{
    self as records, limited, normalize, open as read_zset, rank_entries, Entry, Lex, ScoreRange,
    Span,
};
use crate::Frame;
use ::keys::{Kind, Meta};
use std::collections::BTreeMap;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let z: &'static [&'static str] = &["sortedset"];
    let g = "sorted_set";
    let k = keys(1, 1, 1);
    let numkeys = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        find: Some(numkeys_key_positions),
    };
    let store_numkeys = KeySpec {
        first: 1,
        last: 1,
        step: 1,
        find: Some(store_numkeys_key_positions),
    };
    vec![
        spec("zadd", -4, WRITE | DENYOOM | FAST, k, z, g, "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", E(zadd)),
        spec("zcard", 2, READONLY | FAST, k, z, g, "1.2.0", "Returns the number of members in a sorted set.", E(zcard)),
        spec("zcount", 4, READONLY | FAST, k, z, g, "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", E(zcount)),
        spec("zdiff", -3, READONLY | MOVABLE_KEYS, numkeys, z, g, "6.2.0", "Returns the difference between multiple sorted sets.", E(zdiff)),
        spec("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, store_numkeys, z, g, "6.2.0", "Stores the difference of multiple sorted sets in a key.", E(zdiffstore)),
        spec("zincrby", 4, WRITE | DENYOOM | FAST, k, z, g, "1.2.0", "Increments the score of a member in a sorted set.", E(zincrby)),
        spec("zinter", -3, READONLY | MOVABLE_KEYS, numkeys, z, g, "6.2.0", "Returns the intersect of multiple sorted sets.", E(zinter)),
        spec("zintercard", -3, READONLY | MOVABLE_KEYS, numkeys, z, g, "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", E(zintercard)),
        spec("zinterstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, store_numkeys, z, g, "2.0.0", "Stores the intersect of multiple sorted sets in a key.", E(zinterstore)),
        spec("zlexcount", 4, READONLY | FAST, k, z, g, "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", E(zlexcount)),
        spec("zmpop", -4, WRITE | MOVABLE_KEYS, numkeys, z, g, "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", E(zmpop)),
        spec("zmscore", -3, READONLY | FAST, k, z, g, "6.2.0", "Returns the score of one or more members in a sorted set.", E(zmscore)),
        spec("zpopmax", -2, WRITE | FAST, k, z, g, "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", E(zpopmax)),
        spec("zpopmin", -2, WRITE | FAST, k, z, g, "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", E(zpopmin)),
        spec("zrandmember", -2, READONLY, k, z, g, "6.2.0", "Returns one or more random members from a sorted set.", E(zrandmember)),
        spec("zrange", -4, READONLY, k, z, g, "1.2.0", "Returns members in a sorted set within a range of indexes.", E(zrange)),
        spec("zrangebylex", -4, READONLY, k, z, g, "2.8.9", "Returns members in a sorted set within a lexicographical range.", E(zrangebylex)),
        spec("zrangebyscore", -4, READONLY, k, z, g, "1.0.5", "Returns members in a sorted set within a range of scores.", E(zrangebyscore)),
        spec("zrangestore", -5, WRITE | DENYOOM, keys(1, 2, 1), z, g, "6.2.0", "Stores a range of members from sorted set in a key.", E(zrangestore)),
        spec("zrank", -3, READONLY | FAST, k, z, g, "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", E(zrank)),
        spec("zrem", -3, WRITE | FAST, k, z, g, "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", E(zrem)),
        spec("zremrangebylex", 4, WRITE, k, z, g, "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", E(zremrangebylex)),
        spec("zremrangebyrank", 4, WRITE, k, z, g, "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", E(zremrangebyrank)),
        spec("zremrangebyscore", 4, WRITE, k, z, g, "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", E(zremrangebyscore)),
        spec("zrevrange", -4, READONLY, k, z, g, "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", E(zrevrange)),
        spec("zrevrangebylex", -4, READONLY, k, z, g, "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", E(zrevrangebylex)),
        spec("zrevrangebyscore", -4, READONLY, k, z, g, "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", E(zrevrangebyscore)),
        spec("zrevrank", -3, READONLY | FAST, k, z, g, "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", E(zrevrank)),
        spec("zscan", -3, READONLY, k, z, g, "2.8.0", "Iterates over members and scores of a sorted set.", E(zscan)),
        spec("zscore", 3, READONLY | FAST, k, z, g, "1.2.0", "Returns the score of a member in a sorted set.", E(zscore)),
        spec("zunion", -3, READONLY | MOVABLE_KEYS, numkeys, z, g, "6.2.0", "Returns the union of multiple sorted sets.", E(zunion)),
        spec("zunionstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, store_numkeys, z, g, "2.0.0", "Stores the union of multiple sorted sets in a key.", E(zunionstore)),
    ]
}

/// The keys after a numkeys argument at `at`.
fn keys_after_numkeys(argv: &[Vec<u8>], at: usize) -> Vec<usize> {
    let n = argv
        .get(at)
        .and_then(|a| args::parse_i64_opt(a))
        .filter(|&n| n >= 1)
        .unwrap_or(0) as usize;
    (at + 1..argv.len().min((at + 1).saturating_add(n))).collect()
}

/// ZUNION/ZINTER/ZDIFF/ZINTERCARD/ZMPOP numkeys key [key ...] ...
fn numkeys_key_positions(argv: &[Vec<u8>]) -> Vec<usize> {
    keys_after_numkeys(argv, 1)
}

/// Z*STORE destination numkeys key [key ...] ...
fn store_numkeys_key_positions(argv: &[Vec<u8>]) -> Vec<usize> {
    let mut out = Vec::new();
    if argv.len() > 1 {
        out.push(1);
    }
    out.extend(keys_after_numkeys(argv, 2));
    out
}

// ---- argument parsing ---------------------------------------------------------------

/// A score or weight: Redis's string2d (strtod, the whole string, no leading space,
/// no NaN, and out-of-range values rejected rather than rounded to inf or 0). GEO's
/// numeric arguments (getDoubleFromObject) parse the same way.
pub(crate) fn parse_score(arg: &[u8]) -> Option<f64> {
    let v = args::parse_f64_opt(arg)?;
    let s = std::str::from_utf8(arg).ok()?.to_ascii_lowercase();
    if v.is_infinite() && !s.contains("inf") {
        return None; // overflow
    }
    let mantissa = s.split('e').next().unwrap_or("");
    if v == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        return None; // underflow
    }
    Some(v)
}

fn score_arg(arg: &[u8]) -> Result<f64, CmdError> {
    parse_score(arg).ok_or_else(CmdError::not_float)
}

/// A score range bound: `(` makes it exclusive; strtod rules without the range check.
fn parse_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, s) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    if s.is_empty() {
        // strtod("") converts nothing and stops at the terminator: 0.
        return Some((0.0, ex));
    }
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    Some((args::parse_f64_opt(&s[start..])?, ex))
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let err = || CmdError::new("ERR min or max is not a float");
    let (min, minex) = parse_bound(min).ok_or_else(err)?;
    let (max, maxex) = parse_bound(max).ok_or_else(err)?;
    Ok(ScoreRange {
        min,
        minex,
        max,
        maxex,
    })
}

/// A lex range bound: `-`, `+`, `[member` or `(member`.
fn parse_lex(arg: &[u8]) -> Option<Lex> {
    match arg.first()? {
        b'-' if arg.len() == 1 => Some(Lex::Min),
        b'+' if arg.len() == 1 => Some(Lex::Max),
        b'[' => Some(Lex::Incl(arg[1..].to_vec())),
        b'(' => Some(Lex::Excl(arg[1..].to_vec())),
        _ => None,
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<(Lex, Lex), CmdError> {
    let err = || CmdError::new("ERR min or max not valid string range item");
    Ok((
        parse_lex(min).ok_or_else(err)?,
        parse_lex(max).ok_or_else(err)?,
    ))
}

// ---- replies ------------------------------------------------------------------------

/// Members, or member/score pairs (flat in RESP2, nested pairs in RESP3, as Redis 7).
fn pairs_reply(entries: Vec<Entry>, withscores: bool) -> Frame {
    if withscores {
        Frame::Pairs(
            entries
                .into_iter()
                .map(|(m, s)| (Frame::Bulk(m), Frame::Double(s)))
                .collect(),
        )
    } else {
        Frame::Array(entries.into_iter().map(|(m, _)| Frame::Bulk(m)).collect())
    }
}

fn int(n: i64) -> CmdResult {
    Ok(Frame::Integer(n))
}

// ---- ZADD / ZINCRBY / ZREM ----------------------------------------------------------

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]; ZINCRBY is
/// the same with INCR (Redis's zaddGenericCommand, checks in its order). Every score
/// is parsed before anything is written, so the command applies fully or not at all.
fn zadd_generic(t: &mut Txn, argv: &[Vec<u8>], mut incr: bool) -> CmdResult {
    let key = &argv[1];
    let (mut nx, mut xx, mut gt, mut lt, mut ch) = (false, false, false, false, false);
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if args::is(a, "nx") {
            nx = true;
        } else if args::is(a, "xx") {
            xx = true;
        } else if args::is(a, "ch") {
            ch = true;
        } else if args::is(a, "incr") {
            incr = true;
        } else if args::is(a, "gt") {
            gt = true;
        } else if args::is(a, "lt") {
            lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &argv[i..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return Err(CmdError::syntax());
    }
    if nx && xx {
        return Err(CmdError::new(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CmdError::new(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && rest.len() > 2 {
        return Err(CmdError::new(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let scores = rest
        .chunks(2)
        .map(|p| score_arg(&p[0]))
        .collect::<Result<Vec<f64>, CmdError>>()?;

    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let meta = match read_zset(t, key)? {
        Some(m) => Some(m),
        None if xx => None,
        None => Some(records::create(t)),
    };
    if let Some(mut meta) = meta {
        for (pair, &given) in rest.chunks(2).zip(&scores) {
            let member = &pair[1];
            match records::score(t, key, &meta, member)? {
                Some(cur) => {
                    if nx {
                        continue;
                    }
                    let mut score = given;
                    if incr {
                        score += cur;
                        if score.is_nan() {
                            // Only INCR gets here, with a single pair: nothing written yet.
                            return Err(CmdError::new("ERR resulting score is not a number (NaN)"));
                        }
                    }
                    if (lt && score >= cur) || (gt && score <= cur) {
                        continue;
                    }
                    processed += 1;
                    last = score;
                    if score != cur {
                        records::put(t, key, &mut meta, member, score, Some(cur));
                        updated += 1;
                    }
                }
                None if !xx => {
                    records::put(t, key, &mut meta, member, given, None);
                    added += 1;
                    processed += 1;
                    last = given;
                }
                None => {}
            }
        }
        if added + updated > 0 {
            records::save(t, key, meta)?;
        }
    }
    if incr {
        Ok(if processed > 0 {
            Frame::Double(normalize(last))
        } else {
            Frame::Null
        })
    } else {
        int(if ch { added + updated } else { added })
    }
}

/// O(1) records read and written per member.
fn zadd(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zadd_generic(t, argv, false)
}

/// O(1).
fn zincrby(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zadd_generic(t, argv, true)
}

/// O(1) per member.
fn zrem(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let Some(mut meta) = read_zset(t, key)? else {
        return int(0);
    };
    let mut removed = 0;
    for m in &argv[2..] {
        if let Some(s) = records::score(t, key, &meta, m)? {
            records::delete(t, key, &mut meta, m, s);
            removed += 1;
            if meta.len == 0 {
                break;
            }
        }
    }
    if removed > 0 {
        records::save(t, key, meta)?;
    }
    int(removed)
}

// ---- point reads --------------------------------------------------------------------

/// O(1).
fn zcard(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    int(read_zset(t, &argv[1])?.map_or(0, |m| m.len as i64))
}

/// O(1).
fn zscore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(meta) = read_zset(t, &argv[1])? else {
        return Ok(Frame::Null);
    };
    Ok(records::score(t, &argv[1], &meta, &argv[2])?.map_or(Frame::Null, Frame::Double))
}

/// O(1) per member.
fn zmscore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let meta = read_zset(t, &argv[1])?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for m in &argv[2..] {
        let s = match &meta {
            Some(meta) => records::score(t, &argv[1], meta, m)?,
            None => None,
        };
        out.push(s.map_or(Frame::Null, Frame::Double));
    }
    Ok(Frame::Array(out))
}

/// ZRANK/ZREVRANK key member [WITHSCORE]: O(log n) from the memory tier, else O(rank) /
/// O(revrank), a walk of the index from the end the rank is counted from.
fn zrank_generic(t: &mut Txn, argv: &[Vec<u8>], rev: bool, name: &str) -> CmdResult {
    if argv.len() > 4 {
        return Err(CmdError::wrong_arity(name));
    }
    let withscore = match argv.get(3) {
        None => false,
        Some(a) if args::is(a, "withscore") => true,
        Some(_) => return Err(CmdError::syntax()),
    };
    let missing = if withscore {
        Frame::NullArray
    } else {
        Frame::Null
    };
    let key = &argv[1];
    let Some(meta) = read_zset(t, key)? else {
        return Ok(missing);
    };
    let member = &argv[2];
    let Some(score) = records::score(t, key, &meta, member)? else {
        return Ok(missing);
    };
    let rank = records::rank(t, key, &meta, member, score, rev)?;
    if withscore {
        Ok(Frame::Array(vec![
            Frame::Integer(rank as i64),
            Frame::Double(score),
        ]))
    } else {
        int(rank as i64)
    }
}

fn zrank(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zrank_generic(t, argv, false, "zrank")
}

fn zrevrank(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zrank_generic(t, argv, true, "zrevrank")
}

// ---- counts -------------------------------------------------------------------------

/// O(log n) from the memory tier, else O(m), m = members in the range.
fn zcount(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let r = parse_score_range(&argv[2], &argv[3])?;
    let Some(meta) = read_zset(t, &argv[1])? else {
        return int(0);
    };
    int(records::count_scores(t, &argv[1], &meta, &r)? as i64)
}

/// O(m), m = members in the range.
fn zlexcount(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let (min, max) = parse_lex_range(&argv[2], &argv[3])?;
    let Some(meta) = read_zset(t, &argv[1])? else {
        return int(0);
    };
    int(Span::lex(t, &argv[1], &meta, &min, &max).count(t)? as i64)
}

// ---- ZRANGE family ------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeBy {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Redis's zrangeGenericCommand: `<src> <min> <max> [BYSCORE|BYLEX] [REV]
/// [WITHSCORES] [LIMIT offset count]` from `at`, for ZRANGE, ZRANGESTORE and the
/// deprecated forms (which fix the range type and direction).
fn zrange_generic(
    t: &mut Txn,
    argv: &[Vec<u8>],
    at: usize,
    store: bool,
    mut by: RangeBy,
    mut rev: Option<bool>,
) -> CmdResult {
    let src = &argv[at];
    let (mut minidx, mut maxidx) = (at + 1, at + 2);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = at + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if !store && args::is(a, "withscores") {
            withscores = true;
        } else if args::is(a, "limit") && left >= 2 {
            offset = args::parse_i64(&argv[j + 1])?;
            limit = args::parse_i64(&argv[j + 2])?;
            j += 2;
        } else if rev.is_none() && args::is(a, "rev") {
            rev = Some(true);
        } else if by == RangeBy::Auto && args::is(a, "bylex") {
            by = RangeBy::Lex;
        } else if by == RangeBy::Auto && args::is(a, "byscore") {
            by = RangeBy::Score;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if by == RangeBy::Auto {
        by = RangeBy::Rank;
    }
    if limit != -1 && by == RangeBy::Rank {
        return Err(CmdError::new(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == RangeBy::Lex {
        return Err(CmdError::new(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    if rev && by != RangeBy::Rank {
        // The range is given as max, min.
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    enum Parsed {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(Lex, Lex),
    }
    let parsed = match by {
        RangeBy::Score => Parsed::Score(parse_score_range(&argv[minidx], &argv[maxidx])?),
        RangeBy::Lex => {
            let (a, b) = parse_lex_range(&argv[minidx], &argv[maxidx])?;
            Parsed::Lex(a, b)
        }
        _ => Parsed::Rank(
            args::parse_i64(&argv[minidx])?,
            args::parse_i64(&argv[maxidx])?,
        ),
    };
    let entries = match t.get_meta(src)? {
        None => Vec::new(),
        Some(m) if m.kind != Kind::ZSet => return Err(CmdError::wrong_type()),
        Some(meta) => match parsed {
            Parsed::Rank(s, e) => rank_entries(t, src, &meta, s, e, rev)?,
            Parsed::Score(r) => {
                let span = Span::scores(t, src, &meta, &r);
                limited(t, src, &meta, &span, rev, offset, limit)?
            }
            Parsed::Lex(a, b) => {
                let span = Span::lex(t, src, &meta, &a, &b);
                limited(t, src, &meta, &span, rev, offset, limit)?
            }
        },
    };
    if store {
        let n = records::store(t, &argv[1], &entries)?;
        return int(n as i64);
    }
    Ok(pairs_reply(entries, withscores))
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES].
fn zrange(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zrange_generic(t, argv, 1, false, RangeBy::Auto, None)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count].
fn zrangestore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zrange_generic(t, argv, 2, true, RangeBy::Auto, None)
}

fn zrevrange(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zrange_generic(t, argv, 1, false, RangeBy::Rank, Some(true))
}

fn zrangebyscore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zrange_generic(t, argv, 1, false, RangeBy::Score, Some(false))
}

fn zrevrangebyscore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zrange_generic(t, argv, 1, false, RangeBy::Score, Some(true))
}

fn zrangebylex(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zrange_generic(t, argv, 1, false, RangeBy::Lex, Some(false))
}

fn zrevrangebylex(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zrange_generic(t, argv, 1, false, RangeBy::Lex, Some(true))
}

// ---- ZREMRANGEBY* -------------------------------------------------------------------

/// Parses the range, then removes it: O(m) reads and writes (removing every member
/// only deletes the meta).
fn zremrange(t: &mut Txn, argv: &[Vec<u8>], by: RangeBy) -> CmdResult {
    let key = &argv[1];
    enum Parsed {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(Lex, Lex),
    }
    let parsed = match by {
        RangeBy::Score => Parsed::Score(parse_score_range(&argv[2], &argv[3])?),
        RangeBy::Lex => {
            let (a, b) = parse_lex_range(&argv[2], &argv[3])?;
            Parsed::Lex(a, b)
        }
        _ => Parsed::Rank(args::parse_i64(&argv[2])?, args::parse_i64(&argv[3])?),
    };
    let Some(meta) = read_zset(t, key)? else {
        return int(0);
    };
    let entries = match parsed {
        Parsed::Rank(s, e) => rank_entries(t, key, &meta, s, e, false)?,
        Parsed::Score(r) => Span::scores(t, key, &meta, &r).forward(t, 0, u64::MAX)?,
        Parsed::Lex(a, b) => Span::lex(t, key, &meta, &a, &b).forward(t, 0, u64::MAX)?,
    };
    let n = entries.len() as i64;
    records::remove_entries(t, key, meta, &entries)?;
    int(n)
}

fn zremrangebyrank(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zremrange(t, argv, RangeBy::Rank)
}

fn zremrangebyscore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zremrange(t, argv, RangeBy::Score)
}

fn zremrangebylex(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zremrange(t, argv, RangeBy::Lex)
}

fn zpop(t: &mut Txn, argv: &[Vec<u8>], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::syntax());
    }
    let count = match argv.get(2) {
        None => 1,
        Some(a) => args::parse_i64_opt(a)
            .filter(|&c| c >= 0)
            .ok_or_else(|| CmdError::new("ERR value is out of range, must be positive"))?
            as u64,
    };
    let key = &argv[1];
    let Some(meta) = read_zset(t, key)? else {
        return Ok(Frame::Array(Vec::new()));
    };
    if count == 0 {
        return Ok(Frame::Array(Vec::new()));
    }
    let popped = records::pop(t, key, meta, max, count)?;
    if argv.len() == 2 {
        // Without a count, Redis 7 replies a flat [member, score] in RESP3 too (a count,
        // even 1, gives the nested [[member, score], ...]).
        return Ok(Frame::Array(
            popped
                .into_iter()
                .flat_map(|(m, s)| [Frame::Bulk(m), Frame::Double(s)])
                .collect(),
        ));
    }
    Ok(pairs_reply(popped, true))
}

fn zpopmin(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zpop(t, argv, false)
}

fn zpopmax(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zpop(t, argv, true)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: pops from the first non-empty
/// key; the reply nests [key, [[member, score], ...]] in RESP2 as in RESP3.
fn zmpop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let numkeys = args::parse_i64_opt(&argv[1])
        .filter(|&n| n >= 1)
        .ok_or_else(|| CmdError::new("ERR numkeys should be greater than 0"))?
        as u64;
    let where_idx = 2u64.saturating_add(numkeys);
    if where_idx >= argv.len() as u64 {
        return Err(CmdError::syntax());
    }
    let where_idx = where_idx as usize;
    let max = if args::is(&argv[where_idx], "min") {
        false
    } else if args::is(&argv[where_idx], "max") {
        true
    } else {
        return Err(CmdError::syntax());
    };
    let mut count: Option<u64> = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if count.is_none() && args::is(&argv[j], "count") && more > 0 {
            j += 1;
            count = Some(
                args::parse_i64_opt(&argv[j])
                    .filter(|&c| c >= 1)
                    .ok_or_else(|| CmdError::new("ERR count should be greater than 0"))?
                    as u64,
            );
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    let count = count.unwrap_or(1);
    for key in &argv[2..where_idx] {
        let Some(meta) = t.get_meta(key)? else {
            continue;
        };
        if meta.kind != Kind::ZSet {
            return Err(CmdError::wrong_type());
        }
        let got = records::pop(t, key, meta, max, count)?;
        let pairs = got
            .into_iter()
            .map(|(m, s)| Frame::Array(vec![Frame::Bulk(m), Frame::Double(s)]))
            .collect();
        return Ok(Frame::Array(vec![
            Frame::Bulk(key.clone()),
            Frame::Array(pairs),
        ]));
    }
    Ok(Frame::NullArray)
}

// ---- ZRANDMEMBER / ZSCAN ------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]: random positions drawn from `t.rng` only;
/// reaching a position walks the members up to it.
fn zrandmember(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    if argv.len() == 2 {
        let Some(meta) = read_zset(t, key)? else {
            return Ok(Frame::Null);
        };
        let pos = t.rng.below(meta.len);
        let picked = records::nth_members(t, key, &meta, &[pos])?;
        return Ok(picked
            .into_iter()
            .next()
            .map_or(Frame::Null, |(m, _)| Frame::Bulk(m)));
    }
    let l = coll::parse_count(&argv[2])?;
    if argv.len() > 4 || (argv.len() == 4 && !args::is(&argv[3], "withscores")) {
        return Err(CmdError::syntax());
    }
    let withscores = argv.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::new("ERR value is out of range"));
    }
    let Some(meta) = read_zset(t, key)? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let n = meta.len;
    let count = l.unsigned_abs();
    let picked = if count == 0 {
        Vec::new()
    } else if l < 0 || count == 1 {
        coll::check_repeats(count)?;
        let draws = coll::sample_repeat(&mut t.rng, n, count);
        records::drawn_members(t, key, &meta, &draws)?
    } else if count >= n {
        Span::index(t, key, &meta).forward(t, 0, u64::MAX)?
    } else {
        let positions = coll::sample_unique(&mut t.rng, n, count);
        records::nth_members(t, key, &meta, &positions)?
    };
    Ok(pairs_reply(picked, withscores))
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: the cursor is a position in hash
/// order, with the guarantees of `coll::scan_page`. O(n log count) per page.
fn zscan(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let cursor = coll::parse_cursor(&argv[2])?;
    let Some(meta) = read_zset(t, key)? else {
        return Ok(coll::scan_reply(0, Vec::new()));
    };
    let o = coll::parse_scan_opts(argv, 3, false)?;
    let all = Span::members(t, key, &meta).forward(t, 0, u64::MAX)?;
    let mut sel = coll::PageSel::new(cursor, o.count);
    for (m, s) in &all {
        sel.offer(m, || *s);
    }
    let (page, end) = sel.finish();
    let (page, next) = match end {
        coll::PageEnd::Next(n) => (page, n),
        coll::PageEnd::Ties(h) => {
            let mut ties = coll::PageSel::<f64>::ties(h);
            for (m, s) in &all {
                ties.offer(m, || *s);
            }
            ties.finish()
        }
    };
    let mut out = Vec::new();
    for (m, s) in coll::sorted(page) {
        if o.pattern.is_none_or(|p| crate::glob_match(p, &m, false)) {
            out.push(Frame::Bulk(m));
            out.push(Frame::Bulk(resp::format_double(s).into_bytes()));
        }
    }
    Ok(coll::scan_reply(next, out))
}

// ---- ZUNION / ZINTER / ZDIFF --------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            // inf + -inf: Redis keeps the convention of 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// An input of the set operations: a sorted set, a plain set (every member scores 1)
/// or a missing key (empty).
struct Input<'a> {
    key: &'a [u8],
    meta: Option<Meta>,
    weight: f64,
}

impl Input<'_> {
    fn len(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.len)
    }

    fn entries(&self, t: &Txn) -> Result<Vec<Entry>, CmdError> {
        let Some(meta) = &self.meta else {
            return Ok(Vec::new());
        };
        if meta.kind == Kind::ZSet {
            return Span::members(t, self.key, meta).forward(t, 0, u64::MAX);
        }
        Ok(set::members(t, self.key, meta)?
            .into_iter()
            .map(|m| (m, 1.0))
            .collect())
    }

    fn find(&self, t: &Txn, member: &[u8]) -> Result<Option<f64>, CmdError> {
        let Some(meta) = &self.meta else {
            return Ok(None);
        };
        if meta.kind == Kind::ZSet {
            return records::score(t, self.key, meta, member);
        }
        Ok(set::is_member(t, self.key, meta, member)?.then_some(1.0))
    }
}

/// Redis's zunionInterDiffGenericCommand: numkeys at `numkeys_idx`, then the keys,
/// then WEIGHTS / AGGREGATE / WITHSCORES / LIMIT as the operation allows. The inputs'
/// types are checked before the options are parsed, as in Redis.
fn zsetop(
    t: &mut Txn,
    argv: &[Vec<u8>],
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
    name: &str,
) -> CmdResult {
    let setnum = args::parse_i64(&argv[numkeys_idx])?;
    if setnum < 1 {
        return Err(CmdError::new(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let first = numkeys_idx + 1;
    if setnum as u64 > (argv.len() - first) as u64 {
        return Err(CmdError::syntax());
    }
    let setnum = setnum as usize;
    let mut inputs = Vec::with_capacity(setnum);
    for key in &argv[first..first + setnum] {
        let meta = match t.get_meta(key)? {
            Some(m) if m.kind == Kind::ZSet || m.kind == Kind::Set => Some(m),
            Some(_) => return Err(CmdError::wrong_type()),
            None => None,
        };
        inputs.push(Input {
            key,
            meta,
            weight: 1.0,
        });
    }
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0u64;
    let mut j = first + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && args::is(a, "weights") {
            j += 1;
            for input in inputs.iter_mut() {
                input.weight = parse_score(&argv[j])
                    .ok_or_else(|| CmdError::new("ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && args::is(a, "aggregate") {
            let v = &argv[j + 1];
            how = if args::is(v, "sum") {
                Aggregate::Sum
            } else if args::is(v, "min") {
                Aggregate::Min
            } else if args::is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::syntax());
            };
            j += 2;
        } else if dst.is_none() && !card_only && args::is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && args::is(a, "limit") {
            limit = args::parse_i64_opt(&argv[j + 1])
                .filter(|&l| l >= 0)
                .ok_or_else(|| CmdError::new("ERR LIMIT can't be negative"))?
                as u64;
            j += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    if op != SetOp::Diff {
        // Smallest first, as Redis does (it also fixes the order SUM adds in).
        inputs.sort_by_key(Input::len);
    }

    let mut result: Vec<Entry> = Vec::new();
    match op {
        SetOp::Inter => {
            if inputs[0].len() > 0 {
                let mut found = 0u64;
                'members: for (m, s) in inputs[0].entries(t)? {
                    let mut score = inputs[0].weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for other in &inputs[1..] {
                        match other.find(t, &m)? {
                            Some(v) => aggregate(&mut score, v * other.weight, how),
                            None => continue 'members,
                        }
                    }
                    if card_only {
                        found += 1;
                        if limit != 0 && found >= limit {
                            break;
                        }
                    } else {
                        result.push((m, score));
                    }
                }
                if card_only {
                    return int(found as i64);
                }
            } else if card_only {
                return int(0);
            }
        }
        SetOp::Union => {
            let mut acc: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for input in &inputs {
                for (m, s) in input.entries(t)? {
                    let mut score = input.weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(cur) => aggregate(cur, score, how),
                        None => {
                            acc.insert(m, score);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Diff => {
            'members: for (m, s) in inputs[0].entries(t)? {
                for other in &inputs[1..] {
                    if other.find(t, &m)?.is_some() {
                        continue 'members;
                    }
                }
                result.push((m, s));
            }
        }
    }
    for e in result.iter_mut() {
        e.1 = normalize(e.1);
    }
    result.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    match dst {
        Some(dst) => int(records::store(t, dst, &result)? as i64),
        None => Ok(pairs_reply(result, withscores)),
    }
}

/// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES].
fn zunion(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zsetop(t, argv, None, 1, SetOp::Union, false, "zunion")
}

fn zunionstore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zsetop(
        t,
        argv,
        Some(&argv[1]),
        2,
        SetOp::Union,
        false,
        "zunionstore",
    )
}

/// ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES].
fn zinter(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zsetop(t, argv, None, 1, SetOp::Inter, false, "zinter")
}

fn zinterstore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zsetop(
        t,
        argv,
        Some(&argv[1]),
        2,
        SetOp::Inter,
        false,
        "zinterstore",
    )
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit].
fn zintercard(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zsetop(t, argv, None, 1, SetOp::Inter, true, "zintercard")
}

/// ZDIFF numkeys key [key ...] [WITHSCORES].
fn zdiff(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zsetop(t, argv, None, 1, SetOp::Diff, false, "zdiff")
}

fn zdiffstore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zsetop(t, argv, Some(&argv[1]), 2, SetOp::Diff, false, "zdiffstore")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0"), Some(0.0));
        assert_eq!(parse_score(b"0e5"), Some(0.0));
        for bad in [&b""[..], b"nan", b"1e400", b"1e-400", b" 1", b"abc"] {
            assert_eq!(parse_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_bound(b"(1e400"), Some((f64::INFINITY, true)));
        assert_eq!(parse_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_bound(b"nan"), None);
    }
}
