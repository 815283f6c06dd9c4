//! The untagged packets a client sends before the session starts:
//! StartupMessage, SSLRequest, GSSENCRequest and CancelRequest.

use super::reader::BodyReader;

/// Largest startup packet accepted (PostgreSQL's own limit).
pub const MAX_STARTUP_PACKET: usize = 10_000;

const PROTOCOL_3_0: i32 = 196_608;
const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;
const CANCEL_REQUEST: i32 = 80_877_102;

/// A decoded pre-session packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket {
    /// Protocol 3.0 startup with its parameters, in order.
    Startup(Vec<(String, String)>),
    /// Asks for TLS.
    SslRequest,
    /// Asks for GSSAPI encryption.
    GssEncRequest,
    /// Cancels the query running on the session identified by the key.
    Cancel { pid: i32, secret: i32 },
}

/// Why a pre-session packet is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupError {
    /// The length field is outside 8..=10000.
    BadLength(u32),
    /// A protocol version the proxy does not speak.
    UnsupportedVersion(i32),
    /// The parameter list is not well formed.
    Malformed(&'static str),
}

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartupError::BadLength(n) => write!(f, "invalid length of startup packet: {n}"),
            StartupError::UnsupportedVersion(v) => write!(
                f,
                "unsupported frontend protocol {}.{}: shardwire speaks protocol 3.0",
                v >> 16,
                v & 0xffff
            ),
            StartupError::Malformed(why) => write!(f, "invalid startup packet: {why}"),
        }
    }
}

/// Checks the 4-byte length prefix of a startup packet, returning the
/// total packet length.
pub fn packet_length(prefix: [u8; 4]) -> Result<usize, StartupError> {
    let len = u32::from_be_bytes(prefix);
    if !(8..=MAX_STARTUP_PACKET as u32).contains(&len) {
        return Err(StartupError::BadLength(len));
    }
    Ok(len as usize)
}

/// Decodes a whole packet, length prefix included.
pub fn parse(packet: &[u8]) -> Result<StartupPacket, StartupError> {
    let body = packet
        .get(4..)
        .ok_or(StartupError::Malformed("too short"))?;
    let mut r = BodyReader::new(body);
    let code = r.i32().ok_or(StartupError::Malformed("too short"))?;
    match code {
        SSL_REQUEST => Ok(StartupPacket::SslRequest),
        GSSENC_REQUEST => Ok(StartupPacket::GssEncRequest),
        CANCEL_REQUEST => {
            let pid = r
                .i32()
                .ok_or(StartupError::Malformed("short cancel request"))?;
            let secret = r
                .i32()
                .ok_or(StartupError::Malformed("short cancel request"))?;
            Ok(StartupPacket::Cancel { pid, secret })
        }
        PROTOCOL_3_0 => parse_params(&mut r).map(StartupPacket::Startup),
        v if v >> 16 == 3 => {
            // 3.x with a newer minor version: PostgreSQL would negotiate down;
            // the parameters are laid out identically, so accept them as 3.0.
            parse_params(&mut r).map(StartupPacket::Startup)
        }
        v => Err(StartupError::UnsupportedVersion(v)),
    }
}

fn parse_params(r: &mut BodyReader<'_>) -> Result<Vec<(String, String)>, StartupError> {
    let mut params = Vec::new();
    loop {
        let name = r
            .cstr()
            .ok_or(StartupError::Malformed("missing terminator"))?;
        if name.is_empty() {
            return Ok(params);
        }
        let value = r
            .cstr()
            .ok_or(StartupError::Malformed("parameter without value"))?;
        let name = std::str::from_utf8(name)
            .map_err(|_| StartupError::Malformed("parameter name is not UTF-8"))?;
        let value = std::str::from_utf8(value)
            .map_err(|_| StartupError::Malformed("parameter value is not UTF-8"))?;
        params.push((name.to_string(), value.to_string()));
    }
}

#[cfg(test)]
mod tests;
