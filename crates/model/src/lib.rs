//! An explicit-state model of Meridian's cross-region replication (issue 16): a primary
//! region, asynchronous read replicas in another region, partitions, operator failover,
//! split brain, the rejoin merge of the old primary's forked writes by last-writer-wins,
//! tombstones with a grace period, and anti-entropy repairing a corrupted replica.
//!
//! The clock and the merge rule are the real code: every stamp is made by
//! [`keys::hlc::Stamp::next`] and every LWW decision is [`keys::hlc::lww_replaces`].
//! Everything else (Raft inside a region, the network, storage) is abstracted, see
//! `README.md` beside this crate.
//!
//! The model is checked with [stateright](https://docs.rs/stateright): [`Cluster`] is the
//! `Model`, its [`Cluster::properties`] are the claims, and the tests in `tests/` run the
//! breadth-first checker over every interleaving within the bounds of a [`Config`].
//!
//! Deliberately broken variants ([`MergeRule`], [`MergeCheck`], [`ClockRule`], [`Digest`],
//! a purgeable tombstone, a corruption before failover) exist so the tests can show that
//! the checker finds their counterexamples: the properties are not vacuous.

use keys::hlc::{lww_replaces, Stamp};
use stateright::{Model, Property};

/// Wall clocks read `BASE_MS + now + skew`: far enough from 0 that a negative skew stays
/// positive, and above 0 so the first stamp comes from the wall (as in the real system).
pub const BASE_MS: u64 = 100;

/// How the new primary decides whether a version sent by a rejoining node replaces its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeRule {
    /// The real rule: `lww_replaces(held stamp incl. tombstone, incoming stamp)`, and the
    /// merged write keeps the incoming stamp.
    Lww,
    /// Broken: the incoming version always wins.
    AlwaysIncoming,
    /// Broken: a tombstone counts as "nothing held" (the LWW check ignores deletes).
    IgnoreTombstones,
    /// Broken: the forked writes are replayed as new writes (no LWW check, a fresh stamp
    /// from the new primary's clock).
    Restamp,
}

/// Where the LWW check of a merged version runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeCheck {
    /// In the state machine, when the merge entry is applied (on the primary and on every
    /// replica alike): the entry is conditional.
    AtApply,
    /// Broken: when the rejoining node's versions are proposed; the log entry is then
    /// applied unconditionally, so a client write committed in between can be overwritten.
    AtPropose,
}

/// The "previous stamp" that `Stamp::next` continues from on a primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockRule {
    /// The real rule: the greatest stamp in the log (a merged entry keeps its possibly
    /// smaller incoming stamp, and the clock takes the max).
    MaxOfLog,
    /// Broken: the last entry's stamp, even when it is a merged entry older than the one
    /// before it.
    LastEntry,
}

/// When the rejoining node drops its state for the new primary's snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejoinOrder {
    /// After the new primary has written every version it sent through its log: the
    /// snapshot then holds them, so its clock is at least every stamp the node issued.
    MergeThenSnapshot,
    /// Broken: right after sending, before the merge entries are written. If the node is
    /// promoted again before it has replicated them, its clock is below stamps it issued
    /// itself in the abandoned history, and `Stamp::next` issues one of them again.
    SnapshotFirst,
}

/// What anti-entropy's digest covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    /// Value (or tombstone) and stamp of every key.
    Full,
    /// Broken: stamps only; a value changed behind the stamp's back goes unseen.
    StampsOnly,
}

