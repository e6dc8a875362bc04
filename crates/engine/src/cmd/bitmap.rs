//! Bitmap commands (bitops.c): bits and bit fields of string values.
//!
//! Bitmaps are plain strings; bit 0 is the most significant bit of byte 0. Commands
//! that modify a string in place (SETBIT, BITFIELD) keep the key's TTL; BITOP replaces
//! the destination and drops it.

use super::spec;
use super::string::MAX_STRING_LEN;
use crate::args::{self, parse_i64};
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec};
use crate::txn::Txn;
use crate::types::string;
use crate::Frame;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let b: &'static [&'static str] = &["bitmap"];
    let g = "bitmap";
    vec![
        spec("bitcount", -2, READONLY, keys(1, 1, 1), b, g, "2.6.0", "Counts the number of set bits (population counting) in a string.", E(bitcount)),
        spec("bitfield", -2, WRITE | DENYOOM, keys(1, 1, 1), b, g, "3.2.0", "Performs arbitrary bitfield integer operations on strings.", E(bitfield)),
        spec("bitfield_ro", -2, READONLY | FAST, keys(1, 1, 1), b, g, "6.0.0", "Performs arbitrary read-only bitfield integer operations on strings.", E(bitfield_ro)),
        spec("bitop", -4, WRITE | DENYOOM, keys(2, -1, 1), b, g, "2.6.0", "Performs bitwise operations on multiple strings, and stores the result.", E(bitop)),
        spec("bitpos", -3, READONLY, keys(1, 1, 1), b, g, "2.8.7", "Finds the first set (1) or clear (0) bit in a string.", E(bitpos)),
        spec("getbit", 3, READONLY | FAST, keys(1, 1, 1), b, g, "2.2.0", "Returns a bit value by offset.", E(getbit)),
        spec("setbit", 4, WRITE | DENYOOM, keys(1, 1, 1), b, g, "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", E(setbit)),
    ]
}

// ---- helpers ----------------------------------------------------------------------------

fn bad_offset() -> CmdError {
    CmdError::new("ERR bit offset is not an integer or out of range")
}

/// Redis's getBitOffsetFromArgument: a bit offset below 2^32 (proto-max-bulk-len bytes),
/// or with `hash`, `#N` meaning N * `bits`.
fn bit_offset(arg: &[u8], hash: bool, bits: u32) -> Result<u64, CmdError> {
    let usehash = hash && bits > 0 && arg.len() > 1 && arg[0] == b'#';
    let digits = if usehash { &arg[1..] } else { arg };
    let mut v = args::parse_i64_opt(digits).ok_or_else(bad_offset)?;
    if usehash {
        v = v.checked_mul(bits as i64).ok_or_else(bad_offset)?;
    }
    if v < 0 || (v as u64 >> 3) >= MAX_STRING_LEN {
        return Err(bad_offset());
    }
    Ok(v as u64)
}

/// Redis's lookupStringForBitCommand: the string at `key` (created if missing) grown
/// with zero bytes to hold bit `max_bit`, and its TTL.
fn string_for_bit_write(t: &Txn, key: &[u8], max_bit: u64) -> Result<(Vec<u8>, u64), CmdError> {
    let need = (max_bit >> 3) as usize + 1;
    let (mut v, ttl) = match string::open(t, key)? {
        Some(m) => (m.inline, m.expire_at_ms),
        None => (Vec::new(), 0),
    };
    if v.len() < need {
        v.resize(need, 0);
    }
    Ok((v, ttl))
}

fn popcount(p: &[u8]) -> i64 {
    p.iter().map(|b| b.count_ones() as i64).sum()
}

/// Redis's redisBitpos: first bit equal to `bit` in `p`; if none, -1 when looking
/// for 1 and `8 * len` (the first bit past the end) when looking for 0.
fn bitpos_raw(p: &[u8], bit: bool) -> i64 {
    for (i, &b) in p.iter().enumerate() {
        let v = if bit { b } else { !b };
        if v != 0 {
            return i as i64 * 8 + v.leading_zeros() as i64;
        }
    }
    if bit {
        -1
    } else {
        p.len() as i64 * 8
    }
}

