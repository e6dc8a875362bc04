//! What travels through the log.

use resp::Frame;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One log entry's payload. `now_ms` and `seed` are fixed by the leader when it
/// proposes, so applying the entry is a pure function of (state, entry).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub now_ms: u64,
    pub seed: u64,
    /// Several clients' writes batched into one entry; one reply each.
    pub ops: Vec<Op>,
    /// Runs of `ops` forwarded by another node under a request id: applied at most once,
    /// a retried forward gets the first application's replies.
    pub dedupe: Vec<Dedupe>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dedupe {
    pub start: u32,
    pub count: u32,
    pub origin: u64,
    pub seq: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Op {
    /// A client command in database `db`.
    Cmd { db: u8, argv: Vec<Vec<u8>> },
    /// The leader's expirer: delete these (expire_at, key) if still due at `now_ms`.
    Expire { db: u8, due: Vec<(u64, Vec<u8>)> },
    /// MULTI/EXEC: runs `cmds` (each in its db) only if every watched `(db, key,
    /// write_index)` still matches; one reply, the array of replies or a null array.
    Multi {
        cmds: Vec<(u8, Vec<Vec<u8>>)>,
        watch: Vec<(u8, Vec<u8>, u64)>,
    },
    /// CONFIG SET of replicated settings (`engine::settings`): (name, value) pairs,
    /// applied all or nothing. Appended last so older entries decode unchanged.
    SetConfig { pairs: Vec<(String, Vec<u8>)> },
    /// A script command (EVAL, EVALSHA, FCALL) of an ACL user who may not run everything:
    /// runs as `Cmd`, the script's `redis.call`s and `redis.acl_check_cmd` checked
    /// against `user` as its ACL description (`acl`) stood when it was proposed, as Redis
    /// checks a script's caller. Appended last so older entries decode unchanged.
    CmdAs {
        db: u8,
        argv: Vec<Vec<u8>>,
        user: Vec<u8>,
        acl: Vec<u8>,
    },
    /// The leader's evictor (`node/evict.rs`): delete these keys of `db`, chosen to bring
    /// the data back under the quota, if they still exist (`evicted` events, INFO
    /// evicted_keys). Appended last so older entries decode unchanged.
    Evict { db: u8, keys: Vec<Vec<u8>> },
    /// One step of a backup restore (`node/backup.rs`). Appended last so older entries
    /// decode unchanged.
    Restore(RestoreStep),
    /// MULTI/EXEC (as `Multi`) of an ACL user who may not run everything, when it queues
    /// a script (EVAL, EVALSHA, FCALL): the scripts' `redis.call`s are checked against
    /// `user`'s ACL description (`acl`) as `CmdAs` does. Appended last so older entries
    /// decode unchanged.
    MultiAs {
        cmds: Vec<(u8, Vec<Vec<u8>>)>,
        watch: Vec<(u8, Vec<u8>, u64)>,
        user: Vec<u8>,
        acl: Vec<u8>,
    },
    /// The regions of the members (`sm` records `region:member:` and `region:declared:`).
    /// Appended last so older entries decode unchanged.
    Region(RegionOp),
    /// Anti-entropy's repair (`node/antientropy.rs`): rewrites keys of slots where a
    /// member's records differ from the leader's, each slot only if nothing changed it
    /// since the leader read it. Appended last so older entries decode unchanged.
    Repair { slots: Vec<RepairSlot> },
    /// A last-writer-wins merge of keys from another history of this database (a
    /// deposed primary region rejoining): each key is taken only if its stamp is greater
    /// than what this history holds for it. Appended last so older entries decode
    /// unchanged.
    Merge { keys: Vec<MergeKey> },
}

/// One key of another history: its HLC stamp and its DUMP payload with absolute expiry
/// (0: none), or None for a delete (a tombstone there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeKey {
    pub db: u8,
    pub key: Vec<u8>,
    pub hlc: u64,
    pub node: u64,
    pub value: Option<(Vec<u8>, u64)>,
}

