//! One simulated run: start the cluster, run register and list clients against random
//! nodes while the nemesis injects faults, then heal, let the cluster settle and check
//! the history (linearizability of every register, no acknowledged append lost, every
//! node's state identical).

use crate::cluster::{Cluster, Crash};
use crate::net::{Lost, Net, Weather};
use crate::trace::Trace;
use consensus::{Op as LogOp, WriteError};
use engine::{Frame, Txn};
use jepsen::history::{Op, Outcome, F};
use keys::Cf;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Opts {
    pub nodes: u64,
    pub clients: u64,
    pub keys: u64,
    /// Simulated ms of client traffic (with faults when `faults`).
    pub duration_ms: u64,
    pub faults: bool,
    /// Crashes may cut the WAL's unsynced tail.
    pub lose_unsynced: bool,
    /// Reads go through the read index (false: the deliberately broken read path,
    /// reading a node's applied state as it is).
    pub read_index: bool,
    pub snapshot_every: u64,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            nodes: 3,
            clients: 4,
            keys: 3,
            duration_ms: 6_000,
            faults: true,
            lose_unsynced: true,
            read_index: true,
            snapshot_every: 25,
        }
    }
}

#[derive(Debug, Default)]
pub struct RunReport {
    pub hash: u64,
    pub events: u64,
    pub ops: usize,
    pub ok_writes: usize,
    pub faults: usize,
    pub restarts: Vec<String>,
    pub problems: Vec<String>,
    pub trace: Vec<String>,
}

const CLIENT_TTL: Duration = Duration::from_secs(2);
const LIST: &str = "list";

struct Shared {
    cluster: Arc<Cluster>,
    net: Arc<Net>,
    trace: Arc<Trace>,
    history: Mutex<Vec<Op>>,
    restarts: Mutex<Vec<String>>,
    faults: Mutex<usize>,
    opts: Opts,
}

impl Shared {
    fn record(&self, mut op: Op) {
        let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        op.id = h.len() as u64;
        self.trace.event(format!(
            "op {} p{} n{} {:?} {} {:?} {:?} {:?} [{}, {}]",
            op.id,
            op.process,
            op.node,
            op.f,
            op.key,
            op.value,
            op.outcome,
            op.error,
            op.invoke_us,
            op.complete_us
        ));
        h.push(op);
    }
}

/// Runs seed `seed` on a fresh current-thread runtime with paused time.
pub fn run_seed(seed: u64, opts: &Opts) -> RunReport {
    let base = std::env::var_os("SIM_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let shm = std::path::Path::new("/dev/shm");
            if shm.is_dir() {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            }
        });
    let root = tempfile::Builder::new()
        .prefix("meridian-sim-")
        .tempdir_in(base)
        .expect("sim dir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(run(seed, opts.clone(), root.path().to_path_buf()))
}

async fn run(seed: u64, opts: Opts, root: std::path::PathBuf) -> RunReport {
    let trace = Arc::new(Trace::new());
    let net = Net::new(
        StdRng::seed_from_u64(seed),
        trace.clone(),
        root.join("staging"),
    );
    let cluster = Arc::new(Cluster::new(
        &root,
        opts.nodes,
        net.clone(),
        seed,
        opts.snapshot_every,
    ));
    let mut out = RunReport::default();
    for id in cluster.ids.clone() {
        if let Err(e) = cluster.start(id, true).await {
            out.problems.push(format!("node {id} did not start: {e}"));
            return out;
        }
    }
    let sh = Arc::new(Shared {
        cluster: cluster.clone(),
        net: net.clone(),
        trace: trace.clone(),
        history: Mutex::new(Vec::new()),
        restarts: Mutex::new(Vec::new()),
        faults: Mutex::new(0),
        opts: opts.clone(),
    });
    let end_us = trace.now_us() + opts.duration_ms * 1000;
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..opts.clients {
        let sh = sh.clone();
        let rng = StdRng::seed_from_u64(seed.wrapping_mul(1000).wrapping_add(c + 1));
        tasks.spawn(client(sh, c, rng, end_us));
    }
    {
        let sh = sh.clone();
        let rng = StdRng::seed_from_u64(seed ^ 0x00ee_5e5e);
        tasks.spawn(nemesis(sh, rng, end_us));
    }
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r {
            out.problems.push(format!("a task panicked: {e}"));
        }
    }
    settle(&sh, &mut out).await;
    check(&sh, &mut out);
    cluster.stop_all().await;
    let (hash, events) = trace.digest();
    out.hash = hash;
    out.events = events;
    out.faults = *sh.faults.lock().unwrap();
    out.restarts = sh.restarts.lock().unwrap().clone();
    out.trace = trace.take_log();
    out
}

