//! `meridian import --from URL`: the source is read by a [`Scanner`] (SCAN, then DUMP
//! and PTTL of its keys pipelined together with the next SCAN, one round trip per batch)
//! while the destination writes the previous batch; the resume file moves on once the
//! destination has acknowledged a batch.

use super::client::{encode, Conn, Reply};
use super::dest::{Dest, Expiry, Item};
use super::progress::{Progress, Stats};
use super::resume::State;
use super::url::RedisUrl;
use super::ImportArgs;
use anyhow::{anyhow, bail, Result};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// One batch read from the source.
pub struct Batch {
    pub items: Vec<Item>,
    /// Keys gone (deleted or expired) between SCAN and DUMP.
    pub skipped: u64,
    /// Keys the source refused to dump, with its error.
    pub failed: Vec<(Vec<u8>, String)>,
    /// The SCAN cursor that continues after this batch ("0": the scan is complete).
    pub cursor_after: String,
}

pub struct Scanner {
    conn: Conn,
    db: u32,
    count: String,
    /// The next SCAN's reply, already read: cursor and keys.
    pending: Option<(String, Vec<Vec<u8>>)>,
}

impl Scanner {
    /// Starts scanning at `cursor` ("0" for the beginning).
    pub async fn new(mut conn: Conn, db: u32, cursor: &str, count: u32) -> Result<Scanner> {
        let count = count.to_string();
        let r = conn
            .call(&[b"SCAN", cursor.as_bytes(), b"COUNT", count.as_bytes()])
            .await?;
        let pending = Some(scan_reply(&conn.name, r)?);
        Ok(Scanner {
            conn,
            db,
            count,
            pending,
        })
    }

    /// The next batch, `None` once the scan is complete.
    pub async fn next(&mut self) -> Result<Option<Batch>> {
        let Some((cursor, keys)) = self.pending.take() else {
            return Ok(None);
        };
        let more = cursor != "0";
        let mut buf = Vec::new();
        for k in &keys {
            encode(&mut buf, &[b"DUMP", k]);
            encode(&mut buf, &[b"PTTL", k]);
        }
        if more {
            encode(
                &mut buf,
                &[b"SCAN", cursor.as_bytes(), b"COUNT", self.count.as_bytes()],
            );
        }
        // Time left counts from the moment the request left: a TTL never grows in transit.
        let sent = Instant::now();
        let mut replies = self
            .conn
            .pipeline(&buf, keys.len() * 2 + more as usize)
            .await?;
        if more {
            let r = replies.pop().ok_or_else(|| anyhow!("missing SCAN reply"))?;
            self.pending = Some(scan_reply(&self.conn.name, r)?);
        }
        let mut b = Batch {
            items: Vec::with_capacity(keys.len()),
            skipped: 0,
            failed: Vec::new(),
            cursor_after: cursor,
        };
        let mut it = replies.into_iter();
        for key in keys {
            let (dump, pttl) = (it.next(), it.next());
            match (dump, pttl) {
                (Some(Reply::Error(e)), _) => b.failed.push((key, format!("source DUMP: {e}"))),
                (_, Some(Reply::Error(e))) => b.failed.push((key, format!("source PTTL: {e}"))),
                (Some(Reply::Bulk(payload)), Some(Reply::Int(ms))) if ms >= -1 => {
                    let expiry = if ms == -1 {
                        Expiry::Never
                    } else {
                        Expiry::Left {
                            from: sent,
                            ms: ms as u64,
                        }
                    };
                    b.items.push(Item {
                        db: self.db,
                        key,
                        payload,
                        expiry,
                        idle: None,
                        freq: None,
                    });
                }
                (Some(Reply::Nil), _) | (_, Some(Reply::Int(-2))) => b.skipped += 1,
                (d, p) => b.failed.push((
                    key,
                    format!("unexpected replies to DUMP/PTTL: {d:?} / {p:?}"),
                )),
            }
        }
        Ok(Some(b))
    }
}

fn scan_reply(name: &str, r: Reply) -> Result<(String, Vec<Vec<u8>>)> {
    let bad = |r: &Reply| anyhow!("{name}: unexpected SCAN reply {r:?}");
    let Reply::Array(mut parts) = r else {
        return Err(bad(&r));
    };
    if parts.len() != 2 {
        return Err(bad(&Reply::Array(parts)));
    }
    let keys = parts.pop();
    let cursor = parts.pop();
    match (cursor, keys) {
        (Some(Reply::Bulk(c)), Some(Reply::Array(ks)))
            if !c.is_empty() && c.iter().all(u8::is_ascii_digit) =>
        {
            let mut out = Vec::with_capacity(ks.len());
            for k in ks {
                match k {
                    Reply::Bulk(k) => out.push(k),
                    other => return Err(bad(&other)),
                }
            }
            Ok((String::from_utf8_lossy(&c).into_owned(), out))
        }
        (c, k) => Err(anyhow!("{name}: unexpected SCAN reply {c:?} {k:?}")),
    }
}

/// DBSIZE, for the progress line (0 if the source will not say).
pub async fn dbsize(conn: &mut Conn) -> u64 {
    match conn.call(&[b"DBSIZE"]).await {
        Ok(Reply::Int(n)) if n > 0 => n as u64,
        _ => 0,
    }
}

