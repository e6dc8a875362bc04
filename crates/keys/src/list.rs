//! Byte layouts of the list type.
//!
//! A list is its key's meta record (kind List, `len` = element count) whose `inline`
//! holds the bounds `head` and `tail` (16 bytes, two big-endian i64): the elements sit
//! at indices `head..tail` (tail exclusive), one `data` record each whose sub key is
//! the index in [`encode_index`] form, so byte order is index order and a bounded scan
//! of the key's version prefix walks the list in order.

use crate::{data_key, decode_data_key};

/// Length of an encoded element index.
pub const INDEX_LEN: usize = 8;

/// Length of the encoded bounds in the meta record's `inline`.
pub const BOUNDS_LEN: usize = 16;

/// The sub key of list index `i`: its 8 big-endian bytes with the sign bit flipped, so
/// byte order is numeric order.
#[inline]
pub fn encode_index(i: i64) -> [u8; INDEX_LEN] {
    ((i as u64) ^ (1 << 63)).to_be_bytes()
}

/// The index of an element sub key (None unless it is exactly [`INDEX_LEN`] bytes).
#[inline]
pub fn decode_index(sub: &[u8]) -> Option<i64> {
    let b: [u8; INDEX_LEN] = sub.try_into().ok()?;
    Some((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}

/// The `data` key of the element at index `i` of incarnation `version` of list `key`.
#[inline]
pub fn element_key(db: u8, key: &[u8], version: u64, i: i64) -> Vec<u8> {
    data_key(db, key, version, &encode_index(i))
}

/// The index of the element whose `data` key is `raw` (None if `raw` is not one).
#[inline]
pub fn decode_element_key(raw: &[u8]) -> Option<i64> {
    let (_, _, _, sub) = decode_data_key(raw)?;
    decode_index(sub)
}

/// The meta record's `inline` for bounds `head..tail`.
#[inline]
pub fn encode_bounds(head: i64, tail: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(BOUNDS_LEN);
    out.extend_from_slice(&head.to_be_bytes());
    out.extend_from_slice(&tail.to_be_bytes());
    out
}

/// (head, tail) from a meta record's `inline` (None unless it is exactly
/// [`BOUNDS_LEN`] bytes).
#[inline]
pub fn decode_bounds(inline: &[u8]) -> Option<(i64, i64)> {
    let b: &[u8; BOUNDS_LEN] = inline.try_into().ok()?;
    let (h, t) = b.split_at(8);
    Some((
        i64::from_be_bytes(h.try_into().ok()?),
        i64::from_be_bytes(t.try_into().ok()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data_prefix;
    use proptest::prelude::*;

    #[test]
    fn encoded_indexes_keep_numeric_order() {
        let xs = [i64::MIN, -1_000_000, -2, -1, 0, 1, 2, 1_000_000, i64::MAX];
        for w in xs.windows(2) {
            assert!(
                encode_index(w[0]) < encode_index(w[1]),
                "{} < {}",
                w[0],
                w[1]
            );
        }
        for x in xs {
            assert_eq!(decode_index(&encode_index(x)), Some(x));
        }
        assert_eq!(encode_index(0), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode_index(&[0; 7]), None);
        assert_eq!(decode_index(&[0; 9]), None);
    }

    proptest! {
        #[test]
        fn index_roundtrip_and_order(a in any::<i64>(), b in any::<i64>()) {
            prop_assert_eq!(decode_index(&encode_index(a)), Some(a));
            prop_assert_eq!(encode_index(a).cmp(&encode_index(b)), a.cmp(&b));
        }

        #[test]
        fn element_key_roundtrip(db in 0u8..16, key in proptest::collection::vec(any::<u8>(), 0..32), v in any::<u64>(), i in any::<i64>(), j in any::<i64>()) {
            let raw = element_key(db, &key, v, i);
            prop_assert!(raw.starts_with(&data_prefix(db, &key, v)));
            prop_assert_eq!(decode_element_key(&raw), Some(i));
            prop_assert_eq!(raw.cmp(&element_key(db, &key, v, j)), i.cmp(&j));
        }

        #[test]
        fn bounds_roundtrip(head in any::<i64>(), tail in any::<i64>()) {
            let raw = encode_bounds(head, tail);
            prop_assert_eq!(raw.len(), BOUNDS_LEN);
            prop_assert_eq!(decode_bounds(&raw), Some((head, tail)));
        }

        #[test]
        fn decoders_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode_index(&raw);
            let _ = decode_element_key(&raw);
            prop_assert_eq!(decode_bounds(&raw).is_some(), raw.len() == BOUNDS_LEN);
        }
    }
}
