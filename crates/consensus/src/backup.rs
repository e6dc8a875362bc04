//! Backups and restore.
//!
//! A backup is a RocksDB checkpoint of this node's database (hard-linked SST files, so
//! taking one costs a memtable flush, not a copy) in `<root>/<name>/db`, plus
//! `<root>/<name>/manifest.json`: the log index and term the checkpoint is exactly at,
//! the record layout version, and every file with its size and CRC-32. A checkpoint of
//! the applied state is consistent by construction: every entry's effects and the
//! applied record are one RocksDB write batch.
//!
//! A restore is checked first (manifest, versions, every file's size and checksum, the
//! checkpoint opens) and refused before anything changes if any check fails. Then it
//! goes through the log as [`RestoreStep`]s, so every voter and read replica replaces its
//! state at the same point: `Begin` empties the keyspace and refuses every other command
//! with `LOADING` until `End`; `Chunk`s carry the backup's records (keyspace, expiry index,
//! functions). Only those travel: the target keeps its own cluster membership, log, ACL
//! users and settings, so a backup of one cluster restores into another.

use crate::node::{now_ms, Node};
use crate::state_machine::AppliedRecord;
use crate::types::{cf_code, Op, RestoreStep};
use engine::Frame;
use keys::Cf;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use storage::CheckpointReader;

/// Version of the manifest's own format.
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
/// A restore chunk (one log entry) carries at most this many bytes of records...
const CHUNK_BYTES: usize = 4 << 20;
/// ... and at most this many records.
const CHUNK_RECORDS: usize = 20_000;

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the backup's directory (`db/000012.sst`).
    pub path: String,
    pub size: u64,
    pub crc32: u32,
}

/// What `manifest.json` says about a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// [`keys::LAYOUT_VERSION`] of the build that took it.
    pub layout_version: u32,
    pub name: String,
    /// The node that took it, and its region.
    pub node_id: u64,
    pub region: String,
    /// The log position the backup is exactly at (0/0: nothing applied yet).
    pub log_index: u64,
    pub log_term: u64,
    /// Wall time on the taking node when the checkpoint was cut (unix ms).
    pub created_unix_ms: u64,
    pub meridian_version: String,
    /// Keys in the backup (all databases).
    pub keys: u64,
    /// Total bytes of the files.
    pub size_bytes: u64,
    pub files: Vec<FileEntry>,
}

/// What a finished restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub name: String,
    /// The source log index the restored state is exactly at (the backup's, or the
    /// last archived entry applied on top of it).
    pub log_index: u64,
    pub keys: u64,
    pub records: u64,
    pub bytes: u64,
    pub entries: u64,
    pub millis: u64,
}

fn err(m: impl std::fmt::Display) -> String {
    format!("ERR {m}")
}

/// A backup name: 1-64 of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(err(format!(
            "invalid backup name '{name}': use 1-64 letters, digits, '.', '_' or '-', not starting with '.'"
        )))
    }
}

/// Size and CRC-32 of a file, read in blocks.
fn file_crc(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = f.read(&mut buf)?;
        if got == 0 {
            break;
        }
        h.update(&buf[..got]);
        n += got as u64;
    }
    Ok((n, h.finalize()))
}

/// Every file under `dir`, as paths relative to `base`, sorted.
fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for ent in std::fs::read_dir(dir)? {
        let ent = ent?;
        let p = ent.path();
        if ent.file_type()?.is_dir() {
            walk(base, &p, out)?;
        } else if let Ok(rel) = p.strip_prefix(base) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(())
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Takes backup `name` of this node's applied state into `root/name`. Refused if the
/// name is taken. Writes go on meanwhile: the checkpoint is cut between two applies by
/// RocksDB, and the checksums are computed afterwards, off the write path.
pub async fn create(node: &Node, root: &Path, name: &str) -> Result<Manifest, String> {
    check_name(name)?;
    std::fs::create_dir_all(root)
        .map_err(|e| err(format!("backup dir {}: {e}", root.display())))?;
    let dest = root.join(name);
    if dest.exists() {
        return Err(err(format!("a backup named '{name}' already exists")));
    }
    let tmp = root.join(format!(".{name}.{}.tmp", now_ms()));
    let st = node.storage().clone();
    let (node_id, region) = (node.id(), node.region().to_string());
    let name = name.to_string();
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let r = create_blocking(&st, &tmp, &dest, &root, &name, node_id, region);
        if r.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        r
    })
    .await
    .map_err(|e| err(format!("backup task failed: {e}")))?
}

