//! Geo commands checked against Redis 7: the redis.io examples, and replies, scores and
//! errors observed from a real redis-server 7.0.15 for the same commands (embedded
//! here, so the suite needs no server), plus properties: positions round-trip within
//! a cell and searches agree with a brute-force scan by GEODIST.

use engine::Frame;
use proptest::prelude::*;

mod common;
use common::*;

const WRONGTYPE: &str = "E:WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "E:ERR syntax error";

fn sicily() -> Db {
    let mut db = Db::new();
    assert_eq!(
        db.show("GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"),
        "I:2"
    );
    db
}

// ---- redis.io examples ------------------------------------------------------------------

#[test]
fn geoadd_and_geodist_examples() {
    let mut db = sicily();
    assert_eq!(db.show("GEODIST Sicily Palermo Catania"), "B:166274.1516");
    assert_eq!(db.show("GEODIST Sicily Palermo Catania km"), "B:166.2742");
    assert_eq!(db.show("GEODIST Sicily Palermo Catania mi"), "B:103.3182");
    assert_eq!(
        db.show("GEODIST Sicily Palermo Catania ft"),
        "B:545518.8700"
    );
    assert_eq!(db.show("GEODIST Sicily Palermo Catania KM"), "B:166.2742");
    assert_eq!(db.show("GEODIST Sicily Foo Bar"), "N");
    assert_eq!(db.show("GEODIST Sicily Palermo Foo"), "N");
    assert_eq!(db.show("GEODIST nokey a b"), "N");
    assert_eq!(db.show("GEODIST Sicily Palermo Palermo"), "B:0.0000");
}

#[test]
fn scores_are_redis_geohashes() {
    let mut db = sicily();
    // The 52-bit interleaved geohashes Redis stores as scores.
    assert_eq!(
        db.run(&["ZSCORE", "Sicily", "Palermo"]),
        Frame::Double(3479099956230698.0)
    );
    assert_eq!(
        db.run(&["ZSCORE", "Sicily", "Catania"]),
        Frame::Double(3479447370796909.0)
    );
    assert_eq!(db.show("TYPE Sicily"), "S:zset");
    // A geo set written as a plain sorted set (e.g. copied from Redis) reads the same.
    db.run(&["ZADD", "copy", "3479099956230698", "Palermo"]);
    db.run(&["ZADD", "copy", "3479447370796909", "Catania"]);
    assert_eq!(db.show("GEODIST copy Palermo Catania"), "B:166274.1516");
}

#[test]
fn geohash_example() {
    let mut db = sicily();
    assert_eq!(
        db.show("GEOHASH Sicily Palermo Catania"),
        "[B:sqc8b49rny0,B:sqdtr74hyu0]"
    );
    assert_eq!(db.show("GEOHASH Sicily Palermo Nope"), "[B:sqc8b49rny0,N]");
    assert_eq!(db.show("GEOHASH nokey a b"), "[N,N]");
    assert_eq!(db.show("GEOHASH Sicily"), "[]");
}

#[test]
fn geopos_example() {
    let mut db = sicily();
    assert_eq!(
        db.show("GEOPOS Sicily Palermo Catania NonExisting"),
        "[[B:13.36138933897018433,B:38.11555639549629859],\
         [B:15.08726745843887329,B:37.50266842333162032],NA]"
    );
    assert_eq!(db.show("GEOPOS nokey a b"), "[NA,NA]");
}

