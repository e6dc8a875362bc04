//! The request path under a fuzzer: bytes → RESP request → command-table classification
//! (as `server::dispatch::classify` does) → execution in a read-only [`Txn`] and a write
//! [`Txn`] over a [`MemStore`], whose effects are applied so later commands in the same
//! input see them → the reply encoded as RESP2 and RESP3.
//!
//! One entry point per fuzz target:
//! - [`run_request_bytes`]: arbitrary bytes through `resp::parse_request`.
//! - [`run_command_seq`]: bytes decoded into a short sequence of commands whose names come
//!   from the real command table and whose arguments come from small dictionaries of keys,
//!   extreme numbers, option words, patterns, JSON and stream ids (see [`Decoder`]), so
//!   the fuzzer gets past argument parsing into the commands themselves.
//! - [`json::run_json_path`], [`json::run_json_doc`]: the JSONPath parser and evaluator,
//!   and the stored JSON document decoder, directly and then through the JSON.* commands.
//! - [`lua::run_lua_decoders`]: cjson.decode, cmsgpack.unpack, struct.unpack and the bit
//!   library, through a fixed script that checks their round trips.
//!
//! What it treats as a bug: any panic (including `debug_assert!` and integer overflow,
//! which cargo-fuzz builds turn on), an input running longer than libFuzzer's `-timeout`,
//! a single allocation over `-malloc_limit_mb`, and the invariants checked in
//! [`Harness::exec`] (a read-only run writes nothing; every meta record decodes; an ACL
//! user's stored description reloads to the same description).

pub mod json;
pub mod lua;

use engine::acl::{self, User};
use engine::{flags, CmdError, Exec, Frame, MemStore, Tier, Txn};
use keys::{Cf, Meta};

/// Entry time of the first command (any fixed instant; inputs may move the clock on).
pub const T0: u64 = 1_700_000_000_000;

/// At most this many commands run per input, so one input stays far below the
/// per-input time limit however the fuzzer grows it.
pub const MAX_COMMANDS: usize = 24;

/// Commands that are not run at all, each with its reason.
///
/// Scripts (EVAL, EVALSHA, their _RO forms, FCALL, FUNCTION) run under the replicated
/// instruction and VM-memory budgets (`engine::settings`), which every [`Harness`] sets
/// to small values ([`SCRIPT_INSTRUCTIONS`], [`SCRIPT_MEMORY`]) so a runaway script ends
/// in about a millisecond. `MERIDIAN_FUZZ_SCRIPTS=0` leaves scripts out (then this list
/// is skipped).
const SCRIPT_COMMANDS: &[&str] = &[
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
    "fcall",
    "fcall_ro",
    "function",
];

/// Commands that grow a string to the offset they are given (SETBIT up to 2^32-1 bits
/// = 512 MB, SETRANGE up to 512 MB, BITFIELD SET/INCRBY likewise), as Redis does. Their
/// offsets are kept at or below [`MAX_OFFSET`]: past it the command is skipped, not run.
/// The limit is small on purpose: LCS is O(len_a * len_b) in time (Redis's too), so even
/// a few megabytes of string would make `SETRANGE a 4000000 x; LCS a a` a legitimate
/// multi-minute request, and the fuzzer would report it as a hang.
const OFFSET_COMMANDS: &[&str] = &["setbit", "setrange", "bitfield"];

/// Largest offset (bits for SETBIT/BITFIELD, bytes for SETRANGE) the fuzzer lets through.
pub const MAX_OFFSET: i64 = 4096;

/// Read commands whose reply depends on the entry's random seed (the read path's seed
/// differs from a log entry's).
const RANDOM_COMMANDS: &[&str] = &["srandmember", "hrandfield", "zrandmember", "randomkey"];

/// `script-max-instructions` for the fuzzer: the smallest the setting allows (the
/// default, 10^9, is seconds of Lua per script, times 24 commands per input).
pub const SCRIPT_INSTRUCTIONS: &str = "100000";

/// `script-max-memory` for the fuzzer: 64 MB of Lua heap, well inside -rss_limit_mb.
pub const SCRIPT_MEMORY: &str = "67108864";

fn scripts_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("MERIDIAN_FUZZ_SCRIPTS").map_or(true, |v| v != "0"))
}

