//! Latency of this node's commands, as Redis 7.0 reports it:
//! - per command, a histogram of call times (`latency-tracking`), for INFO
//!   latencystats (`latency-tracking-info-percentiles`) and LATENCY HISTOGRAM;
//! - the latency monitor (`latency-monitor-threshold`, in ms): the `command` and
//!   `fast-command` events, one sample per second at most (the second's worst), the
//!   latest 160 kept, for LATENCY LATEST / HISTORY / RESET / GRAPH / DOCTOR.
//!
//! Both are per node, like Redis's. A command's time is what commandstats counts (a
//! write: its share of its proposal's time, the log commit included). Recording is a
//! few atomic additions; a histogram's buckets are allocated at its command's first call.

use crate::shared::Shared;
use engine::{CmdError, Frame};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Sub-buckets per power of two (about 6% resolution).
const SUB: u64 = 16;
const SUB_BITS: u32 = 4;
/// Buckets: values 0..16 one each, then 16 per power of two up to 2^63.
const BUCKETS: usize = (SUB + (64 - SUB_BITS as u64) * SUB) as usize;

fn bucket(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let sub = (v >> (e - SUB_BITS)) & (SUB - 1);
    (SUB + (e - SUB_BITS) as u64 * SUB + sub) as usize
}

/// The largest value bucket `i` holds.
fn bucket_high(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let e = (i - SUB) / SUB + SUB_BITS as u64;
    let sub = (i - SUB) % SUB;
    let low = (SUB + sub) << (e - SUB_BITS as u64);
    low.saturating_add((1u64 << (e - SUB_BITS as u64)) - 1)
}

/// One command's call times in microseconds.
#[derive(Default)]
pub struct Histogram {
    buckets: OnceLock<Box<[AtomicU64]>>,
}

impl Histogram {
    #[inline]
    fn record(&self, usec: u64) {
        let b = self
            .buckets
            .get_or_init(|| (0..BUCKETS).map(|_| AtomicU64::new(0)).collect());
        b[bucket(usec)].fetch_add(1, Ordering::Relaxed);
    }

    /// (bucket, count) of the non-empty buckets, in order.
    fn counts(&self) -> Vec<(usize, u64)> {
        let Some(b) = self.buckets.get() else {
            return Vec::new();
        };
        b.iter()
            .enumerate()
            .map(|(i, c)| (i, c.load(Ordering::Relaxed)))
            .filter(|(_, c)| *c > 0)
            .collect()
    }

