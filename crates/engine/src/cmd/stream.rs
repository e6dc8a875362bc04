//! Stream commands (t_stream.c) with Redis 7.2 semantics, plus XREAD's `+` ID (7.4).
//!
//! # Layout
//!
//! A stream's records are `types::stream`'s (their bytes `keys::stream`'s): the meta
//! record carries the stream header (last-generated-id, recorded-first-entry-id,
//! max-deleted-entry-id, entries-added, number of groups) and `len` = number of
//! entries; each entry, group, consumer, pending entry and consumer PEL index entry is
//! one `data` record under the key's version prefix, so DEL or an overwrite of a
//! stream of any size writes O(1) records.
//!
//! Writes per command: XADD 2 records (entry + meta); XREADGROUP of n entries 2n + 3
//! (PEL record and index entry per entry, consumer, group, meta); XACK of n, 2n + 3;
//! XDEL of n, n + 1; trimming n entries, n + 1 up to 64 and then one range delete;
//! XGROUP DESTROY one record and one range delete; DELCONSUMER O(its PEL).
//! Every write to a stream's records also rewrites its meta record, so `write_index`
//! and `mtime_ms` always describe the last change (Redis does not invalidate WATCH on
//! XREADGROUP/XACK/XCLAIM; here those bump `write_index` like any write).
//!
//! # Determinism
//!
//! `*` IDs come from `t.now_ms` (the entry's leader time) and the stream's last ID,
//! exactly as streamNextID does with the command's time snapshot, so every replica
//! generates the same IDs. Idle times, seen/active times and delivery times use
//! `t.now_ms` too. Nothing draws randomness.
//!
//! # Approximate trimming (`~`)
//!
//! Redis trims whole radix-tree nodes only. Entries here are stored one per record, so
//! each stream also keeps one record per node Redis would have built (`nodes.rs`,
//! Redis's default limits of 100 entries / 4096 bytes per node), and `~` trims remove
//! whole emulated nodes as streamTrim does; LIMIT (default 100 · 100, 0 = none) caps
//! the entries removed. Exact trims remove whole nodes and then mark entries of the
//! first remaining node. XINFO's radix-tree-keys/-nodes count these nodes and the
//! radix tree over their IDs. Streams written before node records existed keep the
//! older rule (`legacy_trim`) until emptied.
//!
//! # Consumer groups: lag and entries-read
//!
//! entries-read tracking, the lag and its "unknown" (nil) cases follow Redis 7.2's
//! streamRangeHasTombstones / streamEstimateDistanceFromFirstEverEntry exactly (Redis 8
//! later changed some edge cases).
//!
//! # Pending-entries limit (Upstash)
//!
//! Upstash caps each consumer's pending entries list: XREADGROUP refuses, before it
//! changes anything, a read that would grow a consumer's PEL past
//! [`PEL_LIMIT_PER_CONSUMER`] (1000, the "Limit" of Upstash's documented error):
//!
//! `ERR XReadGroup is cancelled. Pending Entries List limit per consumer is about to be
//! reached. Limit: 1000, Current PEL size: 990, Requested Read: 20, Key: k, Group: g,
//! Consumer: c.`
//!
//! The check is made per stream of the command, on the entries that `>` would newly
//! add to this consumer's PEL (entries it already owns do not count; NOACK reads and
//! history reads add nothing and are never refused). "Requested Read" is the COUNT
//! when given, else the number of entries the read would deliver. XCLAIM/XAUTOCLAIM
//! are not limited (Upstash documents the limit for XREADGROUP only). (Upstash's doc
//! example shows 90 + 20 refused against 1000; that cannot follow from any reading of
//! "would exceed 1000", so here a read is refused only when the sum exceeds the limit.)
//!
//! # Blocking reads
//!
//! XREAD and XREADGROUP parse and validate BLOCK but always execute the non-blocking
//! read: when nothing can be served the reply is a null array, with or without BLOCK
//! (as Redis's reply on timeout). The server does the waiting: see
//! [`resolve_block_ids`] for the contract.
//!
//! # Not produced
//!
//! RESP3's map shape of XREAD/XREADGROUP replies (the engine does not know the
//! protocol; the RESP2 array of [key, entries] pairs is returned). Redis's
//! "Elements are too large to be stored" never applies (no listpack limits).

