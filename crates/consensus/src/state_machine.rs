//! The state machine adapter: applies committed entries through `engine`, writing
//! each entry's effects and `last_applied` in one RocksDB batch.

use crate::types::{
    read_err, write_err, Dedupe, Entry, EventSink, LogId, Op, Response, RestoreStep, SnapshotDir,
    StorageError, StoredMembership, TypeConfig,
};
use engine::{Frame, Tier, Txn};
use keys::hlc::Stamp;
use keys::Cf;
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::{EntryPayload, SnapshotMeta};
use std::path::PathBuf;
use std::sync::Arc;
use storage::Storage;
use tokio::sync::watch;

type Meta = SnapshotMeta<u64, openraft::BasicNode>;

pub struct StateMachine {
    st: Arc<Storage>,
    snapshot_root: PathBuf,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    /// Publishes the applied index: sync tokens and read-your-writes wait on it.
    applied_tx: watch::Sender<u64>,
    current: Option<(Meta, PathBuf)>,
    /// Receives each entry's touched keys and events (pub/sub, notifications, wakeups).
    pub(crate) sink: Option<Arc<dyn EventSink>>,
    /// The memory tier, told about every entry's effects once they are written.
    pub(crate) tier: Arc<Tier>,
    /// The HLC stamp of the last applied entry with commands (`keys::hlc`, sm `hlc`).
    stamp: Stamp,
}

/// The stored HLC clock (`keys::sm::HLC`); zero for a data dir older than it.
pub(crate) fn stored_stamp(st: &Storage) -> anyhow::Result<Stamp> {
    Ok(st
        .sm_get(keys::sm::HLC)?
        .and_then(|raw| Stamp::decode(&raw))
        .unwrap_or(Stamp::ZERO))
}

