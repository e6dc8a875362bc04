//! Records of the string type. A string has no sub-records: its value is the `inline`
//! bytes of its key's meta record and its TTL the record's `expire_at_ms`, so reading
//! or writing one is one meta access (the keyspace core's `Txn::get_string` and
//! `Txn::put_string`, which keep the expiry index and the key count in step). The
//! string-backed types (strings, bitmaps, HyperLogLogs) go through here.

use crate::error::CmdError;
use crate::txn::Txn;
use ::keys::{Kind, Meta};

/// The live string at `key` as its meta record (value in `inline`, TTL in
/// `expire_at_ms`); WRONGTYPE if the key holds another type.
#[inline]
pub(crate) fn open(t: &Txn, key: &[u8]) -> Result<Option<Meta>, CmdError> {
    t.get_kind(key, Kind::String)
}

/// The value of the live string at `key`; WRONGTYPE if the key holds another type.
#[inline]
pub(crate) fn get(t: &Txn, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    t.get_string(key)
}

/// Stores `value` at `key` with absolute expiry `expire_at_ms` (0 = none), replacing
/// whatever the key held.
#[inline]
pub(crate) fn put(
    t: &mut Txn,
    key: &[u8],
    value: Vec<u8>,
    expire_at_ms: u64,
) -> Result<(), CmdError> {
    t.put_string(key, value, expire_at_ms)
}