    fn reset(&self) {
        if let Some(b) = self.buckets.get() {
            for c in b.iter() {
                c.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// The value at percentile `p` (0..=100) of `counts`: the high end of its bucket.
fn percentile(counts: &[(usize, u64)], p: f64) -> u64 {
    let total: u64 = counts.iter().map(|(_, c)| c).sum();
    let target = ((p / 100.0 * total as f64).ceil() as u64).clamp(1, total.max(1));
    let mut cum = 0;
    for (i, c) in counts {
        cum += c;
        if cum >= target {
            return bucket_high(*i);
        }
    }
    counts.last().map_or(0, |(i, _)| bucket_high(*i))
}

/// The value at percentile `p` of the calls counted in `now` but not in `before` (two
/// readings of `Latency::merged_counts`), in microseconds; None if there were none.
pub fn window_percentile(before: &[u64], now: &[u64], p: f64) -> Option<u64> {
    let counts: Vec<(usize, u64)> = now
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.saturating_sub(before.get(i).copied().unwrap_or(0))))
        .filter(|(_, c)| *c > 0)
        .collect();
    (!counts.is_empty()).then(|| percentile(&counts, p))
}

/// Samples kept per event (Redis's LATENCY_TS_LEN).
const SAMPLES: usize = 160;

#[derive(Clone, Copy, Default)]
struct Sample {
    time: u64,
    ms: u64,
}

#[derive(Default)]
struct Series {
    samples: Vec<Sample>,
    max: u64,
}

/// The node's latency data (in `Stats`, recorded by `Stats::record`).
pub struct Latency {
    per_cmd: Vec<Histogram>,
    tracking: AtomicBool,
    /// `latency-monitor-threshold` in ms; 0 turns the monitor off.
    threshold_ms: AtomicI64,
    events: Mutex<Vec<(&'static str, Series)>>,
    percentiles: Mutex<Vec<f64>>,
}

impl Latency {
    pub fn new(commands: usize) -> Latency {
        Latency {
            per_cmd: (0..commands).map(|_| Histogram::default()).collect(),
            tracking: AtomicBool::new(true),
            threshold_ms: AtomicI64::new(0),
            events: Mutex::new(Vec::new()),
            percentiles: Mutex::new(vec![50.0, 99.0, 99.9]),
        }
    }

    /// One call of command `idx` (engine::COMMANDS() order) that took `usec`.
    #[inline]
    pub fn record(&self, idx: usize, fast: bool, usec: u64) {
        if self.tracking.load(Ordering::Relaxed) {
            if let Some(h) = self.per_cmd.get(idx) {
                h.record(usec);
            }
        }
        let t = self.threshold_ms.load(Ordering::Relaxed);
        if t > 0 && usec / 1000 >= t as u64 {
            self.add_sample(if fast { "fast-command" } else { "command" }, usec / 1000);
        }
    }

    /// Every command's call counts per bucket, added together (dense, one slot per
    /// bucket): the console's sampler takes the difference of two readings to get the
    /// percentiles of the calls in between (`window_percentile`).
    pub fn merged_counts(&self) -> Vec<u64> {
        let mut out = vec![0u64; BUCKETS];
        for h in &self.per_cmd {
            if let Some(b) = h.buckets.get() {
                for (o, c) in out.iter_mut().zip(b.iter()) {
                    *o += c.load(Ordering::Relaxed);
                }
            }
        }
        out
    }

    /// CONFIG RESETSTAT clears the histograms (not the monitor's events), as Redis.
    pub fn reset_histograms(&self) {
        for h in &self.per_cmd {
            h.reset();
        }
    }

    /// Applies a CONFIG SET of one of the latency parameters (checked already).
    pub fn configure(&self, param: &str, value: &str) {
        match param {
            "latency-monitor-threshold" => self
                .threshold_ms
                .store(value.parse().unwrap_or(0), Ordering::Relaxed),
            "latency-tracking" => self.tracking.store(value == "yes", Ordering::Relaxed),
            "latency-tracking-info-percentiles" => {
                if let Ok(mut p) = self.percentiles.lock() {
                    *p = value
                        .split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect();
                }
            }
            _ => {}
        }
    }

    fn add_sample(&self, event: &'static str, ms: u64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let Ok(mut events) = self.events.lock() else {
            return;
        };
        let pos = match events.iter().position(|(e, _)| *e == event) {
            Some(p) => p,
            None => {
                events.push((event, Series::default()));
                events.len() - 1
            }
        };
        let s = &mut events[pos].1;
        s.max = s.max.max(ms);
        match s.samples.last_mut() {
            // One sample per second: the second's worst.
            Some(last) if last.time == now => last.ms = last.ms.max(ms),
            _ => {
                if s.samples.len() == SAMPLES {
                    s.samples.remove(0);
                }
                s.samples.push(Sample { time: now, ms });
            }
        }
    }
}

/// INFO latencystats: `latency_percentiles_usec_<command>:p50=...,p99=...` for each
/// command called since the start (or CONFIG RESETSTAT).
pub fn info_section(shared: &Shared, o: &mut String) {
    o.push_str("# Latencystats\r\n");
    let l = &shared.stats.latency;
    let pcts = l.percentiles.lock().map(|p| p.clone()).unwrap_or_default();
    for (spec, h) in engine::COMMANDS().iter().zip(&l.per_cmd) {
        let counts = h.counts();
        if counts.is_empty() {
            continue;
        }
        let _ = write!(o, "latency_percentiles_usec_{}:", spec.name);
        for (i, p) in pcts.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(
                o,
                "{sep}p{}={:.3}",
                fmt_pct(*p),
                percentile(&counts, *p) as f64
            );
        }
        o.push_str("\r\n");
    }
}

/// A percentile's name as Redis prints it (%f without trailing zeros: 50, 99.9).
fn fmt_pct(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec())
}

