//! Number <-> text conversions with the exact behaviour of the C code Redis uses:
//! redis.call's argument conversion, printf's `%.14g` (cjson) and strtod (cjson.decode).

/// A Lua number passed to redis.call, as Redis turns it into an argument: integral
/// values within ±2^62 as integers, anything else as the shortest round-trip digits
/// (`fpconv_dtoa`). Writes into `buf` (no allocation survives) and returns the length.
pub(super) fn redis_arg_number(d: f64, buf: &mut [u8; 64]) -> usize {
    let s = if d == 0.0 {
        // double2ll(-0.0) is 0.
        "0".to_string()
    } else {
        resp::format_double(d)
    };
    let b = s.as_bytes();
    let n = b.len().min(buf.len());
    buf[..n].copy_from_slice(&b[..n]);
    n
}

/// printf's `%.{prec}g`.
pub(super) fn fmt_g(x: f64, prec: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let p = prec.max(1);
    // The exponent %e would print, after rounding to p significant digits.
    let e = format!("{:.*e}", p - 1, x);
    let (mant, exp) = e.split_once('e').unwrap_or((e.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mant = strip_fraction_zeros(mant);
        format!(
            "{mant}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        )
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip_fraction_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// C's strtod on the start of `s`: the value and how many bytes it used (0 = none).
/// Decimal and hexadecimal forms, "inf"/"infinity" and "nan" (any case), with a sign.
/// Leading whitespace is not skipped (callers never have any).
pub(super) fn strtod_prefix(s: &[u8]) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let neg = match at(0) {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i.min(s.len())..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"infinity") {
        return (sign(f64::INFINITY), i + 8);
    }
    if starts(b"inf") {
        return (sign(f64::INFINITY), i + 3);
    }
    if starts(b"nan") {
        let mut j = i + 3;
        // nan(n-char-sequence)
        if at(j) == b'(' {
            let mut k = j + 1;
            while at(k).is_ascii_alphanumeric() || at(k) == b'_' {
                k += 1;
            }
            if at(k) == b')' {
                j = k + 1;
            }
        }
        return (sign(f64::NAN), j);
    }
    if at(i) == b'0' && (at(i + 1) | 0x20) == b'x' {
        if let Some((v, used)) = hex_float(&s[i + 2..]) {
            return (sign(v), i + 2 + used);
        }
        // "0x" without hex digits: strtod reads the "0".
        return (sign(0.0), i + 1);
    }
    // Decimal: digits [. digits] [e [sign] digits], at least one digit overall.
    let start = i;
    let mut j = i;
    let mut digits = 0;
    while at(j).is_ascii_digit() {
        j += 1;
        digits += 1;
    }
    if at(j) == b'.' {
        j += 1;
        while at(j).is_ascii_digit() {
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0);
    }
    if at(j) | 0x20 == b'e' {
        let mut k = j + 1;
        if at(k) == b'+' || at(k) == b'-' {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            while at(k).is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[start..j]).unwrap_or("0");
    // Rust's parser rounds correctly, as glibc's strtod does; it wants a digit
    // before any exponent, which ".5"/"5." forms have.
    let v: f64 = text.parse().unwrap_or_else(|_| {
        let fixed = format!("0{text}");
        fixed.parse().unwrap_or(0.0)
    });
    (sign(v), j)
}

/// Hex significand [. hex] [p [sign] digits] (after "0x").
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let hexval = |b: u8| (b as char).to_digit(16);
    let mut j = 0;
    let mut mant: f64 = 0.0;
    let mut exp: i32 = 0;
    let mut digits = 0;
    while let Some(d) = hexval(at(j)) {
        mant = mant * 16.0 + d as f64;
        j += 1;
        digits += 1;
    }
    if at(j) == b'.' {
        j += 1;
        while let Some(d) = hexval(at(j)) {
            mant = mant * 16.0 + d as f64;
            exp -= 4;
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(j) | 0x20 == b'p' {
        let mut k = j + 1;
        let neg = at(k) == b'-';
        if at(k) == b'+' || at(k) == b'-' {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            let mut e: i32 = 0;
            while at(k).is_ascii_digit() {
                e = e.saturating_mul(10).saturating_add((at(k) - b'0') as i32);
                k += 1;
            }
            exp = exp.saturating_add(if neg { -e } else { e });
            j = k;
        }
    }
    Some((mant * 2f64.powi(exp), j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_g_matches_printf() {
        assert_eq!(fmt_g(0.1, 14), "0.1");
        assert_eq!(fmt_g(100.0, 14), "100");
        assert_eq!(fmt_g(1e15, 14), "1e+15");
        assert_eq!(fmt_g(123456789012345678.0, 14), "1.2345678901235e+17");
        assert_eq!(fmt_g(0.0003, 14), "0.0003");
        assert_eq!(fmt_g(0.00001, 14), "1e-05");
        assert_eq!(fmt_g(-1.5, 14), "-1.5");
        assert_eq!(fmt_g(1023.2, 14), "1023.2");
        assert_eq!(fmt_g(1.23456, 3), "1.23");
        assert_eq!(fmt_g(99999999999999.9, 14), "1e+14");
        assert_eq!(fmt_g(1.0 / 3.0, 14), "0.33333333333333");
    }

    #[test]
    fn strtod_prefixes() {
        assert_eq!(strtod_prefix(b"1.5e3,"), (1500.0, 5));
        assert_eq!(strtod_prefix(b"-5e3]"), (-5000.0, 4));
        assert_eq!(strtod_prefix(b"0x10"), (16.0, 4));
        assert_eq!(strtod_prefix(b"+1"), (1.0, 2));
        assert_eq!(strtod_prefix(b"Infinity"), (f64::INFINITY, 8));
        assert_eq!(strtod_prefix(b"-x"), (0.0, 0));
        assert_eq!(strtod_prefix(b"1e"), (1.0, 1));
        assert_eq!(strtod_prefix(b".5"), (0.5, 2));
        assert!(strtod_prefix(b"nan").0.is_nan());
    }

    #[test]
    fn call_arguments_like_redis() {
        let f = |d: f64| {
            let mut b = [0u8; 64];
            let n = redis_arg_number(d, &mut b);
            String::from_utf8(b[..n].to_vec()).unwrap()
        };
        assert_eq!(f(9007199254740991.0), "9007199254740991");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1e300), "1e+300");
        assert_eq!(f(9223372036854775808.0), "9223372036854776000");
    }
}
