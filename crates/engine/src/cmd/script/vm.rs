//! The Lua VM scripts run in: one per thread, kept for the thread's life, with compiled
//! functions cached by sha (Redis's `f_<sha>`), and the `redis` API.
//!
//! Isolation between runs (what makes a long-lived VM deterministic): the globals a
//! script sees are a fresh table per run (reads fall through to the shared, read-only
//! globals; writes fail as in Redis 7: "Attempt to modify a readonly table"); the
//! library tables are read-only proxies; rawset/setmetatable/table.insert/remove/sort
//! refuse protected tables; getfenv never returns the real globals and setfenv cannot
//! touch C functions or the thread; per-run state (math.random's generator, cjson's
//! configuration, the RESP version, the selected db) lives in `RunCtx`, rebuilt for
//! every run. `collectgarbage` may not stop or retune the collector.

use super::api::{to_bytes, to_number, Args, Fail, LResult, LibFnPtr};
use super::cjson::{self, CfgRef};
use super::ffi::{self as cffi, MODE_CALL, MODE_PACK, MODE_PLAIN, REG_GLOBALS};
use super::{bit, cmsgpack, structlib, RunSlot};
use crate::error::{CmdError, CmdResult};
use crate::table::{self, flags, Exec};
use crate::txn::Txn;
use crate::Frame;
use mlua::ffi;
use mlua::{ChunkMode, Function, LightUserData, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::raw::c_int;
use std::sync::Arc;

/// Compiled functions kept per VM before the cache starts over.
const MAX_CACHED: usize = 1024;
/// Nesting of a script's reply (Redis stops at its Lua stack limit the same way).
const MAX_REPLY_DEPTH: usize = 1000;
/// What INFO reports as redis_version.
const REDIS_VERSION: &str = "7.2.4";
const REDIS_VERSION_NUM: f64 = 0x0007_0204 as f64;

// ---- per-run state -------------------------------------------------------------------

/// Everything a run may change, thrown away when it ends.
pub(super) struct RunCtx {
    /// The transaction the script runs in. Only dereferenced by `call`, during the run
    /// (`run` holds the `&mut Txn` for that whole time and does not touch it).
    txn: *mut Txn<'static>,
    db: u8,
    resp3: bool,
    read_only: bool,
    slot: Arc<RunSlot>,
    /// lrand48 state of math.random.
    rand: u64,
    pub(super) cjson: cjson::Config,
}

thread_local! {
    static RUN: RefCell<Option<RunCtx>> = const { RefCell::new(None) };
    /// The running script's slot, for the kill hook (separate from RUN so the hook
    /// never contends with a callback that holds it).
    static SLOT: RefCell<Option<Arc<RunSlot>>> = const { RefCell::new(None) };
    static VM: RefCell<Option<Vm>> = const { RefCell::new(None) };
    /// Functions registered by the library loading now (None outside a load).
    static LOADING: RefCell<Option<Vec<Registered>>> = const { RefCell::new(None) };
    /// The running script's instruction count and budget (executed, max).
    static BUDGET: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, u64::MAX)) };
    /// The ACL user whose script runs here, when the caller said so
    /// (`ScriptControl::as_caller`); None: the default user, who may run everything.
    static CALLER: RefCell<Option<Arc<crate::acl::User>>> = const { RefCell::new(None) };
}

/// Runs `f` with `user` as the caller of the scripts it runs on this thread: their
/// `redis.call`/`redis.pcall` and `redis.acl_check_cmd` check that user's ACL.
pub(super) fn with_caller<R>(user: Option<Arc<crate::acl::User>>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<crate::acl::User>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0.take();
            CALLER.with(|c| *c.borrow_mut() = old);
        }
    }
    let old = CALLER.with(|c| std::mem::replace(&mut *c.borrow_mut(), user));
    let _restore = Restore(old);
    f()
}

/// A command a script was refused by its caller's ACL, for that caller's ACL LOG
/// (context `lua`, as Redis logs it): `reason` is `command`, `key` or `channel`,
/// `object` the command's name (`config|get`) or the key or channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptDenial {
    pub reason: &'static str,
    pub object: Vec<u8>,
}

thread_local! {
    /// Where refusals are collected while `noting_denials` runs (None otherwise: the
    /// log's apply on every node collects nothing, the node that received the command
    /// logs what its trial or read-path run met).
    static DENIALS: RefCell<Option<Vec<ScriptDenial>>> = const { RefCell::new(None) };
}

/// Runs `f`, collecting the ACL refusals of the scripts it runs on this thread.
pub(super) fn noting_denials<R>(f: impl FnOnce() -> R) -> (R, Vec<ScriptDenial>) {
    struct Restore(Option<Vec<ScriptDenial>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0.take();
            DENIALS.with(|d| *d.borrow_mut() = old);
        }
    }
    let old = DENIALS.with(|d| d.borrow_mut().replace(Vec::new()));
    let restore = Restore(old);
    let r = f();
    let noted = DENIALS.with(|d| d.borrow_mut().take()).unwrap_or_default();
    drop(restore);
    (r, noted)
}

fn note_denial(spec: &table::CommandSpec, argv: &[Vec<u8>], d: crate::acl::Denied) {
    DENIALS.with(|n| {
        if let Ok(mut n) = n.try_borrow_mut() {
            if let Some(list) = n.as_mut() {
                let (reason, object) = match d {
                    crate::acl::Denied::Command => (
                        "command",
                        crate::acl::command_full_name(spec, argv).into_bytes(),
                    ),
                    crate::acl::Denied::Key(i) => ("key", argv.get(i).cloned().unwrap_or_default()),
                    crate::acl::Denied::Channel(i) => {
                        ("channel", argv.get(i).cloned().unwrap_or_default())
                    }
                };
                // Bounded: a script looping over refused calls cannot grow this without end.
                if list.len() < 1024 {
                    list.push(ScriptDenial { reason, object });
                }
            }
        }
    });
}

/// Whether the caller may run `argv` (as `spec`); Err: what it may not touch.
fn caller_check(spec: &table::CommandSpec, argv: &[Vec<u8>]) -> Result<(), crate::acl::Denied> {
    CALLER.with(|c| match &*c.borrow() {
        Some(u) => u.check(spec, argv),
        None => Ok(()),
    })
}

pub(super) const KILLED_MSG: &[u8] = b"ERR Script killed by user with SCRIPT KILL...\0";
pub(super) const BUDGET_MSG: &[u8] =
    b"ERR Script killed after running more Lua instructions than script-max-instructions allows\0";

/// The instruction budget of a library's top level (FUNCTION LOAD, RESTORE): Redis
/// gives it 500 ms of wall clock; this is a deterministic stand-in of about that much.
const LOAD_MAX_INSTRUCTIONS: u64 = 100_000_000;

/// The kill hook's decision, given the instructions executed since its last call: the
/// error to raise, if the script must stop.
pub(super) fn hook_verdict(executed: u64) -> Option<&'static [u8]> {
    if kill_requested() {
        return Some(KILLED_MSG);
    }
    BUDGET.with(|b| {
        let (used, max) = b.get();
        let used = used.saturating_add(executed);
        b.set((used, max));
        (used > max).then_some(BUDGET_MSG)
    })
}

pub(super) fn with_run<R>(f: impl FnOnce(&mut RunCtx) -> R) -> Option<R> {
    RUN.with(|r| {
        let mut r = r.try_borrow_mut().ok()?;
        r.as_mut().map(f)
    })
}

pub(super) fn kill_requested() -> bool {
    SLOT.with(|s| {
        s.try_borrow()
            .ok()
            .and_then(|s| s.as_ref().map(|s| s.killed()))
            .unwrap_or(false)
    })
}

/// Clears the run state however `run` exits.
struct ActiveRun;

impl Drop for ActiveRun {
    fn drop(&mut self) {
        RUN.with(|r| {
            if let Ok(mut r) = r.try_borrow_mut() {
                *r = None;
            }
        });
        SLOT.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = None;
            }
        });
        BUDGET.with(|b| b.set((0, u64::MAX)));
    }
}

