//! Accepted REST sockets: TCP_NODELAY, and TCP_QUICKACK re-armed after every read.
//!
//! Many HTTP clients write the request head and the body in two `write`s. With Nagle on
//! the client, the body waits until the head is acknowledged, and Linux delays that ACK
//! by up to 40 ms once a connection looks interactive (keep-alive request/response).
//! Quick-ack mode is not sticky (the kernel drops back to delayed ACKs on its own), so
//! it is set again after each read: the ACK for a lone head goes out at once.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub struct QuickAck(TcpStream);

impl QuickAck {
    pub fn new(stream: TcpStream) -> QuickAck {
        let _ = stream.set_nodelay(true);
        quickack(&stream);
        QuickAck(stream)
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn quickack(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_tcp_quickack(true);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quickack(_: &TcpStream) {}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.0).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            quickack(&self.0);
        }
        r
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
