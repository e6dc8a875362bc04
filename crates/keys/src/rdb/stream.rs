//! Streams in RDB: RDB_TYPE_STREAM_LISTPACKS (Redis 5-6) and _2 (Redis 7.0). The
//! entries live in listpack nodes keyed by their master ID; each node starts with a
//! master entry (live count, deleted count, the master fields) and each entry is its
//! flags, ID deltas from the master ID, its fields (unless the master's), values and
//! an lp-count. Then come the stream's metadata and its consumer groups with their
//! PELs and consumers.

use super::listpack::{self, Item};
use super::{put_len, put_string, Reader};
use crate::stream::Id;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// A stream as RDB holds it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stream {
    pub nodes: Vec<StreamNode>,
    /// Live entries.
    pub length: u64,
    pub last: Id,
    pub first: Id,
    pub max_deleted: Id,
    pub entries_added: u64,
    pub groups: Vec<StreamGroup>,
}

/// One listpack node: its master ID and fields, its entries (live and deleted) and
/// the listpack's size in bytes (filled in by the decoder; the encoder computes it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamNode {
    pub master: Id,
    pub fields: Vec<Vec<u8>>,
    pub entries: Vec<StreamEntry>,
    pub bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamEntry {
    pub id: Id,
    pub deleted: bool,
    /// field, value, field, value, ...
    pub items: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamGroup {
    pub name: Vec<u8>,
    pub last: Id,
    /// -1 when unknown.
    pub entries_read: i64,
    /// (id, delivery time ms, delivery count), ascending IDs.
    pub pel: Vec<(Id, u64, u64)>,
    pub consumers: Vec<StreamConsumer>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamConsumer {
    pub name: Vec<u8>,
    pub seen: u64,
    /// The IDs it owns in the group PEL, ascending.
    pub pel: Vec<Id>,
}

fn put_id_key(out: &mut Vec<u8>, id: Id) {
    put_string(out, &id.encode());
}

/// The listpack of node `n`: only its entries that are not deleted are written (a
/// master entry saying so), or None if it has none.
fn node_listpack(n: &StreamNode) -> Option<Vec<u8>> {
    let live: Vec<&StreamEntry> = n.entries.iter().filter(|e| !e.deleted).collect();
    if live.is_empty() {
        return None;
    }
    let mut w = listpack::Writer::new();
    w.push_int(live.len() as i64);
    w.push_int(0);
    w.push_int(n.fields.len() as i64);
    for f in &n.fields {
        w.push_str(f);
    }
    w.push_int(0);
    for e in live {
        let nf = e.items.len() / 2;
        let same = nf == n.fields.len()
            && e.items
                .iter()
                .step_by(2)
                .zip(&n.fields)
                .all(|(a, b)| a == b);
        w.push_int(if same { FLAG_SAMEFIELDS } else { 0 });
        w.push_int(e.id.ms.wrapping_sub(n.master.ms) as i64);
        w.push_int(e.id.seq.wrapping_sub(n.master.seq) as i64);
        if !same {
            w.push_int(nf as i64);
        }
        for (i, it) in e.items.iter().enumerate() {
            if i % 2 == 1 || !same {
                w.push_str(it);
            }
        }
        let mut lp_count = nf as i64 + 3;
        if !same {
            lp_count += nf as i64 + 1;
        }
        w.push_int(lp_count);
    }
    Some(w.finish())
}

/// RDB_TYPE_STREAM_LISTPACKS_2's object.
pub(super) fn encode(out: &mut Vec<u8>, s: &Stream) {
    let lps: Vec<(Id, Vec<u8>)> = s
        .nodes
        .iter()
        .filter_map(|n| node_listpack(n).map(|lp| (n.master, lp)))
        .collect();
    put_len(out, lps.len() as u64);
    for (id, lp) in &lps {
        put_id_key(out, *id);
        put_string(out, lp);
    }
    put_len(out, s.length);
    put_len(out, s.last.ms);
    put_len(out, s.last.seq);
    put_len(out, s.first.ms);
    put_len(out, s.first.seq);
    put_len(out, s.max_deleted.ms);
    put_len(out, s.max_deleted.seq);
    put_len(out, s.entries_added);
    put_len(out, s.groups.len() as u64);
    for g in &s.groups {
        put_string(out, &g.name);
        put_len(out, g.last.ms);
        put_len(out, g.last.seq);
        put_len(out, g.entries_read as u64);
        put_len(out, g.pel.len() as u64);
        for (id, time, count) in &g.pel {
            out.extend_from_slice(&id.encode());
            out.extend_from_slice(&time.to_le_bytes());
            put_len(out, *count);
        }
        put_len(out, g.consumers.len() as u64);
        for c in &g.consumers {
            put_string(out, &c.name);
            out.extend_from_slice(&c.seen.to_le_bytes());
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.encode());
            }
        }
    }
}

