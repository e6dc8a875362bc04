//! Shared harness for the engine's per-type tests: a MemStore database that applies one
//! log entry per command, plus reply constructors.
#![allow(dead_code)]

use engine::{Effects, Frame, MemStore, Tier, Txn};
use keys::{Cf, Meta};

pub const T0: u64 = 1_700_000_000_000;

pub struct Db {
    pub store: MemStore,
    /// Log index of the last entry applied.
    pub index: u64,
    /// Entry time of the next command.
    pub now: u64,
    pub seed: u64,
    /// Effects of the last command (for record-count checks).
    pub last: Effects,
    /// A memory tier kept in step with the store, when the suite asks for one.
    pub tier: Option<Tier>,
}

impl Db {
    pub fn new() -> Db {
        Db {
            store: MemStore::default(),
            index: 0,
            now: T0,
            seed: 42,
            last: Effects::default(),
            tier: None,
        }
    }

    /// A database with a memory tier that caches collections of any size.
    pub fn tiered() -> Db {
        let mut db = Db::new();
        db.tier = Some(Tier::default().with_min_len(0));
        db
    }

    /// Runs one command as its own log entry in db 0 and applies its effects.
    pub fn runb(&mut self, argv: Vec<Vec<u8>>) -> Frame {
        self.index += 1;
        let mut t = Txn::new(&self.store, self.index, self.now, self.seed);
        if let Some(tier) = &self.tier {
            t = t.with_tier(tier, tier.generation());
        }
        let f = t.run(0, &argv);
        let effects = t.into_effects();
        self.store.apply(&effects);
        if let Some(tier) = &self.tier {
            tier.observe(&effects);
        }
        self.last = effects;
        resp2_pairs(f)
    }

    /// Runs a command on the read path (a read-only transaction), as a node serves reads.
    pub fn read_path(&self, args: &[&str]) -> Frame {
        let argv: Vec<Vec<u8>> = args.iter().map(|s| s.as_bytes().to_vec()).collect();
        let mut t = Txn::read_only(&self.store, self.now, self.seed);
        if let Some(tier) = &self.tier {
            t = t.with_tier(tier, tier.generation());
        }
        resp2_pairs(t.run(0, &argv))
    }

    pub fn run(&mut self, args: &[&str]) -> Frame {
        self.runb(args.iter().map(|s| s.as_bytes().to_vec()).collect())
    }
}

pub fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec())
}

pub fn int(i: i64) -> Frame {
    Frame::Integer(i)
}

pub fn ints(v: &[i64]) -> Frame {
    Frame::Array(v.iter().map(|&i| int(i)).collect())
}

pub fn err(s: &str) -> Frame {
    Frame::Error(s.to_string())
}

pub fn arr(v: &[&str]) -> Frame {
    Frame::Array(v.iter().map(|s| bulk(s)).collect())
}

/// The suites assert RESP2 shapes: member/score pairs arrive flat there.
pub fn resp2_pairs(f: Frame) -> Frame {
    match f {
        Frame::Pairs(p) => Frame::Array(p.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        Frame::KeyedArrays(p) => Frame::Array(
            p.into_iter()
                .map(|(k, v)| Frame::Array(vec![k, resp2_pairs(v)]))
                .collect(),
        ),
        Frame::Array(items) => Frame::Array(items.into_iter().map(resp2_pairs).collect()),
        // Geo coordinates: a RESP3 double with Redis's text, a bulk string in RESP2.
        Frame::DoubleText(t) => Frame::Bulk(t.into_bytes()),
        other => other,
    }
}

/// How many data records the live key `key` (db 0) has under its current version.
pub fn live_records(store: &MemStore, key: &str) -> usize {
    let Some(raw) = store
        .map
        .get(&(Cf::Meta, keys::meta_key(0, key.as_bytes())))
    else {
        return 0;
    };
    let meta = Meta::decode(raw).unwrap();
    let prefix = keys::data_prefix(0, key.as_bytes(), meta.version);
    store
        .map
        .keys()
        .filter(|(cf, k)| *cf == Cf::Data && k.starts_with(&prefix))
        .count()
}

/// A reply in a compact text form: `B:` bulk, `D:` double, `I:` integer, `N` nil, `NA`
/// nil array, `E:` error, `S:` status, `[...]` arrays.
pub fn show(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) => format!("B:{}", String::from_utf8_lossy(b)),
        Frame::Double(d) => format!("D:{}", resp::format_double(*d)),
        Frame::Integer(i) => format!("I:{i}"),
        Frame::Null => "N".into(),
        Frame::NullArray => "NA".into(),
        Frame::Error(e) => format!("E:{e}"),
        Frame::Simple(s) => format!("S:{s}"),
        Frame::Array(v) => format!("[{}]", v.iter().map(show).collect::<Vec<_>>().join(",")),
        other => format!("?{other:?}"),
    }
}

impl Db {
    /// Runs a space-separated command and shows its reply ([`show`]).
    pub fn show(&mut self, cmd: &str) -> String {
        show(&self.run(&cmd.split(' ').collect::<Vec<_>>()))
    }
}
