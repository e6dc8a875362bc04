//! The run's event trace: every message delivered or lost, every client call and
//! completion, every fault, with its simulated time. Its FNV-1a hash is the determinism
//! check: the same seed must give the same hash. `SIM_TRACE=1` also prints the events.

use std::sync::Mutex;

pub struct Trace {
    start: tokio::time::Instant,
    inner: Mutex<Inner>,
}

struct Inner {
    hash: u64,
    events: u64,
    log: Option<Vec<String>>,
}

impl Trace {
    pub fn new() -> Trace {
        Trace {
            start: tokio::time::Instant::now(),
            inner: Mutex::new(Inner {
                hash: 0xcbf2_9ce4_8422_2325,
                events: 0,
                log: std::env::var_os("SIM_TRACE").map(|_| Vec::new()),
            }),
        }
    }

    /// Simulated microseconds since the run started.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    pub fn event(&self, what: String) {
        let line = format!("{:>10} {what}", self.now_us());
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for b in line.as_bytes().iter().chain(b"\n") {
            g.hash ^= *b as u64;
            g.hash = g.hash.wrapping_mul(0x0100_0000_01b3);
        }
        g.events += 1;
        if let Some(log) = &mut g.log {
            log.push(line);
        }
    }

    /// (hash, number of events)
    pub fn digest(&self) -> (u64, u64) {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (g.hash, g.events)
    }

    pub fn take_log(&self) -> Vec<String> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.log.as_mut().map(std::mem::take).unwrap_or_default()
    }
}
