//! Records of the stream type: the key's meta record (kind Stream, `len` = number of
//! entries, `inline` = the stream [`Header`]) plus, under the key's version prefix,
//! one `data` record per entry, per emulated radix-tree node (`cmd/stream/nodes.rs`),
//! per consumer group, per consumer and per pending
//! entry, and each consumer's PEL index (byte layouts in `keys::stream`). So DEL or an
//! overwrite of a stream of any size writes O(1) records.
//!
//! [`Stream`] opens a stream (with the type check) or creates one, reads, appends and
//! deletes entries, trims its head, and reads and writes its groups, consumers and
//! pending entries; [`Fam`] scans an ID-keyed family (the entries, a group's PEL, a
//! consumer's PEL index) forwards or from its tail. What each command does with them
//! is `cmd/stream.rs`'s business. Everything goes through the [`Txn`], so a command
//! reads back its own writes.

use crate::coll::prefix_end;
use crate::error::CmdError;
use crate::txn::Txn;
use ::keys::stream as layout;
use ::keys::{Cf, Kind, Meta};

pub(crate) use ::keys::stream::{Consumer, Group, Header, Id, Nack, Node, NodeTally};

/// Removing more entries than this at once (a trim) uses one range delete instead of
/// a point delete per entry.
const POINT_DELETES_MAX: u64 = 64;

/// A stream record that does not decode (or contradicts the others).
pub(crate) fn corrupt(what: &str) -> CmdError {
    CmdError::storage(format!("corrupt stream {what} record"))
}

/// An entry record's value for the field/value list `items`.
#[inline]
pub(crate) fn encode_fields<T: AsRef<[u8]>>(items: &[T]) -> Vec<u8> {
    layout::encode_fields(items)
}

/// The field/value list of an entry record's value.
pub(crate) fn decode_fields(raw: &[u8]) -> Result<Vec<Vec<u8>>, CmdError> {
    layout::decode_fields(raw).ok_or_else(|| corrupt("entry"))
}

/// A node record's value (as [`Fam::range`] over [`Stream::nodes`] hands it out).
pub(crate) fn decode_node(raw: &[u8]) -> Result<Node, CmdError> {
    Node::decode(raw).ok_or_else(|| corrupt("node"))
}

/// A group PEL record's value (as [`Fam::visit`] over [`Stream::pel`] hands it out).
pub(crate) fn decode_nack(raw: &[u8]) -> Result<Nack, CmdError> {
    Nack::decode(raw).ok_or_else(|| corrupt("pending entry"))
}

// ---- families of ID-keyed records ---------------------------------------------------

/// A family of records keyed `prefix + id`: entries, a group's PEL, a consumer's PEL
/// index.
pub(crate) struct Fam(Vec<u8>);

/// Upper bound on bisection probes in [`Fam::tail`] before it falls back to a walk.
const MAX_PROBES: usize = 256;

