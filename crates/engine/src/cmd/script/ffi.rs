//! The few pieces that must be C functions to behave like Redis's Lua: raising arbitrary
//! values and `luaL_error`/`luaL_argerror` messages (with the caller's position and the
//! name the function was called by), Redis's `pcall` and error handler, the kill hook,
//! and the guards that keep shared tables read-only.
//!
//! Safety: these functions are called by Lua with a valid state and follow the C API's
//! stack discipline. Lua raises errors with longjmp, so none of them holds a value with
//! a destructor across a call that may raise (strings are copied to stack buffers and
//! dropped first). None of them panics.

use mlua::ffi::{self, lua_State};
use std::os::raw::{c_char, c_int, c_void};

/// Marks a library function's "I failed" return (see `api::Fail`).
static MARK: u8 = 0;

pub(super) fn mark() -> *mut c_void {
    &MARK as *const u8 as *mut c_void
}

pub(super) const KIND_RAISE: i64 = 1;
pub(super) const KIND_MSG: i64 = 2;
pub(super) const KIND_ARG: i64 = 3;

/// Trampoline modes (upvalue 2).
pub(super) const MODE_PLAIN: i64 = 0;
/// redis.call/pcall: number arguments become strings the way Redis converts them
/// (then packed as with MODE_PACK).
pub(super) const MODE_CALL: i64 = 1;
/// Arguments packed into a table plus a count, so numbers stay exact.
pub(super) const MODE_PACK: i64 = 2;

/// Registry field holding the current run's globals table.
pub(super) const REG_GLOBALS: &str = "meridian.G";
const REG_GLOBALS_C: &[u8] = b"meridian.G\0";

fn cstr(s: &'static [u8]) -> *const c_char {
    s.as_ptr() as *const c_char
}

/// Fronts every library function (upvalue 1, an mlua function): passes the arguments
/// (converted per the mode), returns its results, or raises what it asked to raise.
pub(super) unsafe extern "C-unwind" fn trampoline(l: *mut lua_State) -> c_int {
    let mode = ffi::lua_tointeger(l, ffi::lua_upvalueindex(2));
    let n = ffi::lua_gettop(l);
    if mode == MODE_CALL {
        for i in 1..=n {
            if ffi::lua_type(l, i) == ffi::LUA_TNUMBER {
                let d = ffi::lua_tonumber(l, i);
                let mut buf = [0u8; 64];
                let len = super::num::redis_arg_number(d, &mut buf);
                ffi::lua_pushlstring(l, buf.as_ptr() as *const c_char, len);
                ffi::lua_replace(l, i);
            }
        }
    }
    // A C function starts with LUA_MINSTACK (20) free slots: enough for what is
    // pushed here (a luaL_checkstack would refuse a call with ~8000 arguments).
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    let nargs = if mode == MODE_PACK || mode == MODE_CALL {
        ffi::lua_createtable(l, n, 0);
        for i in 1..=n {
            ffi::lua_pushvalue(l, i + 1);
            ffi::lua_rawseti(l, -2, i as ffi::lua_Integer);
        }
        ffi::lua_insert(l, 2);
        ffi::lua_settop(l, 2);
        ffi::lua_pushinteger(l, n as ffi::lua_Integer);
        2
    } else {
        n
    };
    ffi::lua_call(l, nargs, ffi::LUA_MULTRET);
    let top = ffi::lua_gettop(l);
    if top >= 1
        && ffi::lua_type(l, 1) == ffi::LUA_TLIGHTUSERDATA
        && ffi::lua_touserdata(l, 1) == mark()
    {
        raise_marked(l);
    }
    top
}

/// Stack: MARK, kind, payload...
unsafe fn raise_marked(l: *mut lua_State) -> ! {
    ffi::lua_checkstack(l, 4);
    match ffi::lua_tointeger(l, 2) {
        KIND_MSG => {
            ffi::lua_settop(l, 3);
            ffi::luaL_where(l, 1);
            ffi::lua_insert(l, 3);
            ffi::lua_concat(l, 2);
            ffi::lua_error(l)
        }
        KIND_ARG => {
            let narg = ffi::lua_tointeger(l, 3) as c_int;
            let msg = ffi::lua_tolstring(l, 4, std::ptr::null_mut());
            ffi::luaL_argerror(l, narg, msg);
            ffi::lua_error(l)
        }
        _ => {
            ffi::lua_settop(l, 3);
            ffi::lua_error(l)
        }
    }
}

