//! RESP connections: read, parse (pipelined), dispatch in order, write replies.

use crate::clients::{ClientInfo, ObufLimit, CLASS_NORMAL, CLASS_PUBSUB};
use crate::dispatch;
use crate::session::{Session, REPLY_ON, REPLY_SKIP, REPLY_SKIP_NEXT};
use crate::shared::Shared;
use consensus::tls::MaybeTls;
use engine::Frame;
use resp::{ParseError, ParseLimits, RequestParser};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A client connection: plain TCP, or TLS on the `--tls-port` listener.
pub type Stream = MaybeTls<TcpStream>;
use tokio::sync::Notify;

/// Most commands handled per round before replies are flushed.
const MAX_PER_ROUND: usize = 1024;
/// Commands in a connection's first round; each round after one whose replies stayed
/// small may double it, up to [`MAX_PER_ROUND`].
const FIRST_ROUND: usize = 32;
/// Reply bytes a round aims to stay under: a round whose replies were bigger makes the
/// next round small enough to fit, by the size of its replies. Together with not
/// reading further requests while replies are unsent, this bounds what a client that
/// pipelines reads of big values and never reads its replies can make the node hold.
const ROUND_OUT_BYTES: usize = 8 << 20;

/// The error Redis answers a connection over `maxclients` with, before closing it.
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";

/// Serves RESP on `listener`; with `tls`, every connection first completes a TLS
/// handshake (in its own task, bounded in time) with the node's current certificate.
pub async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: bool,
) -> anyhow::Result<()> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        shared
            .stats
            .connections_received
            .fetch_add(1, Ordering::Relaxed);
        if !shared.admits(peer, "RESP") {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let Some(slot) = shared.try_conn_slot() else {
                shared
                    .stats
                    .rejected_connections
                    .fetch_add(1, Ordering::Relaxed);
                let mut s = stream;
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    s.write_all(format!("-{MAX_CLIENTS}\r\n").as_bytes()),
                )
                .await;
                return;
            };
            let acceptor = if tls {
                match consensus::tls::resp_acceptor() {
                    Some(a) => Some(a),
                    None => return,
                }
            } else {
                None
            };
            let stream = match MaybeTls::accept(stream, acceptor).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::info!("TLS connection from {peer} refused: {e}");
                    return;
                }
            };
            serve(shared, stream, peer).await;
            drop(slot);
        });
    }
}

async fn serve(shared: Arc<Shared>, stream: Stream, peer: std::net::SocketAddr) {
    let id = shared.clients.next_id();
    let info = Arc::new(Mutex::new(ClientInfo::new(
        id,
        peer,
        stream.get_ref().local_addr().unwrap_or(shared.local),
    )));
    {
        use std::os::fd::AsRawFd;
        let fd = stream.get_ref().as_raw_fd() as i64;
        if let Ok(mut i) = info.lock() {
            i.fd = fd;
        }
    }
    let kill = Arc::new(Notify::new());
    let (mb, mut rx) = crate::pubsub::Mailbox::new(id, kill.clone(), shared.obuf.clone());
    shared
        .clients
        .register(info.clone(), kill.clone(), Some(mb.clone()));
    let mut sess = Session::new(shared.clone(), id, info);
    let pending = mb.pending.clone();
    sess.mailbox = Some(mb);
    if let Err(e) = connection_loop(&shared, &mut sess, stream, &kill, &mut rx, &pending).await {
        tracing::debug!("client {id} ({peer}): {e}");
    }
    sess.leave_pubsub();
    sess.stop_tracking();
    shared.clients.unregister(id);
}

/// How a write ended.
enum Sent {
    Done,
    /// CLIENT KILL, or the output-buffer limit of a pub/sub feed.
    Killed,
}

/// Writes `out`, giving up when the connection is killed meanwhile, or when more than
/// the class's soft limit stays unsent for longer than its soft seconds.
async fn write_out(
    stream: &mut Stream,
    out: &[u8],
    kill: &Notify,
    limit: ObufLimit,
    soft_since: &mut Option<Instant>,
) -> std::io::Result<Sent> {
    let write = async {
        let mut written = 0;
        if limit.soft > 0 && out.len() as u64 >= limit.soft {
            let since = *soft_since.get_or_insert_with(Instant::now);
            let deadline = since + Duration::from_secs(limit.soft_secs);
            while ((out.len() - written) as u64) >= limit.soft {
                match tokio::time::timeout_at(deadline.into(), stream.write(&out[written..])).await {
                    Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(Ok(n)) => written += n,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => {
                        return Err(std::io::Error::other(format!(
                            "closed for overcoming of output buffer limits ({} bytes unsent for {} s, soft limit {})",
                            out.len() - written,
                            limit.soft_secs,
                            limit.soft
                        )))
                    }
                }
            }
        }
        *soft_since = None;
        stream.write_all(&out[written..]).await?;
        // A TLS stream may hold the last records until flushed (a no-op on plain TCP).
        stream.flush().await
    };
    tokio::select! {
        r = write => r.map(|()| Sent::Done),
        _ = kill.notified() => Ok(Sent::Killed),
    }
}

