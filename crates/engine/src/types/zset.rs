//! Records of the sorted-set type (geo sets are sorted sets too): the key's meta record
//! (kind ZSet, `len` = member count) plus, per member, a member record holding its
//! score and a score-index record ordered by (score, member); the bytes are
//! `keys::zset`'s. This module opens sorted sets (with the type check), reads a
//! member's score, puts and deletes members (both records), walks spans of records
//! (score ranges, lex ranges, ranks, from either end), stores whole sets, and asks the
//! memory tier (`crate::tier`) for the decoded score index when it can answer a rank
//! question in O(log n). `cmd/zset.rs`, `cmd/geo.rs` and `cmd/sort.rs` build their
//! commands on top.
//!
//! Writes are O(1) records per member: adding one writes its two records and the meta,
//! changing a score also deletes the old index record; DEL drops the meta and the
//! version's records with one range delete (point deletes for a few).
//!
//! The store iterates forward only, so reading from the high end (ZREVRANGE, ZPOPMAX,
//! ranks counted from the end) uses [`Span::tail`], which finds the last k records with
//! O(log) bounded forward probes instead of a full walk.
//!
//! The memory tier: a set of at least `tier::MIN_CACHED_LEN` members that a rank
//! operation touches gets a decoded copy of its score index (a [`RankIndex`] of index
//! entries), kept in step with every write by the state machine ([`crate::tier::Tier::observe`]).
//! A set this transaction changed is read from its records (the tier holds committed
//! state only).

use crate::coll;
use crate::error::CmdError;
use crate::tier::RankIndex;
use crate::txn::Txn;
use ::keys::zset::{
    decode_entry, decode_index_key, decode_member_key, decode_member_sub, decode_member_value,
    encode_member_value, index_entry, index_key, index_position, index_range, is_member_value,
    member_key, member_key_after, members_range, score_range, IndexPosition,
};
use ::keys::{Cf, Kind, Meta};

pub(crate) use ::keys::zset::normalize;

/// A member and its score.
pub(crate) type Entry = (Vec<u8>, f64);

/// A score range; each bound exclusive or not.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScoreRange {
    pub min: f64,
    pub minex: bool,
    pub max: f64,
    pub maxex: bool,
}

/// A lex range bound: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug)]
pub(crate) enum Lex {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

fn corrupt() -> CmdError {
    CmdError::storage("corrupt sorted set record")
}

// ---- the set and its members ----------------------------------------------------------

/// The live sorted set at `key` (WRONGTYPE if the key holds another type).
#[inline]
pub(crate) fn open(t: &Txn, key: &[u8]) -> Result<Option<Meta>, CmdError> {
    t.get_kind(key, Kind::ZSet)
}

/// A new empty sorted set (fresh version), saved by [`save`] once it has members.
#[inline]
pub(crate) fn create(t: &mut Txn) -> Meta {
    t.new_meta(Kind::ZSet, Vec::new())
}

/// Persists `meta` after its members changed; a set left empty is deleted.
#[inline]
pub(crate) fn save(t: &mut Txn, key: &[u8], meta: Meta) -> Result<(), CmdError> {
    coll::save(t, key, meta)
}

/// `member`'s score, None if it is not in the set.
#[inline]
pub(crate) fn score(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    member: &[u8],
) -> Result<Option<f64>, CmdError> {
    match t.raw_get(Cf::Data, &member_key(t.db, key, meta.version, member))? {
        None => Ok(None),
        Some(raw) => Ok(Some(decode_member_value(&raw).ok_or_else(corrupt)?)),
    }
}

/// Sets `member`'s score (stored normalised); `old` is its current score (None = a new
/// member, `len` grows by one).
#[inline]
pub(crate) fn put(
    t: &mut Txn,
    key: &[u8],
    meta: &mut Meta,
    member: &[u8],
    score: f64,
    old: Option<f64>,
) {
    let score = normalize(score);
    if let Some(old) = old {
        t.raw_delete(Cf::Data, index_key(t.db, key, meta.version, old, member));
    }
    let k = member_key(t.db, key, meta.version, member);
    t.raw_put(Cf::Data, k, encode_member_value(score).to_vec());
    if old.is_none() {
        meta.len += 1;
    }
    t.raw_put(
        Cf::Data,
        index_key(t.db, key, meta.version, score, member),
        Vec::new(),
    );
}

/// Removes a member known to have `score`.
#[inline]
pub(crate) fn delete(t: &mut Txn, key: &[u8], meta: &mut Meta, member: &[u8], score: f64) {
    t.raw_delete(Cf::Data, member_key(t.db, key, meta.version, member));
    meta.len = meta.len.saturating_sub(1);
    t.raw_delete(Cf::Data, index_key(t.db, key, meta.version, score, member));
}

/// Removes `entries` (all present) and saves; dropping every member deletes the key
/// (O(1) records).
pub(crate) fn remove_entries(
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
        delete(t, key, &mut meta, m, *s);
    }
    save(t, key, meta)
}

