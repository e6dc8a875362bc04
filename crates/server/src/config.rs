//! Node configuration: defaults < TOML file < MERIDIAN_* environment < command line.

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "meridian",
    version,
    about = "Meridian: a durable, Redis-compatible database on Raft and RocksDB"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a Meridian node (a single-node group with embedded defaults if no options are given).
    Server(ServerArgs),
    /// Inspect or change a running cluster (talks to any member's cluster port).
    Cluster(ClusterArgs),
    /// Copy keys into a node from a live Redis/Meridian (--from) or an RDB file (--from-rdb).
    Import(crate::transfer::ImportArgs),
    /// Write a live Redis/Meridian's keys to an RDB file (Redis 7.0's format).
    Export(crate::transfer::ExportArgs),
    /// Create, list, delete and restore backups (talks to a node's management API on its REST port).
    Backup(BackupArgs),
    /// Give the default user a new generated password on every node, revoking every REST
    /// token; prints the new password and tokens (the management API's reset-password).
    ResetPassword(ResetPasswordArgs),
    /// TLS certificates for a quick start: a self-signed CA and node certificates.
    Certs(CertsArgs),
}

#[derive(Args, Debug)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub action: CertsAction,
}

#[derive(Subcommand, Debug)]
pub enum CertsAction {
    /// Write DIR/ca.crt + ca.key (kept if present: new node certificates from the same CA)
    /// and DIR/NAME.crt + NAME.key, valid for the given hosts, localhost and 127.0.0.1.
    Generate {
        /// Output directory (created if missing).
        #[arg(long, default_value = "certs")]
        out: PathBuf,
        /// A DNS name or IP address the node is reached at (repeat; `*.domain` allowed).
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// File name of the node certificate and key.
        #[arg(long, default_value = "node")]
        name: String,
        /// Days the node certificate is valid.
        #[arg(long, default_value_t = 825)]
        days: u32,
    },
}

#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub action: ClusterAction,
    /// Cluster address (host:cluster-port) of any member.
    #[arg(
        long,
        env = "MERIDIAN_CLUSTER_ADDR",
        default_value = "127.0.0.1:7379",
        global = true
    )]
    pub addr: String,
    /// The cluster's password.
    #[arg(long, env = "MERIDIAN_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// CA certificate of a cluster with --tls-cluster (the link is then TLS)
    #[arg(long, env = "MERIDIAN_TLS_CA_CERT_FILE", global = true)]
    pub tls_ca_cert_file: Option<PathBuf>,
    /// Client certificate the cluster port's mutual TLS asks for
    #[arg(long, env = "MERIDIAN_TLS_CERT_FILE", global = true)]
    pub tls_cert_file: Option<PathBuf>,
    /// Private key of --tls-cert-file
    #[arg(long, env = "MERIDIAN_TLS_KEY_FILE", global = true)]
    pub tls_key_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub action: BackupAction,
    /// REST URL of the node (its backups live in its backup dir).
    #[arg(
        long,
        env = "MERIDIAN_REST_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// The node's password (the standard REST token is derived from it).
    #[arg(long, env = "MERIDIAN_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// The standard REST token itself, instead of the password.
    #[arg(long, env = "MERIDIAN_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

#[derive(Args, Debug)]
pub struct ResetPasswordArgs {
    /// REST URL of any node.
    #[arg(
        long,
        env = "MERIDIAN_REST_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// The configured password, while it is still the default user's (the standard REST
    /// token is derived from it).
    #[arg(long, env = "MERIDIAN_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// The current standard REST token (needed once the password was rotated).
    #[arg(long, env = "MERIDIAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum BackupAction {
    /// Take a backup of the node's state, named NAME.
    Create { name: String },
    /// List the node's backups.
    List,
    /// Delete backup NAME.
    Delete { name: String },
    /// Replace the whole database (every node) with backup NAME, or with the state at a
    /// later log index or time (nodes started with --log-archive).
    Restore {
        name: String,
        #[arg(long, conflicts_with = "until_time")]
        until_index: Option<u64>,
        /// Unix time in milliseconds.
        #[arg(long)]
        until_time: Option<u64>,
    },
    /// Turn daily automated backups on, keeping RETENTION of them.
    EnableDaily {
        #[arg(long)]
        retention: Option<u64>,
    },
    /// Turn daily automated backups off.
    DisableDaily,
}