fn create_blocking(
    st: &storage::Storage,
    tmp: &Path,
    dest: &Path,
    root: &Path,
    name: &str,
    node_id: u64,
    region: String,
) -> Result<Manifest, String> {
    let io = |e: std::io::Error| err(format!("backup '{name}': {e}"));
    std::fs::create_dir_all(tmp).map_err(io)?;
    let created_unix_ms = now_ms();
    st.checkpoint(&tmp.join("db"))
        .map_err(|e| err(format!("backup '{name}': checkpoint failed: {e}")))?;
    let reader = CheckpointReader::open(&tmp.join("db"))
        .map_err(|e| err(format!("backup '{name}': {e}")))?;
    let applied = reader
        .get(Cf::Sm, keys::sm::APPLIED)
        .map_err(|e| err(format!("backup '{name}': {e}")))?;
    let (log_index, log_term) = match applied {
        Some(raw) => {
            let rec: AppliedRecord = bincode::deserialize(&raw)
                .map_err(|e| err(format!("backup '{name}': applied record: {e}")))?;
            rec.last_applied
                .map_or((0, 0), |l| (l.index, l.leader_id.term))
        }
        None => (0, 0),
    };
    let mut keys_n = 0u64;
    reader
        .scan(
            Cf::Sm,
            keys::sm::KEYCOUNT_START,
            Some(keys::sm::KEYCOUNT_END),
            &mut |_, v| {
                keys_n += keys::sm::decode_keycount(v).unwrap_or(0);
                true
            },
        )
        .map_err(|e| err(format!("backup '{name}': {e}")))?;
    drop(reader);
    let mut paths = Vec::new();
    walk(tmp, tmp, &mut paths).map_err(io)?;
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let (size, crc32) = file_crc(&tmp.join(&p)).map_err(io)?;
        files.push(FileEntry {
            path: p,
            size,
            crc32,
        });
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        layout_version: keys::LAYOUT_VERSION,
        name: name.to_string(),
        node_id,
        region,
        log_index,
        log_term,
        created_unix_ms,
        meridian_version: env!("CARGO_PKG_VERSION").to_string(),
        keys: keys_n,
        size_bytes: files.iter().map(|f| f.size).sum(),
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| err(e))?;
    let mpath = tmp.join(MANIFEST);
    std::fs::write(&mpath, json).map_err(io)?;
    std::fs::File::open(&mpath)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    fsync_dir(&tmp.join("db")).map_err(io)?;
    fsync_dir(tmp).map_err(io)?;
    if dest.exists() {
        return Err(err(format!("a backup named '{name}' already exists")));
    }
    std::fs::rename(tmp, dest).map_err(io)?;
    fsync_dir(root).map_err(io)?;
    Ok(manifest)
}

/// Reads a backup's manifest (no file checks).
pub fn manifest(root: &Path, name: &str) -> Result<Manifest, String> {
    check_name(name)?;
    let dir = root.join(name);
    if !dir.is_dir() {
        return Err(err(format!("no backup named '{name}'")));
    }
    let path = dir.join(MANIFEST);
    let raw = std::fs::read(&path).map_err(|e| {
        err(format!(
            "backup '{name}': cannot read {}: {e}",
            path.display()
        ))
    })?;
    serde_json::from_slice(&raw).map_err(|e| {
        err(format!(
            "backup '{name}': {} is not a valid manifest: {e}",
            path.display()
        ))
    })
}

/// Every backup under `root` (directories with a manifest), oldest first. Directories
/// whose manifest cannot be read are listed by the error.
pub fn list(root: &Path) -> Vec<Result<Manifest, String>> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<Result<Manifest, String>> = rd
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .map(|n| manifest(root, &n))
        .collect();
    out.sort_by_key(|m| m.as_ref().map_or(u64::MAX, |m| m.created_unix_ms));
    out
}

/// Deletes backup `name`.
pub fn delete(root: &Path, name: &str) -> Result<(), String> {
    check_name(name)?;
    let dir = root.join(name);
    if !dir.is_dir() {
        return Err(err(format!("no backup named '{name}'")));
    }
    // Renamed away first, so a crash mid-delete leaves no half backup under its name.
    let gone = root.join(format!(".{name}.{}.deleting", now_ms()));
    std::fs::rename(&dir, &gone).map_err(|e| err(format!("backup '{name}': {e}")))?;
    let _ = fsync_dir(root);
    std::fs::remove_dir_all(&gone).map_err(|e| err(format!("backup '{name}': {e}")))
}