/// `MERIDIAN_FUZZ_TRACE=1` prints every command and its reply (run the target binary on
/// one input to see what it does).
fn trace() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("MERIDIAN_FUZZ_TRACE").is_ok_and(|v| v == "1"))
}

/// Why the fuzzer will not run `argv` (a documented exclusion), if it will not.
pub fn excluded(name: &str, argv: &[Vec<u8>]) -> Option<&'static str> {
    if SCRIPT_COMMANDS.contains(&name) && !scripts_enabled() {
        return Some("script commands are off (MERIDIAN_FUZZ_SCRIPTS=0)");
    }
    if OFFSET_COMMANDS.contains(&name) {
        let big = argv[1..].iter().any(|a| {
            let a = a.strip_prefix(b"#").unwrap_or(a);
            engine::args::parse_i64_opt(a).is_some_and(|v| v > MAX_OFFSET)
        });
        if big {
            return Some("offset above MAX_OFFSET");
        }
    }
    None
}

/// One node's worth of state for one fuzz input.
pub struct Harness {
    pub store: MemStore,
    pub tier: Option<Tier>,
    /// Log index of the last applied write.
    pub index: u64,
    pub now: u64,
    /// The connection's database (SELECT).
    pub db: u8,
    pub seed: u64,
    /// The connection's ACL user; `None` is the default user (everything allowed, no
    /// check made, as the server does).
    pub user: Option<User>,
    /// Whether ACL SETUSER replaces `user` (the structured target turns it on so the
    /// fuzzer can explore ACL checks with users it made).
    pub adopt_users: bool,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new(false, None)
    }
}

impl Harness {
    pub fn new(tier: bool, user: Option<User>) -> Harness {
        // The script budgets, as CONFIG SET proposes them: a replicated setting.
        let mut store = MemStore::default();
        let mut t = Txn::new(&store, 1, T0, 42);
        let budgets = [
            ("script-max-instructions", SCRIPT_INSTRUCTIONS),
            ("script-max-memory", SCRIPT_MEMORY),
        ];
        let pairs: Vec<(String, Vec<u8>)> = budgets
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        engine::settings::apply_config_set(&mut t, &pairs).expect("valid script budgets");
        let effects = t.into_effects();
        store.apply(&effects);
        Harness {
            store,
            tier: tier.then(|| Tier::default().with_min_len(0)),
            index: 1,
            db: 0,
            now: T0,
            seed: 42,
            user,
            adopt_users: false,
        }
    }

