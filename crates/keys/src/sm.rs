//! The `sm` column family: the state machine's own records, replicated with the keyspace
//! and carried by snapshots. This module owns every `sm` key (and the values that are
//! plain numbers); nothing else builds or splits one.
//!
//! | key                                          | value                                  | written by        |
//! |----------------------------------------------|----------------------------------------|-------------------|
//! | `applied`                                    | bincode (last applied, membership)     | consensus         |
//! | `keycount/` db u8                            | u64 BE ([`encode_keycount`])           | engine `Txn`      |
//! | `dedupe/` origin u64 BE, seq u64 BE          | bincode (time, replies)                | consensus         |
//! | `dedupe-t/` at_ms u64 BE, origin, seq        | empty (time index of the above)        | consensus         |
//! | `config:` name                               | decimal text ([`encode_setting`])      | engine `settings` |
//! | `acl:user:` name                             | the user's ACL rules as text           | engine `acl`      |
//! | `script:` lower-case hex SHA1                | the script body                        | engine `script`   |
//! | `function:lib:` library name                 | the library's code                     | engine `function` |
//! | `function:fn:` function name                 | the name of the library registering it | engine `function` |
//! | `restore`                                    | id of the backup restore in progress   | consensus         |
//! | `region:member:` member id u64 BE            | the member's region name (UTF-8)       | consensus         |
//! | `region:declared:` region name               | empty (a region added before its nodes)| consensus         |
//! | `digest/` chunk u8                           | 256 slots × (xor, count, last index)   | storage `digest`  |
//! | `digest-delta/` seq u64 BE                   | (slot, xor, count, last index) changed | storage `digest`  |
//! | `digest-state`                               | the digests' format (`2`)              | storage `digest`  |
//! | `digest-dirty`                               | present: digests to recount            | storage `digest`  |
//! | `failover`                                   | the last region promotion (bincode)    | consensus         |
//! | `hlc`                                        | the last applied entry's HLC stamp     | consensus         |
//! | `tomb/` db u8, user key                      | a deleted key's tombstone ([`Tombstone`]) | engine `Txn`   |
//! | `tomb-t/` at_ms u64 BE, db u8, user key      | empty (time index of the above)        | engine `Txn`      |
//!
//! The records named by a prefix and a name are [`Family`]s; each has its key range, so
//! a scan or a flush of one family never touches another.

/// The applied record: last applied log id and membership.
pub const APPLIED: &[u8] = b"applied";
/// Present while a backup is being restored (`Op::Restore`): the restore's id. Every
/// other command is refused with `LOADING` until the restore ends.
pub const RESTORE: &[u8] = b"restore";
/// The HLC stamp ([`crate::hlc::Stamp`], 16 bytes) of the last applied entry that carried
/// commands: the next entry's stamp is computed from it, so the clock survives restarts
/// and snapshot installs and never goes backwards.
pub const HLC: &[u8] = b"hlc";
/// The last promotion of a read region over a lost primary (consensus `failover.rs`):
/// bincode of its epoch, fork index, region and seed.
pub const FAILOVER: &[u8] = b"failover";
/// A reserved name: nothing writes it today (membership travels in [`APPLIED`]).
pub const MEMBERSHIP: &[u8] = b"membership";

/// Records named by a fixed prefix followed by a name (any bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    prefix: &'static [u8],
    /// The prefix with its last byte plus one: the first key after the family.
    end: &'static [u8],
}

impl Family {
    /// The key of `name` in this family.
    pub fn key(&self, name: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + name.len());
        k.extend_from_slice(self.prefix);
        k.extend_from_slice(name);
        k
    }

    /// The name in a key of this family; `None` for a key of another family.
    pub fn name<'a>(&self, raw: &'a [u8]) -> Option<&'a [u8]> {
        raw.strip_prefix(self.prefix)
    }

    /// First key of the family (inclusive).
    pub fn start(&self) -> &'static [u8] {
        self.prefix
    }

    /// First key past the family (exclusive).
    pub fn end(&self) -> &'static [u8] {
        self.end
    }
}