#[derive(Subcommand, Debug)]
pub enum ClusterAction {
    /// Leader, term, indexes and members (voters and read replicas with their progress).
    Status,
    /// Add a read replica (Raft learner) by id and cluster address.
    AddReplica { id: u64, replica_addr: String },
    /// Remove a voter or replica from the cluster.
    RemoveNode { id: u64 },
    /// Make a read replica a voter.
    Promote { id: u64 },
    /// Make voter ID the leader (it starts an election and wins it if caught up).
    TransferLeader { id: u64 },
    /// Add a read region by name before its replicas join (they join with
    /// `--replica --join ADDR --region NAME`); shown in status until removed
    AddRegion { name: String },
    /// Remove a read region: each of its replicas leaves the cluster, then the region
    /// is forgotten (the primary region, which holds the voters, is refused)
    RemoveRegion { name: String },
    /// Run an anti-entropy round now on the leader: compare every member's per-slot
    /// digests with the leader's and repair the keys that differ through the log
    AntiEntropy {
        /// Run it now (the only mode; accepted for clarity)
        #[arg(long)]
        now: bool,
        /// First recompute every slot's digest from its records on every member (finds
        /// data changed behind the write path, e.g. a disk corruption)
        #[arg(long)]
        scrub: bool,
    },
    /// Promote read region NAME over a lost primary region: its most advanced replica
    /// seeds a new epoch as the only voter, then the region's caught-up replicas become
    /// voters. Send it to a node of that region. The old primary's nodes, when they come
    /// back, merge their later writes by last-writer-wins and rejoin as read replicas
    PromoteRegion {
        name: String,
        /// Promote even though this node still hears from the primary's leader (a
        /// split brain on purpose: the old primary is deposed when it meets the new one)
        #[arg(long)]
        force: bool,
    },
}

