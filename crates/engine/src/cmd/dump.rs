//! DUMP and RESTORE: a key's value in Redis's serialization (the RDB value encoding,
//! RDB version 10 and a CRC-64; the codec is `keys::rdb`), so values move between
//! Meridian and redis-server 7.0 in both directions.
//!
//! DUMP is a read: it walks the key's records (through the record layer, on the read
//! path's snapshot) into a [`Value`] and encodes it as redis-server 7.0 would with its
//! default thresholds (strings with integer encodings, lists as quicklist-2 listpack
//! nodes, sets as intsets or plain sets, hashes and sorted sets as listpacks when
//! small, streams as stream-listpacks-2 with their groups, PELs and consumers; no LZF
//! compression). JSON documents dump as RedisJSON's module payload.
//!
//! RESTORE is a write: the payload travels in the log entry and is decoded in the
//! apply. Decoding is a pure function of the payload bytes, so every replica builds
//! the same records; a bad payload is refused the same way everywhere.

use super::spec;
use crate::args::{self, parse_i64};
use crate::error::{CmdError, CmdResult};
use crate::events::class;
use crate::table::{flags::*, keys, CommandSpec, Exec};
use crate::txn::Txn;
use crate::types::list::{list_read, store_list};
use crate::types::stream::{
    decode_fields, decode_nack, encode_fields, Consumer, Group, Id, Nack, Node, NodeTally, Stream,
};
use crate::types::{hash, json, set, zset};
use crate::Frame;
use keys::rdb::{self, StreamConsumer, StreamEntry, StreamGroup, StreamNode, Value};
use keys::Kind;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let g = "generic";
    vec![
        spec(
            "dump",
            2,
            READONLY,
            keys(1, 1, 1),
            &["keyspace", "read", "slow"],
            g,
            "2.6.0",
            "Returns a serialized representation of the value stored at a key.",
            E(dump),
        )
        .reads_many_records(),
        spec(
            "restore",
            -4,
            WRITE | DENYOOM,
            keys(1, 1, 1),
            &["keyspace", "write", "slow", "dangerous"],
            g,
            "2.6.0",
            "Creates a key from the serialized representation of a value.",
            E(restore),
        ),
    ]
}

/// Decoded bytes a RESTORE may build (on top of the payload; with a fixed cost per
/// element): twice the 100 MB a single entry may hold, so a hostile payload (an LZF
/// string that expands, millions of tiny elements) cannot make the apply allocate more.
const DECODE_BUDGET: u64 = 200 << 20;

/// Entries per emulated node of a stream written before node records were kept.
const LEGACY_NODE_ENTRIES: usize = 100;

// ---- DUMP -----------------------------------------------------------------------------

fn dump(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let Some(meta) = t.get_meta(key)? else {
        return Ok(Frame::Null);
    };
    let value = match meta.kind {
        Kind::String => Value::String(meta.inline),
        Kind::List => Value::List(list_read(t, key, 0, u64::MAX)?),
        Kind::Set => Value::Set(set::members(t, key, &meta)?),
        // Field TTLs (Redis 7.4) have no place in Redis 7.0's encoding: live fields only.
        Kind::Hash => Value::Hash(hash::live_fields(t, key, &meta)?),
        Kind::ZSet => Value::ZSet(zset::Span::index(t, key, &meta).forward(t, 0, u64::MAX)?),
        Kind::Stream => Value::Stream(read_stream(t, key)?),
        Kind::Json => {
            let Some((_, doc)) = json::open(t, key)? else {
                return Ok(Frame::Null);
            };
            Value::Json(serde_json::to_vec(&doc).map_err(|e| CmdError::storage(e))?)
        }
    };
    Ok(Frame::Bulk(rdb::encode(&value)))
}

