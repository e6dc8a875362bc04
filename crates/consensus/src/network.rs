//! Node-to-node transport over gRPC (tonic): the openraft network client.
//! Payloads are bincode; snapshots stream as file chunks with crc32 checks.

use crate::error::ReplyError;
use crate::pb::cluster_client::ClusterClient;
use crate::pb::{Envelope, SnapshotChunk};
use crate::types::TypeConfig;
use openraft::error::{
    Fatal, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed, StreamingError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Snapshot, Vote};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// The single Raft group today; every RPC carries it so a node can host many later.
pub const GROUP: u64 = 0;
/// Largest gRPC message accepted (entries batches); snapshots stream in chunks.
pub const MAX_MESSAGE: usize = 256 << 20;
const CHUNK: usize = 1 << 20;

pub fn channel(addr: &str) -> Result<Channel, tonic::transport::Error> {
    let uri = if addr.starts_with("http") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    let ep = Endpoint::from_shared(uri)?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10));
    // The channel speaks HTTP/2 to an `http://` URI over a connection the connector
    // opened from this node's address and, with cluster TLS, secured (crate::tls).
    Ok(ep.connect_with_connector_lazy(crate::tls::ClusterConnector))
}

pub fn client(ch: Channel) -> ClusterClient<Channel> {
    ClusterClient::new(ch)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// This node's cluster-link secret (empty when authentication is off), sent with every
/// RPC and checked on every RPC received (`service.rs`).
static LINK_TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The secret cluster links carry, derived from the password (so the password itself
/// never crosses a link): SHA-256 of a fixed label and the password, hex.
pub fn cluster_token(password: &str) -> String {
    if password.is_empty() {
        return String::new();
    }
    engine::acl::hash_password(format!("meridian-cluster-link\n{password}").as_bytes())
}

/// Sets this process's cluster-link secret from the node's password (at start).
pub fn set_link_password(password: Option<&str>) {
    let _ = LINK_TOKEN.set(cluster_token(password.unwrap_or("")));
}

/// This node's cluster-link secret ("" when authentication is off).
pub fn link_token() -> &'static str {
    LINK_TOKEN.get().map_or("", String::as_str)
}

/// Whether `given` is this node's cluster-link secret (constant time; always true when
/// authentication is off).
pub fn link_ok(given: &str) -> bool {
    let own = link_token();
    own.is_empty() || engine::acl::ct_eq(own.as_bytes(), given.as_bytes())
}

pub fn envelope<T: Serialize>(v: &T) -> Envelope {
    Envelope {
        group: GROUP,
        payload: bincode::serialize(v).unwrap_or_default(),
        error: String::new(),
        auth: link_token().to_string(),
        epoch: crate::node::epoch(),
    }
}

pub fn open<T: DeserializeOwned>(e: &Envelope) -> Result<T, ReplyError> {
    if !e.error.is_empty() {
        return Err(ReplyError::Remote(e.error.clone()));
    }
    bincode::deserialize(&e.payload).map_err(ReplyError::BadPayload)
}

/// When each peer last answered a Raft RPC of this node (unix ms): a leader's "last
/// contact" with each member (`cluster status`, INFO).
#[derive(Default)]
pub struct Contacts(std::sync::Mutex<std::collections::HashMap<u64, u64>>);

impl Contacts {
    pub fn note(&self, id: u64) {
        let now = crate::node::now_ms();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, now);
    }

    /// Unix ms of the last answer from `id`, if any.
    pub fn last(&self, id: u64) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .copied()
    }
}

pub struct Network {
    pub contacts: std::sync::Arc<Contacts>,
}

pub struct Peer {
    target: u64,
    addr: String,
    client: Option<ClusterClient<Channel>>,
    contacts: std::sync::Arc<Contacts>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        Peer {
            target,
            addr: node.addr.clone(),
            client: None,
            contacts: self.contacts.clone(),
        }
    }
}

