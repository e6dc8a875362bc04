//! The registry of connected clients (CLIENT LIST / INFO / KILL, INFO clients).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The connection's socket descriptor (-1 for REST requests).
    pub fd: i64,
    /// The session state CLIENT LIST shows, as the session last published it
    /// (`Session::publish_state`).
    pub state: SessionState,
    /// Filled in when a list is made: blocked in a command (`b`), tracking redirect
    /// broken (`R`).
    pub blocked: bool,
    pub broken_redir: bool,
}

/// What a session publishes of itself for CLIENT LIST / INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionState {
    /// Commands queued in MULTI, -1 outside MULTI.
    pub multi: i64,
    pub watch: usize,
    pub monitor: bool,
    pub tracking: bool,
    pub bcast: bool,
    /// The tracking redirect: -1 when not tracking, 0 when not redirecting.
    pub redir: i64,
    /// A WATCHed key was touched (`d`).
    pub dirty_cas: bool,
}

impl Default for SessionState {
    fn default() -> Self {
        SessionState {
            multi: -1,
            watch: 0,
            monitor: false,
            tracking: false,
            bcast: false,
            redir: -1,
            dirty_cas: false,
        }
    }
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
            fd: -1,
            state: SessionState::default(),
            blocked: false,
            broken_redir: false,
        }
    }

    /// Subscribed to a channel, pattern or shard channel (flag `P`, type `pubsub`).
    pub fn is_pubsub(&self) -> bool {
        self.sub_count.0 + self.sub_count.1 > 0
    }

    /// Redis's flag letters, in Redis's order.
    pub fn flags(&self) -> String {
        let st = &self.state;
        let mut flags = String::new();
        for (on, c) in [
            (st.monitor, 'O'),
            (self.is_pubsub(), 'P'),
            (st.multi >= 0, 'x'),
            (self.blocked, 'b'),
            (st.tracking, 't'),
            (self.broken_redir, 'R'),
            (st.bcast, 'B'),
            (st.dirty_cas, 'd'),
            (self.no_evict, 'e'),
            (self.no_touch, 'T'),
        ] {
            if on {
                flags.push(c);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }

    /// One line of CLIENT LIST, in Redis's field order.
    pub fn line(&self) -> String {
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} watch={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&self.name),
            self.created.elapsed().as_secs(),
            self.last_cmd_at.elapsed().as_secs(),
            self.flags(),
            self.db,
            self.sub_count.0,
            self.sub_count.1,
            self.state.multi,
            self.state.watch,
            if self.last_cmd.is_empty() { "NULL" } else { &self.last_cmd },
            self.user,
            self.state.redir,
            self.resp,
            String::from_utf8_lossy(&self.lib_name),
            String::from_utf8_lossy(&self.lib_ver),
        )
    }
}

pub struct Handle {
    pub info: Arc<Mutex<ClientInfo>>,
    pub kill: Arc<Notify>,
    /// Where pushes reach the client (a CLIENT TRACKING REDIRECT target).
    pub mailbox: Option<crate::pubsub::Mailbox>,
}

#[derive(Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Handle>>,
    next_id: std::sync::atomic::AtomicU64,
    pause: Pause,
}

/// CLIENT PAUSE: until when (ms since the epoch; 0: no pause) and whether every command
/// waits (`ALL`) or only writes (`WRITE`).
#[derive(Default)]
struct Pause {
    until_ms: AtomicU64,
    all: std::sync::atomic::AtomicBool,
    changed: Notify,
    /// Clients waiting for the pause to end: Redis counts them in `blocked_clients`.
    waiting: std::sync::atomic::AtomicUsize,
}

/// Whether CLIENT PAUSE WRITE holds `argv` back, as Redis 7.0's processCommand decides:
/// commands Redis flags `write` or `may_replicate` (PUBLISH, PFCOUNT, EVAL of a script
/// without a shebang, ...), scripts and functions unless they declare `no-writes`; a
/// command with the wrong number of arguments is answered at once. Commands Redis lacks
/// follow Meridian's table. Called only while a pause is in force.
pub fn held_by_write_pause(
    shared: &crate::shared::Shared,
    spec: &engine::CommandSpec,
    argv: &[Vec<u8>],
) -> bool {
    if engine::check_arity(spec, argv).is_err() {
        return false;
    }
    if spec.flags & engine::flags::RUNS_SCRIPT != 0 {
        let t = engine::Txn::read_only(shared.reads.storage(), epoch_ms(), 0);
        return engine::ScriptControl::may_write(&t, argv);
    }
    let meta = engine::command_meta::meta(spec.name).and_then(|m| {
        if m.subcommands.is_empty() {
            return Some(m);
        }
        let sub = String::from_utf8_lossy(argv.get(1)?).to_ascii_lowercase();
        engine::command_meta::meta(&format!("{}|{sub}", spec.name))
    });
    // COMMAND INFO does not show may_replicate: PUBLISH and SPUBLISH carry it in the
    // table, PFCOUNT (which may rewrite its cache) is named.
    if spec.flags & engine::flags::MAY_REPLICATE != 0 || spec.name == "pfcount" {
        return true;
    }
    match meta {
        Some(m) => m.flags.iter().any(|f| f == "write"),
        None => spec.is_write(),
    }
}

fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Clients {
    pub fn next_id(&self) -> u64 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    pub fn register(
        &self,
        info: Arc<Mutex<ClientInfo>>,
        kill: Arc<Notify>,
        mailbox: Option<crate::pubsub::Mailbox>,
    ) {
        let id = info.lock().map(|i| i.id).unwrap_or(0);
        if let Ok(mut m) = self.map.lock() {
            m.insert(
                id,
                Handle {
                    info,
                    kill,
                    mailbox,
                },
            );
        }
    }

    /// The mailbox of connected client `id`.
    pub fn mailbox(&self, id: u64) -> Option<crate::pubsub::Mailbox> {
        self.map.lock().ok()?.get(&id)?.mailbox.clone()
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

    /// CLIENT PAUSE: pauses until `until_ms` (ms since the epoch), all commands or only
    /// writes. As in Redis, a pause already in force keeps the later end and the
    /// stronger mode of the two.
    pub fn pause(&self, until_ms: u64, all: bool) {
        let p = &self.pause;
        let old = p.until_ms.load(Ordering::SeqCst);
        let active = old > epoch_ms();
        let all = all || (active && p.all.load(Ordering::SeqCst));
        p.all.store(all, Ordering::SeqCst);
        p.until_ms.store(
            if active { old.max(until_ms) } else { until_ms },
            Ordering::SeqCst,
        );
        p.changed.notify_waiters();
    }

    /// Until when (unix ms) the pause in force lasts; 0 without one.
    pub fn pause_until_ms(&self) -> u64 {
        self.pause.until_ms.load(Ordering::SeqCst)
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self) {
        self.pause.until_ms.store(0, Ordering::SeqCst);
        self.pause.changed.notify_waiters();
    }

    /// Whether a pause is in force, and if so whether it holds every command (`ALL`).
    /// One atomic load when there is none.
    pub fn paused(&self) -> Option<bool> {
        let until = self.pause.until_ms.load(Ordering::SeqCst);
        if until == 0 || until <= epoch_ms() {
            return None;
        }
        Some(self.pause.all.load(Ordering::SeqCst))
    }

    /// Clients waiting for a pause to end now (INFO's `blocked_clients` counts them).
    pub fn paused_waiting(&self) -> usize {
        self.pause.waiting.load(Ordering::SeqCst)
    }

    /// Waits until the pause ends (times out, CLIENT UNPAUSE) or changes.
    pub async fn pause_changed(&self) {
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.pause.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.pause.waiting);
        let changed = self.pause.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let until = self.pause.until_ms.load(Ordering::SeqCst);
        let now = epoch_ms();
        if until <= now {
            return;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_millis(until - now), changed).await;
    }

    /// Kills every client `pred` selects; returns how many.
    pub fn kill_where(&self, mut pred: impl FnMut(&ClientInfo) -> bool) -> usize {
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

/// Client classes of `client-output-buffer-limit`, in Redis's order.
pub const CLASS_NORMAL: usize = 0;
pub const CLASS_REPLICA: usize = 1;
pub const CLASS_PUBSUB: usize = 2;
/// Names as CONFIG GET prints them (Redis 7 still says `slave`).
const CLASS_NAMES: [&str; 3] = ["normal", "slave", "pubsub"];

/// One class's limits: bytes of unsent output. A client over `hard`, or over `soft` for
/// longer than `soft_secs` seconds, is disconnected. 0 disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObufLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

impl ObufLimit {
    /// Whether `pending` unsent bytes break the limit, given since when (ms) the client
    /// has been over the soft limit; updates that moment (0: not over), as Redis's
    /// `checkClientOutputBufferLimits`.
    pub fn exceeded(&self, pending: u64, soft_since_ms: &AtomicU64, now_ms: u64) -> bool {
        if self.hard > 0 && pending >= self.hard {
            return true;
        }
        if self.soft > 0 && pending >= self.soft {
            let since = soft_since_ms.load(Ordering::Relaxed);
            if since == 0 {
                soft_since_ms.store(now_ms.max(1), Ordering::Relaxed);
                return false;
            }
            return now_ms.saturating_sub(since) > self.soft_secs * 1000;
        }
        soft_since_ms.store(0, Ordering::Relaxed);
        false
    }
}

/// `client-output-buffer-limit`: per class (normal, replica, pubsub) hard limit, soft
/// limit and soft seconds. Defaults are Redis's: `normal 0 0 0`, `replica 256mb 64mb
/// 60`, `pubsub 32mb 8mb 60`.
pub struct OutputLimits {
    v: [[AtomicU64; 3]; 3],
}

impl Default for OutputLimits {
    fn default() -> Self {
        let l = |h: u64, s: u64, t: u64| [AtomicU64::new(h), AtomicU64::new(s), AtomicU64::new(t)];
        OutputLimits {
            v: [
                l(0, 0, 0),
                l(256 << 20, 64 << 20, 60),
                l(32 << 20, 8 << 20, 60),
            ],
        }
    }
}

/// Redis's `memtoull`: digits with an optional unit (`b`, `k`=1000, `kb`=1024, `m`,
/// `mb`, `g`, `gb`, any case).
pub fn memtoull(s: &str) -> Option<u64> {
    let digits_end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (digits, unit) = s.split_at(digits_end);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    n.checked_mul(mul)
}

impl OutputLimits {
    pub fn get(&self, class: usize) -> ObufLimit {
        let c = &self.v[class];
        ObufLimit {
            hard: c[0].load(Ordering::Relaxed),
            soft: c[1].load(Ordering::Relaxed),
            soft_secs: c[2].load(Ordering::Relaxed),
        }
    }

    /// CONFIG GET's value: `normal 0 0 0 slave 268435456 67108864 60 pubsub ...`.
    pub fn config_string(&self) -> String {
        (0..3)
            .map(|c| {
                let l = self.get(c);
                format!("{} {} {} {}", CLASS_NAMES[c], l.hard, l.soft, l.soft_secs)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// CONFIG SET's value: groups of `<class> <hard> <soft> <soft seconds>`; classes not
    /// named keep their limits. On error nothing changes and the reason is returned
    /// (Redis's words).
    pub fn set(&self, value: &str) -> Result<(), &'static str> {
        let words: Vec<&str> = value.split_ascii_whitespace().collect();
        if words.len() % 4 != 0 {
            return Err("Wrong number of arguments in buffer limit configuration.");
        }
        let mut changes = Vec::new();
        for g in words.chunks(4) {
            let class = match g[0].to_ascii_lowercase().as_str() {
                "normal" => CLASS_NORMAL,
                "slave" | "replica" => CLASS_REPLICA,
                "pubsub" => CLASS_PUBSUB,
                _ => return Err("Invalid client class specified in buffer limit configuration."),
            };
            let bad = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            let hard = memtoull(g[1]).ok_or(bad)?;
            let soft = memtoull(g[2]).ok_or(bad)?;
            let secs: i64 = g[3].parse().map_err(|_| bad)?;
            if secs < 0 || secs > i64::from(i32::MAX) {
                return Err(bad);
            }
            changes.push((class, [hard, soft, secs as u64]));
        }
        for (class, vals) in changes {
            for (slot, v) in self.v[class].iter().zip(vals) {
                slot.store(v, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_limits_config_round_trip() {
        let l = OutputLimits::default();
        assert_eq!(
            l.config_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        l.set("pubsub 1mb 512kb 5 normal 10k 0 0").unwrap();
        assert_eq!(
            l.config_string(),
            "normal 10000 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 5"
        );
        assert!(l.set("pubsub 1 2").unwrap_err().starts_with("Wrong number"));
        assert!(l
            .set("master 1 2 3")
            .unwrap_err()
            .starts_with("Invalid client class"));
        assert!(l
            .set("normal -1 0 0")
            .unwrap_err()
            .starts_with("Error in hard"));
        assert!(l
            .set("normal 1 0 x")
            .unwrap_err()
            .starts_with("Error in hard"));
        assert!(l
            .set("normal 1xb 0 0")
            .unwrap_err()
            .starts_with("Error in hard"));
        // A failed SET changes nothing.
        assert!(l.set("normal 5 5 5 foo 1 1 1").is_err());
        assert_eq!(l.get(CLASS_NORMAL).hard, 10000);
    }

    #[test]
    fn soft_limit_needs_time() {
        let l = ObufLimit {
            hard: 100,
            soft: 10,
            soft_secs: 2,
        };
        let since = AtomicU64::new(0);
        assert!(!l.exceeded(5, &since, 1000));
        assert!(!l.exceeded(50, &since, 1000));
        assert!(!l.exceeded(50, &since, 3000));
        assert!(l.exceeded(50, &since, 3001));
        assert!(l.exceeded(100, &AtomicU64::new(0), 0));
        // Falling below the soft limit restarts the clock.
        assert!(!l.exceeded(5, &since, 3002));
        assert!(!l.exceeded(50, &since, 9000));
        let off = ObufLimit {
            hard: 0,
            soft: 0,
            soft_secs: 0,
        };
        assert!(!off.exceeded(u64::MAX, &since, 0));
    }
}
