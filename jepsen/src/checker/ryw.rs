//! Read-your-writes and monotonic reads of sync-token sessions (`crate::session`), on
//! counters (INCR / GET), plus the counters' own invariants. Per session, in order:
//!
//! - `read-your-writes`: a read returns less than the result of an INCR the session had
//!   acknowledged before (its token covered that write, on whatever node and
//!   connection the read ran);
//! - `non-monotonic-read`: a read returns less than an earlier read of the same session,
//!   where the protocol promises it: a REST session always (every reply's token covers
//!   what the node had applied, and the next request waits for it on any node); a RESP
//!   session on the same connection (RESP's `CLIENT SYNC-TOKEN` covers the session's
//!   writes, not what it read, so across connections only its own writes are promised);
//! - `non-monotonic-token`: a reply's sync token lower than the one the request carried.
//!
//! Per counter key, over every session:
//!
//! - `duplicate-incr`: two acknowledged INCRs returned the same value (a lost update);
//! - `future-read`: a read or INCR result above the number of INCRs that could have
//!   applied by the time it completed (invoked before, not failed);
//! - `stale-incr`: an INCR's result not above the number of INCRs acknowledged before it
//!   was invoked (it did not see them: not linearizable);
//! - `lost-incr`: the final value (a linearizable read after the heal) below the number of
//!   acknowledged INCRs, or above the number that may have applied.

use crate::history::{Op, Outcome, F};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Anomaly {
    pub kind: &'static str,
    pub key: String,
    pub ops: Vec<u64>,
    pub detail: String,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub sessions: usize,
    pub reads: usize,
    pub incrs: usize,
    pub anomalies: Vec<Anomaly>,
}

/// `finals`: each counter's final value (None when it could not be read).
pub fn check(ops: &[Op], finals: &BTreeMap<String, i64>) -> Report {
    let mut r = Report::default();
    let sops: Vec<&Op> = ops
        .iter()
        .filter(|o| o.sess.is_some() && matches!(o.f, F::Incr | F::ReadCounter))
        .collect();
    let mut by_session: BTreeMap<u64, Vec<&Op>> = BTreeMap::new();
    for o in &sops {
        by_session
            .entry(o.sess.as_ref().expect("filtered").session)
            .or_default()
            .push(o);
    }
    r.sessions = by_session.len();
    for (_, mut v) in by_session {
        v.sort_by_key(|o| (o.invoke_us, o.id));
        session(&v, &mut r);
    }
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for o in &sops {
        by_key.entry(&o.key).or_default().push(o);
    }
    for (key, v) in by_key {
        counter(key, &v, finals.get(key).copied(), &mut r);
    }
    r.anomalies.sort();
    r
}

fn session(ops: &[&Op], r: &mut Report) {
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        let s = o.sess.as_ref().expect("session op");
        if o.f == F::Incr {
            r.incrs += 1;
        } else {
            r.reads += 1;
        }
        if let Some(out) = s.token_out {
            if out < s.token_in {
                r.anomalies.push(Anomaly {
                    kind: "non-monotonic-token",
                    key: o.key.clone(),
                    ops: vec![o.id],
                    detail: format!(
                        "reply token {out} below the request's {} (node {})",
                        s.token_in, o.node
                    ),
                });
            }
        }
    }
    // Per key, in session order.
    let mut keys: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        keys.entry(&o.key).or_default().push(o);
    }
    for (key, kops) in keys {
        // The highest INCR result the session acknowledged (and its op); the highest
        // value read (REST) or read per connection (RESP).
        let mut floor: Option<(i64, u64)> = None;
        let mut seen: Option<(i64, u64)> = None;
        let mut seen_conn: HashMap<u64, (i64, u64)> = HashMap::new();
        for o in kops {
            let s = o.sess.as_ref().expect("session op");
            let v = o.value.unwrap_or(0);
            if o.f == F::Incr {
                if floor.is_none_or(|(f, _)| v > f) {
                    floor = Some((v, o.id));
                }
                continue;
            }
            if let Some((f, w)) = floor {
                if v < f {
                    r.anomalies.push(Anomaly {
                        kind: "read-your-writes",
                        key: key.to_string(),
                        ops: vec![o.id, w],
                        detail: format!(
                            "read {v} on node {} ({}) after this session's INCR returned {f}",
                            o.node,
                            if s.rest { "REST" } else { "RESP" }
                        ),
                    });
                }
            }
            let prev = if s.rest {
                seen
            } else {
                seen_conn.get(&s.conn).copied()
            };
            if let Some((p, pid)) = prev {
                if v < p {
                    r.anomalies.push(Anomaly {
                        kind: "non-monotonic-read",
                        key: key.to_string(),
                        ops: vec![o.id, pid],
                        detail: format!(
                            "read {v} on node {} after this session read {p} ({})",
                            o.node,
                            if s.rest {
                                "REST, token carried".to_string()
                            } else {
                                format!("RESP, same connection {}", s.conn)
                            }
                        ),
                    });
                }
            }
            if s.rest {
                if seen.is_none_or(|(p, _)| v > p) {
                    seen = Some((v, o.id));
                }
            } else {
                let e = seen_conn.entry(s.conn).or_insert((v, o.id));
                if v > e.0 {
                    *e = (v, o.id);
                }
            }
        }
    }
}

