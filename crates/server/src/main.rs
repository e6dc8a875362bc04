//! `meridian`: the node binary.

mod acl_cmds;
mod admin_cmds;
mod backup;
mod backup_remote;
mod clients;
mod command_cmds;
mod config;
mod conn;
mod dispatch;
mod latency;
mod metrics;
mod password;
mod pubsub;
mod quota_flags;
mod reads;
mod rest;
mod server_cmds;
mod session;
mod shared;
mod slowlog;
mod tracking;
mod transfer;

use clap::Parser;
use config::{Cli, Command, Config};
use std::sync::Arc;
use std::time::Instant;

/// mimalloc rather than glibc malloc: the write path allocates per command (parsed
/// arguments, log entries, replies) from several threads, and glibc's arenas showed up as
/// ~14 % of a c50 SET profile (docs/benchmarks.md has the before/after figures).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    let args = match cli.cmd {
        Command::Server(args) => args,
        Command::Cluster(c) => std::process::exit(cluster_cli(c)),
        Command::Import(a) => std::process::exit(transfer::import(a)),
        Command::Export(a) => std::process::exit(transfer::export(a)),
        Command::Backup(b) => std::process::exit(backup::cli(b)),
    };
    let cfg = match Config::resolve(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("meridian: {e}");
            std::process::exit(2);
        }
    };
    init_logging(&cfg.log_level, &cfg.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(cfg)) {
        eprintln!("meridian: {e:#}");
        std::process::exit(1);
    }
}

/// `meridian cluster ...`: one admin RPC, printed for people.
fn cluster_cli(c: config::ClusterArgs) -> i32 {
    use config::ClusterAction;
    let req = match c.action {
        ClusterAction::Status => consensus::AdminRequest::Status,
        ClusterAction::AddReplica { id, replica_addr } => consensus::AdminRequest::AddLearner {
            id,
            addr: replica_addr,
        },
        ClusterAction::RemoveNode { id } => consensus::AdminRequest::RemoveNode { id },
        ClusterAction::Promote { id } => consensus::AdminRequest::Promote { id },
        ClusterAction::TransferLeader { id } => consensus::AdminRequest::TransferLeader { id },
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meridian: {e}");
            return 1;
        }
    };
    match rt.block_on(consensus::admin_call(
        &c.addr,
        c.password.as_deref().unwrap_or(""),
        &req,
    )) {
        Ok(st) => {
            println!(
                "leader: {}",
                st.leader.map_or("none".to_string(), |l| l.to_string())
            );
            println!(
                "term: {}\nlast_log_index: {}\napplied (answering node): {}",
                st.term, st.last_log_index, st.applied
            );
            println!("members:");
            for m in st.members {
                println!(
                    "  {} {} {} matched={}",
                    m.id,
                    m.addr,
                    if m.voter { "voter" } else { "replica" },
                    m.matched.map_or("-".to_string(), |v| v.to_string())
                );
            }
            0
        }
        Err(e) => {
            eprintln!("meridian cluster: {e}");
            1
        }
    }
}

fn init_logging(level: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},openraft=warn")));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        fmt.json().init();
    } else {
        fmt.init();
    }
}