/// Replaces whatever `dst` holds with a sorted set of `entries` (unique members),
/// without TTL; an empty list deletes `dst`. Returns the new size.
pub(crate) fn store(t: &mut Txn, dst: &[u8], entries: &[Entry]) -> Result<u64, CmdError> {
    if entries.is_empty() {
        t.delete_key(dst)?;
        return Ok(0);
    }
    let mut meta = create(t);
    for (m, s) in entries {
        put(t, dst, &mut meta, m, *s, None);
    }
    let n = meta.len;
    save(t, dst, meta)?;
    Ok(n)
}

// ---- spans of records -----------------------------------------------------------------

/// Which family a span walks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fam {
    Index,
    Members,
}

/// `[start, end)` of raw `data` keys inside one family of one sorted set: index spans
/// walk (score, member) order, member spans member byte order.
pub(crate) struct Span {
    fam: Fam,
    start: Vec<u8>,
    end: Vec<u8>,
}

/// Upper bound on bisection probes in [`Span::tail`] before it falls back to a walk.
const MAX_PROBES: usize = 256;

impl Span {
    /// The whole score index.
    pub(crate) fn index(t: &Txn, key: &[u8], meta: &Meta) -> Span {
        let (start, end) = index_range(t.db, key, meta.version);
        Span {
            fam: Fam::Index,
            start,
            end,
        }
    }

    /// Every member record.
    pub(crate) fn members(t: &Txn, key: &[u8], meta: &Meta) -> Span {
        let (start, end) = members_range(t.db, key, meta.version);
        Span {
            fam: Fam::Members,
            start,
            end,
        }
    }

    /// Index records whose score is inside `r`.
    pub(crate) fn scores(t: &Txn, key: &[u8], meta: &Meta, r: &ScoreRange) -> Span {
        let (start, end) = score_range(t.db, key, meta.version, (r.min, r.minex), (r.max, r.maxex));
        Span {
            fam: Fam::Index,
            start,
            end,
        }
    }

    /// Member records inside a lex range.
    pub(crate) fn lex(t: &Txn, key: &[u8], meta: &Meta, min: &Lex, max: &Lex) -> Span {
        let (first, last) = members_range(t.db, key, meta.version);
        let bound = |b: &Lex, upper: bool| match (b, upper) {
            (Lex::Min, _) => first.clone(),
            (Lex::Max, _) => last.clone(),
            (Lex::Incl(m), false) | (Lex::Excl(m), true) => member_key(t.db, key, meta.version, m),
            (Lex::Incl(m), true) | (Lex::Excl(m), false) => {
                member_key_after(t.db, key, meta.version, m)
            }
        };
        Span {
            fam: Fam::Members,
            start: bound(min, false),
            end: bound(max, true),
        }
    }

