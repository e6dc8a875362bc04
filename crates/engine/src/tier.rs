//! The memory tier: decoded copies of hot collections, kept in step with the state
//! machine, so the operations Redis answers from an in-memory structure in O(log n)
//! are O(log n) here too instead of a walk over RocksDB records.
//!
//! Today it holds the score index of large sorted sets as a [`RankIndex`] (an
//! order-statistics structure over the index records' entries, `keys::zset`'s
//! layout; `types::zset` reads and builds the copies), which makes ZRANK,
//! ZREVRANK, ZCOUNT, ZRANGE by rank and ZRANGEBYSCORE's LIMIT offset O(log n) (+ the
//! members returned). RocksDB stays the whole truth: the tier is a cache, dropped on any
//! doubt and rebuilt on the next access.
//!
//! ## Staying exact
//!
//! Every cached set carries the stamp `(version, write_index)` of the key's meta record
//! it reflects. A meta record's `write_index` is the log index of the key's last write,
//! so a stamp names exactly one content of the set. A reader uses the cache only when
//! the meta record it sees (in its snapshot, or through its transaction's own writes)
//! has the same stamp; otherwise it reads RocksDB as before.
//!
//! The state machine hands the tier every entry's [`Effects`] right after writing them
//! ([`Tier::observe`]): index records put or deleted under a cached version are inserted
//! into or removed from the copy, and the stamp follows the meta record written in the
//! same effects. A new version, a deleted meta record or a range delete over the key
//! drops the copy. Inserts and removals are idempotent set operations, which is what
//! makes building a copy from a snapshot safe while entries are being applied:
//!
//! - [`Tier::generation`] counts observed entries. A reader reads it *before* taking its
//!   snapshot and may insert a copy built from that snapshot only if the generation is
//!   still the same when it inserts ([`Tier::insert`], under the lock).
//! - The state machine writes an entry, then observes it, one entry at a time; so such
//!   a snapshot reflects either the observed state or the observed state plus the one
//!   entry written but not yet observed. Observing that entry afterwards re-applies its
//!   changes, which leaves the copy as it was (each record's last write wins).
//!
//! Memory is bounded by a byte budget; the least recently used copies go first.

use crate::store::{Effects, Write};
use keys::{Cf, Kind, Meta};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Sets smaller than this are cheap enough to walk and are not cached.
pub const MIN_CACHED_LEN: u64 = 128;

/// Default byte budget of the tier.
pub const DEFAULT_BUDGET: usize = 256 << 20;

/// Target chunk length of a [`RankIndex`]; a chunk splits at twice this.
const CHUNK: usize = 512;

/// Bookkeeping bytes counted per element besides its own bytes.
const PER_ELEMENT: usize = 32;

/// A sorted set of byte strings with O(log n) rank and select: sorted chunks of at
/// most `2 * CHUNK` elements and a Fenwick tree over the chunk lengths.
#[derive(Debug, Default, Clone)]
pub struct RankIndex {
    chunks: Vec<Vec<Box<[u8]>>>,
    fenwick: Vec<u64>,
    len: u64,
    bytes: usize,
}

impl RankIndex {
    /// Builds from elements already in ascending order without duplicates.
    pub fn from_sorted(items: Vec<Box<[u8]>>) -> RankIndex {
        let mut r = RankIndex::default();
        r.len = items.len() as u64;
        r.bytes = items.iter().map(|k| k.len() + PER_ELEMENT).sum();
        let mut it = items.into_iter().peekable();
        while it.peek().is_some() {
            r.chunks.push(it.by_ref().take(CHUNK).collect());
        }
        r.rebuild();
        r
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Approximate heap bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes + self.chunks.len() * 32
    }

    fn rebuild(&mut self) {
        let n = self.chunks.len();
        self.fenwick = vec![0; n + 1];
        for i in 0..n {
            self.fen_add(i, self.chunks[i].len() as i64);
        }
    }

    fn fen_add(&mut self, chunk: usize, delta: i64) {
        let mut i = chunk + 1;
        while i < self.fenwick.len() {
            self.fenwick[i] = (self.fenwick[i] as i64 + delta) as u64;
            i += i & i.wrapping_neg();
        }
    }

