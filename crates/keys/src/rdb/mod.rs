//! Redis's serialization of one value, as DUMP produces and RESTORE consumes it: the
//! RDB value encoding (object type byte, then the object), the 2-byte RDB version
//! (little endian) and the CRC-64 of everything before it (little endian).
//!
//! [`encode`] writes what redis-server 7.0 (RDB version 10) writes for a value, with
//! Redis's default encoding thresholds, except that strings are never LZF-compressed
//! (Redis compresses strings over 20 bytes when `rdbcompression` is on; both forms
//! load everywhere). [`decode`] reads every encoding Redis 7.0 loads for strings,
//! lists, sets, hashes, sorted sets and streams, including the pre-7.0 ziplist,
//! zipmap and quicklist types and LZF-compressed strings, and refuses anything else.
//! The reader checks every declared length against the bytes left and charges every
//! decoded byte to a caller-given budget, so a hostile payload can neither panic it nor
//! make it allocate more than the budget.

mod crc64;
pub mod file;
pub mod listpack;
mod lzf;
mod stream;

pub use crc64::crc64;
pub use stream::{Stream, StreamConsumer, StreamEntry, StreamGroup, StreamNode};

use listpack::Item;

/// The RDB version Redis 7.0 writes (and the newest it loads).
pub const RDB_VERSION: u16 = 10;

// Object types (rdb.h).
pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_MODULE_2: u8 = 7;

/// RedisJSON's module type id: "ReJSON-RL" in Redis's 6-bit module-name alphabet,
/// then encoding version 3 in the low 10 bits (moduleTypeEncodeId).
pub const REJSON_MODULE_ID: u64 = rejson_id();
const MODULE_OPCODE_EOF: u64 = 0;
const MODULE_OPCODE_STRING: u64 = 5;

const fn rejson_id() -> u64 {
    const CSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const NAME: &[u8] = b"ReJSON-RL";
    let mut id: u64 = 0;
    let mut j = 0;
    while j < 9 {
        let mut p = 0;
        while CSET[p] != NAME[j] {
            p += 1;
        }
        id = (id << 6) | p as u64;
        j += 1;
    }
    (id << 10) | 3
}

/// Redis's default encoding thresholds.
pub const HASH_MAX_LISTPACK_ENTRIES: usize = 128;
pub const HASH_MAX_LISTPACK_VALUE: usize = 64;
pub const ZSET_MAX_LISTPACK_ENTRIES: usize = 128;
pub const ZSET_MAX_LISTPACK_VALUE: usize = 64;
pub const SET_MAX_INTSET_ENTRIES: usize = 512;
/// list-max-listpack-size -2: quicklist nodes of at most 8 KB.
pub const LIST_NODE_MAX_BYTES: usize = 8192;

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    /// Elements in order.
    List(Vec<Vec<u8>>),
    /// Unique members.
    Set(Vec<Vec<u8>>),
    /// Unique fields with their values.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// Unique members with their scores (never NaN). [`encode`] wants them sorted by
    /// (score, member).
    ZSet(Vec<(Vec<u8>, f64)>),
    Stream(Stream),
    /// A JSON document as JSON text, in RedisJSON's module payload (RDB_TYPE_MODULE_2,
    /// module `ReJSON-RL` encoding version 3: one string opcode holding the text).
    Json(Vec<u8>),
}

/// Why a payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Too short, an RDB version newer than [`RDB_VERSION`], or a checksum mismatch:
    /// "ERR DUMP payload version or checksum are wrong".
    VersionOrChecksum,
    /// Anything wrong in the value itself: "ERR Bad data format".
    BadFormat,
}

/// Redis's verifyDumpPayload: at least the 10-byte footer, a version Redis 7.0 reads,
/// and a matching CRC-64.
pub fn verify(payload: &[u8]) -> Result<(), Error> {
    if payload.len() < 10 {
        return Err(Error::VersionOrChecksum);
    }
    let footer = &payload[payload.len() - 10..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(Error::VersionOrChecksum);
    }
    let crc = crc64(0, &payload[..payload.len() - 8]);
    if crc.to_le_bytes() != footer[2..10] {
        return Err(Error::VersionOrChecksum);
    }
    Ok(())
}

