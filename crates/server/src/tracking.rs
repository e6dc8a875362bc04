//! Client-side caching (CLIENT TRACKING): which clients of this node cached which keys,
//! and the invalidation messages an applied write sends them.
//!
//! Every node applies every log entry, and the broker hands each applied entry's touched
//! keys here ([`Tracking::invalidate`]), so a write made through any node invalidates the
//! keys tracked by clients of every node. Each node keeps only its own clients' table.
//! When no client of the node tracks, the apply pays one atomic load.
//!
//! As in Redis, the table is keyed by key name alone (not by database), an entry is
//! dropped once its invalidation is sent (the client must read the key again to track it
//! again), and entries of clients that stopped tracking are dropped lazily.

use crate::pubsub::{Mailbox, Push};
use engine::Touched;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// A tracking client's options (CLIENT TRACKING ON ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mode {
    /// The client invalidations go to instead (0: the client itself).
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// BCAST prefixes ("" when BCAST was given none: every key).
    pub prefixes: Vec<Vec<u8>>,
}

struct Client {
    mode: Mode,
    own: Mailbox,
    /// Where messages go: the redirect target's mailbox, or `own`.
    to: Mailbox,
    /// The redirect target has gone (flag `R`, `broken_redirect`).
    broken: AtomicBool,
}

#[derive(Default)]
struct Inner {
    clients: HashMap<u64, Client>,
    /// Key → clients that read it (default mode).
    keys: HashMap<Vec<u8>, HashSet<u64>>,
    /// NOLOOP clients' writes in flight: client → keys (one entry per expected write).
    /// The first applied touch of such a key is not reported to that client.
    writing: HashMap<u64, Vec<Vec<u8>>>,
}

pub struct Tracking {
    /// Tracking clients on this node: the apply's only cost while it is 0.
    active: AtomicUsize,
    inner: Mutex<Inner>,
    /// `tracking-table-max-keys` (0: no limit).
    max_keys: AtomicUsize,
    /// Keys the next [`Tracking::limit`] may evict: Redis's effort, 100 more after each
    /// call that left the table over the limit, back to 100 once it fits.
    effort: AtomicUsize,
}

/// Redis's default `tracking-table-max-keys`.
pub const DEFAULT_MAX_KEYS: usize = 1_000_000;
/// Keys evicted per [`Tracking::limit`] call at first (Redis's initial effort).
const EFFORT_STEP: usize = 100;

impl Default for Tracking {
    fn default() -> Tracking {
        Tracking {
            active: AtomicUsize::new(0),
            inner: Mutex::default(),
            max_keys: AtomicUsize::new(DEFAULT_MAX_KEYS),
            effort: AtomicUsize::new(EFFORT_STEP),
        }
    }
}

/// Whether one of two prefixes starts the other (Redis's `stringCheckPrefix`).
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

impl Tracking {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many clients of this node track (INFO's `tracking_clients`).
    pub fn clients(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// INFO's `tracking_total_keys` (keys in the table), `tracking_total_items` (client
    /// entries under them) and `tracking_total_prefixes` (distinct BCAST prefixes).
    pub fn totals(&self) -> (usize, usize, usize) {
        if self.clients() == 0 {
            return (0, 0, 0);
        }
        let g = self.lock();
        let items = g.keys.values().map(HashSet::len).sum();
        let prefixes: HashSet<&[u8]> = g
            .clients
            .values()
            .filter(|c| c.mode.bcast)
            .flat_map(|c| c.mode.prefixes.iter().map(Vec::as_slice))
            .collect();
        (g.keys.len(), items, prefixes.len())
    }

    /// CONFIG SET tracking-table-max-keys: the new limit, enforced at once.
    pub fn set_max_keys(&self, n: usize) {
        self.max_keys.store(n, Ordering::Relaxed);
        self.effort.store(EFFORT_STEP, Ordering::Relaxed);
        while self.limit() {}
    }

    /// Keeps the table within `tracking-table-max-keys`, as Redis does before each
    /// command: evicts up to the current effort of keys (in the table's own, arbitrary
    /// order), each one invalidated for the clients that cached it, as if it had been
    /// written. Returns whether the table is still over the limit.
    fn limit(&self) -> bool {
        let max = self.max_keys.load(Ordering::Relaxed);
        if max == 0 || self.clients() == 0 {
            return false;
        }
        let mut g = self.lock();
        let inner = &mut *g;
        if inner.keys.len() <= max {
            self.effort.store(EFFORT_STEP, Ordering::Relaxed);
            return false;
        }
        let effort = self.effort.load(Ordering::Relaxed);
        let n = (inner.keys.len() - max).min(effort);
        let victims: Vec<Vec<u8>> = inner.keys.keys().take(n).cloned().collect();
        for key in victims {
            let Some(ids) = inner.keys.remove(&key) else {
                continue;
            };
            for id in ids {
                if let Some(c) = inner.clients.get(&id) {
                    if !c.mode.bcast {
                        Self::send(id, c, Push::Invalidate(Some(vec![key.clone()])));
                    }
                }
            }
        }
        let over = inner.keys.len() > max;
        self.effort.store(
            if over {
                effort + EFFORT_STEP
            } else {
                EFFORT_STEP
            },
            Ordering::Relaxed,
        );
        over
    }

    /// Prefixes client `id` already has that overlap `p` (the first one), for Redis's
    /// "overlaps with an existing prefix" error.
    pub fn existing_overlap(&self, id: u64, p: &[u8]) -> Option<Vec<u8>> {
        let g = self.lock();
        let c = g.clients.get(&id)?;
        let mut mine = c.mode.prefixes.clone();
        mine.sort();
        mine.into_iter().find(|q| overlap(q, p))
    }

    /// CLIENT TRACKING ON: `to` is the redirect target's mailbox (or `own`). Prefixes add
    /// to those the client had (Redis keeps them until tracking is turned off). Returns
    /// the client's mode as it now is.
    pub fn enable(&self, id: u64, mut mode: Mode, own: &Mailbox, to: &Mailbox) -> Mode {
        let mut g = self.lock();
        if let Some(old) = g.clients.get(&id) {
            if mode.bcast {
                let mut all = old.mode.prefixes.clone();
                for p in mode.prefixes.drain(..) {
                    if !all.contains(&p) {
                        all.push(p);
                    }
                }
                mode.prefixes = all;
            }
        } else {
            self.active.fetch_add(1, Ordering::SeqCst);
        }
        if mode.bcast && mode.prefixes.is_empty() {
            mode.prefixes.push(Vec::new());
        }
        mode.prefixes.sort();
        g.clients.insert(
            id,
            Client {
                mode: mode.clone(),
                own: own.clone(),
                to: to.clone(),
                broken: AtomicBool::new(false),
            },
        );
        mode
    }

    /// CLIENT TRACKING OFF, RESET, hang-up.
    pub fn disable(&self, id: u64) {
        let mut g = self.lock();
        if g.clients.remove(&id).is_some() && self.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            // Nobody tracks any more: the table goes with the last client.
            g.keys = HashMap::new();
            g.writing = HashMap::new();
        }
        g.writing.remove(&id);
    }

    /// The redirect target has gone (`R` in CLIENT LIST, `broken_redirect`).
    pub fn is_broken(&self, id: u64) -> bool {
        if self.clients() == 0 {
            return false;
        }
        self.lock()
            .clients
            .get(&id)
            .is_some_and(|c| c.broken.load(Ordering::Relaxed))
    }

    /// A read by client `id` (default mode): it now caches `keys`. Called before the
    /// read runs, so no write applied after the value was read can be missed.
    pub fn remember<'a>(&self, id: u64, keys: impl Iterator<Item = &'a [u8]>) {
        {
            let mut g = self.lock();
            if !g.clients.contains_key(&id) {
                return;
            }
            for k in keys {
                match g.keys.get_mut(k) {
                    Some(s) => {
                        s.insert(id);
                    }
                    None => {
                        g.keys.insert(k.to_vec(), HashSet::from([id]));
                    }
                }
            }
        }
        self.limit();
    }

