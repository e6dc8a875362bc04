//! One run: start the cluster behind the proxy, run the clients and the nemesis, heal,
//! read the final state, check, and write the run directory:
//! `history.jsonl`, `summary.txt`, `summary.json`, `latency.svg`, `n<i>/node.log`.

use crate::checker::{self, converge, linear, list, ryw};
use crate::cluster::{Cluster, ClusterOpts, ProcState};
use crate::history::{History, F};
use crate::nemesis::{self, Scenario};
use crate::report::{self, Summary};
use crate::session::{self, SessionShared, SessionSpec};
use crate::ttl::{self, TtlShared};
use crate::workload::{self, ClientSpec, Keys, Kind, Shared};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct RunOpts {
    pub scenario: Scenario,
    pub seconds: u64,
    pub seed: u64,
    pub nodes: u32,
    pub register_clients: u32,
    pub list_clients: u32,
    /// CLIENT CONSISTENCY strong on every client connection.
    pub strong: bool,
    pub dir: PathBuf,
    pub bin: PathBuf,
    pub client_proxy: bool,
    pub op_timeout: Duration,
    pub election_timeout: Option<String>,
    /// Keep the nodes' data directories (otherwise removed, logs kept).
    pub keep_data: bool,
    /// Register operations per key before the key is retired.
    pub ops_per_key: usize,
    /// Read replicas started with the cluster (their regions).
    pub replicas: Vec<String>,
    /// Read-your-writes sessions (half RESP, half REST) over every member.
    pub ryw_sessions: u32,
    /// TTL clients (SET PX + EXISTS, checked against the expiry bound).
    pub ttl_clients: u32,
    /// More options for every node.
    pub extra_args: Vec<String>,
    /// How far from its deadline a TTL key may expire (ms).
    pub ttl_bound_ms: u64,
}

impl RunOpts {
    pub fn new(scenario: Scenario, seconds: u64, seed: u64, dir: PathBuf, bin: PathBuf) -> RunOpts {
        RunOpts {
            scenario,
            seconds,
            seed,
            nodes: 3,
            register_clients: 5,
            list_clients: 5,
            strong: true,
            dir,
            bin,
            client_proxy: true,
            op_timeout: Duration::from_secs(5),
            election_timeout: None,
            keep_data: false,
            ops_per_key: 120,
            replicas: Vec::new(),
            ryw_sessions: 4,
            ttl_clients: 0,
            extra_args: Vec::new(),
            ttl_bound_ms: 500,
        }
    }
}

pub struct RunResult {
    pub summary: Summary,
    pub dir: PathBuf,
    pub history: History,
}