    /// Elements in chunks `0..chunk`.
    fn before_chunk(&self, chunk: usize) -> u64 {
        let mut i = chunk;
        let mut sum = 0;
        while i > 0 {
            sum += self.fenwick[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }

    /// The chunk that holds (or would hold) `key`: the last one whose first element is
    /// <= key, or 0.
    fn chunk_for(&self, key: &[u8]) -> usize {
        self.chunks
            .partition_point(|c| c.first().is_some_and(|f| &**f <= key))
            .saturating_sub(1)
    }

    /// Number of elements strictly less than `key`.
    pub fn rank(&self, key: &[u8]) -> u64 {
        if self.chunks.is_empty() {
            return 0;
        }
        let c = self.chunk_for(key);
        let within = self.chunks[c].partition_point(|e| &**e < key);
        self.before_chunk(c) + within as u64
    }

    /// True if `key` is present.
    pub fn contains(&self, key: &[u8]) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        self.chunks[self.chunk_for(key)]
            .binary_search_by(|e| (**e).cmp(key))
            .is_ok()
    }

    /// (chunk, offset) of rank `r` (< len).
    fn locate(&self, r: u64) -> (usize, usize) {
        // Fenwick descent: the largest prefix of chunks holding <= r elements.
        let n = self.chunks.len();
        let mut pos = 0usize;
        let mut rem = r;
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= n && self.fenwick[next] <= rem {
                pos = next;
                rem -= self.fenwick[next];
            }
            step >>= 1;
        }
        (pos, rem as usize)
    }

    /// Elements at ranks `from..to` (clamped to len), in order.
    pub fn range(&self, from: u64, to: u64) -> Vec<&[u8]> {
        let to = to.min(self.len);
        if from >= to {
            return Vec::new();
        }
        let mut out = Vec::with_capacity((to - from) as usize);
        let (mut c, mut o) = self.locate(from);
        while (out.len() as u64) < to - from {
            let Some(chunk) = self.chunks.get(c) else {
                break;
            };
            match chunk.get(o) {
                Some(e) => {
                    out.push(&**e);
                    o += 1;
                }
                None => {
                    c += 1;
                    o = 0;
                }
            }
        }
        out
    }

    /// Adds `key`; false if it was present already.
    pub fn insert(&mut self, key: &[u8]) -> bool {
        if self.chunks.is_empty() {
            self.chunks.push(Vec::new());
            self.rebuild();
        }
        let c = self.chunk_for(key);
        let chunk = &mut self.chunks[c];
        let at = match chunk.binary_search_by(|e| (**e).cmp(key)) {
            Ok(_) => return false,
            Err(at) => at,
        };
        chunk.insert(at, key.into());
        self.len += 1;
        self.bytes += key.len() + PER_ELEMENT;
        if chunk.len() > 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            self.chunks.insert(c + 1, tail);
            self.rebuild();
        } else {
            self.fen_add(c, 1);
        }
        true
    }

    /// Removes `key`; false if it was absent.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let c = self.chunk_for(key);
        let chunk = &mut self.chunks[c];
        let Ok(at) = chunk.binary_search_by(|e| (**e).cmp(key)) else {
            return false;
        };
        chunk.remove(at);
        self.len -= 1;
        self.bytes = self.bytes.saturating_sub(key.len() + PER_ELEMENT);
        if chunk.is_empty() {
            self.chunks.remove(c);
            self.rebuild();
        } else {
            self.fen_add(c, -1);
        }
        true
    }
}

/// Counters for INFO.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TierStats {
    pub entries: u64,
    pub bytes: u64,
    pub hits: u64,
    pub builds: u64,
    pub evictions: u64,
}

struct Cached {
    version: u64,
    write_index: u64,
    index: RankIndex,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    tick: u64,
    bytes: usize,
    sets: HashMap<(u8, Vec<u8>), Cached>,
}

impl Inner {
    /// Drops least recently used copies until `need` more bytes fit in `budget`.
    fn make_room(&mut self, need: usize, budget: usize, evictions: &AtomicU64) {
        while self.bytes + need > budget {
            let Some(victim) = self
                .sets
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.drop_set(&victim, evictions);
        }
    }

