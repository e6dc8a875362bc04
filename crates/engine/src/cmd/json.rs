//! JSON commands (RedisJSON 2.x, the `ReJSON-RL` type): JSON.SET/GET/MGET/MSET/MERGE/DEL,
//! the array, object, string, number and boolean commands, JSON.RESP and JSON.DEBUG.
//!
//! # Layout
//!
//! A JSON key is its meta record alone (kind `Json`, no `data` records, `len` 0): the
//! whole document, in a binary encoding, is `meta.inline`, like a string's value (see
//! `types::json`, which opens, encodes and writes documents). A command decodes the
//! document, works on a `serde_json::Value` tree (objects keep insertion order) and,
//! when it changed something, encodes it back into the same meta record, so the key
//! keeps its TTL and version. Replacing the root with JSON.SET keeps the TTL as in
//! RedisJSON; JSON.DEL of the root deletes the key. A command either fails before
//! writing or writes its whole result (RedisJSON may leave the earlier matches of a
//! multi-match command changed when a later one errors, e.g. a NUMINCRBY overflow; here
//! the key is left untouched).
//!
//! # Paths
//!
//! A path starting with `$` is JSONPath (see [`path`]): replies carry one entry per
//! match (`nil` where the match has the wrong type). Anything else is a legacy path,
//! converted as RedisJSON does (`.` → `$`, `.a` → `$.a`, `a[0]` → `$.a[0]`) and
//! evaluated by the same engine, but replying with a single value (the first match, or
//! the last one changed) and failing with RedisJSON's legacy errors (`ERR Path '$.x'
//! does not exist`, `WRONGTYPE wrong type of path value - expected array but found
//! object`, ...). Commands default to the legacy root `.`. Commands that change several
//! matches change them deepest and highest-index first, so an ARRPOP/ARRINSERT/ARRTRIM
//! over nested arrays (`$..*`) never invalidates a later match (RedisJSON 2.8.19's fix);
//! JSON.SET and JSON.DEL only touch the topmost of nested matches. Path evaluation is
//! bounded by a work limit (`ERR JSONPath evaluation exceeds the work limit`), filter
//! nesting by 64 levels.
//!
//! The texts follow RedisJSON 2.6/2.8 as released (messages naming the path, as before
//! RedisJSON removed user data from errors); evaluation follows the later 2.8 fixes
//! (a filter applied to an object iterates its values, as documented; `@.x` matching
//! several values compares true when any does). `=~` also works with a pattern written
//! with escapes (`"\\d"`), which RedisJSON's evaluator never matches.
//!
//! # Values
//!
//! Numbers keep RedisJSON's kinds: integers that fit `i64`, integers up to `u64::MAX`,
//! and finite floats (printed the shortest way that round-trips, always with a `.` or
//! exponent: `3.0`, `1e300`). NUMINCRBY/NUMMULTBY on an `i64` by an integer stays an
//! (wrapping) integer; anything else computes in `f64` and fails with `result is not a
//! number` on overflow to infinity. Each input value may nest at most 127 containers
//! (serde_json's limit, as in RedisJSON: `recursion limit exceeded`); a document as a
//! whole at most [`records::MAX_DEPTH`] (a Meridian limit) and its encoding at most
//! proto-max-bulk-len bytes. Deleting an object key moves the object's last key into its
//! place, exactly as RedisJSON's object storage does.
//!
//! # Replies
//!
//! The engine does not know the connection's protocol, so replies are RedisJSON's RESP2
//! replies (`JSON.GET ... FORMAT` is refused as on RESP2; JSON.NUMINCRBY with `$` paths
//! replies a JSON array string). Error texts are RedisJSON 2.6/2.8's, including the ones
//! without an error code (`expected value at line 1 column 1`, `Couldn't parse as
//! integer`, ...). Multi-path JSON.GET lists the paths in argument order (RedisJSON's
//! order is a hash map's). Not supported: `FORMAT BSON` input (an explicit error), the
//! undocumented JSON.NUMPOWBY and JSON.DEBUG DEFRAG_INFO. JSON.DEBUG MEMORY reports
//! RedisJSON 2.8's estimate computed for exactly-sized containers.

pub(crate) mod path;
mod regex;

use super::spec;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags::*, keys, CommandSpec, Exec};
use crate::txn::Txn;
use crate::types::json as records;
use crate::Frame;
use ::keys::Meta;
use path::{Match, PathElem, Query};
use serde_json::{Number, Value};
use std::cmp::Ordering;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let a: &'static [&'static str] = &["json"];
    let g = "json";
    let k = keys(1, 1, 1);
    vec![
        spec("json.arrappend", -4, WRITE | DENYOOM, k, a, g, "1.0.0", "Append one or more json values into the array at path after the last element in it.", E(arrappend)),
        spec("json.arrindex", -4, READONLY, k, a, g, "1.0.0", "Returns the index of the first occurrence of a JSON scalar value in the array at path", E(arrindex)),
        spec("json.arrinsert", -5, WRITE | DENYOOM, k, a, g, "1.0.0", "Inserts the JSON scalar(s) value at the specified index in the array at path", E(arrinsert)),
        spec("json.arrlen", -2, READONLY, k, a, g, "1.0.0", "Returns the length of the array at path", E(arrlen)),
        spec("json.arrpop", -2, WRITE, k, a, g, "1.0.0", "Removes and returns the element at the specified index in the array at path", E(arrpop)),
        spec("json.arrtrim", -5, WRITE, k, a, g, "1.0.0", "Trims the array at path to contain only the specified inclusive range of indices from start to stop", E(arrtrim)),
        spec("json.clear", -2, WRITE, k, a, g, "2.0.0", "Clears all values from an array or an object and sets numeric values to `0`", E(clear)),
        spec("json.debug", -2, READONLY, keys(2, 2, 1), a, g, "1.0.0", "Debugging container command", E(debug)),
        spec("json.del", -2, WRITE, k, a, g, "1.0.0", "Deletes a value", E(del)),
        spec("json.forget", -2, WRITE, k, a, g, "1.0.0", "Deletes a value", E(del)),
        spec("json.get", -2, READONLY, k, a, g, "1.0.0", "Gets the value at one or more paths in JSON serialized form", E(get)),
        spec("json.merge", -4, WRITE | DENYOOM, k, a, g, "2.6.0", "Merges a given JSON value into matching paths. Consequently, JSON values at matching paths are updated, deleted, or expanded with new children", E(merge)),
        spec("json.mget", -3, READONLY, keys(1, -2, 1), a, g, "1.0.0", "Returns the values at a path from one or more keys", E(mget)),
        spec("json.mset", -4, WRITE | DENYOOM, keys(1, -1, 3), a, g, "2.6.0", "Sets or updates the JSON value of one or more keys", E(mset)),
        spec("json.numincrby", -4, WRITE, k, a, g, "1.0.0", "Increments the numeric value at path by a value", E(numincrby)),
        spec("json.nummultby", -4, WRITE, k, a, g, "1.0.0", "Multiplies the numeric value at path by a value", E(nummultby)),
        spec("json.objkeys", -2, READONLY, k, a, g, "1.0.0", "Returns the JSON keys of the object at path", E(objkeys)),
        spec("json.objlen", -2, READONLY, k, a, g, "1.0.0", "Returns the number of keys of the object at path", E(objlen)),
        spec("json.resp", -2, READONLY, k, a, g, "1.0.0", "Returns the JSON value at path in Redis Serialization Protocol (RESP)", E(resp)),
        spec("json.set", -4, WRITE | DENYOOM, k, a, g, "1.0.0", "Sets or updates the JSON value at a path", E(set)),
        spec("json.strappend", -3, WRITE | DENYOOM, k, a, g, "1.0.0", "Appends a string to a JSON string value at path", E(strappend)),
        spec("json.strlen", -2, READONLY, k, a, g, "1.0.0", "Returns the length of the JSON String at path in key", E(strlen)),
        spec("json.toggle", -3, WRITE | DENYOOM, k, a, g, "2.0.0", "Toggles a boolean value", E(toggle)),
        spec("json.type", -2, READONLY, k, a, g, "1.0.0", "Returns the type of the JSON value at path", E(type_cmd)),
    ]
}