fn argv(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// A write at node `x`: proposed there if it leads, else forwarded once to the leader it
/// knows (over the simulated network), as `Node::write` does.
async fn write(sh: &Shared, x: u64, cmd: Vec<Vec<u8>>) -> Result<Frame, (Outcome, String)> {
    let Some((h, _)) = sh.cluster.get(x) else {
        return Err((Outcome::Fail, "node down".into()));
    };
    let leader = h.raft.metrics().borrow().current_leader;
    let ops = vec![LogOp::Cmd { db: 0, argv: cmd }];
    let res = match leader {
        None => return Err((Outcome::Fail, "no leader".into())),
        Some(l) if l == x => {
            match tokio::time::timeout(CLIENT_TTL, h.proposer.propose(ops)).await {
                Ok(r) => r,
                Err(_) => Err(WriteError::Unknown("client timeout".into())),
            }
        }
        Some(l) => {
            let r = sh
                .net
                .call(x, l, "forward", CLIENT_TTL, move |t| async move {
                    if t.raft.metrics().borrow().current_leader != Some(t.id) {
                        return Err(WriteError::NotApplied("not the leader".into()));
                    }
                    t.proposer.propose(ops).await
                })
                .await;
            match r {
                Ok(r) => r,
                Err(Lost::Down) => Err(WriteError::NotApplied("leader down".into())),
                Err(Lost::Timeout) => Err(WriteError::Unknown("forward timed out".into())),
            }
        }
    };
    match res {
        Ok((_, mut replies)) if replies.len() == 1 => Ok(replies.remove(0)),
        Ok((_, replies)) => Err((Outcome::Info, format!("odd replies {replies:?}"))),
        Err(WriteError::NotApplied(m)) => Err((Outcome::Fail, m)),
        Err(WriteError::Unknown(m)) => Err((Outcome::Info, m)),
    }
}

/// A read at node `x`: with the read index (the leader confirms its lease with a
/// quorum; a follower asks the leader), then waits until `x` applied that index and
/// reads its state machine. Without (`read_index = false`), reads `x` as it is.
async fn read(sh: &Shared, x: u64, cmd: Vec<Vec<u8>>) -> Result<Frame, String> {
    let Some((h, _)) = sh.cluster.get(x) else {
        return Err("node down".into());
    };
    if sh.opts.read_index {
        let deadline = tokio::time::Instant::now() + CLIENT_TTL;
        let leader = h.raft.metrics().borrow().current_leader;
        let index = match leader {
            None => return Err("no leader".into()),
            Some(l) if l == x => {
                match tokio::time::timeout_at(deadline, h.raft.ensure_linearizable()).await {
                    Ok(Ok(l)) => l.map_or(0, |l| l.index),
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => return Err("read index timed out".into()),
                }
            }
            Some(l) => {
                let r = sh
                    .net
                    .call(x, l, "read_index", CLIENT_TTL, |t| async move {
                        t.raft
                            .ensure_linearizable()
                            .await
                            .map(|l| l.map_or(0, |l| l.index))
                            .map_err(|e| e.to_string())
                    })
                    .await;
                match r {
                    Ok(Ok(i)) => i,
                    Ok(Err(e)) => return Err(e),
                    Err(e) => return Err(format!("{e:?}")),
                }
            }
        };
        let mut applied = h.applied.clone();
        let caught_up = matches!(
            tokio::time::timeout_at(deadline, applied.wait_for(|a| *a >= index)).await,
            Ok(Ok(_))
        );
        if !caught_up {
            return Err(format!("node {x} did not apply {index} in time"));
        }
    }
    let Some(st) = sh.cluster.storage(x, h.incarnation) else {
        return Err("node restarted".into());
    };
    let mut t = Txn::new(&*st, 0, 0, 0);
    Ok(t.run(0, &cmd))
}

fn parse_int(f: &Frame) -> Option<i64> {
    match f {
        Frame::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

async fn client(sh: Arc<Shared>, c: u64, mut rng: StdRng, end_us: u64) {
    let mut process = c * 1_000_000;
    let mut n = 0i64;
    let nodes = sh.cluster.ids.clone();
    while sh.trace.now_us() < end_us {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..40))).await;
        let x = nodes[rng.gen_range(0..nodes.len())];
        let key = format!("r{}", rng.gen_range(0..sh.opts.keys));
        let kind = rng.gen_range(0..10);
        n += 1;
        let value = (c as i64 + 1) * 1_000_000 + n;
        let invoke_us = sh.trace.now_us();
        let mut op = Op {
            id: 0,
            process,
            node: x as u32,
            f: F::Write,
            key: key.clone(),
            value: None,
            from: None,
            list: None,
            outcome: Outcome::Ok,
            error: None,
            invoke_us,
            complete_us: 0,
            sess: None,
        };
        if kind < 4 {
            op.value = Some(value);
            let v = value.to_string();
            match write(&sh, x, argv(&["SET", &key, &v])).await {
                Ok(Frame::Simple(_)) => {}
                Ok(other) => {
                    op.outcome = Outcome::Info;
                    op.error = Some(format!("{other:?}"));
                }
                Err((o, e)) => {
                    op.outcome = o;
                    op.error = Some(e);
                }
            }
        } else if kind < 8 {
            op.f = F::Read;
            match read(&sh, x, argv(&["GET", &key])).await {
                Ok(f) => op.value = parse_int(&f),
                Err(e) => {
                    op.outcome = Outcome::Fail;
                    op.error = Some(e);
                }
            }
        } else {
            op.f = F::Append;
            op.key = LIST.into();
            op.value = Some(value);
            let v = value.to_string();
            match write(&sh, x, argv(&["RPUSH", LIST, &v])).await {
                Ok(Frame::Integer(_)) => {}
                Ok(other) => {
                    op.outcome = Outcome::Info;
                    op.error = Some(format!("{other:?}"));
                }
                Err((o, e)) => {
                    op.outcome = o;
                    op.error = Some(e);
                }
            }
        }
        op.complete_us = sh.trace.now_us();
        let info = op.outcome == Outcome::Info;
        sh.record(op);
        if info {
            // The op may still be in flight: later ops are another process's.
            process += 1;
        }
    }
}

