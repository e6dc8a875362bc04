//! Blocked clients as Redis 7.0 serves them, with real clients on the real binary, and
//! the same scenarios against a stock redis-server where the outcome is deterministic:
//! - a key deleted and re-created as another type keeps BLPOP, BZPOPMIN, BLMPOP and
//!   XREAD waiting; they are served when their type appears;
//! - XREADGROUP gets `UNBLOCKED ...` when its stream is deleted, replaced or flushed,
//!   and `NOGROUP ...` when its group is destroyed;
//! - clients blocked one after the other are served in that order; linked and circular
//!   BLMOVEs have moved the element when the pushing command answers; a MULTI/EXEC or a
//!   script wakes waiters after it ran, before it answers;
//! - blocking commands called from scripts are refused (or run without blocking) with
//!   Redis's texts.
//!
//! Every wait is bounded: blocked commands use timeouts of a few seconds, and the
//! helpers give up after 10 s.

use meridian_tests::{connect, Server};
use redis::Value;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn conn(port: u16) -> redis::Connection {
    connect(&format!("redis://127.0.0.1:{port}/"))
}

/// A reply as text: bulk strings as they are, arrays in brackets, errors as "ERR ...".
fn show(v: &redis::RedisResult<Value>) -> String {
    fn one(v: &Value) -> String {
        match v {
            Value::Nil => "nil".into(),
            Value::Int(i) => i.to_string(),
            Value::BulkString(d) => String::from_utf8_lossy(d).into_owned(),
            Value::SimpleString(s) => s.clone(),
            Value::Okay => "OK".into(),
            Value::ServerError(e) => format!("{} {}", e.code(), e.details().unwrap_or("")),
            Value::Array(items) => {
                format!("[{}]", items.iter().map(one).collect::<Vec<_>>().join(" "))
            }
            other => format!("{other:?}"),
        }
    }
    match v {
        Ok(v) => one(v),
        Err(e) => match (e.code(), e.detail()) {
            (Some(code), Some(detail)) => format!("{code} {detail}"),
            _ => e.to_string(),
        },
    }
}

fn run(c: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    show(&cmd.query::<Value>(c))
}

/// Sends `args` on a connection of its own (after `setup`, e.g. SELECT), from a thread;
/// the reply comes on the receiver.
fn spawn_cmd(port: u16, setup: &[&[&str]], args: &[&str]) -> mpsc::Receiver<String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let setup: Vec<Vec<String>> = setup
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut c = conn(port);
        for s in &setup {
            let s: Vec<&str> = s.iter().map(String::as_str).collect();
            run(&mut c, &s);
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = tx.send(run(&mut c, &a));
    });
    rx
}

