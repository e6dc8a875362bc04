//! The RocksDB key/value layout of Meridian: pure encode/decode, no RocksDB.
//! [`store`] is the storage interface ([`store::Store`], [`store::Effects`]) that the
//! engine reads and writes through and the `storage` crate implements over RocksDB.
//!
//! Column families and their keys:
//!
//! | cf         | key                                         | value                 |
//! |------------|---------------------------------------------|-----------------------|
//! | `meta`     | db u8, slot u16 BE, user key                | [`Meta`] encoded      |
//! | `data`     | db u8, slot u16 BE, keylen u32 BE, key, version u64 BE, sub key | element value |
//! | `expire`   | expire_at_ms u64 BE, meta key               | empty                 |
//! | `raft_log` | index u64 BE                                | a Raft entry          |
//! | `raft`     | fixed names (vote, committed, purged)      | bincode               |
//! | `sm`       | the state machine's own records, see [`sm`] | see [`sm`]            |
//!
//! The slot is Redis Cluster's hash slot (CRC16 of the key or its `{hash tag}`, mod
//! 16384). Prefixing meta keys with it makes SCAN's cursor a slot number (stateless
//! and identical on every replica) and gives anti-entropy its per-slot ranges.
//! Sub-records of collections carry the key's `version`, so deleting or overwriting a
//! collection only rewrites its meta record plus one range delete of the old version's
//! sub-records.

mod crc16;
pub mod hash;
pub mod hlc;
pub mod list;
mod meta;
pub mod rdb;
pub mod sm;
pub mod store;
pub mod stream;
pub mod zset;

pub use crc16::{crc16, key_slot, SLOTS};
pub use meta::{Kind, Meta, MetaError};

/// Column family names, in the order they are created.
pub const CF_META: &str = "meta";
pub const CF_DATA: &str = "data";
pub const CF_EXPIRE: &str = "expire";
pub const CF_RAFT_LOG: &str = "raft_log";
pub const CF_RAFT: &str = "raft";
pub const CF_SM: &str = "sm";
pub const ALL_CFS: [&str; 6] = [CF_META, CF_DATA, CF_EXPIRE, CF_RAFT_LOG, CF_RAFT, CF_SM];

/// Column families the state machine owns (everything a snapshot carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cf {
    Meta,
    Data,
    Expire,
    Sm,
}

impl Cf {
    pub fn name(self) -> &'static str {
        match self {
            Cf::Meta => CF_META,
            Cf::Data => CF_DATA,
            Cf::Expire => CF_EXPIRE,
            Cf::Sm => CF_SM,
        }
    }
}

/// Version of the record layout (every column family's keys and values). Backups carry
/// it; a build reads its own and older layouts and refuses newer ones. Bump it with any
/// layout change. 2: meta records of format 3 (with an HLC stamp), tombstones and the
/// `hlc` record in `sm`.
pub const LAYOUT_VERSION: u32 = 2;

/// Number of logical databases (SELECT 0..15).
pub const DATABASES: usize = 16;

/// `meta` key of `key` in database `db`.
pub fn meta_key(db: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + key.len());
    out.push(db);
    out.extend_from_slice(&key_slot(key).to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// Splits a `meta` key back into (db, slot, user key).
pub fn decode_meta_key(raw: &[u8]) -> Option<(u8, u16, &[u8])> {
    if raw.len() < 3 {
        return None;
    }
    let slot = u16::from_be_bytes([raw[1], raw[2]]);
    Some((raw[0], slot, &raw[3..]))
}

/// First `meta` key of a database.
pub fn meta_db_start(db: u8) -> Vec<u8> {
    vec![db]
}

/// First `meta` key past a database (exclusive upper bound).
pub fn meta_db_end(db: u8) -> Vec<u8> {
    // db is at most 15, so db + 1 never overflows.
    vec![db + 1]
}

/// First `meta` key of a slot in a database.
pub fn meta_slot_start(db: u8, slot: u16) -> Vec<u8> {
    let mut out = vec![db];
    out.extend_from_slice(&slot.to_be_bytes());
    out
}

/// Exclusive upper bound of a slot's `meta` keys.
pub fn meta_slot_end(db: u8, slot: u16) -> Vec<u8> {
    if slot as usize + 1 >= SLOTS {
        meta_db_end(db)
    } else {
        meta_slot_start(db, slot + 1)
    }
}

/// Prefix of every sub-record of one version of a key.
pub fn data_prefix(db: u8, key: &[u8], version: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(15 + key.len());
    out.push(db);
    out.extend_from_slice(&key_slot(key).to_be_bytes());
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&version.to_be_bytes());
    out
}

/// A sub-record key: the version prefix followed by the sub key (field, member, ...).
pub fn data_key(db: u8, key: &[u8], version: u64, sub: &[u8]) -> Vec<u8> {
    let mut out = data_prefix(db, key, version);
    out.extend_from_slice(sub);
    out
}

/// Splits a `data` key into (db, user key, version, sub key).
pub fn decode_data_key(raw: &[u8]) -> Option<(u8, &[u8], u64, &[u8])> {
    if raw.len() < 7 {
        return None;
    }
    let db = raw[0];
    let klen = u32::from_be_bytes([raw[3], raw[4], raw[5], raw[6]]) as usize;
    let kend = 7usize.checked_add(klen)?;
    if raw.len() < kend + 8 {
        return None;
    }
    let key = &raw[7..kend];
    let version = u64::from_be_bytes(raw[kend..kend + 8].try_into().ok()?);
    Some((db, key, version, &raw[kend + 8..]))
}

