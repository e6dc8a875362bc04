//! Shared plumbing of the collection types (hash, set, ...).
//!
//! A collection is its key's meta record (kind, `version`, `len`) plus one `data`
//! record per element at `keys::data_key(db, key, meta.version, sub)`, `sub` being the
//! field or member. Writing one element writes O(1) records: the element and the meta
//! (its `len` and write index). Dropping the collection (DEL, overwrite) only touches
//! the meta, plus the deletion of the old version's records: point deletes for a few,
//! else one range delete over the version's prefix (`Txn::delete_key`), O(1) records
//! either way; RocksDB reclaims the space when it compacts.
//! An empty collection never exists: [`save`] deletes a key whose `len` reached 0.
//!
//! Everything here works on the current `t.db` and sees the transaction's own pending
//! writes, so a command may read back what it just wrote.

use crate::args;
use crate::error::CmdError;
use crate::rng::Rng;
use crate::txn::Txn;
use crate::Frame;
use keys::{Cf, Kind, Meta};
use std::collections::BTreeSet;

/// Elements as (sub key, stored value).
pub(crate) type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Exclusive upper bound of the keys starting with `prefix`.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Only an all-0xff prefix gets here; data prefixes start with the db number
    // (< 16), so this is never reached. Fall back to "everything after".
    vec![0xff; prefix.len() + 1]
}

fn sub_key(t: &Txn, key: &[u8], meta: &Meta, sub: &[u8]) -> Vec<u8> {
    keys::data_key(t.db, key, meta.version, sub)
}

/// The stored value of element `sub`, if present.
pub(crate) fn get(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    sub: &[u8],
) -> Result<Option<Vec<u8>>, CmdError> {
    Ok(t.raw_get(Cf::Data, &sub_key(t, key, meta, sub))?)
}

/// Writes element `sub`; `is_new` says it was absent, so `len` grows by one.
pub(crate) fn put(
    t: &mut Txn,
    key: &[u8],
    meta: &mut Meta,
    sub: &[u8],
    value: Vec<u8>,
    is_new: bool,
) {
    let k = sub_key(t, key, meta, sub);
    t.raw_put(Cf::Data, k, value);
    if is_new {
        meta.len += 1;
    }
}

/// Removes element `sub`, which the caller knows to be present.
pub(crate) fn remove(t: &mut Txn, key: &[u8], meta: &mut Meta, sub: &[u8]) {
    let k = sub_key(t, key, meta, sub);
    t.raw_delete(Cf::Data, k);
    meta.len = meta.len.saturating_sub(1);
}

/// Visits the elements in sub-key (byte) order as `f(sub, value)` until it returns
/// false.
pub(crate) fn scan(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), CmdError> {
    let prefix = keys::data_prefix(t.db, key, meta.version);
    let end = prefix_end(&prefix);
    t.raw_scan(Cf::Data, &prefix, &end, &mut |k, v| {
        // Every key in the range carries the prefix, so it always decodes.
        match keys::decode_data_key(k) {
            Some((_, _, _, sub)) => f(sub, v),
            None => true,
        }
    })?;
    Ok(())
}

/// The live collection at `key`, or a new empty one (fresh version, not yet saved).
/// WRONGTYPE if the key holds another type.
pub(crate) fn open_or_create(t: &mut Txn, key: &[u8], kind: Kind) -> Result<Meta, CmdError> {
    Ok(match t.get_kind(key, kind)? {
        Some(m) => m,
        None => t.new_meta(kind, Vec::new()),
    })
}

/// Persists `meta` after its elements changed; a collection left empty is deleted.
/// The key's TTL travels in `meta` untouched.
pub(crate) fn save(t: &mut Txn, key: &[u8], meta: Meta) -> Result<(), CmdError> {
    if meta.len == 0 {
        t.delete_key(key)?;
    } else {
        t.put_meta(key, meta)?;
    }
    Ok(())
}

/// Replaces whatever `key` holds with a collection of `kind` made of `items` (sorted,
/// unique sub keys), without TTL; an empty result deletes the key. The *STORE commands.
/// Returns the new element count.
pub(crate) fn store_new(
    t: &mut Txn,
    key: &[u8],
    kind: Kind,
    items: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
) -> Result<u64, CmdError> {
    let mut meta = t.new_meta(kind, Vec::new());
    for (sub, value) in items {
        put(t, key, &mut meta, &sub, value, true);
    }
    let n = meta.len;
    save(t, key, meta)?;
    Ok(n)
}

