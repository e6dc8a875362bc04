//! The expirer: the leader deletes due keys through the log, so every replica expires
//! the same keys at the same log position.

use super::{now_ms, Node};
use crate::types::Op;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;

/// Keys handed to one expiry proposal at most; the rest wait for the next tick.
const SCAN_LIMIT: usize = 1000;

/// Unix ms until which CLIENT PAUSE holds this node's expirer (0: not paused).
static EXPIRY_PAUSED_UNTIL: AtomicU64 = AtomicU64::new(0);

fn expiry_paused() -> bool {
    let until = EXPIRY_PAUSED_UNTIL.load(Ordering::Relaxed);
    until != 0
        && std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            < until
}

impl Node {
    /// Every 100 ms while this node leads: proposes the deletion of the keys due now.
    /// Stops when the node is dropped.
    pub(super) async fn expire_loop(node: Weak<Node>) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(node) = node.upgrade() else { return };
            if !super::status::ACTIVE_EXPIRE.load(std::sync::atomic::Ordering::Relaxed)
                || expiry_paused()
            {
                continue;
            }
            node.expire_due().await;
        }
    }

    /// CLIENT PAUSE (WRITE or ALL) on this node: until `until_unix_ms` (0: no pause) its
    /// expirer deletes nothing, as Redis pauses expiry during a client pause.
    pub fn pause_expiry(&self, until_unix_ms: u64) {
        EXPIRY_PAUSED_UNTIL.store(until_unix_ms, Ordering::Relaxed);
    }

    /// One expiry pass now, if this node leads (CLIENT UNPAUSE: the keys that came due
    /// during the pause are deleted before it answers, as Redis's next access would).
    pub async fn expire_now(&self) {
        if super::status::ACTIVE_EXPIRE.load(Ordering::Relaxed) && !expiry_paused() {
            self.expire_due().await;
        }
    }

    /// Proposes the deletion of the keys due now (at most [`SCAN_LIMIT`]), if leader.
    async fn expire_due(&self) {
        // A backup restore in progress refuses every op but its own steps.
        if !self.is_leader() || self.storage.restoring() {
            return;
        }
        let due = match self.storage.due_expiries(now_ms(), SCAN_LIMIT) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("expiry scan failed: {e}");
                return;
            }
        };
        if due.is_empty() {
            return;
        }
        let mut by_db: BTreeMap<u8, Vec<(u64, Vec<u8>)>> = BTreeMap::new();
        for (at, db, key) in due {
            by_db.entry(db).or_default().push((at, key));
        }
        let ops = by_db
            .into_iter()
            .map(|(db, due)| Op::Expire { db, due })
            .collect();
        if let Err(e) = self.propose(ops).await {
            tracing::debug!("expiry proposal failed: {e:?}");
        }
    }
}
