//! INFO and CONFIG: answered from node state.

use crate::shared::Shared;
use engine::{args, CmdError, Frame};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

fn bulk(s: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(s.into())
}

/// What INFO with no argument (or `default`) shows, in Redis's order (`raft` is
/// Meridian's own).
const DEFAULT_SECTIONS: [&str; 12] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
    "raft",
];

/// Every section in the order Redis prints them: `all` / `everything` add
/// commandstats and latencystats to the default ones.
const ALL_SECTIONS: [&str; 14] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    "raft",
];

pub fn info(shared: &Shared, argv: &[Vec<u8>]) -> Frame {
    let wanted: Vec<String> = argv[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_lowercase())
        .collect();
    let every = wanted.iter().any(|w| w == "all" || w == "everything");
    let mut sections: Vec<&str> = Vec::new();
    if wanted.is_empty() || every || wanted.iter().any(|w| w == "default") {
        sections.extend(DEFAULT_SECTIONS);
    }
    // Named sections (all of them for `all` / `everything`), in Redis's order.
    for k in ALL_SECTIONS {
        if !sections.contains(&k) && (every || wanted.iter().any(|w| w == k)) {
            sections.push(k);
        }
    }
    sections.sort_by_key(|s| ALL_SECTIONS.iter().position(|d| d == s));
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
    match name {
        "server" => {
            let up = shared.started.elapsed().as_secs();
            let now_usec = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64);
            let _ = write!(
                o,
                "# Server\r\nredis_version:7.2.4\r\nredis_git_sha1:{}\r\nredis_git_dirty:{}\r\nredis_build_id:{}\r\nmeridian_version:{}\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:{}\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{:040x}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n",
                // From the build (build.rs), as Redis's mkreleasehdr.sh.
                env!("MERIDIAN_GIT_SHA1"),
                env!("MERIDIAN_GIT_DIRTY"),
                env!("MERIDIAN_BUILD_ID"),
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH,
                // tokio's reactor.
                if cfg!(target_os = "linux") { "epoll" } else { "kqueue" },
                std::process::id(),
                shared.started.elapsed().as_nanos() as u128 ^ (std::process::id() as u128) << 64,
                shared.local.port(),
                now_usec,
                up,
                up / 86400,
                // Redis's LRU clock: seconds, 24 bits (hz 10: the expiry sweep's 100 ms).
                (now_usec / 1_000_000) & ((1 << 24) - 1),
                std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
                shared.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            );
        }
        "clients" => {
            let _ = write!(
                o,
                "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\n",
                shared.clients.count(),
                shared.maxclients.load(Ordering::Relaxed),
                shared.broker.blocked_clients() + shared.clients.paused_waiting()
            );
            let _ = write!(
                o,
                "tracking_clients:{}\r\n",
                shared.broker.tracking.clients()
            );
        }
        "memory" => {
            let rss = rss_bytes();
            let store = node.storage().memory_bytes();
            // The capacity quota: the accounted data size (engine::quota) and the limits.
            let dataset = engine::quota::used(&**node.storage());
            let max = shared.reads.setting(&engine::settings::MAXMEMORY);
            let policy = &engine::settings::MAXMEMORY_POLICY;
            let _ = write!(
                o,
                "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_dataset:{dataset}\r\nused_memory_storage_tables:{store}\r\nused_disk_bytes:{}\r\nmaxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\n",
                human(rss),
                node.storage().disk_bytes(),
                human(max),
                policy.show(shared.reads.setting(policy))
            );
            let t = node.tier().stats();
            let _ = write!(
                o,
                "memory_tier_sets:{}\r\nmemory_tier_bytes:{}\r\nmemory_tier_hits:{}\r\nmemory_tier_builds:{}\r\nmemory_tier_evictions:{}\r\n",
                t.entries, t.bytes, t.hits, t.builds, t.evictions
            );
            let k = node.storage().key_tier().stats();
            let _ = write!(
                o,
                "memory_tier_budget:{}\r\nmemory_tier_keys:{}\r\nmemory_tier_keys_negative:{}\r\nmemory_tier_keys_bytes:{}\r\nmemory_tier_keys_budget:{}\r\nmemory_tier_keys_hits:{}\r\nmemory_tier_keys_misses:{}\r\nmemory_tier_keys_evictions:{}\r\n",
                node.tier().budget() as u64 + k.budget,
                k.entries,
                k.negative,
                k.bytes,
                k.budget,
                k.hits,
                k.misses,
                k.evictions
            );
            let (scripts, script_bytes) = crate::server_cmds::script_cache(shared);
            let _ = write!(
                o,
                "used_memory_scripts:{script_bytes}\r\nnumber_of_cached_scripts:{scripts}\r\n"
            );
            // Deleting a value is O(1) records here (a range delete RocksDB reclaims at
            // compaction): nothing is ever freed by a background thread, as Redis's
            // lazyfree does, so neither counter moves.
            o.push_str("lazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n");
        }
        "persistence" => {
            let st = &node.storage().stats;
            let _ = write!(
                o,
                "# Persistence\r\nloading:0\r\naof_enabled:1\r\naof_fsync:always\r\nraft_log_fsyncs:{}\r\nraft_log_fsync_usec:{}\r\nstate_batches_written:{}\r\nstate_records_written:{}\r\nstate_flushes:{}\r\nstate_applied_at_start:{}\r\nrdb_changes_since_last_save:{}\r\nrdb_last_save_time:{}\r\n",
                st.wal_syncs.load(Ordering::Relaxed),
                st.wal_sync_micros.load(Ordering::Relaxed),
                st.batches_written.load(Ordering::Relaxed),
                st.records_written.load(Ordering::Relaxed),
                st.state_flushes.load(Ordering::Relaxed),
                st.applied_at_open.load(Ordering::Relaxed),
                // Log entries applied since the latest snapshot (the "save" here).
                node.applied_index()
                    .saturating_sub(node.node_status().snapshot_index),
                crate::server_cmds::last_save(shared),
            );
        }
        "stats" => {
            let s = &shared.stats;
            let _ = write!(
                o,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ninstantaneous_ops_per_sec:{}\r\nrejected_connections:{}\r\ntotal_error_replies:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsub_messages_delivered:{}\r\npubsub_stale_messages_skipped:{}\r\n",
                s.connections_received.load(Ordering::Relaxed),
                s.commands_processed.load(Ordering::Relaxed),
                s.net_input_bytes.load(Ordering::Relaxed),
                s.net_output_bytes.load(Ordering::Relaxed),
                s.ops_per_sec().round() as u64,
                s.rejected_connections.load(Ordering::Relaxed),
                s.error_replies.load(Ordering::Relaxed),
                shared.broker.expired_keys.load(Ordering::Relaxed),
                s.evicted_keys.load(Ordering::Relaxed)
                    + engine::quota::EVICTED_KEYS.load(Ordering::Relaxed),
                shared.broker.channels(crate::pubsub::Kind::Channel, None).len(),
                shared.broker.numpat(),
                shared.broker.messages_delivered.load(Ordering::Relaxed),
                shared.broker.stale_skipped.load(Ordering::Relaxed),
            );
            let (keys, items, prefixes) = shared.broker.tracking.totals();
            let _ = write!(
                o,
                "tracking_total_keys:{keys}\r\ntracking_total_items:{items}\r\ntracking_total_prefixes:{prefixes}\r\n"
            );
        }
        "replication" => {
            let ns = node.node_status();
            let st = &ns.cluster;
            let leader = st.leader == Some(node.id());
            let me_voter = st.members.iter().any(|x| x.id == node.id() && x.voter);
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
                node.region(),
                node.id(),
                st.leader.map_or(-1, |l| l as i64),
                leader_addr,
                st.term,
                st.last_log_index,
                ns.committed,
                node.applied_index(),
                node.applied_index(),
                st.members.len().saturating_sub(1),
            );
            // The global database's clock and epoch (issue 16): the last applied entry's
            // HLC stamp and how far it runs ahead of this node's wall clock (a leader
            // clock that ran ahead, or a stamp merged from another history).
            let stamp = node
                .storage()
                .sm_get(keys::sm::HLC)
                .ok()
                .flatten()
                .and_then(|raw| keys::hlc::Stamp::decode(&raw))
                .unwrap_or_default();
            let _ = write!(
                o,
                "hlc:{}\r\nhlc_ahead_ms:{}\r\ncluster_epoch:{}\r\n",
                stamp,
                stamp.ms().saturating_sub(consensus::now_ms()),
                consensus::epoch(),
            );
            if let Some(f) = node.failover_record() {
                let _ = write!(
                    o,
                    "last_failover:epoch={},region={},fork_index={},seed={}\r\n",
                    f.epoch, f.region, f.fork_index, f.seed
                );
            }
            let mut n = 0;
            let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
            for mem in st.members.iter().filter(|x| x.id != node.id()) {
                let lag = mem.matched.map(|x| st.last_log_index.saturating_sub(x));
                let row = st.member_region(mem.id);
                let region = st.region_of(mem.id);
                let _ = write!(
                    o,
                    "member{n}:id={},addr={},role={},matched={},lag={},region={},lag_ms={},last_contact_ms={}\r\n",
                    mem.id,
                    mem.addr,
                    if mem.voter { "voter" } else { "replica" },
                    mem.matched.map_or("-".into(), |x| x.to_string()),
                    lag.map_or("-".into(), |x| x.to_string()),
                    if region.is_empty() { "-" } else { region },
                    opt(row.and_then(|r| r.lag_ms)),
                    opt(row.and_then(|r| r.last_contact_ms)),
                );
                n += 1;
            }
            if !leader {
                let own = st.member_region(node.id()).and_then(|r| r.last_contact_ms);
                let _ = write!(o, "leader_last_contact_ms:{}\r\n", opt(own));
            }
            // Per region (the primary first): members, and the worst lag and contact
            // among them as this node sees them (lags are known on the leader).
            for (i, r) in st.region_summary().iter().enumerate() {
                let _ = write!(o, "region{i}:{}\r\n", consensus::region_info_fields(r));
            }
            // Anti-entropy (rounds run on the leader) and this node's digest scrub.
            let ae = &consensus::AE_STATS;
            let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            let last = get(&ae.last_round_ms);
            let _ = write!(
                o,
                "ae_rounds:{}\r\nae_slots_compared:{}\r\nae_slots_differing:{}\r\nae_keys_repaired:{}\r\nae_member_errors:{}\r\nae_last_round_ms_ago:{}\r\nscrub_slots_checked:{}\r\nscrub_slots_fixed:{}\r\n",
                get(&ae.rounds),
                get(&ae.slots_compared),
                get(&ae.slots_differing),
                get(&ae.keys_repaired),
                get(&ae.member_errors),
                if last == 0 { -1 } else { consensus::now_ms().saturating_sub(last) as i64 },
                get(&ae.scrub_slots),
                get(&ae.scrub_fixed),
            );
        }
        "raft" => {
            let ns = node.node_status();
            let _ = write!(
                o,
                "# Raft\r\nraft_state:{}\r\nraft_last_log_index:{}\r\nraft_snapshot_index:{}\r\nraft_purged_index:{}\r\nraft_members:{}\r\n",
                ns.role,
                ns.cluster.last_log_index,
                ns.snapshot_index,
                ns.purged_index,
                ns.voters(),
            );
        }
        "keyspace" => {
            o.push_str("# Keyspace\r\n");
            for (db, keys) in crate::server_cmds::db_sizes(shared) {
                if keys > 0 {
                    // Counted from the key records: exact up to 10,000 keys a database,
                    // scaled from the first 10,000 beyond (avg_ttl is a sample in Redis too).
                    let (expires, avg_ttl) =
                        crate::server_cmds::expires_of(shared, db, keys, 10_000);
                    let _ = write!(
                        o,
                        "db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
                    );
                }
            }
        }
        "cpu" => {
            let (sys, user) = cpu_seconds(false);
            let (csys, cuser) = cpu_seconds(true);
            let _ = write!(
                o,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:{csys:.6}\r\nused_cpu_user_children:{cuser:.6}\r\n"
            );
        }
        "errorstats" => {
            o.push_str("# Errorstats\r\n");
            let mut errs: Vec<(String, u64)> = shared
                .stats
                .errors
                .lock()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default();
            errs.sort();
            for (prefix, n) in errs {
                let _ = write!(o, "errorstat_{prefix}:count={n}\r\n");
            }
        }
        "cluster" => o.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        // No modules can be loaded.
        "modules" => o.push_str("# Modules\r\n"),
        "latencystats" => crate::latency::info_section(shared, o),
        "commandstats" => {
            o.push_str("# Commandstats\r\n");
            for (i, (c, v)) in engine::COMMANDS()
                .iter()
                .zip(&shared.stats.per_cmd)
                .enumerate()
            {
                let calls = v[0].load(Ordering::Relaxed);
                let rejected = shared.stats.rejected[i].load(Ordering::Relaxed);
                if calls == 0 && rejected == 0 {
                    continue;
                }
                let usec = v[1].load(Ordering::Relaxed);
                let _ = write!(
                    o,
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={:.2},rejected_calls={rejected},failed_calls={}\r\n",
                    c.name,
                    if calls == 0 { 0.0 } else { usec as f64 / calls as f64 },
                    v[2].load(Ordering::Relaxed)
                );
            }
        }
        _ => {}
    }
}

