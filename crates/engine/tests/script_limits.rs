//! Runaway scripts: the instruction budget (`script-max-instructions`) stops a script at
//! the same instruction on every replica and leaves nothing behind; the memory limit and
//! deep recursion give errors, not crashes; a trial run can be killed at any point.

use engine::settings::{self, SCRIPT_MAX_INSTRUCTIONS};
use engine::{Frame, ScriptControl, Txn};

mod common;
use common::*;

fn eval(db: &mut Db, script: &str) -> Frame {
    db.run(&["EVAL", script, "0"])
}

fn set_budget(db: &mut Db, name: &str, value: &str) {
    db.index += 1;
    let mut t = Txn::new(&db.store, db.index, db.now, db.seed);
    settings::apply_config_set(&mut t, &[(name.to_string(), value.as_bytes().to_vec())]).unwrap();
    let effects = t.into_effects();
    db.store.apply(&effects);
}

fn budget_error(f: &Frame) -> bool {
    matches!(f, Frame::Error(e) if e.starts_with(
        "ERR Script killed after running more Lua instructions than script-max-instructions allows"))
}

#[test]
fn a_runaway_script_stops_at_its_budget_and_leaves_nothing() {
    let mut db = Db::new();
    set_budget(&mut db, "script-max-instructions", "2000000");
    db.run(&["SET", "before", "1"]);
    let reply = eval(
        &mut db,
        "redis.call('set','partial','1') redis.call('incr','before') while true do end",
    );
    assert!(budget_error(&reply), "{reply:?}");
    // Only the script cache entry (EVAL caches the body, as Redis does) remains.
    assert!(
        db.last.writes.iter().all(|w| matches!(w,
            engine::Write::Put(keys::Cf::Sm, k, _) if k.starts_with(b"script:"))),
        "a stopped script wrote {:?}",
        db.last
    );
    assert_eq!(db.run(&["GET", "partial"]), Frame::Null);
    assert_eq!(db.run(&["GET", "before"]), bulk("1"));
    // The node goes on serving scripts.
    assert_eq!(eval(&mut db, "return redis.call('incr','before')"), int(2));
}

#[test]
fn pcall_cannot_swallow_the_budget_nor_can_coroutines_escape_it() {
    let mut db = Db::new();
    set_budget(&mut db, "script-max-instructions", "1000000");
    let r = eval(
        &mut db,
        "while true do pcall(function() while true do end end) end",
    );
    assert!(budget_error(&r), "{r:?}");
    let r = eval(
        &mut db,
        "while true do local co = coroutine.create(function() while true do end end) coroutine.resume(co) end",
    );
    assert!(budget_error(&r), "{r:?}");
}

#[test]
fn the_budget_is_the_same_count_on_every_replica() {
    // Two replicas apply the same entries; one VM has a different history (other scripts
    // ran on it before). The stopped script's reply and effects are identical.
    let script = "local n = 0 for i = 1, 1e12 do n = n + 1 redis.call('set', 'n', n) end";
    let mut outcomes = Vec::new();
    for history in [false, true] {
        let mut db = Db::new();
        if history {
            for i in 0..50 {
                eval(
                    &mut db,
                    &format!(
                        "local t = {{}} for i = 1, {} do t[i] = tostring(i) end return #t",
                        1000 + i
                    ),
                );
            }
        }
        set_budget(&mut db, "script-max-instructions", "600000");
        let reply = eval(&mut db, script);
        assert!(budget_error(&reply), "{reply:?}");
        eval(&mut db, "redis.call('set','after','1')");
        outcomes.push((reply, db.run(&["GET", "n"]), db.last.clone()));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    // Rolled back: the loop's SETs are gone.
    assert_eq!(outcomes[0].1, Frame::Null);
}

#[test]
fn the_default_budget_applies_without_any_setting() {
    let db = Db::new();
    let t = Txn::new(&db.store, 1, db.now, db.seed);
    assert_eq!(
        SCRIPT_MAX_INSTRUCTIONS.get(&t).unwrap(),
        SCRIPT_MAX_INSTRUCTIONS.default
    );
    let mut db = Db::new();
    // A loop well under the default finishes.
    assert_eq!(
        eval(
            &mut db,
            "local n = 0 for i = 1, 1000000 do n = n + 1 end return n"
        ),
        int(1_000_000)
    );
}

#[test]
fn script_memory_is_bounded_with_a_clear_error() {
    let mut db = Db::new();
    set_budget(&mut db, "script-max-memory", "64mb");
    let r = eval(&mut db, "return string.rep('x', 1024*1024*1024)");
    assert!(
        matches!(&r, Frame::Error(e) if e.contains("not enough memory")),
        "{r:?}"
    );
    let r = eval(
        &mut db,
        "local t = {} for i = 1, 1e9 do t[i] = 'value' .. i end return #t",
    );
    assert!(
        matches!(&r, Frame::Error(e) if e.contains("not enough memory")),
        "{r:?}"
    );
    // The VM recovers: the next script runs.
    assert_eq!(eval(&mut db, "return #string.rep('x', 1000)"), int(1000));
}

#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    let mut db = Db::new();
    let r = eval(
        &mut db,
        "local function f(n) return 1 + f(n + 1) end return f(1)",
    );
    assert!(
        matches!(&r, Frame::Error(e) if e.contains("stack overflow")),
        "{r:?}"
    );
    // Deeply nested tables in replies, cjson and cmsgpack.
    let r = eval(
        &mut db,
        "local t = {} local c = t for i = 1, 100000 do c[1] = {} c = c[1] end return t",
    );
    assert!(matches!(r, Frame::Error(_) | Frame::Array(_)), "{r:?}");
    let r = eval(
        &mut db,
        "local t = {} local c = t for i = 1, 100000 do c[1] = {} c = c[1] end return cjson.encode(t)",
    );
    assert!(matches!(r, Frame::Error(_)), "{r:?}");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = db.run(&["EVAL", "return cjson.decode(ARGV[1])", "0", &deep]);
    assert!(matches!(r, Frame::Error(_)), "{r:?}");
    let r = eval(
        &mut db,
        "local t = {} local c = t for i = 1, 100000 do c[1] = {} c = c[1] end return cmsgpack.pack(t)",
    );
    assert!(matches!(r, Frame::Bulk(_) | Frame::Error(_)), "{r:?}");
    let r = db.run(&[
        "EVAL",
        "return #cmsgpack.unpack(ARGV[1])",
        "0",
        &"\u{91}".repeat(1),
    ]);
    assert!(matches!(r, Frame::Integer(_) | Frame::Error(_)), "{r:?}");
    assert_eq!(eval(&mut db, "return 7"), int(7));
}

#[test]
fn a_trial_run_is_killable_even_after_it_wrote() {
    let worker = std::thread::spawn(|| {
        let db = Db::new();
        let mut t = Txn::trial(&db.store, 1, db.now, db.seed);
        t.run(
            0,
            &[
                b"EVAL".to_vec(),
                b"redis.call('set','k','v') while true do end".to_vec(),
                b"0".to_vec(),
            ],
        )
    });
    let mut waited = 0;
    while ScriptControl::running_since_ms().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(5));
        waited += 1;
        assert!(waited < 2000, "script never started");
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(ScriptControl::request_kill(), Ok(()));
    let reply = worker.join().unwrap();
    assert!(
        matches!(&reply, Frame::Error(e) if ScriptControl::stopped_by_limit_or_kill(e)
            && e.starts_with("ERR Script killed by user with SCRIPT KILL...")),
        "{reply:?}"
    );
}
