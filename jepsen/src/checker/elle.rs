//! Cycle detection on list-append histories, in the manner of Jepsen's Elle: infer a
//! dependency graph between operations (transactions) from what the lists show, and
//! look for cycles.
//!
//! Each operation is a transaction of micro-ops, `append(k, v)` or `read(k) → list`
//! (the suite's RPUSH and LRANGE are one-micro-op transactions). Values are unique per
//! key, so every element names the append that wrote it. Per key, the **version order**
//! is the longest list anyone saw (a read, or the final read after the heal); every
//! other read must be a prefix of it (else `incompatible-order`: no single order of
//! appends explains both). From that order:
//!
//! - `ww`: the append of element i → the append of element i+1;
//! - `wr`: the append of a read's last element → that read (it saw that version);
//! - `rw`: a read → the append of the element right after its last one (it did not
//!   see that write: an anti-dependency);
//! - `rt` (real time, optional): a → b when a completed before b was invoked. Only the
//!   "frontier" edges are added (the ops that completed last before b began), which
//!   keeps the graph linear in size with the same reachability.
//!
//! A cycle means no serial order of the operations is consistent with what they saw
//! (with `rt`, no order consistent with real time either: strict serializability).
//! Cycles are found per strongly connected component (Tarjan), and one shortest cycle
//! through each component is reported, classified as Adya/Elle do: `G0` (only ww),
//! `G1c` (ww and wr), `G-single` (exactly one rw), `G2` (more than one rw), with
//! `-realtime` when an rt edge is needed.

use crate::history::{Op, Outcome, F};
use std::collections::{BTreeMap, HashMap, VecDeque};

#[derive(Clone, Debug, PartialEq)]
pub enum Mop {
    Append(String, i64),
    Read(String, Vec<i64>),
}

