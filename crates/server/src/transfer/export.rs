//! `meridian export --from URL --to FILE`: an RDB file as redis-server 7.0 writes one
//! (version 10): the magic, AUX fields, the function libraries, SELECTDB and RESIZEDB,
//! then per key an optional EXPIRETIME_MS, the value's type byte, the key and the value
//! encoding, then EOF and the CRC-64 of everything before it. A DUMP payload is the type
//! byte, the value encoding and a 10-byte footer, so each value goes into the file as
//! the source encoded it.

use super::client::{Conn, Reply};
use super::live::{dbsize, Scanner};
use super::progress::{Progress, Stats};
use super::url::RedisUrl;
use super::ExportArgs;
use anyhow::{anyhow, bail, Context, Result};
use keys::rdb::file::{write_len, write_string, Cursor};
use keys::rdb::{self, crc64};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

pub const OPCODE_FUNCTION2: u8 = 245;
pub const OPCODE_MODULE_AUX: u8 = 247;
pub const OPCODE_IDLE: u8 = 248;
pub const OPCODE_FREQ: u8 = 249;
pub const OPCODE_AUX: u8 = 250;
pub const OPCODE_RESIZEDB: u8 = 251;
pub const OPCODE_EXPIRETIME_MS: u8 = 252;
pub const OPCODE_EXPIRETIME: u8 = 253;
pub const OPCODE_SELECTDB: u8 = 254;
pub const OPCODE_EOF: u8 = 255;
/// The pre-release (7.0 RC) function record, refused.
pub const OPCODE_FUNCTION_PRE_GA: u8 = 246;

/// A file being written, with the CRC-64 of what was written so far.
struct RdbOut {
    w: BufWriter<File>,
    crc: u64,
    bytes: u64,
}

impl RdbOut {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.crc = crc64(self.crc, b);
        self.bytes += b.len() as u64;
        self.w.write_all(b)
    }

    fn put_string(&mut self, s: &[u8]) -> std::io::Result<()> {
        let mut v = Vec::with_capacity(s.len() + 9);
        write_string(&mut v, s);
        self.put(&v)
    }

    fn put_len(&mut self, n: u64) -> std::io::Result<()> {
        let mut v = Vec::with_capacity(9);
        write_len(&mut v, n);
        self.put(&v)
    }

    fn aux(&mut self, k: &str, v: &str) -> std::io::Result<()> {
        self.put(&[OPCODE_AUX])?;
        self.put_string(k.as_bytes())?;
        self.put_string(v.as_bytes())
    }
}

pub async fn run(args: ExportArgs) -> Result<i32> {
    let from = RedisUrl::parse(&args.from).map_err(|e| anyhow!(e))?;
    let db = from.db.unwrap_or(0);
    let name = format!("redis://{}/{db}", from.addr());
    let mut conn = Conn::open(&from, db).await?;
    let total = dbsize(&mut conn).await;
    let expires = expires_hint(&mut conn, db).await;
    let tmp = temp_path(&args.to)?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut out = RdbOut {
        w: BufWriter::with_capacity(1 << 20, file),
        crc: 0,
        bytes: 0,
    };
    eprintln!(
        "meridian export: {name} ({total} keys) → {}",
        args.to.display()
    );
    let stats = Arc::new(Stats::default());
    let started = Instant::now();
    let result = write_all(&mut out, conn, db, total, expires, &args, &stats).await;
    let result = match result {
        Ok(json) => finish(out, &tmp, &args.to).map(|()| json),
        Err(e) => Err(e),
    };
    let json = match result {
        Ok(j) => j,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    stats.report("export", started);
    let size = std::fs::metadata(&args.to).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "meridian export: wrote {} ({size} bytes)",
        args.to.display()
    );
    if json > 0 {
        eprintln!(
            "meridian export: {json} JSON documents are RedisJSON module values in the file: a redis-server loads it only with the RedisJSON module"
        );
    }
    Ok(if stats.failed.load(Ordering::Relaxed) > 0 {
        1
    } else {
        0
    })
}

/// `.NAME.tmp-PID` beside the target.
fn temp_path(to: &Path) -> Result<PathBuf> {
    let name = to
        .file_name()
        .ok_or_else(|| anyhow!("{}: not a file name", to.display()))?;
    let mut t = std::ffi::OsString::from(".");
    t.push(name);
    t.push(format!(".tmp-{}", std::process::id()));
    Ok(to.with_file_name(t))
}

