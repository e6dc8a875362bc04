//! Faults and schedules. A schedule is a list of steps (a fault held for some time, or a
//! quiet period), cycled until the run ends; the random schedule draws its steps from a
//! seeded RNG, so a seed reproduces the same sequence of faults and durations (the
//! interleaving of client operations still depends on timing).

use crate::cluster::{Cluster, ProcState};
use crate::history::NemesisEvent;
use crate::proxy::Cut;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Full partition: the leader alone on one side (stalled bytes).
    IsolateLeader,
    /// Like IsolateLeader with a black hole: bytes are discarded, connections reset at heal.
    BlackholeLeader,
    /// A random minority against the majority.
    PartitionRandom,
    /// The leader's bytes reach no one; it still hears the others.
    OneWayFromLeader,
    /// No one's bytes reach the leader; the others still hear it.
    OneWayToLeader,
    /// Connections between the leader and the others are refused (reset).
    RefuseLeader,
    /// SIGSTOP the leader, SIGCONT at the end.
    PauseLeader,
    /// kill -9 the leader, restart it at the end.
    KillLeader,
    /// kill -9 a random node, restart it at the end.
    KillRandom,
    /// Every link: 30 ms delay + up to 60 ms jitter.
    Delay,
    /// Every link: 64 KB/s.
    Bandwidth,
    /// Start a new read replica (joins as a learner through the leader, over the proxy).
    AddReplica,
    /// Remove the oldest read replica from the membership, then stop it.
    RemoveReplica,
    /// Make the newest read replica a voter.
    PromoteReplica,
    /// Remove a voter that was promoted from a replica (never one of the first voters).
    RemovePromoted,
    /// `meridian cluster transfer-leader` to a random other voter.
    TransferLeader,
    /// Isolate the newest read replica from everyone (stalled bytes).
    IsolateReplica,
    /// Shift the leader's wall clock by a random ±(1..10) s (DEBUG SET-CLOCK-OFFSET).
    SkewLeader,
    /// Jump a random node's wall clock by ±(30..120) s, then back at the heal.
    ClockJump,
    /// kill -9 a random follower (a voter that does not lead); remembered as the target.
    KillFollower,
    /// Cut a random follower off (stalled bytes, both ways); remembered as the target.
    IsolateFollower,
    /// kill -9 the remembered target again (e.g. while it installs a snapshot).
    KillTarget,
    /// Cut the remembered target off again (e.g. while it installs a snapshot).
    IsolateTarget,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::IsolateLeader => "isolate-leader",
            Fault::BlackholeLeader => "blackhole-leader",
            Fault::PartitionRandom => "partition-random",
            Fault::OneWayFromLeader => "one-way-from-leader",
            Fault::OneWayToLeader => "one-way-to-leader",
            Fault::RefuseLeader => "refuse-leader",
            Fault::PauseLeader => "pause-leader",
            Fault::KillLeader => "kill-leader",
            Fault::KillRandom => "kill-random",
            Fault::Delay => "delay",
            Fault::Bandwidth => "bandwidth",
            Fault::AddReplica => "add-replica",
            Fault::RemoveReplica => "remove-replica",
            Fault::PromoteReplica => "promote-replica",
            Fault::RemovePromoted => "remove-promoted",
            Fault::TransferLeader => "transfer-leader",
            Fault::IsolateReplica => "isolate-replica",
            Fault::SkewLeader => "skew-leader",
            Fault::ClockJump => "clock-jump",
            Fault::KillFollower => "kill-follower",
            Fault::IsolateFollower => "isolate-follower",
            Fault::KillTarget => "kill-target",
            Fault::IsolateTarget => "isolate-target",
        }
    }

    /// Membership changes: not undone at the heal.
    pub const MEMBERSHIP: [Fault; 5] = [
        Fault::AddReplica,
        Fault::RemoveReplica,
        Fault::PromoteReplica,
        Fault::RemovePromoted,
        Fault::TransferLeader,
    ];

    pub const ALL: [Fault; 11] = [
        Fault::IsolateLeader,
        Fault::BlackholeLeader,
        Fault::PartitionRandom,
        Fault::OneWayFromLeader,
        Fault::OneWayToLeader,
        Fault::RefuseLeader,
        Fault::PauseLeader,
        Fault::KillLeader,
        Fault::KillRandom,
        Fault::Delay,
        Fault::Bandwidth,
    ];
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    Fault(Fault, Duration),
    /// Several faults applied in order and held together (e.g. a partition, then a
    /// membership change while it lasts), healed together.
    Combo(&'static [Fault], Duration),
    Quiet(Duration),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    None,
    PartitionLeader,
    OneWay,
    PauseLeader,
    KillLeader,
    StaleRead,
    SlowNet,
    Random,
    Smoke,
    Membership,
    Clock,
    Chaos,
    Snapshot,
}

