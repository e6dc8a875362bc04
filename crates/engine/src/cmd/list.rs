//! List commands (t_list.c), the non-blocking ones. BLPOP, BRPOP, BLMOVE, BLMPOP and
//! BRPOPLPUSH wait for data, which is the server's session layer's business.
//!
//! The records (meta bounds `head..tail`, one `data` record per element, index
//! encoding) are `types::list`'s, their bytes `keys::list`'s. LPUSH writes index
//! `head - 1`, RPUSH index `tail`; position `pos` (0 = first) is index `head + pos`,
//! one point read away.
//!
//! Changes in the middle shift the elements on ONE side of the change by rewriting
//! their records, always the side with fewer elements to move: LINSERT moves the
//! elements before the insertion point one index down (head - 1) or those after it
//! one index up (tail + 1); LREM slides the survivors before its last match toward
//! the tail, or those after its first match toward the head. LSET rewrites one record.
//! Removing a run at an end (LTRIM, LPOP/RPOP/LMPOP with COUNT) deletes its records,
//! as one range delete when there are more than `types::list::RANGE_DELETE_MIN`.
//! Removing every element deletes the meta record and drops the old version's records
//! with one range delete (point deletes for a few), as DEL and overwrites do.
//!
//! Cost of each command (N = length, records read / written besides the meta record):
//!
//! | command | cost |
//! |---|---|
//! | LPUSH, RPUSH, LPUSHX, RPUSHX | O(1) per element pushed |
//! | LPOP, RPOP (no count), LMOVE, RPOPLPUSH | O(1) |
//! | LPOP, RPOP, LMPOP with COUNT c | O(c) reads; ≤ 64 point deletes or one range delete (meta only if c ≥ N) |
//! | LLEN | meta only |
//! | LINDEX, LSET | O(1): one point read / one write |
//! | LRANGE | one seek plus O(elements returned) |
//! | LTRIM | no element reads; O(1) range deletes (point deletes for ≤ 64 per end) |
//! | LPOS | O(elements scanned), bounded by MAXLEN |
//! | LINSERT | O(P) reads to find the pivot at position P, then min(P, N−P) rewrites |
//! | LREM | O(elements scanned for matches) reads, then min(survivors before the last match, survivors after the first match) rewrites + removed-count deletes |
//! | LMPOP | one meta read per key tried, then as POP with COUNT |

use super::spec;
use crate::args;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec, KeySpec};
use crate::txn::Txn;
use crate::types::list::{corrupt, End, List};
use crate::Frame;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let l: &'static [&'static str] = &["list"];
    let g = "list";
    let k = keys(1, 1, 1);
    let two = keys(1, 2, 1);
    let lmpop_keys = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        find: Some(lmpop_key_positions),
    };
    vec![
        spec("lindex", 3, READONLY, k, l, g, "1.0.0", "Returns an element from a list by its index.", E(lindex)),
        spec("linsert", 5, WRITE | DENYOOM, k, l, g, "2.2.0", "Inserts an element before or after another element in a list.", E(linsert)),
        spec("llen", 2, READONLY | FAST, k, l, g, "1.0.0", "Returns the length of a list.", E(llen)),
        spec("lmove", 5, WRITE | DENYOOM, two, l, g, "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", E(lmove)),
        spec("lmpop", -4, WRITE | MOVABLE_KEYS, lmpop_keys, l, g, "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", E(lmpop)),
        spec("lpop", -2, WRITE | FAST, k, l, g, "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", E(lpop)),
        spec("lpos", -3, READONLY, k, l, g, "6.0.6", "Returns the index of matching elements in a list.", E(lpos)),
        spec("lpush", -3, WRITE | DENYOOM | FAST, k, l, g, "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", E(lpush)),
        spec("lpushx", -3, WRITE | DENYOOM | FAST, k, l, g, "2.2.0", "Prepends one or more elements to a list only when the list exists.", E(lpushx)),
        spec("lrange", 4, READONLY, k, l, g, "1.0.0", "Returns a range of elements from a list.", E(lrange)),
        spec("lrem", 4, WRITE, k, l, g, "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", E(lrem)),
        spec("lset", 4, WRITE | DENYOOM, k, l, g, "1.0.0", "Sets the value of an element in a list by its index.", E(lset)),
        spec("ltrim", 4, WRITE, k, l, g, "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", E(ltrim)),
        spec("rpop", -2, WRITE | FAST, k, l, g, "1.0.0", "Returns and removes the last elements of the list. Deletes the list if the last element was popped.", E(rpop)),
        spec("rpoplpush", 3, WRITE | DENYOOM, two, l, g, "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", E(rpoplpush)),
        spec("rpush", -3, WRITE | DENYOOM | FAST, k, l, g, "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", E(rpush)),
        spec("rpushx", -3, WRITE | DENYOOM | FAST, k, l, g, "2.2.0", "Appends an element to a list only when the list exists.", E(rpushx)),
    ]
}