#[test]
fn georadius_examples() {
    let mut db = sicily();
    assert_eq!(
        db.show("GEORADIUS Sicily 15 37 200 km WITHDIST"),
        "[[B:Palermo,B:190.4424],[B:Catania,B:56.4413]]"
    );
    assert_eq!(
        db.show("GEORADIUS Sicily 15 37 200 km WITHCOORD"),
        "[[B:Palermo,[B:13.36138933897018433,B:38.11555639549629859]],\
         [B:Catania,[B:15.08726745843887329,B:37.50266842333162032]]]"
    );
    assert_eq!(
        db.show("GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD"),
        "[[B:Palermo,B:190.4424,[B:13.36138933897018433,B:38.11555639549629859]],\
         [B:Catania,B:56.4413,[B:15.08726745843887329,B:37.50266842333162032]]]"
    );
    assert_eq!(
        db.show("GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH"),
        "[[B:Palermo,B:190.4424,I:3479099956230698,[B:13.36138933897018433,B:38.11555639549629859]],\
         [B:Catania,B:56.4413,I:3479447370796909,[B:15.08726745843887329,B:37.50266842333162032]]]"
    );
    assert_eq!(
        db.show("GEORADIUS Sicily 15 37 200 km WITHHASH DESC"),
        "[[B:Palermo,I:3479099956230698],[B:Catania,I:3479447370796909]]"
    );
    assert_eq!(
        db.show("GEORADIUS Sicily 15 37 200 km COUNT 1"),
        "[B:Catania]"
    );
    assert_eq!(
        db.show("GEORADIUS Sicily 15 37 200 km COUNT 1 DESC"),
        "[B:Palermo]"
    );
    assert_eq!(
        db.show("GEORADIUS Sicily 15 37 200 km COUNT 1 ANY"),
        "[B:Palermo]"
    );
    assert_eq!(
        db.show("GEORADIUS_RO Sicily 15 37 200 km ASC"),
        "[B:Catania,B:Palermo]"
    );
    assert_eq!(db.show("GEORADIUS Sicily 15 37 1 km"), "[]");
    assert_eq!(db.show("GEORADIUS nokey 15 37 200 km"), "[]");
}

#[test]
fn georadiusbymember_example() {
    let mut db = sicily();
    assert_eq!(
        db.show("GEOADD Sicily 13.583333 37.316667 Agrigento"),
        "I:1"
    );
    assert_eq!(
        db.show("GEORADIUSBYMEMBER Sicily Agrigento 100 km"),
        "[B:Agrigento,B:Palermo]"
    );
    assert_eq!(
        db.show("GEORADIUSBYMEMBER_RO Sicily Agrigento 100 km WITHDIST ASC"),
        "[[B:Agrigento,B:0.0000],[B:Palermo,B:90.9778]]"
    );
    assert_eq!(
        db.show("GEORADIUSBYMEMBER Sicily Nope 100 km"),
        "E:ERR could not decode requested zset member"
    );
    // Without a source key nothing is checked but the options.
    assert_eq!(db.show("GEORADIUSBYMEMBER nokey Nope abc km"), "[]");
}

#[test]
fn geosearch_examples() {
    let mut db = sicily();
    db.show("GEOADD Sicily 12.758489 38.788135 edge1 17.241510 38.788135 edge2");
    assert_eq!(
        db.show("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC"),
        "[B:Catania,B:Palermo]"
    );
    assert_eq!(
        db.show("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST"),
        "[[B:Catania,B:56.4413,[B:15.08726745843887329,B:37.50266842333162032]],\
         [B:Palermo,B:190.4424,[B:13.36138933897018433,B:38.11555639549629859]],\
         [B:edge2,B:279.7403,[B:17.24151045083999634,B:38.78813451624225195]],\
         [B:edge1,B:279.7405,[B:12.7584877610206604,B:38.78813451624225195]]]"
    );
    db.show("GEOADD Sicily 13.583333 37.316667 Agrigento");
    assert_eq!(
        db.show("GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km DESC WITHDIST"),
        "[[B:Catania,B:166.2742],[B:edge1,B:91.4007],[B:Agrigento,B:90.9778],[B:Palermo,B:0.0000]]"
    );
    assert_eq!(
        db.show("GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 100 mi WITHDIST"),
        "[[B:Agrigento,B:56.5311],[B:Palermo,B:0.0000],[B:edge1,B:56.7939]]"
    );
    assert_eq!(
        db.show("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHHASH COUNT 2"),
        "[[B:Catania,I:3479447370796909],[B:Agrigento,I:3479030013248308]]"
    );
    assert_eq!(
        db.show("GEOSEARCH nokey FROMMEMBER Nope BYRADIUS 100 mi WITHDIST"),
        "[]"
    );
}

#[test]
fn geosearchstore_example() {
    let mut db = sicily();
    db.show("GEOADD Sicily 12.758489 38.788135 edge1 17.241510 38.788135 edge2");
    assert_eq!(
        db.show("GEOSEARCHSTORE key1 Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC COUNT 3"),
        "I:3"
    );
    assert_eq!(
        db.show("GEOSEARCH key1 FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST WITHHASH"),
        "[[B:Catania,B:56.4413,I:3479447370796909,[B:15.08726745843887329,B:37.50266842333162032]],\
         [B:Palermo,B:190.4424,I:3479099956230698,[B:13.36138933897018433,B:38.11555639549629859]],\
         [B:edge2,B:279.7403,I:3481342659049484,[B:17.24151045083999634,B:38.78813451624225195]]]"
    );
    assert_eq!(
        db.show(
            "GEOSEARCHSTORE key2 Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC COUNT 3 STOREDIST"
        ),
        "I:3"
    );
    assert_eq!(
        db.show("ZRANGE key2 0 -1 WITHSCORES"),
        "[B:Catania,D:56.4412578701582,B:Palermo,D:190.44242984775784,B:edge2,D:279.7403417843143]"
    );
}