fn counter(key: &str, ops: &[&Op], fin: Option<i64>, r: &mut Report) {
    let mut bad = |kind: &'static str, ops: Vec<u64>, detail: String| {
        r.anomalies.push(Anomaly {
            kind,
            key: key.to_string(),
            ops,
            detail,
        })
    };
    let incrs: Vec<&Op> = ops.iter().copied().filter(|o| o.f == F::Incr).collect();
    // Acknowledged results: unique.
    let mut by_value: HashMap<i64, u64> = HashMap::new();
    for o in incrs.iter().filter(|o| o.outcome == Outcome::Ok) {
        let v = o.value.unwrap_or(0);
        if let Some(other) = by_value.insert(v, o.id) {
            bad(
                "duplicate-incr",
                vec![other, o.id],
                format!("two acknowledged INCRs both returned {v}"),
            );
        }
    }
    // Upper bound: INCRs that may have applied by time t (invoked before t, not failed).
    let mut may: Vec<u64> = incrs
        .iter()
        .filter(|o| o.outcome != Outcome::Fail)
        .map(|o| o.invoke_us)
        .collect();
    may.sort();
    let mut acked: Vec<u64> = incrs
        .iter()
        .filter(|o| o.outcome == Outcome::Ok)
        .map(|o| o.complete_us)
        .collect();
    acked.sort();
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        let v = o.value.unwrap_or(0);
        let bound = may.partition_point(|t| *t < o.complete_us) as i64;
        if v > bound {
            bad(
                "future-read",
                vec![o.id],
                format!("{v} but at most {bound} INCRs could have applied by then"),
            );
        }
        if o.f == F::Incr {
            let before = acked.partition_point(|t| *t < o.invoke_us) as i64;
            if v <= before {
                bad(
                    "stale-incr",
                    vec![o.id],
                    format!("INCR returned {v} after {before} INCRs were acknowledged"),
                );
            }
        }
    }
    if let Some(f) = fin {
        let (ok, maybe) = (acked.len() as i64, may.len() as i64);
        if f < ok || f > maybe {
            bad(
                "lost-incr",
                vec![],
                format!(
                    "final value {f}, but {ok} INCRs acknowledged and {maybe} may have applied"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Sess;

    /// (id, session, conn, rest, f, value, (invoke, complete))
    fn op(id: u64, s: u64, conn: u64, rest: bool, f: F, v: i64, t: (u64, u64)) -> Op {
        Op {
            id,
            process: s,
            node: 1,
            f,
            key: "s0".into(),
            value: Some(v),
            from: None,
            list: None,
            outcome: Outcome::Ok,
            error: None,
            invoke_us: t.0,
            complete_us: t.1,
            sess: Some(Sess {
                session: s,
                conn,
                rest,
                token_in: 0,
                token_out: None,
            }),
        }
    }
    fn kinds(ops: Vec<Op>, fin: Option<i64>) -> Vec<&'static str> {
        let finals: BTreeMap<String, i64> =
            fin.map(|f| ("s0".to_string(), f)).into_iter().collect();
        let mut k: Vec<_> = check(&ops, &finals)
            .anomalies
            .into_iter()
            .map(|a| a.kind)
            .collect();
        k.sort();
        k.dedup();
        k
    }
    use F::{Incr, ReadCounter as Get};

    #[test]
    fn valid_sessions_pass() {
        let h = vec![
            op(1, 1, 1, false, Incr, 1, (0, 10)),
            op(2, 2, 0, true, Incr, 2, (5, 15)),
            op(3, 1, 2, false, Get, 1, (20, 30)), // another connection: sees its write
            op(4, 2, 0, true, Get, 2, (20, 30)),
            op(5, 1, 3, false, Get, 2, (40, 50)),
            op(6, 1, 4, false, Get, 1, (60, 70)), // RESP, new connection: may go back to its own write
        ];
        assert!(kinds(h, Some(2)).is_empty());
    }

    #[test]
    fn read_your_writes_violation() {
        let h = vec![
            op(1, 1, 1, false, Incr, 3, (0, 10)),
            op(2, 1, 2, false, Get, 2, (20, 30)),
            op(3, 2, 0, false, Incr, 1, (0, 1)),
            op(4, 2, 0, false, Incr, 2, (0, 1)),
        ];
        assert_eq!(kinds(h, Some(3)), vec!["read-your-writes"]);
    }

    #[test]
    fn non_monotonic_reads() {
        let incrs = || {
            vec![
                op(10, 9, 0, false, Incr, 1, (0, 1)),
                op(11, 9, 0, false, Incr, 2, (0, 1)),
            ]
        };
        // REST: promised across nodes.
        let mut h = incrs();
        h.extend([
            op(1, 1, 0, true, Get, 2, (10, 20)),
            op(2, 1, 0, true, Get, 1, (30, 40)),
        ]);
        assert_eq!(kinds(h, Some(2)), vec!["non-monotonic-read"]);
        // RESP: on one connection.
        let mut h = incrs();
        h.extend([
            op(1, 1, 7, false, Get, 2, (10, 20)),
            op(2, 1, 7, false, Get, 1, (30, 40)),
        ]);
        assert_eq!(kinds(h, Some(2)), vec!["non-monotonic-read"]);
        // RESP on two connections: not promised.
        let mut h = incrs();
        h.extend([
            op(1, 1, 7, false, Get, 2, (10, 20)),
            op(2, 1, 8, false, Get, 1, (30, 40)),
        ]);
        assert!(kinds(h, Some(2)).is_empty());
    }

    #[test]
    fn counter_anomalies() {
        // Two INCRs acknowledged with the same result: a lost update.
        let h = vec![
            op(1, 1, 1, false, Incr, 1, (0, 10)),
            op(2, 2, 2, false, Incr, 1, (0, 10)),
        ];
        assert!(kinds(h, Some(2)).contains(&"duplicate-incr"));
        // A value no INCR could have produced yet.
        let h = vec![
            op(1, 1, 1, false, Incr, 1, (0, 10)),
            op(2, 2, 2, false, Get, 5, (20, 30)),
        ];
        assert_eq!(kinds(h, Some(1)), vec!["future-read"]);
        // An INCR that did not see an acknowledged one.
        let h = vec![
            op(1, 1, 1, false, Incr, 1, (0, 10)),
            op(2, 2, 2, false, Incr, 1, (20, 30)),
        ];
        assert!(kinds(h, Some(2)).contains(&"stale-incr"));
        // The final value lost an acknowledged INCR.
        let h = vec![
            op(1, 1, 1, false, Incr, 1, (0, 10)),
            op(2, 2, 2, false, Incr, 2, (20, 30)),
        ];
        assert_eq!(kinds(h, Some(1)), vec!["lost-incr"]);
        // A reply token going backwards.
        let mut o = op(1, 1, 1, true, Incr, 1, (0, 10));
        o.sess.as_mut().unwrap().token_in = 50;
        o.sess.as_mut().unwrap().token_out = Some(40);
        assert_eq!(kinds(vec![o], Some(1)), vec!["non-monotonic-token"]);
    }
}
