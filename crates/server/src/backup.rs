//! BACKUP: the node's backups (see `consensus::backup` for what a backup is and how a
//! restore goes through the log).
//!
//! ```text
//! BACKUP CREATE name     take a backup of this node's applied state
//! BACKUP LIST            every backup in the backup dir, oldest first
//! BACKUP INFO name       one backup's manifest (without its file list)
//! BACKUP VERIFY name     check every file of a backup against its manifest
//! BACKUP DELETE name
//! BACKUP RESTORE name    replace the whole database, on every node, with the backup
//! ```

use crate::shared::Shared;
use consensus::backup::{self, Manifest, RestoreReport};
use engine::Frame;

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
    "RESTORE <name>",
    "    Replace the whole database, on every node, with the backup's contents.",
    "HELP",
    "    Print this help.",
];

pub async fn command(shared: &Shared, argv: &[Vec<u8>]) -> Frame {
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_uppercase();
    let name = argv.get(2).map(|n| String::from_utf8_lossy(n).into_owned());
    let root = shared.cfg.backup_dir.clone();
    let node = &shared.node;
    let res = match (sub.as_str(), argv.len(), name) {
        ("CREATE", 3, Some(n)) => backup::create(node, &root, &n).await.map(|m| describe(&m)),
        ("LIST", 2, _) => Ok(Frame::Array(
            backup::list(&root)
                .into_iter()
                .map(|r| match r {
                    Ok(m) => describe(&m),
                    Err(e) => Frame::Array(vec![bulk("error"), bulk(e)]),
                })
                .collect(),
        )),
        ("INFO", 3, Some(n)) => backup::manifest(&root, &n).map(|m| describe(&m)),
        ("VERIFY", 3, Some(n)) => {
            tokio::task::spawn_blocking(move || backup::verify(&root, &n).map(|_| Frame::ok()))
                .await
                .unwrap_or_else(|e| Err(format!("ERR verify failed: {e}")))
        }
        ("DELETE", 3, Some(n)) => backup::delete(&root, &n).map(|_| Frame::ok()),
        ("RESTORE", 3, Some(n)) => backup::restore(node, &root, &n).await.map(|r| report(&r)),
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
