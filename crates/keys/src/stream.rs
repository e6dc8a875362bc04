//! Byte layouts of the stream type.
//!
//! A stream is its key's meta record (kind Stream, `len` = number of entries) whose
//! `inline` is the stream [`Header`], plus `data` records under the key's version
//! prefix `P` ([`crate::data_prefix`]):
//!
//! | key                                                     | value                      |
//! |---------------------------------------------------------|----------------------------|
//! | `P · 1 · id`                                            | the entry's fields/values ([`encode_fields`]) |
//! | `P · 2 · group`                                         | a [`Group`]                |
//! | `P · 3 · len(group) · group · 1 · id`                   | a pending entry ([`Nack`]) |
//! | `P · 3 · len(group) · group · 2 · consumer`             | a [`Consumer`]             |
//! | `P · 3 · len(group) · group · 3 · len(consumer) · consumer · id` | empty: the consumer's PEL index |
//! | `P · 4 · id`                                            | a [`Node`]: the virtual radix-tree node whose first entry is `id` |
//!
//! An `id` is 16 bytes big-endian (ms, seq) ([`Id::encode`]), so byte order is ID
//! order and a bounded scan of a family walks it in ID order; lengths are u32 BE, so
//! one group's (or consumer's) records never share a prefix with another's and a group
//! with everything under it goes with one range delete. Integers in values are
//! big-endian u64 (or i64).
//!
//! The functions building keys take the stream's data prefix `P` (built once per
//! opened stream); the ones decoding a key take the prefix of the family it was
//! scanned under (e.g. [`groups_prefix`]) and refuse a key outside it.

use std::fmt;

/// Length of an encoded [`Id`].
pub const ID_LEN: usize = 16;

/// Tag of the entry records under `P`.
pub const TAG_ENTRY: u8 = 1;
/// Tag of the group records under `P`.
pub const TAG_GROUP: u8 = 2;
/// Tag of the records under a group (its PEL, consumers and consumer PEL indexes).
pub const TAG_GROUP_DATA: u8 = 3;
/// Under a group's data prefix: the group's PEL.
pub const TAG_PEL: u8 = 1;
/// Under a group's data prefix: its consumers.
pub const TAG_CONSUMER: u8 = 2;
/// Under a group's data prefix: the consumers' PEL indexes.
pub const TAG_CONSUMER_PEL: u8 = 3;
/// Tag of the virtual node records under `P` (streams whose header has [`NodeTally`]).
pub const TAG_NODE: u8 = 4;

// ---- IDs ------------------------------------------------------------------------------

/// A stream entry ID. Ordered by (ms, seq), as Redis's streamCompareID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id {
    pub ms: u64,
    pub seq: u64,
}

