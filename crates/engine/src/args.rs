//! Argument parsing with Redis's exact rules and error texts.

use crate::error::CmdError;

/// Redis's string2ll: optional '-', no '+', no leading zeros, no spaces, fits in i64.
pub fn parse_i64(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64_opt(arg).ok_or_else(CmdError::not_integer)
}

/// `parse_i64` without the error: `resp::string2ll`.
#[inline]
pub fn parse_i64_opt(arg: &[u8]) -> Option<i64> {
    resp::string2ll(arg)
}

/// Redis's string2ld/strtold rules: no spaces, no NaN; "inf", "+inf", "-inf" accepted.
pub fn parse_f64(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64_opt(arg).ok_or_else(CmdError::not_float)
}

pub fn parse_f64_opt(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg.len() > 5000 {
        return None;
    }
    let s = std::str::from_utf8(arg).ok()?;
    if s.starts_with(|c: char| c.is_whitespace()) || s.ends_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            // Rust accepts "nan"/"inf" spellings that strtold would treat differently;
            // only plain decimal/exponent forms get here.
            if !lower
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'-' | b'+'))
            {
                return None;
            }
            lower.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Human-friendly float formatting as INCRBYFLOAT replies: shortest round-trip digits,
/// no exponent, no trailing ".0".
pub fn format_float(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{v}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Upper-cased argument as a String (for error messages and dispatch).
pub fn upper(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0").unwrap(), 0);
        assert_eq!(parse_i64(b"-1").unwrap(), -1);
        assert_eq!(parse_i64(b"9223372036854775807").unwrap(), i64::MAX);
        assert_eq!(parse_i64(b"-9223372036854775808").unwrap(), i64::MIN);
        for bad in [
            &b"9223372036854775808"[..],
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"",
            b"-",
            b"1a",
        ] {
            assert!(
                parse_i64(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn floats_follow_strtold() {
        assert_eq!(parse_f64(b"1.5").unwrap(), 1.5);
        assert_eq!(parse_f64(b"-inf").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_f64(b"5.0e3").unwrap(), 5000.0);
        for bad in [&b"nan"[..], b" 1", b"1 ", b"", b"abc", b"1.2.3"] {
            assert!(
                parse_f64(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn float_formatting_is_human() {
        assert_eq!(format_float(10.5 + 0.1), "10.6");
        assert_eq!(format_float(3.0), "3");
        assert_eq!(format_float(5.0e3), "5000");
        assert_eq!(format_float(-0.0), "0");
    }
}

/// A subcommand's arity check, as Redis's subcommand table does it (`arity` counts the
/// container and the subcommand; negative means "at least").
pub fn check_subcommand_arity(
    container: &str,
    sub: &str,
    arity: i32,
    argv: &[Vec<u8>],
) -> Result<(), crate::CmdError> {
    let n = argv.len() as i32;
    if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
        return Err(crate::CmdError::new(format!(
            "ERR wrong number of arguments for '{container}|{}' command",
            sub.to_ascii_lowercase()
        )));
    }
    Ok(())
}