// ---- random picks ---------------------------------------------------------------------

/// `k` distinct positions out of `0..n` (k <= n), ascending. Floyd's algorithm: k draws
/// from `rng`, so every replica picks the same ones.
pub(crate) fn sample_unique(rng: &mut Rng, n: u64, k: u64) -> Vec<u64> {
    let k = k.min(n);
    let mut picked = BTreeSet::new();
    for j in n - k..n {
        let r = rng.below(j + 1);
        if !picked.insert(r) {
            picked.insert(j);
        }
    }
    picked.into_iter().collect()
}

/// `k` positions out of `0..n` drawn with replacement, in draw order.
pub(crate) fn sample_repeat(rng: &mut Rng, n: u64, k: u64) -> Vec<u64> {
    (0..k).map(|_| rng.below(n)).collect()
}

/// The elements at `positions` (ascending, unique), counting only the elements whose
/// value `keep` accepts. One pass over the collection, stopping after the last one.
pub(crate) fn nth_entries(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    positions: &[u64],
    keep: &dyn Fn(&[u8]) -> bool,
) -> Result<Entries, CmdError> {
    let mut out = Vec::with_capacity(positions.len());
    if positions.is_empty() {
        return Ok(out);
    }
    let mut at = 0u64;
    let mut next = 0usize;
    scan(t, key, meta, &mut |s, v| {
        if !keep(v) {
            return true;
        }
        if at == positions[next] {
            out.push((s.to_vec(), v.to_vec()));
            next += 1;
        }
        at += 1;
        next < positions.len()
    })?;
    Ok(out)
}

/// Elements for a draw with repeats: `draws` are positions (any order, repeats
/// allowed) among the kept elements; the reply follows the draw order.
pub(crate) fn drawn_entries(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    draws: &[u64],
    keep: &dyn Fn(&[u8]) -> bool,
) -> Result<Entries, CmdError> {
    let wanted: Vec<u64> = draws
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let found = nth_entries(t, key, meta, &wanted, keep)?;
    // The reply repeats elements, so a small request over large elements could ask for
    // terabytes: bound what it would hold before building it.
    let mut bytes = 0u64;
    for d in draws {
        if let Ok(i) = wanted.binary_search(d) {
            if let Some((s, v)) = found.get(i) {
                bytes += (s.len() + v.len() + DRAWN_ENTRY_OVERHEAD) as u64;
                if bytes > MAX_DRAWN_BYTES {
                    return Err(CmdError::new(format!(
                        "ERR value is out of range, count with repetitions would build a reply over {} MB",
                        MAX_DRAWN_BYTES >> 20
                    )));
                }
            }
        }
    }
    let mut out = Vec::with_capacity(draws.len());
    for d in draws {
        if let Ok(i) = wanted.binary_search(d) {
            if let Some(e) = found.get(i) {
                out.push(e.clone());
            }
        }
    }
    Ok(out)
}

/// What a draw with repeats may hold for its reply (as proto-max-bulk-len bounds a value).
const MAX_DRAWN_BYTES: u64 = 512 << 20;
/// Memory per drawn element beyond its bytes (two vectors, then two reply frames).
const DRAWN_ENTRY_OVERHEAD: usize = 64;

/// The most elements a negative-count random draw (SRANDMEMBER, HRANDFIELD) may ask
/// for. Redis streams any count; here the reply is built in memory, and an absurd
/// count must not exhaust it (a read inside MULTI runs on the apply path).
pub(crate) const MAX_RANDOM_REPEATS: u64 = 1 << 24;

pub(crate) fn check_repeats(count: u64) -> Result<(), CmdError> {
    if count > MAX_RANDOM_REPEATS {
        Err(CmdError::new(format!(
            "ERR value is out of range, count with repetitions must be at most {MAX_RANDOM_REPEATS}"
        )))
    } else {
        Ok(())
    }
}