/// LMPOP numkeys key [key ...] ...: the keys follow numkeys. Like Redis's key specs,
/// a numkeys that is not a positive integer or runs past the arguments gives no keys.
fn lmpop_key_positions(argv: &[Vec<u8>]) -> Vec<usize> {
    let n = argv
        .get(1)
        .and_then(|a| args::parse_i64_opt(a))
        .filter(|&n| n >= 1)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    match 2usize.checked_add(n) {
        Some(end) if n > 0 && end <= argv.len() => (2..end).collect(),
        _ => Vec::new(),
    }
}

// ---- argument helpers ---------------------------------------------------------------

/// Redis's getRangeLongFromObjectOrReply: `msg` (when given) replaces both the
/// not-an-integer and the out-of-range error.
fn parse_range(arg: &[u8], min: i64, max: i64, msg: Option<&str>) -> Result<i64, CmdError> {
    let v = match (args::parse_i64_opt(arg), msg) {
        (Some(v), _) => v,
        (None, Some(m)) => return Err(CmdError::new(m)),
        (None, None) => return Err(CmdError::not_integer()),
    };
    if v < min || v > max {
        return Err(CmdError::new(match msg {
            Some(m) => m.to_string(),
            None => format!("ERR value is out of range, value must between {min} and {max}"),
        }));
    }
    Ok(v)
}

/// Redis's getPositiveLongFromObjectOrReply without a custom message.
fn parse_positive(arg: &[u8]) -> Result<u64, CmdError> {
    Ok(parse_range(
        arg,
        0,
        i64::MAX,
        Some("ERR value is out of range, must be positive"),
    )? as u64)
}

fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if args::is(arg, "left") {
        Ok(End::Left)
    } else if args::is(arg, "right") {
        Ok(End::Right)
    } else {
        Err(CmdError::syntax())
    }
}

/// Redis's range rules (addListRangeReply, LTRIM): positions `from..to`, or None for
/// an empty range.
fn clamp_range(start: i64, end: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i128;
    let mut s = start as i128;
    let mut e = end as i128;
    if s < 0 {
        s += len;
    }
    if e < 0 {
        e += len;
    }
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as u64, e as u64 + 1))
}

fn bulks(items: Vec<Vec<u8>>) -> Frame {
    Frame::Array(items.into_iter().map(Frame::Bulk).collect())
}

fn int(n: i64) -> CmdResult {
    Ok(Frame::Integer(n))
}

// ---- push / pop ---------------------------------------------------------------------

/// LPUSH/RPUSH (and the X variants, `only_existing`): the new length.
fn push_generic(t: &mut Txn, argv: &[Vec<u8>], end: End, only_existing: bool) -> CmdResult {
    let key = &argv[1];
    let mut l = if only_existing {
        match List::open(t, key)? {
            Some(l) => l,
            None => return int(0),
        }
    } else {
        List::open_or_create(t, key)?
    };
    for v in &argv[2..] {
        l.push(t, key, end, v.clone())?;
    }
    let n = l.len();
    l.save(t, key)?;
    int(n as i64)
}

fn lpush(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    push_generic(t, argv, End::Left, false)
}

fn rpush(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    push_generic(t, argv, End::Right, false)
}

fn lpushx(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    push_generic(t, argv, End::Left, true)
}

fn rpushx(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    push_generic(t, argv, End::Right, true)
}

/// LPOP/RPOP key [count]: a bulk (nil if no key) without count; with a count an
/// array (nil array if no key, empty for count 0).
fn pop_generic(t: &mut Txn, argv: &[Vec<u8>], end: End, name: &str) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::wrong_arity(name));
    }
    let key = &argv[1];
    let count = match argv.get(2) {
        Some(a) => Some(parse_positive(a)?),
        None => None,
    };
    let Some(mut l) = List::open(t, key)? else {
        return Ok(if count.is_some() {
            Frame::NullArray
        } else {
            Frame::Null
        });
    };
    match count {
        None => {
            let v = l.pop(t, key, end)?.ok_or_else(|| corrupt("empty list"))?;
            l.save(t, key)?;
            Ok(Frame::Bulk(v))
        }
        Some(0) => Ok(Frame::Array(Vec::new())),
        Some(c) => {
            let items = l.pop_many(t, key, end, c)?;
            l.save(t, key)?;
            Ok(bulks(items))
        }
    }
}

