//! Server-sent events: `/subscribe/{channel}...`, `/psubscribe/{pattern}...` and
//! `/monitor`, in the `data:` formats of restapi.md (`data: subscribe,chat,1`,
//! `data: message,chat,hello`, `data: "OK"` then one MONITOR line per command).
//!
//! The stream is an ordinary broker client: it subscribes through the same
//! [`Broker`](crate::pubsub::Broker) as RESP connections, so it receives what any RESP
//! or REST PUBLISH sends, on any node. When the HTTP client goes away hyper drops the
//! body, and the guard inside it removes the subscriptions.

use crate::pubsub::{Broker, Kind, Mailbox, Push};
use crate::shared::Shared;
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_stream::StreamExt;

pub enum What {
    Subscribe(Vec<Vec<u8>>),
    PSubscribe(Vec<Vec<u8>>),
    Monitor,
}

/// Unsubscribes the stream's pseudo-client when the response body is dropped.
struct Guard {
    broker: Arc<Broker>,
    id: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.broker.remove_client(self.id);
    }
}

fn event(text: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(text.len() + 8);
    b.extend_from_slice(b"data: ");
    // An SSE data line ends at a newline: embedded line breaks continue as data lines.
    for &c in text {
        if c == b'\n' {
            b.extend_from_slice(b"\ndata: ");
        } else if c != b'\r' {
            b.push(c);
        }
    }
    b.extend_from_slice(b"\n\n");
    Bytes::from(b)
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&b","[..])
}

/// Starts the stream: the confirmations first, then every message as it arrives.
pub fn start(shared: &Arc<Shared>, what: What) -> super::Resp {
    let id = shared.clients.next_id();
    let (mb, rx) = Mailbox::new(
        id,
        Arc::new(tokio::sync::Notify::new()),
        shared.obuf.clone(),
    );
    let pending = mb.pending.clone();
    let broker = shared.broker.clone();
    let mut first = Vec::new();
    match &what {
        What::Subscribe(chs) | What::PSubscribe(chs) => {
            let (kind, word) = match what {
                What::Subscribe(_) => (Kind::Channel, &b"subscribe"[..]),
                _ => (Kind::Pattern, &b"psubscribe"[..]),
            };
            for (i, ch) in chs.iter().enumerate() {
                broker.subscribe(kind, ch, &mb);
                let n = (i + 1).to_string();
                first.push(event(&join(&[word, ch, n.as_bytes()])));
            }
        }
        What::Monitor => {
            broker.add_monitor(&mb);
            first.push(event(b"\"OK\""));
        }
    }
    let guard = Guard { broker, id };
    let head = tokio_stream::iter(first);
    // A stream over its output-buffer limit ends (its client is then disconnected) the
    // next time the HTTP connection asks for more; meanwhile it receives nothing more.
    let dead = pending.clone();
    let rest = tokio_stream::wrappers::UnboundedReceiverStream::new(rx)
        .take_while(move |_| !dead.is_dead())
        .map(move |p| {
            let _keep = &guard;
            // Handed to hyper, which asks for the next event once this one is written.
            pending.taken(p.cost());
            match p {
                Push::Message { channel, payload } => {
                    event(&join(&[b"message", &channel, &payload]))
                }
                Push::PMessage {
                    pattern,
                    channel,
                    payload,
                } => event(&join(&[b"pmessage", &pattern, &channel, &payload])),
                Push::SMessage { channel, payload } => {
                    event(&join(&[b"smessage", &channel, &payload]))
                }
                Push::Monitor(line) => event(line.as_bytes()),
                // Client-side caching pushes go to RESP connections with tracking on,
                // never to a REST stream; an SSE comment line if one ever did.
                Push::Invalidate(_) | Push::RedirBroken(_) => Bytes::from_static(b":\n\n"),
            }
        });
    let stream = head
        .chain(rest)
        .map(|b| Ok::<_, Infallible>(Frame::data(b)));
    let mut r = hyper::Response::new(StreamBody::new(stream).boxed());
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    super::cors(h);
    r
}
