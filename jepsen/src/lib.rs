//! Meridian's chaos and consistency suite (see `jepsen/README.md`).
//!
//! - [`proxy`]: the fault-injecting TCP proxy (per-direction delay, jitter, bandwidth,
//!   stall/drop cuts, refused connections), controlled in process or through
//!   [`control`]'s line protocol;
//! - [`cluster`]: real `meridian` voters whose links all go through the proxy, with
//!   kill -9, restart, SIGSTOP/SIGCONT and leader lookup;
//! - [`workload`]: register (GET/SET/CAS script) and list-append (RPUSH/LRANGE) clients
//!   recording histories;
//! - [`checker`]: linearizability (WGL-style search), list-append invariants,
//!   convergence;
//! - [`nemesis`]: faults and named/random schedules; [`run`] ties it together and
//!   [`report`] writes the summary and the latency SVG.

pub mod checker;
pub mod cluster;
pub mod control;
pub mod history;
pub mod nemesis;
pub mod proxy;
pub mod regions;
pub mod report;
pub mod run;
pub mod session;
pub mod ttl;
pub mod workload;