/// The bounds and the variant of the protocol to check.
#[derive(Clone, Debug)]
pub struct Config {
    /// Keys 0..keys.
    pub keys: u8,
    /// Values 1..=values (a SET writes one of them).
    pub values: u8,
    /// Read-region replicas (b1, b2): 1 or 2.
    pub replicas: u8,
    /// Client writes and deletes accepted, over all primaries.
    pub max_writes: u8,
    /// The global time counter runs 0..=max_time.
    pub max_time: u8,
    /// Each read-region node's wall clock is skewed by -max_skew..=max_skew against the
    /// primary's (only relative skew matters, so `a`'s is 0).
    pub max_skew: i8,
    /// Operator failovers (promote-region).
    pub max_failovers: u8,
    /// Tombstones that may be purged (grace period over) at any time: 0 models a grace
    /// period longer than any partition that is merged back.
    pub tombstone_purges: u8,
    /// The nodes whose tombstones may be purged, a bit per node (bit 0: a, 1: b1, 2: b2).
    pub purge_nodes: u8,
    /// One corruption of a replica's value (stamp unchanged) may happen.
    pub corruption: bool,
    /// The corruption may happen before a failover (so the corrupted replica may be
    /// promoted before anti-entropy repaired it). Off: only once no failover can follow.
    pub corrupt_before_failover: bool,
    pub merge: MergeRule,
    pub merge_check: MergeCheck,
    pub clock: ClockRule,
    pub digest: Digest,
    pub rejoin: RejoinOrder,
}

impl Default for Config {
    /// The configuration the tests check exhaustively (see `tests/check.rs` for the state
    /// count and time).
    fn default() -> Config {
        Config {
            keys: 2,
            values: 2,
            replicas: 1,
            max_writes: 3,
            max_time: 2,
            max_skew: 1,
            max_failovers: 1,
            tombstone_purges: 0,
            purge_nodes: 0b111,
            corruption: true,
            corrupt_before_failover: false,
            merge: MergeRule::Lww,
            merge_check: MergeCheck::AtApply,
            clock: ClockRule::MaxOfLog,
            digest: Digest::Full,
            rejoin: RejoinOrder::MergeThenSnapshot,
        }
    }
}

/// What a node holds for a key: a value, or a tombstone (`value: None`), with its stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    pub value: Option<u8>,
    pub stamp: Stamp,
}

/// One log entry: it sets `key` to `value` (None: deletes it, leaving a tombstone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    pub key: u8,
    pub value: Option<u8>,
    pub stamp: Stamp,
    /// Stamped by the primary that appended it (a client write, or a restamped merge);
    /// false for a merged version that kept its incoming stamp.
    pub local: bool,
    /// A merge entry applied only if `lww_replaces` says so (checked at apply).
    pub conditional: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    /// The history this node belongs to: the term of the primary it believes in.
    pub term: u8,
    /// The node it follows; itself when it believes it is the primary.
    pub leader: u8,
    /// The applied log (a replica's is a prefix of its primary's).
    pub log: Vec<Entry>,
    /// What it holds per key.
    pub kv: Vec<Option<Version>>,
    /// It has sent its forked versions to the new primary and waits for their merge
    /// before taking the snapshot (it accepts no writes meanwhile).
    pub rejoining: bool,
}

/// Ghost flags for the `sometimes` properties.
pub const EV_MERGED: u8 = 1;
pub const EV_TOMBSTONE_WON: u8 = 2;
pub const EV_AE_REPAIRED: u8 = 4;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub now: u8,
    /// Per-node wall clock skew.
    pub skew: Vec<i8>,
    /// The link between region A (node 0) and region B (nodes 1..).
    pub link_up: bool,
    /// The current term and its primary (what the operator's last promote decided).
    pub term: u8,
    pub primary: u8,
    pub nodes: Vec<Node>,
    /// Versions sent by a rejoining node, not yet written through the primary's log.
    pub inbox: Vec<(u8, Version)>,
    /// Ghost: every acknowledged client write or delete, (key, version).
    pub acked: Vec<(u8, Version)>,
    pub writes: u8,
    pub failovers: u8,
    pub purges: u8,
    pub corruptions: u8,
    pub events: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Time advances by 1 ms on every wall clock.
    Tick,
    /// A client SET (Some) or DEL (None) accepted by a node that believes it is primary.
    Write {
        node: u8,
        key: u8,
        value: Option<u8>,
    },
    /// A follower applies the next entry of its leader's log.
    Replicate {
        node: u8,
    },
    LinkDown,
    LinkUp,
    /// The operator promotes `node` (the other region cannot reach the primary).
    Failover {
        node: u8,
    },
    /// A node of an older history reaches the current primary: sends its versions of every
    /// key it changed after the fork point, takes the primary's snapshot, follows it.
    Rejoin {
        node: u8,
    },
    /// A rejoining node whose versions are all merged takes the primary's snapshot and
    /// follows it.
    Snapshot {
        node: u8,
    },
    /// The primary writes the first pending merged version through its log.
    ApplyMerge,
    /// The primary compares digests with a caught-up follower and repairs differing keys.
    AntiEntropy {
        node: u8,
    },
    /// A tombstone's grace period ends on `node`.
    Purge {
        node: u8,
        key: u8,
    },
    /// A replica's value changes behind its back (its stamp stays).
    Corrupt {
        node: u8,
        key: u8,
    },
}