/// `expire` index key: the time first so a range scan finds what is due.
pub fn expire_key(expire_at_ms: u64, db: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(11 + key.len());
    out.extend_from_slice(&expire_at_ms.to_be_bytes());
    out.extend_from_slice(&meta_key(db, key));
    out
}

/// Splits an `expire` key into (expire_at_ms, db, user key).
pub fn decode_expire_key(raw: &[u8]) -> Option<(u64, u8, &[u8])> {
    if raw.len() < 8 {
        return None;
    }
    let at = u64::from_be_bytes(raw[..8].try_into().ok()?);
    let (db, _slot, key) = decode_meta_key(&raw[8..])?;
    Some((at, db, key))
}

/// Exclusive upper bound of `expire` keys due at or before `now_ms`.
pub fn expire_due_end(now_ms: u64) -> Vec<u8> {
    now_ms.saturating_add(1).to_be_bytes().to_vec()
}

/// `raft_log` key of a log index (big-endian so keys sort by index).
pub fn log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

pub fn decode_log_key(raw: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(raw.try_into().ok()?))
}

/// Fixed record names in the `raft` column family.
pub const RAFT_VOTE: &[u8] = b"vote";
pub const RAFT_COMMITTED: &[u8] = b"committed";
pub const RAFT_PURGED: &[u8] = b"purged";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn meta_key_roundtrip(db in 0u8..16, key in proptest::collection::vec(any::<u8>(), 0..64)) {
            let raw = meta_key(db, &key);
            let (d, slot, k) = decode_meta_key(&raw).unwrap();
            prop_assert_eq!(d, db);
            prop_assert_eq!(slot, key_slot(&key));
            prop_assert_eq!(k, &key[..]);
            prop_assert!(raw >= meta_db_start(db) && raw < meta_db_end(db));
            prop_assert!(raw >= meta_slot_start(db, slot) && raw < meta_slot_end(db, slot));
        }

        #[test]
        fn meta_keys_of_one_slot_keep_key_order(db in 0u8..16, a in proptest::collection::vec(any::<u8>(), 0..32), b in proptest::collection::vec(any::<u8>(), 0..32)) {
            // Same hash tag forces the same slot; then order must be the user key order.
            let mut ka = b"{t}".to_vec(); ka.extend_from_slice(&a);
            let mut kb = b"{t}".to_vec(); kb.extend_from_slice(&b);
            prop_assert_eq!(meta_key(db, &ka).cmp(&meta_key(db, &kb)), ka.cmp(&kb));
        }

        #[test]
        fn data_key_roundtrip_and_prefix(db in 0u8..16, key in proptest::collection::vec(any::<u8>(), 0..64), v in any::<u64>(), sub in proptest::collection::vec(any::<u8>(), 0..64)) {
            let raw = data_key(db, &key, v, &sub);
            prop_assert!(raw.starts_with(&data_prefix(db, &key, v)));
            let (d, k, ver, s) = decode_data_key(&raw).unwrap();
            prop_assert_eq!(d, db);
            prop_assert_eq!(k, &key[..]);
            prop_assert_eq!(ver, v);
            prop_assert_eq!(s, &sub[..]);
        }

        #[test]
        fn data_keys_keep_sub_key_order(key in proptest::collection::vec(any::<u8>(), 0..16), v in any::<u64>(), a in proptest::collection::vec(any::<u8>(), 0..16), b in proptest::collection::vec(any::<u8>(), 0..16)) {
            prop_assert_eq!(data_key(0, &key, v, &a).cmp(&data_key(0, &key, v, &b)), a.cmp(&b));
        }

        #[test]
        fn one_keys_prefix_never_covers_another_key(k1 in proptest::collection::vec(any::<u8>(), 0..16), k2 in proptest::collection::vec(any::<u8>(), 0..16), v in any::<u64>(), sub in proptest::collection::vec(any::<u8>(), 0..16)) {
            prop_assume!(k1 != k2);
            prop_assert!(!data_key(0, &k2, v, &sub).starts_with(&data_prefix(0, &k1, v)));
        }

        #[test]
        fn expire_keys_sort_by_time(t1 in any::<u64>(), t2 in any::<u64>(), key in proptest::collection::vec(any::<u8>(), 0..16)) {
            let a = expire_key(t1, 3, &key);
            let b = expire_key(t2, 3, &key);
            if t1 < t2 { prop_assert!(a < b); }
            prop_assert_eq!(decode_expire_key(&a).unwrap(), (t1, 3u8, &key[..]));
            prop_assert_eq!(a < expire_due_end(t2), t1 <= t2);
        }

        #[test]
        fn log_keys_sort_by_index(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(log_key(a).cmp(&log_key(b)), a.cmp(&b));
            prop_assert_eq!(decode_log_key(&log_key(a)), Some(a));
        }

        #[test]
        fn decoders_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode_meta_key(&raw);
            let _ = decode_data_key(&raw);
            let _ = decode_expire_key(&raw);
            let _ = Meta::decode(&raw);
        }
    }
}
