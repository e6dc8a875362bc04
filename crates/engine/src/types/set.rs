//! Records of the set type: the key's meta record (kind Set, `len` = member count)
//! plus one empty `data` record per member, the member being the sub key (see
//! `crate::coll`), so members come back in byte order. This module opens sets (with
//! the type check), tests, adds and removes members, walks them (all, by position, by
//! SSCAN page) and stores new sets; `cmd/set.rs` builds the commands on top.

use crate::coll::{self, Entries};
use crate::error::CmdError;
use crate::txn::Txn;
use ::keys::{Kind, Meta};

/// The live set at `key` (WRONGTYPE if the key holds another type).
#[inline]
pub(crate) fn open(t: &Txn, key: &[u8]) -> Result<Option<Meta>, CmdError> {
    t.get_kind(key, Kind::Set)
}

/// The live set at `key` or a new empty one (fresh version, saved by [`save`]).
#[inline]
pub(crate) fn open_or_create(t: &mut Txn, key: &[u8]) -> Result<Meta, CmdError> {
    coll::open_or_create(t, key, Kind::Set)
}

/// Persists `meta` after its members changed; a set left empty is deleted.
#[inline]
pub(crate) fn save(t: &mut Txn, key: &[u8], meta: Meta) -> Result<(), CmdError> {
    coll::save(t, key, meta)
}

#[inline]
pub(crate) fn is_member(t: &Txn, key: &[u8], meta: &Meta, member: &[u8]) -> Result<bool, CmdError> {
    Ok(coll::get(t, key, meta, member)?.is_some())
}

/// Adds `member`, which the caller knows to be absent.
#[inline]
pub(crate) fn add(t: &mut Txn, key: &[u8], meta: &mut Meta, member: &[u8]) {
    coll::put(t, key, meta, member, Vec::new(), true);
}

/// Removes `member`, which the caller knows to be present.
#[inline]
pub(crate) fn remove(t: &mut Txn, key: &[u8], meta: &mut Meta, member: &[u8]) {
    coll::remove(t, key, meta, member);
}

/// Every member, in byte order.
pub(crate) fn members(t: &Txn, key: &[u8], meta: &Meta) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut out = Vec::with_capacity(meta.len.min(1 << 16) as usize);
    coll::scan(t, key, meta, &mut |m, _| {
        out.push(m.to_vec());
        true
    })?;
    Ok(out)
}

fn keep_all(_: &[u8]) -> bool {
    true
}

fn only_members(entries: Entries) -> Vec<Vec<u8>> {
    entries.into_iter().map(|(m, _)| m).collect()
}

/// The members at `positions` (ascending, unique) in byte order: one pass.
pub(crate) fn nth_members(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    positions: &[u64],
) -> Result<Vec<Vec<u8>>, CmdError> {
    Ok(only_members(coll::nth_entries(
        t, key, meta, positions, &keep_all,
    )?))
}

/// The members at `draws` (positions in any order, repeats allowed), in draw order.
pub(crate) fn drawn_members(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    draws: &[u64],
) -> Result<Vec<Vec<u8>>, CmdError> {
    Ok(only_members(coll::drawn_entries(
        t, key, meta, draws, &keep_all,
    )?))
}

/// One SSCAN page from offset `cursor` over up to `count` members, each handed to
/// `f`; the next cursor, 0 at the end (see `coll::scan_page`).
pub(crate) fn scan_page(
    t: &Txn,
    key: &[u8],
    meta: &Meta,
    cursor: u64,
    count: u64,
    f: &mut dyn FnMut(&[u8]),
) -> Result<u64, CmdError> {
    coll::scan_page(t, key, meta, cursor, count, &mut |m, _| f(m))
}

/// Replaces whatever `key` holds with a new set of `members` (unique), without TTL;
/// no members deletes `key`. Returns the new size.
pub(crate) fn store(
    t: &mut Txn,
    key: &[u8],
    members: impl IntoIterator<Item = Vec<u8>>,
) -> Result<u64, CmdError> {
    coll::store_new(
        t,
        key,
        Kind::Set,
        members.into_iter().map(|m| (m, Vec::new())),
    )
}