/// The model: a [`Config`] with `stateright::Model` implemented over [`State`].
#[derive(Clone, Debug)]
pub struct Cluster {
    pub cfg: Config,
}

impl Cluster {
    pub fn new(cfg: Config) -> Cluster {
        assert!((1..=2).contains(&cfg.replicas));
        Cluster { cfg }
    }

    fn node_count(&self) -> u8 {
        1 + self.cfg.replicas
    }

    /// Region A is node 0 alone (its Raft group is one node: within a group the log is
    /// the truth); region B holds the replicas.
    fn region(node: u8) -> u8 {
        if node == 0 {
            0
        } else {
            1
        }
    }

    fn reachable(s: &State, x: u8, y: u8) -> bool {
        Self::region(x) == Self::region(y) || s.link_up
    }

    /// The stamp's node id: 1 for a, 2 for b1, 3 for b2.
    fn node_id(node: u8) -> u64 {
        node as u64 + 1
    }

    fn wall(s: &State, node: u8) -> u64 {
        (BASE_MS as i64 + s.now as i64 + s.skew[node as usize] as i64) as u64
    }

    /// The previous stamp a primary continues from.
    pub fn clock(&self, log: &[Entry]) -> Stamp {
        match self.cfg.clock {
            ClockRule::MaxOfLog => log.iter().map(|e| e.stamp).max().unwrap_or(Stamp::ZERO),
            ClockRule::LastEntry => log.last().map(|e| e.stamp).unwrap_or(Stamp::ZERO),
        }
    }

    /// The merge decision (the real one is `lww_replaces`).
    fn replaces(&self, held: Option<Version>, incoming: Stamp) -> bool {
        match self.cfg.merge {
            MergeRule::Lww | MergeRule::Restamp => lww_replaces(held.map(|v| v.stamp), incoming),
            MergeRule::AlwaysIncoming => true,
            MergeRule::IgnoreTombstones => lww_replaces(
                held.filter(|v| v.value.is_some()).map(|v| v.stamp),
                incoming,
            ),
        }
    }

    /// The state machine's apply: returns whether the entry changed the key.
    fn apply(&self, kv: &mut [Option<Version>], e: &Entry) -> bool {
        let held = kv[e.key as usize];
        if e.conditional && !self.replaces(held, e.stamp) {
            return false;
        }
        kv[e.key as usize] = Some(Version {
            value: e.value,
            stamp: e.stamp,
        });
        true
    }

    fn digest(&self, kv: &[Option<Version>]) -> Vec<(Option<u8>, Option<Stamp>)> {
        kv.iter()
            .map(|v| match self.cfg.digest {
                Digest::Full => (v.map(|v| v.value.unwrap_or(0)), v.map(|v| v.stamp)),
                Digest::StampsOnly => (None, v.map(|v| v.stamp)),
            })
            .collect()
    }

    fn is_prefix(short: &[Entry], long: &[Entry]) -> bool {
        short.len() <= long.len() && long[..short.len()] == *short
    }

    fn common_prefix(x: &[Entry], y: &[Entry]) -> usize {
        x.iter().zip(y).take_while(|(a, b)| a == b).count()
    }

    /// The node drops its own state for the primary's snapshot and follows its log.
    fn snapshot(&self, s: &mut State, node: u8) {
        let p = s.primary as usize;
        let (log, kv) = (s.nodes[p].log.clone(), s.nodes[p].kv.clone());
        let n = &mut s.nodes[node as usize];
        n.log = log;
        n.kv = kv;
        n.term = s.term;
        n.leader = s.primary;
        n.rejoining = false;
    }

