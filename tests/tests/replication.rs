//! Replication: 3 voters + a read replica, all real processes on 127.0.0.1.

use meridian_tests::cluster::Cluster;
use redis::cmd;
use std::time::{Duration, Instant};

fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn writes_on_any_node_are_readable_on_all_and_replica_reads_its_writes() {
    let mut c = Cluster::start(3);
    let r = c.add_replica("eu-west-1");
    // A write through every node (followers and the replica forward to the leader).
    for (i, n) in c.nodes.iter().enumerate() {
        let mut con = n.client();
        let _: () = cmd("SET")
            .arg(format!("from:{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
        // Read-your-writes on the node that took the write, at once.
        let v: i64 = cmd("GET").arg(format!("from:{i}")).query(&mut con).unwrap();
        assert_eq!(v, i as i64);
    }
    for n in &c.nodes {
        let mut con = n.client();
        for i in 0..c.nodes.len() {
            let v: i64 = eventually(Duration::from_secs(10), || {
                cmd("GET")
                    .arg(format!("from:{i}"))
                    .query::<Option<i64>>(&mut con)
                    .unwrap()
            });
            assert_eq!(v, i as i64);
        }
    }
    // 1000 rounds: write through a voter, hand its sync token to a replica connection,
    // read there. The replica waits for the token, so no read may be stale.
    let mut voter = c.nodes[1].client();
    let mut replica = c.nodes[r].client();
    let mut stale = 0;
    for i in 0..1000i64 {
        let _: () = cmd("SET").arg("ryw").arg(i).query(&mut voter).unwrap();
        let token: u64 = cmd("CLIENT").arg("SYNC-TOKEN").query(&mut voter).unwrap();
        assert!(token > 0);
        let _: () = cmd("CLIENT")
            .arg("SYNC-TOKEN")
            .arg(token)
            .query(&mut replica)
            .unwrap();
        let got: i64 = cmd("GET").arg("ryw").query(&mut replica).unwrap();
        if got != i {
            stale += 1;
        }
    }
    assert_eq!(stale, 0, "stale reads on the replica");
    let info: String = cmd("INFO")
        .arg("replication")
        .query(&mut c.nodes[r].client())
        .unwrap();
    assert!(
        info.contains("raft_role:learner") && info.contains("region:eu-west-1"),
        "{info}"
    );
}

#[test]
fn leader_kill_9_under_load_loses_no_acknowledged_write() {
    let mut c = Cluster::start(3);
    let leader = c.leader().expect("a leader");
    let urls: Vec<String> = c.nodes.iter().map(|n| n.url()).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let urls = urls.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Each writer sticks to a node; on errors it moves to the next one.
                    let url = &urls[(w + i as usize) % urls.len()];
                    let Ok(client) = redis::Client::open(url.as_str()) else {
                        continue;
                    };
                    let Ok(mut con) =
                        client.get_connection_with_timeout(Duration::from_millis(500))
                    else {
                        i += 1;
                        continue;
                    };
                    let _ = con.set_read_timeout(Some(Duration::from_secs(10)));
                    loop {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let key = format!("w{w}:{i}");
                        match cmd("SET").arg(&key).arg(i).query::<()>(&mut con) {
                            Ok(()) => acked.push(key),
                            Err(_) => {
                                i += 1;
                                break;
                            }
                        }
                        i += 1;
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    c.nodes[leader].kill9();
    // A new leader takes over.
    let new_leader = eventually(Duration::from_secs(20), || {
        c.leader().filter(|&l| l != leader)
    });
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<String> = writers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(
        acked.len() > 100,
        "only {} writes acknowledged",
        acked.len()
    );
    c.nodes[leader].restart();
    // Every acknowledged write is on every node, the old leader included.
    for n in &c.nodes {
        let mut con = n.client();
        let _: () = cmd("CLIENT")
            .arg("CONSISTENCY")
            .arg("strong")
            .query(&mut con)
            .unwrap();
        for k in &acked {
            let v: Option<String> = cmd("GET").arg(k).query(&mut con).unwrap();
            assert!(
                v.is_some(),
                "acknowledged {k} missing on node {} (new leader {new_leader})",
                n.id
            );
        }
    }
}

#[test]
fn replica_killed_and_restarted_catches_up() {
    let mut c = Cluster::start(3);
    let r = c.add_replica("ap-south-1");
    let mut con = c.nodes[0].client();
    for i in 0..200 {
        let _: () = cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    c.nodes[r].kill9();
    for i in 200..400 {
        let _: () = cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    c.nodes[r].restart();
    let mut rc = c.nodes[r].client();
    let n: i64 = eventually(Duration::from_secs(20), || {
        let n: i64 = cmd("DBSIZE").query(&mut rc).ok()?;
        (n == 400).then_some(n)
    });
    assert_eq!(n, 400);
}

#[test]
fn minority_refuses_writes_serves_stale_reads_and_recovers() {
    let c = Cluster::start(3);
    let mut con = c.nodes[0].client();
    // Right after start an election may still be settling on a loaded machine.
    eventually(Duration::from_secs(20), || {
        cmd("SET").arg("before").arg("1").query::<()>(&mut con).ok()
    });
    // Let every node apply it, then cut node 0 off by pausing the other two.
    for n in &c.nodes {
        let mut x = n.client();
        let _: () = cmd("CLIENT")
            .arg("CONSISTENCY")
            .arg("strong")
            .query(&mut x)
            .unwrap();
        let _: String = cmd("GET").arg("before").query(&mut x).unwrap();
    }
    c.nodes[1].signal("STOP");
    c.nodes[2].signal("STOP");
    std::thread::sleep(Duration::from_millis(2000));
    let t0 = Instant::now();
    let err = cmd("SET")
        .arg("during")
        .arg("x")
        .query::<()>(&mut con)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("write not applied") || text.contains("outcome unknown"),
        "{text}"
    );
    assert!(t0.elapsed() < Duration::from_secs(15));
    // Stale-allowed reads keep working on the minority side.
    let v: String = cmd("GET").arg("before").query(&mut con).unwrap();
    assert_eq!(v, "1");
    c.nodes[1].signal("CONT");
    c.nodes[2].signal("CONT");
    eventually(Duration::from_secs(20), || {
        cmd("SET").arg("after").arg("2").query::<()>(&mut con).ok()
    });
    let v: String = cmd("GET").arg("after").query(&mut con).unwrap();
    assert_eq!(v, "2");
}

/// Every key and value of a node, as one sorted dump (a digest would hide the diff).
fn dump(con: &mut redis::Connection) -> Vec<(String, String)> {
    let mut keys: Vec<String> = cmd("KEYS").arg("*").query(con).unwrap();
    keys.sort();
    let values: Vec<String> = cmd("MGET").arg(&keys).query(con).unwrap();
    keys.into_iter().zip(values).collect()
}

#[test]
fn replica_added_to_a_populated_cluster_installs_a_snapshot() {
    let mut c = Cluster::start_with(3, &["--snapshot-every", "300"]);
    let leader = c.leader().expect("leader");
    let mut con = c.nodes[leader].client();
    // Enough entries that the leader snapshots and purges its log past what a new
    // member could replay (1000 entries are kept behind the snapshot).
    for i in 0..2500 {
        let _: () = cmd("SET")
            .arg(format!("k{i}"))
            .arg(format!("v{i}"))
            .query(&mut con)
            .unwrap();
    }
    let purged = eventually(Duration::from_secs(20), || {
        let info: String = cmd("INFO").arg("raft").query(&mut con).ok()?;
        let p: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("raft_purged_index:"))?
            .trim()
            .parse()
            .ok()?;
        (p > 0).then_some(p)
    });
    assert!(purged > 0);
    let r = c.add_replica("sa-east-1");
    let mut rc = c.nodes[r].client();
    let token: u64 = cmd("CLIENT").arg("SYNC-TOKEN").query(&mut con).unwrap();
    let _: () = cmd("CLIENT")
        .arg("SYNC-TOKEN")
        .arg(token)
        .query(&mut rc)
        .unwrap();
    let expected = dump(&mut con);
    assert_eq!(expected.len(), 2500);
    let got = dump(&mut rc);
    assert_eq!(got, expected);
    assert!(
        c.nodes[r]
            .dir
            .join("data/snapshots")
            .read_dir()
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("received-")),
        "the replica caught up without a snapshot; the test did not exercise installation"
    );
}

#[test]
fn cluster_cli_status_transfer_leader_and_rest_strong_reads() {
    let c = Cluster::start(3);
    let leader = c.leader().expect("leader");
    let target = (leader + 1) % 3;
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(meridian_tests::binary())
            .arg("cluster")
            .args(args)
            .args(["--addr", &c.nodes[0].cluster_addr()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let status = cli(&["status"]);
    assert!(
        status.contains(&format!("leader: {}", c.nodes[leader].id)),
        "{status}"
    );
    assert_eq!(status.matches(" voter").count(), 3, "{status}");
    cli(&["transfer-leader", &c.nodes[target].id.to_string()]);
    let now = eventually(Duration::from_secs(20), || {
        c.leader().filter(|&l| l == target)
    });
    assert_eq!(now, target);
    let status = cli(&["status"]);
    assert!(
        status.contains(&format!("leader: {}", c.nodes[target].id)),
        "{status}"
    );
    let leader = target;
    // A write through the leader, then a strong REST read on a follower sees it.
    let mut con = c.nodes[leader].client();
    eventually(Duration::from_secs(10), || {
        cmd("SET")
            .arg("after-transfer")
            .arg("yes")
            .query::<()>(&mut con)
            .ok()
    });
    let other = &c.nodes[(target + 1) % 3];
    let url = format!("http://127.0.0.1:{}/get/after-transfer", other.rest_port);
    let body = ureq::get(&url)
        .set("Meridian-Consistency", "strong")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(body, r#"{"result":"yes"}"#);
    let bad = ureq::get(&url)
        .set("Meridian-Consistency", "sometimes")
        .call();
    assert!(matches!(bad, Err(ureq::Error::Status(400, _))));
}

/// Pub/sub and blocking pops across nodes: PUBLISH travels through the log, so a
/// subscriber on any node (voter or read replica) receives a message published on any
/// other; a blocking pop on the replica is a write forwarded to the leader, woken by a
/// push sent to a third node.
#[test]
fn pubsub_and_blocking_pops_span_the_cluster() {
    let mut c = Cluster::start(3);
    let r = c.add_replica("eu-west-1");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let mut subs = Vec::new();
    for i in [0, 1, r] {
        let url = c.nodes[i].url();
        let ready = ready_tx.clone();
        subs.push(std::thread::spawn(move || {
            let mut conn = meridian_tests::connect(&url);
            let mut ps = conn.as_pubsub();
            ps.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            ps.subscribe("news").unwrap();
            ready.send(()).unwrap();
            let m = ps.get_message().unwrap();
            m.get_payload::<String>().unwrap()
        }));
    }
    for _ in 0..3 {
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    let mut publisher = c.nodes[2].client();
    let _: i64 = cmd("PUBLISH")
        .arg("news")
        .arg("everywhere")
        .query(&mut publisher)
        .unwrap();
    for h in subs {
        assert_eq!(h.join().unwrap(), "everywhere");
    }

    let url = c.nodes[r].url();
    let h = std::thread::spawn(move || {
        let mut w = meridian_tests::connect(&url);
        let v: Vec<String> = cmd("BLPOP").arg("q").arg(20).query(&mut w).unwrap();
        v
    });
    std::thread::sleep(Duration::from_millis(500));
    let _: i64 = cmd("RPUSH")
        .arg("q")
        .arg("job")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(h.join().unwrap(), vec!["q", "job"]);
    // The pop was another connection's write: this node serves it once it has applied
    // that entry (reads are causal per connection, not linearizable), so wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let len: i64 = cmd("LLEN").arg("q").query(&mut publisher).unwrap();
        if len == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pop never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A write sent through a follower while the leader is paused (SIGSTOP: its sockets stay
/// open, it answers nothing) is retried on the leader elected meanwhile and succeeds,
/// once, instead of waiting out the write timeout and answering UNKNOWN.
#[test]
fn forwarded_write_to_a_paused_leader_goes_to_the_new_leader() {
    let c = Cluster::start(3);
    let leader = c.leader().expect("a leader");
    let follower = (leader + 1) % 3;
    let mut con = c.nodes[follower].client();
    let _ = con.set_read_timeout(Some(Duration::from_secs(30)));
    let before = eventually(Duration::from_secs(20), || {
        cmd("INCR").arg("n").query::<i64>(&mut con).ok()
    });
    c.nodes[leader].signal("STOP");
    let res = cmd("INCR").arg("n").query::<i64>(&mut con);
    c.nodes[leader].signal("CONT");
    assert_eq!(res.expect("the write through the follower"), before + 1);
    // Applied once everywhere, the old leader included once it catches up.
    for n in &c.nodes {
        let mut x = n.client();
        eventually(Duration::from_secs(20), || {
            let v: String = cmd("GET").arg("n").query(&mut x).ok()?;
            (v == (before + 1).to_string()).then_some(())
        });
    }
}

/// A write in flight on a leader whose followers stop answering (SIGSTOP) is answered
/// within a few election timeouts, with an unknown outcome (it was proposed), instead of
/// waiting out the 10 s write timeout.
#[test]
fn a_write_in_flight_when_the_leader_loses_its_quorum_is_answered_promptly() {
    let c = Cluster::start(3);
    let leader = c.leader().expect("a leader");
    let mut con = c.nodes[leader].client();
    let _ = con.set_read_timeout(Some(Duration::from_secs(30)));
    eventually(Duration::from_secs(20), || {
        cmd("SET").arg("before").arg("1").query::<()>(&mut con).ok()
    });
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    for f in &followers {
        c.nodes[*f].signal("STOP");
    }
    let t0 = Instant::now();
    let err = cmd("SET")
        .arg("during")
        .arg("x")
        .query::<()>(&mut con)
        .unwrap_err()
        .to_string();
    let took = t0.elapsed();
    for f in &followers {
        c.nodes[*f].signal("CONT");
    }
    // Proposed while the quorum looked alive (outcome unknown), or, on a slow machine,
    // refused up front once the leader noticed (not applied): either way, not 10 s.
    assert!(
        err.contains("outcome unknown") || err.contains("write not applied"),
        "{err}"
    );
    assert!(
        took < Duration::from_secs(5),
        "answered after {took:?}: {err}"
    );
    eventually(Duration::from_secs(20), || {
        cmd("SET").arg("after").arg("2").query::<()>(&mut con).ok()
    });
}

/// Writes forwarded from a follower and a replica by many connections at once (calls
/// multiplexed on one HTTP/2 channel per peer, grouped into shared log entries by the
/// leader's proposer): each is applied exactly once, each connection's replies come in
/// its own order, and every node ends equal.
#[test]
fn concurrent_forwarded_writes_are_applied_once_in_order() {
    let mut c = Cluster::start(3);
    let leader = c.leader().expect("a leader");
    let follower = (leader + 1) % 3;
    let replica = c.add_replica("eu-west-1");
    let targets = [follower, replica];
    for n in targets {
        let mut x = c.nodes[n].client();
        eventually(Duration::from_secs(20), || {
            cmd("SET").arg("ready").arg(1).query::<()>(&mut x).ok()
        });
    }
    let per_conn = 150i64;
    let threads: Vec<_> = (0..16usize)
        .map(|t| {
            let url = c.nodes[targets[t % 2]].url();
            std::thread::spawn(move || {
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                let _ = con.set_read_timeout(Some(Duration::from_secs(30)));
                for i in 1..=per_conn {
                    // Per connection: its own counter must count up one by one.
                    let n: i64 = cmd("INCR").arg(format!("own:{t}")).query(&mut con).unwrap();
                    assert_eq!(n, i, "connection {t}");
                    let _: i64 = cmd("INCR").arg("shared").query(&mut con).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for n in &c.nodes {
        let mut x = n.client();
        eventually(Duration::from_secs(20), || {
            let v: i64 = cmd("GET").arg("shared").query(&mut x).ok()?;
            (v == 16 * per_conn).then_some(())
        });
        for t in 0..16 {
            let v: i64 = cmd("GET").arg(format!("own:{t}")).query(&mut x).unwrap();
            assert_eq!(v, per_conn);
        }
    }
}
