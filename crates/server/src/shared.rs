//! State every connection shares: the node, settings, clients, statistics.

use crate::clients::Clients;
use crate::config::Config;
use consensus::Node;
use engine::CommandSpec;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

pub struct Shared {
    pub node: Arc<Node>,
    /// Pub/sub, keyspace notifications, MONITOR and blocked clients of this node.
    pub broker: Arc<crate::pubsub::Broker>,
    pub cfg: Config,
    pub local: SocketAddr,
    /// None when authentication is off.
    pub password: RwLock<Option<String>>,
    pub clients: Clients,
    pub stats: Stats,
    pub started: Instant,
    pub maxclients: AtomicUsize,
    /// Open connections, RESP and REST together, held against `maxclients`.
    pub open_conns: AtomicUsize,
    /// `client-output-buffer-limit`.
    pub obuf: Arc<crate::clients::OutputLimits>,
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
            node,
            broker,
            maxclients: AtomicUsize::new(cfg.maxclients),
            open_conns: AtomicUsize::new(0),
            obuf: Arc::new(crate::clients::OutputLimits::default()),
            cfg,
            local,
            password: RwLock::new(password),
            clients: Clients::default(),
            stats: Stats::new(),
            started: Instant::now(),
        }
    }

    /// Takes a connection slot, or None when `maxclients` connections are open (RESP
    /// and REST count together). Taking and checking is one step, so a flood of
    /// simultaneous connections cannot overshoot the limit.
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
    /// Per command, indexed like engine::COMMANDS(): calls, microseconds, failed calls.
    pub per_cmd: Vec<[AtomicU64; 3]>,
}

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
            per_cmd: (0..n)
                .map(|_| [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)])
                .collect(),
        }
    }

    pub fn record(&self, spec: &'static CommandSpec, usec: u64, failed: bool) {
        self.commands_processed.fetch_add(1, Ordering::Relaxed);
        let base = engine::COMMANDS().as_ptr() as usize;
        let idx = (spec as *const CommandSpec as usize - base) / std::mem::size_of::<CommandSpec>();
        if let Some(c) = self.per_cmd.get(idx) {
            c[0].fetch_add(1, Ordering::Relaxed);
            c[1].fetch_add(usec, Ordering::Relaxed);
            if failed {
                c[2].fetch_add(1, Ordering::Relaxed);
            }
        }
        if failed {
            self.error_replies.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn reset(&self) {
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
