//! The per-key `meta` record: type, expiry, version and (for strings) the value.

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
    /// The value of a string, or small inline payloads of other types.
    pub inline: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaError {
    Truncated,
    BadFormat(u8),
    BadKind(u8),
}

const FORMAT: u8 = 1;
const HEADER: usize = 2 + 8 * 5;

impl Meta {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.inline.len());
        out.push(FORMAT);
        out.push(self.kind as u8);
        for v in [
            self.expire_at_ms,
            self.version,
            self.write_index,
            self.mtime_ms,
            self.len,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.inline);
        out
    }

    pub fn decode(raw: &[u8]) -> Result<Meta, MetaError> {
        if raw.len() < HEADER {
            return Err(MetaError::Truncated);
        }
        if raw[0] != FORMAT {
            return Err(MetaError::BadFormat(raw[0]));
        }
        let kind = Kind::from_u8(raw[1]).ok_or(MetaError::BadKind(raw[1]))?;
        let word = |i: usize| {
            let at = 2 + 8 * i;
            u64::from_be_bytes(raw[at..at + 8].try_into().expect("8 bytes"))
        };
        Ok(Meta {
            kind,
            expire_at_ms: word(0),
            version: word(1),
            write_index: word(2),
            mtime_ms: word(3),
            len: word(4),
            inline: raw[HEADER..].to_vec(),
        })
    }

    /// Type, expiry and version without copying the inline value (write paths only need
    /// these of the record they replace).
    pub fn peek(raw: &[u8]) -> Result<(Kind, u64, u64), MetaError> {
        if raw.len() < HEADER {
            return Err(MetaError::Truncated);
        }
        if raw[0] != FORMAT {
            return Err(MetaError::BadFormat(raw[0]));
        }
        let kind = Kind::from_u8(raw[1]).ok_or(MetaError::BadKind(raw[1]))?;
        let word = |at: usize| u64::from_be_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
        Ok((kind, word(2), word(10)))
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
        fn roundtrip(kind in kind(), e in any::<u64>(), v in any::<u64>(), w in any::<u64>(), m in any::<u64>(), l in any::<u64>(), inline in proptest::collection::vec(any::<u8>(), 0..100)) {
            let meta = Meta { kind, expire_at_ms: e, version: v, write_index: w, mtime_ms: m, len: l, inline };
            prop_assert_eq!(Meta::peek(&meta.encode()), Ok((meta.kind, meta.expire_at_ms, meta.version)));
            prop_assert_eq!(Meta::decode(&meta.encode()), Ok(meta));
        }
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
            inline: vec![],
        }
        .encode();
        raw[1] = 99;
        assert_eq!(Meta::decode(&raw), Err(MetaError::BadKind(99)));
        raw[0] = 7;
        assert_eq!(Meta::decode(&raw), Err(MetaError::BadFormat(7)));
    }
}