/// Redis's `pcall` (luaRedisPcall): an error table raised by redis.call comes back as
/// its message, as scripts written for Redis 6 expect.
pub(super) unsafe extern "C-unwind" fn redis_pcall(l: *mut lua_State) -> c_int {
    ffi::luaL_checkany(l, 1);
    let argc = ffi::lua_gettop(l);
    ffi::lua_pushboolean(l, 1);
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
        ffi::lua_remove(l, 1);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            ffi::lua_getfield(l, -1, cstr(b"err\0"));
            if ffi::lua_isstring(l, -1) != 0 {
                ffi::lua_replace(l, -2);
            }
        }
        ffi::lua_pushboolean(l, 0);
        ffi::lua_insert(l, 1);
    }
    ffi::lua_gettop(l)
}

unsafe fn what_is_c(ar: &ffi::lua_Debug) -> bool {
    !ar.what.is_null() && *ar.what == b'C' as c_char && *ar.what.add(1) == 0
}

/// The message handler of a script run (Redis's `__redis__err__handler`): turns the
/// error into a table {err=..., source=..., line=...} describing where the script was
/// (the caller of a C function that raised). Upvalue 1 is the base `tostring`.
pub(super) unsafe extern "C-unwind" fn error_handler(l: *mut lua_State) -> c_int {
    ffi::lua_settop(l, 1);
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    // The innermost Lua frame: past the C function that raised (Redis skips one C
    // frame; library functions here are a trampoline calling a Rust function).
    let mut have = false;
    for level in 1..=3 {
        if ffi::lua_getstack(l, level, &mut ar) == 0
            || ffi::lua_getinfo(l, cstr(b"Sl\0"), &mut ar) == 0
        {
            break;
        }
        have = true;
        if !what_is_c(&ar) {
            break;
        }
    }
    if ffi::lua_type(l, 1) != ffi::LUA_TTABLE {
        ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
        ffi::lua_pushvalue(l, 1);
        ffi::lua_call(l, 1, 1);
        if ffi::lua_isstring(l, -1) == 0 {
            ffi::lua_pop(l, 1);
            ffi::lua_pushstring(l, cstr(b"(error object is not a string)\0"));
        }
        ffi::lua_pushstring(l, cstr(b"ERR \0"));
        ffi::lua_insert(l, -2);
        ffi::lua_concat(l, 2);
        ffi::lua_createtable(l, 0, 3);
        ffi::lua_insert(l, -2);
        ffi::lua_setfield(l, -2, cstr(b"err\0"));
        ffi::lua_replace(l, 1);
    }
    if have {
        if !ar.source.is_null() {
            ffi::lua_pushstring(l, ar.source);
            ffi::lua_setfield(l, 1, cstr(b"source\0"));
        }
        ffi::lua_pushinteger(l, ar.currentline as ffi::lua_Integer);
        ffi::lua_setfield(l, 1, cstr(b"line\0"));
    }
    ffi::lua_settop(l, 1);
    1
}

/// Lua instructions between two calls of the hook while a script runs normally. Small
/// enough that a coroutine which ran out of budget cannot let its resumer run on for long
/// (a coroutine inherits the hook of the thread that created it, and the error raised in
/// it only ends the coroutine), large enough that the hook costs well under 1 %.
pub(super) const HOOK_EVERY: c_int = 10_000;

/// Every `HOOK_EVERY` instructions (then every instruction once it fired, so a pcall loop
/// cannot swallow the error): stops the script if SCRIPT KILL asked for it or if it has
/// used up its instruction budget. The count is a function of the script and its inputs
/// alone, so a replicated run stops at the same instruction on every node.
pub(super) unsafe extern "C-unwind" fn kill_hook(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
    let executed = ffi::lua_gethookcount(l).max(1) as u64;
    let Some(msg) = super::vm::hook_verdict(executed) else {
        return;
    };
    ffi::lua_sethook(l, Some(kill_hook), ffi::LUA_MASKCOUNT, 1);
    push_error_table(l, msg);
    ffi::lua_error(l)
}

