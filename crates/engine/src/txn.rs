//! A transaction over the keyspace: reads go through pending writes to the [`Store`],
//! writes pile up as [`Effects`]. One Txn executes one log entry (or one read).

use crate::error::{CmdError, CmdResult};
use crate::events::{self, Bus, Event, Touch, Touched};
use crate::quota::{self, rec_size, Memo};
use crate::rng::Rng;
use crate::store::{Effects, Store, StoreError, Write};
use crate::table::{self, flags, Exec};
use crate::tier::Tier;
use crate::types;
use keys::hlc::Stamp;
use keys::{Cf, Kind, Meta};
use resp::Frame;
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

/// Collections with at most this many records are dropped with point deletes; larger
/// ones with one range delete (few range tombstones keep reads fast).
const SMALL_DROP: usize = 32;

pub struct Txn<'s> {
    store: &'s dyn Store,
    /// Leader time of the entry (or the node's clock for a read).
    pub now_ms: u64,
    /// Log index of the entry being applied; 0 on the read path.
    pub index: u64,
    /// Seeded by the entry: the only source of randomness commands may use.
    pub rng: Rng,
    /// The database the current command runs in.
    pub db: u8,
    read_only: bool,
    /// A trial run (see [`Txn::trial`]): writes are allowed but never persisted.
    trial: bool,
    writes: BTreeMap<(Cf, Vec<u8>), Option<Vec<u8>>>,
    ranges: Vec<(Cf, Vec<u8>, Vec<u8>)>,
    counts: BTreeMap<u8, u64>,
    next_version: u64,
    /// Keys changed so far, in order (blocked clients, WATCH, keyspace events).
    touched: Vec<Touched>,
    /// How much of `touched` already has its keyspace events derived.
    reported: usize,
    events: Vec<Event>,
    bus: Option<&'s dyn Bus>,
    /// The node's memory tier and its generation when this transaction's view was taken.
    tier: Option<(&'s Tier, u64)>,
    /// The first read of the store that failed. Commands see the failure as an error
    /// reply (which a script may even catch), so replies cannot tell an I/O error from
    /// a command error: the applier checks this instead, and never persists an entry
    /// whose transaction met one. A rollback does not clear it.
    failed: OnceCell<StoreError>,
    // ---- data size accounting (see `crate::quota`) ----
    /// Sizes of `meta`/`data` records this write transaction read from the store, so
    /// the write that follows knows what it replaces without reading again.
    memo: RefCell<Memo>,
    /// Bytes each collection version's `data` records grew (or shrank) by since its meta
    /// record was last written: (data prefix `db·slot·keylen·key·version`, delta).
    pending: Vec<(Vec<u8>, i64)>,
    /// Buffers of folded `pending` entries, reused (no allocation per command).
    spare: Vec<Vec<u8>>,
    /// Accounted bytes per database, loaded from `sm` on first change.
    sizes: Option<[u64; keys::DATABASES]>,
    sizes_dirty: bool,
    /// Net bytes this transaction added (all databases).
    grown: i64,
    /// Set when a key grew past [`quota::MAX_RECORD_SIZE`] in the current guarded op.
    record_over: bool,
    /// Internal drops of whole versions account once, not per record.
    quiet: bool,
    /// maxmemory and maxmemory-policy in force, each read on first need.
    maxmemory: Cell<Option<u64>>,
    policy: Cell<Option<u64>>,
    /// Undo log of the op [`Txn::guarded`] runs, while a quota is set.
    journal: Option<Journal>,
    /// Keys deleted by eviction in this transaction.
    evicted: u64,
    /// The HLC stamp every record this transaction writes carries (`keys::hlc`): the
    /// entry's, or the incoming one while a merge rewrites a key ([`Txn::set_stamp`]).
    stamp: Stamp,
}

/// What undoes one guarded op: the previous pending state of every write it made
/// (in order) and the small state it changed. Cheaper than a [`Savepoint`] (which
/// copies every pending write) since only the op's own writes are logged.
struct Journal {
    undo: Vec<(Cf, Vec<u8>, Option<Option<Vec<u8>>>)>,
    ranges: usize,
    counts: BTreeMap<u8, u64>,
    next_version: u64,
    touched: usize,
    reported: usize,
    events: usize,
    pending: Vec<(Vec<u8>, i64)>,
    sizes: Option<[u64; keys::DATABASES]>,
    sizes_dirty: bool,
    grown: i64,
    evicted: u64,
}

/// What a write needs of the meta record it replaces.
#[derive(Clone, Copy)]
struct OldHeader {
    kind: Kind,
    expire_at_ms: u64,
    version: u64,
    /// `None` for a format 1 record (written before the accounting).
    data_size: Option<u64>,
    /// Length of the stored meta record.
    raw_len: usize,
}

/// A transaction's changes at one point (see [`Txn::savepoint`]).
pub(crate) struct Savepoint {
    writes: BTreeMap<(Cf, Vec<u8>), Option<Vec<u8>>>,
    ranges: Vec<(Cf, Vec<u8>, Vec<u8>)>,
    counts: BTreeMap<u8, u64>,
    next_version: u64,
    touched: usize,
    reported: usize,
    events: usize,
    pending: Vec<(Vec<u8>, i64)>,
    sizes: Option<[u64; keys::DATABASES]>,
    sizes_dirty: bool,
    grown: i64,
    evicted: u64,
}

impl<'s> Txn<'s> {
    /// A transaction applying log entry `index`, with the leader's `now_ms` and `seed`.
    pub fn new(store: &'s dyn Store, index: u64, now_ms: u64, seed: u64) -> Txn<'s> {
        Txn {
            store,
            now_ms,
            index,
            rng: Rng::new(seed ^ index.rotate_left(32)),
            db: 0,
            read_only: false,
            trial: false,
            writes: BTreeMap::new(),
            ranges: Vec::new(),
            counts: BTreeMap::new(),
            next_version: 0,
            touched: Vec::new(),
            reported: 0,
            events: Vec::new(),
            bus: None,
            tier: None,
            failed: OnceCell::new(),
            memo: RefCell::new(Memo::default()),
            pending: Vec::new(),
            spare: Vec::new(),
            sizes: None,
            sizes_dirty: false,
            grown: 0,
            record_over: false,
            quiet: false,
            maxmemory: Cell::new(None),
            policy: Cell::new(None),
            journal: None,
            evicted: 0,
            stamp: Stamp::new(now_ms, 0, 0),
        }
    }

    /// The entry's HLC stamp (the state machine computes it, see `keys::hlc`).
    pub fn with_stamp(mut self, stamp: Stamp) -> Txn<'s> {
        self.stamp = stamp;
        self
    }

    /// Changes the stamp later writes carry (a last-writer-wins merge keeps the stamp of
    /// the write it brings in).
    pub fn set_stamp(&mut self, stamp: Stamp) {
        self.stamp = stamp;
    }

    /// The stamp writes carry now.
    pub fn stamp(&self) -> Stamp {
        self.stamp
    }

