//! Turning a client's plaintext TCP connection into TLS during the
//! handshake: after an SSLRequest answered `S` (anything the client sent
//! after the SSLRequest and before its ClientHello is a protocol
//! violation, never carried into the TLS session), or for PostgreSQL 17's
//! direct TLS (the first byte is a ClientHello; ALPN `postgresql` is
//! required).

use crate::protocol::{ErrorResponse, SqlState};
use crate::socket::Socket;
use crate::tls::ClientTls;
use tokio::net::UnixStream;

/// How the client started TLS.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// SSLRequest, answered `S` by the caller.
    Negotiated,
    /// A TLS ClientHello as the very first bytes.
    Direct,
}

/// The first byte of a TLS handshake record.
pub(super) const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Whether the client sent bytes after its SSLRequest without waiting
/// for the answer.
pub(super) fn sent_early_bytes(socket: &Socket) -> bool {
    let mut probe = [0u8; 1];
    matches!(socket.try_read(&mut probe), Ok(n) if n > 0)
}

/// Runs the TLS handshake on `socket` (which must be plain TCP) and
/// replaces it with the bridged plaintext end. `Err(None)`: just close.
pub(super) async fn upgrade(
    socket: &mut Socket,
    tls: &ClientTls,
    start: Start,
) -> Result<(), Option<ErrorResponse>> {
    let Some(acceptor) = &tls.acceptor else {
        return Err(None);
    };
    let (placeholder, _) = UnixStream::pair().map_err(|_| None)?;
    let Socket::Tcp(tcp) = std::mem::replace(socket, Socket::Bridged(placeholder)) else {
        // Already TLS: a second SSLRequest inside TLS is a violation.
        return Err(Some(ErrorResponse::fatal(
            SqlState::ProtocolViolation,
            "SSLRequest received on a connection that already uses TLS",
        )));
    };
    let stream = match acceptor.accept(tcp).await {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(error = %e, "client TLS handshake failed");
            return Err(None);
        }
    };
    if start == Start::Direct && stream.get_ref().1.alpn_protocol() != Some(b"postgresql") {
        tracing::info!("direct TLS without ALPN \"postgresql\": closed");
        return Err(None);
    }
    let near = crate::tls::bridge(stream).map_err(|_| None)?;
    *socket = Socket::Bridged(near);
    Ok(())
}
