//! Membership and admin: the `meridian cluster` requests and a joining replica's
//! AddLearner, executed on the leader (a follower passes them on), leader transfer,
//! and the cluster password every admin call carries.

use super::{ClusterStatus, Node};
use crate::error::AdminError;
use openraft::{BasicNode, ChangeMembers};
use std::collections::BTreeSet;
use std::time::Duration;

/// Membership and status calls (the `meridian cluster` command and joining replicas).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum AdminRequest {
    AddLearner {
        id: u64,
        addr: String,
    },
    Promote {
        id: u64,
    },
    RemoveNode {
        id: u64,
    },
    /// Make voter `id` the leader. openraft 0.9 has no leadership transfer, and followers
    /// under a live leader's lease refuse votes, so the leader pauses its heartbeats and
    /// the other voters' elections, lets the leases lapse, and asks the target to run.
    TransferLeader {
        id: u64,
    },
    /// Part of a transfer, executed by the node that receives it: switch elections off
    /// (automatically back on after 10 s, so a lost "on" can never leave a node mute).
    PauseElections {
        paused: bool,
    },
    /// Part of a transfer: start an election now.
    ElectNow,
    Status,
    // Appended after the variants above (bincode numbers variants in order).
    /// Member `id` runs in `region` (a node reports its `--region` at start).
    SetRegion {
        id: u64,
        region: String,
    },
    /// Add a region before its nodes join (`meridian cluster add-region`).
    AddRegion {
        name: String,
    },
    /// Remove a read region: its replicas leave the group (`meridian cluster remove-region`).
    RemoveRegion {
        name: String,
    },
}

fn raft_err(e: impl std::fmt::Display) -> AdminError {
    AdminError::Raft(e.to_string())
}

impl Node {
    /// Executes an admin request here if leader, else on the leader.
    pub async fn admin(&self, req: AdminRequest, _auth: &str) -> Result<ClusterStatus, AdminError> {
        if let AdminRequest::Status = req {
            return Ok(self.status());
        }
        // The caller was authenticated; calls onward go with this node's own password
        // (admin_call derives the link secret from it).
        let own = self.cfg.password.clone().unwrap_or_default();
        let auth = own.as_str();
        match req {
            AdminRequest::PauseElections { paused } => {
                self.raft.runtime_config().elect(!paused);
                if paused {
                    let raft = self.raft.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        raft.runtime_config().elect(true);
                    });
                }
                return Ok(self.status());
            }
            AdminRequest::ElectNow => {
                self.raft.runtime_config().elect(true);
                self.raft.trigger().elect().await.map_err(raft_err)?;
                return Ok(self.status());
            }
            _ => {}
        }
        match self.leader() {
            Some(l) if l == self.id => {}
            Some(l) => {
                let addr = self
                    .member_addr(l)
                    .ok_or(AdminError::LeaderAddressUnknown)?;
                return admin_call(&addr, auth, &req).await;
            }
            None => return Err(AdminError::NoLeader),
        }
        match req {
            AdminRequest::AddLearner { id, addr } => {
                self.raft
                    .add_learner(id, BasicNode { addr }, false)
                    .await
                    .map_err(raft_err)?;
            }
            AdminRequest::Promote { id } => {
                let ids: BTreeSet<u64> = [id].into();
                self.raft
                    .change_membership(ChangeMembers::AddVoterIds(ids), true)
                    .await
                    .map_err(raft_err)?;
            }
            AdminRequest::RemoveNode { id } => {
                let ids: BTreeSet<u64> = [id].into();
                let voter = self
                    .raft
                    .metrics()
                    .borrow()
                    .membership_config
                    .membership()
                    .voter_ids()
                    .any(|v| v == id);
                if voter {
                    self.raft
                        .change_membership(ChangeMembers::RemoveVoters(ids.clone()), false)
                        .await
                        .map_err(raft_err)?;
                }
                self.raft
                    .change_membership(ChangeMembers::RemoveNodes(ids), false)
                    .await
                    .map_err(raft_err)?;
                self.forget_region(id).await?;
            }
            AdminRequest::TransferLeader { id } => return self.transfer_leader(id, auth).await,
            AdminRequest::SetRegion { id, region } => self.set_region(id, region).await?,
            AdminRequest::AddRegion { name } => self.add_region(name).await?,
            AdminRequest::RemoveRegion { name } => self.remove_region(name).await?,
            AdminRequest::Status | AdminRequest::PauseElections { .. } | AdminRequest::ElectNow => {
            }
        }
        Ok(self.status())
    }

    async fn transfer_leader(
        &self,
        target: u64,
        auth: &str, // this node's password
    ) -> Result<ClusterStatus, AdminError> {
        if target == self.id {
            return Ok(self.status());
        }
        let st = self.status();
        let Some(t) = st.members.iter().find(|m| m.id == target) else {
            return Err(AdminError::NotMember(target));
        };
        if !t.voter {
            return Err(AdminError::ReadReplica(target));
        }
        if t.matched
            .map_or(true, |m| st.last_log_index.saturating_sub(m) > 100)
        {
            return Err(AdminError::Behind(target));
        }
        let others: Vec<String> = st
            .members
            .iter()
            .filter(|m| m.voter && m.id != target && m.id != self.id)
            .map(|m| m.addr.clone())
            .collect();
        let target_addr = t.addr.clone();
        self.raft.runtime_config().elect(false);
        for a in &others {
            admin_call(a, auth, &AdminRequest::PauseElections { paused: true }).await?;
        }
        self.raft.runtime_config().heartbeat(false);
        // Let the followers' leader leases lapse, then the target runs alone.
        tokio::time::sleep(Duration::from_millis(self.cfg.election_timeout_ms.1 + 200)).await;
        let res = admin_call(&target_addr, auth, &AdminRequest::ElectNow).await;
        let won = self
            .raft
            .wait(Some(Duration::from_secs(5)))
            .metrics(
                |m| m.current_leader == Some(target),
                "transfer target elected",
            )
            .await;
        self.raft.runtime_config().heartbeat(true);
        self.raft.runtime_config().elect(true);
        for a in &others {
            let _ = admin_call(a, auth, &AdminRequest::PauseElections { paused: false }).await;
        }
        res?;
        won.map_err(|e| AdminError::NotTakenOver {
            target,
            reason: e.to_string(),
        })?;
        Ok(self.status())
    }
}

/// One admin RPC to a member's cluster address.
pub async fn admin_call(
    addr: &str,
    password: &str,
    req: &AdminRequest,
) -> Result<ClusterStatus, AdminError> {
    let mut c = crate::network::client(crate::network::channel(addr).map_err(AdminError::Connect)?);
    let mut env = crate::network::envelope(req);
    env.auth = crate::network::cluster_token(password);
    let reply = tokio::time::timeout(Duration::from_secs(30), c.admin(env))
        .await
        .map_err(|_| AdminError::NoAnswer(addr.to_string()))?
        .map_err(AdminError::Rpc)?;
    let res = super::status::decode_status(&reply.into_inner()).map_err(AdminError::Reply)?;
    res.map_err(AdminError::Remote)
}
