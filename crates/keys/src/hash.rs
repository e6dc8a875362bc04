//! Byte layouts of the hash type.
//!
//! A hash is its key's meta record (kind Hash) plus one `data` record per field, the
//! field being the sub key. A field record's value is a tag byte, then the field value:
//! `0, value` for a field without TTL, `1, expire_at_ms (u64 BE), value` for one with
//! ([`encode_field`]). The meta record's `inline` is empty when no field has a TTL,
//! else 8 bytes: the TTL floor, a lower bound of every field TTL in the hash, as a
//! big-endian u64 ([`encode_ttl_floor`]).

/// Tag of a field record without TTL.
pub const TAG_PLAIN: u8 = 0;
/// Tag of a field record with a TTL.
pub const TAG_TTL: u8 = 1;

/// A field record holding `value`, with TTL `expire_at_ms` (0 = none).
#[inline]
pub fn encode_field(expire_at_ms: u64, value: &[u8]) -> Vec<u8> {
    if expire_at_ms == 0 {
        let mut out = Vec::with_capacity(1 + value.len());
        out.push(TAG_PLAIN);
        out.extend_from_slice(value);
        out
    } else {
        let mut out = Vec::with_capacity(9 + value.len());
        out.push(TAG_TTL);
        out.extend_from_slice(&expire_at_ms.to_be_bytes());
        out.extend_from_slice(value);
        out
    }
}

/// (expire_at_ms or 0, value) of a field record; None if it is not one.
#[inline]
pub fn decode_field(raw: &[u8]) -> Option<(u64, &[u8])> {
    match *raw.first()? {
        TAG_PLAIN => Some((0, &raw[1..])),
        TAG_TTL if raw.len() >= 9 => {
            let at = u64::from_be_bytes(raw[1..9].try_into().ok()?);
            Some((at, &raw[9..]))
        }
        _ => None,
    }
}

/// The meta record's `inline` for a TTL floor (None = no field has a TTL).
#[inline]
pub fn encode_ttl_floor(floor: Option<u64>) -> Vec<u8> {
    floor.map_or_else(Vec::new, |f| f.to_be_bytes().to_vec())
}

/// The TTL floor of a hash from its meta record's `inline` (its first 8 bytes), None
/// when no field has a TTL.
#[inline]
pub fn decode_ttl_floor(inline: &[u8]) -> Option<u64> {
    let b = inline.get(..8)?;
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn field_records_are_tagged() {
        assert_eq!(encode_field(0, b"v"), vec![TAG_PLAIN, b'v']);
        assert_eq!(encode_field(1, b"").len(), 9);
        assert_eq!(decode_field(&[]), None);
        assert_eq!(decode_field(&[TAG_TTL, 0, 0]), None);
        assert_eq!(decode_field(&[7, 1]), None);
        assert_eq!(decode_ttl_floor(&[]), None);
    }

    proptest! {
        #[test]
        fn field_roundtrip(at in any::<u64>(), value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let raw = encode_field(at, &value);
            prop_assert_eq!(decode_field(&raw), Some((at, &value[..])));
        }

        #[test]
        fn ttl_floor_roundtrip(floor in proptest::option::of(any::<u64>())) {
            prop_assert_eq!(decode_ttl_floor(&encode_ttl_floor(floor)), floor);
        }

        #[test]
        fn decoders_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode_field(&raw);
            let _ = decode_ttl_floor(&raw);
        }
    }
}
