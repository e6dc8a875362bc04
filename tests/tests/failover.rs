//! Region failover (issue 16): the primary region is lost under writes, a read region is
//! promoted (`meridian cluster promote-region`), writes go on there, and when the old
//! primary comes back its writes after the fork are merged by last-writer-wins (HLC
//! stamps, tombstones) and its nodes rejoin as read replicas. Every node ends with the
//! same data, and each key is the version a model of the acknowledged writes says wins.
//! Real processes on 127.0.0.1.

use meridian_tests::cluster::Cluster;
use redis::{cmd, Connection};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn eventually<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not reached within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn try_client(c: &Cluster, i: usize) -> Option<Connection> {
    let client = redis::Client::open(c.nodes[i].url()).ok()?;
    let con = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    con.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(con)
}

fn cli(c: &Cluster, node: usize, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(meridian_tests::binary())
        .arg("cluster")
        .args(args)
        .args(["--addr", &c.nodes[node].cluster_addr()])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every key and its value (strings only) as node `i` holds it.
fn contents(c: &Cluster, i: usize) -> Option<BTreeMap<String, String>> {
    let mut con = try_client(c, i)?;
    let keys: Vec<String> = cmd("KEYS").arg("*").query(&mut con).ok()?;
    let mut out = BTreeMap::new();
    for k in keys {
        let v: Option<String> = cmd("GET").arg(&k).query(&mut con).ok()?;
        if let Some(v) = v {
            out.insert(k, v);
        }
    }
    Some(out)
}

/// A write that must eventually be acknowledged (retried while the group settles).
fn write(c: &Cluster, i: usize, args: &[&str]) {
    eventually(
        Duration::from_secs(30),
        &format!("{args:?} on node {i}"),
        || {
            let mut con = try_client(c, i)?;
            let mut q = cmd(args[0]);
            for a in &args[1..] {
                q.arg(*a);
            }
            q.query::<redis::Value>(&mut con).ok().map(|_| ())
        },
    );
}

#[test]
fn a_lost_primary_region_fails_over_and_its_writes_merge_back_by_last_writer_wins() {
    let mut c = Cluster::start(3);
    let b1 = c.add_replica("eu-west-1");
    let b2 = c.add_replica("eu-west-1");
    let leader = c.leader().expect("a leader");
    // The model: what each key must end as.
    let mut model: BTreeMap<String, Option<String>> = BTreeMap::new();
    for i in 0..20 {
        let (k, v) = (format!("k{i}"), format!("v{i}"));
        write(&c, leader, &["SET", &k, &v]);
        model.insert(k, Some(v));
    }
    for k in ["s1", "t1", "d1"] {
        write(&c, leader, &["SET", k, "orig"]);
        model.insert(k.into(), Some("orig".into()));
    }
    // Both replicas hold everything so far.
    for b in [b1, b2] {
        eventually(Duration::from_secs(20), "replica caught up", || {
            let got = contents(&c, b)?;
            (got.len() == model.len()).then_some(())
        });
    }

    // The fork: the read region stops hearing the primary, which acknowledges more.
    c.nodes[b1].signal("STOP");
    c.nodes[b2].signal("STOP");
    let a_only = [
        ("a1", Some("A")),
        ("a2", Some("A")),
        ("s1", Some("A-early")), // overwritten later in the promoted region
        ("t1", Some("A")),       // deleted later in the promoted region
        ("k5", None),            // deleted here only: the delete merges
        ("k6", Some("A")),       // written here only
    ];
    for (k, v) in a_only {
        match v {
            Some(v) => write(&c, leader, &["SET", k, v]),
            None => write(&c, leader, &["DEL", k]),
        }
        model.insert(k.into(), v.map(String::from));
    }
    // The primary region is lost.
    for i in 0..3 {
        c.nodes[i].kill9();
    }
    c.nodes[b1].signal("CONT");
    c.nodes[b2].signal("CONT");
    std::thread::sleep(Duration::from_millis(2500));

    // Promote the read region (sent to one of its nodes).
    let (ok, out) = cli(&c, b1, &["promote-region", "eu-west-1"]);
    assert!(ok, "promote-region: {out}");
    assert!(out.contains("promoted"), "{out}");
    // Writes resume in the promoted region, through either of its nodes.
    let b_writes = [
        (b1, "s1", Some("B")),
        (b2, "t1", None),
        (b1, "b1", Some("B")),
        (b2, "k7", Some("B")),
    ];
    for (node, k, v) in b_writes {
        match v {
            Some(v) => write(&c, node, &["SET", k, v]),
            None => write(&c, node, &["DEL", k]),
        }
        model.insert(k.into(), v.map(String::from));
    }
    let (ok, out) = cli(&c, b2, &["status"]);
    assert!(ok, "{out}");

    // The old primary comes back: it meets the new epoch, merges, rejoins as replicas.
    for i in 0..3 {
        c.nodes[i].respawn();
    }
    let expected: BTreeMap<String, String> = model
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect();
    for i in 0..c.nodes.len() {
        eventually(
            Duration::from_secs(90),
            &format!("node {i} holds the merged data"),
            || {
                let got = contents(&c, i)?;
                if got == expected {
                    Some(())
                } else {
                    eprintln!("node {i}: {got:?}");
                    None
                }
            },
        );
    }
    // The old voters are read replicas of the promoted group now, which still takes writes.
    write(&c, b2, &["SET", "after", "1"]);
    for i in 0..3 {
        let log = c.nodes[i].log();
        assert!(log.contains("deposed"), "node {i} log:\n{log}");
        eventually(Duration::from_secs(30), "replicated to old voter", || {
            let mut con = try_client(&c, i)?;
            let v: Option<String> = cmd("GET").arg("after").query(&mut con).ok()?;
            (v.as_deref() == Some("1")).then_some(())
        });
        let mut con = try_client(&c, i).unwrap();
        let info: String = cmd("INFO").arg("replication").query(&mut con).unwrap();
        assert!(info.contains("raft_role:learner"), "node {i}: {info}");
    }
}

/// The opt-in automatic mode: replicas started with `--auto-promote-after 2` promote
/// their region on their own once the primary region is gone for two seconds; writes
/// resume there with no operator command, and the promotion is visible in INFO.
#[test]
fn a_read_region_with_auto_promote_takes_over_a_lost_primary_by_itself() {
    let mut c = Cluster::start(3);
    let b1 = c.add_replica_with("eu-west-1", &["--auto-promote-after", "2"]);
    let b2 = c.add_replica_with("eu-west-1", &["--auto-promote-after", "2"]);
    let leader = c.leader().expect("a leader");
    write(&c, leader, &["SET", "before", "1"]);
    for b in [b1, b2] {
        eventually(Duration::from_secs(20), "replica caught up", || {
            let mut con = try_client(&c, b)?;
            let v: Option<String> = cmd("GET").arg("before").query(&mut con).ok()?;
            (v.as_deref() == Some("1")).then_some(())
        });
    }
    // The primary region is lost; nobody runs promote-region.
    for i in 0..3 {
        c.nodes[i].kill9();
    }
    write(&c, b2, &["SET", "after", "2"]);
    for b in [b1, b2] {
        eventually(Duration::from_secs(30), "write visible", || {
            let mut con = try_client(&c, b)?;
            let v: Option<String> = cmd("GET").arg("after").query(&mut con).ok()?;
            let info: String = cmd("INFO").arg("replication").query(&mut con).ok()?;
            (v.as_deref() == Some("2")
                && info.contains("cluster_epoch:1")
                && info.contains("last_failover:epoch=1,region=eu-west-1"))
            .then_some(())
        });
    }
}
