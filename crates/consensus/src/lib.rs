//! The Raft group: the only crate that imports openraft.
//!
//! A write becomes a log entry `{now_ms, seed, ops}` proposed by the leader; entries
//! are appended to the RocksDB log with group commit, and the state machine applies
//! each committed entry through `engine` and writes its effects plus `last_applied` in
//! one RocksDB batch. A one-member group is a single node; more members (issue 3) use
//! the same path.

pub mod archive;
pub mod backup;
mod error;
mod log_store;
mod network;
mod node;
mod service;
mod state_machine;
pub mod testkit;
pub mod tls;
mod types;

/// Generated gRPC code for proto/meridian.proto.
pub mod pb {
    tonic::include_proto!("meridian.v1");
}

pub use error::{AdminError, ReadIndexError, ReplyError};
pub use node::{
    admin_call, ae_call, clock_offset_ms, epoch, now_ms, region_info_fields, set_clock_offset_ms,
    valid_region_name, AdminRequest, AeMember, AeReply, AeReport, AeRequest, ClusterStatus,
    Failover, MemberRegion, MemberStatus, Node, NodeConfig, NodeStatus, PromoteMarker,
    RegionStatus, Role, WriteError, AE_STATS,
};
pub use state_machine::RESTORING;

/// Runs `f`, which may block for a while (a long script, a checkpoint, a flush), with
/// this async worker handed over to the runtime (`block_in_place`), so the connections
/// and tasks that share the worker keep running, even with one worker thread. Inline on a
/// single-threaded runtime (the deterministic simulation), where nothing else could run.
pub(crate) fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}
pub use types::{EventSink, Op, RegionOp, Request, Response, RestoreStep, TypeConfig};
