//! `meridian`: the node binary.

mod acl_cmds;
mod admin_cmds;
mod backup;
mod backup_remote;
mod certs;
mod clients;
mod command_cmds;
mod config;
mod conn;
mod console;
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
        Command::ResetPassword(a) => std::process::exit(backup::reset_password_cli(a)),
        Command::Certs(c) => std::process::exit(certs::cli(c)),
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
        .worker_threads(cfg.io_threads)
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
    let mut ae = None;
    let req = match c.action {
        ClusterAction::AntiEntropy { now: _, scrub } => {
            ae = Some(consensus::AeRequest::RunNow { scrub });
            consensus::AdminRequest::Status
        }
        ClusterAction::PromoteRegion { name, force } => {
            ae = Some(consensus::AeRequest::PromoteRegion {
                region: name,
                force,
            });
            consensus::AdminRequest::Status
        }
        ClusterAction::Status => consensus::AdminRequest::Status,
        ClusterAction::AddReplica { id, replica_addr } => consensus::AdminRequest::AddLearner {
            id,
            addr: replica_addr,
        },
        ClusterAction::RemoveNode { id } => consensus::AdminRequest::RemoveNode { id },
        ClusterAction::Promote { id } => consensus::AdminRequest::Promote { id },
        ClusterAction::TransferLeader { id } => consensus::AdminRequest::TransferLeader { id },
        ClusterAction::AddRegion { name } => consensus::AdminRequest::AddRegion { name },
        ClusterAction::RemoveRegion { name } => consensus::AdminRequest::RemoveRegion { name },
    };
    if let Some(ca) = &c.tls_ca_cert_file {
        let identity = match (&c.tls_cert_file, &c.tls_key_file) {
            (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
            _ => None,
        };
        if let Err(e) = consensus::tls::init_client(ca, identity) {
            eprintln!("meridian cluster: {e}");
            return 2;
        }
    }
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
    if let Some(req) = ae {
        let pw = c.password.clone().unwrap_or_default();
        return match rt.block_on(consensus::ae_call(&c.addr, &pw, &req)) {
            Ok(consensus::AeReply::Report(r)) => {
                print!("{}", ae_text(&r));
                i32::from(r.members.iter().any(|m| m.error.is_some()))
            }
            Ok(consensus::AeReply::Promoted(text)) => {
                println!("{text}");
                0
            }
            Ok(other) => {
                eprintln!("meridian cluster: unexpected reply {other:?}");
                1
            }
            Err(e) => {
                eprintln!("meridian cluster: {e}");
                1
            }
        };
    }
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
            print!("{}", status_text(&st));
            0
        }
        Err(e) => {
            eprintln!("meridian cluster: {e}");
            1
        }
    }
}

/// `meridian cluster anti-entropy`: what the round did per member.
fn ae_text(r: &consensus::AeReport) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "anti-entropy round on leader {} at applied index {}",
        r.leader, r.applied
    );
    for m in &r.members {
        let _ = write!(
            o,
            "  node {}: compared={} in_flux={} differing={} repaired={} scrub_fixed={}",
            m.id, m.compared, m.in_flux, m.differing, m.repaired, m.scrub_fixed
        );
        if let Some(e) = &m.error {
            let _ = write!(o, " error={e}");
        }
        o.push('\n');
    }
    o
}

/// `meridian cluster status`: the members, then one line per region. Lags and contacts
/// are the leader's view ("-" when the answering node is not the leader).
fn status_text(st: &consensus::ClusterStatus) -> String {
    use std::fmt::Write;
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let mut o = String::new();
    let _ = writeln!(o, "members:");
    for m in &st.members {
        let row = st.member_region(m.id);
        let region = st.region_of(m.id);
        let _ = writeln!(
            o,
            "  {} {} {} region={} matched={} lag={} lag_ms={} last_contact_ms={}",
            m.id,
            m.addr,
            if m.voter { "voter" } else { "replica" },
            if region.is_empty() { "-" } else { region },
            m.matched.map_or("-".to_string(), |v| v.to_string()),
            opt(row.and_then(|r| r.lag_entries)),
            opt(row.and_then(|r| r.lag_ms)),
            opt(row.and_then(|r| r.last_contact_ms)),
        );
    }
    let _ = writeln!(o, "regions:");
    for r in st.region_summary() {
        let _ = writeln!(
            o,
            "  {} {} members={} voting={} lag={} lag_ms={} last_contact_ms={}",
            if r.name.is_empty() { "-" } else { &r.name },
            if r.primary { "primary" } else { "read" },
            r.members
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(","),
            r.voters,
            opt(r.lag_entries),
            opt(r.lag_ms),
            opt(r.last_contact_ms),
        );
    }
    o
}

