//! RESP connections: read, parse (pipelined), dispatch in order, write replies.

use crate::clients::ClientInfo;
use crate::dispatch;
use crate::session::Session;
use crate::shared::Shared;
use engine::Frame;
use resp::{ParseError, ParseLimits};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Commands handled per round before replies are flushed (bounds memory per pipeline).
const MAX_PER_ROUND: usize = 1024;

pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) -> anyhow::Result<()> {
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
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            if shared.clients.count() >= shared.maxclients.load(Ordering::Relaxed) {
                shared
                    .stats
                    .rejected_connections
                    .fetch_add(1, Ordering::Relaxed);
                let mut s = stream;
                let _ = s.write_all(b"-ERR max number of clients reached\r\n").await;
                return;
            }
            serve(shared, stream, peer).await;
        });
    }
}

async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: std::net::SocketAddr) {
    let id = shared.clients.next_id();
    let info = Arc::new(Mutex::new(ClientInfo::new(
        id,
        peer,
        stream.local_addr().unwrap_or(shared.local),
    )));
    let kill = Arc::new(Notify::new());
    shared.clients.register(info.clone(), kill.clone());
    let mut sess = Session::new(shared.clone(), id, info);
    let (tx, mut rx) = tokio::sync::mpsc::channel(crate::pubsub::MAILBOX);
    sess.mailbox = Some(crate::pubsub::Mailbox {
        id,
        tx,
        kill: kill.clone(),
    });
    if let Err(e) = connection_loop(&shared, &mut sess, stream, &kill, &mut rx).await {
        tracing::debug!("client {id} ({peer}): {e}");
    }
    sess.leave_pubsub();
    shared.clients.unregister(id);
}

async fn connection_loop(
    shared: &Arc<Shared>,
    sess: &mut Session,
    mut stream: TcpStream,
    kill: &Notify,
    pushes: &mut tokio::sync::mpsc::Receiver<crate::pubsub::Push>,
) -> std::io::Result<()> {
    let limits = ParseLimits::default();
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            r = stream.read(&mut chunk) => r?,
            _ = kill.notified() => return Ok(()),
            Some(p) = pushes.recv() => {
                // Pub/sub messages and MONITOR lines, plus whatever else is queued.
                resp::encode(&crate::session::push_frame(&p, sess.resp3), sess.resp3, &mut out);
                while let Ok(p) = pushes.try_recv() {
                    resp::encode(&crate::session::push_frame(&p, sess.resp3), sess.resp3, &mut out);
                    if out.len() > 1 << 20 {
                        break;
                    }
                }
                shared
                    .stats
                    .net_output_bytes
                    .fetch_add(out.len() as u64, Ordering::Relaxed);
                stream.write_all(&out).await?;
                out.clear();
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
            while reqs.len() < MAX_PER_ROUND {
                match resp::parse_request(&buf[pos..], &limits) {
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
            let more = reqs.len() == MAX_PER_ROUND;
            let quit = dispatch::run_batch(
                shared,
                sess,
                reqs,
                Some(&stream),
                &mut |f: &Frame, resp3: bool| resp::encode(f, resp3, &mut out),
            )
            .await;
            if let Some(msg) = &fatal {
                // Like Redis: answer the protocol error, then close this connection only.
                resp::encode(&Frame::Error(msg.clone()), sess.resp3, &mut out);
            }
            if !out.is_empty() {
                shared
                    .stats
                    .net_output_bytes
                    .fetch_add(out.len() as u64, Ordering::Relaxed);
                stream.write_all(&out).await?;
                out.clear();
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
