//! The simulated cluster: N voters, each the real openraft `Raft` over the real
//! `LogStore` and `StateMachine` on its own RocksDB directory, with the real proposer,
//! all on one current-thread runtime with paused time. Crashes stop a node's Raft, close
//! its RocksDB and reopen it from the same directory, optionally after cutting the WAL
//! at a random byte past the last fsync (the unsynced tail lost).

use crate::net::{Net, NodeHandle, SimNetwork};
use consensus::testkit::{LogStore, Proposer, Stamp, StateMachine};
use consensus::TypeConfig;
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use storage::{GroupCommit, Storage};

/// Entry times start here (a fixed unix ms), moving with the simulated clock.
const EPOCH_MS: u64 = 1_700_000_000_000;

/// The newest WAL file and how much of it an fsync covered.
type Synced = Arc<Mutex<Option<(PathBuf, u64)>>>;

struct Slot {
    dir: PathBuf,
    incarnation: u64,
    live: Option<Live>,
    synced: Synced,
}

struct Live {
    handle: Arc<NodeHandle>,
    storage: Arc<Storage>,
}

pub struct Cluster {
    pub ids: Vec<u64>,
    pub net: Arc<Net>,
    slots: Mutex<BTreeMap<u64, Slot>>,
    /// Election timeouts, entry seeds and WAL cut points.
    rng: Mutex<StdRng>,
    pub snapshot_every: u64,
}

pub struct Crash {
    /// Cut the WAL past its last fsync (losing the unsynced tail).
    pub lose_unsynced: bool,
}

