//! The Raft log in RocksDB, made durable by group commit.

use crate::types::{read_err, write_err, Entry, LogId, StorageError, TypeConfig};
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{RaftLogId, Vote};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use storage::{GroupCommit, Storage};

#[derive(Clone)]
pub struct LogStore {
    st: Arc<Storage>,
    gc: Arc<GroupCommit>,
}

impl LogStore {
    pub fn new(st: Arc<Storage>, gc: Arc<GroupCommit>) -> LogStore {
        LogStore { st, gc }
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
        self.clone()
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
        for e in entries {
            let raw = bincode::serialize(&e).map_err(write_err)?;
            batch.push((e.get_log_id().index, raw));
        }
        self.st.log_append(&batch).map_err(write_err)?;
        // Reported flushed only after the WAL fsync that covers this write.
        self.gc
            .after_sync(move |res| callback.log_io_completed(res));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.st.log_truncate(log_id.index).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let raw = bincode::serialize(&Some(log_id)).map_err(write_err)?;
        self.st.log_purge(log_id.index, &raw).map_err(write_err)
    }
}
