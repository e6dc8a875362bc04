//! CI smoke run: 3 real voters behind the proxy, register + list-append clients with
//! linearizable reads, the `smoke` schedule (isolate the leader, kill -9 the leader,
//! cut the leader's outgoing bytes; each healed), then final reads and convergence.
//! About 30 s of wall time. Needs the `meridian` binary (`cargo build --release -p
//! server`, or MERIDIAN_BIN). The run directory is kept (and printed) on failure.

use jepsen::nemesis::Scenario;
use jepsen::run::{run, RunOpts};
use std::time::{Duration, Instant};

#[test]
fn smoke_partition_and_leader_kill_find_no_anomaly() {
    let bin = jepsen::cluster::binary().expect("meridian binary");
    let dir = tempfile::Builder::new()
        .prefix("jepsen-smoke")
        .tempdir()
        .expect("tempdir");
    let seed = 20_250_101;
    let mut o = RunOpts::new(Scenario::Smoke, 22, seed, dir.path().to_path_buf(), bin);
    o.register_clients = 4;
    o.list_clients = 4;
    let t0 = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(run(o)).expect("run");
    let wall = t0.elapsed();
    eprintln!("smoke run took {wall:?}");
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
    assert!(s.faults.contains_key("isolate-leader"), "{:?}", s.faults);
    assert!(s.faults.contains_key("kill-leader"), "{:?}", s.faults);
    assert!(
        s.ok_count() > 200,
        "too few ok operations:\n{}",
        jepsen::report::table(s)
    );
    assert_eq!(s.converged, Some(true));
    assert!(s.register_keys > 0 && s.list_keys > 0);
    assert!(wall < Duration::from_secs(120), "took {wall:?}");
    for f in [
        "history.jsonl",
        "summary.txt",
        "summary.json",
        "latency.svg",
    ] {
        assert!(r.dir.join(f).is_file(), "{f} missing");
    }
}
