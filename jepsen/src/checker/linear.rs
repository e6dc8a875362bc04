//! Linearizability of a register per key, by a search in the style of Wing & Gong and
//! Lowe (as porcupine/Knossos do): linearize operations one at a time, each one only if
//! no operation left out completed before it was invoked, and memoize the (set of
//! linearized operations, register value) pairs already explored.
//!
//! - `ok` operations must all be linearized; `info` writes and CASes may be linearized
//!   anywhere after their call, or never; `info` reads and every `fail` are dropped (a
//!   read has no effect; a failed op did not happen).
//! - A key's history is checked on its own (registers are independent), so the search
//!   stays small; a key whose search exceeds the budget is reported as `unknown`, not as
//!   an anomaly.

use crate::history::{Op, Outcome, F};
use std::collections::{BTreeMap, HashSet};

#[derive(Clone, Debug)]
struct LOp {
    id: u64,
    call: u64,
    ret: u64, // u64::MAX: info (may never complete)
    kind: Kind,
    required: bool,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Read(Option<i64>),
    Write(i64),
    Cas(i64, i64),
}

fn step(state: Option<i64>, k: Kind) -> Option<Option<i64>> {
    match k {
        Kind::Read(v) => (state == v).then_some(state),
        Kind::Write(v) => Some(Some(v)),
        Kind::Cas(from, to) => (state == Some(from)).then_some(Some(to)),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyResult {
    Linearizable,
    /// No order exists. `stuck` lists the `ok` operations (ids) that could not be placed
    /// at the furthest point the search reached, `prefix` how many ops were placed there.
    NotLinearizable {
        prefix: usize,
        stuck: Vec<u64>,
    },
    /// The search budget ran out.
    Unknown,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub keys: usize,
    pub ops: usize,
    pub unknown: Vec<String>,
    pub anomalies: Vec<(String, KeyResult)>,
}

/// The operations the linearizability check applies to: with eventual reads (each node
/// reads its own applied state, not through the read index) register reads are not
/// linearizable by design, so only writes and CASes (which go through the log) are
/// checked.
pub fn checkable(ops: &[Op], strong_reads: bool) -> Vec<Op> {
    ops.iter()
        .filter(|o| strong_reads || o.f != F::Read)
        .cloned()
        .collect()
}

/// Checks every register key of the history (ops with f = read/write/cas).
pub fn check(ops: &[Op], budget_per_key: usize) -> Report {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for o in ops {
        if matches!(o.f, F::Read | F::Write | F::Cas) {
            by_key.entry(&o.key).or_default().push(o);
        }
    }
    let mut r = Report::default();
    for (key, kops) in by_key {
        r.keys += 1;
        r.ops += kops.len();
        match check_key(&kops, budget_per_key) {
            KeyResult::Linearizable => {}
            KeyResult::Unknown => r.unknown.push(key.to_string()),
            bad => r.anomalies.push((key.to_string(), bad)),
        }
    }
    r
}

pub fn check_key(ops: &[&Op], budget: usize) -> KeyResult {
    let mut l: Vec<LOp> = Vec::new();
    for o in ops {
        let kind = match (o.f, o.outcome) {
            (_, Outcome::Fail) | (F::Read, Outcome::Info) => continue,
            (F::Read, _) => Kind::Read(o.value),
            (F::Write, _) => match o.value {
                Some(v) => Kind::Write(v),
                None => continue,
            },
            (F::Cas, _) => match (o.from, o.value) {
                (Some(a), Some(b)) => Kind::Cas(a, b),
                _ => continue,
            },
            _ => continue,
        };
        let required = o.outcome == Outcome::Ok;
        l.push(LOp {
            id: o.id,
            call: o.invoke_us,
            ret: if required { o.complete_us } else { u64::MAX },
            kind,
            required,
        });
    }
    l.sort_by_key(|o| (o.call, o.ret));
    let n = l.len();
    let words = n.div_ceil(64).max(1);
    let required_count = l.iter().filter(|o| o.required).count();
    if required_count == 0 {
        return KeyResult::Linearizable;
    }
    // DFS over (linearized set, value); `seen` holds every pair already expanded.
    let mut seen: HashSet<(Vec<u64>, Option<i64>)> = HashSet::new();
    let mut stack: Vec<(Vec<u64>, Option<i64>, usize)> = vec![(vec![0; words], None, 0)];
    let mut best = (0usize, Vec::new());
    let mut explored = 0usize;
    let is_in = |s: &[u64], i: usize| s[i / 64] >> (i % 64) & 1 == 1;
    while let Some((set, state, done)) = stack.pop() {
        if done == required_count {
            return KeyResult::Linearizable;
        }
        if !seen.insert((set.clone(), state)) {
            continue;
        }
        explored += 1;
        if explored > budget {
            return KeyResult::Unknown;
        }
        // The earliest completion among ops not yet linearized bounds the candidates.
        let min_ret = (0..n)
            .filter(|&i| !is_in(&set, i))
            .map(|i| l[i].ret)
            .min()
            .unwrap_or(u64::MAX);
        let placed = set.iter().map(|w| w.count_ones() as usize).sum::<usize>();
        let mut pushed = false;
        for i in 0..n {
            if l[i].call > min_ret {
                break; // sorted by call
            }
            if is_in(&set, i) {
                continue;
            }
            if let Some(next) = step(state, l[i].kind) {
                let mut s2 = set.clone();
                s2[i / 64] |= 1 << (i % 64);
                let d2 = done + usize::from(l[i].required);
                pushed = true;
                stack.push((s2, next, d2));
            }
        }
        if !pushed && placed >= best.0 {
            let stuck = (0..n)
                .filter(|&i| !is_in(&set, i) && l[i].required && l[i].call <= min_ret)
                .map(|i| l[i].id)
                .collect();
            best = (placed, stuck);
        }
    }
    KeyResult::NotLinearizable {
        prefix: best.0,
        stuck: best.1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn op(
        id: u64,
        f: F,
        value: Option<i64>,
        from: Option<i64>,
        t: (u64, u64),
        o: Outcome,
    ) -> Op {
        Op {
            id,
            process: id,
            node: 1,
            f,
            key: "k".into(),
            value,
            from,
            list: None,
            outcome: o,
            error: None,
            invoke_us: t.0,
            complete_us: t.1,
            sess: None,
        }
    }

    fn run(ops: Vec<Op>) -> KeyResult {
        let refs: Vec<&Op> = ops.iter().collect();
        check_key(&refs, 100_000)
    }

    use Outcome::*;

    #[test]
    fn sequential_history_is_linearizable() {
        let h = vec![
            op(1, F::Read, None, None, (0, 1), Ok),
            op(2, F::Write, Some(1), None, (2, 3), Ok),
            op(3, F::Read, Some(1), None, (4, 5), Ok),
            op(4, F::Cas, Some(2), Some(1), (6, 7), Ok),
            op(5, F::Read, Some(2), None, (8, 9), Ok),
        ];
        assert_eq!(run(h), KeyResult::Linearizable);
    }

    #[test]
    fn concurrent_reads_may_see_either_value() {
        let h = vec![
            op(1, F::Write, Some(1), None, (0, 1), Ok),
            op(2, F::Write, Some(2), None, (2, 10), Ok),
            op(3, F::Read, Some(2), None, (3, 4), Ok),
            op(4, F::Read, Some(1), None, (3, 4), Ok), // concurrent with 3: 1 then 2
        ];
        // 4 reads 1 and 3 reads 2, both during write 2: order 4, 2, 3 works.
        assert_eq!(run(h), KeyResult::Linearizable);
    }

    #[test]
    fn stale_read_is_caught() {
        let h = vec![
            op(1, F::Write, Some(1), None, (0, 1), Ok),
            op(2, F::Write, Some(2), None, (2, 3), Ok),
            op(3, F::Read, Some(1), None, (4, 5), Ok), // stale: 2 completed before
        ];
        assert!(matches!(run(h), KeyResult::NotLinearizable { stuck, .. } if stuck == vec![3]));
    }

    #[test]
    fn lost_write_then_read_of_old_value_is_caught() {
        let h = vec![
            op(1, F::Write, Some(1), None, (0, 1), Ok),
            op(2, F::Cas, Some(2), Some(1), (2, 3), Ok),
            op(3, F::Read, Some(1), None, (4, 5), Ok), // the acknowledged CAS vanished
        ];
        assert!(matches!(run(h), KeyResult::NotLinearizable { .. }));
    }

    #[test]
    fn info_write_may_or_may_not_apply() {
        let applied = vec![
            op(1, F::Write, Some(1), None, (0, 1), Ok),
            op(2, F::Write, Some(2), None, (2, 3), Info),
            op(3, F::Read, Some(2), None, (10, 11), Ok),
            op(4, F::Read, Some(2), None, (12, 13), Ok),
        ];
        assert_eq!(run(applied), KeyResult::Linearizable);
        let not_applied = vec![
            op(1, F::Write, Some(1), None, (0, 1), Ok),
            op(2, F::Write, Some(2), None, (2, 3), Info),
            op(3, F::Read, Some(1), None, (10, 11), Ok),
        ];
        assert_eq!(run(not_applied), KeyResult::Linearizable);
        // ... but it cannot apply, be un-applied and apply again.
        let flicker = vec![
            op(1, F::Write, Some(1), None, (0, 1), Ok),
            op(2, F::Write, Some(2), None, (2, 3), Info),
            op(3, F::Read, Some(2), None, (10, 11), Ok),
            op(4, F::Read, Some(1), None, (12, 13), Ok),
        ];
        assert!(matches!(run(flicker), KeyResult::NotLinearizable { .. }));
    }

    #[test]
    fn failed_write_must_not_be_seen() {
        let h = vec![
            op(1, F::Write, Some(1), None, (0, 1), Ok),
            op(2, F::Write, Some(2), None, (2, 3), Fail),
            op(3, F::Read, Some(2), None, (4, 5), Ok),
        ];
        assert!(matches!(run(h), KeyResult::NotLinearizable { .. }));
    }

    #[test]
    fn budget_exhaustion_is_unknown_not_an_anomaly() {
        let mut h = Vec::new();
        for i in 0..40 {
            h.push(op(i, F::Write, Some(i as i64), None, (0, 100), Info));
        }
        h.push(op(100, F::Read, Some(-1), None, (200, 201), Ok));
        let refs: Vec<&Op> = h.iter().collect();
        assert_eq!(check_key(&refs, 1000), KeyResult::Unknown);
    }
}
