//! Property-based fuzzing of the REST request parsing (issue 17): the server is a binary
//! crate, so cargo-fuzz cannot link it; proptest drives the same functions instead.
//!
//! Two kinds of property, for the path, the query string and the JSON bodies:
//! - round trips: arguments encoded the way a client may encode them (any mix of
//!   percent-escapes, `+` for space, JSON escapes and whitespace) parse back to exactly
//!   those arguments;
//! - arbitrary input: any string or byte sequence, and valid requests with bytes
//!   inserted, removed or changed, parse without panicking, and what does parse obeys the
//!   module's invariants (bounded argument counts, `ERR ` errors, a parsed body re-encodes
//!   to the same arguments).
//!
//! Headers are not this module's: the token header is read in `rest::auth`.

use super::*;
use proptest::prelude::*;

/// Cases per property: the parsers take microseconds; all properties together take a few
/// seconds in a release build.
const CASES: u32 = 10_000;

// ---- encoders, as a client may write a request ----------------------------------------

/// Percent-encodes `b` for a path segment: bytes that must be escaped always are, the
/// others when `mask` says so (upper or lower case hex, also from `mask`).
fn pct(b: &[u8], mask: &[bool], escape: &[u8]) -> String {
    let mut out = String::new();
    for (i, &c) in b.iter().enumerate() {
        let choose = mask.get(i % mask.len().max(1)).copied().unwrap_or(false);
        let must = !c.is_ascii_graphic() || escape.contains(&c);
        if must || choose {
            if i % 2 == 0 {
                out.push_str(&format!("%{c:02X}"));
            } else {
                out.push_str(&format!("%{c:02x}"));
            }
        } else {
            out.push(c as char);
        }
    }
    out
}

/// Form-encodes a query key or value: like [`pct`], plus `+` must be escaped and a space
/// may be written as `+`.
fn form(b: &[u8], mask: &[bool]) -> String {
    let mut out = String::new();
    for (i, &c) in b.iter().enumerate() {
        let choose = mask.get(i % mask.len().max(1)).copied().unwrap_or(false);
        if c == b' ' && !choose {
            out.push('+');
        } else {
            out.push_str(&pct(&[c], &[choose], b"%&=+#"));
        }
    }
    out
}

/// One JSON body argument and the bytes it stands for.
#[derive(Debug, Clone)]
enum Arg {
    Str(String),
    Num(String),
    Bool(bool),
}

impl Arg {
    fn expected(&self) -> Vec<u8> {
        match self {
            Arg::Str(s) => s.as_bytes().to_vec(),
            Arg::Num(n) => n.as_bytes().to_vec(),
            Arg::Bool(b) => b.to_string().into_bytes(),
        }
    }

