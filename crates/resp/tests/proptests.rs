//! Property tests for the request parser and the reply encoder.

use proptest::collection::vec;
use proptest::prelude::*;
use resp::{
    encode_to_vec, format_double, format_reply_double, parse_request, Frame, ParseError,
    ParseLimits, Request,
};

// ---------------------------------------------------------------------------------
// Helpers: client-side request encoders, a reference parse loop
// ---------------------------------------------------------------------------------

fn multibulk(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// An inline line that quotes every argument, escaping anything unusual as `\xHH`.
fn inline(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.push(b'"');
        for &b in a {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x21..=0x7e | b' ' => out.push(b),
                _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            }
        }
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
    out
}

type Outcome = (Vec<(Request, usize)>, Option<ParseError>);

/// Parses everything in `buf` at once.
fn parse_whole(buf: &[u8], limits: &ParseLimits) -> Outcome {
    let mut pos = 0;
    let mut out = vec![];
    loop {
        match parse_request(&buf[pos..], limits) {
            Ok(Some((argv, n))) => {
                assert!(n > 0, "a request consumed no bytes");
                assert!(n <= buf.len() - pos, "consumed more than the buffer");
                out.push((argv, n));
                pos += n;
            }
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Feeds `buf` in chunks ending at `cuts`, as a connection reading a socket would:
/// keep the unconsumed bytes, append each read, and parse from their start again.
fn parse_chunked(buf: &[u8], cuts: &[usize], limits: &ParseLimits) -> Outcome {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(buf.len())).collect();
    cuts.push(buf.len());
    cuts.sort_unstable();
    let mut pending: Vec<u8> = Vec::new();
    let mut out = vec![];
    let mut from = 0;
    for cut in cuts {
        pending.extend_from_slice(&buf[from..cut]);
        from = cut;
        loop {
            match parse_request(&pending, limits) {
                Ok(Some((argv, n))) => {
                    assert!(n > 0 && n <= pending.len());
                    out.push((argv, n));
                    pending.drain(..n);
                }
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..24),
        1 => "[a-zA-Z:_0-9]{1,12}".prop_map(String::into_bytes),
        1 => vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'$'), Just(b'*'), Just(b'"')], 0..6),
    ]
}

fn argv() -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(arg(), 1..8)
}

/// Bytes that look a lot like RESP, so the parser's deeper states are reached.
fn resp_ish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"-".to_vec()),
        Just(b"0".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"\\x4".to_vec()),
        Just(b"\0".to_vec()),
        (0u32..20).prop_map(|n| n.to_string().into_bytes()),
        vec(any::<u8>(), 0..4),
    ];
    // Most real input starts with a multibulk header.
    (any::<bool>(), vec(token, 0..40)).prop_map(|(star, ts)| {
        let mut out = if star { b"*".to_vec() } else { vec![] };
        out.extend(ts.concat());
        out
    })
}

// ---------------------------------------------------------------------------------
// Reply decoder (RESP2 and RESP3), test-only
// ---------------------------------------------------------------------------------

fn decode(buf: &[u8]) -> Option<(Frame, usize)> {
    let cr = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[1..cr]).ok()?;
    let mut pos = cr + 2;
    let count = || line.parse::<i64>().ok();
    let frame = match buf[0] {
        b'+' => Frame::Simple(line.to_string()),
        b'-' => Frame::Error(line.to_string()),
        b':' => Frame::Integer(count()?),
        b'_' if line.is_empty() => Frame::Null,
        b'#' => match line {
            "t" => Frame::Boolean(true),
            "f" => Frame::Boolean(false),
            _ => return None,
        },
        b',' => Frame::Double(match line {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            "nan" => f64::NAN,
            _ => line.parse().ok()?,
        }),
        b'$' | b'=' => {
            let n = count()?;
            if n == -1 && buf[0] == b'$' {
                return Some((Frame::Null, pos));
            }
            let n = usize::try_from(n).ok()?;
            let data = buf.get(pos..pos + n)?;
            if buf.get(pos + n..pos + n + 2)? != b"\r\n" {
                return None;
            }
            pos += n + 2;
            if buf[0] == b'$' {
                Frame::Bulk(data.to_vec())
            } else {
                if data.len() < 4 || data[3] != b':' {
                    return None;
                }
                let fmt = String::from_utf8(data[..3].to_vec()).ok()?;
                Frame::Verbatim(fmt, data[4..].to_vec())
            }
        }
        kind @ (b'*' | b'~' | b'>' | b'%') => {
            let n = count()?;
            if n == -1 && kind == b'*' {
                return Some((Frame::NullArray, pos));
            }
            let n = usize::try_from(n).ok()?;
            let per = if kind == b'%' { 2 } else { 1 };
            let mut items = Vec::new();
            for _ in 0..n * per {
                let (f, used) = decode(&buf[pos..])?;
                items.push(f);
                pos += used;
            }
            match kind {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                _ => {
                    let mut it = items.into_iter();
                    let mut pairs = vec![];
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                }
            }
        }
        _ => return None,
    };
    Some((frame, pos))
}

