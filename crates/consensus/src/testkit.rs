//! The pieces of a node that the deterministic simulation (`tests/sim`) assembles on
//! its own network and clock: the real log store, state machine and proposer, without
//! the tonic transport and the wall clock. Not an API for anything else: the server
//! only ever uses [`crate::Node`].

pub use crate::log_store::LogStore;
pub use crate::node::{Proposer, Stamp};
pub use crate::state_machine::StateMachine;
pub use crate::types::{Entry, LogId, SnapshotDir};
