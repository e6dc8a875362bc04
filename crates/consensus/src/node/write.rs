//! The write path: writes go to the leader, proposed here when this node leads (the
//! proposer batches every connection's writes into log entries: group commit) or
//! forwarded over gRPC under an at-most-once request id.

use super::Node;
use crate::types::{Dedupe, Op, Request, TypeConfig};
use engine::Frame;
use openraft::error::ClientWriteError;
use openraft::Raft;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Why a write has no reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WriteError {
    /// Definitely not applied (e.g. no leader, nothing was proposed).
    NotApplied(String),
    /// Proposed, but the outcome is unknown (leader change or shutdown mid-flight).
    Unknown(String),
}

impl WriteError {
    /// The error text a client sees.
    pub fn to_frame(&self) -> Frame {
        match self {
            WriteError::NotApplied(m) => {
                Frame::Error(format!("CLUSTERDOWN write not applied: {m}"))
            }
            WriteError::Unknown(m) => Frame::Error(format!(
                "UNKNOWN write outcome unknown, it may or may not have been applied: {m}"
            )),
        }
    }
}

/// One caller's ops waiting for the proposer.
pub(super) struct Proposal {
    ops: Vec<Op>,
    /// (origin node, sequence) of a forwarded request, applied at most once.
    dedupe: Option<(u64, u64)>,
    tx: oneshot::Sender<Result<(u64, Vec<Frame>), WriteError>>,
}

/// Where the proposer takes each entry's leader time and seed from: the wall clock and
/// the OS-seeded RNG on a node ([`Stamp::wall`]); the simulated clock and the run's
/// seeded RNG in the deterministic simulation (`tests/sim`).
pub struct Stamp {
    pub now_ms: Box<dyn Fn() -> u64 + Send>,
    pub seed: Box<dyn FnMut() -> u64 + Send>,
}

impl Stamp {
    pub fn wall() -> Stamp {
        Stamp {
            now_ms: Box::new(super::now_ms),
            seed: Box::new(rand::random),
        }
    }
}

/// The proposer without a `Node` around it: the same batching loop over a `Raft`, for
/// the deterministic simulation (`consensus::testkit`).
pub struct Proposer {
    tx: mpsc::Sender<Proposal>,
}

impl Proposer {
    /// Spawns the proposer loop on the current runtime.
    pub fn spawn(raft: Raft<TypeConfig>, stamp: Stamp) -> Proposer {
        let (tx, rx) = mpsc::channel(65536);
        tokio::spawn(Node::propose_loop(raft, rx, stamp));
        Proposer { tx }
    }

    /// Proposes `ops` as (part of) one entry, as `Node::propose` does on the leader.
    pub async fn propose(&self, ops: Vec<Op>) -> Result<(u64, Vec<Frame>), WriteError> {
        submit(&self.tx, ops, None).await
    }
}

/// Queues a proposal and waits for its entry's replies (or the write timeout).
async fn submit(
    tx: &mpsc::Sender<Proposal>,
    ops: Vec<Op>,
    dedupe: Option<(u64, u64)>,
) -> Result<(u64, Vec<Frame>), WriteError> {
    let (rtx, rx) = oneshot::channel();
    tx.send(Proposal {
        ops,
        dedupe,
        tx: rtx,
    })
    .await
    .map_err(|_| WriteError::NotApplied("node is shutting down".into()))?;
    match tokio::time::timeout(WRITE_TIMEOUT, rx).await {
        Err(_) => Err(WriteError::Unknown(format!(
            "not committed within {WRITE_TIMEOUT:?} (quorum lost?); it may still commit"
        ))),
        Ok(r) => r.map_err(|_| WriteError::Unknown("node stopped before replying".into()))?,
    }
}

