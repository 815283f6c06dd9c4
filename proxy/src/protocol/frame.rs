//! Framing of tagged protocol messages: `tag (1 byte) + length (4 bytes,
//! including itself) + body`. Only the header is decoded here.

/// Size of a tagged message header: tag plus length.
pub const HEADER_LEN: usize = 5;

/// A decoded header of a tagged message at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The message type byte.
    pub tag: u8,
    /// Total frame length in bytes: tag + length field + body.
    pub frame_len: usize,
}

/// Why a frame header is unacceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The length field is smaller than the 4 bytes it occupies.
    BadLength { tag: u8, length: u32 },
    /// The message is larger than the configured limit.
    TooLarge {
        tag: u8,
        length: usize,
        limit: usize,
    },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::BadLength { tag, length } => write!(
                f,
                "invalid message length {length} for message type {}",
                describe_tag(*tag)
            ),
            FrameError::TooLarge { tag, length, limit } => write!(
                f,
                "message type {} of {length} bytes exceeds the limit of {limit} bytes (setting proxy.max_message_size)",
                describe_tag(*tag)
            ),
        }
    }
}

/// Decodes the header at the start of `buf`, if at least 5 bytes are there.
/// `limit` bounds the frame length (use `usize::MAX` for no limit).
pub fn peek_header(buf: &[u8], limit: usize) -> Result<Option<Header>, FrameError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let tag = buf[0];
    let length = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    if length < 4 {
        return Err(FrameError::BadLength { tag, length });
    }
    let frame_len = length as usize + 1;
    if frame_len > limit {
        return Err(FrameError::TooLarge {
            tag,
            length: frame_len,
            limit,
        });
    }
    Ok(Some(Header { tag, frame_len }))
}

/// A printable form of a tag byte for error messages.
pub fn describe_tag(tag: u8) -> String {
    if tag.is_ascii_graphic() {
        format!("'{}'", tag as char)
    } else {
        format!("0x{tag:02x}")
    }
}

#[cfg(test)]
mod tests;
