//! Settings every replica must agree on because they change what an entry does when it is
//! applied (today: the limits that stop a runaway script). They live in the replicated
//! state (`sm` records `config:<name>`, see `keys::sm::SETTINGS`) and change only through
//! the log, so every node applies an entry under the same values, and a node that replays
//! an old entry after a restart reads the values that were in force at that point of the
//! log. A node-local setting (like Redis's CONFIG) could not give that guarantee.

use crate::error::CmdError;
use crate::txn::Txn;
use keys::Cf;

/// A replicated setting: its CONFIG name, default and accepted range.
pub struct Setting {
    pub name: &'static str,
    pub default: u64,
    pub min: u64,
    pub max: u64,
    /// Accepts memory units (`256mb`, `1gb`) as Redis's CONFIG does.
    pub memory: bool,
    /// An enumerated setting: the value is the index of its name here.
    pub names: &'static [&'static str],
}

/// Lua instructions one script run may execute (EVAL, EVALSHA, their _RO forms). The
/// count is exact and the same on every replica, so a runaway script stops at the same
/// instruction everywhere. About 1-3 s of tight Lua on current hardware.
pub const SCRIPT_MAX_INSTRUCTIONS: Setting = Setting {
    name: "script-max-instructions",
    default: 1_000_000_000,
    min: 100_000,
    max: 1 << 50,
    memory: false,
    names: &[],
};

/// Bytes a script's Lua VM may hold (`string.rep` of 1 GB, huge tables).
pub const SCRIPT_MAX_MEMORY: Setting = Setting {
    name: "script-max-memory",
    default: 256 << 20,
    min: 1 << 20,
    max: 64 << 30,
    memory: true,
    names: &[],
};

/// The capacity quota (Upstash's max data size): the accounted data size (see
/// `crate::quota`) writes may grow to; 0 = none. `--max-data-size`.
pub const MAXMEMORY: Setting = Setting {
    name: "maxmemory",
    default: 0,
    min: 0,
    max: 1 << 60,
    memory: true,
    names: &[],
};

/// Redis's names in Redis's order (its CONFIG SET error lists them so), then Upstash's.
const POLICY_NAMES: [&str; 9] = [
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
    "optimistic-volatile",
];

/// What happens at the quota: `noeviction` refuses writes that grow the data;
/// the others evict (`--eviction` = Upstash's `optimistic-volatile`).
pub const MAXMEMORY_POLICY: Setting = Setting {
    name: "maxmemory-policy",
    default: 7,
    min: 0,
    max: 8,
    memory: false,
    names: &POLICY_NAMES,
};

/// Daily automated backups (`BACKUP DAILY ON|OFF`): the leader of the moment takes
/// one a day into its backup dir. Replicated so a new leader carries on.
pub const DAILY_BACKUP: Setting = Setting {
    name: "meridian-daily-backup",
    default: 0,
    min: 0,
    max: 1,
    memory: false,
    names: &["no", "yes"],
};

/// How many daily backups are kept (older ones are deleted after a new one is taken).
pub const DAILY_BACKUP_RETENTION: Setting = Setting {
    name: "meridian-daily-backup-retention",
    default: 7,
    min: 1,
    max: 3650,
    memory: false,
    names: &[],
};

/// Seconds a deleted key's tombstone is kept (`keys::sm::TOMBSTONES`): a primary region
/// that failed over and comes back within this time has its writes merged by
/// last-writer-wins against the deletes made meanwhile; after it, an old write of a
/// key deleted on the other side would come back. Longer than any partition you merge.
pub const TOMBSTONE_GRACE: Setting = Setting {
    name: "meridian-tombstone-grace",
    default: 86_400,
    min: 1,
    max: 10 * 365 * 86_400,
    memory: false,
    names: &[],
};

pub const ALL: [&Setting; 7] = [
    &SCRIPT_MAX_INSTRUCTIONS,
    &SCRIPT_MAX_MEMORY,
    &MAXMEMORY,
    &MAXMEMORY_POLICY,
    &DAILY_BACKUP,
    &DAILY_BACKUP_RETENTION,
    &TOMBSTONE_GRACE,
];

/// Whether CONFIG SET `name` goes through the log: the numeric settings in [`ALL`] and
/// the IP allowlist (`crate::allowlist`, a list of CIDR blocks).
pub fn is_replicated(name: &str) -> bool {
    lookup(name).is_some() || name.eq_ignore_ascii_case(crate::allowlist::NAME)
}

pub fn lookup(name: &str) -> Option<&'static Setting> {
    ALL.iter()
        .copied()
        .find(|s| s.name.eq_ignore_ascii_case(name))
}

impl Setting {
    /// The value in force in this transaction's state.
    pub fn get(&self, t: &Txn) -> Result<u64, CmdError> {
        Ok(t.raw_get(Cf::Sm, &keys::sm::setting_key(self.name))?
            .and_then(|raw| keys::sm::decode_setting(&raw))
            .unwrap_or(self.default))
    }

    /// The value as CONFIG GET shows it (a name for enumerated settings).
    pub fn show(&self, v: u64) -> String {
        match self.names.get(v as usize) {
            Some(n) => n.to_string(),
            None => v.to_string(),
        }
    }

