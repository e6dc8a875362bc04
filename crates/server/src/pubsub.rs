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

/// The longest a write's reply waits for the blocked clients it woke (`Broker::settle`).
const SETTLE_MAX: std::time::Duration = std::time::Duration::from_millis(500);

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
    /// Client-side caching: these keys changed (`None`: FLUSHALL/FLUSHDB, every key).
    Invalidate(Option<Vec<Vec<u8>>>),
    /// Client-side caching: the client invalidations were redirected to has gone.
    RedirBroken(u64),
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
            Push::Invalidate(keys) => keys.iter().flatten().map(|k| k.len() + 16).sum(),
            Push::RedirBroken(_) => 0,
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

    /// Bytes queued or being written (CLIENT LIST's `omem`; non-zero: pushes wait).
    pub fn held(&self) -> u64 {
        self.bytes.load(Ordering::Acquire)
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

    pub(crate) fn send(&self, p: Push) -> bool {
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
    /// The wake it is looking on behalf of while it has the turn (see
    /// [`Broker::settle`]); 0 while it just waits. Changed under the `waiting` lock.
    turn: AtomicU64,
    /// Woken again while it had the turn: it looks once more before passing it on.
    again: AtomicBool,
}

/// The wait lists of blocked clients and the wakes being served.
#[derive(Default)]
struct Waiting {
    /// (db, key) → clients blocked on it, in arrival order.
    by_key: HashMap<(u8, Vec<u8>), Vec<(u64, Arc<Waiter>)>>,
    /// Wake number → how many waiters are looking on its behalf. A wake starts when a
    /// write touches a key someone waits on; it lasts while the turn travels down the
    /// key's waiters, and while what a served waiter wrote wakes others (a BLMOVE that
    /// pushes to a list another client waits on).
    open: BTreeMap<u64, usize>,
    last_wake: u64,
}

#[derive(Default)]
pub struct Broker {
    /// Keys deleted because their TTL ran out, in entries applied on this node (INFO
    /// expired_keys): active expiry and deletes on access alike, as Redis counts.
    pub expired_keys: AtomicU64,
    subs: RwLock<Subs>,
    keyspace: AtomicU32,
    /// Blocked clients by key, and the wakes being served.
    waiting: Mutex<Waiting>,
    /// Waiters holding a turn (`Waiting::open`), readable without the lock.
    turns: AtomicUsize,
    /// Signalled when a turn ends (see [`Broker::settle`]).
    settled: Notify,
    /// Client id → its handle while it is blocked (CLIENT UNBLOCK).
    blocked: Mutex<HashMap<u64, Arc<Waiter>>>,
    monitors: Mutex<BTreeMap<u64, Mailbox>>,
    monitor_count: AtomicUsize,
    /// (db, key) → WATCHing clients and their "a watched key was touched" flag, raised
    /// by every applied write to the key (as Redis's touchWatchedKey), deletes included.
    watched: Mutex<Watched>,
    pub messages_delivered: AtomicU64,
    pub stale_skipped: AtomicU64,
    /// Client-side caching (CLIENT TRACKING) of this node's clients.
    pub tracking: crate::tracking::Tracking,
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
            turn: AtomicU64::new(0),
            again: AtomicBool::new(false),
        });
        let mut m = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            let list = m.by_key.entry((db, k.clone())).or_default();
            // The same key twice in one command (BLPOP k k 0) waits once.
            if !list.iter().any(|(c, _)| *c == id) {
                list.push((id, w.clone()));
            }
        }
        drop(m);
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, w.clone());
        w
    }

    /// Gives `w` the turn to look on behalf of wake `wake` (a new wake if `None`), or,
    /// if it is looking already, tells it to look once more.
    fn give_turn(&self, m: &mut Waiting, w: &Waiter, wake: Option<u64>) {
        if w.turn.load(Ordering::SeqCst) != 0 {
            w.again.store(true, Ordering::SeqCst);
        } else {
            let wake = wake.unwrap_or_else(|| {
                m.last_wake += 1;
                m.last_wake
            });
            w.turn.store(wake, Ordering::SeqCst);
            *m.open.entry(wake).or_default() += 1;
            self.turns.fetch_add(1, Ordering::SeqCst);
        }
        w.notify.notify_one();
    }

    /// Ends `w`'s turn, if it has one; the wake it looked for.
    fn end_turn(&self, m: &mut Waiting, w: &Waiter) -> Option<u64> {
        let wake = w.turn.swap(0, Ordering::SeqCst);
        if wake == 0 {
            return None;
        }
        if let Some(n) = m.open.get_mut(&wake) {
            *n -= 1;
            if *n == 0 {
                m.open.remove(&wake);
            }
        }
        self.turns.fetch_sub(1, Ordering::SeqCst);
        self.settled.notify_waiters();
        Some(wake)
    }

    /// Client `id` (`w`) looked after a wake and found nothing for it: unless it was
    /// woken again meanwhile (then it looks again, keeping the turn), the next client
    /// waiting on each of `keys` gets the turn, so every waiter on a key looks in
    /// arrival order (one waiting for another type, or for entries after another id,
    /// does not hold up the others).
    pub fn declined(&self, id: u64, w: &Waiter, db: u8, keys: &[Vec<u8>]) {
        if w.again.swap(false, Ordering::SeqCst) {
            return;
        }
        let mut m = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let Some(wake) = self.end_turn(&mut m, w) else {
            return;
        };
        let mut next = Vec::new();
        for k in keys {
            if let Some(list) = m.by_key.get(&(db, k.clone())) {
                if let Some(i) = list.iter().position(|(c, _)| *c == id) {
                    if let Some((_, n)) = list.get(i + 1) {
                        next.push(n.clone());
                    }
                }
            }
        }
        for n in next {
            self.give_turn(&mut m, &n, Some(wake));
        }
    }

    /// Unregisters a client that stopped waiting (served, timed out, unblocked, gone).
    /// The first waiter left on each of its `keys` gets the turn it had (the key may
    /// still hold data for it). A served client (`served`) also hands its wake to the
    /// clients already looking on any of `touched` (the keys it wrote, e.g. BLMOVE's
    /// destination), so [`Broker::settle`] waits for those chained serves too.
    pub fn unblock_done(&self, id: u64, db: u8, keys: &[Vec<u8>]) {
        self.leave(id, db, keys, None);
    }

    /// [`Broker::unblock_done`] for a client that was served, having written `touched`.
    pub fn served(&self, id: u64, db: u8, keys: &[Vec<u8>], touched: &[Vec<u8>]) {
        self.leave(id, db, keys, Some(touched));
    }

    fn leave(&self, id: u64, db: u8, keys: &[Vec<u8>], touched: Option<&[Vec<u8>]>) {
        let w = self
            .blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        let mut m = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let wake = w.as_ref().and_then(|w| {
            w.again.store(false, Ordering::SeqCst);
            let wake = w.turn.load(Ordering::SeqCst);
            (wake != 0).then_some(wake)
        });
        if let (Some(wake), Some(touched)) = (wake, touched) {
            // Waiters woken by this client's write take over its wake.
            let mut heirs = Vec::new();
            for k in touched {
                if let Some(list) = m.by_key.get(&(db, k.clone())) {
                    for (c, o) in list {
                        let t = o.turn.load(Ordering::SeqCst);
                        if *c != id && t > wake {
                            heirs.push((o.clone(), t));
                        }
                    }
                }
            }
            for (o, t) in heirs {
                if o.turn
                    .compare_exchange(t, wake, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    if let Some(n) = m.open.get_mut(&t) {
                        *n -= 1;
                        if *n == 0 {
                            m.open.remove(&t);
                        }
                    }
                    *m.open.entry(wake).or_default() += 1;
                }
            }
        }
        let mut next = Vec::new();
        for k in keys {
            let slot = (db, k.clone());
            if let Some(list) = m.by_key.get_mut(&slot) {
                list.retain(|(c, _)| *c != id);
                match list.first() {
                    Some((_, n)) => next.push(n.clone()),
                    None => {
                        m.by_key.remove(&slot);
                    }
                }
            }
        }
        if let Some(wake) = wake {
            for n in next {
                self.give_turn(&mut m, &n, Some(wake));
            }
        }
        if let Some(w) = &w {
            self.end_turn(&mut m, w);
        }
    }

    /// Waits (at most `SETTLE_MAX`) until every wake started so far has been served:
    /// each waiter it concerns has looked, and those served have had their own writes
    /// serve whoever those woke. A client whose write woke blocked clients on this node
    /// gets its reply after them, as in Redis, where blocked clients are served before
    /// the next command runs: after `RPUSH a x` answers, a client blocked in
    /// `BLMOVE a b` and another in `BLMOVE b c` have moved x to c. Costs one atomic load
    /// when no blocked client is being served.
    pub async fn settle(&self) {
        if self.turns.load(Ordering::SeqCst) == 0 {
            return;
        }
        let upto = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_wake;
        let deadline = tokio::time::Instant::now() + SETTLE_MAX;
        loop {
            let changed = self.settled.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let pending = {
                let m = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
                m.open.range(..=upto).next().is_some()
            };
            if !pending {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return;
            }
        }
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

    /// A write touched `key`: the longest-waiting client on it gets the turn to look;
    /// it passes the turn on when it is done (`declined`, `unblock_done`), so waiters
    /// are served in arrival order.
    fn wake(&self, db: u8, key: &[u8]) {
        let mut m = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = m
            .by_key
            .get(&(db, key.to_vec()))
            .and_then(|l| l.first())
            .cloned()
        {
            self.give_turn(&mut m, &w.1, None);
        }
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

    /// Client `id` is blocked in a command (flag `b` of CLIENT LIST).
    pub fn is_blocked(&self, id: u64) -> bool {
        self.blocked
            .lock()
            .map(|b| b.contains_key(&id))
            .unwrap_or(false)
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
        let expired = touched
            .iter()
            .filter(|t| t.touch == engine::Touch::Expired)
            .count();
        if expired > 0 {
            self.expired_keys
                .fetch_add(expired as u64, Ordering::Relaxed);
        }
        self.touch_watched(&touched);
        self.tracking.invalidate(&touched);
        // Deletes wake too: XREADGROUP's waiters learn that their stream is gone.
        for t in touched {
            self.wake(t.db, &t.key);
        }
    }
}
