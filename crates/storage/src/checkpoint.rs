//! Reading a checkpoint (a backup's or a snapshot's database directory) without
//! opening it as a live database: read-only, nothing in the directory changes.

use crate::install::open_checkpoint;
use crate::Error;
use keys::Cf;
use rocksdb::{Direction, IteratorMode, ReadOptions, DB};
use std::path::Path;

pub struct CheckpointReader {
    db: DB,
}

impl CheckpointReader {
    /// Opens the checkpoint at `dir` read-only; refused if it is not a Meridian database
    /// with every state column family.
    pub fn open(dir: &Path) -> Result<CheckpointReader, Error> {
        Ok(CheckpointReader {
            db: open_checkpoint(dir)?,
        })
    }

    fn handle(&self, cf: Cf) -> Result<&rocksdb::ColumnFamily, Error> {
        self.db
            .cf_handle(cf.name())
            .ok_or_else(|| Error::BadCheckpoint(format!("no column family {}", cf.name())))
    }

    /// One record.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.db.get_cf(self.handle(cf)?, key)?)
    }

    /// Records of `cf` from `start` (inclusive) to `end` (exclusive, `None`: to the
    /// end) in key order, until `f` returns false. Reads verify block checksums.
    pub fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: Option<&[u8]>,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), Error> {
        let mut ro = ReadOptions::default();
        ro.set_verify_checksums(true);
        ro.fill_cache(false);
        if let Some(e) = end {
            ro.set_iterate_upper_bound(e.to_vec());
        }
        let it = self.db.iterator_cf_opt(
            self.handle(cf)?,
            ro,
            IteratorMode::From(start, Direction::Forward),
        );
        for item in it {
            let (k, v) = item?;
            if !f(&k, &v) {
                break;
            }
        }
        Ok(())
    }
}
