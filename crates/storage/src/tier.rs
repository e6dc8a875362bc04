//! The memory tier for keys: the `meta` records of recently used keys (type, expiry,
//! version, and the inline value of strings, HyperLogLogs and JSON documents), held in
//! memory over RocksDB under a byte budget, plus negative entries for keys known to be
//! absent. RocksDB stays the whole truth; the tier holds exactly the bytes RocksDB holds
//! for a key (or knows the key is absent), so a read served from it returns what a
//! RocksDB read at the same point of the log returns.
//!
//! ## Staying exact
//!
//! [`Storage`](crate::Storage) is the only writer of the state (the state machine writes
//! every applied entry through `Storage::write_effects`), and the tier is kept in step
//! there, around the write batch:
//!
//! 1. **Before** the batch is written, `epoch` is incremented (it becomes odd: a write is
//!    in progress) and every tier entry for a `meta` key the batch puts or deletes is
//!    marked pending (readers treat it as a miss and read RocksDB); entries in a range
//!    the batch deletes (FLUSHDB, SWAPDB) are dropped.
//! 2. The batch is written (RocksDB makes it visible atomically).
//! 3. **After** it, the pending entries take the batch's new bytes (a delete becomes a
//!    negative entry), stamped with the new epoch, and `epoch` is incremented again
//!    (even: no write in progress).
//!
//! A read that misses fills the tier with what it read from RocksDB, but only if no
//! write started since it read the epoch (checked under the shard's lock, the same lock
//! step 1 takes): a fill can therefore never put back a value older than one a batch
//! already wrote. So at any instant an entry that is not pending equals the record in
//! RocksDB, and a reader never sees an older value after any other reader saw a newer
//! one (between steps 1 and 3 every reader of a written key reads RocksDB).
//!
//! A read of a RocksDB snapshot (MGET, scripts, EXEC on the read path, trials) reads the
//! epoch before and after taking the snapshot. If both are the same even value `e`, the
//! snapshot holds exactly the state at `e`, and the reader may use entries stamped at or
//! before `e` (they were exact at their stamp and have not changed since, or they would
//! be pending or restamped). Otherwise it reads only the snapshot. So a multi-key read
//! sees one point of the log, whichever keys come from memory.
//!
//! A snapshot install replaces the state underneath: the tier is emptied with the epoch
//! odd for the whole install, so nothing is filled from a half-installed state.
//!
//! ## Eviction
//!
//! The tier is split in shards (by a hash of the key), each with its share of the byte
//! budget and a CLOCK ring: a hit sets the entry's reference bit (under the shard's read
//! lock, an atomic store); an insert that would exceed the shard's budget sweeps the
//! hand, clearing set bits and evicting the first entry whose bit is clear. An evicted
//! entry is simply forgotten: RocksDB has the record.

use keys::store::{Effects, Write};
use keys::Cf;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Default byte budget (the server sets it from `--memory-mb`).
pub const DEFAULT_BUDGET: usize = 256 << 20;

/// Shards of a full-size tier.
const SHARDS: usize = 64;

/// Bytes counted per entry besides its key and value (slot, map entry, allocations).
pub const ENTRY_OVERHEAD: usize = 96;

/// Counters for INFO.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TierStats {
    pub entries: u64,
    /// Entries that record an absent key.
    pub negative: u64,
    pub bytes: u64,
    pub budget: u64,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

struct Slot {
    key: Arc<[u8]>,
    /// The record's bytes; None: the key is absent.
    value: Option<Vec<u8>>,
    /// A batch writing this key is in progress: not to be served.
    pending: bool,
    /// The epoch from which the entry is known exact.
    since: u64,
    referenced: AtomicBool,
    size: usize,
}

#[derive(Default)]
struct Shard {
    map: HashMap<Arc<[u8]>, usize, RandomState>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
    budget: usize,
    /// Entries recording an absent key.
    negative: usize,
}

impl Shard {
    fn remove_at(&mut self, i: usize) -> Option<Slot> {
        let s = self.slots.get_mut(i)?.take()?;
        self.map.remove(&s.key);
        self.bytes -= s.size;
        self.negative -= usize::from(s.value.is_none());
        self.free.push(i);
        Some(s)
    }

