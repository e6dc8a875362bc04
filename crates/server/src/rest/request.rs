//! Turns an HTTP request into argument vectors: `/{cmd}/{arg}/...` path segments, the
//! POST body as the last argument, query parameters after it, and JSON command arrays.

use percent_encoding::percent_decode;

/// Largest request body, and largest command (sum of its arguments), as Upstash's
/// documented max request size; RESP enforces the same number.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
pub const TOO_LARGE: &str = "ERR max request size exceeded";

pub type Argv = Vec<Vec<u8>>;

/// Most arguments in one command, and most commands in one /pipeline or /multi-exec
/// request: RESP's multibulk limit (a 10 MB body could otherwise carry millions of
/// one-byte arguments, each a separate allocation).
pub const MAX_ARGS: usize = 1024 * 1024;
pub const TOO_MANY_ARGS: &str = "too many arguments in one command (at most 1048576)";
pub const TOO_MANY_COMMANDS: &str = "too many commands in one request (at most 1048576)";

/// The query string: the `_token` parameter, and every other parameter as arguments in
/// order (`?EX=100&NX` → `EX 100 NX`).
#[derive(Default)]
pub struct Query {
    pub token: Option<Vec<u8>>,
    pub args: Argv,
}

pub fn parse_query(q: Option<&str>) -> Query {
    let mut out = Query::default();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (pair, None),
        };
        let k = form_decode(k);
        if k == b"_token" {
            out.token = v.map(form_decode);
            continue;
        }
        out.args.push(k);
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.args.push(form_decode(v));
        }
    }
    out
}

/// Query strings are form-encoded: `+` is a space.
fn form_decode(s: &str) -> Vec<u8> {
    let s = s.replace('+', " ");
    percent_decode(s.as_bytes()).collect()
}

/// The URL-decoded path segments (`/set/a%2Fb/c` → `set`, `a/b`, `c`). A trailing
/// slash adds nothing; an empty segment in the middle is an empty argument.
pub fn path_args(path: &str) -> Argv {
    let p = path.strip_prefix('/').unwrap_or(path);
    if p.is_empty() {
        return Vec::new();
    }
    let p = p.strip_suffix('/').unwrap_or(p);
    p.split('/')
        .map(|s| percent_decode(s.as_bytes()).collect())
        .collect()
}

/// A JSON command body, read by hand rather than through serde: numbers must keep the
/// text they were written with (`1.50` stays "1.50", `1e3` stays "1e3", as Upstash passes
/// them on), which serde_json only offers behind crate features that change every other
/// user of it. Arguments are strings, numbers (their JSON text), and booleans ("true" /
/// "false", which @upstash/redis sends, e.g. `["hset", k, f, false]`); null and nested
/// arrays/objects are refused with a clear error.
struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

const ARG_TYPES: &str = "send a string or a number (booleans are sent as \"true\"/\"false\")";