/// Parses BYTE|BIT.
fn range_unit(arg: &[u8]) -> Result<bool, CmdError> {
    if args::is(arg, "bit") {
        Ok(true)
    } else if args::is(arg, "byte") {
        Ok(false)
    } else {
        Err(CmdError::syntax())
    }
}

// ---- GETBIT / SETBIT ----------------------------------------------------------------------

fn getbit(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let off = bit_offset(&argv[2], false, 0)?;
    let Some(v) = string::get(t, &argv[1])? else {
        return Ok(Frame::Integer(0));
    };
    let byte = (off >> 3) as usize;
    let bit = 7 - (off & 7);
    Ok(Frame::Integer(
        v.get(byte).map_or(0, |b| (b >> bit) & 1) as i64
    ))
}

fn setbit(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let off = bit_offset(&argv[2], false, 0)?;
    let on = args::parse_i64_opt(&argv[3])
        .filter(|v| v & !1 == 0)
        .ok_or_else(|| CmdError::new("ERR bit is not an integer or out of range"))?;
    let (mut v, ttl) = string_for_bit_write(t, &argv[1], off)?;
    let byte = (off >> 3) as usize;
    let bit = 7 - (off & 7);
    let old = (v[byte] >> bit) & 1;
    v[byte] = (v[byte] & !(1 << bit)) | ((on as u8) << bit);
    string::put(t, &argv[1], v, ttl)?;
    Ok(Frame::Integer(old as i64))
}

// ---- BITCOUNT / BITPOS ----------------------------------------------------------------------

fn bitcount(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let (v, start, end, first_mask, last_mask);
    match argv.len() {
        4 | 5 => {
            let mut s = parse_i64(&argv[2])?;
            let mut e = parse_i64(&argv[3])?;
            let isbit = if argv.len() == 5 {
                range_unit(&argv[4])?
            } else {
                false
            };
            let Some(val) = string::get(t, key)? else {
                return Ok(Frame::Integer(0));
            };
            let mut totlen = val.len() as i64;
            if s < 0 && e < 0 && s > e {
                return Ok(Frame::Integer(0));
            }
            if isbit {
                totlen <<= 3;
            }
            if s < 0 {
                s += totlen;
            }
            if e < 0 {
                e += totlen;
            }
            s = s.max(0);
            e = e.max(0);
            if e >= totlen {
                e = totlen - 1;
            }
            let (mut fm, mut lm) = (0u8, 0u8);
            if isbit && s <= e {
                fm = (!((1u32 << (8 - (s & 7))) - 1) & 0xff) as u8;
                lm = ((1u32 << (7 - (e & 7))) - 1) as u8;
                s >>= 3;
                e >>= 3;
            }
            v = val;
            start = s;
            end = e;
            first_mask = fm;
            last_mask = lm;
        }
        2 => {
            let Some(val) = string::get(t, key)? else {
                return Ok(Frame::Integer(0));
            };
            start = 0;
            end = val.len() as i64 - 1;
            v = val;
            first_mask = 0;
            last_mask = 0;
        }
        _ => return Err(CmdError::syntax()),
    }
    if start > end {
        return Ok(Frame::Integer(0));
    }
    let (s, e) = (start as usize, end as usize);
    let mut count = popcount(&v[s..=e]);
    if first_mask != 0 {
        count -= (v[s] & first_mask).count_ones() as i64;
    }
    if last_mask != 0 {
        count -= (v[e] & last_mask).count_ones() as i64;
    }
    Ok(Frame::Integer(count))
}