/// The last applied index in a raw `applied` record (anti-entropy reads it beside the
/// digests).
pub(crate) fn applied_index_of(raw: &[u8]) -> Result<u64, bincode::Error> {
    let rec: AppliedRecord = bincode::deserialize(raw)?;
    Ok(rec.last_applied.map_or(0, |l| l.index))
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct AppliedRecord {
    pub(crate) last_applied: Option<LogId>,
    pub(crate) membership: StoredMembership,
}

/// Whether an entry may take long to apply: it runs a script, or it carries a restore
/// chunk, a repair or a merge (many keys). Other commands are bounded by their data,
/// as in Redis.
fn may_run_long(e: &Entry) -> bool {
    let script = |argv: &Vec<Vec<u8>>| {
        argv.first()
            .and_then(|n| engine::lookup(n))
            .is_some_and(|spec| spec.flags & engine::flags::RUNS_SCRIPT != 0)
    };
    let EntryPayload::Normal(req) = &e.payload else {
        return false;
    };
    req.ops.iter().any(|op| match op {
        Op::Cmd { argv, .. } | Op::CmdAs { argv, .. } => script(argv),
        Op::Multi { cmds, .. } | Op::MultiAs { cmds, .. } => cmds.iter().any(|(_, a)| script(a)),
        Op::Restore(_) | Op::Repair { .. } | Op::Merge { .. } => true,
        _ => false,
    })
}

impl StateMachine {
    pub fn open(
        st: Arc<Storage>,
        snapshot_root: PathBuf,
    ) -> anyhow::Result<(StateMachine, watch::Receiver<u64>)> {
        let rec: AppliedRecord = match st.sm_get(keys::sm::APPLIED)? {
            Some(raw) => bincode::deserialize(&raw)?,
            None => AppliedRecord {
                last_applied: None,
                membership: StoredMembership::default(),
            },
        };
        // A data directory written before the data size was accounted: recount it once.
        if let Some(e) = engine::quota::missing_sizes(&*st)? {
            st.write_effects(&e, &[])?;
        }
        std::fs::create_dir_all(&snapshot_root)?;
        let current = latest_snapshot(&snapshot_root);
        let applied = rec.last_applied.map_or(0, |l| l.index);
        st.stats
            .applied_at_open
            .store(applied, std::sync::atomic::Ordering::Relaxed);
        let (applied_tx, applied_rx) = watch::channel(applied);
        let stamp = stored_stamp(&st)?;
        Ok((
            StateMachine {
                st,
                snapshot_root,
                last_applied: rec.last_applied,
                membership: rec.membership,
                applied_tx,
                current,
                sink: None,
                tier: Arc::new(Tier::default()),
                stamp,
            },
            applied_rx,
        ))
    }

    fn applied_record(
        last_applied: Option<LogId>,
        membership: &StoredMembership,
    ) -> Result<Vec<u8>, StorageError> {
        bincode::serialize(&AppliedRecord {
            last_applied,
            membership: membership.clone(),
        })
        .map_err(write_err)
    }

    /// Applies one entry: its effects and the new applied record in one batch. If a read
    /// of the store failed while the entry ran, nothing is written and the entry stays
    /// unapplied: the error stops this node's Raft (openraft's storage error path), and
    /// a restart applies the entry again. Its replies are never sent, since they may
    /// reflect the failure rather than the state every other replica has.
    pub(crate) fn apply_one(&mut self, entry: Entry) -> Result<Response, StorageError> {
        let log_id = entry.log_id;
        let _span = tracing::trace_span!("apply", index = log_id.index).entered();
        let mut replies = Vec::new();
        let mut delivery = None;
        let mut membership = None;
        let mut sizes = None;
        let mut stamp = None;
        let effects = match entry.payload {
            EntryPayload::Blank => engine::Effects::default(),
            EntryPayload::Membership(m) => {
                membership = Some(StoredMembership::new(Some(log_id), m));
                engine::Effects::default()
            }
            EntryPayload::Normal(req) => {
                // Everything before this entry is written and observed, so the tier's
                // current generation describes the store this transaction reads.
                // The entry's HLC stamp: the leader's time, never below the last one.
                let entry_stamp = self.stamp.next(req.now_ms, log_id.leader_id.node_id);
                let mut txn = Txn::new(&*self.st, log_id.index, req.now_ms, req.seed)
                    .with_tier(&self.tier, self.tier.generation())
                    .with_stamp(entry_stamp);
                if let Some(sink) = &self.sink {
                    txn = txn.with_bus(&**sink);
                }
                let mut groups = req.dedupe.iter().peekable();
                let mut skip_until = 0usize;
                let mut open_group: Option<(Dedupe, usize)> = None;
                // A backup restore in progress refuses every other op (RestoreStep).
                let mut restoring = self.st.restoring();
                let st = self.st.clone();
                for (i, op) in req.ops.iter().enumerate() {
                    if let Some(g) = groups.next_if(|g| g.start as usize == i) {
                        let key = keys::sm::dedupe_key(g.origin, g.seq);
                        let seen = txn
                            .raw_get(Cf::Sm, &key)
                            .map_err(|e| apply_err(log_id, &e))?;
                        if let Some(raw) = seen {
                            // A retried forward: answer with the first application's replies.
                            let (_, cached): (u64, Vec<Frame>) =
                                bincode::deserialize(&raw).map_err(read_err)?;
                            replies.extend(cached);
                            skip_until = i + g.count as usize;
                            continue;
                        }
                        open_group = Some((*g, replies.len()));
                    }
                    if i < skip_until {
                        continue;
                    }
                    if let Op::Restore(step) = op {
                        replies.push(restore_step(&mut txn, step, &mut restoring));
                    } else if restoring {
                        replies.push(Frame::Error(RESTORING.into()));
                    } else {
                        // An op that would grow the data past the quota is undone whole.
                        replies.push(txn.guarded(|txn| match op {
                            Op::Cmd { db, argv } => txn.run(*db, argv),
                            Op::CmdAs {
                                db,
                                argv,
                                user,
                                acl,
                            } => match engine::acl::User::decode(user, acl) {
                                Ok(u) => {
                                    engine::ScriptControl::as_caller(Some(Arc::new(u)), || {
                                        txn.run(*db, argv)
                                    })
                                }
                                Err(e) => Frame::Error(e.0),
                            },
                            Op::Expire { db, due } => match txn.expire_if_due(*db, due) {
                                Ok(n) => Frame::Integer(n as i64),
                                Err(e) => Frame::Error(e.0),
                            },
                            Op::Multi { cmds, watch } => run_multi(txn, cmds, watch),
                            Op::MultiAs {
                                cmds,
                                watch,
                                user,
                                acl,
                            } => match engine::acl::User::decode(user, acl) {
                                Ok(u) => {
                                    engine::ScriptControl::as_caller(Some(Arc::new(u)), || {
                                        run_multi(txn, cmds, watch)
                                    })
                                }
                                Err(e) => Frame::Error(e.0),
                            },
                            Op::SetConfig { pairs } => {
                                match engine::settings::apply_config_set(txn, pairs) {
                                    Ok(()) => Frame::ok(),
                                    Err(e) => Frame::Error(e.0),
                                }
                            }
                            Op::Evict { db, keys } => match txn.evict(*db, keys) {
                                Ok(n) => Frame::Integer(n as i64),
                                Err(e) => Frame::Error(e.0),
                            },
                            Op::Region(r) => region_op(txn, r),
                            Op::Repair { slots } => repair(txn, &st, slots),
                            Op::Merge { keys } => merge(txn, keys, log_id.leader_id.node_id),
                            Op::Restore(_) => unreachable!("handled above"),
                        }));
                    }
                    if let Some((g, first)) = open_group {
                        if i + 1 == (g.start + g.count) as usize {
                            let rec = bincode::serialize(&(req.now_ms, &replies[first..]))
                                .map_err(write_err)?;
                            txn.raw_put(Cf::Sm, keys::sm::dedupe_key(g.origin, g.seq), rec);
                            txn.raw_put(
                                Cf::Sm,
                                keys::sm::dedupe_time_key(req.now_ms, g.origin, g.seq),
                                Vec::new(),
                            );
                            open_group = None;
                        }
                    }
                }
                prune_dedupe(&mut txn, req.now_ms).map_err(|e| apply_err(log_id, &e))?;
                let grace_ms = engine::settings::TOMBSTONE_GRACE
                    .get(&txn)
                    .unwrap_or(engine::settings::TOMBSTONE_GRACE.default)
                    .saturating_mul(1000);
                txn.prune_tombstones(req.now_ms.saturating_sub(grace_ms), 64)
                    .map_err(|e| apply_err(log_id, &e))?;
                if let Some(e) = txn.storage_failure() {
                    tracing::error!("entry {log_id} not applied, stopping: {e}");
                    return Err(apply_err(log_id, e));
                }
                if self.sink.is_some() {
                    delivery = Some((req.now_ms, txn.take_events()));
                }
                sizes = txn.data_size_record();
                stamp = Some(txn.stamp());
                txn.into_effects()
            }
        };
        let rec = Self::applied_record(
            Some(log_id),
            membership.as_ref().unwrap_or(&self.membership),
        )?;
        let stamp_raw = stamp.map(|s| s.encode());
        // Failpoints around the entry's one batch (nothing configures them outside
        // tests): a failed apply before anything is written, and a stop right after the
        // batch is written but before the state machine reports it (a crash there).
        if fail::eval("sm-apply-before-write", |_| ()).is_some() {
            return Err(apply_err(
                log_id,
                &std::io::Error::other("injected apply failure (failpoint sm-apply-before-write)"),
            ));
        }
        self.st
            .write_entry(
                log_id.index,
                &effects,
                &extras(&rec, sizes.as_deref(), stamp_raw.as_ref().map(|s| &s[..])),
            )
            .map_err(|e| apply_err(log_id, &e))?;
        if fail::eval("sm-apply-after-write", |_| ()).is_some() {
            return Err(apply_err(
                log_id,
                &std::io::Error::other(
                    "injected stop after the apply batch (failpoint sm-apply-after-write)",
                ),
            ));
        }
        self.last_applied = Some(log_id);
        if let Some(s) = stamp {
            self.stamp = s;
        }
        if let Some(m) = membership {
            self.membership = m;
        }
        self.tier.observe(&effects);
        if let (Some(sink), Some((at, (touched, events)))) = (&self.sink, delivery) {
            if !touched.is_empty() || !events.is_empty() {
                sink.deliver(at, touched, events);
            }
        }
        Ok(Response { replies })
    }

    /// Checkpoints the database as a snapshot of everything applied so far. Runs on the
    /// state machine task, between applies, so the recorded `last_applied` matches.
    fn checkpoint(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let last = self.last_applied;
        let id = format!(
            "{}-{}",
            last.map_or(0, |l| l.leader_id.term),
            last.map_or(0, |l| l.index)
        );
        let dir = self.snapshot_root.join(&id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(write_err)?;
        }
        let tmp = self.snapshot_root.join(format!("{id}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(write_err)?;
        self.st.checkpoint(&tmp.join("db")).map_err(write_err)?;
        // Failpoint: the snapshot build fails after the checkpoint, before it is named.
        if fail::eval("snapshot-build", |_| ()).is_some() {
            return Err(write_err(std::io::Error::other(
                "injected snapshot build failure (failpoint snapshot-build)",
            )));
        }
        let meta = Meta {
            last_log_id: last,
            last_membership: self.membership.clone(),
            snapshot_id: id.clone(),
        };
        let raw = bincode::serialize(&meta).map_err(write_err)?;
        std::fs::write(tmp.join("meta.bin"), raw).map_err(write_err)?;
        std::fs::rename(&tmp, &dir).map_err(write_err)?;
        // Only the newest snapshot is kept.
        if let Some((_, old)) = self.current.replace((meta.clone(), dir.clone())) {
            if old != dir {
                let _ = std::fs::remove_dir_all(old);
            }
        }
        Ok(Snapshot {
            meta,
            snapshot: Box::new(SnapshotDir { path: dir }),
        })
    }
}

/// What every op but a restore step gets while a backup restore is in progress.
pub const RESTORING: &str =
    "LOADING Meridian is restoring a backup; commands are served again when it ends";

/// Applies one step of a backup restore (see [`RestoreStep`]).
fn restore_step(txn: &mut Txn, step: &RestoreStep, restoring: &mut bool) -> Frame {
    let current = |txn: &Txn| txn.raw_get(Cf::Sm, keys::sm::RESTORE).ok().flatten();
    let not_current = || Frame::Error("ERR no restore with this id is in progress".into());
    match step {
        RestoreStep::Begin { id } => {
            txn.restore_clear();
            txn.raw_put(Cf::Sm, keys::sm::RESTORE.to_vec(), id.as_bytes().to_vec());
            *restoring = true;
            Frame::ok()
        }
        RestoreStep::Chunk { id, records } => {
            if current(txn).as_deref() != Some(id.as_bytes()) {
                return not_current();
            }
            let mut recs = Vec::with_capacity(records.len());
            for (code, k, v) in records {
                let Some(cf) = crate::types::cf_of_code(*code) else {
                    return Frame::Error("ERR restore record of an unknown column family".into());
                };
                recs.push((cf, k.clone(), v.clone()));
            }
            match txn.restore_records(&recs) {
                Ok(n) => Frame::Integer(n as i64),
                Err(e) => Frame::Error(e.0),
            }
        }
        RestoreStep::End { id } => {
            if current(txn).as_deref() != Some(id.as_bytes()) {
                return not_current();
            }
            txn.raw_delete(Cf::Sm, keys::sm::RESTORE.to_vec());
            *restoring = false;
            Frame::ok()
        }
    }
}

/// The `sm` records written with an entry's effects: `applied`, and the data size
/// totals when the entry changed them (`engine::quota`).
fn extras<'a>(
    applied: &'a [u8],
    sizes: Option<&'a [u8]>,
    stamp: Option<&'a [u8]>,
) -> Vec<(Cf, &'a [u8], &'a [u8])> {
    let mut v = vec![(Cf::Sm, keys::sm::APPLIED, applied)];
    if let Some(s) = sizes {
        v.push((Cf::Sm, engine::quota::DATASIZE_KEY, s));
    }
    if let Some(s) = stamp {
        v.push((Cf::Sm, keys::sm::HLC, s));
    }
    v
}

/// A last-writer-wins merge of keys from another history of this database (a deposed
/// primary region rejoining, `node/region.rs`): each key takes the incoming version, with
/// the incoming stamp, only if that stamp is greater than what this history holds for
/// it (its record's stamp, or its tombstone's). A version that is a delete leaves a
/// tombstone. Writes later in the entry (and later entries) get stamps above every
/// merged one. The reply is the number of keys taken.
/// `RESTORE key at payload ABSTTL REPLACE`: a key shipped by another node (a repair or
/// a merge) with its absolute expiry (0: none).
fn restore_argv(key: &[u8], payload: &[u8], at: u64) -> Vec<Vec<u8>> {
    vec![
        b"RESTORE".to_vec(),
        key.to_vec(),
        at.to_string().into_bytes(),
        payload.to_vec(),
        b"ABSTTL".to_vec(),
        b"REPLACE".to_vec(),
    ]
}

fn merge(txn: &mut Txn, keys: &[crate::types::MergeKey], leader: u64) -> Frame {
    let entry_stamp = txn.stamp();
    let mut clock = entry_stamp;
    let mut taken = 0i64;
    for k in keys {
        let incoming = Stamp {
            hlc: k.hlc,
            node: k.node,
        };
        let held = match txn.held_stamp(k.db, &k.key) {
            Ok(h) => h,
            Err(e) => return Frame::Error(e.0),
        };
        clock = clock.max(incoming);
        if !keys::hlc::lww_replaces(held, incoming) {
            continue;
        }
        txn.set_stamp(incoming);
        let r = match &k.value {
            None => {
                let r = txn.run(k.db, &[b"DEL".to_vec(), k.key.clone()]);
                txn.put_tombstone_in(k.db, &k.key);
                r
            }
            Some((payload, at)) => txn.run(k.db, &restore_argv(&k.key, payload, *at)),
        };
        txn.set_stamp(entry_stamp);
        if let Frame::Error(e) = r {
            return Frame::Error(e);
        }
        taken += 1;
    }
    if clock > entry_stamp {
        txn.set_stamp(clock.next(0, leader));
    }
    Frame::Integer(taken)
}

/// An I/O error while applying entry `log_id`: openraft stops this node's Raft on it.
/// Anti-entropy's repair: each slot whose last change is still the one the leader saw
/// (on this node, and in no earlier op of this entry) gets the leader's records of the
/// listed keys: each key is deleted, then restored from the leader's DUMP payload with
/// its absolute expiry. Every node applies it, so all end with the same records. The
/// reply is the number of keys rewritten.
fn repair(txn: &mut Txn, st: &Storage, slots: &[crate::types::RepairSlot]) -> Frame {
    let mut n = 0i64;
    for s in slots {
        if st.slot_digest(s.slot).last_index != s.last_index || txn.touches_slot(s.slot) {
            continue;
        }
        for k in &s.keys {
            if keys::key_slot(&k.key) != s.slot {
                continue;
            }
            let del = txn.run(k.db, &[b"DEL".to_vec(), k.key.clone()]);
            if let Frame::Error(e) = del {
                return Frame::Error(e);
            }
            if let Some((payload, at)) = &k.value {
                let r = txn.run(k.db, &restore_argv(&k.key, payload, *at));
                if let Frame::Error(e) = r {
                    return Frame::Error(e);
                }
            }
            n += 1;
        }
    }
    Frame::Integer(n)
}

/// Applies a change to the region records.
fn region_op(txn: &mut Txn, op: &crate::types::RegionOp) -> Frame {
    use crate::types::RegionOp;
    use keys::sm::{region_member_key, REGIONS_DECLARED};
    match op {
        RegionOp::Member { id, region } => {
            txn.raw_put(Cf::Sm, region_member_key(*id), region.as_bytes().to_vec())
        }
        RegionOp::Forget { id } => txn.raw_delete(Cf::Sm, region_member_key(*id)),
        RegionOp::Declare { name } => {
            txn.raw_put(Cf::Sm, REGIONS_DECLARED.key(name.as_bytes()), Vec::new())
        }
        RegionOp::Undeclare { name } => {
            txn.raw_delete(Cf::Sm, REGIONS_DECLARED.key(name.as_bytes()))
        }
        RegionOp::Failover { record } => {
            txn.raw_put(Cf::Sm, crate::node::failover_key().to_vec(), record.clone())
        }
    }
    Frame::ok()
}

fn apply_err<E: std::error::Error + 'static>(log_id: LogId, e: &E) -> StorageError {
    openraft::StorageIOError::apply(log_id, openraft::AnyError::new(e)).into()
}

/// EXEC: the queued commands run back to back in this entry, unless a watched key was
/// written after WATCH read it (its write index moved), as Redis's WATCH. Errors of
/// single commands are their replies; the rest still run (no rollback, as Redis).
fn run_multi(txn: &mut Txn, cmds: &[(u8, Vec<Vec<u8>>)], watch: &[(u8, Vec<u8>, u64)]) -> Frame {
    for (db, key, seen) in watch {
        match txn.key_write_index(*db, key) {
            Ok(now) if now == *seen => {}
            Ok(_) => return Frame::NullArray,
            Err(e) => return Frame::Error(e.0),
        }
    }
    Frame::Array(cmds.iter().map(|(db, argv)| txn.run(*db, argv)).collect())
}

/// How long a forwarded request id is remembered (retries come within seconds).
const DEDUPE_WINDOW_MS: u64 = 120_000;

/// Drops up to 64 dedupe records older than the window, by the entry's own time, so
/// every replica prunes the same records at the same log position.
fn prune_dedupe(txn: &mut Txn, now_ms: u64) -> Result<(), engine::StoreError> {
    let start = keys::sm::dedupe_time_start();
    let end = keys::sm::dedupe_time_before(now_ms.saturating_sub(DEDUPE_WINDOW_MS));
    let mut old = Vec::new();
    txn.raw_scan(Cf::Sm, start, &end, &mut |k, _| {
        old.push(k.to_vec());
        old.len() < 64
    })?;
    for k in old {
        if let Some((_, origin, seq)) = keys::sm::decode_dedupe_time_key(&k) {
            txn.raw_delete(Cf::Sm, keys::sm::dedupe_key(origin, seq));
        }
        txn.raw_delete(Cf::Sm, k);
    }
    Ok(())
}

fn latest_snapshot(root: &std::path::Path) -> Option<(Meta, PathBuf)> {
    let mut best: Option<(Meta, PathBuf)> = None;
    for ent in std::fs::read_dir(root).ok()?.flatten() {
        let path = ent.path();
        if path.extension().is_some() {
            // An interrupted *.tmp build.
            let _ = std::fs::remove_dir_all(&path);
            continue;
        }
        let Ok(raw) = std::fs::read(path.join("meta.bin")) else {
            // A received snapshot whose install a crash interrupted: Storage::open has
            // completed the install from it already, and nothing else refers to it.
            let _ = std::fs::remove_dir_all(&path);
            continue;
        };
        let Ok(meta) = bincode::deserialize::<Meta>(&raw) else {
            continue;
        };
        if best
            .as_ref()
            .map_or(true, |(b, _)| b.last_log_id < meta.last_log_id)
        {
            best = Some((meta, path));
        }
    }
    best
}

/// Builds a snapshot that was checkpointed when the builder was taken.
pub struct Builder(Option<Result<Snapshot<TypeConfig>, StorageError>>);

impl RaftSnapshotBuilder<TypeConfig> for Builder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        self.0.take().unwrap_or_else(|| {
            Err(write_err(std::io::Error::other(
                "snapshot builder used twice",
            )))
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Builder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        let mut failed = None;
        for e in entries {
            // A script may run long (up to its instruction budget, or until SHUTDOWN
            // NOSAVE for one an older build replicated): its entry is applied with this
            // worker handed over to the runtime, so connections on it keep being served
            // even with one worker thread (`--io-threads 1`).
            let applied = if may_run_long(&e) {
                crate::off_worker(|| self.apply_one(e))
            } else {
                self.apply_one(e)
            };
            match applied {
                Ok(r) => out.push(r),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // Entries before a failed one are written: readers may see them.
        if let Some(l) = self.last_applied {
            self.applied_tx.send_replace(l.index);
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    async fn get_snapshot_builder(&mut self) -> Builder {
        // The checkpoint flushes the memtables: off the worker (see `off_worker`).
        Builder(Some(crate::off_worker(|| self.checkpoint())))
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<SnapshotDir>, StorageError> {
        // Snapshots arrive whole through the gRPC stream (full_snapshot), never chunked
        // through openraft.
        Err(read_err(std::io::Error::other(
            "chunked snapshot transfer is not used; snapshots are streamed whole",
        )))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<SnapshotDir>,
    ) -> Result<(), StorageError> {
        let db_dir = snapshot.path.join("db");
        // Failpoint: the install fails before anything of the old state is touched (a
        // stop in the middle of the install is `snapshot-install-step` in storage).
        if fail::eval("snapshot-install", |_| ()).is_some() {
            return Err(write_err(std::io::Error::other(
                "injected snapshot install failure (failpoint snapshot-install)",
            )));
        }
        // The applied record goes in the install's last batch: a crash leaves the old
        // state with its record or (completed at the next open) the new one with its own.
        let rec = Self::applied_record(meta.last_log_id, &meta.last_membership)?;
        // The key tier stays empty (and unfilled) while the state is replaced.
        self.st.begin_replace();
        let imported = crate::off_worker(|| {
            self.st
                .import_checkpoint(&db_dir, &[(keys::sm::APPLIED, &rec)])
        })
        .map_err(write_err);
        self.st.end_replace();
        // Everything the tier held describes the state that was just replaced (or, after
        // a failed install, is being replaced).
        self.tier.clear();
        imported?;
        // A snapshot from a node that predates the data size accounting.
        if let Some(e) = engine::quota::missing_sizes(&*self.st).map_err(read_err)? {
            self.st.write_effects(&e, &[]).map_err(write_err)?;
        }
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.stamp =
            stored_stamp(&self.st).map_err(|e| read_err(std::io::Error::other(e.to_string())))?;
        // Keep the received snapshot as this node's current one (for its own learners).
        let raw = bincode::serialize(meta).map_err(write_err)?;
        std::fs::write(snapshot.path.join("meta.bin"), raw).map_err(write_err)?;
        if let Some((_, old)) = self.current.replace((meta.clone(), snapshot.path.clone())) {
            if old != snapshot.path {
                let _ = std::fs::remove_dir_all(old);
            }
        }
        if let Some(l) = self.last_applied {
            self.applied_tx.send_replace(l.index);
        }
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.current.as_ref().map(|(meta, path)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(SnapshotDir { path: path.clone() }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Request;
    use openraft::{CommittedLeaderId, EntryPayload, LogId};

    fn entry(index: u64, now_ms: u64, dedupe: Vec<Dedupe>) -> Entry {
        let ops = vec![Op::Cmd {
            db: 0,
            argv: vec![b"incr".to_vec(), b"n".to_vec()],
        }];
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Request {
                now_ms,
                seed: 1,
                ops,
                dedupe,
            }),
        }
    }

    fn dump(st: &Storage) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
        use engine::Store;
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

    fn cmd_entry(index: u64, now_ms: u64, seed: u64, cmds: &[&[&str]]) -> Entry {
        let ops = cmds
            .iter()
            .map(|c| Op::Cmd {
                db: 0,
                argv: c.iter().map(|a| a.as_bytes().to_vec()).collect(),
            })
            .collect();
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Request {
                now_ms,
                seed,
                ops,
                dedupe: vec![],
            }),
        }
    }

    /// The same log applied to two fresh state machines gives byte-identical state and
    /// identical replies: random picks, generated stream ids, scripts with math.random,
    /// JSON documents, transactions and expiry all come from the entry.
    #[tokio::test]
    async fn replaying_the_log_on_a_fresh_state_machine_gives_identical_state() {
        let script = "local t = {} for i = 1, 5 do t[i] = math.random(1000) end \
                      redis.call('SET', KEYS[1], table.concat(t, ',')) \
                      redis.call('HSET', KEYS[2], 'r', tostring(math.random())) \
                      return t";
        let entries: Vec<Entry> = vec![
            cmd_entry(
                1,
                1_000,
                11,
                &[&["SADD", "s", "a", "b", "c", "d", "e", "f", "g"]],
            ),
            cmd_entry(
                2,
                2_000,
                12,
                &[&["SPOP", "s", "3"], &["SRANDMEMBER", "s", "-5"]],
            ),
            cmd_entry(
                3,
                3_000,
                13,
                &[&["XADD", "x", "*", "f", "1"], &["XADD", "x", "*", "f", "2"]],
            ),
            cmd_entry(4, 4_000, 14, &[&["EVAL", script, "2", "k", "h"]]),
            cmd_entry(
                5,
                5_000,
                15,
                &[
                    &[
                        "JSON.SET",
                        "j",
                        "$",
                        r#"{"b":1,"a":[1,2],"c":{"z":true,"y":null}}"#,
                    ],
                    &["JSON.NUMINCRBY", "j", "$.b", "2.5"],
                ],
            ),
            cmd_entry(
                6,
                6_000,
                16,
                &[
                    &["ZADD", "z", "1", "a", "2", "b"],
                    &["ZRANDMEMBER", "z", "2"],
                    &["SET", "e", "v", "PX", "10"],
                ],
            ),
            cmd_entry(
                7,
                7_000,
                17,
                &[
                    &["PFADD", "hll", "a", "b", "c"],
                    &["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
                ],
            ),
            Entry {
                log_id: LogId::new(CommittedLeaderId::new(1, 1), 8),
                payload: EntryPayload::Normal(Request {
                    now_ms: 8_000,
                    seed: 18,
                    ops: vec![
                        Op::Multi {
                            cmds: vec![
                                (0, vec![b"INCR".to_vec(), b"n".to_vec()]),
                                (0, vec![b"SPOP".to_vec(), b"s".to_vec()]),
                            ],
                            watch: vec![],
                        },
                        Op::Expire {
                            db: 0,
                            due: vec![(6_010, b"e".to_vec())],
                        },
                    ],
                    dedupe: vec![],
                }),
            },
        ];
        let mut runs = Vec::new();
        for _ in 0..2 {
            let dir = tempfile::tempdir().unwrap();
            let st = Storage::open(&dir.path().join("db"), 8 << 20).unwrap();
            let (mut sm, _) = StateMachine::open(st.clone(), dir.path().join("snapshots")).unwrap();
            let replies = sm.apply(entries.clone()).await.unwrap();
            let replies: Vec<Vec<Frame>> = replies.into_iter().map(|r| r.replies).collect();
            runs.push((replies, dump(&st), dir));
        }
        assert_eq!(runs[0].0, runs[1].0, "replies differ");
        assert!(
            !runs[0]
                .0
                .iter()
                .flatten()
                .any(|f| matches!(f, Frame::Error(_))),
            "{:?}",
            runs[0].0
        );
        assert_eq!(runs[0].1, runs[1].1, "state differs");
        // The Expire op deleted the expired key in both.
        assert_eq!(runs[0].0[7][1], Frame::Integer(1));
    }

    fn applied_index(st: &Storage) -> Option<u64> {
        let raw = st.sm_get(keys::sm::APPLIED).unwrap()?;
        let rec: AppliedRecord = bincode::deserialize(&raw).unwrap();
        rec.last_applied.map(|l| l.index)
    }

    /// A read that fails while an entry applies (here inside a script that swallows the
    /// error with pcall, so the replies look normal) stops the apply with an apply
    /// storage error; nothing of the entry is written and the applied record stays. With
    /// the disk healthy again, a reopened state machine applies the entry and ends
    /// identical to a replica that never failed.
    #[tokio::test]
    async fn a_failed_read_stops_the_apply_and_the_entry_is_applied_again_after_restart() {
        let hide = "pcall(redis.call, 'GET', KEYS[1]) return redis.call('INCR', KEYS[2])";
        let log = vec![
            cmd_entry(1, 1_000, 1, &[&["SET", "a", "1"], &["SADD", "s", "x", "y"]]),
            cmd_entry(2, 2_000, 2, &[&["SET", "secret", "v"]]),
            cmd_entry(3, 3_000, 3, &[&["INCR", "n"], &["SPOP", "s"]]),
            cmd_entry(4, 4_000, 4, &[&["EVAL", hide, "2", "secret", "n"]]),
            cmd_entry(5, 5_000, 5, &[&["SET", "after", "1"]]),
        ];

        let healthy_dir = tempfile::tempdir().unwrap();
        let healthy = Storage::open(&healthy_dir.path().join("db"), 8 << 20).unwrap();
        let (mut reference, _) =
            StateMachine::open(healthy.clone(), healthy_dir.path().join("snapshots")).unwrap();
        let expected = reference.apply(log.clone()).await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let st = Storage::open(&dir.path().join("db"), 8 << 20).unwrap();
        let (mut sm, applied) =
            StateMachine::open(st.clone(), dir.path().join("snapshots")).unwrap();
        sm.apply(log[..2].to_vec()).await.unwrap();
        let before = dump(&st);
        st.set_read_fault(storage::ReadFault::Key(b"secret".to_vec()));
        // Entry 3 applies (it reads nothing failing); entry 4 meets the failed read.
        let err = sm
            .apply(log[2..].to_vec())
            .await
            .expect_err("a failed read must fail the apply");
        let io = err.into_io().expect("an I/O storage error");
        let shown = format!("{io:?}");
        assert!(
            shown.contains("subject: Apply(") && shown.contains("index: 4"),
            "{shown}"
        );
        assert_eq!(applied_index(&st), Some(3));
        assert_eq!(*applied.borrow(), 3);
        assert_eq!(
            sm.applied_state().await.unwrap().0.map(|l| l.index),
            Some(3)
        );
        assert_ne!(dump(&st), before, "entry 3 was written");
        let after_3 = dump(&st);
        // The same failure again: still nothing written.
        assert!(sm.apply(log[3..].to_vec()).await.is_err());
        assert_eq!(dump(&st), after_3);
        assert_eq!(applied_index(&st), Some(3));

        // Restart with a healthy disk: the state machine resumes after entry 3.
        drop(sm);
        st.set_read_fault(storage::ReadFault::Off);
        let (mut sm, applied) =
            StateMachine::open(st.clone(), dir.path().join("snapshots")).unwrap();
        assert_eq!(*applied.borrow(), 3);
        let replies = sm.apply(log[3..].to_vec()).await.unwrap();
        assert_eq!(
            replies.iter().map(|r| &r.replies).collect::<Vec<_>>(),
            expected[3..].iter().map(|r| &r.replies).collect::<Vec<_>>()
        );
        assert_eq!(applied_index(&st), Some(5));
        assert_eq!(dump(&st), dump(&healthy), "the replicas diverged");
    }

    /// Every read failing (the first read of an entry, the dedupe scan): same outcome.
    #[tokio::test]
    async fn a_store_that_fails_every_read_applies_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let st = Storage::open(&dir.path().join("db"), 8 << 20).unwrap();
        let (mut sm, _) = StateMachine::open(st.clone(), dir.path().join("snapshots")).unwrap();
        sm.apply(vec![entry(1, 1_000, vec![])]).await.unwrap();
        let before = dump(&st);
        st.set_read_fault(storage::ReadFault::After(0));
        assert!(sm.apply(vec![entry(2, 2_000, vec![])]).await.is_err());
        st.set_read_fault(storage::ReadFault::Off);
        assert_eq!(dump(&st), before);
        assert_eq!(applied_index(&st), Some(1));
        // A blank entry reads nothing and still applies.
        let blank = Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), 2),
            payload: EntryPayload::Blank,
        };
        st.set_read_fault(storage::ReadFault::After(0));
        sm.apply(vec![blank]).await.unwrap();
        assert_eq!(applied_index(&st), Some(2));
    }

    #[tokio::test]
    async fn a_retried_forward_is_applied_once_and_forgotten_after_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let st = Storage::open(&dir.path().join("db"), 8 << 20).unwrap();
        let (mut sm, applied) =
            StateMachine::open(st.clone(), dir.path().join("snapshots")).unwrap();
        let id = vec![Dedupe {
            start: 0,
            count: 1,
            origin: 7,
            seq: 42,
        }];
        let r = sm.apply(vec![entry(1, 1_000, id.clone())]).await.unwrap();
        assert_eq!(r[0].replies, vec![Frame::Integer(1)]);
        // The same request id again: not applied, the first replies come back.
        let r = sm.apply(vec![entry(2, 2_000, id.clone())]).await.unwrap();
        assert_eq!(r[0].replies, vec![Frame::Integer(1)]);
        // Another request applies normally.
        let r = sm.apply(vec![entry(3, 3_000, vec![])]).await.unwrap();
        assert_eq!(r[0].replies, vec![Frame::Integer(2)]);
        assert_eq!(*applied.borrow(), 3);
        // Past the window the id is pruned (deterministically, by entry time).
        sm.apply(vec![entry(4, 1_000 + DEDUPE_WINDOW_MS + 1, vec![])])
            .await
            .unwrap();
        assert_eq!(st.sm_get(&keys::sm::dedupe_key(7, 42)).unwrap(), None);
        let r = sm.apply(vec![entry(5, 200_000, id)]).await.unwrap();
        assert_eq!(r[0].replies, vec![Frame::Integer(4)]);
    }

    fn meta_stamp(st: &Storage, key: &[u8]) -> Option<Stamp> {
        use engine::Store;
        st.get(Cf::Meta, &keys::meta_key(0, key))
            .unwrap()
            .map(|raw| keys::Meta::decode(&raw).unwrap().stamp)
    }

    fn tombstone(st: &Storage, key: &[u8]) -> Option<keys::sm::Tombstone> {
        st.sm_get(&keys::sm::tombstone_key(0, key))
            .unwrap()
            .and_then(|raw| keys::sm::Tombstone::decode(&raw))
    }

    fn merge_entry(index: u64, now_ms: u64, keys: Vec<crate::types::MergeKey>) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 2), index),
            payload: EntryPayload::Normal(Request {
                now_ms,
                seed: 1,
                ops: vec![Op::Merge { keys }],
                dedupe: vec![],
            }),
        }
    }

    fn dump_of(v: &str) -> Vec<u8> {
        // A DUMP payload made by a scratch state machine's read path.
        let dir = tempfile::tempdir().unwrap();
        let st = Storage::open(&dir.path().join("db"), 8 << 20).unwrap();
        let mut t = Txn::new(&*st, 1, 1, 1);
        t.run(0, &[b"SET".to_vec(), b"x".to_vec(), v.as_bytes().to_vec()]);
        st.write_effects(&t.into_effects(), &[]).unwrap();
        let mut r = Txn::read_only(&*st, 1, 1);
        match r.run(0, &[b"DUMP".to_vec(), b"x".to_vec()]) {
            Frame::Bulk(p) => p,
            other => panic!("{other:?}"),
        }
    }

    /// Every entry gets an HLC stamp that never goes backwards (even when the leader's
    /// clock does), survives a reopen, is stored with each written key, and a delete
    /// leaves a tombstone with its stamp that is pruned after the grace period. A merge
    /// takes an incoming version only if its stamp beats the key's record or tombstone,
    /// keeps that stamp, and later entries stamp above it.
    #[tokio::test]
    async fn hlc_stamps_tombstones_and_last_writer_wins_merges() {
        use crate::types::MergeKey;
        let dir = tempfile::tempdir().unwrap();
        let st = Storage::open(&dir.path().join("db"), 8 << 20).unwrap();
        let (mut sm, _) = StateMachine::open(st.clone(), dir.path().join("snapshots")).unwrap();
        sm.apply(vec![cmd_entry(1, 10_000, 1, &[&["SET", "a", "1"]])])
            .await
            .unwrap();
        assert_eq!(meta_stamp(&st, b"a"), Some(Stamp::new(10_000, 0, 1)));
        // The leader's clock went back: the logical counter moves on instead.
        sm.apply(vec![cmd_entry(2, 9_000, 1, &[&["SET", "b", "1"]])])
            .await
            .unwrap();
        assert_eq!(meta_stamp(&st, b"b"), Some(Stamp::new(10_000, 1, 1)));
        sm.apply(vec![cmd_entry(3, 11_000, 1, &[&["DEL", "a"]])])
            .await
            .unwrap();
        let t = tombstone(&st, b"a").expect("a tombstone");
        assert_eq!(
            (t.stamp, t.index, t.at_ms),
            (Stamp::new(11_000, 0, 1), 3, 11_000)
        );
        // The clock survives a reopen.
        drop(sm);
        let (mut sm, _) = StateMachine::open(st.clone(), dir.path().join("snapshots")).unwrap();
        sm.apply(vec![cmd_entry(4, 5_000, 1, &[&["SET", "c", "1"]])])
            .await
            .unwrap();
        assert_eq!(meta_stamp(&st, b"c"), Some(Stamp::new(11_000, 1, 1)));

        let old = Stamp::new(10_500, 0, 7); // older than a's delete
        let new = Stamp::new(50_000, 3, 7); // newer than anything here
        let keys = vec![
            // Loses to the tombstone: a stays deleted.
            MergeKey {
                db: 0,
                key: b"a".to_vec(),
                hlc: old.hlc,
                node: old.node,
                value: Some((dump_of("old"), 0)),
            },
            // Newer than b's record (10500.0@7 > 10000.1@1): taken.
            MergeKey {
                db: 0,
                key: b"b".to_vec(),
                hlc: old.hlc,
                node: old.node,
                value: Some((dump_of("merged"), 0)),
            },
            // A new key from the other side: taken with its own stamp.
            MergeKey {
                db: 0,
                key: b"n".to_vec(),
                hlc: new.hlc,
                node: new.node,
                value: Some((dump_of("other"), 0)),
            },
            // A newer delete from the other side: c goes, with a tombstone of its stamp.
            MergeKey {
                db: 0,
                key: b"c".to_vec(),
                hlc: new.hlc,
                node: new.node,
                value: None,
            },
        ];
        let r = sm
            .apply(vec![merge_entry(5, 12_000, keys.clone())])
            .await
            .unwrap();
        assert_eq!(r[0].replies, vec![Frame::Integer(3)]);
        let mut t = Txn::read_only(&*st, 12_000, 1);
        let get = |t: &mut Txn, k: &str| t.run(0, &[b"GET".to_vec(), k.as_bytes().to_vec()]);
        assert_eq!(get(&mut t, "a"), Frame::Null);
        assert_eq!(get(&mut t, "b"), Frame::Bulk(b"merged".to_vec()));
        assert_eq!(get(&mut t, "n"), Frame::Bulk(b"other".to_vec()));
        assert_eq!(get(&mut t, "c"), Frame::Null);
        assert_eq!(meta_stamp(&st, b"b"), Some(old));
        assert_eq!(meta_stamp(&st, b"n"), Some(new));
        assert_eq!(tombstone(&st, b"c").map(|t| t.stamp), Some(new));
        // The same merge again takes nothing (equal stamps are the same write).
        let r = sm.apply(vec![merge_entry(6, 12_001, keys)]).await.unwrap();
        assert_eq!(r[0].replies, vec![Frame::Integer(0)]);
        // Later writes stamp above the merged stamps, whatever the leader's clock says.
        sm.apply(vec![cmd_entry(7, 12_002, 1, &[&["SET", "n", "local"]])])
            .await
            .unwrap();
        assert!(meta_stamp(&st, b"n").unwrap() > new);
        // Tombstones go once the grace period (default a day) has passed.
        let day = engine::settings::TOMBSTONE_GRACE.default * 1000;
        sm.apply(vec![cmd_entry(
            8,
            11_000 + day + 1,
            1,
            &[&["SET", "z", "1"]],
        )])
        .await
        .unwrap();
        assert_eq!(tombstone(&st, b"a"), None);
        assert!(tombstone(&st, b"c").is_some(), "merged later: not yet due");
    }
}