impl Id {
    pub const MIN: Id = Id { ms: 0, seq: 0 };
    pub const MAX: Id = Id {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> Id {
        Id { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == Id::MIN
    }

    /// 16 bytes, big-endian: byte order is ID order.
    #[inline]
    pub fn encode(self) -> [u8; ID_LEN] {
        self.as_u128().to_be_bytes()
    }

    /// None unless `raw` is exactly [`ID_LEN`] bytes.
    #[inline]
    pub fn decode(raw: &[u8]) -> Option<Id> {
        let b: [u8; ID_LEN] = raw.try_into().ok()?;
        Some(Id::from_u128(u128::from_be_bytes(b)))
    }

    pub fn as_u128(self) -> u128 {
        ((self.ms as u128) << 64) | self.seq as u128
    }

    pub fn from_u128(v: u128) -> Id {
        Id {
            ms: (v >> 64) as u64,
            seq: v as u64,
        }
    }

    /// The successor (streamIncrID); None past the last possible ID.
    pub fn next(self) -> Option<Id> {
        self.as_u128().checked_add(1).map(Id::from_u128)
    }

    /// The predecessor (streamDecrID); None before 0-0.
    pub fn prev(self) -> Option<Id> {
        self.as_u128().checked_sub(1).map(Id::from_u128)
    }

    /// `<ms>-<seq>` as bytes.
    pub fn text(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

// ---- keys -----------------------------------------------------------------------------

fn len_prefixed(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn with_tag(prefix: &[u8], tag: u8, extra: usize) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 1 + extra);
    k.extend_from_slice(prefix);
    k.push(tag);
    k
}

/// The key of `id` in the ID-keyed family under `family` (entries, a group's PEL, a
/// consumer's PEL index): `family · id`.
#[inline]
pub fn id_key(family: &[u8], id: Id) -> Vec<u8> {
    let mut k = Vec::with_capacity(family.len() + ID_LEN);
    k.extend_from_slice(family);
    k.extend_from_slice(&id.encode());
    k
}

/// The ID of a key of the family under `family` (None if `raw` is not one).
#[inline]
pub fn decode_id_key(family: &[u8], raw: &[u8]) -> Option<Id> {
    Id::decode(raw.strip_prefix(family)?)
}

/// Prefix of the entry records: `P · 1`.
pub fn entries_prefix(data_prefix: &[u8]) -> Vec<u8> {
    with_tag(data_prefix, TAG_ENTRY, ID_LEN)
}

/// Prefix of the group records: `P · 2`.
pub fn groups_prefix(data_prefix: &[u8]) -> Vec<u8> {
    with_tag(data_prefix, TAG_GROUP, 0)
}

/// Prefix of the virtual node records: `P · 4`, an ID-keyed family of [`Node`]s.
pub fn nodes_prefix(data_prefix: &[u8]) -> Vec<u8> {
    with_tag(data_prefix, TAG_NODE, ID_LEN)
}

/// The record of group `name`: `P · 2 · name`.
pub fn group_key(data_prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut k = with_tag(data_prefix, TAG_GROUP, name.len());
    k.extend_from_slice(name);
    k
}

/// The group name of a key under [`groups_prefix`] (None if `raw` is not one).
pub fn decode_group_key<'a>(groups_prefix: &[u8], raw: &'a [u8]) -> Option<&'a [u8]> {
    raw.strip_prefix(groups_prefix)
}

/// Prefix of everything under group `g` (PEL, consumers, PEL indexes):
/// `P · 3 · len(g) · g`.
pub fn group_data_prefix(data_prefix: &[u8], g: &[u8]) -> Vec<u8> {
    let mut k = with_tag(data_prefix, TAG_GROUP_DATA, 4 + g.len() + 1);
    len_prefixed(&mut k, g);
    k
}

/// Prefix of group `g`'s PEL, an ID-keyed family of [`Nack`]s.
pub fn pel_prefix(data_prefix: &[u8], g: &[u8]) -> Vec<u8> {
    let mut k = group_data_prefix(data_prefix, g);
    k.push(TAG_PEL);
    k
}

/// Prefix of group `g`'s consumer records.
pub fn consumers_prefix(data_prefix: &[u8], g: &[u8]) -> Vec<u8> {
    let mut k = group_data_prefix(data_prefix, g);
    k.push(TAG_CONSUMER);
    k
}

/// The record of consumer `c` of group `g`.
pub fn consumer_key(data_prefix: &[u8], g: &[u8], c: &[u8]) -> Vec<u8> {
    let mut k = consumers_prefix(data_prefix, g);
    k.extend_from_slice(c);
    k
}

/// The consumer name of a key under [`consumers_prefix`] (None if `raw` is not one).
pub fn decode_consumer_key<'a>(consumers_prefix: &[u8], raw: &'a [u8]) -> Option<&'a [u8]> {
    raw.strip_prefix(consumers_prefix)
}

/// Prefix of consumer `c`'s PEL index in group `g`, an ID-keyed family of empty
/// records.
pub fn consumer_pel_prefix(data_prefix: &[u8], g: &[u8], c: &[u8]) -> Vec<u8> {
    let mut k = group_data_prefix(data_prefix, g);
    k.push(TAG_CONSUMER_PEL);
    len_prefixed(&mut k, c);
    k
}

// ---- values ---------------------------------------------------------------------------

fn word(raw: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(raw.get(at..at + 8)?.try_into().ok()?))
}

fn id_at(raw: &[u8], at: usize) -> Option<Id> {
    Id::decode(raw.get(at..at + ID_LEN)?)
}

