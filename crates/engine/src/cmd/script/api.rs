//! What the library functions share: how they fail (the way C Lua libraries fail) and
//! how they read their arguments (the way `luaL_check*` does).

use mlua::{Lua, MultiValue, Table, Value};

/// How a library function fails. Lua errors raised from Rust through mlua would reach
/// the script as opaque userdata, so functions return one of these instead and the C
/// trampoline that fronts every function (see `ffi`) raises it like C code would.
pub(super) enum Fail {
    /// An mlua failure (out of memory, a bug): raised as mlua raises it.
    Lua(mlua::Error),
    /// `lua_error` with this value, as is (Redis raises error tables this way).
    Raise(Value),
    /// `luaL_error`: the caller's position, then the message.
    Msg(String),
    /// `luaL_argerror(narg, msg)`: "bad argument #narg to 'name' (msg)".
    Arg(i32, String),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Fail {
        Fail::Lua(e)
    }
}

pub(super) type LResult<T> = Result<T, Fail>;

/// A library function: its arguments in, its results (or how it failed) out.
pub(super) type LibFnPtr = fn(&Lua, Args) -> LResult<MultiValue>;

/// `lua_typename` of a value (`luaL_typename` says "no value" past the last argument).
pub(super) fn typename(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// Arguments of a call, 1-based like the C API.
pub(super) struct Args {
    src: Src,
}

enum Src {
    Values(Vec<Value>),
    /// Packed by the trampoline into a table, with their count: numbers stay exact
    /// (mlua reads numbers below 2^-52 in magnitude as integer 0), and each argument
    /// is only turned into an mlua value when asked for (mlua cannot hold the ~8000
    /// values a call may receive all at once).
    Packed(Table, usize),
}

impl Args {
    pub(super) fn new(m: MultiValue) -> Args {
        Args {
            src: Src::Values(m.into_iter().collect()),
        }
    }

    pub(super) fn unpack(m: MultiValue) -> LResult<Args> {
        let mut it = m.into_iter();
        let (Some(Value::Table(t)), Some(n)) = (it.next(), it.next()) else {
            return Err(Fail::Msg(
                "internal error: packed arguments expected".into(),
            ));
        };
        let n = match n {
            Value::Integer(i) => i.max(0) as usize,
            Value::Number(f) => f.max(0.0) as usize,
            _ => 0,
        };
        Ok(Args {
            src: Src::Packed(t, n),
        })
    }

    pub(super) fn len(&self) -> usize {
        match &self.src {
            Src::Values(v) => v.len(),
            Src::Packed(_, n) => *n,
        }
    }

    /// Argument `i` (nil when absent).
    pub(super) fn get(&self, i: usize) -> Value {
        match &self.src {
            Src::Values(v) => v.get(i.wrapping_sub(1)).cloned().unwrap_or(Value::Nil),
            Src::Packed(t, n) if (1..=*n).contains(&i) => match t.raw_get::<Value>(i) {
                Ok(v) => exact(t, v, i).unwrap_or(Value::Nil),
                Err(_) => Value::Nil,
            },
            Src::Packed(..) => Value::Nil,
        }
    }

    pub(super) fn is_none(&self, i: usize) -> bool {
        i == 0 || i > self.len()
    }

    pub(super) fn is_none_or_nil(&self, i: usize) -> bool {
        matches!(self.get(i), Value::Nil)
    }

    fn tname(&self, i: usize) -> &'static str {
        if self.is_none(i) {
            "no value"
        } else {
            typename(&self.get(i))
        }
    }

    /// `luaL_typerror`.
    pub(super) fn type_error(&self, i: usize, expected: &str) -> Fail {
        Fail::Arg(
            i as i32,
            format!("{expected} expected, got {}", self.tname(i)),
        )
    }

    /// `luaL_checknumber`: numbers, and strings Lua converts to numbers.
    pub(super) fn check_number(&self, lua: &Lua, i: usize) -> LResult<f64> {
        to_number(lua, &self.get(i)).ok_or_else(|| self.type_error(i, "number"))
    }

    /// `luaL_checkinteger`: a number truncated toward zero, as `lua_tointeger`.
    pub(super) fn check_integer(&self, lua: &Lua, i: usize) -> LResult<i64> {
        Ok(c_trunc_i64(self.check_number(lua, i)?))
    }

    pub(super) fn opt_integer(&self, lua: &Lua, i: usize, default: i64) -> LResult<i64> {
        if self.is_none_or_nil(i) {
            Ok(default)
        } else {
            self.check_integer(lua, i)
        }
    }

    /// `luaL_checklstring`: strings, and numbers as Lua formats them.
    pub(super) fn check_bytes(&self, lua: &Lua, i: usize) -> LResult<Vec<u8>> {
        to_bytes(lua, &self.get(i))?.ok_or_else(|| self.type_error(i, "string"))
    }
}

/// `lua_tonumber`: the number a value converts to, if any.
pub(super) fn to_number(lua: &Lua, v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(_) => lua.coerce_number(v.clone()).ok().flatten(),
        _ => None,
    }
}

/// `lua_tolstring`: the bytes of a string, or of a number as Lua prints it.
pub(super) fn to_bytes(lua: &Lua, v: &Value) -> LResult<Option<Vec<u8>>> {
    Ok(match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) => {
            lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec())
        }
        _ => None,
    })
}

/// C's `(long long)d` on x86-64 for the values where it is defined; saturating
/// elsewhere (where C would be undefined).
pub(super) fn c_trunc_i64(d: f64) -> i64 {
    if d.is_nan() {
        i64::MIN
    } else {
        d as i64
    }
}

/// Numbers re-read exactly (see `Args::unpack`); other values as they are.
pub(super) fn exact(t: &Table, v: Value, key: impl mlua::IntoLua) -> LResult<Value> {
    Ok(match v {
        Value::Integer(_) | Value::Number(_) => Value::Number(t.raw_get::<f64>(key)?),
        v => v,
    })
}

/// The value stored under `k` (as `pairs` returned it) with numbers exact, unless the
/// key itself may have been rounded (a tiny float read back as 0). Keys of every other
/// type (booleans, tables, ...) find the value again as they are.
pub(super) fn exact_by_key(t: &Table, k: &Value, v: Value) -> LResult<Value> {
    match (&v, k) {
        (Value::Integer(_) | Value::Number(_), Value::Integer(0)) => Ok(v),
        (Value::Integer(_) | Value::Number(_), Value::Integer(i)) => exact(t, v, *i),
        (Value::Integer(_) | Value::Number(_), _) => exact(t, v, k.clone()),
        _ => Ok(v),
    }
}