/// Checks backup `name` whole: manifest, versions, each file's size and CRC-32, and that
/// its database opens. Returns the manifest and the database directory.
pub fn verify(root: &Path, name: &str) -> Result<(Manifest, PathBuf), String> {
    let m = manifest(root, name)?;
    if m.format_version != FORMAT_VERSION {
        return Err(err(format!(
            "backup '{name}' has manifest format {}, this build reads {FORMAT_VERSION}",
            m.format_version
        )));
    }
    // Older layouts are read (their records decode: see `keys::LAYOUT_VERSION`).
    if m.layout_version == 0 || m.layout_version > keys::LAYOUT_VERSION {
        return Err(err(format!(
            "backup '{name}' has record layout version {}, this build reads 1 to {}",
            m.layout_version,
            keys::LAYOUT_VERSION
        )));
    }
    let dir = root.join(name);
    let mut present = Vec::new();
    walk(&dir, &dir, &mut present).map_err(|e| err(format!("backup '{name}': {e}")))?;
    for f in &m.files {
        let path = dir.join(&f.path);
        if f.path.contains("..") || !f.path.starts_with("db/") {
            return Err(err(format!(
                "backup '{name}': manifest names a file outside the backup: {}",
                f.path
            )));
        }
        let (size, crc) = file_crc(&path)
            .map_err(|e| err(format!("backup '{name}': file {}: {e}", path.display())))?;
        if size != f.size {
            return Err(err(format!(
                "backup '{name}': file {} is {size} bytes, the manifest says {} (truncated or changed)",
                path.display(),
                f.size
            )));
        }
        if crc != f.crc32 {
            return Err(err(format!(
                "backup '{name}': file {} fails its checksum (CRC-32 {crc:08x}, the manifest says {:08x})",
                path.display(),
                f.crc32
            )));
        }
    }
    for p in present {
        if p != MANIFEST && !m.files.iter().any(|f| f.path == p) {
            return Err(err(format!(
                "backup '{name}': file {} is not in the manifest",
                dir.join(p).display()
            )));
        }
    }
    let db = dir.join("db");
    CheckpointReader::open(&db).map_err(|e| err(format!("backup '{name}': {e}")))?;
    Ok((m, db))
}

/// The ranges of a backup that a restore carries, in order.
fn restored_ranges() -> Vec<(Cf, Vec<u8>, Option<Vec<u8>>)> {
    let fns = keys::sm::FUNCTIONS_ALL;
    vec![
        (Cf::Meta, Vec::new(), None),
        (Cf::Data, Vec::new(), None),
        (Cf::Expire, Vec::new(), None),
        (Cf::Sm, fns.start().to_vec(), Some(fns.end().to_vec())),
    ]
}

async fn step(node: &Node, s: RestoreStep) -> Result<Frame, String> {
    let (_, mut replies) = node
        .write(vec![Op::Restore(s)])
        .await
        .map_err(|e| err(format!("restore interrupted: {e:?}")))?;
    match replies.pop() {
        Some(Frame::Error(e)) => Err(err(format!("restore refused: {e}"))),
        Some(f) => Ok(f),
        None => Err(err("restore step had no reply")),
    }
}

/// How far past its backup a restore goes (point-in-time restore, from the log archive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The backup as it is.
    Backup,
    /// The backup plus the archived entries up to this log index.
    Index(u64),
    /// The backup plus the archived entries whose leader time is at or before this
    /// (unix ms): the writes acknowledged by then.
    Time(u64),
}

/// The state of backup `db` (at `base`) advanced through archived log entries, built in
/// `work` by applying them exactly as the state machine did (their own leader time and
/// seed); returns the new state's checkpoint directory and the last index applied.
fn roll_forward(
    db: &Path,
    base: u64,
    archive: &Path,
    until: Until,
    work: &Path,
) -> Result<(PathBuf, u64), String> {
    let entries = match until {
        Until::Backup => return Ok((db.to_path_buf(), base)),
        Until::Index(i) if i < base => {
            return Err(err(format!(
                "index {i} is before the backup (taken at index {base})"
            )))
        }
        Until::Index(i) => crate::archive::read_range(archive, base + 1, Some(i))?,
        Until::Time(_) => crate::archive::read_range(archive, base + 1, None)?,
    };
    let io = |e: std::io::Error| err(format!("point-in-time restore in {}: {e}", work.display()));
    // A private copy of the backup (SST files are immutable: hard links; the rest copied).
    let copy = work.join("db");
    std::fs::create_dir_all(&copy).map_err(io)?;
    for ent in std::fs::read_dir(db).map_err(io)? {
        let ent = ent.map_err(io)?;
        let to = copy.join(ent.file_name());
        let sst = ent.file_name().to_string_lossy().ends_with(".sst");
        if !(sst && std::fs::hard_link(ent.path(), &to).is_ok()) {
            std::fs::copy(ent.path(), &to).map_err(io)?;
        }
    }
    let st = storage::Storage::open(&copy, 16 << 20)
        .map_err(|e| err(format!("point-in-time restore: {e}")))?;
    let (mut sm, _) = crate::state_machine::StateMachine::open(st.clone(), work.join("snapshots"))
        .map_err(|e| err(format!("point-in-time restore: {e}")))?;
    let mut last = base;
    let mut later = false;
    for (i, raw) in entries {
        let entry: crate::types::Entry = bincode::deserialize(&raw)
            .map_err(|e| err(format!("log archive entry {i} unreadable: {e}")))?;
        if let (Until::Time(t), openraft::EntryPayload::Normal(req)) = (until, &entry.payload) {
            if req.now_ms > t {
                later = true;
                break;
            }
        }
        sm.apply_one(entry)
            .map_err(|e| err(format!("applying archived entry {i}: {e}")))?;
        last = i;
    }
    if let Until::Time(t) = until {
        // Without a later entry, writes acknowledged before `t` may not be archived yet.
        if !later {
            return Err(err(format!(
                "the log archive has no entry after time {t} yet (it ends at index {last}): everything acknowledged by then may not be archived; retry shortly or give an index"
            )));
        }
    }
    drop(sm);
    if st.restoring() {
        return Err(err(format!(
            "log index {last} falls inside a restore of a backup (between its first and last step): choose a point before or after it"
        )));
    }
    let out = work.join("state");
    st.checkpoint(&out)
        .map_err(|e| err(format!("point-in-time restore: checkpoint: {e}")))?;
    Ok((out, last))
}

