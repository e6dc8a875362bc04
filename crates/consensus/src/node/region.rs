//! Regions: every member's `--region`, recorded through the log (`Op::Region`) so every
//! node knows every member's region, and what the status shows per member and region
//! (lag in entries and in milliseconds, last contact).
//!
//! A node reports its region itself once it serves (`register_region`), through the
//! leader, and again whenever it is restarted with another `--region`. The primary
//! region is the one holding the voters; the others are read regions (learners).

use super::{ClusterStatus, MemberRegion, Node};
use crate::error::AdminError;
use crate::types::{Op, RegionOp};
use keys::sm::{region_member_id, REGIONS_DECLARED, REGION_MEMBERS};
use keys::store::Store;
use keys::Cf;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

/// The longest region name accepted (it is shown in INFO lines and metrics labels).
const MAX_REGION_NAME: usize = 64;

/// A region name: 1 to 64 characters of letters, digits, `-`, `_` and `.`.
pub fn valid_region_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_REGION_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl Node {
    /// Every member's recorded region (member id → region), and the declared regions.
    pub fn regions(&self) -> (BTreeMap<u64, String>, Vec<String>) {
        let st = &*self.storage;
        let mut members = BTreeMap::new();
        let _ = st.scan(
            Cf::Sm,
            REGION_MEMBERS.start(),
            REGION_MEMBERS.end(),
            &mut |k, v| {
                if let Some(id) = region_member_id(k) {
                    members.insert(id, String::from_utf8_lossy(v).into_owned());
                }
                true
            },
        );
        let mut declared = Vec::new();
        let _ = st.scan(
            Cf::Sm,
            REGIONS_DECLARED.start(),
            REGIONS_DECLARED.end(),
            &mut |k, _| {
                if let Some(n) = REGIONS_DECLARED.name(k) {
                    declared.push(String::from_utf8_lossy(n).into_owned());
                }
                true
            },
        );
        (members, declared)
    }

    /// Called when an AppendEntries from the leader was accepted.
    pub(crate) fn heard_from_leader(&self) {
        self.heard_from_leader
            .store(super::now_ms(), Ordering::Relaxed);
    }

    /// Fills the status's per-member regions and progress. `leading`: this node is the
    /// leader, whose replication progress and contacts are known.
    pub(super) fn fill_regions(&self, st: &mut ClusterStatus, leading: bool) {
        let (recorded, declared) = self.regions();
        let now = super::now_ms();
        st.declared_regions = declared;
        let last = st.last_log_index;
        let mut rows = Vec::with_capacity(st.members.len());
        for m in &st.members {
            let mut row = MemberRegion {
                id: m.id,
                region: recorded.get(&m.id).cloned().unwrap_or_default(),
                ..Default::default()
            };
            if m.id == self.id && row.region.is_empty() {
                row.region = self.cfg.region.clone();
            }
            if leading {
                if m.id == self.id {
                    row.lag_entries = Some(0);
                    row.lag_ms = Some(0);
                    row.last_contact_ms = Some(0);
                } else {
                    let matched = m.matched.unwrap_or(0);
                    row.lag_entries = Some(last.saturating_sub(matched));
                    row.lag_ms = Some(if matched >= last {
                        0
                    } else {
                        self.entry_age_ms(matched + 1, last, now)
                    });
                    row.last_contact_ms = self.contacts.last(m.id).map(|t| now.saturating_sub(t));
                }
            } else if m.id == self.id {
                let heard = self.heard_from_leader.load(Ordering::Relaxed);
                row.last_contact_ms = (heard > 0).then(|| now.saturating_sub(heard));
            }
            rows.push(row);
        }
        st.regions = rows;
    }

    /// How long ago the first client entry in `[from, to]` of this node's log was
    /// proposed (its leader time), looking at a few entries past `from` (blank and
    /// membership entries carry no time); 0 when none is found.
    fn entry_age_ms(&self, from: u64, to: u64, now: u64) -> u64 {
        let end = to.min(from + 8) + 1;
        let Ok(entries) = self.storage.log_range(from, end) else {
            return 0;
        };
        for (_, raw) in entries {
            if let Ok(e) = bincode::deserialize::<crate::types::Entry>(&raw) {
                if let openraft::EntryPayload::Normal(req) = e.payload {
                    return now.saturating_sub(req.now_ms);
                }
            }
        }
        0
    }

    /// Leader side of `SetRegion`: records member `id`'s region.
    pub(super) async fn set_region(&self, id: u64, region: String) -> Result<(), AdminError> {
        if !valid_region_name(&region) {
            return Err(AdminError::Refused(format!(
                "bad region name {region:?}: 1 to {MAX_REGION_NAME} letters, digits, '-', '_' or '.'"
            )));
        }
        if self.member_addr(id).is_none() {
            return Err(AdminError::NotMember(id));
        }
        if self.regions().0.get(&id) == Some(&region) {
            return Ok(());
        }
        self.propose_region(RegionOp::Member { id, region }).await
    }

    /// Leader side of `AddRegion`.
    pub(super) async fn add_region(&self, name: String) -> Result<(), AdminError> {
        if !valid_region_name(&name) {
            return Err(AdminError::Refused(format!(
                "bad region name {name:?}: 1 to {MAX_REGION_NAME} letters, digits, '-', '_' or '.'"
            )));
        }
        self.propose_region(RegionOp::Declare { name }).await
    }

    /// Leader side of `RemoveRegion`: every member of a read region leaves the group,
    /// then the region is forgotten. The primary region (voters) cannot be removed.
    pub(super) async fn remove_region(&self, name: String) -> Result<(), AdminError> {
        let st = self.status();
        let members: Vec<_> = st
            .members
            .iter()
            .filter(|m| st.region_of(m.id) == name)
            .cloned()
            .collect();
        if members.is_empty() && !st.declared_regions.contains(&name) {
            return Err(AdminError::Refused(format!("no region {name:?}")));
        }
        if members.iter().any(|m| m.voter) {
            return Err(AdminError::Refused(format!(
                "region {name:?} holds voters (it is the primary region); move the voters or promote another region first"
            )));
        }
        for m in members {
            let ids = [m.id].into();
            self.raft
                .change_membership(openraft::ChangeMembers::RemoveNodes(ids), false)
                .await
                .map_err(|e| AdminError::Raft(e.to_string()))?;
            self.forget_region(m.id).await?;
        }
        if st.declared_regions.contains(&name) {
            self.propose_region(RegionOp::Undeclare { name }).await?;
        }
        Ok(())
    }

    /// Forgets a member's region after it left the group.
    pub(super) async fn forget_region(&self, id: u64) -> Result<(), AdminError> {
        if !self.regions().0.contains_key(&id) {
            return Ok(());
        }
        self.propose_region(RegionOp::Forget { id }).await
    }

    async fn propose_region(&self, op: RegionOp) -> Result<(), AdminError> {
        match self.write(vec![Op::Region(op)]).await {
            Ok((_, replies)) => match replies.into_iter().next() {
                Some(engine::Frame::Error(e)) => Err(AdminError::Refused(e)),
                _ => Ok(()),
            },
            Err(e) => Err(AdminError::Refused(match e {
                super::WriteError::NotApplied(m) | super::WriteError::Unknown(m) => m,
            })),
        }
    }

    /// Reports this node's `--region` to the leader until it is recorded (at start, and
    /// after a restart with another region). A node not (yet) in the group retries.
    pub(super) async fn register_region(node: Weak<Node>) {
        let mut wait = Duration::from_millis(200);
        loop {
            let Some(n) = node.upgrade() else { return };
            let (id, region) = (n.id, n.cfg.region.clone());
            if !valid_region_name(&region) || n.regions().0.get(&id) == Some(&region) {
                return;
            }
            let req = super::AdminRequest::SetRegion {
                id,
                region: region.clone(),
            };
            match n.admin(req, "").await {
                Ok(_) => {
                    tracing::info!("region {region:?} recorded for node {id}");
                    return;
                }
                Err(e) => tracing::debug!("recording region {region:?}: {e}; retrying"),
            }
            drop(n);
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(10));
        }
    }
}

/// What a status shows of a region for INFO: `name=..,role=..,members=..` fields.
pub fn region_info_fields(r: &super::RegionStatus) -> String {
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    format!(
        "name={},role={},members={},voters={},lag_entries={},lag_ms={},last_contact_ms={}",
        if r.name.is_empty() { "-" } else { &r.name },
        if r.primary { "primary" } else { "read" },
        r.members.len(),
        r.voters,
        opt(r.lag_entries),
        opt(r.lag_ms),
        opt(r.last_contact_ms)
    )
}
