//! The per-region latency benchmark (issue 16): real nodes placed in simulated regions,
//! every directed link delayed by half the region pair's round-trip time (with jitter)
//! through the proxy's [`Net`](crate::proxy::Net), clients in each region talking to a
//! local node (reads served locally, writes forwarded to the primary's leader).
//!
//! Measured per region: read and write latency (p50 / p99 / p99.9), replica lag (a
//! probe write's acknowledgement to its visibility on the region's nodes), the time
//! for a write to become visible in every region, and the replication lag in entries
//! the leader reports (`INFO replication`). Written as `regions.txt` (table),
//! `regions.json` and `regions.svg` (latency by region) in the output directory.

use crate::cluster::{Cluster, ClusterOpts};
use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// RTT p50 in ms between regions: `rtt[a][b]`.
pub type Rtt = BTreeMap<String, BTreeMap<String, f64>>;

/// A layout: the primary region with its voters, then read regions with their replicas.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub primary: (String, u32),
    pub replicas: Vec<(String, u32)>,
}

pub const DEFAULT_LAYOUT: &str = "us-east-1:3,eu-west-1:1,ap-southeast-1:1";

impl Layout {
    /// `REGION:VOTERS,REGION:REPLICAS,...` (the first is the primary; counts default
    /// to 3 voters and 1 replica).
    pub fn parse(s: &str) -> anyhow::Result<Layout> {
        let mut parts = s.split(',').filter(|p| !p.trim().is_empty()).map(|p| {
            let p = p.trim();
            match p.split_once(':') {
                Some((r, n)) => n
                    .parse::<u32>()
                    .map(|n| (r.to_string(), n))
                    .map_err(|_| anyhow::anyhow!("bad count in {p:?}")),
                None => Ok((p.to_string(), 0)),
            }
        });
        let (pr, pn) = parts.next().context("empty layout")??;
        let primary = (pr, if pn == 0 { 3 } else { pn });
        let mut replicas = Vec::new();
        for p in parts {
            let (r, n) = p?;
            replicas.push((r, n.max(1)));
        }
        anyhow::ensure!(primary.1 >= 1, "the primary needs a voter");
        Ok(Layout { primary, replicas })
    }

    pub fn regions(&self) -> Vec<String> {
        std::iter::once(self.primary.0.clone())
            .chain(self.replicas.iter().map(|r| r.0.clone()))
            .collect()
    }

    pub fn describe(&self) -> String {
        let mut s = format!("primary {} ({} voters)", self.primary.0, self.primary.1);
        for (r, n) in &self.replicas {
            let _ = write!(s, " + {n} replica{} in {r}", if *n > 1 { "s" } else { "" });
        }
        s
    }
}

