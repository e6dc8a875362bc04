//! The capacity quota (Upstash's max data size) and its accounting.
//!
//! **The accounting rule.** The logical data size of a key is the sum, over the
//! records it owns in the `meta` and `data` column families, of
//! `stored key bytes + stored value bytes + RECORD_OVERHEAD` (16). A string is one
//! record (its meta record, value inline); a hash/set/zset/list/stream is its meta
//! record plus one record per element (a zset member counts twice: member and score
//! index). Expiry index entries and `sm` records are not counted. Every write of an
//! accounted record changes the totals by its size minus the size of what it replaces,
//! in the same `Txn`, so the totals are written in the same WriteBatch as the change
//! (`sm` record `datasize`: 16 big-endian u64, one per database) and every replica,
//! replay and snapshot holds the same numbers. A collection's meta record (format 2)
//! carries the size of its element records, so DEL, overwrite, expiry, eviction and
//! FLUSHDB subtract a whole key or database without reading its elements.
//! [`recount`] recomputes everything from the records (tests, old data directories).

use crate::store::{Effects, Store, StoreError, Write};
use keys::{Cf, Meta};
use std::cell::{OnceCell, RefCell};
use std::sync::atomic::AtomicU64;

/// Bytes counted per record on top of its key and value.
pub const RECORD_OVERHEAD: u64 = 16;
/// Upstash's limit on one entry (a key with all its elements): 100 MB.
pub const MAX_RECORD_SIZE: u64 = 100 << 20;
/// `sm` record holding the accounted size of each database.
pub const DATASIZE_KEY: &[u8] = b"datasize";

pub const QUOTA_ERROR: &str = "ERR DB capacity quota exceeded";
pub const RECORD_ERROR: &str = "ERR max single record size exceeded";

/// Keys this process evicted (INFO `evicted_keys`), counted when the entry is written.
pub static EVICTED_KEYS: AtomicU64 = AtomicU64::new(0);

/// The accounted size of one record.
#[inline]
pub fn rec_size(klen: usize, vlen: usize) -> u64 {
    klen as u64 + vlen as u64 + RECORD_OVERHEAD
}

/// The column families whose records count.
#[inline]
pub(crate) fn accounted(cf: Cf) -> bool {
    matches!(cf, Cf::Meta | Cf::Data)
}

pub fn encode_sizes(sizes: &[u64; keys::DATABASES]) -> Vec<u8> {
    sizes.iter().flat_map(|n| n.to_be_bytes()).collect()
}

/// Missing or short records read as zeros for the databases they lack.
pub fn decode_sizes(raw: &[u8]) -> [u64; keys::DATABASES] {
    let mut out = [0; keys::DATABASES];
    for (i, c) in raw.chunks_exact(8).take(keys::DATABASES).enumerate() {
        out[i] = u64::from_be_bytes(c.try_into().expect("8 bytes"));
    }
    out
}

/// True if `prefix` is the data prefix of `key`'s version `version` in `db` (compared
/// piece by piece, without building it).
pub(crate) fn prefix_is(prefix: &[u8], db: u8, key: &[u8], version: u64) -> bool {
    prefix.len() == 15 + key.len()
        && prefix[0] == db
        && &prefix[7..7 + key.len()] == key
        && prefix[7 + key.len()..] == version.to_be_bytes()
}

const MEMO_SLOTS: usize = 16;

/// The last few `meta`/`data` records a write transaction read from the store, with
/// their value lengths (`None`: absent). The store does not change under a
/// transaction, so an entry never goes stale.
#[derive(Default)]
pub(crate) struct Memo {
    slots: Vec<(Cf, Vec<u8>, Option<usize>)>,
    next: usize,
}