fn bitpos(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let bit = parse_i64(&argv[2])?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::new("ERR The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    let mut end_given = false;
    let (v, mut start, end, first_mask, last_mask);
    match argv.len() {
        4..=6 => {
            let mut s = parse_i64(&argv[3])?;
            let isbit = if argv.len() == 6 {
                range_unit(&argv[5])?
            } else {
                false
            };
            let mut e = 0;
            if argv.len() >= 5 {
                e = parse_i64(&argv[4])?;
                end_given = true;
            }
            let Some(val) = string::get(t, key)? else {
                return Ok(Frame::Integer(if bit { -1 } else { 0 }));
            };
            let mut totlen = val.len() as i64;
            if argv.len() < 5 {
                e = totlen - 1;
            }
            if isbit {
                totlen <<= 3;
            }
            if s < 0 {
                s += totlen;
            }
            if e < 0 {
                e += totlen;
            }
            s = s.max(0);
            e = e.max(0);
            if e >= totlen {
                e = totlen - 1;
            }
            let (mut fm, mut lm) = (0u8, 0u8);
            if isbit && s <= e {
                fm = (!((1u32 << (8 - (s & 7))) - 1) & 0xff) as u8;
                lm = ((1u32 << (7 - (e & 7))) - 1) as u8;
                s >>= 3;
                e >>= 3;
            }
            v = val;
            start = s;
            end = e;
            first_mask = fm;
            last_mask = lm;
        }
        3 => {
            let Some(val) = string::get(t, key)? else {
                return Ok(Frame::Integer(if bit { -1 } else { 0 }));
            };
            start = 0;
            end = val.len() as i64 - 1;
            v = val;
            first_mask = 0;
            last_mask = 0;
        }
        _ => return Err(CmdError::syntax()),
    }
    if start > end {
        return Ok(Frame::Integer(-1));
    }
    // A direct port of Redis's masked scan: first byte, middle bytes, last byte.
    let mut bytes = end - start + 1;
    let pos = 'result: {
        if first_mask != 0 {
            let mut tmp = if bit {
                v[start as usize] & !first_mask
            } else {
                v[start as usize] | first_mask
            };
            if last_mask != 0 && bytes == 1 {
                tmp = if bit {
                    tmp & !last_mask
                } else {
                    tmp | last_mask
                };
            }
            let pos = bitpos_raw(&[tmp], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'result pos;
            }
            start += 1;
            bytes -= 1;
        }
        let curbytes = bytes - if last_mask != 0 { 1 } else { 0 };
        if curbytes > 0 {
            let pos = bitpos_raw(&v[start as usize..(start + curbytes) as usize], bit);
            if bytes == curbytes || (pos != -1 && pos != curbytes << 3) {
                break 'result pos;
            }
            start += curbytes;
            bytes -= curbytes;
        }
        let tmp = if bit {
            v[end as usize] & !last_mask
        } else {
            v[end as usize] | last_mask
        };
        bitpos_raw(&[tmp], bit)
    };
    if end_given && !bit && pos == bytes << 3 {
        return Ok(Frame::Integer(-1));
    }
    Ok(Frame::Integer(if pos != -1 {
        pos + (start << 3)
    } else {
        pos
    }))
}

// ---- BITOP ---------------------------------------------------------------------------------

