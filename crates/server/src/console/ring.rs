//! The console's metrics history: one sample per second for the last hour, taken by a
//! task from the same sources `/metrics` and INFO read (command counters and latency
//! histograms in `Stats`, the key tier, the quota's data size, DBSIZE, the Raft
//! status), so a page opened now shows the past hour at once.
//!
//! GET /console/api/metrics[?since=<unix ms>] answers the samples after `since` in
//! columns: `{"interval_ms", "t": [..], "ops": [..], "p50_us": [..], ..., "cmds": {name:
//! [..]}, "lag": {member: [..]}}`. Counters are per-second rates; a value the node does
//! not know at that moment is null.

use crate::shared::Shared;
use hyper::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

/// Samples kept: an hour at one a second.
pub const KEEP: usize = 3600;
const INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone, Default)]
struct Sample {
    t_ms: u64,
    ops: f64,
    /// (command index, calls per second) for the commands called in the second.
    cmds: Vec<(u16, f32)>,
    p50_us: Option<u64>,
    p99_us: Option<u64>,
    p999_us: Option<u64>,
    data_bytes: u64,
    quota_bytes: u64,
    tier_bytes: u64,
    rss_bytes: u64,
    keys: u64,
    hits: f64,
    misses: f64,
    evicted: f64,
    expired: f64,
    clients: u64,
    net_in: f64,
    net_out: f64,
    applied: u64,
    /// (member id, log entries behind, age of the oldest entry it lacks in ms) of each
    /// other member: the leader's view.
    lag: Vec<(u64, Option<u64>, Option<u64>)>,
}

/// Monotonic counters read at one moment, to difference with the next reading.
struct Reading {
    calls: Vec<u64>,
    lat: Vec<u64>,
    hits: u64,
    misses: u64,
    evicted: u64,
    expired: u64,
    net_in: u64,
    net_out: u64,
    at: std::time::Instant,
}

fn ring() -> &'static Mutex<VecDeque<Sample>> {
    static R: OnceLock<Mutex<VecDeque<Sample>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(VecDeque::with_capacity(KEEP)))
}

fn read(shared: &Shared) -> Reading {
    let s = &shared.stats;
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let k = shared.node.storage().key_tier().stats();
    Reading {
        calls: s.per_cmd.iter().map(|c| ld(&c[0])).collect(),
        lat: s.latency.merged_counts(),
        hits: k.hits,
        misses: k.misses,
        evicted: ld(&s.evicted_keys) + engine::quota::EVICTED_KEYS.load(Ordering::Relaxed),
        expired: ld(&shared.broker.expired_keys),
        net_in: ld(&s.net_input_bytes),
        net_out: ld(&s.net_output_bytes),
        at: std::time::Instant::now(),
    }
}

fn sample(shared: &Shared, prev: &Reading, now: &Reading) -> Sample {
    let secs = now.at.duration_since(prev.at).as_secs_f64().max(0.001);
    let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
    let names = engine::COMMANDS();
    let mut cmds = Vec::new();
    let mut ops = 0.0;
    for (i, (a, b)) in now.calls.iter().zip(&prev.calls).enumerate() {
        if a > b && i < names.len() && i <= u16::MAX as usize {
            let r = rate(*a, *b);
            ops += r;
            cmds.push((i as u16, r as f32));
        }
    }
    let pct = |p| crate::latency::window_percentile(&prev.lat, &now.lat, p);
    let node = &shared.node;
    let ns = node.node_status();
    let c = &ns.cluster;
    let lag = if c.leader == Some(node.id()) {
        c.members
            .iter()
            .filter(|m| m.id != node.id())
            .map(|m| {
                let r = c.member_region(m.id);
                let entries = r
                    .and_then(|r| r.lag_entries)
                    .or_else(|| m.matched.map(|x| c.last_log_index.saturating_sub(x)));
                (m.id, entries, r.and_then(|r| r.lag_ms))
            })
            .collect()
    } else {
        Vec::new()
    };
    let keys = crate::server_cmds::db_sizes(shared)
        .into_iter()
        .map(|(_, n)| n.max(0) as u64)
        .sum();
    Sample {
        t_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        ops,
        cmds,
        p50_us: pct(50.0),
        p99_us: pct(99.0),
        p999_us: pct(99.9),
        data_bytes: engine::quota::used(&**node.storage()),
        quota_bytes: shared.reads.setting(&engine::settings::MAXMEMORY),
        tier_bytes: node.storage().key_tier().stats().bytes + node.tier().stats().bytes,
        rss_bytes: crate::admin_cmds::rss_bytes(),
        keys,
        hits: rate(now.hits, prev.hits),
        misses: rate(now.misses, prev.misses),
        evicted: rate(now.evicted, prev.evicted),
        expired: rate(now.expired, prev.expired),
        clients: shared.clients.count() as u64,
        net_in: rate(now.net_in, prev.net_in),
        net_out: rate(now.net_out, prev.net_out),
        applied: node.applied_index(),
        lag,
    }
}