pub async fn run(o: RunOpts) -> anyhow::Result<RunResult> {
    std::fs::create_dir_all(&o.dir)?;
    eprintln!(
        "jepsen: scenario {} seed {} for {} s, run dir {}",
        o.scenario.name(),
        o.seed,
        o.seconds,
        o.dir.display()
    );
    let mut co = ClusterOpts::new(o.nodes, o.dir.clone(), o.bin.clone());
    co.client_proxy = o.client_proxy;
    co.election_timeout = o.election_timeout.clone();
    co.replicas = o.replicas.clone();
    co.extra_args = o.extra_args.clone();
    let mut c = Cluster::start(co).await.context("starting the cluster")?;
    eprintln!(
        "jepsen: {} voters + {} replicas on 127.{}.{}.1-{}, leader {:?}",
        o.nodes,
        o.replicas.len(),
        c.prefix[1],
        c.prefix[2],
        c.nodes.len(),
        c.leader().await
    );
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(o.seconds);
    let shared = Arc::new(Shared {
        t0,
        next_id: AtomicU64::new(0),
        next_process: AtomicU64::new(0),
        next_value: AtomicU64::new(1),
        reg_keys: Keys::new("r", 4, o.ops_per_key),
        list_keys: Keys::new("l", 3, o.ops_per_key * 2),
        strong: o.strong,
        op_timeout: o.op_timeout,
        last_seen: Default::default(),
    });
    let mut handles = Vec::new();
    let total = o.register_clients + o.list_clients;
    for i in 0..total {
        let node = 1 + i % o.nodes;
        let kind = if i < o.register_clients {
            Kind::Register
        } else {
            Kind::List
        };
        let spec = ClientSpec {
            index: i,
            node,
            addr: c.client_addr(node),
            kind,
            seed: o.seed.wrapping_mul(1000).wrapping_add(i as u64),
            until,
        };
        handles.push(tokio::spawn(workload::client(shared.clone(), spec)));
    }
    let sshared = Arc::new(SessionShared {
        t0,
        next_id: Arc::new(AtomicU64::new(1 << 40)),
        next_conn: AtomicU64::new(0),
        keys: 3,
        op_timeout: o.op_timeout,
        targets: c.targets.clone(),
    });
    for s in 0..o.ryw_sessions {
        let spec = SessionSpec {
            session: 1_000_000 + s as u64,
            rest: s % 2 == 1,
            seed: o.seed.wrapping_mul(1000).wrapping_add(500 + s as u64),
            until,
        };
        handles.push(tokio::spawn(session::session(sshared.clone(), spec)));
    }
    let tshared = Arc::new(TtlShared {
        t0,
        next_id: Arc::new(AtomicU64::new(1 << 41)),
        next_key: AtomicU64::new(0),
        op_timeout: o.op_timeout,
        targets: c.targets.clone(),
        ttl_ms: (1000, 3000),
        after_ms: 1500 + o.ttl_bound_ms,
        poll: Duration::from_millis(50),
    });
    for t in 0..o.ttl_clients {
        handles.push(tokio::spawn(ttl::client(
            tshared.clone(),
            2_000_000 + t as u64,
            o.seed.wrapping_mul(1000).wrapping_add(700 + t as u64),
            until,
        )));
    }
    let nem = nemesis::run(&mut c, o.scenario, o.seed, t0, until).await;
    let mut history = History::default();
    for h in handles {
        history.ops.extend(h.await.unwrap_or_default());
    }
    history.ops.sort_by_key(|op| (op.invoke_us, op.id));
    let mut errors = Vec::new();
    match nem {
        Ok(ev) => history.nemesis = ev,
        Err(e) => errors.push(format!("nemesis: {e:#}")),
    }
    // Crashes we did not cause.
    for p in &mut c.nodes {
        if p.state == ProcState::Running {
            if let Some(st) = p.exited() {
                errors.push(format!(
                    "node {} exited by itself ({st}): {}",
                    p.id,
                    p.log_tail(10)
                ));
            }
        }
    }

    // Heal, let every node serve again, read the final state.
    c.heal_all()?;
    if let Err(e) = c.wait_all_ready(Duration::from_secs(60)).await {
        errors.push(format!("after heal: {e:#}"));
    }
    let leader = c.wait_leader(Duration::from_secs(30)).await;
    let mut finals = BTreeMap::new();
    let mut counters = BTreeMap::new();
    let counter_keys: std::collections::BTreeSet<String> = history
        .ops
        .iter()
        .filter(|o| matches!(o.f, F::Incr | F::ReadCounter))
        .map(|o| o.key.clone())
        .collect();
    let list_keys: std::collections::BTreeSet<String> = history
        .ops
        .iter()
        .filter(|o| matches!(o.f, F::Append | F::ReadList))
        .map(|o| o.key.clone())
        .collect();
    match leader {
        None => errors.push("no leader after heal".into()),
        Some(l) => {
            for k in &list_keys {
                match final_list(&c, l, k).await {
                    Ok(v) => {
                        finals.insert(k.clone(), v);
                    }
                    Err(e) => errors.push(format!("final read of {k}: {e:#}")),
                }
            }
            for k in &counter_keys {
                match final_counter(&c, l, k).await {
                    Ok(v) => {
                        counters.insert(k.clone(), v);
                    }
                    Err(e) => errors.push(format!("final read of {k}: {e:#}")),
                }
            }
        }
    }
    let conv = converge_check(&c).await;
    if let Err(e) = &conv {
        errors.push(format!("convergence: {e:#}"));
    }
    let lin = linear::check(&linear::checkable(&history.ops, o.strong), 2_000_000);
    let lst = (errors.is_empty() || !finals.is_empty())
        .then(|| list::check(&history.ops, &finals, o.strong));
    let ryw = ryw::check(&history.ops, &counters);
    let mut summary = report::summarize(&history, Some(&lin), lst.as_ref(), conv.as_ref().ok());
    report::add_ryw(&mut summary, &ryw);
    report::add_elle(
        &mut summary,
        &checker::elle::check(&checker::elle::from_ops(&history.ops), &finals, o.strong),
    );
    let mut clocks = checker::ttl::Clocks::new();
    for (at, node, ms) in &c.clock_log {
        let us = at.saturating_duration_since(t0).as_micros() as u64;
        clocks.entry(*node).or_default().push((us, *ms));
    }
    report::add_ttl(
        &mut summary,
        &checker::ttl::check_with_clocks(&history.ops, o.ttl_bound_ms, &clocks),
        o.ttl_bound_ms,
    );
    std::fs::write(o.dir.join("clocks.json"), serde_json::to_string(&clocks)?)?;
    summary.scenario = o.scenario.name().to_string();
    summary.seed = o.seed;
    summary.seconds = o.seconds;
    summary.strong_reads = o.strong;
    summary.errors = errors;
    drop(c);

    history.write_jsonl(&o.dir.join("history.jsonl"))?;
    std::fs::write(o.dir.join("finals.json"), serde_json::to_string(&finals)?)?;
    std::fs::write(
        o.dir.join("counters.json"),
        serde_json::to_string(&counters)?,
    )?;
    let text = report::table(&summary);
    std::fs::write(o.dir.join("summary.txt"), &text)?;
    std::fs::write(
        o.dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    std::fs::write(
        o.dir.join("latency.svg"),
        report::latency_svg(
            &history,
            &format!("{} seed {} ({} s)", o.scenario.name(), o.seed, o.seconds),
        ),
    )?;
    if !o.keep_data {
        for i in 1..=250 {
            let _ = std::fs::remove_dir_all(o.dir.join(format!("n{i}/data")));
        }
    }
    print!("{text}");
    eprintln!("jepsen: run dir {}", o.dir.display());
    Ok(RunResult {
        summary,
        dir: o.dir,
        history,
    })
}

async fn direct(c: &Cluster, i: u32) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    let addr = c.direct_addr(i);
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    Ok(tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await??)
}

