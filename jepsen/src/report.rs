//! The run's summary (table + JSON) and a latency-over-time SVG with fault windows shaded.

use crate::checker::{converge, linear, list};
use crate::history::{History, Outcome, F};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Debug, Serialize)]
pub struct AnomalyLine {
    pub kind: String,
    pub key: String,
    pub ops: Vec<u64>,
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub seconds: u64,
    pub strong_reads: bool,
    /// (f, ok, fail, info)
    pub ops: Vec<(String, usize, usize, usize)>,
    pub faults: BTreeMap<String, usize>,
    pub register_keys: usize,
    pub register_unknown_keys: Vec<String>,
    pub list_keys: usize,
    /// Read-your-writes sessions checked.
    pub sessions: usize,
    /// TTL keys checked and how far from their deadline they went away.
    pub ttl: Option<String>,
    /// Cycle check: (transactions, dependency edges).
    pub elle: Option<(usize, usize)>,
    pub converged: Option<bool>,
    pub digests: Vec<(u32, usize, u32)>,
    pub anomalies: Vec<AnomalyLine>,
    /// Problems of the run itself (not of the database): e.g. no leader after the heal.
    pub errors: Vec<String>,
}

impl Summary {
    pub fn anomaly_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for a in &self.anomalies {
            *m.entry(a.kind.clone()).or_insert(0) += 1;
        }
        m
    }

    pub fn ok_count(&self) -> usize {
        self.ops.iter().map(|o| o.1).sum()
    }
}

pub fn summarize(
    h: &History,
    lin: Option<&linear::Report>,
    lst: Option<&list::Report>,
    conv: Option<&converge::Report>,
) -> Summary {
    let mut s = Summary::default();
    let mut by_f: BTreeMap<F, (usize, usize, usize)> = BTreeMap::new();
    for o in &h.ops {
        let e = by_f.entry(o.f).or_default();
        match o.outcome {
            Outcome::Ok => e.0 += 1,
            Outcome::Fail => e.1 += 1,
            Outcome::Info => e.2 += 1,
        }
    }
    s.ops = by_f
        .into_iter()
        .map(|(f, (a, b, c))| {
            (
                serde_json::to_value(f)
                    .unwrap()
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
                a,
                b,
                c,
            )
        })
        .collect();
    for n in &h.nemesis {
        *s.faults.entry(n.fault.clone()).or_insert(0) += 1;
    }
    if let Some(l) = lin {
        s.register_keys = l.keys;
        s.register_unknown_keys = l.unknown.clone();
        for (key, r) in &l.anomalies {
            if let linear::KeyResult::NotLinearizable { prefix, stuck } = r {
                s.anomalies.push(AnomalyLine {
                    kind: "not-linearizable".into(),
                    key: key.clone(),
                    ops: stuck.clone(),
                    detail: format!(
                        "no linearization past {prefix} ops; could not place ok ops {stuck:?}"
                    ),
                });
            }
        }
    }
    if let Some(l) = lst {
        s.list_keys = l.keys;
        for a in &l.anomalies {
            s.anomalies.push(AnomalyLine {
                kind: a.kind.to_string(),
                key: a.key.clone(),
                ops: a.ops.clone(),
                detail: a.detail.clone(),
            });
        }
    }
    if let Some(c) = conv {
        s.converged = Some(c.converged);
        s.digests = c.digests.clone();
        if !c.converged {
            s.anomalies.push(AnomalyLine {
                kind: "divergence".into(),
                key: c.differing.join(" "),
                ops: vec![],
                detail: format!("nodes differ after heal: {:?}", c.digests),
            });
        }
    }
    s
}

/// Adds the read-your-writes sessions' anomalies.
pub fn add_ryw(s: &mut Summary, r: &crate::checker::ryw::Report) {
    s.sessions = r.sessions;
    for a in &r.anomalies {
        s.anomalies.push(AnomalyLine {
            kind: a.kind.to_string(),
            key: a.key.clone(),
            ops: a.ops.clone(),
            detail: a.detail.clone(),
        });
    }
}