// ---- errors -----------------------------------------------------------------------------

fn err(msg: impl Into<String>) -> CmdError {
    CmdError::new(msg)
}

fn not_utf8() -> CmdError {
    err("Couldn't parse as UTF-8 string")
}

fn nonexistent_key() -> CmdError {
    err("ERR could not perform this operation on a key that doesn't exist")
}

fn err_path(path: &str) -> CmdError {
    err(format!("ERR Path '{path}' does not exist"))
}

fn err_path_or(path: &str, or: &str) -> CmdError {
    err(format!("ERR Path '{path}' does not exist or {or}"))
}

fn err_expected(expected: &str, found: &str) -> CmdError {
    err(format!(
        "WRONGTYPE wrong type of path value - expected {expected} but found {found}"
    ))
}

fn arity(argv: &[Vec<u8>]) -> CmdError {
    CmdError::wrong_arity(&String::from_utf8_lossy(&argv[0]))
}

// ---- arguments --------------------------------------------------------------------------

fn utf8(arg: &[u8]) -> Result<&str, CmdError> {
    std::str::from_utf8(arg).map_err(|_| not_utf8())
}

/// redis-module's `parse_integer` (RedisModule_StringToLongLong).
fn parse_integer(arg: &[u8]) -> Result<i64, CmdError> {
    crate::args::parse_i64_opt(arg).ok_or_else(|| err("Couldn't parse as integer"))
}

/// A JSON argument, parsed as RedisJSON does (serde_json, 128 levels at most).
fn parse_json(arg: &[u8]) -> Result<Value, CmdError> {
    serde_json::from_str::<Value>(utf8(arg)?).map_err(|e| err(e.to_string()))
}

/// A path argument: JSONPath as given, or a legacy path and its JSONPath translation
/// (RedisJSON's `Path`).
struct JPath<'a> {
    original: &'a str,
    fixed: Option<String>,
}

impl<'a> JPath<'a> {
    fn new(path: &'a str) -> JPath<'a> {
        let b = path.as_bytes();
        let fixed = if path.starts_with('$') && (b.len() < 2 || b[1] == b'.' || b[1] == b'[') {
            None
        } else if path == "." {
            Some("$".to_string())
        } else if path.starts_with('.') {
            Some(format!("${path}"))
        } else {
            Some(format!("$.{path}"))
        };
        JPath {
            original: path,
            fixed,
        }
    }

    fn arg(arg: &'a [u8]) -> Result<JPath<'a>, CmdError> {
        Ok(JPath::new(utf8(arg)?))
    }

    fn is_legacy(&self) -> bool {
        self.fixed.is_some()
    }

    /// The JSONPath to evaluate.
    fn get(&self) -> &str {
        self.fixed.as_deref().unwrap_or(self.original)
    }

    fn is_root(&self) -> bool {
        self.get() == "$"
    }

    fn compile(&self) -> Result<Query, CmdError> {
        path::compile(self.get())
    }
}

const LEGACY_ROOT: &str = ".";

/// An optional path argument read as RedisJSON's `next_str().unwrap_or(".")` does:
/// absent *or not UTF-8* means the legacy root.
fn opt_path(argv: &[Vec<u8>], i: usize) -> JPath<'_> {
    JPath::new(
        argv.get(i)
            .and_then(|a| std::str::from_utf8(a).ok())
            .unwrap_or(LEGACY_ROOT),
    )
}

// ---- values -----------------------------------------------------------------------------

/// RedisJSON's type names (JSON.TYPE and the legacy errors).
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// RedisJSON's strict equality (JSON.ARRINDEX): same kind, where an integer beyond
/// `i64` counts as a float.
fn strict_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            (None, None) => x.as_f64() == y.as_f64(),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| strict_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| strict_eq(v, w)))
        }
        _ => a == b,
    }
}

