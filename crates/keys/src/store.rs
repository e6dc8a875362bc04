//! The storage interface, below both the engine and the RocksDB crate: what the engine
//! reads from (a [`Store`]), what it hands back to persist ([`Effects`], a list of
//! [`Write`]s), the error a read returns ([`StoreError`]), and an in-memory [`MemStore`]
//! for tests and determinism checks.
//!
//! `storage` implements [`Store`] over RocksDB and writes [`Effects`]; `engine` reads
//! through [`Store`] and produces [`Effects`]; neither depends on the other. A new
//! storage tier implements [`Store`] here.

use crate::Cf;
use std::collections::BTreeMap;

/// A read of the store failed (an I/O error, not a missing key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "storage read failed: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// Read access to committed state. Implemented over RocksDB by `storage` and over a
/// BTreeMap by [`MemStore`] for tests.
pub trait Store {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Visits the keys in `[start, end)` in ascending order until `f` returns false.
    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError>;
}

/// One write of an entry's effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put(Cf, Vec<u8>, Vec<u8>),
    Delete(Cf, Vec<u8>),
    /// Deletes `[start, end)`.
    DeleteRange(Cf, Vec<u8>, Vec<u8>),
}

/// Everything a command (or a whole entry) changes, in the order it must be applied:
/// range deletes first, then point writes (later writes already shadow earlier ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub writes: Vec<Write>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// An in-memory store for tests and determinism checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemStore {
    pub map: BTreeMap<(Cf, Vec<u8>), Vec<u8>>,
}

impl MemStore {
    pub fn apply(&mut self, effects: &Effects) {
        for w in &effects.writes {
            match w {
                Write::Put(cf, k, v) => {
                    self.map.insert((*cf, k.clone()), v.clone());
                }
                Write::Delete(cf, k) => {
                    self.map.remove(&(*cf, k.clone()));
                }
                Write::DeleteRange(cf, s, e) => {
                    let doomed: Vec<_> = self
                        .map
                        .range((*cf, s.clone())..(*cf, e.clone()))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in doomed {
                        self.map.remove(&k);
                    }
                }
            }
        }
    }
}

impl Store for MemStore {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(&(cf, key.to_vec())).cloned())
    }

    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        if start >= end {
            return Ok(());
        }
        for ((_, k), v) in self.map.range((cf, start.to_vec())..(cf, end.to_vec())) {
            if !f(k, v) {
                break;
            }
        }
        Ok(())
    }
}
