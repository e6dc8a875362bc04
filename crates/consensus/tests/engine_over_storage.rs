//! The engine over RocksDB: effects written by `Storage::write_effects` survive a reopen
//! and read back through the engine, snapshots are point-in-time. They need both crates
//! (`storage` does not depend on `engine`), so they live here, where the two meet.

use engine::{Frame, Txn};
use keys::Cf;
use storage::Storage;

fn argv(s: &str) -> Vec<Vec<u8>> {
    s.split(' ').map(|p| p.as_bytes().to_vec()).collect()
}

#[test]
fn effects_and_log_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let st = Storage::open(dir.path(), 8 << 20).unwrap();
        let mut t = Txn::new(&*st, 1, 1000, 7);
        assert_eq!(t.run(0, &argv("set k v")), Frame::ok());
        assert_eq!(t.run(0, &argv("set gone v px 10")), Frame::ok());
        st.write_effects(&t.into_effects(), &[(Cf::Sm, keys::sm::APPLIED, b"1")])
            .unwrap();
        st.log_append(&[
            (1, b"one".to_vec()),
            (2, b"two".to_vec()),
            (3, b"three".to_vec()),
        ])
        .unwrap();
        st.sync_wal().unwrap();
    }
    let st = Storage::open(dir.path(), 8 << 20).unwrap();
    let mut r = Txn::read_only(&*st, 1005, 0);
    assert_eq!(r.run(0, &argv("get k")), Frame::Bulk(b"v".to_vec()));
    assert_eq!(r.run(0, &argv("dbsize")), Frame::Integer(2));
    assert_eq!(st.sm_get(keys::sm::APPLIED).unwrap(), Some(b"1".to_vec()));
    assert_eq!(
        st.log_range(2, 10).unwrap(),
        vec![(2, b"two".to_vec()), (3, b"three".to_vec())]
    );
    assert_eq!(st.log_last().unwrap().map(|e| e.0), Some(3));
    // The key with a 10 ms TTL is due at 1010.
    assert!(st.due_expiries(1009, 10).unwrap().is_empty());
    assert_eq!(
        st.due_expiries(1010, 10).unwrap(),
        vec![(1010, 0, b"gone".to_vec())]
    );
    st.log_truncate(3).unwrap();
    assert_eq!(st.log_last().unwrap().map(|e| e.0), Some(2));
    st.log_purge(1, b"p").unwrap();
    assert_eq!(st.log_range(0, 10).unwrap(), vec![(2, b"two".to_vec())]);
    assert_eq!(st.raft_get(keys::RAFT_PURGED).unwrap(), Some(b"p".to_vec()));
}

#[test]
fn snapshot_view_is_point_in_time_and_scan_merges() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), 8 << 20).unwrap();
    let mut t = Txn::new(&*st, 1, 1000, 7);
    t.run(0, &argv("set a 1"));
    st.write_effects(&t.into_effects(), &[]).unwrap();
    let snap = st.snapshot();
    let mut t = Txn::new(&*st, 2, 1000, 7);
    t.run(0, &argv("set a 2"));
    st.write_effects(&t.into_effects(), &[]).unwrap();
    assert_eq!(
        Txn::read_only(&snap, 1000, 0).run(0, &argv("get a")),
        Frame::Bulk(b"1".to_vec())
    );
    assert_eq!(
        Txn::read_only(&*st, 1000, 0).run(0, &argv("get a")),
        Frame::Bulk(b"2".to_vec())
    );
}

