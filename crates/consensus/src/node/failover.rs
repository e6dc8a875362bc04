//! Region failover (issue 16): promoting a read region over a lost primary region, and
//! the old primary's return as a read region with its diverged writes merged by
//! last-writer-wins.
//!
//! **Epochs.** A group starts at epoch 0. `promote-region R` bumps it: one replica of R
//! (the one that applied the most, the *seed*) rewrites its own Raft state at its next
//! start (a new term, a membership with itself as the only voter and the other members
//! of R as learners), is elected alone, then makes the caught-up members of R voters.
//! Every Raft call carries the sender's epoch (`Envelope.epoch`): a node refuses calls
//! from an older epoch (so the old primary's leader can neither replicate to nor win a
//! vote from the new group), and adopts a newer one (the seed's first call to the other
//! members of R).
//!
//! **The fork.** Writes the old primary acknowledged but had not shipped to the seed are
//! not in the new group. The seed's applied index at promotion is the *fork index*:
//! every entry up to it is the same in both histories (it was committed). It is recorded
//! in the new group's replicated state (`sm` record `failover`).
//!
//! **Rejoin.** Every node probes its membership's other nodes every few seconds
//! (`AeRequest::Epoch`). A node that meets a newer epoch whose membership does not
//! include it was deposed: it stops taking writes, sends every key it changed after the
//! fork index (its value and stamp, or its tombstone) to the new group, which takes each
//! one only if its stamp is greater than what the new group holds (`Op::Merge`), then
//! empties its data directory and restarts as a read replica of the new group (in the
//! same process image: `exec`).

use super::antientropy::{ae_call, ae_call_on, AeReply, AeRequest};
use super::Node;
use crate::types::{Entry, MergeKey, Op, RegionOp};
use keys::Cf;
use openraft::{BasicNode, ChangeMembers, EntryPayload, LogId, Membership, Vote};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;
use storage::Storage;

/// This process's epoch (a node is one process), sent with every cluster call.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// The epoch this node is in.
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::Relaxed)
}

/// `raft` record holding the epoch (u64 BE).
const EPOCH_KEY: &[u8] = b"epoch";
/// `sm` record of the last promotion (bincode [`Failover`]): replicated, so every member
/// of the new group can tell a deposed node where the fork is.
pub(crate) const FAILOVER_KEY: &[u8] = keys::sm::FAILOVER;
const PROMOTE_MARKER: &str = "promote.json";
const REJOIN_MARKER: &str = "rejoin.json";
/// How often every node asks the others for their epoch.
const PROBE_EVERY: Duration = Duration::from_secs(2);
/// Keys per merge entry.
const MERGE_BATCH: usize = 256;

/// A promotion, as the new group records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failover {
    pub epoch: u64,
    /// Entries up to here are the same in the old and the new history.
    pub fork_index: u64,
    /// The promoted region.
    pub region: String,
    /// The member that seeded the new group.
    pub seed: u64,
}

/// What the seed does at its next start (written by [`AeRequest::Reform`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromoteMarker {
    pub failover: Failover,
    /// Every member of the promoted region (the seed too): (id, cluster address).
    pub members: Vec<(u64, String)>,
}

/// What a deposed node does at its next start: empty its data and join here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejoinMarker {
    pub join: String,
    pub failover: Failover,
}

/// Loads the stored epoch into [`epoch`] (at start).
pub(crate) fn load_epoch(st: &Storage) -> anyhow::Result<u64> {
    let e = st
        .raft_get(EPOCH_KEY)?
        .and_then(|raw| raw.try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0);
    EPOCH.store(e, Ordering::Relaxed);
    Ok(e)
}

fn save_epoch(st: &Storage, e: u64) -> anyhow::Result<()> {
    st.raft_put(EPOCH_KEY, &e.to_be_bytes(), true)?;
    EPOCH.store(e, Ordering::Relaxed);
    Ok(())
}

