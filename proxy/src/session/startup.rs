//! The pre-session handshake of a client connection: TLS (negotiated with
//! SSLRequest, or PostgreSQL 17's direct TLS) as `[tls]` allows, GSS
//! encryption declined, cancel requests, the startup packet and its
//! parameters, and authentication. On success it hands over to the relay
//! loop.

use super::tls_upgrade::{self, Start};
use super::{Session, SessionEnd};
use crate::auth::client::{authenticate, AuthFailure};
use crate::config::ClientTlsMode;
use crate::context::Context;
use crate::protocol::builder;
use crate::protocol::startup::{packet_length, parse, StartupPacket};
use crate::protocol::{ErrorResponse, SqlState};
use crate::server::params::ParamMap;
use crate::server::ServerConn;
use crate::socket::Socket;
use crate::wire::WireError;
use bytes::BytesMut;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the client asked for in its startup packet.
struct Login {
    /// The entry the client authenticated against.
    entry: Option<Arc<crate::users::UserEntry>>,
    user: String,
    database: String,
    params: ParamMap,
}

enum Handshake {
    Login(Login),
    Done,
}

/// Serves one accepted client connection until it closes, holding `slot`
/// (its place under `proxy.max_client_connections`) all along, and takes
/// it off the session table at the end.
///
/// Not an `async fn`: an `async fn` keeps its arguments in the task for the
/// connection's whole life. The login is boxed (its state — sockets and
/// buffers half moved, the startup packet, refusals — is needed only while
/// logging in) and the connection's bookkeeping rides in it and then in the
/// session, so the task of an idle client holds only the relay loop's few
/// words and a pointer to the session.
pub fn serve_connection(
    stream: TcpStream,
    ctx: Arc<Context>,
    id: u64,
    slot: crate::limits::Slot,
) -> impl std::future::Future<Output = ()> + Send {
    let open = OpenConnection {
        ctx: ctx.clone(),
        id,
        _slot: slot,
        _user_slot: None,
    };
    serve_logged_in(Box::pin(log_in(stream, ctx, open)))
}

/// Runs the session of a client `login` let in, to its end.
async fn serve_logged_in(
    login: std::pin::Pin<Box<impl std::future::Future<Output = Option<Box<Session>>>>>,
) {
    if let Some(mut session) = login.await {
        let end = session.run().await;
        // Boxed: the ending's state is needed once, not all along.
        Box::pin(end_session(session, end)).await;
    }
}

/// Logs how a session ended and tells the client why, if it must be told.
async fn end_session(mut session: Box<Session>, end: SessionEnd) {
    let peer = session.peer();
    match end {
        SessionEnd::ClientGone => tracing::info!(%peer, "client disconnected"),
        SessionEnd::Fatal(e) => {
            tracing::info!(%peer, error = %e, "client session closed with an error");
            session.send_fatal(e).await;
        }
    }
}

/// An accepted connection's places under the connection limits and its
/// entry in the session table, given back together when it ends (whether
/// it ended as a session, an admin console, a refusal, or was aborted).
pub(crate) struct OpenConnection {
    ctx: Arc<Context>,
    /// Its id in the session table.
    id: u64,
    /// Its place under `proxy.max_client_connections`.
    _slot: crate::limits::Slot,
    /// Its place under the user's `max_connections`, once logged in.
    _user_slot: Option<crate::limits::Slot>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.ctx.sessions.remove(self.id);
    }
}