/// Reads the RTT table: `path`, else `MERIDIAN_RTT_FILE`, else
/// `../shared/reference/region-rtt-p50-ms.json` from the repository or its parents.
pub fn load_rtt(path: Option<&Path>) -> anyhow::Result<(Rtt, PathBuf)> {
    let mut cands: Vec<PathBuf> = Vec::new();
    if let Some(p) = path {
        cands.push(p.to_path_buf());
    }
    if let Ok(p) = std::env::var("MERIDIAN_RTT_FILE") {
        cands.push(p.into());
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for up in ["..", "../..", "../../.."] {
        cands.push(
            repo.join(up)
                .join("shared/reference/region-rtt-p50-ms.json"),
        );
    }
    for c in &cands {
        if let Ok(s) = std::fs::read_to_string(c) {
            return Ok((
                serde_json::from_str(&s).with_context(|| c.display().to_string())?,
                c.clone(),
            ));
        }
    }
    anyhow::bail!("region RTT table not found (tried {cands:?}); pass --rtt FILE")
}

fn rtt_of(rtt: &Rtt, a: &str, b: &str) -> anyhow::Result<f64> {
    rtt.get(a)
        .and_then(|m| m.get(b))
        .or_else(|| rtt.get(b).and_then(|m| m.get(a)))
        .copied()
        .with_context(|| format!("no RTT between {a} and {b}"))
}

#[derive(Clone, Debug)]
pub struct BenchOpts {
    pub layout: Layout,
    pub rtt: Rtt,
    pub seconds: u64,
    pub warmup: u64,
    /// Clients per node (each in the node's region, talking to it).
    pub clients_per_node: u32,
    /// Share of writes (0..=100).
    pub write_pct: u32,
    pub keys: u32,
    /// Pause between a client's operations (ms).
    pub think_ms: u64,
    /// Jitter as a fraction of each link's one-way delay (delay ±jitter/2).
    pub jitter: f64,
    pub dir: PathBuf,
    pub bin: PathBuf,
    pub seed: u64,
    /// Raft heartbeat (ms) for every node; None: derived from the layout's largest RTT
    /// (see [`auto_heartbeat`]).
    pub heartbeat: Option<u64>,
    /// Election timeout range (ms) for every node; None: 4-8 heartbeats.
    pub election_timeout: Option<(u64, u64)>,
}

/// openraft 0.9 times every AppendEntries RPC out after the heartbeat interval
/// (`replication/mod.rs`: `timeout(heartbeat_interval, append_entries(..))`), so a
/// replica whose round trip exceeds the heartbeat never completes one and stops
/// receiving the log. The benchmark's default heartbeat is 1.5× the largest RTT between
/// two of the layout's regions, rounded up to 50 ms (at least 50, Meridian's default).
pub fn auto_heartbeat(rtt: &Rtt, l: &Layout) -> u64 {
    let mut max: f64 = 0.0;
    for a in l.regions() {
        for b in l.regions() {
            max = max.max(rtt_of(rtt, &a, &b).unwrap_or(0.0));
        }
    }
    (((max * 1.5) / 50.0).ceil() as u64 * 50).max(50)
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Pcts {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

pub fn pcts(v: &mut [f64]) -> Pcts {
    if v.is_empty() {
        return Pcts::default();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    Pcts {
        n: v.len(),
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
        max: v[v.len() - 1],
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RegionResult {
    pub region: String,
    pub nodes: Vec<u32>,
    pub role: String,
    /// One-way delay client ↔ local node (ms).
    pub local_one_way_ms: f64,
    /// One-way delay to the primary region (ms).
    pub to_primary_one_way_ms: f64,
    /// Reads on a connection that only reads (served by the local node).
    pub read_ms: Pcts,
    pub write_ms: Pcts,
    /// Reads right after the same connection's own write (they wait until the local
    /// node applied it: read-your-writes).
    pub ryw_read_ms: Pcts,
    pub errors: usize,
    /// Up to 5 distinct error texts.
    pub error_samples: Vec<String>,
    /// Probe write acknowledged → visible on this region's first node (ms).
    pub lag_ms: Pcts,
    /// Probe write invoked → visible on this region's first node (ms).
    pub visible_ms: Pcts,
    /// Entries behind the leader's last log index (sampled from the leader's INFO).
    pub lag_entries: Pcts,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct BenchResult {
    pub layout: String,
    pub seconds: u64,
    pub clients_per_node: u32,
    pub write_pct: u32,
    pub think_ms: u64,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: (u64, u64),
    pub regions: Vec<RegionResult>,
    /// Probe write invoked → visible in every region (ms).
    pub visible_everywhere_ms: Pcts,
    pub probes: usize,
    pub probes_never_seen: usize,
    /// Every probe: invoked, acknowledged, and when each node first showed it (ms).
    pub probe_rows: Vec<ProbeRow>,
}

/// Per region: reads, writes, reads right after the connection's own write, error texts.
#[derive(Clone, Default)]
struct RegionSamples {
    reads: Vec<f64>,
    writes: Vec<f64>,
    ryw_reads: Vec<f64>,
    errors: Vec<String>,
}

type Samples = Arc<Mutex<BTreeMap<String, RegionSamples>>>;

pub async fn run(o: BenchOpts) -> anyhow::Result<BenchResult> {
    std::fs::create_dir_all(&o.dir)?;
    let l = &o.layout;
    for a in l.regions() {
        for b in l.regions() {
            rtt_of(&o.rtt, &a, &b)?;
        }
    }
    let hb = o.heartbeat.unwrap_or_else(|| auto_heartbeat(&o.rtt, l));
    let et = o.election_timeout.unwrap_or((hb * 4, hb * 8));
    let mut co = ClusterOpts::new(l.primary.1, o.dir.clone(), o.bin.clone());
    co.region = l.primary.0.clone();
    co.heartbeat = Some(hb);
    co.election_timeout = Some(format!("{}-{}", et.0, et.1));
    co.replicas = l
        .replicas
        .iter()
        .flat_map(|(r, n)| std::iter::repeat_n(r.clone(), *n as usize))
        .collect();
    let mut c = Cluster::start(co).await.context("starting the cluster")?;
    c.wait_all_ready(Duration::from_secs(60)).await?;
    let region_of: BTreeMap<u32, String> =
        c.nodes.iter().map(|p| (p.id, p.region.clone())).collect();
    // Every directed link: half the RTT, ± jitter/2 of it (the proxy adds uniform
    // 0..jitter on top of a base).
    let set = |net: &crate::proxy::Net, a: u32, b: u32, one_way: f64| {
        let j = one_way * o.jitter;
        let base = (one_way - j / 2.0).max(0.0);
        net.delay(a, b, base.round() as u64, j.round() as u64);
    };
    for (&a, ra) in &region_of {
        for (&b, rb) in &region_of {
            if a != b {
                set(&c.net, a, b, rtt_of(&o.rtt, ra, rb)? / 2.0);
            }
        }
        // The region's clients (endpoint 0 on this node's client links) are local.
        let local = rtt_of(&o.rtt, ra, ra)? / 2.0;
        set(&c.net, 0, a, local);
        set(&c.net, a, 0, local);
    }
    eprintln!(
        "regions: {} on 127.{}.{}.1-{}; links delayed; warming up {} s",
        l.describe(),
        c.prefix[1],
        c.prefix[2],
        c.nodes.len(),
        o.warmup
    );
    // Preload the keys through the leader directly.
    let leader = c
        .wait_leader(Duration::from_secs(30))
        .await
        .context("no leader")?;
    {
        let client = redis::Client::open(format!("redis://{}/", c.direct_addr(leader)))?;
        let mut con = client.get_multiplexed_async_connection().await?;
        let mut p = redis::pipe();
        for k in 0..o.keys {
            p.cmd("SET").arg(format!("k{k}")).arg("v").ignore();
        }
        p.query_async::<()>(&mut con).await?;
    }
    let samples: Samples = Default::default();
    let t_start = Instant::now() + Duration::from_secs(o.warmup);
    let until = t_start + Duration::from_secs(o.seconds);
    let mut handles = Vec::new();
    for (&node, region) in &region_of {
        for k in 0..o.clients_per_node {
            let addr = c.client_addr(node);
            let samples = samples.clone();
            let region = region.clone();
            let seed = o.seed ^ ((node as u64) << 32) ^ k as u64;
            let (keys, write_pct, think) = (o.keys, o.write_pct, o.think_ms);
            handles.push(tokio::spawn(async move {
                bench_client(
                    addr, region, samples, seed, keys, write_pct, think, t_start, until,
                )
                .await
            }));
        }
    }
    // Probes: a writer in the primary region (through the proxy, to the leader), and a
    // poller per node on its own port (the measuring apparatus, not delayed).
    let probe = probe(&c, leader, t_start, until).await;
    for h in handles {
        let _ = h.await;
    }
    let (probe_rows, lag_entries) = probe?;
    // Results per region.
    let samples = samples.lock().unwrap().clone();
    let mut res = BenchResult {
        layout: l.describe(),
        seconds: o.seconds,
        clients_per_node: o.clients_per_node,
        write_pct: o.write_pct,
        think_ms: o.think_ms,
        heartbeat_ms: hb,
        election_timeout_ms: et,
        ..Default::default()
    };
    let primary = &l.primary.0;
    let mut everywhere = Vec::new();
    let mut never = 0;
    for p in &probe_rows {
        // Per region: the first of its nodes to show the write.
        let mut worst: Option<f64> = None;
        for r in l.regions() {
            let seen = region_of
                .iter()
                .filter(|(_, rr)| **rr == r)
                .filter_map(|(n, _)| p.seen.get(n).copied())
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))));
            match seen {
                Some(s) => worst = Some(worst.map_or(s, |w: f64| w.max(s))),
                None => {
                    worst = None;
                    break;
                }
            }
        }
        match worst {
            Some(w) => everywhere.push(w - p.invoke_ms),
            None => never += 1,
        }
    }
    res.visible_everywhere_ms = pcts(&mut everywhere);
    res.probes = probe_rows.len();
    res.probe_rows = probe_rows.clone();
    res.probes_never_seen = never;
    for r in l.regions() {
        let nodes: Vec<u32> = region_of
            .iter()
            .filter(|(_, rr)| **rr == r)
            .map(|(n, _)| *n)
            .collect();
        let mut rs = samples.get(&r).cloned().unwrap_or_default();
        let mut error_samples: Vec<String> = rs.errors.clone();
        error_samples.sort();
        error_samples.dedup();
        error_samples.truncate(5);
        let mut lag = Vec::new();
        let mut vis = Vec::new();
        for p in &probe_rows {
            let seen = nodes
                .iter()
                .filter_map(|n| p.seen.get(n).copied())
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))));
            if let (Some(s), Some(ack)) = (seen, p.ack_ms) {
                lag.push((s - ack).max(0.0));
                vis.push(s - p.invoke_ms);
            }
        }
        let mut le: Vec<f64> = nodes
            .iter()
            .flat_map(|n| lag_entries.get(n).cloned().unwrap_or_default())
            .collect();
        res.regions.push(RegionResult {
            region: r.clone(),
            role: if &r == primary {
                format!("primary ({} voters)", nodes.len())
            } else {
                format!(
                    "read region ({} replica{})",
                    nodes.len(),
                    if nodes.len() > 1 { "s" } else { "" }
                )
            },
            local_one_way_ms: rtt_of(&o.rtt, &r, &r)? / 2.0,
            to_primary_one_way_ms: rtt_of(&o.rtt, &r, primary)? / 2.0,
            nodes,
            read_ms: pcts(&mut rs.reads),
            write_ms: pcts(&mut rs.writes),
            ryw_read_ms: pcts(&mut rs.ryw_reads),
            errors: rs.errors.len(),
            error_samples,
            lag_ms: pcts(&mut lag),
            visible_ms: pcts(&mut vis),
            lag_entries: pcts(&mut le),
        });
    }
    drop(c);
    for i in 1..=250 {
        let _ = std::fs::remove_dir_all(o.dir.join(format!("n{i}/data")));
    }
    let text = table(&res);
    std::fs::write(o.dir.join("regions.txt"), &text)?;
    std::fs::write(
        o.dir.join("regions.json"),
        serde_json::to_string_pretty(&res)?,
    )?;
    std::fs::write(o.dir.join("regions.svg"), svg(&res))?;
    print!("{text}");
    eprintln!("regions: results in {}", o.dir.display());
    Ok(res)
}