fn init_logging(level: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},openraft=warn")));
    // Spans (the write path's, at TRACE) log their duration when they close, if enabled.
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
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
    let (password, origin) = if cfg.no_auth {
        (None, None)
    } else {
        let (pw, origin) = password::resolve(&cfg)?;
        (Some(pw), Some(origin))
    };
    if let Some(t) = &cfg.tls {
        consensus::tls::init(t.clone()).map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
    }
    let host = cfg.bind.split_whitespace().next().unwrap_or("127.0.0.1");
    // Bind before starting Raft so a port conflict fails fast. `--port 0` with
    // `--tls-port`: no plaintext RESP listener.
    let listener = match cfg.port {
        0 => None,
        port => {
            let addr = format!("{host}:{port}");
            Some(
                tokio::net::TcpListener::bind(&addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?,
            )
        }
    };
    let tls_listener = match cfg.tls_port {
        None => None,
        Some(port) => {
            let addr = format!("{host}:{port}");
            Some(
                tokio::net::TcpListener::bind(&addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (TLS): {e}"))?,
            )
        }
    };
    let local = match (&listener, &tls_listener) {
        (Some(l), _) | (None, Some(l)) => l.local_addr()?,
        (None, None) => anyhow::bail!("no RESP port to serve"),
    };
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
    ncfg.auto_promote_after = cfg.auto_promote_after;
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
    print_banner(
        &cfg,
        local,
        rest_local,
        password.as_deref().zip(origin),
        started,
    );
    tracing::info!(
        "ready in {} ms: applied index {}",
        started.elapsed().as_millis(),
        shared.node.applied_index()
    );
    tokio::spawn(backup::daily_loop(Arc::downgrade(&shared)));
    tokio::spawn(backup::ship_loop(Arc::downgrade(&shared)));
    let accept = match listener {
        Some(l) => tokio::spawn(conn::accept_loop(shared.clone(), l, false)),
        None => tokio::spawn(std::future::pending()),
    };
    let tls_accept = match tls_listener {
        Some(l) => tokio::spawn(conn::accept_loop(shared.clone(), l, true)),
        None => tokio::spawn(std::future::pending()),
    };
    let rest_accept = tokio::spawn(rest::accept_loop(
        shared.clone(),
        rest_listener,
        cfg.tls_rest,
    ));
    if cfg.tls.is_some() {
        tokio::spawn(reload_on_sighup());
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm() => {}
        r = accept => { r??; }
        r = tls_accept => { r??; }
        r = rest_accept => { r??; }
    }
    tracing::info!("shutting down");
    shared.node.shutdown().await;
    Ok(())
}

/// SIGHUP re-reads the TLS certificate, key and CA files (new connections use them).
async fn reload_on_sighup() {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match consensus::tls::reload() {
            Ok(()) => tracing::info!("TLS certificates reloaded (SIGHUP)"),
            Err(e) => tracing::error!("TLS reload failed, keeping the previous certificates: {e}"),
        }
    }
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
    password: Option<(&str, password::Origin)>,
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
    let web = if cfg.tls_rest { "https" } else { "http" };
    // With plaintext RESP off, `local` is the TLS listener: show how to reach it.
    let (cli, url) = if cfg.port == 0 {
        (" --tls --cacert CA", "rediss")
    } else {
        ("", "redis")
    };
    if let Some(tp) = cfg.tls_port {
        b.push_str(&format!(
            "  RESP/TLS  {host}:{tp}  (redis-cli --tls --cacert CA -p {tp}; rediss://)\n"
        ));
        if cfg.port == 0 {
            b.push_str("  plaintext RESP is off (--port 0)\n");
        }
    }
    match password {
        Some((_, origin)) if origin != password::Origin::Generated => {
            // Secrets that were configured or stored earlier are not printed: stdout
            // often ends up in shared logs (containers, journald).
            if cfg.port != 0 {
                b.push_str(&format!("  RESP      {host}:{port}\n"));
            }
            let from = match origin {
                password::Origin::Configured => {
                    "as configured (--password / MERIDIAN_PASSWORD)".to_string()
                }
                _ => format!("in {}", cfg.data_dir.join("password").display()),
            };
            b.push_str(&format!("  password  {from}; not printed\n\n"));
            b.push_str(&format!(
                "  redis-cli{cli} -h {host} -p {port} -a \"$PASSWORD\"\n"
            ));
            b.push_str(&format!("  REDIS_URL={url}://:$PASSWORD@{host}:{port}\n\n"));
            b.push_str(&format!("  REST      {web}://{rest}  (Upstash protocol)\n"));
            b.push_str(&format!("  export UPSTASH_REDIS_REST_URL={web}://{rest}\n"));
            b.push_str("  REST token: ACL RESTTOKEN default \"$PASSWORD\"; a read-only one: ACL RESTTOKEN\n");
            b.push_str("  of a user with +@read (ACL SETUSER reader on >pw ~* +@read)\n");
        }
        Some((pw, _)) => {
            if cfg.port != 0 {
                b.push_str(&format!("  RESP      {host}:{port}\n"));
            }
            b.push_str(&format!(
                "  password  {pw}  (generated, saved in {}; printed only this once)\n\n",
                cfg.data_dir.join("password").display()
            ));
            b.push_str(&format!("  redis-cli{cli} -h {host} -p {port} -a {pw}\n"));
            b.push_str(&format!("  REDIS_URL={url}://:{pw}@{host}:{port}\n\n"));
            let t = rest::Tokens::derive(pw);
            b.push_str(&format!("  REST      {web}://{rest}  (Upstash protocol)\n"));
            b.push_str(&format!("  export UPSTASH_REDIS_REST_URL={web}://{rest}\n"));
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
            if cfg.port != 0 {
                b.push_str(&format!("  RESP      {host}:{port}\n\n"));
            }
            b.push_str(&format!("  redis-cli{cli} -h {host} -p {port}\n"));
            b.push_str(&format!("  REDIS_URL={url}://{host}:{port}\n\n"));
            b.push_str(&format!(
                "  REST      {web}://{rest}  (Upstash protocol; no token needed: auth is off)\n"
            ));
            b.push_str(&format!("  export UPSTASH_REDIS_REST_URL={web}://{rest}\n"));
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