    /// The JSON text: strings with any mix of literal characters, short escapes and
    /// `\uXXXX` (surrogate pairs above the BMP), chosen by `style`.
    fn json(&self, style: u32) -> String {
        match self {
            Arg::Num(n) => n.clone(),
            Arg::Bool(b) => b.to_string(),
            Arg::Str(s) => {
                let mut out = String::from("\"");
                for (i, ch) in s.chars().enumerate() {
                    let pick = style.rotate_left(i as u32 % 32) & 3;
                    match ch {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' if pick == 0 => out.push_str("\\n"),
                        '\t' if pick == 0 => out.push_str("\\t"),
                        '/' if pick == 1 => out.push_str("\\/"),
                        c if (c as u32) < 0x20 || pick == 2 => {
                            let mut units = [0u16; 2];
                            for u in c.encode_utf16(&mut units) {
                                out.push_str(&format!("\\u{u:04x}"));
                            }
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
                out
            }
        }
    }
}

fn arg() -> impl Strategy<Value = Arg> {
    prop_oneof![
        4 => any::<String>().prop_map(Arg::Str),
        2 => "[ -~]{0,12}".prop_map(Arg::Str),
        // JSON numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
        2 => "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,4})?".prop_map(Arg::Num),
        1 => any::<bool>().prop_map(Arg::Bool),
    ]
}

/// JSON whitespace between tokens.
fn ws(style: u32, i: usize) -> &'static str {
    ["", " ", "\n", "\t ", "\r\n  "][(style as usize).wrapping_add(i * 7) % 5]
}

fn command_json(args: &[Arg], style: u32) -> String {
    let mut out = String::from(ws(style, 0));
    out.push('[');
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(ws(style, i + 1));
        out.push_str(&a.json(style.wrapping_add(i as u32)));
        out.push_str(ws(style, i + 2));
    }
    out.push(']');
    out.push_str(ws(style, 3));
    out
}

/// A parsed command re-encoded as a JSON array of strings (every argument is UTF-8: it
/// came from a JSON string, number or boolean).
fn reencode(argv: &Argv) -> String {
    let strs: Vec<&str> = argv
        .iter()
        .map(|a| std::str::from_utf8(a).expect("arguments of a JSON body are UTF-8"))
        .collect();
    serde_json::to_string(&strs).unwrap()
}

/// A valid body with one byte changed, inserted or removed.
fn mutate(mut body: Vec<u8>, at: usize, byte: u8, how: u8) -> Vec<u8> {
    if body.is_empty() {
        return vec![byte];
    }
    let i = at % body.len();
    match how % 3 {
        0 => body[i] = byte,
        1 => body.insert(i, byte),
        _ => {
            body.remove(i);
        }
    }
    body
}

/// A byte likely to matter to the JSON reader.
fn json_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(&b"[]{},:\"\\-+.0123456789eEtfnu \n\x00\x7f"[..]),
        1 => any::<u8>(),
    ]
}

fn check_command(body: &[u8]) {
    match json_command(body) {
        Ok(argv) => {
            assert!(!argv.is_empty() && argv.len() <= MAX_ARGS);
            let again = json_command(reencode(&argv).as_bytes()).expect("re-encoded body parses");
            assert_eq!(again, argv);
        }
        Err(e) => assert!(e.starts_with("ERR "), "{e}"),
    }
}

