//! Turns an HTTP request into argument vectors: `/{cmd}/{arg}/...` path segments, the
//! POST body as the last argument, query parameters after it, and JSON command arrays.

use percent_encoding::percent_decode;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

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

/// One JSON command argument: a string, or a number written as Redis would read it.
struct Arg(Vec<u8>);

impl<'de> Deserialize<'de> for Arg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Arg, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Arg;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Arg, E> {
                Ok(Arg(v.as_bytes().to_vec()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Arg, E> {
                Ok(Arg(v.into_bytes()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Arg, E> {
                Ok(Arg(v.to_string().into_bytes()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Arg, E> {
                Ok(Arg(v.to_string().into_bytes()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Arg, E> {
                Ok(Arg(resp::format_double(v).into_bytes()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A command sent as a JSON array (the array must not be empty).
struct Command(Argv);

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Command, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Command;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-empty array of the command name and its arguments")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Command, A::Error> {
                let mut argv = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
                while let Some(Arg(a)) = seq.next_element()? {
                    if argv.len() == MAX_ARGS {
                        return Err(de::Error::custom(TOO_MANY_ARGS));
                    }
                    argv.push(a);
                }
                if argv.is_empty() {
                    return Err(de::Error::custom("empty command"));
                }
                Ok(Command(argv))
            }
        }
        d.deserialize_seq(V)
    }
}

/// `["SET", "foo", "bar", "EX", 100]` as the body of a request to `/`.
pub fn json_command(body: &[u8]) -> Result<Argv, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("ERR empty command: send /COMMAND/arg1/arg2 or POST a JSON array like [\"SET\",\"key\",\"value\"] to /".into());
    }
    serde_json::from_slice::<Command>(body)
        .map(|c| c.0)
        .map_err(|e| {
            format!("ERR invalid request body: {e}; expected a JSON array like [\"SET\",\"key\",\"value\"]")
        })
}

/// A list of commands, at most [`MAX_ARGS`] of them.
struct Commands(Vec<Command>);

impl<'de> Deserialize<'de> for Commands {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Commands, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Commands;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of commands")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Commands, A::Error> {
                let mut cmds = Vec::new();
                while let Some(c) = seq.next_element::<Command>()? {
                    if cmds.len() == MAX_ARGS {
                        return Err(de::Error::custom(TOO_MANY_COMMANDS));
                    }
                    cmds.push(c);
                }
                Ok(Commands(cmds))
            }
        }
        d.deserialize_seq(V)
    }
}

/// `[["SET","k","v"],["GET","k"]]` as the body of /pipeline or /multi-exec.
pub fn json_commands(body: &[u8]) -> Result<Vec<Argv>, String> {
    let expected = "expected a JSON array of commands like [[\"SET\",\"k\",\"v\"],[\"GET\",\"k\"]]";
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(format!("ERR empty request body: {expected}"));
    }
    let cmds = serde_json::from_slice::<Commands>(body)
        .map_err(|e| format!("ERR invalid request body: {e}; {expected}"))?
        .0;
    if cmds.is_empty() {
        return Err(format!("ERR empty command list: {expected}"));
    }
    Ok(cmds.into_iter().map(|c| c.0).collect())
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
        assert!(json_command(b"[\"SET\", true]").is_err());
        assert!(json_command(b"[\"SET\", null]").is_err());
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