/// Lifts the instruction budget however a library load exits.
struct BudgetReset;

impl Drop for BudgetReset {
    fn drop(&mut self) {
        BUDGET.with(|b| b.set((0, u64::MAX)));
    }
}

/// Where the commands scripts run are shown to MONITOR: set by the server once a client
/// starts MONITOR (`ScriptControl::set_monitor_hook`); it returns at once without monitors.
pub(super) static MONITOR_HOOK: std::sync::OnceLock<Box<dyn Fn(u8, &[Vec<u8>]) + Send + Sync>> =
    std::sync::OnceLock::new();

enum CallError {
    /// Refused before running (scriptCall's checks): "ERR " + this.
    Script(&'static str),
    Killed,
}

impl RunCtx {
    /// scriptCall: the checks Redis makes for a command called from a script, then the
    /// command itself.
    fn call(&mut self, argv: &[Vec<u8>]) -> Result<Frame, CallError> {
        if self.slot.killed() {
            return Err(CallError::Killed);
        }
        let Some(spec) = table::lookup(&argv[0]) else {
            // A Redis command Meridian lacks that Redis refuses in scripts (CLUSTER RESET,
            // ...) gets Redis's refusal rather than "unknown".
            let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
            let sub = argv
                .get(1)
                .map(|a| format!("{name}|{}", String::from_utf8_lossy(a).to_ascii_lowercase()));
            let noscript = |n: &str| {
                table::redis70::meta(n).is_some_and(|m| m.flags.iter().any(|f| f == "noscript"))
            };
            if noscript(&name) || sub.as_deref().is_some_and(noscript) {
                return Err(CallError::Script(
                    "This Redis command is not allowed from script",
                ));
            }
            return Err(CallError::Script(
                "Unknown Redis command called from script",
            ));
        };
        if table::check_arity(spec, argv).is_err() {
            return Err(CallError::Script(
                "Wrong number of args calling Redis command from script",
            ));
        }
        if spec.flags & flags::NOSCRIPT != 0 {
            return Err(CallError::Script(
                "This Redis command is not allowed from script",
            ));
        }
        // scriptVerifyACL: the caller's permissions, with Redis's texts.
        if let Err(d) = caller_check(spec, argv) {
            note_denial(spec, argv, d);
            return Err(CallError::Script(match d {
                crate::acl::Denied::Command => {
                    "The user executing the script can't run this command or subcommand"
                }
                crate::acl::Denied::Key(_) => {
                    "The user executing the script can't access at least one of the keys mentioned in the command arguments"
                }
                crate::acl::Denied::Channel(_) => {
                    "The user executing the script can't publish to the channel mentioned in the command"
                }
            }));
        }
        if let table::Block::BlockOption { options_from } = spec.block {
            // Redis's XREAD/XREADGROUP refuse BLOCK from a script while parsing their
            // options (before STREAMS), naming the command as the script wrote it.
            // An unparsable COUNT before BLOCK is the command's own error.
            let opts = &argv[options_from.min(argv.len())..];
            let blocks = opts
                .iter()
                .enumerate()
                .take_while(|(i, a)| {
                    !crate::args::is(a, "streams")
                        && !(crate::args::is(a, "count")
                            && opts
                                .get(i + 1)
                                .and_then(|n| crate::args::parse_i64_opt(n))
                                .is_none())
                })
                .any(|(_, a)| crate::args::is(a, "block"));
            if blocks {
                return Ok(Frame::Error(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(&argv[0])
                )));
            }
        }
        let writes = flags::WRITE | flags::MAY_REPLICATE | flags::LOGGED;
        if self.read_only && spec.flags & writes != 0 {
            return Err(CallError::Script(
                "Write commands are not allowed from read-only scripts.",
            ));
        }
        if let Exec::Session(_) = spec.exec {
            return match spec.name {
                "select" => Ok(self.select(&argv[1])),
                "time" => Ok(self.time()),
                _ => Err(CallError::Script(
                    "This Redis command is not allowed from script",
                )),
            };
        }
        if spec.flags & flags::WRITE != 0 && !self.slot.begin_write() {
            return Err(CallError::Killed);
        }
        // SAFETY: see `txn`; no other reference to the Txn is used while this one lives.
        let t = unsafe { &mut *self.txn };
        // MONITOR shows the commands a script runs (`[0 lua] ...`), once: not in the
        // trial that precedes the apply.
        if let Some(hook) = MONITOR_HOOK.get() {
            if !t.is_trial() {
                hook(self.db, argv);
            }
        }
        Ok(t.run(self.db, argv))
    }

    /// SELECT inside a script: changes the db for the rest of the script only.
    fn select(&mut self, arg: &[u8]) -> Frame {
        match crate::args::parse_i64(arg) {
            Err(e) => Frame::Error(e.0),
            Ok(n) if n < 0 || n >= ::keys::DATABASES as i64 => {
                Frame::Error("ERR DB index is out of range".into())
            }
            Ok(n) => {
                self.db = n as u8;
                Frame::ok()
            }
        }
    }

    /// TIME inside a script: the entry's time (the only clock a script has).
    fn time(&self) -> Frame {
        // SAFETY: as in `call`.
        let now = unsafe { (*self.txn).now_ms };
        Frame::Array(vec![
            Frame::Bulk((now / 1000).to_string().into_bytes()),
            Frame::Bulk(((now % 1000) * 1000).to_string().into_bytes()),
        ])
    }
}

// ---- the VM ----------------------------------------------------------------------------

pub(super) struct Vm {
    lua: Lua,
    cache: HashMap<String, Function>,
    /// The message handler of every run (ffi::error_handler).
    handler: Function,
    /// Metatable of a run's globals table: reads fall through to the shared globals.
    globals_mt: Table,
    readonly_newindex: Function,
    /// Weak set of the tables scripts may not modify.
    protected: Table,
    /// What getmetatable() returns for protected tables.
    mt_view: Table,
    /// The shared, read-only globals every run reads through to.
    real: Table,
    /// What a function library's top level sees instead (`redis.register_function`,
    /// `redis.log` and the version constants; nothing else), as Redis's library API.
    load_api: Table,
    /// Function libraries compiled in this VM, by the SHA1 of their code.
    libs: HashMap<String, Lib>,
}

/// A compiled function library: its chunk and what its top level registers.
#[derive(Clone)]
struct Lib {
    chunk: Function,
    fns: Arc<Vec<FnMeta>>,
}

/// A registered function, as FUNCTION LIST shows it.
#[derive(Clone, Debug)]
pub(super) struct FnMeta {
    pub name: String,
    /// Bits of `super::function::FLAG_NAMES`.
    pub flags: u8,
    pub description: Option<Vec<u8>>,
}

/// What `redis.register_function` collects while a library's top level runs.
struct Registered {
    meta: FnMeta,
    callback: Function,
}

fn with_vm<R>(f: impl FnOnce(&mut Vm) -> Result<R, CmdError>) -> Result<R, CmdError> {
    VM.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| CmdError::new("ERR a script cannot run a script"))?;
        if slot.is_none() {
            let vm = Vm::new()
                .map_err(|e| CmdError::new(format!("ERR cannot start the Lua interpreter: {e}")))?;
            *slot = Some(vm);
        }
        match slot.as_mut() {
            Some(vm) => f(vm),
            None => Err(CmdError::new("ERR cannot start the Lua interpreter")),
        }
    })
}

/// Compiles the script into this thread's cache (reporting Redis's compile error).
pub(super) fn prepare(sha: &str, code: &[u8]) -> Result<(), CmdError> {
    with_vm(|vm| vm.function(sha, code).map(|_| ()))
}

/// A library function implemented in Rust.
pub(super) type LibFn = Box<dyn Fn(&Lua, Args) -> LResult<MultiValue> + Send + 'static>;

