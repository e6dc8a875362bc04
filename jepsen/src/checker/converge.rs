//! Convergence: after the heal, every node holds the same data. Each node's keyspace is
//! read as key → DUMP payload (SCAN over the whole keyspace on that node, no read index:
//! the node's own applied state) and the maps are compared.

use std::collections::BTreeMap;

pub type Snapshot = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Per node: (node, number of keys, crc32 digest over its keys and values).
    pub digests: Vec<(u32, usize, u32)>,
    /// Keys whose value differs between nodes (or exists on some only), at most 20.
    pub differing: Vec<String>,
    pub converged: bool,
}

pub fn digest(s: &Snapshot) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for (k, v) in s {
        h.update(&(k.len() as u64).to_le_bytes());
        h.update(k);
        h.update(&(v.len() as u64).to_le_bytes());
        h.update(v);
    }
    h.finalize()
}

pub fn compare(nodes: &[(u32, Snapshot)]) -> Report {
    let mut r = Report {
        digests: nodes
            .iter()
            .map(|(n, s)| (*n, s.len(), digest(s)))
            .collect(),
        ..Report::default()
    };
    let mut all: BTreeMap<&[u8], ()> = BTreeMap::new();
    for (_, s) in nodes {
        for k in s.keys() {
            all.insert(k, ());
        }
    }
    for k in all.keys() {
        let first = nodes.first().and_then(|(_, s)| s.get(*k));
        if nodes.iter().any(|(_, s)| s.get(*k) != first) && r.differing.len() < 20 {
            r.differing.push(String::from_utf8_lossy(k).into_owned());
        }
    }
    r.converged = r.differing.is_empty();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_nodes_converge_and_a_divergent_one_is_named() {
        let a: Snapshot = [
            (b"k".to_vec(), b"v".to_vec()),
            (b"l".to_vec(), b"x".to_vec()),
        ]
        .into();
        let mut b = a.clone();
        let r = compare(&[(1, a.clone()), (2, b.clone())]);
        assert!(r.converged);
        assert_eq!(r.digests[0].2, r.digests[1].2);
        b.insert(b"l".to_vec(), b"y".to_vec());
        b.insert(b"extra".to_vec(), b"1".to_vec());
        let r = compare(&[(1, a), (2, b)]);
        assert!(!r.converged);
        assert_eq!(r.differing, vec!["extra".to_string(), "l".to_string()]);
    }
}
