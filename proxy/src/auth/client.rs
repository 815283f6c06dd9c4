//! Authenticating a client that logs in to the proxy: SCRAM-SHA-256, MD5 or
//! trust, per user. Unknown users go through the same exchange as known ones
//! and fail at the end, so the reply does not reveal which users exist.

use super::scram::{ClientKey, ScramError, ScramExchange, ScramVerifier};
use crate::config::{AuthMethod, User};
use crate::protocol::builder;
use crate::protocol::reader::BodyReader;
use crate::protocol::{ErrorResponse, SqlState};
use crate::wire::{read_frame, WireError};
use bytes::BytesMut;
use rand::RngCore;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// What the proxy knows about a user's credentials, prepared at load time.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Method clients must use.
    pub method: AuthMethod,
    /// Verifier for SCRAM.
    pub scram: Option<ScramVerifier>,
    /// Plain password, for MD5.
    pub plain: Option<String>,
}

impl Credentials {
    /// Prepares a user's credentials (derives a SCRAM verifier from a plain
    /// password once, so logins cost no key derivation on the proxy).
    pub fn from_user(user: &User) -> Credentials {
        let scram = match (&user.scram_verifier, &user.password) {
            (Some(v), _) => ScramVerifier::parse(v).ok(),
            (None, Some(p)) => Some(ScramVerifier::from_password(p)),
            (None, None) => None,
        };
        Credentials {
            method: user.auth,
            scram,
            plain: user.password.clone(),
        }
    }
}

/// Why a login failed (the error is sent to the client before closing).
#[derive(Debug)]
pub enum AuthFailure {
    /// Tell the client this, then close.
    Refused(ErrorResponse),
    /// The socket failed or the client left.
    Wire(WireError),
}

impl From<WireError> for AuthFailure {
    fn from(e: WireError) -> Self {
        AuthFailure::Wire(e)
    }
}

impl From<std::io::Error> for AuthFailure {
    fn from(e: std::io::Error) -> Self {
        AuthFailure::Wire(WireError::Io(e))
    }
}

fn password_failed(user: &str) -> AuthFailure {
    AuthFailure::Refused(ErrorResponse::fatal(
        SqlState::InvalidPassword,
        format!("password authentication failed for user \"{user}\""),
    ))
}

fn protocol_error(what: &str) -> AuthFailure {
    AuthFailure::Refused(ErrorResponse::fatal(
        SqlState::ProtocolViolation,
        format!("invalid authentication message: {what}"),
    ))
}

/// Runs the authentication exchange; on success `AuthenticationOk` has been
/// written (but not necessarily flushed).
pub async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    user: &str,
    credentials: Option<&Credentials>,
    mock_secret: &[u8],
) -> Result<Option<ClientKey>, AuthFailure> {
    const AUTH_MESSAGE_LIMIT: usize = 16 * 1024;
    let mut client_key = None;
    let method = credentials
        .map(|c| c.method)
        .unwrap_or(AuthMethod::ScramSha256);
    let mut out = BytesMut::new();
    match method {
        AuthMethod::Trust => {}
        AuthMethod::Md5 => {
            let mut salt = [0u8; 4];
            rand::thread_rng().fill_bytes(&mut salt);
            builder::auth_md5(&mut out, salt);
            stream.write_all(&out).await?;
            out.clear();
            let frame = read_frame(stream, buf, AUTH_MESSAGE_LIMIT).await?;
            if frame.tag != b'p' {
                return Err(protocol_error("expected a password message"));
            }
            let sent = BodyReader::new(&frame.body)
                .cstr()
                .ok_or_else(|| protocol_error("password is not terminated"))?;
            // Unknown users get the same work and the same answer: the
            // hash of a secret no client knows, compared in constant time.
            let known = credentials.and_then(|c| c.plain.as_deref());
            let secret = known.map_or_else(|| mock_secret.to_vec(), |p| p.as_bytes().to_vec());
            let expected =
                postgres_protocol::authentication::md5_hash(user.as_bytes(), &secret, salt);
            if !(super::constant_time::equal(expected.as_bytes(), sent) && known.is_some()) {
                return Err(password_failed(user));
            }
        }
        AuthMethod::ScramSha256 => {
            let known = credentials.and_then(|c| c.scram.clone());
            let verifier = known
                .clone()
                .unwrap_or_else(|| ScramVerifier::mock(user, mock_secret));
            builder::auth_sasl(&mut out);
            stream.write_all(&out).await?;
            out.clear();
            let frame = read_frame(stream, buf, AUTH_MESSAGE_LIMIT).await?;
            if frame.tag != b'p' {
                return Err(protocol_error("expected SASLInitialResponse"));
            }
            let mut r = BodyReader::new(&frame.body);
            let mechanism = r.cstr().ok_or_else(|| protocol_error("no mechanism"))?;
            if mechanism != b"SCRAM-SHA-256" {
                return Err(AuthFailure::Refused(ErrorResponse::fatal(
                    SqlState::ProtocolViolation,
                    format!(
                        "SASL mechanism {} is not supported; use SCRAM-SHA-256",
                        String::from_utf8_lossy(mechanism)
                    ),
                )));
            }
            let len = r.i32().ok_or_else(|| protocol_error("no length"))?;
            let data = usize::try_from(len)
                .ok()
                .and_then(|n| r.bytes(n))
                .ok_or_else(|| protocol_error("bad SASL data length"))?;
            let (exchange, server_first) =
                ScramExchange::start(verifier, data).map_err(scram_failure(user))?;
            builder::auth_sasl_step(&mut out, 11, server_first.as_bytes());
            stream.write_all(&out).await?;
            out.clear();
            let frame = read_frame(stream, buf, AUTH_MESSAGE_LIMIT).await?;
            if frame.tag != b'p' {
                return Err(protocol_error("expected SASLResponse"));
            }
            let (server_final, key) = exchange.finish(&frame.body).map_err(scram_failure(user))?;
            if known.is_none() {
                return Err(password_failed(user));
            }
            client_key = Some(key);
            builder::auth_sasl_step(&mut out, 12, server_final.as_bytes());
        }
    }
    if credentials.is_none() {
        return Err(password_failed(user));
    }
    builder::auth_ok(&mut out);
    stream.write_all(&out).await?;
    Ok(client_key)
}

fn scram_failure(user: &str) -> impl Fn(ScramError) -> AuthFailure + '_ {
    move |e| match e {
        ScramError::WrongProof => password_failed(user),
        ScramError::ChannelBindingUnsupported => AuthFailure::Refused(ErrorResponse::fatal(
            SqlState::ProtocolViolation,
            "SCRAM channel binding is not supported: the connection is not using TLS",
        )),
        ScramError::Malformed(why) => protocol_error(why),
    }
}
