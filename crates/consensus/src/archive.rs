//! The log archive, for point-in-time restore: every applied log entry, copied from the
//! Raft log into segment files before the log may delete it.
//!
//! A segment is `<first>-<last>.seg` (indexes zero-padded to 20 digits, so names sort
//! by index): the magic `MRDNLOG1`, then per entry its index (u64 BE), length (u32 BE),
//! the entry as the log stores it (bincode) and the CRC-32 of those bytes (u32 BE). A
//! segment is written to a temporary name, fsynced and renamed, so one that exists is
//! whole. Only applied (so committed) entries are archived: none is ever truncated.
//!
//! While a node archives, its log store deletes entries only up to the archived index
//! (`LogStore::purge`), so the archive has no gaps except where this node itself never
//! had the entries (it caught up from a snapshot): a restore that needs entries across
//! such a gap is refused, naming it.

use crate::node::Node;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

const MAGIC: &[u8] = b"MRDNLOG1";
/// At most this many entries per segment.
const SEGMENT_ENTRIES: u64 = 10_000;

fn err(m: impl std::fmt::Display) -> String {
    format!("ERR {m}")
}

/// The segments in `dir`: (first, last, path), by index.
pub fn segments(dir: &Path) -> Vec<(u64, u64, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(u64, u64, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".seg")?;
            let (a, b) = stem.split_once('-')?;
            Some((a.parse().ok()?, b.parse().ok()?, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// The last archived index in `dir` (0: nothing archived); creates `dir`.
pub fn last_index(dir: &Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    Ok(segments(dir).last().map_or(0, |s| s.1))
}

/// Writes one segment of consecutive entries.
pub fn write_segment(dir: &Path, entries: &[(u64, Vec<u8>)]) -> std::io::Result<()> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(());
    };
    let mut buf =
        Vec::with_capacity(MAGIC.len() + entries.iter().map(|e| e.1.len() + 16).sum::<usize>());
    buf.extend_from_slice(MAGIC);
    for (i, raw) in entries {
        buf.extend_from_slice(&i.to_be_bytes());
        buf.extend_from_slice(&(raw.len() as u32).to_be_bytes());
        buf.extend_from_slice(raw);
        buf.extend_from_slice(&crc32fast::hash(raw).to_be_bytes());
    }
    let name = format!("{:020}-{:020}.seg", first.0, last.0);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, &buf)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

fn read_segment(path: &Path) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let raw =
        std::fs::read(path).map_err(|e| err(format!("log archive {}: {e}", path.display())))?;
    let bad = |what: &str, at: usize| {
        err(format!(
            "log archive {}: {what} at byte {at}",
            path.display()
        ))
    };
    let mut rest = raw
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("not a segment (bad magic)", 0))?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let at = raw.len() - rest.len();
        if rest.len() < 12 {
            return Err(bad("truncated entry header", at));
        }
        let index = u64::from_be_bytes(rest[..8].try_into().expect("8 bytes"));
        let n = u32::from_be_bytes(rest[8..12].try_into().expect("4 bytes")) as usize;
        rest = &rest[12..];
        if rest.len() < n + 4 {
            return Err(bad("truncated entry", at));
        }
        let (body, tail) = rest.split_at(n);
        let crc = u32::from_be_bytes(tail[..4].try_into().expect("4 bytes"));
        if crc32fast::hash(body) != crc {
            return Err(bad("entry fails its checksum", at));
        }
        out.push((index, body.to_vec()));
        rest = &tail[4..];
    }
    Ok(out)
}

/// The archived entries `from..=to` (`to` None: all from `from`), checked contiguous.
pub fn read_range(dir: &Path, from: u64, to: Option<u64>) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let segs = segments(dir);
    let Some(first) = segs.first().map(|s| s.0) else {
        return Err(err(format!(
            "the log archive {} is empty (is the node started with --log-archive?)",
            dir.display()
        )));
    };
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut next = from;
    for (a, b, path) in &segs {
        if *b < next || to.is_some_and(|t| *a > t) {
            continue;
        }
        if *a > next {
            return Err(err(format!(
                "the log archive has no entries {next}..{} (it holds {first}..{}; this node may have caught up from a snapshot there)",
                a - 1,
                segs.last().map_or(0, |s| s.1)
            )));
        }
        for (i, raw) in read_segment(path)? {
            if i < next || to.is_some_and(|t| i > t) {
                continue;
            }
            if i != next {
                return Err(err(format!(
                    "the log archive skips from {next} to {i} in {}",
                    path.display()
                )));
            }
            out.push((i, raw));
            next = i + 1;
        }
    }
    if let Some(t) = to {
        if next <= t {
            return Err(err(format!(
                "the log archive ends at index {}, before {t}",
                next - 1
            )));
        }
    }
    Ok(out)
}

