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
    // Appended after the fields above (bincode): a node of the previous version reads
    // the fields it knows and ignores these; `decode_status` reads its shorter reply.
    /// Each member's region and replication progress as the answering node sees it.
    pub regions: Vec<MemberRegion>,
    /// Regions added with `meridian cluster add-region` (with or without members).
    pub declared_regions: Vec<String>,
}

/// A member's region and how far behind it is (from the leader's view; a follower
/// knows only its own last contact with the leader).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemberRegion {
    pub id: u64,
    /// The region the member reported (`--region`); "" until it has.
    pub region: String,
    /// Log entries the leader has and the member has not (leader's view).
    pub lag_entries: Option<u64>,
    /// Age of the oldest entry the member lacks, by the entries' leader time: 0 when
    /// caught up (leader's view).
    pub lag_ms: Option<u64>,
    /// Milliseconds since the member last answered the leader (on the leader), or since
    /// this node last heard from the leader (a follower's own row).
    pub last_contact_ms: Option<u64>,
}

/// One region of the group, summed up from its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionStatus {
    pub name: String,
    /// Holds voters: the primary region (writes are committed there).
    pub primary: bool,
    pub members: Vec<u64>,
    pub voters: usize,
    /// The largest lag of its members (None when not known from this node).
    pub lag_entries: Option<u64>,
    pub lag_ms: Option<u64>,
    /// The longest time since one of its members was last heard from.
    pub last_contact_ms: Option<u64>,
}

/// The shape of `ClusterStatus` before regions (a member of the previous version).
#[derive(serde::Deserialize)]
struct ClusterStatusV1 {
    leader: Option<u64>,
    term: u64,
    last_log_index: u64,
    applied: u64,
    members: Vec<MemberStatus>,
}

/// Decodes an admin reply, also from a member of the previous version.
pub(crate) fn decode_status(
    e: &crate::pb::Envelope,
) -> Result<Result<ClusterStatus, String>, crate::error::ReplyError> {
    match crate::network::open::<Result<ClusterStatus, String>>(e) {
        Ok(r) => Ok(r),
        Err(err) => match crate::network::open::<Result<ClusterStatusV1, String>>(e) {
            Ok(r) => Ok(r.map(|v| ClusterStatus {
                leader: v.leader,
                term: v.term,
                last_log_index: v.last_log_index,
                applied: v.applied,
                members: v.members,
                regions: Vec::new(),
                declared_regions: Vec::new(),
            })),
            Err(_) => Err(err),
        },
    }
}

impl ClusterStatus {
    /// The region of member `id` ("" when unknown).
    pub fn region_of(&self, id: u64) -> &str {
        self.regions
            .iter()
            .find(|r| r.id == id)
            .map_or("", |r| r.region.as_str())
    }

    /// The member's row of [`ClusterStatus::regions`].
    pub fn member_region(&self, id: u64) -> Option<&MemberRegion> {
        self.regions.iter().find(|r| r.id == id)
    }