/// The COUNT of SRANDMEMBER/HRANDFIELD: Redis's getRangeLongFromObjectOrReply with
/// the range -LONG_MAX..LONG_MAX and no custom message.
pub(crate) fn parse_count(arg: &[u8]) -> Result<i64, CmdError> {
    let v = args::parse_i64(arg)?;
    if v == i64::MIN {
        return Err(CmdError::new(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    Ok(v)
}

// ---- HSCAN / SSCAN --------------------------------------------------------------------

/// The cursor of HSCAN/SSCAN (Redis's string2ull: a u64 in decimal).
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::new("ERR invalid cursor");
    if arg.is_empty() || arg.len() > 20 || !arg.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(invalid)
}

/// Options of HSCAN/SSCAN after the cursor (Redis's scanGenericCommand).
pub(crate) struct ScanOpts<'a> {
    pub count: u64,
    pub pattern: Option<&'a [u8]>,
    pub novalues: bool,
}

pub(crate) fn parse_scan_opts(
    argv: &[Vec<u8>],
    from: usize,
    is_hash: bool,
) -> Result<ScanOpts<'_>, CmdError> {
    let mut o = ScanOpts {
        count: 10,
        pattern: None,
        novalues: false,
    };
    let mut i = from;
    while i < argv.len() {
        let more = argv.len() - i >= 2;
        if args::is(&argv[i], "count") && more {
            let c = args::parse_i64(&argv[i + 1])?;
            if c < 1 {
                return Err(CmdError::syntax());
            }
            o.count = c as u64;
            i += 2;
        } else if args::is(&argv[i], "match") && more {
            let p = argv[i + 1].as_slice();
            o.pattern = (p != b"*").then_some(p);
            i += 2;
        } else if args::is(&argv[i], "novalues") {
            if !is_hash {
                return Err(CmdError::new(
                    "ERR NOVALUES option can only be used in HSCAN",
                ));
            }
            o.novalues = true;
            i += 1;
        } else {
            return Err(CmdError::syntax());
        }
    }
    Ok(o)
}

/// Where an element sits in the order HSCAN/SSCAN/ZSCAN walk: a fixed 64-bit hash of
/// its sub key (FNV-1a, then a 64-bit finalizer), the same on every node and version.
pub(crate) fn scan_hash(sub: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in sub {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A candidate of a scan page; ordered by (hash, sub key), which is unique.
struct Cand<T>(u64, Vec<u8>, T);

impl<T> PartialEq for Cand<T> {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0 && self.1 == o.1
    }
}
impl<T> Eq for Cand<T> {}
impl<T> PartialOrd for Cand<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Cand<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, &self.1).cmp(&(o.0, &o.1))
    }
}

/// Picks one scan page from a walk over every element: the `count` elements with the
/// smallest (hash, sub key) among those whose hash is at least the cursor.
pub(crate) struct PageSel<T> {
    cursor: u64,
    count: usize,
    heap: std::collections::BinaryHeap<Cand<T>>,
    /// Smallest hash of an element at or past the cursor left out of the page.
    next: Option<u64>,
}

/// What [`PageSel::finish`] decided.
pub(crate) enum PageEnd {
    /// The next cursor (0: the walk is over).
    Next(u64),
    /// More than `count` elements share the hash `h` the page starts at: the page must
    /// hold all of them (walk again with [`PageSel::ties`]).
    Ties(u64),
}

impl<T> PageSel<T> {
    pub(crate) fn new(cursor: u64, count: u64) -> PageSel<T> {
        PageSel {
            cursor,
            count: count.clamp(1, 1 << 20) as usize,
            heap: std::collections::BinaryHeap::new(),
            next: None,
        }
    }

    fn leave_out(&mut self, h: u64) {
        self.next = Some(self.next.map_or(h, |n| n.min(h)));
    }

    /// Offers one element; `val` is only made when it may be in the page.
    pub(crate) fn offer(&mut self, sub: &[u8], val: impl FnOnce() -> T) {
        let h = scan_hash(sub);
        if h < self.cursor {
            return;
        }
        if self.heap.len() == self.count {
            let top = self.heap.peek().map(|c| (c.0, c.1.as_slice()));
            if top.is_some_and(|top| (h, sub) > top) {
                self.leave_out(h);
                return;
            }
        }
        self.heap.push(Cand(h, sub.to_vec(), val()));
        if self.heap.len() > self.count {
            if let Some(c) = self.heap.pop() {
                self.leave_out(c.0);
            }
        }
    }

    /// The page in walk order, and the next cursor. Every element left out has a
    /// hash of at least the page's largest; the next cursor is the smallest of them,
    /// so an element present for the whole iteration is never skipped, whatever is
    /// added or removed meanwhile (one sharing the largest hash may come twice).
    pub(crate) fn finish(self) -> (Vec<(Vec<u8>, T)>, PageEnd) {
        let page = self.heap.into_sorted_vec();
        let first = page.first().map(|c| c.0);
        let end = match (self.next, first) {
            (None, _) => PageEnd::Next(0),
            // Every element in the page shares the hash of one left out: no progress
            // unless the page takes them all.
            (Some(n), Some(f)) if n == f => PageEnd::Ties(n),
            (Some(n), _) => PageEnd::Next(n),
        };
        (page.into_iter().map(|c| (c.1, c.2)).collect(), end)
    }

