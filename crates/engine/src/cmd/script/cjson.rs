//! The `cjson` library (Lua CJSON 2.1.0 as Redis ships it): encode, decode, the
//! configuration functions, `new` and `null`.
//!
//! The module's configuration lives in the run (reset for every script, so a script's
//! `cjson.encode_max_depth(1)` cannot change what the next script sees); tables made by
//! `cjson.new()` carry their own.

use super::api::{exact, exact_by_key, typename, Args, Fail, LResult};
use super::ffi::{MODE_PACK, MODE_PLAIN};
use super::num::{fmt_g, strtod_prefix};
use mlua::{LightUserData, Lua, MultiValue, Table, Value};
use std::sync::{Arc, Mutex};

/// Nesting limit whatever the configuration says: deeper data would need more of the
/// thread's stack than we allow ourselves (Redis is bounded by Lua's stack instead).
const HARD_DEPTH: i32 = 1000;

#[derive(Clone, Debug)]
pub(super) struct Config {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    /// 0 off, 1 on, 2 "null".
    encode_invalid_numbers: u8,
    decode_invalid_numbers: bool,
    encode_keep_buffer: bool,
    encode_number_precision: i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            encode_keep_buffer: true,
            encode_number_precision: 14,
        }
    }
}

/// Where a module table's configuration lives.
#[derive(Clone)]
pub(super) enum CfgRef {
    /// The global `cjson`: the current run's configuration.
    Run,
    /// A table from `cjson.new()`.
    Own(Arc<Mutex<Config>>),
}

fn with_cfg<R>(c: &CfgRef, f: impl FnOnce(&mut Config) -> R) -> LResult<R> {
    match c {
        CfgRef::Run => super::vm::with_run(|run| f(&mut run.cjson))
            .ok_or_else(|| Fail::Msg("cjson: no script is running".into())),
        CfgRef::Own(m) => Ok(f(&mut m.lock().unwrap_or_else(|e| e.into_inner()))),
    }
}

fn one(v: Value) -> LResult<MultiValue> {
    Ok(MultiValue::from_iter([v]))
}