/// The layout of Linux's `struct rusage` on 64-bit targets.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[repr(C)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    rest: [i64; 14],
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
extern "C" {
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

/// (system, user) CPU seconds of this process, or of its waited-for children.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub(crate) fn cpu_seconds(children: bool) -> (f64, f64) {
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    let mut r = Rusage {
        utime: [0; 2],
        stime: [0; 2],
        rest: [0; 14],
    };
    // SAFETY: `r` is a valid, writable struct rusage for the duration of the call.
    let rc = unsafe {
        getrusage(
            if children {
                RUSAGE_CHILDREN
            } else {
                RUSAGE_SELF
            },
            &mut r,
        )
    };
    if rc != 0 {
        return (0.0, 0.0);
    }
    let secs = |tv: [i64; 2]| tv[0] as f64 + tv[1] as f64 / 1e6;
    (secs(r.stime), secs(r.utime))
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
pub(crate) fn cpu_seconds(_children: bool) -> (f64, f64) {
    (0.0, 0.0)
}

pub(crate) fn rss_bytes() -> u64 {
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

/// How CONFIG SET checks a parameter's value (Redis 7.0's rules).
#[derive(Clone, Copy)]
enum Kind {
    /// Fixed at startup ("can't set immutable config").
    Immutable,
    /// Redis refuses it unless enable-protected-configs ("can't set protected config").
    Protected,
    Bool,
    Int(i64, i64),
    /// Bytes, with an optional k/kb/m/mb/g/gb unit.
    Mem,
    MemOrPercent,
    Enum(&'static [&'static str]),
    /// Pairs of integers (seconds changes ...) or "".
    Save,
    Percentiles,
    /// Any string.
    Str,
    /// Checked and applied by name (see `check_special`).
    Special,
}

/// One Redis 7.0 parameter: name, value until set, check, and the name it is an alias of.
struct Param {
    name: &'static str,
    default: &'static str,
    kind: Kind,
    alias_of: Option<&'static str>,
}

impl Param {
    fn canonical(&self) -> &'static str {
        self.alias_of.unwrap_or(self.name)
    }
}