    /// Nothing left for the protocol to do: no partition, every node in the current
    /// history following the primary, no merge pending, every follower has applied the
    /// primary's whole log and anti-entropy sees no digest difference. (The environment
    /// may still write, tick, partition, purge or corrupt.)
    pub fn quiescent(&self, s: &State) -> bool {
        let p = &s.nodes[s.primary as usize];
        let pd = self.digest(&p.kv);
        s.link_up
            && s.inbox.is_empty()
            && s.nodes.iter().all(|n| {
                n.term == s.term
                    && n.leader == s.primary
                    && n.log == p.log
                    && self.digest(&n.kv) == pd
            })
    }

    /// The acknowledged version of `key` with the greatest stamp.
    fn greatest_acked(s: &State, key: u8) -> Option<Version> {
        s.acked
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .max_by_key(|v| v.stamp)
    }
}

fn prop_converged(m: &Cluster, s: &State) -> bool {
    !m.quiescent(s) || {
        let p = &s.nodes[s.primary as usize];
        s.nodes.iter().all(|n| n.kv == p.kv)
    }
}

fn prop_no_acked_write_lost(m: &Cluster, s: &State) -> bool {
    if !m.quiescent(s) {
        return true;
    }
    let p = &s.nodes[s.primary as usize];
    s.acked.iter().all(|(k, w)| match p.kv[*k as usize] {
        Some(held) => held.stamp >= w.stamp,
        // Only a purged tombstone leaves nothing: then the last word must be a delete.
        None => Cluster::greatest_acked(s, *k).is_some_and(|g| g.value.is_none()),
    })
}

fn prop_final_is_greatest_acked(m: &Cluster, s: &State) -> bool {
    if !m.quiescent(s) {
        return true;
    }
    let p = &s.nodes[s.primary as usize];
    (0..m.cfg.keys).all(|k| {
        let held = p.kv[k as usize];
        match Cluster::greatest_acked(s, k) {
            None => held.is_none(),
            Some(g) => held == Some(g) || (held.is_none() && g.value.is_none()),
        }
    })
}

fn prop_final_value_is_greatest_acked(m: &Cluster, s: &State) -> bool {
    if !m.quiescent(s) {
        return true;
    }
    let p = &s.nodes[s.primary as usize];
    (0..m.cfg.keys).all(|k| {
        let visible = p.kv[k as usize].and_then(|v| v.value);
        visible == Cluster::greatest_acked(s, k).and_then(|g| g.value)
    })
}

fn prop_delete_beats_older_write(m: &Cluster, s: &State) -> bool {
    if !m.quiescent(s) {
        return true;
    }
    let p = &s.nodes[s.primary as usize];
    s.acked.iter().all(|(k, d)| {
        d.value.is_some()
            || match p.kv[*k as usize] {
                Some(Version {
                    value: Some(_),
                    stamp,
                }) => stamp > d.stamp,
                _ => true,
            }
    })
}

fn prop_stamps_never_go_backwards(_: &Cluster, s: &State) -> bool {
    s.nodes.iter().all(|n| {
        let mut high = Stamp::ZERO;
        n.log.iter().all(|e| {
            let ok = !e.local || e.stamp > high;
            high = high.max(e.stamp);
            ok
        })
    })
}

fn prop_acked_stamps_unique(_: &Cluster, s: &State) -> bool {
    s.acked
        .iter()
        .enumerate()
        .all(|(i, (_, v))| s.acked[..i].iter().all(|(_, w)| w.stamp != v.stamp))
}

fn prop_follower_logs_are_prefixes(_: &Cluster, s: &State) -> bool {
    // Within one history a follower's log is a prefix of its leader's, except for a node
    // of an older history whose leader already rejoined (it must rejoin too).
    s.nodes.iter().all(|n| {
        let l = &s.nodes[n.leader as usize];
        l.term != n.term || Cluster::is_prefix(&n.log, &l.log)
    })
}

fn sometimes_fork(_: &Cluster, s: &State) -> bool {
    let p = &s.nodes[s.primary as usize];
    s.nodes
        .iter()
        .any(|n| n.term < s.term && !Cluster::is_prefix(&n.log, &p.log))
}

