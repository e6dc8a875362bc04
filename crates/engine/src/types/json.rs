//! Records of the JSON type (`ReJSON-RL`). A JSON key is its meta record alone (kind
//! Json, no `data` records, `len` 0): the whole document, in the binary encoding of
//! [`codec`], is the record's `inline`, like a string's value. This module opens a
//! document (with the type check) as a `serde_json::Value` tree, encodes one for
//! storage (enforcing the document limits) and writes it back into the same meta
//! record, so the key keeps its TTL and version; `cmd/json.rs` runs the commands on
//! the tree.

pub(crate) mod codec;

use crate::error::CmdError;
use crate::txn::Txn;
use ::keys::{Kind, Meta};
use serde_json::Value;

pub(crate) use codec::MAX_DEPTH;

/// Largest encoded document (proto-max-bulk-len, as a string value).
const MAX_DOCUMENT_LEN: u64 = resp::MAX_BULK_LEN as u64;

/// The live document at `key` with its meta record; WRONGTYPE for other types.
pub(crate) fn open(t: &Txn, key: &[u8]) -> Result<Option<(Meta, Value)>, CmdError> {
    match t.get_kind(key, Kind::Json)? {
        None => Ok(None),
        Some(m) => {
            let v = codec::decode(&m.inline)
                .ok_or_else(|| CmdError::storage("corrupt JSON document"))?;
            Ok(Some((m, v)))
        }
    }
}

/// Encodes a document for storage, enforcing the document limits (nesting at most
/// [`MAX_DEPTH`], encoding at most proto-max-bulk-len bytes).
pub(crate) fn encode(doc: &Value) -> Result<Vec<u8>, CmdError> {
    let bytes = codec::encode(doc).map_err(|_| {
        CmdError::new(format!(
            "ERR document nesting exceeds the maximum depth of {MAX_DEPTH}"
        ))
    })?;
    if bytes.len() as u64 > MAX_DOCUMENT_LEN {
        return Err(CmdError::new(
            "ERR document exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    Ok(bytes)
}

/// Writes encoded document bytes: into the existing meta record (TTL and version kept)
/// or a new key.
pub(crate) fn put(
    t: &mut Txn,
    key: &[u8],
    meta: Option<Meta>,
    bytes: Vec<u8>,
) -> Result<(), CmdError> {
    let meta = match meta {
        Some(mut m) => {
            m.inline = bytes;
            m
        }
        None => t.new_meta(Kind::Json, bytes),
    };
    t.put_meta(key, meta)
}

/// Encodes `doc` ([`encode`]) and writes it ([`put`]).
pub(crate) fn save(
    t: &mut Txn,
    key: &[u8],
    meta: Option<Meta>,
    doc: &Value,
) -> Result<(), CmdError> {
    let bytes = encode(doc)?;
    put(t, key, meta, bytes)
}
