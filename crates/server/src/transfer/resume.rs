//! The resume file of `meridian import --from ... --resume FILE`: where the source's SCAN
//! stands after the last batch the destination acknowledged, and the counts so far.
//! Replaced atomically (written beside, synced, renamed) after every batch, so a kill at
//! any moment leaves the previous or the next state, never half of one.

use anyhow::{anyhow, bail, Context, Result};
use std::io::Write;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The source and destination as given (without passwords): a resume file is only
    /// used for the same pair.
    pub from: String,
    pub to: String,
    /// The SCAN cursor to continue from; "0" with `done` once finished.
    pub cursor: String,
    pub copied: u64,
    pub skipped: u64,
    pub failed: u64,
    pub done: bool,
}

const HEADER: &str = "# meridian import resume file (delete it to start over)";

impl State {
    /// `Ok(None)` if there is no file.
    pub fn load(path: &Path) -> Result<Option<State>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let bad = |why: String| {
            anyhow!(
                "{}: not a resume file of meridian import: {why}",
                path.display()
            )
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(bad("no header line".into()));
        }
        let mut s = State {
            from: String::new(),
            to: String::new(),
            cursor: String::new(),
            copied: 0,
            skipped: 0,
            failed: 0,
            done: false,
        };
        let mut seen = 0;
        for line in lines {
            let (k, v) = line
                .split_once(' ')
                .ok_or_else(|| bad(format!("line {line:?}")))?;
            let num = || v.parse::<u64>().map_err(|_| bad(format!("{k} {v:?}")));
            match k {
                "from" => s.from = v.to_string(),
                "to" => s.to = v.to_string(),
                "cursor" => {
                    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad(format!("cursor {v:?}")));
                    }
                    s.cursor = v.to_string()
                }
                "copied" => s.copied = num()?,
                "skipped" => s.skipped = num()?,
                "failed" => s.failed = num()?,
                "done" => s.done = num()? == 1,
                _ => return Err(bad(format!("unknown field {k:?}"))),
            }
            seen += 1;
        }
        if seen != 7 {
            return Err(bad("fields missing".into()));
        }
        Ok(Some(s))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = format!(
            "{HEADER}\nfrom {}\nto {}\ncursor {}\ncopied {}\nskipped {}\nfailed {}\ndone {}\n",
            self.from,
            self.to,
            self.cursor,
            self.copied,
            self.skipped,
            self.failed,
            self.done as u8
        );
        let name = path
            .file_name()
            .ok_or_else(|| anyhow!("{}: not a file name", path.display()))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().with_context(|| format!("cannot write the resume file {}", path.display()))?;
        Ok(())
    }

    /// Refuses a file written for another source or destination.
    pub fn check(&self, path: &Path, from: &str, to: &str) -> Result<()> {
        if self.from != from || self.to != to {
            bail!(
                "{} was written copying {} to {}, not {} to {}; delete it or name another file",
                path.display(),
                self.from,
                self.to,
                from,
                to
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let dir = std::env::temp_dir().join(format!("meridian-resume-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("state");
        assert_eq!(State::load(&p).unwrap(), None);
        let s = State {
            from: "redis://h:1/0".into(),
            to: "redis://h:2/0".into(),
            cursor: "1234".into(),
            copied: 5,
            skipped: 1,
            failed: 0,
            done: false,
        };
        s.save(&p).unwrap();
        assert_eq!(State::load(&p).unwrap(), Some(s.clone()));
        assert!(s.check(&p, "redis://h:1/0", "redis://h:2/0").is_ok());
        assert!(s.check(&p, "redis://h:1/1", "redis://h:2/0").is_err());
        std::fs::write(&p, "garbage").unwrap();
        assert!(State::load(&p).is_err());
        std::fs::write(&p, format!("{HEADER}\ncursor -1\n")).unwrap();
        assert!(State::load(&p).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
