//! Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.
//!
//! Every command validates all of its arguments (and, for XREADGROUP, the PEL limit)
//! before its first write, so an error reply never leaves a partial change behind.

use super::id::{self, Id};
use super::{
    entries_read_after, entry_frame, help_reply, id_frame, int, limit_of, parse_read, subcommand,
    subcommand_syntax, ReadArgs, INVALID_READ, PEL_LIMIT_PER_CONSUMER,
};
use crate::args::{self, parse_i64};
use crate::error::{CmdError, CmdResult};
use crate::txn::Txn;
use crate::types::stream::{corrupt, decode_nack, Consumer, Group, Nack, Stream};
use crate::Frame;
use std::collections::BTreeMap;

/// The keyspace-event class of stream commands (`t`).
const STREAM_EVENTS: u32 = crate::events::class::STREAM;

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// The NOGROUP error of XPENDING, XCLAIM and XAUTOCLAIM.
fn nogroup(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::new(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    ))
}

/// The NOGROUP error of the XGROUP subcommands.
fn nogroup_for_key(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::new(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        lossy(group),
        lossy(key)
    ))
}

/// An integer argument whose parse error is a command-specific text.
fn parse_i64_or(arg: &[u8], msg: &str) -> Result<i64, CmdError> {
    args::parse_i64_opt(arg).ok_or_else(|| CmdError::new(msg))
}

/// Milliseconds since `time`, as Redis computes it (`now - time`).
fn idle(now: u64, time: u64) -> i64 {
    (now as i64).wrapping_sub(time as i64)
}

