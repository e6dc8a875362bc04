//! Sorted set commands (t_zset.c), without the blocking ones (BZPOPMIN, BZPOPMAX,
//! BZMPOP need the server's session layer).
//!
//! Layout: the key's meta record (kind ZSet, `len` = member count) plus two record
//! families under the key's version prefix (see `crate::coll`):
//!
//! - `b'm' + member` → the score, 8 bytes (f64 bits, big-endian): ZSCORE, ZADD's
//!   "is it there, with which score", lex ranges (members in byte order);
//! - `b's' + sortable(score) + member` → empty: the score index, in (score, member)
//!   order exactly as Redis's skiplist, so a score range is one prefix scan.
//!
//! `sortable` is the order-preserving 8-byte image of an f64 (negatives: all bits
//! flipped; positives: sign bit flipped). Scores are stored normalised: -0 becomes 0
//! (Redis would echo back "-0"; everything else is identical), NaN never gets in.
//!
//! Writes are O(1) records per member: adding one writes its two records and the meta,
//! changing a score also deletes the old index record; DEL drops the meta and the
//! version's records with one range delete (point deletes for a few).
//!
//! Reads walk the index, or ask the memory tier (`crate::tier`): a set of at least
//! `tier::MIN_CACHED_LEN` members that a rank operation touches gets a decoded copy of
//! its score index (an order-statistics structure), kept in step with every write by
//! the state machine, so rank operations cost what they cost in Redis. Without the tier
//! (small sets, a set the same transaction changed) the walk below is used. The store
//! iterates forward only, so reading from the high end (ZREVRANGE, ZPOPMAX, ZRANGE with
//! negative indexes) uses [`Span::tail`], which finds the last k records with O(log)
//! bounded forward probes instead of a full walk. Complexities below count records read
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
use crate::tier::RankIndex;
use crate::txn::Txn;
use crate::Frame;
use ::keys::{Cf, Kind, Meta};
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

// ---- score encoding -----------------------------------------------------------------

const MEMBER: u8 = b'm';
const INDEX: u8 = b's';
/// The score index's sub-key tag, for the memory tier.
pub(crate) const INDEX_TAG: u8 = INDEX;