fn get_mut<'a>(root: &'a mut Value, path: &[PathElem]) -> Option<&'a mut Value> {
    let mut cur = root;
    for e in path {
        cur = match (e, cur) {
            (PathElem::Key(k), Value::Object(o)) => o.get_mut(k)?,
            (PathElem::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Removes the value at a non-root path; false if nothing is there.
fn remove_at(root: &mut Value, path: &[PathElem]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    match (get_mut(root, parent), last) {
        // RedisJSON's objects remove by moving the last entry into the hole.
        (Some(Value::Object(o)), PathElem::Key(k)) => o.swap_remove(k).is_some(),
        (Some(Value::Array(a)), PathElem::Index(i)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

/// RFC 7396 merge patch (RedisJSON's `merge`).
fn merge_patch(doc: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return;
    };
    if !doc.is_object() {
        *doc = Value::Object(serde_json::Map::new());
    }
    let Value::Object(map) = doc else {
        return;
    };
    for (k, v) in p {
        if v.is_null() {
            map.swap_remove(k);
        } else {
            merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Evaluates a path, keeping every match's location.
fn locate<'v>(doc: &'v Value, p: &JPath) -> Result<Vec<Match<'v>>, CmdError> {
    path::select(&p.compile()?, doc, true)
}

/// Evaluates a path for its values only.
fn values<'v>(doc: &'v Value, p: &JPath) -> Result<Vec<&'v Value>, CmdError> {
    Ok(path::select(&p.compile()?, doc, false)?
        .into_iter()
        .map(|m| m.value)
        .collect())
}

/// Locations of the matches, None where `keep` rejects the value.
fn locate_if(
    doc: &Value,
    p: &JPath,
    keep: impl Fn(&Value) -> bool,
) -> Result<Vec<Option<Vec<PathElem>>>, CmdError> {
    Ok(locate(doc, p)?
        .into_iter()
        .map(|m| keep(m.value).then_some(m.path))
        .collect())
}

/// The safe order to mutate several locations in: deeper paths first, higher array
/// indexes first (RedisJSON's compare_paths_for_mutation; object keys that read as
/// numbers compare as numbers there too).
fn mutation_order(a: &[PathElem], b: &[PathElem]) -> Ordering {
    let num = |e: &PathElem| match e {
        PathElem::Index(i) => Some(*i),
        PathElem::Key(k) => k.parse::<usize>().ok(),
    };
    for (x, y) in a.iter().zip(b) {
        let o = match (num(x), num(y)) {
            (Some(i), Some(j)) => j.cmp(&i),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => match (x, y) {
                (PathElem::Key(x), PathElem::Key(y)) => x.cmp(y),
                _ => Ordering::Equal,
            },
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    b.len().cmp(&a.len())
}

/// RedisJSON's prepare_paths_for_updating: sorted for mutation, and only the topmost
/// of nested locations kept (a location is dropped when a strictly shorter prefix of
/// it was matched too; repeated matches of one location stay).
///
/// In O(n log n) comparisons, not by comparing every pair: `$..a..*..b` on a document
/// nesting a few dozen levels matches the same locations tens of thousands of times,
/// and a quadratic pass stalled the command (and every replica) for minutes. In
/// lexicographic order a location's extensions follow it directly, so a sweep that
/// remembers the last location not nested in another one finds them all.
fn prepare_for_update(paths: &mut Vec<Vec<PathElem>>) {
    if paths.len() < 2 {
        return;
    }
    paths.sort_by(|a, b| mutation_order(a, b));
    let elem = |x: &PathElem, y: &PathElem| match (x, y) {
        (PathElem::Index(i), PathElem::Index(j)) => i.cmp(j),
        (PathElem::Key(a), PathElem::Key(b)) => a.cmp(b),
        (PathElem::Index(_), PathElem::Key(_)) => Ordering::Less,
        (PathElem::Key(_), PathElem::Index(_)) => Ordering::Greater,
    };
    let mut lex: Vec<usize> = (0..paths.len()).collect();
    lex.sort_by(|&a, &b| {
        let (a, b) = (&paths[a], &paths[b]);
        a.iter()
            .zip(b.iter())
            .map(|(x, y)| elem(x, y))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.len().cmp(&b.len()))
    });
    let mut nested = vec![false; paths.len()];
    let mut top: Option<usize> = None;
    for i in lex {
        if let Some(t) = top {
            let (t, p) = (&paths[t], &paths[i]);
            if t.len() < p.len() && p[..t.len()] == t[..] {
                nested[i] = true;
                continue;
            }
        }
        top = Some(i);
    }
    let mut i = 0;
    paths.retain(|_| {
        i += 1;
        !nested[i - 1]
    });
}

/// Matches (with their reply slots) ordered for mutation.
fn indexed_for_mutation(found: Vec<Option<Vec<PathElem>>>) -> Vec<(usize, Vec<PathElem>)> {
    let mut v: Vec<(usize, Vec<PathElem>)> = found
        .into_iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (i, p)))
        .collect();
    v.sort_by(|(_, a), (_, b)| mutation_order(a, b));
    v
}

// ---- serialization ----------------------------------------------------------------------

/// JSON.GET's INDENT/NEWLINE/SPACE.
#[derive(Default)]
struct Fmt<'a> {
    indent: Option<&'a str>,
    newline: Option<&'a str>,
    space: Option<&'a str>,
}

/// One path's result in a multi-path JSON.GET.
enum Got<'v> {
    One(&'v Value),
    Many(Vec<&'v Value>),
}

/// A JSON writer producing serde_json's text (same escapes, same number formatting)
/// laid out by RedisJSON's RedisJsonFormatter: after every `,` and opening bracket comes
/// NEWLINE plus INDENT per level, SPACE follows each `:`, and a closing bracket gets its
/// own line when the container's last element was written.
///
/// A reply may be far larger than the document: `$..*` repeats every nested value once
/// per ancestor and INDENT repeats its text once per level on every line. The writer
/// stops at [`REPLY_LIMIT`] bytes and [`Writer::finish`] then fails, instead of building
/// a reply of many gigabytes.
struct Writer<'a> {
    fmt: &'a Fmt<'a>,
    level: usize,
    has_value: bool,
    out: Vec<u8>,
    full: bool,
}

/// The largest JSON text a reply may carry (proto-max-bulk-len, like a string value).
const REPLY_LIMIT: usize = super::string::MAX_STRING_LEN as usize;

fn reply_too_large() -> CmdError {
    err("ERR JSON reply exceeds maximum allowed size (proto-max-bulk-len)")
}

impl<'a> Writer<'a> {
    fn new(fmt: &'a Fmt<'a>) -> Writer<'a> {
        Writer {
            fmt,
            level: 0,
            has_value: false,
            out: Vec::new(),
            full: false,
        }
    }

    /// Whether the reply is still within [`REPLY_LIMIT`]; once it is not, nothing more
    /// is written.
    fn room(&mut self) -> bool {
        if self.out.len() > REPLY_LIMIT {
            self.full = true;
        }
        !self.full
    }

    fn finish(self) -> Result<Vec<u8>, CmdError> {
        if self.full || self.out.len() > REPLY_LIMIT {
            return Err(reply_too_large());
        }
        Ok(self.out)
    }

    fn new_line(&mut self) {
        if !self.room() {
            return;
        }
        if let Some(n) = self.fmt.newline {
            self.out.extend_from_slice(n.as_bytes());
        }
        if let Some(s) = self.fmt.indent {
            for _ in 0..self.level {
                if !self.room() {
                    return;
                }
                self.out.extend_from_slice(s.as_bytes());
            }
        }
    }

    fn string(&mut self, s: &str) {
        // serde_json's escaping, exactly.
        if serde_json::to_writer(&mut self.out, s).is_err() {
            self.out.extend_from_slice(b"\"\"");
        }
    }

    fn open(&mut self, bracket: u8) {
        self.level += 1;
        self.has_value = false;
        self.out.push(bracket);
    }

    fn close(&mut self, bracket: u8) {
        self.level -= 1;
        if self.has_value {
            self.new_line();
        }
        self.out.push(bracket);
    }

    fn list<'v>(&mut self, items: impl Iterator<Item = &'v Value>) {
        self.open(b'[');
        for (i, v) in items.enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.new_line();
            self.value(v);
            self.has_value = true;
        }
        self.close(b']');
    }

    fn key(&mut self, i: usize, k: &str) {
        if i > 0 {
            self.out.push(b',');
        }
        self.new_line();
        self.string(k);
        self.out.push(b':');
        if let Some(s) = self.fmt.space {
            self.out.extend_from_slice(s.as_bytes());
        }
    }

    fn value(&mut self, v: &Value) {
        if !self.room() {
            return;
        }
        match v {
            Value::Null => self.out.extend_from_slice(b"null"),
            Value::Bool(b) => self
                .out
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Number(n) => self.out.extend_from_slice(number_text(n).as_bytes()),
            Value::String(s) => self.string(s),
            Value::Array(a) => self.list(a.iter()),
            Value::Object(o) => {
                self.open(b'{');
                for (i, (k, v)) in o.iter().enumerate() {
                    self.key(i, k);
                    self.value(v);
                    self.has_value = true;
                }
                self.close(b'}');
            }
        }
    }

    fn multi(&mut self, entries: &[(&str, Got)]) {
        self.open(b'{');
        for (i, (k, got)) in entries.iter().enumerate() {
            self.key(i, k);
            match got {
                Got::One(v) => self.value(v),
                Got::Many(vs) => self.list(vs.iter().copied()),
            }
            self.has_value = true;
        }
        self.close(b'}');
    }
}

/// A number as RedisJSON prints it: integers plainly, floats the way `ryu` lays out
/// their shortest round-trip digits (RedisJSON's serde_json: `3.0`, `0.001`, `1e300`,
/// `1.5e-7`; the serde_json here would print `1e+300`).
fn number_text(n: &Number) -> String {
    if !n.is_f64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let exp: i64 = exp.parse().unwrap_or(0);
    let len = digits.len() as i64;
    // The value is digits x 10^k; 10^(kk-1) <= |f| < 10^kk.
    let kk = exp + 1;
    let k = kk - len;
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if k >= 0 && kk <= 16 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k as usize));
        out.push_str(".0");
    } else if 0 < kk && kk <= 16 {
        out.push_str(&digits[..kk as usize]);
        out.push('.');
        out.push_str(&digits[kk as usize..]);
    } else if -5 < kk && kk <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', -kk as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if len > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push_str(&(kk - 1).to_string());
    }
    out
}

fn write_value(v: &Value, fmt: &Fmt) -> Result<Vec<u8>, CmdError> {
    let mut w = Writer::new(fmt);
    w.value(v);
    w.finish()
}

fn write_list(vs: &[&Value], fmt: &Fmt) -> Result<Vec<u8>, CmdError> {
    let mut w = Writer::new(fmt);
    w.list(vs.iter().copied());
    w.finish()
}

fn to_json(v: &Value) -> Result<Vec<u8>, CmdError> {
    write_value(v, &Fmt::default())
}

fn bulk(v: Vec<u8>) -> Frame {
    Frame::Bulk(v)
}

fn int(n: usize) -> Frame {
    Frame::Integer(n as i64)
}

// ---- JSON.GET / JSON.MGET / JSON.TYPE / JSON.RESP ---------------------------------------