    /// For [`PageEnd::Ties`]: a selector of every element whose hash is `h`, with the
    /// next cursor the smallest hash above it.
    pub(crate) fn ties(h: u64) -> TieSel<T> {
        TieSel {
            h,
            page: Vec::new(),
            next: None,
        }
    }
}

pub(crate) struct TieSel<T> {
    h: u64,
    page: Vec<(Vec<u8>, T)>,
    next: Option<u64>,
}

impl<T> TieSel<T> {
    pub(crate) fn offer(&mut self, sub: &[u8], val: impl FnOnce() -> T) {
        let h = scan_hash(sub);
        if h == self.h {
            self.page.push((sub.to_vec(), val()));
        } else if h > self.h {
            self.next = Some(self.next.map_or(h, |n| n.min(h)));
        }
    }

    pub(crate) fn finish(self) -> (Vec<(Vec<u8>, T)>, u64) {
        (self.page, self.next.unwrap_or(0))
    }
}

/// A page's elements in sub-key order (a collection that fits one page comes back in
/// the order the other commands list it).
pub(crate) fn sorted<T>(mut page: Vec<(Vec<u8>, T)>) -> Vec<(Vec<u8>, T)> {
    page.sort_by(|a, b| a.0.cmp(&b.0));
    page
}

/// One page of HSCAN/SSCAN (ZSCAN uses [`PageSel`] the same way). The cursor is a
/// position in hash order ([`scan_hash`] of the sub key): a page holds up to `count`
/// elements (MATCH filtering comes after, as in Redis) with the smallest hashes at or
/// past the cursor, each handed to `f(sub, value)` in sub-key order; it returns the next
/// cursor (the smallest hash left out), 0 once the end is reached.
///
/// Stateless and identical on every replica. As Redis guarantees, an element present
/// for the whole iteration is returned (at least once) however many others are added
/// or removed meanwhile, since positions in hash order never shift. Each page walks
/// the whole collection: O(n log count), so a full iteration is O(n²/count).
pub(crate) fn scan_page(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    cursor: u64,
    count: u64,
    f: &mut dyn FnMut(&[u8], &[u8]),
) -> Result<u64, CmdError> {
    let mut sel = PageSel::new(cursor, count);
    scan(t, key, meta, &mut |s, v| {
        sel.offer(s, || v.to_vec());
        true
    })?;
    let (page, end) = sel.finish();
    let (page, next) = match end {
        PageEnd::Next(n) => (page, n),
        PageEnd::Ties(h) => {
            let mut ties = PageSel::<Vec<u8>>::ties(h);
            scan(t, key, meta, &mut |s, v| {
                ties.offer(s, || v.to_vec());
                true
            })?;
            ties.finish()
        }
    };
    for (s, v) in sorted(page) {
        f(&s, &v);
    }
    Ok(next)
}

/// `[cursor, [items...]]`, the reply shape of every SCAN variant.
pub(crate) fn scan_reply(cursor: u64, items: Vec<Frame>) -> Frame {
    Frame::Array(vec![
        Frame::Bulk(cursor.to_string().into_bytes()),
        Frame::Array(items),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(&[1, 2, 3]), vec![1, 2, 4]);
        assert_eq!(prefix_end(&[1, 2, 0xff]), vec![1, 3]);
        assert_eq!(prefix_end(&[1, 0xff, 0xff]), vec![2]);
    }

    #[test]
    fn samples_are_unique_sorted_and_seeded() {
        for (n, k) in [(10u64, 10u64), (10, 3), (1000, 999), (5, 0), (1, 1)] {
            let a = sample_unique(&mut Rng::new(7), n, k);
            let b = sample_unique(&mut Rng::new(7), n, k);
            assert_eq!(a, b);
            assert_eq!(a.len() as u64, k);
            assert!(a.windows(2).all(|w| w[0] < w[1]));
            assert!(a.iter().all(|&p| p < n));
        }
        let r = sample_repeat(&mut Rng::new(1), 3, 100);
        assert_eq!(r.len(), 100);
        assert!(r.iter().all(|&p| p < 3));
    }
}
