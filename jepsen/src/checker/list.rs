//! List-append (RPUSH + LRANGE) checks, per key, against the final list read after the
//! cluster healed:
//! - `lost`: an acknowledged append missing from the final list;
//! - `duplicate`: an element twice in one read (or in the final list);
//! - `failed-visible`: an append that definitely failed appears in some read;
//! - `phantom`: an element no one appended appears;
//! - `not-prefix`: an ok read that is not a prefix of the final list (so the order of
//!   elements changed, or an element vanished and came back: no total order exists);
//! - `stale-read` (only for linearizable reads): a read missing an append acknowledged
//!   before the read was invoked, or shorter than a read that completed before it began.

use crate::history::{Op, Outcome, F};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Anomaly {
    pub kind: &'static str,
    pub key: String,
    /// The offending op ids (reads or appends).
    pub ops: Vec<u64>,
    pub detail: String,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub keys: usize,
    pub reads: usize,
    pub appends: usize,
    pub anomalies: Vec<Anomaly>,
}

/// `finals` maps each list key to its final contents (read after heal); `strong` says
/// whether the history's reads were linearizable (CLIENT CONSISTENCY strong).
pub fn check(ops: &[Op], finals: &BTreeMap<String, Vec<i64>>, strong: bool) -> Report {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for o in ops {
        if matches!(o.f, F::Append | F::ReadList) {
            by_key.entry(&o.key).or_default().push(o);
        }
    }
    let mut r = Report::default();
    for (key, kops) in by_key {
        r.keys += 1;
        let empty = Vec::new();
        let fin = finals.get(key).unwrap_or(&empty);
        check_key(key, &kops, fin, strong, &mut r);
    }
    r.anomalies.sort();
    r
}

