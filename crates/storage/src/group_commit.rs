//! Group commit for the Raft log: appends are written unsynced, then their completion
//! callbacks queue here; one thread fsyncs the WAL once for everything queued and only
//! then fires the callbacks. Nothing is acknowledged before its fsync.
//!
//! [`GroupCommit::inline`] is the deterministic simulation's mode (consensus
//! `tests/sim`): the fsync runs on the caller's thread before `after_sync` returns, so
//! no thread of its own decides when a callback fires. The node always uses
//! [`GroupCommit::start`].

use crate::Storage;
use std::sync::mpsc;
use std::sync::Arc;

type Callback = Box<dyn FnOnce(std::io::Result<()>) + Send>;

enum Mode {
    /// The `wal-sync` thread batches every callback queued while it synced.
    Thread(mpsc::Sender<Callback>),
    /// One fsync per `after_sync`, on the caller's thread.
    Inline(Arc<Storage>),
}

pub struct GroupCommit {
    mode: Mode,
}

/// One WAL fsync for `appends` queued appends. The failpoint `wal-sync` (the `fail`
/// crate; nothing configures it outside tests) makes it fail without syncing, as a
/// failing disk would: the appends it covers are never reported durable.
fn sync_once(storage: &Storage, appends: usize) -> std::io::Result<()> {
    let _span = tracing::trace_span!("fsync", appends).entered();
    if fail::eval("wal-sync", |_| ()).is_some() {
        return Err(std::io::Error::other(
            "injected fsync failure (failpoint wal-sync)",
        ));
    }
    storage
        .sync_wal()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

impl GroupCommit {
    pub fn start(storage: Arc<Storage>) -> GroupCommit {
        let (tx, rx) = mpsc::channel::<Callback>();
        std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                    }
                    let res = sync_once(&storage, batch.len());
                    for cb in batch {
                        cb(match &res {
                            Ok(()) => Ok(()),
                            Err(e) => Err(std::io::Error::other(e.to_string())),
                        });
                    }
                }
            })
            .expect("spawn wal-sync thread");
        GroupCommit {
            mode: Mode::Thread(tx),
        }
    }

    /// Synchronous group commit for the deterministic simulation: `after_sync` fsyncs
    /// and fires its callback before it returns (no batching across appends).
    pub fn inline(storage: Arc<Storage>) -> GroupCommit {
        GroupCommit {
            mode: Mode::Inline(storage),
        }
    }

    /// Queues `cb` to run after the next WAL fsync. Call it after the write it covers.
    pub fn after_sync(&self, cb: impl FnOnce(std::io::Result<()>) + Send + 'static) {
        match &self.mode {
            Mode::Thread(tx) => {
                if let Err(mpsc::SendError(cb)) = tx.send(Box::new(cb)) {
                    cb(Err(std::io::Error::other("wal-sync thread stopped")));
                }
            }
            Mode::Inline(storage) => cb(sync_once(storage, 1)),
        }
    }
}
