//! The keyspace and every Redis data type, executed deterministically.
//!
//! `engine` does no I/O, reads no clock and draws no unseeded randomness: a command
//! runs inside a [`Txn`] over a read-only [`Store`] with the time, seed and log index
//! fixed by the caller, and yields a reply plus the [`Effects`] to persist. The same
//! entry applied to the same state gives the same bytes on every replica.

pub mod access;
pub mod acl;
pub mod allowlist;
pub mod args;
mod cmd;
mod coll;
mod error;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
mod glob;
pub mod quota;
mod rng;
pub mod settings;
mod store;
mod table;
pub mod tier;
mod txn;
pub mod types;

pub use args::*;
pub use cmd::generic::{EncodingLimits, ENCODING_LIMITS};
pub use cmd::script::ScriptControl;
pub use error::{CmdError, CmdResult};
pub use events::{Bus, Event, Touch, Touched};
pub use glob::glob_match;
pub use rng::Rng;
pub use store::{Effects, MemStore, Store, StoreError, Write};
pub use table::redis70 as command_meta;
pub use table::{
    check_arity, check_key_sizes, flags, index_of as command_index, keys as key_range, lookup,
    Block, CommandSpec, Exec, KeySpec, ReadPath, SessionCmd, COMMANDS, NO_KEYS,
};
pub use tier::{Tier, TierStats};
pub use txn::Txn;

pub use resp::Frame;

/// The largest key accepted (Upstash's documented limit).
pub const MAX_KEY_BYTES: usize = 32 * 1024;

/// XREAD/XREADGROUP BLOCK: the command with `$` ids replaced by the streams' current
/// last ids, so re-running it after a wake-up returns only entries added since.
pub fn resolve_block_ids(t: &Txn, argv: &[Vec<u8>]) -> Vec<Vec<u8>> {
    cmd::stream::resolve_block_ids(t, argv)
}
