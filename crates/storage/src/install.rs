//! Installing a snapshot (a RocksDB checkpoint received from the leader) so that a crash
//! at any point leaves either the old state or the new one, whole.
//!
//! The state column families are far too large for one write batch, so the install is
//! made redoable instead of atomic in one write:
//!
//! 1. the checkpoint's files and directories are fsynced (the received copy is durable);
//! 2. an *install marker* naming the checkpoint and the `sm` records to write last
//!    (the applied record) is written to the `raft` column family, synced. Before this
//!    point the old state is untouched;
//! 3. each state column family is cleared (one range delete) and refilled from the
//!    checkpoint in batches;
//! 4. one final batch writes the `sm` records and deletes the marker; the WAL is synced.
//!
//! A crash before step 2 is durable leaves the old state (the marker is absent); after
//! it, [`Storage::open`] finds the marker and runs steps 3-4 again from the start before
//! anything reads the state, so the node comes back with the new state whole. Steps 3-4
//! are idempotent: they rebuild each column family from scratch.

use crate::{Error, Storage};
use keys::Cf;
use rocksdb::{IteratorMode, Options, WriteBatch, DB};
use std::path::{Path, PathBuf};

/// Where an unfinished install is recorded (in the `raft` column family, which an
/// install never touches).
const INSTALL_MARKER: &[u8] = b"install";

/// The column families a snapshot replaces.
const STATE_CFS: [Cf; 4] = [Cf::Meta, Cf::Data, Cf::Expire, Cf::Sm];

/// Records copied per write batch.
const BATCH_RECORDS: usize = 10_000;

/// An install in progress: the checkpoint to copy and the `sm` records written last.
#[derive(Debug, PartialEq, Eq)]
struct Marker {
    dir: PathBuf,
    sm: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Marker {
    fn encode(&self) -> Result<Vec<u8>, Error> {
        let dir = self.dir.to_str().ok_or_else(|| {
            Error::BadCheckpoint(format!("path {:?} is not UTF-8", self.dir.display()))
        })?;
        let mut out = Vec::new();
        put_bytes(&mut out, dir.as_bytes());
        out.extend_from_slice(&(self.sm.len() as u32).to_be_bytes());
        for (k, v) in &self.sm {
            put_bytes(&mut out, k);
            put_bytes(&mut out, v);
        }
        Ok(out)
    }

    fn decode(mut raw: &[u8]) -> Option<Marker> {
        let dir = String::from_utf8(take_bytes(&mut raw)?.to_vec()).ok()?;
        let n = u32::from_be_bytes(take(&mut raw, 4)?.try_into().ok()?);
        let mut sm = Vec::new();
        for _ in 0..n {
            let k = take_bytes(&mut raw)?.to_vec();
            let v = take_bytes(&mut raw)?.to_vec();
            sm.push((k, v));
        }
        raw.is_empty().then_some(Marker {
            dir: PathBuf::from(dir),
            sm,
        })
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn take<'a>(raw: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if raw.len() < n {
        return None;
    }
    let (head, rest) = raw.split_at(n);
    *raw = rest;
    Some(head)
}

fn take_bytes<'a>(raw: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = u32::from_be_bytes(take(raw, 4)?.try_into().ok()?) as usize;
    take(raw, n)
}

/// fsyncs every file of `dir`, `dir` itself and its two parents (a received snapshot
/// is `snapshots/received-<id>/db`, renamed into place).
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for ent in std::fs::read_dir(dir)? {
        let ent = ent?;
        if ent.file_type()?.is_file() {
            std::fs::File::open(ent.path())?.sync_all()?;
        }
    }
    let mut d = Some(dir);
    for _ in 0..3 {
        let Some(p) = d else { break };
        if p.as_os_str().is_empty() {
            break;
        }
        std::fs::File::open(p)?.sync_all()?;
        d = p.parent();
    }
    Ok(())
}

