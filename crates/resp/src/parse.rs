//! Incremental RESP request parser.
//!
//! [`parse_request`] is stateless: the caller keeps its input buffer and calls it again,
//! from the start of the unconsumed bytes, whenever more data arrives. It never panics,
//! never allocates for an incomplete request, and gives the same answer for a request
//! however its bytes were split across reads.
//!
//! The accepted grammar and the error texts follow Redis 7 (`processMultibulkBuffer`,
//! `processInlineBuffer` and `sdssplitargs` in `networking.c`/`sds.c`), with one
//! deliberate difference: Redis decides "too big" for a header or inline line by how
//! much happens to be buffered, so its answer depends on how the bytes were split;
//! here a line is too big exactly when it is longer than [`INLINE_MAX_SIZE`], so the
//! answer never depends on the split.

/// One request: its argument vector (`argv[0]` is the command name).
pub type Request = Vec<Vec<u8>>;

/// Longest inline request line, and longest `*N`/`$N` header line (Redis'
/// `PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Largest single bulk argument (Redis' default `proto-max-bulk-len`).
pub const MAX_BULK_LEN: i64 = 512 * 1024 * 1024;

/// Limits applied while parsing one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest request: the sum of a multibulk request's declared bulk lengths, or the
    /// length of an inline line. Exceeding it gives [`ParseError::RequestTooLarge`].
    pub max_request_bytes: usize,
    /// Largest multibulk argument count; more gives `invalid multibulk length`.
    pub max_args: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_request_bytes: 10 * 1024 * 1024,
            max_args: 1024 * 1024,
        }
    }
}

/// A request that can never become valid. The connection should answer and close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The complete error text to send (`ERR Protocol error: ...`), as Redis words it.
    Protocol(String),
    /// The request is larger than [`ParseLimits::max_request_bytes`]; the server
    /// answers `ERR max request size exceeded`.
    RequestTooLarge,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Protocol(msg) => f.write_str(msg),
            ParseError::RequestTooLarge => f.write_str("ERR max request size exceeded"),
        }
    }
}

impl std::error::Error for ParseError {}

fn protocol(msg: &str) -> ParseError {
    ParseError::Protocol(format!("ERR Protocol error: {msg}"))
}

/// Parses one request from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a request, or the request and the
/// number of bytes it used. An empty argv (from `*0`, `*-1` or an empty inline line)
/// is a valid request that the caller should skip.
pub fn parse_request(
    buf: &[u8],
    limits: &ParseLimits,
) -> Result<Option<(Request, usize)>, ParseError> {
    match buf.first() {
        None => Ok(None),
        Some(b'*') => parse_multibulk(buf, limits),
        Some(_) => parse_inline(buf, limits),
    }
}

/// An incremental parser for one connection: like [`parse_request`], but it remembers
/// how far it got in an incomplete request, so a request that arrives in many small
/// pieces costs time for its new bytes only (a client sending a 10 MB request, or a
/// million tiny arguments, a few bytes at a time cannot make every read rescan it all).
///
/// Between calls, `buf` must start at the same request and may only have grown (bytes
/// appended). After a complete request or an error the next call starts afresh.
/// The answers are exactly those of [`parse_request`] (with `authenticated` true).
#[derive(Debug, Default, Clone)]
pub struct RequestParser {
    partial: Option<Partial>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partial {
    Multibulk(Progress),
    Inline { searched: usize },
}

impl RequestParser {
    pub fn new() -> RequestParser {
        RequestParser::default()
    }

    /// Forgets an incomplete request (the caller discarded its buffer).
    pub fn reset(&mut self) {
        self.partial = None;
    }

