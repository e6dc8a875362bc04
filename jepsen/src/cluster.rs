//! A cluster of real `meridian` nodes (voters, and read replicas joined as Raft
//! learners) whose node-to-node traffic (and, by default, the test clients' traffic)
//! goes through the fault-injecting proxy.
//!
//! Addresses: a run picks a random loopback /24, `127.A.B.0`, so concurrent runs (and
//! other tests on the machine) do not collide. Node `i` binds `127.A.B.i` (RESP 6379,
//! REST 8080, cluster 7379) and advertises `127.A.B.i:7380` as its cluster address: the
//! proxy's listener in front of it, shared by every peer. Nodes open their cluster
//! connections from their bind address (the server binds the source, as Redis binds
//! its cluster bus), so that listener tells the sender apart by the connection's source
//! address (`127.A.B.j` is node `j`) and applies the faults of `(j → i)`; a connection
//! from any other source is refused (a node whose source binding failed would show as a
//! cluster that cannot form, not as unfaulted traffic). Every voter starts with the
//! same `--initial-cluster`, so membership changes (add/remove a replica, promote,
//! transfer leadership) and snapshot installs keep every link behind the proxy. The
//! clients' links `(0 → i)` listen on `127.A.B.i:7400` (RESP) and `127.A.B.i:7401`
//! (REST).

use crate::proxy::{Endpoint, Net};
use anyhow::{bail, Context};
use rand::Rng;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const RESP_PORT: u16 = 6379;
pub const REST_PORT: u16 = 8080;
pub const CLUSTER_PORT: u16 = 7379;
/// The proxy's listener in front of each node's cluster port (the advertised address).
pub const CLUSTER_PROXY_PORT: u16 = 7380;
/// The clients' RESP link `(0 → i)`.
pub const PROXY_BASE: u16 = 7400;
/// The clients' REST link `(0 → i)`.
pub const REST_PROXY_PORT: u16 = 7401;

/// The `meridian` binary: `MERIDIAN_BIN`, else next to the running executable's profile
/// directory (`target/release/meridian`), else `$HOME/.cache/meridian/target/release`.
pub fn binary() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("MERIDIAN_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let mut candidates = Vec::new();
    for dir in exe.ancestors().skip(1).take(3) {
        candidates.push(dir.join("meridian"));
    }
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(t).join("release/meridian"));
    }
    if let Ok(h) = std::env::var("HOME") {
        candidates.push(PathBuf::from(h).join(".cache/meridian/target/release/meridian"));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .context("meridian binary not found: build it with `cargo build --release -p server` or set MERIDIAN_BIN")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    Running,
    Paused,
    Killed,
    /// Removed from the membership and stopped; never restarted.
    Removed,
}

pub struct NodeProc {
    pub id: u32,
    pub ip: [u8; 4],
    pub dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    pub state: ProcState,
    starts: usize,
    /// A voter (else a read replica, a Raft learner, until promoted).
    pub voter: bool,
    pub region: String,
}

impl NodeProc {
    pub fn resp_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, RESP_PORT))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("node.log")
    }

    fn out_path(&self) -> PathBuf {
        self.dir.join("stdout.log")
    }

    fn spawn(&mut self, bin: &Path, env: &[(String, String)]) -> anyhow::Result<()> {
        let open = |p: PathBuf| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
        };
        let child = Command::new(bin)
            .args(&self.args)
            .env_remove("MERIDIAN_PASSWORD")
            .env("RUST_LOG", "warn,consensus=info,server=info")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::from(open(self.out_path())?))
            .stderr(Stdio::from(open(self.log_path())?))
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        self.child = Some(child);
        self.state = ProcState::Running;
        self.starts += 1;
        Ok(())
    }

    fn count_in(path: &Path, needle: &str) -> usize {
        std::fs::read_to_string(path)
            .map(|s| s.matches(needle).count())
            .unwrap_or(0)
    }

    /// Whether the latest start printed its "ready in" banner.
    pub fn is_ready(&self) -> bool {
        Self::count_in(&self.out_path(), "ready in") >= self.starts
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn signal(&self, sig: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .status();
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.state = ProcState::Killed;
    }

    pub fn pause(&mut self) {
        if self.state == ProcState::Running {
            self.signal("STOP");
            self.state = ProcState::Paused;
        }
    }

    pub fn resume(&mut self) {
        if self.state == ProcState::Paused {
            self.signal("CONT");
            self.state = ProcState::Running;
        }
    }

    /// Has the process exited by itself (a crash)?
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let s = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let v: Vec<&str> = s.lines().collect();
        v[v.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        if self.state == ProcState::Paused {
            self.signal("CONT");
        }
        self.kill9();
    }
}

