//! `meridian import` and `meridian export`: client-side tools that move keys between a
//! live Redis or Meridian, an RDB file, and a Meridian (or Redis) node, through DUMP and
//! RESTORE. They speak RESP over plain TCP and never touch a node's data directory.
//!
//! - `import --from URL`: SCAN + DUMP + PTTL pipelined on the source, RESTORE ... REPLACE
//!   pipelined on the destination (`live.rs`), resumable from a SCAN cursor kept in a file
//!   (`resume.rs`).
//! - `import --from-rdb FILE`: the file is read twice: once to check its structure and
//!   CRC-64 trailer without sending anything, then to send each key's value bytes as a
//!   DUMP payload (`rdb_in.rs`).
//! - `export --from URL --to FILE`: an RDB version 10 file built from DUMP payloads
//!   (`export.rs`).
//!
//! What goes to the destination is written by `dest.rs`, which also rebuilds, command by
//! command, values too large for one RESTORE request.

mod client;
mod dest;
mod export;
mod live;
mod progress;
mod rdb_in;
mod resume;
mod url;

use clap::{ArgGroup, Args};
use std::path::PathBuf;

/// Exit codes: 0 everything copied (keys that expired or vanished meanwhile are not
/// failures), 1 an error or keys that failed, 2 bad arguments.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("source").required(true).args(["from", "from_rdb"])))]
pub struct ImportArgs {
    /// Copy from a live Redis or Meridian: redis://[[user]:password@]host[:port][/db]
    /// (database 0 unless the URL names one).
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,
    /// Load an RDB file written by redis-server (RDB version 10 or older: Redis 7.0 and
    /// before). Its databases keep their numbers.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub from_rdb: Option<PathBuf>,
    /// The node to write to. With --from its database defaults to the source's.
    #[arg(long, value_name = "URL", default_value = "redis://127.0.0.1:6379")]
    pub to: String,
    /// Keep what the destination holds. By default it is flushed first: the destination
    /// database (FLUSHDB) with --from, every database (FLUSHALL) with --from-rdb.
    #[arg(long)]
    pub no_flush: bool,
    /// Keys per pipelined batch (SCAN COUNT, and RESTOREs sent together).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,
    /// Keep the SCAN position in FILE after every batch the destination acknowledged. If
    /// FILE exists, continue from it (without flushing); else start from the beginning.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The live Redis or Meridian to read: redis://[[user]:password@]host[:port][/db]
    /// (database 0 unless the URL names one).
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The RDB file to write (written beside it under a temporary name, synced, then
    /// renamed).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    /// Keys per pipelined batch.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,
}

/// `meridian import`: the process's exit code.
pub fn import(args: ImportArgs) -> i32 {
    run("meridian import", async move {
        match args.from_rdb.clone() {
            Some(path) => rdb_in::run(args, path).await,
            None => live::run(args).await,
        }
    })
}

/// `meridian export`: the process's exit code.
pub fn export(args: ExportArgs) -> i32 {
    run("meridian export", export::run(args))
}

fn run(what: &str, f: impl std::future::Future<Output = anyhow::Result<i32>>) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{what}: {e}");
            return 1;
        }
    };
    match rt.block_on(f) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{what}: {e:#}");
            1
        }
    }
}

/// Milliseconds since the Unix epoch, by this machine's clock.
fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