// ---- STORE / STOREDIST --------------------------------------------------------------------

#[test]
fn store_and_storedist() {
    let mut db = sicily();
    db.show("GEOADD Sicily 13.583333 37.316667 Agrigento");
    db.run(&["SET", "dst", "old"]);
    db.run(&["EXPIRE", "dst", "100"]);
    assert_eq!(db.show("GEORADIUS Sicily 15 37 200 km STORE dst"), "I:3");
    assert_eq!(
        db.show("ZRANGE dst 0 -1 WITHSCORES"),
        "[B:Agrigento,D:3479030013248308,B:Palermo,D:3479099956230698,B:Catania,D:3479447370796909]"
    );
    assert_eq!(db.show("TTL dst"), "I:-1");
    assert_eq!(
        db.show("GEORADIUS Sicily 15 37 200 km STOREDIST dst2"),
        "I:3"
    );
    assert_eq!(
        db.show("ZRANGE dst2 0 -1 WITHSCORES"),
        "[B:Catania,D:56.4412578701582,B:Agrigento,D:130.42348706714702,B:Palermo,D:190.44242984775784]"
    );
    // The last of STORE/STOREDIST wins.
    assert_eq!(
        db.show("GEORADIUS Sicily 15 37 200 km STOREDIST dst3 STORE dst4 COUNT 2"),
        "I:2"
    );
    assert_eq!(db.show("EXISTS dst3"), "I:0");
    assert_eq!(db.show("ZRANGE dst4 0 -1"), "[B:Agrigento,B:Catania]");
    // Nothing found (or no source) deletes the destination.
    assert_eq!(db.show("GEORADIUS Sicily 15 37 1 km STORE dst2"), "I:0");
    assert_eq!(db.show("EXISTS dst2"), "I:0");
    assert_eq!(
        db.show("GEORADIUSBYMEMBER nokey Nope 10 km STORE dst"),
        "I:0"
    );
    assert_eq!(db.show("EXISTS dst"), "I:0");
    assert_eq!(
        db.show("GEOSEARCHSTORE dst4 nokey FROMLONLAT 15 37 BYBOX 400 400 km"),
        "I:0"
    );
    assert_eq!(db.show("EXISTS dst4"), "I:0");
    // The source may be the destination.
    assert_eq!(
        db.show("GEOSEARCHSTORE Sicily Sicily FROMLONLAT 15 37 BYRADIUS 100 km"),
        "I:1"
    );
    assert_eq!(db.show("ZRANGE Sicily 0 -1"), "[B:Catania]");
}

// ---- options and errors -----------------------------------------------------------------

#[test]
fn geoadd_options() {
    let mut db = Db::new();
    assert_eq!(db.show("GEOADD x nx 1 1 a"), "I:1");
    assert_eq!(db.show("GEOADD x nx 2 2 a"), "I:0");
    assert_eq!(db.show("GEOADD x xx 2 2 a"), "I:0");
    assert_eq!(db.show("GEOADD x xx ch 3 3 a"), "I:1");
    assert_eq!(db.show("GEOADD x ch 3 3 a 4 4 b"), "I:1");
    assert_eq!(db.show("GEOADD x xx 5 5 c"), "I:0");
    assert_eq!(db.show("ZCARD x"), "I:2");
    assert_eq!(
        db.show("GEOPOS x a"),
        "[[B:2.99999982118606567,B:3.00000091215010656]]"
    );
    assert_eq!(db.show("GEOADD x xx nx 2 2 a"), SYNTAX);
    assert_eq!(db.show("GEOADD x ch ch ch"), SYNTAX);
    assert_eq!(db.show("GEOADD x gt 1 2 a"), SYNTAX);
    assert_eq!(db.show("GEOADD x 1 2 a 3"), SYNTAX);
    assert_eq!(
        db.show("GEOADD x 2 2"),
        "E:ERR wrong number of arguments for 'geoadd' command"
    );
    assert_eq!(
        db.show("GEOADD x 1 abc b"),
        "E:ERR value is not a valid float"
    );
    assert_eq!(
        db.show("GEOADD x 1 nan b"),
        "E:ERR value is not a valid float"
    );
}