    /// A restricted user, so the ACL key/channel/command checks do real work.
    pub fn restricted_user() -> User {
        let mut u = User::new(b"fuzz");
        let rules: Vec<Vec<u8>> = [
            "on",
            "nopass",
            "~k*",
            "%R~r*",
            "%W~w*",
            "&ch*",
            "+@all",
            "-@dangerous",
            "+config|get",
            "(~x* +get +set +@list)",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        u.apply(&rules).expect("the fuzz user's rules are valid");
        u
    }

    /// Classifies and runs one request as a node would; returns the write path's reply
    /// (or the classification error).
    pub fn exec(&mut self, argv: &[Vec<u8>]) -> Frame {
        let reply = self.exec_inner(argv);
        if trace() {
            let args: Vec<String> = argv
                .iter()
                .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
                .collect();
            eprintln!("> {}\n< {:.200}", args.join(" "), format!("{reply:?}"));
        }
        // Every reply must encode in both protocols.
        let _ = resp::encode_to_vec(&reply, false);
        let _ = resp::encode_to_vec(&reply, true);
        reply
    }

    fn exec_inner(&mut self, argv: &[Vec<u8>]) -> Frame {
        if argv.is_empty() {
            // The server skips an empty request.
            return Frame::Null;
        }
        // -- classify, as server::dispatch::classify does -------------------------------
        let Some(spec) = engine::lookup(&argv[0]) else {
            return CmdError::unknown_command(&argv[0], &argv[1..]).to_frame();
        };
        if let Err(e) = engine::check_arity(spec, argv) {
            return e.to_frame();
        }
        if let Err(e) = engine::check_key_sizes(spec, argv) {
            return e.to_frame();
        }
        // What COMMAND INFO / ACL CAT / the ACL checks derive from the table.
        let _ = spec.acl_categories();
        let _ = spec.flag_names();
        let _ = spec.key_positions(argv);
        if let Some(u) = &self.user {
            if let Err(d) = u.check(spec, argv) {
                let _ = acl::denied_message(&u.name, spec, argv, d, true);
                return Frame::Error(acl::denied_message(&u.name, spec, argv, d, false));
            }
        }
        if let Some(_why) = excluded(spec.name, argv) {
            return Frame::Error("FUZZ excluded".into());
        }
        if spec.name == "acl" {
            self.acl(argv);
        }
        if spec.name == "select" {
            // The session's SELECT, as the server answers it.
            match engine::args::parse_i64_opt(&argv[1]) {
                Some(n) if (0..keys::DATABASES as i64).contains(&n) => self.db = n as u8,
                _ => return Frame::Error("ERR DB index is out of range".into()),
            }
            return Frame::ok();
        }
        let blocking = spec.flags & flags::BLOCKING != 0 && matches!(spec.exec, Exec::Engine(_));
        if blocking {
            let _ = spec.block_timeout(argv);
        }

        // -- the read path: every command, in a read-only transaction --------------------
        let read_reply = {
            let mut t = Txn::read_only(&self.store, self.now, self.seed);
            if let Some(tier) = &self.tier {
                t = t.with_tier(tier, tier.generation());
            }
            if blocking {
                let _ = engine::resolve_block_ids(&t, argv);
            }
            let reply = t.run(self.db, argv);
            let effects = t.into_effects();
            assert!(
                effects.is_empty() || spec.flags & flags::WRITE != 0,
                "read-only run of {} wrote {:?}",
                spec.name,
                effects
            );
            resp::encode_to_vec(&reply, true)
        };

        // -- the write path: one log entry, applied -------------------------------------
        self.index += 1;
        if SCRIPT_COMMANDS.contains(&spec.name) {
            // The leader's trial run of a script before proposing it; thrown away.
            let mut t = Txn::trial(&self.store, self.index, self.now, self.seed);
            let _ = t.run(self.db, argv);
        }
        let run = |h: &Harness| {
            let mut t = Txn::new(&h.store, h.index, h.now, h.seed);
            if let Some(tier) = &h.tier {
                t = t.with_tier(tier, tier.generation());
            }
            let reply = t.run(h.db, argv);
            (reply, t.into_effects())
        };
        let (reply, effects) = run(self);
        let encoded = resp::encode_to_vec(&reply, true);
        // Every replica applies the entry to the same state: same reply, same effects.
        let (again, effects2) = run(self);
        assert_eq!(
            encoded,
            resp::encode_to_vec(&again, true),
            "{} replies differently when applied twice",
            spec.name
        );
        assert_eq!(
            effects, effects2,
            "{} writes differently when applied twice",
            spec.name
        );
        // A read answers from the same state as the apply path (the read path draws other
        // random numbers, so commands that sample are left out).
        if spec.flags & flags::READONLY != 0 && !RANDOM_COMMANDS.contains(&spec.name) {
            assert_eq!(
                String::from_utf8_lossy(&read_reply),
                String::from_utf8_lossy(&encoded),
                "{} answers differently on the read path",
                spec.name
            );
        }
        self.store.apply(&effects);
        if let Some(tier) = &self.tier {
            tier.observe(&effects);
        }
        if !effects.is_empty() {
            self.check_store();
        }
        reply
    }

    /// ACL SETUSER as the session layer prepares it, then the stored description must
    /// load back (a node reloads users from it) and describe the same user.
    fn acl(&mut self, argv: &[Vec<u8>]) {
        if argv.len() < 3 || !engine::args::is(&argv[1], "setuser") {
            return;
        }
        if acl::check_name(&argv[2]).is_err() {
            return;
        }
        let Ok(rules) = acl::prepare_setuser(&argv[3..]) else {
            return;
        };
        let mut u = User::new(&argv[2]);
        if u.apply(&rules).is_err() {
            return;
        }
        let desc = u.describe();
        let _ = u.list_line();
        let _ = resp::encode_to_vec(&u.getuser_reply(), true);
        let back = User::decode(&argv[2], &desc).unwrap_or_else(|e| {
            panic!(
                "stored ACL record {:?} does not load: {}",
                String::from_utf8_lossy(&desc),
                e.0
            )
        });
        assert_eq!(
            String::from_utf8_lossy(&back.describe()),
            String::from_utf8_lossy(&desc),
            "ACL record changes when reloaded"
        );
        if self.adopt_users {
            self.user = Some(u);
        }
    }

    /// Every meta record names a key and decodes.
    fn check_store(&self) {
        let mut per_db = [0u64; keys::DATABASES];
        for ((cf, k), v) in &self.store.map {
            if *cf != Cf::Meta {
                continue;
            }
            let Some((db, _, _)) = keys::decode_meta_key(k) else {
                panic!("bad meta key {k:?}");
            };
            per_db[db as usize] += 1;
            if let Err(e) = Meta::decode(v) {
                panic!("meta record of {k:?} does not decode: {e:?}");
            }
        }
        // DBSIZE's count, kept per db in the state machine, is the number of keys.
        let t = Txn::read_only(&self.store, self.now, self.seed);
        for (db, &n) in per_db.iter().enumerate() {
            let counted = t.key_count(db as u8).expect("MemStore reads never fail");
            assert_eq!(counted, n, "db {db} counts {counted} keys but holds {n}");
        }
    }
}

trait ToFrame {
    fn to_frame(self) -> Frame;
}

impl ToFrame for CmdError {
    fn to_frame(self) -> Frame {
        Frame::Error(self.0)
    }
}

// ---------------------------------------------------------------------------------------
// Target 1: raw bytes through the RESP parser
// ---------------------------------------------------------------------------------------

/// Parses requests from `data` as a connection would (from the start of the unconsumed
/// bytes, until incomplete or an error) and runs each one.
pub fn run_request_bytes(data: &[u8]) {
    // The first byte picks the harness options, as in the structured target.
    let (opts, data) = match data.split_first() {
        Some((&o, rest)) => (o, rest),
        None => return,
    };
    let user = (opts & 2 != 0).then(Harness::restricted_user);
    let mut h = Harness::new(opts & 1 != 0, user);
    let limits = resp::ParseLimits {
        max_request_bytes: 64 * 1024,
        max_args: 4096,
    };
    let mut rest = data;
    for _ in 0..MAX_COMMANDS {
        let whole = resp::parse_request(rest, &limits);
        // The parser promises the same answer however the bytes were split: a request
        // that parses from `rest` is incomplete in any strict prefix of its bytes.
        if let Ok(Some((_, used))) = &whole {
            let cut = (opts as usize >> 2) % *used;
            assert_eq!(
                resp::parse_request(&rest[..cut], &limits),
                Ok(None),
                "a {cut}-byte prefix of a {used}-byte request is not incomplete"
            );
        }
        match whole {
            Ok(Some((argv, used))) => {
                assert!(used > 0 && used <= rest.len(), "parser used {used} bytes");
                rest = &rest[used..];
                h.exec(&argv);
            }
            Ok(None) | Err(_) => return,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Target 2: structured command sequences
// ---------------------------------------------------------------------------------------

/// Keys: a few of each kind, so commands meet each other's values (and WRONGTYPE), plus
/// cluster hash tags, an empty key and keys the restricted ACL user may or may not touch.
pub const KEYS: &[&str] = &[
    "k", "k1", "k2", "{k}a", "{k}b", "s", "l", "h", "z", "x", "j", "g", "r1", "w1", "", "x1",
];

/// Integers at and around every boundary commands check.
pub const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "5",
    "7",
    "8",
    "10",
    "15",
    "16",
    "255",
    "256",
    "-2",
    "100",
    "1000",
    "4096",
    "65535",
    "65536",
    "-65536",
    "2147483647",
    "2147483648",
    "-2147483648",
    "4294967295",
    "4294967296",
    "-4294967296",
    "16777216",
    "-16777217",
    "536870911",
    "536870912",
    "-536870912",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775806",
    "-9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "4611686018427387904",
    "-4611686018427387904",
    "1700000000",
    "1700000000000",
    "253402300799",
    "+1",
    "01",
    "1 ",
    "0x10",
    "1e3",
    "99999999999999999999999",
];

/// Floats, special values and coordinates.
pub const FLOATS: &[&str] = &[
    "inf",
    "-inf",
    "+inf",
    "nan",
    "-nan",
    "NaN",
    "infinity",
    "0.5",
    "-0",
    "-0.0",
    "1e308",
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "4.9e-324",
    "1e-320",
    "1e400",
    "3.0e0",
    "13.361389",
    "38.115556",
    "-180",
    "180",
    "180.0000001",
    "85.05112878",
    "-85.05112879",
    "90",
    "0.1",
    "1.5",
    ".5",
    "5.",
    "1e",
];

/// Option words of the commands (and a few bare symbols commands give meaning to).
pub const WORDS: &[&str] = &[
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "PERSIST",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "GET",
    "WITHSCORES",
    "WITHSCORE",
    "LIMIT",
    "BY",
    "STORE",
    "MATCH",
    "COUNT",
    "TYPE",
    "BYSCORE",
    "BYLEX",
    "REV",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "STREAMS",
    "GROUP",
    "MKSTREAM",
    "ID",
    "JUSTID",
    "IDLE",
    "TIME",
    "RETRYCOUNT",
    "FORCE",
    "MAXLEN",
    "MINID",
    "NOMKSTREAM",
    "ENTRIESREAD",
    "CREATE",
    "SETID",
    "DESTROY",
    "CREATECONSUMER",
    "DELCONSUMER",
    "CONSUMERS",
    "STREAM",
    "FULL",
    "BLOCK",
    "NOACK",
    "ASC",
    "DESC",
    "ALPHA",
    "WEIGHTS",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "REPLACE",
    "DB",
    "FROMMEMBER",
    "FROMLONLAT",
    "BYRADIUS",
    "BYBOX",
    "M",
    "KM",
    "FT",
    "MI",
    "WITHCOORD",
    "WITHDIST",
    "WITHHASH",
    "ANY",
    "STOREDIST",
    "RANK",
    "MAXLEN",
    "LEN",
    "IDX",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "SET",
    "INCRBY",
    "OVERFLOW",
    "WRAP",
    "SAT",
    "FAIL",
    "u8",
    "i8",
    "u63",
    "i64",
    "u64",
    "i65",
    "BIT",
    "BYTE",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "DIFF",
    "DIFF1",
    "ANDOR",
    "ONE",
    "ENCODING",
    "FREQ",
    "REFCOUNT",
    "IDLETIME",
    "HELP",
    "FIELDS",
    "FNX",
    "FXX",
    "WITHVALUES",
    "NOVALUES",
    "LOAD",
    "EXISTS",
    "FLUSH",
    "KILL",
    "SETUSER",
    "GETUSER",
    "DELUSER",
    "LIST",
    "CAT",
    "DRYRUN",
    "WHOAMI",
    "LOG",
    "INFO",
    "DOCS",
    "GETKEYS",
    "GETKEYSANDFLAGS",
    "RESETSTAT",
    "NUMSUB",
    "NUMPAT",
    "CHANNELS",
    "SHARDCHANNELS",
    "NUMSHARDSUB",
    "INDENT",
    "NEWLINE",
    "SPACE",
    "MEMORY",
    "ASYNC",
    "SYNC",
    "~",
    "=",
    "*",
    "$",
    ">",
    "+",
    "-",
    "#",
    "(",
    "[",
    "!",
    "on",
    "off",
    "nopass",
    "resetpass",
    "reset",
    "allkeys",
    "allchannels",
    "allcommands",
    "nocommands",
    "resetkeys",
    "resetchannels",
    "+@all",
    "-@all",
    "+@read",
    "-@write",
    "+get",
    "-get",
    "+config|get",
    "~*",
    "%R~*",
    "%W~k*",
    "&*",
    "&ch*",
    ">secret",
    "<secret",
    "#0000",
    "(~x* +get)",
    "(",
    ")",
    "clearselectors",
    "skip-sanitize-payload",
];

/// Glob patterns, including the pathological ones.
pub const PATTERNS: &[&str] = &[
    "*",
    "k*",
    "?",
    "[a-z]*",
    "[^a]",
    "[!a]",
    "[",
    "[a-",
    "[]",
    "\\",
    "\\*",
    "a\\",
    "*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?b",
    "********************************************************************a",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "[a-\\]",
    "[z-a]",
    "*\\",
    "h?llo",
    "ch*",
    "__keyspace@0__:*",
];

/// JSON documents and fragments.
pub const JSONS: &[&str] = &[
    "{}",
    "[]",
    "{\"a\":1,\"b\":[1,2,3],\"c\":{\"d\":\"x\",\"e\":null}}",
    "[1,\"a\",[2,[3,[4]]],{\"a\":{\"a\":{\"a\":1}}}]",
    "\"str\"",
    "null",
    "true",
    "0",
    "-0",
    "1e308",
    "1.7976931348623157e308",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1e400",
    "3.5",
    "{\"a\":",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":[]}}}}}}}}",
    "\"\\ud800\"",
    "[1,2,3,4,5,6,7,8,9,10]",
];

/// JSONPath and legacy paths.
pub const PATHS: &[&str] = &[
    "$",
    ".",
    "$.a",
    "$.b",
    "$.c.d",
    "$..a",
    "$..*",
    "$[*]",
    "$.b[*]",
    "$.b[0]",
    "$.b[-1]",
    "$.b[9223372036854775807]",
    "$.b[-9223372036854775808]",
    "$.b[0:2]",
    "$.b[::-1]",
    "$.b[0:9223372036854775807:4294967296]",
    "$[?(@.a==1)]",
    "$..[?(@>1)]",
    "$.b[0,1,0]",
    ".a",
    "a",
    "a.b",
    "$['a']",
    "$[\"a\"]",
    "$.",
    "$[",
    "$..",
    "$..b..c",
];

/// Stream ids.
pub const IDS: &[&str] = &[
    "0",
    "0-0",
    "0-1",
    "1-0",
    "1-*",
    "*",
    "$",
    ">",
    "+",
    "-",
    "(0-1",
    "(18446744073709551615-18446744073709551615",
    "18446744073709551615-18446744073709551615",
    "18446744073709551615-*",
    "18446744073709551615",
    "1700000000000-0",
    "1700000000000-*",
    "-1",
    "1-",
    "-1-1",
];

/// Lua scripts (only EVAL & co. give them meaning, and those run only with
/// `MERIDIAN_FUZZ_SCRIPTS=1`): ordinary ones, and ones that loop, recurse or allocate
/// for ever, which the script budgets must stop.
pub const LUA: &[&str] = &[
    "return 1",
    "return redis.call('set', KEYS[1], ARGV[1])",
    "return redis.call('get', KEYS[1])",
    "return redis.pcall('lpush', KEYS[1], 'a')",
    "redis.call('incr', KEYS[1]) return redis.call('hgetall', KEYS[1])",
    "return {1, 2, {3, 'x'}, redis.status_reply('OK'), redis.error_reply('E')}",
    "return cjson.encode({a = {1, 2}})",
    "return cjson.decode(ARGV[1])",
    "return redis.sha1hex(ARGV[1])",
    "return math.random()",
    "return tostring(1/0)",
    "return 9223372036854775807",
    "return 0.5",
    "error('x')",
    "return redis.call('eval', 'return 1', 0)",
    "redis.setresp(3) return redis.call('hgetall', KEYS[1])",
    "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
    "#!lua name=lib\nredis.register_function('f', function(k, a) return 1 end)",
    "while true do end",
    "return pcall(function() while true do end end)",
    "local t = {} for i = 1, 1e9 do t[i] = i end",
    "local s = 'x' while true do s = s .. s end",
    "return string.rep('x', 2^31)",
    "local function f(n) return f(n + 1) + 1 end return f(1)",
    "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x",
    "while true do redis.call('incr', KEYS[1]) end",
    "for i = 1, 1e6 do redis.call('rpush', KEYS[1], i) end",
    "return (",
];

/// Turns fuzz bytes into commands. Every byte string decodes to something; running out
/// of bytes ends the input.
///
/// Layout: one options byte (bit 0: memory tier, bit 1: a restricted ACL user), then per
/// command:
/// - selector: `0xFE lo hi` moves the clock on by `u16 * 10` ms (expiry paths), `0xFD n`
///   selects database `n % 16` (SELECT), and each reads another selector; `0xFF len name…` is a literal command name (seed files use it;
///   an unknown name is hashed to a command); otherwise the selector
///   byte and the next byte are a `u16` index into the command table sorted by name.
/// - count byte `n`: if `n & 3 != 0`, what the arity asks for (plus `(n >> 2) % 8` extra
///   arguments for a variadic command); else if `(n >> 2) % 16 >= 12`, the arity's
///   arguments then `17 + byte % 64` generated pairs `i m<i>`; otherwise `(n >> 2) % 16`
///   arguments.
/// - per argument a tag byte, whose low 4 bits pick the kind (see [`Decoder::arg`]).
pub struct Decoder<'a> {
    data: &'a [u8],
    names: Vec<&'static str>,
}

impl<'a> Decoder<'a> {
    pub fn new(data: &'a [u8]) -> Decoder<'a> {
        // Connection commands (Exec::Session) only answer an error in the engine; ACL
        // stays, for the SETUSER rules the harness checks.
        let mut names: Vec<&'static str> = engine::COMMANDS()
            .iter()
            .filter(|c| matches!(c.exec, Exec::Engine(_)) || c.name == "acl")
            .map(|c| c.name)
            .collect();
        names.sort_unstable();
        Decoder { data, names }
    }

    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (a, b) = self.data.split_at(n);
        self.data = b;
        Some(a)
    }

    fn pick(&mut self, set: &[&str]) -> Option<Vec<u8>> {
        let i = self.byte()? as usize % set.len();
        Some(set[i].as_bytes().to_vec())
    }

    /// The next command, with the clock moves before it.
    pub fn command(&mut self, now: &mut u64, db: &mut u8) -> Option<Vec<Vec<u8>>> {
        let name: Vec<u8> = loop {
            match self.byte()? {
                0xFE => {
                    let d = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
                    *now += d as u64 * 10;
                }
                0xFD => *db = self.byte()? % keys::DATABASES as u8,
                0xFF => {
                    let n = self.byte()? as usize % 32;
                    let name = self.take(n)?;
                    if engine::lookup(name).is_some() {
                        break name.to_vec();
                    }
                    // A mutated name still picks a command (unknown names are the raw
                    // target's business).
                    let h = name
                        .iter()
                        .fold(0usize, |h, &b| h.wrapping_mul(31) + b as usize);
                    break self.names[h % self.names.len()].as_bytes().to_vec();
                }
                hi => {
                    let i = u16::from_be_bytes([hi, self.byte()?]) as usize % self.names.len();
                    break self.names[i].as_bytes().to_vec();
                }
            }
        };
        let n = self.byte()?;
        let arity = |extra: usize| match engine::lookup(&name) {
            Some(s) if s.arity > 0 => s.arity as usize - 1,
            Some(s) => (-s.arity) as usize - 1 + extra,
            None => extra,
        };
        let mut many = 0;
        let count = if n & 3 != 0 {
            arity((n >> 2) as usize % 8)
        } else if (n >> 2) % 16 >= 12 {
            // Bulk: what the arity asks for, then 2 x (17..=80) generated arguments
            // `i m<i>` (score/member, field/value, element pairs), so collections get
            // past the small-collection thresholds (point vs range deletes, the tier).
            many = 17 + self.byte()? as usize % 64;
            arity(0)
        } else {
            (n >> 2) as usize % 16
        };
        let mut argv = Vec::with_capacity(count + 1 + 2 * many);
        argv.push(name);
        for _ in 0..count {
            let a = self.arg(&argv)?;
            argv.push(a);
        }
        for i in 0..many {
            argv.push(i.to_string().into_bytes());
            argv.push(format!("m{i}").into_bytes());
        }
        Some(argv)
    }

    /// One argument. Tag low nibble:
    /// 0 key, 1 integer, 2 float, 3 option word, 4 pattern, 5 raw bytes (`len % 24`
    /// bytes follow), 6 an i64 from 8 bytes, 7 JSON, 8 stream id, 9 the small integer
    /// `tag >> 4`, 10 its negation, 11 JSON path, 12 a copy of an earlier argument,
    /// 13 empty, 14 a u32 from 4 bytes, 15 key then one raw byte appended (more keys).
    fn arg(&mut self, argv: &[Vec<u8>]) -> Option<Vec<u8>> {
        let tag = self.byte()?;
        Some(match tag & 0x0F {
            0 => self.pick(KEYS)?,
            1 => self.pick(INTS)?,
            2 => self.pick(FLOATS)?,
            3 => self.pick(WORDS)?,
            4 => self.pick(PATTERNS)?,
            5 => {
                let n = self.byte()? as usize % 24;
                self.take(n)?.to_vec()
            }
            6 => {
                let v = i64::from_le_bytes(self.take(8)?.try_into().ok()?);
                v.to_string().into_bytes()
            }
            7 => self.pick(JSONS)?,
            8 => self.pick(IDS)?,
            9 => (tag >> 4).to_string().into_bytes(),
            10 => format!("-{}", tag >> 4).into_bytes(),
            11 => self.pick(PATHS)?,
            12 => {
                let i = self.byte()? as usize % argv.len();
                argv[i].clone()
            }
            13 => self.pick(LUA)?,
            14 => {
                let v = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
                v.to_string().into_bytes()
            }
            _ => {
                let mut k = self.pick(KEYS)?;
                k.push(self.byte()?);
                k
            }
        })
    }
}

/// Decodes `data` into commands and runs them in order, one log entry each.
///
/// Options byte: bit 0 memory tier, bit 1 restricted ACL user, bit 2 grouped entries.
/// With the tier on, a second node without one runs the same commands and every reply
/// must match: the tier is a cache and may change nothing a client sees. With grouped
/// entries, a third node runs the commands several to a log entry (as MULTI/EXEC and
/// batched pipelines do, so later commands read the earlier ones' pending writes), and
/// every reply must match the one-entry-per-command run until a command draws random
/// numbers (an entry's seed depends on its index).
pub fn run_command_seq(data: &[u8]) {
    let Some((&opts, rest)) = data.split_first() else {
        return;
    };
    let user = (opts & 2 != 0).then(Harness::restricted_user);
    let tiered = opts & 1 != 0;
    let grouped = opts & 4 != 0 && user.is_none();
    let group_len = 2 + (opts >> 3) as usize % 6;
    let mut h = Harness::new(tiered, user.clone());
    h.adopt_users = opts & 2 != 0;
    let mut plain = tiered.then(|| {
        let mut p = Harness::new(false, user);
        p.adopt_users = opts & 2 != 0;
        p
    });
    let mut d = Decoder::new(rest);
    let mut cmds = Vec::new();
    while cmds.len() < MAX_COMMANDS {
        let (mut now, mut db) = (h.now, h.db);
        let Some(argv) = d.command(&mut now, &mut db) else {
            break;
        };
        (h.now, h.db) = (now, db);
        let reply = h.exec(&argv);
        if let Some(p) = plain.as_mut() {
            (p.now, p.db) = (now, db);
            let other = p.exec(&argv);
            assert_eq!(
                String::from_utf8_lossy(&resp::encode_to_vec(&reply, true)),
                String::from_utf8_lossy(&resp::encode_to_vec(&other, true)),
                "the memory tier changes the reply of {:?}",
                String::from_utf8_lossy(&argv[0])
            );
        }
        cmds.push((now, db, argv, reply));
    }
    if grouped {
        run_grouped(&cmds, group_len);
    }
}

/// Commands whose effects depend on the entry's random seed.
const RANDOM_WRITES: &[&str] = &["spop", "eval", "evalsha", "fcall", "function"];

/// Replays `cmds` (with their one-entry-per-command replies) several to a log entry and
/// compares the replies. A clock move starts a new entry (an entry has one time).
fn run_grouped(cmds: &[(u64, u8, Vec<Vec<u8>>, Frame)], group_len: usize) {
    let mut g = Harness::new(false, None);
    let mut i = 0;
    while i < cmds.len() {
        let now = cmds[i].0;
        g.index += 1;
        let mut t = Txn::new(&g.store, g.index, now, g.seed);
        let mut n = 0;
        while i < cmds.len() && n < group_len && cmds[i].0 == now {
            let (_, db, argv, single) = &cmds[i];
            i += 1;
            n += 1;
            let Some(spec) = engine::lookup(&argv[0]) else {
                continue;
            };
            // ACL and SELECT are the session's (see `Harness::run`): each command here
            // already carries the database it ran in.
            if excluded(spec.name, argv).is_some() || matches!(spec.name, "acl" | "select") {
                continue;
            }
            let reply = t.run(*db, argv);
            let random = RANDOM_COMMANDS.contains(&spec.name)
                || RANDOM_WRITES.contains(&spec.name)
                || spec.name.starts_with("eval");
            if random {
                // From here on the two runs may hold different data.
                return;
            }
            assert_eq!(
                String::from_utf8_lossy(&resp::encode_to_vec(&reply, true)),
                String::from_utf8_lossy(&resp::encode_to_vec(single, true)),
                "{:?} replies differently inside a multi-command entry",
                String::from_utf8_lossy(&argv[0])
            );
        }
        let effects = t.into_effects();
        g.store.apply(&effects);
        g.check_store();
    }
}
