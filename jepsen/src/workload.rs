//! Clients: each one talks to one node, one operation at a time, and records every
//! operation with its invoke/complete times and outcome.
//!
//! - register: GET, SET and a compare-and-set Lua script on a small window of keys; a key
//!   is retired after `ops_per_key` operations (keeps each key's linearizability search
//!   small) and a fresh one takes its place.
//! - list: RPUSH of a unique value and LRANGE 0 -1, keys rotated the same way.
//!
//! Outcomes: `CLUSTERDOWN` → fail (not applied); a CAS whose comparison failed → fail;
//! any error of a read → fail (reads have no effect); `UNKNOWN`, a timeout, a dropped
//! connection or any other error of a write → info, after which the client continues as
//! a new process on a new connection.

use crate::history::{Op, Outcome, F};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const CAS_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 else return 0 end";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Register,
    List,
}

/// A window of active keys shared by the clients of one workload.
pub struct Keys {
    prefix: &'static str,
    per_key: usize,
    active: Mutex<(Vec<(u64, usize)>, u64)>,
}

impl Keys {
    pub fn new(prefix: &'static str, window: usize, per_key: usize) -> Keys {
        Keys {
            prefix,
            per_key,
            active: Mutex::new(((0..window as u64).map(|k| (k, 0)).collect(), window as u64)),
        }
    }

    fn pick(&self, rng: &mut StdRng) -> String {
        let mut g = self.active.lock().unwrap();
        let (ref mut v, ref mut next) = *g;
        let i = rng.gen_range(0..v.len());
        v[i].1 += 1;
        let k = v[i].0;
        if v[i].1 >= self.per_key {
            v[i] = (*next, 0);
            *next += 1;
        }
        format!("{}{k}", self.prefix)
    }
}

pub struct Shared {
    pub t0: Instant,
    pub next_id: AtomicU64,
    pub next_process: AtomicU64,
    pub next_value: AtomicU64,
    pub reg_keys: Keys,
    pub list_keys: Keys,
    pub strong: bool,
    pub op_timeout: Duration,
    /// The last value each register key was seen to hold (CAS picks it as `from`).
    pub last_seen: Mutex<std::collections::HashMap<String, i64>>,
}

impl Shared {
    pub fn now_us(&self) -> u64 {
        self.t0.elapsed().as_micros() as u64
    }
}

pub struct ClientSpec {
    pub index: u32,
    pub node: u32,
    pub addr: SocketAddr,
    pub kind: Kind,
    pub seed: u64,
    pub until: Instant,
}

async fn connect(
    addr: SocketAddr,
    strong: bool,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let mut con = client.get_multiplexed_async_connection().await?;
    if strong {
        redis::cmd("CLIENT")
            .arg("CONSISTENCY")
            .arg("strong")
            .query_async::<()>(&mut con)
            .await?;
    }
    Ok(con)
}

enum Res {
    Reg(Option<i64>),
    List(Vec<i64>),
    Done,
    CasMismatch,
}