    /// Parses a CONFIG SET value: an integer (with memory units where they apply) in range.
    pub fn parse(&self, value: &[u8]) -> Result<u64, CmdError> {
        if !self.names.is_empty() {
            let text = String::from_utf8_lossy(value).to_ascii_lowercase();
            return match self.names.iter().position(|n| *n == text) {
                Some(i) => Ok(i as u64),
                None => Err(CmdError::new(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{}') - argument(s) must be one of the following: {}",
                    self.name,
                    self.names.join(", ")
                ))),
            };
        }
        let bad = || {
            CmdError::new(format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - argument must be an integer between {} and {}",
                self.name, self.min, self.max
            ))
        };
        let text = std::str::from_utf8(value).map_err(|_| bad())?.trim();
        let lower = text.to_ascii_lowercase();
        let (digits, unit): (&str, u64) = if !self.memory {
            (&lower, 1)
        } else if let Some(d) = lower.strip_suffix("gb") {
            (d, 1 << 30)
        } else if let Some(d) = lower.strip_suffix("mb") {
            (d, 1 << 20)
        } else if let Some(d) = lower.strip_suffix("kb") {
            (d, 1 << 10)
        } else if let Some(d) = lower.strip_suffix('g') {
            (d, 1_000_000_000)
        } else if let Some(d) = lower.strip_suffix('m') {
            (d, 1_000_000)
        } else if let Some(d) = lower.strip_suffix('k') {
            (d, 1_000)
        } else {
            (&lower, 1)
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let v = n.checked_mul(unit).ok_or_else(bad)?;
        if v < self.min || v > self.max {
            return Err(bad());
        }
        Ok(v)
    }

    /// Writes the setting inside an applied entry.
    pub fn set(&self, t: &mut Txn, value: &[u8]) -> Result<(), CmdError> {
        let v = self.parse(value)?;
        t.raw_put(
            Cf::Sm,
            keys::sm::setting_key(self.name),
            keys::sm::encode_setting(v),
        );
        Ok(())
    }
}

/// Applies a replicated CONFIG SET (name value pairs), all or nothing.
pub fn apply_config_set(t: &mut Txn, pairs: &[(String, Vec<u8>)]) -> Result<(), CmdError> {
    let mut parsed = Vec::with_capacity(pairs.len().min(ALL.len()));
    let mut allowlist = None;
    for (name, value) in pairs {
        if name.eq_ignore_ascii_case(crate::allowlist::NAME) {
            allowlist = Some(crate::allowlist::normalize(&crate::allowlist::parse(
                value,
            )?));
            continue;
        }
        let s = lookup(name).ok_or_else(|| {
            CmdError::new(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ))
        })?;
        parsed.push((s, s.parse(value)?));
    }
    t.forget_limits();
    if let Some(list) = allowlist {
        t.raw_put(
            Cf::Sm,
            keys::sm::setting_key(crate::allowlist::NAME),
            list.into_bytes(),
        );
    }
    for (s, v) in parsed {
        t.raw_put(
            Cf::Sm,
            keys::sm::setting_key(s.name),
            keys::sm::encode_setting(v),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    #[test]
    fn values_parse_with_units_and_ranges_and_default_when_unset() {
        assert_eq!(SCRIPT_MAX_MEMORY.parse(b"256mb").unwrap(), 256 << 20);
        assert_eq!(SCRIPT_MAX_MEMORY.parse(b"1GB").unwrap(), 1 << 30);
        assert_eq!(
            SCRIPT_MAX_INSTRUCTIONS.parse(b"5000000").unwrap(),
            5_000_000
        );
        assert!(SCRIPT_MAX_INSTRUCTIONS.parse(b"5mb").is_err());
        assert!(SCRIPT_MAX_INSTRUCTIONS.parse(b"10").is_err());
        assert!(SCRIPT_MAX_INSTRUCTIONS.parse(b"-1").is_err());
        assert!(SCRIPT_MAX_MEMORY.parse(b"99999999999gb").is_err());

        let mut store = MemStore::default();
        let t = Txn::new(&store, 1, 0, 0);
        assert_eq!(SCRIPT_MAX_INSTRUCTIONS.get(&t).unwrap(), 1_000_000_000);
        let mut t = Txn::new(&store, 1, 0, 0);
        apply_config_set(
            &mut t,
            &[("script-max-instructions".into(), b"200000".to_vec())],
        )
        .unwrap();
        let effects = t.into_effects();
        store.apply(&effects);
        let t = Txn::new(&store, 2, 0, 0);
        assert_eq!(SCRIPT_MAX_INSTRUCTIONS.get(&t).unwrap(), 200_000);
        let mut t = Txn::new(&store, 3, 0, 0);
        let err = apply_config_set(
            &mut t,
            &[
                ("script-max-instructions".into(), b"300000".to_vec()),
                ("script-max-memory".into(), b"nope".to_vec()),
            ],
        )
        .unwrap_err();
        assert!(err.0.contains("script-max-memory"), "{}", err.0);
        assert!(t.into_effects().writes.is_empty(), "all or nothing");
    }
}
