//! TTL workload: each client sets a fresh key with a TTL (`SET k 1 PX ttl`), then asks
//! whether it exists (`EXISTS k`, linearizable reads) on random members every
//! `poll` ms until well past its deadline, then moves on to the next key.
//! `checker::ttl` compares what was seen with the expiry bound.

use crate::history::{Op, Outcome, F};
use crate::session::Targets;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct TtlShared {
    pub t0: Instant,
    pub next_id: Arc<AtomicU64>,
    pub next_key: AtomicU64,
    pub op_timeout: Duration,
    pub targets: Targets,
    /// TTLs are drawn from this range (ms).
    pub ttl_ms: (u64, u64),
    /// Polls continue this long past the TTL (ms).
    pub after_ms: u64,
    pub poll: Duration,
}

async fn connect(
    addr: std::net::SocketAddr,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let mut con = client.get_multiplexed_async_connection().await?;
    redis::cmd("CLIENT")
        .arg("CONSISTENCY")
        .arg("strong")
        .query_async::<()>(&mut con)
        .await?;
    Ok(con)
}

/// Runs one TTL client until `until`.
pub async fn client(shared: Arc<TtlShared>, index: u64, seed: u64, until: Instant) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ops = Vec::new();
    let now_us = || shared.t0.elapsed().as_micros() as u64;
    while Instant::now() < until {
        let targets: Vec<(u32, std::net::SocketAddr)> = shared
            .targets
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, v.0))
            .collect();
        if targets.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let key = format!("t{}", shared.next_key.fetch_add(1, Ordering::Relaxed));
        let ttl = rng.gen_range(shared.ttl_ms.0..=shared.ttl_ms.1);
        let (node, addr) = targets[rng.gen_range(0..targets.len())];
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let invoke_us = now_us();
        let r = tokio::time::timeout(shared.op_timeout, async {
            let mut con = connect(addr).await?;
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("PX")
                .arg(ttl)
                .query_async::<()>(&mut con)
                .await
        })
        .await;
        let mut set = Op {
            id,
            process: index,
            node,
            f: F::SetTtl,
            key: key.clone(),
            value: Some(1),
            from: Some(ttl as i64),
            list: None,
            outcome: Outcome::Ok,
            error: None,
            invoke_us,
            complete_us: now_us(),
            sess: None,
        };
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                set.outcome = if e.code() == Some("CLUSTERDOWN") {
                    Outcome::Fail
                } else {
                    Outcome::Info
                };
                set.error = Some(e.to_string());
            }
            Err(_) => {
                set.outcome = Outcome::Info;
                set.error = Some("timeout".into());
            }
        }
        let set_ok = set.outcome == Outcome::Ok;
        let stop = Instant::now() + Duration::from_millis(ttl + shared.after_ms);
        ops.push(set);
        if !set_ok {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        // Poll around the deadline: a connection per node, opened as needed.
        let mut cons: std::collections::BTreeMap<u32, redis::aio::MultiplexedConnection> =
            Default::default();
        while Instant::now() < stop && Instant::now() < until + Duration::from_millis(ttl) {
            let (node, addr) = targets[rng.gen_range(0..targets.len())];
            let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
            let invoke_us = now_us();
            let r = tokio::time::timeout(shared.op_timeout, async {
                if !cons.contains_key(&node) {
                    cons.insert(node, connect(addr).await?);
                }
                let con = cons.get_mut(&node).expect("inserted");
                redis::cmd("EXISTS").arg(&key).query_async::<i64>(con).await
            })
            .await;
            let mut op = Op {
                id,
                process: index,
                node,
                f: F::ReadTtl,
                key: key.clone(),
                value: None,
                from: Some(ttl as i64),
                list: None,
                outcome: Outcome::Ok,
                error: None,
                invoke_us,
                complete_us: now_us(),
                sess: None,
            };
            match r {
                Ok(Ok(v)) => op.value = Some(v),
                Ok(Err(e)) => {
                    op.outcome = Outcome::Fail;
                    op.error = Some(e.to_string());
                    cons.remove(&node);
                }
                Err(_) => {
                    op.outcome = Outcome::Fail;
                    op.error = Some("timeout".into());
                    cons.remove(&node);
                }
            }
            ops.push(op);
            tokio::time::sleep(shared.poll).await;
        }
    }
    ops
}
