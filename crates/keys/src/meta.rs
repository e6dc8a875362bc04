//! The per-key `meta` record: type, expiry, version and (for strings) the value.

use crate::hlc::Stamp;

/// The Redis type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    String = 0,
    Hash = 1,
    List = 2,
    Set = 3,
    ZSet = 4,
    Stream = 5,
    Json = 6,
}

impl Kind {
    pub fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::String,
            1 => Kind::Hash,
            2 => Kind::List,
            3 => Kind::Set,
            4 => Kind::ZSet,
            5 => Kind::Stream,
            6 => Kind::Json,
            _ => return None,
        })
    }

    /// The name TYPE replies with.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Stream => "stream",
            Kind::Json => "ReJSON-RL",
        }
    }
}

/// One key's meta record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Absolute expiry in unix milliseconds; 0 means no expiry.
    pub expire_at_ms: u64,
    /// Prefix of this incarnation's sub-records. Set when the key is created,
    /// derived from the log index, never from a clock.
    pub version: u64,
    /// Log index of the last write to this key (WATCH compares it).
    pub write_index: u64,
    /// Leader time (unix ms) of the last write (anti-entropy's last-writer-wins clock).
    pub mtime_ms: u64,
    /// Element count for collections; unused (0) for strings.
    pub len: u64,
    /// Hybrid logical clock stamp of the last write (`crate::hlc`): what last-writer-wins
    /// compares when two histories meet. Records older than format 3 decode with their
    /// `mtime_ms` as the physical part and node 0.
    pub stamp: Stamp,
    /// The value of a string, or small inline payloads of other types.
    pub inline: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaError {
    Truncated,
    BadFormat(u8),
    BadKind(u8),
}

/// Format 1: the header without the data size (records written before the capacity
/// quota existed; still decoded, their data size is recounted when the key changes).
const FORMAT_V1: u8 = 1;
const HEADER_V1: usize = 2 + 8 * 5;
/// Format 2: format 1's header plus one word, the key's data size (see
/// [`Meta::encode_sized`]); still decoded, with a stamp made of its `mtime_ms`.
const FORMAT_V2: u8 = 2;
const HEADER_V2: usize = 2 + 8 * 6;
/// Format 3 (written since): format 2's header plus the write's HLC stamp (two words:
/// `hlc`, `node`), so the global database's last-writer-wins has a clock per key.
const FORMAT: u8 = 3;
const HEADER: usize = 2 + 8 * 8;

impl Meta {
    /// The record in the current format with a data size of 0 (strings and JSON, whose
    /// value is inline, have no other records).
    pub fn encode(&self) -> Vec<u8> {
        self.encode_sized(0)
    }

