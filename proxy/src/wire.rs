//! Reading whole frames from a socket for the slow, sequential parts of a
//! connection's life: client startup and authentication, server login, and
//! the proxy's own internal queries. The data path does not use this; it
//! scans its buffers in place (see `session::relay`).

use crate::protocol::frame::{peek_header, FrameError};
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// One complete tagged message.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Message type.
    pub tag: u8,
    /// Body, without tag and length.
    pub body: Bytes,
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Socket error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection.
    #[error("connection closed by peer")]
    Closed,
    /// The peer sent an invalid frame header.
    #[error("{0}")]
    Frame(FrameError),
}

/// Reads one frame, buffering in `buf` (which may keep bytes of the next).
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    limit: usize,
) -> Result<Frame, WireError> {
    loop {
        if let Some(h) = peek_header(buf, limit).map_err(WireError::Frame)? {
            if buf.len() >= h.frame_len {
                let mut frame = buf.split_to(h.frame_len);
                frame.advance(5);
                return Ok(Frame {
                    tag: h.tag,
                    body: frame.freeze(),
                });
            }
            buf.reserve(h.frame_len - buf.len());
        } else {
            buf.reserve(1024);
        }
        if reader.read_buf(buf).await? == 0 {
            return Err(WireError::Closed);
        }
    }
}
