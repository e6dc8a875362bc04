//! The records of one stream (the layout is described in the `stream` module doc).
//!
//! Everything goes through the [`Txn`], so a command reads back its own writes.

use super::id::Id;
use crate::coll::prefix_end;
use crate::error::CmdError;
use crate::txn::Txn;
use ::keys::{Cf, Kind, Meta};

// Sub-key families under the key's version prefix.
const ENTRY: u8 = 1;
const GROUP: u8 = 2;
const GDATA: u8 = 3;
// Families under a group's data prefix.
const G_PEL: u8 = 1;
const G_CONSUMER: u8 = 2;
const G_CPEL: u8 = 3;

/// Removing more entries than this at once (a trim) uses one range delete instead of
/// a point delete per entry.
const POINT_DELETES_MAX: u64 = 64;

pub(crate) fn corrupt(what: &str) -> CmdError {
    CmdError::storage(format!("corrupt stream {what} record"))
}

fn word(raw: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(raw.get(at..at + 8)?.try_into().ok()?))
}

fn id_at(raw: &[u8], at: usize) -> Option<Id> {
    Id::decode(raw.get(at..at + 16)?)
}

fn len_prefixed(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

// ---- records ------------------------------------------------------------------------

/// The stream-wide state kept in the meta record's inline bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Header {
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
}

const HEADER_FORMAT: u8 = 1;
const HEADER_LEN: usize = 1 + 16 * 3 + 8 + 8;

