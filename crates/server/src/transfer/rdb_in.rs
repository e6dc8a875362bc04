//! `meridian import --from-rdb FILE`: reads an RDB file redis-server wrote (version 10 or
//! older), and sends each key as RESTORE with a DUMP payload made of the value's bytes
//! as they are in the file (type byte and value encoding, then the file's RDB version
//! and a CRC-64).
//!
//! The file is read twice: a first pass walks every record and checks the CRC-64
//! trailer without sending anything, so a corrupt or truncated file is refused before
//! the destination is touched; the second pass sends. The reader holds one record at a
//! time in memory (plus read-ahead), whatever the file's size.

use super::client::Reply;
use super::dest::{Dest, Expiry, Item};
use super::export::*;
use super::progress::{Progress, Stats};
use super::url::RedisUrl;
use super::ImportArgs;
use anyhow::{anyhow, bail, Context, Result};
use keys::rdb::file::{module_name, Cursor, Walk};
use keys::rdb::{crc64, RDB_VERSION};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Read-ahead when more bytes are needed.
const READ_CHUNK: usize = 1 << 20;
/// The batch is also sent once its payloads reach this many bytes.
const BATCH_BYTES: usize = 16 << 20;

pub enum Event {
    Aux(Vec<u8>, Vec<u8>),
    /// A function library's code (FUNCTION2).
    Function(Vec<u8>),
    Key(Item),
    /// EOF, with the checksum state: `false` if the file has no checksum (written with
    /// `rdbchecksum no`, or older than RDB version 5).
    End {
        checked: bool,
    },
}

