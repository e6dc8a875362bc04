//! Lua scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT) checked against Redis 7.2:
//! its test suite's cases (tests/unit/scripting.tcl), the documented conversions and
//! error texts, and what replication needs (a replicated script cache, determinism).

use engine::{Frame, MemStore, Txn};
use keys::Cf;

mod common;
use common::*;

fn sha1(s: &str) -> String {
    sha1_smol::Sha1::from(s).digest().to_string()
}

fn eval_argv(cmd: &str, script: &str, keys: &[&str], args: &[&str]) -> Vec<Vec<u8>> {
    let mut argv = vec![
        cmd.as_bytes().to_vec(),
        script.as_bytes().to_vec(),
        keys.len().to_string().into_bytes(),
    ];
    argv.extend(keys.iter().chain(args).map(|s| s.as_bytes().to_vec()));
    argv
}

impl Db {
    fn eval(&mut self, script: &str, keys: &[&str], args: &[&str]) -> Frame {
        self.runb(eval_argv("EVAL", script, keys, args))
    }

    /// Runs one command on the read path (as a replica or EVAL_RO would).
    fn read(&self, argv: Vec<Vec<u8>>) -> Frame {
        let mut t = Txn::read_only(&self.store, self.now, self.seed);
        let f = t.run(0, &argv);
        assert!(t.into_effects().is_empty(), "the read path wrote");
        resp2_pairs(f)
    }

    fn scripts(&self) -> Vec<(String, Vec<u8>)> {
        self.store
            .map
            .iter()
            .filter(|((cf, k), _)| *cf == Cf::Sm && k.starts_with(b"script:"))
            .map(|((_, k), v)| (String::from_utf8_lossy(&k[7..]).into_owned(), v.clone()))
            .collect()
    }
}

fn simple(s: &str) -> Frame {
    Frame::Simple(s.to_string())
}

fn arr_of(v: Vec<Frame>) -> Frame {
    Frame::Array(v)
}

/// The suffix Redis 7 adds to an error raised inside a script.
fn at(script: &str, line: u32) -> String {
    format!(" script: {}, on @user_script:{line}.", sha1(script))
}

fn assert_err_prefix(f: &Frame, prefix: &str) {
    match f {
        Frame::Error(e) => assert!(
            e.starts_with(prefix),
            "{e:?} does not start with {prefix:?}"
        ),
        other => panic!("expected an error starting with {prefix:?}, got {other:?}"),
    }
}

// ---- Lua -> Redis conversions ------------------------------------------------------------

#[test]
fn lua_values_become_replies() {
    let mut db = Db::new();
    let cases: Vec<(&str, Frame)> = vec![
        ("return 'hello'", bulk("hello")),
        ("return 100.5", int(100)),
        ("return -3.9", int(-3)),
        ("return 9007199254740991", int(9007199254740991)),
        ("return true", int(1)),
        ("return false", Frame::Null),
        ("return nil", Frame::Null),
        ("return function() end", Frame::Null),
        ("return {ok='fine'}", simple("fine")),
        ("return {ok='a\\r\\nb'}", simple("a  b")),
        ("return {err='ERR this is an error'}", err("ERR this is an error")),
        ("return {err='line1\\nline2\\n'}", err("line1 line2")),
        (
            "return {1,2,3,'ciao',{1,2}}",
            arr_of(vec![int(1), int(2), int(3), bulk("ciao"), ints(&[1, 2])]),
        ),
        // An array stops at the first nil; false is a null element.
        ("return {1,2,nil,4}", ints(&[1, 2])),
        ("return {1,false,3}", arr_of(vec![int(1), Frame::Null, int(3)])),
        ("return {}", arr_of(vec![])),
        ("return _G", arr_of(vec![])),
        (
            "local a = {}; setmetatable(a,{__index=function() foo() end}) return a",
            arr_of(vec![]),
        ),
        (
            "local a = {}; setmetatable(a,{__index=function() redis.call('set', 'x', '1') end}) return a",
            arr_of(vec![]),
        ),
        ("return redis.status_reply('PONG')", simple("PONG")),
        ("return redis.error_reply('My Error')", err("My Error")),
        ("return redis.error_reply('-WRONGTYPE bad')", err("WRONGTYPE bad")),
        ("return redis.error_reply('oops')", err("ERR oops")),
        (
            "return redis.error_reply(1)",
            err("ERR wrong number or type of arguments"),
        ),
        ("return {double=3.5}", Frame::Double(3.5)),
        ("return {map={a='1'}}", Frame::Map(vec![(bulk("a"), bulk("1"))])),
        ("return {set={x=true}}", Frame::Set(vec![bulk("x")])),
        ("return {big_number='1234'}", bulk("1234")),
        (
            "return {verbatim_string={format='txt', string='hi'}}",
            Frame::Verbatim("txt".into(), b"hi".to_vec()),
        ),
        // RESP3 scripts answer booleans as booleans.
        ("redis.setresp(3) return true", Frame::Boolean(true)),
        ("redis.setresp(3) return false", Frame::Boolean(false)),
        ("redis.setresp(3) redis.setresp(2) return false", Frame::Null),
    ];
    for (script, want) in cases {
        assert_eq!(db.eval(script, &[], &[]), want, "{script}");
    }
    // The metatable was not consulted: nothing was written.
    assert_eq!(db.run(&["EXISTS", "x"]), int(0));
    // KEYS and ARGV.
    assert_eq!(
        db.eval(
            "return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}",
            &["a{t}", "b{t}"],
            &["c{t}", "d{t}"]
        ),
        arr(&["a{t}", "b{t}", "c{t}", "d{t}"])
    );
    assert_eq!(db.eval("return #KEYS + #ARGV", &[], &[]), int(0));
    assert_eq!(
        db.eval("return 'hello' --trailing comment", &[], &[]),
        bulk("hello")
    );
}

