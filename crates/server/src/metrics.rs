//! Prometheus metrics (`GET /metrics` on the REST port, text format 0.0.4): the figures
//! INFO shows, from the same sources, named and typed for Prometheus, plus per-command
//! service-time histograms and quantiles (`latency::prometheus`).

use crate::shared::Shared;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

fn metric(o: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, v) in samples {
        if labels.is_empty() {
            let _ = writeln!(o, "{name} {v}");
        } else {
            let _ = writeln!(o, "{name}{{{labels}}} {v}");
        }
    }
}

fn one(v: u64) -> Vec<(String, f64)> {
    vec![(String::new(), v as f64)]
}

/// Label value escaping (backslash, quote, newline).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn render(shared: &Shared) -> String {
    let mut o = String::new();
    let s = &shared.stats;
    let node = &shared.node;
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);

    // Commands: calls, failed calls, rejected calls.
    let mut calls = Vec::new();
    let mut failed = Vec::new();
    let mut rejected = Vec::new();
    for (i, spec) in engine::COMMANDS().iter().enumerate() {
        let c = ld(&s.per_cmd[i][0]);
        let r = ld(&s.rejected[i]);
        if c == 0 && r == 0 {
            continue;
        }
        let l = format!("cmd=\"{}\"", spec.name);
        calls.push((l.clone(), c as f64));
        failed.push((l.clone(), ld(&s.per_cmd[i][2]) as f64));
        rejected.push((l, r as f64));
    }
    metric(
        &mut o,
        "meridian_commands_total",
        "counter",
        "Calls of each command.",
        &calls,
    );
    metric(
        &mut o,
        "meridian_command_errors_total",
        "counter",
        "Calls of each command that answered an error.",
        &failed,
    );
    metric(
        &mut o,
        "meridian_command_rejected_total",
        "counter",
        "Calls refused before they ran (arity, auth, ACL, BUSY).",
        &rejected,
    );
    crate::latency::prometheus(shared, &mut o);
    let errors: Vec<(String, f64)> = s
        .errors
        .lock()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (format!("prefix=\"{}\"", esc(k)), *v as f64))
                .collect()
        })
        .unwrap_or_default();
    metric(
        &mut o,
        "meridian_error_replies_total",
        "counter",
        "Error replies by their first word.",
        &errors,
    );

    // Clients and traffic.
    metric(
        &mut o,
        "meridian_connected_clients",
        "gauge",
        "Open client connections.",
        &one(shared.clients.count() as u64),
    );
    metric(
        &mut o,
        "meridian_blocked_clients",
        "gauge",
        "Clients in a blocking command.",
        &one(shared.broker.blocked_clients() as u64),
    );
    metric(
        &mut o,
        "meridian_connections_received_total",
        "counter",
        "Connections accepted.",
        &one(ld(&s.connections_received)),
    );
    metric(
        &mut o,
        "meridian_connections_rejected_total",
        "counter",
        "Connections refused (maxclients).",
        &one(ld(&s.rejected_connections)),
    );
    metric(
        &mut o,
        "meridian_net_input_bytes_total",
        "counter",
        "Bytes read from clients.",
        &one(ld(&s.net_input_bytes)),
    );
    metric(
        &mut o,
        "meridian_net_output_bytes_total",
        "counter",
        "Bytes written to clients.",
        &one(ld(&s.net_output_bytes)),
    );

    // Keyspace and data.
    let keys: Vec<(String, f64)> = crate::server_cmds::db_sizes(shared)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(db, n)| (format!("db=\"{db}\""), n as f64))
        .collect();
    metric(
        &mut o,
        "meridian_keys",
        "gauge",
        "Keys per database (expired ones not yet deleted included, as DBSIZE).",
        &keys,
    );
    metric(
        &mut o,
        "meridian_data_bytes",
        "gauge",
        "Accounted data size (what maxmemory limits).",
        &one(engine::quota::used(&**node.storage())),
    );
    metric(
        &mut o,
        "meridian_maxmemory_bytes",
        "gauge",
        "The data quota (0: none).",
        &one(shared.reads.setting(&engine::settings::MAXMEMORY)),
    );
    metric(
        &mut o,
        "meridian_disk_bytes",
        "gauge",
        "Bytes of the database's files.",
        &one(node.storage().disk_bytes()),
    );
    metric(
        &mut o,
        "meridian_resident_memory_bytes",
        "gauge",
        "Resident memory of the process.",
        &one(crate::admin_cmds::rss_bytes()),
    );
    metric(
        &mut o,
        "meridian_expired_keys_total",
        "counter",
        "Keys deleted for their TTL.",
        &one(ld(&shared.broker.expired_keys)),
    );
    metric(
        &mut o,
        "meridian_evicted_keys_total",
        "counter",
        "Keys evicted to stay under the quota.",
        &one(ld(&s.evicted_keys) + engine::quota::EVICTED_KEYS.load(Ordering::Relaxed)),
    );
    let k = node.storage().key_tier().stats();
    metric(
        &mut o,
        "meridian_memory_tier_hits_total",
        "counter",
        "Key lookups served by the memory tier.",
        &one(k.hits),
    );
    metric(
        &mut o,
        "meridian_memory_tier_misses_total",
        "counter",
        "Key lookups that read RocksDB.",
        &one(k.misses),
    );
    metric(
        &mut o,
        "meridian_memory_tier_bytes",
        "gauge",
        "Bytes held by the key tier.",
        &one(k.bytes),
    );
    metric(
        &mut o,
        "meridian_memory_tier_evictions_total",
        "counter",
        "Entries dropped from the key tier.",
        &one(k.evictions),
    );

    // Durability: the log's fsyncs and the state batches (group commit).
    let st = &node.storage().stats;
    metric(
        &mut o,
        "meridian_wal_fsyncs_total",
        "counter",
        "WAL fsyncs (each covers a group of log appends).",
        &one(ld(&st.wal_syncs)),
    );
    metric(
        &mut o,
        "meridian_wal_fsync_seconds_total",
        "counter",
        "Time spent in WAL fsyncs.",
        &[(String::new(), ld(&st.wal_sync_micros) as f64 / 1e6)],
    );
    metric(
        &mut o,
        "meridian_state_batches_total",
        "counter",
        "Applied entries written as one batch each.",
        &one(ld(&st.batches_written)),
    );
    metric(
        &mut o,
        "meridian_state_records_total",
        "counter",
        "Records written by those batches.",
        &one(ld(&st.records_written)),
    );

    // Raft.
    let ns = node.node_status();
    let c = &ns.cluster;
    metric(
        &mut o,
        "meridian_raft_term",
        "gauge",
        "Current Raft term.",
        &one(c.term),
    );
    metric(
        &mut o,
        "meridian_raft_last_log_index",
        "gauge",
        "Last log index.",
        &one(c.last_log_index),
    );
    metric(
        &mut o,
        "meridian_raft_commit_index",
        "gauge",
        "Committed log index.",
        &one(ns.committed),
    );
    metric(
        &mut o,
        "meridian_raft_applied_index",
        "gauge",
        "Applied log index.",
        &one(node.applied_index()),
    );
    metric(
        &mut o,
        "meridian_raft_leader_id",
        "gauge",
        "The leader's node id (-1: none known).",
        &[(String::new(), c.leader.map_or(-1.0, |l| l as f64))],
    );
    metric(
        &mut o,
        "meridian_raft_is_leader",
        "gauge",
        "1 on the leader.",
        &one(u64::from(c.leader == Some(node.id()))),
    );
    // Per member (from this node's view: lags are known on the leader), with its region.
    let labels = |m: &consensus::MemberStatus| {
        format!(
            "member=\"{}\",role=\"{}\",region=\"{}\"",
            m.id,
            if m.voter { "voter" } else { "replica" },
            c.region_of(m.id)
        )
    };
    let per_member = |f: &dyn Fn(&consensus::MemberRegion) -> Option<u64>| -> Vec<(String, f64)> {
        c.members
            .iter()
            .filter(|m| m.id != node.id())
            .filter_map(|m| {
                let v = c.member_region(m.id).and_then(f)?;
                Some((labels(m), v as f64))
            })
            .collect()
    };
    metric(
        &mut o,
        "meridian_replication_lag_entries",
        "gauge",
        "Log entries each member is behind (known on the leader).",
        &per_member(&|r| r.lag_entries),
    );
    metric(
        &mut o,
        "meridian_replication_lag_ms",
        "gauge",
        "Age in ms of the oldest entry each member lacks (known on the leader).",
        &per_member(&|r| r.lag_ms),
    );
    metric(
        &mut o,
        "meridian_replication_last_contact_ms",
        "gauge",
        "Milliseconds since each member last answered the leader (known on the leader).",
        &per_member(&|r| r.last_contact_ms),
    );
    let ae = &consensus::AE_STATS;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    for (name, help, v) in [
        (
            "meridian_antientropy_rounds_total",
            "Anti-entropy rounds this node ran as leader.",
            get(&ae.rounds),
        ),
        (
            "meridian_antientropy_slots_compared_total",
            "Slots compared with a member at the same history.",
            get(&ae.slots_compared),
        ),
        (
            "meridian_antientropy_slots_differing_total",
            "Compared slots whose digests differed.",
            get(&ae.slots_differing),
        ),
        (
            "meridian_antientropy_keys_repaired_total",
            "Keys rewritten from the leader's records.",
            get(&ae.keys_repaired),
        ),
        (
            "meridian_scrub_slots_total",
            "Slots whose digest this node re-checked against their records.",
            get(&ae.scrub_slots),
        ),
        (
            "meridian_scrub_fixed_total",
            "Slots whose stored digest disagreed with their records (data changed outside the write path).",
            get(&ae.scrub_fixed),
        ),
    ] {
        metric(&mut o, name, "counter", help, &one(v));
    }

    let (sys, user) = crate::admin_cmds::cpu_seconds(false);
    metric(
        &mut o,
        "meridian_cpu_seconds_total",
        "counter",
        "CPU time of the process.",
        &[
            ("mode=\"system\"".into(), sys),
            ("mode=\"user\"".into(), user),
        ],
    );
    metric(
        &mut o,
        "meridian_uptime_seconds",
        "gauge",
        "Seconds since start.",
        &one(shared.started.elapsed().as_secs()),
    );
    let _ = writeln!(
        o,
        "# HELP meridian_info Build and node facts.\n# TYPE meridian_info gauge\nmeridian_info{{version=\"{}\",node=\"{}\",region=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        node.id(),
        esc(node.region())
    );
    o
}