impl Memo {
    pub(crate) fn remember(&mut self, cf: Cf, key: &[u8], len: Option<usize>) {
        if self.slots.len() < MEMO_SLOTS {
            self.slots.push((cf, key.to_vec(), len));
            return;
        }
        let slot = &mut self.slots[self.next];
        slot.0 = cf;
        slot.1.clear();
        slot.1.extend_from_slice(key);
        slot.2 = len;
        self.next = (self.next + 1) % MEMO_SLOTS;
    }

    fn recall(&self, cf: Cf, key: &[u8]) -> Option<Option<usize>> {
        self.slots
            .iter()
            .find(|(c, k, _)| *c == cf && k.as_slice() == key)
            .map(|(_, _, l)| *l)
    }
}

/// The accounted size of the stored record a write replaces (0 if none), when the
/// transaction has no pending write of it.
pub(crate) fn stored_size(
    ranges: &[(Cf, Vec<u8>, Vec<u8>)],
    memo: &RefCell<Memo>,
    store: &dyn Store,
    failed: &OnceCell<StoreError>,
    index: u64,
    cf: Cf,
    key: &[u8],
) -> u64 {
    if ranges
        .iter()
        .any(|(c, s, e)| *c == cf && key >= s.as_slice() && key < e.as_slice())
    {
        return 0;
    }
    if let Some(len) = memo.borrow().recall(cf, key) {
        return len.map_or(0, |l| rec_size(key.len(), l));
    }
    if cf == Cf::Data && index != 0 {
        // Versions are (creating entry's index << 16 | n): a version made by this
        // entry has no stored records.
        if let Some((_, _, version, _)) = keys::decode_data_key(key) {
            if version >> 16 == index {
                return 0;
            }
        }
    }
    match store.get(cf, key) {
        Ok(v) => v.map_or(0, |v| rec_size(key.len(), v.len())),
        Err(e) => {
            let _ = failed.set(e);
            0
        }
    }
}

/// maxmemory-policy values (the replicated setting stores the index in [`POLICIES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    OptimisticVolatile,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

/// Names in setting order: the value stored for a policy is its index here.
pub const POLICIES: [(&str, Policy); 9] = [
    ("volatile-lru", Policy::VolatileLru),
    ("volatile-lfu", Policy::VolatileLfu),
    ("volatile-random", Policy::VolatileRandom),
    ("volatile-ttl", Policy::VolatileTtl),
    ("allkeys-lru", Policy::AllKeysLru),
    ("allkeys-lfu", Policy::AllKeysLfu),
    ("allkeys-random", Policy::AllKeysRandom),
    ("noeviction", Policy::NoEviction),
    ("optimistic-volatile", Policy::OptimisticVolatile),
];

impl Policy {
    pub fn from_u64(v: u64) -> Policy {
        POLICIES
            .get(v as usize)
            .map_or(Policy::NoEviction, |(_, p)| *p)
    }

    pub fn name(self) -> &'static str {
        POLICIES
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("noeviction", |(n, _)| n)
    }

    /// Policies that only evict keys with a TTL.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }
}

/// What [`recount`] finds: the totals per database, and the keys whose meta record's
/// data size differs from their element records (should be none).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recount {
    pub sizes: [u64; keys::DATABASES],
    pub wrong_keys: Vec<(u8, Vec<u8>, Option<u64>, u64)>,
}

impl Recount {
    pub fn total(&self) -> u64 {
        self.sizes.iter().sum()
    }
}