fn get(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let mut paths: Vec<JPath> = Vec::new();
    let mut fmt = Fmt::default();
    let mut i = 2;
    let next_str = |i: &mut usize| -> Result<&str, CmdError> {
        let a = argv.get(*i).ok_or_else(|| arity(argv))?;
        *i += 1;
        utf8(a)
    };
    // RedisJSON stops reading options at the first argument that is not UTF-8.
    while let Some(Ok(arg)) = argv.get(i).map(|a| utf8(a)) {
        i += 1;
        if arg.len() > "NOESCAPE".len() {
            paths.push(JPath::new(arg));
        } else if arg.eq_ignore_ascii_case("FORMAT") {
            if paths.is_empty() {
                return Err(err("ERR FORMAT argument is not supported on RESP2"));
            }
            let f = next_str(&mut i)?;
            if f.eq_ignore_ascii_case("STRINGS") || !matches!(f, "STRING" | "EXPAND1" | "EXPAND") {
                return Err(err("ERR wrong reply format"));
            }
        } else if arg.eq_ignore_ascii_case("INDENT") {
            fmt.indent = Some(next_str(&mut i)?);
        } else if arg.eq_ignore_ascii_case("NEWLINE") {
            fmt.newline = Some(next_str(&mut i)?);
        } else if arg.eq_ignore_ascii_case("SPACE") {
            fmt.space = Some(next_str(&mut i)?);
        } else if arg.eq_ignore_ascii_case("NOESCAPE") {
            continue;
        } else {
            paths.push(JPath::new(arg));
        }
    }
    if paths.is_empty() {
        paths.push(JPath::new(LEGACY_ROOT));
    }
    let Some((_, doc)) = records::open(t, &argv[1])? else {
        return Ok(Frame::Null);
    };
    let legacy = paths.iter().all(JPath::is_legacy);
    if paths.len() == 1 {
        let p = &paths[0];
        let vals = values(&doc, p)?;
        return Ok(bulk(if legacy {
            let first = vals.first().ok_or_else(|| err_path(p.get()))?;
            write_value(first, &fmt)?
        } else {
            write_list(&vals, &fmt)?
        }));
    }
    let mut out: Vec<(&str, Got)> = Vec::new();
    let mut missing = None;
    for p in &paths {
        // A path that does not compile is left out (RedisJSON).
        let Ok(q) = p.compile() else {
            continue;
        };
        let vals: Vec<&Value> = path::select(&q, &doc, false)?
            .into_iter()
            .map(|m| m.value)
            .collect();
        let got = if legacy {
            match vals.first() {
                Some(v) => Got::One(v),
                None => {
                    missing.get_or_insert(p.original);
                    continue;
                }
            }
        } else {
            Got::Many(vals)
        };
        if !out.iter().any(|(k, _)| *k == p.original) {
            out.push((p.original, got));
        }
    }
    if let Some(p) = missing {
        return Err(err_path(p));
    }
    let mut w = Writer::new(&fmt);
    w.multi(&out);
    Ok(bulk(w.finish()?))
}

fn mget(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let p = JPath::arg(&argv[argv.len() - 1])?;
    let q = p.compile();
    let mut out = Vec::with_capacity(argv.len() - 2);
    for key in &argv[1..argv.len() - 1] {
        // Any failure (wrong type, bad path, no match) is a nil for that key; a reply
        // too large to build fails the command.
        let one = || -> Option<Result<Vec<u8>, CmdError>> {
            let (_, doc) = records::open(t, key).ok()??;
            let q = q.as_ref().ok()?;
            let vals: Vec<&Value> = path::select(q, &doc, false)
                .ok()?
                .into_iter()
                .map(|m| m.value)
                .collect();
            Some(if p.is_legacy() {
                to_json(vals.first()?)
            } else {
                write_list(&vals, &Fmt::default())
            })
        };
        out.push(match one() {
            Some(text) => bulk(text?),
            None => Frame::Null,
        });
    }
    Ok(Frame::Array(out))
}

fn type_cmd(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let p = opt_path(argv, 2);
    let Some((_, doc)) = records::open(t, &argv[1])? else {
        return Ok(Frame::Null);
    };
    if p.is_legacy() {
        return Ok(match values(&doc, &p) {
            Ok(v) => v.first().map_or(Frame::Null, |v| bulk(type_name(v).into())),
            Err(_) => Frame::Null,
        });
    }
    Ok(Frame::Array(
        values(&doc, &p)?
            .into_iter()
            .map(|v| bulk(type_name(v).into()))
            .collect(),
    ))
}

fn resp_value(v: &Value) -> Frame {
    match v {
        Value::Null => Frame::Null,
        Value::Bool(b) => Frame::Simple(if *b { "true" } else { "false" }.into()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Frame::Integer(i),
            None => Frame::Double(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => bulk(s.as_bytes().to_vec()),
        Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len() + 1);
            out.push(Frame::Simple("[".into()));
            out.extend(a.iter().map(resp_value));
            Frame::Array(out)
        }
        Value::Object(o) => {
            let mut out = Vec::with_capacity(2 * o.len() + 1);
            out.push(Frame::Simple("{".into()));
            for (k, v) in o {
                out.push(bulk(k.as_bytes().to_vec()));
                out.push(resp_value(v));
            }
            Frame::Array(out)
        }
    }
}

fn resp(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let p = JPath::arg(argv.get(2).map_or(LEGACY_ROOT.as_bytes(), |a| a))?;
    let Some((_, doc)) = records::open(t, &argv[1])? else {
        return Ok(Frame::Null);
    };
    let vals = values(&doc, &p)?;
    if p.is_legacy() {
        let first = vals.first().ok_or_else(|| err_path(p.get()))?;
        return Ok(resp_value(first));
    }
    Ok(Frame::Array(vals.into_iter().map(resp_value).collect()))
}

// ---- JSON.SET / JSON.MERGE / JSON.MSET ----------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOpt {
    None,
    Nx,
    Xx,
    Merge,
}

/// Where a value goes: replacing an existing location, or a new key of an object.
enum Update {
    Set(Vec<PathElem>),
    Add(Vec<PathElem>, String),
}

/// RedisJSON's KeyValue::find_paths.
fn find_updates(doc: &Value, p: &JPath, opt: SetOpt) -> Result<Vec<Update>, CmdError> {
    if opt != SetOpt::Nx {
        let mut found: Vec<Vec<PathElem>> = locate(doc, p)?.into_iter().map(|m| m.path).collect();
        if opt != SetOpt::Merge {
            prepare_for_update(&mut found);
        }
        if !found.is_empty() {
            return Ok(found.into_iter().map(Update::Set).collect());
        }
    }
    if opt == SetOpt::Xx {
        return Ok(Vec::new());
    }
    // Adding: the path must name one new object key under existing parents.
    let mut q = p.compile()?;
    if !q.is_static() {
        return Err(err("Err wrong static path"));
    }
    if q.segs.is_empty() {
        return Err(err("Err path must end with object key to set"));
    }
    match q.pop_last() {
        Some(Ok(key)) => {
            if q.segs.is_empty() {
                return Ok(vec![Update::Add(Vec::new(), key)]);
            }
            Ok(path::select(&q, doc, true)?
                .into_iter()
                .map(|m| Update::Add(m.path, key.clone()))
                .collect())
        }
        _ => {
            // An array index that matched nothing is out of range; one that matched is
            // an NX no-op.
            if locate(doc, p)?.is_empty() {
                Err(err("ERR array index out of range"))
            } else {
                Ok(Vec::new())
            }
        }
    }
}

/// Applies JSON.SET's updates; true if anything changed.
fn apply_set(doc: &mut Value, updates: Vec<Update>, val: &Value) -> bool {
    let mut changed = false;
    for u in updates {
        match u {
            Update::Set(path) => {
                if let Some(slot) = get_mut(doc, &path) {
                    *slot = val.clone();
                    changed = true;
                }
            }
            Update::Add(path, key) => {
                if let Some(Value::Object(o)) = get_mut(doc, &path) {
                    if !o.contains_key(&key) {
                        o.insert(key, val.clone());
                        changed = true;
                    }
                }
            }
        }
    }
    changed
}

/// `FORMAT` of JSON.SET/JSON.MERGE.
fn check_format(f: &str) -> Result<(), CmdError> {
    match f {
        "JSON" | "STRING" => Ok(()),
        "BSON" => Err(err("ERR FORMAT BSON is not supported")),
        _ => Err(err("ERR wrong format")),
    }
}