/// Pushes {err = msg}.
pub(super) unsafe fn push_error_table(l: *mut lua_State, msg: &'static [u8]) {
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushstring(l, cstr(msg));
    ffi::lua_setfield(l, -2, cstr(b"err\0"));
}

unsafe fn is_protected(l: *mut lua_State, idx: c_int, prot_upvalue: c_int) -> bool {
    if ffi::lua_type(l, idx) != ffi::LUA_TTABLE {
        return false;
    }
    ffi::lua_pushvalue(l, idx);
    ffi::lua_rawget(l, ffi::lua_upvalueindex(prot_upvalue));
    let p = ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_pop(l, 1);
    p
}

/// rawset, setmetatable, table.insert/remove/sort: refuse to touch a protected table
/// (upvalue 2 is the weak set of them), otherwise call the original (upvalue 1).
pub(super) unsafe extern "C-unwind" fn guard_first(l: *mut lua_State) -> c_int {
    if is_protected(l, 1, 2) {
        ffi::lua_pushstring(l, cstr(b"Attempt to modify a readonly table\0"));
        ffi::lua_error(l)
    }
    let n = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, ffi::LUA_MULTRET);
    ffi::lua_gettop(l)
}

/// `__newindex` of every read-only table.
pub(super) unsafe extern "C-unwind" fn readonly_newindex(l: *mut lua_State) -> c_int {
    ffi::luaL_error(l, cstr(b"Attempt to modify a readonly table\0"))
}

/// `__index` at the end of the globals chain (luaProtectedTableError).
pub(super) unsafe extern "C-unwind" fn missing_global(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 2 {
        ffi::luaL_error(
            l,
            cstr(b"Wrong number of arguments to luaProtectedTableError\0"),
        );
    }
    if ffi::lua_isstring(l, 2) == 0 {
        ffi::luaL_error(
            l,
            cstr(b"Second argument to luaProtectedTableError must be a string or number\0"),
        );
    }
    ffi::luaL_error(
        l,
        cstr(b"Script attempted to access nonexistent global variable '%s'\0"),
        ffi::lua_tolstring(l, 2, std::ptr::null_mut()),
    )
}

/// True if the value at `idx` is the thread's real globals table, which scripts must
/// not reach: they see the run's own globals instead.
unsafe fn replace_real_globals(l: *mut lua_State) {
    ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
    let real = ffi::lua_rawequal(l, -1, -2) != 0;
    ffi::lua_pop(l, 1);
    if real {
        ffi::lua_pop(l, 1);
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, cstr(REG_GLOBALS_C));
    }
}

/// getfenv (upvalue 1 is the original): levels are shifted past this C function, and
/// the real globals are never handed out.
pub(super) unsafe extern "C-unwind" fn getfenv_guard(l: *mut lua_State) -> c_int {
    if ffi::lua_type(l, 1) <= ffi::LUA_TNIL {
        ffi::lua_settop(l, 0);
        ffi::lua_pushnumber(l, 1.0);
    }
    ffi::lua_settop(l, 1);
    if ffi::lua_type(l, 1) != ffi::LUA_TFUNCTION && ffi::lua_isnumber(l, 1) != 0 {
        let lvl = ffi::lua_tonumber(l, 1);
        if lvl > 0.0 {
            ffi::lua_pushnumber(l, lvl + 1.0);
            ffi::lua_replace(l, 1);
        }
    }
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, 1, 1);
    replace_real_globals(l);
    1
}

/// setfenv (upvalue 1 is the original): a script may change the environment of its own
/// Lua functions, never of a C function or of the thread (shared across runs).
pub(super) unsafe extern "C-unwind" fn setfenv_guard(l: *mut lua_State) -> c_int {
    ffi::lua_settop(l, 2);
    let mut refuse = false;
    if ffi::lua_type(l, 1) != ffi::LUA_TFUNCTION && ffi::lua_isnumber(l, 1) != 0 {
        let lvl = ffi::lua_tonumber(l, 1);
        if lvl == 0.0 {
            refuse = true;
        } else if lvl > 0.0 {
            let mut ar: ffi::lua_Debug = std::mem::zeroed();
            if lvl < c_int::MAX as f64 && ffi::lua_getstack(l, lvl as c_int, &mut ar) != 0 {
                ffi::lua_getinfo(l, cstr(b"f\0"), &mut ar);
                refuse = ffi::lua_iscfunction(l, -1) != 0;
                ffi::lua_pop(l, 1);
            }
            ffi::lua_pushnumber(l, lvl + 1.0);
            ffi::lua_replace(l, 1);
        }
    } else if ffi::lua_iscfunction(l, 1) != 0 {
        refuse = true;
    }
    if refuse {
        ffi::luaL_error(
            l,
            cstr(b"'setfenv' cannot change environment of given object\0"),
        );
    }
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, 2, ffi::LUA_MULTRET);
    ffi::lua_gettop(l)
}

