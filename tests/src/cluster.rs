//! A multi-node cluster of real `meridian` processes on 127.0.0.1 for replication tests.

use crate::{binary, free_port};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct NodeProc {
    pub id: u64,
    pub port: u16,
    pub rest_port: u16,
    pub cluster_port: u16,
    pub dir: std::path::PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    ready: Option<mpsc::Receiver<()>>,
}

impl NodeProc {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        crate::connect(&self.url())
    }

    pub fn cluster_addr(&self) -> String {
        format!("127.0.0.1:{}", self.cluster_port)
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("log");
        let mut child = Command::new(binary())
            .args(&self.args)
            .env_remove("MERIDIAN_PASSWORD")
            .env(
                "RUST_LOG",
                std::env::var("MERIDIAN_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn meridian");
        let rx = crate::ready_signal(child.stdout.take().expect("stdout"));
        self.child = Some(child);
        self.ready = Some(rx);
    }

    pub fn wait_ready(&mut self, limit: Duration) {
        if let Err(log) = self.try_wait_ready(limit) {
            panic!("node {} not ready within {limit:?}; log:\n{log}", self.id);
        }
    }

    /// Like `wait_ready`, but hands back the node's log when it did not come up (the
    /// caller can then start the whole cluster again, e.g. when its cluster port was
    /// taken by another test before it bound it).
    pub fn try_wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        for attempt in 0.. {
            let rx = self.ready.take().expect("spawned");
            if rx.recv_timeout(limit).is_ok() {
                return Ok(());
            }
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            // A RESP or REST port picked by `free_port` can be taken by another test before
            // the node binds it (a race no pick can avoid): pick new ones and start again.
            // The cluster port is in every voter's --initial-cluster, so it is not moved.
            let lost_port = log.contains("Address already in use") && !log.contains("(cluster)");
            if attempt < 5 && lost_port {
                self.kill9();
                let _ = std::fs::remove_file(self.dir.join("server.log"));
                self.port = free_port();
                self.rest_port = free_port();
                let (port, rest_port) = (self.port.to_string(), self.rest_port.to_string());
                for (flag, value) in [("--port", port), ("--rest-port", rest_port)] {
                    if let Some(i) = self.args.iter().position(|a| a == flag) {
                        self.args[i + 1] = value;
                    }
                }
                self.spawn();
                continue;
            }
            return Err(log);
        }
        unreachable!("the loop returns")
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
        self.wait_ready(Duration::from_secs(60));
    }

    /// Kills and starts the node again without waiting for it to be ready (a voter of a
    /// group whose other voters are down cannot be ready alone).
    pub fn respawn(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// SIGSTOP / SIGCONT: a paused process keeps its sockets but answers nothing.
    pub fn signal(&self, sig: &str) {
        crate::signal(self.child.as_ref(), sig);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            // Resume a paused process so the kill can reap it.
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(c.id().to_string())
                .status();
        }
        self.kill9();
    }
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<NodeProc>,
}

impl Cluster {
    /// `voters` voters forming a new primary region, all started at once.
    pub fn start(voters: u64) -> Cluster {
        Cluster::start_with(voters, &[])
    }

    /// Like `start`, with extra options for every voter.
    pub fn start_with(voters: u64, extra: &[&str]) -> Cluster {
        // A cluster port picked by `free_port` can be taken by another test before its
        // node binds it; it is in every voter's --initial-cluster, so the whole cluster
        // starts again on new ports.
        for attempt in 0.. {
            match Self::try_start_with(voters, extra) {
                Ok(c) => return c,
                Err((id, log)) if attempt < 5 && log.contains("(cluster)") => {
                    eprintln!("cluster port of node {id} was taken; starting again: {log}");
                }
                Err((id, log)) => panic!("node {id} not ready within 60s; log:\n{log}"),
            }
        }
        unreachable!("the loop returns")
    }

    /// `voters` voters, each with its own extra options (`per_node(id)`; a `--password`
    /// there replaces `--no-auth`), started at once; only those `ready(id)` says are
    /// waited for (a node that cannot join never becomes ready).
    pub fn start_each(
        voters: u64,
        per_node: impl Fn(u64) -> Vec<String>,
        ready: impl Fn(u64) -> bool,
    ) -> Cluster {
        let (dir, mut nodes) = Self::spawn_voters(voters, per_node);
        for n in nodes.iter_mut().filter(|n| ready(n.id)) {
            n.wait_ready(Duration::from_secs(60));
        }
        Cluster { dir, nodes }
    }

