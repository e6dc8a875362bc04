//! The key memory tier (`storage::tier`) against a model, with concurrent readers.
//!
//! One writer applies generated batches (puts, deletes, range deletes of `meta`
//! records) through `Storage::write_effects`, as the state machine does, and checks its
//! own reads before each batch (the read-before-write) against the model. Reader
//! threads meanwhile read single keys of the live state and several keys of snapshots.
//! The tier's budget is small enough that it evicts all the time. Every read must be
//! explained by one point of the log: some batch count `n` between the batches done
//! when it started and those done (plus the one in flight) when it ended, never older
//! than a point another reader already observed; a snapshot read's keys all by the same
//! `n`.

use engine::{Effects, Store, Write};
use keys::Cf;
use proptest::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use storage::Storage;

const KEYS: usize = 1500;

fn key(i: usize) -> Vec<u8> {
    format!("k{i:05}").into_bytes()
}

#[derive(Debug, Clone)]
enum Op {
    Put(usize, usize),
    Del(usize),
    Range(usize, usize),
}

/// Skewed key choice: most operations hit the first 120 keys (the hot set).
fn key_index() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0..120usize, 1 => 0..KEYS]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (key_index(), 0..40usize).prop_map(|(k, l)| Op::Put(k, l)),
        3 => key_index().prop_map(Op::Del),
        1 => (0..KEYS, 0..60usize).prop_map(|(a, n)| Op::Range(a, (a + n).min(KEYS))),
        // Now and then a value too large for the tier's per-entry limit.
        1 => key_index().prop_map(|k| Op::Put(k, 300)),
    ]
}

/// Per key, its values by batch: (batch, value) with batch ascending; batch 0 = absent.
struct Model {
    hist: Vec<Vec<(u64, Option<Vec<u8>>)>>,
}

impl Model {
    fn at(&self, k: usize, n: u64) -> Option<&[u8]> {
        let h = &self.hist[k];
        let i = h.partition_point(|(b, _)| *b <= n);
        h[i - 1].1.as_deref()
    }
}

/// Turns generated batches into Effects (a range first, then unique point writes, as
/// `Txn::into_effects` orders them) and the model.
fn build(batches: &[Vec<Op>]) -> (Vec<Effects>, Model) {
    let mut hist: Vec<Vec<(u64, Option<Vec<u8>>)>> = vec![vec![(0, None)]; KEYS];
    let mut out = Vec::new();
    for (b, ops) in batches.iter().enumerate() {
        let n = b as u64 + 1;
        let mut writes = Vec::new();
        let mut point: std::collections::BTreeMap<usize, Option<Vec<u8>>> = Default::default();
        let mut range = None;
        for op in ops {
            match *op {
                Op::Range(a, e) if range.is_none() && point.is_empty() => range = Some((a, e)),
                Op::Range(..) => {}
                Op::Put(k, l) => {
                    let mut v = format!("{n}:{k}:").into_bytes();
                    v.resize(v.len() + l, b'v');
                    point.insert(k, Some(v));
                }
                Op::Del(k) => {
                    point.insert(k, None);
                }
            }
        }
        if let Some((a, e)) = range {
            writes.push(Write::DeleteRange(Cf::Meta, key(a), key(e)));
            for h in &mut hist[a..e] {
                h.push((n, None));
            }
        }
        for (k, v) in point {
            writes.push(match &v {
                Some(v) => Write::Put(Cf::Meta, key(k), v.clone()),
                None => Write::Delete(Cf::Meta, key(k)),
            });
            hist[k].push((n, v));
        }
        out.push(Effects { writes });
    }
    (out, Model { hist })
}

struct Shared {
    model: Model,
    done: AtomicU64,
    /// The newest point any reader has proven it observed.
    floor: AtomicU64,
    stop: AtomicBool,
    /// Readers that have read at least once (the writer waits for them all).
    started: AtomicU64,
    last: u64,
}

impl Shared {
    /// The smallest batch count in [lo, hi] that explains every (key, value) read.
    fn explain(&self, lo: u64, hi: u64, reads: &[(usize, Option<Vec<u8>>)]) -> Option<u64> {
        (lo..=hi.min(self.last)).find(|&n| {
            reads
                .iter()
                .all(|(k, v)| self.model.at(*k, n) == v.as_deref())
        })
    }

