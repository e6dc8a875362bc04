//! Start-up: the node's configuration, opening storage, building Raft, serving the
//! cluster (gRPC) port, forming or joining the group, and spawning the proposer and
//! the expirer once the node may serve.

use super::{admin_call, now_ms, AdminRequest, Node};
use crate::log_store::LogStore;
use crate::network::Network;
use crate::state_machine::StateMachine;
use engine::Tier;
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use storage::{GroupCommit, Storage};
use tokio::sync::mpsc;

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
    /// Where applied log entries are archived for point-in-time restore (`archive.rs`);
    /// None: no archive. While archiving, log entries are deleted only once archived.
    pub log_archive: Option<PathBuf>,
    /// Seconds a read replica goes without hearing the primary's leader before it
    /// promotes its own region (`failover.rs`); 0: never (the operator runs
    /// `meridian cluster promote-region`).
    pub auto_promote_after: u64,
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
            log_archive: None,
            auto_promote_after: 0,
        }
    }
}

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
        crate::network::set_link_password(cfg.password.as_deref());
        if let Some(listen) = cfg.cluster_listen {
            crate::tls::set_source(listen.ip());
        }
        let t0 = std::time::Instant::now();
        // A deposed node rejoining the promoted group: its data goes, it joins as a
        // read replica (failover.rs).
        let mut cfg = cfg;
        let rejoin = super::failover::rejoin_marker(&cfg.data_dir)?;
        if let Some(r) = &rejoin {
            tracing::warn!(
                "rejoining epoch {} (region {} promoted) as a read replica through {}",
                r.failover.epoch,
                r.failover.region,
                r.join
            );
            super::failover::wipe_for_rejoin(&cfg.data_dir)?;
            cfg.replica = true;
            cfg.join = Some(r.join.clone());
            cfg.initial_cluster.clear();
        }
        let storage = Storage::open(&cfg.data_dir.join("db"), cfg.cache_bytes)?;
        super::failover::load_epoch(&storage)?;
        // The seed of a promoted region rewrites its Raft state before Raft starts.
        let promoted = super::failover::promote_marker(&cfg.data_dir)?;
        if let Some(m) = &promoted {
            if super::failover::epoch() < m.failover.epoch {
                super::failover::reform_storage(&storage, cfg.id, m)?;
            }
        }
        tracing::info!("storage opened in {} ms", t0.elapsed().as_millis());
        let gc = Arc::new(GroupCommit::start(storage.clone()));
        let archived = match &cfg.log_archive {
            Some(dir) => Some(Arc::new(AtomicU64::new(crate::archive::last_index(dir)?))),
            None => None,
        };
        let log = LogStore::new(storage.clone(), gc).with_archive(archived.clone());
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
        let contacts = Arc::new(crate::network::Contacts::default());
        let network = Network {
            contacts: contacts.clone(),
        };
        let raft = Raft::new(cfg.id, Arc::new(config), network, log, sm).await?;
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
            forward_seq: AtomicU64::new(now_ms() << 16),
            links: Default::default(),
            contacts,
            heard_from_leader: AtomicU64::new(0),
            deposed: Default::default(),
        });
        if let Some(listen) = cfg.cluster_listen {
            serve_cluster(node.clone(), listen).await?;
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
        if rejoin.is_some() {
            super::failover::remove_rejoin_marker(&cfg.data_dir);
        }
        if let Some(m) = promoted {
            tokio::spawn(Self::after_promotion(Arc::downgrade(&node), m));
        }
        tokio::spawn(Self::epoch_loop(Arc::downgrade(&node)));
        if node.cfg.auto_promote_after > 0 {
            tokio::spawn(Self::auto_promote_loop(Arc::downgrade(&node)));
        }
        tokio::spawn(Self::propose_loop(
            node.raft.clone(),
            prx,
            super::write::Stamp::wall(),
        ));
        tokio::spawn(Self::register_region(Arc::downgrade(&node)));
        tokio::spawn(Self::ae_loop(Arc::downgrade(&node)));
        tokio::spawn(Self::expire_loop(Arc::downgrade(&node)));
        tokio::spawn(Self::evict_loop(Arc::downgrade(&node)));
        if let (Some(dir), Some(archived)) = (cfg.log_archive.clone(), archived) {
            tokio::spawn(crate::archive::archive_loop(
                Arc::downgrade(&node),
                dir,
                archived,
            ));
        }
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
                Ok(_) => {
                    self.check_round_trip(join).await;
                    return Ok(());
                }
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::info!("joining through {join}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => anyhow::bail!("could not join through {join}: {e}"),
            }
        }
    }
}

