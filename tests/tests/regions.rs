//! Regions as a topology: every member's region known on every node, per-member and
//! per-region lag (entries, milliseconds) and last contact, and `meridian cluster
//! add-region / remove-region`. Real processes on 127.0.0.1.

use meridian_tests::cluster::Cluster;
use redis::cmd;
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

fn info(c: &Cluster, i: usize) -> String {
    let mut con = c.nodes[i].client();
    cmd("INFO").arg("replication").query(&mut con).unwrap()
}

/// The value of `field=` in INFO line `prefix...` (the first line containing `needle`).
fn field(info: &str, needle: &str, name: &str) -> Option<String> {
    let line = info.lines().find(|l| l.contains(needle))?;
    let at = line.find(&format!("{name}="))? + name.len() + 1;
    Some(
        line[at..]
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
    )
}

fn cli(c: &Cluster, node: usize, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(meridian_tests::binary())
        .arg("cluster")
        .args(args)
        .args(["--addr", &c.nodes[node].cluster_addr()])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn regions_are_known_everywhere_with_lag_and_contact_and_can_be_added_and_removed() {
    let mut c = Cluster::start(3);
    let eu1 = c.add_replica("eu-west-1");
    let eu2 = c.add_replica("eu-west-1");
    let ap = c.add_replica("ap-southeast-1");
    let ap_id = c.nodes[ap].id;
    let leader = c.leader().expect("a leader");

    // Every node (voters and replicas) knows every member's region, recorded through
    // the log: the leader, a follower and a replica show the same regions.
    let follower = (0..3).find(|&i| i != leader).unwrap();
    for i in [leader, follower, eu1, ap] {
        let text = eventually(Duration::from_secs(20), "regions recorded", || {
            let t = info(&c, i);
            let ok = t.contains("name=us-east-1,role=primary,members=3,voters=3")
                && t.contains("name=eu-west-1,role=read,members=2,voters=0")
                && t.contains("name=ap-southeast-1,role=read,members=1,voters=0");
            ok.then_some(t)
        });
        // The primary region is listed first.
        let first = text.lines().find(|l| l.starts_with("region0:")).unwrap();
        assert!(first.contains("name=us-east-1"), "{text}");
        let other = c.nodes[if i == eu1 { eu2 } else { eu1 }].id;
        assert_eq!(
            field(&text, &format!("id={other},"), "region").as_deref(),
            Some("eu-west-1"),
            "node {i}: {text}"
        );
    }

    // The leader knows each member's lag; a paused replica falls behind in entries and
    // in time, and its last contact grows, then all of it returns to 0 when it resumes.
    let mut lc = c.nodes[leader].client();
    eventually(Duration::from_secs(10), "replicas caught up", || {
        let t = info(&c, leader);
        (field(&t, &format!("id={ap_id},"), "lag").as_deref() == Some("0")).then_some(())
    });
    c.nodes[ap].signal("STOP");
    let paused = Instant::now();
    for i in 0..200 {
        let _: () = cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut lc)
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(1500));
    let t = info(&c, leader);
    let lag: u64 = field(&t, &format!("id={ap_id},"), "lag")
        .unwrap()
        .parse()
        .unwrap();
    let lag_ms: u64 = field(&t, &format!("id={ap_id},"), "lag_ms")
        .unwrap()
        .parse()
        .unwrap();
    let contact: u64 = field(&t, &format!("id={ap_id},"), "last_contact_ms")
        .unwrap()
        .parse()
        .unwrap();
    let since = paused.elapsed().as_millis() as u64;
    assert!(lag >= 1, "{t}");
    assert!(
        lag_ms >= 1000 && lag_ms <= since + 1000,
        "lag_ms {lag_ms}: {t}"
    );
    assert!(contact >= 1000, "last contact {contact}: {t}");
    // The region line carries its worst member's lag; the primary's voters are current.
    let ap_line = field(&t, "name=ap-southeast-1", "lag_ms").unwrap();
    assert!(ap_line.parse::<u64>().unwrap() >= 1000, "{t}");
    assert_eq!(
        field(&t, "name=us-east-1", "lag_entries").as_deref(),
        Some("0"),
        "{t}"
    );
    // A follower knows only its own contact with the leader.
    let ft = info(&c, follower);
    let own: u64 = ft
        .lines()
        .find_map(|l| l.strip_prefix("leader_last_contact_ms:"))
        .unwrap_or_else(|| panic!("{ft}"))
        .trim()
        .parse()
        .unwrap();
    assert!(own < 2000, "{ft}");
    // /metrics on the leader carries the same per member, labelled with the region.
    let url = format!("http://127.0.0.1:{}/metrics", c.nodes[leader].rest_port);
    let text = ureq::get(&url)
        .timeout(Duration::from_secs(10))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let sample = |name: &str| -> f64 {
        let prefix =
            format!("{name}{{member=\"{ap_id}\",role=\"replica\",region=\"ap-southeast-1\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {prefix}: {text}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert!(sample("meridian_replication_lag_entries") >= 1.0);
    assert!(sample("meridian_replication_lag_ms") >= 1000.0);
    assert!(sample("meridian_replication_last_contact_ms") >= 1000.0);
    c.nodes[ap].signal("CONT");
    eventually(Duration::from_secs(20), "paused replica caught up", || {
        let t = info(&c, leader);
        let row = format!("id={ap_id},");
        (field(&t, &row, "lag").as_deref() == Some("0")
            && field(&t, &row, "lag_ms").as_deref() == Some("0"))
        .then_some(())
    });

    // The CLI shows members with their regions and one line per region.
    let (ok, out, err) = cli(&c, eu1, &["status"]);
    assert!(ok, "{err}");
    assert!(out.contains("regions:"), "{out}");
    assert!(out.contains("us-east-1 primary members="), "{out}");
    assert!(out.contains("eu-west-1 read members="), "{out}");
    assert!(out.contains(&format!("{ap_id} 127.0.0.1:")), "{out}");
    assert!(out.contains("region=ap-southeast-1"), "{out}");

    // add-region: a region with no member yet is listed (through any node).
    let (ok, _, err) = cli(&c, eu1, &["add-region", "sa-east-1"]);
    assert!(ok, "{err}");
    eventually(Duration::from_secs(10), "declared region listed", || {
        info(&c, follower)
            .contains("name=sa-east-1,role=read,members=0,voters=0")
            .then_some(())
    });
    // Bad names and the primary region are refused with the reason.
    let (ok, _, err) = cli(&c, leader, &["add-region", "bad name!"]);
    assert!(!ok && err.contains("bad region name"), "{err}");
    let (ok, _, err) = cli(&c, leader, &["remove-region", "us-east-1"]);
    assert!(!ok && err.contains("primary region"), "{err}");
    let (ok, _, err) = cli(&c, leader, &["remove-region", "nowhere"]);
    assert!(!ok && err.contains("no region"), "{err}");

    // remove-region: its replica leaves the group and the region is gone everywhere.
    let (ok, _, err) = cli(&c, follower, &["remove-region", "ap-southeast-1"]);
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&c, follower, &["remove-region", "sa-east-1"]);
    assert!(ok, "{err}");
    eventually(Duration::from_secs(10), "region removed", || {
        let t = info(&c, eu2);
        (!t.contains("ap-southeast-1")
            && !t.contains("sa-east-1")
            && !t.contains(&format!("id={ap_id},")))
        .then_some(())
    });
    // The data is still served by the remaining regions.
    let mut con = c.nodes[eu2].client();
    let v: Option<i64> = eventually(Duration::from_secs(10), "replica read", || {
        let v: Option<i64> = cmd("GET").arg("k199").query(&mut con).unwrap();
        v.map(Some)
    });
    assert_eq!(v, Some(199));
}
