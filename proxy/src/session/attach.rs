//! Borrowing a server connection for a client and giving it back: checkout
//! from the pool with clear errors, bringing the server's session
//! parameters in line with the client's, settling state changes the client
//! made (SET, RESET ALL, DISCARD ALL, DEALLOCATE ALL) at transaction
//! boundaries, and cleaning or discarding the connection when the client
//! leaves.

use super::{Attached, Session};
use crate::cancel::CancelTarget;
use crate::config::PoolMode;
use crate::context::{Context, UserEntry};
use crate::protocol::{ErrorResponse, SqlState};
use crate::server::params::{is_node_state, quote_literal, ParamMap};
use crate::server::{ServerConn, ServerManager};
use shardwire_pool::PoolError;
use std::sync::Arc;
use std::time::Duration;

/// Longest the proxy waits for one of its own cleanup queries.
const INTERNAL_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// State changes to settle once the server is idle again.
#[derive(Debug, Default)]
pub(super) struct PendingEffects {
    /// The server confirmed RESET ALL.
    pub reset_all: bool,
    /// The server confirmed DISCARD ALL.
    pub discard_all: bool,
    /// The server confirmed DEALLOCATE ALL.
    pub deallocate_all: bool,
    /// A RESET ALL was sent; its `RESET` tag confirms it.
    pub reset_all_sent: bool,
}

impl Session {
    pub(super) fn new(
        ctx: Arc<Context>,
        user: Arc<UserEntry>,
        client: crate::socket::Socket,
        info: crate::cancel::ClientInfo,
        leftover: bytes::BytesMut,
        startup_params: ParamMap,
        open: super::startup::OpenConnection,
    ) -> Session {
        let cancel = ctx.cancels.register_client(info);
        ctx.metrics.clients.inc();
        Session {
            mode: ctx.config.proxy.pool_mode,
            ctx,
            user,
            client,
            client_in: leftover,
            to_client: bytes::BytesMut::new(),
            wanted: startup_params.clone(),
            // Most clients send none worth keeping: no allocation then.
            startup_params: (!startup_params.is_empty()).then(|| Box::new(startup_params)),
            touched: Vec::new(),
            pending: PendingEffects::default(),
            statements: Default::default(),
            unnamed: None,
            hints: Default::default(),
            local_hints: None,
            held: Vec::new(),
            opening: Vec::new(),
            multi: None,
            stalled: None,
            local_execute: None,
            portal_result: None,
            pending_describe: None,
            server: None,
            expect: Default::default(),
            skip_until_sync: false,
            copy_in_active: false,
            passthrough: 0,
            last_shard: None,
            txn_wrote: false,
            pins: None,
            request_started: None,
            cancel,
            _open: open,
        }
    }

    /// Makes sure a server connection is attached (to the shard already in
    /// use, else the session's default shard), with the client's session
    /// parameters applied. The error is for the client (non-fatal).
    pub(super) async fn attach(&mut self) -> Result<(), ErrorResponse> {
        if self.server.is_some() {
            return Ok(());
        }
        // A held-back BEGIN is not replayed here: only a statement that
        // fixes the shard starts the transaction (see `place_on`).
        self.attach_to(self.any_shard()).await
    }

    /// The shard used for statements that may run on any shard: the one
    /// the session used last, else one spread over the shards by client;
    /// skipping shards whose primary is failing its checks or failing over
    /// (so one shard's outage does not reach clients of the others through
    /// a shard-neutral statement).
    pub(super) fn default_shard(&self) -> u32 {
        let shards = self.user.shard_pools.len().max(1) as u32;
        let preferred = self
            .last_shard
            .filter(|&k| k < shards)
            .unwrap_or((self.cancel.key.0 as u32) % shards);
        let serving = |k: u32| {
            self.ctx
                .topology
                .shard(k)
                .is_none_or(|s| s.phase() == crate::topology::ShardPhase::Serving)
        };
        (0..shards)
            .map(|i| (preferred + i) % shards)
            .find(|&k| serving(k))
            .unwrap_or(preferred)
    }

    /// Attaches a connection to `shard`'s primary. Must not be attached.
    pub(super) async fn attach_to(&mut self, shard: u32) -> Result<(), ErrorResponse> {
        let traffic = self.user.shard_traffic.get(shard as usize);
        let checkout = match super::checkout::ready_primary_connection(&self.ctx, &self.user, shard)
        {
            Some(conn) => {
                if let Some(t) = traffic {
                    t.checkout_wait_seconds.observe(0.0);
                }
                Ok(conn)
            }
            None => {
                let waiting = std::time::Instant::now();
                self.cancel
                    .slot
                    .waiting
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                // Boxed: waiting out a failover keeps sizeable state,
                // which would otherwise be reserved in every session's
                // task.
                let checkout = Box::pin(super::checkout::primary_connection(
                    &self.ctx, &self.user, shard,
                ))
                .await;
                self.cancel
                    .slot
                    .waiting
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                if let Some(t) = traffic {
                    let waited = waiting.elapsed();
                    t.wait_time_us.inc_by(waited.as_micros() as u64);
                    t.checkout_wait_seconds.observe(waited.as_secs_f64());
                }
                checkout
            }
        };
        let mut conn = checkout?;
        // A value the server refuses (e.g. a bad TimeZone) is the client's
        // error; the connection itself is fine unless marked broken.
        if apply_params(&mut conn, &self.wanted).await? {
            self.wanted.adopt_spelling(&conn.params);
        }
        self.install(conn, shard);
        Ok(())
    }