/// Waits until the server counts `n` blocked clients.
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(c).expect("INFO");
        if info.contains(&format!("blocked_clients:{n}\r")) {
            // Let a command just registered finish its first look (Meridian registers
            // a waiter before its first run).
            thread::sleep(Duration::from_millis(50));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never {n} blocked clients: {info}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn reply(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("blocked client answered within 10 s")
}

/// Nothing arrives for a short while: the client is still blocked.
fn still_blocked(rx: &mpsc::Receiver<String>) {
    if let Ok(r) = rx.recv_timeout(Duration::from_millis(300)) {
        panic!("blocked client was answered: {r}");
    }
}

/// Each scenario runs against one server (by port) and returns what it observed.
type Scenario = fn(u16) -> Vec<String>;

fn type_change_keeps_blpop_waiting(port: u16) -> Vec<String> {
    let mut c = conn(port);
    run(&mut c, &["DEL", "l"]);
    let rx = spawn_cmd(port, &[], &["BLPOP", "l", "5"]);
    wait_blocked(&mut c, 1);
    // Redis's "BLPOP, LPUSH + DEL + SET should not awake blocked client".
    let mut tx = redis::pipe();
    tx.atomic()
        .cmd("LPUSH")
        .arg("l")
        .arg("a")
        .cmd("DEL")
        .arg("l")
        .cmd("SET")
        .arg("l")
        .arg("foo");
    let _: Value = tx.query(&mut c).expect("EXEC");
    still_blocked(&rx);
    run(&mut c, &["DEL", "l"]);
    run(&mut c, &["ZADD", "l", "1", "m"]);
    still_blocked(&rx);
    run(&mut c, &["DEL", "l"]);
    run(&mut c, &["LPUSH", "l", "b"]);
    vec![reply(&rx)]
}

fn type_change_keeps_others_waiting(port: u16) -> Vec<String> {
    let mut c = conn(port);
    run(&mut c, &["DEL", "z", "k1", "k2", "s"]);
    let mut out = Vec::new();
    // BZPOPMIN: a string, then a list, then the sorted set.
    let rx = spawn_cmd(port, &[], &["BZPOPMIN", "z", "5"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["SET", "z", "x"]);
    run(&mut c, &["DEL", "z"]);
    run(&mut c, &["RPUSH", "z", "x"]);
    still_blocked(&rx);
    run(&mut c, &["DEL", "z"]);
    run(&mut c, &["ZADD", "z", "1", "m"]);
    out.push(reply(&rx));
    // BLMPOP over two keys: the first turns into a string, the second gets data.
    let rx = spawn_cmd(port, &[], &["BLMPOP", "5", "2", "k1", "k2", "LEFT"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["SET", "k1", "x"]);
    still_blocked(&rx);
    run(&mut c, &["RPUSH", "k2", "a"]);
    out.push(reply(&rx));
    // BLPOP over two keys, the same way.
    run(&mut c, &["DEL", "k1", "k2"]);
    let rx = spawn_cmd(port, &[], &["BLPOP", "k1", "k2", "5"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["SET", "k1", "x"]);
    run(&mut c, &["RPUSH", "k2", "b"]);
    out.push(reply(&rx));
    // XREAD: deleted, re-created as a string, deleted, re-created as a stream.
    run(&mut c, &["XADD", "s", "1-0", "f", "v"]);
    let rx = spawn_cmd(port, &[], &["XREAD", "BLOCK", "5000", "STREAMS", "s", "$"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["DEL", "s"]);
    run(&mut c, &["SET", "s", "x"]);
    still_blocked(&rx);
    run(&mut c, &["DEL", "s"]);
    run(&mut c, &["XADD", "s", "2-0", "a", "b"]);
    out.push(reply(&rx));
    out
}

fn blmove_to_wrong_type_fails_and_keeps_the_element(port: u16) -> Vec<String> {
    let mut c = conn(port);
    run(&mut c, &["DEL", "a", "b"]);
    let rx = spawn_cmd(port, &[], &["BLMOVE", "a", "b", "LEFT", "RIGHT", "5"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["SET", "b", "x"]);
    run(&mut c, &["RPUSH", "a", "e1", "e2"]);
    vec![reply(&rx), run(&mut c, &["LRANGE", "a", "0", "-1"])]
}

fn xreadgroup_errors(port: u16) -> Vec<String> {
    let mut c = conn(port);
    let mut out = Vec::new();
    let block = [
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ];
    let ends: [&[&[&str]]; 5] = [
        &[&["DEL", "s"]],
        &[&["SET", "s", "v"]],
        &[&["FLUSHALL"]],
        &[&["XGROUP", "DESTROY", "s", "g"]],
        &[&["MULTI"], &["DEL", "s"], &["SADD", "s", "e"], &["EXEC"]],
    ];
    for end in ends {
        run(&mut c, &["DEL", "s"]);
        run(&mut c, &["XADD", "s", "1-0", "f", "v"]);
        run(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]);
        let rx = spawn_cmd(port, &[], &block);
        wait_blocked(&mut c, 1);
        for cmd in end {
            run(&mut c, cmd);
        }
        out.push(reply(&rx));
    }
    out
}

fn fifo(port: u16) -> Vec<String> {
    let mut c = conn(port);
    run(&mut c, &["DEL", "q"]);
    let a = spawn_cmd(port, &[], &["BLPOP", "q", "5"]);
    wait_blocked(&mut c, 1);
    let b = spawn_cmd(port, &[], &["BLPOP", "q", "5"]);
    wait_blocked(&mut c, 2);
    let d = spawn_cmd(port, &[], &["BLPOP", "q", "5"]);
    wait_blocked(&mut c, 3);
    run(&mut c, &["RPUSH", "q", "1"]);
    let first = reply(&a);
    still_blocked(&b);
    run(&mut c, &["RPUSH", "q", "2", "3"]);
    let mut out = vec![first, reply(&b), reply(&d)];
    // A client waiting for another type does not hold up those behind it.
    let z = spawn_cmd(port, &[], &["BZPOPMIN", "q", "5"]);
    wait_blocked(&mut c, 1);
    let l = spawn_cmd(port, &[], &["BLPOP", "q", "5"]);
    wait_blocked(&mut c, 2);
    run(&mut c, &["RPUSH", "q", "x"]);
    out.push(reply(&l));
    still_blocked(&z);
    run(&mut c, &["ZADD", "q", "1", "m"]);
    out.push(reply(&z));
    out
}

fn chains(port: u16) -> Vec<String> {
    let mut c = conn(port);
    let mut out = Vec::new();
    // Redis's "Linked LMOVEs".
    run(&mut c, &["DEL", "l1", "l2", "l3"]);
    let a = spawn_cmd(port, &[], &["BLMOVE", "l1", "l2", "RIGHT", "LEFT", "5"]);
    wait_blocked(&mut c, 1);
    let b = spawn_cmd(port, &[], &["BLMOVE", "l2", "l3", "LEFT", "RIGHT", "5"]);
    wait_blocked(&mut c, 2);
    run(&mut c, &["RPUSH", "l1", "foo"]);
    for k in ["l1", "l2", "l3"] {
        out.push(run(&mut c, &["LRANGE", k, "0", "-1"]));
    }
    out.push(reply(&a));
    out.push(reply(&b));
    // Redis's "Circular BRPOPLPUSH".
    run(&mut c, &["DEL", "l1", "l2"]);
    let a = spawn_cmd(port, &[], &["BRPOPLPUSH", "l1", "l2", "5"]);
    wait_blocked(&mut c, 1);
    let b = spawn_cmd(port, &[], &["BRPOPLPUSH", "l2", "l1", "5"]);
    wait_blocked(&mut c, 2);
    run(&mut c, &["RPUSH", "l1", "foo"]);
    out.push(run(&mut c, &["LRANGE", "l1", "0", "-1"]));
    out.push(run(&mut c, &["LRANGE", "l2", "0", "-1"]));
    out.push(reply(&a));
    out.push(reply(&b));
    // Redis's "PUSH resulting from BRPOPLPUSH affect WATCH".
    run(&mut c, &["DEL", "src", "dst"]);
    let a = spawn_cmd(port, &[], &["BRPOPLPUSH", "src", "dst", "5"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["WATCH", "dst"]);
    run(&mut c, &["LPUSH", "src", "element"]);
    out.push(reply(&a));
    run(&mut c, &["MULTI"]);
    run(&mut c, &["LPUSH", "dst", "a"]);
    out.push(run(&mut c, &["EXEC"]));
    out
}

fn transactions_and_scripts_wake_after(port: u16) -> Vec<String> {
    let mut c = conn(port);
    let mut out = Vec::new();
    // Redis's "MULTI/EXEC is isolated from the point of view of BLPOP".
    run(&mut c, &["DEL", "m"]);
    let a = spawn_cmd(port, &[], &["BLPOP", "m", "5"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["MULTI"]);
    for v in ["a", "b", "c"] {
        run(&mut c, &["LPUSH", "m", v]);
    }
    run(&mut c, &["EXEC"]);
    out.push(run(&mut c, &["LLEN", "m"]));
    out.push(reply(&a));
    // A pop inside the transaction: the waiter sees what is left after EXEC.
    run(&mut c, &["DEL", "m"]);
    let a = spawn_cmd(port, &[], &["BLPOP", "m", "5"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["MULTI"]);
    run(&mut c, &["RPUSH", "m", "x", "y"]);
    run(&mut c, &["LPOP", "m"]);
    run(&mut c, &["EXEC"]);
    out.push(run(&mut c, &["LLEN", "m"]));
    out.push(reply(&a));
    // The same from a script.
    let a = spawn_cmd(port, &[], &["BLPOP", "m", "5"]);
    wait_blocked(&mut c, 1);
    let script = "redis.call('rpush', KEYS[1], 'x', 'y') redis.call('lpop', KEYS[1]) return 1";
    run(&mut c, &["EVAL", script, "1", "m"]);
    out.push(run(&mut c, &["LLEN", "m"]));
    out.push(reply(&a));
    out
}

fn scripts_refuse_blocking(port: u16) -> Vec<String> {
    let mut c = conn(port);
    run(&mut c, &["DEL", "x", "s"]);
    run(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let calls = [
        "return redis.pcall('blpop','x',0)",
        "return redis.pcall('brpop','x',1)",
        "return redis.pcall('brpoplpush','x','y',0)",
        "return redis.pcall('blmove','x','y','LEFT','LEFT',0)",
        "return redis.pcall('bzpopmin','x',0)",
        "return redis.pcall('bzpopmax','x',0)",
        "return redis.pcall('blmpop',0,1,'x','LEFT')",
        "return redis.pcall('bzmpop',0,1,'x','MIN')",
        "return redis.pcall('xread','STREAMS','s','$')",
        "return redis.pcall('xread','BLOCK',0,'STREAMS','s','$')",
        "return redis.pcall('XREAD','BLOCK',0,'STREAMS','s','$')",
        "return redis.pcall('xreadgroup','group','g','c','STREAMS','s','>')",
        "return redis.pcall('xreadgroup','group','g','c','BLOCK',0,'STREAMS','s','>')",
    ];
    calls
        .iter()
        .map(|s| run(&mut c, &["EVAL", s, "0"]))
        .collect()
}

fn expected(name: &str) -> Vec<&'static str> {
    let gone = "UNBLOCKED the stream key no longer exists";
    match name {
        "type_change_keeps_blpop_waiting" => vec!["[l b]"],
        "type_change_keeps_others_waiting" => {
            vec!["[z m 1]", "[k2 [a]]", "[k2 b]", "[[s [[2-0 [a b]]]]]"]
        }
        "blmove_to_wrong_type_fails_and_keeps_the_element" => vec![
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "[e1 e2]",
        ],
        "xreadgroup_errors" => vec![
            gone,
            gone,
            gone,
            "NOGROUP the consumer group this client was blocked on no longer exists",
            gone,
        ],
        "fifo" => vec!["[q 1]", "[q 2]", "[q 3]", "[q x]", "[q m 1]"],
        "chains" => vec![
            "[]", "[]", "[foo]", "foo", "foo", "[foo]", "[]", "foo", "foo", "element", "nil",
        ],
        "transactions_and_scripts_wake_after" => vec!["2", "[m c]", "0", "[m y]", "0", "[m y]"],
        "scripts_refuse_blocking" => {
            let no = "ERR This Redis command is not allowed from script";
            vec![
                no,
                no,
                no,
                no,
                no,
                no,
                "nil",
                "nil",
                "nil",
                "ERR xread command is not allowed with BLOCK option from scripts",
                "ERR XREAD command is not allowed with BLOCK option from scripts",
                "nil",
                "ERR xreadgroup command is not allowed with BLOCK option from scripts",
            ]
        }
        _ => unreachable!(),
    }
}

const SCENARIOS: [(&str, Scenario); 8] = [
    (
        "type_change_keeps_blpop_waiting",
        type_change_keeps_blpop_waiting,
    ),
    (
        "type_change_keeps_others_waiting",
        type_change_keeps_others_waiting,
    ),
    (
        "blmove_to_wrong_type_fails_and_keeps_the_element",
        blmove_to_wrong_type_fails_and_keeps_the_element,
    ),
    ("xreadgroup_errors", xreadgroup_errors),
    ("fifo", fifo),
    ("chains", chains),
    (
        "transactions_and_scripts_wake_after",
        transactions_and_scripts_wake_after,
    ),
    ("scripts_refuse_blocking", scripts_refuse_blocking),
];

fn check(port: u16, server: &str, only: &str) {
    for (name, f) in SCENARIOS.iter().filter(|(n, _)| *n == only) {
        let got = f(port);
        let want: Vec<String> = expected(name).iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "{server}: {name}");
    }
}

macro_rules! scenario_tests {
    ($($name:ident),*) => {
        mod meridian {
            $(
                #[test]
                fn $name() {
                    let s = meridian_tests::Server::start();
                    super::check(s.port, "meridian", stringify!($name));
                }
            )*
        }
        mod redis_server {
            $(
                #[test]
                fn $name() {
                    let r = meridian_tests::RedisServer::start();
                    super::check(r.port, "redis-server", stringify!($name));
                }
            )*
        }
    };
}

scenario_tests!(
    type_change_keeps_blpop_waiting,
    type_change_keeps_others_waiting,
    blmove_to_wrong_type_fails_and_keeps_the_element,
    xreadgroup_errors,
    fifo,
    chains,
    transactions_and_scripts_wake_after,
    scripts_refuse_blocking
);

/// The serve-before-reply wait is bounded: a writer is never held up for long by a
/// blocked client whose look-again takes time, and no blocked client is left behind.
#[test]
fn many_waiters_many_pushes_are_all_served_in_order() {
    let s = Server::start();
    let mut c = s.client();
    let rxs: Vec<_> = (0..8)
        .map(|i| {
            let rx = spawn_cmd(s.port, &[], &["BLPOP", "many", "10"]);
            wait_blocked(&mut c, i + 1);
            rx
        })
        .collect();
    for i in 0..8 {
        run(&mut c, &["RPUSH", "many", &i.to_string()]);
    }
    for (i, rx) in rxs.iter().enumerate() {
        assert_eq!(reply(rx), format!("[many {i}]"));
    }
}