/// Restarts every live node whose Raft stopped on its own (a storage error from a
/// failpoint): what a supervisor does with a node process that exits.
async fn watchdog(sh: &Shared) {
    for id in sh.cluster.live_ids() {
        let Some((h, _)) = sh.cluster.get(id) else {
            continue;
        };
        let stopped = h.raft.metrics().borrow().running_state.clone().err();
        if let Some(e) = stopped {
            let why = format!("node {id} raft stopped: {e}");
            sh.trace.event(why.clone());
            sh.restarts.lock().unwrap().push(why);
            drop(h);
            sh.cluster
                .crash(
                    id,
                    Crash {
                        lose_unsynced: false,
                    },
                )
                .await;
            if let Err(e) = sh.cluster.start(id, false).await {
                sh.restarts
                    .lock()
                    .unwrap()
                    .push(format!("PROBLEM node {id} did not restart: {e}"));
            }
        }
    }
}

async fn nemesis(sh: Arc<Shared>, mut rng: StdRng, end_us: u64) {
    let ids = sh.cluster.ids.clone();
    let mut next_fault = sh.trace.now_us() + rng.gen_range(300_000..1_500_000);
    while sh.trace.now_us() < end_us {
        tokio::time::sleep(Duration::from_millis(50)).await;
        watchdog(&sh).await;
        if !sh.opts.faults || sh.trace.now_us() < next_fault {
            continue;
        }
        next_fault = sh.trace.now_us() + rng.gen_range(300_000..1_500_000);
        *sh.faults.lock().unwrap() += 1;
        match rng.gen_range(0..9) {
            0 | 1 => {
                let mut side: Vec<u64> =
                    ids.iter().copied().filter(|_| rng.gen_bool(0.5)).collect();
                if side.is_empty() || side.len() == ids.len() {
                    side = vec![ids[rng.gen_range(0..ids.len())]];
                }
                sh.net.heal();
                sh.net.partition(&side, &ids);
            }
            2 => sh.net.heal(),
            3 => sh.net.set_weather(Weather {
                drop_per_mille: rng.gen_range(50..300),
                delay: (1, 10),
                slow_per_mille: 50,
                slow: (20, 120),
            }),
            4 => sh.net.set_weather(Weather::calm()),
            5 => sh.net.set_weather(Weather {
                drop_per_mille: 0,
                delay: (2, 30),
                slow_per_mille: 200,
                slow: (40, 250),
            }),
            _ => {
                let live = sh.cluster.live_ids();
                if live.len() < ids.len() {
                    continue;
                }
                let id = live[rng.gen_range(0..live.len())];
                let lose = sh.opts.lose_unsynced && rng.gen_bool(0.5);
                sh.cluster
                    .crash(
                        id,
                        Crash {
                            lose_unsynced: lose,
                        },
                    )
                    .await;
                tokio::time::sleep(Duration::from_millis(rng.gen_range(50..2_000))).await;
                if let Err(e) = sh.cluster.start(id, false).await {
                    sh.restarts
                        .lock()
                        .unwrap()
                        .push(format!("PROBLEM node {id} did not restart: {e}"));
                }
            }
        }
    }
}

