//! The expirer: the leader deletes due keys through the log, so every replica expires
//! the same keys at the same log position.

use super::{now_ms, Node};
use crate::types::Op;
use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::Duration;

/// Keys handed to one expiry proposal at most; the rest wait for the next tick.
const SCAN_LIMIT: usize = 1000;

impl Node {
    /// Every 100 ms while this node leads: proposes the deletion of the keys due now.
    /// Stops when the node is dropped.
    pub(super) async fn expire_loop(node: Weak<Node>) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(node) = node.upgrade() else { return };
            if !node.is_leader()
                || !super::status::ACTIVE_EXPIRE.load(std::sync::atomic::Ordering::Relaxed)
            {
                continue;
            }
            let due = match node.storage.due_expiries(now_ms(), SCAN_LIMIT) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!("expiry scan failed: {e}");
                    continue;
                }
            };
            if due.is_empty() {
                continue;
            }
            let mut by_db: BTreeMap<u8, Vec<(u64, Vec<u8>)>> = BTreeMap::new();
            for (at, db, key) in due {
                by_db.entry(db).or_default().push((at, key));
            }
            let ops = by_db
                .into_iter()
                .map(|(db, due)| Op::Expire { db, due })
                .collect();
            if let Err(e) = node.propose(ops).await {
                tracing::debug!("expiry proposal failed: {e:?}");
            }
        }
    }
}
