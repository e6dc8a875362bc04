//! `--max-data-size` and `--eviction`: the quota and the eviction policy are replicated
//! settings (`engine::settings`, changed only through the log so every replica applies
//! every entry under the same values). A node started with the flags proposes them as
//! a CONFIG SET would, before it serves, unless the replicated values already match.
//! Omitted flags leave the replicated values as they are.

use consensus::{now_ms, Node, Op};
use engine::settings::{MAXMEMORY, MAXMEMORY_POLICY};
use engine::Txn;
use std::time::{Duration, Instant};

/// maxmemory-policy value of `optimistic-volatile` (Upstash's policy).
fn optimistic_volatile() -> u64 {
    MAXMEMORY_POLICY
        .parse(b"optimistic-volatile")
        .expect("a policy name")
}

pub async fn apply(node: &Node, max_data_size: Option<u64>, eviction: bool) {
    let mut pairs = Vec::new();
    let current = |s: &engine::settings::Setting| {
        s.get(&Txn::read_only(&**node.storage(), now_ms(), 0))
            .unwrap_or(s.default)
    };
    if let Some(max) = max_data_size {
        if current(&MAXMEMORY) != max {
            pairs.push((MAXMEMORY.name.to_string(), max.to_string().into_bytes()));
        }
    }
    if eviction && current(&MAXMEMORY_POLICY) != optimistic_volatile() {
        pairs.push((
            MAXMEMORY_POLICY.name.to_string(),
            b"optimistic-volatile".to_vec(),
        ));
    }
    if pairs.is_empty() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match node
            .write(vec![Op::SetConfig {
                pairs: pairs.clone(),
            }])
            .await
        {
            Ok(_) => return,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!("proposing --max-data-size/--eviction: {e:?}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                tracing::warn!("could not apply --max-data-size/--eviction: {e:?}");
                return;
            }
        }
    }
}