/// TLS, the startup packet and authentication; admin consoles and refused
/// clients are served here to the end (`None`), a client of the database
/// comes back ready for its session.
async fn log_in(
    stream: TcpStream,
    ctx: Arc<Context>,
    mut open: OpenConnection,
) -> Option<Box<Session>> {
    let id = open.id;
    let _ = stream.set_nodelay(true);
    let peer_addr = stream.peer_addr().ok();
    let local_addr = stream.local_addr().ok();
    let mut stream = Socket::Tcp(stream);
    let auth_timeout = ctx.config.proxy.auth_timeout;
    let mut buf = BytesMut::new();
    let max = ctx.config.proxy.max_unauthenticated;
    let Some(logging_in) = ctx.sessions.unauthenticated.try_acquire(max) else {
        let e = crate::limits::too_many(
            format!(
                "too many connections are logging in at once (proxy.max_unauthenticated = {max})"
            ),
            "retry in a moment",
        );
        refuse_unread(&mut stream, e).await;
        return None;
    };
    let handshake = tokio::time::timeout(
        auth_timeout,
        Box::pin(handshake(&mut stream, &mut buf, &ctx)),
    )
    .await;
    drop(logging_in);
    let login = match handshake {
        Ok(Ok(Handshake::Login(login))) => login,
        Ok(Ok(Handshake::Done)) => return None,
        Ok(Err(Some(error))) => {
            refuse(&mut stream, error).await;
            return None;
        }
        Ok(Err(None)) => return None,
        Err(_) => {
            let e = ErrorResponse::fatal(
                SqlState::ProtocolViolation,
                format!(
                    "startup and authentication did not complete within {:?} (proxy.auth_timeout)",
                    auth_timeout
                ),
            );
            refuse(&mut stream, e).await;
            return None;
        }
    };
    if crate::admin::is_admin_database(&login.database) {
        match crate::admin::role_of(&ctx, &login.user) {
            Some(role) => {
                ctx.sessions.mark_admin(id);
                // Boxed: admin commands (SWITCHOVER, SHUTDOWN) keep large
                // state that client sessions must not reserve.
                Box::pin(crate::admin::serve(stream, buf, ctx, role)).await
            }
            None => {
                let e = ErrorResponse::fatal(
                    SqlState::FromServer(*b"42501"),
                    format!("user \"{}\" may not use the admin console", login.user),
                )
                .with_hint("list the user under [admin] users or stats_users");
                refuse(&mut stream, e).await
            }
        }
        return None;
    }
    if ctx.sessions.is_shutting_down() {
        // The shutdown began while this client logged in: do not let it
        // wait behind the paused gate for a session that will be cut off.
        refuse_shutting_down(&mut stream).await;
        return None;
    }
    if ctx.sessions.is_disabled(&login.database) {
        let e = ErrorResponse::fatal(
            SqlState::FromServer(*b"57P03"),
            format!(
                "database \"{}\" does not allow new connections: an administrator ran DISABLE",
                login.database
            ),
        )
        .with_hint("retry later; ENABLE in the admin console lets clients in again");
        refuse(&mut stream, e).await;
        return None;
    }
    let user = login.entry.clone()?;
    let user_slot = match user.source.max_connections {
        Some(max) => match user.sessions.try_acquire(max) {
            Some(slot) => Some(slot),
            None => {
                let e = crate::limits::too_many(
                    format!("too many connections for user \"{}\": at most {max} (max_connections in [[users]])", user.name),
                    "close idle connections, or raise max_connections for this user",
                );
                refuse(&mut stream, e).await;
                return None;
            }
        },
        None => None,
    };
    open._user_slot = user_slot;
    let peer = crate::session::PeerDisplay(peer_addr);
    tracing::info!(user = %login.user, database = %login.database, %peer, "client connected");
    let info = crate::cancel::ClientInfo {
        user: user.name.clone(),
        database: ctx.database_name.clone(),
        application_name: login
            .params
            .get("application_name")
            .unwrap_or_default()
            .into(),
        // KILL_CLIENT finds this session's task by its connection id.
        conn: id + 1,
        peer: crate::cancel::PackedAddr::new(peer_addr),
        local: crate::cancel::PackedAddr::new(local_addr),
        tls: stream.is_tls(),
        ..Default::default()
    }
    .with_connected_at(std::time::SystemTime::now());
    Some(Box::new(Session::new(
        ctx,
        user,
        stream,
        info,
        buf,
        login.params,
        open,
    )))
}

/// Tells a new client the proxy is shutting down (57P01), then closes.
pub async fn refuse_shutting_down<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    let e = ErrorResponse::fatal(
        SqlState::AdminShutdown,
        "shardwire is shutting down (SHUTDOWN, SIGINT or SIGTERM); no new connections are accepted",
    )
    .with_hint("connect to another shardwire instance, or retry once it has restarted");
    refuse_unread(stream, e).await;
}

pub(crate) async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, error: ErrorResponse) {
    let mut out = BytesMut::new();
    error.encode(&mut out);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.write_all(&out)).await;
}

