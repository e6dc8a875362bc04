//! Records of the list type: a list's meta record (kind List, `len` = element count,
//! `inline` = its bounds `head..tail`) plus one `data` record per element at index
//! `head + position` (layouts in `keys::list`). [`List`] opens, reads, scans (forwards
//! and backwards), pushes, pops, trims, inserts in the middle and removes at given
//! positions, and saves the meta record; what each command does with them is
//! `cmd/list.rs`'s business.
//!
//! Changes in the middle shift the elements on ONE side of the change by rewriting
//! their records, always the side with fewer elements to move ([`List::insert_at`],
//! [`List::remove_positions`]). Removing a run at an end deletes its records, as one
//! range delete when there are more than [`RANGE_DELETE_MIN`]. Removing every element
//! deletes the meta record and drops the old version's records with one range delete
//! (point deletes for a few), as DEL and overwrites do.

use crate::coll;
use crate::error::CmdError;
use crate::txn::Txn;
use ::keys::list::{decode_bounds, decode_element_key, element_key, encode_bounds, encode_index};
use ::keys::{Cf, Kind, Meta};

/// Runs longer than this are deleted with one range delete instead of point deletes
/// (a capped list trimmed by one element per push stays on point deletes).
pub(crate) const RANGE_DELETE_MIN: u64 = 64;

/// A list whose records contradict its meta record.
pub(crate) fn corrupt(what: &str) -> CmdError {
    CmdError::storage(format!("corrupt list: {what}"))
}

/// Only reachable after ~2^63 pushes to one end; refused rather than wrapped.
fn exhausted() -> CmdError {
    CmdError::new("ERR list index space exhausted")
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Left,
    Right,
}

/// A list being read or changed: its meta record plus the decoded head and tail.
/// `meta.len` is kept equal to `tail - head`.
pub(crate) struct List {
    meta: Meta,
    head: i64,
    tail: i64,
}

impl List {
    fn from_meta(meta: Meta) -> Result<List, CmdError> {
        let (head, tail) = if meta.inline.is_empty() && meta.len == 0 {
            (0, 0) // a list being created
        } else {
            decode_bounds(&meta.inline).ok_or_else(|| corrupt("bad head/tail"))?
        };
        let len = tail.checked_sub(head).and_then(|d| u64::try_from(d).ok());
        if len != Some(meta.len) {
            return Err(corrupt("length does not match head/tail"));
        }
        Ok(List { meta, head, tail })
    }

    /// The live list at `key` (WRONGTYPE if the key holds another type).
    pub(crate) fn open(t: &Txn, key: &[u8]) -> Result<Option<List>, CmdError> {
        t.get_kind(key, Kind::List)?
            .map(List::from_meta)
            .transpose()
    }

    /// The live list at `key` or a new empty one (saved by the caller).
    pub(crate) fn open_or_create(t: &mut Txn, key: &[u8]) -> Result<List, CmdError> {
        List::from_meta(coll::open_or_create(t, key, Kind::List)?)
    }

    pub(crate) fn len(&self) -> u64 {
        self.meta.len
    }

    /// Index of position `pos` (0 ≤ pos ≤ len, so it never overflows: head + len = tail).
    fn idx(&self, pos: u64) -> i64 {
        self.head.wrapping_add(pos as i64)
    }

    /// Position of a Redis index (negative = from the end), if inside the list.
    pub(crate) fn position(&self, index: i64) -> Option<u64> {
        let n = self.len() as i128;
        let p = if index < 0 {
            n + index as i128
        } else {
            index as i128
        };
        (0..n).contains(&p).then_some(p as u64)
    }

    fn sync_len(&mut self) {
        self.meta.len = self.tail.wrapping_sub(self.head) as u64;
    }

    fn data_key(&self, t: &Txn, key: &[u8], i: i64) -> Vec<u8> {
        element_key(t.db, key, self.meta.version, i)
    }

    /// The value at position `pos` (0 ≤ pos < len).
    pub(crate) fn get(&self, t: &Txn, key: &[u8], pos: u64) -> Result<Vec<u8>, CmdError> {
        coll::get(t, key, &self.meta, &encode_index(self.idx(pos)))?
            .ok_or_else(|| corrupt("missing element"))
    }

    /// Writes the record at index `i` (length bookkeeping is the caller's).
    fn put_at(&mut self, t: &mut Txn, key: &[u8], i: i64, value: Vec<u8>) {
        coll::put(t, key, &mut self.meta, &encode_index(i), value, false);
    }

    /// Overwrites the value at position `pos` (0 ≤ pos < len): LSET.
    pub(crate) fn set(&mut self, t: &mut Txn, key: &[u8], pos: u64, value: Vec<u8>) {
        let i = self.idx(pos);
        self.put_at(t, key, i, value);
    }

