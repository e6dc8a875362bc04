//! XINFO STREAM [FULL [COUNT n]] | GROUPS | CONSUMERS | HELP.

use super::id::Id;
use super::{
    entry_frame, group_lag, help_reply, id_frame, limit_of, subcommand, subcommand_syntax,
    INVALID_READ, NODE_ENTRIES,
};
use crate::args::{self, parse_i64};
use crate::error::{CmdError, CmdResult};
use crate::txn::Txn;
use crate::types::stream::{corrupt, decode_nack, Stream};
use crate::Frame;

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

fn field(name: &str, v: Frame) -> (Frame, Frame) {
    (Frame::Bulk(name.as_bytes().to_vec()), v)
}

fn int(n: i64) -> Frame {
    Frame::Integer(n)
}

fn opt_int(v: Option<i64>) -> Frame {
    v.map_or(Frame::Null, Frame::Integer)
}

fn entries_read(v: i64) -> Frame {
    opt_int((v != INVALID_READ).then_some(v))
}

/// XINFO subcommand key ...
pub(super) fn xinfo(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let sub = subcommand(
        argv,
        &[("consumers", 4), ("groups", 3), ("stream", -3), ("help", 2)],
    )?;
    if sub == "help" {
        return help_reply(argv, XINFO_HELP);
    }
    let Some(s) = Stream::open(t, &argv[2])? else {
        return Err(CmdError::no_such_key());
    };
    match sub.as_str() {
        "consumers" => consumers(t, &s, argv),
        "groups" => groups(t, &s),
        _ => stream(t, &s, argv),
    }
}

fn consumers(t: &Txn, s: &Stream, argv: &[Vec<u8>]) -> CmdResult {
    let gname = &argv[3];
    if s.group(t, gname)?.is_none() {
        return Err(CmdError::new(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(gname),
            String::from_utf8_lossy(&argv[2])
        )));
    }
    let now = t.now_ms as i64;
    let out = s
        .consumers(t, gname)?
        .into_iter()
        .map(|c| {
            let inactive = if c.active != -1 {
                now.wrapping_sub(c.active)
            } else {
                -1
            };
            Frame::Map(vec![
                field("name", Frame::Bulk(c.name.clone())),
                field("pending", int(c.pel as i64)),
                field("idle", int(now.wrapping_sub(c.seen as i64).max(0))),
                field("inactive", int(inactive)),
            ])
        })
        .collect();
    Ok(Frame::Array(out))
}

fn groups(t: &Txn, s: &Stream) -> CmdResult {
    let out = s
        .groups(t)?
        .into_iter()
        .map(|g| {
            Frame::Map(vec![
                field("name", Frame::Bulk(g.name.clone())),
                field("consumers", int(g.consumers as i64)),
                field("pending", int(g.pel as i64)),
                field("last-delivered-id", id_frame(g.last)),
                field("entries-read", entries_read(g.entries_read)),
                field("lag", opt_int(group_lag(s, &g))),
            ])
        })
        .collect();
    Ok(Frame::Array(out))
}

/// The fields XINFO STREAM starts with, FULL or not.
fn header_fields(t: &Txn, s: &Stream) -> Result<Vec<(Frame, Frame)>, CmdError> {
    // The emulated nodes (see `nodes.rs`) and the radix tree Redis builds over their
    // IDs; for a stream without node records, ⌈len / 100⌉ and an estimate.
    let (keys, tree) = match s.h.nodes {
        Some(n) if n.count <= RAX_COUNT_MAX => {
            let mut ids = Vec::with_capacity(n.count as usize);
            s.nodes().visit(t, Id::MIN, Id::MAX, &mut |id, _| {
                ids.push(id.encode());
                true
            })?;
            (ids.len() as i64, rax_nodes(&ids, 0) as i64)
        }
        Some(n) => (n.count as i64, n.count as i64 + 1),
        None => {
            let k = s.len().div_ceil(NODE_ENTRIES) as i64;
            (k, k + 1)
        }
    };
    Ok(vec![
        field("length", int(s.len() as i64)),
        field("radix-tree-keys", int(keys)),
        field("radix-tree-nodes", int(tree)),
        field("last-generated-id", id_frame(s.h.last)),
        field("max-deleted-entry-id", id_frame(s.h.max_deleted)),
        field("entries-added", int(s.h.entries_added as i64)),
        field("recorded-first-entry-id", id_frame(s.h.first)),
    ])
}

