//! Scripts and sessions as Redis 7.0 has them, compared with a stock redis-server run of
//! the same exchange: MULTI/EXEC while a script is BUSY, CLIENT REPLY OFF/SKIP with
//! pub/sub, CLIENT PAUSE WRITE (read-only scripts and transactions run, paused clients
//! count as blocked, expiry waits), MONITOR of script/function/transaction commands,
//! FUNCTION name and metadata texts, and the ACL of a script's caller on the write path.

use meridian_tests::{RedisServer, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A raw RESP2/RESP3 connection; replies as text (`"x"` bulk, `+x`, `-x`, `:1`, `_`,
/// `[..]`, `>[..]` push, `{k: v}` map).
struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Raw {
    fn new(port: u16) -> Raw {
        let w = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        }
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).unwrap();
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read a line");
        assert!(!l.is_empty(), "connection closed");
        l.trim_end_matches("\r\n").to_string()
    }

    fn read(&mut self) -> String {
        let l = self.line();
        let (t, rest) = l.split_at(1);
        let n = || rest.parse::<i64>().unwrap();
        let list = |me: &mut Raw, k: usize| -> Vec<String> { (0..k).map(|_| me.read()).collect() };
        match t {
            "+" | "-" | ":" => l.clone(),
            "_" => "_".into(),
            "$" | "=" if n() < 0 => "_".into(),
            "$" | "=" | "," => {
                if t == "," {
                    return l.clone();
                }
                let mut b = vec![0; n() as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                b.truncate(n() as usize);
                format!("{:?}", String::from_utf8_lossy(&b))
            }
            "*" if n() < 0 => "_".into(),
            "*" | "~" => format!("[{}]", list(self, n() as usize).join(", ")),
            ">" => format!(">[{}]", list(self, n() as usize).join(", ")),
            "%" => {
                let items = list(self, 2 * n() as usize);
                let pairs: Vec<String> = items
                    .chunks(2)
                    .map(|p| format!("{}: {}", p[0], p[1]))
                    .collect();
                format!("{{{}}}", pairs.join(", "))
            }
            other => panic!("unexpected reply type {other}"),
        }
    }

    fn q(&mut self, args: &[&str]) -> String {
        self.send(args);
        self.read()
    }

    /// The next frame if one arrives within `wait`.
    fn next_within(&mut self, wait: Duration) -> Option<String> {
        self.w.set_read_timeout(Some(wait)).unwrap();
        let got = matches!(self.r.fill_buf(), Ok(b) if !b.is_empty());
        self.w
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        got.then(|| self.read())
    }

    /// An INFO field.
    fn info(&mut self, section: &str, field: &str) -> String {
        let text = self.q(&["INFO", section]);
        let text = text.replace("\\r\\n", "\n");
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
            .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
    }
}

/// Runs `scenario` against a fresh Meridian node and a stock redis-server and asserts
/// that both wrote the same transcript.
fn same_as_redis(scenario: fn(u16) -> Vec<String>) {
    let redis = RedisServer::start();
    let want = scenario(redis.port);
    let srv = Server::start();
    let got = scenario(srv.port);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g, w,
            "step {i} differs (meridian / redis)\nmeridian: {got:#?}\nredis: {want:#?}"
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "meridian: {got:#?}\nredis: {want:#?}"
    );
}

fn busy_threshold(r: &mut Raw) {
    assert_eq!(r.q(&["CONFIG", "SET", "lua-time-limit", "10"]), "+OK");
}

fn multi_while_busy(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut r = Raw::new(port);
    let mut r2 = Raw::new(port);
    let mut rd = Raw::new(port);
    busy_threshold(&mut r);
    out.push(r.q(&["SET", "xx", "1"]));
    // A command refused with BUSY inside MULTI flags the transaction.
    rd.send(&["EVAL", "while true do end", "0"]);
    std::thread::sleep(Duration::from_millis(300));
    out.push(r2.q(&["MULTI"]));
    out.push(r2.q(&["INCR", "xx"]));
    out.push(r.q(&["SCRIPT", "KILL"]));
    let _ = rd.read();
    std::thread::sleep(Duration::from_millis(100));
    out.push(r2.q(&["INCR", "xx"]));
    out.push(r2.q(&["EXEC"]));
    // EXEC refused with BUSY discards the transaction with the reason.
    out.push(r2.q(&["MULTI"]));
    out.push(r2.q(&["INCR", "xx"]));
    rd.send(&["EVAL", "while true do end", "0"]);
    std::thread::sleep(Duration::from_millis(300));
    out.push(r2.q(&["EXEC"]));
    out.push(r.q(&["SCRIPT", "KILL"]));
    let _ = rd.read();
    std::thread::sleep(Duration::from_millis(100));
    out.push(r2.q(&["PING", "asdf"]));
    out.push(r2.q(&["EXEC"]));
    out.push(r.q(&["GET", "xx"]));
    out
}

