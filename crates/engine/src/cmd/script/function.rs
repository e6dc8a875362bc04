//! Redis 7 Functions (functions.c, function_lua.c): FUNCTION LOAD / LIST / DELETE /
//! FLUSH / DUMP / RESTORE / STATS / KILL / HELP, FCALL and FCALL_RO.
//!
//! Libraries are replicated state, like the script cache: `sm` holds
//! `function:lib:<library>` → the library's code (the truth) and
//! `function:fn:<function>` → the library registering it (so FCALL finds its library
//! with one read). Both change only inside log entries (FUNCTION is a write command),
//! so every node has the same libraries, in snapshots and after restarts. What a library
//! registers (names, flags, descriptions) is learnt by running its top level, cached per
//! VM by the code's SHA1 (`vm::library_functions`).

use super::vm::{self, FnMeta};
use super::{eval_key_positions, sha1hex, ScriptControl};
use crate::args;
use crate::error::{CmdError, CmdResult};
use crate::settings;
use crate::table::{flags::*, CommandSpec, Exec, KeySpec, NO_KEYS};
use crate::txn::Txn;
use crate::Frame;
use ::keys::sm::{Family, FUNCTIONS_ALL, FUNCTION_FNS as FNS, FUNCTION_LIBS as LIBS};
use ::keys::Cf;
use std::collections::{BTreeMap, BTreeSet};

#[rustfmt::skip]
pub(super) fn commands() -> Vec<CommandSpec> {
    use super::super::spec;
    use Exec::Engine as E;
    let s: &'static [&'static str] = &["scripting"];
    let g = "scripting";
    let ks = KeySpec { first: 0, last: 0, step: 0, find: Some(eval_key_positions) };
    vec![
        spec("fcall", -3, WRITE | NOSCRIPT | MOVABLE_KEYS | RUNS_SCRIPT, ks, s, g, "7.0.0", "Invokes a function.", E(fcall)),
        spec("fcall_ro", -3, READONLY | NOSCRIPT | MOVABLE_KEYS, ks, s, g, "7.0.0", "Invokes a read-only function.", E(fcall_ro)),
        // One row for every subcommand, as SCRIPT: LOAD, DELETE, FLUSH and RESTORE change
        // the replicated libraries, so FUNCTION goes through the log (KILL is answered
        // by the server before).
        spec("function", -2, WRITE | NOSCRIPT | KILLS_FUNCTION, NO_KEYS, s, g, "7.0.0", "A container for function commands.", E(function)),
    ]
}

// ---- flags and names -------------------------------------------------------------------

/// Function flags, in the order FUNCTION LIST shows them.
pub(super) const FLAG_NAMES: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];
const NO_WRITES: u8 = 1;

pub(super) fn flag_bit(name: &[u8]) -> Option<u8> {
    FLAG_NAMES
        .iter()
        .position(|f| f.as_bytes() == name)
        .map(|i| 1 << i)
}

/// Library and function names: letters, digits and underscores, at least one.
pub(super) fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