/// The most ops one log entry carries; a burst beyond it spills into the next entry.
const MAX_OPS_PER_ENTRY: usize = 4096;
const MAX_BYTES_PER_ENTRY: usize = 16 << 20;
/// Entries submitted to Raft and not yet answered. Measured with redis-benchmark -c 50:
/// 1 gives the largest entries and the best throughput (1: 25k SET/s, 2: 18k, 4: 16k),
/// because openraft 0.9 appends and fsyncs one entry at a time anyway.
/// `MERIDIAN_IN_FLIGHT` overrides it for experiments.
const IN_FLIGHT: usize = 1;
/// A proposed write not applied within this is reported with an unknown outcome.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

impl Node {
    /// Writes go to the leader: proposed here if this node leads, else forwarded over
    /// gRPC. Returns the entry's index (the sync token) and one reply per op.
    ///
    /// The write path's spans (`write`, `forward`, `propose`, then `append`, `fsync` and
    /// `apply` below) are at TRACE level: off by default, they cost a cached level check.
    /// `RUST_LOG=consensus=trace,storage=trace` logs each with its duration on close.
    #[tracing::instrument(level = "trace", name = "write", skip_all, fields(ops = ops.len()))]
    pub async fn write(&self, ops: Vec<Op>) -> Result<(u64, Vec<Frame>), WriteError> {
        if let Some(why) = self.deposed_reason() {
            return Err(WriteError::NotApplied(why));
        }
        if self.is_leader() {
            if self.check_quorum()? <= 1 {
                // A group of one voter is never refused as "not the leader" after this
                // check (it cannot lose an election), so no copy is kept for a forward:
                // the copy and its drop were 3 % of a c50 SET profile.
                return self.propose(ops).await;
            }
            match self.propose(ops.clone()).await {
                // Refused before anything was appended: safe to send to the new leader.
                Err(WriteError::NotApplied(m)) if m.contains("not the leader") => {}
                other => return other,
            }
        }
        self.forward(ops).await
    }

    /// A write another node forwarded here (the gRPC `forward` call): proposed under its
    /// request id if this node still leads and hears from a quorum.
    pub(crate) async fn execute_forwarded(
        &self,
        origin: u64,
        seq: u64,
        ops: Vec<Op>,
    ) -> Result<(u64, Vec<Frame>), WriteError> {
        if !self.is_leader() {
            return Err(WriteError::NotApplied(
                "forwarded to a node that is no longer the leader".into(),
            ));
        }
        if let Some(why) = self.deposed_reason() {
            return Err(WriteError::NotApplied(why));
        }
        self.check_quorum()?;
        self.propose_once(ops, Some((origin, seq))).await
    }

