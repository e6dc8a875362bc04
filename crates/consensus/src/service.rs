//! The gRPC server side: hands Raft messages to openraft and receives streamed
//! snapshots; forwarded writes, read-index and admin calls go to the node's write
//! path, read path and admin (`node/write.rs`, `node/read.rs`, `node/admin.rs`).

use crate::network::{self, envelope, open, GROUP};
use crate::node::{AdminRequest, Node};
use crate::pb::cluster_server::{Cluster, ClusterServer};
use crate::pb::{Envelope, SnapshotChunk};
use crate::types::{Op, SnapshotDir, TypeConfig};
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use openraft::{BasicNode, Snapshot, SnapshotMeta, Vote};
use std::io::Write;
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};

pub struct Service {
    node: Arc<Node>,
}

pub fn server(node: Arc<Node>) -> ClusterServer<Service> {
    ClusterServer::new(Service { node })
        .max_decoding_message_size(network::MAX_MESSAGE)
        .max_encoding_message_size(network::MAX_MESSAGE)
}

fn check_group(e: &Envelope) -> Result<(), Status> {
    if e.group != GROUP {
        return Err(Status::not_found(format!("no raft group {}", e.group)));
    }
    link(&e.auth)
}

/// Every RPC carries the cluster-link secret; a wrong one is refused and logged.
fn link(auth: &str) -> Result<(), Status> {
    if network::link_ok(auth) {
        return Ok(());
    }
    tracing::warn!("cluster link refused: wrong cluster secret (the nodes' passwords differ)");
    Err(Status::unauthenticated(
        "cluster link refused: wrong cluster secret (the nodes' passwords differ)",
    ))
}

fn bad(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(e.to_string())
}

#[tonic::async_trait]
impl Cluster for Service {
    async fn append_entries(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let e = req.into_inner();
        check_group(&e)?;
        self.node.check_epoch(e.epoch)?;
        let rpc: AppendEntriesRequest<TypeConfig> = open(&e).map_err(bad)?;
        let res = self.node.raft().append_entries(rpc).await;
        if res.is_ok() {
            self.node.heard_from_leader();
        }
        Ok(Response::new(envelope(&res)))
    }

    async fn vote(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let e = req.into_inner();
        check_group(&e)?;
        self.node.check_epoch(e.epoch)?;
        let rpc: VoteRequest<u64> = open(&e).map_err(bad)?;
        let res = self.node.raft().vote(rpc).await;
        Ok(Response::new(envelope(&res)))
    }

    async fn install_snapshot(
        &self,
        req: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<Envelope>, Status> {
        let mut stream = req.into_inner();
        let root = self.node.snapshot_root();
        let incoming = root.join(format!("incoming-{}.tmp", rand::random::<u64>()));
        let db_dir = incoming.join("db");
        std::fs::create_dir_all(&db_dir).map_err(|e| Status::internal(e.to_string()))?;
        let result = match receive(&mut stream, &db_dir).await {
            Ok((epoch, h)) => self.node.check_epoch(epoch).map(|_| h),
            Err(e) => Err(e),
        };
        let (vote, meta) = match result {
            Ok(h) => h,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&incoming);
                return Err(e);
            }
        };
        let final_dir = root.join(format!("received-{}", meta.snapshot_id));
        let _ = std::fs::remove_dir_all(&final_dir);
        std::fs::rename(&incoming, &final_dir).map_err(|e| Status::internal(e.to_string()))?;
        let snapshot = Snapshot {
            meta,
            snapshot: Box::new(SnapshotDir { path: final_dir }),
        };
        let res: Result<openraft::raft::SnapshotResponse<u64>, String> = self
            .node
            .raft()
            .install_full_snapshot(vote, snapshot)
            .await
            .map_err(|e| e.to_string());
        Ok(Response::new(envelope(&res)))
    }

    async fn forward(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let e = req.into_inner();
        check_group(&e)?;
        self.node.check_epoch(e.epoch)?;
        let (origin, seq, ops): (u64, u64, Vec<Op>) = open(&e).map_err(bad)?;
        let res = self.node.execute_forwarded(origin, seq, ops).await;
        Ok(Response::new(envelope(&res)))
    }

    async fn read_index(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let e = req.into_inner();
        check_group(&e)?;
        self.node.check_epoch(e.epoch)?;
        // The error travels as text (the asking node's `ReadIndexError::Remote`).
        let res: Result<u64, String> = self
            .node
            .leader_read_index()
            .await
            .map_err(|e| e.to_string());
        Ok(Response::new(envelope(&res)))
    }

    async fn anti_entropy(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let e = req.into_inner();
        check_group(&e)?;
        let r: crate::node::AeRequest = open(&e).map_err(bad)?;
        let res = self.node.serve_ae(r).await;
        Ok(Response::new(envelope(&res)))
    }

    async fn admin(&self, req: Request<Envelope>) -> Result<Response<Envelope>, Status> {
        let e = req.into_inner();
        if e.group != GROUP {
            return Err(Status::not_found(format!("no raft group {}", e.group)));
        }
        if !network::link_ok(&e.auth) {
            tracing::warn!("admin call refused: wrong cluster password");
            return Err(Status::unauthenticated(
                "WRONGPASS invalid cluster password",
            ));
        }
        let r: AdminRequest = open(&e).map_err(bad)?;
        // The error travels as text (the caller's `AdminError::Remote`).
        let res = self.node.admin(r, &e.auth).await.map_err(|e| e.to_string());
        Ok(Response::new(envelope(&res)))
    }
}

/// Writes the streamed files into `db_dir`, checking every chunk's crc32 and offset.
async fn receive(
    stream: &mut Streaming<SnapshotChunk>,
    db_dir: &std::path::Path,
) -> Result<(u64, (Vote<u64>, SnapshotMeta<u64, BasicNode>)), Status> {
    let mut header = None;
    let mut epoch = 0;
    let mut current: Option<(String, std::fs::File, u64)> = None;
    while let Some(chunk) = stream.message().await? {
        if chunk.group != GROUP {
            return Err(Status::not_found("unknown raft group"));
        }
        link(&chunk.auth)?;
        if !chunk.header.is_empty() {
            epoch = chunk.epoch;
            header = Some(bincode::deserialize(&chunk.header).map_err(bad)?);
            continue;
        }
        if crc32fast::hash(&chunk.data) != chunk.crc32 {
            return Err(Status::data_loss(format!(
                "crc mismatch in {} at {}",
                chunk.file, chunk.offset
            )));
        }
        if chunk.file.is_empty() || chunk.file.contains('/') || chunk.file.contains("..") {
            return Err(bad(format!("bad snapshot file name {:?}", chunk.file)));
        }
        let reopen = current.as_ref().map_or(true, |(n, _, _)| n != &chunk.file);
        if reopen {
            let f = std::fs::File::create(db_dir.join(&chunk.file))
                .map_err(|e| Status::internal(e.to_string()))?;
            current = Some((chunk.file.clone(), f, 0));
        }
        let (_, f, expect) = current.as_mut().expect("set above");
        if chunk.offset != *expect {
            return Err(Status::data_loss(format!(
                "chunk of {} at {} expected {}",
                chunk.file, chunk.offset, expect
            )));
        }
        f.write_all(&chunk.data)
            .map_err(|e| Status::internal(e.to_string()))?;
        *expect += chunk.data.len() as u64;
    }
    if let Some((_, f, _)) = current {
        f.sync_all().map_err(|e| Status::internal(e.to_string()))?;
    }
    header
        .map(|h| (epoch, h))
        .ok_or_else(|| bad("snapshot stream without header"))
}
