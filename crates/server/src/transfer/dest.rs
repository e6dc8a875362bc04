//! Writing keys to the destination: RESTORE key ttl payload REPLACE, pipelined; a value
//! whose RESTORE would be larger than a request may be (Meridian refuses requests over
//! 10 MB) is decoded and rebuilt with the type's own commands in bounded chunks.

use super::client::{encode, Conn, Reply};
use super::progress::Stats;
use anyhow::{bail, Result};
use keys::rdb::{self, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// A RESTORE whose payload is over this is rebuilt command by command instead.
pub const RESTORE_MAX: usize = 8 << 20;
/// Bytes of arguments per rebuilding command.
const CHUNK_BYTES: usize = 1 << 20;
/// Elements per rebuilding command.
const CHUNK_ITEMS: usize = 10_000;
/// Requests sent before their replies are read, at most (a batch of big values is sent
/// in several rounds).
const ROUND_BYTES: usize = 32 << 20;
/// The decoded size a rebuilt value may have.
const DECODE_BUDGET: u64 = 4 << 30;

/// When a key expires.
#[derive(Clone, Copy, Debug)]
pub enum Expiry {
    Never,
    /// `ms` milliseconds left at `from`, by this machine's monotonic clock (a live
    /// source's PTTL): sent as the time left when the RESTORE is written, so no two
    /// clocks are compared.
    Left {
        from: Instant,
        ms: u64,
    },
    /// Unix time in milliseconds (an RDB file's expire time): sent with ABSTTL.
    At(i64),
}

impl Expiry {
    /// For [`Expiry::Left`]: the milliseconds left now (0 once expired).
    pub fn left_now(&self) -> i64 {
        match *self {
            Expiry::Left { from, ms } => {
                let gone = u64::try_from(from.elapsed().as_millis()).unwrap_or(u64::MAX);
                i64::try_from(ms.saturating_sub(gone)).unwrap_or(i64::MAX)
            }
            _ => 0,
        }
    }
}

/// One key to write.
pub struct Item {
    pub db: u32,
    pub key: Vec<u8>,
    /// A DUMP payload (value, RDB version, CRC-64).
    pub payload: Vec<u8>,
    pub expiry: Expiry,
    /// OBJECT IDLETIME / FREQ hints from an RDB file.
    pub idle: Option<u64>,
    pub freq: Option<u8>,
}

enum Step {
    Select(u32),
    /// A key and how many replies its commands get.
    Key(Vec<u8>, usize),
}

pub struct Dest {
    conn: Conn,
    db: u32,
    stats: Arc<Stats>,
}

impl Dest {
    /// `conn` has `db` selected.
    pub fn new(conn: Conn, db: u32, stats: Arc<Stats>) -> Dest {
        Dest { conn, db, stats }
    }

    pub fn conn(&mut self) -> &mut Conn {
        &mut self.conn
    }

    /// Writes `items` and counts each as copied, skipped (expired before it could be
    /// sent) or failed. An error is a connection-level failure: nothing can be said of
    /// the items whose replies were not read.
    pub async fn write(&mut self, items: Vec<Item>) -> Result<()> {
        let mut buf = Vec::new();
        let mut steps = Vec::new();
        for it in items {
            if it.db != self.db {
                encode(&mut buf, &[b"SELECT", it.db.to_string().as_bytes()]);
                steps.push(Step::Select(it.db));
                self.db = it.db;
            }
            match self.encode_item(&mut buf, it) {
                Ok(Some((key, n))) => steps.push(Step::Key(key, n)),
                Ok(None) => {
                    self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                }
                Err((key, why)) => self.stats.fail(&key, &why),
            }
            if buf.len() >= ROUND_BYTES {
                self.send(&mut buf, &mut steps).await?;
            }
        }
        self.send(&mut buf, &mut steps).await
    }

    async fn send(&mut self, buf: &mut Vec<u8>, steps: &mut Vec<Step>) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        let n = steps
            .iter()
            .map(|s| match s {
                Step::Select(_) => 1,
                Step::Key(_, n) => *n,
            })
            .sum();
        let replies = self.conn.pipeline(buf, n).await?;
        let mut it = replies.into_iter();
        for s in steps.drain(..) {
            match s {
                Step::Select(db) => {
                    if let Some(Reply::Error(e)) = it.next() {
                        bail!("{}: SELECT {db}: {e}", self.conn.name);
                    }
                }
                Step::Key(key, n) => {
                    let mut err = None;
                    for _ in 0..n {
                        if let Some(Reply::Error(e)) = it.next() {
                            err.get_or_insert(e);
                        }
                    }
                    match err {
                        Some(e) => self.stats.fail(&key, &e),
                        None => {
                            self.stats.copied.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
        buf.clear();
        Ok(())
    }

    /// Appends the commands writing `it`: `Ok(Some((key, replies)))`, `Ok(None)` if it
    /// has expired, `Err((key, why))` if it cannot be written.
    #[allow(clippy::type_complexity)]
    fn encode_item(
        &self,
        buf: &mut Vec<u8>,
        it: Item,
    ) -> Result<Option<(Vec<u8>, usize)>, (Vec<u8>, String)> {
        let (ttl, abs) = match it.expiry {
            Expiry::Never => (0i64, false),
            Expiry::Left { .. } => match it.expiry.left_now() {
                0 => return Ok(None),
                left => (left, false),
            },
            Expiry::At(ms) => {
                if ms <= super::unix_ms() {
                    return Ok(None);
                }
                (ms, true)
            }
        };
        if it.key.len() > RESTORE_MAX / 4 {
            let why = format!("a key name of {} bytes is too large to send", it.key.len());
            return Err((it.key, why));
        }
        if it.payload.len() > RESTORE_MAX {
            let n = match rebuild(buf, &it.key, &it.payload, ttl, abs) {
                Ok(n) => n,
                Err(why) => return Err((it.key, why)),
            };
            return Ok(Some((it.key, n)));
        }
        let ttl_s = ttl.to_string();
        let mut args: Vec<&[u8]> = vec![
            b"RESTORE",
            &it.key,
            ttl_s.as_bytes(),
            &it.payload,
            b"REPLACE",
        ];
        if abs {
            args.push(b"ABSTTL");
        }
        let hint;
        if let Some(f) = it.freq {
            hint = f.to_string();
            args.push(b"FREQ");
            args.push(hint.as_bytes());
        } else if let Some(i) = it.idle {
            hint = i.to_string();
            args.push(b"IDLETIME");
            args.push(hint.as_bytes());
        }
        encode(buf, &args);
        Ok(Some((it.key, 1)))
    }
}

/// The commands that rebuild a value too large for one RESTORE: DEL, then the type's
/// adding command in chunks, then the expire time. Returns how many commands.
fn rebuild(
    buf: &mut Vec<u8>,
    key: &[u8],
    payload: &[u8],
    ttl: i64,
    abs: bool,
) -> Result<usize, String> {
    let value = rdb::decode(payload, DECODE_BUDGET).map_err(|e| match e {
        rdb::Error::VersionOrChecksum => "the DUMP payload's version or checksum is wrong".to_string(),
        rdb::Error::BadFormat => "the DUMP payload does not decode (bad format, a type this tool cannot rebuild, or over 4 GB decoded)".to_string(),
    })?;
    let mut n = 0;
    let mut cmd = |buf: &mut Vec<u8>, args: &[&[u8]]| {
        encode(buf, args);
        n += 1;
    };
    // Adds `elems` (groups of arguments) with `verb key ...` in bounded chunks.
    fn chunks(
        buf: &mut Vec<u8>,
        cmd: &mut dyn FnMut(&mut Vec<u8>, &[&[u8]]),
        verb: &[u8],
        key: &[u8],
        elems: &[Vec<&[u8]>],
    ) {
        let mut args: Vec<&[u8]> = vec![verb, key];
        let (mut bytes, mut count) = (0, 0);
        for e in elems {
            for a in e {
                args.push(a);
                bytes += a.len();
            }
            count += 1;
            if bytes >= CHUNK_BYTES || count >= CHUNK_ITEMS {
                cmd(buf, &args);
                args.truncate(2);
                bytes = 0;
                count = 0;
            }
        }
        if count > 0 {
            cmd(buf, &args);
        }
    }
    let biggest = match &value {
        Value::List(v) | Value::Set(v) => v.iter().map(Vec::len).max(),
        Value::Hash(f) => f.iter().map(|(a, b)| a.len() + b.len()).max(),
        Value::ZSet(z) => z.iter().map(|(m, _)| m.len()).max(),
        Value::Json(t) => Some(t.len()),
        Value::String(_) | Value::Stream(_) => None,
    };
    if let Some(b) = biggest.filter(|&b| b > RESTORE_MAX) {
        return Err(format!(
            "one element of this value has {b} bytes, more than one request may carry here ({} MB)",
            RESTORE_MAX >> 20
        ));
    }
    match &value {
        Value::String(s) => {
            let mut parts = s.chunks(CHUNK_BYTES);
            cmd(buf, &[b"SET", key, parts.next().unwrap_or(b"")]);
            for p in parts {
                cmd(buf, &[b"APPEND", key, p]);
            }
        }
        Value::List(items) => {
            cmd(buf, &[b"DEL", key]);
            let e: Vec<Vec<&[u8]>> = items.iter().map(|i| vec![i.as_slice()]).collect();
            chunks(buf, &mut cmd, b"RPUSH", key, &e);
        }
        Value::Set(members) => {
            cmd(buf, &[b"DEL", key]);
            let e: Vec<Vec<&[u8]>> = members.iter().map(|m| vec![m.as_slice()]).collect();
            chunks(buf, &mut cmd, b"SADD", key, &e);
        }
        Value::Hash(fields) => {
            cmd(buf, &[b"DEL", key]);
            let e: Vec<Vec<&[u8]>> = fields
                .iter()
                .map(|(f, v)| vec![f.as_slice(), v.as_slice()])
                .collect();
            chunks(buf, &mut cmd, b"HSET", key, &e);
        }
        Value::ZSet(entries) => {
            cmd(buf, &[b"DEL", key]);
            let scores: Vec<String> = entries.iter().map(|(_, s)| rdb::d2string(*s)).collect();
            let e: Vec<Vec<&[u8]>> = entries
                .iter()
                .zip(&scores)
                .map(|((m, _), s)| vec![s.as_bytes(), m.as_slice()])
                .collect();
            chunks(buf, &mut cmd, b"ZADD", key, &e);
        }
        Value::Json(text) => {
            cmd(buf, &[b"JSON.SET", key, b"$", text]);
        }
        Value::Stream(_) => {
            return Err(format!(
                "a stream whose DUMP payload ({} bytes) is over the {} MB one RESTORE may carry here; streams are not rebuilt command by command",
                payload.len(),
                RESTORE_MAX >> 20
            ))
        }
    }
    if ttl > 0 {
        let t = ttl.to_string();
        let verb: &[u8] = if abs { b"PEXPIREAT" } else { b"PEXPIRE" };
        cmd(buf, &[verb, key, t.as_bytes()]);
    }
    Ok(n)
}