    fn decode(&self, k: &[u8], v: &[u8]) -> Result<Entry, CmdError> {
        match self.fam {
            Fam::Index => decode_index_key(k).map(|(s, m)| (m.to_vec(), s)),
            Fam::Members => {
                decode_member_key(k).and_then(|m| Some((m.to_vec(), decode_member_value(v)?)))
            }
        }
        .ok_or_else(corrupt)
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
    fn tier_rank(ix: &RankIndex, bound: &[u8]) -> u64 {
        match index_position(bound) {
            Some(IndexPosition::At(entry)) => ix.rank(entry),
            Some(IndexPosition::Before) => 0,
            Some(IndexPosition::After) | None => ix.len(),
        }
    }

    /// Ranks `[start, end)` the span covers in the tier's copy (index spans only).
    fn tier_ranks(&self, ix: &RankIndex) -> (u64, u64) {
        let a = Span::tier_rank(ix, &self.start);
        let b = Span::tier_rank(ix, &self.end);
        (a, b.max(a))
    }

    /// Number of records in the span (a walk).
    pub(crate) fn count(&self, t: &Txn) -> Result<u64, CmdError> {
        Span::count_between(t, &self.start, &self.end)
    }

    /// Skips `skip` records, then returns up to `take`, in order.
    pub(crate) fn forward(&self, t: &Txn, skip: u64, take: u64) -> Result<Vec<Entry>, CmdError> {
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
    pub(crate) fn tail(&self, t: &Txn, k: u64) -> Result<Vec<Entry>, CmdError> {
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

// ---- the memory tier --------------------------------------------------------------------

/// Runs `f` on the decoded score index of the sorted set from the memory tier, when the
/// tier has (or can now build) a copy that is exactly what `t` sees. None means: walk
/// the records. Sets below the tier's minimum length (`tier::MIN_CACHED_LEN` by
/// default) are never built; a set this transaction changed is read from its records
/// (the tier holds committed state only).
fn ranked<R>(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    f: impl Fn(&RankIndex) -> R,
) -> Result<Option<R>, CmdError> {
    let Some((tier, generation)) = t.tier() else {
        return Ok(None);
    };
    let prefix = ::keys::data_prefix(t.db, key, meta.version);
    if t.wrote_within(Cf::Data, &prefix, &coll::prefix_end(&prefix)) {
        return Ok(None);
    }
    if let Some(r) = tier.with(t.db, key, meta, &f) {
        return Ok(Some(r));
    }
    if meta.len < tier.min_len() {
        return Ok(None);
    }
    let mut items: Vec<Box<[u8]>> = Vec::with_capacity(usize::try_from(meta.len).unwrap_or(0));
    let (start, end) = index_range(t.db, key, meta.version);
    t.raw_scan(Cf::Data, &start, &end, &mut |k, _| {
        items.push(index_entry(k).unwrap_or_default().into());
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

/// Entries at ranks `from..to` of the tier's copy.
fn tier_range(ix: &RankIndex, from: u64, to: u64) -> Result<Vec<Entry>, CmdError> {
    ix.range(from, to)
        .into_iter()
        .map(|e| {
            decode_entry(e)
                .map(|(s, m)| (m.to_vec(), s))
                .ok_or_else(corrupt)
        })
        .collect()
}

// ---- ranks and ranges -------------------------------------------------------------------

/// The rank of `member` (whose score is `score`), counted from the low end or, with
/// `rev`, the high end: O(log n) from the memory tier, else a walk of the index from
/// that end up to the member.
pub(crate) fn rank(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    member: &[u8],
    score: f64,
    rev: bool,
) -> Result<u64, CmdError> {
    let at = index_key(t.db, key, meta.version, score, member);
    let cached = ranked(t, key, meta, |ix| {
        index_entry(&at).map_or(0, |e| ix.rank(e))
    })?;
    if let Some(r) = cached {
        return Ok(if rev {
            meta.len.saturating_sub(1).saturating_sub(r)
        } else {
            r
        });
    }
    let span = Span::index(t, key, meta);
    Ok(if rev {
        Span::count_between(t, &at, &span.end)?.saturating_sub(1)
    } else {
        Span::count_between(t, &span.start, &at)?
    })
}

/// Number of members whose score is inside `r`: O(log n) from the memory tier, else a
/// walk of the range.
pub(crate) fn count_scores(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    r: &ScoreRange,
) -> Result<u64, CmdError> {
    let span = Span::scores(t, key, meta, r);
    if let Some((a, b)) = ranked(t, key, meta, |ix| span.tier_ranks(ix))? {
        return Ok(b - a);
    }
    span.count(t)
}

/// Forward positions `lo..=hi` (0 <= lo <= hi < n) of the whole index, reading from
/// whichever end is nearer.
fn by_rank(t: &Txn, key: &[u8], meta: &Meta, lo: u64, hi: u64) -> Result<Vec<Entry>, CmdError> {
    if let Some(v) = ranked(t, key, meta, |ix| tier_range(ix, lo, hi + 1))? {
        return v;
    }
    let span = Span::index(t, key, meta);
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

/// Members with their scores at ranks `start..=end` (Redis's rank rules, negative =
/// from the end), ascending or, with `rev`, descending.
pub(crate) fn rank_entries(
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
/// to `limit` (negative = all). A negative offset yields nothing (Redis 7). Index spans
/// use the memory tier when it can answer.
pub(crate) fn limited(
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

/// Visits the members whose score is inside `r`, in (score, member) order, as
/// `f(member, score)` until it returns false.
pub(crate) fn visit_score_range(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    r: &ScoreRange,
    f: &mut dyn FnMut(&[u8], f64) -> bool,
) -> Result<(), CmdError> {
    let span = Span::scores(t, key, meta, r);
    let mut bad = false;
    t.raw_scan(
        Cf::Data,
        &span.start,
        &span.end,
        &mut |k, _| match decode_index_key(k) {
            Some((s, m)) => f(m, s),
            None => {
                bad = true;
                false
            }
        },
    )?;
    if bad {
        return Err(corrupt());
    }
    Ok(())
}

/// Removes and returns up to `count` members from the low (or high, `max`) end, in
/// pop order. O(count) (plus O(log) probes from the high end).
pub(crate) fn pop(
    t: &mut Txn,
    key: &[u8],
    meta: Meta,
    max: bool,
    count: u64,
) -> Result<Vec<Entry>, CmdError> {
    let k = count.min(meta.len);
    let span = Span::index(t, key, &meta);
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

// ---- random picks -----------------------------------------------------------------------

fn member_entries(raw: coll::Entries) -> Result<Vec<Entry>, CmdError> {
    raw.into_iter()
        .map(|(sub, v)| {
            let m = decode_member_sub(&sub).ok_or_else(corrupt)?;
            Ok((m.to_vec(), decode_member_value(&v).ok_or_else(corrupt)?))
        })
        .collect()
}

/// The members at `positions` (ascending, unique) in member byte order: one pass.
pub(crate) fn nth_members(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    positions: &[u64],
) -> Result<Vec<Entry>, CmdError> {
    member_entries(coll::nth_entries(
        t,
        key,
        meta,
        positions,
        &is_member_value,
    )?)
}

/// The members at `draws` (positions in any order, repeats allowed), in draw order.
pub(crate) fn drawn_members(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    draws: &[u64],
) -> Result<Vec<Entry>, CmdError> {
    member_entries(coll::drawn_entries(t, key, meta, draws, &is_member_value)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn midpoint_is_strictly_between(a in proptest::collection::vec(any::<u8>(), 0..8), b in proptest::collection::vec(any::<u8>(), 0..8)) {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            if let Some(m) = midpoint(&a, &b) {
                prop_assert!(a < m && m < b);
            }
        }
    }

    #[test]
    fn midpoint_finds_room_between_neighbours() {
        assert_eq!(midpoint(b"a", b"c"), Some(b"b".to_vec()));
        assert_eq!(midpoint(b"a", b"b"), Some(vec![b'a', 0x80]));
        assert!(midpoint(b"a", b"a\0").is_none());
    }
}