    /// Sweeps the CLOCK hand until `need` more bytes fit; returns how many entries went.
    fn make_room(&mut self, need: usize) -> u64 {
        let mut evicted = 0;
        let mut steps = 2 * self.slots.len() + 1;
        while self.bytes + need > self.budget && !self.map.is_empty() && steps > 0 {
            steps -= 1;
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let i = self.hand;
            self.hand += 1;
            let Some(s) = &self.slots[i] else { continue };
            if s.referenced.swap(false, Ordering::Relaxed) {
                continue;
            }
            self.remove_at(i);
            evicted += 1;
        }
        evicted
    }

    fn insert(&mut self, key: &[u8], value: Option<&[u8]>, since: u64) -> u64 {
        let size = entry_size(key, value);
        let evicted = self.make_room(size);
        if self.bytes + size > self.budget {
            return evicted;
        }
        let slot = Slot {
            key: Arc::from(key),
            value: value.map(<[u8]>::to_vec),
            pending: false,
            since,
            referenced: AtomicBool::new(false),
            size,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        if let Some(s) = &self.slots[i] {
            self.map.insert(s.key.clone(), i);
        }
        self.bytes += size;
        self.negative += usize::from(value.is_none());
        evicted
    }
}

fn entry_size(key: &[u8], value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD
}

/// One shard and its hit counters, on their own cache lines.
#[repr(align(128))]
#[derive(Default)]
struct ShardCell {
    lock: RwLock<Shard>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What the tier knows of a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Served from memory: the record's bytes, or None for a key known absent.
    Hit(Option<Vec<u8>>),
    /// Read RocksDB.
    Miss,
}

pub struct KeyTier {
    shards: Box<[ShardCell]>,
    /// Even: no write in progress; odd: a batch (or a snapshot install) is being written.
    epoch: AtomicU64,
    budget: AtomicUsize,
    evictions: AtomicU64,
}

impl Default for KeyTier {
    fn default() -> KeyTier {
        KeyTier::new(DEFAULT_BUDGET)
    }
}

impl KeyTier {
    pub fn new(budget: usize) -> KeyTier {
        KeyTier::with_shards(SHARDS, budget)
    }

    /// A tier of `shards` shards (tests use few, so a tiny budget still holds entries).
    pub fn with_shards(shards: usize, budget: usize) -> KeyTier {
        let t = KeyTier {
            shards: (0..shards.max(1)).map(|_| ShardCell::default()).collect(),
            epoch: AtomicU64::new(0),
            budget: AtomicUsize::new(0),
            evictions: AtomicU64::new(0),
        };
        t.set_budget(budget);
        t
    }

    fn cell(&self, key: &[u8]) -> &ShardCell {
        // FNV-1a: spreads keys (hash tags included) evenly; the map inside hashes with
        // a keyed SipHash.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in key {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        &self.shards[(h % self.shards.len() as u64) as usize]
    }

    fn read(cell: &ShardCell) -> RwLockReadGuard<'_, Shard> {
        cell.lock.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(cell: &ShardCell) -> RwLockWriteGuard<'_, Shard> {
        cell.lock.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The byte budget.
    pub fn budget(&self) -> usize {
        self.budget.load(Ordering::Relaxed)
    }

    /// Changes the budget now: a smaller one evicts at once.
    pub fn set_budget(&self, bytes: usize) {
        self.budget.store(bytes, Ordering::Relaxed);
        let share = bytes / self.shards.len();
        let mut evicted = 0;
        for cell in self.shards.iter() {
            let mut s = Self::write(cell);
            s.budget = share;
            evicted += s.make_room(0);
        }
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
    }

    pub fn stats(&self) -> TierStats {
        let mut st = TierStats {
            budget: self.budget() as u64,
            evictions: self.evictions.load(Ordering::Relaxed),
            ..TierStats::default()
        };
        for cell in self.shards.iter() {
            st.hits += cell.hits.load(Ordering::Relaxed);
            st.misses += cell.misses.load(Ordering::Relaxed);
            let s = Self::read(cell);
            st.entries += s.map.len() as u64;
            st.bytes += s.bytes as u64;
            st.negative += s.negative as u64;
        }
        st
    }

