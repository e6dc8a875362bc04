//! Per-node access statistics for eviction, OBJECT IDLETIME and OBJECT FREQ.
//!
//! A fixed table of 2^18 slots (2 MiB), indexed by a hash of (db, key): each slot packs
//! a 16-bit tag of the hash, Redis's LRU clock (seconds, 24 bits), Redis's LFU
//! counter (8 bits, logarithmic, LFU_INIT_VAL 5, log factor 10) and the LFU decay
//! clock (minutes, 16 bits). Reads (the read path) and writes (the apply) touch it with
//! one relaxed atomic load and store: no lock, no allocation. It is bounded, lossy
//! (two keys sharing a slot overwrite each other; a tag mismatch reads as unknown) and
//! local to the node, like Redis's own per-object fields: it only steers which keys
//! the leader proposes to evict, never what an apply does.

use std::sync::atomic::{AtomicU64, Ordering};

const BITS: u32 = 18;
const SLOTS: usize = 1 << BITS;
pub const LFU_INIT_VAL: u8 = 5;
const LFU_LOG_FACTOR: u64 = 10;
/// Minutes per one step of LFU decay (Redis's lfu-decay-time default).
const LFU_DECAY_MIN: u64 = 1;

static TABLE: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

#[inline]
fn hash(db: u8, key: &[u8]) -> u64 {
    // FNV-1a then a final mix: cheap for short keys, fixed (no per-process seed needed).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ db as u64;
    for &b in key {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

#[inline]
fn pack(tag: u64, lru_s: u64, lfu: u8, decay_min: u64) -> u64 {
    (tag << 48) | ((lru_s & 0xff_ffff) << 24) | ((lfu as u64) << 16) | (decay_min & 0xffff)
}

/// What the table knows of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Seconds (mod 2^24) of the last access.
    pub lru_s: u64,
    /// LFU counter, decayed to now.
    pub freq: u8,
}

/// Records an access to (db, key) at `now_ms`.
#[inline]
pub fn touch(db: u8, key: &[u8], now_ms: u64) {
    let h = hash(db, key);
    let slot = &TABLE[(h as usize) & (SLOTS - 1)];
    let tag = h >> 48;
    let old = slot.load(Ordering::Relaxed);
    let now_min = now_ms / 60_000;
    let mut counter = if old >> 48 == tag && old != 0 {
        decayed((old >> 16) as u8, old & 0xffff, now_min)
    } else {
        LFU_INIT_VAL
    };
    // Redis's LFULogIncr: the higher the counter, the less likely it grows.
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT_VAL) as u64;
        let p_den = base * LFU_LOG_FACTOR + 1;
        // A cheap pseudo-random draw from the hash and the time.
        let r = (h ^ now_ms.wrapping_mul(0x9e37_79b9_7f4a_7c15)).rotate_left(17) % p_den;
        if r == 0 {
            counter += 1;
        }
    }
    slot.store(
        pack(tag, now_ms / 1000, counter, now_min),
        Ordering::Relaxed,
    );
}

fn decayed(counter: u8, at_min: u64, now_min: u64) -> u8 {
    let elapsed = (now_min & 0xffff).wrapping_sub(at_min) & 0xffff;
    let periods = elapsed / LFU_DECAY_MIN;
    counter.saturating_sub(periods.min(255) as u8)
}

/// The access record of (db, key), if the table holds one.
pub fn get(db: u8, key: &[u8], now_ms: u64) -> Option<Access> {
    let h = hash(db, key);
    let v = TABLE[(h as usize) & (SLOTS - 1)].load(Ordering::Relaxed);
    if v == 0 || v >> 48 != h >> 48 {
        return None;
    }
    Some(Access {
        lru_s: (v >> 24) & 0xff_ffff,
        freq: decayed((v >> 16) as u8, v & 0xffff, now_ms / 60_000),
    })
}

/// Seconds since the last access of (db, key); `fallback_ms` (the key's last write
/// time) when the table does not know it.
pub fn idle_secs(db: u8, key: &[u8], now_ms: u64, fallback_ms: u64) -> u64 {
    match get(db, key, now_ms) {
        Some(a) => ((now_ms / 1000) & 0xff_ffff).wrapping_sub(a.lru_s) & 0xff_ffff,
        None => now_ms.saturating_sub(fallback_ms) / 1000,
    }
}

/// The LFU counter of (db, key) (LFU_INIT_VAL when unknown).
pub fn freq(db: u8, key: &[u8], now_ms: u64) -> u8 {
    get(db, key, now_ms).map_or(LFU_INIT_VAL, |a| a.freq)
}

/// Commands that look at a key without touching it (Redis's LOOKUP_NOTOUCH).
const NO_TOUCH: [&str; 8] = [
    "object",
    "type",
    "exists",
    "ttl",
    "pttl",
    "expiretime",
    "pexpiretime",
    "memory",
];

/// The read path's hook: records an access to each key of a read command (a client
/// with CLIENT NO-TOUCH on does not call it). No allocation for fixed key positions.
pub fn touch_read(spec: &crate::CommandSpec, db: u8, argv: &[Vec<u8>], now_ms: u64) {
    if NO_TOUCH.contains(&spec.name) {
        return;
    }
    let ks = spec.keys;
    if ks.find.is_some() {
        for i in spec.key_positions(argv) {
            if let Some(k) = argv.get(i) {
                touch(db, k, now_ms);
            }
        }
        return;
    }
    if ks.first <= 0 || ks.step <= 0 {
        return;
    }
    let argc = argv.len() as i32;
    let last = if ks.last < 0 { argc + ks.last } else { ks.last };
    let mut i = ks.first;
    while i <= last && i < argc {
        touch(db, &argv[i as usize], now_ms);
        i += ks.step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touches_update_idle_time_and_frequency() {
        let t0 = 1_000_000_000u64;
        assert_eq!(idle_secs(3, b"never", t0, t0 - 7_000), 7);
        touch(3, b"k", t0);
        assert_eq!(idle_secs(3, b"k", t0 + 5_000, 0), 5);
        let f0 = freq(3, b"k", t0);
        for i in 0..10_000 {
            touch(3, b"k", t0 + i);
        }
        let f1 = freq(3, b"k", t0 + 10_000);
        assert!(f1 > f0 && f1 < 255, "{f0} {f1}");
        // Decay: one step per minute without access.
        assert_eq!(
            freq(3, b"k", t0 + 10_000 + 3 * 60_000),
            f1.saturating_sub(3)
        );
    }
}