impl Header {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.push(HEADER_FORMAT);
        out.extend_from_slice(&self.last.encode());
        out.extend_from_slice(&self.first.encode());
        out.extend_from_slice(&self.max_deleted.encode());
        out.extend_from_slice(&self.entries_added.to_be_bytes());
        out.extend_from_slice(&self.groups.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> Option<Header> {
        if raw.len() != HEADER_LEN || raw[0] != HEADER_FORMAT {
            return None;
        }
        Some(Header {
            last: id_at(raw, 1)?,
            first: id_at(raw, 17)?,
            max_deleted: id_at(raw, 33)?,
            entries_added: word(raw, 49)?,
            groups: word(raw, 57)?,
        })
    }
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Group {
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

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        out.extend_from_slice(&self.last.encode());
        out.extend_from_slice(&self.entries_read.to_be_bytes());
        out.extend_from_slice(&self.pel.to_be_bytes());
        out.extend_from_slice(&self.consumers.to_be_bytes());
        out
    }

    fn decode(name: &[u8], raw: &[u8]) -> Option<Group> {
        if raw.len() != 40 {
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

/// A consumer of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Consumer {
    pub name: Vec<u8>,
    /// seen-time: the last read or claim attempt.
    pub seen: u64,
    /// active-time: the last successful read or claim; -1 = never.
    pub active: i64,
    /// Entries in this consumer's PEL.
    pub pel: u64,
}

impl Consumer {
    pub fn new(name: &[u8], now: u64) -> Consumer {
        Consumer {
            name: name.to_vec(),
            seen: now,
            active: -1,
            pel: 0,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&self.seen.to_be_bytes());
        out.extend_from_slice(&self.active.to_be_bytes());
        out.extend_from_slice(&self.pel.to_be_bytes());
        out
    }

    fn decode(name: &[u8], raw: &[u8]) -> Option<Consumer> {
        if raw.len() != 24 {
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

/// A pending entry of a group (streamNACK).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Nack {
    /// Last delivery time (unix ms).
    pub time: u64,
    pub count: u64,
    /// The consumer it was last delivered to.
    pub consumer: Vec<u8>,
}

impl Nack {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.consumer.len());
        out.extend_from_slice(&self.time.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.consumer);
        out
    }

    pub fn decode(raw: &[u8]) -> Result<Nack, CmdError> {
        let bad = || corrupt("pending entry");
        Ok(Nack {
            time: word(raw, 0).ok_or_else(bad)?,
            count: word(raw, 8).ok_or_else(bad)?,
            consumer: raw.get(16..).ok_or_else(bad)?.to_vec(),
        })
    }
}

/// An entry's field/value list: each item as a u32 BE length and its bytes.
pub(crate) fn encode_fields<T: AsRef<[u8]>>(items: &[T]) -> Vec<u8> {
    let total: usize = items.iter().map(|i| 4 + i.as_ref().len()).sum();
    let mut out = Vec::with_capacity(total);
    for i in items {
        len_prefixed(&mut out, i.as_ref());
    }
    out
}

pub(crate) fn decode_fields(raw: &[u8]) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < raw.len() {
        let n = raw
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize)
            .ok_or_else(|| corrupt("entry"))?;
        let item = raw
            .get(at + 4..at + 4 + n)
            .ok_or_else(|| corrupt("entry"))?;
        out.push(item.to_vec());
        at += 4 + n;
    }
    Ok(out)
}

// ---- families of ID-keyed records ---------------------------------------------------

/// A family of records keyed `prefix + id (16 bytes)`: entries, a group's PEL, a
/// consumer's PEL index.
pub(crate) struct Fam(Vec<u8>);

/// Upper bound on bisection probes in [`Fam::tail`] before it falls back to a walk.
const MAX_PROBES: usize = 256;

impl Fam {
    fn key(&self, id: Id) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.0.len() + 16);
        k.extend_from_slice(&self.0);
        k.extend_from_slice(&id.encode());
        k
    }

    /// `[key(from), key(to) + 1)`.
    fn bounds(&self, from: Id, to: Id) -> (Vec<u8>, Vec<u8>) {
        let end = match to.next() {
            Some(n) => self.key(n),
            None => prefix_end(&self.0),
        };
        (self.key(from), end)
    }

    /// Visits the records with `from <= id <= to` in ID order until `f` returns false.
    pub fn visit(
        &self,
        t: &Txn,
        from: Id,
        to: Id,
        f: &mut dyn FnMut(Id, &[u8]) -> bool,
    ) -> Result<(), CmdError> {
        if from > to {
            return Ok(());
        }
        let (start, end) = self.bounds(from, to);
        let n = self.0.len();
        let mut bad = false;
        t.raw_scan(
            Cf::Data,
            &start,
            &end,
            &mut |k, v| match Id::decode(&k[n..]) {
                Some(id) => f(id, v),
                None => {
                    bad = true;
                    false
                }
            },
        )?;
        if bad {
            Err(corrupt("key"))
        } else {
            Ok(())
        }
    }

    /// Up to `limit` records with `from <= id <= to`, in ID order.
    pub fn range(
        &self,
        t: &Txn,
        from: Id,
        to: Id,
        limit: u64,
    ) -> Result<Vec<(Id, Vec<u8>)>, CmdError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.visit(t, from, to, &mut |id, v| {
            out.push((id, v.to_vec()));
            (out.len() as u64) < limit
        })?;
        Ok(out)
    }

    /// The last `k` records with `from <= id <= to`, in ID order. The store iterates
    /// forward only, so this bisects the ID space between a point known to have more
    /// than `cap` records up to `to` and one known to have fewer than `k`, each probe
    /// reading at most `cap + 1` records (at most 128 halvings of the 128-bit space).
    pub fn tail(&self, t: &Txn, from: Id, to: Id, k: u64) -> Result<Vec<(Id, Vec<u8>)>, CmdError> {
        if k == 0 || from > to {
            return Ok(Vec::new());
        }
        let cap = k.saturating_mul(2).saturating_add(16);
        let last_k = |mut v: Vec<(Id, Vec<u8>)>| {
            let skip = v
                .len()
                .saturating_sub(usize::try_from(k).unwrap_or(usize::MAX));
            v.drain(..skip);
            v
        };
        let first = self.range(t, from, to, cap.saturating_add(1))?;
        if (first.len() as u64) <= cap {
            return Ok(last_k(first));
        }
        // Invariant: more than `cap` records in [lo, to]; the answer starts in [lo, hi].
        let mut lo = first[0].0.as_u128();
        let mut hi = to.as_u128();
        for _ in 0..MAX_PROBES {
            if lo >= hi {
                break;
            }
            let mid = lo + (hi - lo) / 2 + 1; // in (lo, hi]
            let got = self.range(t, Id::from_u128(mid), to, cap.saturating_add(1))?;
            let n = got.len() as u64;
            if n < k {
                hi = mid - 1;
            } else if n <= cap {
                return Ok(last_k(got));
            } else {
                lo = got[0].0.as_u128().max(mid);
            }
        }
        let rest = self.range(t, Id::from_u128(lo), to, u64::MAX)?;
        Ok(last_k(rest))
    }
}