/// The keys of one slot to rewrite with the leader's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairSlot {
    pub slot: u16,
    /// The slot's last changing entry when the leader read it: the repair of this slot
    /// is skipped on a node where a later entry changed it (or this entry's earlier ops).
    pub last_index: u64,
    pub keys: Vec<RepairKey>,
}

/// One key as the leader holds it: its DUMP payload and absolute expiry (0: none), or
/// None when the key does not exist there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairKey {
    pub db: u8,
    pub key: Vec<u8>,
    pub value: Option<(Vec<u8>, u64)>,
}

/// A change to the region records (`keys::sm::REGION_MEMBERS`, `REGIONS_DECLARED`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegionOp {
    /// Member `id` runs in `region` (what the node was started with, `--region`).
    Member { id: u64, region: String },
    /// Member `id` left the group.
    Forget { id: u64 },
    /// A region added before its nodes join (`meridian cluster add-region`).
    Declare { name: String },
    /// A region removed (`meridian cluster remove-region`, after its members left).
    Undeclare { name: String },
    /// A promotion over a lost primary (`node/failover.rs`): bincode of its `Failover`
    /// record, kept in `sm` record `failover`. Appended so older entries decode.
    Failover { record: Vec<u8> },
}

/// A backup restore goes through the log in steps, so every replica replaces its state
/// at the same point of the log. Between `Begin` and `End` the `sm` record `restore`
/// holds the restore's id and every other op is refused with `LOADING` (reads too, on
/// every node): clients never see a mix of old and new state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestoreStep {
    /// Empties the keyspace, the expiry index and the functions, and marks the restore
    /// `id` in progress (replacing any unfinished one).
    Begin { id: String },
    /// Writes records of the backup: (column family code, key, value); see
    /// [`cf_code`]. Refused unless restore `id` is the one in progress.
    Chunk {
        id: String,
        records: Vec<(u8, Vec<u8>, Vec<u8>)>,
    },
    /// Ends restore `id`: commands are served again.
    End { id: String },
}

/// The code of a column family in a [`RestoreStep::Chunk`].
pub fn cf_code(cf: keys::Cf) -> u8 {
    match cf {
        keys::Cf::Meta => 0,
        keys::Cf::Data => 1,
        keys::Cf::Expire => 2,
        keys::Cf::Sm => 3,
    }
}

/// The column family of a code from [`cf_code`].
pub fn cf_of_code(code: u8) -> Option<keys::Cf> {
    Some(match code {
        0 => keys::Cf::Meta,
        1 => keys::Cf::Data,
        2 => keys::Cf::Expire,
        3 => keys::Cf::Sm,
        _ => return None,
    })
}

/// Where applied entries report what they did: the node's pub/sub, keyspace
/// notifications and blocked clients (implemented by the server).
pub trait EventSink: engine::Bus {
    /// Called after an entry's effects are written, with the entry's leader time.
    fn deliver(&self, entry_ms: u64, touched: Vec<engine::Touched>, events: Vec<engine::Event>);
}

/// The replies of an entry's ops, in order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Response {
    pub replies: Vec<Frame>,
}

/// A snapshot is a RocksDB checkpoint directory (hard-linked SST files).
#[derive(Debug, Clone)]
pub struct SnapshotDir {
    pub path: PathBuf,
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = u64,
        Node = openraft::BasicNode,
        SnapshotData = SnapshotDir,
);

pub type LogId = openraft::LogId<u64>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type StoredMembership = openraft::StoredMembership<u64, openraft::BasicNode>;
pub type StorageError = openraft::StorageError<u64>;

pub(crate) fn read_err(e: impl std::error::Error + 'static) -> StorageError {
    openraft::StorageIOError::read(openraft::AnyError::new(&e)).into()
}

pub(crate) fn write_err(e: impl std::error::Error + 'static) -> StorageError {
    openraft::StorageIOError::write(openraft::AnyError::new(&e)).into()
}
