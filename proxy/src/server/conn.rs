//! One connection to a PostgreSQL server: login, the state the proxy tracks
//! about it, and internal simple queries the proxy runs on it between
//! clients (parameter sync, health checks, cleanup).

use super::params::ServerParams;
use crate::auth::server::{login, ServerAuthError};
use crate::protocol::builder;
use crate::protocol::error::ServerError;
use crate::protocol::reader::BodyReader;
use crate::socket::Socket;
use crate::wire::{read_frame, WireError};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct ServerTarget {
    /// Human label for errors and logs, e.g. `shard 0 primary 127.0.0.1:5432`.
    pub label: String,
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name on the server.
    pub user: String,
    /// Password, if the server asks for one.
    pub password: Option<String>,
    /// Database on the server.
    pub database: String,
    /// Time allowed for TCP connect plus login.
    pub connect_timeout: Duration,
    /// The shard this server belongs to.
    pub shard: u32,
    /// ClientKey learned from this user's clients, for SCRAM passthrough
    /// when no password is configured.
    pub learned_key: Option<std::sync::Arc<crate::auth::passthrough::LearnedKey>>,
    /// Sessions on it are read-only (replica-cluster nodes).
    pub read_only: bool,
    /// TLS towards it (None: plaintext).
    pub tls: Option<(
        std::sync::Arc<crate::tls::ServerTls>,
        crate::config::ServerTlsMode,
    )>,
}