const BAD_NAME: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// The `#!lua name=<library>` first line (functionExtractLibMetaData): the library's
/// name, and the code to compile with that line blanked (its newline kept, so line
/// numbers stay the user's). The line is split as Redis splits it (sdssplitargs, so
/// quotes work), `name=` is case-insensitive, the name is checked before the engine.
fn parse_library(code: &[u8]) -> Result<(String, &[u8]), CmdError> {
    if !code.starts_with(b"#!") {
        return Err(CmdError::new("ERR Missing library metadata"));
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err(CmdError::new("ERR Invalid library metadata"));
    };
    let parts = match split_args(&code[..end]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err(CmdError::new("ERR Invalid library metadata")),
    };
    let engine = String::from_utf8_lossy(parts[0].get(2..).unwrap_or_default()).into_owned();
    let mut name: Option<Vec<u8>> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(CmdError::new(
                    "ERR Invalid metadata value, name argument was given multiple times",
                ));
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(CmdError::new(format!(
            "ERR Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        )));
    }
    let Some(name) = name else {
        return Err(CmdError::new("ERR Library name was not given"));
    };
    if !valid_name(&name) {
        return Err(CmdError::new(BAD_NAME));
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(CmdError::new(format!("ERR Engine '{engine}' not found")));
    }
    Ok((String::from_utf8_lossy(&name).into_owned(), &code[end..]))
}

/// Redis's sdssplitargs: words separated by white space, "double quotes" with \xHH and
/// \n-style escapes, 'single quotes' with \' only; a closing quote must end its word.
/// `None` for unbalanced quotes.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let space = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c);
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = line.get(i).copied();
            if inq {
                let c = c?;
                if c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' {
                    let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok();
                    if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        cur.push(v);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < line.len() {
                    cur.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        o => o,
                    });
                    i += 2;
                    continue;
                }
                if c == b'"' {
                    if line.get(i + 1).is_some_and(|&n| !space(n)) {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else if insq {
                let c = c?;
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    if line.get(i + 1).is_some_and(|&n| !space(n)) {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else {
                match c {
                    None => break,
                    Some(c) if space(c) || c == 0 => break,
                    Some(b'"') => inq = true,
                    Some(b'\'') => insq = true,
                    Some(c) => cur.push(c),
                }
                i += 1;
            }
        }
        out.push(cur);
    }
}

// ---- the replicated libraries ---------------------------------------------------------

// Libraries are `sm` records `function:lib:<name>` → code, and every function they
// register has an index record `function:fn:<name>` → library name (`keys::sm`).

fn key(family: Family, name: &str) -> Vec<u8> {
    family.key(name.as_bytes())
}

/// A function's index record: function names are case-insensitive (as Redis's function
/// dictionary), so it is kept under the lower-cased name.
fn fn_key(name: &str) -> Vec<u8> {
    key(FNS, &name.to_ascii_lowercase())
}

/// The library registering function `name` (any case; records written before names
/// were lower-cased are found under their exact name).
fn owner_of(t: &Txn, name: &str) -> Result<Option<Vec<u8>>, CmdError> {
    if let Some(lib) = t.raw_get(Cf::Sm, &fn_key(name))? {
        return Ok(Some(lib));
    }
    Ok(t.raw_get(Cf::Sm, &key(FNS, name))?)
}

/// Every (name → value) of a family, in name order.
fn scan(t: &Txn, family: Family) -> Result<Vec<(String, Vec<u8>)>, CmdError> {
    let mut out = Vec::new();
    t.raw_scan(Cf::Sm, family.start(), family.end(), &mut |k, v| {
        if let Some(name) = family.name(k) {
            out.push((String::from_utf8_lossy(name).into_owned(), v.to_vec()));
        }
        true
    })?;
    Ok(out)
}

fn libraries(t: &Txn) -> Result<Vec<(String, Vec<u8>)>, CmdError> {
    scan(t, LIBS)
}

/// Function name → the library registering it.
fn function_owners(t: &Txn) -> Result<BTreeMap<String, String>, CmdError> {
    Ok(scan(t, FNS)?
        .into_iter()
        .map(|(f, lib)| (f, String::from_utf8_lossy(&lib).into_owned()))
        .collect())
}

fn budget(t: &Txn) -> Result<(u64, u64), CmdError> {
    Ok((
        settings::SCRIPT_MAX_INSTRUCTIONS.get(t)?,
        settings::SCRIPT_MAX_MEMORY.get(t)?,
    ))
}

/// A library as it is stored: its name, its code and what it registers.
struct Library {
    name: String,
    code: Vec<u8>,
    fns: std::sync::Arc<Vec<FnMeta>>,
}

/// Compiles a library's code (`ERR Error compiling function`, `ERR Error registering
/// functions`, `ERR No functions registered`).
fn compile(t: &Txn, code: &[u8]) -> Result<Library, CmdError> {
    let (name, body) = parse_library(code)?;
    let (max_i, max_m) = budget(t)?;
    let fns = vm::library_functions(&sha1hex(code), body, max_i, max_m)?;
    Ok(Library {
        name,
        code: code.to_vec(),
        fns,
    })
}

fn write_guard(t: &Txn, what: &str) -> Result<(), CmdError> {
    if t.is_read_only() {
        return Err(CmdError::new(format!(
            "ERR FUNCTION {what} cannot run on the read path"
        )));
    }
    Ok(())
}

/// Removes a library and its functions' index records.
fn remove(t: &mut Txn, name: &str, owners: &BTreeMap<String, String>) {
    t.raw_delete(Cf::Sm, key(LIBS, name));
    for (f, lib) in owners {
        if lib == name {
            t.raw_delete(Cf::Sm, key(FNS, f));
        }
    }
}

fn install(t: &mut Txn, lib: &Library) {
    t.raw_put(Cf::Sm, key(LIBS, &lib.name), lib.code.clone());
    for f in lib.fns.iter() {
        t.raw_put(Cf::Sm, fn_key(&f.name), lib.name.as_bytes().to_vec());
    }
}

// ---- FCALL -----------------------------------------------------------------------------

fn fcall(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    fcall_generic(t, argv, false)
}

fn fcall_ro(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    fcall_generic(t, argv, true)
}

fn not_found() -> CmdError {
    CmdError::new("ERR Function not found")
}

/// fcallCommandGeneric: the function, numkeys, the flags, then the run.
fn fcall_generic(t: &mut Txn, argv: &[Vec<u8>], ro_cmd: bool) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[1]).into_owned();
    let lib = match owner_of(t, &name)? {
        Some(lib) if valid_name(&argv[1]) => String::from_utf8_lossy(&lib).into_owned(),
        _ => return Err(not_found()),
    };
    let Some(numkeys) = args::parse_i64_opt(&argv[2]) else {
        return Err(CmdError::new("ERR Bad number of keys provided"));
    };
    if numkeys > argv.len() as i64 - 3 {
        return Err(CmdError::new(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::new("ERR Number of keys can't be negative"));
    }
    let numkeys = numkeys as usize;
    let code = t.raw_get(Cf::Sm, &key(LIBS, &lib))?.ok_or_else(not_found)?;
    let (_, body) = parse_library(&code)?;
    let lib_sha = sha1hex(&code);
    let (max_instructions, max_memory) = budget(t)?;
    let fns = vm::library_functions(&lib_sha, body, max_instructions, max_memory)?;
    let meta = fns
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(&name))
        .ok_or_else(not_found)?;
    let name = meta.name.clone();
    let no_writes = meta.flags & NO_WRITES != 0;
    if ro_cmd && !no_writes {
        return Err(CmdError::new(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    // As EVAL: a function stopped by its budget (or killed where that is allowed)
    // leaves nothing behind, identically on every node; an ordinary error keeps what
    // the function wrote before it, as in Redis.
    let before = t.savepoint();
    let reply = vm::run_function(
        t,
        vm::FnRun {
            lib_sha: &lib_sha,
            code: body,
            name: &name,
            argv,
            keys: &argv[3..3 + numkeys],
            args: &argv[3 + numkeys..],
            read_only: ro_cmd || no_writes || t.is_read_only(),
            max_instructions,
            max_memory,
        },
    );
    if let Ok(Frame::Error(e)) = &reply {
        if ScriptControl::stopped_by_limit_or_kill(e) {
            t.rollback(before);
        }
    }
    reply
}

/// Whether function `name` was registered with `no-writes`; `None` when there is no
/// such function (CLIENT PAUSE WRITE lets no-writes functions run, as Redis).
pub(super) fn no_writes(t: &Txn, name: &[u8]) -> Option<bool> {
    if !valid_name(name) {
        return None;
    }
    let name = String::from_utf8_lossy(name).into_owned();
    let lib = owner_of(t, &name).ok()??;
    let code = t
        .raw_get(Cf::Sm, &key(LIBS, &String::from_utf8_lossy(&lib)))
        .ok()??;
    let (_, body) = parse_library(&code).ok()?;
    let (max_instructions, max_memory) = budget(t).ok()?;
    let fns = vm::library_functions(&sha1hex(&code), body, max_instructions, max_memory).ok()?;
    let meta = fns.iter().find(|f| f.name.eq_ignore_ascii_case(&name))?;
    Some(meta.flags & NO_WRITES != 0)
}

// ---- FUNCTION --------------------------------------------------------------------------

fn syntax_error(sub: &str) -> CmdError {
    CmdError::new(format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
    ))
}

fn function(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let sub = args::upper(&argv[1]);
    // Subcommand arities, as Redis 7's subcommand table has them.
    let arity: i32 = match sub.as_str() {
        "LOAD" => -3,
        "LIST" => -2,
        "DELETE" => 3,
        "FLUSH" => -2,
        "DUMP" => 2,
        "RESTORE" => -3,
        "STATS" => 2,
        "KILL" => 2,
        "HELP" => 2,
        _ => return Err(CmdError::unknown_subcommand(&argv[1], "function")),
    };
    args::check_subcommand_arity("function", &sub, arity, argv)?;
    match sub.as_str() {
        "LOAD" => load(t, argv),
        "LIST" => list(t, argv),
        "DELETE" => {
            write_guard(t, "DELETE")?;
            let name = String::from_utf8_lossy(&argv[2]).into_owned();
            if !valid_name(&argv[2]) || t.raw_get(Cf::Sm, &key(LIBS, &name))?.is_none() {
                return Err(CmdError::new("ERR Library not found"));
            }
            let owners = function_owners(t)?;
            remove(t, &name, &owners);
            Ok(Frame::ok())
        }
        "FLUSH" => {
            if argv.len() > 3 {
                return Err(syntax_error("flush"));
            }
            if argv.len() == 3 && !args::is(&argv[2], "sync") && !args::is(&argv[2], "async") {
                return Err(CmdError::new(
                    "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
                ));
            }
            write_guard(t, "FLUSH")?;
            t.raw_delete_range(
                Cf::Sm,
                FUNCTIONS_ALL.start().to_vec(),
                FUNCTIONS_ALL.end().to_vec(),
            );
            Ok(Frame::ok())
        }
        "DUMP" => {
            let libs = libraries(t)?;
            Ok(Frame::Bulk(dump_payload(
                libs.iter().map(|(_, c)| c.as_slice()),
            )))
        }
        "RESTORE" => restore(t, argv),
        "STATS" => stats(t),
        "KILL" => Err(CmdError::new(
            "ERR FUNCTION KILL must be handled by the server",
        )),
        _ => Ok(Frame::Array(
            HELP.iter().map(|l| Frame::Simple(l.to_string())).collect(),
        )),
    }
}

/// FUNCTION LOAD [REPLACE] code.
fn load(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let mut replace = false;
    for a in &argv[2..argv.len() - 1] {
        if args::is(a, "replace") {
            replace = true;
        } else {
            return Err(CmdError::new(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    let code = &argv[argv.len() - 1];
    let (name, _) = parse_library(code)?;
    let exists = t.raw_get(Cf::Sm, &key(LIBS, &name))?.is_some();
    if exists && !replace {
        return Err(CmdError::new(format!(
            "ERR Library '{name}' already exists"
        )));
    }
    let lib = compile(t, code)?;
    write_guard(t, "LOAD")?;
    let owners = function_owners(t)?;
    for f in lib.fns.iter() {
        if owners
            .get(&f.name.to_ascii_lowercase())
            .or_else(|| owners.get(&f.name))
            .is_some_and(|owner| *owner != name)
        {
            return Err(CmdError::new(format!(
                "ERR Function {} already exists",
                f.name
            )));
        }
    }
    if exists {
        remove(t, &name, &owners);
    }
    install(t, &lib);
    Ok(Frame::Bulk(name.into_bytes()))
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
fn list(t: &Txn, argv: &[Vec<u8>]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if args::is(a, "withcode") && !with_code {
            with_code = true;
        } else if args::is(a, "libraryname") && pattern.is_none() {
            let Some(p) = argv.get(i + 1) else {
                return Err(CmdError::new("ERR library name argument was not given"));
            };
            pattern = Some(p);
            i += 1;
        } else {
            return Err(CmdError::new(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
        i += 1;
    }
    let bulk = |s: &str| Frame::Bulk(s.as_bytes().to_vec());
    let mut out = Vec::new();
    for (name, code) in libraries(t)? {
        if let Some(p) = pattern {
            if !crate::glob_match(p, name.as_bytes(), true) {
                continue;
            }
        }
        let lib = compile(t, &code)?;
        let fns = lib
            .fns
            .iter()
            .map(|f| {
                let flags = FLAG_NAMES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| f.flags & (1 << i) != 0)
                    .map(|(_, n)| Frame::Simple(n.to_string()))
                    .collect();
                Frame::Map(vec![
                    (bulk("name"), bulk(&f.name)),
                    (
                        bulk("description"),
                        f.description.clone().map_or(Frame::Null, Frame::Bulk),
                    ),
                    (bulk("flags"), Frame::Set(flags)),
                ])
            })
            .collect();
        let mut entry = vec![
            (bulk("library_name"), bulk(&name)),
            (bulk("engine"), bulk("LUA")),
            (bulk("functions"), Frame::Array(fns)),
        ];
        if with_code {
            entry.push((bulk("library_code"), Frame::Bulk(code)));
        }
        out.push(Frame::Map(entry));
    }
    Ok(Frame::Array(out))
}

/// FUNCTION STATS: the function running on this node, if any, and the libraries.
fn stats(t: &Txn) -> CmdResult {
    let bulk = |s: &str| Frame::Bulk(s.as_bytes().to_vec());
    let running = match ScriptControl::running_function() {
        Some((name, argv, ms)) => Frame::Map(vec![
            (bulk("name"), bulk(&name)),
            (
                bulk("command"),
                Frame::Array(argv.into_iter().map(Frame::Bulk).collect()),
            ),
            (bulk("duration_ms"), Frame::Integer(ms as i64)),
        ]),
        None => Frame::Null,
    };
    let libs = libraries(t)?.len() as i64;
    let fns = function_owners(t)?.len() as i64;
    Ok(Frame::Map(vec![
        (bulk("running_script"), running),
        (
            bulk("engines"),
            Frame::Map(vec![(
                bulk("LUA"),
                Frame::Map(vec![
                    (bulk("libraries_count"), Frame::Integer(libs)),
                    (bulk("functions_count"), Frame::Integer(fns)),
                ]),
            )]),
        ),
    ]))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all or nothing.
fn restore(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    if argv.len() > 4 {
        return Err(syntax_error("restore"));
    }
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy =
        match argv.get(3) {
            None => Policy::Append,
            Some(p) if args::is(p, "flush") => Policy::Flush,
            Some(p) if args::is(p, "append") => Policy::Append,
            Some(p) if args::is(p, "replace") => Policy::Replace,
            Some(_) => return Err(CmdError::new(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let codes = parse_payload(&argv[2])?;
    let mut incoming = Vec::with_capacity(codes.len());
    for code in &codes {
        incoming.push(compile(t, code)?);
    }
    write_guard(t, "RESTORE")?;
    let existing: BTreeSet<String> = libraries(t)?.into_iter().map(|(n, _)| n).collect();
    let owners = function_owners(t)?;
    let replaced: BTreeSet<&str> = incoming.iter().map(|l| l.name.as_str()).collect();
    let mut seen_libs = BTreeSet::new();
    let mut seen_fns = BTreeSet::new();
    for lib in &incoming {
        if !seen_libs.insert(lib.name.as_str())
            || (policy == Policy::Append && existing.contains(&lib.name))
        {
            return Err(CmdError::new(format!(
                "ERR Library {} already exists",
                lib.name
            )));
        }
        for f in lib.fns.iter() {
            let clash_existing = policy != Policy::Flush
                && owners
                    .get(&f.name.to_ascii_lowercase())
                    .or_else(|| owners.get(&f.name))
                    .is_some_and(|owner| !replaced.contains(owner.as_str()));
            if !seen_fns.insert(f.name.to_ascii_lowercase()) || clash_existing {
                return Err(CmdError::new(format!(
                    "ERR Function {} already exists",
                    f.name
                )));
            }
        }
    }
    if policy == Policy::Flush {
        t.raw_delete_range(
            Cf::Sm,
            FUNCTIONS_ALL.start().to_vec(),
            FUNCTIONS_ALL.end().to_vec(),
        );
    } else {
        for lib in &incoming {
            if existing.contains(&lib.name) {
                remove(t, &lib.name, &owners);
            }
        }
    }
    for lib in &incoming {
        install(t, lib);
    }
    Ok(Frame::ok())
}

const HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

// ---- the DUMP payload ------------------------------------------------------------------
//
// Redis's format, so payloads move between Redis and Meridian: per library the RDB
// opcode FUNCTION2 (245) and the code as an RDB string, then the RDB version (2 bytes,
// little-endian) and a CRC64 (Jones, reflected) of everything before it (8 bytes, LE).

const OPCODE_FUNCTION2: u8 = 245;
/// What Redis 7.0 writes (it refuses newer versions); up to 7.2's is accepted.
const RDB_VERSION: u16 = 10;
const RDB_VERSION_MAX: u16 = 11;

fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut crc = 0u64;
    for &b in data {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if let Ok(l) = u32::try_from(len) {
        out.push(0x80);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

pub(super) fn dump_payload<'a>(codes: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        push_len(&mut out, code.len());
        out.extend_from_slice(code);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn bad_payload() -> CmdError {
    CmdError::new("ERR DUMP payload version or checksum are wrong")
}

fn corrupt() -> CmdError {
    CmdError::new("ERR payload is corrupted")
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, CmdError> {
        let b = *self.data.get(self.pos).ok_or_else(corrupt)?;
        self.pos += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], CmdError> {
        let end = self.pos.checked_add(n).ok_or_else(corrupt)?;
        let s = self.data.get(self.pos..end).ok_or_else(corrupt)?;
        self.pos = end;
        Ok(s)
    }

    /// An RDB length; Err(encoding) for a specially encoded string.
    fn len(&mut self) -> Result<Result<usize, u8>, CmdError> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Ok(usize::from(b & 0x3f)),
            1 => Ok((usize::from(b & 0x3f) << 8) | usize::from(self.byte()?)),
            2 if b == 0x80 => {
                let v = self.bytes(4)?;
                Ok(u32::from_be_bytes([v[0], v[1], v[2], v[3]]) as usize)
            }
            2 if b == 0x81 => {
                let v = self.bytes(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(v);
                Ok(usize::try_from(u64::from_be_bytes(a)).map_err(|_| corrupt())?)
            }
            2 => return Err(corrupt()),
            _ => Err(b & 0x3f),
        })
    }

    fn plain_len(&mut self) -> Result<usize, CmdError> {
        self.len()?.map_err(|_| corrupt())
    }

    /// An RDB string: raw, an integer, or LZF-compressed.
    fn string(&mut self) -> Result<Vec<u8>, CmdError> {
        match self.len()? {
            Ok(n) => Ok(self.bytes(n)?.to_vec()),
            Err(0) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Err(1) => {
                let v = self.bytes(2)?;
                Ok(i16::from_le_bytes([v[0], v[1]]).to_string().into_bytes())
            }
            Err(2) => {
                let v = self.bytes(4)?;
                Ok(i32::from_le_bytes([v[0], v[1], v[2], v[3]])
                    .to_string()
                    .into_bytes())
            }
            Err(3) => {
                let clen = self.plain_len()?;
                let len = self.plain_len()?;
                lzf_decompress(self.bytes(clen)?, len)
            }
            Err(_) => Err(corrupt()),
        }
    }
}

/// LZF (liblzf's format), as RDB compresses strings.
fn lzf_decompress(input: &[u8], len: usize) -> Result<Vec<u8>, CmdError> {
    let mut out: Vec<u8> = Vec::with_capacity(len.min(input.len().saturating_mul(64)));
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = input.get(i..i + ctrl + 1).ok_or_else(corrupt)?;
            out.extend_from_slice(run);
            i += ctrl + 1;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i).ok_or_else(corrupt)?);
                i += 1;
            }
            let low = usize::from(*input.get(i).ok_or_else(corrupt)?);
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            let start = out.len().checked_sub(back).ok_or_else(corrupt)?;
            for k in 0..n + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return Err(corrupt());
        }
    }
    if out.len() != len {
        return Err(corrupt());
    }
    Ok(out)
}

/// The libraries' codes in a DUMP payload (checked: version, checksum, format).
pub(super) fn parse_payload(p: &[u8]) -> Result<Vec<Vec<u8>>, CmdError> {
    if p.len() < 10 {
        return Err(bad_payload());
    }
    let (body, footer) = p.split_at(p.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if version > RDB_VERSION_MAX || crc64(&p[..p.len() - 8]) != u64::from_le_bytes(crc) {
        return Err(bad_payload());
    }
    let mut r = Reader { data: body, pos: 0 };
    let mut out = Vec::new();
    while r.pos < body.len() {
        if r.byte()? != OPCODE_FUNCTION2 {
            return Err(CmdError::new("ERR given type is not a function"));
        }
        out.push(r.string()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis() {
        // crc64.c's test vector.
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn an_empty_dump_is_redis_s() {
        // FUNCTION DUMP of an empty redis-server 7.0.
        assert_eq!(
            dump_payload(std::iter::empty()),
            b"\x0a\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda".to_vec()
        );
    }

    #[test]
    fn library_metadata() {
        assert_eq!(parse_library(b"#!lua name=x\nreturn").unwrap().0, "x");
        assert_eq!(
            parse_library(b"#!lua name=x\nreturn").unwrap().1,
            b"\nreturn"
        );
        assert_eq!(parse_library(b"#!LUA  name=x1\n").unwrap().0, "x1");
        let err = |c: &[u8]| parse_library(c).err().unwrap().0;
        assert_eq!(err(b"return 1"), "ERR Missing library metadata");
        assert_eq!(err(b"#!lua name=x"), "ERR Invalid library metadata");
        assert_eq!(err(b"#!lua\n"), "ERR Library name was not given");
        assert_eq!(err(b"#!python name=z\n"), "ERR Engine 'python' not found");
        assert_eq!(
            err(b"#!lua name=z foo=bar\n"),
            "ERR Invalid metadata value given: foo=bar"
        );
        assert_eq!(
            err(b"#!lua name=a name=b\n"),
            "ERR Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(err(b"#!lua name=a-b\n"), BAD_NAME);
        assert_eq!(err(b"#!lua name=\n"), BAD_NAME);
    }
}