fn sometimes_merged(_: &Cluster, s: &State) -> bool {
    s.events & EV_MERGED != 0
}

fn sometimes_tombstone_won(_: &Cluster, s: &State) -> bool {
    s.events & EV_TOMBSTONE_WON != 0
}

fn sometimes_ae_repaired(_: &Cluster, s: &State) -> bool {
    s.events & EV_AE_REPAIRED != 0
}

fn sometimes_converged_after_merge(m: &Cluster, s: &State) -> bool {
    s.events & EV_MERGED != 0 && m.quiescent(s)
}

fn sometimes_forked_write_lost_to_later(m: &Cluster, s: &State) -> bool {
    // A write acknowledged by the deposed primary during the split brain that ends up
    // overwritten by a later-stamped one from the new primary's side, at quiescence.
    m.quiescent(s)
        && s.failovers > 0
        && s.acked.iter().any(|(k, w)| {
            w.stamp.node == Cluster::node_id(0)
                && s.nodes[s.primary as usize].kv[*k as usize]
                    .is_some_and(|h| h.stamp > w.stamp && h.stamp.node != Cluster::node_id(0))
        })
}

pub const CONVERGED: &str = "converged when quiescent";
pub const NO_ACKED_WRITE_LOST: &str =
    "no acknowledged write lost unless overwritten by a later stamp";
pub const FINAL_IS_GREATEST: &str = "final version is the greatest-stamped acknowledged one";
pub const FINAL_VALUE: &str = "the visible value is the greatest-stamped acknowledged write's";
pub const DELETE_BEATS_OLDER: &str = "a delete beats every older write";
pub const STAMPS_FORWARD: &str = "locally stamped entries exceed every earlier stamp";
pub const STAMPS_UNIQUE: &str = "acknowledged stamps are unique";
pub const LOG_PREFIX: &str = "a follower's log is a prefix of its leader's";

