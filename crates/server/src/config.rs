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
    /// Block cache size in MiB [default: 256]
    #[arg(long, env = "MERIDIAN_CACHE_MB")]
    pub cache_mb: Option<usize>,
    /// Maximum number of connected clients [default: 10000]
    #[arg(long, env = "MERIDIAN_MAXCLIENTS")]
    pub maxclients: Option<usize>,
    /// Raft log entries between snapshots (older entries are then purged) [default: 200000]
    #[arg(long, env = "MERIDIAN_SNAPSHOT_EVERY")]
    pub snapshot_every: Option<u64>,
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
    cache_mb: Option<usize>,
    maxclients: Option<usize>,
    snapshot_every: Option<u64>,
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
    pub cache_mb: usize,
    pub maxclients: usize,
    pub snapshot_every: u64,
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
        let cfg = Config {
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("data")),
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
            cache_mb: args.cache_mb.or(file.cache_mb).unwrap_or(256),
            maxclients: args.maxclients.or(file.maxclients).unwrap_or(10_000),
            snapshot_every: args
                .snapshot_every
                .or(file.snapshot_every)
                .unwrap_or(200_000),
        };
        if cfg.no_auth && !is_loopback(&cfg.bind) {
            anyhow::bail!(
                "--no-auth is refused because the node binds to {} (not loopback only): anyone who can reach it could read and write everything. Bind to 127.0.0.1 or set a password.",
                cfg.bind
            );
        }
        Ok(cfg)
    }
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