/// Every option can also be set in the TOML file (same name, with underscores) and by
/// the environment variable shown.
#[derive(Args, Debug, Default)]
pub struct ServerArgs {
    /// TOML configuration file.
    #[arg(long, env = "MERIDIAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory holding the database, the Raft log, snapshots and the generated password
    /// [default: ./data]
    #[arg(long, env = "MERIDIAN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on for RESP clients [default: 127.0.0.1]
    #[arg(long, env = "MERIDIAN_BIND")]
    pub bind: Option<String>,
    /// RESP port [default: 6379]
    #[arg(long, env = "MERIDIAN_PORT")]
    pub port: Option<u16>,
    /// REST (Upstash protocol) port, on the same address as RESP [default: 8080]
    #[arg(long, env = "MERIDIAN_REST_PORT")]
    pub rest_port: Option<u16>,
    /// Password of the default user (otherwise generated at first start and kept in the data dir).
    #[arg(long, env = "MERIDIAN_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Turn authentication off (local development and tests only; refused unless bound to loopback).
    #[arg(long, env = "MERIDIAN_NO_AUTH")]
    pub no_auth: bool,
    /// Log level (error, warn, info, debug, trace); RUST_LOG overrides it [default: info]
    #[arg(long, env = "MERIDIAN_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Log line format: text or json (one JSON object per line, for log shippers) [default: text]
    #[arg(long, env = "MERIDIAN_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Block cache size in MiB [default: 256]
    #[arg(long, env = "MERIDIAN_CACHE_MB")]
    pub cache_mb: Option<usize>,
    /// Where BACKUP CREATE writes backups and BACKUP RESTORE reads them (a local
    /// directory; on the same filesystem as the data dir a backup is hard links, not a
    /// copy) [default: DATA_DIR/backups]
    #[arg(long, env = "MERIDIAN_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Keep backups in an S3-compatible object store instead: s3://bucket/prefix, with the
    /// usual AWS_* environment (credentials, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP);
    /// the backup dir then only stages them
    #[arg(long, env = "MERIDIAN_BACKUP_URL")]
    pub backup_url: Option<String>,
    /// Archive every applied log entry into BACKUP_DIR/.log-archive, for point-in-time
    /// restore (BACKUP RESTORE name INDEX n | TIME ms); costs a second write of each entry
    #[arg(long, env = "MERIDIAN_LOG_ARCHIVE")]
    pub log_archive: bool,
    /// Threads that run connections, the proposer, Raft and the apply (tokio workers). Fewer
    /// threads mean fewer cross-thread wake-ups per command: on 2 cores, 1 worker took c50
    /// GET from 20 to 14 us of CPU per op and SET from 51 to 41 (docs/benchmarks.md)
    /// [default: half the cores, at least 1]
    #[arg(long, env = "MERIDIAN_IO_THREADS")]
    pub io_threads: Option<usize>,
    /// Memory tier budget in MiB: decoded copies of hot sorted sets [default: 256]
    #[arg(long, env = "MERIDIAN_TIER_MB")]
    pub tier_mb: Option<usize>,
    /// The memory tier's whole budget in MiB: meta records of hot keys plus the sorted-set copies (at most --tier-mb, at most half); CONFIG SET meridian-memory-mb changes it live [default: 512]
    #[arg(long, env = "MERIDIAN_MEMORY_MB")]
    pub memory_mb: Option<usize>,
    /// Capacity quota (Upstash's max data size) of the accounted data, e.g. 256mb, 1gb; a replicated setting (CONFIG SET maxmemory), proposed at start when given [default: none]
    #[arg(long, env = "MERIDIAN_MAX_DATA_SIZE")]
    pub max_data_size: Option<String>,
    /// Evict keys at the quota (maxmemory-policy optimistic-volatile) instead of refusing writes; proposed at start when given
    #[arg(long, env = "MERIDIAN_EVICTION")]
    pub eviction: bool,
    /// Maximum number of connected clients [default: 10000]
    #[arg(long, env = "MERIDIAN_MAXCLIENTS")]
    pub maxclients: Option<usize>,
    /// This node's id in the cluster [default: 1]
    #[arg(long, env = "MERIDIAN_NODE_ID")]
    pub node_id: Option<u64>,
    /// Port for node-to-node gRPC (Raft, forwarding); enables cluster mode
    #[arg(long, env = "MERIDIAN_CLUSTER_PORT")]
    pub cluster_port: Option<u16>,
    /// Address peers use to reach this node's cluster port [default: BIND:CLUSTER_PORT]
    #[arg(long, env = "MERIDIAN_ADVERTISE")]
    pub advertise: Option<String>,
    /// Voters of a new primary region, e.g. 1=10.0.0.1:7379,2=10.0.0.2:7379,3=10.0.0.3:7379
    #[arg(long, env = "MERIDIAN_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,
    /// Run as a read replica (Raft learner) of another region
    #[arg(long, env = "MERIDIAN_REPLICA")]
    pub replica: bool,
    /// Cluster address of any member to join through (read replicas)
    #[arg(long, env = "MERIDIAN_JOIN")]
    pub join: Option<String>,
    /// Kubernetes StatefulSet bootstrap: the first N pods (hostnames NAME-0 .. NAME-(N-1))
    /// are the voters; the node id, --initial-cluster, --advertise, and for pods beyond N
    /// --replica --join NAME-0, are derived from this pod's hostname and --peer-domain
    #[arg(long, env = "MERIDIAN_STATEFULSET_VOTERS")]
    pub statefulset_voters: Option<u64>,
    /// DNS domain of the pods for --statefulset-voters (the headless Service's, e.g.
    /// meridian.default.svc.cluster.local): pods are reached as HOSTNAME.DOMAIN
    #[arg(long, env = "MERIDIAN_PEER_DOMAIN")]
    pub peer_domain: Option<String>,
    /// Region tag of this node [default: local]
    #[arg(long, env = "MERIDIAN_REGION")]
    pub region: Option<String>,
    /// Automatic region failover (opt-in): a read replica that has not heard the
    /// primary's leader for SECS seconds promotes its own region (as `meridian cluster
    /// promote-region`). Set it on the replicas of ONE read region only: two regions
    /// promoting themselves would split the database in two [default: 0, off]
    #[arg(long, env = "MERIDIAN_AUTO_PROMOTE_AFTER")]
    pub auto_promote_after: Option<u64>,
    /// Raft election timeout range in ms, e.g. 150-300 (raise it for cross-region voters)
    #[arg(long, env = "MERIDIAN_ELECTION_TIMEOUT")]
    pub election_timeout: Option<String>,
    /// Raft heartbeat interval in ms [default: 50]
    #[arg(long, env = "MERIDIAN_HEARTBEAT")]
    pub heartbeat: Option<u64>,
    /// Raft log entries between snapshots (older entries are then purged) [default: 200000]
    #[arg(long, env = "MERIDIAN_SNAPSHOT_EVERY")]
    pub snapshot_every: Option<u64>,
    /// RESP over TLS on this port (`rediss://`); `--port 0` then turns plaintext RESP off
    #[arg(long, env = "MERIDIAN_TLS_PORT")]
    pub tls_port: Option<u16>,
    /// PEM certificate chain this node presents (RESP, REST and cluster TLS); re-read on SIGHUP
    #[arg(long, env = "MERIDIAN_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of --tls-cert-file
    #[arg(long, env = "MERIDIAN_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA certificate(s): verifies peers on cluster links and client certificates
    #[arg(long, env = "MERIDIAN_TLS_CA_CERT_FILE")]
    pub tls_ca_cert_file: Option<PathBuf>,
    /// The REST port serves HTTPS only
    #[arg(long, env = "MERIDIAN_TLS_REST")]
    pub tls_rest: bool,
    /// Cluster links use mutual TLS (needs --tls-ca-cert-file)
    #[arg(long, env = "MERIDIAN_TLS_CLUSTER")]
    pub tls_cluster: bool,
    /// Client certificates on the RESP TLS port and HTTPS: no, optional or yes [default: no]
    #[arg(long, env = "MERIDIAN_TLS_AUTH_CLIENTS")]
    pub tls_auth_clients: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    bind: Option<String>,
    port: Option<u16>,
    rest_port: Option<u16>,
    password: Option<String>,
    no_auth: Option<bool>,
    log_level: Option<String>,
    log_format: Option<String>,
    cache_mb: Option<usize>,
    backup_dir: Option<PathBuf>,
    backup_url: Option<String>,
    log_archive: Option<bool>,
    io_threads: Option<usize>,
    tier_mb: Option<usize>,
    memory_mb: Option<usize>,
    max_data_size: Option<String>,
    eviction: Option<bool>,
    maxclients: Option<usize>,
    snapshot_every: Option<u64>,
    node_id: Option<u64>,
    cluster_port: Option<u16>,
    advertise: Option<String>,
    initial_cluster: Option<String>,
    replica: Option<bool>,
    statefulset_voters: Option<u64>,
    peer_domain: Option<String>,
    join: Option<String>,
    region: Option<String>,
    auto_promote_after: Option<u64>,
    election_timeout: Option<String>,
    heartbeat: Option<u64>,
    tls_port: Option<u16>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    tls_ca_cert_file: Option<PathBuf>,
    tls_rest: Option<bool>,
    tls_cluster: Option<bool>,
    tls_auth_clients: Option<String>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind: String,
    pub port: u16,
    pub rest_port: u16,
    pub password: Option<String>,
    pub no_auth: bool,
    pub log_level: String,
    /// `text` or `json`.
    pub log_format: String,
    pub cache_mb: usize,
    pub backup_dir: PathBuf,
    pub backup_url: Option<String>,
    pub log_archive: bool,
    /// Tokio worker threads (`--io-threads`).
    pub io_threads: usize,
    pub tier_mb: usize,
    pub memory_mb: usize,
    /// `--max-data-size` in bytes, when given.
    pub max_data_size: Option<u64>,
    pub eviction: bool,
    pub maxclients: usize,
    pub snapshot_every: u64,
    pub node_id: u64,
    pub cluster_port: Option<u16>,
    pub advertise: Option<String>,
    pub initial_cluster: Vec<(u64, String)>,
    pub replica: bool,
    pub join: Option<String>,
    pub region: String,
    /// Seconds without the primary's leader before a replica promotes its region; 0: off.
    pub auto_promote_after: u64,
    pub election_timeout_ms: (u64, u64),
    pub heartbeat_ms: u64,
    /// Certificate material and client-certificate policy, when any TLS is on.
    pub tls: Option<consensus::tls::TlsSettings>,
    /// RESP over TLS (`--tls-port`).
    pub tls_port: Option<u16>,
    /// The REST port is HTTPS.
    pub tls_rest: bool,
}

