//! CI run of membership changes under faults: 3 voters + 1 read replica behind the
//! proxy (nodes told apart by source address), register, list-append and
//! read-your-writes clients, and the first part of the `membership` schedule: add a
//! replica, add another while the leader is isolated, transfer leadership during a
//! random partition, remove a replica while the leader is killed. About 30 s of wall
//! time. Needs the `meridian` binary (`cargo build --release -p server`, or
//! MERIDIAN_BIN). The run directory is kept (and printed) on failure.

use jepsen::nemesis::Scenario;
use jepsen::run::{run, RunOpts};
use std::time::{Duration, Instant};

#[test]
fn membership_changes_under_faults_find_no_anomaly() {
    let bin = jepsen::cluster::binary().expect("meridian binary");
    let dir = tempfile::Builder::new()
        .prefix("jepsen-membership")
        .tempdir()
        .expect("tempdir");
    let mut o = RunOpts::new(
        Scenario::Membership,
        24,
        20_251_206,
        dir.path().to_path_buf(),
        bin,
    );
    o.register_clients = 3;
    o.list_clients = 3;
    o.ryw_sessions = 4;
    o.replicas = vec!["eu".into()];
    let t0 = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(run(o)).expect("run");
    let wall = t0.elapsed();
    eprintln!("membership run took {wall:?}");
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
    for f in ["add-replica", "isolate-leader+add-replica"] {
        assert!(s.faults.contains_key(f), "{f} missing: {:?}", s.faults);
    }
    assert_eq!(s.converged, Some(true));
    assert!(s.sessions == 4, "{}", jepsen::report::table(s));
    assert!(
        s.ok_count() > 200,
        "too few ok operations:\n{}",
        jepsen::report::table(s)
    );
    assert!(wall < Duration::from_secs(120), "took {wall:?}");
}
