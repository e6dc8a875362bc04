//! Differential test: the same commands against a stock redis-server (Debian's 7.0,
//! installed by the test command) and against Meridian, replies compared exactly.
//! Covers reply formatting that clients see byte for byte: sorted-set scores (`%.17g`,
//! `inf`/`-inf`), float increments, geo distances and positions.

use meridian_tests::{connect, RedisServer, Server};
use redis::Value;

/// Commands whose replies must be identical (Redis 7.0 syntax only).
const SCRIPT: &[&[&str]] = &[
    &[
        "ZADD", "z", "1.1", "a", "0.1", "b", "-2.5e-7", "c", "1e17", "d", "3.14159", "e",
    ],
    &[
        "ZADD",
        "z",
        "+inf",
        "top",
        "-inf",
        "bottom",
        "123456789012345678",
        "big",
    ],
    &["ZSCORE", "z", "a"],
    &["ZSCORE", "z", "c"],
    &["ZSCORE", "z", "top"],
    &["ZMSCORE", "z", "a", "b", "nope", "bottom"],
    &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    &[
        "ZREVRANGEBYSCORE",
        "z",
        "+inf",
        "-inf",
        "WITHSCORES",
        "LIMIT",
        "1",
        "3",
    ],
    &["ZINCRBY", "z", "0.2", "b"],
    &["ZINCRBY", "z", "1e-3", "e"],
    &["ZADD", "z", "INCR", "0.7", "a"],
    &["ZRANK", "z", "e"],
    &["ZREVRANK", "z", "e"],
    &["ZCOUNT", "z", "(0", "2"],
    &["ZPOPMIN", "z", "2"],
    &["ZPOPMAX", "z"],
    &["ZADD", "w", "0.3", "a", "7", "x"],
    &["ZUNIONSTORE", "u", "2", "z", "w", "WEIGHTS", "0.5", "3"],
    &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
    &["ZINTER", "2", "z", "w", "AGGREGATE", "MAX", "WITHSCORES"],
    &["ZRANDMEMBER", "nokey", "2", "WITHSCORES"],
    &["ZADD", "z", "nan", "x"],
    &["ZINCRBY", "z", "abc", "x"],
    &["ZADD", "z", "GT", "LT", "1", "x"],
    &["SET", "f", "10.5"],
    &["INCRBYFLOAT", "f", "0.1"],
    // Not compared: increments whose exact result needs more than a double's precision.
    // Redis computes INCRBYFLOAT/HINCRBYFLOAT in 80-bit long double and prints 17
    // decimals (10.6 - 5000 = "-4989.39999999999999991"); Meridian computes in f64 and
    // prints the shortest exact form ("-4989.4"). See docs/compatibility.md.
    &["HSET", "h", "n", "1.5"],
    &["HINCRBYFLOAT", "h", "n", "0.1"],
    &["HINCRBYFLOAT", "h", "n", "-0.5e1"],
    &[
        "GEOADD",
        "g",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ],
    &["GEODIST", "g", "Palermo", "Catania"],
    &["GEODIST", "g", "Palermo", "Catania", "km"],
    &["GEOHASH", "g", "Palermo", "Catania"],
    &["ZSCORE", "g", "Palermo"],
    &[
        "GEOSEARCH",
        "g",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "ASC",
        "WITHDIST",
        "WITHHASH",
    ],
];

/// The text of a reply, for comparison; `unordered` sorts an array's elements.
fn text(r: redis::RedisResult<Value>, unordered: bool) -> String {
    match r {
        Ok(Value::Array(mut items)) if unordered => {
            items.sort_by_key(|v| format!("{v:?}"));
            format!("{:?}", Value::Array(items))
        }
        Ok(v) => format!("{v:?}"),
        Err(e) => format!(
            "error: {} {}",
            e.code().unwrap_or_default(),
            e.detail().unwrap_or_default()
        ),
    }
}