impl Fam {
    fn key(&self, id: Id) -> Vec<u8> {
        layout::id_key(&self.0, id)
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
        let mut bad = false;
        t.raw_scan(
            Cf::Data,
            &start,
            &end,
            &mut |k, v| match layout::decode_id_key(&self.0, k) {
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

/// An open stream: its meta record, decoded header and data prefix.
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
            h: Header {
                nodes: Some(NodeTally::default()),
                ..Header::default()
            },
            prefix,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.meta.len
    }

    /// Writes the meta record (header, length, write index). Streams may be empty, so
    /// an empty stream is kept, unlike the other collections.
    /// A stream without node records (written before they were kept) starts keeping
    /// them once it is empty.
    pub fn save(&mut self, t: &mut Txn) -> Result<(), CmdError> {
        if self.h.nodes.is_none() && self.meta.len == 0 {
            self.h.nodes = Some(NodeTally::default());
        }
        self.meta.inline = self.h.encode();
        t.put_meta(&self.key, self.meta.clone())
    }

    // ---- entries ----

    /// The entries: ID → field/value list ([`decode_fields`]).
    pub fn entries(&self) -> Fam {
        Fam(layout::entries_prefix(&self.prefix))
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

    // ---- virtual nodes ----

    /// The virtual node records: first entry ID → [`Node`].
    pub fn nodes(&self) -> Fam {
        Fam(layout::nodes_prefix(&self.prefix))
    }

    pub fn node(&self, t: &Txn, id: Id) -> Result<Option<Node>, CmdError> {
        match t.raw_get(Cf::Data, &self.nodes().key(id))? {
            None => Ok(None),
            Some(raw) => decode_node(&raw).map(Some),
        }
    }

    /// The node holding entry `id`: the last node starting at or before it.
    pub fn node_of(&self, t: &Txn, id: Id) -> Result<Option<(Id, Node)>, CmdError> {
        match self.nodes().tail(t, Id::MIN, id, 1)?.pop() {
            None => Ok(None),
            Some((at, raw)) => Ok(Some((at, decode_node(&raw)?))),
        }
    }

    pub fn put_node(&self, t: &mut Txn, id: Id, n: &Node) {
        t.raw_put(Cf::Data, self.nodes().key(id), n.encode());
    }

    pub fn delete_node(&self, t: &mut Txn, id: Id) {
        t.raw_delete(Cf::Data, self.nodes().key(id));
    }

    /// Deletes the node records from `from` to `to` (inclusive) with one range delete.
    pub fn delete_nodes(&self, t: &mut Txn, from: Id, to: Id) {
        let (start, end) = self.nodes().bounds(from, to);
        t.raw_delete_range(Cf::Data, start, end);
    }

    // ---- groups ----

    pub fn group(&self, t: &Txn, name: &[u8]) -> Result<Option<Group>, CmdError> {
        match t.raw_get(Cf::Data, &layout::group_key(&self.prefix, name))? {
            None => Ok(None),
            Some(raw) => Group::decode(name, &raw)
                .map(Some)
                .ok_or_else(|| corrupt("group")),
        }
    }

    /// Every group, in name order.
    pub fn groups(&self, t: &Txn) -> Result<Vec<Group>, CmdError> {
        let prefix = layout::groups_prefix(&self.prefix);
        decode_all(t, &prefix, "group", |k, v| {
            Group::decode(layout::decode_group_key(&prefix, k)?, v)
        })
    }

    pub fn put_group(&self, t: &mut Txn, g: &Group) {
        t.raw_put(
            Cf::Data,
            layout::group_key(&self.prefix, &g.name),
            g.encode(),
        );
    }

    /// Drops a group with its PEL and consumers: O(1) writes (one range delete).
    pub fn delete_group(&self, t: &mut Txn, name: &[u8]) {
        t.raw_delete(Cf::Data, layout::group_key(&self.prefix, name));
        let start = layout::group_data_prefix(&self.prefix, name);
        let end = prefix_end(&start);
        t.raw_delete_range(Cf::Data, start, end);
    }

    // ---- consumers ----

    pub fn consumer(&self, t: &Txn, g: &[u8], c: &[u8]) -> Result<Option<Consumer>, CmdError> {
        match t.raw_get(Cf::Data, &layout::consumer_key(&self.prefix, g, c))? {
            None => Ok(None),
            Some(raw) => Consumer::decode(c, &raw)
                .map(Some)
                .ok_or_else(|| corrupt("consumer")),
        }
    }

    /// Every consumer of group `g`, in name order.
    pub fn consumers(&self, t: &Txn, g: &[u8]) -> Result<Vec<Consumer>, CmdError> {
        let prefix = layout::consumers_prefix(&self.prefix, g);
        decode_all(t, &prefix, "consumer", |k, v| {
            Consumer::decode(layout::decode_consumer_key(&prefix, k)?, v)
        })
    }

    pub fn put_consumer(&self, t: &mut Txn, g: &[u8], c: &Consumer) {
        t.raw_put(
            Cf::Data,
            layout::consumer_key(&self.prefix, g, &c.name),
            c.encode(),
        );
    }

    /// Drops the consumer record and its PEL index (not the group PEL records).
    pub fn delete_consumer(&self, t: &mut Txn, g: &[u8], c: &[u8]) {
        t.raw_delete(Cf::Data, layout::consumer_key(&self.prefix, g, c));
        let start = self.cpel(g, c).0;
        let end = prefix_end(&start);
        t.raw_delete_range(Cf::Data, start, end);
    }

    // ---- pending entries ----

    /// Group `g`'s PEL: ID → [`Nack`] ([`decode_nack`]).
    pub fn pel(&self, g: &[u8]) -> Fam {
        Fam(layout::pel_prefix(&self.prefix, g))
    }

    /// Consumer `c`'s PEL index: ID → empty.
    pub fn cpel(&self, g: &[u8], c: &[u8]) -> Fam {
        Fam(layout::consumer_pel_prefix(&self.prefix, g, c))
    }

    pub fn nack(&self, t: &Txn, g: &[u8], id: Id) -> Result<Option<Nack>, CmdError> {
        match t.raw_get(Cf::Data, &self.pel(g).key(id))? {
            None => Ok(None),
            Some(raw) => decode_nack(&raw).map(Some),
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

/// Every record under `prefix`, decoded from (key, value) in key order; a record
/// `decode` refuses is reported as corrupt `what`.
fn decode_all<T>(
    t: &Txn,
    prefix: &[u8],
    what: &str,
    decode: impl Fn(&[u8], &[u8]) -> Option<T>,
) -> Result<Vec<T>, CmdError> {
    let end = prefix_end(prefix);
    let mut out = Vec::new();
    let mut bad = false;
    t.raw_scan(Cf::Data, prefix, &end, &mut |k, v| match decode(k, v) {
        Some(x) => {
            out.push(x);
            true
        }
        None => {
            bad = true;
            false
        }
    })?;
    if bad {
        return Err(corrupt(what));
    }
    Ok(out)
}
