//! The storage interface the engine reads through and writes to. It lives in
//! `keys::store`, below both the engine and the RocksDB `storage` crate; this module
//! re-exports it so `crate::store::…` and `engine::{Store, Effects, …}` keep working.

pub use keys::store::*;