impl Scenario {
    pub const ALL: [(Scenario, &'static str, &'static str); 13] = [
        (Scenario::None, "none", "no faults (baseline)"),
        (Scenario::PartitionLeader, "partition-leader", "cut the leader from the majority 5 s, heal 4 s, repeat"),
        (Scenario::OneWay, "one-way", "leader's outgoing bytes cut 5 s, heal, then its incoming bytes cut 5 s, heal"),
        (Scenario::PauseLeader, "pause-leader", "SIGSTOP the leader 3 s (it wakes up deposed), heal 4 s, repeat"),
        (Scenario::KillLeader, "kill-leader", "kill -9 the leader under load, restart it after 3 s, repeat"),
        (Scenario::StaleRead, "stale-read", "black-hole the leader 6 s (its clients keep reading), heal, reads right after the heal"),
        (Scenario::SlowNet, "slow-net", "delay with jitter on every link, then a bandwidth limit"),
        (Scenario::Random, "random", "random faults and durations drawn from the seed"),
        (Scenario::Smoke, "smoke", "CI: isolate the leader, kill -9 the leader, one-way cut, each healed"),
        (Scenario::Membership, "membership", "add/remove/promote read replicas and transfer leadership, alone and during partitions, kills and pauses"),
        (Scenario::Clock, "clock", "skew the leader's wall clock by seconds, jump a node's clock by minutes, skew + kill the leader"),
        (Scenario::Chaos, "chaos", "random faults drawn from everything: network, process, membership and clock"),
        (Scenario::Snapshot, "snapshot", "with a small --snapshot-every: a follower down/cut off long enough to need a snapshot, then killed/cut off again while it installs it"),
    ];

    pub fn parse(s: &str) -> Option<Scenario> {
        Self::ALL
            .iter()
            .find(|(_, n, _)| *n == s)
            .map(|(sc, _, _)| *sc)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(sc, _, _)| *sc == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("?")
    }