/// Verifies `payload` ([`verify`]) and decodes its value, charging decoded bytes (and
/// a fixed overhead per element) to `budget`; over budget is [`Error::BadFormat`].
/// As Redis, the object is read from the payload's start and what follows it up to
/// the footer is not looked at.
pub fn decode(payload: &[u8], budget: u64) -> Result<Value, Error> {
    verify(payload)?;
    let mut r = Reader {
        buf: payload,
        pos: 0,
        budget,
    };
    read_value(&mut r).ok_or(Error::BadFormat)
}

/// The DUMP payload of `v`: object type, object, RDB version 10, CRC-64.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        Value::String(s) => {
            out.push(TYPE_STRING);
            put_string(&mut out, s);
        }
        Value::List(items) => encode_list(&mut out, items),
        Value::Set(members) => encode_set(&mut out, members),
        Value::Hash(fields) => encode_hash(&mut out, fields),
        Value::ZSet(entries) => encode_zset(&mut out, entries),
        Value::Stream(s) => {
            out.push(TYPE_STREAM_LISTPACKS_2);
            stream::encode(&mut out, s);
        }
        Value::Json(text) => {
            out.push(TYPE_MODULE_2);
            put_len(&mut out, REJSON_MODULE_ID);
            put_len(&mut out, MODULE_OPCODE_STRING);
            put_string(&mut out, text);
            put_len(&mut out, MODULE_OPCODE_EOF);
        }
    }
    finish(out)
}

