//! CI run of clock faults: 3 voters behind the proxy, register, list-append,
//! read-your-writes and TTL clients, the `clock` schedule (the leader's wall clock
//! shifted by seconds, a node's clock jumping by minutes, a skewed leader killed), then
//! final reads, convergence and the TTL bound. About 30 s of wall time. Needs the
//! `meridian` binary with `DEBUG SET-CLOCK-OFFSET` (`cargo build --release -p server`,
//! or MERIDIAN_BIN). The run directory is kept (and printed) on failure.

use jepsen::nemesis::Scenario;
use jepsen::run::{run, RunOpts};
use std::time::{Duration, Instant};

#[test]
fn clock_skew_and_jumps_find_no_anomaly() {
    let bin = jepsen::cluster::binary().expect("meridian binary");
    let dir = tempfile::Builder::new()
        .prefix("jepsen-clock")
        .tempdir()
        .expect("tempdir");
    let mut o = RunOpts::new(
        Scenario::Clock,
        24,
        20_251_207,
        dir.path().to_path_buf(),
        bin,
    );
    o.register_clients = 3;
    o.list_clients = 3;
    o.ryw_sessions = 2;
    o.ttl_clients = 3;
    let t0 = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(run(o)).expect("run");
    let wall = t0.elapsed();
    eprintln!("clock run took {wall:?}");
    let s = &r.summary;
    let keep = || {
        let p = dir.path().to_path_buf();
        std::mem::forget(dir);
        p
    };
    if !s.anomalies.is_empty() || !s.errors.is_empty() {
        panic!(
            "anomalies or errors (run dir kept: {}):\n{}",
            keep().display(),
            jepsen::report::table(s)
        );
    }
    assert!(s.faults.contains_key("skew-leader"), "{:?}", s.faults);
    assert!(s.faults.contains_key("clock-jump"), "{:?}", s.faults);
    assert!(
        s.ttl.is_some(),
        "no TTL key checked:\n{}",
        jepsen::report::table(s)
    );
    assert_eq!(s.converged, Some(true));
    assert!(wall < Duration::from_secs(120), "took {wall:?}");
}
