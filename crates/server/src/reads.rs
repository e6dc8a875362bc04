//! The read path: reads of this node's applied state, run here without going through
//! the consensus crate (a read involves no Raft decision). `Reads` is built once at
//! start-up from the handles the node exposes (its storage, its memory tier, its
//! applied-index watch) and lives in `Shared`.
//!
//! What *does* need Raft stays in `consensus::Node`: the leader's read index for a
//! linearizable read and waiting until an index is applied (see
//! `dispatch::await_consistency`). A read runs after those waits, here.

use consensus::{now_ms, Node};
use engine::{CmdError, CommandSpec, Frame, ReadPath, Tier, Txn};
use std::sync::Arc;
use storage::Storage;
use tokio::sync::watch;

/// Splits the memory tier's one budget (`--memory-mb`, CONFIG SET meridian-memory-mb)
/// between its two parts and applies it now: the decoded sorted-set indexes get at most
/// `tier_mb` (`--tier-mb`) and at most half, the meta records of hot keys the rest.
pub fn set_memory_budget(node: &Node, memory_mb: usize, tier_mb: usize) {
    let total = memory_mb.saturating_mul(1 << 20);
    let sets = tier_mb.saturating_mul(1 << 20).min(total / 2);
    node.tier().set_budget(sets);
    node.storage().key_tier().set_budget(total - sets);
}

/// The memory tier's whole budget in MiB (both parts).
pub fn memory_mb(node: &Node) -> usize {
    (node.tier().budget() + node.storage().key_tier().budget()) >> 20
}

pub struct Reads {
    storage: Arc<Storage>,
    /// Decoded hot collections, kept in step with the applied state (see engine::tier).
    tier: Arc<Tier>,
    applied: watch::Receiver<u64>,
}

impl Reads {
    pub fn new(node: &Node) -> Reads {
        Reads {
            storage: node.storage().clone(),
            tier: node.tier().clone(),
            applied: node.applied_watch(),
        }
    }

    /// The applied state's store, for lookups of single `sm` records (ACL users).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Runs the read-only command `argv` (whose table row is `spec`) against the applied
    /// state. The table says how: a read of one record is atomic on its own and reads
    /// the live state; anything that reads several records (several keys, or a
    /// collection's meta plus elements) gets a point-in-time snapshot so it never sees
    /// half of an entry.
    pub fn read(&self, spec: &CommandSpec, db: u8, argv: &[Vec<u8>]) -> Frame {
        // A backup restore replaces the state through the log: nothing is read while
        // one is in progress, nor by a read that overlapped its start or end (see
        // consensus::backup and Storage::restore_epoch).
        let epoch = self.storage.restore_epoch();
        if epoch % 2 == 1 {
            return Frame::Error(consensus::RESTORING.into());
        }
        let reply = self.read_now(spec, db, argv);
        if self.storage.restore_epoch() != epoch {
            return Frame::Error(consensus::RESTORING.into());
        }
        reply
    }

    fn read_now(&self, spec: &CommandSpec, db: u8, argv: &[Vec<u8>]) -> Frame {
        match spec.read_path(argv) {
            ReadPath::OneRecord => {
                Txn::read_only(&*self.storage, now_ms(), rand::random()).run(db, argv)
            }
            ReadPath::Snapshot => {
                // The tier's generation is read before the snapshot is taken: see
                // engine::tier.
                let generation = self.tier.generation();
                let snap = self.storage.snapshot();
                Txn::read_only(&snap, now_ms(), rand::random())
                    .with_tier(&self.tier, generation)
                    .run(db, argv)
            }
        }
    }

    /// Runs a write command on a point-in-time view of this node's state and throws its
    /// effects away (engine `Txn::trial`). The leader tries scripts this way before
    /// proposing them: a script that runs away or is killed then never reaches the log.
    /// Blocks for as long as the command runs (call it off the async workers).
    pub fn trial(&self, db: u8, argv: &[Vec<u8>]) -> Frame {
        let snap = self.storage.snapshot();
        let next = *self.applied.borrow() + 1;
        Txn::trial(&snap, next, now_ms(), rand::random()).run(db, argv)
    }

    /// A replicated setting's value in this node's applied state.
    /// The IP allowlist in force on this node (`engine::allowlist`), parsed. A stored list
    /// that does not parse (it is normalized when applied, so only a damaged record)
    /// allows nothing: failing open would drop the protection silently.
    pub fn allowlist(&self) -> Result<Vec<engine::allowlist::Cidr>, String> {
        let raw = engine::allowlist::get(&Txn::read_only(&*self.storage, now_ms(), 0))
            .map_err(|e| e.0)?;
        engine::allowlist::parse(&raw).map_err(|e| e.0)
    }

    pub fn setting(&self, s: &engine::settings::Setting) -> u64 {
        s.get(&Txn::read_only(&*self.storage, now_ms(), 0))
            .unwrap_or(s.default)
    }

    /// The write index of `key` as this node sees it now (0 if absent): WATCH's record.
    pub fn key_write_index(&self, db: u8, key: &[u8]) -> Result<u64, CmdError> {
        Txn::read_only(&*self.storage, now_ms(), 0).key_write_index(db, key)
    }

    /// XREAD/XREADGROUP BLOCK: `$` ids replaced by the streams' current last ids, so
    /// re-running the command after a wake-up reads only what arrived since.
    pub fn resolve_block_ids(&self, db: u8, argv: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let snap = self.storage.snapshot();
        let mut t = Txn::read_only(&snap, now_ms(), 0);
        t.db = db;
        engine::resolve_block_ids(&t, argv)
    }
}