    /// The record with `data_size`: the accounted bytes of the key's `data` records
    /// (its elements), kept exact by the engine's `Txn` so a whole collection can be
    /// dropped, and its bytes subtracted from the quota, without reading its elements.
    pub fn encode_sized(&self, data_size: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.inline.len());
        out.push(FORMAT);
        out.push(self.kind as u8);
        for v in [
            self.expire_at_ms,
            self.version,
            self.write_index,
            self.mtime_ms,
            self.len,
            data_size,
            self.stamp.hlc,
            self.stamp.node,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.inline);
        out
    }

    /// Header length of a record of either format.
    fn header_len(raw: &[u8]) -> Result<usize, MetaError> {
        if raw.len() < HEADER_V1 {
            return Err(MetaError::Truncated);
        }
        let h = match raw.first() {
            None => return Err(MetaError::Truncated),
            Some(&FORMAT) => HEADER,
            Some(&FORMAT_V2) => HEADER_V2,
            Some(&FORMAT_V1) => HEADER_V1,
            Some(&f) => return Err(MetaError::BadFormat(f)),
        };
        if raw.len() < h {
            return Err(MetaError::Truncated);
        }
        Ok(h)
    }

    pub fn decode(raw: &[u8]) -> Result<Meta, MetaError> {
        let header = Meta::header_len(raw)?;
        let kind = Kind::from_u8(raw[1]).ok_or(MetaError::BadKind(raw[1]))?;
        let word = |i: usize| {
            let at = 2 + 8 * i;
            u64::from_be_bytes(raw[at..at + 8].try_into().expect("8 bytes"))
        };
        let stamp = if header == HEADER {
            Stamp {
                hlc: word(6),
                node: word(7),
            }
        } else {
            Stamp::new(word(3), 0, 0)
        };
        Ok(Meta {
            kind,
            expire_at_ms: word(0),
            version: word(1),
            write_index: word(2),
            mtime_ms: word(3),
            len: word(4),
            stamp,
            inline: raw[header..].to_vec(),
        })
    }

    /// Type, expiry and version without copying the inline value (write paths only need
    /// these of the record they replace).
    pub fn peek(raw: &[u8]) -> Result<(Kind, u64, u64), MetaError> {
        Meta::header_len(raw)?;
        let kind = Kind::from_u8(raw[1]).ok_or(MetaError::BadKind(raw[1]))?;
        let word = |at: usize| u64::from_be_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
        Ok((kind, word(2), word(10)))
    }

    /// The data size a record carries (see [`Meta::encode_sized`]); `None` for a
    /// format 1 record, which predates it.
    pub fn stored_data_size(raw: &[u8]) -> Result<Option<u64>, MetaError> {
        let header = Meta::header_len(raw)?;
        if header == HEADER_V1 {
            return Ok(None);
        }
        let at = 2 + 8 * 5;
        Ok(Some(u64::from_be_bytes(
            raw[at..at + 8].try_into().expect("8 bytes"),
        )))
    }

    /// True when the key has an expiry that has passed at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind() -> impl Strategy<Value = Kind> {
        (0u8..7).prop_map(|b| Kind::from_u8(b).unwrap())
    }

    proptest! {
        #[test]
        fn roundtrip(kind in kind(), e in any::<u64>(), v in any::<u64>(), w in any::<u64>(), m in any::<u64>(), l in any::<u64>(), d in any::<u64>(), h in any::<u64>(), n in any::<u64>(), inline in proptest::collection::vec(any::<u8>(), 0..100)) {
            let meta = Meta { kind, expire_at_ms: e, version: v, write_index: w, mtime_ms: m, len: l, stamp: Stamp { hlc: h, node: n }, inline };
            prop_assert_eq!(Meta::peek(&meta.encode()), Ok((meta.kind, meta.expire_at_ms, meta.version)));
            prop_assert_eq!(Meta::decode(&meta.encode()), Ok(meta.clone()));
            let sized = meta.encode_sized(d);
            prop_assert_eq!(Meta::stored_data_size(&sized), Ok(Some(d)));
            prop_assert_eq!(Meta::peek(&sized), Ok((meta.kind, meta.expire_at_ms, meta.version)));
            prop_assert_eq!(Meta::decode(&sized), Ok(meta));
        }
    }

    /// The bytes on disk: format 2 (with the data size), and format 1 records written
    /// before it still decode, with no data size.
    #[test]
    fn fixed_bytes_of_both_formats() {
        let meta = Meta {
            kind: Kind::Hash,
            expire_at_ms: 0x0102,
            version: 0x0304,
            write_index: 5,
            mtime_ms: 6,
            len: 7,
            stamp: Stamp { hlc: 0x88, node: 9 },
            inline: b"iv".to_vec(),
        };
        let w = |n: u64| n.to_be_bytes().to_vec();
        let mut v3 = vec![3u8, 1];
        for n in [0x0102, 0x0304, 5, 6, 7, 0xabcd, 0x88, 9] {
            v3.extend(w(n));
        }
        v3.extend_from_slice(b"iv");
        assert_eq!(meta.encode_sized(0xabcd), v3);
        assert_eq!(meta.encode().len(), 66 + 2);
        assert_eq!(Meta::decode(&v3), Ok(meta.clone()));
        assert_eq!(Meta::stored_data_size(&v3), Ok(Some(0xabcd)));
        assert_eq!(Meta::peek(&v3), Ok((Kind::Hash, 0x0102, 0x0304)));
        assert_eq!(Meta::decode(&v3[..65]), Err(MetaError::Truncated));
        // Older formats decode with a stamp made of their mtime.
        let meta = Meta {
            stamp: Stamp::new(6, 0, 0),
            ..meta
        };
        let mut v2 = vec![2u8, 1];
        for n in [0x0102, 0x0304, 5, 6, 7, 0xabcd] {
            v2.extend(w(n));
        }
        v2.extend_from_slice(b"iv");
        let mut v1 = vec![1u8, 1];
        for n in [0x0102, 0x0304, 5, 6, 7] {
            v1.extend(w(n));
        }
        v1.extend_from_slice(b"iv");
        assert_eq!(Meta::decode(&v1), Ok(meta.clone()));
        assert_eq!(Meta::peek(&v1), Ok((Kind::Hash, 0x0102, 0x0304)));
        assert_eq!(Meta::stored_data_size(&v1), Ok(None));
        assert_eq!(Meta::decode(&v2), Ok(meta));
        assert_eq!(Meta::decode(&v2[..49]), Err(MetaError::Truncated));
        assert_eq!(Meta::decode(&v1[..41]), Err(MetaError::Truncated));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(Meta::decode(b"xx"), Err(MetaError::Truncated));
        let mut raw = Meta {
            kind: Kind::Set,
            expire_at_ms: 0,
            version: 1,
            write_index: 1,
            mtime_ms: 1,
            len: 0,
            stamp: Stamp::ZERO,
            inline: vec![],
        }
        .encode();
        raw[1] = 99;
        assert_eq!(Meta::decode(&raw), Err(MetaError::BadKind(99)));
        raw[0] = 7;
        assert_eq!(Meta::decode(&raw), Err(MetaError::BadFormat(7)));
    }
}
