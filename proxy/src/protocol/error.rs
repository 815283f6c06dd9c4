//! ErrorResponse: the SQLSTATE codes the proxy uses and a builder for the
//! error (or notice) frames it sends to clients.

use super::builder::{frame, put_cstr};
use bytes::{BufMut, BytesMut};

/// The SQLSTATE codes the proxy itself raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlState {
    /// 08P01 protocol_violation.
    ProtocolViolation,
    /// 08006 connection_failure.
    ConnectionFailure,
    /// 08001 sqlclient_unable_to_establish_sqlconnection.
    UnableToConnect,
    /// 28P01 invalid_password.
    InvalidPassword,
    /// 28000 invalid_authorization_specification.
    InvalidAuthorization,
    /// 3D000 invalid_catalog_name.
    InvalidCatalogName,
    /// 53300 too_many_connections.
    TooManyConnections,
    /// 0A000 feature_not_supported.
    FeatureNotSupported,
    /// 42P05 duplicate_prepared_statement.
    DuplicatePreparedStatement,
    /// 57P01 admin_shutdown.
    AdminShutdown,
    /// 57P03 cannot_connect_now.
    CannotConnectNow,
    /// 58000 system_error (an internal failure of the proxy).
    SystemError,
    /// A code reported by a server, passed on unchanged.
    FromServer([u8; 5]),
}

impl SqlState {
    /// The five-character code.
    pub fn code(&self) -> &str {
        match self {
            SqlState::ProtocolViolation => "08P01",
            SqlState::ConnectionFailure => "08006",
            SqlState::UnableToConnect => "08001",
            SqlState::InvalidPassword => "28P01",
            SqlState::InvalidAuthorization => "28000",
            SqlState::InvalidCatalogName => "3D000",
            SqlState::TooManyConnections => "53300",
            SqlState::FeatureNotSupported => "0A000",
            SqlState::DuplicatePreparedStatement => "42P05",
            SqlState::AdminShutdown => "57P01",
            SqlState::CannotConnectNow => "57P03",
            SqlState::SystemError => "58000",
            SqlState::FromServer(code) => std::str::from_utf8(code).unwrap_or("XX000"),
        }
    }
}

/// An error the proxy reports to a client.
#[derive(Debug, Clone)]
pub struct ErrorResponse {
    /// `ERROR` or `FATAL`.
    pub fatal: bool,
    /// The SQLSTATE.
    pub state: SqlState,
    /// Primary message.
    pub message: String,
    /// Optional detail.
    pub detail: Option<String>,
    /// Optional hint: what the user can do about it.
    pub hint: Option<String>,
}

impl ErrorResponse {
    /// A non-fatal error: the session continues.
    pub fn error(state: SqlState, message: impl Into<String>) -> Self {
        ErrorResponse {
            fatal: false,
            state,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    /// A fatal error: the proxy closes the connection after sending it.
    pub fn fatal(state: SqlState, message: impl Into<String>) -> Self {
        ErrorResponse {
            fatal: true,
            ..Self::error(state, message)
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Appends the ErrorResponse frame.
    pub fn encode(&self, out: &mut BytesMut) {
        let severity: &[u8] = if self.fatal { b"FATAL" } else { b"ERROR" };
        frame(out, b'E', |b| {
            b.put_u8(b'S');
            put_cstr(b, severity);
            b.put_u8(b'V');
            put_cstr(b, severity);
            b.put_u8(b'C');
            put_cstr(b, self.state.code().as_bytes());
            b.put_u8(b'M');
            put_cstr(b, self.message.as_bytes());
            if let Some(d) = &self.detail {
                b.put_u8(b'D');
                put_cstr(b, d.as_bytes());
            }
            if let Some(h) = &self.hint {
                b.put_u8(b'H');
                put_cstr(b, h.as_bytes());
            }
            b.put_u8(0);
        });
    }
}

impl std::fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.state.code())
    }
}

/// The fields of an ErrorResponse or NoticeResponse received from a server.
#[derive(Debug, Default, Clone)]
pub struct ServerError {
    /// Severity (non-localized when available).
    pub severity: String,
    /// SQLSTATE.
    pub code: String,
    /// Primary message.
    pub message: String,
}

impl ServerError {
    /// Parses the body of an `E` or `N` frame (without tag and length).
    pub fn parse(body: &[u8]) -> ServerError {
        let mut out = ServerError::default();
        let mut rest = body;
        while let Some((&field, tail)) = rest.split_first() {
            if field == 0 {
                break;
            }
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            let value = String::from_utf8_lossy(&tail[..end]).into_owned();
            match field {
                b'V' => out.severity = value,
                b'S' if out.severity.is_empty() => out.severity = value,
                b'C' => out.code = value,
                b'M' => out.message = value,
                _ => {}
            }
            rest = tail.get(end + 1..).unwrap_or(&[]);
        }
        out
    }

    /// The SQLSTATE as a proxy error code (XX000 when malformed).
    pub fn state(&self) -> SqlState {
        match <[u8; 5]>::try_from(self.code.as_bytes()) {
            Ok(code) => SqlState::FromServer(code),
            Err(_) => SqlState::FromServer(*b"XX000"),
        }
    }

    /// Whether the server will close the connection after this error.
    pub fn is_fatal(&self) -> bool {
        self.severity == "FATAL" || self.severity == "PANIC"
    }
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.severity, self.message, self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_server_error_parser() {
        let mut out = BytesMut::new();
        ErrorResponse::fatal(SqlState::InvalidPassword, "nope").encode(&mut out);
        let parsed = ServerError::parse(&out[5..]);
        assert_eq!(parsed.code, "28P01");
        assert_eq!(parsed.message, "nope");
        assert!(parsed.is_fatal());
    }
}
