//! The node's message broker: pub/sub subscriptions, keyspace notifications, MONITOR
//! feeds and the wait lists of blocked clients.
//!
//! PUBLISH travels through the Raft log, so every node applies it; the state machine
//! hands each applied entry's messages, keyspace events and touched keys to
//! [`Broker::deliver`] (the consensus crate's `EventSink`), which fans them out to this
//! node's own subscribers and wakes this node's blocked clients. A message therefore
//! reaches subscribers on every node, in log order. Delivery never blocks the apply
//! loop: each client has a mailbox that counts the bytes it holds (queued or written
//! but not yet taken by the client's socket), and a subscriber over the `pubsub` class
//! of `client-output-buffer-limit` (default: 32 MB, or 8 MB for 60 s) is disconnected,
//! as in Redis. MONITOR feeds are held to the same class (in Redis they are `normal`
//! clients, unlimited by default; an unlimited feed nobody reads would grow without
//! bound here).
//! An entry applied long after it was written (a node catching up after downtime)
//! does not deliver its messages: pub/sub is fire-and-forget, not a replay log.

use engine::events::class;
use engine::{glob_match, Bus, Event, Touched};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{mpsc, Notify};

/// Entries older than this when applied deliver no messages (catch-up after downtime).
const STALE_MS: u64 = 30_000;

/// What a connection receives without asking.
#[derive(Debug, Clone)]
pub enum Push {
    Message {
        channel: Vec<u8>,
        payload: Vec<u8>,
    },
    PMessage {
        pattern: Vec<u8>,
        channel: Vec<u8>,
        payload: Vec<u8>,
    },
    SMessage {
        channel: Vec<u8>,
        payload: Vec<u8>,
    },
    /// One MONITOR line.
    Monitor(String),
}

impl Push {
    /// Bytes this message costs its receiver's output buffer: its strings plus about
    /// what the RESP framing around them adds.
    pub fn cost(&self) -> u64 {
        let n = match self {
            Push::Message { channel, payload } | Push::SMessage { channel, payload } => {
                channel.len() + payload.len()
            }
            Push::PMessage {
                pattern,
                channel,
                payload,
            } => pattern.len() + channel.len() + payload.len(),
            Push::Monitor(line) => line.len(),
        };
        n as u64 + 48
    }
}

/// What a mailbox holds that its client has not yet taken.
#[derive(Default)]
pub struct Pending {
    bytes: AtomicU64,
    /// Since when (ms since the epoch) it has been over the soft limit; 0: it is not.
    soft_since_ms: AtomicU64,
    /// Over its limit: the client is being disconnected and gets nothing more.
    dead: AtomicBool,
}

impl Pending {
    /// The client took `bytes` (they reached its socket).
    pub fn taken(&self, bytes: u64) {
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A connection's delivery address: its mailbox, its kill switch, and the bytes it holds.
#[derive(Clone)]
pub struct Mailbox {
    pub id: u64,
    pub tx: mpsc::UnboundedSender<Push>,
    pub kill: Arc<Notify>,
    pub pending: Arc<Pending>,
    pub limits: Arc<crate::clients::OutputLimits>,
}

impl Mailbox {
    /// A mailbox for client `id` and the receiving end its connection reads.
    pub fn new(
        id: u64,
        kill: Arc<Notify>,
        limits: Arc<crate::clients::OutputLimits>,
    ) -> (Mailbox, mpsc::UnboundedReceiver<Push>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Mailbox {
                id,
                tx,
                kill,
                pending: Arc::new(Pending::default()),
                limits,
            },
            rx,
        )
    }

    fn send(&self, p: Push) -> bool {
        if self.pending.is_dead() {
            return false;
        }
        let cost = p.cost();
        let held = self.pending.bytes.fetch_add(cost, Ordering::AcqRel) + cost;
        let limit = self.limits.get(crate::clients::CLASS_PUBSUB);
        if limit.exceeded(held, &self.pending.soft_since_ms, now_ms()) {
            self.pending.bytes.fetch_sub(cost, Ordering::AcqRel);
            if !self.pending.dead.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    "client id={} closed for overcoming of output buffer limits ({} bytes pending; pubsub class: {} {} {})",
                    self.id, held, limit.hard, limit.soft, limit.soft_secs
                );
                self.kill.notify_one();
            }
            return false;
        }
        match self.tx.send(p) {
            Ok(()) => true,
            Err(_) => {
                self.pending.bytes.fetch_sub(cost, Ordering::AcqRel);
                false
            }
        }
    }
}