    fn check(&self, what: &str, lo: u64, reads: &[(usize, Option<Vec<u8>>)]) -> Result<(), String> {
        let hi = self.done.load(Ordering::SeqCst) + 1;
        match self.explain(lo, hi, reads) {
            Some(n) => {
                self.floor.fetch_max(n, Ordering::SeqCst);
                Ok(())
            }
            None => Err(format!(
                "{what} read {:?} is not the state at any point in [{lo}, {hi}] (explained by {:?} ignoring the floor)",
                reads
                    .iter()
                    .map(|(k, v)| (k, v.as_ref().map(|v| String::from_utf8_lossy(v).into_owned())))
                    .collect::<Vec<_>>(),
                self.explain(0, hi, reads)
            )),
        }
    }

    fn start(&self) -> u64 {
        self.done
            .load(Ordering::SeqCst)
            .max(self.floor.load(Ordering::SeqCst))
    }
}

fn reader(st: &Storage, sh: &Shared, seed: u64, snapshots: bool) -> Result<u64, String> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let pick = move |r: u64| {
        if r % 5 != 0 {
            (r / 5 % 120) as usize
        } else {
            (r / 5 % KEYS as u64) as usize
        }
    };
    let mut reads = 0;
    while !sh.stop.load(Ordering::SeqCst) {
        if reads == 1 {
            sh.started.fetch_add(1, Ordering::SeqCst);
        }
        let lo = sh.start();
        if snapshots {
            let snap = st.snapshot();
            let ks: Vec<usize> = (0..4).map(|_| pick(next())).collect();
            let got: Vec<(usize, Option<Vec<u8>>)> = ks
                .iter()
                .map(|&k| (k, snap.get(Cf::Meta, &key(k)).unwrap()))
                .collect();
            sh.check("snapshot", lo, &got)?;
        } else {
            let k = pick(next());
            let v = st.get(Cf::Meta, &key(k)).unwrap();
            sh.check("live", lo, &[(k, v)])?;
        }
        reads += 1;
    }
    Ok(reads)
}

fn run(batches: Vec<Vec<Op>>, seed: u64) -> Result<(), String> {
    let (effects, model) = build(&batches);
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), 1 << 20).unwrap();
    // About 500 entries of this test's size in 64 shards: the tier evicts constantly.
    st.key_tier().set_budget(64 << 10);
    let sh = Arc::new(Shared {
        model,
        done: AtomicU64::new(0),
        floor: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        started: AtomicU64::new(0),
        last: effects.len() as u64,
    });
    let readers: Vec<_> = (0..3)
        .map(|i| {
            let st = st.clone();
            let sh = sh.clone();
            std::thread::spawn(move || reader(&st, &sh, seed.wrapping_add(i * 7919), i == 2))
        })
        .collect();
    while sh.started.load(Ordering::SeqCst) < 3 {
        std::thread::yield_now();
    }
    let mut failure = None;
    for (b, fx) in effects.iter().enumerate() {
        // The writer's read-before-write: exactly the state after the previous batch.
        for w in &fx.writes {
            if let Write::Put(_, k, _) | Write::Delete(_, k) = w {
                let i: usize = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
                let got = st.get(Cf::Meta, k).unwrap();
                if got.as_deref() != sh.model.at(i, b as u64) {
                    failure = Some(format!(
                        "writer read of key {i} before batch {} wrong",
                        b + 1
                    ));
                }
            }
        }
        st.write_effects(fx, &[]).unwrap();
        sh.done.store(b as u64 + 1, Ordering::SeqCst);
        std::thread::yield_now();
        if failure.is_some() {
            break;
        }
    }
    sh.stop.store(true, Ordering::SeqCst);
    for r in readers {
        let n = r.join().unwrap()?;
        assert!(n > 0);
    }
    if let Some(f) = failure {
        return Err(f);
    }
    // Everything reads back exactly, live and through a snapshot, from memory or disk.
    let snap = st.snapshot();
    for _ in 0..2 {
        for k in 0..KEYS {
            let want = sh.model.at(k, sh.last);
            if st.get(Cf::Meta, &key(k)).unwrap().as_deref() != want
                || snap.get(Cf::Meta, &key(k)).unwrap().as_deref() != want
            {
                return Err(format!("final read of key {k} wrong"));
            }
        }
    }
    let stats = st.key_tier().stats();
    if stats.evictions == 0 || stats.bytes > stats.budget || stats.negative > stats.entries {
        return Err(format!(
            "the tier did not evict within its budget: {stats:?}"
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn concurrent_readers_see_one_point_of_the_log(
        batches in proptest::collection::vec(proptest::collection::vec(op(), 1..12), 100..400),
        seed in any::<u64>(),
    ) {
        if let Err(e) = run(batches, seed) {
            prop_assert!(false, "{}", e);
        }
    }
}