    /// The current epoch: read it before reading RocksDB to fill the tier with what was
    /// read, or before taking a snapshot.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The entry for `key`, for a reader of the live state (`at` None) or of a snapshot
    /// of the state at epoch `at`.
    pub fn get(&self, key: &[u8], at: Option<u64>) -> Lookup {
        let cell = self.cell(key);
        let s = Self::read(cell);
        if let Some(&i) = s.map.get(key) {
            if let Some(slot) = &s.slots[i] {
                if !slot.pending && at.map_or(true, |e| slot.since <= e) {
                    if !slot.referenced.load(Ordering::Relaxed) {
                        slot.referenced.store(true, Ordering::Relaxed);
                    }
                    let v = slot.value.clone();
                    drop(s);
                    cell.hits.fetch_add(1, Ordering::Relaxed);
                    return Lookup::Hit(v);
                }
            }
        }
        drop(s);
        cell.misses.fetch_add(1, Ordering::Relaxed);
        Lookup::Miss
    }

    /// Caches what a read of RocksDB returned for `key`, read after the epoch was
    /// `epoch` (a live read) or from a snapshot of the state at `epoch`. Ignored if a
    /// write started since (the value may be older than what is stored now).
    pub fn fill(&self, epoch: u64, key: &[u8], value: Option<&[u8]>) {
        if epoch % 2 == 1 {
            return;
        }
        let cell = self.cell(key);
        let mut s = Self::write(cell);
        if self.epoch.load(Ordering::SeqCst) != epoch || s.map.contains_key(key) {
            return;
        }
        if entry_size(key, value) > s.budget / 4 {
            return;
        }
        let evicted = s.insert(key, value, epoch);
        drop(s);
        if evicted > 0 {
            self.evictions.fetch_add(evicted, Ordering::Relaxed);
        }
    }