fn bitop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    /// DIFF, DIFF1, ANDOR and ONE are Redis 8.2's: with X the first source and Y the
    /// disjunction of the others, DIFF is X & !Y, DIFF1 !X & Y, ANDOR X & Y; ONE sets
    /// the bits set in exactly one source.
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
        Diff,
        Diff1,
        AndOr,
        One,
    }
    let op = [
        ("and", Op::And),
        ("or", Op::Or),
        ("xor", Op::Xor),
        ("not", Op::Not),
        ("diff", Op::Diff),
        ("diff1", Op::Diff1),
        ("andor", Op::AndOr),
        ("one", Op::One),
    ]
    .iter()
    .find(|(name, _)| args::is(&argv[1], name))
    .map(|(_, op)| *op)
    .ok_or_else(CmdError::syntax)?;
    if op == Op::Not && argv.len() != 4 {
        return Err(CmdError::new(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    if matches!(op, Op::Diff | Op::Diff1 | Op::AndOr) && argv.len() < 5 {
        return Err(CmdError::new(format!(
            "ERR BITOP {} must be called with at least two source keys.",
            String::from_utf8_lossy(&argv[1]).to_ascii_uppercase()
        )));
    }
    let dest = &argv[2];
    let mut srcs = Vec::with_capacity(argv.len() - 3);
    for key in &argv[3..] {
        srcs.push(string::get(t, key)?.unwrap_or_default());
    }
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    if maxlen == 0 {
        t.delete_key(dest)?;
        return Ok(Frame::Integer(0));
    }
    let byte = |s: &Vec<u8>, j: usize| s.get(j).copied().unwrap_or(0);
    let mut res = vec![0u8; maxlen];
    for (j, out) in res.iter_mut().enumerate() {
        let mut o = byte(&srcs[0], j);
        if op == Op::Not {
            o = !o;
        }
        let mut disjunction = 0u8;
        let mut common = 0u8;
        for s in &srcs[1..] {
            let b = byte(s, j);
            match op {
                Op::And => o &= b,
                Op::Or => o |= b,
                Op::Xor => o ^= b,
                Op::Diff | Op::Diff1 | Op::AndOr => disjunction |= b,
                Op::One => {
                    common |= o & b;
                    o ^= b;
                    o &= !common;
                }
                Op::Not => {}
            }
        }
        *out = match op {
            Op::Diff => o & !disjunction,
            Op::Diff1 => !o & disjunction,
            Op::AndOr => o & disjunction,
            _ => o,
        };
    }
    string::put(t, dest, res, 0)?;
    Ok(Frame::Integer(maxlen as i64))
}

// ---- BITFIELD --------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    Incrby,
}

struct Field {
    op: FieldOp,
    offset: u64,
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// Redis's getBitfieldTypeFromArgument: i1..i64 or u1..u63.
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = || {
        CmdError::new("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
    };
    let signed = match arg.first() {
        Some(b'i' | b'I') => true,
        Some(b'u' | b'U') => false,
        _ => return Err(err()),
    };
    let bits = args::parse_i64_opt(&arg[1..]).ok_or_else(err)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

/// Reads `bits` bits at bit `offset` of `p` (bytes past the end read as zero).
fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for j in 0..bits as u64 {
        let o = offset + j;
        let byte = p.get((o >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (o & 7))) & 1) as u64;
    }
    v
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut v = get_unsigned(p, offset, bits);
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        v |= u64::MAX << bits;
    }
    v as i64
}

/// Writes the low `bits` bits of `value` at bit `offset` (the buffer is large enough).
fn set_bits(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let bitval = (value >> (bits as u64 - 1 - j)) & 1;
        let o = offset + j;
        let byte = (o >> 3) as usize;
        let bit = 7 - (o & 7);
        p[byte] = (p[byte] & !(1 << bit)) | ((bitval as u8) << bit);
    }
}