/// Wraps `f` in the C trampoline that raises its failures the way C Lua code does.
pub(super) fn lib_function(lua: &Lua, f: LibFn, mode: i64) -> mlua::Result<Function> {
    let inner = lua.create_function(move |lua, m: MultiValue| {
        let args = if mode == MODE_PACK || mode == MODE_CALL {
            Args::unpack(m)
        } else {
            Ok(Args::new(m))
        };
        match args.and_then(|a| f(lua, a)) {
            Ok(v) => Ok(v),
            Err(Fail::Lua(e)) => Err(e),
            Err(fail) => fail_values(lua, fail),
        }
    })?;
    c_closure(lua, cffi::trampoline, (inner, mode), 2)
}

/// A C function with `n` upvalues (the values of `upvalues`).
fn c_closure(
    lua: &Lua,
    f: ffi::lua_CFunction,
    upvalues: impl mlua::IntoLuaMulti,
    n: c_int,
) -> mlua::Result<Function> {
    // SAFETY: the upvalues are on the stack; pushcclosure pops them and pushes the
    // closure, which exec_raw returns.
    unsafe {
        lua.exec_raw::<Function>(upvalues, |l| {
            ffi::lua_pushcclosure(l, f, n);
        })
    }
}

fn fail_values(lua: &Lua, fail: Fail) -> mlua::Result<MultiValue> {
    let mark = Value::LightUserData(LightUserData(cffi::mark()));
    Ok(match fail {
        Fail::Lua(e) => return Err(e),
        Fail::Raise(v) => MultiValue::from_iter([mark, Value::Integer(cffi::KIND_RAISE), v]),
        Fail::Msg(m) => MultiValue::from_iter([
            mark,
            Value::Integer(cffi::KIND_MSG),
            Value::String(lua.create_string(m)?),
        ]),
        Fail::Arg(n, m) => MultiValue::from_iter([
            mark,
            Value::Integer(cffi::KIND_ARG),
            Value::Integer(n as mlua::Integer),
            Value::String(lua.create_string(m)?),
        ]),
    })
}

fn plain(f: LibFnPtr) -> LibFn {
    Box::new(f)
}

fn one(v: Value) -> LResult<MultiValue> {
    Ok(MultiValue::from_iter([v]))
}

impl Vm {
    fn new() -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::new(),
        )?;
        let g = lua.globals();

        let protected = lua.create_table()?;
        let weak = lua.create_table()?;
        weak.raw_set("__mode", "k")?;
        protected.set_metatable(Some(weak));
        // SAFETY: plain C functions following the C API.
        let readonly_newindex = unsafe { lua.create_c_function(cffi::readonly_newindex)? };
        let missing_global = unsafe { lua.create_c_function(cffi::missing_global)? };

        // What getmetatable() shows for a protected table: a read-only empty table.
        let mt_view = lua.create_table()?;
        let mt_view_mt = lua.create_table_with_capacity(0, 2)?;
        mt_view_mt.raw_set("__newindex", &readonly_newindex)?;
        mt_view_mt.raw_set("__metatable", &mt_view)?;
        mt_view.set_metatable(Some(mt_view_mt.clone()));
        protected.raw_set(&mt_view, true)?;
        protected.raw_set(&mt_view_mt, true)?;

        // A read-only view of `real`: an empty table reading through to it.
        let protect = |real: &Table| -> mlua::Result<Table> {
            let proxy = lua.create_table()?;
            let mt = lua.create_table_with_capacity(0, 3)?;
            mt.raw_set("__index", real)?;
            mt.raw_set("__newindex", &readonly_newindex)?;
            mt.raw_set("__metatable", &mt_view)?;
            proxy.set_metatable(Some(mt.clone()));
            for t in [&proxy, &mt, real] {
                protected.raw_set(t, true)?;
            }
            Ok(proxy)
        };
        let guarded = |f: Value| -> mlua::Result<Function> {
            c_closure(&lua, cffi::guard_first, (f, protected.clone()), 2)
        };

        let real = lua.create_table()?;
        for name in [
            "tostring",
            "next",
            "assert",
            "tonumber",
            "rawequal",
            "getmetatable",
            "type",
            "select",
            "unpack",
            "gcinfo",
            "pairs",
            "rawget",
            "ipairs",
            "error",
            "xpcall",
            "_VERSION",
        ] {
            real.raw_set(name, g.raw_get::<Value>(name)?)?;
        }
        for name in ["rawset", "setmetatable"] {
            real.raw_set(name, guarded(g.raw_get::<Value>(name)?)?)?;
        }
        real.raw_set(
            "getfenv",
            c_closure(&lua, cffi::getfenv_guard, g.raw_get::<Value>("getfenv")?, 1)?,
        )?;
        real.raw_set(
            "setfenv",
            c_closure(&lua, cffi::setfenv_guard, g.raw_get::<Value>("setfenv")?, 1)?,
        )?;
        // SAFETY: as above.
        real.raw_set("pcall", unsafe {
            lua.create_c_function(cffi::redis_pcall)?
        })?;
        real.raw_set(
            "loadstring",
            lib_function(&lua, plain(loadstring), MODE_PLAIN)?,
        )?;
        real.raw_set("load", lib_function(&lua, plain(load), MODE_PLAIN)?)?;
        let collect = g.raw_get::<Function>("collectgarbage")?;
        real.raw_set(
            "collectgarbage",
            lib_function(
                &lua,
                Box::new(move |lua, a| collectgarbage(lua, a, &collect)),
                MODE_PLAIN,
            )?,
        )?;

        let coroutine: Table = g.raw_get("coroutine")?;
        real.raw_set("coroutine", protect(&coroutine)?)?;

        let table_lib: Table = g.raw_get("table")?;
        for name in ["insert", "remove", "sort"] {
            let f = table_lib.raw_get::<Value>(name)?;
            table_lib.raw_set(name, guarded(f)?)?;
        }
        real.raw_set("table", protect(&table_lib)?)?;

        let math: Table = g.raw_get("math")?;
        math.raw_set(
            "random",
            lib_function(&lua, plain(math_random), MODE_PLAIN)?,
        )?;
        math.raw_set(
            "randomseed",
            lib_function(&lua, plain(math_randomseed), MODE_PLAIN)?,
        )?;
        real.raw_set("math", protect(&math)?)?;

        // Strings index the real library directly (fast methods); getmetatable("")
        // shows a read-only view of the metatable instead of the metatable itself.
        let string: Table = g.raw_get("string")?;
        let string_proxy = protect(&string)?;
        let string_mt_view = lua.create_table()?;
        string_mt_view.raw_set("__index", &string_proxy)?;
        let string_mt = lua.create_table()?;
        string_mt.raw_set("__index", &string)?;
        string_mt.raw_set("__metatable", protect(&string_mt_view)?)?;
        lua.set_type_metatable::<mlua::String>(Some(string_mt));
        real.raw_set("string", string_proxy)?;

        real.raw_set("cjson", protect(&cjson::module(&lua, CfgRef::Run)?)?)?;
        let bit_lib = lua.create_table()?;
        for (name, f) in bit::FUNCTIONS {
            bit_lib.raw_set(*name, lib_function(&lua, plain(*f), MODE_PLAIN)?)?;
        }
        real.raw_set("bit", protect(&bit_lib)?)?;
        let struct_lib = lua.create_table()?;
        struct_lib.raw_set(
            "pack",
            lib_function(&lua, plain(structlib::pack), MODE_PACK)?,
        )?;
        struct_lib.raw_set(
            "unpack",
            lib_function(&lua, plain(structlib::unpack), MODE_PLAIN)?,
        )?;
        struct_lib.raw_set(
            "size",
            lib_function(&lua, plain(structlib::size), MODE_PLAIN)?,
        )?;
        real.raw_set("struct", protect(&struct_lib)?)?;
        let msgpack = lua.create_table()?;
        msgpack.raw_set(
            "pack",
            lib_function(&lua, plain(cmsgpack::pack), MODE_PACK)?,
        )?;
        msgpack.raw_set(
            "unpack",
            lib_function(&lua, plain(cmsgpack::unpack), MODE_PLAIN)?,
        )?;
        msgpack.raw_set(
            "unpack_one",
            lib_function(&lua, plain(cmsgpack::unpack_one), MODE_PLAIN)?,
        )?;
        msgpack.raw_set(
            "unpack_limit",
            lib_function(&lua, plain(cmsgpack::unpack_limit), MODE_PLAIN)?,
        )?;
        real.raw_set("cmsgpack", protect(&msgpack)?)?;
        real.raw_set("redis", protect(&redis_api(&lua)?)?)?;

        // The end of the globals chain: unknown names are errors.
        let real_mt = lua.create_table_with_capacity(0, 3)?;
        real_mt.raw_set("__index", &missing_global)?;
        real_mt.raw_set("__newindex", &readonly_newindex)?;
        real_mt.raw_set("__metatable", &mt_view)?;
        real.set_metatable(Some(real_mt.clone()));
        protected.raw_set(&real, true)?;
        protected.raw_set(&real_mt, true)?;

        let globals_mt = lua.create_table_with_capacity(0, 2)?;
        globals_mt.raw_set("__index", &real)?;
        globals_mt.raw_set("__metatable", &mt_view)?;
        protected.raw_set(&globals_mt, true)?;

        let handler = c_closure(
            &lua,
            cffi::error_handler,
            g.raw_get::<Value>("tostring")?,
            1,
        )?;

        // A library's top level: only `redis` with registration, logging and versions.
        let sealed = |t: &Table| -> mlua::Result<()> {
            let mt = lua.create_table_with_capacity(0, 3)?;
            mt.raw_set("__index", &missing_global)?;
            mt.raw_set("__newindex", &readonly_newindex)?;
            mt.raw_set("__metatable", &mt_view)?;
            t.set_metatable(Some(mt.clone()));
            protected.raw_set(t, true)?;
            protected.raw_set(&mt, true)
        };
        let lib_redis = lua.create_table()?;
        lib_redis.raw_set(
            "register_function",
            lib_function(&lua, plain(register_function), MODE_PLAIN)?,
        )?;
        lib_redis.raw_set("log", lib_function(&lua, plain(redis_log), MODE_PLAIN)?)?;
        for (name, v) in [
            ("LOG_DEBUG", 0.0),
            ("LOG_VERBOSE", 1.0),
            ("LOG_NOTICE", 2.0),
            ("LOG_WARNING", 3.0),
            ("REDIS_VERSION_NUM", REDIS_VERSION_NUM),
        ] {
            lib_redis.raw_set(name, v)?;
        }
        lib_redis.raw_set("REDIS_VERSION", REDIS_VERSION)?;
        sealed(&lib_redis)?;
        let load_api = lua.create_table()?;
        load_api.raw_set("redis", lib_redis)?;
        sealed(&load_api)?;

        Ok(Vm {
            lua,
            cache: HashMap::new(),
            handler,
            globals_mt,
            readonly_newindex,
            protected,
            mt_view,
            real,
            load_api,
            libs: HashMap::new(),
        })
    }

    /// Compiles Lua source named `chunk` (what error messages show); a syntax error is
    /// Redis's "Error compiling <what>: ..." reply.
    fn compile(&self, code: &[u8], chunk: &str, what: &str) -> Result<Function, CmdError> {
        self.lua
            .load(code)
            .set_name(chunk)
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| {
                let msg = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                CmdError::new(format!("ERR Error compiling {what}: {msg}"))
            })
    }

    fn function(&mut self, sha: &str, code: &[u8]) -> Result<Function, CmdError> {
        if let Some(f) = self.cache.get(sha) {
            return Ok(f.clone());
        }
        let f = self.compile(code, "@user_script", "script (new function)")?;
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(sha.to_string(), f.clone());
        Ok(f)
    }
}