unsafe fn push_sequence(l: *mut lua_State, items: &[Vec<u8>]) {
    ffi::lua_createtable(l, items.len().min(c_int::MAX as usize) as c_int, 0);
    for (i, it) in items.iter().enumerate() {
        ffi::lua_pushlstring(l, it.as_ptr() as *const c_char, it.len());
        ffi::lua_rawseti(l, -2, (i + 1) as ffi::lua_Integer);
    }
}

unsafe fn rawset_field(l: *mut lua_State, table: c_int, name: &'static [u8]) {
    // value on top
    ffi::lua_pushstring(l, cstr(name));
    ffi::lua_insert(l, -2);
    ffi::lua_rawset(l, table);
}

/// One run, in one go. Stack on entry: [handler, f, globals_mt, readonly_newindex,
/// mt_view, protected]. Builds the run's globals — an empty table G whose reads go
/// to {KEYS, ARGV, _G = G} and then (globals_mt) to the shared globals, and whose
/// writes fail — makes them f's environment, runs f under the handler with the kill
/// hook armed, and leaves [ok, result-or-error]. Called through `Lua::exec_raw`.
pub(super) unsafe fn protected_run(l: *mut lua_State, keys: &[Vec<u8>], args: &[Vec<u8>]) {
    ffi::lua_createtable(l, 0, 0); // 7: G
    ffi::lua_createtable(l, 0, 3); // 8: own
    push_sequence(l, keys);
    rawset_field(l, 8, b"KEYS\0");
    push_sequence(l, args);
    rawset_field(l, 8, b"ARGV\0");
    ffi::lua_pushvalue(l, 7);
    rawset_field(l, 8, b"_G\0");
    ffi::lua_pushvalue(l, 3);
    ffi::lua_setmetatable(l, 8);
    ffi::lua_createtable(l, 0, 3); // 9: G's metatable
    ffi::lua_pushvalue(l, 8);
    rawset_field(l, 9, b"__index\0");
    ffi::lua_pushvalue(l, 4);
    rawset_field(l, 9, b"__newindex\0");
    ffi::lua_pushvalue(l, 5);
    rawset_field(l, 9, b"__metatable\0");
    ffi::lua_setmetatable(l, 7);
    ffi::lua_settop(l, 7);
    ffi::lua_pushvalue(l, 7);
    ffi::lua_pushboolean(l, 1);
    ffi::lua_rawset(l, 6);
    ffi::lua_pushvalue(l, 7);
    ffi::lua_setfenv(l, 2);
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, cstr(REG_GLOBALS_C));
    ffi::lua_settop(l, 2);

    ffi::lua_sethook(l, Some(kill_hook), ffi::LUA_MASKCOUNT, HOOK_EVERY);
    let status = ffi::lua_pcall(l, 0, 1, 1);
    ffi::lua_sethook(l, None, 0, 0);
    ffi::lua_pushnil(l);
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, cstr(REG_GLOBALS_C));
    ffi::lua_pushboolean(l, c_int::from(status == 0));
    ffi::lua_replace(l, 1);
}

/// Calls a function with the kill hook armed. Stack on entry: [handler, f, args...]
/// (`nargs` arguments); leaves [ok, result-or-error]. The function keeps the environment
/// it has (a library's top level, or a function it registered). Called through
/// `Lua::exec_raw`.
pub(super) unsafe fn protected_call(l: *mut lua_State, nargs: c_int) {
    ffi::lua_sethook(l, Some(kill_hook), ffi::LUA_MASKCOUNT, HOOK_EVERY);
    let status = ffi::lua_pcall(l, nargs, 1, 1);
    ffi::lua_sethook(l, None, 0, 0);
    ffi::lua_pushboolean(l, c_int::from(status == 0));
    ffi::lua_replace(l, 1);
}
