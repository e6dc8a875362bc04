//! Meridian's status types: what the node reports about its Raft group (INFO
//! replication and raft, `meridian cluster status`), built from openraft's metrics
//! here so that no openraft type leaves the crate.

use super::Node;
use openraft::{BasicNode, RaftMetrics, ServerState};
use std::fmt;

/// A member of the group as the answering node sees it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MemberStatus {
    pub id: u64,
    pub addr: String,
    pub voter: bool,
    /// Last log index the leader knows this member has (None when not the leader's view).
    pub matched: Option<u64>,
}

/// The group as one node sees it; also the reply of every admin call (it travels
/// between members, so its fields and their order are part of the wire format).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ClusterStatus {
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: u64,
    pub applied: u64,
    pub members: Vec<MemberStatus>,
}

/// This node's Raft role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
    Candidate,
    /// A read replica (non-voting member), or a node not yet in a group.
    Learner,
    Shutdown,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Leader => "Leader",
            Role::Follower => "Follower",
            Role::Candidate => "Candidate",
            Role::Learner => "Learner",
            Role::Shutdown => "Shutdown",
        })
    }
}

/// Everything INFO shows about this node's place in the group.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    pub role: Role,
    /// Highest log index Raft has applied (every applied entry is committed); INFO
    /// shows it as `raft_commit_index`.
    pub committed: u64,
    /// Last log index covered by this node's latest snapshot (0 if none).
    pub snapshot_index: u64,
    /// Last log index purged from this node's log (0 if none).
    pub purged_index: u64,
    pub cluster: ClusterStatus,
}

impl NodeStatus {
    pub fn voters(&self) -> usize {
        self.cluster.members.iter().filter(|m| m.voter).count()
    }
}

impl Node {
    /// The group as this node sees it now.
    pub fn status(&self) -> ClusterStatus {
        let m = self.raft.metrics().borrow().clone();
        self.cluster_status(&m)
    }

    /// This node's role, log positions and view of the group (one metrics reading).
    pub fn node_status(&self) -> NodeStatus {
        let m = self.raft.metrics().borrow().clone();
        NodeStatus {
            role: role_of(m.state),
            committed: m.last_applied.map_or(0, |l| l.index),
            snapshot_index: m.snapshot.map_or(0, |l| l.index),
            purged_index: m.purged.map_or(0, |l| l.index),
            cluster: self.cluster_status(&m),
        }
    }

    fn cluster_status(&self, m: &RaftMetrics<u64, BasicNode>) -> ClusterStatus {
        let mem = m.membership_config.membership();
        let voters: Vec<u64> = mem.voter_ids().collect();
        let members = mem
            .nodes()
            .map(|(id, n)| MemberStatus {
                id: *id,
                addr: n.addr.clone(),
                voter: voters.contains(id),
                matched: m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(id).cloned().flatten().map(|l| l.index)),
            })
            .collect();
        ClusterStatus {
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            applied: self.applied_index(),
            members,
        }
    }
}

/// Turned off by DEBUG SET-ACTIVE-EXPIRE 0: this node's expirer then proposes nothing
/// (keys still expire lazily, on access). Per process, as Redis's flag is per server.
pub(super) static ACTIVE_EXPIRE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(true);

impl Node {
    /// DEBUG SET-ACTIVE-EXPIRE: switches this node's active expiry cycle on or off.
    pub fn set_active_expire(&self, on: bool) {
        ACTIVE_EXPIRE.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Unix time (seconds) at which this node's newest snapshot was written, if it has one
    /// (LASTSAVE): the modification time of the snapshot's metadata file.
    pub fn last_snapshot_unix(&self) -> Option<u64> {
        let mut newest = None;
        for ent in std::fs::read_dir(self.snapshot_root()).ok()?.flatten() {
            let Ok(md) = std::fs::metadata(ent.path().join("meta.bin")) else {
                continue;
            };
            let secs = md
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            newest = newest.max(secs);
        }
        newest
    }

    /// Asks Raft to build a snapshot of everything applied now and waits, up to `timeout`,
    /// until this node's latest snapshot covers it (SAVE). The index covered on success.
    pub async fn snapshot_now(&self, timeout: std::time::Duration) -> Result<u64, String> {
        let target = self.applied_index();
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| e.to_string())?;
        self.raft
            .wait(Some(timeout))
            .metrics(
                |m| m.snapshot.map_or(0, |s| s.index) >= target,
                "snapshot built",
            )
            .await
            .map(|m| m.snapshot.map_or(0, |s| s.index))
            .map_err(|e| e.to_string())
    }

    /// Asks Raft to build a snapshot in the background (BGSAVE).
    pub async fn snapshot_in_background(&self) -> Result<(), String> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| e.to_string())
    }

    /// Every other member with the applied index it reports itself (a status call to
    /// it, bounded by `timeout`; None when it did not answer in time). WAIT and ROLE.
    pub async fn members_applied(
        &self,
        timeout: std::time::Duration,
    ) -> Vec<(MemberStatus, Option<u64>)> {
        let auth = self.cfg.password.clone().unwrap_or_default();
        let mut asks = Vec::new();
        for m in self
            .status()
            .members
            .into_iter()
            .filter(|m| m.id != self.id)
        {
            let (addr, auth) = (m.addr.clone(), auth.clone());
            let ask = tokio::spawn(async move {
                let call = super::admin_call(&addr, &auth, &super::AdminRequest::Status);
                match tokio::time::timeout(timeout, call).await {
                    Ok(Ok(st)) => Some(st.applied),
                    _ => None,
                }
            });
            asks.push((m, ask));
        }
        let mut out = Vec::with_capacity(asks.len());
        for (m, ask) in asks {
            out.push((m, ask.await.ok().flatten()));
        }
        out
    }
}

fn role_of(state: ServerState) -> Role {
    match state {
        ServerState::Leader => Role::Leader,
        ServerState::Follower => Role::Follower,
        ServerState::Candidate => Role::Candidate,
        ServerState::Learner => Role::Learner,
        ServerState::Shutdown => Role::Shutdown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// INFO's raft_state printed openraft's state with `{:?}`; the role prints the same.
    #[test]
    fn role_prints_as_openraft_state_did() {
        for s in [
            ServerState::Leader,
            ServerState::Follower,
            ServerState::Candidate,
            ServerState::Learner,
            ServerState::Shutdown,
        ] {
            assert_eq!(role_of(s).to_string(), format!("{s:?}"));
        }
    }
}