/// Recomputes the accounting from every `meta` and `data` record of `store`.
pub fn recount(store: &dyn Store) -> Result<Recount, StoreError> {
    let mut out = Recount::default();
    // (db, key, version) -> bytes of its data records
    let mut per_version: std::collections::HashMap<(u8, Vec<u8>, u64), u64> =
        std::collections::HashMap::new();
    store.scan(Cf::Data, &[], &[0xff], &mut |k, v| {
        if let Some(s) = out.sizes.get_mut(k[0] as usize) {
            *s += rec_size(k.len(), v.len());
        }
        if let Some((db, key, version, _)) = keys::decode_data_key(k) {
            *per_version.entry((db, key.to_vec(), version)).or_default() +=
                rec_size(k.len(), v.len());
        }
        true
    })?;
    store.scan(Cf::Meta, &[], &[0xff], &mut |k, v| {
        if let Some(s) = out.sizes.get_mut(k[0] as usize) {
            *s += rec_size(k.len(), v.len());
        }
        if let (Some((db, _, key)), Ok((_, _, version))) = (keys::decode_meta_key(k), Meta::peek(v))
        {
            let actual = per_version
                .get(&(db, key.to_vec(), version))
                .copied()
                .unwrap_or(0);
            let stored = Meta::stored_data_size(v).ok().flatten();
            if stored != Some(actual) {
                out.wrong_keys.push((db, key.to_vec(), stored, actual));
            }
        }
        true
    })?;
    Ok(out)
}

/// The accounted sizes stored in `sm`, or `None` when the data directory predates the
/// accounting (then [`recount`] gives them).
pub fn stored_sizes(store: &dyn Store) -> Result<Option<[u64; keys::DATABASES]>, StoreError> {
    Ok(store
        .get(Cf::Sm, DATASIZE_KEY)?
        .map(|raw| decode_sizes(&raw)))
}

/// For a data directory written before the accounting: the `datasize` record from a
/// [`recount`] (`None` when the record exists, or there is no data).
pub fn missing_sizes(store: &dyn Store) -> Result<Option<Effects>, StoreError> {
    if store.get(Cf::Sm, DATASIZE_KEY)?.is_some() {
        return Ok(None);
    }
    let r = recount(store)?;
    if r.total() == 0 {
        return Ok(None);
    }
    Ok(Some(Effects {
        writes: vec![Write::Put(
            Cf::Sm,
            DATASIZE_KEY.to_vec(),
            encode_sizes(&r.sizes),
        )],
    }))
}

/// The total accounted data size in `store` (0 before anything was accounted).
pub fn used(store: &dyn Store) -> u64 {
    stored_sizes(store)
        .ok()
        .flatten()
        .map_or(0, |s| s.iter().sum())
}

/// One eviction candidate: a key with what dropping it frees.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub db: u8,
    pub key: Vec<u8>,
    pub bytes: u64,
    pub expire_at_ms: u64,
    pub mtime_ms: u64,
}

/// Up to `n` keys of `db` starting at `slot` (wrapping), for the leader's evictor to
/// pick victims from: Redis samples keys the same way (a few random ones).
pub fn sample(
    store: &dyn Store,
    db: u8,
    slot: u16,
    n: usize,
    volatile_only: bool,
) -> Result<Vec<Candidate>, StoreError> {
    let mut out = Vec::new();
    let mut visited = 0usize;
    let mut visit = |out: &mut Vec<Candidate>, k: &[u8], v: &[u8]| -> bool {
        visited += 1;
        if let (Some((db, _, key)), Ok(m)) = (keys::decode_meta_key(k), Meta::decode(v)) {
            if !volatile_only || m.expire_at_ms != 0 {
                let data = Meta::stored_data_size(v).ok().flatten().unwrap_or(0);
                out.push(Candidate {
                    db,
                    key: key.to_vec(),
                    bytes: rec_size(k.len(), v.len()) + data,
                    expire_at_ms: m.expire_at_ms,
                    mtime_ms: m.mtime_ms,
                });
            }
        }
        out.len() < n && visited < n * 64
    };
    let mut more = true;
    store.scan(
        Cf::Meta,
        &keys::meta_slot_start(db, slot),
        &keys::meta_db_end(db),
        &mut |k, v| {
            more = visit(&mut out, k, v);
            more
        },
    )?;
    if more && slot > 0 {
        store.scan(
            Cf::Meta,
            &keys::meta_db_start(db),
            &keys::meta_slot_start(db, slot),
            &mut |k, v| visit(&mut out, k, v),
        )?;
    }
    Ok(out)
}
