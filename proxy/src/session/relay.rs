//! The relay loop of a logged-in client: one task, readiness-driven, that
//! reads whichever side has data, writes whichever side has room, and never
//! blocks one direction on the other (so a client that pipelines heavily
//! while reading cannot deadlock against its server). Buffers are freed
//! while the client is idle, which keeps idle clients small.

use super::{Session, SessionEnd};
use crate::protocol::{ErrorResponse, SqlState};
use crate::server::ServerConn;
use bytes::{Buf, BytesMut};
use std::future::Future;
use std::io::ErrorKind;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Stop reading a side while this much is queued for the other.
const HIGH_WATER: usize = 1 << 20;
/// Read buffer growth step.
const READ_CHUNK: usize = 8 * 1024;

enum Event {
    ClientReadable(std::io::Result<()>),
    ServerReadable(std::io::Result<()>),
    Writable(std::io::Result<()>),
}

/// Readiness of the server socket, if any (never ready without one). Plain
/// `poll_fn`s rather than `async fn`s: the relay loop's `select!` keeps
/// every branch's future in each idle client's task.
fn server_readable(server: Option<&ServerConn>) -> impl Future<Output = std::io::Result<()>> + '_ {
    std::future::poll_fn(move |cx| match server {
        Some(s) => s.stream.poll_read_ready(cx),
        None => Poll::Pending,
    })
}

fn server_writable(server: Option<&ServerConn>) -> impl Future<Output = std::io::Result<()>> + '_ {
    std::future::poll_fn(move |cx| match server {
        Some(s) => s.stream.poll_write_ready(cx),
        None => Poll::Pending,
    })
}

/// Ready once the proxy starts draining (the session then ends at its
/// transaction boundary, see `relay`).
fn drain_started<'a>(
    slot: &'a crate::cancel::CancelSlot,
    sessions: &'a crate::sessions::SessionTable,
) -> impl Future<Output = ()> + 'a {
    std::future::poll_fn(move |cx| slot.poll_drain(cx, || sessions.is_draining()))
}

/// Reads what the socket has right now, without waiting: `None` when
/// nothing is there. Goes through tokio's `poll_read`, which marks the
/// socket not-ready after a short read, so the loop does not spend a
/// second `recv` per message just to learn the socket is empty.
fn read_available<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
) -> Option<std::io::Result<usize>> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(reader.read_buf(buf)).poll(&mut cx) {
        Poll::Ready(result) => Some(result),
        Poll::Pending => None,
    }
}

impl Session {
    /// Greets the client, relays until it leaves, then cleans up.
    pub(crate) async fn run(&mut self) -> SessionEnd {
        // The heavy steps are boxed: an idle session's task then holds only
        // the relay loop's small state, not the largest step's.
        if let Err(end) = Box::pin(self.greet()).await {
            return end;
        }
        let end = self.relay().await;
        // The outcome rides in the boxed step, so the task does not keep
        // room for it beside the relay loop.
        Box::pin(async move {
            self.detach_on_exit().await;
            end
        })
        .await
    }

