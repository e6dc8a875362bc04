//! The record layer: one module per data type owns that type's records in the store
//! (open, read, put, delete, range scans, and the hooks a memory tier needs). Command
//! modules (`cmd/<type>.rs`) parse arguments, run command logic on top of this API and
//! shape replies; they never build or decode a record key themselves. Byte layouts live
//! in the `keys` crate.

pub mod hash;
pub mod json;
pub mod list;
pub mod set;
pub mod stream;
pub mod string;
pub mod zset;