fn set(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let p = JPath::arg(&argv[2])?;
    let raw = &argv[3];
    let mut opt = SetOpt::None;
    let mut i = 4;
    while i < argv.len() {
        let a = utf8(&argv[i])?;
        i += 1;
        if a.eq_ignore_ascii_case("NX") && opt == SetOpt::None {
            opt = SetOpt::Nx;
        } else if a.eq_ignore_ascii_case("XX") && opt == SetOpt::None {
            opt = SetOpt::Xx;
        } else if a.eq_ignore_ascii_case("FORMAT") {
            check_format(utf8(argv.get(i).ok_or_else(|| arity(argv))?)?)?;
            i += 1;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let current = records::open(t, key)?;
    let val = parse_json(raw)?;
    match current {
        Some((meta, mut doc)) => {
            if p.is_root() {
                if opt == SetOpt::Nx {
                    return Ok(Frame::Null);
                }
                records::save(t, key, Some(meta), &val)?;
                return Ok(Frame::ok());
            }
            let updates = find_updates(&doc, &p, opt)?;
            if !updates.is_empty() && apply_set(&mut doc, updates, &val) {
                records::save(t, key, Some(meta), &doc)?;
                Ok(Frame::ok())
            } else {
                Ok(Frame::Null)
            }
        }
        None if opt == SetOpt::Xx => Ok(Frame::Null),
        None if p.is_root() => {
            records::save(t, key, None, &val)?;
            Ok(Frame::ok())
        }
        None => Err(err("ERR new objects must be created at the root")),
    }
}

fn merge(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let p = JPath::arg(&argv[2])?;
    let raw = &argv[3];
    let mut i = 4;
    while i < argv.len() {
        let a = utf8(&argv[i])?;
        i += 1;
        if a.eq_ignore_ascii_case("FORMAT") {
            check_format(utf8(argv.get(i).ok_or_else(|| arity(argv))?)?)?;
            i += 1;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let current = records::open(t, key)?;
    let val = parse_json(raw)?;
    match current {
        Some((meta, mut doc)) => {
            if p.is_root() {
                merge_patch(&mut doc, &val);
                records::save(t, key, Some(meta), &doc)?;
                return Ok(Frame::ok());
            }
            let mut changed = false;
            for u in find_updates(&doc, &p, SetOpt::Merge)? {
                match u {
                    Update::Set(path) => {
                        if let Some(slot) = get_mut(&mut doc, &path) {
                            merge_patch(slot, &val);
                            changed = true;
                        }
                    }
                    Update::Add(path, key) => {
                        if let Some(Value::Object(o)) = get_mut(&mut doc, &path) {
                            if !o.contains_key(&key) {
                                o.insert(key, val.clone());
                                changed = true;
                            }
                        }
                    }
                }
            }
            if changed {
                records::save(t, key, Some(meta), &doc)?;
                Ok(Frame::ok())
            } else {
                Ok(Frame::Null)
            }
        }
        None if p.is_root() => {
            records::save(t, key, None, &val)?;
            Ok(Frame::ok())
        }
        None => Err(err("ERR new objects must be created at the root")),
    }
}

fn mset(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    if !(argv.len() - 1).is_multiple_of(3) {
        return Err(arity(argv));
    }
    // Validate every triplet against the keys as they are (RedisJSON checks them all
    // before changing any).
    let mut triplets = Vec::with_capacity(argv.len() / 3);
    for tr in argv[1..].chunks(3) {
        let current = records::open(t, &tr[0])?;
        let p = JPath::arg(&tr[1])?;
        if !p.is_root() {
            match &current {
                Some((_, doc)) => {
                    find_updates(doc, &p, SetOpt::None)?;
                }
                None => return Err(err("ERR new objects must be created at the root")),
            }
        }
        let val = parse_json(&tr[2])?;
        triplets.push((&tr[0], p, val));
    }
    // Apply them in order on working copies, then write every changed key.
    let mut docs: Vec<(&Vec<u8>, Option<Meta>, Value, bool)> = Vec::new();
    for (key, p, val) in triplets {
        let slot = match docs.iter().position(|(k, ..)| *k == key) {
            Some(i) => i,
            None => {
                let (meta, doc) = match records::open(t, key)? {
                    Some((m, d)) => (Some(m), d),
                    None => (None, Value::Null),
                };
                docs.push((key, meta, doc, false));
                docs.len() - 1
            }
        };
        let (_, _, doc, changed) = &mut docs[slot];
        if p.is_root() {
            *doc = val;
            *changed = true;
        } else {
            let updates = find_updates(doc, &p, SetOpt::None)?;
            if apply_set(doc, updates, &val) {
                *changed = true;
            }
        }
    }
    let mut encoded = Vec::with_capacity(docs.len());
    for (key, meta, doc, changed) in docs {
        if changed {
            encoded.push((key, meta, records::encode(&doc)?));
        }
    }
    for (key, meta, bytes) in encoded {
        records::put(t, key, meta, bytes)?;
    }
    Ok(Frame::ok())
}

// ---- JSON.DEL / JSON.CLEAR --------------------------------------------------------------

fn del(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let p = JPath::arg(argv.get(2).map_or(LEGACY_ROOT.as_bytes(), |a| a))?;
    let Some((meta, mut doc)) = records::open(t, key)? else {
        return Ok(Frame::Integer(0));
    };
    if p.is_root() {
        t.delete_key(key)?;
        return Ok(Frame::Integer(1));
    }
    let mut found: Vec<Vec<PathElem>> = locate(&doc, &p)?.into_iter().map(|m| m.path).collect();
    prepare_for_update(&mut found);
    let mut n = 0;
    for path in &found {
        if remove_at(&mut doc, path) {
            n += 1;
        }
    }
    if n > 0 {
        records::save(t, key, Some(meta), &doc)?;
    }
    Ok(int(n))
}

fn clear(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    // Every path must be UTF-8, but only the first is used (RedisJSON).
    for a in &argv[2..] {
        utf8(a)?;
    }
    let p = JPath::arg(argv.get(2).map_or(LEGACY_ROOT.as_bytes(), |a| a))?;
    let Some((meta, mut doc)) = records::open(t, key)? else {
        return Err(nonexistent_key());
    };
    let clearable = |v: &Value| match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i != 0,
            None => n.as_f64() != Some(0.0),
        },
        _ => false,
    };
    let found = locate_if(&doc, &p, clearable)?;
    let mut n = 0;
    for path in found.into_iter().flatten() {
        match get_mut(&mut doc, &path) {
            Some(Value::Array(a)) => a.clear(),
            Some(Value::Object(o)) => o.clear(),
            Some(v @ Value::Number(_)) => *v = Value::Number(0.into()),
            _ => continue,
        }
        n += 1;
    }
    if n > 0 {
        records::save(t, key, Some(meta), &doc)?;
    }
    Ok(int(n))
}

// ---- numbers and booleans -----------------------------------------------------------------

fn is_number(v: &Value) -> bool {
    v.is_number()
}

/// RedisJSON's do_num_op on one location. The operand is parsed here, per location,
/// as RedisJSON does (so a bad operand is only an error when something matched).
fn num_op(
    doc: &mut Value,
    path: &[PathElem],
    operand: &str,
    mult: bool,
) -> Result<Number, CmdError> {
    let input: Value = serde_json::from_str(operand).map_err(|e| err(e.to_string()))?;
    let Value::Number(input) = input else {
        return Err(err("bad input number"));
    };
    let Some(Value::Number(cur)) = get_mut(doc, path) else {
        return Err(err("ERR Path does not exist"));
    };
    let res = match (cur.as_i64(), input.as_i64()) {
        (Some(a), Some(b)) => Number::from(if mult {
            a.wrapping_mul(b)
        } else {
            a.wrapping_add(b)
        }),
        _ => {
            let a = cur.as_f64().unwrap_or(0.0);
            let b = input.as_f64().unwrap_or(0.0);
            let r = if mult { a * b } else { a + b };
            Number::from_f64(r).ok_or_else(|| err("result is not a number"))?
        }
    };
    *cur = res.clone();
    Ok(res)
}

fn num_cmd(t: &mut Txn, argv: &[Vec<u8>], mult: bool) -> CmdResult {
    let key = &argv[1];
    let p = JPath::arg(&argv[2])?;
    let operand = utf8(&argv[3])?;
    let Some((meta, mut doc)) = records::open(t, key)? else {
        return Err(nonexistent_key());
    };
    let found = locate_if(&doc, &p, is_number)?;
    if p.is_legacy() {
        let paths: Vec<Vec<PathElem>> = found.into_iter().flatten().collect();
        if paths.is_empty() {
            return Err(err_path_or(p.get(), "does not contains a number"));
        }
        let mut last = None;
        for path in &paths {
            last = Some(num_op(&mut doc, path, operand, mult)?);
        }
        records::save(t, key, Some(meta), &doc)?;
        return Ok(bulk(
            last.map(|n| number_text(&n))
                .unwrap_or_default()
                .into_bytes(),
        ));
    }
    let mut out = Vec::with_capacity(found.len());
    let mut changed = false;
    for path in found {
        out.push(match path {
            Some(path) => {
                changed = true;
                Value::Number(num_op(&mut doc, &path, operand, mult)?)
            }
            None => Value::Null,
        });
    }
    if changed {
        records::save(t, key, Some(meta), &doc)?;
    }
    Ok(bulk(write_list(
        &out.iter().collect::<Vec<_>>(),
        &Fmt::default(),
    )?))
}

fn numincrby(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    num_cmd(t, argv, false)
}

fn nummultby(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    num_cmd(t, argv, true)
}

fn toggle(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let p = JPath::arg(&argv[2])?;
    let Some((meta, mut doc)) = records::open(t, key)? else {
        return Err(nonexistent_key());
    };
    let found = locate_if(&doc, &p, Value::is_boolean)?;
    let flip = |doc: &mut Value, path: &[PathElem]| -> Option<bool> {
        match get_mut(doc, path) {
            Some(Value::Bool(b)) => {
                *b = !*b;
                Some(*b)
            }
            _ => None,
        }
    };
    if p.is_legacy() {
        let paths: Vec<Vec<PathElem>> = found.into_iter().flatten().collect();
        if paths.is_empty() {
            return Err(err_path_or(p.get(), "not a bool"));
        }
        let mut last = false;
        for path in &paths {
            last = flip(&mut doc, path).ok_or_else(|| err("ERR Path does not exist"))?;
        }
        records::save(t, key, Some(meta), &doc)?;
        return Ok(bulk(last.to_string().into_bytes()));
    }
    let mut out = Vec::with_capacity(found.len());
    let mut changed = false;
    for path in found {
        out.push(match path.and_then(|path| flip(&mut doc, &path)) {
            Some(b) => {
                changed = true;
                Frame::Integer(b as i64)
            }
            None => Frame::Null,
        });
    }
    if changed {
        records::save(t, key, Some(meta), &doc)?;
    }
    Ok(Frame::Array(out))
}

// ---- strings ------------------------------------------------------------------------------

fn strappend(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let (p, raw) = if argv.len() >= 4 {
        (JPath::arg(&argv[2])?, utf8(&argv[3])?)
    } else {
        let raw = utf8(&argv[2])?;
        (JPath::new(LEGACY_ROOT), raw)
    };
    let Some((meta, mut doc)) = records::open(t, key)? else {
        return Err(nonexistent_key());
    };
    let found = locate_if(&doc, &p, Value::is_string)?;
    // Parsed per location, as RedisJSON does.
    let append = |doc: &mut Value, path: &[PathElem]| -> Result<usize, CmdError> {
        let suffix = match serde_json::from_str::<Value>(raw).map_err(|e| err(e.to_string()))? {
            Value::String(s) => s,
            _ => return Err(err_expected("string", raw)),
        };
        match get_mut(doc, path) {
            Some(Value::String(s)) => {
                s.push_str(&suffix);
                Ok(s.len())
            }
            _ => Err(err("ERR Path does not exist")),
        }
    };
    if p.is_legacy() {
        let paths: Vec<Vec<PathElem>> = found.into_iter().flatten().collect();
        if paths.is_empty() {
            return Err(err_path_or(p.get(), "not a string"));
        }
        let mut last = 0;
        for path in &paths {
            last = append(&mut doc, path)?;
        }
        records::save(t, key, Some(meta), &doc)?;
        return Ok(int(last));
    }
    let mut out = Vec::with_capacity(found.len());
    let mut changed = false;
    for path in found {
        out.push(match path {
            Some(path) => {
                changed = true;
                int(append(&mut doc, &path)?)
            }
            None => Frame::Null,
        });
    }
    if changed {
        records::save(t, key, Some(meta), &doc)?;
    }
    Ok(Frame::Array(out))
}

fn strlen(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let p = opt_path(argv, 2);
    let doc = records::open(t, &argv[1])?;
    if p.is_legacy() {
        let Some((_, doc)) = doc else {
            return Ok(Frame::Null);
        };
        let vals = values(&doc, &p)?;
        return match vals.first() {
            None => Err(err_path(p.get())),
            Some(Value::String(s)) => Ok(int(s.len())),
            Some(v) => Err(err_expected("string", type_name(v))),
        };
    }
    let Some((_, doc)) = doc else {
        return Err(nonexistent_key());
    };
    Ok(Frame::Array(
        values(&doc, &p)?
            .into_iter()
            .map(|v| match v {
                Value::String(s) => int(s.len()),
                _ => Frame::Null,
            })
            .collect(),
    ))
}

// ---- arrays -------------------------------------------------------------------------------

/// The JSON values of argv[from..].
fn parse_values(argv: &[Vec<u8>], from: usize) -> Result<Vec<Value>, CmdError> {
    argv[from..].iter().map(|a| parse_json(a)).collect()
}

fn arrappend(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let p = JPath::arg(&argv[2])?;
    let vals = parse_values(argv, 3)?;
    let Some((meta, mut doc)) = records::open(t, key)? else {
        return Err(nonexistent_key());
    };
    let found = locate_if(&doc, &p, Value::is_array)?;
    let push = |doc: &mut Value, path: &[PathElem]| -> Option<usize> {
        match get_mut(doc, path) {
            Some(Value::Array(a)) => {
                a.extend(vals.iter().cloned());
                Some(a.len())
            }
            _ => None,
        }
    };
    if p.is_legacy() {
        let paths: Vec<Vec<PathElem>> = found.into_iter().flatten().collect();
        if paths.is_empty() {
            return Err(err_path_or(p.original, "not an array"));
        }
        let mut last = 0;
        for path in &paths {
            last = push(&mut doc, path).ok_or_else(|| err("ERR Path does not exist"))?;
        }
        records::save(t, key, Some(meta), &doc)?;
        return Ok(int(last));
    }
    let mut out = Vec::with_capacity(found.len());
    let mut changed = false;
    for path in found {
        out.push(match path.and_then(|path| push(&mut doc, &path)) {
            Some(n) => {
                changed = true;
                int(n)
            }
            None => Frame::Null,
        });
    }
    if changed {
        records::save(t, key, Some(meta), &doc)?;
    }
    Ok(Frame::Array(out))
}

/// RedisJSON's normalize_arr_start_index.
fn norm_start(start: i64, len: i64) -> i64 {
    if start < 0 {
        len.saturating_add(start).max(0)
    } else {
        start.min(len - 1)
    }
}

/// The first index of `v` in `arr` within `[start, end)` (end 0 = the whole array),
/// -1 if absent, None if `arr` is not an array.
fn first_index(arr: &Value, v: &Value, start: i64, end: i64) -> Option<i64> {
    let Value::Array(a) = arr else {
        return None;
    };
    let len = a.len() as i64;
    if len == 0 {
        return Some(-1);
    }
    let start = norm_start(start, len);
    let end = match end {
        0 => len,
        e if e < 0 => len.saturating_add(e).max(0),
        e => e.min(len),
    };
    if end < start {
        return Some(-1);
    }
    Some(
        (start..end)
            .find(|&i| strict_eq(&a[i as usize], v))
            .unwrap_or(-1),
    )
}

fn arrindex(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let p = JPath::arg(&argv[2])?;
    let raw = utf8(&argv[3])?;
    let start = argv.get(4).map_or(Ok(0), |a| parse_integer(a))?;
    let end = argv.get(5).map_or(Ok(0), |a| parse_integer(a))?;
    if argv.len() > 6 {
        return Err(arity(argv));
    }
    // RedisJSON parses the value before it looks at the key's type.
    let v: Value = serde_json::from_str(raw).map_err(|e| err(e.to_string()))?;
    let doc = records::open(t, &argv[1])?;
    let Some((_, doc)) = doc else {
        return Err(err_path(p.original));
    };
    let vals = values(&doc, &p)?;
    if p.is_legacy() {
        let first = vals.first().ok_or_else(|| err_path(p.get()))?;
        return match first_index(first, &v, start, end) {
            Some(i) => Ok(Frame::Integer(i)),
            None => Err(err_expected("array", type_name(first))),
        };
    }
    Ok(Frame::Array(
        vals.into_iter()
            .map(|a| first_index(a, &v, start, end).map_or(Frame::Null, Frame::Integer))
            .collect(),
    ))
}

/// Applies `f` (which returns the array's new length) to every array the path matched,
/// in mutation order, and saves the document: ARRINSERT and ARRTRIM. A legacy path
/// answers the last length (or the not-an-array error when nothing matched); a JSONPath
/// answers one length per match, nil where the match is not an array.
fn mutate_arrays(
    t: &mut Txn,
    key: &[u8],
    meta: Meta,
    mut doc: Value,
    p: &JPath,
    found: Vec<Option<Vec<PathElem>>>,
    f: impl Fn(&mut Value, &[PathElem]) -> Result<usize, CmdError>,
) -> CmdResult {
    if p.is_legacy() {
        let mut paths: Vec<Vec<PathElem>> = found.into_iter().flatten().collect();
        if paths.is_empty() {
            return Err(err_path_or(p.get(), "not an array"));
        }
        paths.sort_by(|a, b| mutation_order(a, b));
        let mut last = 0;
        for path in &paths {
            last = f(&mut doc, path)?;
        }
        records::save(t, key, Some(meta), &doc)?;
        return Ok(int(last));
    }
    let mut out = vec![Frame::Null; found.len()];
    let todo = indexed_for_mutation(found);
    for (slot, path) in &todo {
        out[*slot] = int(f(&mut doc, path)?);
    }
    if !todo.is_empty() {
        records::save(t, key, Some(meta), &doc)?;
    }
    Ok(Frame::Array(out))
}

fn arrinsert(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let p = JPath::arg(&argv[2])?;
    let index = parse_integer(&argv[3])?;
    let vals = parse_values(argv, 4)?;
    let Some((meta, doc)) = records::open(t, key)? else {
        return Err(nonexistent_key());
    };
    let found = locate_if(&doc, &p, Value::is_array)?;
    let insert = |doc: &mut Value, path: &[PathElem]| -> Result<usize, CmdError> {
        let Some(Value::Array(a)) = get_mut(doc, path) else {
            return Err(err("ERR Path does not exist"));
        };
        let len = a.len() as i64;
        let at = if index < 0 {
            len.saturating_add(index)
        } else {
            index
        };
        if !(0..=len).contains(&at) {
            return Err(err("ERR index out of bounds"));
        }
        let at = at as usize;
        a.splice(at..at, vals.iter().cloned());
        Ok(a.len())
    };
    mutate_arrays(t, key, meta, doc, &p, found, insert)
}

fn arrlen(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let p = opt_path(argv, 2);
    let Some((_, doc)) = records::open(t, &argv[1])? else {
        return if p.is_legacy() {
            Ok(Frame::Null)
        } else {
            Err(nonexistent_key())
        };
    };
    let vals = values(&doc, &p)?;
    if p.is_legacy() {
        return match vals.first() {
            None => Err(err_path(p.original)),
            Some(Value::Array(a)) => Ok(int(a.len())),
            Some(_) => Err(err_path_or(p.original, "not an array")),
        };
    }
    Ok(Frame::Array(
        vals.into_iter()
            .map(|v| match v {
                Value::Array(a) => int(a.len()),
                _ => Frame::Null,
            })
            .collect(),
    ))
}

fn arrpop(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let mut rest = &argv[2..];
    if let Some(first) = rest.first() {
        if utf8(first)?.eq_ignore_ascii_case("FORMAT") && rest.len() > 1 {
            let f = utf8(&rest[1])?;
            if f == "STRING" || !matches!(f, "STRINGS" | "EXPAND1" | "EXPAND") {
                return Err(err("ERR wrong reply format"));
            }
            return Err(err("ERR FORMAT argument is not supported on RESP2"));
        }
    }
    let (p, index) = match rest.first() {
        None => (JPath::new(LEGACY_ROOT), i64::MAX),
        Some(a) => {
            let p = JPath::arg(a)?;
            rest = &rest[1..];
            // A missing or unparsable index is -1 (RedisJSON).
            let index = rest
                .first()
                .and_then(|a| crate::args::parse_i64_opt(a))
                .unwrap_or(-1);
            (p, index)
        }
    };
    let Some((meta, mut doc)) = records::open(t, key)? else {
        return Err(nonexistent_key());
    };
    let found = locate_if(&doc, &p, Value::is_array)?;
    let pop = |doc: &mut Value, path: &[PathElem]| -> Result<Frame, CmdError> {
        Ok(match get_mut(doc, path) {
            Some(Value::Array(a)) if !a.is_empty() => {
                let at = norm_start(index, a.len() as i64) as usize;
                bulk(to_json(&a.remove(at))?)
            }
            _ => Frame::Null,
        })
    };
    if p.is_legacy() {
        let mut paths: Vec<Vec<PathElem>> = found.into_iter().flatten().collect();
        if paths.is_empty() {
            return Err(err_path_or(p.get(), "not an array"));
        }
        paths.sort_by(|a, b| mutation_order(a, b));
        let mut last = Frame::Null;
        let mut changed = false;
        for path in &paths {
            last = pop(&mut doc, path)?;
            changed |= last != Frame::Null;
        }
        if changed {
            records::save(t, key, Some(meta), &doc)?;
        }
        return Ok(last);
    }
    let mut out = vec![Frame::Null; found.len()];
    let mut changed = false;
    for (slot, path) in indexed_for_mutation(found) {
        out[slot] = pop(&mut doc, &path)?;
        changed |= out[slot] != Frame::Null;
    }
    if changed {
        records::save(t, key, Some(meta), &doc)?;
    }
    Ok(Frame::Array(out))
}

/// RedisJSON's ArrayIndex::normalize.
fn norm_index(i: i64, len: i64) -> i64 {
    if i < 0 {
        len - len.min(i.saturating_neg())
    } else if len > 0 {
        (len - 1).min(i)
    } else {
        0
    }
}

fn arrtrim(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let key = &argv[1];
    let p = JPath::arg(&argv[2])?;
    let start = parse_integer(&argv[3])?;
    let stop = parse_integer(&argv[4])?;
    let Some((meta, doc)) = records::open(t, key)? else {
        return Err(nonexistent_key());
    };
    let found = locate_if(&doc, &p, Value::is_array)?;
    let trim = |doc: &mut Value, path: &[PathElem]| -> Result<usize, CmdError> {
        let Some(Value::Array(a)) = get_mut(doc, path) else {
            return Err(err("ERR Path does not exist"));
        };
        let len = a.len() as i64;
        let stop = norm_index(stop, len);
        let start = if start < 0 || start < len {
            norm_index(start, len)
        } else {
            stop + 1
        };
        if start > stop || len == 0 {
            a.clear();
        } else {
            a.truncate(stop as usize + 1);
            a.drain(..start as usize);
        }
        Ok(a.len())
    };
    mutate_arrays(t, key, meta, doc, &p, found, trim)
}

// ---- objects ------------------------------------------------------------------------------

fn key_list(o: &serde_json::Map<String, Value>) -> Frame {
    Frame::Array(o.keys().map(|k| bulk(k.as_bytes().to_vec())).collect())
}

fn objkeys(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let p = opt_path(argv, 2);
    let doc = records::open(t, &argv[1])?;
    if p.is_legacy() {
        let Some((_, doc)) = doc else {
            return Ok(Frame::Null);
        };
        return match values(&doc, &p).ok().and_then(|v| v.first().copied()) {
            None => Ok(Frame::Null),
            Some(Value::Object(o)) => Ok(key_list(o)),
            Some(_) => Err(err_path_or(p.get(), "not an object")),
        };
    }
    let Some((_, doc)) = doc else {
        return Err(nonexistent_key());
    };
    Ok(Frame::Array(
        values(&doc, &p)?
            .into_iter()
            .map(|v| match v {
                Value::Object(o) => key_list(o),
                _ => Frame::Null,
            })
            .collect(),
    ))
}

fn objlen(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let p = opt_path(argv, 2);
    let doc = records::open(t, &argv[1])?;
    if p.is_legacy() {
        let Some((_, doc)) = doc else {
            return Ok(Frame::Null);
        };
        return match values(&doc, &p).ok().and_then(|v| v.first().copied()) {
            None => Ok(Frame::Null),
            Some(Value::Object(o)) => Ok(int(o.len())),
            Some(v) => Err(err_expected("object", type_name(v))),
        };
    }
    let Some((_, doc)) = doc else {
        return Err(err_path_or(p.get(), "not an object"));
    };
    Ok(Frame::Array(
        values(&doc, &p)?
            .into_iter()
            .map(|v| match v {
                Value::Object(o) => int(o.len()),
                _ => Frame::Null,
            })
            .collect(),
    ))
}

// ---- JSON.DEBUG ---------------------------------------------------------------------------

/// RedisJSON 2.8's memory estimate of a value, for exactly-sized containers.
fn memory(v: &Value) -> usize {
    const WORD: usize = std::mem::size_of::<usize>();
    WORD + match v {
        Value::Null | Value::Bool(_) => 0,
        Value::Number(n) => match n.as_i64() {
            _ if n.is_f64() => 16,
            Some(i) if (-128..=383).contains(&i) => 0,
            Some(i) if i > -8_388_608 && i <= 8_388_607 => 4,
            _ => 16,
        },
        Value::String(s) => s.len(),
        Value::Array(a) if a.is_empty() => 0,
        Value::Array(a) => WORD * (a.len() + 2) + a.iter().map(memory).sum::<usize>(),
        Value::Object(o) if o.is_empty() => 0,
        Value::Object(o) => {
            WORD * (3 * o.len() + 2) + o.iter().map(|(k, v)| k.len() + memory(v)).sum::<usize>()
        }
    }
}

fn debug(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let sub = utf8(&argv[1])?.to_ascii_uppercase();
    match sub.as_str() {
        "MEMORY" => {
            let key = argv.get(2).ok_or_else(|| arity(argv))?;
            let p = opt_path(argv, 3);
            let doc = records::open(t, key)?;
            if p.is_legacy() {
                return Ok(match doc {
                    None => Frame::Integer(0),
                    Some((_, doc)) => {
                        let vals = values(&doc, &p)?;
                        int(memory(vals.first().ok_or_else(|| err_path(p.get()))?))
                    }
                });
            }
            Ok(Frame::Array(match doc {
                None => Vec::new(),
                Some((_, doc)) => values(&doc, &p)?
                    .into_iter()
                    .map(|v| int(memory(v)))
                    .collect(),
            }))
        }
        "HELP" => Ok(Frame::Array(vec![
            bulk(b"MEMORY <key> [path] - reports memory usage".to_vec()),
            bulk(b"HELP                - this message".to_vec()),
        ])),
        _ => Err(err("ERR unknown subcommand - try `JSON.DEBUG HELP`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn legacy_paths_translate_like_redisjson() {
        for (given, fixed, legacy) in [
            (".", "$", true),
            ("$", "$", false),
            (".a", "$.a", true),
            ("a", "$.a", true),
            ("a[0]", "$.a[0]", true),
            ("[0]", "$.[0]", true),
            ("$a", "$.$a", true),
            ("$.a", "$.a", false),
            ("$[0]", "$[0]", false),
            ("..a", "$..a", true),
        ] {
            let p = JPath::new(given);
            assert_eq!(p.get(), fixed, "{given}");
            assert_eq!(p.is_legacy(), legacy, "{given}");
        }
    }

    /// Found by the json_path fuzz target (`JSON.SET k ..a..*..b` on a document nesting
    /// 48 levels, 4324 matches, timed out): the topmost-location filter was quadratic in
    /// the matches, which the evaluation budget lets reach millions.
    /// It must agree with the pairwise definition, and take many matches in stride.
    #[test]
    fn update_filter_is_pairwise_and_not_quadratic() {
        let k = |s: &str| PathElem::Key(s.into());
        let i = PathElem::Index;
        let naive = |mut v: Vec<Vec<PathElem>>| {
            v.sort_by(|a, b| mutation_order(a, b));
            let all = v.clone();
            v.retain(|p| {
                !all.iter()
                    .any(|q| q.len() < p.len() && p[..q.len()] == q[..])
            });
            v
        };
        let cases = vec![
            vec![
                vec![k("a"), i(1)],
                vec![k("a")],
                vec![k("a")],
                vec![k("a"), i(1)],
            ],
            vec![
                vec![k("b")],
                vec![k("a"), k("b")],
                vec![k("a")],
                vec![k("ab")],
                vec![],
            ],
            vec![
                vec![i(0), k("x")],
                vec![k("0")],
                vec![k("0"), k("y")],
                vec![i(0)],
            ],
            vec![
                vec![k("c"), k("d"), k("e")],
                vec![k("c"), k("d")],
                vec![k("c"), k("e")],
            ],
        ];
        for v in cases {
            let mut fast = v.clone();
            prepare_for_update(&mut fast);
            assert_eq!(fast, naive(v.clone()), "{v:?}");
        }
        // The fuzzer's input, end to end: the 48-level chain, and the path whose matches
        // repeat.
        let mut doc = Value::from(1);
        for n in 0..48 {
            doc = if n % 2 == 0 {
                json!({ "a": doc, "b": n })
            } else {
                json!([n, doc])
            };
        }
        let q = path::compile("$..a..*..b").unwrap();
        let mut found: Vec<Vec<PathElem>> = path::select(&q, &doc, true)
            .unwrap()
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert!(found.len() > 4_000, "{}", found.len());
        let want = naive(found.clone());
        prepare_for_update(&mut found);
        assert_eq!(found, want);
        // 200000 locations (the quadratic pass needed minutes).
        let mut many: Vec<Vec<PathElem>> = (0..200_000)
            .map(|n| vec![k("a"), i(n % 1000), i(n / 1000)])
            .collect();
        many.push(vec![k("a"), i(7)]);
        prepare_for_update(&mut many);
        assert_eq!(many.len(), 200_001 - 200);
    }

    #[test]
    fn update_order_drops_nested_paths() {
        let k = |s: &str| PathElem::Key(s.into());
        let i = PathElem::Index;
        let mut v = vec![
            vec![k("a")],
            vec![k("a"), k("a")],
            vec![k("b"), i(0)],
            vec![k("b"), i(2)],
        ];
        prepare_for_update(&mut v);
        assert_eq!(
            v,
            vec![vec![k("a")], vec![k("b"), i(2)], vec![k("b"), i(0)]]
        );
    }

    #[test]
    fn compact_output_is_serde_json() {
        for v in [
            json!({"a": [1, -2, 3.5, 0.25, u64::MAX, null, true], "b\"\n\u{1}é": {"c": []}}),
            json!([]),
            json!({}),
            json!("x\u{7f}\u{1f}/"),
        ] {
            assert_eq!(to_json(&v).unwrap(), serde_json::to_vec(&v).unwrap());
        }
    }

    #[test]
    fn floats_print_like_ryu() {
        for (f, want) in [
            (3.0, "3.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1000.0, "1000.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e16"),
            (1.5e16, "1.5e16"),
            (123.456, "123.456"),
            (0.001, "0.001"),
            (0.0001234, "0.0001234"),
            (0.00001, "0.00001"),
            (0.000001, "1e-6"),
            (1.5e-7, "1.5e-7"),
            (1e300, "1e300"),
            (1.6350000000001313e308, "1.6350000000001313e308"),
            (-2.5, "-2.5"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (9.223372036854776e18, "9.223372036854776e18"),
        ] {
            let n = Number::from_f64(f).unwrap();
            assert_eq!(number_text(&n), want, "{f:e}");
        }
        assert_eq!(number_text(&Number::from(-7)), "-7");
        assert_eq!(number_text(&Number::from(u64::MAX)), u64::MAX.to_string());
    }

    #[test]
    fn formatter_matches_redisjson() {
        let v = json!({"arr": [0, 1], "o": {}});
        let f = Fmt {
            indent: Some("\t"),
            newline: Some("\n"),
            space: Some(" "),
        };
        assert_eq!(
            String::from_utf8(write_value(&v, &f).unwrap()).unwrap(),
            "{\n\t\"arr\": [\n\t\t0,\n\t\t1\n\t],\n\t\"o\": {}\n}"
        );
    }
}