impl Node {
    /// Warns when the round trip to the member this replica joined through is longer
    /// than the heartbeat: openraft 0.9 gives each AppendEntries one heartbeat interval
    /// to complete, so such a replica would never receive the log (the leader logs "rpc
    /// timed out" for it). Every node should then run with a larger `--heartbeat` (and an
    /// election timeout above it).
    async fn check_round_trip(&self, addr: &str) {
        let pw = self.cfg.password.clone().unwrap_or_default();
        let mut best = None;
        for _ in 0..3 {
            let t0 = std::time::Instant::now();
            if admin_call(addr, &pw, &AdminRequest::Status).await.is_ok() {
                let ms = t0.elapsed().as_millis() as u64;
                best = Some(best.map_or(ms, |b: u64| b.min(ms)));
            }
        }
        if let Some(rtt) = best {
            if rtt * 5 >= self.cfg.heartbeat_ms * 4 {
                tracing::warn!(
                    "the round trip to {addr} is {rtt} ms, close to or above the heartbeat ({} ms): the leader gives each log shipment one heartbeat to complete, so this replica may not receive the log; run every node with --heartbeat above the largest round trip (e.g. --heartbeat {} --election-timeout {}-{})",
                    self.cfg.heartbeat_ms,
                    (rtt * 2).max(100),
                    (rtt * 8).max(1000),
                    (rtt * 16).max(2000)
                );
            } else {
                tracing::info!(
                    "round trip to {addr}: {rtt} ms (heartbeat {} ms)",
                    self.cfg.heartbeat_ms
                );
            }
        }
    }
}

/// Binds the cluster port and serves the gRPC service (`crate::service`) on it.
async fn serve_cluster(node: Arc<Node>, listen: std::net::SocketAddr) -> anyhow::Result<()> {
    let svc = crate::service::server(node);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen} (cluster): {e}"))?;
    // Accepted here rather than by tonic: serve_with_incoming does not apply tonic's
    // tcp_nodelay to accepted sockets (without it every small Raft message waits for
    // Nagle: writes through a follower were 8x slower at one client), and with
    // --tls-cluster each connection's mutual-TLS handshake runs in its own task, so a
    // slow or refused peer holds up no one.
    let (tx, rx) = tokio::sync::mpsc::channel::<
        std::io::Result<crate::tls::MaybeTls<tokio::net::TcpStream>>,
    >(64);
    tokio::spawn(async move {
        loop {
            let (s, peer) = match listener.accept().await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("cluster accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = s.set_nodelay(true);
            let tx = tx.clone();
            let acceptor = crate::tls::cluster_acceptor();
            tokio::spawn(async move {
                match crate::tls::MaybeTls::accept(s, acceptor).await {
                    Ok(io) => {
                        let _ = tx.send(Ok(io)).await;
                    }
                    Err(e) => tracing::warn!("cluster link from {peer} refused: TLS: {e}"),
                }
            });
        }
    });
    tokio::spawn(async move {
        let incoming = tokio_stream::wrappers::ReceiverStream::new(rx);
        if let Err(e) = tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(incoming)
            .await
        {
            tracing::error!("cluster service stopped: {e}");
        }
    });
    Ok(())
}
