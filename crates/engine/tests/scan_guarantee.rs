//! The SCAN guarantee, for every variant (SCAN, SSCAN, HSCAN, ZSCAN): an element present
//! for the whole iteration is returned, however many others are removed or added
//! between the pages. Each case interleaves scan pages with random deletes and inserts
//! of other elements, then checks that every element that stayed was seen.

use engine::Frame;
use proptest::prelude::*;
use std::collections::BTreeSet;

mod common;
use common::*;

#[derive(Clone, Copy, Debug)]
enum Variant {
    Scan,
    Sscan,
    Hscan,
    Zscan,
}

impl Variant {
    fn add(self, db: &mut Db, name: &str) {
        match self {
            Variant::Scan => db.run(&["SET", name, "v"]),
            Variant::Sscan => db.run(&["SADD", "k", name]),
            Variant::Hscan => db.run(&["HSET", "k", name, "v"]),
            Variant::Zscan => db.run(&["ZADD", "k", "1.5", name]),
        };
    }

    fn remove(self, db: &mut Db, name: &str) {
        match self {
            Variant::Scan => db.run(&["DEL", name]),
            Variant::Sscan => db.run(&["SREM", "k", name]),
            Variant::Hscan => db.run(&["HDEL", "k", name]),
            Variant::Zscan => db.run(&["ZREM", "k", name]),
        };
    }

    /// One page: the next cursor and the elements it returned.
    fn page(self, db: &mut Db, cursor: &str, count: &str) -> (String, Vec<String>) {
        let reply = match self {
            Variant::Scan => db.run(&["SCAN", cursor, "COUNT", count]),
            Variant::Sscan => db.run(&["SSCAN", "k", cursor, "COUNT", count]),
            Variant::Hscan => db.run(&["HSCAN", "k", cursor, "COUNT", count]),
            Variant::Zscan => db.run(&["ZSCAN", "k", cursor, "COUNT", count]),
        };
        let Frame::Array(parts) = reply else {
            panic!("{reply:?}");
        };
        let text = |f: &Frame| match f {
            Frame::Bulk(b) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("{other:?}"),
        };
        let Frame::Array(items) = &parts[1] else {
            panic!("{parts:?}");
        };
        // HSCAN and ZSCAN reply (element, value) pairs.
        let step = match self {
            Variant::Scan | Variant::Sscan => 1,
            Variant::Hscan | Variant::Zscan => 2,
        };
        (
            text(&parts[0]),
            items.iter().step_by(step).map(text).collect(),
        )
    }
}

/// `stable` elements stay for the whole scan; `volatile` ones are there at the start
/// and may go; `ops` run between pages (`ops_per_page` at a time): (0, x) removes
/// volatile element x, (1, x) adds new element x, (2, x) removes new element x.
fn check(
    variant: Variant,
    stable: &BTreeSet<u16>,
    volatile: &BTreeSet<u16>,
    count: u64,
    ops: &[(u8, u16)],
    ops_per_page: usize,
) {
    let mut db = Db::new();
    for x in stable {
        variant.add(&mut db, &format!("w{x}"));
    }
    for x in volatile {
        variant.add(&mut db, &format!("v{x}"));
    }
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut ops = ops.iter();
    let count = count.to_string();
    for _ in 0..100_000 {
        let (next, items) = variant.page(&mut db, &cursor, &count);
        seen.extend(items);
        cursor = next;
        if cursor == "0" {
            break;
        }
        for &(op, x) in ops.by_ref().take(ops_per_page) {
            match op {
                0 => variant.remove(&mut db, &format!("v{x}")),
                1 => variant.add(&mut db, &format!("n{x}")),
                _ => variant.remove(&mut db, &format!("n{x}")),
            }
        }
    }
    assert_eq!(cursor, "0", "{variant:?}: the scan did not end");
    for x in stable {
        assert!(
            seen.contains(&format!("w{x}")),
            "{variant:?}: w{x}, present for the whole scan, was never returned"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_scan_returns_what_stayed(
        stable in prop::collection::btree_set(0u16..500, 1..60),
        volatile in prop::collection::btree_set(0u16..500, 0..200),
        count in 1u64..12,
        ops in prop::collection::vec((0u8..3, 0u16..500), 0..300),
        ops_per_page in 1usize..12,
    ) {
        for v in [Variant::Sscan, Variant::Hscan, Variant::Zscan, Variant::Scan] {
            check(v, &stable, &volatile, count, &ops, ops_per_page);
        }
    }
}

/// The case the issue reports: many elements removed mid-scan, few kept.
#[test]
fn mass_removal_mid_scan() {
    let stable: BTreeSet<u16> = (0..400).step_by(40).collect();
    let volatile: BTreeSet<u16> = (0..400).collect();
    let ops: Vec<(u8, u16)> = (0..400).map(|x| (0, x)).collect();
    for v in [
        Variant::Sscan,
        Variant::Hscan,
        Variant::Zscan,
        Variant::Scan,
    ] {
        for count in [1, 5, 10] {
            check(v, &stable, &volatile, count, &ops, 40);
        }
    }
}