/// The stream-wide state kept in the meta record's `inline`.
///
/// Two formats: format 1 (65 bytes: format byte, three IDs, two u64) is a stream
/// written before virtual nodes were kept (`nodes` = None); format 2 appends the
/// [`NodeTally`] (its count u64 and tail ID: 89 bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// last-generated-id: the top ID ever added (or set by XSETID).
    pub last: Id,
    /// recorded-first-entry-id: the first live entry, 0-0 when empty.
    pub first: Id,
    /// max-deleted-entry-id: the largest ID removed by XDEL (or set by XSETID).
    pub max_deleted: Id,
    /// entries-added: every entry ever added.
    pub entries_added: u64,
    /// Number of consumer groups.
    pub groups: u64,
    /// The stream's virtual radix-tree nodes ([`Node`] records); None for a stream
    /// written in format 1, which has no node records.
    pub nodes: Option<NodeTally>,
}

/// How many [`Node`] records a stream has and the first ID of the last one (the node
/// XADD appends to; meaningless when `count` is 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeTally {
    pub count: u64,
    pub tail: Id,
}

const HEADER_FORMAT: u8 = 1;
const HEADER_FORMAT_NODES: u8 = 2;
/// Length of an encoded format-1 [`Header`]: format byte, three IDs, two u64.
pub const HEADER_LEN: usize = 1 + ID_LEN * 3 + 8 + 8;
/// Length of an encoded format-2 [`Header`]: format 1's fields, then the node count
/// and the tail node's ID.
pub const HEADER_LEN_NODES: usize = HEADER_LEN + 8 + ID_LEN;

impl Header {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN_NODES);
        out.push(if self.nodes.is_some() {
            HEADER_FORMAT_NODES
        } else {
            HEADER_FORMAT
        });
        out.extend_from_slice(&self.last.encode());
        out.extend_from_slice(&self.first.encode());
        out.extend_from_slice(&self.max_deleted.encode());
        out.extend_from_slice(&self.entries_added.to_be_bytes());
        out.extend_from_slice(&self.groups.to_be_bytes());
        if let Some(n) = &self.nodes {
            out.extend_from_slice(&n.count.to_be_bytes());
            out.extend_from_slice(&n.tail.encode());
        }
        out
    }

    pub fn decode(raw: &[u8]) -> Option<Header> {
        let nodes = match (raw.first()?, raw.len()) {
            (&HEADER_FORMAT, HEADER_LEN) => None,
            (&HEADER_FORMAT_NODES, HEADER_LEN_NODES) => Some(NodeTally {
                count: word(raw, HEADER_LEN)?,
                tail: id_at(raw, HEADER_LEN + 8)?,
            }),
            _ => return None,
        };
        Some(Header {
            last: id_at(raw, 1)?,
            first: id_at(raw, 17)?,
            max_deleted: id_at(raw, 33)?,
            entries_added: word(raw, 49)?,
            groups: word(raw, 57)?,
            nodes,
        })
    }
}

/// A virtual radix-tree node: the run of entries Redis would keep in one listpack,
/// keyed by its first entry's ID (the master ID). Its value: format byte, live
/// entries, entries marked deleted, the listpack's size in bytes (u64 each), the last
/// entry added to it, then the master entry's fields ([`encode_fields`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// Live entries.
    pub count: u64,
    /// Entries removed but still taking room in the node (XDEL, exact trims).
    pub deleted: u64,
    /// Size of Redis's listpack for this node.
    pub bytes: u64,
    /// The last entry added to the node (live or not).
    pub last: Id,
    /// The master entry's fields (those of the node's first entry).
    pub fields: Vec<Vec<u8>>,
}

const NODE_FORMAT: u8 = 1;
const NODE_FIXED: usize = 1 + 8 * 3 + ID_LEN;

impl Node {
    pub fn encode(&self) -> Vec<u8> {
        let fields = encode_fields(&self.fields);
        let mut out = Vec::with_capacity(NODE_FIXED + fields.len());
        out.push(NODE_FORMAT);
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.deleted.to_be_bytes());
        out.extend_from_slice(&self.bytes.to_be_bytes());
        out.extend_from_slice(&self.last.encode());
        out.extend_from_slice(&fields);
        out
    }

    pub fn decode(raw: &[u8]) -> Option<Node> {
        if raw.len() < NODE_FIXED || raw[0] != NODE_FORMAT {
            return None;
        }
        Some(Node {
            count: word(raw, 1)?,
            deleted: word(raw, 9)?,
            bytes: word(raw, 17)?,
            last: id_at(raw, 25)?,
            fields: decode_fields(&raw[NODE_FIXED..])?,
        })
    }
}