async fn connection_loop(
    shared: &Arc<Shared>,
    sess: &mut Session,
    mut stream: Stream,
    kill: &Notify,
    pushes: &mut tokio::sync::mpsc::UnboundedReceiver<crate::pubsub::Push>,
    pending: &crate::pubsub::Pending,
) -> std::io::Result<()> {
    let limits = ParseLimits::default();
    let mut parser = RequestParser::new();
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut round = FIRST_ROUND;
    let mut soft_since: Option<Instant> = None;
    let reply_mode = sess.reply.clone();
    loop {
        let n = tokio::select! {
            r = stream.read(&mut chunk) => r?,
            _ = kill.notified() => return Ok(()),
            Some(p) = pushes.recv() => {
                // Pub/sub messages, MONITOR lines and invalidations, plus whatever else
                // is queued (CLIENT REPLY OFF does not hold them back).
                let mut taken = p.cost();
                if let Some(f) = sess.push_out(&p) {
                    resp::encode(&f, sess.resp3, &mut out);
                }
                while out.len() < 1 << 20 {
                    let Ok(p) = pushes.try_recv() else { break };
                    taken += p.cost();
                    if let Some(f) = sess.push_out(&p) {
                        resp::encode(&f, sess.resp3, &mut out);
                    }
                }
                if out.is_empty() {
                    pending.taken(taken);
                    continue;
                }
                shared
                    .stats
                    .net_output_bytes
                    .fetch_add(out.len() as u64, Ordering::Relaxed);
                // The mailbox's own accounting holds this feed to the pubsub class.
                let sent = write_out(&mut stream, &out, kill, NO_LIMIT, &mut None).await?;
                pending.taken(taken);
                out.clear();
                if matches!(sent, Sent::Killed) {
                    return Ok(());
                }
                continue;
            }
        };
        if n == 0 {
            return Ok(());
        }
        shared
            .stats
            .net_input_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        buf.extend_from_slice(&chunk[..n]);
        // Parse and run every complete request, a bounded round at a time.
        loop {
            let mut reqs = Vec::new();
            let mut pos = 0;
            let mut fatal: Option<String> = None;
            // Until a client has authenticated, each request runs before the next is
            // parsed: the limits for unauthenticated clients end with AUTH.
            let cap = if sess.authenticated { round } else { 1 };
            while reqs.len() < cap {
                match parser.parse(&buf[pos..], &limits, sess.authenticated) {
                    Ok(Some((argv, used))) => {
                        pos += used;
                        if !argv.is_empty() {
                            reqs.push(argv);
                        }
                    }
                    Ok(None) => break,
                    Err(ParseError::RequestTooLarge) => {
                        fatal = Some("ERR max request size exceeded".into());
                        break;
                    }
                    Err(ParseError::Protocol(msg)) => {
                        fatal = Some(msg);
                        break;
                    }
                }
            }
            buf.drain(..pos);
            let ran = reqs.len();
            let more = ran == cap;
            // Pushes queued before these requests were read (an invalidation, a
            // message) go out before their replies, as Redis would have sent them.
            if pending.held() > 0 {
                let mut taken = 0;
                while out.len() < 1 << 20 {
                    let Ok(p) = pushes.try_recv() else { break };
                    taken += p.cost();
                    if let Some(f) = sess.push_out(&p) {
                        resp::encode(&f, sess.resp3, &mut out);
                    }
                }
                pending.taken(taken);
            }
            let class = if sess.is_subscriber() {
                CLASS_PUBSUB
            } else {
                CLASS_NORMAL
            };
            let limit = shared.obuf.get(class);
            let mut over = false;
            let mut quit = false;
            let mut rest = reqs;
            while !rest.is_empty() && !quit && !over {
                let mut now = rest;
                rest = Vec::new();
                // CLIENT PAUSE: the requests before the first one that must wait run;
                // that one waits (the replies so far sent) until the pause ends.
                if let Some(all) = shared.clients.paused() {
                    if let Some(i) = first_paused(sess, &now, all) {
                        if i == 0 {
                            if !out.is_empty() {
                                let sent =
                                    write_out(&mut stream, &out, kill, limit, &mut soft_since)
                                        .await?;
                                out.clear();
                                if matches!(sent, Sent::Killed) {
                                    return Ok(());
                                }
                            }
                            tokio::select! {
                                _ = shared.clients.pause_changed() => {}
                                _ = kill.notified() => return Ok(()),
                            }
                            rest = now;
                            continue;
                        }
                        rest = now.split_off(i);
                    }
                }
                quit = dispatch::run_batch(
                    shared,
                    sess,
                    now,
                    Some(stream.get_ref()),
                    &mut |f: &Frame, resp3: bool| {
                        if over {
                            return;
                        }
                        if let Frame::Error(e) = f {
                            shared.stats.count_error(e);
                        }
                        // CLIENT REPLY OFF / SKIP: replies dropped (pushes are not).
                        match reply_mode.load(Ordering::Relaxed) {
                            REPLY_ON => {}
                            REPLY_SKIP => {
                                reply_mode.store(REPLY_SKIP_NEXT, Ordering::Relaxed);
                                return;
                            }
                            REPLY_SKIP_NEXT => {
                                reply_mode.store(REPLY_ON, Ordering::Relaxed);
                                return;
                            }
                            _ => return,
                        }
                        resp::encode(f, resp3, &mut out);
                        // Redis checks the hard limit as replies are added: the client is
                        // closed without the rest.
                        over = limit.hard > 0 && out.len() as u64 >= limit.hard;
                    },
                )
                .await;
            }
            sess.publish_state();
            if over {
                tracing::warn!(
                    "client id={} closed for overcoming of output buffer limits ({} bytes of replies; {} class hard limit {})",
                    sess.id,
                    out.len(),
                    if class == CLASS_PUBSUB { "pubsub" } else { "normal" },
                    limit.hard
                );
                return Ok(());
            }
            if let Some(msg) = &fatal {
                // Like Redis: answer the protocol error, then close this connection only.
                resp::encode(&Frame::Error(msg.clone()), sess.resp3, &mut out);
            }
            // Size the next round by this one's replies.
            round = if out.len() > ROUND_OUT_BYTES {
                (ROUND_OUT_BYTES / (out.len() / ran.max(1)).max(1)).clamp(1, MAX_PER_ROUND)
            } else if more {
                (round * 2).min(MAX_PER_ROUND)
            } else {
                round
            };
            if !out.is_empty() {
                shared
                    .stats
                    .net_output_bytes
                    .fetch_add(out.len() as u64, Ordering::Relaxed);
                let sent = write_out(&mut stream, &out, kill, limit, &mut soft_since).await?;
                out.clear();
                if out.capacity() > 4 * ROUND_OUT_BYTES {
                    out.shrink_to(64 * 1024);
                }
                if matches!(sent, Sent::Killed) {
                    return Ok(());
                }
            }
            if quit || fatal.is_some() {
                return Ok(());
            }
            if !more {
                break;
            }
        }
        if buf.capacity() > 1 << 20 && buf.len() < 1 << 16 {
            buf.shrink_to(64 * 1024);
        }
    }
}

