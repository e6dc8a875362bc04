//! A node of the Raft group: the `Node` handle and what every concern shares (its
//! identity, storage, memory tier, applied index and who leads). Each concern has its
//! own file, and `service.rs` (the gRPC side) calls into them, never the other way:
//! - `start`: configuration, opening storage, building Raft, the cluster service and
//!   the background tasks, forming or joining the group;
//! - `write`: the write path (the proposer that batches writes into entries, and
//!   forwarding to the leader);
//! - `admin`: membership and admin requests, leader transfer, the cluster password;
//! - `expire`: the leader's expirer;
//! - `read`: what a read needs from Raft (the read index, waiting for an applied
//!   index); plain reads of the applied state run in the server on the handles below;
//! - `status`: Meridian's own status types (nothing outside sees openraft's metrics).

mod admin;
mod antientropy;
mod evict;
mod expire;
mod failover;
mod read;
mod region;
mod start;
mod status;
mod write;

pub use admin::{admin_call, AdminRequest};
pub use antientropy::{ae_call, AeMember, AeReply, AeReport, AeRequest, AE_STATS};
pub use failover::{epoch, Failover, PromoteMarker};

/// The `sm` record of the last promotion.
pub(crate) fn failover_key() -> &'static [u8] {
    failover::FAILOVER_KEY
}
pub use region::{region_info_fields, valid_region_name};
pub use start::NodeConfig;
pub use status::{ClusterStatus, MemberRegion, MemberStatus, NodeStatus, RegionStatus, Role};
pub use write::{Proposer, Stamp, WriteError};

use crate::types::TypeConfig;
use engine::Tier;
use openraft::Raft;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use storage::Storage;
use tokio::sync::{mpsc, watch};

pub struct Node {
    id: u64,
    raft: Raft<TypeConfig>,
    storage: Arc<Storage>,
    /// Decoded hot collections, kept in step by the state machine (see engine::tier).
    tier: Arc<Tier>,
    cfg: NodeConfig,
    proposals: mpsc::Sender<write::Proposal>,
    applied: watch::Receiver<u64>,
    /// Sequence of requests this node forwards (ids for at-most-once retries).
    forward_seq: AtomicU64,
    /// One HTTP/2 channel per peer address for forwarded writes and read-index calls
    /// (multiplexed, reconnected by tonic), instead of a new connection per request.
    links: std::sync::Mutex<std::collections::HashMap<String, tonic::transport::Channel>>,
    /// When each peer last answered this node's Raft RPCs (the leader's last contact).
    contacts: Arc<crate::network::Contacts>,
    /// Unix ms of the last AppendEntries (heartbeat or entries) this node received.
    heard_from_leader: AtomicU64,
    /// Set when this node learned that another region was promoted over its group
    /// (`failover.rs`): writes are refused while it merges and rejoins.
    deposed: std::sync::Mutex<Option<failover::Deposed>>,
}

/// A fault-injection offset added to this node's wall clock (`DEBUG SET-CLOCK-OFFSET`,
/// or `MERIDIAN_CLOCK_OFFSET_MS` at start): the chaos suite's clock skews and jumps.
/// It moves what the node believes "now" is (entry times, TTLs, the expirer), never the
/// monotonic clocks of Raft's timers and leases, as a skewed system clock would.
static CLOCK_OFFSET_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
static CLOCK_OFFSET_ENV: std::sync::Once = std::sync::Once::new();

/// Sets the clock offset of [`now_ms`] (milliseconds, may be negative).
pub fn set_clock_offset_ms(ms: i64) {
    CLOCK_OFFSET_ENV.call_once(|| {});
    CLOCK_OFFSET_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

/// The clock offset of [`now_ms`] now.
pub fn clock_offset_ms() -> i64 {
    CLOCK_OFFSET_ENV.call_once(|| {
        if let Some(v) = std::env::var("MERIDIAN_CLOCK_OFFSET_MS")
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
        {
            CLOCK_OFFSET_MS.store(v, std::sync::atomic::Ordering::Relaxed);
        }
    });
    CLOCK_OFFSET_MS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Wall clock in unix milliseconds (plus the injected offset, normally 0).
pub fn now_ms() -> u64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    wall.saturating_add_signed(clock_offset_ms())
}

impl Node {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The channel to the peer at `addr` (made on first use, then shared).
    pub(crate) fn link(
        &self,
        addr: &str,
    ) -> Result<tonic::transport::Channel, tonic::transport::Error> {
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ch) = links.get(addr) {
            return Ok(ch.clone());
        }
        let ch = crate::network::channel(addr)?;
        links.insert(addr.to_string(), ch.clone());
        Ok(ch)
    }

    /// Forgets the channel to `addr` after a failed call: the next one reconnects.
    pub(crate) fn drop_link(&self, addr: &str) {
        self.links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(addr);
    }

    /// The region tag this node was started with.
    pub fn region(&self) -> &str {
        &self.cfg.region
    }

    /// This node's RocksDB (applied state and Raft log).
    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    /// The memory tier the state machine keeps in step with the applied state.
    pub fn tier(&self) -> &Arc<Tier> {
        &self.tier
    }

    /// The index of the last applied entry, as a watch (see [`Node::applied_index`]).
    pub fn applied_watch(&self) -> watch::Receiver<u64> {
        self.applied.clone()
    }

    /// Index of the last entry applied to this node's state machine.
    pub fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }

    /// The Raft instance, for the gRPC service.
    pub(crate) fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    pub(crate) fn snapshot_root(&self) -> PathBuf {
        self.cfg.data_dir.join("snapshots")
    }

    pub fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    pub fn is_leader(&self) -> bool {
        self.leader() == Some(self.id)
    }

    fn member_addr(&self, id: u64) -> Option<String> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        m.membership().get_node(&id).map(|n| n.addr.clone())
    }

    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }
}
