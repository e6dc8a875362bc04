//! Group commit for the Raft log: appends are written unsynced, then their completion
//! callbacks queue here; one thread fsyncs the WAL once for everything queued and only
//! then fires the callbacks. Nothing is acknowledged before its fsync.

use crate::Storage;
use std::sync::mpsc;
use std::sync::Arc;

type Callback = Box<dyn FnOnce(std::io::Result<()>) + Send>;

pub struct GroupCommit {
    tx: mpsc::Sender<Callback>,
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
                    let res = {
                        let _span = tracing::trace_span!("fsync", appends = batch.len()).entered();
                        storage.sync_wal()
                    };
                    for cb in batch {
                        cb(match &res {
                            Ok(()) => Ok(()),
                            Err(e) => Err(std::io::Error::other(e.to_string())),
                        });
                    }
                }
            })
            .expect("spawn wal-sync thread");
        GroupCommit { tx }
    }

    /// Queues `cb` to run after the next WAL fsync. Call it after the write it covers.
    pub fn after_sync(&self, cb: impl FnOnce(std::io::Result<()>) + Send + 'static) {
        if let Err(mpsc::SendError(cb)) = self.tx.send(Box::new(cb)) {
            cb(Err(std::io::Error::other("wal-sync thread stopped")));
        }
    }
}