impl<'a> Reader<'a> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn at(&self) -> String {
        format!("at byte {}", self.i)
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else if self.i >= self.b.len() {
            Err(format!("unexpected end of input, expected {what}"))
        } else {
            Err(format!("expected {what} {}", self.at()))
        }
    }

    fn end(&mut self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(format!("trailing characters {}", self.at())),
        }
    }

    /// `[a, b, ...]`: calls `item` for each element; `item` reads exactly one value.
    fn array(
        &mut self,
        what: &str,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        self.expect(b'[', what)?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                None => return Err("unexpected end of input, expected ',' or ']'".into()),
                Some(_) => return Err(format!("expected ',' or ']' {}", self.at())),
            }
        }
    }

    /// One command argument.
    fn arg(&mut self) -> Result<Vec<u8>, String> {
        match self.peek() {
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.word(b"true").map(|()| b"true".to_vec()),
            Some(b'f') => self.word(b"false").map(|()| b"false".to_vec()),
            Some(b'n') => {
                self.word(b"null")?;
                Err(format!(
                    "null is not a valid command argument ({ARG_TYPES})"
                ))
            }
            Some(b'[' | b'{') => Err(format!(
                "a nested array or object is not a valid command argument {} ({ARG_TYPES})",
                self.at()
            )),
            None => Err("unexpected end of input, expected an argument".into()),
            Some(_) => Err(format!("expected a value {}", self.at())),
        }
    }

    fn word(&mut self, w: &[u8]) -> Result<(), String> {
        if self.b[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(())
        } else {
            Err(format!("expected a value {}", self.at()))
        }
    }

    /// A JSON number, as its text (grammar checked: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`).
    fn number(&mut self) -> Result<Vec<u8>, String> {
        let start = self.i;
        let b = self.b;
        let digits = |i: &mut usize| {
            let s = *i;
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
            *i > s
        };
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        if !digits(&mut i) || (b[int_start] == b'0' && i - int_start > 1) {
            self.i = start;
            return Err(format!("invalid number {}", self.at()));
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                self.i = start;
                return Err(format!("invalid number {}", self.at()));
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                self.i = start;
                return Err(format!("invalid number {}", self.at()));
            }
        }
        self.i = i;
        Ok(b[start..i].to_vec())
    }

    /// A JSON string, unescaped (serde_json decodes the escapes and checks UTF-8).
    fn string(&mut self) -> Result<Vec<u8>, String> {
        let start = self.i;
        let mut i = start + 1;
        let mut plain = true;
        loop {
            match self.b.get(i) {
                None => return Err("unexpected end of input inside a string".into()),
                Some(b'"') => break,
                Some(b'\\') => {
                    plain = false;
                    i += 2;
                }
                Some(c) if *c < 0x20 || *c >= 0x80 => {
                    plain = false;
                    i += 1;
                }
                Some(_) => i += 1,
            }
        }
        let raw = &self.b[start..=i];
        self.i = i + 1;
        if plain {
            return Ok(raw[1..raw.len() - 1].to_vec());
        }
        serde_json::from_slice::<String>(raw)
            .map(String::into_bytes)
            .map_err(|e| format!("invalid string at byte {start}: {e}"))
    }

    /// A command: a non-empty array of arguments, at most [`MAX_ARGS`].
    fn command(&mut self) -> Result<Argv, String> {
        let mut argv = Vec::new();
        self.array("a JSON array", |r| {
            let a = r.arg()?;
            if argv.len() == MAX_ARGS {
                return Err(TOO_MANY_ARGS.into());
            }
            argv.push(a);
            Ok(())
        })?;
        if argv.is_empty() {
            return Err("empty command".into());
        }
        Ok(argv)
    }
}

/// `["SET", "foo", "bar", "EX", 100]` as the body of a request to `/`.
pub fn json_command(body: &[u8]) -> Result<Argv, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("ERR empty command: send /COMMAND/arg1/arg2 or POST a JSON array like [\"SET\",\"key\",\"value\"] to /".into());
    }
    let mut r = Reader { b: body, i: 0 };
    r.command()
        .and_then(|argv| r.end().map(|()| argv))
        .map_err(|e| {
            format!("ERR invalid request body: {e}; expected a JSON array like [\"SET\",\"key\",\"value\"]")
        })
}

/// `[["SET","k","v"],["GET","k"]]` as the body of /pipeline or /multi-exec.
pub fn json_commands(body: &[u8]) -> Result<Vec<Argv>, String> {
    let expected = "expected a JSON array of commands like [[\"SET\",\"k\",\"v\"],[\"GET\",\"k\"]]";
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(format!("ERR empty request body: {expected}"));
    }
    let mut r = Reader { b: body, i: 0 };
    let mut cmds = Vec::new();
    r.array("a JSON array of commands", |r| {
        if r.peek() != Some(b'[') {
            return Err(format!("expected a command array {}", r.at()));
        }
        let c = r.command()?;
        if cmds.len() == MAX_ARGS {
            return Err(TOO_MANY_COMMANDS.into());
        }
        cmds.push(c);
        Ok(())
    })
    .and_then(|()| r.end())
    .map_err(|e| format!("ERR invalid request body: {e}; {expected}"))?;
    if cmds.is_empty() {
        return Err(format!("ERR empty command list: {expected}"));
    }
    Ok(cmds)
}

