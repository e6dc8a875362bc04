//! BACKUP: the node's backups (see `consensus::backup` for what a backup is and how a
//! restore goes through the log).
//!
//! ```text
//! BACKUP CREATE name     take a backup of this node's applied state
//! BACKUP LIST            every backup in the backup dir, oldest first
//! BACKUP INFO name       one backup's manifest (without its file list)
//! BACKUP VERIFY name     check every file of a backup against its manifest
//! BACKUP DELETE name
//! BACKUP RESTORE name [INDEX n | TIME unix-ms]
//!                        replace the whole database, on every node, with the backup
//!                        (or the state at a later point, from the log archive)
//! BACKUP DAILY [ON [retention] | OFF]   daily automated backups (replicated setting)
//! ```
//!
//! Daily backups: while `meridian-daily-backup` is `yes`, the leader of the moment takes
//! `daily-YYYYMMDD-HHMMSS` into its backup dir once a day (when its newest daily backup
//! is a day old) and then deletes its oldest daily backups beyond
//! `meridian-daily-backup-retention`.

use crate::shared::Shared;
use consensus::backup::{self, Manifest, RestoreReport};
use consensus::Op;
use engine::settings::{DAILY_BACKUP, DAILY_BACKUP_RETENTION};
use engine::Frame;
use std::sync::{Arc, Weak};
use std::time::Duration;

fn bulk(s: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(s.into())
}

/// A backup as field/value pairs (a flat array, as Redis's CONFIG GET replies).
fn describe(m: &Manifest) -> Frame {
    Frame::Array(vec![
        bulk("name"),
        bulk(m.name.clone()),
        bulk("created_unix_ms"),
        Frame::Integer(m.created_unix_ms as i64),
        bulk("log_index"),
        Frame::Integer(m.log_index as i64),
        bulk("log_term"),
        Frame::Integer(m.log_term as i64),
        bulk("keys"),
        Frame::Integer(m.keys as i64),
        bulk("size_bytes"),
        Frame::Integer(m.size_bytes as i64),
        bulk("files"),
        Frame::Integer(m.files.len() as i64),
        bulk("node_id"),
        Frame::Integer(m.node_id as i64),
        bulk("region"),
        bulk(m.region.clone()),
        bulk("layout_version"),
        Frame::Integer(m.layout_version as i64),
        bulk("meridian_version"),
        bulk(m.meridian_version.clone()),
    ])
}

fn report(r: &RestoreReport) -> Frame {
    Frame::Array(vec![
        bulk("name"),
        bulk(r.name.clone()),
        bulk("log_index"),
        Frame::Integer(r.log_index as i64),
        bulk("keys"),
        Frame::Integer(r.keys as i64),
        bulk("records"),
        Frame::Integer(r.records as i64),
        bulk("bytes"),
        Frame::Integer(r.bytes as i64),
        bulk("log_entries"),
        Frame::Integer(r.entries as i64),
        bulk("millis"),
        Frame::Integer(r.millis as i64),
    ])
}

const HELP: &[&str] = &[
    "BACKUP <subcommand> [<arg> ...]. Subcommands are:",
    "CREATE <name>",
    "    Take a backup of this node's applied state into the backup dir.",
    "LIST",
    "    The backups in this node's backup dir, oldest first.",
    "INFO <name>",
    "    One backup's manifest.",
    "VERIFY <name>",
    "    Check every file of a backup against its manifest.",
    "DELETE <name>",
    "    Delete a backup.",
    "RESTORE <name> [INDEX <log-index> | TIME <unix-ms>]",
    "    Replace the whole database, on every node, with the backup's contents, or",
    "    (with --log-archive) with the state at a later log index or leader time.",
    "DAILY [ON [<retention>] | OFF]",
    "    Daily automated backups: show, enable (keeping <retention> of them), disable.",
    "HELP",
    "    Print this help.",
];

/// The S3-compatible destination, when `--backup-url` is set (opened at start-up).
static REMOTE: std::sync::OnceLock<Option<crate::backup_remote::Remote>> =
    std::sync::OnceLock::new();

/// Opens `--backup-url` (once, at start-up): a bad URL stops the node from starting.
pub fn open_remote(cfg: &crate::config::Config) -> Result<(), String> {
    let remote = match &cfg.backup_url {
        Some(url) => Some(crate::backup_remote::Remote::open(url)?),
        None => None,
    };
    let _ = REMOTE.set(remote);
    Ok(())
}