    /// Visits positions `from..to` (clamped to the list) in order as `f(pos, value)`
    /// until it returns false: one bounded scan.
    pub(crate) fn scan(
        &self,
        t: &Txn,
        key: &[u8],
        from: u64,
        to: u64,
        f: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), CmdError> {
        let to = to.min(self.len());
        if from >= to {
            return Ok(());
        }
        let start = self.data_key(t, key, self.idx(from));
        let end = self.data_key(t, key, self.idx(to));
        let mut expect = from;
        let mut gap = false;
        let mut stopped = false;
        t.raw_scan(Cf::Data, &start, &end, &mut |k, v| {
            if decode_element_key(k) != Some(self.idx(expect)) {
                gap = true;
                return false;
            }
            expect += 1;
            stopped = !f(expect - 1, v);
            !stopped
        })?;
        if gap || (!stopped && expect != to) {
            return Err(corrupt("missing element"));
        }
        Ok(())
    }

    /// The values at positions `from..to`, in order.
    pub(crate) fn read(
        &self,
        t: &Txn,
        key: &[u8],
        from: u64,
        to: u64,
    ) -> Result<Vec<Vec<u8>>, CmdError> {
        let mut out = Vec::with_capacity(to.saturating_sub(from).min(1 << 16) as usize);
        self.scan(t, key, from, to, &mut |_, v| {
            out.push(v.to_vec());
            true
        })?;
        Ok(out)
    }

    /// Visits positions `from..to` backwards (last first) as `f(pos, value)` until it
    /// returns false. The store only scans forwards, so this reads growing chunks.
    pub(crate) fn scan_back(
        &self,
        t: &Txn,
        key: &[u8],
        from: u64,
        to: u64,
        f: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), CmdError> {
        let mut end = to.min(self.len());
        let mut chunk = 16u64;
        while end > from {
            let start = end.saturating_sub(chunk).max(from);
            let values = self.read(t, key, start, end)?;
            for (i, v) in values.iter().enumerate().rev() {
                if !f(start + i as u64, v) {
                    return Ok(());
                }
            }
            end = start;
            chunk = (chunk * 2).min(1024);
        }
        Ok(())
    }

    /// Deletes the records of positions `from..to` (head/tail are the caller's).
    fn delete_span(&self, t: &mut Txn, key: &[u8], from: u64, to: u64) {
        if to <= from {
            return;
        }
        if to - from > RANGE_DELETE_MIN {
            let (s, e) = (
                self.data_key(t, key, self.idx(from)),
                self.data_key(t, key, self.idx(to)),
            );
            t.raw_delete_range(Cf::Data, s, e);
        } else {
            for pos in from..to {
                let k = self.data_key(t, key, self.idx(pos));
                t.raw_delete(Cf::Data, k);
            }
        }
    }

    pub(crate) fn push(
        &mut self,
        t: &mut Txn,
        key: &[u8],
        end: End,
        value: Vec<u8>,
    ) -> Result<(), CmdError> {
        match end {
            End::Left => {
                let h = self.head.checked_sub(1).ok_or_else(exhausted)?;
                self.put_at(t, key, h, value);
                self.head = h;
            }
            End::Right => {
                let next = self.tail.checked_add(1).ok_or_else(exhausted)?;
                self.put_at(t, key, self.tail, value);
                self.tail = next;
            }
        }
        self.sync_len();
        Ok(())
    }

    pub(crate) fn pop(
        &mut self,
        t: &mut Txn,
        key: &[u8],
        end: End,
    ) -> Result<Option<Vec<u8>>, CmdError> {
        let n = self.len();
        if n == 0 {
            return Ok(None);
        }
        let pos = if end == End::Left { 0 } else { n - 1 };
        let v = self.get(t, key, pos)?;
        let sub = encode_index(self.idx(pos));
        coll::remove(t, key, &mut self.meta, &sub);
        match end {
            End::Left => self.head += 1,
            End::Right => self.tail -= 1,
        }
        self.sync_len();
        Ok(Some(v))
    }

    /// Pops up to `count` elements from `end`, in pop order.
    pub(crate) fn pop_many(
        &mut self,
        t: &mut Txn,
        key: &[u8],
        end: End,
        count: u64,
    ) -> Result<Vec<Vec<u8>>, CmdError> {
        let n = self.len();
        let c = count.min(n);
        Ok(match end {
            End::Left => {
                let out = self.read(t, key, 0, c)?;
                self.trim(t, key, c, 0);
                out
            }
            End::Right => {
                let mut out = self.read(t, key, n - c, n)?;
                out.reverse();
                self.trim(t, key, 0, c);
                out
            }
        })
    }

