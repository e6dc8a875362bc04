//! A snapshot install interrupted at every one of its steps (a crash simulated by
//! stopping the install there and reopening the database) leaves exactly the old state
//! or exactly the new one, applied record included.

use engine::{Frame, Store, Txn};
use keys::Cf;
use std::path::Path;
use std::sync::Arc;
use storage::{InstallFault, Storage};

type Dump = Vec<(u8, Vec<u8>, Vec<u8>)>;

fn dump(st: &Storage) -> Dump {
    let mut out = Vec::new();
    for (i, cf) in [Cf::Meta, Cf::Data, Cf::Expire, Cf::Sm]
        .into_iter()
        .enumerate()
    {
        st.scan(cf, &[], &[0xff; 64], &mut |k, v| {
            out.push((i as u8, k.to_vec(), v.to_vec()));
            true
        })
        .unwrap();
    }
    out
}

fn argv(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// Applies `cmds` as entry `index` with `applied` as the applied record.
fn apply(st: &Storage, index: u64, cmds: &[Vec<Vec<u8>>], applied: &[u8]) {
    let mut t = Txn::new(st, index, 1_000, 7);
    for c in cmds {
        let r = t.run(0, c);
        assert!(!matches!(r, Frame::Error(_)), "{r:?}");
    }
    st.write_effects(&t.into_effects(), &[(Cf::Sm, keys::sm::APPLIED, applied)])
        .unwrap();
}

const VOTE: &[u8] = b"the vote";

/// A receiving node's database before the install: a few keys, a vote and a log.
fn old_node(dir: &Path) -> Arc<Storage> {
    let st = Storage::open(dir, 8 << 20).unwrap();
    st.raft_put(keys::RAFT_VOTE, VOTE, true).unwrap();
    st.log_append(&[(1, b"one".to_vec()), (2, b"two".to_vec())])
        .unwrap();
    apply(
        &st,
        1,
        &[
            argv(&["SET", "shared", "old"]),
            argv(&["SET", "only-old", "x", "PX", "50000"]),
            argv(&["HSET", "h-old", "f", "1", "g", "2"]),
            argv(&["SADD", "s", "a", "b"]),
        ],
        b"old applied",
    );
    st
}

/// The leader's checkpoint: enough records for several copy batches per family.
fn leader_checkpoint(root: &Path) -> std::path::PathBuf {
    let st = Storage::open(&root.join("leader"), 8 << 20).unwrap();
    let mut cmds: Vec<_> = (0..23_000)
        .map(|i| argv(&["SET", &format!("k{i}"), &format!("v{i}")]))
        .collect();
    let mut hset = argv(&["HSET", "h-new"]);
    for i in 0..12_000 {
        hset.push(format!("f{i}").into_bytes());
        hset.push(b"v".to_vec());
    }
    cmds.push(hset);
    cmds.push(argv(&["SET", "shared", "new"]));
    cmds.push(argv(&["SET", "ttl", "x", "PX", "90000"]));
    cmds.push(argv(&["SADD", "s", "c"]));
    apply(&st, 9, &cmds, b"leader applied");
    let cp = root.join("snapshots").join("received-1-9").join("db");
    std::fs::create_dir_all(cp.parent().unwrap()).unwrap();
    st.checkpoint(&cp).unwrap();
    cp
}

const NEW_APPLIED: &[u8] = b"new applied";

#[test]
fn a_crash_at_any_install_step_leaves_the_old_or_the_new_state_whole() {
    let root = tempfile::tempdir().unwrap();
    let cp = leader_checkpoint(root.path());

    let old_dir = root.path().join("pristine");
    let st = old_node(&old_dir);
    let old = dump(&st);
    st.import_checkpoint(&cp, &[(keys::sm::APPLIED, NEW_APPLIED)])
        .unwrap();
    let new = dump(&st);
    drop(st);
    assert_ne!(old, new);
    assert!(new.len() > 35_000, "{}", new.len());
    assert!(new.contains(&(3, keys::sm::APPLIED.to_vec(), NEW_APPLIED.to_vec())));
    assert!(old.contains(&(3, keys::sm::APPLIED.to_vec(), b"old applied".to_vec())));

    let mut completed_at = None;
    for k in 1..100 {
        let dir = root.path().join(format!("node-{k}"));
        let st = old_node(&dir);
        assert_eq!(dump(&st), old);
        st.set_install_fault(Some(InstallFault {
            after_step: k,
            abort: false,
        }));
        let r = st.import_checkpoint(&cp, &[(keys::sm::APPLIED, NEW_APPLIED)]);
        let finished = match r {
            Ok(()) => true,
            Err(storage::Error::Interrupted(step)) => {
                assert_eq!(step, k);
                false
            }
            Err(e) => panic!("step {k}: {e}"),
        };
        // The crash: whatever was written so far is all the reopened node has.
        drop(st);
        let st = Storage::open(&dir, 8 << 20).unwrap();
        let got = dump(&st);
        if k == 1 {
            // Only the checkpoint was synced: the install had not begun.
            assert!(got == old, "step {k}: not the old state");
        } else {
            assert!(got == new, "step {k}: not the new state");
        }
        // Raft's own records are never touched.
        assert_eq!(st.raft_get(keys::RAFT_VOTE).unwrap(), Some(VOTE.to_vec()));
        assert_eq!(st.log_last().unwrap().map(|e| e.0), Some(2));
        if finished {
            completed_at = Some(k);
            break;
        }
    }
    // Marker, 4 range deletes, copy batches (3 meta, 2 data, 1 expire, 1 sm), the last
    // batch: every one of them was a crash point above.
    let steps = completed_at.expect("the install completes");
    assert!(steps > 12, "only {steps} steps");
}

#[test]
fn an_unusable_checkpoint_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let st = old_node(&root.path().join("node"));
    let old = dump(&st);
    let missing = root.path().join("nothing-here");
    assert!(st.import_checkpoint(&missing, &[]).is_err());
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(st.import_checkpoint(&empty, &[]).is_err());
    assert_eq!(dump(&st), old);
}

#[test]
fn an_interrupted_install_whose_checkpoint_is_gone_refuses_to_open() {
    let root = tempfile::tempdir().unwrap();
    let cp = leader_checkpoint(root.path());
    let dir = root.path().join("node");
    let st = old_node(&dir);
    st.set_install_fault(Some(InstallFault {
        after_step: 5,
        abort: false,
    }));
    assert!(st.import_checkpoint(&cp, &[]).is_err());
    drop(st);
    std::fs::remove_dir_all(&cp).unwrap();
    // Half a state must never be served: opening fails until the operator intervenes.
    match Storage::open(&dir, 8 << 20) {
        Err(storage::Error::BadCheckpoint(_)) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened with half an install"),
    }
}