pub(crate) fn open_checkpoint(dir: &Path) -> Result<DB, Error> {
    if !dir.is_dir() {
        return Err(Error::BadCheckpoint(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let db = DB::open_cf_for_read_only(&Options::default(), dir, keys::ALL_CFS, false)?;
    for cf in STATE_CFS {
        if db.cf_handle(cf.name()).is_none() {
            return Err(Error::BadCheckpoint(format!(
                "{} has no column family {}",
                dir.display(),
                cf.name()
            )));
        }
    }
    Ok(db)
}

/// Counts an install's steps and stops at an injected fault.
struct Steps<'a> {
    st: &'a Storage,
    done: usize,
    /// False when resuming at open: a fault set for the install is not re-raised there.
    inject: bool,
}

impl Steps<'_> {
    fn step(&mut self) -> Result<(), Error> {
        self.done += 1;
        if !self.inject {
            return Ok(());
        }
        // The failpoint `snapshot-install-step`, evaluated once per step: where it
        // returns, the install stops (e.g. `2*off->1*return->off` stops after step 3), as
        // the install fault below does. The simulation restarts the node then, so a
        // crash at that point of an install is replayed.
        if fail::eval("snapshot-install-step", |_| ()).is_some() {
            return Err(Error::Interrupted(self.done));
        }
        match self.st.faults.install() {
            Some(f) if f.after_step == self.done => {
                if f.abort {
                    tracing::error!("install fault: aborting after step {}", self.done);
                    std::process::abort();
                }
                Err(Error::Interrupted(self.done))
            }
            _ => Ok(()),
        }
    }
}

impl Storage {
    /// Replaces the state column families with those of a checkpoint (a snapshot
    /// received from the leader) and writes `sm` records (the applied record) with the
    /// last batch. Raft's own column families are untouched. A crash at any point leaves
    /// the old state or, once [`Storage::open`] has run again, the new one, whole (see
    /// the module docs). The checkpoint directory must stay in place until this returns.
    pub fn import_checkpoint(&self, dir: &Path, sm: &[(&[u8], &[u8])]) -> Result<(), Error> {
        let mut steps = Steps {
            st: self,
            done: 0,
            inject: true,
        };
        let dir = std::fs::canonicalize(dir)?;
        // A checkpoint that cannot be read is refused before anything changes.
        drop(open_checkpoint(&dir)?);
        sync_tree(&dir)?;
        steps.step()?;
        let marker = Marker {
            dir,
            sm: sm.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect(),
        };
        self.raft_put(INSTALL_MARKER, &marker.encode()?, true)?;
        steps.step()?;
        self.finish_install(&marker, &mut steps)
    }

    /// Completes an install a crash interrupted; called by [`Storage::open`].
    pub(crate) fn resume_install(&self) -> Result<(), Error> {
        let Some(raw) = self.raft_get(INSTALL_MARKER)? else {
            return Ok(());
        };
        let marker = Marker::decode(&raw)
            .ok_or_else(|| Error::BadCheckpoint("unreadable install marker".into()))?;
        tracing::warn!(
            "completing the snapshot install from {} interrupted by a crash",
            marker.dir.display()
        );
        let mut steps = Steps {
            st: self,
            done: 0,
            inject: false,
        };
        self.finish_install(&marker, &mut steps)
    }

    fn finish_install(&self, m: &Marker, steps: &mut Steps<'_>) -> Result<(), Error> {
        let src = open_checkpoint(&m.dir).map_err(|e| {
            Error::BadCheckpoint(format!(
                "an interrupted snapshot install cannot be completed: {e}"
            ))
        })?;
        for cf in STATE_CFS {
            let live = self.cf(cf.name());
            let mut b = WriteBatch::default();
            // Every state key sorts below 64 bytes of 0xff (db/timestamp/name prefixes).
            b.delete_range_cf(live, &[][..], &[0xffu8; 64][..]);
            self.db.write_opt(b, &Self::unsynced())?;
            steps.step()?;
            let src_cf = src.cf_handle(cf.name()).expect("checked at open");
            let mut b = WriteBatch::default();
            for item in src.iterator_cf(src_cf, IteratorMode::Start) {
                let (k, v) = item?;
                b.put_cf(live, k, v);
                if b.len() >= BATCH_RECORDS {
                    self.db
                        .write_opt(std::mem::take(&mut b), &Self::unsynced())?;
                    steps.step()?;
                }
            }
            if !b.is_empty() {
                self.db.write_opt(b, &Self::unsynced())?;
                steps.step()?;
            }
        }
        let mut b = WriteBatch::default();
        let sm = self.cf(keys::CF_SM);
        for (k, v) in &m.sm {
            b.put_cf(sm, k, v);
        }
        b.delete_cf(self.cf(keys::CF_RAFT), INSTALL_MARKER);
        self.db.write_opt(b, &Self::unsynced())?;
        steps.step()?;
        // The snapshot must survive a crash right after it is acknowledged.
        self.sync_wal()?;
        self.refresh_restoring()?;
        self.load_digests()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips_and_rejects_garbage() {
        let m = Marker {
            dir: PathBuf::from("/data/snapshots/received-1-9/db"),
            sm: vec![(b"applied".to_vec(), vec![0, 1, 2]), (vec![], vec![])],
        };
        let raw = m.encode().unwrap();
        assert_eq!(Marker::decode(&raw), Some(m));
        assert_eq!(Marker::decode(&raw[..raw.len() - 1]), None);
        let mut longer = raw.clone();
        longer.push(0);
        assert_eq!(Marker::decode(&longer), None);
        assert_eq!(Marker::decode(&[]), None);
    }
}
