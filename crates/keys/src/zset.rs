//! Byte layouts of the sorted-set type.
//!
//! A sorted set is its key's meta record (kind ZSet, `len` = member count) plus two
//! record families under the key's version prefix `P` ([`crate::data_prefix`]):
//!
//! | key                                        | value                                   |
//! |--------------------------------------------|-----------------------------------------|
//! | `P · 'm' · member` ([`member_key`])        | the score: f64 bits, big-endian ([`encode_member_value`]) |
//! | `P · 's' · score · member` ([`index_key`]) | empty: the score index                  |
//!
//! `score` in the index is [`encode_score`], the order-preserving 8-byte image of an f64
//! (negatives: all bits flipped; positives: sign bit flipped), so the index records sort
//! in (score, member) order exactly as Redis's skiplist and a score range is one bounded
//! scan ([`score_range`]). Member records sort in member byte order, so a lex range is
//! one bounded scan too ([`members_range`], [`member_key_after`]).
//!
//! Scores are stored normalised ([`normalize`]): -0 becomes 0. NaN never gets in.
//!
//! The part of an index key after `P · 's'` is an *entry* ([`encode_entry`]): what the
//! memory tier keeps of each index record, in the same order.

use crate::{data_key, data_prefix, decode_data_key};

/// Tag of the member records under `P`.
pub const TAG_MEMBER: u8 = b'm';
/// Tag of the score-index records under `P`.
pub const TAG_INDEX: u8 = b's';
/// Length of an encoded score (in an index key and in a member record's value).
pub const SCORE_LEN: usize = 8;

