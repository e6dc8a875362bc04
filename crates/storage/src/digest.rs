//! Per-slot digests of the keyspace, for anti-entropy: for each of the 16384 hash slots,
//! the XOR of a 64-bit hash of every `meta` record in it (all databases), how many there
//! are, and the log index of the last entry that changed the slot.
//!
//! They are kept in step with the data incrementally: every batch written by
//! [`Storage::write_entry`] XORs out the hash of each `meta` record it replaces and XORs
//! in the new one, and writes one `sm` delta record with the new digests of the slots it
//! changed in the same batch (`keys::sm::DIGEST_DELTAS`), so computing them never rescans
//! the data. Every 1024 deltas, a batch folds them into the base (64 chunk records of 256
//! slots, `keys::sm::DIGESTS`) instead. One record per batch, not one per slot: a record
//! per changed slot cost about 15 % more CPU per SET at 50 clients. An in-memory copy
//! serves reads (no lookups on the write path). A batch that range-deletes `meta` records
//! (FLUSHDB, FLUSHALL, a backup restore) marks the digests dirty in its batch, and they
//! are recounted right after it (and at open, if a crash came between).
//!
//! Two nodes that applied the same log hold the same digests. Divergence that bypassed
//! the write path (a bug, a disk corruption) is caught by the scrub ([`Storage::scrub_slot`]):
//! it recomputes one slot from its records and, if the stored digest disagrees, stores
//! the recomputed one, so the next comparison with the leader sees the slot differ.
//!
//! The hash covers the whole `meta` record: the key, type, expiry, version, write index,
//! last-write time, element count and data size, and a string's value. A collection's
//! elements are covered through their count and size only.

use crate::{Result, Storage};
use keys::store::{Effects, Write};
use keys::Cf;
use rocksdb::{IteratorMode, WriteBatch};
use std::collections::HashMap;

/// One slot's digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotDigest {
    /// XOR of [`record_hash`] over the slot's `meta` records.
    pub xor: u64,
    /// Number of `meta` records in the slot.
    pub count: u64,
    /// Log index of the last entry that changed the slot (0: unknown, e.g. counted at
    /// open).
    pub last_index: u64,
}

impl SlotDigest {
    pub fn encode(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&self.xor.to_be_bytes());
        out[8..16].copy_from_slice(&self.count.to_be_bytes());
        out[16..].copy_from_slice(&self.last_index.to_be_bytes());
        out
    }

    pub fn decode(raw: &[u8]) -> Option<SlotDigest> {
        if raw.len() != 24 {
            return None;
        }
        let w = |i: usize| u64::from_be_bytes(raw[i..i + 8].try_into().expect("8 bytes"));
        Some(SlotDigest {
            xor: w(0),
            count: w(8),
            last_index: w(16),
        })
    }

    /// Same records (the hashes and counts agree).
    pub fn same_content(&self, other: &SlotDigest) -> bool {
        self.xor == other.xor && self.count == other.count
    }
}