/// Deletes the segments wholly before `index` (older than every backup).
pub fn prune(dir: &Path, index: u64) -> usize {
    let mut n = 0;
    for (_, last, path) in segments(dir) {
        if last < index && std::fs::remove_file(&path).is_ok() {
            n += 1;
        }
    }
    n
}

/// Milliseconds between archive rounds; `MERIDIAN_LOG_ARCHIVE_MS` overrides (tests).
fn period() -> Duration {
    let ms = std::env::var("MERIDIAN_LOG_ARCHIVE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(1000);
    Duration::from_millis(ms)
}

/// Copies newly applied entries into the archive, a segment per round (at most
/// [`SEGMENT_ENTRIES`] each), and publishes the archived index for the log store.
pub async fn archive_loop(node: Weak<Node>, dir: PathBuf, archived: Arc<AtomicU64>) {
    loop {
        tokio::time::sleep(period()).await;
        let Some(node) = node.upgrade() else {
            return;
        };
        loop {
            let applied = node.applied_index();
            let done = archived.load(Ordering::Acquire);
            if applied <= done {
                break;
            }
            let to = applied.min(done + SEGMENT_ENTRIES);
            let st = node.storage().clone();
            let dir2 = dir.clone();
            let res = tokio::task::spawn_blocking(move || -> Result<u64, String> {
                let entries = st
                    .log_range(done + 1, to + 1)
                    .map_err(|e| format!("reading the log: {e}"))?;
                let Some(last) = entries.last().map(|e| e.0) else {
                    return Ok(done);
                };
                write_segment(&dir2, &entries).map_err(|e| format!("{}: {e}", dir2.display()))?;
                Ok(last)
            })
            .await;
            match res {
                Ok(Ok(last)) if last > done => archived.store(last, Ordering::Release),
                Ok(Ok(_)) => {
                    // Nothing on disk after `done` up to `to`: this node never had those
                    // entries (a snapshot install); the archive resumes after them.
                    archived.store(to, Ordering::Release);
                }
                Ok(Err(e)) => {
                    tracing::warn!("log archive: {e}");
                    break;
                }
                Err(e) => {
                    tracing::warn!("log archive task: {e}");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip_and_ranges_check_gaps_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let e = |i: u64| (i, format!("entry {i}").into_bytes());
        write_segment(dir.path(), &(1..=3).map(e).collect::<Vec<_>>()).unwrap();
        write_segment(dir.path(), &(4..=6).map(e).collect::<Vec<_>>()).unwrap();
        assert_eq!(last_index(dir.path()).unwrap(), 6);
        let got = read_range(dir.path(), 2, Some(5)).unwrap();
        assert_eq!(got, (2..=5).map(e).collect::<Vec<_>>());
        assert_eq!(read_range(dir.path(), 5, None).unwrap().len(), 2);
        let end = read_range(dir.path(), 2, Some(9)).unwrap_err();
        assert!(end.contains("ends at index 6"), "{end}");
        write_segment(dir.path(), &(9..=10).map(e).collect::<Vec<_>>()).unwrap();
        let gap = read_range(dir.path(), 5, Some(10)).unwrap_err();
        assert!(gap.contains("no entries 7..8"), "{gap}");
        // A flipped byte is found by the entry's checksum.
        let (_, _, p) = segments(dir.path())[0].clone();
        let mut raw = std::fs::read(&p).unwrap();
        raw[MAGIC.len() + 13] ^= 1;
        std::fs::write(&p, raw).unwrap();
        let bad = read_range(dir.path(), 1, Some(3)).unwrap_err();
        assert!(bad.contains("checksum"), "{bad}");
        assert_eq!(prune(dir.path(), 7), 2);
        assert_eq!(segments(dir.path()).len(), 1);
    }
}