/// What a RESP2 client should see for `f`.
fn downgrade(f: &Frame) -> Frame {
    match f {
        Frame::Map(pairs) | Frame::Pairs(pairs) => Frame::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [downgrade(k), downgrade(v)])
                .collect(),
        ),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            Frame::Array(items.iter().map(downgrade).collect())
        }
        Frame::Double(d) => Frame::Bulk(format_reply_double(*d).into_bytes()),
        Frame::DoubleText(t) => Frame::Bulk(t.clone().into_bytes()),
        Frame::Boolean(b) => Frame::Integer(i64::from(*b)),
        Frame::Verbatim(_, text) => Frame::Bulk(text.clone()),
        other => other.clone(),
    }
}

/// Frames whose RESP3 encoding is lossless: no NullArray (it is `_`, like Null), no
/// NaN (never equal to itself), no CR/LF in simple strings, three-byte formats.
fn frame() -> impl Strategy<Value = Frame> {
    let line = "[^\r\n]{0,20}";
    let leaf = prop_oneof![
        line.prop_map(Frame::Simple),
        line.prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        vec(any::<u8>(), 0..32).prop_map(Frame::Bulk),
        Just(Frame::Null),
        any::<f64>()
            .prop_filter("NaN", |f| !f.is_nan())
            .prop_map(Frame::Double),
        prop_oneof![
            (-1e6f64..1e6).prop_map(|f| (f * 8.0).round() / 8.0),
            (-30i32..30).prop_map(|e| 10f64.powi(e)),
        ]
        .prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        ("[a-z]{3}", vec(any::<u8>(), 0..32)).prop_map(|(f, t)| Frame::Verbatim(f, t)),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Frame::Array),
            vec(inner.clone(), 0..6).prop_map(Frame::Set),
            vec(inner.clone(), 0..6).prop_map(Frame::Push),
            vec((inner.clone(), inner), 0..4).prop_map(Frame::Map),
        ]
    })
}

