//! Redis's radix-tree nodes, emulated so that trimming decides as Redis 7.0 does.
//!
//! Redis keeps a stream's entries in listpacks ("nodes"), each under the ID of its first
//! entry. XADD appends to the last node unless that node already holds
//! stream-node-max-entries entries (live or deleted) or its listpack plus the new
//! entry's field and value bytes reach stream-node-max-bytes; then it starts a new
//! node. XDEL and exact trims only mark entries deleted in their node (a node whose
//! last live entry XDEL removes goes away); `~` trims remove whole nodes only.
//!
//! Meridian stores one record per entry, so it keeps one [`Node`] record per node Redis
//! would have: live and deleted counts, the listpack's size in bytes (computed with
//! listpack's encoding rules: integers and integer-looking strings in 1 to 9 bytes,
//! strings with a 1, 2 or 5 byte header, each element followed by its back-length), the
//! last entry added and the master entry's fields. Every decision is made from
//! replicated state with Redis's defaults, [`NODE_MAX_ENTRIES`] (100) and
//! [`NODE_MAX_BYTES`] (4096), whatever the node's `CONFIG SET stream-node-max-*` says
//! (those are per-node settings and cannot steer a replicated write).
//!
//! Streams written before node records were kept (format-1 header, `nodes` = None)
//! keep the older rule (`legacy_trim` in `stream.rs`) until they are emptied.

use super::{TrimBy, NODE_ENTRIES};
use crate::error::CmdError;
use crate::txn::Txn;
use crate::types::stream::{corrupt, decode_node, Id, Node, Stream};

/// Redis's default stream-node-max-entries.
pub const NODE_MAX_ENTRIES: u64 = NODE_ENTRIES;
/// Redis's default stream-node-max-bytes.
pub const NODE_MAX_BYTES: u64 = 4096;

/// Listpack header (total bytes, element count) plus its end byte.
const LP_EMPTY: u64 = 6 + 1;
/// STREAM_ITEM_FLAG_SAMEFIELDS.
const FLAG_SAMEFIELDS: i64 = 2;

/// Bytes of a listpack integer element: encoding plus back-length (always 1 byte).
fn int_len(v: i64) -> u64 {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        4
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        5
    } else {
        9
    };
    enc + 1
}

/// lpEncodeBacklen's size for an element of `l` bytes.
fn backlen(l: u64) -> u64 {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    }
}

/// lpStringToInt64: a string listpack stores as an integer.
fn lp_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Bytes of a listpack element holding `s`.
fn str_len(s: &[u8]) -> u64 {
    if let Some(v) = lp_int(s) {
        return int_len(v);
    }
    let n = s.len() as u64;
    let enc = if n < 64 {
        1 + n
    } else if n < 4096 {
        2 + n
    } else {
        5 + n
    };
    enc + backlen(enc)
}

/// Bytes one entry takes in its node: flags, ID deltas from the master ID, the fields
/// unless they are the master's, the values, and the lp-count.
fn entry_len(master: Id, id: Id, same: bool, items: &[Vec<u8>]) -> u64 {
    let nf = (items.len() / 2) as u64;
    let flags = if same { FLAG_SAMEFIELDS } else { 0 };
    let mut n = int_len(flags)
        + int_len(id.ms.wrapping_sub(master.ms) as i64)
        + int_len(id.seq.wrapping_sub(master.seq) as i64);
    let mut lp_count = nf + 3;
    if !same {
        n += int_len(nf as i64);
        lp_count += nf + 1;
    }
    for (i, item) in items.iter().enumerate() {
        if i % 2 == 1 || !same {
            n += str_len(item);
        }
    }
    n + int_len(lp_count as i64)
}

/// Sets a node's live/deleted counts, adjusting its size for their re-encoding.
fn set_counts(n: &mut Node, count: u64, deleted: u64) {
    let before = int_len(n.count as i64) + int_len(n.deleted as i64);
    let after = int_len(count as i64) + int_len(deleted as i64);
    n.bytes = (n.bytes + after).saturating_sub(before);
    n.count = count;
    n.deleted = deleted;
}

/// streamAppendItem's node bookkeeping for entry `id` (already stored) with the
/// field/value list `items`.
pub(super) fn on_append(
    t: &mut Txn,
    s: &mut Stream,
    id: Id,
    items: &[Vec<u8>],
) -> Result<(), CmdError> {
    let Some(mut tally) = s.h.nodes else {
        return Ok(());
    };
    let total: u64 = items.iter().map(|i| i.len() as u64).sum();
    let tail = if tally.count > 0 {
        Some(s.node(t, tally.tail)?.ok_or_else(|| corrupt("node"))?)
    } else {
        None
    };
    let fields: Vec<Vec<u8>> = items.iter().step_by(2).cloned().collect();
    match tail {
        Some(mut n)
            if n.bytes + total < NODE_MAX_BYTES && n.count + n.deleted < NODE_MAX_ENTRIES =>
        {
            let same = n.fields == fields;
            let (count, deleted) = (n.count + 1, n.deleted);
            set_counts(&mut n, count, deleted);
            n.bytes += entry_len(tally.tail, id, same, items);
            n.last = id;
            s.put_node(t, tally.tail, &n);
        }
        _ => {
            let master = int_len(1)
                + int_len(0)
                + int_len(fields.len() as i64)
                + fields.iter().map(|f| str_len(f)).sum::<u64>()
                + int_len(0);
            let n = Node {
                count: 1,
                deleted: 0,
                bytes: LP_EMPTY + master + entry_len(id, id, true, items),
                last: id,
                fields,
            };
            s.put_node(t, id, &n);
            tally.count += 1;
            tally.tail = id;
            s.h.nodes = Some(tally);
        }
    }
    Ok(())
}

