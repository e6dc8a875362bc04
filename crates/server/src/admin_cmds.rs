//! COMMAND, INFO and CONFIG: answered from the command table and node state.

use crate::shared::Shared;
use engine::{args, CmdError, CommandSpec, Frame};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

fn bulk(s: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(s.into())
}

/// One COMMAND INFO entry in Redis 7's shape.
fn command_info(c: &CommandSpec) -> Frame {
    Frame::Array(vec![
        bulk(c.name),
        Frame::Integer(c.arity as i64),
        Frame::Set(
            c.flag_names()
                .into_iter()
                .map(|f| Frame::Simple(f.into()))
                .collect(),
        ),
        Frame::Integer(c.keys.first as i64),
        Frame::Integer(c.keys.last as i64),
        Frame::Integer(c.keys.step as i64),
        Frame::Set(c.acl_categories().into_iter().map(Frame::Simple).collect()),
        Frame::Set(vec![]),
        Frame::Array(vec![]),
        Frame::Array(vec![]),
    ])
}

fn command_docs(c: &CommandSpec) -> Frame {
    Frame::Map(vec![
        (bulk("summary"), bulk(c.summary)),
        (bulk("since"), bulk(c.since)),
        (bulk("group"), bulk(c.group)),
    ])
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern].
fn command_list(all: &[CommandSpec], rest: &[Vec<u8>]) -> Result<Frame, CmdError> {
    let names = |keep: &dyn Fn(&CommandSpec) -> bool| {
        Ok(Frame::Array(
            all.iter()
                .filter(|c| keep(c))
                .map(|c| bulk(c.name))
                .collect(),
        ))
    };
    match rest {
        [] => names(&|_| true),
        [f, kind, value] if args::is(f, "filterby") => match args::upper(kind).as_str() {
            // No modules are loaded.
            "MODULE" => names(&|_| false),
            "ACLCAT" => {
                let cat = format!("@{}", String::from_utf8_lossy(value).to_ascii_lowercase());
                names(&|c| c.acl_categories().contains(&cat))
            }
            "PATTERN" => names(&|c| engine::glob_match(value, c.name.as_bytes(), true)),
            _ => Err(CmdError::new("ERR syntax error")),
        },
        _ => Err(CmdError::new("ERR syntax error")),
    }
}

pub fn command(argv: &[Vec<u8>]) -> Result<Frame, CmdError> {
    let all = engine::COMMANDS();
    if argv.len() == 1 {
        return Ok(Frame::Array(all.iter().map(command_info).collect()));
    }
    let sub = args::upper(&argv[1]);
    match sub.as_str() {
        "COUNT" if argv.len() == 2 => Ok(Frame::Integer(all.len() as i64)),
        "LIST" => command_list(all, &argv[2..]),
        "INFO" => {
            if argv.len() == 2 {
                return Ok(Frame::Array(all.iter().map(command_info).collect()));
            }
            Ok(Frame::Array(
                argv[2..]
                    .iter()
                    .map(|n| engine::lookup(n).map_or(Frame::NullArray, command_info))
                    .collect(),
            ))
        }
        "DOCS" => {
            let pick: Vec<&CommandSpec> = if argv.len() == 2 {
                all.iter().collect()
            } else {
                argv[2..].iter().filter_map(|n| engine::lookup(n)).collect()
            };
            Ok(Frame::Map(
                pick.into_iter()
                    .map(|c| (bulk(c.name), command_docs(c)))
                    .collect(),
            ))
        }
        "GETKEYS" | "GETKEYSANDFLAGS" if argv.len() >= 3 => {
            let target = &argv[2..];
            let spec = engine::lookup(&target[0])
                .ok_or_else(|| CmdError::new("ERR Invalid command specified"))?;
            engine::check_arity(spec, target).map_err(|_| {
                CmdError::new("ERR Invalid number of arguments specified for command")
            })?;
            let pos = spec.key_positions(target);
            if pos.is_empty() {
                return Err(CmdError::new("ERR The command has no key arguments"));
            }
            let flags_of = |_: usize| {
                let f = if spec.is_write() { "RW" } else { "RO" };
                Frame::Array(vec![
                    Frame::Simple(f.into()),
                    Frame::Simple(if spec.is_write() { "update" } else { "access" }.into()),
                ])
            };
            Ok(Frame::Array(
                pos.into_iter()
                    .filter_map(|i| target.get(i).map(|k| (i, k)))
                    .map(|(i, k)| {
                        if sub == "GETKEYS" {
                            bulk(k.clone())
                        } else {
                            Frame::Array(vec![bulk(k.clone()), flags_of(i)])
                        }
                    })
                    .collect(),
            ))
        }
        "HELP" if argv.len() == 2 => Ok(Frame::Array(
            [
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|s| Frame::Simple(s.to_string()))
            .collect(),
        )),
        "COUNT" | "GETKEYS" | "GETKEYSANDFLAGS" | "HELP" => Err(CmdError::new(format!(
            "ERR wrong number of arguments for 'command|{}' command",
            sub.to_lowercase()
        ))),
        _ => Err(CmdError::unknown_subcommand(&argv[1], "COMMAND")),
    }
}