#[test]
fn a_recursive_reply_stops_at_the_stack_limit() {
    let mut db = Db::new();
    let mut f = db.eval("local a = {}; local b = {a}; a[1] = b; return a", &[], &[]);
    let mut depth = 0;
    loop {
        match f {
            Frame::Array(mut v) => {
                assert_eq!(v.len(), 1);
                f = v.pop().unwrap();
                depth += 1;
            }
            Frame::Error(e) => {
                assert_eq!(e, "ERR reached lua stack limit");
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(depth > 100, "{depth}");
}

// ---- Redis -> Lua conversions ------------------------------------------------------------

#[test]
fn replies_become_lua_values() {
    let mut db = Db::new();
    db.run(&["SET", "x", "0"]);
    assert_eq!(
        db.eval(
            "local foo = redis.pcall('incr',KEYS[1]) return {type(foo),foo}",
            &["x"],
            &[]
        ),
        arr_of(vec![bulk("number"), int(1)])
    );
    assert_eq!(
        db.eval(
            "local foo = redis.pcall('hincrby','hash','field',200000000) return {type(foo),foo}",
            &[],
            &[]
        ),
        arr_of(vec![bulk("number"), int(200000000)])
    );
    db.run(&["SET", "mykey", "myval"]);
    assert_eq!(
        db.eval(
            "local foo = redis.pcall('get',KEYS[1]) return {type(foo),foo}",
            &["mykey"],
            &[]
        ),
        arr(&["string", "myval"])
    );
    db.run(&["RPUSH", "mylist", "a", "b", "c"]);
    assert_eq!(
        db.eval(
            "local foo = redis.pcall('lrange',KEYS[1],0,-1) return {type(foo),foo[1],foo[2],foo[3],# foo}",
            &["mylist"],
            &[]
        ),
        arr_of(vec![bulk("table"), bulk("a"), bulk("b"), bulk("c"), int(3)])
    );
    assert_eq!(
        db.eval(
            "local foo = redis.pcall('set',KEYS[1],'myval') return {type(foo),foo['ok']}",
            &["mykey"],
            &[]
        ),
        arr(&["table", "OK"])
    );
    assert_eq!(
        db.eval(
            "local foo = redis.pcall('incr',KEYS[1]) return {type(foo),foo['err']}",
            &["mykey"],
            &[]
        ),
        arr(&["table", "ERR value is not an integer or out of range"])
    );
    db.run(&["DEL", "mykey"]);
    assert_eq!(
        db.eval(
            "local foo = redis.pcall('get',KEYS[1]) return {type(foo),foo == false}",
            &["mykey"],
            &[]
        ),
        arr_of(vec![bulk("boolean"), int(1)])
    );
    // A null array is false too (BLMPOP runs without blocking inside a script; Redis
    // 7.0 refuses BLPOP there).
    assert_eq!(
        db.eval(
            "return {redis.pcall('blmpop',0,1,'nolist','left') == false}",
            &[],
            &[]
        ),
        ints(&[1])
    );

    // RESP3: maps, sets, doubles and nulls keep their types.
    db.run(&["HSET", "hash2", "field", "value"]);
    assert_eq!(
        db.eval(
            "redis.setresp(3); return redis.call('hgetall', KEYS[1])",
            &["hash2"],
            &[]
        ),
        Frame::Map(vec![(bulk("field"), bulk("value"))])
    );
    assert_eq!(
        db.eval(
            "redis.setresp(2); return redis.call('hgetall', KEYS[1])",
            &["hash2"],
            &[]
        ),
        arr(&["field", "value"])
    );
    assert_eq!(
        db.eval(
            "redis.setresp(3); local r = redis.call('hgetall', KEYS[1]) return {type(r.map), r.map.field}",
            &["hash2"],
            &[]
        ),
        arr(&["table", "value"])
    );
    assert_eq!(
        db.eval(
            "redis.setresp(3); local v = redis.call('get', 'nokey') return {v == nil and 1 or 0, type(v)}",
            &[],
            &[]
        ),
        arr_of(vec![int(1), bulk("nil")])
    );
    db.run(&["ZADD", "z", "1.5", "a"]);
    assert_eq!(
        db.eval("return redis.call('zscore', KEYS[1], 'a')", &["z"], &[]),
        bulk("1.5")
    );
    assert_eq!(
        db.eval(
            "redis.setresp(3); local r = redis.call('zscore', KEYS[1], 'a') return {type(r), tostring(r.double)}",
            &["z"],
            &[]
        ),
        arr(&["table", "1.5"])
    );
    assert_eq!(
        db.eval(
            "redis.setresp(3); local r = redis.call('zrange', KEYS[1], 0, -1, 'withscores') return {#r, r[1][1], tostring(r[1][2].double)}",
            &["z"],
            &[]
        ),
        arr_of(vec![int(1), bulk("a"), bulk("1.5")])
    );
    assert_eq!(
        db.eval(
            "return redis.call('zrange', KEYS[1], 0, -1, 'withscores')",
            &["z"],
            &[]
        ),
        arr(&["a", "1.5"])
    );
    db.run(&["SADD", "s", "m"]);
    assert_eq!(
        db.eval(
            "redis.setresp(3); local r = redis.call('smembers', KEYS[1]) return {type(r.set), tostring(r.set.m)}",
            &["s"],
            &[]
        ),
        arr(&["table", "true"])
    );
}

#[test]
fn numbers_become_arguments_like_redis() {
    let mut db = Db::new();
    for (lua, stored) in [
        ("9007199254740991", "9007199254740991"),
        ("3.0", "3"),
        ("0.1", "0.1"),
        ("-2.5", "-2.5"),
        ("1e300", "1e+300"),
        ("2^62", "4611686018427387904"),
    ] {
        let script = format!("redis.call('set', KEYS[1], {lua}) return redis.call('get', KEYS[1])");
        assert_eq!(db.eval(&script, &["n"], &[]), bulk(stored), "{lua}");
    }
    assert_eq!(
        db.eval(
            "redis.call('set', 'key', '12039611435714932082') return redis.call('get', 'key')",
            &[],
            &[]
        ),
        bulk("12039611435714932082")
    );
    // Many arguments (issue #1764).
    let want: Vec<i64> = (1..=100).collect();
    assert_eq!(
        db.eval(
            "local x={} redis.call('del','mylist') for i=1,100 do table.insert(x,i) end redis.call('rpush','mylist',unpack(x)) return redis.call('lrange','mylist',0,-1)",
            &["mylist"],
            &[]
        ),
        Frame::Array(want.iter().map(|i| bulk(&i.to_string())).collect())
    );
    assert_eq!(
        db.eval(
            "local a = {} for i=1,7999 do a[i] = 1 end return redis.call('lpush', 'l', unpack(a))",
            &["l"],
            &[]
        ),
        int(7999)
    );
}

// ---- redis.call on every type --------------------------------------------------------------

#[test]
fn redis_call_on_strings_hashes_lists_sets_and_zsets() {
    let mut db = Db::new();
    assert_eq!(
        db.eval(
            "redis.call('set', KEYS[1], 'v') redis.call('append', KEYS[1], 'w') \
             return {redis.call('get', KEYS[1]), redis.call('incrby', KEYS[2], 5), redis.call('strlen', KEYS[1])}",
            &["s1", "n1"],
            &[]
        ),
        arr_of(vec![bulk("vw"), int(5), int(2)])
    );
    assert_eq!(db.run(&["GET", "s1"]), bulk("vw"));

    assert_eq!(
        db.eval(
            "redis.call('hset', KEYS[1], 'a', '1', 'b', '2') \
             return {redis.call('hget', KEYS[1], 'a'), redis.call('hlen', KEYS[1]), redis.call('hgetall', KEYS[1])}",
            &["h"],
            &[]
        ),
        arr_of(vec![bulk("1"), int(2), arr(&["a", "1", "b", "2"])])
    );
    assert_eq!(db.run(&["HGET", "h", "b"]), bulk("2"));

    assert_eq!(
        db.eval(
            "redis.call('rpush', KEYS[1], 'a', 'b', 'c') local p = redis.call('lpop', KEYS[1]) \
             return {p, redis.call('lrange', KEYS[1], 0, -1), redis.call('llen', KEYS[1])}",
            &["l"],
            &[]
        ),
        arr_of(vec![bulk("a"), arr(&["b", "c"]), int(2)])
    );
    assert_eq!(db.run(&["LRANGE", "l", "0", "-1"]), arr(&["b", "c"]));

    assert_eq!(
        db.eval(
            "redis.call('sadd', KEYS[1], 'x', 'y', 'x') \
             return {redis.call('scard', KEYS[1]), redis.call('sismember', KEYS[1], 'y'), redis.call('sismember', KEYS[1], 'z')}",
            &["st"],
            &[]
        ),
        ints(&[2, 1, 0])
    );
    assert_eq!(db.run(&["SCARD", "st"]), int(2));

    assert_eq!(
        db.eval(
            "redis.call('zadd', KEYS[1], 1, 'one', 2, 'two') redis.call('zincrby', KEYS[1], 5, 'one') \
             return {redis.call('zrange', KEYS[1], 0, -1, 'withscores'), redis.call('zscore', KEYS[1], 'one'), redis.call('zrank', KEYS[1], 'one')}",
            &["zs"],
            &[]
        ),
        arr_of(vec![arr(&["two", "2", "one", "6"]), bulk("6"), int(1)])
    );
    assert_eq!(db.run(&["ZSCORE", "zs", "one"]), Frame::Double(6.0));

    // DECR_IF_GT, from the Redis test suite.
    let decr_if_gt = "local current = redis.call('get',KEYS[1]) \
        if not current then return nil end \
        if current > ARGV[1] then return redis.call('decr',KEYS[1]) \
        else return redis.call('get',KEYS[1]) end";
    db.run(&["SET", "foo", "5"]);
    let got: Vec<Frame> = (0..5)
        .map(|_| db.eval(decr_if_gt, &["foo"], &["2"]))
        .collect();
    assert_eq!(got, vec![int(4), int(3), int(2), bulk("2"), bulk("2")]);

    // Status replies, PUBLISH (a logged command) and TIME, the entry's time.
    assert_eq!(
        db.eval("return redis.call('ping')", &[], &[]),
        simple("PONG")
    );
    assert_eq!(
        db.eval("return redis.call('publish', 'ch', 'msg')", &[], &[]),
        int(0)
    );
    assert_eq!(
        db.runb(eval_argv(
            "EVAL_RO",
            "return redis.pcall('publish', 'ch', 'msg')",
            &[],
            &[]
        )),
        err("ERR Write commands are not allowed from read-only scripts.")
    );
    assert_eq!(
        db.eval("return redis.call('TIME')", &[], &[]),
        arr(&[&(T0 / 1000).to_string(), &((T0 % 1000) * 1000).to_string()])
    );
}

// ---- errors --------------------------------------------------------------------------------

#[test]
fn errors_raised_in_scripts_name_the_script_and_line() {
    let mut db = Db::new();
    db.run(&["SET", "foo", "bar"]);
    let cases: Vec<(&str, Vec<&str>, String)> = vec![
        (
            "redis.call('nosuchcommand')",
            vec![],
            "ERR Unknown Redis command called from script".into(),
        ),
        (
            "redis.call('get','a','b','c')",
            vec![],
            "ERR Wrong number of args calling Redis command from script".into(),
        ),
        (
            "redis.call('set','invalid')",
            vec![],
            "ERR Wrong number of args calling Redis command from script".into(),
        ),
        (
            "redis.call('lpush',KEYS[1],'val')",
            vec!["foo"],
            "WRONGTYPE Operation against a key holding the wrong kind of value".into(),
        ),
        (
            "return redis.call('incr', KEYS[1])",
            vec!["foo"],
            "ERR value is not an integer or out of range".into(),
        ),
        (
            "return redis.call()",
            vec![],
            "ERR Please specify at least one argument for this redis lib call".into(),
        ),
        (
            "redis.call('set', 'k', {})",
            vec![],
            "ERR Lua redis lib command arguments must be strings or integers".into(),
        ),
        (
            "redis.call('eval', 'return 1', 0)",
            vec![],
            "ERR This Redis command is not allowed from script".into(),
        ),
        (
            "redis.call('client', 'list')",
            vec![],
            "ERR This Redis command is not allowed from script".into(),
        ),
        ("error('boom')", vec![], "ERR user_script:1: boom".into()),
        ("error({err='MYERR custom'})", vec![], "MYERR custom".into()),
        (
            "local x = nil; return x + 1",
            vec![],
            "ERR user_script:1: attempt to perform arithmetic on local 'x' (a nil value)".into(),
        ),
        (
            "redis.sha1hex()",
            vec![],
            "ERR wrong number of arguments".into(),
        ),
        (
            "redis.log('x')",
            vec![],
            "ERR redis.log() requires two arguments or more.".into(),
        ),
        (
            "redis.log('x', 'y')",
            vec![],
            "ERR First argument must be a number (log level).".into(),
        ),
        (
            "redis.log(7, 'y')",
            vec![],
            "ERR Invalid debug level.".into(),
        ),
        (
            "redis.setresp(4)",
            vec![],
            "ERR RESP version must be 2 or 3.".into(),
        ),
        (
            "redis.set_repl(8)",
            vec![],
            "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
                .into(),
        ),
        (
            "return redis.acl_check_cmd('nosuch')",
            vec![],
            "ERR Invalid command passed to redis.acl_check_cmd()".into(),
        ),
    ];
    for (script, keys, msg) in cases {
        assert_eq!(
            db.eval(script, &keys, &[]),
            err(&format!("{msg}{}", at(script, 1))),
            "{script}"
        );
    }
    // The line is the script's, also for an error in a function it defined.
    let script = "local x = 1\nlocal function f()\n  redis.call('nosuch')\nend\nf()";
    assert_eq!(
        db.eval(script, &[], &[]),
        err(&format!(
            "ERR Unknown Redis command called from script{}",
            at(script, 3)
        ))
    );
    // Compilation errors and argument errors come before running.
    assert_err_prefix(
        &db.eval("return 'hello", &[], &[]),
        "ERR Error compiling script (new function): user_script:1: ",
    );
    assert_eq!(
        db.run(&["EVAL", "return 1", "2", "a"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        db.run(&["EVAL", "return 1", "-12"]),
        err("ERR Number of keys can't be negative")
    );
    assert_eq!(
        db.run(&["EVAL", "return 1", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        db.run(&["EVAL", "return 1"]),
        err("ERR wrong number of arguments for 'eval' command")
    );
}

#[test]
fn pcall_and_error_tables() {
    let mut db = Db::new();
    db.run(&["SET", "str", "abc"]);
    // redis.pcall hands the error back as a table, and returning it replies with it.
    assert_eq!(
        db.eval("return redis.pcall('incr', KEYS[1])", &["str"], &[]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        db.eval("local r = redis.pcall('nosuch') return r['err']", &[], &[]),
        bulk("ERR Unknown Redis command called from script")
    );
    assert_eq!(
        db.eval(
            "local r = redis.pcall('incr', KEYS[1]) return r.ignore_error_stats_update",
            &["str"],
            &[]
        ),
        int(1)
    );
    // Lua's pcall turns redis.call's error table into its message (Redis 6 compatible).
    assert_eq!(
        db.eval(
            "local ok, e = pcall(redis.call, 'nosuch') return {tostring(ok), e}",
            &[],
            &[]
        ),
        arr(&["false", "ERR Unknown Redis command called from script"])
    );
    assert_eq!(
        db.eval(
            "local ok, e = pcall(function() redis.call('incr', KEYS[1]) end) return {tostring(ok), e}",
            &["str"],
            &[]
        ),
        arr(&["false", "ERR value is not an integer or out of range"])
    );
    assert_eq!(
        db.eval(
            "local ok, e = pcall(error, 'x') return {tostring(ok), e}",
            &[],
            &[]
        ),
        arr(&["false", "x"])
    );
    assert_eq!(
        db.eval(
            "local ok, e = pcall(function() error('y') end) return e",
            &[],
            &[]
        ),
        bulk("user_script:1: y")
    );
    assert_eq!(
        db.eval(
            "local ok, e = pcall(function() error({code=1}) end) return type(e)",
            &[],
            &[]
        ),
        bulk("table")
    );
    // xpcall works as in Lua.
    assert_eq!(
        db.eval(
            "return {xpcall(function() error('z', 0) end, function(m) return 'handled ' .. m end)}",
            &[],
            &[]
        ),
        arr_of(vec![Frame::Null, bulk("handled z")])
    );
}

#[test]
fn writes_before_an_error_stay() {
    let mut db = Db::new();
    db.run(&["SET", "notnum", "x"]);
    let r = db.eval(
        "redis.call('set', KEYS[1], '1') redis.call('incr', KEYS[2]) redis.call('set', KEYS[3], '3')",
        &["a", "notnum", "c"],
        &[],
    );
    assert_err_prefix(&r, "ERR value is not an integer or out of range script: ");
    assert_eq!(db.run(&["GET", "a"]), bulk("1"));
    assert_eq!(db.run(&["EXISTS", "c"]), int(0));
    let r = db.eval("redis.call('set','b','2') error('boom')", &[], &[]);
    assert_err_prefix(&r, "ERR user_script:1: boom");
    assert_eq!(db.run(&["GET", "b"]), bulk("2"));
    // A pcall'd failure does not stop the script either.
    assert_eq!(
        db.eval(
            "redis.pcall('incr', KEYS[1]) redis.call('set', KEYS[2], 'after') return 'done'",
            &["notnum", "d"],
            &[]
        ),
        bulk("done")
    );
    assert_eq!(db.run(&["GET", "d"]), bulk("after"));
}

// ---- the redis API ---------------------------------------------------------------------------

#[test]
fn redis_helpers() {
    let mut db = Db::new();
    assert_eq!(
        db.eval(
            "return {redis.sha1hex(''), redis.sha1hex('Pizza & Mandolino')}",
            &[],
            &[]
        ),
        arr(&[
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "74822d82031af7493c20eefa13bd07ec4fada82f"
        ])
    );
    assert_eq!(
        db.eval(
            "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}",
            &[],
            &[]
        ),
        arr_of(vec![bulk("7.2.4"), int(0x070204)])
    );
    assert_eq!(
        db.eval(
            "redis.log(redis.LOG_WARNING, 'something', 1) redis.log(redis.LOG_DEBUG, 'x') \
             redis.set_repl(redis.REPL_ALL) redis.set_repl(redis.REPL_NONE) \
             return {redis.replicate_commands(), redis.breakpoint(), redis.LOG_NOTICE, redis.REPL_AOF, redis.REPL_REPLICA}",
            &[],
            &[]
        ),
        arr_of(vec![int(1), Frame::Null, int(2), int(1), int(2)])
    );
    assert_eq!(db.eval("redis.debug('x') return 1", &[], &[]), int(1));
    assert_eq!(
        db.eval("return redis.acl_check_cmd('set', 'k', 1)", &[], &[]),
        int(1)
    );
}

// ---- libraries ---------------------------------------------------------------------------------

#[test]
fn cjson_round_trips() {
    let mut db = Db::new();
    for (script, want) in [
        ("return cjson.encode({1,2,3,'a'})", "[1,2,3,\"a\"]"),
        ("return cjson.encode({a=1})", "{\"a\":1}"),
        ("return cjson.encode({})", "{}"),
        ("return cjson.encode({0.1, 1/3, 1e20, -0.5, 100})", "[0.1,0.33333333333333,1e+20,-0.5,100]"),
        ("return cjson.encode('a/b\"c\\n\\1')", "\"a\\/b\\\"c\\n\\u0001\""),
        ("return cjson.encode(cjson.null)", "null"),
        ("return cjson.encode({[1]='one', [2]='two'})", "[\"one\",\"two\"]"),
        ("return cjson.encode({true, false})", "[true,false]"),
        ("return cjson.encode({[1]=1, [3]=3})", "[1,null,3]"),
        ("return cjson.encode({{{}}})", "[[{}]]"),
        (
            "return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')",
            "0 -5000 -1 0.0003 1023.2 0",
        ),
        (
            "local v = {a={1,2,{b='c'}}, n=1.5, s='x', t=true} local d = cjson.decode(cjson.encode(v)) \
             return table.concat({d.a[3].b, tostring(d.n), d.s, tostring(d.t), cjson.encode(d.a)}, '|')",
            "c|1.5|x|true|[1,2,{\"b\":\"c\"}]",
        ),
        (
            "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00 \\\\/ \\\\t\"')",
            "\u{e9}\u{1f600} / \t",
        ),
        ("return tostring(cjson.decode('[null]')[1] == cjson.null)", "true"),
        ("return cjson.encode(cjson.decode('{\"x\":[1,{\"y\":null}]}'))", "{\"x\":[1,{\"y\":null}]}"),
        ("return tostring(cjson.decode('0x10'))", "16"),
        (
            "local t = cjson.decode('{\"keya\": \"a\", \"keyb\": \"b\"}') return t.keya .. t.keyb",
            "ab",
        ),
    ] {
        assert_eq!(db.eval(script, &[], &[]), bulk(want), "{script}");
    }
    // Errors raised the way Lua CJSON raises them.
    for (script, msg) in [
        (
            "return cjson.decode('{')",
            "ERR user_script:1: Expected object key string but found T_END at character 2",
        ),
        (
            "return cjson.decode('[1,]')",
            "ERR user_script:1: Expected value but found T_ARR_END at character 4",
        ),
        (
            "return cjson.decode('[1 2]')",
            "ERR user_script:1: Expected comma or array end but found T_NUMBER at character 4",
        ),
        (
            "return cjson.decode('\"abc')",
            "ERR user_script:1: Expected value but found unexpected end of string at character 5",
        ),
        (
            "return cjson.encode(function() end)",
            "ERR user_script:1: Cannot serialise function: type not supported",
        ),
        (
            "return cjson.encode({[1]=1, [100]=2})",
            "ERR user_script:1: Cannot serialise table: excessively sparse array",
        ),
        (
            "return cjson.encode({[true]=1})",
            "ERR user_script:1: Cannot serialise boolean: table key must be a number or string",
        ),
        (
            "return cjson.encode(0/0)",
            "ERR user_script:1: Cannot serialise number: must not be NaN or Inf",
        ),
        (
            "return cjson.encode()",
            "ERR user_script:1: bad argument #1 to 'encode' (expected 1 argument)",
        ),
    ] {
        assert_eq!(
            db.eval(script, &[], &[]),
            err(&format!("{msg}{}", at(script, 1))),
            "{script}"
        );
    }
    // The Redis smoke test, configuration functions included.
    assert_eq!(
        db.eval(
            r#"
            local some_map = {s1="Some string", n1=100, a1={"Some","String","Array"}, nil1=nil, b1=true, b2=false}
            local encoded = cjson.encode(some_map)
            local decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            cjson.encode_keep_buffer(false)
            encoded = cjson.encode(some_map)
            decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            local table1 = {one="one", [1]="one"}
            encoded = cjson.encode(table1)
            decoded = cjson.decode(encoded)
            assert(decoded["one"] == table1["one"])
            assert(decoded["1"] == table1[1])
            local array1 = {[1]="one", [2]="two"}
            encoded = cjson.encode(array1)
            decoded = cjson.decode(encoded)
            assert(table.concat(array1) == table.concat(decoded))
            local invalid_map = {}
            invalid_map[false] = "false"
            local ok, encoded = pcall(cjson.encode, invalid_map)
            assert(ok == false)
            cjson.encode_max_depth(1)
            ok, encoded = pcall(cjson.encode, some_map)
            assert(ok == false)
            cjson.decode_max_depth(1)
            ok, decoded = pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}')
            assert(ok == false)
            ok, encoded = pcall(cjson.encode, {num1=0/0})
            assert(ok == false)
            cjson.encode_invalid_numbers(true)
            ok, encoded = pcall(cjson.encode, {num1=0/0})
            assert(ok == true)
            assert(cjson.encode_sparse_array(true) == true)
            assert(cjson.encode({[1]=1, [100]=2}) == '{"1":1,"100":2}' or cjson.encode({[1]=1, [100]=2}) == '{"100":2,"1":1}')
            return 'ok'
            "#,
            &[],
            &[]
        ),
        bulk("ok")
    );
    // Configuration belongs to the run: the next script sees the defaults again.
    assert_eq!(
        db.eval(
            "return {cjson.encode({{1}}), cjson.encode_max_depth(), tostring(cjson.encode_invalid_numbers())}",
            &[],
            &[]
        ),
        arr_of(vec![bulk("[[1]]"), int(1000), bulk("false")])
    );
    // cjson.new() has its own configuration.
    assert_eq!(
        db.eval(
            "local j = cjson.new() j.encode_max_depth(1) local ok = pcall(j.encode, {{1}}) return {tostring(ok), cjson.encode({{1}}), j._NAME, j._VERSION}",
            &[],
            &[]
        ),
        arr(&["false", "[[1]]", "cjson", "2.1.0"])
    );
    assert_eq!(
        db.eval("cjson.encode_max_depth(0)", &[], &[]),
        err(&format!(
            "ERR user_script:1: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647){}",
            at("cjson.encode_max_depth(0)", 1)
        ))
    );
}

fn hex_of(expr: &str) -> String {
    format!(
        "local e = {expr} local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h"
    )
}

#[test]
fn cmsgpack_round_trips() {
    let mut db = Db::new();
    for (expr, want) in [
        ("cmsgpack.pack(0.1)", "cb3fb999999999999a"),
        ("cmsgpack.pack(1.5)", "ca3fc00000"),
        ("cmsgpack.pack(-1099511627776)", "d3ffffff0000000000"),
        (
            "cmsgpack.pack(1, 250, 65530, 100000, -1, -120, -32000)",
            "01ccfacdffface000186a0ffd088d18300",
        ),
        ("cmsgpack.pack('abc', true, false, nil)", "a3616263c3c2c0"),
        ("cmsgpack.pack({1, 2, 3})", "93010203"),
        ("cmsgpack.pack({a=1})", "81a16101"),
        (
            "cmsgpack.pack(string.rep('x', 40))",
            &format!("d928{}", "78".repeat(40)),
        ),
    ] {
        assert_eq!(db.eval(&hex_of(expr), &[], &[]), bulk(want), "{expr}");
    }
    assert_eq!(
        db.eval(
            "local t = cmsgpack.unpack(cmsgpack.pack({1, 2.5, {a='b'}, 'x', true, -7})) \
             return {t[1], tostring(t[2]), t[3].a, t[4], tostring(t[5]), t[6]}",
            &[],
            &[]
        ),
        arr_of(vec![
            int(1),
            bulk("2.5"),
            bulk("b"),
            bulk("x"),
            bulk("true"),
            int(-7)
        ])
    );
    assert_eq!(
        db.eval("return {cmsgpack.unpack(cmsgpack.pack('a', 7))}", &[], &[]),
        arr_of(vec![bulk("a"), int(7)])
    );
    assert_eq!(
        db.eval(
            "local p = cmsgpack.pack('x', 'yy', 'zzz') \
             local o1, a = cmsgpack.unpack_one(p) local o2, b = cmsgpack.unpack_one(p, o1) \
             local o3, c = cmsgpack.unpack_limit(p, 1, o2) return {o1, a, o2, b, o3, c}",
            &[],
            &[]
        ),
        arr_of(vec![
            int(2),
            bulk("x"),
            int(5),
            bulk("yy"),
            int(-1),
            bulk("zzz")
        ])
    );
    // Circular references are cut at 16 levels (Redis's test).
    let circular = format!(
        "local a = {{x=nil,y=5}} local b = {{x=a}} a['x'] = b {} ",
        "local encoded = cmsgpack.pack(a) local h = '' for i = 1, #encoded do h = h .. string.format('%02x',string.byte(encoded,i)) end \
         local re = cmsgpack.unpack(encoded) assert(re.x.x.y == re.y) \
         assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y) assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil) \
         return {h, re.x.x.x.x.x.x.x.x.y == re.y, re.y == 5}"
    );
    assert_eq!(
        db.eval(&circular, &[], &[]),
        arr_of(vec![
            bulk("82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0"),
            int(1),
            int(1)
        ])
    );
    // Redis's smoke test, in full.
    assert_eq!(
        db.eval(
            r#"
            local str_lt_32 = string.rep("x", 30)
            local str_lt_255 = string.rep("x", 250)
            local str_lt_65535 = string.rep("x", 65530)
            local str_long = string.rep("x", 100000)
            local array_lt_15 = {1, 2, 3, 4, 5}
            local array_lt_65535 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
            local array_big = {}
            for i=1, 100000 do array_big[i] = i end
            local map_lt_15 = {a=1, b=2}
            local map_big = {}
            for i=1, 100000 do map_big[tostring(i)] = i end
            local some_map = {s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long, d1=0.1,
                i1=1, i2=250, i3=65530, i4=100000, i5=2^40, i6=-1, i7=-120, i8=-32000, i9=-100000,
                i10=-3147483648, a1=array_lt_15, a2=array_lt_65535, a3=array_big, m1=map_lt_15,
                m2=map_big, b1=false, b2=true, n=nil}
            local encoded = cmsgpack.pack(some_map)
            local decoded = cmsgpack.unpack(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            assert(decoded.i10 == -3147483648 and decoded.i5 == 2^40 and decoded.d1 == 0.1)
            assert(#decoded.a3 == 100000 and decoded.m2["77"] == 77 and decoded.s4 == str_long)
            local offset, decoded_one = cmsgpack.unpack_one(encoded, 0)
            assert(table.concat(some_map) == table.concat(decoded_one))
            assert(offset == -1)
            local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long)
            local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0)
            assert(obj == str_lt_32)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_255)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_65535)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_long)
            assert(offset == -1)
            return 'ok'
            "#,
            &[],
            &[]
        ),
        bulk("ok")
    );
    for (script, msg) in [
        (
            "return cmsgpack.pack()",
            "ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)",
        ),
        (
            "return cmsgpack.unpack('\\146\\1')",
            "ERR user_script:1: Missing bytes in input.",
        ),
        (
            "return cmsgpack.unpack('\\193')",
            "ERR user_script:1: Bad data format in input.",
        ),
        (
            "return cmsgpack.unpack_one('\\1', 5)",
            "ERR user_script:1: Start offset 5 greater than input length 1.",
        ),
    ] {
        assert_eq!(
            db.eval(script, &[], &[]),
            err(&format!("{msg}{}", at(script, 1))),
            "{script}"
        );
    }
}

#[test]
fn bit_operations() {
    let mut db = Db::new();
    assert_eq!(
        db.eval(
            "return {bit.tobit(0xffffffff), bit.tobit(2^32 + 1), bit.bnot(0), bit.band(0xff, 0x0f), \
             bit.bor(1,2,4,8,16,32,64,128), bit.bxor(1, 2), bit.lshift(1, 31), bit.rshift(-1, 28), \
             bit.arshift(-256, 4), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678), \
             bit.tobit('7'), bit.band(1.5, 3)}",
            &[],
            &[]
        ),
        ints(&[
            -1, 1, -1, 15, 255, 3, -2147483648, 15, -16, 878082066, 2014458966, 2018915346, 7, 2
        ])
    );
    assert_eq!(
        db.eval(
            "return {bit.tohex(255), bit.tohex(255, -4), bit.tohex(65535, -2147483648), bit.tohex(-1, 2)}",
            &[],
            &[]
        ),
        arr(&["000000ff", "00FF", "0000FFFF", "ff"])
    );
    // The Redis sanity checks.
    assert_eq!(
        db.eval(
            "assert(0x7fffffff == 2147483647) assert(bit.tobit(1) == 1) assert(bit.band(1) == 1) \
             assert(bit.bxor(1,2) == 3) assert(bit.bor(1,2,4,8,16,32,64,128) == 255) return 1",
            &[],
            &[]
        ),
        int(1)
    );
    let script = "return bit.band({})";
    assert_eq!(
        db.eval(script, &[], &[]),
        err(&format!(
            "ERR user_script:1: bad argument #1 to 'band' (number expected, got table){}",
            at(script, 1)
        ))
    );
    let script = "local f = bit.lshift return f(1)";
    assert_eq!(
        db.eval(script, &[], &[]),
        err(&format!(
            "ERR user_script:1: bad argument #2 to 'f' (number expected, got no value){}",
            at(script, 1)
        ))
    );
}

#[test]
fn struct_pack_and_unpack() {
    let mut db = Db::new();
    assert_eq!(
        db.eval(
            "local s = struct.pack('<i4d', -2, 1.5) local a, b, nxt = struct.unpack('<i4d', s) return {#s, a, tostring(b), nxt}",
            &[],
            &[]
        ),
        arr_of(vec![int(12), int(-2), bulk("1.5"), int(13)])
    );
    assert_eq!(
        db.eval("return {struct.pack('>I2', 258):byte(1, 2)}", &[], &[]),
        ints(&[1, 2])
    );
    assert_eq!(
        db.eval("return {struct.pack('<H', 258):byte(1, 2)}", &[], &[]),
        ints(&[2, 1])
    );
    assert_eq!(
        db.eval(
            "return {struct.size('>!4 i2 i4'), struct.size('bhi'), struct.size('!bhi'), struct.size('!8 b d')}",
            &[],
            &[]
        ),
        ints(&[8, 7, 8, 16])
    );
    assert_eq!(
        db.eval(
            "local s = struct.pack('s', 'hi') local v, n = struct.unpack('s', s .. 'rest') return {#s, v, n}",
            &[],
            &[]
        ),
        arr_of(vec![int(3), bulk("hi"), int(4)])
    );
    assert_eq!(
        db.eval(
            "return {struct.unpack('b c0', struct.pack('b c0', 3, 'abc'))}",
            &[],
            &[]
        ),
        arr_of(vec![bulk("abc"), int(5)])
    );
    assert_eq!(
        db.eval(
            "return {struct.unpack('>i2 c3 B', struct.pack('>i2 c3 B', -300, 'xyz', 200))}",
            &[],
            &[]
        ),
        arr_of(vec![int(-300), bulk("xyz"), int(200), int(7)])
    );
    assert_eq!(
        db.eval("return {struct.unpack('B', 'ab', 2)}", &[], &[]),
        ints(&[98, 3])
    );
    for (script, msg) in [
        (
            "return struct.pack('z')",
            "ERR user_script:1: bad argument #1 to 'pack' (invalid format option 'z')",
        ),
        (
            "return struct.unpack('i4', 'ab')",
            "ERR user_script:1: bad argument #2 to 'unpack' (data string too short)",
        ),
        (
            "return struct.pack('i4')",
            "ERR user_script:1: bad argument #2 to 'pack' (number expected, got no value)",
        ),
        (
            "return struct.size('s')",
            "ERR user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)",
        ),
        (
            "return struct.pack('!3 i')",
            "ERR user_script:1: alignment 3 is not a power of 2",
        ),
    ] {
        assert_eq!(
            db.eval(script, &[], &[]),
            err(&format!("{msg}{}", at(script, 1))),
            "{script}"
        );
    }
}

// ---- the sandbox -----------------------------------------------------------------------------

#[test]
fn globals_are_protected() {
    let mut db = Db::new();
    let missing = |name: &str| {
        format!(
            "ERR user_script:1: Script attempted to access nonexistent global variable '{name}'"
        )
    };
    let readonly = "ERR user_script:1: Attempt to modify a readonly table".to_string();
    let cases: Vec<(&str, String)> = vec![
        ("return a", missing("a")),
        ("loadfile('some file')", missing("loadfile")),
        ("dofile('some file')", missing("dofile")),
        ("print('some data')", missing("print")),
        ("return os.time()", missing("os")),
        ("return io.write('x')", missing("io")),
        ("return require('x')", missing("require")),
        ("a=10", readonly.clone()),
        ("redis = function() return 1 end", readonly.clone()),
        ("_G = {}", readonly.clone()),
        ("KEYS = {}", readonly.clone()),
        ("redis.call = function() return 1 end", readonly.clone()),
        ("cjson.encode = function() return 1 end", readonly.clone()),
        ("cmsgpack.pack = function() return 1 end", readonly.clone()),
        ("bit.lshift = function() return 1 end", readonly.clone()),
        ("string.rep = nil", readonly.clone()),
        ("math.random = nil", readonly.clone()),
        (
            "local g = getmetatable(_G) g.__index = {}",
            readonly.clone(),
        ),
        ("getmetatable('').__index.upper = nil", readonly.clone()),
        ("getmetatable('').__index = {}", readonly.clone()),
        (
            "setmetatable(_G, {})",
            "ERR Attempt to modify a readonly table".into(),
        ),
        (
            "rawset(_G, 'x', 1)",
            "ERR Attempt to modify a readonly table".into(),
        ),
        (
            "rawset(string, 'x', 1)",
            "ERR Attempt to modify a readonly table".into(),
        ),
        (
            "table.insert(redis, 1)",
            "ERR Attempt to modify a readonly table".into(),
        ),
        (
            "table.sort(math)",
            "ERR Attempt to modify a readonly table".into(),
        ),
        (
            "local f = loadstring('x = 1') f()",
            "ERR [string \"x = 1\"]:1: Attempt to modify a readonly table".into(),
        ),
        (
            "setfenv(0, {})",
            "ERR user_script:1: 'setfenv' cannot change environment of given object".into(),
        ),
        (
            "setfenv(redis.call, {})",
            "ERR user_script:1: 'setfenv' cannot change environment of given object".into(),
        ),
        (
            "collectgarbage('stop')",
            "ERR user_script:1: collectgarbage('stop') is not allowed from scripts".into(),
        ),
        (
            "return loadstring(string.dump(function() return 1 end))()",
            "ERR user_script:1: attempt to call a nil value".into(),
        ),
    ];
    for (script, msg) in cases {
        let suffix = if script.starts_with("local f = loadstring") {
            format!(" script: {}, on x = 1:1.", sha1(script))
        } else {
            at(script, 1)
        };
        assert_eq!(
            db.eval(script, &[], &[]),
            err(&format!("{msg}{suffix}")),
            "{script}"
        );
    }
    // What stays allowed.
    assert_eq!(
        db.eval(
            "local t = {} rawset(t, 'k', 'v') setmetatable(t, {}) table.insert(KEYS, 'z') \
             local f = loadstring('return 1 + 1') local x = 0 local function g() x = x + 1 end g() \
             return {t.k, f(), ('x'):rep(3), KEYS[1], x, getfenv(0) == _G and 1 or 0, getfenv(1) == _G and 1 or 0, \
             collectgarbage('count') > 0 and 1 or 0, select('#', 1, 2), type(coroutine.wrap(function() end))}",
            &[],
            &[]
        ),
        arr_of(vec![
            bulk("v"),
            int(2),
            bulk("xxx"),
            bulk("z"),
            int(1),
            int(1),
            int(1),
            int(1),
            int(2),
            bulk("function")
        ])
    );
    // A script's own function may get its own environment for the run.
    assert_eq!(
        db.eval(
            "local function f() return y end setfenv(f, {y = 'yy'}) return f()",
            &[],
            &[]
        ),
        bulk("yy")
    );
    // Nothing survives a run: not a changed environment, not the RNG seed.
    assert_eq!(db.eval("setfenv(1, {}) return 1", &[], &[]), int(1));
    assert_eq!(db.eval("return type(redis)", &[], &[]), bulk("table"));
    assert_eq!(
        db.eval(
            "local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end) \
             local _, x = coroutine.resume(co, 1) local _, y = coroutine.resume(co, 10) return {x, y}",
            &[],
            &[]
        ),
        ints(&[2, 20])
    );
}

// ---- the script cache -------------------------------------------------------------------------

#[test]
fn evalsha_after_eval_and_script_load() {
    let mut db = Db::new();
    let get = "return redis.call('get',KEYS[1])";
    let sha = "fd758d1589d044dd850a6f05d52f2eefd27f033f";
    assert_eq!(sha1(get), sha);
    db.run(&["SET", "mykey", "myval"]);
    assert_eq!(
        db.run(&["EVALSHA", sha, "1", "mykey"]),
        err("NOSCRIPT No matching script. Please use EVAL.")
    );
    assert_eq!(db.eval(get, &["mykey"], &[]), bulk("myval"));
    // EVAL stored the body in the replicated state.
    assert_eq!(
        db.scripts(),
        vec![(sha.to_string(), get.as_bytes().to_vec())]
    );
    assert_eq!(db.run(&["EVALSHA", sha, "1", "mykey"]), bulk("myval"));
    assert_eq!(db.run(&["EVALSHA_RO", sha, "1", "mykey"]), bulk("myval"));
    assert_eq!(
        db.run(&["EVALSHA", &sha.to_uppercase(), "1", "mykey"]),
        bulk("myval")
    );
    assert_eq!(
        db.run(&["EVALSHA", "NotValidShaSUM", "0"]),
        err("NOSCRIPT No matching script. Please use EVAL.")
    );
    assert_eq!(
        db.run(&["EVALSHA", "ffd632c7d33e571e9f24556ebed26c3479a87130", "0"]),
        err("NOSCRIPT No matching script. Please use EVAL.")
    );
    // Running it again does not rewrite the cache.
    db.eval(get, &["mykey"], &[]);
    assert!(!db
        .last
        .writes
        .iter()
        .any(|w| matches!(w, engine::Write::Put(Cf::Sm, k, _) if k.starts_with(b"script:"))));

    assert_eq!(
        db.run(&["SCRIPT", "LOAD", "return 'loaded'"]),
        bulk("b534286061d4b9e4026607613b95c06c06015ae8")
    );
    assert_eq!(
        db.run(&["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"]),
        bulk("loaded")
    );

    // Any node with the same state (here: another thread, so another VM) runs it.
    let replica = db.store.clone();
    let from_replica = std::thread::spawn(move || {
        let mut t = Txn::new(&replica, 100, T0, 1);
        let a = t.run(
            0,
            &[
                b"EVALSHA".to_vec(),
                sha.as_bytes().to_vec(),
                b"1".to_vec(),
                b"mykey".to_vec(),
            ],
        );
        let b = t.run(
            0,
            &[
                b"EVALSHA".to_vec(),
                b"b534286061d4b9e4026607613b95c06c06015ae8".to_vec(),
                b"0".to_vec(),
            ],
        );
        (a, b)
    })
    .join()
    .unwrap();
    assert_eq!(from_replica, (bulk("myval"), bulk("loaded")));

    // A script that does not compile is not stored.
    assert_err_prefix(
        &db.run(&["SCRIPT", "LOAD", "return 'x"]),
        "ERR Error compiling script (new function): user_script:1: ",
    );
    assert_err_prefix(
        &db.eval("return 'y", &[], &[]),
        "ERR Error compiling script (new function): user_script:1: ",
    );
    assert_eq!(db.scripts().len(), 2);
}

#[test]
fn script_exists_flush_and_friends() {
    let mut db = Db::new();
    assert_eq!(db.eval("return 1+1", &[], &[]), int(2));
    assert_eq!(
        db.run(&[
            "SCRIPT",
            "EXISTS",
            "a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bd9",
            "a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bda",
            "A27E7E8A43702B7046D4F6A7CCF5B60CEF6B9BD9",
            "short",
        ]),
        ints(&[1, 0, 1, 0])
    );
    for j in 0..100 {
        db.run(&["SCRIPT", "LOAD", &format!("return {j}")]);
    }
    assert_eq!(db.scripts().len(), 101);
    assert_eq!(db.run(&["SCRIPT", "FLUSH"]), simple("OK"));
    assert_eq!(db.scripts().len(), 0);
    assert_eq!(
        db.run(&[
            "SCRIPT",
            "EXISTS",
            "a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bd9"
        ]),
        ints(&[0])
    );
    assert_eq!(
        db.run(&["EVALSHA", "a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bd9", "0"]),
        err("NOSCRIPT No matching script. Please use EVAL.")
    );
    db.run(&["SCRIPT", "LOAD", "return 1+1"]);
    assert_eq!(db.run(&["SCRIPT", "FLUSH", "ASYNC"]), simple("OK"));
    assert_eq!(db.run(&["SCRIPT", "FLUSH", "sync"]), simple("OK"));
    assert_eq!(db.scripts().len(), 0);
    assert_eq!(
        db.run(&["SCRIPT", "FLUSH", "LATER"]),
        err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    );
    assert_eq!(
        db.run(&["SCRIPT", "KILL"]),
        err("ERR SCRIPT KILL must be handled by the server")
    );
    assert_eq!(
        db.run(&["SCRIPT", "FOO"]),
        err("ERR unknown subcommand 'FOO'. Try SCRIPT HELP.")
    );
    assert_eq!(
        db.run(&["SCRIPT", "EXISTS"]),
        err("ERR wrong number of arguments for 'script|exists' command")
    );
    assert_eq!(
        db.run(&["SCRIPT", "LOAD"]),
        err("ERR wrong number of arguments for 'script|load' command")
    );
    let Frame::Array(help) = db.run(&["SCRIPT", "HELP"]) else {
        panic!()
    };
    assert_eq!(
        help[0],
        simple("SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
    assert_eq!(help.last(), Some(&simple("    Print this help.")));
    // Key positions follow numkeys.
    let spec = engine::lookup(b"eval").unwrap();
    let argv = eval_argv("EVAL", "return 1", &["k1", "k2"], &["a"]);
    assert_eq!(spec.key_positions(&argv), vec![3, 4]);
    assert!(spec.is_write());
    assert!(!engine::lookup(b"eval_ro").unwrap().is_write());
    assert!(!engine::lookup(b"evalsha_ro").unwrap().is_write());
}

// ---- read-only scripts ------------------------------------------------------------------------

#[test]
fn read_only_scripts_refuse_writes() {
    let mut db = Db::new();
    db.run(&["SET", "foo", "bar"]);
    assert_eq!(
        db.runb(eval_argv(
            "EVAL_RO",
            "return redis.call('get', KEYS[1]);",
            &["foo"],
            &[]
        )),
        bulk("bar")
    );
    let del = "redis.call('del', KEYS[1]);";
    assert_eq!(
        db.runb(eval_argv("EVAL_RO", del, &["foo"], &[])),
        err(&format!(
            "ERR Write commands are not allowed from read-only scripts.{}",
            at(del, 1)
        ))
    );
    assert_eq!(db.run(&["GET", "foo"]), bulk("bar"));
    assert_eq!(
        db.runb(eval_argv(
            "EVAL_RO",
            "local t = redis.pcall('set','x','1') return t['err']",
            &[],
            &[]
        )),
        bulk("ERR Write commands are not allowed from read-only scripts.")
    );
    // On the read path: EVAL_RO runs, writes nothing (the cache neither), EVAL is refused.
    let ro = "return {redis.call('get', KEYS[1]), redis.pcall('set', KEYS[1], 'x')['err']}";
    assert_eq!(
        db.read(eval_argv("EVAL_RO", ro, &["foo"], &[])),
        arr(&[
            "bar",
            "ERR Write commands are not allowed from read-only scripts."
        ])
    );
    assert!(!db.scripts().iter().any(|(s, _)| *s == sha1(ro)));
    assert_eq!(
        db.read(eval_argv("EVAL", "return 1", &[], &[])),
        err("ERR 'eval' is a write command and cannot run on the read path")
    );
    assert_eq!(
        db.read(vec![
            b"EVALSHA_RO".to_vec(),
            sha1(ro).into_bytes(),
            b"0".to_vec()
        ]),
        err("NOSCRIPT No matching script. Please use EVAL.")
    );
    // A no-writes shebang makes EVAL read-only; a script that may write is refused by *_RO.
    let nw = "#!lua flags=no-writes\nredis.call('set', 'x', '1')";
    assert_eq!(
        db.eval(nw, &[], &[]),
        err(&format!(
            "ERR Write commands are not allowed from read-only scripts.{}",
            at(nw, 2)
        ))
    );
    assert_eq!(
        db.eval(
            "#!lua flags=no-writes,allow-oom\nreturn redis.call('get', 'foo')",
            &[],
            &[]
        ),
        bulk("bar")
    );
    assert_eq!(
        db.runb(eval_argv("EVAL_RO", "#!lua\nreturn 1", &[], &[])),
        err("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(
        db.eval("#!lua\nreturn redis.call('set', 'y', 'z')", &[], &[]),
        simple("OK")
    );
    assert_eq!(
        db.eval("#!python\nreturn 1", &[], &[]),
        err("ERR Unexpected engine in script shebang: #!python")
    );
}

// ---- SELECT ------------------------------------------------------------------------------------

#[test]
fn select_inside_a_script_lasts_for_the_script_only() {
    let mut db = Db::new();
    db.run(&["SET", "k", "db0"]);
    assert_eq!(
        db.eval(
            "redis.call('select', 9) redis.call('set', KEYS[1], 'in9') return redis.call('get', KEYS[1])",
            &["k"],
            &[]
        ),
        bulk("in9")
    );
    assert_eq!(db.run(&["GET", "k"]), bulk("db0"));
    assert_eq!(
        db.eval(
            "local a = redis.call('get', KEYS[1]) redis.call('select', '9') return {a, redis.call('get', KEYS[1])}",
            &["k"],
            &[]
        ),
        arr(&["db0", "in9"])
    );
    assert_eq!(
        db.eval("return redis.pcall('select', 16)", &[], &[]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        db.eval("return redis.pcall('select', 'x')", &[], &[]),
        err("ERR value is not an integer or out of range")
    );
    // The commands after the script in the same entry are back in the caller's db.
    let mut t = Txn::new(&db.store, 1000, T0, 1);
    let a = t.run(
        0,
        &eval_argv(
            "EVAL",
            "redis.call('select', 9) return redis.call('get', 'k')",
            &[],
            &[],
        ),
    );
    let b = t.run(0, &[b"GET".to_vec(), b"k".to_vec()]);
    assert_eq!((a, b), (bulk("in9"), bulk("db0")));
    assert_eq!(t.db, 0);
}

// ---- determinism ----------------------------------------------------------------------------

const RANDOM_SCRIPT: &str = "local r = {} for i = 1, 5 do r[i] = math.random(1000) end \
    r[6] = tostring(math.random()) redis.call('set', KEYS[1], table.concat(r, ',')) \
    redis.call('sadd', KEYS[2], math.random(10), math.random(10)) return r";

fn random_history(seed: u64) -> (Vec<Frame>, MemStore) {
    let mut db = Db::new();
    db.seed = seed;
    let replies = (0..4)
        .map(|i| {
            db.now += 1;
            db.eval(RANDOM_SCRIPT, &[&format!("k{i}"), "set"], &[])
        })
        .collect();
    (replies, db.store)
}

#[test]
fn math_random_is_deterministic_per_entry() {
    let (a, store_a) = random_history(42);
    // The same log on another thread, i.e. another VM with another history.
    let (b, store_b) = std::thread::spawn(|| {
        let mut warm = Db::new();
        warm.eval(
            "math.randomseed(99) cjson.encode_max_depth(1) redis.setresp(3) return math.random()",
            &[],
            &[],
        );
        random_history(42)
    })
    .join()
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(store_a, store_b);
    // Entries differ from each other, and another seed gives other numbers.
    assert_ne!(a[0], a[1]);
    let (c, _) = random_history(43);
    assert_ne!(a, c);
    // math.randomseed gives Redis's (glibc lrand48's) sequence.
    let mut db = Db::new();
    let seeded = "math.randomseed(ARGV[1]); return tostring(math.random())";
    assert_eq!(db.eval(seeded, &[], &["10"]), bulk("0.87885112309775"));
    assert_eq!(db.eval(seeded, &[], &["10"]), bulk("0.87885112309775"));
    assert_eq!(db.eval(seeded, &[], &["20"]), bulk("0.58687420961767"));
    let Frame::Array(r) = db.eval("return {math.random(5), math.random(3, 4)}", &[], &[]) else {
        panic!()
    };
    assert!(matches!(r[0], Frame::Integer(1..=5)) && matches!(r[1], Frame::Integer(3..=4)));
    assert_err_prefix(
        &db.eval("return math.random(0)", &[], &[]),
        "ERR user_script:1: bad argument #1 to 'random' (interval is empty)",
    );
}

// ---- a real client's script -----------------------------------------------------------------

#[test]
fn ratelimit_fixed_window_and_token_bucket() {
    let mut db = Db::new();
    let fixed_window = r#"
        local key = KEYS[1]
        local window = ARGV[1]
        local current = redis.call("INCR", key)
        if current == 1 then
          redis.call("PEXPIRE", key, window)
        end
        return {current, redis.call("PTTL", key)}
    "#;
    assert_eq!(
        db.eval(fixed_window, &["rl:a"], &["10000"]),
        ints(&[1, 10000])
    );
    db.now += 1000;
    assert_eq!(
        db.eval(fixed_window, &["rl:a"], &["10000"]),
        ints(&[2, 9000])
    );
    db.now += 500;
    assert_eq!(
        db.eval(fixed_window, &["rl:a"], &["10000"]),
        ints(&[3, 8500])
    );
    db.now += 9000;
    assert_eq!(
        db.eval(fixed_window, &["rl:a"], &["10000"]),
        ints(&[1, 10000])
    );

    // @upstash/ratelimit's token bucket.
    let token_bucket = r#"
        local key         = KEYS[1]
        local maxTokens   = tonumber(ARGV[1])
        local interval    = tonumber(ARGV[2])
        local refillRate  = tonumber(ARGV[3])
        local now         = tonumber(ARGV[4])
        local incrementBy = tonumber(ARGV[5])
        local bucket = redis.call("HMGET", key, "refilledAt", "tokens")
        local refilledAt
        local tokens
        if bucket[1] == false then
          refilledAt = now
          tokens = maxTokens
        else
          refilledAt = tonumber(bucket[1])
          tokens = tonumber(bucket[2])
        end
        if now >= refilledAt + interval then
          local numRefills = math.floor((now - refilledAt) / interval)
          tokens = math.min(maxTokens, tokens + numRefills * refillRate)
          refilledAt = refilledAt + numRefills * interval
        end
        if tokens == 0 and incrementBy > 0 then
          return {-1, refilledAt + interval}
        end
        local remaining = tokens - incrementBy
        local expireAt = math.ceil(((maxTokens - remaining) / refillRate)) * interval
        redis.call("HSET", key, "refilledAt", refilledAt, "tokens", remaining)
        redis.call("PEXPIRE", key, expireAt)
        return {remaining, refilledAt + interval}
    "#;
    let now = T0.to_string();
    let reset = (T0 + 1000) as i64;
    for want in [1, 0, -1] {
        assert_eq!(
            db.eval(token_bucket, &["rl:b"], &["2", "1000", "1", &now, "1"]),
            ints(&[want, reset])
        );
    }
    assert_eq!(db.run(&["HGET", "rl:b", "tokens"]), bulk("0"));
    let later = (T0 + 1000).to_string();
    assert_eq!(
        db.eval(token_bucket, &["rl:b"], &["2", "1000", "1", &later, "1"]),
        ints(&[0, reset + 1000])
    );
}

// ---- cost ---------------------------------------------------------------------------------------

#[test]
fn a_cached_script_is_cheap() {
    let mut db = Db::new();
    let script = "return redis.call('incr', KEYS[1])";
    db.eval(script, &["x"], &[]);
    let sha = sha1(script);
    let n = 10_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        db.run(&["EVALSHA", &sha, "1", "x"]);
    }
    let per = start.elapsed() / n;
    let start = std::time::Instant::now();
    for _ in 0..n {
        db.run(&["INCR", "y"]);
    }
    let plain = start.elapsed() / n;
    eprintln!("EVALSHA incr: {per:?} per call; plain INCR: {plain:?} per call");
    assert_eq!(db.run(&["GET", "x"]), bulk(&(n + 1).to_string()));
    // Generous: a fresh VM per call would cost far more than this.
    assert!(per < std::time::Duration::from_millis(2), "{per:?}");
}

/// redis.acl_check_cmd and redis.call answer for the caller's ACL user when the server
/// names one (`ScriptControl::as_caller`), with Redis 7.0's texts; the default user
/// (no caller) may run everything.
#[test]
fn scripts_check_the_callers_acl() {
    use engine::acl::User;
    use engine::ScriptControl;
    use std::sync::Arc;
    let mut u = User::new(b"u");
    let rules: Vec<Vec<u8>> = ["on", "nopass", "+@all", "-set", "~k*"]
        .iter()
        .map(|r| r.as_bytes().to_vec())
        .collect();
    u.apply(&rules).expect("rules");
    let u = Arc::new(u);
    let mut db = Db::new();
    let check = "return {redis.acl_check_cmd('set','k','v') and 1 or 0, \
                 redis.acl_check_cmd('get','zzz') and 1 or 0, \
                 redis.acl_check_cmd('get','k1') and 1 or 0, \
                 redis.acl_check_cmd('get','a','b') and 1 or 0}";
    assert_eq!(db.eval(check, &[], &[]), ints(&[1, 1, 1, 1]));
    let as_u = |db: &mut Db, script: &str| {
        ScriptControl::as_caller(Some(u.clone()), || db.eval(script, &[], &[]))
    };
    assert_eq!(as_u(&mut db, check), ints(&[0, 0, 1, 0]));
    assert_eq!(
        as_u(&mut db, "return redis.pcall('set','k','v')"),
        err("ERR The user executing the script can't run this command or subcommand")
    );
    assert_eq!(
        as_u(&mut db, "return redis.pcall('get','zzz')"),
        err("ERR The user executing the script can't access at least one of the keys mentioned in the command arguments")
    );
    assert_eq!(as_u(&mut db, "return redis.pcall('get','k1')"), Frame::Null);
    let e = as_u(&mut db, "return redis.acl_check_cmd('nosuch','x')");
    assert!(
        matches!(&e, Frame::Error(t) if t.starts_with("ERR Invalid command passed to redis.acl_check_cmd()")),
        "{e:?}"
    );
    // The caller is gone once the call returns.
    assert_eq!(db.eval(check, &[], &[]), ints(&[1, 1, 1, 1]));
}