    /// Step 1 of a write (see the module doc): returns false if the batch touches no
    /// `meta` record (then the tier and the epoch are left alone).
    pub fn begin_write(&self, effects: &Effects) -> bool {
        let touches = effects.writes.iter().any(|w| {
            matches!(
                w,
                Write::Put(Cf::Meta, ..)
                    | Write::Delete(Cf::Meta, _)
                    | Write::DeleteRange(Cf::Meta, ..)
            )
        });
        if !touches {
            return false;
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for w in &effects.writes {
            match w {
                Write::Put(Cf::Meta, k, _) | Write::Delete(Cf::Meta, k) => {
                    let mut s = Self::write(self.cell(k));
                    if let Some(&i) = s.map.get(k.as_slice()) {
                        if let Some(slot) = &mut s.slots[i] {
                            slot.pending = true;
                        }
                    }
                }
                Write::DeleteRange(Cf::Meta, start, end) => {
                    for cell in self.shards.iter() {
                        let mut s = Self::write(cell);
                        let doomed: Vec<usize> = s
                            .map
                            .iter()
                            .filter(|(k, _)| start.as_slice() <= &***k && &***k < end.as_slice())
                            .map(|(_, &i)| i)
                            .collect();
                        for i in doomed {
                            s.remove_at(i);
                        }
                    }
                }
                _ => {}
            }
        }
        true
    }

    /// Step 3: after the batch was written (`written`), pending entries take its new
    /// bytes; after a failed write they are dropped. Ends the write.
    pub fn end_write(&self, effects: &Effects, written: bool) {
        let since = self.epoch.load(Ordering::SeqCst) + 1;
        let mut evicted = 0;
        for w in &effects.writes {
            let (k, v) = match w {
                Write::Put(Cf::Meta, k, v) => (k, Some(v.as_slice())),
                Write::Delete(Cf::Meta, k) => (k, None),
                _ => continue,
            };
            let mut s = Self::write(self.cell(k));
            let Some(&i) = s.map.get(k.as_slice()) else {
                continue;
            };
            let size = entry_size(k, v);
            if !written || size > s.budget / 4 {
                s.remove_at(i);
                continue;
            }
            let (old, was_negative) = match &mut s.slots[i] {
                Some(slot) => {
                    let old = (slot.size, slot.value.is_none());
                    match (v, &mut slot.value) {
                        // Reuse the buffer unless it would hold much more than counted.
                        (Some(v), Some(buf)) if buf.capacity() <= 2 * v.len() + 64 => {
                            buf.clear();
                            buf.extend_from_slice(v);
                        }
                        (v, value) => *value = v.map(<[u8]>::to_vec),
                    }
                    slot.pending = false;
                    slot.since = since;
                    slot.size = size;
                    old
                }
                None => continue,
            };
            s.bytes = s.bytes + size - old;
            s.negative = s.negative + usize::from(v.is_none()) - usize::from(was_negative);
            if s.bytes > s.budget {
                evicted += s.make_room(0);
            }
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if evicted > 0 {
            self.evictions.fetch_add(evicted, Ordering::Relaxed);
        }
    }

    /// Empties the tier and keeps it from filling until [`KeyTier::end_replace`]: the
    /// whole state is being replaced underneath (a snapshot install).
    pub fn begin_replace(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.clear_entries();
    }

    /// Ends a replacement of the state: empties the tier again and lets it fill.
    pub fn end_replace(&self) {
        self.clear_entries();
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn clear_entries(&self) {
        for cell in self.shards.iter() {
            let mut s = Self::write(cell);
            let budget = s.budget;
            *s = Shard {
                budget,
                ..Shard::default()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &[u8], v: &[u8]) -> Write {
        Write::Put(Cf::Meta, k.to_vec(), v.to_vec())
    }

    #[test]
    fn fills_hits_writes_and_ranges() {
        let t = KeyTier::with_shards(2, 1 << 20);
        assert_eq!(t.get(b"a", None), Lookup::Miss);
        let e = t.epoch();
        t.fill(e, b"a", Some(b"1"));
        t.fill(e, b"b", None);
        assert_eq!(t.get(b"a", None), Lookup::Hit(Some(b"1".to_vec())));
        assert_eq!(t.get(b"b", None), Lookup::Hit(None));
        let fx = Effects {
            writes: vec![put(b"a", b"2"), Write::Delete(Cf::Meta, b"b".to_vec())],
        };
        assert!(t.begin_write(&fx));
        assert_eq!(t.get(b"a", None), Lookup::Miss);
        // A fill that read before the write started is refused.
        t.fill(e, b"c", Some(b"x"));
        t.end_write(&fx, true);
        assert_eq!(t.get(b"c", None), Lookup::Miss);
        assert_eq!(t.get(b"a", None), Lookup::Hit(Some(b"2".to_vec())));
        assert_eq!(t.get(b"b", None), Lookup::Hit(None));
        // A snapshot from before the write may not use the new entries.
        assert_eq!(t.get(b"a", Some(e)), Lookup::Miss);
        assert_eq!(
            t.get(b"a", Some(t.epoch())),
            Lookup::Hit(Some(b"2".to_vec()))
        );
        let fx = Effects {
            writes: vec![Write::DeleteRange(Cf::Meta, b"a".to_vec(), b"b".to_vec())],
        };
        t.begin_write(&fx);
        t.end_write(&fx, true);
        assert_eq!(t.get(b"a", None), Lookup::Miss);
        assert_eq!(t.get(b"b", None), Lookup::Hit(None));
    }

    #[test]
    fn a_small_budget_evicts() {
        let t = KeyTier::with_shards(1, 10 * (ENTRY_OVERHEAD + 8));
        for i in 0u32..1000 {
            let k = i.to_be_bytes();
            t.fill(t.epoch(), &k, Some(b"vvvv"));
            assert!(t.stats().bytes <= t.budget() as u64);
        }
        let st = t.stats();
        assert!(st.entries >= 5 && st.entries <= 10, "{st:?}");
        assert!(st.evictions >= 990 - 10, "{st:?}");
        t.set_budget(0);
        assert_eq!(t.stats().entries, 0);
    }
}
