//! RESP2/RESP3 frames, an incremental request parser and a reply encoder.
//!
//! This crate knows nothing about commands, sockets or tokio: it turns bytes into
//! argument vectors and reply frames into bytes.

mod encode;
mod parse;

pub use encode::{encode, encode_to_vec, format_double, format_reply_double};
pub use parse::{
    parse_request, split_args, string2ll, ParseError, ParseLimits, Request, RequestParser,
    INLINE_MAX_SIZE, MAX_BULK_LEN, UNAUTHENTICATED_MAX_ARGS, UNAUTHENTICATED_MAX_BULK,
};

use serde::{Deserialize, Serialize};

/// A reply frame. RESP3 is the superset; `encode` downgrades for RESP2 clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Frame {
    /// `+OK`
    Simple(String),
    /// `-ERR ...` — the text includes the error code prefix (`ERR`, `WRONGTYPE`, ...).
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Vec<u8>),
    /// RESP2 `$-1`, RESP3 `_`
    Null,
    /// RESP2 `*-1`, RESP3 `_`
    NullArray,
    /// `*N`
    Array(Vec<Frame>),
    /// RESP3 `%N`; RESP2: flat array of 2N elements.
    Map(Vec<(Frame, Frame)>),
    /// Ordered pairs such as member/score: RESP2 a flat array of 2N elements, RESP3 an
    /// array of N two-element arrays (Redis 7's WITHSCORES shape).
    Pairs(Vec<(Frame, Frame)>),
    /// Keyed replies such as XREAD's streams: RESP3 a map `%N`; RESP2 an array of N
    /// two-element arrays `[key, value]` (Redis 7's XREAD/XREADGROUP shapes).
    KeyedArrays(Vec<(Frame, Frame)>),
    /// RESP3 `~N`; RESP2: array.
    Set(Vec<Frame>),
    /// RESP3 `,1.5`; RESP2: bulk string in Redis's formatting.
    Double(f64),
    /// RESP3 `#t`; RESP2: integer 1/0.
    Boolean(bool),
    /// RESP3 `=N\r\ntxt:...`; RESP2: bulk string of the text only.
    Verbatim(String, Vec<u8>),
    /// RESP3 `>N`; RESP2: array.
    Push(Vec<Frame>),
    /// A double written with this exact text, as Redis's addReplyHumanLongDouble
    /// writes geo coordinates: RESP3 `,<text>`; RESP2 a bulk string of the text.
    /// (Last, so entries and replies encoded before it decode unchanged.)
    DoubleText(String),
}

impl Frame {
    pub fn ok() -> Frame {
        Frame::Simple("OK".into())
    }
    pub fn error(msg: impl Into<String>) -> Frame {
        Frame::Error(msg.into())
    }
    pub fn bulk(b: impl Into<Vec<u8>>) -> Frame {
        Frame::Bulk(b.into())
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }
}
