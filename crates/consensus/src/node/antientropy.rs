//! Anti-entropy inside the group: the leader compares its per-slot keyspace digests
//! (`storage::digest`) with each member's, descends only into slots that differ, and
//! repairs the keys that differ through the log (`Op::Repair`), so every node ends with
//! the leader's records. Every node also scrubs its own digests slowly (recomputes a
//! few slots a second from their records), so data changed behind the write path (a
//! bug, a disk corruption) shows up as a differing slot at the next round.
//!
//! Slots are compared only when both sides last changed them at the same log entry
//! (their digests describe the same history); a slot changed since on one side is "in
//! flux" and compared at a later round. A repair of a slot is skipped on every node if
//! the slot changed between the leader's read and the repair's entry.

use super::Node;
use crate::types::{Op, RepairKey, RepairSlot};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;
use storage::SlotDigest;

/// Slots one node scrubs per second in the background: a full pass over the 16384
/// slots takes about ten minutes.
const SCRUB_PER_SECOND: u16 = 28;
/// How long a member waits to reach the leader's applied index before answering.
const CATCH_UP: Duration = Duration::from_secs(5);
/// Keys repaired per log entry (a slot's keys stay together).
const REPAIR_KEYS_PER_ENTRY: usize = 512;

/// Anti-entropy calls between members (the `AntiEntropy` RPC).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AeRequest {
    /// Every slot's digest (xor, count, last index) once this member has applied
    /// `at_least` (waits up to 5 s), with the applied index they describe.
    Digests { at_least: u64 },
    /// The `meta` records (key, hash) of these slots with each slot's digest.
    SlotRecords { slots: Vec<u16>, at_least: u64 },
    /// Scrub every slot now; the reply counts the slots whose digest was wrong.
    ScrubAll,
    /// Run one round now, on the leader (`meridian cluster anti-entropy --now`);
    /// `scrub` first scrubs every slot on every member.
    RunNow { scrub: bool },
    // Region failover (`failover.rs`); appended so older members decode the above.
    /// This member's epoch and promotion record; whether `asker` is in its group.
    Epoch { asker: u64 },
    /// This member's applied and last log index, and epoch.
    LogState,
    /// To the seed of a promotion: rewrite its Raft state and restart.
    Reform(Box<super::failover::PromoteMarker>),
    /// Keys of a deposed history, merged through the log by last-writer-wins.
    Merge { keys: Vec<crate::types::MergeKey> },
    /// `meridian cluster promote-region`.
    PromoteRegion { region: String, force: bool },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AeReply {
    Digests {
        applied: u64,
        digests: Vec<(u64, u64, u64)>,
    },
    SlotRecords {
        applied: u64,
        #[allow(clippy::type_complexity)]
        slots: Vec<(u16, (u64, u64, u64), Vec<(Vec<u8>, u64)>)>,
    },
    Scrubbed {
        fixed: u64,
    },
    Report(AeReport),
    Epoch {
        epoch: u64,
        failover: Option<super::failover::Failover>,
        member: bool,
        addr: String,
    },
    LogState {
        applied: u64,
        last_index: u64,
        epoch: u64,
    },
    Reformed,
    Merged {
        taken: u64,
    },
    Promoted(String),
}

/// What one round did, per member.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AeReport {
    pub leader: u64,
    pub applied: u64,
    pub members: Vec<AeMember>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AeMember {
    pub id: u64,
    /// Slots compared (both sides at the same last change).
    pub compared: u64,
    /// Slots changed on one side since: compared at a later round.
    pub in_flux: u64,
    /// Slots whose digests differed.
    pub differing: u64,
    /// Keys rewritten with the leader's records.
    pub repaired: u64,
    /// Slots scrubbed and found wrong on this member (with `--scrub`).
    pub scrub_fixed: u64,
    pub error: Option<String>,
}

/// Counters shown in INFO and /metrics.
#[derive(Debug, Default)]
pub struct AeStats {
    pub rounds: AtomicU64,
    pub slots_compared: AtomicU64,
    pub slots_differing: AtomicU64,
    pub keys_repaired: AtomicU64,
    pub member_errors: AtomicU64,
    /// Unix ms of the last round this node ran as leader.
    pub last_round_ms: AtomicU64,
    pub scrub_slots: AtomicU64,
    pub scrub_fixed: AtomicU64,
}

pub static AE_STATS: AeStats = AeStats {
    rounds: AtomicU64::new(0),
    slots_compared: AtomicU64::new(0),
    slots_differing: AtomicU64::new(0),
    keys_repaired: AtomicU64::new(0),
    member_errors: AtomicU64::new(0),
    last_round_ms: AtomicU64::new(0),
    scrub_slots: AtomicU64::new(0),
    scrub_fixed: AtomicU64::new(0),
};