    /// The steps of one cycle (the random scenario: a long seeded sequence).
    pub fn steps(self, seed: u64) -> Vec<Step> {
        use Fault::*;
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        match self {
            Scenario::None => vec![Step::Quiet(s(3600))],
            Scenario::PartitionLeader => vec![Step::Fault(IsolateLeader, s(5)), Step::Quiet(s(4))],
            Scenario::OneWay => vec![
                Step::Fault(OneWayFromLeader, s(5)),
                Step::Quiet(s(4)),
                Step::Fault(OneWayToLeader, s(5)),
                Step::Quiet(s(4)),
            ],
            Scenario::PauseLeader => vec![Step::Fault(PauseLeader, s(3)), Step::Quiet(s(4))],
            Scenario::KillLeader => vec![Step::Fault(KillLeader, s(3)), Step::Quiet(s(4))],
            Scenario::StaleRead => vec![Step::Fault(BlackholeLeader, s(6)), Step::Quiet(s(3))],
            Scenario::SlowNet => vec![
                Step::Fault(Delay, s(6)),
                Step::Quiet(s(2)),
                Step::Fault(Bandwidth, s(6)),
                Step::Quiet(s(2)),
            ],
            Scenario::Smoke => vec![
                Step::Quiet(s(2)),
                Step::Fault(IsolateLeader, s(4)),
                Step::Quiet(s(3)),
                Step::Fault(KillLeader, s(3)),
                Step::Quiet(s(3)),
                Step::Fault(OneWayFromLeader, s(3)),
                Step::Quiet(s(3600)),
            ],
            Scenario::Membership => vec![
                Step::Quiet(s(2)),
                Step::Fault(AddReplica, s(3)),
                Step::Combo(&[IsolateLeader, AddReplica], s(5)),
                Step::Quiet(s(3)),
                Step::Combo(&[PartitionRandom, TransferLeader], s(4)),
                Step::Quiet(s(3)),
                Step::Combo(&[KillLeader, RemoveReplica], s(4)),
                Step::Quiet(s(3)),
                Step::Fault(PromoteReplica, s(3)),
                Step::Combo(&[IsolateReplica, TransferLeader], s(4)),
                Step::Quiet(s(2)),
                Step::Combo(&[IsolateLeader, RemovePromoted], s(5)),
                Step::Quiet(s(3)),
                Step::Combo(&[PauseLeader, AddReplica], s(3)),
                Step::Quiet(s(3)),
                Step::Fault(TransferLeader, s(2)),
                Step::Combo(&[OneWayToLeader, RemoveReplica], s(4)),
                Step::Quiet(s(3)),
            ],
            Scenario::Clock => vec![
                Step::Quiet(s(2)),
                Step::Fault(SkewLeader, s(8)),
                Step::Quiet(s(3)),
                Step::Fault(ClockJump, s(6)),
                Step::Quiet(s(3)),
                Step::Combo(&[SkewLeader, KillLeader], s(4)),
                Step::Quiet(s(3)),
                Step::Combo(&[SkewLeader, IsolateLeader], s(5)),
                Step::Quiet(s(3)),
            ],
            Scenario::Snapshot => vec![
                Step::Quiet(s(1)),
                Step::Fault(KillFollower, s(12)),
                Step::Quiet(ms(300)),
                Step::Fault(KillTarget, ms(1500)),
                Step::Quiet(s(4)),
                Step::Fault(IsolateFollower, s(12)),
                Step::Quiet(ms(100)),
                Step::Fault(IsolateTarget, ms(800)),
                Step::Quiet(s(4)),
            ],
            Scenario::Chaos => {
                let mut rng = StdRng::seed_from_u64(seed);
                let all: Vec<Fault> = Fault::ALL
                    .iter()
                    .chain(Fault::MEMBERSHIP.iter())
                    .chain([IsolateReplica, SkewLeader, ClockJump].iter())
                    .copied()
                    .collect();
                let mut v = Vec::new();
                for _ in 0..500 {
                    let f = all[rng.gen_range(0..all.len())];
                    v.push(Step::Fault(f, ms(rng.gen_range(1500..6000))));
                    v.push(Step::Quiet(ms(rng.gen_range(1500..5000))));
                }
                v
            }
            Scenario::Random => {
                let mut rng = StdRng::seed_from_u64(seed);
                let mut v = Vec::new();
                for _ in 0..500 {
                    let f = Fault::ALL[rng.gen_range(0..Fault::ALL.len())];
                    v.push(Step::Fault(f, ms(rng.gen_range(1500..6000))));
                    v.push(Step::Quiet(ms(rng.gen_range(1500..5000))));
                }
                v
            }
        }
    }
}

