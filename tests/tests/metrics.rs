//! Prometheus `/metrics` on the REST port: the counters move with real traffic, the
//! per-command histograms are well formed (cumulative, +Inf = count), quantiles are
//! ordered, and the gauges agree with what the node answers on RESP.

use meridian_tests::Server;
use std::collections::HashMap;
use std::time::Duration;

fn scrape(s: &Server) -> (u16, String, String) {
    let url = format!("http://127.0.0.1:{}/metrics", s.rest_port);
    match ureq::get(&url).timeout(Duration::from_secs(10)).call() {
        Ok(r) => {
            let ct = r.header("content-type").unwrap_or("").to_string();
            (r.status(), ct, r.into_string().unwrap())
        }
        Err(ureq::Error::Status(code, r)) => (code, String::new(), r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

/// `name{labels}` → value, for every sample line.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            (
                k.to_string(),
                v.parse::<f64>()
                    .unwrap_or_else(|_| panic!("bad value {l:?}")),
            )
        })
        .collect()
}

#[test]
fn metrics_follow_traffic_and_histograms_are_well_formed() {
    let s = Server::start();
    let mut c = s.client();
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    for i in 0..50 {
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query(&mut c)
            .unwrap();
    }
    let _ = redis::cmd("INCR")
        .arg("k1x")
        .arg("extra")
        .query::<i64>(&mut c);
    let (status, ctype, text) = scrape(&s);
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let m = samples(&text);
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in:\n{text}"));
    assert_eq!(get(r#"meridian_commands_total{cmd="set"}"#), 300.0);
    assert_eq!(get(r#"meridian_commands_total{cmd="get"}"#), 50.0);
    assert!(get(r#"meridian_command_rejected_total{cmd="incr"}"#) >= 1.0);
    assert!(get(r#"meridian_error_replies_total{prefix="ERR"}"#) >= 1.0);
    // The SET histogram: cumulative buckets ending at the count, a positive sum.
    let mut last = 0.0;
    for l in text
        .lines()
        .filter(|l| l.starts_with(r#"meridian_command_duration_seconds_bucket{cmd="set""#))
    {
        let v: f64 = l.rsplit_once(' ').unwrap().1.parse().unwrap();
        assert!(v >= last, "not cumulative: {l}");
        last = v;
    }
    assert_eq!(last, 300.0);
    assert_eq!(
        get(r#"meridian_command_duration_seconds_bucket{cmd="set",le="+Inf"}"#),
        300.0
    );
    assert_eq!(
        get(r#"meridian_command_duration_seconds_count{cmd="set"}"#),
        300.0
    );
    assert!(get(r#"meridian_command_duration_seconds_sum{cmd="set"}"#) > 0.0);
    let q = |p: &str| {
        get(&format!(
            r#"meridian_command_latency_seconds{{cmd="set",quantile="{p}"}}"#
        ))
    };
    assert!(
        q("0.5") > 0.0
            && q("0.5") <= q("0.99")
            && q("0.99") <= q("0.999")
            && q("0.999") <= q("0.9999")
    );
    // Gauges agree with the node.
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(get(r#"meridian_keys{db="0"}"#), dbsize as f64);
    assert_eq!(get("meridian_raft_is_leader"), 1.0);
    assert!(get("meridian_raft_applied_index") >= 300.0);
    assert!(get("meridian_wal_fsyncs_total") >= 1.0);
    assert!(get("meridian_connected_clients") >= 1.0);
    assert!(get("meridian_data_bytes") > 0.0);
    // A later scrape sees the counters move.
    for i in 0..10 {
        let _: () = redis::cmd("SET")
            .arg(format!("z{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let m2 = samples(&scrape(&s).2);
    assert_eq!(m2[r#"meridian_commands_total{cmd="set"}"#], 310.0);
    assert_eq!(m2[r#"meridian_keys{db="0"}"#], dbsize as f64 + 10.0);
}

#[test]
fn metrics_need_a_token_when_auth_is_on() {
    let s = Server::start_with(Some("pw"), &[]);
    assert_eq!(scrape(&s).0, 401);
}

#[test]
fn json_logs_are_one_object_per_line() {
    std::env::set_var("MERIDIAN_TEST_LOG", "info");
    let s = Server::start_with(None, &["--log-format", "json"]);
    let mut c = s.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let log = s.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{l}"
        );
    }
    assert!(log.contains("ready after"), "{log}");
}

/// Every metric the Grafana dashboard in deploy/ queries is one a node serves.
#[test]
fn the_grafana_dashboard_queries_only_served_metrics() {
    let path = meridian_tests::manifest_dir().join("../deploy/grafana/meridian.json");
    let dash: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let s = Server::start();
    let mut c = s.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let (_, _, text) = scrape(&s);
    let served: std::collections::HashSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    let mut checked = 0;
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices("meridian_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                    .collect();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suf| name.strip_suffix(suf))
                    .filter(|b| served.contains(*b))
                    .map_or(name.clone(), str::to_string);
                assert!(served.contains(&base), "{expr}: {name} is not served");
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} metric references");
}