fn parse_initial_cluster(s: &str) -> anyhow::Result<Vec<(u64, String)>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("--initial-cluster entry {part:?} is not ID=HOST:PORT")
        })?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("bad node id in {part:?}"))?;
        out.push((id, addr.trim().to_string()));
    }
    Ok(out)
}

fn parse_range(s: &str) -> anyhow::Result<(u64, u64)> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| anyhow::anyhow!("--election-timeout must be MIN-MAX in ms"))?;
    let (a, b): (u64, u64) = (a.trim().parse()?, b.trim().parse()?);
    if a == 0 || b <= a {
        anyhow::bail!("--election-timeout must be MIN-MAX with 0 < MIN < MAX");
    }
    Ok((a, b))
}

impl Config {
    pub fn resolve(args: ServerArgs) -> anyhow::Result<Config> {
        let file: FileConfig = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("bad config file {}: {e}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let statefulset = (
            args.statefulset_voters.or(file.statefulset_voters),
            args.peer_domain.clone().or(file.peer_domain.clone()),
        );
        let mut cfg = Config {
            backup_dir: args
                .backup_dir
                .or(file.backup_dir)
                .unwrap_or_else(|| data_dir.join("backups")),
            log_archive: args.log_archive || file.log_archive.unwrap_or(false),
            backup_url: args
                .backup_url
                .or(file.backup_url)
                .filter(|u| !u.is_empty()),
            data_dir,
            bind: args
                .bind
                .or(file.bind)
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: args.port.or(file.port).unwrap_or(6379),
            rest_port: args.rest_port.or(file.rest_port).unwrap_or(8080),
            password: args.password.or(file.password).filter(|p| !p.is_empty()),
            no_auth: args.no_auth || file.no_auth.unwrap_or(false),
            log_level: args
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            log_format: match args
                .log_format
                .or(file.log_format)
                .unwrap_or_else(|| "text".into())
                .to_ascii_lowercase()
                .as_str()
            {
                f @ ("text" | "json") => f.to_string(),
                other => anyhow::bail!("--log-format: {other:?} is not text or json"),
            },
            cache_mb: args.cache_mb.or(file.cache_mb).unwrap_or(256),
            io_threads: match args.io_threads.or(file.io_threads) {
                Some(0) => anyhow::bail!("--io-threads: must be at least 1"),
                Some(n) => n.min(128),
                None => default_io_threads(),
            },
            tier_mb: args.tier_mb.or(file.tier_mb).unwrap_or(256),
            memory_mb: args.memory_mb.or(file.memory_mb).unwrap_or(512),
            max_data_size: match args.max_data_size.or(file.max_data_size) {
                None => None,
                Some(v) => Some(
                    engine::settings::MAXMEMORY
                        .parse(v.as_bytes())
                        .map_err(|_| anyhow::anyhow!("--max-data-size: bad size {v:?}"))?,
                ),
            },
            eviction: args.eviction || file.eviction.unwrap_or(false),
            maxclients: args.maxclients.or(file.maxclients).unwrap_or(10_000),
            snapshot_every: args
                .snapshot_every
                .or(file.snapshot_every)
                .unwrap_or(200_000),
            node_id: args.node_id.or(file.node_id).unwrap_or(1),
            cluster_port: args.cluster_port.or(file.cluster_port),
            advertise: args.advertise.or(file.advertise),
            initial_cluster: parse_initial_cluster(
                &args
                    .initial_cluster
                    .or(file.initial_cluster)
                    .unwrap_or_default(),
            )?,
            replica: args.replica || file.replica.unwrap_or(false),
            join: args.join.or(file.join),
            region: {
                let r = args
                    .region
                    .or(file.region)
                    .unwrap_or_else(|| "local".into());
                if !consensus::valid_region_name(&r) {
                    anyhow::bail!(
                        "--region: bad name {r:?} (1 to 64 letters, digits, '-', '_' or '.')"
                    );
                }
                r
            },
            auto_promote_after: args
                .auto_promote_after
                .or(file.auto_promote_after)
                .unwrap_or(0),
            election_timeout_ms: parse_range(
                &args
                    .election_timeout
                    .or(file.election_timeout)
                    .unwrap_or_else(|| "150-300".into()),
            )?,
            heartbeat_ms: args.heartbeat.or(file.heartbeat).unwrap_or(50),
            tls_port: args.tls_port.or(file.tls_port),
            tls_rest: args.tls_rest || file.tls_rest.unwrap_or(false),
            tls: None,
        };
        let tls_cluster = args.tls_cluster || file.tls_cluster.unwrap_or(false);
        let auth_clients = match args.tls_auth_clients.or(file.tls_auth_clients) {
            None => consensus::tls::ClientAuth::No,
            Some(v) => consensus::tls::ClientAuth::parse(&v).ok_or_else(|| {
                anyhow::anyhow!("--tls-auth-clients: {v:?} is not no, optional or yes")
            })?,
        };
        match (
            args.tls_cert_file.or(file.tls_cert_file),
            args.tls_key_file.or(file.tls_key_file),
        ) {
            (Some(cert), Some(key)) => {
                cfg.tls = Some(consensus::tls::TlsSettings {
                    cert,
                    key,
                    ca: args.tls_ca_cert_file.or(file.tls_ca_cert_file),
                    auth_clients,
                    cluster: tls_cluster,
                })
            }
            (None, None) => {
                if cfg.tls_port.is_some() || cfg.tls_rest || tls_cluster {
                    anyhow::bail!(
                        "--tls-port, --tls-rest and --tls-cluster need --tls-cert-file and --tls-key-file"
                    );
                }
            }
            _ => anyhow::bail!("--tls-cert-file and --tls-key-file go together"),
        }
        if tls_cluster && cfg.cluster_port.is_none() {
            anyhow::bail!("--tls-cluster needs --cluster-port");
        }
        if let (Some(voters), domain) = statefulset {
            let cport = cfg
                .cluster_port
                .ok_or_else(|| anyhow::anyhow!("--statefulset-voters needs --cluster-port"))?;
            let domain = domain
                .ok_or_else(|| anyhow::anyhow!("--statefulset-voters needs --peer-domain"))?;
            let b = statefulset_bootstrap(&hostname()?, voters, &domain, cport)?;
            cfg.node_id = b.node_id;
            cfg.advertise = Some(b.advertise);
            cfg.initial_cluster = b.initial_cluster;
            cfg.replica = b.join.is_some();
            cfg.join = b.join;
        }
        if (cfg.replica || !cfg.initial_cluster.is_empty()) && cfg.cluster_port.is_none() {
            anyhow::bail!("--initial-cluster and --replica need --cluster-port");
        }
        if cfg.replica && cfg.join.is_none() {
            anyhow::bail!("--replica needs --join HOST:CLUSTER_PORT of a member");
        }
        if !cfg.initial_cluster.is_empty()
            && !cfg.initial_cluster.iter().any(|(id, _)| *id == cfg.node_id)
        {
            anyhow::bail!(
                "--initial-cluster does not list this node's --node-id {}",
                cfg.node_id
            );
        }
        if cfg.no_auth && !is_loopback(&cfg.bind) {
            anyhow::bail!(
                "--no-auth is refused because the node binds to {} (not loopback only): anyone who can reach it could read and write everything. Bind to 127.0.0.1 or set a password.",
                cfg.bind
            );
        }
        if cfg.port == 0 && cfg.tls_port.is_none() {
            anyhow::bail!("--port 0 turns plaintext RESP off, so it needs --tls-port");
        }
        Ok(cfg)
    }
}