/// Starts the sampler once per process (the REST listener calls it).
pub fn start(shared: &Arc<Shared>) {
    static STARTED: OnceLock<()> = OnceLock::new();
    if STARTED.set(()).is_err() {
        return;
    }
    let weak: Weak<Shared> = Arc::downgrade(shared);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut prev: Option<Reading> = None;
        loop {
            tick.tick().await;
            let Some(shared) = weak.upgrade() else { return };
            // DBSIZE and the status read storage: off the async workers.
            let last = prev.take();
            let taken = tokio::task::spawn_blocking(move || {
                let now = read(&shared);
                let s = last.map(|p| sample(&shared, &p, &now));
                (now, s)
            })
            .await;
            let Ok((now, s)) = taken else { continue };
            if let (Some(s), Ok(mut r)) = (s, ring().lock()) {
                if r.len() == KEEP {
                    r.pop_front();
                }
                r.push_back(s);
            }
            prev = Some(now);
        }
    });
}

fn query_u64(query: Option<&str>, name: &str) -> Option<u64> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.parse().ok()).flatten()
    })
}

/// GET /console/api/metrics[?since=ms]: the samples after `since` (all kept if absent).
pub fn api(shared: &Shared, query: Option<&str>) -> crate::rest::Resp {
    let since = query_u64(query, "since").unwrap_or(0);
    let samples: Vec<Sample> = match ring().lock() {
        Ok(r) => r.iter().filter(|s| s.t_ms > since).cloned().collect(),
        Err(_) => Vec::new(),
    };
    let n = samples.len();
    let col =
        |f: &dyn Fn(&Sample) -> Value| -> Value { Value::Array(samples.iter().map(f).collect()) };
    let names = engine::COMMANDS();
    let mut cmds: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    let mut lag: BTreeMap<u64, Vec<Option<u64>>> = BTreeMap::new();
    let mut lag_ms: BTreeMap<u64, Vec<Option<u64>>> = BTreeMap::new();
    for (i, s) in samples.iter().enumerate() {
        for (c, r) in &s.cmds {
            if let Some(spec) = names.get(*c as usize) {
                cmds.entry(spec.name).or_insert_with(|| vec![0.0; n])[i] = *r;
            }
        }
        for (m, entries, ms) in &s.lag {
            lag.entry(*m).or_insert_with(|| vec![None; n])[i] = *entries;
            lag_ms.entry(*m).or_insert_with(|| vec![None; n])[i] = *ms;
        }
    }
    let mut o = Map::new();
    o.insert("node".into(), json!(shared.node.id()));
    o.insert("interval_ms".into(), json!(INTERVAL.as_millis() as u64));
    o.insert("keep".into(), json!(KEEP));
    o.insert("t".into(), col(&|s| json!(s.t_ms)));
    o.insert("ops".into(), col(&|s| json!((s.ops * 10.0).round() / 10.0)));
    o.insert("p50_us".into(), col(&|s| json!(s.p50_us)));
    o.insert("p99_us".into(), col(&|s| json!(s.p99_us)));
    o.insert("p999_us".into(), col(&|s| json!(s.p999_us)));
    o.insert("data_bytes".into(), col(&|s| json!(s.data_bytes)));
    o.insert("quota_bytes".into(), col(&|s| json!(s.quota_bytes)));
    o.insert("tier_bytes".into(), col(&|s| json!(s.tier_bytes)));
    o.insert("rss_bytes".into(), col(&|s| json!(s.rss_bytes)));
    o.insert("keys".into(), col(&|s| json!(s.keys)));
    o.insert(
        "hit_ratio".into(),
        col(&|s| {
            let total = s.hits + s.misses;
            if total > 0.0 {
                json!((s.hits / total * 1000.0).round() / 1000.0)
            } else {
                Value::Null
            }
        }),
    );
    o.insert("evicted".into(), col(&|s| json!(s.evicted)));
    o.insert("expired".into(), col(&|s| json!(s.expired)));
    o.insert("clients".into(), col(&|s| json!(s.clients)));
    o.insert("net_in".into(), col(&|s| json!(s.net_in.round())));
    o.insert("net_out".into(), col(&|s| json!(s.net_out.round())));
    o.insert("applied".into(), col(&|s| json!(s.applied)));
    o.insert("cmds".into(), json!(cmds));
    o.insert(
        "lag".into(),
        Value::Object(
            lag.into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        ),
    );
    o.insert(
        "lag_ms".into(),
        Value::Object(
            lag_ms
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        ),
    );
    // Each member's region now, and the largest lag (ms) of each region's members.
    let st = shared.node.status();
    let region_of = |id: &str| -> String {
        id.parse()
            .ok()
            .map(|id| st.region_of(id).to_string())
            .unwrap_or_default()
    };
    let mut by_region: BTreeMap<String, Vec<Option<u64>>> = BTreeMap::new();
    if let Some(Value::Object(per)) = o.get("lag_ms") {
        for (id, vals) in per {
            let col = by_region
                .entry(region_of(id))
                .or_insert_with(|| vec![None; n]);
            for (i, v) in vals.as_array().into_iter().flatten().enumerate() {
                if let (Some(v), Some(slot)) = (v.as_u64(), col.get_mut(i)) {
                    *slot = Some(slot.map_or(v, |x: u64| x.max(v)));
                }
            }
        }
    }
    o.insert("region_lag_ms".into(), json!(by_region));
    o.insert(
        "member_regions".into(),
        Value::Object(
            st.members
                .iter()
                .map(|m| (m.id.to_string(), json!(st.region_of(m.id))))
                .collect(),
        ),
    );
    super::json_reply(StatusCode::OK, &Value::Object(o))
}