// ---- function libraries ----------------------------------------------------------------

impl Vm {
    /// A fresh environment for one execution of a library's top level: reads go to the
    /// library API (`load_api`) until `mt.__index` is switched to the shared globals;
    /// writes fail. Fresh per execution, so no state survives between two FCALLs.
    fn lib_env(&self) -> mlua::Result<(Table, Table)> {
        let env = self.lua.create_table()?;
        let mt = self.lua.create_table_with_capacity(0, 3)?;
        mt.raw_set("__index", &self.load_api)?;
        mt.raw_set("__newindex", &self.readonly_newindex)?;
        mt.raw_set("__metatable", &self.mt_view)?;
        env.set_metatable(Some(mt.clone()));
        self.protected.raw_set(&env, true)?;
        self.protected.raw_set(&mt, true)?;
        Ok((env, mt))
    }

    /// Runs a library's top level in `env`, collecting what it registers. The caller
    /// sets the instruction budget. Ok(Err(error value)) if the code raised.
    fn load_chunk(
        &self,
        chunk: &Function,
        env: &Table,
    ) -> mlua::Result<Result<Vec<Registered>, Value>> {
        chunk.set_environment(env.clone())?;
        LOADING.with(|l| *l.borrow_mut() = Some(Vec::new()));
        // SAFETY: the stack is what protected_call expects; it leaves [ok, result].
        let res = unsafe {
            self.lua
                .exec_raw::<(bool, Value)>((self.handler.clone(), chunk.clone()), |l| {
                    cffi::protected_call(l, 0)
                })
        };
        let regs = LOADING.with(|l| l.borrow_mut().take()).unwrap_or_default();
        Ok(match res? {
            (true, _) => Ok(regs),
            (false, e) => Err(e),
        })
    }

    /// The compiled library for `code` (its first line already blanked), compiling it
    /// and running its top level once to learn its functions if this VM has not yet.
    fn library(
        &mut self,
        sha: &str,
        code: &[u8],
        max_instructions: u64,
        max_memory: u64,
    ) -> Result<Lib, CmdError> {
        if let Some(lib) = self.libs.get(sha) {
            return Ok(lib.clone());
        }
        let chunk = self.compile(code, "@user_function", "function")?;
        let lua_err =
            |e: mlua::Error| CmdError::new(format!("ERR Error registering functions: {e}"));
        let _ = self
            .lua
            .set_memory_limit(usize::try_from(max_memory).unwrap_or(usize::MAX));
        BUDGET.with(|b| b.set((0, max_instructions.min(LOAD_MAX_INSTRUCTIONS))));
        let _reset = BudgetReset;
        let (env, _) = self.lib_env().map_err(lua_err)?;
        let regs = match self.load_chunk(&chunk, &env).map_err(lua_err)? {
            Ok(regs) => regs,
            Err(e) => {
                let mut text = error_text(&self.lua, &e);
                let budget =
                    std::str::from_utf8(&BUDGET_MSG[4..BUDGET_MSG.len() - 1]).unwrap_or("\0");
                if text.contains(budget) {
                    // Redis stops a library's top level after 500 ms; here after a fixed
                    // instruction count (the same on every replica), with Redis's text.
                    text = "ERR FUNCTION LOAD timeout".into();
                }
                return Err(CmdError::new(format!(
                    "ERR Error registering functions: {text}"
                )));
            }
        };
        if regs.is_empty() {
            return Err(CmdError::new("ERR No functions registered"));
        }
        let lib = Lib {
            chunk,
            fns: Arc::new(regs.into_iter().map(|r| r.meta).collect()),
        };
        if self.libs.len() >= MAX_CACHED {
            self.libs.clear();
        }
        self.libs.insert(sha.to_string(), lib.clone());
        Ok(lib)
    }
}

