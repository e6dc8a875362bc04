//! The simulated network: every Raft RPC, forwarded write and read-index request between
//! nodes goes through [`Net::call`], which delays, drops and partitions it with choices
//! drawn from the run's seeded RNG, on the simulated (paused tokio) clock.
//!
//! A message is delivered by a task of its own after its delay, so a slow message can
//! arrive after its sender gave up (timed out) and after later messages: that is the
//! reordering. A partition is checked when a message arrives and again when its reply
//! arrives (a link can be cut while a request is in flight).

use crate::trace::Trace;
use consensus::testkit::{Proposer, SnapshotDir};
use consensus::TypeConfig;
use openraft::error::{
    Fatal, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed, StreamingError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Raft, Snapshot, Vote};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// What the network reaches on a live node.
pub struct NodeHandle {
    pub id: u64,
    pub incarnation: u64,
    pub raft: Raft<TypeConfig>,
    pub proposer: Proposer,
    pub applied: watch::Receiver<u64>,
    /// Where received snapshots are written (the node's `snapshots` directory).
    pub snapshot_root: PathBuf,
}

/// The network's fault settings (the nemesis changes them).
#[derive(Clone, Debug)]
pub struct Weather {
    /// Each message (request or reply) is lost with this probability, per mille.
    pub drop_per_mille: u32,
    /// One-way delay in ms: usually in `delay`, with `slow_per_mille` in `slow`.
    pub delay: (u64, u64),
    pub slow_per_mille: u32,
    pub slow: (u64, u64),
}

impl Weather {
    pub fn calm() -> Weather {
        Weather {
            drop_per_mille: 0,
            delay: (1, 5),
            slow_per_mille: 0,
            slow: (20, 120),
        }
    }
}

struct State {
    rng: StdRng,
    nodes: BTreeMap<u64, Arc<NodeHandle>>,
    /// Directed links that lose everything.
    cut: BTreeSet<(u64, u64)>,
    weather: Weather,
    staged: u64,
}

pub struct Net {
    state: Mutex<State>,
    pub trace: Arc<Trace>,
    /// Where snapshots in flight are staged (copied at send time).
    staging: PathBuf,
}

/// Why a call got no reply.
#[derive(Debug)]
pub enum Lost {
    /// The target is not running (refused at once).
    Down,
    /// No reply within the caller's time limit (lost, cut or slow).
    Timeout,
}

impl Net {
    pub fn new(rng: StdRng, trace: Arc<Trace>, staging: PathBuf) -> Arc<Net> {
        std::fs::create_dir_all(&staging).expect("staging dir");
        Arc::new(Net {
            state: Mutex::new(State {
                rng,
                nodes: BTreeMap::new(),
                cut: BTreeSet::new(),
                weather: Weather::calm(),
                staged: 0,
            }),
            trace,
            staging,
        })
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn register(&self, h: Arc<NodeHandle>) {
        self.st().nodes.insert(h.id, h);
    }

    pub fn unregister(&self, id: u64) -> Option<Arc<NodeHandle>> {
        self.st().nodes.remove(&id)
    }

    pub fn node(&self, id: u64) -> Option<Arc<NodeHandle>> {
        self.st().nodes.get(&id).cloned()
    }

    pub fn set_weather(&self, w: Weather) {
        self.trace.event(format!("weather {w:?}"));
        self.st().weather = w;
    }

    /// Cuts every link between `side` and the other nodes of `all` (both directions).
    pub fn partition(&self, side: &[u64], all: &[u64]) {
        self.trace
            .event(format!("partition {side:?} | rest of {all:?}"));
        let mut st = self.st();
        for a in side {
            for b in all.iter().filter(|b| !side.contains(b)) {
                st.cut.insert((*a, *b));
                st.cut.insert((*b, *a));
            }
        }
    }

    pub fn heal(&self) {
        self.trace.event("heal".into());
        self.st().cut.clear();
    }

    /// The fate of one message on `from -> to`: Some(delay) or None (lost).
    fn fate(&self, from: u64, to: u64) -> Option<Duration> {
        let mut st = self.st();
        let w = st.weather.clone();
        let lost = st.rng.gen_range(0..1000) < w.drop_per_mille;
        let (lo, hi) = if st.rng.gen_range(0..1000) < w.slow_per_mille {
            w.slow
        } else {
            w.delay
        };
        let d = st.rng.gen_range(lo..=hi);
        (!lost && !st.cut.contains(&(from, to))).then(|| Duration::from_millis(d))
    }

    fn link_open(&self, from: u64, to: u64) -> bool {
        !self.st().cut.contains(&(from, to))
    }

    /// Sends a request `from -> to` and waits up to `ttl` for the reply. `handle` runs on
    /// the target (the receiving node's side) when the request arrives.
    pub async fn call<Resp, F, Fut>(
        self: &Arc<Self>,
        from: u64,
        to: u64,
        kind: &'static str,
        ttl: Duration,
        handle: F,
    ) -> Result<Resp, Lost>
    where
        Resp: Send + 'static,
        F: FnOnce(Arc<NodeHandle>) -> Fut + Send + 'static,
        Fut: Future<Output = Resp> + Send,
    {
        let deadline = tokio::time::Instant::now() + ttl;
        let Some(target) = self.node(to) else {
            tokio::time::sleep(Duration::from_millis(1)).await;
            return Err(Lost::Down);
        };
        let there = self.fate(from, to);
        let back = self.fate(to, from);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let net = self.clone();
        let sender = self.node(from).map(|h| h.incarnation);
        tokio::spawn(async move {
            let Some(d) = there else {
                net.trace.event(format!("lost {kind} {from}->{to}"));
                return;
            };
            tokio::time::sleep(d).await;
            // Arrives only at the incarnation it was sent to, over a link still open.
            let alive = net.node(to).map(|h| h.incarnation) == Some(target.incarnation);
            if !alive || !net.link_open(from, to) {
                net.trace
                    .event(format!("lost {kind} {from}->{to} on arrival"));
                return;
            }
            net.trace.event(format!("deliver {kind} {from}->{to}"));
            let resp = handle(target).await;
            let Some(d) = back else {
                net.trace.event(format!("lost reply {kind} {to}->{from}"));
                return;
            };
            tokio::time::sleep(d).await;
            let sender_alive = net.node(from).map(|h| h.incarnation) == sender;
            if !sender_alive || !net.link_open(to, from) {
                net.trace
                    .event(format!("lost reply {kind} {to}->{from} on arrival"));
                return;
            }
            let _ = tx.send(resp);
        });
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(r)) => Ok(r),
            // Lost on the way: the caller only notices when its time is up.
            _ => {
                tokio::time::sleep_until(deadline).await;
                Err(Lost::Timeout)
            }
        }
    }

    /// Copies a snapshot directory now (the sender may replace it before the copy would
    /// arrive) into the staging area; returns the copy.
    fn stage(&self, src: &std::path::Path) -> std::io::Result<PathBuf> {
        let n = {
            let mut st = self.st();
            st.staged += 1;
            st.staged
        };
        let dst = self.staging.join(format!("snap-{n}"));
        // Only the checkpoint's files travel (the gRPC stream sends `db/` alone): the
        // sender's `meta.bin` must not arrive, or the receiver would take a snapshot it
        // never installed for its own at its next start.
        copy_tree(&src.join("db"), &dst.join("db"))?;
        Ok(dst)
    }
}