/// Appends the footer (version, CRC-64) to an encoded object.
pub fn finish(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

// ---- writing ------------------------------------------------------------------------------

/// rdbSaveLen.
pub(crate) fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push((n & 0xff) as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// rdbSaveRawString without compression: short canonical integers in the int8/16/32
/// encodings, anything else as length + bytes.
pub(crate) fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(v) = listpack::string_to_i64(s) {
            if (-(1 << 7)..(1 << 7)).contains(&v) {
                out.push(0xc0);
                out.push(v as i8 as u8);
                return;
            } else if (-(1 << 15)..(1 << 15)).contains(&v) {
                out.push(0xc1);
                out.extend_from_slice(&(v as i16).to_le_bytes());
                return;
            } else if (-(1i64 << 31)..(1i64 << 31)).contains(&v) {
                out.push(0xc2);
                out.extend_from_slice(&(v as i32).to_le_bytes());
                return;
            }
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn encode_list(out: &mut Vec<u8>, items: &[Vec<u8>]) {
    // quicklist with list-max-listpack-size -2: append to the tail node while it stays
    // within 8 KB (quicklist's estimate: node size + element + 8), else a new node.
    let mut nodes: Vec<Vec<u8>> = Vec::new();
    let mut cur: Option<listpack::Writer> = None;
    for it in items {
        let fits = cur
            .as_ref()
            .is_some_and(|w| w.bytes() + it.len() + 8 <= LIST_NODE_MAX_BYTES);
        if !fits {
            if let Some(w) = cur.take() {
                nodes.push(w.finish());
            }
            cur = Some(listpack::Writer::new());
        }
        if let Some(w) = cur.as_mut() {
            w.push_str(it);
        }
    }
    if let Some(w) = cur.take() {
        nodes.push(w.finish());
    }
    out.push(TYPE_LIST_QUICKLIST_2);
    put_len(out, nodes.len() as u64);
    for n in nodes {
        put_len(out, 2); // QUICKLIST_NODE_CONTAINER_PACKED
        put_string(out, &n);
    }
}

fn encode_set(out: &mut Vec<u8>, members: &[Vec<u8>]) {
    let ints: Option<Vec<i64>> = if members.len() <= SET_MAX_INTSET_ENTRIES {
        members.iter().map(|m| listpack::string_to_i64(m)).collect()
    } else {
        None
    };
    match ints {
        Some(mut v) if !v.is_empty() => {
            v.sort_unstable();
            let width = if v.iter().all(|&x| i16::try_from(x).is_ok()) {
                2
            } else if v.iter().all(|&x| i32::try_from(x).is_ok()) {
                4
            } else {
                8
            };
            let mut is = Vec::with_capacity(8 + v.len() * width);
            is.extend_from_slice(&(width as u32).to_le_bytes());
            is.extend_from_slice(&(v.len() as u32).to_le_bytes());
            for x in v {
                is.extend_from_slice(&x.to_le_bytes()[..width]);
            }
            out.push(TYPE_SET_INTSET);
            put_string(out, &is);
        }
        _ => {
            out.push(TYPE_SET);
            put_len(out, members.len() as u64);
            for m in members {
                put_string(out, m);
            }
        }
    }
}

fn encode_hash(out: &mut Vec<u8>, fields: &[(Vec<u8>, Vec<u8>)]) {
    let small = fields.len() <= HASH_MAX_LISTPACK_ENTRIES
        && fields
            .iter()
            .all(|(f, v)| f.len() <= HASH_MAX_LISTPACK_VALUE && v.len() <= HASH_MAX_LISTPACK_VALUE);
    if small {
        let mut w = listpack::Writer::new();
        for (f, v) in fields {
            w.push_str(f);
            w.push_str(v);
        }
        out.push(TYPE_HASH_LISTPACK);
        put_string(out, &w.finish());
    } else {
        out.push(TYPE_HASH);
        put_len(out, fields.len() as u64);
        for (f, v) in fields {
            put_string(out, f);
            put_string(out, v);
        }
    }
}

fn encode_zset(out: &mut Vec<u8>, entries: &[(Vec<u8>, f64)]) {
    let small = entries.len() <= ZSET_MAX_LISTPACK_ENTRIES
        && entries
            .iter()
            .all(|(m, _)| m.len() <= ZSET_MAX_LISTPACK_VALUE);
    if small {
        let mut w = listpack::Writer::new();
        for (m, s) in entries {
            w.push_str(m);
            w.push_str(d2string(*s).as_bytes());
        }
        out.push(TYPE_ZSET_LISTPACK);
        put_string(out, &w.finish());
    } else {
        // The skiplist from its tail: the greatest element first.
        out.push(TYPE_ZSET_2);
        put_len(out, entries.len() as u64);
        for (m, s) in entries.iter().rev() {
            put_string(out, m);
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
}

/// Redis 7.0's d2string: integral values in a safe range as integers, else `%.17g`.
pub fn d2string(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v < 0.0 { "-inf" } else { "inf" }.into()
    } else if v == 0.0 {
        if v.is_sign_negative() { "-0" } else { "0" }.into()
    } else if v > -4503599627370495.0 && v < 4503599627370496.0 && v == (v as i64) as f64 {
        (v as i64).to_string()
    } else {
        fmt_g17(v)
    }
}

/// printf's `%.17g` for a finite, non-zero value.
pub fn fmt_g17(v: f64) -> String {
    let sci = format!("{:.16e}", v); // d.dddddddddddddddde±x
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..17).contains(&exp) {
        // Fixed notation with 17 significant digits, trailing zeros removed.
        let decimals = (16 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, v);
        strip_zeros(&s)
    } else {
        let m = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    }
}

fn strip_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

// ---- reading ------------------------------------------------------------------------------

/// Bytes charged per decoded element on top of its own bytes.
const ELEMENT_COST: u64 = 32;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    budget: u64,
}

/// A length as rdbLoadLen reads it, or one of the special string encodings.
enum Len {
    Plain(u64),
    Int8,
    Int16,
    Int32,
    Lzf,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub(crate) fn charge(&mut self, n: u64) -> Option<()> {
        self.budget = self.budget.checked_sub(n.checked_add(ELEMENT_COST)?)?;
        Some(())
    }

    fn len_or_enc(&mut self) -> Option<Len> {
        let b = self.byte()?;
        Some(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain((((b & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
                _ => return None,
            },
            _ => match b & 0x3f {
                0 => Len::Int8,
                1 => Len::Int16,
                2 => Len::Int32,
                3 => Len::Lzf,
                _ => return None,
            },
        })
    }

    /// rdbLoadLen.
    pub(crate) fn len(&mut self) -> Option<u64> {
        match self.len_or_enc()? {
            Len::Plain(n) => Some(n),
            _ => None,
        }
    }

    /// A declared element count, capped for preallocation by the bytes left (every
    /// element takes at least one byte).
    fn count(&mut self) -> Option<(u64, usize)> {
        let n = self.len()?;
        Some((n, (n.min(self.left() as u64) as usize).min(1 << 16)))
    }

    /// rdbGenericLoadStringObject.
    pub(crate) fn string(&mut self) -> Option<Vec<u8>> {
        let s = match self.len_or_enc()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).ok()?;
                if n > self.left() {
                    return None;
                }
                self.take(n)?.to_vec()
            }
            Len::Int8 => (self.byte()? as i8).to_string().into_bytes(),
            Len::Int16 => i16::from_le_bytes(self.take(2)?.try_into().ok()?)
                .to_string()
                .into_bytes(),
            Len::Int32 => i32::from_le_bytes(self.take(4)?.try_into().ok()?)
                .to_string()
                .into_bytes(),
            Len::Lzf => {
                let clen = usize::try_from(self.len()?).ok()?;
                let len = self.len()?;
                if len == 0 || clen > self.left() || len > self.budget {
                    return None;
                }
                let comp = self.take(clen)?;
                lzf::decompress(comp, usize::try_from(len).ok()?)?
            }
        };
        self.charge(s.len() as u64)?;
        Some(s)
    }

    /// rdbLoadDoubleValue (the ZSET type's text scores).
    fn text_double(&mut self) -> Option<f64> {
        let n = self.byte()?;
        match n {
            253 => None, // NaN is refused
            254 => Some(f64::INFINITY),
            255 => Some(f64::NEG_INFINITY),
            _ => parse_score(self.take(n as usize)?),
        }
    }

    fn binary_double(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(crate) fn ms_time(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(crate) fn raw(&mut self, n: usize) -> Option<&'a [u8]> {
        self.take(n)
    }
}

/// A score as Redis parses one (strtod): decimal, `inf`/`-inf`; NaN refused.
pub fn parse_score(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    let v: f64 = match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if t.is_empty()
                || !t
                    .bytes()
                    .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c))
            {
                return None;
            }
            t.parse().ok()?
        }
    };
    (!v.is_nan()).then_some(v)
}