/// Replicated settings: `config:<name>`.
pub const SETTINGS: Family = Family {
    prefix: b"config:",
    end: b"config;",
};
/// ACL users: `acl:user:<name>`.
pub const ACL_USERS: Family = Family {
    prefix: b"acl:user:",
    end: b"acl:user;",
};
/// The script cache: `script:<sha1 hex>`.
pub const SCRIPTS: Family = Family {
    prefix: b"script:",
    end: b"script;",
};
/// Every function record, libraries and functions (FUNCTION FLUSH / RESTORE clear it).
pub const FUNCTIONS_ALL: Family = Family {
    prefix: b"function:",
    end: b"function;",
};
/// Function libraries: `function:lib:<library>`.
pub const FUNCTION_LIBS: Family = Family {
    prefix: b"function:lib:",
    end: b"function:lib;",
};
/// Function index: `function:fn:<function>` → its library's name.
pub const FUNCTION_FNS: Family = Family {
    prefix: b"function:fn:",
    end: b"function:fn;",
};

/// The region of each member: `region:member:<id u64 BE>` → region name. Written through
/// the log when a node first reports its `--region` (or changes it), removed with the
/// member; snapshots carry it, a backup restore keeps the target's.
pub const REGION_MEMBERS: Family = Family {
    prefix: b"region:member:",
    end: b"region:member;",
};
/// Regions added by `meridian cluster add-region` (shown before any node of theirs
/// joins): `region:declared:<name>` → empty.
pub const REGIONS_DECLARED: Family = Family {
    prefix: b"region:declared:",
    end: b"region:declared;",
};

/// Per-slot keyspace digests for anti-entropy (`storage::digest`), as a base of 64
/// chunk records of 256 slots each (`digest/<chunk u8>`, 24 bytes a slot) plus one delta
/// record per written batch since the base (`digest-delta/<seq u64 BE>`: the new digests
/// of the slots that batch changed), folded into the base every so many batches.
pub const DIGESTS: Family = Family {
    prefix: b"digest/",
    end: b"digest0",
};
/// Delta records of the digests (see [`DIGESTS`]).
pub const DIGEST_DELTAS: Family = Family {
    prefix: b"digest-delta/",
    end: b"digest-delta0",
};
/// The digests' format; absent (an older data dir or snapshot): recount them.
pub const DIGEST_STATE: &[u8] = b"digest-state";
pub const DIGEST_VERSION: &[u8] = b"2";
/// Written in the batch of a range delete of `meta` records: recount the digests.
pub const DIGEST_DIRTY: &[u8] = b"digest-dirty";

/// `sm` key of a chunk of slot digests.
pub fn digest_chunk_key(chunk: u8) -> Vec<u8> {
    DIGESTS.key(&[chunk])
}

/// The chunk of a `digest/` key.
pub fn digest_chunk(raw: &[u8]) -> Option<u8> {
    match DIGESTS.name(raw)? {
        [c] => Some(*c),
        _ => None,
    }
}

/// `sm` key of a digest delta record.
pub fn digest_delta_key(seq: u64) -> Vec<u8> {
    DIGEST_DELTAS.key(&seq.to_be_bytes())
}

/// The sequence number of a `digest-delta/` key.
pub fn digest_delta_seq(raw: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(
        DIGEST_DELTAS.name(raw)?.try_into().ok()?,
    ))
}

/// `sm` key of a member's region record.
pub fn region_member_key(id: u64) -> Vec<u8> {
    REGION_MEMBERS.key(&id.to_be_bytes())
}

/// The member id of a `region:member:` key.
pub fn region_member_id(raw: &[u8]) -> Option<u64> {
    let name = REGION_MEMBERS.name(raw)?;
    Some(u64::from_be_bytes(name.try_into().ok()?))
}

/// `sm` key of a replicated setting.
pub fn setting_key(name: &str) -> Vec<u8> {
    SETTINGS.key(name.as_bytes())
}

/// A setting's stored value: decimal text.
pub fn encode_setting(v: u64) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// A setting's value, `None` if the record is not a decimal u64.
pub fn decode_setting(raw: &[u8]) -> Option<u64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

// ---- key counts ------------------------------------------------------------------------

const KEYCOUNT_PREFIX: &[u8] = b"keycount/";
/// Range of every key-count record (`/` + 1 is `0`).
pub const KEYCOUNT_START: &[u8] = KEYCOUNT_PREFIX;
pub const KEYCOUNT_END: &[u8] = b"keycount0";