    /// A connection to `shard`'s primary with the client's parameters, not
    /// made the one in use: another participant of a cross-shard
    /// transaction.
    pub(super) async fn checkout_participant(&self, shard: u32) -> Result<Attached, ErrorResponse> {
        let mut conn = Box::pin(super::checkout::primary_connection(
            &self.ctx, &self.user, shard,
        ))
        .await?;
        apply_params(&mut conn, &self.wanted).await?;
        if let Some(r) = &conn.registration {
            r.entry
                .in_use
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(Attached {
            conn,
            shard,
            unnamed_valid: false,
            fresh: false,
        })
    }

    /// Attaches a connection without waiting, if one is ready: the session
    /// is attached already, or the shard's pool has an idle connection to
    /// the current primary whose parameters match the client's. `false`:
    /// the caller takes the waiting path ([`Session::attach`]).
    pub(super) fn attach_now(&mut self) -> bool {
        if self.server.is_some() {
            return true;
        }
        let shard = self.any_shard();
        let Some(conn) = super::checkout::ready_primary_connection(&self.ctx, &self.user, shard)
        else {
            return false;
        };
        if !conn.params.known_in_sync(&self.wanted) {
            // Its parameters must be brought in line first, which waits
            // for the server: back to the pool, the waiting path takes it.
            return false;
        }
        if let Some(t) = self.user.shard_traffic.get(shard as usize) {
            t.checkout_wait_seconds.observe(0.0);
        }
        self.install(conn, shard);
        true
    }

    /// Makes `conn`, checked out of `shard`'s pool with the client's
    /// parameters applied, the session's server connection.
    fn install(&mut self, conn: shardwire_pool::Pooled<crate::server::ServerManager>, shard: u32) {
        self.cancel.slot.set(Some(CancelTarget {
            addr: conn.addr,
            pid: conn.backend_pid,
            secret: conn.backend_secret,
        }));
        if let Some(r) = &conn.registration {
            r.entry
                .in_use
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.last_shard = Some(shard);
        self.server = Some(Attached {
            conn,
            shard,
            unnamed_valid: false,
            fresh: true,
        });
    }

    /// Whether the server can go back to the pool now (transaction mode,
    /// idle, nothing in flight).
    pub(super) fn should_release(&self) -> bool {
        self.mode == PoolMode::Transaction
            && self.passthrough == 0
            && self.expect.is_empty()
            && self.server.as_ref().is_some_and(|a| a.conn.is_idle())
            && !self.is_pinned()
    }

    /// Whether state changes wait to be settled and the server is idle.
    pub(super) fn needs_settle(&self) -> bool {
        (!self.touched.is_empty()
            || self.pending.reset_all
            || self.pending.discard_all
            || self.pending.deallocate_all)
            && self.expect.is_empty()
            && self.passthrough == 0
            && self.server.as_ref().is_some_and(|a| a.conn.is_idle())
    }

    /// Returns the server connection to its pool.
    pub(super) fn release(&mut self) {
        self.opening.clear();
        if let Some(a) = self.server.take() {
            self.cancel.slot.set(None);
            if let Some(t) = self.user.shard_traffic.get(a.shard as usize) {
                t.xacts.inc();
                t.xact_time_us
                    .inc_by(a.conn.checked_out_at().elapsed().as_micros() as u64);
            }
        }
    }

    /// Records what SET / RESET ALL / DISCARD ALL / DEALLOCATE ALL changed,
    /// once the server is idle (so a rolled-back SET is seen as rolled back).
    pub(super) async fn settle(&mut self) {
        let Some(a) = self.server.as_mut() else {
            return;
        };
        let conn = &mut a.conn;
        let pending = std::mem::take(&mut self.pending);
        // Our own queries below replace the server's unnamed statement.
        a.unnamed_valid = false;
        if pending.discard_all || pending.deallocate_all {
            conn.prepared.clear();
            self.statements.clear();
        }
        if pending.discard_all {
            a.unnamed_valid = false;
            if let Some(unnamed) = self.unnamed.as_mut() {
                unnamed.parse.clear();
            }
        }
        if pending.discard_all || pending.reset_all {
            self.touched.clear();
            conn.params.reset_all();
            self.wanted = self.startup_params.as_deref().cloned().unwrap_or_default();
            if let Some(sql) = conn.params.sync_sql(&self.wanted) {
                match internal_query(conn, &sql, true).await {
                    Ok(_) => {
                        conn.params.applied(&self.wanted);
                        self.wanted.adopt_spelling(&conn.params);
                    }
                    Err(e) => tracing::warn!(error = %e, "re-applying startup parameters failed"),
                }
            }
            return;
        }
        let mut names = std::mem::take(&mut self.touched);
        names.retain(|n| !conn.params.reported.contains(n) || is_node_state(n));
        names.sort();
        names.dedup();
        if names.is_empty() {
            return;
        }
        let columns: Vec<String> = names
            .iter()
            .map(|n| format!("current_setting({}, true)", quote_literal(n)))
            .collect();
        let sql = format!("SELECT {}", columns.join(", "));
        let Ok(rows) = internal_query(conn, &sql, true).await else {
            conn.broken = true;
            return;
        };
        let Some(row) = rows.first() else {
            return;
        };
        for (name, value) in names.iter().zip(row.iter()) {
            match value {
                Some(v) => {
                    self.wanted.set(name, v);
                    conn.params.synced_to = None;
                    conn.params.values.set(name, v);
                    conn.params.modified.insert(name.clone());
                }
                None => {
                    self.wanted.remove(name);
                    conn.params.synced_to = None;
                    conn.params.values.remove(name);
                    conn.params.modified.remove(name);
                }
            }
        }
    }

    /// Leaves the server reusable, or discards it, as the client goes.
    pub(super) async fn detach_on_exit(&mut self) {
        self.abandon_cross_shard().await;
        let Some(mut a) = self.server.take() else {
            return;
        };
        self.cancel.slot.set(None);
        let conn = &mut a.conn;
        let in_flight = !self.expect.is_empty()
            || !conn.out.is_empty()
            || self.passthrough > 0
            || !conn.in_sync;
        if in_flight || conn.broken {
            // Something still runs: cancel it and close the connection.
            conn.broken = true;
            let (addr, pid, secret) = (conn.addr, conn.backend_pid, conn.backend_secret);
            tokio::spawn(async move {
                let _ = ServerConn::cancel(addr, pid, secret).await;
            });
            return;
        }
        if conn.status != b'I' && internal_query(conn, "ROLLBACK", false).await.is_err() {
            conn.broken = true;
            return;
        }
        if self.mode == PoolMode::Session {
            if internal_query(conn, "DISCARD ALL", false).await.is_err() {
                conn.broken = true;
                return;
            }
            conn.params.reset_all();
            conn.prepared.clear();
        } else {
            self.server = Some(a);
            self.settle().await;
            // Whatever session state the client leaves goes with it.
            self.clean_server().await;
            self.server = None;
        }
    }
}

/// Brings the server's session parameters in line with `wanted`; true if
/// it had to change any (the server may then spell values its own way).
pub(crate) async fn apply_params(
    conn: &mut ServerConn,
    wanted: &ParamMap,
) -> Result<bool, ErrorResponse> {
    if conn.params.known_in_sync(wanted) {
        return Ok(false);
    }
    let Some(sql) = conn.params.sync_sql(wanted) else {
        conn.params.synced_to = Some(wanted.fingerprint());
        return Ok(false);
    };
    // Boxed: the query's state is large and needed only when parameters
    // differ, not in every session's future.
    Box::pin(internal_query(conn, &sql, true)).await?;
    conn.params.applied(wanted);
    Ok(true)
}

/// Runs a query of the proxy's own on a server, bounded in time; a timeout
/// or socket failure marks the connection broken.
pub(super) async fn internal_query(
    conn: &mut ServerConn,
    sql: &str,
    from_client: bool,
) -> Result<Vec<Vec<Option<String>>>, ErrorResponse> {
    match tokio::time::timeout(INTERNAL_QUERY_TIMEOUT, conn.simple_query(sql, from_client)).await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(crate::server::conn::ServerConnError::Query(e))) => {
            Err(ErrorResponse::error(e.state(), e.message.clone()))
        }
        Ok(Err(e)) => {
            conn.broken = true;
            Err(ErrorResponse::error(
                SqlState::ConnectionFailure,
                format!("server connection failed: {e}"),
            ))
        }
        Err(_) => {
            conn.broken = true;
            Err(ErrorResponse::error(
                SqlState::ConnectionFailure,
                format!("server did not answer within {INTERNAL_QUERY_TIMEOUT:?}"),
            ))
        }
    }
}

pub(crate) fn checkout_error(
    e: PoolError<crate::server::conn::ServerConnError>,
    user: &UserEntry,
    manager: &ServerManager,
) -> ErrorResponse {
    let target = manager.target();
    match e {
        PoolError::Timeout { waited, max_size } => ErrorResponse::error(
            SqlState::TooManyConnections,
            format!(
                "no server connection available after waiting {:.1}s: all {max_size} connections of user \"{}\" to {} are busy",
                waited.as_secs_f64(),
                user.name,
                target.label
            ),
        )
        .with_hint("retry later, shorten transactions, or raise pool.size / pool.checkout_timeout"),
        PoolError::Connect(e) => ErrorResponse::error(SqlState::UnableToConnect, e.to_string())
            .with_hint(format!("check that {} is up and accepts user \"{}\"", target.label, user.name)),
        PoolError::Closed => ErrorResponse::error(
            SqlState::AdminShutdown,
            format!("the pool for {} is closed (shutting down)", target.label),
        ),
    }
}
