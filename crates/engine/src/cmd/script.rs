//! Lua scripting (eval.c, script.c, script_lua.c): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and
//! SCRIPT, with Redis 7.2's semantics.
//!
//! A script is one command, so on the write path it is one log entry: every replica runs
//! the same script on the same state with the same time and seed and makes the same
//! writes. Whatever a script can observe therefore has to be a function of the entry:
//! time comes from `Txn::now_ms` (through the commands it calls), `math.random` is seeded
//! from `Txn::rng` at the start of every run, and nothing a script does survives it (the
//! library tables are read-only and each run gets fresh globals) — so a VM that ran
//! other scripts before, or a fresh one after a restart, behaves the same.
//!
//! The script cache is part of the replicated state: EVAL and SCRIPT LOAD store the body
//! in the `sm` column family under `script:<sha1>`, so EVALSHA works on every node and
//! after a failover. Compiled functions are cached per thread in a long-lived VM (see
//! `vm`), keyed by sha; the stored body stays the truth (EVALSHA checks it first).

mod api;
mod bit;
mod cjson;
mod cmsgpack;
mod ffi;
mod function;
mod num;
mod structlib;
mod vm;

use super::spec;
use crate::args;
use crate::error::{CmdError, CmdResult};
use crate::settings;
use crate::table::{flags::*, CommandSpec, Exec, KeySpec, NO_KEYS};
use crate::txn::Txn;
use crate::Frame;
use ::keys::Cf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    use Exec::Engine as E;
    let s: &'static [&'static str] = &["scripting"];
    let g = "scripting";
    let ks = KeySpec { first: 0, last: 0, step: 0, find: Some(eval_key_positions) };
    let w = WRITE | NOSCRIPT | MOVABLE_KEYS;
    let r = READONLY | NOSCRIPT | MOVABLE_KEYS;
    vec![
        spec("eval", -3, w | RUNS_SCRIPT, ks, s, g, "2.6.0", "Executes a server-side Lua script.", E(eval)),
        spec("evalsha", -3, w | RUNS_SCRIPT, ks, s, g, "2.6.0", "Executes a server-side Lua script by SHA1 digest.", E(evalsha)),
        spec("eval_ro", -3, r, ks, s, g, "7.0.0", "Executes a read-only server-side Lua script.", E(eval_ro)),
        spec("evalsha_ro", -3, r, ks, s, g, "7.0.0", "Executes a read-only server-side Lua script by SHA1 digest.", E(evalsha_ro)),
        // One command for every subcommand: LOAD and FLUSH change the replicated cache,
        // so SCRIPT goes through the log (KILL is intercepted by the server before).
        spec("script", -2, WRITE | NOSCRIPT | KILLS_SCRIPT, NO_KEYS, s, g, "2.6.0", "A container for Lua scripts management commands.", E(script)),
    ]
}

/// EVAL script numkeys key [key ...] arg [arg ...]: the keys follow numkeys.
fn eval_key_positions(argv: &[Vec<u8>]) -> Vec<usize> {
    let n = argv
        .get(2)
        .and_then(|a| args::parse_i64_opt(a))
        .filter(|&n| n >= 1)
        .unwrap_or(0) as usize;
    (3..argv.len().min(3usize.saturating_add(n))).collect()
}

/// The FUNCTION, FCALL and FCALL_RO rows of the command table.
pub fn function_commands() -> Vec<CommandSpec> {
    function::commands()
}

// ---- the replicated script cache ----------------------------------------------------

fn cache_key(sha: &str) -> Vec<u8> {
    ::keys::sm::SCRIPTS.key(sha.as_bytes())
}

/// Lower-case hex SHA1 of a script body, as Redis names scripts.
pub(super) fn sha1hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

fn stored_body(t: &Txn, sha: &str) -> Result<Option<Vec<u8>>, CmdError> {
    Ok(t.raw_get(Cf::Sm, &cache_key(sha))?)
}