    /// Sends a write to the leader under a fresh request id. If the outcome is unknown
    /// (connection lost, leader changed) the same id is retried against whoever leads
    /// for up to `WRITE_TIMEOUT`; the leader applies an id at most once, so a retry
    /// either applies the write or returns the replies of its first application.
    #[tracing::instrument(level = "trace", name = "forward", skip_all)]
    async fn forward(&self, ops: Vec<Op>) -> Result<(u64, Vec<Frame>), WriteError> {
        let id = (self.id, self.forward_seq.fetch_add(1, Ordering::Relaxed));
        let started = tokio::time::Instant::now();
        // Riding out an election takes a few election timeouts; a longer refusal means
        // no quorum, which the client should hear about promptly.
        let refusal_limit = Duration::from_millis(self.cfg.election_timeout_ms.1 * 4);
        let mut sent = false;
        loop {
            let res = self.forward_once(&ops, id).await;
            let retry = match &res {
                Err(WriteError::Unknown(_)) => {
                    sent = true;
                    started.elapsed() < WRITE_TIMEOUT
                }
                // Refused without proposing (no leader yet, stale leader).
                Err(WriteError::NotApplied(_)) => {
                    started.elapsed() < if sent { WRITE_TIMEOUT } else { refusal_limit }
                }
                Ok(_) => false,
            };
            if !retry {
                return match res {
                    // Once a try may have reached the log, a later definite refusal does
                    // not make the outcome definite.
                    Err(WriteError::NotApplied(m)) if sent => Err(WriteError::Unknown(m)),
                    other => other,
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn forward_once(
        &self,
        ops: &[Op],
        id: (u64, u64),
    ) -> Result<(u64, Vec<Frame>), WriteError> {
        let Some(leader) = self.leader() else {
            return Err(WriteError::NotApplied(
                "no leader (election in progress or no quorum)".into(),
            ));
        };
        if leader == self.id {
            self.check_quorum()?;
            return self.propose_once(ops.to_vec(), Some(id)).await;
        }
        let addr = self.member_addr(leader).ok_or_else(|| {
            WriteError::NotApplied(format!("leader {leader} has no known address"))
        })?;
        let ch = self
            .link(&addr)
            .map_err(|e| WriteError::NotApplied(e.to_string()))?;
        let mut c = crate::network::client(ch);
        let payload = (id.0, id.1, ops);
        // A leader that stops answering (paused, cut off) is replaced within a few election
        // timeouts: once this node hears of another leader, the wait ends and `forward`
        // retries the same id there, instead of waiting out the whole WRITE_TIMEOUT.
        let mut metrics = self.raft.metrics();
        let moved = async move {
            loop {
                if metrics.changed().await.is_err() {
                    return std::future::pending::<u64>().await;
                }
                let now = metrics.borrow().current_leader;
                if let Some(l) = now.filter(|l| *l != leader) {
                    return l;
                }
            }
        };
        let call =
            tokio::time::timeout(WRITE_TIMEOUT, c.forward(crate::network::envelope(&payload)));
        let outcome = tokio::select! {
            r = call => r,
            l = moved => {
                self.drop_link(&addr);
                return Err(WriteError::Unknown(format!(
                    "leader {leader} was replaced by {l} before answering"
                )))
            }
        };
        match outcome {
            Err(_) => {
                self.drop_link(&addr);
                Err(WriteError::Unknown(format!(
                    "leader {leader} did not answer in time"
                )))
            }
            Ok(Err(status)) => {
                self.drop_link(&addr);
                Err(WriteError::Unknown(format!(
                    "lost the connection to leader {leader}: {}",
                    status.message()
                )))
            }
            Ok(Ok(reply)) => {
                let res: Result<(u64, Vec<Frame>), WriteError> =
                    crate::network::open(&reply.into_inner())
                        .map_err(|e| WriteError::Unknown(e.to_string()))?;
                res
            }
        }
    }

    /// A leader cut off from its majority refuses writes up front instead of letting
    /// them hang: nothing is proposed, so the refusal is definite.
    /// Returns the number of voters.
    fn check_quorum(&self) -> Result<usize, WriteError> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        match quorum_silent_ms(&m, self.cfg.election_timeout_ms.1 * 2) {
            Some(ms) => Err(WriteError::NotApplied(format!(
                "no quorum: the leader has not heard from a majority of voters for {ms} ms"
            ))),
            None => Ok(m.membership_config.membership().voter_ids().count()),
        }
    }

    /// Proposes through this node's own Raft (it must be the leader).
    pub(super) async fn propose(&self, ops: Vec<Op>) -> Result<(u64, Vec<Frame>), WriteError> {
        self.propose_once(ops, None).await
    }

    /// Proposes a forwarded request under its id: a retry of an applied id gets the
    /// first application's replies instead of applying again.
    #[tracing::instrument(level = "trace", name = "propose", skip_all)]
    async fn propose_once(
        &self,
        ops: Vec<Op>,
        dedupe: Option<(u64, u64)>,
    ) -> Result<(u64, Vec<Frame>), WriteError> {
        submit(&self.proposals, ops, dedupe).await
    }

    /// Drains the proposal queue into entries: everything queued while earlier entries
    /// were in flight goes into the next one. openraft 0.9 appends (and fsyncs) one
    /// entry at a time, so batching happens here: at most `IN_FLIGHT` entries are
    /// submitted and unanswered at once, and whatever arrives meanwhile shares the next
    /// entry and its fsync. Entries are submitted in order, so per-connection order holds.
    pub(super) async fn propose_loop(
        raft: Raft<TypeConfig>,
        mut rx: mpsc::Receiver<Proposal>,
        mut stamp: Stamp,
    ) {
        let in_flight = std::env::var("MERIDIAN_IN_FLIGHT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(IN_FLIGHT);
        let slots = Arc::new(tokio::sync::Semaphore::new(in_flight));
        let mut last_now = 0u64;
        let mut carry: Option<Proposal> = None;
        loop {
            let first = match carry.take() {
                Some(p) => p,
                None => match rx.recv().await {
                    Some(p) => p,
                    None => return,
                },
            };
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let mut batch = vec![first];
            let mut n_ops = batch[0].ops.len();
            let mut bytes = op_bytes(&batch[0].ops);
            while n_ops < MAX_OPS_PER_ENTRY && bytes < MAX_BYTES_PER_ENTRY {
                match rx.try_recv() {
                    Ok(p) => {
                        n_ops += p.ops.len();
                        bytes += op_bytes(&p.ops);
                        batch.push(p);
                    }
                    Err(_) => break,
                }
            }
            if (n_ops > MAX_OPS_PER_ENTRY || bytes > MAX_BYTES_PER_ENTRY) && batch.len() > 1 {
                carry = batch.pop();
            }
            // The leader's clock, never going backwards across entries.
            last_now = last_now.max((stamp.now_ms)());
            let mut ops = Vec::with_capacity(n_ops);
            let mut shapes = Vec::with_capacity(batch.len());
            let mut dedupe = Vec::new();
            for p in batch {
                if let Some((origin, seq)) = p.dedupe.filter(|_| !p.ops.is_empty()) {
                    dedupe.push(Dedupe {
                        start: ops.len() as u32,
                        count: p.ops.len() as u32,
                        origin,
                        seq,
                    });
                }
                shapes.push((p.ops.len(), p.tx));
                ops.extend(p.ops);
            }
            let req = Request {
                now_ms: last_now,
                seed: (stamp.seed)(),
                ops,
                dedupe,
            };
            match raft.client_write_ff(req).await {
                Ok(resp_rx) => {
                    let watched = raft.clone();
                    tokio::spawn(async move {
                        // Bounded: openraft 0.9 can keep an entry's responder forever
                        // (a deposed leader's entry beyond a snapshot it then installs is
                        // purged, neither applied nor truncated), and the held permit
                        // would stop this proposer for good (simulation seed 54). A
                        // leader that loses its quorum or its leadership meanwhile says
                        // so within a few election timeouts instead of the whole timeout.
                        let outcome = tokio::select! {
                            r = tokio::time::timeout(WRITE_TIMEOUT, resp_rx) => r,
                            why = leadership_lost(&watched) => {
                                drop(permit);
                                distribute(shapes, Err(WriteError::Unknown(why)));
                                return;
                            }
                        };
                        let res = match outcome {
                            Err(_) => Err(WriteError::Unknown(format!(
                                "no outcome from raft within {WRITE_TIMEOUT:?}"
                            ))),
                            Ok(Ok(Ok(resp))) => Ok((resp.log_id.index, resp.data.replies)),
                            Ok(Ok(Err(ClientWriteError::ForwardToLeader(f)))) => {
                                Err(WriteError::NotApplied(format!(
                                    "this node is not the leader (leader: {:?})",
                                    f.leader_id
                                )))
                            }
                            Ok(Ok(Err(e))) => Err(WriteError::NotApplied(e.to_string())),
                            Ok(Err(_)) => Err(WriteError::Unknown(
                                "raft stopped before the entry was applied".into(),
                            )),
                        };
                        drop(permit);
                        distribute(shapes, res);
                    });
                }
                Err(fatal) => distribute(shapes, Err(WriteError::Unknown(fatal.to_string()))),
            }
        }
    }
}

/// Resolves once this node, leading when it proposed, no longer leads or has not heard
/// from a majority of voters for two election timeouts: an entry in flight may then
/// never be answered (a new leader may or may not have its copy).
async fn leadership_lost(raft: &Raft<TypeConfig>) -> String {
    let limit = raft.config().election_timeout_max * 2;
    let every = Duration::from_millis((limit / 4).max(10));
    let metrics = raft.metrics();
    loop {
        tokio::time::sleep(every).await;
        let m = metrics.borrow();
        if m.current_leader != Some(m.id) {
            return format!(
                "this node stopped leading (leader now {:?}) before the entry was applied",
                m.current_leader
            );
        }
        if let Some(ms) = quorum_silent_ms(&m, limit) {
            return format!(
                "the leader has not heard from a majority of voters for {ms} ms; the entry may still commit"
            );
        }
    }
}

/// How long a leader with more than one voter has not heard from a majority, when that
/// is longer than `limit_ms` (two election timeouts: it has likely been replaced). None
/// for a single voter, within the limit, or for a leader elected a moment ago (no ack
/// yet; its election was a quorum).
fn quorum_silent_ms(
    m: &openraft::RaftMetrics<u64, openraft::BasicNode>,
    limit_ms: u64,
) -> Option<u64> {
    if m.membership_config.membership().voter_ids().count() <= 1 {
        return None;
    }
    m.millis_since_quorum_ack.filter(|ms| *ms > limit_ms)
}

fn op_bytes(ops: &[Op]) -> usize {
    ops.iter()
        .map(|op| match op {
            Op::Cmd { argv, .. } | Op::CmdAs { argv, .. } => {
                argv.iter().map(|a| a.len() + 8).sum::<usize>()
            }
            Op::Expire { due, .. } => due.iter().map(|(_, k)| k.len() + 16).sum(),
            Op::Multi { cmds, watch } | Op::MultiAs { cmds, watch, .. } => {
                cmds.iter()
                    .map(|(_, argv)| argv.iter().map(|a| a.len() + 8).sum::<usize>())
                    .sum::<usize>()
                    + watch.iter().map(|(_, k, _)| k.len() + 16).sum::<usize>()
            }
            Op::SetConfig { pairs } => pairs.iter().map(|(n, v)| n.len() + v.len() + 16).sum(),
            Op::Evict { keys, .. } => keys.iter().map(|k| k.len() + 8).sum(),
            Op::Restore(crate::types::RestoreStep::Chunk { records, .. }) => {
                records.iter().map(|(_, k, v)| k.len() + v.len() + 24).sum()
            }
            Op::Restore(_) | Op::Region(_) => 64,
            Op::Repair { slots } => slots
                .iter()
                .flat_map(|s| &s.keys)
                .map(|k| k.key.len() + k.value.as_ref().map_or(0, |(v, _)| v.len()) + 24)
                .sum(),
            Op::Merge { keys } => keys
                .iter()
                .map(|k| k.key.len() + k.value.as_ref().map_or(0, |(v, _)| v.len()) + 40)
                .sum(),
        })
        .sum()
}

type Shapes = Vec<(
    usize,
    oneshot::Sender<Result<(u64, Vec<Frame>), WriteError>>,
)>;

fn distribute(shapes: Shapes, res: Result<(u64, Vec<Frame>), WriteError>) {
    match res {
        Ok((index, replies)) => {
            let mut it = replies.into_iter();
            for (n, tx) in shapes {
                let mine: Vec<Frame> = it.by_ref().take(n).collect();
                let _ = tx.send(Ok((index, mine)));
            }
        }
        Err(e) => {
            for (_, tx) in shapes {
                let _ = tx.send(Err(e.clone()));
            }
        }
    }
}
