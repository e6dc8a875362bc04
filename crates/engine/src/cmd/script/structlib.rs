//! The `struct` library (Roberto Ierusalimschy's lstruct, as Redis ships it), with the
//! sizes and alignment of an x86-64 Linux build: `b/B` 1, `h/H` 2, `i/I` 4 (or `iN`),
//! `l/L` and `T` 8, `f` 4, `d` 8, native order little-endian, maximum alignment 8.
//!
//! Format: `<` `>` set little/big endian, `!n` sets the maximum alignment, `x` is a pad
//! byte, `cN` a fixed string (`c0`: the whole string when packing, the previous number
//! as length when unpacking), `s` a zero-terminated string, space is ignored.

use super::api::{to_number, Args, Fail, LResult};
use mlua::{Lua, MultiValue, Value};

const MAXINTSIZE: usize = 32;
const MAXALIGN: usize = 8;
/// Results one call may push before Lua's stack limit (LUAI_MAXCSTACK) bites.
const MAX_RESULTS: usize = 7_900;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    Big,
    Little,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// The format string as C sees it: it ends at the first NUL.
struct Fmt<'a> {
    s: &'a [u8],
    i: usize,
}

impl Fmt<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        if c == 0 {
            None
        } else {
            self.i += 1;
            Some(c)
        }
    }

    fn getnum(&mut self, default: usize) -> LResult<usize> {
        if !self.peek().is_ascii_digit() {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while self.peek().is_ascii_digit() {
            let d = (self.peek() - b'0') as i32;
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(Fail::Msg("integral size overflow".into()));
            }
            a = a * 10 + d;
            self.i += 1;
        }
        Ok(a as usize)
    }
}

fn optsize(opt: u8, fmt: &mut Fmt) -> LResult<usize> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' => 8,
        b'f' => 4,
        b'd' => 8,
        b'x' => 1,
        b'c' => fmt.getnum(1)?,
        b'i' | b'I' => {
            let sz = fmt.getnum(4)?;
            if sz > MAXINTSIZE {
                return Err(Fail::Msg(format!(
                    "integral size {sz} is larger than limit of {MAXINTSIZE}"
                )));
            }
            sz
        }
        _ => 0,
    })
}

fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & size.wrapping_sub(1))) & size.wrapping_sub(1)
}

fn controloptions(opt: u8, fmt: &mut Fmt, h: &mut Header) -> LResult<()> {
    match opt {
        b' ' => Ok(()),
        b'>' => {
            h.endian = Endian::Big;
            Ok(())
        }
        b'<' => {
            h.endian = Endian::Little;
            Ok(())
        }
        b'!' => {
            let a = fmt.getnum(MAXALIGN)?;
            if !(a > 0 && a & (a - 1) == 0) {
                return Err(Fail::Msg(format!("alignment {a} is not a power of 2")));
            }
            h.align = a;
            Ok(())
        }
        _ => Err(Fail::Arg(
            1,
            format!("invalid format option '{}'", opt as char),
        )),
    }
}

fn put_ordered(out: &mut Vec<u8>, bytes: &[u8], endian: Endian) {
    match endian {
        Endian::Little => out.extend_from_slice(bytes),
        Endian::Big => out.extend(bytes.iter().rev()),
    }
}

