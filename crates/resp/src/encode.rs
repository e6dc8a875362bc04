//! Reply encoding, RESP2 and RESP3.

use crate::Frame;
use std::io::Write as _;

/// Appends `frame` to `out`, as RESP3 when `resp3`, otherwise downgraded to RESP2.
pub fn encode(frame: &Frame, resp3: bool, out: &mut Vec<u8>) {
    match frame {
        Frame::Simple(s) => line(out, b'+', s.as_bytes()),
        Frame::Error(s) => line(out, b'-', s.as_bytes()),
        Frame::Integer(n) => {
            out.push(b':');
            int(out, *n);
            out.extend_from_slice(b"\r\n");
        }
        Frame::Bulk(b) => bulk(out, b),
        Frame::Null if resp3 => out.extend_from_slice(b"_\r\n"),
        Frame::Null => out.extend_from_slice(b"$-1\r\n"),
        Frame::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
        Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
        Frame::Array(items) => aggregate(out, b'*', items, resp3),
        Frame::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, resp3),
        Frame::Push(items) => aggregate(out, if resp3 { b'>' } else { b'*' }, items, resp3),
        Frame::Pairs(pairs) => {
            header(out, b'*', if resp3 { pairs.len() } else { pairs.len() * 2 });
            for (k, v) in pairs {
                if resp3 {
                    header(out, b'*', 2);
                }
                encode(k, resp3, out);
                encode(v, resp3, out);
            }
        }
        Frame::KeyedArrays(pairs) => {
            header(out, if resp3 { b'%' } else { b'*' }, pairs.len());
            for (k, v) in pairs {
                if !resp3 {
                    header(out, b'*', 2);
                }
                encode(k, resp3, out);
                encode(v, resp3, out);
            }
        }
        Frame::Map(pairs) => {
            if resp3 {
                header(out, b'%', pairs.len());
            } else {
                header(out, b'*', pairs.len() * 2);
            }
            for (k, v) in pairs {
                encode(k, resp3, out);
                encode(v, resp3, out);
            }
        }
        Frame::Double(f) => {
            let mut buf = DoubleBuf::new();
            write_reply_double(*f, &mut buf);
            if resp3 {
                line(out, b',', buf.as_bytes());
            } else {
                bulk(out, buf.as_bytes());
            }
        }
        Frame::DoubleText(text) => {
            if resp3 {
                line(out, b',', text.as_bytes());
            } else {
                bulk(out, text.as_bytes());
            }
        }
        Frame::Boolean(b) => out.extend_from_slice(match (resp3, b) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        }),
        Frame::Verbatim(fmt, text) => {
            if resp3 {
                // The format is exactly three bytes on the wire; anything else would
                // make the frame unparsable, so fall back to "txt".
                let fmt = if fmt.len() == 3 {
                    fmt.as_bytes()
                } else {
                    b"txt"
                };
                header(out, b'=', text.len() + 4);
                out.extend_from_slice(fmt);
                out.push(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            } else {
                bulk(out, text);
            }
        }
    }
}

/// `encode` into a new vector.
pub fn encode_to_vec(frame: &Frame, resp3: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode(frame, resp3, &mut out);
    out
}

/// A double reply (`Frame::Double`: sorted-set scores and the like) as Redis 7.0's
/// `addReplyDouble` writes it: `inf`, `-inf`, otherwise printf's `%.17g` (17 significant
/// digits, so `1.1` is `1.1000000000000001`, exactly what redis-server 7.0 sends).
pub fn format_reply_double(f: f64) -> String {
    let mut buf = DoubleBuf::new();
    write_reply_double(f, &mut buf);
    String::from_utf8_lossy(buf.as_bytes()).into_owned()
}