// ---------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// (a) Any pipeline of multibulk requests parses back to the same argvs, with
    /// the same sizes, whether whole or fed in arbitrary chunks.
    #[test]
    fn multibulk_round_trip(
        reqs in vec(argv(), 1..6),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let limits = ParseLimits::default();
        let mut buf = Vec::new();
        let mut want = Vec::new();
        for r in &reqs {
            let enc = multibulk(r);
            want.push((r.clone(), enc.len()));
            buf.extend_from_slice(&enc);
        }
        let whole = parse_whole(&buf, &limits);
        prop_assert_eq!(&whole, &(want, None));
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(buf.len() + 1)).collect();
        prop_assert_eq!(parse_chunked(&buf, &cuts, &limits), whole);
    }

    /// Quoted inline requests round-trip too, whole and chunked.
    #[test]
    fn inline_round_trip(
        reqs in vec(argv(), 1..4),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let limits = ParseLimits::default();
        let mut buf = Vec::new();
        let mut want = Vec::new();
        for r in &reqs {
            let enc = inline(r);
            want.push((r.clone(), enc.len()));
            buf.extend_from_slice(&enc);
        }
        let whole = parse_whole(&buf, &limits);
        prop_assert_eq!(&whole, &(want, None));
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(buf.len() + 1)).collect();
        prop_assert_eq!(parse_chunked(&buf, &cuts, &limits), whole);
    }

    /// Requests over the size limit are refused from their headers alone.
    #[test]
    fn oversized_requests_refused_early(lens in vec(0usize..64, 1..6), max in 0usize..128) {
        let limits = ParseLimits { max_request_bytes: max, ..ParseLimits::default() };
        let argv: Vec<Vec<u8>> = lens.iter().map(|&n| vec![b'x'; n]).collect();
        let buf = multibulk(&argv);
        let total: usize = lens.iter().sum();
        // Only the headers and the payloads before the last argument.
        let last_payload = buf.len() - lens[lens.len() - 1] - 2;
        let got = parse_request(&buf[..last_payload], &limits);
        if total > max {
            prop_assert_eq!(got, Err(ParseError::RequestTooLarge));
        } else {
            prop_assert_eq!(got, Ok(None));
            prop_assert_eq!(parse_request(&buf, &limits), Ok(Some((argv, buf.len()))));
        }
    }

    /// (b) Arbitrary bytes never panic, never consume more than given, and give the
    /// same outcome however they are split.
    #[test]
    fn arbitrary_bytes(
        buf in prop_oneof![vec(any::<u8>(), 0..200), resp_ish()],
        cuts in vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let limits = ParseLimits::default();
        if let Ok(Some((_, n))) = parse_request(&buf, &limits) {
            prop_assert!(n > 0 && n <= buf.len());
        }
        let whole = parse_whole(&buf, &limits);
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(buf.len() + 1)).collect();
        prop_assert_eq!(parse_chunked(&buf, &cuts, &limits), whole.clone());
        // Every single split point, and every byte arriving on its own.
        for split in 0..=buf.len() {
            prop_assert_eq!(parse_chunked(&buf, &[split], &limits), whole.clone());
        }
        let every: Vec<usize> = (0..buf.len()).collect();
        prop_assert_eq!(parse_chunked(&buf, &every, &limits), whole);
    }

    /// Same, with small limits so that the size checks are exercised too.
    #[test]
    fn arbitrary_bytes_small_limits(
        buf in resp_ish(),
        cuts in vec(any::<prop::sample::Index>(), 0..6),
        max_request_bytes in 0usize..40,
        max_args in 0usize..6,
    ) {
        let limits = ParseLimits { max_request_bytes, max_args };
        let whole = parse_whole(&buf, &limits);
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(buf.len() + 1)).collect();
        prop_assert_eq!(parse_chunked(&buf, &cuts, &limits), whole);
    }

    /// (c) RESP3 encoding decodes back to the same frame, using exactly its bytes.
    #[test]
    fn resp3_round_trip(f in frame()) {
        let bytes = encode_to_vec(&f, true);
        let (back, used) = decode(&bytes).expect("decodable RESP3");
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, f);
    }

    /// RESP2 encoding decodes to the downgraded frame.
    #[test]
    fn resp2_round_trip(f in frame()) {
        let bytes = encode_to_vec(&f, false);
        let (back, used) = decode(&bytes).expect("decodable RESP2");
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, downgrade(&f));
    }

    /// Doubles print in their shortest round-tripping form (exactly, including the
    /// sign of zero).
    #[test]
    fn double_format_round_trips(f in any::<f64>()) {
        let s = format_double(f);
        prop_assert!(!s.is_empty() && s.is_ascii());
        if f.is_nan() {
            prop_assert_eq!(s, "nan");
        } else {
            let back: f64 = s.parse().unwrap();
            prop_assert_eq!(back.to_bits(), f.to_bits(), "{} -> {}", f, s);
            if f.fract() == 0.0 && f.abs() <= 4611686018427387904.0 && f != 0.0 {
                prop_assert_eq!(s, format!("{}", f as i64));
            }
        }
    }

    /// Reply doubles (`%.17g`) parse back to the same double, have at most 17
    /// significant digits and no trailing zeros after a decimal point.
    #[test]
    fn reply_double_format_round_trips(f in any::<f64>()) {
        let s = format_reply_double(f);
        if f.is_nan() {
            prop_assert_eq!(s, "nan");
        } else {
            let back: f64 = s.parse().unwrap();
            prop_assert_eq!(back.to_bits(), f.to_bits(), "{} -> {}", f, s);
            let mantissa = s.split('e').next().unwrap_or("");
            let sig = mantissa.trim_start_matches('-').trim_start_matches(['0', '.']).chars().filter(|c| c.is_ascii_digit()).count();
            prop_assert!(sig <= 17, "{}", s);
            if mantissa.contains('.') {
                prop_assert!(!mantissa.ends_with('0') && !mantissa.ends_with('.'), "{}", s);
            }
        }
    }

    /// Simple strings and errors never carry CR/LF onto the wire.
    #[test]
    fn simple_lines_are_one_line(s in ".{0,30}", err in any::<bool>(), resp3 in any::<bool>()) {
        let f = if err { Frame::Error(s.clone()) } else { Frame::Simple(s.clone()) };
        let bytes = encode_to_vec(&f, resp3);
        prop_assert_eq!(bytes.len(), s.len() + 3);
        prop_assert!(bytes.ends_with(b"\r\n"));
        prop_assert!(!bytes[..bytes.len() - 2].iter().any(|&b| b == b'\r' || b == b'\n'));
        let want = s.replace(['\r', '\n'], " ");
        prop_assert_eq!(&bytes[1..bytes.len() - 2], want.as_bytes());
    }
}