/// A linearizable read of the whole list, retried for up to 20 s.
async fn final_list(c: &Cluster, leader: u32, key: &str) -> anyhow::Result<Vec<i64>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut node = leader;
    loop {
        let r: anyhow::Result<Vec<i64>> = async {
            let mut con = direct(c, node).await?;
            redis::cmd("CLIENT")
                .arg("CONSISTENCY")
                .arg("strong")
                .query_async::<()>(&mut con)
                .await?;
            Ok(tokio::time::timeout(
                Duration::from_secs(5),
                redis::cmd("LRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut con),
            )
            .await??)
        }
        .await;
        match r {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                node = c.leader().await.unwrap_or(node);
            }
        }
    }
}

/// A linearizable GET of a counter (0 when absent), retried for up to 20 s.
async fn final_counter(c: &Cluster, leader: u32, key: &str) -> anyhow::Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut node = leader;
    loop {
        let r: anyhow::Result<Option<i64>> = async {
            let mut con = direct(c, node).await?;
            redis::cmd("CLIENT")
                .arg("CONSISTENCY")
                .arg("strong")
                .query_async::<()>(&mut con)
                .await?;
            Ok(tokio::time::timeout(
                Duration::from_secs(5),
                redis::cmd("GET").arg(key).query_async(&mut con),
            )
            .await??)
        }
        .await;
        match r {
            Ok(v) => return Ok(v.unwrap_or(0)),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                node = c.leader().await.unwrap_or(node);
            }
        }
    }
}

/// The members (voters and replicas) the leader's `INFO replication` lists, itself
/// included.
async fn members(c: &Cluster) -> anyhow::Result<std::collections::BTreeSet<u32>> {
    let l = c.leader().await.context("no leader")?;
    let info = c.info(l).await?;
    let mut m = std::collections::BTreeSet::from([l]);
    for (k, v) in &info {
        if k.starts_with("member") {
            if let Some(id) = v
                .split(',')
                .find_map(|f| f.strip_prefix("id="))
                .and_then(|x| x.parse().ok())
            {
                m.insert(id);
            }
        }
    }
    Ok(m)
}

/// Every key → DUMP on one node, from its own applied state.
async fn snapshot(c: &Cluster, i: u32) -> anyhow::Result<converge::Snapshot> {
    let mut con = direct(c, i).await?;
    let mut out = converge::Snapshot::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut con)
            .await?;
        for k in keys {
            let v: Option<Vec<u8>> = redis::cmd("DUMP").arg(&k).query_async(&mut con).await?;
            if let Some(v) = v {
                out.insert(k, v);
            }
        }
        if next == 0 {
            return Ok(out);
        }
        cursor = next;
    }
}

/// Compares every node's keyspace; retries for up to 30 s while they differ (a node may
/// still be catching up).
async fn converge_check(c: &Cluster) -> anyhow::Result<converge::Report> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut snaps = Vec::new();
        let mut err = None;
        // The membership's nodes (a removal whose call timed out may have happened).
        let ids: Vec<u32> = match members(c).await {
            Ok(m) => c.ids().into_iter().filter(|i| m.contains(i)).collect(),
            Err(_) => c.ids(),
        };
        for i in ids {
            match snapshot(c, i).await {
                Ok(s) => snaps.push((i, s)),
                Err(e) => err = Some(e),
            }
        }
        let r = converge::compare(&snaps);
        let done = err.is_none() && r.converged;
        if done || Instant::now() > deadline {
            if let Some(e) = err {
                return Err(e);
            }
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
