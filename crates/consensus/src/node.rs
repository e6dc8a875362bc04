//! A node of the Raft group: starts Raft over RocksDB, batches writes into log
//! entries (group commit across connections), serves local reads, runs the expirer.

use crate::log_store::LogStore;
use crate::network::Network;
use crate::state_machine::StateMachine;
use crate::types::{Op, Request, TypeConfig};
use engine::{Frame, Txn};
use openraft::error::ClientWriteError;
use openraft::{BasicNode, Config, Raft, ServerState, SnapshotPolicy};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use storage::{GroupCommit, Storage};
use tokio::sync::{mpsc, oneshot, watch};

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub id: u64,
    pub data_dir: PathBuf,
    /// Address other members would use to reach this node (recorded in membership).
    pub advertise: String,
    pub cache_bytes: usize,
    pub election_timeout_ms: (u64, u64),
    pub heartbeat_ms: u64,
    /// Entries between snapshots (after which older log entries are purged).
    pub snapshot_every: u64,
}

impl NodeConfig {
    pub fn single(data_dir: PathBuf) -> NodeConfig {
        NodeConfig {
            id: 1,
            data_dir,
            advertise: "127.0.0.1:0".into(),
            cache_bytes: 256 << 20,
            election_timeout_ms: (150, 300),
            heartbeat_ms: 50,
            snapshot_every: 200_000,
        }
    }
}

/// Why a write has no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// Definitely not applied (e.g. this node is not the leader and nothing was proposed).
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

struct Proposal {
    ops: Vec<Op>,
    tx: oneshot::Sender<Result<(u64, Vec<Frame>), WriteError>>,
}

pub struct Node {
    pub id: u64,
    pub raft: Raft<TypeConfig>,
    pub storage: Arc<Storage>,
    proposals: mpsc::Sender<Proposal>,
    applied: watch::Receiver<u64>,
}

/// Wall clock in unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The most ops one log entry carries; a burst beyond it spills into the next entry.
const MAX_OPS_PER_ENTRY: usize = 4096;
const MAX_BYTES_PER_ENTRY: usize = 16 << 20;
/// Entries submitted to Raft and not yet answered. Measured with redis-benchmark -c 50:
/// 1 gives the largest entries and the best throughput (1: 25k SET/s, 2: 18k, 4: 16k),
/// because openraft 0.9 appends and fsyncs one entry at a time anyway.
/// `MERIDIAN_IN_FLIGHT` overrides it for experiments.
const IN_FLIGHT: usize = 1;

impl Node {
    /// Opens storage, starts Raft, initializes a new single-member group if the data
    /// dir is fresh, and returns once this node leads and has applied its whole log.
    pub async fn start(cfg: NodeConfig) -> anyhow::Result<Arc<Node>> {
        std::fs::create_dir_all(&cfg.data_dir)?;
        let t0 = std::time::Instant::now();
        let storage = Storage::open(&cfg.data_dir.join("db"), cfg.cache_bytes)?;
        tracing::info!("storage opened in {} ms", t0.elapsed().as_millis());
        let gc = Arc::new(GroupCommit::start(storage.clone()));
        let log = LogStore::new(storage.clone(), gc);
        let (sm, applied) = StateMachine::open(storage.clone(), cfg.data_dir.join("snapshots"))?;
        let config = Config {
            cluster_name: "meridian".into(),
            election_timeout_min: cfg.election_timeout_ms.0,
            election_timeout_max: cfg.election_timeout_ms.1,
            heartbeat_interval: cfg.heartbeat_ms,
            install_snapshot_timeout: 60_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_every),
            max_in_snapshot_log_to_keep: 1000,
            ..Default::default()
        }
        .validate()?;
        let raft = Raft::new(cfg.id, Arc::new(config), Network, log, sm).await?;
        if !raft.is_initialized().await? {
            let mut members = BTreeMap::new();
            members.insert(
                cfg.id,
                BasicNode {
                    addr: cfg.advertise.clone(),
                },
            );
            raft.initialize(members).await?;
        }
        tracing::info!("raft started in {} ms", t0.elapsed().as_millis());
        raft.wait(Some(Duration::from_secs(30)))
            .state(ServerState::Leader, "become leader")
            .await?;
        tracing::info!("leader after {} ms", t0.elapsed().as_millis());
        // The leader's first entry is committed and everything before it applied: no
        // read after a restart can see less than what was acknowledged.
        raft.ensure_linearizable().await?;
        tracing::info!("log applied after {} ms", t0.elapsed().as_millis());