impl Peer {
    fn client(&mut self) -> Result<ClusterClient<Channel>, Unreachable> {
        if self.client.is_none() {
            let ch = channel(&self.addr).map_err(|e| Unreachable::new(&e))?;
            self.client = Some(client(ch));
        }
        Ok(self.client.clone().expect("just set"))
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        kind: &'static str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, RPCError<u64, BasicNode, RaftError<u64>>> {
        let mut c = self.client().map_err(RPCError::Unreachable)?;
        let env = envelope(req);
        let fut = async {
            match kind {
                "append" => c.append_entries(env).await,
                _ => c.vote(env).await,
            }
        };
        let reply = match tokio::time::timeout(timeout, fut).await {
            Err(_) => {
                return Err(RPCError::Network(NetworkError::new(
                    &std::io::Error::other("rpc timed out"),
                )))
            }
            Ok(Err(status)) => {
                // Drop the channel so the next call reconnects.
                self.client = None;
                return Err(RPCError::Unreachable(Unreachable::new(
                    &std::io::Error::other(status.to_string()),
                )));
            }
            Ok(Ok(r)) => r.into_inner(),
        };
        self.contacts.note(self.target);
        let res: Result<Resp, RaftError<u64>> = open(&reply)
            .map_err(|e| RPCError::Network(NetworkError::new(&std::io::Error::other(e))))?;
        res.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call("append", &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call("vote", &rpc, option.hard_ttl()).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<u64>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
        let mut c = self.client().map_err(StreamingError::Unreachable)?;
        let root = snapshot.snapshot.path.join("db");
        let header = bincode::serialize(&(vote, snapshot.meta.clone()))
            .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = snapshot_chunks(&root, header, &tx) {
                tracing::warn!("reading snapshot for streaming failed: {e}");
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let send = async move { c.install_snapshot(stream).await };
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            r = send => match r {
                Err(status) => {
                    self.client = None;
                    Err(StreamingError::Unreachable(Unreachable::new(&std::io::Error::other(status.to_string()))))
                }
                Ok(reply) => {
                    let res: Result<SnapshotResponse<u64>, String> = open(&reply.into_inner())
                        .map_err(|e| StreamingError::Network(NetworkError::new(&std::io::Error::other(e))))?;
                    res.map_err(|e| StreamingError::Network(NetworkError::new(&std::io::Error::other(e))))
                }
            }
        }
    }
}

/// Streams a checkpoint directory as chunks (at most a few chunks in memory at once).
fn snapshot_chunks(
    root: &std::path::Path,
    header: Vec<u8>,
    tx: &tokio::sync::mpsc::Sender<SnapshotChunk>,
) -> std::io::Result<()> {
    use std::io::Read;
    let send = |c: SnapshotChunk| {
        tx.blocking_send(c)
            .map_err(|_| std::io::Error::other("receiver gone"))
    };
    send(SnapshotChunk {
        group: GROUP,
        header,
        file: String::new(),
        offset: 0,
        data: Vec::new(),
        crc32: crc32fast::hash(&[]),
        auth: link_token().to_string(),
        epoch: crate::node::epoch(),
    })?;
    let mut files: Vec<_> = std::fs::read_dir(root)?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        if !path.is_file() {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut f = std::fs::File::open(&path)?;
        let mut offset = 0u64;
        loop {
            let mut data = vec![0u8; CHUNK];
            let mut filled = 0;
            while filled < CHUNK {
                let n = f.read(&mut data[filled..])?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            data.truncate(filled);
            let last = filled < CHUNK;
            if filled > 0 || offset == 0 {
                send(SnapshotChunk {
                    group: GROUP,
                    header: Vec::new(),
                    file: name.clone(),
                    offset,
                    crc32: crc32fast::hash(&data),
                    data,
                    auth: link_token().to_string(),
                    epoch: crate::node::epoch(),
                })?;
            }
            offset += filled as u64;
            if last {
                break;
            }
        }
    }
    Ok(())
}