/// Adds the cycle checker's anomalies (Elle-style, on the list-append history).
pub fn add_elle(s: &mut Summary, r: &crate::checker::elle::Report) {
    s.elle = Some((r.txns, r.edges));
    for a in &r.anomalies {
        s.anomalies.push(AnomalyLine {
            kind: a.kind.clone(),
            key: "-".into(),
            ops: a.ops.clone(),
            detail: a.detail.clone(),
        });
    }
}

/// Adds the TTL checker's anomalies and its observed expiry spread.
pub fn add_ttl(s: &mut Summary, r: &crate::checker::ttl::Report, bound_ms: u64) {
    if r.keys > 0 {
        s.ttl = Some(format!(
            "{} keys, {} reads; gone at the earliest {} ms from the deadline, present at the latest {} ms past it (bound {bound_ms} ms)",
            r.keys,
            r.reads,
            r.earliest_gone_ms.map_or("-".into(), |x| format!("{x:+.0}")),
            r.latest_present_ms.map_or("-".into(), |x| format!("{x:+.0}")),
        ));
    }
    for a in &r.anomalies {
        s.anomalies.push(AnomalyLine {
            kind: a.kind.to_string(),
            key: a.key.clone(),
            ops: a.ops.clone(),
            detail: a.detail.clone(),
        });
    }
}

pub fn table(s: &Summary) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "scenario {}  seed {}  {} s  reads {}",
        s.scenario,
        s.seed,
        s.seconds,
        if s.strong_reads { "strong" } else { "eventual" }
    );
    let _ = writeln!(
        t,
        "{:<10} {:>8} {:>8} {:>8} {:>8}",
        "op", "total", "ok", "fail", "info"
    );
    let (mut ta, mut tb, mut tc) = (0, 0, 0);
    for (f, a, b, c) in &s.ops {
        let _ = writeln!(t, "{:<10} {:>8} {:>8} {:>8} {:>8}", f, a + b + c, a, b, c);
        ta += a;
        tb += b;
        tc += c;
    }
    let _ = writeln!(
        t,
        "{:<10} {:>8} {:>8} {:>8} {:>8}",
        "all",
        ta + tb + tc,
        ta,
        tb,
        tc
    );
    let faults: Vec<String> = s.faults.iter().map(|(k, v)| format!("{k} x{v}")).collect();
    let _ = writeln!(
        t,
        "faults: {}",
        if faults.is_empty() {
            "none".into()
        } else {
            faults.join(", ")
        }
    );
    let _ = writeln!(
        t,
        "register keys checked: {} (search budget exceeded: {})   list keys: {}   sync-token sessions: {}",
        s.register_keys,
        s.register_unknown_keys.len(),
        s.list_keys,
        s.sessions
    );
    if let Some((n, e)) = s.elle {
        let _ = writeln!(t, "cycle check: {n} list ops, {e} dependency edges");
    }
    if let Some(x) = &s.ttl {
        let _ = writeln!(t, "ttl: {x}");
    }
    match s.converged {
        Some(c) => {
            let d: Vec<String> = s
                .digests
                .iter()
                .map(|(n, k, d)| format!("n{n}: {k} keys {d:08x}"))
                .collect();
            let _ = writeln!(
                t,
                "convergence: {}  ({})",
                if c { "identical" } else { "DIVERGED" },
                d.join(", ")
            );
        }
        None => {
            let _ = writeln!(t, "convergence: not checked");
        }
    }
    let counts = s.anomaly_counts();
    if counts.is_empty() {
        let _ = writeln!(t, "anomalies: none");
    } else {
        let _ = writeln!(t, "anomalies:");
        for (k, n) in counts {
            let _ = writeln!(t, "  {k:<18} {n}");
        }
        for a in s.anomalies.iter().take(20) {
            let _ = writeln!(
                t,
                "  - {} key {} ops {:?}: {}",
                a.kind, a.key, a.ops, a.detail
            );
        }
    }
    for e in &s.errors {
        let _ = writeln!(t, "run error: {e}");
    }
    t
}