#[derive(Default)]
struct Subs {
    channels: HashMap<Vec<u8>, BTreeMap<u64, Mailbox>>,
    patterns: HashMap<Vec<u8>, BTreeMap<u64, Mailbox>>,
    shard: HashMap<Vec<u8>, BTreeMap<u64, Mailbox>>,
    /// Client id → what it subscribes to, so a hang-up costs that client's own
    /// subscriptions, not every subscription on the node.
    by_client: HashMap<u64, HashSet<(Kind, Vec<u8>)>>,
}

/// WATCHed keys: by key (for writes) and by client (so UNWATCH, EXEC and hang-ups cost
/// the client's own keys only).
#[derive(Default)]
struct Watched {
    by_key: HashMap<(u8, Vec<u8>), Vec<(u64, Arc<AtomicBool>)>>,
    by_client: HashMap<u64, HashSet<(u8, Vec<u8>)>>,
}

/// How a blocked client was released by CLIENT UNBLOCK.
pub const UNBLOCK_NONE: u8 = 0;
pub const UNBLOCK_TIMEOUT: u8 = 1;
pub const UNBLOCK_ERROR: u8 = 2;

/// A blocked client's wake-up handle.
pub struct Waiter {
    pub notify: Notify,
    pub unblock: AtomicU8,
}

