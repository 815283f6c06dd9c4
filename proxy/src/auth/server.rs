//! Logging in to a PostgreSQL server as a client: answers the server's
//! authentication requests (SCRAM-SHA-256, MD5, cleartext, or none) with the
//! configured password, using `postgres-protocol` for the SCRAM client side.

use super::passthrough::{KeyedScram, LearnedKey};
use crate::protocol::builder;
use crate::protocol::error::ServerError;
use crate::protocol::reader::BodyReader;
use crate::wire::{read_frame, WireError};
use bytes::{BufMut, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// Why a server login failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerAuthError {
    /// Socket or framing failure.
    #[error("{0}")]
    Wire(#[from] WireError),
    /// The server refused the login.
    #[error("server refused login: {0}")]
    Refused(ServerError),
    /// The server wants a password but none is configured.
    #[error("server requires a password for user \"{0}\" but none is configured (users[].password or server_password)")]
    NoPassword(String),
    /// SCRAM passthrough: no client of this user has logged in yet.
    #[error("no server password for user \"{0}\", and no client of that user has logged in with SCRAM yet (shardwire logs in to servers with the keys a client proves; or set server_password)")]
    NoKeyYet(String),
    /// The server asked for something the proxy does not implement.
    #[error("unsupported server authentication request {0}")]
    Unsupported(i32),
    /// The SCRAM exchange with the server failed.
    #[error("SCRAM exchange with server failed: {0}")]
    Scram(String),
    /// The server sent something unexpected.
    #[error("unexpected message {0} from server during login")]
    Unexpected(String),
}

impl From<std::io::Error> for ServerAuthError {
    fn from(e: std::io::Error) -> Self {
        ServerAuthError::Wire(WireError::Io(e))
    }
}

/// Answers authentication requests until `AuthenticationOk`, with the
/// password, or for SCRAM without one, with the ClientKey a client of this
/// user proved (SCRAM passthrough).
pub async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    user: &str,
    password: Option<&str>,
    learned: Option<&LearnedKey>,
) -> Result<(), ServerAuthError> {
    let mut out = BytesMut::new();
    let mut scram: Option<ScramSha256> = None;
    let mut keyed: Option<KeyedScram> = None;
    let need_password = || password.ok_or_else(|| ServerAuthError::NoPassword(user.to_string()));
    loop {
        let frame = read_frame(stream, buf, 1 << 20).await?;
        match frame.tag {
            b'R' => {}
            b'E' => return Err(ServerAuthError::Refused(ServerError::parse(&frame.body))),
            b'N' => continue,
            other => {
                return Err(ServerAuthError::Unexpected(
                    crate::protocol::frame::describe_tag(other),
                ))
            }
        }
        let mut r = BodyReader::new(&frame.body);
        let code = r
            .i32()
            .ok_or_else(|| ServerAuthError::Unexpected("short R".into()))?;
        out.clear();
        match code {
            0 => return Ok(()),
            3 => {
                let pw = need_password()?;
                builder::frame(&mut out, b'p', |b| builder::put_cstr(b, pw.as_bytes()));
            }
            5 => {
                let pw = need_password()?;
                let salt = r
                    .bytes(4)
                    .ok_or_else(|| ServerAuthError::Unexpected("short md5 salt".into()))?;
                let salt = [salt[0], salt[1], salt[2], salt[3]];
                let hash = postgres_protocol::authentication::md5_hash(
                    user.as_bytes(),
                    pw.as_bytes(),
                    salt,
                );
                builder::frame(&mut out, b'p', |b| builder::put_cstr(b, hash.as_bytes()));
            }
            10 => {
                let mut offers_scram = false;
                while let Some(m) = r.cstr() {
                    if m.is_empty() {
                        break;
                    }
                    offers_scram |= m == b"SCRAM-SHA-256";
                }
                if !offers_scram {
                    return Err(ServerAuthError::Scram(
                        "server does not offer SCRAM-SHA-256".into(),
                    ));
                }
                let msg = match (password, learned.and_then(LearnedKey::get)) {
                    (Some(pw), _) => {
                        let s = ScramSha256::new(pw.as_bytes(), ChannelBinding::unsupported());
                        let msg = s.message().to_vec();
                        scram = Some(s);
                        msg
                    }
                    (None, Some(key)) => {
                        let (k, msg) = KeyedScram::start(key);
                        keyed = Some(k);
                        msg.into_bytes()
                    }
                    (None, None) => return Err(ServerAuthError::NoKeyYet(user.to_string())),
                };
                builder::frame(&mut out, b'p', |b| {
                    builder::put_cstr(b, b"SCRAM-SHA-256");
                    b.put_i32(msg.len() as i32);
                    b.put_slice(&msg);
                });
            }
            11 => {
                if let Some(k) = keyed.as_mut() {
                    let reply = k.respond(r.rest()).map_err(ServerAuthError::Scram)?;
                    builder::password_message(&mut out, reply.as_bytes());
                } else {
                    let s = scram.as_mut().ok_or_else(|| {
                        ServerAuthError::Unexpected("SASLContinue before SASL".into())
                    })?;
                    s.update(r.rest())
                        .map_err(|e| ServerAuthError::Scram(e.to_string()))?;
                    builder::password_message(&mut out, s.message());
                }
            }
            12 => {
                if let Some(k) = keyed.take() {
                    k.finish(r.rest()).map_err(ServerAuthError::Scram)?;
                    continue;
                }
                let mut s = scram
                    .take()
                    .ok_or_else(|| ServerAuthError::Unexpected("SASLFinal before SASL".into()))?;
                s.finish(r.rest())
                    .map_err(|e| ServerAuthError::Scram(e.to_string()))?;
                continue;
            }
            other => return Err(ServerAuthError::Unsupported(other)),
        }
        stream.write_all(&out).await?;
    }
}