/// LATENCY HISTOGRAM's entry of one command: calls and the cumulative count at each
/// power-of-two microsecond bound where it grows.
fn histogram_entry(h: &Histogram) -> Option<Frame> {
    let counts = h.counts();
    if counts.is_empty() {
        return None;
    }
    let calls: u64 = counts.iter().map(|(_, c)| c).sum();
    let mut pairs = Vec::new();
    let (mut cum, mut prev, mut k) = (0u64, 0u64, 1u64);
    let mut it = counts.iter().peekable();
    while cum < calls {
        while let Some((i, c)) = it.peek() {
            if bucket_high(*i) <= k {
                cum += c;
                it.next();
            } else {
                break;
            }
        }
        if cum > prev {
            pairs.push((Frame::Integer(k as i64), Frame::Integer(cum as i64)));
        }
        prev = cum;
        match k.checked_mul(2) {
            Some(n) => k = n,
            None => break,
        }
    }
    Some(Frame::Map(vec![
        (bulk("calls"), Frame::Integer(calls as i64)),
        (bulk("histogram_usec"), Frame::Map(pairs)),
    ]))
}

const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

/// LATENCY LATEST | HISTORY event | RESET [event ...] | GRAPH event | DOCTOR |
/// HISTOGRAM [command ...] | HELP.
pub fn command(shared: &Shared, argv: &[Vec<u8>]) -> Result<Frame, CmdError> {
    let l = &shared.stats.latency;
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    let arity_ok = match sub.as_str() {
        "latest" | "doctor" | "help" => argv.len() == 2,
        "history" | "graph" => argv.len() == 3,
        "reset" | "histogram" => true,
        _ => return Err(CmdError::unknown_subcommand(&argv[1], "LATENCY")),
    };
    if !arity_ok {
        return Err(CmdError::wrong_arity(&format!("latency|{sub}")));
    }
    let events = l.events.lock().map_err(|_| CmdError::new("ERR poisoned"))?;
    let find = |name: &[u8]| {
        events
            .iter()
            .find(|(e, _)| e.as_bytes().eq_ignore_ascii_case(name))
            .map(|(e, s)| (*e, s))
    };
    Ok(match sub.as_str() {
        "latest" => Frame::Array(
            events
                .iter()
                .filter_map(|(e, s)| {
                    let last = s.samples.last()?;
                    Some(Frame::Array(vec![
                        bulk(e),
                        Frame::Integer(last.time as i64),
                        Frame::Integer(last.ms as i64),
                        Frame::Integer(s.max as i64),
                    ]))
                })
                .collect(),
        ),
        "history" => match find(&argv[2]) {
            Some((_, s)) => Frame::Array(
                s.samples
                    .iter()
                    .map(|x| {
                        Frame::Array(vec![
                            Frame::Integer(x.time as i64),
                            Frame::Integer(x.ms as i64),
                        ])
                    })
                    .collect(),
            ),
            None => Frame::Array(Vec::new()),
        },
        "graph" => match find(&argv[2]) {
            Some((e, s)) if !s.samples.is_empty() => {
                Frame::Verbatim("txt".into(), graph(e, s).into_bytes())
            }
            _ => {
                return Err(CmdError::new(format!(
                    "ERR No samples available for event '{}'",
                    String::from_utf8_lossy(&argv[2])
                )))
            }
        },
        "doctor" => {
            let on = l.threshold_ms.load(Ordering::Relaxed) > 0;
            Frame::Verbatim("txt".into(), doctor(&events, on).into_bytes())
        }
        "reset" => {
            drop(events);
            let mut events = l.events.lock().map_err(|_| CmdError::new("ERR poisoned"))?;
            let before = events.len();
            if argv.len() == 2 {
                events.clear();
            } else {
                events.retain(|(e, _)| {
                    !argv[2..]
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(e.as_bytes()))
                });
            }
            Frame::Integer((before - events.len()) as i64)
        }
        "histogram" => {
            let mut out = Vec::new();
            for (spec, h) in engine::COMMANDS().iter().zip(&l.per_cmd) {
                if argv.len() > 2
                    && !argv[2..]
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(spec.name.as_bytes()))
                {
                    continue;
                }
                if let Some(entry) = histogram_entry(h) {
                    out.push((bulk(spec.name), entry));
                }
            }
            Frame::Map(out)
        }
        _ => Frame::Array(HELP.iter().map(|l| Frame::Simple((*l).into())).collect()),
    })
}

