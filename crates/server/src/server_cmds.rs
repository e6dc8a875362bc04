//! Server commands that need the node or the connection: ROLE, WAIT, WAITAOF, SAVE,
//! BGSAVE, LASTSAVE, MEMORY and DEBUG (`SessionCmd::Server`).
//!
//! Replication here is Raft: the "master" is the group's leader, the "replicas" are the
//! other members (voting followers and read replicas), and a replica's offset is the
//! log index it has applied. A "save" is a Raft snapshot of the state machine.

use crate::session::Session;
use crate::shared::Shared;
use consensus::MemberStatus;
use engine::{args, CmdError, CommandSpec, Frame};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

type Reply = Result<Frame, CmdError>;

fn bulk(s: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(s.into())
}

/// How long ROLE and WAIT wait for a member's answer about its applied index.
const ASK_TIMEOUT: Duration = Duration::from_millis(500);

pub async fn server_cmd(sess: &mut Session, spec: &'static CommandSpec, argv: &[Vec<u8>]) -> Reply {
    match spec.name {
        "role" => Ok(role(&sess.shared).await),
        "wait" => wait(sess, argv).await,
        "waitaof" => waitaof(sess, argv).await,
        "lastsave" => Ok(Frame::Integer(last_save(&sess.shared) as i64)),
        "save" => save(&sess.shared).await,
        "bgsave" => bgsave(&sess.shared, argv).await,
        "memory" => memory(sess, spec, argv),
        "debug" => debug(sess, spec, argv).await,
        // This node's logs and backups (also queued in MULTI, as Redis runs SLOWLOG RESET
        // inside EXEC).
        "slowlog" => crate::slowlog::command(&sess.shared.slowlog, argv),
        "latency" => crate::latency::command(&sess.shared, argv),
        "backup" => Ok(crate::backup::command(&sess.shared, argv).await),
        _ => Err(CmdError::new(format!(
            "ERR '{}' is not a server command",
            spec.name
        ))),
    }
}

/// Unix seconds of the latest snapshot, or of the start of this process when the node
/// has none yet (Redis's LASTSAVE starts at its start time too).
pub fn last_save(shared: &Shared) -> u64 {
    shared.node.last_snapshot_unix().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        now.saturating_sub(shared.started.elapsed().as_secs())
    })
}

/// A member's cluster address as (host, port).
fn host_port(addr: &str) -> (String, u16) {
    let addr = addr.trim_start_matches("http://");
    match addr.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_matches(|c| c == '[' || c == ']').to_string(),
            p.parse().unwrap_or(0),
        ),
        None => (addr.to_string(), 0),
    }
}

/// ROLE: the leader answers `master` with each other member and the index it applied;
/// a follower or read replica answers `slave` with its leader's cluster address.
async fn role(shared: &Shared) -> Frame {
    let node = &shared.node;
    let st = node.status();
    let applied = node.applied_index();
    if st.leader == Some(node.id()) {
        let members = node.members_applied(ASK_TIMEOUT).await;
        let replicas = members
            .into_iter()
            .map(|(m, a): (MemberStatus, Option<u64>)| {
                let (host, port) = host_port(&m.addr);
                let offset = a.or(m.matched).unwrap_or(0);
                Frame::Array(vec![
                    bulk(host),
                    bulk(port.to_string()),
                    bulk(offset.to_string()),
                ])
            })
            .collect();
        return Frame::Array(vec![
            bulk("master"),
            Frame::Integer(applied as i64),
            Frame::Array(replicas),
        ]);
    }
    let leader = st
        .leader
        .and_then(|l| st.members.iter().find(|m| m.id == l));
    let (host, port, state) = match leader {
        Some(m) => {
            let (h, p) = host_port(&m.addr);
            (h, p as i64, "connected")
        }
        None => (String::new(), -1, "connect"),
    };
    Frame::Array(vec![
        bulk("slave"),
        bulk(host),
        Frame::Integer(port),
        bulk(state),
        Frame::Integer(applied as i64),
    ])
}