/// Adds a compiled-OK body to the replicated cache (not on the read path, where nothing
/// may be written).
fn remember(t: &mut Txn, sha: &str, body: &[u8]) -> Result<(), CmdError> {
    if t.is_read_only() {
        return Ok(());
    }
    let key = cache_key(sha);
    if t.raw_get(Cf::Sm, &key)?.is_none() {
        t.raw_put(Cf::Sm, key, body.to_vec());
    }
    Ok(())
}

// ---- shebang ------------------------------------------------------------------------

/// What a `#!lua flags=...` first line declares (evalExtractShebangFlags).
#[derive(Clone, Copy, Default)]
pub(super) struct ScriptFlags {
    /// No shebang: Redis's backward-compatible EVAL mode.
    pub compat: bool,
    pub no_writes: bool,
}

/// Parses the shebang and returns the flags plus the code to compile. The shebang
/// line is blanked but its newline kept, so line numbers stay the user's.
fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, &[u8]), CmdError> {
    if !body.starts_with(b"#!") {
        return Ok((
            ScriptFlags {
                compat: true,
                no_writes: false,
            },
            body,
        ));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err(CmdError::new("ERR Invalid script shebang"));
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let Some(engine) = parts.next() else {
        return Err(CmdError::new("ERR Invalid engine in script shebang"));
    };
    if engine != "#!lua" {
        return Err(CmdError::new(format!(
            "ERR Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut flags = ScriptFlags::default();
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(CmdError::new(format!(
                "ERR Unknown lua shebang option: {part}"
            )));
        };
        if list.is_empty() {
            continue;
        }
        for f in list.split(',') {
            match f {
                "no-writes" => flags.no_writes = true,
                // Meaningful to Redis's OOM, stale-replica and cluster checks, none of
                // which applies to a script here; accepted as Redis accepts them.
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                // Upstash's own flag (@upstash/ratelimit 2.x starts every script with it):
                // there it swaps the database-wide lock for locks on the declared KEYS, so
                // the script may touch only those. Here every script is one log entry
                // applied in order, so there is no lock to narrow; the flag is accepted
                // and changes nothing (undeclared keys are not refused, as without it).
                "allow-key-locking" => {}
                _ => {
                    return Err(CmdError::new(format!(
                        "ERR Unexpected flag in script shebang: {f}"
                    )))
                }
            }
        }
    }
    Ok((flags, &body[end..]))
}

// ---- EVAL family ---------------------------------------------------------------------

fn eval(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    eval_generic(t, argv, false, false)
}

fn evalsha(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    eval_generic(t, argv, true, false)
}

fn eval_ro(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    eval_generic(t, argv, false, true)
}

fn evalsha_ro(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    eval_generic(t, argv, true, true)
}

fn noscript() -> CmdError {
    CmdError::new("NOSCRIPT No matching script. Please use EVAL.")
}

/// evalGenericCommand: numkeys, script lookup/compilation, then the run.
fn eval_generic(t: &mut Txn, argv: &[Vec<u8>], by_sha: bool, ro_cmd: bool) -> CmdResult {
    if by_sha && argv[1].len() != 40 {
        return Err(noscript());
    }
    let numkeys = args::parse_i64(&argv[2])?;
    if numkeys > argv.len() as i64 - 3 {
        return Err(CmdError::new(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::new("ERR Number of keys can't be negative"));
    }
    let numkeys = numkeys as usize;

    let (sha, stored);
    let body: &[u8] = if by_sha {
        sha = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
        stored = stored_body(t, &sha)?.ok_or_else(noscript)?;
        &stored
    } else {
        sha = sha1hex(&argv[1]);
        &argv[1]
    };
    let (flags, code) = parse_shebang(body)?;
    vm::prepare(&sha, code)?;
    if !by_sha {
        remember(t, &sha, body)?;
    }
    if ro_cmd && !flags.compat && !flags.no_writes {
        return Err(CmdError::new(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let read_only = ro_cmd || flags.no_writes || t.is_read_only();
    let max_instructions = settings::SCRIPT_MAX_INSTRUCTIONS.get(t)?;
    let max_memory = settings::SCRIPT_MAX_MEMORY.get(t)?;
    // A script stopped by its instruction budget (or killed, on the paths where that is
    // allowed) leaves no partial effects: its writes are rolled back, identically on
    // every node. A script that fails with an ordinary error keeps what it wrote before
    // the error, as in Redis.
    let before = t.savepoint();
    let reply = vm::run(
        t,
        vm::Run {
            sha: &sha,
            code,
            keys: &argv[3..3 + numkeys],
            args: &argv[3 + numkeys..],
            read_only,
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

// ---- SCRIPT ----------------------------------------------------------------------------

fn script(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    let sub = args::upper(&argv[1]);
    // Subcommand arities, as Redis 7's subcommand table has them.
    let arity: i32 = match sub.as_str() {
        "HELP" => 2,
        "EXISTS" => -3,
        "FLUSH" => -2,
        "LOAD" => 3,
        "KILL" => 2,
        "DEBUG" => 3,
        _ => return Err(CmdError::unknown_subcommand(&argv[1], "script")),
    };
    args::check_subcommand_arity("script", &sub, arity, argv)?;
    match sub.as_str() {
        "HELP" => Ok(Frame::Array(
            [
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the scripts cache.",
                "    * SYNC: Synchronously flush the scripts cache.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Frame::Simple(l.to_string()))
            .collect(),
        )),
        "EXISTS" => {
            let mut out = Vec::with_capacity(argv.len() - 2);
            for sha in &argv[2..] {
                let found = sha.len() == 40
                    && stored_body(t, &String::from_utf8_lossy(sha).to_ascii_lowercase())?
                        .is_some();
                out.push(Frame::Integer(i64::from(found)));
            }
            Ok(Frame::Array(out))
        }
        "FLUSH" => {
            let ok = argv.len() == 2
                || (argv.len() == 3
                    && (args::is(&argv[2], "sync") || args::is(&argv[2], "async")));
            if !ok {
                return Err(CmdError::new(
                    "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
                ));
            }
            if t.is_read_only() {
                return Err(CmdError::new("ERR SCRIPT FLUSH cannot run on the read path"));
            }
            let cache = ::keys::sm::SCRIPTS;
            t.raw_delete_range(Cf::Sm, cache.start().to_vec(), cache.end().to_vec());
            Ok(Frame::ok())
        }
        "LOAD" => {
            let body = &argv[2];
            let sha = sha1hex(body);
            let (_, code) = parse_shebang(body)?;
            vm::prepare(&sha, code)?;
            if t.is_read_only() {
                return Err(CmdError::new("ERR SCRIPT LOAD cannot run on the read path"));
            }
            remember(t, &sha, body)?;
            Ok(Frame::Bulk(sha.into_bytes()))
        }
        "KILL" => Err(CmdError::new(
            "ERR SCRIPT KILL must be handled by the server",
        )),
        // The Lua debugger needs a dedicated, forked session: not supported.
        _ => Err(CmdError::new("ERR SCRIPT DEBUG is not supported")),
    }
}

// ---- runaway scripts -----------------------------------------------------------------

/// A running script, as SCRIPT KILL sees it.
pub(super) struct RunSlot {
    started_ms: u64,
    /// Applied from the log (EVAL, EVALSHA): it runs on every node, so a kill on one
    /// node would make the replicas diverge; SCRIPT KILL leaves it alone.
    replicated: bool,
    /// A trial run (`Txn::trial`): nothing it does survives it, so it may be killed even
    /// after it wrote.
    trial: bool,
    /// CLEAN, then WROTE once the script called a write command, or KILLED once a kill
    /// was requested while it was still clean. Never goes back.
    state: AtomicU8,
    /// Set for a library function (FCALL, FCALL_RO): FUNCTION KILL and FUNCTION STATS
    /// see these, SCRIPT KILL the others.
    func: Option<FuncInfo>,
}

/// The function a run executes, as FUNCTION STATS reports it.
pub(super) struct FuncInfo {
    pub name: String,
    pub argv: Vec<Vec<u8>>,
}

const CLEAN: u8 = 0;
const WROTE: u8 = 1;
const KILLED: u8 = 2;

impl RunSlot {
    /// Marks the start of a write command; false if the script was killed instead.
    pub(super) fn begin_write(&self) -> bool {
        match self
            .state
            .compare_exchange(CLEAN, WROTE, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(s) => s == WROTE,
        }
    }

    pub(super) fn killed(&self) -> bool {
        self.state.load(Ordering::Acquire) == KILLED
    }
}

static RUNNING: Mutex<Vec<Arc<RunSlot>>> = Mutex::new(Vec::new());
/// How many scripts run now: lets the server's per-command BUSY check skip the lock.
static RUNNING_COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn running() -> std::sync::MutexGuard<'static, Vec<Arc<RunSlot>>> {
    // A panic while holding this lock cannot leave the list inconsistent.
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers a script run; it is unregistered when the returned guard drops.
pub(super) fn register_run(replicated: bool, trial: bool, func: Option<FuncInfo>) -> RunGuard {
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let slot = Arc::new(RunSlot {
        started_ms,
        replicated,
        trial,
        state: AtomicU8::new(CLEAN),
        func,
    });
    let mut list = running();
    list.push(slot.clone());
    RUNNING_COUNT.store(list.len(), Ordering::Release);
    drop(list);
    RunGuard(slot)
}

pub(super) struct RunGuard(pub(super) Arc<RunSlot>);

impl Drop for RunGuard {
    fn drop(&mut self) {
        let mut list = running();
        list.retain(|s| !Arc::ptr_eq(s, &self.0));
        RUNNING_COUNT.store(list.len(), Ordering::Release);
    }
}

/// The operational switch behind BUSY replies and SCRIPT KILL. Scripts run on the
/// state machine's apply thread (EVAL, EVALSHA) and on connection threads (EVAL_RO,
/// EVALSHA_RO), so several may run at once; this sees all of them.
///
/// The wall clock used here only feeds the server's BUSY decision and never a script's
/// result. A kill is a local decision, so only scripts on the read path (EVAL_RO,
/// EVALSHA_RO) are killable: a script applied from the log runs on every node, and
/// killing it on one would leave the others finishing what it abandoned.
pub struct ScriptControl;

impl ScriptControl {
    /// Runs `f` (a command run on this thread, e.g. EVAL_RO on the read path) with
    /// `user` as the caller of the scripts it runs: their `redis.call`/`redis.pcall`
    /// check that user's ACL and `redis.acl_check_cmd` answers for it, as in Redis.
    /// Without a caller (`None`, and in the log's apply, which does not carry the
    /// user) scripts run as the default user, who may run everything.
    pub fn as_caller<R>(user: Option<Arc<crate::acl::User>>, f: impl FnOnce() -> R) -> R {
        vm::with_caller(user, f)
    }

    /// [`ScriptControl::as_caller`], also answering the calls `user`'s ACL refused (in
    /// order), for the ACL LOG of the node the command was sent to (context `lua`).
    pub fn as_caller_noting<R>(
        user: Option<Arc<crate::acl::User>>,
        f: impl FnOnce() -> R,
    ) -> (R, Vec<vm::ScriptDenial>) {
        vm::with_caller(user, || vm::noting_denials(f))
    }

    /// Installs what MONITOR does with each command a script or function runs (its db
    /// and argv); the first call wins. Trial runs are not shown.
    pub fn set_monitor_hook(hook: impl Fn(u8, &[Vec<u8>]) + Send + Sync + 'static) {
        let _ = vm::MONITOR_HOOK.set(Box::new(hook));
    }

    /// Whether EVAL, EVALSHA or FCALL `argv` counts as a write for CLIENT PAUSE WRITE,
    /// as Redis derives its command flags from the script's (scriptFlagsToCmdFlags): a
    /// script with a `no-writes` shebang or a `no-writes` function does not; a script
    /// without a shebang, or one not found, keeps the command's `may_replicate`.
    pub fn may_write(t: &Txn, argv: &[Vec<u8>]) -> bool {
        let Some(first) = argv.get(1) else {
            return true;
        };
        let name = argv[0].to_ascii_lowercase();
        let flags = match name.as_slice() {
            b"eval" => parse_shebang(first).ok().map(|(f, _)| f),
            b"evalsha" if first.len() == 40 => {
                let sha = String::from_utf8_lossy(first).to_ascii_lowercase();
                stored_body(t, &sha)
                    .ok()
                    .flatten()
                    .and_then(|b| parse_shebang(&b).ok().map(|(f, _)| f))
            }
            b"fcall" => {
                return function::no_writes(t, first) != Some(true);
            }
            _ => None,
        };
        flags.map_or(true, |f| f.compat || !f.no_writes)
    }

    /// True for the error of a script that SCRIPT KILL stopped or that ran past
    /// `script-max-instructions`.
    pub fn stopped_by_limit_or_kill(err: &str) -> bool {
        let text = |m: &'static [u8]| &m[..m.len() - 1];
        let e = err.as_bytes();
        e.starts_with(text(vm::KILLED_MSG)) || e.starts_with(text(vm::BUDGET_MSG))
    }

    /// Wall-clock start (unix ms) of the longest-running script, if any runs.
    pub fn running_since_ms() -> Option<u64> {
        if RUNNING_COUNT.load(Ordering::Acquire) == 0 {
            return None;
        }
        running().iter().map(|s| s.started_ms).min()
    }

    /// SCRIPT KILL: asks every running EVAL-family script that has not written yet to
    /// stop; they fail with "ERR Script killed by user with SCRIPT KILL..." at their next
    /// check (every 10 000 Lua instructions and at every redis.call).
    pub fn request_kill() -> Result<(), &'static str> {
        Self::kill_kind(false)
    }

    /// FUNCTION KILL: the same for running library functions (FCALL, FCALL_RO).
    pub fn request_function_kill() -> Result<(), &'static str> {
        Self::kill_kind(true)
    }

    fn kill_kind(functions: bool) -> Result<(), &'static str> {
        let list = running();
        if list.is_empty() {
            return Err("NOTBUSY No scripts in execution right now.");
        }
        let mut killed = false;
        let mut replicated = false;
        let mut mine = false;
        for s in list.iter().filter(|s| s.func.is_some() == functions) {
            mine = true;
            if s.replicated {
                replicated = true;
                continue;
            }
            if s.trial {
                s.state.store(KILLED, Ordering::Release);
                killed = true;
                continue;
            }
            match s
                .state
                .compare_exchange(CLEAN, KILLED, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => killed = true,
                Err(KILLED) => killed = true,
                Err(_) => {}
            }
        }
        if !mine {
            // Only the other kind runs: Redis answers with that kind's BUSY text.
            return Err(if functions { BUSY_EVAL } else { BUSY_FUNCTION });
        }
        if killed {
            Ok(())
        } else if replicated && functions {
            Err("UNKILLABLE the running function was applied from the replicated log (FCALL) and runs on every node; stopping it on one node would make the replicas diverge. Wait for it to finish; use FCALL_RO for functions that only read.")
        } else if replicated {
            Err("UNKILLABLE the running script was applied from the replicated log (EVAL/EVALSHA) and runs on every node; stopping it on one node would make the replicas diverge. Wait for it to finish; use EVAL_RO for scripts that only read.")
        } else {
            Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
        }
    }

    /// The BUSY reply other clients get while the longest-running script runs: Redis's
    /// function text for a library function, its script text otherwise.
    pub fn busy_error() -> &'static str {
        let list = running();
        match list.iter().min_by_key(|s| s.started_ms) {
            Some(s) if s.func.is_some() => BUSY_FUNCTION,
            _ => BUSY_EVAL,
        }
    }

    /// The longest-running library function, for FUNCTION STATS: its name, its
    /// command and how long it has run (ms).
    pub(super) fn running_function() -> Option<(String, Vec<Vec<u8>>, u64)> {
        if RUNNING_COUNT.load(Ordering::Acquire) == 0 {
            return None;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let list = running();
        let s = list
            .iter()
            .filter(|s| s.func.is_some())
            .min_by_key(|s| s.started_ms)?;
        let f = s.func.as_ref()?;
        Some((
            f.name.clone(),
            f.argv.clone(),
            now.saturating_sub(s.started_ms),
        ))
    }
}

const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    fn argv(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn key_positions_follow_numkeys() {
        assert_eq!(
            eval_key_positions(&argv(&["eval", "s", "2", "a", "b", "c"])),
            vec![3, 4]
        );
        assert_eq!(
            eval_key_positions(&argv(&["eval", "s", "0", "a"])),
            Vec::<usize>::new()
        );
        assert_eq!(eval_key_positions(&argv(&["eval", "s", "5", "a"])), vec![3]);
        assert_eq!(
            eval_key_positions(&argv(&["eval", "s", "x", "a"])),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn shebang_flags() {
        let (f, code) = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(f.no_writes && !f.compat);
        assert_eq!(code, b"\nreturn 1");
        let (f, _) = parse_shebang(b"return 1").unwrap();
        assert!(f.compat);
        assert_eq!(
            parse_shebang(b"#!lua").err().unwrap().0,
            "ERR Invalid script shebang"
        );
        assert_eq!(
            parse_shebang(b"#!python\n").err().unwrap().0,
            "ERR Unexpected engine in script shebang: #!python"
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=bad\n").err().unwrap().0,
            "ERR Unexpected flag in script shebang: bad"
        );
        assert_eq!(
            parse_shebang(b"#!lua name=x\n").err().unwrap().0,
            "ERR Unknown lua shebang option: name=x"
        );
    }

    #[test]
    fn shebang_accepts_upstash_key_locking() {
        // Alone, as @upstash/ratelimit 2.x sends it: a flagged (non-compat) script that
        // may write.
        let (f, code) =
            parse_shebang(b"#!lua flags=allow-key-locking\n  local k = KEYS[1]").unwrap();
        assert!(!f.compat && !f.no_writes);
        assert_eq!(code, b"\n  local k = KEYS[1]");
        // Combined with Redis's own flags, in any order.
        let (f, _) = parse_shebang(b"#!lua flags=no-writes,allow-key-locking\nreturn 1").unwrap();
        assert!(f.no_writes && !f.compat);
        let (f, _) = parse_shebang(b"#!lua flags=allow-key-locking,allow-oom\nreturn 1").unwrap();
        assert!(!f.no_writes && !f.compat);
        // Only the exact name: near misses are still Redis's error.
        for (body, flag) in [
            (&b"#!lua flags=allow-key-lock\n"[..], "allow-key-lock"),
            (b"#!lua flags=Allow-Key-Locking\n", "Allow-Key-Locking"),
            (b"#!lua flags=allow-key-locking,\n", ""),
        ] {
            assert_eq!(
                parse_shebang(body).err().unwrap().0,
                format!("ERR Unexpected flag in script shebang: {flag}")
            );
        }
    }

    #[test]
    fn key_locking_scripts_run_and_keep_their_other_flags() {
        let store = MemStore::default();
        let mut t = Txn::new(&store, 1, 1_000, 7);
        // The fixed-window shape of @upstash/ratelimit: INCRBY, PEXPIRE on first use.
        let script = "#!lua flags=allow-key-locking\n\
            local r = redis.call('INCRBY', KEYS[1], ARGV[1])\n\
            if r == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n\
            return {r, redis.call('PTTL', KEYS[1])}";
        for want in 1..=3 {
            let reply = t.run(0, &argv(&["eval", script, "1", "rl:k", "1", "60000"]));
            assert_eq!(
                reply,
                Frame::Array(vec![Frame::Integer(want), Frame::Integer(60_000)])
            );
        }
        // EVALSHA by the body's SHA1, shebang included (the SDK's hard-coded hashes).
        let sha = sha1hex(script.as_bytes());
        let reply = t.run(0, &argv(&["evalsha", &sha, "1", "rl:k", "1", "60000"]));
        assert_eq!(
            reply,
            Frame::Array(vec![Frame::Integer(4), Frame::Integer(60_000)])
        );
        // A key-locking script is a flagged script: *_RO refuses it unless it is also
        // no-writes, and no-writes still refuses writes.
        let reply = t.run(
            0,
            &argv(&["eval_ro", "#!lua flags=allow-key-locking\nreturn 1", "0"]),
        );
        assert_eq!(
            reply,
            Frame::Error("ERR Can not execute a script with write flag using *_ro command.".into())
        );
        let reply = t.run(
            0,
            &argv(&[
                "eval",
                "#!lua flags=allow-key-locking,no-writes\nreturn redis.call('set', KEYS[1], 'v')",
                "1",
                "rl:k",
            ]),
        );
        match reply {
            Frame::Error(e) => assert!(
                e.contains("Write commands are not allowed from read-only scripts"),
                "{e}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kill_stops_a_clean_script_and_spares_a_writer() {
        assert_eq!(
            ScriptControl::request_kill(),
            Err("NOTBUSY No scripts in execution right now.")
        );
        // A read-path script (EVAL_RO) is killable.
        let worker = std::thread::spawn(|| {
            let store = MemStore::default();
            let mut t = Txn::read_only(&store, 1_000, 7);
            t.run(0, &argv(&["eval_ro", "while true do end", "0"]))
        });
        let mut waited = 0;
        while ScriptControl::running_since_ms().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(5));
            waited += 1;
            assert!(waited < 2000, "script never started");
        }
        assert_eq!(ScriptControl::request_kill(), Ok(()));
        let reply = worker.join().unwrap();
        match reply {
            Frame::Error(e) => assert!(
                e.starts_with("ERR Script killed by user with SCRIPT KILL...")
                    && e.contains("script: "),
                "{e}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(ScriptControl::running_since_ms().is_none());

        // A script applied from the log (it wrote, or may) is never killed here: every
        // node runs it, so it is left to finish.
        let worker = std::thread::spawn(|| {
            let store = MemStore::default();
            let mut t = Txn::new(&store, 1, 1_000, 7);
            t.run(
                0,
                &argv(&[
                    "eval",
                    "redis.call('set','k','v') local i = 0 while i < 30000000 do i = i + 1 end return i",
                    "0",
                ]),
            )
        });
        let mut result = Err("never ran");
        for _ in 0..4000 {
            if ScriptControl::running_since_ms().is_some() {
                result = ScriptControl::request_kill();
                if result.is_err() {
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // Either we caught it after its SET (UNKILLABLE), or before it (then it was
        // killed): the race is inherent, but a writer is never killed.
        let reply = worker.join().unwrap();
        match result {
            Err(e) => {
                assert!(e.starts_with("UNKILLABLE"), "{e}");
                assert_eq!(reply, Frame::Integer(30_000_000));
            }
            Ok(()) => assert!(matches!(reply, Frame::Error(_))),
        }
    }
}
