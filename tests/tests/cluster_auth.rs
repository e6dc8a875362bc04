//! Cluster links are authenticated: every node-to-node RPC carries a secret derived from
//! the password (never the password itself) and a node with another password is refused
//! (and the refusal logged); the admin CLI needs the password too.

use meridian_tests::cluster::Cluster;
use std::time::{Duration, Instant};

fn conn(port: u16, pw: &str) -> redis::Connection {
    meridian_tests::connect(&format!("redis://:{pw}@127.0.0.1:{port}/"))
}

fn leader_of(cl: &Cluster, pw: &str, among: &[usize]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for &i in among {
            let mut c = conn(cl.nodes[i].port, pw);
            let info: String = redis::cmd("INFO").arg("replication").query(&mut c).unwrap();
            if info.contains("raft_role:leader") {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no leader");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_voter_with_another_password_is_refused_and_the_others_replicate() {
    // Nodes 1 and 2 share the password; node 3 has another one.
    let cl = Cluster::start_each(
        3,
        |id| {
            let pw = if id == 3 { "wrong" } else { "s3cret" };
            vec!["--password".into(), pw.into()]
        },
        |id| id != 3,
    );
    let leader = leader_of(&cl, "s3cret", &[0, 1]);
    let mut lc = conn(cl.nodes[leader].port, "s3cret");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut lc).unwrap();
    // The other good node replicates it.
    let other = 1 - leader;
    let mut oc = conn(cl.nodes[other].port, "s3cret");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: Option<String> = redis::cmd("GET").arg("k").query(&mut oc).unwrap();
        if v.as_deref() == Some("v") {
            break;
        }
        assert!(Instant::now() < deadline, "follower never got the write");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Node 3's RPCs are refused, on both sides, and logged.
    std::thread::sleep(Duration::from_millis(1500));
    let refused = cl
        .nodes
        .iter()
        .any(|n| n.log().contains("cluster link refused"));
    assert!(
        refused,
        "no refusal logged:\n{}\n{}",
        cl.nodes[0].log(),
        cl.nodes[2].log()
    );
    // Node 3 never joins: it hears from no leader (its own RPCs are refused too).
    assert!(
        !cl.nodes[2].log().contains("ready after"),
        "{}",
        cl.nodes[2].log()
    );
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut lc)
        .unwrap();
    let lag3 = info
        .lines()
        .find(|l| l.contains("id=3,"))
        .unwrap_or("")
        .to_string();
    assert!(lag3.contains("matched=-"), "node 3 matched the log: {lag3}");

    // The admin CLI needs the password.
    let status = |pw: &str| {
        std::process::Command::new(meridian_tests::binary())
            .args([
                "cluster",
                "status",
                "--addr",
                &cl.nodes[leader].cluster_addr(),
            ])
            .args(["--password", pw])
            .output()
            .unwrap()
    };
    let ok = status("s3cret");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("leader:"));
    let bad = status("nope");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("WRONGPASS"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