#[test]
fn multi_exec_while_a_script_is_busy() {
    same_as_redis(multi_while_busy);
}

fn multi_refuses_no_multi_commands(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut r = Raw::new(port);
    for c in ["SAVE", "SHUTDOWN"] {
        out.push(r.q(&["MULTI"]));
        out.push(r.q(&["SET", "foo", "bar"]));
        out.push(r.q(&[c]));
        out.push(r.q(&["EXEC"]));
        out.push(r.q(&["GET", "foo"]));
    }
    out
}

#[test]
fn multi_refuses_save_and_shutdown() {
    same_as_redis(multi_refuses_no_multi_commands);
}

fn reply_off_pubsub(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = Raw::new(port);
    let mut s = Raw::new(port);
    let _ = s.q(&["HELLO", "3"]);
    s.send(&["CLIENT", "REPLY", "OFF"]);
    out.push(s.q(&["SUBSCRIBE", "channel"]));
    out.push(s.q(&["PSUBSCRIBE", "ch*"]));
    s.send(&["PING"]);
    out.push(p.q(&["PUBLISH", "channel", "hello"]));
    out.push(s.read());
    out.push(s.read());
    s.send(&["CLIENT", "REPLY", "OFF"]);
    out.push(s.q(&["UNSUBSCRIBE", "channel"]));
    out.push(s.q(&["PUNSUBSCRIBE", "ch*"]));
    out.push(format!("{:?}", s.next_within(Duration::from_millis(300))));
    // RESP2: SKIP, then the confirmation still comes, and the message.
    let mut s2 = Raw::new(port);
    s2.send(&["CLIENT", "REPLY", "SKIP"]);
    out.push(s2.q(&["PSUBSCRIBE", "*"]));
    out.push(p.q(&["PUBLISH", "x", "y"]));
    out.push(s2.read());
    out
}

#[test]
fn client_reply_off_and_skip_keep_pubsub_confirmations_and_messages() {
    same_as_redis(reply_off_pubsub);
}

