//! Runs a request's commands through the shared dispatcher (no command logic here):
//! one command, a pipeline (in order, not atomic, errors inline) or a transaction
//! (all commands checked first, then ONE log entry).

use super::auth::{self, Access};
use super::reply::Body;
use super::request::{self, Argv, MAX_REQUEST_BYTES, TOO_LARGE};
use crate::dispatch;
use crate::session::Session;
use crate::shared::Shared;
use engine::{CmdError, Exec, Frame};
use std::sync::Arc;
use std::time::Instant;

/// The front end's own checks for a command: size, and what the token allows. Unknown
/// commands and wrong arity are left to the dispatcher, which answers them as RESP does.
fn admit(access: &Access, argv: &[Vec<u8>]) -> Result<(), CmdError> {
    if request::size(argv) > MAX_REQUEST_BYTES {
        return Err(CmdError::new(TOO_LARGE));
    }
    match engine::lookup(&argv[0]) {
        Some(spec) => auth::admit(spec, access),
        None => Ok(()),
    }
}

/// Runs `cmds` in order, each reply (or admission error) pushed to `body`. Consecutive
/// admitted commands go to the dispatcher together, so their writes share a proposal.
pub async fn run(
    shared: &Arc<Shared>,
    sess: &mut Session,
    access: &Access,
    cmds: Vec<Argv>,
    body: &mut Body,
) {
    let mut batch: Vec<Argv> = Vec::new();
    for argv in cmds {
        match admit(access, &argv) {
            Ok(()) => batch.push(argv),
            Err(e) => {
                dispatch_all(shared, sess, std::mem::take(&mut batch), body).await;
                shared.stats.count_error(&e.0);
                body.push(&Frame::Error(e.0));
            }
        }
    }
    dispatch_all(shared, sess, batch, body).await;
}

async fn dispatch_all(shared: &Arc<Shared>, sess: &mut Session, reqs: Vec<Argv>, body: &mut Body) {
    if reqs.is_empty() {
        return;
    }
    // Every REST command yields exactly one reply (QUIT, the only command that stops a
    // batch early, is refused by `auth::admit`).
    dispatch::run_batch(shared, sess, reqs, None, &mut |f: &Frame, _resp3: bool| {
        if let Frame::Error(e) = f {
            shared.stats.count_error(e);
        }
        body.push(f)
    })
    .await;
}

/// /multi-exec: every command is checked (table, token, size) before anything runs; any
/// failure discards the whole transaction with that error. The commands — reads
/// included, so nothing can interleave — are then proposed as one `Op::Multi`, exactly
/// as RESP's EXEC proposes them, which every replica applies atomically. Returns the
/// replies, or the discard error.
pub async fn multi_exec(
    shared: &Arc<Shared>,
    sess: &mut Session,
    access: &Access,
    cmds: Vec<Argv>,
) -> Result<Vec<Frame>, String> {
    let mut specs = Vec::with_capacity(cmds.len());
    for argv in &cmds {
        let checked = admit(access, argv).and_then(|()| {
            let spec = dispatch::classify(sess, argv)?;
            if !matches!(spec.exec, Exec::Engine(_)) {
                // Connection/server commands (INFO, TIME, ...) run outside the log and
                // could not be part of the atomic entry.
                return Err(CmdError::new(format!(
                    "ERR '{}' cannot run inside /multi-exec: send it on its own",
                    spec.name
                )));
            }
            Ok(spec)
        });
        match checked {
            Ok(spec) => specs.push(spec),
            Err(e) => {
                shared.stats.count_error(&e.0);
                return Err(e.0);
            }
        }
    }
    for spec in &specs {
        sess.note_command(spec.name);
    }
    let db = sess.db;
    let cmds = cmds.into_iter().map(|argv| (db, argv)).collect();
    let t0 = Instant::now();
    let res = sess.propose_multi(cmds, Vec::new()).await;
    sess.record_stats(&specs, t0, res.as_deref().unwrap_or_default());
    res.map_err(|f| match f {
        Frame::Error(msg) => msg,
        _ => "ERR transaction failed".into(),
    })
}