/// Restores backup `name` into the whole cluster (through the log), advanced through the
/// log archive in `archive` as far as `until` says. Checked first and refused, changing
/// nothing, if anything about it is wrong. If the restore is cut off after it began, the
/// database answers `LOADING` until a restore completes: run it again.
pub async fn restore(
    node: &Node,
    root: &Path,
    name: &str,
    archive: &Path,
    until: Until,
) -> Result<RestoreReport, String> {
    let started = std::time::Instant::now();
    let (m, db) = {
        let (root, name) = (root.to_path_buf(), name.to_string());
        tokio::task::spawn_blocking(move || verify(&root, &name))
            .await
            .map_err(|e| err(format!("verify task failed: {e}")))??
    };
    let work = root.join(format!(".pitr-{}", now_ms()));
    let rolled = {
        let (db, archive, work, base) =
            (db.clone(), archive.to_path_buf(), work.clone(), m.log_index);
        tokio::task::spawn_blocking(move || roll_forward(&db, base, &archive, until, &work))
            .await
            .map_err(|e| err(format!("point-in-time task failed: {e}")))
    };
    let res = match rolled {
        Ok(Ok((state, last))) => send_state(node, &m, state, last, started).await,
        Ok(Err(e)) | Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&work);
    res
}

/// Sends the state in checkpoint `db` through the log as a restore of backup `m`.
async fn send_state(
    node: &Node,
    m: &Manifest,
    db: PathBuf,
    last: u64,
    started: std::time::Instant,
) -> Result<RestoreReport, String> {
    let id = format!("{}@{}-{}", m.name, node.id(), now_ms());
    // Records are read on a blocking thread and handed over a chunk at a time.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<(u8, Vec<u8>, Vec<u8>)>, String>>(2);
    let reader_name = m.name.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let send_err = |e: String| {
            let _ = tx.blocking_send(Err(e));
        };
        let ck = match CheckpointReader::open(&db) {
            Ok(c) => c,
            Err(e) => return send_err(err(format!("backup '{reader_name}': {e}"))),
        };
        let mut chunk = Vec::new();
        let mut bytes = 0usize;
        let mut closed = false;
        for (cf, start, end) in restored_ranges() {
            let r = ck.scan(cf, &start, end.as_deref(), &mut |k, v| {
                bytes += k.len() + v.len();
                chunk.push((cf_code(cf), k.to_vec(), v.to_vec()));
                if bytes >= CHUNK_BYTES || chunk.len() >= CHUNK_RECORDS {
                    bytes = 0;
                    if tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                        closed = true;
                        return false;
                    }
                }
                true
            });
            if closed {
                return;
            }
            if let Err(e) = r {
                return send_err(err(format!(
                    "backup '{reader_name}': reading {}: {e}",
                    cf.name()
                )));
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(Ok(chunk));
        }
    });
    step(node, RestoreStep::Begin { id: id.clone() }).await?;
    let mut report = RestoreReport {
        name: m.name.clone(),
        log_index: last,
        keys: 0,
        records: 0,
        bytes: 0,
        entries: 1,
        millis: 0,
    };
    while let Some(chunk) = rx.recv().await {
        let records = chunk?;
        report.records += records.len() as u64;
        report.keys += records.iter().filter(|r| r.0 == cf_code(Cf::Meta)).count() as u64;
        report.bytes += records
            .iter()
            .map(|r| (r.1.len() + r.2.len()) as u64)
            .sum::<u64>();
        step(
            node,
            RestoreStep::Chunk {
                id: id.clone(),
                records,
            },
        )
        .await?;
        report.entries += 1;
    }
    let _ = reader.await;
    step(node, RestoreStep::End { id }).await?;
    report.entries += 1;
    report.millis = started.elapsed().as_millis() as u64;
    Ok(report)
}
