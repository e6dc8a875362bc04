//! The registry of connected clients (CLIENT LIST / INFO / KILL, INFO clients).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub created: Instant,
    pub last_cmd_at: Instant,
    pub last_cmd: String,
    pub db: u8,
    pub resp: u8,
    pub no_evict: bool,
    pub no_touch: bool,
    pub user: String,
    /// (channel + shard subscriptions, pattern subscriptions), for CLIENT LIST.
    pub sub_count: (usize, usize),
}

impl ClientInfo {
    /// A fresh connection's record: db 0, RESP2, the default user.
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr) -> ClientInfo {
        let now = Instant::now();
        ClientInfo {
            id,
            addr,
            laddr,
            name: Vec::new(),
            lib_name: Vec::new(),
            lib_ver: Vec::new(),
            created: now,
            last_cmd_at: now,
            last_cmd: String::new(),
            db: 0,
            resp: 2,
            no_evict: false,
            no_touch: false,
            user: "default".into(),
            sub_count: (0, 0),
        }
    }

    /// One line of CLIENT LIST, in Redis's field order.
    pub fn line(&self) -> String {
        let mut flags = String::new();
        if self.no_evict {
            flags.push('e');
        }
        if self.no_touch {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            String::from_utf8_lossy(&self.name),
            self.created.elapsed().as_secs(),
            self.last_cmd_at.elapsed().as_secs(),
            flags,
            self.db,
            self.sub_count.0,
            self.sub_count.1,
            if self.last_cmd.is_empty() { "NULL" } else { &self.last_cmd },
            self.user,
            self.resp,
            String::from_utf8_lossy(&self.lib_name),
            String::from_utf8_lossy(&self.lib_ver),
        )
    }
}

pub struct Handle {
    pub info: Arc<Mutex<ClientInfo>>,
    pub kill: Arc<Notify>,
}

#[derive(Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Handle>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Clients {
    pub fn next_id(&self) -> u64 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    pub fn register(&self, info: Arc<Mutex<ClientInfo>>, kill: Arc<Notify>) {
        let id = info.lock().map(|i| i.id).unwrap_or(0);
        if let Ok(mut m) = self.map.lock() {
            m.insert(id, Handle { info, kill });
        }
    }

    pub fn unregister(&self, id: u64) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&id);
        }
    }

    pub fn count(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn snapshot(&self) -> Vec<ClientInfo> {
        let m = match self.map.lock() {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        m.values()
            .filter_map(|h| h.info.lock().ok().map(|i| i.clone()))
            .collect()
    }

    /// Kills every client `pred` selects; returns how many.
    pub fn kill_where(&self, pred: impl Fn(&ClientInfo) -> bool) -> usize {
        let m = match self.map.lock() {
            Ok(m) => m,
            Err(_) => return 0,
        };
        let mut n = 0;
        for h in m.values() {
            let hit = h.info.lock().map(|i| pred(&i)).unwrap_or(false);
            if hit {
                // notify_one stores a permit, so a client busy mid-command sees it next.
                h.kill.notify_one();
                n += 1;
            }
        }
        n
    }
}
