//! The `cmsgpack` library (lua-cmsgpack 0.4.0 as Redis ships it): pack, unpack,
//! unpack_one, unpack_limit.

use super::api::{exact, exact_by_key, Args, Fail, LResult};
use mlua::{Lua, MultiValue, Table, Value};

/// Tables nested deeper are packed as nil (how cmsgpack survives cycles).
const MAX_NESTING: usize = 16;
/// Values one call may return before Lua's stack limit (LUAI_MAXCSTACK) bites.
const MAX_RESULTS: usize = 7_900;
/// Nesting accepted when unpacking (Redis is bounded by the Lua stack instead).
const MAX_DECODE_DEPTH: usize = 1_000;

fn stack_overflow() -> Fail {
    Fail::Msg(
        "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"
            .into(),
    )
}

// ---- pack ------------------------------------------------------------------------------

pub(super) fn pack(lua: &Lua, a: Args) -> LResult<MultiValue> {
    if a.len() == 0 {
        return Err(Fail::Arg(0, "MessagePack pack needs input.".into()));
    }
    let mut out = Vec::new();
    for i in 1..=a.len() {
        encode(&a.get(i), 0, &mut out)?;
    }
    Ok(MultiValue::from_iter([Value::String(
        lua.create_string(&out)?,
    )]))
}