/// Bytes of a command's arguments, the measure of the max request size.
pub fn size(argv: &[Vec<u8>]) -> usize {
    argv.iter().map(Vec::len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Argv {
        v.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn paths() {
        assert_eq!(path_args("/"), Argv::new());
        assert_eq!(path_args(""), Argv::new());
        assert_eq!(path_args("/get/foo"), s(&["get", "foo"]));
        assert_eq!(path_args("/get/foo/"), s(&["get", "foo"]));
        assert_eq!(path_args("/set/a%2Fb/x%20y+z"), s(&["set", "a/b", "x y+z"]));
        assert_eq!(path_args("/set//v"), s(&["set", "", "v"]));
        assert_eq!(path_args("/get/%FF")[1], vec![0xff]);
    }

    #[test]
    fn queries() {
        let q = parse_query(Some("EX=100&_token=t%2Bk&NX&a+b=c%20d"));
        assert_eq!(q.token.as_deref(), Some(&b"t+k"[..]));
        assert_eq!(q.args, s(&["EX", "100", "NX", "a b", "c d"]));
        assert!(parse_query(None).args.is_empty());
    }

    #[test]
    fn json_bodies() {
        assert_eq!(
            json_command(br#"["SET", "foo", "bar", "EX", 100, 1.5, -3]"#).unwrap(),
            s(&["SET", "foo", "bar", "EX", "100", "1.5", "-3"])
        );
        assert!(json_command(b"").is_err());
        assert!(json_command(b"[]").unwrap_err().contains("empty command"));
        assert!(json_command(b"{\"a\":1}").is_err());
        assert_eq!(
            json_command(br#"["hset","k","f",false,true,1.50,1e3,-0.0,2E+2]"#).unwrap(),
            s(&["hset", "k", "f", "false", "true", "1.50", "1e3", "-0.0", "2E+2"])
        );
        assert_eq!(
            json_command(" [ \"a\\\"b\\u00e9\\n\" , \"\u{e9}\" ] ".as_bytes()).unwrap(),
            s(&["a\"b\u{e9}\n", "\u{e9}"])
        );
        let e = json_command(b"[\"SET\", null]").unwrap_err();
        assert!(
            e.starts_with("ERR ") && e.contains("null") && e.contains("a string or a number"),
            "{e}"
        );
        for bad in [
            &b"[\"SET\", [1]]"[..],
            b"[\"SET\", {}]",
            b"[\"SET\", 01]",
            b"[\"SET\", 1.]",
            b"[\"SET\", .5]",
            b"[\"SET\", 1e]",
            b"[\"SET\", tru]",
            b"[\"SET\", \"k\"] x",
            b"[\"SET\" \"k\"]",
            b"[\"SET\",]",
            b"[\"a\x01\"]",
            b"[\"\\x\"]",
            b"[\"SET\"",
        ] {
            let e = json_command(bad).unwrap_err();
            assert!(e.starts_with("ERR invalid request body"), "{e}");
        }
        assert!(json_command(b"[\"SET\", [1]]")
            .unwrap_err()
            .contains("nested"));
        assert_eq!(
            json_commands(br#"[["hset","k","f",false],["set","n",1.50]]"#).unwrap(),
            vec![s(&["hset", "k", "f", "false"]), s(&["set", "n", "1.50"])]
        );
        assert!(json_commands(br#"[["set","k",null]]"#)
            .unwrap_err()
            .contains("null"));
        assert!(json_command(b"[\"SET\"").is_err());
        assert_eq!(
            json_commands(br#"[["SET","k","v"],["GET","k"]]"#).unwrap(),
            vec![s(&["SET", "k", "v"]), s(&["GET", "k"])]
        );
        assert!(json_commands(b"[]").is_err());
        assert!(json_commands(b"[[]]").is_err());
        assert!(json_commands(b"[\"GET\",\"k\"]").is_err());
    }
}

#[cfg(test)]
#[path = "request_fuzz.rs"]
mod fuzz;