/// LATENCY GRAPH: the samples as columns of `#` (Redis's style, simplified: one column
/// per sample, scaled between the lowest and highest sample, each labelled below with
/// its age).
fn graph(event: &str, s: &Series) -> String {
    let lo = s.samples.iter().map(|x| x.ms).min().unwrap_or(0);
    let hi = s.samples.iter().map(|x| x.ms).max().unwrap_or(0);
    let mut out = format!(
        "{event} - high {hi} ms, low {lo} ms (all time high {} ms)\n{}\n",
        s.max,
        "-".repeat(80)
    );
    const ROWS: u64 = 4;
    let cols: Vec<&Sample> = s.samples.iter().rev().take(80).collect::<Vec<_>>();
    let cols: Vec<&Sample> = cols.into_iter().rev().collect();
    let height = |ms: u64| {
        if hi == lo {
            ROWS
        } else {
            1 + (ms - lo) * (ROWS - 1) / (hi - lo)
        }
    };
    for row in (1..=ROWS).rev() {
        let line: String = cols
            .iter()
            .map(|x| {
                let h = height(x.ms);
                if h > row {
                    '|'
                } else if h == row {
                    '#'
                } else {
                    ' '
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Ages, in Redis's shorthand (s, m, h, d), written vertically.
    let ages: Vec<String> = cols
        .iter()
        .map(|x| {
            let a = now.saturating_sub(x.time);
            match a {
                0..=59 => format!("{a}s"),
                60..=3599 => format!("{}m", a / 60),
                3600..=86399 => format!("{}h", a / 3600),
                _ => format!("{}d", a / 86400),
            }
        })
        .collect();
    let depth = ages.iter().map(|a| a.len()).max().unwrap_or(0);
    for i in 0..depth {
        let line: String = ages
            .iter()
            .map(|a| a.chars().nth(i).unwrap_or(' '))
            .collect();
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// LATENCY DOCTOR: Redis's report when nothing was observed; otherwise a line per event
/// (spikes, average, mean deviation, period, worst) and what to look at on Meridian.
fn doctor(events: &[(&'static str, Series)], enabled: bool) -> String {
    let seen: Vec<_> = events
        .iter()
        .filter(|(_, s)| !s.samples.is_empty())
        .collect();
    if seen.is_empty() && !enabled {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    if seen.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".into();
    }
    let mut out = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
    );
    for (n, (e, s)) in seen.iter().enumerate() {
        let k = s.samples.len() as u64;
        let avg = s.samples.iter().map(|x| x.ms).sum::<u64>() / k;
        let mad = s.samples.iter().map(|x| x.ms.abs_diff(avg)).sum::<u64>() / k;
        let first = s.samples.first().map_or(0, |x| x.time);
        let last = s.samples.last().map_or(0, |x| x.time);
        let period = if k > 1 {
            (last - first) as f64 / (k - 1) as f64
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "{}. {e}: {k} latency spikes (average {avg}ms, mean deviation {mad}ms, period {period:.2} sec). Worst all time event {}ms.",
            n + 1,
            s.max
        );
    }
    out.push_str("\nI have a few advices for you:\n\n");
    out.push_str("- Check your system for the commands that took long: SLOWLOG GET lists them with their arguments, INFO commandstats and INFO latencystats by command. Writes include the Raft log commit (an fsync): a slow disk shows there first (INFO persistence raft_log_fsync_usec).\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_in_order() {
        let mut prev = 0;
        for v in [
            0u64,
            1,
            15,
            16,
            17,
            31,
            32,
            33,
            100,
            1000,
            123_456,
            u64::MAX / 3,
            u64::MAX,
        ] {
            let b = bucket(v);
            assert!(b < BUCKETS, "{v}");
            assert!(bucket_high(b) >= v, "{v}");
            assert!(b >= prev);
            prev = b;
        }
        assert_eq!(bucket_high(bucket(7)), 7);
        // About 6% resolution.
        assert!(bucket_high(bucket(1000)) <= 1063);
    }

    #[test]
    fn percentiles_and_histogram() {
        let h = Histogram::default();
        for v in [1u64, 2, 3, 4, 100] {
            h.record(v);
        }
        let c = h.counts();
        assert_eq!(percentile(&c, 50.0), 3);
        assert!((100..=103).contains(&percentile(&c, 100.0)));
        assert!((100..=103).contains(&percentile(&c, 99.9)));
        let Some(Frame::Map(m)) = histogram_entry(&h) else {
            panic!()
        };
        assert_eq!(m[0].1, Frame::Integer(5));
        let Frame::Map(b) = &m[1].1 else { panic!() };
        assert_eq!(b[0], (Frame::Integer(1), Frame::Integer(1)));
        assert_eq!(b[1], (Frame::Integer(2), Frame::Integer(2)));
        assert_eq!(b[2], (Frame::Integer(4), Frame::Integer(4)));
        assert_eq!(b.last().unwrap().1, Frame::Integer(5));
        assert_eq!(fmt_pct(99.9), "99.9");
        assert_eq!(fmt_pct(50.0), "50");
    }

    #[test]
    fn monitor_keeps_one_sample_per_second_and_the_max() {
        let l = Latency::new(1);
        l.configure("latency-monitor-threshold", "1");
        l.record(0, false, 500);
        l.record(0, false, 3_000);
        l.record(0, false, 7_000);
        l.record(0, true, 2_000);
        let ev = l.events.lock().unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].0, "command");
        assert_eq!(ev[0].1.max, 7);
        assert!(ev[0].1.samples.len() <= 2);
        assert_eq!(ev[1].0, "fast-command");
    }
}

/// Upper bounds (µs) of the Prometheus histogram buckets of command service time.
const PROM_BOUNDS_US: [u64; 14] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    5_000_000,
];

/// Per-command service-time histograms and quantiles in the Prometheus text format
/// (`/metrics`): `meridian_command_duration_seconds` (cumulative buckets folded from
/// this module's fine buckets; a call counts in the first bound at or above its
/// bucket's high end) and `meridian_command_latency_seconds{quantile=...}` (p50, p99,
/// p99.9, p99.99 as the Upstash console shows them).
pub fn prometheus(shared: &Shared, o: &mut String) {
    let l = &shared.stats.latency;
    o.push_str("# HELP meridian_command_duration_seconds Service time of each command.\n# TYPE meridian_command_duration_seconds histogram\n");
    let mut quantiles = String::new();
    for (i, (spec, h)) in engine::COMMANDS().iter().zip(&l.per_cmd).enumerate() {
        let counts = h.counts();
        if counts.is_empty() {
            continue;
        }
        let name = spec.name;
        let mut cum = 0u64;
        let mut at = 0usize;
        for bound in PROM_BOUNDS_US {
            while at < counts.len() && bucket_high(counts[at].0) <= bound {
                cum += counts[at].1;
                at += 1;
            }
            let _ = writeln!(
                o,
                "meridian_command_duration_seconds_bucket{{cmd=\"{name}\",le=\"{}\"}} {cum}",
                bound as f64 / 1e6
            );
        }
        let total: u64 = counts.iter().map(|(_, c)| c).sum();
        let usec = shared.stats.per_cmd[i][1].load(Ordering::Relaxed);
        let _ = writeln!(
            o,
            "meridian_command_duration_seconds_bucket{{cmd=\"{name}\",le=\"+Inf\"}} {total}\nmeridian_command_duration_seconds_sum{{cmd=\"{name}\"}} {}\nmeridian_command_duration_seconds_count{{cmd=\"{name}\"}} {total}",
            usec as f64 / 1e6
        );
        for q in [0.5, 0.99, 0.999, 0.9999] {
            let _ = writeln!(
                quantiles,
                "meridian_command_latency_seconds{{cmd=\"{name}\",quantile=\"{q}\"}} {}",
                percentile(&counts, q * 100.0) as f64 / 1e6
            );
        }
    }
    o.push_str("# HELP meridian_command_latency_seconds Service-time quantiles of each command (high end of the histogram bucket).\n# TYPE meridian_command_latency_seconds gauge\n");
    o.push_str(&quantiles);
}