fn write_marker<T: Serialize>(dir: &Path, name: &str, v: &T) -> anyhow::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(v)?)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    Ok(())
}

fn read_marker<T: for<'a> Deserialize<'a>>(dir: &Path, name: &str) -> anyhow::Result<Option<T>> {
    match std::fs::read(dir.join(name)) {
        Ok(raw) => Ok(Some(serde_json::from_slice(&raw)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn promote_marker(dir: &Path) -> anyhow::Result<Option<PromoteMarker>> {
    read_marker(dir, PROMOTE_MARKER)
}

pub(crate) fn remove_promote_marker(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(PROMOTE_MARKER));
}

pub(crate) fn rejoin_marker(dir: &Path) -> anyhow::Result<Option<RejoinMarker>> {
    read_marker(dir, REJOIN_MARKER)
}

pub(crate) fn remove_rejoin_marker(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(REJOIN_MARKER));
}

/// A deposed node's data, emptied before it joins the new group (the marker stays
/// until the join succeeded, so a crash in between empties it again).
pub(crate) fn wipe_for_rejoin(dir: &Path) -> anyhow::Result<()> {
    for sub in ["db", "snapshots"] {
        match std::fs::remove_dir_all(dir.join(sub)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The seed's storage surgery, before Raft starts: a vote for itself in a term above
/// every term it has seen, and a membership entry after its last entry with itself as
/// the only voter and the other members of the region as learners. Raft then elects it
/// alone and commits everything in its log.
pub(crate) fn reform_storage(st: &Storage, id: u64, m: &PromoteMarker) -> anyhow::Result<()> {
    let (last_index, last_term) = match st.log_last()? {
        Some((i, raw)) => {
            let e: Entry = bincode::deserialize(&raw)?;
            (i, e.log_id.leader_id.term)
        }
        None => {
            let purged: Option<LogId<u64>> = match st.raft_get(keys::RAFT_PURGED)? {
                Some(raw) => bincode::deserialize(&raw)?,
                None => None,
            };
            purged.map_or((0, 0), |l| (l.index, l.leader_id.term))
        }
    };
    let vote: Option<Vote<u64>> = match st.raft_get(keys::RAFT_VOTE)? {
        Some(raw) => Some(bincode::deserialize(&raw)?),
        None => None,
    };
    let term = vote.map_or(0, |v| v.leader_id.term).max(last_term) + 1;
    let voters: BTreeSet<u64> = [id].into();
    let nodes: BTreeMap<u64, BasicNode> = m
        .members
        .iter()
        .map(|(i, a)| (*i, BasicNode { addr: a.clone() }))
        .collect();
    let entry = Entry {
        log_id: LogId::new(openraft::CommittedLeaderId::new(term, id), last_index + 1),
        payload: EntryPayload::Membership(Membership::new(vec![voters], nodes)),
    };
    st.log_append(&[(last_index + 1, bincode::serialize(&entry)?)])?;
    st.raft_put(
        keys::RAFT_VOTE,
        &bincode::serialize(&Vote::new(term, id))?,
        true,
    )?;
    save_epoch(st, m.failover.epoch)?;
    tracing::warn!(
        "promoted: this node seeds epoch {} of region {} (term {term}, fork after index {})",
        m.failover.epoch,
        m.failover.region,
        m.failover.fork_index
    );
    Ok(())
}

/// Replaces this process with a fresh start of the same binary and arguments (the
/// seed's and a deposed node's restart); only returns if `exec` failed.
fn restart_process() {
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    tracing::warn!("restarting this node ({})", exe.display());
    let err = std::process::Command::new(exe).args(args).exec();
    tracing::error!("restart failed: {err}");
}

/// A node that learned it was deposed: where to send its writes and join.
#[derive(Debug, Clone)]
pub(crate) struct Deposed {
    pub failover: Failover,
    pub via: String,
}

impl Node {
    /// Checks a Raft call's epoch: an older one is refused (its sender was deposed), a
    /// newer one adopted (this node is a member of a promoted group).
    #[allow(clippy::result_large_err)]
    pub(crate) fn check_epoch(&self, sender: u64) -> Result<(), tonic::Status> {
        let mine = epoch();
        if sender == mine {
            return Ok(());
        }
        if sender < mine {
            return Err(tonic::Status::failed_precondition(format!(
                "deposed: this group is at epoch {mine} (a region was promoted); calls of \
                 epoch {sender} are refused"
            )));
        }
        save_epoch(&self.storage, sender)
            .map_err(|e| tonic::Status::internal(format!("saving the epoch: {e}")))?;
        tracing::warn!("joined epoch {sender} (a region was promoted)");
        Ok(())
    }

    /// Why writes are refused here, if this node was deposed.
    pub(crate) fn deposed_reason(&self) -> Option<String> {
        let d = self.deposed.lock().unwrap_or_else(|e| e.into_inner());
        d.as_ref().map(|d| {
            format!(
                "READONLY region {} was promoted (epoch {}): this node is rejoining as a \
                 read replica through {}",
                d.failover.region, d.failover.epoch, d.via
            )
        })
    }

    /// The last promotion recorded in the replicated state, if any.
    pub fn failover_record(&self) -> Option<Failover> {
        self.storage
            .sm_get(FAILOVER_KEY)
            .ok()
            .flatten()
            .and_then(|raw| bincode::deserialize(&raw).ok())
    }

    /// `AeRequest::Epoch`: this node's epoch, the promotion record, and whether `asker`
    /// is in this node's membership.
    pub(crate) fn epoch_reply(&self, asker: u64) -> AeReply {
        let m = self.raft.metrics().borrow().membership_config.clone();
        AeReply::Epoch {
            epoch: epoch(),
            failover: self.failover_record(),
            member: m.membership().get_node(&asker).is_some(),
            addr: self.cfg.advertise.clone(),
        }
    }

    /// `AeRequest::LogState`: (applied index, last log index, epoch).
    pub(crate) fn log_state(&self) -> AeReply {
        let last = self.storage.log_last().ok().flatten().map_or(0, |(i, _)| i);
        AeReply::LogState {
            applied: self.applied_index(),
            last_index: last,
            epoch: epoch(),
        }
    }

    /// `meridian cluster promote-region R`: picks the member of R that applied the most
    /// and has it seed a new epoch. Refused while the primary still answers, unless
    /// `force`.
    pub(crate) async fn promote_region(
        &self,
        region: String,
        force: bool,
    ) -> Result<String, String> {
        let (regions, _) = self.regions();
        let membership = self.raft.metrics().borrow().membership_config.clone();
        let members: Vec<(u64, String)> = membership
            .membership()
            .nodes()
            .filter(|(id, _)| regions.get(id) == Some(&region))
            .map(|(id, n)| (*id, n.addr.clone()))
            .collect();
        if members.is_empty() {
            return Err(format!(
                "ERR no member of region {region} is known to this node"
            ));
        }
        if !force {
            if let Some(l) = self.leader() {
                if regions.get(&l) == Some(&region) {
                    return Err(format!("ERR region {region} is already the primary region"));
                }
            }
            let heard = self.heard_from_leader.load(Ordering::Relaxed);
            let recent = self.is_leader()
                || super::now_ms().saturating_sub(heard) < 3 * self.cfg.election_timeout_ms.1;
            if recent {
                return Err(format!(
                    "ERR the primary region still answers (leader {:?}): promote-region is for \
                     a lost primary; use transfer-leader, or --force",
                    self.leader()
                ));
            }
        }
        let pw = self.cfg.password.clone().unwrap_or_default();
        let mut best: Option<(u64, u64, u64, String)> = None; // applied, last, id, addr
        let mut top_epoch = epoch();
        let mut answered = Vec::new();
        for (id, addr) in &members {
            let r = tokio::time::timeout(
                Duration::from_secs(3),
                ae_call(addr, &pw, &AeRequest::LogState),
            )
            .await;
            if let Ok(Ok(AeReply::LogState {
                applied,
                last_index,
                epoch: e,
            })) = r
            {
                answered.push(*id);
                top_epoch = top_epoch.max(e);
                let better = best.as_ref().map_or(true, |(a, l, bid, _)| {
                    (applied, last_index, std::cmp::Reverse(*id))
                        > (*a, *l, std::cmp::Reverse(*bid))
                });
                if better {
                    best = Some((applied, last_index, *id, addr.clone()));
                }
            }
        }
        let Some((applied, _, seed, seed_addr)) = best else {
            return Err(format!("ERR no member of region {region} answered"));
        };
        let failover = Failover {
            epoch: top_epoch + 1,
            fork_index: applied,
            region: region.clone(),
            seed,
        };
        let marker = PromoteMarker {
            failover: failover.clone(),
            members: members.clone(),
        };
        match ae_call(&seed_addr, &pw, &AeRequest::Reform(Box::new(marker))).await? {
            AeReply::Reformed => {}
            other => return Err(format!("ERR unexpected reply to reform: {other:?}")),
        }
        Ok(format!(
            "region {region} promoted: node {seed} seeds epoch {} from applied index {applied}; \
             members {:?} (answered: {:?})",
            failover.epoch,
            members.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            answered
        ))
    }

    /// `AeRequest::Reform` on the seed: record what to do and restart.
    pub(crate) fn reform(&self, marker: PromoteMarker) -> Result<AeReply, String> {
        write_marker(&self.cfg.data_dir, PROMOTE_MARKER, &marker).map_err(|e| e.to_string())?;
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            restart_process();
        });
        Ok(AeReply::Reformed)
    }

    /// After the seed's restart: records the promotion in the replicated state, then
    /// makes every member of the region that caught up a voter.
    pub(crate) async fn after_promotion(node: Weak<Node>, m: PromoteMarker) {
        let Some(dir) = node.upgrade().map(|n| n.cfg.data_dir.clone()) else {
            return;
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let Some(n) = node.upgrade() else { return };
            if n.is_leader() {
                let op = Op::Region(RegionOp::Failover {
                    record: bincode::serialize(&m.failover).unwrap_or_default(),
                });
                match n.write(vec![op]).await {
                    Ok(_) => break,
                    Err(e) => tracing::info!("recording the promotion: {e:?}"),
                }
            }
            if tokio::time::Instant::now() > deadline {
                tracing::error!("the promotion was not recorded (no leadership)");
                return;
            }
            drop(n);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        remove_promote_marker(&dir);
        // Members become voters once they have caught up (a dead one would stall every
        // write if it were made a voter).
        let mut pending: BTreeSet<u64> = m.members.iter().map(|(i, _)| *i).collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while !pending.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Some(n) = node.upgrade() else { return };
            let metrics = n.raft.metrics().borrow().clone();
            let voters: BTreeSet<u64> =
                metrics.membership_config.membership().voter_ids().collect();
            pending.retain(|i| !voters.contains(i));
            let last = metrics.last_log_index.unwrap_or(0);
            let ready: BTreeSet<u64> = pending
                .iter()
                .copied()
                .filter(|i| {
                    metrics
                        .replication
                        .as_ref()
                        .and_then(|r| r.get(i).cloned().flatten())
                        .is_some_and(|l| last.saturating_sub(l.index) < 100)
                })
                .collect();
            if ready.is_empty() {
                continue;
            }
            match n
                .raft
                .change_membership(ChangeMembers::AddVoterIds(ready.clone()), true)
                .await
            {
                Ok(_) => tracing::info!("promoted region: {ready:?} are voters"),
                Err(e) => tracing::info!("making {ready:?} voters: {e}"),
            }
        }
    }

    /// Every node: asks the other members for their epoch; a newer epoch whose group
    /// does not include this node means it was deposed.
    pub(crate) async fn epoch_loop(node: Weak<Node>) {
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            let Some(n) = node.upgrade() else { return };
            if n.deposed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
            {
                return;
            }
            let others: Vec<String> = {
                let m = n.raft.metrics().borrow().membership_config.clone();
                m.membership()
                    .nodes()
                    .filter(|(id, _)| **id != n.id)
                    .map(|(_, b)| b.addr.clone())
                    .collect()
            };
            let pw = n.cfg.password.clone().unwrap_or_default();
            for addr in others {
                let Ok(ch) = n.link(&addr) else { continue };
                let req = AeRequest::Epoch { asker: n.id };
                let r = ae_call_on(ch, &addr, &pw, &req, Duration::from_secs(2)).await;
                if r.is_err() {
                    n.drop_link(&addr);
                }
                let Ok(AeReply::Epoch {
                    epoch: theirs,
                    failover,
                    member,
                    addr: via,
                }) = r
                else {
                    continue;
                };
                if theirs <= epoch() || member {
                    continue;
                }
                let Some(failover) = failover.filter(|f| f.epoch == theirs) else {
                    continue; // the promotion is not recorded yet: ask again later
                };
                tracing::warn!(
                    "deposed: region {} was promoted (epoch {theirs}, fork after index {}); \
                     merging this node's later writes into it and rejoining as a replica",
                    failover.region,
                    failover.fork_index
                );
                *n.deposed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Deposed {
                    failover: failover.clone(),
                    via: via.clone(),
                });
                tokio::spawn(Node::rejoin(node.clone(), failover, via));
                return;
            }
        }
    }

    /// The opt-in automatic mode (`--auto-promote-after`): a read replica that has not
    /// heard the leader for that long (and has heard it once: a replica that never
    /// joined does not promote) promotes its own region. Members of the region wait
    /// longer by their rank in it, so one of them goes first and the others find the
    /// region promoted.
    pub(crate) async fn auto_promote_loop(node: Weak<Node>) {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let Some(n) = node.upgrade() else { return };
            if n.deposed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
            {
                return;
            }
            let metrics = n.raft.metrics().borrow().clone();
            let voter = metrics
                .membership_config
                .membership()
                .voter_ids()
                .any(|v| v == n.id);
            let heard = n.heard_from_leader.load(Ordering::Relaxed);
            if voter || heard == 0 {
                continue;
            }
            let (regions, _) = n.regions();
            let rank = regions
                .iter()
                .filter(|(id, r)| **r == n.cfg.region && **id < n.id)
                .count() as u64;
            let wait_ms = (n.cfg.auto_promote_after + 3 * rank) * 1000;
            if super::now_ms().saturating_sub(heard) < wait_ms {
                continue;
            }
            let region = n.cfg.region.clone();
            match n.promote_region(region.clone(), false).await {
                Ok(text) => {
                    tracing::warn!(
                        "automatic failover: no leader for {} s: {text}",
                        wait_ms / 1000
                    );
                    return;
                }
                Err(e) => tracing::warn!("automatic failover of region {region}: {e}"),
            }
            drop(n);
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }

    /// A deposed node: sends its writes after the fork to the new group (merged there by
    /// last-writer-wins), then restarts as its read replica.
    async fn rejoin(node: Weak<Node>, failover: Failover, via: String) {
        // Let entries already committed here apply first.
        tokio::time::sleep(Duration::from_secs(1)).await;
        loop {
            let Some(n) = node.upgrade() else { return };
            match n.send_diverged(&failover, &via).await {
                Ok(sent) => {
                    tracing::warn!(
                        "merged {sent} keys written after the fork into epoch {}",
                        failover.epoch
                    );
                    let marker = RejoinMarker {
                        join: via.clone(),
                        failover: failover.clone(),
                    };
                    match write_marker(&n.cfg.data_dir, REJOIN_MARKER, &marker) {
                        Ok(()) => {
                            let _ = n.raft.shutdown().await;
                            restart_process();
                            return;
                        }
                        Err(e) => tracing::error!("writing the rejoin marker: {e}"),
                    }
                }
                Err(e) => tracing::warn!("merging into the promoted group failed, retrying: {e}"),
            }
            drop(n);
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Every key this node changed after the fork index (value or tombstone, with its
    /// stamp), sent in merge batches; the number of keys sent.
    async fn send_diverged(&self, f: &Failover, via: &str) -> Result<usize, String> {
        let keys = diverged_keys(&self.storage, f.fork_index).map_err(|e| e.to_string())?;
        let pw = self.cfg.password.clone().unwrap_or_default();
        for chunk in keys.chunks(MERGE_BATCH) {
            match ae_call(
                via,
                &pw,
                &AeRequest::Merge {
                    keys: chunk.to_vec(),
                },
            )
            .await?
            {
                AeReply::Merged { .. } => {}
                other => return Err(format!("unexpected reply to merge: {other:?}")),
            }
        }
        Ok(keys.len())
    }

    /// `AeRequest::Merge` on a member of the new group: through the log.
    pub(crate) async fn merge(&self, keys: Vec<MergeKey>) -> Result<AeReply, String> {
        let (_, replies) = self
            .write(vec![Op::Merge { keys }])
            .await
            .map_err(|e| format!("{e:?}"))?;
        match replies.into_iter().next() {
            Some(engine::Frame::Integer(n)) => Ok(AeReply::Merged { taken: n as u64 }),
            other => Err(format!("merge failed: {other:?}")),
        }
    }
}

/// The keys written (or deleted) after `fork`: their DUMP payload and absolute expiry,
/// or a delete, each with the stamp of its last write.
pub(crate) fn diverged_keys(st: &Storage, fork: u64) -> anyhow::Result<Vec<MergeKey>> {
    let snap = st.snapshot();
    let now = super::now_ms();
    let mut metas = Vec::new();
    snap_scan(&snap, Cf::Meta, &[], &[0xff; 4], &mut |k, v| {
        if let Ok(m) = keys::Meta::decode(v) {
            if m.write_index > fork {
                metas.push((k.to_vec(), m.stamp));
            }
        }
    })?;
    let mut out = Vec::with_capacity(metas.len());
    for (raw, stamp) in metas {
        let Some((db, _, key)) = keys::decode_meta_key(&raw) else {
            continue;
        };
        // None when it expired since: its expiry is the delete.
        let value = super::antientropy::dump_with_expiry(&snap, now, db, key);
        out.push(MergeKey {
            db,
            key: key.to_vec(),
            hlc: stamp.hlc,
            node: stamp.node,
            value,
        });
    }
    let mut tombs = Vec::new();
    snap_scan(
        &snap,
        Cf::Sm,
        keys::sm::TOMBSTONES.start(),
        keys::sm::TOMBSTONES.end(),
        &mut |k, v| {
            if let (Some((db, key)), Some(t)) = (
                keys::sm::decode_tombstone_key(k),
                keys::sm::Tombstone::decode(v),
            ) {
                if t.index > fork {
                    tombs.push(MergeKey {
                        db,
                        key: key.to_vec(),
                        hlc: t.stamp.hlc,
                        node: t.stamp.node,
                        value: None,
                    });
                }
            }
        },
    )?;
    // A key deleted then written again keeps only its record's version.
    let live: BTreeSet<(u8, Vec<u8>)> = out.iter().map(|k| (k.db, k.key.clone())).collect();
    out.extend(
        tombs
            .into_iter()
            .filter(|t| !live.contains(&(t.db, t.key.clone()))),
    );
    Ok(out)
}

fn snap_scan(
    snap: &impl keys::store::Store,
    cf: Cf,
    start: &[u8],
    end: &[u8],
    f: &mut dyn FnMut(&[u8], &[u8]),
) -> anyhow::Result<()> {
    snap.scan(cf, start, end, &mut |k, v| {
        f(k, v);
        true
    })
    .map_err(|e| anyhow::anyhow!("{e:?}"))
}