#[test]
fn coordinate_limits() {
    let mut db = Db::new();
    assert_eq!(
        db.show("GEOADD x 200 100 a"),
        "E:ERR invalid longitude,latitude pair 200.000000,100.000000"
    );
    assert_eq!(
        db.show("GEOADD x 0 85.06 a"),
        "E:ERR invalid longitude,latitude pair 0.000000,85.060000"
    );
    // One bad triple refuses the whole command.
    assert_eq!(
        db.show("GEOADD x 1 1 ok -180.5 0 bad"),
        "E:ERR invalid longitude,latitude pair -180.500000,0.000000"
    );
    assert_eq!(db.show("EXISTS x"), "I:0");
    assert_eq!(
        db.show("GEOADD x 0 -85.05112878 s 0 85.05112878 n -180 0 w 180 0 e"),
        "I:4"
    );
    assert_eq!(
        db.show("GEOPOS x s n w e"),
        "[[B:0.00000268220901489,B:-85.05112751263942528],\
         [B:0.00000268220901489,B:85.0511287799999991],\
         [B:-179.99999731779098511,B:0.00000126736058093],\
         [B:180,B:0.00000126736058093]]"
    );
    assert_eq!(
        db.show("GEOHASH x s n w e"),
        "[B:h0bh0hbj200,B:up05b5048p0,B:80000000000,B:80000000000]"
    );
    assert_eq!(
        db.show("GEORADIUS x 0 86 10 km"),
        "E:ERR invalid longitude,latitude pair 0.000000,86.000000"
    );
}