async fn run(cfg: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&cfg.data_dir)?;
    let password = if cfg.no_auth {
        None
    } else {
        Some(password::resolve(&cfg)?)
    };
    let addr = format!(
        "{}:{}",
        cfg.bind.split_whitespace().next().unwrap_or("127.0.0.1"),
        cfg.port
    );
    // Bind before starting Raft so a port conflict fails fast.
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let rest_addr = format!("{}:{}", local.ip(), cfg.rest_port);
    let rest_listener = tokio::net::TcpListener::bind(&rest_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {rest_addr} (REST): {e}"))?;
    let rest_local = rest_listener.local_addr()?;
    let mut ncfg = consensus::NodeConfig::single(cfg.data_dir.clone());
    ncfg.id = cfg.node_id;
    ncfg.cache_bytes = cfg.cache_mb << 20;
    ncfg.tier_bytes = cfg.tier_mb << 20;
    ncfg.snapshot_every = cfg.snapshot_every;
    ncfg.log_archive = cfg.log_archive.then(|| backup::archive_dir(&cfg));
    backup::open_remote(&cfg).map_err(|e| anyhow::anyhow!(e))?;
    ncfg.initial_cluster = cfg.initial_cluster.clone();
    ncfg.replica = cfg.replica;
    ncfg.join = cfg.join.clone();
    ncfg.region = cfg.region.clone();
    ncfg.password = password.clone();
    ncfg.election_timeout_ms = cfg.election_timeout_ms;
    ncfg.heartbeat_ms = cfg.heartbeat_ms;
    match cfg.cluster_port {
        Some(cp) => {
            let listen: std::net::SocketAddr = format!("{}:{cp}", local.ip()).parse()?;
            ncfg.cluster_listen = Some(listen);
            ncfg.advertise = cfg.advertise.clone().unwrap_or_else(|| listen.to_string());
        }
        None => ncfg.advertise = local.to_string(),
    }
    let broker = Arc::new(pubsub::Broker::default());
    let node = consensus::Node::start_with_events(ncfg, Some(broker.clone())).await?;
    reads::set_memory_budget(&node, cfg.memory_mb, cfg.tier_mb);
    quota_flags::apply(&node, cfg.max_data_size, cfg.eviction).await;
    let shared = Arc::new(shared::Shared::new(
        node,
        broker,
        cfg.clone(),
        password.clone(),
        local,
    ));
    print_banner(&cfg, local, rest_local, password.as_deref(), started);
    tracing::info!(
        "ready in {} ms: applied index {}",
        started.elapsed().as_millis(),
        shared.node.applied_index()
    );
    tokio::spawn(backup::daily_loop(Arc::downgrade(&shared)));
    tokio::spawn(backup::ship_loop(Arc::downgrade(&shared)));
    let accept = tokio::spawn(conn::accept_loop(shared.clone(), listener));
    let rest_accept = tokio::spawn(rest::accept_loop(shared.clone(), rest_listener));
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm() => {}
        r = accept => { r??; }
        r = rest_accept => { r??; }
    }
    tracing::info!("shutting down");
    shared.node.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn sigterm() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

fn print_banner(
    cfg: &Config,
    local: std::net::SocketAddr,
    rest: std::net::SocketAddr,
    password: Option<&str>,
    started: Instant,
) {
    let host = local.ip();
    let port = local.port();
    let mut b = String::new();
    b.push_str("\n  Meridian ");
    b.push_str(env!("CARGO_PKG_VERSION"));
    let role = match cfg.cluster_port {
        None => "single-node Raft group".to_string(),
        Some(cp) if cfg.replica => {
            format!(
                "read replica (Raft learner) node {}, cluster port {cp}",
                cfg.node_id
            )
        }
        Some(cp) => format!("cluster node {}, cluster port {cp}", cfg.node_id),
    };
    b.push_str(&format!(
        " — {role}, data in {}\n\n",
        cfg.data_dir.display()
    ));
    match password {
        Some(pw) => {
            b.push_str(&format!("  RESP      {host}:{port}\n"));
            b.push_str(&format!("  password  {pw}\n\n"));
            b.push_str(&format!("  redis-cli -h {host} -p {port} -a {pw}\n"));
            b.push_str(&format!("  REDIS_URL=redis://:{pw}@{host}:{port}\n\n"));
            let t = rest::Tokens::derive(pw);
            b.push_str(&format!("  REST      http://{rest}  (Upstash protocol)\n"));
            b.push_str(&format!("  export UPSTASH_REDIS_REST_URL=http://{rest}\n"));
            b.push_str(&format!(
                "  export UPSTASH_REDIS_REST_TOKEN={}\n",
                t.standard
            ));
            b.push_str(&format!(
                "  read-only token (read commands only): {}\n",
                t.read_only
            ));
        }
        None => {
            b.push_str("  !!! WARNING: authentication is OFF (--no-auth). Anyone who can connect can read and\n");
            b.push_str("  !!! write everything. Use only for local development and tests.\n\n");
            b.push_str(&format!("  RESP      {host}:{port}\n\n"));
            b.push_str(&format!("  redis-cli -h {host} -p {port}\n"));
            b.push_str(&format!("  REDIS_URL=redis://{host}:{port}\n\n"));
            b.push_str(&format!(
                "  REST      http://{rest}  (Upstash protocol; no token needed: auth is off)\n"
            ));
            b.push_str(&format!("  export UPSTASH_REDIS_REST_URL=http://{rest}\n"));
            b.push_str(
                "  export UPSTASH_REDIS_REST_TOKEN=any-value  # not checked with --no-auth\n",
            );
        }
    }
    b.push_str(&format!(
        "\n  ready in {} ms\n",
        started.elapsed().as_millis()
    ));
    println!("{b}");
}
