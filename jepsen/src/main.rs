//! `jepsen`: run a scenario against real `meridian` processes, re-check a history, or run
//! the fault-injecting proxy on its own (see `jepsen/README.md`).

use clap::{Parser, Subcommand};
use jepsen::checker::{linear, list, ryw};
use jepsen::history::History;
use jepsen::nemesis::Scenario;
use jepsen::proxy::Net;
use jepsen::report;
use jepsen::run::{self, RunOpts};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "jepsen", about = "Meridian's chaos and consistency suite")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario: 3 voters behind the proxy, register + list-append clients, faults,
    /// then heal, final reads, checks and a report in the run directory.
    Run {
        /// none, partition-leader, one-way, pause-leader, kill-leader, stale-read,
        /// slow-net, random, smoke (`jepsen scenarios` lists them)
        #[arg(long, default_value = "partition-leader")]
        scenario: String,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Seeds the fault schedule and the clients' choices [default: from the clock]
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, default_value_t = 3)]
        nodes: u32,
        #[arg(long, default_value_t = 5)]
        register_clients: u32,
        #[arg(long, default_value_t = 5)]
        list_clients: u32,
        /// strong (CLIENT CONSISTENCY strong) or eventual (each node's local state)
        #[arg(long, default_value = "strong")]
        reads: String,
        /// Run directory [default: jepsen/runs/<scenario>-<seed>-<unix time>]
        #[arg(long)]
        out: Option<PathBuf>,
        /// The meridian binary [default: MERIDIAN_BIN, target/release/meridian]
        #[arg(long)]
        bin: Option<PathBuf>,
        /// Clients connect to the nodes directly rather than through the proxy
        #[arg(long)]
        no_client_proxy: bool,
        /// Keep the nodes' data directories in the run directory
        #[arg(long)]
        keep_data: bool,
        /// Per-operation timeout in ms (then the op is `info`)
        #[arg(long, default_value_t = 5000)]
        op_timeout_ms: u64,
        /// Passed to every node, e.g. 150-300
        #[arg(long)]
        election_timeout: Option<String>,
        /// Register operations per key before it is retired (bounds the checker's search)
        #[arg(long, default_value_t = 120)]
        ops_per_key: usize,
        /// Read replicas started with the cluster, by region (comma-separated, e.g. eu,ap)
        #[arg(long, default_value = "")]
        replicas: String,
        /// Read-your-writes sessions (INCR/GET carrying sync tokens across nodes and
        /// connections; odd ones over REST)
        #[arg(long, default_value_t = 4)]
        ryw_sessions: u32,
        /// TTL clients (SET PX, then EXISTS around the deadline)
        #[arg(long, default_value_t = 0)]
        ttl_clients: u32,
        /// How far from its deadline (moved by the clock offsets set) a TTL key may go
        #[arg(long, default_value_t = 500)]
        ttl_bound_ms: u64,
        /// One more option for every node, e.g. --node-arg=--snapshot-every --node-arg=200
        #[arg(long = "node-arg", allow_hyphen_values = true)]
        node_args: Vec<String>,
    },
    /// Re-check a run directory's history.jsonl (and finals.json for lists).
    Check {
        run_dir: PathBuf,
        /// How far from its deadline (moved by the recorded clock offsets) a TTL key may go
        #[arg(long, default_value_t = 500)]
        ttl_bound_ms: u64,
        /// The history's reads were not linearizable (skip the stale-read check)
        #[arg(long)]
        eventual: bool,
    },
    /// List the named scenarios.
    Scenarios,
    /// Per-region latency benchmark: nodes in simulated regions, links delayed by half
    /// the regions' RTT, clients on local nodes (see docs/benchmarks.md).
    Regions {
        /// PRIMARY:VOTERS,REGION:REPLICAS,... (first = primary region)
        #[arg(long, default_value = jepsen::regions::DEFAULT_LAYOUT)]
        layout: String,
        /// RTT table (JSON, ms) [default: ../shared/reference/region-rtt-p50-ms.json]
        #[arg(long)]
        rtt: Option<PathBuf>,
        /// Measured seconds (after the warm-up)
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 3)]
        warmup: u64,
        #[arg(long, default_value_t = 2)]
        clients_per_node: u32,
        /// Share of writes, percent
        #[arg(long, default_value_t = 20)]
        write_pct: u32,
        #[arg(long, default_value_t = 1000)]
        keys: u32,
        /// Pause between a client's operations, ms
        #[arg(long, default_value_t = 5)]
        think_ms: u64,
        /// Jitter as a fraction of each one-way delay
        #[arg(long, default_value_t = 0.1)]
        jitter: f64,
        /// Output directory [default: jepsen/runs/regions-<unix time>]
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        bin: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Raft heartbeat for every node, ms [default: 1.5x the largest RTT, at least 50:
        /// openraft 0.9 times AppendEntries out after one heartbeat]
        #[arg(long)]
        heartbeat: Option<u64>,
        /// Election timeout range for every node, e.g. 1400-2800 [default: 4-8 heartbeats]
        #[arg(long)]
        election_timeout: Option<String>,
    },
    /// Run the proxy alone: links FROM:TO:LISTEN:TARGET, controlled on --control.
    Proxy {
        /// e.g. 1:2:127.0.0.1:17102:127.0.0.1:7102 (bytes from 1 to 2 on this link)
        #[arg(long = "link", required = true)]
        links: Vec<String>,
        #[arg(long, default_value = "127.0.0.1:7999")]
        control: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new()?;
    match cli.cmd {
        Cmd::Scenarios => {
            for (_, name, what) in Scenario::ALL {
                println!("{name:<18} {what}");
            }
            Ok(())
        }
        Cmd::Regions {
            layout,
            rtt,
            seconds,
            warmup,
            clients_per_node,
            write_pct,
            keys,
            think_ms,
            jitter,
            out,
            bin,
            seed,
            heartbeat,
            election_timeout,
        } => {
            let election_timeout = match election_timeout {
                None => None,
                Some(e) => {
                    let (a, b) = e
                        .split_once('-')
                        .ok_or_else(|| anyhow::anyhow!("--election-timeout MIN-MAX"))?;
                    Some((a.parse()?, b.parse()?))
                }
            };
            let layout = jepsen::regions::Layout::parse(&layout)?;
            let (rtt, from) = jepsen::regions::load_rtt(rtt.as_deref())?;
            eprintln!("regions: RTT table {}", from.display());
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            let dir = out.unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("runs")
                    .join(format!("regions-{now}"))
            });
            let bin = match bin {
                Some(b) => b,
                None => jepsen::cluster::binary()?,
            };
            rt.block_on(jepsen::regions::run(jepsen::regions::BenchOpts {
                layout,
                rtt,
                seconds,
                warmup,
                clients_per_node,
                write_pct,
                keys,
                think_ms,
                jitter,
                dir,
                bin,
                seed,
                heartbeat,
                election_timeout,
            }))?;
            Ok(())
        }
        Cmd::Check {
            run_dir,
            eventual,
            ttl_bound_ms,
        } => {
            let h = History::read_jsonl(&run_dir.join("history.jsonl"))?;
            let finals: BTreeMap<String, Vec<i64>> =
                std::fs::read_to_string(run_dir.join("finals.json"))
                    .ok()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default();
            let lin = linear::check(&linear::checkable(&h.ops, !eventual), 2_000_000);
            let lst = list::check(&h.ops, &finals, !eventual);
            let counters: BTreeMap<String, i64> =
                std::fs::read_to_string(run_dir.join("counters.json"))
                    .ok()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default();
            let clocks: jepsen::checker::ttl::Clocks =
                std::fs::read_to_string(run_dir.join("clocks.json"))
                    .ok()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default();
            let mut s = report::summarize(&h, Some(&lin), Some(&lst), None);
            report::add_ryw(&mut s, &ryw::check(&h.ops, &counters));
            report::add_ttl(
                &mut s,
                &jepsen::checker::ttl::check_with_clocks(&h.ops, ttl_bound_ms, &clocks),
                ttl_bound_ms,
            );
            report::add_elle(
                &mut s,
                &jepsen::checker::elle::check(
                    &jepsen::checker::elle::from_ops(&h.ops),
                    &finals,
                    !eventual,
                ),
            );
            s.strong_reads = !eventual;
            s.scenario = format!("(re-check of {})", run_dir.display());
            print!("{}", report::table(&s));
            if !s.anomalies.is_empty() {
                std::process::exit(1);
            }
            Ok(())
        }
        Cmd::Proxy { links, control } => rt.block_on(async move {
            let net = Net::new();
            for l in &links {
                let p: Vec<&str> = l.splitn(3, ':').collect();
                let (Some(a), Some(b), Some(rest)) = (p.first(), p.get(1), p.get(2)) else {
                    anyhow::bail!("--link FROM:TO:LISTEN:TARGET, got {l}");
                };
                // LISTEN and TARGET are host:port each: split at the second colon.
                let idx = rest
                    .match_indices(':')
                    .nth(1)
                    .map(|(i, _)| i)
                    .ok_or_else(|| anyhow::anyhow!("--link FROM:TO:LISTEN:TARGET, got {l}"))?;
                let (listen, target) = (&rest[..idx], &rest[idx + 1..]);
                let at = net
                    .add_link(a.parse()?, b.parse()?, listen.parse()?, target.parse()?)
                    .await?;
                eprintln!("link {a}->{b}: {at} -> {target}");
            }
            let l = tokio::net::TcpListener::bind(&control).await?;
            eprintln!(
                "control on {control} (status, delay, bandwidth, cut, partition, refuse, heal)"
            );
            jepsen::control::serve(net, l).await;
            Ok(())
        }),
        Cmd::Run {
            scenario,
            seconds,
            seed,
            nodes,
            register_clients,
            list_clients,
            reads,
            out,
            bin,
            no_client_proxy,
            keep_data,
            op_timeout_ms,
            election_timeout,
            ops_per_key,
            replicas,
            ryw_sessions,
            ttl_clients,
            ttl_bound_ms,
            node_args,
        } => {
            let sc = Scenario::parse(&scenario).ok_or_else(|| {
                anyhow::anyhow!("unknown scenario {scenario}; see `jepsen scenarios`")
            })?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            let seed = seed.unwrap_or(now % 1_000_000);
            let dir = out.unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("runs")
                    .join(format!("{scenario}-{seed}-{now}"))
            });
            let bin = match bin {
                Some(b) => b,
                None => jepsen::cluster::binary()?,
            };
            let mut o = RunOpts::new(sc, seconds, seed, dir, bin);
            o.nodes = nodes;
            o.register_clients = register_clients;
            o.list_clients = list_clients;
            o.strong = match reads.as_str() {
                "strong" => true,
                "eventual" => false,
                x => anyhow::bail!("--reads strong|eventual, got {x}"),
            };
            o.client_proxy = !no_client_proxy;
            o.keep_data = keep_data;
            o.op_timeout = Duration::from_millis(op_timeout_ms);
            o.election_timeout = election_timeout;
            o.ops_per_key = ops_per_key;
            o.replicas = replicas
                .split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect();
            o.ryw_sessions = ryw_sessions;
            o.ttl_clients = ttl_clients;
            o.ttl_bound_ms = ttl_bound_ms;
            o.extra_args = node_args;
            let r = rt.block_on(run::run(o))?;
            if !r.summary.anomalies.is_empty() || !r.summary.errors.is_empty() {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