        let (ptx, prx) = mpsc::channel(65536);
        let node = Arc::new(Node {
            id: cfg.id,
            raft,
            storage,
            proposals: ptx,
            applied,
        });
        tokio::spawn(Self::propose_loop(node.raft.clone(), prx));
        tokio::spawn(Self::expire_loop(Arc::downgrade(&node)));
        Ok(node)
    }

    /// Proposes `ops` as (part of) one log entry; returns the entry's index (the sync
    /// token) and one reply per op, after the entry is durable and applied.
    pub async fn write(&self, ops: Vec<Op>) -> Result<(u64, Vec<Frame>), WriteError> {
        let (tx, rx) = oneshot::channel();
        self.proposals
            .send(Proposal { ops, tx })
            .await
            .map_err(|_| WriteError::NotApplied("node is shutting down".into()))?;
        rx.await
            .map_err(|_| WriteError::Unknown("node stopped before replying".into()))?
    }

    /// Runs a read-only command against this node's state machine (a point-in-time view).
    pub fn read(&self, db: u8, argv: &[Vec<u8>]) -> Frame {
        // A read of one key's meta record is atomic on its own; anything that reads
        // several records (several keys, or a collection's meta plus elements) gets a
        // point-in-time snapshot so it never sees half of an entry.
        let single_record = engine::lookup(&argv[0]).is_some_and(|spec| {
            matches!(
                spec.group,
                "string" | "bitmap" | "generic" | "connection" | "server"
            ) && spec.key_positions(argv).len() <= 1
        });
        if single_record {
            Txn::read_only(&*self.storage, now_ms(), rand::random()).run(db, argv)
        } else {
            let snap = self.storage.snapshot();
            Txn::read_only(&snap, now_ms(), rand::random()).run(db, argv)
        }
    }

    /// Index of the last entry applied to this node's state machine.
    pub fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until this node has applied at least `index` (read-your-writes).
    pub async fn wait_applied(&self, index: u64) {
        let mut rx = self.applied.clone();
        let _ = rx.wait_for(|&a| a >= index).await;
    }

    pub fn metrics(&self) -> openraft::RaftMetrics<u64, BasicNode> {
        self.raft.metrics().borrow().clone()
    }

    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }

    /// Drains the proposal queue into entries: everything queued while earlier entries
    /// were in flight goes into the next one. openraft 0.9 appends (and fsyncs) one
    /// entry at a time, so batching happens here: at most `IN_FLIGHT` entries are
    /// submitted and unanswered at once, and whatever arrives meanwhile shares the next
    /// entry and its fsync. Entries are submitted in order, so per-connection order holds.
    async fn propose_loop(raft: Raft<TypeConfig>, mut rx: mpsc::Receiver<Proposal>) {
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
            last_now = last_now.max(now_ms());
            let mut ops = Vec::with_capacity(n_ops);
            let mut shapes = Vec::with_capacity(batch.len());
            for p in batch {
                shapes.push((p.ops.len(), p.tx));
                ops.extend(p.ops);
            }
            let req = Request {
                now_ms: last_now,
                seed: rand::random(),
                ops,
            };
            match raft.client_write_ff(req).await {
                Ok(resp_rx) => {
                    tokio::spawn(async move {
                        let res = match resp_rx.await {
                            Ok(Ok(resp)) => Ok((resp.log_id.index, resp.data.replies)),
                            Ok(Err(ClientWriteError::ForwardToLeader(f))) => {
                                Err(WriteError::NotApplied(format!(
                                    "this node is not the leader (leader: {:?})",
                                    f.leader_id
                                )))
                            }
                            Ok(Err(e)) => Err(WriteError::NotApplied(e.to_string())),
                            Err(_) => Err(WriteError::Unknown(
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

    /// The leader deletes due keys through the log, so every replica expires the same
    /// keys at the same log position.
    async fn expire_loop(node: std::sync::Weak<Node>) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(node) = node.upgrade() else { return };
            if node.raft.metrics().borrow().current_leader != Some(node.id) {
                continue;
            }
            let due = match node.storage.due_expiries(now_ms(), 1000) {
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
            if let Err(e) = node.write(ops).await {
                tracing::debug!("expiry proposal failed: {e:?}");
            }
        }
    }
}

fn op_bytes(ops: &[Op]) -> usize {
    ops.iter()
        .map(|op| match op {
            Op::Cmd { argv, .. } => argv.iter().map(|a| a.len() + 8).sum::<usize>(),
            Op::Expire { due, .. } => due.iter().map(|(_, k)| k.len() + 16).sum(),
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
