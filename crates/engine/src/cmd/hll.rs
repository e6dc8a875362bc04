//! HyperLogLog commands (hyperloglog.c of Redis 7): PFADD, PFCOUNT, PFMERGE.
//!
//! Layout: an HLL is a plain String key (`types::string::put` / `get`) whose value
//! is byte for byte Redis's representation, so GET of an HLL here is a value real
//! Redis's PFCOUNT accepts, and a value SET from Redis works here:
//!
//! ```text
//! +------+---+-----+----------+------------------------------+
//! | HYLL | E | N/U | Cardin.  | registers ...                |
//! +------+---+-----+----------+------------------------------+
//!  4 bytes: magic "HYLL"; 1 byte: encoding (0 dense, 1 sparse); 3 bytes unused (0);
//!  8 bytes: cached cardinality, little endian, its most significant bit set = stale.
//! ```
//!
//! - 16384 registers (P = 14) of 6 bits. An element's register and count come from
//!   MurmurHash64A (seed 0xadc83b19): the low 14 bits pick the register, the count is
//!   1 + the number of trailing zeros of the remaining 50 bits (a 1 forced at bit 50).
//! - Dense: 12288 bytes of 6-bit registers packed from the least significant bit of
//!   each byte on (register 0 is the low 6 bits of byte 0).
//! - Sparse: run-length opcodes: `00xxxxxx` ZERO (1..64 zero registers),
//!   `01xxxxxx yyyyyyyy` XZERO (1..16384 zero registers), `1vvvvvxx` VAL (1..4
//!   registers of value 1..32). A new HLL is one XZERO of 16384. Updates split and
//!   re-merge opcodes exactly as Redis's hllSparseSet does, so the bytes match; a
//!   value above 32 or a sparse form that would grow past 3000 bytes
//!   (hll-sparse-max-bytes' default) promotes the HLL to dense.
//! - The estimate is Redis 7's (Otmar Ertl's improved estimator over the register
//!   histogram), so counts match Redis's for the same registers.
//!
//! Differences from Redis, on purpose: PFCOUNT runs on the read path and never writes,
//! so it does not store the cardinality it computed into the cache (Redis does, which
//! makes a single-key PFCOUNT a write there); a valid cached value is still used. A
//! PFADD that meets a corrupt sparse HLL fails without changing anything (Redis keeps
//! the elements added before the corruption was found). PFDEBUG and PFSELFTEST are
//! not provided.
//!
//! Costs: PFADD O(1) per element on a dense HLL, O(sparse bytes ≤ 3000) on a sparse
//! one; PFCOUNT and PFMERGE O(16384) per key; the whole value is rewritten by each
//! write (≤ 12304 bytes).

use super::spec;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec};
use crate::txn::Txn;
use crate::types::string;
use crate::Frame;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let a: &'static [&'static str] = &["hyperloglog"];
    let g = "hyperloglog";
    vec![
        spec("pfadd", -2, WRITE | DENYOOM | FAST, keys(1, 1, 1), a, g, "2.8.9", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", E(pfadd)),
        spec("pfcount", -2, READONLY, keys(1, -1, 1), a, g, "2.8.9", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", E(pfcount)),
        spec("pfmerge", -2, WRITE | DENYOOM, keys(1, -1, 1), a, g, "2.8.9", "Merges one or more HyperLogLog values into a single key.", E(pfmerge)),
    ]
}

// ---- representation -------------------------------------------------------------------

const HDR_SIZE: usize = 16;
const P: u32 = 14;
const Q: u32 = 64 - P;
const REGISTERS: usize = 1 << P;
const P_MASK: u64 = (REGISTERS - 1) as u64;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * BITS).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const MAX_ENCODING: u8 = 1;
/// hll-sparse-max-bytes (Redis's default).
const SPARSE_MAX_BYTES: usize = 3000;
const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// 0.5 / ln(2).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
const SEED: u32 = 0xadc83b19;