fn remote() -> Option<&'static crate::backup_remote::Remote> {
    REMOTE.get().and_then(Option::as_ref)
}

/// Where remote backups are staged locally (taken before upload, downloaded before use).
fn staging(shared: &Shared) -> std::path::PathBuf {
    shared.cfg.backup_dir.join(".staging")
}

/// Every backup, oldest first, wherever they are kept.
async fn list_all(shared: &Shared) -> Result<Vec<Result<Manifest, String>>, String> {
    match remote() {
        Some(r) => r.list().await,
        None => Ok(backup::list(&shared.cfg.backup_dir)),
    }
}

/// Takes backup `name` into the destination.
async fn create_one(shared: &Shared, name: &str) -> Result<Manifest, String> {
    let Some(r) = remote() else {
        return backup::create(&shared.node, &shared.cfg.backup_dir, name).await;
    };
    backup::check_name(name)?;
    if r.exists(name).await? {
        return Err(format!(
            "ERR a backup named '{name}' already exists in {}",
            r.url()
        ));
    }
    let stage = staging(shared);
    let _ = std::fs::remove_dir_all(stage.join(name));
    let m = backup::create(&shared.node, &stage, name).await?;
    let up = r.upload(&stage.join(name), name, &m).await;
    let _ = std::fs::remove_dir_all(stage.join(name));
    up.map(|_| m)
}

async fn delete_one(shared: &Shared, name: &str) -> Result<(), String> {
    match remote() {
        Some(r) => {
            backup::check_name(name)?;
            r.delete(name).await
        }
        None => backup::delete(&shared.cfg.backup_dir, name),
    }
}

/// The local directory holding backup `name` (downloaded first from a remote
/// destination); the bool says it is a staged copy to remove after use.
async fn local_copy(shared: &Shared, name: &str) -> Result<(std::path::PathBuf, bool), String> {
    match remote() {
        Some(r) => {
            backup::check_name(name)?;
            let stage = staging(shared);
            r.download(name, &stage).await?;
            Ok((stage, true))
        }
        None => Ok((shared.cfg.backup_dir.clone(), false)),
    }
}

