//! HyperLogLog commands checked byte for byte against Redis 7's representation:
//! encodings built by hand from the format (with an independent MurmurHash64A and
//! register model written here), values observed from a real redis-server 7.0.15
//! (embedded, so the suite needs no server), estimates within the standard error,
//! sparse -> dense promotion, PFMERGE, errors, and a register-model proptest.

use engine::{Frame, Txn};
use proptest::prelude::*;

mod common;
use common::*;

// ---- an independent model of the format ---------------------------------------------------

const REGISTERS: usize = 16384;
const DENSE_LEN: usize = 16 + 12288;

/// MurmurHash64A as published (x86-64, little endian), written from the reference.
fn murmur(key: &[u8]) -> u64 {
    let m: u64 = 0xc6a4a7935bd1e995;
    let r = 47;
    let mut h: u64 = 0xadc83b19u64 ^ (key.len() as u64).wrapping_mul(m);
    let n = key.len() / 8;
    for i in 0..n {
        let mut k = u64::from_le_bytes(key[i * 8..i * 8 + 8].try_into().unwrap());
        k = k.wrapping_mul(m);
        k ^= k >> r;
        k = k.wrapping_mul(m);
        h ^= k;
        h = h.wrapping_mul(m);
    }
    let tail = &key[n * 8..];
    if !tail.is_empty() {
        let mut t = 0u64;
        for (i, b) in tail.iter().enumerate() {
            t |= (*b as u64) << (8 * i);
        }
        h ^= t;
        h = h.wrapping_mul(m);
    }
    h ^= h >> r;
    h = h.wrapping_mul(m);
    h ^= h >> r;
    h
}

/// (register, value) an element sets: low 14 bits pick the register, the value is the
/// position of the first 1 bit in the other 50 (1-based, at most 51).
fn register_of(ele: &[u8]) -> (usize, u8) {
    let h = murmur(ele);
    let idx = (h & 16383) as usize;
    let rest = (h >> 14) | (1 << 50);
    let mut count = 1;
    while rest & (1 << (count - 1)) == 0 {
        count += 1;
    }
    (idx, count as u8)
}

fn add_to_model(model: &mut [u8], ele: &[u8]) -> bool {
    let (i, c) = register_of(ele);
    if c > model[i] {
        model[i] = c;
        true
    } else {
        false
    }
}

/// The registers of an HLL value, decoded from either encoding.
fn decode(v: &[u8]) -> Vec<u8> {
    assert_eq!(&v[..4], b"HYLL");
    let mut regs = vec![0u8; REGISTERS];
    match v[4] {
        0 => {
            assert_eq!(v.len(), DENSE_LEN);
            for (i, r) in regs.iter_mut().enumerate() {
                let bit = i * 6;
                let (byte, shift) = (16 + bit / 8, bit % 8);
                let lo = v[byte] as u16;
                let hi = v.get(byte + 1).copied().unwrap_or(0) as u16;
                *r = (((lo | (hi << 8)) >> shift) & 63) as u8;
            }
        }
        1 => {
            let mut p = 16;
            let mut idx = 0;
            while p < v.len() {
                let b = v[p];
                if b & 0xc0 == 0 {
                    idx += (b & 0x3f) as usize + 1;
                    p += 1;
                } else if b & 0xc0 == 0x40 {
                    idx += ((((b & 0x3f) as usize) << 8) | v[p + 1] as usize) + 1;
                    p += 2;
                } else {
                    let val = ((b >> 2) & 0x1f) + 1;
                    for _ in 0..(b & 3) as usize + 1 {
                        regs[idx] = val;
                        idx += 1;
                    }
                    p += 1;
                }
            }
            assert_eq!(idx, REGISTERS, "sparse runs must cover every register");
        }
        e => panic!("encoding {e}"),
    }
    regs
}

