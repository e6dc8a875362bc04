//! A cluster of real `meridian` voters whose node-to-node traffic (and, by default, the
//! test clients' traffic) goes through the fault-injecting proxy.
//!
//! Addresses: a run picks a random loopback /24, `127.A.B.0`, so concurrent runs (and
//! other tests on the machine) do not collide. Node `i` binds `127.A.B.i` (RESP 6379,
//! REST 8080, cluster 7379). The proxy link `(i → j)` listens on `127.A.B.j:(7400+i)`
//! and forwards to `127.A.B.j:7379`; the client link `(0 → j)` listens on
//! `127.A.B.j:7400` and forwards to the RESP port 6379.
//!
//! Per-link routing: Raft membership holds one address per node, and a node's outgoing
//! connections are not bound to its `--bind` address (the kernel picks 127.0.0.1 as the
//! source of every loopback connection), so the proxy cannot tell who connects by the
//! peer address. Instead each voter is started with its *own* `--initial-cluster` list,
//! in which peer `j` is `127.A.B.j:(7400+i)`, i.e. the proxy port of link (i → j). Every
//! voter initializes openraft with its own list (log index 0, same log id, different
//! addresses), which Raft never compares, so node i reaches node j only through link
//! (i → j), whoever leads. Limits: a membership change (add/remove/promote) or a snapshot
//! install replaces a node's view with the leader's; the scenarios here do neither, and
//! `verify_views` checks the views after start. To make sure no node receives the
//! leader's entry 0 before initializing with its own, every link refuses connections
//! until every node has logged "raft started".

use crate::proxy::{Endpoint, Net};
use anyhow::{bail, Context};
use rand::Rng;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const RESP_PORT: u16 = 6379;
pub const REST_PORT: u16 = 8080;
pub const CLUSTER_PORT: u16 = 7379;
pub const PROXY_BASE: u16 = 7400;

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
}

pub struct NodeProc {
    pub id: u32,
    pub ip: [u8; 4],
    pub dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    pub state: ProcState,
    starts: usize,
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

    fn spawn(&mut self, bin: &Path) -> anyhow::Result<()> {
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
}

pub struct ClusterOpts {
    pub nodes: u32,
    pub dir: PathBuf,
    pub bin: PathBuf,
    /// Clients reach each node through the proxy link (0 → i).
    pub client_proxy: bool,
    pub election_timeout: Option<String>,
    pub heartbeat: Option<u64>,
}

impl Cluster {
    pub fn ip(prefix: [u8; 3], last: u8) -> [u8; 4] {
        [prefix[0], prefix[1], prefix[2], last]
    }

    /// Starts the proxy and the voters and waits until every node serves.
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