mod group;
mod id;
mod info;
mod nodes;

use super::spec;
use crate::args::{self, parse_i64};
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec, KeySpec};
use crate::txn::Txn;
use crate::types::stream::{self as records, Group, Stream};
use crate::Frame;
use id::Id;

/// Most pending entries one consumer of a group may hold (Upstash's limit).
pub const PEL_LIMIT_PER_CONSUMER: u64 = 1000;

/// Entries per virtual node for `~` trimming (Redis's stream-node-max-entries).
pub const NODE_ENTRIES: u64 = 100;

/// Default LIMIT of `~` trimming: 100 nodes, as Redis.
const DEFAULT_APPROX_LIMIT: u64 = 100 * NODE_ENTRIES;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let s: &'static [&'static str] = &["stream"];
    let g = "stream";
    let k = keys(1, 1, 1);
    let k2 = keys(2, 2, 1);
    let xread_keys = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        find: Some(xread_key_positions),
    };
    let xreadgroup_keys = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        find: Some(xreadgroup_key_positions),
    };
    vec![
        spec("xack", -4, WRITE | FAST, k, s, g, "5.0.0", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", E(group::xack)),
        spec("xadd", -5, WRITE | DENYOOM | FAST, k, s, g, "5.0.0", "Appends a new message to a stream. Creates the key if it doesn't exist.", E(xadd)),
        spec("xautoclaim", -6, WRITE | FAST, k, s, g, "6.2.0", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", E(group::xautoclaim)),
        spec("xclaim", -6, WRITE | FAST, k, s, g, "5.0.0", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", E(group::xclaim)),
        spec("xdel", -3, WRITE | FAST, k, s, g, "5.0.0", "Returns the number of messages after removing them from a stream.", E(xdel)),
        spec("xgroup", -2, WRITE | DENYOOM, k2, s, g, "5.0.0", "A container for consumer groups commands.", E(group::xgroup)),
        spec("xinfo", -2, READONLY, k2, s, g, "5.0.0", "A container for stream introspection commands.", E(info::xinfo)),
        spec("xlen", 2, READONLY | FAST, k, s, g, "5.0.0", "Return the number of messages in a stream.", E(xlen)),
        spec("xpending", -3, READONLY, k, s, g, "5.0.0", "Returns the information and entries from a stream consumer group's pending entries list.", E(group::xpending)),
        spec("xrange", -4, READONLY, k, s, g, "5.0.0", "Returns the messages from a stream within a range of IDs.", E(xrange)),
        spec("xread", -4, READONLY | BLOCKING | MOVABLE_KEYS, xread_keys, s, g, "5.0.0", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", E(xread)).blocks(crate::table::Block::BlockOption { options_from: 1 }),
        spec("xreadgroup", -7, WRITE | BLOCKING | MOVABLE_KEYS, xreadgroup_keys, s, g, "5.0.0", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", E(group::xreadgroup)).blocks(crate::table::Block::BlockOption { options_from: 4 }),
        spec("xrevrange", -4, READONLY, k, s, g, "5.0.0", "Returns the messages from a stream within a range of IDs in reverse order.", E(xrevrange)),
        spec("xsetid", -3, WRITE | DENYOOM | FAST, k, s, g, "5.0.0", "An internal command for replicating stream values.", E(xsetid)),
        spec("xtrim", -4, WRITE, k, s, g, "5.0.0", "Deletes messages from the beginning of a stream.", E(xtrim)),
    ]
}

/// Keys of XREAD/XREADGROUP: Redis's key spec (keyword STREAMS searched from
/// `from`, then the first half of the remaining arguments).
fn keyword_key_positions(argv: &[Vec<u8>], from: usize) -> Vec<usize> {
    let Some(at) = (from..argv.len()).find(|&i| args::is(&argv[i], "streams")) else {
        return Vec::new();
    };
    let first = at + 1;
    let n = argv.len().saturating_sub(first) / 2;
    (first..first + n).collect()
}

fn xread_key_positions(argv: &[Vec<u8>]) -> Vec<usize> {
    keyword_key_positions(argv, 1)
}

fn xreadgroup_key_positions(argv: &[Vec<u8>]) -> Vec<usize> {
    keyword_key_positions(argv, 4)
}

// ---- shared helpers -------------------------------------------------------------------

fn int(n: i64) -> CmdResult {
    Ok(Frame::Integer(n))
}

fn id_frame(id: Id) -> Frame {
    Frame::Bulk(id.text())
}

/// `[id, [field, value, ...]]` from a stored entry.
fn entry_frame(id: Id, raw: &[u8]) -> Result<Frame, CmdError> {
    let items = records::decode_fields(raw)?;
    Ok(Frame::Array(vec![
        id_frame(id),
        Frame::Array(items.into_iter().map(Frame::Bulk).collect()),
    ]))
}

fn entries_frame(items: &[(Id, Vec<u8>)]) -> CmdResult {
    let mut out = Vec::with_capacity(items.len());
    for (id, raw) in items {
        out.push(entry_frame(*id, raw)?);
    }
    Ok(Frame::Array(out))
}

/// A COUNT where 0 means "no limit".
fn limit_of(count: u64) -> u64 {
    if count == 0 {
        u64::MAX
    } else {
        count
    }
}

/// Redis's `-ERR unknown subcommand or wrong number of arguments ...` of container
/// commands (addReplySubcommandSyntaxError).
fn subcommand_syntax(argv: &[Vec<u8>]) -> CmdError {
    let sub = &argv[1][..argv[1].len().min(128)];
    CmdError::new(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        String::from_utf8_lossy(&argv[0]).to_ascii_uppercase()
    ))
}

/// addReplyHelp.
fn help_reply(argv: &[Vec<u8>], lines: &[&str]) -> CmdResult {
    let mut out = vec![Frame::Simple(format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        String::from_utf8_lossy(&argv[0]).to_ascii_uppercase()
    ))];
    out.extend(lines.iter().map(|l| Frame::Simple((*l).to_string())));
    out.push(Frame::Simple("HELP".into()));
    out.push(Frame::Simple("    Print this help.".into()));
    Ok(Frame::Array(out))
}

/// Checks a container command's subcommand and its arity (Redis 7 does this before
/// the command runs). Returns the lower-case subcommand.
fn subcommand(argv: &[Vec<u8>], table: &[(&str, i32)]) -> Result<String, CmdError> {
    let cmd = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    let Some(&(_, arity)) = table.iter().find(|(n, _)| *n == sub) else {
        return Err(CmdError::unknown_subcommand(&argv[1], &cmd));
    };
    let n = argv.len() as i32;
    let ok = if arity >= 0 { n == arity } else { n >= -arity };
    if !ok {
        return Err(CmdError::wrong_arity(&format!("{cmd}|{sub}")));
    }
    Ok(sub)
}

// ---- entries-read and lag (Redis 7.2) ---------------------------------------------------

/// SCG_INVALID_ENTRIES_READ.
const INVALID_READ: i64 = -1;

/// streamRangeHasTombstones(s, start, NULL).
fn has_tombstones_from(s: &Stream, start: Id) -> bool {
    let h = &s.h;
    if s.len() == 0 || h.max_deleted.is_zero() {
        return false;
    }
    if h.first > h.max_deleted {
        return false;
    }
    start <= h.max_deleted
}

/// streamEstimateDistanceFromFirstEverEntry.
fn estimate_distance(s: &Stream, id: Id) -> i64 {
    let h = &s.h;
    let added = h.entries_added as i64;
    if h.entries_added == 0 {
        return 0;
    }
    if s.len() == 0 && id <= h.last {
        return added;
    }
    if id == h.last {
        return added;
    }
    if id > h.last {
        return INVALID_READ;
    }
    if h.max_deleted.is_zero() || h.max_deleted < h.first {
        if id < h.first {
            return added - s.len() as i64;
        }
        if id == h.first {
            return added - s.len() as i64 + 1;
        }
    }
    INVALID_READ
}

/// streamReplyWithCGLag: None when the lag cannot be known.
fn group_lag(s: &Stream, g: &Group) -> Option<i64> {
    let added = s.h.entries_added as i64;
    if s.h.entries_added == 0 {
        return Some(0);
    }
    if g.entries_read != INVALID_READ && !has_tombstones_from(s, g.last) {
        return Some(added - g.entries_read);
    }
    let read = estimate_distance(s, g.last);
    (read != INVALID_READ).then(|| added - read)
}

/// The group's entries-read after delivering entry `id` beyond its last ID.
fn entries_read_after(s: &Stream, g: &Group, id: Id) -> i64 {
    if g.entries_read != INVALID_READ && !has_tombstones_from(s, id) {
        g.entries_read + 1
    } else if s.h.entries_added != 0 {
        estimate_distance(s, id)
    } else {
        g.entries_read
    }
}

// ---- XADD / XTRIM -------------------------------------------------------------------------

enum TrimBy {
    MaxLen(u64),
    MinId(Id),
}

struct AddTrim {
    by: Option<TrimBy>,
    approx: bool,
    /// Most entries a `~` trim removes; 0 = no cap.
    limit: u64,
    nomkstream: bool,
    /// The explicit ID and whether its sequence was given (false for `ms-*`).
    id: Option<(Id, bool)>,
    /// Position of the ID argument (XADD).
    idpos: usize,
}

/// streamParseAddOrTrimArgsOrReply.
fn parse_add_trim(argv: &[Vec<u8>], xadd: bool) -> Result<AddTrim, CmdError> {
    let mut a = AddTrim {
        by: None,
        approx: false,
        limit: 0,
        nomkstream: false,
        id: None,
        idpos: 0,
    };
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i];
        if xadd && opt.as_slice() == b"*" {
            break;
        } else if (args::is(opt, "maxlen") || args::is(opt, "minid")) && more > 0 {
            if a.by.is_some() {
                return Err(CmdError::new(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            a.approx = false;
            let next = argv[i + 1].as_slice();
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if args::is(opt, "maxlen") {
                let n = parse_i64(&argv[i + 1])?;
                if n < 0 {
                    return Err(CmdError::new("ERR The MAXLEN argument must be >= 0."));
                }
                a.by = Some(TrimBy::MaxLen(n as u64));
            } else {
                a.by = Some(TrimBy::MinId(id::parse_strict(&argv[i + 1])?));
            }
            i += 1;
        } else if args::is(opt, "limit") && more > 0 {
            limit = parse_i64(&argv[i + 1])?;
            if limit < 0 {
                return Err(CmdError::new("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && args::is(opt, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            let (id, seq_given) = id::parse_generic(opt, 0, true, true)?;
            a.id = Some((id, seq_given));
            break;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    a.idpos = i;
    if limit != 0 && a.by.is_none() {
        return Err(CmdError::new(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.by.is_none() {
        return Err(CmdError::new(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !a.approx {
            return Err(CmdError::new(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        a.limit = limit as u64;
    } else if a.approx {
        a.limit = DEFAULT_APPROX_LIMIT;
    }
    Ok(a)
}

/// streamTrim: removes entries from the head; returns how many.
fn trim(t: &mut Txn, s: &mut Stream, a: &AddTrim) -> Result<u64, CmdError> {
    let Some(by) = &a.by else {
        return Ok(0);
    };
    if s.h.nodes.is_some() {
        let limit = if a.approx { a.limit } else { 0 };
        return nodes::trim(t, s, by, a.approx, limit);
    }
    legacy_trim(t, s, by, a)
}

/// Trimming of a stream written before node records were kept: `~` works in virtual
/// nodes of [`NODE_ENTRIES`] counted from the current first entry.
fn legacy_trim(t: &mut Txn, s: &mut Stream, by: &TrimBy, a: &AddTrim) -> Result<u64, CmdError> {
    // A `~` trim never removes more than its cap, so counting can stop there.
    let cap = if a.approx && a.limit > 0 {
        a.limit / NODE_ENTRIES * NODE_ENTRIES
    } else {
        u64::MAX
    };
    let want = match by {
        TrimBy::MaxLen(n) => s.len().saturating_sub(*n),
        TrimBy::MinId(min) => match min.prev() {
            None => 0,
            Some(below) => {
                let mut k = 0u64;
                s.entries().visit(t, Id::MIN, below, &mut |_, _| {
                    k += 1;
                    k < cap
                })?;
                k
            }
        },
    };
    let n = if a.approx {
        (want / NODE_ENTRIES * NODE_ENTRIES).min(cap)
    } else {
        want
    };
    if n == 0 {
        return Ok(0);
    }
    s.remove_first(t, n)?;
    Ok(n)
}

/// The ID of a new entry (streamAppendItem's rules), or the EDOM error.
fn new_entry_id(s: &Stream, given: Option<(Id, bool)>, now_ms: u64) -> Result<Id, CmdError> {
    let last = s.h.last;
    let smaller = || {
        CmdError::new(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        )
    };
    let id = match given {
        Some((id, true)) => id,
        Some((id, false)) => {
            if last.ms == id.ms {
                if last.seq == u64::MAX {
                    return Err(smaller());
                }
                Id::new(id.ms, last.seq + 1)
            } else {
                id
            }
        }
        // streamNextID; `last` is not the maximum (checked by the caller).
        None if now_ms > last.ms => Id::new(now_ms, 0),
        None => last.next().ok_or_else(smaller)?,
    };
    if id <= last {
        return Err(smaller());
    }
    Ok(id)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] <*|id> field value ...
fn xadd(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let a = parse_add_trim(argv, true)?;
    let field_pos = a.idpos + 1;
    let nfields = argv.len() as i64 - field_pos as i64;
    if nfields < 2 || nfields % 2 == 1 {
        return Err(CmdError::wrong_arity("xadd"));
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return Err(CmdError::new(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let key = &argv[1];
    let (mut s, created) = match Stream::open(t, key)? {
        Some(s) => (s, false),
        None if a.nomkstream => return Ok(Frame::Null),
        None => (Stream::create(t, key), true),
    };
    if s.h.last == Id::MAX {
        return Err(CmdError::new(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = new_entry_id(&s, a.id, t.now_ms)?;
    s.put_entry(t, id, records::encode_fields(&argv[field_pos..]));
    nodes::on_append(t, &mut s, id, &argv[field_pos..])?;
    s.h.entries_added += 1;
    s.h.last = id;
    if s.len() == 1 {
        s.h.first = id;
    }
    let trimmed = trim(t, &mut s, &a)?;
    s.save(t)?;
    if trimmed > 0 {
        // Redis's events for an XADD that trims: (new,) xadd, then xtrim.
        use crate::events::class;
        if created {
            t.notify(t.db, class::NEW, "new", key);
        }
        t.notify(t.db, class::STREAM, "xadd", key);
        t.notify(t.db, class::STREAM, "xtrim", key);
        t.events_reported();
    }
    Ok(id_frame(id))
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let a = parse_add_trim(argv, false)?;
    let Some(mut s) = Stream::open(t, &argv[1])? else {
        return int(0);
    };
    let before = s.h.clone();
    let n = trim(t, &mut s, &a)?;
    // (A trim may remove an emptied node and nothing else.)
    if n > 0 || s.h != before {
        s.save(t)?;
    }
    if n == 0 {
        // No entry removed: no xtrim event (Redis), even if an emptied node went.
        t.events_reported();
    }
    int(n as i64)
}

// ---- XDEL / XLEN / XRANGE ---------------------------------------------------------------

/// XDEL key id [id ...]
fn xdel(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let Some(mut s) = Stream::open(t, &argv[1])? else {
        return int(0);
    };
    let ids = argv[2..]
        .iter()
        .map(|a| id::parse_strict(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut deleted = 0;
    let mut first_gone = false;
    for id in ids {
        if !s.has_entry(t, id)? {
            continue;
        }
        s.delete_entry(t, id);
        nodes::on_delete(t, &mut s, id)?;
        if id == s.h.first {
            first_gone = true;
        }
        if id > s.h.max_deleted {
            s.h.max_deleted = id;
        }
        deleted += 1;
    }
    if deleted > 0 {
        if s.len() == 0 {
            s.h.first = Id::MIN;
        } else if first_gone {
            s.h.first = s.first_id_from(t, Id::MIN)?.unwrap_or(Id::MIN);
        }
        s.save(t)?;
    }
    int(deleted)
}

/// XLEN key
fn xlen(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    int(Stream::open(t, &argv[1])?.map_or(0, |s| s.len() as i64))
}

fn xrange_generic(t: &mut Txn, argv: &[Vec<u8>], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&argv[3], &argv[2])
    } else {
        (&argv[2], &argv[3])
    };
    let start = id::parse_range_start(start_arg)?;
    let end = id::parse_range_end(end_arg)?;
    let mut count: Option<u64> = None;
    let mut j = 4;
    while j < argv.len() {
        if args::is(&argv[j], "count") && j + 1 < argv.len() {
            count = Some(parse_i64(&argv[j + 1])?.max(0) as u64);
            j += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let Some(s) = Stream::open(t, &argv[1])? else {
        return Ok(Frame::Array(Vec::new()));
    };
    if count == Some(0) {
        return Ok(Frame::NullArray);
    }
    let limit = count.unwrap_or(u64::MAX);
    let fam = s.entries();
    let items = if !rev {
        fam.range(t, start, end, limit)?
    } else if limit == u64::MAX {
        let mut v = fam.range(t, start, end, limit)?;
        v.reverse();
        v
    } else {
        let mut v = fam.tail(t, start, end, limit)?;
        v.reverse();
        v
    };
    entries_frame(&items)
}

/// XRANGE key start end [COUNT count]
fn xrange(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    xrange_generic(t, argv, false)
}

/// XREVRANGE key end start [COUNT count]
fn xrevrange(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    xrange_generic(t, argv, true)
}

// ---- XREAD --------------------------------------------------------------------------------

/// Options of XREAD / XREADGROUP.
struct ReadArgs {
    /// BLOCK in milliseconds (0 = forever), if given.
    block: Option<u64>,
    /// 0 = no limit.
    count: u64,
    /// Index of the first key.
    streams: usize,
    /// Number of streams.
    n: usize,
    /// GROUP name and consumer.
    group: Option<(Vec<u8>, Vec<u8>)>,
    noack: bool,
}

/// getTimeoutFromObjectOrReply in milliseconds; returns the relative timeout.
fn parse_block(arg: &[u8], now_ms: u64) -> Result<u64, CmdError> {
    let v = args::parse_i64_opt(arg)
        .ok_or_else(|| CmdError::new("ERR timeout is not an integer or out of range"))?;
    if v < 0 {
        return Err(CmdError::new("ERR timeout is negative"));
    }
    if v > 0 && v > i64::MAX - now_ms.min(i64::MAX as u64) as i64 {
        return Err(CmdError::new("ERR timeout is out of range"));
    }
    Ok(v as u64)
}

/// The option parsing of xreadCommand.
fn parse_read(argv: &[Vec<u8>], now_ms: u64, group_cmd: bool) -> Result<ReadArgs, CmdError> {
    let mut a = ReadArgs {
        block: None,
        count: 0,
        streams: 0,
        n: 0,
        group: None,
        noack: false,
    };
    let name = if group_cmd { "xreadgroup" } else { "xread" };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = &argv[i];
        if args::is(o, "block") && more > 0 {
            i += 1;
            a.block = Some(parse_block(&argv[i], now_ms)?);
        } else if args::is(o, "count") && more > 0 {
            i += 1;
            a.count = parse_i64(&argv[i])?.max(0) as u64;
        } else if args::is(o, "streams") && more > 0 {
            a.streams = i + 1;
            let rest = argv.len() - a.streams;
            if rest % 2 != 0 {
                let symbol = if group_cmd {
                    "ID or '>'"
                } else {
                    "ID, '+', or '$'"
                };
                return Err(CmdError::new(format!(
                    "ERR Unbalanced '{name}' list of streams: for each stream key an {symbol} must be specified."
                )));
            }
            a.n = rest / 2;
            break;
        } else if args::is(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(CmdError::new(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.group = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 2;
        } else if args::is(o, "noack") {
            if !group_cmd {
                return Err(CmdError::new(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.noack = true;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }
    if a.streams == 0 {
        return Err(CmdError::syntax());
    }
    if group_cmd && a.group.is_none() {
        return Err(CmdError::new("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(a)
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
fn xread(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let a = parse_read(argv, t.now_ms, false)?;
    let mut after = Vec::with_capacity(a.n);
    for i in 0..a.n {
        let s = Stream::open(t, &argv[a.streams + i])?;
        let arg = argv[a.streams + a.n + i].as_slice();
        let id = match arg {
            b"$" => s.map_or(Id::MIN, |s| s.h.last),
            b"+" => match s {
                Some(s) => s
                    .h
                    .last
                    .prev()
                    .ok_or_else(|| CmdError::new("ERR the stream last element ID is 0-0"))?,
                None => Id::MIN,
            },
            b">" => {
                return Err(CmdError::new(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ))
            }
            _ => id::parse_strict(arg)?,
        };
        after.push(id);
    }
    let mut out = Vec::new();
    for (i, gt) in after.into_iter().enumerate() {
        let key = &argv[a.streams + i];
        let Some(s) = Stream::open(t, key)? else {
            continue;
        };
        let Some(start) = gt.next() else {
            continue;
        };
        let items = s.entries().range(t, start, Id::MAX, limit_of(a.count))?;
        if items.is_empty() {
            continue;
        }
        out.push((Frame::Bulk(key.clone()), entries_frame(&items)?));
    }
    if out.is_empty() {
        Ok(Frame::NullArray)
    } else {
        Ok(Frame::KeyedArrays(out))
    }
}

// ---- XSETID -------------------------------------------------------------------------------

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
fn xsetid(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let id = id::parse_strict(&argv[2])?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = Id::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if args::is(&argv[i], "entriesadded") && more > 0 {
            let v = parse_i64(&argv[i + 1])?;
            if v < 0 {
                return Err(CmdError::new("ERR entries_added must be positive"));
            }
            entries_added = Some(v as u64);
            i += 2;
        } else if args::is(&argv[i], "maxdeletedid") && more > 0 {
            max_deleted = id::parse_strict(&argv[i + 1])?;
            if id < max_deleted {
                return Err(CmdError::new(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let Some(mut s) = Stream::open(t, &argv[1])? else {
        return Err(CmdError::no_such_key());
    };
    if id < s.h.max_deleted {
        return Err(CmdError::new(
            "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
        ));
    }
    if s.len() > 0 {
        let top = s.last_entry_id(t)?.unwrap_or(Id::MIN);
        if id < top {
            return Err(CmdError::new(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|e| s.len() > e) {
            return Err(CmdError::new(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.h.last = id;
    if let Some(e) = entries_added {
        s.h.entries_added = e;
    }
    if !max_deleted.is_zero() {
        s.h.max_deleted = max_deleted;
    }
    s.save(t)?;
    Ok(Frame::ok())
}

// ---- the server's blocking contract -----------------------------------------------------

/// The argv a blocked XREAD/XREADGROUP must run (and re-run when woken).
///
/// Contract with the server (the engine never waits):
///
/// 1. The engine runs XREAD/XREADGROUP without blocking, BLOCK or not (BLOCK is parsed
///    and validated: `ERR timeout is not an integer or out of range`, `ERR timeout is
///    negative`). When no stream has anything to serve the reply is a null array
///    (RESP2 `*-1`, RESP3 `_`), which is also the reply on timeout. Any other reply
///    (entries, or an error) is final.
/// 2. Before waiting, the server rewrites the argv with this function against a state
///    at least as new as the one the command first ran on (before the first run is
///    fine too): each `$` ID of XREAD becomes the stream's current
///    last-generated-id (0-0 for a missing key), as Redis does before blocking, so a
///    re-run returns only entries added later. Everything else is kept: `>` of
///    XREADGROUP and `+` of XREAD are evaluated again on every run, and XREADGROUP
///    argv is returned unchanged.
/// 3. The server waits for a write to one of the command's keys
///    (`CommandSpec::key_positions`; every stream write rewrites the key's meta record,
///    so it is "touched") or the timeout (BLOCK 0 = none), then re-runs the rewritten
///    argv: XREAD on the read path, XREADGROUP through the log (it is a write: it
///    creates the consumer and updates its seen-time even when it finds nothing). A
///    null array means wait again with the remaining time; anything else is the reply
///    (e.g. NOGROUP once the key or the group was deleted meanwhile, as Redis unblocks
///    such clients with that error).
///
/// Nothing fails here: a key of another type, a storage error or an argv that does
/// not parse leaves the argv as it is, and the run reports the error.
pub fn resolve_block_ids(t: &Txn, argv: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = argv.to_vec();
    if argv.is_empty() || !args::is(&argv[0], "xread") {
        return out;
    }
    let Ok(a) = parse_read(argv, t.now_ms, false) else {
        return out;
    };
    for i in 0..a.n {
        let at = a.streams + a.n + i;
        if argv[at].as_slice() != b"$" {
            continue;
        }
        let key = &argv[a.streams + i];
        let last = match Stream::open(t, key) {
            Ok(s) => s.map_or(Id::MIN, |s| s.h.last),
            Err(_) => continue, // another type or a storage error: the run reports it
        };
        out[at] = last.text();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    fn argv(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn run(store: &mut MemStore, index: u64, now: u64, v: &[&str]) -> Frame {
        let mut t = Txn::new(store, index, now, 1);
        let f = t.run(0, &argv(v));
        let e = t.into_effects();
        store.apply(&e);
        f
    }

    #[test]
    fn dollar_is_resolved_to_the_last_id_before_blocking() {
        let mut st = MemStore::default();
        run(&mut st, 1, 1000, &["XADD", "s", "5-1", "f", "v"]);
        run(&mut st, 2, 1000, &["SET", "str", "x"]);
        let cmd = argv(&[
            "XREAD", "BLOCK", "0", "STREAMS", "s", "missing", "str", "t", "$", "$", "$", "+",
        ]);
        let t = Txn::read_only(&st, 2000, 0);
        let got = resolve_block_ids(&t, &cmd);
        assert_eq!(
            got,
            argv(&[
                "XREAD", "BLOCK", "0", "STREAMS", "s", "missing", "str", "t", "5-1", "0-0", "$",
                "+"
            ])
        );
        // XREADGROUP and unparsable commands are returned as they are.
        let g = argv(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "5",
            "STREAMS",
            "s",
            ">",
        ]);
        assert_eq!(resolve_block_ids(&t, &g), g);
        let bad = argv(&["XREAD", "STREAMS", "s"]);
        assert_eq!(resolve_block_ids(&t, &bad), bad);
        // The rewritten command re-run after a new entry returns just that entry.
        let single = resolve_block_ids(&t, &argv(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]));
        assert_eq!(
            single,
            argv(&["XREAD", "BLOCK", "0", "STREAMS", "s", "5-1"])
        );
        drop(t);
        run(&mut st, 3, 3000, &["XADD", "s", "6-0", "g", "w"]);
        let mut t = Txn::read_only(&st, 3000, 0);
        let f = t.run(0, &single);
        assert_eq!(
            f,
            Frame::KeyedArrays(vec![(
                Frame::Bulk(b"s".to_vec()),
                Frame::Array(vec![Frame::Array(vec![
                    Frame::Bulk(b"6-0".to_vec()),
                    Frame::Array(vec![Frame::Bulk(b"g".to_vec()), Frame::Bulk(b"w".to_vec())]),
                ])]),
            )])
        );
    }

    #[test]
    fn key_positions_follow_streams() {
        let spec = crate::table::lookup(b"xread").unwrap();
        assert_eq!(
            spec.key_positions(&argv(&[
                "XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"
            ])),
            vec![4, 5]
        );
        let spec = crate::table::lookup(b"xreadgroup").unwrap();
        assert_eq!(
            spec.key_positions(&argv(&[
                "XREADGROUP",
                "GROUP",
                "streams",
                "c",
                "STREAMS",
                "a",
                ">"
            ])),
            vec![5]
        );
    }
}
