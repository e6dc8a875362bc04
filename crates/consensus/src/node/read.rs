//! The read path's Raft side: the leader's read index (where a linearizable read must
//! wait) and waiting for this node to apply an index. Reads themselves run in the
//! server over [`Node::storage`], [`Node::tier`] and [`Node::applied_watch`]: a read
//! of the applied state needs no Raft decision.

use super::Node;
use crate::error::ReadIndexError;
use std::time::Duration;

impl Node {
    /// The leader's read index: the log index a linearizable read must wait for.
    pub async fn read_index(&self) -> Result<u64, ReadIndexError> {
        let Some(leader) = self.leader() else {
            return Err(ReadIndexError::NoLeader);
        };
        if leader == self.id {
            return self.leader_read_index().await;
        }
        let addr = self
            .member_addr(leader)
            .ok_or(ReadIndexError::LeaderAddressUnknown)?;
        let mut c = crate::network::client(self.link(&addr).map_err(ReadIndexError::Connect)?);
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            c.read_index(crate::network::envelope(&())),
        )
        .await
        .map_err(|_| {
            self.drop_link(&addr);
            ReadIndexError::TimedOut
        })?
        .map_err(|e| {
            self.drop_link(&addr);
            ReadIndexError::Rpc(e)
        })?;
        let res: Result<u64, String> =
            crate::network::open(&reply.into_inner()).map_err(ReadIndexError::Reply)?;
        res.map_err(ReadIndexError::Remote)
    }

    /// This node's read index as the leader: confirms with a quorum that it still leads
    /// (the gRPC `read_index` call runs this on the leader).
    pub(crate) async fn leader_read_index(&self) -> Result<u64, ReadIndexError> {
        self.raft
            .ensure_linearizable()
            .await
            .map(|l| l.map_or(0, |l| l.index))
            .map_err(|e| ReadIndexError::Raft(e.to_string()))
    }

    /// Waits until this node has applied at least `index` (read-your-writes).
    pub async fn wait_applied(&self, index: u64) {
        let mut rx = self.applied.clone();
        let _ = rx.wait_for(|&a| a >= index).await;
    }
}
