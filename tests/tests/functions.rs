//! Redis 7 Functions against the real binary: libraries survive a kill -9 and restart,
//! FCALL/FCALL_RO work after it, and FUNCTION KILL stops a looping FCALL_RO (read path)
//! and a looping FCALL (in its trial run, before it reaches the log), with Redis's BUSY
//! text for functions.

use meridian_tests::{err_text, Server};
use redis::cmd;
use std::time::{Duration, Instant};

const LIB: &str = "#!lua name=mylib
redis.register_function('my_set', function(keys, args) return redis.call('SET', keys[1], args[1]) end)
redis.register_function{function_name='my_get', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}
";

const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

#[test]
fn libraries_survive_a_crash_and_restart() {
    let mut s = Server::start();
    let mut c = s.client();
    let name: String = cmd("FUNCTION").arg("LOAD").arg(LIB).query(&mut c).unwrap();
    assert_eq!(name, "mylib");
    let ok: String = cmd("FCALL")
        .arg("my_set")
        .arg(1)
        .arg("k")
        .arg("v1")
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");
    let v: String = cmd("FCALL_RO")
        .arg("my_get")
        .arg(1)
        .arg("k")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "v1");
    let e = cmd("FCALL_RO")
        .arg("my_set")
        .arg(1)
        .arg("k")
        .arg("x")
        .query::<String>(&mut c)
        .map_err(err_text)
        .unwrap_err();
    assert_eq!(
        e,
        "ERR Can not execute a script with write flag using *_ro command."
    );
    let e = cmd("FUNCTION")
        .arg("LOAD")
        .arg(LIB)
        .query::<String>(&mut c)
        .map_err(err_text)
        .unwrap_err();
    assert_eq!(e, "ERR Library 'mylib' already exists");

    s.crash_and_restart();
    let mut c = s.client();
    // A fresh process (fresh Lua VMs) recompiles the stored library on demand.
    let v: String = cmd("FCALL_RO")
        .arg("my_get")
        .arg(1)
        .arg("k")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "v1");
    let ok: String = cmd("FCALL")
        .arg("my_set")
        .arg(1)
        .arg("k")
        .arg("v2")
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");
    let v: String = cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v2");
    let list: redis::Value = cmd("FUNCTION").arg("LIST").query(&mut c).unwrap();
    assert!(format!("{list:?}").contains("mylib"), "{list:?}");
}

/// Sends FUNCTION KILL until it answers OK; returns how long that took.
fn kill_when_running(c: &mut redis::Connection) {
    let t0 = Instant::now();
    loop {
        match cmd("FUNCTION").arg("KILL").query::<String>(c) {
            Ok(ok) => {
                assert_eq!(ok, "OK");
                return;
            }
            Err(e) => {
                let e = err_text(e);
                assert!(e.starts_with("NOTBUSY"), "{e}");
                assert!(t0.elapsed() < Duration::from_secs(10), "function never ran");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn function_kill_stops_looping_functions() {
    let s = Server::start();
    let mut c = s.client();
    let lib = "#!lua name=loops
redis.register_function{function_name='spin_ro', callback=function() while true do end end, flags={'no-writes'}}
redis.register_function('spin', function(keys) redis.call('SET', keys[1], '1') while true do end end)
";
    let _: String = cmd("FUNCTION").arg("LOAD").arg(lib).query(&mut c).unwrap();
    // No huge budget needed for the kill; but make sure the budget is not what stops it.
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("script-max-instructions")
        .arg(1u64 << 50)
        .query(&mut c)
        .unwrap();

    // FCALL_RO runs on the read path of this node: killable.
    let url = s.url();
    let runner = std::thread::spawn(move || {
        let mut c = meridian_tests::connect(&url);
        cmd("FCALL_RO")
            .arg("spin_ro")
            .arg(0)
            .query::<()>(&mut c)
            .map_err(err_text)
    });
    // While it runs past the BUSY threshold other clients get the function text, and
    // FUNCTION STATS still answers.
    let t0 = Instant::now();
    let busy = loop {
        match cmd("PING").query::<String>(&mut c) {
            Ok(_) => {
                assert!(t0.elapsed() < Duration::from_secs(30), "never busy");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => break err_text(e),
        }
    };
    assert_eq!(busy, BUSY_FUNCTION);
    let stats: redis::Value = cmd("FUNCTION").arg("STATS").query(&mut c).unwrap();
    assert!(format!("{stats:?}").contains("spin_ro"), "{stats:?}");
    let e = cmd("SCRIPT")
        .arg("KILL")
        .query::<String>(&mut c)
        .map_err(err_text)
        .unwrap_err();
    assert_eq!(e, BUSY_FUNCTION);
    kill_when_running(&mut c);
    let e = runner
        .join()
        .unwrap()
        .expect_err("the killed function replied");
    assert!(
        e.starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{e}"
    );

    // FCALL is tried on this node before it is proposed: killable there, even after it
    // wrote, and nothing reaches the log.
    let url = s.url();
    let runner = std::thread::spawn(move || {
        let mut c = meridian_tests::connect(&url);
        cmd("FCALL")
            .arg("spin")
            .arg(1)
            .arg("written")
            .query::<()>(&mut c)
            .map_err(err_text)
    });
    kill_when_running(&mut c);
    let e = runner
        .join()
        .unwrap()
        .expect_err("the killed function replied");
    assert!(
        e.starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{e}"
    );
    let v: Option<String> = cmd("GET").arg("written").query(&mut c).unwrap();
    assert_eq!(v, None);
    let pong: String = cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}