    /// Parses one request from the start of `buf`. A client that has not authenticated
    /// (`authenticated` false) is held to Redis 7's tighter limits: at most
    /// [`UNAUTHENTICATED_MAX_ARGS`] arguments of at most [`UNAUTHENTICATED_MAX_BULK`]
    /// bytes each (`ERR Protocol error: unauthenticated multibulk length` /
    /// `unauthenticated bulk length`).
    pub fn parse(
        &mut self,
        buf: &[u8],
        limits: &ParseLimits,
        authenticated: bool,
    ) -> Result<Option<(Request, usize)>, ParseError> {
        let partial = self.partial.take();
        match buf.first() {
            None => Ok(None),
            Some(b'*') => {
                let resume = match partial {
                    Some(Partial::Multibulk(p)) if p.pos <= buf.len() && p.search <= buf.len() => {
                        if buf.len() < p.need {
                            self.partial = Some(Partial::Multibulk(p));
                            return Ok(None);
                        }
                        Some(p)
                    }
                    _ => None,
                };
                match parse_multibulk_from(buf, limits, authenticated, resume)? {
                    Ok(done) => Ok(Some(done)),
                    Err(p) => {
                        self.partial = Some(Partial::Multibulk(p));
                        Ok(None)
                    }
                }
            }
            Some(_) => {
                let searched = match partial {
                    Some(Partial::Inline { searched }) if searched <= buf.len() => searched,
                    _ => 0,
                };
                let r = parse_inline_from(buf, limits, searched)?;
                if r.is_none() {
                    self.partial = Some(Partial::Inline {
                        searched: buf.len(),
                    });
                }
                Ok(r)
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Multibulk
// ---------------------------------------------------------------------------------

/// How many argument positions the first pass remembers, so that the common small
/// request is walked only once.
const STACK_ARGS: usize = 16;

/// Outcome of scanning a header line that starts at `start`.
enum Line {
    /// The line's content is `buf[start..cr]`; the next line starts at `cr + 2`.
    Done(usize),
    /// More bytes are needed.
    Partial,
}

/// Finds the `\r` ending the header line at `buf[start..]`, searching from `from`
/// (`>= start`; bytes before it are known to hold no `\r`). Like Redis, it needs one
/// more byte after the `\r` (assumed to be `\n`) and does not check what it is.
#[inline]
fn header_line(buf: &[u8], start: usize, from: usize, too_big: &str) -> Result<Line, ParseError> {
    let rest = &buf[from..];
    match rest
        .iter()
        .position(|&b| b == b'\r')
        .map(|p| p + from - start)
    {
        Some(pos) if pos > INLINE_MAX_SIZE => Err(protocol(too_big)),
        Some(pos) if start + pos + 1 < buf.len() => Ok(Line::Done(start + pos)),
        Some(_) => Ok(Line::Partial),
        None if buf.len() - start > INLINE_MAX_SIZE => Err(protocol(too_big)),
        None => Ok(Line::Partial),
    }
}

/// Redis' `string2ll`: an optional `-`, then digits without leading zeros (a lone `0`
/// is fine), fitting an i64. Nothing else, not even spaces or `+`. The one parser of
/// integers: request headers here, command arguments in the engine (`args::parse_i64`).
#[inline]
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Most arguments a client that has not authenticated may send in one request, and
/// the longest argument (Redis 7's limits for clients that still have to AUTH).
pub const UNAUTHENTICATED_MAX_ARGS: usize = 10;
pub const UNAUTHENTICATED_MAX_BULK: usize = 16 * 1024;

/// How far the scan of an incomplete multibulk request got: enough to resume it
/// without walking the arguments already seen again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    /// The declared argument count (0 until the count line is complete).
    count: usize,
    /// Arguments already complete.
    done: usize,
    /// Where the next argument's header starts (0: the count line is incomplete).
    pos: usize,
    /// Sum of the declared lengths of the arguments already complete.
    total: u64,
    /// Where the search for the next `\r` resumes.
    search: usize,
    /// Nothing can change before the buffer holds this many bytes.
    need: usize,
}

enum Scan {
    /// The argument count and the request's length.
    Complete(usize, usize),
    Partial(Progress),
}

/// Walks a multibulk request without allocating, from the start or from where an
/// earlier scan of the same (since grown) buffer stopped. Calls `on_arg(i, start, len)`
/// for every complete argument it walks.
#[inline]
fn scan_multibulk(
    buf: &[u8],
    limits: &ParseLimits,
    authenticated: bool,
    resume: Option<Progress>,
    mut on_arg: impl FnMut(usize, usize, usize),
) -> Result<Scan, ParseError> {
    let mut p = match resume {
        Some(p) if p.pos > 0 => p,
        _ => {
            let search = resume.map_or(0, |p| p.search);
            let cr = match header_line(buf, 0, search, "too big mbulk count string")? {
                Line::Done(cr) => cr,
                Line::Partial => return Ok(Scan::Partial(partial_line(buf, 0, 0, 0, 0))),
            };
            let count = match string2ll(&buf[1..cr]) {
                Some(n) if n <= 0 => return Ok(Scan::Complete(0, cr + 2)),
                Some(n) if n as u64 <= limits.max_args as u64 && n <= i64::from(i32::MAX) => {
                    n as usize
                }
                _ => return Err(protocol("invalid multibulk length")),
            };
            if !authenticated && count > UNAUTHENTICATED_MAX_ARGS {
                return Err(protocol("unauthenticated multibulk length"));
            }
            Progress {
                count,
                done: 0,
                pos: cr + 2,
                total: 0,
                search: cr + 2,
                need: 0,
            }
        }
    };
    while p.done < p.count {
        let pos = p.pos;
        let cr = match header_line(buf, pos, p.search.max(pos), "too big bulk count string")? {
            Line::Done(cr) => cr,
            Line::Partial => {
                return Ok(Scan::Partial(partial_line(
                    buf, p.count, p.done, pos, p.total,
                )))
            }
        };
        if buf[pos] != b'$' {
            return Err(ParseError::Protocol(format!(
                "ERR Protocol error: expected '$', got '{}'",
                buf[pos] as char
            )));
        }
        let len = match string2ll(&buf[pos + 1..cr]) {
            Some(n) if (0..=MAX_BULK_LEN).contains(&n) => n as usize,
            _ => return Err(protocol("invalid bulk length")),
        };
        if !authenticated && len > UNAUTHENTICATED_MAX_BULK {
            return Err(protocol("unauthenticated bulk length"));
        }
        let total = p.total + len as u64;
        if total > limits.max_request_bytes as u64 {
            return Err(ParseError::RequestTooLarge);
        }
        let start = cr + 2;
        // The payload is followed by two bytes (`\r\n`) that, as in Redis, are skipped
        // unchecked.
        let end = start + len + 2;
        if end > buf.len() {
            // Resume at this argument's header (it is cheap to read again), once the
            // payload can be complete.
            return Ok(Scan::Partial(Progress {
                search: pos,
                need: end,
                ..p
            }));
        }
        on_arg(p.done, start, len);
        p.done += 1;
        p.total = total;
        p.pos = end;
        p.search = end;
    }
    Ok(Scan::Complete(p.count, p.pos))
}

/// The progress of a scan stopped in a header line starting at `pos` (0: the count line).
fn partial_line(buf: &[u8], count: usize, done: usize, pos: usize, total: u64) -> Progress {
    // A `\r` as the very last byte still needs the byte after it: search from it again.
    let search = if buf.last() == Some(&b'\r') {
        buf.len() - 1
    } else {
        buf.len()
    };
    Progress {
        count,
        done,
        pos,
        total,
        search: search.max(pos),
        need: buf.len() + 1,
    }
}

/// Parses a multibulk request, resuming a scan that stopped in the same request.
fn parse_multibulk_from(
    buf: &[u8],
    limits: &ParseLimits,
    authenticated: bool,
    resume: Option<Progress>,
) -> Result<Result<(Request, usize), Progress>, ParseError> {
    let mut spans = [(0usize, 0usize); STACK_ARGS];
    let fresh = resume.is_none();
    let (count, consumed) =
        match scan_multibulk(buf, limits, authenticated, resume, |i, start, len| {
            if i < STACK_ARGS {
                spans[i] = (start, len);
            }
        })? {
            Scan::Complete(count, consumed) => (count, consumed),
            Scan::Partial(p) => return Ok(Err(p)),
        };
    let mut argv: Request = Vec::with_capacity(count);
    if count <= STACK_ARGS && fresh {
        argv.extend(spans[..count].iter().map(|&(s, l)| buf[s..s + l].to_vec()));
    } else {
        // Another walk over an already validated, complete request: it cannot fail.
        let _ = scan_multibulk(buf, limits, true, None, |_, start, len| {
            argv.push(buf[start..start + len].to_vec())
        });
    }
    debug_assert_eq!(argv.len(), count);
    Ok(Ok((argv, consumed)))
}

fn parse_multibulk(
    buf: &[u8],
    limits: &ParseLimits,
) -> Result<Option<(Request, usize)>, ParseError> {
    Ok(parse_multibulk_from(buf, limits, true, None)?.ok())
}

// ---------------------------------------------------------------------------------
// Inline
// ---------------------------------------------------------------------------------

fn parse_inline(buf: &[u8], limits: &ParseLimits) -> Result<Option<(Request, usize)>, ParseError> {
    parse_inline_from(buf, limits, 0)
}

/// Parses an inline request; `buf[..searched]` is known to hold no `\n`.
fn parse_inline_from(
    buf: &[u8],
    limits: &ParseLimits,
    searched: usize,
) -> Result<Option<(Request, usize)>, ParseError> {
    let Some(nl) = buf[searched..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| p + searched)
    else {
        // The line is at least as long as what is buffered.
        inline_too_long(buf.len(), limits)?;
        return Ok(None);
    };
    inline_too_long(nl, limits)?;
    let mut line = &buf[..nl];
    if let [rest @ .., b'\r'] = line {
        line = rest;
    }
    match split_args(line) {
        Some(argv) => Ok(Some((argv, nl + 1))),
        None => Err(protocol("unbalanced quotes in request")),
    }
}

/// Judges an inline line of `len` bytes (before its `\n`), or a partial one of at
/// least `len`. Only the smaller of the two limits applies, so a partial line is
/// refused with the same error as the complete one would be.
#[inline]
fn inline_too_long(len: usize, limits: &ParseLimits) -> Result<(), ParseError> {
    if limits.max_request_bytes < INLINE_MAX_SIZE {
        if len > limits.max_request_bytes {
            return Err(ParseError::RequestTooLarge);
        }
    } else if len > INLINE_MAX_SIZE {
        return Err(protocol("too big inline request"));
    }
    Ok(())
}

/// C's `isspace` in the "C" locale.
#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

#[inline]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Redis' `sdssplitargs`. Returns `None` for unbalanced quotes (or a closing quote not
/// followed by a space or the end).
///
/// `sdssplitargs` works on a C string, so a NUL byte ends the line there; this does the
/// same.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut argv = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(argv);
        }
        let mut current = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            let c = at(p);
            if in_dq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        current.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => b'\x08',
                        b'a' => b'\x07',
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => {
                        // Copy the whole run of plain bytes at once.
                        let run = line[p..]
                            .iter()
                            .position(|&b| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'"' | b'\''))
                            .unwrap_or(line.len() - p);
                        current.extend_from_slice(&line[p..p + run]);
                        p += run;
                        continue;
                    }
                }
            }
            p += 1;
        }
        argv.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> ParseLimits {
        ParseLimits::default()
    }

    fn parse(buf: &[u8]) -> Result<Option<(Request, usize)>, ParseError> {
        parse_request(buf, &lim())
    }

    fn ok(buf: &[u8]) -> (Vec<&'static str>, usize) {
        let (argv, n) = parse(buf).expect("no error").expect("complete");
        let argv = argv
            .into_iter()
            .map(|a| &*Box::leak(String::from_utf8(a).unwrap().into_boxed_str()))
            .collect();
        (argv, n)
    }

    fn err(buf: &[u8]) -> String {
        match parse(buf) {
            Err(ParseError::Protocol(s)) => s,
            other => panic!("expected protocol error for {buf:?}, got {other:?}"),
        }
    }

    fn args(v: &[&str]) -> Request {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn string2ll_matches_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"12"), Some(12));
        assert_eq!(string2ll(b"-12"), Some(-12));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
            b"999999999999999999999",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn multibulk_basic() {
        assert_eq!(ok(b"*1\r\n$4\r\nPING\r\n"), (vec!["PING"], 14));
        assert_eq!(
            ok(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\nextra"),
            (vec!["SET", "k", ""], 26)
        );
    }

    #[test]
    fn multibulk_binary_payload() {
        let buf = b"*2\r\n$3\r\nGET\r\n$4\r\n\r\n\0\xff\r\n";
        let (argv, n) = parse(buf).unwrap().unwrap();
        assert_eq!(n, buf.len());
        assert_eq!(argv, vec![b"GET".to_vec(), b"\r\n\0\xff".to_vec()]);
    }

    #[test]
    fn many_args_use_second_walk() {
        let mut buf = format!("*{}\r\n", 40).into_bytes();
        for i in 0..40 {
            let a = format!("arg{i}");
            buf.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
        }
        let (argv, n) = parse(&buf).unwrap().unwrap();
        assert_eq!(n, buf.len());
        assert_eq!(argv.len(), 40);
        for (i, a) in argv.iter().enumerate() {
            assert_eq!(a, format!("arg{i}").as_bytes());
        }
    }

    #[test]
    fn empty_multibulk() {
        assert_eq!(parse(b"*0\r\n").unwrap(), Some((vec![], 4)));
        assert_eq!(parse(b"*-1\r\n*1").unwrap(), Some((vec![], 5)));
        assert_eq!(parse(b"*-7\r\n").unwrap(), Some((vec![], 5)));
    }

    #[test]
    fn incomplete_multibulk() {
        for buf in [
            &b"*"[..],
            b"*1",
            b"*1\r",
            b"*1\r\n",
            b"*1\r\n$",
            b"*1\r\n$3",
            b"*1\r\n$3\r",
            b"*1\r\n$3\r\n",
            b"*1\r\n$3\r\nfoo",
            b"*1\r\n$3\r\nfoo\r",
            b"*2\r\n$3\r\nfoo\r\n",
        ] {
            assert_eq!(parse(buf), Ok(None), "{buf:?}");
        }
    }

    #[test]
    fn invalid_multibulk_length() {
        let e = "ERR Protocol error: invalid multibulk length";
        for buf in [
            &b"*x\r\n"[..],
            b"*\r\n",
            b"*01\r\n",
            b"* 1\r\n",
            b"*1 \r\n",
            b"*99999999999999999999999\r\n",
            b"*2147483648\r\n",
            b"*1048577\r\n",
        ] {
            assert_eq!(err(buf), e, "{buf:?}");
        }
        // The header must be complete before it is judged.
        assert_eq!(parse(b"*x"), Ok(None));
        // max_args is a limit.
        let small = ParseLimits {
            max_args: 2,
            ..lim()
        };
        assert_eq!(
            parse_request(b"*3\r\n", &small),
            Err(ParseError::Protocol(e.into()))
        );
        assert_eq!(parse_request(b"*2\r\n", &small), Ok(None));
    }

    #[test]
    fn invalid_bulk_length() {
        let e = "ERR Protocol error: invalid bulk length";
        for buf in [
            &b"*1\r\n$x\r\n"[..],
            b"*1\r\n$\r\n",
            b"*1\r\n$-1\r\n",
            b"*1\r\n$-5\r\n",
            b"*1\r\n$01\r\n",
            b"*1\r\n$536870913\r\n",
            b"*2\r\n$1\r\na\r\n$1x\r\n",
        ] {
            assert_eq!(err(buf), e, "{buf:?}");
        }
        // 512 MB exactly is a valid bulk length; here it is too large a request.
        let big = ParseLimits {
            max_request_bytes: usize::MAX,
            ..lim()
        };
        assert_eq!(parse_request(b"*1\r\n$536870912\r\n", &big), Ok(None));
    }

    #[test]
    fn expected_dollar() {
        assert_eq!(
            err(b"*1\r\nx\r\n"),
            "ERR Protocol error: expected '$', got 'x'"
        );
        assert_eq!(
            err(b"*2\r\n$1\r\na\r\n:1\r\n"),
            "ERR Protocol error: expected '$', got ':'"
        );
        // Judged once the header line is there, as Redis does.
        assert_eq!(parse(b"*1\r\nx"), Ok(None));
    }

    #[test]
    fn too_big_headers() {
        let mut buf = b"*".to_vec();
        buf.extend(std::iter::repeat_n(b'1', INLINE_MAX_SIZE + 1));
        assert_eq!(err(&buf), "ERR Protocol error: too big mbulk count string");
        buf.extend_from_slice(b"\r\n");
        assert_eq!(err(&buf), "ERR Protocol error: too big mbulk count string");

        let mut buf = b"*1\r\n$".to_vec();
        buf.extend(std::iter::repeat_n(b'1', INLINE_MAX_SIZE));
        assert_eq!(err(&buf), "ERR Protocol error: too big bulk count string");
        buf.extend_from_slice(b"\r\n");
        assert_eq!(err(&buf), "ERR Protocol error: too big bulk count string");

        // Just below the limit: not yet an error.
        let mut buf = b"*1\r\n$".to_vec();
        buf.extend(std::iter::repeat_n(b'1', INLINE_MAX_SIZE - 1));
        assert_eq!(parse(&buf), Ok(None));
    }

    #[test]
    fn request_too_large_from_headers() {
        let limits = ParseLimits {
            max_request_bytes: 10,
            max_args: 100,
        };
        // Declared before any payload arrives.
        assert_eq!(
            parse_request(b"*1\r\n$11\r\n", &limits),
            Err(ParseError::RequestTooLarge)
        );
        assert_eq!(
            parse_request(b"*2\r\n$6\r\nabcdef\r\n$5\r\n", &limits),
            Err(ParseError::RequestTooLarge)
        );
        // Exactly at the limit is fine.
        assert_eq!(
            parse_request(b"*2\r\n$6\r\nabcdef\r\n$4\r\nabcd\r\n", &limits)
                .unwrap()
                .unwrap()
                .1,
            26
        );
        // Default limit: 10 MiB.
        assert_eq!(
            parse(format!("*1\r\n${}\r\n", 10 * 1024 * 1024 + 1).as_bytes()),
            Err(ParseError::RequestTooLarge)
        );
        assert_eq!(
            parse(format!("*1\r\n${}\r\n", 10 * 1024 * 1024).as_bytes()),
            Ok(None)
        );
        // Inline.
        assert_eq!(
            parse_request(b"abcdefghijk\r\n", &limits),
            Err(ParseError::RequestTooLarge)
        );
        assert_eq!(
            parse_request(b"abcdefghijk", &limits),
            Err(ParseError::RequestTooLarge)
        );
        assert_eq!(parse_request(b"abcdefghij", &limits), Ok(None));
    }

    #[test]
    fn bulk_trailer_is_skipped_like_redis() {
        // Redis does not check the two bytes after a payload.
        assert_eq!(ok(b"*1\r\n$3\r\nfooXY"), (vec!["foo"], 13));
    }

    #[test]
    fn inline_basic() {
        assert_eq!(ok(b"PING\r\n"), (vec!["PING"], 6));
        assert_eq!(ok(b"PING\n"), (vec!["PING"], 5));
        assert_eq!(ok(b"  SET  k\tv  \r\nGET"), (vec!["SET", "k", "v"], 14));
        assert_eq!(ok(b"\r\n"), (vec![], 2));
        assert_eq!(ok(b"\n"), (vec![], 1));
        assert_eq!(ok(b"   \t \r\n"), (vec![], 7));
        // Only the final \r is the line end; an inner \r separates arguments.
        assert_eq!(ok(b"a\rb\r\n"), (vec!["a", "b"], 5));
        // \v and \f are skipped between arguments but are part of a plain argument.
        assert_eq!(ok(b"\x0ba\x0bb\n"), (vec!["a\x0bb"], 5));
        assert_eq!(parse(b"PING"), Ok(None));
        assert_eq!(parse(b"PING\r"), Ok(None));
    }

    #[test]
    fn inline_quotes() {
        assert_eq!(ok(b"SET \"a b\" 'c d'\r\n").0, vec!["SET", "a b", "c d"]);
        assert_eq!(
            ok(b"X \"\\n\\r\\t\\b\\a\\\\\\\"\\q\\x41\\x4a\\x4g\"\n").0,
            vec!["X", "\n\r\t\x08\x07\\\"qAJx4g"]
        );
        assert_eq!(ok(b"X 'it\\'s' '\\n'\n").0, vec!["X", "it's", "\\n"]);
        assert_eq!(ok(b"X \"\" ''\n").0, vec!["X", "", ""]);
        // A quote may start mid-argument.
        assert_eq!(ok(b"a\"b c\" d\n").0, vec!["ab c", "d"]);
        assert_eq!(ok(b"\"a\"\t'b'\n").0, vec!["a", "b"]);
        // \xHH gives raw bytes.
        let (argv, _) = parse(b"\"\\xff\\x00\"\n").unwrap().unwrap();
        assert_eq!(argv, vec![vec![0xff, 0x00]]);
    }

    #[test]
    fn inline_unbalanced_quotes() {
        let e = "ERR Protocol error: unbalanced quotes in request";
        for buf in [
            &b"SET \"a\r\n"[..],
            b"SET 'a\n",
            b"\"a\"b\n",
            b"'a'b\n",
            b"\"abc\\\"\n",
            b"\"\\\n",
        ] {
            assert_eq!(err(buf), e, "{buf:?}");
        }
        // An unbalanced line is only judged once complete.
        assert_eq!(parse(b"SET \"a"), Ok(None));
    }

    #[test]
    fn inline_nul_ends_line_like_sdssplitargs() {
        assert_eq!(ok(b"a b\0c d\n"), (vec!["a", "b"], 8));
        assert_eq!(
            err(b"\"a\0\"\n"),
            "ERR Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn too_big_inline() {
        let e = "ERR Protocol error: too big inline request";
        let mut buf = vec![b'a'; INLINE_MAX_SIZE];
        assert_eq!(parse(&buf), Ok(None));
        buf.push(b'a');
        assert_eq!(err(&buf), e);
        buf.push(b'\n');
        assert_eq!(err(&buf), e);
        let mut buf = vec![b'a'; INLINE_MAX_SIZE];
        buf.push(b'\n');
        assert_eq!(parse(&buf).unwrap().unwrap().1, INLINE_MAX_SIZE + 1);
    }

    /// Parses a whole pipeline, returning each request, or the error it ended with.
    fn parse_all(mut buf: &[u8]) -> (Vec<Request>, Option<ParseError>, usize) {
        let mut out = vec![];
        let mut used = 0;
        loop {
            match parse(buf) {
                Ok(Some((argv, n))) => {
                    assert!(n > 0 && n <= buf.len());
                    out.push(argv);
                    buf = &buf[n..];
                    used += n;
                }
                Ok(None) => return (out, None, used),
                Err(e) => return (out, Some(e), used),
            }
        }
    }

    /// Feeds `buf` as two reads split at `split`, re-parsing from the start of the
    /// unconsumed bytes each time, as a connection does.
    fn parse_split(buf: &[u8], split: usize) -> (Vec<Request>, Option<ParseError>, usize) {
        let mut pending = buf[..split].to_vec();
        let mut out = vec![];
        let mut used = 0;
        for chunk in [&buf[split..], &[][..]] {
            loop {
                match parse(&pending) {
                    Ok(Some((argv, n))) => {
                        out.push(argv);
                        pending.drain(..n);
                        used += n;
                    }
                    Ok(None) => break,
                    Err(e) => return (out, Some(e), used),
                }
            }
            pending.extend_from_slice(chunk);
        }
        (out, None, used)
    }

    #[test]
    fn pipeline_split_at_every_offset() {
        let pipeline: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n\
            PING\r\n*0\r\n\
            SET \"a b\" 'c'\n\
            *2\r\n$3\r\nGET\r\n$0\r\n\r\n\
            \r\n\
            *-1\r\n\
            *1\r\n$4\r\nQUIT\r\n";
        let whole = parse_all(pipeline);
        assert_eq!(whole.1, None);
        assert_eq!(whole.2, pipeline.len());
        assert_eq!(
            whole.0,
            vec![
                args(&["SET", "key", "va\r\nl"]),
                args(&["PING"]),
                args(&[]),
                args(&["SET", "a b", "c"]),
                args(&["GET", ""]),
                args(&[]),
                args(&[]),
                args(&["QUIT"]),
            ]
        );
        for split in 0..=pipeline.len() {
            assert_eq!(parse_split(pipeline, split), whole, "split at {split}");
        }
        // Every strict prefix parses to a prefix of the same requests, without error.
        for end in 0..pipeline.len() {
            let (reqs, e, used) = parse_all(&pipeline[..end]);
            assert_eq!(e, None, "prefix {end}");
            assert!(used <= end);
            assert_eq!(&whole.0[..reqs.len()], &reqs[..]);
        }
    }

    #[test]
    fn errors_split_at_every_offset() {
        // A valid request followed by an invalid one: every split gives the same.
        for bad in [&b"*1\r\n$x\r\n"[..], b"*a\r\n", b"*1\r\n+x\r\n", b"\"abc\n"] {
            let mut buf = b"*1\r\n$4\r\nPING\r\n".to_vec();
            buf.extend_from_slice(bad);
            let whole = parse_all(&buf);
            assert!(whole.1.is_some(), "{bad:?}");
            for split in 0..=buf.len() {
                assert_eq!(parse_split(&buf, split), whole, "{bad:?} split at {split}");
            }
        }
    }

    /// Feeds `buf` to a [`RequestParser`] `step` bytes at a time, as a connection does.
    fn parse_stepwise(
        buf: &[u8],
        step: usize,
        authenticated: bool,
    ) -> (Vec<Request>, Option<ParseError>, usize) {
        let mut parser = RequestParser::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut out = vec![];
        let mut used = 0;
        let mut fed = 0;
        loop {
            loop {
                match parser.parse(&pending, &lim(), authenticated) {
                    Ok(Some((argv, n))) => {
                        out.push(argv);
                        pending.drain(..n);
                        used += n;
                    }
                    Ok(None) => break,
                    Err(e) => return (out, Some(e), used),
                }
            }
            if fed == buf.len() {
                return (out, None, used);
            }
            let end = (fed + step).min(buf.len());
            pending.extend_from_slice(&buf[fed..end]);
            fed = end;
        }
    }

    #[test]
    fn incremental_parser_agrees_with_stateless() {
        let mut inputs: Vec<Vec<u8>> = vec![
            b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\nPING\r\n*0\r\nSET \"a b\" 'c'\n*-1\r\n"
                .to_vec(),
            b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n".to_vec(),
            b"*1\r\n$4\r\nPING\r\n*a\r\n".to_vec(),
            b"*2\r\n$1\r\na\r\n+x\r\n".to_vec(),
            b"GET k\r\n\"abc\n".to_vec(),
            format!("*1\r\n${}\r\n", 10 * 1024 * 1024 + 1).into_bytes(),
        ];
        let mut many = format!("*{}\r\n", 300).into_bytes();
        for i in 0..300 {
            let a = format!("a{i}");
            many.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
        }
        many.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        inputs.push(many);
        let mut long_header = b"*1\r\n$".to_vec();
        long_header.extend(std::iter::repeat_n(b'1', INLINE_MAX_SIZE + 10));
        inputs.push(long_header);
        for input in &inputs {
            let whole = parse_all(input);
            for step in [1, 2, 3, 7, 64, 1000, input.len().max(1)] {
                assert_eq!(parse_stepwise(input, step, true), whole, "step {step}");
            }
        }
    }

    #[test]
    fn a_slowly_sent_big_request_is_not_rescanned() {
        // 200k tiny arguments sent 4 bytes at a time: linear work, not quadratic.
        let n = 200_000;
        let mut buf = format!("*{n}\r\n").into_bytes();
        for _ in 0..n {
            buf.extend_from_slice(b"$1\r\nx\r\n");
        }
        let t0 = std::time::Instant::now();
        let (reqs, err, used) = parse_stepwise(&buf, 4, true);
        assert_eq!(err, None);
        assert_eq!(used, buf.len());
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].len(), n);
        // Quadratic rescanning would take minutes here.
        assert!(t0.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn unauthenticated_limits() {
        let mut p = RequestParser::new();
        let ok10 = b"*10\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n";
        assert_eq!(p.parse(ok10, &lim(), false).unwrap().unwrap().0.len(), 10);
        assert_eq!(
            p.parse(b"*11\r\n", &lim(), false),
            Err(ParseError::Protocol(
                "ERR Protocol error: unauthenticated multibulk length".into()
            ))
        );
        assert_eq!(p.parse(b"*11\r\n", &lim(), true), Ok(None));
        p.reset();
        assert_eq!(
            p.parse(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n", &lim(), false),
            Err(ParseError::Protocol(
                "ERR Protocol error: unauthenticated bulk length".into()
            ))
        );
        assert_eq!(
            p.parse(b"*2\r\n$4\r\nAUTH\r\n$16384\r\n", &lim(), false),
            Ok(None)
        );
        p.reset();
        // The general limits come first, as in Redis.
        assert_eq!(
            p.parse(b"*2147483647\r\n", &lim(), false),
            Err(ParseError::Protocol(
                "ERR Protocol error: invalid multibulk length".into()
            ))
        );
        assert_eq!(
            p.parse(b"*1\r\n$2147483647\r\n", &lim(), false),
            Err(ParseError::Protocol(
                "ERR Protocol error: invalid bulk length".into()
            ))
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"*$\r\n-0123456789 \"'\\x\0ab";
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if let Ok(Some((_, n))) = parse(&buf) {
                assert!(n <= buf.len() && n > 0);
            }
        }
    }
}