/// The sparse encoding of registers none of which are adjacent: zero runs (XZERO
/// above 64 registers, ZERO otherwise) and one-register VALs. Header with a stale
/// cache, as after PFADD.
fn sparse_by_hand(regs: &[u8]) -> Vec<u8> {
    let mut out = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80".to_vec();
    let mut zeros = 0usize;
    let flush = |out: &mut Vec<u8>, zeros: &mut usize| {
        let mut left = *zeros;
        while left > 0 {
            let n = left.min(16384);
            if n > 64 {
                out.push(0x40 | ((n - 1) >> 8) as u8);
                out.push(((n - 1) & 0xff) as u8);
            } else {
                out.push((n - 1) as u8);
            }
            left -= n;
        }
        *zeros = 0;
    };
    for (i, &r) in regs.iter().enumerate() {
        if r == 0 {
            zeros += 1;
        } else {
            assert!(
                i == 0 || regs[i - 1] == 0,
                "adjacent registers: not this helper's case"
            );
            flush(&mut out, &mut zeros);
            out.push(0x80 | ((r - 1) << 2));
        }
    }
    flush(&mut out, &mut zeros);
    out
}

fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &c in b {
        h ^= c as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---- helpers ------------------------------------------------------------------------------

impl Db {
    fn get(&mut self, key: &str) -> Vec<u8> {
        match self.run(&["GET", key]) {
            Frame::Bulk(b) => b,
            other => panic!("GET {key}: {other:?}"),
        }
    }

    fn pfadd(&mut self, key: &str, elements: &[Vec<u8>]) -> Frame {
        let mut argv = vec![b"PFADD".to_vec(), key.as_bytes().to_vec()];
        argv.extend(elements.iter().cloned());
        self.runb(argv)
    }

    /// PFADD of element:from..element:to in batches of 1000.
    fn pfadd_range(&mut self, key: &str, from: usize, to: usize) {
        let mut s = from;
        while s < to {
            let e = (s + 1000).min(to);
            let els: Vec<Vec<u8>> = (s..e)
                .map(|i| format!("element:{i}").into_bytes())
                .collect();
            assert_eq!(self.pfadd(key, &els), int(1));
            s = e;
        }
    }

    fn count(&mut self, keys: &[&str]) -> i64 {
        let mut argv = vec!["PFCOUNT"];
        argv.extend_from_slice(keys);
        match self.run(&argv) {
            Frame::Integer(n) => n,
            other => panic!("PFCOUNT {keys:?}: {other:?}"),
        }
    }
}

fn els(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

// ---- the representation -------------------------------------------------------------------

#[test]
fn a_new_hll_is_one_xzero_run() {
    let mut db = Db::new();
    assert_eq!(db.run(&["PFADD", "h"]), int(1));
    // "HYLL", sparse, unused, cardinality 0 with the stale bit, XZERO:16384.
    assert_eq!(db.get("h"), hex("48594c4c0100000000000000000000807fff"));
    assert_eq!(db.run(&["PFADD", "h"]), int(0));
    assert_eq!(db.count(&["h"]), 0);
    assert_eq!(db.run(&["TYPE", "h"]), Frame::Simple("string".into()));
}

#[test]
fn murmur_model_matches_redis_registers() {
    // From a real Redis: PFADD h a -> XZERO:12711 VAL:2,1 XZERO:3672.
    assert_eq!(register_of(b"a"), (12711, 2));
}

#[test]
fn one_element_built_by_hand() {
    let mut db = Db::new();
    assert_eq!(db.pfadd("h", &els(&["a"])), int(1));
    let mut model = vec![0u8; REGISTERS];
    add_to_model(&mut model, b"a");
    let got = db.get("h");
    assert_eq!(got, sparse_by_hand(&model));
    // The bytes real Redis 7 produced for the same command.
    assert_eq!(got, hex("48594c4c01000000000000000000008071a6844e57"));
    assert_eq!(db.pfadd("h", &els(&["a"])), int(0));
    assert_eq!(db.count(&["h"]), 1);
}

#[test]
fn several_elements_built_by_hand() {
    let mut db = Db::new();
    db.pfadd("h", &els(&["a"]));
    assert_eq!(db.pfadd("h", &els(&["b", "c", "d", "e", "f", "g"])), int(1));
    let mut model = vec![0u8; REGISTERS];
    for e in ["a", "b", "c", "d", "e", "f", "g"] {
        add_to_model(&mut model, e.as_bytes());
    }
    let got = db.get("h");
    assert_eq!(got, sparse_by_hand(&model));
    assert_eq!(
        got,
        hex("48594c4c010000000000000000000080466d80560c80443c84388050b184498c80426d80425a")
    );
    assert_eq!(db.count(&["h"]), 7);
}

#[test]
fn bytes_match_redis() {
    let mut db = Db::new();
    db.runb(vec![
        b"PFADD".to_vec(),
        b"bin".to_vec(),
        vec![0x00, 0xff, 0x10],
        vec![],
        (1u8..=19).collect(),
    ]);
    assert_eq!(
        db.get("bin"),
        hex("48594c4c01000000000000000000008057318444838442558461f0")
    );
    db.pfadd("s1", &els(&["a", "b", "c"]));
    db.pfadd("s2", &els(&["c", "d", "e"]));
    assert_eq!(db.run(&["PFMERGE", "s1", "s2"]), Frame::ok());
    assert_eq!(
        db.get("s1"),
        hex("48594c4c0100000000000000000000805c7b8044768050b184498c80426d80425a")
    );
    assert_eq!(db.count(&["s1"]), 5);
    assert_eq!(db.count(&["s1", "s2"]), 5);
    // A hand-made empty HLL with a valid cache, as SET by a client.
    db.runb(vec![
        b"SET".to_vec(),
        b"fake".to_vec(),
        hex("48594c4c0100000000000000000000007fff"),
    ]);
    assert_eq!(db.pfadd("fake", &els(&["z"])), int(1));
    assert_eq!(
        db.get("fake"),
        hex("48594c4c0100000000000000000000806184805e79")
    );
}

/// element:0..n as Redis stored it (after a PFCOUNT cached the cardinality).
const REDIS_K3: &str = "48594c4c010000000300000000000000448e8050c8804b27805f7c";
const REDIS_K200: &str = "48594c4c01000000c800000000000000407480408f842b84369c1f8440a48c409088148841b380404590038c40e18435802b80404280406d80405084408488404380406a8040ba802480407a880e84388040598440d9880080407280078822882d84018004884088804053840b80108c40ac80404880404284407088405e88404d8038802a804073808406901d8040b7884080803d80408b8040718040aa801f88168440808040b180288024800580407f801c8440bc8840da800a800a842c80198440de802c8017800b80405388404884108c3f98405b8c405b88406284406c8440a38c28800580404a803880128c368024802c80089007804175802b8040ad84406880088026884088804060801e8440508825802780338841138840d5800f800c800280188428800c80408588405e801d802480404280258403840680406a8440b1801380405b8040a78408803280405280404c8040c6804075844069802888409680419480410880407d8019800180404d8041168802842d88405184048040b984404e80108837902e88404d841b802780108028800e84404a88278805880b800e80406180408f8036801490398440738040f384405a900d800d801f8440858440688440a3801d8023888c40c180348041849419804076801d843e80407c8001881884398024843980406d883a88406c84404a84368014";

#[test]
fn values_from_redis_work_here_and_ours_match_them() {
    for (n, redis_hex) in [(3usize, REDIS_K3), (200, REDIS_K200)] {
        let redis = hex(redis_hex);
        let mut db = Db::new();
        // Ours: the same registers and bytes; only the cache differs (ours is stale,
        // Redis's PFCOUNT had filled it in).
        db.pfadd_range("ours", 0, n);
        let ours = db.get("ours");
        assert_eq!(ours.len(), redis.len());
        assert_eq!(ours[..8], redis[..8]);
        assert_eq!(ours[8..16], [0, 0, 0, 0, 0, 0, 0, 0x80]);
        assert_eq!(ours[16..], redis[16..]);
        assert_eq!(db.count(&["ours"]), n as i64);
        // Redis's value SET here: the cached cardinality is used, PFADD keeps working.
        db.runb(vec![b"SET".to_vec(), b"theirs".to_vec(), redis.clone()]);
        assert_eq!(db.count(&["theirs"]), n as i64);
        assert_eq!(db.pfadd("theirs", &els(&["element:0"])), int(0));
        assert_eq!(db.get("theirs"), redis, "nothing changed, nothing written");
        assert_eq!(db.pfadd("theirs", &els(&["something else"])), int(1));
        assert_eq!(db.get("theirs")[15] & 0x80, 0x80, "cache invalidated");
        assert_eq!(db.count(&["theirs"]), n as i64 + 1);
    }
    // A cached value is trusted as Redis trusts it.
    let mut db = Db::new();
    let mut v = hex(REDIS_K3);
    v[8] = 42;
    db.runb(vec![b"SET".to_vec(), b"k".to_vec(), v]);
    assert_eq!(db.count(&["k"]), 42);
}

// ---- estimates ----------------------------------------------------------------------------

#[test]
fn estimates_within_standard_error_and_equal_to_redis() {
    let mut db = Db::new();
    db.pfadd_range("k10k", 0, 10_000);
    db.pfadd_range("k100k", 0, 100_000);
    let c10 = db.count(&["k10k"]);
    let c100 = db.count(&["k100k"]);
    // Redis 7.0.15 answers exactly these for the same elements.
    assert_eq!(c10, 10017);
    assert_eq!(c100, 100039);
    assert!(((c10 - 10_000) as f64 / 10_000.0).abs() < 0.0081);
    assert!(((c100 - 100_000) as f64 / 100_000.0).abs() < 0.0081);
    assert_eq!(db.count(&["k10k", "k100k"]), 100039);
    assert_eq!(db.count(&["k10k", "k100k", "missing"]), 100039);
    // Dense, and byte-identical to Redis's values (FNV-1a of the whole value).
    let v10 = db.get("k10k");
    let v100 = db.get("k100k");
    assert_eq!((v10.len(), v10[4]), (DENSE_LEN, 0));
    assert_eq!(fnv1a(&v10), 0xf1d8d3e8afaeb877);
    assert_eq!(fnv1a(&v100), 0x8c615f2c02122d45);
    // Small counts are exact or nearly.
    let mut db = Db::new();
    db.pfadd_range("k1k", 0, 1000);
    assert_eq!(db.count(&["k1k"]), 997);
    assert_eq!(db.get("k1k").len(), 1897, "still sparse at 1000 elements");
}

// ---- promotion ----------------------------------------------------------------------------

#[test]
fn sparse_turns_dense_past_3000_bytes() {
    let mut db = Db::new();
    let mut model = vec![0u8; REGISTERS];
    let mut last_sparse_len = 0;
    let mut promoted_at = None;
    for i in 0..5000 {
        let e = format!("p{i}").into_bytes();
        let changed = add_to_model(&mut model, &e);
        assert_eq!(
            db.pfadd("h", std::slice::from_ref(&e)),
            int((changed || i == 0) as i64)
        );
        let v = db.get("h");
        assert_eq!(decode(&v), model, "after {i} elements");
        if v[4] == 1 {
            assert!(v.len() <= 3000, "sparse form of {} bytes", v.len());
            last_sparse_len = v.len();
        } else {
            promoted_at = Some(i);
            break;
        }
    }
    let at = promoted_at.expect("promoted to dense");
    assert!(at > 1000, "promoted after {at} elements");
    // Promotion happens only when the next split would not fit (it grows by at most 3).
    assert!(
        last_sparse_len > 3000 - 3,
        "last sparse length {last_sparse_len}"
    );
    assert_eq!(db.get("h").len(), DENSE_LEN);
}

// ---- PFMERGE ------------------------------------------------------------------------------

#[test]
fn pfmerge_unions_registers() {
    let mut db = Db::new();
    db.pfadd_range("a", 0, 1000);
    db.pfadd_range("b", 500, 1500);
    let union = db.count(&["a", "b"]);
    assert_eq!(db.run(&["PFMERGE", "u", "a", "b", "missing"]), Frame::ok());
    assert_eq!(db.count(&["u"]), union);
    let mut model = decode(&db.get("a"));
    for (m, r) in model.iter_mut().zip(decode(&db.get("b"))) {
        *m = (*m).max(r);
    }
    assert_eq!(decode(&db.get("u")), model);
    assert_eq!(
        db.get("u")[4],
        1,
        "all inputs sparse: the result stays sparse if it fits"
    );
    // Any dense input makes the destination dense.
    db.pfadd_range("d", 0, 20_000);
    assert_eq!(db.run(&["PFMERGE", "u2", "a", "d"]), Frame::ok());
    assert_eq!(db.get("u2")[4], 0);
    assert_eq!(db.count(&["u2"]), db.count(&["a", "d"]));
    // The destination is an input too, keeps its TTL, and may stand alone.
    db.run(&["EXPIRE", "a", "100"]);
    assert_eq!(db.run(&["PFMERGE", "a", "b"]), Frame::ok());
    assert_eq!(db.count(&["a"]), union);
    assert_eq!(db.run(&["TTL", "a"]), int(100));
    assert_eq!(db.run(&["PFMERGE", "alone"]), Frame::ok());
    assert_eq!(db.get("alone"), hex("48594c4c0100000000000000000000807fff"));
}

// ---- errors and flags -----------------------------------------------------------------------

#[test]
fn errors() {
    let mut db = Db::new();
    db.run(&["SET", "notahll", "hello"]);
    db.run(&["LPUSH", "lst", "a"]);
    db.pfadd("ok", &els(&["a"]));
    for argv in [
        vec!["PFADD", "notahll", "a"],
        vec!["PFCOUNT", "notahll"],
        vec!["PFCOUNT", "ok", "notahll"],
        vec!["PFMERGE", "notahll", "ok"],
        vec!["PFMERGE", "ok", "notahll"],
    ] {
        assert_eq!(db.run(&argv), err(NOT_HLL), "{argv:?}");
    }
    for argv in [
        vec!["PFADD", "lst", "a"],
        vec!["PFCOUNT", "lst"],
        vec!["PFCOUNT", "ok", "lst"],
        vec!["PFMERGE", "ok", "lst"],
    ] {
        assert_eq!(db.run(&argv), err(WRONGTYPE), "{argv:?}");
    }
    // Wrong encoding byte, or a dense value of the wrong size.
    db.runb(vec![
        b"SET".to_vec(),
        b"bad2".to_vec(),
        hex("48594c4c0200000000000000000000807fff"),
    ]);
    assert_eq!(db.run(&["PFADD", "bad2", "z"]), err(NOT_HLL));
    db.runb(vec![
        b"SET".to_vec(),
        b"bad3".to_vec(),
        hex("48594c4c0000000000000000000000807fff"),
    ]);
    assert_eq!(db.run(&["PFCOUNT", "bad3"]), err(NOT_HLL));
    // Sparse runs that do not cover every register (XZERO:16129 only).
    db.runb(vec![
        b"SET".to_vec(),
        b"bad".to_vec(),
        hex("48594c4c0100000000000000000000807f00"),
    ]);
    assert_eq!(db.run(&["PFCOUNT", "bad"]), err(CORRUPT));
    assert_eq!(db.run(&["PFCOUNT", "bad", "ok"]), err(CORRUPT));
    assert_eq!(db.run(&["PFMERGE", "x", "bad"]), err(CORRUPT));
    assert_eq!(db.run(&["EXISTS", "x"]), int(0));
    assert_eq!(
        db.run(&["PFADD"]),
        err("ERR wrong number of arguments for 'pfadd' command")
    );
    assert_eq!(
        db.run(&["PFCOUNT"]),
        err("ERR wrong number of arguments for 'pfcount' command")
    );
}

#[test]
fn pfcount_is_a_read_and_never_writes() {
    let mut db = Db::new();
    db.pfadd_range("h", 0, 100);
    let before = db.get("h");
    // 99: Redis's estimate for these 100 elements too.
    assert_eq!(db.count(&["h"]), 99);
    assert!(db.last.is_empty(), "PFCOUNT wrote {:?}", db.last);
    assert_eq!(db.get("h"), before);
    let spec = engine::lookup(b"pfcount").unwrap();
    assert!(!spec.is_write());
    assert!(engine::lookup(b"pfadd").unwrap().is_write());
    assert!(engine::lookup(b"pfmerge").unwrap().is_write());
    // It runs on the read path; PFADD does not.
    let mut t = Txn::read_only(&db.store, T0, 1);
    let argv = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    assert_eq!(t.run(0, &argv(&["PFCOUNT", "h"])), int(99));
    assert!(matches!(
        t.run(0, &argv(&["PFADD", "h", "x"])),
        Frame::Error(_)
    ));
    assert!(t.into_effects().is_empty());
}

#[test]
fn pfadd_keeps_the_ttl() {
    let mut db = Db::new();
    db.pfadd("h", &els(&["a"]));
    db.run(&["EXPIRE", "h", "100"]);
    db.pfadd("h", &els(&["b"]));
    assert_eq!(db.run(&["TTL", "h"]), int(100));
}

// ---- properties ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// After every PFADD the stored registers are the model's, the reply says whether
    /// a register rose, a sparse value never exceeds 3000 bytes, and one-key and
    /// multi-key PFCOUNT agree.
    #[test]
    fn registers_follow_the_model(
        batches in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 1..60),
            1..25,
        )
    ) {
        let mut db = Db::new();
        let mut model = vec![0u8; REGISTERS];
        for (i, batch) in batches.iter().enumerate() {
            let mut changed = i == 0;
            for e in batch {
                changed |= add_to_model(&mut model, e);
            }
            prop_assert_eq!(db.pfadd("h", batch), int(changed as i64));
            let v = db.get("h");
            prop_assert!(v[4] == 0 || v.len() <= 3000);
            prop_assert_eq!(decode(&v), model.clone());
        }
        prop_assert_eq!(db.count(&["h"]), db.count(&["h", "missing"]));
    }

    /// PFMERGE is the register-wise maximum, whatever the order of the inputs.
    #[test]
    fn merge_is_register_max(
        a in proptest::collection::vec(any::<u32>(), 0..400),
        b in proptest::collection::vec(any::<u32>(), 0..400),
    ) {
        let mut db = Db::new();
        let enc = |v: &[u32]| v.iter().map(|x| x.to_string().into_bytes()).collect::<Vec<_>>();
        db.pfadd("a", &enc(&a));
        db.pfadd("b", &enc(&b));
        db.run(&["PFMERGE", "ab", "a", "b"]);
        db.run(&["PFMERGE", "ba", "b", "a"]);
        let mut model = vec![0u8; REGISTERS];
        for x in a.iter().chain(&b) {
            add_to_model(&mut model, x.to_string().as_bytes());
        }
        prop_assert_eq!(decode(&db.get("ab")), model.clone());
        prop_assert_eq!(decode(&db.get("ba")), model);
        prop_assert_eq!(db.count(&["ab"]), db.count(&["a", "b"]));
    }
}