/// A stable 64-bit hash of one `meta` record (key and value): the same on every node,
/// platform and build (not cryptographic).
pub fn record_hash(key: &[u8], value: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0x243F_6A88_85A3_08D3 ^ (key.len() as u64).wrapping_mul(K);
    let mix = |bytes: &[u8], h: &mut u64| {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            *h = (*h ^ w).wrapping_mul(K).rotate_left(29);
        }
        let rest = chunks.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        *h = (*h ^ u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56))
            .wrapping_mul(K)
            .rotate_left(29);
    };
    mix(key, &mut h);
    h ^= (value.len() as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    mix(value, &mut h);
    // murmur3's finalizer
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// The slot of a `meta` key (db u8, slot u16 BE, user key).
fn slot_of(meta_key: &[u8]) -> Option<u16> {
    (meta_key.len() >= 3).then(|| u16::from_be_bytes([meta_key[1], meta_key[2]]))
}

/// Deltas written between two folds into the base.
const FOLD_EVERY: u64 = 1024;
/// Slots per base chunk record.
const CHUNK_SLOTS: usize = 256;

/// The in-memory digests and where their persisted form stands.
pub(crate) struct DigestState {
    slots: Vec<SlotDigest>,
    /// Base chunks changed since the last fold (bit i: chunk i).
    dirty_chunks: u64,
    /// Sequence number of the next delta record.
    next_seq: u64,
    /// Delta records since the last fold.
    deltas: u64,
}

impl Default for DigestState {
    fn default() -> DigestState {
        DigestState {
            slots: vec![SlotDigest::default(); keys::SLOTS],
            dirty_chunks: 0,
            next_seq: 1,
            deltas: 0,
        }
    }
}

fn encode_delta(slots: &[(u16, SlotDigest)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(slots.len() * 26);
    for (slot, d) in slots {
        out.extend_from_slice(&slot.to_be_bytes());
        out.extend_from_slice(&d.encode());
    }
    out
}

fn decode_delta(raw: &[u8]) -> Option<Vec<(u16, SlotDigest)>> {
    if raw.len() % 26 != 0 {
        return None;
    }
    raw.chunks_exact(26)
        .map(|c| {
            Some((
                u16::from_be_bytes([c[0], c[1]]),
                SlotDigest::decode(&c[2..])?,
            ))
        })
        .collect()
}

fn encode_chunk(slots: &[SlotDigest], chunk: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(CHUNK_SLOTS * 24);
    for d in &slots[chunk * CHUNK_SLOTS..(chunk + 1) * CHUNK_SLOTS] {
        out.extend_from_slice(&d.encode());
    }
    out
}

/// What a batch does to the digests.
pub(crate) enum Change {
    /// No `meta` record changes.
    None,
    /// New digests of these slots (written in the batch, installed after it); `folded`:
    /// the batch also rewrote the base and dropped every delta.
    Slots {
        slots: Vec<(u16, SlotDigest)>,
        folded: bool,
    },
    /// A range delete of `meta` records: recount after the batch.
    Recount,
}

impl Storage {
    /// The current `meta` record of `key` (the key tier first), without fault injection.
    fn meta_now(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let crate::tier::Lookup::Hit(v) = self.tier.get(key, None) {
            return Ok(v);
        }
        self.db.get_cf(self.cf(keys::CF_META), key)
    }

    /// Adds the digest records `effects` change to batch `b` (entry `index`; 0 keeps each
    /// slot's last index).
    pub(crate) fn digest_change(
        &self,
        index: u64,
        effects: &Effects,
        b: &mut WriteBatch,
    ) -> Result<Change> {
        let mut latest: HashMap<&[u8], Option<&[u8]>> = HashMap::new();
        for w in &effects.writes {
            match w {
                Write::DeleteRange(Cf::Meta, _, _) => {
                    b.put_cf(self.cf(keys::CF_SM), keys::sm::DIGEST_DIRTY, b"1");
                    return Ok(Change::Recount);
                }
                Write::Put(Cf::Meta, k, v) => {
                    latest.insert(k.as_slice(), Some(v.as_slice()));
                }
                Write::Delete(Cf::Meta, k) => {
                    latest.insert(k.as_slice(), None);
                }
                _ => {}
            }
        }
        if latest.is_empty() {
            return Ok(Change::None);
        }
        let mem = self.digests.lock().unwrap_or_else(|e| e.into_inner());
        let mut slots: HashMap<u16, SlotDigest> = HashMap::new();
        for (k, new) in latest {
            let Some(slot) = slot_of(k) else { continue };
            let old = self.meta_now(k)?;
            let d = slots.entry(slot).or_insert(mem.slots[slot as usize]);
            if let Some(old) = &old {
                d.xor ^= record_hash(k, old);
                d.count = d.count.saturating_sub(1);
            }
            if let Some(new) = new {
                d.xor ^= record_hash(k, new);
                d.count += 1;
            }
            if index > 0 {
                d.last_index = index;
            }
        }
        let mut out: Vec<(u16, SlotDigest)> = slots.into_iter().collect();
        out.sort_unstable_by_key(|(s, _)| *s);
        let sm = self.cf(keys::CF_SM);
        let folded = mem.deltas + 1 >= FOLD_EVERY;
        if folded {
            // The base takes every change so far (this batch's too); the deltas go.
            let mut all = mem.slots.clone();
            let mut dirty = mem.dirty_chunks;
            for (slot, d) in &out {
                all[*slot as usize] = *d;
                dirty |= 1 << (*slot as usize / CHUNK_SLOTS);
            }
            for chunk in 0..keys::SLOTS / CHUNK_SLOTS {
                if dirty & (1 << chunk) != 0 {
                    b.put_cf(
                        sm,
                        keys::sm::digest_chunk_key(chunk as u8),
                        encode_chunk(&all, chunk),
                    );
                }
            }
            let fam = keys::sm::DIGEST_DELTAS;
            b.delete_range_cf(sm, fam.start(), fam.end());
        } else {
            b.put_cf(
                sm,
                keys::sm::digest_delta_key(mem.next_seq),
                encode_delta(&out),
            );
        }
        Ok(Change::Slots { slots: out, folded })
    }

    /// Installs a batch's digest change in memory once the batch is written.
    pub(crate) fn digest_commit(&self, index: u64, change: Change) -> Result<()> {
        match change {
            Change::None => Ok(()),
            Change::Slots { slots, folded } => {
                let mut mem = self.digests.lock().unwrap_or_else(|e| e.into_inner());
                for (slot, d) in slots {
                    mem.slots[slot as usize] = d;
                    mem.dirty_chunks |= 1 << (slot as usize / CHUNK_SLOTS);
                }
                if folded {
                    mem.dirty_chunks = 0;
                    mem.deltas = 0;
                } else {
                    mem.deltas += 1;
                    mem.next_seq += 1;
                }
                Ok(())
            }
            Change::Recount => self.recount_digests(index),
        }
    }

    /// Recomputes every slot's digest from the `meta` records and stores them as a new
    /// base (all slots' last index set to `index`), then clears the dirty mark.
    pub fn recount_digests(&self, index: u64) -> Result<()> {
        let mut fresh = vec![SlotDigest::default(); keys::SLOTS];
        for item in self
            .db
            .iterator_cf(self.cf(keys::CF_META), IteratorMode::Start)
        {
            let (k, v) = item?;
            if let Some(slot) = slot_of(&k) {
                let d = &mut fresh[slot as usize];
                d.xor ^= record_hash(&k, &v);
                d.count += 1;
            }
        }
        for d in fresh.iter_mut() {
            d.last_index = index;
        }
        let sm = self.cf(keys::CF_SM);
        let mut b = WriteBatch::default();
        for fam in [keys::sm::DIGESTS, keys::sm::DIGEST_DELTAS] {
            b.delete_range_cf(sm, fam.start(), fam.end());
        }
        for chunk in 0..keys::SLOTS / CHUNK_SLOTS {
            b.put_cf(
                sm,
                keys::sm::digest_chunk_key(chunk as u8),
                encode_chunk(&fresh, chunk),
            );
        }
        b.put_cf(sm, keys::sm::DIGEST_STATE, keys::sm::DIGEST_VERSION);
        b.delete_cf(sm, keys::sm::DIGEST_DIRTY);
        self.db.write_opt(b, &Self::unsynced())?;
        let mut mem = self.digests.lock().unwrap_or_else(|e| e.into_inner());
        mem.slots = fresh;
        mem.dirty_chunks = 0;
        mem.deltas = 0;
        Ok(())
    }

    /// Loads the stored digests into memory (at open and after a snapshot install):
    /// the base, then every delta in order; recounts them when they are missing (a data
    /// dir or snapshot of an older version) or marked dirty (a crash right after a range
    /// delete).
    pub(crate) fn load_digests(&self) -> Result<()> {
        let state = self.sm_get(keys::sm::DIGEST_STATE)?;
        let dirty = self.sm_get(keys::sm::DIGEST_DIRTY)?.is_some();
        if state.as_deref() != Some(keys::sm::DIGEST_VERSION) || dirty {
            tracing::info!("counting the keyspace digests (anti-entropy)");
            return self.recount_digests(0);
        }
        let mut fresh = DigestState::default();
        let mut bad = false;
        self.sm_scan(keys::sm::DIGESTS, &mut |k, v| match (
            keys::sm::digest_chunk(k),
            v.len() == CHUNK_SLOTS * 24,
        ) {
            (Some(c), true) if (c as usize) < keys::SLOTS / CHUNK_SLOTS => {
                for (i, raw) in v.chunks_exact(24).enumerate() {
                    if let Some(d) = SlotDigest::decode(raw) {
                        fresh.slots[c as usize * CHUNK_SLOTS + i] = d;
                    }
                }
            }
            _ => bad = true,
        })?;
        self.sm_scan(keys::sm::DIGEST_DELTAS, &mut |k, v| match (
            keys::sm::digest_delta_seq(k),
            decode_delta(v),
        ) {
            (Some(seq), Some(slots)) => {
                for (slot, d) in slots {
                    if (slot as usize) < keys::SLOTS {
                        fresh.slots[slot as usize] = d;
                        fresh.dirty_chunks |= 1 << (slot as usize / CHUNK_SLOTS);
                    }
                }
                fresh.deltas += 1;
                fresh.next_seq = fresh.next_seq.max(seq + 1);
            }
            _ => bad = true,
        })?;
        if bad {
            tracing::warn!("unreadable keyspace digest records: counting them again");
            return self.recount_digests(0);
        }
        *self.digests.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    fn sm_scan(&self, fam: keys::sm::Family, f: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_upper_bound(fam.end().to_vec());
        for item in self.db.iterator_cf_opt(
            self.cf(keys::CF_SM),
            ro,
            IteratorMode::From(fam.start(), rocksdb::Direction::Forward),
        ) {
            let (k, v) = item?;
            f(&k, &v);
        }
        Ok(())
    }

    /// Every slot's digest now, with the raw applied record of the same point (no batch
    /// is written while they are read).
    pub fn digests(&self) -> Result<(Option<Vec<u8>>, Vec<SlotDigest>)> {
        let _w = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let applied = self.sm_get(keys::sm::APPLIED)?;
        let d = self
            .digests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .slots
            .clone();
        Ok((applied, d))
    }

    /// One slot's digest now (what the state machine checks a repair against).
    pub fn slot_digest(&self, slot: u16) -> SlotDigest {
        self.digests.lock().unwrap_or_else(|e| e.into_inner()).slots[slot as usize % keys::SLOTS]
    }

    /// The `meta` records of `slot` (all databases) with their hashes, and the slot's
    /// digest, at one point. The scan reads a RocksDB snapshot taken with the digest
    /// under the write lock, so writes are held up only for taking the snapshot.
    #[allow(clippy::type_complexity)]
    pub fn slot_records(&self, slot: u16) -> Result<(SlotDigest, Vec<(Vec<u8>, u64)>)> {
        let (d, snap) = {
            let _w = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
            (self.slot_digest(slot), self.db.snapshot())
        };
        Ok((d, self.scan_slot(&snap, slot)?))
    }

    fn scan_slot(&self, snap: &rocksdb::Snapshot<'_>, slot: u16) -> Result<Vec<(Vec<u8>, u64)>> {
        let mut out = Vec::new();
        for db in 0..keys::DATABASES as u8 {
            let start = keys::meta_slot_start(db, slot);
            let mut ro = rocksdb::ReadOptions::default();
            ro.set_iterate_upper_bound(keys::meta_slot_end(db, slot));
            ro.set_snapshot(snap);
            for item in self.db.iterator_cf_opt(
                self.cf(keys::CF_META),
                ro,
                IteratorMode::From(&start, rocksdb::Direction::Forward),
            ) {
                let (k, v) = item?;
                out.push((k.to_vec(), record_hash(&k, &v)));
            }
        }
        Ok(out)
    }

    /// Recomputes `slot`'s digest from its records; when the stored one disagrees (the
    /// data changed behind the write path), stores the recomputed one (keeping the
    /// slot's last index) and returns true. The scan runs on a snapshot taken with the
    /// digest; the fix is stored only if no batch changed the slot meanwhile (otherwise
    /// the next pass looks again).
    pub fn scrub_slot(&self, slot: u16) -> Result<bool> {
        let (seen, recs) = self.slot_records(slot)?;
        let mut fresh = SlotDigest {
            last_index: seen.last_index,
            ..Default::default()
        };
        for (_, h) in &recs {
            fresh.xor ^= h;
            fresh.count += 1;
        }
        if seen.same_content(&fresh) {
            return Ok(false);
        }
        let _w = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let stored = self.slot_digest(slot);
        if stored != seen {
            return Ok(false);
        }
        tracing::warn!(
            "scrub: slot {slot} digest disagrees with its records ({} stored, {} found); anti-entropy will repair it from the leader",
            stored.count,
            fresh.count
        );
        // Stored as a delta, so a reload replays it after the deltas before it.
        let mut mem = self.digests.lock().unwrap_or_else(|e| e.into_inner());
        self.db.put_cf_opt(
            self.cf(keys::CF_SM),
            keys::sm::digest_delta_key(mem.next_seq),
            encode_delta(&[(slot, fresh)]),
            &Self::unsynced(),
        )?;
        mem.next_seq += 1;
        mem.deltas += 1;
        mem.slots[slot as usize] = fresh;
        mem.dirty_chunks |= 1 << (slot as usize / CHUNK_SLOTS);
        Ok(true)
    }

    /// Debugging and tests only: replaces (or deletes) a `meta` record directly, behind
    /// the write path's back (no digest change, no log entry): a corruption for the
    /// scrub and anti-entropy to find.
    pub fn corrupt_meta(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let _w = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let cf = self.cf(keys::CF_META);
        match value {
            Some(v) => self.db.put_cf(cf, key, v)?,
            None => self.db.delete_cf(cf, key)?,
        }
        self.tier.begin_replace();
        self.tier.end_replace();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_round_trip() {
        let d = SlotDigest {
            xor: 1,
            count: 2,
            last_index: 3,
        };
        let v = vec![(0u16, d), (16383u16, SlotDigest::default())];
        assert_eq!(decode_delta(&encode_delta(&v)), Some(v));
        assert_eq!(decode_delta(&[0; 25]), None);
    }

    #[test]
    fn digest_records_round_trip() {
        let d = SlotDigest {
            xor: 0xdead_beef_0102_0304,
            count: 7,
            last_index: 99,
        };
        assert_eq!(SlotDigest::decode(&d.encode()), Some(d));
        assert_eq!(SlotDigest::decode(&[1, 2, 3]), None);
    }

    /// The hash is fixed: digests are stored and compared across nodes and builds.
    #[test]
    fn record_hash_is_stable_and_sensitive() {
        assert_eq!(record_hash(b"", b""), record_hash(b"", b""));
        let a = record_hash(b"\0\x01\x02key", b"value");
        assert_ne!(a, record_hash(b"\0\x01\x02key", b"valuf"));
        assert_ne!(a, record_hash(b"\0\x01\x02kez", b"value"));
        // Moving bytes between key and value changes the hash.
        assert_ne!(record_hash(b"ab", b"c"), record_hash(b"a", b"bc"));
        assert_eq!(a, 0xaf77_dd5a_1d29_867d, "record_hash changed: {a:#x}");
    }
}