/// The per-slot digests kept by `write_entry` equal a recount from the records after
/// every batch of a seeded mix of commands (every type, overwrites, deletes, expiry,
/// RENAME, SWAPDB, FLUSHDB), and survive a reopen. Corrupting a record behind the write
/// path is what the scrub finds, and only that slot.
#[test]
fn digests_follow_every_write_and_the_scrub_finds_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), 8 << 20).unwrap();
    let contents = |st: &Storage| -> Vec<(u64, u64)> {
        let (_, d) = st.digests().unwrap();
        d.iter().map(|d| (d.xor, d.count)).collect()
    };
    let mut rng = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let cmds = [
        "set k{} v{}",
        "del k{}",
        "hset h{} f{} x",
        "hdel h{} f1",
        "rpush l{} a b c",
        "lpop l{}",
        "sadd s{} m{}",
        "zadd z{} 1 m{}",
        "incr n{}",
        "expire k{} 100",
        "persist k{}",
        "rename k{} k{}",
        "copy h{} h{} replace",
        "set k{} v px 1",
        "unlink l{} s{}",
        "json.set j{} $ {}",
    ];
    for i in 1..=300u64 {
        let mut t = Txn::new(&*st, i, 1000 + i * 10, i);
        for _ in 0..(next() % 6 + 1) {
            let c = cmds[(next() % cmds.len() as u64) as usize];
            let line = c.replacen("{}", &(next() % 40).to_string(), 1).replacen(
                "{}",
                &(next() % 40).to_string(),
                1,
            );
            t.run((next() % 2) as u8, &argv(&line));
        }
        if i % 97 == 0 {
            t.run(0, &argv("swapdb 0 1"));
        }
        if i == 250 {
            t.run(1, &argv("flushdb"));
        }
        st.write_entry(i, &t.into_effects(), &[]).unwrap();
        let kept = contents(&st);
        st.recount_digests(0).unwrap();
        assert_eq!(
            contents(&st),
            kept,
            "digests drifted from the records at entry {i}"
        );
    }
    let total: u64 = contents(&st).iter().map(|(_, n)| n).sum();
    assert!(total > 20, "the mix left {total} keys");
    // Enough batches for the deltas to be folded into the base more than once, then a
    // reopen (base + deltas replayed) agrees with a recount.
    for i in 301..=2500u64 {
        let mut t = Txn::new(&*st, i, 5000 + i, i);
        t.run(0, &argv(&format!("set f{} {i}", i % 700)));
        st.write_entry(i, &t.into_effects(), &[]).unwrap();
    }
    let kept = contents(&st);
    drop(st);
    let st = Storage::open(dir.path(), 8 << 20).unwrap();
    assert_eq!(contents(&st), kept, "digests after folds and a reopen");
    st.recount_digests(0).unwrap();
    assert_eq!(contents(&st), kept, "digests after folds vs a recount");
    let kept = contents(&st);
    drop(st);
    let st = Storage::open(dir.path(), 8 << 20).unwrap();
    assert_eq!(contents(&st), kept, "digests after reopen");
    // Nothing to scrub in a healthy store.
    for slot in 0..keys::SLOTS as u16 {
        assert!(!st.scrub_slot(slot).unwrap());
    }
    // A record changed behind the write path: only its slot disagrees, once.
    let raw = keys::meta_key(0, b"victim");
    let mut t = Txn::new(&*st, 4000, 9000, 1);
    t.run(0, &argv("set victim ok"));
    st.write_entry(4000, &t.into_effects(), &[]).unwrap();
    let slot = keys::key_slot(b"victim");
    assert_eq!(st.slot_digest(slot).last_index, 4000);
    st.corrupt_meta(&raw, None).unwrap();
    let found: Vec<u16> = (0..keys::SLOTS as u16)
        .filter(|s| st.scrub_slot(*s).unwrap())
        .collect();
    assert_eq!(found, vec![slot]);
    assert_eq!(
        st.slot_digest(slot).last_index,
        4000,
        "the scrub keeps the last index"
    );
    assert!(!st.scrub_slot(slot).unwrap());
    // The scrub's fix survives a reopen (it is replayed after the deltas before it).
    let fixed = contents(&st);
    drop(st);
    let st = Storage::open(dir.path(), 8 << 20).unwrap();
    assert_eq!(contents(&st), fixed);
    assert!(!st.scrub_slot(slot).unwrap());
}
