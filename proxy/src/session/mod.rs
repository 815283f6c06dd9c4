//! One client connection from accept to close: the pre-session handshake
//! (`startup`), then the relay loop (`relay`) that forwards the client's
//! messages (`client_messages`, most of them without a future:
//! `fast_path`) to a server connection it borrows from a pool (`attach`)
//! and the server's replies back (`server_messages`).

pub(crate) mod attach;
pub mod buffers;
pub(crate) mod checkout;
mod client_messages;
mod cross_shard;
mod describe;
pub mod expect;
mod fast_path;
mod killed;
mod pinning;
mod placement;
mod refusal_abort;
mod relay;
mod replica_reads;
mod routing;
mod server_messages;
pub mod startup;
pub mod statements;
mod tls_upgrade;
mod write_guard;

use crate::cancel::CancelRegistration;
use crate::config::PoolMode;
use crate::context::{Context, UserEntry};
use crate::protocol::ErrorResponse;
use crate::server::params::ParamMap;
use crate::server::ServerConn;
use bytes::{Bytes, BytesMut};
use expect::ExpectQueue;
use shardwire_pool::Pooled;
use statements::ClientStatements;
use std::sync::Arc;

pub use startup::serve_connection;

impl Drop for Session {
    fn drop(&mut self) {
        self.ctx.metrics.clients.dec();
        self.forget_pins_on_drop();
        if self
            .cancel
            .slot
            .killed
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            self.say_killed();
        }
    }
}

/// A client's address as the log lines show it (empty when unknown).
pub(crate) struct PeerDisplay(pub Option<std::net::SocketAddr>);

impl std::fmt::Display for PeerDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => Ok(()),
        }
    }
}

impl Session {
    /// The client's address, for log lines.
    fn peer(&self) -> PeerDisplay {
        PeerDisplay(self.cancel.slot.info.peer.get())
    }

    /// Traffic counters of the shard in use (else the default shard).
    fn traffic(&self) -> Option<&crate::metrics::PoolTraffic> {
        let shard = self
            .server
            .as_ref()
            .map_or_else(|| self.default_shard(), |a| a.shard);
        self.user.shard_traffic.get(shard as usize)
    }

    /// Counts an error sent to the client by SQLSTATE class.
    fn count_error(&self, error: &ErrorResponse) {
        let code = error.state.code();
        let class = code.get(..2).unwrap_or("XX");
        self.ctx.metrics.errors.with_label_values(&[class]).inc();
    }
}

/// A server connection borrowed by a session.
struct Attached {
    conn: Pooled<crate::server::ServerManager>,
    /// The shard it belongs to.
    shard: u32,
    /// The client's unnamed statement exists on this connection.
    unnamed_valid: bool,
    /// Checked out for the request being forwarded now, which then
    /// started when the checkout did (spares a clock read).
    fresh: bool,
}

impl Attached {
    fn server(&mut self) -> &mut ServerConn {
        &mut self.conn
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        if let Some(r) = &self.conn.registration {
            r.entry
                .in_use
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Why a session ends.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    /// The client sent Terminate or closed its socket.
    ClientGone,
    /// Tell the client this, then close.
    Fatal(ErrorResponse),
}

/// A logged-in client.
pub(crate) struct Session {
    ctx: Arc<Context>,
    user: Arc<UserEntry>,
    mode: PoolMode,
    client: crate::socket::Socket,
    /// Bytes from the client not yet processed (freed while idle).
    client_in: BytesMut,
    /// Bytes for the client not yet written (freed while idle).
    to_client: BytesMut,
    /// Session parameters the client has set.
    wanted: ParamMap,
    /// The parameters from the startup packet (what `RESET ALL` returns to).
    startup_params: Option<Box<ParamMap>>,
    /// Non-reported GUCs the client SET while holding the current server.
    touched: Vec<String>,
    /// RESET ALL / DISCARD ALL / DEALLOCATE ALL to settle when idle.
    pending: attach::PendingEffects,
    statements: ClientStatements,
    /// The client's last unnamed Parse, to re-send on another connection,
    /// with its routing plan when sharded.
    unnamed: Option<Box<statements::UnnamedStatement>>,
    /// Routing hints from `SET shardwire.user_id/shard`.
    hints: shardwire_router::SessionHints,
    /// … and from `SET LOCAL`, until the transaction ends.
    local_hints: Option<Box<shardwire_router::SessionHints>>,
    /// BEGIN (and SET LOCAL) held back until a statement fixes the shard.
    held: Vec<Bytes>,
    /// … and once sent, kept until the transaction ends: a participant
    /// joining a cross-shard transaction runs them first.
    opening: Vec<Bytes>,
    /// The other participants of a transaction that spans shards.
    multi: Option<Box<cross_shard::MultiShard>>,
    /// A message that must wait until the server in use is released
    /// (it routes to another shard than pipelined work still running).
    stalled: Option<Box<BytesMut>>,
    /// A Describe of a statement that arrived while a BEGIN is held back and
    /// no shard is chosen: sent once the next Bind picks the shard (after
    /// the BEGIN), or at Sync if none comes.
    pending_describe: Option<Box<BytesMut>>,
    /// The merged answer of a scatter-gather read bound in the extended
    /// protocol, handed out at Describe(portal) and Execute.
    portal_result: Option<Box<routing::PortalResult>>,
    /// The command tag to answer the next Execute with, for a BEGIN or
    /// COMMIT the proxy handled itself in the extended protocol.
    local_execute: Option<&'static str>,
    server: Option<Attached>,
    expect: ExpectQueue,
    /// After an error the proxy raised in the extended protocol: drop
    /// messages until Sync, as PostgreSQL does.
    skip_until_sync: bool,
    /// The server is in COPY FROM STDIN and has not yet been sent the
    /// client's CopyDone/CopyFail: Syncs are swallowed by the COPY.
    copy_in_active: bool,
    /// When the oldest request not yet answered by ReadyForQuery was sent.
    request_started: Option<std::time::Instant>,
    /// Bytes still to pass through of a large server message.
    passthrough: usize,
    /// The shard this session last used: shard-neutral requests (Parse,
    /// Describe, `SELECT 1`) go there, so a client working on one shard's
    /// data never depends on another shard.
    last_shard: Option<u32>,
    /// Session state (temp tables, held cursors, advisory locks…) that
    /// keeps the server connection for this client under transaction
    /// pooling (allocated when the client first creates any).
    pins: Option<Box<crate::isolation::Pins>>,
    /// The transaction in progress has run a write (its COMMIT is refused
    /// while this instance may not write to the shard).
    txn_wrote: bool,
    cancel: CancelRegistration,
    /// The connection's places under the limits and in the session table.
    _open: startup::OpenConnection,
}