fn read_stream(t: &Txn, key: &[u8]) -> Result<rdb::Stream, CmdError> {
    let s = Stream::open(t, key)?.ok_or_else(|| CmdError::storage("stream vanished"))?;
    let mut entries: Vec<StreamEntry> = Vec::new();
    let mut bad = None;
    s.entries().visit(
        t,
        Id::MIN,
        Id::MAX,
        &mut |id, raw| match decode_fields(raw) {
            Ok(items) => {
                entries.push(StreamEntry {
                    id,
                    deleted: false,
                    items,
                });
                true
            }
            Err(e) => {
                bad = Some(e);
                false
            }
        },
    )?;
    if let Some(e) = bad {
        return Err(e);
    }
    // Node boundaries: the node records when the stream keeps them, else runs of 100.
    let mut starts: Vec<(Id, Vec<Vec<u8>>)> = Vec::new();
    if s.h.nodes.is_some() {
        let mut bad = None;
        s.nodes().visit(t, Id::MIN, Id::MAX, &mut |id, raw| {
            match crate::types::stream::decode_node(raw) {
                Ok(n) => starts.push((id, n.fields)),
                Err(e) => bad = Some(e),
            }
            bad.is_none()
        })?;
        if let Some(e) = bad {
            return Err(e);
        }
    } else {
        for chunk in entries.chunks(LEGACY_NODE_ENTRIES) {
            let fields = chunk[0].items.iter().step_by(2).cloned().collect();
            starts.push((chunk[0].id, fields));
        }
    }
    let mut nodes: Vec<StreamNode> = Vec::new();
    let mut it = entries.into_iter().peekable();
    for (i, (master, fields)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map(|(id, _)| *id);
        let mut node = StreamNode {
            master: *master,
            fields: fields.clone(),
            entries: Vec::new(),
            bytes: 0,
        };
        while let Some(e) = it.peek() {
            if end.is_some_and(|end| e.id >= end) {
                break;
            }
            if let Some(e) = it.next() {
                node.entries.push(e);
            }
        }
        // An entry before the first node (never written so) would be lost: refuse.
        if i == 0 && node.entries.first().is_some_and(|e| e.id < *master) {
            return Err(crate::types::stream::corrupt("node"));
        }
        nodes.push(node);
    }
    if it.next().is_some() {
        return Err(crate::types::stream::corrupt("node"));
    }
    let mut groups = Vec::new();
    for g in s.groups(t)? {
        let mut pel = Vec::new();
        let mut bad = None;
        s.pel(&g.name).visit(t, Id::MIN, Id::MAX, &mut |id, raw| {
            match decode_nack(raw) {
                Ok(n) => pel.push((id, n.time, n.count)),
                Err(e) => bad = Some(e),
            }
            bad.is_none()
        })?;
        if let Some(e) = bad {
            return Err(e);
        }
        let mut consumers = Vec::new();
        for c in s.consumers(t, &g.name)? {
            let mut ids = Vec::new();
            s.cpel(&g.name, &c.name)
                .visit(t, Id::MIN, Id::MAX, &mut |id, _| {
                    ids.push(id);
                    true
                })?;
            consumers.push(StreamConsumer {
                name: c.name,
                seen: c.seen,
                pel: ids,
            });
        }
        groups.push(StreamGroup {
            name: g.name,
            last: g.last,
            entries_read: g.entries_read,
            pel,
            consumers,
        });
    }
    Ok(rdb::Stream {
        nodes,
        length: s.meta.len,
        last: s.h.last,
        first: s.h.first,
        max_deleted: s.h.max_deleted,
        entries_added: s.h.entries_added,
        groups,
    })
}