pub fn copy_tree(src: &std::path::Path, dst: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    let mut ents: Vec<_> = std::fs::read_dir(src)?.flatten().collect();
    ents.sort_by_key(|e| e.file_name());
    for e in ents {
        let p = e.path();
        let to = dst.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &to)?;
        } else {
            std::fs::copy(&p, &to)?;
        }
    }
    Ok(())
}

/// The openraft network factory of node `from`.
pub struct SimNetwork {
    pub from: u64,
    pub net: Arc<Net>,
}

pub struct SimPeer {
    from: u64,
    to: u64,
    net: Arc<Net>,
}

impl RaftNetworkFactory<TypeConfig> for SimNetwork {
    type Network = SimPeer;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> SimPeer {
        SimPeer {
            from: self.from,
            to: target,
            net: self.net.clone(),
        }
    }
}

type RpcErr = RPCError<u64, BasicNode, RaftError<u64>>;

fn lost_err(l: Lost) -> RpcErr {
    match l {
        Lost::Down => RPCError::Unreachable(Unreachable::new(&std::io::Error::other("node down"))),
        Lost::Timeout => {
            RPCError::Network(NetworkError::new(&std::io::Error::other("rpc timed out")))
        }
    }
}

impl RaftNetwork<TypeConfig> for SimPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RpcErr> {
        let to = self.to;
        let r = self
            .net
            .call(
                self.from,
                to,
                "append",
                option.hard_ttl(),
                move |h| async move { h.raft.append_entries(rpc).await },
            )
            .await
            .map_err(lost_err)?;
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(to, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RpcErr> {
        let to = self.to;
        let r = self
            .net
            .call(
                self.from,
                to,
                "vote",
                option.hard_ttl(),
                move |h| async move { h.raft.vote(rpc).await },
            )
            .await
            .map_err(lost_err)?;
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(to, e)))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<u64>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
        let net_err = |e: &dyn std::fmt::Display| {
            StreamingError::Network(NetworkError::new(&std::io::Error::other(e.to_string())))
        };
        let staged = self
            .net
            .stage(&snapshot.snapshot.path)
            .map_err(|e| net_err(&e))?;
        let meta = snapshot.meta.clone();
        let to = self.to;
        let call = self.net.call(
            self.from,
            to,
            "snapshot",
            Duration::from_secs(30),
            move |h| async move {
                // What the gRPC service does with a received stream: the files land in
                // the receiver's snapshot directory, then openraft installs them.
                let dir = h
                    .snapshot_root
                    .join(format!("received-{}", meta.snapshot_id));
                let _ = std::fs::remove_dir_all(&dir);
                if let Err(e) = std::fs::rename(&staged, &dir) {
                    return Err(e.to_string());
                }
                let snap = Snapshot {
                    meta,
                    snapshot: Box::new(SnapshotDir { path: dir }),
                };
                h.raft
                    .install_full_snapshot(vote, snap)
                    .await
                    .map_err(|e| e.to_string())
            },
        );
        tokio::select! {
            biased;
            closed = cancel => Err(StreamingError::Closed(closed)),
            r = call => match r {
                Err(l) => Err(net_err(&format!("{l:?}"))),
                Ok(Err(e)) => Err(net_err(&e)),
                Ok(Ok(resp)) => Ok(resp),
            }
        }
    }
}