/// This machine's host name (`HOSTNAME`, else the kernel's).
fn hostname() -> anyhow::Result<String> {
    if let Ok(h) = std::env::var("HOSTNAME") {
        if !h.trim().is_empty() {
            return Ok(h.trim().to_string());
        }
    }
    Ok(std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|e| anyhow::anyhow!("cannot read the host name: {e}"))?
        .trim()
        .to_string())
}

/// What a StatefulSet pod derives from its hostname (`--statefulset-voters`).
#[derive(Debug, PartialEq)]
pub struct Bootstrap {
    pub node_id: u64,
    pub advertise: String,
    pub initial_cluster: Vec<(u64, String)>,
    /// `Some(pod 0's address)` for a pod beyond the voters: a read replica.
    pub join: Option<String>,
}

/// Pod `NAME-k` is node `k + 1`; pods `0..voters` are the voters, later ones read replicas
/// joining through pod 0. Every pod is reached as `NAME-k.DOMAIN:CLUSTER_PORT`.
pub fn statefulset_bootstrap(
    hostname: &str,
    voters: u64,
    domain: &str,
    cport: u16,
) -> anyhow::Result<Bootstrap> {
    let host = hostname.split('.').next().unwrap_or(hostname);
    let (name, ordinal) = host
        .rsplit_once('-')
        .and_then(|(n, k)| Some((n, k.parse::<u64>().ok()?)))
        .filter(|(n, _)| !n.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--statefulset-voters: host name {hostname:?} is not NAME-ORDINAL (a StatefulSet pod's)"
            )
        })?;
    if voters == 0 {
        anyhow::bail!("--statefulset-voters must be at least 1");
    }
    let addr = |k: u64| format!("{name}-{k}.{domain}:{cport}");
    Ok(Bootstrap {
        node_id: ordinal + 1,
        advertise: addr(ordinal),
        initial_cluster: if ordinal < voters {
            (0..voters).map(|k| (k + 1, addr(k))).collect()
        } else {
            Vec::new()
        },
        join: (ordinal >= voters).then(|| addr(0)),
    })
}

