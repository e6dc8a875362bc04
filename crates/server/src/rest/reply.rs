//! Replies as Upstash returns them: `{"result": ...}` / `{"error": "..."}` with RESP2
//! shapes (RESP3 maps flattened, doubles as strings, booleans as 0/1), strings either
//! as UTF-8 (invalid bytes become U+FFFD) or base64, or the raw RESP2 bytes.

use base64::Engine as _;
use engine::Frame;
use hyper::header::HeaderMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Format {
    /// `Upstash-Encoding: base64`: every string base64 except a plain "OK".
    pub base64: bool,
    /// `Upstash-Response-Format: resp2`: the raw RESP2 bytes.
    pub resp2: bool,
}

impl Format {
    pub fn from_headers(h: &HeaderMap) -> Result<Format, String> {
        let base64 = h
            .get("upstash-encoding")
            .is_some_and(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"base64"));
        // The documentation's own curl example spells it "Reponse"; accept both.
        let fmt = h
            .get("upstash-response-format")
            .or_else(|| h.get("upstash-reponse-format"));
        let resp2 = match fmt.map(|v| v.as_bytes().trim_ascii()) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case(b"json") => false,
            Some(v) if v.eq_ignore_ascii_case(b"resp2") => true,
            Some(v) => {
                return Err(format!(
                    "ERR unsupported response format '{}': Upstash-Response-Format must be json or resp2",
                    String::from_utf8_lossy(v)
                ))
            }
        };
        if base64 && resp2 {
            return Err("ERR Upstash-Encoding: base64 cannot be combined with Upstash-Response-Format: resp2".into());
        }
        Ok(Format { base64, resp2 })
    }

    pub fn content_type(&self) -> &'static str {
        if self.resp2 {
            "application/octet-stream"
        } else {
            "application/json"
        }
    }
}

/// Collects replies into a response body: one reply, or an array of them
/// (`[{"result":..},{"error":..}]`; in RESP2 format simply one after another).
pub struct Body {
    fmt: Format,
    list: bool,
    n: usize,
    pub errors: usize,
    pub out: Vec<u8>,
}

impl Body {
    pub fn single(fmt: Format) -> Body {
        Body {
            fmt,
            list: false,
            n: 0,
            errors: 0,
            out: Vec::with_capacity(64),
        }
    }

    pub fn list(fmt: Format, n: usize) -> Body {
        let mut out = Vec::with_capacity(16 + 24 * n);
        if !fmt.resp2 {
            out.push(b'[');
        }
        Body {
            fmt,
            list: true,
            n: 0,
            errors: 0,
            out,
        }
    }

    pub fn push(&mut self, f: &Frame) {
        // A pipeline's response is bounded like its request: once the body passed the
        // max request size, each further reply is that error instead (Upstash applies
        // the limit to what a request loads, too: troubleshooting/max_request_size_exceeded.md).
        let too_large;
        let f = if self.list && self.out.len() > super::request::MAX_REQUEST_BYTES {
            too_large = Frame::Error(super::request::TOO_LARGE.into());
            &too_large
        } else {
            f
        };
        if f.is_error() {
            self.errors += 1;
        }
        if self.fmt.resp2 {
            resp::encode(f, false, &mut self.out);
        } else {
            if self.list && self.n > 0 {
                self.out.push(b',');
            }
            result_object(&mut self.out, f, self.fmt.base64);
        }
        self.n += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        if self.list && !self.fmt.resp2 {
            self.out.push(b']');
        }
        self.out
    }
}

/// `{"result": ...}`, or `{"error": "..."}` for an error reply.
pub fn result_object(out: &mut Vec<u8>, f: &Frame, b64: bool) {
    match f {
        Frame::Error(e) => error_object(out, e),
        _ => {
            out.extend_from_slice(b"{\"result\":");
            value(out, f, b64);
            out.push(b'}');
        }
    }
}

pub fn error_object(out: &mut Vec<u8>, msg: &str) {
    out.extend_from_slice(b"{\"error\":");
    string(out, msg);
    out.push(b'}');
}

pub fn error_body(msg: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 16);
    error_object(&mut out, msg);
    out
}

