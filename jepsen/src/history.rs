//! Histories: one JSON object per line, operations and nemesis events.

use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum F {
    /// Register read (GET).
    Read,
    /// Register write (SET).
    Write,
    /// Register compare-and-set (a Lua script).
    Cas,
    /// List append (RPUSH).
    Append,
    /// List read (LRANGE 0 -1).
    ReadList,
    /// Counter increment (INCR) of a read-your-writes session; `value` is its result.
    Incr,
    /// Counter read (GET) of a read-your-writes session; `value` is its result.
    ReadCounter,
    /// TTL workload: SET key PX ttl (`value`), `from` = the TTL in ms.
    SetTtl,
    /// TTL workload: EXISTS of a TTL key; `value` 1 or 0.
    ReadTtl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The operation took effect (and its result is in the record).
    Ok,
    /// The operation definitely did not take effect (CLUSTERDOWN, a CAS mismatch, a read
    /// error: reads have no effect).
    Fail,
    /// Unknown: it may or may not have taken effect (UNKNOWN, timeout, dropped connection).
    Info,
}

/// One operation: its call and its completion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    pub id: u64,
    /// A client's process number; a client whose op ended in `info` continues as a new
    /// process (the old one may still have that op in flight).
    pub process: u64,
    /// The node the client talked to.
    pub node: u32,
    pub f: F,
    pub key: String,
    /// Write/append argument, CAS new value, or a register read's result (None = nil).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    /// CAS expected value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// A list read's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<Vec<i64>>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Microseconds since the run started.
    pub invoke_us: u64,
    pub complete_us: u64,
    /// A read-your-writes session's op: its session, connection and sync tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sess: Option<Sess>,
}

/// A session op's context (read-your-writes workload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sess {
    pub session: u64,
    /// The connection (RESP) the op ran on; REST ops each open their own (0).
    pub conn: u64,
    /// REST (`upstash-sync-token` header) rather than RESP (`CLIENT SYNC-TOKEN`).
    pub rest: bool,
    /// The token the session carried into the op.
    pub token_in: u64,
    /// The token the op's reply carried (None when it failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_out: Option<u64>,
}

/// A fault window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NemesisEvent {
    pub fault: String,
    pub detail: String,
    pub start_us: u64,
    pub end_us: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    Op(Op),
    Nemesis(NemesisEvent),
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub ops: Vec<Op>,
    pub nemesis: Vec<NemesisEvent>,
}

impl History {
    pub fn write_jsonl(&self, path: &Path) -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut entries: Vec<(u64, Entry)> = self
            .ops
            .iter()
            .map(|o| (o.invoke_us, Entry::Op(o.clone())))
            .chain(
                self.nemesis
                    .iter()
                    .map(|n| (n.start_us, Entry::Nemesis(n.clone()))),
            )
            .collect();
        entries.sort_by_key(|(t, _)| *t);
        for (_, e) in entries {
            serde_json::to_writer(&mut w, &e)?;
            w.write_all(b"\n")?;
        }
        w.flush()
    }

    pub fn read_jsonl(path: &Path) -> anyhow::Result<History> {
        let r = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut h = History::default();
        for (i, line) in r.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(&line)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?
            {
                Entry::Op(o) => h.ops.push(o),
                Entry::Nemesis(n) => h.nemesis.push(n),
            }
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_round_trip() {
        let h = History {
            ops: vec![Op {
                id: 1,
                process: 0,
                node: 2,
                f: F::Read,
                key: "r1".into(),
                value: None,
                from: None,
                list: None,
                outcome: Outcome::Ok,
                error: None,
                invoke_us: 5,
                complete_us: 9,
                sess: None,
            }],
            nemesis: vec![NemesisEvent {
                fault: "kill".into(),
                detail: "node 1".into(),
                start_us: 1,
                end_us: 3,
            }],
        };
        let d = std::env::temp_dir().join(format!("jepsen-h-{}.jsonl", std::process::id()));
        h.write_jsonl(&d).unwrap();
        let back = History::read_jsonl(&d).unwrap();
        std::fs::remove_file(&d).unwrap();
        assert_eq!(back.ops, h.ops);
        assert_eq!(back.nemesis, h.nemesis);
    }
}
