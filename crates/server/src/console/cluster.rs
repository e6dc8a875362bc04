//! The cluster view and its actions, and the backup list, for the console.
//!
//! GET /console/api/cluster: this node's role and log positions and the group's members
//! (`Node::node_status`). A member's lag is known on the leader (`matched`), so a node
//! that does not lead also asks the leader for its view (`AdminRequest::Status`, the call
//! `meridian cluster status` makes), within 2 s.
//!
//! POST /console/api/cluster/{transfer-leader|remove-node|promote|add-replica|add-region|
//! remove-region}: the
//! `meridian cluster` actions through `Node::admin`, for a session that may administer
//! (the standard token or the default password, or an ACL user allowed `CONFIG SET`, an
//! @admin command). Backups (`/console/api/backups`, `.../create`, `.../restore`,
//! `.../delete`) run the BACKUP command's code for a session allowed to run BACKUP.

use super::{json_error, json_reply};
use crate::rest::auth::Access;
use crate::shared::Shared;
use consensus::{AdminRequest, MemberStatus};
use engine::Frame;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

fn permits(access: &Access, argv: &[&[u8]]) -> bool {
    match access {
        Access::Full => true,
        Access::ReadOnly => false,
        Access::User(u) => {
            let Some(spec) = engine::lookup(argv[0]) else {
                return false;
            };
            let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
            u.check(spec, &argv).is_ok()
        }
    }
}

/// Whether the session may run the cluster actions.
pub fn may_admin(access: &Access) -> bool {
    permits(
        access,
        &[&b"config"[..], &b"set"[..], &b"maxmemory"[..], &b"0"[..]],
    )
}

fn member_json(st: &consensus::ClusterStatus, m: &MemberStatus, leader_view: bool) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert(
            "role".into(),
            json!(if m.voter { "voter" } else { "replica" }),
        );
        let reg = st.member_region(m.id);
        o.insert(
            "region".into(),
            json!(reg.map(|r| r.region.as_str()).filter(|r| !r.is_empty())),
        );
        // The region record's lag when the node has it (the leader's view), else the
        // matched index's distance to the log's end.
        let entries = reg.and_then(|r| r.lag_entries).or_else(|| {
            leader_view
                .then(|| m.matched.map(|x| st.last_log_index.saturating_sub(x)))
                .flatten()
        });
        o.insert("lag_entries".into(), json!(entries));
        o.insert("lag_ms".into(), json!(reg.and_then(|r| r.lag_ms)));
        o.insert(
            "last_contact_ms".into(),
            json!(reg.and_then(|r| r.last_contact_ms)),
        );
    }
    v
}

fn status_json(st: &consensus::ClusterStatus, leader_view: bool) -> Value {
    let regions: Vec<Value> = st
        .region_summary()
        .into_iter()
        .map(|r| {
            json!({
                "name": r.name,
                "primary": r.primary,
                "members": r.members,
                "voters": r.voters,
                "lag_entries": r.lag_entries,
                "lag_ms": r.lag_ms,
                "last_contact_ms": r.last_contact_ms,
            })
        })
        .collect();
    json!({
        "leader": st.leader,
        "term": st.term,
        "last_log_index": st.last_log_index,
        "applied": st.applied,
        "members": st.members.iter().map(|m| member_json(st, m, leader_view)).collect::<Vec<_>>(),
        "regions": regions,
        "declared_regions": st.declared_regions,
    })
}

pub async fn status(shared: &Shared) -> crate::rest::Resp {
    let node = &shared.node;
    let ns = node.node_status();
    let me = node.id();
    let leads = ns.cluster.leader == Some(me);
    // The leader's view (for lag) when this node does not lead.
    let mut leader_view = Value::Null;
    let mut leader_error = Value::Null;
    if !leads {
        if let Some(addr) = ns
            .cluster
            .leader
            .and_then(|l| ns.cluster.members.iter().find(|m| m.id == l))
            .map(|m| m.addr.clone())
        {
            let pw = shared
                .password
                .read()
                .ok()
                .and_then(|p| p.clone())
                .unwrap_or_default();
            let call = consensus::admin_call(&addr, &pw, &AdminRequest::Status);
            match tokio::time::timeout(Duration::from_secs(2), call).await {
                Ok(Ok(st)) => leader_view = status_json(&st, true),
                Ok(Err(e)) => leader_error = json!(e.to_string()),
                Err(_) => leader_error = json!("the leader did not answer within 2 s"),
            }
        }
    }
    json_reply(
        StatusCode::OK,
        &json!({
            "node": me,
            "region": node.region(),
            "role": ns.role.to_string(),
            "committed": ns.committed,
            "snapshot_index": ns.snapshot_index,
            "purged_index": ns.purged_index,
            "local": status_json(&ns.cluster, leads),
            "leader_view": leader_view,
            "leader_error": leader_error,
        }),
    )
}