fn write_reply_double(f: f64, out: &mut DoubleBuf) {
    if write_special(f, out) {
        return;
    }
    if f < 0.0 {
        out.push(b'-');
    }
    // 17 significant digits, correctly rounded like glibc's printf.
    let mut digits = [0u8; 24];
    let Some((nd, exp10)) = decimal_digits(f.abs(), Some(16), &mut digits) else {
        return;
    };
    let mut nd = nd;
    // %g drops trailing zeros (and a bare decimal point).
    while nd > 1 && digits[nd - 1] == b'0' {
        nd -= 1;
    }
    let digits = &digits[..nd];
    if !(-4..17).contains(&exp10) {
        out.push(digits[0]);
        if nd > 1 {
            out.push(b'.');
            out.extend(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp10 < 0 { b'-' } else { b'+' });
        let e = exp10.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend(itoa::Buffer::new().format(e).as_bytes());
    } else if exp10 < 0 {
        out.extend(b"0.");
        for _ in 0..(-exp10 - 1) {
            out.push(b'0');
        }
        out.extend(digits);
    } else {
        let int_len = exp10 as usize + 1;
        for i in 0..int_len {
            out.push(digits.get(i).copied().unwrap_or(b'0'));
        }
        if nd > int_len {
            out.push(b'.');
            out.extend(&digits[int_len..]);
        }
    }
}

/// Formats a double as Redis 7.2 does (`d2string`): `nan`, `inf`, `-inf`, `0`, `-0`;
/// integral values within ±2^62 as integers; anything else as the shortest digits that
/// round-trip, plainly (`0.1`, `1.5`, `123456.789`) or in exponent form (`1e+20`,
/// `1.5e-7`) by the same rules as Redis' `fpconv_dtoa`.
pub fn format_double(f: f64) -> String {
    let mut buf = DoubleBuf::new();
    write_double(f, &mut buf);
    // Only ASCII is ever written.
    String::from_utf8_lossy(buf.as_bytes()).into_owned()
}

#[inline]
fn int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[inline]
fn header(out: &mut Vec<u8>, kind: u8, len: usize) {
    out.push(kind);
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[inline]
fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(data.len() + 16);
    header(out, b'$', data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// A `+`/`-`/`,` line: CR and LF in the text would break the framing, so they become
/// spaces.
#[inline]
fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.push(kind);
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        out.extend_from_slice(text);
    }
    out.extend_from_slice(b"\r\n");
}

fn aggregate(out: &mut Vec<u8>, kind: u8, items: &[Frame], resp3: bool) {
    header(out, kind, items.len());
    for item in items {
        encode(item, resp3, out);
    }
}

/// A stack buffer big enough for any formatted double.
struct DoubleBuf {
    buf: [u8; 64],
    len: usize,
}

impl DoubleBuf {
    fn new() -> Self {
        DoubleBuf {
            buf: [0; 64],
            len: 0,
        }
    }
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    fn push(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }
    fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }
}

/// `nan`, `inf`, `-inf`, `0` and `-0`, as both formats write them; false for any other
/// value (nothing written).
fn write_special(f: f64, out: &mut DoubleBuf) -> bool {
    let text: &[u8] = if f.is_nan() {
        b"nan"
    } else if f.is_infinite() {
        if f < 0.0 {
            b"-inf"
        } else {
            b"inf"
        }
    } else if f == 0.0 {
        if f.is_sign_negative() {
            b"-0"
        } else {
            b"0"
        }
    } else {
        return false;
    };
    out.extend(text);
    true
}

fn write_double(f: f64, out: &mut DoubleBuf) {
    if write_special(f, out) {
        return;
    }
    // Redis' double2ll: integral values in [-2^62, 2^62] print as integers.
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if (-LIMIT..=LIMIT).contains(&f) && f.trunc() == f {
        return out.extend(itoa::Buffer::new().format(f as i64).as_bytes());
    }
    if f < 0.0 {
        out.push(b'-');
    }
    // Shortest round-tripping digits and the decimal exponent of the first one.
    let mut digits = [0u8; 24];
    let Some((nd, exp10)) = decimal_digits(f.abs(), None, &mut digits) else {
        return;
    };
    emit_digits(&digits[..nd], exp10 - (nd as i32 - 1), f < 0.0, out);
}

/// The decimal digits of a positive finite `f` (shortest round-trip, or `decimals + 1`
/// significant digits correctly rounded) into `digits`, with the decimal exponent of the
/// first one: `(count, exponent)`. None only if formatting fails, which it cannot.
fn decimal_digits(f: f64, decimals: Option<usize>, digits: &mut [u8; 24]) -> Option<(usize, i32)> {
    let mut sci = [0u8; 40];
    let sci_len = {
        let mut cursor = std::io::Cursor::new(&mut sci[..]);
        let written = match decimals {
            Some(d) => write!(cursor, "{:.*e}", d, f),
            None => write!(cursor, "{:e}", f),
        };
        written.ok()?;
        cursor.position() as usize
    };
    let sci = &sci[..sci_len];
    let e_pos = sci.iter().position(|&b| b == b'e').unwrap_or(sci.len());
    let mut nd = 0usize;
    for &b in &sci[..e_pos] {
        if b.is_ascii_digit() && nd < digits.len() {
            digits[nd] = b;
            nd += 1;
        }
    }
    let exp10: i32 = std::str::from_utf8(&sci[(e_pos + 1).min(sci.len())..])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Some((nd, exp10))
}