impl Model for Cluster {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let n = self.node_count() as usize;
        let skews: Vec<i8> = (-self.cfg.max_skew..=self.cfg.max_skew).collect();
        let mut combos: Vec<Vec<i8>> = vec![vec![0]];
        for _ in 1..n {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    skews.iter().map(move |k| {
                        let mut c = c.clone();
                        c.push(*k);
                        c
                    })
                })
                .collect();
        }
        combos
            .into_iter()
            .map(|skew| State {
                now: 0,
                skew,
                link_up: true,
                term: 0,
                primary: 0,
                nodes: (0..n)
                    .map(|_| Node {
                        term: 0,
                        leader: 0,
                        log: Vec::new(),
                        kv: vec![None; self.cfg.keys as usize],
                        rejoining: false,
                    })
                    .collect(),
                inbox: Vec::new(),
                acked: Vec::new(),
                writes: 0,
                failovers: 0,
                purges: 0,
                corruptions: 0,
                events: 0,
            })
            .collect()
    }

    fn actions(&self, s: &State, out: &mut Vec<Action>) {
        let cfg = &self.cfg;
        let n = self.node_count();
        if s.now < cfg.max_time {
            out.push(Action::Tick);
        }
        out.push(if s.link_up {
            Action::LinkDown
        } else {
            Action::LinkUp
        });
        for i in 0..n {
            let node = &s.nodes[i as usize];
            if node.leader == i {
                if !node.rejoining {
                    // A node that believes it is primary accepts writes, deposed or not
                    // (split brain): until it rejoins, even after the partition healed.
                    if s.writes < cfg.max_writes {
                        for key in 0..cfg.keys {
                            for v in 1..=cfg.values {
                                out.push(Action::Write {
                                    node: i,
                                    key,
                                    value: Some(v),
                                });
                            }
                            // DEL of a missing key is not a write (it returns 0, no entry).
                            if node.kv[key as usize].is_some_and(|v| v.value.is_some()) {
                                out.push(Action::Write {
                                    node: i,
                                    key,
                                    value: None,
                                });
                            }
                        }
                    }
                }
            } else {
                let l = &s.nodes[node.leader as usize];
                if Self::reachable(s, i, node.leader) && l.term == node.term {
                    if node.log.len() < l.log.len() && Self::is_prefix(&node.log, &l.log) {
                        out.push(Action::Replicate { node: i });
                    }
                    if node.log == l.log && self.digest(&node.kv) != self.digest(&l.kv) {
                        out.push(Action::AntiEntropy { node: i });
                    }
                }
            }
            if node.term < s.term && Self::reachable(s, i, s.primary) {
                if !node.rejoining {
                    out.push(Action::Rejoin { node: i });
                } else if s.inbox.is_empty() {
                    out.push(Action::Snapshot { node: i });
                }
            }
            if s.purges < cfg.tombstone_purges && cfg.purge_nodes & (1 << i) != 0 {
                for key in 0..cfg.keys {
                    if node.kv[key as usize].is_some_and(|v| v.value.is_none()) {
                        out.push(Action::Purge { node: i, key });
                    }
                }
            }
            if cfg.corruption
                && s.corruptions == 0
                && node.leader != i
                && (cfg.corrupt_before_failover || s.failovers == cfg.max_failovers)
            {
                for key in 0..cfg.keys {
                    if node.kv[key as usize].is_some_and(|v| v.value.is_some()) {
                        out.push(Action::Corrupt { node: i, key });
                    }
                }
            }
        }
        if !s.inbox.is_empty() {
            out.push(Action::ApplyMerge);
        }
        // Failover: the other region cannot reach the primary; the operator promotes the
        // node with the longest log among that region's nodes of the current history.
        if s.failovers < cfg.max_failovers && s.inbox.is_empty() {
            let cands: Vec<u8> = (0..n)
                .filter(|&i| {
                    Self::region(i) != Self::region(s.primary)
                        && !Self::reachable(s, i, s.primary)
                        && s.nodes[i as usize].term == s.term
                })
                .collect();
            let longest = cands.iter().map(|&i| s.nodes[i as usize].log.len()).max();
            for &i in &cands {
                if Some(s.nodes[i as usize].log.len()) == longest {
                    out.push(Action::Failover { node: i });
                }
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        match action {
            Action::Tick => s.now += 1,
            Action::LinkDown => s.link_up = false,
            Action::LinkUp => s.link_up = true,
            Action::Write { node, key, value } => {
                let wall = Self::wall(&s, node);
                let n = &mut s.nodes[node as usize];
                let stamp = self.clock(&n.log).next(wall, Self::node_id(node));
                let e = Entry {
                    key,
                    value,
                    stamp,
                    local: true,
                    conditional: false,
                };
                n.log.push(e);
                self.apply(&mut n.kv, &e);
                // Acknowledged once applied on the primary (its region's Raft commit).
                s.acked.push((key, Version { value, stamp }));
                s.writes += 1;
            }
            Action::Replicate { node } => {
                let leader = s.nodes[node as usize].leader as usize;
                let idx = s.nodes[node as usize].log.len();
                let e = s.nodes[leader].log[idx];
                let n = &mut s.nodes[node as usize];
                n.log.push(e);
                self.apply(&mut n.kv, &e);
            }
            Action::AntiEntropy { node } => {
                let leader = s.nodes[node as usize].leader as usize;
                let truth = s.nodes[leader].kv.clone();
                let theirs = self.digest(&truth);
                let n = &mut s.nodes[node as usize];
                let mine = self.digest(&n.kv);
                for k in 0..self.cfg.keys as usize {
                    if mine[k] != theirs[k] {
                        n.kv[k] = truth[k];
                    }
                }
                s.events |= EV_AE_REPAIRED;
            }
            Action::Failover { node } => {
                let old_term = s.term;
                s.term += 1;
                s.primary = node;
                s.failovers += 1;
                let seed = s.nodes[node as usize].log.clone();
                for i in 0..self.node_count() {
                    let n = &mut s.nodes[i as usize];
                    if i == node || (Self::region(i) == Self::region(node) && n.term == old_term) {
                        // Its region-mates follow the new primary: their logs are prefixes
                        // of the seed's (all were prefixes of the old primary's and the
                        // seed is the longest); the property LOG_PREFIX checks it.
                        debug_assert!(Self::is_prefix(&n.log, &seed));
                        n.term = s.term;
                        n.leader = node;
                    }
                }
            }
            Action::Rejoin { node } => {
                let p = s.primary as usize;
                let fork = Self::common_prefix(&s.nodes[node as usize].log, &s.nodes[p].log);
                let mut keys: Vec<u8> = s.nodes[node as usize].log[fork..]
                    .iter()
                    .map(|e| e.key)
                    .collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    // A purged tombstone leaves nothing to send.
                    if let Some(v) = s.nodes[node as usize].kv[k as usize] {
                        let send = match (self.cfg.merge_check, self.cfg.merge) {
                            (MergeCheck::AtPropose, MergeRule::Restamp) => true,
                            (MergeCheck::AtPropose, _) => {
                                let held = s.nodes[p].kv[k as usize];
                                let ok = self.replaces(held, v.stamp);
                                if !ok && held.is_some_and(|h| h.value.is_none()) {
                                    s.events |= EV_TOMBSTONE_WON;
                                }
                                ok
                            }
                            (MergeCheck::AtApply, _) => true,
                        };
                        if send {
                            s.inbox.push((k, v));
                        }
                    }
                }
                s.nodes[node as usize].rejoining = true;
                if self.cfg.rejoin == RejoinOrder::SnapshotFirst {
                    self.snapshot(&mut s, node);
                }
            }
            Action::Snapshot { node } => self.snapshot(&mut s, node),
            Action::ApplyMerge => {
                let (k, v) = s.inbox.remove(0);
                let p = s.primary as usize;
                let wall = Self::wall(&s, s.primary);
                let n = &mut s.nodes[p];
                let e = match self.cfg.merge {
                    MergeRule::Restamp => Entry {
                        key: k,
                        value: v.value,
                        stamp: self.clock(&n.log).next(wall, Self::node_id(s.primary)),
                        local: true,
                        conditional: false,
                    },
                    _ => Entry {
                        key: k,
                        value: v.value,
                        stamp: v.stamp,
                        local: false,
                        conditional: self.cfg.merge_check == MergeCheck::AtApply,
                    },
                };
                let held = n.kv[k as usize];
                n.log.push(e);
                if self.apply(&mut n.kv, &e) {
                    s.events |= EV_MERGED;
                } else if held.is_some_and(|h| h.value.is_none()) {
                    s.events |= EV_TOMBSTONE_WON;
                }
            }
            Action::Purge { node, key } => {
                s.nodes[node as usize].kv[key as usize] = None;
                s.purges += 1;
            }
            Action::Corrupt { node, key } => {
                let vals = self.cfg.values;
                let slot = &mut s.nodes[node as usize].kv[key as usize];
                if let Some(v) = slot {
                    let old = v.value.unwrap_or(1);
                    v.value = Some(old % vals + 1);
                }
                s.corruptions += 1;
            }
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always(CONVERGED, prop_converged),
            Property::always(NO_ACKED_WRITE_LOST, prop_no_acked_write_lost),
            Property::always(FINAL_IS_GREATEST, prop_final_is_greatest_acked),
            Property::always(FINAL_VALUE, prop_final_value_is_greatest_acked),
            Property::always(DELETE_BEATS_OLDER, prop_delete_beats_older_write),
            Property::always(STAMPS_FORWARD, prop_stamps_never_go_backwards),
            Property::always(STAMPS_UNIQUE, prop_acked_stamps_unique),
            Property::always(LOG_PREFIX, prop_follower_logs_are_prefixes),
            Property::sometimes(
                "a fork: the deposed primary holds writes the new one lacks",
                sometimes_fork,
            ),
            Property::sometimes("a rejoin merged a key", sometimes_merged),
            Property::sometimes(
                "a tombstone beat an older merged write",
                sometimes_tombstone_won,
            ),
            Property::sometimes("anti-entropy repaired a replica", sometimes_ae_repaired),
            Property::sometimes("converged after a merge", sometimes_converged_after_merge),
            Property::sometimes(
                "a split-brain write lost to a later one",
                sometimes_forked_write_lost_to_later,
            ),
        ]
    }
}