/// `sm` key of a database's key count.
pub fn keycount_key(db: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(KEYCOUNT_PREFIX.len() + 1);
    k.extend_from_slice(KEYCOUNT_PREFIX);
    k.push(db);
    k
}

/// The database of a key-count key.
pub fn decode_keycount_key(raw: &[u8]) -> Option<u8> {
    match raw.strip_prefix(KEYCOUNT_PREFIX)? {
        [db] => Some(*db),
        _ => None,
    }
}

/// A key count's stored value.
pub fn encode_keycount(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

/// A key count, `None` if the record is not 8 bytes.
pub fn decode_keycount(raw: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(raw.try_into().ok()?))
}

// ---- dedupe ids of forwarded requests --------------------------------------------------

const DEDUPE_PREFIX: &[u8] = b"dedupe/";
const DEDUPE_TIME_PREFIX: &[u8] = b"dedupe-t/";

/// `sm` record of a forwarded request already applied: (origin node, sequence).
pub fn dedupe_key(origin: u64, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(DEDUPE_PREFIX.len() + 16);
    k.extend_from_slice(DEDUPE_PREFIX);
    k.extend_from_slice(&origin.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// (origin, seq) of a dedupe key.
pub fn decode_dedupe_key(raw: &[u8]) -> Option<(u64, u64)> {
    let rest = raw.strip_prefix(DEDUPE_PREFIX)?;
    if rest.len() != 16 {
        return None;
    }
    Some((be_u64(&rest[..8])?, be_u64(&rest[8..])?))
}

/// Time index of dedupe records, so old ones can be pruned in order: the time first.
pub fn dedupe_time_key(at_ms: u64, origin: u64, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(DEDUPE_TIME_PREFIX.len() + 24);
    k.extend_from_slice(DEDUPE_TIME_PREFIX);
    k.extend_from_slice(&at_ms.to_be_bytes());
    k.extend_from_slice(&origin.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// (at_ms, origin, seq) of a dedupe time-index key.
pub fn decode_dedupe_time_key(raw: &[u8]) -> Option<(u64, u64, u64)> {
    let rest = raw.strip_prefix(DEDUPE_TIME_PREFIX)?;
    if rest.len() != 24 {
        return None;
    }
    Some((
        be_u64(&rest[..8])?,
        be_u64(&rest[8..16])?,
        be_u64(&rest[16..])?,
    ))
}

/// First key of the dedupe time index.
pub fn dedupe_time_start() -> &'static [u8] {
    DEDUPE_TIME_PREFIX
}

/// Exclusive end of the time-index keys recorded before `at_ms`.
pub fn dedupe_time_before(at_ms: u64) -> Vec<u8> {
    dedupe_time_key(at_ms, 0, 0)
}

fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FAMILIES: [Family; 6] = [
        SETTINGS,
        ACL_USERS,
        SCRIPTS,
        FUNCTIONS_ALL,
        FUNCTION_LIBS,
        FUNCTION_FNS,
    ];

    /// The bytes on disk today: existing data directories must keep opening.
    #[test]
    fn layouts_are_the_bytes_on_disk() {
        assert_eq!(APPLIED, b"applied");
        assert_eq!(MEMBERSHIP, b"membership");
        assert_eq!(
            setting_key("script-max-memory"),
            b"config:script-max-memory"
        );
        assert_eq!(encode_setting(268435456), b"268435456");
        assert_eq!(ACL_USERS.key(b"alice"), b"acl:user:alice");
        assert_eq!(SCRIPTS.key(b"e0e1f9"), b"script:e0e1f9");
        assert_eq!(FUNCTION_LIBS.key(b"mylib"), b"function:lib:mylib");
        assert_eq!(FUNCTION_FNS.key(b"f"), b"function:fn:f");
        assert_eq!(FUNCTIONS_ALL.start(), b"function:");
        assert_eq!(FUNCTIONS_ALL.end(), b"function;");
        assert_eq!(keycount_key(3), b"keycount/\x03");
        assert_eq!(
            (KEYCOUNT_START, KEYCOUNT_END),
            (&b"keycount/"[..], &b"keycount0"[..])
        );
        assert_eq!(encode_keycount(258), [0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(
            dedupe_key(1, 0x0203),
            b"dedupe/\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02\x03"
        );
        assert_eq!(
            dedupe_time_key(5, 1, 2),
            b"dedupe-t/\x00\x00\x00\x00\x00\x00\x00\x05\
              \x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02"
        );
        assert_eq!(dedupe_time_start(), b"dedupe-t/");
    }

    #[test]
    fn family_ends_follow_their_prefix() {
        for f in FAMILIES {
            let mut end = f.start().to_vec();
            *end.last_mut().unwrap() += 1;
            assert_eq!(f.end(), &end[..]);
        }
        let mut end = KEYCOUNT_START.to_vec();
        *end.last_mut().unwrap() += 1;
        assert_eq!(KEYCOUNT_END, &end[..]);
    }

    #[test]
    fn families_do_not_overlap_except_functions_all() {
        for (i, a) in FAMILIES.iter().enumerate() {
            for b in &FAMILIES[i + 1..] {
                let nested = *a == FUNCTIONS_ALL || *b == FUNCTIONS_ALL;
                let disjoint = a.end() <= b.start() || b.end() <= a.start();
                assert!(nested || disjoint, "{a:?} {b:?}");
            }
        }
        assert!(FUNCTION_LIBS.start() >= FUNCTIONS_ALL.start());
        assert!(FUNCTION_LIBS.end() <= FUNCTIONS_ALL.end());
        assert!(FUNCTION_FNS.start() >= FUNCTIONS_ALL.start());
        assert!(FUNCTION_FNS.end() <= FUNCTIONS_ALL.end());
    }

    proptest! {
        #[test]
        fn family_keys_roundtrip_and_stay_in_range(i in 0usize..6, name in proptest::collection::vec(any::<u8>(), 0..48)) {
            let f = FAMILIES[i];
            let k = f.key(&name);
            prop_assert_eq!(f.name(&k), Some(&name[..]));
            prop_assert!(k.as_slice() >= f.start() && k.as_slice() < f.end());
        }

        #[test]
        fn family_keys_keep_name_order(i in 0usize..6, a in proptest::collection::vec(any::<u8>(), 0..16), b in proptest::collection::vec(any::<u8>(), 0..16)) {
            let f = FAMILIES[i];
            prop_assert_eq!(f.key(&a).cmp(&f.key(&b)), a.cmp(&b));
        }

        #[test]
        fn setting_roundtrip(name in "[a-z-]{0,32}", v in any::<u64>()) {
            let k = setting_key(&name);
            prop_assert_eq!(SETTINGS.name(&k), Some(name.as_bytes()));
            prop_assert_eq!(decode_setting(&encode_setting(v)), Some(v));
        }

        #[test]
        fn keycount_roundtrip(db in any::<u8>(), n in any::<u64>()) {
            let k = keycount_key(db);
            prop_assert_eq!(decode_keycount_key(&k), Some(db));
            prop_assert!(k.as_slice() >= KEYCOUNT_START && k.as_slice() < KEYCOUNT_END);
            prop_assert_eq!(decode_keycount(&encode_keycount(n)), Some(n));
        }

        #[test]
        fn dedupe_roundtrip(origin in any::<u64>(), seq in any::<u64>()) {
            let k = dedupe_key(origin, seq);
            prop_assert_eq!(decode_dedupe_key(&k), Some((origin, seq)));
            // A dedupe record is never inside the time index.
            prop_assert!(!k.starts_with(dedupe_time_start()));
        }

        #[test]
        fn dedupe_time_roundtrip_and_order(t1 in any::<u64>(), t2 in any::<u64>(), o in any::<u64>(), s in any::<u64>()) {
            let k = dedupe_time_key(t1, o, s);
            prop_assert_eq!(decode_dedupe_time_key(&k), Some((t1, o, s)));
            prop_assert!(k.as_slice() >= dedupe_time_start());
            // Recorded before t2 exactly when it sorts before dedupe_time_before(t2).
            prop_assert_eq!(k < dedupe_time_before(t2), t1 < t2);
        }

        #[test]
        fn decoders_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..48)) {
            let _ = decode_keycount_key(&raw);
            let _ = decode_keycount(&raw);
            let _ = decode_dedupe_key(&raw);
            let _ = decode_dedupe_time_key(&raw);
            let _ = decode_setting(&raw);
            for f in FAMILIES {
                let _ = f.name(&raw);
            }
        }
    }
}

// ---- tombstones of deleted keys ----------------------------------------------------------

/// Deleted keys: `tomb/<db u8><user key>` → [`Tombstone`]. A delete leaves one for a grace
/// period so that, when two histories of the database meet (a failed-over primary region
/// rejoining), a delete beats an older write of the same key from the other side.
pub const TOMBSTONES: Family = Family {
    prefix: b"tomb/",
    end: b"tomb0",
};
/// Time index of tombstones, oldest first: `tomb-t/<at_ms u64 BE><db u8><user key>`.
pub const TOMBSTONE_TIMES: Family = Family {
    prefix: b"tomb-t/",
    end: b"tomb-t0",
};

/// A deleted key's tombstone: the delete's HLC stamp, its log index and leader time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    pub stamp: crate::hlc::Stamp,
    pub index: u64,
    pub at_ms: u64,
}

impl Tombstone {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(32);
        v.extend_from_slice(&self.stamp.encode());
        v.extend_from_slice(&self.index.to_be_bytes());
        v.extend_from_slice(&self.at_ms.to_be_bytes());
        v
    }

    pub fn decode(raw: &[u8]) -> Option<Tombstone> {
        if raw.len() != 32 {
            return None;
        }
        Some(Tombstone {
            stamp: crate::hlc::Stamp::decode(&raw[..16])?,
            index: be_u64(&raw[16..24])?,
            at_ms: be_u64(&raw[24..])?,
        })
    }
}