/// Polls INFO blocked_clients until it is `n` (at most 5 s).
fn wait_blocked(r: &mut Raw, n: usize) -> String {
    let t0 = Instant::now();
    loop {
        let b = r.info("clients", "blocked_clients");
        if b == n.to_string() || t0.elapsed() > Duration::from_secs(5) {
            return format!("blocked_clients:{b}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pause_write(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut r = Raw::new(port);
    out.push(r.q(&["SET", "x", "y"]));
    out.push(r.q(&["PFADD", "hll", "a"]));
    out.push(r.q(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=f1\nredis.register_function{function_name='f1', callback=function() return 'hello' end, flags={'no-writes'}}",
    ]));
    out.push(r.q(&["CLIENT", "PAUSE", "100000", "WRITE"]));
    // Read-only scripts, functions and transactions run at once (a 2 s read timeout:
    // held back, they would fail the test).
    let mut rr = Raw::new(port);
    rr.w.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    out.push(rr.q(&["EVAL", "#!lua flags=no-writes\nreturn 'unique script'", "0"]));
    out.push(rr.q(&["EVAL_RO", "return redis.call('GeT', 'x')..' ro'", "1", "x"]));
    let sha = rr.q(&["SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 2"]);
    out.push(sha.clone());
    out.push(rr.q(&["EVALSHA", sha.trim_matches('"'), "0"]));
    out.push(rr.q(&["FCALL", "f1", "0"]));
    out.push(rr.q(&["MULTI"]));
    out.push(rr.q(&["PING"]));
    out.push(rr.q(&["GET", "x"]));
    out.push(rr.q(&["EVAL", "#!lua flags=no-writes\nreturn 12", "0"]));
    out.push(rr.q(&["EXEC"]));
    // A command with the wrong arity is answered at once.
    out.push(rr.q(&["SET", "FOO"]));
    out.push(wait_blocked(&mut r, 0));
    // Writes, PUBLISH, PFCOUNT and scripts without no-writes wait, counted as blocked.
    let mut held: Vec<Raw> = Vec::new();
    for args in [
        &["SET", "FOO", "BAR"][..],
        &["PFCOUNT", "hll"],
        &["PUBLISH", "foo", "bar"],
        &["EVAL", "return 1", "0"],
        &["EVAL", "#!lua\nreturn 2", "0"],
    ] {
        let mut c = Raw::new(port);
        c.send(args);
        held.push(c);
        out.push(wait_blocked(&mut r, held.len()));
    }
    out.push(r.q(&["CLIENT", "UNPAUSE"]));
    for c in &mut held {
        out.push(c.read());
    }
    out.push(wait_blocked(&mut r, 0));
    // Keys do not expire during a pause; right after it they do.
    let before: u64 = r.info("stats", "expired_keys").parse().unwrap();
    out.push(r.q(&["MULTI"]));
    out.push(r.q(&["SET", "foo", "bar", "PX", "10"]));
    out.push(r.q(&["CLIENT", "PAUSE", "50000", "WRITE"]));
    out.push(r.q(&["EXEC"]));
    std::thread::sleep(Duration::from_millis(400));
    out.push(r.q(&["GET", "foo"]));
    let during: u64 = r.info("stats", "expired_keys").parse().unwrap();
    out.push(format!("expired during the pause: {}", during - before));
    out.push(r.q(&["CLIENT", "UNPAUSE"]));
    out.push(r.q(&["GET", "foo"]));
    let after: u64 = r.info("stats", "expired_keys").parse().unwrap();
    out.push(format!("expired after it: {}", after - before));
    out
}

#[test]
fn client_pause_write_lets_read_only_scripts_and_transactions_run() {
    same_as_redis(pause_write);
}

/// MONITOR lines with the time and the client's address taken out.
fn monitor_line(l: &str) -> String {
    let l = l.trim_start_matches('+');
    let rest = l.split_once(' ').map_or(l, |(_, r)| r);
    match rest.split_once("] ") {
        Some((who, args)) if !who.ends_with(" lua") => {
            format!("[{} client] {args}", &who[1..who.find(' ').unwrap_or(1)])
        }
        _ => rest.to_string(),
    }
}

fn monitor(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut m = Raw::new(port);
    let mut r = Raw::new(port);
    out.push(m.q(&["MONITOR"]));
    out.push(r.q(&[
        "EVAL",
        "redis.call('set',KEYS[1],ARGV[1])",
        "1",
        "foo",
        "bar",
    ]));
    out.push(r.q(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=test\nredis.register_function('test', function() return redis.call('set', 'foo', 'bar') end)",
    ]));
    out.push(r.q(&["FCALL", "test", "0"]));
    out.push(r.q(&["EVAL_RO", "return redis.call('get',KEYS[1])", "1", "foo"]));
    out.push(r.q(&["MULTI"]));
    out.push(r.q(&["SET", "foo", "bar"]));
    out.push(r.q(&["GET", "foo"]));
    out.push(r.q(&["EXEC"]));
    out.push(r.q(&["MULTI"]));
    out.push(r.q(&["SYNTAX", "ERROR"]));
    out.push(r.q(&["EXEC"]));
    out.push(r.q(&["MULTI"]));
    out.push(r.q(&["SET", "a", "b"]));
    out.push(r.q(&["DISCARD"]));
    out.push(r.q(&["ECHO", "end"]));
    loop {
        let l = m.read();
        let l = monitor_line(&l);
        let end = l.to_ascii_lowercase().contains("\"echo\" \"end\"");
        out.push(l);
        if end {
            break;
        }
    }
    out
}

#[test]
fn monitor_shows_script_function_and_transaction_commands() {
    same_as_redis(monitor);
}

fn function_texts(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut r = Raw::new(port);
    let load = |r: &mut Raw, code: &str| r.q(&["FUNCTION", "LOAD", "REPLACE", code]);
    let reg = "\nredis.register_function('foo', function() return 1 end)";
    out.push(load(
        &mut r,
        "#!lua name=test\nredis.register_function('test', function() return 'hello1' end)",
    ));
    out.push(r.q(&["FCALL", "TEST", "0"]));
    out.push(r.q(&["FCALL", "Test", "0"]));
    for shebang in [
        "#! name=test",
        "#!lua name=\"foo\"",
        "#!lua NAME=t6",
        "#!LUA name=t7",
        "#!foo name=a-b",
        "#!foo",
        "#!lua name=\"a",
        "#!lua name=",
        "#!lua   name=sp   ",
        "#!lua name=x\tname2",
        "#!\"lua\" name=q1",
        "#!lua \"name=q2\"",
        "#!lua name=t14 name=t15",
        "#!lua name='x y'",
        "#!lua name=\"x\\x41\"",
    ] {
        out.push(format!(
            "{shebang:?} {}",
            load(&mut r, &format!("{shebang}{reg}"))
        ));
    }
    out.push(load(
        &mut r,
        "#!lua name=t4\nredis.register_function('F4', function() return 4 end)",
    ));
    out.push(r.q(&["FCALL", "f4", "0"]));
    out.push(load(
        &mut r,
        "#!lua name=t5\nredis.register_function('f4', function() return 5 end)",
    ));
    out.push(r.q(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=T8\nredis.register_function('f8', function() return 8 end)",
    ]));
    out.push(r.q(&["FUNCTION", "LIST", "LIBRARYNAME", "t8"]));
    out.push(r.q(&["FUNCTION", "DELETE", "t8"]));
    // The function's globals are `_G`, and still read-only.
    out.push(load(
        &mut r,
        "#!lua name=test1\nredis.register_function('f1', function()\n mt = getmetatable(_G)\n original_globals = mt.__index\n original_globals['redis'] = function() return 1 end\nend)",
    ));
    let e = r.q(&["FCALL", "f1", "0"]);
    out.push(e.contains("Attempt to modify a readonly table").to_string());
    out.push(load(
        &mut r,
        "#!lua name=g\nredis.register_function('g', function() return type(_G) end)",
    ));
    out.push(r.q(&["FCALL", "g", "0"]));
    out.push(load(
        &mut r,
        "#!lua name=g3\nredis.register_function('g3', function() _G = {} end)",
    ));
    let e = r.q(&["FCALL", "g3", "0"]);
    out.push(e.contains("Attempt to modify a readonly table").to_string());
    out.push(load(&mut r, "#!lua name=g2\nlocal t = type(_G)"));
    out.push(load(
        &mut r,
        "#!lua name=lib\nlocal a = 1\nwhile 1 do a = a + 1 end",
    ));
    out
}