/// A consumer group; its record's value is last-delivered-id, entries-read, PEL size
/// and consumer count (40 bytes), its name is the key's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: Vec<u8>,
    /// last-delivered-id.
    pub last: Id,
    /// entries-read; -1 when unknown (SCG_INVALID_ENTRIES_READ).
    pub entries_read: i64,
    /// Entries in the group's PEL.
    pub pel: u64,
    /// Number of consumers.
    pub consumers: u64,
}

const GROUP_LEN: usize = ID_LEN + 8 + 8 + 8;

impl Group {
    pub fn new(name: &[u8], last: Id, entries_read: i64) -> Group {
        Group {
            name: name.to_vec(),
            last,
            entries_read,
            pel: 0,
            consumers: 0,
        }
    }

    /// The record's value (the name is in the key).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(GROUP_LEN);
        out.extend_from_slice(&self.last.encode());
        out.extend_from_slice(&self.entries_read.to_be_bytes());
        out.extend_from_slice(&self.pel.to_be_bytes());
        out.extend_from_slice(&self.consumers.to_be_bytes());
        out
    }

    pub fn decode(name: &[u8], raw: &[u8]) -> Option<Group> {
        if raw.len() != GROUP_LEN {
            return None;
        }
        Some(Group {
            name: name.to_vec(),
            last: id_at(raw, 0)?,
            entries_read: word(raw, 16)? as i64,
            pel: word(raw, 24)?,
            consumers: word(raw, 32)?,
        })
    }
}

/// A consumer of a group; its record's value is seen-time, active-time and PEL size
/// (24 bytes), its name is the key's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumer {
    pub name: Vec<u8>,
    /// seen-time: the last read or claim attempt.
    pub seen: u64,
    /// active-time: the last successful read or claim; -1 = never.
    pub active: i64,
    /// Entries in this consumer's PEL.
    pub pel: u64,
}

const CONSUMER_LEN: usize = 24;

impl Consumer {
    pub fn new(name: &[u8], now: u64) -> Consumer {
        Consumer {
            name: name.to_vec(),
            seen: now,
            active: -1,
            pel: 0,
        }
    }

    /// The record's value (the name is in the key).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CONSUMER_LEN);
        out.extend_from_slice(&self.seen.to_be_bytes());
        out.extend_from_slice(&self.active.to_be_bytes());
        out.extend_from_slice(&self.pel.to_be_bytes());
        out
    }

    pub fn decode(name: &[u8], raw: &[u8]) -> Option<Consumer> {
        if raw.len() != CONSUMER_LEN {
            return None;
        }
        Some(Consumer {
            name: name.to_vec(),
            seen: word(raw, 0)?,
            active: word(raw, 8)? as i64,
            pel: word(raw, 16)?,
        })
    }
}

/// A pending entry of a group (streamNACK): delivery time, delivery count, then the
/// consumer's name to the end of the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack {
    /// Last delivery time (unix ms).
    pub time: u64,
    pub count: u64,
    /// The consumer it was last delivered to.
    pub consumer: Vec<u8>,
}

impl Nack {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.consumer.len());
        out.extend_from_slice(&self.time.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.consumer);
        out
    }

    pub fn decode(raw: &[u8]) -> Option<Nack> {
        Some(Nack {
            time: word(raw, 0)?,
            count: word(raw, 8)?,
            consumer: raw.get(16..)?.to_vec(),
        })
    }
}

/// An entry record's value: its field/value list, each item as a u32 BE length and
/// its bytes.
pub fn encode_fields<T: AsRef<[u8]>>(items: &[T]) -> Vec<u8> {
    let total: usize = items.iter().map(|i| 4 + i.as_ref().len()).sum();
    let mut out = Vec::with_capacity(total);
    for i in items {
        len_prefixed(&mut out, i.as_ref());
    }
    out
}