pub async fn run(args: ImportArgs) -> Result<i32> {
    let from_arg = args.from.as_deref().unwrap_or_default();
    let from = RedisUrl::parse(from_arg).map_err(|e| anyhow!(e))?;
    let to = RedisUrl::parse(&args.to).map_err(|e| anyhow!(e))?;
    let src_db = from.db.unwrap_or(0);
    let dst_db = to.db.unwrap_or(src_db);
    let from_name = format!("redis://{}/{src_db}", from.addr());
    let to_name = format!("redis://{}/{dst_db}", to.addr());
    if from.addr() == to.addr() && src_db == dst_db {
        bail!("the source and the destination are the same database ({from_name})");
    }
    // Where to start.
    let mut state = State {
        from: from_name.clone(),
        to: to_name.clone(),
        cursor: "0".into(),
        copied: 0,
        skipped: 0,
        failed: 0,
        done: false,
    };
    let mut resuming = false;
    if let Some(path) = &args.resume {
        if let Some(s) = State::load(path)? {
            s.check(path, &from_name, &to_name)?;
            if s.done {
                eprintln!(
                    "meridian import: {} says this import finished ({} keys copied, {} skipped, {} failed); delete it to import again",
                    path.display(),
                    s.copied,
                    s.skipped,
                    s.failed
                );
                return Ok(0);
            }
            resuming = true;
            state = s;
        }
    }
    let mut src = Conn::open(&from, src_db).await?;
    let dst = Conn::open(&to, dst_db).await?;
    let stats = Arc::new(Stats::default());
    let mut dest = Dest::new(dst, dst_db, stats.clone());
    let total = dbsize(&mut src).await;
    if resuming {
        eprintln!(
            "meridian import: resuming {from_name} → {to_name} at SCAN cursor {} ({} keys copied before)",
            state.cursor, state.copied
        );
        stats.copied.store(state.copied, Ordering::Relaxed);
        stats.skipped.store(state.skipped, Ordering::Relaxed);
        stats.failed.store(state.failed, Ordering::Relaxed);
        stats.before.store(
            state.copied + state.skipped + state.failed,
            Ordering::Relaxed,
        );
    } else {
        eprintln!("meridian import: {from_name} ({total} keys) → {to_name}");
        if !args.no_flush {
            if let Reply::Error(e) = dest.conn().call(&[b"FLUSHDB"]).await? {
                bail!("{to_name}: FLUSHDB: {e}");
            }
        }
        copy_functions(&mut src, &mut dest, &stats).await?;
        if let Some(path) = &args.resume {
            state.save(path)?;
        }
    }
    let started = Instant::now();
    let progress = Progress::start("import", stats.clone(), total);

    // The source is read on its own task, at most two batches ahead of the destination.
    let mut scanner = Scanner::new(src, src_db, &state.cursor, args.batch).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(2);
    let reader = tokio::spawn(async move {
        while let Some(b) = scanner.next().await? {
            if tx.send(b).await.is_err() {
                break;
            }
        }
        anyhow::Ok(())
    });
    let mut written: Result<()> = Ok(());
    while let Some(b) = rx.recv().await {
        stats.skipped.fetch_add(b.skipped, Ordering::Relaxed);
        for (k, e) in &b.failed {
            stats.fail(k, e);
        }
        if let Err(e) = dest.write(b.items).await {
            written = Err(e);
            break;
        }
        if let Some(path) = &args.resume {
            let (c, s, f) = stats.get();
            state.cursor = b.cursor_after;
            state.copied = c;
            state.skipped = s;
            state.failed = f;
            if let Err(e) = state.save(path) {
                written = Err(e);
                break;
            }
        }
    }
    drop(rx);
    let read = reader
        .await
        .map_err(|e| anyhow!("the source reader stopped: {e}"))?;
    drop(progress);
    stats.report("import", started);
    let hint = match &args.resume {
        Some(p) => format!(
            "; run the same command again to continue from {}",
            p.display()
        ),
        None => "; with --resume FILE an interrupted import can continue where it stopped".into(),
    };
    written.map_err(|e| anyhow!("{e:#}{hint}"))?;
    read.map_err(|e| anyhow!("{e:#}{hint}"))?;
    if let Some(path) = &args.resume {
        let (c, s, f) = stats.get();
        state.cursor = "0".into();
        state.copied = c;
        state.skipped = s;
        state.failed = f;
        state.done = true;
        state.save(path)?;
    }
    Ok(if stats.failed.load(Ordering::Relaxed) > 0 {
        1
    } else {
        0
    })
}

/// FUNCTION DUMP on the source, FUNCTION RESTORE ... REPLACE on the destination, if the
/// source has any library. A source without functions (Redis before 7.0) is noted.
async fn copy_functions(src: &mut Conn, dest: &mut Dest, stats: &Stats) -> Result<()> {
    let payload = match src.call(&[b"FUNCTION", b"DUMP"]).await? {
        Reply::Bulk(p) => p,
        Reply::Error(e) => {
            eprintln!(
                "meridian import: function libraries not copied (source: FUNCTION DUMP: {e})"
            );
            return Ok(());
        }
        other => bail!("{}: unexpected FUNCTION DUMP reply {other:?}", src.name),
    };
    // Only the 10-byte footer: no library.
    if payload.len() <= 10 {
        return Ok(());
    }
    match dest
        .conn()
        .call(&[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"])
        .await?
    {
        Reply::Error(e) => stats.fail(b"(function libraries)", &format!("FUNCTION RESTORE: {e}")),
        _ => eprintln!("meridian import: function libraries copied"),
    }
    Ok(())
}