pub async fn command(shared: &Shared, argv: &[Vec<u8>]) -> Frame {
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_uppercase();
    let name = argv.get(2).map(|n| String::from_utf8_lossy(n).into_owned());
    let node = &shared.node;
    let res = match (sub.as_str(), argv.len(), name) {
        ("CREATE", 3, Some(n)) => {
            let r = create_one(shared, &n).await.map(|m| describe(&m));
            prune_archive(shared).await;
            r
        }
        ("LIST", 2, _) => list_all(shared).await.map(|list| {
            Frame::Array(
                list.into_iter()
                    .map(|r| match r {
                        Ok(m) => describe(&m),
                        Err(e) => Frame::Array(vec![bulk("error"), bulk(e)]),
                    })
                    .collect(),
            )
        }),
        ("INFO", 3, Some(n)) => match remote() {
            Some(r) => r.manifest(&n).await.map(|m| describe(&m)),
            None => backup::manifest(&shared.cfg.backup_dir, &n).map(|m| describe(&m)),
        },
        ("VERIFY", 3, Some(n)) => match local_copy(shared, &n).await {
            Ok((root, staged)) => {
                let (root2, n2) = (root.clone(), n.clone());
                let r = tokio::task::spawn_blocking(move || {
                    backup::verify(&root2, &n2).map(|_| Frame::ok())
                })
                .await
                .unwrap_or_else(|e| Err(format!("ERR verify failed: {e}")));
                if staged {
                    let _ = std::fs::remove_dir_all(root.join(&n));
                }
                r
            }
            Err(e) => Err(e),
        },
        ("DELETE", 3, Some(n)) => {
            let r = delete_one(shared, &n).await.map(|_| Frame::ok());
            prune_archive(shared).await;
            r
        }
        ("RESTORE", 3 | 5, Some(n)) => match until(argv) {
            Ok(u) => match local_copy(shared, &n).await {
                Ok((root, staged)) => {
                    let r = match archive_for_restore(shared, u).await {
                        Ok((archive, temp)) => {
                            let r = backup::restore(node, &root, &n, &archive, u)
                                .await
                                .map(|r| report(&r));
                            if temp {
                                let _ = std::fs::remove_dir_all(&archive);
                            }
                            r
                        }
                        Err(e) => Err(e),
                    };
                    if staged {
                        let _ = std::fs::remove_dir_all(root.join(&n));
                    }
                    r
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        ("DAILY", 2..=4, _) => daily(shared, argv).await,
        ("HELP", 2, _) => Ok(Frame::Array(
            HELP.iter().map(|l| Frame::Simple((*l).into())).collect(),
        )),
        ("CREATE" | "LIST" | "INFO" | "VERIFY" | "DELETE" | "RESTORE" | "HELP", _, _) => {
            Err(format!(
                "ERR wrong number of arguments for 'backup|{}' command",
                sub.to_ascii_lowercase()
            ))
        }
        _ => Err(format!(
            "ERR unknown subcommand '{}'. Try BACKUP HELP.",
            String::from_utf8_lossy(&argv[1])
        )),
    };
    res.unwrap_or_else(Frame::Error)
}

/// The log archive a point-in-time restore reads: with `--backup-url`, the segments
/// shipped to the store (downloaded into a temporary dir: the bool), which also serves
/// a node of another cluster; else this node's own archive.
async fn archive_for_restore(
    shared: &Shared,
    until: backup::Until,
) -> Result<(std::path::PathBuf, bool), String> {
    let Some(r) = remote() else {
        return Ok((archive_dir(&shared.cfg), false));
    };
    if until == backup::Until::Backup {
        return Ok((archive_dir(&shared.cfg), false));
    }
    let dir = staging(shared).join(format!(".archive-{}", consensus::now_ms()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("ERR {}: {e}", dir.display()))?;
    for name in r.archive_segments().await? {
        if let Err(e) = r.get_segment(&name, &dir).await {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    }
    Ok((dir, true))
}

/// The last index in an archive segment's name (`<first>-<last>.seg`).
fn segment_last(name: &str) -> Option<u64> {
    name.strip_suffix(".seg")?.split_once('-')?.1.parse().ok()
}

/// With `--log-archive` and `--backup-url`: uploads each new archive segment to the
/// store (every 2 s), so a point-in-time restore does not depend on this node's disk.
pub async fn ship_loop(shared: Weak<Shared>) {
    let mut shipped: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut listed = false;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some(r) = remote() else {
            return;
        };
        if !shared.cfg.log_archive {
            return;
        }
        if !listed {
            match r.archive_segments().await {
                Ok(names) => {
                    shipped.extend(names);
                    listed = true;
                }
                Err(e) => {
                    tracing::warn!("log archive shipping: {e}");
                    continue;
                }
            }
        }
        for (_, _, path) in consensus::archive::segments(&archive_dir(&shared.cfg)) {
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(String::from) else {
                continue;
            };
            if shipped.contains(&name) {
                continue;
            }
            match r.put_segment(&path).await {
                Ok(()) => {
                    shipped.insert(name);
                }
                Err(e) => {
                    tracing::warn!("log archive shipping: {e}");
                    break;
                }
            }
        }
    }
}

/// Where `--log-archive` keeps the archived log (a name no backup can have).
pub fn archive_dir(cfg: &crate::config::Config) -> std::path::PathBuf {
    cfg.backup_dir.join(".log-archive")
}

/// BACKUP RESTORE's point: nothing, `INDEX n` or `TIME unix-ms`.
fn until(argv: &[Vec<u8>]) -> Result<backup::Until, String> {
    if argv.len() == 3 {
        return Ok(backup::Until::Backup);
    }
    let n = std::str::from_utf8(&argv[4])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| "ERR the INDEX or TIME value must be a non-negative integer".to_string())?;
    match String::from_utf8_lossy(&argv[3])
        .to_ascii_uppercase()
        .as_str()
    {
        "INDEX" => Ok(backup::Until::Index(n)),
        "TIME" => Ok(backup::Until::Time(n)),
        _ => Err(
            "ERR syntax error: BACKUP RESTORE <name> [INDEX <log-index> | TIME <unix-ms>]".into(),
        ),
    }
}

/// Drops archived log segments no backup can use (all wholly before the oldest backup;
/// without backups, those before the applied index).
async fn prune_archive(shared: &Shared) {
    if !shared.cfg.log_archive {
        return;
    }
    let Ok(list) = list_all(shared).await else {
        return;
    };
    let keep_from = list
        .into_iter()
        .flatten()
        .map(|m| m.log_index + 1)
        .min()
        .unwrap_or_else(|| shared.node.applied_index());
    let n = consensus::archive::prune(&archive_dir(&shared.cfg), keep_from);
    if n > 0 {
        tracing::info!("log archive: {n} segments before index {keep_from} deleted");
    }
    if let Some(r) = remote() {
        for name in r.archive_segments().await.unwrap_or_default() {
            if segment_last(&name).is_some_and(|last| last < keep_from) {
                if let Err(e) = r.delete_segment(&name).await {
                    tracing::warn!("log archive: {e}");
                }
            }
        }
    }
}

/// Seconds between daily backups; `MERIDIAN_DAILY_BACKUP_SECS` shortens it (tests).
fn daily_period() -> Duration {
    let secs = std::env::var("MERIDIAN_DAILY_BACKUP_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(86_400);
    Duration::from_secs(secs)
}

/// BACKUP DAILY: the status, or ON [retention] / OFF through the log.
async fn daily(shared: &Shared, argv: &[Vec<u8>]) -> Result<Frame, String> {
    let arg = |i: usize| {
        argv.get(i)
            .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
    };
    let pairs = match (arg(2).as_deref(), argv.len()) {
        (None, _) => {
            let on = shared.reads.setting(&DAILY_BACKUP) == 1;
            let keep = shared.reads.setting(&DAILY_BACKUP_RETENTION);
            let kept = dailies(shared).await.len();
            return Ok(Frame::Array(vec![
                bulk("enabled"),
                bulk(if on { "yes" } else { "no" }),
                bulk("retention"),
                Frame::Integer(keep as i64),
                bulk("period_secs"),
                Frame::Integer(daily_period().as_secs() as i64),
                bulk("daily_backups"),
                Frame::Integer(kept as i64),
            ]));
        }
        (Some("ON"), 3) => vec![(DAILY_BACKUP.name.to_string(), b"yes".to_vec())],
        (Some("ON"), 4) => {
            DAILY_BACKUP_RETENTION
                .parse(&argv[3])
                .map_err(|_| "ERR retention must be an integer between 1 and 3650".to_string())?;
            vec![
                (DAILY_BACKUP.name.to_string(), b"yes".to_vec()),
                (DAILY_BACKUP_RETENTION.name.to_string(), argv[3].clone()),
            ]
        }
        (Some("OFF"), 3) => vec![(DAILY_BACKUP.name.to_string(), b"no".to_vec())],
        _ => return Err("ERR syntax error: BACKUP DAILY [ON [<retention>] | OFF]".into()),
    };
    match shared.node.write(vec![Op::SetConfig { pairs }]).await {
        Ok((_, mut r)) => match r.pop() {
            Some(Frame::Error(e)) => Err(e),
            Some(f) => Ok(f),
            None => Ok(Frame::ok()),
        },
        Err(e) => match e.to_frame() {
            Frame::Error(e) => Err(e),
            _ => Err("ERR write failed".into()),
        },
    }
}

/// The daily backups in `root` (name starting `daily-`), oldest first.
async fn dailies(shared: &Shared) -> Vec<Manifest> {
    list_all(shared)
        .await
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .filter(|m| m.name.starts_with("daily-"))
        .collect()
}

/// `daily-YYYYMMDD-HHMMSS` (UTC) of a unix time in ms.
fn daily_name(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian), by 400-year eras.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "daily-{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Takes the daily backup when due (on the leader, while enabled) and prunes old ones.
pub async fn daily_loop(shared: Weak<Shared>) {
    let period = daily_period();
    let tick = (period / 4).clamp(Duration::from_millis(200), Duration::from_secs(60));
    loop {
        tokio::time::sleep(tick).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Err(e) = daily_once(&shared, period).await {
            tracing::warn!("daily backup: {e}");
        }
    }
}

async fn daily_once(shared: &Arc<Shared>, period: Duration) -> Result<(), String> {
    if !shared.node.is_leader() || shared.reads.setting(&DAILY_BACKUP) != 1 {
        return Ok(());
    }
    let now = consensus::now_ms();
    let existing = dailies(shared).await;
    let newest = existing.iter().map(|m| m.created_unix_ms).max();
    if newest.is_some_and(|t| now.saturating_sub(t) < period.as_millis() as u64) {
        return Ok(());
    }
    let name = daily_name(now);
    if existing.iter().any(|m| m.name == name) {
        return Ok(());
    }
    let m = create_one(shared, &name).await?;
    tracing::info!("daily backup {} taken at log index {}", m.name, m.log_index);
    let keep = shared.reads.setting(&DAILY_BACKUP_RETENTION) as usize;
    let all = dailies(shared).await;
    for old in all.iter().take(all.len().saturating_sub(keep)) {
        delete_one(shared, &old.name).await?;
        tracing::info!("daily backup {} deleted (retention {keep})", old.name);
    }
    prune_archive(shared).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::daily_name;

    #[test]
    fn daily_names_are_utc_dates() {
        assert_eq!(daily_name(0), "daily-19700101-000000");
        // 2026-12-06 01:38:12 UTC
        assert_eq!(daily_name(1_796_521_092_000), "daily-20261206-013812");
        // 2000-02-29 23:59:59 UTC (a leap day of a century leap year)
        assert_eq!(daily_name(951_868_799_000), "daily-20000229-235959");
    }
}

/// `meridian backup ...`: one call to a node's management API (`rest/manage.rs`) over
/// plain HTTP/1.1, printed for people (JSON as the API returns it). Exit code 1 on an
/// error reply.
pub fn cli(args: crate::config::BackupArgs) -> i32 {
    use crate::config::BackupAction as A;
    let (method, path, body) = match &args.action {
        A::Create { name } => (
            "POST",
            "/v2/redis/create-backup/db".to_string(),
            serde_json::json!({ "name": name }).to_string(),
        ),
        A::List => ("GET", "/v2/redis/list-backup/db".to_string(), String::new()),
        A::Delete { name } => (
            "DELETE",
            format!("/v2/redis/delete-backup/db/{name}"),
            String::new(),
        ),
        A::Restore {
            name,
            until_index,
            until_time,
        } => {
            let mut body = serde_json::json!({ "backup_id": name });
            if let Some(i) = until_index {
                body["until_index"] = serde_json::json!(i);
            }
            if let Some(t) = until_time {
                body["until_time_ms"] = serde_json::json!(t);
            }
            (
                "POST",
                "/v2/redis/restore-backup/db".to_string(),
                body.to_string(),
            )
        }
        A::EnableDaily { retention } => (
            "PATCH",
            "/v2/redis/enable-dailybackup/db".to_string(),
            retention.map_or(String::new(), |r| {
                serde_json::json!({ "retention": r }).to_string()
            }),
        ),
        A::DisableDaily => (
            "PATCH",
            "/v2/redis/disable-dailybackup/db".to_string(),
            String::new(),
        ),
    };
    let token = args.token.clone().or_else(|| {
        args.password
            .as_deref()
            .map(|p| crate::rest::Tokens::derive(p).standard)
    });
    match http_call(&args.url, method, &path, token.as_deref(), &body) {
        Ok((status, text)) => {
            let pretty = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or(text);
            if status == 200 {
                println!("{pretty}");
                0
            } else {
                eprintln!("meridian backup: HTTP {status}: {pretty}");
                1
            }
        }
        Err(e) => {
            eprintln!("meridian backup: {e}");
            1
        }
    }
}

/// `meridian reset-password`: the management API's reset-password on one node; prints
/// the new password and tokens as JSON. Exit code 1 on an error reply.
pub fn reset_password_cli(args: crate::config::ResetPasswordArgs) -> i32 {
    let token = args.token.clone().or_else(|| {
        args.password
            .as_deref()
            .map(|p| crate::rest::Tokens::derive(p).standard)
    });
    match http_call(
        &args.url,
        "POST",
        "/v2/redis/reset-password/db",
        token.as_deref(),
        "",
    ) {
        Ok((200, text)) => {
            let pretty = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or(text);
            println!("{pretty}");
            0
        }
        Ok((status, text)) => {
            eprintln!("meridian reset-password: HTTP {status}: {text}");
            1
        }
        Err(e) => {
            eprintln!("meridian reset-password: {e}");
            1
        }
    }
}

/// One HTTP/1.1 request with `Connection: close`; (status, body).
fn http_call(
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let host = rest.split('/').next().unwrap_or(rest);
    let mut s = std::net::TcpStream::connect(host).map_err(|e| format!("{host}: {e}"))?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("{host}: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("{host}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{host}: malformed HTTP reply"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{host}: malformed HTTP status line"))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// A chunked HTTP body's data.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