/// Redis's checkSignedBitfieldOverflow: Some(replacement) when `value + incr` does
/// not fit `bits` signed bits (wrapped or saturated; unused for FAIL).
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max: i128 = if bits == 64 {
        i64::MAX as i128
    } else {
        (1i128 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let sum = value as i128 + incr as i128;
    if sum >= min && sum <= max {
        return None;
    }
    Some(match ow {
        Overflow::Sat => {
            if sum > max {
                max as i64
            } else {
                min as i64
            }
        }
        _ => {
            let c = (value as u64).wrapping_add(incr as u64);
            if bits < 64 {
                let mask = u64::MAX << bits;
                if c & (1u64 << (bits - 1)) != 0 {
                    (c | mask) as i64
                } else {
                    (c & !mask) as i64
                }
            } else {
                c as i64
            }
        }
    })
}

/// Redis's checkUnsignedBitfieldOverflow (`value` may exceed the field for SET of a
/// negative or too large number, which counts as an upward overflow).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max: u64 = (1u64 << bits) - 1;
    let wrap = || value.wrapping_add(incr as u64) & max;
    let sum = value as i128 + incr as i128;
    if value > max || sum > max as i128 {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if sum < 0 {
        Some(if ow == Overflow::Sat { 0 } else { wrap() })
    } else {
        None
    }
}

fn bitfield(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    bitfield_generic(t, argv, false)
}

fn bitfield_ro(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    bitfield_generic(t, argv, true)
}

fn bitfield_generic(t: &mut Txn, argv: &[Vec<u8>], ro_cmd: bool) -> CmdResult {
    let key = &argv[1];
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut readonly = true;
    let mut highest_write: u64 = 0;
    let mut j = 2;
    while j < argv.len() {
        let rem = argv.len() - j - 1;
        let sub = &argv[j];
        let op = if args::is(sub, "get") && rem >= 2 {
            FieldOp::Get
        } else if args::is(sub, "set") && rem >= 3 {
            FieldOp::Set
        } else if args::is(sub, "incrby") && rem >= 3 {
            FieldOp::Incrby
        } else if args::is(sub, "overflow") && rem >= 1 {
            let w = &argv[j + 1];
            overflow = if args::is(w, "wrap") {
                Overflow::Wrap
            } else if args::is(w, "sat") {
                Overflow::Sat
            } else if args::is(w, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::new("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::syntax());
        };
        let (signed, bits) = field_type(&argv[j + 1])?;
        let offset = bit_offset(&argv[j + 2], true, bits)?;
        let mut value = 0;
        if op != FieldOp::Get {
            readonly = false;
            highest_write = highest_write.max(offset + bits as u64 - 1);
            value = parse_i64(&argv[j + 3])?;
        }
        ops.push(Field {
            op,
            offset,
            value,
            overflow,
            bits,
            signed,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }

    let (mut buf, ttl) = if readonly {
        (string::get(t, key)?.unwrap_or_default(), 0)
    } else {
        if ro_cmd {
            return Err(CmdError::new(
                "ERR BITFIELD_RO only supports the GET subcommand",
            ));
        }
        string_for_bit_write(t, key, highest_write)?
    };

    let mut replies = Vec::with_capacity(ops.len());
    for f in &ops {
        match f.op {
            FieldOp::Get => {
                replies.push(Frame::Integer(if f.signed {
                    get_signed(&buf, f.offset, f.bits)
                } else {
                    get_unsigned(&buf, f.offset, f.bits) as i64
                }));
            }
            FieldOp::Set | FieldOp::Incrby => {
                let incr = f.op == FieldOp::Incrby;
                let (reply, write) = if f.signed {
                    let old = get_signed(&buf, f.offset, f.bits);
                    let (base, by) = if incr { (old, f.value) } else { (f.value, 0) };
                    let ov = signed_overflow(base, by, f.bits, f.overflow);
                    let new = ov.unwrap_or_else(|| base.wrapping_add(by));
                    let failed = ov.is_some() && f.overflow == Overflow::Fail;
                    (
                        if incr { new } else { old },
                        (!failed).then_some(new as u64),
                    )
                } else {
                    let old = get_unsigned(&buf, f.offset, f.bits);
                    let (base, by) = if incr {
                        (old, f.value)
                    } else {
                        (f.value as u64, 0)
                    };
                    let ov = unsigned_overflow(base, by, f.bits, f.overflow);
                    let new = ov.unwrap_or_else(|| base.wrapping_add(by as u64));
                    let failed = ov.is_some() && f.overflow == Overflow::Fail;
                    (
                        if incr { new as i64 } else { old as i64 },
                        (!failed).then_some(new),
                    )
                };
                match write {
                    Some(new) => {
                        set_bits(&mut buf, f.offset, f.bits, new);
                        replies.push(Frame::Integer(reply));
                    }
                    None => replies.push(Frame::Null),
                }
            }
        }
    }
    if !readonly {
        // Redis grows (or creates) the string before running the ops, so the write
        // happens even when every op failed.
        string::put(t, key, buf, ttl)?;
    }
    Ok(Frame::Array(replies))
}
