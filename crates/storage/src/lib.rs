//! RocksDB underneath everything: the state machine's column families, the Raft log,
//! write batches, WAL group commit and checkpoints.
//!
//! One RocksDB instance holds both the Raft log and the state. Log appends go to the WAL,
//! written unsynced and made durable by one WAL fsync per batch ([`GroupCommit`]).
//!
//! The state is written once: an applied entry's batch skips the WAL
//! ([`Storage::write_entry`]), because the Raft log already is the state's write-ahead
//! log. After a crash the state is what RocksDB last flushed, with its `applied` record
//! in the same flush (atomic flush across column families keeps every batch whole), and
//! Raft applies the entries after it again from the log. The log is never purged past
//! flushed state ([`Storage::log_purge`] flushes first).

mod checkpoint;
pub mod digest;
mod fault;
mod group_commit;
mod install;
pub mod tier;

pub use checkpoint::CheckpointReader;
pub use digest::SlotDigest;
pub use fault::{InstallFault, ReadFault};
pub use group_commit::GroupCommit;
pub use tier::KeyTier;

use keys::store::{Effects, Store, StoreError, Write};
use keys::Cf;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode,
    Options, ReadOptions, WriteBatch, WriteOptions, DB,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub type Result<T> = std::result::Result<T, rocksdb::Error>;

