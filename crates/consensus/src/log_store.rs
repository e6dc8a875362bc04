//! The Raft log in RocksDB, made durable by group commit.

use crate::types::{read_err, write_err, Entry, LogId, StorageError, TypeConfig};
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{RaftLogId, Vote};
use std::collections::VecDeque;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use storage::{GroupCommit, Storage};

#[derive(Clone)]
pub struct LogStore {
    st: Arc<Storage>,
    gc: Arc<GroupCommit>,
    /// The store openraft's core holds (not its readers): appended entries wait here,
    /// decoded, for the core to read them once to apply them (see [`Unapplied`]).
    unapplied: Option<Arc<Mutex<Unapplied>>>,
    /// The last log index the log archive holds, when archiving (`archive.rs`): a purge
    /// deletes entries only up to it, so none is deleted before it is archived.
    archived: Option<Arc<AtomicU64>>,
}

/// Entries appended and not yet read for applying, in index order without gaps. The core
/// reads each committed entry exactly once (to apply it) right after its append: serving
/// it from here moves it out instead of a RocksDB iterator plus a decode of bytes just
/// written (6 % of a c50 SET profile). Only a cache: anything missing is read from RocksDB.
#[derive(Default)]
struct Unapplied {
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
}

/// Bounds of [`Unapplied`]: a state machine lagging further behind reads from RocksDB.
const UNAPPLIED_MAX_ENTRIES: usize = 1024;
const UNAPPLIED_MAX_BYTES: usize = 32 << 20;

impl Unapplied {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.get_log_id().index)
    }

    fn pop_front(&mut self) {
        if let Some((_, n)) = self.entries.pop_front() {
            self.bytes -= n;
        }
    }

    fn push(&mut self, e: Entry, n: usize) {
        let index = e.get_log_id().index;
        if let Some((last, _)) = self.entries.back() {
            if last.get_log_id().index + 1 != index {
                self.entries.clear();
                self.bytes = 0;
            }
        }
        self.entries.push_back((e, n));
        self.bytes += n;
        while self.entries.len() > UNAPPLIED_MAX_ENTRIES || self.bytes > UNAPPLIED_MAX_BYTES {
            self.pop_front();
        }
    }

    /// Drops entries with index >= `from` (a truncated suffix).
    fn truncate(&mut self, from: u64) {
        while let Some((e, _)) = self.entries.back() {
            if e.get_log_id().index < from {
                break;
            }
            let (_, n) = self.entries.pop_back().expect("non-empty");
            self.bytes -= n;
        }
    }

    /// Moves out `[from, to)` if held whole; entries before `from` are dropped (the core
    /// reads in order, so they were applied or read from RocksDB already).
    fn take(&mut self, from: u64, to: u64) -> Option<Vec<Entry>> {
        while self.first_index().is_some_and(|i| i < from) {
            self.pop_front();
        }
        let last = self.entries.back()?.0.get_log_id().index;
        if from >= to || self.first_index() != Some(from) || last + 1 < to {
            return None;
        }
        let mut out = Vec::with_capacity((to - from) as usize);
        for _ in from..to {
            let (e, n) = self.entries.pop_front().expect("held whole");
            self.bytes -= n;
            out.push(e);
        }
        Some(out)
    }
}

impl LogStore {
    pub fn new(st: Arc<Storage>, gc: Arc<GroupCommit>) -> LogStore {
        let unapplied = (std::env::var_os("MERIDIAN_NO_LOG_CACHE").is_none())
            .then(|| Arc::new(Mutex::new(Unapplied::default())));
        LogStore {
            st,
            gc,
            unapplied,
            archived: None,
        }
    }

    /// Keeps entries until the log archive holds them (see [`LogStore::purge`]).
    pub fn with_archive(mut self, archived: Option<Arc<AtomicU64>>) -> LogStore {
        self.archived = archived;
        self
    }

    fn decode(raw: &[u8]) -> Result<Entry, StorageError> {
        bincode::deserialize(raw).map_err(read_err)
    }

    fn get_id(&self, name: &[u8]) -> Result<Option<LogId>, StorageError> {
        match self.st.raft_get(name).map_err(read_err)? {
            Some(raw) => bincode::deserialize(&raw).map_err(read_err),
            None => Ok(None),
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let from = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let to = match range.end_bound() {
            Bound::Included(&i) => i.saturating_add(1),
            Bound::Excluded(&i) => i,
            Bound::Unbounded => u64::MAX,
        };
        if let Some(u) = &self.unapplied {
            if let Some(entries) = u.lock().expect("log cache lock").take(from, to) {
                return Ok(entries);
            }
        }
        let raw = self.st.log_range(from, to).map_err(read_err)?;
        raw.iter().map(|(_, v)| Self::decode(v)).collect()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id = self.get_id(keys::RAFT_PURGED)?;
        let last_log_id = match self.st.log_last().map_err(read_err)? {
            Some((_, raw)) => Some(*Self::decode(&raw)?.get_log_id()),
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        // Readers (replication, re-apply at start) never take from the core's cache.
        LogStore {
            unapplied: None,
            ..self.clone()
        }
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        let raw = bincode::serialize(vote).map_err(write_err)?;
        // A vote must be on disk before the node answers with it.
        self.st
            .raft_put(keys::RAFT_VOTE, &raw, true)
            .map_err(write_err)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        match self.st.raft_get(keys::RAFT_VOTE).map_err(read_err)? {
            Some(raw) => bincode::deserialize(&raw).map(Some).map_err(read_err),
            None => Ok(None),
        }
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Unsynced: after a crash openraft may re-learn a smaller committed index, which
        // only delays (never loses) re-applying entries.
        let raw = bincode::serialize(&committed).map_err(write_err)?;
        self.st
            .raft_put(keys::RAFT_COMMITTED, &raw, false)
            .map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        self.get_id(keys::RAFT_COMMITTED)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut batch = Vec::new();
        let mut kept = Vec::new();
        for e in entries {
            let raw = bincode::serialize(&e).map_err(write_err)?;
            batch.push((e.get_log_id().index, raw));
            if self.unapplied.is_some() {
                kept.push(e);
            }
        }
        {
            let _span = tracing::trace_span!("append", entries = batch.len()).entered();
            self.st.log_append(&batch).map_err(write_err)?;
        }
        if let Some(u) = &self.unapplied {
            let mut u = u.lock().expect("log cache lock");
            for (e, (_, raw)) in kept.into_iter().zip(&batch) {
                u.push(e, raw.len());
            }
        }
        // Reported flushed only after the WAL fsync that covers this write.
        self.gc
            .after_sync(move |res| callback.log_io_completed(res));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        if let Some(u) = &self.unapplied {
            u.lock().expect("log cache lock").truncate(log_id.index);
        }
        self.st.log_truncate(log_id.index).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let raw = bincode::serialize(&Some(log_id)).map_err(write_err)?;
        // Purged for Raft (recorded), but while archiving the entries not yet archived
        // stay on disk for the archiver; a later purge deletes them.
        let upto = match &self.archived {
            Some(a) => log_id.index.min(a.load(Ordering::Acquire)),
            None => log_id.index,
        };
        // The purge flushes the state first (it skips the WAL): off the worker.
        crate::off_worker(|| self.st.log_purge(upto, &raw)).map_err(write_err)
    }
}