/// `emit_digits` of Redis' fpconv: the value is `digits × 10^k`.
fn emit_digits(digits: &[u8], k: i32, neg: bool, out: &mut DoubleBuf) {
    let nd = digits.len() as i32;
    let exp = (k + nd - 1).abs();
    // Plain integer.
    if k >= 0 && exp < nd + 7 {
        out.extend(digits);
        for _ in 0..k {
            out.push(b'0');
        }
        return;
    }
    // Plain decimal.
    if k < 0 && (k > -7 || exp < 4) {
        let offset = nd - k.abs();
        if offset <= 0 {
            out.extend(b"0.");
            for _ in 0..-offset {
                out.push(b'0');
            }
            out.extend(digits);
        } else {
            let offset = offset as usize;
            out.extend(&digits[..offset]);
            out.push(b'.');
            out.extend(&digits[offset..]);
        }
        return;
    }
    // Exponent form.
    let nd = digits.len().min(18 - usize::from(neg));
    out.push(digits[0]);
    if nd > 1 {
        out.push(b'.');
        out.extend(&digits[1..nd]);
    }
    out.push(b'e');
    out.push(if k + nd as i32 - 1 < 0 { b'-' } else { b'+' });
    out.extend(itoa::Buffer::new().format(exp).as_bytes());
}

#[cfg(test)]
mod tests {

    #[test]
    fn pairs_are_flat_in_resp2_and_nested_in_resp3() {
        let f = Frame::Pairs(vec![
            (Frame::bulk("a"), Frame::Double(1.5)),
            (Frame::bulk("b"), Frame::Double(2.0)),
        ]);
        assert_eq!(
            encode_to_vec(&f, false),
            b"*4\r\n$1\r\na\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n".to_vec()
        );
        assert_eq!(
            encode_to_vec(&f, true),
            b"*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n".to_vec()
        );
    }

    use super::*;

    fn enc(f: &Frame, resp3: bool) -> String {
        String::from_utf8(encode_to_vec(f, resp3)).unwrap()
    }

    #[test]
    fn keyed_arrays_are_pairs_in_resp2_and_a_map_in_resp3() {
        let f = Frame::KeyedArrays(vec![(
            Frame::bulk("s"),
            Frame::Array(vec![Frame::bulk("e")]),
        )]);
        assert_eq!(enc(&f, false), "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n$1\r\ne\r\n");
        assert_eq!(enc(&f, true), "%1\r\n$1\r\ns\r\n*1\r\n$1\r\ne\r\n");
    }