/// Refuses a connection the proxy has not read anything from yet: sends
/// `error`, shuts the write side, and reads and drops what the client
/// still sends (its startup packet) for a moment, so the kernel does not
/// answer unread data with a reset that would discard the error.
pub(crate) async fn refuse_unread<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    error: ErrorResponse,
) {
    let mut out = BytesMut::new();
    error.encode(&mut out);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        stream.write_all(&out).await?;
        stream.shutdown().await?;
        // On the heap: a buffer on the stack would be reserved in every
        // connection's task, refused or not.
        let mut sink = vec![0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// Runs the handshake. `Err(Some(e))`: refuse with `e`; `Err(None)`: just close.
async fn handshake(
    stream: &mut Socket,
    buf: &mut BytesMut,
    ctx: &Context,
) -> Result<Handshake, Option<ErrorResponse>> {
    let tls = ctx.client_tls();
    if let Socket::Tcp(tcp) = &*stream {
        let mut first = [0u8; 1];
        match tcp.peek(&mut first).await {
            Ok(1) if first[0] == tls_upgrade::TLS_HANDSHAKE_RECORD => {
                // Boxed: the TLS handshake's state is large, and an unboxed
                // future would make every idle client's task that large.
                Box::pin(tls_upgrade::upgrade(stream, &tls, Start::Direct)).await?;
            }
            Ok(1) => {}
            _ => return Err(None),
        }
    }
    // An SSLRequest and a GSSENCRequest may each precede the startup packet.
    for _ in 0..3 {
        let mut prefix = [0u8; 4];
        if stream.read_exact(&mut prefix).await.is_err() {
            return Err(None);
        }
        let len = packet_length(prefix).map_err(|e| {
            Some(ErrorResponse::fatal(
                SqlState::ProtocolViolation,
                e.to_string(),
            ))
        })?;
        let mut packet = vec![0u8; len];
        packet[..4].copy_from_slice(&prefix);
        if stream.read_exact(&mut packet[4..]).await.is_err() {
            return Err(None);
        }
        let parsed = parse(&packet).map_err(|e| {
            let state = match e {
                crate::protocol::startup::StartupError::UnsupportedVersion(_) => {
                    SqlState::FeatureNotSupported
                }
                _ => SqlState::ProtocolViolation,
            };
            Some(ErrorResponse::fatal(state, e.to_string()))
        })?;
        match parsed {
            StartupPacket::SslRequest if tls.acceptor.is_some() && !stream.is_tls() => {
                if tls_upgrade::sent_early_bytes(stream) {
                    return Err(Some(ErrorResponse::fatal(
                        SqlState::ProtocolViolation,
                        "data received after SSLRequest before the TLS handshake",
                    )));
                }
                stream.write_all(b"S").await.map_err(|_| None)?;
                Box::pin(tls_upgrade::upgrade(stream, &tls, Start::Negotiated)).await?;
            }
            StartupPacket::SslRequest | StartupPacket::GssEncRequest => {
                stream.write_all(b"N").await.map_err(|_| None)?;
            }
            StartupPacket::Cancel { pid, secret } => {
                if let Some(target) = ctx.cancels.lookup(pid, secret) {
                    if let Err(e) = ServerConn::cancel(target.addr, target.pid, target.secret).await
                    {
                        tracing::warn!(error = %e, "forwarding cancel request failed");
                    }
                }
                return Ok(Handshake::Done);
            }
            StartupPacket::Startup(_) if tls.mode == ClientTlsMode::Require && !stream.is_tls() => {
                return Err(Some(
                    ErrorResponse::fatal(
                        SqlState::InvalidAuthorization,
                        "shardwire requires TLS for every connection (tls.mode = require)",
                    )
                    .with_hint("connect with sslmode=require (or verify-ca / verify-full)"),
                ));
            }
            StartupPacket::Startup(params) => {
                let login = read_login(params, ctx)?;
                // Boxed for the same reason (a lookup holds a connection).
                let entry = Box::pin(crate::auth_query::resolve(ctx, &login.user)).await;
                let credentials = entry.as_ref().map(|u| &u.credentials);
                return match authenticate(stream, buf, &login.user, credentials, &ctx.mock_secret)
                    .await
                {
                    Ok(key) => {
                        // A verifier-only user: servers are logged in to
                        // with the key this client just proved.
                        if let (Some(key), Some(user)) = (key, &entry) {
                            if user.source.server_password().is_none() {
                                user.learned_key.learn(key);
                            }
                        }
                        let mut login = login;
                        login.entry = entry;
                        Ok(Handshake::Login(login))
                    }
                    Err(AuthFailure::Refused(e)) => Err(Some(e)),
                    Err(AuthFailure::Wire(WireError::Frame(e))) => Err(Some(ErrorResponse::fatal(
                        SqlState::ProtocolViolation,
                        e.to_string(),
                    ))),
                    Err(AuthFailure::Wire(_)) => Err(None),
                };
            }
        }
    }
    Err(Some(ErrorResponse::fatal(
        SqlState::ProtocolViolation,
        "too many negotiation requests before the startup packet",
    )))
}

fn read_login(
    params: Vec<(String, String)>,
    ctx: &Context,
) -> Result<Login, Option<ErrorResponse>> {
    let mut user = None;
    let mut database = None;
    let mut session_params = ParamMap::default();
    for (name, value) in params {
        match name.as_str() {
            "user" => user = Some(value),
            "database" => database = Some(value),
            "replication" => {
                if !matches!(value.as_str(), "false" | "off" | "no" | "0") {
                    return Err(Some(
                        ErrorResponse::fatal(
                            SqlState::FeatureNotSupported,
                            "replication connections are not supported by shardwire",
                        )
                        .with_hint(
                            "connect replication clients to the PostgreSQL servers directly",
                        ),
                    ));
                }
            }
            "options" => parse_options(&value, &mut session_params)?,
            _ if name.starts_with("_pq_.") => {}
            _ => session_params.set(&name, &value),
        }
    }
    let user = user.filter(|u| !u.is_empty()).ok_or_else(|| {
        Some(ErrorResponse::fatal(
            SqlState::InvalidAuthorization,
            "no PostgreSQL user name specified in startup packet",
        ))
    })?;
    let database = database
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| user.clone());
    if database != ctx.config.proxy.database && !crate::admin::is_admin_database(&database) {
        return Err(Some(
            ErrorResponse::fatal(
                SqlState::InvalidCatalogName,
                format!("database \"{database}\" does not exist"),
            )
            .with_hint(format!(
                "shardwire serves the database \"{}\" (proxy.database)",
                ctx.config.proxy.database
            )),
        ));
    }
    Ok(Login {
        entry: None,
        user,
        database,
        params: session_params,
    })
}

/// Reads `-c name=value` and `--name=value` from the `options` parameter.
fn parse_options(options: &str, params: &mut ParamMap) -> Result<(), Option<ErrorResponse>> {
    let mut words = options.split_whitespace();
    while let Some(w) = words.next() {
        let setting = if w == "-c" {
            words.next()
        } else if let Some(rest) = w.strip_prefix("-c") {
            Some(rest)
        } else {
            w.strip_prefix("--")
        };
        match setting.and_then(|s| s.split_once('=')) {
            Some((name, value)) => params.set(&name.replace('-', "_"), value),
            None => {
                return Err(Some(
                    ErrorResponse::fatal(
                        SqlState::FeatureNotSupported,
                        format!("unsupported startup option \"{w}\""),
                    )
                    .with_hint("shardwire accepts only -c name=value and --name=value in options"),
                ))
            }
        }
    }
    Ok(())
}

impl Session {
    /// Sends the first ParameterStatus set, BackendKeyData and
    /// ReadyForQuery, after checking that a server accepts the client's
    /// startup parameters.
    pub(super) async fn greet(&mut self) -> Result<(), SessionEnd> {
        self.attach()
            .await
            .map_err(|e| SessionEnd::Fatal(ErrorResponse { fatal: true, ..e }))?;
        let mut out = BytesMut::new();
        if let Some(a) = self.server.as_mut() {
            let server = a.server();
            let mut names: Vec<&String> = server.params.reported.iter().collect();
            names.sort();
            for key in names {
                let Some(p) = server.params.values.param_lower(key) else {
                    continue;
                };
                let value = self.wanted.get_lower(key).unwrap_or(&p.value);
                builder::parameter_status(&mut out, &p.name, value);
            }
        }
        let (pid, secret) = self.cancel.key;
        builder::backend_key_data(&mut out, pid, secret);
        builder::ready_for_query(&mut out, b'I');
        self.to_client.extend_from_slice(&out);
        Ok(())
    }
}