    /// The regions, the primary (voters') first, then by name; members without a
    /// reported region are grouped under "".
    pub fn region_summary(&self) -> Vec<RegionStatus> {
        let mut out: Vec<RegionStatus> = Vec::new();
        let mut names: Vec<String> = self
            .members
            .iter()
            .map(|m| self.region_of(m.id).to_string())
            .chain(self.declared_regions.iter().cloned())
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let ms: Vec<&MemberStatus> = self
                .members
                .iter()
                .filter(|m| self.region_of(m.id) == name)
                .collect();
            let rows: Vec<&MemberRegion> =
                ms.iter().filter_map(|m| self.member_region(m.id)).collect();
            let max =
                |f: &dyn Fn(&MemberRegion) -> Option<u64>| rows.iter().filter_map(|r| f(r)).max();
            out.push(RegionStatus {
                primary: ms.iter().any(|m| m.voter),
                voters: ms.iter().filter(|m| m.voter).count(),
                members: ms.iter().map(|m| m.id).collect(),
                lag_entries: max(&|r| r.lag_entries),
                lag_ms: max(&|r| r.lag_ms),
                last_contact_ms: max(&|r| r.last_contact_ms),
                name,
            });
        }
        out.sort_by(|a, b| b.primary.cmp(&a.primary).then(a.name.cmp(&b.name)));
        out
    }
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
        let mut st = ClusterStatus {
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            applied: self.applied_index(),
            members,
            regions: Vec::new(),
            declared_regions: Vec::new(),
        };
        self.fill_regions(&mut st, m.state == ServerState::Leader);
        st
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

    fn member(id: u64, voter: bool) -> MemberStatus {
        MemberStatus {
            id,
            addr: format!("h:{id}"),
            voter,
            matched: Some(10),
        }
    }

    /// A reply of a member of the previous version (no region fields) still decodes,
    /// and a member of the previous version reads the fields it knows from a new reply.
    #[test]
    fn status_replies_decode_across_versions() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct V1 {
            leader: Option<u64>,
            term: u64,
            last_log_index: u64,
            applied: u64,
            members: Vec<MemberStatus>,
        }
        let old: Result<V1, String> = Ok(V1 {
            leader: Some(1),
            term: 3,
            last_log_index: 9,
            applied: 8,
            members: vec![member(1, true)],
        });
        let env = crate::network::envelope(&old);
        let st = decode_status(&env).unwrap().unwrap();
        assert_eq!((st.leader, st.term, st.applied), (Some(1), 3, 8));
        assert!(st.regions.is_empty());
        let new: Result<ClusterStatus, String> = Ok(ClusterStatus {
            leader: Some(2),
            term: 4,
            last_log_index: 11,
            applied: 11,
            members: vec![member(2, true)],
            regions: vec![MemberRegion {
                id: 2,
                region: "eu".into(),
                ..Default::default()
            }],
            declared_regions: vec!["ap".into()],
        });
        let env = crate::network::envelope(&new);
        let back = decode_status(&env).unwrap().unwrap();
        assert_eq!(back.region_of(2), "eu");
        assert_eq!(back.declared_regions, vec!["ap".to_string()]);
        let as_old: Result<V1, String> = crate::network::open(&env).unwrap();
        assert_eq!(as_old.unwrap().members[0].id, 2);
        let err: Result<ClusterStatus, String> = Err("no".into());
        let env = crate::network::envelope(&err);
        assert_eq!(decode_status(&env).unwrap().unwrap_err(), "no");
    }

    #[test]
    fn region_summary_puts_the_primary_first_with_the_worst_lag() {
        let row = |id, region: &str, lag: Option<u64>| MemberRegion {
            id,
            region: region.into(),
            lag_entries: lag,
            lag_ms: lag.map(|l| l * 10),
            last_contact_ms: Some(id),
        };
        let st = ClusterStatus {
            leader: Some(1),
            term: 1,
            last_log_index: 10,
            applied: 10,
            members: vec![
                member(1, true),
                member(2, true),
                member(3, false),
                member(4, false),
                member(5, false),
            ],
            regions: vec![
                row(1, "zz-primary", Some(0)),
                row(2, "zz-primary", Some(1)),
                row(3, "eu", Some(5)),
                row(4, "eu", Some(2)),
                row(5, "", None),
            ],
            declared_regions: vec!["ap".into(), "eu".into()],
        };
        let sum = st.region_summary();
        let names: Vec<&str> = sum.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["zz-primary", "", "ap", "eu"]);
        assert!(sum[0].primary && sum[0].voters == 2);
        assert_eq!(sum[0].lag_entries, Some(1));
        let eu = &sum[3];
        assert_eq!(
            (eu.members.clone(), eu.lag_entries, eu.lag_ms),
            (vec![3, 4], Some(5), Some(50))
        );
        assert_eq!(eu.last_contact_ms, Some(4));
        assert!(sum[2].members.is_empty() && !sum[2].primary);
        assert_eq!(
            super::super::region_info_fields(eu),
            "name=eu,role=read,members=2,voters=0,lag_entries=5,lag_ms=50,last_contact_ms=4"
        );
    }

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