fn encode(v: &Value, level: usize, out: &mut Vec<u8>) -> LResult<()> {
    match v {
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(*i as f64, out),
        Value::Number(n) => encode_number(*n, out),
        Value::Table(t) if level < MAX_NESTING => {
            if is_array(t)? {
                encode_array(t, level, out)?
            } else {
                encode_map(t, level, out)?
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    // IS_INT64_EQUIVALENT: finite and (int64_t)n == n.
    let int64 =
        (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) && n.trunc() == n;
    if int64 {
        encode_int(n as i64, out);
    } else if n == (n as f32) as f64 {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// table_is_an_array: keys exactly 1..N (as C ints).
fn is_array(t: &Table) -> LResult<bool> {
    let mut count: f64 = 0.0;
    let mut max: f64 = 0.0;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        if n <= 0.0 || n > i32::MAX as f64 || n.trunc() != n {
            return Ok(false);
        }
        max = max.max(n);
        count += 1.0;
    }
    Ok(max == count)
}

fn encode_array(t: &Table, level: usize, out: &mut Vec<u8>) -> LResult<()> {
    let len = t.raw_len();
    if len <= 15 {
        out.push(0x90 | len as u8);
    } else if len <= 0xffff {
        out.push(0xdc);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    for j in 1..=len {
        let raw = t.raw_get::<Value>(j)?;
        // (Only keys 1..N exist, so raw access sees what lua_gettable would.)
        let v = exact(t, raw, j)?;
        encode(&v, level + 1, out)?;
    }
    Ok(())
}

fn encode_map(t: &Table, level: usize, out: &mut Vec<u8>) -> LResult<()> {
    let mut len: usize = 0;
    for pair in t.pairs::<Value, Value>() {
        pair?;
        len += 1;
    }
    if len <= 15 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0xde);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let v = exact_by_key(t, &k, v)?;
        encode(&k, level + 1, out)?;
        encode(&v, level + 1, out)?;
    }
    Ok(())
}

// ---- unpack ----------------------------------------------------------------------------

enum DecodeError {
    Eof,
    BadFormat,
    Fail(Fail),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> DecodeError {
        DecodeError::Fail(Fail::Lua(e))
    }
}

struct Cursor<'a> {
    lua: &'a Lua,
    p: &'a [u8],
    depth: usize,
}

impl Cursor<'_> {
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.p.len() < n {
            Err(DecodeError::Eof)
        } else {
            Ok(())
        }
    }

    fn consume(&mut self, n: usize) {
        self.p = &self.p[n..];
    }

    fn be(&self, from: usize, n: usize) -> u64 {
        self.p[from..from + n]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64)
    }

    fn string(&mut self, hdr: usize, len: usize) -> Result<Value, DecodeError> {
        self.need(hdr + len)?;
        let s = self.lua.create_string(&self.p[hdr..hdr + len])?;
        self.consume(hdr + len);
        Ok(Value::String(s))
    }

    fn decode(&mut self) -> Result<Value, DecodeError> {
        self.need(1)?;
        let b = self.p[0];
        let num = |v: f64| Value::Number(v);
        Ok(match b {
            0xcc => {
                self.need(2)?;
                let v = self.p[1] as f64;
                self.consume(2);
                num(v)
            }
            0xd0 => {
                self.need(2)?;
                let v = self.p[1] as i8 as f64;
                self.consume(2);
                num(v)
            }
            0xcd => {
                self.need(3)?;
                let v = self.be(1, 2) as f64;
                self.consume(3);
                num(v)
            }
            0xd1 => {
                self.need(3)?;
                let v = self.be(1, 2) as u16 as i16 as f64;
                self.consume(3);
                num(v)
            }
            0xce => {
                self.need(5)?;
                let v = self.be(1, 4) as f64;
                self.consume(5);
                num(v)
            }
            0xd2 => {
                self.need(5)?;
                let v = self.be(1, 4) as u32 as i32 as f64;
                self.consume(5);
                num(v)
            }
            0xcf => {
                self.need(9)?;
                // lua_pushinteger of the uint64: values of 2^63 and up turn negative.
                let v = self.be(1, 8) as i64 as f64;
                self.consume(9);
                num(v)
            }
            0xd3 => {
                self.need(9)?;
                let v = self.be(1, 8) as i64 as f64;
                self.consume(9);
                num(v)
            }
            0xc0 => {
                self.consume(1);
                Value::Nil
            }
            0xc3 => {
                self.consume(1);
                Value::Boolean(true)
            }
            0xc2 => {
                self.consume(1);
                Value::Boolean(false)
            }
            0xca => {
                self.need(5)?;
                let v = f32::from_bits(self.be(1, 4) as u32) as f64;
                self.consume(5);
                num(v)
            }
            0xcb => {
                self.need(9)?;
                let v = f64::from_bits(self.be(1, 8));
                self.consume(9);
                num(v)
            }
            0xd9 => {
                self.need(2)?;
                let l = self.p[1] as usize;
                self.string(2, l)?
            }
            0xda => {
                self.need(3)?;
                let l = self.be(1, 2) as usize;
                self.string(3, l)?
            }
            0xdb => {
                self.need(5)?;
                let l = self.be(1, 4) as usize;
                self.string(5, l)?
            }
            0xdc => {
                self.need(3)?;
                let l = self.be(1, 2) as usize;
                self.consume(3);
                self.array(l)?
            }
            0xdd => {
                self.need(5)?;
                let l = self.be(1, 4) as usize;
                self.consume(5);
                self.array(l)?
            }
            0xde => {
                self.need(3)?;
                let l = self.be(1, 2) as usize;
                self.consume(3);
                self.map(l)?
            }
            0xdf => {
                self.need(5)?;
                let l = self.be(1, 4) as usize;
                self.consume(5);
                self.map(l)?
            }
            _ if b & 0x80 == 0 => {
                self.consume(1);
                num(b as f64)
            }
            _ if b & 0xe0 == 0xe0 => {
                self.consume(1);
                num(b as i8 as f64)
            }
            _ if b & 0xe0 == 0xa0 => self.string(1, (b & 0x1f) as usize)?,
            _ if b & 0xf0 == 0x90 => {
                self.consume(1);
                self.array((b & 0xf) as usize)?
            }
            _ if b & 0xf0 == 0x80 => {
                self.consume(1);
                self.map((b & 0xf) as usize)?
            }
            _ => return Err(DecodeError::BadFormat),
        })
    }

    fn descend(&mut self) -> Result<(), DecodeError> {
        self.depth += 1;
        if self.depth > MAX_DECODE_DEPTH {
            return Err(DecodeError::Fail(stack_overflow()));
        }
        Ok(())
    }

    fn array(&mut self, len: usize) -> Result<Value, DecodeError> {
        self.descend()?;
        let t = self.lua.create_table()?;
        for i in 1..=len {
            let v = self.decode()?;
            t.raw_set(i as f64, v)?;
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }

    fn map(&mut self, len: usize) -> Result<Value, DecodeError> {
        self.descend()?;
        let t = self.lua.create_table()?;
        for _ in 0..len {
            let k = self.decode()?;
            let v = self.decode()?;
            match &k {
                Value::Nil => {
                    return Err(DecodeError::Fail(Fail::Raise(Value::String(
                        self.lua.create_string("table index is nil")?,
                    ))))
                }
                Value::Number(n) if n.is_nan() => {
                    return Err(DecodeError::Fail(Fail::Raise(Value::String(
                        self.lua.create_string("table index is NaN")?,
                    ))))
                }
                _ => {}
            }
            t.raw_set(k, v)?;
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }
}

/// mp_unpack_full: `limit` values from `offset` (both 0 = everything, without the
/// offset result).
fn unpack_full(lua: &Lua, a: &Args, limit: i64, offset: i64) -> LResult<MultiValue> {
    let s = a.check_bytes(lua, 1)?;
    let len = s.len();
    if offset < 0 || limit < 0 {
        return Err(Fail::Msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    } else if offset as u64 > len as u64 {
        return Err(Fail::Msg(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cursor {
        lua,
        p: &s[offset as usize..],
        depth: 0,
    };
    let mut out: Vec<Value> = Vec::new();
    while !c.p.is_empty() && (out.len() as i64) < limit {
        if out.len() >= MAX_RESULTS {
            return Err(stack_overflow());
        }
        match c.decode() {
            Ok(v) => out.push(v),
            Err(DecodeError::Eof) => return Err(Fail::Msg("Missing bytes in input.".into())),
            Err(DecodeError::BadFormat) => {
                return Err(Fail::Msg("Bad data format in input.".into()))
            }
            Err(DecodeError::Fail(f)) => return Err(f),
        }
    }
    if !decode_all {
        let next = if c.p.is_empty() {
            -1.0
        } else {
            (len - c.p.len()) as f64
        };
        out.insert(0, Value::Number(next));
    }
    Ok(MultiValue::from_iter(out))
}

pub(super) fn unpack(lua: &Lua, a: Args) -> LResult<MultiValue> {
    unpack_full(lua, &a, 0, 0)
}

pub(super) fn unpack_one(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let offset = a.opt_integer(lua, 2, 0)?;
    unpack_full(lua, &a, 1, offset)
}

pub(super) fn unpack_limit(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let limit = a.check_integer(lua, 2)?;
    let offset = a.opt_integer(lua, 3, 0)?;
    unpack_full(lua, &a, limit, offset)
}

#[cfg(test)]
mod tests {
    use crate::store::MemStore;
    use crate::txn::Txn;
    use crate::Frame;

    fn eval(script: &str) -> Frame {
        let store = MemStore::default();
        let mut t = Txn::new(&store, 1, 1_000, 7);
        t.run(
            0,
            &[b"eval".to_vec(), script.as_bytes().to_vec(), b"0".to_vec()],
        )
    }

    /// Found by the lua_decoders fuzz target: a float below f64::EPSILON stored under a
    /// key that is not a string or number (here `true`, or a table) was packed as 0.
    #[test]
    fn tiny_floats_under_other_keys_pack_exactly() {
        let hex = "local e = cmsgpack.pack({[true] = -7e-148}) local h = '' \
                   for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h";
        let want = format!("81c3cb{}", hex_of(&(-7e-148f64).to_be_bytes()));
        assert_eq!(eval(hex), Frame::Bulk(want.into_bytes()));
        let table_key = "local t = cmsgpack.unpack(cmsgpack.pack({[{}] = 1e-300})) \
                         for _, v in pairs(t) do return tostring(v) end";
        assert_eq!(eval(table_key), Frame::Bulk(b"1e-300".to_vec()));
    }

    fn hex_of(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