    /// Spawns `voters` voters of a new primary region on fresh ports, each with its extra
    /// options (`per_node(id)`), without waiting for them.
    fn spawn_voters(
        voters: u64,
        per_node: impl Fn(u64) -> Vec<String>,
    ) -> (tempfile::TempDir, Vec<NodeProc>) {
        let dir = tempfile::Builder::new()
            .prefix("meridian-cluster")
            .tempdir()
            .expect("tempdir");
        let cports: Vec<u16> = (0..voters).map(|_| free_port()).collect();
        let initial = (1..=voters)
            .zip(&cports)
            .map(|(id, p)| format!("{id}=127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Vec::new();
        for (i, cp) in cports.iter().enumerate() {
            let id = i as u64 + 1;
            let mut args: Vec<String> = vec![
                "--initial-cluster".into(),
                initial.clone(),
                "--region".into(),
                "us-east-1".into(),
            ];
            args.extend(per_node(id));
            let mut n = Self::node(&dir, id, *cp, args);
            n.spawn();
            nodes.push(n);
        }
        (dir, nodes)
    }

    fn try_start_with(voters: u64, extra: &[&str]) -> Result<Cluster, (u64, String)> {
        let (dir, mut nodes) =
            Self::spawn_voters(voters, |_| extra.iter().map(|s| s.to_string()).collect());
        for i in 0..nodes.len() {
            if let Err(log) = nodes[i].try_wait_ready(Duration::from_secs(60)) {
                let id = nodes[i].id;
                for n in &mut nodes {
                    n.kill9();
                }
                return Err((id, log));
            }
        }
        Ok(Cluster { dir, nodes })
    }

    fn node(dir: &tempfile::TempDir, id: u64, cluster_port: u16, extra: Vec<String>) -> NodeProc {
        let port = free_port();
        let rest_port = free_port();
        let ndir = dir.path().join(format!("node{id}"));
        std::fs::create_dir_all(&ndir).expect("node dir");
        let mut args: Vec<String> = vec![
            "server".into(),
            "--no-auth".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--rest-port".into(),
            rest_port.to_string(),
            "--data-dir".into(),
            ndir.join("data").display().to_string(),
            "--node-id".into(),
            id.to_string(),
            "--cluster-port".into(),
            cluster_port.to_string(),
            "--election-timeout".into(),
            "300-600".into(),
            "--heartbeat".into(),
            "100".into(),
        ];
        if extra.iter().any(|a| a == "--password") {
            args.retain(|a| a != "--no-auth");
        }
        args.extend(extra);
        NodeProc {
            id,
            port,
            rest_port,
            cluster_port,
            dir: ndir,
            args,
            child: None,
            ready: None,
        }
    }

    /// Adds a read replica (Raft learner) tagged with `region`, joining through node 1.
    pub fn add_replica(&mut self, region: &str) -> usize {
        self.add_replica_with(region, &[])
    }

    /// Like `add_replica`, with extra options (a `--password` there replaces `--no-auth`).
    pub fn add_replica_with(&mut self, region: &str, extra: &[&str]) -> usize {
        let id = self.nodes.iter().map(|n| n.id).max().unwrap_or(0) + 1;
        let join = self.nodes[0].cluster_addr();
        let mut args: Vec<String> = vec![
            "--replica".into(),
            "--join".into(),
            join,
            "--region".into(),
            region.into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut n = Self::node(&self.dir, id, free_port(), args);
        n.spawn();
        n.wait_ready(Duration::from_secs(90));
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    /// Index of the node INFO says is the leader (asks every live node).
    pub fn leader(&self) -> Option<usize> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            for (i, n) in self.nodes.iter().enumerate() {
                if n.child.is_none() {
                    continue;
                }
                let Ok(c) = redis::Client::open(n.url()) else {
                    continue;
                };
                let Ok(mut con) = c.get_connection_with_timeout(Duration::from_millis(500)) else {
                    continue;
                };
                let _ = con.set_read_timeout(Some(Duration::from_secs(2)));
                if let Ok(info) = redis::cmd("INFO")
                    .arg("replication")
                    .query::<String>(&mut con)
                {
                    if info.contains("raft_role:leader") {
                        return Some(i);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}