#[allow(clippy::too_many_arguments)]
async fn bench_client(
    addr: std::net::SocketAddr,
    region: String,
    samples: Samples,
    seed: u64,
    keys: u32,
    write_pct: u32,
    think_ms: u64,
    t_start: Instant,
    until: Instant,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    // A connection for reads only, and one for writes (each write followed by a read
    // of the same key on it: read-your-writes).
    let (mut rcon, mut wcon) = (None, None);
    let mut out = RegionSamples::default();
    async fn connect(addr: std::net::SocketAddr) -> Option<redis::aio::MultiplexedConnection> {
        let c = async {
            let client = redis::Client::open(format!("redis://{addr}/"))?;
            client.get_multiplexed_async_connection().await
        };
        tokio::time::timeout(Duration::from_secs(2), c)
            .await
            .ok()?
            .ok()
    }
    while Instant::now() < until {
        if rcon.is_none() {
            rcon = connect(addr).await;
        }
        if wcon.is_none() {
            wcon = connect(addr).await;
        }
        let (Some(rc), Some(wc)) = (rcon.as_mut(), wcon.as_mut()) else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let key = format!("k{}", rng.gen_range(0..keys));
        let write = rng.gen_range(0..100) < write_pct;
        let t = Instant::now();
        let measured = t >= t_start;
        let lim = Duration::from_secs(5);
        if write {
            let r = tokio::time::timeout(
                lim,
                redis::cmd("SET")
                    .arg(&key)
                    .arg(rng.gen::<u32>())
                    .query_async::<()>(wc),
            )
            .await;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            match r {
                Ok(Ok(())) => {
                    if measured {
                        out.writes.push(ms);
                    }
                    let t = Instant::now();
                    let r = tokio::time::timeout(
                        lim,
                        redis::cmd("GET")
                            .arg(&key)
                            .query_async::<Option<String>>(wc),
                    )
                    .await;
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    match r {
                        Ok(Ok(_)) if measured => out.ryw_reads.push(ms),
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => out.errors.push(format!("read after write: {e}")),
                        Err(_) => out.errors.push("read after write: timeout".into()),
                    }
                }
                Ok(Err(e)) => out.errors.push(format!("write: {e}")),
                Err(_) => {
                    out.errors.push("write: timeout".into());
                    wcon = None;
                }
            }
        } else {
            let r = tokio::time::timeout(
                lim,
                redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<String>>(rc),
            )
            .await;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            match r {
                Ok(Ok(_)) if measured => out.reads.push(ms),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => out.errors.push(format!("read: {e}")),
                Err(_) => {
                    out.errors.push("read: timeout".into());
                    rcon = None;
                }
            }
        }
        if think_ms > 0 {
            tokio::time::sleep(Duration::from_millis(think_ms)).await;
        }
    }
    let mut s = samples.lock().unwrap();
    let e = s.entry(region).or_default();
    e.reads.extend(out.reads);
    e.writes.extend(out.writes);
    e.ryw_reads.extend(out.ryw_reads);
    e.errors.extend(out.errors);
}

