//! Redis 7 Functions: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS, FCALL and
//! FCALL_RO. Replies and error texts are those of a stock redis-server 7.0.15.

use engine::settings;
use engine::{Frame, ScriptControl, Txn};

mod common;
use common::*;

const MYLIB: &str = "#!lua name=mylib
redis.register_function('knockknock', function() return 'Who\\'s there?' end)
redis.register_function('my_hset', function(keys, args)
  local hash = keys[1]
  local time = redis.call('TIME')[1]
  return redis.call('HSET', hash, '_last_modified_', time, unpack(args))
end)
redis.register_function{function_name='my_hgetall', callback=function(keys, args)
  return redis.call('HGETALL', keys[1]) end, flags={'no-writes'}, description='reads a hash'}
";

fn load(db: &mut Db, code: &str) -> Frame {
    db.run(&["FUNCTION", "LOAD", code])
}

fn lib(name: &str, body: &str) -> String {
    format!("#!lua name={name}\n{body}")
}

fn e(f: Frame) -> String {
    match f {
        Frame::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn the_documented_example() {
    let mut db = Db::new();
    assert_eq!(load(&mut db, MYLIB), bulk("mylib"));
    assert_eq!(db.run(&["FCALL", "knockknock", "0"]), bulk("Who's there?"));
    assert_eq!(
        db.run(&[
            "FCALL",
            "my_hset",
            "1",
            "myhash",
            "myfield",
            "some value",
            "another_field",
            "another value"
        ]),
        int(3)
    );
    let all = db.run(&["FCALL_RO", "my_hgetall", "1", "myhash"]);
    let Frame::Array(items) = all else {
        panic!("{all:?}")
    };
    assert_eq!(items.len(), 6);
    assert_eq!(items[0], bulk("_last_modified_"));
    assert_eq!(items[1], bulk(&(T0 / 1000).to_string()));
    // The read path runs FCALL_RO too.
    assert_eq!(
        db.read_path(&["FCALL_RO", "my_hgetall", "1", "myhash"]),
        Frame::Array(items)
    );
}

#[test]
fn load_errors_are_redis_s() {
    let mut db = Db::new();
    let cases: &[(&str, &str)] = &[
        ("return 1", "ERR Missing library metadata"),
        ("#!lua\nreturn 1", "ERR Library name was not given"),
        ("#!lua name=x", "ERR Invalid library metadata"),
        ("#!lua name=x\nreturn 1", "ERR No functions registered"),
        ("#!python name=z\nreturn 1", "ERR Engine 'python' not found"),
        ("#!lua name=z foo=bar\nreturn 1", "ERR Invalid metadata value given: foo=bar"),
        ("#!lua name=a-b\nreturn 1", "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#!lua name=y\nredis.call('ping')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
        ("#!lua name=y\nlocal s = string.len('a')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'"),
        ("#!lua name=y\nredis.setresp(3)", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'setresp'"),
        ("#!lua name=y\nx = 1", "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"),
        ("#!lua name=z\nsyntax error here", "ERR Error compiling function: user_function:2: '=' expected near 'error'"),
        ("#!lua name=y\nredis.register_function('a-b', function() return 1 end)", "ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#!lua name=y\nredis.register_function('', function() return 1 end)", "ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#!lua name=y\nredis.register_function('g', function() end)\nredis.register_function('g', function() end)", "ERR Error registering functions: ERR Function already exists in the library"),
        ("#!lua name=y\nredis.register_function{function_name='g', callback=function() end, flags={'bad'}}", "ERR Error registering functions: ERR unknown flag given"),
        ("#!lua name=y\nredis.register_function{function_name='g', callback=function() end, flags='no-writes'}", "ERR Error registering functions: ERR flags argument to redis.register_function must be a table representing function flags"),
        ("#!lua name=y\nredis.register_function{function_name='g', callback=function() end, bogus=1}", "ERR Error registering functions: ERR unknown argument given to redis.register_function"),
        ("#!lua name=y\nredis.register_function{callback=function() end}", "ERR Error registering functions: ERR redis.register_function must get a function name argument"),
        ("#!lua name=y\nredis.register_function{function_name='g'}", "ERR Error registering functions: ERR redis.register_function must get a callback argument"),
        ("#!lua name=y\nredis.register_function('g')", "ERR Error registering functions: ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
        ("#!lua name=y\nredis.register_function('g', 1)", "ERR Error registering functions: ERR second argument to redis.register_function must be a function"),
        ("#!lua name=y\nredis.register_function('a','b','c')", "ERR Error registering functions: ERR wrong number of arguments to redis.register_function"),
        ("#!lua name=y\nredis.register_function()", "ERR Error registering functions: ERR wrong number of arguments to redis.register_function"),
    ];
    for (code, want) in cases {
        assert_eq!(e(load(&mut db, code)), *want, "{code}");
    }
    // Nothing was stored by any of them.
    assert_eq!(db.run(&["FUNCTION", "LIST"]), Frame::Array(vec![]));
    // Option errors.
    assert_eq!(
        e(db.run(&["FUNCTION", "LOAD", "x", "y"])),
        "ERR Unknown option given: x"
    );
    assert_eq!(
        e(db.run(&["FUNCTION", "LOAD", "replace"])),
        "ERR Missing library metadata"
    );
    assert_eq!(
        e(db.run(&["FUNCTION", "LOAD"])),
        "ERR wrong number of arguments for 'function|load' command"
    );
    // A numeric function name is a string to Lua, as in Redis.
    assert_eq!(
        load(
            &mut db,
            &lib("num", "redis.register_function(1, function() return 7 end)")
        ),
        bulk("num")
    );
    assert_eq!(db.run(&["FCALL", "1", "0"]), int(7));
}

#[test]
fn duplicates_and_replace() {
    let mut db = Db::new();
    let x = lib("x", "redis.register_function('f', function() return 1 end)");
    assert_eq!(load(&mut db, &x), bulk("x"));
    assert_eq!(e(load(&mut db, &x)), "ERR Library 'x' already exists");
    // Another library may not take an existing function's name.
    let y = lib("y", "redis.register_function('f', function() return 2 end)");
    assert_eq!(e(load(&mut db, &y)), "ERR Function f already exists");
    // REPLACE swaps the library's functions for the new set.
    let x2 = lib("x", "redis.register_function('g', function() return 3 end)");
    assert_eq!(db.run(&["FUNCTION", "LOAD", "REPLACE", &x2]), bulk("x"));
    assert_eq!(e(db.run(&["FCALL", "f", "0"])), "ERR Function not found");
    assert_eq!(db.run(&["FCALL", "g", "0"]), int(3));
    assert_eq!(load(&mut db, &y), bulk("y"));
    assert_eq!(db.run(&["FCALL", "f", "0"]), int(2));
}

#[test]
fn fcall_errors_are_redis_s() {
    let mut db = Db::new();
    let code = "#!lua name=mylib
redis.register_function('myfunc', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function{function_name='bad', callback=function(keys, args) return redis.call('set', keys[1], 'x') end, flags={'no-writes', 'allow-oom'}}
redis.register_function('reg', function() return redis.register_function('zz', function() end) end)
redis.register_function('glob', function() return type(KEYS) end)
redis.register_function('err', function() error('oops') end)
";
    assert_eq!(load(&mut db, code), bulk("mylib"));
    assert_eq!(db.run(&["FCALL", "myfunc", "1", "k", "v"]), Frame::ok());
    assert_eq!(
        e(db.run(&["FCALL_RO", "myfunc", "1", "k", "v"])),
        "ERR Can not execute a script with write flag using *_ro command."
    );
    assert_eq!(e(db.run(&["FCALL", "bad", "1", "k"])), "ERR Write commands are not allowed from read-only scripts. script: bad, on @user_function:3.");
    assert_eq!(e(db.run(&["FCALL_RO", "bad", "1", "k"])), "ERR Write commands are not allowed from read-only scripts. script: bad, on @user_function:3.");
    assert_eq!(db.run(&["GET", "k"]), bulk("v"));
    assert_eq!(e(db.run(&["FCALL", "nope", "0"])), "ERR Function not found");
    assert_eq!(e(db.run(&["FCALL", "nope", "x"])), "ERR Function not found");
    assert_eq!(
        e(db.run(&["FCALL", "myfunc", "x"])),
        "ERR Bad number of keys provided"
    );
    assert_eq!(
        e(db.run(&["FCALL", "myfunc", "2", "k"])),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        e(db.run(&["FCALL", "myfunc", "-1"])),
        "ERR Number of keys can't be negative"
    );
    assert_eq!(
        e(db.run(&["FCALL", "myfunc"])),
        "ERR wrong number of arguments for 'fcall' command"
    );
    assert_eq!(e(db.run(&["FCALL", "reg", "0"])), "ERR user_function:4: attempt to call field 'register_function' (a nil value) script: reg, on @user_function:4.");
    assert_eq!(e(db.run(&["FCALL", "glob", "0"])), "ERR user_function:5: Script attempted to access nonexistent global variable 'KEYS' script: glob, on @user_function:5.");
    assert_eq!(
        e(db.run(&["FCALL", "err", "0"])),
        "ERR user_function:6: oops script: err, on @user_function:6."
    );
    // register_function outside a load (from EVAL) is not there at all.
    let r = e(db.run(&["EVAL", "redis.register_function('a', function() end)", "0"]));
    assert!(
        r.starts_with("ERR user_script:1: attempt to call field 'register_function' (a nil value)"),
        "{r}"
    );
    // FCALL may not be called from a script.
    let r = e(db.run(&[
        "EVAL",
        "return redis.call('fcall', 'myfunc', 1, 'k', 'v')",
        "0",
    ]));
    assert!(
        r.starts_with("ERR This Redis command is not allowed from script"),
        "{r}"
    );
}

#[test]
fn calls_share_no_state() {
    // Every call runs the library's top level afresh: an upvalue counter restarts, so a
    // node whose VM ran the function before answers like a fresh one.
    let mut db = Db::new();
    let code = lib(
        "c",
        "local n = 0\nredis.register_function('bump', function() n = n + 1 return n end)",
    );
    assert_eq!(load(&mut db, &code), bulk("c"));
    for _ in 0..3 {
        assert_eq!(db.run(&["FCALL", "bump", "0"]), int(1));
    }
    // Globals stay read-only inside a function, as in Redis.
    let code = lib("g", "redis.register_function('setg', function() x = 1 end)");
    assert_eq!(load(&mut db, &code), bulk("g"));
    let r = e(db.run(&["FCALL", "setg", "0"]));
    assert!(r.contains("Attempt to modify a readonly table"), "{r}");
}

fn list_entry(name: &str, fns: Vec<Frame>, code: Option<&str>) -> Frame {
    let mut v = vec![
        (bulk("library_name"), bulk(name)),
        (bulk("engine"), bulk("LUA")),
        (bulk("functions"), Frame::Array(fns)),
    ];
    if let Some(c) = code {
        v.push((bulk("library_code"), bulk(c)));
    }
    Frame::Map(v)
}

fn fn_entry(name: &str, desc: Option<&str>, flags: &[&str]) -> Frame {
    Frame::Map(vec![
        (bulk("name"), bulk(name)),
        (bulk("description"), desc.map_or(Frame::Null, bulk)),
        (
            bulk("flags"),
            Frame::Set(flags.iter().map(|f| Frame::Simple(f.to_string())).collect()),
        ),
    ])
}

#[test]
fn list_shape_and_filters() {
    let mut db = Db::new();
    let code = "#!lua name=mylib
redis.register_function('myfunc', function(keys, args) return 1 end)
redis.register_function{function_name='ro', callback=function(keys, args) return 2 end, flags={'allow-stale','no-writes'}, description='reads'}";
    let other = lib(
        "other",
        "redis.register_function('f2', function() return 1 end)",
    );
    load(&mut db, code);
    load(&mut db, &other);
    let mylib = list_entry(
        "mylib",
        vec![
            fn_entry("myfunc", None, &[]),
            fn_entry("ro", Some("reads"), &["no-writes", "allow-stale"]),
        ],
        None,
    );
    let other_entry = list_entry("other", vec![fn_entry("f2", None, &[])], None);
    assert_eq!(
        db.run(&["FUNCTION", "LIST"]),
        Frame::Array(vec![mylib.clone(), other_entry])
    );
    assert_eq!(
        db.run(&["FUNCTION", "LIST", "LIBRARYNAME", "my*"]),
        Frame::Array(vec![mylib])
    );
    let with_code = db.run(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "oth*"]);
    assert_eq!(
        with_code,
        Frame::Array(vec![list_entry(
            "other",
            vec![fn_entry("f2", None, &[])],
            Some(&other)
        )])
    );
    // RESP2 and RESP3 encodings of that reply, byte for byte as redis-server sends them.
    let one = db.run(&["FUNCTION", "LIST", "LIBRARYNAME", "other"]);
    let mut r2 = Vec::new();
    resp::encode(&one, false, &mut r2);
    assert_eq!(
        String::from_utf8_lossy(&r2),
        "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$5\r\nother\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$2\r\nf2\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n"
    );
    let mut r3 = Vec::new();
    resp::encode(&one, true, &mut r3);
    assert_eq!(
        String::from_utf8_lossy(&r3),
        "*1\r\n%3\r\n$12\r\nlibrary_name\r\n$5\r\nother\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n%3\r\n$4\r\nname\r\n$2\r\nf2\r\n$11\r\ndescription\r\n_\r\n$5\r\nflags\r\n~0\r\n"
    );
    for (args, want) in [
        (&["FUNCTION", "LIST", "foo"][..], "ERR Unknown argument foo"),
        (
            &["FUNCTION", "LIST", "LIBRARYNAME"],
            "ERR library name argument was not given",
        ),
        (
            &["FUNCTION", "LIST", "WITHCODE", "WITHCODE"],
            "ERR Unknown argument WITHCODE",
        ),
        (
            &["FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"],
            "ERR Unknown argument LIBRARYNAME",
        ),
    ] {
        assert_eq!(e(db.run(args)), want);
    }
}

#[test]
fn delete_flush_stats_help() {
    let mut db = Db::new();
    load(&mut db, MYLIB);
    load(
        &mut db,
        &lib(
            "other",
            "redis.register_function('f2', function() return 1 end)",
        ),
    );
    let stats = |db: &mut Db| db.run(&["FUNCTION", "STATS"]);
    let counts = |libs: i64, fns: i64| {
        Frame::Map(vec![
            (bulk("running_script"), Frame::Null),
            (
                bulk("engines"),
                Frame::Map(vec![(
                    bulk("LUA"),
                    Frame::Map(vec![
                        (bulk("libraries_count"), int(libs)),
                        (bulk("functions_count"), int(fns)),
                    ]),
                )]),
            ),
        ])
    };
    assert_eq!(stats(&mut db), counts(2, 4));
    assert_eq!(
        e(db.run(&["FUNCTION", "DELETE", "nope"])),
        "ERR Library not found"
    );
    assert_eq!(
        e(db.run(&["FUNCTION", "DELETE"])),
        "ERR wrong number of arguments for 'function|delete' command"
    );
    assert_eq!(db.run(&["FUNCTION", "DELETE", "mylib"]), Frame::ok());
    assert_eq!(
        e(db.run(&["FCALL", "knockknock", "0"])),
        "ERR Function not found"
    );
    assert_eq!(stats(&mut db), counts(1, 1));
    assert_eq!(
        e(db.run(&["FUNCTION", "FLUSH", "foo"])),
        "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
    );
    assert_eq!(
        e(db.run(&["FUNCTION", "FLUSH", "SYNC", "x"])),
        "ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP."
    );
    assert_eq!(db.run(&["FUNCTION", "FLUSH", "ASYNC"]), Frame::ok());
    assert_eq!(stats(&mut db), counts(0, 0));
    assert_eq!(e(db.run(&["FCALL", "f2", "0"])), "ERR Function not found");
    assert_eq!(
        e(db.run(&["FUNCTION", "foo"])),
        "ERR unknown subcommand 'foo'. Try FUNCTION HELP."
    );
    assert_eq!(
        e(db.run(&["FUNCTION"])),
        "ERR wrong number of arguments for 'function' command"
    );
    let Frame::Array(help) = db.run(&["FUNCTION", "HELP"]) else {
        panic!()
    };
    assert_eq!(help.len(), 40);
    assert_eq!(
        help[0],
        Frame::Simple("FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into())
    );
    // Nothing that changes the libraries runs on the read path.
    assert!(e(db.read_path(&["FUNCTION", "LOAD", MYLIB])).contains("read path"));
}

#[test]
fn dump_restore_round_trip_and_policies() {
    let mut db = Db::new();
    load(&mut db, MYLIB);
    let Frame::Bulk(payload) = db.run(&["FUNCTION", "DUMP"]) else {
        panic!()
    };
    let p = |db: &mut Db, args: &[&[u8]]| db.runb(args.iter().map(|a| a.to_vec()).collect());
    assert_eq!(
        e(p(&mut db, &[b"FUNCTION", b"RESTORE", &payload])),
        "ERR Library mylib already exists"
    );
    assert_eq!(
        e(p(&mut db, &[b"FUNCTION", b"RESTORE", &payload, b"APPEND"])),
        "ERR Library mylib already exists"
    );
    assert_eq!(
        p(&mut db, &[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"]),
        Frame::ok()
    );
    // A library holding one of the payload's function names blocks REPLACE.
    assert_eq!(db.run(&["FUNCTION", "FLUSH"]), Frame::ok());
    load(
        &mut db,
        &lib(
            "zz",
            "redis.register_function('knockknock', function() return 1 end)",
        ),
    );
    assert_eq!(
        e(p(&mut db, &[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"])),
        "ERR Function knockknock already exists"
    );
    assert_eq!(
        p(&mut db, &[b"FUNCTION", b"RESTORE", &payload, b"FLUSH"]),
        Frame::ok()
    );
    assert_eq!(db.run(&["FCALL", "knockknock", "0"]), bulk("Who's there?"));
    let Frame::Bulk(again) = db.run(&["FUNCTION", "DUMP"]) else {
        panic!()
    };
    assert_eq!(again, payload);
    // Into an empty database, then the same calls work.
    let mut fresh = Db::new();
    assert_eq!(
        p(&mut fresh, &[b"FUNCTION", b"RESTORE", &payload]),
        Frame::ok()
    );
    assert_eq!(
        fresh.run(&["FCALL", "knockknock", "0"]),
        bulk("Who's there?")
    );
    // Damaged payloads.
    let mut bad = payload.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        e(p(&mut fresh, &[b"FUNCTION", b"RESTORE", &bad])),
        "ERR DUMP payload version or checksum are wrong"
    );
    assert_eq!(
        e(p(&mut fresh, &[b"FUNCTION", b"RESTORE", b""])),
        "ERR DUMP payload version or checksum are wrong"
    );
    assert_eq!(
        e(p(
            &mut fresh,
            &[b"FUNCTION", b"RESTORE", &payload, b"bogus"]
        )),
        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
    );
    assert_eq!(
        e(p(
            &mut fresh,
            &[b"FUNCTION", b"RESTORE", &payload, b"FLUSH", b"x"]
        )),
        "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP."
    );
}

#[test]
fn restores_a_payload_dumped_by_redis_server() {
    // FUNCTION DUMP of redis-server 7.0.15 holding one library (its code LZF-compressed).
    let hex = "f5c340ad40e51f23216c7561206e616d653d6d796c69620a72656469732e72656769737465725f0b66756e6374696f6e28276d79400b02272c2040066012186b6579732c2061726773292072657475726e203120656e6429e00f44007bc03a005f60700227726f204e0863616c6c6261636b3dc01ce00b5700324057207a126c6167733d7b276e6f2d777269746573272c27203e126f772d7374616c65277d2c206465736372697040a020600565616473277d0a009431424e72a6fe41";
    let payload: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let mut db = Db::new();
    let r = db.runb(vec![b"FUNCTION".to_vec(), b"RESTORE".to_vec(), payload]);
    assert_eq!(r, Frame::ok());
    assert_eq!(db.run(&["FCALL", "myfunc", "0"]), int(1));
    assert_eq!(db.run(&["FCALL_RO", "ro", "0"]), int(2));
    let Frame::Array(libs) = db.run(&["FUNCTION", "LIST", "WITHCODE"]) else {
        panic!()
    };
    let Frame::Map(fields) = &libs[0] else {
        panic!()
    };
    assert_eq!(fields[3].1, bulk("#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 1 end)\nredis.register_function{function_name='ro', callback=function(keys, args) return 2 end, flags={'no-writes','allow-stale'}, description='reads'}"));
}

#[test]
fn replicas_applying_the_same_entries_end_identical() {
    // Two stores apply the same entries; one's VM (this thread's) compiled the library
    // before, the other starts from a fresh thread's VM.
    let entries: Vec<Vec<&str>> = vec![
        vec!["FUNCTION", "LOAD", MYLIB],
        vec!["FCALL", "my_hset", "1", "h", "a", "1"],
        vec!["FUNCTION", "LOAD", "#!lua name=r\nredis.register_function('rnd', function(keys) return redis.call('set', keys[1], math.random(1000000)) end)"],
        vec!["FCALL", "rnd", "1", "k"],
        vec!["FCALL", "rnd", "1", "k2"],
        vec!["FUNCTION", "DELETE", "mylib"],
    ];
    let apply = |entries: Vec<Vec<String>>| {
        let mut db = Db::new();
        let replies: Vec<Frame> = entries
            .iter()
            .map(|e| {
                db.seed += 1;
                db.run(&e.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .collect();
        (replies, db.store.map.clone())
    };
    let owned: Vec<Vec<String>> = entries
        .iter()
        .map(|e| e.iter().map(|s| s.to_string()).collect())
        .collect();
    let a = apply(owned.clone());
    let b = std::thread::spawn(move || apply(owned)).join().unwrap();
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert!(a.1.keys().any(|(_, k)| k.as_slice() == b"function:lib:r"));
    assert!(a.1.keys().any(|(_, k)| k.as_slice() == b"function:fn:rnd"));
    assert!(!a
        .1
        .keys()
        .any(|(_, k)| k.as_slice() == b"function:lib:mylib"));
}

fn set_budget(db: &mut Db, value: &str) {
    db.index += 1;
    let mut t = Txn::new(&db.store, db.index, db.now, db.seed);
    settings::apply_config_set(
        &mut t,
        &[(
            "script-max-instructions".to_string(),
            value.as_bytes().to_vec(),
        )],
    )
    .unwrap();
    let effects = t.into_effects();
    db.store.apply(&effects);
}

#[test]
fn the_budget_stops_a_runaway_function_with_no_writes_left() {
    let mut db = Db::new();
    set_budget(&mut db, "2000000");
    load(&mut db, &lib("spin", "redis.register_function('spin', function(keys) redis.call('set', keys[1], 'partial') redis.call('incr', 'before') while true do end end)"));
    db.run(&["SET", "before", "1"]);
    let r = e(db.run(&["FCALL", "spin", "1", "partial"]));
    assert!(
        r.starts_with("ERR Script killed after running more Lua instructions than script-max-instructions allows"),
        "{r}"
    );
    assert!(
        db.last.writes.is_empty(),
        "a stopped function wrote {:?}",
        db.last
    );
    assert_eq!(db.run(&["GET", "partial"]), Frame::Null);
    assert_eq!(db.run(&["GET", "before"]), bulk("1"));
    // A library whose top level never ends is refused by the budget at load, with
    // Redis's load timeout text.
    let r = e(load(&mut db, &lib("loop", "while true do end")));
    assert_eq!(
        r,
        "ERR Error registering functions: ERR FUNCTION LOAD timeout"
    );
}

#[test]
fn function_kill_stops_a_read_path_function_and_busy_names_function_kill() {
    assert_eq!(
        ScriptControl::request_function_kill(),
        Err("NOTBUSY No scripts in execution right now.")
    );
    let mut db = Db::new();
    load(&mut db, &lib("loop", "redis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}"));
    let store = db.store;
    let worker = std::thread::spawn(move || {
        let mut t = Txn::read_only(&store, 1_000, 7);
        t.run(0, &[b"FCALL_RO".to_vec(), b"spin".to_vec(), b"0".to_vec()])
    });
    let mut waited = 0;
    while ScriptControl::running_since_ms().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(5));
        waited += 1;
        assert!(waited < 2000, "function never started");
    }
    assert_eq!(
        ScriptControl::busy_error(),
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    );
    // SCRIPT KILL does not stop a function: Redis answers with the function BUSY text.
    assert_eq!(ScriptControl::request_kill(), Err("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."));
    // FUNCTION STATS shows it (the stats entry runs elsewhere, as on the apply thread).
    let mut other = Db::new();
    let Frame::Map(stats) = other.run(&["FUNCTION", "STATS"]) else {
        panic!()
    };
    let Frame::Map(running) = &stats[0].1 else {
        panic!("{stats:?}")
    };
    assert_eq!(running[0], (bulk("name"), bulk("spin")));
    assert_eq!(
        running[1],
        (bulk("command"), arr(&["FCALL_RO", "spin", "0"]))
    );
    assert_eq!(ScriptControl::request_function_kill(), Ok(()));
    let r = e(worker.join().unwrap());
    assert!(
        r.starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{r}"
    );
    assert!(ScriptControl::running_since_ms().is_none());
}