    /// A NOLOOP client is about to write `keys`.
    pub fn writing(&self, id: u64, keys: Vec<Vec<u8>>) {
        if keys.is_empty() {
            return;
        }
        self.lock().writing.entry(id).or_default().extend(keys);
    }

    /// A NOLOOP client's write has been applied here (or failed).
    pub fn written(&self, id: u64) {
        self.lock().writing.remove(&id);
    }

    /// Sends `p` on behalf of tracking client `c` (to its redirect target); a target
    /// that has gone marks the redirect broken and tells the client itself.
    fn send(id: u64, c: &Client, p: Push) {
        if c.mode.redirect != 0 && c.to.tx.is_closed() {
            c.broken.store(true, Ordering::Relaxed);
            c.own.send(Push::RedirBroken(c.mode.redirect));
            let _ = id;
            return;
        }
        c.to.send(p);
    }

    /// The apply hook: an entry wrote or deleted `touched`.
    pub fn invalidate(&self, touched: &[Touched]) {
        if self.active.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut g = self.lock();
        let inner = &mut *g;
        if touched.iter().any(|t| t.touch == engine::Touch::Flushed) {
            // FLUSHALL / FLUSHDB: every tracking client is told with a null, and the
            // table starts over.
            for (id, c) in &inner.clients {
                Self::send(*id, c, Push::Invalidate(None));
            }
            inner.keys.clear();
        }
        // Each key once, however often the entry touched it.
        let mut seen: HashSet<&[u8]> = HashSet::new();
        let keys: Vec<&[u8]> = touched
            .iter()
            .filter(|t| t.touch != engine::Touch::Flushed && seen.insert(&t.key))
            .map(|t| t.key.as_slice())
            .collect();
        // Default mode: one message per key, to each client that read it.
        for &key in &keys {
            let Some(ids) = inner.keys.remove(key) else {
                continue;
            };
            for id in ids {
                let Some(c) = inner.clients.get(&id) else {
                    continue;
                };
                if c.mode.bcast {
                    continue;
                }
                if c.mode.noloop && Self::own_write(&mut inner.writing, id, key) {
                    // Its own write: not reported, and (as in Redis) no longer tracked.
                    continue;
                }
                Self::send(id, c, Push::Invalidate(Some(vec![key.to_vec()])));
            }
        }
        // BCAST: per client, one message per prefix with the entry's keys under it.
        for (id, c) in &inner.clients {
            if !c.mode.bcast {
                continue;
            }
            for p in &c.mode.prefixes {
                let mut mine: Vec<Vec<u8>> = Vec::new();
                for &key in &keys {
                    if !key.starts_with(p) {
                        continue;
                    }
                    if c.mode.noloop && Self::own_write(&mut inner.writing, *id, key) {
                        continue;
                    }
                    mine.push(key.to_vec());
                }
                if !mine.is_empty() {
                    Self::send(*id, c, Push::Invalidate(Some(mine)));
                }
            }
        }
    }

    /// Whether `key` is one client `id` is writing; consumes that mark.
    fn own_write(writing: &mut HashMap<u64, Vec<Vec<u8>>>, id: u64, key: &[u8]) -> bool {
        let Some(w) = writing.get_mut(&id) else {
            return false;
        };
        match w.iter().position(|k| k == key) {
            Some(i) => {
                w.swap_remove(i);
                true
            }
            None => false,
        }
    }
}