const NO_LIMIT: ObufLimit = ObufLimit {
    hard: 0,
    soft: 0,
    soft_secs: 0,
};

/// With CLIENT PAUSE in force, the index of the first of `reqs` that must wait: any
/// command under `ALL`; under `WRITE`, a write (PUBLISH and scripts included: they go
/// through the log) or an EXEC whose transaction holds one, as Redis.
fn first_paused(sess: &Session, reqs: &[Vec<Vec<u8>>], all: bool) -> Option<usize> {
    if all {
        return (!reqs.is_empty()).then_some(0);
    }
    let mut in_multi = sess.multi.is_some();
    let mut multi_writes = sess.multi.as_ref().is_some_and(|m| {
        m.cmds
            .iter()
            .any(|(s, _, a)| crate::clients::held_by_write_pause(&sess.shared, s, a))
    });
    for (i, argv) in reqs.iter().enumerate() {
        let Some(spec) = argv.first().and_then(|n| engine::lookup(n)) else {
            continue;
        };
        match spec.session_cmd() {
            Some(engine::SessionCmd::Multi) => {
                in_multi = true;
                multi_writes = false;
                continue;
            }
            Some(engine::SessionCmd::Exec) => {
                if in_multi && multi_writes {
                    return Some(i);
                }
                in_multi = false;
                continue;
            }
            Some(engine::SessionCmd::Discard) => {
                in_multi = false;
                continue;
            }
            _ => {}
        }
        if crate::clients::held_by_write_pause(&sess.shared, spec, argv) {
            if in_multi {
                multi_writes = true;
            } else {
                return Some(i);
            }
        }
    }
    None
}