fn newest_wal(db: &Path) -> Option<PathBuf> {
    std::fs::read_dir(db)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max()
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

impl Cluster {
    pub fn new(root: &Path, n: u64, net: Arc<Net>, seed: u64, snapshot_every: u64) -> Cluster {
        let ids: Vec<u64> = (1..=n).collect();
        let slots = ids
            .iter()
            .map(|&id| {
                let dir = root.join(format!("n{id}"));
                std::fs::create_dir_all(&dir).expect("node dir");
                (
                    id,
                    Slot {
                        dir,
                        incarnation: 0,
                        live: None,
                        synced: Arc::new(Mutex::new(None)),
                    },
                )
            })
            .collect();
        Cluster {
            ids,
            net,
            slots: Mutex::new(slots),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed_c1a5)),
            snapshot_every,
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn draw(&self, lo: u64, hi: u64) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gen_range(lo..hi)
    }

    pub fn is_live(&self, id: u64) -> bool {
        self.slots().get(&id).is_some_and(|s| s.live.is_some())
    }

    pub fn live_ids(&self) -> Vec<u64> {
        self.slots()
            .iter()
            .filter(|(_, s)| s.live.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    /// The live node `id`: its handle, storage and incarnation.
    pub fn get(&self, id: u64) -> Option<(Arc<NodeHandle>, Arc<Storage>)> {
        let slots = self.slots();
        let l = slots.get(&id)?.live.as_ref()?;
        Some((l.handle.clone(), l.storage.clone()))
    }

    pub fn storage(&self, id: u64, incarnation: u64) -> Option<Arc<Storage>> {
        let slots = self.slots();
        let s = slots.get(&id)?;
        (s.incarnation == incarnation)
            .then(|| s.live.as_ref().map(|l| l.storage.clone()))
            .flatten()
    }

    /// Starts (or restarts) node `id` from its directory.
    pub async fn start(&self, id: u64, initialize: bool) -> anyhow::Result<()> {
        let (dir, synced, incarnation) = {
            let mut slots = self.slots();
            let s = slots.get_mut(&id).expect("known node");
            assert!(s.live.is_none(), "node {id} already running");
            s.incarnation += 1;
            (s.dir.clone(), s.synced.clone(), s.incarnation)
        };
        let db = dir.join("db");
        let storage = Storage::open(&db, 4 << 20)?;
        // What the open recovered is flushed to table files: durable from here.
        let record = {
            let synced = synced.clone();
            let db = db.clone();
            move || {
                let w = newest_wal(&db).map(|p| {
                    let n = file_len(&p);
                    (p, n)
                });
                *synced.lock().unwrap_or_else(|e| e.into_inner()) = w;
            }
        };
        record();
        storage.set_sync_observer(Box::new(record));
        // The simulation's fsync runs inline: no wal-sync thread decides when appends
        // are reported durable.
        let gc = Arc::new(GroupCommit::inline(storage.clone()));
        let log = LogStore::new(storage.clone(), gc);
        let (sm, applied) = StateMachine::open(storage.clone(), dir.join("snapshots"))?;
        // openraft draws each election timeout from its own unseeded RNG in
        // [min, max): with max = min + 1 it can only pick min, so the timeout is the
        // seeded draw here (fixed for this incarnation of the node).
        let et = self.draw(150, 450);
        let config = Config {
            cluster_name: "sim".into(),
            election_timeout_min: et,
            election_timeout_max: et + 1,
            heartbeat_interval: 50,
            install_snapshot_timeout: 30_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: 5,
            purge_batch_size: 1,
            ..Default::default()
        }
        .validate()?;
        let network = SimNetwork {
            from: id,
            net: self.net.clone(),
        };
        {
            let logs = storage.log_range(0, u64::MAX)?;
            self.net.trace.event(format!(
                "open node {id}: applied {}, log {:?}..{:?}, committed {:?}, purged {:?}",
                *applied.borrow(),
                logs.first().map(|l| l.0),
                logs.last().map(|l| l.0),
                storage
                    .raft_get(keys::RAFT_COMMITTED)?
                    .and_then(
                        |r| bincode::deserialize::<Option<consensus::testkit::LogId>>(&r).ok()
                    )
                    .flatten()
                    .map(|l| l.index),
                storage
                    .raft_get(keys::RAFT_PURGED)?
                    .and_then(
                        |r| bincode::deserialize::<Option<consensus::testkit::LogId>>(&r).ok()
                    )
                    .flatten()
                    .map(|l| l.index),
            ));
        }
        let raft = Raft::<TypeConfig>::new(id, Arc::new(config), network, log, sm).await?;
        let start = tokio::time::Instant::now();
        let base = EPOCH_MS + self.net.trace.now_us() / 1000;
        let seeds = Mutex::new(StdRng::seed_from_u64(self.draw(0, u64::MAX)));
        let stamp = Stamp {
            now_ms: Box::new(move || base + start.elapsed().as_millis() as u64),
            seed: Box::new(move || seeds.lock().unwrap_or_else(|e| e.into_inner()).gen()),
        };
        let proposer = Proposer::spawn(raft.clone(), stamp);
        let handle = Arc::new(NodeHandle {
            id,
            incarnation,
            raft: raft.clone(),
            proposer,
            applied,
            snapshot_root: dir.join("snapshots"),
        });
        self.net.register(handle.clone());
        self.net.trace.event(format!(
            "start node {id} #{incarnation} election timeout {et}"
        ));
        if initialize {
            let members: BTreeMap<u64, BasicNode> = self
                .ids
                .iter()
                .map(|&i| (i, BasicNode::new(format!("n{i}"))))
                .collect();
            if let Err(e) = raft.initialize(members).await {
                self.net.trace.event(format!("initialize {id}: {e}"));
            }
        }
        let mut slots = self.slots();
        slots.get_mut(&id).expect("known").live = Some(Live { handle, storage });
        Ok(())
    }

    /// Stops node `id` as a crash would: its Raft stops, its RocksDB is closed with
    /// whatever was written (synced or not), and with `lose_unsynced` the WAL is cut at
    /// a random byte between the last fsync and its end.
    pub async fn crash(&self, id: u64, how: Crash) {
        let live = {
            let mut slots = self.slots();
            match slots.get_mut(&id).and_then(|s| s.live.take()) {
                Some(l) => l,
                None => return,
            }
        };
        self.net.unregister(id);
        let Live { handle, storage } = live;
        let _ = handle.raft.shutdown().await;
        drop(handle);
        // Every task holding the store (core, state machine worker, replication) ends
        // once Raft has stopped; the database closes when the last handle goes.
        let mut waited = 0;
        while Arc::strong_count(&storage) > 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            waited += 1;
            assert!(
                waited < 60_000,
                "node {id}'s storage still held a minute after its Raft stopped"
            );
        }
        let db = storage.path().to_path_buf();
        drop(storage);
        let mut cut = String::new();
        if how.lose_unsynced {
            let synced = self.slots().get(&id).expect("known").synced.clone();
            let synced = synced.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(wal) = newest_wal(&db) {
                let len = file_len(&wal);
                let keep_from = match synced {
                    Some((p, n)) if p == wal => n.min(len),
                    // A WAL begun after the last fsync: all of it is unsynced.
                    _ => 0,
                };
                let at = if len > keep_from {
                    self.draw(keep_from, len + 1)
                } else {
                    len
                };
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&wal)
                    .expect("open wal");
                f.set_len(at).expect("cut wal");
                cut = format!(
                    ", WAL cut at {at} of {len} (synced {keep_from}): {} bytes lost",
                    len - at
                );
            }
        }
        self.net.trace.event(format!("crash node {id}{cut}"));
    }

    /// Stops every node (end of run) so the directories can go.
    pub async fn stop_all(&self) {
        for id in self.ids.clone() {
            self.crash(
                id,
                Crash {
                    lose_unsynced: false,
                },
            )
            .await;
        }
    }
}