/// One group being changed by a command: the stream, the group and the consumers it
/// touched, all written back by [`Work::finish`].
struct Work {
    s: Stream,
    g: Group,
    consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Work {
    /// `key`'s group `name`; None if the key or the group is missing. WRONGTYPE if the
    /// key holds another type.
    fn open(t: &Txn, key: &[u8], name: &[u8]) -> Result<Option<Work>, CmdError> {
        let Some(s) = Stream::open(t, key)? else {
            return Ok(None);
        };
        let Some(g) = s.group(t, name)? else {
            return Ok(None);
        };
        Ok(Some(Work {
            s,
            g,
            consumers: BTreeMap::new(),
        }))
    }

    fn load(&mut self, t: &Txn, name: &[u8]) -> Result<Option<&mut Consumer>, CmdError> {
        if !self.consumers.contains_key(name) {
            match self.s.consumer(t, &self.g.name, name)? {
                Some(c) => {
                    self.consumers.insert(name.to_vec(), c);
                }
                None => return Ok(None),
            }
        }
        Ok(self.consumers.get_mut(name))
    }

    /// A consumer that must exist (an owner named by a pending entry).
    fn owner(&mut self, t: &Txn, name: &[u8]) -> Result<&mut Consumer, CmdError> {
        self.load(t, name)?.ok_or_else(|| corrupt("consumer"))
    }

    /// Consumer `name`, created if missing (streamCreateConsumer), seen now. A
    /// consumer created here raises Redis's `xgroup-createconsumer` event on `key`.
    fn touch(&mut self, t: &mut Txn, key: &[u8], name: &[u8]) -> Result<(), CmdError> {
        let now = t.now_ms;
        match self.load(t, name)? {
            Some(c) => c.seen = now,
            None => {
                self.consumers
                    .insert(name.to_vec(), Consumer::new(name, now));
                self.g.consumers += 1;
                t.notify(t.db, STREAM_EVENTS, "xgroup-createconsumer", key);
            }
        }
        Ok(())
    }

    /// Gives pending entry `id` to consumer `to` (which is loaded) with a delivery time
    /// and count. `old` is its current NACK, None to create one.
    fn assign(
        &mut self,
        t: &mut Txn,
        id: Id,
        old: Option<&Nack>,
        to: &[u8],
        time: u64,
        count: u64,
    ) -> Result<(), CmdError> {
        let g = self.g.name.clone();
        match old {
            None => {
                self.g.pel += 1;
                self.owner(t, to)?.pel += 1;
                self.s.cpel_add(t, &g, to, id);
            }
            Some(n) if n.consumer.as_slice() != to => {
                let prev = self.owner(t, &n.consumer)?;
                prev.pel = prev.pel.saturating_sub(1);
                self.s.cpel_remove(t, &g, &n.consumer, id);
                self.owner(t, to)?.pel += 1;
                self.s.cpel_add(t, &g, to, id);
            }
            Some(_) => {}
        }
        let nack = Nack {
            time,
            count,
            consumer: to.to_vec(),
        };
        self.s.put_nack(t, &g, id, &nack);
        Ok(())
    }

    /// Drops pending entry `id` from both PELs (XACK, or its entry is gone).
    fn release(&mut self, t: &mut Txn, id: Id, n: &Nack) -> Result<(), CmdError> {
        let g = self.g.name.clone();
        self.s.delete_nack(t, &g, id);
        self.s.cpel_remove(t, &g, &n.consumer, id);
        let c = self.owner(t, &n.consumer)?;
        c.pel = c.pel.saturating_sub(1);
        self.g.pel = self.g.pel.saturating_sub(1);
        Ok(())
    }

    /// Writes back the consumers touched, the group and the stream's meta record.
    fn finish(mut self, t: &mut Txn) -> Result<(), CmdError> {
        for c in self.consumers.values() {
            self.s.put_consumer(t, &self.g.name, c);
        }
        self.s.put_group(t, &self.g);
        self.s.save(t)
    }
}

// ---- XGROUP -------------------------------------------------------------------------------

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP ...
pub(super) fn xgroup(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let sub = subcommand(
        argv,
        &[
            ("create", -5),
            ("createconsumer", 5),
            ("delconsumer", 5),
            ("destroy", 4),
            ("setid", -5),
            ("help", 2),
        ],
    )?;
    if sub == "help" {
        return help_reply(argv, XGROUP_HELP);
    }
    let create = sub == "create";
    let setid = sub == "setid";
    let mut mkstream = false;
    let mut entries_read = INVALID_READ;
    let mut i = 5;
    while i < argv.len() {
        if create && args::is(&argv[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && args::is(&argv[i], "entriesread") && i + 1 < argv.len() {
            entries_read = parse_i64(&argv[i + 1])?;
            if entries_read < 0 && entries_read != INVALID_READ {
                return Err(CmdError::new(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(subcommand_syntax(argv));
        }
    }
    let key = &argv[2];
    let gname = &argv[3];
    let s = Stream::open(t, key)?;
    let mut group = None;
    if !mkstream {
        let Some(s) = &s else {
            return Err(CmdError::new(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        };
        group = s.group(t, gname)?;
        if group.is_none() && matches!(sub.as_str(), "setid" | "createconsumer" | "delconsumer") {
            return Err(nogroup_for_key(key, gname));
        }
    }
    match sub.as_str() {
        "create" => {
            if argv.len() > 8 {
                return Err(subcommand_syntax(argv));
            }
            let at = if argv[4].as_slice() == b"$" {
                s.as_ref().map_or(Id::MIN, |s| s.h.last)
            } else {
                id::parse_strict(&argv[4])?
            };
            let mut s = match s {
                Some(s) => s,
                None => Stream::create(t, key),
            };
            if s.group(t, gname)?.is_some() {
                return Err(CmdError::new(
                    "BUSYGROUP Consumer Group name already exists",
                ));
            }
            s.put_group(t, &Group::new(gname, at, entries_read));
            s.h.groups += 1;
            s.save(t)?;
            Ok(Frame::ok())
        }
        "setid" => {
            if argv.len() != 5 && argv.len() != 7 {
                return Err(subcommand_syntax(argv));
            }
            let (mut s, mut g) = (s.expect("checked"), group.expect("checked"));
            g.last = if argv[4].as_slice() == b"$" {
                s.h.last
            } else {
                id::parse(&argv[4], 0)?
            };
            g.entries_read = entries_read;
            s.put_group(t, &g);
            s.save(t)?;
            Ok(Frame::ok())
        }
        "destroy" => {
            let mut s = s.expect("checked");
            if group.is_none() {
                return int(0);
            }
            s.delete_group(t, gname);
            s.h.groups = s.h.groups.saturating_sub(1);
            s.save(t)?;
            int(1)
        }
        "createconsumer" => {
            let (mut s, mut g) = (s.expect("checked"), group.expect("checked"));
            if s.consumer(t, gname, &argv[4])?.is_some() {
                return int(0);
            }
            s.put_consumer(t, gname, &Consumer::new(&argv[4], t.now_ms));
            g.consumers += 1;
            s.put_group(t, &g);
            s.save(t)?;
            int(1)
        }
        "delconsumer" => {
            let (mut s, mut g) = (s.expect("checked"), group.expect("checked"));
            let Some(c) = s.consumer(t, gname, &argv[4])? else {
                return int(0);
            };
            let mut ids = Vec::new();
            s.cpel(gname, &c.name)
                .visit(t, Id::MIN, Id::MAX, &mut |id, _| {
                    ids.push(id);
                    true
                })?;
            for id in &ids {
                s.delete_nack(t, gname, *id);
            }
            s.delete_consumer(t, gname, &c.name);
            g.pel = g.pel.saturating_sub(ids.len() as u64);
            g.consumers = g.consumers.saturating_sub(1);
            s.put_group(t, &g);
            s.save(t)?;
            int(c.pel as i64)
        }
        _ => Err(subcommand_syntax(argv)),
    }
}

// ---- XREADGROUP ---------------------------------------------------------------------------

/// Where a stream of XREADGROUP is read from.
#[derive(Clone, Copy)]
enum From {
    /// `>`: entries never delivered to the group.
    New,
    /// An explicit ID: the consumer's own pending entries after it.
    After(Id),
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key ... id ...
pub(super) fn xreadgroup(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let a = parse_read(argv, t.now_ms, true)?;
    let (gname, cname) = a.group.clone().expect("parse_read requires GROUP");
    let mut from = Vec::with_capacity(a.n);
    for i in 0..a.n {
        let key = &argv[a.streams + i];
        let has_group = match Stream::open(t, key)? {
            Some(s) => s.group(t, &gname)?.is_some(),
            None => false,
        };
        if !has_group {
            return Err(CmdError::new(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                lossy(key),
                lossy(&gname)
            )));
        }
        let arg = argv[a.streams + a.n + i].as_slice();
        from.push(match arg {
            b"$" | b"+" => {
                let sym = lossy(arg);
                return Err(CmdError::new(format!(
                    "ERR The {sym} ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The {sym} ID would just return an empty result set."
                )));
            }
            b">" => From::New,
            _ => From::After(id::parse_strict(arg)?),
        });
    }
    if !a.noack {
        check_pel_limit(t, argv, &a, &gname, &cname, &from)?;
    }
    let mut out = Vec::new();
    for (i, f) in from.iter().enumerate() {
        let key = &argv[a.streams + i];
        let mut w = Work::open(t, key, &gname)?.ok_or_else(|| corrupt("group"))?;
        w.touch(t, key, &cname)?;
        let served = match *f {
            From::After(gt) => Some(read_history(t, &mut w, &cname, gt, a.count)?),
            From::New => read_new(t, &mut w, &cname, a.count, a.noack)?,
        };
        w.finish(t)?;
        if let Some(items) = served {
            out.push((Frame::Bulk(key.clone()), Frame::Array(items)));
        }
    }
    // XREADGROUP raises no event of its own (a created consumer raised its own).
    t.events_reported();
    if out.is_empty() {
        Ok(Frame::NullArray)
    } else {
        Ok(Frame::KeyedArrays(out))
    }
}

/// Refuses (before anything is written) a read that would grow the consumer's PEL past
/// [`PEL_LIMIT_PER_CONSUMER`] on any of its streams. A key named twice is simulated
/// in order, as the reads will run.
fn check_pel_limit(
    t: &Txn,
    argv: &[Vec<u8>],
    a: &ReadArgs,
    gname: &[u8],
    cname: &[u8],
    from: &[From],
) -> Result<(), CmdError> {
    // key -> (group's last delivered ID, consumer's PEL size) after the earlier reads.
    let mut sim: BTreeMap<&[u8], (Id, u64)> = BTreeMap::new();
    for (i, f) in from.iter().enumerate() {
        if !matches!(f, From::New) {
            continue;
        }
        let key = argv[a.streams + i].as_slice();
        let s = Stream::open(t, key)?.ok_or_else(|| corrupt("group"))?;
        let g = s.group(t, gname)?.ok_or_else(|| corrupt("group"))?;
        let (last, pel) = match sim.get(key) {
            Some(v) => *v,
            None => (g.last, s.consumer(t, gname, cname)?.map_or(0, |c| c.pel)),
        };
        let Some(start) = last.next() else {
            continue;
        };
        // One pass over the entries the read would deliver: count them, and count the
        // ones this consumer does not own yet until the refusal is certain.
        let limit = limit_of(a.count);
        let room = PEL_LIMIT_PER_CONSUMER.saturating_sub(pel);
        let mut delivered = 0u64;
        let mut adds = 0u64;
        let mut top = last;
        let mut failed = None;
        s.entries().visit(t, start, Id::MAX, &mut |id, _| {
            delivered += 1;
            top = id;
            if adds <= room {
                match s.nack(t, gname, id) {
                    Ok(n) => {
                        if !n.is_some_and(|n| n.consumer.as_slice() == cname) {
                            adds += 1;
                        }
                    }
                    Err(e) => {
                        failed = Some(e);
                        return false;
                    }
                }
            }
            delivered < limit
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        if adds > room {
            let requested = if a.count > 0 { a.count } else { delivered };
            return Err(CmdError::new(format!(
                "ERR XReadGroup is cancelled. Pending Entries List limit per consumer is about to be reached. Limit: {}, Current PEL size: {}, Requested Read: {}, Key: {}, Group: {}, Consumer: {}.",
                PEL_LIMIT_PER_CONSUMER,
                pel,
                requested,
                lossy(key),
                lossy(gname),
                lossy(cname)
            )));
        }
        sim.insert(key, (top, pel + adds));
    }
    Ok(())
}

/// The consumer's pending entries after `gt` (streamReplyWithRangeFromConsumerPEL):
/// each is redelivered (time now, count + 1); one whose entry was deleted comes back
/// as `[id, nil]`.
fn read_history(
    t: &mut Txn,
    w: &mut Work,
    cname: &[u8],
    gt: Id,
    count: u64,
) -> Result<Vec<Frame>, CmdError> {
    let mut out = Vec::new();
    let Some(start) = gt.next() else {
        return Ok(out);
    };
    let g = w.g.name.clone();
    let ids =
        w.s.cpel(&g, cname)
            .range(t, start, Id::MAX, limit_of(count))?;
    for (id, _) in ids {
        match w.s.get_entry(t, id)? {
            None => out.push(Frame::Array(vec![id_frame(id), Frame::NullArray])),
            Some(raw) => {
                out.push(entry_frame(id, &raw)?);
                let mut n =
                    w.s.nack(t, &g, id)?
                        .ok_or_else(|| corrupt("pending entry"))?;
                n.time = t.now_ms;
                n.count = n.count.wrapping_add(1);
                w.s.put_nack(t, &g, id, &n);
            }
        }
    }
    Ok(out)
}

/// `>`: entries after the group's last delivered ID. None when there are none (the
/// stream is then left out of the reply).
fn read_new(
    t: &mut Txn,
    w: &mut Work,
    cname: &[u8],
    count: u64,
    noack: bool,
) -> Result<Option<Vec<Frame>>, CmdError> {
    let Some(start) = w.g.last.next() else {
        return Ok(None);
    };
    let items = w.s.entries().range(t, start, Id::MAX, limit_of(count))?;
    if items.is_empty() {
        return Ok(None);
    }
    let now = t.now_ms;
    let g = w.g.name.clone();
    let mut out = Vec::with_capacity(items.len());
    for (id, raw) in &items {
        w.g.entries_read = entries_read_after(&w.s, &w.g, *id);
        w.g.last = *id;
        out.push(entry_frame(*id, raw)?);
        if !noack {
            let old = w.s.nack(t, &g, *id)?;
            w.assign(t, *id, old.as_ref(), cname, now, 1)?;
            w.owner(t, cname)?.active = now as i64;
        }
    }
    Ok(Some(out))
}

// ---- XACK / XPENDING ------------------------------------------------------------------------

/// XACK key group id [id ...]
pub(super) fn xack(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(mut w) = Work::open(t, &argv[1], &argv[2])? else {
        return int(0);
    };
    let ids = argv[3..]
        .iter()
        .map(|a| id::parse_strict(a))
        .collect::<Result<Vec<_>, _>>()?;
    let g = w.g.name.clone();
    let mut acked = 0;
    for id in ids {
        if let Some(n) = w.s.nack(t, &g, id)? {
            w.release(t, id, &n)?;
            acked += 1;
        }
    }
    if acked > 0 {
        w.finish(t)?;
    }
    // XACK raises no keyspace event (Redis 7.0).
    t.events_reported();
    int(acked)
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub(super) fn xpending(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let argc = argv.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CmdError::syntax());
    }
    // (min idle, start, end, count, consumer)
    let mut ext = None;
    if argc >= 6 {
        let mut at = 3;
        let mut minidle = 0i64;
        if args::is(&argv[3], "idle") {
            minidle = parse_i64(&argv[4])?;
            if argc < 8 {
                return Err(CmdError::syntax());
            }
            at += 2;
        }
        let count = parse_i64(&argv[at + 2])?.max(0) as u64;
        let start = id::parse_range_start(&argv[at])?;
        let end = id::parse_range_end(&argv[at + 1])?;
        ext = Some((minidle, start, end, count, argv.get(at + 3)));
    }
    let (key, gname) = (&argv[1], &argv[2]);
    let Some(s) = Stream::open(t, key)? else {
        return Err(nogroup(key, gname));
    };
    let Some(g) = s.group(t, gname)? else {
        return Err(nogroup(key, gname));
    };
    let Some((minidle, start, end, count, consumer)) = ext else {
        if g.pel == 0 {
            return Ok(Frame::Array(vec![
                Frame::Integer(0),
                Frame::Null,
                Frame::Null,
                Frame::NullArray,
            ]));
        }
        let pel = s.pel(gname);
        let first = pel.range(t, Id::MIN, Id::MAX, 1)?;
        let last = pel.tail(t, Id::MIN, Id::MAX, 1)?;
        let (Some(first), Some(last)) = (first.first(), last.last()) else {
            return Err(corrupt("group"));
        };
        let owners = s
            .consumers(t, gname)?
            .into_iter()
            .filter(|c| c.pel > 0)
            .map(|c| {
                Frame::Array(vec![
                    Frame::Bulk(c.name),
                    Frame::Bulk(c.pel.to_string().into_bytes()),
                ])
            })
            .collect();
        return Ok(Frame::Array(vec![
            Frame::Integer(g.pel as i64),
            id_frame(first.0),
            id_frame(last.0),
            Frame::Array(owners),
        ]));
    };
    let now = t.now_ms;
    let mut out = Vec::new();
    let mut left = count;
    let mut row = |id: Id, n: &Nack| -> bool {
        if left == 0 {
            return false;
        }
        if minidle != 0 && idle(now, n.time) < minidle {
            return true;
        }
        left -= 1;
        out.push(Frame::Array(vec![
            id_frame(id),
            Frame::Bulk(n.consumer.clone()),
            Frame::Integer(idle(now, n.time).max(0)),
            Frame::Integer(n.count as i64),
        ]));
        left > 0
    };
    let mut bad: Option<CmdError> = None;
    match consumer {
        Some(c) => {
            if s.consumer(t, gname, c)?.is_none() || count == 0 {
                return Ok(Frame::Array(Vec::new()));
            }
            s.cpel(gname, c)
                .visit(t, start, end, &mut |id, _| match s.nack(t, gname, id) {
                    Ok(Some(n)) => row(id, &n),
                    Ok(None) => {
                        bad = Some(corrupt("pending entry"));
                        false
                    }
                    Err(e) => {
                        bad = Some(e);
                        false
                    }
                })?;
        }
        None => {
            if count > 0 {
                s.pel(gname)
                    .visit(t, start, end, &mut |id, raw| match decode_nack(raw) {
                        Ok(n) => row(id, &n),
                        Err(e) => {
                            bad = Some(e);
                            false
                        }
                    })?;
            }
        }
    }
    match bad {
        Some(e) => Err(e),
        None => Ok(Frame::Array(out)),
    }
}

// ---- XCLAIM / XAUTOCLAIM ------------------------------------------------------------------

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-ms]
/// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
pub(super) fn xclaim(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let (key, gname, cname) = (&argv[1], &argv[2], &argv[3]);
    let Some(mut w) = Work::open(t, key, gname)? else {
        return Err(nogroup(key, gname));
    };
    let minidle = parse_i64_or(&argv[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < argv.len() {
        match id::parse_strict(&argv[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = t.now_ms as i64;
    let mut delivery: i64 = -1;
    let mut retry: i64 = -1;
    let mut force = false;
    let mut justid = false;
    let mut last_id = Id::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = &argv[j];
        if args::is(opt, "force") {
            force = true;
        } else if args::is(opt, "justid") {
            justid = true;
        } else if args::is(opt, "idle") && more > 0 {
            j += 1;
            let v = parse_i64_or(&argv[j], "ERR Invalid IDLE option argument for XCLAIM")?;
            delivery = now.saturating_sub(v);
        } else if args::is(opt, "time") && more > 0 {
            j += 1;
            delivery = parse_i64_or(&argv[j], "ERR Invalid TIME option argument for XCLAIM")?;
        } else if args::is(opt, "retrycount") && more > 0 {
            j += 1;
            retry = parse_i64_or(
                &argv[j],
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?;
        } else if args::is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = id::parse_strict(&argv[j])?;
        } else {
            return Err(CmdError::new(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                lossy(opt)
            )));
        }
        j += 1;
    }
    if last_id > w.g.last {
        w.g.last = last_id;
    }
    // A bogus time (negative, in the future) becomes now, as in Redis.
    if delivery < 0 || delivery > now {
        delivery = now;
    }
    w.touch(t, key, cname)?;
    let g = w.g.name.clone();
    let mut out = Vec::new();
    for id in ids {
        let nack = w.s.nack(t, &g, id)?;
        let Some(raw) = w.s.get_entry(t, id)? else {
            // The entry is gone: its pending entry goes too.
            if let Some(n) = nack {
                w.release(t, id, &n)?;
            }
            continue;
        };
        let count = match &nack {
            Some(n) => {
                if minidle > 0 && idle(now as u64, n.time) < minidle {
                    continue;
                }
                n.count
            }
            // FORCE creates the pending entry (delivered once so far).
            None if force => 1,
            None => continue,
        };
        let count = if retry >= 0 {
            retry as u64
        } else if !justid {
            count.wrapping_add(1)
        } else {
            count
        };
        w.assign(t, id, nack.as_ref(), cname, delivery as u64, count)?;
        out.push(if justid {
            id_frame(id)
        } else {
            entry_frame(id, &raw)?
        });
        w.owner(t, cname)?.active = now;
    }
    w.finish(t)?;
    // XCLAIM raises no event of its own (a created consumer raised its own).
    t.events_reported();
    Ok(Frame::Array(out))
}

/// Records read per batch while XAUTOCLAIM walks the PEL.
const AUTOCLAIM_BATCH: u64 = 256;

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub(super) fn xautoclaim(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let (key, gname, cname) = (&argv[1], &argv[2], &argv[3]);
    let minidle = parse_i64_or(
        &argv[4],
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0);
    let start = id::parse_range_start(&argv[5])?;
    let mut count: u64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if args::is(&argv[j], "count") && more > 0 {
            // Redis caps COUNT at LONG_MAX / max(sizeof(streamID), attempts factor).
            count = args::parse_i64_opt(&argv[j + 1])
                .filter(|c| (1..=i64::MAX / 16).contains(c))
                .ok_or_else(|| CmdError::new("ERR COUNT must be > 0"))? as u64;
            j += 1;
        } else if args::is(&argv[j], "justid") {
            justid = true;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    let Some(mut w) = Work::open(t, key, gname)? else {
        return Err(nogroup(key, gname));
    };
    w.touch(t, key, cname)?;
    let now = t.now_ms;
    let g = w.g.name.clone();
    let mut attempts = count * 10;
    let mut left = count;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut next = Id::MIN;
    let mut from = start;
    'walk: loop {
        let batch = w.s.pel(&g).range(t, from, Id::MAX, AUTOCLAIM_BATCH)?;
        let Some(&(batch_end, _)) = batch.last() else {
            break;
        };
        for (id, raw) in batch {
            if attempts == 0 || left == 0 {
                next = id;
                break 'walk;
            }
            attempts -= 1;
            let n = decode_nack(&raw)?;
            let Some(entry) = w.s.get_entry(t, id)? else {
                w.release(t, id, &n)?;
                deleted.push(id_frame(id));
                left -= 1;
                continue;
            };
            if minidle > 0 && idle(now, n.time) < minidle {
                continue;
            }
            let c = if justid {
                n.count
            } else {
                n.count.wrapping_add(1)
            };
            w.assign(t, id, Some(&n), cname, now, c)?;
            claimed.push(if justid {
                id_frame(id)
            } else {
                entry_frame(id, &entry)?
            });
            left -= 1;
            w.owner(t, cname)?.active = now as i64;
        }
        match batch_end.next() {
            Some(n) => from = n,
            None => break,
        }
    }
    w.finish(t)?;
    t.events_reported();
    Ok(Frame::Array(vec![
        id_frame(next),
        Frame::Array(claimed),
        Frame::Array(deleted),
    ]))
}
