//! Storage faults on real nodes, through the storage crate's test-only fault injection
//! (environment variables read when a node opens its database; see
//! `crates/storage/src/fault.rs`):
//! - a read that fails while an entry is applied stops the node's state machine instead
//!   of becoming a reply, and after a restart the entry is applied;
//! - a node killed in the middle of installing a snapshot restarts with the snapshot's
//!   state whole.
//!
//! Every process here is spawned by this file with its own environment, so the faults
//! never leak into another test's nodes.

use meridian_tests::cluster::Cluster;
use meridian_tests::{binary, free_port, ready_signal};
use redis::cmd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `meridian server` process with fixed ports and data dir, restartable with a
/// different environment.
struct Node {
    dir: PathBuf,
    port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl Node {
    fn new(dir: &Path, extra: &[String]) -> Node {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let mut args: Vec<String> = [
            "server",
            "--no-auth",
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--rest-port",
            &free_port().to_string(),
            "--data-dir",
            &dir.join("data").display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().cloned());
        Node {
            dir: dir.to_path_buf(),
            port,
            args,
            child: None,
        }
    }

    /// Starts the process with `env` added; returns a receiver signalled when it is ready.
    fn spawn(&mut self, env: &[(&str, &str)]) -> std::sync::mpsc::Receiver<()> {
        assert!(self.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .unwrap();
        let mut c = Command::new(binary());
        c.args(&self.args)
            .env_remove("MERIDIAN_PASSWORD")
            .env_remove("MERIDIAN_FAULT_READ_AFTER")
            .env_remove("MERIDIAN_FAULT_READ_KEY")
            .env_remove("MERIDIAN_FAULT_INSTALL_ABORT_AFTER")
            .env(
                "RUST_LOG",
                std::env::var("MERIDIAN_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("spawn meridian");
        let rx = ready_signal(child.stdout.take().unwrap());
        self.child = Some(child);
        rx
    }

    fn start(&mut self, env: &[(&str, &str)]) {
        let rx = self.spawn(env);
        if rx.recv_timeout(Duration::from_secs(90)).is_err() {
            panic!("node not ready; log:\n{}", self.log());
        }
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for the process to exit on its own.
    fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.as_mut()?.try_wait() {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn client(&self, timeout: Duration) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap();
        let con = c.get_connection_with_timeout(timeout).unwrap();
        con.set_read_timeout(Some(timeout)).unwrap();
        con.set_write_timeout(Some(timeout)).unwrap();
        con
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

#[test]
fn a_failed_read_during_apply_stops_writes_and_the_entry_applies_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = Node::new(tmp.path(), &[]);
    // Every read of a key containing "poison" fails on this run.
    node.start(&[("MERIDIAN_FAULT_READ_KEY", "poison")]);
    let mut con = node.client(Duration::from_secs(5));
    let _: () = cmd("SET").arg("before").arg("1").query(&mut con).unwrap();
    let _: () = cmd("RPUSH").arg("list").arg("a").query(&mut con).unwrap();

    // Applying this write reads the key's meta record, which fails: the node must not
    // answer as if it had applied it, nor as if it had not.
    let r: redis::RedisResult<String> = cmd("SET").arg("poison").arg("v").query(&mut con);
    assert!(r.is_err(), "the failed apply answered {r:?}");
    eprintln!("the failed apply answered {r:?}");
    // The state machine is stopped: no later write is acknowledged either.
    let mut con = node.client(Duration::from_secs(3));
    let r: redis::RedisResult<i64> = cmd("RPUSH").arg("list").arg("b").query(&mut con);
    assert!(r.is_err(), "a write after the failure answered {r:?}");
    eprintln!("a write after the failure answered {r:?}");
    assert!(
        node.log().contains("not applied, stopping"),
        "log:\n{}",
        node.log()
    );

    // Restart with a healthy disk: the logged entry is applied now.
    node.kill9();
    node.start(&[]);
    let mut con = node.client(Duration::from_secs(5));
    let v: Option<String> = cmd("GET").arg("poison").query(&mut con).unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let v: Option<String> = cmd("GET").arg("before").query(&mut con).unwrap();
    assert_eq!(v.as_deref(), Some("1"));
    // The write that came after the failure was never acknowledged; whatever became of
    // it, the list holds "a" first and the node takes writes again.
    let list: Vec<String> = cmd("LRANGE")
        .arg("list")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(list.first().map(String::as_str), Some("a"));
    let _: () = cmd("SET").arg("after").arg("1").query(&mut con).unwrap();
}

fn dump(con: &mut redis::Connection) -> Vec<(String, String)> {
    let mut keys: Vec<String> = cmd("KEYS").arg("*").query(con).unwrap();
    keys.sort();
    let values: Vec<Option<String>> = if keys.is_empty() {
        Vec::new()
    } else {
        cmd("MGET").arg(&keys).query(con).unwrap()
    };
    keys.into_iter()
        .zip(values.into_iter().map(Option::unwrap_or_default))
        .collect()
}

#[test]
fn a_replica_killed_during_a_snapshot_install_restarts_with_the_snapshot_whole() {
    let c = Cluster::start_with(3, &["--snapshot-every", "300"]);
    let leader = c.leader().expect("leader");
    let mut con = c.nodes[leader].client();
    // Enough entries that the leader snapshots and purges its log past what a new
    // member could replay (1000 entries are kept behind the snapshot), and enough keys
    // that the install takes several batches.
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.cmd("SET")
            .arg(format!("k{i}"))
            .arg(format!("v{i}"))
            .ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    for i in 0..2500 {
        let _: () = cmd("SET")
            .arg(format!("s{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info: String = cmd("INFO").arg("raft").query(&mut con).unwrap();
        let purged: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("raft_purged_index:"))
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        if purged > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the leader never purged its log");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A new read replica must install a snapshot; it dies right after the install's
    // step 4 (marker written, meta cleared and partly refilled).
    let dir = c.dir.path().join("replica");
    let mut replica = Node::new(
        &dir,
        &[
            "--node-id".into(),
            "4".into(),
            "--cluster-port".into(),
            free_port().to_string(),
            "--election-timeout".into(),
            "300-600".into(),
            "--heartbeat".into(),
            "100".into(),
            "--replica".into(),
            "--join".into(),
            c.nodes[0].cluster_addr(),
            "--region".into(),
            "sa-east-1".into(),
        ],
    );
    let _ready = replica.spawn(&[("MERIDIAN_FAULT_INSTALL_ABORT_AFTER", "4")]);
    let status = replica.wait_exit(Duration::from_secs(90));
    assert!(
        status.is_some_and(|s| !s.success()),
        "the replica did not die in its install ({status:?}); log:\n{}",
        replica.log()
    );
    assert!(
        replica
            .log()
            .contains("install fault: aborting after step 4"),
        "log:\n{}",
        replica.log()
    );

    // Restarted without the fault, it comes back with the snapshot whole and catches up.
    replica.start(&[]);
    assert!(
        replica
            .log()
            .contains("completing the snapshot install from"),
        "log:\n{}",
        replica.log()
    );
    let mut rc = replica.client(Duration::from_secs(10));
    let token: u64 = cmd("CLIENT").arg("SYNC-TOKEN").query(&mut con).unwrap();
    let _: () = cmd("CLIENT")
        .arg("SYNC-TOKEN")
        .arg(token)
        .query(&mut rc)
        .unwrap();
    let expected = dump(&mut con);
    assert_eq!(expected.len(), 22_500);
    assert_eq!(dump(&mut rc), expected);
    let n: u64 = cmd("DBSIZE").query(&mut rc).unwrap();
    assert_eq!(n, 22_500, "the key count record is off");
}