/// `sm` key of `key`'s tombstone in database `db`.
pub fn tombstone_key(db: u8, key: &[u8]) -> Vec<u8> {
    let mut name = Vec::with_capacity(1 + key.len());
    name.push(db);
    name.extend_from_slice(key);
    TOMBSTONES.key(&name)
}

/// (db, user key) of a tombstone key.
pub fn decode_tombstone_key(raw: &[u8]) -> Option<(u8, &[u8])> {
    let (db, key) = TOMBSTONES.name(raw)?.split_first()?;
    Some((*db, key))
}

/// Time-index key of a tombstone written at `at_ms`.
pub fn tombstone_time_key(at_ms: u64, db: u8, key: &[u8]) -> Vec<u8> {
    let mut name = Vec::with_capacity(9 + key.len());
    name.extend_from_slice(&at_ms.to_be_bytes());
    name.push(db);
    name.extend_from_slice(key);
    TOMBSTONE_TIMES.key(&name)
}

/// (at_ms, db, user key) of a tombstone time-index key.
pub fn decode_tombstone_time_key(raw: &[u8]) -> Option<(u64, u8, &[u8])> {
    let name = TOMBSTONE_TIMES.name(raw)?;
    if name.len() < 9 {
        return None;
    }
    Some((be_u64(&name[..8])?, name[8], &name[9..]))
}