/// Above this many nodes XINFO reports radix-tree-nodes as keys + 1 rather than read
/// every node record.
const RAX_COUNT_MAX: u64 = 10_000;

/// Nodes of Redis's radix tree (rax) holding the sorted, distinct, equally long `keys`
/// from byte `depth` on: a node for the shared prefix (compressed) or for the branch
/// on the next byte, plus the nodes below; a key ends in a leaf node. An empty tree is
/// its head node.
fn rax_nodes(keys: &[[u8; 16]], depth: usize) -> u64 {
    let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
        return 1;
    };
    if depth >= first.len() {
        return 1;
    }
    let common = first[depth..]
        .iter()
        .zip(&last[depth..])
        .take_while(|(a, b)| a == b)
        .count();
    if common > 0 {
        return 1 + rax_nodes(keys, depth + common);
    }
    let mut n = 1;
    let mut from = 0;
    while from < keys.len() {
        let b = keys[from][depth];
        let to = from + keys[from..].iter().take_while(|k| k[depth] == b).count();
        n += rax_nodes(&keys[from..to], depth + 1);
        from = to;
    }
    n
}

fn stream(t: &Txn, s: &Stream, argv: &[Vec<u8>]) -> CmdResult {
    let opts = &argv[3..];
    let mut count: i64 = 10;
    let full = !opts.is_empty();
    if full {
        if (opts.len() != 1 && opts.len() != 3) || !args::is(&opts[0], "full") {
            return Err(subcommand_syntax(argv));
        }
        if opts.len() == 3 {
            if !args::is(&opts[1], "count") {
                return Err(subcommand_syntax(argv));
            }
            count = parse_i64(&opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let mut m = header_fields(t, s)?;
    let fam = s.entries();
    if !full {
        m.push(field("groups", int(s.h.groups as i64)));
        let first = fam.range(t, Id::MIN, Id::MAX, 1)?;
        m.push(field(
            "first-entry",
            match first.first() {
                Some((id, raw)) => entry_frame(*id, raw)?,
                None => Frame::Null,
            },
        ));
        let last = match s.last_entry_id(t)? {
            Some(id) => match s.get_entry(t, id)? {
                Some(raw) => entry_frame(id, &raw)?,
                None => return Err(corrupt("entry")),
            },
            None => Frame::Null,
        };
        m.push(field("last-entry", last));
        return Ok(Frame::Map(m));
    }
    // COUNT 0 = everything.
    let limit = limit_of(count as u64);
    let mut entries = Vec::new();
    for (id, raw) in fam.range(t, Id::MIN, Id::MAX, limit)? {
        entries.push(entry_frame(id, &raw)?);
    }
    m.push(field("entries", Frame::Array(entries)));
    let mut groups = Vec::new();
    for g in s.groups(t)? {
        let mut pending = Vec::new();
        for (id, raw) in s.pel(&g.name).range(t, Id::MIN, Id::MAX, limit)? {
            let n = decode_nack(&raw)?;
            pending.push(Frame::Array(vec![
                id_frame(id),
                Frame::Bulk(n.consumer),
                int(n.time as i64),
                int(n.count as i64),
            ]));
        }
        let mut consumers = Vec::new();
        for c in s.consumers(t, &g.name)? {
            let mut cp = Vec::new();
            for (id, _) in s.cpel(&g.name, &c.name).range(t, Id::MIN, Id::MAX, limit)? {
                let n = s
                    .nack(t, &g.name, id)?
                    .ok_or_else(|| corrupt("pending entry"))?;
                cp.push(Frame::Array(vec![
                    id_frame(id),
                    int(n.time as i64),
                    int(n.count as i64),
                ]));
            }
            consumers.push(Frame::Map(vec![
                field("name", Frame::Bulk(c.name.clone())),
                field("seen-time", int(c.seen as i64)),
                field("active-time", int(c.active)),
                field("pel-count", int(c.pel as i64)),
                field("pending", Frame::Array(cp)),
            ]));
        }
        groups.push(Frame::Map(vec![
            field("name", Frame::Bulk(g.name.clone())),
            field("last-delivered-id", id_frame(g.last)),
            field("entries-read", entries_read(g.entries_read)),
            field("lag", opt_int(group_lag(s, &g))),
            field("pel-count", int(g.pel as i64)),
            field("pending", Frame::Array(pending)),
            field("consumers", Frame::Array(consumers)),
        ]));
    }
    m.push(field("groups", Frame::Array(groups)));
    Ok(Frame::Map(m))
}