#[derive(Default)]
pub struct Broker {
    subs: RwLock<Subs>,
    keyspace: AtomicU32,
    /// (db, key) → clients blocked on it, in arrival order.
    waiting: Mutex<HashMap<(u8, Vec<u8>), Vec<(u64, Arc<Waiter>)>>>,
    /// Client id → its handle while it is blocked (CLIENT UNBLOCK).
    blocked: Mutex<HashMap<u64, Arc<Waiter>>>,
    monitors: Mutex<BTreeMap<u64, Mailbox>>,
    monitor_count: AtomicUsize,
    /// (db, key) → WATCHing clients and their "a watched key was touched" flag, raised
    /// by every applied write to the key (as Redis's touchWatchedKey), deletes included.
    watched: Mutex<Watched>,
    pub messages_delivered: AtomicU64,
    pub stale_skipped: AtomicU64,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Broker {
    fn map<'a>(subs: &'a mut Subs, kind: Kind) -> &'a mut HashMap<Vec<u8>, BTreeMap<u64, Mailbox>> {
        match kind {
            Kind::Channel => &mut subs.channels,
            Kind::Pattern => &mut subs.patterns,
            Kind::Shard => &mut subs.shard,
        }
    }

    pub fn subscribe(&self, kind: Kind, name: &[u8], mb: &Mailbox) {
        let mut s = self.subs.write().unwrap_or_else(|e| e.into_inner());
        Self::map(&mut s, kind)
            .entry(name.to_vec())
            .or_default()
            .insert(mb.id, mb.clone());
        s.by_client
            .entry(mb.id)
            .or_default()
            .insert((kind, name.to_vec()));
    }

    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) {
        let mut s = self.subs.write().unwrap_or_else(|e| e.into_inner());
        let m = Self::map(&mut s, kind);
        if let Some(set) = m.get_mut(name) {
            set.remove(&id);
            if set.is_empty() {
                m.remove(name);
            }
        }
        if let Some(mine) = s.by_client.get_mut(&id) {
            mine.remove(&(kind, name.to_vec()));
            if mine.is_empty() {
                s.by_client.remove(&id);
            }
        }
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: active channels matching `pattern`.
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        let s = self.subs.read().unwrap_or_else(|e| e.into_inner());
        let m = if kind == Kind::Shard {
            &s.shard
        } else {
            &s.channels
        };
        let mut out: Vec<Vec<u8>> = m
            .keys()
            .filter(|c| pattern.map_or(true, |p| glob_match(p, c, false)))
            .cloned()
            .collect();
        out.sort();
        out
    }

    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        let s = self.subs.read().unwrap_or_else(|e| e.into_inner());
        let m = if kind == Kind::Shard {
            &s.shard
        } else {
            &s.channels
        };
        m.get(channel).map_or(0, |c| c.len())
    }

    pub fn numpat(&self) -> usize {
        let s = self.subs.read().unwrap_or_else(|e| e.into_inner());
        s.patterns.len()
    }

    pub fn set_keyspace_flags(&self, f: u32) {
        self.keyspace.store(f, Ordering::Relaxed);
    }

    pub fn keyspace_flags_value(&self) -> u32 {
        self.keyspace.load(Ordering::Relaxed)
    }

    // ---- MONITOR ----------------------------------------------------------------------

    pub fn add_monitor(&self, mb: &Mailbox) {
        let mut m = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(mb.id, mb.clone());
        self.monitor_count.store(m.len(), Ordering::Relaxed);
    }

    pub fn remove_monitor(&self, id: u64) {
        let mut m = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(&id);
        self.monitor_count.store(m.len(), Ordering::Relaxed);
    }

    pub fn has_monitors(&self) -> bool {
        self.monitor_count.load(Ordering::Relaxed) > 0
    }

    /// Sends a MONITOR line to every monitor but the client that ran the command.
    pub fn feed_monitors(&self, from: u64, line: &str) {
        let m = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        for (id, mb) in m.iter() {
            if *id != from {
                mb.send(Push::Monitor(line.to_string()));
            }
        }
    }

    // ---- blocked clients --------------------------------------------------------------

    /// Registers client `id` as waiting on `keys`; the handle wakes on a write to any of
    /// them or on CLIENT UNBLOCK.
    pub fn block(&self, id: u64, db: u8, keys: &[Vec<u8>]) -> Arc<Waiter> {
        let w = Arc::new(Waiter {
            notify: Notify::new(),
            unblock: AtomicU8::new(UNBLOCK_NONE),
        });
        let mut m = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            m.entry((db, k.clone())).or_default().push((id, w.clone()));
        }
        drop(m);
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, w.clone());
        w
    }

    /// Unregisters a client that stopped waiting, and passes the turn on: the next
    /// waiter on each of its keys is woken to look (the key may still hold data, or a
    /// wake-up meant for this client may have arrived while it was busy).
    pub fn unblock_done(&self, id: u64, db: u8, keys: &[Vec<u8>]) {
        let mut m = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            let slot = (db, k.clone());
            if let Some(list) = m.get_mut(&slot) {
                list.retain(|(c, _)| *c != id);
                match list.first() {
                    Some((_, next)) => next.notify.notify_one(),
                    None => {
                        m.remove(&slot);
                    }
                }
            }
        }
        drop(m);
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// CLIENT UNBLOCK: true if `id` was blocked.
    pub fn client_unblock(&self, id: u64, how: u8) -> bool {
        let b = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        match b.get(&id) {
            Some(w) => {
                w.unblock.store(how, Ordering::SeqCst);
                w.notify.notify_one();
                true
            }
            None => false,
        }
    }

    pub fn blocked_clients(&self) -> usize {
        self.blocked.lock().map(|b| b.len()).unwrap_or(0)
    }

    /// Client `id` WATCHes `key` in `db`: `touched` is raised when an applied entry
    /// writes or deletes it.
    pub fn watch(&self, id: u64, db: u8, key: &[u8], touched: &Arc<AtomicBool>) {
        let mut w = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        if !w
            .by_client
            .entry(id)
            .or_default()
            .insert((db, key.to_vec()))
        {
            return;
        }
        w.by_key
            .entry((db, key.to_vec()))
            .or_default()
            .push((id, touched.clone()));
    }

    /// Forgets every key client `id` watches (EXEC, DISCARD, UNWATCH, RESET, hang-up).
    pub fn unwatch(&self, id: u64) {
        let mut w = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        let Some(keys) = w.by_client.remove(&id) else {
            return;
        };
        for slot in keys {
            if let Some(list) = w.by_key.get_mut(&slot) {
                list.retain(|(i, _)| *i != id);
                if list.is_empty() {
                    w.by_key.remove(&slot);
                }
            }
        }
    }

    fn touch_watched(&self, touched: &[Touched]) {
        let w = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        if w.by_key.is_empty() {
            return;
        }
        for t in touched {
            if let Some(list) = w.by_key.get(&(t.db, t.key.clone())) {
                for (_, flag) in list {
                    flag.store(true, Ordering::SeqCst);
                }
            }
        }
    }

    /// Forgets everything about a closed connection.
    pub fn remove_client(&self, id: u64) {
        {
            let mut guard = self.subs.write().unwrap_or_else(|e| e.into_inner());
            let s = &mut *guard;
            for (kind, name) in s.by_client.remove(&id).unwrap_or_default() {
                let m = Self::map(s, kind);
                if let Some(set) = m.get_mut(&name) {
                    set.remove(&id);
                    if set.is_empty() {
                        m.remove(&name);
                    }
                }
            }
        }
        self.remove_monitor(id);
        self.unwatch(id);
    }

    // ---- delivery ---------------------------------------------------------------------

    fn publish_local(&self, channel: &[u8], payload: &[u8], sharded: bool) -> usize {
        let s = self.subs.read().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        if sharded {
            if let Some(set) = s.shard.get(channel) {
                for mb in set.values() {
                    n += mb.send(Push::SMessage {
                        channel: channel.to_vec(),
                        payload: payload.to_vec(),
                    }) as usize;
                }
            }
            return n;
        }
        if let Some(set) = s.channels.get(channel) {
            for mb in set.values() {
                n += mb.send(Push::Message {
                    channel: channel.to_vec(),
                    payload: payload.to_vec(),
                }) as usize;
            }
        }
        for (pat, set) in &s.patterns {
            if glob_match(pat, channel, false) {
                for mb in set.values() {
                    n += mb.send(Push::PMessage {
                        pattern: pat.clone(),
                        channel: channel.to_vec(),
                        payload: payload.to_vec(),
                    }) as usize;
                }
            }
        }
        n
    }

    fn wake(&self, db: u8, key: &[u8]) {
        let m = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        // FIFO: only the longest-waiting client looks; when it is served (or gives up)
        // it passes the turn to the next one (`unblock_done`).
        if let Some((_, w)) = m.get(&(db, key.to_vec())).and_then(|l| l.first()) {
            w.notify.notify_one();
        }
    }
}