/// A reply as the JSON value of its RESP2 shape.
fn value(out: &mut Vec<u8>, f: &Frame, b64: bool) {
    match f {
        Frame::Simple(s) if b64 && s != "OK" => base64(out, s.as_bytes()),
        Frame::Simple(s) => string(out, s),
        // Inside an array (e.g. a transaction's replies): the message as a string.
        Frame::Error(s) => string(out, s),
        Frame::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Frame::Boolean(b) => out.push(if *b { b'1' } else { b'0' }),
        Frame::Bulk(b) | Frame::Verbatim(_, b) => bytes(out, b, b64),
        Frame::Double(d) => bytes(out, resp::format_reply_double(*d).as_bytes(), b64),
        Frame::DoubleText(t) => bytes(out, t.as_bytes(), b64),
        Frame::Null | Frame::NullArray => out.extend_from_slice(b"null"),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(out, item, b64);
            }
            out.push(b']');
        }
        Frame::KeyedArrays(pairs) => {
            // RESP2's shape: [[key, value], ...].
            out.push(b'[');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                value(out, k, b64);
                out.push(b',');
                value(out, v, b64);
                out.push(b']');
            }
            out.push(b']');
        }
        Frame::Map(pairs) | Frame::Pairs(pairs) => {
            out.push(b'[');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(out, k, b64);
                out.push(b',');
                value(out, v, b64);
            }
            out.push(b']');
        }
    }
}

fn bytes(out: &mut Vec<u8>, b: &[u8], b64: bool) {
    if b64 {
        base64(out, b);
    } else {
        string(out, &String::from_utf8_lossy(b));
    }
}

fn base64(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'"');
    let start = out.len();
    out.resize(start + base64::encoded_len(b.len(), true).unwrap_or(0), 0);
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(b, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + n);
    out.push(b'"');
}

fn string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(f: &Frame, b64: bool) -> String {
        let mut out = Vec::new();
        result_object(&mut out, f, b64);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn shapes() {
        assert_eq!(json(&Frame::ok(), false), r#"{"result":"OK"}"#);
        assert_eq!(json(&Frame::Null, false), r#"{"result":null}"#);
        assert_eq!(json(&Frame::Integer(137), false), r#"{"result":137}"#);
        assert_eq!(json(&Frame::bulk("value"), false), r#"{"result":"value"}"#);
        assert_eq!(
            json(
                &Frame::Array(vec![
                    Frame::bulk("value1"),
                    Frame::Null,
                    Frame::bulk("value2")
                ]),
                false
            ),
            r#"{"result":["value1",null,"value2"]}"#
        );
        assert_eq!(
            json(
                &Frame::error("ERR wrong number of arguments for 'get' command"),
                false
            ),
            r#"{"error":"ERR wrong number of arguments for 'get' command"}"#
        );
        assert_eq!(
            json(
                &Frame::Map(vec![(Frame::bulk("a"), Frame::Integer(1))]),
                false
            ),
            r#"{"result":["a",1]}"#
        );
        assert_eq!(json(&Frame::Double(1.5), false), r#"{"result":"1.5"}"#);
        assert_eq!(json(&Frame::Boolean(true), false), r#"{"result":1}"#);
        assert_eq!(
            json(&Frame::bulk(b"a\xffb\"".to_vec()), false),
            "{\"result\":\"a\u{fffd}b\\\"\"}"
        );
    }

    #[test]
    fn base64_everything_but_ok() {
        assert_eq!(json(&Frame::ok(), true), r#"{"result":"OK"}"#);
        assert_eq!(json(&Frame::bulk("bar"), true), r#"{"result":"YmFy"}"#);
        assert_eq!(
            json(&Frame::Simple("PONG".into()), true),
            r#"{"result":"UE9ORw=="}"#
        );
        assert_eq!(json(&Frame::Integer(3), true), r#"{"result":3}"#);
        assert_eq!(
            json(&Frame::Array(vec![Frame::bulk(""), Frame::Null]), true),
            r#"{"result":["",null]}"#
        );
    }

    #[test]
    fn lists() {
        let mut b = Body::list(Format::default(), 2);
        b.push(&Frame::ok());
        b.push(&Frame::error("ERR x"));
        assert_eq!(b.errors, 1);
        assert_eq!(
            String::from_utf8(b.finish()).unwrap(),
            r#"[{"result":"OK"},{"error":"ERR x"}]"#
        );
        let mut b = Body::list(
            Format {
                base64: false,
                resp2: true,
            },
            2,
        );
        b.push(&Frame::ok());
        b.push(&Frame::bulk("bar"));
        assert_eq!(b.finish(), b"+OK\r\n$3\r\nbar\r\n");
    }
}