fn check_commands(body: &[u8]) {
    match json_commands(body) {
        Ok(cmds) => {
            assert!(!cmds.is_empty() && cmds.len() <= MAX_ARGS);
            let parts: Vec<String> = cmds.iter().map(reencode).collect();
            let again = json_commands(format!("[{}]", parts.join(",")).as_bytes())
                .expect("re-encoded body parses");
            assert_eq!(again, cmds);
        }
        Err(e) => assert!(e.starts_with("ERR "), "{e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// `/cmd/arg/...`: every argument comes back, however it was percent-encoded; `+`
    /// stays `+` in a path. An empty last argument is the trailing slash, which adds
    /// nothing.
    #[test]
    fn path_round_trip(
        argv in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 1..8),
        mask in prop::collection::vec(any::<bool>(), 1..8),
        trailing in any::<bool>(),
    ) {
        let mut path = String::new();
        for a in &argv {
            path.push('/');
            path.push_str(&pct(a, &mask, b"/%?#"));
        }
        if trailing {
            path.push('/');
        }
        let mut want = argv.clone();
        if !trailing && want.last().is_some_and(Vec::is_empty) {
            want.pop();
        }
        prop_assert_eq!(path_args(&path), want, "path {:?}", path);
    }

    /// Any path: no panic, one argument per segment, none longer than its segment.
    #[test]
    fn path_any(path in any::<String>(), tail in "(%[0-9a-fA-F]{0,2}|/|\\+|%)*") {
        let path = format!("{path}{tail}");
        let args = path_args(&path);
        let p = path.strip_prefix('/').unwrap_or(&path);
        if p.is_empty() {
            prop_assert!(args.is_empty());
        } else {
            let p = p.strip_suffix('/').unwrap_or(p);
            let segs: Vec<&str> = p.split('/').collect();
            prop_assert_eq!(args.len(), segs.len());
            for (a, s) in args.iter().zip(&segs) {
                prop_assert!(a.len() <= s.len());
            }
        }
    }

    /// `?k=v&flag&_token=t`: the arguments in order (a value only when non-empty), the
    /// last `_token` as the token.
    #[test]
    fn query_round_trip(
        pairs in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 1..10), prop::option::of(prop::collection::vec(any::<u8>(), 0..10))),
            0..8,
        ),
        token in prop::option::of((prop::collection::vec(any::<u8>(), 0..12), 0usize..9)),
        mask in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let mut parts = Vec::new();
        let mut want = Vec::new();
        for (k, v) in &pairs {
            if k == b"_token" {
                continue;
            }
            match v {
                Some(v) => parts.push(format!("{}={}", form(k, &mask), form(v, &mask))),
                None => parts.push(form(k, &mask)),
            }
            want.push(k.clone());
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                want.push(v.clone());
            }
        }
        if let Some((t, at)) = &token {
            let at = (*at).min(parts.len());
            parts.insert(at, format!("_token={}", form(t, &mask)));
        }
        let q = parts.join("&");
        let parsed = parse_query(Some(&q));
        prop_assert_eq!(&parsed.args, &want, "query {:?}", q);
        prop_assert_eq!(parsed.token, token.map(|(t, _)| t), "query {:?}", q);
    }

    /// Any query string: no panic, at most two arguments per `&`-separated pair.
    #[test]
    fn query_any(q in any::<String>(), tail in "([&=+%_]|%[0-9a-fA-F]{0,2}|_token)*") {
        let q = format!("{q}{tail}");
        let parsed = parse_query(Some(&q));
        prop_assert!(parsed.args.len() <= 2 * q.split('&').count());
    }

    /// A JSON command body parses to exactly its arguments: strings unescaped, numbers
    /// as written, booleans as "true"/"false".
    #[test]
    fn json_command_round_trip(
        args in prop::collection::vec(arg(), 1..10),
        style in any::<u32>(),
    ) {
        let body = command_json(&args, style);
        let want: Argv = args.iter().map(Arg::expected).collect();
        prop_assert_eq!(json_command(body.as_bytes()), Ok(want), "body {:?}", body);
    }

    /// A pipeline body is its commands, each as a single command body parses.
    #[test]
    fn json_commands_round_trip(
        cmds in prop::collection::vec((prop::collection::vec(arg(), 1..5), any::<u32>()), 1..6),
    ) {
        let texts: Vec<String> = cmds.iter().map(|(a, s)| command_json(a, *s)).collect();
        let body = format!("[{}]", texts.join(","));
        let want: Vec<Argv> = texts.iter().map(|t| json_command(t.as_bytes()).unwrap()).collect();
        prop_assert_eq!(json_commands(body.as_bytes()), Ok(want), "body {:?}", body);
    }

    /// Valid bodies with a byte changed, inserted or removed: no panic, `ERR ` errors,
    /// and whatever still parses re-encodes to the same arguments.
    #[test]
    fn json_mutated(
        args in prop::collection::vec(arg(), 1..6),
        style in any::<u32>(),
        edits in prop::collection::vec((any::<usize>(), json_byte(), any::<u8>()), 1..4),
    ) {
        let one = command_json(&args, style).into_bytes();
        let many = format!("[{},{}]", command_json(&args, style), command_json(&args[..1], !style));
        let (mut a, mut b) = (one, many.into_bytes());
        for (at, byte, how) in edits {
            a = mutate(a, at, byte, how);
            b = mutate(b, at, byte, how);
        }
        check_command(&a);
        check_commands(&a);
        check_command(&b);
        check_commands(&b);
    }

    /// Arbitrary bytes as a body: no panic, same invariants.
    #[test]
    fn json_any(body in prop::collection::vec(json_byte(), 0..64)) {
        check_command(&body);
        check_commands(&body);
    }
}