// ---- the stream ---------------------------------------------------------------------

/// An open stream: its meta record, decoded header and sub-key prefix.
pub(crate) struct Stream {
    pub key: Vec<u8>,
    pub meta: Meta,
    pub h: Header,
    prefix: Vec<u8>,
}

impl Stream {
    /// The live stream at `key`; WRONGTYPE if the key holds another type.
    pub fn open(t: &Txn, key: &[u8]) -> Result<Option<Stream>, CmdError> {
        let Some(meta) = t.get_kind(key, Kind::Stream)? else {
            return Ok(None);
        };
        let h = Header::decode(&meta.inline).ok_or_else(|| corrupt("header"))?;
        let prefix = ::keys::data_prefix(t.db, key, meta.version);
        Ok(Some(Stream {
            key: key.to_vec(),
            meta,
            h,
            prefix,
        }))
    }

    /// A new empty stream (a fresh version); nothing is written before [`Stream::save`].
    pub fn create(t: &mut Txn, key: &[u8]) -> Stream {
        let meta = t.new_meta(Kind::Stream, Vec::new());
        let prefix = ::keys::data_prefix(t.db, key, meta.version);
        Stream {
            key: key.to_vec(),
            meta,
            h: Header::default(),
            prefix,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.meta.len
    }

    /// Writes the meta record (header, length, write index). Streams may be empty, so
    /// an empty stream is kept, unlike the other collections.
    pub fn save(&mut self, t: &mut Txn) -> Result<(), CmdError> {
        self.meta.inline = self.h.encode();
        t.put_meta(&self.key, self.meta.clone())
    }

    fn sub(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut k = self.prefix.clone();
        for p in parts {
            k.extend_from_slice(p);
        }
        k
    }

    // ---- entries ----

    pub fn entries(&self) -> Fam {
        Fam(self.sub(&[&[ENTRY]]))
    }

    pub fn get_entry(&self, t: &Txn, id: Id) -> Result<Option<Vec<u8>>, CmdError> {
        Ok(t.raw_get(Cf::Data, &self.entries().key(id))?)
    }

    pub fn has_entry(&self, t: &Txn, id: Id) -> Result<bool, CmdError> {
        Ok(self.get_entry(t, id)?.is_some())
    }

    /// Appends entry `id` (the caller checked it is new).
    pub fn put_entry(&mut self, t: &mut Txn, id: Id, value: Vec<u8>) {
        t.raw_put(Cf::Data, self.entries().key(id), value);
        self.meta.len += 1;
    }

    /// Removes entry `id` (the caller checked it is present).
    pub fn delete_entry(&mut self, t: &mut Txn, id: Id) {
        t.raw_delete(Cf::Data, self.entries().key(id));
        self.meta.len = self.meta.len.saturating_sub(1);
    }

    /// The first entry ID at or after `from`.
    pub fn first_id_from(&self, t: &Txn, from: Id) -> Result<Option<Id>, CmdError> {
        Ok(self
            .entries()
            .range(t, from, Id::MAX, 1)?
            .first()
            .map(|e| e.0))
    }

    /// The last live entry's ID (streamLastValidID): `h.last` when that entry still
    /// exists, else found with a tail probe.
    pub fn last_entry_id(&self, t: &Txn) -> Result<Option<Id>, CmdError> {
        if self.len() == 0 {
            return Ok(None);
        }
        if self.has_entry(t, self.h.last)? {
            return Ok(Some(self.h.last));
        }
        Ok(self
            .entries()
            .tail(t, Id::MIN, Id::MAX, 1)?
            .pop()
            .map(|e| e.0))
    }

    /// Removes the first `n` entries (0 < n <= len): point deletes for a few, one
    /// range delete for more. Updates the length and the first entry ID.
    pub fn remove_first(&mut self, t: &mut Txn, n: u64) -> Result<(), CmdError> {
        let fam = self.entries();
        let point = n <= POINT_DELETES_MAX;
        let mut doomed = Vec::new();
        let mut seen = 0u64;
        let mut last_doomed = Id::MIN;
        let mut next_first = None;
        fam.visit(t, Id::MIN, Id::MAX, &mut |id, _| {
            if seen == n {
                next_first = Some(id);
                return false;
            }
            seen += 1;
            last_doomed = id;
            if point {
                doomed.push(id);
            }
            true
        })?;
        if seen != n {
            return Err(corrupt("length"));
        }
        if point {
            for id in doomed {
                t.raw_delete(Cf::Data, fam.key(id));
            }
        } else {
            let (start, end) = fam.bounds(Id::MIN, last_doomed);
            t.raw_delete_range(Cf::Data, start, end);
        }
        self.meta.len -= n;
        self.h.first = next_first.unwrap_or(Id::MIN);
        Ok(())
    }

    // ---- groups ----

    fn group_key(&self, name: &[u8]) -> Vec<u8> {
        self.sub(&[&[GROUP], name])
    }

    fn gdata(&self, g: &[u8]) -> Vec<u8> {
        let mut k = self.sub(&[&[GDATA]]);
        len_prefixed(&mut k, g);
        k
    }

    pub fn group(&self, t: &Txn, name: &[u8]) -> Result<Option<Group>, CmdError> {
        match t.raw_get(Cf::Data, &self.group_key(name))? {
            None => Ok(None),
            Some(raw) => Group::decode(name, &raw)
                .map(Some)
                .ok_or_else(|| corrupt("group")),
        }
    }

    /// Every group, in name order.
    pub fn groups(&self, t: &Txn) -> Result<Vec<Group>, CmdError> {
        decode_all(t, self.sub(&[&[GROUP]]), "group", Group::decode)
    }

    pub fn put_group(&self, t: &mut Txn, g: &Group) {
        t.raw_put(Cf::Data, self.group_key(&g.name), g.encode());
    }

    /// Drops a group with its PEL and consumers: O(1) writes (one range delete).
    pub fn delete_group(&self, t: &mut Txn, name: &[u8]) {
        t.raw_delete(Cf::Data, self.group_key(name));
        let start = self.gdata(name);
        let end = prefix_end(&start);
        t.raw_delete_range(Cf::Data, start, end);
    }

    // ---- consumers ----

    fn consumer_key(&self, g: &[u8], c: &[u8]) -> Vec<u8> {
        let mut k = self.gdata(g);
        k.push(G_CONSUMER);
        k.extend_from_slice(c);
        k
    }

    pub fn consumer(&self, t: &Txn, g: &[u8], c: &[u8]) -> Result<Option<Consumer>, CmdError> {
        match t.raw_get(Cf::Data, &self.consumer_key(g, c))? {
            None => Ok(None),
            Some(raw) => Consumer::decode(c, &raw)
                .map(Some)
                .ok_or_else(|| corrupt("consumer")),
        }
    }

    /// Every consumer of group `g`, in name order.
    pub fn consumers(&self, t: &Txn, g: &[u8]) -> Result<Vec<Consumer>, CmdError> {
        let mut start = self.gdata(g);
        start.push(G_CONSUMER);
        decode_all(t, start, "consumer", Consumer::decode)
    }

    pub fn put_consumer(&self, t: &mut Txn, g: &[u8], c: &Consumer) {
        t.raw_put(Cf::Data, self.consumer_key(g, &c.name), c.encode());
    }

    /// Drops the consumer record and its PEL index (not the group PEL records).
    pub fn delete_consumer(&self, t: &mut Txn, g: &[u8], c: &[u8]) {
        t.raw_delete(Cf::Data, self.consumer_key(g, c));
        let start = self.cpel(g, c).0;
        let end = prefix_end(&start);
        t.raw_delete_range(Cf::Data, start, end);
    }

    // ---- pending entries ----

    /// Group `g`'s PEL: ID → [`Nack`].
    pub fn pel(&self, g: &[u8]) -> Fam {
        let mut k = self.gdata(g);
        k.push(G_PEL);
        Fam(k)
    }

    /// Consumer `c`'s PEL index: ID → empty.
    pub fn cpel(&self, g: &[u8], c: &[u8]) -> Fam {
        let mut k = self.gdata(g);
        k.push(G_CPEL);
        len_prefixed(&mut k, c);
        Fam(k)
    }

    pub fn nack(&self, t: &Txn, g: &[u8], id: Id) -> Result<Option<Nack>, CmdError> {
        match t.raw_get(Cf::Data, &self.pel(g).key(id))? {
            None => Ok(None),
            Some(raw) => Nack::decode(&raw).map(Some),
        }
    }

    /// Writes the group PEL record of `id`.
    pub fn put_nack(&self, t: &mut Txn, g: &[u8], id: Id, n: &Nack) {
        t.raw_put(Cf::Data, self.pel(g).key(id), n.encode());
    }

    /// Removes the group PEL record of `id`.
    pub fn delete_nack(&self, t: &mut Txn, g: &[u8], id: Id) {
        t.raw_delete(Cf::Data, self.pel(g).key(id));
    }

    /// Adds `id` to consumer `c`'s PEL index.
    pub fn cpel_add(&self, t: &mut Txn, g: &[u8], c: &[u8], id: Id) {
        t.raw_put(Cf::Data, self.cpel(g, c).key(id), Vec::new());
    }

    /// Removes `id` from consumer `c`'s PEL index.
    pub fn cpel_remove(&self, t: &mut Txn, g: &[u8], c: &[u8], id: Id) {
        t.raw_delete(Cf::Data, self.cpel(g, c).key(id));
    }
}

/// Every record under `prefix`, decoded from (key after the prefix, value) in key order;
/// a record `decode` refuses is reported as corrupt `what`.
fn decode_all<T>(
    t: &Txn,
    prefix: Vec<u8>,
    what: &str,
    decode: impl Fn(&[u8], &[u8]) -> Option<T>,
) -> Result<Vec<T>, CmdError> {
    let end = prefix_end(&prefix);
    let n = prefix.len();
    let mut out = Vec::new();
    let mut bad = false;
    t.raw_scan(
        Cf::Data,
        &prefix,
        &end,
        &mut |k, v| match decode(&k[n..], v) {
            Some(x) => {
                out.push(x);
                true
            }
            None => {
                bad = true;
                false
            }
        },
    )?;
    if bad {
        return Err(corrupt(what));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_roundtrip() {
        let h = Header {
            last: Id::new(5, 6),
            first: Id::new(1, 2),
            max_deleted: Id::new(3, 4),
            entries_added: 9,
            groups: 2,
        };
        assert_eq!(Header::decode(&h.encode()), Some(h));
        assert_eq!(Header::decode(b""), None);
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
        assert_eq!(Nack::decode(&n.encode()).unwrap(), n);
        let items = vec![
            b"f".to_vec(),
            b"".to_vec(),
            b"v\x00w".to_vec(),
            b"x".to_vec(),
        ];
        assert_eq!(decode_fields(&encode_fields(&items)).unwrap(), items);
        assert!(decode_fields(&[0, 0, 0, 5, 1]).is_err());
    }
}