    async fn relay(&mut self) -> SessionEnd {
        loop {
            if let Err(end) = self.flush() {
                return end;
            }
            if self.needs_settle() {
                Box::pin(self.settle()).await;
            }
            if self.needs_cleanup_now() {
                Box::pin(self.clean_server()).await;
            }
            if self.should_release() {
                self.release();
            }
            if self.stalled.is_some() && self.expect.is_empty() && self.passthrough == 0 {
                // The server that held up a message for another shard is
                // free now: carry on with the client's messages.
                if let Err(end) = Box::pin(self.process_client_input()).await {
                    return end;
                }
                if self.stalled.is_none() {
                    continue;
                }
            }
            if self.server.is_none()
                && self.held.is_empty()
                && !self.in_cross_shard()
                && self.ctx.sessions.is_draining()
            {
                // Draining: between transactions, the session ends cleanly.
                return SessionEnd::Fatal(
                    ErrorResponse::fatal(
                        SqlState::AdminShutdown,
                        "this shardwire instance is shutting down; your last transaction completed",
                    )
                    .with_hint(
                        "reconnect: another instance (or this one, restarted) will serve you",
                    ),
                );
            }
            if self.server.is_none()
                && self.client_in.is_empty()
                && self.to_client.is_empty()
                && self.client_in.capacity() > 0
            {
                // Idle: give the buffers back; a busy client takes a pair.
                let input = std::mem::take(&mut self.client_in);
                let output = std::mem::take(&mut self.to_client);
                self.ctx.buffers.give_back(input, output);
            }
            let server = self.server.as_ref().map(|a| &*a.conn);
            let server_out = server.map_or(0, |s| s.out.len());
            let event = tokio::select! {
                biased;
                r = server_readable(server), if server.is_some() && self.to_client.len() < HIGH_WATER => Event::ServerReadable(r),
                r = self.client.readable(), if server_out < HIGH_WATER && self.client_in.len() < HIGH_WATER && self.to_client.len() < HIGH_WATER => Event::ClientReadable(r),
                r = self.client.writable(), if !self.to_client.is_empty() => Event::Writable(r),
                r = server_writable(server), if server_out > 0 => Event::Writable(r),
                // Enabled exactly when the check above ends the session on
                // a drain: the drain stays "started", so a branch enabled
                // where that check does not end it would fire on every
                // pass (a held BEGIN waiting for its statement would spin).
                _ = drain_started(&self.cancel.slot, &self.ctx.sessions), if server.is_none() && self.held.is_empty() && self.multi.is_none() => Event::Writable(Ok(())),
            };
            let step = match event {
                Event::ServerReadable(Ok(())) => self.read_server(),
                Event::ClientReadable(Ok(())) => self.read_client().await,
                Event::Writable(Ok(())) => Ok(()),
                Event::ServerReadable(Err(e)) => Err(self.server_lost(&e.to_string())),
                Event::ClientReadable(Err(_)) => Err(SessionEnd::ClientGone),
                Event::Writable(Err(_)) => Ok(()), // the flush reports which side failed
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Writes as much queued output as each socket takes without blocking.
    fn flush(&mut self) -> Result<(), SessionEnd> {
        while !self.to_client.is_empty() {
            match self.client.try_write(&self.to_client) {
                Ok(n) => {
                    self.to_client.advance(n);
                    if let Some(t) = self.traffic() {
                        t.bytes_sent.inc_by(n as u64);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return Err(SessionEnd::ClientGone),
            }
        }
        let Some(a) = self.server.as_mut() else {
            return Ok(());
        };
        let conn = &mut *a.conn;
        while !conn.out.is_empty() {
            match conn.stream.try_write(&conn.out) {
                Ok(n) => conn.out.advance(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(self.server_lost(&e.to_string())),
            }
        }
        Ok(())
    }

    async fn read_client(&mut self) -> Result<(), SessionEnd> {
        if self.client_in.capacity() == 0 && self.to_client.capacity() == 0 {
            (self.client_in, self.to_client) = self.ctx.buffers.take();
        }
        if self.client_in.capacity() - self.client_in.len() < READ_CHUNK / 2 {
            self.client_in.reserve(READ_CHUNK);
        }
        match read_available(&mut self.client, &mut self.client_in) {
            None => Ok(()),
            Some(Ok(0)) => Err(SessionEnd::ClientGone),
            Some(Ok(n)) => {
                if let Some(t) = self.traffic() {
                    t.bytes_received.inc_by(n as u64);
                }
                // Most reads are settled without a future; the rest goes
                // through the full handler, boxed (its future is large).
                if self.process_client_input_now()? {
                    Ok(())
                } else {
                    Box::pin(self.process_client_input()).await
                }
            }
            Some(Err(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Some(Err(_)) => Err(SessionEnd::ClientGone),
        }
    }

    fn read_server(&mut self) -> Result<(), SessionEnd> {
        let Some(a) = self.server.as_mut() else {
            return Ok(());
        };
        let conn = &mut *a.conn;
        if conn.inbuf.capacity() - conn.inbuf.len() < READ_CHUNK / 2 {
            conn.inbuf.reserve(2 * READ_CHUNK);
        }
        match read_available(&mut conn.stream, &mut conn.inbuf) {
            None => Ok(()),
            Some(Ok(0)) => Err(self.server_lost("the server closed the connection")),
            Some(Ok(_)) => self.process_server_input(),
            Some(Err(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Some(Err(e)) => Err(self.server_lost(&e.to_string())),
        }
    }

    /// The server connection failed: drop it and end the session with an
    /// error that says what happened.
    pub(super) fn server_lost(&mut self, why: &str) -> SessionEnd {
        let mut label = String::from("the server");
        let mut failover_note = "";
        if let Some(a) = self.server.as_mut() {
            a.conn.broken = true;
            // The other idle connections to that server are most likely
            // dead too: close them rather than hand them to other clients.
            for user in self.ctx.users.values() {
                if let Some(pool) = user.shard_pools.get(a.shard as usize) {
                    pool.retire_idle();
                }
            }
            // Opened under an earlier primary: the connection was to the
            // node the shard failed over from, not to its primary now.
            let replaced = self
                .ctx
                .topology
                .shard(a.shard)
                .is_some_and(|s| s.generation() != a.conn.generation);
            if let Some(pool) = self.user.shard_pools.get(a.shard as usize) {
                let now = pool.manager().target();
                label = if replaced {
                    format!(
                        "shard {} former primary {} (the shard now runs on {}:{})",
                        a.shard, a.conn.addr, now.host, now.port
                    )
                } else {
                    now.label
                };
            }
            let replication = &self.ctx.config.replication;
            let has_standbys = self
                .ctx
                .topology
                .shard(a.shard)
                .is_some_and(|s| !s.standbys().is_empty());
            if replaced {
                failover_note = "; the shard has failed over: retry the transaction";
            } else if replication.enabled() && replication.auto_failover && has_standbys {
                failover_note =
                    "; if the primary failed, shardwire is failing the shard over to a standby";
            }
        }
        self.expect.clear();
        self.passthrough = 0;
        self.release();
        SessionEnd::Fatal(
            ErrorResponse::fatal(
                SqlState::ConnectionFailure,
                format!("lost the connection to {label}: {why}{failover_note}"),
            )
            .with_detail("the current transaction, if any, was aborted; its outcome is unknown if a COMMIT was in flight")
            .with_hint("reconnect and retry"),
        )
    }

    /// Sends a fatal error (after anything still queued) and closes.
    pub(crate) async fn send_fatal(&mut self, error: ErrorResponse) {
        use tokio::io::AsyncWriteExt;
        self.count_error(&error);
        error.encode(&mut self.to_client);
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            self.client.write_all(&self.to_client),
        )
        .await;
        let _ = self.client.shutdown().await;
    }
}