    #[test]
    fn reply_doubles_like_redis_7_0() {
        // Each expected text is what glibc's printf("%.17g") prints.
        let cases: &[(f64, &str)] = &[
            (3.0, "3"),
            (-3.0, "-3"),
            (1.5, "1.5"),
            (1.1, "1.1000000000000001"),
            (0.1, "0.10000000000000001"),
            (-0.1, "-0.10000000000000001"),
            (0.0, "0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (100.0, "100"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e20, "1e+20"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012344999999999999"),
            (1e-5, "1.0000000000000001e-05"),
            (2.5e-300, "2.5e-300"),
            (1.0 / 3.0, "0.33333333333333331"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
            (12345678.5, "12345678.5"),
            (3.14159, "3.1415899999999999"),
            (-1234.5678, "-1234.5678"),
        ];
        for &(f, want) in cases {
            assert_eq!(format_reply_double(f), want, "{f:?}");
        }
        assert_eq!(
            enc(&Frame::Double(1.1), false),
            "$18\r\n1.1000000000000001\r\n"
        );
        assert_eq!(enc(&Frame::Double(1.1), true), ",1.1000000000000001\r\n");
    }

    #[test]
    fn format_double_like_redis() {
        let cases: &[(f64, &str)] = &[
            (3.0, "3"),
            (-3.0, "-3"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (-0.1, "-0.1"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (1e15, "1000000000000000"),
            (4611686018427387904.0, "4611686018427387904"),
            (9223372036854775808.0, "9223372036854776000"),
            (1e20, "1e+20"),
            (1.5e300, "1.5e+300"),
            (-2.5e-300, "-2.5e-300"),
            (1e-7, "1e-7"),
            (1.25e-5, "1.25e-5"),
            (0.000001, "0.000001"),
            (123456.789, "123456.789"),
            (2.71875, "2.71875"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-1e20, "-1e+20"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (12345678.5, "12345678.5"),
            (0.30000000000000004, "0.30000000000000004"),
        ];
        for &(f, want) in cases {
            assert_eq!(format_double(f), want, "{f:?}");
        }
    }

    #[test]
    fn resp2_encodings() {
        assert_eq!(enc(&Frame::ok(), false), "+OK\r\n");
        assert_eq!(enc(&Frame::error("ERR x"), false), "-ERR x\r\n");
        assert_eq!(enc(&Frame::Integer(-42), false), ":-42\r\n");
        assert_eq!(
            enc(&Frame::Integer(i64::MIN), false),
            ":-9223372036854775808\r\n"
        );
        assert_eq!(enc(&Frame::bulk("foo"), false), "$3\r\nfoo\r\n");
        assert_eq!(enc(&Frame::bulk(""), false), "$0\r\n\r\n");
        assert_eq!(enc(&Frame::Null, false), "$-1\r\n");
        assert_eq!(enc(&Frame::NullArray, false), "*-1\r\n");
        assert_eq!(enc(&Frame::Array(vec![]), false), "*0\r\n");
        assert_eq!(
            enc(
                &Frame::Array(vec![Frame::bulk("a"), Frame::Integer(1)]),
                false
            ),
            "*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(
            enc(
                &Frame::Map(vec![
                    (Frame::bulk("k"), Frame::Integer(1)),
                    (Frame::bulk("j"), Frame::Null)
                ]),
                false
            ),
            "*4\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n$-1\r\n"
        );
        assert_eq!(
            enc(&Frame::Set(vec![Frame::bulk("a")]), false),
            "*1\r\n$1\r\na\r\n"
        );
        assert_eq!(
            enc(&Frame::Push(vec![Frame::bulk("a")]), false),
            "*1\r\n$1\r\na\r\n"
        );
        assert_eq!(enc(&Frame::Double(1.5), false), "$3\r\n1.5\r\n");
        // A double carrying its text (geo coordinates): printed exactly as given.
        let t = Frame::DoubleText("13.36138933897018433".into());
        assert_eq!(enc(&t, true), ",13.36138933897018433\r\n");
        assert_eq!(enc(&t, false), "$20\r\n13.36138933897018433\r\n");
        assert_eq!(enc(&Frame::Double(3.0), false), "$1\r\n3\r\n");
        assert_eq!(
            enc(&Frame::Double(f64::NEG_INFINITY), false),
            "$4\r\n-inf\r\n"
        );
        assert_eq!(enc(&Frame::Boolean(true), false), ":1\r\n");
        assert_eq!(enc(&Frame::Boolean(false), false), ":0\r\n");
        assert_eq!(
            enc(&Frame::Verbatim("txt".into(), b"hello".to_vec()), false),
            "$5\r\nhello\r\n"
        );
    }

    #[test]
    fn resp3_encodings() {
        assert_eq!(enc(&Frame::Null, true), "_\r\n");
        assert_eq!(enc(&Frame::NullArray, true), "_\r\n");
        assert_eq!(
            enc(
                &Frame::Map(vec![(Frame::bulk("k"), Frame::Double(0.1))]),
                true
            ),
            "%1\r\n$1\r\nk\r\n,0.10000000000000001\r\n"
        );
        assert_eq!(
            enc(&Frame::Set(vec![Frame::Integer(1)]), true),
            "~1\r\n:1\r\n"
        );
        assert_eq!(
            enc(&Frame::Push(vec![Frame::bulk("m")]), true),
            ">1\r\n$1\r\nm\r\n"
        );
        assert_eq!(enc(&Frame::Double(f64::INFINITY), true), ",inf\r\n");
        assert_eq!(enc(&Frame::Double(f64::NEG_INFINITY), true), ",-inf\r\n");
        assert_eq!(enc(&Frame::Double(f64::NAN), true), ",nan\r\n");
        assert_eq!(enc(&Frame::Double(-2.0), true), ",-2\r\n");
        assert_eq!(enc(&Frame::Boolean(true), true), "#t\r\n");
        assert_eq!(enc(&Frame::Boolean(false), true), "#f\r\n");
        assert_eq!(
            enc(
                &Frame::Verbatim("txt".into(), b"Some string".to_vec()),
                true
            ),
            "=15\r\ntxt:Some string\r\n"
        );
        assert_eq!(
            enc(&Frame::Verbatim("markdown".into(), b"x".to_vec()), true),
            "=5\r\ntxt:x\r\n"
        );
        assert_eq!(
            enc(&Frame::Array(vec![Frame::Null, Frame::Array(vec![])]), true),
            "*2\r\n_\r\n*0\r\n"
        );
    }

    #[test]
    fn simple_and_error_lines_never_contain_crlf() {
        assert_eq!(
            enc(&Frame::Simple("a\r\nb\nc\rd".into()), false),
            "+a  b c d\r\n"
        );
        assert_eq!(
            enc(&Frame::error("ERR bad\r\nthing"), true),
            "-ERR bad  thing\r\n"
        );
    }

    #[test]
    fn encode_appends() {
        let mut out = b"xyz".to_vec();
        encode(&Frame::Integer(7), true, &mut out);
        encode(&Frame::ok(), true, &mut out);
        assert_eq!(out, b"xyz:7\r\n+OK\r\n");
    }
}
