//! Parsing stream IDs (`<ms>-<seq>`) with Redis's exact rules
//! (streamGenericParseIDOrReply, string2ull). The ID type and its stored form are
//! `keys::stream::Id`.

use crate::args;
use crate::error::CmdError;
pub(crate) use crate::types::stream::Id;

pub(crate) fn invalid_id() -> CmdError {
    CmdError::new("ERR Invalid stream ID specified as stream command argument")
}

/// Redis's string2ull: string2ll first (negative values refused), then strtoull's
/// looser rules (leading spaces, a sign, leading zeros; a '-' wraps around), the
/// whole string consumed.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = args::parse_i64_opt(s) {
        return (v >= 0).then_some(v as u64);
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// streamGenericParseIDOrReply: `-` and `+` (unless `strict`), `<ms>-<seq>`, `<ms>`
/// (the sequence is then `missing_seq`) and, when `seq_star` is set, `<ms>-*`.
/// Returns the ID and whether the sequence was given (false only for `<ms>-*`).
pub(crate) fn parse_generic(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(Id, bool), CmdError> {
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    // Redis works on a C string copy: an embedded NUL ends it.
    let buf = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    if strict && (buf == b"-" || buf == b"+") {
        return Err(invalid_id());
    }
    if buf == b"-" {
        return Ok((Id::MIN, true));
    }
    if buf == b"+" {
        return Ok((Id::MAX, true));
    }
    let (ms_part, seq_part) = match buf.iter().position(|&b| b == b'-') {
        Some(p) => (&buf[..p], Some(&buf[p + 1..])),
        None => (buf, None),
    };
    let ms = string2ull(ms_part).ok_or_else(invalid_id)?;
    match seq_part {
        Some(b"*") if seq_star => Ok((Id::new(ms, 0), false)),
        Some(s) => Ok((Id::new(ms, string2ull(s).ok_or_else(invalid_id)?), true)),
        None => Ok((Id::new(ms, missing_seq), true)),
    }
}

/// An ID where `-` and `+` are accepted (streamParseIDOrReply).
pub(crate) fn parse(arg: &[u8], missing_seq: u64) -> Result<Id, CmdError> {
    Ok(parse_generic(arg, missing_seq, false, false)?.0)
}

/// An ID where `-` and `+` are refused, a missing sequence being 0
/// (streamParseStrictIDOrReply).
pub(crate) fn parse_strict(arg: &[u8]) -> Result<Id, CmdError> {
    Ok(parse_generic(arg, 0, true, false)?.0)
}

/// A range bound (streamParseIntervalIDOrReply): a `(` prefix makes it exclusive,
/// and the rest is then parsed strictly. Returns (id, exclusive).
pub(crate) fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(Id, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_generic(&arg[1..], missing_seq, true, false)?.0, true))
    } else {
        Ok((parse(arg, missing_seq)?, false))
    }
}

/// A range start: inclusive, or the successor of an exclusive bound.
pub(crate) fn parse_range_start(arg: &[u8]) -> Result<Id, CmdError> {
    let (id, ex) = parse_interval(arg, 0)?;
    if ex {
        id.next()
            .ok_or_else(|| CmdError::new("ERR invalid start ID for the interval"))
    } else {
        Ok(id)
    }
}

/// A range end: inclusive, or the predecessor of an exclusive bound.
pub(crate) fn parse_range_end(arg: &[u8]) -> Result<Id, CmdError> {
    let (id, ex) = parse_interval(arg, u64::MAX)?;
    if ex {
        id.prev()
            .ok_or_else(|| CmdError::new("ERR invalid end ID for the interval"))
    } else {
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_redis() {
        assert_eq!(parse_strict(b"1-2").unwrap(), Id::new(1, 2));
        assert_eq!(parse_strict(b"5").unwrap(), Id::new(5, 0));
        assert_eq!(parse(b"5", u64::MAX).unwrap(), Id::new(5, u64::MAX));
        assert_eq!(parse(b"-", 0).unwrap(), Id::MIN);
        assert_eq!(parse(b"+", 0).unwrap(), Id::MAX);
        assert!(parse_strict(b"-").is_err());
        assert!(parse_strict(b"+").is_err());
        // strtoull's leniency: leading zeros, '+', spaces.
        assert_eq!(parse_strict(b"007-01").unwrap(), Id::new(7, 1));
        assert_eq!(parse_strict(b"+3").unwrap(), Id::new(3, 0));
        assert_eq!(parse_strict(b" 3").unwrap(), Id::new(3, 0));
        assert_eq!(
            parse_strict(b"18446744073709551615-18446744073709551615").unwrap(),
            Id::MAX
        );
        for bad in [
            &b""[..],
            b"abc",
            b"1-",
            b"-1",
            b"1-2-3",
            b"18446744073709551616",
            b"1-x",
            b"1 ",
            b"1-*",
        ] {
            assert!(
                parse_strict(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parse_generic(b"7-*", 0, true, true).unwrap(),
            (Id::new(7, 0), false)
        );
        assert_eq!(parse_interval(b"(1-1", 0).unwrap(), (Id::new(1, 1), true));
        assert!(parse_interval(b"(-", 0).is_err());
        assert_eq!(parse_interval(b"(", 0).is_err(), true);
        assert!(parse_range_start(b"(18446744073709551615-18446744073709551615").is_err());
        assert!(parse_range_end(b"(0-0").is_err());
    }
}