const DEFAULT_SECTIONS: [&str; 8] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "keyspace",
    "raft",
];

pub fn info(shared: &Shared, argv: &[Vec<u8>]) -> Frame {
    let wanted: Vec<String> = argv[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_lowercase())
        .collect();
    let all = wanted.iter().any(|w| w == "all" || w == "everything");
    let sections: Vec<&str> = if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        DEFAULT_SECTIONS.to_vec()
    } else if all {
        let mut v = DEFAULT_SECTIONS.to_vec();
        v.push("commandstats");
        v
    } else {
        let known = [
            "server",
            "clients",
            "memory",
            "persistence",
            "stats",
            "replication",
            "keyspace",
            "raft",
            "commandstats",
        ];
        known
            .into_iter()
            .filter(|k| wanted.iter().any(|w| w == k))
            .collect()
    };
    let mut out = String::new();
    for s in sections {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section(shared, s, &mut out);
    }
    Frame::Verbatim("txt".into(), out.into_bytes())
}

fn section(shared: &Shared, name: &str, o: &mut String) {
    let node = &shared.node;
    let m = node.metrics();
    match name {
        "server" => {
            let up = shared.started.elapsed().as_secs();
            let _ = write!(
                o,
                "# Server\r\nredis_version:7.2.4\r\nmeridian_version:{}\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nprocess_id:{}\r\nrun_id:{:040x}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nexecutable:{}\r\nconfig_file:{}\r\n",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                shared.started.elapsed().as_nanos() as u128 ^ (std::process::id() as u128) << 64,
                shared.local.port(),
                up,
                up / 86400,
                std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
                "",
            );
        }
        "clients" => {
            let _ = write!(
                o,
                "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\n",
                shared.clients.count(),
                shared.maxclients.load(Ordering::Relaxed),
                shared.broker.blocked_clients()
            );
        }
        "memory" => {
            let rss = rss_bytes();
            let store = node.storage.memory_bytes();
            let _ = write!(
                o,
                "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_storage_tables:{store}\r\nused_disk_bytes:{}\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n",
                human(rss),
                node.storage.disk_bytes()
            );
            let t = node.tier.stats();
            let _ = write!(
                o,
                "memory_tier_sets:{}\r\nmemory_tier_bytes:{}\r\nmemory_tier_hits:{}\r\nmemory_tier_builds:{}\r\nmemory_tier_evictions:{}\r\n",
                t.entries, t.bytes, t.hits, t.builds, t.evictions
            );
        }
        "persistence" => {
            let st = &node.storage.stats;
            let _ = write!(
                o,
                "# Persistence\r\nloading:0\r\naof_enabled:1\r\naof_fsync:always\r\nraft_log_fsyncs:{}\r\nraft_log_fsync_usec:{}\r\nstate_batches_written:{}\r\nstate_records_written:{}\r\nrdb_changes_since_last_save:0\r\n",
                st.wal_syncs.load(Ordering::Relaxed),
                st.wal_sync_micros.load(Ordering::Relaxed),
                st.batches_written.load(Ordering::Relaxed),
                st.records_written.load(Ordering::Relaxed),
            );
        }
        "stats" => {
            let s = &shared.stats;
            let _ = write!(
                o,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\ntotal_error_replies:{}\r\nexpired_keys:0\r\nevicted_keys:0\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsub_messages_delivered:{}\r\npubsub_stale_messages_skipped:{}\r\n",
                s.connections_received.load(Ordering::Relaxed),
                s.commands_processed.load(Ordering::Relaxed),
                s.net_input_bytes.load(Ordering::Relaxed),
                s.net_output_bytes.load(Ordering::Relaxed),
                s.rejected_connections.load(Ordering::Relaxed),
                s.error_replies.load(Ordering::Relaxed),
                shared.broker.channels(crate::pubsub::Kind::Channel, None).len(),
                shared.broker.numpat(),
                shared.broker.messages_delivered.load(Ordering::Relaxed),
                shared.broker.stale_skipped.load(Ordering::Relaxed),
            );
        }
        "replication" => {
            let st = node.status();
            let leader = m.current_leader == Some(node.id);
            let me_voter = st.members.iter().any(|x| x.id == node.id && x.voter);
            let leader_addr = st
                .members
                .iter()
                .find(|x| Some(x.id) == st.leader)
                .map_or(String::new(), |x| x.addr.clone());
            let _ = write!(
                o,
                "# Replication\r\nrole:{}\r\nraft_role:{}\r\nregion:{}\r\nraft_node_id:{}\r\nraft_leader_id:{}\r\nraft_leader_addr:{}\r\nraft_term:{}\r\nraft_last_log_index:{}\r\nraft_commit_index:{}\r\nraft_applied_index:{}\r\nmaster_repl_offset:{}\r\nconnected_slaves:{}\r\n",
                if leader { "master" } else { "slave" },
                if leader { "leader" } else if me_voter { "follower" } else { "learner" },
                node.cfg.region,
                node.id,
                m.current_leader.map_or(-1, |l| l as i64),
                leader_addr,
                m.current_term,
                m.last_log_index.unwrap_or(0),
                m.last_applied.map_or(0, |l| l.index),
                node.applied_index(),
                node.applied_index(),
                st.members.len().saturating_sub(1),
            );
            let mut n = 0;
            for mem in st.members.iter().filter(|x| x.id != node.id) {
                let lag = mem.matched.map(|x| st.last_log_index.saturating_sub(x));
                let _ = write!(
                    o,
                    "member{n}:id={},addr={},role={},matched={},lag={}\r\n",
                    mem.id,
                    mem.addr,
                    if mem.voter { "voter" } else { "replica" },
                    mem.matched.map_or("-".into(), |x| x.to_string()),
                    lag.map_or("-".into(), |x| x.to_string()),
                );
                n += 1;
            }
        }
        "raft" => {
            let _ = write!(
                o,
                "# Raft\r\nraft_state:{:?}\r\nraft_last_log_index:{}\r\nraft_snapshot_index:{}\r\nraft_purged_index:{}\r\nraft_members:{}\r\n",
                m.state,
                m.last_log_index.unwrap_or(0),
                m.snapshot.map_or(0, |s| s.index),
                m.purged.map_or(0, |s| s.index),
                m.membership_config.membership().voter_ids().count(),
            );
        }
        "keyspace" => {
            o.push_str("# Keyspace\r\n");
            for db in 0..keys::DATABASES as u8 {
                let keys = match node.read(db, &[b"dbsize".to_vec()]) {
                    Frame::Integer(n) => n,
                    _ => 0,
                };
                if keys > 0 {
                    let _ = write!(o, "db{db}:keys={keys},expires=0,avg_ttl=0\r\n");
                }
            }
        }
        "commandstats" => {
            o.push_str("# Commandstats\r\n");
            for (c, v) in engine::COMMANDS().iter().zip(&shared.stats.per_cmd) {
                let calls = v[0].load(Ordering::Relaxed);
                if calls == 0 {
                    continue;
                }
                let usec = v[1].load(Ordering::Relaxed);
                let _ = write!(
                    o,
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={:.2},rejected_calls=0,failed_calls={}\r\n",
                    c.name,
                    usec as f64 / calls as f64,
                    v[2].load(Ordering::Relaxed)
                );
            }
        }
        _ => {}
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn human(b: u64) -> String {
    let (v, u) = if b >= 1 << 30 {
        (b as f64 / (1u64 << 30) as f64, "G")
    } else if b >= 1 << 20 {
        (b as f64 / (1u64 << 20) as f64, "M")
    } else {
        (b as f64 / 1024.0, "K")
    };
    format!("{v:.2}{u}")
}

/// Settings CONFIG knows: (name, writable).
const SETTINGS: [(&str, bool); 12] = [
    ("bind", false),
    ("port", false),
    ("databases", false),
    ("dir", false),
    ("maxclients", true),
    ("appendonly", false),
    ("appendfsync", false),
    ("proto-max-bulk-len", false),
    ("maxmemory", false),
    ("maxmemory-policy", false),
    ("notify-keyspace-events", true),
    ("client-output-buffer-limit", true),
];

fn setting(shared: &Shared, name: &str) -> String {
    match name {
        "bind" => shared.cfg.bind.clone(),
        "port" => shared.local.port().to_string(),
        "databases" => keys::DATABASES.to_string(),
        "dir" => shared.cfg.data_dir.display().to_string(),
        "maxclients" => shared.maxclients.load(Ordering::Relaxed).to_string(),
        "appendonly" => "yes".into(),
        "appendfsync" => "always".into(),
        "proto-max-bulk-len" => (512u64 << 20).to_string(),
        "maxmemory" => "0".into(),
        "maxmemory-policy" => "noeviction".into(),
        "notify-keyspace-events" => {
            engine::events::flags_to_string(shared.broker.keyspace_flags_value())
        }
        "client-output-buffer-limit" => shared.obuf.config_string(),
        _ => String::new(),
    }
}

pub fn config(shared: &Shared, argv: &[Vec<u8>]) -> Result<Frame, CmdError> {
    let sub = args::upper(&argv[1]);
    match sub.as_str() {
        "GET" if argv.len() >= 3 => {
            let mut pairs = Vec::new();
            for (name, _) in SETTINGS {
                if argv[2..]
                    .iter()
                    .any(|p| engine::glob_match(p, name.as_bytes(), true))
                {
                    pairs.push((bulk(name), bulk(setting(shared, name))));
                }
            }
            Ok(Frame::Map(pairs))
        }
        "SET" if argv.len() >= 4 && argv.len() % 2 == 0 => {
            let mut changes = Vec::new();
            let mut notify = None;
            let mut obuf = Vec::new();
            for pair in argv[2..].chunks(2) {
                let name = String::from_utf8_lossy(&pair[0]).to_lowercase();
                match SETTINGS.iter().find(|(n, _)| *n == name) {
                    None => {
                        return Err(CmdError::new(format!(
                            "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                        )))
                    }
                    Some((_, false)) => {
                        return Err(CmdError::new(format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
                        )))
                    }
                    Some(_) => {}
                }
                match name.as_str() {
                    "maxclients" => match args::parse_i64_opt(&pair[1]) {
                        Some(v) if v >= 1 => changes.push(v as usize),
                        _ => {
                            return Err(CmdError::new(format!(
                                "ERR CONFIG SET failed (possibly related to argument '{name}') - argument must be a positive integer"
                            )))
                        }
                    },
                    "notify-keyspace-events" => match engine::events::parse_flags(&pair[1]) {
                        Some(f) => notify = Some(f),
                        None => {
                            return Err(CmdError::new(format!(
                                "ERR CONFIG SET failed (possibly related to argument '{name}') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                            )))
                        }
                    },
                    "client-output-buffer-limit" => {
                        let value = String::from_utf8_lossy(&pair[1]).into_owned();
                        // Checked on a scratch copy: nothing changes unless all is valid.
                        if let Err(why) = crate::clients::OutputLimits::default().set(&value) {
                            return Err(CmdError::new(format!(
                                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
                            )));
                        }
                        obuf.push(value);
                    }
                    _ => return Err(CmdError::new(format!("ERR CONFIG SET of '{name}' is not supported"))),
                }
            }
            for v in changes {
                shared.maxclients.store(v, Ordering::Relaxed);
            }
            if let Some(f) = notify {
                shared.broker.set_keyspace_flags(f);
            }
            for v in obuf {
                let _ = shared.obuf.set(&v);
            }
            Ok(Frame::ok())
        }
        "RESETSTAT" if argv.len() == 2 => {
            shared.stats.reset();
            Ok(Frame::ok())
        }
        "HELP" if argv.len() == 2 => Ok(Frame::Array(
            [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|s| Frame::Simple(s.to_string()))
            .collect(),
        )),
        "GET" | "SET" | "RESETSTAT" | "HELP" => Err(CmdError::new(format!(
            "ERR wrong number of arguments for 'config|{}' command",
            sub.to_lowercase()
        ))),
        _ => Err(CmdError::unknown_subcommand(&argv[1], "CONFIG")),
    }
}
