//! The one dispatcher both front ends call: table checks, then writes through the log
//! (consecutive writes batched into one proposal), reads from the local state machine,
//! connection commands through the session. No command logic lives here.
//!
//! Also the session-level flow Redis has around commands: MULTI queues commands and EXEC
//! proposes them as one log entry (with the WATCHed keys' write indexes, checked inside
//! the apply); blocking commands re-run when a write touches one of their keys; MONITOR
//! sees every command; a RESP2 connection in subscribed mode takes only pub/sub commands.

use crate::session::{Outcome, Session};
use crate::shared::Shared;
use consensus::Op;
use engine::{flags, Block, CmdError, CommandSpec, Exec, Frame, SessionCmd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// A transaction being queued (between MULTI and EXEC).
#[derive(Default)]
pub struct Multi {
    /// (spec, db, argv) in order.
    pub cmds: Vec<(&'static engine::CommandSpec, u8, Vec<Vec<u8>>)>,
    /// A command failed to queue: EXEC answers EXECABORT.
    pub dirty: bool,
}

/// Runs a pipeline's commands in order. Consecutive writes go to the log together as one
/// proposal; a read or connection command first waits for the writes before it, so
/// every reply reflects everything the connection sent earlier. Returns true on QUIT.
/// `conn` is the client's socket when there is one, so a blocked command notices the
/// client leaving.
pub async fn run_batch(
    shared: &Arc<Shared>,
    sess: &mut Session,
    reqs: Vec<Vec<Vec<u8>>>,
    conn: Option<&TcpStream>,
    emit: &mut (dyn FnMut(&Frame, bool) + Send),
) -> bool {
    let mut pending: Vec<(&'static engine::CommandSpec, Op)> = Vec::new();
    let mut quit = false;
    for argv in reqs {
        if quit {
            break;
        }
        // An ACL user is brought up to date before each command: changes apply from here on.
        if sess.user.is_some() || sess.default_login.is_some() {
            sess.refresh_acl();
        }
        let spec = match classify(sess, &argv) {
            Ok(s) => s,
            Err(e) => {
                flush_writes(sess, &mut pending, emit).await;
                if let Some(m) = sess.multi.as_mut() {
                    m.dirty = true;
                }
                if let Some(spec) = engine::lookup(&argv[0]) {
                    shared.stats.reject(spec);
                }
                emit(&Frame::Error(e.0), sess.resp3);
                continue;
            }
        };
        sess.note_command(spec.name);
        if shared.broker.has_monitors() {
            // As Redis: a queued command shows when EXEC runs it, before EXEC's line.
            let is_exec = spec.session_cmd() == Some(SessionCmd::Exec);
            if is_exec {
                if let Some(m) = sess.multi.as_ref().filter(|m| !m.dirty) {
                    for (s, db, a) in &m.cmds {
                        if s.flags & flags::SKIP_MONITOR == 0 {
                            feed_monitors_db(shared, sess, *db, s, a);
                        }
                    }
                }
            }
            let queued = sess.multi.is_some() && spec.flags & flags::NOT_QUEUED == 0;
            if (spec.flags & flags::SKIP_MONITOR == 0 || is_exec) && !queued {
                feed_monitors(shared, sess, spec, &argv);
            }
        }
        if sess.in_subscribed_mode() && spec.flags & flags::SUBSCRIBED_OK == 0 {
            flush_writes(sess, &mut pending, emit).await;
            shared.stats.reject(spec);
            emit(
                &Frame::Error(format!(
                    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                    spec.name
                )),
                sess.resp3,
            );
            continue;
        }
        if let Some(reply) = script_control(shared, spec, &argv) {
            flush_writes(sess, &mut pending, emit).await;
            let reply = match reply {
                // As Redis's rejectCommand: a refused command flags the transaction, and
                // a refused EXEC discards it with the reason.
                Frame::Error(e) if e.starts_with("BUSY") => {
                    shared.stats.reject(spec);
                    if spec.session_cmd() == Some(SessionCmd::Exec) {
                        sess.multi = None;
                        sess.clear_watch();
                        Frame::Error(format!("EXECABORT Transaction discarded because of: {e}"))
                    } else {
                        if let Some(m) = sess.multi.as_mut() {
                            m.dirty = true;
                        }
                        Frame::Error(e)
                    }
                }
                other => other,
            };
            emit(&reply, sess.resp3);
            continue;
        }
        if spec.flags & flags::SUBSCRIBED_PONG != 0 && sess.in_subscribed_mode() {
            flush_writes(sess, &mut pending, emit).await;
            let arg = argv.get(1).cloned().unwrap_or_default();
            emit(
                &Frame::Array(vec![Frame::Bulk(b"pong".to_vec()), Frame::Bulk(arg)]),
                sess.resp3,
            );
            continue;
        }
        if sess.multi.is_some() && spec.flags & flags::NO_MULTI != 0 {
            // SAVE, SHUTDOWN, ...: refused and the transaction flagged, as Redis.
            flush_writes(sess, &mut pending, emit).await;
            if let Some(m) = sess.multi.as_mut() {
                m.dirty = true;
            }
            shared.stats.reject(spec);
            emit(
                &Frame::Error("ERR Command not allowed inside a transaction".into()),
                sess.resp3,
            );
            continue;
        }
        if sess.multi.is_some() && spec.flags & flags::NOT_QUEUED == 0 {
            let m = sess.multi.as_mut().expect("checked");
            m.cmds.push((spec, sess.db, argv));
            emit(&Frame::Simple("QUEUED".into()), sess.resp3);
            continue;
        }
        match spec.exec {
            // Only RESP connections wait (REST runs blocking reads once, as Upstash).
            Exec::Engine(_)
                if spec.flags & flags::BLOCKING != 0
                    && sess.mailbox.is_some()
                    && spec.block_timeout(&argv).is_some() =>
            {
                flush_writes(sess, &mut pending, emit).await;
                let t0 = Instant::now();
                let mut waited = Duration::ZERO;
                let logged = argv.clone();
                let reply = run_blocking(shared, sess, spec, argv, conn, &mut waited).await;
                let usec = t0.elapsed().as_micros() as u64;
                shared.stats.record(spec, usec, reply.is_error());
                // The slow log counts its run, not its wait (as Redis's).
                let ran = t0.elapsed().saturating_sub(waited).as_micros() as u64;
                if shared.slowlog.wants(ran) {
                    shared.slowlog.push(&logged, ran, Some(&sess.info));
                }
                emit(&reply, sess.resp3);
            }
            Exec::Engine(_) if spec.is_write() => {
                // The trial meets what the caller may not run: logged here, on the node
                // the command was sent to (the apply logs nothing).
                let db = sess.db;
                let stopped = as_caller(sess, spec, || try_script(shared, spec, db, &argv));
                if let Some(stopped) = stopped {
                    flush_writes(sess, &mut pending, emit).await;
                    shared.stats.record(spec, 0, true);
                    emit(&stopped, sess.resp3);
                    continue;
                }
                pending.push((spec, sess.write_op(spec, argv)));
            }
            // A fast keyed read that follows writes of this same pipeline joins their log
            // entry, at its place among them: it must see them, and running it after their
            // commit would cost one commit (an fsync) per read-after-write pair. Only FAST
            // reads, so the apply on every replica stays cheap.
            Exec::Engine(_) if !pending.is_empty() && folds_into_writes(spec) => {
                sess.track_read(spec, &argv);
                if !sess.no_touch {
                    engine::access::touch_read(spec, sess.db, &argv, consensus::now_ms());
                }
                pending.push((spec, Op::Cmd { db: sess.db, argv }));
            }
            Exec::Engine(_) => {
                flush_writes(sess, &mut pending, emit).await;
                let t0 = Instant::now();
                if let Err(e) = await_consistency(shared, sess).await {
                    shared.stats.record(spec, 0, true);
                    emit(&Frame::Error(e.into()), sess.resp3);
                    continue;
                }
                sess.track_read(spec, &argv);
                if !sess.no_touch {
                    engine::access::touch_read(spec, sess.db, &argv, consensus::now_ms());
                }
                // A script run here (EVAL_RO, FCALL_RO) checks its caller's ACL.
                let db = sess.db;
                let reply = as_caller(sess, spec, || read(shared, spec, db, &argv));
                let usec = t0.elapsed().as_micros() as u64;
                shared.stats.record(spec, usec, reply.is_error());
                if shared.slowlog.wants(usec) {
                    shared.slowlog.push(&argv, usec, Some(&sess.info));
                }
                emit(&reply, sess.resp3);
            }
            // ACL too, though its SETUSER/DELUSER are applied by the engine: the session
            // proposes them, passwords hashed first.
            Exec::Session(cmd) | Exec::SessionProposes(cmd, _) => {
                flush_writes(sess, &mut pending, emit).await;
                let t0 = Instant::now();
                let (replies, outcome) = match cmd {
                    SessionCmd::Subscribe
                    | SessionCmd::PSubscribe
                    | SessionCmd::SSubscribe
                    | SessionCmd::Unsubscribe
                    | SessionCmd::PUnsubscribe
                    | SessionCmd::SUnsubscribe => {
                        (sess.pubsub_cmd(cmd, spec.name, &argv), Outcome::Continue)
                    }
                    SessionCmd::Multi
                    | SessionCmd::Exec
                    | SessionCmd::Discard
                    | SessionCmd::Watch
                    | SessionCmd::Unwatch => (
                        vec![transaction(shared, sess, cmd, &argv).await],
                        Outcome::Continue,
                    ),
                    // WAIT/WAITAOF may wait forever (timeout 0): they end if the client leaves.
                    SessionCmd::Server if matches!(spec.name, "wait" | "waitaof") => {
                        let (r, o) = tokio::select! {
                            r = sess.handle(spec, &argv) => r,
                            _ = client_gone(conn) => (Frame::Null, Outcome::Close),
                        };
                        (vec![r], o)
                    }
                    _ => {
                        let (r, o) = sess.handle(spec, &argv).await;
                        (vec![r], o)
                    }
                };
                let failed = replies.iter().any(|r| r.is_error());
                let usec = t0.elapsed().as_micros() as u64;
                shared.stats.record(spec, usec, failed);
                // EXEC is not logged, as in Redis (its commands ran in the log entry).
                if shared.slowlog.wants(usec) && cmd != SessionCmd::Exec {
                    shared.slowlog.push(&argv, usec, Some(&sess.info));
                }
                // (P|S)(UN)SUBSCRIBE confirmations are pushes: CLIENT REPLY OFF/SKIP does
                // not hold them back (Redis's CLIENT_PUSHING); a SKIP is used up by them.
                let pushing = !failed
                    && sess.mailbox.is_some()
                    && matches!(
                        cmd,
                        SessionCmd::Subscribe
                            | SessionCmd::PSubscribe
                            | SessionCmd::SSubscribe
                            | SessionCmd::Unsubscribe
                            | SessionCmd::PUnsubscribe
                            | SessionCmd::SUnsubscribe
                    );
                let mode =
                    pushing.then(|| sess.reply.swap(crate::session::REPLY_ON, Ordering::Relaxed));
                for r in &replies {
                    emit(r, sess.resp3);
                }
                if mode == Some(crate::session::REPLY_OFF) {
                    sess.reply
                        .store(crate::session::REPLY_OFF, Ordering::Relaxed);
                }
                if outcome == Outcome::Close {
                    quit = true;
                }
            }
        }
    }
    flush_writes(sess, &mut pending, emit).await;
    quit
}

/// Runs a read. A command that is not O(1) (KEYS, SCAN, SORT_RO, big ranges, set algebra,
/// EVAL_RO) may take long: it runs with this async worker handed over to the runtime
/// (`block_in_place`), so the other connections it was serving move to another worker
/// and keep being answered while it runs.
pub(crate) fn read(shared: &Shared, spec: &CommandSpec, db: u8, argv: &[Vec<u8>]) -> Frame {
    if spec.flags & flags::FAST != 0 {
        shared.reads.read(spec, db, argv)
    } else {
        tokio::task::block_in_place(|| shared.reads.read(spec, db, argv))
    }
}

/// Scripts are tried on this node's current state before they are proposed (see
/// `reads::Reads::trial`). A script that SCRIPT KILL stopped, or that ran past its
/// instruction budget, is answered here and never reaches the log, so it cannot hold up
/// the apply loop of every replica; one that finishes is proposed and runs again in the
/// apply, under the same budget, with the same result on every node.
pub(crate) fn try_script(
    shared: &Shared,
    spec: &CommandSpec,
    db: u8,
    argv: &[Vec<u8>],
) -> Option<Frame> {
    if spec.flags & flags::RUNS_SCRIPT == 0 {
        return None;
    }
    let reply = tokio::task::block_in_place(|| shared.reads.trial(db, argv));
    match &reply {
        Frame::Error(e) if engine::ScriptControl::stopped_by_limit_or_kill(e) => Some(reply),
        _ => None,
    }
}

/// SCRIPT KILL, and Redis's BUSY reply to everything else while a script has been
/// running longer than the threshold.
/// How long a script may run first is `busy-reply-threshold` (`Shared::busy_after_ms`).
fn script_control(shared: &Shared, spec: &engine::CommandSpec, argv: &[Vec<u8>]) -> Option<Frame> {
    let kills = spec.flags & (flags::KILLS_SCRIPT | flags::KILLS_FUNCTION);
    if kills != 0 && argv.len() == 2 && engine::args::is(&argv[1], "kill") {
        let killed = if kills & flags::KILLS_FUNCTION != 0 {
            engine::ScriptControl::request_function_kill()
        } else {
            engine::ScriptControl::request_kill()
        };
        return Some(match killed {
            Ok(()) => Frame::ok(),
            Err(e) => Frame::Error(e.to_string()),
        });
    }
    let since = engine::ScriptControl::running_since_ms()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    // As Redis 7.0: only the commands its table flags allow_busy pass (AUTH, HELLO,
    // MULTI, DISCARD, WATCH, UNWATCH, QUIT, RESET, SHUTDOWN); PING, INFO, CLIENT get BUSY.
    // FUNCTION STATS is allowed while busy too (Redis flags it allow_busy).
    let is_stats = spec.flags & flags::KILLS_FUNCTION != 0
        && argv.len() == 2
        && engine::args::is(&argv[1], "stats");
    if now.saturating_sub(since) < shared.busy_after_ms.load(Ordering::Relaxed)
        || spec.flags & flags::ALLOW_BUSY != 0
        || is_stats
    {
        return None;
    }
    Some(Frame::Error(engine::ScriptControl::busy_error().into()))
}

/// MULTI EXEC DISCARD WATCH UNWATCH.
async fn transaction(
    shared: &Arc<Shared>,
    sess: &mut Session,
    cmd: SessionCmd,
    argv: &[Vec<u8>],
) -> Frame {
    match cmd {
        SessionCmd::Multi => {
            if sess.multi.is_some() {
                return Frame::Error("ERR MULTI calls can not be nested".into());
            }
            sess.multi = Some(Multi::default());
            Frame::ok()
        }
        SessionCmd::Discard => {
            if sess.multi.take().is_none() {
                return Frame::Error("ERR DISCARD without MULTI".into());
            }
            sess.clear_watch();
            Frame::ok()
        }
        SessionCmd::Unwatch => {
            sess.clear_watch();
            Frame::ok()
        }
        SessionCmd::Watch => {
            if sess.multi.is_some() {
                return Frame::Error("ERR WATCH inside MULTI is not allowed".into());
            }
            if let Err(e) = await_consistency(shared, sess).await {
                return Frame::Error(e.into());
            }
            for key in &argv[1..] {
                // Registered before the write index is read, so no later write is missed.
                shared
                    .broker
                    .watch(sess.id, sess.db, key, &sess.watch_touched);
                match shared.reads.key_write_index(sess.db, key) {
                    Ok(v) => sess.watch.push((sess.db, key.clone(), v)),
                    Err(e) => return Frame::Error(e.0),
                }
            }
            Frame::ok()
        }
        _ => exec(shared, sess).await,
    }
}

/// EXEC: the queued commands as one log entry, guarded by the watched keys.
async fn exec(shared: &Arc<Shared>, sess: &mut Session) -> Frame {
    let Some(m) = sess.multi.take() else {
        return Frame::Error("ERR EXEC without MULTI".into());
    };
    let watch = std::mem::take(&mut sess.watch);
    let touched = sess
        .watch_touched
        .swap(false, std::sync::atomic::Ordering::SeqCst);
    shared.broker.unwatch(sess.id);
    if m.dirty {
        return Frame::Error("EXECABORT Transaction discarded because of previous errors.".into());
    }
    if touched && !watch.is_empty() {
        // A watched key was written since WATCH, possibly back to what it was (created
        // then deleted): abort as Redis does. Writes the broker has not seen yet are
        // caught by the write indexes the entry carries.
        return Frame::NullArray;
    }
    // Engine commands run inside the entry; connection commands (SELECT, CLIENT, ...)
    // run here afterwards, their replies put back in place.
    // ACL permissions are checked again now, in case the user changed since queuing
    // (as Redis does): a command no longer allowed gets NOPERM, the others run.
    let mut cmds = Vec::new();
    let mut local = Vec::new();
    let mut denied: Vec<(usize, String)> = Vec::new();
    let mut db = sess.db;
    for (i, (spec, _, argv)) in m.cmds.iter().enumerate() {
        if let Err(e) = crate::acl_cmds::check_queued(sess, spec, argv) {
            denied.push((i, e.0));
            continue;
        }
        match spec.exec {
            Exec::Engine(_) => cmds.push((db, argv.clone())),
            _ => {
                if spec.session_cmd() == Some(SessionCmd::Select) {
                    if let Some(n) = engine::args::parse_i64_opt(&argv[1]) {
                        if (0..keys::DATABASES as i64).contains(&n) {
                            db = n as u8;
                        }
                    }
                }
                local.push(i);
            }
        }
    }
    sess.track_multi_reads(&m.cmds);
    let proposed = !(cmds.is_empty() && watch.is_empty());
    let mut engine_replies = if !proposed {
        Vec::new()
    } else {
        match sess.propose_multi(cmds, watch).await {
            Ok(r) => r,
            Err(other) => return other,
        }
    }
    .into_iter();
    let mut out = Vec::with_capacity(m.cmds.len());
    for (i, (spec, _, argv)) in m.cmds.into_iter().enumerate() {
        let r = if let Some((_, e)) = denied.iter().find(|(d, _)| *d == i) {
            Frame::Error(e.clone())
        } else if local.contains(&i) {
            sess.handle(spec, &argv).await.0
        } else {
            engine_replies.next().unwrap_or(Frame::Null)
        };
        // Each queued command counts as a call, its error as an error reply (as Redis).
        shared.stats.record(spec, 0, r.is_error());
        if let Frame::Error(e) = &r {
            shared.stats.count_error(e);
        }
        out.push(r);
    }
    // Clients the transaction woke are served after its commands (connection commands
    // included, as Redis serves them after EXEC) and before EXEC answers.
    if proposed {
        sess.shared.broker.settle().await;
    }
    Frame::Array(out)
}

/// Runs `f` (a command that may run a script) with the scripts' `redis.call`s checked
/// against the connection's ACL user, and records what they were refused in ACL LOG.
fn as_caller<T>(sess: &mut Session, spec: &engine::CommandSpec, f: impl FnOnce() -> T) -> T {
    let Some(u) = &sess.user else { return f() };
    let (out, denied) = engine::ScriptControl::as_caller_noting(Some(u.user.clone()), f);
    crate::acl_cmds::log_script_denials(
        sess,
        spec.name,
        denied.into_iter().map(|d| (d.reason, d.object)),
    );
    out
}

/// Resolves once the client has hung up (EOF or error). If the client sent more data
/// instead, closure cannot be seen without reading it, so this never resolves.
async fn client_gone(conn: Option<&TcpStream>) {
    let Some(s) = conn else {
        return std::future::pending().await;
    };
    let mut b = [0u8; 1];
    match s.peek(&mut b).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

/// XREADGROUP's error when its stream was deleted, flushed or replaced by another type
/// while it waited (Redis 7.0's text).
const STREAM_GONE: &str = "UNBLOCKED the stream key no longer exists";
/// XREADGROUP's error when its group was destroyed while it waited.
const GROUP_GONE: &str = "NOGROUP the consumer group this client was blocked on no longer exists";
/// How often a blocked XREADGROUP checks that its stream still exists (FLUSHDB and
/// FLUSHALL touch no key, so no write wakes it).
const STREAM_POLL: Duration = Duration::from_millis(200);

/// Unregisters a blocked client however `run_blocking` ends (also when the
/// connection's task is dropped), passing on the turn it may hold.
struct BlockedGuard {
    broker: Arc<crate::pubsub::Broker>,
    id: u64,
    db: u8,
    keys: Vec<Vec<u8>>,
    done: bool,
}

impl BlockedGuard {
    /// The client was served, having written `touched`.
    fn served(&mut self, touched: &[Vec<u8>]) {
        self.broker.served(self.id, self.db, &self.keys, touched);
        self.done = true;
    }
}

impl Drop for BlockedGuard {
    fn drop(&mut self) {
        if !self.done {
            self.broker.unblock_done(self.id, self.db, &self.keys);
        }
    }
}

fn is_nil(f: &Frame) -> bool {
    matches!(f, Frame::Null | Frame::NullArray)
}

/// A blocking command: run it once as sent (its errors, WRONGTYPE included, are its
/// reply); while it finds nothing, wait for a write to one of its keys (or the timeout,
/// CLIENT UNBLOCK, the client leaving) and look again, as Redis serves blocked clients:
/// - waiters on a key look in arrival order (the turn passes down the key's list), so
///   two clients blocked one after the other are served in that order;
/// - a key re-created as another type does not end the wait; the client is served from
///   whichever of its keys holds its type (`look_again`);
/// - XREADGROUP whose stream is deleted, flushed or replaced gets `UNBLOCKED ...`, and
///   `NOGROUP ...` when its group is destroyed;
/// - the writer whose write woke a client gets its reply once that client was served
///   (`Broker::settle`), so chained BLMOVEs have moved the element when RPUSH answers.
async fn run_blocking(
    shared: &Arc<Shared>,
    sess: &mut Session,
    spec: &'static engine::CommandSpec,
    mut argv: Vec<Vec<u8>>,
    conn: Option<&TcpStream>,
    waited: &mut Duration,
) -> Frame {
    let timeout = spec.block_timeout(&argv).flatten();
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    if matches!(spec.block, Block::BlockOption { .. }) {
        if let Err(e) = await_consistency(shared, sess).await {
            return Frame::Error(e.into());
        }
        argv = shared.reads.resolve_block_ids(sess.db, &argv);
    }
    let (kind, sources) = spec.block_sources(&argv);
    let all_keys: Vec<Vec<u8>> = spec
        .key_positions(&argv)
        .into_iter()
        .map(|i| argv[i].clone())
        .collect();
    let mut source_keys: Vec<Vec<u8>> = Vec::new();
    for &i in &sources {
        if !source_keys.contains(&argv[i]) {
            source_keys.push(argv[i].clone());
        }
    }
    let group = spec.is_write() && kind == "stream";
    let broker = shared.broker.clone();
    let db = sess.db;
    // Registered once, before the first run (no wake-up can be missed), and keeps its
    // place in line across retries: waiters are served in arrival order.
    let waiter = broker.block(sess.id, db, &source_keys);
    let mut guard = BlockedGuard {
        broker: broker.clone(),
        id: sess.id,
        db,
        keys: source_keys.clone(),
        done: false,
    };
    let first = if spec.is_write() {
        let op = Op::Cmd {
            db,
            argv: argv.clone(),
        };
        match sess.propose(vec![op]).await {
            Ok(mut r) => r.pop().unwrap_or(Frame::Null),
            Err(e) => e,
        }
    } else {
        match await_consistency(shared, sess).await {
            Ok(()) => shared.reads.read(spec, db, &argv),
            Err(e) => Frame::Error(e.into()),
        }
    };
    if !is_nil(&first) {
        guard.served(&all_keys);
        broker.settle().await;
        return first;
    }
    let mut poll = tokio::time::interval(STREAM_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;
    loop {
        enum Ev {
            Woke,
            Timeout,
            Gone,
            Poll,
        }
        let wait_start = Instant::now();
        let ev = tokio::select! {
            _ = waiter.notify.notified() => Ev::Woke,
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => Ev::Timeout,
            _ = client_gone(conn) => Ev::Gone,
            _ = poll.tick(), if group => Ev::Poll,
        };
        *waited += wait_start.elapsed();
        match waiter.unblock.load(Ordering::SeqCst) {
            crate::pubsub::UNBLOCK_TIMEOUT => return first,
            crate::pubsub::UNBLOCK_ERROR => {
                return Frame::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK".into())
            }
            _ => {}
        }
        match ev {
            Ev::Timeout | Ev::Gone => return first,
            Ev::Poll => {
                if source_keys.iter().any(|k| !holds(shared, db, k, "stream")) {
                    return Frame::Error(STREAM_GONE.into());
                }
            }
            Ev::Woke => match look_again(shared, sess, spec, &argv, kind, &sources).await {
                Some(reply) => {
                    guard.served(&all_keys);
                    broker.settle().await;
                    return reply;
                }
                None => broker.declined(sess.id, &waiter, db, &source_keys),
            },
        }
    }
}

/// Whether `key` holds a value of type `kind` (as TYPE names it) on this node now.
fn holds(shared: &Shared, db: u8, key: &[u8], kind: &str) -> bool {
    let ty = engine::lookup(b"type").expect("TYPE is in the table");
    let t = shared.reads.read(ty, db, &[b"type".to_vec(), key.to_vec()]);
    matches!(&t, Frame::Simple(s) if s == kind)
}

/// A woken blocked command looks again: it runs narrowed to the source keys that hold
/// its type now (the first one for a pop, every stream for XREAD), guarded by their
/// write indexes (an `Op::Multi` with them watched) so that a key changed in between is
/// never popped as another type. `None`: nothing for this client (keep waiting).
async fn look_again(
    shared: &Arc<Shared>,
    sess: &mut Session,
    spec: &'static engine::CommandSpec,
    argv: &[Vec<u8>],
    kind: &str,
    sources: &[usize],
) -> Option<Frame> {
    if let Err(e) = await_consistency(shared, sess).await {
        return Some(Frame::Error(e.into()));
    }
    let db = sess.db;
    let group = spec.is_write() && kind == "stream";
    let mut chosen = Vec::new();
    let mut watch = Vec::new();
    for &i in sources {
        let key = &argv[i];
        // The write index first: a write after it fails the guard.
        let seen = match shared.reads.key_write_index(db, key) {
            Ok(v) => v,
            Err(e) => return Some(Frame::Error(e.0)),
        };
        let right = holds(shared, db, key, kind);
        if group && !right {
            return Some(Frame::Error(STREAM_GONE.into()));
        }
        if right {
            chosen.push(i);
            watch.push((db, key.clone(), seen));
            if kind != "stream" {
                break;
            }
        }
    }
    if chosen.is_empty() {
        return None;
    }
    let narrowed = spec.block_narrow(argv, &chosen);
    let reply = if group {
        match sess.propose(vec![Op::Cmd { db, argv: narrowed }]).await {
            Ok(mut r) => match r.pop().unwrap_or(Frame::Null) {
                // The stream went away (or its group) after the look above: which one
                // shows in the state this node has applied since.
                Frame::Error(e) if e.starts_with("NOGROUP") || e.starts_with("WRONGTYPE") => {
                    let gone = chosen
                        .iter()
                        .any(|&i| !holds(shared, db, &argv[i], "stream"));
                    Frame::Error(if gone { STREAM_GONE } else { GROUP_GONE }.into())
                }
                other => other,
            },
            Err(e) => e,
        }
    } else if spec.is_write() {
        match sess.propose_multi(vec![(db, narrowed)], watch).await {
            Ok(mut r) => r.pop().unwrap_or(Frame::Null),
            // A key changed meanwhile: that write woke its waiters again.
            Err(Frame::NullArray) => return None,
            Err(e) => e,
        }
    } else {
        match shared.reads.read(spec, db, &narrowed) {
            Frame::Error(e) if e.starts_with("WRONGTYPE") => return None,
            other => other,
        }
    };
    (!is_nil(&reply)).then_some(reply)
}

/// A MONITOR line in Redis's format: `+<secs>.<usecs> [<db> <addr>] "cmd" "arg" ...`.
fn feed_monitors(shared: &Arc<Shared>, sess: &Session, spec: &CommandSpec, argv: &[Vec<u8>]) {
    feed_monitors_db(shared, sess, sess.db, spec, argv)
}

fn feed_monitors_db(
    shared: &Arc<Shared>,
    sess: &Session,
    db: u8,
    spec: &CommandSpec,
    argv: &[Vec<u8>],
) {
    if spec.flags & flags::MONITOR_HIDDEN != 0 {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let addr = sess
        .info
        .lock()
        .map(|i| i.addr.to_string())
        .unwrap_or_default();
    let mut line = format!(
        "{}.{:06} [{} {}]",
        now.as_secs(),
        now.subsec_micros(),
        db,
        addr
    );
    // As Redis does, ACL commands naming users and passwords show them redacted.
    let redact_from = match argv.get(1) {
        Some(sub)
            if spec.session_cmd() == Some(SessionCmd::Acl)
                && ["setuser", "deluser", "getuser", "resttoken"]
                    .iter()
                    .any(|s| engine::args::is(sub, s)) =>
        {
            2
        }
        _ => usize::MAX,
    };
    for (i, a) in argv.iter().enumerate() {
        line.push(' ');
        if i >= redact_from {
            line.push_str("\"(redacted)\"");
        } else {
            line.push_str(&repr(a));
        }
    }
    shared.broker.feed_monitors(sess.id, &line);
}

/// A MONITOR line for a command not sent by a client: `who` is `lua` for the commands
/// of scripts and functions, as Redis shows them.
pub(crate) fn monitor_line(db: u8, who: &str, argv: &[Vec<u8>]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = format!("{}.{:06} [{db} {who}]", now.as_secs(), now.subsec_micros());
    for a in argv {
        line.push(' ');
        line.push_str(&repr(a));
    }
    line
}

/// Redis's sdscatrepr: a quoted string with \n, \r, \t, \a, \b, \", \\ and \xHH.
fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Table checks done before anything is proposed, so bad input never enters the log.
pub fn classify(
    sess: &Session,
    argv: &[Vec<u8>],
) -> Result<&'static engine::CommandSpec, CmdError> {
    let spec =
        engine::lookup(&argv[0]).ok_or_else(|| CmdError::unknown_command(&argv[0], &argv[1..]))?;
    if !sess.authenticated && spec.flags & flags::NO_AUTH == 0 {
        return Err(CmdError::new("NOAUTH Authentication required."));
    }
    engine::check_arity(spec, argv)?;
    engine::check_key_sizes(spec, argv)?;
    crate::acl_cmds::check(sess, spec, argv)?;
    Ok(spec)
}

/// Whether a read-only command may run inside the log entry of the writes queued before
/// it (see `run_batch`): a FAST command on keys, not a script, not blocking.
fn folds_into_writes(spec: &engine::CommandSpec) -> bool {
    spec.flags & flags::FAST != 0
        && spec.flags & (flags::RUNS_SCRIPT | flags::BLOCKING) == 0
        && spec.keys.first > 0
}

async fn flush_writes(
    sess: &mut Session,
    pending: &mut Vec<(&'static engine::CommandSpec, Op)>,
    emit: &mut (dyn FnMut(&Frame, bool) + Send),
) {
    if pending.is_empty() {
        return;
    }
    // SLOWLOG: a write's arguments go to the log, so they are copied first, and only
    // while recent writes came near the threshold (see slowlog.rs).
    let log = &sess.shared.slowlog;
    let captured: Option<Vec<crate::slowlog::Captured>> = log.capture_writes().then(|| {
        pending
            .iter()
            .map(|(_, op)| match op {
                Op::Cmd { argv, .. } => crate::slowlog::capture(argv),
                _ => Vec::new(),
            })
            .collect()
    });
    let t0 = Instant::now();
    let (specs, ops): (Vec<_>, Vec<_>) = std::mem::take(pending).into_iter().unzip();
    let replies = sess.propose_commands(&specs, ops).await;
    let usec = t0.elapsed().as_micros() as u64 / specs.len().max(1) as u64;
    let log = &sess.shared.slowlog;
    log.note_write(usec);
    if let Some(captured) = captured.filter(|_| log.wants(usec)) {
        for argv in captured.into_iter().filter(|a| !a.is_empty()) {
            log.push_captured(argv, usec, Some(&sess.info));
        }
    }
    // Clients these writes woke are served before the replies go out (as Redis).
    sess.shared.broker.settle().await;
    for reply in replies {
        emit(&reply, sess.resp3);
    }
}

/// How long a read waits for this node to apply what it must see: the connection's
/// sync token (RESP's CLIENT SYNC-TOKEN, REST's `upstash-sync-token` header) or the
/// leader's read index.
pub const SYNC_WAIT: Duration = Duration::from_secs(10);

/// Why a read could not be served at the consistency it asked for. Its text is the
/// error reply (RESP) or the error body (REST).
#[derive(Debug)]
pub enum ConsistencyError {
    /// This node did not apply the sync token within [`SYNC_WAIT`].
    SyncTimeout { token: u64, applied: u64 },
    /// A strong-consistency read could not get the leader's read index.
    ReadIndex(consensus::ReadIndexError),
}

impl std::fmt::Display for ConsistencyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsistencyError::SyncTimeout { token, applied } => {
                let index = sync_token_index(*token);
                let of = if index == *token {
                    String::new()
                } else {
                    format!(" (log index {index})")
                };
                write!(
                    f,
                    "TRYAGAIN this node has not reached sync token {token}{of} within {} s (applied {applied})",
                    SYNC_WAIT.as_secs()
                )
            }
            ConsistencyError::ReadIndex(e) => {
                write!(f, "CLUSTERDOWN linearizable read unavailable: {e}")
            }
        }
    }
}

impl From<ConsistencyError> for String {
    fn from(e: ConsistencyError) -> String {
        e.to_string()
    }
}

/// Marks a REST sync token (`upstash-sync-token`): `MARK | index << SHIFT | n`, where
/// `index` is the log index the response covers and `n` makes the tokens of the
/// writes one node answers for the same index distinct and increasing
/// (`rest::issue_sync_token`). A value without the mark is a plain log index (RESP's
/// CLIENT SYNC-TOKEN, and tokens from before the mark existed) and still accepted.
pub const SYNC_TOKEN_MARK: u64 = 1 << 62;
pub const SYNC_TOKEN_SHIFT: u32 = 16;

/// The log index a sync token waits for: a REST token's index, or a plain index as is.
pub fn sync_token_index(token: u64) -> u64 {
    if token & SYNC_TOKEN_MARK != 0 {
        (token & !SYNC_TOKEN_MARK) >> SYNC_TOKEN_SHIFT
    } else {
        token
    }
}

/// Waits until this node has applied the log index of `token` (a plain log index or a
/// REST sync token, see [`sync_token_index`]), at most [`SYNC_WAIT`].
pub async fn wait_applied(shared: &Shared, token: u64) -> Result<(), ConsistencyError> {
    let index = sync_token_index(token);
    if index <= shared.node.applied_index() {
        return Ok(());
    }
    if tokio::time::timeout(SYNC_WAIT, shared.node.wait_applied(index))
        .await
        .is_err()
    {
        return Err(ConsistencyError::SyncTimeout {
            token,
            applied: shared.node.applied_index(),
        });
    }
    Ok(())
}

/// Before a read: a strong-consistency connection waits for the leader's read index;
/// every connection waits until this node has applied what it last wrote (its sync
/// token), so it always reads its own writes, also on a follower or read replica.
pub async fn await_consistency(
    shared: &Arc<Shared>,
    sess: &mut Session,
) -> Result<(), ConsistencyError> {
    let mut want = sess.last_index;
    if sess.strong {
        let idx = shared
            .node
            .read_index()
            .await
            .map_err(ConsistencyError::ReadIndex)?;
        want = want.max(idx);
    }
    wait_applied(shared, want).await?;
    sess.last_index = sess.last_index.max(want);
    Ok(())
}