/// The text of an error value: its `err` field, or the value as a string.
fn error_text(lua: &Lua, e: &Value) -> String {
    let v = match e {
        Value::Table(t) => t.raw_get::<Value>("err").unwrap_or(Value::Nil),
        v => v.clone(),
    };
    match to_bytes(lua, &v) {
        Ok(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        _ => "execution failure".to_string(),
    }
}

/// Compiles a library and returns the functions it registers (FUNCTION LOAD, RESTORE,
/// LIST, FCALL's flag check). `sha` names the code in this thread's cache.
pub(super) fn library_functions(
    sha: &str,
    code: &[u8],
    max_instructions: u64,
    max_memory: u64,
) -> Result<Arc<Vec<FnMeta>>, CmdError> {
    with_vm(|vm| Ok(vm.library(sha, code, max_instructions, max_memory)?.fns))
}

fn register_error(lua: &Lua, msg: &str) -> Fail {
    raise(lua, msg)
}

/// redis.register_function(name, callback) or redis.register_function{function_name=...,
/// callback=..., flags={...}, description=...} (luaRegisterFunction).
fn register_function(lua: &Lua, a: Args) -> LResult<MultiValue> {
    if !LOADING.with(|l| l.borrow().is_some()) {
        return Err(register_error(
            lua,
            "redis.register_function can only be called on FUNCTION LOAD command",
        ));
    }
    let mut name: Option<Vec<u8>> = None;
    let mut callback: Option<Function> = None;
    let mut flags = 0u8;
    let mut description = None;
    match a.len() {
        1 => {
            let Value::Table(t) = a.get(1) else {
                return Err(register_error(lua, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."));
            };
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Value::String(k) = k else {
                    return Err(register_error(
                        lua,
                        "named argument key given to redis.register_function is not a string",
                    ));
                };
                match &*k.as_bytes() {
                    b"function_name" => match to_bytes(lua, &v)? {
                        Some(b) => name = Some(b),
                        None => return Err(register_error(lua, "function_name argument given to redis.register_function must be a string")),
                    },
                    b"description" => match to_bytes(lua, &v)? {
                        Some(b) => description = Some(b),
                        None => return Err(register_error(lua, "description argument given to redis.register_function must be a string")),
                    },
                    b"callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => return Err(register_error(lua, "callback argument given to redis.register_function must be a function")),
                    },
                    b"flags" => {
                        let Value::Table(list) = v else {
                            return Err(register_error(lua, "flags argument to redis.register_function must be a table representing function flags"));
                        };
                        for f in list.sequence_values::<Value>() {
                            let bit = match f? {
                                Value::String(s) => super::function::flag_bit(&s.as_bytes()),
                                _ => None,
                            };
                            match bit {
                                Some(b) => flags |= b,
                                None => return Err(register_error(lua, "unknown flag given")),
                            }
                        }
                    }
                    _ => {
                        return Err(register_error(
                            lua,
                            "unknown argument given to redis.register_function",
                        ))
                    }
                }
            }
            if name.is_none() {
                return Err(register_error(
                    lua,
                    "redis.register_function must get a function name argument",
                ));
            }
            if callback.is_none() {
                return Err(register_error(
                    lua,
                    "redis.register_function must get a callback argument",
                ));
            }
        }
        2 => {
            match to_bytes(lua, &a.get(1))? {
                Some(b) => name = Some(b),
                None => {
                    return Err(register_error(
                        lua,
                        "first argument to redis.register_function must be a string",
                    ))
                }
            }
            match a.get(2) {
                Value::Function(f) => callback = Some(f),
                _ => {
                    return Err(register_error(
                        lua,
                        "second argument to redis.register_function must be a function",
                    ))
                }
            }
        }
        _ => {
            return Err(register_error(
                lua,
                "wrong number of arguments to redis.register_function",
            ))
        }
    }
    let (Some(name), Some(callback)) = (name, callback) else {
        return Err(register_error(
            lua,
            "redis.register_function must get a callback argument",
        ));
    };
    if !super::function::valid_name(&name) {
        // Redis 7.0 says "Library names" for a bad function name too.
        return Err(register_error(lua, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"));
    }
    let name = String::from_utf8_lossy(&name).into_owned();
    let dup = LOADING.with(|l| {
        let mut l = l.borrow_mut();
        let regs = l.as_mut()?;
        if regs.iter().any(|r| r.meta.name == name) {
            return Some(true);
        }
        regs.push(Registered {
            meta: FnMeta {
                name,
                flags,
                description,
            },
            callback,
        });
        Some(false)
    });
    if dup == Some(true) {
        return Err(register_error(
            lua,
            "Function already exists in the library",
        ));
    }
    Ok(MultiValue::new())
}

// ---- running a script ----------------------------------------------------------------

pub(super) struct Run<'a> {
    pub sha: &'a str,
    pub code: &'a [u8],
    pub keys: &'a [Vec<u8>],
    pub args: &'a [Vec<u8>],
    /// EVAL_RO/EVALSHA_RO, a `no-writes` script, or the read path.
    pub read_only: bool,
    /// Lua instructions the run may execute (`script-max-instructions`).
    pub max_instructions: u64,
    /// Bytes the VM may hold during the run (`script-max-memory`).
    pub max_memory: u64,
}

/// Above this much memory held between runs, a full collection runs before a replicated
/// run starts, so what earlier runs left behind weighs little against the limit.
const COLLECT_ABOVE: usize = 16 << 20;

/// Sets up a run on this thread (the memory limit, the budget, the per-run state);
/// everything is cleared when the returned guard drops.
fn start_run(
    vm: &Vm,
    t: &mut Txn,
    read_only: bool,
    max_instructions: u64,
    max_memory: u64,
    slot: &Arc<RunSlot>,
) -> ActiveRun {
    // The memory limit counts the whole VM. Garbage from earlier runs differs from
    // node to node, so it is collected first once it is more than a little, and a
    // replicated run starts from nearly the same heap everywhere.
    if vm.lua.used_memory() > COLLECT_ABOVE {
        let _ = vm.lua.gc_collect();
    }
    let _ = vm
        .lua
        .set_memory_limit(usize::try_from(max_memory).unwrap_or(usize::MAX));
    BUDGET.with(|b| b.set((0, max_instructions)));
    let active = ActiveRun;
    let seed = t.rng.next_u64() & ((1 << 48) - 1);
    let ctx = RunCtx {
        txn: std::ptr::from_mut(t).cast::<Txn<'static>>(),
        db: t.db,
        resp3: false,
        read_only,
        slot: slot.clone(),
        rand: seed,
        cjson: cjson::Config::default(),
    };
    RUN.with(|c| *c.borrow_mut() = Some(ctx));
    SLOT.with(|s| *s.borrow_mut() = Some(slot.clone()));
    active
}

/// The reply of a finished run (`res` is what the protected call left).
fn finish_run(vm: &Vm, res: mlua::Result<(bool, Value)>, name: &str) -> CmdResult {
    let resp3 = with_run(|c| c.resp3).unwrap_or(false);
    let reply = match res {
        Ok((true, v)) => lua_to_reply(&v, resp3, 0),
        Ok((false, e)) => error_reply(&vm.lua, &e, name),
        Err(e) => Ok(Frame::Error(format!(
            "ERR Error running script {name}, {e}"
        ))),
    };
    // Give back what a large run allocated (and never keep the VM over its limit).
    if vm.lua.used_memory() > COLLECT_ABOVE {
        let _ = vm.lua.gc_collect();
    }
    reply.map_err(|e| CmdError::new(format!("ERR Error running script {name}, {e}")))
}

pub(super) fn run(t: &mut Txn, r: Run) -> CmdResult {
    let db = t.db;
    let reply = with_vm(|vm| {
        let f = vm.function(r.sha, r.code)?;
        // A script applied from the log runs on every node: only the read path's
        // scripts and the leader's trial runs may be killed, or the nodes would diverge.
        let guard = super::register_run(!t.is_read_only() && !t.is_trial(), t.is_trial(), None);
        let _active = start_run(
            vm,
            t,
            r.read_only,
            r.max_instructions,
            r.max_memory,
            &guard.0,
        );
        let inputs = (
            vm.handler.clone(),
            f,
            vm.globals_mt.clone(),
            vm.readonly_newindex.clone(),
            vm.mt_view.clone(),
            vm.protected.clone(),
        );
        // SAFETY: the stack is what protected_run expects; it leaves [ok, result].
        let res = unsafe {
            vm.lua
                .exec_raw::<(bool, Value)>(inputs, |l| cffi::protected_run(l, r.keys, r.args))
        };
        finish_run(vm, res, r.sha)
    });
    t.db = db;
    reply
}

/// One FCALL / FCALL_RO of a library's function.
pub(super) struct FnRun<'a> {
    /// SHA1 of the library's code (its compiled form is cached under it).
    pub lib_sha: &'a str,
    /// The library's code, first line blanked.
    pub code: &'a [u8],
    pub name: &'a str,
    /// The whole command, as FUNCTION STATS shows it.
    pub argv: &'a [Vec<u8>],
    pub keys: &'a [Vec<u8>],
    pub args: &'a [Vec<u8>],
    pub read_only: bool,
    pub max_instructions: u64,
    pub max_memory: u64,
}

/// Runs a library function. The library's top level runs afresh in a fresh environment
/// for every call (a few microseconds for a typical library), so the function's
/// upvalues never carry state from one call to the next: what a call does is a function
/// of the entry alone on every node, whatever this VM ran before.
pub(super) fn run_function(t: &mut Txn, r: FnRun) -> CmdResult {
    let db = t.db;
    let reply = with_vm(|vm| {
        let lib = vm.library(r.lib_sha, r.code, r.max_instructions, r.max_memory)?;
        let info = super::FuncInfo {
            name: r.name.to_string(),
            argv: r.argv.to_vec(),
        };
        let guard =
            super::register_run(!t.is_read_only() && !t.is_trial(), t.is_trial(), Some(info));
        let _active = start_run(
            vm,
            t,
            r.read_only,
            r.max_instructions,
            r.max_memory,
            &guard.0,
        );
        let lua_err =
            |e: mlua::Error| CmdError::new(format!("ERR Error running script {}, {e}", r.name));
        let (env, mt) = vm.lib_env().map_err(lua_err)?;
        let regs = match vm.load_chunk(&lib.chunk, &env).map_err(lua_err)? {
            Ok(regs) => regs,
            // Out of budget, killed or out of memory while re-running the top level.
            Err(e) => return finish_run(vm, Ok((false, e)), r.name),
        };
        let Some(callback) = regs
            .into_iter()
            .find(|reg| reg.meta.name == r.name)
            .map(|reg| reg.callback)
        else {
            return Err(CmdError::new("ERR Function not found"));
        };
        // From now on the library's globals are the shared ones (redis.call and all).
        // The function also sees its globals as `_G` (not the top level), as in Redis;
        // read through the metatable, so assigning `_G` is refused like any global.
        let with_g = vm.lua.create_table_with_capacity(0, 1).map_err(lua_err)?;
        with_g.raw_set("_G", &env).map_err(lua_err)?;
        let g_mt = vm.lua.create_table_with_capacity(0, 1).map_err(lua_err)?;
        g_mt.raw_set("__index", &vm.real).map_err(lua_err)?;
        with_g.set_metatable(Some(g_mt.clone()));
        vm.protected.raw_set(&with_g, true).map_err(lua_err)?;
        vm.protected.raw_set(&g_mt, true).map_err(lua_err)?;
        mt.raw_set("__index", &with_g).map_err(lua_err)?;
        vm.lua
            .set_named_registry_value(REG_GLOBALS, &env)
            .map_err(lua_err)?;
        let keys = vm
            .lua
            .create_sequence_from(
                r.keys
                    .iter()
                    .map(|k| vm.lua.create_string(k))
                    .collect::<mlua::Result<Vec<_>>>()
                    .map_err(lua_err)?,
            )
            .map_err(lua_err)?;
        let args = vm
            .lua
            .create_sequence_from(
                r.args
                    .iter()
                    .map(|k| vm.lua.create_string(k))
                    .collect::<mlua::Result<Vec<_>>>()
                    .map_err(lua_err)?,
            )
            .map_err(lua_err)?;
        // SAFETY: the stack is what protected_call expects; it leaves [ok, result].
        let res = unsafe {
            vm.lua
                .exec_raw::<(bool, Value)>((vm.handler.clone(), callback, keys, args), |l| {
                    cffi::protected_call(l, 2)
                })
        };
        let _ = vm.lua.set_named_registry_value(REG_GLOBALS, Value::Nil);
        finish_run(vm, res, r.name)
    });
    t.db = db;
    reply
}

/// The reply for a script that raised (luaCallFunction's error branch).
fn error_reply(lua: &Lua, e: &Value, sha: &str) -> mlua::Result<Frame> {
    let Value::Table(t) = e else {
        let msg = match to_bytes(lua, e) {
            Ok(Some(b)) => String::from_utf8_lossy(&b[..b.len().min(100)]).into_owned(),
            _ => "execution failure".to_string(),
        };
        return Ok(Frame::Error(format!(
            "ERR Error running script {sha}, {msg}"
        )));
    };
    let field = |name: &str| -> mlua::Result<Option<String>> {
        let v = t.get::<Value>(name)?;
        Ok(to_bytes(lua, &v)
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    let msg = field("err")?.unwrap_or_else(|| {
        "ERR Error running script (the error table has no 'err' field)".to_string()
    });
    let mut out = msg;
    if let (Some(source), Some(line)) = (field("source")?, field("line")?) {
        out.push_str(&format!(" script: {sha}, on {source}:{line}."));
    }
    Ok(Frame::Error(out))
}

/// C's `(long long)d` on x86-64: out of range and NaN give the "integer indefinite".
fn c_long_long(d: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// luaReplyToRedisReply: a script's return value as a reply.
fn lua_to_reply(v: &Value, resp3: bool, depth: usize) -> mlua::Result<Frame> {
    Ok(match v {
        Value::String(s) => Frame::Bulk(s.as_bytes().to_vec()),
        Value::Boolean(b) if resp3 => Frame::Boolean(*b),
        Value::Boolean(true) => Frame::Integer(1),
        Value::Boolean(false) => Frame::Null,
        Value::Integer(i) => Frame::Integer(*i),
        Value::Number(n) => Frame::Integer(c_long_long(*n)),
        Value::Table(t) => {
            if depth >= MAX_REPLY_DEPTH {
                return Ok(Frame::Error("ERR reached lua stack limit".into()));
            }
            table_to_reply(t, resp3, depth + 1)?
        }
        _ => Frame::Null,
    })
}

fn one_line(s: &[u8]) -> String {
    String::from_utf8_lossy(s)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

fn table_to_reply(t: &Table, resp3: bool, depth: usize) -> mlua::Result<Frame> {
    if let Value::String(e) = t.raw_get::<Value>("err")? {
        // addReplyErrorFormatEx("-%s"): trailing newlines trimmed, inner ones spaced.
        let b = e.as_bytes();
        let mut end = b.len();
        while end > 0 && matches!(b[end - 1], b'\r' | b'\n') {
            end -= 1;
        }
        return Ok(Frame::Error(one_line(&b[..end])));
    }
    if let Value::String(s) = t.raw_get::<Value>("ok")? {
        return Ok(Frame::Simple(one_line(&s.as_bytes())));
    }
    if let Value::Integer(_) | Value::Number(_) = t.raw_get::<Value>("double")? {
        return Ok(Frame::Double(t.raw_get::<f64>("double")?));
    }
    if let Value::String(s) = t.raw_get::<Value>("big_number")? {
        // No big-number frame: sent as the bulk string RESP2 clients get.
        return Ok(Frame::Bulk(one_line(&s.as_bytes()).into_bytes()));
    }
    if let Value::Table(v) = t.raw_get::<Value>("verbatim_string")? {
        if let (Value::String(fmt), Value::String(s)) =
            (v.raw_get::<Value>("format")?, v.raw_get::<Value>("string")?)
        {
            return Ok(Frame::Verbatim(
                String::from_utf8_lossy(&fmt.as_bytes()).into_owned(),
                s.as_bytes().to_vec(),
            ));
        }
    }
    if let Value::Table(m) = t.raw_get::<Value>("map")? {
        let mut out = Vec::new();
        for pair in m.pairs::<Value, Value>() {
            let (k, v) = pair?;
            let v = super::api::exact_by_key(&m, &k, v).map_err(fail_to_lua)?;
            out.push((
                lua_to_reply(&k, resp3, depth)?,
                lua_to_reply(&v, resp3, depth)?,
            ));
        }
        return Ok(Frame::Map(out));
    }
    if let Value::Table(s) = t.raw_get::<Value>("set")? {
        let mut out = Vec::new();
        for pair in s.pairs::<Value, Value>() {
            let (k, _) = pair?;
            out.push(lua_to_reply(&k, resp3, depth)?);
        }
        return Ok(Frame::Set(out));
    }
    let mut out = Vec::new();
    for i in 1.. {
        let v = t.raw_get::<Value>(i)?;
        if let Value::Nil = v {
            break;
        }
        let v = super::api::exact(t, v, i).map_err(fail_to_lua)?;
        out.push(lua_to_reply(&v, resp3, depth)?);
    }
    Ok(Frame::Array(out))
}

fn fail_to_lua(f: Fail) -> mlua::Error {
    match f {
        Fail::Lua(e) => e,
        _ => mlua::Error::runtime("unexpected failure converting a reply"),
    }
}

/// A reply as redis.call hands it to Lua (redisProtocolToLuaType).
fn reply_to_lua(lua: &Lua, f: Frame, resp3: bool) -> mlua::Result<Value> {
    let seq = |items: Vec<Frame>| -> mlua::Result<Value> {
        let t = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, it) in items.into_iter().enumerate() {
            t.raw_set(i + 1, reply_to_lua(lua, it, resp3)?)?;
        }
        Ok(Value::Table(t))
    };
    let flat =
        |pairs: Vec<(Frame, Frame)>| seq(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect());
    let wrap = |key: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table_with_capacity(0, 1)?;
        t.raw_set(key, v)?;
        Ok(Value::Table(t))
    };
    Ok(match f {
        Frame::Simple(s) => wrap("ok", Value::String(lua.create_string(s)?))?,
        Frame::Error(e) => error_table(lua, &format!("-{e}"), true)?,
        Frame::Integer(i) => Value::Number(i as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(b)?),
        Frame::Null | Frame::NullArray if resp3 => Value::Nil,
        Frame::Null | Frame::NullArray => Value::Boolean(false),
        Frame::Array(v) | Frame::Push(v) => seq(v)?,
        Frame::Map(pairs) | Frame::KeyedArrays(pairs) if resp3 => {
            let m = lua.create_table()?;
            for (k, v) in pairs {
                let k = reply_to_lua(lua, k, resp3)?;
                if !matches!(k, Value::Nil) {
                    m.raw_set(k, reply_to_lua(lua, v, resp3)?)?;
                }
            }
            wrap("map", Value::Table(m))?
        }
        Frame::Map(pairs) => flat(pairs)?,
        Frame::KeyedArrays(pairs) => seq(pairs
            .into_iter()
            .map(|(k, v)| Frame::Array(vec![k, v]))
            .collect())?,
        Frame::Pairs(pairs) if resp3 => seq(pairs
            .into_iter()
            .map(|(k, v)| Frame::Array(vec![k, v]))
            .collect())?,
        Frame::Pairs(pairs) => flat(pairs)?,
        Frame::Set(items) if resp3 => {
            let s = lua.create_table()?;
            for it in items {
                let k = reply_to_lua(lua, it, resp3)?;
                if !matches!(k, Value::Nil) {
                    s.raw_set(k, true)?;
                }
            }
            wrap("set", Value::Table(s))?
        }
        Frame::Set(items) => seq(items)?,
        Frame::Double(d) if resp3 => wrap("double", Value::Number(d))?,
        Frame::Double(d) => Value::String(lua.create_string(resp::format_reply_double(d))?),
        Frame::DoubleText(t) if resp3 => wrap("double", Value::Number(t.parse().unwrap_or(0.0)))?,
        Frame::DoubleText(t) => Value::String(lua.create_string(t)?),
        Frame::Boolean(b) if resp3 => Value::Boolean(b),
        Frame::Boolean(b) => Value::Number(if b { 1.0 } else { 0.0 }),
        Frame::Verbatim(fmt, s) if resp3 => {
            let v = lua.create_table_with_capacity(0, 2)?;
            v.raw_set("string", lua.create_string(s)?)?;
            v.raw_set("format", lua.create_string(fmt)?)?;
            wrap("verbatim_string", Value::Table(v))?
        }
        Frame::Verbatim(_, s) => Value::String(lua.create_string(s)?),
    })
}

/// luaPushErrorBuff: "-CODE msg" keeps its code, anything else gets ERR; the table
/// is {err = "CODE msg"} (plus Redis's ignore_error_stats_update marker when asked).
fn error_table(lua: &Lua, buf: &str, mark_stats: bool) -> mlua::Result<Value> {
    let (code, msg) = match buf.strip_prefix('-') {
        Some(rest) => match rest.find(' ') {
            Some(p) => (&rest[..p], &rest[p + 1..]),
            None => ("ERR", rest),
        },
        None => ("ERR", buf),
    };
    let msg = msg.trim_matches(|c| c == '\r' || c == '\n');
    let t = lua.create_table_with_capacity(0, 2)?;
    t.raw_set("err", format!("{code} {msg}"))?;
    if mark_stats {
        t.raw_set("ignore_error_stats_update", true)?;
    }
    Ok(Value::Table(t))
}

// ---- the redis table -----------------------------------------------------------------

fn redis_api(lua: &Lua) -> mlua::Result<Table> {
    let r = lua.create_table()?;
    r.raw_set(
        "call",
        lib_function(lua, Box::new(|lua, a| redis_call(lua, a, true)), MODE_CALL)?,
    )?;
    r.raw_set(
        "pcall",
        lib_function(lua, Box::new(|lua, a| redis_call(lua, a, false)), MODE_CALL)?,
    )?;
    let fns: [(&str, LibFnPtr); 10] = [
        ("log", redis_log),
        ("setresp", redis_setresp),
        ("sha1hex", redis_sha1hex),
        ("error_reply", redis_error_reply),
        ("status_reply", redis_status_reply),
        ("set_repl", redis_set_repl),
        ("replicate_commands", |_, _| one(Value::Boolean(true))),
        ("breakpoint", |_, _| one(Value::Boolean(false))),
        ("debug", |_, _| Ok(MultiValue::new())),
        ("acl_check_cmd", redis_acl_check_cmd),
    ];
    for (name, f) in fns {
        let mode = if name == "acl_check_cmd" {
            MODE_CALL
        } else {
            MODE_PLAIN
        };
        r.raw_set(name, lib_function(lua, plain(f), mode)?)?;
    }
    for (name, v) in [
        ("LOG_DEBUG", 0.0),
        ("LOG_VERBOSE", 1.0),
        ("LOG_NOTICE", 2.0),
        ("LOG_WARNING", 3.0),
        ("REPL_NONE", 0.0),
        ("REPL_AOF", 1.0),
        ("REPL_SLAVE", 2.0),
        ("REPL_REPLICA", 2.0),
        ("REPL_ALL", 3.0),
        ("REDIS_VERSION_NUM", REDIS_VERSION_NUM),
    ] {
        r.raw_set(name, v)?;
    }
    r.raw_set("REDIS_VERSION", REDIS_VERSION)?;
    Ok(r)
}

/// Raises {err = "ERR " + msg} (luaPushError + luaError).
fn raise(lua: &Lua, msg: &str) -> Fail {
    match error_table(lua, msg, false) {
        Ok(t) => Fail::Raise(t),
        Err(e) => Fail::Lua(e),
    }
}

/// luaArgsToRedisArgv (numbers were already converted by the trampoline).
fn call_argv(a: &Args) -> Result<Vec<Vec<u8>>, &'static str> {
    if a.len() == 0 {
        return Err("Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(a.len());
    for i in 1..=a.len() {
        match a.get(i) {
            Value::String(s) => argv.push(s.as_bytes().to_vec()),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(argv)
}

fn no_run() -> Fail {
    Fail::Msg("redis API used outside a running script".into())
}

/// redis.call (raise) and redis.pcall.
fn redis_call(lua: &Lua, a: Args, raise_errors: bool) -> LResult<MultiValue> {
    let argv = match call_argv(&a) {
        Ok(v) => v,
        Err(msg) => {
            let t = error_table(lua, msg, false)?;
            return if raise_errors {
                Err(Fail::Raise(t))
            } else {
                one(t)
            };
        }
    };
    let (outcome, resp3) = with_run(|c| (c.call(&argv), c.resp3)).ok_or_else(no_run)?;
    let reply = match outcome {
        Ok(Frame::Error(e)) => error_table(lua, &format!("-{e}"), true)?,
        Ok(frame) => return one(reply_to_lua(lua, frame, resp3)?),
        Err(CallError::Script(msg)) => error_table(lua, msg, true)?,
        Err(CallError::Killed) => {
            return Err(raise(lua, "Script killed by user with SCRIPT KILL..."))
        }
    };
    if raise_errors {
        Err(Fail::Raise(reply))
    } else {
        one(reply)
    }
}

fn redis_log(lua: &Lua, a: Args) -> LResult<MultiValue> {
    if a.len() < 2 {
        return Err(raise(lua, "redis.log() requires two arguments or more."));
    }
    let Some(level) = to_number(lua, &a.get(1)) else {
        return Err(raise(lua, "First argument must be a number (log level)."));
    };
    let level = super::api::c_trunc_i64(level) as i32;
    if !(0..=3).contains(&level) {
        return Err(raise(lua, "Invalid debug level."));
    }
    // The engine does no I/O: the message is validated and dropped.
    Ok(MultiValue::new())
}

fn redis_setresp(lua: &Lua, a: Args) -> LResult<MultiValue> {
    if a.len() != 1 {
        return Err(raise(lua, "redis.setresp() requires one argument."));
    }
    let resp = to_number(lua, &a.get(1)).map_or(0, |n| super::api::c_trunc_i64(n) as i32);
    if resp != 2 && resp != 3 {
        return Err(raise(lua, "RESP version must be 2 or 3."));
    }
    with_run(|c| c.resp3 = resp == 3).ok_or_else(no_run)?;
    Ok(MultiValue::new())
}

fn redis_set_repl(lua: &Lua, a: Args) -> LResult<MultiValue> {
    if a.len() != 1 {
        return Err(raise(lua, "redis.set_repl() requires one argument."));
    }
    let flags = to_number(lua, &a.get(1)).map_or(0, |n| super::api::c_trunc_i64(n) as i32);
    if flags & !3 != 0 {
        return Err(raise(
            lua,
            "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        ));
    }
    // Replicas re-run the whole script from the log: there is nothing to select.
    Ok(MultiValue::new())
}

fn redis_sha1hex(lua: &Lua, a: Args) -> LResult<MultiValue> {
    if a.len() != 1 {
        return Err(raise(lua, "wrong number of arguments"));
    }
    let data = to_bytes(lua, &a.get(1))?.unwrap_or_default();
    one(Value::String(lua.create_string(super::sha1hex(&data))?))
}

fn single_string_arg(a: &Args) -> Option<mlua::String> {
    match (a.len(), a.get(1)) {
        (1, Value::String(s)) => Some(s),
        _ => None,
    }
}

fn redis_error_reply(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let Some(s) = single_string_arg(&a) else {
        return one(error_table(
            lua,
            "wrong number or type of arguments",
            false,
        )?);
    };
    let s = String::from_utf8_lossy(&s.as_bytes()).into_owned();
    let buf = if s.starts_with('-') {
        s
    } else {
        format!("-{s}")
    };
    one(error_table(lua, &buf, false)?)
}

fn redis_status_reply(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let Some(s) = single_string_arg(&a) else {
        return one(error_table(
            lua,
            "wrong number or type of arguments",
            false,
        )?);
    };
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set("ok", s)?;
    one(Value::Table(t))
}

fn redis_acl_check_cmd(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let argv = call_argv(&a).map_err(|m| raise(lua, m))?;
    let Some(spec) = table::lookup(&argv[0]) else {
        return Err(raise(
            lua,
            "Invalid command passed to redis.acl_check_cmd()",
        ));
    };
    // The caller's ACL user, when the server named one (`ScriptControl::as_caller`);
    // the default user may run everything.
    one(Value::Boolean(caller_check(spec, &argv).is_ok()))
}

// ---- math.random (Redis's redisLrand48-based version) -------------------------------

const LRAND48_MAX: u32 = i32::MAX as u32;

fn lrand48() -> Option<u32> {
    with_run(|c| {
        c.rand = (0x5_DEEC_E66D_u64.wrapping_mul(c.rand).wrapping_add(0xB)) & ((1 << 48) - 1);
        (c.rand >> 17) as u32
    })
}

fn math_random(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let x = lrand48().ok_or_else(no_run)?;
    let r = (x % LRAND48_MAX) as f64 / LRAND48_MAX as f64;
    let checkint = |i: usize| -> LResult<i32> { Ok(a.check_integer(lua, i)? as i32) };
    let v = match a.len() {
        0 => r,
        1 => {
            let u = checkint(1)?;
            if u < 1 {
                return Err(Fail::Arg(1, "interval is empty".into()));
            }
            (r * u as f64).floor() + 1.0
        }
        2 => {
            let l = checkint(1)?;
            let u = checkint(2)?;
            if l > u {
                return Err(Fail::Arg(2, "interval is empty".into()));
            }
            (r * u.wrapping_sub(l).wrapping_add(1) as f64).floor() + l as f64
        }
        _ => return Err(Fail::Msg("wrong number of arguments".into())),
    };
    one(Value::Number(v))
}

fn math_randomseed(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let seed = a.check_integer(lua, 1)? as i32;
    with_run(|c| c.rand = ((seed as u32 as u64) << 16) | 0x330E).ok_or_else(no_run)?;
    Ok(MultiValue::new())
}

// ---- loading code and the collector --------------------------------------------------

fn run_globals(lua: &Lua) -> LResult<Table> {
    match lua.named_registry_value::<Value>(REG_GLOBALS)? {
        Value::Table(t) => Ok(t),
        _ => Err(no_run()),
    }
}

/// A chunk name as C sees it (up to the first NUL).
fn chunk_name(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Compiles text (never bytecode) with the run's globals; (nil, message) on failure.
fn load_text(lua: &Lua, code: &[u8], name: String) -> LResult<MultiValue> {
    let env = run_globals(lua)?;
    match lua
        .load(code)
        .set_name(name)
        .set_mode(ChunkMode::Text)
        .set_environment(env)
        .into_function()
    {
        Ok(f) => one(Value::Function(f)),
        Err(e) => {
            let msg = match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            };
            Ok(MultiValue::from_iter([
                Value::Nil,
                Value::String(lua.create_string(msg)?),
            ]))
        }
    }
}

fn loadstring(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let code = a.check_bytes(lua, 1)?;
    let name = if a.is_none_or_nil(2) {
        chunk_name(&code)
    } else {
        chunk_name(&a.check_bytes(lua, 2)?)
    };
    load_text(lua, &code, name)
}

fn load(lua: &Lua, a: Args) -> LResult<MultiValue> {
    let Value::Function(reader) = a.get(1) else {
        return Err(a.type_error(1, "function"));
    };
    let name = if a.is_none_or_nil(2) {
        "=(load)".to_string()
    } else {
        chunk_name(&a.check_bytes(lua, 2)?)
    };
    let mut code = Vec::new();
    loop {
        match reader.call::<Value>(())? {
            Value::Nil => break,
            Value::String(s) if s.as_bytes().is_empty() => break,
            Value::String(s) => code.extend_from_slice(&s.as_bytes()),
            _ => {
                return Ok(MultiValue::from_iter([
                    Value::Nil,
                    Value::String(lua.create_string("reader function must return a string")?),
                ]))
            }
        }
    }
    load_text(lua, &code, name)
}

fn collectgarbage(lua: &Lua, a: Args, original: &Function) -> LResult<MultiValue> {
    let opt = if a.is_none_or_nil(1) {
        b"collect".to_vec()
    } else {
        a.check_bytes(lua, 1)?
    };
    if matches!(opt.as_slice(), b"stop" | b"setpause" | b"setstepmul") {
        return Err(Fail::Msg(format!(
            "collectgarbage('{}') is not allowed from scripts",
            String::from_utf8_lossy(&opt)
        )));
    }
    let args: Vec<Value> = (1..=a.len()).map(|i| a.get(i)).collect();
    Ok(original.call::<MultiValue>(MultiValue::from_iter(args))?)
}