/// -0 and 0 are the same score (as in Redis's comparisons); both are stored as 0.
#[inline]
pub fn normalize(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

/// The order-preserving integer image of a normalised score.
#[inline]
fn order_bits(score: f64) -> u64 {
    let bits = normalize(score).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The order-preserving 8-byte image of a score: byte order of the images is the
/// numeric order of the scores (-inf < ... < -0 = 0 < ... < +inf).
#[inline]
pub fn encode_score(score: f64) -> [u8; SCORE_LEN] {
    order_bits(score).to_be_bytes()
}

/// The score of an [`encode_score`] image (None unless `raw` is exactly
/// [`SCORE_LEN`] bytes). -0 comes back as 0.
#[inline]
pub fn decode_score(raw: &[u8]) -> Option<f64> {
    let b: [u8; SCORE_LEN] = raw.try_into().ok()?;
    let v = u64::from_be_bytes(b);
    let bits = if v >> 63 == 1 { v & !(1 << 63) } else { !v };
    Some(f64::from_bits(bits))
}

/// The value of a member record: the score's f64 bits, big-endian.
#[inline]
pub fn encode_member_value(score: f64) -> [u8; SCORE_LEN] {
    score.to_bits().to_be_bytes()
}

/// The score held by a member record (None unless it is exactly [`SCORE_LEN`] bytes).
#[inline]
pub fn decode_member_value(raw: &[u8]) -> Option<f64> {
    let b: [u8; SCORE_LEN] = raw.try_into().ok()?;
    Some(f64::from_bits(u64::from_be_bytes(b)))
}

/// True if `value` is a member record's (index records are empty): tells the two
/// families apart in a scan of the whole set.
#[inline]
pub fn is_member_value(value: &[u8]) -> bool {
    value.len() == SCORE_LEN
}

/// An index entry: `encode_score(score) · member`. Byte order of entries is
/// (score, member) order.
#[inline]
pub fn encode_entry(score: f64, member: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SCORE_LEN + member.len());
    out.extend_from_slice(&encode_score(score));
    out.extend_from_slice(member);
    out
}

/// (score, member) of an index entry (None if shorter than a score).
#[inline]
pub fn decode_entry(entry: &[u8]) -> Option<(f64, &[u8])> {
    let (score, member) = entry.split_at_checked(SCORE_LEN)?;
    Some((decode_score(score)?, member))
}

/// A sub key `tag · a · b` after `P`, in one buffer.
#[inline]
fn record_key(db: u8, key: &[u8], version: u64, tag: u8, a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = data_prefix(db, key, version);
    out.reserve_exact(1 + a.len() + b.len());
    out.push(tag);
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

/// The `data` key of `member`'s record in incarnation `version` of sorted set `key`.
#[inline]
pub fn member_key(db: u8, key: &[u8], version: u64, member: &[u8]) -> Vec<u8> {
    record_key(db, key, version, TAG_MEMBER, member, &[])
}

/// The first key after `member`'s record (and before every greater member's): the
/// bound that makes a lex range exclusive of `member` from below, inclusive from above.
#[inline]
pub fn member_key_after(db: u8, key: &[u8], version: u64, member: &[u8]) -> Vec<u8> {
    record_key(db, key, version, TAG_MEMBER, member, &[0])
}

/// The member of a member record's sub key (None if `sub` is not one).
#[inline]
pub fn decode_member_sub(sub: &[u8]) -> Option<&[u8]> {
    match sub.split_first()? {
        (&TAG_MEMBER, member) => Some(member),
        _ => None,
    }
}

/// The member of a member record's `data` key (None if `raw` is not one).
#[inline]
pub fn decode_member_key(raw: &[u8]) -> Option<&[u8]> {
    let (_, _, _, sub) = decode_data_key(raw)?;
    decode_member_sub(sub)
}

/// The `data` key of the index record of (`score`, `member`).
#[inline]
pub fn index_key(db: u8, key: &[u8], version: u64, score: f64, member: &[u8]) -> Vec<u8> {
    record_key(db, key, version, TAG_INDEX, &encode_score(score), member)
}

/// The entry of an index record's sub key (None if `sub` is not one).
#[inline]
pub fn decode_index_sub(sub: &[u8]) -> Option<&[u8]> {
    match sub.split_first()? {
        (&TAG_INDEX, entry) => Some(entry),
        _ => None,
    }
}

/// The entry of an index record's `data` key (None if `raw` is not one).
#[inline]
pub fn index_entry(raw: &[u8]) -> Option<&[u8]> {
    let (_, _, _, sub) = decode_data_key(raw)?;
    decode_index_sub(sub)
}

/// (score, member) of an index record's `data` key (None if `raw` is not one).
#[inline]
pub fn decode_index_key(raw: &[u8]) -> Option<(f64, &[u8])> {
    decode_entry(index_entry(raw)?)
}

/// `[start, end)` of one family (`tag`) of incarnation `version` of `key`.
fn family(db: u8, key: &[u8], version: u64, tag: u8) -> (Vec<u8>, Vec<u8>) {
    let start = data_key(db, key, version, &[tag]);
    let mut end = start.clone();
    if let Some(last) = end.last_mut() {
        *last = tag + 1;
    }
    (start, end)
}

/// `[start, end)` of every member record of incarnation `version` of `key`.
#[inline]
pub fn members_range(db: u8, key: &[u8], version: u64) -> (Vec<u8>, Vec<u8>) {
    family(db, key, version, TAG_MEMBER)
}

/// `[start, end)` of every index record of incarnation `version` of `key`.
#[inline]
pub fn index_range(db: u8, key: &[u8], version: u64) -> (Vec<u8>, Vec<u8>) {
    family(db, key, version, TAG_INDEX)
}

/// `[start, end)` of the index records whose score is between `min` and `max`, each
/// bound exclusive as asked (start >= end when no score is).
pub fn score_range(
    db: u8,
    key: &[u8],
    version: u64,
    (min, minex): (f64, bool),
    (max, maxex): (f64, bool),
) -> (Vec<u8>, Vec<u8>) {
    let (base, end) = index_range(db, key, version);
    let at = |v: u64| {
        let mut k = Vec::with_capacity(base.len() + SCORE_LEN);
        k.extend_from_slice(&base);
        k.extend_from_slice(&v.to_be_bytes());
        k
    };
    let lo = order_bits(min);
    let lo = if minex { lo.checked_add(1) } else { Some(lo) };
    let hi = order_bits(max);
    let hi = if maxex { Some(hi) } else { hi.checked_add(1) };
    let start = lo.map_or_else(|| end.clone(), at);
    let end = hi.map_or(end, at);
    (start, end)
}

/// Where a `data` key of a sorted set lies against its score index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexPosition<'a> {
    /// Before every index record.
    Before,
    /// At the index record with this entry, or where it would be (a prefix of an entry
    /// is a position too: before every entry it starts).
    At(&'a [u8]),
    /// Past every index record.
    After,
}

/// Where `raw` (a `data` key under a sorted set's version prefix, e.g. a bound of
/// [`score_range`]) lies against the set's score index; None if it is no `data` key.
#[inline]
pub fn index_position(raw: &[u8]) -> Option<IndexPosition<'_>> {
    let (_, _, _, sub) = decode_data_key(raw)?;
    Some(match sub.split_first() {
        None => IndexPosition::Before,
        Some((&tag, _)) if tag < TAG_INDEX => IndexPosition::Before,
        Some((&TAG_INDEX, entry)) => IndexPosition::At(entry),
        Some(_) => IndexPosition::After,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_score() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("no NaN", |f| !f.is_nan()),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            Just(f64::MIN_POSITIVE),
            Just(-f64::MIN_POSITIVE),
            Just(f64::MAX),
            Just(f64::MIN),
            (-1000i32..1000).prop_map(|i| i as f64 / 8.0),
        ]
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    #[test]
    fn zeros_and_infinities() {
        assert_eq!(encode_score(-0.0), encode_score(0.0));
        assert!(encode_score(f64::NEG_INFINITY) < encode_score(f64::MIN));
        assert!(encode_score(f64::MAX) < encode_score(f64::INFINITY));
        assert!(encode_score(-f64::MIN_POSITIVE) < encode_score(0.0));
        assert!(encode_score(0.0) < encode_score(f64::MIN_POSITIVE));
        assert_eq!(
            decode_score(&encode_score(f64::INFINITY)),
            Some(f64::INFINITY)
        );
        assert_eq!(
            decode_score(&encode_score(f64::NEG_INFINITY)),
            Some(f64::NEG_INFINITY)
        );
        assert_eq!(
            decode_score(&encode_score(-0.0)).map(f64::to_bits),
            Some(0.0f64.to_bits())
        );
        assert_eq!(normalize(-0.0).to_bits(), 0.0f64.to_bits());
        // The same bytes as ever on disk.
        assert_eq!(encode_score(0.0), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encode_score(1.0), [0xbf, 0xf0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            encode_score(-1.0),
            [0x40, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(encode_member_value(1.0), [0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(member_key(0, b"k", 1, b"a"), data_key(0, b"k", 1, b"ma"));
        assert_eq!(
            index_key(0, b"k", 1, 1.0, b"a"),
            data_key(0, b"k", 1, &[b's', 0xbf, 0xf0, 0, 0, 0, 0, 0, 0, b'a'])
        );
        assert_eq!(decode_score(&[0; 7]), None);
        assert_eq!(decode_member_value(&[0; 9]), None);
    }

    proptest! {
        #[test]
        fn score_roundtrip_and_order(a in any_score(), b in any_score()) {
            let (ea, eb) = (encode_score(a), encode_score(b));
            prop_assert_eq!(ea.cmp(&eb), a.partial_cmp(&b).unwrap());
            prop_assert_eq!(decode_score(&ea).map(f64::to_bits), Some(normalize(a).to_bits()));
        }

        #[test]
        fn member_value_roundtrip(s in any_score()) {
            let v = encode_member_value(s);
            prop_assert!(is_member_value(&v));
            prop_assert_eq!(decode_member_value(&v).map(f64::to_bits), Some(s.to_bits()));
            prop_assert!(!is_member_value(&[]));
        }

        #[test]
        fn entry_roundtrip_and_order(a in any_score(), b in any_score(), ma in bytes(16), mb in bytes(16)) {
            let (ea, eb) = (encode_entry(a, &ma), encode_entry(b, &mb));
            let (sa, m) = decode_entry(&ea).unwrap();
            prop_assert_eq!(sa.to_bits(), normalize(a).to_bits());
            prop_assert_eq!(m, &ma[..]);
            let want = a.partial_cmp(&b).unwrap().then_with(|| ma.cmp(&mb));
            prop_assert_eq!(ea.cmp(&eb), want);
        }

        #[test]
        fn member_key_roundtrip(db in 0u8..16, key in bytes(32), v in any::<u64>(), m in bytes(32), m2 in bytes(32)) {
            let raw = member_key(db, &key, v, &m);
            prop_assert!(raw.starts_with(&data_prefix(db, &key, v)));
            prop_assert_eq!(decode_member_key(&raw), Some(&m[..]));
            prop_assert_eq!(index_entry(&raw), None);
            let (start, end) = members_range(db, &key, v);
            prop_assert!(start <= raw && raw < end);
            let (istart, iend) = index_range(db, &key, v);
            prop_assert!(raw < istart || raw >= iend);
            prop_assert_eq!(index_position(&raw), Some(IndexPosition::Before));
            // Member keys sort as members; `after` sits between a member and the next.
            let other = member_key(db, &key, v, &m2);
            prop_assert_eq!(raw.cmp(&other), m.cmp(&m2));
            let after = member_key_after(db, &key, v, &m);
            prop_assert!(raw < after);
            prop_assert_eq!(after <= other, m < m2);
            prop_assert!(after < end);
        }

        #[test]
        fn index_key_roundtrip(db in 0u8..16, key in bytes(32), v in any::<u64>(), s in any_score(), m in bytes(32)) {
            let raw = index_key(db, &key, v, s, &m);
            prop_assert!(raw.starts_with(&data_prefix(db, &key, v)));
            let (got, member) = decode_index_key(&raw).unwrap();
            prop_assert_eq!(got.to_bits(), normalize(s).to_bits());
            prop_assert_eq!(member, &m[..]);
            let entry = encode_entry(s, &m);
            prop_assert_eq!(index_entry(&raw), Some(&entry[..]));
            prop_assert_eq!(index_position(&raw), Some(IndexPosition::At(&entry[..])));
            prop_assert_eq!(decode_member_key(&raw), None);
            let (start, end) = index_range(db, &key, v);
            prop_assert!(start <= raw && raw < end);
            prop_assert_eq!(index_position(&start), Some(IndexPosition::At(&[][..])));
            prop_assert_eq!(index_position(&end), Some(IndexPosition::After));
        }

        #[test]
        fn score_range_holds_exactly_the_scores_inside(
            s in any_score(),
            m in bytes(16),
            min in any_score(),
            minex in any::<bool>(),
            max in any_score(),
            maxex in any::<bool>(),
        ) {
            let raw = index_key(3, b"k", 7, s, &m);
            let (start, end) = score_range(3, b"k", 7, (min, minex), (max, maxex));
            let above = if minex { s > min } else { s >= min };
            let below = if maxex { s < max } else { s <= max };
            prop_assert_eq!(start <= raw && raw < end, above && below);
            let (istart, iend) = index_range(3, b"k", 7);
            prop_assert!(istart <= start && end <= iend);
        }

        #[test]
        fn decoders_never_panic(raw in bytes(40)) {
            let _ = decode_score(&raw);
            let _ = decode_member_value(&raw);
            let _ = decode_entry(&raw);
            let _ = decode_member_sub(&raw);
            let _ = decode_member_key(&raw);
            let _ = decode_index_sub(&raw);
            let _ = index_entry(&raw);
            let _ = decode_index_key(&raw);
            let _ = index_position(&raw);
        }
    }
}
