//! State every connection shares: the node, the read path, settings, clients, statistics.

use crate::clients::Clients;
use crate::config::Config;
use consensus::Node;
use engine::CommandSpec;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

pub struct Shared {
    /// Raft: writes, read index, applied-index waits, cluster status.
    pub node: Arc<Node>,
    /// Reads of the applied state (see `reads`).
    pub reads: crate::reads::Reads,
    /// Pub/sub, keyspace notifications, MONITOR and blocked clients of this node.
    pub broker: Arc<crate::pubsub::Broker>,
    pub cfg: Config,
    pub local: SocketAddr,
    /// The configured password (`--password` or the generated one), None when
    /// authentication is off. It is the cluster secret; the default user's current
    /// passwords are `creds` (which start as this one).
    pub password: RwLock<Option<String>>,
    /// The default user's current passwords and REST tokens (`acl_cmds::creds`).
    pub creds: crate::acl_cmds::creds::Cache,
    pub clients: Clients,
    pub stats: Stats,
    pub started: Instant,
    pub maxclients: AtomicUsize,
    /// Open connections, RESP and REST together, held against `maxclients`.
    pub open_conns: AtomicUsize,
    /// `client-output-buffer-limit`.
    pub obuf: Arc<crate::clients::OutputLimits>,
    /// `busy-reply-threshold` (alias `lua-time-limit`): how long a script runs before
    /// other clients get BUSY, in milliseconds.
    pub busy_after_ms: AtomicU64,
    /// Redis parameters CONFIG SET accepted that Meridian stores but does not act on,
    /// by canonical name (see `admin_cmds::PARAMS`).
    pub tunables: Mutex<HashMap<&'static str, String>>,
    /// The --config file (MERIDIAN_CONFIG) this node was started with, for CONFIG REWRITE.
    pub config_file: Option<std::path::PathBuf>,
    /// SLOWLOG of this node (`slowlog-log-slower-than`, `slowlog-max-len`).
    pub slowlog: crate::slowlog::SlowLog,
}

/// The --config option as the command line (or MERIDIAN_CONFIG) gave it.
fn config_file_arg() -> Option<std::path::PathBuf> {
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let a = a.to_string_lossy().into_owned();
        if a == "--config" {
            return args.next().map(Into::into);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(v.into());
        }
    }
    std::env::var_os("MERIDIAN_CONFIG")
        .filter(|v| !v.is_empty())
        .map(Into::into)
}

/// A connection's place under `maxclients`, given back when dropped.
pub struct ConnSlot(Arc<Shared>);

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.open_conns.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Shared {
    pub fn new(
        node: Arc<Node>,
        broker: Arc<crate::pubsub::Broker>,
        cfg: Config,
        password: Option<String>,
        local: SocketAddr,
    ) -> Shared {
        Shared {
            reads: crate::reads::Reads::new(&node),
            node,
            broker,
            maxclients: AtomicUsize::new(cfg.maxclients),
            open_conns: AtomicUsize::new(0),
            obuf: Arc::new(crate::clients::OutputLimits::default()),
            busy_after_ms: AtomicU64::new(5_000),
            tunables: Mutex::new(HashMap::new()),
            config_file: config_file_arg(),
            slowlog: Default::default(),
            cfg,
            local,
            password: RwLock::new(password),
            creds: Default::default(),
            clients: Clients::default(),
            stats: Stats::new(),
            started: Instant::now(),
        }
    }

    /// Takes a connection slot, or None when `maxclients` connections are open (RESP
    /// and REST count together). Taking and checking is one step, so a flood of
    /// simultaneous connections cannot overshoot the limit.
    /// Whether the IP allowlist (`CONFIG SET meridian-allowlist`) lets `peer` connect to
    /// the `port` ("RESP", "REST"); a refusal is logged and counted.
    pub fn admits(&self, peer: SocketAddr, port: &str) -> bool {
        let ok = match self.reads.allowlist() {
            Ok(list) => engine::allowlist::permits(&list, peer.ip()),
            Err(e) => {
                tracing::error!("the IP allowlist cannot be read ({e}); refusing {peer}");
                false
            }
        };
        if !ok {
            self.stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "{port} connection from {peer} refused: not in the IP allowlist ({})",
                engine::allowlist::NAME
            );
        }
        ok
    }

    pub fn try_conn_slot(self: &Arc<Self>) -> Option<ConnSlot> {
        let max = self.maxclients.load(Ordering::Relaxed);
        let mut cur = self.open_conns.load(Ordering::Relaxed);
        loop {
            if cur >= max {
                return None;
            }
            match self.open_conns.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(ConnSlot(self.clone())),
                Err(now) => cur = now,
            }
        }
    }

    pub fn auth_required(&self) -> bool {
        self.password.read().map(|p| p.is_some()).unwrap_or(true)
    }
}

