//! The evictor: while eviction is on (`maxmemory-policy` other than `noeviction`) and the
//! accounted data size is past `maxmemory`, the leader picks victims from samples of
//! the keyspace ranked by its access statistics (`engine::access`) and proposes their
//! deletion through the log (`Op::Evict`), so every replica evicts the same keys at the
//! same log position. Upstash's `optimistic-volatile` samples keys with a TTL first and
//! falls back to any key; Redis's policies rank samples by idle time (LRU), access
//! frequency (LFU), time to live (volatile-ttl) or not at all (random).

use super::{now_ms, Node};
use crate::types::Op;
use engine::quota::{self, Candidate, Policy};
use engine::{Store, Txn};
use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::Duration;

/// Keys read per sample (Redis's maxmemory-samples is 5 per pick; a pool of samples
/// from a few random places serves a whole batch).
const SAMPLE: usize = 16;
/// Random places sampled per batch.
const PLACES: usize = 4;
/// Keys evicted per proposal at most.
const BATCH: usize = 64;

impl Node {
    /// Every 10 ms while this node leads: evicts until the data is under the quota.
    /// Stops when the node is dropped.
    pub(super) async fn evict_loop(node: Weak<Node>) {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(node) = node.upgrade() else { return };
            if !node.is_leader() {
                continue;
            }
            // Proposals wait for their apply, so each round sees the previous one's effect.
            for _ in 0..256 {
                if !node.evict_once().await {
                    break;
                }
            }
        }
    }

    /// One eviction proposal if the data is past the quota and the policy evicts.
    /// True if it proposed one.
    async fn evict_once(&self) -> bool {
        // A backup restore in progress refuses every op but its own steps.
        if self.storage.restoring() {
            return false;
        }
        let Some(ops) = self.eviction_ops() else {
            return false;
        };
        match self.propose(ops).await {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!("eviction proposal failed: {e:?}");
                false
            }
        }
    }
}

impl Node {
    /// The Op::Evict proposals that bring the data under the quota, if it is past it
    /// and the policy evicts.
    fn eviction_ops(&self) -> Option<Vec<Op>> {
        let st: &dyn Store = &*self.storage;
        let t = Txn::read_only(st, now_ms(), 0);
        let max = t.maxmemory();
        let policy = t.policy();
        if max == 0 || policy == Policy::NoEviction {
            return None;
        }
        let used = quota::used(st);
        if used <= max {
            return None;
        }
        let victims = pick(st, policy, used - max);
        if victims.is_empty() {
            return None;
        }
        let mut by_db: BTreeMap<u8, Vec<Vec<u8>>> = BTreeMap::new();
        for c in victims {
            by_db.entry(c.db).or_default().push(c.key);
        }
        Some(
            by_db
                .into_iter()
                .map(|(db, keys)| Op::Evict { db, keys })
                .collect(),
        )
    }
}

/// Victims freeing at least `need` bytes (or [`BATCH`] keys), best first for `policy`.
fn pick(st: &dyn Store, policy: Policy, need: u64) -> Vec<Candidate> {
    let dbs: Vec<u8> = (0..keys::DATABASES as u8)
        .filter(|&db| {
            st.get(keys::Cf::Sm, &keys::sm::keycount_key(db))
                .ok()
                .flatten()
                .and_then(|raw| keys::sm::decode_keycount(&raw))
                .is_some_and(|n| n > 0)
        })
        .collect();
    if dbs.is_empty() {
        return Vec::new();
    }
    let pool = |volatile_only: bool| -> Vec<Candidate> {
        let mut pool: Vec<Candidate> = Vec::new();
        for _ in 0..PLACES {
            let db = dbs[rand::random::<usize>() % dbs.len()];
            let slot = rand::random::<u16>() % keys::SLOTS as u16;
            if let Ok(found) = quota::sample(st, db, slot, SAMPLE, volatile_only) {
                for c in found {
                    if !pool.iter().any(|p| p.db == c.db && p.key == c.key) {
                        pool.push(c);
                    }
                }
            }
        }
        pool
    };
    let mut pool = match policy {
        Policy::OptimisticVolatile => {
            // Keys with a TTL first; any key when there are none (or too few).
            let mut p = pool(true);
            shuffle(&mut p);
            if p.iter().map(|c| c.bytes).sum::<u64>() < need {
                let mut rest: Vec<Candidate> = pool(false)
                    .into_iter()
                    .filter(|c| c.expire_at_ms == 0)
                    .collect();
                shuffle(&mut rest);
                p.extend(rest);
            }
            p
        }
        p => pool(p.volatile_only()),
    };
    let now = now_ms();
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => {
            pool.sort_by_cached_key(|c| {
                std::cmp::Reverse(engine::access::idle_secs(c.db, &c.key, now, c.mtime_ms))
            });
        }
        Policy::AllKeysLfu | Policy::VolatileLfu => {
            pool.sort_by_cached_key(|c| {
                (
                    engine::access::freq(c.db, &c.key, now),
                    std::cmp::Reverse(engine::access::idle_secs(c.db, &c.key, now, c.mtime_ms)),
                )
            });
        }
        Policy::VolatileTtl => pool.sort_by_key(|c| c.expire_at_ms),
        Policy::OptimisticVolatile => {} // shuffled above, keys with a TTL first
        _ => shuffle(&mut pool),         // random: samples from random places, shuffled
    }
    let mut freed = 0;
    let mut out = Vec::new();
    for c in pool {
        if freed >= need || out.len() >= BATCH {
            break;
        }
        freed += c.bytes;
        out.push(c);
    }
    out
}

fn shuffle(v: &mut [Candidate]) {
    for i in (1..v.len()).rev() {
        v.swap(i, rand::random::<usize>() % (i + 1));
    }
}