// ---- RESTORE --------------------------------------------------------------------------

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ
/// frequency], checked in Redis's order: options, BUSYKEY, the TTL, the payload's
/// version and checksum, then its contents.
fn restore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let mut replace = false;
    let mut absttl = false;
    let mut idle: Option<i64> = None;
    let mut freq: Option<i64> = None;
    let mut j = 4;
    while j < argv.len() {
        let additional = argv.len() - j - 1;
        if args::is(&argv[j], "replace") {
            replace = true;
        } else if args::is(&argv[j], "absttl") {
            absttl = true;
        } else if args::is(&argv[j], "idletime") && additional >= 1 && freq.is_none() {
            let v = parse_i64(&argv[j + 1])?;
            if v < 0 {
                return Err(CmdError::new("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if args::is(&argv[j], "freq") && additional >= 1 && idle.is_none() {
            let v = parse_i64(&argv[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::new(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    // IDLETIME / FREQ are validated and accepted; Meridian keeps no per-key access
    // clock in the replicated state for them to set.
    let _ = (idle, freq);
    if !replace && t.exists(key)? {
        return Err(CmdError::new("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_i64(&argv[2])?;
    if ttl < 0 {
        return Err(CmdError::new("ERR Invalid TTL value, must be >= 0"));
    }
    let value = match rdb::decode(&argv[3], DECODE_BUDGET) {
        Ok(v) => v,
        Err(rdb::Error::VersionOrChecksum) => {
            return Err(CmdError::new(
                "ERR DUMP payload version or checksum are wrong",
            ))
        }
        Err(rdb::Error::BadFormat) => return Err(bad_format()),
    };
    // A JSON document must parse before anything is written.
    let json_doc = match &value {
        Value::Json(text) => {
            Some(serde_json::from_slice::<serde_json::Value>(text).map_err(|_| bad_format())?)
        }
        _ => None,
    };
    let now = i64::try_from(t.now_ms).unwrap_or(i64::MAX);
    let expire_at = match (ttl, absttl) {
        (0, _) => 0,
        (ttl, true) => ttl,
        (ttl, false) => ttl.saturating_add(now),
    };
    if expire_at != 0 && expire_at <= now {
        // Already expired: the key is not created; REPLACE still deletes the old one.
        if replace && t.delete_key(key)? {
            t.events_reported();
            t.notify(t.db, class::GENERIC, "del", key);
        }
        return Ok(Frame::ok());
    }
    write_value(t, key, value, json_doc)?;
    if expire_at != 0 {
        t.set_expire(key, expire_at as u64)?;
    }
    Ok(Frame::ok())
}

fn bad_format() -> CmdError {
    CmdError::new("ERR Bad data format")
}

/// Replaces whatever `key` holds with `value` (no TTL).
fn write_value(
    t: &mut Txn,
    key: &[u8],
    value: Value,
    json_doc: Option<serde_json::Value>,
) -> Result<(), CmdError> {
    match value {
        Value::String(s) => crate::types::string::put(t, key, s, 0)?,
        Value::List(items) => {
            store_list(t, key, items)?;
        }
        Value::Set(members) => {
            set::store(t, key, members)?;
        }
        Value::Hash(fields) => {
            let mut meta = t.new_meta(Kind::Hash, Vec::new());
            for (f, v) in &fields {
                hash::put_field(t, key, &mut meta, f, 0, v, true);
            }
            hash::save(t, key, meta)?;
        }
        Value::ZSet(entries) => {
            zset::store(t, key, &entries)?;
        }
        Value::Stream(s) => write_stream(t, key, s)?,
        Value::Json(_) => {
            let doc = json_doc.ok_or_else(bad_format)?;
            let bytes = json::encode(&doc)?;
            // A fresh key: whatever `key` held is replaced (put_meta drops it).
            json::put(t, key, None, bytes)?;
        }
    }
    Ok(())
}

/// A stream from its RDB form: entries, one node record per listpack (its live and
/// deleted counts, size and master fields, so later XADDs and trims decide as Redis
/// would on the restored stream), groups, consumers and PELs.
fn write_stream(t: &mut Txn, key: &[u8], src: rdb::Stream) -> Result<(), CmdError> {
    let mut s = Stream::create(t, key);
    let mut tally = NodeTally::default();
    for n in &src.nodes {
        let live_entries = n.entries.iter().filter(|e| !e.deleted).count();
        if live_entries == 0 {
            // Redis drops a node with its last live entry; such a node holds nothing.
            continue;
        }
        let mut live = 0u64;
        let mut dead = 0u64;
        for e in &n.entries {
            if e.deleted {
                dead += 1;
            } else {
                live += 1;
                s.put_entry(t, e.id, encode_fields(&e.items));
            }
        }
        let last = n.entries.last().map_or(n.master, |e| e.id);
        s.put_node(
            t,
            n.master,
            &Node {
                count: live,
                deleted: dead,
                bytes: n.bytes,
                last,
                fields: n.fields.clone(),
            },
        );
        tally.count += 1;
        tally.tail = n.master;
    }
    s.h.last = src.last;
    s.h.first = src.first;
    s.h.max_deleted = src.max_deleted;
    s.h.entries_added = src.entries_added;
    s.h.groups = src.groups.len() as u64;
    s.h.nodes = Some(tally);
    for g in &src.groups {
        // Every PEL entry has exactly one consumer (the codec checked it).
        let mut owner: Vec<(Id, &[u8])> = Vec::new();
        for c in &g.consumers {
            for id in &c.pel {
                owner.push((*id, &c.name));
            }
        }
        owner.sort_by_key(|o| o.0);
        for (id, time, count) in &g.pel {
            let Ok(i) = owner.binary_search_by_key(id, |o| o.0) else {
                return Err(bad_format());
            };
            let nack = Nack {
                time: *time,
                count: *count,
                consumer: owner[i].1.to_vec(),
            };
            s.put_nack(t, &g.name, *id, &nack);
        }
        for c in &g.consumers {
            for id in &c.pel {
                s.cpel_add(t, &g.name, &c.name, *id);
            }
            s.put_consumer(
                t,
                &g.name,
                &Consumer {
                    name: c.name.clone(),
                    seen: c.seen,
                    // Redis 7.0 keeps no active-time; Redis 7.2 loads it as seen-time.
                    active: i64::try_from(c.seen).unwrap_or(i64::MAX),
                    pel: c.pel.len() as u64,
                },
            );
        }
        s.put_group(
            t,
            &Group {
                name: g.name.clone(),
                last: g.last,
                entries_read: g.entries_read,
                pel: g.pel.len() as u64,
                consumers: g.consumers.len() as u64,
            },
        );
    }
    if s.len() != src.length {
        return Err(bad_format());
    }
    s.save(t)
}