/// Why a server connection could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum ServerConnError {
    /// Connecting timed out.
    #[error("timed out connecting to {0}")]
    Timeout(String),
    /// TCP connect failed.
    #[error("cannot connect to {label}: {source}")]
    Connect {
        /// Target label.
        label: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Login failed.
    #[error("login to {label} failed: {source}")]
    Login {
        /// Target label.
        label: String,
        /// Cause.
        source: ServerAuthError,
    },
    /// Socket failure on an open connection.
    #[error("{0}")]
    Wire(#[from] WireError),
    /// An internal query returned an error.
    #[error("{0}")]
    Query(ServerError),
    /// TLS could not be set up as `server_tls` asks.
    #[error("TLS to {label} failed: {reason}")]
    Tls {
        /// Target label.
        label: String,
        /// What went wrong.
        reason: String,
    },
    /// The connection belongs to a primary the shard no longer uses.
    #[error("the shard's primary changed; connection retired")]
    Retired,
}

/// The text values of a whole DataRow frame (NULL as None).
fn text_row(frame: &[u8]) -> Vec<Option<String>> {
    let mut r = BodyReader::new(frame.get(5..).unwrap_or(&[]));
    let n = r.i16().unwrap_or(0).max(0) as usize;
    (0..n)
        .map(|_| {
            let len = r.i32().unwrap_or(-1);
            usize::try_from(len)
                .ok()
                .and_then(|len| r.bytes(len))
                .map(|b| String::from_utf8_lossy(b).into_owned())
        })
        .collect()
}

/// The reply to a query run through `collect_reply`, frames kept whole.
#[derive(Debug, Default)]
pub struct CollectedReply {
    /// The first RowDescription frame.
    pub row_description: Option<bytes::Bytes>,
    /// DataRow frames.
    pub rows: Vec<bytes::Bytes>,
    /// CommandComplete tags, in order.
    pub command_tags: Vec<String>,
    /// The first error, parsed and as the original frame.
    pub error: Option<(ServerError, bytes::Bytes)>,
    /// NoticeResponse frames.
    pub notices: Vec<bytes::Bytes>,
    /// The ParameterDescription frame (a Describe of a statement).
    pub param_description: Option<bytes::Bytes>,
    /// Whether a NoData frame came (a Describe of a statement without rows).
    pub no_data: bool,
}

/// An open, logged-in server connection.
pub struct ServerConn {
    /// The socket (plain, or the local end of a TLS bridge).
    pub stream: Socket,
    /// Bytes received and not yet processed.
    pub inbuf: BytesMut,
    /// Bytes queued to send.
    pub out: BytesMut,
    /// Server address (for cancel requests).
    pub addr: SocketAddr,
    /// BackendKeyData process id.
    pub backend_pid: i32,
    /// BackendKeyData secret.
    pub backend_secret: i32,
    /// Session parameters.
    pub params: ServerParams,
    /// Proxy-wide ids of the statements prepared on this connection.
    pub prepared: super::statement_ids::StatementIds,
    /// Last ReadyForQuery status: `I`, `T` or `E`.
    pub status: u8,
    /// Set when the connection is in an unknown state and must be closed.
    pub broken: bool,
    /// Its entry in the server registry (removed when dropped, before the
    /// socket closes: see the `Drop` impl).
    pub registration: Option<super::registry::ServerRegistration>,
    /// The server has answered everything sent to it with a final
    /// ReadyForQuery. False from the moment anything is queued for it
    /// (after an error in the extended protocol it waits for a Sync).
    pub in_sync: bool,
    /// The shard's primary generation this connection was opened under
    /// (see `topology::ShardState::generation`).
    pub generation: u64,
}

impl Drop for ServerConn {
    /// Leaves the registry before the socket closes: the registry may shut
    /// the socket down by its descriptor while the entry is registered
    /// (`ServerRegistry::sever_replaced`), so the descriptor must not be
    /// closed, and perhaps reused, while the entry is still there. Fields
    /// are dropped after this, `stream` among them.
    fn drop(&mut self) {
        drop(self.registration.take());
    }
}

const SERVER_FRAME_LIMIT: usize = 1 << 30;

impl ServerConn {
    /// Connects and logs in, reading parameters and the backend key.
    pub async fn connect(target: &ServerTarget) -> Result<ServerConn, ServerConnError> {
        tokio::time::timeout(target.connect_timeout, Self::connect_inner(target))
            .await
            .map_err(|_| ServerConnError::Timeout(target.label.clone()))?
    }

    async fn connect_inner(target: &ServerTarget) -> Result<ServerConn, ServerConnError> {
        let stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|source| ServerConnError::Connect {
                label: target.label.clone(),
                source,
            })?;
        stream.set_nodelay(true).map_err(WireError::Io)?;
        let addr = stream.peer_addr().map_err(WireError::Io)?;
        let mut stream = match &target.tls {
            Some((tls, mode)) => {
                tls.negotiate(*mode, stream, &target.host)
                    .await
                    .map_err(|reason| ServerConnError::Tls {
                        label: target.label.clone(),
                        reason,
                    })?
            }
            None => Socket::Tcp(stream),
        };
        let mut out = BytesMut::new();
        let mut params: Vec<(&str, &str)> = vec![
            ("user", &target.user),
            ("database", &target.database),
            ("application_name", "shardwire"),
        ];
        if target.read_only {
            params.push(("options", "-c default_transaction_read_only=on"));
        }
        builder::startup_message(&mut out, &params);
        stream.write_all(&out).await.map_err(WireError::Io)?;
        let mut inbuf = BytesMut::with_capacity(16 * 1024);
        login(
            &mut stream,
            &mut inbuf,
            &target.user,
            target.password.as_deref(),
            target.learned_key.as_deref(),
        )
        .await
        .map_err(|source| ServerConnError::Login {
            label: target.label.clone(),
            source,
        })?;
        let mut conn = ServerConn {
            stream,
            inbuf,
            out: BytesMut::with_capacity(16 * 1024),
            addr,
            backend_pid: 0,
            backend_secret: 0,
            params: ServerParams::default(),
            prepared: Default::default(),
            status: b'I',
            broken: false,
            in_sync: true,
            registration: None,
            generation: 0,
        };
        loop {
            let frame = read_frame(&mut conn.stream, &mut conn.inbuf, SERVER_FRAME_LIMIT).await?;
            let mut r = BodyReader::new(&frame.body);
            match frame.tag {
                b'K' => {
                    conn.backend_pid = r.i32().unwrap_or(0);
                    conn.backend_secret = r.i32().unwrap_or(0);
                }
                b'S' => {
                    if let (Some(n), Some(v)) = (r.cstr_utf8(), r.cstr_utf8()) {
                        conn.params.on_status(n, v, false);
                    }
                }
                b'Z' => {
                    conn.status = r.u8().unwrap_or(b'I');
                    return Ok(conn);
                }
                b'E' => {
                    return Err(ServerConnError::Login {
                        label: target.label.clone(),
                        source: ServerAuthError::Refused(ServerError::parse(&frame.body)),
                    })
                }
                _ => {}
            }
        }
    }

    /// Runs an internal simple query and returns its rows as text. Any
    /// ParameterStatus is recorded as a client change when `from_client`.
    /// On a socket failure the connection is marked broken.
    pub async fn simple_query(
        &mut self,
        sql: &str,
        from_client: bool,
    ) -> Result<Vec<Vec<Option<String>>>, ServerConnError> {
        let result = self.simple_query_inner(sql, from_client).await;
        if matches!(result, Err(ServerConnError::Wire(_))) {
            self.broken = true;
        }
        result
    }

    async fn simple_query_inner(
        &mut self,
        sql: &str,
        from_client: bool,
    ) -> Result<Vec<Vec<Option<String>>>, ServerConnError> {
        let mut request = BytesMut::new();
        builder::query(&mut request, sql);
        let reply = self.collect_reply_inner(&request, from_client).await?;
        if let Some((error, _)) = reply.error {
            return Err(ServerConnError::Query(error));
        }
        Ok(reply.rows.iter().map(|row| text_row(row)).collect())
    }

    /// Sends `request` (a simple Query, or an extended-protocol batch
    /// ending in one Sync) on behalf of a client — scatter reads, DDL
    /// broadcast — and keeps the reply frames as received.
    pub async fn collect_reply(
        &mut self,
        request: &[u8],
    ) -> Result<CollectedReply, ServerConnError> {
        let result = self.collect_reply_inner(request, true).await;
        if matches!(result, Err(ServerConnError::Wire(_))) {
            self.broken = true;
        }
        result
    }

    /// Sends `request` and collects the reply; ParameterStatus is recorded
    /// as a client change when `from_client`.
    async fn collect_reply_inner(
        &mut self,
        request: &[u8],
        from_client: bool,
    ) -> Result<CollectedReply, ServerConnError> {
        self.in_sync = false;
        self.stream
            .write_all(request)
            .await
            .map_err(WireError::Io)?;
        let mut reply = CollectedReply::default();
        loop {
            let frame = read_frame(&mut self.stream, &mut self.inbuf, SERVER_FRAME_LIMIT).await?;
            let whole = || {
                let mut b = BytesMut::with_capacity(frame.body.len() + 5);
                b.extend_from_slice(&[frame.tag]);
                b.extend_from_slice(&((frame.body.len() + 4) as u32).to_be_bytes());
                b.extend_from_slice(&frame.body);
                b.freeze()
            };
            match frame.tag {
                b'T' if reply.row_description.is_none() => reply.row_description = Some(whole()),
                b'D' => reply.rows.push(whole()),
                b'C' => {
                    let tag = BodyReader::new(&frame.body)
                        .cstr_utf8()
                        .unwrap_or("")
                        .to_string();
                    reply.command_tags.push(tag);
                }
                b'E' => {
                    let e = ServerError::parse(&frame.body);
                    if e.is_fatal() {
                        self.broken = true;
                    }
                    if reply.error.is_none() {
                        reply.error = Some((e, whole()));
                    }
                }
                b'N' => reply.notices.push(whole()),
                b't' if reply.param_description.is_none() => {
                    reply.param_description = Some(whole())
                }
                b'n' => reply.no_data = true,
                b'S' => {
                    let mut r = BodyReader::new(&frame.body);
                    if let (Some(n), Some(v)) = (r.cstr_utf8(), r.cstr_utf8()) {
                        self.params.on_status(n, v, from_client);
                    }
                }
                b'Z' => {
                    self.status = BodyReader::new(&frame.body).u8().unwrap_or(b'I');
                    self.in_sync = true;
                    return Ok(reply);
                }
                b'G' | b'H' | b'W' => {
                    // COPY cannot be scattered; the server now waits for
                    // data that will never come.
                    self.broken = true;
                    return Err(ServerConnError::Wire(WireError::Io(std::io::Error::other(
                        "COPY is not supported in scatter-gather or broadcast statements",
                    ))));
                }
                _ => {}
            }
        }
    }

    /// Queues bytes to send; the server owes a ReadyForQuery from now on.
    pub fn send(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.in_sync = false;
    }

    /// Whether the server is idle and has answered everything: outside a
    /// transaction block, nothing buffered either way.
    pub fn is_idle(&self) -> bool {
        self.in_sync && self.status == b'I' && self.out.is_empty() && self.inbuf.is_empty()
    }

    /// Whether the connection can serve another client as it is.
    pub fn is_clean(&self) -> bool {
        !self.broken && self.is_idle()
    }

    /// Sends a CancelRequest for whatever this connection is running.
    pub async fn cancel(addr: SocketAddr, pid: i32, secret: i32) -> std::io::Result<()> {
        let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "cancel connect"))??;
        let mut out = BytesMut::new();
        builder::cancel_request(&mut out, pid, secret);
        stream.write_all(&out).await?;
        // The server closes the connection once it has read the request.
        let mut sink = [0u8; 1];
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut stream, &mut sink),
        )
        .await;
        Ok(())
    }
}