/// Everything up to EOF; returns how many JSON documents were written.
async fn write_all(
    out: &mut RdbOut,
    mut conn: Conn,
    db: u32,
    total: u64,
    expires: u64,
    args: &ExportArgs,
    stats: &Arc<Stats>,
) -> Result<u64> {
    let io = |e: std::io::Error| anyhow!("cannot write {}: {e}", args.to.display());
    out.put(b"REDIS0010").map_err(io)?;
    out.aux("redis-bits", "64").map_err(io)?;
    out.aux("ctime", &(super::unix_ms() / 1000).to_string())
        .map_err(io)?;
    out.aux("used-mem", "0").map_err(io)?;
    out.aux("aof-base", "0").map_err(io)?;
    out.aux("meridian-ver", env!("CARGO_PKG_VERSION"))
        .map_err(io)?;
    // Function libraries: FUNCTION DUMP's payload is FUNCTION2 records and a footer.
    match conn.call(&[b"FUNCTION", b"DUMP"]).await? {
        Reply::Bulk(p) => {
            let body =
                function_records(&p).map_err(|e| anyhow!("{}: FUNCTION DUMP: {e}", conn.name))?;
            out.put(body).map_err(io)?;
        }
        Reply::Error(e) => {
            eprintln!("meridian export: function libraries not exported (FUNCTION DUMP: {e})")
        }
        other => bail!("{}: unexpected FUNCTION DUMP reply {other:?}", conn.name),
    }
    out.put(&[OPCODE_SELECTDB]).map_err(io)?;
    out.put_len(db as u64).map_err(io)?;
    out.put(&[OPCODE_RESIZEDB]).map_err(io)?;
    out.put_len(total).map_err(io)?;
    out.put_len(expires.min(total)).map_err(io)?;

    let progress = Progress::start("export", stats.clone(), total);
    let mut scanner = Scanner::new(conn, db, "0", args.batch).await?;
    let mut json = 0;
    while let Some(b) = scanner.next().await? {
        stats.skipped.fetch_add(b.skipped, Ordering::Relaxed);
        for (k, e) in &b.failed {
            stats.fail(k, e);
        }
        for it in b.items {
            if it.payload.len() <= 10 {
                stats.fail(&it.key, "empty DUMP payload");
                continue;
            }
            if let Err(e) = rdb::verify(&it.payload) {
                let why = match e {
                    rdb::Error::VersionOrChecksum => "the DUMP payload's RDB version is over 10 (Redis 7.2 or newer) or its checksum is wrong",
                    rdb::Error::BadFormat => "bad DUMP payload",
                };
                stats.fail(&it.key, why);
                continue;
            }
            let expire_ms = match it.expiry {
                super::dest::Expiry::Never => None,
                super::dest::Expiry::At(ms) => Some(ms),
                e @ super::dest::Expiry::Left { .. } => match e.left_now() {
                    0 => {
                        stats.skipped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    left => Some(super::unix_ms().saturating_add(left)),
                },
            };
            if let Some(ms) = expire_ms {
                out.put(&[OPCODE_EXPIRETIME_MS]).map_err(io)?;
                out.put(&ms.to_le_bytes()).map_err(io)?;
            }
            let p = &it.payload;
            if p[0] == rdb::TYPE_MODULE_2 {
                json += 1;
            }
            out.put(&p[..1]).map_err(io)?;
            out.put_string(&it.key).map_err(io)?;
            out.put(&p[1..p.len() - 10]).map_err(io)?;
            stats.copied.fetch_add(1, Ordering::Relaxed);
        }
    }
    drop(progress);
    out.put(&[OPCODE_EOF]).map_err(io)?;
    let crc = out.crc;
    out.put(&crc.to_le_bytes()).map_err(io)?;
    Ok(json)
}

/// The FUNCTION2 records of a FUNCTION DUMP payload (checked: footer, then only
/// FUNCTION2 opcodes each followed by one string).
fn function_records(p: &[u8]) -> Result<&[u8], String> {
    rdb::verify(p).map_err(|_| "payload version or checksum wrong".to_string())?;
    let body = &p[..p.len() - 10];
    let mut c = Cursor::new(body);
    while c.pos() < body.len() {
        if c.byte() != Ok(OPCODE_FUNCTION2) {
            return Err("not a list of function libraries".into());
        }
        c.skip_string()
            .map_err(|_| "a truncated function library".to_string())?;
    }
    Ok(body)
}

/// Flush, sync, rename over the target, sync the directory.
fn finish(out: RdbOut, tmp: &Path, to: &Path) -> Result<()> {
    let ctx = || format!("cannot write {}", to.display());
    let file = out
        .w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(ctx)?;
    file.sync_all().with_context(ctx)?;
    drop(file);
    std::fs::rename(tmp, to).with_context(ctx)?;
    let dir = match to.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The number of keys with a TTL (INFO keyspace's `expires=`), a sizing hint in
/// RESIZEDB; 0 if unknown.
async fn expires_hint(conn: &mut Conn, db: u32) -> u64 {
    let Ok(Reply::Bulk(info)) = conn.call(&[b"INFO", b"keyspace"]).await else {
        return 0;
    };
    let text = String::from_utf8_lossy(&info);
    let prefix = format!("db{db}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|l| {
            l.split(',')
                .find_map(|kv| kv.strip_prefix("expires="))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}