/// A key's record as another node can restore it: its DUMP payload and absolute expiry
/// in unix ms (0: none), read from `store` at time `now`; None when it does not exist
/// (or has expired). Anti-entropy repairs and failover merges ship keys this way.
pub(crate) fn dump_with_expiry(
    store: &dyn keys::store::Store,
    now: u64,
    db: u8,
    key: &[u8],
) -> Option<(Vec<u8>, u64)> {
    let mut t = engine::Txn::read_only(store, now, 0);
    match t.run(db, &[b"DUMP".to_vec(), key.to_vec()]) {
        engine::Frame::Bulk(payload) => {
            let at = match t.run(db, &[b"PEXPIRETIME".to_vec(), key.to_vec()]) {
                engine::Frame::Integer(at) if at > 0 => at as u64,
                _ => 0,
            };
            Some((payload, at))
        }
        _ => None,
    }
}

fn triple(d: &SlotDigest) -> (u64, u64, u64) {
    (d.xor, d.count, d.last_index)
}

/// Seconds between rounds on the leader (`MERIDIAN_AE_SECS`, default 60; 0 = only on
/// demand).
fn round_every() -> u64 {
    std::env::var("MERIDIAN_AE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

impl Node {
    /// This node's digests and the applied index they describe.
    fn digests_now(&self) -> Result<(u64, Vec<SlotDigest>), String> {
        let (applied, d) = self.storage.digests().map_err(|e| e.to_string())?;
        let index = match applied {
            Some(raw) => crate::state_machine::applied_index_of(&raw).map_err(|e| e.to_string())?,
            None => 0,
        };
        Ok((index, d))
    }

    /// Serves an anti-entropy call from another member (or the CLI).
    pub(crate) async fn serve_ae(&self, req: AeRequest) -> Result<AeReply, String> {
        match req {
            AeRequest::Digests { at_least } => {
                let _ = tokio::time::timeout(CATCH_UP, self.wait_applied(at_least)).await;
                let (applied, d) = self.digests_now()?;
                Ok(AeReply::Digests {
                    applied,
                    digests: d.iter().map(triple).collect(),
                })
            }
            AeRequest::SlotRecords { slots, at_least } => {
                let _ = tokio::time::timeout(CATCH_UP, self.wait_applied(at_least)).await;
                let applied = self.applied_index();
                let mut out = Vec::with_capacity(slots.len());
                for slot in slots {
                    let (d, recs) = self.storage.slot_records(slot).map_err(|e| e.to_string())?;
                    out.push((slot, triple(&d), recs));
                }
                Ok(AeReply::SlotRecords {
                    applied,
                    slots: out,
                })
            }
            AeRequest::ScrubAll => Ok(AeReply::Scrubbed {
                fixed: self.scrub_all().await?,
            }),
            AeRequest::RunNow { scrub } => {
                if !self.is_leader() {
                    let leader = self.leader().ok_or("no leader")?;
                    let addr = self.member_addr(leader).ok_or("leader address unknown")?;
                    let pw = self.cfg.password.clone().unwrap_or_default();
                    return ae_call(&addr, &pw, &AeRequest::RunNow { scrub }).await;
                }
                self.ae_round(scrub).await.map(AeReply::Report)
            }
            AeRequest::Epoch { asker } => Ok(self.epoch_reply(asker)),
            AeRequest::LogState => Ok(self.log_state()),
            AeRequest::Reform(m) => self.reform(*m),
            AeRequest::Merge { keys } => self.merge(keys).await,
            AeRequest::PromoteRegion { region, force } => self
                .promote_region(region, force)
                .await
                .map(AeReply::Promoted),
        }
    }

    /// Scrubs every slot of this node; the number whose stored digest was wrong.
    async fn scrub_all(&self) -> Result<u64, String> {
        let st = self.storage.clone();
        let fixed = tokio::task::spawn_blocking(move || {
            let mut fixed = 0;
            for slot in 0..keys::SLOTS as u16 {
                if st.scrub_slot(slot).map_err(|e| e.to_string())? {
                    fixed += 1;
                }
            }
            Ok::<u64, String>(fixed)
        })
        .await
        .map_err(|e| e.to_string())??;
        AE_STATS
            .scrub_slots
            .fetch_add(keys::SLOTS as u64, Ordering::Relaxed);
        AE_STATS.scrub_fixed.fetch_add(fixed, Ordering::Relaxed);
        Ok(fixed)
    }

    /// One anti-entropy round (on the leader): every other member compared and repaired.
    pub async fn ae_round(&self, scrub: bool) -> Result<AeReport, String> {
        if !self.is_leader() {
            return Err("not the leader".into());
        }
        let pw = self.cfg.password.clone().unwrap_or_default();
        let members: Vec<(u64, String)> = self
            .status()
            .members
            .into_iter()
            .filter(|m| m.id != self.id)
            .map(|m| (m.id, m.addr))
            .collect();
        let mut report = AeReport {
            leader: self.id,
            ..Default::default()
        };
        if scrub {
            // Our own records first, then every member's.
            self.scrub_all().await?;
        }
        let (applied, mine) = self.digests_now()?;
        report.applied = applied;
        for (id, addr) in members {
            let mut m = AeMember {
                id,
                ..Default::default()
            };
            if let Err(e) = self
                .ae_member(&addr, &pw, applied, &mine, scrub, &mut m)
                .await
            {
                AE_STATS.member_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("anti-entropy with node {id} ({addr}): {e}");
                m.error = Some(e);
            }
            report.members.push(m);
        }
        AE_STATS.rounds.fetch_add(1, Ordering::Relaxed);
        AE_STATS
            .last_round_ms
            .store(super::now_ms(), Ordering::Relaxed);
        Ok(report)
    }

    async fn ae_member(
        &self,
        addr: &str,
        pw: &str,
        applied: u64,
        mine: &[SlotDigest],
        scrub: bool,
        m: &mut AeMember,
    ) -> Result<(), String> {
        if scrub {
            if let AeReply::Scrubbed { fixed } = ae_call(addr, pw, &AeRequest::ScrubAll).await? {
                m.scrub_fixed = fixed;
            }
        }
        let AeReply::Digests {
            applied: theirs_at,
            digests: theirs,
        } = ae_call(addr, pw, &AeRequest::Digests { at_least: applied }).await?
        else {
            return Err("unexpected reply to Digests".into());
        };
        if theirs.len() != mine.len() {
            return Err(format!(
                "{} slot digests, expected {}",
                theirs.len(),
                mine.len()
            ));
        }
        let mut differing = Vec::new();
        for (slot, (a, b)) in mine.iter().zip(&theirs).enumerate() {
            if a.last_index != b.2 {
                m.in_flux += 1;
                continue;
            }
            m.compared += 1;
            if a.xor != b.0 || a.count != b.1 {
                differing.push(slot as u16);
            }
        }
        m.differing = differing.len() as u64;
        AE_STATS
            .slots_compared
            .fetch_add(m.compared, Ordering::Relaxed);
        AE_STATS
            .slots_differing
            .fetch_add(m.differing, Ordering::Relaxed);
        if differing.is_empty() {
            return Ok(());
        }
        tracing::warn!(
            "anti-entropy: {} slot(s) differ on the member at {addr} (its applied index {theirs_at}, ours {applied}): {:?}",
            differing.len(),
            &differing[..differing.len().min(16)]
        );
        for chunk in differing.chunks(64) {
            let AeReply::SlotRecords { slots, .. } = ae_call(
                addr,
                pw,
                &AeRequest::SlotRecords {
                    slots: chunk.to_vec(),
                    at_least: theirs_at,
                },
            )
            .await?
            else {
                return Err("unexpected reply to SlotRecords".into());
            };
            let repairs = self.plan_repairs(slots)?;
            m.repaired += self.propose_repairs(repairs).await?;
        }
        AE_STATS
            .keys_repaired
            .fetch_add(m.repaired, Ordering::Relaxed);
        Ok(())
    }

    /// The keys to rewrite in each slot whose records differ from the member's, with
    /// the leader's records of them, when both sides still describe the same history.
    #[allow(clippy::type_complexity)]
    fn plan_repairs(
        &self,
        slots: Vec<(u16, (u64, u64, u64), Vec<(Vec<u8>, u64)>)>,
    ) -> Result<Vec<RepairSlot>, String> {
        let mut out = Vec::new();
        for (slot, theirs_d, theirs) in slots {
            let (d, mine) = self.storage.slot_records(slot).map_err(|e| e.to_string())?;
            if d.last_index != theirs_d.2 {
                continue; // changed since: a later round
            }
            let mine: BTreeMap<Vec<u8>, u64> = mine.into_iter().collect();
            let theirs: BTreeMap<Vec<u8>, u64> = theirs.into_iter().collect();
            let mut differ: Vec<Vec<u8>> = Vec::new();
            for (k, h) in &mine {
                if theirs.get(k) != Some(h) {
                    differ.push(k.clone());
                }
            }
            for k in theirs.keys() {
                if !mine.contains_key(k) {
                    differ.push(k.clone());
                }
            }
            if differ.is_empty() {
                continue;
            }
            // The leader's records of those keys, read at one point.
            let snap = self.storage.snapshot();
            let now = super::now_ms();
            let mut keys_out = Vec::with_capacity(differ.len());
            for raw in differ {
                let Some((db, _, key)) = keys::decode_meta_key(&raw) else {
                    continue;
                };
                let value = dump_with_expiry(&snap, now, db, key);
                keys_out.push(RepairKey {
                    db,
                    key: key.to_vec(),
                    value,
                });
            }
            out.push(RepairSlot {
                slot,
                last_index: d.last_index,
                keys: keys_out,
            });
        }
        Ok(out)
    }

    /// Proposes the repairs in entries of at most about 512 keys; the number of keys
    /// rewritten.
    async fn propose_repairs(&self, repairs: Vec<RepairSlot>) -> Result<u64, String> {
        let mut done = 0u64;
        let mut batch: Vec<RepairSlot> = Vec::new();
        let mut n = 0;
        let flush = |batch: Vec<RepairSlot>| async move {
            if batch.is_empty() {
                return Ok(0);
            }
            match self.write(vec![Op::Repair { slots: batch }]).await {
                Ok((_, replies)) => match replies.into_iter().next() {
                    Some(engine::Frame::Integer(k)) => Ok(k as u64),
                    Some(engine::Frame::Error(e)) => Err(e),
                    _ => Ok(0),
                },
                Err(e) => Err(format!("{e:?}")),
            }
        };
        for r in repairs {
            n += r.keys.len();
            batch.push(r);
            if n >= REPAIR_KEYS_PER_ENTRY {
                done += flush(std::mem::take(&mut batch)).await?;
                n = 0;
            }
        }
        done += flush(batch).await?;
        Ok(done)
    }

    /// Background: every node scrubs a few slots a second; the leader runs a round
    /// every `MERIDIAN_AE_SECS` (default 60) seconds.
    pub(super) async fn ae_loop(node: Weak<Node>) {
        let every = round_every();
        let mut next_slot: u16 = 0;
        let mut since_round = 0u64;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let Some(n) = node.upgrade() else { return };
            let st = n.storage.clone();
            let from = next_slot;
            let fixed = tokio::task::spawn_blocking(move || {
                let mut fixed = 0u64;
                for i in 0..SCRUB_PER_SECOND {
                    let slot = (from as usize + i as usize) % keys::SLOTS;
                    if st.scrub_slot(slot as u16).unwrap_or(false) {
                        fixed += 1;
                    }
                }
                fixed
            })
            .await
            .unwrap_or(0);
            next_slot = ((next_slot as usize + SCRUB_PER_SECOND as usize) % keys::SLOTS) as u16;
            AE_STATS
                .scrub_slots
                .fetch_add(SCRUB_PER_SECOND as u64, Ordering::Relaxed);
            AE_STATS.scrub_fixed.fetch_add(fixed, Ordering::Relaxed);
            since_round += 1;
            if every > 0 && since_round >= every && n.is_leader() {
                since_round = 0;
                if let Err(e) = n.ae_round(false).await {
                    tracing::debug!("anti-entropy round: {e}");
                }
            }
        }
    }
}

/// One anti-entropy RPC to a member's cluster address.
pub async fn ae_call(addr: &str, password: &str, req: &AeRequest) -> Result<AeReply, String> {
    let ch = crate::network::channel(addr).map_err(|e| e.to_string())?;
    ae_call_on(ch, addr, password, req, Duration::from_secs(120)).await
}

/// [`ae_call`] over an existing channel, with a time limit.
pub(crate) async fn ae_call_on(
    ch: tonic::transport::Channel,
    addr: &str,
    password: &str,
    req: &AeRequest,
    limit: Duration,
) -> Result<AeReply, String> {
    let mut c = crate::network::client(ch);
    let mut env = crate::network::envelope(req);
    env.auth = crate::network::cluster_token(password);
    let reply = tokio::time::timeout(limit, c.anti_entropy(env))
        .await
        .map_err(|_| format!("{addr} did not answer in time"))?
        .map_err(|s| s.message().to_string())?;
    let res: Result<AeReply, String> =
        crate::network::open(&reply.into_inner()).map_err(|e| e.to_string())?;
    res
}
