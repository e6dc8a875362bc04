//! A transaction over the keyspace: reads go through pending writes to the [`Store`],
//! writes pile up as [`Effects`]. One Txn executes one log entry (or one read).

use crate::error::{CmdError, CmdResult};
use crate::events::{self, Bus, Event, Touch, Touched};
use crate::rng::Rng;
use crate::store::{Effects, Store, StoreError, Write};
use crate::table::{self, flags, Exec};
use crate::tier::Tier;
use crate::types;
use keys::{Cf, Kind, Meta};
use resp::Frame;
use std::cell::OnceCell;
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
        }
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
        let reply = match self.run_checked(db, argv) {
            Ok(f) => f,
            Err(e) => Frame::Error(e.0),
        };
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
        self.note_failure(self.store.get(cf, key))
    }

    pub fn raw_put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        debug_assert!(!self.read_only);
        self.writes.insert((cf, key), Some(value));
    }

    pub fn raw_delete(&mut self, cf: Cf, key: Vec<u8>) {
        debug_assert!(!self.read_only);
        self.writes.insert((cf, key), None);
    }

    pub fn raw_delete_range(&mut self, cf: Cf, start: Vec<u8>, end: Vec<u8>) {
        let doomed: Vec<_> = self
            .writes
            .range((cf, start.clone())..(cf, end.clone()))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.writes.remove(&k);
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
            inline,
        }
    }

    /// Writes `key`'s meta record, keeping the expiry index and the key count in step.
    pub fn put_meta(&mut self, key: &[u8], meta: Meta) -> Result<(), CmdError> {
        let old = self.old_header(key)?;
        self.put_meta_over(key, meta, old)
    }

    /// Type, expiry and version of the record `key` has now (expired or not).
    fn old_header(&self, key: &[u8]) -> Result<Option<(Kind, u64, u64)>, CmdError> {
        match self.raw_get(Cf::Meta, &keys::meta_key(self.db, key))? {
            None => Ok(None),
            Some(raw) => Meta::peek(&raw)
                .map(Some)
                .map_err(|e| CmdError::storage(format!("corrupt meta record: {e:?}"))),
        }
    }

    fn put_meta_over(
        &mut self,
        key: &[u8],
        mut meta: Meta,
        old: Option<(Kind, u64, u64)>,
    ) -> Result<(), CmdError> {
        meta.write_index = self.index;
        meta.mtime_ms = self.now_ms;
        let old_expire = old.map_or(0, |(_, e, _)| e);
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
        if let Some((kind, _, version)) = old {
            if version != meta.version {
                self.drop_records(key, kind, version)?;
            }
        }
        if old.is_none() {
            self.add_count(self.db, 1)?;
        }
        let created = old.map_or(true, |(_, e, _)| e != 0 && e <= self.now_ms);
        self.touch(key, Touch::Written { created });
        self.raw_put(Cf::Meta, keys::meta_key(self.db, key), meta.encode());
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
            Some((Kind::String, _, v)) => v,
            _ => self.new_version(),
        };
        let meta = Meta {
            kind: Kind::String,
            expire_at_ms,
            version,
            write_index: self.index,
            mtime_ms: self.now_ms,
            len: 0,
            inline: value,
        };
        self.put_meta_over(key, meta, old)
    }

    /// Deletes a key of any type. True if a live key was removed.
    pub fn delete_key(&mut self, key: &[u8]) -> Result<bool, CmdError> {
        let Some(meta) = self.raw_meta(key)? else {
            return Ok(false);
        };
        let (kind, expire_at_ms, version) = (meta.kind, meta.expire_at_ms, meta.version);
        let live = self.is_live(key, &meta)?;
        if expire_at_ms != 0 {
            self.raw_delete(Cf::Expire, keys::expire_key(expire_at_ms, self.db, key));
        }
        self.drop_records(key, kind, version)?;
        self.raw_delete(Cf::Meta, keys::meta_key(self.db, key));
        self.add_count(self.db, -1)?;
        self.touch(key, if live { Touch::Deleted } else { Touch::Expired });
        Ok(live)
    }

    /// Deletes the element records of incarnation `version` of a collection `key` that
    /// is being dropped (DEL, overwrite, expiry, RENAME's source): point deletes when
    /// there are at most [`SMALL_DROP`] of them, else ONE range delete over the version's
    /// prefix, so dropping a collection of any size writes O(1) records and leaves no
    /// garbage behind (RocksDB reclaims the space when it compacts).
    fn drop_records(&mut self, key: &[u8], kind: Kind, version: u64) -> Result<(), CmdError> {
        if matches!(kind, Kind::String | Kind::Json) {
            return Ok(()); // stored inline in the meta record
        }
        let prefix = keys::data_prefix(self.db, key, version);
        let end = crate::coll::prefix_end(&prefix);
        let mut found = Vec::new();
        self.raw_scan(Cf::Data, &prefix, &end, &mut |k, _| {
            found.push(k.to_vec());
            found.len() <= SMALL_DROP
        })?;
        if found.len() > SMALL_DROP {
            self.raw_delete_range(Cf::Data, prefix, end);
        } else {
            for k in found {
                self.raw_delete(Cf::Data, k);
            }
        }
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
            self.raw_delete_range(Cf::Meta, keys::meta_db_start(db), keys::meta_db_end(db));
            self.raw_delete_range(Cf::Data, keys::meta_db_start(db), keys::meta_db_end(db));
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
            let mut ats = vec![m.expire_at_ms];
            if m.kind == Kind::Hash {
                ats.extend(types::hash::ttl_floor(&m));
            }
            ats.retain(|&at| at != 0);
            for &at in &ats {
                self.raw_delete(Cf::Expire, keys::expire_key(at, db, key));
            }
            m.write_index = self.index;
            moved.push((db, key.to_vec(), m, ats));
        }
        let names = |db: u8| -> std::collections::BTreeSet<Vec<u8>> {
            moved
                .iter()
                .filter(|(d, ..)| *d == db)
                .map(|(_, k, ..)| k.clone())
                .collect()
        };
        let (in_a, in_b) = (names(a), names(b));
        for (db, key, m, ats) in moved {
            let to = other(db);
            for at in ats {
                self.raw_put(Cf::Expire, keys::expire_key(at, to, &key), Vec::new());
            }
            self.raw_put(Cf::Meta, keys::meta_key(to, &key), m.encode());
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
        self.counts.insert(a, count_b);
        self.counts.insert(b, count_a);
        self.events_reported();
        Ok(())
    }

    /// Deletes every key of `db` in O(1) writes (range deletes). Expiry index entries
    /// of the removed keys stay behind; the expirer drops entries with no matching key.
    pub fn flush_db(&mut self, db: u8) {
        self.raw_delete_range(Cf::Meta, keys::meta_db_start(db), keys::meta_db_end(db));
        self.raw_delete_range(Cf::Data, keys::meta_db_start(db), keys::meta_db_end(db));
        self.counts.insert(db, 0);
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