fn lpop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    pop_generic(t, argv, End::Left, "lpop")
}

fn rpop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    pop_generic(t, argv, End::Right, "rpop")
}

/// LMOVE/RPOPLPUSH (Redis's lmoveGenericCommand, checks in its order): nil if the
/// source is missing; a wrongly typed destination is refused before anything moves.
/// Source and destination may be the same list (a rotation).
fn lmove_generic(t: &mut Txn, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let Some(mut s) = List::open(t, src)? else {
        return Ok(Frame::Null);
    };
    List::open(t, dst)?;
    let v = s.pop(t, src, from)?.ok_or_else(|| corrupt("empty list"))?;
    if src == dst {
        s.push(t, src, to, v.clone())?;
        s.save(t, src)?;
    } else {
        s.save(t, src)?;
        let mut d = List::open_or_create(t, dst)?;
        d.push(t, dst, to, v.clone())?;
        d.save(t, dst)?;
    }
    Ok(Frame::Bulk(v))
}

fn lmove(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    lmove_generic(t, &argv[1], &argv[2], from, to)
}

fn rpoplpush(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    lmove_generic(t, &argv[1], &argv[2], End::Right, End::Left)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the first
/// non-empty list, replying [key, [elements]], or a nil array.
fn lmpop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let numkeys = parse_range(
        &argv[1],
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )?;
    let where_idx = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(2))
        .filter(|&w| w < argv.len())
        .ok_or_else(CmdError::syntax)?;
    let end = parse_end(&argv[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && args::is(&argv[j], "count") && j + 1 < argv.len() {
            count = Some(parse_range(
                &argv[j + 1],
                1,
                i64::MAX,
                Some("ERR count should be greater than 0"),
            )? as u64);
            j += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let count = count.unwrap_or(1);
    for key in &argv[2..where_idx] {
        let Some(mut l) = List::open(t, key)? else {
            continue;
        };
        let items = l.pop_many(t, key, end, count)?;
        l.save(t, key)?;
        return Ok(Frame::Array(vec![Frame::Bulk(key.clone()), bulks(items)]));
    }
    Ok(Frame::NullArray)
}

// ---- reads --------------------------------------------------------------------------

fn llen(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    int(List::open(t, &argv[1])?.map_or(0, |l| l.len() as i64))
}

/// LINDEX key index: the key is looked up before the index is parsed (as Redis).
fn lindex(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let Some(l) = List::open(t, key)? else {
        return Ok(Frame::Null);
    };
    let index = args::parse_i64(&argv[2])?;
    match l.position(index) {
        Some(pos) => Ok(Frame::Bulk(l.get(t, key, pos)?)),
        None => Ok(Frame::Null),
    }
}

fn lrange(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let start = args::parse_i64(&argv[2])?;
    let stop = args::parse_i64(&argv[3])?;
    let Some(l) = List::open(t, key)? else {
        return Ok(Frame::Array(Vec::new()));
    };
    match clamp_range(start, stop, l.len()) {
        Some((from, to)) => Ok(bulks(l.read(t, key, from, to)?)),
        None => Ok(Frame::Array(Vec::new())),
    }
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]. Options are parsed
/// (and refused) before the key is looked up, as Redis does.
fn lpos(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let (key, elem) = (&argv[1], &argv[2]);
    let mut rank: i64 = 1;
    let mut count: Option<u64> = None;
    let mut maxlen: u64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if args::is(&argv[j], "rank") && more {
            rank = parse_range(&argv[j + 1], -i64::MAX, i64::MAX, None)?;
            if rank == 0 {
                return Err(CmdError::new(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if args::is(&argv[j], "count") && more {
            count = Some(parse_range(
                &argv[j + 1],
                0,
                i64::MAX,
                Some("ERR COUNT can't be negative"),
            )? as u64);
        } else if args::is(&argv[j], "maxlen") && more {
            maxlen = parse_range(
                &argv[j + 1],
                0,
                i64::MAX,
                Some("ERR MAXLEN can't be negative"),
            )? as u64;
        } else {
            return Err(CmdError::syntax());
        }
        j += 2;
    }
    let Some(l) = List::open(t, key)? else {
        return Ok(if count.is_some() {
            Frame::Array(Vec::new())
        } else {
            Frame::Null
        });
    };
    let n = l.len();
    let scanned = if maxlen == 0 { n } else { maxlen.min(n) };
    let skip = rank.unsigned_abs(); // the first match reported is the skip-th
    let mut matches = 0u64;
    let mut found = Vec::new();
    let mut visit = |pos: u64, v: &[u8]| -> bool {
        if v != elem.as_slice() {
            return true;
        }
        matches += 1;
        if matches < skip {
            return true;
        }
        found.push(pos);
        match count {
            None => false,
            Some(0) => true,
            Some(c) => (found.len() as u64) < c,
        }
    };
    if rank < 0 {
        l.scan_back(t, key, n - scanned, n, &mut visit)?;
    } else {
        l.scan(t, key, 0, scanned, &mut visit)?;
    }
    Ok(match count {
        Some(_) => Frame::Array(
            found
                .into_iter()
                .map(|p| Frame::Integer(p as i64))
                .collect(),
        ),
        None => found
            .first()
            .map_or(Frame::Null, |&p| Frame::Integer(p as i64)),
    })
}

// ---- changes in place ---------------------------------------------------------------

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 if the pivot is not
/// found, 0 if there is no list.
fn linsert(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let before = if args::is(&argv[2], "after") {
        false
    } else if args::is(&argv[2], "before") {
        true
    } else {
        return Err(CmdError::syntax());
    };
    let Some(mut l) = List::open(t, key)? else {
        return int(0);
    };
    let pivot = argv[3].as_slice();
    let mut found = None;
    l.scan(t, key, 0, l.len(), &mut |pos, v| {
        if v == pivot {
            found = Some(pos);
            false
        } else {
            true
        }
    })?;
    let Some(p) = found else {
        return int(-1);
    };
    let q = if before { p } else { p + 1 };
    l.insert_at(t, key, q, argv[4].clone())?;
    let n = l.len();
    l.save(t, key)?;
    int(n as i64)
}

fn lset(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let Some(mut l) = List::open(t, key)? else {
        return Err(CmdError::no_such_key());
    };
    let index = args::parse_i64(&argv[2])?;
    let pos = l
        .position(index)
        .ok_or_else(|| CmdError::new("ERR index out of range"))?;
    l.set(t, key, pos, argv[3].clone());
    l.save(t, key)?;
    Ok(Frame::ok())
}

/// LTRIM key start stop. Like Redis, the key counts as modified even when nothing is
/// trimmed (its meta record is rewritten, which WATCH sees).
fn ltrim(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let start = args::parse_i64(&argv[2])?;
    let stop = args::parse_i64(&argv[3])?;
    let Some(mut l) = List::open(t, key)? else {
        return Ok(Frame::ok());
    };
    let n = l.len();
    let (left, right) = match clamp_range(start, stop, n) {
        Some((from, to)) => (from, n - to),
        None => (n, 0),
    };
    l.trim(t, key, left, right);
    l.save(t, key)?;
    Ok(Frame::ok())
}

/// LREM key count element: count > 0 removes the first `count` matches from the
/// head, count < 0 the first |count| from the tail, 0 every match.
fn lrem(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let count = args::parse_i64(&argv[2])?;
    let Some(mut l) = List::open(t, key)? else {
        return int(0);
    };
    let elem = argv[3].as_slice();
    let limit = if count == 0 {
        u64::MAX
    } else {
        count.unsigned_abs()
    };
    let mut hits = Vec::new();
    let mut visit = |pos: u64, v: &[u8]| -> bool {
        if v == elem {
            hits.push(pos);
        }
        (hits.len() as u64) < limit
    };
    let n = l.len();
    if count < 0 {
        l.scan_back(t, key, 0, n, &mut visit)?;
        hits.reverse();
    } else {
        l.scan(t, key, 0, n, &mut visit)?;
    }
    if hits.is_empty() {
        return int(0);
    }
    l.remove_positions(t, key, &hits)?;
    l.save(t, key)?;
    int(hits.len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 3)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 3)));
        assert_eq!(clamp_range(5, 10, 3), None);
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 3), Some((0, 3)));
        assert_eq!(clamp_range(-1, -1, 0), None);
    }

    #[test]
    fn lmpop_keys_follow_numkeys() {
        let argv = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            lmpop_key_positions(&argv(&["lmpop", "2", "a", "b", "left"])),
            vec![2, 3]
        );
        assert!(lmpop_key_positions(&argv(&["lmpop", "5", "a", "left"])).is_empty());
        assert!(lmpop_key_positions(&argv(&["lmpop", "0", "a", "left"])).is_empty());
        assert!(lmpop_key_positions(&argv(&["lmpop", "x", "a", "left"])).is_empty());
    }
}
