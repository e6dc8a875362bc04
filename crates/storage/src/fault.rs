//! Test-only fault injection: failed reads and interrupted snapshot installs, so tests
//! can check what a node does when its disk fails or it dies mid-install.
//!
//! Off unless a test turns it on, either through [`crate::Storage::set_read_fault`] /
//! [`crate::Storage::set_install_fault`], or — for tests that run the real binary —
//! through environment variables read once when the database is opened:
//!
//! - `MERIDIAN_FAULT_READ_AFTER=<n>`: the first `n` state reads succeed, every later
//!   one fails;
//! - `MERIDIAN_FAULT_READ_KEY=<text>`: every state read of a key containing `text`
//!   fails;
//! - `MERIDIAN_FAULT_INSTALL_ABORT_AFTER=<k>`: a snapshot install aborts the process
//!   right after its step `k` (a crash at that point).
//!
//! These exist for tests only; never set them on a node that holds data you want.

use keys::store::StoreError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Which reads of the state (the engine's `Store` view) fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFault {
    Off,
    /// The next `n` reads succeed, every later one fails.
    After(u64),
    /// Reads of keys (or scans starting at keys) containing these bytes fail.
    Key(Vec<u8>),
}

/// Where a snapshot install stops (see `Storage::import_checkpoint` for the steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallFault {
    /// The install stops right after this many steps.
    pub after_step: usize,
    /// Abort the process (a real crash) instead of returning an error.
    pub abort: bool,
}

pub(crate) struct Faults {
    /// Fast path: false while no read fault is set, so healthy reads pay one load.
    armed: AtomicBool,
    read: Mutex<ReadFault>,
    pub(crate) install: Mutex<Option<InstallFault>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A test thread that panicked while holding it leaves valid data behind.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Faults {
    pub(crate) fn from_env() -> Faults {
        let read = if let Some(n) = env_u64("MERIDIAN_FAULT_READ_AFTER") {
            ReadFault::After(n)
        } else if let Ok(k) = std::env::var("MERIDIAN_FAULT_READ_KEY") {
            ReadFault::Key(k.into_bytes())
        } else {
            ReadFault::Off
        };
        let install = env_u64("MERIDIAN_FAULT_INSTALL_ABORT_AFTER").map(|k| InstallFault {
            after_step: k as usize,
            abort: true,
        });
        if read != ReadFault::Off || install.is_some() {
            tracing::warn!("test fault injection is on: reads {read:?}, install {install:?}");
        }
        Faults {
            armed: AtomicBool::new(read != ReadFault::Off),
            read: Mutex::new(read),
            install: Mutex::new(install),
        }
    }

    pub(crate) fn set_read(&self, f: ReadFault) {
        let mut g = lock(&self.read);
        self.armed.store(f != ReadFault::Off, Ordering::SeqCst);
        *g = f;
    }

    pub(crate) fn set_install(&self, f: Option<InstallFault>) {
        *lock(&self.install) = f;
    }

    pub(crate) fn install(&self) -> Option<InstallFault> {
        *lock(&self.install)
    }

    /// Err if the read of `key` is to fail.
    #[inline]
    pub(crate) fn check_read(&self, key: &[u8]) -> Result<(), StoreError> {
        if !self.armed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut g = lock(&self.read);
        let fail = match &mut *g {
            ReadFault::Off => false,
            ReadFault::After(0) => true,
            ReadFault::After(n) => {
                *n -= 1;
                false
            }
            ReadFault::Key(k) => !k.is_empty() && key.windows(k.len()).any(|w| w == &k[..]),
        };
        if fail {
            Err(StoreError("injected read fault (test)".into()))
        } else {
            Ok(())
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}