/// Applies `f`; returns the node it targeted and a description.
async fn apply(c: &mut Cluster, f: Fault, rng: &mut StdRng) -> anyhow::Result<String> {
    let ids = c.ids();
    let running: Vec<u32> = ids
        .iter()
        .copied()
        .filter(|&i| c.nodes[(i - 1) as usize].state == ProcState::Running)
        .collect();
    // No leader (an election under way): a random running voter stands in.
    let voters: Vec<u32> = running
        .iter()
        .copied()
        .filter(|&i| c.nodes[(i - 1) as usize].voter)
        .collect();
    let leader = match c.leader().await {
        Some(l) => l,
        None if !voters.is_empty() => voters[rng.gen_range(0..voters.len())],
        None => ids[0],
    };
    let others: Vec<u32> = ids.iter().copied().filter(|&i| i != leader).collect();
    let net = c.net.clone();
    Ok(match f {
        Fault::IsolateLeader => {
            net.partition(&[leader], &others, Cut::Stall);
            format!("node {leader} | {others:?}")
        }
        Fault::BlackholeLeader => {
            net.partition(&[leader], &others, Cut::Drop);
            format!("node {leader} | {others:?} (bytes dropped)")
        }
        Fault::PartitionRandom => {
            let mut v = ids.clone();
            for i in (1..v.len()).rev() {
                v.swap(i, rng.gen_range(0..=i));
            }
            let minority = v.len() / 2;
            let (a, b) = v.split_at(minority.max(1));
            net.partition(a, b, Cut::Stall);
            format!("{a:?} | {b:?}")
        }
        Fault::OneWayFromLeader => {
            for &o in &others {
                net.cut(leader, o, Cut::Stall);
            }
            format!("node {leader} -> {others:?} cut")
        }
        Fault::OneWayToLeader => {
            for &o in &others {
                net.cut(o, leader, Cut::Stall);
            }
            format!("{others:?} -> node {leader} cut")
        }
        Fault::RefuseLeader => {
            for &o in &others {
                net.refuse(leader, o, true);
                net.refuse(o, leader, true);
            }
            format!("connections to/from node {leader} refused")
        }
        Fault::PauseLeader => {
            c.node(leader).pause();
            format!("SIGSTOP node {leader}")
        }
        Fault::KillLeader => {
            c.node(leader).kill9();
            format!("kill -9 node {leader}")
        }
        Fault::KillRandom => {
            let n = ids[rng.gen_range(0..ids.len())];
            c.node(n).kill9();
            format!("kill -9 node {n}")
        }
        Fault::Delay => {
            for &a in &ids {
                for &b in &ids {
                    if a != b {
                        net.delay(a, b, 30, 60);
                    }
                }
            }
            "30 ms + 0..60 ms jitter on every link".to_string()
        }
        Fault::Bandwidth => {
            for &a in &ids {
                for &b in &ids {
                    if a != b {
                        net.bandwidth(a, b, 64 * 1024);
                    }
                }
            }
            "64 KB/s on every link".to_string()
        }
        Fault::AddReplica => {
            if c.replicas().len() >= 3 {
                "skipped: 3 replicas already".to_string()
            } else {
                let region = ["eu", "ap", "us-west"][rng.gen_range(0..3)];
                match c.add_replica(region).await {
                    Ok(i) => format!("node {i} (region {region}) joining via node {leader}"),
                    Err(e) => format!("failed: {e:#}"),
                }
            }
        }
        Fault::RemoveReplica => match c.replicas().first().copied() {
            None => "skipped: no replica".to_string(),
            Some(i) => match c.remove_node(i).await {
                Ok(()) => format!("node {i} removed and stopped"),
                Err(e) => format!("node {i}: failed: {e:#}"),
            },
        },
        Fault::PromoteReplica => match c.replicas().last().copied() {
            None => "skipped: no replica".to_string(),
            Some(i) => match c.promote(i).await {
                Ok(()) => format!("node {i} promoted to voter"),
                Err(e) => format!("node {i}: failed: {e:#}"),
            },
        },
        Fault::RemovePromoted => {
            let first = c.first_voters();
            match c.voters().into_iter().find(|&i| i > first) {
                None => "skipped: no promoted voter".to_string(),
                Some(i) => match c.remove_node(i).await {
                    Ok(()) => format!("voter {i} removed and stopped"),
                    Err(e) => format!("voter {i}: failed: {e:#}"),
                },
            }
        }
        Fault::TransferLeader => {
            let cands: Vec<u32> = c
                .voters()
                .into_iter()
                .filter(|&i| i != leader && c.nodes[(i - 1) as usize].state == ProcState::Running)
                .collect();
            if cands.is_empty() {
                "skipped: no other running voter".to_string()
            } else {
                let to = cands[rng.gen_range(0..cands.len())];
                match c.transfer_leader(to).await {
                    Ok(_) => format!("node {leader} -> node {to}"),
                    Err(e) => format!("node {leader} -> node {to}: failed: {e:#}"),
                }
            }
        }
        Fault::IsolateReplica => match c.replicas().last().copied() {
            None => "skipped: no replica".to_string(),
            Some(i) => {
                let rest: Vec<u32> = ids.iter().copied().filter(|&x| x != i).collect();
                net.partition(&[i], &rest, Cut::Stall);
                format!("replica {i} | {rest:?}")
            }
        },
        Fault::KillFollower | Fault::IsolateFollower => {
            let cands: Vec<u32> = voters.iter().copied().filter(|&i| i != leader).collect();
            let Some(&n) = cands.get(rng.gen_range(0..cands.len().max(1))) else {
                return Ok("skipped: no running follower".to_string());
            };
            c.target = Some(n);
            if f == Fault::KillFollower {
                c.node(n).kill9();
                format!("kill -9 node {n}")
            } else {
                let rest: Vec<u32> = ids.iter().copied().filter(|&x| x != n).collect();
                net.partition(&[n], &rest, Cut::Stall);
                format!("node {n} | {rest:?}")
            }
        }
        Fault::KillTarget | Fault::IsolateTarget => {
            let Some(n) = c.target else {
                return Ok("skipped: no target".to_string());
            };
            // Is a snapshot install needed? The leader's purged index against the
            // target's applied index.
            let purged = c.info_section(leader, "raft").await.ok().and_then(|i| {
                i.get("raft_purged_index")
                    .and_then(|x| x.parse::<u64>().ok())
            });
            let applied = c.info(n).await.ok().and_then(|i| {
                i.get("raft_applied_index")
                    .and_then(|x| x.parse::<u64>().ok())
            });
            let why = match (purged, applied) {
                (Some(p), Some(a)) if p > a => {
                    format!("(leader purged the log to {p}, node applied {a}: snapshot install)")
                }
                (p, a) => format!("(leader purged to {p:?}, node applied {a:?})"),
            };
            if f == Fault::KillTarget {
                c.node(n).kill9();
                format!("kill -9 node {n} again {why}")
            } else {
                let rest: Vec<u32> = ids.iter().copied().filter(|&x| x != n).collect();
                net.partition(&[n], &rest, Cut::Stall);
                format!("node {n} | {rest:?} again {why}")
            }
        }
        Fault::SkewLeader => {
            let ms = rng.gen_range(1_000..10_000) * if rng.gen_bool(0.5) { 1 } else { -1 };
            match c.set_clock_offset(leader, ms).await {
                Ok(()) => format!("node {leader} clock {ms:+} ms"),
                Err(e) => format!("node {leader} clock {ms:+} ms: failed: {e:#}"),
            }
        }
        Fault::ClockJump => {
            let Some(&n) = running.get(rng.gen_range(0..running.len().max(1))) else {
                return Ok("skipped: no running node".to_string());
            };
            let ms = rng.gen_range(30_000..120_000) * if rng.gen_bool(0.5) { 1 } else { -1 };
            match c.set_clock_offset(n, ms).await {
                Ok(()) => format!("node {n} clock jumps {ms:+} ms"),
                Err(e) => format!("node {n} clock {ms:+} ms: failed: {e:#}"),
            }
        }
    })
}