fn id_field(v: &Value) -> Result<u64, String> {
    v.get("id")
        .and_then(|x| {
            x.as_u64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or_else(|| "ERR the body needs \"id\": a member's node id".to_string())
}

pub async fn action(
    shared: &Shared,
    access: &Access,
    action: &str,
    v: &Value,
) -> crate::rest::Resp {
    if !may_admin(access) {
        return json_error(
            StatusCode::FORBIDDEN,
            "NOPERM cluster actions need the default user, the standard token or a user allowed CONFIG SET",
        );
    }
    let region = || match v.get("name").and_then(Value::as_str) {
        Some(n) if consensus::valid_region_name(n) => Ok(n.to_string()),
        _ => Err(json_error(
            StatusCode::BAD_REQUEST,
            "ERR the body needs \"name\": a region name (letters, digits, '-', '_', '.')",
        )),
    };
    let req =
        match (action, id_field(v)) {
            ("add-region", _) => match region() {
                Ok(name) => AdminRequest::AddRegion { name },
                Err(r) => return r,
            },
            ("remove-region", _) => match region() {
                Ok(name) => AdminRequest::RemoveRegion { name },
                Err(r) => return r,
            },
            (_, Err(e)) => return json_error(StatusCode::BAD_REQUEST, &e),
            ("transfer-leader", Ok(id)) => AdminRequest::TransferLeader { id },
            ("remove-node", Ok(id)) => AdminRequest::RemoveNode { id },
            ("promote", Ok(id)) => AdminRequest::Promote { id },
            ("add-replica", Ok(id)) => {
                match v.get("addr").and_then(Value::as_str) {
                    Some(a) if !a.is_empty() => AdminRequest::AddLearner {
                        id,
                        addr: a.to_string(),
                    },
                    _ => return json_error(
                        StatusCode::BAD_REQUEST,
                        "ERR add-replica needs \"addr\": the replica's cluster address host:port",
                    ),
                }
            }
            _ => return json_error(
                StatusCode::NOT_FOUND,
                "ERR unknown cluster action: transfer-leader, remove-node, promote, add-replica, add-region or remove-region",
            ),
        };
    tracing::info!("console: cluster action {req:?}");
    match shared.node.admin(req, "").await {
        Ok(st) => json_reply(StatusCode::OK, &status_json(&st, true)),
        Err(e) => json_error(StatusCode::BAD_REQUEST, &format!("ERR {e}")),
    }
}

fn name_field(v: &Value) -> Result<String, String> {
    match v.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => Ok(n.to_string()),
        _ => Err("ERR the body needs \"name\": the backup's name".into()),
    }
}

/// A flat field/value array (BACKUP's replies) as a JSON object.
fn object(f: &Frame) -> Value {
    let mut m = serde_json::Map::new();
    let pairs: Vec<(&Frame, &Frame)> = match f {
        Frame::Array(items) => items
            .chunks(2)
            .filter_map(|p| match p {
                [k, v] => Some((k, v)),
                _ => None,
            })
            .collect(),
        Frame::Map(p) => p.iter().map(|(k, v)| (k, v)).collect(),
        _ => Vec::new(),
    };
    for (k, v) in pairs {
        let key = match k {
            Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Frame::Simple(s) => s.clone(),
            _ => continue,
        };
        let val = match v {
            Frame::Integer(n) => json!(n),
            Frame::Bulk(b) => json!(String::from_utf8_lossy(b)),
            Frame::Simple(s) => json!(s),
            Frame::Array(_) | Frame::Map(_) => object(v),
            _ => Value::Null,
        };
        m.insert(key, val);
    }
    Value::Object(m)
}

pub async fn backups(
    shared: &Shared,
    access: &Access,
    action: &str,
    v: &Value,
) -> crate::rest::Resp {
    let argv: Vec<Vec<u8>> = match action {
        "list" => vec![b"BACKUP".to_vec(), b"LIST".to_vec()],
        "create" | "restore" | "delete" | "verify" => match name_field(v) {
            Ok(n) => vec![
                b"BACKUP".to_vec(),
                action.to_ascii_uppercase().into_bytes(),
                n.into_bytes(),
            ],
            Err(e) => return json_error(StatusCode::BAD_REQUEST, &e),
        },
        _ => {
            return json_error(
                StatusCode::NOT_FOUND,
                "ERR unknown backup action: create, restore, verify or delete",
            )
        }
    };
    let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    if !permits(access, &refs) {
        return json_error(
            StatusCode::FORBIDDEN,
            "NOPERM backups need the default user, the standard token or a user allowed BACKUP",
        );
    }
    if action != "list" {
        tracing::info!(
            "console: BACKUP {} {}",
            action,
            String::from_utf8_lossy(&argv[2])
        );
    }
    match crate::backup::command(shared, &argv).await {
        Frame::Error(e) => json_error(StatusCode::BAD_REQUEST, &e),
        Frame::Array(items) if action == "list" => json_reply(
            StatusCode::OK,
            &json!({ "backups": items.iter().map(object).collect::<Vec<_>>() }),
        ),
        f @ (Frame::Array(_) | Frame::Map(_)) => json_reply(StatusCode::OK, &object(&f)),
        f => json_reply(StatusCode::OK, &super::run::typed(&f)),
    }
}

/// GET /console/api/slowlog: `SLOWLOG GET 128`, `LATENCY LATEST` and `LATENCY HISTOGRAM`
/// of this node, typed (POST /console/api/slowlog/reset: `SLOWLOG RESET`). These are not
/// served over REST (per-connection admin commands), so the console runs them here, for a
/// session whose user may run them (never the read-only token, as over REST).
pub fn slowlog(shared: &Shared, access: &Access, reset: bool) -> crate::rest::Resp {
    let cmds: &[&str] = if reset {
        &["slowlog reset"]
    } else {
        &["slowlog get 128", "latency latest", "latency histogram"]
    };
    let mut replies = Vec::new();
    for line in cmds {
        let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        if !permits(access, &argv) {
            return json_error(
                StatusCode::FORBIDDEN,
                &format!(
                    "NOPERM this session may not run {}",
                    line.to_ascii_uppercase()
                ),
            );
        }
        let owned: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        let res = if line.starts_with("slowlog") {
            crate::slowlog::command(&shared.slowlog, &owned)
        } else {
            crate::latency::command(shared, &owned)
        };
        replies.push(super::run::typed(
            &res.unwrap_or_else(|e| Frame::Error(e.0)),
        ));
    }
    json_reply(StatusCode::OK, &json!({ "replies": replies }))
}
