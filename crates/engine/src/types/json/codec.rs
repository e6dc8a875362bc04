//! The stored form of a JSON document: a compact binary encoding of the value tree.
//!
//! ```text
//! doc    = 0x01 value                  (format version)
//! value  = 0x00                        null
//!        | 0x01 | 0x02                 false | true
//!        | 0x03 i64 (8 bytes LE)       integer that fits i64
//!        | 0x04 u64 (8 bytes LE)       integer above i64::MAX
//!        | 0x05 f64 (8 bytes LE bits)  float (always finite)
//!        | 0x06 len string             UTF-8 bytes
//!        | 0x07 count value*           array
//!        | 0x08 count (len key value)* object, in insertion order
//! len, count = unsigned LEB128
//! ```
//!
//! Binary rather than JSON text because numbers round-trip bit-exactly without
//! re-parsing, and because serde_json's parser (built here without its
//! `unbounded_depth` feature) refuses more than 127 nested levels while a stored
//! document may legitimately be deeper (RedisJSON limits each *input* value, not the
//! document: `JSON.SET k $.deep.path <127 levels>` nests further). The encoder enforces
//! Meridian's own document depth limit, [`MAX_DEPTH`], so every recursive walk over a
//! document (encoding, decoding, serialising, dropping) stays within a thread's stack.
//!
//! This is the one byte layout that lives outside the `keys` crate: it is the encoding
//! of a `serde_json` value tree, and `keys` depends on nothing.

use serde_json::{Map, Number, Value};

/// Most containers a document may nest (RedisJSON has no overall limit; every replica
/// walking an unboundedly deep tree recursively would risk a stack overflow).
pub(crate) const MAX_DEPTH: usize = 1024;

const FORMAT: u8 = 1;
const T_NULL: u8 = 0;
const T_FALSE: u8 = 1;
const T_TRUE: u8 = 2;
const T_I64: u8 = 3;
const T_U64: u8 = 4;
const T_F64: u8 = 5;
const T_STR: u8 = 6;
const T_ARR: u8 = 7;
const T_OBJ: u8 = 8;

/// The document nests deeper than [`MAX_DEPTH`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooDeep;

pub(crate) fn encode(v: &Value) -> Result<Vec<u8>, TooDeep> {
    let mut out = vec![FORMAT];
    enc(v, &mut out, 0)?;
    Ok(out)
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn enc(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), TooDeep> {
    match v {
        Value::Null => out.push(T_NULL),
        Value::Bool(false) => out.push(T_FALSE),
        Value::Bool(true) => out.push(T_TRUE),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push(T_I64);
                out.extend_from_slice(&i.to_le_bytes());
            } else if let Some(u) = n.as_u64() {
                out.push(T_U64);
                out.extend_from_slice(&u.to_le_bytes());
            } else {
                out.push(T_F64);
                let f = n.as_f64().unwrap_or(0.0);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
        }
        Value::String(s) => {
            out.push(T_STR);
            varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            if depth >= MAX_DEPTH {
                return Err(TooDeep);
            }
            out.push(T_ARR);
            varint(out, a.len() as u64);
            for x in a {
                enc(x, out, depth + 1)?;
            }
        }
        Value::Object(o) => {
            if depth >= MAX_DEPTH {
                return Err(TooDeep);
            }
            out.push(T_OBJ);
            varint(out, o.len() as u64);
            for (k, x) in o {
                varint(out, k.len() as u64);
                out.extend_from_slice(k.as_bytes());
                enc(x, out, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Decodes a stored document; None if the bytes are not one.
pub(crate) fn decode(raw: &[u8]) -> Option<Value> {
    let (&format, rest) = raw.split_first()?;
    if format != FORMAT {
        return None;
    }
    let mut d = Decoder { b: rest, pos: 0 };
    let v = d.value(0)?;
    (d.pos == d.b.len()).then_some(v)
}

struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn word(&mut self) -> Option<[u8; 8]> {
        self.take(8)?.try_into().ok()
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn len(&mut self) -> Option<usize> {
        let n = usize::try_from(self.varint()?).ok()?;
        // Every element takes at least a byte: a count beyond the input is corrupt
        // (and must not drive a huge allocation).
        (n <= self.b.len() - self.pos).then_some(n)
    }

    fn string(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        Some(match self.byte()? {
            T_NULL => Value::Null,
            T_FALSE => Value::Bool(false),
            T_TRUE => Value::Bool(true),
            T_I64 => Value::Number(i64::from_le_bytes(self.word()?).into()),
            T_U64 => Value::Number(u64::from_le_bytes(self.word()?).into()),
            T_F64 => Value::Number(Number::from_f64(f64::from_bits(u64::from_le_bytes(
                self.word()?,
            )))?),
            T_STR => Value::String(self.string()?),
            T_ARR => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                let n = self.len()?;
                let mut a = Vec::with_capacity(n);
                for _ in 0..n {
                    a.push(self.value(depth + 1)?);
                }
                Value::Array(a)
            }
            T_OBJ => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                let n = self.len()?;
                let mut o = Map::with_capacity(n);
                for _ in 0..n {
                    let k = self.string()?;
                    let v = self.value(depth + 1)?;
                    o.insert(k, v);
                }
                Value::Object(o)
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roundtrip() {
        for v in [
            json!(null),
            json!(true),
            json!(-5),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.5),
            json!(-0.0),
            json!(3.0),
            json!("héllo"),
            json!({"b": [1, 2.5, {"z": null}], "a": {}, "": []}),
        ] {
            let enc = encode(&v).unwrap();
            let dec = decode(&enc).unwrap();
            assert_eq!(dec, v);
            // Same JSON text, key order and number kinds included.
            assert_eq!(
                serde_json::to_string(&dec).unwrap(),
                serde_json::to_string(&v).unwrap()
            );
        }
    }

    #[test]
    fn depth_limit_and_garbage() {
        let mut v = json!(1);
        for _ in 0..MAX_DEPTH {
            v = json!([v]);
        }
        let enc = encode(&v).unwrap();
        assert_eq!(decode(&enc).unwrap(), v);
        assert_eq!(encode(&json!([v])), Err(TooDeep));
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[1, 7, 0xff, 0xff, 0xff, 0xff, 0x0f]), None);
        assert_eq!(decode(&[1, 0, 0]), None);
        assert_eq!(decode(&[2, 0]), None);
    }
}
