//! Anti-entropy: a read replica's records changed behind the write path (as a disk
//! corruption or a bug would) are found by the digest scrub and repaired from the
//! leader through the log; rounds under a concurrent write load change nothing that
//! was written. Real processes on 127.0.0.1.

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
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn anti_entropy(c: &Cluster, node: usize, scrub: bool) -> String {
    let mut args = vec![
        "cluster".to_string(),
        "anti-entropy".into(),
        "--now".into(),
        "--addr".into(),
        c.nodes[node].cluster_addr(),
    ];
    if scrub {
        args.push("--scrub".into());
    }
    let out = std::process::Command::new(meridian_tests::binary())
        .args(&args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// `field=` of the report line of node `id`.
fn report_field(report: &str, id: u64, name: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("node {id}:")))
        .unwrap_or_else(|| panic!("no line for node {id}: {report}"));
    let at = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
    line[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn info_field(con: &mut Connection, name: &str) -> i64 {
    let info: String = cmd("INFO").arg("replication").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name}: {info}"))
        .trim()
        .parse()
        .unwrap()
}

/// Every key's DUMP payload and TTL presence on one node (its own state).
fn contents(con: &mut Connection) -> BTreeMap<Vec<u8>, (Vec<u8>, bool)> {
    let mut out = BTreeMap::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .unwrap();
        for k in keys {
            let dump: Option<Vec<u8>> = cmd("DUMP").arg(&k).query(con).unwrap();
            let ttl: i64 = cmd("PTTL").arg(&k).query(con).unwrap();
            if let Some(d) = dump {
                out.insert(k, (d, ttl > 0));
            }
        }
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

#[test]
fn a_corrupted_replica_is_found_by_the_scrub_and_repaired_from_the_leader() {
    std::env::set_var("MERIDIAN_DEBUG_CORRUPT", "1");
    // Rounds only on demand, so the test decides when they run.
    std::env::set_var("MERIDIAN_AE_SECS", "0");
    let mut c = Cluster::start(3);
    let r = c.add_replica("eu-west-1");
    let rid = c.nodes[r].id;
    let leader = c.leader().expect("leader");
    let mut lc = c.nodes[leader].client();
    for i in 0..300 {
        let _: () = cmd("SET")
            .arg(format!("s:{i}"))
            .arg(format!("v{i}"))
            .query(&mut lc)
            .unwrap();
        let _: () = cmd("HSET")
            .arg(format!("h:{i}"))
            .arg("a")
            .arg(i)
            .arg("b")
            .arg("x")
            .query(&mut lc)
            .unwrap();
        let _: () = cmd("RPUSH")
            .arg(format!("l:{i}"))
            .arg(1)
            .arg(2)
            .arg(3)
            .query(&mut lc)
            .unwrap();
    }
    let _: () = cmd("SET")
        .arg("ttl")
        .arg("t")
        .arg("EX")
        .arg(600)
        .query(&mut lc)
        .unwrap();
    let mut rc = c.nodes[r].client();
    eventually(Duration::from_secs(20), "replica caught up", || {
        let v: Option<String> = cmd("GET").arg("ttl").query(&mut rc).unwrap();
        v.map(|_| ())
    });
    let before = contents(&mut lc);
    assert_eq!(contents(&mut rc), before);

    // A clean round: every slot compared, none differs.
    let rep = anti_entropy(&c, leader, false);
    assert!(report_field(&rep, rid, "compared") > 0, "{rep}");
    assert_eq!(report_field(&rep, rid, "differing"), 0, "{rep}");

    // Corrupt the replica behind its back: a changed value, a lost string, a lost hash,
    // a lost expiry, and a key that never existed.
    let corrupt = |con: &mut Connection, args: &[&str]| {
        let _: () = cmd("DEBUG")
            .arg("CORRUPT-KEY")
            .arg(args)
            .query(con)
            .unwrap();
    };
    corrupt(&mut rc, &["s:1", "evil"]);
    corrupt(&mut rc, &["s:2"]);
    corrupt(&mut rc, &["h:3"]);
    corrupt(&mut rc, &["ttl", "t"]);
    corrupt(&mut rc, &["phantom", "boo"]);
    let v: Option<String> = cmd("GET").arg("s:1").query(&mut rc).unwrap();
    assert_eq!(v.as_deref(), Some("evil"));
    assert_ne!(contents(&mut rc), before);
    // Without a leader-side write, a voter is untouched.
    let other = (0..3).find(|&i| i != leader).unwrap();
    let mut oc = c.nodes[other].client();

    // The scrub finds the slots whose records no longer match their digests, the round
    // repairs the keys from the leader's records through the log.
    let rep = anti_entropy(&c, (leader + 1) % 3, true);
    assert!(report_field(&rep, rid, "differing") >= 1, "{rep}");
    assert!(report_field(&rep, rid, "repaired") >= 5, "{rep}");
    eventually(Duration::from_secs(10), "replica repaired", || {
        (contents(&mut rc) == before).then_some(())
    });
    let ttl: i64 = cmd("PTTL").arg("ttl").query(&mut rc).unwrap();
    assert!(ttl > 500_000, "expiry restored: {ttl}");
    assert_eq!(contents(&mut oc), before);
    assert_eq!(contents(&mut lc), before);
    assert!(info_field(&mut lc, "ae_keys_repaired") >= 5);
    assert!(info_field(&mut rc, "scrub_slots_fixed") >= 1);

    // The next round finds nothing to do.
    let rep = anti_entropy(&c, leader, true);
    assert_eq!(report_field(&rep, rid, "differing"), 0, "{rep}");
    assert_eq!(report_field(&rep, rid, "scrub_fixed"), 0, "{rep}");

    // Rounds during a write load: no write is lost or undone, every node ends equal.
    let url = c.nodes[leader].url();
    let writer = std::thread::spawn(move || {
        let mut con = meridian_tests::connect(&url);
        let mut model = BTreeMap::new();
        let t0 = Instant::now();
        let mut i = 0u64;
        while t0.elapsed() < Duration::from_secs(4) {
            let k = format!("w:{}", i % 97);
            let n: i64 = cmd("INCR").arg(&k).query(&mut con).unwrap();
            model.insert(k, n);
            i += 1;
        }
        model
    });
    for _ in 0..3 {
        let rep = anti_entropy(&c, leader, false);
        assert_eq!(report_field(&rep, rid, "repaired"), 0, "{rep}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let model = writer.join().unwrap();
    let final_leader = contents(&mut lc);
    for (k, n) in &model {
        let v: i64 = cmd("GET").arg(k).query(&mut lc).unwrap();
        assert_eq!(v, *n, "{k}");
    }
    for i in 0..c.nodes.len() {
        let mut con = c.nodes[i].client();
        eventually(Duration::from_secs(10), "nodes equal", || {
            (contents(&mut con) == final_leader).then_some(())
        });
    }
}
