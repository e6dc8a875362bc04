//! Counters and the progress line on stderr: redrawn in place a few times a second on a
//! terminal, a plain line every few seconds otherwise (logs, pipes).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many keys' errors are kept to show at the end.
const KEEP_ERRORS: usize = 10;

#[derive(Default)]
pub struct Stats {
    pub copied: AtomicU64,
    /// Expired or deleted between SCAN and DUMP, or already expired in a file.
    pub skipped: AtomicU64,
    pub failed: AtomicU64,
    /// Counts carried over from the run a resume file describes.
    pub before: AtomicU64,
    /// The first errors, "key: error".
    pub errors: Mutex<Vec<String>>,
}

impl Stats {
    pub fn fail(&self, key: &[u8], why: &str) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.errors.lock() {
            if e.len() < KEEP_ERRORS {
                e.push(format!("{}: {why}", show_key(key)));
            }
        }
    }

    pub fn get(&self) -> (u64, u64, u64) {
        (
            self.copied.load(Ordering::Relaxed),
            self.skipped.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// The closing summary.
    pub fn report(&self, what: &str, started: Instant) {
        let (c, s, f) = self.get();
        let secs = started.elapsed().as_secs_f64();
        let this_run = (c + s + f).saturating_sub(self.before.load(Ordering::Relaxed));
        let rate = this_run as f64 / secs.max(1e-3);
        eprintln!(
            "{what}: {c} keys copied, {s} skipped (expired or deleted meanwhile), {f} failed; {:.1} s, {:.0} keys/s",
            secs, rate
        );
        if let Ok(e) = self.errors.lock() {
            if !e.is_empty() {
                eprintln!("first errors:");
                for line in e.iter() {
                    eprintln!("  {line}");
                }
            }
        }
    }
}

/// A key for messages: printable ASCII as is, anything else escaped, long keys cut.
pub fn show_key(k: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in k.iter().take(100) {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(b as char);
            }
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if k.len() > 100 {
        s.push_str("...");
    }
    s.push('"');
    s
}

/// Prints progress until dropped.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// `total`: the number of keys expected in all (DBSIZE, or the keys counted in a
    /// file), for the percentage and the ETA.
    pub fn start(label: &'static str, stats: Arc<Stats>, total: u64) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let tty = std::io::stderr().is_terminal();
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let every = if tty {
                Duration::from_millis(250)
            } else {
                Duration::from_secs(5)
            };
            let mut next = started + every;
            let mut drawn = false;
            while !s2.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                if Instant::now() < next {
                    continue;
                }
                next += every;
                let line = line(label, &stats, total, started.elapsed());
                let mut err = std::io::stderr().lock();
                if tty {
                    let _ = write!(err, "\r\x1b[K{line}");
                    drawn = true;
                } else {
                    let _ = writeln!(err, "{line}");
                }
                let _ = err.flush();
            }
            if drawn {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        });
        Progress {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn line(label: &str, stats: &Stats, total: u64, elapsed: Duration) -> String {
    let (c, s, f) = stats.get();
    let done = c + s + f;
    let this_run = done.saturating_sub(stats.before.load(Ordering::Relaxed));
    let rate = this_run as f64 / elapsed.as_secs_f64().max(1e-3);
    let mut out = format!("{label}: {done}");
    if total > 0 {
        let pct = (done as f64 * 100.0 / total as f64).min(100.0);
        out.push_str(&format!("/{total} keys ({pct:.1}%)"));
    } else {
        out.push_str(" keys");
    }
    out.push_str(&format!(", {rate:.0} keys/s"));
    if total > done && rate > 0.0 {
        let eta = ((total - done) as f64 / rate) as u64;
        out.push_str(&format!(
            ", ETA {}:{:02}:{:02}",
            eta / 3600,
            eta / 60 % 60,
            eta % 60
        ));
    }
    if s + f > 0 {
        out.push_str(&format!(", {s} skipped, {f} failed"));
    }
    out
}