#[derive(Clone, Debug, Serialize)]
pub struct ProbeRow {
    pub seq: u64,
    invoke_ms: f64,
    ack_ms: Option<f64>,
    /// node → ms (since t_start) at which a poller first saw this probe's value.
    seen: BTreeMap<u32, f64>,
}

/// Every 200 ms a probe write (`probe` = sequence number) from the primary region;
/// a poller per node reads `probe` on the node's own port every 2 ms and notes when
/// each sequence number first shows. The leader's INFO is sampled every 500 ms for
/// each member's lag in entries.
async fn probe(
    c: &Cluster,
    leader: u32,
    t_start: Instant,
    until: Instant,
) -> anyhow::Result<(Vec<ProbeRow>, BTreeMap<u32, Vec<f64>>)> {
    let ms = move |t: Instant| {
        if t >= t_start {
            t.duration_since(t_start).as_secs_f64() * 1000.0
        } else {
            -(t_start.duration_since(t).as_secs_f64() * 1000.0)
        }
    };
    // Pollers: node → list of (first seen seq, at ms).
    let first_seen: Arc<Mutex<BTreeMap<u32, BTreeMap<u64, f64>>>> = Default::default();
    let mut polls = Vec::new();
    let stop = until + Duration::from_secs(3);
    for i in c.ids() {
        let addr = c.direct_addr(i);
        let fs = first_seen.clone();
        polls.push(tokio::spawn(async move {
            let Ok(client) = redis::Client::open(format!("redis://{addr}/")) else {
                return;
            };
            let Ok(mut con) = client.get_multiplexed_async_connection().await else {
                return;
            };
            let mut last = 0u64;
            while Instant::now() < stop {
                if let Ok(Some(v)) = redis::cmd("GET")
                    .arg("probe")
                    .query_async::<Option<u64>>(&mut con)
                    .await
                {
                    if v > last {
                        let at = Instant::now();
                        let mut g = fs.lock().unwrap();
                        let m = g.entry(i).or_default();
                        // Every sequence number up to v became visible now (at the latest).
                        for s in last + 1..=v {
                            m.entry(s).or_insert(ms(at));
                        }
                        last = v;
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    // Lag in entries from the leader.
    let lag: Arc<Mutex<BTreeMap<u32, Vec<f64>>>> = Default::default();
    let lag_task = {
        let lag = lag.clone();
        let addr = c.direct_addr(leader);
        tokio::spawn(async move {
            let Ok(client) = redis::Client::open(format!("redis://{addr}/")) else {
                return;
            };
            let Ok(mut con) = client.get_multiplexed_async_connection().await else {
                return;
            };
            while Instant::now() < until {
                if Instant::now() >= t_start {
                    if let Ok(text) = redis::cmd("INFO")
                        .arg("replication")
                        .query_async::<String>(&mut con)
                        .await
                    {
                        let mut g = lag.lock().unwrap();
                        for l in text.lines().filter(|l| l.starts_with("member")) {
                            let f: BTreeMap<&str, &str> = l
                                .split_once(':')
                                .map(|(_, v)| {
                                    v.split(',').filter_map(|kv| kv.split_once('=')).collect()
                                })
                                .unwrap_or_default();
                            if let (Some(id), Some(lag)) = (
                                f.get("id").and_then(|x| x.parse::<u32>().ok()),
                                f.get("lag").and_then(|x| x.parse::<f64>().ok()),
                            ) {
                                g.entry(id).or_default().push(lag);
                            }
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    // The writer: the leader's client link (primary-region client).
    let client = redis::Client::open(format!("redis://{}/", c.client_addr(leader)))?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let mut rows: Vec<(u64, ProbeRow)> = Vec::new();
    tokio::time::sleep_until(t_start.into()).await;
    let mut seq = 0u64;
    while Instant::now() + Duration::from_millis(500) < until {
        seq += 1;
        let t = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            redis::cmd("SET")
                .arg("probe")
                .arg(seq)
                .query_async::<()>(&mut con),
        )
        .await;
        let ack = matches!(r, Ok(Ok(()))).then(|| ms(Instant::now()));
        rows.push((
            seq,
            ProbeRow {
                seq,
                invoke_ms: ms(t),
                ack_ms: ack,
                seen: BTreeMap::new(),
            },
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for p in polls {
        let _ = p.await;
    }
    let _ = lag_task.await;
    let fs = first_seen.lock().unwrap();
    for (seq, row) in rows.iter_mut() {
        for (node, m) in fs.iter() {
            if let Some(at) = m.get(seq) {
                row.seen.insert(*node, *at);
            }
        }
    }
    let lag = lag.lock().unwrap().clone();
    Ok((rows.into_iter().map(|(_, r)| r).collect(), lag))
}

fn f(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The summary table (Markdown).
pub fn table(r: &BenchResult) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "layout: {}; {} s measured, {} client(s) per node, {} % writes, {} ms between a client's ops; --heartbeat {} --election-timeout {}-{}\n",
        r.layout,
        r.seconds,
        r.clients_per_node,
        r.write_pct,
        r.think_ms,
        r.heartbeat_ms,
        r.election_timeout_ms.0,
        r.election_timeout_ms.1
    );
    let _ = writeln!(
        t,
        "| region | role | one-way local / to primary ms | reads | read p50 / p99 / p99.9 ms | writes | write p50 / p99 / p99.9 ms | read after own write p50 / p99 ms | errors | replica lag p50 / p99 ms | visible after p50 / p99 ms | lag entries p50 / p99 |"
    );
    let _ = writeln!(t, "|---|---|---|---:|---|---:|---|---|---:|---|---|---|");
    for g in &r.regions {
        let _ = writeln!(
            t,
            "| {} | {} | {} / {} | {} | {} / {} / {} | {} | {} / {} / {} | {} / {} | {} | {} / {} | {} / {} | {} / {} |",
            g.region,
            g.role,
            f(g.local_one_way_ms),
            f(g.to_primary_one_way_ms),
            g.read_ms.n,
            f(g.read_ms.p50),
            f(g.read_ms.p99),
            f(g.read_ms.p999),
            g.write_ms.n,
            f(g.write_ms.p50),
            f(g.write_ms.p99),
            f(g.write_ms.p999),
            f(g.ryw_read_ms.p50),
            f(g.ryw_read_ms.p99),
            g.errors,
            f(g.lag_ms.p50),
            f(g.lag_ms.p99),
            f(g.visible_ms.p50),
            f(g.visible_ms.p99),
            f(g.lag_entries.p50),
            f(g.lag_entries.p99),
        );
    }
    for g in r.regions.iter().filter(|g| !g.error_samples.is_empty()) {
        let _ = writeln!(
            t,
            "\nerrors in {}: {}",
            g.region,
            g.error_samples.join(" | ")
        );
    }
    let v = &r.visible_everywhere_ms;
    let _ = writeln!(
        t,
        "\nwrite visible in every region (probe invoked → seen on a node of each region): p50 {} ms, p99 {} ms, max {} ms over {} probes ({} never seen everywhere)",
        f(v.p50),
        f(v.p99),
        f(v.max),
        r.probes,
        r.probes_never_seen
    );
    let _ = writeln!(
        t,
        "Upstash's published figures: same-region read p99 < 1 ms, write p99 < 5 ms; same continent < 50 ms."
    );
    t
}

/// Latency by region: read and write p50 / p99 / p99.9 bars (log scale), and the
/// probe's visibility p50 / p99 per region.
pub fn svg(r: &BenchResult) -> String {
    let n = r.regions.len().max(1) as f64;
    let (w, h) = (220.0 * n + 120.0, 440.0);
    let (l, top, bot) = (70.0, 40.0, 80.0);
    let ph = h - top - bot;
    let (lmin, lmax) = (0.1f64.log10(), 10_000f64.log10());
    let y = |ms: f64| {
        let v = ms.max(0.1).log10().clamp(lmin, lmax);
        top + ph * (1.0 - (v - lmin) / (lmax - lmin))
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{l}" y="20" font-size="13">Latency by region: {} ({} s)</text>"#,
        xml(&r.layout),
        r.seconds
    );
    for dec in [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0] {
        let yy = y(dec);
        let _ = writeln!(
            s,
            r##"<line x1="{l}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{dec} ms</text>"##,
            w - 20.0,
            l - 4.0,
            yy + 4.0
        );
    }
    // Upstash's same-region targets.
    for (ms, label) in [
        (1.0, "read p99 target (same region) 1 ms"),
        (5.0, "write p99 target 5 ms"),
    ] {
        let yy = y(ms);
        let _ = writeln!(
            s,
            r##"<line x1="{l}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#c33" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#c33" font-size="9" text-anchor="end">{label}</text>"##,
            w - 20.0,
            w - 22.0,
            yy - 3.0
        );
    }
    let series: [(&str, &str); 3] = [
        ("read", "#4a90d9"),
        ("write", "#e08a2e"),
        ("visible", "#6a6"),
    ];
    for (i, g) in r.regions.iter().enumerate() {
        let x0 = l + 20.0 + 220.0 * i as f64;
        let groups = [
            (&g.read_ms, series[0]),
            (&g.write_ms, series[1]),
            (&g.visible_ms, series[2]),
        ];
        for (j, (p, (name, colour))) in groups.iter().enumerate() {
            let bx = x0 + j as f64 * 62.0;
            // p50 bar, p99 and p99.9 ticks.
            let yb = y(p.p50);
            let _ = writeln!(
                s,
                r#"<rect x="{bx:.1}" y="{yb:.1}" width="40" height="{:.1}" fill="{colour}"><title>{name} p50 {} ms, p99 {} ms, p99.9 {} ms (n={})</title></rect>"#,
                (top + ph - yb).max(0.5),
                f(p.p50),
                f(p.p99),
                f(p.p999),
                p.n
            );
            for (q, dash) in [(p.p99, ""), (p.p999, r#" stroke-dasharray="2 2""#)] {
                let yq = y(q);
                let _ = writeln!(
                    s,
                    r#"<line x1="{bx:.1}" x2="{:.1}" y1="{yq:.1}" y2="{yq:.1}" stroke="black" stroke-width="2"{dash}/>"#,
                    bx + 40.0
                );
            }
            let _ = writeln!(
                s,
                r#"<line x1="{:.1}" x2="{:.1}" y1="{yb:.1}" y2="{:.1}" stroke="black"/>"#,
                bx + 20.0,
                bx + 20.0,
                y(p.p999)
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{name}</text>"#,
                bx + 20.0,
                top + ph + 12.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text>"#,
            x0 + 82.0,
            top + ph + 30.0,
            xml(&g.region),
            x0 + 82.0,
            top + ph + 44.0,
            xml(&g.role)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{l}" y="{:.1}" font-size="10">bar: p50; solid tick: p99; dashed tick: p99.9. read/write: clients in the region on a local node; visible: a primary write invoked → seen in the region</text>"#,
        h - 12.0
    );
    let _ = writeln!(s, "</svg>");
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_parse() {
        let l = Layout::parse(DEFAULT_LAYOUT).unwrap();
        assert_eq!(l.primary, ("us-east-1".into(), 3));
        assert_eq!(
            l.replicas,
            vec![("eu-west-1".into(), 1), ("ap-southeast-1".into(), 1)]
        );
        let l = Layout::parse("eu-west-1,us-east-1:2").unwrap();
        assert_eq!(l.primary, ("eu-west-1".into(), 3));
        assert_eq!(l.replicas, vec![("us-east-1".into(), 2)]);
        assert!(Layout::parse("").is_err());
        assert!(Layout::parse("a:x").is_err());
    }

    #[test]
    fn heartbeat_covers_the_longest_round_trip() {
        let mut rtt = Rtt::new();
        for (a, b, ms) in [("x", "x", 1.0), ("x", "y", 219.0), ("y", "y", 2.0)] {
            rtt.entry(a.to_string())
                .or_default()
                .insert(b.to_string(), ms);
        }
        let l = Layout::parse("x:3,y:1").unwrap();
        assert_eq!(auto_heartbeat(&rtt, &l), 350);
        let l = Layout::parse("x:3").unwrap();
        assert_eq!(auto_heartbeat(&rtt, &l), 50);
    }

    #[test]
    fn percentiles() {
        let mut v: Vec<f64> = (1..=1000).map(|x| x as f64).collect();
        let p = pcts(&mut v);
        assert_eq!((p.p50, p.p99, p.p999, p.max), (500.0, 990.0, 999.0, 1000.0));
        assert_eq!(pcts(&mut []).n, 0);
    }

    #[test]
    fn the_reference_table_is_symmetric_enough() {
        if let Ok((rtt, _)) = load_rtt(None) {
            let a = rtt_of(&rtt, "us-east-1", "eu-west-1").unwrap();
            let b = rtt_of(&rtt, "eu-west-1", "us-east-1").unwrap();
            assert!((a - b).abs() < 1.0);
        }
    }
}