#[derive(Clone, Debug)]
pub struct Txn {
    pub id: u64,
    pub invoke_us: u64,
    pub complete_us: u64,
    /// `Ok` or `Info`; failed transactions are left out before the check.
    pub outcome: Outcome,
    pub mops: Vec<Mop>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Edge {
    Ww,
    Wr,
    Rw,
    Rt,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Anomaly {
    pub kind: String,
    /// Op ids along the cycle (first repeated at the end), or the reads involved.
    pub ops: Vec<u64>,
    pub detail: String,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub txns: usize,
    pub edges: usize,
    pub anomalies: Vec<Anomaly>,
}

/// The suite's single-op history as one-micro-op transactions (ok, and info appends:
/// an info append that shows up in a read did happen).
pub fn from_ops(ops: &[Op]) -> Vec<Txn> {
    ops.iter()
        .filter(|o| o.outcome != Outcome::Fail)
        .filter_map(|o| {
            let m = match (o.f, o.outcome) {
                (F::Append, _) => Mop::Append(o.key.clone(), o.value?),
                (F::ReadList, Outcome::Ok) => Mop::Read(o.key.clone(), o.list.clone()?),
                _ => return None,
            };
            Some(Txn {
                id: o.id,
                invoke_us: o.invoke_us,
                complete_us: o.complete_us,
                outcome: o.outcome,
                mops: vec![m],
            })
        })
        .collect()
}

/// Checks the transactions; `finals` (each key's list after the heal) extends the
/// version order; `realtime` adds the real-time edges.
pub fn check(txns: &[Txn], finals: &BTreeMap<String, Vec<i64>>, realtime: bool) -> Report {
    let mut r = Report {
        txns: txns.len(),
        ..Report::default()
    };
    // Who appended each (key, value).
    let mut writer: HashMap<(&str, i64), usize> = HashMap::new();
    for (i, t) in txns.iter().enumerate() {
        for m in &t.mops {
            if let Mop::Append(k, v) = m {
                writer.insert((k.as_str(), *v), i);
            }
        }
    }
    // Version order per key: the longest list seen; the others must be its prefixes.
    let mut longest: BTreeMap<&str, (&[i64], Option<u64>)> = BTreeMap::new();
    for (k, l) in finals {
        longest.insert(k, (l, None));
    }
    for t in txns {
        for m in &t.mops {
            if let Mop::Read(k, l) = m {
                let e = longest.entry(k).or_insert((l, Some(t.id)));
                if l.len() > e.0.len() {
                    *e = (l, Some(t.id));
                }
            }
        }
    }
    let mut bad_keys = std::collections::HashSet::new();
    for t in txns {
        for m in &t.mops {
            if let Mop::Read(k, l) = m {
                let (order, by) = longest[k.as_str()];
                if l[..] != order[..l.len()] && bad_keys.insert(k.as_str()) {
                    r.anomalies.push(Anomaly {
                        kind: "incompatible-order".into(),
                        ops: std::iter::once(t.id).chain(by).collect(),
                        detail: format!(
                            "key {k}: read {l:?} is not a prefix of {order:?}: no order of appends explains both"
                        ),
                    });
                }
            }
        }
    }
    // The graph.
    let n = txns.len();
    let mut adj: Vec<Vec<(usize, Edge)>> = vec![Vec::new(); n];
    let add = |a: usize, b: usize, e: Edge, adj: &mut Vec<Vec<(usize, Edge)>>| {
        if a != b {
            adj[a].push((b, e));
        }
    };
    for (k, (order, _)) in &longest {
        if bad_keys.contains(k) {
            continue;
        }
        let w: Vec<Option<usize>> = order
            .iter()
            .map(|v| writer.get(&(*k, *v)).copied())
            .collect();
        for p in w.windows(2) {
            if let (Some(a), Some(b)) = (p[0], p[1]) {
                add(a, b, Edge::Ww, &mut adj);
            }
        }
        for (i, t) in txns.iter().enumerate() {
            for m in &t.mops {
                let Mop::Read(rk, l) = m else { continue };
                if rk != k {
                    continue;
                }
                if let Some(Some(a)) = l.len().checked_sub(1).map(|j| w[j]) {
                    add(a, i, Edge::Wr, &mut adj);
                }
                if let Some(Some(b)) = w.get(l.len()) {
                    add(i, *b, Edge::Rw, &mut adj);
                }
            }
        }
    }
    if realtime {
        realtime_edges(txns, &mut adj);
    }
    for v in adj.iter_mut() {
        v.sort();
        v.dedup();
    }
    r.edges = adj.iter().map(Vec::len).sum();
    for comp in tarjan(&adj) {
        if comp.len() < 2 {
            continue;
        }
        if let Some(cycle) = shortest_cycle(&adj, &comp) {
            let edges: Vec<Edge> = cycle.iter().map(|(_, e)| *e).collect();
            let rw = edges.iter().filter(|e| **e == Edge::Rw).count();
            let mut kind = if edges.iter().all(|e| matches!(e, Edge::Ww | Edge::Rt)) {
                "G0"
            } else if rw == 0 {
                "G1c"
            } else if rw == 1 {
                "G-single"
            } else {
                "G2"
            }
            .to_string();
            if edges.contains(&Edge::Rt) {
                kind.push_str("-realtime");
            }
            let ids: Vec<u64> = cycle
                .iter()
                .map(|(i, _)| txns[*i].id)
                .chain(std::iter::once(txns[cycle[0].0].id))
                .collect();
            let path: Vec<String> = cycle
                .iter()
                .map(|(i, e)| format!("{} -{}->", txns[*i].id, edge_name(*e)))
                .collect();
            r.anomalies.push(Anomaly {
                kind,
                ops: ids,
                detail: format!(
                    "cycle of {} ops ({} in its component): {} {}",
                    cycle.len(),
                    comp.len(),
                    path.join(" "),
                    txns[cycle[0].0].id
                ),
            });
        }
    }
    r.anomalies.sort();
    r
}

fn edge_name(e: Edge) -> &'static str {
    match e {
        Edge::Ww => "ww",
        Edge::Wr => "wr",
        Edge::Rw => "rw",
        Edge::Rt => "rt",
    }
}

/// a → b for every b and every a on the frontier when b began: ops that completed
/// before b's invocation and were not already followed (in real time) by another
/// completed op on the frontier.
fn realtime_edges(txns: &[Txn], adj: &mut [Vec<(usize, Edge)>]) {
    // Events: completions and invocations, in time order (a completion at the same
    // instant as an invocation does not precede it).
    let mut ev: Vec<(u64, u8, usize)> = Vec::new();
    for (i, t) in txns.iter().enumerate() {
        ev.push((t.invoke_us, 1, i));
        if t.outcome == Outcome::Ok {
            ev.push((t.complete_us, 0, i));
        }
    }
    ev.sort();
    let mut frontier: Vec<usize> = Vec::new();
    // For each op: the frontier when it was invoked (its rt predecessors).
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); txns.len()];
    for (t, kind, i) in ev {
        if kind == 1 {
            preds[i] = frontier.clone();
            for &a in &frontier {
                adj[a].push((i, Edge::Rt));
            }
        } else {
            // i completed: ops on the frontier that i already follows leave it.
            let _ = t;
            let mine = &preds[i];
            frontier.retain(|a| !mine.contains(a));
            frontier.push(i);
        }
    }
}