fn check_key(key: &str, ops: &[&Op], fin: &[i64], strong: bool, r: &mut Report) {
    let mut bad = |kind: &'static str, ops: Vec<u64>, detail: String| {
        r.anomalies.push(Anomaly {
            kind,
            key: key.to_string(),
            ops,
            detail,
        })
    };
    // Appends by value (values are unique per key).
    let mut appends: HashMap<i64, &Op> = HashMap::new();
    for o in ops.iter().filter(|o| o.f == F::Append) {
        if let Some(v) = o.value {
            appends.insert(v, o);
        }
    }
    let reads: Vec<&Op> = ops
        .iter()
        .copied()
        .filter(|o| o.f == F::ReadList && o.outcome == Outcome::Ok && o.list.is_some())
        .collect();
    r.reads += reads.len();
    r.appends += appends.len();

    let fin_set: HashSet<i64> = fin.iter().copied().collect();
    if fin_set.len() != fin.len() {
        bad(
            "duplicate",
            vec![],
            format!("final list has a duplicate: {fin:?}"),
        );
    }
    let mut lost: Vec<u64> = appends
        .values()
        .filter(|o| o.outcome == Outcome::Ok && !fin_set.contains(&o.value.unwrap_or(0)))
        .map(|o| o.id)
        .collect();
    lost.sort();
    if !lost.is_empty() {
        bad(
            "lost",
            lost.clone(),
            format!(
                "{} acknowledged append(s) missing from the final list",
                lost.len()
            ),
        );
    }
    for v in fin.iter() {
        match appends.get(v) {
            None => bad(
                "phantom",
                vec![],
                format!("final list holds {v}, never appended"),
            ),
            Some(o) if o.outcome == Outcome::Fail => bad(
                "failed-visible",
                vec![o.id],
                format!(
                    "append of {v} failed ({:?}) but is in the final list",
                    o.error
                ),
            ),
            _ => {}
        }
    }
    for rd in &reads {
        let l = rd.list.as_ref().expect("filtered");
        let set: HashSet<i64> = l.iter().copied().collect();
        if set.len() != l.len() {
            bad(
                "duplicate",
                vec![rd.id],
                format!("read {l:?} has a duplicate"),
            );
        }
        for v in l {
            match appends.get(v) {
                None => bad(
                    "phantom",
                    vec![rd.id],
                    format!("read holds {v}, never appended"),
                ),
                Some(o) if o.outcome == Outcome::Fail => bad(
                    "failed-visible",
                    vec![rd.id, o.id],
                    format!("read shows {v}, whose append failed ({:?})", o.error),
                ),
                _ => {}
            }
        }
        if l.len() > fin.len() || l[..] != fin[..l.len()] {
            bad(
                "not-prefix",
                vec![rd.id],
                format!("read {l:?} is not a prefix of the final list {fin:?}"),
            );
        }
    }
    if strong {
        // Acknowledged appends ordered by completion; reads must contain every one that
        // completed before they were invoked.
        let mut acked: Vec<&Op> = appends
            .values()
            .copied()
            .filter(|o| o.outcome == Outcome::Ok)
            .collect();
        acked.sort_by_key(|o| o.complete_us);
        let mut by_complete: Vec<&Op> = reads.clone();
        by_complete.sort_by_key(|o| o.complete_us);
        for rd in &reads {
            let set: HashSet<i64> = rd.list.as_ref().expect("ok").iter().copied().collect();
            let missing: Vec<u64> = acked
                .iter()
                .take_while(|a| a.complete_us < rd.invoke_us)
                .filter(|a| !set.contains(&a.value.unwrap_or(0)))
                .map(|a| a.id)
                .collect();
            if !missing.is_empty() {
                bad(
                    "stale-read",
                    std::iter::once(rd.id)
                        .chain(missing.iter().copied())
                        .collect(),
                    format!(
                        "read (node {}) misses {} append(s) acknowledged before it began",
                        rd.node,
                        missing.len()
                    ),
                );
            }
            // Shorter than a read that finished before this one started.
            let len = rd.list.as_ref().expect("ok").len();
            if let Some(prev) = by_complete
                .iter()
                .take_while(|p| p.complete_us < rd.invoke_us)
                .max_by_key(|p| p.list.as_ref().map_or(0, Vec::len))
            {
                let plen = prev.list.as_ref().map_or(0, Vec::len);
                if plen > len {
                    bad(
                        "stale-read",
                        vec![rd.id, prev.id],
                        format!("read of {len} elements after a completed read of {plen}"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ap(id: u64, v: i64, t: (u64, u64), o: Outcome) -> Op {
        Op {
            id,
            process: id,
            node: 1,
            f: F::Append,
            key: "l".into(),
            value: Some(v),
            from: None,
            list: None,
            outcome: o,
            error: None,
            invoke_us: t.0,
            complete_us: t.1,
            sess: None,
        }
    }
    fn rd(id: u64, l: &[i64], t: (u64, u64)) -> Op {
        Op {
            f: F::ReadList,
            value: None,
            list: Some(l.to_vec()),
            ..ap(id, 0, t, Outcome::Ok)
        }
    }
    fn kinds(ops: Vec<Op>, fin: &[i64], strong: bool) -> Vec<&'static str> {
        let finals = BTreeMap::from([("l".to_string(), fin.to_vec())]);
        let mut k: Vec<_> = check(&ops, &finals, strong)
            .anomalies
            .into_iter()
            .map(|a| a.kind)
            .collect();
        k.dedup();
        k
    }
    use Outcome::*;

    #[test]
    fn valid_history_passes() {
        let h = vec![
            ap(1, 1, (0, 1), Ok),
            ap(2, 2, (2, 3), Info), // unknown: may or may not be there
            rd(3, &[1], (2, 3)),
            ap(4, 3, (4, 5), Ok),
            rd(5, &[1, 3], (6, 7)),
            ap(6, 4, (6, 7), Fail),
        ];
        assert!(kinds(h, &[1, 3], true).is_empty());
    }

    #[test]
    fn lost_append() {
        let h = vec![ap(1, 1, (0, 1), Ok), ap(2, 2, (2, 3), Ok)];
        assert_eq!(kinds(h, &[1], false), vec!["lost"]);
    }

    #[test]
    fn duplicate_element() {
        let h = vec![ap(1, 1, (0, 1), Ok), rd(2, &[1, 1], (2, 3))];
        assert!(kinds(h, &[1], false).contains(&"duplicate"));
    }

    #[test]
    fn failed_append_visible() {
        let h = vec![ap(1, 1, (0, 1), Ok), ap(2, 2, (2, 3), Fail)];
        assert_eq!(kinds(h, &[1, 2], false), vec!["failed-visible"]);
    }

    #[test]
    fn phantom_element() {
        let h = vec![ap(1, 1, (0, 1), Ok), rd(2, &[1, 99], (2, 3))];
        assert!(kinds(h, &[1], false).contains(&"phantom"));
    }

    #[test]
    fn read_not_a_prefix() {
        let h = vec![
            ap(1, 1, (0, 1), Ok),
            ap(2, 2, (0, 1), Ok),
            rd(3, &[2], (2, 3)),
        ];
        assert_eq!(kinds(h, &[1, 2], false), vec!["not-prefix"]);
    }

    #[test]
    fn stale_read_only_under_strong_reads() {
        let h = vec![ap(1, 1, (0, 1), Ok), rd(2, &[], (5, 6))];
        assert!(kinds(h.clone(), &[1], false).is_empty());
        assert_eq!(kinds(h, &[1], true), vec!["stale-read"]);
        // Non-monotonic reads.
        let h = vec![
            ap(1, 1, (0, 100), Ok),
            rd(2, &[1], (1, 2)),
            rd(3, &[], (3, 4)),
        ];
        assert_eq!(kinds(h, &[1], true), vec!["stale-read"]);
    }
}