    /// Drops `left` elements from the head and `right` from the tail. Dropping all of
    /// them writes nothing here: saving the empty list deletes the key.
    pub(crate) fn trim(&mut self, t: &mut Txn, key: &[u8], left: u64, right: u64) {
        let n = self.len();
        if left.saturating_add(right) >= n {
            self.tail = self.head;
        } else {
            self.delete_span(t, key, 0, left);
            self.delete_span(t, key, n - right, n);
            self.head += left as i64;
            self.tail -= right as i64;
        }
        self.sync_len();
    }

    /// Inserts `value` so that it ends up at position `q` (0 ≤ q ≤ len), moving the
    /// shorter side: the q elements before it one index down, or the len − q after it
    /// one index up.
    pub(crate) fn insert_at(
        &mut self,
        t: &mut Txn,
        key: &[u8],
        q: u64,
        value: Vec<u8>,
    ) -> Result<(), CmdError> {
        let n = self.len();
        if q <= n - q {
            let new_head = self.head.checked_sub(1).ok_or_else(exhausted)?;
            let moved = self.read(t, key, 0, q)?;
            for (i, v) in moved.into_iter().enumerate() {
                self.put_at(t, key, new_head + i as i64, v);
            }
            self.put_at(t, key, new_head + q as i64, value);
            self.head = new_head;
        } else {
            let new_tail = self.tail.checked_add(1).ok_or_else(exhausted)?;
            let moved = self.read(t, key, q, n)?;
            let at = self.idx(q);
            for (i, v) in moved.into_iter().enumerate() {
                self.put_at(t, key, at + 1 + i as i64, v);
            }
            self.put_at(t, key, at, value);
            self.tail = new_tail;
        }
        self.sync_len();
        Ok(())
    }

    /// Removes the elements at `hits` (ascending, unique positions). The survivors
    /// between the first and the last hit must close the gaps either way; the cheaper
    /// side also moves: the survivors before the last hit slide toward the tail
    /// (head grows), or those after the first hit slide toward the head (tail shrinks).
    pub(crate) fn remove_positions(
        &mut self,
        t: &mut Txn,
        key: &[u8],
        hits: &[u64],
    ) -> Result<(), CmdError> {
        let n = self.len();
        let k = hits.len() as u64;
        let (Some(&first), Some(&last)) = (hits.first(), hits.last()) else {
            return Ok(());
        };
        if k >= n {
            self.tail = self.head;
            self.sync_len();
            return Ok(());
        }
        let move_front = last + 1 - k; // survivors before the last hit
        let move_back = n - first - k; // survivors after the first hit
        let survivors = |from: u64, values: Vec<Vec<u8>>| -> Vec<Vec<u8>> {
            let mut h = hits.iter().peekable();
            values
                .into_iter()
                .enumerate()
                .filter(|(i, _)| {
                    let pos = from + *i as u64;
                    while h.next_if(|&&x| x < pos).is_some() {}
                    h.next_if_eq(&&pos).is_none()
                })
                .map(|(_, v)| v)
                .collect()
        };
        if move_front <= move_back {
            let kept = survivors(0, self.read(t, key, 0, last + 1)?);
            self.delete_span(t, key, 0, k);
            for (j, v) in kept.into_iter().enumerate() {
                self.put_at(t, key, self.idx(k + j as u64), v);
            }
            self.head += k as i64;
        } else {
            let kept = survivors(first, self.read(t, key, first, n)?);
            self.delete_span(t, key, n - k, n);
            for (j, v) in kept.into_iter().enumerate() {
                self.put_at(t, key, self.idx(first + j as u64), v);
            }
            self.tail -= k as i64;
        }
        self.sync_len();
        Ok(())
    }

    /// Persists head, tail and length; an empty list deletes the key.
    pub(crate) fn save(mut self, t: &mut Txn, key: &[u8]) -> Result<(), CmdError> {
        self.sync_len();
        self.meta.inline = encode_bounds(self.head, self.tail);
        coll::save(t, key, self.meta)
    }
}

/// The elements at positions `from..to` (clamped to the list) of the live list at
/// `key`, in order; empty if there is no list.
pub(crate) fn list_read(t: &Txn, key: &[u8], from: u64, to: u64) -> Result<Vec<Vec<u8>>, CmdError> {
    match List::open(t, key)? {
        Some(l) => l.read(t, key, from, to),
        None => Ok(Vec::new()),
    }
}

/// Replaces whatever `key` holds with a new list of `items` (in order), without TTL;
/// no items deletes `key`. Returns the new length.
pub(crate) fn store_list(t: &mut Txn, key: &[u8], items: Vec<Vec<u8>>) -> Result<u64, CmdError> {
    let mut l = List::from_meta(t.new_meta(Kind::List, Vec::new()))?;
    for v in items {
        l.push(t, key, End::Right, v)?;
    }
    let n = l.len();
    l.save(t, key)?;
    Ok(n)
}
