//! COMMAND introspection, ACL categories and ACL LOG, INFO errorstats and commandstats,
//! compared with a stock redis-server 7.0 byte for byte (RESP2 and RESP3) where
//! docs/compatibility.md lists no intended difference.

use meridian_tests::{RedisServer, Server};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A reply, with its RESP type kept (simple vs bulk string, set vs array, map).
#[derive(Debug, Clone, PartialEq)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    Double(String),
    Array(Vec<V>),
    Set(Vec<V>),
    Map(Vec<(V, V)>),
}

/// A raw RESP connection: replies are read exactly as sent.
struct Raw {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Raw {
    fn open(port: u16, resp3: bool) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut raw = Raw {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        };
        if resp3 {
            raw.cmd(&["HELLO", "3"]);
        }
        raw
    }

    fn cmd(&mut self, argv: &[&str]) -> V {
        let mut out = format!("*{}\r\n", argv.len()).into_bytes();
        for a in argv {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.w.write_all(&out).unwrap();
        self.read()
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end_matches("\r\n").to_string()
    }

    fn read(&mut self) -> V {
        let l = self.line();
        let (t, rest) = l.split_at(1);
        let n = || rest.parse::<i64>().unwrap();
        match t {
            "+" => V::Simple(rest.into()),
            "-" => V::Err(rest.into()),
            ":" => V::Int(n()),
            "_" => V::Null,
            "," => V::Double(rest.into()),
            "$" if n() < 0 => V::Null,
            "*" if n() < 0 => V::Null,
            "$" => {
                let mut b = vec![0u8; n() as usize + 2];
                std::io::Read::read_exact(&mut self.r, &mut b).unwrap();
                b.truncate(b.len() - 2);
                V::Bulk(b)
            }
            "*" => V::Array((0..n()).map(|_| self.read()).collect()),
            "~" => V::Set((0..n()).map(|_| self.read()).collect()),
            "%" => V::Map((0..n()).map(|_| (self.read(), self.read())).collect()),
            other => panic!("unexpected reply type {other}{rest}"),
        }
    }
}

fn text(v: &V) -> String {
    match v {
        V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        V::Simple(s) | V::Err(s) | V::Double(s) => s.clone(),
        V::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn names(v: &V) -> Vec<String> {
    match v {
        V::Array(items) | V::Set(items) => items.iter().map(text).collect(),
        other => panic!("not a list: {other:?}"),
    }
}

/// Redis keeps subcommands in a dict, so their order changes from run to run: sort
/// them (COMMAND INFO's 10th element, COMMAND DOCS' `subcommands` map; RESP2 maps are
/// flat arrays of pairs).
fn normalize(v: &V) -> V {
    fn sort_pairs(items: &[V]) -> Vec<V> {
        let mut pairs: Vec<(V, V)> = items
            .chunks(2)
            .map(|p| (normalize(&p[0]), normalize(&p[1])))
            .collect();
        pairs.sort_by_key(|(k, _)| text(k));
        pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()
    }
    match v {
        V::Array(items) | V::Set(items) => {
            let mut out: Vec<V> = items.iter().map(normalize).collect();
            // A COMMAND INFO entry: [name, arity, flags, first, last, step, acl, tips,
            // key specs, subcommands].
            if out.len() == 10 && matches!(out[0], V::Bulk(_)) && matches!(out[1], V::Int(_)) {
                let mut subs = match &out[9] {
                    V::Array(s) | V::Set(s) => s.clone(),
                    _ => vec![],
                };
                subs.sort_by_key(|s| format!("{s:?}"));
                out[9] = match &out[9] {
                    V::Set(_) => V::Set(subs),
                    _ => V::Array(subs),
                };
            }
            // A RESP2 docs map with a `subcommands` key: sort that map's pairs.
            for i in (0..out.len().saturating_sub(1)).step_by(2) {
                if out[i] == V::Bulk(b"subcommands".to_vec()) {
                    if let V::Array(m) = &out[i + 1] {
                        out[i + 1] = V::Array(sort_pairs(m));
                    }
                }
            }
            if matches!(v, V::Set(_)) {
                V::Set(out)
            } else {
                V::Array(out)
            }
        }
        V::Map(pairs) => {
            let mut out: Vec<(V, V)> = pairs
                .iter()
                .map(|(k, v)| (normalize(k), normalize(v)))
                .collect();
            for (k, v) in out.iter_mut() {
                if *k == V::Bulk(b"subcommands".to_vec()) {
                    if let V::Map(m) = v {
                        m.sort_by_key(|(k, _)| text(k));
                    }
                }
            }
            V::Map(out)
        }
        other => other.clone(),
    }
}

/// Intended differences (docs/compatibility.md): ZRANK/ZREVRANK take Redis 7.2's
/// WITHSCORE, so their arity is -3.
const ARITY_DIFFERS: &[&str] = &["zrank", "zrevrank"];

fn both() -> (RedisServer, Server) {
    (RedisServer::start(), Server::start())
}

#[test]
fn command_info_and_docs_match_redis_for_every_shared_command() {
    let (redis, ours) = both();
    for resp3 in [false, true] {
        let mut r = Raw::open(redis.port, resp3);
        let mut m = Raw::open(ours.port, resp3);
        let theirs = names(&r.cmd(&["COMMAND", "LIST"]));
        let mine = names(&m.cmd(&["COMMAND", "LIST"]));
        let shared: Vec<&String> = mine.iter().filter(|n| theirs.contains(n)).collect();
        assert!(shared.len() > 300, "only {} shared names", shared.len());
        let mut diffs = Vec::new();
        for name in shared {
            let base = name.split('|').next().unwrap();
            if ARITY_DIFFERS.contains(&base) {
                continue;
            }
            for sub in ["INFO", "DOCS"] {
                let a = normalize(&r.cmd(&["COMMAND", sub, name]));
                let b = normalize(&m.cmd(&["COMMAND", sub, name]));
                if a != b {
                    diffs.push(format!(
                        "COMMAND {sub} {name}\n  redis:    {a:?}\n  meridian: {b:?}"
                    ));
                }
            }
        }
        assert!(diffs.is_empty(), "resp3={resp3}:\n{}", diffs.join("\n"));
        // Unknown names: a null entry for INFO, nothing for DOCS.
        for args in [
            &["COMMAND", "INFO", "nosuch", "get", "config|nosuch"][..],
            &["COMMAND", "DOCS", "nosuch", "CONFIG|GET"],
            &["COMMAND", "INFO", "CONFIG|GET"],
            &["COMMAND", "HELP"],
            &["COMMAND", "NOSUCH"],
            &["COMMAND", "COUNT", "x"],
            &["COMMAND", "GETKEYS", "get"],
            &["COMMAND", "LIST", "FILTERBY", "PATTERN"],
            &["COMMAND", "LIST", "FILTERBY", "nosuch", "x"],
            &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"],
        ] {
            assert_eq!(
                normalize(&r.cmd(args)),
                normalize(&m.cmd(args)),
                "{args:?} resp3={resp3}"
            );
        }
    }
}

#[test]
fn command_list_and_count_cover_subcommands() {
    let (redis, ours) = both();
    let mut r = Raw::open(redis.port, false);
    let mut m = Raw::open(ours.port, false);
    let mine = names(&m.cmd(&["COMMAND", "LIST"]));
    let count = match m.cmd(&["COMMAND", "COUNT"]) {
        V::Int(n) => n as usize,
        other => panic!("{other:?}"),
    };
    // COUNT counts top-level commands; LIST adds the subcommands (as Redis).
    assert_eq!(count, mine.iter().filter(|n| !n.contains('|')).count());
    for must in [
        "config|get",
        "client|list",
        "object|encoding",
        "xinfo|stream",
        "acl|log",
    ] {
        assert!(mine.iter().any(|n| n == must), "{must} missing");
    }
    // Every subcommand Redis lists for a command Meridian has is listed.
    let theirs = names(&r.cmd(&["COMMAND", "LIST"]));
    for t in theirs.iter().filter(|n| n.contains('|')) {
        let base = t.split('|').next().unwrap();
        if mine.iter().any(|n| n == base) {
            assert!(mine.contains(t), "{t} missing from COMMAND LIST");
        }
    }
    // Filters, compared as sets on the commands both have.
    for filter in [
        &["ACLCAT", "admin"][..],
        &["ACLCAT", "hash"],
        &["ACLCAT", "connection"],
        &["PATTERN", "config*"],
        &["PATTERN", "x*"],
    ] {
        let mut args = vec!["COMMAND", "LIST", "FILTERBY"];
        args.extend_from_slice(filter);
        let mut a = names(&r.cmd(&args));
        let mut b = names(&m.cmd(&args));
        a.retain(|n| mine.contains(n));
        b.retain(|n| theirs.contains(n));
        a.sort();
        b.sort();
        assert_eq!(a, b, "{args:?}");
    }
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS across every key-spec form: fixed ranges, keyword
/// searches, numkeys, `unknown` specs, variable flags, errors.
const GETKEYS: &[&str] = &[
    "get k",
    "get",
    "get a b",
    "set k v",
    "set k v get",
    "set k v ex 10 get",
    "lmove a b left right",
    "blmove a b left right 0",
    "rpoplpush a b",
    "mset a 1 b 2",
    "mset a 1 b",
    "msetnx a 1 b 2",
    "mget a b c",
    "del a b c",
    "rename a b",
    "copy a b",
    "smove a b m",
    "zunionstore d 2 a b weights 1 2",
    "zunionstore d 0",
    "zunionstore d x a",
    "zunionstore d -1 a",
    "zinterstore d 2 a b",
    "zdiffstore d 2 a b",
    "zunion 2 a b",
    "zinter 2 a b withscores",
    "zdiff 2 a b",
    "zintercard 2 a b",
    "sintercard 2 a b limit 1",
    "zrangestore d s 0 1",
    "eval x 2 a b c",
    "eval x 0",
    "eval x 3 a",
    "eval_ro x 1 k",
    "evalsha x 1 k",
    "fcall f 1 k",
    "fcall_ro f 2 a b",
    "sort k",
    "sort k by w_* get o_* store d",
    "sort_ro k by x",
    "xread count 1 streams a b 0 0",
    "xread streams a b c",
    "xread block 0 streams a $",
    "xreadgroup group g c count 1 streams a b 0 0",
    "blmpop 0 2 a b left",
    "lmpop 2 a b left count 1",
    "bzmpop 1 1 z min",
    "zmpop 2 a b max",
    "blpop a b 0",
    "bzpopmin a b 0",
    "georadius g 1 2 3 km store d",
    "georadius g 1 2 3 km storedist d",
    "georadiusbymember g m 3 km store d",
    "geosearchstore d s fromlonlat 1 2 byradius 1 km",
    "object encoding k",
    "object freq k",
    "object nosuch k",
    "xinfo stream s",
    "xinfo groups s",
    "xgroup create s g $",
    "xgroup destroy s g",
    "pfmerge d a b",
    "pfcount a b",
    "bitop and d a b",
    "bitfield k get u8 0",
    "bitfield k get u8 0 overflow wrap",
    "bitfield k set u8 0 1",
    "bitfield k incrby u8 0 1",
    "bitfield_ro k get u8 0",
    "getex k ex 1",
    "getdel k",
    "setrange k 1 x",
    "lcs a b",
    "touch a b",
    "unlink a b",
    "watch a b",
    "exists a",
    "expire k 1",
    "persist k",
    "hset h f v",
    "xadd s * f v",
    "xautoclaim s g c 0 0",
    "xtrim s maxlen 1",
    "publish ch m",
    "spublish ch m",
    "ssubscribe a b",
    "sunsubscribe a",
    "ping x",
    "nosuch k",
    "client list",
    "config get x",
    "sdiffstore d a b",
    "sinterstore d a",
    "sunionstore d a b c",
    "srandmember s",
    "linsert l before p v",
];

#[test]
fn getkeys_and_flags_match_redis() {
    let (redis, ours) = both();
    for resp3 in [false, true] {
        let mut r = Raw::open(redis.port, resp3);
        let mut m = Raw::open(ours.port, resp3);
        let mut diffs = Vec::new();
        for case in GETKEYS {
            for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                let mut argv = vec!["COMMAND", sub];
                argv.extend(case.split(' '));
                let a = r.cmd(&argv);
                let b = m.cmd(&argv);
                if a != b {
                    diffs.push(format!("{argv:?}\n  redis:    {a:?}\n  meridian: {b:?}"));
                }
            }
        }
        assert!(diffs.is_empty(), "resp3={resp3}:\n{}", diffs.join("\n"));
    }
    // LMOVE's key specs, as the issue quotes them.
    let mut m = Raw::open(ours.port, false);
    let v = m.cmd(&[
        "COMMAND",
        "GETKEYSANDFLAGS",
        "LMOVE",
        "a",
        "b",
        "LEFT",
        "RIGHT",
    ]);
    assert_eq!(
        format!("{v:?}"),
        format!(
            "{:?}",
            V::Array(vec![
                V::Array(vec![
                    V::Bulk(b"a".to_vec()),
                    V::Array(vec![
                        V::Simple("RW".into()),
                        V::Simple("access".into()),
                        V::Simple("delete".into())
                    ])
                ]),
                V::Array(vec![
                    V::Bulk(b"b".to_vec()),
                    V::Array(vec![V::Simple("RW".into()), V::Simple("insert".into())])
                ]),
            ])
        )
    );
}

#[test]
fn acl_categories_and_rules_on_redis_commands() {
    let (redis, ours) = both();
    let mut r = Raw::open(redis.port, false);
    let mut m = Raw::open(ours.port, false);
    // ACL CAT: Redis's 21 categories in Redis's order; Meridian adds `json` last
    // (JSON.*, as Redis Stack does).
    let mut cats = names(&m.cmd(&["ACL", "CAT"]));
    assert_eq!(cats.pop().as_deref(), Some("json"));
    assert_eq!(cats, names(&r.cmd(&["ACL", "CAT"])));
    // Every category and Redis command name is accepted, also those of commands
    // Meridian does not have (CLUSTER, BGSAVE...), and kept in the user's rules.
    let mut rules = vec!["ACL", "SETUSER", "u1", "reset"];
    let signed: Vec<String> = cats.iter().map(|c| format!("+@{c}")).collect();
    rules.extend(signed.iter().map(String::as_str));
    let rules2 = [
        "ACL",
        "SETUSER",
        "u1",
        "reset",
        "+cluster",
        "-cluster|info",
        "+BGSAVE|x",
        "+get",
    ];
    for conn in [&mut r, &mut m] {
        assert_eq!(conn.cmd(&rules), V::Simple("OK".into()));
        assert_eq!(conn.cmd(&rules2), V::Simple("OK".into()));
    }
    let commands = |c: &mut Raw| match c.cmd(&["ACL", "GETUSER", "u1"]) {
        V::Array(v) => text(&v[5]),
        other => panic!("{other:?}"),
    };
    // The same rules (Redis regroups them when it describes a user).
    let sorted = |s: String| {
        let mut v: Vec<String> = s.split(' ').map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(commands(&mut r)), sorted(commands(&mut m)));
    assert_eq!(
        commands(&mut m),
        "-@all +cluster -cluster|info +bgsave|x +get"
    );
    // ACL CAT <category>: the same commands and subcommands as Redis, on the names both
    // have. Intended difference: EVAL/EVALSHA/FCALL are @write and their _RO forms @read
    // (commands called by scripts are not checked, so the script command carries them).
    let listed = names(&m.cmd(&["COMMAND", "LIST"]));
    let theirs_listed = names(&r.cmd(&["COMMAND", "LIST"]));
    let scripts = [
        "eval",
        "evalsha",
        "fcall",
        "eval_ro",
        "evalsha_ro",
        "fcall_ro",
    ];
    for cat in &cats {
        let mut a = names(&r.cmd(&["ACL", "CAT", cat]));
        let mut b = names(&m.cmd(&["ACL", "CAT", cat]));
        a.retain(|n| listed.contains(n) && !scripts.contains(&n.as_str()));
        b.retain(|n| theirs_listed.contains(n) && !scripts.contains(&n.as_str()));
        a.sort();
        b.sort();
        assert_eq!(a, b, "ACL CAT {cat}");
    }
    // Subcommands' own categories decide: FUNCTION LIST is no write, FUNCTION LOAD is;
    // INFO is @dangerous.
    for conn in [&mut r, &mut m] {
        let setuser = [
            "ACL",
            "SETUSER",
            "u4",
            "on",
            "nopass",
            "+@all",
            "-@write",
            "-@dangerous",
        ];
        assert_eq!(conn.cmd(&setuser), V::Simple("OK".into()));
        let dry = |c: &mut Raw, args: &[&str]| {
            let mut a = vec!["ACL", "DRYRUN", "u4"];
            a.extend_from_slice(args);
            matches!(c.cmd(&a), V::Simple(_))
        };
        assert!(dry(conn, &["FUNCTION", "LIST"]));
        assert!(dry(conn, &["CONFIG", "HELP"]));
        assert!(!dry(conn, &["FUNCTION", "LOAD", "x"]));
        assert!(!dry(conn, &["INFO"]));
        assert!(!dry(conn, &["CONFIG", "GET", "x"]));
    }
    for bad in [
        "+@cluster",
        "+@nosuch",
        "+cluster|nosuch",
        "+cluster|info|x",
        "-bgsave|x",
        "+cluster|",
        "-cluster|",
        "+nosuchcommand",
    ] {
        let a = r.cmd(&["ACL", "SETUSER", "u2", bad]);
        let b = m.cmd(&["ACL", "SETUSER", "u2", bad]);
        assert!(matches!(a, V::Err(_)), "{bad}: {a:?}");
        assert_eq!(a, b, "{bad}");
    }
}

/// ACL LOG's entries as maps of name to text.
fn log_entries(c: &mut Raw, args: &[&str]) -> Vec<Vec<(String, String)>> {
    match c.cmd(args) {
        V::Array(entries) => entries
            .iter()
            .map(|e| match e {
                V::Array(kv) => kv.chunks(2).map(|p| (text(&p[0]), text(&p[1]))).collect(),
                V::Map(kv) => kv.iter().map(|(k, v)| (text(k), text(v))).collect(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

fn field<'a>(e: &'a [(String, String)], name: &str) -> &'a str {
    e.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {e:?}"))
}

/// The denials both servers see, from a user allowed GET/MULTI/EXEC on `k*` and channel
/// `ch` only.
fn provoke_denials(port: u16) {
    let mut admin = Raw::open(port, false);
    admin.cmd(&["ACL", "LOG", "RESET"]);
    admin.cmd(&[
        "ACL", "SETUSER", "lim", "on", "nopass", "+get", "+multi", "+exec", "~k*", "&ch",
    ]);
    let mut c = Raw::open(port, false);
    assert_eq!(c.cmd(&["AUTH", "lim", "x"]), V::Simple("OK".into()));
    for args in [
        &["GET", "other"][..],
        &["SET", "k", "1"],
        &["GET", "other"],
        &["PUBLISH", "zz", "m"],
        &["AUTH", "nouser", "bad"],
        &["MULTI"],
        &["GET", "other2"],
        &["EXEC"],
        &["CONFIG", "GET", "x"],
    ] {
        c.cmd(args);
    }
}

#[test]
fn acl_log_records_denials_as_redis() {
    let (redis, ours) = both();
    provoke_denials(redis.port);
    provoke_denials(ours.port);
    let pick = |port: u16| {
        let mut c = Raw::open(port, false);
        log_entries(&mut c, &["ACL", "LOG"])
            .iter()
            .map(|e| {
                ["count", "reason", "context", "object", "username"]
                    .iter()
                    .map(|f| field(e, f).to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
    };
    let want = pick(redis.port);
    assert_eq!(want, pick(ours.port));
    assert_eq!(
        want,
        [
            "1 command toplevel config|get lim",
            "1 key multi other2 lim",
            "1 auth toplevel AUTH nouser",
            "1 command toplevel publish lim",
            "2 key toplevel other lim",
            "1 command toplevel set lim",
        ]
    );
    let mut c = Raw::open(ours.port, false);
    let all = log_entries(&mut c, &["ACL", "LOG"]);
    let newest = &all[0];
    let keys: Vec<&str> = newest.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "count",
            "reason",
            "context",
            "object",
            "username",
            "age-seconds",
            "client-info",
            "entry-id",
            "timestamp-created",
            "timestamp-last-updated"
        ]
    );
    assert!(
        field(newest, "client-info").contains("user=lim"),
        "{newest:?}"
    );
    assert!(field(newest, "age-seconds").parse::<f64>().unwrap() < 60.0);
    let merged = &all[4];
    assert!(
        field(merged, "timestamp-last-updated")
            .parse::<u64>()
            .unwrap()
            >= field(merged, "timestamp-created").parse::<u64>().unwrap()
    );
    assert_eq!(field(all[0].as_slice(), "entry-id"), "5");
    // A count, errors, RESET, and the acllog-max-len bound (applied as entries are added).
    assert_eq!(log_entries(&mut c, &["ACL", "LOG", "2"]).len(), 2);
    assert_eq!(log_entries(&mut c, &["ACL", "LOG", "-1"]).len(), 0);
    let mut r = Raw::open(redis.port, false);
    for args in [&["ACL", "LOG", "x"][..], &["ACL", "LOG", "1", "2"]] {
        assert_eq!(r.cmd(args), c.cmd(args), "{args:?}");
    }
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "acllog-max-len", "3"]),
        V::Simple("OK".into())
    );
    let mut lim = Raw::open(ours.port, false);
    lim.cmd(&["AUTH", "lim", "x"]);
    lim.cmd(&["DEL", "k"]);
    assert_eq!(log_entries(&mut c, &["ACL", "LOG"]).len(), 3);
    assert_eq!(c.cmd(&["ACL", "LOG", "RESET"]), V::Simple("OK".into()));
    assert_eq!(log_entries(&mut c, &["ACL", "LOG"]).len(), 0);
}

/// The errorstats section and a few commandstats fields after the same errors on both.
fn error_counters(port: u16) -> (String, Vec<String>) {
    let mut c = Raw::open(port, false);
    c.cmd(&["CONFIG", "RESETSTAT"]);
    for args in [
        &["SET", "s", "x"][..],
        &["LPUSH", "s", "a"],
        &["INCR", "s"],
        &["NOSUCH"],
        &["GET"],
        &["MULTI"],
        &["INCR", "s"],
        &["LPUSH", "s", "a"],
        &["SET", "t", "1"],
        &["EXEC"],
        &["MULTI"],
        &["GET"],
        &["EXEC"],
        &["EVAL", "return redis.call('incr','s')", "0"],
        &["EVAL", "return redis.pcall('incr','s')", "0"],
        &["EVAL", "return redis.error_reply('MYERR hi')", "0"],
        &["EVAL", "return {err='OTHER x'}", "0"],
        &["EVAL", "error('boom')", "0"],
        &["SET", "s"],
        &["HSET", "h"],
        &["XADD", "x", "1-1"],
    ] {
        c.cmd(args);
    }
    let info = |c: &mut Raw, section: &str| text(&c.cmd(&["INFO", section]));
    let errorstats = info(&mut c, "errorstats");
    let total = info(&mut c, "stats")
        .lines()
        .find(|l| l.starts_with("total_error_replies:"))
        .unwrap()
        .to_string();
    let stats = info(&mut c, "commandstats");
    let mut cmd = Vec::new();
    for name in [
        "get", "set", "hset", "xadd", "lpush", "exec", "eval", "multi",
    ] {
        let line = stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("no cmdstat_{name} in {stats}"));
        // calls, rejected_calls and failed_calls: usec differs.
        let keep: Vec<&str> = line
            .split([':', ','])
            .filter(|f| f.starts_with("calls=") || f.contains("_calls="))
            .collect();
        cmd.push(format!("{name} {}", keep.join(",")));
    }
    (format!("{errorstats}{total}"), cmd)
}

#[test]
fn errorstats_and_rejected_calls_match_redis() {
    let (redis, ours) = both();
    let (want_errors, want_cmds) = error_counters(redis.port);
    let (errors, cmds) = error_counters(ours.port);
    assert_eq!(want_errors, errors);
    assert!(errors.contains("errorstat_WRONGTYPE:count=2"), "{errors}");
    assert!(errors.contains("errorstat_EXECABORT:count=1"), "{errors}");
    assert!(errors.contains("total_error_replies:16"), "{errors}");
    assert_eq!(want_cmds, cmds);
}