/// True if every address in `bind` (space separated) is a loopback address.
pub fn is_loopback(bind: &str) -> bool {
    bind.split_whitespace().all(|a| {
        a == "localhost"
            || a.parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn statefulset_pods_derive_their_role_from_the_hostname() {
        let d = "meridian.default.svc.cluster.local";
        let b = statefulset_bootstrap("meridian-1", 3, d, 7379).unwrap();
        assert_eq!(b.node_id, 2);
        assert_eq!(b.advertise, format!("meridian-1.{d}:7379"));
        assert_eq!(
            b.initial_cluster,
            vec![
                (1, format!("meridian-0.{d}:7379")),
                (2, format!("meridian-1.{d}:7379")),
                (3, format!("meridian-2.{d}:7379")),
            ]
        );
        assert_eq!(b.join, None);
        // Beyond the voters: a read replica joining through pod 0.
        let r = statefulset_bootstrap("my-db-4.whatever", 3, d, 7000).unwrap();
        assert_eq!(r.node_id, 5);
        assert!(r.initial_cluster.is_empty());
        assert_eq!(r.join, Some(format!("my-db-0.{d}:7000")));
        assert_eq!(r.advertise, format!("my-db-4.{d}:7000"));
        for bad in ["meridian", "meridian-x", "-3", ""] {
            assert!(statefulset_bootstrap(bad, 3, d, 7379).is_err(), "{bad}");
        }
        assert!(statefulset_bootstrap("m-0", 0, d, 7379).is_err());
    }

    use super::*;

    #[test]
    fn precedence_is_cli_over_file_over_default() {
        let dir = std::env::temp_dir().join(format!("meridian-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("m.toml");
        std::fs::write(&file, "port = 7000\ncache_mb = 64\nbind = \"127.0.0.1\"\n").unwrap();
        let args = ServerArgs {
            config: Some(file.clone()),
            port: Some(7001),
            ..Default::default()
        };
        let c = Config::resolve(args).unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.cache_mb, 64);
        assert_eq!(c.maxclients, 10_000);
        std::fs::write(&file, "nonsense = 1\n").unwrap();
        assert!(Config::resolve(ServerArgs {
            config: Some(file),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn no_auth_needs_loopback() {
        assert!(Config::resolve(ServerArgs {
            no_auth: true,
            bind: Some("0.0.0.0".into()),
            ..Default::default()
        })
        .is_err());
        assert!(Config::resolve(ServerArgs {
            no_auth: true,
            ..Default::default()
        })
        .is_ok());
        assert!(is_loopback("127.0.0.1 ::1"));
        assert!(!is_loopback("127.0.0.1 10.0.0.1"));
    }
}

/// Half the cores, at least one: the other half is left to RocksDB's background jobs, the
/// WAL fsync thread and blocking reads. Measured on 2 cores (docs/benchmarks.md): one
/// worker instead of two cut CPU per op by 20-30 % at c50.
pub fn default_io_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get() / 2)
        .max(1)
}