/// streamIteratorRemoveEntry's node bookkeeping for live entry `id` (XDEL): marked
/// deleted in its node, or the node goes with its last live entry.
pub(super) fn on_delete(t: &mut Txn, s: &mut Stream, id: Id) -> Result<(), CmdError> {
    let Some(mut tally) = s.h.nodes else {
        return Ok(());
    };
    let (master, mut n) = s.node_of(t, id)?.ok_or_else(|| corrupt("node"))?;
    if n.count <= 1 {
        s.delete_node(t, master);
        tally.count = tally.count.saturating_sub(1);
        if tally.tail == master {
            tally.tail = match (tally.count, master.prev()) {
                (0, _) | (_, None) => Id::MIN,
                (_, Some(before)) => s.node_of(t, before)?.map_or(Id::MIN, |(at, _)| at),
            };
        }
        s.h.nodes = Some(tally);
    } else {
        let (count, deleted) = (n.count - 1, n.deleted + 1);
        set_counts(&mut n, count, deleted);
        s.put_node(t, master, &n);
    }
    Ok(())
}

/// Node records read per batch while trimming.
const TRIM_BATCH: u64 = 64;

/// streamTrim on a stream with node records: whole nodes from the head while they may
/// go, then (exact trims only) the rest from the first remaining node. `limit` (0 =
/// none) caps the entries a `~` trim removes. Returns how many entries were removed.
pub(super) fn trim(
    t: &mut Txn,
    s: &mut Stream,
    by: &TrimBy,
    approx: bool,
    limit: u64,
) -> Result<u64, CmdError> {
    let Some(mut tally) = s.h.nodes else {
        return Err(corrupt("header"));
    };
    let mut len = s.len();
    let mut deleted = 0u64;
    let mut gone: Vec<Id> = Vec::new();
    let mut partial: Option<(Id, Node)> = None;
    let mut from = Id::MIN;
    'walk: loop {
        let batch = s.nodes().range(t, from, Id::MAX, TRIM_BATCH)?;
        let Some(&(batch_end, _)) = batch.last() else {
            break;
        };
        for (master, raw) in batch {
            let mut n = decode_node(&raw)?;
            if let TrimBy::MaxLen(max) = by {
                if len <= *max {
                    break 'walk;
                }
            }
            if limit > 0 && deleted + n.count > limit {
                break 'walk;
            }
            let whole = match by {
                TrimBy::MaxLen(max) => len - n.count.min(len) >= *max,
                TrimBy::MinId(min) => n.last < *min,
            };
            if whole {
                gone.push(master);
                len -= n.count.min(len);
                deleted += n.count;
                continue;
            }
            if approx {
                break 'walk;
            }
            // Entries of this node to mark deleted: every earlier entry is in a node
            // removed above, so they are the stream's next ones.
            let k = match by {
                TrimBy::MaxLen(max) => len - max,
                TrimBy::MinId(min) => match min.prev() {
                    None => 0,
                    Some(below) => {
                        let mut k = 0u64;
                        s.entries().visit(t, master, below, &mut |_, _| {
                            k += 1;
                            true
                        })?;
                        k
                    }
                },
            };
            if k > 0 {
                let (count, del) = (n.count.saturating_sub(k), n.deleted + k);
                set_counts(&mut n, count, del);
                partial = Some((master, n));
                deleted += k;
            }
            break 'walk;
        }
        match batch_end.next() {
            Some(next) => from = next,
            None => break,
        }
    }
    if let (Some(first), Some(last)) = (gone.first(), gone.last()) {
        if gone.len() <= 64 {
            for id in &gone {
                s.delete_node(t, *id);
            }
        } else {
            s.delete_nodes(t, *first, *last);
        }
        tally.count -= gone.len() as u64;
        if tally.count == 0 {
            tally.tail = Id::MIN;
        }
        s.h.nodes = Some(tally);
    }
    if let Some((master, n)) = partial {
        s.put_node(t, master, &n);
    }
    if deleted > 0 {
        s.remove_first(t, deleted)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_sizes() {
        assert_eq!(lp_int(b"0"), Some(0));
        assert_eq!(lp_int(b"-0"), None);
        assert_eq!(lp_int(b"01"), None);
        assert_eq!(lp_int(b"-"), None);
        assert_eq!(lp_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(lp_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(lp_int(b"9223372036854775808"), None);
        assert_eq!(lp_int(b"12a"), None);
        assert_eq!(str_len(b"v"), 3);
        assert_eq!(str_len(b"127"), 2);
        assert_eq!(str_len(b"128"), 3);
        assert_eq!(str_len(&[b'x'; 63]), 65);
        assert_eq!(str_len(&[b'x'; 64]), 67);
        assert_eq!(str_len(&[b'x'; 126]), 130);
        assert_eq!(str_len(&[b'x'; 4096]), 4101 + 2);
        assert_eq!(int_len(-1), 3);
        assert_eq!(int_len(i64::MAX), 10);
    }
}