const fn p(
    name: &'static str,
    default: &'static str,
    kind: Kind,
    alias_of: Option<&'static str>,
) -> Param {
    Param {
        name,
        default,
        kind,
        alias_of,
    }
}

/// Every parameter `CONFIG GET *` lists in redis-server 7.0.15, with its default and
/// check. The ones Meridian acts on are read and applied in `live` and `apply`; the
/// rest are stored per node in `Shared::tunables` and otherwise ignored.
const PARAMS: &[Param] = &[
    p(
        "acl-pubsub-default",
        "resetchannels",
        Kind::Enum(&["allchannels", "resetchannels"]),
        None,
    ),
    p("aclfile", "", Kind::Immutable, None),
    p(
        "acllog-max-len",
        "128",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p("active-defrag-cycle-max", "25", Kind::Int(1, 99), None),
    p("active-defrag-cycle-min", "1", Kind::Int(1, 99), None),
    p("active-defrag-ignore-bytes", "104857600", Kind::Mem, None),
    p(
        "active-defrag-max-scan-fields",
        "1000",
        Kind::Int(1, 9223372036854775807),
        None,
    ),
    p(
        "active-defrag-threshold-lower",
        "10",
        Kind::Int(0, 1000),
        None,
    ),
    p(
        "active-defrag-threshold-upper",
        "100",
        Kind::Int(0, 1000),
        None,
    ),
    p("active-expire-effort", "1", Kind::Int(1, 10), None),
    p("activedefrag", "no", Kind::Bool, None),
    p("activerehashing", "yes", Kind::Bool, None),
    p("always-show-logo", "no", Kind::Immutable, None),
    p("aof-disable-auto-gc", "no", Kind::Bool, None),
    p("aof-load-truncated", "yes", Kind::Bool, None),
    p("aof-rewrite-incremental-fsync", "yes", Kind::Bool, None),
    p("aof-timestamp-enabled", "no", Kind::Bool, None),
    p("aof-use-rdb-preamble", "yes", Kind::Bool, None),
    p("aof_rewrite_cpulist", "", Kind::Immutable, None),
    p("appenddirname", "appendonlydir", Kind::Immutable, None),
    p("appendfilename", "appendonly.aof", Kind::Immutable, None),
    p(
        "appendfsync",
        "always",
        Kind::Enum(&["everysec", "always", "no"]),
        None,
    ),
    p("appendonly", "yes", Kind::Bool, None),
    p("auto-aof-rewrite-min-size", "67108864", Kind::Mem, None),
    p(
        "auto-aof-rewrite-percentage",
        "100",
        Kind::Int(0, 2147483647),
        None,
    ),
    p("bgsave_cpulist", "", Kind::Immutable, None),
    p("bind", "", Kind::Immutable, None),
    p("bind-source-addr", "", Kind::Str, None),
    p("bio_cpulist", "", Kind::Immutable, None),
    p(
        "busy-reply-threshold",
        "5000",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::Special,
        None,
    ),
    p("client-query-buffer-limit", "1073741824", Kind::Mem, None),
    p(
        "cluster-allow-pubsubshard-when-down",
        "yes",
        Kind::Bool,
        None,
    ),
    p("cluster-allow-reads-when-down", "no", Kind::Bool, None),
    p("cluster-allow-replica-migration", "yes", Kind::Bool, None),
    p("cluster-announce-bus-port", "0", Kind::Int(0, 65535), None),
    p("cluster-announce-hostname", "", Kind::Str, None),
    p("cluster-announce-ip", "", Kind::Str, None),
    p("cluster-announce-port", "0", Kind::Int(0, 65535), None),
    p("cluster-announce-tls-port", "0", Kind::Int(0, 65535), None),
    p("cluster-config-file", "nodes.conf", Kind::Immutable, None),
    p("cluster-enabled", "no", Kind::Immutable, None),
    p("cluster-link-sendbuf-limit", "0", Kind::Mem, None),
    p(
        "cluster-migration-barrier",
        "1",
        Kind::Int(0, 2147483647),
        None,
    ),
    p(
        "cluster-node-timeout",
        "15000",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p("cluster-port", "0", Kind::Immutable, None),
    p(
        "cluster-preferred-endpoint-type",
        "ip",
        Kind::Enum(&["ip", "hostname", "unknown-endpoint"]),
        None,
    ),
    p("cluster-replica-no-failover", "no", Kind::Bool, None),
    p(
        "cluster-replica-validity-factor",
        "10",
        Kind::Int(0, 2147483647),
        None,
    ),
    p("cluster-require-full-coverage", "yes", Kind::Bool, None),
    p(
        "cluster-slave-no-failover",
        "no",
        Kind::Bool,
        Some("cluster-replica-no-failover"),
    ),
    p(
        "cluster-slave-validity-factor",
        "10",
        Kind::Int(0, 2147483647),
        Some("cluster-replica-validity-factor"),
    ),
    p("crash-log-enabled", "yes", Kind::Bool, None),
    p("crash-memcheck-enabled", "yes", Kind::Bool, None),
    p("daemonize", "no", Kind::Immutable, None),
    p("databases", "16", Kind::Immutable, None),
    p("dbfilename", "dump.rdb", Kind::Protected, None),
    p("dir", "", Kind::Protected, None),
    p("disable-thp", "yes", Kind::Immutable, None),
    p("dynamic-hz", "yes", Kind::Bool, None),
    p("enable-debug-command", "no", Kind::Immutable, None),
    p("enable-module-command", "no", Kind::Immutable, None),
    p("enable-protected-configs", "no", Kind::Immutable, None),
    p(
        "hash-max-listpack-entries",
        "512",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p("hash-max-listpack-value", "64", Kind::Mem, None),
    p(
        "hash-max-ziplist-entries",
        "512",
        Kind::Int(0, 9223372036854775807),
        Some("hash-max-listpack-entries"),
    ),
    p(
        "hash-max-ziplist-value",
        "64",
        Kind::Mem,
        Some("hash-max-listpack-value"),
    ),
    p("hll-sparse-max-bytes", "3000", Kind::Mem, None),
    p("hz", "10", Kind::Int(0, 2147483647), None),
    p("ignore-warnings", "", Kind::Str, None),
    p("io-threads", "1", Kind::Immutable, None),
    p("io-threads-do-reads", "no", Kind::Immutable, None),
    p("jemalloc-bg-thread", "yes", Kind::Bool, None),
    p(
        "latency-monitor-threshold",
        "0",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p("latency-tracking", "yes", Kind::Bool, None),
    p(
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        Kind::Percentiles,
        None,
    ),
    p("lazyfree-lazy-eviction", "no", Kind::Bool, None),
    p("lazyfree-lazy-expire", "no", Kind::Bool, None),
    p("lazyfree-lazy-server-del", "no", Kind::Bool, None),
    p("lazyfree-lazy-user-del", "no", Kind::Bool, None),
    p("lazyfree-lazy-user-flush", "no", Kind::Bool, None),
    p("lfu-decay-time", "1", Kind::Int(0, 2147483647), None),
    p("lfu-log-factor", "10", Kind::Int(0, 2147483647), None),
    p("list-compress-depth", "0", Kind::Int(0, 2147483647), None),
    p(
        "list-max-listpack-size",
        "-2",
        Kind::Int(-2147483648, 2147483647),
        None,
    ),
    p(
        "list-max-ziplist-size",
        "-2",
        Kind::Int(-2147483648, 2147483647),
        Some("list-max-listpack-size"),
    ),
    p("logfile", "", Kind::Immutable, None),
    p(
        "loglevel",
        "notice",
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        None,
    ),
    p(
        "lua-time-limit",
        "5000",
        Kind::Int(0, 9223372036854775807),
        Some("busy-reply-threshold"),
    ),
    p("masterauth", "", Kind::Str, None),
    p("masteruser", "", Kind::Str, None),
    p("maxclients", "10000", Kind::Int(1, 4294967295), None),
    p("maxmemory-clients", "0", Kind::MemOrPercent, None),
    p("maxmemory-eviction-tenacity", "10", Kind::Int(0, 100), None),
    p("maxmemory-samples", "5", Kind::Int(1, 2147483647), None),
    p("meridian-memory-mb", "512", Kind::Int(1, 1048576), None),
    p("min-replicas-max-lag", "10", Kind::Int(0, 2147483647), None),
    p("min-replicas-to-write", "0", Kind::Int(0, 2147483647), None),
    p(
        "min-slaves-max-lag",
        "10",
        Kind::Int(0, 2147483647),
        Some("min-replicas-max-lag"),
    ),
    p(
        "min-slaves-to-write",
        "0",
        Kind::Int(0, 2147483647),
        Some("min-replicas-to-write"),
    ),
    p("no-appendfsync-on-rewrite", "no", Kind::Bool, None),
    p("notify-keyspace-events", "", Kind::Special, None),
    p(
        "oom-score-adj",
        "no",
        Kind::Enum(&["no", "yes", "relative", "absolute"]),
        None,
    ),
    p("oom-score-adj-values", "0 200 800", Kind::Special, None),
    p("pidfile", "", Kind::Immutable, None),
    p("port", "", Kind::Immutable, None),
    p(
        "proc-title-template",
        "{title} {listen-addr} {server-mode}",
        Kind::Str,
        None,
    ),
    p(
        "propagation-error-behavior",
        "ignore",
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
        None,
    ),
    p("protected-mode", "yes", Kind::Bool, None),
    p("proto-max-bulk-len", "536870912", Kind::Immutable, None),
    p("rdb-del-sync-files", "no", Kind::Bool, None),
    p("rdb-save-incremental-fsync", "yes", Kind::Bool, None),
    p("rdbchecksum", "yes", Kind::Immutable, None),
    p("rdbcompression", "yes", Kind::Bool, None),
    p("repl-backlog-size", "1048576", Kind::Mem, None),
    p(
        "repl-backlog-ttl",
        "3600",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p("repl-disable-tcp-nodelay", "no", Kind::Bool, None),
    p(
        "repl-diskless-load",
        "disabled",
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"]),
        None,
    ),
    p("repl-diskless-sync", "yes", Kind::Bool, None),
    p(
        "repl-diskless-sync-delay",
        "5",
        Kind::Int(0, 2147483647),
        None,
    ),
    p(
        "repl-diskless-sync-max-replicas",
        "0",
        Kind::Int(0, 2147483647),
        None,
    ),
    p(
        "repl-ping-replica-period",
        "10",
        Kind::Int(1, 2147483647),
        None,
    ),
    p(
        "repl-ping-slave-period",
        "10",
        Kind::Int(1, 2147483647),
        Some("repl-ping-replica-period"),
    ),
    p("repl-timeout", "60", Kind::Int(1, 2147483647), None),
    p("replica-announce-ip", "", Kind::Str, None),
    p("replica-announce-port", "0", Kind::Int(0, 65535), None),
    p("replica-announced", "yes", Kind::Bool, None),
    p("replica-ignore-disk-write-errors", "no", Kind::Bool, None),
    p("replica-ignore-maxmemory", "yes", Kind::Bool, None),
    p("replica-lazy-flush", "no", Kind::Bool, None),
    p("replica-priority", "100", Kind::Int(0, 2147483647), None),
    p("replica-read-only", "yes", Kind::Bool, None),
    p("replica-serve-stale-data", "yes", Kind::Bool, None),
    p("replicaof", "", Kind::Immutable, None),
    p("requirepass", "", Kind::Immutable, None),
    p(
        "sanitize-dump-payload",
        "no",
        Kind::Enum(&["no", "yes", "clients"]),
        None,
    ),
    p("save", "3600 1 300 100 60 10000", Kind::Save, None),
    p("server_cpulist", "", Kind::Immutable, None),
    p(
        "set-max-intset-entries",
        "512",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p("set-proc-title", "yes", Kind::Immutable, None),
    p(
        "shutdown-on-sigint",
        "default",
        Kind::Enum(&["default", "save", "nosave", "now", "force"]),
        None,
    ),
    p(
        "shutdown-on-sigterm",
        "default",
        Kind::Enum(&["default", "save", "nosave", "now", "force"]),
        None,
    ),
    p("shutdown-timeout", "10", Kind::Int(0, 2147483647), None),
    p(
        "slave-announce-ip",
        "",
        Kind::Str,
        Some("replica-announce-ip"),
    ),
    p(
        "slave-announce-port",
        "0",
        Kind::Int(0, 65535),
        Some("replica-announce-port"),
    ),
    p(
        "slave-ignore-maxmemory",
        "yes",
        Kind::Bool,
        Some("replica-ignore-maxmemory"),
    ),
    p(
        "slave-lazy-flush",
        "no",
        Kind::Bool,
        Some("replica-lazy-flush"),
    ),
    p(
        "slave-priority",
        "100",
        Kind::Int(0, 2147483647),
        Some("replica-priority"),
    ),
    p(
        "slave-read-only",
        "yes",
        Kind::Bool,
        Some("replica-read-only"),
    ),
    p(
        "slave-serve-stale-data",
        "yes",
        Kind::Bool,
        Some("replica-serve-stale-data"),
    ),
    p("slaveof", "", Kind::Immutable, Some("replicaof")),
    p(
        "slowlog-log-slower-than",
        "10000",
        Kind::Int(-1, 9223372036854775807),
        None,
    ),
    p(
        "slowlog-max-len",
        "128",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p("socket-mark-id", "0", Kind::Immutable, None),
    p("stop-writes-on-bgsave-error", "yes", Kind::Bool, None),
    p("stream-node-max-bytes", "4096", Kind::Mem, None),
    p(
        "stream-node-max-entries",
        "100",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p("supervised", "no", Kind::Immutable, None),
    p("syslog-enabled", "no", Kind::Immutable, None),
    p("syslog-facility", "local0", Kind::Immutable, None),
    p("syslog-ident", "redis", Kind::Immutable, None),
    p("tcp-backlog", "511", Kind::Immutable, None),
    p("tcp-keepalive", "300", Kind::Int(0, 2147483647), None),
    p("timeout", "0", Kind::Int(0, 2147483647), None),
    p(
        "tls-auth-clients",
        "yes",
        Kind::Enum(&["no", "yes", "optional"]),
        None,
    ),
    p("tls-ca-cert-dir", "", Kind::Str, None),
    p("tls-ca-cert-file", "", Kind::Str, None),
    p("tls-cert-file", "", Kind::Str, None),
    p("tls-ciphers", "", Kind::Str, None),
    p("tls-ciphersuites", "", Kind::Str, None),
    p("tls-client-cert-file", "", Kind::Str, None),
    p("tls-client-key-file", "", Kind::Str, None),
    p("tls-client-key-file-pass", "", Kind::Str, None),
    p("tls-cluster", "no", Kind::Bool, None),
    p("tls-dh-params-file", "", Kind::Str, None),
    p("tls-key-file", "", Kind::Str, None),
    p("tls-key-file-pass", "", Kind::Str, None),
    p("tls-port", "0", Kind::Int(0, 65535), None),
    p("tls-prefer-server-ciphers", "no", Kind::Bool, None),
    p("tls-protocols", "", Kind::Str, None),
    p("tls-replication", "no", Kind::Bool, None),
    p(
        "tls-session-cache-size",
        "20480",
        Kind::Int(0, 2147483647),
        None,
    ),
    p(
        "tls-session-cache-timeout",
        "300",
        Kind::Int(0, 2147483647),
        None,
    ),
    p("tls-session-caching", "yes", Kind::Bool, None),
    p(
        "tracking-table-max-keys",
        "1000000",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p("unixsocket", "", Kind::Immutable, None),
    p("unixsocketperm", "0", Kind::Immutable, None),
    p(
        "zset-max-listpack-entries",
        "128",
        Kind::Int(0, 9223372036854775807),
        None,
    ),
    p("zset-max-listpack-value", "64", Kind::Mem, None),
    p(
        "zset-max-ziplist-entries",
        "128",
        Kind::Int(0, 9223372036854775807),
        Some("zset-max-listpack-entries"),
    ),
    p(
        "zset-max-ziplist-value",
        "64",
        Kind::Mem,
        Some("zset-max-listpack-value"),
    ),
];

fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name == name)
}

/// Values that come from the node rather than from what CONFIG SET stored.
fn live(shared: &Shared, canonical: &str) -> Option<String> {
    Some(match canonical {
        "bind" => shared.cfg.bind.clone(),
        "port" => shared.local.port().to_string(),
        "databases" => keys::DATABASES.to_string(),
        "dir" => shared.cfg.data_dir.display().to_string(),
        "maxclients" => shared.maxclients.load(Ordering::Relaxed).to_string(),
        // Meridian's --io-threads: the workers that run connections (and everything else).
        "io-threads" => shared.cfg.io_threads.to_string(),
        "proto-max-bulk-len" => (512u64 << 20).to_string(),
        "meridian-memory-mb" => crate::reads::memory_mb(&shared.node).to_string(),
        // Not shown, as Meridian's password is set with --password / ACL SETUSER.
        "requirepass" => String::new(),
        "cluster-enabled" => "no".into(),
        "notify-keyspace-events" => {
            engine::events::flags_to_string(shared.broker.keyspace_flags_value())
        }
        "client-output-buffer-limit" => shared.obuf.config_string(),
        "busy-reply-threshold" => shared.busy_after_ms.load(Ordering::Relaxed).to_string(),
        _ => return None,
    })
}

fn value_of(shared: &Shared, p: &Param) -> String {
    if let Some(v) = live(shared, p.canonical()) {
        return v;
    }
    if let Some(v) = shared
        .tunables
        .lock()
        .ok()
        .and_then(|t| t.get(p.canonical()).cloned())
    {
        return v;
    }
    match param(p.canonical()) {
        Some(c) => c.default.to_string(),
        None => p.default.to_string(),
    }
}

/// Redis's memtoll: digits with an optional unit; None if malformed or negative.
fn parse_memory(v: &str) -> Option<u64> {
    let lower = v.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// Checks a value as Redis 7.0 would; Ok(the value as CONFIG GET then shows it).
fn check(p: &Param, raw: &[u8]) -> Result<String, String> {
    let v = String::from_utf8_lossy(raw).into_owned();
    match p.kind {
        Kind::Immutable => Err("can't set immutable config".into()),
        Kind::Protected => Err("can't set protected config".into()),
        Kind::Str => Ok(v),
        Kind::Bool => match v.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(lo, hi) => {
            let n: i64 = v
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if n < lo || n > hi {
                return Err(format!("argument must be between {lo} and {hi} inclusive"));
            }
            Ok(n.to_string())
        }
        Kind::Mem => parse_memory(&v)
            .filter(|&n| n <= i64::MAX as u64)
            .map(|n| n.to_string())
            .ok_or_else(|| "argument must be a memory value".into()),
        Kind::MemOrPercent => {
            if let Some(pct) = v.strip_suffix('%') {
                match pct.parse::<u64>() {
                    Ok(n) if n > 100 => {
                        Err("percentage argument must be less or equal to 100".into())
                    }
                    Ok(n) => Ok(format!("{n}%")),
                    Err(_) => Err("argument must be a memory or percent value".into()),
                }
            } else {
                parse_memory(&v)
                    .map(|n| n.to_string())
                    .ok_or_else(|| "argument must be a memory or percent value".into())
            }
        }
        Kind::Enum(opts) => {
            let lower = v.to_ascii_lowercase();
            match opts.iter().find(|o| **o == lower) {
                Some(o) => Ok(o.to_string()),
                None => Err(format!(
                    "argument(s) must be one of the following: {}",
                    opts.join(", ")
                )),
            }
        }
        Kind::Save => {
            let parts: Vec<&str> = v.split_whitespace().collect();
            let ok = parts.len() % 2 == 0 && parts.iter().all(|x| x.parse::<u32>().is_ok());
            if !ok {
                return Err("Invalid save parameters".into());
            }
            Ok(parts
                .iter()
                .map(|x| x.parse::<u32>().unwrap_or(0).to_string())
                .collect::<Vec<_>>()
                .join(" "))
        }
        Kind::Percentiles => {
            let parts: Vec<&str> = v.split_whitespace().collect();
            let ok = parts
                .iter()
                .all(|x| x.parse::<f64>().is_ok_and(|f| (0.0..=100.0).contains(&f)));
            if !ok {
                return Err("Invalid latency-tracking-info-percentiles parameters".into());
            }
            Ok(parts.join(" "))
        }
        Kind::Special => check_special(p.name, &v),
    }
}

fn check_special(name: &str, v: &str) -> Result<String, String> {
    match name {
        "notify-keyspace-events" => match engine::events::parse_flags(v.as_bytes()) {
            Some(_) => Ok(v.to_string()),
            None => Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        },
        // Checked on a scratch copy: nothing changes unless all is valid.
        "client-output-buffer-limit" => crate::clients::OutputLimits::default()
            .set(v)
            .map(|_| v.to_string())
            .map_err(|why| why.to_string()),
        "oom-score-adj-values" => {
            let parts: Vec<&str> = v.split_whitespace().collect();
            let ok = parts.len() == 3
                && parts
                    .iter()
                    .all(|x| x.parse::<i32>().is_ok_and(|n| (-2000..=2000).contains(&n)));
            if !ok {
                return Err("Invalid oom-score-adj-values".into());
            }
            Ok(parts.join(" "))
        }
        _ => Ok(v.to_string()),
    }
}

/// Applies one checked value: to the node where Meridian acts on it, else stored.
fn apply(shared: &Shared, p: &Param, v: String) {
    match p.canonical() {
        "maxclients" => shared
            .maxclients
            .store(v.parse().unwrap_or(10_000), Ordering::Relaxed),
        "busy-reply-threshold" => shared
            .busy_after_ms
            .store(v.parse().unwrap_or(5_000), Ordering::Relaxed),
        "meridian-memory-mb" => crate::reads::set_memory_budget(
            &shared.node,
            v.parse().unwrap_or(512),
            shared.cfg.tier_mb,
        ),
        "notify-keyspace-events" => {
            if let Some(f) = engine::events::parse_flags(v.as_bytes()) {
                shared.broker.set_keyspace_flags(f);
            }
        }
        "client-output-buffer-limit" => {
            let _ = shared.obuf.set(&v);
        }
        "tracking-table-max-keys" => {
            let n = v.parse().unwrap_or(crate::tracking::DEFAULT_MAX_KEYS);
            if let Ok(mut t) = shared.tunables.lock() {
                t.insert("tracking-table-max-keys", v);
            }
            shared.broker.tracking.set_max_keys(n);
        }
        name => {
            // The collection encoding limits OBJECT ENCODING reports by, and the
            // SLOWLOG settings (per node).
            if let Ok(n) = v.parse::<u64>() {
                engine::ENCODING_LIMITS.set(name, n);
            }
            match name {
                "slowlog-log-slower-than" => {
                    shared.slowlog.set_slower_than(v.parse().unwrap_or(10_000))
                }
                "slowlog-max-len" => shared.slowlog.set_max_len(v.parse().unwrap_or(128)),
                _ => shared.stats.latency.configure(name, &v),
            }
            if let Ok(mut t) = shared.tunables.lock() {
                t.insert(name, v);
            }
        }
    }
}

/// CONFIG REWRITE: the node settings CONFIG SET can change that the TOML file knows
/// (`maxclients`) are written into the --config file, other keys kept.
fn rewrite(shared: &Shared) -> Result<Frame, CmdError> {
    let Some(path) = &shared.config_file else {
        return Err(CmdError::new(
            "ERR The server is running without a config file",
        ));
    };
    let fail = |e: String| CmdError::new(format!("ERR Rewriting config file: {e}"));
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let mut doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| fail(e.to_string()))?;
    doc.insert(
        "maxclients".into(),
        toml::Value::Integer(shared.maxclients.load(Ordering::Relaxed) as i64),
    );
    let out = toml::to_string(&doc).map_err(|e| fail(e.to_string()))?;
    let tmp = path.with_extension("toml.rewrite");
    std::fs::write(&tmp, out)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| fail(e.to_string()))?;
    Ok(Frame::ok())
}

pub fn config(shared: &Shared, argv: &[Vec<u8>]) -> Result<Frame, CmdError> {
    let sub = args::upper(&argv[1]);
    match sub.as_str() {
        "GET" if argv.len() >= 3 => {
            let mut pairs = Vec::new();
            for p in PARAMS {
                if argv[2..]
                    .iter()
                    .any(|pat| engine::glob_match(pat, p.name.as_bytes(), true))
                {
                    pairs.push((bulk(p.name), bulk(value_of(shared, p))));
                }
            }
            Ok(Frame::Map(pairs))
        }
        "SET" if argv.len() >= 4 && argv.len() % 2 == 0 => {
            // Everything is checked before anything changes (all or nothing).
            let mut checked: Vec<(&'static Param, String)> = Vec::new();
            for pair in argv[2..].chunks(2) {
                let name = String::from_utf8_lossy(&pair[0]).to_lowercase();
                let Some(p) = param(&name) else {
                    return Err(CmdError::new(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                    )));
                };
                let failed = |why: &str| {
                    CmdError::new(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
                    ))
                };
                if checked.iter().any(|(q, _)| q.canonical() == p.canonical()) {
                    return Err(failed("duplicate parameter"));
                }
                let v = check(p, &pair[1]).map_err(|why| failed(&why))?;
                checked.push((p, v));
            }
            for (p, v) in checked {
                apply(shared, p, v);
            }
            Ok(Frame::ok())
        }
        "REWRITE" if argv.len() == 2 => rewrite(shared),
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
                "REWRITE",
                "    Write the current configuration to the --config file.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|s| Frame::Simple(s.to_string()))
            .collect(),
        )),
        "GET" | "SET" | "RESETSTAT" | "REWRITE" | "HELP" => Err(CmdError::new(format!(
            "ERR wrong number of arguments for 'config|{}' command",
            sub.to_lowercase()
        ))),
        _ => Err(CmdError::unknown_subcommand(&argv[1], "CONFIG")),
    }
}
