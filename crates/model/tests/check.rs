//! Exhaustive breadth-first checks of the model (release: `cargo test --release -p model`;
//! the output's `states:` lines give the counts, `--nocapture` shows them).
//!
//! Larger bounds: `MODEL_WRITES=4 MODEL_REPLICAS=2 MODEL_TIME=3 MODEL_SKEW=2 cargo test
//! --release -p model -- --ignored --nocapture larger_bounds` (each variable optional).

use std::collections::BTreeSet;
use std::time::Instant;

use model::*;
use stateright::{Checker, HasDiscoveries, Model};

fn check_all(cfg: Config, label: &str) {
    let started = Instant::now();
    let checker = Cluster::new(cfg.clone())
        .checker()
        .threads(2)
        .spawn_bfs()
        .join();
    println!(
        "{label}: states: {} unique, {} generated, depth {}, {:.1} s, {:?}",
        checker.unique_state_count(),
        checker.state_count(),
        checker.max_depth(),
        started.elapsed().as_secs_f64(),
        cfg
    );
    checker.assert_properties();
}

/// Runs until `property` has a counterexample and returns its path's actions.
fn counterexample(cfg: Config, property: &'static str) -> Vec<Action> {
    let started = Instant::now();
    let checker = Cluster::new(cfg.clone())
        .checker()
        .threads(2)
        .finish_when(HasDiscoveries::AnyOf(BTreeSet::from([property])))
        .spawn_bfs()
        .join();
    let path = checker
        .discovery(property)
        .unwrap_or_else(|| panic!("no counterexample for {property:?} in {cfg:?}"));
    let last = path.last_state().clone();
    let actions = path.into_actions();
    println!(
        "counterexample to {property:?} after {} states, {:.1} s:\n  {:?}\n  last state: {:?}",
        checker.unique_state_count(),
        started.elapsed().as_secs_f64(),
        actions,
        last
    );
    actions
}

#[test]
fn every_property_holds_one_replica() {
    check_all(Config::default(), "1 replica");
}

#[test]
fn every_property_holds_two_replicas() {
    check_all(
        Config {
            // With max_time 2 this is 66.5 M states, ~8 min (larger_bounds with MODEL_WRITES=3
            // MODEL_TIME=2 MODEL_SKEW=1); time frozen at 0 keeps the default run short, the
            // two skewed read-region clocks and the logical counter still order the stamps.
            replicas: 2,
            max_time: 0,
            ..Config::default()
        },
        "2 replicas",
    );
}

fn env_u8(name: &str, default: u8) -> u8 {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().expect(name))
        .unwrap_or(default)
}

#[test]
#[ignore = "minutes to hours: run by hand with MODEL_* bounds"]
fn larger_bounds() {
    let d = Config::default();
    check_all(
        Config {
            max_writes: env_u8("MODEL_WRITES", 4),
            replicas: env_u8("MODEL_REPLICAS", 2),
            max_time: env_u8("MODEL_TIME", 3),
            max_skew: env_u8("MODEL_SKEW", 2) as i8,
            keys: env_u8("MODEL_KEYS", d.keys),
            values: env_u8("MODEL_VALUES", d.values),
            max_failovers: env_u8("MODEL_FAILOVERS", d.max_failovers),
            ..d
        },
        "larger bounds",
    );
}

#[test]
fn merge_taking_the_incoming_version_loses_writes() {
    counterexample(
        Config {
            merge: MergeRule::AlwaysIncoming,
            ..Config::default()
        },
        NO_ACKED_WRITE_LOST,
    );
}

#[test]
fn merge_restamping_forked_writes_loses_writes() {
    counterexample(
        Config {
            merge: MergeRule::Restamp,
            ..Config::default()
        },
        FINAL_VALUE,
    );
}

#[test]
fn merge_ignoring_tombstones_resurrects_deleted_keys() {
    counterexample(
        Config {
            merge: MergeRule::IgnoreTombstones,
            ..Config::default()
        },
        DELETE_BEATS_OLDER,
    );
}

#[test]
fn lww_check_at_propose_time_loses_a_concurrent_write() {
    counterexample(
        Config {
            merge_check: MergeCheck::AtPropose,
            ..Config::default()
        },
        NO_ACKED_WRITE_LOST,
    );
}

#[test]
fn clock_following_the_last_merged_entry_goes_backwards() {
    counterexample(
        Config {
            clock: ClockRule::LastEntry,
            ..Config::default()
        },
        STAMPS_FORWARD,
    );
}

#[test]
fn stamp_only_digest_misses_a_corrupted_value() {
    counterexample(
        Config {
            digest: Digest::StampsOnly,
            ..Config::default()
        },
        CONVERGED,
    );
}

/// The grace period ends on the deposed primary before it rejoins: its delete is not sent.
#[test]
fn tombstone_purged_before_rejoin_loses_the_delete() {
    counterexample(
        Config {
            tombstone_purges: 1,
            ..Config::default()
        },
        DELETE_BEATS_OLDER,
    );
}

/// The grace period ends on the new primary before the old one rejoins: the old
/// primary's older write finds nothing held and comes back over the delete.
#[test]
fn tombstone_purged_on_the_new_primary_lets_an_older_write_win() {
    let actions = counterexample(
        Config {
            tombstone_purges: 1,
            purge_nodes: 0b010,
            ..Config::default()
        },
        DELETE_BEATS_OLDER,
    );
    assert!(
        actions.contains(&Action::Purge { node: 1, key: 0 })
            || actions.contains(&Action::Purge { node: 1, key: 1 })
    );
    assert!(actions.contains(&Action::ApplyMerge));
}

#[test]
fn replica_corrupted_then_promoted_makes_the_corruption_the_truth() {
    counterexample(
        Config {
            corrupt_before_failover: true,
            ..Config::default()
        },
        FINAL_IS_GREATEST,
    );
}

/// Found by the checker with two failovers: the rejoining old primary took the snapshot
/// before the new primary had written its forked versions, was promoted again before it
/// replicated them, and its clock (the snapshot's) was below a stamp it had issued itself
/// before the fork: `Stamp::next` issued that stamp again for a different write.
#[test]
fn snapshot_before_the_merge_reissues_a_stamp_after_failing_back() {
    counterexample(
        Config {
            rejoin: RejoinOrder::SnapshotFirst,
            max_failovers: 2,
            max_time: 0,
            corruption: false,
            ..Config::default()
        },
        STAMPS_UNIQUE,
    );
}

/// The same two failovers with the snapshot taken after the merge: every property holds.
#[test]
fn every_property_holds_with_fail_back() {
    check_all(
        Config {
            max_failovers: 2,
            max_time: 0,
            ..Config::default()
        },
        "fail back",
    );
}