async fn exec(
    con: &mut redis::aio::MultiplexedConnection,
    f: F,
    key: &str,
    value: Option<i64>,
    from: Option<i64>,
) -> redis::RedisResult<Res> {
    Ok(match f {
        F::Read => Res::Reg(redis::cmd("GET").arg(key).query_async(con).await?),
        F::Write => {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .query_async::<()>(con)
                .await?;
            Res::Done
        }
        F::Cas => {
            let r: i64 = redis::cmd("EVAL")
                .arg(CAS_SCRIPT)
                .arg(1)
                .arg(key)
                .arg(from)
                .arg(value)
                .query_async(con)
                .await?;
            if r == 1 {
                Res::Done
            } else {
                Res::CasMismatch
            }
        }
        F::Append => {
            redis::cmd("RPUSH")
                .arg(key)
                .arg(value)
                .query_async::<i64>(con)
                .await?;
            Res::Done
        }
        F::ReadList => Res::List(
            redis::cmd("LRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query_async(con)
                .await?,
        ),
        // Other workloads' ops (sessions, TTL) never run here.
        F::Incr | F::ReadCounter | F::SetTtl | F::ReadTtl => Res::Done,
    })
}

/// Runs one client until `spec.until`; returns its operations.
pub async fn client(shared: Arc<Shared>, spec: ClientSpec) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut ops = Vec::new();
    let mut process = shared.next_process.fetch_add(1, Ordering::Relaxed);
    let mut con: Option<redis::aio::MultiplexedConnection> = None;
    while Instant::now() < spec.until {
        if con.is_none() {
            match tokio::time::timeout(Duration::from_secs(1), connect(spec.addr, shared.strong))
                .await
            {
                Ok(Ok(c)) => con = Some(c),
                _ => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let c = con.as_mut().expect("connected");
        let (f, key, value, from) = match spec.kind {
            Kind::Register => {
                let key = shared.reg_keys.pick(&mut rng);
                let roll = rng.gen_range(0..10);
                if roll < 4 {
                    (F::Read, key, None, None)
                } else if roll < 8 {
                    let v = shared.next_value.fetch_add(1, Ordering::Relaxed) as i64;
                    (F::Write, key, Some(v), None)
                } else {
                    // Expect the value last seen on the key (so CAS often succeeds),
                    // sometimes a recent other one.
                    let seen = shared.last_seen.lock().unwrap().get(&key).copied();
                    let cur = shared.next_value.load(Ordering::Relaxed) as i64;
                    let from = match seen {
                        Some(v) if rng.gen_range(0..4) > 0 => v,
                        _ => (cur - rng.gen_range(1..=8)).max(1),
                    };
                    let v = shared.next_value.fetch_add(1, Ordering::Relaxed) as i64;
                    (F::Cas, key, Some(v), Some(from))
                }
            }
            Kind::List => {
                let key = shared.list_keys.pick(&mut rng);
                if rng.gen_range(0..10) < 6 {
                    let v = shared.next_value.fetch_add(1, Ordering::Relaxed) as i64;
                    (F::Append, key, Some(v), None)
                } else {
                    (F::ReadList, key, None, None)
                }
            }
        };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let invoke_us = shared.now_us();
        let r = tokio::time::timeout(shared.op_timeout, exec(c, f, &key, value, from)).await;
        let complete_us = shared.now_us();
        let is_read = matches!(f, F::Read | F::ReadList);
        let mut op = Op {
            id,
            process,
            node: spec.node,
            f,
            key,
            value,
            from,
            list: None,
            outcome: Outcome::Ok,
            error: None,
            invoke_us,
            complete_us,
            sess: None,
        };
        let mut drop_con = false;
        match r {
            Ok(Ok(Res::Reg(v))) => op.value = v,
            Ok(Ok(Res::List(l))) => op.list = Some(l),
            Ok(Ok(Res::Done)) => {}
            Ok(Ok(Res::CasMismatch)) => {
                op.outcome = Outcome::Fail;
                op.error = Some("cas mismatch".into());
            }
            Ok(Err(e)) => {
                let code = e.code().unwrap_or("");
                op.error = Some(e.to_string());
                drop_con = e.is_io_error() || e.is_connection_dropped() || e.is_timeout();
                op.outcome = if is_read || code == "CLUSTERDOWN" {
                    Outcome::Fail
                } else {
                    Outcome::Info
                };
            }
            Err(_) => {
                op.error = Some("timeout".into());
                op.outcome = if is_read {
                    Outcome::Fail
                } else {
                    Outcome::Info
                };
                drop_con = true;
            }
        }
        if op.outcome == Outcome::Info || drop_con {
            con = None;
        }
        if op.outcome == Outcome::Info {
            process = shared.next_process.fetch_add(1, Ordering::Relaxed);
        }
        if op.outcome == Outcome::Ok && matches!(f, F::Read | F::Write | F::Cas) {
            if let Some(v) = op.value {
                shared.last_seen.lock().unwrap().insert(op.key.clone(), v);
            }
        }
        let failed = op.outcome != Outcome::Ok && op.error.as_deref() != Some("cas mismatch");
        ops.push(op);
        if failed {
            // Do not spin on a node that refuses everything.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    ops
}