/// Redis's getTimeoutFromObjectOrReply in milliseconds; None = wait forever (0).
fn parse_timeout_ms(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let ms = args::parse_i64(arg)
        .map_err(|_| CmdError::new("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::new("ERR timeout is negative"));
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// (this node has applied `index`, how many replicas have): the replicas are the
/// members other than the leader, this node included when it is one.
async fn acked(shared: &Shared, index: u64) -> (bool, i64) {
    let node = &shared.node;
    let leader = node.leader();
    let local = node.applied_index() >= index;
    let mut n = 0;
    if leader != Some(node.id()) && local {
        n += 1;
    }
    for (m, applied) in node.members_applied(ASK_TIMEOUT).await {
        if Some(m.id) != leader && applied.is_some_and(|a| a >= index) {
            n += 1;
        }
    }
    (local, n)
}

/// Polls [`acked`] until `done` holds or the timeout passes; the last count.
async fn wait_for(
    shared: &Shared,
    index: u64,
    timeout: Option<Duration>,
    done: impl Fn(bool, i64) -> bool,
) -> (bool, i64) {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut pause = Duration::from_millis(2);
    loop {
        let (local, n) = acked(shared, index).await;
        if done(local, n) {
            return (local, n);
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return (local, n);
        }
        let step = deadline.map_or(pause, |d| pause.min(d - now));
        tokio::time::sleep(step).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// WAIT numreplicas timeout: the number of replicas that applied this connection's last
/// write, once at least `numreplicas` have or the timeout passed (0 = no timeout).
async fn wait(sess: &mut Session, argv: &[Vec<u8>]) -> Reply {
    let want = args::parse_i64(&argv[1])?;
    let timeout = parse_timeout_ms(&argv[2])?;
    let index = sess.last_index;
    let (_, n) = wait_for(&sess.shared, index, timeout, |_, n| n >= want).await;
    Ok(Frame::Integer(n))
}

/// WAITAOF numlocal numreplicas timeout (Redis 7.2): every acknowledged write is already
/// fsynced in the Raft log of a quorum, so a member that applied the write has it on
/// disk. Replies [this node has it (0|1), replicas that have it].
async fn waitaof(sess: &mut Session, argv: &[Vec<u8>]) -> Reply {
    let numlocal = args::parse_i64(&argv[1])?;
    let numreplicas = args::parse_i64(&argv[2])?;
    let timeout = parse_timeout_ms(&argv[3])?;
    if numlocal < 0 || numreplicas < 0 {
        return Err(CmdError::new("ERR value is out of range, must be positive"));
    }
    let index = sess.last_index;
    let (local, n) = wait_for(&sess.shared, index, timeout, |local, n| {
        (local as i64) >= numlocal && n >= numreplicas
    })
    .await;
    Ok(Frame::Array(vec![
        Frame::Integer(local as i64),
        Frame::Integer(n),
    ]))
}

/// SAVE: a Raft snapshot of everything applied, taken now; OK once it is on disk.
async fn save(shared: &Shared) -> Reply {
    match shared.node.snapshot_now(Duration::from_secs(120)).await {
        Ok(_) => Ok(Frame::ok()),
        Err(e) => Err(CmdError::new(format!("ERR snapshot failed: {e}"))),
    }
}

/// BGSAVE [SCHEDULE]: asks Raft for a snapshot and returns at once.
async fn bgsave(shared: &Shared, argv: &[Vec<u8>]) -> Reply {
    match argv.len() {
        1 => {}
        2 if args::is(&argv[1], "schedule") => {}
        _ => return Err(CmdError::syntax()),
    }
    match shared.node.snapshot_in_background().await {
        Ok(()) => Ok(Frame::Simple("Background saving started".into())),
        Err(e) => Err(CmdError::new(format!("ERR snapshot failed: {e}"))),
    }
}

fn help(lines: &[&str]) -> Frame {
    Frame::Array(lines.iter().map(|s| Frame::Simple(s.to_string())).collect())
}

/// Keys in every database, by database.
pub fn db_sizes(shared: &Shared) -> Vec<(u8, i64)> {
    let dbsize = [b"dbsize".to_vec()];
    let Some(spec) = engine::lookup(&dbsize[0]) else {
        return Vec::new();
    };
    (0..keys::DATABASES as u8)
        .map(|db| match shared.reads.read(spec, db, &dbsize) {
            Frame::Integer(n) => (db, n),
            _ => (db, 0),
        })
        .collect()
}

/// (current, peak) resident set size in bytes, from /proc/self/status.
fn rss_now_and_peak() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn malloc_purge() {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim takes a byte count and only releases free memory.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn malloc_purge() {}

fn memory(sess: &mut Session, spec: &'static CommandSpec, argv: &[Vec<u8>]) -> Reply {
    let shared = sess.shared.clone();
    let sub = args::upper(&argv[1]);
    let exact = |n: usize| -> Result<(), CmdError> {
        if argv.len() == n {
            Ok(())
        } else {
            Err(CmdError::wrong_arity(&format!(
                "memory|{}",
                sub.to_ascii_lowercase()
            )))
        }
    };
    match sub.as_str() {
        "USAGE" => Ok(crate::dispatch::read(&shared, spec, sess.db, argv)),
        "STATS" => {
            exact(2)?;
            Ok(memory_stats(&shared))
        }
        "DOCTOR" => {
            exact(2)?;
            Ok(Frame::Verbatim(
                "txt".into(),
                memory_doctor(&shared).into_bytes(),
            ))
        }
        "MALLOC-STATS" => {
            exact(2)?;
            // Meridian uses the system allocator, which has no statistics report;
            // Redis answers the same for its libc build.
            Ok(Frame::Verbatim(
                "txt".into(),
                b"Stats not supported for the current allocator".to_vec(),
            ))
        }
        "PURGE" => {
            exact(2)?;
            malloc_purge();
            Ok(Frame::ok())
        }
        "HELP" => {
            exact(2)?;
            Ok(help(&[
                "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
                "HELP",
                "    Prints this help.",
            ]))
        }
        _ => Err(CmdError::unknown_subcommand(&argv[1], "MEMORY")),
    }
}

/// Bytes of the bodies in the script cache and how many scripts it holds.
pub fn script_cache(shared: &Shared) -> (u64, u64) {
    let store = shared.reads.storage();
    let t = engine::Txn::read_only(store, 0, 0);
    let f = keys::sm::SCRIPTS;
    let (mut n, mut bytes) = (0u64, 0u64);
    let _ = t.raw_scan(keys::Cf::Sm, f.start(), f.end(), &mut |_, v| {
        n += 1;
        bytes += v.len() as u64;
        true
    });
    (n, bytes)
}

/// MEMORY STATS: Redis's field names where Meridian has the figure, and Meridian's own
/// (storage, tier) where its memory is elsewhere.
fn memory_stats(shared: &Shared) -> Frame {
    let (rss, peak) = rss_now_and_peak();
    let store = shared.node.storage();
    let tier = shared.node.tier().stats();
    let sizes = db_sizes(shared);
    let keys: i64 = sizes.iter().map(|(_, n)| n).sum();
    let (_, lua_bytes) = script_cache(shared);
    let disk = store.disk_bytes();
    let clients = shared.clients.count() as i64;
    let int = |n: u64| Frame::Integer(n.min(i64::MAX as u64) as i64);
    let mut m: Vec<(Frame, Frame)> = vec![
        (bulk("peak.allocated"), int(peak)),
        (bulk("total.allocated"), int(rss)),
        (bulk("clients.normal"), Frame::Integer(clients)),
        (bulk("lua.caches"), int(lua_bytes)),
        (bulk("storage.memtables"), int(store.memory_bytes())),
        (bulk("storage.disk"), int(disk)),
        (bulk("tier.sets"), int(tier.entries as u64)),
        (bulk("tier.bytes"), int(tier.bytes as u64)),
    ];
    for (db, n) in sizes.iter().filter(|(_, n)| *n > 0) {
        m.push((
            bulk(format!("db.{db}")),
            Frame::Map(vec![(bulk("keys"), Frame::Integer(*n))]),
        ));
    }
    m.push((bulk("keys.count"), Frame::Integer(keys)));
    m.push((
        bulk("keys.bytes-per-key"),
        int(if keys > 0 { disk / keys as u64 } else { 0 }),
    ));
    m.push((bulk("dataset.bytes"), int(disk)));
    m.push((
        bulk("peak.percentage"),
        Frame::Double(if peak > 0 {
            rss as f64 * 100.0 / peak as f64
        } else {
            0.0
        }),
    ));
    Frame::Map(m)
}

/// MEMORY DOCTOR: Redis's texts, with the checks that mean something here.
fn memory_doctor(shared: &Shared) -> String {
    let keys: i64 = db_sizes(shared).iter().map(|(_, n)| n).sum();
    let (rss, peak) = rss_now_and_peak();
    if keys == 0 && rss < 64 << 20 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.".into();
    }
    let mut issues = String::new();
    if peak > rss.saturating_mul(3) / 2 {
        let _ = write!(
            issues,
            " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak. MEMORY PURGE asks the allocator to return free pages.\n\n"
        );
    }
    let tier = shared.node.tier().stats();
    if tier.evictions > 0 && tier.evictions > tier.builds / 2 {
        let _ = write!(
            issues,
            " * Memory tier churn: {} of {} cached sorted-set indexes were evicted; a larger --tier-mb keeps more of them in memory.\n\n",
            tier.evictions, tier.builds
        );
    }
    if issues.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.".into();
    }
    format!("Sam, I detected a few issues in this Redis instance memory implants:\n\n{issues}I'm here to keep you safe, Sam. I want to help you.\n")
}

async fn debug(sess: &mut Session, spec: &'static CommandSpec, argv: &[Vec<u8>]) -> Reply {
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    match (sub.as_str(), argv.len()) {
        ("sleep", 3) => {
            // Redis reads the seconds with atof: anything unparsable is 0.
            let secs = std::str::from_utf8(&argv[2])
                .ok()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .unwrap_or(0.0);
            tokio::time::sleep(Duration::from_secs_f64(secs.min(1e9))).await;
            Ok(Frame::ok())
        }
        ("set-active-expire", 3) => {
            let on = std::str::from_utf8(&argv[2])
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or(0)
                != 0;
            sess.shared.node.set_active_expire(on);
            Ok(Frame::ok())
        }
        ("set-clock-offset", 3) => {
            // Fault injection (the chaos suite's clock skew and jumps): this node's
            // wall clock reads `ms` later (earlier when negative).
            let ms = std::str::from_utf8(&argv[2])
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|ms| ms.unsigned_abs() <= 10 * 365 * 86_400_000)
                .ok_or_else(|| CmdError::new("ERR value is not an integer or out of range"))?;
            consensus::set_clock_offset_ms(ms);
            tracing::warn!("clock offset set to {ms} ms (DEBUG SET-CLOCK-OFFSET)");
            Ok(Frame::ok())
        }
        ("clock-offset", 2) => Ok(Frame::Integer(consensus::clock_offset_ms())),
        ("failpoint", 4) => {
            // Fault injection for tests: configures a failpoint of the `fail` crate
            // (`wal-sync`, `sm-apply-before-write`, ...) with its action text (`pause`,
            // `sleep(100)`, `return`, `off` to remove it). Refused unless the node was
            // started with MERIDIAN_DEBUG_FAILPOINTS=1.
            if std::env::var("MERIDIAN_DEBUG_FAILPOINTS").as_deref() != Ok("1") {
                return Err(CmdError::new(
                    "ERR DEBUG FAILPOINT needs MERIDIAN_DEBUG_FAILPOINTS=1 at start",
                ));
            }
            let name = String::from_utf8_lossy(&argv[2]).into_owned();
            let actions = String::from_utf8_lossy(&argv[3]).into_owned();
            if actions.eq_ignore_ascii_case("off") {
                fail::remove(&name);
            } else {
                fail::cfg(&name, &actions).map_err(|e| CmdError::new(format!("ERR {e}")))?;
            }
            tracing::warn!("failpoint {name} set to {actions} (DEBUG FAILPOINT)");
            Ok(Frame::ok())
        }
        ("corrupt-key", 3 | 4) => {
            // Fault injection for anti-entropy tests: changes this node's record of a
            // key behind the write path (no log entry, no digest change). Refused unless
            // the node was started with MERIDIAN_DEBUG_CORRUPT=1.
            if std::env::var("MERIDIAN_DEBUG_CORRUPT").as_deref() != Ok("1") {
                return Err(CmdError::new(
                    "ERR DEBUG CORRUPT-KEY needs MERIDIAN_DEBUG_CORRUPT=1 at start",
                ));
            }
            let raw = keys::meta_key(sess.db, &argv[2]);
            let st = sess.shared.node.storage();
            let value = match argv.get(3) {
                None => None,
                Some(v) => {
                    // A string record with this value (the key's other fields kept if
                    // it exists, else a fresh string).
                    let mut m = match keys::store::Store::get(&**st, keys::Cf::Meta, &raw) {
                        Ok(Some(old)) => keys::Meta::decode(&old)
                            .map_err(|e| CmdError::new(format!("ERR {e:?}")))?,
                        _ => keys::Meta {
                            kind: keys::Kind::String,
                            expire_at_ms: 0,
                            version: 1,
                            write_index: 1,
                            mtime_ms: 0,
                            len: 0,
                            stamp: keys::hlc::Stamp::ZERO,
                            inline: Vec::new(),
                        },
                    };
                    // The value replaced, the expiry dropped.
                    m.kind = keys::Kind::String;
                    m.inline = v.clone();
                    m.expire_at_ms = 0;
                    Some(m.encode())
                }
            };
            st.corrupt_meta(&raw, value.as_deref())
                .map_err(|e| CmdError::new(format!("ERR {e}")))?;
            tracing::warn!("DEBUG CORRUPT-KEY changed a record behind the write path");
            Ok(Frame::ok())
        }
        ("object", 3) => Ok(crate::dispatch::read(&sess.shared, spec, sess.db, argv)),
        ("help", 2) => Ok(help(&[
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "OBJECT <key>",
            "    Show low-level info about the `key` and associated value.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "SET-CLOCK-OFFSET <ms>",
            "    Fault injection: this node's wall clock reads <ms> later (earlier when",
            "    negative); 0 removes the offset. CLOCK-OFFSET shows it.",
            "HELP",
            "    Print this help.",
            "(Meridian supports only the subcommands above.)",
        ])),
        _ => Err(CmdError::new(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&argv[1])
        ))),
    }
}

/// Used by INFO: the number of keys with a TTL in `db` and their average TTL in ms,
/// from the key records (exact up to `cap` keys; beyond it, scaled from the first
/// `cap`).
pub fn expires_of(shared: &Shared, db: u8, keys_in_db: i64, cap: u64) -> (u64, u64) {
    let store = shared.reads.storage();
    let now = consensus::now_ms();
    let mut t = engine::Txn::read_only(store, now, 0);
    t.db = db;
    let (mut seen, mut with_ttl, mut ttl_sum) = (0u64, 0u64, 0u128);
    let _ = t.scan_keys(0, &mut |_, _, m| {
        seen += 1;
        if m.expire_at_ms != 0 {
            with_ttl += 1;
            ttl_sum += m.expire_at_ms.saturating_sub(now) as u128;
        }
        seen < cap
    });
    let avg = if with_ttl > 0 {
        (ttl_sum / with_ttl as u128) as u64
    } else {
        0
    };
    let expires = if seen >= cap && keys_in_db as u64 > seen {
        (with_ttl as f64 * keys_in_db as f64 / seen as f64) as u64
    } else {
        with_ttl
    };
    (expires, avg)
}