/// Why opening the database or installing a snapshot failed.
#[derive(Debug)]
pub enum Error {
    Db(rocksdb::Error),
    Io(std::io::Error),
    /// The checkpoint to install is missing or unreadable.
    BadCheckpoint(String),
    /// An install stopped by an injected fault after this step (tests only).
    Interrupted(usize),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Db(e) => write!(f, "rocksdb: {e}"),
            Error::Io(e) => write!(f, "i/o: {e}"),
            Error::BadCheckpoint(m) => write!(f, "snapshot checkpoint: {m}"),
            Error::Interrupted(k) => write!(f, "install interrupted after step {k} (test fault)"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Db(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Error {
        Error::Db(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

/// Whether a batch writes (`Some(true)`) or deletes (`Some(false)`) the `restore`
/// record; the last write of it counts.
fn restore_change(effects: &Effects, extra: &[(Cf, &[u8], &[u8])]) -> Option<bool> {
    let key = keys::sm::RESTORE;
    let mut out = None;
    for w in &effects.writes {
        match w {
            Write::Put(Cf::Sm, k, _) if k.as_slice() == key => out = Some(true),
            Write::Delete(Cf::Sm, k) if k.as_slice() == key => out = Some(false),
            Write::DeleteRange(Cf::Sm, s, e) if s.as_slice() <= key && key < e.as_slice() => {
                out = Some(false)
            }
            _ => {}
        }
    }
    if extra.iter().any(|(cf, k, _)| *cf == Cf::Sm && *k == key) {
        out = Some(true);
    }
    out
}

/// Counters exposed in INFO.
#[derive(Debug, Default)]
pub struct Stats {
    pub batches_written: AtomicU64,
    pub records_written: AtomicU64,
    pub wal_syncs: AtomicU64,
    pub wal_sync_micros: AtomicU64,
    /// Explicit flushes of the state ([`Storage::flush_state`]).
    pub state_flushes: AtomicU64,
    /// The state's applied index found at open: the entries after it up to the commit
    /// index were applied again from the log (the state skips the WAL).
    pub applied_at_open: AtomicU64,
}

pub struct Storage {
    db: DB,
    path: PathBuf,
    pub stats: Stats,
    faults: fault::Faults,
    /// Meta records of recently used keys, kept exact by `write_effects` (see `tier`).
    tier: KeyTier,
    /// Odd while a backup restore is in progress in the applied state (the `sm` record
    /// `restore` exists), even otherwise; it moves on at each start and end of one. It
    /// turns odd before the write that begins a restore and even after the write that
    /// ends it, so a read that finds the same even value before and after it ran saw
    /// no part of a restore (see [`Storage::restore_epoch`]).
    restore_epoch: AtomicU64,
    /// Moves on after every committed batch that writes an ACL user record (and after a
    /// state replace), so a connection re-reads its user's record only when it moved,
    /// instead of at every applied index (see [`Storage::acl_epoch`]).
    acl_epoch: AtomicU64,
    /// Every slot's keyspace digest (anti-entropy), as stored (see `digest`).
    digests: std::sync::Mutex<digest::DigestState>,
    /// Held while a batch of effects is written and its digests installed, and by the
    /// readers that need the data and the digests at one point (the scrub).
    write_lock: std::sync::Mutex<()>,
    /// Called after every successful synced write (WAL fsync, synced Raft record): the
    /// deterministic simulation records there how much of the WAL a crash must keep.
    /// Unset on a node.
    sync_observer: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
}

/// Whether a batch of effects writes (or may write) an ACL user record.
fn touches_acl(effects: &Effects) -> bool {
    let acl = keys::sm::ACL_USERS.key(b"");
    effects.writes.iter().any(|w| match w {
        Write::Put(Cf::Sm, k, _) | Write::Delete(Cf::Sm, k) => k.starts_with(&acl),
        Write::DeleteRange(Cf::Sm, _, _) => true,
        _ => false,
    })
}

fn cf_options(cache: &Cache, point_lookups: bool) -> Options {
    let mut o = Options::default();
    o.set_write_buffer_size(16 << 20);
    if point_lookups {
        // Most writes look up the key they replace; a memtable bloom filter makes the
        // miss for a new key cheap.
        o.set_memtable_prefix_bloom_ratio(0.1);
        o.set_memtable_whole_key_filtering(true);
    }
    let mut t = BlockBasedOptions::default();
    t.set_block_cache(cache);
    if point_lookups {
        t.set_bloom_filter(10.0, false);
        // Index and filter blocks stay in the table readers (not the LRU cache): every
        // point lookup touches them, and cache lookups showed up in profiles.
        t.set_cache_index_and_filter_blocks(false);
    }
    o.set_block_based_table_factory(&t);
    o.set_compression_type(DBCompressionType::Lz4);
    o
}

impl Storage {
    /// Opens (or creates) the database under `path`. `cache_bytes` sizes the shared
    /// block cache. A snapshot install that a crash interrupted is completed here,
    /// before anything can read the state.
    pub fn open(path: &Path, cache_bytes: usize) -> std::result::Result<Arc<Storage>, Error> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.increase_parallelism(2);
        // Replay the WAL up to the first corrupt record: a torn tail after a crash loses
        // only unsynced (unacknowledged) writes.
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::PointInTime);
        // Applied entries skip the WAL, so a flush must never persist one column family
        // of a batch without the others: flushes cover every column family at one point.
        opts.set_atomic_flush(true);
        // Bounds WAL replay after a crash (restart time), since state writes are not
        // flushed on their own: with 1M keys, kill -9 then restart took 1.18 s to open
        // with 64 MiB, 0.38 s with 24 MiB (and 16 MiB memtables).
        opts.set_max_total_wal_size(24 << 20);
        let cache = Cache::new_lru_cache(cache_bytes);
        let cfs = keys::ALL_CFS.iter().map(|name| {
            let point = matches!(*name, keys::CF_META | keys::CF_SM | keys::CF_RAFT);
            ColumnFamilyDescriptor::new(*name, cf_options(&cache, point))
        });
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        let st = Storage {
            db,
            path: path.to_path_buf(),
            stats: Stats::default(),
            faults: fault::Faults::from_env(),
            tier: KeyTier::default(),
            restore_epoch: AtomicU64::new(0),
            acl_epoch: AtomicU64::new(0),
            digests: Default::default(),
            write_lock: std::sync::Mutex::new(()),
            sync_observer: std::sync::OnceLock::new(),
        };
        st.resume_install()?;
        st.refresh_restoring()?;
        st.load_digests()?;
        Ok(Arc::new(st))
    }

    /// Test-only: makes reads of the state fail (see the `fault` module).
    pub fn set_read_fault(&self, f: ReadFault) {
        self.faults.set_read(f);
    }

    /// Test-only: stops the next snapshot installs after a given step.
    pub fn set_install_fault(&self, f: Option<InstallFault>) {
        self.faults.set_install(f);
    }

    /// Test-only (the deterministic simulation): `f` runs after every successful synced
    /// write, so the caller knows which WAL bytes are durable. Set once.
    pub fn set_sync_observer(&self, f: Box<dyn Fn() + Send + Sync>) {
        let _ = self.sync_observer.set(f);
    }

    fn synced(&self) {
        if let Some(f) = self.sync_observer.get() {
            f();
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The memory tier of `meta` records (budget, counters).
    pub fn key_tier(&self) -> &KeyTier {
        &self.tier
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        // Every column family is created at open, so a missing handle is a programming error.
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    fn unsynced() -> WriteOptions {
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        wo
    }

    /// Writes effects that no log entry holds (a recount at open, a test's setup) plus
    /// extra records as ONE atomic batch through the WAL, unsynced.
    pub fn write_effects(&self, effects: &Effects, extra: &[(Cf, &[u8], &[u8])]) -> Result<()> {
        self.write_batch(0, effects, extra, true)
    }

    /// Writes applied log entry `index`'s effects plus extra records (its `applied`
    /// record) as ONE atomic batch, without the WAL: the Raft log is the durable copy,
    /// and after a crash the entries past the last flush are applied again (see the
    /// module doc). The slots it changes record `index` as their last change
    /// (anti-entropy compares slots changed by the same entries).
    pub fn write_entry(
        &self,
        index: u64,
        effects: &Effects,
        extra: &[(Cf, &[u8], &[u8])],
    ) -> Result<()> {
        self.write_batch(index, effects, extra, false)
    }

    fn write_batch(
        &self,
        index: u64,
        effects: &Effects,
        extra: &[(Cf, &[u8], &[u8])],
        wal: bool,
    ) -> Result<()> {
        let _w = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut b = WriteBatch::default();
        let digest = self.digest_change(index, effects, &mut b)?;
        for w in &effects.writes {
            match w {
                Write::Put(cf, k, v) => b.put_cf(self.cf(cf.name()), k, v),
                Write::Delete(cf, k) => b.delete_cf(self.cf(cf.name()), k),
                Write::DeleteRange(cf, s, e) => b.delete_range_cf(self.cf(cf.name()), s, e),
            }
        }
        for (cf, k, v) in extra {
            b.put_cf(self.cf(cf.name()), k, v);
        }
        self.stats.batches_written.fetch_add(1, Ordering::Relaxed);
        self.stats
            .records_written
            .fetch_add(b.len() as u64, Ordering::Relaxed);
        // The key tier follows the batch: written keys are pending while it is written,
        // then take their new bytes (see `tier`).
        let restore = restore_change(effects, extra);
        if restore == Some(true) {
            self.set_restoring(true);
        }
        let tiered = self.tier.begin_write(effects);
        let mut wo = Self::unsynced();
        wo.disable_wal(!wal);
        let r = self.db.write_opt(b, &wo);
        if tiered {
            self.tier.end_write(effects, r.is_ok());
        }
        if r.is_ok() && touches_acl(effects) {
            self.acl_epoch.fetch_add(1, Ordering::SeqCst);
        }
        if r.is_ok() {
            self.digest_commit(index, digest)?;
        }
        if r.is_err() && restore.is_some() {
            self.refresh_restoring()?;
        } else if restore == Some(false) {
            self.set_restoring(false);
        }
        r
    }

    /// True while a backup restore is in progress in the applied state.
    pub fn restoring(&self) -> bool {
        self.restore_epoch() % 2 == 1
    }

    /// Odd while a backup restore is in progress. A read of the state is refused when
    /// this is odd before it runs or has changed after it ran: then it may have seen
    /// part of a restore.
    pub fn restore_epoch(&self) -> u64 {
        self.restore_epoch.load(Ordering::SeqCst)
    }

    fn set_restoring(&self, on: bool) {
        let e = self.restore_epoch.load(Ordering::SeqCst);
        if (e % 2 == 1) != on {
            self.restore_epoch.store(e + 1, Ordering::SeqCst);
        }
    }

    /// Reads the `restore` record into the in-memory epoch (at open, after a snapshot
    /// install, after a failed write of the record).
    pub(crate) fn refresh_restoring(&self) -> Result<()> {
        let on = self.sm_get(keys::sm::RESTORE)?.is_some();
        self.set_restoring(on);
        Ok(())
    }

    /// Empties the key tier before the state is replaced underneath it (a snapshot
    /// install) and keeps it empty until [`Storage::end_replace`].
    pub fn begin_replace(&self) {
        self.tier.begin_replace();
    }

    /// Ends a replacement of the state (after the install, whether it succeeded or not).
    pub fn end_replace(&self) {
        self.tier.end_replace();
        self.acl_epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Moves on after every write of an ACL user record is committed. Read it *before*
    /// reading a record: when it has not moved since, the record has not changed.
    pub fn acl_epoch(&self) -> u64 {
        self.acl_epoch.load(Ordering::SeqCst)
    }

    // ---- Raft log and Raft state ------------------------------------------------------

    /// Appends log entries (index, bytes) without syncing; see [`GroupCommit`].
    pub fn log_append(&self, entries: &[(u64, Vec<u8>)]) -> Result<()> {
        let cf = self.cf(keys::CF_RAFT_LOG);
        let mut b = WriteBatch::default();
        for (i, e) in entries {
            b.put_cf(cf, keys::log_key(*i), e);
        }
        self.db.write_opt(b, &Self::unsynced())
    }

    /// Deletes log entries with index >= `from` (conflicting suffix).
    pub fn log_truncate(&self, from: u64) -> Result<()> {
        let cf = self.cf(keys::CF_RAFT_LOG);
        let mut b = WriteBatch::default();
        b.delete_range_cf(cf, keys::log_key(from), keys::log_key(u64::MAX));
        b.delete_cf(cf, keys::log_key(u64::MAX));
        self.db.write_opt(b, &Self::unsynced())
    }

    /// Records `purged` and deletes log entries with index <= `upto`, atomically. The
    /// state is flushed first: applied entries skip the WAL, so until a flush the log
    /// is their only durable copy (the caller purges only applied entries).
    pub fn log_purge(&self, upto: u64, purged: &[u8]) -> Result<()> {
        self.flush_state()?;
        let mut b = WriteBatch::default();
        b.put_cf(self.cf(keys::CF_RAFT), keys::RAFT_PURGED, purged);
        b.delete_range_cf(
            self.cf(keys::CF_RAFT_LOG),
            keys::log_key(0),
            keys::log_key(upto.saturating_add(1)),
        );
        self.db.write_opt(b, &Self::unsynced())
    }

    /// Log entries with index in `[from, to)`, in order.
    pub fn log_range(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(keys::log_key(to).to_vec());
        let start = keys::log_key(from);
        let mut out = Vec::new();
        for item in self.db.iterator_cf_opt(
            self.cf(keys::CF_RAFT_LOG),
            ro,
            IteratorMode::From(&start, Direction::Forward),
        ) {
            let (k, v) = item?;
            if let Some(i) = keys::decode_log_key(&k) {
                out.push((i, v.to_vec()));
            }
        }
        Ok(out)
    }

    /// The last log entry, if any.
    pub fn log_last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let mut it = self
            .db
            .iterator_cf(self.cf(keys::CF_RAFT_LOG), IteratorMode::End);
        match it.next() {
            Some(item) => {
                let (k, v) = item?;
                Ok(keys::decode_log_key(&k).map(|i| (i, v.to_vec())))
            }
            None => Ok(None),
        }
    }

    pub fn raft_get(&self, name: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(keys::CF_RAFT), name)
    }

    /// Writes a Raft state record; `sync` for the vote, which must survive a crash
    /// before the node answers a vote request.
    pub fn raft_put(&self, name: &[u8], value: &[u8], sync: bool) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db
            .put_cf_opt(self.cf(keys::CF_RAFT), name, value, &wo)?;
        if sync {
            self.synced();
        }
        Ok(())
    }

    /// Flushes the state's memtables to table files (every column family at one point),
    /// and waits: the applied state up to now is durable without the log.
    pub fn flush_state(&self) -> Result<()> {
        let cfs: Vec<_> = keys::ALL_CFS.iter().map(|n| self.cf(n)).collect();
        let mut fo = rocksdb::FlushOptions::default();
        fo.set_wait(true);
        self.db.flush_cfs_opt(&cfs, &fo)?;
        self.stats.state_flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// fsyncs the WAL: everything written before this call is durable after it.
    pub fn sync_wal(&self) -> Result<()> {
        let t0 = std::time::Instant::now();
        let r = self.db.flush_wal(true);
        self.stats.wal_syncs.fetch_add(1, Ordering::Relaxed);
        self.stats
            .wal_sync_micros
            .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
        if r.is_ok() {
            self.synced();
        }
        r
    }

    // ---- state ------------------------------------------------------------------------

    pub fn sm_get(&self, name: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(keys::CF_SM), name)
    }

    /// Up to `limit` expiry index entries due at `now_ms`: (expire_at, db, key).
    pub fn due_expiries(&self, now_ms: u64, limit: usize) -> Result<Vec<(u64, u8, Vec<u8>)>> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(keys::expire_due_end(now_ms));
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf_opt(self.cf(keys::CF_EXPIRE), ro, IteratorMode::Start)
        {
            let (k, _) = item?;
            if let Some((at, db, key)) = keys::decode_expire_key(&k) {
                out.push((at, db, key.to_vec()));
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// A consistent read view: every read through it sees one point in time.
    pub fn snapshot(&self) -> SnapshotStore<'_> {
        // The tier serves a snapshot only entries exact at the snapshot's point: known
        // when no write was in progress or began while the snapshot was taken.
        let before = self.tier.epoch();
        let snap = self.db.snapshot();
        let after = self.tier.epoch();
        SnapshotStore {
            storage: self,
            snap,
            tier_at: (before == after && before % 2 == 0).then_some(before),
        }
    }

    /// A RocksDB checkpoint (hard-linked SST files) of the whole database at `dir`.
    pub fn checkpoint(&self, dir: &Path) -> Result<()> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        // The checkpoint flushed the memtables: everything written so far is in synced
        // table files, and the WAL starts anew.
        self.synced();
        Ok(())
    }

    /// Approximate on-disk size of live data, for INFO.
    pub fn disk_bytes(&self) -> u64 {
        keys::ALL_CFS
            .iter()
            .filter_map(|n| {
                self.db
                    .property_int_value_cf(self.cf(n), "rocksdb.total-sst-files-size")
                    .ok()
                    .flatten()
            })
            .sum()
    }

    /// Approximate memory used by memtables and caches, for INFO.
    pub fn memory_bytes(&self) -> u64 {
        let mut total = 0;
        for n in keys::ALL_CFS {
            for p in [
                "rocksdb.cur-size-all-mem-tables",
                "rocksdb.estimate-table-readers-mem",
            ] {
                total += self
                    .db
                    .property_int_value_cf(self.cf(n), p)
                    .ok()
                    .flatten()
                    .unwrap_or(0);
            }
        }
        total
    }

    fn scan_with(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        snap: Option<&rocksdb::Snapshot<'_>>,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> std::result::Result<(), StoreError> {
        if start >= end {
            return Ok(());
        }
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(end.to_vec());
        if let Some(s) = snap {
            ro.set_snapshot(s);
        }
        for item in self.db.iterator_cf_opt(
            self.cf(cf.name()),
            ro,
            IteratorMode::From(start, Direction::Forward),
        ) {
            let (k, v) = item.map_err(store_err)?;
            if !f(&k, &v) {
                break;
            }
        }
        Ok(())
    }
}

fn store_err(e: rocksdb::Error) -> StoreError {
    StoreError(e.to_string())
}

/// The state machine reads the live database: it is the only writer.
impl Store for Storage {
    fn get(&self, cf: Cf, key: &[u8]) -> std::result::Result<Option<Vec<u8>>, StoreError> {
        self.faults.check_read(key)?;
        if cf != Cf::Meta {
            return self.db.get_cf(self.cf(cf.name()), key).map_err(store_err);
        }
        if let tier::Lookup::Hit(v) = self.tier.get(key, None) {
            return Ok(v);
        }
        let epoch = self.tier.epoch();
        let v = self.db.get_cf(self.cf(cf.name()), key).map_err(store_err)?;
        self.tier.fill(epoch, key, v.as_deref());
        Ok(v)
    }

    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> std::result::Result<(), StoreError> {
        self.faults.check_read(start)?;
        self.scan_with(cf, start, end, None, f)
    }
}

/// A point-in-time view for the read path, so a multi-key read never sees half an entry.
pub struct SnapshotStore<'a> {
    storage: &'a Storage,
    snap: rocksdb::Snapshot<'a>,
    /// The key tier's epoch this snapshot is exactly at, if known (see `tier`).
    tier_at: Option<u64>,
}

impl Store for SnapshotStore<'_> {
    fn get(&self, cf: Cf, key: &[u8]) -> std::result::Result<Option<Vec<u8>>, StoreError> {
        self.storage.faults.check_read(key)?;
        let at = match self.tier_at {
            Some(at) if cf == Cf::Meta => at,
            _ => {
                return self
                    .snap
                    .get_cf(self.storage.cf(cf.name()), key)
                    .map_err(store_err)
            }
        };
        let tier = &self.storage.tier;
        if let tier::Lookup::Hit(v) = tier.get(key, Some(at)) {
            return Ok(v);
        }
        let v = self
            .snap
            .get_cf(self.storage.cf(cf.name()), key)
            .map_err(store_err)?;
        tier.fill(at, key, v.as_deref());
        Ok(v)
    }

    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> std::result::Result<(), StoreError> {
        self.storage.faults.check_read(start)?;
        self.storage.scan_with(cf, start, end, Some(&self.snap), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(cf: Cf, k: &[u8], v: &[u8]) -> Write {
        Write::Put(cf, k.to_vec(), v.to_vec())
    }

    #[test]
    fn writes_apply_in_order_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let st = Storage::open(dir.path(), 8 << 20).unwrap();
            let first = Effects {
                writes: vec![
                    put(Cf::Meta, b"a", b"1"),
                    put(Cf::Meta, b"b", b"2"),
                    put(Cf::Meta, b"c", b"3"),
                    put(Cf::Data, b"x", b"4"),
                ],
            };
            st.write_effects(&first, &[(Cf::Sm, keys::sm::APPLIED, b"1")])
                .unwrap();
            let second = Effects {
                writes: vec![
                    Write::DeleteRange(Cf::Meta, b"a".to_vec(), b"c".to_vec()),
                    put(Cf::Meta, b"b", b"again"),
                    Write::Delete(Cf::Data, b"x".to_vec()),
                ],
            };
            st.write_effects(&second, &[]).unwrap();
            st.sync_wal().unwrap();
        }
        let st = Storage::open(dir.path(), 8 << 20).unwrap();
        let mut meta = Vec::new();
        st.scan(Cf::Meta, b"", b"\xff", &mut |k, v| {
            meta.push((k.to_vec(), v.to_vec()));
            true
        })
        .unwrap();
        assert_eq!(
            meta,
            vec![
                (b"b".to_vec(), b"again".to_vec()),
                (b"c".to_vec(), b"3".to_vec())
            ]
        );
        assert_eq!(st.get(Cf::Data, b"x").unwrap(), None);
        assert_eq!(st.sm_get(keys::sm::APPLIED).unwrap(), Some(b"1".to_vec()));
        let snap = st.snapshot();
        st.write_effects(
            &Effects {
                writes: vec![put(Cf::Meta, b"c", b"later")],
            },
            &[],
        )
        .unwrap();
        assert_eq!(snap.get(Cf::Meta, b"c").unwrap(), Some(b"3".to_vec()));
        assert_eq!(st.get(Cf::Meta, b"c").unwrap(), Some(b"later".to_vec()));
    }
}