/// Server-wide counters (INFO stats / commandstats).
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
    /// Keys evicted by this process outside the log (none today); INFO evicted_keys adds
    /// the evictor's count (`engine::quota::EVICTED_KEYS`, keys deleted by `Op::Evict`).
    pub evicted_keys: AtomicU64,
    /// Per command, indexed like engine::COMMANDS(): calls, microseconds, failed calls.
    pub per_cmd: Vec<[AtomicU64; 3]>,
    /// Per command, indexed like engine::COMMANDS(): calls rejected before they ran
    /// (arity, NOAUTH, ACL, BUSY, subscribed mode), commandstats' rejected_calls.
    pub rejected: Vec<AtomicU64>,
    /// Error replies sent to RESP clients, by their first word (INFO errorstats).
    pub errors: Mutex<HashMap<String, u64>>,
    /// (time, commands_processed) taken at most every OPS_SAMPLE_MS, for
    /// instantaneous_ops_per_sec.
    ops_samples: Mutex<VecDeque<(Instant, u64)>>,
    /// Per-command latency histograms and the latency monitor (INFO latencystats, LATENCY).
    pub latency: crate::latency::Latency,
    /// Milliseconds after `born` of the newest sample.
    last_sample_ms: AtomicU64,
    born: Instant,
}

const OPS_SAMPLE_MS: u64 = 100;
/// The window instantaneous_ops_per_sec averages over.
const OPS_WINDOW: std::time::Duration = std::time::Duration::from_millis(1_600);

impl Stats {
    fn new() -> Stats {
        let n = engine::COMMANDS().len();
        Stats {
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            commands_processed: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            evicted_keys: AtomicU64::new(0),
            per_cmd: (0..n)
                .map(|_| [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)])
                .collect(),
            rejected: (0..n).map(|_| AtomicU64::new(0)).collect(),
            errors: Mutex::new(HashMap::new()),
            ops_samples: Mutex::new(VecDeque::new()),
            latency: crate::latency::Latency::new(n),
            last_sample_ms: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    /// Counts one error reply (total_error_replies) under its prefix ("ERR",
    /// "WRONGTYPE", "BUSY", ...): as Redis, the text up to a space within its first 31
    /// bytes, else "ERR".
    pub fn count_error(&self, msg: &str) {
        self.error_replies.fetch_add(1, Ordering::Relaxed);
        let head = &msg.as_bytes()[..msg.len().min(31)];
        let prefix = match head.iter().position(|&b| b == b' ') {
            Some(n) if n > 0 => &msg[..n],
            _ => "ERR",
        };
        if let Ok(mut m) = self.errors.lock() {
            // Redis caps the table too, so a client cannot grow it without bound.
            if m.len() < 128 || m.contains_key(prefix) {
                *m.entry(prefix.to_string()).or_insert(0) += 1;
            }
        }
    }

    /// Commands per second over the last OPS_WINDOW (0 when idle).
    pub fn ops_per_sec(&self) -> f64 {
        let now = Instant::now();
        let count = self.commands_processed.load(Ordering::Relaxed);
        let Ok(q) = self.ops_samples.lock() else {
            return 0.0;
        };
        let Some(&(t, c)) = q.iter().find(|(t, _)| now.duration_since(*t) <= OPS_WINDOW) else {
            return 0.0;
        };
        let secs = now
            .duration_since(t)
            .as_secs_f64()
            .max(OPS_SAMPLE_MS as f64 / 1000.0);
        count.saturating_sub(c) as f64 / secs
    }

    fn sample_ops(&self, count: u64) {
        let ms = self.born.elapsed().as_millis() as u64;
        let last = self.last_sample_ms.load(Ordering::Relaxed);
        if ms < last + OPS_SAMPLE_MS
            || self
                .last_sample_ms
                .compare_exchange(last, ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Ok(mut q) = self.ops_samples.lock() {
            let now = Instant::now();
            q.push_back((now, count));
            while q
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > OPS_WINDOW)
                || q.len() > 64
            {
                q.pop_front();
            }
        }
    }

    pub fn record(&self, spec: &'static CommandSpec, usec: u64, failed: bool) {
        let n = self.commands_processed.fetch_add(1, Ordering::Relaxed);
        self.sample_ops(n);
        let base = engine::COMMANDS().as_ptr() as usize;
        let idx = (spec as *const CommandSpec as usize - base) / std::mem::size_of::<CommandSpec>();
        if let Some(c) = self.per_cmd.get(idx) {
            c[0].fetch_add(1, Ordering::Relaxed);
            c[1].fetch_add(usec, Ordering::Relaxed);
            if failed {
                c[2].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency
            .record(idx, spec.flags & engine::flags::FAST != 0, usec);
    }

    /// A call of `spec` rejected before it ran; its error is counted where it is sent.
    pub fn reject(&self, spec: &'static CommandSpec) {
        if let Some(r) = self.rejected.get(engine::command_index(spec)) {
            r.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn reset(&self) {
        self.latency.reset_histograms();
        if let Ok(mut m) = self.errors.lock() {
            m.clear();
        }
        if let Ok(mut q) = self.ops_samples.lock() {
            q.clear();
        }
        for r in &self.rejected {
            r.store(0, Ordering::Relaxed);
        }
        for c in &self.per_cmd {
            for v in c {
                v.store(0, Ordering::Relaxed);
            }
        }
        for v in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.error_replies,
        ] {
            v.store(0, Ordering::Relaxed);
        }
    }
}