fn items_to_bytes(r: &mut Reader, items: &[Item]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let b = it.to_bytes();
        r.charge(b.len() as u64)?;
        out.push(b);
    }
    Some(out)
}

fn pairs(flat: Vec<Vec<u8>>) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if flat.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Some(out)
}

fn unique_sorted<T>(mut v: Vec<(Vec<u8>, T)>) -> Option<Vec<(Vec<u8>, T)>> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    if v.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }
    Some(v)
}

fn hash_of(flat: Vec<Vec<u8>>) -> Option<Value> {
    let h = unique_sorted(pairs(flat)?)?;
    (!h.is_empty()).then_some(Value::Hash(h))
}

fn zset_of(flat: Vec<Vec<u8>>) -> Option<Value> {
    let mut z = Vec::new();
    for (m, s) in pairs(flat)? {
        z.push((m, parse_score(&s)?));
    }
    let z = unique_sorted(z)?;
    (!z.is_empty()).then_some(Value::ZSet(z))
}

fn read_value(r: &mut Reader) -> Option<Value> {
    let ty = r.byte()?;
    let v = match ty {
        TYPE_STRING => Value::String(r.string()?),
        TYPE_LIST | TYPE_SET => {
            let (n, cap) = r.count()?;
            let mut items = Vec::with_capacity(cap);
            for _ in 0..n {
                items.push(r.string()?);
            }
            if items.is_empty() {
                return None;
            }
            if ty == TYPE_LIST {
                Value::List(items)
            } else {
                items.sort();
                if items.windows(2).any(|w| w[0] == w[1]) {
                    return None;
                }
                Value::Set(items)
            }
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let (n, cap) = r.count()?;
            let mut z = Vec::with_capacity(cap);
            for _ in 0..n {
                let m = r.string()?;
                let s = if ty == TYPE_ZSET {
                    r.text_double()?
                } else {
                    r.binary_double()?
                };
                if s.is_nan() {
                    return None;
                }
                z.push((m, s));
            }
            let z = unique_sorted(z)?;
            if z.is_empty() {
                return None;
            }
            Value::ZSet(z)
        }
        TYPE_HASH => {
            let (n, cap) = r.count()?;
            let mut h = Vec::with_capacity(cap);
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                h.push((f, v));
            }
            let h = unique_sorted(h)?;
            if h.is_empty() {
                return None;
            }
            Value::Hash(h)
        }
        TYPE_HASH_ZIPMAP => {
            let blob = r.string()?;
            let mut flat = Vec::new();
            for (k, v) in listpack::read_zipmap(&blob)? {
                r.charge((k.len() + v.len()) as u64)?;
                flat.push(k.to_vec());
                flat.push(v.to_vec());
            }
            hash_of(flat)?
        }
        TYPE_LIST_ZIPLIST => {
            let blob = r.string()?;
            let items = listpack::read_ziplist(&blob)?;
            let items = items_to_bytes(r, &items)?;
            if items.is_empty() {
                return None;
            }
            Value::List(items)
        }
        TYPE_SET_INTSET => {
            let blob = r.string()?;
            let ints = listpack::read_intset(&blob)?;
            if ints.is_empty() {
                return None;
            }
            let mut members = Vec::with_capacity(ints.len());
            for i in ints {
                let b = i.to_string().into_bytes();
                r.charge(b.len() as u64)?;
                members.push(b);
            }
            members.sort();
            Value::Set(members)
        }
        TYPE_ZSET_ZIPLIST | TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK | TYPE_ZSET_LISTPACK => {
            let blob = r.string()?;
            let items = if matches!(ty, TYPE_ZSET_ZIPLIST | TYPE_HASH_ZIPLIST) {
                listpack::read_ziplist(&blob)?
            } else {
                listpack::read(&blob)?
            };
            let flat = items_to_bytes(r, &items)?;
            if matches!(ty, TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK) {
                zset_of(flat)?
            } else {
                hash_of(flat)?
            }
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let (n, _) = r.count()?;
            let mut items = Vec::new();
            for _ in 0..n {
                let container = if ty == TYPE_LIST_QUICKLIST_2 {
                    r.len()?
                } else {
                    2
                };
                let blob = r.string()?;
                match container {
                    1 => items.push(blob), // a plain node: one element
                    2 => {
                        let els = if ty == TYPE_LIST_QUICKLIST_2 {
                            listpack::read(&blob)?
                        } else {
                            listpack::read_ziplist(&blob)?
                        };
                        items.extend(items_to_bytes(r, &els)?);
                    }
                    _ => return None,
                }
            }
            if items.is_empty() {
                return None;
            }
            Value::List(items)
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => {
            Value::Stream(stream::decode(r, ty == TYPE_STREAM_LISTPACKS_2)?)
        }
        TYPE_MODULE_2 => {
            // Only RedisJSON's documents; any other module is unknown here.
            if r.len()? != REJSON_MODULE_ID || r.len()? != MODULE_OPCODE_STRING {
                return None;
            }
            let text = r.string()?;
            if r.len()? != MODULE_OPCODE_EOF {
                return None;
            }
            Value::Json(text)
        }
        _ => return None,
    };
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Payloads redis-server 7.0.15 produced (DUMP with `rdbcompression no`).
    #[test]
    fn redis_payloads() {
        let b = |s: &str| s.as_bytes().to_vec();
        let cases = vec![
            ("000568656c6c6f0a006372df766534200a", Value::String(b("hello"))),
            (
                "001e7878787878787878787878787878787878787878787878787878787878780a00a166787687a2e843",
                Value::String(vec![b'x'; 30]),
            ),
            (
                "1201020f0f00000003008161020101816202ff0a009043a34ceb8e1b1c",
                Value::List(vec![b("a"), b("1"), b("b")]),
            ),
            (
                "0b0e0200000003000000010002002c010a00e510b28e7b9529aa",
                Value::Set(vec![b("1"), b("2"), b("300")]),
            ),
            (
                "111414000000040081610283312e35048162020201ff0a00fa02b425af188763",
                Value::ZSet(vec![(b("a"), 1.5), (b("b"), 2.0)]),
            ),
            (
                "10121200000004008166020101816702817602ff0a002d70a0e76dcca767",
                Value::Hash(vec![(b("f"), b("1")), (b("g"), b("v"))]),
            ),
        ];
        for (h, v) in cases {
            let p = hex(h);
            assert_eq!(encode(&v), p, "{v:?}");
            assert_eq!(decode(&p, 1 << 20), Ok(v));
        }
        // XADD st 1-1 a 1 b 2; XADD st 2-0 a 3 b x; XADD st 3-0 c 4; XDEL st 2-0;
        // XGROUP CREATE st g 0; XREADGROUP GROUP g alice COUNT 1 STREAMS st >;
        // XGROUP CREATECONSUMER st g bob
        let p = hex("130110000000000000000100000000000000013f3f0000001900020101010201816102816202000102010001000101010201050103010101dfff020301817802050100010201dfff02010181630204010601ff0203000101020003010167010181ffffffffffffffff010000000000000001000000000000000176414946a2010000010205616c69636576414946a2010000010000000000000001000000000000000103626f627f414946a2010000000a006dbc1f1edb38acfa");
        let Ok(Value::Stream(s)) = decode(&p, 1 << 20) else {
            panic!("stream payload refused");
        };
        assert_eq!(s.length, 2);
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(s.nodes[0].entries.len(), 3);
        assert!(s.nodes[0].entries[1].deleted);
        assert_eq!(s.nodes[0].entries[2].items, vec![b("c"), b("4")]);
        assert_eq!(s.nodes[0].bytes, 63);
        assert_eq!(s.last, crate::stream::Id::new(3, 0));
        assert_eq!(s.first, crate::stream::Id::new(1, 1));
        assert_eq!(s.max_deleted, crate::stream::Id::new(2, 0));
        assert_eq!(s.entries_added, 3);
        let g = &s.groups[0];
        assert_eq!((g.name.as_slice(), g.entries_read), (&b"g"[..], -1));
        assert_eq!(g.pel.len(), 1);
        assert_eq!(g.consumers.len(), 2);
        assert_eq!(g.consumers[0].pel, vec![crate::stream::Id::new(1, 1)]);
    }

    /// Pre-7.0 encodings, built by hand: ziplist (list, quicklist v1, hash, zset) and
    /// zipmap.
    #[test]
    fn old_encodings() {
        let b = |s: &str| s.as_bytes().to_vec();
        let mut zl = vec![27, 0, 0, 0, 19, 0, 0, 0, 4, 0];
        zl.extend_from_slice(&[0, 0x01, b'a']); // "a"
        zl.extend_from_slice(&[3, 0xf6]); // immediate 5
        zl.extend_from_slice(&[2, 0xc0, 0x2c, 0x01]); // int16 300
        zl.extend_from_slice(&[4, 0x05, b'h', b'e', b'l', b'l', b'o']);
        zl.push(0xff);
        let items = vec![b("a"), b("5"), b("300"), b("hello")];
        let with = |ty: u8, prefix: &[u8], blob: &[u8]| {
            let mut out = vec![ty];
            out.extend_from_slice(prefix);
            put_string(&mut out, blob);
            decode(&finish(out), 1 << 20)
        };
        assert_eq!(
            with(TYPE_LIST_ZIPLIST, &[], &zl),
            Ok(Value::List(items.clone()))
        );
        assert_eq!(with(TYPE_LIST_QUICKLIST, &[1], &zl), Ok(Value::List(items)));
        assert_eq!(
            with(TYPE_HASH_ZIPLIST, &[], &zl),
            Ok(Value::Hash(vec![(b("300"), b("hello")), (b("a"), b("5"))]))
        );
        assert_eq!(with(TYPE_ZSET_ZIPLIST, &[], &zl), Err(Error::BadFormat)); // "hello" is no score
        let mut bad = zl.clone();
        bad[4] = 18; // wrong tail offset
        assert_eq!(with(TYPE_LIST_ZIPLIST, &[], &bad), Err(Error::BadFormat));
        let zm = [1, 1, b'f', 1, 0, b'v', 0xff];
        assert_eq!(
            with(TYPE_HASH_ZIPMAP, &[], &zm),
            Ok(Value::Hash(vec![(b("f"), b("v"))]))
        );
        // The ZSET type's text scores, and a NaN refused.
        let mut z = vec![TYPE_ZSET, 2, 1, b'a', 3, b'1', b'.', b'5', 1, b'b', 255];
        assert_eq!(
            decode(&finish(z.clone()), 1 << 20),
            Ok(Value::ZSet(vec![
                (b("a"), 1.5),
                (b("b"), f64::NEG_INFINITY)
            ]))
        );
        z[10] = 253;
        assert_eq!(decode(&finish(z), 1 << 20), Err(Error::BadFormat));
        // Empty collections are refused, as Redis's RESTORE does.
        assert_eq!(
            decode(&finish(vec![TYPE_SET, 0]), 1 << 20),
            Err(Error::BadFormat)
        );
        // Duplicates too.
        assert_eq!(
            decode(&finish(vec![TYPE_SET, 2, 1, b'x', 1, b'x']), 1 << 20),
            Err(Error::BadFormat)
        );
    }

    #[test]
    fn checksum_and_version() {
        let mut p = encode(&Value::String(b"x".to_vec()));
        assert!(verify(&p).is_ok());
        let n = p.len();
        p[n - 1] ^= 1;
        assert_eq!(decode(&p, 1 << 20), Err(Error::VersionOrChecksum));
        assert_eq!(decode(b"short", 1 << 20), Err(Error::VersionOrChecksum));
        let mut body = vec![TYPE_STRING, 1, b'x'];
        body.extend_from_slice(&11u16.to_le_bytes());
        let crc = crc64(0, &body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&body, 1 << 20), Err(Error::VersionOrChecksum));
    }

    #[test]
    fn round_trips() {
        let big: Vec<Vec<u8>> = (0..3000)
            .map(|i| format!("element-{i}").into_bytes())
            .collect();
        let values = vec![
            Value::String(vec![]),
            Value::Json(br#"{"a":[1,2.5,"x"]}"#.to_vec()),
            Value::String(b"-2147483648".to_vec()),
            Value::String(vec![7; 100_000]),
            Value::List(vec![b"a".to_vec(), b"1".to_vec(), vec![]]),
            Value::List(big.clone()),
            Value::Set(vec![b"-5".to_vec(), b"100000".to_vec(), b"7".to_vec()]),
            Value::Set(vec![b"a".to_vec(), b"b".to_vec()]),
            Value::Hash(vec![
                (b"f".to_vec(), b"1".to_vec()),
                (b"g".to_vec(), vec![b'v'; 65]),
            ]),
            Value::ZSet(vec![
                (b"a".to_vec(), -1.5),
                (b"b".to_vec(), 0.1),
                (b"c".to_vec(), 3.0),
            ]),
            Value::ZSet(
                (0..200)
                    .map(|i| (format!("m{i:04}").into_bytes(), i as f64 / 3.0))
                    .collect(),
            ),
        ];
        for v in values {
            let p = encode(&v);
            let mut back = decode(&p, 1 << 30).unwrap();
            if let (Value::Set(a), Value::Set(b)) = (&v, &mut back) {
                let mut a = a.clone();
                a.sort();
                assert_eq!(&a, b);
                continue;
            }
            assert_eq!(back, v);
        }
    }

    #[test]
    fn g17() {
        assert_eq!(d2string(1.5), "1.5");
        assert_eq!(d2string(0.1), "0.10000000000000001");
        assert_eq!(d2string(3.0), "3");
        assert_eq!(d2string(-0.0), "-0");
        assert_eq!(d2string(1e20), "1e+20");
        assert_eq!(d2string(1.0e-5), "1.0000000000000001e-05");
        assert_eq!(d2string(123456.789), "123456.789");
        assert_eq!(d2string(f64::INFINITY), "inf");
        assert_eq!(d2string(4503599627370496.0), "4503599627370496");
    }

    #[test]
    fn budget_is_enforced() {
        let p = encode(&Value::String(vec![1; 1000]));
        assert_eq!(decode(&p, 100), Err(Error::BadFormat));
        assert!(decode(&p, 2000).is_ok());
    }
}
