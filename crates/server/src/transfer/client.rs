//! A small RESP2 client for the transfer tools: pipelines written and read at the same
//! time (so neither side can stall the other on a full socket), replies parsed
//! incrementally with bounded nesting, every wait bounded.

use super::url::RedisUrl;
use anyhow::{anyhow, bail, Context, Result};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a reply may take to start arriving (and to keep arriving).
const IDLE: Duration = Duration::from_secs(120);
const CONNECT: Duration = Duration::from_secs(10);
/// Replies nest at most this deep (SCAN's is 2).
const MAX_DEPTH: usize = 16;

#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
}

/// Appends one command as a RESP multibulk.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Where the unparsed part of `buf` starts.
    pos: usize,
    /// For messages: "redis://host:port".
    pub name: String,
}

impl Conn {
    /// Connects, authenticates and selects `db`.
    pub async fn open(url: &RedisUrl, db: u32) -> Result<Conn> {
        let name = format!("redis://{}", url.addr());
        let stream = tokio::time::timeout(CONNECT, TcpStream::connect(url.addr()))
            .await
            .map_err(|_| anyhow!("{name}: no connection within {} s", CONNECT.as_secs()))?
            .with_context(|| format!("{name}: cannot connect"))?;
        let _ = stream.set_nodelay(true);
        let mut c = Conn {
            stream,
            buf: Vec::new(),
            pos: 0,
            name,
        };
        if let Some(p) = &url.password {
            let r = match &url.user {
                Some(u) => c.call(&[b"AUTH", u.as_bytes(), p.as_bytes()]).await?,
                None => c.call(&[b"AUTH", p.as_bytes()]).await?,
            };
            if let Reply::Error(e) = r {
                bail!("{}: AUTH failed: {e}", c.name);
            }
        }
        // A first round trip, so a server that wants a password says so now.
        match c.call(&[b"PING"]).await? {
            Reply::Error(e) => bail!("{}: {e}", c.name),
            _ => {}
        }
        if db != 0 {
            if let Reply::Error(e) = c.call(&[b"SELECT", db.to_string().as_bytes()]).await? {
                bail!("{}: SELECT {db}: {e}", c.name);
            }
        }
        Ok(c)
    }

    /// One command, one reply.
    pub async fn call(&mut self, args: &[&[u8]]) -> Result<Reply> {
        let mut out = Vec::new();
        encode(&mut out, args);
        let mut r = self.pipeline(&out, 1).await?;
        r.pop().ok_or_else(|| anyhow!("{}: no reply", self.name))
    }

    /// Writes `requests` (already encoded) while reading `n` replies.
    pub async fn pipeline(&mut self, requests: &[u8], n: usize) -> Result<Vec<Reply>> {
        let name = self.name.clone();
        let Conn {
            stream, buf, pos, ..
        } = self;
        let (mut rd, mut wr) = stream.split();
        let write = async {
            tokio::time::timeout(IDLE, wr.write_all(requests))
                .await
                .map_err(|_| anyhow!("{name}: the server stopped reading requests"))?
                .with_context(|| format!("{name}: write failed"))
        };
        let read = async {
            let mut replies = Vec::with_capacity(n);
            while replies.len() < n {
                match parse(&buf[*pos..], 0) {
                    Ok(Some((r, used))) => {
                        *pos += used;
                        replies.push(r);
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => bail!("{name}: protocol error in a reply: {e}"),
                }
                if *pos > 0 {
                    buf.drain(..*pos);
                    *pos = 0;
                }
                let start = buf.len();
                buf.resize(start + 64 * 1024, 0);
                let got = tokio::time::timeout(IDLE, rd.read(&mut buf[start..])).await;
                let got = match got {
                    Err(_) => bail!("{name}: no reply within {} s", IDLE.as_secs()),
                    Ok(Err(e)) => {
                        buf.truncate(start);
                        return Err(e).with_context(|| format!("{name}: read failed"));
                    }
                    Ok(Ok(g)) => g,
                };
                buf.truncate(start + got);
                if got == 0 {
                    bail!("{name}: the server closed the connection");
                }
            }
            Ok(replies)
        };
        let ((), replies) = tokio::try_join!(write, read)?;
        if *pos == buf.len() {
            buf.clear();
            *pos = 0;
        }
        Ok(replies)
    }
}

/// One reply from the start of `b`: `Ok(None)` if incomplete.
fn parse(b: &[u8], depth: usize) -> Result<Option<(Reply, usize)>, String> {
    if depth > MAX_DEPTH {
        return Err("replies nested too deep".into());
    }
    let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
        if b.len() > 64 * 1024 {
            return Err("header line too long".into());
        }
        return Ok(None);
    };
    if nl == 0 {
        return Err("empty line".into());
    }
    let line = &b[1..nl];
    let after = nl + 2;
    let text = || String::from_utf8_lossy(line).into_owned();
    let int = || -> Result<i64, String> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad number {:?}", String::from_utf8_lossy(line)))
    };
    match b[0] {
        b'+' => Ok(Some((Reply::Status(text()), after))),
        b'-' => Ok(Some((Reply::Error(text()), after))),
        b':' => Ok(Some((Reply::Int(int()?), after))),
        b'$' => {
            let n = int()?;
            if n < 0 {
                return Ok(Some((Reply::Nil, after)));
            }
            let n = usize::try_from(n).map_err(|_| "bulk too long".to_string())?;
            let end = after.checked_add(n).ok_or("bulk too long")?;
            if b.len() < end + 2 {
                return Ok(None);
            }
            if &b[end..end + 2] != b"\r\n" {
                return Err("bulk not followed by CRLF".into());
            }
            Ok(Some((Reply::Bulk(b[after..end].to_vec()), end + 2)))
        }
        b'*' => {
            let n = int()?;
            if n < 0 {
                return Ok(Some((Reply::Nil, after)));
            }
            let mut items = Vec::with_capacity((n as usize).min(1024));
            let mut at = after;
            for _ in 0..n {
                match parse(&b[at..], depth + 1)? {
                    Some((r, used)) => {
                        items.push(r);
                        at += used;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(items), at)))
        }
        c => Err(format!("unexpected reply type byte {c:#04x}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        let all = b"+OK\r\n-ERR x\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n";
        let mut at = 0;
        let mut got = Vec::new();
        while at < all.len() {
            let (r, used) = parse(&all[at..], 0).unwrap().unwrap();
            got.push(r);
            at += used;
        }
        assert_eq!(
            got,
            vec![
                Reply::Status("OK".into()),
                Reply::Error("ERR x".into()),
                Reply::Int(42),
                Reply::Bulk(b"abc".to_vec()),
                Reply::Nil,
                Reply::Array(vec![
                    Reply::Bulk(b"0".to_vec()),
                    Reply::Array(vec![Reply::Bulk(b"k".to_vec())])
                ]),
            ]
        );
        // Every prefix is incomplete, never an error.
        for cut in 0..all.len() - 1 {
            let r = parse(&all[..cut], 0);
            assert!(matches!(r, Ok(None) | Ok(Some(_))), "{cut}");
        }
        for bad in [&b"?x\r\n"[..], b":x\r\n", b"$3\r\nabcd\r\n", b"\r\n"] {
            assert!(parse(bad, 0).is_err(), "{bad:?}");
        }
        let deep = "*1\r\n".repeat(40) + ":1\r\n";
        assert!(parse(deep.as_bytes(), 0).is_err());
        assert_eq!(parse(b"*9999999999\r\n", 0), Ok(None));
    }
}