/// The first time-index key at or after `at_ms` (prune everything before it).
pub fn tombstone_time_before(at_ms: u64) -> Vec<u8> {
    TOMBSTONE_TIMES.key(&at_ms.to_be_bytes())
}

#[cfg(test)]
mod tombstone_tests {
    use super::*;
    use crate::hlc::Stamp;

    #[test]
    fn tombstone_records_round_trip() {
        let t = Tombstone {
            stamp: Stamp::new(5, 1, 2),
            index: 9,
            at_ms: 5,
        };
        assert_eq!(Tombstone::decode(&t.encode()), Some(t));
        assert_eq!(Tombstone::decode(&t.encode()[1..]), None);
        let k = tombstone_key(3, b"a/b");
        assert_eq!(decode_tombstone_key(&k), Some((3, &b"a/b"[..])));
        assert!(k.as_slice() >= TOMBSTONES.start() && k.as_slice() < TOMBSTONES.end());
        let tk = tombstone_time_key(77, 3, b"a/b");
        assert_eq!(decode_tombstone_time_key(&tk), Some((77, 3, &b"a/b"[..])));
        assert!(tk < tombstone_time_before(78) && tk >= tombstone_time_before(77));
        assert!(tk.as_slice() < TOMBSTONE_TIMES.end());
        // The two families do not overlap.
        assert!(
            TOMBSTONES.end() <= TOMBSTONE_TIMES.start()
                || TOMBSTONE_TIMES.end() <= TOMBSTONES.start()
        );
    }
}