    fn drop_set(&mut self, id: &(u8, Vec<u8>), evictions: &AtomicU64) {
        if let Some(c) = self.sets.remove(id) {
            self.bytes = self.bytes.saturating_sub(c.index.bytes());
            evictions.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The node's memory tier. Shared by the state machine (which keeps it in step) and
/// every reader.
pub struct Tier {
    budget: AtomicUsize,
    /// Sets shorter than this are not built (walking them is cheap).
    min_len: u64,
    inner: Mutex<Inner>,
    /// Entries observed (changed only under `inner`'s lock; read without it).
    generation: AtomicU64,
    hits: AtomicU64,
    builds: AtomicU64,
    evictions: AtomicU64,
}

impl Default for Tier {
    fn default() -> Tier {
        Tier::new(DEFAULT_BUDGET)
    }
}

impl Tier {
    pub fn new(budget: usize) -> Tier {
        Tier {
            budget: AtomicUsize::new(budget),
            min_len: MIN_CACHED_LEN,
            inner: Mutex::new(Inner::default()),
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            builds: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// Builds copies of sets of at least `n` members (tests use 0 to exercise the tier
    /// on small sets).
    pub fn with_min_len(mut self, n: u64) -> Tier {
        self.min_len = n;
        self
    }

    /// The byte budget.
    pub fn budget(&self) -> usize {
        self.budget.load(Ordering::Relaxed)
    }

    /// Changes the byte budget now: least recently used copies go until it fits.
    pub fn set_budget(&self, bytes: usize) {
        self.budget.store(bytes, Ordering::Relaxed);
        let mut g = self.lock();
        g.make_room(0, bytes, &self.evictions);
    }

    /// Sets shorter than this are read from their records.
    pub fn min_len(&self) -> u64 {
        self.min_len
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied change that matters:
        // stamps are only set after the change. Keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many entries have been observed: read before taking a snapshot to build from.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> TierStats {
        let g = self.lock();
        TierStats {
            entries: g.sets.len() as u64,
            bytes: g.bytes as u64,
            hits: self.hits.load(Ordering::Relaxed),
            builds: self.builds.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    /// Forgets everything (a snapshot was installed underneath).
    pub fn clear(&self) {
        let mut g = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        g.sets.clear();
        g.bytes = 0;
    }

    /// Runs `f` on the cached index of `key` in `db` if it reflects exactly `meta`.
    pub fn with<R>(
        &self,
        db: u8,
        key: &[u8],
        meta: &Meta,
        f: impl FnOnce(&RankIndex) -> R,
    ) -> Option<R> {
        let mut guard = self.lock();
        let g = &mut *guard;
        g.tick += 1;
        let tick = g.tick;
        let c = g.sets.get_mut(&(db, key.to_vec()))?;
        if c.version != meta.version || c.write_index != meta.write_index {
            return None;
        }
        c.last_used = tick;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(f(&c.index))
    }

    /// Caches `index`, built from a view of `key` whose meta record is `meta`, taken when
    /// the generation was `generation`. Ignored if entries were observed since.
    pub fn insert(&self, generation: u64, db: u8, key: &[u8], meta: &Meta, index: RankIndex) {
        let size = index.bytes();
        let budget = self.budget();
        if size > budget {
            return;
        }
        let mut g = self.lock();
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        self.builds.fetch_add(1, Ordering::Relaxed);
        let id = (db, key.to_vec());
        g.drop_set(&id, &self.evictions);
        g.make_room(size, budget, &self.evictions);
        g.tick += 1;
        let tick = g.tick;
        g.bytes += size;
        g.sets.insert(
            id,
            Cached {
                version: meta.version,
                write_index: meta.write_index,
                index,
                last_used: tick,
            },
        );
    }

    /// Brings the cached copies in step with one applied entry's effects (called after
    /// they are written, once per entry, in log order).
    pub fn observe(&self, effects: &Effects) {
        let mut guard = self.lock();
        let g = &mut *guard;
        self.generation.fetch_add(1, Ordering::SeqCst);
        if g.sets.is_empty() {
            return;
        }
        // Copies whose index records changed, and those whose meta record was written.
        let mut changed: Vec<(u8, Vec<u8>)> = Vec::new();
        let mut stamped: Vec<(u8, Vec<u8>)> = Vec::new();
        let mut doomed: Vec<(u8, Vec<u8>)> = Vec::new();
        for w in &effects.writes {
            match w {
                Write::DeleteRange(cf, start, end) => {
                    for (id, c) in &g.sets {
                        let hit = match cf {
                            Cf::Meta => {
                                let mk = keys::meta_key(id.0, &id.1);
                                start.as_slice() <= mk.as_slice() && mk.as_slice() < end.as_slice()
                            }
                            Cf::Data => {
                                let p = keys::data_prefix(id.0, &id.1, c.version);
                                let pend = crate::coll::prefix_end(&p);
                                start.as_slice() < pend.as_slice() && p.as_slice() < end.as_slice()
                            }
                            _ => false,
                        };
                        if hit {
                            doomed.push(id.clone());
                        }
                    }
                }
                Write::Put(Cf::Meta, k, v) => {
                    let Some((db, _, key)) = keys::decode_meta_key(k) else {
                        continue;
                    };
                    let id = (db, key.to_vec());
                    let Some(c) = g.sets.get_mut(&id) else {
                        continue;
                    };
                    match Meta::decode(v) {
                        Ok(m) if m.kind == Kind::ZSet && m.version == c.version => {
                            c.write_index = m.write_index;
                            stamped.push(id);
                        }
                        _ => doomed.push(id),
                    }
                }
                Write::Delete(Cf::Meta, k) => {
                    if let Some((db, _, key)) = keys::decode_meta_key(k) {
                        doomed.push((db, key.to_vec()));
                    }
                }
                Write::Put(Cf::Data, k, _) | Write::Delete(Cf::Data, k) => {
                    let Some((db, key, version, sub)) = keys::decode_data_key(k) else {
                        continue;
                    };
                    let Some(entry) = keys::zset::decode_index_sub(sub) else {
                        continue;
                    };
                    let id = (db, key.to_vec());
                    let Some(c) = g.sets.get_mut(&id) else {
                        continue;
                    };
                    if c.version != version {
                        continue;
                    }
                    let before = c.index.bytes();
                    if matches!(w, Write::Put(..)) {
                        c.index.insert(entry);
                    } else {
                        c.index.remove(entry);
                    }
                    let after = c.index.bytes();
                    g.bytes = (g.bytes + after).saturating_sub(before);
                    changed.push(id);
                }
                _ => {}
            }
        }
        // Index records changed without the key's meta record being written: not how any
        // command writes; do not guess.
        for id in changed {
            if !stamped.contains(&id) {
                doomed.push(id);
            }
        }
        for id in doomed {
            g.drop_set(&id, &self.evictions);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn rank_index_matches_a_btreeset(
            seed in proptest::collection::vec(0u16..3000, 0..1500),
            ops in proptest::collection::vec((any::<bool>(), 0u16..3000), 0..3000),
            probes in proptest::collection::vec(0u16..3100, 1..40),
        ) {
            let key = |v: u16| v.to_be_bytes().to_vec().into_boxed_slice();
            let mut model: BTreeSet<u16> = seed.iter().copied().collect();
            let mut idx = RankIndex::from_sorted(model.iter().map(|&v| key(v)).collect());
            for (add, v) in ops {
                if add {
                    prop_assert_eq!(idx.insert(&key(v)), model.insert(v));
                } else {
                    prop_assert_eq!(idx.remove(&key(v)), model.remove(&v));
                }
            }
            prop_assert_eq!(idx.len(), model.len() as u64);
            let all: Vec<u16> = model.iter().copied().collect();
            for p in probes {
                let r = all.partition_point(|&x| x < p) as u64;
                prop_assert_eq!(idx.rank(&key(p)), r);
                prop_assert_eq!(idx.contains(&key(p)), model.contains(&p));
                let from = u64::from(p) % (all.len() as u64 + 1);
                let got: Vec<u16> = idx
                    .range(from, from + 7)
                    .into_iter()
                    .map(|b| u16::from_be_bytes([b[0], b[1]]))
                    .collect();
                let want: Vec<u16> = all.iter().skip(from as usize).take(7).copied().collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn chunks_split_and_vanish() {
        let mut idx = RankIndex::default();
        for i in 0u32..5000 {
            assert!(idx.insert(&i.to_be_bytes()));
        }
        assert!(idx.chunks.len() > 4);
        assert_eq!(idx.rank(&2500u32.to_be_bytes()), 2500);
        assert_eq!(idx.range(4998, 6000).len(), 2);
        for i in 0u32..5000 {
            assert!(idx.remove(&i.to_be_bytes()));
        }
        assert!(idx.is_empty());
        assert!(idx.chunks.is_empty());
        assert_eq!(idx.rank(b"x"), 0);
        assert!(idx.range(0, 5).is_empty());
    }
}