/// Builds a cjson module table.
pub(super) fn module(lua: &Lua, cfg: CfgRef) -> mlua::Result<Table> {
    type F = fn(&Lua, Args, &CfgRef) -> LResult<MultiValue>;
    let entries: [(&str, F, i64); 10] = [
        ("encode", encode, MODE_PACK),
        ("decode", decode, MODE_PLAIN),
        ("encode_sparse_array", cfg_sparse, MODE_PLAIN),
        ("encode_max_depth", cfg_encode_depth, MODE_PLAIN),
        ("decode_max_depth", cfg_decode_depth, MODE_PLAIN),
        ("encode_number_precision", cfg_precision, MODE_PLAIN),
        ("encode_keep_buffer", cfg_keep_buffer, MODE_PLAIN),
        ("encode_invalid_numbers", cfg_encode_invalid, MODE_PLAIN),
        ("decode_invalid_numbers", cfg_decode_invalid, MODE_PLAIN),
        ("new", new, MODE_PLAIN),
    ];
    let t = lua.create_table_with_capacity(0, 13)?;
    for (name, f, mode) in entries {
        let c = cfg.clone();
        let func = super::vm::lib_function(lua, Box::new(move |lua, a| f(lua, a, &c)), mode)?;
        t.raw_set(name, func)?;
    }
    t.raw_set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn new(lua: &Lua, _a: Args, _cfg: &CfgRef) -> LResult<MultiValue> {
    let t = module(lua, CfgRef::Own(Arc::new(Mutex::new(Config::default()))))?;
    one(Value::Table(t))
}

// ---- configuration -------------------------------------------------------------------

fn arg_init(a: &Args, max: usize) -> LResult<()> {
    if a.len() > max {
        return Err(Fail::Arg(max as i32 + 1, "found too many arguments".into()));
    }
    Ok(())
}

fn integer_option(
    lua: &Lua,
    a: &Args,
    i: usize,
    setting: &mut i64,
    min: i64,
    max: i64,
) -> LResult<Value> {
    if !a.is_none_or_nil(i) {
        let v = a.check_integer(lua, i)?;
        // (Lua CJSON reports these against argument 1 whatever the position.)
        if !(min <= v && v <= max) {
            return Err(Fail::Arg(
                1,
                format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = v;
    }
    Ok(Value::Number(*setting as f64))
}

/// json_enum_option: a boolean or one of `options` by name; the reply is a boolean while
/// the setting is 0 or `bool_true`, else the option's name.
fn enum_option(
    lua: &Lua,
    a: &Args,
    i: usize,
    setting: &mut u8,
    options: &[&str],
    bool_true: u8,
) -> LResult<Value> {
    match a.get(i) {
        Value::Nil => {}
        Value::Boolean(b) => *setting = u8::from(b) * bool_true,
        _ => {
            let name = a.check_bytes(lua, i)?;
            match options.iter().position(|o| o.as_bytes() == name.as_slice()) {
                Some(p) => *setting = p as u8,
                None => {
                    return Err(Fail::Arg(
                        i as i32,
                        format!("invalid option '{}'", String::from_utf8_lossy(&name)),
                    ))
                }
            }
        }
    }
    Ok(if *setting == 0 || *setting == bool_true {
        Value::Boolean(*setting != 0)
    } else {
        Value::String(lua.create_string(options[*setting as usize])?)
    })
}

const ON_OFF: &[&str] = &["off", "on"];

fn cfg_sparse(lua: &Lua, a: Args, cfg: &CfgRef) -> LResult<MultiValue> {
    arg_init(&a, 3)?;
    let mut c = with_cfg(cfg, |c| c.clone())?;
    let mut convert = u8::from(c.sparse_convert);
    let r1 = enum_option(lua, &a, 1, &mut convert, ON_OFF, 1)?;
    let r2 = integer_option(lua, &a, 2, &mut c.sparse_ratio, 0, i32::MAX as i64)?;
    let r3 = integer_option(lua, &a, 3, &mut c.sparse_safe, 0, i32::MAX as i64)?;
    c.sparse_convert = convert != 0;
    with_cfg(cfg, |x| *x = c)?;
    Ok(MultiValue::from_iter([r1, r2, r3]))
}

fn int_setting(
    lua: &Lua,
    a: Args,
    cfg: &CfgRef,
    field: fn(&mut Config) -> &mut i64,
    max: i64,
) -> LResult<MultiValue> {
    arg_init(&a, 1)?;
    let mut c = with_cfg(cfg, |c| c.clone())?;
    let r = integer_option(lua, &a, 1, field(&mut c), 1, max)?;
    with_cfg(cfg, |x| *x = c)?;
    one(r)
}

fn cfg_encode_depth(lua: &Lua, a: Args, cfg: &CfgRef) -> LResult<MultiValue> {
    int_setting(lua, a, cfg, |c| &mut c.encode_max_depth, i32::MAX as i64)
}

fn cfg_decode_depth(lua: &Lua, a: Args, cfg: &CfgRef) -> LResult<MultiValue> {
    int_setting(lua, a, cfg, |c| &mut c.decode_max_depth, i32::MAX as i64)
}

fn cfg_precision(lua: &Lua, a: Args, cfg: &CfgRef) -> LResult<MultiValue> {
    int_setting(lua, a, cfg, |c| &mut c.encode_number_precision, 14)
}

fn bool_setting(
    lua: &Lua,
    a: Args,
    cfg: &CfgRef,
    field: fn(&mut Config) -> &mut bool,
) -> LResult<MultiValue> {
    arg_init(&a, 1)?;
    let mut c = with_cfg(cfg, |c| c.clone())?;
    let mut v = u8::from(*field(&mut c));
    let r = enum_option(lua, &a, 1, &mut v, ON_OFF, 1)?;
    *field(&mut c) = v != 0;
    with_cfg(cfg, |x| *x = c)?;
    one(r)
}

fn cfg_keep_buffer(lua: &Lua, a: Args, cfg: &CfgRef) -> LResult<MultiValue> {
    // Only a buffer-reuse optimisation in C; the setting is kept and reported.
    bool_setting(lua, a, cfg, |c| &mut c.encode_keep_buffer)
}

fn cfg_decode_invalid(lua: &Lua, a: Args, cfg: &CfgRef) -> LResult<MultiValue> {
    bool_setting(lua, a, cfg, |c| &mut c.decode_invalid_numbers)
}

fn cfg_encode_invalid(lua: &Lua, a: Args, cfg: &CfgRef) -> LResult<MultiValue> {
    arg_init(&a, 1)?;
    let mut c = with_cfg(cfg, |c| c.clone())?;
    let r = enum_option(
        lua,
        &a,
        1,
        &mut c.encode_invalid_numbers,
        &["off", "on", "null"],
        1,
    )?;
    with_cfg(cfg, |x| *x = c)?;
    one(r)
}

// ---- encoding ------------------------------------------------------------------------

fn encode(lua: &Lua, a: Args, cfg: &CfgRef) -> LResult<MultiValue> {
    if a.len() != 1 {
        return Err(Fail::Arg(1, "expected 1 argument".into()));
    }
    let c = with_cfg(cfg, |c| c.clone())?;
    let mut out = Vec::new();
    append_value(&c, &a.get(1), 0, &mut out)?;
    one(Value::String(lua.create_string(&out)?))
}

fn cannot(what: &Value, reason: &str) -> Fail {
    Fail::Msg(format!("Cannot serialise {}: {reason}", typename(what)))
}

fn append_value(c: &Config, v: &Value, depth: i64, out: &mut Vec<u8>) -> LResult<()> {
    match v {
        Value::String(s) => append_string(&s.as_bytes(), out),
        Value::Integer(i) => append_number(c, v, *i as f64, out)?,
        Value::Number(n) => append_number(c, v, *n, out)?,
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > c.encode_max_depth || depth > HARD_DEPTH as i64 {
                return Err(Fail::Msg(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            match array_length(c, t)? {
                Some(len) if len > 0 => append_array(c, t, len, depth, out)?,
                _ => append_object(c, t, depth, out)?,
            }
        }
        other => return Err(cannot(other, "type not supported")),
    }
    Ok(())
}

fn append_string(s: &[u8], out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn append_number(c: &Config, v: &Value, n: f64, out: &mut Vec<u8>) -> LResult<()> {
    match c.encode_invalid_numbers {
        0 if !n.is_finite() => return Err(cannot(v, "must not be NaN or Inf")),
        1 if n.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if !n.is_finite() => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    out.extend_from_slice(fmt_g(n, c.encode_number_precision.clamp(1, 14) as usize).as_bytes());
    Ok(())
}

/// lua_array_length: Some(max index) if every key is a positive integer (and the array
/// is not too sparse), None for an object.
fn array_length(c: &Config, t: &Table) -> LResult<Option<usize>> {
    let mut max: f64 = 0.0;
    let mut items: f64 = 0.0;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let k = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if k == 0.0 || k.floor() != k || k < 1.0 {
            return Ok(None);
        }
        max = max.max(k);
        items += 1.0;
    }
    let ratio = c.sparse_ratio as f64;
    if c.sparse_ratio > 0 && max > items * ratio && max > c.sparse_safe as f64 {
        if !c.sparse_convert {
            return Err(Fail::Msg(
                "Cannot serialise table: excessively sparse array".into(),
            ));
        }
        return Ok(None);
    }
    if max > i32::MAX as f64 {
        // C keeps the length in an int.
        return Err(Fail::Msg(
            "Cannot serialise table: excessively sparse array".into(),
        ));
    }
    Ok(Some(max as usize))
}

fn append_array(c: &Config, t: &Table, len: usize, depth: i64, out: &mut Vec<u8>) -> LResult<()> {
    out.push(b'[');
    for i in 1..=len {
        if i > 1 {
            out.push(b',');
        }
        let v = exact(t, t.raw_get::<Value>(i)?, i)?;
        append_value(c, &v, depth, out)?;
    }
    out.push(b']');
    Ok(())
}

fn append_object(c: &Config, t: &Table, depth: i64, out: &mut Vec<u8>) -> LResult<()> {
    out.push(b'{');
    let mut first = true;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        if !first {
            out.push(b',');
        }
        first = false;
        match &k {
            Value::Integer(i) => {
                out.push(b'"');
                append_number(c, &k, *i as f64, out)?;
                out.extend_from_slice(b"\":");
            }
            Value::Number(n) => {
                out.push(b'"');
                append_number(c, &k, *n, out)?;
                out.extend_from_slice(b"\":");
            }
            Value::String(s) => {
                append_string(&s.as_bytes(), out);
                out.push(b':');
            }
            other => return Err(cannot(other, "table key must be a number or string")),
        }
        let v = exact_by_key(t, &k, v)?;
        append_value(c, &v, depth, out)?;
    }
    out.push(b'}');
    Ok(())
}

// ---- decoding ------------------------------------------------------------------------

#[derive(PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

struct Token {
    tok: Tok,
    index: usize,
}

impl Token {
    fn found(&self) -> &'static str {
        match self.tok {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

struct Parser<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
    depth: i64,
    max_depth: i64,
    invalid_numbers: bool,
}

fn decode_hex4(h: [u8; 4]) -> Option<u32> {
    let mut v = 0;
    for b in h {
        v = (v << 4) | (b as char).to_digit(16)?;
    }
    Some(v)
}

impl Parser<'_> {
    /// The byte at `i`; 0 past the end (Lua strings are NUL-terminated).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn error(&self, msg: &'static str) -> Token {
        Token {
            tok: Tok::Error(msg),
            index: self.pos,
        }
    }

    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        if self.at(p) == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if self.at(p) <= b'9' {
            return false;
        }
        let rest = &self.data[p.min(self.data.len())..];
        let starts = |w: &[u8]| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(w);
        starts(b"inf") || starts(b"nan")
    }

    fn number(&mut self) -> Token {
        let (v, used) = strtod_prefix(&self.data[self.pos.min(self.data.len())..]);
        if used == 0 {
            return self.error("invalid number");
        }
        let index = self.pos;
        self.pos += used;
        Token {
            tok: Tok::Num(v),
            index,
        }
    }

    fn next(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let single = |tok| Token { tok, index };
        let ch = self.at(self.pos);
        let simple = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = simple {
            self.pos += 1;
            return single(tok);
        }
        if ch == 0 {
            return single(Tok::End);
        }
        let unknown = matches!(
            ch,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-'
        ) || ch.is_ascii_digit();
        if !unknown {
            return self.error("invalid token");
        }
        if ch == b'"' {
            return self.string();
        }
        if ch == b'-' || ch.is_ascii_digit() {
            if !self.invalid_numbers && self.is_invalid_number() {
                return self.error("invalid number");
            }
            return self.number();
        }
        let rest = &self.data[self.pos..];
        for (word, tok, len) in [
            (&b"true"[..], Tok::Bool(true), 4),
            (b"false", Tok::Bool(false), 5),
            (b"null", Tok::Null, 4),
        ] {
            if rest.starts_with(word) {
                self.pos += len;
                return single(tok);
            }
        }
        if self.invalid_numbers && self.is_invalid_number() {
            return self.number();
        }
        self.error("invalid token")
    }

    fn string(&mut self) -> Token {
        let index = self.pos;
        self.pos += 1;
        let mut buf = Vec::new();
        loop {
            let mut ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.error("unexpected end of string");
            }
            if ch == b'\\' {
                let mapped = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => 9,
                    b'n' => 10,
                    b'f' => 12,
                    b'r' => 13,
                    b'u' => b'u',
                    _ => 0,
                };
                if mapped == b'u' {
                    if self.unicode_escape(&mut buf) {
                        continue;
                    }
                    return self.error("invalid unicode escape code");
                }
                if mapped == 0 {
                    return self.error("invalid escape code");
                }
                self.pos += 1;
                ch = mapped;
            }
            buf.push(ch);
            self.pos += 1;
        }
        self.pos += 1;
        Token {
            tok: Tok::Str(buf),
            index,
        }
    }

    /// At `\uXXXX` (maybe a surrogate pair): appends the UTF-8 and moves past it.
    fn unicode_escape(&mut self, buf: &mut Vec<u8>) -> bool {
        let hex4 =
            |p: usize| decode_hex4([self.at(p), self.at(p + 1), self.at(p + 2), self.at(p + 3)]);
        let Some(mut cp) = hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        // codepoint_to_utf8 (surrogate-free code points here; no validation beyond).
        if cp <= 0x7F {
            buf.push(cp as u8);
        } else if cp <= 0x7FF {
            buf.push(((cp >> 6) | 0xC0) as u8);
            buf.push(((cp & 0x3F) | 0x80) as u8);
        } else if cp <= 0xFFFF {
            buf.push(((cp >> 12) | 0xE0) as u8);
            buf.push((((cp >> 6) & 0x3F) | 0x80) as u8);
            buf.push(((cp & 0x3F) | 0x80) as u8);
        } else {
            buf.push(((cp >> 18) | 0xF0) as u8);
            buf.push((((cp >> 12) & 0x3F) | 0x80) as u8);
            buf.push((((cp >> 6) & 0x3F) | 0x80) as u8);
            buf.push(((cp & 0x3F) | 0x80) as u8);
        }
        self.pos += len;
        true
    }

    fn expected(&self, exp: &str, t: &Token) -> Fail {
        Fail::Msg(format!(
            "Expected {exp} but found {} at character {}",
            t.found(),
            t.index + 1
        ))
    }

    fn descend(&mut self) -> LResult<()> {
        self.depth += 1;
        if self.depth > self.max_depth || self.depth > HARD_DEPTH as i64 {
            return Err(Fail::Msg(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            )));
        }
        Ok(())
    }

    fn value(&mut self, t: Token) -> LResult<Value> {
        Ok(match t.tok {
            Tok::Str(s) => Value::String(self.lua.create_string(&s)?),
            Tok::Num(n) => Value::Number(n),
            Tok::Bool(b) => Value::Boolean(b),
            Tok::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
            Tok::ObjBegin => Value::Table(self.object()?),
            Tok::ArrBegin => Value::Table(self.array()?),
            _ => return Err(self.expected("value", &t)),
        })
    }

    fn object(&mut self) -> LResult<Table> {
        self.descend()?;
        let table = self.lua.create_table()?;
        let mut t = self.next();
        if t.tok == Tok::ObjEnd {
            self.depth -= 1;
            return Ok(table);
        }
        loop {
            let key = match t.tok {
                Tok::Str(ref s) => self.lua.create_string(s)?,
                _ => return Err(self.expected("object key string", &t)),
            };
            t = self.next();
            if t.tok != Tok::Colon {
                return Err(self.expected("colon", &t));
            }
            let vt = self.next();
            let v = self.value(vt)?;
            table.raw_set(key, v)?;
            t = self.next();
            if t.tok == Tok::ObjEnd {
                self.depth -= 1;
                return Ok(table);
            }
            if t.tok != Tok::Comma {
                return Err(self.expected("comma or object end", &t));
            }
            t = self.next();
        }
    }

    fn array(&mut self) -> LResult<Table> {
        self.descend()?;
        let table = self.lua.create_table()?;
        let mut t = self.next();
        if t.tok == Tok::ArrEnd {
            self.depth -= 1;
            return Ok(table);
        }
        let mut i: i64 = 1;
        loop {
            let v = self.value(t)?;
            table.raw_set(i, v)?;
            i += 1;
            t = self.next();
            if t.tok == Tok::ArrEnd {
                self.depth -= 1;
                return Ok(table);
            }
            if t.tok != Tok::Comma {
                return Err(self.expected("comma or array end", &t));
            }
            t = self.next();
        }
    }
}

fn decode(lua: &Lua, a: Args, cfg: &CfgRef) -> LResult<MultiValue> {
    if a.len() != 1 {
        return Err(Fail::Arg(1, "expected 1 argument".into()));
    }
    let c = with_cfg(cfg, |c| c.clone())?;
    let data = a.check_bytes(lua, 1)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Fail::Msg(
            "JSON parser does not support UTF-16 or UTF-32".into(),
        ));
    }
    let mut p = Parser {
        lua,
        data: &data,
        pos: 0,
        depth: 0,
        max_depth: c.decode_max_depth,
        invalid_numbers: c.decode_invalid_numbers,
    };
    let t = p.next();
    let v = p.value(t)?;
    let t = p.next();
    if t.tok != Tok::End {
        return Err(p.expected("the end", &t));
    }
    one(v)
}