#[test]
fn search_errors() {
    let mut db = sicily();
    let cases = [
        ("GEORADIUS Sicily 15 37 200 km COUNT 0", "E:ERR COUNT must be > 0"),
        ("GEORADIUS Sicily 15 37 200 km COUNT -3", "E:ERR COUNT must be > 0"),
        ("GEORADIUS Sicily 15 37 200 km COUNT x", "E:ERR value is not an integer or out of range"),
        ("GEORADIUS Sicily 15 37 200 km COUNT", SYNTAX),
        ("GEORADIUS Sicily 15 37 200 km ANY", "E:ERR the ANY argument requires COUNT argument"),
        ("GEORADIUS Sicily 15 37 -1 km", "E:ERR radius cannot be negative"),
        ("GEORADIUS Sicily 15 37 abc km", "E:ERR need numeric radius"),
        ("GEORADIUS Sicily 15 37 200 parsec", "E:ERR unsupported unit provided. please use M, KM, FT, MI"),
        ("GEODIST Sicily Palermo Catania yd", "E:ERR unsupported unit provided. please use M, KM, FT, MI"),
        ("GEODIST Sicily Palermo Catania km x", SYNTAX),
        ("GEORADIUS Sicily 200 37 200 km", "E:ERR invalid longitude,latitude pair 200.000000,37.000000"),
        ("GEORADIUS Sicily 15 37 200 km foo", SYNTAX),
        ("GEORADIUS_RO Sicily 15 37 200 km STORE dst", SYNTAX),
        ("GEORADIUSBYMEMBER_RO Sicily Palermo 100 km STOREDIST dst", SYNTAX),
        ("GEORADIUS Sicily 15 37 200 km STOREDIST dst2 WITHDIST", "E:ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        ("GEOSEARCH Sicily FROMMEMBER Nope BYRADIUS 100 mi", "E:ERR could not decode requested zset member"),
        ("GEOSEARCH Sicily BYRADIUS 100 mi", "E:ERR wrong number of arguments for 'geosearch' command"),
        ("GEOSEARCH Sicily BYRADIUS 100 mi ASC WITHDIST", "E:ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH"),
        ("geosearch Sicily BYRADIUS 100 mi ASC WITHDIST", "E:ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 ASC WITHDIST", "E:ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 1 km", SYNTAX),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km BYBOX 1 1 km", SYNTAX),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 -1 km", "E:ERR height or width cannot be negative"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX a 1 km", "E:ERR need numeric width"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 b km", "E:ERR need numeric height"),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km STORE x", SYNTAX),
        ("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST", SYNTAX),
        ("GEOSEARCHSTORE d Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHDIST", "E:ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
    ];
    for (cmd, want) in cases {
        assert_eq!(db.show(cmd), want, "{cmd}");
    }
}

#[test]
fn wrong_types() {
    let mut db = Db::new();
    db.run(&["SET", "str", "v"]);
    for cmd in [
        "GEOADD str 1 1 a",
        "GEOPOS str a",
        "GEODIST str a b",
        "GEOHASH str a",
        "GEORADIUS str 1 1 1 km",
        "GEORADIUS_RO str 1 1 1 km",
        "GEORADIUSBYMEMBER str a 1 km",
        "GEOSEARCH str FROMLONLAT 1 1 BYRADIUS 1 km",
        "GEOSEARCHSTORE d str FROMLONLAT 1 1 BYRADIUS 1 km",
        // The type is checked before the options are parsed.
        "GEOSEARCH str FROMLONLAT 1 1 BYRADIUS 1 km BOGUS",
    ] {
        assert_eq!(db.show(cmd), WRONGTYPE, "{cmd}");
    }
}

// ---- wide searches (neighbour cells, antimeridian, poles), as Redis answers them -----------

#[test]
fn wide_searches_match_redis() {
    let mut db = Db::new();
    assert_eq!(
        db.show("GEOADD big 0 0 p0 1 1 p1 -1 -1 p2 179.9 0 p3 -179.9 0 p4 0 80 p5 0 -80 p6 45 45 p7 90 -45 p8 -135 70 p9"),
        "I:10"
    );
    let cases = [
        ("GEORADIUS big 0 0 20000 km WITHDIST ASC", "[[B:p0,B:0.0003],[B:p1,B:157.2937],[B:p2,B:157.2937],[B:p7,B:6673.5782],[B:p5,B:8898.1041],[B:p6,B:8898.1041],[B:p8,B:10010.3672],[B:p9,B:11567.0286]]"),
        ("GEORADIUS big 0 0 5000 km WITHDIST ASC", "[[B:p0,B:0.0003],[B:p1,B:157.2937],[B:p2,B:157.2937]]"),
        ("GEORADIUS big 180 0 50 km WITHDIST", "[[B:p3,B:11.1227]]"),
        ("GEORADIUS big 0 85 1500 km WITHDIST", "[[B:p5,B:556.1314]]"),
        ("GEOSEARCH big FROMLONLAT 0 0 BYBOX 40000 20000 km WITHDIST ASC", "[[B:p0,B:0.0003],[B:p1,B:157.2937],[B:p2,B:157.2937],[B:p7,B:6673.5782],[B:p5,B:8898.1041],[B:p6,B:8898.1041],[B:p8,B:10010.3672],[B:p9,B:11567.0286]]"),
        ("GEOSEARCH big FROMLONLAT 170 -20 BYBOX 30000 10000 mi WITHDIST ASC", "[[B:p3,B:1536.0956],[B:p4,B:1542.0476],[B:p8,B:4773.6322],[B:p6,B:5519.0689],[B:p7,B:8883.2989],[B:p2,B:10866.0942],[B:p0,B:10901.2787],[B:p1,B:10931.2306]]"),
        ("GEORADIUS big 0 0 0 km WITHDIST", "[]"),
        ("GEORADIUS big 0 0 20000 km COUNT 3 ANY", "[B:p0,B:p1,B:p5]"),
        ("GEORADIUS big 0 0 20000 km COUNT 3 ANY ASC", "[B:p0,B:p1,B:p5]"),
        ("GEORADIUS big 0 0 20000 km COUNT 3 DESC WITHCOORD", "[[B:p9,[B:-134.99999731779098511,B:69.99999889346560167]],[B:p8,[B:90.00000268220901489,B:-45.00000100864581043]],[B:p6,[B:0.00000268220901489,B:-80.00000108905891238]]]"),
    ];
    for (cmd, want) in cases {
        assert_eq!(db.show(cmd), want, "{cmd}");
    }
}

#[test]
fn key_positions_include_the_store_key() {
    let argv = |s: &str| {
        s.split(' ')
            .map(|a| a.as_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    let spec = engine::lookup(b"georadius").unwrap();
    assert!(spec.is_write());
    assert_eq!(
        spec.key_positions(&argv("GEORADIUS src 1 2 3 km STORE a STOREDIST b")),
        vec![1, 9]
    );
    assert_eq!(spec.key_positions(&argv("GEORADIUS src 1 2 3 km")), vec![1]);
    let spec = engine::lookup(b"geosearchstore").unwrap();
    assert_eq!(
        spec.key_positions(&argv("GEOSEARCHSTORE d s FROMLONLAT 1 1 BYRADIUS 1 km")),
        vec![1, 2]
    );
    for ro in [
        "geosearch",
        "georadius_ro",
        "georadiusbymember_ro",
        "geopos",
        "geodist",
        "geohash",
    ] {
        assert!(!engine::lookup(ro.as_bytes()).unwrap().is_write(), "{ro}");
    }
}

// ---- properties ---------------------------------------------------------------------------

fn coord() -> impl Strategy<Value = (f64, f64)> {
    (-180.0f64..=180.0, -85.05112878f64..=85.05112878)
}

fn pos_of(db: &mut Db, key: &str, member: &str) -> (f64, f64) {
    match db.run(&["GEOPOS", key, member]) {
        Frame::Array(v) => match &v[0] {
            Frame::Array(xy) => {
                let num = |f: &Frame| match f {
                    Frame::Bulk(b) => String::from_utf8_lossy(b).parse::<f64>().unwrap(),
                    other => panic!("{other:?}"),
                };
                (num(&xy[0]), num(&xy[1]))
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A stored position comes back within half a 26-bit cell of the one given.
    #[test]
    fn positions_round_trip((x, y) in coord()) {
        let mut db = Db::new();
        let (xs, ys) = (format!("{x}"), format!("{y}"));
        prop_assert_eq!(db.run(&["GEOADD", "g", &xs, &ys, "m"]), int(1));
        let (gx, gy) = pos_of(&mut db, "g", "m");
        prop_assert!((gx - x).abs() <= 360.0 / (1u64 << 26) as f64, "{} vs {}", gx, x);
        prop_assert!((gy - y).abs() <= 170.2 / (1u64 << 26) as f64, "{} vs {}", gy, y);
        let h = db.run(&["GEOHASH", "g", "m"]);
        match h {
            Frame::Array(v) => prop_assert!(matches!(&v[0], Frame::Bulk(b) if b.len() == 11 && b[10] == b'0')),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// GEOSEARCH BYRADIUS finds exactly the members GEODIST puts inside the radius
    /// (points within a millimetre of the edge are left out of the comparison), at
    /// any latitude up to 80 degrees and across the antimeridian.
    #[test]
    fn radius_search_matches_brute_force(
        center in (-180.0f64..180.0, -80.0f64..80.0),
        offsets in proptest::collection::vec((-1.0f64..1.0, -1.0f64..1.0), 1..40),
        radius_km in 1.0f64..800.0,
    ) {
        let mut db = Db::new();
        let cx = format!("{}", center.0);
        let cy = format!("{}", center.1);
        db.run(&["GEOADD", "g", &cx, &cy, "center"]);
        let mut names = vec!["center".to_string()];
        // Points spread over about twice the radius around the centre.
        let dlat = (2.0 * radius_km / 111.0).min(20.0);
        let dlon = (dlat / center.1.to_radians().cos()).min(180.0);
        for (i, (dx, dy)) in offsets.iter().enumerate() {
            let mut lon = center.0 + dx * dlon;
            if lon > 180.0 {
                lon -= 360.0;
            } else if lon < -180.0 {
                lon += 360.0;
            }
            let lat = (center.1 + dy * dlat).clamp(-85.0, 85.0);
            let (x, y) = (format!("{lon}"), format!("{lat}"));
            let name = format!("p{i}");
            prop_assert_eq!(db.run(&["GEOADD", "g", &x, &y, &name]), int(1));
            names.push(name);
        }
        let r = format!("{radius_km}");
        let found = match db.run(&["GEOSEARCH", "g", "FROMMEMBER", "center", "BYRADIUS", &r, "km", "WITHDIST"]) {
            Frame::Array(v) => v.into_iter().map(|it| match it {
                Frame::Array(p) => match &p[0] { Frame::Bulk(b) => String::from_utf8(b.clone()).unwrap(), o => panic!("{o:?}") },
                o => panic!("{o:?}"),
            }).collect::<std::collections::BTreeSet<_>>(),
            other => panic!("{other:?}"),
        };
        for n in &names {
            let d = match db.run(&["GEODIST", "g", "center", n, "km"]) {
                Frame::Bulk(b) => String::from_utf8_lossy(&b).parse::<f64>().unwrap(),
                other => panic!("{other:?}"),
            };
            if (d - radius_km).abs() < 1e-3 {
                continue;
            }
            prop_assert_eq!(found.contains(n), d < radius_km, "{} at {} km, radius {}", n, d, radius_km);
        }
    }
}