pub(super) fn pack(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let fmt_bytes = a.check_bytes(lua, 1)?;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = Header::new();
    let mut arg = 2;
    let mut total: usize = 0;
    let mut out = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = optsize(opt, &mut fmt)?;
        let toalign = gettoalign(total, &h, opt, size);
        total = total.wrapping_add(toalign);
        out.resize(out.len() + toalign, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = a.check_number(lua, arg)?;
                arg += 1;
                let mut value: u64 = if n < 0.0 {
                    super::api::c_trunc_i64(n) as u64
                } else {
                    n as u64
                };
                let mut buf = [0u8; MAXINTSIZE];
                for b in buf.iter_mut().take(size) {
                    *b = (value & 0xff) as u8;
                    value >>= 8;
                }
                put_ordered(&mut out, &buf[..size], h.endian);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = a.check_number(lua, arg)? as f32;
                arg += 1;
                put_ordered(&mut out, &f.to_le_bytes(), h.endian);
            }
            b'd' => {
                let d = a.check_number(lua, arg)?;
                arg += 1;
                put_ordered(&mut out, &d.to_le_bytes(), h.endian);
            }
            b'c' | b's' => {
                let s = a.check_bytes(lua, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // lstruct reports the argument after the string (it already moved on).
                    return Err(Fail::Arg(arg as i32, "string too short".into()));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => controloptions(opt, &mut fmt, &mut h)?,
        }
        total = total.wrapping_add(size);
    }
    Ok(MultiValue::from_iter([Value::String(
        lua.create_string(&out)?,
    )]))
}

fn getinteger(buf: &[u8], endian: Endian, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    let mut push = |b: u8| l = (l << 8) | b as u64;
    match endian {
        Endian::Big => buf.iter().take(size).for_each(|&b| push(b)),
        Endian::Little => buf.iter().take(size).rev().for_each(|&b| push(b)),
    }
    if !signed {
        l as f64
    } else {
        // Shifts by 64 or more are taken modulo 64, as x86 does.
        let mask = (!0u64).wrapping_shl((size * 8).wrapping_sub(1) as u32);
        if l & mask != 0 {
            l |= mask;
        }
        l as i64 as f64
    }
}

fn data_short() -> Fail {
    Fail::Arg(2, "data string too short".into())
}

pub(super) fn unpack(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let fmt_bytes = a.check_bytes(lua, 1)?;
    let data = a.check_bytes(lua, 2)?;
    let ld = data.len();
    let pos = a.opt_integer(lua, 3, 1)?;
    // C keeps the position in a size_t: negative offsets become huge.
    let mut pos = pos as u64 as usize;
    if pos == 0 {
        return Err(Fail::Arg(3, "offset must be 1 or greater".into()));
    }
    pos -= 1;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = Header::new();
    let mut out: Vec<Value> = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = optsize(opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(data_short());
        }
        if out.len() >= MAX_RESULTS {
            return Err(Fail::Msg("stack overflow (too many results)".into()));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = getinteger(&data[pos..], h.endian, opt.is_ascii_lowercase(), size);
                out.push(Value::Number(v));
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                let f = match h.endian {
                    Endian::Little => f32::from_le_bytes(b),
                    Endian::Big => f32::from_be_bytes(b),
                };
                out.push(Value::Number(f as f64));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                let d = match h.endian {
                    Endian::Little => f64::from_le_bytes(b),
                    Endian::Big => f64::from_be_bytes(b),
                };
                out.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let prev = out.last().and_then(|v| to_number(lua, v));
                    let Some(n) = prev else {
                        return Err(Fail::Msg("format 'c0' needs a previous size".into()));
                    };
                    size = if n < 0.0 { usize::MAX } else { n as usize };
                    out.pop();
                    if !(size <= ld && pos <= ld - size) {
                        return Err(data_short());
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(e) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(Fail::Msg("unfinished string in data".into()));
                };
                size = e + 1;
                out.push(Value::String(lua.create_string(&data[pos..pos + e])?));
            }
            _ => controloptions(opt, &mut fmt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(MultiValue::from_iter(out))
}

pub(super) fn size(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let fmt_bytes = a.check_bytes(lua, 1)?;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = Header::new();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next() {
        let size = optsize(opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if opt == b's' {
            return Err(Fail::Arg(1, "option 's' has no fixed size".into()));
        } else if opt == b'c' && size == 0 {
            return Err(Fail::Arg(1, "option 'c0' has no fixed size".into()));
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(MultiValue::from_iter([Value::Number(pos as f64)]))
}