impl Bus for Broker {
    fn receivers(&self, channel: &[u8], sharded: bool) -> i64 {
        let s = self.subs.read().unwrap_or_else(|e| e.into_inner());
        if sharded {
            return s.shard.get(channel).map_or(0, |c| c.len()) as i64;
        }
        let direct = s.channels.get(channel).map_or(0, |c| c.len());
        let pats: usize = s
            .patterns
            .iter()
            .filter(|(p, _)| glob_match(p, channel, false))
            .map(|(_, set)| set.len())
            .sum();
        (direct + pats) as i64
    }

    fn keyspace_flags(&self) -> u32 {
        self.keyspace.load(Ordering::Relaxed)
    }
}

impl consensus::EventSink for Broker {
    fn deliver(&self, entry_ms: u64, touched: Vec<Touched>, events: Vec<Event>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let fresh = now.saturating_sub(entry_ms) <= STALE_MS;
        if !events.is_empty() && !fresh {
            self.stale_skipped
                .fetch_add(events.len() as u64, Ordering::Relaxed);
        }
        if fresh {
            for e in events {
                let n = match e {
                    Event::Message {
                        channel,
                        payload,
                        sharded,
                    } => self.publish_local(&channel, &payload, sharded),
                    Event::Keyspace {
                        db,
                        event,
                        key,
                        class: _,
                    } => {
                        let flags = self.keyspace.load(Ordering::Relaxed);
                        let mut n = 0;
                        if flags & class::KEYSPACE != 0 {
                            let mut ch = format!("__keyspace@{db}__:").into_bytes();
                            ch.extend_from_slice(&key);
                            n += self.publish_local(&ch, event.as_bytes(), false);
                        }
                        if flags & class::KEYEVENT != 0 {
                            let ch = format!("__keyevent@{db}__:{event}").into_bytes();
                            n += self.publish_local(&ch, &key, false);
                        }
                        n
                    }
                };
                self.messages_delivered
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        self.touch_watched(&touched);
        for t in touched {
            if !matches!(t.touch, engine::Touch::Deleted | engine::Touch::Expired) {
                self.wake(t.db, &t.key);
            }
        }
    }
}