/// Latency (log scale) over time, one dot per operation coloured by outcome, fault
/// windows shaded and labelled.
pub fn latency_svg(h: &History, title: &str) -> String {
    let (w, ht) = (1000.0f64, 420.0f64);
    let (l, r, top, bot) = (60.0, 20.0, 30.0, 40.0);
    let pw = w - l - r;
    let ph = ht - top - bot;
    let tmax = h
        .ops
        .iter()
        .map(|o| o.complete_us)
        .chain(h.nemesis.iter().map(|n| n.end_us))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        / 1e6;
    let (lmin, lmax) = (0.1f64.log10(), 10_000f64.log10()); // 0.1 ms .. 10 s
    let x = |t_us: u64| l + pw * (t_us as f64 / 1e6) / tmax;
    let y = |lat_ms: f64| {
        let v = lat_ms.max(0.1).log10().clamp(lmin, lmax);
        top + ph * (1.0 - (v - lmin) / (lmax - lmin))
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{ht}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{ht}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{l}" y="18" font-size="13">{}</text>"#,
        xml(title)
    );
    for n in &h.nemesis {
        let (x0, x1) = (x(n.start_us), x(n.end_us));
        let _ = writeln!(
            s,
            r##"<rect x="{x0:.1}" y="{top}" width="{:.1}" height="{ph}" fill="#f4a0a0" fill-opacity="0.35"><title>{}: {}</title></rect>"##,
            (x1 - x0).max(1.0),
            xml(&n.fault),
            xml(&n.detail)
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" fill="#a03030" font-size="9">{}</text>"##,
            x0 + 2.0,
            top + 10.0,
            xml(&n.fault)
        );
    }
    // Axes and grid.
    for dec in [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0] {
        let yy = y(dec);
        let _ = writeln!(
            s,
            r##"<line x1="{l}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/>"##,
            l + pw
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{dec} ms</text>"#,
            l - 4.0,
            yy + 4.0
        );
    }
    let step = ((tmax / 10.0).ceil()).max(1.0);
    let mut t = 0.0;
    while t <= tmax {
        let xx = l + pw * t / tmax;
        let _ = writeln!(
            s,
            r#"<text x="{xx:.1}" y="{:.1}" text-anchor="middle">{t:.0} s</text>"#,
            top + ph + 15.0
        );
        t += step;
    }
    let _ = writeln!(
        s,
        r#"<rect x="{l}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    for o in &h.ops {
        let colour = match o.outcome {
            Outcome::Ok => "#2a7",
            Outcome::Fail => "#d22",
            Outcome::Info => "#e90",
        };
        let lat = (o.complete_us.saturating_sub(o.invoke_us)) as f64 / 1000.0;
        let _ = writeln!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="1.3" fill="{colour}"/>"#,
            x(o.invoke_us),
            y(lat)
        );
    }
    let ly = ht - 8.0;
    let _ = writeln!(
        s,
        r##"<circle cx="{l}" cy="{:.1}" r="3" fill="#2a7"/><text x="{:.1}" y="{ly}">ok</text><circle cx="{:.1}" cy="{:.1}" r="3" fill="#d22"/><text x="{:.1}" y="{ly}">fail</text><circle cx="{:.1}" cy="{:.1}" r="3" fill="#e90"/><text x="{:.1}" y="{ly}">info</text><rect x="{:.1}" y="{:.1}" width="12" height="8" fill="#f4a0a0" fill-opacity="0.6"/><text x="{:.1}" y="{ly}">fault window</text>"##,
        ly - 4.0,
        l + 6.0,
        l + 40.0,
        ly - 4.0,
        l + 46.0,
        l + 85.0,
        ly - 4.0,
        l + 91.0,
        l + 130.0,
        ly - 8.0,
        l + 146.0
    );
    let _ = writeln!(s, "</svg>");
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