#[test]
fn function_names_metadata_and_load_timeout() {
    same_as_redis(function_texts);
}

fn script_acl(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut admin = Raw::new(port);
    out.push(admin.q(&[
        "ACL",
        "SETUSER",
        "bob",
        "on",
        ">123",
        "+@scripting",
        "+set",
        "+get",
        "+function",
        "~x*",
    ]));
    out.push(admin.q(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=acllib\nredis.register_function('aclf', function() return redis.call('set','yy','1') end)",
    ]));
    let mut b = Raw::new(port);
    out.push(b.q(&["AUTH", "bob", "123"]));
    for script in [
        "return redis.acl_check_cmd('set','xx',1)",
        "return redis.acl_check_cmd('hset','xx','f',1)",
        "return redis.acl_check_cmd('set','yy',1)",
        "return redis.acl_check_cmd('invalid-cmd','arg')",
        "return redis.call('hset','xx','f',1)",
        "return redis.call('set','yy',1)",
        "local r = redis.pcall('set','yy',1); return r['err']",
        "return redis.call('set','xx',1)",
    ] {
        out.push(b.q(&["EVAL", script, "0"]));
    }
    out.push(b.q(&["FCALL", "aclf", "0"]));
    out.push(admin.q(&["EXISTS", "yy"]));
    out.push(admin.q(&["GET", "xx"]));
    out
}

#[test]
fn scripts_run_with_their_callers_acl_on_the_write_path() {
    same_as_redis(script_acl);
}
