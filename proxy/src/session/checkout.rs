//! Taking a connection to a shard's primary for a client: wait while the
//! proxy is PAUSEd or the shard is failing over (clients wait, bounded by
//! `replication.pause_timeout`, rather than get errors), and when the
//! primary cannot be reached but the shard can fail over, wait for the
//! failover (or the primary's return) and try again.

use super::attach::checkout_error;
use crate::context::{Context, UserEntry};
use crate::protocol::{ErrorResponse, SqlState};
use crate::server::ServerManager;
use shardwire_pool::{PoolError, Pooled};
use std::time::Instant;

/// A connection to `shard`'s current primary if one is ready now: not
/// paused, the shard's gate open, an idle connection opened under the
/// current primary. Else `None`, and the caller waits in
/// [`primary_connection`]. Most transactions take this path, which needs
/// no future of its own.
pub(crate) fn ready_primary_connection(
    ctx: &Context,
    user: &UserEntry,
    shard: u32,
) -> Option<Pooled<ServerManager>> {
    let pool = user.shard_pools.get(shard as usize)?;
    if ctx.pause.is_paused() {
        return None;
    }
    let Some(state) = ctx.topology.shard(shard) else {
        return pool.try_get();
    };
    if state.gate.is_paused() {
        return None;
    }
    let conn = pool.try_get()?;
    // Opened under an earlier primary: back to the pool (which closes it)
    // and the slow path opens one to the current primary.
    (conn.generation == state.generation()).then_some(conn)
}

/// A checked-out connection to `shard`'s current primary.
pub(crate) async fn primary_connection(
    ctx: &Context,
    user: &UserEntry,
    shard: u32,
) -> Result<Pooled<ServerManager>, ErrorResponse> {
    let pool = user.shard_pools.get(shard as usize).ok_or_else(|| {
        ErrorResponse::error(
            SqlState::SystemError,
            format!("shard {shard} is not configured"),
        )
    })?;
    if ctx.pause.is_paused() {
        // PAUSE: the client waits (no error) until RESUME.
        ctx.pause.wait().await;
    }
    let Some(state) = ctx.topology.shard(shard) else {
        return pool
            .get()
            .await
            .map_err(|e| checkout_error(e, user, pool.manager()));
    };
    let limit = ctx.config.replication.pause_timeout;
    let deadline = Instant::now() + limit;
    let can_fail_over = ctx.config.replication.enabled()
        && ctx.config.replication.auto_failover
        && !state.standbys().is_empty();
    loop {
        if state.gate.is_paused()
            && tokio::time::timeout_at(deadline.into(), state.gate.wait())
                .await
                .is_err()
        {
            return Err(failing_over(shard, limit));
        }
        let generation = state.generation();
        match pool.get().await {
            Ok(conn) => {
                // A failover or switchover may have closed the gate (or
                // moved the primary) while we waited for the pool: give
                // the connection back and wait at the gate instead.
                if state.gate.is_paused() || conn.generation != state.generation() {
                    drop(conn);
                    continue;
                }
                return Ok(conn);
            }
            Err(PoolError::Connect(e))
                if can_fail_over && unreachable(&e) && Instant::now() < deadline =>
            {
                tracing::debug!(shard, error = %e, "primary unreachable; waiting for the monitor");
                // Wait for a failover or the primary's return, then retry.
                while state.generation() == generation
                    && !state.gate.is_paused()
                    && Instant::now() < deadline
                {
                    let left = deadline.saturating_duration_since(Instant::now());
                    state
                        .wait_change(left.min(std::time::Duration::from_millis(500)))
                        .await;
                    if state.phase() == crate::topology::ShardPhase::Serving
                        && ctx
                            .topology
                            .nodes
                            .get(&state.primary())
                            .is_some_and(|n| n.up)
                    {
                        break;
                    }
                }
                if Instant::now() >= deadline {
                    return Err(failing_over(shard, limit));
                }
            }
            Err(e) => return Err(checkout_error(e, user, pool.manager())),
        }
    }
}

/// Whether the server could not be reached (worth waiting for a
/// failover), as opposed to refusing the login or the TLS handshake: no
/// connection, a connection lost during the login (the primary died
/// after accepting it), or a server that says it is shutting down,
/// crashing or starting up (57P01/57P02/57P03) rather than refusing this
/// user.
fn unreachable(e: &crate::server::conn::ServerConnError) -> bool {
    use crate::auth::server::ServerAuthError as A;
    use crate::server::conn::ServerConnError as E;
    match e {
        E::Connect { .. } | E::Timeout(_) | E::Wire(_) => true,
        E::Login { source, .. } => match source {
            A::Wire(_) => true,
            A::Refused(refusal) => matches!(refusal.code.as_str(), "57P01" | "57P02" | "57P03"),
            _ => false,
        },
        _ => false,
    }
}

fn failing_over(shard: u32, limit: std::time::Duration) -> ErrorResponse {
    ErrorResponse::error(
        SqlState::ConnectionFailure,
        format!(
            "shard {shard} is failing over and did not accept transactions within {:.0}s",
            limit.as_secs_f64()
        ),
    )
    .with_hint(
        "retry the transaction; SHOW FAILOVERS in the admin console shows the failover's progress",
    )
}

#[cfg(test)]
mod tests {
    use super::unreachable;
    use crate::auth::server::ServerAuthError;
    use crate::protocol::error::ServerError;
    use crate::server::conn::ServerConnError;
    use crate::wire::WireError;

    fn refused(code: &str) -> ServerConnError {
        ServerConnError::Login {
            label: "shard 0 primary".into(),
            source: ServerAuthError::Refused(ServerError {
                code: code.into(),
                ..ServerError::default()
            }),
        }
    }

    #[test]
    fn a_primary_going_down_is_waited_out_but_a_refused_user_is_not() {
        assert!(unreachable(&refused("57P01")), "shutting down");
        assert!(unreachable(&refused("57P03")), "starting up");
        assert!(!unreachable(&refused("28P01")), "wrong password");
        assert!(!unreachable(&refused("3D000")), "no such database");
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(unreachable(&ServerConnError::Login {
            label: "shard 0 primary".into(),
            source: ServerAuthError::Wire(WireError::Io(reset)),
        }));
        assert!(!unreachable(&ServerConnError::Retired));
    }
}