/// Strongly connected components (Tarjan, iterative).
fn tarjan(adj: &[Vec<(usize, Edge)>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on = vec![false; n];
    let mut stack = Vec::new();
    let mut comps = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on[root] = true;
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos < adj[v].len() {
                let w = adj[v][*pos].0;
                *pos += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on[w] = true;
                    work.push((w, 0));
                } else if on[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(u, _)) = work.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comps.push(comp);
                }
            }
        }
    }
    comps
}

/// A shortest cycle inside one component, preferring (when as short) fewer rt edges:
/// BFS from each of a few members back to itself. Returns (node, edge to the next).
fn shortest_cycle(adj: &[Vec<(usize, Edge)>], comp: &[usize]) -> Option<Vec<(usize, Edge)>> {
    let inside: std::collections::HashSet<usize> = comp.iter().copied().collect();
    let mut best: Option<Vec<(usize, Edge)>> = None;
    for &start in comp.iter().take(20) {
        let mut prev: HashMap<usize, (usize, Edge)> = HashMap::new();
        let mut q = VecDeque::from([start]);
        let mut found = None;
        'bfs: while let Some(v) = q.pop_front() {
            // Non-rt edges first, so equal-length cycles use data dependencies.
            let mut out: Vec<&(usize, Edge)> = adj[v].iter().collect();
            out.sort_by_key(|(_, e)| *e == Edge::Rt);
            for &(w, e) in out {
                if !inside.contains(&w) {
                    continue;
                }
                if w == start {
                    found = Some((v, e));
                    break 'bfs;
                }
                if let std::collections::hash_map::Entry::Vacant(x) = prev.entry(w) {
                    x.insert((v, e));
                    q.push_back(w);
                }
            }
        }
        let Some((last, e_last)) = found else {
            continue;
        };
        // Walk back from `last` to `start`.
        let mut rev = vec![(last, e_last)];
        let mut cur = last;
        while cur != start {
            let (p, e) = prev[&cur];
            rev.push((p, e));
            cur = p;
        }
        rev.reverse();
        if best.as_ref().is_none_or(|b| rev.len() < b.len()) {
            best = Some(rev);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: u64, at: (u64, u64), mops: Vec<Mop>) -> Txn {
        Txn {
            id,
            invoke_us: at.0,
            complete_us: at.1,
            outcome: Outcome::Ok,
            mops,
        }
    }
    fn ap(k: &str, v: i64) -> Mop {
        Mop::Append(k.into(), v)
    }
    fn rd(k: &str, l: &[i64]) -> Mop {
        Mop::Read(k.into(), l.to_vec())
    }
    fn kinds(txns: &[Txn], realtime: bool) -> Vec<String> {
        check(txns, &BTreeMap::new(), realtime)
            .anomalies
            .into_iter()
            .map(|a| a.kind)
            .collect()
    }

    #[test]
    fn serializable_history_has_no_cycle() {
        let h = vec![
            t(1, (0, 10), vec![ap("x", 1), ap("y", 1)]),
            t(2, (20, 30), vec![rd("x", &[1]), ap("y", 2)]),
            t(3, (40, 50), vec![rd("y", &[1, 2]), rd("x", &[1])]),
            t(4, (5, 60), vec![rd("x", &[])]), // concurrent with 1: may read before it
        ];
        assert!(kinds(&h, true).is_empty(), "{:?}", kinds(&h, true));
    }

    #[test]
    fn g0_write_cycle() {
        // x says 1 before 2, y says 2 before 1.
        let h = vec![
            t(1, (0, 10), vec![ap("x", 1), ap("y", 1)]),
            t(2, (0, 10), vec![ap("x", 2), ap("y", 2)]),
            t(3, (20, 30), vec![rd("x", &[1, 2]), rd("y", &[2, 1])]),
        ];
        assert_eq!(kinds(&h, false), vec!["G0"]);
    }

    #[test]
    fn g1c_circular_information_flow() {
        // 1 reads 2's append to y, 2 reads 1's append to x.
        let h = vec![
            t(1, (0, 10), vec![ap("x", 1), rd("y", &[2])]),
            t(2, (0, 10), vec![ap("y", 2), rd("x", &[1])]),
        ];
        assert_eq!(kinds(&h, false), vec!["G1c"]);
    }

    #[test]
    fn g_single_read_skew() {
        // 3 sees 2's y but not 1's x, though 2 saw 1's x.
        let h = vec![
            t(1, (0, 10), vec![ap("x", 1)]),
            t(2, (0, 10), vec![rd("x", &[1]), ap("y", 1)]),
            t(3, (0, 10), vec![rd("x", &[]), rd("y", &[1])]),
        ];
        assert_eq!(kinds(&h, false), vec!["G-single"]);
    }

    #[test]
    fn g2_write_skew() {
        // Each reads the other's key before the other's append: two rw edges.
        let h = vec![
            t(1, (0, 10), vec![rd("y", &[]), ap("x", 1)]),
            t(2, (0, 10), vec![rd("x", &[]), ap("y", 1)]),
            t(3, (20, 30), vec![rd("x", &[1]), rd("y", &[1])]),
        ];
        assert_eq!(kinds(&h, false), vec!["G2"]);
    }

    #[test]
    fn stale_read_is_a_realtime_cycle() {
        // The append completed before the read began, which still missed it.
        let h = vec![
            t(1, (0, 10), vec![ap("x", 1)]),
            t(2, (20, 30), vec![rd("x", &[])]),
            t(3, (40, 50), vec![rd("x", &[1])]),
        ];
        assert!(kinds(&h, false).is_empty());
        assert_eq!(kinds(&h, true), vec!["G-single-realtime"]);
    }

    #[test]
    fn incompatible_orders() {
        let h = vec![
            t(1, (0, 10), vec![ap("x", 1)]),
            t(2, (0, 10), vec![ap("x", 2)]),
            t(3, (20, 30), vec![rd("x", &[1, 2])]),
            t(4, (20, 30), vec![rd("x", &[2])]),
        ];
        assert_eq!(kinds(&h, false), vec!["incompatible-order"]);
    }

    #[test]
    fn single_op_history_conversion() {
        let op = |id, f, v: Option<i64>, l: Option<Vec<i64>>, o, at: (u64, u64)| Op {
            id,
            process: 0,
            node: 1,
            f,
            key: "l".into(),
            value: v,
            from: None,
            list: l,
            outcome: o,
            error: None,
            invoke_us: at.0,
            complete_us: at.1,
            sess: None,
        };
        let ops = vec![
            op(1, F::Append, Some(5), None, Outcome::Ok, (0, 10)),
            op(2, F::Append, Some(6), None, Outcome::Fail, (0, 10)),
            op(3, F::ReadList, None, Some(vec![]), Outcome::Ok, (20, 30)),
        ];
        let txns = from_ops(&ops);
        assert_eq!(txns.len(), 2);
        let finals = BTreeMap::from([("l".to_string(), vec![5])]);
        let r = check(&txns, &finals, true);
        assert_eq!(r.anomalies.len(), 1);
        assert_eq!(r.anomalies[0].kind, "G-single-realtime");
    }
}