fn int(it: Option<&Item>) -> Option<i64> {
    match it? {
        Item::Int(v) => Some(*v),
        Item::Str(_) => None,
    }
}

/// The entries of one node's listpack, validated as Redis's
/// streamValidateListpackIntegrity (deep) does, plus strictly increasing IDs from
/// the master ID on.
fn decode_node(r: &mut Reader, master: Id, lp: &[u8]) -> Option<StreamNode> {
    let items = listpack::read(lp)?;
    let p = std::cell::Cell::new(0usize);
    let next = || {
        let it = items.get(p.get()).copied();
        p.set(p.get() + 1);
        it
    };
    let count = int(next().as_ref())?;
    let deleted = int(next().as_ref())?;
    let nf = int(next().as_ref())?;
    if count < 0 || deleted < 0 || nf < 0 || count.checked_add(deleted)? == 0 {
        return None;
    }
    let mut fields = Vec::new();
    for _ in 0..nf {
        let f = next()?.to_bytes();
        r.charge(f.len() as u64)?;
        fields.push(f);
    }
    if int(next().as_ref())? != 0 {
        return None;
    }
    let mut entries: Vec<StreamEntry> = Vec::new();
    let (mut live, mut dead) = (0i64, 0i64);
    while p.get() < items.len() {
        let start = p.get();
        let flags = int(next().as_ref())?;
        let dms = int(next().as_ref())?;
        let dseq = int(next().as_ref())?;
        let id = Id::new(
            master.ms.wrapping_add(dms as u64),
            master.seq.wrapping_add(dseq as u64),
        );
        if entries.last().map_or(id < master, |e| e.id >= id) {
            return None;
        }
        let same = flags & FLAG_SAMEFIELDS != 0;
        let mut it = Vec::new();
        if same {
            for f in &fields {
                let v = next()?.to_bytes();
                r.charge(v.len() as u64)?;
                it.push(f.clone());
                it.push(v);
            }
        } else {
            let n = int(next().as_ref())?;
            if n < 0 {
                return None;
            }
            for _ in 0..n {
                let f = next()?.to_bytes();
                let v = next()?.to_bytes();
                r.charge((f.len() + v.len()) as u64)?;
                it.push(f);
                it.push(v);
            }
        }
        let lp_count = int(next().as_ref())?;
        if lp_count < 0 || lp_count as usize != p.get() - start - 1 {
            return None;
        }
        let del = flags & FLAG_DELETED != 0;
        if del {
            dead += 1;
        } else {
            live += 1;
        }
        entries.push(StreamEntry {
            id,
            deleted: del,
            items: it,
        });
    }
    if p.get() != items.len() || live != count || dead != deleted {
        return None;
    }
    Some(StreamNode {
        master,
        fields,
        entries,
        bytes: lp.len() as u64,
    })
}

fn read_id(r: &mut Reader) -> Option<Id> {
    Id::decode(r.raw(16)?)
}

/// Redis's streamEstimateDistanceFromFirstEverEntry, for groups loaded from the
/// version-1 type (which has no entries-read).
fn estimate_entries_read(s: &Stream, id: Id) -> i64 {
    if s.entries_added == 0 {
        return 0;
    }
    if s.length == 0 && id <= s.last {
        return s.entries_added as i64;
    }
    if id == s.last {
        return s.entries_added as i64;
    } else if id > s.last {
        return -1;
    }
    if s.max_deleted.is_zero() || s.max_deleted < s.first {
        if id < s.first {
            return (s.entries_added - s.length) as i64;
        } else if id == s.first {
            return (s.entries_added - s.length + 1) as i64;
        }
    }
    -1
}