/// -0 and 0 are the same score (as in Redis's comparisons); stored as 0.
fn norm(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

fn sortable_u64(score: f64) -> u64 {
    let bits = norm(score).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The order-preserving 8-byte image of a score: byte order of the images is the
/// numeric order of the scores (-inf < ... < -0 = 0 < ... < +inf). NaN never gets here.
pub(crate) fn sortable(score: f64) -> [u8; 8] {
    sortable_u64(score).to_be_bytes()
}

pub(crate) fn from_sortable(raw: [u8; 8]) -> f64 {
    let v = u64::from_be_bytes(raw);
    let bits = if v >> 63 == 1 { v & !(1 << 63) } else { !v };
    f64::from_bits(bits)
}

fn member_sub(member: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(1 + member.len());
    s.push(MEMBER);
    s.extend_from_slice(member);
    s
}

fn index_sub(score: f64, member: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(9 + member.len());
    s.push(INDEX);
    s.extend_from_slice(&sortable(score));
    s.extend_from_slice(member);
    s
}

fn corrupt() -> CmdError {
    CmdError::storage("corrupt sorted set record")
}

fn decode_score(raw: &[u8]) -> Result<f64, CmdError> {
    let b: [u8; 8] = raw.try_into().map_err(|_| corrupt())?;
    Ok(f64::from_bits(u64::from_be_bytes(b)))
}

// ---- argument parsing ---------------------------------------------------------------

/// A score or weight: Redis's string2d (strtod, the whole string, no leading space,
/// no NaN, and out-of-range values rejected rather than rounded to inf or 0).
fn parse_score(arg: &[u8]) -> Option<f64> {
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

/// A score range: `(` makes a bound exclusive; strtod rules without the range check.
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

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
#[derive(Clone, Debug)]
enum Lex {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

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

// ---- spans of records ---------------------------------------------------------------

/// A member and its score.
type Entry = (Vec<u8>, f64);

/// Which family a span walks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fam {
    Index,
    Members,
}

/// `[start, end)` of raw `data` keys inside one family of one sorted set.
struct Span {
    fam: Fam,
    plen: usize,
    start: Vec<u8>,
    end: Vec<u8>,
}

/// Upper bound on bisection probes in [`Span::tail`] before it falls back to a walk.
const MAX_PROBES: usize = 256;

impl Span {
    fn family(t: &Txn, key: &[u8], meta: &Meta, fam: Fam) -> Span {
        let prefix = ::keys::data_prefix(t.db, key, meta.version);
        let tag = match fam {
            Fam::Index => INDEX,
            Fam::Members => MEMBER,
        };
        let mut start = prefix.clone();
        start.push(tag);
        let mut end = prefix.clone();
        end.push(tag + 1);
        Span {
            fam,
            plen: prefix.len(),
            start,
            end,
        }
    }

    /// Index records whose score is inside `r`.
    fn scores(t: &Txn, key: &[u8], meta: &Meta, r: &ScoreRange) -> Span {
        let mut s = Span::family(t, key, meta, Fam::Index);
        let at = |v: u64| {
            let mut k = s.start.clone();
            k.extend_from_slice(&v.to_be_bytes());
            k
        };
        let lo = sortable_u64(r.min);
        let lo = if r.minex { lo.checked_add(1) } else { Some(lo) };
        let hi = sortable_u64(r.max);
        let hi = if r.maxex { Some(hi) } else { hi.checked_add(1) };
        let start = lo.map_or_else(|| s.end.clone(), at);
        let end = hi.map_or_else(|| s.end.clone(), at);
        s.start = start;
        s.end = end;
        s
    }

    /// Member records inside a lex range.
    fn lex(t: &Txn, key: &[u8], meta: &Meta, min: &Lex, max: &Lex) -> Span {
        let mut s = Span::family(t, key, meta, Fam::Members);
        let base = s.start.clone();
        let with = |m: &[u8], zero: bool| {
            let mut k = base.clone();
            k.extend_from_slice(m);
            if zero {
                // `m` + 0x00 is the first key after `m` itself.
                k.push(0);
            }
            k
        };
        let start = match min {
            Lex::Min => base.clone(),
            Lex::Max => s.end.clone(),
            Lex::Incl(m) => with(m, false),
            Lex::Excl(m) => with(m, true),
        };
        let end = match max {
            Lex::Min => base.clone(),
            Lex::Max => s.end.clone(),
            Lex::Incl(m) => with(m, true),
            Lex::Excl(m) => with(m, false),
        };
        s.start = start;
        s.end = end;
        s
    }

    fn decode(&self, k: &[u8], v: &[u8]) -> Result<Entry, CmdError> {
        let sub = k.get(self.plen..).ok_or_else(corrupt)?;
        match self.fam {
            Fam::Index => {
                if sub.len() < 9 || sub[0] != INDEX {
                    return Err(corrupt());
                }
                let raw: [u8; 8] = sub[1..9].try_into().map_err(|_| corrupt())?;
                Ok((sub[9..].to_vec(), from_sortable(raw)))
            }
            Fam::Members => {
                if sub.first() != Some(&MEMBER) {
                    return Err(corrupt());
                }
                Ok((sub[1..].to_vec(), decode_score(v)?))
            }
        }
    }

    /// Records in `[from, self.end)`, at most `cap + 1` of them.
    fn probe(&self, t: &Txn, from: &[u8], cap: u64) -> Result<coll::Entries, CmdError> {
        let mut out = Vec::new();
        t.raw_scan(Cf::Data, from, &self.end, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            (out.len() as u64) <= cap
        })?;
        Ok(out)
    }

    /// Number of records in `[from, to)`.
    fn count_between(t: &Txn, from: &[u8], to: &[u8]) -> Result<u64, CmdError> {
        let mut n = 0u64;
        t.raw_scan(Cf::Data, from, to, &mut |_, _| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// Where a bound of an index span sits in the tier's copy: elements before it.
    fn tier_rank(&self, ix: &RankIndex, bound: &[u8]) -> u64 {
        if bound.len() > self.plen + 1 {
            ix.rank(&bound[self.plen + 1..])
        } else if bound.get(self.plen) == Some(&INDEX) {
            0
        } else {
            ix.len()
        }
    }

    /// Ranks `[start, end)` the span covers in the tier's copy (index spans only).
    fn tier_ranks(&self, ix: &RankIndex) -> (u64, u64) {
        let a = self.tier_rank(ix, &self.start);
        let b = self.tier_rank(ix, &self.end);
        (a, b.max(a))
    }

    fn count(&self, t: &Txn) -> Result<u64, CmdError> {
        Span::count_between(t, &self.start, &self.end)
    }

    /// Skips `skip` records, then returns up to `take`, in order.
    fn forward(&self, t: &Txn, skip: u64, take: u64) -> Result<Vec<Entry>, CmdError> {
        let mut out = Vec::new();
        if take == 0 {
            return Ok(out);
        }
        let mut seen = 0u64;
        let mut bad = None;
        t.raw_scan(Cf::Data, &self.start, &self.end, &mut |k, v| {
            seen += 1;
            if seen <= skip {
                return true;
            }
            match self.decode(k, v) {
                Ok(e) => out.push(e),
                Err(e) => {
                    bad = Some(e);
                    return false;
                }
            }
            (out.len() as u64) < take
        })?;
        match bad {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// The last `k` records of the span, in forward order. The store only iterates
    /// forward, so this bisects the key space between a point known to have more than
    /// `cap` records after it and one known to have fewer than `k`, until a probe lands
    /// with between `k` and `cap` records after it. Each probe reads at most `cap + 1`
    /// records; the number of probes is logarithmic in the key distance.
    fn tail(&self, t: &Txn, k: u64) -> Result<Vec<Entry>, CmdError> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let cap = k.saturating_mul(2).saturating_add(16);
        let last_k = |raw: coll::Entries| -> Result<Vec<Entry>, CmdError> {
            let skip = raw
                .len()
                .saturating_sub(usize::try_from(k).unwrap_or(usize::MAX));
            raw[skip..]
                .iter()
                .map(|(key, v)| self.decode(key, v))
                .collect()
        };
        let first = self.probe(t, &self.start, cap)?;
        if first.len() as u64 <= cap {
            return last_k(first);
        }
        // Invariants: more than `cap` records from `lo` on, fewer than `k` from `hi` on.
        let mut lo = first[0].0.clone();
        let mut hi = self.end.clone();
        for _ in 0..MAX_PROBES {
            let Some(mid) = midpoint(&lo, &hi) else {
                break;
            };
            let got = self.probe(t, &mid, cap)?;
            let n = got.len() as u64;
            if n < k {
                hi = got.into_iter().next().map_or(mid, |(key, _)| key);
            } else if n <= cap {
                return last_k(got);
            } else {
                lo = got.into_iter().next().map_or(mid, |(key, _)| key);
            }
        }
        // Only keys differing by trailing zero bytes defeat the bisection; walk the rest.
        let rest = self.probe(t, &lo, u64::MAX)?;
        last_k(rest)
    }
}

/// A byte string strictly between `a` and `b` (a < b), about halfway as base-256
/// fractions; None when there is none the arithmetic can find.
fn midpoint(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let l = a.len().max(b.len()) + 1;
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0) as u16;
    let mut sum = vec![0u8; l];
    let mut carry = 0u16;
    for i in (0..l).rev() {
        let s = at(a, i) + at(b, i) + carry;
        sum[i] = (s & 0xff) as u8;
        carry = s >> 8;
    }
    let mut out = Vec::with_capacity(l);
    let mut rem = carry;
    for &byte in &sum {
        let v = (rem << 8) | byte as u16;
        out.push((v >> 1) as u8);
        rem = v & 1;
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    (a < out.as_slice() && out.as_slice() < b).then_some(out)
}

// ---- the memory tier ------------------------------------------------------------------

/// Runs `f` on the decoded score index of the sorted set from the memory tier, when the
/// tier has (or can now build) a copy that is exactly what `t` sees. None means: walk
/// RocksDB. Sets below the tier's minimum length (`tier::MIN_CACHED_LEN` by default) are
/// never built; a set this transaction
/// changed is read from its records (the tier holds committed state only).
fn ranked<R>(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    f: impl Fn(&RankIndex) -> R,
) -> Result<Option<R>, CmdError> {
    let Some((tier, generation)) = t.tier() else {
        return Ok(None);
    };
    let span = Span::family(t, key, meta, Fam::Index);
    let prefix = &span.start[..span.plen];
    if t.wrote_within(Cf::Data, prefix, &coll::prefix_end(prefix)) {
        return Ok(None);
    }
    if let Some(r) = tier.with(t.db, key, meta, &f) {
        return Ok(Some(r));
    }
    if meta.len < tier.min_len() {
        return Ok(None);
    }
    let mut items: Vec<Box<[u8]>> = Vec::with_capacity(usize::try_from(meta.len).unwrap_or(0));
    let skip = span.plen + 1;
    t.raw_scan(Cf::Data, &span.start, &span.end, &mut |k, _| {
        items.push(k.get(skip..).unwrap_or_default().into());
        true
    })?;
    if items.len() as u64 != meta.len {
        // The meta record and the index disagree; leave the tier out of it.
        return Ok(None);
    }
    let index = RankIndex::from_sorted(items);
    let r = f(&index);
    tier.insert(generation, t.db, key, meta, index);
    Ok(Some(r))
}

/// An index entry of the tier (sortable score + member) as (member, score).
fn tier_entry(sub: &[u8]) -> Result<Entry, CmdError> {
    let raw: [u8; 8] = sub
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(corrupt)?;
    Ok((sub[8..].to_vec(), from_sortable(raw)))
}

/// Entries at ranks `from..to` of the tier's copy.
fn tier_range(ix: &RankIndex, from: u64, to: u64) -> Result<Vec<Entry>, CmdError> {
    ix.range(from, to).into_iter().map(tier_entry).collect()
}

// ---- members ------------------------------------------------------------------------

fn read_zset(t: &Txn, key: &[u8]) -> Result<Option<Meta>, CmdError> {
    t.get_kind(key, Kind::ZSet)
}

fn score_of(t: &Txn, key: &[u8], meta: &Meta, member: &[u8]) -> Result<Option<f64>, CmdError> {
    match coll::get(t, key, meta, &member_sub(member))? {
        None => Ok(None),
        Some(raw) => Ok(Some(decode_score(&raw)?)),
    }
}

/// Sets `member`'s score; `old` is its current score (None = new member).
fn set_score(
    t: &mut Txn,
    key: &[u8],
    meta: &mut Meta,
    member: &[u8],
    score: f64,
    old: Option<f64>,
) {
    let score = norm(score);
    if let Some(old) = old {
        let k = ::keys::data_key(t.db, key, meta.version, &index_sub(old, member));
        t.raw_delete(Cf::Data, k);
    }
    coll::put(
        t,
        key,
        meta,
        &member_sub(member),
        score.to_bits().to_be_bytes().to_vec(),
        old.is_none(),
    );
    let k = ::keys::data_key(t.db, key, meta.version, &index_sub(score, member));
    t.raw_put(Cf::Data, k, Vec::new());
}

/// Removes a member known to have `score`.
fn remove_member(t: &mut Txn, key: &[u8], meta: &mut Meta, member: &[u8], score: f64) {
    coll::remove(t, key, meta, &member_sub(member));
    let k = ::keys::data_key(t.db, key, meta.version, &index_sub(score, member));
    t.raw_delete(Cf::Data, k);
}

/// Removes `entries` (all present); dropping every member deletes the key (O(1) records).
fn remove_entries(
    t: &mut Txn,
    key: &[u8],
    mut meta: Meta,
    entries: &[Entry],
) -> Result<(), CmdError> {
    if entries.is_empty() {
        return Ok(());
    }
    if entries.len() as u64 >= meta.len {
        t.delete_key(key)?;
        return Ok(());
    }
    for (m, s) in entries {
        remove_member(t, key, &mut meta, m, *s);
    }
    coll::save(t, key, meta)
}

/// Replaces whatever `dst` holds with a sorted set of `entries` (unique members),
/// without TTL; an empty result deletes `dst`. Returns the new size.
fn store_entries(t: &mut Txn, dst: &[u8], entries: &[Entry]) -> Result<u64, CmdError> {
    if entries.is_empty() {
        t.delete_key(dst)?;
        return Ok(0);
    }
    let mut meta = t.new_meta(Kind::ZSet, Vec::new());
    for (m, s) in entries {
        set_score(t, dst, &mut meta, m, *s, None);
    }
    let n = meta.len;
    coll::save(t, dst, meta)?;
    Ok(n)
}

/// Forward positions `lo..=hi` (0 <= lo <= hi < n) of the whole index, reading from
/// whichever end is nearer.
fn by_rank(t: &Txn, key: &[u8], meta: &Meta, lo: u64, hi: u64) -> Result<Vec<Entry>, CmdError> {
    if let Some(v) = ranked(t, key, meta, |ix| tier_range(ix, lo, hi + 1))? {
        return v;
    }
    let span = Span::family(t, key, meta, Fam::Index);
    let n = meta.len;
    let want = hi - lo + 1;
    if hi < n - lo {
        span.forward(t, lo, want)
    } else {
        let mut v = span.tail(t, n - lo)?;
        v.truncate(want as usize);
        Ok(v)
    }
}

/// Redis's rank sanitising: None when the range is empty.
fn rank_range(start: i64, end: i64, n: u64) -> Option<(u64, u64)> {
    let n = n as i64;
    let (mut s, mut e) = (start, end);
    if s < 0 {
        s += n;
    }
    if e < 0 {
        e += n;
    }
    if s < 0 {
        s = 0;
    }
    if s > e || s >= n {
        return None;
    }
    if e >= n {
        e = n - 1;
    }
    Some((s as u64, e as u64))
}

/// Entries at ranks `start..=end` (ascending or, with `rev`, descending order).
fn rank_entries(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    start: i64,
    end: i64,
    rev: bool,
) -> Result<Vec<Entry>, CmdError> {
    let n = meta.len;
    let Some((s, e)) = rank_range(start, end, n) else {
        return Ok(Vec::new());
    };
    if rev {
        let mut v = by_rank(t, key, meta, n - 1 - e, n - 1 - s)?;
        v.reverse();
        Ok(v)
    } else {
        by_rank(t, key, meta, s, e)
    }
}

/// A span read with LIMIT: `offset` records skipped in the reading direction, then up
/// to `limit` (negative = all). A negative offset yields nothing (Redis 7).
fn limited(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    span: &Span,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Result<Vec<Entry>, CmdError> {
    if offset < 0 || limit == 0 {
        return Ok(Vec::new());
    }
    let off = offset as u64;
    if span.fam == Fam::Index {
        let lim = if limit < 0 { u64::MAX } else { limit as u64 };
        let got = ranked(t, key, meta, |ix| {
            let (a, b) = span.tier_ranks(ix);
            if rev {
                let hi = b.saturating_sub(off).max(a);
                let lo = hi.saturating_sub(lim).max(a);
                tier_range(ix, lo, hi).map(|mut v| {
                    v.reverse();
                    v
                })
            } else {
                let lo = a.saturating_add(off).min(b);
                tier_range(ix, lo, lo.saturating_add(lim).min(b))
            }
        })?;
        if let Some(v) = got {
            return v;
        }
    }
    if !rev {
        let take = if limit < 0 { u64::MAX } else { limit as u64 };
        return span.forward(t, off, take);
    }
    let mut v = if limit < 0 {
        span.forward(t, 0, u64::MAX)?
    } else {
        span.tail(t, off.saturating_add(limit as u64))?
    };
    v.reverse();
    let skip = v.len().min(usize::try_from(off).unwrap_or(usize::MAX));
    v.drain(..skip);
    if limit > 0 {
        v.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(v)
}

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
        None => Some(t.new_meta(Kind::ZSet, Vec::new())),
    };
    if let Some(mut meta) = meta {
        for (pair, &given) in rest.chunks(2).zip(&scores) {
            let member = &pair[1];
            match score_of(t, key, &meta, member)? {
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
                        set_score(t, key, &mut meta, member, score, Some(cur));
                        updated += 1;
                    }
                }
                None if !xx => {
                    set_score(t, key, &mut meta, member, given, None);
                    added += 1;
                    processed += 1;
                    last = given;
                }
                None => {}
            }
        }
        if added + updated > 0 {
            coll::save(t, key, meta)?;
        }
    }
    if incr {
        Ok(if processed > 0 {
            Frame::Double(norm(last))
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
        if let Some(s) = score_of(t, key, &meta, m)? {
            remove_member(t, key, &mut meta, m, s);
            removed += 1;
            if meta.len == 0 {
                break;
            }
        }
    }
    if removed > 0 {
        coll::save(t, key, meta)?;
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
    Ok(score_of(t, &argv[1], &meta, &argv[2])?.map_or(Frame::Null, Frame::Double))
}

/// O(1) per member.
fn zmscore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let meta = read_zset(t, &argv[1])?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    for m in &argv[2..] {
        let s = match &meta {
            Some(meta) => score_of(t, &argv[1], meta, m)?,
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
    let Some(score) = score_of(t, key, &meta, member)? else {
        return Ok(missing);
    };
    let sub = index_sub(score, member);
    let cached = ranked(t, key, &meta, |ix| ix.rank(&sub[1..]))?;
    let span = Span::family(t, key, &meta, Fam::Index);
    let at = ::keys::data_key(t.db, key, meta.version, &sub);
    let rank = if let Some(r) = cached {
        if rev {
            meta.len.saturating_sub(1).saturating_sub(r)
        } else {
            r
        }
    } else if rev {
        Span::count_between(t, &at, &span.end)?.saturating_sub(1)
    } else {
        Span::count_between(t, &span.start, &at)?
    };
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
    let span = Span::scores(t, &argv[1], &meta, &r);
    if let Some((a, b)) = ranked(t, &argv[1], &meta, |ix| span.tier_ranks(ix))? {
        return int((b - a) as i64);
    }
    int(span.count(t)? as i64)
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
        let n = store_entries(t, &argv[1], &entries)?;
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
    remove_entries(t, key, meta, &entries)?;
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

// ---- pops ---------------------------------------------------------------------------

/// Removes and returns up to `count` members from the low (or high, `max`) end, in
/// pop order. O(count) (plus O(log) probes from the high end).
fn pop(t: &mut Txn, key: &[u8], meta: Meta, max: bool, count: u64) -> Result<Vec<Entry>, CmdError> {
    let k = count.min(meta.len);
    let span = Span::family(t, key, &meta, Fam::Index);
    let got = if max {
        let mut v = span.tail(t, k)?;
        v.reverse();
        v
    } else {
        span.forward(t, 0, k)?
    };
    remove_entries(t, key, meta, &got)?;
    Ok(got)
}

/// ZPOPMIN/ZPOPMAX key [count].
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
    let popped = pop(t, key, meta, max, count)?;
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
        let got = pop(t, key, meta, max, count)?;
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

fn is_member_record(v: &[u8]) -> bool {
    // Member records hold an 8-byte score; index records are empty.
    v.len() == 8
}

fn member_entries(raw: coll::Entries) -> Result<Vec<Entry>, CmdError> {
    raw.into_iter()
        .map(|(sub, v)| match sub.split_first() {
            Some((&MEMBER, m)) => Ok((m.to_vec(), decode_score(&v)?)),
            _ => Err(corrupt()),
        })
        .collect()
}

/// ZRANDMEMBER key [count [WITHSCORES]]: random positions drawn from `t.rng` only;
/// reaching a position walks the members up to it.
fn zrandmember(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    if argv.len() == 2 {
        let Some(meta) = read_zset(t, key)? else {
            return Ok(Frame::Null);
        };
        let pos = t.rng.below(meta.len);
        let picked = coll::nth_entries(t, key, &meta, &[pos], &is_member_record)?;
        let picked = member_entries(picked)?;
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
        member_entries(coll::drawn_entries(
            t,
            key,
            &meta,
            &draws,
            &is_member_record,
        )?)?
    } else if count >= n {
        Span::family(t, key, &meta, Fam::Index).forward(t, 0, u64::MAX)?
    } else {
        let positions = coll::sample_unique(&mut t.rng, n, count);
        member_entries(coll::nth_entries(
            t,
            key,
            &meta,
            &positions,
            &is_member_record,
        )?)?
    };
    Ok(pairs_reply(picked, withscores))
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: the cursor is an offset in member
/// byte order, with the guarantees of `coll::scan_page`. O(cursor + count).
fn zscan(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let cursor = coll::parse_cursor(&argv[2])?;
    let Some(meta) = read_zset(t, key)? else {
        return Ok(coll::scan_reply(0, Vec::new()));
    };
    let o = coll::parse_scan_opts(argv, 3, false)?;
    if cursor >= meta.len {
        return Ok(coll::scan_reply(0, Vec::new()));
    }
    let span = Span::family(t, key, &meta, Fam::Members);
    // One extra record tells whether the walk is over.
    let page = span.forward(t, cursor, o.count.saturating_add(1))?;
    let more = page.len() as u64 > o.count;
    let mut out = Vec::new();
    let mut visited = 0u64;
    for (m, s) in page.into_iter().take(o.count as usize) {
        visited += 1;
        if o.pattern.is_none_or(|p| crate::glob_match(p, &m, false)) {
            out.push(Frame::Bulk(m));
            out.push(Frame::Bulk(resp::format_double(s).into_bytes()));
        }
    }
    let next = if more { cursor + visited } else { 0 };
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
            return Span::family(t, self.key, meta, Fam::Members).forward(t, 0, u64::MAX);
        }
        let mut out = Vec::with_capacity(meta.len.min(1 << 16) as usize);
        coll::scan(t, self.key, meta, &mut |m, _| {
            out.push((m.to_vec(), 1.0));
            true
        })?;
        Ok(out)
    }

    fn find(&self, t: &Txn, member: &[u8]) -> Result<Option<f64>, CmdError> {
        let Some(meta) = &self.meta else {
            return Ok(None);
        };
        if meta.kind == Kind::ZSet {
            return score_of(t, self.key, meta, member);
        }
        Ok(coll::get(t, self.key, meta, member)?.map(|_| 1.0))
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
        e.1 = norm(e.1);
    }
    result.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    match dst {
        Some(dst) => int(store_entries(t, dst, &result)? as i64),
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

// ---- helpers for other modules (GEO, SORT) ------------------------------------------

/// A score argument parsed as Redis's string2d (getDoubleFromObject): None when it is
/// not a valid, finite-or-inf, non-NaN double.
pub(crate) fn parse_double(arg: &[u8]) -> Option<f64> {
    parse_score(arg)
}

/// The live sorted set at `key` (WRONGTYPE if the key holds another type).
pub(crate) fn open_zset(t: &Txn, key: &[u8]) -> Result<Option<Meta>, CmdError> {
    read_zset(t, key)
}

/// `member`'s score, None if it is not in the sorted set.
pub(crate) fn member_score(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    member: &[u8],
) -> Result<Option<f64>, CmdError> {
    score_of(t, key, meta, member)
}

/// Visits the members whose score is inside the range (bounds exclusive as asked),
/// in (score, member) order, as `f(member, score)` until it returns false.
#[allow(clippy::too_many_arguments)]
pub(crate) fn visit_score_range(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
    f: &mut dyn FnMut(&[u8], f64) -> bool,
) -> Result<(), CmdError> {
    let r = ScoreRange {
        min,
        minex,
        max,
        maxex,
    };
    let span = Span::scores(t, key, meta, &r);
    let mut bad = None;
    t.raw_scan(
        Cf::Data,
        &span.start,
        &span.end,
        &mut |k, v| match span.decode(k, v) {
            Ok((m, s)) => f(&m, s),
            Err(e) => {
                bad = Some(e);
                false
            }
        },
    )?;
    match bad {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Members with their scores at ranks `start..=end` (Redis's rank rules, negative =
/// from the end), ascending or, with `rev`, descending.
pub(crate) fn entries_by_rank(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    start: i64,
    end: i64,
    rev: bool,
) -> Result<Vec<(Vec<u8>, f64)>, CmdError> {
    rank_entries(t, key, meta, start, end, rev)
}

/// Replaces whatever `dst` holds with a sorted set of `entries` (unique members),
/// without TTL; an empty list deletes `dst`. Returns the new size.
pub(crate) fn store_zset(
    t: &mut Txn,
    dst: &[u8],
    entries: &[(Vec<u8>, f64)],
) -> Result<u64, CmdError> {
    store_entries(t, dst, entries)
}

/// ZADD with an already built argument vector (`zadd key [options] score member ...`):
/// GEOADD turns its triples into scores and delegates here, as Redis does.
pub(crate) fn zadd_argv(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    zadd_generic(t, argv, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_score() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("no NaN", |f| !f.is_nan()),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            Just(f64::MIN_POSITIVE),
            Just(-f64::MIN_POSITIVE),
            Just(f64::MAX),
            Just(f64::MIN),
            (-1000i32..1000).prop_map(|i| i as f64 / 8.0),
        ]
    }

    proptest! {
        #[test]
        fn sortable_preserves_order(a in any_score(), b in any_score()) {
            let (ea, eb) = (sortable(a), sortable(b));
            prop_assert_eq!(ea.cmp(&eb), a.partial_cmp(&b).unwrap());
            prop_assert_eq!(from_sortable(ea), norm(a));
            prop_assert_eq!(from_sortable(ea).to_bits(), norm(a).to_bits());
        }

        #[test]
        fn midpoint_is_strictly_between(a in proptest::collection::vec(any::<u8>(), 0..8), b in proptest::collection::vec(any::<u8>(), 0..8)) {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            if let Some(m) = midpoint(&a, &b) {
                prop_assert!(a < m && m < b);
            }
        }
    }

    #[test]
    fn zeros_and_infinities() {
        assert_eq!(sortable(-0.0), sortable(0.0));
        assert!(sortable(f64::NEG_INFINITY) < sortable(f64::MIN));
        assert!(sortable(f64::MAX) < sortable(f64::INFINITY));
        assert!(sortable(-f64::MIN_POSITIVE) < sortable(0.0));
        assert!(sortable(0.0) < sortable(f64::MIN_POSITIVE));
        assert_eq!(from_sortable(sortable(f64::INFINITY)), f64::INFINITY);
        assert_eq!(
            from_sortable(sortable(f64::NEG_INFINITY)),
            f64::NEG_INFINITY
        );
    }

    #[test]
    fn midpoint_finds_room_between_neighbours() {
        assert_eq!(midpoint(b"a", b"c"), Some(b"b".to_vec()));
        assert_eq!(midpoint(b"a", b"b"), Some(vec![b'a', 0x80]));
        assert!(midpoint(b"a", b"a\0").is_none());
    }

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