pub struct Reader {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    /// The next unread byte of `buf`.
    pos: usize,
    /// The file offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// CRC-64 of every byte before `pos`.
    crc: u64,
    pub version: u16,
    db: u32,
    done: bool,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut r = Reader {
            path: path.to_path_buf(),
            file,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            eof: false,
            crc: 0,
            version: 0,
            db: 0,
            done: false,
        };
        let magic = r.parse("the header", |c| c.take(9).map(|b| b.to_vec()))?;
        if &magic[..5] != b"REDIS" || !magic[5..].iter().all(u8::is_ascii_digit) {
            bail!(
                "{}: not an RDB file (it does not start with REDIS and a 4-digit version)",
                path.display()
            );
        }
        let v: u16 = std::str::from_utf8(&magic[5..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if v == 0 || v > RDB_VERSION {
            bail!(
                "{}: RDB version {v} is not supported: this tool and Meridian read RDB files up to version {RDB_VERSION} (redis-server 7.0); a newer redis-server can be copied live with `meridian import --from redis://...` only if its DUMP payloads are version {RDB_VERSION} too",
                path.display()
            );
        }
        r.version = v;
        Ok(r)
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads more of the file: at least `want` bytes after `pos` if the file has them.
    fn fill(&mut self, want: usize) -> Result<()> {
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        let target = self.pos + want;
        while self.buf.len() < target && !self.eof {
            let start = self.buf.len();
            let n = (target - start).max(READ_CHUNK);
            self.buf.resize(start + n, 0);
            match self.file.read(&mut self.buf[start..]) {
                Ok(0) => {
                    self.buf.truncate(start);
                    self.eof = true;
                }
                Ok(got) => self.buf.truncate(start + got),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.buf.truncate(start),
                Err(e) => {
                    self.buf.truncate(start);
                    return Err(e).with_context(|| format!("cannot read {}", self.path.display()));
                }
            }
        }
        Ok(())
    }

    /// Runs `f` over the unread bytes, reading more of the file until it has enough;
    /// returns what it read and how many bytes it took, without consuming them.
    fn attempt<T>(
        &mut self,
        what: &str,
        mut f: impl FnMut(&mut Cursor) -> Result<T, Walk>,
    ) -> Result<(T, usize)> {
        loop {
            let mut c = Cursor::new(&self.buf[self.pos..]);
            match f(&mut c) {
                Ok(v) => return Ok((v, c.pos())),
                Err(Walk::Bad { at, what: bad }) => bail!(
                    "{}: corrupt at offset {}: bad {bad} in {what} (the file is damaged or not written by redis-server)",
                    self.path.display(),
                    self.offset() + at as u64
                ),
                Err(Walk::Incomplete) => {
                    if self.eof {
                        bail!(
                            "{}: truncated: the file ends at offset {} inside {what} that starts at offset {}",
                            self.path.display(),
                            self.base + self.buf.len() as u64,
                            self.offset()
                        );
                    }
                    let have = self.buf.len() - self.pos;
                    self.fill(have.saturating_mul(2).max(READ_CHUNK))?;
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.crc = crc64(self.crc, &self.buf[self.pos..self.pos + n]);
        self.pos += n;
    }

    fn parse<T>(&mut self, what: &str, f: impl FnMut(&mut Cursor) -> Result<T, Walk>) -> Result<T> {
        let (v, n) = self.attempt(what, f)?;
        self.consume(n);
        Ok(v)
    }

    /// The next record; `Ok(None)` after [`Event::End`].
    pub fn next(&mut self) -> Result<Option<Event>> {
        if self.done {
            return Ok(None);
        }
        let mut expire: Option<i64> = None;
        let mut idle = None;
        let mut freq = None;
        loop {
            let at = self.offset();
            let op = self.parse("a record", |c| c.byte())?;
            match op {
                OPCODE_AUX => {
                    let (k, v) = self.parse("an AUX field", |c| Ok((c.string()?, c.string()?)))?;
                    return Ok(Some(Event::Aux(k, v)));
                }
                OPCODE_RESIZEDB => {
                    self.parse("RESIZEDB", |c| Ok((c.len()?, c.len()?)))?;
                }
                OPCODE_SELECTDB => {
                    let db = self.parse("SELECTDB", |c| c.len())?;
                    self.db = u32::try_from(db).map_err(|_| {
                        anyhow!("{}: offset {at}: database number {db} is out of range", self.path.display())
                    })?;
                }
                OPCODE_EXPIRETIME_MS => {
                    expire = Some(self.parse("EXPIRETIME_MS", |c| c.u64_le())? as i64);
                }
                OPCODE_EXPIRETIME => {
                    expire = Some(self.parse("EXPIRETIME", |c| c.u32_le())? as i64 * 1000);
                }
                OPCODE_IDLE => idle = Some(self.parse("IDLE", |c| c.len())?),
                OPCODE_FREQ => freq = Some(self.parse("FREQ", |c| c.byte())?),
                OPCODE_FUNCTION2 => {
                    let code = self.parse("a function library", |c| c.string())?;
                    return Ok(Some(Event::Function(code)));
                }
                OPCODE_FUNCTION_PRE_GA => bail!(
                    "{}: offset {at}: a function library in the pre-release format of Redis 7.0's release candidates, which this tool does not read; load the file in redis-server 7.0 and copy it live with --from",
                    self.path.display()
                ),
                OPCODE_MODULE_AUX => {
                    let id = self.parse("MODULE_AUX", |c| c.len())?;
                    let (name, ver) = module_name(id);
                    bail!(
                        "{}: offset {at}: auxiliary data of the module {name} (encoding version {ver}); module data cannot be imported into Meridian (remove the module's data from the source, or save it without the module)",
                        self.path.display()
                    );
                }
                OPCODE_EOF => {
                    self.done = true;
                    if self.version < 5 {
                        return Ok(Some(Event::End { checked: false }));
                    }
                    let want = self.crc;
                    let trailer_at = self.offset();
                    let got = self.parse("the CRC-64 trailer", |c| c.u64_le())?;
                    if got == 0 {
                        return Ok(Some(Event::End { checked: false }));
                    }
                    if got != want {
                        bail!(
                            "{}: corrupt: the CRC-64 trailer at offset {trailer_at} is {got:016x}, but the file's contents give {want:016x}",
                            self.path.display()
                        );
                    }
                    return Ok(Some(Event::End { checked: true }));
                }
                ty => {
                    let key = self.parse("a key name", |c| c.string())?;
                    let (_, n) = self.attempt("a value", |c| c.skip_object(ty))?;
                    let mut payload = Vec::with_capacity(n + 11);
                    payload.push(ty);
                    payload.extend_from_slice(&self.buf[self.pos..self.pos + n]);
                    self.consume(n);
                    payload.extend_from_slice(&self.version.to_le_bytes());
                    let crc = crc64(0, &payload);
                    payload.extend_from_slice(&crc.to_le_bytes());
                    return Ok(Some(Event::Key(Item {
                        db: self.db,
                        key,
                        payload,
                        expiry: expire.map_or(Expiry::Never, Expiry::At),
                        idle,
                        freq,
                    })));
                }
            }
        }
    }
}

/// What the checking pass found.
#[derive(Default)]
struct Summary {
    keys: BTreeMap<u32, u64>,
    functions: u64,
    expired: u64,
    checked: bool,
    producer: Option<String>,
}

fn check(path: &Path) -> Result<Summary> {
    let mut r = Reader::open(path)?;
    let mut s = Summary::default();
    let now = super::unix_ms();
    while let Some(ev) = r.next()? {
        match ev {
            Event::Aux(k, v) => {
                if k == b"redis-ver" || k == b"meridian-ver" {
                    s.producer = Some(format!(
                        "{} {}",
                        String::from_utf8_lossy(&k),
                        String::from_utf8_lossy(&v)
                    ));
                }
            }
            Event::Function(_) => s.functions += 1,
            Event::Key(it) => {
                *s.keys.entry(it.db).or_default() += 1;
                if matches!(it.expiry, Expiry::At(ms) if ms <= now) {
                    s.expired += 1;
                }
            }
            Event::End { checked } => s.checked = checked,
        }
    }
    Ok(s)
}

pub async fn run(args: ImportArgs, path: PathBuf) -> Result<i32> {
    let to = RedisUrl::parse(&args.to).map_err(|e| anyhow!(e))?;
    if to.db.is_some() {
        bail!("--to must not name a database with --from-rdb: the file's databases keep their numbers");
    }
    // Pass 1: nothing is sent unless the whole file reads and its checksum matches.
    let summary = check(&path)?;
    let total: u64 = summary.keys.values().sum();
    let dbs: Vec<String> = summary
        .keys
        .iter()
        .map(|(db, n)| format!("db{db}: {n}"))
        .collect();
    eprintln!(
        "meridian import: {} ({}{} keys{}{}, {} function libraries; {}) → redis://{}",
        path.display(),
        summary
            .producer
            .as_ref()
            .map(|p| format!("{p}, "))
            .unwrap_or_default(),
        total,
        if dbs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", dbs.join(", "))
        },
        if summary.expired > 0 {
            format!(", {} already expired", summary.expired)
        } else {
            String::new()
        },
        summary.functions,
        if summary.checked {
            "checksum verified"
        } else {
            "the file has no checksum: structure checked only"
        },
        to.addr()
    );
    let conn = super::client::Conn::open(&to, 0).await?;
    let stats = Arc::new(Stats::default());
    let mut dest = Dest::new(conn, 0, stats.clone());
    // Every database the file uses must exist on the destination.
    for db in summary.keys.keys().filter(|&&d| d != 0) {
        if let Reply::Error(e) = dest
            .conn()
            .call(&[b"SELECT", db.to_string().as_bytes()])
            .await?
        {
            bail!("the destination has no database {db} ({e}); nothing was changed");
        }
    }
    if let Reply::Error(e) = dest.conn().call(&[b"SELECT", b"0"]).await? {
        bail!("SELECT 0: {e}");
    }
    if !args.no_flush {
        if let Reply::Error(e) = dest.conn().call(&[b"FLUSHALL"]).await? {
            bail!("FLUSHALL: {e}");
        }
    }
    // Pass 2.
    let started = Instant::now();
    let progress = Progress::start("import", stats.clone(), total);
    let mut r = Reader::open(&path)?;
    let mut batch = Vec::new();
    let mut bytes = 0;
    let mut functions = 0;
    while let Some(ev) = r.next()? {
        match ev {
            Event::Function(code) => {
                match dest
                    .conn()
                    .call(&[b"FUNCTION", b"LOAD", b"REPLACE", &code])
                    .await?
                {
                    Reply::Error(e) => {
                        let first = code.split(|&b| b == b'\n').next().unwrap_or(b"");
                        stats.fail(first, &format!("FUNCTION LOAD: {e}"));
                    }
                    _ => functions += 1,
                }
            }
            Event::Key(it) => {
                bytes += it.payload.len();
                batch.push(it);
                if batch.len() >= args.batch as usize || bytes >= BATCH_BYTES {
                    dest.write(std::mem::take(&mut batch)).await?;
                    bytes = 0;
                }
            }
            Event::Aux(..) | Event::End { .. } => {}
        }
    }
    dest.write(batch).await?;
    drop(progress);
    stats.report("import", started);
    if functions > 0 {
        eprintln!("meridian import: {functions} function libraries loaded");
    }
    Ok(if stats.failed.load(Ordering::Relaxed) > 0 {
        1
    } else {
        0
    })
}