/// Runs `commands` (argv, unordered) on both servers; returns the differences.
fn replay<'a>(
    commands: impl IntoIterator<Item = (Vec<&'a str>, bool)>,
    theirs: &mut redis::Connection,
    ours: &mut redis::Connection,
) -> (usize, Vec<String>) {
    let mut diffs = Vec::new();
    let mut n = 0;
    for (argv, unordered) in commands {
        n += 1;
        let mut c = redis::cmd(argv[0]);
        for a in &argv[1..] {
            c.arg(*a);
        }
        let want = text(c.query(theirs), unordered);
        let got = text(c.query(ours), unordered);
        if want != got {
            diffs.push(format!("{argv:?}\n  redis:    {want}\n  meridian: {got}"));
        }
    }
    (n, diffs)
}

#[test]
fn replies_match_redis_7_byte_for_byte() {
    let redis = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis.port));
    let s = Server::start();
    let mut ours = s.client();
    let (_, diffs) = replay(
        SCRIPT.iter().map(|a| (a.to_vec(), false)),
        &mut theirs,
        &mut ours,
    );
    assert!(
        diffs.is_empty(),
        "{} replies differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// Every collection command's documented examples and error cases (WRONGTYPE, out of
/// range, syntax, arity), from tests/tests/vs_redis/collections.txt.
#[test]
fn collection_commands_match_redis_7() {
    let script = include_str!("vs_redis/collections.txt");
    let commands = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.strip_prefix('~') {
            Some(rest) => (rest.split_whitespace().collect(), true),
            None => (l.split_whitespace().collect(), false),
        });
    let redis = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis.port));
    let s = Server::start();
    let mut ours = s.client();
    let (n, diffs) = replay(commands, &mut theirs, &mut ours);
    assert!(n > 250, "only {n} commands replayed");
    assert!(
        diffs.is_empty(),
        "{} of {n} replies differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// CLIENT and PUBSUB subcommands whose replies do not depend on connection ids or
/// timing: tracking state and errors, CACHING, REPLY/PAUSE/KILL errors, shard channels.
#[test]
fn client_and_pubsub_commands_match_redis_7() {
    let script: &[&[&str]] = &[
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "GETREDIR"],
        &["CLIENT", "CACHING", "YES"],
        &["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
        &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "abc"],
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab",
        ],
        &["CLIENT", "TRACKING", "ON", "NOSUCHOPTION"],
        &["CLIENT", "TRACKING", "MAYBE"],
        &["CLIENT", "TRACKING"],
        &["CLIENT", "TRACKING", "ON", "OPTIN"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "CACHING", "YES"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "CACHING", "NO"],
        &["CLIENT", "CACHING", "MAYBE"],
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "BCAST"],
        &["CLIENT", "GETREDIR"],
        &["CLIENT", "TRACKING", "OFF"],
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "x", "NOLOOP",
        ],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "y"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "ON"],
        &["CLIENT", "TRACKING", "OFF"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "GETREDIR", "x"],
        &["CLIENT", "REPLY", "MAYBE"],
        &["CLIENT", "REPLY"],
        &["CLIENT", "REPLY", "ON"],
        &["CLIENT", "PAUSE"],
        &["CLIENT", "PAUSE", "abc"],
        &["CLIENT", "PAUSE", "10", "MAYBE"],
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "UNPAUSE"],
        &["CLIENT", "UNPAUSE", "x"],
        &["CLIENT", "KILL", "TYPE", "foo"],
        &["CLIENT", "KILL", "TYPE", "master"],
        &["CLIENT", "KILL", "TYPE", "pubsub"],
        &["CLIENT", "KILL", "ID", "0"],
        &["CLIENT", "KILL", "ID", "abc"],
        &["CLIENT", "KILL", "ID", "999999"],
        &["CLIENT", "KILL", "ADDR", "1.2.3.4:5"],
        &["CLIENT", "KILL", "1.2.3.4:5"],
        &["CLIENT", "KILL", "SKIPME", "maybe"],
        &["CLIENT", "KILL", "FOO", "bar"],
        &["CLIENT", "KILL", "ID", "1", "ID"],
        &["CLIENT", "KILL", "USER", "nobody"],
        &["CLIENT", "NO-EVICT", "maybe"],
        &["CLIENT", "NO-EVICT", "on"],
        &["CLIENT", "NO-EVICT", "off"],
        &["CLIENT", "LIST", "TYPE", "foo"],
        &["CLIENT", "LIST", "TYPE", "master"],
        &["CLIENT", "LIST", "TYPE", "pubsub"],
        &["CLIENT", "NOSUCH"],
        &["PUBSUB", "SHARDCHANNELS"],
        &["PUBSUB", "SHARDCHANNELS", "a*"],
        &["PUBSUB", "SHARDNUMSUB"],
        &["PUBSUB", "SHARDNUMSUB", "a", "b"],
        &["PUBSUB", "NUMSUB", "a"],
        &["PUBSUB", "NUMPAT"],
        &["PUBSUB", "CHANNELS", "x*"],
        &["PUBSUB", "SHARDCHANNELS", "a", "b"],
        &["PUBSUB", "NOSUCH"],
    ];
    let redis = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis.port));
    let s = Server::start();
    let mut ours = s.client();
    let (_, diffs) = replay(
        script.iter().map(|a| (a.to_vec(), false)),
        &mut theirs,
        &mut ours,
    );
    assert!(
        diffs.is_empty(),
        "{} replies differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// MOVE, SWAPDB, WAIT, WAITAOF's errors, MEMORY's subcommands and errors, LOLWUT's
/// errors: the deterministic replies (ROLE's offsets, LASTSAVE's time, MEMORY's figures
/// and LOLWUT's art are Meridian's own; see tests/tests/server_cmds.rs).
#[test]
fn server_commands_match_redis_7() {
    let script: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["RPUSH", "l", "a", "b"],
        &["MOVE", "k", "0"],
        &["MOVE", "k", "x"],
        &["MOVE", "k", "16"],
        &["MOVE", "k", "-1"],
        &["MOVE", "k", "99999999999999"],
        &["MOVE", "nokey", "1"],
        &["MOVE", "k", "1"],
        &["MOVE", "k", "1"],
        &["MOVE", "l", "1"],
        &["SET", "k", "v2"],
        &["SELECT", "1"],
        &["MOVE", "k", "0"],
        &["GET", "k"],
        &["LRANGE", "l", "0", "-1"],
        &["DBSIZE"],
        &["SELECT", "0"],
        &["GET", "k"],
        &["DBSIZE"],
        &["SWAPDB", "0", "1"],
        &["GET", "k"],
        &["LRANGE", "l", "0", "-1"],
        &["DBSIZE"],
        &["SWAPDB", "0", "0"],
        &["SWAPDB", "x", "1"],
        &["SWAPDB", "0", "y"],
        &["SWAPDB", "0", "16"],
        &["SWAPDB", "-1", "0"],
        &["SWAPDB", "0", "99999999999999"],
        &["SWAPDB", "0"],
        &["WAIT", "0", "0"],
        &["WAIT", "x", "0"],
        &["WAIT", "0", "-1"],
        &["WAIT", "0", "x"],
        &["WAIT", "0"],
        &["MEMORY", "USAGE", "nokey"],
        &["MEMORY", "USAGE", "k", "x"],
        &["MEMORY", "USAGE", "k", "SAMPLES", "-1"],
        &["MEMORY", "USAGE", "k", "SAMPLES", "x"],
        &["MEMORY", "USAGE", "k", "SAMPLES", "1", "x"],
        &["MEMORY", "USAGE"],
        &["MEMORY", "FOO"],
        &["MEMORY", "HELP"],
        &["MEMORY", "PURGE"],
        &["MEMORY", "STATS", "x"],
        &["MEMORY", "DOCTOR", "x"],
        &["LOLWUT", "VERSION", "x"],
        &["BGSAVE", "x"],
        &["LASTSAVE", "x"],
        &["ROLE", "x"],
    ];
    let redis = RedisServer::start();
    let mut theirs = connect(&format!("redis://127.0.0.1:{}/", redis.port));
    let s = Server::start();
    let mut ours = s.client();
    let (_, diffs) = replay(
        script.iter().map(|a| (a.to_vec(), false)),
        &mut theirs,
        &mut ours,
    );
    assert!(
        diffs.is_empty(),
        "{} replies differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
