//! Hybrid logical clock stamps: the last-writer-wins clock of the global database.
//!
//! Every applied log entry gets one [`Stamp`], fixed by the state machine as a pure
//! function of the entry and the previous stamp (so every replica computes the same one):
//! the physical part is the leader's time in the entry, never below the previous entry's,
//! the logical part counts entries within one millisecond, and the node is the leader that
//! proposed the entry. Keys keep the stamp of their last write, deletes leave a tombstone
//! with theirs, and when two histories of the same database meet (a primary region that
//! failed over and came back) each key keeps the side with the greater stamp.
//!
//! The order is (physical ms, logical, node): the node only breaks ties between stamps
//! made by two leaders in the same millisecond with the same counter, which can only
//! happen across a fork.

/// One point of the hybrid logical clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Stamp {
    /// Physical part: unix milliseconds (48 bits used) and a logical counter (16 bits),
    /// packed as `ms << 16 | logical` so that the packed value orders like the pair.
    pub hlc: u64,
    /// The node (leader) that made the stamp: the tiebreaker.
    pub node: u64,
}

/// Bits of the logical counter in [`Stamp::hlc`].
pub const LOGICAL_BITS: u32 = 16;

impl Stamp {
    pub const ZERO: Stamp = Stamp { hlc: 0, node: 0 };

    pub fn new(ms: u64, logical: u16, node: u64) -> Stamp {
        Stamp {
            hlc: (ms << LOGICAL_BITS) | logical as u64,
            node,
        }
    }

    /// Physical milliseconds.
    pub fn ms(&self) -> u64 {
        self.hlc >> LOGICAL_BITS
    }

    /// Logical counter within [`Stamp::ms`].
    pub fn logical(&self) -> u16 {
        (self.hlc & ((1 << LOGICAL_BITS) - 1)) as u16
    }

    /// The stamp of the entry after one stamped `self`: proposed by `node` at leader
    /// time `now_ms`. Never smaller than `self` (the clock does not go backwards, whatever
    /// the leader's wall clock does); the logical counter carries into the milliseconds
    /// when it overflows, which keeps the order.
    pub fn next(&self, now_ms: u64, node: u64) -> Stamp {
        let wall = now_ms.min((1 << (64 - LOGICAL_BITS)) - 1) << LOGICAL_BITS;
        let hlc = if wall > self.hlc {
            wall
        } else {
            self.hlc.saturating_add(1)
        };
        Stamp { hlc, node }
    }

    /// 16 bytes: hlc then node, both big-endian (bytes order like stamps).
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.hlc.to_be_bytes());
        out[8..].copy_from_slice(&self.node.to_be_bytes());
        out
    }

    pub fn decode(raw: &[u8]) -> Option<Stamp> {
        if raw.len() < 16 {
            return None;
        }
        Some(Stamp {
            hlc: u64::from_be_bytes(raw[..8].try_into().ok()?),
            node: u64::from_be_bytes(raw[8..16].try_into().ok()?),
        })
    }
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}@{}", self.ms(), self.logical(), self.node)
    }
}

/// Last-writer-wins: does a version stamped `incoming` replace what a node holds for the
/// same key, stamped `held` (its value's stamp or its tombstone's; `None` when the node
/// has neither: never written, or the tombstone's grace period is over)? Equal stamps
/// are the same write: nothing to replace.
pub fn lww_replaces(held: Option<Stamp>, incoming: Stamp) -> bool {
    match held {
        None => true,
        Some(h) => incoming > h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_ms_then_logical_then_node() {
        let a = Stamp::new(10, 5, 9);
        assert!(Stamp::new(11, 0, 1) > a);
        assert!(Stamp::new(10, 6, 1) > a);
        assert!(Stamp::new(10, 5, 10) > a);
        assert!(Stamp::new(10, 5, 8) < a);
        assert_eq!((a.ms(), a.logical(), a.node), (10, 5, 9));
    }

    #[test]
    fn next_never_goes_backwards() {
        let s = Stamp::new(1000, 0, 1);
        // Wall clock ahead: take it, logical 0.
        assert_eq!(s.next(1005, 2), Stamp::new(1005, 0, 2));
        // Same millisecond or a clock that went back: count.
        assert_eq!(s.next(1000, 1), Stamp::new(1000, 1, 1));
        assert_eq!(s.next(10, 1), Stamp::new(1000, 1, 1));
        // The counter carries into the milliseconds.
        let full = Stamp::new(1000, u16::MAX, 1);
        assert_eq!(full.next(0, 1), Stamp::new(1001, 0, 1));
        assert!(full.next(0, 1) > full);
    }

    #[test]
    fn encoding_round_trips_and_orders_like_stamps() {
        let a = Stamp::new(1_700_000_000_000, 3, 7);
        let b = Stamp::new(1_700_000_000_000, 3, 8);
        assert_eq!(Stamp::decode(&a.encode()), Some(a));
        assert!(a.encode() < b.encode());
        assert_eq!(Stamp::decode(&[0; 15]), None);
    }

    #[test]
    fn lww_keeps_the_greater_stamp() {
        let old = Stamp::new(5, 0, 1);
        let new = Stamp::new(6, 0, 2);
        assert!(lww_replaces(None, old));
        assert!(lww_replaces(Some(old), new));
        assert!(!lww_replaces(Some(new), old));
        assert!(!lww_replaces(Some(new), new));
    }
}
