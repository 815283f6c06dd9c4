//! Bridging a TLS stream to a local socket pair: a task copies bytes both
//! ways between the encrypted stream and one end of the pair; the caller
//! gets the other end, with the same non-blocking, readiness-based I/O as
//! a plain TCP socket. The task ends when either side closes.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;

/// Spawns the copy task for `tls` and returns the plaintext end.
pub fn bridge<S>(tls: S) -> std::io::Result<UnixStream>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (near, far) = UnixStream::pair()?;
    tokio::spawn(async move {
        let mut tls = tls;
        let mut far = far;
        // Ends on EOF or error from either side; both are then dropped,
        // which closes the TLS connection and the pair.
        let _ = tokio::io::copy_bidirectional(&mut tls, &mut far).await;
    });
    Ok(near)
}
