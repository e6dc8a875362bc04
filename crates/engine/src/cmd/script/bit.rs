//! The `bit` library (LuaBitOp 1.0 semantics): 32-bit operations on Lua numbers, results
//! as signed 32-bit numbers.

use super::api::{to_number, Args, LResult, LibFnPtr};
use mlua::{Lua, MultiValue, Value};

/// LuaBitOp's `barg`: the number (strings converted, anything else 0) normalized to
/// 32 bits the way the C code does, by adding 2^52+2^51 and keeping the low word of the
/// double — which rounds half to even and wraps modulo 2^32.
fn barg(lua: &Lua, a: &Args, i: usize) -> LResult<u32> {
    let n = to_number(lua, &a.get(i));
    let b = ((n.unwrap_or(0.0) + 6_755_399_441_055_744.0).to_bits() & 0xffff_ffff) as u32;
    if b == 0 && n.is_none() {
        return Err(a.type_error(i, "number"));
    }
    Ok(b)
}

fn ret(b: u32) -> LResult<MultiValue> {
    Ok(MultiValue::from_iter([Value::Number(b as i32 as f64)]))
}

pub(super) const FUNCTIONS: &[(&str, LibFnPtr)] = &[
    ("tobit", tobit),
    ("bnot", bnot),
    ("band", band),
    ("bor", bor),
    ("bxor", bxor),
    ("lshift", lshift),
    ("rshift", rshift),
    ("arshift", arshift),
    ("rol", rol),
    ("ror", ror),
    ("bswap", bswap),
    ("tohex", tohex),
];

fn tobit(lua: &Lua, a: Args) -> LResult<MultiValue> {
    ret(barg(lua, &a, 1)?)
}

fn bnot(lua: &Lua, a: Args) -> LResult<MultiValue> {
    ret(!barg(lua, &a, 1)?)
}

fn fold(lua: &Lua, a: &Args, op: fn(u32, u32) -> u32) -> LResult<MultiValue> {
    let mut b = barg(lua, a, 1)?;
    // The C code walks the arguments from the last one down.
    for i in (2..=a.len()).rev() {
        b = op(b, barg(lua, a, i)?);
    }
    ret(b)
}

fn band(lua: &Lua, a: Args) -> LResult<MultiValue> {
    fold(lua, &a, |x, y| x & y)
}

fn bor(lua: &Lua, a: Args) -> LResult<MultiValue> {
    fold(lua, &a, |x, y| x | y)
}

fn bxor(lua: &Lua, a: Args) -> LResult<MultiValue> {
    fold(lua, &a, |x, y| x ^ y)
}

fn shift(lua: &Lua, a: &Args, op: fn(u32, u32) -> u32) -> LResult<MultiValue> {
    let b = barg(lua, a, 1)?;
    let n = barg(lua, a, 2)? & 31;
    ret(op(b, n))
}

fn lshift(lua: &Lua, a: Args) -> LResult<MultiValue> {
    shift(lua, &a, |b, n| b << n)
}

fn rshift(lua: &Lua, a: Args) -> LResult<MultiValue> {
    shift(lua, &a, |b, n| b >> n)
}

fn arshift(lua: &Lua, a: Args) -> LResult<MultiValue> {
    shift(lua, &a, |b, n| ((b as i32) >> n) as u32)
}

fn rol(lua: &Lua, a: Args) -> LResult<MultiValue> {
    shift(lua, &a, |b, n| b.rotate_left(n))
}

fn ror(lua: &Lua, a: Args) -> LResult<MultiValue> {
    shift(lua, &a, |b, n| b.rotate_right(n))
}

fn bswap(lua: &Lua, a: Args) -> LResult<MultiValue> {
    ret(barg(lua, &a, 1)?.swap_bytes())
}

fn tohex(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let mut b = barg(lua, &a, 1)?;
    let mut n: i32 = if a.is_none(2) {
        8
    } else {
        barg(lua, &a, 2)? as i32
    };
    let mut digits: &[u8; 16] = b"0123456789abcdef";
    if n == i32::MIN {
        n = i32::MIN + 1;
    }
    if n < 0 {
        n = -n;
        digits = b"0123456789ABCDEF";
    }
    let n = n.min(8) as usize;
    let mut buf = [0u8; 8];
    for i in (0..n).rev() {
        buf[i] = digits[(b & 15) as usize];
        b >>= 4;
    }
    Ok(MultiValue::from_iter([Value::String(
        lua.create_string(&buf[..n])?,
    )]))
}
