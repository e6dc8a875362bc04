//! The one dispatcher both front ends call: table checks, then writes through the log
//! (consecutive writes batched into one proposal), reads from the local state machine,
//! connection commands through the session. No command logic lives here.

use crate::session::{Outcome, Session};
use crate::shared::Shared;
use consensus::Op;
use engine::{flags, CmdError, Exec, Frame};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Runs a pipeline's commands in order. Consecutive writes go to the log together as one
/// proposal; a read or connection command first waits for the writes before it, so
/// every reply reflects everything the connection sent earlier. Returns true on QUIT.
pub async fn run_batch(
    shared: &Arc<Shared>,
    sess: &mut Session,
    reqs: Vec<Vec<Vec<u8>>>,
    emit: &mut (dyn FnMut(&Frame, bool) + Send),
) -> bool {
    let mut pending: Vec<(&'static engine::CommandSpec, Op)> = Vec::new();
    let mut quit = false;
    for argv in reqs {
        if quit {
            break;
        }
        let spec = match classify(sess, &argv) {
            Ok(s) => s,
            Err(e) => {
                flush_writes(shared, sess, &mut pending, emit).await;
                shared.stats.error_replies.fetch_add(1, Ordering::Relaxed);
                emit(&Frame::Error(e.0), sess.resp3);
                continue;
            }
        };
        sess.note_command(spec.name);
        match spec.exec {
            Exec::Engine(_) if spec.is_write() => {
                pending.push((spec, Op::Cmd { db: sess.db, argv }));
            }
            Exec::Engine(_) => {
                flush_writes(shared, sess, &mut pending, emit).await;
                let t0 = Instant::now();
                if let Err(e) = await_consistency(shared, sess).await {
                    shared.stats.record(spec, 0, true);
                    emit(&Frame::Error(e), sess.resp3);
                    continue;
                }
                let reply = shared.node.read(sess.db, &argv);
                shared
                    .stats
                    .record(spec, t0.elapsed().as_micros() as u64, reply.is_error());
                emit(&reply, sess.resp3);
            }
            Exec::Server => {
                flush_writes(shared, sess, &mut pending, emit).await;
                let t0 = Instant::now();
                let (reply, outcome) = sess.handle(spec, &argv).await;
                shared
                    .stats
                    .record(spec, t0.elapsed().as_micros() as u64, reply.is_error());
                emit(&reply, sess.resp3);
                if outcome == Outcome::Close {
                    quit = true;
                }
            }
        }
    }
    flush_writes(shared, sess, &mut pending, emit).await;
    quit
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
    Ok(spec)
}

async fn flush_writes(
    shared: &Arc<Shared>,
    sess: &mut Session,
    pending: &mut Vec<(&'static engine::CommandSpec, Op)>,
    emit: &mut (dyn FnMut(&Frame, bool) + Send),
) {
    if pending.is_empty() {
        return;
    }
    let t0 = Instant::now();
    let (specs, ops): (Vec<_>, Vec<_>) = std::mem::take(pending).into_iter().unzip();
    let n = ops.len();
    let res = shared.node.write(ops).await;
    let usec = t0.elapsed().as_micros() as u64 / n as u64;
    match res {
        Ok((index, replies)) => {
            sess.last_index = sess.last_index.max(index);
            for (spec, reply) in specs.into_iter().zip(replies) {
                shared.stats.record(spec, usec, reply.is_error());
                emit(&reply, sess.resp3);
            }
        }
        Err(e) => {
            let f = e.to_frame();
            for spec in specs {
                shared.stats.record(spec, usec, true);
                emit(&f, sess.resp3);
            }
        }
    }
}

/// Before a read: a strong-consistency connection waits for the leader's read index;
/// every connection waits until this node has applied what it last wrote (its sync
/// token), so it always reads its own writes, also on a follower or read replica.
pub async fn await_consistency(shared: &Arc<Shared>, sess: &mut Session) -> Result<(), String> {
    let mut want = sess.last_index;
    if sess.strong {
        let idx = shared
            .node
            .read_index()
            .await
            .map_err(|e| format!("CLUSTERDOWN linearizable read unavailable: {e}"))?;
        want = want.max(idx);
    }
    if want > shared.node.applied_index() {
        let wait = shared.node.wait_applied(want);
        if tokio::time::timeout(std::time::Duration::from_secs(10), wait)
            .await
            .is_err()
        {
            return Err(format!(
                "TRYAGAIN this node has not yet applied index {want} (applied {})",
                shared.node.applied_index()
            ));
        }
    }
    sess.last_index = sess.last_index.max(want);
    Ok(())
}