/// The object of RDB_TYPE_STREAM_LISTPACKS (`v2` false) or _2, validated: unique
/// increasing node keys and entry IDs, counts that match, last ID not below any entry,
/// unique groups and consumers, every consumer PEL entry in its group's PEL and every
/// group PEL entry owned by exactly one consumer.
pub(super) fn decode(r: &mut Reader, v2: bool) -> Option<Stream> {
    let n = r.len()?;
    let mut s = Stream::default();
    let mut prev_last: Option<Id> = None;
    for _ in 0..n {
        let key = r.string()?;
        if key.len() != 16 {
            return None;
        }
        let master = Id::decode(&key)?;
        let lp = r.string()?;
        let node = decode_node(r, master, &lp)?;
        if prev_last.is_some_and(|l| master <= l) {
            return None;
        }
        prev_last = node.entries.last().map(|e| e.id);
        s.nodes.push(node);
    }
    s.length = r.len()?;
    s.last = Id::new(r.len()?, r.len()?);
    let live: u64 = s
        .nodes
        .iter()
        .map(|n| n.entries.iter().filter(|e| !e.deleted).count() as u64)
        .sum();
    if live != s.length || prev_last.is_some_and(|l| l > s.last) {
        return None;
    }
    let first_live = s
        .nodes
        .iter()
        .flat_map(|n| n.entries.iter())
        .find(|e| !e.deleted)
        .map_or(Id::MIN, |e| e.id);
    if v2 {
        s.first = Id::new(r.len()?, r.len()?);
        s.max_deleted = Id::new(r.len()?, r.len()?);
        s.entries_added = r.len()?;
    } else {
        s.first = first_live;
        s.max_deleted = Id::MIN;
        s.entries_added = s.length;
    }
    let ngroups = r.len()?;
    for _ in 0..ngroups {
        let name = r.string()?;
        if s.groups.iter().any(|g| g.name == name) {
            return None;
        }
        let last = Id::new(r.len()?, r.len()?);
        let entries_read = if v2 {
            r.len()? as i64
        } else {
            estimate_entries_read(&s, last)
        };
        let npel = r.len()?;
        let mut pel: Vec<(Id, u64, u64)> = Vec::new();
        for _ in 0..npel {
            let id = read_id(r)?;
            let time = r.ms_time()?;
            let count = r.len()?;
            r.charge(16)?;
            pel.push((id, time, count));
        }
        pel.sort_by_key(|p| p.0);
        if pel.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        let mut owned = vec![false; pel.len()];
        let nconsumers = r.len()?;
        let mut consumers: Vec<StreamConsumer> = Vec::new();
        for _ in 0..nconsumers {
            let cname = r.string()?;
            if consumers.iter().any(|c| c.name == cname) {
                return None;
            }
            let seen = r.ms_time()?;
            let ncpel = r.len()?;
            let mut cpel = Vec::new();
            for _ in 0..ncpel {
                let id = read_id(r)?;
                r.charge(16)?;
                let i = pel.binary_search_by_key(&id, |p| p.0).ok()?;
                if owned[i] {
                    return None;
                }
                owned[i] = true;
                cpel.push(id);
            }
            cpel.sort();
            consumers.push(StreamConsumer {
                name: cname,
                seen,
                pel: cpel,
            });
        }
        if owned.iter().any(|o| !o) {
            return None;
        }
        consumers.sort_by(|a, b| a.name.cmp(&b.name));
        s.groups.push(StreamGroup {
            name,
            last,
            entries_read,
            pel,
            consumers,
        });
    }
    s.groups.sort_by(|a, b| a.name.cmp(&b.name));
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::super::{decode as decode_payload, encode as encode_value, Value};
    use super::*;

    #[test]
    fn stream_round_trip() {
        let e = |ms, seq, items: &[&[u8]]| StreamEntry {
            id: Id::new(ms, seq),
            deleted: false,
            items: items.iter().map(|i| i.to_vec()).collect(),
        };
        let s = Stream {
            nodes: vec![
                StreamNode {
                    master: Id::new(1, 0),
                    fields: vec![b"a".to_vec()],
                    entries: vec![
                        e(1, 0, &[b"a", b"1"]),
                        e(2, 5, &[b"a", b"xyz"]),
                        e(3, 0, &[b"b", b"2", b"c", b"3"]),
                    ],
                    bytes: 0,
                },
                StreamNode {
                    master: Id::new(10, 0),
                    fields: vec![b"f".to_vec()],
                    entries: vec![e(10, 0, &[b"f", b"v"])],
                    bytes: 0,
                },
            ],
            length: 4,
            last: Id::new(10, 0),
            first: Id::new(1, 0),
            max_deleted: Id::MIN,
            entries_added: 4,
            groups: vec![StreamGroup {
                name: b"g".to_vec(),
                last: Id::new(2, 5),
                entries_read: 2,
                pel: vec![(Id::new(1, 0), 1000, 1), (Id::new(2, 5), 2000, 3)],
                consumers: vec![
                    StreamConsumer {
                        name: b"alice".to_vec(),
                        seen: 2000,
                        pel: vec![Id::new(1, 0), Id::new(2, 5)],
                    },
                    StreamConsumer {
                        name: b"bob".to_vec(),
                        seen: 10,
                        pel: vec![],
                    },
                ],
            }],
        };
        let p = encode_value(&Value::Stream(s.clone()));
        let Value::Stream(mut back) = decode_payload(&p, 1 << 20).unwrap() else {
            panic!("not a stream");
        };
        for n in &mut back.nodes {
            assert!(n.bytes > 0);
            n.bytes = 0;
        }
        assert_eq!(back, s);
    }
}
