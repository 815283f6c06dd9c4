//! A connection's byte stream as the session sees it: a plain TCP socket,
//! or the local end of a TLS bridge (a socket pair whose other end a task
//! pumps through rustls). Both have readiness-based non-blocking I/O, so
//! the relay loop is the same for plaintext and TLS peers.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A plaintext or TLS-bridged connection.
#[derive(Debug)]
pub enum Socket {
    /// Plain TCP.
    Tcp(TcpStream),
    /// The plaintext side of a TLS bridge.
    Bridged(UnixStream),
}

impl Socket {
    /// Waits until it may be readable. Uses the socket's single reader
    /// slot (`poll_read_ready`), not tokio's list of readiness waiters
    /// (a lock and a list entry per wait): one task at a time may wait,
    /// which is how sessions use their sockets.
    pub fn readable(&self) -> impl std::future::Future<Output = io::Result<()>> + '_ {
        std::future::poll_fn(|cx| self.poll_read_ready(cx))
    }

    /// Waits until it may be writable (the single writer slot, as above).
    pub fn writable(&self) -> impl std::future::Future<Output = io::Result<()>> + '_ {
        std::future::poll_fn(|cx| self.poll_write_ready(cx))
    }

    /// Polls read readiness through the socket's single reader slot.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Socket::Tcp(s) => s.poll_read_ready(cx),
            Socket::Bridged(s) => s.poll_read_ready(cx),
        }
    }

    /// Polls write readiness through the socket's single writer slot.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Socket::Tcp(s) => s.poll_write_ready(cx),
            Socket::Bridged(s) => s.poll_write_ready(cx),
        }
    }

    /// Writes without waiting (`WouldBlock` when full).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.try_write(buf),
            Socket::Bridged(s) => s.try_write(buf),
        }
    }

    /// Reads without waiting (`WouldBlock` when empty).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.try_read(buf),
            Socket::Bridged(s) => s.try_read(buf),
        }
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Socket::Bridged(_))
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Socket::Bridged(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Socket::Bridged(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            Socket::Bridged(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Socket::Bridged(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