fn not_hll() -> CmdError {
    CmdError::new("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

fn corrupted() -> CmdError {
    CmdError::new("INVALIDOBJ Corrupted HLL object detected")
}

/// A sparse representation found inconsistent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Corrupt;

/// MurmurHash2, 64-bit version (MurmurHash64A), endian-neutral as in Redis.
pub(crate) fn murmur64a(key: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4a7935bd1e995;
    const R: u32 = 47;
    let len = key.len();
    let mut h: u64 = (seed as u64) ^ (len as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, &b) in rest.iter().enumerate().rev() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// hllPatLen: (register index, count) of an element.
pub(crate) fn pat_len(ele: &[u8]) -> (usize, u8) {
    let mut hash = murmur64a(ele, SEED);
    let index = (hash & P_MASK) as usize;
    hash >>= P;
    hash |= 1u64 << Q;
    (index, (hash.trailing_zeros() + 1) as u8)
}

/// A new, empty HLL: sparse, one XZERO opcode covering every register, cached
/// cardinality 0 (valid).
pub(crate) fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR_SIZE + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut aux = REGISTERS;
    while aux > 0 {
        let x = aux.min(SPARSE_XZERO_MAX_LEN);
        xzero_bytes(&mut v, x);
        aux -= x;
    }
    v
}

/// isHLLObjectOrReply's checks (the type check is the caller's).
pub(crate) fn is_valid(v: &[u8]) -> bool {
    v.len() >= HDR_SIZE
        && &v[..4] == b"HYLL"
        && v[4] <= MAX_ENCODING
        && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

fn invalidate_cache(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// The cached cardinality, if valid.
fn cached_card(v: &[u8]) -> Option<u64> {
    (v[15] & 0x80 == 0).then(|| u64::from_le_bytes(v[8..16].try_into().expect("8 bytes")))
}

// ---- dense ------------------------------------------------------------------------------

/// Register `i` of dense registers `r` (the byte after the last one reads as 0, like
/// the sds terminator Redis relies on).
fn dense_get(r: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = r.get(byte).copied().unwrap_or(0) as u32;
    let b1 = r.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

fn dense_set(r: &mut [u8], i: usize, val: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let fb8 = 8 - fb;
    let v = val as u32;
    let max = REGISTER_MAX as u32;
    if let Some(b) = r.get_mut(byte) {
        *b &= !((max << fb) as u8);
        *b |= (v << fb) as u8;
    }
    if let Some(b) = r.get_mut(byte + 1) {
        *b &= !((max >> fb8) as u8);
        *b |= (v >> fb8) as u8;
    }
}

/// hllDenseSet: raises register `i` to `count`; true if it changed.
fn dense_set_if_greater(r: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(r, i) {
        dense_set(r, i, count);
        true
    } else {
        false
    }
}

// ---- sparse -----------------------------------------------------------------------------

fn is_zero_op(b: u8) -> bool {
    b & 0xc0 == 0
}

fn is_xzero_op(b: u8) -> bool {
    b & 0xc0 == 0x40
}

fn is_val_op(b: u8) -> bool {
    b & 0x80 != 0
}

fn zero_len(b: u8) -> usize {
    (b & 0x3f) as usize + 1
}

fn xzero_len(b0: u8, b1: u8) -> usize {
    ((((b0 & 0x3f) as usize) << 8) | b1 as usize) + 1
}

fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}

fn val_len(b: u8) -> usize {
    (b & 0x3) as usize + 1
}

fn val_op(val: u8, len: usize) -> u8 {
    (((val - 1) << 2) | (len as u8 - 1)) | 0x80
}

fn zero_op(len: usize) -> u8 {
    (len - 1) as u8
}

fn xzero_bytes(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push((l >> 8) as u8 | 0x40);
    out.push((l & 0xff) as u8);
}

/// Zero-length runs (ZERO or XZERO, whichever fits), as Redis splits them.
fn zero_run(out: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        xzero_bytes(out, len);
    } else {
        out.push(zero_op(len));
    }
}

/// Byte `i` of `v`, 0 past the end (the sds terminator).
fn at(v: &[u8], i: usize) -> u8 {
    v.get(i).copied().unwrap_or(0)
}

/// Visits the sparse opcodes as runs `f(first_register, run_length, value)`; stops
/// early (returning the register count reached) when a VAL run would overflow, as
/// Redis's loops do.
fn sparse_runs(v: &[u8], f: &mut dyn FnMut(usize, usize, u8)) -> usize {
    let end = v.len();
    let mut p = HDR_SIZE;
    let mut idx = 0usize;
    while p < end {
        let b = v[p];
        if is_zero_op(b) {
            idx += zero_len(b);
            p += 1;
        } else if is_xzero_op(b) {
            idx += xzero_len(b, at(v, p + 1));
            p += 2;
        } else {
            let (len, val) = (val_len(b), val_value(b));
            if len + idx > REGISTERS {
                break;
            }
            f(idx, len, val);
            idx += len;
            p += 1;
        }
    }
    idx
}

/// hllSparseToDense (a dense HLL is left as it is). The header, cached cardinality
/// included, is kept.
fn sparse_to_dense(v: &mut Vec<u8>) -> Result<(), Corrupt> {
    if v[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR_SIZE].copy_from_slice(&v[..HDR_SIZE]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR_SIZE..];
    let idx = sparse_runs(v, &mut |first, len, val| {
        for i in first..first + len {
            dense_set(regs, i, val);
        }
    });
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    *v = dense;
    Ok(())
}

/// hllSparseSet: raises register `index` to `count` in a sparse HLL, promoting it to
/// dense when needed. Ok(true) if a register changed.
fn sparse_set(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let mut end = v.len();
    let mut p = HDR_SIZE;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut span = 0usize;
    while p < end {
        let b = v[p];
        let mut oplen = 1;
        if is_zero_op(b) {
            span = zero_len(b);
        } else if is_val_op(b) {
            span = val_len(b);
        } else {
            span = xzero_len(b, at(v, p + 1));
            oplen = 2;
        }
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let b = v[p];
    let (is_zero, is_xzero, is_val) = (is_zero_op(b), is_xzero_op(b), is_val_op(b));
    let runlen = if is_zero {
        zero_len(b)
    } else if is_xzero {
        xzero_len(b, at(v, p + 1))
    } else {
        val_len(b)
    };

    // Step 2: the trivial updates, then the general split.
    let mut updated_in_place = false;
    if is_val {
        let old = val_value(b);
        if old >= count {
            return Ok(false);
        }
        if runlen == 1 {
            v[p] = val_op(count, 1);
            updated_in_place = true;
        }
    }
    if !updated_in_place && is_zero && runlen == 1 {
        v[p] = val_op(count, 1);
        updated_in_place = true;
    }
    if !updated_in_place {
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        if is_zero || is_xzero {
            if index != first {
                zero_run(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                zero_run(&mut seq, last - index);
            }
        } else {
            let curval = val_value(b);
            if index != first {
                seq.push(val_op(curval, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(curval, last - index));
            }
        }
        // Step 3: put the new sequence in place of the old opcode.
        let oldlen = if is_xzero { 2 } else { 1 };
        if seq.len() > oldlen && v.len() + (seq.len() - oldlen) > SPARSE_MAX_BYTES {
            return promote(v, index, count);
        }
        let old_end = (p + oldlen).min(v.len());
        v.splice(p..old_end, seq);
        end = v.len();
    }

    // Step 4: merge adjacent VAL opcodes of the same value, scanning up to 5 opcodes
    // from the previous one.
    let mut p = prev.unwrap_or(HDR_SIZE);
    let mut scanlen = 5;
    while p < end {
        if scanlen == 0 {
            break;
        }
        scanlen -= 1;
        let b = v[p];
        if is_xzero_op(b) {
            p += 2;
            continue;
        } else if is_zero_op(b) {
            p += 1;
            continue;
        }
        if p + 1 < end && is_val_op(v[p + 1]) {
            let (v1, v2) = (val_value(b), val_value(v[p + 1]));
            if v1 == v2 {
                let len = val_len(b) + val_len(v[p + 1]);
                if len <= SPARSE_VAL_MAX_LEN {
                    v[p + 1] = val_op(v1, len);
                    v.remove(p);
                    end -= 1;
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(v);
    Ok(true)
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    sparse_to_dense(v)?;
    let changed = dense_set_if_greater(&mut v[HDR_SIZE..], index, count);
    debug_assert!(changed, "a promotion always updates a register");
    Ok(changed)
}

/// hllAdd: adds one element; Ok(true) if a register changed.
pub(crate) fn add(v: &mut Vec<u8>, ele: &[u8]) -> Result<bool, Corrupt> {
    let (index, count) = pat_len(ele);
    match v[4] {
        DENSE => Ok(dense_set_if_greater(&mut v[HDR_SIZE..], index, count)),
        SPARSE => sparse_set(v, index, count),
        _ => Err(Corrupt),
    }
}

/// hllMerge: `max[i] = max(max[i], register i)`.
fn merge(max: &mut [u8], v: &[u8]) -> Result<(), Corrupt> {
    if v[4] == DENSE {
        let r = &v[HDR_SIZE..];
        for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
            let val = dense_get(r, i);
            if val > *m {
                *m = val;
            }
        }
        return Ok(());
    }
    let idx = sparse_runs(v, &mut |first, len, val| {
        for m in &mut max[first..first + len] {
            if val > *m {
                *m = val;
            }
        }
    });
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

// ---- the estimator ----------------------------------------------------------------------

/// Register histogram of an HLL; Err for an inconsistent sparse one.
fn histogram(v: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut h = [0u32; 64];
    if v[4] == DENSE {
        let r = &v[HDR_SIZE..];
        for i in 0..REGISTERS {
            h[dense_get(r, i) as usize] += 1;
        }
        return Ok(h);
    }
    // hllSparseRegHisto: no overflow check, only the final total.
    let end = v.len();
    let mut p = HDR_SIZE;
    let mut idx = 0usize;
    while p < end {
        let b = v[p];
        if is_zero_op(b) {
            let n = zero_len(b);
            idx += n;
            h[0] += n as u32;
            p += 1;
        } else if is_xzero_op(b) {
            let n = xzero_len(b, at(v, p + 1));
            idx += n;
            h[0] += n as u32;
            p += 2;
        } else {
            let n = val_len(b);
            idx += n;
            h[val_value(b) as usize] += n as u32;
            p += 1;
        }
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

/// Histogram of raw registers (one byte each).
fn raw_histogram(regs: &[u8]) -> [u32; 64] {
    let mut h = [0u32; 64];
    for &r in regs {
        h[(r & 63) as usize] += 1;
    }
    h
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let z_prime = z;
        z += x * y;
        y += y;
        if z_prime == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let z_prime = z;
        y *= 0.5;
        // pow(1 - x, 2) in Redis; compilers emit the exact square.
        z -= (1.0 - x) * (1.0 - x) * y;
        if z_prime == z {
            return z / 3.0;
        }
    }
}

/// hllCount's estimator over a register histogram (Ertl, arXiv:1702.01284).
pub(crate) fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

// ---- commands ---------------------------------------------------------------------------

/// The HLL value at `key` with its TTL: None if the key is missing; WRONGTYPE for
/// non-strings and for strings that are not HLLs.
fn read_hll(t: &Txn, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>, CmdError> {
    match string::open(t, key)? {
        None => Ok(None),
        Some(meta) => {
            if !is_valid(&meta.inline) {
                return Err(not_hll());
            }
            Ok(Some((meta.inline, meta.expire_at_ms)))
        }
    }
}

/// PFADD key [element ...]: 1 if the key was created or a register changed.
fn pfadd(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let (mut hll, ttl, mut updated) = match read_hll(t, key)? {
        Some((v, ttl)) => (v, ttl, false),
        None => (new_sparse(), 0, true),
    };
    for ele in &argv[2..] {
        match add(&mut hll, ele) {
            Ok(true) => updated = true,
            Ok(false) => {}
            Err(Corrupt) => return Err(corrupted()),
        }
    }
    if updated {
        invalidate_cache(&mut hll);
        string::put(t, key, hll, ttl)?;
    }
    Ok(Frame::Integer(updated as i64))
}

/// PFCOUNT key [key ...]: one key answers from a valid cache or computes (without
/// writing the cache back); several keys are merged in memory first.
fn pfcount(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    if argv.len() > 2 {
        let mut max = vec![0u8; REGISTERS];
        for key in &argv[1..] {
            let Some((v, _)) = read_hll(t, key)? else {
                continue;
            };
            merge(&mut max, &v).map_err(|_| corrupted())?;
        }
        return Ok(Frame::Integer(estimate(&raw_histogram(&max)) as i64));
    }
    let Some((v, _)) = read_hll(t, &argv[1])? else {
        return Ok(Frame::Integer(0));
    };
    let card = match cached_card(&v) {
        Some(c) => c,
        None => estimate(&histogram(&v).map_err(|_| corrupted())?),
    };
    Ok(Frame::Integer(card as i64))
}

/// PFMERGE destkey [sourcekey ...]: the destination (an input too) takes the
/// register-wise maximum; it turns dense if any input is dense. Its TTL is kept.
fn pfmerge(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let mut max = vec![0u8; REGISTERS];
    let mut use_dense = false;
    let mut dest: Option<(Vec<u8>, u64)> = None;
    for (j, key) in argv[1..].iter().enumerate() {
        let Some((v, ttl)) = read_hll(t, key)? else {
            continue;
        };
        if v[4] == DENSE {
            use_dense = true;
        }
        merge(&mut max, &v).map_err(|_| corrupted())?;
        if j == 0 {
            dest = Some((v, ttl));
        }
    }
    let (mut hll, ttl) = dest.unwrap_or_else(|| (new_sparse(), 0));
    if use_dense {
        sparse_to_dense(&mut hll).map_err(|_| corrupted())?;
    }
    for (j, &m) in max.iter().enumerate() {
        if m == 0 {
            continue;
        }
        if hll[4] == DENSE {
            dense_set_if_greater(&mut hll[HDR_SIZE..], j, m);
        } else {
            // Redis ignores the result here too: the destination was validated above.
            let _ = sparse_set(&mut hll, j, m);
        }
    }
    invalidate_cache(&mut hll);
    string::put(t, &argv[1], hll, ttl)?;
    Ok(Frame::ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_hll_is_one_xzero() {
        let v = new_sparse();
        assert_eq!(
            v,
            b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff".to_vec()
        );
        assert!(is_valid(&v));
        assert_eq!(estimate(&histogram(&v).unwrap()), 0);
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut r = vec![0u8; DENSE_SIZE - HDR_SIZE];
        for i in 0..REGISTERS {
            dense_set(&mut r, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&r, i), (i % 64) as u8);
        }
    }

    #[test]
    fn registers_match_redis() {
        // Real Redis: PFADD h a gives XZERO:12711 VAL:2,1 XZERO:3672.
        assert_eq!(pat_len(b"a"), (12711, 2));
        let mut v = new_sparse();
        assert_eq!(add(&mut v, b"a"), Ok(true));
        assert_eq!(&v[16..], &[0x71, 0xa6, 0x84, 0x4e, 0x57]);
        assert_eq!(add(&mut v, b"a"), Ok(false));
    }

    #[test]
    fn values_above_32_promote_to_dense() {
        let mut v = new_sparse();
        assert_eq!(sparse_set(&mut v, 100, 33), Ok(true));
        assert_eq!((v.len(), v[4]), (DENSE_SIZE, DENSE));
        assert_eq!(dense_get(&v[HDR_SIZE..], 100), 33);
        let h = histogram(&v).unwrap();
        assert_eq!((h[0], h[33]), (REGISTERS as u32 - 1, 1));
    }

    #[test]
    fn corrupt_sparse_is_refused() {
        // Runs covering fewer registers than there are.
        let mut v = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\x00".to_vec();
        assert_eq!(histogram(&v), Err(Corrupt));
        assert_eq!(sparse_to_dense(&mut v), Err(Corrupt));
        assert_eq!(sparse_set(&mut v, 16200, 1), Err(Corrupt));
        // A truncated XZERO opcode must not panic.
        let mut v = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f".to_vec();
        assert!(histogram(&v).is_err());
        let _ = sparse_set(&mut v, 3, 1);
        let mut max = vec![0u8; REGISTERS];
        assert!(merge(&mut max, &v).is_err() || max.iter().all(|&m| m <= 1));
    }
}
