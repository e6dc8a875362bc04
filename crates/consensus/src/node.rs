//! A node of the Raft group: starts Raft over RocksDB, batches writes into log
//! entries (group commit across connections), serves local reads, runs the expirer.

use crate::log_store::LogStore;
use crate::network::Network;
use crate::state_machine::StateMachine;
use crate::types::{Op, Request, TypeConfig};
use engine::{Frame, Tier, Txn};
use openraft::error::ClientWriteError;
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
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
    /// Address other members use to reach this node's cluster (gRPC) port.
    pub advertise: String,
    /// Where to listen for node-to-node gRPC; None for a standalone single node.
    pub cluster_listen: Option<std::net::SocketAddr>,
    /// The voters of a new primary region: (id, cluster address). Empty = single node.
    pub initial_cluster: Vec<(u64, String)>,
    /// A read replica (Raft learner) joining through this member's cluster address.
    pub join: Option<String>,
    pub replica: bool,
    pub region: String,
    /// Cluster password (admin RPCs); None when authentication is off.
    pub password: Option<String>,
    pub cache_bytes: usize,
    /// Budget of the memory tier (decoded hot collections).
    pub tier_bytes: usize,
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
            cluster_listen: None,
            initial_cluster: Vec::new(),
            join: None,
            replica: false,
            region: "local".into(),
            password: None,
            cache_bytes: 256 << 20,
            tier_bytes: engine::tier::DEFAULT_BUDGET,
            election_timeout_ms: (150, 300),
            heartbeat_ms: 50,
            snapshot_every: 200_000,
        }
    }
}

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
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MemberStatus {
    pub id: u64,
    pub addr: String,
    pub voter: bool,
    /// Last log index the leader knows this member has (None when not the leader's view).
    pub matched: Option<u64>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ClusterStatus {
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: u64,
    pub applied: u64,
    pub members: Vec<MemberStatus>,
}

struct Proposal {
    ops: Vec<Op>,
    /// (origin node, sequence) of a forwarded request, applied at most once.
    dedupe: Option<(u64, u64)>,
    tx: oneshot::Sender<Result<(u64, Vec<Frame>), WriteError>>,
}

pub struct Node {
    pub id: u64,
    pub raft: Raft<TypeConfig>,
    pub storage: Arc<Storage>,
    /// Decoded hot collections, kept in step by the state machine (see engine::tier).
    pub tier: Arc<Tier>,
    pub cfg: NodeConfig,
    proposals: mpsc::Sender<Proposal>,
    applied: watch::Receiver<u64>,
    /// Sequence of requests this node forwards (ids for at-most-once retries).
    forward_seq: std::sync::atomic::AtomicU64,
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
/// A proposed write not applied within this is reported with an unknown outcome.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

impl Node {
    /// Opens storage, starts Raft and (for clusters) the gRPC service, forms or joins the
    /// group, and returns once this node may serve: it knows a leader and has applied
    /// everything committed when it started (no stale reads after a restart).
    pub async fn start(cfg: NodeConfig) -> anyhow::Result<Arc<Node>> {
        Node::start_with_events(cfg, None).await
    }

    /// Starts the node; applied entries report their touched keys and events to `sink`.
    pub async fn start_with_events(
        cfg: NodeConfig,
        sink: Option<Arc<dyn crate::types::EventSink>>,
    ) -> anyhow::Result<Arc<Node>> {
        std::fs::create_dir_all(&cfg.data_dir)?;
        let t0 = std::time::Instant::now();
        let storage = Storage::open(&cfg.data_dir.join("db"), cfg.cache_bytes)?;
        tracing::info!("storage opened in {} ms", t0.elapsed().as_millis());
        let gc = Arc::new(GroupCommit::start(storage.clone()));
        let log = LogStore::new(storage.clone(), gc);
        let (mut sm, applied) =
            StateMachine::open(storage.clone(), cfg.data_dir.join("snapshots"))?;
        sm.sink = sink;
        let tier = Arc::new(Tier::new(cfg.tier_bytes));
        sm.tier = tier.clone();
        let config = Config {
            cluster_name: "meridian".into(),
            election_timeout_min: cfg.election_timeout_ms.0,
            election_timeout_max: cfg.election_timeout_ms.1,
            heartbeat_interval: cfg.heartbeat_ms,
            install_snapshot_timeout: 600_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_every),
            max_in_snapshot_log_to_keep: 1000,
            ..Default::default()
        }
        .validate()?;
        let raft = Raft::new(cfg.id, Arc::new(config), Network, log, sm).await?;
        let (ptx, prx) = mpsc::channel(65536);
        // Forward sequences start from the clock so a restarted node never reuses an id
        // the leader may still remember.
        let node = Arc::new(Node {
            id: cfg.id,
            raft,
            storage,
            tier,
            cfg: cfg.clone(),
            proposals: ptx,
            applied,
            forward_seq: std::sync::atomic::AtomicU64::new(now_ms() << 16),
        });
        if let Some(listen) = cfg.cluster_listen {
            let svc = crate::service::server(node.clone());
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen} (cluster): {e}"))?;
            tokio::spawn(async move {
                // serve_with_incoming does not apply tonic's tcp_nodelay to accepted
                // sockets; without it every small Raft message waits for Nagle (writes
                // through a follower were 8x slower at one client).
                let incoming = tokio_stream::StreamExt::map(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    |s| {
                        if let Ok(s) = &s {
                            let _ = s.set_nodelay(true);
                        }
                        s
                    },
                );
                if let Err(e) = tonic::transport::Server::builder()
                    .add_service(svc)
                    .serve_with_incoming(incoming)
                    .await
                {
                    tracing::error!("cluster service stopped: {e}");
                }
            });
        }
        let fresh = !node.raft.is_initialized().await?;
        if fresh {
            if node.cfg.replica {
                let join = node
                    .cfg
                    .join
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("--replica needs --join HOST:PORT"))?;
                node.join_as_learner(&join).await?;
            } else {
                let mut members = BTreeMap::new();
                if node.cfg.initial_cluster.is_empty() {
                    members.insert(
                        cfg.id,
                        BasicNode {
                            addr: cfg.advertise.clone(),
                        },
                    );
                } else {
                    for (id, addr) in &node.cfg.initial_cluster {
                        members.insert(*id, BasicNode { addr: addr.clone() });
                    }
                }
                // Every initial voter initializes with the same membership; openraft
                // settles it by election.
                if let Err(e) = node.raft.initialize(members).await {
                    tracing::info!("initialize: {e}");
                }
            }
        }
        tracing::info!("raft started in {} ms", t0.elapsed().as_millis());
        node.wait_ready(Duration::from_secs(120)).await?;
        tracing::info!(
            "ready after {} ms: applied {}",
            t0.elapsed().as_millis(),
            node.applied_index()
        );
        tokio::spawn(Self::propose_loop(node.raft.clone(), prx));
        tokio::spawn(Self::expire_loop(Arc::downgrade(&node)));
        Ok(node)
    }

    /// Waits until a leader is known and this node has applied at least the leader's
    /// read index (a new leader first commits its own blank entry).
    async fn wait_ready(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("no leader could be reached within {limit:?}");
            }
            if self.leader().is_some() {
                match self.read_index().await {
                    Ok(index) => {
                        let wait = self.wait_applied(index);
                        if tokio::time::timeout_at(deadline, wait).await.is_err() {
                            anyhow::bail!("did not catch up to index {index} within {limit:?}");
                        }
                        return Ok(());
                    }
                    Err(e) => tracing::debug!("read index not available yet: {e}"),
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn join_as_learner(&self, join: &str) -> anyhow::Result<()> {
        let req = AdminRequest::AddLearner {
            id: self.id,
            addr: self.cfg.advertise.clone(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match admin_call(join, self.cfg.password.as_deref().unwrap_or(""), &req).await {
                Ok(_) => return Ok(()),
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::info!("joining through {join}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => anyhow::bail!("could not join through {join}: {e}"),
            }
        }
    }

    pub fn snapshot_root(&self) -> PathBuf {
        self.cfg.data_dir.join("snapshots")
    }

    pub fn check_password(&self, given: &str) -> bool {
        match &self.cfg.password {
            None => true,
            Some(p) => {
                let (a, b) = (p.as_bytes(), given.as_bytes());
                let mut diff = (a.len() != b.len()) as u8;
                for i in 0..a.len().max(b.len()) {
                    diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
                }
                diff == 0
            }
        }
    }

    pub fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    pub fn is_leader(&self) -> bool {
        self.leader() == Some(self.id)
    }

    fn member_addr(&self, id: u64) -> Option<String> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        m.membership().get_node(&id).map(|n| n.addr.clone())
    }

    /// Writes go to the leader: proposed here if this node leads, else forwarded over
    /// gRPC. Returns the entry's index (the sync token) and one reply per op.
    pub async fn write(&self, ops: Vec<Op>) -> Result<(u64, Vec<Frame>), WriteError> {
        if self.is_leader() {
            self.check_quorum()?;
            match self.propose(ops.clone()).await {
                // Refused before anything was appended: safe to send to the new leader.
                Err(WriteError::NotApplied(m)) if m.contains("not the leader") => {}
                other => return other,
            }
        }
        self.forward(ops).await
    }

    /// Sends a write to the leader under a fresh request id. If the outcome is unknown
    /// (connection lost, leader changed) the same id is retried against whoever leads
    /// for up to `WRITE_TIMEOUT`; the leader applies an id at most once, so a retry
    /// either applies the write or returns the replies of its first application.
    async fn forward(&self, ops: Vec<Op>) -> Result<(u64, Vec<Frame>), WriteError> {
        let id = (
            self.id,
            self.forward_seq
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        );
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
        let ch =
            crate::network::channel(&addr).map_err(|e| WriteError::NotApplied(e.to_string()))?;
        let mut c = crate::network::client(ch);
        let payload = (id.0, id.1, ops);
        match tokio::time::timeout(WRITE_TIMEOUT, c.forward(crate::network::envelope(&payload)))
            .await
        {
            Err(_) => Err(WriteError::Unknown(format!(
                "leader {leader} did not answer in time"
            ))),
            Ok(Err(status)) => Err(WriteError::Unknown(format!(
                "lost the connection to leader {leader}: {}",
                status.message()
            ))),
            Ok(Ok(reply)) => {
                let res: Result<(u64, Vec<Frame>), WriteError> =
                    crate::network::open(&reply.into_inner()).map_err(WriteError::Unknown)?;
                res
            }
        }
    }

    /// A leader cut off from its majority refuses writes up front instead of letting
    /// them hang: nothing is proposed, so the refusal is definite.
    pub(crate) fn check_quorum(&self) -> Result<(), WriteError> {
        let m = self.raft.metrics().borrow().clone();
        let voters = m.membership_config.membership().voter_ids().count();
        if voters <= 1 {
            return Ok(());
        }
        let limit = self.cfg.election_timeout_ms.1 * 2;
        match m.millis_since_quorum_ack {
            Some(ms) if ms <= limit => Ok(()),
            Some(ms) => Err(WriteError::NotApplied(format!(
                "no quorum: the leader has not heard from a majority of voters for {ms} ms"
            ))),
            // A leader elected a moment ago has no ack yet; its election was a quorum.
            None => Ok(()),
        }
    }

    /// Proposes through this node's own Raft (it must be the leader).
    pub async fn propose(&self, ops: Vec<Op>) -> Result<(u64, Vec<Frame>), WriteError> {
        self.propose_once(ops, None).await
    }

    /// Proposes a forwarded request under its id: a retry of an applied id gets the
    /// first application's replies instead of applying again.
    pub async fn propose_once(
        &self,
        ops: Vec<Op>,
        dedupe: Option<(u64, u64)>,
    ) -> Result<(u64, Vec<Frame>), WriteError> {
        let (tx, rx) = oneshot::channel();
        self.proposals
            .send(Proposal { ops, dedupe, tx })
            .await
            .map_err(|_| WriteError::NotApplied("node is shutting down".into()))?;
        match tokio::time::timeout(WRITE_TIMEOUT, rx).await {
            Err(_) => Err(WriteError::Unknown(format!(
                "not committed within {WRITE_TIMEOUT:?} (quorum lost?); it may still commit"
            ))),
            Ok(r) => r.map_err(|_| WriteError::Unknown("node stopped before replying".into()))?,
        }
    }

    /// The leader's read index: the log index a linearizable read must wait for.
    pub async fn read_index(&self) -> Result<u64, String> {
        let Some(leader) = self.leader() else {
            return Err("no leader".into());
        };
        if leader == self.id {
            return self
                .raft
                .ensure_linearizable()
                .await
                .map(|l| l.map_or(0, |l| l.index))
                .map_err(|e| e.to_string());
        }
        let addr = self.member_addr(leader).ok_or("leader address unknown")?;
        let mut c =
            crate::network::client(crate::network::channel(&addr).map_err(|e| e.to_string())?);
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            c.read_index(crate::network::envelope(&())),
        )
        .await
        .map_err(|_| "read index timed out".to_string())?
        .map_err(|s| s.to_string())?;
        let res: Result<u64, String> = crate::network::open(&reply.into_inner())?;
        res
    }

    /// Executes an admin request here if leader, else on the leader.
    pub async fn admin(&self, req: AdminRequest, auth: &str) -> Result<ClusterStatus, String> {
        if let AdminRequest::Status = req {
            return Ok(self.status());
        }
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
                self.raft
                    .trigger()
                    .elect()
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(self.status());
            }
            _ => {}
        }
        match self.leader() {
            Some(l) if l == self.id => {}
            Some(l) => {
                let addr = self.member_addr(l).ok_or("leader address unknown")?;
                return admin_call(&addr, auth, &req).await;
            }
            None => return Err("no leader".into()),
        }
        let res = match req {
            AdminRequest::AddLearner { id, addr } => self
                .raft
                .add_learner(id, BasicNode { addr }, false)
                .await
                .map(|_| ()),
            AdminRequest::Promote { id } => {
                let ids: std::collections::BTreeSet<u64> = [id].into();
                self.raft
                    .change_membership(openraft::ChangeMembers::AddVoterIds(ids), true)
                    .await
                    .map(|_| ())
            }
            AdminRequest::RemoveNode { id } => {
                let ids: std::collections::BTreeSet<u64> = [id].into();
                let voters: Vec<u64> = self
                    .raft
                    .metrics()
                    .borrow()
                    .membership_config
                    .membership()
                    .voter_ids()
                    .collect();
                let r = if voters.contains(&id) {
                    self.raft
                        .change_membership(
                            openraft::ChangeMembers::RemoveVoters(ids.clone()),
                            false,
                        )
                        .await
                        .map(|_| ())
                } else {
                    Ok(())
                };
                match r {
                    Ok(()) => self
                        .raft
                        .change_membership(openraft::ChangeMembers::RemoveNodes(ids), false)
                        .await
                        .map(|_| ()),
                    Err(e) => Err(e),
                }
            }
            AdminRequest::TransferLeader { id } => return self.transfer_leader(id, auth).await,
            AdminRequest::Status | AdminRequest::PauseElections { .. } | AdminRequest::ElectNow => {
                Ok(())
            }
        };
        res.map_err(|e| e.to_string())?;
        Ok(self.status())
    }

    async fn transfer_leader(&self, target: u64, auth: &str) -> Result<ClusterStatus, String> {
        if target == self.id {
            return Ok(self.status());
        }
        let st = self.status();
        let Some(t) = st.members.iter().find(|m| m.id == target) else {
            return Err(format!("node {target} is not a member"));
        };
        if !t.voter {
            return Err(format!("node {target} is a read replica; promote it first"));
        }
        if t.matched
            .map_or(true, |m| st.last_log_index.saturating_sub(m) > 100)
        {
            return Err(format!(
                "node {target} is behind the leader's log; try again when it has caught up"
            ));
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
        won.map_err(|e| format!("node {target} did not take over: {e}"))?;
        Ok(self.status())
    }

    pub fn status(&self) -> ClusterStatus {
        let m = self.raft.metrics().borrow().clone();
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

    /// The write index of `key` as this node sees it now (0 if absent): WATCH's record.
    pub fn key_write_index(&self, db: u8, key: &[u8]) -> Result<u64, String> {
        Txn::read_only(&*self.storage, now_ms(), 0)
            .key_write_index(db, key)
            .map_err(|e| e.0)
    }

    /// XREAD/XREADGROUP BLOCK: `$` ids replaced by the streams' current last ids, so
    /// re-running the command after a wake-up reads only what arrived since.
    pub fn resolve_block_ids(&self, db: u8, argv: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let snap = self.storage.snapshot();
        let mut t = Txn::read_only(&snap, now_ms(), 0);
        t.db = db;
        engine::resolve_block_ids(&t, argv)
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
            // The tier's generation is read before the snapshot is taken: see engine::tier.
            let generation = self.tier.generation();
            let snap = self.storage.snapshot();
            Txn::read_only(&snap, now_ms(), rand::random())
                .with_tier(&self.tier, generation)
                .run(db, argv)
        }
    }

    /// A replicated setting's value in this node's applied state.
    pub fn setting(&self, s: &engine::settings::Setting) -> u64 {
        s.get(&Txn::read_only(&*self.storage, now_ms(), 0))
            .unwrap_or(s.default)
    }

    /// Runs a write command on a point-in-time view of this node's state and throws its
    /// effects away (engine `Txn::trial`). The leader tries scripts this way before
    /// proposing them: a script that runs away or is killed then never reaches the log.
    /// Blocks for as long as the command runs (call it off the async workers).
    pub fn trial(&self, db: u8, argv: &[Vec<u8>]) -> Frame {
        let snap = self.storage.snapshot();
        let next = self.applied_index() + 1;
        Txn::trial(&snap, next, now_ms(), rand::random()).run(db, argv)
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
            let mut dedupe = Vec::new();
            for p in batch {
                if let Some((origin, seq)) = p.dedupe.filter(|_| !p.ops.is_empty()) {
                    dedupe.push(crate::types::Dedupe {
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
                seed: rand::random(),
                ops,
                dedupe,
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
            if let Err(e) = node.propose(ops).await {
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
            Op::Multi { cmds, watch } => {
                cmds.iter()
                    .map(|(_, argv)| argv.iter().map(|a| a.len() + 8).sum::<usize>())
                    .sum::<usize>()
                    + watch.iter().map(|(_, k, _)| k.len() + 16).sum::<usize>()
            }
            Op::SetConfig { pairs } => pairs.iter().map(|(n, v)| n.len() + v.len() + 16).sum(),
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

/// One admin RPC to a member's cluster address.
pub async fn admin_call(
    addr: &str,
    password: &str,
    req: &AdminRequest,
) -> Result<ClusterStatus, String> {
    let mut c = crate::network::client(crate::network::channel(addr).map_err(|e| e.to_string())?);
    let mut env = crate::network::envelope(req);
    env.auth = password.to_string();
    let reply = tokio::time::timeout(Duration::from_secs(30), c.admin(env))
        .await
        .map_err(|_| format!("{addr} did not answer in time"))?
        .map_err(|s| s.message().to_string())?;
    let res: Result<ClusterStatus, String> = crate::network::open(&reply.into_inner())?;
    res
}
