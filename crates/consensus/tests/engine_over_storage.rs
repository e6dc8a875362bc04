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