    /// Keys this transaction evicted ([`Txn::evict`]).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// A transaction for the read path: write commands are refused.
    pub fn read_only(store: &'s dyn Store, now_ms: u64, seed: u64) -> Txn<'s> {
        let mut t = Txn::new(store, 0, now_ms, seed);
        t.read_only = true;
        t
    }

    /// A trial run of a write on a node's current state, whose effects are thrown away:
    /// the leader tries a script this way before proposing it, so a script that would run
    /// away can be stopped (SCRIPT KILL, the instruction budget) before it reaches the log.
    /// Unlike the replicated run, a trial may be killed at any point: nothing it did
    /// survives it.
    pub fn trial(store: &'s dyn Store, index: u64, now_ms: u64, seed: u64) -> Txn<'s> {
        let mut t = Txn::new(store, index, now_ms, seed);
        t.trial = true;
        t
    }

    /// Everything this transaction changed so far, to go back to with [`Txn::rollback`].
    pub(crate) fn savepoint(&self) -> Savepoint {
        Savepoint {
            writes: self.writes.clone(),
            ranges: self.ranges.clone(),
            counts: self.counts.clone(),
            next_version: self.next_version,
            touched: self.touched.len(),
            reported: self.reported,
            events: self.events.len(),
            pending: self.pending.clone(),
            sizes: self.sizes,
            sizes_dirty: self.sizes_dirty,
            grown: self.grown,
            evicted: self.evicted,
        }
    }

    /// Forgets every change made since `sp` was taken (a script stopped by its budget
    /// leaves nothing behind).
    pub(crate) fn rollback(&mut self, sp: Savepoint) {
        self.writes = sp.writes;
        self.ranges = sp.ranges;
        self.counts = sp.counts;
        self.next_version = sp.next_version;
        self.touched.truncate(sp.touched);
        self.reported = sp.reported.min(sp.touched);
        self.events.truncate(sp.events);
        self.pending = sp.pending;
        self.sizes = sp.sizes;
        self.sizes_dirty = sp.sizes_dirty;
        self.grown = sp.grown;
        self.evicted = sp.evicted;
    }

    /// The first storage error any read of this transaction met, if one did. An entry
    /// whose transaction failed a read must not be applied: its replies and effects
    /// may reflect the failure rather than the state.
    pub fn storage_failure(&self) -> Option<&StoreError> {
        self.failed.get()
    }

    /// Remembers the first failed read (see [`Txn::storage_failure`]).
    fn note_failure<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &r {
            let _ = self.failed.set(e.clone());
        }
        r
    }

    /// True for a [`Txn::trial`] run.
    pub fn is_trial(&self) -> bool {
        self.trial
    }

    /// Connects this transaction to the node's pub/sub: PUBLISH counts receivers and
    /// keyspace events are derived when notifications are on.
    pub fn with_bus(mut self, bus: &'s dyn Bus) -> Txn<'s> {
        self.bus = Some(bus);
        self
    }

    /// Lets this transaction use (and fill) the node's memory tier. `generation` is
    /// [`Tier::generation`] read before the store view this transaction reads was taken.
    pub fn with_tier(mut self, tier: &'s Tier, generation: u64) -> Txn<'s> {
        self.tier = Some((tier, generation));
        self
    }

    /// The memory tier, if this transaction has one.
    pub(crate) fn tier(&self) -> Option<(&'s Tier, u64)> {
        self.tier
    }

    /// True if this transaction wrote anything in `[start, end)` of `cf`.
    pub(crate) fn wrote_within(&self, cf: Cf, start: &[u8], end: &[u8]) -> bool {
        self.writes
            .range((cf, start.to_vec())..(cf, end.to_vec()))
            .next()
            .is_some()
            || self
                .ranges
                .iter()
                .any(|(c, s, e)| *c == cf && s.as_slice() < end && start < e.as_slice())
    }

    /// Runs one command in database `db`: table lookup, arity and key-size checks,
    /// then the command itself. Errors come back as error frames.
    pub fn run(&mut self, db: u8, argv: &[Vec<u8>]) -> Frame {
        let start = self.touched.len();
        let mut reply = match self.run_checked(db, argv) {
            Ok(f) => f,
            Err(e) => Frame::Error(e.0),
        };
        if let Err(e) = self.settle_sizes() {
            reply = Frame::Error(e.0);
        }
        self.derive_events(argv, start);
        reply
    }

    /// Keyspace events for the keys touched since `start` that no nested command
    /// (a script's redis.call) reported already.
    fn derive_events(&mut self, argv: &[Vec<u8>], start: usize) {
        let from = start.max(self.reported);
        if from >= self.touched.len() {
            return;
        }
        let flags = self.bus.map_or(0, |b| b.keyspace_flags());
        if flags != 0 {
            let (name, group) = argv
                .first()
                .and_then(|n| table::lookup(n))
                .map_or(("", "generic"), |s| (s.name, s.group));
            events::derive(
                flags,
                name,
                group,
                argv,
                &self.touched[from..],
                &mut self.events,
            );
        }
        self.reported = self.touched.len();
    }

    /// PUBLISH: queues the message for delivery once the entry is applied and returns
    /// how many local subscribers it reaches.
    pub fn publish(&mut self, channel: &[u8], payload: &[u8], sharded: bool) -> i64 {
        let n = self.bus.map_or(0, |b| b.receivers(channel, sharded));
        self.events.push(Event::Message {
            channel: channel.to_vec(),
            payload: payload.to_vec(),
            sharded,
        });
        n
    }

    /// The keys this transaction changed and the events it raised, for delivery after
    /// its effects are written.
    pub fn take_events(&mut self) -> (Vec<Touched>, Vec<Event>) {
        self.reported = 0;
        (
            std::mem::take(&mut self.touched),
            std::mem::take(&mut self.events),
        )
    }

    /// The log index of the last write to a live `key` in `db` (0 if absent): what
    /// WATCH compares.
    pub fn key_write_index(&mut self, db: u8, key: &[u8]) -> Result<u64, CmdError> {
        self.db = db;
        Ok(self.get_meta(key)?.map_or(0, |m| m.write_index))
    }

    fn touch(&mut self, key: &[u8], touch: Touch) {
        self.touched.push(Touched {
            db: self.db,
            key: key.to_vec(),
            touch,
        });
    }

    fn run_checked(&mut self, db: u8, argv: &[Vec<u8>]) -> CmdResult {
        let Some(name) = argv.first() else {
            return Err(CmdError::new("ERR empty command"));
        };
        let spec =
            table::lookup(name).ok_or_else(|| CmdError::unknown_command(name, &argv[1..]))?;
        table::check_arity(spec, argv)?;
        table::check_key_sizes(spec, argv)?;
        if self.read_only && spec.flags & flags::WRITE != 0 {
            return Err(CmdError::new(format!(
                "ERR '{}' is a write command and cannot run on the read path",
                spec.name
            )));
        }
        self.db = db;
        match spec.exec {
            Exec::Engine(f) | Exec::SessionProposes(_, f) => f(self, argv),
            Exec::Session(_) => Err(CmdError::new(format!(
                "ERR '{}' is a connection command and cannot run here",
                spec.name
            ))),
        }
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Whether this transaction has changed (or deleted a range over) a `meta` record of
    /// hash slot `slot` so far (anti-entropy's repair skips such a slot).
    pub fn touches_slot(&self, slot: u16) -> bool {
        let in_slot = |k: &[u8]| k.len() >= 3 && u16::from_be_bytes([k[1], k[2]]) == slot;
        self.ranges.iter().any(|(cf, _, _)| *cf == Cf::Meta)
            || self
                .writes
                .keys()
                .any(|(cf, k)| *cf == Cf::Meta && in_slot(k))
    }

    /// The `sm` record of the accounted data sizes (`quota::DATASIZE_KEY`) when this
    /// transaction changed them: the applier writes it in the same batch as the effects.
    pub fn data_size_record(&self) -> Option<Vec<u8>> {
        match (self.sizes_dirty, &self.sizes) {
            (true, Some(sizes)) => Some(quota::encode_sizes(sizes)),
            _ => None,
        }
    }

    /// Hands back what this transaction changed, ready for one write batch.
    pub fn into_effects(self) -> Effects {
        let mut writes =
            Vec::with_capacity(self.ranges.len() + self.writes.len() + self.counts.len());
        for (cf, s, e) in self.ranges {
            writes.push(Write::DeleteRange(cf, s, e));
        }
        for ((cf, k), v) in self.writes {
            writes.push(match v {
                Some(v) => Write::Put(cf, k, v),
                None => Write::Delete(cf, k),
            });
        }
        for (db, n) in self.counts {
            writes.push(Write::Put(
                Cf::Sm,
                keys::sm::keycount_key(db),
                keys::sm::encode_keycount(n),
            ));
        }
        if self.evicted > 0 && !self.trial {
            quota::EVICTED_KEYS.fetch_add(self.evicted, std::sync::atomic::Ordering::Relaxed);
        }
        Effects { writes }
    }

    // ---- raw access -------------------------------------------------------------------

    fn in_deleted_range(&self, cf: Cf, key: &[u8]) -> bool {
        self.ranges
            .iter()
            .any(|(c, s, e)| *c == cf && key >= s.as_slice() && key < e.as_slice())
    }

    pub fn raw_get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.writes.get(&(cf, key.to_vec())) {
            return Ok(v.clone());
        }
        if self.in_deleted_range(cf, key) {
            return Ok(None);
        }
        let got = self.note_failure(self.store.get(cf, key));
        if !self.read_only && quota::accounted(cf) {
            if let Ok(v) = &got {
                self.memo
                    .borrow_mut()
                    .remember(cf, key, v.as_ref().map(|v| v.len()));
            }
        }
        got
    }

    pub fn raw_put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        debug_assert!(!self.read_only);
        if self.quiet || !quota::accounted(cf) {
            self.set_write(cf, key, Some(value));
            return;
        }
        let new = rec_size(key.len(), value.len());
        self.account_write(cf, key, Some(value), new);
    }

    pub fn raw_delete(&mut self, cf: Cf, key: Vec<u8>) {
        debug_assert!(!self.read_only);
        if self.quiet || !quota::accounted(cf) {
            self.set_write(cf, key, None);
            return;
        }
        self.account_write(cf, key, None, 0);
    }

    /// A put or delete of an accounted record: the record's size replaces the size of
    /// what it overwrites (a pending write, a record read earlier, a record of a version
    /// created by this entry (none), or, for a blind write, one store read).
    fn account_write(&mut self, cf: Cf, key: Vec<u8>, value: Option<Vec<u8>>, new: u64) {
        let slot = if cf == Cf::Data {
            self.pending_slot(&key)
        } else {
            None
        };
        let db = key.first().copied().unwrap_or(0);
        let logged = self.journal.is_some().then(|| key.clone());
        let (old, prev) = {
            let Txn {
                writes,
                ranges,
                memo,
                store,
                failed,
                index,
                ..
            } = self;
            match writes.entry((cf, key)) {
                Entry::Occupied(mut e) => {
                    let old = e
                        .get()
                        .as_ref()
                        .map_or(0, |v| rec_size(e.key().1.len(), v.len()));
                    (old, Some(e.insert(value)))
                }
                Entry::Vacant(e) => {
                    let old =
                        quota::stored_size(ranges, memo, *store, failed, *index, cf, &e.key().1);
                    e.insert(value);
                    (old, None)
                }
            }
        };
        if let (Some(j), Some(key)) = (&mut self.journal, logged) {
            j.undo.push((cf, key, prev));
        }
        let delta = new as i64 - old as i64;
        if delta != 0 {
            if let Some(i) = slot {
                self.pending[i].1 += delta;
            }
            self.add_size(db, delta);
        }
    }

    /// The `pending` entry of the collection version a `data` key belongs to.
    fn pending_slot(&mut self, key: &[u8]) -> Option<usize> {
        let (_, _, _, sub) = keys::decode_data_key(key)?;
        let prefix = &key[..key.len() - sub.len()];
        if let Some(i) = self
            .pending
            .iter()
            .position(|(p, _)| p.as_slice() == prefix)
        {
            return Some(i);
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(prefix);
        self.pending.push((buf, 0));
        Some(self.pending.len() - 1)
    }

    /// Takes the pending growth of `key`'s version `version` in the current db.
    fn take_pending(&mut self, key: &[u8], version: u64) -> i64 {
        let db = self.db;
        let Some(i) = self
            .pending
            .iter()
            .position(|(p, _)| quota::prefix_is(p, db, key, version))
        else {
            return 0;
        };
        let (buf, d) = self.pending.swap_remove(i);
        self.spare.push(buf);
        d
    }

    /// Accounted bytes per database, loaded from `sm` on first use.
    fn sizes_mut(&mut self) -> &mut [u64; keys::DATABASES] {
        if self.sizes.is_none() {
            let got = self.note_failure(self.store.get(Cf::Sm, quota::DATASIZE_KEY));
            self.sizes = Some(match got {
                Ok(Some(raw)) => quota::decode_sizes(&raw),
                _ => [0; keys::DATABASES],
            });
        }
        self.sizes.as_mut().expect("loaded")
    }

    fn add_size(&mut self, db: u8, delta: i64) {
        if let Some(s) = self.sizes_mut().get_mut(db as usize) {
            *s = s.saturating_add_signed(delta);
        }
        self.sizes_dirty = true;
        self.grown += delta;
    }

    /// Accounted data size (keys, values and per-record overhead, see `crate::quota`)
    /// of every database, as this transaction sees it.
    pub fn data_size(&mut self) -> u64 {
        self.sizes_mut().iter().sum()
    }

    /// Accounted data size of one database.
    pub fn db_data_size(&mut self, db: u8) -> u64 {
        self.sizes_mut().get(db as usize).copied().unwrap_or(0)
    }

    /// The accounted size of `key`'s version `version` data records, by reading them
    /// (a format 1 meta record, written before the accounting, carries none).
    fn scan_data_size(&self, key: &[u8], version: u64) -> Result<u64, CmdError> {
        let prefix = keys::data_prefix(self.db, key, version);
        let end = crate::coll::prefix_end(&prefix);
        let mut n = 0;
        self.raw_scan(Cf::Data, &prefix, &end, &mut |k, v| {
            n += rec_size(k.len(), v.len());
            true
        })?;
        Ok(n)
    }

    /// Writes the data size of collections whose elements changed without their meta
    /// record being written after (each command ends with this).
    fn settle_sizes(&mut self) -> Result<(), CmdError> {
        while let Some((prefix, delta)) = self.pending.pop() {
            if delta != 0 {
                if let Some((db, key, version, _)) = keys::decode_data_key(&prefix) {
                    let (db, key) = (db, key.to_vec());
                    let mk = keys::meta_key(db, &key);
                    if let Some(raw) = self.raw_get(Cf::Meta, &mk)? {
                        let corrupt = |e| CmdError::storage(format!("corrupt meta record: {e:?}"));
                        let (_, _, v) = Meta::peek(&raw).map_err(corrupt)?;
                        if v == version {
                            let meta = Meta::decode(&raw).map_err(corrupt)?;
                            let size = match Meta::stored_data_size(&raw).map_err(corrupt)? {
                                Some(d) => d.saturating_add_signed(delta),
                                None => {
                                    let saved = self.db;
                                    self.db = db;
                                    let n = self.scan_data_size(&key, version);
                                    self.db = saved;
                                    n?
                                }
                            };
                            self.raw_put(Cf::Meta, mk, meta.encode_sized(size));
                        }
                    }
                }
            }
            self.spare.push(prefix);
        }
        Ok(())
    }

    /// Runs one op of an entry (a command, a MULTI, a script) under the quota: an op
    /// that grew the data past `maxmemory` while eviction is off, or grew a key past
    /// [`quota::MAX_RECORD_SIZE`], is undone whole and answered with Upstash's error
    /// (reads, deletes and shrinking writes always pass). The undo log is kept only
    /// while a quota is set or the data is large enough for the record limit to matter,
    /// so an unlimited node pays two comparisons per op.
    pub fn guarded(&mut self, op: impl FnOnce(&mut Txn<'s>) -> Frame) -> Frame {
        if self.read_only || self.journal.is_some() {
            return op(self);
        }
        let guard = self.maxmemory() != 0 || self.data_size() > quota::MAX_RECORD_SIZE / 2;
        if !guard {
            return op(self);
        }
        self.record_over = false;
        self.journal = Some(Journal {
            undo: Vec::new(),
            ranges: self.ranges.len(),
            counts: self.counts.clone(),
            next_version: self.next_version,
            touched: self.touched.len(),
            reported: self.reported,
            events: self.events.len(),
            pending: self.pending.clone(),
            sizes: self.sizes,
            sizes_dirty: self.sizes_dirty,
            grown: self.grown,
            evicted: self.evicted,
        });
        let reply = op(self);
        let j = self.journal.take().expect("journal");
        let record = self.record_over;
        let over = record || (self.grown > j.grown && self.over_quota());
        if !over {
            return reply;
        }
        for (cf, key, old) in j.undo.into_iter().rev() {
            match old {
                Some(v) => {
                    self.writes.insert((cf, key), v);
                }
                None => {
                    self.writes.remove(&(cf, key));
                }
            }
        }
        self.ranges.truncate(j.ranges);
        self.counts = j.counts;
        self.next_version = j.next_version;
        self.touched.truncate(j.touched);
        self.reported = j.reported.min(j.touched);
        self.events.truncate(j.events);
        self.pending = j.pending;
        self.sizes = j.sizes;
        self.sizes_dirty = j.sizes_dirty;
        self.grown = j.grown;
        self.evicted = j.evicted;
        Frame::Error(if record {
            quota::RECORD_ERROR.into()
        } else {
            quota::QUOTA_ERROR.into()
        })
    }

    /// Sets a pending write, logging what it replaced while an op is guarded.
    fn set_write(&mut self, cf: Cf, key: Vec<u8>, value: Option<Vec<u8>>) {
        match &mut self.journal {
            Some(j) => {
                let old = self.writes.insert((cf, key.clone()), value);
                j.undo.push((cf, key, old));
            }
            None => {
                self.writes.insert((cf, key), value);
            }
        }
    }

    /// The quota (maxmemory) in force in this transaction; 0 = none.
    pub fn maxmemory(&self) -> u64 {
        if let Some(v) = self.maxmemory.get() {
            return v;
        }
        let v = crate::settings::MAXMEMORY.get(self).unwrap_or(0);
        self.maxmemory.set(Some(v));
        v
    }

    /// The eviction policy in force in this transaction.
    pub fn policy(&self) -> quota::Policy {
        let v = match self.policy.get() {
            Some(v) => v,
            None => {
                let s = &crate::settings::MAXMEMORY_POLICY;
                let v = s.get(self).unwrap_or(s.default);
                self.policy.set(Some(v));
                v
            }
        };
        quota::Policy::from_u64(v)
    }

    /// Forgets the cached limits (a CONFIG SET in this entry changed them).
    pub(crate) fn forget_limits(&self) {
        self.maxmemory.set(None);
        self.policy.set(None);
    }

    /// True when writes that grow the data are refused now: a quota is set, eviction
    /// is off and the data is past it.
    fn over_quota(&mut self) -> bool {
        let max = self.maxmemory();
        max != 0 && self.policy() == quota::Policy::NoEviction && self.data_size() > max
    }

    /// Op::Evict: deletes each key that still exists (the leader chose them to bring
    /// the data under the quota), raising `evicted` keyspace events. Returns how many.
    pub fn evict(&mut self, db: u8, victims: &[Vec<u8>]) -> Result<u64, CmdError> {
        self.db = db;
        let mut n = 0;
        for key in victims {
            if self.raw_meta(key)?.is_none() {
                continue;
            }
            self.delete_key(key)?;
            self.notify(db, events::class::EVICTED, "evicted", key);
            n += 1;
        }
        self.settle_sizes()?;
        self.events_reported();
        self.evicted += n;
        Ok(n)
    }

    pub fn raw_delete_range(&mut self, cf: Cf, start: Vec<u8>, end: Vec<u8>) {
        if !self.quiet && quota::accounted(cf) {
            // Part of a live collection (a list trim, a stream trim): its records'
            // sizes come off the key and the database.
            let mut gone: Vec<(Option<usize>, u8, u64)> = Vec::new();
            let mut seen: Vec<(Vec<u8>, u8, u64)> = Vec::new();
            let scanned = self.raw_scan(cf, &start, &end, &mut |k, v| {
                seen.push((
                    k.to_vec(),
                    k.first().copied().unwrap_or(0),
                    rec_size(k.len(), v.len()),
                ));
                true
            });
            if scanned.is_ok() {
                for (k, db, n) in seen {
                    let slot = if cf == Cf::Data {
                        self.pending_slot(&k)
                    } else {
                        None
                    };
                    gone.push((slot, db, n));
                }
                for (slot, db, n) in gone {
                    if let Some(i) = slot {
                        self.pending[i].1 -= n as i64;
                    }
                    self.add_size(db, -(n as i64));
                }
            }
        }
        self.delete_range_quiet(cf, start, end);
    }

    /// A range delete that accounts nothing (the caller accounted the whole range).
    fn delete_range_quiet(&mut self, cf: Cf, start: Vec<u8>, end: Vec<u8>) {
        let doomed: Vec<_> = self
            .writes
            .range((cf, start.clone())..(cf, end.clone()))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            let old = self.writes.remove(&k);
            if let Some(j) = &mut self.journal {
                j.undo.push((k.0, k.1, old));
            }
        }
        self.ranges.push((cf, start, end));
    }

    /// Visits `[start, end)` of `cf` as this transaction sees it (pending writes merged
    /// over the store), in key order, until `f` returns false.
    pub fn raw_scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        if start >= end {
            return Ok(());
        }
        let mut pending = self
            .writes
            .range((cf, start.to_vec())..(cf, end.to_vec()))
            .map(|((_, k), v)| (k.as_slice(), v.as_deref()))
            .peekable();
        let mut stopped = false;
        let scanned = self.store.scan(cf, start, end, &mut |k, v| {
            // Pending keys that sort before this stored key come first.
            while let Some(&(pk, pv)) = pending.peek() {
                if pk >= k {
                    break;
                }
                pending.next();
                if let Some(pv) = pv {
                    if !f(pk, pv) {
                        stopped = true;
                        return false;
                    }
                }
            }
            if let Some(&(pk, pv)) = pending.peek() {
                if pk == k {
                    pending.next();
                    return match pv {
                        Some(pv) => {
                            let go = f(pk, pv);
                            stopped = !go;
                            go
                        }
                        None => true,
                    };
                }
            }
            if self.in_deleted_range(cf, k) {
                return true;
            }
            let go = f(k, v);
            stopped = !go;
            go
        });
        self.note_failure(scanned)?;
        if !stopped {
            for (pk, pv) in pending {
                if let Some(pv) = pv {
                    if !f(pk, pv) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    // ---- keys -------------------------------------------------------------------------

    /// The meta record of `key` in the current db, expired or not.
    pub fn raw_meta(&self, key: &[u8]) -> Result<Option<Meta>, CmdError> {
        match self.raw_get(Cf::Meta, &keys::meta_key(self.db, key))? {
            None => Ok(None),
            Some(raw) => Meta::decode(&raw)
                .map(Some)
                .map_err(|e| CmdError::storage(format!("corrupt meta record: {e:?}"))),
        }
    }

    /// The meta record of a live key (expired keys are invisible).
    pub fn get_meta(&self, key: &[u8]) -> Result<Option<Meta>, CmdError> {
        match self.raw_meta(key)? {
            Some(m) if self.is_live(key, &m)? => Ok(Some(m)),
            _ => Ok(None),
        }
    }

    /// True if the key whose meta record is `m` exists now: its TTL has not passed and,
    /// for a hash, some field is still live (field TTLs).
    fn is_live(&self, key: &[u8], m: &Meta) -> Result<bool, CmdError> {
        Ok(!m.is_expired(self.now_ms)
            && !(m.kind == Kind::Hash && types::hash::all_fields_expired(self, key, m)?))
    }

    /// A live key of the given type; WRONGTYPE if it holds another type.
    pub fn get_kind(&self, key: &[u8], kind: Kind) -> Result<Option<Meta>, CmdError> {
        match self.get_meta(key)? {
            Some(m) if m.kind != kind => Err(CmdError::wrong_type()),
            other => Ok(other),
        }
    }

    /// The value of a string key; WRONGTYPE for other types.
    pub fn get_string(&self, key: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
        Ok(self.get_kind(key, Kind::String)?.map(|m| m.inline))
    }

    pub fn exists(&self, key: &[u8]) -> Result<bool, CmdError> {
        Ok(self.get_meta(key)?.is_some())
    }

    /// A version for a new incarnation of a key: unique per entry and increasing.
    pub fn new_version(&mut self) -> u64 {
        self.next_version += 1;
        (self.index << 16) | (self.next_version & 0xffff)
    }

    /// A fresh meta record of `kind` for a key being created.
    pub fn new_meta(&mut self, kind: Kind, inline: Vec<u8>) -> Meta {
        Meta {
            kind,
            expire_at_ms: 0,
            version: self.new_version(),
            write_index: self.index,
            mtime_ms: self.now_ms,
            len: 0,
            stamp: self.stamp,
            inline,
        }
    }

    /// Writes `key`'s meta record, keeping the expiry index and the key count in step.
    pub fn put_meta(&mut self, key: &[u8], meta: Meta) -> Result<(), CmdError> {
        let old = self.old_header(key)?;
        self.put_meta_over(key, meta, old)
    }

    /// Type, expiry and version of the record `key` has now (expired or not), with its
    /// stored data size and length.
    fn old_header(&self, key: &[u8]) -> Result<Option<OldHeader>, CmdError> {
        match self.raw_get(Cf::Meta, &keys::meta_key(self.db, key))? {
            None => Ok(None),
            Some(raw) => {
                let corrupt = |e| CmdError::storage(format!("corrupt meta record: {e:?}"));
                let (kind, expire_at_ms, version) = Meta::peek(&raw).map_err(corrupt)?;
                Ok(Some(OldHeader {
                    kind,
                    expire_at_ms,
                    version,
                    data_size: Meta::stored_data_size(&raw).map_err(corrupt)?,
                    raw_len: raw.len(),
                }))
            }
        }
    }

    fn put_meta_over(
        &mut self,
        key: &[u8],
        mut meta: Meta,
        old: Option<OldHeader>,
    ) -> Result<(), CmdError> {
        meta.write_index = self.index;
        meta.mtime_ms = self.now_ms;
        meta.stamp = self.stamp;
        let old_expire = old.map_or(0, |o| o.expire_at_ms);
        if old_expire != meta.expire_at_ms {
            if old_expire != 0 {
                self.raw_delete(Cf::Expire, keys::expire_key(old_expire, self.db, key));
            }
            if meta.expire_at_ms != 0 {
                self.raw_put(
                    Cf::Expire,
                    keys::expire_key(meta.expire_at_ms, self.db, key),
                    Vec::new(),
                );
            }
        }
        // The key's data size: what it had (same version) plus what this transaction's
        // element writes added; a new version starts from what was written under it.
        let pending = self.take_pending(key, meta.version);
        let (data_size, before) = match old {
            Some(o) if o.version == meta.version => match o.data_size {
                Some(d) => (d.saturating_add_signed(pending), d),
                None => {
                    let n = self.scan_data_size(key, meta.version)?;
                    (n, n.saturating_add_signed(-pending))
                }
            },
            _ => (pending.max(0) as u64, 0),
        };
        let mk = keys::meta_key(self.db, key);
        let old_total = old.map_or(0, |o| rec_size(mk.len(), o.raw_len) + before);
        if let Some(o) = old {
            if o.version != meta.version {
                self.drop_records(key, o.kind, o.version, o.data_size)?;
            }
        }
        if old.is_none() {
            self.add_count(self.db, 1)?;
        }
        let created = old.map_or(true, |o| {
            o.expire_at_ms != 0 && o.expire_at_ms <= self.now_ms
        });
        self.touch(key, Touch::Written { created });
        let raw = meta.encode_sized(data_size);
        let total = rec_size(mk.len(), raw.len()) + data_size;
        if total > old_total && total > quota::MAX_RECORD_SIZE {
            self.record_over = true;
        }
        if !self.read_only {
            crate::access::touch(self.db, key, self.now_ms);
        }
        self.raw_put(Cf::Meta, mk, raw);
        Ok(())
    }

    /// Sets a string value, replacing whatever the key held. `expire_at_ms` 0 = no TTL.
    pub fn put_string(
        &mut self,
        key: &[u8],
        value: Vec<u8>,
        expire_at_ms: u64,
    ) -> Result<(), CmdError> {
        let old = self.old_header(key)?;
        let version = match old {
            Some(o) if o.kind == Kind::String => o.version,
            _ => self.new_version(),
        };
        let meta = Meta {
            kind: Kind::String,
            expire_at_ms,
            version,
            write_index: self.index,
            mtime_ms: self.now_ms,
            len: 0,
            stamp: self.stamp,
            inline: value,
        };
        self.put_meta_over(key, meta, old)
    }

    /// Deletes a key of any type. True if a live key was removed.
    pub fn delete_key(&mut self, key: &[u8]) -> Result<bool, CmdError> {
        let Some(raw) = self.raw_get(Cf::Meta, &keys::meta_key(self.db, key))? else {
            return Ok(false);
        };
        let corrupt = |e| CmdError::storage(format!("corrupt meta record: {e:?}"));
        let meta = Meta::decode(&raw).map_err(corrupt)?;
        let data_size = Meta::stored_data_size(&raw).map_err(corrupt)?;
        let (kind, expire_at_ms, version) = (meta.kind, meta.expire_at_ms, meta.version);
        let live = self.is_live(key, &meta)?;
        if expire_at_ms != 0 {
            self.raw_delete(Cf::Expire, keys::expire_key(expire_at_ms, self.db, key));
        }
        self.drop_records(key, kind, version, data_size)?;
        self.raw_delete(Cf::Meta, keys::meta_key(self.db, key));
        self.add_count(self.db, -1)?;
        self.put_tombstone(key);
        self.touch(key, if live { Touch::Deleted } else { Touch::Expired });
        Ok(live)
    }

    /// Leaves `key`'s tombstone (its delete's stamp, for last-writer-wins when two
    /// histories meet; see `keys::sm::TOMBSTONES`), replacing an older one.
    fn put_tombstone(&mut self, key: &[u8]) {
        let t = keys::sm::Tombstone {
            stamp: self.stamp,
            index: self.index,
            at_ms: self.now_ms,
        };
        self.raw_put(Cf::Sm, keys::sm::tombstone_key(self.db, key), t.encode());
        self.raw_put(
            Cf::Sm,
            keys::sm::tombstone_time_key(self.now_ms, self.db, key),
            Vec::new(),
        );
    }

    /// The stamp last-writer-wins holds for `key`: its record's (expired or not), else
    /// its tombstone's, else `None`.
    pub fn held_stamp(&self, db: u8, key: &[u8]) -> Result<Option<Stamp>, CmdError> {
        if let Some(raw) = self.raw_get(Cf::Meta, &keys::meta_key(db, key))? {
            let m = Meta::decode(&raw)
                .map_err(|e| CmdError::storage(format!("corrupt meta record: {e:?}")))?;
            return Ok(Some(m.stamp));
        }
        Ok(self
            .raw_get(Cf::Sm, &keys::sm::tombstone_key(db, key))?
            .and_then(|raw| keys::sm::Tombstone::decode(&raw))
            .map(|t| t.stamp))
    }

    /// Leaves a tombstone for `key` of `db` with the current stamp (a merged delete of
    /// a key this history may not hold).
    pub fn put_tombstone_in(&mut self, db: u8, key: &[u8]) {
        let saved = self.db;
        self.db = db;
        self.put_tombstone(key);
        self.db = saved;
    }

    /// Drops up to `max` tombstones left before `before_ms` (their grace period is over);
    /// the number dropped.
    pub fn prune_tombstones(&mut self, before_ms: u64, max: usize) -> Result<usize, StoreError> {
        let start = keys::sm::TOMBSTONE_TIMES.start().to_vec();
        let end = keys::sm::tombstone_time_before(before_ms);
        let mut old = Vec::new();
        self.raw_scan(Cf::Sm, &start, &end, &mut |k, _| {
            old.push(k.to_vec());
            old.len() < max
        })?;
        let n = old.len();
        for tk in old {
            if let Some((at, db, key)) = keys::sm::decode_tombstone_time_key(&tk) {
                let tomb = keys::sm::tombstone_key(db, key);
                // Only the tombstone this index entry was written for (a later delete of
                // the same key left a newer one with its own index entry).
                let current = self
                    .raw_get(Cf::Sm, &tomb)?
                    .and_then(|raw| keys::sm::Tombstone::decode(&raw));
                if current.is_some_and(|t| t.at_ms == at) {
                    self.raw_delete(Cf::Sm, tomb);
                }
            }
            self.raw_delete(Cf::Sm, tk);
        }
        Ok(n)
    }

    /// Deletes the element records of incarnation `version` of a collection `key` that
    /// is being dropped (DEL, overwrite, expiry, RENAME's source): point deletes when
    /// there are at most [`SMALL_DROP`] of them, else ONE range delete over the version's
    /// prefix, so dropping a collection of any size writes O(1) records and leaves no
    /// garbage behind (RocksDB reclaims the space when it compacts).
    /// `stored` is the data size the version's meta record carries (`None` for a record
    /// older than the accounting: the records are read to size them).
    fn drop_records(
        &mut self,
        key: &[u8],
        kind: Kind,
        version: u64,
        stored: Option<u64>,
    ) -> Result<(), CmdError> {
        let pending = self.take_pending(key, version);
        if matches!(kind, Kind::String | Kind::Json) {
            return Ok(()); // stored inline in the meta record
        }
        let size = match stored {
            Some(d) => d.saturating_add_signed(pending),
            None => self.scan_data_size(key, version)?,
        };
        let prefix = keys::data_prefix(self.db, key, version);
        let end = crate::coll::prefix_end(&prefix);
        let mut found = Vec::new();
        self.raw_scan(Cf::Data, &prefix, &end, &mut |k, _| {
            found.push(k.to_vec());
            found.len() <= SMALL_DROP
        })?;
        self.quiet = true;
        if found.len() > SMALL_DROP {
            self.delete_range_quiet(Cf::Data, prefix, end);
        } else {
            for k in found {
                self.raw_delete(Cf::Data, k);
            }
        }
        self.quiet = false;
        self.add_size(self.db, -(size as i64));
        Ok(())
    }

    /// Changes a live key's expiry (0 = persist). False if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: u64) -> Result<bool, CmdError> {
        let Some(mut meta) = self.get_meta(key)? else {
            return Ok(false);
        };
        meta.expire_at_ms = expire_at_ms;
        self.put_meta(key, meta)?;
        Ok(true)
    }

    /// Visits live keys of the current db from `start_slot` on, in (slot, key) order,
    /// until `f` returns false. `f` gets (slot, key, meta).
    pub fn scan_keys(
        &self,
        start_slot: u16,
        f: &mut dyn FnMut(u16, &[u8], &Meta) -> bool,
    ) -> Result<(), CmdError> {
        let db = self.db;
        let mut corrupt = None;
        let mut read_err = None;
        self.raw_scan(
            Cf::Meta,
            &keys::meta_slot_start(db, start_slot),
            &keys::meta_db_end(db),
            &mut |k, v| {
                let Some((_, slot, key)) = keys::decode_meta_key(k) else {
                    return true;
                };
                match Meta::decode(v) {
                    Ok(m) => match self.is_live(key, &m) {
                        Ok(true) => f(slot, key, &m),
                        Ok(false) => true,
                        Err(e) => {
                            read_err = Some(e);
                            false
                        }
                    },
                    Err(e) => {
                        corrupt = Some(e);
                        false
                    }
                }
            },
        )?;
        if let Some(e) = read_err {
            return Err(e);
        }
        match corrupt {
            Some(e) => Err(CmdError::storage(format!("corrupt meta record: {e:?}"))),
            None => Ok(()),
        }
    }

    /// The leader's expirer proposes this for `(expire_at_ms, key)` entries its expiry
    /// index says are due: a key is deleted only if, at this entry's time, it still
    /// exists and has expired (a key rewritten since the proposal survives). Index
    /// entries that no longer match their key (left by FLUSHDB, say) are dropped.
    /// Returns how many keys were deleted.
    pub fn expire_if_due(&mut self, db: u8, due: &[(u64, Vec<u8>)]) -> Result<u64, CmdError> {
        self.db = db;
        let start = self.touched.len();
        let mut n = 0;
        for (at, key) in due {
            match self.raw_meta(key)? {
                Some(m) if m.is_expired(self.now_ms) => {
                    self.delete_key(key)?;
                    n += 1;
                }
                Some(m) if m.expire_at_ms == *at => {}
                Some(m)
                    if m.kind == Kind::Hash
                        && types::hash::ttl_floor(&m)
                            .is_some_and(|f| f == *at && f <= self.now_ms) =>
                {
                    // A hash's field TTL floor is due: purge its expired fields.
                    n += types::hash::expire_fields(self, key, m)? as u64;
                }
                _ => self.raw_delete(Cf::Expire, keys::expire_key(*at, db, key)),
            }
        }
        self.derive_events(&[], start);
        Ok(n)
    }

    // ---- key counts -------------------------------------------------------------------

    /// Number of keys in `db`, counting expired keys not yet deleted (as Redis's DBSIZE).
    pub fn key_count(&self, db: u8) -> Result<u64, CmdError> {
        if let Some(&n) = self.counts.get(&db) {
            return Ok(n);
        }
        let stored = self.note_failure(self.store.get(Cf::Sm, &keys::sm::keycount_key(db)))?;
        Ok(stored
            .and_then(|raw| keys::sm::decode_keycount(&raw))
            .unwrap_or(0))
    }

    fn add_count(&mut self, db: u8, delta: i64) -> Result<(), CmdError> {
        let n = self.key_count(db)?;
        self.counts.insert(db, n.saturating_add_signed(delta));
        Ok(())
    }

    /// A keyspace event raised by the command itself rather than derived from what it
    /// touched (MOVE's move_from / move_to), delivered with the entry's other events when
    /// notifications of `class` are on. Call [`Txn::events_reported`] after the touches
    /// it stands for, so they are not derived a second time.
    pub(crate) fn notify(&mut self, db: u8, class: u32, event: &str, key: &[u8]) {
        let flags = self.bus.map_or(0, |b| b.keyspace_flags());
        if flags & (events::class::KEYSPACE | events::class::KEYEVENT) != 0 && flags & class != 0 {
            self.events.push(Event::Keyspace {
                db,
                class,
                event: event.to_string(),
                key: key.to_vec(),
            });
        }
    }

    /// Marks every key touched so far as reported: no keyspace event is derived for them
    /// (they still wake blocked clients and touch WATCHed keys).
    pub(crate) fn events_reported(&mut self) {
        self.reported = self.touched.len();
    }

    /// SWAPDB: databases `a` and `b` exchange their contents. Every record of both
    /// (meta, elements, expiry index, key count) is rewritten under the other database,
    /// in this one entry, so every replica and a restart agree; O(records of the two
    /// databases), where Redis's is O(1). Each key of either database counts as written
    /// in both (blocked clients re-check, WATCH sees a change, as Redis's
    /// touchAllWatchedKeysInDb); no keyspace event is raised (Redis raises none).
    pub fn swap_dbs(&mut self, a: u8, b: u8) -> Result<(), CmdError> {
        if a == b {
            return Ok(());
        }
        self.settle_sizes()?;
        let other = |db: u8| if db == a { b } else { a };
        let mut metas: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut data: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for db in [a, b] {
            let (start, end) = (keys::meta_db_start(db), keys::meta_db_end(db));
            self.raw_scan(Cf::Meta, &start, &end, &mut |k, v| {
                metas.push((k.to_vec(), v.to_vec()));
                true
            })?;
            self.raw_scan(Cf::Data, &start, &end, &mut |k, v| {
                data.push((k.to_vec(), v.to_vec()));
                true
            })?;
        }
        let (count_a, count_b) = (self.key_count(a)?, self.key_count(b)?);
        for db in [a, b] {
            self.delete_range_quiet(Cf::Meta, keys::meta_db_start(db), keys::meta_db_end(db));
            self.delete_range_quiet(Cf::Data, keys::meta_db_start(db), keys::meta_db_end(db));
        }
        // Expiry index entries: every old one goes before any new one is written (a key
        // present in both databases with the same expiry has the same index entry).
        let mut moved = Vec::with_capacity(metas.len());
        for (k, v) in &metas {
            let Some((db, _, key)) = keys::decode_meta_key(k) else {
                continue;
            };
            let mut m = Meta::decode(v)
                .map_err(|e| CmdError::storage(format!("corrupt meta record: {e:?}")))?;
            let data_size = Meta::stored_data_size(v).ok().flatten();
            let mut ats = vec![m.expire_at_ms];
            if m.kind == Kind::Hash {
                ats.extend(types::hash::ttl_floor(&m));
            }
            ats.retain(|&at| at != 0);
            for &at in &ats {
                self.raw_delete(Cf::Expire, keys::expire_key(at, db, key));
            }
            m.write_index = self.index;
            let data_size = match data_size {
                Some(d) => d,
                None if matches!(m.kind, Kind::String | Kind::Json) => 0,
                None => {
                    // A record older than the accounting: sized from its elements.
                    let prefix = keys::data_prefix(db, key, m.version);
                    data.iter()
                        .filter(|(dk, _)| dk.starts_with(&prefix))
                        .map(|(dk, dv)| rec_size(dk.len(), dv.len()))
                        .sum()
                }
            };
            moved.push((db, key.to_vec(), m, ats, data_size, v.len()));
        }
        let names = |db: u8| -> std::collections::BTreeSet<Vec<u8>> {
            moved
                .iter()
                .filter(|(d, ..)| *d == db)
                .map(|(_, k, ..)| k.clone())
                .collect()
        };
        let (in_a, in_b) = (names(a), names(b));
        self.quiet = true;
        // Every record moves with its length, so the databases swap their sizes; a meta
        // record rewritten from format 1 grows by the data size word.
        self.sizes_mut().swap(a as usize, b as usize);
        self.quiet = true;
        for (db, key, m, ats, data_size, old_len) in moved {
            let to = other(db);
            for at in ats {
                self.raw_put(Cf::Expire, keys::expire_key(at, to, &key), Vec::new());
            }
            let raw = m.encode_sized(data_size);
            self.add_size(to, raw.len() as i64 - old_len as i64);
            self.raw_put(Cf::Meta, keys::meta_key(to, &key), raw);
            self.touched.push(Touched {
                db: to,
                key: key.clone(),
                touch: Touch::Written { created: false },
            });
            let refilled = if db == a { &in_b } else { &in_a };
            if !refilled.contains(&key) {
                self.touched.push(Touched {
                    db,
                    key,
                    touch: Touch::Deleted,
                });
            }
        }
        for (mut k, v) in data {
            if let Some(first) = k.first_mut() {
                *first = other(*first);
            }
            self.raw_put(Cf::Data, k, v);
        }
        self.quiet = false;
        self.counts.insert(a, count_b);
        self.counts.insert(b, count_a);
        self.events_reported();
        Ok(())
    }

    /// A backup restore's first step (`Op::Restore`): empties every database, the
    /// expiry index and the functions, so the backup's records written next are the
    /// whole state.
    pub fn restore_clear(&mut self) {
        for db in 0..keys::DATABASES as u8 {
            self.flush_db(db);
        }
        // Every expiry key sorts below 64 bytes of 0xff (a timestamp prefix).
        self.delete_range_quiet(Cf::Expire, Vec::new(), vec![0xff; 64]);
        let fns = keys::sm::FUNCTIONS_ALL;
        self.raw_delete_range(Cf::Sm, fns.start().to_vec(), fns.end().to_vec());
    }

    /// A backup restore's records, written as they are (the manifest checked that the
    /// backup's record layout is this build's): each `meta` record counts one key of
    /// its database, each accounted record its size. Nothing is written if a record
    /// lies outside the restorable state (keyspace, expiry index, functions).
    pub fn restore_records(&mut self, recs: &[(Cf, Vec<u8>, Vec<u8>)]) -> Result<u64, CmdError> {
        for (cf, k, _) in recs {
            let ok = match cf {
                Cf::Meta => keys::decode_meta_key(k)
                    .is_some_and(|(db, _, _)| (db as usize) < keys::DATABASES),
                Cf::Data => keys::decode_data_key(k)
                    .is_some_and(|(db, _, _, _)| (db as usize) < keys::DATABASES),
                Cf::Expire => !k.is_empty(),
                Cf::Sm => keys::sm::FUNCTIONS_ALL.name(k).is_some(),
            };
            if !ok {
                return Err(CmdError::new(
                    "ERR restore record outside the keyspace, expiry index or functions",
                ));
            }
        }
        self.quiet = true;
        for (cf, k, v) in recs {
            let db = k.first().copied().unwrap_or(0);
            if *cf == Cf::Meta {
                if let Err(e) = self.add_count(db, 1) {
                    self.quiet = false;
                    return Err(e);
                }
            }
            if quota::accounted(*cf) {
                self.add_size(db, rec_size(k.len(), v.len()) as i64);
            }
            self.raw_put(*cf, k.clone(), v.clone());
        }
        self.quiet = false;
        Ok(recs.len() as u64)
    }

    /// Deletes every key of `db` in O(1) writes (range deletes). Expiry index entries
    /// of the removed keys stay behind; the expirer drops entries with no matching key.
    pub fn flush_db(&mut self, db: u8) {
        self.delete_range_quiet(Cf::Meta, keys::meta_db_start(db), keys::meta_db_end(db));
        self.delete_range_quiet(Cf::Data, keys::meta_db_start(db), keys::meta_db_end(db));
        self.counts.insert(db, 0);
        let gone = self.db_data_size(db);
        self.add_size(db, -(gone as i64));
        self.pending.retain(|(p, _)| p.first() != Some(&db));
        self.touched.push(Touched {
            db,
            key: Vec::new(),
            touch: Touch::Flushed,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    /// Fails every read of keys containing `bad`.
    struct Failing {
        inner: MemStore,
        bad: &'static [u8],
    }

    impl Failing {
        fn check(&self, key: &[u8]) -> Result<(), StoreError> {
            if key.windows(self.bad.len()).any(|w| w == self.bad) {
                Err(StoreError("injected".into()))
            } else {
                Ok(())
            }
        }
    }

    impl Store for Failing {
        fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.check(key)?;
            self.inner.get(cf, key)
        }
        fn scan(
            &self,
            cf: Cf,
            start: &[u8],
            end: &[u8],
            f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
        ) -> Result<(), StoreError> {
            self.check(start)?;
            self.inner.scan(cf, start, end, f)
        }
    }

    fn argv(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_failed_read_is_remembered_even_when_the_reply_hides_it() {
        let store = Failing {
            inner: MemStore::default(),
            bad: b"bad",
        };
        let mut t = Txn::new(&store, 1, 1_000, 1);
        assert_eq!(t.run(0, &argv(&["SET", "good", "v"])), Frame::ok());
        assert!(t.storage_failure().is_none());
        // A script that catches the error replies normally, yet the read failed.
        let script = "local ok = pcall(redis.call, 'GET', KEYS[1]) return 1";
        assert_eq!(
            t.run(0, &argv(&["EVAL", script, "1", "bad"])),
            Frame::Integer(1)
        );
        assert_eq!(t.storage_failure(), Some(&StoreError("injected".into())));
        // Later successful commands and rollbacks do not clear it.
        let sp = t.savepoint();
        assert_eq!(t.run(0, &argv(&["SET", "other", "v"])), Frame::ok());
        t.rollback(sp);
        assert!(t.storage_failure().is_some());
    }

    #[test]
    fn a_failed_scan_and_key_count_are_remembered() {
        let store = Failing {
            inner: MemStore::default(),
            bad: b"keycount",
        };
        let mut t = Txn::new(&store, 1, 1_000, 1);
        assert!(matches!(t.run(0, &argv(&["DBSIZE"])), Frame::Error(_)));
        assert!(t.storage_failure().is_some());
        let t = Txn::new(&store, 1, 1_000, 1);
        let mut seen = 0;
        assert!(t
            .raw_scan(Cf::Sm, b"keycount/", b"keycount0", &mut |_, _| {
                seen += 1;
                true
            })
            .is_err());
        assert!(t.storage_failure().is_some());
        // The same transaction over a healthy store records nothing.
        let ok = MemStore::default();
        let mut t = Txn::new(&ok, 1, 1_000, 1);
        t.run(0, &argv(&["DBSIZE"]));
        t.run(0, &argv(&["SET", "bad", "v"]));
        assert!(t.storage_failure().is_none());
    }
}