/// Runs the scenario's steps until `until`, then heals everything. Returns the fault
/// windows.
pub async fn run(
    c: &mut Cluster,
    scenario: Scenario,
    seed: u64,
    t0: Instant,
    until: Instant,
) -> anyhow::Result<Vec<NemesisEvent>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6e656d65);
    let steps = scenario.steps(seed);
    let mut events = Vec::new();
    let us = |t: Instant| t.duration_since(t0).as_micros() as u64;
    'outer: loop {
        for step in &steps {
            let now = Instant::now();
            if now >= until {
                break 'outer;
            }
            match *step {
                Step::Quiet(d) => tokio::time::sleep(d.min(until - now)).await,
                Step::Fault(..) | Step::Combo(..) => {
                    let (faults, d): (Vec<Fault>, Duration) = match *step {
                        Step::Fault(f, d) => (vec![f], d),
                        Step::Combo(fs, d) => (fs.to_vec(), d),
                        Step::Quiet(_) => unreachable!(),
                    };
                    let start = Instant::now();
                    let mut details = Vec::new();
                    for f in &faults {
                        let detail = apply(c, *f, &mut rng).await?;
                        eprintln!(
                            "[nemesis {:>6.1}s] {} {detail}",
                            us(Instant::now()) as f64 / 1e6,
                            f.name()
                        );
                        details.push(format!("{}: {detail}", f.name()));
                    }
                    // Hold the faults for d from the start (membership calls may take
                    // part of it).
                    let hold_until = (start + d).min(until);
                    tokio::time::sleep_until(hold_until.into()).await;
                    c.heal_all()?;
                    c.heal_clocks().await;
                    let end = Instant::now();
                    eprintln!("[nemesis {:>6.1}s] heal", us(end) as f64 / 1e6);
                    events.push(NemesisEvent {
                        fault: faults
                            .iter()
                            .map(|f| f.name())
                            .collect::<Vec<_>>()
                            .join("+"),
                        detail: details.join("; "),
                        start_us: us(start),
                        end_us: us(end),
                    });
                }
            }
        }
    }
    c.heal_all()?;
    c.heal_clocks().await;
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_schedule_is_reproducible_from_its_seed() {
        assert_eq!(Scenario::Random.steps(7), Scenario::Random.steps(7));
        assert_ne!(Scenario::Random.steps(7), Scenario::Random.steps(8));
        for (sc, name, _) in Scenario::ALL {
            assert_eq!(Scenario::parse(name), Some(sc));
        }
    }
}