    async fn try_start(o: &ClusterOpts, prefix: [u8; 3]) -> anyhow::Result<Cluster> {
        let n = o.nodes;
        let net = Net::new();
        let ids: Vec<u32> = (1..=n).collect();
        for &i in &ids {
            for &j in &ids {
                if i != j {
                    // Refuse until every node initialized with its own view.
                    net.refuse(i, j, true);
                    net.add_link(
                        i,
                        j,
                        SocketAddr::from((Self::ip(prefix, j as u8), PROXY_BASE + i as u16)),
                        SocketAddr::from((Self::ip(prefix, j as u8), CLUSTER_PORT)),
                    )
                    .await
                    .with_context(|| format!("proxy link {i}->{j}"))?;
                }
            }
            if o.client_proxy {
                net.add_link(
                    0,
                    i,
                    SocketAddr::from((Self::ip(prefix, i as u8), PROXY_BASE)),
                    SocketAddr::from((Self::ip(prefix, i as u8), RESP_PORT)),
                )
                .await
                .with_context(|| format!("client link 0->{i}"))?;
            }
        }
        let mut nodes = Vec::new();
        for &i in &ids {
            let ip = Self::ip(prefix, i as u8);
            let ips = format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
            let view = ids
                .iter()
                .map(|&j| {
                    let jp = Self::ip(prefix, j as u8);
                    let port = if i == j {
                        CLUSTER_PORT
                    } else {
                        PROXY_BASE + i as u16
                    };
                    format!("{j}={}.{}.{}.{}:{port}", jp[0], jp[1], jp[2], jp[3])
                })
                .collect::<Vec<_>>()
                .join(",");
            let dir = o.dir.join(format!("n{i}"));
            std::fs::create_dir_all(&dir)?;
            let mut args: Vec<String> = vec![
                "server".into(),
                "--node-id".into(),
                i.to_string(),
                "--bind".into(),
                ips.clone(),
                "--port".into(),
                RESP_PORT.to_string(),
                "--rest-port".into(),
                REST_PORT.to_string(),
                "--cluster-port".into(),
                CLUSTER_PORT.to_string(),
                "--initial-cluster".into(),
                view,
                "--data-dir".into(),
                dir.join("data").display().to_string(),
                "--no-auth".into(),
                "--cache-mb".into(),
                "32".into(),
            ];
            if let Some(e) = &o.election_timeout {
                args.extend(["--election-timeout".into(), e.clone()]);
            }
            if let Some(h) = o.heartbeat {
                args.extend(["--heartbeat".into(), h.to_string()]);
            }
            let mut p = NodeProc {
                id: i,
                ip,
                dir,
                args,
                child: None,
                state: ProcState::Killed,
                starts: 0,
            };
            p.spawn(&o.bin)?;
            nodes.push(p);
        }
        let mut c = Cluster {
            net,
            nodes,
            prefix,
            client_proxy: o.client_proxy,
            bin: o.bin.clone(),
        };
        // Every node initialized with its own membership view: open the links.
        let deadline = Instant::now() + Duration::from_secs(60);
        for p in &mut c.nodes {
            while NodeProc::count_in(&p.log_path(), "raft started") < 1 {
                if let Some(st) = p.exited() {
                    bail!("node {} exited ({st}): {}", p.id, p.log_tail(20));
                }
                if Instant::now() > deadline {
                    bail!("node {} did not start raft: {}", p.id, p.log_tail(20));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        c.net.heal();
        c.wait_all_ready(Duration::from_secs(60)).await?;
        c.verify_views().await?;
        Ok(c)
    }

    pub async fn wait_all_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        for p in &mut self.nodes {
            if p.state == ProcState::Killed {
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

    pub fn ids(&self) -> Vec<u32> {
        self.nodes.iter().map(|p| p.id).collect()
    }

    pub fn restart(&mut self, i: u32) -> anyhow::Result<()> {
        let bin = self.bin.clone();
        let p = self.node(i);
        p.kill9();
        p.spawn(&bin)
    }

    /// INFO replication of node `i` as key → value (direct, short timeout).
    pub async fn info(&self, i: u32) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
        let addr = self.direct_addr(i);
        let text: String = tokio::time::timeout(Duration::from_millis(800), async move {
            let client = redis::Client::open(format!("redis://{addr}/"))?;
            let mut con = client.get_multiplexed_async_connection().await?;
            redis::cmd("INFO")
                .arg("replication")
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

    /// Checks that each follower reaches the leader through its own proxy link.
    pub async fn verify_views(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        'retry: loop {
            let Some(l) = self.wait_leader(Duration::from_secs(20)).await else {
                bail!("no leader");
            };
            for p in &self.nodes {
                if p.id == l {
                    continue;
                }
                let info = self.info(p.id).await?;
                let lip = Self::ip(self.prefix, l as u8);
                let want = format!(
                    "{}.{}.{}.{}:{}",
                    lip[0],
                    lip[1],
                    lip[2],
                    lip[3],
                    PROXY_BASE + p.id as u16
                );
                let got = info.get("raft_leader_addr").cloned().unwrap_or_default();
                if got != want {
                    if Instant::now() < deadline
                        && info.get("raft_leader_id") != Some(&l.to_string())
                    {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue 'retry;
                    }
                    bail!(
                        "node {} reaches leader {l} at {got}, not through its proxy link {want}",
                        p.id
                    );
                }
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
                ProcState::Running => {}
            }
        }
        Ok(())
    }

    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.ids()
    }
}