/// The items of an entry record's value (None if it is not one).
pub fn decode_fields(raw: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < raw.len() {
        let n = u32::from_be_bytes(raw.get(at..at + 4)?.try_into().ok()?) as usize;
        let end = (at + 4).checked_add(n)?;
        out.push(raw.get(at + 4..end)?.to_vec());
        at = end;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data_prefix;
    use proptest::prelude::*;

    fn id() -> impl Strategy<Value = Id> {
        prop_oneof![
            (any::<u64>(), any::<u64>()).prop_map(|(ms, seq)| Id::new(ms, seq)),
            (0u64..4, 0u64..4).prop_map(|(ms, seq)| Id::new(ms, seq)),
            Just(Id::MAX),
        ]
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    fn prefix() -> impl Strategy<Value = Vec<u8>> {
        (0u8..16, bytes(24), any::<u64>()).prop_map(|(db, key, v)| data_prefix(db, &key, v))
    }

    #[test]
    fn encoding_keeps_order() {
        let ids = [
            Id::MIN,
            Id::new(0, 1),
            Id::new(1, 0),
            Id::new(1, u64::MAX),
            Id::MAX,
        ];
        for w in ids.windows(2) {
            assert!(w[0] < w[1]);
            assert!(w[0].encode() < w[1].encode());
            assert_eq!(Id::decode(&w[0].encode()), Some(w[0]));
        }
        assert_eq!(Id::MAX.next(), None);
        assert_eq!(Id::MIN.prev(), None);
        assert_eq!(Id::new(1, u64::MAX).next(), Some(Id::new(2, 0)));
        assert_eq!(Id::new(2, 0).prev(), Some(Id::new(1, u64::MAX)));
        assert_eq!(Id::new(3, 4).to_string(), "3-4");
        assert_eq!(Id::decode(&[0; 15]), None);
        assert_eq!(Id::decode(&[0; 17]), None);
    }

    #[test]
    fn records_roundtrip() {
        let h = Header {
            last: Id::new(5, 6),
            first: Id::new(1, 2),
            max_deleted: Id::new(3, 4),
            entries_added: 9,
            groups: 2,
            nodes: None,
        };
        assert_eq!(Header::decode(&h.encode()), Some(h.clone()));
        let h2 = Header {
            nodes: Some(NodeTally {
                count: 3,
                tail: Id::new(4, 0),
            }),
            ..h
        };
        assert_eq!(h2.encode().len(), HEADER_LEN_NODES);
        assert_eq!(Header::decode(&h2.encode()), Some(h2));
        assert_eq!(Header::decode(b""), None);
        let node = Node {
            count: 2,
            deleted: 1,
            bytes: 40,
            last: Id::new(9, 9),
            fields: vec![b"f".to_vec(), b"".to_vec()],
        };
        assert_eq!(Node::decode(&node.encode()), Some(node));
        assert_eq!(Node::decode(&[1; 40]), None);
        let g = Group {
            name: b"g".to_vec(),
            last: Id::new(1, 1),
            entries_read: -1,
            pel: 3,
            consumers: 2,
        };
        assert_eq!(Group::decode(b"g", &g.encode()), Some(g));
        let c = Consumer {
            name: b"c".to_vec(),
            seen: 10,
            active: -1,
            pel: 4,
        };
        assert_eq!(Consumer::decode(b"c", &c.encode()), Some(c));
        let n = Nack {
            time: 7,
            count: 2,
            consumer: b"alice".to_vec(),
        };
        assert_eq!(Nack::decode(&n.encode()), Some(n));
        let items = vec![
            b"f".to_vec(),
            b"".to_vec(),
            b"v\x00w".to_vec(),
            b"x".to_vec(),
        ];
        assert_eq!(decode_fields(&encode_fields(&items)), Some(items));
        assert_eq!(decode_fields(&[0, 0, 0, 5, 1]), None);
        assert_eq!(decode_fields(&[0, 0, 0]), None);
    }

    /// Bytes written by earlier versions decode as they always did; the new formats'
    /// bytes are pinned.
    #[test]
    fn fixed_bytes() {
        // A format-1 header (no virtual nodes): last 5-6, first 1-2, max-deleted 3-4,
        // 9 entries added, 2 groups.
        let mut v1 = vec![1u8];
        for (ms, seq) in [(5u64, 6u64), (1, 2), (3, 4)] {
            v1.extend_from_slice(&ms.to_be_bytes());
            v1.extend_from_slice(&seq.to_be_bytes());
        }
        v1.extend_from_slice(&9u64.to_be_bytes());
        v1.extend_from_slice(&2u64.to_be_bytes());
        let h = Header {
            last: Id::new(5, 6),
            first: Id::new(1, 2),
            max_deleted: Id::new(3, 4),
            entries_added: 9,
            groups: 2,
            nodes: None,
        };
        assert_eq!(Header::decode(&v1), Some(h.clone()));
        assert_eq!(h.encode(), v1);
        // Format 2: the same, with 3 nodes whose last starts at 7-0.
        let mut v2 = v1.clone();
        v2[0] = 2;
        v2.extend_from_slice(&3u64.to_be_bytes());
        v2.extend_from_slice(&7u64.to_be_bytes());
        v2.extend_from_slice(&0u64.to_be_bytes());
        let h2 = Header {
            nodes: Some(NodeTally {
                count: 3,
                tail: Id::new(7, 0),
            }),
            ..h
        };
        assert_eq!(h2.encode(), v2);
        assert_eq!(Header::decode(&v2), Some(h2));
        // A format-2 length with format byte 1 (or the reverse) is refused.
        v2[0] = 1;
        assert_eq!(Header::decode(&v2), None);
        // A node: 2 live, 1 deleted, 40 bytes, last 9-9, fields ["f"].
        let node = Node {
            count: 2,
            deleted: 1,
            bytes: 40,
            last: Id::new(9, 9),
            fields: vec![b"f".to_vec()],
        };
        let mut raw = vec![1u8];
        for w in [2u64, 1, 40, 9, 9] {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        raw.extend_from_slice(&[0, 0, 0, 1, b'f']);
        assert_eq!(node.encode(), raw);
        assert_eq!(Node::decode(&raw), Some(node));
        // Group, consumer and pending-entry values keep their layouts.
        let g = Group {
            name: b"g".to_vec(),
            last: Id::new(1, 2),
            entries_read: -1,
            pel: 3,
            consumers: 4,
        };
        let mut graw = Vec::new();
        for w in [1u64, 2, u64::MAX, 3, 4] {
            graw.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(g.encode(), graw);
        assert_eq!(Group::decode(b"g", &graw), Some(g));
        assert_eq!(nodes_prefix(b"P"), b"P\x04".to_vec());
    }

    proptest! {
        #[test]
        fn id_roundtrip_and_order(a in id(), b in id()) {
            prop_assert_eq!(Id::decode(&a.encode()), Some(a));
            prop_assert_eq!(a.encode().cmp(&b.encode()), a.cmp(&b));
            prop_assert_eq!(Id::from_u128(a.as_u128()), a);
            prop_assert_eq!(a.as_u128().cmp(&b.as_u128()), a.cmp(&b));
            if let Some(n) = a.next() {
                prop_assert!(n > a);
                prop_assert_eq!(n.prev(), Some(a));
            }
        }

        #[test]
        fn id_keys_roundtrip_and_keep_order(p in prefix(), g in bytes(8), c in bytes(8), a in id(), b in id()) {
            for fam in [entries_prefix(&p), pel_prefix(&p, &g), consumer_pel_prefix(&p, &g, &c)] {
                prop_assert!(fam.starts_with(&p));
                let ka = id_key(&fam, a);
                prop_assert_eq!(decode_id_key(&fam, &ka), Some(a));
                prop_assert_eq!(ka.cmp(&id_key(&fam, b)), a.cmp(&b));
            }
        }

        #[test]
        fn group_and_consumer_keys_roundtrip(p in prefix(), g in bytes(16), c in bytes(16)) {
            let gk = group_key(&p, &g);
            prop_assert_eq!(decode_group_key(&groups_prefix(&p), &gk), Some(&g[..]));
            let ck = consumer_key(&p, &g, &c);
            prop_assert!(ck.starts_with(&group_data_prefix(&p, &g)));
            prop_assert_eq!(decode_consumer_key(&consumers_prefix(&p, &g), &ck), Some(&c[..]));
            prop_assert!(consumer_pel_prefix(&p, &g, &c).starts_with(&group_data_prefix(&p, &g)));
            prop_assert!(pel_prefix(&p, &g).starts_with(&group_data_prefix(&p, &g)));
        }

        #[test]
        fn families_never_overlap(p in prefix(), g1 in bytes(8), g2 in bytes(8), c1 in bytes(8), c2 in bytes(8), id in id()) {
            // Nothing of one group lies under another group's data prefix.
            if g1 != g2 {
                let other = group_data_prefix(&p, &g2);
                prop_assert!(!id_key(&pel_prefix(&p, &g1), id).starts_with(&other));
                prop_assert!(!consumer_key(&p, &g1, &c1).starts_with(&other));
                prop_assert!(!id_key(&consumer_pel_prefix(&p, &g1, &c1), id).starts_with(&other));
            }
            // Nor one consumer's PEL index under another's.
            if c1 != c2 {
                let other = consumer_pel_prefix(&p, &g1, &c2);
                prop_assert!(!id_key(&consumer_pel_prefix(&p, &g1, &c1), id).starts_with(&other));
            }
            // Entries, groups and group data are disjoint.
            let e = id_key(&entries_prefix(&p), id);
            prop_assert!(!e.starts_with(&groups_prefix(&p)));
            prop_assert!(!group_key(&p, &g1).starts_with(&entries_prefix(&p)));
            prop_assert!(!e.starts_with(&group_data_prefix(&p, &g1)));
        }

        #[test]
        fn values_roundtrip(last in id(), first in id(), md in id(), added in any::<u64>(), groups in any::<u64>(),
                            name in bytes(16), er in any::<i64>(), pel in any::<u64>(), n in any::<u64>(),
                            seen in any::<u64>(), active in any::<i64>()) {
            let h = Header { last, first, max_deleted: md, entries_added: added, groups, nodes: None };
            let raw = h.encode();
            prop_assert_eq!(raw.len(), HEADER_LEN);
            prop_assert_eq!(Header::decode(&raw), Some(h.clone()));
            let h2 = Header { nodes: Some(NodeTally { count: n, tail: md }), ..h };
            let raw2 = h2.encode();
            prop_assert_eq!(raw2.len(), HEADER_LEN_NODES);
            prop_assert_eq!(&raw2[1..HEADER_LEN], &raw[1..]);
            prop_assert_eq!(Header::decode(&raw2), Some(h2));
            let g = Group { name: name.clone(), last, entries_read: er, pel, consumers: n };
            prop_assert_eq!(Group::decode(&name, &g.encode()), Some(g));
            let c = Consumer { name: name.clone(), seen, active, pel };
            prop_assert_eq!(Consumer::decode(&name, &c.encode()), Some(c));
            let k = Nack { time: seen, count: n, consumer: name };
            prop_assert_eq!(Nack::decode(&k.encode()), Some(k));
        }

        #[test]
        fn nodes_roundtrip(count in any::<u64>(), deleted in any::<u64>(), b in any::<u64>(), last in id(),
                           fields in proptest::collection::vec(bytes(12), 0..6), p in prefix(), a in id(), c in id()) {
            let n = Node { count, deleted, bytes: b, last, fields };
            prop_assert_eq!(Node::decode(&n.encode()), Some(n));
            let fam = nodes_prefix(&p);
            prop_assert!(fam.starts_with(&p));
            prop_assert_eq!(decode_id_key(&fam, &id_key(&fam, a)), Some(a));
            prop_assert_eq!(id_key(&fam, a).cmp(&id_key(&fam, c)), a.cmp(&c));
            // Node records are apart from entries, groups and group data.
            prop_assert!(!id_key(&fam, a).starts_with(&entries_prefix(&p)));
            prop_assert!(!id_key(&fam, a).starts_with(&groups_prefix(&p)));
            prop_assert!(!id_key(&entries_prefix(&p), a).starts_with(&fam));
        }

        #[test]
        fn fields_roundtrip(items in proptest::collection::vec(bytes(16), 0..8)) {
            prop_assert_eq!(decode_fields(&encode_fields(&items)), Some(items));
        }

        #[test]
        fn decoders_never_panic(raw in bytes(80), fam in bytes(8)) {
            let _ = Id::decode(&raw);
            let _ = decode_id_key(&fam, &raw);
            let _ = Header::decode(&raw);
            let _ = Node::decode(&raw);
            let _ = Group::decode(b"g", &raw);
            let _ = Consumer::decode(b"c", &raw);
            let _ = Nack::decode(&raw);
            let _ = decode_fields(&raw);
        }
    }
}