pub struct Cluster {
    pub net: Net,
    pub nodes: Vec<NodeProc>,
    pub prefix: [u8; 3],
    pub client_proxy: bool,
    bin: PathBuf,
    opts: ClusterOpts,
    /// The members clients may use (RESP and REST addresses), kept up to date as
    /// replicas join and leave (read by the read-your-writes sessions).
    pub targets: crate::session::Targets,
    /// Nodes whose wall clock is shifted (DEBUG SET-CLOCK-OFFSET), by ms.
    pub clock: std::collections::BTreeMap<u32, i64>,
    /// Every clock change: (when, node, offset ms), a restart counting as 0.
    pub clock_log: Vec<(Instant, u32, i64)>,
    /// The node a nemesis step picked for the next one to hit again.
    pub target: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct ClusterOpts {
    /// Voters, nodes 1..=nodes.
    pub nodes: u32,
    pub dir: PathBuf,
    pub bin: PathBuf,
    /// Clients reach each node through the proxy links (0 → i).
    pub client_proxy: bool,
    pub election_timeout: Option<String>,
    pub heartbeat: Option<u64>,
    /// The voters' `--region`.
    pub region: String,
    /// Read replicas started (and joined) with the cluster, by region; they are nodes
    /// nodes+1, nodes+2, ...
    pub replicas: Vec<String>,
    /// More options for every node (e.g. `--snapshot-every 200`).
    pub extra_args: Vec<String>,
    /// Environment for every node (e.g. `MERIDIAN_CLOCK_OFFSET_MS`).
    pub env: Vec<(String, String)>,
}

impl ClusterOpts {
    pub fn new(nodes: u32, dir: PathBuf, bin: PathBuf) -> ClusterOpts {
        ClusterOpts {
            nodes,
            dir,
            bin,
            client_proxy: true,
            election_timeout: None,
            heartbeat: None,
            region: "primary".into(),
            replicas: Vec::new(),
            extra_args: Vec::new(),
            env: Vec::new(),
        }
    }
}

fn dotted(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

impl Cluster {
    pub fn ip(prefix: [u8; 3], last: u8) -> [u8; 4] {
        [prefix[0], prefix[1], prefix[2], last]
    }

    /// Starts the proxy, the voters, then the read replicas, and waits until every node
    /// serves.
    pub async fn start(o: ClusterOpts) -> anyhow::Result<Cluster> {
        let mut last_err = None;
        for _ in 0..3 {
            let mut rng = rand::thread_rng();
            let prefix = [127, rng.gen_range(1..=254), rng.gen_range(1..=254)];
            match Self::try_start(&o, prefix).await {
                Ok(c) => return Ok(c),
                Err(e) => {
                    eprintln!(
                        "cluster start on 127.{}.{}.0/24 failed: {e:#}",
                        prefix[1], prefix[2]
                    );
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.expect("tried"))
    }

    /// The address other nodes reach node `i` at: the proxy's listener in front of it.
    pub fn cluster_addr(&self, i: u32) -> String {
        format!(
            "{}:{CLUSTER_PROXY_PORT}",
            dotted(Self::ip(self.prefix, i as u8))
        )
    }

    /// Node `i`'s own cluster port (admin calls from the test driver, not faulted).
    pub fn direct_cluster_addr(&self, i: u32) -> String {
        format!("{}:{CLUSTER_PORT}", dotted(Self::ip(self.prefix, i as u8)))
    }

    /// Starts the proxy's listeners for node `i`: the cluster listener shared by its
    /// peers (sender told by source address) and the clients' RESP and REST links.
    async fn add_proxy_for(&self, i: u32) -> anyhow::Result<()> {
        let prefix = self.prefix;
        let ip = Self::ip(prefix, i as u8);
        let who: crate::proxy::Resolver = Arc::new(move |src: std::net::IpAddr| match src {
            std::net::IpAddr::V4(v) => {
                let o = v.octets();
                (o[..3] == prefix[..] && o[3] >= 1).then_some(o[3] as u32)
            }
            _ => None,
        });
        self.net
            .add_listener(
                i,
                SocketAddr::from((ip, CLUSTER_PROXY_PORT)),
                SocketAddr::from((ip, CLUSTER_PORT)),
                who,
            )
            .await
            .with_context(|| format!("proxy cluster listener of node {i}"))?;
        if self.client_proxy {
            self.net
                .add_link(
                    0,
                    i,
                    SocketAddr::from((ip, PROXY_BASE)),
                    SocketAddr::from((ip, RESP_PORT)),
                )
                .await
                .with_context(|| format!("client link 0->{i}"))?;
            self.net
                .add_link(
                    0,
                    i,
                    SocketAddr::from((ip, REST_PROXY_PORT)),
                    SocketAddr::from((ip, REST_PORT)),
                )
                .await
                .with_context(|| format!("client REST link 0->{i}"))?;
        }
        Ok(())
    }

    /// The command line of node `i`; `join` makes it a read replica joining through
    /// that cluster address.
    fn node_args(&self, i: u32, region: &str, join: Option<&str>) -> Vec<String> {
        let o = &self.opts;
        let ip = dotted(Self::ip(self.prefix, i as u8));
        let dir = o.dir.join(format!("n{i}"));
        let mut args: Vec<String> = vec![
            "server".into(),
            "--node-id".into(),
            i.to_string(),
            "--bind".into(),
            ip.clone(),
            "--port".into(),
            RESP_PORT.to_string(),
            "--rest-port".into(),
            REST_PORT.to_string(),
            "--cluster-port".into(),
            CLUSTER_PORT.to_string(),
            "--advertise".into(),
            self.cluster_addr(i),
            "--region".into(),
            region.to_string(),
            "--data-dir".into(),
            dir.join("data").display().to_string(),
            "--no-auth".into(),
            "--cache-mb".into(),
            "32".into(),
        ];
        match join {
            Some(j) => args.extend(["--replica".into(), "--join".into(), j.to_string()]),
            None => {
                let view = (1..=o.nodes)
                    .map(|j| format!("{j}={}", self.cluster_addr(j)))
                    .collect::<Vec<_>>()
                    .join(",");
                args.extend(["--initial-cluster".into(), view]);
            }
        }
        if let Some(e) = &o.election_timeout {
            args.extend(["--election-timeout".into(), e.clone()]);
        }
        if let Some(h) = o.heartbeat {
            args.extend(["--heartbeat".into(), h.to_string()]);
        }
        args.extend(o.extra_args.iter().cloned());
        args
    }

    async fn try_start(o: &ClusterOpts, prefix: [u8; 3]) -> anyhow::Result<Cluster> {
        let mut c = Cluster {
            net: Net::new(),
            nodes: Vec::new(),
            prefix,
            client_proxy: o.client_proxy,
            bin: o.bin.clone(),
            opts: o.clone(),
            targets: Default::default(),
            clock: Default::default(),
            clock_log: Vec::new(),
            target: None,
        };
        for i in 1..=o.nodes {
            c.add_proxy_for(i).await?;
        }
        for i in 1..=o.nodes {
            let dir = o.dir.join(format!("n{i}"));
            std::fs::create_dir_all(&dir)?;
            let mut p = NodeProc {
                id: i,
                ip: Self::ip(prefix, i as u8),
                dir,
                args: c.node_args(i, &o.region, None),
                child: None,
                state: ProcState::Killed,
                starts: 0,
                voter: true,
                region: o.region.clone(),
            };
            p.spawn(&o.bin, &o.env)?;
            c.nodes.push(p);
            c.publish(i);
        }
        c.wait_all_ready(Duration::from_secs(60)).await?;
        c.verify_views().await?;
        for r in o.replicas.clone() {
            c.add_replica(&r).await?;
        }
        c.wait_all_ready(Duration::from_secs(60)).await?;
        Ok(c)
    }

    /// Starts a new read replica in `region` (the next node id), joining through the
    /// leader (or node 1) over the proxy; returns its id without waiting for it to
    /// serve.
    pub async fn add_replica(&mut self, region: &str) -> anyhow::Result<u32> {
        let i = self.nodes.len() as u32 + 1;
        anyhow::ensure!(i < 250, "out of node addresses");
        self.add_proxy_for(i).await?;
        let via = self.leader().await.unwrap_or(1);
        let join = self.cluster_addr(via);
        let dir = self.opts.dir.join(format!("n{i}"));
        std::fs::create_dir_all(&dir)?;
        let mut p = NodeProc {
            id: i,
            ip: Self::ip(self.prefix, i as u8),
            dir,
            args: self.node_args(i, region, Some(&join)),
            child: None,
            state: ProcState::Killed,
            starts: 0,
            voter: false,
            region: region.to_string(),
        };
        p.spawn(&self.bin, &self.opts.env)?;
        self.nodes.push(p);
        self.publish(i);
        Ok(i)
    }

    fn publish(&self, i: u32) {
        let a = (self.client_addr(i), self.rest_addr(i));
        self.targets.lock().unwrap().insert(i, a);
    }

    /// `meridian cluster ARGS --addr <node `at`'s own cluster port>`, at most `limit`.
    pub async fn admin(&self, at: u32, args: &[String], limit: Duration) -> anyhow::Result<String> {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.arg("cluster")
            .args(args)
            .arg("--addr")
            .arg(self.direct_cluster_addr(at))
            .env_remove("MERIDIAN_PASSWORD")
            .kill_on_drop(true);
        let out = tokio::time::timeout(limit, cmd.output())
            .await
            .with_context(|| format!("meridian cluster {args:?} timed out after {limit:?}"))??;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            bail!("meridian cluster {}: {}", args.join(" "), text.trim());
        }
        Ok(text)
    }

    /// Removes node `i` from the membership (through the leader, else any running
    /// voter), then stops it for good.
    pub async fn remove_node(&mut self, i: u32) -> anyhow::Result<()> {
        let at = match self.leader().await {
            Some(l) => l,
            None => *self.voters().first().context("no voter")?,
        };
        self.targets.lock().unwrap().remove(&i);
        let r = self
            .admin(
                at,
                &["remove-node".into(), i.to_string()],
                Duration::from_secs(15),
            )
            .await;
        if r.is_ok() {
            let p = self.node(i);
            p.resume();
            p.kill9();
            p.state = ProcState::Removed;
        } else {
            self.publish(i);
        }
        r.map(|_| ())
    }

    /// Makes read replica `i` a voter.
    pub async fn promote(&mut self, i: u32) -> anyhow::Result<()> {
        let at = self.leader().await.context("no leader")?;
        self.admin(
            at,
            &["promote".into(), i.to_string()],
            Duration::from_secs(15),
        )
        .await?;
        self.node(i).voter = true;
        Ok(())
    }

    /// Asks the leader to hand leadership to voter `to`.
    pub async fn transfer_leader(&self, to: u32) -> anyhow::Result<String> {
        let at = self.leader().await.context("no leader")?;
        self.admin(
            at,
            &["transfer-leader".into(), to.to_string()],
            Duration::from_secs(20),
        )
        .await
    }

    pub async fn wait_all_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        for p in &mut self.nodes {
            if matches!(p.state, ProcState::Killed | ProcState::Removed) {
                continue;
            }
            while !p.is_ready() {
                if let Some(st) = p.exited() {
                    bail!("node {} exited ({st}): {}", p.id, p.log_tail(20));
                }
                if Instant::now() > deadline {
                    bail!(
                        "node {} not ready within {limit:?}: {}",
                        p.id,
                        p.log_tail(20)
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(())
    }

    /// The address clients use for node `i` (through the proxy when client links exist).
    pub fn client_addr(&self, i: u32) -> SocketAddr {
        let ip = Self::ip(self.prefix, i as u8);
        if self.client_proxy {
            SocketAddr::from((ip, PROXY_BASE))
        } else {
            SocketAddr::from((ip, RESP_PORT))
        }
    }

    /// The node's own RESP port, bypassing the proxy (final reads, convergence).
    pub fn direct_addr(&self, i: u32) -> SocketAddr {
        SocketAddr::from((Self::ip(self.prefix, i as u8), RESP_PORT))
    }

    pub fn node(&mut self, i: u32) -> &mut NodeProc {
        &mut self.nodes[(i - 1) as usize]
    }

    /// Every member (voters and replicas, not the removed ones).
    pub fn ids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter(|p| p.state != ProcState::Removed)
            .map(|p| p.id)
            .collect()
    }

    /// The voters (not removed).
    pub fn voters(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter(|p| p.voter && p.state != ProcState::Removed)
            .map(|p| p.id)
            .collect()
    }

    /// How many voters the cluster started with (nodes 1..=n).
    pub fn first_voters(&self) -> u32 {
        self.opts.nodes
    }

    /// `DEBUG SET-CLOCK-OFFSET ms` on node `i` (its wall clock: entry times, TTLs,
    /// expiry; not Raft's timers). Remembered so the heal can set it back to 0.
    pub async fn set_clock_offset(&mut self, i: u32, ms: i64) -> anyhow::Result<()> {
        let addr = self.direct_addr(i);
        let r: anyhow::Result<()> = tokio::time::timeout(Duration::from_secs(2), async move {
            let client = redis::Client::open(format!("redis://{addr}/"))?;
            let mut con = client.get_multiplexed_async_connection().await?;
            redis::cmd("DEBUG")
                .arg("SET-CLOCK-OFFSET")
                .arg(ms)
                .query_async::<()>(&mut con)
                .await?;
            Ok(())
        })
        .await
        .context("DEBUG SET-CLOCK-OFFSET timed out")?;
        if r.is_ok() {
            self.clock_log.push((Instant::now(), i, ms));
            if ms == 0 {
                self.clock.remove(&i);
            } else {
                self.clock.insert(i, ms);
            }
        }
        r
    }

    /// Sets every shifted clock back (a restarted node starts at offset 0 anyway).
    pub async fn heal_clocks(&mut self) {
        let shifted: Vec<u32> = self.clock.keys().copied().collect();
        for i in shifted {
            let st = self.node(i).state;
            if st == ProcState::Running {
                if let Err(e) = self.set_clock_offset(i, 0).await {
                    eprintln!("clock of node {i} not reset: {e:#}");
                }
            } else {
                self.clock.remove(&i);
            }
        }
    }

    /// The read replicas (not removed, not promoted).
    pub fn replicas(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter(|p| !p.voter && p.state != ProcState::Removed)
            .map(|p| p.id)
            .collect()
    }

    /// The client REST address of node `i` (through the proxy when client links exist).
    pub fn rest_addr(&self, i: u32) -> SocketAddr {
        let ip = Self::ip(self.prefix, i as u8);
        if self.client_proxy {
            SocketAddr::from((ip, REST_PROXY_PORT))
        } else {
            SocketAddr::from((ip, REST_PORT))
        }
    }

    pub fn restart(&mut self, i: u32) -> anyhow::Result<()> {
        let bin = self.bin.clone();
        let env = self.opts.env.clone();
        if self.clock.remove(&i).is_some() {
            self.clock_log.push((Instant::now(), i, 0));
        }
        let p = self.node(i);
        p.kill9();
        p.spawn(&bin, &env)
    }

    /// INFO replication of node `i` as key → value (direct, short timeout).
    pub async fn info(&self, i: u32) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
        self.info_section(i, "replication").await
    }

    /// INFO `section` of node `i` as key → value (direct, short timeout).
    pub async fn info_section(
        &self,
        i: u32,
        section: &str,
    ) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
        let addr = self.direct_addr(i);
        let section = section.to_string();
        let text: String = tokio::time::timeout(Duration::from_millis(800), async move {
            let client = redis::Client::open(format!("redis://{addr}/"))?;
            let mut con = client.get_multiplexed_async_connection().await?;
            redis::cmd("INFO")
                .arg(section)
                .query_async::<String>(&mut con)
                .await
        })
        .await
        .context("INFO timed out")??;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect())
    }

    /// The node that says it leads, with the highest term among those that answer.
    pub async fn leader(&self) -> Option<u32> {
        let mut best: Option<(u64, u32)> = None;
        for p in &self.nodes {
            if p.state != ProcState::Running {
                continue;
            }
            if let Ok(info) = self.info(p.id).await {
                if info.get("raft_role").map(String::as_str) == Some("leader") {
                    let term: u64 = info
                        .get("raft_term")
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0);
                    if best.is_none_or(|(t, _)| term > t) {
                        best = Some((term, p.id));
                    }
                }
            }
        }
        best.map(|(_, id)| id)
    }

    /// Waits for a leader that every running node agrees on.
    pub async fn wait_leader(&self, limit: Duration) -> Option<u32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(l) = self.leader().await {
                return Some(l);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// Checks that every follower knows the leader by its proxied address and that the
    /// proxy told the senders apart: the leader's connections to each follower were
    /// counted on link (leader → follower), and no connection came from an unknown
    /// source.
    pub async fn verify_views(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        'retry: loop {
            let Some(l) = self.wait_leader(Duration::from_secs(20)).await else {
                bail!("no leader");
            };
            let want = self.cluster_addr(l);
            for p in &self.nodes {
                if p.id == l || p.state != ProcState::Running {
                    continue;
                }
                let info = self.info(p.id).await?;
                let got = info.get("raft_leader_addr").cloned().unwrap_or_default();
                let by_source = self
                    .net
                    .stats()
                    .iter()
                    .any(|((a, b), _, _, st)| *a == l && *b == p.id && st.connections > 0);
                if got != want || !by_source {
                    if Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue 'retry;
                    }
                    bail!(
                        "node {} knows leader {l} at {got} (want {want}); connections on link {l}->{}: {by_source}",
                        p.id,
                        p.id
                    );
                }
            }
            if let Some((_, _, _, st)) = self
                .net
                .stats()
                .iter()
                .find(|((a, _), _, _, _)| *a == Endpoint::MAX)
            {
                bail!(
                    "{} cluster connection(s) came from an unknown source address: does the server bind its cluster links to --bind?",
                    st.refused
                );
            }
            return Ok(());
        }
    }

    /// Heals the network, resumes paused nodes, restarts killed ones.
    pub fn heal_all(&mut self) -> anyhow::Result<()> {
        self.net.heal();
        for i in self.ids() {
            match self.node(i).state {
                ProcState::Paused => self.node(i).resume(),
                ProcState::Killed => self.restart(i)?,
                ProcState::Running | ProcState::Removed => {}
            }
        }
        Ok(())
    }

    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.ids()
    }
}
