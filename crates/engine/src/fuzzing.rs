//! Entry points for the fuzz targets in `crates/engine/fuzz` (hidden; not an API): the
//! parsers and decoders that the command-level targets only reach through argument
//! parsing, exposed as thin wrappers so a target can call them directly and check
//! properties of their results.

use crate::cmd::json::path::{self, PathElem, Query};
use crate::error::CmdError;
use crate::txn::Txn;
use crate::types::json as records;
use serde_json::Value;

/// Most containers a stored JSON document may nest.
pub const JSON_MAX_DEPTH: usize = records::MAX_DEPTH;

/// One step of a concrete location in a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonStep {
    Key(String),
    Index(usize),
}

/// A compiled JSONPath (`$...`).
pub struct JsonPath(Query);

/// Compiles a JSONPath as the JSON.* commands do (legacy paths are translated by the
/// commands before this).
pub fn json_path_compile(path: &str) -> Result<JsonPath, CmdError> {
    path::compile(path).map(JsonPath)
}

impl JsonPath {
    /// Whether the path selects at most one location (only keys and single indexes).
    pub fn is_static(&self) -> bool {
        self.0.is_static()
    }

    /// Evaluates the path on `doc`; with `track`, every match carries its location.
    pub fn select<'v>(
        &self,
        doc: &'v Value,
        track: bool,
    ) -> Result<Vec<(Vec<JsonStep>, &'v Value)>, CmdError> {
        Ok(path::select(&self.0, doc, track)?
            .into_iter()
            .map(|m| {
                let steps = m
                    .path
                    .into_iter()
                    .map(|e| match e {
                        PathElem::Key(k) => JsonStep::Key(k),
                        PathElem::Index(i) => JsonStep::Index(i),
                    })
                    .collect();
                (steps, m.value)
            })
            .collect())
    }
}

/// Decodes a stored JSON document (the binary encoding of `types::json`).
pub fn json_doc_decode(raw: &[u8]) -> Option<Value> {
    records::codec::decode(raw)
}

/// Encodes a document for storage, with the document limits.
pub fn json_doc_encode(doc: &Value) -> Result<Vec<u8>, CmdError> {
    records::encode(doc)
}

/// Stores encoded document bytes as a new JSON key, unchecked (as a replica would find
/// them in its store).
pub fn json_doc_put(t: &mut Txn, key: &[u8], raw: Vec<u8>) -> Result<(), CmdError> {
    records::put(t, key, None, raw)
}