/// Heals everything, restarts what is down, and waits until one barrier write is
/// applied on every node; then reads every register through the read index on every
/// node (recorded in the history, so the final values are checked too).
async fn settle(sh: &Shared, out: &mut RunReport) {
    sh.net.heal();
    sh.net.set_weather(Weather::calm());
    for id in sh.cluster.ids.clone() {
        if !sh.cluster.is_live(id) {
            if let Err(e) = sh.cluster.start(id, false).await {
                out.problems.push(format!("node {id} did not restart: {e}"));
                return;
            }
        }
    }
    let deadline = sh.trace.now_us() + 60_000_000;
    let mut settled = false;
    while sh.trace.now_us() < deadline {
        watchdog(sh).await;
        let leader = sh.cluster.ids.iter().find_map(|&id| {
            let (h, _) = sh.cluster.get(id)?;
            let l = h.raft.metrics().borrow().current_leader;
            (l == Some(id)).then_some(h)
        });
        if let Some(h) = leader {
            let ops = vec![LogOp::Cmd {
                db: 0,
                argv: argv(&["SET", "barrier", "1"]),
            }];
            let r = tokio::time::timeout(CLIENT_TTL, h.proposer.propose(ops)).await;
            for id in sh.cluster.ids.clone() {
                if let Some((n, _)) = sh.cluster.get(id) {
                    let m = n.raft.metrics().borrow().clone();
                    sh.trace.event(format!(
                        "node {id}: {:?} term {} leader {:?} last log {:?} applied {:?} snapshot {:?} purged {:?} running {:?}",
                        m.state, m.current_term, m.current_leader, m.last_log_index,
                        m.last_applied.map(|l| l.index), m.snapshot.map(|l| l.index),
                        m.purged.map(|l| l.index), m.running_state
                    ));
                }
            }
            sh.trace.event(format!(
                "barrier at leader {}: {:?}",
                h.id,
                r.as_ref().map(|r| r.as_ref().map(|(i, _)| *i))
            ));
            if let Ok(Ok((index, _))) = r {
                let mut all = true;
                for id in sh.cluster.ids.clone() {
                    let Some((n, _)) = sh.cluster.get(id) else {
                        all = false;
                        break;
                    };
                    let mut a = n.applied.clone();
                    let w =
                        tokio::time::timeout(Duration::from_secs(20), a.wait_for(|a| *a >= index));
                    if !matches!(w.await, Ok(Ok(_))) {
                        all = false;
                        break;
                    }
                }
                if all {
                    sh.trace.event(format!("settled at index {index}"));
                    settled = true;
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !settled {
        out.problems.push(
            "the healed cluster did not apply a barrier write on every node within 60 s".into(),
        );
        return;
    }
    for id in sh.cluster.ids.clone() {
        for k in 0..sh.opts.keys {
            let key = format!("r{k}");
            let invoke_us = sh.trace.now_us();
            // A healed cluster may still hold an election: a read refused for that is
            // tried again (a failed read has no effect on the history).
            let mut r = read(sh, id, argv(&["GET", &key])).await;
            for _ in 0..20 {
                if r.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                r = read(sh, id, argv(&["GET", &key])).await;
            }
            let (outcome, value, error) = match r {
                Ok(f) => (Outcome::Ok, parse_int(&f), None),
                Err(e) => (Outcome::Fail, None, Some(e)),
            };
            if outcome != Outcome::Ok {
                out.problems.push(format!(
                    "final read of {key} on node {id} failed: {error:?}"
                ));
            }
            sh.record(Op {
                id: 0,
                process: 999_000_000 + id,
                node: id as u32,
                f: F::Read,
                key,
                value,
                from: None,
                list: None,
                outcome,
                error,
                invoke_us,
                complete_us: sh.trace.now_us(),
                sess: None,
            });
        }
    }
}

type Dump = Vec<(u8, Vec<u8>, Vec<u8>)>;

fn dump(st: &storage::Storage) -> Dump {
    use engine::Store;
    let mut out = Vec::new();
    for (i, cf) in [Cf::Meta, Cf::Data, Cf::Expire, Cf::Sm]
        .into_iter()
        .enumerate()
    {
        st.scan(cf, &[], &[0xff; 64], &mut |k, v| {
            out.push((i as u8, k.to_vec(), v.to_vec()));
            true
        })
        .expect("scan");
    }
    out
}

fn check(sh: &Shared, out: &mut RunReport) {
    for r in sh.restarts.lock().unwrap().iter() {
        if r.starts_with("PROBLEM") {
            out.problems.push(r.clone());
        }
    }
    if !out.problems.is_empty() {
        return;
    }
    let history = sh.history.lock().unwrap().clone();
    out.ops = history.len();
    out.ok_writes = history
        .iter()
        .filter(|o| o.f != F::Read && o.outcome == Outcome::Ok)
        .count();
    // Linearizability of every register (final reads included).
    let report = jepsen::checker::linear::check(&history, 2_000_000);
    for (key, r) in &report.anomalies {
        out.problems
            .push(format!("register {key} is not linearizable: {r:?}"));
    }
    for key in &report.unknown {
        out.problems.push(format!(
            "register {key}: linearizability search budget exhausted"
        ));
    }
    // Convergence: every node's state, byte for byte.
    let mut dumps = Vec::new();
    for id in sh.cluster.ids.clone() {
        if let Some((_, st)) = sh.cluster.get(id) {
            dumps.push((id, dump(&st), list_of(&st)));
        }
    }
    for (id, d, _) in &dumps[1..] {
        if d != &dumps[0].1 {
            let a: BTreeSet<_> = dumps[0].1.iter().collect();
            let b: BTreeSet<_> = d.iter().collect();
            let diff: Vec<_> = a.symmetric_difference(&b).take(4).collect();
            out.problems.push(format!(
                "node {id}'s state differs from node {}'s: {} vs {} records, e.g. {diff:?}",
                dumps[0].0,
                d.len(),
                dumps[0].1.len()
            ));
        }
    }
    // No acknowledged append lost, none applied twice, nothing never written.
    let list = &dumps[0].2;
    let acked: Vec<i64> = history
        .iter()
        .filter(|o| o.f == F::Append && o.outcome == Outcome::Ok)
        .filter_map(|o| o.value)
        .collect();
    let tried: BTreeSet<i64> = history
        .iter()
        .filter(|o| o.f == F::Append && o.outcome != Outcome::Fail)
        .filter_map(|o| o.value)
        .collect();
    let present: BTreeSet<i64> = list.iter().copied().collect();
    let lost: Vec<_> = acked.iter().filter(|v| !present.contains(v)).collect();
    if !lost.is_empty() {
        out.problems
            .push(format!("acknowledged appends lost: {lost:?}"));
    }
    if present.len() != list.len() {
        out.problems.push("an append was applied twice".into());
    }
    let phantom: Vec<_> = present.iter().filter(|v| !tried.contains(v)).collect();
    if !phantom.is_empty() {
        out.problems.push(format!(
            "appends in the list that no client sent or that failed: {phantom:?}"
        ));
    }
}

fn list_of(st: &storage::Storage) -> Vec<i64> {
    let mut t = Txn::new(st, 0, 0, 0);
    match t.run(0, &argv(&["LRANGE", LIST, "0", "-1"])) {
        Frame::Array(items) => items.iter().filter_map(parse_int).collect(),
        _ => Vec::new(),
    }
}
